-- The handler table of the HTTP entry: route handler names to functions.
-- (Last file of the range, so that every handler exists when it is read.)

CREATE FUNCTION aigw.http_dispatch(handler text, ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
BEGIN
  CASE handler
    WHEN 'healthz' THEN RETURN aigw.http_h_healthz(ctx);
    WHEN 'readyz' THEN RETURN aigw.http_h_readyz(ctx);
    WHEN 'metrics' THEN RETURN aigw.http_h_metrics(ctx);
    WHEN 'me' THEN RETURN aigw.http_h_me(ctx);
    ELSE
      RAISE EXCEPTION 'route handler % is not defined', handler USING ERRCODE = 'AG500';
  END CASE;
END
$$;

-- Every route must name a handler of aigw.http_dispatch.
DO $$
DECLARE
  src text := (SELECT prosrc FROM pg_proc WHERE oid = 'aigw.http_dispatch(text,aigw.http_ctx)'::regprocedure);
  missing text;
BEGIN
  SELECT string_agg(DISTINCT handler, ', ') INTO missing FROM aigw.http_routes
   WHERE position(format('WHEN %L THEN', handler) IN src) = 0;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'routes without a handler: %', missing;
  END IF;
END
$$;
