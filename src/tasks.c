/*
 * tasks.c: SQL-callable pieces of the task lifecycle that need C — waking a
 * worker when the submitting transaction commits, and waiting for a task.
 */
#include "aigw.h"
#include "runtime.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "replication/syncrep.h"
#include "replication/walsender_private.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

static bool wake_at_commit = false;
static bool scan_at_commit = false;
static bool flush_after_handoff = false;	/* commit record flushed by the commit callback */
static int	handoff_count = 0;
static int	handoff_cap = 0;
static AigwHandoffEntry *handoff_entries = NULL;	/* in TopMemoryContext, reused */
static Jsonb **handoff_payloads = NULL; /* in TopMemoryContext, reused */
static SubTransactionId *handoff_subxids = NULL;	/* who handed each off */
static MemoryContext payload_cxt = NULL;	/* the payloads; reset at transaction end */
static bool xact_callback_registered = false;
static int	cancel_count = 0;
static int	cancel_cap = 0;
static pg_uuid_t *cancel_ids = NULL;	/* in TopMemoryContext, reused */
static SubTransactionId *cancel_subxids = NULL;	/* who cancelled each */

/* The result of a task cancelled by this transaction, for the front streaming it */
typedef struct CancelResult
{
	pg_uuid_t	id;
	char	   *channel;
	int64		seq;
	char	   *event;			/* the result event, JSON */
	SubTransactionId subxid;	/* the subtransaction that cancelled it */
} CancelResult;

static MemoryContext cancel_cxt = NULL; /* the results below; reset at transaction end */
static List *cancel_results = NIL;

/*
 * Posts the results of the tasks this transaction cancelled to the channels of
 * the fronts streaming them, and wakes their SQL waiters: a stream ends with
 * the cancel, not when its front gives up waiting. A result that does not fit
 * in the channel is read from the task row by the front.
 */
static void
PostCancelResults(void)
{
	ListCell   *lc;

	foreach(lc, cancel_results)
	{
		CancelResult *r = lfirst(lc);
		bool		full;

		if (r->channel && r->event)
			(void) AigwChannelPost(r->channel, &r->id, r->seq, AIGW_EVENT_RESULT,
								   r->event, strlen(r->event), &full);
		AigwNotifyTaskWaiters(&r->id, XactLastCommitEnd);
	}
}

/*
 * True when synchronous standbys are named, in this backend's settings or,
 * before it has read a reload, in the walsenders' shared state that commits
 * wait by
 */
static bool
SyncStandbysNamed(void)
{
	if (SyncRepStandbyNames != NULL && SyncRepStandbyNames[0] != '\0')
		return true;
	return WalSndCtl != NULL && (WalSndCtl->sync_standbys_status & SYNC_STANDBY_DEFINED) != 0;
}

/*
 * Makes this transaction's commit visible before its commit record is
 * flushed, for a caller whose commit callback tells others about the commit
 * (hands tasks to a worker, wakes waiters) and then flushes the record itself
 * (XLogFlush(XactLastCommitEnd)): they start during the flush instead of
 * after it. False when the commit stays synchronous: with synchronous
 * standbys named (their wait is part of the commit), when the caller asked
 * for an asynchronous commit (nothing to flush), or when the setting is
 * refused.
 */
bool
AigwCommitBeforeFlush(void)
{
	if (synchronous_commit <= SYNCHRONOUS_COMMIT_OFF || SyncStandbysNamed())
		return false;
	return set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, DEBUG1, false) > 0;
}

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
		case XACT_EVENT_PRE_COMMIT:
			/* the submitter still returns only once the commit is durable */
			if (handoff_count > 0 && handoff_count <= AIGW_COMMIT_BEFORE_FLUSH_MAX && !flush_after_handoff)
				flush_after_handoff = AigwCommitBeforeFlush();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (handoff_count > 0)
				AigwHandOffTasks(handoff_entries, handoff_payloads, handoff_count);
			/* the workers start while the commit record is flushed */
			if (flush_after_handoff)
				XLogFlush(XactLastCommitEnd);
			if (cancel_count > 0)
				AigwAnnounceCancels(cancel_ids, cancel_count);
			PostCancelResults();
			if (scan_at_commit)
				AigwWakeAllWorkers();
			else if (wake_at_commit && handoff_count == 0)
				AigwWakeWorker();
			break;
		case XACT_EVENT_PRE_PREPARE:
			/* a prepared transaction's commit runs no callback: nothing would be handed off */
			if (handoff_count > 0 || cancel_count > 0 || cancel_results != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that submitted or cancelled aigw tasks")));
			break;
		default:
			break;
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		wake_at_commit = false;
		scan_at_commit = false;
		flush_after_handoff = false;
		handoff_count = 0;
		cancel_count = 0;
		cancel_results = NIL;
		if (cancel_cxt)
			MemoryContextReset(cancel_cxt);
		if (payload_cxt)
			MemoryContextReset(payload_cxt);
	}
}

