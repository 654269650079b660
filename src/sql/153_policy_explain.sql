-- explain_failure: "what happens if this provider returns X?"  Resolves the
-- effective policies of one platform model and returns every decision at once.

-- The runtime policy set of a platform model: its own, else its platform's,
-- else default-runtime-v1; with where it came from.
CREATE FUNCTION aigw.platform_model_runtime_policy_set(platform_model_id uuid,
                                                       OUT policy_set_id uuid,
                                                       OUT resolved_from text)
  LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT s.id, CASE WHEN pm.runtime_policy_set_id IS NOT NULL THEN 'platform_models.runtime_policy_set_id'
                 WHEN p.runtime_policy_set_id IS NOT NULL THEN 'integration_platforms.runtime_policy_set_id'
                 ELSE 'default-runtime-v1' END
    FROM aigw.platform_models pm
    JOIN aigw.integration_platforms p ON p.id = pm.platform_id
    JOIN aigw.model_runtime_policy_sets s
      ON s.id = COALESCE(pm.runtime_policy_set_id, p.runtime_policy_set_id,
                         (SELECT d.id FROM aigw.model_runtime_policy_sets d WHERE d.policy_key = 'default-runtime-v1'))
   WHERE pm.id = platform_model_runtime_policy_set.platform_model_id;
END;
COMMENT ON FUNCTION aigw.platform_model_runtime_policy_set(uuid) IS
  'id of the runtime policy set of a platform model (its own, else its platform''s, else default-runtime-v1) and where it came from';

-- The policies a failure of one platform model is decided with, as the task
-- runtime and explain_failure both read them:
--   runnerPolicy           the gateway_runner_policies row (jsonb), for failover and demotion
--   retryPolicy            the runtime policy set's retry_policy with the platform's and the
--                          model's retry_policy keys over it
--   runtimePolicyOverride  the model's runtime_policy_override without any hardStopPolicy key
--   ignoredOverrideKeys    the hardStopPolicy keys left out (a model runtime policy can never
--                          change the hard-stop policy)
--   runtimePolicySet       {policyKey, status, resolvedFrom}
--   notes                  what an operator should know about these policies
CREATE FUNCTION aigw.failure_policies(platform_model_id uuid,
                                      runner_policy_key text DEFAULT 'default-runner-v1')
  RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  pm aigw.platform_models;
  plat aigw.integration_platforms;
  runner aigw.gateway_runner_policies;
  rset aigw.model_runtime_policy_sets;
  rset_id uuid;
  rset_from text;
  override jsonb;
  ignored jsonb;
  notes jsonb := '[]';
  retry_policy jsonb;
BEGIN
  SELECT * INTO pm FROM aigw.platform_models m WHERE m.id = failure_policies.platform_model_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'platform model % does not exist', platform_model_id USING ERRCODE = 'no_data_found';
  END IF;
  SELECT * INTO plat FROM aigw.integration_platforms p WHERE p.id = pm.platform_id;
  SELECT * INTO runner FROM aigw.gateway_runner_policies r WHERE r.policy_key = runner_policy_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'runner policy "%" does not exist', runner_policy_key USING ERRCODE = 'no_data_found';
  END IF;
  SELECT s.policy_set_id, s.resolved_from INTO rset_id, rset_from
    FROM aigw.platform_model_runtime_policy_set(pm.id) s;
  SELECT * INTO rset FROM aigw.model_runtime_policy_sets s WHERE s.id = rset_id;
  IF rset.id IS NULL THEN
    notes := notes || to_jsonb('no runtime policy set resolves for this model (default-runtime-v1 is missing): retry reads an empty policy'::text);
  ELSIF rset.status <> 'active' THEN
    notes := notes || to_jsonb(format('runtime policy set %s is %s', rset.policy_key, rset.status));
  END IF;

  -- A model runtime policy can never change the hard-stop policy: any
  -- hardStopPolicy key in the override is left out and reported.
  override := pm.runtime_policy_override;
  SELECT COALESCE(jsonb_agg(k ORDER BY k), '[]') INTO ignored
    FROM (SELECT 'hardStopPolicy' AS k WHERE override ? 'hardStopPolicy'
          UNION ALL
          SELECT s || '.hardStopPolicy' FROM unnest(ARRAY['failoverPolicy', 'retryPolicy']) s
           WHERE jsonb_typeof(override -> s) = 'object' AND override -> s ? 'hardStopPolicy') x;
  IF jsonb_array_length(ignored) > 0 THEN
    override := override - 'hardStopPolicy';
    IF jsonb_typeof(override -> 'failoverPolicy') = 'object' THEN
      override := jsonb_set(override, '{failoverPolicy}', (override -> 'failoverPolicy') - 'hardStopPolicy');
    END IF;
    IF jsonb_typeof(override -> 'retryPolicy') = 'object' THEN
      override := jsonb_set(override, '{retryPolicy}', (override -> 'retryPolicy') - 'hardStopPolicy');
    END IF;
    notes := notes || to_jsonb('runtime_policy_override names hardStopPolicy; ignored: a model runtime policy can never change the hard-stop policy'::text);
  END IF;

  retry_policy := COALESCE(rset.retry_policy, '{}') || plat.retry_policy || pm.retry_policy;
  SELECT notes || COALESCE(to_jsonb('retry policy keys the retry decision does not read: '
                                    || string_agg(k, ', ' ORDER BY k)), '[]')
    INTO notes
    FROM jsonb_object_keys(retry_policy) k
   WHERE k NOT IN ('enabled', 'allowCategories', 'allowCodes', 'allowStatusCodes', 'allowKeywords',
                   'denyCategories', 'denyCodes', 'denyStatusCodes', 'denyKeywords',
                   'maxAttempts', 'backoffMs', 'backoffMultiplier', 'maxBackoffMs');

  RETURN jsonb_build_object(
    'runnerPolicy', to_jsonb(runner),
    'retryPolicy', retry_policy,
    'runtimePolicyOverride', override,
    'ignoredOverrideKeys', ignored,
    'runtimePolicySet', jsonb_build_object('policyKey', rset.policy_key, 'status', rset.status,
                                           'resolvedFrom', rset_from),
    'notes', notes);
