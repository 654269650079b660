# Task runtime end to end against a mock OpenAI-compatible provider on
# loopback: failover with both attempts recorded, retry disabled, streams
# through an event channel, a long stream's memory, 429 with cooldown, timeout,
# malformed JSON, truncated stream, and simulation profiles.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use AigwTest;

my ($mock, $port) = aigw_mock();
my $node = aigw_node('runtime', conf => "aigw.launcher_naptime = 200\naigw.workers = 2\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"),
	'the launcher starts aigw.workers task workers');

$node->safe_psql('postgres', <<"SQL");
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('tap-openai', 'TAP OpenAI', 'openai_compatible', 'active'),
       ('tap-sim', 'TAP simulation', 'simulation', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials, priority, config)
VALUES ('tap-openai', 'bad', 'Bad', 'http://127.0.0.1:$port/v1', '{"apiKey":"sk-mock"}', 10,
        '{"modelMap": {"gpt-tap": "mock-500", "gpt-429": "mock-429", "gpt-timeout": "mock-timeout",
                       "gpt-malformed": "mock-malformed", "gpt-truncated": "mock-truncated",
                       "gpt-401": "mock-401"}, "timeoutMs": 800}'),
       ('tap-openai', 'good', 'Good', 'http://127.0.0.1:$port/v1', '{"apiKey":"sk-mock"}', 20, '{}'),
       ('tap-sim', 'sim-1', 'Sim 1', NULL, '{}', 10, '{}'),
       ('tap-sim', 'sim-2', 'Sim 2', NULL, '{}', 20, '{}');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT p.id, m, 'chat', m, 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms p,
       unnest(ARRAY['gpt-tap', 'gpt-429', 'gpt-timeout', 'gpt-malformed', 'gpt-truncated', 'gpt-401']) m
 WHERE p.platform_key IN ('bad', 'good');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT p.id, 'tap-sim-chat', 'chat', 'sim', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms p WHERE p.platform_key IN ('sim-1', 'sim-2');
SQL

# Submits a chat task (own transaction), waits for it, returns its outcome status.
sub run_task
{
	my ($model, %o) = @_;
	my $req = $o{request} // qq({"model": "$model", "messages": [{"role": "user", "content": "hi"}]});
	my $opts = $o{options} // '{}';
	my $id = $node->safe_psql('postgres',
		"SELECT aigw.submit_task('chat.completions', '$req', '{\"user_id\": \"tap\"}', '$opts')");
	my $status = $node->safe_psql('postgres', "SELECT aigw.await_task('$id', 15000)->>'status'");
	return ($id, $status);
}

# Puts the failing platform back first in line (failures demote it).
sub reset_bad
{
	$node->safe_psql('postgres', "UPDATE aigw.integration_platforms SET status = 'enabled', "
		. "cooldown_until = NULL, dynamic_priority = NULL WHERE platform_key = 'bad'");
}

sub attempts
{
	my ($id) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(a.attempt_no || ':' || p.platform_key || ':' || a.status
		                  || coalesce(':' || a.error_code, ''), ' ' ORDER BY a.attempt_no)
		  FROM aigw.gateway_task_attempts a JOIN aigw.integration_platforms p ON p.id = a.platform_id
		 WHERE a.task_id = '$id'});
}

# Failover: bad answers 500 (retried once on the same client), then good succeeds.
my ($id, $status) = run_task('gpt-tap');
is($status, 'succeeded', 'a chat task fails over from a failing platform to a healthy one');
is(attempts($id), '1:bad:failed:server_error 2:bad:failed:server_error 3:good:succeeded',
	'every attempt is recorded: retry on the same client, then the next candidate');
like($node->safe_psql('postgres', qq{
	SELECT response_snapshot->'failoverDecision'->'match'->>'rule' FROM aigw.gateway_task_attempts
	 WHERE task_id = '$id' AND attempt_no = 2}), qr/^allow/, 'the failed attempt records the matched failover rule');
is($node->safe_psql('postgres', "SELECT billings->'usage'->>'total_tokens' FROM aigw.gateway_tasks WHERE id = '$id'"),
	'15', 'the billing of the task carries the provider usage');
