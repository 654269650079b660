# Helpers for aigw's TAP tests: a PostgreSQL::Test::Cluster node with aigw loaded
# from the staging tree named by AIGW_TEST_CONF.
package AigwTest;
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Exporter 'import';
use IPC::Run;
our @EXPORT = qw(aigw_node aigw_poll aigw_mock aigw_simulation_model);

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

# Adds a simulation provider ("<key>-sim") and platform (key) with the chat
# model given, priced per 1k tokens, and its rate-limit policy (JSON) if given.
sub aigw_simulation_model
{
	my ($node, $key, $model, $policy) = @_;
	my ($col, $val) = defined $policy ? (', rate_limit_policy', ", '$policy'") : ('', '');
	$node->safe_psql('postgres', qq{
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('$key-sim', '$key simulation', 'simulation', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name) VALUES ('$key-sim', '$key', '$key');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode,
                                  billing_config_override$col)
SELECT id, '$model', 'chat', '$key', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'$val
  FROM aigw.integration_platforms WHERE platform_key = '$key';});
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
