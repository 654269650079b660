/*
 * bgw_common.c: what every aigw background worker does to start, and the
 * single-instance workers' liveness (reaper, outbox worker).
 */
#include "aigw.h"
#include "runtime.h"

#include <signal.h>

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"

/* Signals, the database connection named by aigw.database, and shared memory */
void
AigwWorkerConnect(void)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(aigw_database,
										 (aigw_role && aigw_role[0]) ? aigw_role : NULL, 0);
	AigwAttachShmem();
}

/* Clears a single-instance worker's pid slot at exit */
static void
ClearPidSlot(int code, Datum arg)
{
	*(pid_t *) DatumGetPointer(arg) = 0;
}

/* Records the calling process in a single-instance worker's pid slot until it exits */
void
AigwClaimPidSlot(pid_t *slot)
{
	*slot = MyProcPid;
	before_shmem_exit(ClearPidSlot, PointerGetDatum(slot));
}

/* True when the process recorded in a pid slot is alive (checked by the launcher) */
bool
AigwPidSlotAlive(pid_t *slot)
{
	return *slot != 0 && kill(*slot, 0) == 0;
}
