/*
 * reaper.c: the reaper worker — recovery of interrupted tasks at start and
 * then periodically (seed 003 §11.2), expired leases, and retention.
 */
#include "aigw.h"
#include "runtime.h"

#include <signal.h>

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

PGDLLEXPORT void AigwReaperMain(Datum main_arg);

int			aigw_reaper_interval_ms = 1000;

/* One reaper pass: recovery, then whatever housekeeping is installed */
static int
ReapOnce(void)
{
	int			n = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (!OidIsValid(get_extension_oid("aigw", true)))
	{
		CommitTransactionCommand();
		return -1;
	}
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "aigw: reap");
	if (SPI_execute("SELECT aigw.reap()", false, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		n = isnull ? 0 : DatumGetInt32(d);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return n;
}

/*
 * Tables of the extension that have grown past twice the pages their planner
 * statistics give (at least 16 pages more), so the plans cached for them in
 * every session were made for a much smaller table
 */
static const char *OutgrownTablesSql =
"SELECT format('%I.%I', n.nspname, c.relname)"
"  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
" WHERE n.nspname = 'aigw' AND c.relkind = 'r'"
"   AND pg_relation_size(c.oid) / current_setting('block_size')::int"
"       > 2 * greatest(c.relpages, 0) + 16";

/*
 * Analyzes the tables a burst of tasks has outgrown. A plan cached by a worker
 * or a pooled backend while a table was small (a sequential scan of a few
 * pages) is kept until the table's statistics change; autovacuum's first
 * analyze comes only after its naptime, and in between every task paid a scan
 * of the whole table. Each analyze invalidates those plans; tables are
 * analyzed as they double, with a small sample (autovacuum's own analyze
 * refines the statistics later), and one that autovacuum holds is skipped.
 */
static void
RefreshPlannerStats(void)
{
	List	   *tables = NIL;
	ListCell   *lc;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute(OutgrownTablesSql, true, 0) == SPI_OK_SELECT)
	{
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

			tables = lappend(tables, pstrdup(name));
			MemoryContextSwitchTo(old);
		}
	}
	if (tables != NIL)
	{
		pgstat_report_activity(STATE_RUNNING, "aigw: analyze outgrown tables");
		SPI_execute("SET LOCAL default_statistics_target = 10", false, 0);
	}
	foreach(lc, tables)
	{
		char	   *sql = psprintf("ANALYZE (SKIP_LOCKED) %s", (char *) lfirst(lc));

		elog(DEBUG1, "aigw reaper: %s", sql);
		SPI_execute(sql, false, 0);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* Main loop of the reaper */
void
AigwReaperMain(Datum main_arg)
{
	uint32		wait_event;

	AigwWorkerConnect();
	AigwClaimPidSlot(&AigwShmem->reaper_pid);
	wait_event = WaitEventExtensionNew("AigwReaperMain");
	pgstat_report_appname("aigw reaper");

	for (;;)
	{
		int			requeued;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		requeued = ReapOnce();
		if (requeued > 0)
			AigwWakeAllWorkers();
		if (requeued >= 0)
			RefreshPlannerStats();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 requeued < 0 ? aigw_launcher_naptime_ms : aigw_reaper_interval_ms,
						 wait_event);
		ResetLatch(MyLatch);
	}
}
