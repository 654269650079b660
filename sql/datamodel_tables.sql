\set VERBOSITY terse
-- The data model's tables and indexes exist, with the seed rows of seed 000
-- and the default runtime policy set.
SELECT policy_key, name, status, failover_policy->'actions' AS actions,
       hard_stop_policy->'codes' AS hard_stop_codes, priority_demote_policy->'demoteStep' AS demote_step
  FROM aigw.gateway_runner_policies;
SELECT policy_key, status, jsonb_array_length(priority_demote_keywords) AS keywords,
       rate_limit_policy->'rules'->0->>'metric' AS first_rule
  FROM aigw.model_runtime_policy_sets;

-- Every table of the data model (missing ones are listed).
SELECT t AS missing_table
  FROM unnest(ARRAY[
    'gateway_runner_policies', 'model_runtime_policy_sets', 'model_catalog_providers', 'base_model_catalog',
    'base_model_pricing_versions', 'model_pricing_rules', 'integration_platforms', 'platform_models',
    'gateway_user_groups', 'gateway_tenants', 'gateway_users', 'gateway_user_group_memberships',
    'gateway_tenant_invitations', 'gateway_api_keys', 'gateway_wallet_accounts', 'gateway_wallet_transactions',
    'gateway_recharge_orders', 'gateway_tasks', 'gateway_task_attempts', 'gateway_task_events',
    'gateway_task_callback_outbox', 'settlement_outbox', 'runtime_client_states', 'gateway_upload_assets',
    'gateway_retry_policies', 'integration_platform_api_configs', 'integration_platform_snapshots',
    'model_groups', 'model_group_members']) AS t
 WHERE to_regclass('aigw.' || t) IS NULL;

-- Every index the seed names (missing ones are listed).
SELECT i AS missing_index
  FROM unnest(ARRAY[
    'uniq_model_catalog_provider_key', 'idx_model_catalog_provider_status', 'uniq_base_model_catalog_key',
    'idx_base_model_catalog_provider', 'idx_base_model_catalog_capabilities', 'idx_model_pricing_scope',
    'idx_model_pricing_effective', 'uniq_gateway_tenants_tenant_key', 'uniq_gateway_tenants_source_external',
    'idx_gateway_tenants_status', 'uniq_gateway_users_user_key', 'uniq_gateway_users_source_external',
    'idx_gateway_users_status', 'idx_gateway_users_tenant', 'uniq_user_group_membership',
    'idx_user_group_membership_principal', 'idx_user_group_membership_effective',
    'idx_integration_platforms_provider_status', 'idx_integration_platforms_status_priority',
    'idx_integration_platforms_cooldown', 'idx_integration_platforms_tenant_scope', 'uniq_platform_model_type',
    'idx_platform_models_base', 'idx_platform_models_lookup', 'idx_platform_models_alias',
    'idx_platform_models_capabilities', 'idx_gateway_tasks_queue', 'idx_gateway_tasks_lease',
    'idx_gateway_tasks_user_created', 'idx_gateway_tasks_external', 'uniq_gateway_tasks_idempotency',
    'uniq_gateway_attempt_no', 'idx_gateway_attempts_task', 'idx_gateway_attempts_client',
    'uniq_gateway_events_seq', 'idx_gateway_events_task_created', 'uniq_task_callback_seq',
    'idx_task_callback_outbox_pending', 'idx_task_callback_outbox_task', 'idx_runtime_client_queue',
    'idx_runtime_client_platform', 'idx_gateway_upload_task', 'idx_gateway_upload_file',
    'uniq_retry_policy_scope', 'idx_mgm_group', 'idx_mgm_unique']) AS i
 WHERE to_regclass('aigw.' || i) IS NULL;

-- The GIN indexes and the partial unique idempotency index.
SELECT indexname, indexdef FROM pg_indexes
 WHERE schemaname = 'aigw'
   AND indexname IN ('idx_base_model_catalog_capabilities', 'idx_platform_models_capabilities',
                     'uniq_gateway_tasks_idempotency')
 ORDER BY 1;

-- Time-ordered ids for tasks, attempts and events.
SELECT table_name, column_default FROM information_schema.columns
 WHERE table_schema = 'aigw' AND column_name = 'id'
   AND table_name IN ('gateway_tasks', 'gateway_task_attempts', 'gateway_task_events')
 ORDER BY 1;

-- Money is numeric and ids are uuid throughout (offending columns are listed).
SELECT table_name, column_name, data_type FROM information_schema.columns
 WHERE table_schema = 'aigw'
   AND ((data_type IN ('real', 'double precision', 'money'))
        OR (column_name = 'id' AND data_type <> 'uuid' AND table_name <> 'runtime_client_states'))
 ORDER BY 1, 2;

-- The task status check accepts the design's statuses and nothing else.
BEGIN;
INSERT INTO aigw.gateway_tasks (kind, user_id, model, request, queue_key, status, finished_at)
SELECT 'chat.completions', 'u1', 'm', '{}', 'q', s,
       CASE WHEN s IN ('succeeded', 'failed_final', 'cancelled') THEN now() END
  FROM unnest(ARRAY['queued', 'leased', 'running', 'polling', 'succeeded', 'failed_retryable',
                    'failed_final', 'cancelled']) AS s;
