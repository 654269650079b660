# pg_dump keeps every data-model row (identity, wallets, tasks, and the
# catalog including changes to seeded rows), and the dump restores onto the
# seed of a fresh CREATE EXTENSION.
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
-- The catalog: new rows, and changes to seeded rows.
SELECT aigw.create_provider('acme', 'Acme', 'openai_compatible');
SELECT aigw.create_base_model('acme', 'acme/chat', 'chat', 'chat', 'Acme chat', '{"contextWindow": 1000}',
                              '{"text": {"inputPer1k": 1, "outputPer1k": 2}}');
SELECT aigw.update_base_model('acme/chat', p_base_billing_config => '{"text": {"inputPer1k": 3, "outputPer1k": 4}}');
SELECT aigw.create_platform('acme', 'acme-main', 'Acme main', p_default_discount_factor => 0.8,
                            p_credentials => '{"ciphertext": "abc"}');
SELECT aigw.add_platform_model(aigw.seed_id('platform', 'simulation'), 'acme-on-sim', 'acme/chat');
SELECT aigw.add_platform_model(id, 'follow', 'acme/chat') FROM aigw.integration_platforms WHERE platform_key = 'acme-main';
SELECT aigw.add_platform_model(id, 'pinned', 'acme/chat', p_pricing_version => 1)
  FROM aigw.integration_platforms WHERE platform_key = 'acme-main';
SELECT aigw.update_base_model('openai/gpt-4o', p_base_billing_config => '{"text": {"inputPer1k": 2, "outputPer1k": 8}}');
SELECT aigw.upsert_runner_policy('default-runner-v1', 'tuned', NULL, '{"maxPlatforms": 3}');
SELECT aigw.upsert_runtime_policy_set('strict', 'Strict', p_retry_policy => '{"maxAttempts": 1}');
SELECT aigw.update_platform_model(id, p_enabled => false, p_runtime_policy_key => 'strict')
  FROM aigw.platform_models WHERE model_name = 'sim-video';
SELECT aigw.set_platform_dynamic_priority(aigw.seed_id('platform', 'simulation'), 7);
SELECT aigw.add_pricing_rule('platform_model', id, 'text_output', '1k_tokens', 9)
  FROM aigw.platform_models WHERE model_name = 'follow';
SELECT aigw.create_model_group('coding');
SELECT aigw.add_model_group_member('coding', id, 1) FROM aigw.platform_models WHERE model_name IN ('sim-chat', 'pinned');
SELECT aigw.create_platform_api_config(id, 'submit', 'Submit', '/jobs') FROM aigw.integration_platforms
 WHERE platform_key = 'acme-main';
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

# Every catalog table, row for row (updated_at is rewritten by the restore).
for my $t (qw(gateway_runner_policies model_runtime_policy_sets model_catalog_providers base_model_catalog
			   base_model_pricing_versions model_pricing_rules integration_platforms platform_models
			   integration_platform_api_configs integration_platform_snapshots model_groups model_group_members))
{
	my $digest = "SELECT count(*) || ' ' || md5(coalesce(string_agg((to_jsonb(t) - 'updated_at')::text, ',' "
	  . "ORDER BY (to_jsonb(t) - 'updated_at')::text), '')) FROM aigw.$t t";
	is($node->safe_psql('dst', $digest), $node->safe_psql('src', $digest), "$t is restored as it was");
}
is($node->safe_psql('dst', "SELECT name || ' ' || (failover_policy->>'maxPlatforms') FROM aigw.gateway_runner_policies"),
	'tuned 3', 'a change to the seeded runner policy survives');
is($node->safe_psql('dst', "SELECT pricing_version || ' ' || (base_billing_config->'text'->>'inputPer1k') "
	  . "FROM aigw.base_model_catalog WHERE canonical_model_key = 'openai/gpt-4o'"),
	'2 2', 'a change to a seeded base price survives with its version');
is($node->safe_psql('dst', "SELECT string_agg(model_name || '=' || (billing_config->'text'->>'inputPer1k'), ',' "
	  . "ORDER BY model_name) FROM aigw.platform_models WHERE model_name IN ('follow', 'pinned')"),
	'follow=2.4,pinned=0.8', 'effective prices follow and pin as before');

# The restored database keeps working through the admin API.
$node->safe_psql('dst', "SELECT aigw.update_base_model('acme/chat', "
	  . "p_base_billing_config => '{\"text\": {\"inputPer1k\": 5, \"outputPer1k\": 6}}')");
is($node->safe_psql('dst', "SELECT pricing_version FROM aigw.base_model_catalog WHERE canonical_model_key = 'acme/chat'"),
	'3', 'a new price after the restore is version 3');

$node->stop;
done_testing();
