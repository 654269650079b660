-- Data model, part 3: tasks and their attempts and events, outboxes, client
-- state, uploads, retry policies (seed 003 §7.3-§7.8, §7.9.15-§7.9.21),
-- platform API configs (§6.3), platform snapshots and model groups (seed 002).

-- The CHECK constraints of the tables every task writes call the C functions of
-- 015_checks.sql (aigw.is_task_status(status), ...) rather than list values:
-- PostgreSQL reads a table's CHECK constraints back from their stored text,
-- plans and compiles them in every statement that writes the table.
-- §7.3, §7.9.15: durable tasks. Time-ordered ids; reaped by aigw.purge_finished_tasks.
CREATE TABLE aigw.gateway_tasks (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  external_task_id text,
  kind text NOT NULL,
  run_mode text NOT NULL DEFAULT 'production',
  user_id text NOT NULL,
  gateway_user_id uuid,
  user_source text NOT NULL DEFAULT 'gateway',
  gateway_tenant_id uuid,
  tenant_id text,
  tenant_key text,
  api_key_id text,
  user_group_id uuid,
  user_group_key text,
  user_group_policy_snapshot jsonb NOT NULL DEFAULT '{}'::jsonb,
  model text NOT NULL,
  model_type text,
  request jsonb NOT NULL,
  normalized_request jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'queued',
  queue_key text NOT NULL,
  priority int NOT NULL DEFAULT 100,
  idempotency_key text,
  remote_task_id text,
  remote_task_payload jsonb,
  simulation_profile jsonb,
  simulation_seed text,
  locked_by text,
  locked_at timestamptz,
  heartbeat_at timestamptz,
  next_run_at timestamptz NOT NULL DEFAULT now(),
  attempt_count int NOT NULL DEFAULT 0,
  max_attempts int NOT NULL DEFAULT 1,
  result jsonb,
  billings jsonb,
  error_code text,
  error_message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CONSTRAINT gateway_tasks_status_check
    CHECK (aigw.is_task_status(status)),
  CONSTRAINT gateway_tasks_run_mode_check CHECK (aigw.is_run_mode(run_mode)),
  CONSTRAINT gateway_tasks_user_source_check CHECK (aigw.is_user_source(user_source)),
  CONSTRAINT gateway_tasks_attempts_check CHECK (attempt_count >= 0 AND max_attempts >= 1)
)
-- Rows up to 4 kB are stored as they are: with the default of 2 kB, the
-- outcome of an ordinary chat task compressed its billings (pglz) on every
-- write. Pages are filled (the default fillfactor): the update every task
-- gets, its outcome, changes status, which the partial indexes' conditions
-- read, so it cannot be HOT; the updates that could be (aigw.claim_started of
-- a call still running at the worker's heartbeat) are rare, and room left for
-- them on every page would spread the table over more pages.
WITH (toast_tuple_target = 4096);
-- The JSON documents of a task are never searched by value: ANALYZE skips them
-- (autovacuum's ANALYZE of a table that grows by every task sorted them all).
ALTER TABLE aigw.gateway_tasks
  ALTER COLUMN user_group_policy_snapshot SET STATISTICS 0, ALTER COLUMN request SET STATISTICS 0,
  ALTER COLUMN normalized_request SET STATISTICS 0, ALTER COLUMN remote_task_payload SET STATISTICS 0,
  ALTER COLUMN simulation_profile SET STATISTICS 0, ALTER COLUMN result SET STATISTICS 0,
  ALTER COLUMN billings SET STATISTICS 0;
-- Partial indexes: a task gets an entry in the queue index only while queued
-- or polling (waiting for its next poll) and in the lease index only while a worker holds it, so the status changes
-- of a task's life add few index entries and the lease scans stay small.
CREATE INDEX idx_gateway_tasks_queue ON aigw.gateway_tasks (next_run_at, priority, created_at)
  WHERE status IN ('queued', 'polling');
CREATE INDEX idx_gateway_tasks_lease ON aigw.gateway_tasks (heartbeat_at)
  WHERE status IN ('leased', 'running', 'polling');
CREATE INDEX idx_gateway_tasks_user_created ON aigw.gateway_tasks (user_id, created_at DESC);
CREATE INDEX idx_gateway_tasks_external ON aigw.gateway_tasks (external_task_id)
  WHERE external_task_id IS NOT NULL;
CREATE UNIQUE INDEX uniq_gateway_tasks_idempotency ON aigw.gateway_tasks (user_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- The reaper scans finished tasks by age.
CREATE INDEX idx_gateway_tasks_finished ON aigw.gateway_tasks (finished_at)
  WHERE status IN ('succeeded', 'failed_final', 'cancelled');
-- The reaper's pass over failed_retryable tasks (every aigw.reaper_interval)
-- reads this index, which is empty unless something writes that status, not
-- the whole table.
CREATE INDEX idx_gateway_tasks_retryable ON aigw.gateway_tasks (next_run_at)
  WHERE status = 'failed_retryable';

-- §7.4, §7.9.16: one row per client attempt.
CREATE TABLE aigw.gateway_task_attempts (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  task_id uuid NOT NULL REFERENCES aigw.gateway_tasks (id) ON DELETE CASCADE,
  attempt_no int NOT NULL,
  platform_id uuid,
  platform_model_id uuid,
  client_id text,
  queue_key text NOT NULL,
  status text NOT NULL DEFAULT 'submitted',
  retryable boolean NOT NULL DEFAULT false,
  simulated boolean NOT NULL DEFAULT false,
  remote_task_id text,
  request_snapshot jsonb NOT NULL DEFAULT '{}'::jsonb,
  response_snapshot jsonb,
  error_code text,
  error_message text,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CONSTRAINT uniq_gateway_attempt_no UNIQUE (task_id, attempt_no),
  CONSTRAINT gateway_task_attempts_status_check
    CHECK (aigw.is_attempt_status(status)),
  CONSTRAINT gateway_task_attempts_no_check CHECK (attempt_no >= 1)
)
-- Room on each page for the new version of a row updated within milliseconds
-- of its insert: the attempt's outcome changes no indexed column, so it stays
-- on the page (HOT) and adds no index entries.
WITH (fillfactor = 60);
ALTER TABLE aigw.gateway_task_attempts
  ALTER COLUMN request_snapshot SET STATISTICS 0, ALTER COLUMN response_snapshot SET STATISTICS 0;
CREATE INDEX idx_gateway_attempts_task ON aigw.gateway_task_attempts (task_id);
CREATE INDEX idx_gateway_attempts_client ON aigw.gateway_task_attempts (client_id, started_at DESC);

-- §7.5, §7.9.17: ordered task events, replayable by seq.
CREATE TABLE aigw.gateway_task_events (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  task_id uuid NOT NULL REFERENCES aigw.gateway_tasks (id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  event_type text NOT NULL,
  status text,
  phase text,
  progress numeric,
  message text,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  simulated boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_gateway_events_seq UNIQUE (task_id, seq),
  CONSTRAINT gateway_task_events_type_check
    CHECK (aigw.is_event_type(event_type)),
  CONSTRAINT gateway_task_events_phase_check
    CHECK (aigw.is_event_phase(phase)),
  CONSTRAINT gateway_task_events_progress_check CHECK (aigw.is_fraction(progress))
);
ALTER TABLE aigw.gateway_task_events ALTER COLUMN payload SET STATISTICS 0;
CREATE INDEX idx_gateway_events_task_created ON aigw.gateway_task_events (task_id, created_at);

-- §7.5.1, §7.9.18: progress callbacks to server-main, delivered by the outbox worker.
CREATE TABLE aigw.gateway_task_callback_outbox (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  task_id uuid NOT NULL REFERENCES aigw.gateway_tasks (id) ON DELETE CASCADE,
  event_id uuid REFERENCES aigw.gateway_task_events (id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  callback_url text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_task_callback_seq UNIQUE (task_id, seq, callback_url),
  CONSTRAINT gateway_task_callback_outbox_status_check CHECK (aigw.is_delivery_status(status)),
  CONSTRAINT gateway_task_callback_outbox_attempts_check CHECK (attempts >= 0)
);
CREATE INDEX idx_task_callback_outbox_pending ON aigw.gateway_task_callback_outbox (status, next_attempt_at);
CREATE INDEX idx_task_callback_outbox_task ON aigw.gateway_task_callback_outbox (task_id, seq);
CREATE INDEX idx_task_callback_outbox_event ON aigw.gateway_task_callback_outbox (event_id);

-- §7.8, §14.4: settlement events. Idempotent by event id and by (task, event
-- type); no foreign key to the task so an undelivered settlement outlives it.
CREATE TABLE aigw.settlement_outbox (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  event_id uuid NOT NULL DEFAULT gen_random_uuid(),
  task_id uuid NOT NULL,
  event_type text NOT NULL DEFAULT 'task.settled',
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_settlement_outbox_event UNIQUE (event_id),
  CONSTRAINT uniq_settlement_outbox_task_event UNIQUE (task_id, event_type),
  CONSTRAINT settlement_outbox_event_type_check
    CHECK (aigw.is_settlement_event_type(event_type)),
  CONSTRAINT settlement_outbox_status_check CHECK (aigw.is_delivery_status(status)),
  CONSTRAINT settlement_outbox_attempts_check CHECK (attempts >= 0),
  CONSTRAINT settlement_outbox_payload_check CHECK (jsonb_typeof(payload) = 'object')
)
WITH (toast_tuple_target = 4096);  -- see gateway_tasks
ALTER TABLE aigw.settlement_outbox ALTER COLUMN payload SET STATISTICS 0;
-- The outbox worker's work: events waiting for delivery or being delivered. Skipped
-- (simulated) and delivered events, nearly all of them, have no entry.
CREATE INDEX idx_settlement_outbox_pending ON aigw.settlement_outbox (status, next_attempt_at)
  WHERE status IN ('pending', 'delivering');
-- Retention deletes delivered and skipped events by age (every reaper pass): without
-- this index each pass read and sorted every event kept for aigw.task_retention.
CREATE INDEX idx_settlement_outbox_done ON aigw.settlement_outbox (updated_at)
  WHERE status IN ('delivered', 'skipped');

-- §7.6, §7.9.19: provider client runtime state, the durable record behind shared memory.
CREATE TABLE aigw.runtime_client_states (
  client_id text PRIMARY KEY,
  platform_id uuid REFERENCES aigw.integration_platforms (id) ON DELETE CASCADE,
  provider text NOT NULL,
  method_name text NOT NULL,
  queue_key text NOT NULL,
  running_count int NOT NULL DEFAULT 0,
  waiting_count int NOT NULL DEFAULT 0,
  limiter_ratio numeric NOT NULL DEFAULT 0,
  cooldown_until timestamptz,
  last_assigned_at timestamptz,
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT runtime_client_states_counts_check CHECK (running_count >= 0 AND waiting_count >= 0)
);
CREATE INDEX idx_runtime_client_queue ON aigw.runtime_client_states (queue_key, cooldown_until);
CREATE INDEX idx_runtime_client_platform ON aigw.runtime_client_states (platform_id);

-- §7.7, §7.9.20: uploaded assets referenced by tasks.
CREATE TABLE aigw.gateway_upload_assets (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  task_id uuid REFERENCES aigw.gateway_tasks (id) ON DELETE SET NULL,
  source text NOT NULL,
  server_main_file_id text,
  url text NOT NULL,
  object_key text,
  content_type text,
  size bigint,
  checksum text,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT gateway_upload_assets_source_check CHECK (source IN
    ('server-main-open-upload', 'remote-url', 'multipart', 'simulation')),
  CONSTRAINT gateway_upload_assets_size_check CHECK (size IS NULL OR size >= 0)
);
CREATE INDEX idx_gateway_upload_task ON aigw.gateway_upload_assets (task_id);
CREATE INDEX idx_gateway_upload_file ON aigw.gateway_upload_assets (server_main_file_id);

-- §7.9.21: retry policies by scope.
CREATE TABLE aigw.gateway_retry_policies (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  scope_type text NOT NULL,
  scope_key text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_retry_policy_scope UNIQUE (scope_type, scope_key),
  CONSTRAINT gateway_retry_policies_scope_check CHECK (scope_type IN
    ('global', 'provider', 'platform', 'model', 'method')),
  CONSTRAINT gateway_retry_policies_policy_check CHECK (jsonb_typeof(policy) = 'object')
);

-- §6.3: platform API configs, the HTTP calls a workflow platform exposes
-- (method, path, templates and response mapping), debuggable via /execute.
CREATE TABLE aigw.integration_platform_api_configs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  platform_id uuid NOT NULL REFERENCES aigw.integration_platforms (id) ON DELETE CASCADE,
  api_key text NOT NULL,
  name text NOT NULL,
  description text,
  method text NOT NULL DEFAULT 'POST',
  path text NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}'::jsonb,
  query_template jsonb NOT NULL DEFAULT '{}'::jsonb,
  body_template jsonb NOT NULL DEFAULT '{}'::jsonb,
  response_mapping jsonb NOT NULL DEFAULT '{}'::jsonb,
  timeout_ms int NOT NULL DEFAULT 60000,
  status text NOT NULL DEFAULT 'enabled',
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  CONSTRAINT uniq_platform_api_config_key UNIQUE (platform_id, api_key),
  CONSTRAINT integration_platform_api_configs_method_check CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
  CONSTRAINT integration_platform_api_configs_path_check CHECK (path ~ '^/'),
  CONSTRAINT integration_platform_api_configs_timeout_check CHECK (timeout_ms BETWEEN 1 AND 3600000),
  CONSTRAINT integration_platform_api_configs_status_check CHECK (status IN ('enabled', 'disabled')),
  CONSTRAINT integration_platform_api_configs_json_check CHECK (jsonb_typeof(headers) = 'object'
                                                                AND jsonb_typeof(query_template) = 'object'
                                                                AND jsonb_typeof(response_mapping) = 'object')
);

-- §6.3 snapshots: the platform and its models as they were after each admin
-- change (credentials excluded), numbered per platform.
CREATE TABLE aigw.integration_platform_snapshots (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  platform_id uuid NOT NULL REFERENCES aigw.integration_platforms (id) ON DELETE CASCADE,
  version int NOT NULL,
  reason text NOT NULL,
  snapshot jsonb NOT NULL,
  created_by text NOT NULL DEFAULT current_user,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_platform_snapshot_version UNIQUE (platform_id, version)
);

-- Seed 002: a logical model name mapped to platform models with priorities.
CREATE TABLE aigw.model_groups (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE,
  display_name text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '',
  enabled boolean NOT NULL DEFAULT true,
  failover_strategy text NOT NULL DEFAULT 'quota_aware',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT model_groups_strategy_check CHECK (failover_strategy IN ('quota_aware', 'priority', 'weighted')),
  CONSTRAINT model_groups_name_check CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$')
);

CREATE TABLE aigw.model_group_members (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  group_id uuid NOT NULL REFERENCES aigw.model_groups (id) ON DELETE CASCADE,
  platform_model_id uuid NOT NULL REFERENCES aigw.platform_models (id) ON DELETE CASCADE,
  priority int NOT NULL DEFAULT 0,
  weight int NOT NULL DEFAULT 1,
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT model_group_members_weight_check CHECK (weight >= 0)
);
CREATE INDEX idx_mgm_group ON aigw.model_group_members (group_id);
CREATE UNIQUE INDEX idx_mgm_unique ON aigw.model_group_members (group_id, platform_model_id);
CREATE INDEX idx_mgm_platform_model ON aigw.model_group_members (platform_model_id);
