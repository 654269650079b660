-- The data model's tables exist with their seed rows.
SELECT policy_key, name, status, failover_policy->'actions' AS actions,
       hard_stop_policy->'codes' AS hard_stop_codes, priority_demote_policy->'demoteStep' AS demote_step
  FROM aigw.gateway_runner_policies;
SELECT policy_key, status, jsonb_array_length(priority_demote_keywords) AS keywords,
       rate_limit_policy->'rules'->0->>'metric' AS first_rule
  FROM aigw.model_runtime_policy_sets;
SELECT c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'aigw' AND c.relkind = 'r'
 ORDER BY 1;
SELECT indexname FROM pg_indexes WHERE schemaname = 'aigw' ORDER BY 1;
