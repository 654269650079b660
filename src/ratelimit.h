/*
 * ratelimit.h: rate-limit windows and concurrency leases (src/ratelimit.c).
 *
 * The fast path is a fixed-size shared-memory table keyed by
 * (scope type, scope key, metric); gateway_rate_limit_counters and
 * gateway_concurrency_leases are the durable record.  Every function here
 * must run inside a transaction: admissions that the transaction does not
 * commit are undone when it aborts.
 */
#ifndef AIGW_RATELIMIT_H
#define AIGW_RATELIMIT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

/* Longest scope key, in bytes */
#define AIGW_RL_KEY_MAX 119
/* Most requirements one admission may carry */
#define AIGW_RL_MAX_REQUIREMENTS 64

/* Scope types of seed 003 §8.1, plus the queue key of §11.3 */
typedef enum AigwRlScope
{
	AIGW_RL_SCOPE_GLOBAL,
	AIGW_RL_SCOPE_PROVIDER,
	AIGW_RL_SCOPE_PLATFORM,
	AIGW_RL_SCOPE_CLIENT,
	AIGW_RL_SCOPE_BASE_MODEL,
	AIGW_RL_SCOPE_PLATFORM_MODEL,
	AIGW_RL_SCOPE_METHOD,
	AIGW_RL_SCOPE_TENANT,
	AIGW_RL_SCOPE_USER_GROUP,
	AIGW_RL_SCOPE_USER,
	AIGW_RL_SCOPE_API_KEY,
	AIGW_RL_SCOPE_QUEUE,
	AIGW_RL_NUM_SCOPES
} AigwRlScope;

/* Metrics of seed 003 §8.1.1; the first four are windowed, the last two are gauges */
typedef enum AigwRlMetric
{
	AIGW_RL_TPM_TOTAL,
	AIGW_RL_TPM_INPUT,
	AIGW_RL_TPM_OUTPUT,
	AIGW_RL_RPM,
	AIGW_RL_CONCURRENT,
	AIGW_RL_QUEUE_SIZE,
	AIGW_RL_NUM_METRICS
} AigwRlMetric;

#define AigwRlMetricIsWindowed(m) ((m) <= AIGW_RL_RPM)

/* One limit to pass: amount of metric at scope must fit under limit */
typedef struct AigwRlRequirement
{
	AigwRlScope scope_type;
	const char *scope_key;
	AigwRlMetric metric;
	int64		limit;
	int32		window_seconds; /* windowed metrics: window length */
	int64		amount;			/* tokens, requests or leases asked for */
	bool		reserve;		/* windowed: held as reserved until reconciled */
	int32		lease_ttl_seconds;	/* concurrent: lease lifetime */
	TimestampTz window_start;	/* out: the window that was charged */
} AigwRlRequirement;

/* Why an admission was refused */
typedef struct AigwRlRefusal
{
	int			index;			/* requirement that refused */
	const char *reason;			/* window_full, exceeds_limit, concurrency_full,
								 * queue_full */
	int64		used;			/* used + reserved at that scope */
	int64		limit;
	int32		retry_after_seconds;	/* -1: never admissible as asked */
} AigwRlRefusal;

/* One counter as the console shows it */
typedef struct AigwRlWindow
{
	AigwRlScope scope_type;
	AigwRlMetric metric;
	char		scope_key[AIGW_RL_KEY_MAX + 1];
	int32		window_seconds; /* 0 for gauges */
	TimestampTz window_start;
	int64		limit;			/* -1: not known since the restart */
	int64		used;
	int64		reserved;
} AigwRlWindow;

/* Unix epoch minus PostgreSQL epoch, in seconds */
#define AIGW_RL_UNIX_OFFSET_S ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

/* Unix seconds of a timestamp, and back */
static inline int64
AigwRlUnixSeconds(TimestampTz ts)
{
	return ts / USECS_PER_SEC + AIGW_RL_UNIX_OFFSET_S;
}

