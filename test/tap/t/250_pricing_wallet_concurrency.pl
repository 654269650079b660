# Wallet holds under real concurrency: 200 submits from 20 connections race for
# a balance that covers exactly 10 holds. Exactly 10 are admitted, every other
# one fails with SQLSTATE AGW01, and no balance ever goes below zero.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use AigwTest;

my $node = aigw_node('wallet_concurrency', conf => "max_connections = 60\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
$node->safe_psql('postgres', q{
  INSERT INTO aigw.gateway_users (id, user_key, username)
  VALUES ('00000000-0000-0000-0000-0000000000f1', 'tap-wallet', 'tap-wallet');
  INSERT INTO aigw.gateway_wallet_accounts (id, gateway_user_id, balance)
  VALUES ('00000000-0000-0000-0000-0000000000f2', '00000000-0000-0000-0000-0000000000f1', 25);
  CREATE TABLE tap_outcomes (outcome text);
  CREATE FUNCTION tap_try_hold() RETURNS void LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM aigw.wallet_hold('00000000-0000-0000-0000-0000000000f2', gen_random_uuid(), 2.5);
    INSERT INTO tap_outcomes VALUES ('admitted');
  EXCEPTION WHEN SQLSTATE 'AGW01' THEN
    INSERT INTO tap_outcomes VALUES ('insufficient_balance');
  END $$;
});

my $script = PostgreSQL::Test::Utils::tempdir() . '/hold.sql';
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh "SELECT tap_try_hold();\n";
close($fh);

$node->command_ok(
	[ 'pgbench', '-n', '-c', '20', '-j', '2', '-t', '10', '-f', $script, 'postgres' ],
	'200 concurrent hold attempts run');

is($node->safe_psql('postgres', 'SELECT count(*) FROM tap_outcomes'), '200', '200 submits were made');
is($node->safe_psql('postgres', "SELECT count(*) FROM tap_outcomes WHERE outcome = 'admitted'"),
	'10', 'exactly 10 are admitted');
is($node->safe_psql('postgres', "SELECT count(*) FROM tap_outcomes WHERE outcome = 'insufficient_balance'"),
	'190', 'the other 190 get insufficient_balance (AGW01)');
is($node->safe_psql('postgres',
	"SELECT balance || ' ' || frozen_balance FROM aigw.gateway_wallet_accounts WHERE id = '00000000-0000-0000-0000-0000000000f2'"),
	'0.0 25.0', 'the whole balance is held, none overdrawn');
is($node->safe_psql('postgres', q{
  SELECT count(*) FILTER (WHERE balance_after < 0 OR balance_after <> balance_before - amount)
    FROM aigw.gateway_wallet_transactions WHERE account_id = '00000000-0000-0000-0000-0000000000f2'}),
	'0', 'every ledger row is consistent and none goes below zero');

# Settle and release the ten holds concurrently from two connections each: each applies once.
$node->safe_psql('postgres', q{
  CREATE FUNCTION tap_finish(settle boolean) RETURNS void LANGUAGE plpgsql AS $$
  DECLARE
    t text;
  BEGIN
    FOR t IN SELECT reference_id FROM aigw.gateway_wallet_transactions
              WHERE account_id = '00000000-0000-0000-0000-0000000000f2' AND direction = 'freeze' ORDER BY id LOOP
      IF settle THEN
        PERFORM aigw.wallet_settle(t::uuid, 1);
      ELSE
        PERFORM aigw.wallet_release(t::uuid, 'cancelled');
      END IF;
    END LOOP;
  END $$;
});
open($fh, '>', "$script.settle") or die;
print $fh "SELECT tap_finish(true);\n";
close($fh);
open($fh, '>', "$script.release") or die;
print $fh "SELECT tap_finish(false);\n";
close($fh);
$node->command_ok(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-t', '3', '-f', "$script.settle", '-f', "$script.release", 'postgres' ],
	'settlements and releases race on the same ten tasks');
is($node->safe_psql('postgres', q{
  SELECT count(*) FROM aigw.gateway_wallet_transactions
   WHERE account_id = '00000000-0000-0000-0000-0000000000f2' AND direction IN ('debit', 'unfreeze')}),
	'10', 'each task is finished exactly once');
is($node->safe_psql('postgres', q{
  SELECT frozen_balance = 0 AND balance + total_spent = 25
    FROM aigw.gateway_wallet_accounts WHERE id = '00000000-0000-0000-0000-0000000000f2'}),
	't', 'nothing stays frozen and no money is created or lost');

$node->stop;
done_testing();
