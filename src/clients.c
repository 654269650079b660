/*
 * clients.c: the live state of each provider client (platform/model) in
 * shared memory — running count, limiter ratio, last assignment — which the
 * router reads on every choice and the workers change on every start and
 * finish.
 *
 * Kept in a table, these counts made one hot row per client that every
 * request updated twice, inside the per-task subtransactions of the lease and
 * outcome batches: each superseded version got a MultiXact xmax, and every
 * reader walked the chain. Here they change under a lock for a few
 * instructions; the reaper copies them to aigw.runtime_client_states once per
 * pass, the durable record the console reads. After a restart the counts
 * start from zero, as the tasks that were running are recovered anyway.
 */
#include "aigw.h"
#include "runtime.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#define CLIENT_ID_LEN 192
#define CLIENT_NAME_LEN 64

typedef struct ClientState
{
	char		client_id[CLIENT_ID_LEN];	/* hash key: platform_key/model_name */
	pg_uuid_t	platform_id;
	char		provider[CLIENT_NAME_LEN];
	char		method[CLIENT_NAME_LEN];
	int32		running;
	double		limiter_ratio;
	TimestampTz last_assigned_at;
	TimestampTz updated_at;
} ClientState;

typedef struct ClientShared
{
	LWLock	   *lock;
	bool		full_reported;
} ClientShared;

static int	aigw_max_clients = 4096;
static ClientShared *Clients = NULL;
static HTAB *ClientHash = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* shmem_request_hook: the table of clients and its lock */
static void
ClientsShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(MAXALIGN(sizeof(ClientShared)),
									hash_estimate_size(aigw_max_clients, sizeof(ClientState))));
	RequestNamedLWLockTranche("aigw_clients", 1);
}

/* shmem_startup_hook: create or attach */
static void
ClientsShmemStartup(void)
{
	bool		found;
	HASHCTL		ctl;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	Clients = ShmemInitStruct("aigw clients", sizeof(ClientShared), &found);
	if (!found)
	{
		Clients->lock = &(GetNamedLWLockTranche("aigw_clients"))->lock;
		Clients->full_reported = false;
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = CLIENT_ID_LEN;
	ctl.entrysize = sizeof(ClientState);
	ClientHash = ShmemInitHash("aigw client states", aigw_max_clients, aigw_max_clients, &ctl,
							   HASH_ELEM | HASH_STRINGS);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * A change made by this backend in its open transaction: undone if the
 * (sub)transaction that made it aborts, so a rolled-back lease or outcome
 * leaves the counts as they were.
 */
typedef struct ClientChange
{
	char		client_id[CLIENT_ID_LEN];
	int			delta;
	SubTransactionId subid;
} ClientChange;

static List *Changes = NIL;		/* of ClientChange, in TopMemoryContext */
static bool ChangeCallbacksRegistered = false;

/* Adds delta to a client's running count (never below zero); caller holds no lock */
static void
ApplyDelta(const char *key, int delta)
{
	ClientState *c;

	LWLockAcquire(Clients->lock, LW_EXCLUSIVE);
	c = hash_search(ClientHash, key, HASH_FIND, NULL);
	if (c != NULL)
		c->running = Max(c->running + delta, 0);
	LWLockRelease(Clients->lock);
}

/* Undoes the changes of subtransaction subid (every change when subid is invalid) */
static void
UndoChanges(SubTransactionId subid)
{
	List	   *keep = NIL;
	ListCell   *lc;

	foreach(lc, Changes)
	{
		ClientChange *ch = lfirst(lc);

		if (subid == InvalidSubTransactionId || ch->subid == subid)
		{
			ApplyDelta(ch->client_id, -ch->delta);
			pfree(ch);
		}
		else
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			keep = lappend(keep, ch);
			MemoryContextSwitchTo(old);
		}
	}
	list_free(Changes);
	Changes = keep;
}

/* Transaction callback: forget the changes at commit, undo them at abort */
static void
ClientsXactCallback(XactEvent event, void *arg)
{
	if (Changes == NIL)
		return;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		UndoChanges(InvalidSubTransactionId);
	else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
			 event == XACT_EVENT_PREPARE)
	{
		list_free_deep(Changes);
		Changes = NIL;
	}
}

