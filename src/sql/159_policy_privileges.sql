-- The policy functions are for the extension owner (workers, operators, DBAs)
-- and the extension's own entry points, like the data model's: no EXECUTE for
-- PUBLIC.  apply_policy_change in particular runs SQL with its caller's rights.
REVOKE EXECUTE ON FUNCTION
  aigw.failure_category(text, integer, text),
  aigw.classify_failure(jsonb),
  aigw.retry_decision(jsonb, jsonb, jsonb),
  aigw.failover_decision(jsonb, jsonb, jsonb),
  aigw.demote_decision(jsonb, jsonb),
  aigw.bench_failover_decisions(jsonb, jsonb, jsonb, integer),
  aigw.seed_runner_policy(),
  aigw.policy_engine_checks(),
  aigw.platform_model_runtime_policy_set(uuid),
  aigw.failure_policies(uuid, text),
  aigw.explain_failure(uuid, jsonb, text),
  aigw.policy_sample_failure(text),
  aigw.policy_invariant_checks(),
  aigw.policy_checks(),
  aigw.apply_policy_change(text, boolean),
  aigw.policy_checks_tap()
FROM PUBLIC;
