-- The SSRF guard's address check: what an outbound connection may reach.
\set VERBOSITY terse
BEGIN;
-- With nothing allowed: private, loopback, link-local, metadata, CGNAT,
-- unique-local, multicast and reserved addresses are refused, in every
-- IPv6 form that embeds an IPv4 address; public addresses pass.
SET LOCAL aigw.outbound_allow_hosts = '';
SELECT a AS address, aigw.outbound_address_allowed(a) AS allowed
  FROM unnest(ARRAY[
    '10.0.0.5', '172.16.0.1', '172.31.255.255', '172.32.0.1', '192.168.1.1', '127.0.0.1', '127.8.9.10',
    '169.254.169.254', '169.254.1.1', '100.64.0.1', '100.127.255.255', '100.128.0.1', '0.0.0.0',
    '224.0.0.1', '255.255.255.255', '8.8.8.8', '1.1.1.1',
    '::1', '::', 'fe80::1', 'febf::1', 'fc00::1', 'fd00:ec2::254', 'ff02::1',
    '::ffff:10.0.0.5', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '::ffff:8.8.8.8', '::10.0.0.5',
    '64:ff9b::a00:5', '64:ff9b::808:808', '2002:a00:5::1', '2002:808:808::1',
    '2606:4700:4700::1111', '[::1]']) a;
-- A host name is not an address, and neither is garbage.
SAVEPOINT s;
SELECT aigw.outbound_address_allowed('localhost');
ROLLBACK TO s;
SELECT aigw.outbound_address_allowed('10.0.0.256');
ROLLBACK TO s;
SELECT aigw.outbound_address_allowed(NULL) IS NULL AS null_in_null_out;

-- Entries that are neither names nor addresses are refused when set.
SET LOCAL aigw.outbound_allow_hosts = '10.0.0.0/33';
ROLLBACK TO s;
SET LOCAL aigw.outbound_allow_hosts = 'bad host!';
ROLLBACK TO s;
SET LOCAL aigw.outbound_allow_hosts = '10.0.0.0/';
ROLLBACK TO s;

-- The operator's allow list: addresses and CIDR ranges (IPv4-mapped forms
-- follow them), host names and *.suffix names, whatever they resolve to.
SET LOCAL aigw.outbound_allow_hosts = '10.1.0.0/16, 127.0.0.1, fd00::/8, Api.Internal, *.corp.example';
SELECT a AS address, h AS host, aigw.outbound_address_allowed(a, h) AS allowed
  FROM (VALUES ('10.1.2.3', NULL), ('10.2.0.1', NULL), ('::ffff:10.1.2.3', NULL), ('127.0.0.1', NULL),
               ('127.0.0.2', NULL), ('fd12::1', NULL), ('fc00::1', NULL), ('192.168.1.1', 'api.internal'),
               ('192.168.1.1', 'API.INTERNAL'), ('192.168.1.1', 'other.internal'),
               ('192.168.1.1', 'db.corp.example'), ('192.168.1.1', 'corp.example'),
               ('169.254.169.254', 'evil.example')) AS t(a, h);
-- Empty entries are ignored.
SET LOCAL aigw.outbound_allow_hosts = ' , localhost ,';
SELECT aigw.outbound_address_allowed('127.0.0.1', 'localhost') AS by_name,
       aigw.outbound_address_allowed('127.0.0.1') AS by_address;
ROLLBACK;
