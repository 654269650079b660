/*
 * ratelimit.c: rate-limit windows and concurrency leases.
 *
 * Counters live in a fixed-size shared hash table keyed by (scope type,
 * scope key, metric), partitioned into RL_PARTITIONS stripes, each guarded by
 * its own LWLock.  An admission locks the stripes of all its requirements in
 * ascending order (no deadlock), checks every requirement, and applies all of
 * them or none.  Each change is also logged per backend so that a
 * transaction (or subtransaction) that aborts gives back what it took.
 *
 * gateway_rate_limit_counters is written by aigw.ratelimit_flush() and
 * gateway_concurrency_leases in the admitting transaction; after a restart
 * the first user of the table reloads both into shared memory, and recounts
 * the queue gauges from the queued tasks.
 * The SQL interface is in ratelimit_sql.c, the names of scopes and metrics in
 * ratelimit_names.c, the lease rows' writes in ratelimit_leases.c.
 */
#include "aigw.h"
#include "ratelimit.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/uuid.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* Number of lock stripes; a power of two, as dynahash requires */
#define RL_PARTITIONS 64
#define RL_TRANCHE "aigw_ratelimit"
/* Seconds between two purges of old counter rows */
#define RL_PURGE_EVERY_S 60

int			aigw_ratelimit_slots = 16384;
int			aigw_ratelimit_flush_interval_ms = 1000;
int			aigw_ratelimit_counter_retention_s = 7 * 86400;
int			aigw_ratelimit_queue_recount_interval_s = 60;

/*
 * The tasks that hold a queue slot: their queue admission is in
 * normalized_request.queueAdmission until they leave the queue, so a recount
 * equals what the later releases subtract.
 */
static const char *const rl_queue_holders_sql =
"SELECT g->>'scopeType', g->>'scopeKey', sum((g->>'amount')::int8)::int8 "
"FROM aigw.gateway_tasks t, "
"     jsonb_array_elements(t.normalized_request->'queueAdmission'->'grants') g "
"WHERE t.status IN ('queued', 'leased', 'running', 'polling', 'failed_retryable') "
"  AND t.normalized_request->'queueAdmission'->>'admitted' = 'true' "
"  AND g->>'metric' = 'queue_size' "
"GROUP BY 1, 2";

/* Hash key: fixed size and zero-padded, so it can be hashed as bytes */
typedef struct RlKey
{
	uint8		scope_type;
	uint8		metric;
	char		scope_key[AIGW_RL_KEY_MAX + 1];
} RlKey;

/* One counter: a window (windowed metrics) or a gauge (concurrent, queue_size) */
typedef struct RlEntry
{
	RlKey		key;
	bool		dirty;			/* changed since the last flush */
	int32		window_seconds;
	TimestampTz window_start;
	int64		limit;			/* last limit asked for; -1 unknown */
	int64		used;
	int64		reserved;
} RlEntry;

/* State shared by all backends besides the hash table */
typedef struct RlShared
{
	pg_atomic_uint32 loaded;	/* durable record reloaded since startup */
	pg_atomic_uint64 last_purge;	/* when old counter rows were last purged */
	pg_atomic_uint64 last_recount;	/* when queue gauges were last recounted */
	pg_atomic_uint64 queue_epoch;	/* bumped before every queue gauge change */
	pg_atomic_uint32 queue_pending; /* transactions with queue changes not yet ended */
} RlShared;

/* One logged change, undone if its (sub)transaction aborts */
typedef struct RlUndo
{
	RlKey		key;
	uint32		hash;
	int			level;
	TimestampTz window_start;
	int64		d_used;
	int64		d_reserved;
} RlUndo;

/* A copy of an entry taken under the locks */
typedef struct RlSnapshot
{
	RlKey		key;
	int32		window_seconds;
	TimestampTz window_start;
	int64		limit;
	int64		used;
	int64		reserved;
} RlSnapshot;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static RlShared *rl_shared = NULL;
static HTAB *rl_hash = NULL;
static LWLockPadded *rl_locks = NULL;

/* A growable list of changes of the current transaction */
typedef struct RlLog
{
	RlUndo	   *items;
	int			n;
	int			cap;
} RlLog;

/* Admissions applied in this transaction, reverted if it aborts */
static RlLog rl_undo = {NULL, 0, 0};
/* Releases made in this transaction, applied when it commits */
static RlLog rl_defer = {NULL, 0, 0};
/* This transaction counts in rl_shared->queue_pending */
static bool rl_queue_pending = false;

static SPIPlanPtr rl_plan_counter_upsert = NULL;

/* ---- shared memory ---- */

/* Bytes of shared memory the table needs */
static Size
RlShmemSize(void)
{
	return add_size(MAXALIGN(sizeof(RlShared)),
					hash_estimate_size(aigw_ratelimit_slots, sizeof(RlEntry)));
}

/* shmem_request_hook: reserves the table and the stripe locks */
static void
RlShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(RlShmemSize());
	RequestNamedLWLockTranche(RL_TRANCHE, RL_PARTITIONS);
}

