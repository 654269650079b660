/*
 * events.c: aigw.append_task_event, a task's next event with its sequence
 * number, and its callback outbox row when callbacks are configured.
 *
 * Every task appends two or more events, each in the transaction of the
 * change it records, and the caller holds the task row's lock. The event row
 * is written with heap and index calls, not an INSERT: an INSERT statement
 * costs three times as much in executor start-up, CHECK constraints read back
 * from their stored text, and the foreign key's trigger query. What the
 * statement would check is checked here: the INSERT and SELECT privileges,
 * NOT NULL, the table's CHECK constraints (compiled once per backend), the
 * unique indexes, and that the task exists. A table that has anything else an
 * INSERT would do (a trigger other than the foreign keys' checks, a rule, row
 * level security, a column not listed here, an index on an expression or with
 * a predicate, a deferrable unique index) takes the INSERT statement instead.
 */
#include "aigw.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/relcache.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
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

/* The event table's columns, in the order of the values the direct write fills */
enum EventColumn
{
	EV_ID, EV_TASK_ID, EV_SEQ, EV_EVENT_TYPE, EV_STATUS, EV_PHASE, EV_PROGRESS,
	EV_MESSAGE, EV_PAYLOAD, EV_SIMULATED, EV_CREATED_AT, EV_NCOLUMNS
};

static const char *const EventColumnNames[EV_NCOLUMNS] = {
	"id", "task_id", "seq", "event_type", "status", "phase", "progress",
	"message", "payload", "simulated", "created_at"
};

/* Their types, which the values are made for (a column of another type: the INSERT) */
static const Oid EventColumnTypes[EV_NCOLUMNS] = {
	UUIDOID, UUIDOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, NUMERICOID,
	TEXTOID, JSONBOID, BOOLOID, TIMESTAMPTZOID
};

/* What the direct write needs of the event table, built once per backend */
typedef struct EventTable
{
	bool		valid;			/* false: rebuild at the next use */
	bool		direct;			/* the table qualifies for the direct write */
	Oid			relid;
	Oid			tasks_relid;
	Oid			tasks_pkey;		/* gateway_tasks (id) */
	AttrNumber	tasks_id;		/* gateway_tasks.id */
	char	   *task_fkey;		/* the foreign key of task_id, or NULL when it has none */
	Oid			seq_index;		/* (task_id, seq) */
	AttrNumber	attnum[EV_NCOLUMNS];	/* 1-based */
	int			nindexes;
	Oid		   *index_oids;
	IndexInfo **index_infos;
	int			nchecks;
	char	  **check_names;
	ExprState **checks;
	ExprState  *id_default;		/* the defaults of id and created_at */
	ExprState  *created_default;
	List	   *check_funcs;	/* the functions the checks and defaults call (their OIDs) */
	Oid			checked_user;	/* the role last found allowed to call them */
	ExprContext *econtext;		/* evaluates the checks */
	TupleTableSlot *slot;		/* the row, for the checks and the index entries */
	TupleTableSlot *scan_slot;	/* an event row read by an index scan */
	MemoryContext cxt;
} EventTable;

static EventTable Events = {false};
static bool EventsCallbackRegistered = false;

/* Syscache callback: a change of a function's or a role's grants checks the caller again */
static void
EventsGrantsCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	Events.checked_user = InvalidOid;
}

/* Relcache callback: any change of the event table rebuilds what is known of it */
static void
EventsRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == Events.relid || relid == Events.tasks_relid)
		Events.valid = false;
}

/*
 * The 1-based number of the column name in tupdesc, or InvalidAttrNumber when
 * it is missing or not a plain column of the type given (no typmod, domain or
 * identity: the values are made for that type)
 */
static AttrNumber
ColumnNumber(TupleDesc tupdesc, const char *name, Oid type)
{
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->atttypid == type && att->atttypmod == -1 && att->attidentity == '\0' &&
				att->attgenerated == '\0' ? att->attnum : InvalidAttrNumber;
	}
	return InvalidAttrNumber;
}

/* The number of columns of tupdesc that are not dropped, or -1 when one is generated */
static int
LiveColumns(TupleDesc tupdesc)
{
	int			n = 0;

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
			continue;
		if (att->attgenerated != '\0')
			return -1;
		n++;
	}
	return n;
}

/* True when the only triggers an insert into rel fires are its foreign keys' checks */
static bool
OnlyForeignKeyChecks(Relation rel)
{
	if (rel->trigdesc == NULL)
		return true;
	for (int i = 0; i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *tg = &rel->trigdesc->triggers[i];

		if (TRIGGER_FOR_INSERT(tg->tgtype) && tg->tgfoid != F_RI_FKEY_CHECK_INS)
			return false;
	}
	return true;
}

