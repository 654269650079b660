-- The simulation provider's response (seed 003 §13.3): the text it echoes
-- (aigw.last_user_text, in C), the usage and the injected failure.

-- aigw.last_user_text against the SQL it replaced, on ordinary and odd requests.
CREATE FUNCTION pg_temp.last_user_text_sql(request jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT CASE jsonb_typeof(m->'content')
           WHEN 'string' THEN m->>'content'
           WHEN 'array' THEN (SELECT string_agg(part->>'text', ' ')
                                FROM jsonb_array_elements(m->'content') part WHERE part ? 'text')
         END
    FROM jsonb_array_elements(request->'messages') WITH ORDINALITY e(m, i)
   WHERE m->>'role' = 'user'
   ORDER BY i DESC LIMIT 1
$$;
WITH cases(n, request) AS (VALUES
  (1, '{"messages": [{"role": "user", "content": "hi"}]}'::jsonb),
  (2, '{"messages": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "a"},
                     {"role": "user", "content": "second"}, {"role": "assistant", "content": "b"}]}'),
  (3, '{"messages": [{"role": "system", "content": "s"}]}'),
  (4, '{"messages": [{"role": "user", "content": [{"type": "text", "text": "look"},
                                                   {"type": "image_url", "image_url": {"url": "x"}},
                                                   {"type": "text", "text": "here"}]}]}'),
  (5, '{"messages": [{"role": "user", "content": [{"text": null}, {"text": "only"}, {"text": 7},
                                                   "text", {"text": {"a": 1}}, {"text": ""}]}]}'),
  (6, '{"messages": [{"role": "user", "content": "older"}, {"role": "user", "content": 42}]}'),
  (7, '{"messages": [{"role": "user", "content": []}]}'),
  (8, '{"messages": [{"role": "user"}]}'),
  (9, '{"messages": ["user", 1, null, {"role": "User", "content": "x"}, {"role": 1, "content": "y"}]}'),
  (10, '{"messages": []}'),
  (11, '{"model": "m"}'))
SELECT n, aigw.last_user_text(request) AS c_version,
       aigw.last_user_text(request) IS NOT DISTINCT FROM pg_temp.last_user_text_sql(request) AS same
  FROM cases ORDER BY n;
SELECT aigw.last_user_text(NULL) IS NULL AS null_in_null_out;

-- A chat task's simulated response: the echo, the usage from the pricing
-- estimate, and the failure its profile injects for an attempt.
WITH t AS (
  SELECT jsonb_populate_record(NULL::aigw.gateway_tasks,
           '{"id": "01000000-0000-7000-8000-000000000001", "kind": "chat.completions", "model": "sim-m",
             "request": {"model": "sim-m", "max_tokens": 20,
                         "messages": [{"role": "user", "content": "ping"}]},
             "simulation_profile": {"latencyMs": 5, "failures": [{"attempt": 2, "code": "rate_limit"}]}}') AS row)
SELECT r->>'content' AS content, r->'usage' AS usage, r->'result'->'usage' AS result_usage,
       r->'result'->'choices'->0->'message' AS message, r->'result'->>'simulated' AS simulated,
       r->'latencyMs' AS latency, r->'failure' AS failure_attempt_1,
       aigw.simulate_response(t.row, 2, '{}')->'failure' AS failure_attempt_2
  FROM t, LATERAL aigw.simulate_response(t.row, 1, '{}') r;
