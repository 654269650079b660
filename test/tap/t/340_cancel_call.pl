# A task cancelled while its worker calls the provider: the worker ends the call
# at the cancel's commit — it drops the connection of a call that would hang for
# a minute and of a stream in the middle, and stops a simulated call — keeps
# what came back as the attempt's late outcome, frees the client's slot, and
# goes on with other tasks. Last, the reaper's analyze of a table that has
# outgrown its planner statistics.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);
use AigwTest;

my ($mock, $port) = aigw_mock(MOCK_CHUNKS => 60, MOCK_INTERVAL_MS => 100);

my $node = aigw_node('cancel_call', conf => "aigw.launcher_naptime = 200\naigw.workers = 2\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"), 'workers up');
$node->safe_psql('postgres', <<"SQL");
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('cc-openai', 'Cancel OpenAI', 'openai_compatible', 'active'),
       ('cc-sim', 'Cancel simulation', 'simulation', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials, config)
VALUES ('cc-openai', 'cc', 'Cancel', 'http://127.0.0.1:$port/v1', '{"apiKey":"sk-mock"}',
        '{"modelMap": {"cc-hang": "mock-timeout", "cc-stream": "mock-ok"}, "timeoutMs": 60000}'),
       ('cc-sim', 'cc-sim', 'Cancel simulation', NULL, '{}', '{}');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT p.id, m, 'chat', m, 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms p
  CROSS JOIN LATERAL unnest(CASE p.platform_key WHEN 'cc' THEN ARRAY['cc-hang', 'cc-stream']
                                                ELSE ARRAY['cc-sim-chat'] END) m
 WHERE p.platform_key IN ('cc', 'cc-sim');
-- limits out of the way of 300 calls at once (the seeded policy allows 20)
UPDATE aigw.platform_models SET rate_limit_policy = '{"rules": [{"metric": "rpm", "limit": 100000, "windowSeconds": 60},
  {"metric": "concurrent", "limit": 10000}, {"metric": "queue_size", "limit": 10000}]}' WHERE model_name = 'cc-sim-chat';
SQL

# Submits a chat task; returns its id.
sub submit
{
	my ($request) = @_;
	return $node->safe_psql('postgres',
		"SELECT aigw.submit_task('chat.completions', '$request', '{\"user_id\": \"cc\"}')");
}

# The mock's count of a call statistic.
sub call_stat
{
	my ($name) = @_;
	my $json = `curl -s http://127.0.0.1:$port/call-stats`;
	my ($n) = $json =~ /"\Q$name\E":(\d+)/;
	return $n // -1;
}