/* Reads the indexes of rel into Events; false when one is not a plain index */
static bool
LoadEventIndexes(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	int			i = 0;

	Events.nindexes = list_length(indexes);
	Events.index_oids = palloc(sizeof(Oid) * Max(Events.nindexes, 1));
	Events.index_infos = palloc(sizeof(IndexInfo *) * Max(Events.nindexes, 1));
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		IndexInfo  *ii = BuildIndexInfo(idx);

		/* btree (no insert state kept between inserts), on columns, immediate */
		bool		plain = idx->rd_rel->relam == BTREE_AM_OID && ii->ii_Expressions == NIL &&
			ii->ii_Predicate == NIL && ii->ii_ExclusionOps == NULL &&
			(!ii->ii_Unique || idx->rd_index->indimmediate);

		/* the index the next sequence number is read from: (task_id, seq), ascending, in use */
		if (plain && !OidIsValid(Events.seq_index) && ii->ii_Unique && ii->ii_NumIndexKeyAttrs == 2 &&
			idx->rd_index->indisvalid && idx->rd_index->indisready &&
			ii->ii_IndexAttrNumbers[0] == Events.attnum[EV_TASK_ID] &&
			ii->ii_IndexAttrNumbers[1] == Events.attnum[EV_SEQ] &&
			(idx->rd_indoption[0] & INDOPTION_DESC) == 0 && (idx->rd_indoption[1] & INDOPTION_DESC) == 0)
			Events.seq_index = lfirst_oid(lc);
		Events.index_oids[i] = lfirst_oid(lc);
		Events.index_infos[i++] = ii;
		index_close(idx, AccessShareLock);
		if (!plain)
			return false;
	}
	return OidIsValid(Events.seq_index);
}

/* check_functions_in_node callback: notes a function a check calls */
static bool
NoteCheckFunction(Oid func_id, void *context)
{
	Events.check_funcs = list_append_unique_oid(Events.check_funcs, func_id);
	return false;
}

/* Walks an expression, noting every function it calls */
static bool
NoteCheckFunctions(Node *node, void *context)
{
	if (node == NULL)
		return false;
	(void) check_functions_in_node(node, NoteCheckFunction, context);
	return expression_tree_walker(node, NoteCheckFunctions, context);
}

/* The column's default compiled (NULL without one), its functions noted */
static ExprState *
CompileDefault(Relation rel, AttrNumber attnum)
{
	Node	   *def = build_column_default(rel, attnum);

	if (def == NULL)
		return NULL;
	(void) NoteCheckFunctions(def, NULL);
	return ExecInitExpr(expression_planner((Expr *) def), NULL);
}

/*
 * Compiles the CHECK constraints of rel and the defaults of id and created_at
 * into Events, as the table's owner:
 * whether the caller may call their functions is checked at each write
 * (CheckEventPrivileges), as an INSERT checks it in each statement.
 */
static void
LoadEventChecks(Relation rel)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	Oid			saved_user;
	int			saved_sec;

	Events.nchecks = constr ? constr->num_check : 0;
	Events.check_names = palloc(sizeof(char *) * Max(Events.nchecks, 1));
	Events.checks = palloc(sizeof(ExprState *) * Max(Events.nchecks, 1));
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		for (int i = 0; i < Events.nchecks; i++)
		{
			Node	   *raw = stringToNode(constr->check[i].ccbin);

			/* a NOT ENFORCED check is not evaluated, as ExecRelCheck skips it */
			Events.check_names[i] = pstrdup(constr->check[i].ccname);
			Events.checks[i] = NULL;
			if (!constr->check[i].ccenforced)
				continue;
			/* what the caller needs EXECUTE on: the functions before planning inlines any */
			(void) NoteCheckFunctions(raw, NULL);
			Events.checks[i] = ExecInitExpr(expression_planner((Expr *) raw), NULL);
		}
		Events.id_default = CompileDefault(rel, Events.attnum[EV_ID]);
		Events.created_default = CompileDefault(rel, Events.attnum[EV_CREATED_AT]);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(saved_user, saved_sec);
	}
	PG_END_TRY();
	Events.econtext = CreateStandaloneExprContext();
	/* slots that outlive the transaction: on a copy of the descriptor, which no resource owner pins */
	Events.slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(rel)), &TTSOpsHeapTuple);
	Events.scan_slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(rel)),
												table_slot_callbacks(rel));
}