/* shmem_startup_hook: creates or attaches to the table */
static void
RlShmemStartup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	rl_shared = ShmemInitStruct("aigw ratelimit", sizeof(RlShared), &found);
	if (!found)
	{
		pg_atomic_init_u32(&rl_shared->loaded, 0);
		pg_atomic_init_u64(&rl_shared->last_purge, 0);
		pg_atomic_init_u64(&rl_shared->last_recount, 0);
		pg_atomic_init_u64(&rl_shared->queue_epoch, 0);
		pg_atomic_init_u32(&rl_shared->queue_pending, 0);
	}
	rl_locks = GetNamedLWLockTranche(RL_TRANCHE);

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(RlKey);
	info.entrysize = sizeof(RlEntry);
	info.num_partitions = RL_PARTITIONS;
	rl_hash = ShmemInitHash("aigw ratelimit windows",
							aigw_ratelimit_slots, aigw_ratelimit_slots, &info,
							HASH_ELEM | HASH_BLOBS | HASH_PARTITION | HASH_FIXED_SIZE);
	LWLockRelease(AddinShmemInitLock);
}

/* Errors out unless the library was preloaded */
static void
RlRequireShmem(void)
{
	if (rl_hash == NULL || rl_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("aigw rate limits need aigw in shared_preload_libraries")));
}

/* Lock of a stripe */
static inline LWLock *
RlPartitionLock(uint32 hash)
{
	return &rl_locks[hash & (RL_PARTITIONS - 1)].lock;
}

/* Takes every stripe lock in order */
static void
RlLockAll(LWLockMode mode)
{
	for (int i = 0; i < RL_PARTITIONS; i++)
		LWLockAcquire(&rl_locks[i].lock, mode);
}

/* Releases every stripe lock */
static void
RlUnlockAll(void)
{
	for (int i = RL_PARTITIONS - 1; i >= 0; i--)
		LWLockRelease(&rl_locks[i].lock);
}

/* ---- keys and windows ---- */

/* Fills a key, rejecting keys that do not fit */
static void
RlMakeKey(RlKey *key, AigwRlScope scope, const char *scope_key, AigwRlMetric metric)
{
	size_t		len = strlen(scope_key);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit scope key must not be empty")));
	if (len > AIGW_RL_KEY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit scope key is longer than %d bytes", AIGW_RL_KEY_MAX)));
	memset(key, 0, sizeof(RlKey));
	key->scope_type = (uint8) scope;
	key->metric = (uint8) metric;
	memcpy(key->scope_key, scope_key, len);
}

/* Start of the fixed window of the given length that contains now */
static inline TimestampTz
RlWindowStart(TimestampTz now, int32 window_seconds)
{
	int64		w = (int64) window_seconds * USECS_PER_SEC;
	int64		r = now % w;

	if (r < 0)
		r += w;
	return now - r;
}

/* Moves a windowed entry to the window containing now, dropping an old window */
static inline void
RlRoll(RlEntry *e, int32 window_seconds, TimestampTz now)
{
	TimestampTz ws = RlWindowStart(now, window_seconds);

	if (e->window_seconds == window_seconds && e->window_start >= ws)
		return;
	e->window_seconds = window_seconds;
	e->window_start = ws;
	e->used = 0;
	e->reserved = 0;
	e->dirty = true;
}

/* ---- transaction logs ---- */

/*
 * Announces a queue gauge change before it is made: the recount corrects
 * gauges only while no such change is in flight (see AigwRateLimitRecountQueues).
 */
static void
RlQueueChangeBegin(void)
{
	pg_atomic_fetch_add_u64(&rl_shared->queue_epoch, 1);
	if (!rl_queue_pending)
	{
		pg_atomic_fetch_add_u32(&rl_shared->queue_pending, 1);
		rl_queue_pending = true;
	}
}

/* The transaction's queue changes are applied or reverted */
static void
RlQueueChangeEnd(void)
{
	if (!rl_queue_pending)
		return;
	rl_queue_pending = false;
	if (rl_shared != NULL)
		pg_atomic_fetch_sub_u32(&rl_shared->queue_pending, 1);
}

/* Reserves room for n more records before any shared change is made */
static void
RlLogReserve(RlLog *log, int n)
{
	if (log->n + n <= log->cap)
		return;
	if (log->items == NULL)
	{
		log->cap = Max(64, n);
		log->items = MemoryContextAlloc(TopMemoryContext, sizeof(RlUndo) * log->cap);
	}
	else
	{
		log->cap = Max(log->cap * 2, log->n + n);
		log->items = repalloc(log->items, sizeof(RlUndo) * log->cap);
	}
}

/* Logs a change; folds it into a recent record of the same counter */
static void
RlLogAdd(RlLog *log, const RlKey *key, uint32 hash, TimestampTz ws, int64 d_used, int64 d_reserved)
{
	int			level = GetCurrentTransactionNestLevel();
	int			stop = Max(0, log->n - 16);
	RlUndo	   *u;

	if (d_used == 0 && d_reserved == 0)
		return;
	for (int i = log->n - 1; i >= stop; i--)
	{
		u = &log->items[i];
		if (u->hash == hash && u->level == level && u->window_start == ws &&
			memcmp(&u->key, key, sizeof(RlKey)) == 0)
		{
			u->d_used += d_used;
			u->d_reserved += d_reserved;
			return;
		}
	}
	Assert(log->n < log->cap);
	u = &log->items[log->n++];
	u->key = *key;
	u->hash = hash;
	u->level = level;
	u->window_start = ws;
	u->d_used = d_used;
	u->d_reserved = d_reserved;
}

/*
 * Adds a logged change to its counter if the window is still the entry's
 * window, clamping at zero; sign is +1 to apply, -1 to revert.
 */
static void
RlLogApplyOne(const RlUndo *u, int sign)
{
	LWLock	   *lock = RlPartitionLock(u->hash);
	RlEntry    *e;

	LWLockAcquire(lock, LW_EXCLUSIVE);
	e = hash_search_with_hash_value(rl_hash, &u->key, u->hash, HASH_FIND, NULL);
	if (e != NULL &&
		(!AigwRlMetricIsWindowed(e->key.metric) || e->window_start == u->window_start))
	{
		e->used = Max(0, e->used + sign * u->d_used);
		e->reserved = Max(0, e->reserved + sign * u->d_reserved);
		e->dirty = true;
	}
	LWLockRelease(lock);
}

/* Applies (sign +1) or reverts (sign -1) the records at or above level, and drops them */
static void
RlLogFinish(RlLog *log, int level, int sign)
{
	int			kept = 0;

	for (int i = log->n - 1; i >= 0; i--)
		if (log->items[i].level >= level && rl_hash != NULL && sign != 0)
			RlLogApplyOne(&log->items[i], sign);
	for (int i = 0; i < log->n; i++)
		if (log->items[i].level < level)
			log->items[kept++] = log->items[i];
	log->n = kept;
}

/* Hands the records of a committed subtransaction to its parent */
static void
RlLogToParent(RlLog *log, int level)
{
	for (int i = 0; i < log->n; i++)
		if (log->items[i].level >= level)
			log->items[i].level = level - 1;
}

/* Concurrency units (per scope) this process's commits gave back, not yet taken */
static int64 rl_leases_released = 0;

/*
 * Counts the concurrency units the deferred releases of a committing
 * transaction give back: units, not records, since the releases of one
 * counter within a (sub)transaction are folded into one record.
 */
static void
RlCountLeasesReleased(void)
{
	for (int i = 0; i < rl_defer.n; i++)
		if (rl_defer.items[i].key.metric == AIGW_RL_CONCURRENT && rl_defer.items[i].d_used < 0)
			rl_leases_released -= rl_defer.items[i].d_used;
}

/*
 * The concurrency leases this process's committed transactions gave back
 * since the last call (a task worker leases tasks waiting for a slot)
 */
int64
AigwRateLimitTakeLeasesReleased(void)
{
	int64		n = rl_leases_released;

	rl_leases_released = 0;
	return n;
}

/*
 * Transaction end.  Admissions were applied at once and are reverted on
 * abort; releases wait for the commit, so that the shared count never drops
 * below what committed lease rows show.
 */
static void
RlXactCallback(XactEvent event, void *arg)
{
	if (rl_undo.n == 0 && rl_defer.n == 0 && !rl_queue_pending)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			RlLogFinish(&rl_undo, 0, 0);
			RlCountLeasesReleased();
			RlLogFinish(&rl_defer, 0, +1);
			RlQueueChangeEnd();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			RlLogFinish(&rl_undo, 0, -1);
			RlLogFinish(&rl_defer, 0, 0);
			RlQueueChangeEnd();
			break;
		default:
			break;
	}
}

