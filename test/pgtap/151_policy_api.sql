-- The SQL interface of the policy engine: signatures, results and bad input.
BEGIN;
SELECT plan(24);

SELECT has_function('aigw', 'classify_failure', ARRAY['jsonb']);
SELECT has_function('aigw', 'failure_category', ARRAY['text', 'integer', 'text']);
SELECT has_function('aigw', 'retry_decision', ARRAY['jsonb', 'jsonb', 'jsonb']);
SELECT has_function('aigw', 'failover_decision', ARRAY['jsonb', 'jsonb', 'jsonb']);
SELECT has_function('aigw', 'demote_decision', ARRAY['jsonb', 'jsonb']);

SELECT is(aigw.failure_category(' Invalid_API_Key ', 0, NULL), 'auth_error', 'failure_category trims and lower-cases the code');
SELECT is(aigw.failure_category(NULL, NULL, NULL), 'client_error', 'failure_category of nothing is client_error');
SELECT is(aigw.failure_category('x', 503, 'upstream Overloaded'), 'provider_overloaded', 'failure_category reads the message');
SELECT is((SELECT count(DISTINCT aigw.failure_category(c, s, m) = aigw.classify_failure(
             jsonb_build_object('code', c, 'status', s, 'message', m))->>'category')::int
             FROM unnest(ARRAY['', 'rate_limit', 'network', 'unsupported_x', 'server_error']) c,
                  unnest(ARRAY[0, 400, 401, 404, 408, 429, 500]) s,
                  unnest(ARRAY['', 'timeout', 'API key', 'overloaded']) m), 1,
          'failure_category and classify_failure agree');
SELECT is(aigw.retry_decision('{}', '{"status": 503, "retryable": true}')->>'reason', 'client_retryable',
          'retry_decision without an override');
SELECT is(aigw.retry_decision(NULL, '{"status": 503}', NULL)->>'reason', 'client_non_retryable',
          'null policies read as empty');
SELECT is(aigw.classify_failure('{"code": null, "message": null, "status": null, "retryable": null}')->>'category',
          'client_error', 'null members read as absent');
SELECT is((aigw.classify_failure('{"status": 429.0}')->>'status')::int, 429, 'an integral status in decimal notation');

SELECT throws_ok($$SELECT aigw.classify_failure('[]')$$, '22023', 'invalid failure', 'failure must be an object');
SELECT throws_ok($$SELECT aigw.classify_failure('{"statusCode": 500}')$$, '22023', 'invalid failure', 'unknown failure keys are rejected');
SELECT throws_ok($$SELECT aigw.classify_failure('{"status": "500"}')$$, '22023', 'invalid failure', 'status must be a number');
SELECT throws_ok($$SELECT aigw.classify_failure('{"status": 429.5}')$$, '22023', 'invalid failure', 'status must be an integer');
SELECT throws_ok($$SELECT aigw.classify_failure('{"status": 1000}')$$, '22023', 'invalid failure', 'status must be an HTTP status');
SELECT throws_ok($$SELECT aigw.classify_failure('{"retryable": "yes"}')$$, '22023', 'invalid failure', 'flags must be booleans');
SELECT throws_ok($$SELECT aigw.classify_failure('{"code": 5}')$$, '22023', 'invalid failure', 'code must be a string');
SELECT throws_ok($$SELECT aigw.classify_failure(NULL)$$, '22004', 'the failure must not be null', 'failure must not be null');
SELECT throws_ok($$SELECT aigw.failover_decision('{"failover_policy": []}', '{}', '{}')$$, '22023', 'invalid runner policy',
                 'runner policy members must be objects');
SELECT throws_ok($$SELECT aigw.failover_decision('{}', '"x"', '{}')$$, '22023', 'invalid runtime policy override',
                 'the override must be an object');
SELECT throws_ok($$SELECT aigw.demote_decision(NULL, '{}')$$, '22004', 'the runner policy must not be null',
                 'runner policy must not be null');

SELECT * FROM finish();
ROLLBACK;
