-- Policy engine: failure classification and the retry / failover / hard-stop /
-- priority-demote decisions (docs/policies.md).

CREATE FUNCTION aigw.failure_category(code text, status integer, message text) RETURNS text
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_failure_category';
COMMENT ON FUNCTION aigw.failure_category(text, integer, text) IS
  'category of a failure from its error code, HTTP status (0 = none) and message';

CREATE FUNCTION aigw.classify_failure(error jsonb) RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_classify_failure';
COMMENT ON FUNCTION aigw.classify_failure(jsonb) IS
  'failure info {code, message, status, category, target, retryable, localRateLimit, localRateLimitRetryable} of an error {code, message, status, retryable, localRateLimit, localRateLimitRetryable}';

CREATE FUNCTION aigw.retry_decision(retry_policy jsonb, error jsonb,
                                    runtime_policy_override jsonb DEFAULT '{}') RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_retry_decision';
COMMENT ON FUNCTION aigw.retry_decision(jsonb, jsonb, jsonb) IS
  'retry on the same client? {retry, reason, match, info}; the override''s retryPolicy keys replace the policy''s';

CREATE FUNCTION aigw.failover_decision(runner_policy jsonb, runtime_policy_override jsonb, error jsonb)
  RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_failover_decision';
COMMENT ON FUNCTION aigw.failover_decision(jsonb, jsonb, jsonb) IS
  'fail over to the next candidate? {retry, action, reason, cooldownSeconds, match, info}; runner_policy is a gateway_runner_policies row as jsonb';

CREATE FUNCTION aigw.demote_decision(runner_policy jsonb, error jsonb) RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_demote_decision';
COMMENT ON FUNCTION aigw.demote_decision(jsonb, jsonb) IS
  'demote the candidate''s priority? {demote, reason, step, match, info}';

CREATE FUNCTION aigw.bench_failover_decisions(runner_policy jsonb, runtime_policy_override jsonb,
                                              error jsonb, n integer) RETURNS jsonb
  LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_bench_failover_decisions';
COMMENT ON FUNCTION aigw.bench_failover_decisions(jsonb, jsonb, jsonb, integer) IS
  'classifies the error and decides failover n times in C; reports decisions per second';