/* True when the constraint is DEFERRABLE */
static bool
ConstraintIsDeferrable(Oid conoid)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	bool		deferrable;

	if (!HeapTupleIsValid(tup))
		return true;
	deferrable = ((Form_pg_constraint) GETSTRUCT(tup))->condeferrable;
	ReleaseSysCache(tup);
	return deferrable;
}

/*
 * Reads the name of the foreign key of task_id to gateway_tasks; false when
 * the table has another foreign key (the direct write checks only that one).
 */
static bool
LoadEventForeignKey(Relation rel)
{
	ListCell   *lc;

	foreach(lc, RelationGetFKeyList(rel))
	{
		ForeignKeyCacheInfo *fk = lfirst(lc);

		if (!fk->conenforced)
			continue;			/* the INSERT does not check it either */
		if (fk->confrelid != Events.tasks_relid || fk->nkeys != 1 ||
			fk->conkey[0] != Events.attnum[EV_TASK_ID] || fk->confkey[0] != Events.tasks_id ||
			Events.task_fkey != NULL || ConstraintIsDeferrable(fk->conoid))
			return false;
		Events.task_fkey = get_constraint_name(fk->conoid);
	}
	return true;
}

/* Reads gateway_tasks' primary key: one uuid column (id), btree; false otherwise */
static bool
LoadTasksKey(Relation tasks)
{
	Relation	idx;
	bool		ok;

	Events.tasks_pkey = RelationGetPrimaryKeyIndex(tasks, false);
	if (!OidIsValid(Events.tasks_pkey))
		return false;
	idx = index_open(Events.tasks_pkey, AccessShareLock);
	ok = idx->rd_rel->relam == BTREE_AM_OID && idx->rd_index->indnkeyatts == 1 &&
		idx->rd_index->indkey.values[0] != 0 &&
		TupleDescAttr(RelationGetDescr(tasks), idx->rd_index->indkey.values[0] - 1)->atttypid == UUIDOID;
	Events.tasks_id = idx->rd_index->indkey.values[0];
	index_close(idx, AccessShareLock);
	return ok;
}

/* Builds Events from the catalogs, in its own memory context */
static void
LoadEventTable(void)
{
	Oid			nsp = get_namespace_oid("aigw", false);
	Relation	rel;
	Relation	tasks;
	MemoryContext old;

	if (!EventsCallbackRegistered)
	{
		CacheRegisterRelcacheCallback(EventsRelcacheCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, EventsGrantsCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, EventsGrantsCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, EventsGrantsCallback, (Datum) 0);
		EventsCallbackRegistered = true;
	}
	if (Events.cxt)
	{
		if (Events.econtext)
			FreeExprContext(Events.econtext, false);
		if (Events.slot)
			ExecDropSingleTupleTableSlot(Events.slot);
		if (Events.scan_slot)
			ExecDropSingleTupleTableSlot(Events.scan_slot);
		MemoryContextDelete(Events.cxt);
	}
	memset(&Events, 0, sizeof(Events));
	/* valid from here: a change read while loading (at a lock below) loads again */
	Events.valid = true;
	Events.cxt = AllocSetContextCreate(TopMemoryContext, "aigw event table", ALLOCSET_SMALL_SIZES);
	Events.relid = get_relname_relid("gateway_task_events", nsp);
	Events.tasks_relid = get_relname_relid("gateway_tasks", nsp);
	if (!OidIsValid(Events.relid) || !OidIsValid(Events.tasks_relid))
		return;
	old = MemoryContextSwitchTo(Events.cxt);
	rel = table_open(Events.relid, AccessShareLock);
	tasks = table_open(Events.tasks_relid, AccessShareLock);
	Events.direct = rel->rd_rel->relkind == RELKIND_RELATION && !rel->rd_rel->relrowsecurity &&
		!rel->rd_rel->relispartition && rel->rd_rules == NULL && OnlyForeignKeyChecks(rel) &&
		LoadTasksKey(tasks);
	/* every column is one the direct write fills, of the type it fills */
	for (int i = 0; i < EV_NCOLUMNS && Events.direct; i++)
		Events.direct = (Events.attnum[i] = ColumnNumber(RelationGetDescr(rel), EventColumnNames[i],
														 EventColumnTypes[i])) != InvalidAttrNumber;
	if (Events.direct)
		Events.direct = LiveColumns(RelationGetDescr(rel)) == EV_NCOLUMNS;
	if (Events.direct)
		Events.direct = LoadEventForeignKey(rel);
	if (Events.direct)
		Events.direct = LoadEventIndexes(rel);
	if (Events.direct)
		LoadEventChecks(rel);
	table_close(tasks, AccessShareLock);
	table_close(rel, AccessShareLock);
	MemoryContextSwitchTo(old);
	elog(DEBUG1, "aigw: events are written %s", Events.direct ? "directly" : "by INSERT statements");
}

