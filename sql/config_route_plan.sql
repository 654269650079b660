-- Routing plans at submit (x-portkey-config / x-aigw-config, gateway_routing) and what the
-- gateway reads from the configuration: access_control, feature_flags. Nothing is committed.
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  msg text;
  hint text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  RETURN SQLSTATE || ': ' || msg || coalesce(E'\n  hint: ' || nullif(hint, ''), '');
END $$;
-- What the HTTP front answers for a request: the error's status and OpenAI-shaped body.
CREATE FUNCTION pg_temp.http(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  st text;
  msg text;
  r aigw.http_response;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
  r := aigw.http_error_response(st, msg, NULL, NULL, 'req-1');
  RETURN r.status || ' ' || r.body;
END $$;
-- Submits a chat for sim-chat with a routing config (text, as the header carries it).
CREATE FUNCTION pg_temp.submit(cfg text, identity jsonb DEFAULT '{"user_id": "rp"}', extra jsonb DEFAULT '{}',
                               request jsonb DEFAULT '{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}')
  RETURNS uuid LANGUAGE sql
  RETURN aigw.submit_task('chat.completions', request, identity,
                          jsonb_strip_nulls(jsonb_build_object('routingConfig', to_jsonb(cfg),
                                                               'routingConfigSource', 'x-portkey-config')) || extra);

-- The stored plan of each strategy (loadbalance with weights 1:0 always draws the first).
SELECT pg_temp.submit('{"strategy": {"mode": "fallback", "on_status_codes": [500]},
                             "targets": [{"platform": "simulation", "override_params": {"model": "sim-chat"}},
                                         {"provider": "openai"}],
                             "retry": {"attempts": 2}}') AS task \gset
SELECT jsonb_pretty(normalized_request->'routePlan') FROM aigw.gateway_tasks WHERE id = :'task';
SELECT pg_temp.submit('{"strategy": {"mode": "single"}, "targets": [{"platform": "simulation"}, {"provider": "openai"}]}') AS task \gset
SELECT normalized_request->'routePlan'->'targets' AS single_targets, max_attempts FROM aigw.gateway_tasks WHERE id = :'task';
SELECT pg_temp.submit('{"strategy": {"mode": "loadbalance"},
                             "targets": [{"provider": "openai", "weight": 0}, {"platform": "simulation", "weight": 1}]}') AS task \gset
SELECT normalized_request->'routePlan'->'targets' AS lb_targets, normalized_request->'routePlan'->'chosen'->>'by' AS by
  FROM aigw.gateway_tasks WHERE id = :'task';
-- A target's model need not be the request's: the estimate is of the first candidate.
SELECT pg_temp.submit('{"strategy": {"mode": "single"}, "targets": [{"platform": "simulation", "override_params": {"model": "sim-chat"}}]}',
                      request => '{"model": "my-alias", "messages": [{"role": "user", "content": "hi"}]}') AS task \gset
SELECT model, queue_key, billings->>'phase' AS phase, (billings->>'total')::numeric > 0 AS estimated
  FROM aigw.gateway_tasks WHERE id = :'task';
-- A saved config: the header names a config of the routing_configs type, resolved for the
-- caller (here saved for a tenant, so its users may name it).
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('routing_configs', 'tenant', 'rp-saved', '{"pc-sim-first": {"strategy": {"mode": "fallback"},
                                                                "targets": [{"platform": "simulation"}, {"provider": "openai"}]},
                                              "pc-broken": {"strategy": {"mode": "fallback"}, "targets": []}}');
SELECT pg_temp.submit('pc-sim-first', '{"user_id": "rp-s1", "tenant_id": "rp-saved"}') AS task \gset
SELECT normalized_request->'routePlan'->>'source' AS source, normalized_request->'routePlan'->'targets' AS saved_targets
  FROM aigw.gateway_tasks WHERE id = :'task';
SELECT pg_temp.http($$SELECT pg_temp.submit('pc-sim-first', '{"user_id": "rp-s2", "tenant_id": "other"}')$$) AS other_tenant,
       pg_temp.http($$SELECT pg_temp.submit('pc-broken', '{"user_id": "rp-s1", "tenant_id": "rp-saved"}')$$) AS broken;
-- A provider-only config is a single target.
SELECT pg_temp.submit('{"platform": "simulation"}') AS task \gset
SELECT normalized_request->'routePlan'->>'mode' AS mode FROM aigw.gateway_tasks WHERE id = :'task';
-- Conditional: metadata from x-portkey-metadata (text) or the body, params from the request.
SELECT pg_temp.submit('{"strategy": {"mode": "conditional", "conditions": [
                               {"query": {"metadata.tier": {"$eq": "gold"}}, "then": "a"},
                               {"query": {"$or": [{"params.temperature": {"$gte": 1.5}}, {"metadata.n": {"$gt": 10}}]}, "then": "b"}],
                             "default": "a"},
                             "targets": [{"name": "a", "platform": "simulation"}, {"name": "b", "platform": "simulation"}]}',
                           extra => '{"metadata": "{\"n\": \"12\"}"}') AS task \gset
