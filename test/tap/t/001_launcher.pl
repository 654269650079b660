# The launcher: visible in pg_stat_activity, idles in a database without the
# extension, comes back after being terminated and after a crash restart.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use AigwTest;

my $node = aigw_node('launcher', conf => "aigw.launcher_naptime = 200\nrestart_after_crash = on\n");
my $q = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'aigw launcher'";

ok(aigw_poll($node, 'postgres', "SELECT ($q) = 1"), 'launcher shows in pg_stat_activity');
is($node->safe_psql('postgres',
	"SELECT datname FROM pg_stat_activity WHERE backend_type = 'aigw launcher'"),
	'postgres', 'launcher connects to the database named by aigw.database');

# aigw is not installed in postgres: the launcher idles and stays up.
sleep 1;
is($node->safe_psql('postgres', $q), '1', 'launcher idles in a database without the extension');
is($node->safe_psql('postgres', "SELECT wait_event FROM pg_stat_activity WHERE backend_type = 'aigw launcher'"),
	'AigwLauncherMain', 'launcher waits on its latch with a custom wait event');

# Terminated: the postmaster restarts it.
my $pid = $node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE backend_type = 'aigw launcher'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 1 AND min(pid) <> $pid FROM pg_stat_activity WHERE backend_type = 'aigw launcher'"),
	'launcher is restarted after pg_terminate_backend');

# Killed with SIGKILL: crash restart brings everything back.
$pid = $node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE backend_type = 'aigw launcher'");
kill 'KILL', $pid;
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 1 AND min(pid) <> $pid FROM pg_stat_activity WHERE backend_type = 'aigw launcher'"),
	'launcher is back after kill -9 and crash restart');

# Installed in its database: the extension answers there.
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
is($node->safe_psql('postgres', 'SELECT aigw.version()'), '1.0', 'aigw.version() answers');

$node->stop;
done_testing();
