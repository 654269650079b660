-- Task routes: OpenAI-compatible and EasyAI generation endpoints submit a task
-- (aigw.submit_task) and answer "pending"; aigw-http then waits on its channel.
-- Result, cancel and the console's task views read the task tables.

-- The identity as aigw.submit_task takes it.
CREATE FUNCTION aigw.http_task_identity(ident jsonb) RETURNS jsonb
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN jsonb_strip_nulls(jsonb_build_object(
    'user_id', ident->>'userId', 'gateway_user_id', ident->>'gatewayUserId',
    'tenant_id', ident->>'tenantId', 'tenant_key', ident->>'tenantKey',
    'gateway_tenant_id', ident->>'gatewayTenantId', 'api_key_id', ident->>'apiKeyId',
    'api_key_name', ident->>'apiKeyName', 'user_group_id', ident->>'userGroupId',
    'user_group_key', ident->>'userGroupKey',
    -- server-main's service token (source internal) submits as server-main
    'source', CASE ident->>'source' WHEN 'internal' THEN 'server-main' ELSE ident->>'source' END,
    'role', ident->>'role'));

-- Whether a caller may ask for simulation per request (seed 003 §13.1):
-- internal services always; API keys (sk-*) only when feature_flags
-- .request_test_mode is true for the key or its tenant; signed-in users when
-- they are power users or managers, when that flag is true for them, or when
-- aigw.allow_request_test_mode is on.
CREATE FUNCTION aigw.http_request_test_mode_allowed(ident jsonb) RETURNS boolean
  LANGUAGE sql STABLE
  RETURN CASE
    WHEN ident->>'authType' = 'internal' THEN true
    WHEN coalesce((aigw.request_gateway_config(aigw.http_task_identity(ident))
                     #>> '{feature_flags,request_test_mode}')::boolean, false) THEN true
    WHEN ident->>'authType' = 'api_key' THEN false
    WHEN coalesce((ident->>'level')::int, 0) >= 3 THEN true
    ELSE current_setting('aigw.allow_request_test_mode')::boolean
  END;

-- The request-level test mode of a call (seed 003 §13.1): the header
-- X-EasyAI-Test-Mode: simulation, or test_mode: true in the body. Returns
-- 'simulation' or NULL; a malformed value is a 400, a caller who may not
-- ask for it a 403 (AGT43).
CREATE FUNCTION aigw.http_request_test_mode(ctx aigw.http_ctx, p_request jsonb) RETURNS text
  LANGUAGE plpgsql STABLE
AS $$
DECLARE
  h text := lower(btrim(ctx.headers->>'x-easyai-test-mode'));
  b jsonb := p_request->'test_mode';
  on_header boolean;
  on_body boolean;
BEGIN
  IF h IS NOT NULL AND h <> '' THEN
    IF h NOT IN ('simulation', 'production') THEN
      RAISE EXCEPTION 'X-EasyAI-Test-Mode must be "simulation" or "production"' USING ERRCODE = 'AG400';
    END IF;
    on_header := h = 'simulation';
  END IF;
  IF b IS NOT NULL AND jsonb_typeof(b) <> 'null' THEN
    IF jsonb_typeof(b) = 'boolean' THEN
      on_body := b::text::boolean;
    ELSIF jsonb_typeof(b) = 'string' AND lower(b #>> '{}') IN ('true', 'simulation', 'false', 'production') THEN
      on_body := lower(b #>> '{}') IN ('true', 'simulation');
    ELSE
      RAISE EXCEPTION 'test_mode must be true or false' USING ERRCODE = 'AG400';
    END IF;
  END IF;
  -- an explicit header wins over the body
  IF NOT coalesce(on_header, on_body, false) THEN
    RETURN NULL;
  END IF;
  IF NOT aigw.http_request_test_mode_allowed(ctx.identity) THEN
    RAISE EXCEPTION 'request-level test mode is not allowed for this caller'
      USING ERRCODE = 'AGT43',
            HINT = 'power users, managers and internal services may use it; an API key needs feature_flags.request_test_mode';
  END IF;
  RETURN 'simulation';
END
$$;

-- The submit options of a task route's request: the channel (when the front
-- waits on it), the stream flag, the request-level test mode (checked by
-- aigw.http_request_test_mode) and what the request headers ask for.
CREATE FUNCTION aigw.http_task_options(ctx aigw.http_ctx, p_request jsonb, p_channel text, p_stream boolean)
  RETURNS jsonb
  LANGUAGE sql STABLE
  RETURN jsonb_strip_nulls(jsonb_build_object(
    'channel', p_channel, 'stream', p_stream,
    'testMode', coalesce(aigw.http_request_test_mode(ctx, p_request), ctx.headers->>'x-aigw-test-mode'),
    'platform', ctx.headers->>'x-aigw-platform',
    'idempotencyKey', ctx.headers->>'idempotency-key',
    'externalTaskId', ctx.headers->>'x-easyai-task-id',
    'routingConfig', to_jsonb(coalesce(ctx.headers->>'x-aigw-config', ctx.headers->>'x-portkey-config')),
    'routingConfigSource', CASE WHEN ctx.headers ? 'x-aigw-config' THEN 'x-aigw-config'
                                WHEN ctx.headers ? 'x-portkey-config' THEN 'x-portkey-config' END,
    'metadata', to_jsonb(ctx.headers->>'x-portkey-metadata')));

-- Submits a task for a request and returns the pending response.
CREATE FUNCTION aigw.http_submit(ctx aigw.http_ctx, p_kind text, p_request jsonb)
  RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  stream boolean := p_kind = 'chat.completions' AND coalesce(p_request->>'stream', 'false') = 'true';
  tid uuid;
BEGIN
  IF p_request ? 'stream' AND jsonb_typeof(p_request->'stream') NOT IN ('boolean', 'null') THEN
    RAISE EXCEPTION 'stream must be a boolean' USING ERRCODE = 'AG400';
  END IF;
  tid := aigw.submit_task(p_kind, p_request - 'test_mode', aigw.http_task_identity(ctx.identity),
                          aigw.http_task_options(ctx, p_request, ctx.channel, stream));
  RETURN ROW(200, jsonb_build_object('x-aigw-task-id', tid::text), NULL, tid, stream)::aigw.http_response;
END
$$;

-- POST /v1/chat/completions, /chat/completions (JSON or SSE)
CREATE FUNCTION aigw.http_h_chat(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql
  RETURN aigw.http_submit(ctx, 'chat.completions', aigw.http_body_object(ctx));

-- POST /chat/structured-output: a chat whose response_format is a JSON schema.
CREATE FUNCTION aigw.http_h_chat_structured(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
BEGIN
  IF b->'response_format' IS NULL AND b->'schema' IS NULL THEN
    RAISE EXCEPTION 'response_format (or schema) is required' USING ERRCODE = 'AG422';
  END IF;
  IF b->'response_format' IS NULL THEN
    b := b - 'schema' || jsonb_build_object('response_format', jsonb_build_object(
           'type', 'json_schema', 'json_schema', jsonb_build_object('name', 'output', 'schema', b->'schema')));
  END IF;
  RETURN aigw.http_submit(ctx, 'chat.completions', b - 'stream');
END
$$;

-- POST /v1/embeddings, /embeddings
CREATE FUNCTION aigw.http_h_embeddings(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql
  RETURN aigw.http_submit(ctx, 'embeddings', aigw.http_body_object(ctx));

-- POST /v1/images/generations, /images/generations
CREATE FUNCTION aigw.http_h_images_generations(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql
  RETURN aigw.http_submit(ctx, 'images.generations', aigw.http_body_object(ctx));

-- Parses a multipart/form-data body (base64 from the front) into a JSON object:
-- text fields as strings, files as data: URLs (image, image[], mask).
CREATE FUNCTION aigw.http_multipart_object(ctx aigw.http_ctx) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  ctype text := ctx.headers->>'content-type';
  boundary text := substring(ctype FROM '(?i)boundary="?([^";]+)"?');
  raw bytea;
  delim bytea;
  pos int;
  nxt int;
  part bytea;
  hdr_end int;
  hdrs text;
  content bytea;
  name text;
  filename text;
  ptype text;
  obj jsonb := '{}';
  val jsonb;
BEGIN
  IF ctype IS NULL OR ctype !~* '^multipart/form-data' OR boundary IS NULL THEN
    RAISE EXCEPTION 'expected multipart/form-data with a boundary' USING ERRCODE = 'AG400';
  END IF;
  IF coalesce(ctx.headers->>'x-aigw-body-encoding', '') <> 'base64' THEN
    raw := convert_to(coalesce(ctx.body, ''), 'UTF8');
  ELSE
    raw := decode(ctx.body, 'base64');
  END IF;
  delim := convert_to('--' || boundary, 'UTF8');
  pos := position(delim IN raw);
  IF pos = 0 THEN
    RAISE EXCEPTION 'multipart body has no part' USING ERRCODE = 'AG400';
  END IF;
  LOOP
    pos := pos + length(delim);
    EXIT WHEN substr(raw, pos, 2) = '\x2d2d'::bytea;          -- closing "--"
    nxt := position(delim IN substr(raw, pos));
    EXIT WHEN nxt = 0;
    part := substr(raw, pos + 2, nxt - 1 - 2 - 2);             -- skip CRLF after delimiter and before next
    hdr_end := position('\x0d0a0d0a'::bytea IN part);
    IF hdr_end = 0 THEN
      RAISE EXCEPTION 'malformed multipart part' USING ERRCODE = 'AG400';
    END IF;
    hdrs := convert_from(substr(part, 1, hdr_end - 1), 'UTF8');
    content := substr(part, hdr_end + 4);
    name := substring(hdrs FROM '(?i)name="([^"]*)"');
    filename := substring(hdrs FROM '(?i)filename="([^"]*)"');
    ptype := coalesce(substring(hdrs FROM '(?i)content-type:\s*([^\r\n;]+)'), 'application/octet-stream');
    IF name IS NOT NULL THEN
      IF filename IS NOT NULL THEN
        val := to_jsonb('data:' || ptype || ';base64,' || replace(encode(content, 'base64'), E'\n', ''));
      ELSE
        val := to_jsonb(convert_from(content, 'UTF8'));
      END IF;
      name := regexp_replace(name, '\[\]$', '');
      IF obj ? name AND filename IS NOT NULL THEN
        obj := jsonb_set(obj, ARRAY[name], CASE jsonb_typeof(obj->name) WHEN 'array' THEN obj->name || val
                                               ELSE jsonb_build_array(obj->name, val) END);
      ELSE
        obj := obj || jsonb_build_object(name, val);
      END IF;
    END IF;
    pos := pos + nxt - 1;
  END LOOP;
  -- numeric form fields the APIs expect as numbers
  IF obj->>'n' ~ '^[0-9]+$' THEN
    obj := obj || jsonb_build_object('n', (obj->>'n')::int);
  END IF;
  RETURN obj;
END
$$;

-- POST /v1/images/edits, /images/edits (multipart, or JSON with image URLs)
CREATE FUNCTION aigw.http_h_images_edits(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  IF coalesce(ctx.headers->>'content-type', '') ~* '^multipart/' THEN
    RETURN aigw.http_submit(ctx, 'images.edits', aigw.http_multipart_object(ctx));
  END IF;
  RETURN aigw.http_submit(ctx, 'images.edits', aigw.http_body_object(ctx));
END
$$;

-- POST /v1/video/generations, /video/generations: asynchronous, answers with the task id.
CREATE FUNCTION aigw.http_h_video_generations(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  body jsonb := aigw.http_body_object(ctx);
  -- answered at once (202): no channel to post the result to
  tid uuid := aigw.submit_task('videos.generations', body - 'stream' - 'test_mode',
                aigw.http_task_identity(ctx.identity), aigw.http_task_options(ctx, body, NULL, false));
BEGIN
  RETURN aigw.http_json(202, jsonb_build_object('taskId', tid, 'id', tid, 'status', 'queued',
                                                'resultUrl', '/v1/ai/result/' || tid),
                        jsonb_build_object('x-aigw-task-id', tid::text));
END
$$;

-- A task the caller may see: its own, or any for power users (404 otherwise).
CREATE FUNCTION aigw.http_visible_task(ctx aigw.http_ctx, p_param text) RETURNS aigw.gateway_tasks
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t aigw.gateway_tasks;
  v_param text := ctx.params->>p_param;
BEGIN
  IF v_param ~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
    SELECT * INTO t FROM aigw.gateway_tasks g WHERE g.id = v_param::uuid;
  ELSE
    SELECT * INTO t FROM aigw.gateway_tasks g
     WHERE g.external_task_id = v_param OR g.idempotency_key = v_param
     ORDER BY g.created_at DESC LIMIT 1;
  END IF;
  IF t.id IS NULL OR ((ctx.identity->>'level')::int < 3
                      AND t.user_id IS DISTINCT FROM coalesce(ctx.identity->>'userId', '')) THEN
    RAISE EXCEPTION 'task % not found', ctx.params->>p_param USING ERRCODE = 'AG404';
  END IF;
  RETURN t;
END
$$;

-- GET /v1/ai/result/:taskId, /ai/result/:taskId
CREATE FUNCTION aigw.http_h_task_result(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t aigw.gateway_tasks := aigw.http_visible_task(ctx, 'taskId');
  o jsonb := aigw.task_outcome_of(t);
BEGIN
  RETURN aigw.http_json(200, jsonb_strip_nulls(jsonb_build_object(
    'taskId', t.id, 'kind', t.kind, 'model', t.model, 'status', t.status,
    'result', CASE WHEN t.status = 'succeeded' THEN o->'body' END,
    'error', CASE WHEN o IS NOT NULL AND t.status <> 'succeeded' THEN o->'body'->'error' END,
    'billings', t.billings, 'attempts', t.attempt_count,
    'createdAt', t.created_at, 'finishedAt', t.finished_at)),
    jsonb_build_object('x-aigw-task-id', t.id::text));
END
$$;

-- GET /v1/ai/cancel/:taskId, POST /v1/chat/completions/cancel/:requestId (and site forms)
CREATE FUNCTION aigw.http_h_task_cancel(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  param text := CASE WHEN ctx.params ? 'taskId' THEN 'taskId' ELSE 'requestId' END;
  t aigw.gateway_tasks := aigw.http_visible_task(ctx, param);
  cancelled boolean := aigw.cancel_task(t.id, 'cancelled by ' || coalesce(ctx.identity->>'userId', 'the client'));
BEGIN
  RETURN aigw.http_json(200, jsonb_build_object('taskId', t.id, 'cancelled', cancelled,
    'status', (SELECT status FROM aigw.gateway_tasks WHERE id = t.id)));
END
$$;

-- GET /api/v1/tasks/:taskId
CREATE FUNCTION aigw.http_h_task_get(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t aigw.gateway_tasks := aigw.http_visible_task(ctx, 'taskId');
BEGIN
  RETURN aigw.http_json(200, to_jsonb(t) - 'normalized_request' || jsonb_build_object(
    'attempts', (SELECT coalesce(jsonb_agg(to_jsonb(a) - 'request_snapshot' ORDER BY a.attempt_no), '[]')
                   FROM aigw.gateway_task_attempts a WHERE a.task_id = t.id)));
END
$$;

-- GET /api/v1/tasks/:taskId/events: SSE replay after Last-Event-ID (or ?after=);
-- "retry" makes EventSource reconnect with its last id until the task ends.
CREATE FUNCTION aigw.http_h_task_events(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  t aigw.gateway_tasks := aigw.http_visible_task(ctx, 'taskId');
  after_txt text := coalesce(ctx.headers->>'last-event-id', ctx.query->>'after', '0');
  after bigint;
  out text := '';
  e record;
BEGIN
  IF after_txt !~ '^[0-9]{1,18}$' THEN
    RAISE EXCEPTION 'Last-Event-ID must be an event sequence number' USING ERRCODE = 'AG400';
  END IF;
  after := after_txt::bigint;
  FOR e IN SELECT * FROM aigw.gateway_task_events WHERE task_id = t.id AND seq > after ORDER BY seq LOOP
    out := out || format(E'id: %s\nevent: %s\ndata: %s\n\n', e.seq, e.event_type,
      jsonb_strip_nulls(jsonb_build_object('taskId', t.id, 'seq', e.seq, 'event', e.event_type,
        'status', e.status, 'phase', e.phase, 'progress', e.progress, 'message', e.message,
        'payload', e.payload, 'createdAt', e.created_at))::text);
  END LOOP;
  IF t.status IN ('succeeded', 'failed_final', 'cancelled') THEN
    out := out || format(E'event: end\ndata: {"taskId":"%s","status":"%s"}\n\n', t.id, t.status);
  ELSE
    out := E'retry: 1000\n\n' || out;
  END IF;
  RETURN ROW(200, jsonb_build_object('content-type', 'text/event-stream; charset=utf-8',
                                     'cache-control', 'no-cache'), out, NULL, false)::aigw.http_response;
END
$$;

-- The outcome of a task for aigw-http after its channel broke: the result
-- event of a terminal task, or NULL while it runs.
CREATE FUNCTION aigw.http_task_outcome(p_task uuid) RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = aigw, pg_catalog
  RETURN CASE WHEN aigw.task_outcome(p_task) IS NOT NULL THEN aigw.result_event(p_task) END;
REVOKE ALL ON FUNCTION aigw.http_task_outcome(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION aigw.http_task_outcome(uuid) TO aigw_front;
GRANT EXECUTE ON FUNCTION aigw.channel_wait(text, integer) TO aigw_front;

-- A model that no platform offers is OpenAI's 404 model_not_found.
INSERT INTO aigw.http_error_map (sqlstate, http_status, error_type, error_code) VALUES
  ('42704', 404, 'invalid_request_error', 'model_not_found');

INSERT INTO aigw.http_routes (method, pattern, handler, permission, task_kind) VALUES
  ('POST', '/v1/chat/completions', 'chat', 'basic', 'chat.completions'),
  ('POST', '/chat/completions', 'chat', 'basic', 'chat.completions'),
  ('POST', '/chat/structured-output', 'chat_structured', 'basic', 'chat.completions'),
  ('POST', '/v1/embeddings', 'embeddings', 'basic', 'embeddings'),
  ('POST', '/embeddings', 'embeddings', 'basic', 'embeddings'),
  ('POST', '/v1/images/generations', 'images_generations', 'basic', 'images.generations'),
  ('POST', '/images/generations', 'images_generations', 'basic', 'images.generations'),
  ('POST', '/v1/images/edits', 'images_edits', 'basic', 'images.edits'),
  ('POST', '/images/edits', 'images_edits', 'basic', 'images.edits'),
  ('POST', '/v1/video/generations', 'video_generations', 'basic', 'videos.generations'),
  ('POST', '/video/generations', 'video_generations', 'basic', 'videos.generations'),
  ('GET', '/v1/ai/result/:taskId', 'task_result', 'basic', NULL),
  ('GET', '/ai/result/:taskId', 'task_result', 'basic', NULL),
  ('GET', '/v1/ai/cancel/:taskId', 'task_cancel', 'basic', NULL),
  ('POST', '/v1/chat/completions/cancel/:requestId', 'task_cancel', 'basic', NULL),
  ('POST', '/chat/completions/cancel/:requestId', 'task_cancel', 'basic', NULL),
  ('GET', '/api/v1/tasks/:taskId', 'task_get', 'basic', NULL),
  ('GET', '/api/v1/tasks/:taskId/events', 'task_events', 'basic', NULL);
