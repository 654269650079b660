/*
 * launcher.c: the aigw launcher background worker.
 *
 * Connects to the database named by aigw.database and supervises the task
 * workers of later stages. In a database without the extension it idles,
 * checking again every aigw.launcher_naptime.
 */
#include "aigw.h"
#include "runtime.h"

#include <signal.h>

#include "access/xact.h"
#include "commands/extension.h"
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

PGDLLEXPORT void AigwLauncherMain(Datum main_arg);

static uint32 launcher_wait_event = 0;
static BackgroundWorkerHandle *task_workers[AIGW_MAX_WORKERS];
static BackgroundWorkerHandle *reaper = NULL;
static BackgroundWorkerHandle *outbox = NULL;

/* Starts a dynamic worker running function fn of this library */
static BackgroundWorkerHandle *
StartChild(const char *fn, const char *name, int index)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle = NULL;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "aigw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", fn);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s %d", name, index);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", name);
	worker.bgw_main_arg = Int32GetDatum(index);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start %s %d", name, index),
				 errhint("Raise max_worker_processes.")));
		return NULL;
	}
	return handle;
}

/* True when the handle's worker is starting or running */
static bool
ChildAlive(BackgroundWorkerHandle *h)
{
	pid_t		pid;
	BgwHandleStatus st;

	if (h == NULL)
		return false;
	st = GetBackgroundWorkerPid(h, &pid);
	return st == BGWH_STARTED || st == BGWH_NOT_YET_STARTED;
}

/* Keeps aigw.workers task workers, one reaper and one outbox worker running */
static void
SuperviseChildren(void)
{
	int			n = Min(aigw_workers, AIGW_MAX_WORKERS);

	for (int i = 0; i < n; i++)
	{
		pid_t		pid = AigwShmem->workers[i].pid;

		if (ChildAlive(task_workers[i]))
			continue;
		/* a worker started by an earlier launcher may still run */
		if (pid != 0 && kill(pid, 0) == 0)
			continue;
		task_workers[i] = StartChild("AigwTaskWorkerMain", "aigw task worker", i);
	}
	if (!ChildAlive(reaper) && !AigwPidSlotAlive(&AigwShmem->reaper_pid))
		reaper = StartChild("AigwReaperMain", "aigw reaper", 0);
	if (!ChildAlive(outbox) && !AigwPidSlotAlive(&AigwShmem->outbox_pid))
		outbox = StartChild("AigwOutboxMain", "aigw outbox", 0);
}

/* Registers the launcher with the postmaster; called from _PG_init */
void
AigwRegisterLauncher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "aigw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "AigwLauncherMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "aigw launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "aigw launcher");
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/* True when the aigw extension is installed in the connected database */
static bool
ExtensionInstalled(void)
{
	bool		found;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	found = OidIsValid(get_extension_oid("aigw", true));
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return found;
}

/* Launcher main loop: wait on the latch, re-read config on SIGHUP */
void
AigwLauncherMain(Datum main_arg)
{
	AigwWorkerConnect();
	if (launcher_wait_event == 0)
		launcher_wait_event = WaitEventExtensionNew("AigwLauncherMain");
	pgstat_report_appname("aigw launcher");
	elog(LOG, "aigw launcher started in database \"%s\"", aigw_database);

	for (;;)
	{
		bool		installed;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		installed = ExtensionInstalled();
		if (installed)
			SuperviseChildren();

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 aigw_launcher_naptime_ms, launcher_wait_event);
		ResetLatch(MyLatch);
	}
}
