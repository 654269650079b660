# Sealed platform credentials end to end: the task worker opens the sealed
# key and reaches the mock provider with it (the mock answers 401 to any other
# Authorization header); a tampered value, a wrong key, a key file with loose
# permissions and a missing key file fail with clear errors; a key rotation
# keeps every platform working.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use AigwTest;

my ($mock, $port) = aigw_mock();

my $dir = PostgreSQL::Test::Utils::tempdir();
# Writes a key file of 64 hex characters with the given mode; returns its path.
sub key_file
{
	my ($name, $mode) = @_;
	my $path = "$dir/$name";
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh join('', map { sprintf('%02x', int(rand(256))) } 1 .. 32), "\n";
	close($fh);
	chmod($mode // 0600, $path);
	return $path;
}
my $k1 = key_file('k1.key');
my $k2 = key_file('k2.key');

my $node = aigw_node('credentials', conf => "aigw.launcher_naptime = 200\naigw.workers = 1\n"
	. "aigw.credential_key_file = '$k1'\n");
$node->safe_psql('postgres', 'CREATE EXTENSION aigw CASCADE');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'aigw task worker'"), 'a task worker runs');
$node->safe_psql('postgres', <<"SQL");
INSERT INTO aigw.model_catalog_providers (provider_key, display_name, provider_type, status)
VALUES ('cred-openai', 'Credentials OpenAI', 'openai_compatible', 'active');
SELECT aigw.create_platform('cred-openai', 'cred', 'Credentials', 'http://127.0.0.1:$port/v1',
                            p_credentials => '{"apiKey": "sk-mock"}');
INSERT INTO aigw.platform_models (platform_id, model_name, model_type, display_name, pricing_mode, billing_config_override)
SELECT id, 'gpt-cred', 'chat', 'gpt-cred', 'custom', '{"currency": "resource", "text": {"inputPer1k": 1, "outputPer1k": 2}}'
  FROM aigw.integration_platforms WHERE platform_key = 'cred';
SQL

my $k1_id = $node->safe_psql('postgres', 'SELECT aigw.credential_key_id()');
like($k1_id, qr/^[0-9a-f]{8}$/, 'the key file is loaded');
my $stored = $node->safe_psql('postgres', "SELECT credentials->>'apiKey' FROM aigw.integration_platforms WHERE platform_key = 'cred'");
like($stored, qr/^aigw:v1:\Q$k1_id\E:[A-Za-z0-9+\/=]+$/, 'the table holds the sealed value under the key id');
unlike($stored, qr/sk-mock/, 'the table does not hold the plaintext');

# Submits a chat task, waits, returns "status attempt_error_code: attempt_error_message" of the last attempt.
sub run_task
{
	my $id = $node->safe_psql('postgres', q{SELECT aigw.submit_task('chat.completions',
		'{"model": "gpt-cred", "messages": [{"role": "user", "content": "hi"}]}', '{"user_id": "cred"}')});
	my $status = $node->safe_psql('postgres', "SELECT aigw.await_task('$id', 15000)->>'status'");
	my $attempt = $node->safe_psql('postgres', qq{SELECT coalesce(error_code, '') || ': ' || coalesce(error_message, '')
		FROM aigw.gateway_task_attempts WHERE task_id = '$id' ORDER BY attempt_no DESC LIMIT 1});
	return "$status $attempt";
}
sub reset_platform
{
	$node->safe_psql('postgres', "UPDATE aigw.integration_platforms SET status = 'enabled', cooldown_until = NULL, "
		. "dynamic_priority = NULL WHERE platform_key = 'cred'");
}
sub reload_with
{
	my ($conf) = @_;
	$node->append_conf('postgresql.conf', $conf);
	$node->reload;
	select(undef, undef, undef, 0.5);	# the worker reads the file at its next loop
}

like(run_task(), qr/^succeeded /, 'the worker opens the sealed key: the mock provider accepts its Authorization header');

# Tampering: one changed character of the sealed value fails its GCM tag in the worker.
my $tampered = $stored;
substr($tampered, 30, 1) = substr($tampered, 30, 1) eq 'A' ? 'B' : 'A';
$node->safe_psql('postgres', "UPDATE aigw.integration_platforms SET credentials = jsonb_build_object('apiKey', '$tampered') "
	. "WHERE platform_key = 'cred'");
like(run_task(), qr/^failed_final credential_error: platform credentials cannot be opened: the sealed credential failed authentication/,
	'a tampered credential fails the attempt with a clear error');
$node->safe_psql('postgres', "UPDATE aigw.integration_platforms SET credentials = jsonb_build_object('apiKey', '$stored') "
	. "WHERE platform_key = 'cred'");
reset_platform();
like(run_task(), qr/^succeeded /, 'the original value works again');

# A wrong key: the worker says which key sealed the value.
reload_with("aigw.credential_key_file = '$k2'\n");
my $k2_id = $node->safe_psql('postgres', 'SELECT aigw.credential_key_id()');
isnt($k2_id, $k1_id, 'the new key has another id');
reset_platform();
like(run_task(), qr/^failed_final credential_error: .*sealed with key \Q$k1_id\E, which is neither aigw\.credential_key_file \(key \Q$k2_id\E\)/,
	'a wrong key fails the attempt with a clear error naming both keys');

# Rotation: the previous key still opens old values until they are re-sealed.
reload_with("aigw.credential_previous_key_file = '$k1'\n");
reset_platform();
like(run_task(), qr/^succeeded /, 'with the previous key configured, old values open');
is($node->safe_psql('postgres', 'SELECT aigw.rotate_credentials()'), '1', 'rotate_credentials re-seals one platform');
like($node->safe_psql('postgres', "SELECT credentials->>'apiKey' FROM aigw.integration_platforms WHERE platform_key = 'cred'"),
	qr/^aigw:v1:\Q$k2_id\E:/, 'the value is now sealed under the new key');
is($node->safe_psql('postgres', 'SELECT aigw.rotate_credentials()'), '0', 'a second rotation has nothing to do');
reload_with("aigw.credential_previous_key_file = ''\n");
like(run_task(), qr/^succeeded /, 'after the rotation the previous key is no longer needed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM aigw.check_credentials()'), '0', 'check_credentials finds no problem');

