/*
 * worker.c: the task worker.
 *
 * Leases queued tasks in batches (one transaction), drives provider calls
 * with a libcurl multi handle whose sockets live in an epoll set that is
 * itself one socket of the worker's WaitEventSet, next to its latch — so the
 * worker sleeps until a socket, a timer or a wake-up needs it — and records
 * finished attempts in batches (one transaction). No transaction is open while
 * waiting for a provider.
 */
#include "aigw.h"
#include "ratelimit.h"
#include "runtime.h"
#include "worker.h"

#include <sys/epoll.h>
#include <unistd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/waiteventset.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

PGDLLEXPORT void AigwTaskWorkerMain(Datum main_arg);

#define LEASE_BATCH 64
#define HEARTBEAT_MS (aigw_task_lease_timeout_ms / 4)
#define MAX_EPOLL_EVENTS 128

static CURLM *multi = NULL;
static int	epfd = -1;
static long curl_timeout_ms = -1;	/* from CURLMOPT_TIMERFUNCTION; -1 = none */
static TimestampTz curl_timer_set_at = 0;
static bool flush_after_wake = false;	/* commit record flushed by EndedTasksCallback */
static dlist_head inflight = DLIST_STATIC_INIT(inflight);
static dlist_head finished = DLIST_STATIC_INIT(finished);
static int	ninflight = 0;
static int	worker_index = 0;
static char worker_id[64];
static TimestampTz last_heartbeat = 0;
static TimestampTz next_queued_at = 0;	/* earliest future next_run_at seen; 0 = none */
static bool scan_wanted = true;	/* scan the queue (else lease handed-off tasks only) */
static int64 slots_freed = 0;	/* concurrency leases this worker's commits gave back */
static TimestampTz slot_scan_at = 0;	/* when to look for waiting tasks again; 0 = now */
static int	slot_scan_tries = 0;	/* looks that found fewer waiting tasks than slots */
static uint64 cancels_seen = 0;	/* cancels read up to this sequence number */
static MemoryContext loop_cxt = NULL;
static pg_uuid_t *ended_tasks = NULL;	/* tasks the open transaction ends; in TopMemoryContext */
static int	nended = 0;
static int	ended_cap = 0;
static AigwKeptPlan lease_plan = NULL;
static AigwKeptPlan started_plan = NULL;
static AigwKeptPlan heartbeat_plan = NULL;
static AigwKeptPlan claim_plan = NULL;
static AigwKeptPlan next_due_plan = NULL;
static AigwKeptPlan finish_plan = NULL;
static AigwKeptPlan lock_accounts_plan = NULL;
static AigwKeptPlan cancelled_plan = NULL;

/* Returns the worker's curl multi handle */
CURLM *
AigwCurlMulti(void)
{
	return multi;
}

/* CURLMOPT_SOCKETFUNCTION: mirror curl's interest in a socket into the epoll set */
static int
CurlSocketCallback(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.data.fd = s;
	if (what == CURL_POLL_REMOVE)
	{
		(void) epoll_ctl(epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (socketp == NULL)
	{
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
			(void) epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev);
		curl_multi_assign(multi, s, (void *) 1);
	}
	else if (epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
		(void) epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: remember when curl wants to be called back */
static int
CurlTimerCallback(CURLM *m, long timeout_ms, void *userp)
{
	curl_timeout_ms = timeout_ms;
	curl_timer_set_at = GetCurrentTimestamp();
	return 0;
}

/* Arms a provider timer on a transfer */
void
AigwTransferSetTimer(AigwTransfer *t, int delay_ms)
{
	t->due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), Max(delay_ms, 0));
}

/* Moves a transfer to the finished list with its outcome */
void
AigwTransferFinish(AigwTransfer *t, const char *outcome_json, bool ok)
{
	MemoryContext old = MemoryContextSwitchTo(t->cxt);

	if (t->finished)
	{
		MemoryContextSwitchTo(old);
		return;
	}
	t->finished = true;
	t->ok = ok;
	t->outcome_json = pstrdup(outcome_json);
	t->due = 0;
	dlist_delete(&t->node);
	dlist_push_tail(&finished, &t->node);
	MemoryContextSwitchTo(old);
}

/* Finishes a transfer with an error in the unified error shape */
void
AigwTransferFail(AigwTransfer *t, const char *code, const char *message, int status, bool retryable)
{
	StringInfoData buf;
	MemoryContext old = MemoryContextSwitchTo(t->cxt);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"ok\":false,\"error\":{\"code\":");
	AigwAppendJsonString(&buf, code);
	appendStringInfoString(&buf, ",\"message\":");
	AigwAppendJsonString(&buf, message ? message : "");
	appendStringInfo(&buf, ",\"status\":%d,\"retryable\":%s", status, retryable ? "true" : "false");
	if (t->retry_after)
	{
		appendStringInfoString(&buf, ",\"retryAfter\":");
		AigwAppendJsonString(&buf, t->retry_after);
	}
	appendStringInfo(&buf, "},\"chunksSent\":%d", t->chunks);
	if (t->usage_seen || t->content.len > 0)
		appendStringInfo(&buf, ",\"usage\":{\"prompt_tokens\":" INT64_FORMAT
						 ",\"completion_tokens\":" INT64_FORMAT ",\"total_tokens\":" INT64_FORMAT
						 ",\"estimated\":%s}",
						 t->prompt_tokens, t->completion_tokens,
						 t->prompt_tokens + t->completion_tokens,
						 t->usage_seen ? "false" : "true");
	appendStringInfoChar(&buf, '}');
	MemoryContextSwitchTo(old);
	AigwTransferFinish(t, buf.data, false);
}

