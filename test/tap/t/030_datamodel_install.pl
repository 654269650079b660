# The data model in a fresh cluster: aigw.task_retention read from
# postgresql.conf and reloaded, and CREATE EXTENSION giving the seeded
# catalog and simulation platform in a new database.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use AigwTest;

my $node = aigw_node('datamodel', conf => "aigw.task_retention = '90min'\naigw.workers = 0\n");

$node->safe_psql('postgres', 'CREATE DATABASE gw');
$node->safe_psql('gw', 'CREATE EXTENSION aigw CASCADE');
is($node->safe_psql('gw', 'SHOW aigw.task_retention'), '90min', 'aigw.task_retention comes from postgresql.conf');
is($node->safe_psql('gw', 'SELECT aigw.task_retention()'), '01:30:00', 'task_retention() returns it as an interval');

$node->append_conf('postgresql.conf', "aigw.task_retention = '2d'\n");
$node->reload;
ok($node->poll_query_until('gw', "SELECT aigw.task_retention() = interval '2 days'"),
	'a reload changes the retention');

$node->safe_psql('gw', 'ALTER DATABASE gw SET aigw.task_retention = 0');
is($node->safe_psql('gw', 'SELECT aigw.task_retention() IS NULL'), 't', 'per-database 0 turns retention off');

is($node->safe_psql('gw',
	"SELECT string_agg(DISTINCT m.model_type, ',' ORDER BY m.model_type) FROM aigw.platform_models m "
	  . "JOIN aigw.integration_platforms p ON p.id = m.platform_id "
	  . "WHERE p.platform_key = 'simulation' AND m.enabled AND p.status = 'enabled'"),
	'audio,chat,embedding,image,video', 'a fresh install has a simulation model of every type');
is($node->safe_psql('gw',
	"SELECT count(*) FROM aigw.platform_models WHERE enabled AND aigw.missing_price(model_type, billing_config) IS NOT NULL"),
	'0', 'every enabled platform model is priced');

# Dropping and recreating the extension gives the same seed.
my $before = $node->safe_psql('gw', 'SELECT count(*) FROM aigw.base_model_catalog');
$node->safe_psql('gw', 'DROP EXTENSION aigw; CREATE EXTENSION aigw');
is($node->safe_psql('gw', 'SELECT count(*) FROM aigw.base_model_catalog'), $before, 'reinstall gives the same catalog');

$node->stop;
done_testing();