is($node->safe_psql('postgres', "SELECT string_agg(event_type, ',' ORDER BY seq) FROM aigw.gateway_task_events WHERE task_id = '$id'"),
	'queue_status,queue_status,queue_status,queue_status,queue_status,completed',
	'each state change is an event with a per-task sequence (started at submit: no queued event)');

is($node->safe_psql('postgres', "SELECT dynamic_priority FROM aigw.integration_platforms WHERE platform_key = 'bad'"),
	'210', 'each provider_5xx failure demotes the platform by demoteStep (100)');
reset_bad();

# Retry and failover disabled by the platform model's runtime override: failed_final at once.
$node->safe_psql('postgres', q{UPDATE aigw.platform_models SET runtime_policy_override =
	'{"retryPolicy": {"enabled": false}, "failoverPolicy": {"enabled": false}}'
	WHERE model_name = 'gpt-tap' AND platform_id = (SELECT id FROM aigw.integration_platforms WHERE platform_key = 'bad')});
($id, $status) = run_task('gpt-tap');
is($status, 'failed_final', 'with retry and failover disabled the same failure ends failed_final');
is(attempts($id), '1:bad:failed:server_error', 'only one attempt was made');
is($node->safe_psql('postgres', "SELECT aigw.task_outcome('$id')->>'httpStatus'"), '502',
	'a provider 5xx surfaces as 502 Bad Gateway');

# Streaming through an event channel, chunks before the result, [DONE] handled.
reset_bad();
$node->safe_psql('postgres', "SELECT count(*) FROM aigw.channel_wait('tap-ch', 0)");
($id) = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "gpt-tap", "stream": true, "messages": [{"role": "user", "content": "hi"}]}',
	'{"user_id": "tap"}', '{"channel": "tap-ch", "platform": "good"}')});
my $events = '';
for (1 .. 50)
{
	$events .= $node->safe_psql('postgres', "SELECT string_agg(event, ',') FROM aigw.channel_wait('tap-ch', 200)") . ',';
	last if $events =~ /result/;
}
my $chunks = () = $events =~ /chunk/g;
is($chunks, 10, 'the stream delivered every chunk (role, 8 content, finish) to the channel');
like($events, qr/chunk,result/, 'the result follows the chunks');
is($node->safe_psql('postgres', "SELECT result->'choices'->0->'message'->>'content' FROM aigw.gateway_tasks WHERE id = '$id'"),
	'tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 ', 'the stream is assembled into the stored result');
is($node->safe_psql('postgres', "SELECT billings->'usage'->>'completion_tokens' FROM aigw.gateway_tasks WHERE id = '$id'"),
	'8', 'usage requested from the provider (include_usage) is billed even though the client did not ask');

# A long stream holds its content, not every chunk it read: 3,000 chunks sent
# at once, the stream held open, the worker's memory for the transfer read
# (pg_log_backend_memory_contexts) while it is in flight. Each chunk read into
# the transfer's context would be about 4.7 kB, 14 MB in all.
$node->safe_psql('postgres', <<"SQL");
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials, priority, config)
VALUES ('tap-openai', 'long', 'Long streams', 'http://127.0.0.1:$port/v1', '{"apiKey":"sk-mock"}', 10,
        '{"modelMap": {"gpt-long": "mock-long"}, "timeoutMs": 60000}');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT id, 'gpt-long', 'chat', 'long', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms WHERE platform_key = 'long';
SQL
($id) = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "gpt-long", "stream": true, "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "tap"}')});
my $held = 0;
for (1 .. 300)
{
	last if ($held) = `curl -s http://127.0.0.1:$port/call-stats` =~ /"longHeld":(\d+)/ and $held >= 1;
	select(undef, undef, undef, 0.05);
}
is($held, 1, 'the mock sent the long stream and holds it open');
sleep 1;    # the worker reads what the socket holds
my $offset = -s $node->logfile;
$node->safe_psql('postgres',
	"SELECT pg_log_backend_memory_contexts(pid) FROM pg_stat_activity WHERE backend_type = 'aigw task worker'");
