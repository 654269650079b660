-- The data model's functions are for the extension owner and for the
-- extension's own SECURITY DEFINER entry points: no EXECUTE for PUBLIC.
-- (Files of later ranges grant what aigw_front may call.)
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
            WHERE p.pronamespace = 'aigw'::regnamespace AND p.proname <> 'version' LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$$;