/* Subtransaction callback: a committed subtransaction's changes belong to its parent */
static void
ClientsSubXactCallback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (Changes == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		UndoChanges(mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		foreach(lc, Changes)
		{
			ClientChange *ch = lfirst(lc);

			if (ch->subid == mySubid)
				ch->subid = parentSubid;
		}
}

/* Remembers a change made in the current (sub)transaction */
static void
RememberChange(const char *key, int delta)
{
	MemoryContext old;
	ClientChange *ch;

	if (!ChangeCallbacksRegistered)
	{
		RegisterXactCallback(ClientsXactCallback, NULL);
		RegisterSubXactCallback(ClientsSubXactCallback, NULL);
		ChangeCallbacksRegistered = true;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	ch = palloc(sizeof(ClientChange));
	strlcpy(ch->client_id, key, CLIENT_ID_LEN);
	ch->delta = delta;
	ch->subid = GetCurrentSubTransactionId();
	Changes = lappend(Changes, ch);
	MemoryContextSwitchTo(old);
}

/* Defines aigw.max_clients and installs the hooks */
void
AigwClientsInit(void)
{
	DefineCustomIntVariable("aigw.max_clients",
							"Maximum number of provider clients (platform/model pairs) whose live state is kept.",
							NULL, &aigw_max_clients, 4096, 16, 1000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ClientsShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ClientsShmemStartup;
}

/* Errors out unless the table exists (the library must be preloaded) */
static void
RequireClients(void)
{
	if (Clients == NULL || ClientHash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("aigw must be loaded through shared_preload_libraries")));
}

/* The client id argument as a hash key; over-long ids are an error */
static void
ClientKey(text *arg, char *key)
{
	char	   *s = text_to_cstring(arg);

	if (strlen(s) >= CLIENT_ID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("client id \"%s\" is longer than %d bytes", s, CLIENT_ID_LEN - 1)));
	memset(key, 0, CLIENT_ID_LEN);
	strlcpy(key, s, CLIENT_ID_LEN);
}

PG_FUNCTION_INFO_V1(aigw_client_assigned);

/*
 * aigw.client_assigned(client, platform, provider, method, limiter_ratio):
 * a task was started on the client. Returns false when the table is full
 * (the choice stands; the client's counts are not kept).
 */
Datum
aigw_client_assigned(PG_FUNCTION_ARGS)
{
	char		key[CLIENT_ID_LEN];
	ClientState *c;
	bool		found;
	bool		report = false;

	RequireClients();
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	ClientKey(PG_GETARG_TEXT_PP(0), key);
	LWLockAcquire(Clients->lock, LW_EXCLUSIVE);
	c = hash_search(ClientHash, key, HASH_ENTER_NULL, &found);
	if (c == NULL)
	{
		report = !Clients->full_reported;
		Clients->full_reported = true;
		LWLockRelease(Clients->lock);
		if (report)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("aigw keeps the live state of at most %d clients", aigw_max_clients),
					 errhint("Raise aigw.max_clients.")));
		PG_RETURN_BOOL(false);
	}
	if (!found)
	{
		memset(&c->platform_id, 0, sizeof(c->platform_id));
		c->provider[0] = c->method[0] = '\0';
		c->running = 0;
		c->limiter_ratio = 0;
	}
	if (!PG_ARGISNULL(1))
		memcpy(&c->platform_id, PG_GETARG_UUID_P(1), sizeof(pg_uuid_t));
	if (!PG_ARGISNULL(2))
		text_to_cstring_buffer(PG_GETARG_TEXT_PP(2), c->provider, CLIENT_NAME_LEN);
	if (!PG_ARGISNULL(3))
		text_to_cstring_buffer(PG_GETARG_TEXT_PP(3), c->method, CLIENT_NAME_LEN);
	if (!PG_ARGISNULL(4))
		c->limiter_ratio = DatumGetFloat8(DirectFunctionCall1(numeric_float8, PG_GETARG_DATUM(4)));
	c->running++;
	c->last_assigned_at = c->updated_at = GetCurrentTimestamp();
	LWLockRelease(Clients->lock);
	RememberChange(key, 1);
	PG_RETURN_BOOL(true);
}

