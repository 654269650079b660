-- Retention of finished tasks: reaped in batches, not partitioned (see
-- docs/data-model.md). The reaper worker calls aigw.purge_finished_tasks().

-- A terminal task records when it finished; the reaper ages tasks by it.
ALTER TABLE aigw.gateway_tasks ADD CONSTRAINT gateway_tasks_finished_check
  CHECK (NOT aigw.is_terminal_task_status(status) OR finished_at IS NOT NULL);

CREATE FUNCTION aigw.task_retention() RETURNS interval
  LANGUAGE c STABLE PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_task_retention';
COMMENT ON FUNCTION aigw.task_retention() IS 'aigw.task_retention as an interval; null when retention is off';

-- Deletes up to batch finished tasks (succeeded, failed_final, cancelled) that
-- finished longer than older_than ago (default aigw.task_retention), with their
-- attempts, events and callback rows, and as many delivered settlement events
-- as old. Tasks whose callbacks or settlement are still undelivered are kept.
-- Returns the number of tasks deleted; call again until it returns 0.
CREATE FUNCTION aigw.purge_finished_tasks(older_than interval DEFAULT NULL, batch int DEFAULT 1000)
  RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = aigw, pg_catalog
AS $$
DECLARE
  keep interval := coalesce(older_than, task_retention());
  deleted bigint;
BEGIN
  IF batch IS NULL OR batch < 1 OR batch > 100000 THEN
    RAISE EXCEPTION 'batch must be between 1 and 100000, got %', batch USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF keep IS NULL THEN
    RETURN 0;
  END IF;
  IF keep < interval '0' THEN
    RAISE EXCEPTION 'older_than must not be negative, got %', keep USING ERRCODE = 'invalid_parameter_value';
  END IF;
  WITH victims AS (
    SELECT t.id FROM gateway_tasks t
     WHERE t.status IN ('succeeded', 'failed_final', 'cancelled')
       AND t.finished_at < now() - keep
       AND NOT EXISTS (SELECT 1 FROM gateway_task_callback_outbox c
                        WHERE c.task_id = t.id AND c.status IN ('pending', 'delivering'))
       AND NOT EXISTS (SELECT 1 FROM settlement_outbox s
                        WHERE s.task_id = t.id AND s.status IN ('pending', 'delivering'))
       AND NOT EXISTS (SELECT 1 FROM gateway_provider_cancel_outbox x
                        WHERE x.task_id = t.id AND x.status IN ('pending', 'delivering'))
     ORDER BY t.finished_at
     LIMIT batch
     FOR UPDATE SKIP LOCKED)
  DELETE FROM gateway_tasks t USING victims v WHERE t.id = v.id;
  GET DIAGNOSTICS deleted = ROW_COUNT;

  DELETE FROM settlement_outbox s
   WHERE s.id IN (SELECT id FROM settlement_outbox
                   WHERE status IN ('delivered', 'skipped') AND updated_at < now() - keep
                   ORDER BY updated_at LIMIT batch FOR UPDATE SKIP LOCKED);
  RETURN deleted;
END
$$;