/* Subtransaction end: abort reverts its admissions and drops its releases */
static void
RlSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
				  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	if (rl_undo.n == 0 && rl_defer.n == 0)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		RlLogToParent(&rl_undo, level);
		RlLogToParent(&rl_defer, level);
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		RlLogFinish(&rl_undo, level, -1);
		RlLogFinish(&rl_defer, level, 0);
	}
}

/* ---- reload after a restart ---- */

/* Looks an entry up or creates it, with its stripe lock held exclusively */
static RlEntry *
RlEnterLocked(const RlKey *key, uint32 hash)
{
	bool		found;
	RlEntry    *e;

	e = hash_search_with_hash_value(rl_hash, key, hash, HASH_ENTER_NULL, &found);
	if (e != NULL && !found)
	{
		e->dirty = false;
		e->window_seconds = 0;
		e->window_start = 0;
		e->limit = -1;
		e->used = 0;
		e->reserved = 0;
	}
	return e;
}

/* Raises a reloaded value into an entry (idempotent, so a retried reload is exact) */
static void
RlReloadOne(AigwRlScope scope, const char *scope_key, AigwRlMetric metric,
			TimestampTz ws, int32 window_seconds, int64 limit, int64 used, int64 reserved)
{
	RlKey		key;
	uint32		hash;
	RlEntry    *e;

	if (strlen(scope_key) == 0 || strlen(scope_key) > AIGW_RL_KEY_MAX)
		return;
	RlMakeKey(&key, scope, scope_key, metric);
	hash = get_hash_value(rl_hash, &key);
	LWLockAcquire(RlPartitionLock(hash), LW_EXCLUSIVE);
	e = RlEnterLocked(&key, hash);
	if (e == NULL)
	{
		LWLockRelease(RlPartitionLock(hash));
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("aigw.ratelimit_slots is too small to reload every rate-limit counter")));
		return;
	}
	if (AigwRlMetricIsWindowed(metric))
	{
		if (e->window_seconds != window_seconds || e->window_start != ws)
		{
			e->window_seconds = window_seconds;
			e->window_start = ws;
			e->used = 0;
			e->reserved = 0;
		}
		e->used = Max(e->used, used);
		e->reserved = Max(e->reserved, reserved);
	}
	else
		e->used = used;
	if (limit >= 0)
		e->limit = limit;
	LWLockRelease(RlPartitionLock(hash));
}