my @transfer;
for (1 .. 100)
{
	@transfer = slurp_file($node->logfile, $offset) =~ /aigw transfer: (\d+) total/g;
	last if @transfer;
	select(undef, undef, undef, 0.05);
}
is(scalar(@transfer), 1, 'one transfer is in flight');
cmp_ok($transfer[0] // 0, '<', 1024 * 1024,
	"its memory is its content, not its chunks ($transfer[0] bytes for 3,000 chunks)");
`curl -s http://127.0.0.1:$port/release-long`;
is($node->safe_psql('postgres', "SELECT aigw.await_task('$id', 15000)->>'status'"), 'succeeded', 'the long stream succeeds');
is($node->safe_psql('postgres', "SELECT length(result->'choices'->0->'message'->>'content') FROM aigw.gateway_tasks WHERE id = '$id'"),
	$node->safe_psql('postgres', "SELECT sum(length('tok' || i || ' ')) FROM generate_series(0, 2999) i"),
	'and its result holds all 3,000 chunks\' content');

# 429 with Retry-After: cooldown on the platform and the next candidate answers.
reset_bad();
($id, $status) = run_task('gpt-429');
is($status, 'succeeded', '429 fails over to the next candidate');
ok($node->safe_psql('postgres', "SELECT cooldown_until > now() FROM aigw.integration_platforms WHERE platform_key = 'bad'") eq 't',
	'rate_limit puts the platform in cooldown (cooldown_and_next)');
reset_bad();

# Timeout, malformed JSON: classified and failed over.
($id, $status) = run_task('gpt-timeout');
is($status, 'succeeded', 'a provider timeout fails over');
like(attempts($id), qr/1:bad:failed:timeout/, 'the timeout is recorded as such');
reset_bad();
($id, $status) = run_task('gpt-malformed');
is($status, 'succeeded', 'a malformed JSON answer fails over');
like(attempts($id), qr/1:bad:failed:invalid_response/, 'the malformed answer is recorded as invalid_response');
reset_bad();

# A stream cut off after chunks reached the client cannot fail over.
$node->safe_psql('postgres', "SELECT count(*) FROM aigw.channel_wait('tap-ch2', 0)");
($id) = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "gpt-truncated", "stream": true, "messages": [{"role": "user", "content": "hi"}]}',
	'{"user_id": "tap"}', '{"channel": "tap-ch2", "platform": "bad"}')});
$node->safe_psql('postgres', "SELECT count(*) FROM aigw.channel_wait('tap-ch2', 100)");
is($node->safe_psql('postgres', "SELECT aigw.await_task('$id', 15000)->>'status'"), 'failed_final',
	'a truncated stream ends failed_final once chunks were sent');
like(attempts($id), qr/^1:bad:failed:stream_read_error$/, 'recorded as stream_read_error, no second attempt');

# An auth error disables the platform (disable_and_next) and the next answers.
reset_bad();
($id, $status) = run_task('gpt-401');
is($status, 'succeeded', 'an auth error fails over');
is($node->safe_psql('postgres', "SELECT status FROM aigw.integration_platforms WHERE platform_key = 'bad'"), 'exception',
	'auth_error takes the platform out of rotation');
reset_bad();

# Simulation: the first candidate fails retryably (not retried on it), the second succeeds.
($id, $status) = run_task('tap-sim-chat', request =>
	'{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "hi"}], "simulation_profile": {"failures": [{"attempt": 1, "errorCode": "server_error", "status": 503, "retryable": false}]}}');
is($status, 'succeeded', 'simulation: first candidate fails, second succeeds');
is(attempts($id), '1:sim-1:failed:server_error 2:sim-2:succeeded', 'simulation: both attempts recorded');
is($node->safe_psql('postgres', "SELECT run_mode || ':' || (result->>'simulated') FROM aigw.gateway_tasks WHERE id = '$id'"),
	'simulation:true', 'simulated tasks and results are marked');

# A simulated stream: its chunks add up to exactly the simulated answer.
$node->safe_psql('postgres', "SELECT count(*) FROM aigw.channel_wait('sim-ch', 0)");
($id) = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "tap-sim-chat", "stream": true, "messages": [{"role": "user", "content": "say three words"}]}',
	'{"user_id": "tap"}', '{"channel": "sim-ch"}')});
