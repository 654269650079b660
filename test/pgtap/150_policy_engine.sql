-- The shipped policy engine checks (aigw.policy_engine_checks): every rule of
-- the decision order against the seed 000 default policy, and the precedence
-- of runtime policy overrides.  A DBA can run this file on a live database.
BEGIN;
SELECT plan((SELECT count(*)::int FROM aigw.policy_engine_checks()));
SELECT ok(c.ok, c.name) || CASE WHEN c.ok THEN '' ELSE E'\n' || diag(c.detail) END
  FROM aigw.policy_engine_checks() c;
SELECT * FROM finish();
ROLLBACK;