END
$$;
COMMENT ON FUNCTION aigw.failure_policies(uuid, text) IS
  'the runner policy, effective retry policy and cleaned runtime override a failure of a platform model is decided with';

CREATE FUNCTION aigw.explain_failure(platform_model_id uuid, error jsonb,
                                     runner_policy_key text DEFAULT 'default-runner-v1')
  RETURNS jsonb
  LANGUAGE plpgsql STABLE
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  pol jsonb;
  runner jsonb;
  override jsonb;
  retry jsonb;
  failover jsonb;
  demote jsonb;
  outcome text;
BEGIN
  IF error IS NULL THEN
    RAISE EXCEPTION 'the failure must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  pol := aigw.failure_policies(platform_model_id, runner_policy_key);
  runner := pol -> 'runnerPolicy';
  override := pol -> 'runtimePolicyOverride';

  retry := aigw.retry_decision(pol -> 'retryPolicy', error, override);
  failover := aigw.failover_decision(runner, override, error);
  demote := aigw.demote_decision(runner, error);
  outcome := CASE WHEN (retry ->> 'retry')::boolean THEN 'retry_same_client'
                  WHEN (failover ->> 'retry')::boolean AND failover ->> 'action' <> 'stop'
                  THEN 'failover_' || (failover ->> 'action')
                  ELSE 'stop' END;

  RETURN jsonb_build_object(
    'platformModel', (SELECT jsonb_build_object('id', pm.id, 'modelName', pm.model_name, 'modelType', pm.model_type,
                                                'platformKey', p.platform_key, 'enabled', pm.enabled)
                        FROM aigw.platform_models pm JOIN aigw.integration_platforms p ON p.id = pm.platform_id
                       WHERE pm.id = platform_model_id),
    'policies', jsonb_build_object(
      'runnerPolicy', jsonb_build_object('policyKey', runner ->> 'policy_key', 'status', runner ->> 'status'),
      'runtimePolicySet', pol -> 'runtimePolicySet',
      'runtimePolicyOverride', override,
      'effectiveRetryPolicy', (pol -> 'retryPolicy')
                              || CASE WHEN jsonb_typeof(override -> 'retryPolicy') = 'object'
                                      THEN override -> 'retryPolicy' ELSE '{}' END,
      'effectiveFailoverPolicy', (runner -> 'failover_policy')
                                 || CASE WHEN jsonb_typeof(override -> 'failoverPolicy') = 'object'
                                         THEN override -> 'failoverPolicy' ELSE '{}' END,
      'hardStopPolicy', runner -> 'hard_stop_policy',
      'priorityDemotePolicy', runner -> 'priority_demote_policy'),
    'ignoredOverrideKeys', pol -> 'ignoredOverrideKeys',
    'notes', pol -> 'notes',
    'failure', retry -> 'info',
    'retry', retry - 'info',
    'failover', failover - 'info',
    'demote', demote - 'info',
    'outcome', outcome);
END
$$;
COMMENT ON FUNCTION aigw.explain_failure(uuid, jsonb, text) IS
  'every policy decision for a failure of one platform model: retry, failover, demotion, with the matched rules and the effective policies';