/* Sets the gauges of one metric from a query of (scope_type, scope_key, value) rows */
static void
RlReloadGauges(const char *sql, AigwRlMetric metric, const char *what)
{
	int			ret = SPI_execute(sql, true, 0);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "%s failed: %s", what, SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		AigwRlScope scope;
		char	   *scope_key;
		int64		value;

		if (AigwRlScopeRow(i, &scope, &scope_key, &value))
			RlReloadOne(scope, scope_key, metric, 0, 0, -1, value, 0);
	}
}

/* Loads current windows and unreleased leases from the durable record */
static void
RlReload(void)
{
	int			ret;

	SPI_connect();
	ret = SPI_execute("SELECT scope_type, scope_key, metric, window_start, "
					  "  extract(epoch FROM reset_at - window_start)::int4, "
					  "  limit_value::int8, used_value::int8, reserved_value::int8 "
					  "FROM aigw.gateway_rate_limit_counters WHERE reset_at > now()",
					  true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reloading rate-limit counters failed: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		AigwRlScope scope;
		AigwRlMetric metric;
		int32		w;

		if (!AigwRlParseScope(SPI_getvalue(t, d, 1), &scope) ||
			!AigwRlParseMetric(SPI_getvalue(t, d, 3), &metric) ||
			!AigwRlMetricIsWindowed(metric))
			continue;
		w = DatumGetInt32(SPI_getbinval(t, d, 5, &isnull));
		if (w <= 0)
			continue;
		RlReloadOne(scope, SPI_getvalue(t, d, 2), metric,
					DatumGetTimestampTz(SPI_getbinval(t, d, 4, &isnull)), w,
					DatumGetInt64(SPI_getbinval(t, d, 6, &isnull)),
					DatumGetInt64(SPI_getbinval(t, d, 7, &isnull)),
					DatumGetInt64(SPI_getbinval(t, d, 8, &isnull)));
	}

	/*
	 * Every unreleased lease counts, expired or not, so that the count always
	 * equals the unreleased rows: aigw.ratelimit_release_expired() then
	 * subtracts exactly what it releases.
	 */
	RlReloadGauges("SELECT scope_type, scope_key, sum(lease_value)::int8 "
				   "FROM aigw.gateway_concurrency_leases WHERE released_at IS NULL "
				   "GROUP BY 1, 2", AIGW_RL_CONCURRENT, "reloading concurrency leases");

	/* queue gauges: a recount of the tasks that hold a queue slot */
	RlReloadGauges(rl_queue_holders_sql, AIGW_RL_QUEUE_SIZE, "recounting queued tasks");
	SPI_finish();
}

/*
 * Reloads the durable record once after shared memory was created.  The
 * reloaders queue on a heavyweight lock (not an LWLock), so that they wait
 * interruptibly and the deadlock detector sees them while the reload runs SQL.
 * The tag's fourth field, 3, is one pg_advisory_lock never uses.
 */
void
AigwRateLimitEnsureLoaded(void)
{
	LOCKTAG		tag;

	RlRequireShmem();
	if (pg_atomic_read_u32(&rl_shared->loaded) != 0)
		return;
	SET_LOCKTAG_ADVISORY(tag, InvalidOid, 0x61696777, 0x726c6f61, 3);
	(void) LockAcquire(&tag, ExclusiveLock, true, false);
	PG_TRY();
	{
		if (pg_atomic_read_u32(&rl_shared->loaded) == 0)
		{
			RlReload();
			pg_atomic_exchange_u32(&rl_shared->loaded, 1);
		}
	}
	PG_FINALLY();
	{
		LockRelease(&tag, ExclusiveLock, true);
	}
	PG_END_TRY();
}

/* ---- eviction ---- */

/* Drops entries whose window is over and idle gauges; all stripes must be held */
static int
RlEvictLocked(TimestampTz now, bool even_dirty)
{
	HASH_SEQ_STATUS seq;
	RlEntry    *e;
	int			evicted = 0;

	hash_seq_init(&seq, rl_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		bool		stale;

		if (AigwRlMetricIsWindowed(e->key.metric))
			stale = e->window_start + (int64) e->window_seconds * USECS_PER_SEC <= now &&
				(even_dirty || !e->dirty);
		else
			stale = e->used == 0 && e->reserved == 0;
		if (stale)
		{
			hash_search(rl_hash, &e->key, HASH_REMOVE, NULL);
			evicted++;
		}
	}
	return evicted;
}

/* ---- admission ---- */

/* Integer comparison for qsort */
static int
RlCmpInt(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return (x > y) - (x < y);
}

