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
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 requeued < 0 ? aigw_launcher_naptime_ms : aigw_reaper_interval_ms,
						 wait_event);
		ResetLatch(MyLatch);
	}
}
