-- The extension's schema, roles and version function.
BEGIN;
SELECT plan(6);
SELECT has_schema('aigw');
SELECT has_function('aigw', 'version', ARRAY[]::text[]);
SELECT is(aigw.version(), (SELECT extversion FROM pg_extension WHERE extname = 'aigw'),
          'library version matches the installed extension version');
SELECT has_role('aigw_front');
SELECT function_privs_are('aigw', 'version', ARRAY[]::text[], 'aigw_front', ARRAY['EXECUTE']);
-- A SQL function is inlined into the query that calls it only when it is not
-- declared more immutable than what it calls: jsonb_build_object and its kin
-- are STABLE, so an IMMUTABLE function that calls them, or calls a STABLE or
-- volatile function of aigw, runs on its own (its own executor start-up)
-- every time.
SELECT is_empty($$
  SELECT p.proname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
   WHERE p.pronamespace = 'aigw'::regnamespace AND l.lanname = 'sql' AND p.provolatile = 'i'
     AND (coalesce(pg_get_function_sqlbody(p.oid), p.prosrc)
            ~* '\m(jsonb_build_object|jsonb_build_array|to_jsonb|jsonb_agg|jsonb_object_agg|now|current_setting)\s*\('
          OR EXISTS (SELECT 1 FROM regexp_matches(coalesce(pg_get_function_sqlbody(p.oid), p.prosrc),
                                                   'aigw\.(\w+)\s*\(', 'g') m
                       JOIN pg_proc q ON q.pronamespace = 'aigw'::regnamespace AND q.proname = m[1]
                      WHERE q.provolatile <> 'i'))
$$, 'no IMMUTABLE SQL function calls a STABLE or volatile one (it would not be inlined)');
SELECT * FROM finish();
ROLLBACK;
