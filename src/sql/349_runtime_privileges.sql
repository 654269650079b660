-- The runtime's functions (routing, submit, lease, outcomes, client states,
-- recovery) are for the extension owner, the workers and aigw's own
-- definer-rights entry points: no EXECUTE for PUBLIC. The HTTP entry grants
-- aigw_front what it may call (channel_wait, http_request, ...).
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
            WHERE p.pronamespace = 'aigw'::regnamespace AND p.proname <> 'version'
              AND has_function_privilege('public', p.oid, 'EXECUTE') LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$$;