/* Checks a requirement's fields */
void
AigwRlValidate(const AigwRlRequirement *r)
{
	if (r->scope_type < 0 || r->scope_type >= AIGW_RL_NUM_SCOPES ||
		r->metric < 0 || r->metric >= AIGW_RL_NUM_METRICS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid rate-limit scope type or metric")));
	if (r->limit < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit limit must not be negative")));
	if (r->amount < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit amount must not be negative")));
	if (AigwRlMetricIsWindowed(r->metric) &&
		(r->window_seconds <= 0 || r->window_seconds > 31 * 86400))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit window must be between 1 second and 31 days")));
	if (r->metric == AIGW_RL_CONCURRENT &&
		(r->lease_ttl_seconds <= 0 || r->lease_ttl_seconds > 7 * 86400))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease TTL must be between 1 second and 7 days")));
}

/* Fills a refusal for requirement i */
static void
RlRefuse(AigwRlRefusal *refusal, int i, const AigwRlRequirement *r, const RlEntry *e,
		 int64 held, TimestampTz now)
{
	refusal->index = i;
	refusal->used = held;
	refusal->limit = r->limit;
	if (r->amount > r->limit)
	{
		refusal->reason = "exceeds_limit";
		refusal->retry_after_seconds = -1;
	}
	else if (AigwRlMetricIsWindowed(r->metric))
	{
		int64		left = e->window_start + (int64) e->window_seconds * USECS_PER_SEC - now;

		refusal->reason = "window_full";
		refusal->retry_after_seconds = (int32) Max(1, (left + USECS_PER_SEC - 1) / USECS_PER_SEC);
	}
	else
	{
		refusal->reason = r->metric == AIGW_RL_CONCURRENT ? "concurrency_full" : "queue_full";
		refusal->retry_after_seconds = 1;
	}
}

/* Admits all requirements or none */
bool
AigwRateLimitAdmit(AigwRlRequirement *reqs, int n, const pg_uuid_t *task_id,
				   const pg_uuid_t *attempt_id, AigwRlRefusal *refusal)
{
	RlKey		keys[AIGW_RL_MAX_REQUIREMENTS];
	uint32		hashes[AIGW_RL_MAX_REQUIREMENTS];
	RlEntry    *ents[AIGW_RL_MAX_REQUIREMENTS];
	int			parts[AIGW_RL_MAX_REQUIREMENTS];
	int			nparts = 0;
	bool		has_leases = false;
	bool		has_queue = false;
	bool		swept = false;
	bool		ok = true;
	TimestampTz now;

	if (n < 0 || n > AIGW_RL_MAX_REQUIREMENTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("an admission may carry at most %d requirements", AIGW_RL_MAX_REQUIREMENTS)));
	AigwRateLimitEnsureLoaded();
	for (int i = 0; i < n; i++)
	{
		AigwRlValidate(&reqs[i]);
		RlMakeKey(&keys[i], reqs[i].scope_type, reqs[i].scope_key, reqs[i].metric);
		hashes[i] = get_hash_value(rl_hash, &keys[i]);
		parts[i] = hashes[i] & (RL_PARTITIONS - 1);
		if (reqs[i].metric == AIGW_RL_CONCURRENT)
			has_leases = true;
		if (reqs[i].metric == AIGW_RL_QUEUE_SIZE)
			has_queue = true;
	}
	if (has_leases && task_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a concurrent requirement needs a task id")));
	qsort(parts, n, sizeof(int), RlCmpInt);
	for (int i = 0; i < n; i++)
		if (nparts == 0 || parts[nparts - 1] != parts[i])
			parts[nparts++] = parts[i];
	RlLogReserve(&rl_undo, n);
	if (has_queue)
		RlQueueChangeBegin();

retry:
	for (int p = 0; p < nparts; p++)
		LWLockAcquire(&rl_locks[parts[p]].lock, LW_EXCLUSIVE);
	now = GetCurrentTimestamp();
	for (int i = 0; i < n; i++)
	{
		ents[i] = RlEnterLocked(&keys[i], hashes[i]);
		if (ents[i] == NULL)
		{
			for (int p = nparts - 1; p >= 0; p--)
				LWLockRelease(&rl_locks[parts[p]].lock);
			if (!swept)
			{
				swept = true;
				RlLockAll(LW_EXCLUSIVE);
				RlEvictLocked(now, true);
				RlUnlockAll();
				goto retry;
			}
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("rate-limit table is full"),
					 errhint("Raise aigw.ratelimit_slots (currently %d).", aigw_ratelimit_slots)));
		}
		if (AigwRlMetricIsWindowed(reqs[i].metric))
			RlRoll(ents[i], reqs[i].window_seconds, now);
	}

	/* check every requirement, counting earlier ones that hit the same entry */
	for (int i = 0; i < n && ok; i++)
	{
		RlEntry    *e = ents[i];
		int64		held = e->used + e->reserved;

		for (int j = 0; j < i; j++)
			if (ents[j] == e)
				held += reqs[j].amount;
		if (reqs[i].amount > reqs[i].limit || held + reqs[i].amount > reqs[i].limit)
		{
			RlRefuse(refusal, i, &reqs[i], e, held, now);
			ok = false;
		}
	}
	for (int i = 0; i < n; i++)
	{
		RlEntry    *e = ents[i];

		e->limit = reqs[i].limit;
		reqs[i].window_start = AigwRlMetricIsWindowed(reqs[i].metric) ? e->window_start : 0;
		if (!ok)
			continue;
		if (AigwRlMetricIsWindowed(reqs[i].metric) && reqs[i].reserve)
			e->reserved += reqs[i].amount;
		else
			e->used += reqs[i].amount;
		e->dirty = true;
	}
	for (int p = nparts - 1; p >= 0; p--)
		LWLockRelease(&rl_locks[parts[p]].lock);
	if (!ok)
		return false;

	for (int i = 0; i < n; i++)
	{
		bool		res = AigwRlMetricIsWindowed(reqs[i].metric) && reqs[i].reserve;

		RlLogAdd(&rl_undo, &keys[i], hashes[i], reqs[i].window_start,
				  res ? 0 : reqs[i].amount, res ? reqs[i].amount : 0);
	}
	if (has_leases)
		AigwRlInsertLeases(reqs, n, task_id, attempt_id, now);
	return true;
}

/*
 * Applies a change to an existing counter of the given window (any window
 * for gauges) at once, clamping at zero and logging it for an abort; returns
 * false if the window is gone.
 */
static bool
RlApply(const RlKey *key, uint32 hash, TimestampTz ws, int64 d_used, int64 d_reserved)
{
	LWLock	   *lock = RlPartitionLock(hash);
	RlEntry    *e;
	int64		du;
	int64		dr;

	RlLogReserve(&rl_undo, 1);
	LWLockAcquire(lock, LW_EXCLUSIVE);
	e = hash_search_with_hash_value(rl_hash, key, hash, HASH_FIND, NULL);
	if (e == NULL ||
		(AigwRlMetricIsWindowed(key->metric) && e->window_start != ws))
	{
		LWLockRelease(lock);
		return false;
	}
	du = Max(d_used, -e->used);
	dr = Max(d_reserved, -e->reserved);
	e->used += du;
	e->reserved += dr;
	e->dirty = true;
	LWLockRelease(lock);
	RlLogAdd(&rl_undo, key, hash, ws, du, dr);
	return true;
}

/* Queues a release for the commit of the current transaction */
static void
RlDefer(const RlKey *key, uint32 hash, TimestampTz ws, int64 d_used, int64 d_reserved)
{
	RlLogReserve(&rl_defer, 1);
	if (key->metric == AIGW_RL_QUEUE_SIZE && (d_used != 0 || d_reserved != 0))
		RlQueueChangeBegin();
	RlLogAdd(&rl_defer, key, hash, ws, d_used, d_reserved);
}

/* Turns reservations into real usage */
void
AigwRateLimitReconcile(const AigwRlRequirement *reqs, int n, const int64 *actual)
{
	AigwRateLimitEnsureLoaded();
	for (int i = 0; i < n; i++)
	{
		RlKey		key;

		if (!AigwRlMetricIsWindowed(reqs[i].metric))
			continue;
		if (actual[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("actual usage must not be negative")));
		RlMakeKey(&key, reqs[i].scope_type, reqs[i].scope_key, reqs[i].metric);
		if (reqs[i].reserve)
			RlApply(&key, get_hash_value(rl_hash, &key), reqs[i].window_start,
					actual[i], -reqs[i].amount);
		else
			RlApply(&key, get_hash_value(rl_hash, &key), reqs[i].window_start,
					actual[i] - reqs[i].amount, 0);
	}
}

/* Gives back tokens, requests and queue slots that were never used, at commit */
void
AigwRateLimitRelease(const AigwRlRequirement *reqs, int n)
{
	AigwRateLimitEnsureLoaded();
	for (int i = 0; i < n; i++)
	{
		RlKey		key;
		bool		res = AigwRlMetricIsWindowed(reqs[i].metric) && reqs[i].reserve;

		if (reqs[i].metric == AIGW_RL_CONCURRENT)
			continue;
		RlMakeKey(&key, reqs[i].scope_type, reqs[i].scope_key, reqs[i].metric);
		RlDefer(&key, get_hash_value(rl_hash, &key), reqs[i].window_start,
				res ? 0 : -reqs[i].amount, res ? -reqs[i].amount : 0);
	}
}

/* ---- flush ---- */

/* Copies the dirty windows, marking them clean, and evicts stale entries */
static RlSnapshot *
RlCollectDirty(TimestampTz *taken, int *count)
{
	RlSnapshot *snap = palloc(sizeof(RlSnapshot) * aigw_ratelimit_slots);
	HASH_SEQ_STATUS seq;
	RlEntry    *e;
	int			n = 0;
	TimestampTz now;

	RlLockAll(LW_EXCLUSIVE);
	/* taken under the locks, so later snapshots always carry later times */
	now = GetCurrentTimestamp();
	*taken = now;
	hash_seq_init(&seq, rl_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (!e->dirty || !AigwRlMetricIsWindowed(e->key.metric))
			continue;
		snap[n].key = e->key;
		snap[n].window_seconds = e->window_seconds;
		snap[n].window_start = e->window_start;
		snap[n].limit = e->limit;
		snap[n].used = e->used;
		snap[n].reserved = e->reserved;
		n++;
		e->dirty = false;
	}
	RlEvictLocked(now, false);
	RlUnlockAll();
	*count = n;
	return snap;
}

/* Writes changed windows to gateway_rate_limit_counters */
int64
AigwRateLimitFlush(void)
{
	TimestampTz now;
	RlSnapshot *snap;
	int			n;
	uint64		last_purge;

	AigwRateLimitEnsureLoaded();
	snap = RlCollectDirty(&now, &n);
	SPI_connect();
	if (rl_plan_counter_upsert == NULL)
	{
		Oid			types[9] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID, INT8OID,
		INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
		SPIPlanPtr	p;

		p = SPI_prepare("INSERT INTO aigw.gateway_rate_limit_counters AS c "
						"(scope_type, scope_key, metric, window_start, limit_value, used_value, "
						" reserved_value, reset_at, updated_at) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
						"ON CONFLICT ON CONSTRAINT pk_rate_limit_counter DO UPDATE SET "
						" limit_value = EXCLUDED.limit_value, used_value = EXCLUDED.used_value, "
						" reserved_value = EXCLUDED.reserved_value, reset_at = EXCLUDED.reset_at, "
						" updated_at = EXCLUDED.updated_at "
						"WHERE c.updated_at <= EXCLUDED.updated_at", 9, types);
		if (p == NULL)
			elog(ERROR, "preparing the counter upsert failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		rl_plan_counter_upsert = p;
	}
	for (int i = 0; i < n; i++)
	{
		Datum		v[9];
		int			ret;

		v[0] = CStringGetTextDatum(AigwRlScopeName(snap[i].key.scope_type));
		v[1] = CStringGetTextDatum(snap[i].key.scope_key);
		v[2] = CStringGetTextDatum(AigwRlMetricName(snap[i].key.metric));
		v[3] = TimestampTzGetDatum(snap[i].window_start);
		v[4] = Int64GetDatum(Max(snap[i].limit, 0));
		v[5] = Int64GetDatum(snap[i].used);
		v[6] = Int64GetDatum(snap[i].reserved);
		v[7] = TimestampTzGetDatum(snap[i].window_start +
								   (int64) snap[i].window_seconds * USECS_PER_SEC);
		/* an older snapshot written late never overwrites a newer one */
		v[8] = TimestampTzGetDatum(now);
		ret = SPI_execute_plan(rl_plan_counter_upsert, v, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "writing a rate-limit counter failed: %s", SPI_result_code_string(ret));
	}

	last_purge = pg_atomic_read_u64(&rl_shared->last_purge);
	if ((int64) last_purge + RL_PURGE_EVERY_S * USECS_PER_SEC <= now &&
		pg_atomic_compare_exchange_u64(&rl_shared->last_purge, &last_purge, (uint64) now))
	{
		Oid			types[1] = {INT4OID};
		Datum		v[1] = {Int32GetDatum(aigw_ratelimit_counter_retention_s)};

		SPI_execute_with_args("DELETE FROM aigw.gateway_rate_limit_counters "
							  "WHERE reset_at < now() - make_interval(secs => $1)",
							  1, types, v, NULL, false, 0);
	}
	SPI_finish();
	pfree(snap);
	return n;
}

/* ---- headroom ---- */

/* Smallest remaining share over the requirements: 1 = untouched, 0 = full */
double
AigwRateLimitHeadroom(const AigwRlRequirement *reqs, int n)
{
	double		ratio = 1.0;
	TimestampTz now;

	AigwRateLimitEnsureLoaded();
	now = GetCurrentTimestamp();
	for (int i = 0; i < n; i++)
	{
		RlKey		key;
		uint32		hash;
		RlEntry    *e;
		int64		held = 0;
		double		r;

		AigwRlValidate(&reqs[i]);
		RlMakeKey(&key, reqs[i].scope_type, reqs[i].scope_key, reqs[i].metric);
		hash = get_hash_value(rl_hash, &key);
		LWLockAcquire(RlPartitionLock(hash), LW_SHARED);
		e = hash_search_with_hash_value(rl_hash, &key, hash, HASH_FIND, NULL);
		if (e != NULL &&
			(!AigwRlMetricIsWindowed(reqs[i].metric) ||
			 (e->window_seconds == reqs[i].window_seconds &&
			  e->window_start == RlWindowStart(now, reqs[i].window_seconds))))
			held = e->used + e->reserved;
		LWLockRelease(RlPartitionLock(hash));
		if (reqs[i].limit <= 0)
			r = 0.0;
		else
			r = Max(0.0, (double) (reqs[i].limit - held - reqs[i].amount) / (double) reqs[i].limit);
		ratio = Min(ratio, r);
	}
	return ratio;
}

/* ---- gauges and snapshots ---- */

/* Gives back, at commit, the slot of a lease row released or deleted unreleased */
void
AigwConcurrencyForget(AigwRlScope scope, const char *scope_key, int64 value)
{
	RlKey		key;

	AigwRateLimitEnsureLoaded();
	RlMakeKey(&key, scope, scope_key, AIGW_RL_CONCURRENT);
	RlDefer(&key, get_hash_value(rl_hash, &key), 0, -value, 0);
}

/* Sets a queue_size gauge from a recount, at once */
void
AigwRateLimitSetQueueGauge(AigwRlScope scope, const char *scope_key, int64 value)
{
	RlKey		key;
	uint32		hash;
	RlEntry    *e;

	AigwRateLimitEnsureLoaded();
	if (value < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a queue size must not be negative")));
	RlMakeKey(&key, scope, scope_key, AIGW_RL_QUEUE_SIZE);
	hash = get_hash_value(rl_hash, &key);
	pg_atomic_fetch_add_u64(&rl_shared->queue_epoch, 1);
	LWLockAcquire(RlPartitionLock(hash), LW_EXCLUSIVE);
	e = RlEnterLocked(&key, hash);
	if (e != NULL)
		e->used = value;
	LWLockRelease(RlPartitionLock(hash));
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("rate-limit table is full"),
				 errhint("Raise aigw.ratelimit_slots (currently %d).", aigw_ratelimit_slots)));
}

/* One recounted queue gauge */
typedef struct RlQueueCount
{
	RlKey		key;
	int64		value;
} RlQueueCount;

/*
 * Corrects queue_size gauges that drifted from the tasks holding queue
 * slots; returns how many changed, or -1 when it could not tell (a queue
 * change was in flight, or the recount is not due).  A gauge equals the
 * committed holders plus the changes of transactions still running, so the
 * recount is applied only when no queue change was in flight from before the
 * count's snapshot until the gauges are locked: no transaction with a queue
 * change open, and no change announced in between (queue_epoch).  Under
 * constant queue traffic it waits for a quiet moment.
 */
int64
AigwRateLimitRecountQueues(bool force)
{
	uint64		epoch;
	uint64		last;
	TimestampTz now = GetCurrentTimestamp();
	RlQueueCount *counts;
	int			ncounts = 0;
	int64		changed = 0;
	HASH_SEQ_STATUS seq;
	RlEntry    *e;
	int			ret;

	AigwRateLimitEnsureLoaded();
	last = pg_atomic_read_u64(&rl_shared->last_recount);
	if (!force && (aigw_ratelimit_queue_recount_interval_s <= 0 ||
				   (int64) last + (int64) aigw_ratelimit_queue_recount_interval_s * USECS_PER_SEC > now))
		return -1;
	if (rl_queue_pending || IsolationUsesXactSnapshot())
		return -1;				/* this transaction changed a queue, or cannot see the latest commits */
	epoch = pg_atomic_read_u64(&rl_shared->queue_epoch);
	if (pg_atomic_read_u32(&rl_shared->queue_pending) != 0)
		return -1;

	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	ret = SPI_execute(rl_queue_holders_sql, true, 0);
	PopActiveSnapshot();
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "recounting queued tasks failed: %s", SPI_result_code_string(ret));
	counts = SPI_palloc(sizeof(RlQueueCount) * Max(SPI_processed, 1));	/* outlives SPI_finish */
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		AigwRlScope scope;
		char	   *scope_key;

		if (!AigwRlScopeRow(i, &scope, &scope_key, &counts[ncounts].value))
			continue;
		RlMakeKey(&counts[ncounts].key, scope, scope_key, AIGW_RL_QUEUE_SIZE);
		ncounts++;
	}
	SPI_finish();

	RlLockAll(LW_EXCLUSIVE);
	if (pg_atomic_read_u64(&rl_shared->queue_epoch) != epoch ||
		pg_atomic_read_u32(&rl_shared->queue_pending) != 0)
	{
		RlUnlockAll();
		return -1;
	}
	/* gauges with no holder left go to 0 */
	hash_seq_init(&seq, rl_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		bool		held = false;

		if (e->key.metric != AIGW_RL_QUEUE_SIZE || e->used == 0)
			continue;
		for (int i = 0; i < ncounts && !held; i++)
			held = memcmp(&counts[i].key, &e->key, sizeof(RlKey)) == 0;
		if (!held)
		{
			e->used = 0;
			changed++;
		}
	}
	/* the others take their holders' count */
	for (int i = 0; i < ncounts; i++)
	{
		RlEntry    *g = RlEnterLocked(&counts[i].key, get_hash_value(rl_hash, &counts[i].key));

		if (g != NULL && g->used != counts[i].value)
		{
			g->used = counts[i].value;
			changed++;
		}
	}
	pg_atomic_write_u64(&rl_shared->last_recount, (uint64) now);
	RlUnlockAll();
	if (changed > 0)
		ereport(LOG,
				(errmsg("aigw: corrected " INT64_FORMAT " queue_size gauge(s) that had drifted from the queued tasks",
						changed)));
	pfree(counts);
	return changed;
}

