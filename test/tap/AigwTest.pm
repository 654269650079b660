# Helpers for aigw's TAP tests: a PostgreSQL::Test::Cluster node with aigw loaded
# from the staging tree named by AIGW_TEST_CONF.
package AigwTest;
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Exporter 'import';
our @EXPORT = qw(aigw_node aigw_poll);

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

1;
