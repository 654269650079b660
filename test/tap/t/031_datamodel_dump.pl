# pg_dump keeps the identity, wallet and task rows, and the dump restores into
# a fresh database next to the extension's own seed.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use AigwTest;

my $node = aigw_node('datamodel_dump', conf => "aigw.workers = 0\n");
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
CREATE EXTENSION aigw CASCADE;
INSERT INTO aigw.gateway_user_groups (group_key, name) VALUES ('pro', 'Pro');
INSERT INTO aigw.gateway_tenants (tenant_key, name, default_user_group_id)
  SELECT 'acme', 'Acme', id FROM aigw.gateway_user_groups WHERE group_key = 'pro';
INSERT INTO aigw.gateway_users (user_key, username, gateway_tenant_id)
  SELECT 'alice', 'alice', id FROM aigw.gateway_tenants WHERE tenant_key = 'acme';
INSERT INTO aigw.gateway_api_keys (gateway_user_id, key_prefix, key_hash, name)
  SELECT id, 'sk-abc', encode(sha256('sk-abc-secret'), 'hex'), 'k' FROM aigw.gateway_users WHERE user_key = 'alice';
INSERT INTO aigw.gateway_wallet_accounts (gateway_user_id, balance)
  SELECT id, 123.45 FROM aigw.gateway_users WHERE user_key = 'alice';
INSERT INTO aigw.gateway_wallet_transactions (account_id, direction, transaction_type, amount, balance_before,
                                              balance_after, idempotency_key)
  SELECT id, 'credit', 'recharge', 123.45, 0, 123.45, 'r1' FROM aigw.gateway_wallet_accounts;
INSERT INTO aigw.gateway_tasks (kind, user_id, model, request, queue_key, status, finished_at)
  VALUES ('chat.completions', 'alice', 'sim-chat', '{"messages": []}', 'simulation-sim-chat', 'succeeded', now());
INSERT INTO aigw.gateway_task_events (task_id, seq, event_type) SELECT id, 1, 'completed' FROM aigw.gateway_tasks;
INSERT INTO aigw.settlement_outbox (task_id, payload) SELECT id, '{"cost": 1}' FROM aigw.gateway_tasks;
});

my $dump = "${PostgreSQL::Test::Utils::tmp_check}/aigw_dump.sql";
$node->command_ok([ 'pg_dump', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump of a database with aigw');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
my ($rc, $out, $err) = $node->psql('dst', undef, extra_params => [ '-v', 'ON_ERROR_STOP=1', '-f', $dump ]);
is($rc, 0, 'the dump restores without errors') or diag($err);

my $q = q{SELECT (SELECT string_agg(user_key, ',') FROM aigw.gateway_users) || ' '
                 || (SELECT balance FROM aigw.gateway_wallet_accounts) || ' '
                 || (SELECT count(*) FROM aigw.gateway_wallet_transactions) || ' '
                 || (SELECT status FROM aigw.gateway_tasks) || ' '
                 || (SELECT count(*) FROM aigw.gateway_task_events) || ' '
                 || (SELECT count(*) FROM aigw.settlement_outbox) || ' '
                 || (SELECT count(*) FROM aigw.gateway_api_keys)};
is($node->safe_psql('dst', $q), $node->safe_psql('src', $q), 'users, wallets, tasks and outboxes survive');
is($node->safe_psql('dst', "SELECT count(*) FROM aigw.gateway_runner_policies WHERE policy_key = 'default-runner-v1'"),
	'1', 'the seed is there once');
is($node->safe_psql('dst', "SELECT count(*) FROM aigw.platform_models m JOIN aigw.integration_platforms p "
	  . "ON p.id = m.platform_id WHERE p.platform_key = 'simulation'"), '5', 'the simulation platform is there once');

$node->stop;
done_testing();
