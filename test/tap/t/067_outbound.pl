# The SSRF guard on real transfers: a provider and a callback receiver on
# loopback are refused (with the address named) until an operator allows the
# host in aigw.outbound_allow_hosts; the refused provider is never contacted.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use AigwTest;

my ($mock, $port) = aigw_mock();

# The test configuration allows loopback; this node takes that back.
my $node = aigw_node('outbound', conf => "aigw.launcher_naptime = 200\naigw.workers = 1\naigw.outbox_interval = 100\n"
	. "aigw.outbound_allow_hosts = ''\n"
	. "aigw.task_progress_callback_url = 'http://127.0.0.1:$port/hooks/progress'\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"), 'a task worker runs');
$node->safe_psql('postgres', <<"SQL");
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('ssrf-openai', 'SSRF OpenAI', 'openai_compatible', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials)
VALUES ('ssrf-openai', 'by-ip', 'By IP', 'http://127.0.0.1:$port/v1', '{"apiKey": "sk-mock"}'),
       ('ssrf-openai', 'by-name', 'By name', 'http://localhost:$port/v1', '{"apiKey": "sk-mock"}');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT id, CASE platform_key WHEN 'by-ip' THEN 'gpt-ip' ELSE 'gpt-name' END, 'chat', 'm', 'custom',
       '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms WHERE platform_key IN ('by-ip', 'by-name');
SQL

# Submits a chat task, waits; returns (id, "status code: message" of its last attempt).
sub run_task
{
	my ($model) = @_;
	my $id = $node->safe_psql('postgres', qq{SELECT aigw.submit_task('chat.completions',
		'{"model": "$model", "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "ssrf"}')});
	my $status = $node->safe_psql('postgres', "SELECT aigw.await_task('$id', 15000)->>'status'");
	my $attempt = $node->safe_psql('postgres', qq{SELECT coalesce(error_code, '') || ': ' || coalesce(error_message, '')
		FROM aigw.gateway_task_attempts WHERE task_id = '$id' ORDER BY attempt_no DESC LIMIT 1});
	return ($id, "$status $attempt");
}
sub mock_requests { my ($n) = `curl -s http://127.0.0.1:$port/stats` =~ /"requests":(\d+)/; return $n; }

my $before = mock_requests();
my ($id, $r) = run_task('gpt-ip');
is($r, 'failed_final outbound_blocked: outbound address 127.0.0.1 is not allowed (aigw.outbound_allow_hosts)',
	'a provider on 127.0.0.1 is refused with the address and the setting named');
is($node->safe_psql('postgres', "SELECT count(*) FROM aigw.gateway_task_attempts WHERE task_id = '$id'"), '1',
	'the refusal is not retried');
like($node->safe_psql('postgres', "SELECT response_snapshot::text FROM aigw.gateway_task_attempts WHERE task_id = '$id'"),
	qr/"retryable": false/, 'the attempt went through the policy engine as a non-retryable failure');
(undef, $r) = run_task('gpt-name');
like($r, qr/^failed_final outbound_blocked: outbound address (127\.0\.0\.1|::1) is not allowed \(aigw\.outbound_allow_hosts\)$/,
	'a host name that resolves to loopback is refused by its resolved address');
is(mock_requests() - $before, 1, 'the refused provider was never contacted (only the test asked for /stats)');

# Callbacks of the refused tasks: the same guard, the same message.
ok($node->poll_query_until('postgres', qq{SELECT count(*) > 0 FROM aigw.gateway_task_callback_outbox
	WHERE task_id = '$id' AND last_error = 'outbound address 127.0.0.1 is not allowed (aigw.outbound_allow_hosts)'}),
	'a callback to 127.0.0.1 is refused with the same message');

# The operator allows the host: the same platform and callbacks work.
$node->append_conf('postgresql.conf', "aigw.outbound_allow_hosts = '127.0.0.1'\n");
$node->reload;
select(undef, undef, undef, 0.5);
$node->safe_psql('postgres', "UPDATE aigw.integration_platforms SET status = 'enabled', cooldown_until = NULL, dynamic_priority = NULL");
($id, $r) = run_task('gpt-ip');
like($r, qr/^succeeded /, 'with 127.0.0.1 allowed the provider call succeeds');
ok($node->poll_query_until('postgres', qq{SELECT bool_and(status = 'delivered') AND count(*) > 0
	FROM aigw.gateway_task_callback_outbox WHERE task_id = '$id'}), 'and its callbacks are delivered');
(undef, $r) = run_task('gpt-name');
like($r, qr/^(succeeded |failed_final outbound_blocked: outbound address ::1 )/,
	'localhost is allowed where it resolves to 127.0.0.1 (::1 is another address and stays refused)');

# Redirects are never followed, even to an allowed host: the 302 is the answer.
$node->safe_psql('postgres', q{INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name,
	pricing_mode, billing_config_override)
	SELECT id, 'mock-redirect', 'chat', 'm', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
	  FROM aigw.integration_platforms WHERE platform_key = 'by-ip'});
(undef, $r) = run_task('mock-redirect');
like($r, qr/^failed_final /, 'a provider answering 302 fails the attempt');
unlike(`curl -s http://127.0.0.1:$port/hooks`, qr/"name":"redirected"/, 'and the redirect target was never requested');

# Allowing the host name itself allows whatever it resolves to.
$node->append_conf('postgresql.conf', "aigw.outbound_allow_hosts = 'localhost'\n");
$node->reload;
select(undef, undef, undef, 0.5);
$node->safe_psql('postgres', "UPDATE aigw.integration_platforms SET status = 'enabled', cooldown_until = NULL, dynamic_priority = NULL");
(undef, $r) = run_task('gpt-name');
like($r, qr/^succeeded /, 'allowing the host name localhost lets its platform through');
(undef, $r) = run_task('gpt-ip');
like($r, qr/^failed_final outbound_blocked: outbound address 127\.0\.0\.1 /, 'while 127.0.0.1 by address is refused again');

$node->stop;
$mock->kill_kill;
done_testing();