/* Sends a stream chunk to the task's channel; queues it when the channel is full */
void
AigwTransferEmitChunk(AigwTransfer *t, const char *json, Size len)
{
	bool		full = false;

	t->chunks++;
	t->seq++;
	if (t->channel == NULL)
		return;
	if (t->pending == NIL &&
		AigwChannelPost(t->channel, &t->task_id, t->seq, AIGW_EVENT_CHUNK, json, len, &full))
		return;
	if (!full && t->pending == NIL)
		return;					/* nobody listens: the result stays in the task row */
	{
		MemoryContext old = MemoryContextSwitchTo(t->cxt);

		t->pending = lappend(t->pending, pnstrdup(json, len));
		MemoryContextSwitchTo(old);
	}
	if (t->easy && !t->paused)
	{
		t->paused = true;
		curl_easy_pause(t->easy, CURLPAUSE_RECV);
	}
}

/* Retries queued chunks of paused transfers; resumes those fully flushed */
static void
FlushPendingChunks(void)
{
	dlist_iter	it;

	dlist_foreach(it, &inflight)
	{
		AigwTransfer *t = dlist_container(AigwTransfer, node, it.cur);

		while (t->pending != NIL)
		{
			char	   *json = linitial(t->pending);
			bool		full = false;
			int64		seq = t->seq - list_length(t->pending) + 1;

			if (!AigwChannelPost(t->channel, &t->task_id, seq, AIGW_EVENT_CHUNK,
								 json, strlen(json), &full) && full)
				break;
			t->pending = list_delete_first(t->pending);
			pfree(json);
		}
		if (t->pending == NIL && t->paused)
		{
			t->paused = false;
			curl_easy_pause(t->easy, CURLPAUSE_CONT);
		}
	}
}

/*
 * Creates a transfer from one leased row and starts its provider; unclaimed:
 * the task is still locked_by 'handoff' (StartHandedOff).
 */
static void
StartTransfer(Jsonb *row, bool unclaimed)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "aigw transfer",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	AigwTransfer *t = palloc0(sizeof(AigwTransfer));
	char	   *s;
	Jsonb	   *req;

	t->cxt = cxt;
	t->unclaimed = unclaimed;
	s = AigwJsonbGetText(row, "task_id");
	strlcpy(t->task_id_str, s, sizeof(t->task_id_str));
	t->task_id = *DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(s)));
	s = AigwJsonbGetText(row, "attempt_id");
	strlcpy(t->attempt_id_str, s, sizeof(t->attempt_id_str));
	t->attempt_id = *DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(s)));
	t->attempt_no = (int) AigwJsonbGetInt(row, "attempt_no", 1);
	t->kind = AigwJsonbGetText(row, "kind");
	t->model = AigwJsonbGetText(row, "model");
	t->provider_model = AigwJsonbGetText(row, "provider_model");
	t->base_url = AigwJsonbGetText(row, "url");
	{
		Jsonb	   *body = AigwJsonbGetObject(row, "body");

		if (body)
			t->body_out = JsonbToCString(NULL, &body->root, VARSIZE(body));
	}
	t->client_include_usage = AigwJsonbGetBool(row, "client_include_usage", false);
	t->api_key = AigwJsonbGetText(row, "api_key");
	t->channel = AigwJsonbGetText(row, "channel");
	t->stream = AigwJsonbGetBool(row, "stream", false);
	t->simulated = AigwJsonbGetBool(row, "simulated", false);
	t->timeout_ms = (int) AigwJsonbGetInt(row, "timeout_ms", 600000);
	t->seq = AigwJsonbGetInt(row, "seq", 0);
	t->poll = AigwJsonbGetBool(row, "poll", false);
	t->remote_task_id = AigwJsonbGetText(row, "remote_task_id");
	req = AigwJsonbGetObject(row, "request");
	t->request = req;
	t->sim_profile = AigwJsonbGetObject(row, "simulation_profile");
	initStringInfo(&t->resp);
	initStringInfo(&t->line);
	initStringInfo(&t->content);
	t->provider = AigwLookupProvider(AigwJsonbGetText(row, "provider_type"), t->simulated);
	dlist_push_tail(&inflight, &t->node);
	ninflight++;
	pg_atomic_write_u32(&AigwShmem->workers[worker_index].inflight, ninflight);
	MemoryContextSwitchTo(old);

	if (t->provider == NULL)
	{
		AigwTransferFail(t, "unsupported_provider", "no provider implementation for this platform", 0, false);
		return;
	}
	t->provider->start(t);
}

/* Frees a finished transfer */
static void
FreeTransfer(AigwTransfer *t)
{
	if (t->easy)
	{
		curl_multi_remove_handle(multi, t->easy);
		curl_easy_cleanup(t->easy);
	}
	if (t->headers)
		curl_slist_free_all(t->headers);
	dlist_delete(&t->node);
	ninflight--;
	pg_atomic_write_u32(&AigwShmem->workers[worker_index].inflight, ninflight);
	MemoryContextDelete(t->cxt);
}

/* Runs fn inside a transaction with SPI and a snapshot */
static void
BeginWork(const char *what)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, what);
}

