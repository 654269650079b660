# A worker wakes by itself for tasks it put back in the queue: 30 tasks on a
# platform model that runs 20 at a time all finish, with no new submit to
# wake a worker when the first 20 are done. The 10 that wait for a slot start
# as the first 20 give theirs back, not at their next_run_at (a second after
# each refusal).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use AigwTest;

my $node = aigw_node('wakeup', conf => "aigw.launcher_naptime = 200\naigw.workers = 2\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
aigw_simulation_model($node, 'wk', 'wk-chat', '{"rules": [{"metric": "concurrent", "limit": 20}]}');
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"), 'workers up');

$node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "wk-chat", "messages": [{"role": "user", "content": "w"}], "simulation_profile": {"latencyMs": 1200}}',
	'{"user_id": "wk"}') FROM generate_series(1, 30)});
my $start = time;
my $done = '';
while (time - $start < 30)
{
	$done = $node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_tasks WHERE status = 'succeeded'");
	last if $done eq '30';
	sleep 0.2;
}
is($done, '30', 'all 30 tasks succeed: the 10 that waited for a free slot were retried without a new submit');
cmp_ok(time - $start, '<', 15, 'within a few seconds of the first 20 finishing');
is($node->safe_psql('postgres', q{SELECT max(a.n) FROM (SELECT count(*) AS n FROM aigw.gateway_task_attempts GROUP BY task_id) a}),
	'1', 'a task refused by the concurrency limit made no attempt');

# The 10 that waited have a 'queued' event (refused at submit). Each was put
# back with next_run_at a second after each refusal: at about 0 s and 1 s, so
# the next retry of its own would be at about 2 s, while the first 20 end at
# about 1.2 s. Every waiting task starts within 0.4 s of the last of the first
# 20 ending.
my $gap = $node->safe_psql('postgres', q{
WITH waited AS (SELECT DISTINCT task_id FROM aigw.gateway_task_events WHERE status = 'queued'),
     ends AS (SELECT max(e.created_at) AS t FROM aigw.gateway_task_events e
               WHERE e.event_type = 'completed' AND e.task_id NOT IN (SELECT task_id FROM waited)),
     starts AS (SELECT max(e.created_at) AS t FROM aigw.gateway_task_events e
                 WHERE e.status = 'running' AND e.task_id IN (SELECT task_id FROM waited))
SELECT (SELECT count(*) FROM waited) || ' ' || round(extract(epoch FROM s.t - x.t)::numeric, 3)
  FROM ends x, starts s});
my ($nwaited, $secs) = split / /, $gap;
is($nwaited, '10', '10 tasks waited for a slot');
cmp_ok($secs, '<', 0.4, "the tasks waiting for a slot start as slots are given back ($secs s after the last of the first 20)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM aigw.gateway_tasks WHERE normalized_request ? 'waitsForSlot'}),
	'0', 'a started task no longer waits for a slot');

# A cancelled call gives its slot back too: on a platform model that runs one
# task at a time, a task waiting behind a 5 s call starts when that call is
# cancelled, not at its next retry (a second after each refusal).
$node->safe_psql('postgres', q{
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode,
                                  billing_config_override, rate_limit_policy)
SELECT id, 'wk-one', 'chat', 'wk one', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}',
       '{"rules": [{"metric": "concurrent", "limit": 1}]}'
  FROM aigw.integration_platforms WHERE platform_key = 'wk';});
my $req = q{'{"model": "wk-one", "messages": [{"role": "user", "content": "w"}], "simulation_profile": {"latencyMs": 5000}}'};
my $first = $node->safe_psql('postgres', "SELECT aigw.submit_task('chat.completions', $req, '{\"user_id\": \"wk1\"}')");
ok(aigw_poll($node, 'postgres', "SELECT status = 'running' FROM aigw.gateway_tasks WHERE id = '$first'"), 'the first call runs');
my $second = $node->safe_psql('postgres', "SELECT aigw.submit_task('chat.completions', $req, '{\"user_id\": \"wk2\"}')");
ok(aigw_poll($node, 'postgres',
	"SELECT normalized_request ? 'waitsForSlot' FROM aigw.gateway_tasks WHERE id = '$second'"), 'the second waits for the slot');
sleep 1.3;
is($node->safe_psql('postgres', "SELECT aigw.cancel_task('$first')"), 't', 'the first is cancelled during its call');
ok(aigw_poll($node, 'postgres', "SELECT status <> 'queued' FROM aigw.gateway_tasks WHERE id = '$second'"), 'the second starts');
my $after = $node->safe_psql('postgres', qq{
SELECT round(extract(epoch FROM s.created_at - c.created_at)::numeric, 3)
  FROM aigw.gateway_task_events s, aigw.gateway_task_events c
 WHERE s.task_id = '$second' AND s.status = 'running' AND c.task_id = '$first' AND c.status = 'cancelled'});
cmp_ok($after, '<', 0.4, "the waiting task starts as the cancelled call gives its slot back ($after s after the cancel)");
$node->safe_psql('postgres', "SELECT aigw.cancel_task('$second')");

$node->stop;
done_testing();