/*
 * Every counter as of now; a window that has ended reads as the empty
 * current one.  Returns a palloc'd array of *count windows.
 */
AigwRlWindow *
AigwRateLimitWindows(int *count)
{
	AigwRlWindow *out;
	HASH_SEQ_STATUS seq;
	RlEntry    *e;
	int			n = 0;
	TimestampTz now;

	AigwRateLimitEnsureLoaded();
	out = palloc(sizeof(AigwRlWindow) * aigw_ratelimit_slots);
	RlLockAll(LW_SHARED);
	now = GetCurrentTimestamp();
	hash_seq_init(&seq, rl_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		AigwRlWindow *w = &out[n++];

		w->scope_type = (AigwRlScope) e->key.scope_type;
		w->metric = (AigwRlMetric) e->key.metric;
		memcpy(w->scope_key, e->key.scope_key, sizeof(w->scope_key));
		w->window_seconds = e->window_seconds;
		w->window_start = e->window_start;
		w->limit = e->limit;
		w->used = e->used;
		w->reserved = e->reserved;
	}
	RlUnlockAll();
	for (int i = 0; i < n; i++)
	{
		AigwRlWindow *w = &out[i];
		TimestampTz ws;

		if (!AigwRlMetricIsWindowed(w->metric))
			continue;
		ws = RlWindowStart(now, w->window_seconds);
		if (w->window_start < ws)
		{
			w->window_start = ws;
			w->used = 0;
			w->reserved = 0;
		}
	}
	*count = n;
	return out;
}

/* ---- module load ---- */

/* Defines the rate-limit GUCs; installs the shared-memory hooks when preloading */
void
AigwRateLimitInit(void)
{
	DefineCustomIntVariable("aigw.ratelimit_slots",
							"Number of rate-limit counters (scope, metric) kept in shared memory.",
							NULL, &aigw_ratelimit_slots, 16384, 64, 4194304,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.ratelimit_flush_interval",
							"How often the reaper writes rate-limit counters to their table; "
							"the most a crash can lose.",
							NULL, &aigw_ratelimit_flush_interval_ms, 1000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.ratelimit_counter_retention",
							"How long rate-limit counter rows are kept after their window ends.",
							NULL, &aigw_ratelimit_counter_retention_s, 7 * 86400, 60, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.ratelimit_queue_recount_interval",
							"How often the reaper recounts queue_size gauges from the queued tasks and corrects drift; "
							"0 turns it off.",
							NULL, &aigw_ratelimit_queue_recount_interval_s, 60, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	RegisterXactCallback(RlXactCallback, NULL);
	RegisterSubXactCallback(RlSubXactCallback, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = RlShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = RlShmemStartup;
}

