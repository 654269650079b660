# A task started at submit is visible to its worker as soon as the submit's
# commit record is written, and the submit returns only once that record is
# flushed (docs/runtime.md, "The submit's commit"). The WAL writer is made to
# sleep for 10 s and the tasks' calls last 20 s, so that in the moments the
# checks below look at, only the submit's own flush (or, rarely, a commit of
# the reaper) writes the WAL out; without that flush they fail (checked by
# taking it out: 0 of 5 flushed, 0 of 6 tasks kept).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use AigwTest;

my $node = aigw_node('handoff_flush', conf => "aigw.launcher_naptime = 200\naigw.workers = 1\nwal_writer_delay = 10s\nwal_level = replica\nmax_wal_senders = 2\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
aigw_simulation_model($node, 'hf', 'hf-chat');
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"), 'worker up');

# a call that lasts long enough for no outcome to be committed (and flushed) during the checks
my $slow = q{'{"model": "hf-chat", "messages": [{"role": "user", "content": "f"}], "simulation_profile": {"latencyMs": 20000}}'};
my $fast = q{'{"model": "hf-chat", "messages": [{"role": "user", "content": "f"}]}'};

# A submit in a transaction block: the task is written started, and once
# COMMIT returns its commit record is on disk and the session's setting is
# what it was.
my $out = $node->safe_psql('postgres', qq{
BEGIN;
SELECT aigw.submit_task('chat.completions', $slow, '{"user_id": "hf"}') AS task \\gset
SELECT status, locked_by FROM aigw.gateway_tasks WHERE id = :'task';
SELECT pg_current_wal_insert_lsn() AS before_commit \\gset
COMMIT;
SHOW synchronous_commit;
SELECT pg_current_wal_flush_lsn() > :'before_commit'::pg_lsn AS flushed;});
my @lines = split /\n/, $out;
is($lines[0], 'running|handoff', 'the task was started at submit');
is($lines[1], 'on', 'the session keeps its synchronous_commit');
is($lines[2], 't', 'the commit record was flushed before COMMIT returned');

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

# An outcome that a caller waits for is made visible before the worker's
# commit record is flushed, and aigw.await_task returns it only once it is
# durable: a crash right after the last await returned keeps every outcome.
my $awaited = 0;
for my $i (1 .. 5)
{
	$awaited += 1 if $node->safe_psql('postgres', qq{
SELECT aigw.submit_task('chat.completions', $fast, '{"user_id": "hf-await$i"}') AS task \\gset
SELECT aigw.await_task(:'task', 20000)->>'status';}) eq 'succeeded';
}
is($awaited, 5, 'five awaited tasks succeeded');
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', q{SELECT count(*) FROM aigw.gateway_tasks
	WHERE user_id LIKE 'hf-await%' AND status = 'succeeded'}), '5', 'their outcomes survived an immediate stop');
ok(aigw_poll($node, 'postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"), 'worker up after the second restart');

# The crash shows that the outcomes were flushed, not who waited for it: the
# worker flushes its commit record right after waking the waiter, and the
# waiter flushes it (or waits for the worker's flush) before it returns. With
# the WAL writer stopped, the commit record of the outcome (found by the xid
# that wrote the task row, a subtransaction's) must be flushed by the time
# aigw.await_task returns. With neither flush this and the crash above fail;
# with only the waiter's they pass.
$node->safe_psql('postgres', 'CREATE EXTENSION pg_walinspect');
# a call that lasts until the caller waits for it
my $waited = q{'{"model": "hf-chat", "messages": [{"role": "user", "content": "f"}], "simulation_profile": {"latencyMs": 500}}'};
my $walwriter = $node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'");
kill 'STOP', $walwriter;
my $res = $node->safe_psql('postgres', qq{
SELECT aigw.submit_task('chat.completions', $waited, '{"user_id": "hf-wait"}') AS task \\gset
SELECT pg_current_wal_insert_lsn() AS start \\gset
SELECT aigw.await_task(:'task', 20000)->>'status' AS status, pg_current_wal_flush_lsn() AS flushed \\gset
SELECT xmin AS outcome_xid FROM aigw.gateway_tasks WHERE id = :'task' \\gset
SELECT :'status', count(*), bool_and(end_lsn <= :'flushed'::pg_lsn)
  FROM pg_get_wal_records_info(:'start', pg_current_wal_insert_lsn())
 WHERE resource_manager = 'Transaction' AND record_type = 'COMMIT'
   AND (xid = :'outcome_xid'::xid OR description ~ ('subxacts:.*\\m' || :'outcome_xid' || '\\M'));});
kill 'CONT', $walwriter;
is($res, 'succeeded|1|t', 'the awaited outcome was flushed before aigw.await_task returned it');

# A caller that asked for an asynchronous commit keeps it.
$node->safe_psql('postgres', qq{
SET synchronous_commit = off;
SELECT aigw.submit_task('chat.completions', $fast, '{"user_id": "hf-async"}');});

# With synchronous standbys configured, the submit's commit waits for them as
# any commit does (here for one that never comes, until it is named no more).
$node->safe_psql('postgres', "ALTER SYSTEM SET synchronous_standby_names = 'aigw_test_nobody'");
$node->reload;
ok(aigw_poll($node, 'postgres', "SELECT current_setting('synchronous_standby_names') = 'aigw_test_nobody'"),
	'synchronous standby named');
my $bg = $node->background_psql('postgres');
$bg->query_until(qr/submitting/, qq{\\echo submitting
SELECT aigw.submit_task('chat.completions', $fast, '{"user_id": "hf-standby"}') IS NOT NULL;
});
ok(aigw_poll($node, 'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE wait_event = 'SyncRep' AND query LIKE '%hf-standby%'}), 'the submit waits for the synchronous standby');
$node->safe_psql('postgres', "ALTER SYSTEM RESET synchronous_standby_names");
$node->reload;
$bg->quit;

# The tasks run to their end: the hand-off is unchanged by the flush.
ok(aigw_poll($node, 'postgres', q{SELECT count(*) = 2 FROM aigw.gateway_tasks
	WHERE user_id IN ('hf-async', 'hf-standby') AND status = 'succeeded'}), 'the fast tasks succeed');

$node->stop;
done_testing();
