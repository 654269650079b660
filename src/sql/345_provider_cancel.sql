-- Cancelling a task at its provider (seed 003 §10.1, cancel): a task that the
-- provider runs asynchronously (remote_task_id set) and that is cancelled in
-- aigw gets a row here in the cancel's transaction; the outbox worker sends
-- the provider's cancel request outside any transaction and records the result,
-- with the retries of the other outboxes. A simulated attempt never reaches a
-- provider, so it gets no row.
CREATE TABLE aigw.gateway_provider_cancel_outbox (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  task_id uuid NOT NULL REFERENCES aigw.gateway_tasks (id) ON DELETE CASCADE,
  platform_id uuid NOT NULL REFERENCES aigw.integration_platforms (id) ON DELETE CASCADE,
  kind text NOT NULL,
  remote_task_id text NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uniq_provider_cancel_task UNIQUE (task_id),
  CONSTRAINT gateway_provider_cancel_outbox_status_check CHECK (status IN
    ('pending', 'delivering', 'delivered', 'failed')),
  CONSTRAINT gateway_provider_cancel_outbox_attempts_check CHECK (attempts >= 0)
);
CREATE INDEX idx_provider_cancel_outbox_due ON aigw.gateway_provider_cancel_outbox (next_attempt_at)
  WHERE status IN ('pending', 'delivering');
COMMENT ON TABLE aigw.gateway_provider_cancel_outbox IS
  'cancel requests for provider-side tasks of cancelled aigw tasks, sent by the outbox worker';
SELECT pg_catalog.pg_extension_config_dump('aigw.gateway_provider_cancel_outbox', '');

-- The provider request that cancels a remote task of a kind: OpenAI's videos
-- API has no cancel, DELETE /videos/{id} removes the job (a running one too).
CREATE FUNCTION aigw.vendor_cancel_request(kind text, base_url text, remote_task_id text) RETURNS jsonb
  LANGUAGE sql STABLE
  RETURN CASE WHEN aigw.vendor_path(kind) IS NOT NULL AND remote_task_id IS NOT NULL THEN
    jsonb_build_object('method', 'DELETE',
                       'url', rtrim(coalesce(base_url, ''), '/') || aigw.vendor_path(kind) || '/' || remote_task_id)
  END;

-- Records that a cancelled task's remote task must be cancelled at its
-- provider: the last attempt's platform, unless it was simulated. Returns
-- whether a row was written.
CREATE FUNCTION aigw.queue_provider_cancel(t aigw.gateway_tasks) RETURNS boolean
  LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  IF t.remote_task_id IS NULL THEN
    RETURN false;
  END IF;
  INSERT INTO aigw.gateway_provider_cancel_outbox (task_id, platform_id, kind, remote_task_id)
  SELECT t.id, a.platform_id, t.kind, t.remote_task_id
    FROM aigw.gateway_task_attempts a
   WHERE a.task_id = t.id AND NOT a.simulated AND a.platform_id IS NOT NULL
   ORDER BY a.attempt_no DESC LIMIT 1
  ON CONFLICT (task_id) DO NOTHING;
  RETURN FOUND;
END;
$$;
