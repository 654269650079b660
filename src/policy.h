/*
 * policy.h: failure classification and the retry / failover / priority-demote
 * decisions (docs/policies.md), callable from C by the task runtime.
 *
 * Policies are jsonb objects; NULL, or a jsonb that is not an object, reads
 * as {} (the SQL functions reject the latter with SQLSTATE 22023).
 * Every function allocates in CurrentMemoryContext; the strings in the
 * results point either at constants or at palloc'd copies, never into the
 * policies passed in, so the policies may be freed after the call.
 */
#ifndef AIGW_POLICY_H
#define AIGW_POLICY_H

#include "postgres.h"

#include "utils/jsonb.h"

/* A failed attempt as the runtime saw it */
typedef struct AigwFailure
{
	const char *code;			/* provider or gateway error code; NULL = none */
	const char *message;		/* error text; NULL = none */
	int			status;			/* HTTP status; 0 = none */
	bool		retryable;		/* the provider client marked it retryable */
	bool		local_rate_limit;	/* a local rate limit refused the attempt */
	bool		local_rate_limit_retryable; /* another candidate may take it */
} AigwFailure;

/* The classified failure every decision reports */
typedef struct AigwFailureInfo
{
	char	   *code;			/* trimmed, lower-cased code */
	char	   *message;		/* message as given */
	int			status;
	const char *category;		/* one of the categories in docs/policies.md */
	char	   *target;			/* lower("code category status message") */
	bool		retryable;
	bool		local_rate_limit;
	bool		local_rate_limit_retryable;
} AigwFailureInfo;

/* The rule a decision rests on; source == NULL when none matched */
typedef struct AigwRuleMatch
{
	const char *source;
	const char *policy;
	const char *rule;
	char	   *value;
} AigwRuleMatch;

/* The global runner policy (a gateway_runner_policies row) */
typedef struct AigwRunnerPolicy
{
	const char *status;			/* NULL or "" = active */
	Jsonb	   *failover_policy;	/* NULL = {} */
	Jsonb	   *hard_stop_policy;	/* NULL = {} */
	Jsonb	   *priority_demote_policy; /* NULL = {} */
} AigwRunnerPolicy;

typedef struct AigwRetryDecision
{
	bool		retry;
	const char *reason;
	AigwRuleMatch match;
} AigwRetryDecision;

typedef struct AigwFailoverDecision
{
	bool		retry;
	char	   *action;			/* stop, next, cooldown_and_next, disable_and_next, ... */
	const char *reason;
	int			cooldown_seconds;	/* 0 unless retry */
	AigwRuleMatch match;
} AigwFailoverDecision;

typedef struct AigwDemoteDecision
{
	bool		demote;
	const char *reason;
	int			step;			/* 0 unless demote */
	AigwRuleMatch match;
} AigwDemoteDecision;

/* Category of a failure from its (lower-cased) code, HTTP status and message */
extern const char *AigwFailureCategory(const char *code, int status, const char *message);

/* Classifies a failure: code, category and match target */
extern void AigwClassifyFailure(const AigwFailure *failure, AigwFailureInfo *info);

/*
 * Retry on the same client.  retry_policy is the runtime policy set's
 * retry_policy, runtime_override the platform model's runtime_policy_override
 * (its retryPolicy object, if any, is merged over retry_policy key by key).
 */
extern void AigwRetryDecide(Jsonb *retry_policy, Jsonb *runtime_override,
							const AigwFailureInfo *info, AigwRetryDecision *out);

/*
 * Fail over to the next candidate.  Only runtime_override's failoverPolicy is
 * read: a runtime override can never touch the hard-stop policy.
 */
extern void AigwFailoverDecide(const AigwRunnerPolicy *runner, Jsonb *runtime_override,
							   const AigwFailureInfo *info, AigwFailoverDecision *out);

/* Demote the candidate's priority */
extern void AigwDemoteDecide(const AigwRunnerPolicy *runner,
							 const AigwFailureInfo *info, AigwDemoteDecision *out);

/* Conversions used by the SQL functions; errors are ERRCODE_INVALID_PARAMETER_VALUE */
extern void AigwFailureFromJsonb(Jsonb *error, AigwFailure *out);
extern void AigwRunnerPolicyFromJsonb(Jsonb *row, AigwRunnerPolicy *out);
extern Jsonb *AigwFailureInfoToJsonb(const AigwFailureInfo *info);
extern Jsonb *AigwRetryDecisionToJsonb(const AigwRetryDecision *d, const AigwFailureInfo *info);
extern Jsonb *AigwFailoverDecisionToJsonb(const AigwFailoverDecision *d, const AigwFailureInfo *info);
extern Jsonb *AigwDemoteDecisionToJsonb(const AigwDemoteDecision *d, const AigwFailureInfo *info);

#endif							/* AIGW_POLICY_H */