PG_FUNCTION_INFO_V1(aigw_client_released);

/* aigw.client_released(client): a task on the client ended (never below zero) */
Datum
aigw_client_released(PG_FUNCTION_ARGS)
{
	char		key[CLIENT_ID_LEN];
	ClientState *c;

	RequireClients();
	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	ClientKey(PG_GETARG_TEXT_PP(0), key);
	LWLockAcquire(Clients->lock, LW_EXCLUSIVE);
	c = hash_search(ClientHash, key, HASH_FIND, NULL);
	if (c != NULL && c->running > 0)
	{
		c->running--;
		c->updated_at = GetCurrentTimestamp();
	}
	else
		c = NULL;
	LWLockRelease(Clients->lock);
	/* only a decrement that happened is undone */
	if (c != NULL)
		RememberChange(key, -1);
	PG_RETURN_VOID();
}

/* The SQL row of a client state */
static void
ClientValues(ClientState *c, Datum *values, bool *nulls)
{
	static const pg_uuid_t zero;

	memset(nulls, 0, sizeof(bool) * 7);
	values[0] = CStringGetTextDatum(c->client_id);
	if (memcmp(&c->platform_id, &zero, sizeof(zero)) == 0)
		nulls[1] = true;
	else
	{
		pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

		memcpy(u, &c->platform_id, sizeof(pg_uuid_t));
		values[1] = UUIDPGetDatum(u);
	}
	values[2] = CStringGetTextDatum(c->provider);
	values[3] = CStringGetTextDatum(c->method);
	values[4] = Int32GetDatum(c->running);
	values[5] = DirectFunctionCall1(float8_numeric, Float8GetDatum(c->limiter_ratio));
	if (c->last_assigned_at == 0)
		nulls[6] = true;
	else
		values[6] = TimestampTzGetDatum(c->last_assigned_at);
}

PG_FUNCTION_INFO_V1(aigw_client_state);

/*
 * aigw.client_state(client): the client's running count, limiter ratio and
 * last assignment, or NULL when no task has started on it since the start.
 */
Datum
aigw_client_state(PG_FUNCTION_ARGS)
{
	char		key[CLIENT_ID_LEN];
	ClientState *c;
	ClientState copy;
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7];
	Datum		out[3];
	bool		outnulls[3];

	RequireClients();
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	ClientKey(PG_GETARG_TEXT_PP(0), key);
	LWLockAcquire(Clients->lock, LW_SHARED);
	c = hash_search(ClientHash, key, HASH_FIND, NULL);
	if (c != NULL)
		copy = *c;
	LWLockRelease(Clients->lock);
	if (c == NULL)
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "aigw.client_state must return a record");
	ClientValues(&copy, values, nulls);
	out[0] = values[4];
	out[1] = values[5];
	out[2] = values[6];
	outnulls[0] = nulls[4];
	outnulls[1] = nulls[5];
	outnulls[2] = nulls[6];
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), out, outnulls)));
}

PG_FUNCTION_INFO_V1(aigw_client_states);

/* aigw.client_states(): every client's live state */
Datum
aigw_client_states(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	ClientState *c;
	ClientState *copies;
	int			n = 0,
				cap;

	RequireClients();
	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(Clients->lock, LW_SHARED);
	cap = Max(hash_get_num_entries(ClientHash), 1);
	copies = palloc(sizeof(ClientState) * cap);
	hash_seq_init(&seq, ClientHash);
	while ((c = hash_seq_search(&seq)) != NULL)
	{
		if (n < cap)
			copies[n++] = *c;
	}
	LWLockRelease(Clients->lock);
	for (int i = 0; i < n; i++)
	{
		Datum		values[7];
		bool		nulls[7];

		ClientValues(&copies[i], values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
