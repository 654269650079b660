# Crash recovery (seed 003 §11.2): a task worker killed with -9 in the middle
# of a provider call, and an immediate restart with tasks in every status.
# Afterwards every task reaches exactly one terminal state, no attempt is lost
# and nothing is billed twice.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use AigwTest;

my ($mock, $port) = aigw_mock();

my $node = aigw_node('recovery', conf => "aigw.launcher_naptime = 200\naigw.workers = 2\n"
	. "restart_after_crash = on\naigw.task_lease_timeout = '2s'\naigw.reaper_interval = 200\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
$node->safe_psql('postgres', <<"SQL");
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('rec-openai', 'Recovery OpenAI', 'openai_compatible', 'active'),
       ('rec-sim', 'Recovery simulation', 'simulation', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials, config)
VALUES ('rec-openai', 'slow', 'Slow', 'http://127.0.0.1:$port/v1', '{"apiKey":"sk-mock"}',
        '{"modelMap": {"gpt-slow": "mock-slow"}}'),
       ('rec-sim', 'sim', 'Sim', NULL, '{}', '{}');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT p.id, CASE p.platform_key WHEN 'slow' THEN 'gpt-slow' ELSE 'tap-sim-chat' END, 'chat', 'm', 'custom',
       '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms p WHERE p.platform_key IN ('slow', 'sim');
SQL
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"), 'workers up');

# 1. kill -9 the worker holding a slow provider call.
my $id = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "gpt-slow", "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "rec"}')});
ok(aigw_poll($node, 'postgres', "SELECT status = 'running' FROM aigw.gateway_tasks WHERE id = '$id'"),
	'the slow task is running');
# started at submit, it is claimed by the worker that calls it
ok(aigw_poll($node, 'postgres', "SELECT locked_by LIKE 'worker-%' FROM aigw.gateway_tasks WHERE id = '$id'"),
	'the worker calling it has claimed it');
my $worker = $node->safe_psql('postgres',
	"SELECT split_part(locked_by, '-', 3) FROM aigw.gateway_tasks WHERE id = '$id'");
kill 'KILL', $worker;
ok(aigw_poll($node, 'postgres', "SELECT status = 'succeeded' FROM aigw.gateway_tasks WHERE id = '$id'"),
	'after kill -9 of its worker, the task is recovered and succeeds');
my $attempts = $node->safe_psql('postgres',
	"SELECT string_agg(status || ':' || coalesce(error_code, ''), ' ' ORDER BY attempt_no) FROM aigw.gateway_task_attempts WHERE task_id = '$id'");
like($attempts, qr/^failed:network succeeded:$/, 'the interrupted attempt is recorded as failed, then retried');
is($node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_task_events WHERE task_id = '$id' AND event_type = 'completed'"),
	'1', 'one completion event');

# 2. Tasks in every status, then an immediate restart.
$node->safe_psql('postgres', q{
	SELECT aigw.submit_task('chat.completions', '{"model": "gpt-slow", "messages": [{"role": "user", "content": "a"}]}', '{"user_id": "rec"}')
	  FROM generate_series(1, 3);
	SELECT aigw.submit_task('chat.completions', '{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "b"}],
	         "simulation_profile": {"latencyMs": 1500}}', '{"user_id": "rec"}')
	  FROM generate_series(1, 5);
	SELECT aigw.submit_task('chat.completions', '{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "c"}]}', '{"user_id": "rec"}')
	  FROM generate_series(1, 5);});
# a task already cancelled and one leased by a worker that no longer exists
my $cancelled = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "tap-sim-chat", "messages": [{"role": "user", "content": "d"}], "simulation_profile": {"latencyMs": 60000}}', '{"user_id": "rec"}')});
$node->safe_psql('postgres', "SELECT aigw.cancel_task('$cancelled')");
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) >= 3 FROM aigw.gateway_tasks WHERE status = 'running'"), 'tasks are running');
$node->safe_psql('postgres', q{UPDATE aigw.gateway_tasks SET status = 'leased', locked_by = 'worker-9-1'
	WHERE id = (SELECT id FROM aigw.gateway_tasks WHERE status = 'queued' LIMIT 1) AND status = 'queued'});
my $before = $node->safe_psql('postgres', "SELECT string_agg(DISTINCT status, ',' ORDER BY status) FROM aigw.gateway_tasks");
note "statuses before the restart: $before";
$node->restart(mode => 'immediate');

ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 0 FROM aigw.gateway_tasks WHERE status NOT IN ('succeeded', 'failed_final', 'cancelled')"),
	'after an immediate restart every task reaches a terminal state');
is($node->safe_psql('postgres', "SELECT status FROM aigw.gateway_tasks WHERE id = '$cancelled'"), 'cancelled',
	'a cancelled task stays cancelled');
is($node->safe_psql('postgres', q{SELECT count(*) FROM aigw.gateway_tasks t
	WHERE (SELECT count(*) FROM aigw.gateway_task_events e WHERE e.task_id = t.id
	        AND e.event_type IN ('completed', 'failed')) <> 1}),
	'0', 'each task has exactly one terminal event');
is($node->safe_psql('postgres', q{SELECT count(*) FROM aigw.gateway_tasks t
	WHERE t.status = 'succeeded' AND (SELECT count(*) FROM aigw.gateway_task_attempts a
	                                  WHERE a.task_id = t.id AND a.status = 'succeeded') <> 1}),
	'0', 'each succeeded task has exactly one succeeded attempt: billed once');
is($node->safe_psql('postgres', q{SELECT count(*) FROM aigw.gateway_tasks t
	WHERE t.attempt_count <> (SELECT count(*) FROM aigw.gateway_task_attempts a WHERE a.task_id = t.id)}),
	'0', 'no attempt is lost: attempt_count matches the recorded attempts');
is($node->safe_psql('postgres', q{SELECT count(*) FROM aigw.gateway_task_attempts WHERE finished_at IS NULL}),
	'0', 'no attempt is left open')
  or diag($node->safe_psql('postgres', q{SELECT a.attempt_no, a.status, t.status, t.error_code, t.attempt_count
	FROM aigw.gateway_task_attempts a JOIN aigw.gateway_tasks t ON t.id = a.task_id WHERE a.finished_at IS NULL}));

$node->stop;
$mock->kill_kill;
done_testing();