SELECT normalized_request->'routePlan'->'chosen' AS chosen FROM aigw.gateway_tasks WHERE id = :'task';
SELECT aigw.route_plan_query('{"metadata.tier": "gold", "params.model": {"$regex": "^sim-", "$ne": "x"}}',
                             '{"metadata": {"tier": "gold"}, "params": {"model": "sim-chat"}}') AS matches,
       aigw.route_plan_query('{"metadata.tier": {"$nin": ["gold"]}}', '{"metadata": {}}') AS nin_on_missing,
       aigw.route_plan_query('{"metadata.tier": {"$exists": false}}', '{"metadata": {}}') AS not_exists;
-- The plan restricts the candidates: a target naming another provider has none.
SELECT rank, platform_key FROM aigw.route_candidates('sim-chat', 'chat', '{}',
  jsonb_build_object('routePlan', '{"targets": [{"provider": "openai"}, {"platform": "simulation"}]}'::jsonb));
SELECT count(*) AS none FROM aigw.route_candidates('sim-chat', 'chat', '{}',
  jsonb_build_object('routePlan', '{"targets": [{"provider": "openai"}]}'::jsonb));

-- Every violation gets its own 400.
SELECT cfg, pg_temp.http(format('SELECT pg_temp.submit(%L)', cfg)) AS answer
FROM (VALUES
  ('{"strategy": {"mode": "fallback"}'),
  ('pc-config-123'),
  ('[1, 2]'),
  ('{}'),
  ('{"strategy": {"mode": "round_robin"}, "targets": [{"provider": "openia"}], "retry": {"attempts": 9}}'),
  ('{"strategy": {"mode": "fallback"}, "targets": []}'),
  ('{"strategy": {"mode": "fallback", "on_status_codes": [99]}, "targets": [{"platform": "simulation"}]}'),
  ('{"strategy": {"mode": "fallback"}, "targets": [{"platform": 7}]}'),
  ('{"strategy": {"mode": "loadbalance"}, "targets": [{"platform": "simulation", "weight": 0}]}'),
  ('{"strategy": {"mode": "fallback"}, "targets": [{"strategy": {"mode": "single"}, "targets": [{"platform": "simulation"}]}]}'),
  ('{"strategy": {"mode": "fallback"}, "targets": [{"platform": "simulation", "retry": {"attempts": 1}}]}'),
  ('{"strategy": {"mode": "fallback"}, "targets": [{"provider": "openai", "custom_host": "https://api.example.com"}]}'),
  ('{"strategy": {"mode": "fallback"}, "targets": [{"platform": "simulation", "override_params": {"temperature": 0}}]}'),
  ('{"strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.x": 1}, "then": "zz"}]}, "targets": [{"name": "a", "platform": "simulation"}]}'),
  ('{"strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.x": 1}, "then": "a"}]}, "targets": [{"name": "a", "platform": "simulation"}]}'),
  ('{"strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.x": {"$like": 1}}, "then": "a"}], "default": "a"}, "targets": [{"name": "a", "platform": "simulation"}]}'),
  ('{"strategy": {"mode": "conditional", "conditions": [{"query": {"user.x": 1}, "then": "a"}], "default": "a"}, "targets": [{"name": "a", "platform": "simulation"}]}'),
  ('{"strategy": {"mode": "conditional", "conditions": [{"query": {"$or": []}, "then": "a"}], "default": "a"}, "targets": [{"name": "a", "platform": "simulation"}]}'),
  ('{"strategy": {"mode": "single"}, "targets": [{"provider": "openai"}]}')
) v(cfg);
SELECT pg_temp.http($$SELECT pg_temp.submit('{"platform": "simulation"}', extra => '{"metadata": "{bad"}')$$) AS bad_metadata;

-- access_control: allowed_models and blocked_models for the request's identity (403).
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('access_control', 'tenant', 'rp-t', '{"allowed_models": ["gpt-4o", "sim-chat"]}'),
  ('access_control', 'user', 'rp-u2', '{"blocked_models": ["sim-chat"]}'),
  ('access_control', 'api_key', 'rp-k3', '{"allowed_models": ["sim-embedding"]}'),
  ('feature_flags', 'user_group', 'rp-g', '{"streaming": false}');