my $streamed = '';
for (1 .. 50)
{
	my $rows = $node->safe_psql('postgres',
		"SELECT string_agg(coalesce(data::jsonb->'choices'->0->'delta'->>'content', ''), '' ORDER BY seq) || '|' || bool_or(event = 'result') FROM aigw.channel_wait('sim-ch', 200) WHERE event = 'chunk' OR event = 'result'");
	my ($text, $done) = split /\|/, $rows, 2;
	$streamed .= $text // '';
	last if ($done // '') eq 't';
}
is($streamed, $node->safe_psql('postgres', "SELECT result->'choices'->0->'message'->>'content' FROM aigw.gateway_tasks WHERE id = '$id'"),
	'a simulated stream adds up to the simulated answer');

# For every seeded model type, the estimate of a request equals the billing of the
# same request run on the seeded simulation platform.
$node->safe_psql('postgres', q{
	CREATE TABLE est_check AS
	SELECT r.kind, r.req, aigw.estimate_billing(r.req || jsonb_build_object('kind', r.kind, 'platform', 'simulation'))->>'total' AS estimate,
	       aigw.submit_task(r.kind, r.req, '{"user_id": "est"}', '{"platform": "simulation"}') AS id
	  FROM (VALUES
	    ('chat.completions', '{"model": "sim-chat", "messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 50}'::jsonb),
	    ('chat.completions', '{"model": "sim-chat", "messages": [{"role": "user", "content": "no max_tokens"}]}'),
	    ('embeddings', '{"model": "sim-embedding", "input": ["hello", "world"]}'),
	    ('images.generations', '{"model": "sim-image", "prompt": "a cat", "n": 2, "size": "1024x1024", "quality": "high"}'),
	    ('images.edits', '{"model": "sim-image", "prompt": "a hat", "image": "data:image/png;base64,AA=="}'),
	    ('videos.generations', '{"model": "sim-video", "prompt": "waves", "seconds": 10, "resolution": "1080p", "audio": true}'),
	    ('videos.generations', '{"model": "sim-video", "prompt": "waves"}'),
	    ('audio.speech', '{"model": "sim-tts", "input": "Hello world"}')) r(kind, req)});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM est_check e JOIN aigw.gateway_tasks t ON t.id = e.id
	WHERE t.status NOT IN ('succeeded', 'failed_final', 'cancelled')}), 'the estimate-check tasks finish');
is($node->safe_psql('postgres', q{SELECT string_agg(e.kind || ' ' || coalesce(e.estimate, 'null') || ' <> ' || coalesce(t.billings->>'total', t.status), '; ')
	FROM est_check e JOIN aigw.gateway_tasks t ON t.id = e.id
	WHERE t.status <> 'succeeded' OR e.estimate IS DISTINCT FROM t.billings->>'total'}), '',
	'every seeded model type: estimate = billing of the simulated run');

# route_explain says why a platform is left out.
$node->safe_psql('postgres', "UPDATE aigw.integration_platforms SET cooldown_until = now() + interval '1 hour' WHERE platform_key = 'sim-1'");
like($node->safe_psql('postgres', q{SELECT aigw.route_explain('{"model": "tap-sim-chat", "messages": []}')->'excluded'->0->>'reason'}),
	qr/^cooldown$/, 'route_explain reports the cooldown');
$node->safe_psql('postgres', "UPDATE aigw.integration_platforms SET cooldown_until = NULL WHERE platform_key = 'sim-1'");

# Rate limits: with 2 requests per minute on the simulation platforms' client,
# the third task waits in the queue (next_run_at moved forward) instead of running.
# Hour-long windows keep a window boundary from falling inside the test.
$node->safe_psql('postgres', q{SELECT aigw.ratelimit_policy_set('platform', 'sim-1', '{"rules": [{"metric": "rpm", "limit": 2, "windowSeconds": 3600}]}');
	SELECT aigw.ratelimit_policy_set('platform', 'sim-2', '{"rules": [{"metric": "rpm", "limit": 0, "windowSeconds": 3600}]}')});
