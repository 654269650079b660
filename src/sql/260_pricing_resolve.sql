-- Pricing, table-backed: model type of a request, capabilities a request needs,
-- candidate platform models (the router's filter and order), user group
-- discount resolution, aigw.estimate_billing and aigw.price_usage.

-- Model type served by a request kind (chat.completions -> chat, ...); NULL when unknown.
CREATE FUNCTION aigw.model_type_of_kind(kind text) RETURNS text
  LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT
  AS 'MODULE_PATHNAME', 'aigw_model_type_of_kind';
COMMENT ON FUNCTION aigw.model_type_of_kind(text) IS 'model type that serves a task kind';

-- Whether effective capabilities allow a request (the router's capability
-- filter). A capability the model does not declare does not exclude it; one it
-- declares must cover the request: stream, tools, image input, output tokens,
-- image sizes/qualities/modes/count, video durations/resolutions/audio/references.
CREATE FUNCTION aigw.capabilities_allow(capabilities jsonb, model_type text, request jsonb) RETURNS boolean
  LANGUAGE c IMMUTABLE PARALLEL SAFE COST 50
  AS 'MODULE_PATHNAME', 'aigw_capabilities_allow';
COMMENT ON FUNCTION aigw.capabilities_allow(jsonb, text, jsonb) IS
  'whether a platform model''s effective capabilities cover what a request needs';

-- Whether a platform model's permission_config admits an identity:
-- {"tenants": [tenant keys or ids], "userGroups": [group keys]}; absent lists admit everyone.
CREATE FUNCTION aigw.permission_allows(permission_config jsonb, identity jsonb, user_group_key text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN
    (jsonb_typeof(permission_config->'tenants') IS DISTINCT FROM 'array'
     OR permission_config->'tenants' ? coalesce(identity->>'tenantKey', '')
     OR permission_config->'tenants' ? coalesce(identity->>'tenantId', ''))
    AND (jsonb_typeof(permission_config->'userGroups') IS DISTINCT FROM 'array'
         OR permission_config->'userGroups' ? coalesce(user_group_key, ''));
COMMENT ON FUNCTION aigw.permission_allows(jsonb, jsonb, text) IS
  'whether a platform model''s permission_config admits the identity and its user group';

-- The user group that applies to an identity: memberships of the user, the API
-- key and the tenant by membership priority then group priority, else the user's
-- then the tenant's default group. An explicit identity.userGroupId wins.
CREATE FUNCTION aigw.resolve_user_group(identity jsonb)
  RETURNS TABLE (user_group_id uuid, group_key text, billing_discount_policy jsonb,
                 recharge_discount_policy jsonb, policy_snapshot jsonb)
  LANGUAGE sql STABLE
  BEGIN ATOMIC
    WITH who AS (
      SELECT u.id AS user_id, u.external_user_id, u.default_user_group_id AS user_default,
             t.id AS tenant_id, t.default_user_group_id AS tenant_default
        FROM (SELECT 1) AS one
        LEFT JOIN aigw.gateway_users u
          ON u.id = (identity->>'gatewayUserId')::uuid
          OR (identity->>'gatewayUserId' IS NULL AND u.source = coalesce(identity->>'userSource', 'gateway')
              AND u.external_user_id = identity->>'userId')
        LEFT JOIN aigw.gateway_tenants t
          ON t.id = coalesce((identity->>'gatewayTenantId')::uuid, u.gateway_tenant_id)
          OR (identity->>'gatewayTenantId' IS NULL AND u.gateway_tenant_id IS NULL
              AND t.tenant_key = identity->>'tenantKey')
       LIMIT 1
    ), picked AS (
      SELECT g.*, 0 AS source_rank, 0 AS member_priority
        FROM aigw.gateway_user_groups g
       WHERE g.id = (identity->>'userGroupId')::uuid AND g.status = 'active'
      UNION ALL
      SELECT g.*, 1, m.priority
        FROM who
        JOIN aigw.gateway_user_group_memberships m
          ON m.status = 'active'
         AND (m.effective_from IS NULL OR m.effective_from <= now())
         AND (m.effective_to IS NULL OR m.effective_to > now())
         AND ((m.principal_type = 'user' AND m.principal_id IN (who.user_id::text, who.external_user_id))
              OR (m.principal_type = 'api_key' AND m.principal_id = identity->>'apiKeyId')
              OR (m.principal_type = 'tenant' AND m.principal_id IN (who.tenant_id::text, identity->>'tenantId'))
              OR (m.principal_type = 'organization' AND m.principal_id = identity->>'organizationId'))
        JOIN aigw.gateway_user_groups g ON g.id = m.group_id AND g.status = 'active'
      UNION ALL
      SELECT g.*, 2, 0 FROM who JOIN aigw.gateway_user_groups g
          ON g.id = who.user_default AND g.status = 'active'
      UNION ALL
      SELECT g.*, 3, 0 FROM who JOIN aigw.gateway_user_groups g
          ON g.id = who.tenant_default AND g.status = 'active'
    )
    SELECT id, group_key, billing_discount_policy, recharge_discount_policy,
           jsonb_build_object('userGroupId', id, 'groupKey', group_key,
                              'billingDiscountPolicy', billing_discount_policy,
                              'rechargeDiscountPolicy', recharge_discount_policy,
                              'rateLimitPolicy', rate_limit_policy, 'quotaPolicy', quota_policy)
      FROM picked
     ORDER BY source_rank, member_priority, priority, group_key
     LIMIT 1;
  END;
COMMENT ON FUNCTION aigw.resolve_user_group(jsonb) IS
  'user group for an identity {gatewayUserId|userId, userSource, gatewayTenantId|tenantKey, tenantId, apiKeyId, userGroupId}';

-- Candidate platform models for a request, in the router's order: enabled
-- platform and model, platform not in cooldown, visible to the tenant, admitted
-- by permission_config, capabilities covering the request, narrowed to an
-- explicit platform when one is asked for; ordered by coalesce(dynamic_priority,
-- priority), then platform key and model id so the order is reproducible.
CREATE FUNCTION aigw.pricing_candidates(request jsonb, identity jsonb DEFAULT '{}', user_group_key text DEFAULT NULL)
  RETURNS TABLE (platform_model_id uuid, platform_id uuid, platform_key text, provider text,
                 model_name text, model_type text, capabilities jsonb, billing_config jsonb,
                 pricing_version int, platform_discount_factor numeric, simulated boolean)
  LANGUAGE sql STABLE
  BEGIN ATOMIC
    SELECT pm.id, p.id, p.platform_key, p.provider, pm.model_name, pm.model_type, pm.capabilities,
           pm.billing_config, pm.resolved_pricing_version,
           CASE pm.pricing_mode
             WHEN 'inherit' THEN 1::numeric
             WHEN 'custom' THEN 1::numeric
             ELSE coalesce(pm.discount_factor, p.default_discount_factor)
           END,
           (cp.provider_type = 'simulation' OR coalesce(identity->>'runMode', '') = 'simulation'
            OR coalesce(request->>'test_mode', 'false') = 'true'
            OR coalesce(p.config->>'testMode', 'false') = 'true')
      FROM aigw.platform_models pm
      JOIN aigw.integration_platforms p ON p.id = pm.platform_id
      JOIN aigw.model_catalog_providers cp ON cp.provider_key = p.provider
     WHERE (pm.model_name = request->>'model' OR pm.model_alias = request->>'model')
       AND pm.model_type = coalesce(request->>'model_type', aigw.model_type_of_kind(request->>'kind'), pm.model_type)
       AND pm.enabled
       AND p.status = 'enabled' AND p.deleted_at IS NULL
       AND (p.cooldown_until IS NULL OR p.cooldown_until <= now())
       AND (p.visibility_scope = 'global'
            OR (p.tenant_key IS NOT NULL AND p.tenant_key = identity->>'tenantKey')
            OR (p.tenant_id IS NOT NULL AND p.tenant_id = identity->>'tenantId'))
       AND (coalesce(request->>'platform', request->>'platform_id', identity->>'platformId', identity->>'platformKey') IS NULL
            OR p.platform_key = coalesce(request->>'platform', request->>'platform_id', identity->>'platformId', identity->>'platformKey')
            OR p.id::text = coalesce(request->>'platform', request->>'platform_id', identity->>'platformId', identity->>'platformKey'))
       AND aigw.permission_allows(pm.permission_config, identity, user_group_key)
       AND aigw.capabilities_allow(pm.capabilities, pm.model_type, request)
     ORDER BY coalesce(p.dynamic_priority, p.priority), p.priority, p.platform_key, pm.id;
  END;
COMMENT ON FUNCTION aigw.pricing_candidates(jsonb, jsonb, text) IS
  'platform models that may serve a request, best first (the router''s filter and order)';

-- Billing of unified usage on one platform model, for an identity or a task's snapshot.
-- context may carry userGroupDiscountPolicy (a task's snapshot), simulated and phase
-- (C: src/pricing_resolve.c).
CREATE FUNCTION aigw.price_usage(platform_model_id uuid, usage jsonb, context jsonb DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE c STABLE
  AS 'MODULE_PATHNAME', 'aigw_price_usage';
COMMENT ON FUNCTION aigw.price_usage(uuid, jsonb, jsonb) IS
  'final billing of unified usage on a platform model (the same resolver as the estimate)';

-- What a task's final billing is priced with besides its usage: the user
-- group's discount policy as of submit, whether it was simulated, its id.
CREATE FUNCTION aigw.task_pricing_context(t aigw.gateway_tasks) RETURNS jsonb
  LANGUAGE sql STABLE
  RETURN jsonb_build_object('userGroupDiscountPolicy', coalesce(t.user_group_policy_snapshot->'billingDiscountPolicy', '{}'),
                            'simulated', t.run_mode = 'simulation', 'taskId', t.id);

-- Final billing of a task from unified usage: the platform model of its
-- succeeded (else latest) attempt, the user group snapshot taken at submit,
-- simulated when the task ran in simulation mode.

CREATE FUNCTION aigw.price_task_usage(task_id uuid, usage jsonb) RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
  AS $$
DECLARE
  t aigw.gateway_tasks;
  pmid uuid;
BEGIN
  SELECT * INTO t FROM aigw.gateway_tasks WHERE id = price_task_usage.task_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'task % does not exist', task_id USING ERRCODE = 'undefined_object';
  END IF;
  SELECT a.platform_model_id INTO pmid
    FROM aigw.gateway_task_attempts a
   WHERE a.task_id = price_task_usage.task_id AND a.platform_model_id IS NOT NULL
   ORDER BY (a.status = 'succeeded') DESC, a.attempt_no DESC
   LIMIT 1;
  pmid := coalesce(pmid, (t.normalized_request->>'platformModelId')::uuid);
  IF pmid IS NULL THEN
    RAISE EXCEPTION 'task % has no platform model to price against', task_id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN aigw.price_usage(pmid, usage, aigw.task_pricing_context(t));
END
$$;
COMMENT ON FUNCTION aigw.price_task_usage(uuid, jsonb) IS
  'final billing of a task from unified usage, with the user group snapshot taken at submit';

-- Estimated billing of a request for an identity: the user group, the first
-- candidate platform model (aigw.pricing_candidates), its effective
-- capabilities and price, the user group discount (C, src/pricing.c).
CREATE FUNCTION aigw.estimate_billing(request jsonb, identity jsonb DEFAULT '{}')
  RETURNS jsonb
  LANGUAGE c STABLE
  AS 'MODULE_PATHNAME', 'aigw_estimate_billing';
COMMENT ON FUNCTION aigw.estimate_billing(jsonb, jsonb) IS
  'estimated billing of a request for an identity: candidate selection, effective price, user group discount';

-- Backends cache each model name's candidates and each identity's user group
-- (src/pricing_resolve.c); a change to the tables behind them invalidates
-- every backend's cache.
CREATE FUNCTION aigw.pricing_cache_invalidate() RETURNS trigger
  LANGUAGE c
  AS 'MODULE_PATHNAME', 'aigw_pricing_cache_invalidate';
COMMENT ON FUNCTION aigw.pricing_cache_invalidate() IS
  'statement trigger: drops every backend''s cached pricing candidates';
CREATE TRIGGER pricing_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON aigw.platform_models FOR EACH STATEMENT EXECUTE FUNCTION aigw.pricing_cache_invalidate();
CREATE TRIGGER pricing_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON aigw.integration_platforms FOR EACH STATEMENT EXECUTE FUNCTION aigw.pricing_cache_invalidate();
CREATE TRIGGER pricing_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON aigw.model_catalog_providers FOR EACH STATEMENT EXECUTE FUNCTION aigw.pricing_cache_invalidate();
-- Users and tenants change often (logins, sync): only the columns a user
-- group is resolved from invalidate.
CREATE TRIGGER pricing_cache_invalidate
  AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF id, source, external_user_id, gateway_tenant_id, default_user_group_id
  ON aigw.gateway_users FOR EACH STATEMENT EXECUTE FUNCTION aigw.pricing_cache_invalidate();
CREATE TRIGGER pricing_cache_invalidate
  AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF id, tenant_key, default_user_group_id
  ON aigw.gateway_tenants FOR EACH STATEMENT EXECUTE FUNCTION aigw.pricing_cache_invalidate();
CREATE TRIGGER pricing_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON aigw.gateway_user_groups FOR EACH STATEMENT EXECUTE FUNCTION aigw.pricing_cache_invalidate();
CREATE TRIGGER pricing_cache_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON aigw.gateway_user_group_memberships FOR EACH STATEMENT EXECUTE FUNCTION aigw.pricing_cache_invalidate();
