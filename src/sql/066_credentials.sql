-- Platform credentials sealed with AES-256-GCM (src/credentials.c). Every
-- write of integration_platforms.credentials goes through a trigger that
-- seals plaintext values, whoever writes them (the admin functions, the
-- HTTP routes, a direct INSERT or a restore). Values are opened only inside
-- task workers; no SQL function returns a plaintext credential.

CREATE FUNCTION aigw.credentials_seal(credentials jsonb) RETURNS jsonb
  LANGUAGE C STRICT VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_credentials_seal';
COMMENT ON FUNCTION aigw.credentials_seal(jsonb) IS
  'seals every plaintext value of a credentials object with aigw.credential_key_file; sealed values are kept';

CREATE FUNCTION aigw.credentials_reseal(credentials jsonb) RETURNS jsonb
  LANGUAGE C STRICT VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_credentials_reseal';
COMMENT ON FUNCTION aigw.credentials_reseal(jsonb) IS
  're-seals values sealed under aigw.credential_previous_key_file with aigw.credential_key_file';

CREATE FUNCTION aigw.credentials_verify(credentials jsonb) RETURNS integer
  LANGUAGE C STRICT VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_credentials_verify';
COMMENT ON FUNCTION aigw.credentials_verify(jsonb) IS
  'authenticates every sealed value (GCM tag) and returns how many; raises on an altered value or an unknown key';

CREATE FUNCTION aigw.credential_key_id() RETURNS text
  LANGUAGE C VOLATILE
  AS 'MODULE_PATHNAME', 'aigw_credential_key_id';
COMMENT ON FUNCTION aigw.credential_key_id() IS
  'id of the key in aigw.credential_key_file (first 4 bytes of its SHA-256, hex), null when none is set';

-- Seals what is written to integration_platforms.credentials.
CREATE FUNCTION aigw.integration_platforms_seal_credentials() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  NEW.credentials := credentials_seal(NEW.credentials);
  RETURN NEW;
END
$$;

CREATE TRIGGER integration_platforms_seal_credentials
  BEFORE INSERT OR UPDATE OF credentials ON aigw.integration_platforms
  FOR EACH ROW EXECUTE FUNCTION aigw.integration_platforms_seal_credentials();

-- Re-seals every platform's credentials under aigw.credential_key_file: the
-- values sealed under aigw.credential_previous_key_file (and any value left
-- unsealed) are opened and sealed again. Returns how many platforms changed.
CREATE FUNCTION aigw.rotate_credentials() RETURNS integer
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  p record;
  resealed jsonb;
  n integer := 0;
  state text;
BEGIN
  IF credential_key_id() IS NULL THEN
    RAISE EXCEPTION 'aigw.credential_key_file is not set, so credentials cannot be rotated'
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  FOR p IN SELECT i.id, i.platform_key, i.credentials FROM integration_platforms i
            WHERE i.credentials <> '{}'::jsonb ORDER BY i.platform_key FOR UPDATE LOOP
    BEGIN
      resealed := credentials_reseal(p.credentials);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
      RAISE EXCEPTION 'platform "%": %', p.platform_key, SQLERRM USING ERRCODE = state;
    END;
    IF resealed IS DISTINCT FROM p.credentials THEN
      UPDATE integration_platforms SET credentials = resealed, updated_at = now() WHERE id = p.id;
      n := n + 1;
    END IF;
  END LOOP;
  RETURN n;
END
$$;
COMMENT ON FUNCTION aigw.rotate_credentials() IS
  're-seals every platform credential under aigw.credential_key_file; returns the number of platforms changed';

-- Authenticates every platform's credentials: the platforms whose values do
-- not open with the configured keys, and why (nothing is returned in clear).
CREATE FUNCTION aigw.check_credentials()
  RETURNS TABLE (platform_id uuid, platform_key text, problem text)
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  p record;
BEGIN
  FOR p IN SELECT i.id, i.platform_key, i.credentials FROM integration_platforms i
            WHERE i.credentials <> '{}'::jsonb ORDER BY i.platform_key LOOP
    BEGIN
      PERFORM credentials_verify(p.credentials);
    EXCEPTION WHEN OTHERS THEN
      platform_id := p.id;
      platform_key := p.platform_key;
      problem := SQLERRM;
      RETURN NEXT;
    END;
  END LOOP;
END
$$;
COMMENT ON FUNCTION aigw.check_credentials() IS
  'platforms whose sealed credentials fail to open with the configured keys, with the reason';

REVOKE EXECUTE ON FUNCTION aigw.credentials_seal(jsonb), aigw.credentials_reseal(jsonb),
  aigw.credentials_verify(jsonb), aigw.credential_key_id(), aigw.rotate_credentials(),
  aigw.check_credentials(), aigw.integration_platforms_seal_credentials() FROM PUBLIC;
