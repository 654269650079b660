/*
 * events.c: aigw.append_task_event, a task's next event with its sequence
 * number, and its callback outbox row when callbacks are configured.
 *
 * Every task appends two or more events, each in the transaction of the
 * change it records, and the caller holds the task row's lock, so no two
 * events of a task race for a sequence number. The next number is read from
 * the (task_id, seq) index and the row is written with heap and index calls
 * (src/rowwrite.c, which checks what the INSERT would check); a table that
 * the direct write does not take, or without that index, gets its events by
 * an INSERT statement.
 */
#include "aigw.h"
#include "rowwrite.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"

#define NEVENT_ARGS 8

static AigwKeptPlan EventPlan = NULL;
static AigwKeptPlan CallbackPlan = NULL;

/*
 * The event row; the next sequence number is read in the insert (the caller
 * holds the task row's lock, so no two events of a task race for it). Used
 * when the table does not qualify for the direct write.
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

/* The columns the direct write fills (id and created_at take their defaults), and their types */
static const char *const EventColumns[NEVENT_ARGS + 1] = {
	"task_id", "seq", "event_type", "status", "phase", "progress", "message", "payload", "simulated"
};
static const Oid EventColumnTypes[NEVENT_ARGS + 1] = {
	UUIDOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID, TEXTOID, JSONBOID, BOOLOID
};

static Oid	EventsRelid = InvalidOid;	/* gateway_task_events, when SeqIndex was looked for */
static Oid	SeqIndex = InvalidOid;	/* its (task_id, seq) index, or InvalidOid: none */
static bool SeqIndexKnown = false;
static bool EventsCallbackRegistered = false;

/* Relcache callback: a change of the event table looks for the index again */
static void
EventsRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == EventsRelid)
		SeqIndexKnown = false;
}

/* The 1-based number of column name of rel, or InvalidAttrNumber */
static AttrNumber
ColumnNumber(Relation rel, const char *name)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	for (int i = 0; i < tupdesc->natts; i++)
		if (!TupleDescAttr(tupdesc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(tupdesc, i)->attname), name) == 0)
			return i + 1;
	return InvalidAttrNumber;
}

/* Finds the unique btree index of rel on (task_id, seq), ascending and in use */
static Oid
FindSeqIndex(Relation rel)
{
	AttrNumber	task = ColumnNumber(rel, "task_id");
	AttrNumber	seq = ColumnNumber(rel, "seq");
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, RelationGetIndexList(rel))
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index ind = idx->rd_index;

		if (idx->rd_rel->relam == BTREE_AM_OID && ind->indisunique && ind->indisvalid && ind->indisready &&
			ind->indnkeyatts == 2 && ind->indkey.values[0] == task && ind->indkey.values[1] == seq &&
			task != InvalidAttrNumber && seq != InvalidAttrNumber &&
			RelationGetIndexExpressions(idx) == NIL && RelationGetIndexPredicate(idx) == NIL &&
			(idx->rd_indoption[0] & INDOPTION_DESC) == 0 && (idx->rd_indoption[1] & INDOPTION_DESC) == 0 &&
			TupleDescAttr(RelationGetDescr(rel), seq - 1)->atttypid == INT8OID)
			found = lfirst_oid(lc);
		index_close(idx, AccessShareLock);
		if (OidIsValid(found))
			break;
	}
	return found;
}

/*
 * The task's next event sequence number, one more than its last event's, read
 * with what the statement's own snapshot would see; false when the table has
 * no (task_id, seq) index to read it from.
 */
static bool
NextEventSeq(Datum task, int64 *seq)
{
	Relation	rel;
	AigwKeyScan ks;
	bool		isnull;

	if (!EventsCallbackRegistered)
	{
		CacheRegisterRelcacheCallback(EventsRelcacheCallback, (Datum) 0);
		EventsCallbackRegistered = true;
	}
	EventsRelid = get_relname_relid("gateway_task_events", get_namespace_oid("aigw", false));
	if (!OidIsValid(EventsRelid))
		return false;
	/* taking the lock reads the invalidations of any change committed before it */
	rel = table_open(EventsRelid, RowExclusiveLock);
	if (!SeqIndexKnown)
	{
		SeqIndexKnown = true;
		SeqIndex = FindSeqIndex(rel);
	}
	if (!OidIsValid(SeqIndex))
	{
		table_close(rel, NoLock);
		return false;
	}
	AigwKeyScanBegin(&ks, rel, SeqIndex, F_UUID_EQ, task);
	*seq = 1;
	if (index_getnext_slot(ks.scan, BackwardScanDirection, ks.slot))
	{
		Datum		last = slot_getattr(ks.slot, ks.index->rd_index->indkey.values[1], &isnull);

		if (!isnull)
			*seq = DatumGetInt64(last) + 1;
	}
	AigwKeyScanEnd(&ks);
	table_close(rel, NoLock);
	return true;
}

