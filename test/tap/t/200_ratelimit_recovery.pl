# Rate limits across crashes: kill -9 of a backend holding leases (crash
# restart) and an immediate restart.  Committed leases are reloaded,
# uncommitted ones vanish, expired ones are released by the reaper's call, and
# the current window's counters survive up to the last flush.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use AigwTest;

# the reaper (which flushes and releases expired leases by itself) stays out of the way
my $node = aigw_node('ratelimit', conf => "restart_after_crash = on\naigw.reaper_interval = 3600000\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
# leases belong to tasks
$node->safe_psql('postgres', q{
	INSERT INTO aigw.gateway_tasks (id, kind, user_id, model, request, queue_key)
	SELECT ('00000000-0000-0000-0000-00000000' || x)::uuid, 'chat', 'tap-user', 'tap-model', '{}', 'tap-queue'
	FROM unnest(ARRAY['a001', 'a002', 'a003', 'a004', 'b001']) x});

# 31-day windows keep the test clear of window boundaries.
my $rpm = q{'[{"scopeType":"provider","scopeKey":"tap-prov","metric":"rpm","limit":100,"windowSeconds":2678400},
              {"scopeType":"tenant","scopeKey":"tap-ten","metric":"tpm_total","limit":100000,"amount":10,"windowSeconds":2678400}]'};
my $cli = sub {
	my ($task, $ttl) = @_;
	$ttl //= 900;
	return "SELECT (aigw.concurrency_acquire('$task', "
	  . q{'[{"scopeType":"client","scopeKey":"tap-cli","limit":3}]'}
	  . ", $ttl))->>'admitted'";
};
my $gauge = "SELECT coalesce((SELECT used FROM aigw.rate_limit_windows WHERE scope_key = 'tap-cli'), 0)";
my $used = sub {
	my ($key) = @_;
	return $node->safe_psql('postgres',
		"SELECT used || '/' || reserved FROM aigw.rate_limit_windows WHERE scope_key = '$key'");
};

# 30 admissions, flushed; 5 more that only shared memory knows.
$node->safe_psql('postgres', "SELECT aigw.ratelimit_admit($rpm) FROM generate_series(1, 30)");
# (the reaper may flush first: either way both windows are in the table)
$node->safe_psql('postgres', 'SELECT aigw.ratelimit_flush()');
is($node->safe_psql('postgres', "SELECT count(DISTINCT scope_key) FROM aigw.gateway_rate_limit_counters WHERE scope_key IN ('tap-prov', 'tap-ten')"),
	'2', 'flush writes the windows');
$node->safe_psql('postgres', "SELECT aigw.ratelimit_admit($rpm) FROM generate_series(1, 5)");
is($used->('tap-prov'), '35/0', '35 requests counted before the crash');

# One committed lease; one lease inside a transaction that never commits.
is($node->safe_psql('postgres', $cli->('00000000-0000-0000-0000-00000000a001')), 'true', 'committed lease');
my $bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN');
is($bg->query_safe($cli->('00000000-0000-0000-0000-00000000b001')), 'true', 'uncommitted lease');
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
is($node->safe_psql('postgres', $gauge), '2', 'two leases held before the crash');

# kill -9 the backend holding the uncommitted lease: the postmaster restarts everything.
kill 'KILL', $pid;
eval { $bg->quit };
ok(aigw_poll($node, 'postgres', "SELECT ($gauge) = 1"),
	'after the crash restart only the committed lease is held');
ok($node->log_contains(qr/terminated by signal 9/), 'the server went through a crash restart');
is($node->safe_psql('postgres',
	"SELECT string_agg(task_id::text, ',') FROM aigw.gateway_concurrency_leases WHERE released_at IS NULL"),
	'00000000-0000-0000-0000-00000000a001', 'the uncommitted lease row is gone');
my $after = $used->('tap-prov');
my ($n) = split m{/}, $after;
ok($n >= 30 && $n <= 35, "rpm window survived up to the last flush ($after)");
like($used->('tap-ten'), qr{^0/(300|3[0-4]0|350)$}, 'token reservations survived up to the last flush');

# Limits still hold after the reload: 1 held, 2 more fit, the fourth is refused.
is($node->safe_psql('postgres', $cli->('00000000-0000-0000-0000-00000000a002', 1)), 'true', 'second lease (1 s TTL)');
is($node->safe_psql('postgres', $cli->('00000000-0000-0000-0000-00000000a003')), 'true', 'third lease');
is($node->safe_psql('postgres', $cli->('00000000-0000-0000-0000-00000000a004')), 'false', 'fourth lease refused at limit 3');
my $left = 100 - $n;
is($node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE (aigw.ratelimit_admit($rpm)->>'admitted')::boolean) FROM generate_series(1, 100)"),
	$left, "exactly the $left requests left in the window are admitted");

# Immediate restart: flushed counters and every unreleased lease come back.
$node->safe_psql('postgres', 'SELECT aigw.ratelimit_flush()');
$node->stop('immediate');
$node->start;
is($used->('tap-prov'), '100/0', 'the full rpm window is back after an immediate restart');
is($node->safe_psql('postgres', $gauge), '3', 'three leases reloaded after an immediate restart');
is($node->safe_psql('postgres',
	"SELECT (aigw.ratelimit_admit($rpm))->>'reason'"), 'window_full', 'the reloaded window still refuses');

# The 1-second lease has expired: the reaper's call (or the reaper itself) releases it.
sleep 2;
$node->safe_psql('postgres', 'SELECT aigw.ratelimit_release_expired()');
is($node->safe_psql('postgres', "SELECT released_at IS NOT NULL FROM aigw.gateway_concurrency_leases WHERE task_id = '00000000-0000-0000-0000-00000000a002'"),
	't', 'the expired lease is released');
is($node->safe_psql('postgres', $gauge), '2', 'the gauge drops with it');
is($node->safe_psql('postgres', "SELECT aigw.concurrency_release('00000000-0000-0000-0000-00000000a001')"),
	'1', 'a task releases its lease');
is($node->safe_psql('postgres', $gauge), '1', 'one lease left');

# A reload is idempotent: a second restart shows the same numbers.
$node->restart;
is($node->safe_psql('postgres', $gauge), '1', 'same lease count after a clean restart');
is($used->('tap-prov'), '100/0', 'same window after a clean restart');

$node->stop;
done_testing();
