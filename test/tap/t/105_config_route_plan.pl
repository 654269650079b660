# Routing plans end to end (src/sql/305_route_plan.sql): a request's routing config (the
# x-portkey-config / x-aigw-config header, given to submit_task as options.routingConfig) and
# gateway_routing with targets, run by the workers against the mock provider and the
# simulation provider: the plan's order, fallback with and without strategy.on_status_codes,
# single with no fallback, override_params.model, retry attempts on the same target,
# loadbalance weights over 200 tasks, conditional routing on metadata.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use AigwTest;

my ($mock, $port) = aigw_mock();
my $node = aigw_node('route_plan', conf => "aigw.launcher_naptime = 200\naigw.workers = 2\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"),
	'the task workers run');

# bad answers 500 for gpt-tap, good answers; bad comes first in the router's own order
$node->safe_psql('postgres', <<"SQL");
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('tap-openai', 'TAP OpenAI', 'openai_compatible', 'active'),
       ('tap-sim', 'TAP simulation', 'simulation', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name, base_url, credentials, priority, config)
VALUES ('tap-openai', 'bad', 'Bad', 'http://127.0.0.1:$port/v1', '{"apiKey":"sk-mock"}', 10,
        '{"modelMap": {"gpt-tap": "mock-500"}, "timeoutMs": 2000}'),
       ('tap-openai', 'good', 'Good', 'http://127.0.0.1:$port/v1', '{"apiKey":"sk-mock"}', 20, '{}'),
       ('tap-sim', 'sim-1', 'Sim 1', NULL, '{}', 10, '{}'),
       ('tap-sim', 'sim-2', 'Sim 2', NULL, '{}', 20, '{}');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT p.id, m, 'chat', m, 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms p, unnest(ARRAY['gpt-tap', 'gpt-alt']) m
 WHERE p.platform_key IN ('bad', 'good');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT p.id, 'tap-sim-chat', 'chat', 'sim', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms p WHERE p.platform_key IN ('sim-1', 'sim-2');
-- every attempt of these tests is on a target the plan names: retries are not slowed down
-- and the 200 loadbalance tasks are about the draw, not about the rate limiter
UPDATE aigw.model_runtime_policy_sets SET retry_policy = retry_policy || '{"backoffMs": 50, "maxBackoffMs": 200}',
       rate_limit_policy = '{"rules": [{"metric": "concurrent", "limit": 1000, "leaseTtlSeconds": 900}]}'
 WHERE policy_key = 'default-runtime-v1';
SQL

# Submits a chat task with a routing config (and options), waits, returns (id, status).
sub run_task
{
	my ($model, $config, %o) = @_;
	my $opts = $o{options} // '{}';
	my $user = $o{user} // 'tap';
	my $id = $node->safe_psql('postgres', qq{SELECT aigw.submit_task('chat.completions',
		'{"model": "$model", "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "$user"}',
		'$opts'::jsonb || jsonb_strip_nulls(jsonb_build_object('routingConfig', to_jsonb(nullif(\$cfg\$$config\$cfg\$, '')))))});
	my $status = $node->safe_psql('postgres', "SELECT aigw.await_task('$id', 20000)->>'status'");
	return ($id, $status);
}

# Puts bad back as it was (failures demote it).
sub reset_bad
{
	$node->safe_psql('postgres', "UPDATE aigw.integration_platforms SET status = 'enabled', "
		. "cooldown_until = NULL, dynamic_priority = NULL WHERE platform_key = 'bad'");
}

sub attempts
{
	my ($id) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(a.attempt_no || ':' || p.platform_key || ':' || a.status
		                  || coalesce(':' || a.error_code, ''), ' ' ORDER BY a.attempt_no)
		  FROM aigw.gateway_task_attempts a JOIN aigw.integration_platforms p ON p.id = a.platform_id
		 WHERE a.task_id = '$id'});
}

# The plan's order beats the router's: good first although bad has the better priority.
my ($id, $status) = run_task('gpt-tap', '{"strategy": {"mode": "fallback"}, "targets": [{"platform": "good"}, {"platform": "bad"}]}');
is($status, 'succeeded', 'fallback plan: the first target answers');
is(attempts($id), '1:good:succeeded', "the plan's first target is tried first, whatever the platform priorities");
is($node->safe_psql('postgres', "SELECT normalized_request->'routePlan'->>'mode' || ':' || (normalized_request->'routePlan'->>'source') FROM aigw.gateway_tasks WHERE id = '$id'"),
	'fallback:header', 'the normalised plan is stored with the task');