my @ids = map { $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "rl"}]}', '{"user_id": "tap"}')}) } 1 .. 3;
ok($node->poll_query_until('postgres', "SELECT count(*) = 2 FROM aigw.gateway_tasks WHERE id IN ('" . join("','", @ids) . "') AND status = 'succeeded'"),
	'two tasks pass the platform rpm limit');
sleep 1;
is($node->safe_psql('postgres', "SELECT status || ':' || (next_run_at > now()) FROM aigw.gateway_tasks WHERE id = '$ids[2]'"),
	'queued:true', 'the third waits in the queue with next_run_at moved forward');
is($node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_task_attempts WHERE task_id = '$ids[2]'"), '0',
	'no attempt was made for the waiting task');
is($node->safe_psql('postgres', "SELECT used FROM aigw.rate_limit_windows WHERE scope_type = 'platform' AND scope_key = 'sim-1' AND metric = 'rpm' AND window_seconds = 3600"),
	'2', 'the live window shows the two requests');
is($node->safe_psql('postgres', "SELECT limiter_ratio FROM aigw.client_state('sim-1/tap-sim-chat')"),
	'1', 'the client whose window is full has load 1: quota-aware order puts it last');
is($node->safe_psql('postgres', "SELECT running_count FROM aigw.client_state('sim-1/tap-sim-chat')"),
	'0', 'no task runs on it any more');
ok($node->poll_query_until('postgres', "SELECT limiter_ratio = 1 AND running_count = 0 AND last_assigned_at IS NOT NULL
	FROM aigw.runtime_client_states WHERE client_id = 'sim-1/tap-sim-chat'"),
	'the reaper copies the live client state to runtime_client_states');
is($node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_concurrency_leases WHERE released_at IS NULL"), '0',
	'every concurrency lease was released at completion');
$node->safe_psql('postgres', "SELECT aigw.cancel_task('$ids[2]')");

# Queue size at submit: a user allowed one waiting task gets 429 (SQLSTATE AG429 with a
# Retry-After hint) for a second one, and the slot comes back when the first leaves the queue.
$node->safe_psql('postgres', q{SELECT aigw.ratelimit_policy_set('user', 'qtest', '{"rules": [{"metric": "queue_size", "limit": 1}]}')});
my $q1 = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "q"}]}', '{"user_id": "qtest"}')});
sleep 1;
is($node->safe_psql('postgres', "SELECT status FROM aigw.gateway_tasks WHERE id = '$q1'"), 'queued', 'the first task waits in the queue');
my ($rc, $stdout, $stderr) = $node->psql('postgres', q{\set VERBOSITY verbose
	SELECT aigw.submit_task('chat.completions', '{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "q"}]}', '{"user_id": "qtest"}')});
like($stderr, qr/AG429/, 'a second task for that user is refused with AG429 (HTTP 429)');
like($stderr, qr/retry-after: \d+/, 'with a Retry-After hint');
$node->safe_psql('postgres', "SELECT aigw.cancel_task('$q1')");
my $q3 = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "q"}]}', '{"user_id": "qtest"}')});
like($q3, qr/^[0-9a-f-]{36}$/, 'after the first is cancelled its queue slot is free again');
$node->safe_psql('postgres', "SELECT aigw.cancel_task('$q3')");

# A deadlock while recording an outcome (forced once by a trigger) makes the
# worker retry the whole transaction: the task still succeeds, exactly once.
$node->safe_psql('postgres', q{SELECT aigw.ratelimit_policy_delete('platform', 'sim-1'), aigw.ratelimit_policy_delete('platform', 'sim-2')});
$node->safe_psql('postgres', q{
	CREATE SEQUENCE deadlock_once;
	CREATE FUNCTION force_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	  IF NEW.status = 'succeeded' AND nextval('deadlock_once') = 1 THEN
	    RAISE EXCEPTION 'deadlock forced by the test' USING ERRCODE = '40P01';
	  END IF;
	  RETURN NEW;
	END $$;
	CREATE TRIGGER force_deadlock BEFORE UPDATE ON aigw.gateway_task_attempts
	  FOR EACH ROW EXECUTE FUNCTION force_deadlock();});
