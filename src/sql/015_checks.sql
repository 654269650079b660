-- The CHECK constraints of the tables every task writes call these C functions
-- (src/checks.c, where their values are listed) instead of listing values or
-- comparing with numeric constants: PostgreSQL reads a table's CHECK
-- constraints back from their stored node text, plans and compiles them in
-- every statement that writes the table, and a function call of the column is
-- a short node that needs no folding (docs/data-model.md).

CREATE FUNCTION aigw.is_task_status(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_task_status';
COMMENT ON FUNCTION aigw.is_task_status(text) IS 'true when value is a valid gateway_tasks.status';

CREATE FUNCTION aigw.is_terminal_task_status(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_terminal_task_status';
COMMENT ON FUNCTION aigw.is_terminal_task_status(text) IS 'true when value is a valid a terminal task status (succeeded, failed_final, cancelled)';

CREATE FUNCTION aigw.is_run_mode(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_run_mode';
COMMENT ON FUNCTION aigw.is_run_mode(text) IS 'true when value is a valid gateway_tasks.run_mode';

CREATE FUNCTION aigw.is_user_source(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_user_source';
COMMENT ON FUNCTION aigw.is_user_source(text) IS 'true when value is a valid gateway_tasks.user_source';

CREATE FUNCTION aigw.is_attempt_status(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_attempt_status';
COMMENT ON FUNCTION aigw.is_attempt_status(text) IS 'true when value is a valid gateway_task_attempts.status';

CREATE FUNCTION aigw.is_event_type(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_event_type';
COMMENT ON FUNCTION aigw.is_event_type(text) IS 'true when value is a valid gateway_task_events.event_type';

CREATE FUNCTION aigw.is_event_phase(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_event_phase';
COMMENT ON FUNCTION aigw.is_event_phase(text) IS 'true when value is a valid gateway_task_events.phase';

CREATE FUNCTION aigw.is_delivery_status(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_delivery_status';
COMMENT ON FUNCTION aigw.is_delivery_status(text) IS 'true when value is a valid status of a callback or settlement outbox row';

CREATE FUNCTION aigw.is_settlement_event_type(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_settlement_event_type';
COMMENT ON FUNCTION aigw.is_settlement_event_type(text) IS 'true when value is a valid settlement_outbox.event_type';

CREATE FUNCTION aigw.is_lease_scope_type(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_lease_scope_type';
COMMENT ON FUNCTION aigw.is_lease_scope_type(text) IS 'true when value is a valid gateway_concurrency_leases.scope_type';

CREATE FUNCTION aigw.is_wallet_currency(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_wallet_currency';
COMMENT ON FUNCTION aigw.is_wallet_currency(text) IS 'true when value is a valid gateway_wallet_accounts.currency';

CREATE FUNCTION aigw.is_wallet_status(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_wallet_status';
COMMENT ON FUNCTION aigw.is_wallet_status(text) IS 'true when value is a valid gateway_wallet_accounts.status';

CREATE FUNCTION aigw.is_wallet_direction(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_wallet_direction';
COMMENT ON FUNCTION aigw.is_wallet_direction(text) IS 'true when value is a valid gateway_wallet_transactions.direction';

CREATE FUNCTION aigw.is_wallet_transaction_type(value text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_wallet_transaction_type';
COMMENT ON FUNCTION aigw.is_wallet_transaction_type(text) IS 'true when value is a valid gateway_wallet_transactions.transaction_type';

CREATE FUNCTION aigw.is_fraction(value numeric) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_fraction';
COMMENT ON FUNCTION aigw.is_fraction(numeric) IS 'true when 0 <= value <= 1';
CREATE FUNCTION aigw.is_positive_whole(value numeric) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_is_positive_whole';
COMMENT ON FUNCTION aigw.is_positive_whole(numeric) IS 'true when value is a whole number above 0';
CREATE FUNCTION aigw.are_nonnegative(VARIADIC value numeric[]) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'aigw_are_nonnegative';
COMMENT ON FUNCTION aigw.are_nonnegative(numeric[]) IS 'true when no value is below 0';