/*
 * Writes the event row of args (the arguments of aigw.append_task_event) and
 * returns its sequence number, its id in *event_id; false when the table does
 * not qualify (nothing written: the INSERT statement writes it).
 */
static bool
InsertEventDirect(const Datum *args, const bool *argnulls, int64 *seq, Datum *event_id)
{
	static AigwRowTable *events = NULL;
	Datum		values[NEVENT_ARGS + 1];
	bool		nulls[NEVENT_ARGS + 1];
	HeapTuple	tup;
	bool		isnull;

	if (events == NULL)
		events = AigwRowTableFor("gateway_task_events");
	if (!NextEventSeq(args[0], seq))
		return false;
	values[0] = args[0];
	nulls[0] = false;
	values[1] = Int64GetDatum(*seq);
	nulls[1] = false;
	for (int i = 1; i < NEVENT_ARGS; i++)
	{
		values[i + 1] = args[i];
		nulls[i + 1] = argnulls[i];
	}
	/* the payload: {} for NULL */
	if (nulls[7])
	{
		values[7] = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
		nulls[7] = false;
	}
	tup = AigwRowInsertColumns(events, NEVENT_ARGS + 1, EventColumns, EventColumnTypes, values, nulls);
	if (tup == NULL)
		return false;
	*event_id = AigwRowColumn(events, tup, "id", &isnull);
	return true;
}

PG_FUNCTION_INFO_V1(aigw_append_task_event);

/*
 * aigw.append_task_event(task uuid, type text, status text, phase text,
 * progress numeric, message text, payload jsonb, simulated boolean): appends
 * the task's next event (payload NULL: {}) and, when
 * aigw.task_progress_callback_url is set, its callback outbox row (skipped
 * for a simulated event); returns the event's sequence number. The caller
 * holds the task row's lock.
 */
Datum
aigw_append_task_event(PG_FUNCTION_ARGS)
{
	Oid			types[NEVENT_ARGS + 3] = {UUIDOID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID, TEXTOID,
		JSONBOID, BOOLOID, UUIDOID, INT8OID, TEXTOID};
	Datum		values[NEVENT_ARGS + 3];
	char		nulls[NEVENT_ARGS + 3];
	bool		argnulls[NEVENT_ARGS];
	const char *url = aigw_task_progress_callback_url;
	int64		seq;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION), errmsg("the task of an event must not be null")));
	for (int i = 0; i < NEVENT_ARGS; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		argnulls[i] = PG_ARGISNULL(i);
	}
	if (!InsertEventDirect(values, argnulls, &seq, &values[NEVENT_ARGS]))
	{
		bool		isnull;

		SPI_connect();
		if (SPI_execute_plan(AigwKeepGenericPlan(&EventPlan, EVENT_SQL, NEVENT_ARGS, types),
							 values, nulls, false, 1) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
			elog(ERROR, "aigw: could not append an event to task %s",
				 DatumGetCString(DirectFunctionCall1(uuid_out, values[0])));
		values[NEVENT_ARGS] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		SPI_finish();
	}
	if (url != NULL && url[0] != '\0')
	{
		values[NEVENT_ARGS + 1] = Int64GetDatum(seq);
		values[NEVENT_ARGS + 2] = CStringGetTextDatum(url);
		nulls[NEVENT_ARGS] = nulls[NEVENT_ARGS + 1] = nulls[NEVENT_ARGS + 2] = ' ';
		SPI_connect();
		if (SPI_execute_plan(AigwKeepGenericPlan(&CallbackPlan, CALLBACK_SQL, NEVENT_ARGS + 3, types),
							 values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "aigw: could not queue the callback of an event");
		SPI_finish();
	}
	PG_RETURN_INT64(seq);
}