SELECT aigw.identity_config_context('{"userId": "rp-u1", "tenantKey": "rp-t", "apiKeyId": "rp-k3", "userGroupId": "rp-g"}');
SELECT aigw.request_gateway_config('{"user_id": "rp-u1", "tenant_id": "rp-t"}')->'access_control' AS tenant_access;
SELECT who, pg_temp.http(format('SELECT pg_temp.submit(NULL, %L, request => %L)', ident, req)) AS answer
FROM (VALUES
  ('tenant allows sim-chat', '{"user_id": "rp-u1", "tenant_id": "rp-t"}', '{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}'),
  ('tenant does not list sim-image', '{"user_id": "rp-u1", "tenant_id": "rp-t"}', '{"model": "sim-image", "messages": [{"role": "user", "content": "hi"}]}'),
  ('user blocks sim-chat', '{"user_id": "rp-u2"}', '{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}'),
  ('key adds to the tenant list', '{"user_id": "rp-u1", "tenant_id": "rp-t", "api_key_id": "rp-k3"}', '{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}'),
  ('group switches streaming off', '{"user_id": "rp-u4", "user_group_key": "rp-g"}', '{"model": "sim-chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'),
  ('same group without stream', '{"user_id": "rp-u4", "user_group_key": "rp-g"}', '{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}')
) v(who, ident, req);
-- A plan's target model is checked too.
SELECT pg_temp.http($$SELECT pg_temp.submit('{"strategy": {"mode": "single"},
  "targets": [{"platform": "simulation", "override_params": {"model": "sim-image"}}]}', '{"user_id": "rp-u1", "tenant_id": "rp-t"}')$$) AS target_model;

-- gateway_routing with targets is the default plan; without targets there is none.
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('gateway_routing', 'user', 'rp-u5', '{"routing_strategy": "fallback", "retry_attempts": 1,
                                         "targets": [{"provider": "simulation", "platform": "simulation"}]}');
SELECT pg_temp.submit(NULL, '{"user_id": "rp-u5"}') AS task \gset
SELECT (normalized_request->'routePlan') - 'chosen' AS gw_plan FROM aigw.gateway_tasks WHERE id = :'task';
SELECT pg_temp.submit(NULL, '{"user_id": "rp-u6"}') AS task \gset
SELECT normalized_request ? 'routePlan' AS has_plan FROM aigw.gateway_tasks WHERE id = :'task';

-- rate_limits: the principal's requests_per_minute, tokens_per_minute and concurrency become a
-- limiter policy on its API key (else its user) that every attempt of the task is admitted under.
INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value) VALUES
  ('rate_limits', 'tenant', 'rp-t8', '{"requests_per_minute": 30, "concurrency": 2}'),
  ('rate_limits', 'api_key', 'rp-k8', '{"tokens_per_minute": 5000}');
SELECT pg_temp.submit(NULL, '{"user_id": "rp-u8", "tenant_id": "rp-t8"}') AS task \gset
SELECT normalized_request->'configRateLimits' AS user_limits FROM aigw.gateway_tasks WHERE id = :'task';
SELECT r->>'scopeType' AS scope, r->>'scopeKey' AS key, r->>'metric' AS metric, r->>'limit' AS lim
  FROM aigw.gateway_tasks t, aigw.platform_models pm,
       jsonb_array_elements(aigw.attempt_rate_limits(t, pm.id)) r
 WHERE t.id = :'task' AND pm.model_name = 'sim-chat' AND r->>'scopeType' IN ('user', 'api_key');
SELECT pg_temp.submit(NULL, '{"user_id": "rp-u8", "tenant_id": "rp-t8", "api_key_id": "rp-k8"}') AS task \gset
SELECT normalized_request->'configRateLimits' AS key_limits FROM aigw.gateway_tasks WHERE id = :'task';
-- the seeded default sets no limit the limiter enforces
SELECT pg_temp.submit(NULL, '{"user_id": "rp-u9"}') AS task \gset
SELECT normalized_request ? 'configRateLimits' AS default_has_limits FROM aigw.gateway_tasks WHERE id = :'task';

-- The outcome path: plan retry replaces the runtime policy's same-client retry; on_status_codes
-- decide the fallback; a hard stop stays a hard stop.
SELECT aigw.route_plan_outcome('{"retry": {"attempts": 2, "onStatusCodes": [500]}, "fallbackCodes": [503]}',
                               '{"status": 500}', '{"retry": false}', '{"retry": true, "action": "next"}', 1) - 'plan';
SELECT aigw.route_plan_outcome('{"retry": {"attempts": 0, "onStatusCodes": [500]}, "fallbackCodes": [503]}',
                               '{"status": 503}', '{"retry": true}', '{"retry": false, "action": "stop"}', 1) - 'plan';
SELECT aigw.route_plan_outcome('{"retry": {"attempts": 3, "onStatusCodes": [401]}, "fallbackCodes": [401]}',
                               '{"status": 401}', '{"retry": false}',
                               '{"retry": false, "action": "stop", "reason": "hard_stop_policy"}', 1) - 'plan';
ROLLBACK;