static void
EndWork(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(loop_cxt);
	/* flush table statistics (at most once a second), or autovacuum never sees our dead rows */
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Transaction callback: the SQL callers waiting for the tasks this
 * transaction ended are woken as soon as its commit is visible, before the
 * rest of the commit's clean-up and the channel posts; a commit made visible
 * before its flush for them is flushed right after.
 */
static void
EndedTasksCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT)
	{
		for (int i = 0; i < nended; i++)
			AigwNotifyTaskWaiters(&ended_tasks[i], XactLastCommitEnd);
		if (flush_after_wake)
			XLogFlush(XactLastCommitEnd);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
	{
		flush_after_wake = false;
		nended = 0;
	}
}

/* Notes the tasks that the outcomes just recorded end, for EndedTasksCallback */
static void
NoteEndedTasks(List *outcomes)
{
	ListCell   *lc;

	nended = 0;
	foreach(lc, outcomes)
	{
		Jsonb	   *o = lfirst(lc);
		char	   *task;

		if (!AigwJsonbGetBool(o, "terminal", false) || (task = AigwJsonbGetText(o, "task_id")) == NULL)
			continue;
		if (nended >= ended_cap)
		{
			ended_cap = Max(64, ended_cap * 2);
			ended_tasks = ended_tasks ? repalloc(ended_tasks, sizeof(pg_uuid_t) * ended_cap)
				: MemoryContextAlloc(TopMemoryContext, sizeof(pg_uuid_t) * ended_cap);
		}
		ended_tasks[nended++] = *DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(task)));
	}
}

/*
 * True when an SQL caller waits for a task this transaction ends: it wakes
 * when the outcome is visible and reads it during the commit's flush, which
 * EndedTasksCallback does right after waking it (aigw.await_task returns the
 * outcome once it is durable).
 */
static bool
EndedTaskAwaited(void)
{
	for (int i = 0; i < nended; i++)
		if (AigwTaskHasWaiter(&ended_tasks[i]))
			return true;
	return false;
}

/* Posts the outcome events returned by the SQL functions (their waiters are woken at the commit) */
static void
DeliverOutcomes(List *outcomes)
{
	ListCell   *lc;

	foreach(lc, outcomes)
	{
		Jsonb	   *o = lfirst(lc);
		char	   *task = AigwJsonbGetText(o, "task_id");
		char	   *channel = AigwJsonbGetText(o, "channel");
		Jsonb	   *event = AigwJsonbGetObject(o, "event");
		pg_uuid_t	id;

		if (task == NULL)
			continue;
		id = *DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(task)));
		if (AigwJsonbGetBool(o, "requeued", false))
		{
			int64		delay = AigwJsonbGetInt(o, "delay_ms", 0);

			/* it waits for a concurrency slot: the next outcome that frees one leases it */
			if (AigwJsonbGetBool(o, "slot_wait", false))
				pg_atomic_write_u32(&AigwShmem->slot_waiters, 1);

			if (delay <= 0)
				scan_wanted = true;
			else
			{
				TimestampTz at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay);

				if (next_queued_at == 0 || at < next_queued_at)
					next_queued_at = at;
			}
		}
		if (channel && event)
		{
			char	   *json = JsonbToCString(NULL, &event->root, VARSIZE(event));
			bool		full;

			/* a result that does not fit now is read from the task row by the front */
			(void) AigwChannelPost(channel, &id, AigwJsonbGetInt(o, "seq", 0),
								   AIGW_EVENT_RESULT, json, strlen(json), &full);
		}
		if (AigwJsonbGetBool(o, "terminal", false))
			pg_atomic_fetch_add_u64(&AigwShmem->completed, 1);
	}
}

/* Appends the jsonb rows of the last SPI query to rows, all allocated in target */
static List *
CollectJsonbRows(List *rows, MemoryContext target)
{

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(target);
			Jsonb	   *copy = DatumGetJsonbPCopy(d);

			rows = lappend(rows, copy);
			MemoryContextSwitchTo(old);
		}
	}
	return rows;
}

/* True for errors that say "try again", never "this task is broken" */
static bool
TransientError(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
		sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
		sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}

/*
 * Runs fn, a whole transaction, retrying it (up to 5 times) when it fails
 * with a transient error such as a deadlock with another worker; any other
 * error is raised. Returns false when every try failed (the work is left for
 * the next pass of the loop).
 */
