-- Pricing: the pure resolver steps (C, src/pricing.c).

CREATE FUNCTION aigw.estimate_usage(model_type text, request jsonb, capabilities jsonb DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_estimate_usage';
COMMENT ON FUNCTION aigw.estimate_usage(text, jsonb, jsonb) IS
  'unified usage a request is expected to consume; capabilities supply defaults the request leaves out';

CREATE FUNCTION aigw.compute_billing(model_type text, usage jsonb, billing_config jsonb, context jsonb DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_compute_billing';
COMMENT ON FUNCTION aigw.compute_billing(text, jsonb, jsonb, jsonb) IS
  'prices unified usage against an effective billing_config and the user group discount: billing line items and total';

CREATE FUNCTION aigw.group_discount_factor(billing_discount_policy jsonb, model_type text)
  RETURNS numeric
  LANGUAGE c IMMUTABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_group_discount_factor';
COMMENT ON FUNCTION aigw.group_discount_factor(jsonb, text) IS
  'user group billing discount for a model type: modelTypeDiscounts, else defaultDiscountFactor, else 1';

-- Estimated billing of a request against a known billing_config (console previews, tests).
CREATE FUNCTION aigw.compute_estimate(model_type text, request jsonb, billing_config jsonb,
                                      context jsonb DEFAULT NULL, capabilities jsonb DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE sql STABLE PARALLEL SAFE
  BEGIN ATOMIC
    SELECT aigw.compute_billing(model_type, aigw.estimate_usage(model_type, request, capabilities),
                                billing_config,
                                coalesce(context, '{}'::jsonb) || '{"phase": "estimate"}'::jsonb)
           || jsonb_build_object('usage', aigw.estimate_usage(model_type, request, capabilities));
  END;
COMMENT ON FUNCTION aigw.compute_estimate(text, jsonb, jsonb, jsonb, jsonb) IS
  'estimated billing of a request: estimate_usage then compute_billing in the estimate phase';

-- Final billing reconciled against the estimate.
CREATE FUNCTION aigw.reconcile_billing(estimate jsonb, final jsonb)
  RETURNS jsonb
  LANGUAGE sql STABLE PARALLEL SAFE
  BEGIN ATOMIC
    SELECT jsonb_build_object(
      'estimated', (estimate->>'total')::numeric,
      'final', (final->>'total')::numeric,
      'difference', (final->>'total')::numeric - (estimate->>'total')::numeric,
      'currency', final->>'currency',
      'withinEstimate', (final->>'total')::numeric <= (estimate->>'total')::numeric);
  END;
COMMENT ON FUNCTION aigw.reconcile_billing(jsonb, jsonb) IS
  'final billing against its estimate: difference (final - estimated) and whether the hold covered it';
