-- HTTP entry: response type, the SQLSTATE -> HTTP error map, the route table and
-- aigw.http_request, the one call aigw-http makes per request.

CREATE TYPE aigw.http_response AS (
  status  int,
  headers jsonb,
  body    text,
  task_id uuid,
  stream  bool
);
COMMENT ON TYPE aigw.http_response IS
  'answer of aigw.http_request: complete (body set) or pending (task_id set, body null)';

-- What the handlers see of a request.
CREATE TYPE aigw.http_ctx AS (
  method     text,
  path       text,
  route      text,
  params     jsonb,
  query      jsonb,
  headers    jsonb,
  body       text,
  identity   jsonb,
  channel    text,
  request_id text
);

-- The one place where SQLSTATEs become HTTP statuses and OpenAI error types.
-- A row whose sqlstate ends in '000' also covers its whole class.
CREATE TABLE aigw.http_error_map (
  sqlstate    text PRIMARY KEY CHECK (sqlstate ~ '^[0-9A-Z]{5}$'),
  http_status int  NOT NULL CHECK (http_status BETWEEN 400 AND 599),
  error_type  text NOT NULL,
  error_code  text NOT NULL,
  public_message boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE aigw.http_error_map IS
  'SQLSTATE to HTTP status and OpenAI error type/code; class rows (NN000) cover their class';

INSERT INTO aigw.http_error_map (sqlstate, http_status, error_type, error_code, public_message) VALUES
  -- aigw's own states (class AG): raise these from any concern
  ('AG400', 400, 'invalid_request_error', 'invalid_request', true),
  ('AG401', 401, 'authentication_error', 'invalid_api_key', true),
  ('AG402', 402, 'insufficient_quota', 'insufficient_balance', true),
  ('AG403', 403, 'permission_error', 'permission_denied', true),
  ('AG404', 404, 'not_found_error', 'not_found', true),
  ('AG405', 405, 'invalid_request_error', 'method_not_allowed', true),
  ('AG409', 409, 'conflict_error', 'conflict', true),
  ('AG413', 413, 'invalid_request_error', 'request_too_large', true),
  ('AG422', 422, 'invalid_request_error', 'unprocessable_entity', true),
  ('AG429', 429, 'rate_limit_error', 'rate_limit_exceeded', true),
  ('AG500', 500, 'server_error', 'internal_error', true),
  ('AG502', 502, 'upstream_error', 'bad_gateway', true),
  ('AG503', 503, 'service_unavailable', 'service_unavailable', true),
  ('AG504', 504, 'timeout_error', 'upstream_timeout', true),
  -- the wallet's states (src/sql/270_wallet.sql)
  ('AGW01', 402, 'insufficient_quota', 'insufficient_balance', true),
  ('AGW02', 403, 'permission_error', 'wallet_unavailable', true),
  -- the configuration's states (src/sql/145_config_gateway.sql, 305_route_plan.sql)
  ('AGC40', 400, 'invalid_request_error', 'invalid_config', true),
  ('AGC41', 403, 'permission_error', 'model_not_allowed', true),
  ('AGC42', 403, 'permission_error', 'feature_disabled', true),
  -- request-level test mode (src/sql/430_http_tasks.sql)
  ('AGT43', 403, 'permission_error', 'test_mode_not_allowed', true),
  -- PostgreSQL's states
  ('22000', 400, 'invalid_request_error', 'invalid_value', true),
  ('22P02', 400, 'invalid_request_error', 'invalid_value', true),
  ('22023', 400, 'invalid_request_error', 'invalid_parameter', true),
  ('23000', 409, 'conflict_error', 'conflict', true),
  ('23505', 409, 'conflict_error', 'already_exists', true),
  ('23502', 422, 'invalid_request_error', 'missing_value', true),
  ('23503', 422, 'invalid_request_error', 'unknown_reference', true),
  ('23514', 422, 'invalid_request_error', 'constraint_violation', true),
  ('28000', 401, 'authentication_error', 'invalid_api_key', true),
  ('28P01', 401, 'authentication_error', 'invalid_credentials', true),
  ('42501', 403, 'permission_error', 'permission_denied', true),
  ('P0002', 404, 'not_found_error', 'not_found', true),
  ('40000', 503, 'service_unavailable', 'retry', true),
  ('53000', 503, 'service_unavailable', 'insufficient_resources', true),
  ('54000', 413, 'invalid_request_error', 'request_too_large', true),
  ('55P03', 409, 'conflict_error', 'locked', true),
  ('57014', 504, 'timeout_error', 'statement_timeout', true);

-- Route table. Static paths win over :param paths; among :param paths, a static
-- segment beats a parameter at the first position where they differ (routes.c).
CREATE TABLE aigw.http_routes (
  method     text NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
  pattern    text NOT NULL CHECK (pattern ~ '^/[A-Za-z0-9_./:-]*$'),
  handler    text NOT NULL,
  permission text NOT NULL CHECK (permission IN ('public', 'basic', 'creat', 'power', 'manager')),
  admin_only boolean NOT NULL DEFAULT false,
  task_kind  text,
  description text,
  PRIMARY KEY (method, pattern)
);
COMMENT ON TABLE aigw.http_routes IS
  'routes of aigw-http: static patterns match before :param patterns (seed 003 section 6.1)';
CREATE FUNCTION aigw.http_routes_changed() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'aigw_http_routes_changed';
CREATE TRIGGER http_routes_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON aigw.http_routes
  FOR EACH STATEMENT EXECUTE FUNCTION aigw.http_routes_changed();
COMMENT ON COLUMN aigw.http_routes.admin_only IS
  'also requires a global administrator (manager/admin role), seed 003 section 6.2';

-- Permission level of a role or permission name; unknown names rank lowest.
CREATE FUNCTION aigw.http_level(name text) RETURNS int
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE lower(name)
    WHEN 'public' THEN 0 WHEN 'basic' THEN 1 WHEN 'user' THEN 1
    WHEN 'creat' THEN 2 WHEN 'creator' THEN 2
    WHEN 'power' THEN 3 WHEN 'operator' THEN 3
    WHEN 'manager' THEN 4 WHEN 'admin' THEN 4
    ELSE 0 END;

-- Finds the route of a request (C, with the table cached per backend).
CREATE FUNCTION aigw.http_route(method text, path text,
                                OUT pattern text, OUT handler text, OUT permission text,
                                OUT admin_only boolean, OUT task_kind text, OUT params jsonb,
                                OUT allowed text)
  LANGUAGE c STABLE STRICT
  AS 'MODULE_PATHNAME', 'aigw_http_route';
COMMENT ON FUNCTION aigw.http_route(text, text) IS
  'route of (method, path): static patterns first, then :param patterns; else the allowed methods';

-- A JSON response.
CREATE FUNCTION aigw.http_json(p_status int, p_body jsonb, p_headers jsonb DEFAULT '{}')
  RETURNS aigw.http_response
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN ROW(p_status, jsonb_build_object('content-type', 'application/json') || p_headers,
             p_body::text, NULL::uuid, false)::aigw.http_response;

-- The OpenAI-shaped error body.
CREATE FUNCTION aigw.http_error_body(p_message text, p_type text, p_code text, p_param text DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN jsonb_build_object('error', jsonb_build_object('message', p_message, 'type', p_type,
                                                        'param', p_param, 'code', p_code));

-- Turns an error into a response through aigw.http_error_map.
CREATE FUNCTION aigw.http_error_response(p_sqlstate text, p_message text, p_detail text, p_hint text,
                                         p_request_id text)
  RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  m aigw.http_error_map;
  hdrs jsonb := '{}';
  msg text := p_message;
  retry text;
BEGIN
  SELECT * INTO m FROM aigw.http_error_map WHERE sqlstate = p_sqlstate;
  IF NOT FOUND THEN
    SELECT * INTO m FROM aigw.http_error_map WHERE sqlstate = substr(p_sqlstate, 1, 2) || '000';
  END IF;
  IF NOT FOUND THEN
    m := ROW(p_sqlstate, 500, 'server_error', 'internal_error', false)::aigw.http_error_map;
  END IF;
  IF NOT m.public_message THEN
    RAISE LOG 'aigw http request % failed: % (SQLSTATE %)', p_request_id, p_message, p_sqlstate;
    msg := 'internal error (request ' || coalesce(p_request_id, '?') || ')';
  END IF;
  retry := substring(p_hint FROM '(?i)retry-after[:= ]+([0-9]+)');
  IF retry IS NULL AND m.http_status IN (429, 503) THEN
    retry := '1';
  END IF;
  IF retry IS NOT NULL THEN
    hdrs := jsonb_build_object('retry-after', retry);
  END IF;
  IF m.http_status = 401 THEN
    hdrs := hdrs || jsonb_build_object('www-authenticate', 'Bearer realm="aigw"');
  END IF;
  IF m.http_status = 405 AND p_detail IS NOT NULL THEN
    hdrs := hdrs || jsonb_build_object('allow', p_detail);
  END IF;
  RETURN aigw.http_json(m.http_status, aigw.http_error_body(msg, m.error_type, m.error_code), hdrs);
END
$$;

REVOKE ALL ON FUNCTION aigw.http_error_response(text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION aigw.http_error_response(text, text, text, text, text) TO aigw_front;

-- Parses the request body as a JSON object (400 when it is not one).
CREATE FUNCTION aigw.http_body_object(ctx aigw.http_ctx) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  j jsonb;
BEGIN
  IF ctx.body IS NULL OR btrim(ctx.body) = '' THEN
    RAISE EXCEPTION 'the request body must be a JSON object' USING ERRCODE = 'AG400';
  END IF;
  BEGIN
    j := ctx.body::jsonb;
  EXCEPTION WHEN invalid_text_representation OR invalid_parameter_value THEN
    RAISE EXCEPTION 'the request body is not valid JSON' USING ERRCODE = 'AG400';
  END;
  IF jsonb_typeof(j) <> 'object' THEN
    RAISE EXCEPTION 'the request body must be a JSON object' USING ERRCODE = 'AG400';
  END IF;
  RETURN j;
END
$$;
