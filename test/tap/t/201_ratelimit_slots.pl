# A full rate-limit table: ended windows are evicted to make room; when every
# slot holds a live counter the admission fails with 53400 and changes nothing.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use AigwTest;

my $node = aigw_node('ratelimit_slots', conf => "aigw.ratelimit_slots = 64\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');

my $admit = sub {
	my ($key, $window) = @_;
	return "(aigw.ratelimit_admit(jsonb_build_array(jsonb_build_object('scopeType', 'user', "
	  . "'scopeKey', $key, 'metric', 'rpm', 'limit', 10, 'windowSeconds', $window)))->>'admitted')::boolean";
};

# 64 one-second windows fill the table
is($node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE " . $admit->("'short-' || g", 1) . ") FROM generate_series(1, 64) g"),
	'64', '64 counters fill the table');

# once they have ended, new counters take their slots
sleep 2;
is($node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE " . $admit->("'long-' || g", 3600) . ") FROM generate_series(1, 64) g"),
	'64', 'ended windows are evicted for 64 new counters');

# every slot is live now: the next new counter fails cleanly
my ($rc, $out, $err) = $node->psql('postgres',
	"SELECT " . $admit->("'one-too-many'", 3600) . ", " . $admit->("'long-1'", 3600));
isnt($rc, 0, 'a 65th live counter is refused');
like($err, qr/rate-limit table is full/, 'with a clear error');
like($err, qr/aigw\.ratelimit_slots/, 'naming the setting to raise');
($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT " . $admit->("'one-too-many'", 3600));
like($err, qr/53400/, 'SQLSTATE 53400');
is($node->safe_psql('postgres', "SELECT used FROM aigw.rate_limit_windows WHERE scope_key = 'long-1'"),
	'1', 'the failed statement left the existing counters as they were');

$node->stop;
done_testing();