static inline TimestampTz
AigwRlFromUnixSeconds(int64 s)
{
	return (s - AIGW_RL_UNIX_OFFSET_S) * USECS_PER_SEC;
}

extern void AigwRateLimitInit(void);

extern bool AigwRlParseScope(const char *name, AigwRlScope *scope);
/* Row i of SPI_tuptable as (scope_type, scope_key, value int8); false if it names no valid scope */
extern bool AigwRlScopeRow(uint64 i, AigwRlScope *scope, char **scope_key, int64 *value);
extern bool AigwRlParseMetric(const char *name, AigwRlMetric *metric);
extern const char *AigwRlScopeName(AigwRlScope scope);
extern const char *AigwRlMetricName(AigwRlMetric metric);
/* Raises 22023 unless the requirement's fields are valid */
extern void AigwRlValidate(const AigwRlRequirement *r);

/*
 * Admits all requirements or none.  Concurrent requirements write lease rows
 * for task_id (and attempt_id, may be NULL) in the current transaction.
 * On refusal fills *refusal and changes nothing.
 */
extern bool AigwRateLimitAdmit(AigwRlRequirement *reqs, int n,
							   const pg_uuid_t *task_id, const pg_uuid_t *attempt_id,
							   AigwRlRefusal *refusal);
/* Turns reservations into real usage: actual[i] for each requirement */
extern void AigwRateLimitReconcile(const AigwRlRequirement *reqs, int n, const int64 *actual);
/* Gives back what an admission took and never used (tokens, requests, queue slots) */
extern void AigwRateLimitRelease(const AigwRlRequirement *reqs, int n);
/* Reloads the durable record into shared memory once after a restart (first use) */
extern void AigwRateLimitEnsureLoaded(void);
/* Writes the lease rows of an admission's concurrent requirements (ratelimit_leases.c) */
extern void AigwRlInsertLeases(const AigwRlRequirement *reqs, int n, const pg_uuid_t *task_id,
							   const pg_uuid_t *attempt_id, TimestampTz now);
/* Releases the task's (or only the attempt's) unreleased leases; returns how many */
extern int64 AigwConcurrencyRelease(const pg_uuid_t *task_id, const pg_uuid_t *attempt_id);
/* Releases expired leases; returns how many */
extern int64 AigwRateLimitReleaseExpired(void);
/* Concurrency units this process's commits gave back since the last call */
extern int64 AigwRateLimitTakeLeasesReleased(void);
/* Writes changed counters to gateway_rate_limit_counters; returns rows written */
extern int64 AigwRateLimitFlush(void);
/* Gives back, at commit, the slot of a lease row released or deleted unreleased */
extern void AigwConcurrencyForget(AigwRlScope scope, const char *scope_key, int64 value);
/* Sets a queue_size gauge from a recount, at once */
extern void AigwRateLimitSetQueueGauge(AigwRlScope scope, const char *scope_key, int64 value);
/* Every counter as of now (palloc'd) */
extern AigwRlWindow *AigwRateLimitWindows(int *count);
/* Corrects drifted queue gauges from the queued tasks; -1 when not done now */
extern int64 AigwRateLimitRecountQueues(bool force);
/* Smallest remaining share (0..1) over the requirements, for quota-aware ordering */
extern double AigwRateLimitHeadroom(const AigwRlRequirement *reqs, int n);

/* jsonb forms (ratelimit_sql.c) */
/* Parses requirements (or, with grants, an admission's "grants") into reqs; returns the count */
extern int	AigwRlParseRequirements(Jsonb *j, AigwRlRequirement *reqs, bool grants);
/* The admission result as aigw.ratelimit_admit returns it */
extern Jsonb *AigwRlAdmissionJson(bool admitted, const AigwRlRequirement *reqs, int n,
								  const AigwRlRefusal *refusal);

/* GUCs */
extern int	aigw_ratelimit_slots;
extern int	aigw_ratelimit_flush_interval_ms;
extern int	aigw_ratelimit_counter_retention_s;
extern int	aigw_ratelimit_queue_recount_interval_s;

#endif							/* AIGW_RATELIMIT_H */
