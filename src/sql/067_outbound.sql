-- The SSRF guard's address check (src/outbound.c), as the workers apply it
-- to every address an outbound request is about to connect to.
CREATE FUNCTION aigw.outbound_address_allowed(address text, host text DEFAULT NULL) RETURNS boolean
  LANGUAGE C VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_outbound_address_allowed';
COMMENT ON FUNCTION aigw.outbound_address_allowed(text, text) IS
  'whether an outbound connection to address (reached through URL host host) passes the SSRF guard and aigw.outbound_allow_hosts';
REVOKE EXECUTE ON FUNCTION aigw.outbound_address_allowed(text, text) FROM PUBLIC;