SELECT count(*) FROM aigw.gateway_tasks WHERE user_id = 'u1';
INSERT INTO aigw.gateway_tasks (kind, user_id, model, request, queue_key, status)
VALUES ('chat.completions', 'u1', 'm', '{}', 'q', 'done');
ROLLBACK;
-- A finished task records when it finished.
INSERT INTO aigw.gateway_tasks (kind, user_id, model, request, queue_key, status)
VALUES ('chat.completions', 'u1', 'm', '{}', 'q', 'succeeded');
-- The CHECK constraints of the tables every task writes call C validators
-- (015_checks.sql): exact values, NULL passes as it would pass the list.
SELECT aigw.is_task_status('running') AS running, aigw.is_task_status('Running') AS wrong_case,
       aigw.is_task_status('') AS empty, aigw.is_task_status(NULL) IS NULL AS null_passes,
       aigw.is_event_phase('submit') AS phase, aigw.is_delivery_status('skipped') AS skipped,
       aigw.is_lease_scope_type('queue') AS scope, aigw.is_wallet_direction('unfreeze') AS direction;
SELECT aigw.is_fraction(0) AS zero, aigw.is_fraction(1) AS one, aigw.is_fraction(1.0001) AS above,
       aigw.is_fraction(-0.1) AS below, aigw.is_fraction('NaN') AS nan,
       aigw.are_nonnegative(0, 1.5, 'Infinity') AS amounts, aigw.are_nonnegative(0, -0.01) AS negative;
SELECT aigw.is_positive_whole(1) AS one, aigw.is_positive_whole(3.000) AS three, aigw.is_positive_whole(0) AS zero,
       aigw.is_positive_whole(1.5) AS half, aigw.is_positive_whole(-2) AS negative,
       aigw.is_positive_whole('Infinity') AS inf, aigw.is_positive_whole('NaN') AS nan;
BEGIN;
INSERT INTO aigw.gateway_tasks (id, kind, user_id, model, request, queue_key)
VALUES ('00000000-0000-0000-0000-0000000000c1', 'chat.completions', 'u1', 'm', '{}', 'q');
SAVEPOINT s;
INSERT INTO aigw.gateway_task_events (task_id, seq, event_type, progress)
VALUES ('00000000-0000-0000-0000-0000000000c1', 1, 'progress', 1.5);
ROLLBACK TO s;
INSERT INTO aigw.gateway_task_events (task_id, seq, event_type, phase)
VALUES ('00000000-0000-0000-0000-0000000000c1', 1, 'queue_status', 'dispatch');
ROLLBACK TO s;
INSERT INTO aigw.gateway_task_events (task_id, seq, event_type)
VALUES ('00000000-0000-0000-0000-0000000000c1', 1, 'done');
ROLLBACK TO s;
UPDATE aigw.gateway_tasks SET run_mode = 'dry' WHERE id = '00000000-0000-0000-0000-0000000000c1';
ROLLBACK TO s;
INSERT INTO aigw.gateway_task_events (task_id, seq, event_type, phase, progress)
VALUES ('00000000-0000-0000-0000-0000000000c1', 1, 'progress', NULL, 0.5) RETURNING seq, progress;
ROLLBACK;
-- The idempotency key is unique per user only when present.
BEGIN;
INSERT INTO aigw.gateway_tasks (kind, user_id, model, request, queue_key)
VALUES ('chat.completions', 'u1', 'm', '{}', 'q'), ('chat.completions', 'u1', 'm', '{}', 'q');
INSERT INTO aigw.gateway_tasks (kind, user_id, model, request, queue_key, idempotency_key)
VALUES ('chat.completions', 'u2', 'm', '{}', 'q', 'k1');
INSERT INTO aigw.gateway_tasks (kind, user_id, model, request, queue_key, idempotency_key)
VALUES ('chat.completions', 'u2', 'm', '{}', 'q', 'k1');
ROLLBACK;
-- Settlement events are idempotent by event id and by task.
BEGIN;
INSERT INTO aigw.settlement_outbox (event_id, task_id, payload)
VALUES ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000aa', '{}');
INSERT INTO aigw.settlement_outbox (event_id, task_id, payload)
VALUES ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000bb', '{}');
ROLLBACK;
BEGIN;
INSERT INTO aigw.settlement_outbox (task_id, payload) VALUES ('00000000-0000-0000-0000-0000000000aa', '{}');
INSERT INTO aigw.settlement_outbox (task_id, payload) VALUES ('00000000-0000-0000-0000-0000000000aa', '{}');
ROLLBACK;
-- The data model's functions are not executable by PUBLIC or aigw_front.
SELECT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'aigw'::regnamespace AND p.proname <> 'version'
   AND p.proname IN ('create_platform', 'upsert_runner_policy', 'purge_finished_tasks', 'resolve_model_config',
                     'add_platform_model', 'task_retention')
   AND (has_function_privilege('aigw_front', p.oid, 'EXECUTE') OR has_function_privilege('public', p.oid, 'EXECUTE'))
 ORDER BY 1;
SELECT count(*) > 40 AS revoked_functions FROM pg_proc p
 WHERE p.pronamespace = 'aigw'::regnamespace AND NOT has_function_privilege('aigw_front', p.oid, 'EXECUTE');
