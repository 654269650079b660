# A task started at submit is visible to its worker as soon as the submit's
# commit record is written, and the submit returns only once that record is
# flushed (docs/runtime.md, "The submit's commit"). The walwriter is made to
# sleep for 10 s here, so nothing but the submit's own flush makes its commit
# durable before the checks below.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use AigwTest;

my $node = aigw_node('handoff_flush', conf => "aigw.launcher_naptime = 200\naigw.workers = 1\nwal_writer_delay = 10s\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
$node->safe_psql('postgres', q{
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('hf-sim', 'Hand-off simulation', 'simulation', 'active');
INSERT INTO aigw.integration_platforms (provider, platform_key, name) VALUES ('hf-sim', 'hf', 'Hand-off');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT id, 'hf-chat', 'chat', 'hf', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms WHERE platform_key = 'hf';});
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"), 'worker up');

# a call that lasts long enough for no outcome to be committed (and flushed) during the checks
my $slow = q{'{"model": "hf-chat", "messages": [{"role": "user", "content": "f"}], "simulation_profile": {"latencyMs": 20000}}'};
my $fast = q{'{"model": "hf-chat", "messages": [{"role": "user", "content": "f"}]}'};

# In the submitting transaction the commit is asynchronous; after it, the
# session's setting is what it was, and the commit record is on disk.
my $out = $node->safe_psql('postgres', qq{
BEGIN;
SELECT aigw.submit_task('chat.completions', $slow, '{"user_id": "hf"}') AS task \\gset
SELECT status, locked_by FROM aigw.gateway_tasks WHERE id = :'task';
SHOW synchronous_commit;
SELECT pg_current_wal_insert_lsn() AS before_commit \\gset
COMMIT;
SHOW synchronous_commit;
SELECT pg_current_wal_flush_lsn() > :'before_commit'::pg_lsn AS flushed;});
my @lines = split /\n/, $out;
is($lines[0], 'running|handoff', 'the task was started at submit');
is($lines[1], 'off', 'the submitting transaction commits asynchronously');
is($lines[2], 'on', 'the setting is back after the commit');
is($lines[3], 't', 'the commit record was flushed before COMMIT returned');

# The same for a submit that is its own transaction, several times over.
my $flushed = 0;
for my $i (1 .. 5)
{
	$flushed += 1 if $node->safe_psql('postgres', qq{
SELECT pg_current_wal_insert_lsn() AS before_submit \\gset
SELECT aigw.submit_task('chat.completions', $slow, '{"user_id": "hf$i"}') IS NOT NULL AS submitted \\gset
SELECT pg_current_wal_flush_lsn() > :'before_submit'::pg_lsn AND :'submitted'::boolean;}) eq 't';
}
is($flushed, 5, 'every single-statement submit returned after its commit was flushed');

# A crash right after the submits returned loses none of them: the walwriter
# has not written anything, so only the submits' own flushes keep them.
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', q{SELECT count(*) FROM aigw.gateway_tasks WHERE user_id LIKE 'hf%'}),
	'6', 'all six submitted tasks survived an immediate stop');
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"), 'worker up after the restart');

# A caller that asked for an asynchronous commit keeps it (nothing to flush).
is($node->safe_psql('postgres', qq{
SET synchronous_commit = off;
BEGIN;
SELECT aigw.submit_task('chat.completions', $fast, '{"user_id": "hf-async"}') AS task \\gset
SHOW synchronous_commit;
COMMIT;
SHOW synchronous_commit;}), "off\noff", "a caller's own asynchronous commit is left as it is");

# With synchronous standbys configured, the commit waits for them as usual:
# the submit does not make it asynchronous.
$node->safe_psql('postgres', "ALTER SYSTEM SET synchronous_standby_names = 'aigw_test_nobody'");
$node->reload;
ok(aigw_poll($node, 'postgres', "SELECT current_setting('synchronous_standby_names') = 'aigw_test_nobody'"),
	'synchronous standby named');
is($node->safe_psql('postgres', qq{
SET synchronous_commit = local;
BEGIN;
SELECT aigw.submit_task('chat.completions', $fast, '{"user_id": "hf-standby"}') IS NOT NULL;
SHOW synchronous_commit;
COMMIT;}), "t\nlocal", 'with synchronous standbys the submit leaves synchronous_commit alone');
$node->safe_psql('postgres', "ALTER SYSTEM RESET synchronous_standby_names");
$node->reload;

# The tasks run to their end: the hand-off is unchanged by the flush.
ok(aigw_poll($node, 'postgres', q{SELECT count(*) = 2 FROM aigw.gateway_tasks
	WHERE user_id IN ('hf-async', 'hf-standby') AND status = 'succeeded'}), 'the fast tasks succeed');

$node->stop;
done_testing();