static bool
RunTransaction(void (*fn) (void *), void *arg)
{
	for (int tries = 1;; tries++)
	{
		volatile bool ok = false;

		PG_TRY();
		{
			fn(arg);
			ok = true;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(loop_cxt);
			edata = CopyErrorData();
			if (!TransientError(edata->sqlerrcode))
				PG_RE_THROW();
			FlushErrorState();
			AbortCurrentTransaction();
			MemoryContextSwitchTo(loop_cxt);
			pgstat_report_activity(STATE_IDLE, NULL);
			elog(LOG, "aigw: transaction try %d failed, %s: %s", tries,
				 tries < 5 ? "retrying" : "leaving it for the next pass", edata->message);
			FreeErrorData(edata);
		}
		PG_END_TRY();
		if (ok)
			return true;
		if (tries >= 5)
			return false;
		(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 5 * tries, PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}
}

typedef struct LeaseWork
{
	int			n;
	pg_uuid_t  *ids;			/* handed-off tasks, or NULL: scan the queue */
	int			nids;
	bool		slots;			/* the queue scan includes tasks waiting for a slot */
	MemoryContext batch;
	List	   *rows;
} LeaseWork;

/*
 * The lease transaction: leased rows and, after a queue scan, when the next
 * delayed task is due.
 */
static void
LeaseTransaction(void *arg)
{
	LeaseWork  *w = arg;
	Oid			argtypes[4] = {TEXTOID, INT4OID, UUIDARRAYOID, BOOLOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', 'n', ' '};

	w->rows = NIL;
	MemoryContextReset(w->batch);
	values[0] = CStringGetTextDatum(worker_id);
	values[1] = Int32GetDatum(w->n);
	values[2] = (Datum) 0;
	values[3] = BoolGetDatum(w->slots);
	if (w->ids != NULL)
	{
		Datum	   *elems = palloc(sizeof(Datum) * w->nids);

		for (int i = 0; i < w->nids; i++)
			elems[i] = UUIDPGetDatum(&w->ids[i]);
		values[2] = PointerGetDatum(construct_array(elems, w->nids, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
		nulls[2] = ' ';
	}
	BeginWork("aigw: lease tasks");
	if (SPI_execute_plan(AigwKeepPlan(&lease_plan, "SELECT aigw.lease_tasks($1, $2, $3, $4)", 4, argtypes),
						 values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "aigw.lease_tasks failed");
	w->rows = CollectJsonbRows(NIL, w->batch);
	/* tasks it ended (no candidate left, expired) wake their waiters at the commit */
	NoteEndedTasks(w->rows);
	if (w->ids != NULL)
	{
		/* tasks it delayed come back as "requeued" rows with their delay */
		EndWork();
		return;
	}
	next_queued_at = 0;
	/* not read-only: it must see the tasks this lease just put back with a later next_run_at */
	if (SPI_execute_plan(AigwKeepPlan(&next_due_plan,
									  "SELECT extract(epoch FROM min(next_run_at) - now()) * 1000 FROM aigw.gateway_tasks "
									  "WHERE status IN ('queued', 'polling') AND locked_by IS NULL "
									  "AND next_run_at > now()", 0, NULL),
						 NULL, NULL, false, 1) == SPI_OK_SELECT
		&& SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			next_queued_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														 (int64) DatumGetFloat8(DirectFunctionCall1(numeric_float8, d)) + 1);
	}
	EndWork();
}

/*
 * Leases up to n tasks — the handed-off ids given, else from the queue, with
 * slots also the tasks waiting for a concurrency slot — and starts them;
 * returns how many rows came back.
 */
static int
LeaseAndStart(int n, pg_uuid_t *ids, int nids, bool slots)
{
	LeaseWork	w;
	List	   *rows;
	List	   *terminal = NIL;
	ListCell   *lc;
	int			count = 0;

	w.n = n;
	w.ids = ids;
	w.nids = nids;
	w.slots = slots;
	w.rows = NIL;
	w.batch = AllocSetContextCreate(TopMemoryContext, "aigw lease", ALLOCSET_DEFAULT_SIZES);
	if (!RunTransaction(LeaseTransaction, &w))
	{
		/* handed-off ids taken from the ring are still in the queue table */
		scan_wanted = true;
		MemoryContextDelete(w.batch);
		return 0;
	}
	rows = w.rows;

	foreach(lc, rows)
	{
		Jsonb	   *row = lfirst(lc);

		count++;
		if (AigwJsonbGetBool(row, "terminal", false) || AigwJsonbGetBool(row, "requeued", false))
			terminal = lappend(terminal, row);
		else
			StartTransfer(row, false);
	}
	if (terminal != NIL)
		DeliverOutcomes(terminal);
	MemoryContextDelete(w.batch);
	return count;
}

typedef struct StartedWork
{
	pg_uuid_t  *ids;
	int			nids;
	MemoryContext batch;
	List	   *rows;
} StartedWork;

/*
 * Claims tasks started at submit and reads what to call. The commit does not
 * wait for its WAL flush: a claim lost in a crash leaves the task to the
 * reaper, which recovers it like any task whose worker died.
 */
static void
StartedTransaction(void *arg)
{
	StartedWork *w = arg;
	Oid			argtypes[2] = {UUIDARRAYOID, TEXTOID};
	Datum		values[2];
	Datum	   *elems = palloc(sizeof(Datum) * w->nids);

	w->rows = NIL;
	MemoryContextReset(w->batch);
	for (int i = 0; i < w->nids; i++)
		elems[i] = UUIDPGetDatum(&w->ids[i]);
	values[0] = PointerGetDatum(construct_array(elems, w->nids, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	values[1] = CStringGetTextDatum(worker_id);
	BeginWork("aigw: claim handed-off tasks");
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	if (SPI_execute_plan(AigwKeepPlan(&started_plan, "SELECT aigw.claim_started($1, $2)", 2, argtypes),
						 values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "aigw.claim_started failed");
	w->rows = CollectJsonbRows(NIL, w->batch);
	EndWork();
}

/*
 * Starts the calls of tasks that aigw.submit_task started and handed off. If
 * they cannot be claimed, the reaper recovers them after
 * aigw.task_lease_timeout (their heartbeat is the submit's).
 */
static void
CallStarted(pg_uuid_t *ids, int nids)
{
	StartedWork w;
	ListCell   *lc;

	w.ids = ids;
	w.nids = nids;
	w.rows = NIL;
	w.batch = AllocSetContextCreate(TopMemoryContext, "aigw started", ALLOCSET_DEFAULT_SIZES);
	if (RunTransaction(StartedTransaction, &w))
	{
		foreach(lc, w.rows)
			StartTransfer(lfirst(lc), false);
	}
	MemoryContextDelete(w.batch);
}

/*
 * Starts the call of a task started at submit from the payload handed off
 * with it, without a claim transaction; false when it must be claimed first
 * (aigw.claim_started): no payload, written by a submit that started longer
 * ago than a heartbeat interval (its heartbeat_at is the submit's: the reaper
 * must not find it stale before this worker's heartbeat claims it), or maybe
 * cancelled since. payload is freed here. The task stays locked_by 'handoff'
 * until this worker's next heartbeat claims it or its outcome is recorded.
 */
static bool
StartHandedOff(const AigwHandoffEntry *e, Jsonb *payload)
{
	if (payload == NULL)
		return false;
	if (TimestampDifferenceExceeds(e->handed_at, GetCurrentTimestamp(), HEARTBEAT_MS) ||
		AigwMaybeCancelledSince(e->cancels, &e->id))
	{
		pfree(payload);
		return false;
	}
	StartTransfer(payload, true);
	pfree(payload);
	return true;
}

/*
 * In the PG_CATCH of a failed subtransaction of outcomes: rolls it back and
 * returns the error, or raises it again when it is transient (a deadlock says
 * nothing about the tasks: the whole batch is retried).
 */
static ErrorData *
RollBackOutcomes(MemoryContext cxt, ResourceOwner owner)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (TransientError(edata->sqlerrcode))
		ReThrowError(edata);
	return edata;
}

/*
 * Records one outcome in a subtransaction: if recording fails, the task ends
 * failed_final with the reason instead of taking the whole batch down.
 */
static List *
RecordOutcome(List *outcomes, Oid *argtypes, Datum *values, MemoryContext batch)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (SPI_execute_plan(AigwKeepPlan(&finish_plan, "SELECT aigw.finish_attempt($1, $2)", 2, argtypes),
							 values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "aigw.finish_attempt failed");
		outcomes = CollectJsonbRows(outcomes, batch);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		Datum		args[2];
		Oid			types[2] = {UUIDOID, TEXTOID};
		ErrorData  *edata = RollBackOutcomes(cxt, owner);

		elog(WARNING, "aigw: could not record an attempt outcome: %s", edata->message);
		args[0] = values[0];
		args[1] = CStringGetTextDatum(edata->message);
		SPI_execute_with_args("SELECT aigw.fail_attempt_internal($1, $2)", 2, types, args, NULL, false, 1);
		outcomes = CollectJsonbRows(outcomes, batch);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return outcomes;
}

/*
 * Locks the wallet accounts the finished transfers will settle, in one order,
 * before recording any of them: two workers' batches cannot deadlock on them.
 */
static void
LockOutcomeAccounts(void)
{
	dlist_iter	it;
	Datum	   *ids;
	int			n = 0;
	Oid			argtypes[1] = {UUIDARRAYOID};
	Datum		values[1];

	dlist_foreach(it, &finished)
		n++;
	if (n < 2)
		return;					/* one account cannot be locked out of order */
	ids = palloc(sizeof(Datum) * n);
	n = 0;
	dlist_foreach(it, &finished)
	{
		AigwTransfer *t = dlist_container(AigwTransfer, node, it.cur);

		ids[n++] = UUIDPGetDatum(&t->attempt_id);
	}
	values[0] = PointerGetDatum(construct_array(ids, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	if (SPI_execute_plan(AigwKeepPlan(&lock_accounts_plan, "SELECT aigw.lock_outcome_accounts($1)", 1, argtypes),
						 values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "aigw.lock_outcome_accounts failed");
}

typedef struct FinishWork
{
	MemoryContext batch;
	List	   *outcomes;
} FinishWork;

/* The arguments of aigw.finish_attempt for a finished transfer */
static void
OutcomeArgs(AigwTransfer *t, Datum *values)
{
	values[0] = UUIDPGetDatum(&t->attempt_id);
	values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(t->outcome_json));
}

/*
 * Records every finished transfer in one subtransaction; returns false, with
 * nothing recorded, when one of them failed (a transient error is raised).
 * One subtransaction for the batch, not one per outcome: a row that two
 * outcomes change (a wallet account every request of one user settles
 * against) would otherwise be locked and updated by one subtransaction and
 * locked again by the next, and PostgreSQL records such locks of two
 * subtransactions of one transaction as a MultiXact, which every later read
 * of the row's versions has to look up.
 */
static bool
RecordAllOutcomes(FinishWork *w, Oid *argtypes)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		dlist_iter	it;

		dlist_foreach(it, &finished)
		{
			Datum		values[2];

			OutcomeArgs(dlist_container(AigwTransfer, node, it.cur), values);
			if (SPI_execute_plan(AigwKeepPlan(&finish_plan, "SELECT aigw.finish_attempt($1, $2)", 2, argtypes),
								 values, NULL, false, 1) != SPI_OK_SELECT)
				elog(ERROR, "aigw.finish_attempt failed");
			w->outcomes = CollectJsonbRows(w->outcomes, w->batch);
		}
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		FreeErrorData(RollBackOutcomes(cxt, owner));
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return ok;
}

/*
 * The outcome transaction: every finished transfer recorded, all in one
 * subtransaction, or when one fails each in its own (RecordOutcome)
 */
static void
FinishTransaction(void *arg)
{
	FinishWork *w = arg;
	dlist_iter	it;
	Oid			argtypes[2] = {UUIDOID, JSONBOID};

	w->outcomes = NIL;
	MemoryContextReset(w->batch);
	BeginWork("aigw: record outcomes");
	LockOutcomeAccounts();
	if (!RecordAllOutcomes(w, argtypes))
	{
		w->outcomes = NIL;
		dlist_foreach(it, &finished)
		{
			Datum		values[2];

			OutcomeArgs(dlist_container(AigwTransfer, node, it.cur), values);
			w->outcomes = RecordOutcome(w->outcomes, argtypes, values, w->batch);
		}
	}
	NoteEndedTasks(w->outcomes);
	if (nended <= AIGW_COMMIT_BEFORE_FLUSH_MAX && EndedTaskAwaited())
		flush_after_wake = AigwCommitBeforeFlush();
	EndWork();
}

/*
 * Records every finished transfer in one transaction, then delivers outcomes.
 * If every try hits a deadlock the transfers stay finished and are recorded
 * on the next pass.
 */
static void
FinishBatch(void)
{
	FinishWork	w;
	dlist_mutable_iter it;
	int64		released;

	if (dlist_is_empty(&finished))
		return;
	w.outcomes = NIL;
	w.batch = AllocSetContextCreate(TopMemoryContext, "aigw finish", ALLOCSET_DEFAULT_SIZES);
	if (!RunTransaction(FinishTransaction, &w))
	{
		MemoryContextDelete(w.batch);
		return;
	}
	dlist_foreach_modify(it, &finished)
	{
		AigwTransfer *t = dlist_container(AigwTransfer, node, it.cur);

		FreeTransfer(t);
	}
	/* the concurrency the outcomes gave back at the commit counts when tasks wait for it */
	released = AigwRateLimitTakeLeasesReleased();
	if (pg_atomic_read_u32(&AigwShmem->slot_waiters) != 0)
		slots_freed += released;
	DeliverOutcomes(w.outcomes);
	MemoryContextDelete(w.batch);
}

typedef struct CancelledWork
{
	pg_uuid_t  *ids;			/* in: the in-flight tasks; out: the cancelled ones */
	int			n;
} CancelledWork;

/* Which of this worker's in-flight tasks are cancelled, from the database */
static void
CancelledTransaction(void *arg)
{
	CancelledWork *w = arg;
	Oid			argtypes[1] = {UUIDARRAYOID};
	Datum		values[1];
	Datum	   *elems = palloc(sizeof(Datum) * Max(w->n, 1));
	int			found = 0;

	for (int i = 0; i < w->n; i++)
		elems[i] = UUIDPGetDatum(&w->ids[i]);
	values[0] = PointerGetDatum(construct_array(elems, w->n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	BeginWork("aigw: read cancelled tasks");
	if (SPI_execute_plan(AigwKeepPlan(&cancelled_plan,
									  "SELECT t.id FROM unnest($1) u(id) "
									  "JOIN aigw.gateway_tasks t ON t.id = u.id WHERE t.status = 'cancelled'",
									  1, argtypes),
						 values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the cancelled tasks");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			w->ids[found++] = *DatumGetUUIDP(d);
	}
	w->n = found;
	EndWork();
}

/*
 * Ends a cancelled task's call at once: the connection to the provider is
 * dropped (or the simulation's timer stopped), and the outcome, an error
 * "cancelled" with what streamed so far, goes through aigw.finish_attempt,
 * which keeps it as the attempt's late outcome and frees the client's slot.
 */
static void
AbortTransfer(AigwTransfer *t)
{
	if (t->easy)
	{
		curl_multi_remove_handle(multi, t->easy);
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
	}
	t->due = 0;
	t->pending = NIL;
	t->paused = false;
	elog(DEBUG1, "aigw: task %s cancelled during its call", t->task_id_str);
	AigwTransferFail(t, "cancelled", "the task was cancelled during the call", 0, false);
}

/* Ends the calls of in-flight tasks cancelled since the last look */
static void
AbortCancelledCalls(void)
{
	pg_uuid_t	ids[AIGW_CANCEL_RING];
	pg_uuid_t  *cancelled = ids;
	bool		overflow = false;
	int			n;
	dlist_mutable_iter it;

	if (AigwCancelSequence() == cancels_seen)
		return;
	n = AigwCancelsSince(&cancels_seen, ids, &overflow);
	/* each cancelled call gave its concurrency slot back at the cancel's commit */
	if (pg_atomic_read_u32(&AigwShmem->slot_waiters) != 0)
		slots_freed += Max(n, 1);
	if (dlist_is_empty(&inflight))
		return;
	if (overflow)
	{
		/* more cancels than the ring holds since the last look: ask the database */
		CancelledWork w;
		dlist_iter	iter;

		w.ids = palloc(sizeof(pg_uuid_t) * ninflight);
		w.n = 0;
		dlist_foreach(iter, &inflight)
		{
			AigwTransfer *t = dlist_container(AigwTransfer, node, iter.cur);

			w.ids[w.n++] = t->task_id;
		}
		if (!RunTransaction(CancelledTransaction, &w))
			return;
		cancelled = w.ids;
		n = w.n;
	}
	dlist_foreach_modify(it, &inflight)
	{
		AigwTransfer *t = dlist_container(AigwTransfer, node, it.cur);

		for (int i = 0; i < n; i++)
		{
			if (memcmp(&t->task_id, &cancelled[i], sizeof(pg_uuid_t)) == 0)
			{
				AbortTransfer(t);
				break;
			}
		}
	}
}

/*
 * Refreshes heartbeat_at of this worker's tasks, and claims the tasks it
 * started from a hand-off (locked_by 'handoff' becomes this worker).
 */
static void
Heartbeat(void)
{
	Oid			argtypes[2] = {TEXTOID, UUIDARRAYOID};
	Datum		values[2];
	Datum	   *unclaimed = palloc(sizeof(Datum) * (ninflight + 1));	/* both lists */
	int			n = 0;
	dlist_iter	it;
	dlist_head *lists[2] = {&inflight, &finished};

	/* finished transfers not recorded yet still hold their tasks */
	for (int l = 0; l < 2; l++)
		dlist_foreach(it, lists[l])
		{
			AigwTransfer *t = dlist_container(AigwTransfer, node, it.cur);

			if (t->unclaimed)
				unclaimed[n++] = UUIDPGetDatum(&t->task_id);
			t->unclaimed = false;
		}
	values[0] = CStringGetTextDatum(worker_id);
	BeginWork("aigw: heartbeat");
	SPI_execute_plan(AigwKeepPlan(&heartbeat_plan,
								  "UPDATE aigw.gateway_tasks SET heartbeat_at = now() "
								  "WHERE locked_by = $1 AND status IN ('leased', 'running', 'polling')",
								  1, argtypes),
					 values, NULL, false, 0);
	if (n > 0)
	{
		values[1] = PointerGetDatum(construct_array(unclaimed, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
		SPI_execute_plan(AigwKeepPlan(&claim_plan,
									  "UPDATE aigw.gateway_tasks SET heartbeat_at = now(), locked_by = $1 "
									  "WHERE id = ANY ($2) AND locked_by = 'handoff'",
									  2, argtypes),
						 values, NULL, false, 0);
	}
	EndWork();
	last_heartbeat = GetCurrentTimestamp();
}

/* Hands ready sockets and expired timers to curl, and collects completed transfers */
static void
DriveCurl(bool sockets_ready)
{
	int			running;
	CURLMsg    *msg;
	int			left;

	if (sockets_ready)
	{
		struct epoll_event evs[MAX_EPOLL_EVENTS];
		int			n = epoll_wait(epfd, evs, MAX_EPOLL_EVENTS, 0);

		for (int i = 0; i < n; i++)
		{
			int			flags = 0;

			if (evs[i].events & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (evs[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(multi, evs[i].data.fd, flags, &running);
		}
	}
	if (curl_timeout_ms >= 0 &&
		TimestampDifferenceExceeds(curl_timer_set_at, GetCurrentTimestamp(), (int) curl_timeout_ms))
	{
		curl_timeout_ms = -1;
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		AigwTransfer *t = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
		if (t && !t->finished)
			t->provider->done(t, msg->data.result);
	}
}

/* Fires due timers of timer-driven providers (simulation) */
static void
FireTimers(void)
{
	dlist_mutable_iter it;
	TimestampTz now = GetCurrentTimestamp();

	dlist_foreach_modify(it, &inflight)
	{
		AigwTransfer *t = dlist_container(AigwTransfer, node, it.cur);

		if (t->due != 0 && t->due <= now && t->provider->timer)
		{
			t->due = 0;
			t->provider->timer(t);
		}
	}
}

/* Milliseconds until the next thing this worker must do by itself */
static long
NextTimeout(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		timeout = HEARTBEAT_MS;
	dlist_iter	it;

	if ((scan_wanted || (slots_freed > 0 && slot_scan_at <= now) || AigwHandOffPending()) &&
		ninflight < aigw_worker_max_inflight)
		return 0;
	if (AigwCancelSequence() != cancels_seen)
		return 0;

	if (curl_timeout_ms >= 0)
	{
		long		left = (long) curl_timeout_ms -
			TimestampDifferenceMilliseconds(curl_timer_set_at, now);

		timeout = Min(timeout, Max(left, 0));
	}
	dlist_foreach(it, &inflight)
	{
		AigwTransfer *t = dlist_container(AigwTransfer, node, it.cur);

		if (t->due != 0)
			timeout = Min(timeout, TimestampDifferenceMilliseconds(now, t->due));
	}
	if (next_queued_at != 0)
		timeout = Min(timeout, TimestampDifferenceMilliseconds(now, next_queued_at));
	if (slots_freed > 0 && slot_scan_at > now)
		timeout = Min(timeout, TimestampDifferenceMilliseconds(now, slot_scan_at) + 1);
	if (!dlist_is_empty(&inflight) || !dlist_is_empty(&finished))
		timeout = Min(timeout, HEARTBEAT_MS - TimestampDifferenceMilliseconds(last_heartbeat, now));
	return Max(timeout, 0);
}

/* True when the aigw extension is installed here */
static bool
ExtensionReady(void)
{
	bool		ready;

	StartTransactionCommand();
	ready = OidIsValid(get_extension_oid("aigw", true));
	CommitTransactionCommand();
	MemoryContextSwitchTo(loop_cxt);
	return ready;
}

/* Releases the worker's slot at exit */
static void
WorkerExit(int code, Datum arg)
{
	AigwReleaseWorkerSlot(DatumGetInt32(arg));
}

/* Main loop of a task worker */
void
AigwTaskWorkerMain(Datum main_arg)
{
	WaitEventSet *set;
	uint32		wait_event;

	worker_index = DatumGetInt32(main_arg);
	AigwWorkerConnect();
	snprintf(worker_id, sizeof(worker_id), "worker-%d-%d", worker_index, MyProcPid);
	pgstat_report_appname(worker_id);
	AigwClaimWorkerSlot(worker_index);
	before_shmem_exit(WorkerExit, Int32GetDatum(worker_index));

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		elog(FATAL, "could not initialise libcurl");
	multi = curl_multi_init();
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (multi == NULL || epfd < 0)
		elog(FATAL, "could not create the curl multi handle: %m");
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, CurlSocketCallback);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, CurlTimerCallback);
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);

	wait_event = WaitEventExtensionNew("AigwTaskWorkerMain");
	set = CreateWaitEventSet(NULL, 3);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(set, WL_SOCKET_READABLE, epfd, NULL, NULL);
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "aigw worker loop", ALLOCSET_DEFAULT_SIZES);
	RegisterXactCallback(EndedTasksCallback, NULL);

	while (!ExtensionReady())
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 aigw_launcher_naptime_ms, wait_event);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	elog(LOG, "aigw task worker %d started", worker_index);
	cancels_seen = AigwCancelSequence();
	last_heartbeat = GetCurrentTimestamp();

	for (;;)
	{
		WaitEvent	events[4];
		int			nev;
		bool		sockets_ready = false;
		bool		latch_set = false;

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (next_queued_at != 0 && next_queued_at <= GetCurrentTimestamp())
			scan_wanted = true;
		if (AigwScanRequested(worker_index))
			scan_wanted = true;
		/* handed-off tasks first (leased by id), then the queue when asked */
		while (ninflight < aigw_worker_max_inflight)
		{
			int			want = Min(LEASE_BATCH, aigw_worker_max_inflight - ninflight);
			AigwHandoffEntry entries[LEASE_BATCH];
			pg_uuid_t	queued[LEASE_BATCH];
			pg_uuid_t	started[LEASE_BATCH];
			int			nqueued = 0;
			int			nstarted = 0;
			bool		overflow = false;
			Jsonb	   *payloads[LEASE_BATCH];
			int			n = AigwTakeHandedOff(entries, want, &overflow);

			if (overflow)
				scan_wanted = true;
			/* every slot given back at once, whatever happens to the calls */
			for (int i = 0; i < n; i++)
				payloads[i] = entries[i].payload >= 0 ? AigwTakePayload(entries[i].payload) : NULL;
			for (int i = 0; i < n; i++)
			{
				if (entries[i].started && StartHandedOff(&entries[i], payloads[i]))
					continue;
				if (entries[i].started)
					started[nstarted++] = entries[i].id;
				else
					queued[nqueued++] = entries[i].id;
			}
			if (nstarted > 0)
				CallStarted(started, nstarted);
			if (nqueued > 0)
				(void) LeaseAndStart(want, queued, nqueued, false);
			if (n == 0 && slots_freed > 0 && slot_scan_at <= GetCurrentTimestamp())
			{
				/*
				 * as many tasks waiting for a slot as this worker's outcomes
				 * freed; the flag is cleared first, so that a task put back
				 * meanwhile sets it again, and set again when more may wait.
				 * Finding fewer, it looks twice more, 20 ms apart, for the
				 * slots left: a waiting task another worker held (SKIP
				 * LOCKED) may have been put back since.
				 */
				int			k = (int) Min(want, slots_freed);
				int			got;

				pg_atomic_write_u32(&AigwShmem->slot_waiters, 0);
				got = LeaseAndStart(k, NULL, 0, true);
				slots_freed -= got;
				slot_scan_at = 0;
				if (got == k)
				{
					slot_scan_tries = 0;
					pg_atomic_write_u32(&AigwShmem->slot_waiters, 1);
				}
				else if (++slot_scan_tries < 3)
					slot_scan_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 20);
				else
				{
					slots_freed = 0;
					slot_scan_tries = 0;
				}
			}
			else if (n == 0)
			{
				if (!scan_wanted)
					break;
				scan_wanted = false;
				if (LeaseAndStart(want, NULL, 0, false) == want)
					scan_wanted = true;	/* more may be waiting */
			}
			FireTimers();
			FinishBatch();
		}
		/* full, with handed-off tasks still waiting: pass them to a worker with room */
		if (ninflight >= aigw_worker_max_inflight && AigwHandOffPending())
			AigwWakeAnotherWorker(worker_index);

		DriveCurl(false);
		FireTimers();
		FinishBatch();
		FlushPendingChunks();
		/* heartbeats count from when this worker last held no task */
		if (dlist_is_empty(&inflight) && dlist_is_empty(&finished))
			last_heartbeat = GetCurrentTimestamp();
		else if (TimestampDifferenceExceeds(last_heartbeat, GetCurrentTimestamp(), HEARTBEAT_MS))
			Heartbeat();

		nev = WaitEventSetWait(set, NextTimeout(), events, lengthof(events), wait_event);
		for (int i = 0; i < nev; i++)
		{
			if (events[i].events & WL_LATCH_SET)
				latch_set = true;
			if (events[i].events & WL_SOCKET_READABLE)
				sockets_ready = true;
		}
		if (latch_set)
			ResetLatch(MyLatch);
		/* every pass: a wait elsewhere (a lock, a retry) may have used up the latch */
		AbortCancelledCalls();
		if (sockets_ready)
			DriveCurl(true);
	}
}