# Fallback from a failing target to a good one (the runtime policy retries bad once first).
reset_bad();
($id, $status) = run_task('gpt-tap', '{"strategy": {"mode": "fallback", "on_status_codes": [500, 503]}, "targets": [{"platform": "bad"}, {"platform": "good"}]}');
is($status, 'succeeded', 'fallback: a failing target falls back to the next');
is(attempts($id), '1:bad:failed:server_error 2:bad:failed:server_error 3:good:succeeded',
	'fallback: both targets recorded in order');
is($node->safe_psql('postgres', qq{SELECT response_snapshot->'routePlanDecision'->'failover'->>'reason'
	FROM aigw.gateway_task_attempts WHERE task_id = '$id' AND attempt_no = 2}),
	'route_plan_fallback', "the attempt records that the plan's on_status_codes made it fall back");

# on_status_codes that do not list the failure: no fallback.
reset_bad();
($id, $status) = run_task('gpt-tap', '{"strategy": {"mode": "fallback", "on_status_codes": [429]}, "targets": [{"platform": "bad"}, {"platform": "good"}]}');
is($status, 'failed_final', 'fallback: a status not in on_status_codes does not fall back');
is(attempts($id), '1:bad:failed:server_error 2:bad:failed:server_error', 'only the first target was tried');
is($node->safe_psql('postgres', "SELECT aigw.task_outcome('$id')->>'httpStatus'"), '502', 'the provider failure is answered as 502');

# single: the first target only, never the second.
reset_bad();
($id, $status) = run_task('gpt-tap', '{"strategy": {"mode": "single"}, "targets": [{"platform": "bad"}, {"platform": "good"}]}');
is($status, 'failed_final', 'single: no fallback to the second target');
unlike(attempts($id), qr/good/, 'single: the second target was never tried');
is($node->safe_psql('postgres', "SELECT error_code FROM aigw.gateway_tasks WHERE id = '$id'"), 'server_error',
	"single: the task keeps the provider's error");

# override_params.model: the target's model is routed and sent to the provider.
($id, $status) = run_task('gpt-tap', '{"strategy": {"mode": "single"}, "targets": [{"platform": "good", "override_params": {"model": "gpt-alt"}}]}');
is($status, 'succeeded', 'override_params.model: the task succeeds');
is($node->safe_psql('postgres', "SELECT request_snapshot->>'model' FROM aigw.gateway_task_attempts WHERE task_id = '$id'"),
	'gpt-alt', "override_params.model: the provider is asked for the target's model");

# retry: three more attempts on the same target for a listed status, then the next target.
reset_bad();
($id, $status) = run_task('gpt-tap', '{"retry": {"attempts": 3, "on_status_codes": [500]}, "strategy": {"mode": "fallback"}, "targets": [{"platform": "bad"}, {"platform": "good"}]}');
is($status, 'succeeded', 'retry: the task ends on the second target');
is(attempts($id), '1:bad:failed:server_error 2:bad:failed:server_error 3:bad:failed:server_error 4:bad:failed:server_error 5:good:succeeded',
	'retry: attempts = 3 retries on the same target, then fallback');
reset_bad();
($id, $status) = run_task('gpt-tap', '{"retry": {"attempts": 2, "on_status_codes": [429]}, "strategy": {"mode": "fallback"}, "targets": [{"platform": "bad"}, {"platform": "good"}]}');
is(attempts($id), '1:bad:failed:server_error 2:good:succeeded',
	"retry: a status not in retry.on_status_codes is not retried (the runtime policy's retry is replaced)");

