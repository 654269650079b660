-- The live invariants (aigw.policy_invariant_checks) on this database's own
-- configuration: run on a live database, this is the check a DBA wants after
-- any change to runner policies, runtime policy sets, models or model groups.
BEGIN;
SELECT plan((SELECT count(*)::int FROM aigw.policy_invariant_checks()));
SELECT ok(c.ok, c.name) || CASE WHEN c.ok THEN '' ELSE E'\n' || diag(c.detail) END
  FROM aigw.policy_invariant_checks() c;
SELECT * FROM finish();
ROLLBACK;
