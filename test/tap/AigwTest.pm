# Helpers for aigw's TAP tests: a PostgreSQL::Test::Cluster node with aigw loaded
# from the staging tree named by AIGW_TEST_CONF.
package AigwTest;
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Exporter 'import';
our @EXPORT = qw(aigw_node);

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

1;
