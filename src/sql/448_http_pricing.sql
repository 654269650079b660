-- Pricing routes: estimates through the same resolver that prices real tasks
-- (aigw.estimate_billing), and the pricing rules.

-- POST /api/v1/pricing/estimate, /integration-platform/models/estimatedBilling[/:workflowId]
CREATE FUNCTION aigw.http_estimate(ctx aigw.http_ctx) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  b jsonb := aigw.http_body_object(ctx);
BEGIN
  IF ctx.params ? 'workflowId' THEN
    b := b || jsonb_build_object('workflowId', ctx.params->>'workflowId');
  END IF;
  IF jsonb_typeof(b->'model') IS DISTINCT FROM 'string' THEN
    RAISE EXCEPTION 'model is required' USING ERRCODE = 'AG422';
  END IF;
  RETURN aigw.estimate_billing(b, ctx.identity - 'level');
END
$$;

CREATE FUNCTION aigw.http_h_pricing_estimate(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_json(200, aigw.http_estimate(ctx));

CREATE FUNCTION aigw.http_h_estimated_billing(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  RETURN aigw.http_resop(aigw.http_estimate(ctx));

-- GET /api/v1/pricing/rules (?scopeType=&resourceType=)
CREATE FUNCTION aigw.http_h_pricing_rules(ctx aigw.http_ctx) RETURNS aigw.http_response
  LANGUAGE sql STABLE
  SET search_path = aigw, pg_catalog
  RETURN aigw.http_json(200, jsonb_build_object('data',
    (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.scope_type, r.resource_type), '[]')
       FROM aigw.model_pricing_rules r
      WHERE (ctx.query->>'scopeType' IS NULL OR r.scope_type = ctx.query->>'scopeType')
        AND (ctx.query->>'resourceType' IS NULL OR r.resource_type = ctx.query->>'resourceType'))));

INSERT INTO aigw.http_routes (method, pattern, handler, permission) VALUES
  ('POST', '/api/v1/pricing/estimate', 'pricing_estimate', 'basic'),
  ('GET', '/api/v1/pricing/rules', 'pricing_rules', 'power'),
  ('POST', '/integration-platform/models/estimatedBilling', 'estimated_billing', 'basic'),
  ('POST', '/integration-platform/models/estimatedBilling/:workflowId', 'estimated_billing', 'basic');
