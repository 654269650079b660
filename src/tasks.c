/*
 * tasks.c: SQL-callable pieces of the task lifecycle that need C — waking a
 * worker when the submitting transaction commits, and waiting for a task.
 */
#include "aigw.h"
#include "runtime.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

static bool wake_at_commit = false;
static bool scan_at_commit = false;
static int	handoff_count = 0;
static int	handoff_cap = 0;
static AigwHandoffEntry *handoff_entries = NULL;	/* in TopMemoryContext, reused */
static bool xact_callback_registered = false;
static int	cancel_count = 0;
static int	cancel_cap = 0;
static pg_uuid_t *cancel_ids = NULL;	/* in TopMemoryContext, reused */

/*
 * Transaction callback: once the submitted tasks are visible, hand them to
 * the workers (leased by id); more than fit, or tasks queued otherwise, make
 * the workers scan the queue.
 */
static void
WakeAtCommitCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (handoff_count > 0)
				AigwHandOffTasks(handoff_entries, handoff_count);
			if (cancel_count > 0)
				AigwAnnounceCancels(cancel_ids, cancel_count);
			if (scan_at_commit)
				AigwWakeAllWorkers();
			else if (wake_at_commit && handoff_count == 0)
				AigwWakeWorker();
			break;
		default:
			break;
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		wake_at_commit = false;
		scan_at_commit = false;
		handoff_count = 0;
		cancel_count = 0;
	}
}

/* Registers the transaction callback once per backend */
static void
RegisterWakeCallback(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(WakeAtCommitCallback, NULL);
		xact_callback_registered = true;
	}
}

PG_FUNCTION_INFO_V1(aigw_wake_workers_at_commit);

/*
 * aigw.wake_workers_at_commit(task uuid DEFAULT NULL, started boolean DEFAULT
 * false): the workers are woken when this transaction commits; a task named
 * is handed to them directly, to lease or, started at submit, to call. An id
 * handed off by a subtransaction that rolled back is harmless: the worker
 * finds no such task to lease or to call.
 */
Datum
aigw_wake_workers_at_commit(PG_FUNCTION_ARGS)
{
	RegisterWakeCallback();
	wake_at_commit = true;
	if (PG_NARGS() < 1 || PG_ARGISNULL(0))
		scan_at_commit = true;
	else
	{
		if (handoff_count >= handoff_cap)
		{
			handoff_cap = Max(64, handoff_cap * 2);
			handoff_entries = handoff_entries == NULL
				? MemoryContextAlloc(TopMemoryContext, sizeof(AigwHandoffEntry) * handoff_cap)
				: repalloc(handoff_entries, sizeof(AigwHandoffEntry) * handoff_cap);
		}
		handoff_entries[handoff_count].id = *PG_GETARG_UUID_P(0);
		handoff_entries[handoff_count].started = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
		handoff_count++;
	}
	if (AigwShmem)
		pg_atomic_fetch_add_u64(&AigwShmem->submitted, 1);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(aigw_abort_call_at_commit);

/*
 * aigw.abort_call_at_commit(task uuid): when this transaction commits, the
 * worker calling the task's provider ends the call at once (its outcome, an
 * error "cancelled", is kept as the attempt's late outcome). A cancel rolled
 * back announces nothing.
 */
Datum
aigw_abort_call_at_commit(PG_FUNCTION_ARGS)
{
	RegisterWakeCallback();
	if (cancel_count >= cancel_cap)
	{
		cancel_cap = Max(16, cancel_cap * 2);
		cancel_ids = cancel_ids == NULL
			? MemoryContextAlloc(TopMemoryContext, sizeof(pg_uuid_t) * cancel_cap)
			: repalloc(cancel_ids, sizeof(pg_uuid_t) * cancel_cap);
	}
	cancel_ids[cancel_count++] = *PG_GETARG_UUID_P(0);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(aigw_start_at_submit);

/* aigw.start_at_submit(): may aigw.submit_task start one more task itself? */
Datum
aigw_start_at_submit(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(AigwCanStartAtSubmit(handoff_count));
}

static AigwKeptPlan outcome_plan = NULL;

/* Reads the task's outcome (NULL while it is not terminal) with a fresh snapshot */
static Jsonb *
TaskOutcome(Datum task_id)
{
	Oid			argtypes[1] = {UUIDOID};
	Datum		values[1] = {task_id};
	Jsonb	   *result = NULL;
	Datum		transferred = (Datum) 0;
	int			rc;

	SPI_connect();
	rc = SPI_execute_plan(AigwKeepPlan(&outcome_plan, "SELECT aigw.task_outcome($1)", 1, argtypes),
						  values, NULL, false, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		/* copied into the caller's context, which outlives SPI_finish */
		if (!isnull)
			transferred = SPI_datumTransfer(d, false, -1);
	}
	SPI_finish();
	if (transferred != (Datum) 0)
		result = DatumGetJsonbP(transferred);
	return result;
}

PG_FUNCTION_INFO_V1(aigw_await_task);

/*
 * aigw.await_task(task_id uuid, timeout_ms int): waits until the task is
 * terminal and returns its outcome, or NULL after the timeout. Read committed
 * only: each check takes a new snapshot.
 */
Datum
aigw_await_task(PG_FUNCTION_ARGS)
{
	Datum		task = PG_GETARG_DATUM(0);
	int			timeout_ms = PG_GETARG_INT32(1);
	pg_uuid_t  *uuid = DatumGetUUIDP(task);
	TimestampTz deadline;
	Jsonb	   *outcome = NULL;
	int			slot;

	AigwAttachShmem();
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("aigw.await_task needs READ COMMITTED isolation")));
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative")));
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	slot = AigwAddTaskWaiter(uuid);
	if (slot < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many concurrent aigw.await_task callers"),
				 errhint("Raise aigw.max_task_waiters.")));
	PG_TRY();
	{
		for (;;)
		{
			long		remaining;

			ResetLatch(MyLatch);
			outcome = TaskOutcome(task);
			if (outcome != NULL)
				break;
			remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (remaining <= 0)
				break;
			/* the timeout bounds the wait if a wake-up is missed (e.g. recovery) */
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(remaining, 1000), AigwTaskWaitEvent());
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		AigwRemoveTaskWaiter(slot);
	}
	PG_END_TRY();
	if (outcome == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(outcome);
}
