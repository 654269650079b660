# Helpers for aigw's TAP tests: a PostgreSQL::Test::Cluster node with aigw loaded
# from the staging tree named by AIGW_TEST_CONF.
package AigwTest;
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Exporter 'import';
use IPC::Run;
our @EXPORT = qw(aigw_node aigw_poll aigw_mock);

# Creates and starts a node with aigw preloaded; extra conf lines may be given.
sub aigw_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', slurp_file($ENV{AIGW_TEST_CONF}));
	$node->append_conf('postgresql.conf', $opts{conf}) if $opts{conf};
	$node->start;
	return $node;
}

# Polls until the query returns 't', for up to 180 s. Unlike poll_query_until it
# survives the server going through a crash restart while it polls (psql dies
# with the connection and is simply started again).
sub aigw_poll
{
	my ($node, $db, $query) = @_;
	for (1 .. 1800)
	{
		my $r = eval { $node->safe_psql($db, $query) };
		return 1 if defined $r && $r eq 't';
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# Starts the mock OpenAI-compatible provider (test/mock/openai-mock.mjs) on a
# free loopback port, with the environment given (MOCK_CHUNKS, ...); returns
# the IPC::Run harness (kill_kill it at the end) and the port.
sub aigw_mock
{
	my (%env) = @_;
	my ($out, $err) = ('', '');
	local @ENV{keys %env} = values %env;
	my $h = IPC::Run::start(['node', "$ENV{AIGW_W}/test/mock/openai-mock.mjs", '0'], '>', \$out, '2>', \$err);
	for (1 .. 100)
	{
		$h->pump_nb;
		last if $out =~ /listening (\d+)/;
		select(undef, undef, undef, 0.05);
	}
	$out =~ /listening (\d+)/ or die "mock provider did not start: $err";
	return ($h, $1);
}

1;
