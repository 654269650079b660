-- Leasing tasks to workers, simulated responses, recording attempt outcomes
-- with the policy engine's decisions, and recovery (seed 003 §8.3, §11, §13).

-- The HTTP-shaped result event of task row t, whose outcome is o
-- (aigw.task_outcome_of(t)), served by platform p (NULL when none was called).
-- An expression of its arguments, which the calling statement inlines.
CREATE FUNCTION aigw.result_event_of(t aigw.gateway_tasks, p aigw.integration_platforms, o jsonb)
  RETURNS jsonb
  LANGUAGE sql STABLE
  RETURN jsonb_build_object(
    'status', (o->>'httpStatus')::int,
    'body', o->'body',
    'headers', jsonb_strip_nulls(jsonb_build_object(
      'x-aigw-task-id', t.id::text,
      'x-aigw-provider', p.provider,
      'x-aigw-platform', p.platform_key,
      'x-aigw-attempts', t.attempt_count::text,
      'x-aigw-cost', t.billings->>'total',
      'x-aigw-simulated', CASE WHEN t.run_mode = 'simulation' THEN 'true' END)));

-- The HTTP-shaped result event of a terminal task: its row, and the platform of
-- its last attempt.
CREATE FUNCTION aigw.result_event(p_task uuid) RETURNS jsonb
  LANGUAGE sql STABLE
AS $$
  SELECT aigw.result_event_of(t, p, o)
  FROM aigw.gateway_tasks t
  CROSS JOIN LATERAL aigw.task_outcome_of(t) o
  LEFT JOIN LATERAL (SELECT a.platform_id FROM aigw.gateway_task_attempts a
                      WHERE a.task_id = t.id ORDER BY a.attempt_no DESC LIMIT 1) la ON true
  LEFT JOIN aigw.integration_platforms p ON p.id = la.platform_id
  WHERE t.id = p_task
$$;

-- Text of the last user message of a chat request: its content when a string,
-- else the "text" of its content parts joined by spaces (src/requests.c).
CREATE FUNCTION aigw.last_user_text(request jsonb) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_last_user_text';

-- Token estimate of a text (4 characters a token, at least 1).
CREATE FUNCTION aigw.estimate_tokens(t text) RETURNS bigint
  LANGUAGE sql IMMUTABLE
  RETURN greatest(1, ceil(coalesce(length(t), 0) / 4.0))::bigint;

-- The deterministic simulated response of a task's attempt (seed 003 §13.3):
-- latency, chunk interval, the failure injected for this attempt, the result
-- body in the vendor's shape, unified usage and, for chat, the content. The
-- usage is the pricing resolver's estimate of the request, so a simulated task
-- is billed exactly what it was estimated at.
CREATE FUNCTION aigw.simulate_response(t aigw.gateway_tasks, p_attempt_no int,
                                       p_capabilities jsonb DEFAULT '{}') RETURNS jsonb
  LANGUAGE plpgsql STABLE
AS $$
DECLARE
  profile jsonb := coalesce(t.simulation_profile, '{}');
  seed text := coalesce(profile->>'seed', t.simulation_seed, t.id::text);
  failure jsonb;
  content text;
  n int := coalesce((t.request->>'n')::int, (profile->>'resultCount')::int, 1);
  result jsonb;
  usage jsonb;
  created bigint := extract(epoch FROM now())::bigint;
  marks jsonb := '{"simulated": true, "assetSource": "simulation", "provider": "simulation"}';
  est jsonb;
  prompt_tokens bigint;
  completion_tokens bigint;
