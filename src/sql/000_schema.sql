-- Schema, roles and version.

COMMENT ON SCHEMA aigw IS 'aigw: AI model gateway';

CREATE FUNCTION aigw.version() RETURNS text
  LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
  AS 'MODULE_PATHNAME', 'aigw_version';
COMMENT ON FUNCTION aigw.version() IS 'version of the loaded aigw library';

-- aigw_front may only call the HTTP entry and channel functions.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aigw_front') THEN
    CREATE ROLE aigw_front NOLOGIN;
  END IF;
END
$$;
GRANT USAGE ON SCHEMA aigw TO aigw_front;
GRANT EXECUTE ON FUNCTION aigw.version() TO aigw_front;
