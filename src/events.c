/*
 * events.c: aigw.append_task_event, a task's next event with its sequence
 * number, and its callback outbox row when callbacks are configured.
 *
 * Every task appends two or more events, each in the transaction of the
 * change it records; the statements are planned once per backend and kept.
 */
#include "aigw.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#define NEVENT_ARGS 8

static AigwKeptPlan EventPlan = NULL;
static AigwKeptPlan CallbackPlan = NULL;

/*
 * The event row; the next sequence number is read in the insert (the caller
 * holds the task row's lock, so no two events of a task race for it).
 */
#define EVENT_SQL \
	"INSERT INTO aigw.gateway_task_events " \
	"  (task_id, seq, event_type, status, phase, progress, message, payload, simulated) " \
	"VALUES ($1, (SELECT coalesce(max(e.seq), 0) + 1 FROM aigw.gateway_task_events e WHERE e.task_id = $1), " \
	"        $2, $3, $4, $5, $6, coalesce($7, '{}'), $8) " \
	"RETURNING id, seq"

/* The callback outbox row of event $9 with sequence $10, to URL $11 */
#define CALLBACK_SQL \
	"INSERT INTO aigw.gateway_task_callback_outbox " \
	"  (task_id, event_id, seq, callback_url, payload, status, next_attempt_at) " \
	"SELECT $1, $9, $10, $11, " \
	"       jsonb_build_object('eventId', $9, 'taskId', t.id, 'externalTaskId', t.external_task_id, " \
	"                          'userId', t.user_id, 'tenantId', t.tenant_id, 'apiKeyId', t.api_key_id, " \
	"                          'kind', t.kind, 'model', t.model, 'seq', $10, 'event', $2, " \
	"                          'status', $3, 'phase', $4, 'progress', $5, " \
	"                          'message', $6, 'payload', coalesce($7, '{}'), " \
	"                          'simulated', $8, 'createdAt', now()), " \
	"       CASE WHEN $8 THEN 'skipped' ELSE 'pending' END, now() " \
	"  FROM aigw.gateway_tasks t WHERE t.id = $1"

PG_FUNCTION_INFO_V1(aigw_append_task_event);

/*
 * aigw.append_task_event(task uuid, type text, status text, phase text,
 * progress numeric, message text, payload jsonb, simulated boolean): appends
 * the task's next event (payload NULL: {}) and, when
 * aigw.task_progress_callback_url is set, its callback outbox row (skipped
 * for a simulated event); returns the event's sequence number.
 */
Datum
aigw_append_task_event(PG_FUNCTION_ARGS)
{
	Oid			types[NEVENT_ARGS + 3] = {UUIDOID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID, TEXTOID,
		JSONBOID, BOOLOID, UUIDOID, INT8OID, TEXTOID};
	Datum		values[NEVENT_ARGS + 3];
	char		nulls[NEVENT_ARGS + 3];
	const char *url = aigw_task_progress_callback_url;
	bool		isnull;
	int64		seq;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION), errmsg("the task of an event must not be null")));
	for (int i = 0; i < NEVENT_ARGS; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	SPI_connect();
	if (SPI_execute_plan(AigwKeepGenericPlan(&EventPlan, EVENT_SQL, NEVENT_ARGS, types),
						 values, nulls, false, 1) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "aigw: could not append an event to task %s",
			 DatumGetCString(DirectFunctionCall1(uuid_out, values[0])));
	values[NEVENT_ARGS] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (url != NULL && url[0] != '\0')
	{
		values[NEVENT_ARGS + 1] = Int64GetDatum(seq);
		values[NEVENT_ARGS + 2] = CStringGetTextDatum(url);
		nulls[NEVENT_ARGS] = nulls[NEVENT_ARGS + 1] = nulls[NEVENT_ARGS + 2] = ' ';
		if (SPI_execute_plan(AigwKeepGenericPlan(&CallbackPlan, CALLBACK_SQL, NEVENT_ARGS + 3, types),
							 values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "aigw: could not queue the callback of an event");
	}
	SPI_finish();
	PG_RETURN_INT64(seq);
}
