-- Admin API for platform API configs (§6.3).
\set VERBOSITY terse
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<uuid>', 'g');
END $$;
CREATE FUNCTION pg_temp.sim() RETURNS uuid LANGUAGE sql
  RETURN (SELECT id FROM aigw.integration_platforms WHERE platform_key = 'simulation');
CREATE FUNCTION pg_temp.cfg(k text) RETURNS uuid LANGUAGE sql
  RETURN (SELECT id FROM aigw.integration_platform_api_configs WHERE api_key = k AND deleted_at IS NULL);
BEGIN;
SELECT api_key, name, method, path, headers, body_template, response_mapping, timeout_ms, status
  FROM aigw.create_platform_api_config(pg_temp.sim(), 'submit', 'Submit job', '/v1/jobs',
         p_headers => '{"X-Mode": "async"}', p_body_template => '{"prompt": "{{prompt}}"}',
         p_response_mapping => '{"taskId": "$.id"}', p_timeout_ms => 5000);
SELECT api_key, method, path FROM aigw.create_platform_api_config(pg_temp.sim(), 'poll', 'Poll job', '/v1/jobs/{{id}}', 'GET');
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'submit', 'Again', '/x')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config('00000000-0000-0000-0000-000000000001', 'k', 'K', '/x')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'bad key', 'K', '/x')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', NULL, '/x')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', NULL)$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', 'x')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', '/a b')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', '/x', 'FETCH')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', '/x', p_headers => '[]')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', '/x', p_query_template => '1')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', '/x', p_response_mapping => '"a"')$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', '/x', p_body_template => NULL)$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', '/x', p_timeout_ms => 0)$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', '/x', p_timeout_ms => NULL)$$);
SELECT pg_temp.try($$SELECT aigw.create_platform_api_config(pg_temp.sim(), 'k', 'K', '/x', p_metadata => '[]')$$);
SELECT count(*) AS configs FROM aigw.integration_platform_api_configs WHERE platform_id = pg_temp.sim();
SELECT name, method, timeout_ms, status
  FROM aigw.update_platform_api_config(pg_temp.cfg('poll'), p_name => 'Poll', p_timeout_ms => 1000, p_status => 'disabled');
SELECT pg_temp.try($$SELECT aigw.update_platform_api_config(pg_temp.cfg('poll'), p_method => 'FETCH')$$);
SELECT pg_temp.try($$SELECT aigw.update_platform_api_config(pg_temp.cfg('poll'), p_path => 'nope')$$);
SELECT pg_temp.try($$SELECT aigw.update_platform_api_config(pg_temp.cfg('poll'), p_timeout_ms => 3600001)$$);
SELECT pg_temp.try($$SELECT aigw.update_platform_api_config(pg_temp.cfg('poll'), p_status => 'paused')$$);
SELECT pg_temp.try($$SELECT aigw.update_platform_api_config(pg_temp.cfg('poll'), p_headers => '[]')$$);
SELECT pg_temp.try($$SELECT aigw.update_platform_api_config(pg_temp.cfg('poll'), p_name => '')$$);
SELECT pg_temp.try($$SELECT aigw.update_platform_api_config('00000000-0000-0000-0000-000000000001', 'x')$$);
-- Soft delete frees the key; a deleted config is gone for the API.
SELECT aigw.delete_platform_api_config(pg_temp.cfg('submit'));
SELECT api_key FROM aigw.create_platform_api_config(pg_temp.sim(), 'submit', 'Submit v2', '/v2/jobs');
SELECT count(*) AS configs, count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted
  FROM aigw.integration_platform_api_configs WHERE platform_id = pg_temp.sim();
SELECT pg_temp.try($$SELECT aigw.delete_platform_api_config('00000000-0000-0000-0000-000000000001')$$);
ROLLBACK;