/* Opens the event table locked for the write, with Events describing it */
static Relation
OpenEventTable(void)
{
	for (;;)
	{
		Relation	rel;

		if (!Events.valid)
			LoadEventTable();
		if (!OidIsValid(Events.relid))
		{
			Events.valid = false;
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"aigw.gateway_task_events\" does not exist")));
		}
		/* taking the lock reads the invalidations of any change committed before it */
		rel = try_table_open(Events.relid, RowExclusiveLock);
		if (rel != NULL && Events.valid)
			return rel;
		if (rel != NULL)
			table_close(rel, NoLock);
		Events.valid = false;	/* dropped (and made again?) or changed: load again */
	}
}

/* Raises what an INSERT would when the caller may not insert into and read the table */
static void
CheckEventPrivileges(Relation rel)
{
	Oid			user = GetUserId();

	if (pg_class_aclcheck(RelationGetRelid(rel), user, ACL_INSERT) != ACLCHECK_OK ||
		pg_class_aclcheck(RelationGetRelid(rel), user, ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, RelationGetRelationName(rel));
}

/* Raises what an INSERT would when the caller may not call a function of the checks or defaults */
static void
CheckEventFunctionPrivileges(void)
{
	Oid			user = GetUserId();
	ListCell   *lc;

	if (user == Events.checked_user)
		return;
	foreach(lc, Events.check_funcs)
	{
		AclResult	r = object_aclcheck(ProcedureRelationId, lfirst_oid(lc), user, ACL_EXECUTE);

		if (r != ACLCHECK_OK)
			aclcheck_error(r, OBJECT_FUNCTION, get_func_name(lfirst_oid(lc)));
	}
	Events.checked_user = user;
}

/*
 * The first row of index idx whose first column equals key, visible to
 * snapshot, scanning in dir, stored in slot; false when there is none.
 */
static bool
FirstByKey(Relation heap, Oid idx_oid, Datum key, Snapshot snapshot, ScanDirection dir,
		   TupleTableSlot *slot)
{
	Relation	idx = index_open(idx_oid, AccessShareLock);
	IndexScanDesc scan;
	ScanKeyData skey;
	bool		found;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_UUID_EQ, key);
	scan = index_beginscan(heap, idx, snapshot, NULL, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, dir, slot);
	index_endscan(scan);
	index_close(idx, NoLock);
	return found;
}

/*
 * Raises the error an INSERT would when the task does not exist (the foreign
 * key). The caller holds the task row's lock, so the task cannot go away
 * before this transaction ends.
 */
static void
CheckTaskExists(Relation events, Datum task, Snapshot snapshot)
{
	Relation	tasks = table_open(Events.tasks_relid, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(tasks, NULL);
	bool		found = FirstByKey(tasks, Events.tasks_pkey, task, snapshot, ForwardScanDirection, slot);

	ExecDropSingleTupleTableSlot(slot);
	table_close(tasks, NoLock);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("insert or update on table \"%s\" violates foreign key constraint \"%s\"",
						RelationGetRelationName(events), Events.task_fkey),
				 errdetail("Key (task_id)=(%s) is not present in table \"gateway_tasks\".",
						   DatumGetCString(DirectFunctionCall1(uuid_out, task))),
				 errtableconstraint(events, Events.task_fkey)));
}

/* The task's next event sequence number: one more than its last event's */
static int64
NextEventSeq(Relation rel, Datum task, Snapshot snapshot)
{
	int64		seq = 1;

	if (FirstByKey(rel, Events.seq_index, task, snapshot, BackwardScanDirection, Events.scan_slot))
	{
		bool		isnull;
		Datum		last = slot_getattr(Events.scan_slot, Events.attnum[EV_SEQ], &isnull);

		if (!isnull)
			seq = DatumGetInt64(last) + 1;
	}
	ExecClearTuple(Events.scan_slot);
	return seq;
}

/* Raises what an INSERT would for a NULL in a NOT NULL column or a failed CHECK */
static void
CheckEventRow(Relation rel, HeapTuple tup, const bool *nulls)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attnotnull && !att->attisdropped && nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
							NameStr(att->attname), RelationGetRelationName(rel)),
					 errtablecol(rel, att->attnum)));
	}
	CheckEventFunctionPrivileges();
	ExecStoreHeapTuple(tup, Events.slot, false);
	Events.econtext->ecxt_scantuple = Events.slot;
	for (int i = 0; i < Events.nchecks; i++)
		if (Events.checks[i] != NULL && !ExecCheck(Events.checks[i], Events.econtext))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("new row for relation \"%s\" violates check constraint \"%s\"",
							RelationGetRelationName(rel), Events.check_names[i]),
					 errtableconstraint(rel, Events.check_names[i])));
	ResetExprContext(Events.econtext);
}