/*
 * Subtransaction callback: the tasks a rolled-back subtransaction handed off
 * do not exist and its cancels did not happen; a committed one's belong to
 * its parent from now on.
 */
static void
HandoffSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			kept = 0;
	ListCell   *lc;

	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (int i = 0; i < handoff_count; i++)
			if (handoff_subxids[i] == mySubid)
				handoff_subxids[i] = parentSubid;
		for (int i = 0; i < cancel_count; i++)
			if (cancel_subxids[i] == mySubid)
				cancel_subxids[i] = parentSubid;
		foreach(lc, cancel_results)
			if (((CancelResult *) lfirst(lc))->subxid == mySubid)
				((CancelResult *) lfirst(lc))->subxid = parentSubid;
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		for (int i = 0; i < handoff_count; i++)
		{
			if (handoff_subxids[i] == mySubid)
				continue;
			handoff_entries[kept] = handoff_entries[i];
			handoff_payloads[kept] = handoff_payloads[i];
			handoff_subxids[kept] = handoff_subxids[i];
			kept++;
		}
		handoff_count = kept;
		kept = 0;
		for (int i = 0; i < cancel_count; i++)
		{
			if (cancel_subxids[i] == mySubid)
				continue;
			cancel_ids[kept] = cancel_ids[i];
			cancel_subxids[kept] = cancel_subxids[i];
			kept++;
		}
		cancel_count = kept;
		foreach(lc, cancel_results)
			if (((CancelResult *) lfirst(lc))->subxid == mySubid)
				cancel_results = foreach_delete_current(cancel_results, lc);
	}
}

/* An array of this backend's kept across transactions, grown to cap elements */
static void *
GrowArray(void *array, Size elem, int cap)
{
	return array == NULL
		? MemoryContextAlloc(TopMemoryContext, elem * cap)
		: repalloc(array, elem * cap);
}

/* Registers the transaction callbacks once per backend */
static void
RegisterWakeCallback(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(WakeAtCommitCallback, NULL);
		RegisterSubXactCallback(HandoffSubXactCallback, NULL);
		xact_callback_registered = true;
	}
}

/*
 * Registers the transaction callbacks at load, before the rate limits
 * register theirs. Callbacks run in the reverse order of registration, so a
 * commit gives its concurrency slots back (ratelimit.c) before it announces
 * its cancels: a worker told of a cancel leases a task waiting for the slot.
 */
void
AigwTasksInit(void)
{
	RegisterWakeCallback();
}

PG_FUNCTION_INFO_V1(aigw_wake_workers_at_commit);

/*
 * aigw.wake_workers_at_commit(task uuid DEFAULT NULL, started boolean DEFAULT
 * false, payload jsonb DEFAULT NULL): the workers are woken when this
 * transaction commits; a task named is handed to them directly, to lease or,
 * started at submit, to call — with payload, what to call, without reading
 * the database. A task handed off by a subtransaction that rolls back is
 * dropped at the rollback (HandoffSubXactCallback).
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
			handoff_entries = GrowArray(handoff_entries, sizeof(AigwHandoffEntry), handoff_cap);
			handoff_payloads = GrowArray(handoff_payloads, sizeof(Jsonb *), handoff_cap);
			handoff_subxids = GrowArray(handoff_subxids, sizeof(SubTransactionId), handoff_cap);
		}
		handoff_subxids[handoff_count] = GetCurrentSubTransactionId();
		handoff_entries[handoff_count].id = *PG_GETARG_UUID_P(0);
		handoff_entries[handoff_count].started = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
		/* a cancel of this task comes after this transaction commits, so after this number */
		handoff_entries[handoff_count].cancels = AigwShmem ? AigwCancelSequence() : 0;
		/* the task's heartbeat_at (now()): the reaper ages it from there, not from the commit */
		handoff_entries[handoff_count].handed_at = GetCurrentTransactionStartTimestamp();
		handoff_payloads[handoff_count] = NULL;
		if (PG_NARGS() > 2 && !PG_ARGISNULL(2) && handoff_entries[handoff_count].started)
		{
			Jsonb	   *payload = PG_GETARG_JSONB_P(2);

			if (VARSIZE(payload) <= AIGW_PAYLOAD_SLOT_SIZE)
			{
				if (payload_cxt == NULL)
					payload_cxt = AllocSetContextCreate(TopMemoryContext, "aigw payloads", ALLOCSET_DEFAULT_SIZES);
				handoff_payloads[handoff_count] = MemoryContextAlloc(payload_cxt, VARSIZE(payload));
				memcpy(handoff_payloads[handoff_count], payload, VARSIZE(payload));
			}
		}
		handoff_count++;
	}
	if (AigwShmem)
		pg_atomic_fetch_add_u64(&AigwShmem->submitted, 1);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(aigw_cancel_at_commit);

