/*
 * ratelimit_leases.c: the durable record of concurrency leases
 * (gateway_concurrency_leases). An admission's concurrent requirements each
 * write a lease row in the admitting transaction; a release marks the task's
 * open rows released (by heap and index calls, src/rowwrite.c, else an
 * UPDATE) and gives their slots back in shared memory when the transaction
 * commits (src/ratelimit.c keeps the gauges).
 */
#include "aigw.h"
#include "ratelimit.h"
#include "rowwrite.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* The lease row's columns, in the order of the values AigwRlInsertLeases makes */
static const char *const LeaseColumns[7] = {
	"task_id", "attempt_id", "scope_type", "scope_key", "lease_value", "acquired_at", "expires_at"
};
static const Oid LeaseColumnTypes[7] = {
	UUIDOID, UUIDOID, TEXTOID, TEXTOID, NUMERICOID, TIMESTAMPTZOID, TIMESTAMPTZOID
};

static SPIPlanPtr rl_plan_lease_insert = NULL;

/* Writes one lease row by an INSERT statement (a table the direct write does not take) */
static void
RlInsertLeaseStatement(Datum *v, bool *isnull)
{
	char		nulls[7];
	int			ret;

	for (int c = 0; c < 7; c++)
		nulls[c] = isnull[c] ? 'n' : ' ';
	SPI_connect();
	if (rl_plan_lease_insert == NULL)
	{
		SPIPlanPtr	p;

		p = SPI_prepare("INSERT INTO aigw.gateway_concurrency_leases "
						"(task_id, attempt_id, scope_type, scope_key, lease_value, acquired_at, expires_at) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, (Oid *) LeaseColumnTypes);
		if (p == NULL)
			elog(ERROR, "preparing the lease insert failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		rl_plan_lease_insert = p;
	}
	ret = SPI_execute_plan(rl_plan_lease_insert, v, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "writing a concurrency lease failed: %s", SPI_result_code_string(ret));
	SPI_finish();
}

/* Writes one lease row per concurrent requirement (rowwrite.c, else an INSERT) */
void
AigwRlInsertLeases(const AigwRlRequirement *reqs, int n, const pg_uuid_t *task_id,
				   const pg_uuid_t *attempt_id, TimestampTz now)
{
	static AigwRowTable *leases = NULL;

	if (leases == NULL)
		leases = AigwRowTableFor("gateway_concurrency_leases");
	for (int i = 0; i < n; i++)
	{
		Datum		v[7];
		bool		isnull[7] = {false, attempt_id == NULL, false, false, false, false, false};

		if (reqs[i].metric != AIGW_RL_CONCURRENT)
			continue;
		v[0] = UUIDPGetDatum(task_id);
		v[1] = attempt_id ? UUIDPGetDatum(attempt_id) : (Datum) 0;
		v[2] = CStringGetTextDatum(AigwRlScopeName(reqs[i].scope_type));
		v[3] = CStringGetTextDatum(reqs[i].scope_key);
		v[4] = DirectFunctionCall1(int8_numeric, Int64GetDatum(reqs[i].amount));
		v[5] = TimestampTzGetDatum(now);
		v[6] = TimestampTzGetDatum(now + (int64) reqs[i].lease_ttl_seconds * USECS_PER_SEC);
		if (AigwRowInsertColumns(leases, 7, LeaseColumns, LeaseColumnTypes, v, isnull) == NULL)
			RlInsertLeaseStatement(v, isnull);
	}
}

/* Gives back, at commit, the slots of the lease rows a release returned (scope_type, scope_key, lease_value) */
static int64
RlReleaseLeaseRows(void)
{
	int64		released = 0;

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		AigwRlScope scope;
		char	   *scope_key;
		int64		value;

		if (!AigwRlScopeRow(i, &scope, &scope_key, &value))
			continue;
		AigwConcurrencyForget(scope, scope_key, value);
		released++;
	}
	return released;
}

static AigwKeptPlan release_task_plan = NULL;
static AigwKeptPlan release_attempt_plan = NULL;

/* The release of the open leases that match cond */
#define RELEASE_SQL(cond) \
	"UPDATE aigw.gateway_concurrency_leases SET released_at = clock_timestamp() " \
	"WHERE " cond " AND released_at IS NULL RETURNING scope_type, scope_key, lease_value::int8"

/*
 * The release of a task's open leases that match cond, through the index on
 * task_id. Given "released_at IS NULL" to plan with, the planner took an index
 * of open leases (partial, or with released_at as a column), which it sizes by
 * the last vacuum although it fills with dead entries in between: every
 * release read more of it. "(released_at IS NULL) IS TRUE" is the same test
 * where the planner cannot use it to pick an index.
 */
#define RELEASE_BY_TASK_SQL(cond) \
	"UPDATE aigw.gateway_concurrency_leases SET released_at = clock_timestamp() " \
	"WHERE " cond " AND (released_at IS NULL) IS TRUE RETURNING scope_type, scope_key, lease_value::int8"

/* The lease rows a release looks for, and what it gave back */
typedef struct RlRelease
{
	AigwRowTable *leases;
	const pg_uuid_t *task_id;
	const pg_uuid_t *attempt_id;	/* NULL: every lease of the task */
	int64		released;
} RlRelease;

/* AigwRowUpdateByKey callback: an unreleased lease of the task (and attempt) */
static bool
RlReleaseKeep(TupleTableSlot *row, void *arg)
{
	RlRelease  *r = arg;
	bool		isnull;
	Datum		d;

	d = slot_getattr(row, AigwRowAttnum(r->leases, "task_id"), &isnull);
	if (isnull || memcmp(DatumGetUUIDP(d), r->task_id, sizeof(pg_uuid_t)) != 0)
		return false;
	(void) slot_getattr(row, AigwRowAttnum(r->leases, "released_at"), &isnull);
	if (!isnull)
		return false;
	if (r->attempt_id == NULL)
		return true;
	d = slot_getattr(row, AigwRowAttnum(r->leases, "attempt_id"), &isnull);
	return !isnull && memcmp(DatumGetUUIDP(d), r->attempt_id, sizeof(pg_uuid_t)) == 0;
}

/* AigwRowUpdateByKey callback: gives back the slot of a lease just released */
static void
RlReleaseVisit(TupleTableSlot *row, void *arg)
{
	RlRelease  *r = arg;
	bool		isnull;
	Datum		type = slot_getattr(row, AigwRowAttnum(r->leases, "scope_type"), &isnull);
	Datum		key;
	Datum		value;
	AigwRlScope scope;
	char	   *scope_key;

	if (isnull || !AigwRlParseScope(TextDatumGetCString(type), &scope))
		return;
	key = slot_getattr(row, AigwRowAttnum(r->leases, "scope_key"), &isnull);
	if (isnull)
		return;
	scope_key = TextDatumGetCString(key);
	value = slot_getattr(row, AigwRowAttnum(r->leases, "lease_value"), &isnull);
	if (isnull || strlen(scope_key) == 0 || strlen(scope_key) > AIGW_RL_KEY_MAX)
		return;
	AigwConcurrencyForget(scope, scope_key, DatumGetInt64(DirectFunctionCall1(numeric_int8, value)));
	r->released++;
}

/*
 * Releases the task's (or the attempt's) unreleased leases: an update of
 * their rows without the executor (src/rowwrite.c), else the UPDATE statement
 */
int64
AigwConcurrencyRelease(const pg_uuid_t *task_id, const pg_uuid_t *attempt_id)
{
	static AigwRowTable *leases = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		v[2];
	AigwKeptPlan plan;
	RlRelease	r;
	int64		released;
	int			ret;

	AigwRateLimitEnsureLoaded();
	if (leases == NULL)
		leases = AigwRowTableFor("gateway_concurrency_leases");
	r.leases = leases;
	r.task_id = task_id;
	r.attempt_id = attempt_id;
	r.released = 0;
	if (AigwRowUpdateByKey(leases, "task_id", UUIDPGetDatum(task_id), F_UUID_EQ, RlReleaseKeep,
						   "released_at", TIMESTAMPTZOID, TimestampTzGetDatum(GetCurrentTimestamp()), false,
						   RlReleaseVisit, &r) >= 0)
		return r.released;
	v[0] = UUIDPGetDatum(task_id);
	v[1] = attempt_id ? UUIDPGetDatum(attempt_id) : (Datum) 0;
	SPI_connect();
	plan = attempt_id
		? AigwKeepGenericPlan(&release_attempt_plan, RELEASE_BY_TASK_SQL("task_id = $1 AND attempt_id = $2"), 2, types)
		: AigwKeepGenericPlan(&release_task_plan, RELEASE_BY_TASK_SQL("task_id = $1"), 1, types);
	ret = SPI_execute_plan(plan, v, NULL, false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "releasing concurrency leases failed: %s", SPI_result_code_string(ret));
	released = RlReleaseLeaseRows();
	SPI_finish();
	return released;
}

/* Releases every expired, unreleased lease */
int64
AigwRateLimitReleaseExpired(void)
{
	int64		released;
	int			ret;

	AigwRateLimitEnsureLoaded();
	SPI_connect();
	ret = SPI_execute(RELEASE_SQL("expires_at <= clock_timestamp()"), false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "releasing expired leases failed: %s", SPI_result_code_string(ret));
	released = RlReleaseLeaseRows();
	SPI_finish();
	return released;
}
