# Queue gauges after a restart: tasks wait in their queues (no task worker
# runs), the server restarts immediately, and the queue_size gauges read the
# number of queued tasks again instead of starting from 0 (at every scope
# that limits the queue: here global, by policy, and platform_model, by the
# default runtime policy set).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use AigwTest;

my $node = aigw_node('queue_restart', conf => "aigw.workers = 0\naigw.launcher_naptime = 200\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
$node->safe_psql('postgres', q{SELECT aigw.ratelimit_policy_set('global', '*', '{"rules": [{"metric": "queue_size", "limit": 100}]}')});

my $gauges = q{SELECT coalesce(string_agg(scope_type || '=' || used, ' ' ORDER BY scope_type), '')
	FROM aigw.rate_limit_windows WHERE metric = 'queue_size'};
my $submit = q{SELECT aigw.submit_task('chat.completions',
	'{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "queue-tap"}')};
my @ids = map { $node->safe_psql('postgres', $submit) } 1 .. 5;
is($node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_tasks WHERE status = 'queued'"), '5',
	'five tasks wait in the queue');
is($node->safe_psql('postgres', $gauges), 'global=5 platform_model=5', 'the gauges count them');

$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', $gauges), 'global=5 platform_model=5',
	'after an immediate restart the gauges are recounted from the queued tasks');

# The recount is what later releases subtract: cancelling gives slots back exactly.
$node->safe_psql('postgres', "SELECT aigw.cancel_task('$ids[0]')");
$node->safe_psql('postgres', "SELECT aigw.cancel_task('$ids[1]')");
is($node->safe_psql('postgres', $gauges), 'global=3 platform_model=3', 'cancelled tasks give their slots back');
$node->safe_psql('postgres', $submit);
is($node->safe_psql('postgres', $gauges), 'global=4 platform_model=4', 'a new task takes one');

# A crash restart (kill -9 of a backend) recounts too.
$node->safe_psql('postgres', 'ALTER SYSTEM SET restart_after_crash = on');
$node->reload;
my $h = $node->background_psql('postgres');
my $victim = $h->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $victim;
eval { $h->quit };
ok(aigw_poll($node, 'postgres', "SELECT true"), 'the server is back after a crash restart');
is($node->safe_psql('postgres', $gauges), 'global=4 platform_model=4', 'after a crash restart the gauges are recounted too');

# Drift (a gauge that no longer matches the queued tasks) is corrected by the
# reaper every aigw.ratelimit_queue_recount_interval.
$node->safe_psql('postgres', q{SELECT aigw.ratelimit_set_gauge('global', '*', 42)});
is($node->safe_psql('postgres', $gauges), 'global=42 platform_model=4', 'a drifted gauge');
$node->append_conf('postgresql.conf', "aigw.ratelimit_queue_recount_interval = 1\n");
$node->reload;
ok(aigw_poll($node, 'postgres', "SELECT ($gauges) = 'global=4 platform_model=4'"),
	'the reaper corrects it from the queued tasks');
ok($node->log_contains(qr/corrected 1 queue_size gauge\(s\) that had drifted/), 'and logs the correction');

$node->stop;
done_testing();