# Cancels a running task and waits for its late outcome; returns (seconds, outcome code, chunks sent).
sub cancel_and_wait
{
	my ($id) = @_;
	my $t0 = time;
	is($node->safe_psql('postgres', "SELECT aigw.cancel_task('$id')"), 't', 'the running task is cancelled');
	ok(aigw_poll($node, 'postgres', "SELECT response_snapshot ? 'lateOutcome'
		FROM aigw.gateway_task_attempts WHERE task_id = '$id'"), 'the worker records the ended call');
	my $elapsed = time - $t0;
	my ($code, $chunks) = split /\|/, $node->safe_psql('postgres', "SELECT
		response_snapshot->'lateOutcome'->'error'->>'code', response_snapshot->'lateOutcome'->>'chunksSent'
		FROM aigw.gateway_task_attempts WHERE task_id = '$id'");
	return ($elapsed, $code, $chunks);
}

# 0. A task started at submit and cancelled before any worker claimed it (here in
# the submitting transaction): no worker ends its attempt, the cancel frees the slot.
my $early = $node->safe_psql('postgres', q{BEGIN;
	CREATE TEMP TABLE early AS SELECT aigw.submit_task('chat.completions',
	  '{"model": "cc-sim-chat", "messages": [{"role": "user", "content": "early"}]}', '{"user_id": "cc"}') AS id;
	SELECT aigw.cancel_task(id) FROM early;
	SELECT t.locked_by IS NULL AND a.request_snapshot->>'worker' = 'handoff'
	  FROM early e JOIN aigw.gateway_tasks t ON t.id = e.id JOIN aigw.gateway_task_attempts a ON a.task_id = e.id;
	COMMIT;});
like($early, qr/^t\nt$/, 'a task started at submit is cancelled before its claim');
is($node->safe_psql('postgres', "SELECT running_count FROM aigw.client_state('cc-sim/cc-sim-chat')"), '0',
	'its client slot is free');
select(undef, undef, undef, 0.5);
is($node->safe_psql('postgres', "SELECT running_count FROM aigw.client_state('cc-sim/cc-sim-chat')"), '0',
	'and no worker takes it up');

# 1. A call that would hang for a minute (the platform's timeout) ends at the cancel.
my $hang = submit('{"model": "cc-hang", "messages": [{"role": "user", "content": "hang"}]}');
ok(aigw_poll($node, 'postgres', "SELECT status = 'running' FROM aigw.gateway_tasks WHERE id = '$hang'"),
	'the hanging call runs');
is($node->safe_psql('postgres', "SELECT running_count FROM aigw.client_state('cc/cc-hang')"), '1',
	'it holds a slot of its client');
select(undef, undef, undef, 0.3);
my ($elapsed, $code) = cancel_and_wait($hang);
cmp_ok($elapsed, '<', 10, 'the call ends long before its 60 s timeout');
is($code, 'cancelled', 'its outcome is the cancel');
ok(aigw_poll($node, 'postgres', "SELECT running_count = 0 FROM aigw.client_state('cc/cc-hang')"),
	'the client slot is free again');
is($node->safe_psql('postgres', "SELECT status || '/' || error_code FROM aigw.gateway_tasks WHERE id = '$hang'"),
	'cancelled/cancelled', 'the task stays cancelled');
is($node->safe_psql('postgres', "SELECT status FROM aigw.gateway_task_attempts WHERE task_id = '$hang'"),
	'skipped', 'its attempt stays skipped');
for (1 .. 50) { last if call_stat('hungClosed') >= 1; select(undef, undef, undef, 0.1); }
is(call_stat('hungClosed'), 1, 'the provider saw the connection close');

# 2. A stream cancelled in the middle: the connection is dropped, the chunks so far are counted.
my $stream = submit('{"model": "cc-stream", "stream": true, "messages": [{"role": "user", "content": "stream"}]}');
ok(aigw_poll($node, 'postgres', "SELECT status = 'running' FROM aigw.gateway_tasks WHERE id = '$stream'"),
	'the stream runs');
select(undef, undef, undef, 1.0);
my $chunks;
($elapsed, $code, $chunks) = cancel_and_wait($stream);
is($code, 'cancelled', 'the stream ends with the cancel');
cmp_ok($chunks, '>', 0, 'after some chunks');
cmp_ok($chunks, '<', 60, 'before the last of its 60 chunks (6 s)');
for (1 .. 50) { last if call_stat('streamsClosedEarly') >= 1; select(undef, undef, undef, 0.1); }
is(call_stat('streamsClosedEarly'), 1, 'the provider saw the stream closed early');
is(call_stat('streamsCompleted'), 0, 'and no stream completed');

# 3. A simulated call of 30 s stops at the cancel.
my $sim = submit('{"model": "cc-sim-chat", "messages": [{"role": "user", "content": "sim"}], '
	. '"simulation_profile": {"latencyMs": 30000}}');
ok(aigw_poll($node, 'postgres', "SELECT status = 'running' FROM aigw.gateway_tasks WHERE id = '$sim'"),
	'the simulated call runs');
($elapsed, $code) = cancel_and_wait($sim);
cmp_ok($elapsed, '<', 10, 'the simulated call ends long before its 30 s');
is($code, 'cancelled', 'its outcome is the cancel');

# 4. A cancel rolled back announces nothing: the call goes on to its end, whether
# the cancel's transaction rolls back or only a subtransaction of a committed one.
my %rollbacks = (1 => ['BEGIN; SELECT aigw.cancel_task(\'%s\'); ROLLBACK;', 'a rolled-back cancel'],
	2 => ['BEGIN; SAVEPOINT s; SELECT aigw.cancel_task(\'%s\'); ROLLBACK TO s; COMMIT;',
		'a cancel rolled back to a savepoint']);
for my $n (1, 2)
{
	my ($sql, $what) = @{ $rollbacks{$n} };
	my $kept = submit('{"model": "cc-stream", "stream": true, "messages": [{"role": "user", "content": "kept ' . $n . '"}]}');
	ok(aigw_poll($node, 'postgres', "SELECT status = 'running' FROM aigw.gateway_tasks WHERE id = '$kept'"),
		"stream $n runs");
	$node->safe_psql('postgres', sprintf($sql, $kept));
	is($node->safe_psql('postgres', "SELECT aigw.await_task('$kept', 30000)->>'status'"), 'succeeded',
		"after $what the stream completes");
	is(call_stat('streamsCompleted'), $n, 'the provider sent it to the end');
}

# 5. The workers go on: a task after the cancels succeeds.
my $after = submit('{"model": "cc-sim-chat", "messages": [{"role": "user", "content": "after"}]}');
is($node->safe_psql('postgres', "SELECT aigw.await_task('$after', 15000)->>'status'"), 'succeeded',
	'a later task succeeds');
is($node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_tasks WHERE status = 'cancelled'"), '4',
	'four tasks cancelled');

# 6. More cancels in one commit than the workers' cancel ring holds (256): the
# workers ask the database which of their calls were cancelled.
$node->safe_psql('postgres', q{SELECT count(aigw.submit_task('chat.completions',
	'{"model": "cc-sim-chat", "messages": [{"role": "user", "content": "bulk"}], "simulation_profile": {"latencyMs": 60000}}',
	'{"user_id": "cc-bulk"}')) FROM generate_series(1, 300)});
ok(aigw_poll($node, 'postgres', "SELECT count(*) = 300 FROM aigw.gateway_tasks WHERE user_id = 'cc-bulk' AND status = 'running'"),
	'300 simulated calls of a minute run');
my $t_bulk = time;
is($node->safe_psql('postgres', "SELECT count(*) FILTER (WHERE aigw.cancel_task(id))
	FROM aigw.gateway_tasks WHERE user_id = 'cc-bulk'"), '300', 'all are cancelled in one statement');
ok(aigw_poll($node, 'postgres', "SELECT count(*) = 300 FROM aigw.gateway_task_attempts a
	JOIN aigw.gateway_tasks t ON t.id = a.task_id
	WHERE t.user_id = 'cc-bulk' AND a.response_snapshot->'lateOutcome'->'error'->>'code' = 'cancelled'"),
	'every call ends with the cancel');
cmp_ok(time - $t_bulk, '<', 30, 'long before the calls would have ended (60 s)');
ok(aigw_poll($node, 'postgres', "SELECT running_count = 0 FROM aigw.client_state('cc-sim/cc-sim-chat')"),
	'no client slot is held');

# 7. A task started at submit is called from its hand-off, without a claim: it
# stays locked_by 'handoff' until the worker's heartbeat claims it (a quarter of
# aigw.task_lease_timeout), so that the reaper does not take a call of 6 s, longer
# than the lease timeout of 4 s, for one whose worker died.
$node->safe_psql('postgres', "ALTER SYSTEM SET aigw.task_lease_timeout = '4s'; SELECT pg_reload_conf()");
select(undef, undef, undef, 0.5);
my $long = submit('{"model": "cc-sim-chat", "messages": [{"role": "user", "content": "long"}], '
	. '"simulation_profile": {"latencyMs": 6000}}');
is($node->safe_psql('postgres', "SELECT status || '/' || locked_by FROM aigw.gateway_tasks WHERE id = '$long'"),
	'running/handoff', 'a task started at submit is handed off running');
ok(aigw_poll($node, 'postgres', "SELECT locked_by LIKE 'worker-%' AND status = 'running'
	FROM aigw.gateway_tasks WHERE id = '$long'"), 'the worker calling it claims it at its heartbeat');
is($node->safe_psql('postgres', "SELECT aigw.await_task('$long', 20000)->>'status'"), 'succeeded',
	'the call of 6 s succeeds');
is($node->safe_psql('postgres', "SELECT string_agg(status, ',') FROM aigw.gateway_task_attempts WHERE task_id = '$long'"),
	'succeeded', 'with its one attempt: the reaper did not recover it');
$node->safe_psql('postgres', "ALTER SYSTEM RESET aigw.task_lease_timeout; SELECT pg_reload_conf()");

# 8. A hand-off made in a subtransaction that rolls back is never called.
my $requests = call_stat('chatRequests');
$node->safe_psql('postgres', q{BEGIN; SAVEPOINT s;
	SELECT aigw.submit_task('chat.completions', '{"model": "cc-stream", "messages": [{"role": "user", "content": "gone"}]}',
	                        '{"user_id": "cc"}');
	ROLLBACK TO s; COMMIT;});
my $done = submit('{"model": "cc-stream", "messages": [{"role": "user", "content": "after the rollback"}]}');
is($node->safe_psql('postgres', "SELECT aigw.await_task('$done', 20000)->>'status'"), 'succeeded',
	'a task after a rolled-back submit succeeds');
is(call_stat('chatRequests'), $requests + 1, 'the provider got its call and none for the rolled-back task');
is($node->safe_psql('postgres', "SELECT running_count FROM aigw.client_state('cc/cc-stream')"), '0',
	'no client slot is held');

# 9. Of two calls on one client, one cancelled before its worker claimed it: the
# cancel frees its slot, and its late outcome does not free another.
my @hung = map { submit('{"model": "cc-hang", "messages": [{"role": "user", "content": "hang ' . $_ . '"}]}') } 1 .. 2;
ok(aigw_poll($node, 'postgres', "SELECT running_count = 2 FROM aigw.client_state('cc/cc-hang')"),
	'two calls hold two slots of the client');
is($node->safe_psql('postgres', "SELECT locked_by FROM aigw.gateway_tasks WHERE id = '$hung[0]'"), 'handoff',
	'the first is not claimed yet (the first heartbeat comes 7.5 s after the calls start)');
cancel_and_wait($hung[0]);
is($node->safe_psql('postgres', "SELECT running_count FROM aigw.client_state('cc/cc-hang')"), '1',
	'after its late outcome the other call still holds its slot');
cancel_and_wait($hung[1]);
ok(aigw_poll($node, 'postgres', "SELECT running_count = 0 FROM aigw.client_state('cc/cc-hang')"),
	'and after both, none is held');

# 10. The reaper analyzes gateway_tasks once it has outgrown its planner statistics
# (manual analyzes count in analyze_count, autovacuum's in autoanalyze_count).
ok(aigw_poll($node, 'postgres', "SELECT c.relpages >= 16 AND s.analyze_count > 0
	FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = 'aigw.gateway_tasks'::regclass"),
	'the reaper analyzed gateway_tasks when it outgrew its statistics');

$node->stop;
$mock->kill_kill;
done_testing();