/* Writes the row's entries into every index of the table that takes inserts */
static void
InsertEventIndexEntries(Relation rel, HeapTuple tup)
{
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];

	ExecStoreHeapTuple(tup, Events.slot, false);
	for (int i = 0; i < Events.nindexes; i++)
	{
		IndexInfo  *ii = Events.index_infos[i];
		Relation	idx;

		if (!ii->ii_ReadyForInserts)
			continue;
		idx = index_open(Events.index_oids[i], RowExclusiveLock);
		FormIndexDatum(ii, Events.slot, NULL, values, isnull);
		(void) index_insert(idx, values, isnull, &tup->t_self, rel,
							ii->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, ii);
		index_close(idx, NoLock);
	}
	ExecClearTuple(Events.slot);
}

/* Column attnum's default, evaluated now (NULL without one), in the caller's memory context */
static Datum
EvalDefault(ExprState *def, TupleDesc tupdesc, AttrNumber attnum, bool *isnull)
{
	Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);
	Datum		d;

	*isnull = true;
	if (def == NULL)
		return (Datum) 0;
	d = ExecEvalExprSwitchContext(def, Events.econtext, isnull);
	return *isnull ? (Datum) 0 : datumCopy(d, att->attbyval, att->attlen);
}

/*
 * Writes the event row of args (the arguments of aigw.append_task_event) and
 * returns its sequence number, its id in *event_id; false when the table does
 * not qualify (nothing written: the INSERT statement writes it).
 */
static bool
InsertEventDirect(const Datum *args, const bool *argnulls, int64 *seq, Datum *event_id)
{
	Relation	rel = OpenEventTable();
	TupleDesc	tupdesc;
	Datum	   *values;
	bool	   *nulls;
	HeapTuple	tup;
	Snapshot	snapshot;
	bool		isnull;

	if (!Events.direct)
	{
		table_close(rel, NoLock);
		return false;
	}
	PreventCommandIfReadOnly("INSERT");
	PreventCommandIfParallelMode("INSERT");
	CheckEventPrivileges(rel);
	tupdesc = RelationGetDescr(rel);
	values = palloc0(sizeof(Datum) * tupdesc->natts);
	nulls = palloc(sizeof(bool) * tupdesc->natts);
	memset(nulls, true, sizeof(bool) * tupdesc->natts);

	/* what the statement's own snapshot would see: this transaction's rows so far */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	*seq = NextEventSeq(rel, args[0], snapshot);

#define SET_COLUMN(col, value, isnull) \
	do { values[Events.attnum[col] - 1] = (value); nulls[Events.attnum[col] - 1] = (isnull); } while (0)
	SET_COLUMN(EV_ID, EvalDefault(Events.id_default, tupdesc, Events.attnum[EV_ID], &isnull), isnull);
	*event_id = values[Events.attnum[EV_ID] - 1];
	SET_COLUMN(EV_TASK_ID, args[0], false);
	SET_COLUMN(EV_SEQ, Int64GetDatum(*seq), false);
	SET_COLUMN(EV_EVENT_TYPE, args[1], argnulls[1]);
	SET_COLUMN(EV_STATUS, args[2], argnulls[2]);
	SET_COLUMN(EV_PHASE, args[3], argnulls[3]);
	SET_COLUMN(EV_PROGRESS, args[4], argnulls[4]);
	SET_COLUMN(EV_MESSAGE, args[5], argnulls[5]);
	SET_COLUMN(EV_PAYLOAD, argnulls[6] ? DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")) : args[6], false);
	SET_COLUMN(EV_SIMULATED, args[7], argnulls[7]);
	SET_COLUMN(EV_CREATED_AT, EvalDefault(Events.created_default, tupdesc, Events.attnum[EV_CREATED_AT], &isnull),
			   isnull);
#undef SET_COLUMN

	/* in the order of an INSERT: NOT NULL and CHECK, the unique indexes, the foreign key */
	tup = heap_form_tuple(tupdesc, values, nulls);
	tup->t_tableOid = RelationGetRelid(rel);
	CheckEventRow(rel, tup, nulls);
	simple_heap_insert(rel, tup);
	InsertEventIndexEntries(rel, tup);
	if (Events.task_fkey != NULL)
		CheckTaskExists(rel, args[0], snapshot);
	UnregisterSnapshot(snapshot);
	heap_freetuple(tup);
	table_close(rel, NoLock);
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