# A key file others can read is refused, by the SQL functions and the worker alike.
chmod(0644, $k2);
my ($rc, $stdout, $stderr) = $node->psql('postgres', 'SELECT aigw.credential_key_id()');
like($stderr, qr/has group or world access; it must be readable by its owner alone \(chmod 600\)/,
	'a key file with group or world access is refused');
like(run_task(), qr/^failed_final credential_error: platform credentials cannot be opened: the credential key file cannot be used \(the server log says why\)$/,
	'the worker refuses it too, without naming the path in the attempt');
ok($node->log_contains(qr/aigw: platform credentials cannot be opened: aigw\.credential_key_file ".*k2\.key" has group or world access/),
	'the server log names the file and the reason');
chmod(0600, $k2);
reset_platform();
like(run_task(), qr/^succeeded /, 'with mode 0600 again it works');

# No key file: credentials cannot be stored, and the error names the setting.
reload_with("aigw.credential_key_file = ''\n");
($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT aigw.create_platform('cred-openai', 'cred-2', 'Credentials 2', p_credentials => '{"apiKey": "sk-x"}')});
like($stderr, qr/cannot store platform credentials: aigw\.credential_key_file is not set/,
	'without a key file, storing a credential fails with an error naming aigw.credential_key_file');
is($node->safe_psql('postgres', q{SELECT platform_key FROM aigw.create_platform('cred-openai', 'cred-3', 'No secret')}),
	'cred-3', 'a platform without credentials needs no key');

$node->stop;
$mock->kill_kill;
done_testing();