($id, $status) = run_task('tap-sim-chat');
is($status, 'succeeded', 'a deadlock while recording the outcome is retried, not turned into a failure');
is($node->safe_psql('postgres', "SELECT count(*) || ':' || count(*) FILTER (WHERE status = 'succeeded') FROM aigw.gateway_task_attempts WHERE task_id = '$id'"),
	'1:1', 'one attempt, recorded once');
ok($node->log_contains(qr/transaction try 1 failed, retrying: deadlock forced by the test/), 'the retry is logged');
$node->safe_psql('postgres', 'DROP TRIGGER force_deadlock ON aigw.gateway_task_attempts');

# An outcome batch is recorded in one subtransaction; when one outcome cannot
# be recorded, the batch is recorded again one outcome at a time: that task
# ends failed_final with the reason, the others of its batch are recorded.
$node->safe_psql('postgres', q{
	CREATE FUNCTION break_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	  IF NEW.status = 'succeeded'
	     AND EXISTS (SELECT 1 FROM aigw.gateway_tasks t WHERE t.id = NEW.task_id AND t.user_id = 'tap-broken') THEN
	    RAISE EXCEPTION 'outcome broken by the test';
	  END IF;
	  RETURN NEW;
	END $$;
	CREATE TRIGGER break_outcome BEFORE UPDATE ON aigw.gateway_task_attempts
	  FOR EACH ROW EXECUTE FUNCTION break_outcome();});
my $batch = $node->safe_psql('postgres', q{
	SELECT string_agg(aigw.submit_task('chat.completions', '{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "b"}]}',
	                                   jsonb_build_object('user_id', CASE WHEN i = 3 THEN 'tap-broken' ELSE 'tap-batch' END))::text, ',')
	  FROM generate_series(1, 6) i});
ok(aigw_poll($node, 'postgres', qq{SELECT bool_and(status IN ('succeeded', 'failed_final')) FROM aigw.gateway_tasks
	WHERE id = ANY ('{$batch}'::uuid[])}), 'every task of the batch ends');
is($node->safe_psql('postgres', qq{SELECT string_agg(x, ' ' ORDER BY x) FROM (
	SELECT user_id || ':' || status || ':' || coalesce(error_code, '-') || ':' || count(*) AS x
	  FROM aigw.gateway_tasks WHERE id = ANY ('{$batch}'::uuid[]) GROUP BY user_id, status, error_code) g}),
	'tap-batch:succeeded:-:5 tap-broken:failed_final:internal_error:1',
	'the broken outcome ends its task failed_final (internal_error); the other five succeed');
like($node->safe_psql('postgres', q{SELECT error_message FROM aigw.gateway_tasks WHERE user_id = 'tap-broken'}),
	qr/could not record the outcome: outcome broken by the test/, 'with the reason');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM aigw.gateway_tasks t WHERE t.id = ANY ('{$batch}'::uuid[])
	AND t.user_id = 'tap-batch' AND t.billings->>'phase' = 'final'
	AND (SELECT count(*) FROM aigw.gateway_task_attempts a WHERE a.task_id = t.id) = 1}),
	'5', 'each of the five has one attempt and its final billing');
$node->safe_psql('postgres', 'DROP TRIGGER break_outcome ON aigw.gateway_task_attempts');

# Awaiting a task in the transaction that submitted it could only time out (it
# starts at the commit): an error says so at once.
my ($rc, $out, $err) = $node->psql('postgres', q{SELECT aigw.await_task(aigw.submit_task('chat.completions',
	'{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "tap-same-xact"}'), 60000)},
	extra_params => ['-v', 'VERBOSITY=verbose'], timeout => 30);
like($err, qr/55000: task [0-9a-f-]+ was submitted in this transaction/,
	'await_task in the submitting transaction is an error (55000), not a wait for the timeout');
is($node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_tasks WHERE user_id = 'tap-same-xact'"),
	'0', 'and the submit is rolled back with it');
my $later = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "tap-same-xact"}')});
is($node->safe_psql('postgres', "SELECT aigw.await_task('$later', 15000)->>'status'"), 'succeeded',
	'a task awaited after its submit committed succeeds');

$node->stop;
$mock->kill_kill;
done_testing();
