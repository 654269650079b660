# The outbox worker: task progress callbacks delivered in seq order with
# idempotency keys, retried after a failing answer; settlement events
# delivered once in server-main mode, none for simulated tasks.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use AigwTest;

my ($mock, $port) = aigw_mock();

my $node = aigw_node('outbox', conf => "aigw.launcher_naptime = 200\naigw.outbox_interval = 100\n"
	. "aigw.task_progress_callback_url = 'http://127.0.0.1:$port/hooks/flaky-progress'\n"
	. "aigw.settlement_url = 'http://127.0.0.1:$port/hooks/settle'\n"
	. "aigw.server_main_token = 'tok-123'\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'aigw outbox'"), 'the launcher starts the outbox worker');
$node->safe_psql('postgres', <<"SQL");
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('ob-openai', 'Outbox OpenAI', 'openai_compatible', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials)
VALUES ('ob-openai', 'ob', 'Outbox', 'http://127.0.0.1:$port/v1', '{"apiKey":"sk-mock"}');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT id, 'gpt-ob', 'chat', 'gpt-ob', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms WHERE platform_key = 'ob';
SQL

my $id = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "gpt-ob", "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "ob"}')});
is($node->safe_psql('postgres', "SELECT aigw.await_task('$id', 15000)->>'status'"), 'succeeded', 'the task succeeds');
my $events = $node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_task_events WHERE task_id = '$id'");
ok($node->poll_query_until('postgres', qq{SELECT count(*) = $events FROM aigw.gateway_task_callback_outbox
	WHERE task_id = '$id' AND status = 'delivered'}), 'every event of the task is delivered as a callback');
is($node->safe_psql('postgres', "SELECT min(attempts) FROM aigw.gateway_task_callback_outbox WHERE task_id = '$id'"),
	'2', 'a 503 from the receiver is retried');
ok($node->poll_query_until('postgres', qq{SELECT status = 'delivered' FROM aigw.settlement_outbox WHERE task_id = '$id'}),
	'the settlement event is delivered');

my $hooks = `curl -s http://127.0.0.1:$port/hooks`;
my @seqs = $hooks =~ /"name":"flaky-progress","key":"\Q$id\E:(\d+)"/g;
is(join(',', @seqs), join(',', 1 .. $events), 'callbacks arrive once each, in seq order, keyed task:seq');
my @settle = $hooks =~ /"name":"settle","key":"[0-9a-f-]+","type":"task\.settled","auth":"Bearer tok-123"/g;
is(scalar(@settle), 1, 'one settlement event, with its type and the server-main token');

# A simulated task: its callbacks and settlement are skipped, never delivered.
my $sim = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
	'{"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "ob"}')});
is($node->safe_psql('postgres', "SELECT aigw.await_task('$sim', 15000)->>'status'"), 'succeeded', 'a simulated task succeeds');
is($node->safe_psql('postgres', qq{SELECT string_agg(DISTINCT status, ',') FROM (
	SELECT status FROM aigw.gateway_task_callback_outbox WHERE task_id = '$sim'
	UNION ALL SELECT status FROM aigw.settlement_outbox WHERE task_id = '$sim') s}), 'skipped',
	'simulated callbacks and settlement are skipped');

$node->stop;
$mock->kill_kill;
done_testing();
