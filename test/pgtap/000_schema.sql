-- The extension's schema, roles and version function.
BEGIN;
SELECT plan(5);
SELECT has_schema('aigw');
SELECT has_function('aigw', 'version', ARRAY[]::text[]);
SELECT is(aigw.version(), (SELECT extversion FROM pg_extension WHERE extname = 'aigw'),
          'library version matches the installed extension version');
SELECT has_role('aigw_front');
SELECT function_privs_are('aigw', 'version', ARRAY[]::text[], 'aigw_front', ARRAY['EXECUTE']);
SELECT * FROM finish();
ROLLBACK;