/*
 * aigw.cancel_at_commit(task uuid, abort_call boolean, channel text, seq
 * bigint, event jsonb): what a cancel does once this transaction commits. If
 * abort_call, the worker calling the task's provider ends the call at once
 * (its outcome, an error "cancelled", is kept as the attempt's late outcome);
 * event, the task's result, is posted to channel, the front streaming it; and
 * SQL callers waiting for the task wake. A cancel rolled back does nothing.
 */
Datum
aigw_cancel_at_commit(PG_FUNCTION_ARGS)
{
	MemoryContext old;
	CancelResult *r;

	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	RegisterWakeCallback();
	if (!PG_ARGISNULL(1) && PG_GETARG_BOOL(1))
	{
		if (cancel_count >= cancel_cap)
		{
			cancel_cap = Max(16, cancel_cap * 2);
			cancel_ids = GrowArray(cancel_ids, sizeof(pg_uuid_t), cancel_cap);
			cancel_subxids = GrowArray(cancel_subxids, sizeof(SubTransactionId), cancel_cap);
		}
		cancel_subxids[cancel_count] = GetCurrentSubTransactionId();
		cancel_ids[cancel_count++] = *PG_GETARG_UUID_P(0);
	}
	if (cancel_cxt == NULL)
		cancel_cxt = AllocSetContextCreate(TopMemoryContext, "aigw cancels", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cancel_cxt);
	r = palloc0(sizeof(CancelResult));
	r->id = *PG_GETARG_UUID_P(0);
	r->subxid = GetCurrentSubTransactionId();
	if (!PG_ARGISNULL(2) && !PG_ARGISNULL(4))
	{
		Jsonb	   *event = PG_GETARG_JSONB_P(4);

		r->channel = text_to_cstring(PG_GETARG_TEXT_PP(2));
		r->seq = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3);
		r->event = JsonbToCString(NULL, &event->root, VARSIZE(event));
	}
	cancel_results = lappend(cancel_results, r);
	MemoryContextSwitchTo(old);
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
	/* the row read here and the outcome made of it in one plan (inlined) */
	rc = SPI_execute_plan(AigwKeepPlan(&outcome_plan,
									   "SELECT aigw.task_outcome_of(t) FROM aigw.gateway_tasks t WHERE t.id = $1",
									   1, argtypes),
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

/* True when this transaction handed the task off: it starts at the commit */
static bool
HandedOffHere(const pg_uuid_t *task)
{
	for (int i = 0; i < handoff_count; i++)
		if (memcmp(&handoff_entries[i].id, task, sizeof(pg_uuid_t)) == 0)
			return true;
	return false;
}

/*
 * Flushes WAL far enough for an outcome just read to be durable: a worker
 * makes an outcome that a caller waits for visible before its commit record
 * is flushed (worker.c). To the end of that commit record when the
 * notification that woke the caller gave it; else (the outcome was found
 * before it came) to the start of this backend's last record when the read
 * wrote one (pruning: after the snapshot that saw the commit), else to the
 * end of all WAL inserted so far. A standby has nothing to flush.
 */
static void
FlushOutcome(XLogRecPtr commit_end, XLogRecPtr last_rec_before)
{
	if (RecoveryInProgress())
		return;
	if (commit_end != InvalidXLogRecPtr)
		XLogFlush(commit_end);
	else if (ProcLastRecPtr != last_rec_before)
		XLogFlush(ProcLastRecPtr);
	else
		XLogFlush(GetXLogInsertEndRecPtr());
}

PG_FUNCTION_INFO_V1(aigw_await_task);

/*
 * aigw.await_task(task_id uuid, timeout_ms int): waits until the task is
 * terminal and returns its outcome once it is durable, or NULL after the
 * timeout. Read committed only: each check takes a new snapshot.
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
	XLogRecPtr	commit_end = InvalidXLogRecPtr;
	XLogRecPtr	last_rec = InvalidXLogRecPtr;	/* this backend's last WAL record before the read */

	AigwAttachShmem();
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("aigw.await_task needs READ COMMITTED isolation")));
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative")));
	/* no worker sees a task before its submit commits: waiting would only time out */
	if (HandedOffHere(uuid) && TaskOutcome(task) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task %s was submitted in this transaction",
						DatumGetCString(DirectFunctionCall1(uuid_out, task))),
				 errdetail("A task starts when the transaction that submitted it commits."),
				 errhint("Commit the submit, then call aigw.await_task.")));
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
			commit_end = AigwTaskWaiterCommitEnd(slot);
			last_rec = ProcLastRecPtr;
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
	FlushOutcome(commit_end, last_rec);
	PG_RETURN_JSONB_P(outcome);
}
