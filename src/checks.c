/*
 * checks.c: the CHECK constraints of the tables every task writes.
 *
 * PostgreSQL reads a table's CHECK constraints back from their stored node
 * text, plans them and compiles them in every statement that inserts or
 * updates a row of the table, whatever columns the statement sets.  A list of
 * values as an array constant is stored as a dump of the array's bytes,
 * several hundred characters for eight values, and a numeric comparison as a
 * cast of an integer constant that is folded again each time.  A call of one
 * of these functions with the column is stored as one short node and needs no
 * folding, which takes most of that work out of every write (docs/data-model.md).
 *
 * Each function is IMMUTABLE and STRICT: a NULL column passes, as it would
 * pass `col = ANY (...)`; the columns checked here are NOT NULL anyway, except
 * where the constraint says otherwise.
 */
#include "aigw.h"
#include "ratelimit.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "varatt.h"

/* True when the text is one of the NULL-terminated values */
static bool
TextIsOneOf(text *value, const char *const *values)
{
	const char *data = VARDATA_ANY(value);
	size_t		len = VARSIZE_ANY_EXHDR(value);

	for (; *values != NULL; values++)
		if (strlen(*values) == len && memcmp(*values, data, len) == 0)
			return true;
	return false;
}

/* Defines aigw.<name>(text) RETURNS boolean: the value is one of those listed */
#define AIGW_ENUM_CHECK(name, ...) \
	PG_FUNCTION_INFO_V1(aigw_##name); \
	Datum \
	aigw_##name(PG_FUNCTION_ARGS) \
	{ \
		static const char *const values[] = {__VA_ARGS__, NULL}; \
		PG_RETURN_BOOL(TextIsOneOf(PG_GETARG_TEXT_PP(0), values)); \
	}

/* gateway_tasks.status (seed 003 §11) */
AIGW_ENUM_CHECK(is_task_status, "queued", "leased", "running", "polling", "succeeded",
				"failed_retryable", "failed_final", "cancelled")
/* the terminal task statuses: such a task has finished_at */
AIGW_ENUM_CHECK(is_terminal_task_status, "succeeded", "failed_final", "cancelled")
/* gateway_tasks.run_mode */
AIGW_ENUM_CHECK(is_run_mode, "production", "simulation")
/* gateway_tasks.user_source */
AIGW_ENUM_CHECK(is_user_source, "gateway", "server-main", "sync")
/* gateway_task_attempts.status */
AIGW_ENUM_CHECK(is_attempt_status, "submitted", "polling", "succeeded", "failed", "skipped")
/* gateway_task_events.event_type */
AIGW_ENUM_CHECK(is_event_type, "queue_status", "node_status", "progress", "partial_result",
				"completed", "failed")
/* gateway_task_events.phase */
AIGW_ENUM_CHECK(is_event_phase, "routing", "queued", "submit", "polling", "upload")
/* status of an outbox row (callbacks, settlement events) */
AIGW_ENUM_CHECK(is_delivery_status, "pending", "delivering", "delivered", "failed", "skipped")
/* settlement_outbox.event_type */
AIGW_ENUM_CHECK(is_settlement_event_type, "task.settled", "task.refunded", "task.compensation")
/* gateway_wallet_accounts.currency */
AIGW_ENUM_CHECK(is_wallet_currency, "resource", "credit", "cny", "usd")
/* gateway_wallet_accounts.status */
AIGW_ENUM_CHECK(is_wallet_status, "active", "frozen", "disabled")
/* gateway_wallet_transactions.direction */
AIGW_ENUM_CHECK(is_wallet_direction, "credit", "debit", "freeze", "unfreeze")
/* gateway_wallet_transactions.transaction_type */
AIGW_ENUM_CHECK(is_wallet_transaction_type, "recharge", "billing", "refund", "adjustment")

PG_FUNCTION_INFO_V1(aigw_is_lease_scope_type);

/* aigw.is_lease_scope_type(text): gateway_concurrency_leases.scope_type, a rate-limit scope */
Datum
aigw_is_lease_scope_type(PG_FUNCTION_ARGS)
{
	AigwRlScope scope;

	PG_RETURN_BOOL(AigwRlParseScope(text_to_cstring(PG_GETARG_TEXT_PP(0)), &scope));
}

/* The numeric 0 or 1, made once per process */
static Numeric
NumericOf(int value)
{
	static Numeric consts[2] = {NULL, NULL};

	if (consts[value] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		consts[value] = int64_to_numeric(value);
		MemoryContextSwitchTo(old);
	}
	return consts[value];
}

/* numeric_cmp of n and the numeric 0 or 1 (NaN orders above everything) */
static int
NumericCmpTo(Numeric n, int value)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
											 NumericGetDatum(NumericOf(value))));
}

PG_FUNCTION_INFO_V1(aigw_is_fraction);

/* aigw.is_fraction(numeric): 0 <= value <= 1 (gateway_task_events.progress) */
Datum
aigw_is_fraction(PG_FUNCTION_ARGS)
{
	Numeric		n = PG_GETARG_NUMERIC(0);

	/* NaN compares above 1 */
	PG_RETURN_BOOL(NumericCmpTo(n, 0) >= 0 && NumericCmpTo(n, 1) <= 0);
}

PG_FUNCTION_INFO_V1(aigw_is_positive_whole);

/* aigw.is_positive_whole(numeric): a whole number above 0 (a lease's value) */
Datum
aigw_is_positive_whole(PG_FUNCTION_ARGS)
{
	Numeric		n = PG_GETARG_NUMERIC(0);

	if (numeric_is_nan(n) || numeric_is_inf(n) || NumericCmpTo(n, 0) <= 0)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(n),
													DirectFunctionCall2(numeric_trunc, NumericGetDatum(n),
																		Int32GetDatum(0)))));
}

PG_FUNCTION_INFO_V1(aigw_are_nonnegative);

/*
 * aigw.are_nonnegative(VARIADIC numeric[]): no value is below 0 (wallet
 * amounts); a NULL element passes, as in a CHECK of `col >= 0`.
 */
Datum
aigw_are_nonnegative(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(arr, NUMERICOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && NumericCmpTo(DatumGetNumeric(elems[i]), 0) < 0)
			PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}