# gateway_routing with targets is the default plan of a user without a header.
reset_bad();
$node->safe_psql('postgres', q{INSERT INTO aigw.unified_config_store (config_type, level_name, scope_id, config_value)
	VALUES ('gateway_routing', 'user', 'gw-user', '{"routing_strategy": "single", "retry_attempts": 0,
	        "targets": [{"provider": "tap-openai", "platform": "good"}]}')});
($id, $status) = run_task('gpt-tap', '', user => 'gw-user');
is(attempts($id), '1:good:succeeded', 'gateway_routing with targets routes a request without a header');
is($node->safe_psql('postgres', "SELECT normalized_request->'routePlan'->>'source' FROM aigw.gateway_tasks WHERE id = '$id'"),
	'gateway_routing', 'the plan says it came from gateway_routing');
($id, $status) = run_task('gpt-tap', '{"strategy": {"mode": "single"}, "targets": [{"platform": "bad"}]}', user => 'gw-user');
like(attempts($id), qr/^1:bad/, 'a header config beats gateway_routing');
reset_bad();
($id, $status) = run_task('gpt-tap', '', user => 'other-user');
like(attempts($id), qr/^1:bad.* 3:good:succeeded$/, 'without a header or gateway_routing targets the router decides as before');

# loadbalance 3:1 over 200 simulated tasks, submitted 20 at a time.
$node->safe_psql('postgres', 'CREATE TABLE lb (id uuid)');
my $finished = 1;
for my $batch (1 .. 10)
{
	$node->safe_psql('postgres', q{
		INSERT INTO lb
		SELECT aigw.submit_task('chat.completions', '{"model": "tap-sim-chat", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}',
		                        '{"user_id": "lb"}',
		                        '{"routingConfig": {"strategy": {"mode": "loadbalance"},
		                          "targets": [{"platform": "sim-1", "weight": 3}, {"platform": "sim-2", "weight": 1}]}}')
		  FROM generate_series(1, 20)});
	$finished &&= aigw_poll($node, 'postgres', q{SELECT count(*) = 0 FROM lb JOIN aigw.gateway_tasks t ON t.id = lb.id
		WHERE t.status NOT IN ('succeeded', 'failed_final', 'cancelled')});
}
ok($finished, 'loadbalance: the 200 tasks finish');
my ($n1, $n2, $ok) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE p.platform_key = 'sim-1'), count(*) FILTER (WHERE p.platform_key = 'sim-2'),
	       bool_and(t.status = 'succeeded' AND t.attempt_count = 1)
	  FROM lb JOIN aigw.gateway_tasks t ON t.id = lb.id
	  JOIN aigw.gateway_task_attempts a ON a.task_id = t.id JOIN aigw.integration_platforms p ON p.id = a.platform_id});
is($ok, 't', 'loadbalance: every task succeeded on its first attempt');
is($n1 + $n2, 200, 'loadbalance: every task ran on one of the two targets');
# 3:1 expects 150 on sim-1 (binomial sd 6.1); 120..180 is about five sd either way
ok($n1 >= 120 && $n1 <= 180, "loadbalance 3:1: sim-1 ran $n1 of 200 (expected 150 within 30)");

# conditional on metadata (x-portkey-metadata: options.metadata) and params.
my $cond = '{"strategy": {"mode": "conditional", "conditions": [
	{"query": {"metadata.plan": {"$in": ["paid", "pro"]}}, "then": "s2"},
	{"query": {"$and": [{"metadata.region": "eu"}, {"params.max_tokens": {"$lt": 100}}]}, "then": "s2"}],
	"default": "s1"}, "targets": [{"name": "s1", "platform": "sim-1"}, {"name": "s2", "platform": "sim-2"}]}';
($id, $status) = run_task('tap-sim-chat', $cond, options => '{"metadata": "{\"plan\": \"paid\"}"}');
is(attempts($id), '1:sim-2:succeeded', 'conditional: metadata.plan in [paid, pro] routes to s2');
($id, $status) = run_task('tap-sim-chat', $cond, options => '{"metadata": {"plan": "free"}}');
is(attempts($id), '1:sim-1:succeeded', 'conditional: no condition matches, the default s1');
is($node->safe_psql('postgres', "SELECT normalized_request->'routePlan'->'chosen'->>'by' FROM aigw.gateway_tasks WHERE id = '$id'"),
	'default', 'conditional: the plan records why its target was chosen');
($id, $status) = run_task('tap-sim-chat', $cond, options => '{"metadata": {"region": "eu"}}');
is(attempts($id), '1:sim-1:succeeded', 'conditional: $and needs every part (params.max_tokens is absent)');

$node->stop;
$mock->kill_kill;
done_testing();
