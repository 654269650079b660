-- Runner policies (seed 000) and model runtime policy sets.
\set VERBOSITY terse
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<uuid>', 'g');
END $$;
BEGIN;

-- The seed row has seed 000's values.
SELECT policy_key, status, failover_policy->>'maxPlatforms' AS max_platforms,
       failover_policy->'allowStatusCodes' AS allow_status, jsonb_array_length(failover_policy->'allowKeywords') AS allow_keywords,
       hard_stop_policy->'categories' AS hard_stop_categories,
       priority_demote_policy->'codes' AS demote_codes, metadata
  FROM aigw.gateway_runner_policies WHERE policy_key = 'default-runner-v1';

-- Upserting the same key merges each JSON column with || : new top-level keys
-- win, keys not given are kept; name and description are replaced; status is not.
SELECT policy_key, name, description, status,
       failover_policy->'maxPlatforms' AS max_platforms, failover_policy->'maxDurationSeconds' AS max_duration,
       failover_policy->'actions' AS actions, failover_policy->'denyCategories' AS deny_categories,
       hard_stop_policy->'enabled' AS hard_stop_enabled, hard_stop_policy->'codes' AS hard_stop_codes,
       priority_demote_policy->'demoteStep' AS demote_step, metadata
  FROM aigw.upsert_runner_policy('default-runner-v1', 'renamed', 'new description',
         p_failover_policy => '{"maxPlatforms": 3, "actions": {"rate_limit": "next"}}',
         p_hard_stop_policy => '{"enabled": false}',
         p_priority_demote_policy => '{"demoteStep": 50}',
         p_metadata => '{"editedBy": "test"}',
         p_status => 'disabled');
-- Nested objects are replaced as a whole (|| is a top-level merge).
SELECT failover_policy->'actions' AS actions FROM aigw.gateway_runner_policies WHERE policy_key = 'default-runner-v1';
-- An empty document changes nothing.
SELECT failover_policy->'maxPlatforms' AS max_platforms, priority_demote_policy->'demoteStep' AS demote_step,
       description IS NULL AS description_cleared
  FROM aigw.upsert_runner_policy('default-runner-v1', 'renamed');

-- A new key is inserted with the given status.
SELECT policy_key, name, status, failover_policy, hard_stop_policy
  FROM aigw.upsert_runner_policy('strict-runner', 'Strict', NULL, '{"enabled": false}', '{}', '{}', '{}', 'disabled');
SELECT policy_key, status FROM aigw.set_runner_policy_status('strict-runner', 'active');

-- Errors: bad key, missing name, non-object documents, bad status, unknown policy.
SELECT pg_temp.try($$SELECT aigw.upsert_runner_policy('bad key', 'x')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runner_policy(NULL, 'x')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runner_policy('k', '')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runner_policy('k', 'x', NULL, '[]')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runner_policy('k', 'x', NULL, '{}', '"x"')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runner_policy('k', 'x', NULL, '{}', '{}', '1')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runner_policy('k', 'x', NULL, '{}', '{}', '{}', NULL)$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runner_policy('k', 'x', p_status => 'paused')$$);
SELECT pg_temp.try($$SELECT aigw.set_runner_policy_status('k', 'active')$$);
SELECT pg_temp.try($$SELECT aigw.set_runner_policy_status('strict-runner', 'on')$$);
SELECT count(*) AS policies FROM aigw.gateway_runner_policies;

-- Runtime policy sets: the default set, a new set, a merge, and errors.
SELECT policy_key, retry_policy->'maxAttempts' AS max_attempts, auto_disable_policy->'statusCodes' AS auto_disable_status,
       rate_limit_policy->'rules' AS rules, priority_demote_keywords
  FROM aigw.model_runtime_policy_sets WHERE policy_key = 'default-runtime-v1';
SELECT policy_key, name, retry_policy, rate_limit_policy, priority_demote_keywords, status
  FROM aigw.upsert_runtime_policy_set('fast-fail', 'Fast fail', 'no retries',
         p_retry_policy => '{"enabled": false, "maxAttempts": 1}',
         p_rate_limit_policy => '{"rules": [{"metric": "rpm", "limit": 10, "windowSeconds": 60}]}',
         p_priority_demote_keywords => '["timeout"]');
SELECT name, description, retry_policy, priority_demote_keywords, metadata
  FROM aigw.upsert_runtime_policy_set('fast-fail', 'Fast fail v2', p_retry_policy => '{"maxAttempts": 2}',
                                      p_metadata => '{"owner": "ops"}');
SELECT pg_temp.try($$SELECT aigw.upsert_runtime_policy_set('x', 'x', p_retry_policy => '{"hardStopPolicy": {}}')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runtime_policy_set('x', 'x', p_auto_disable_policy => '{"a": {"hardStopPolicy": 1}}')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runtime_policy_set('x', 'x', p_priority_demote_keywords => '"timeout"')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runtime_policy_set('x', 'x', p_priority_demote_keywords => '[1]')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runtime_policy_set('x', 'x', p_rate_limit_policy => '[]')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runtime_policy_set('x', 'x', p_status => 'gone')$$);
SELECT pg_temp.try($$SELECT aigw.upsert_runtime_policy_set('x y', 'x')$$);
SELECT pg_temp.try($$SELECT aigw.delete_runtime_policy_set('default-runtime-v1')$$);
SELECT pg_temp.try($$SELECT aigw.delete_runtime_policy_set('no-such-set')$$);
-- A set in use cannot be deleted; an unused one can.
SELECT pg_temp.try($$SELECT aigw.update_platform((SELECT id FROM aigw.integration_platforms WHERE platform_key = 'simulation'),
                                                 p_runtime_policy_key => 'fast-fail')$$);
SELECT pg_temp.try($$SELECT aigw.delete_runtime_policy_set('fast-fail')$$);
SELECT pg_temp.try($$SELECT aigw.update_platform((SELECT id FROM aigw.integration_platforms WHERE platform_key = 'simulation'),
                                                 p_runtime_policy_key => 'default-runtime-v1')$$);
SELECT pg_temp.try($$SELECT aigw.delete_runtime_policy_set('fast-fail')$$);
SELECT policy_key FROM aigw.model_runtime_policy_sets ORDER BY 1;
ROLLBACK;
