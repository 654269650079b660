-- Admin SQL API, part 3: platform API configs (seed 003 §6.3,
-- /integration/platform-api). Same error conventions as 050_admin_catalog.sql.

-- Validates the parts of an API config that have rules beyond their type.
CREATE FUNCTION aigw.check_api_config(p_method text, p_path text, p_timeout_ms int) RETURNS void
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF p_method IS NOT NULL THEN
    PERFORM require_one_of(p_method, ARRAY['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], 'method');
  END IF;
  IF p_path IS NOT NULL AND (p_path !~ '^/' OR p_path ~ '\s') THEN
    RAISE EXCEPTION 'path "%" must start with / and contain no spaces', p_path
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_timeout_ms IS NOT NULL AND (p_timeout_ms < 1 OR p_timeout_ms > 3600000) THEN
    RAISE EXCEPTION 'timeout_ms must be between 1 and 3600000, got %', p_timeout_ms
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$$;

-- Creates an API config of a platform.
CREATE FUNCTION aigw.create_platform_api_config(
  p_platform_id uuid, p_api_key text, p_name text, p_path text, p_method text DEFAULT 'POST',
  p_headers jsonb DEFAULT '{}', p_query_template jsonb DEFAULT '{}', p_body_template jsonb DEFAULT '{}',
  p_response_mapping jsonb DEFAULT '{}', p_timeout_ms int DEFAULT 60000, p_description text DEFAULT NULL,
  p_metadata jsonb DEFAULT '{}')
  RETURNS aigw.integration_platform_api_configs
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result integration_platform_api_configs;
BEGIN
  PERFORM require_key(p_api_key, 'api_key');
  PERFORM require_text(p_name, 'name');
  PERFORM require_text(p_path, 'path');
  PERFORM require_text(p_method, 'method');
  IF p_timeout_ms IS NULL THEN
    RAISE EXCEPTION 'timeout_ms is required' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM check_api_config(p_method, p_path, p_timeout_ms);
  PERFORM require_object(p_headers, 'headers');
  PERFORM require_object(p_query_template, 'query_template');
  PERFORM require_object(p_response_mapping, 'response_mapping');
  PERFORM require_object(p_metadata, 'metadata');
  IF p_body_template IS NULL THEN
    RAISE EXCEPTION 'body_template is required' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM integration_platforms WHERE id = p_platform_id AND deleted_at IS NULL) THEN
    RAISE EXCEPTION 'platform % does not exist', p_platform_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  BEGIN
    INSERT INTO integration_platform_api_configs (platform_id, api_key, name, description, method, path, headers,
                                                  query_template, body_template, response_mapping, timeout_ms,
                                                  metadata)
    VALUES (p_platform_id, p_api_key, p_name, p_description, p_method, p_path, p_headers, p_query_template,
            p_body_template, p_response_mapping, p_timeout_ms, p_metadata)
    RETURNING * INTO result;
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'platform already has an API config "%"', p_api_key USING ERRCODE = 'unique_violation';
  END;
  RETURN result;
END
$$;

-- Updates an API config; null arguments keep the current value.
CREATE FUNCTION aigw.update_platform_api_config(
  p_api_config_id uuid, p_name text DEFAULT NULL, p_path text DEFAULT NULL, p_method text DEFAULT NULL,
  p_headers jsonb DEFAULT NULL, p_query_template jsonb DEFAULT NULL, p_body_template jsonb DEFAULT NULL,
  p_response_mapping jsonb DEFAULT NULL, p_timeout_ms int DEFAULT NULL, p_description text DEFAULT NULL,
  p_status text DEFAULT NULL, p_metadata jsonb DEFAULT NULL)
  RETURNS aigw.integration_platform_api_configs
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  result integration_platform_api_configs;
BEGIN
  IF p_name IS NOT NULL THEN PERFORM require_text(p_name, 'name'); END IF;
  PERFORM check_api_config(p_method, p_path, p_timeout_ms);
  IF p_headers IS NOT NULL THEN PERFORM require_object(p_headers, 'headers'); END IF;
  IF p_query_template IS NOT NULL THEN PERFORM require_object(p_query_template, 'query_template'); END IF;
  IF p_response_mapping IS NOT NULL THEN PERFORM require_object(p_response_mapping, 'response_mapping'); END IF;
  IF p_metadata IS NOT NULL THEN PERFORM require_object(p_metadata, 'metadata'); END IF;
  IF p_status IS NOT NULL THEN PERFORM require_one_of(p_status, ARRAY['enabled', 'disabled'], 'status'); END IF;
  UPDATE integration_platform_api_configs SET
    name = coalesce(p_name, name),
    path = coalesce(p_path, path),
    method = coalesce(p_method, method),
    headers = coalesce(p_headers, headers),
    query_template = coalesce(p_query_template, query_template),
    body_template = coalesce(p_body_template, body_template),
    response_mapping = coalesce(p_response_mapping, response_mapping),
    timeout_ms = coalesce(p_timeout_ms, timeout_ms),
    description = coalesce(p_description, description),
    status = coalesce(p_status, status),
    metadata = coalesce(p_metadata, metadata),
    updated_at = now()
  WHERE id = p_api_config_id AND deleted_at IS NULL
  RETURNING * INTO result;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform API config % does not exist', p_api_config_id USING ERRCODE = 'no_data_found';
  END IF;
  RETURN result;
END
$$;

-- Soft-deletes an API config; its key becomes free for a new config.
CREATE FUNCTION aigw.delete_platform_api_config(p_api_config_id uuid) RETURNS void
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  UPDATE integration_platform_api_configs
     SET deleted_at = now(), status = 'disabled', updated_at = now(),
         api_key = api_key || '#deleted:' || id::text
   WHERE id = p_api_config_id AND deleted_at IS NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform API config % does not exist', p_api_config_id USING ERRCODE = 'no_data_found';
  END IF;
END
$$;