BEGIN
  IF profile ? 'failures' THEN
    SELECT f INTO failure FROM jsonb_array_elements(profile->'failures') f
     WHERE (f->>'attempt')::int = p_attempt_no LIMIT 1;
  END IF;
  -- the pricing resolver's estimate, when it has one, is the usage (below)
  est := aigw.estimate_usage(aigw.model_type_of_kind(t.kind), t.request, coalesce(p_capabilities, '{}'));
  IF t.kind = 'chat.completions' THEN
    content := coalesce(profile->>'content',
                        'Simulated response from ' || t.model || ': ' ||
                        coalesce(left(aigw.last_user_text(t.request), 200), ''));
    IF est IS NULL THEN
      prompt_tokens := aigw.estimate_tokens((t.request->'messages')::text);
      completion_tokens := aigw.estimate_tokens(content);
      usage := jsonb_build_object('prompt_tokens', prompt_tokens, 'completion_tokens', completion_tokens,
                                  'total_tokens', prompt_tokens + completion_tokens);
    END IF;
    result := jsonb_build_object(
      'id', 'chatcmpl-' || t.id, 'object', 'chat.completion', 'created', created, 'model', t.model,
      'choices', jsonb_build_array(jsonb_build_object(
        'index', 0, 'message', jsonb_build_object('role', 'assistant', 'content', content),
        'logprobs', NULL, 'finish_reason', 'stop')),
      'usage', CASE WHEN est IS NULL THEN usage
                    ELSE jsonb_strip_nulls(jsonb_build_object('prompt_tokens', est->'prompt_tokens',
                                                              'completion_tokens', est->'completion_tokens',
                                                              'total_tokens', est->'total_tokens')) END,
      'simulated', true, 'assetSource', 'simulation', 'provider', 'simulation');  -- the marks
  ELSIF t.kind = 'embeddings' THEN
    WITH inputs AS (
      SELECT i - 1 AS idx, x AS txt
        FROM jsonb_array_elements_text(CASE jsonb_typeof(t.request->'input')
                                         WHEN 'array' THEN t.request->'input'
                                         ELSE jsonb_build_array(t.request->'input') END)
             WITH ORDINALITY e(x, i))
    SELECT jsonb_build_object(
             'object', 'list', 'model', t.model,
             'data', jsonb_agg(jsonb_build_object(
               'object', 'embedding', 'index', idx,
               'embedding', (SELECT jsonb_agg(round(((('x' || substr(md5(seed || txt || d), 1, 8))::bit(32)::int
                                                       ::numeric) / 2147483648.0), 6))
                               FROM generate_series(1, coalesce((profile->>'dimensions')::int, 16)) d))
               ORDER BY idx)),
           sum(aigw.estimate_tokens(txt))
      INTO result, n FROM inputs;
    usage := jsonb_build_object('prompt_tokens', n, 'total_tokens', n, 'embedding_tokens', n);
    result := result || jsonb_build_object('usage', jsonb_build_object('prompt_tokens', n, 'total_tokens', n)) || marks;
  ELSIF t.kind IN ('images.generations', 'images.edits') THEN
    usage := jsonb_build_object('images', n, 'image_size', coalesce(t.request->>'size', '1024x1024'),
                                'image_quality', coalesce(t.request->>'quality', 'medium'),
                                'image_mode', CASE t.kind WHEN 'images.edits' THEN 'edit' ELSE 'generate' END);
    result := jsonb_build_object(
      'created', created,
      'data', (SELECT jsonb_agg(jsonb_build_object('url', '/static/simulation/image.png?seed=' || md5(seed || i),
                                                   'revised_prompt', t.request->>'prompt'))
                 FROM generate_series(1, n) i)) || marks;
  ELSIF t.kind = 'videos.generations' THEN
    usage := jsonb_build_object('video_seconds', coalesce((t.request->>'seconds')::numeric, (t.request->>'duration')::numeric, 5),
                                'video_resolution', coalesce(t.request->>'resolution', '720p'),
                                'video_audio', coalesce((t.request->>'audio')::boolean, false),
                                'video_reference', CASE WHEN t.request ? 'image' THEN 'image'
                                                        WHEN t.request ? 'video' THEN 'video' ELSE 'none' END);
    result := jsonb_build_object('id', 'video-' || t.id, 'object', 'video', 'status', 'completed',
                                 'created', created, 'model', t.model,
                                 'seconds', usage->'video_seconds',
                                 'data', jsonb_build_array(jsonb_build_object(
                                   'url', '/static/simulation/video.mp4?seed=' || md5(seed)))) || marks;
  ELSE
    usage := jsonb_build_object('audio_characters', length(t.request->>'input'));
    result := jsonb_build_object('object', 'audio', 'model', t.model,
                                 'url', '/static/simulation/audio.mp3?seed=' || md5(seed)) || marks;
  END IF;
  IF est IS NOT NULL THEN
    usage := est;
    IF t.kind = 'embeddings' THEN
      result := result || jsonb_build_object('usage', jsonb_strip_nulls(jsonb_build_object(
                  'prompt_tokens', est->'prompt_tokens', 'total_tokens', est->'total_tokens')));
    END IF;
  END IF;
  RETURN jsonb_strip_nulls(jsonb_build_object(
    'latencyMs', coalesce(profile->'latencyMs', '0'::jsonb),
    'chunkIntervalMs', coalesce(profile->'chunkIntervalMs', '0'::jsonb),
    'failure', failure,
    'content', content,
    'includeUsage', coalesce((t.request #>> '{stream_options,include_usage}')::boolean, false),
    'result', result,
    'usage', usage));
END;
$$;

-- The body sent to an OpenAI-compatible provider for a task: the request
-- without aigw's own fields, with the vendor's model and, streamed, with the
-- usage asked for in the last chunk. An expression of its arguments, which the
-- calling statement inlines.
CREATE FUNCTION aigw.vendor_body(t aigw.gateway_tasks, vendor_model text) RETURNS jsonb
  LANGUAGE sql STABLE
  RETURN CASE WHEN coalesce((t.normalized_request->>'stream')::boolean, false)
              THEN (t.request - 'simulation_profile' - 'test_mode' - 'platform')
                   || jsonb_build_object('model', vendor_model, 'stream', true,
                                         'stream_options', coalesce(t.request->'stream_options', '{}')
                                                           || '{"include_usage": true}')
              ELSE (t.request - 'simulation_profile' - 'test_mode' - 'platform')
                   || jsonb_build_object('model', vendor_model) END;

-- The provider path of a task kind.
CREATE FUNCTION aigw.vendor_path(kind text) RETURNS text
  LANGUAGE sql IMMUTABLE
  RETURN CASE kind
    WHEN 'chat.completions' THEN '/chat/completions'
    WHEN 'embeddings' THEN '/embeddings'
    WHEN 'images.generations' THEN '/images/generations'
    WHEN 'images.edits' THEN '/images/edits'
    WHEN 'videos.generations' THEN '/videos'
    WHEN 'audio.speech' THEN '/audio/speech'
  END;

-- The rate-limit requirements of one attempt of task t on platform model pm of
-- platform p: every scope of seed 003 §8.1 (aigw.ratelimit_requirements), RPM,
-- TPM from the prompt estimate plus max_tokens, and a concurrency lease. An
-- expression of the rows, which the calling statement inlines.
CREATE FUNCTION aigw.attempt_rate_limits_of(t aigw.gateway_tasks, pm aigw.platform_models,
                                            p aigw.integration_platforms) RETURNS jsonb
  LANGUAGE sql STABLE
  RETURN aigw.ratelimit_requirements(jsonb_strip_nulls(jsonb_build_object(
           'provider', p.provider, 'platform', p.platform_key, 'platformModel', pm.id,
           'client', p.platform_key || '/' || pm.model_name, 'baseModel', pm.base_model_id,
           'method', t.kind, 'tenant', coalesce(t.tenant_key, t.tenant_id),
           'userGroup', t.user_group_key, 'user', t.user_id, 'apiKey', t.api_key_id,
           'inputTokens', CASE WHEN pm.model_type IN ('chat', 'embedding')
                               THEN coalesce((aigw.estimate_usage(pm.model_type, t.request, pm.capabilities)->>'prompt_tokens')::bigint,
                                             aigw.estimate_tokens(t.request::text)) END,
           'maxTokens', t.request->'max_tokens',
           -- the principal's rate_limits config (305_route_plan.sql)
           'policies', CASE WHEN t.normalized_request ? 'configRateLimits'
                            THEN jsonb_build_array(t.normalized_request->'configRateLimits') END,
           'metrics', CASE WHEN pm.model_type IN ('chat', 'embedding')
                           THEN '["rpm", "tpm_total", "tpm_input", "tpm_output", "concurrent"]'::jsonb
                           ELSE '["rpm", "concurrent"]'::jsonb END)));

-- The same for the platform model with id p_platform_model.
CREATE FUNCTION aigw.attempt_rate_limits(t aigw.gateway_tasks, p_platform_model uuid) RETURNS jsonb
  LANGUAGE sql STABLE
AS $$
  SELECT aigw.attempt_rate_limits_of(t, pm, p)
    FROM aigw.platform_models pm JOIN aigw.integration_platforms p ON p.id = pm.platform_id
   WHERE pm.id = p_platform_model
$$;

-- Leases a polling task for its next poll (seed 003 §11: a task with a
-- remote_task_id is polled, never submitted again): no routing and no new
-- attempt; the attempt that submitted it is polled on its platform.
CREATE FUNCTION aigw.lease_poll(t aigw.gateway_tasks, p_worker text) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  a aigw.gateway_task_attempts;
  p aigw.integration_platforms;
  v_provider_type text;
BEGIN
  SELECT * INTO a FROM aigw.gateway_task_attempts WHERE task_id = t.id ORDER BY attempt_no DESC LIMIT 1;
  IF NOT FOUND OR t.remote_task_id IS NULL THEN
    RAISE EXCEPTION 'task % is polling without a submitted attempt', t.id USING ERRCODE = '55000';
  END IF;
  SELECT * INTO p FROM aigw.integration_platforms WHERE id = a.platform_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the platform task % was submitted to no longer exists', t.id USING ERRCODE = '55000';
  END IF;
  SELECT provider_type INTO v_provider_type FROM aigw.model_catalog_providers WHERE provider_key = p.provider;
  UPDATE aigw.gateway_tasks
     SET locked_by = p_worker, locked_at = now(), heartbeat_at = now(), updated_at = now()
   WHERE id = t.id;
  UPDATE aigw.gateway_task_attempts SET status = 'polling' WHERE id = a.id AND finished_at IS NULL;
  PERFORM aigw.client_assigned(a.client_id, p.id, p.provider, t.kind, NULL);
  RETURN jsonb_strip_nulls(jsonb_build_object(
    'task_id', t.id, 'attempt_id', a.id, 'attempt_no', a.attempt_no, 'kind', t.kind, 'model', t.model,
    'provider_model', a.request_snapshot->>'model', 'provider_type', v_provider_type,
    'poll', true, 'remote_task_id', t.remote_task_id,
    'url', rtrim(coalesce(p.base_url, ''), '/') || aigw.vendor_path(t.kind) || '/' || t.remote_task_id,
    'api_key', coalesce(p.credentials->>'apiKey', p.credentials->>'api_key'),
    'channel', t.normalized_request->>'channel',
    'simulated', a.simulated,
    'timeout_ms', coalesce((p.config->>'timeoutMs')::int, 600000)));
END;
$$;

-- What a worker needs to call the provider for attempt a of task t: the URL,
-- the vendor body, the key, the channel, the stream flags and, for a
-- simulated attempt, the simulated response. seq is the task's last event.
CREATE FUNCTION aigw.attempt_payload(t aigw.gateway_tasks, a aigw.gateway_task_attempts,
                                     p aigw.integration_platforms, pm aigw.platform_models,
                                     p_provider_type text, p_seq bigint) RETURNS jsonb
  LANGUAGE sql STABLE
AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'task_id', t.id, 'attempt_id', a.id, 'attempt_no', a.attempt_no, 'kind', t.kind,
    'model', t.model, 'provider_model', a.request_snapshot->>'model', 'provider_type', p_provider_type,
    'url', rtrim(coalesce(p.base_url, ''), '/') || aigw.vendor_path(t.kind),
    'body', CASE WHEN NOT a.simulated THEN aigw.vendor_body(t, a.request_snapshot->>'model') END,
    'api_key', coalesce(p.credentials->>'apiKey', p.credentials->>'api_key'),
    'channel', t.normalized_request->>'channel',
    'stream', coalesce((t.normalized_request->>'stream')::boolean, false),
    'client_include_usage', coalesce((t.normalized_request->>'clientIncludeUsage')::boolean, false),
    'simulated', a.simulated,
    'timeout_ms', coalesce((p.config->>'timeoutMs')::int, 600000),
    'seq', p_seq,
    'simulation_profile', CASE WHEN a.simulated THEN aigw.simulate_response(t, a.attempt_no, pm.capabilities) END))
