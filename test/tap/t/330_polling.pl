# Asynchronous provider tasks (seed 003 §11): a video job submitted to a mock of
# OpenAI's videos API is polled until it completes; once the provider's task id
# is recorded the task is polled, never submitted again — also after kill -9 of
# its worker and after an immediate restart.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use AigwTest;

# Video submissions and polls the mock on port saw for a prompt, as "posts/polls".
sub video_stats
{
	my ($port, $prompt) = @_;
	my $json = `curl -s http://127.0.0.1:$port/videos-stats`;
	my ($posts, $polls) = $json =~ /"\Q$prompt\E":\{"posts":(\d+),"polls":(\d+)\}/;
	return defined $posts ? "$posts/$polls" : 'none';
}

my ($quick, $qport) = aigw_mock(MOCK_VIDEO_POLLS => 3);
my ($long, $lport) = aigw_mock(MOCK_VIDEO_POLLS => 25);

my $node = aigw_node('polling', conf => "aigw.launcher_naptime = 200\naigw.workers = 2\n"
	. "restart_after_crash = on\naigw.task_lease_timeout = '2s'\naigw.reaper_interval = 200\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
$node->safe_psql('postgres', <<"SQL");
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('poll-openai', 'Polling OpenAI', 'openai_compatible', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials, config)
VALUES ('poll-openai', 'vid', 'Video', 'http://127.0.0.1:$qport/v1', '{"apiKey":"sk-mock"}',
        '{"modelMap": {"tap-video": "mock-video", "tap-video-fail": "mock-video-fail"}, "pollIntervalMs": 100}'),
       ('poll-openai', 'vid-long', 'Video (long jobs)', 'http://127.0.0.1:$lport/v1', '{"apiKey":"sk-mock"}',
        '{"modelMap": {"tap-video-long": "mock-video"}, "pollIntervalMs": 150}');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT p.id, m, 'video', m, 'custom', '{"currency": "resource", "video": {"perUnit": 100, "unitSeconds": 4}}'
  FROM aigw.integration_platforms p
  CROSS JOIN LATERAL unnest(CASE p.platform_key WHEN 'vid' THEN ARRAY['tap-video', 'tap-video-fail']
                                                ELSE ARRAY['tap-video-long'] END) m
 WHERE p.platform_key IN ('vid', 'vid-long');
-- a failed job is not tried elsewhere: one platform per task
UPDATE aigw.gateway_runner_policies SET failover_policy = failover_policy || '{"maxPlatforms": 1}'
 WHERE policy_key = 'default-runner-v1';
SQL
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"), 'workers up');

# Submits a video task; returns its id.
sub submit_video
{
	my ($model, $prompt) = @_;
	return $node->safe_psql('postgres', qq{SELECT aigw.submit_task('videos.generations',
		'{"model": "$model", "prompt": "$prompt", "seconds": 8}', '{"user_id": "poll"}')});
}

# 1. Submitted once, polled until it completes.
my $id = submit_video('tap-video', 'p1');
is($node->safe_psql('postgres', "SELECT aigw.await_task('$id', 20000)->>'status'"), 'succeeded',
	'the video job completes');
is(video_stats($qport, 'p1'), '1/3', 'submitted once, then polled three times');
is($node->safe_psql('postgres', "SELECT remote_task_id LIKE 'video_%' FROM aigw.gateway_tasks WHERE id = '$id'"),
	't', 'the provider task id is recorded on the task');
is($node->safe_psql('postgres', "SELECT string_agg(status, ',') FROM aigw.gateway_task_attempts WHERE task_id = '$id'"),
	'succeeded', 'one attempt: polls are not attempts');
is($node->safe_psql('postgres', "SELECT result->>'status' || ':' || (result->>'progress') FROM aigw.gateway_tasks WHERE id = '$id'"),
	'completed:100', 'the result is the completed video object');
is($node->safe_psql('postgres', q{SELECT string_agg(event_type || '/' || status, ' ' ORDER BY seq)
	FROM aigw.gateway_task_events WHERE task_id = '} . $id . q{'}),
	'queue_status/running progress/polling progress/polling progress/polling completed/succeeded',
	'events: running (started at submit, never visible queued), the submission and each new progress, completed');
is($node->safe_psql('postgres', "SELECT billings->'usage'->>'video_seconds' || ' ' || (billings->>'total') FROM aigw.gateway_tasks WHERE id = '$id'"),
	'8 200', 'billed for the seconds the provider made (8 s at 100 per 4 s)');

# 2. A job the provider fails ends the task with the provider's error.
my $failed = submit_video('tap-video-fail', 'p2');
is($node->safe_psql('postgres', "SELECT aigw.await_task('$failed', 20000)->>'status'"), 'failed_final',
	'a failed job fails the task');
is($node->safe_psql('postgres', "SELECT error_code FROM aigw.gateway_tasks WHERE id = '$failed'"),
	'moderation_blocked', 'with the job\'s error code');
is(video_stats($qport, 'p2'), '1/2', 'submitted once');

# 3. kill -9 of a task worker while a job is being polled.
my $k = submit_video('tap-video-long', 'p3');
ok(aigw_poll($node, 'postgres', "SELECT status = 'polling' AND remote_task_id IS NOT NULL FROM aigw.gateway_tasks WHERE id = '$k'"),
	'the long job is being polled');
my $worker = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'aigw task worker' LIMIT 1");
kill 'KILL', $worker;
ok(aigw_poll($node, 'postgres', "SELECT status = 'succeeded' FROM aigw.gateway_tasks WHERE id = '$k'"),
	'after kill -9 of a worker the job is polled to completion');
like(video_stats($lport, 'p3'), qr{^1/25$}, 'submitted once: the recovered task was polled, not submitted again');
is($node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_task_attempts WHERE task_id = '$k'"), '1',
	'still one attempt');

# 4. An immediate restart while a job is being polled.
my $r = submit_video('tap-video-long', 'p4');
ok(aigw_poll($node, 'postgres', "SELECT status = 'polling' AND remote_task_id IS NOT NULL FROM aigw.gateway_tasks WHERE id = '$r'"),
	'a second long job is being polled');
$node->restart(mode => 'immediate');
ok(aigw_poll($node, 'postgres', "SELECT status = 'succeeded' FROM aigw.gateway_tasks WHERE id = '$r'"),
	'after an immediate restart the job is polled to completion');
is(video_stats($lport, 'p4'), '1/25', 'submitted once');
is($node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_task_events WHERE task_id = '$r' AND event_type = 'completed'"),
	'1', 'one completion event');
is($node->safe_psql('postgres', "SELECT count(*) FROM aigw.settlement_outbox WHERE task_id IN ('$id', '$k', '$r')"),
	'3', 'each completed job settled once');

# 5. Cancelling a task that the provider runs cancels the job at the provider:
# the outbox worker sends DELETE /videos/{id} once; the mock then has no such job.
my $c = submit_video('tap-video-long', 'p5');
ok(aigw_poll($node, 'postgres', "SELECT status = 'polling' AND remote_task_id IS NOT NULL FROM aigw.gateway_tasks WHERE id = '$c'"),
	'a job to cancel is being polled');
is($node->safe_psql('postgres', "SELECT aigw.cancel_task('$c')"), 't', 'the task is cancelled');
ok(aigw_poll($node, 'postgres',
	"SELECT status = 'delivered' AND attempts = 1 FROM aigw.gateway_provider_cancel_outbox WHERE task_id = '$c'"),
	'the provider cancel is delivered by the outbox worker');
like(`curl -s http://127.0.0.1:$lport/videos-stats`, qr/"p5":\{"posts":1,"polls":\d+,"deletes":1\}/,
	'the provider received one DELETE for the job');
my $job = $node->safe_psql('postgres', "SELECT remote_task_id FROM aigw.gateway_tasks WHERE id = '$c'");
is(`curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sk-mock' http://127.0.0.1:$lport/v1/videos/$job`,
	'404', 'the job is gone at the provider');
is($node->safe_psql('postgres', "SELECT status FROM aigw.gateway_tasks WHERE id = '$c'"), 'cancelled',
	'the task stays cancelled');

$node->stop;
$quick->kill_kill;
$long->kill_kill;
done_testing();