$$;

-- Starts attempt p_attempt of task t on platform model pm of platform p, whose
-- rate limits admitted it (p_admission, p_reqs): writes the attempt, marks the
-- task running for p_worker and gives back its queue slot in the same write,
-- counts the start on the client and appends the event. With p_task_written,
-- t was written running with this attempt counted (aigw.submit_task) and is
-- not updated again. Returns the attempt's payload (aigw.attempt_payload) when
-- p_payload, else NULL.
CREATE FUNCTION aigw.start_attempt_on(t aigw.gateway_tasks, pm aigw.platform_models, p aigw.integration_platforms,
                                      p_provider_type text, p_worker text, p_attempt uuid, p_admission jsonb,
                                      p_reqs jsonb, p_payload boolean, p_task_written boolean)
  RETURNS jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  a aigw.gateway_task_attempts;
  v_no int := t.attempt_count + CASE WHEN p_task_written THEN 0 ELSE 1 END;
  v_sim boolean;
  v_client text;
  v_vendor_model text;
  v_seq bigint;
BEGIN
  v_sim := t.run_mode = 'simulation' OR coalesce(p_provider_type = 'simulation', false)
           OR coalesce(p.config->>'testMode' IN ('simulation', 'true'), false);
  v_client := p.platform_key || '/' || pm.model_name;
  v_vendor_model := p.config->'modelMap'->>pm.model_name;
  IF v_vendor_model IS NULL AND pm.base_model_id IS NOT NULL THEN
    SELECT b.provider_model_name INTO v_vendor_model FROM aigw.base_model_catalog b WHERE b.id = pm.base_model_id;
  END IF;
  v_vendor_model := coalesce(v_vendor_model, pm.model_name);

  -- a is all NULL here: its other columns take their defaults
  a.id := p_attempt;
  a.task_id := t.id;
  a.attempt_no := v_no;
  a.platform_id := p.id;
  a.platform_model_id := pm.id;
  a.client_id := v_client;
  a.queue_key := v_client;
  a.status := 'submitted';
  a.simulated := v_sim;
  a.request_snapshot := jsonb_build_object('model', v_vendor_model, 'platform', p.platform_key,
                                           'worker', p_worker, 'admission', p_admission);
  a := aigw.insert_row(a);
  IF NOT p_task_written THEN
    UPDATE aigw.gateway_tasks
       SET status = 'running', locked_by = p_worker, locked_at = now(), heartbeat_at = now(),
           attempt_count = v_no, queue_key = v_client, updated_at = now(),
           run_mode = CASE WHEN v_sim THEN 'simulation' ELSE run_mode END,
           normalized_request = normalized_request - 'queueAdmission' - 'waitsForSlot'
     WHERE id = t.id;
  END IF;
  IF coalesce((t.normalized_request #>> '{queueAdmission,admitted}')::boolean, false) THEN
    PERFORM aigw.ratelimit_release(t.normalized_request->'queueAdmission');
  END IF;
  PERFORM aigw.client_assigned(v_client, p.id, p.provider, t.kind, (1 - aigw.ratelimit_headroom(p_reqs))::numeric);
  v_seq := aigw.append_task_event(t.id, 'queue_status', 'running', 'submit', NULL,
                                  'submitted to ' || p.platform_key,
                                  jsonb_build_object('platform', p.platform_key, 'attempt', v_no,
                                                     'model', v_vendor_model), v_sim);
  IF NOT p_payload THEN
    RETURN NULL;
  END IF;
  RETURN aigw.attempt_payload(t, a, p, pm, p_provider_type, v_seq);
END;
$$;

-- The same for the platform model with id p_pm.
CREATE FUNCTION aigw.start_attempt(t aigw.gateway_tasks, p_pm uuid, p_provider_type text, p_worker text,
                                   p_attempt uuid, p_admission jsonb, p_reqs jsonb,
                                   p_payload boolean DEFAULT true, p_task_written boolean DEFAULT false)
  RETURNS jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  pm aigw.platform_models;
  p aigw.integration_platforms;
BEGIN
  SELECT * INTO pm FROM aigw.platform_models WHERE id = p_pm;
  SELECT * INTO p FROM aigw.integration_platforms WHERE id = pm.platform_id;
  RETURN aigw.start_attempt_on(t, pm, p, p_provider_type, p_worker, p_attempt, p_admission, p_reqs,
                               p_payload, p_task_written);
END;
$$;

-- Claims tasks started at submit (aigw.submit_task) and handed to worker
-- p_worker, and returns what to call for each. The claim (locked_by, a fresh
-- heartbeat) and the reaper's recovery lock the same row, so a task is either
-- claimed or recovered, never both. A task cancelled or recovered meanwhile is
-- not returned.
CREATE FUNCTION aigw.claim_started(p_ids uuid[], p_worker text) RETURNS SETOF jsonb
  LANGUAGE sql VOLATILE
AS $$
  WITH claimed AS (
    -- only a running task started at submit has locked_by 'handoff' (every path that
    -- ends or requeues a task clears locked_by); no status condition here, or the
    -- planner may read the lease index, whose dead entries grow between vacuums,
    -- instead of the primary key
    -- heartbeat_at (indexed) is refreshed only when the submit's is more than a
    -- second old, so that the claim, which then changes no indexed column, can be
    -- a HOT update: no new index entries for a task that lives a few milliseconds
    UPDATE aigw.gateway_tasks t
       SET locked_by = p_worker, locked_at = now(),
           heartbeat_at = CASE WHEN t.heartbeat_at < now() - interval '1 second' THEN now() ELSE t.heartbeat_at END
     WHERE t.id = ANY (p_ids) AND t.locked_by = 'handoff'
    RETURNING t.*
  )
  SELECT aigw.attempt_payload(ROW(c.*)::aigw.gateway_tasks, a, p, pm, cp.provider_type,
                              (SELECT max(e.seq) FROM aigw.gateway_task_events e WHERE e.task_id = c.id))
    FROM claimed c
    JOIN LATERAL (SELECT * FROM aigw.gateway_task_attempts x
                   WHERE x.task_id = c.id ORDER BY x.attempt_no DESC LIMIT 1) a ON a.finished_at IS NULL
    JOIN aigw.platform_models pm ON pm.id = a.platform_model_id
    JOIN aigw.integration_platforms p ON p.id = a.platform_id
    LEFT JOIN aigw.model_catalog_providers cp ON cp.provider_key = p.provider
$$;

-- aigw.lease_tasks: leases up to p_n runnable tasks for a worker: the tasks
-- named by p_ids (handed off at submit), else the queue in priority order; with
-- p_slots (a worker's outcomes just gave concurrency slots back) the queue
-- includes the tasks put back to wait for a slot, whatever their next_run_at. For each it
-- picks the candidate (the same client again when the retry policy said so),
-- writes the attempt and returns what the worker needs; a task with no
-- candidate left ends failed_final and is returned as terminal.
CREATE FUNCTION aigw.lease_tasks(p_worker text, p_n int, p_ids uuid[] DEFAULT NULL,
                                 p_slots boolean DEFAULT false) RETURNS SETOF jsonb
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  t aigw.gateway_tasks;
  runnable refcursor;
  c record;
  v_pm_id uuid;
  v_ptype text;
  found_candidate boolean;
  v_exclude uuid[];
  v_prefer uuid;
  v_ident jsonb;
  v_opts jsonb;
  v_attempt uuid;
  v_seq bigint;
  v_err text;
  v_admission jsonb;
  v_reqs jsonb;
  v_retry_after numeric;
  v_slot_wait boolean;
BEGIN
  -- queued tasks, and polling tasks whose next poll is due: the ones named
  -- (primary key lookups), or the queue
  IF p_ids IS NOT NULL THEN
    -- each by its primary key (OFFSET 0 keeps the status test out of the lookup, or
    -- the planner may read the queue index, whose dead entries grow between vacuums)
    OPEN runnable FOR SELECT r.* FROM unnest(p_ids) AS x(id)
                       CROSS JOIN LATERAL (SELECT * FROM aigw.gateway_tasks g WHERE g.id = x.id
                                              FOR UPDATE SKIP LOCKED OFFSET 0) r
                       WHERE r.status IN ('queued', 'polling') AND r.locked_by IS NULL AND r.next_run_at <= now()
                       ORDER BY r.priority, r.next_run_at, r.created_at;
  ELSIF p_slots THEN
    -- its own statement (and plan): the queue scan below keeps its range on next_run_at
    OPEN runnable FOR SELECT * FROM aigw.gateway_tasks
                       WHERE status IN ('queued', 'polling') AND locked_by IS NULL
                         AND (next_run_at <= now() OR normalized_request ? 'waitsForSlot')
                       ORDER BY priority, next_run_at, created_at
                       LIMIT p_n FOR UPDATE SKIP LOCKED;
  ELSE
    OPEN runnable FOR SELECT * FROM aigw.gateway_tasks
                       WHERE status IN ('queued', 'polling') AND locked_by IS NULL AND next_run_at <= now()
                       ORDER BY priority, next_run_at, created_at
                       LIMIT p_n FOR UPDATE SKIP LOCKED;
  END IF;
  LOOP
   FETCH runnable INTO t;
   EXIT WHEN NOT FOUND;
   BEGIN
    IF t.status = 'polling' THEN
      RETURN NEXT aigw.lease_poll(t, p_worker);
      CONTINUE;
    END IF;
    v_exclude := ARRAY(SELECT x::uuid FROM jsonb_array_elements_text(
                         coalesce(t.normalized_request->'exclude', '[]')) x);
    v_prefer := (t.normalized_request->>'retrySame')::uuid;
    v_ident := coalesce(t.normalized_request->'identity', '{}');
    v_opts := jsonb_strip_nulls(jsonb_build_object(
      'stream', t.normalized_request->'stream', 'platform', t.normalized_request->>'platform',
      'request', t.request || jsonb_build_object('kind', t.kind), 'routePlan', t.normalized_request->'routePlan'));
    -- the preferred client first (retry on the same client), then the routing order;
    -- each candidate must pass its rate limits (RPM, TPM, concurrency) all or nothing
    found_candidate := false;
    v_admission := NULL;
    v_retry_after := NULL;
    v_slot_wait := false;
    v_attempt := uuidv7();
    v_pm_id := NULL;
    v_ptype := NULL;
    -- a first attempt leased within a second of its submission starts on the
    -- candidate the submit routed to, when that platform model is still
    -- enabled and not cooling down: routing twice within a millisecond or two
    -- only repeats the same work
    IF t.attempt_count = 0 AND t.normalized_request ? 'routed' AND t.created_at > now() - interval '1 second' THEN
      SELECT rpm.id, rcp.provider_type INTO v_pm_id, v_ptype
        FROM aigw.platform_models rpm
        JOIN aigw.integration_platforms rp ON rp.id = rpm.platform_id
        LEFT JOIN aigw.model_catalog_providers rcp ON rcp.provider_key = rp.provider
       WHERE rpm.id = (t.normalized_request->>'routed')::uuid AND rpm.enabled
         AND rp.status = 'enabled' AND rp.deleted_at IS NULL
         AND (rp.cooldown_until IS NULL OR rp.cooldown_until <= now());
      IF FOUND THEN
        v_reqs := aigw.attempt_rate_limits(t, v_pm_id);
        v_admission := aigw.ratelimit_admit(v_reqs, t.id, NULL);
        found_candidate := (v_admission->>'admitted')::boolean;
        v_slot_wait := (v_admission->>'reason' = 'concurrency_full') IS TRUE;
      END IF;
    END IF;
    FOR c IN SELECT * FROM aigw.route_candidates(t.model, t.model_type, v_ident, v_opts, v_exclude) rc
              WHERE NOT found_candidate
              ORDER BY (rc.platform_model_id = v_prefer) DESC NULLS LAST, rc.rank
    LOOP
      -- the lease row names the task (the attempt row is written after admission)
      v_reqs := aigw.attempt_rate_limits(t, c.platform_model_id);
      v_admission := aigw.ratelimit_admit(v_reqs, t.id, NULL);
      IF (v_admission->>'admitted')::boolean THEN
        found_candidate := true;
        v_pm_id := c.platform_model_id;
        v_ptype := c.provider_type;
        EXIT;
      END IF;
      IF v_admission->>'retryAfterSeconds' IS NOT NULL THEN
        v_retry_after := least(coalesce(v_retry_after, 3600), (v_admission->>'retryAfterSeconds')::numeric);
      END IF;
      v_slot_wait := v_slot_wait OR (v_admission->>'reason' = 'concurrency_full') IS TRUE;
    END LOOP;

    IF NOT found_candidate AND v_retry_after IS NOT NULL AND t.attempt_count < t.max_attempts THEN
      -- every candidate is at its limit: wait in the queue, no busy waiting; a
      -- task that a full concurrency limit turned away waits for a slot: the
      -- next worker outcome that gives slots back leases it (p_slots), with
      -- next_run_at as the fallback
      UPDATE aigw.gateway_tasks
         SET next_run_at = now() + make_interval(secs => greatest(v_retry_after, 0.05)), updated_at = now(),
             normalized_request = (normalized_request - 'waitsForSlot')
                                  || jsonb_build_object('rateLimited', v_admission)
                                  || CASE WHEN v_slot_wait THEN '{"waitsForSlot": true}'::jsonb ELSE '{}' END
       WHERE id = t.id;
      RETURN NEXT jsonb_build_object('requeued', true, 'task_id', t.id, 'slot_wait', v_slot_wait,
                                     'delay_ms', ceil(greatest(v_retry_after, 0.05) * 1000));
      CONTINUE;
    END IF;

    IF NOT found_candidate OR t.attempt_count >= t.max_attempts THEN
      IF found_candidate THEN
        PERFORM aigw.ratelimit_release(v_admission);
        PERFORM aigw.concurrency_release(t.id);
      END IF;
      UPDATE aigw.gateway_tasks
         SET status = 'failed_final', locked_by = NULL, finished_at = now(), updated_at = now(),
             error_code = coalesce(error_code, CASE WHEN v_admission->>'reason' = 'exceeds_limit'
                                                    THEN 'request_too_large' END, 'no_available_candidate'),
             error_message = coalesce(error_message, CASE WHEN v_admission->>'reason' = 'exceeds_limit'
                                                          THEN 'the request is larger than a rate limit allows' END,
                                      'no platform is available for model ' || t.model)
       WHERE id = t.id;
      PERFORM aigw.release_task(t.id, 'failed');
      PERFORM aigw.task_leaves_queue(t.id);
      v_seq := aigw.append_task_event(t.id, 'failed', 'failed_final', 'routing', NULL,
                                      coalesce(t.error_message, 'no platform is available for model ' || t.model),
                                      jsonb_build_object('code', coalesce(t.error_code, 'no_available_candidate')),
                                      t.run_mode = 'simulation');
      RETURN NEXT jsonb_build_object('terminal', true, 'task_id', t.id,
                                     'channel', t.normalized_request->>'channel', 'seq', v_seq,
                                     'event', CASE WHEN t.normalized_request ? 'channel' THEN aigw.result_event(t.id) END);
      CONTINUE;
    END IF;

    RETURN NEXT aigw.start_attempt(t, v_pm_id, v_ptype, p_worker, v_attempt, v_admission, v_reqs);
   EXCEPTION
    WHEN deadlock_detected OR serialization_failure OR lock_not_available THEN
      RAISE;  -- transient: the worker retries the whole lease
    WHEN OTHERS THEN
    -- one broken task must not stop the queue: it ends failed_final with the reason
    GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT;
    UPDATE aigw.gateway_tasks
       SET status = 'failed_final', locked_by = NULL, finished_at = now(), updated_at = now(),
           error_code = 'internal_error', error_message = 'could not start the task: ' || v_err
     WHERE id = t.id;
    PERFORM aigw.release_task(t.id, 'failed');
    PERFORM aigw.task_leaves_queue(t.id);
    v_seq := aigw.append_task_event(t.id, 'failed', 'failed_final', 'routing', NULL,
                                    'could not start the task: ' || v_err, '{}', t.run_mode = 'simulation');
    RETURN NEXT jsonb_build_object('terminal', true, 'task_id', t.id,
                                   'channel', t.normalized_request->>'channel', 'seq', v_seq,
                                   'event', CASE WHEN t.normalized_request ? 'channel' THEN aigw.result_event(t.id) END);
   END;
  END LOOP;
  CLOSE runnable;
END;
$$;
