/*
 * rowwrite.c: rows written with heap and index calls instead of an INSERT
 * statement, for the tables every task writes (attempts, concurrency leases,
 * the settlement outbox).
 *
 * An INSERT statement costs executor start-up, the table's CHECK constraints
 * read back from their stored text and compiled, and a query per foreign key;
 * for a row of a dozen columns that is most of the time the row takes. What
 * the statement would check is checked here, in the statement's order: the
 * INSERT and SELECT privileges (and EXECUTE on the functions of the checks and
 * defaults), NOT NULL, the CHECK constraints (compiled once per backend as the
 * table's owner), the unique indexes, and each foreign key, whose referenced
 * row is locked FOR KEY SHARE as the foreign key's trigger query locks it
 * (not needed for a row this transaction wrote: no one else can see it). A
 * table that has anything else an INSERT would do — a trigger other than the
 * foreign keys' checks, a rule, row level security, a partition, a generated
 * column, an index on an expression, a deferrable constraint, a foreign key
 * MATCH FULL or between columns of different types — takes the INSERT
 * statement instead: AigwRowInsert returns NULL and the caller runs it.
 */
#include "aigw.h"
#include "rowwrite.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_type.h"
#include "rewrite/rewriteHandler.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "nodes/bitmapset.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

/* A foreign key of the table, checked by a probe of the referenced table's unique index */
typedef struct RowForeignKey
{
	char	   *name;
	Oid			confrelid;
	Oid			conindid;		/* the referenced table's unique index */
	int			nkeys;
	AttrNumber	fkattnum[INDEX_MAX_KEYS];	/* this table's column for each index column */
	RegProcedure eqproc[INDEX_MAX_KEYS];	/* the index's equality for it */
	Oid			collation[INDEX_MAX_KEYS];
} RowForeignKey;

/* What the direct write needs of a table, built once per backend */
struct AigwRowTable
{
	char		relname[NAMEDATALEN];	/* in schema aigw */
	bool		valid;			/* false: rebuild at the next use */
	bool		direct;			/* the table qualifies for the direct write */
	bool		direct_update;	/* ... and for the direct update (AigwRowUpdateByKey) */
	Oid			relid;
	MemoryContext cxt;
	int			natts;
	ExprState **defaults;		/* per column, NULL without a default */
	int			nindexes;
	Oid		   *index_oids;
	IndexInfo **index_infos;
	ExprState **index_preds;	/* a partial index's predicate, else NULL */
	int			nchecks;
	char	  **check_names;
	ExprState **checks;			/* NULL for a check not enforced */
	int			nfkeys;
	RowForeignKey *fkeys;
	List	   *funcs;			/* the functions the checks and defaults call (their OIDs) */
	Oid			checked_user;	/* the role last found allowed to call them */
	ExprContext *econtext;
	TupleTableSlot *slot;		/* the row, for the checks and the index entries */
	struct AigwRowTable *next;
};

static AigwRowTable *RowTables = NULL;
static bool RowCallbacksRegistered = false;

/* Relcache callback: a change of a table, or of any table it refers to, rebuilds it */
static void
RowRelcacheCallback(Datum arg, Oid relid)
{
	for (AigwRowTable *t = RowTables; t; t = t->next)
	{
		if (relid == InvalidOid || relid == t->relid)
			t->valid = false;
		for (int i = 0; i < t->nfkeys; i++)
			if (relid == t->fkeys[i].confrelid)
				t->valid = false;
	}
}

/* Syscache callback: a change of a function's or a role's grants checks the caller again */
static void
RowGrantsCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	for (AigwRowTable *t = RowTables; t; t = t->next)
		t->checked_user = InvalidOid;
}

/* The table named relname in schema aigw, described at its first write */
AigwRowTable *
AigwRowTableFor(const char *relname)
{
	AigwRowTable *t;

	for (t = RowTables; t; t = t->next)
		if (strcmp(t->relname, relname) == 0)
			return t;
	if (!RowCallbacksRegistered)
	{
		CacheRegisterRelcacheCallback(RowRelcacheCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, RowGrantsCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, RowGrantsCallback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, RowGrantsCallback, (Datum) 0);
		RowCallbacksRegistered = true;
	}
	t = MemoryContextAllocZero(TopMemoryContext, sizeof(AigwRowTable));
	strlcpy(t->relname, relname, NAMEDATALEN);
	t->next = RowTables;
	RowTables = t;
	return t;
}

/* True for the functions of the foreign keys' update triggers, on either side */
static bool
IsForeignKeyUpdateTrigger(Oid fn)
{
	return fn == F_RI_FKEY_CHECK_UPD || fn == F_RI_FKEY_NOACTION_UPD || fn == F_RI_FKEY_RESTRICT_UPD ||
		fn == F_RI_FKEY_CASCADE_UPD || fn == F_RI_FKEY_SETNULL_UPD || fn == F_RI_FKEY_SETDEFAULT_UPD;
}

/*
 * True when the only triggers an insert into rel (or an update of it) fires
 * are its foreign keys': an insert's check the direct write makes itself, and
 * an update's, on either side, have nothing to do while the update leaves the
 * keys alone (a direct update changes no column of a foreign key or of a
 * unique index)
 */
static bool
OnlyForeignKeyTriggers(Relation rel, bool update)
{
	if (rel->trigdesc == NULL)
		return true;
	for (int i = 0; i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *tg = &rel->trigdesc->triggers[i];

		if (update ? TRIGGER_FOR_UPDATE(tg->tgtype) && !IsForeignKeyUpdateTrigger(tg->tgfoid)
			: TRIGGER_FOR_INSERT(tg->tgtype) && tg->tgfoid != F_RI_FKEY_CHECK_INS)
			return false;
	}
	return true;
}

/* True when rel has no generated column */
static bool
NoGeneratedColumns(TupleDesc tupdesc)
{
	for (int i = 0; i < tupdesc->natts; i++)
		if (!TupleDescAttr(tupdesc, i)->attisdropped && TupleDescAttr(tupdesc, i)->attgenerated != '\0')
			return false;
	return true;
}

/* check_functions_in_node callback: notes a function a check or default calls */
static bool
NoteFunction(Oid func_id, void *context)
{
	AigwRowTable *t = context;

	t->funcs = list_append_unique_oid(t->funcs, func_id);
	return false;
}

/* Walks an expression, noting every function it calls */
static bool
NoteFunctions(Node *node, void *context)
{
	if (node == NULL)
		return false;
	(void) check_functions_in_node(node, NoteFunction, context);
	return expression_tree_walker(node, NoteFunctions, context);
}

/* Reads the indexes of rel; false when one is not a plain btree index on columns */
static bool
LoadIndexes(AigwRowTable *t, Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	int			i = 0;

	t->nindexes = list_length(indexes);
	t->index_oids = palloc(sizeof(Oid) * Max(t->nindexes, 1));
	t->index_infos = palloc(sizeof(IndexInfo *) * Max(t->nindexes, 1));
	t->index_preds = palloc0(sizeof(ExprState *) * Max(t->nindexes, 1));
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		IndexInfo  *ii = BuildIndexInfo(idx);

		/* btree (no insert state kept between inserts), on columns, immediate */
		bool		plain = idx->rd_rel->relam == BTREE_AM_OID && ii->ii_Expressions == NIL &&
			ii->ii_ExclusionOps == NULL && (!ii->ii_Unique || idx->rd_index->indimmediate);

		if (plain && ii->ii_Predicate != NIL)
		{
			(void) NoteFunctions((Node *) ii->ii_Predicate, t);
			t->index_preds[i] = ExecInitQual(ii->ii_Predicate, NULL);
		}
		t->index_oids[i] = lfirst_oid(lc);
		t->index_infos[i++] = ii;
		index_close(idx, AccessShareLock);
		if (!plain)
			return false;
	}
	return true;
}

/*
 * Reads a foreign key of rel into fk; false when the direct write cannot
 * check it as the INSERT would (deferrable, MATCH FULL, or a column whose
 * type is not the referenced index's)
 */
static bool
LoadForeignKey(Relation rel, ForeignKeyCacheInfo *info, RowForeignKey *fk)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(info->conoid));
	Form_pg_constraint con;
	Relation	idx;
	bool		ok;

	if (!HeapTupleIsValid(tup))
		return false;
	con = (Form_pg_constraint) GETSTRUCT(tup);
	ok = !con->condeferrable && con->confmatchtype != FKCONSTR_MATCH_FULL && OidIsValid(con->conindid);
	fk->name = pstrdup(NameStr(con->conname));
	fk->confrelid = info->confrelid;
	fk->conindid = con->conindid;
	ReleaseSysCache(tup);
	if (!ok)
		return false;
	idx = index_open(fk->conindid, AccessShareLock);
	fk->nkeys = idx->rd_index->indnkeyatts;
	ok = idx->rd_rel->relam == BTREE_AM_OID && fk->nkeys == info->nkeys;
	/* each index column is one referenced column: the probe's key is its foreign key column */
	for (int j = 0; j < fk->nkeys && ok; j++)
	{
		int			k;
		Oid			opcintype = idx->rd_opcintype[j];
		Oid			eqop;

		for (k = 0; k < info->nkeys; k++)
			if (info->confkey[k] == idx->rd_index->indkey.values[j])
				break;
		if (k == info->nkeys)
		{
			ok = false;
			break;
		}
		fk->fkattnum[j] = info->conkey[k];
		eqop = get_opfamily_member(idx->rd_opfamily[j], opcintype, opcintype, BTEqualStrategyNumber);
		ok = OidIsValid(eqop) &&
			TupleDescAttr(RelationGetDescr(rel), fk->fkattnum[j] - 1)->atttypid == opcintype;
		if (ok)
			fk->eqproc[j] = get_opcode(eqop);
		fk->collation[j] = idx->rd_indcollation[j];
	}
	index_close(idx, AccessShareLock);
	return ok;
}

/* Reads the enforced foreign keys of rel; false when one cannot be checked here */
static bool
LoadForeignKeys(AigwRowTable *t, Relation rel)
{
	List	   *fkeys = RelationGetFKeyList(rel);
	ListCell   *lc;

	t->fkeys = palloc0(sizeof(RowForeignKey) * Max(list_length(fkeys), 1));
	foreach(lc, fkeys)
	{
		ForeignKeyCacheInfo *info = lfirst(lc);

		if (!info->conenforced)
			continue;			/* the INSERT does not check it either */
		if (!LoadForeignKey(rel, info, &t->fkeys[t->nfkeys++]))
			return false;
	}
	return true;
}

/* Compiles the CHECK constraints and the column defaults of rel, noting the functions they call */
static void
LoadChecksAndDefaults(AigwRowTable *t, Relation rel)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	t->nchecks = constr ? constr->num_check : 0;
	t->check_names = palloc(sizeof(char *) * Max(t->nchecks, 1));
	t->checks = palloc0(sizeof(ExprState *) * Max(t->nchecks, 1));
	t->defaults = palloc0(sizeof(ExprState *) * t->natts);
	for (int i = 0; i < t->nchecks; i++)
	{
		Node	   *raw = stringToNode(constr->check[i].ccbin);

		/* a NOT ENFORCED check is not evaluated, as ExecRelCheck skips it */
		t->check_names[i] = pstrdup(constr->check[i].ccname);
		if (!constr->check[i].ccenforced)
			continue;
		/* what the caller needs EXECUTE on: the functions before planning inlines any */
		(void) NoteFunctions(raw, t);
		t->checks[i] = ExecInitExpr(expression_planner((Expr *) raw), NULL);
	}
	for (int i = 0; i < t->natts; i++)
	{
		Node	   *def;

		if (TupleDescAttr(RelationGetDescr(rel), i)->attisdropped)
			continue;
		def = build_column_default(rel, i + 1);
		if (def == NULL)
			continue;
		(void) NoteFunctions(def, t);
		t->defaults[i] = ExecInitExpr(expression_planner((Expr *) def), NULL);
	}
}

/*
 * Reads what rel has that an INSERT would do and compiles its expressions,
 * as the table's owner: whether the caller may call their functions is
 * checked at each write (CheckFunctionPrivileges), as an INSERT checks it in
 * each statement. False when the table does not qualify.
 */
static bool
LoadRelation(AigwRowTable *t, Relation rel)
{
	Oid			saved_user;
	int			saved_sec;
	bool		direct;

	direct = rel->rd_rel->relkind == RELKIND_RELATION && rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
		!rel->rd_rel->relrowsecurity && !rel->rd_rel->relispartition && rel->rd_rules == NULL &&
		OnlyForeignKeyTriggers(rel, false) && NoGeneratedColumns(RelationGetDescr(rel)) && LoadForeignKeys(t, rel);
	if (!direct)
		return false;
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		direct = LoadIndexes(t, rel);
		if (direct)
			LoadChecksAndDefaults(t, rel);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(saved_user, saved_sec);
	}
	PG_END_TRY();
	return direct;
}

/* Builds t from the catalogs, in its own memory context */
static void
LoadRowTable(AigwRowTable *t)
{
	Relation	rel;
	MemoryContext old;

	if (t->cxt)
	{
		if (t->econtext)
			FreeExprContext(t->econtext, false);
		if (t->slot)
			ExecDropSingleTupleTableSlot(t->slot);
		MemoryContextDelete(t->cxt);
	}
	t->cxt = AllocSetContextCreate(TopMemoryContext, "aigw row table", ALLOCSET_SMALL_SIZES);
	t->econtext = NULL;
	t->slot = NULL;
	t->nfkeys = t->nindexes = t->nchecks = 0;
	t->funcs = NIL;
	t->checked_user = InvalidOid;
	t->direct = false;
	t->direct_update = false;
	/* valid from here: a change read while loading (at a lock below) loads again */
	t->valid = true;
	t->relid = get_relname_relid(t->relname, get_namespace_oid("aigw", false));
	if (!OidIsValid(t->relid))
		return;
	old = MemoryContextSwitchTo(t->cxt);
	rel = table_open(t->relid, AccessShareLock);
	t->natts = RelationGetDescr(rel)->natts;
	PG_TRY();
	{
		t->direct = LoadRelation(t, rel);
	}
	PG_CATCH();
	{
		t->valid = false;
		t->direct = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	t->direct_update = t->direct && OnlyForeignKeyTriggers(rel, true);
	if (t->direct)
	{
		t->econtext = CreateStandaloneExprContext();
		/* a slot that outlives the transaction: on a copy of the descriptor, which no resource owner pins */
		t->slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(rel)), &TTSOpsHeapTuple);
	}
	table_close(rel, AccessShareLock);
	MemoryContextSwitchTo(old);
	elog(DEBUG1, "aigw: rows of %s are written %s, updated %s", t->relname,
		 t->direct ? "directly" : "by INSERT statements", t->direct_update ? "directly" : "by UPDATE statements");
}

/* Opens the table locked for the write, with t describing it */
static Relation
OpenRowTable(AigwRowTable *t)
{
	for (;;)
	{
		Relation	rel;

		if (!t->valid)
			LoadRowTable(t);
		if (!OidIsValid(t->relid))
		{
			t->valid = false;
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"aigw.%s\" does not exist", t->relname)));
		}
		/* taking the lock reads the invalidations of any change committed before it */
		rel = try_table_open(t->relid, RowExclusiveLock);
		if (rel != NULL && t->valid && RelationGetDescr(rel)->natts == t->natts)
			return rel;
		if (rel != NULL)
			table_close(rel, NoLock);
		t->valid = false;		/* dropped (and made again?) or changed: load again */
	}
}

/* Raises what an INSERT would when the caller may not call a function of the checks or defaults */
static void
CheckFunctionPrivileges(AigwRowTable *t)
{
	Oid			user = GetUserId();
	ListCell   *lc;

	if (user == t->checked_user)
		return;
	foreach(lc, t->funcs)
	{
		AclResult	r = object_aclcheck(ProcedureRelationId, lfirst_oid(lc), user, ACL_EXECUTE);

		if (r != ACLCHECK_OK)
			aclcheck_error(r, OBJECT_FUNCTION, get_func_name(lfirst_oid(lc)));
	}
	t->checked_user = user;
}

/* Raises what an INSERT would for a NULL in a NOT NULL column or a failed CHECK */
static void
CheckRow(AigwRowTable *t, Relation rel, const bool *nulls)
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
	t->econtext->ecxt_scantuple = t->slot;
	for (int i = 0; i < t->nchecks; i++)
		if (t->checks[i] != NULL && !ExecCheck(t->checks[i], t->econtext))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("new row for relation \"%s\" violates check constraint \"%s\"",
							RelationGetRelationName(rel), t->check_names[i]),
					 errtableconstraint(rel, t->check_names[i])));
}

/* Writes the row's entries into every index that takes inserts and whose predicate it meets */
static void
InsertIndexEntries(AigwRowTable *t, Relation rel, ItemPointer tid)
{
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];

	t->econtext->ecxt_scantuple = t->slot;
	for (int i = 0; i < t->nindexes; i++)
	{
		IndexInfo  *ii = t->index_infos[i];
		Relation	idx;

		if (!ii->ii_ReadyForInserts)
			continue;
		if (t->index_preds[i] != NULL && !ExecQual(t->index_preds[i], t->econtext))
			continue;
		idx = index_open(t->index_oids[i], RowExclusiveLock);
		FormIndexDatum(ii, t->slot, NULL, values, isnull);
		(void) index_insert(idx, values, isnull, tid, rel,
							ii->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, ii);
		index_close(idx, NoLock);
	}
}

/* Raises the error an INSERT raises for a row whose foreign key finds no referenced row */
static void
ForeignKeyViolation(Relation rel, RowForeignKey *fk, const Datum *values)
{
	StringInfoData cols;
	StringInfoData vals;
	TupleDesc	tupdesc = RelationGetDescr(rel);

	initStringInfo(&cols);
	initStringInfo(&vals);
	for (int j = 0; j < fk->nkeys; j++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, fk->fkattnum[j] - 1);
		Oid			out;
		bool		varlena;

		getTypeOutputInfo(att->atttypid, &out, &varlena);
		appendStringInfo(&cols, "%s%s", j ? ", " : "", quote_identifier(NameStr(att->attname)));
		appendStringInfo(&vals, "%s%s", j ? ", " : "",
						 OidOutputFunctionCall(out, values[fk->fkattnum[j] - 1]));
	}
	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 errmsg("insert or update on table \"%s\" violates foreign key constraint \"%s\"",
					RelationGetRelationName(rel), fk->name),
			 errdetail("Key (%s)=(%s) is not present in table \"%s\".",
					   cols.data, vals.data, get_rel_name(fk->confrelid)),
			 errtableconstraint(rel, fk->name)));
}

/*
 * Checks one foreign key of the row as its trigger would: the referenced row
 * exists and is locked FOR KEY SHARE until this transaction ends (a row this
 * transaction wrote needs no lock: no one else can see it, let alone delete
 * it). A row with a NULL in the key refers to nothing (MATCH SIMPLE).
 */
static void
CheckForeignKey(Relation rel, RowForeignKey *fk, const Datum *values, const bool *nulls)
{
	ScanKeyData skeys[INDEX_MAX_KEYS];
	Relation	pkrel;
	Relation	idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	bool		found;

	for (int j = 0; j < fk->nkeys; j++)
	{
		if (nulls[fk->fkattnum[j] - 1])
			return;
		ScanKeyEntryInitialize(&skeys[j], 0, j + 1, BTEqualStrategyNumber, InvalidOid,
							   fk->collation[j], fk->eqproc[j], values[fk->fkattnum[j] - 1]);
	}
	pkrel = table_open(fk->confrelid, RowShareLock);
	idx = index_open(fk->conindid, AccessShareLock);
	slot = table_slot_create(pkrel, NULL);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	scan = index_beginscan(pkrel, idx, snapshot, NULL, fk->nkeys, 0);
	index_rescan(scan, skeys, fk->nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	if (found)
	{
		HeapTuple	tup = ExecFetchSlotHeapTuple(slot, false, NULL);

		if (!TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data)))
		{
			TM_FailureData tmfd;
			TM_Result	r = table_tuple_lock(pkrel, &slot->tts_tid, snapshot, slot,
											 GetCurrentCommandId(false), LockTupleKeyShare,
											 LockWaitBlock,
											 IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
											 &tmfd);

			if (r == TM_Updated || (r == TM_Deleted && IsolationUsesXactSnapshot()))
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update")));
			found = r == TM_Ok;
		}
	}
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, NoLock);
	table_close(pkrel, NoLock);
	if (!found)
		ForeignKeyViolation(rel, fk, values);
}

/*
 * Inserts a row into table t: values and nulls per column of the table (natts
 * of them), in its order; a column whose usedefault is set takes its default
 * instead (the value is evaluated and stored into values and nulls). Returns
 * the row written, or NULL when the table does not qualify for the direct
 * write (nothing written: the caller runs the INSERT statement).
 */
HeapTuple
AigwRowInsert(AigwRowTable *t, int natts, Datum *values, bool *nulls, const bool *usedefault)
{
	Relation	rel = OpenRowTable(t);
	TupleDesc	tupdesc;
	HeapTuple	tup;
	Oid			user = GetUserId();

	/* natts other than the table's: the caller's idea of the table is older (or newer) */
	if (!t->direct || natts != t->natts ||
		pg_class_aclcheck(t->relid, user, ACL_INSERT) != ACLCHECK_OK ||
		pg_class_aclcheck(t->relid, user, ACL_SELECT) != ACLCHECK_OK)
	{
		/* the INSERT raises the errors of missing privileges, column ones included */
		table_close(rel, NoLock);
		return NULL;
	}
	PreventCommandIfReadOnly("INSERT");
	PreventCommandIfParallelMode("INSERT");
	CheckFunctionPrivileges(t);
	tupdesc = RelationGetDescr(rel);
	/* what the statement's own snapshot would see: this transaction's rows so far */
	CommandCounterIncrement();
	for (int i = 0; i < t->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
		{
			values[i] = (Datum) 0;
			nulls[i] = true;
		}
		else if (usedefault[i])
		{
			nulls[i] = true;
			values[i] = (Datum) 0;
			if (t->defaults[i] != NULL)
			{
				Datum		d = ExecEvalExprSwitchContext(t->defaults[i], t->econtext, &nulls[i]);

				if (!nulls[i])
					values[i] = datumCopy(d, att->attbyval, att->attlen);
			}
		}
	}
	ResetExprContext(t->econtext);

	/* in the order of an INSERT: NOT NULL and CHECK, the unique indexes, the foreign keys */
	tup = heap_form_tuple(tupdesc, values, nulls);
	tup->t_tableOid = t->relid;
	ExecStoreHeapTuple(tup, t->slot, false);
	CheckRow(t, rel, nulls);
	simple_heap_insert(rel, tup);
	InsertIndexEntries(t, rel, &tup->t_self);
	ExecClearTuple(t->slot);
	ResetExprContext(t->econtext);
	for (int i = 0; i < t->nfkeys; i++)
		CheckForeignKey(rel, &t->fkeys[i], values, nulls);
	table_close(rel, NoLock);
	return tup;
}

/*
 * AigwRowInsert for the columns named, with values of the types given; the
 * other columns take their defaults. NULL when the table does not qualify or
 * has no such column of that type (nothing written: the caller runs the
 * INSERT statement).
 */
HeapTuple
AigwRowInsertColumns(AigwRowTable *t, int ncols, const char *const *names, const Oid *types,
					 const Datum *vals, const bool *isnull)
{
	Relation	rel = OpenRowTable(t);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			natts = tupdesc->natts;
	Datum	   *values = palloc0(sizeof(Datum) * natts);
	bool	   *nulls = palloc(sizeof(bool) * natts);
	bool	   *usedefault = palloc(sizeof(bool) * natts);

	memset(nulls, true, sizeof(bool) * natts);
	memset(usedefault, true, sizeof(bool) * natts);
	for (int c = 0; c < ncols; c++)
	{
		int			i;

		for (i = 0; i < natts; i++)
			if (!TupleDescAttr(tupdesc, i)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(tupdesc, i)->attname), names[c]) == 0)
				break;
		if (i == natts || TupleDescAttr(tupdesc, i)->atttypid != types[c] ||
			TupleDescAttr(tupdesc, i)->atttypmod != -1)
		{
			table_close(rel, NoLock);
			return NULL;
		}
		values[i] = vals[c];
		nulls[i] = isnull[c];
		usedefault[i] = false;
	}
	table_close(rel, NoLock);
	return AigwRowInsert(t, natts, values, nulls, usedefault);
}

/* The 1-based number of column name of t (loaded), or InvalidAttrNumber */
AttrNumber
AigwRowAttnum(AigwRowTable *t, const char *name)
{
	TupleDesc	tupdesc = t->slot->tts_tupleDescriptor;

	for (int i = 0; i < tupdesc->natts; i++)
		if (!TupleDescAttr(tupdesc, i)->attisdropped && strcmp(NameStr(TupleDescAttr(tupdesc, i)->attname), name) == 0)
			return i + 1;
	return InvalidAttrNumber;
}

/*
 * Begins an index scan of rel for the rows whose first index column equals
 * key (eqproc, the index's equality), with what the statement's own snapshot
 * would see: this transaction's rows so far
 */
void
AigwKeyScanBegin(AigwKeyScan *ks, Relation rel, Oid index, RegProcedure eqproc, Datum key)
{
	ScanKeyData skey;

	CommandCounterIncrement();
	ks->snapshot = RegisterSnapshot(GetTransactionSnapshot());
	ks->index = index_open(index, AccessShareLock);
	ks->slot = table_slot_create(rel, NULL);
	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   ks->index->rd_indcollation[0], eqproc, key);
	ks->scan = index_beginscan(rel, ks->index, ks->snapshot, NULL, 1, 0);
	index_rescan(ks->scan, &skey, 1, NULL, 0);
}

/* Ends a scan begun by AigwKeyScanBegin */
void
AigwKeyScanEnd(AigwKeyScan *ks)
{
	index_endscan(ks->scan);
	ExecDropSingleTupleTableSlot(ks->slot);
	index_close(ks->index, NoLock);
	UnregisterSnapshot(ks->snapshot);
}

/* The btree index of t on column attnum alone (no predicate), or InvalidOid */
static Oid
KeyIndex(AigwRowTable *t, AttrNumber attnum)
{
	for (int i = 0; i < t->nindexes; i++)
	{
		IndexInfo  *ii = t->index_infos[i];

		if (ii->ii_NumIndexKeyAttrs == 1 && ii->ii_IndexAttrNumbers[0] == attnum &&
			ii->ii_Predicate == NIL && ii->ii_ReadyForInserts)
			return t->index_oids[i];
	}
	return InvalidOid;
}

/*
 * Updates old (locked or not) to have columns set[] = values[], as an UPDATE
 * would in READ COMMITTED: a row updated concurrently is followed to its last
 * version, locked, and updated if keep (NULL: always) still says so; in
 * REPEATABLE READ or SERIALIZABLE that is a serialization failure. Returns the
 * new version (palloc'd), or NULL when no row was updated; old then holds the
 * version updated.
 */
static HeapTuple
UpdateOne(AigwRowTable *t, Relation rel, TupleTableSlot *old, Snapshot snapshot,
		  int nset, const AttrNumber *set, const Datum *setvalues, const bool *setnulls,
		  bool (*keep) (TupleTableSlot *row, void *arg), void *arg)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	CommandId	cid = GetCurrentCommandId(true);

	for (;;)
	{
		Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
		bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
		HeapTuple	tup;
		TM_Result	r;
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		TU_UpdateIndexes update_indexes;
		ItemPointerData otid = old->tts_tid;

		slot_getallattrs(old);
		memcpy(values, old->tts_values, sizeof(Datum) * tupdesc->natts);
		memcpy(nulls, old->tts_isnull, sizeof(bool) * tupdesc->natts);
		for (int i = 0; i < nset; i++)
		{
			values[set[i] - 1] = setvalues[i];
			nulls[set[i] - 1] = setnulls[i];
		}
		tup = heap_form_tuple(tupdesc, values, nulls);
		tup->t_tableOid = t->relid;
		ExecStoreHeapTuple(tup, t->slot, false);
		CheckRow(t, rel, nulls);
		r = table_tuple_update(rel, &otid, t->slot, cid, snapshot, InvalidSnapshot, true,
							   &tmfd, &lockmode, &update_indexes);
		if (r == TM_Ok)
		{
			if (update_indexes == TU_All)
				InsertIndexEntries(t, rel, &t->slot->tts_tid);
			ExecClearTuple(t->slot);
			ResetExprContext(t->econtext);
			return tup;
		}
		ExecClearTuple(t->slot);
		ResetExprContext(t->econtext);
		heap_freetuple(tup);
		if (r == TM_SelfModified || r == TM_Deleted)
		{
			if (r == TM_Deleted && IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			return NULL;		/* updated by this command already, or gone */
		}
		if (r != TM_Updated)
			elog(ERROR, "aigw: unexpected result %d updating a row of %s", (int) r, t->relname);
		if (IsolationUsesXactSnapshot())
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update")));
		/* the last version, locked: still one to update? */
		r = table_tuple_lock(rel, &otid, snapshot, old, cid, lockmode, LockWaitBlock,
							 TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
		if (r != TM_Ok || (keep != NULL && !keep(old, arg)))
			return NULL;
	}
}

/*
 * True when the columns set can be updated directly: none is dropped, of
 * another type than given, or a column of a unique index or foreign key
 * (whose triggers would then have work to do)
 */
static bool
SettableColumns(AigwRowTable *t, Relation rel, int nset, const AttrNumber *set, const Oid *types)
{
	for (int i = 0; i < nset; i++)
	{
		if (set[i] == InvalidAttrNumber || (types != NULL &&
			TupleDescAttr(RelationGetDescr(rel), set[i] - 1)->atttypid != types[i]))
			return false;
		for (int k = 0; k < t->nindexes; k++)
			if (t->index_infos[k]->ii_Unique)
				for (int j = 0; j < t->index_infos[k]->ii_NumIndexAttrs; j++)
					if (t->index_infos[k]->ii_IndexAttrNumbers[j] == set[i])
						return false;
		for (int k = 0; k < t->nfkeys; k++)
			for (int j = 0; j < t->fkeys[k].nkeys; j++)
				if (t->fkeys[k].fkattnum[j] == set[i])
					return false;
	}
	return true;
}

/* Raises what an UPDATE would for a read-only transaction or missing privileges; false: take the statement */
static bool
MayUpdate(AigwRowTable *t)
{
	Oid			user = GetUserId();

	if (pg_class_aclcheck(t->relid, user, ACL_UPDATE) != ACLCHECK_OK ||
		pg_class_aclcheck(t->relid, user, ACL_SELECT) != ACLCHECK_OK)
		return false;
	PreventCommandIfReadOnly("UPDATE");
	PreventCommandIfParallelMode("UPDATE");
	CheckFunctionPrivileges(t);
	return true;
}

/*
 * The UPDATE of t SET set_col = value WHERE key_col = key AND keep(row), by
 * heap and index calls: through a btree index on key_col alone, each row
 * visible to the statement's snapshot that keep accepts is updated (followed
 * to its last version when updated concurrently, as the UPDATE would), its
 * new version checked (NOT NULL, CHECK) and indexed; visit(row) is called
 * with each row updated, as it was. Returns how many rows were updated, or -1
 * when the table does not qualify (an update trigger other than the foreign
 * keys', anything the direct write does not take, no such index or column, a
 * set column of a unique index or foreign key, missing table-level UPDATE or
 * SELECT privilege): nothing written, the caller runs the UPDATE.
 */
int64
AigwRowUpdateByKey(AigwRowTable *t, const char *key_col, Datum key, Oid key_eqproc,
				   bool (*keep) (TupleTableSlot *row, void *arg),
				   const char *set_col, Oid set_type, Datum value, bool value_null,
				   void (*visit) (TupleTableSlot *row, void *arg), void *arg)
{
	Relation	rel = OpenRowTable(t);
	AttrNumber	key_attnum;
	AttrNumber	set_attnum;
	Oid			index;
	AigwKeyScan ks;
	int64		n = 0;

	key_attnum = t->direct_update ? AigwRowAttnum(t, key_col) : InvalidAttrNumber;
	set_attnum = t->direct_update ? AigwRowAttnum(t, set_col) : InvalidAttrNumber;
	index = key_attnum != InvalidAttrNumber ? KeyIndex(t, key_attnum) : InvalidOid;
	if (!OidIsValid(index) || !SettableColumns(t, rel, 1, &set_attnum, &set_type) || !MayUpdate(t))
	{
		table_close(rel, NoLock);
		return -1;
	}
	AigwKeyScanBegin(&ks, rel, index, key_eqproc, key);
	while (index_getnext_slot(ks.scan, ForwardScanDirection, ks.slot))
	{
		if (!keep(ks.slot, arg))
			continue;
		if (UpdateOne(t, rel, ks.slot, ks.snapshot, 1, &set_attnum, &value, &value_null, keep, arg) != NULL)
		{
			visit(ks.slot, arg);
			n++;
		}
	}
	AigwKeyScanEnd(&ks);
	table_close(rel, NoLock);
	return n;
}

/* Column name of a row AigwRowInsert just wrote into t (NULL when missing) */
Datum
AigwRowColumn(AigwRowTable *t, HeapTuple tup, const char *name, bool *isnull)
{
	TupleDesc	tupdesc = t->slot->tts_tupleDescriptor;

	for (int i = 0; i < tupdesc->natts; i++)
		if (!TupleDescAttr(tupdesc, i)->attisdropped && strcmp(NameStr(TupleDescAttr(tupdesc, i)->attname), name) == 0)
			return heap_getattr(tup, i + 1, tupdesc, isnull);
	*isnull = true;
	return (Datum) 0;
}

/* The row of the table's type that RETURNING * gave (the columns that are not dropped, in order) */
static Datum
ReturnedRow(TupleDesc tupdesc)
{
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
	int			n = 0;

	for (int i = 0; i < tupdesc->natts; i++)
	{
		values[i] = (Datum) 0;
		nulls[i] = true;
		if (!TupleDescAttr(tupdesc, i)->attisdropped)
			values[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, ++n, &nulls[i]);
	}
	return heap_copy_tuple_as_datum(heap_form_tuple(tupdesc, values, nulls), tupdesc);
}

/*
 * The INSERT of a row of a table's type with its NULL columns left to their
 * defaults, RETURNING the row, through SPI (a table that does not qualify
 * for the direct write)
 */
static Datum
InsertRowStatement(Oid relid, TupleDesc tupdesc, const Datum *values, const bool *nulls)
{
	StringInfoData sql;
	StringInfoData vals;
	Datum	   *args = palloc(sizeof(Datum) * tupdesc->natts);
	Oid		   *types = palloc(sizeof(Oid) * tupdesc->natts);
	int			n = 0;
	Datum		result;

	initStringInfo(&sql);
	initStringInfo(&vals);
	appendStringInfo(&sql, "INSERT INTO %s (",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid)));
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped || nulls[i])
			continue;
		appendStringInfo(&sql, "%s%s", n ? ", " : "", quote_identifier(NameStr(att->attname)));
		appendStringInfo(&vals, "%s$%d", n ? ", " : "", n + 1);
		args[n] = values[i];
		types[n++] = att->atttypid;
	}
	if (n == 0)
		appendStringInfoString(&sql, ") DEFAULT VALUES RETURNING *");
	else
		appendStringInfo(&sql, ") VALUES (%s) RETURNING *", vals.data);
	SPI_connect();
	if (SPI_execute_with_args(sql.data, n, types, args, NULL, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "aigw: could not insert a row into %s", get_rel_name(relid));
	result = SPI_datumTransfer(ReturnedRow(tupdesc), false, -1);
	SPI_finish();
	return result;
}

/* The row argument of aigw.insert_row and aigw.update_row (fname), deformed */
typedef struct RowArgument
{
	Oid			relid;			/* the table of its type, in schema aigw */
	TupleDesc	tupdesc;		/* its type's, pinned: ReleaseTupleDesc */
	Datum	   *values;
	bool	   *nulls;
} RowArgument;

/* Reads argument 0 of fcinfo, a row of a table of schema aigw, into a */
static void
ReadRowArgument(FunctionCallInfo fcinfo, const char *fname, RowArgument *a)
{
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	HeapTupleHeader row;
	HeapTupleData tmp;

	a->relid = OidIsValid(type) ? typeidTypeRelid(type) : InvalidOid;
	if (!OidIsValid(a->relid) || get_rel_relkind(a->relid) != RELKIND_RELATION ||
		get_rel_namespace(a->relid) != get_namespace_oid("aigw", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s needs a row of a table of schema aigw", fname)));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s needs a row, not NULL", fname)));
	row = PG_GETARG_HEAPTUPLEHEADER(0);
	a->tupdesc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(row), HeapTupleHeaderGetTypMod(row));
	a->values = palloc(sizeof(Datum) * a->tupdesc->natts);
	a->nulls = palloc(sizeof(bool) * a->tupdesc->natts);
	tmp.t_len = HeapTupleHeaderGetDatumLength(row);
	tmp.t_data = row;
	heap_deform_tuple(&tmp, a->tupdesc, a->values, a->nulls);
}

PG_FUNCTION_INFO_V1(aigw_insert_row);

/*
 * aigw.insert_row(row anyelement) RETURNS anyelement: inserts row, a row of
 * the type of a table in schema aigw, into that table, its NULL columns taking
 * their defaults, and returns the row written (the INSERT ... RETURNING *).
 */
Datum
aigw_insert_row(PG_FUNCTION_ARGS)
{
	RowArgument a;
	AigwRowTable *t;
	bool	   *usedefault;
	Datum	   *original;
	HeapTuple	tup;
	Datum		result;

	ReadRowArgument(fcinfo, "aigw.insert_row", &a);
	t = AigwRowTableFor(get_rel_name(a.relid));
	usedefault = palloc(sizeof(bool) * a.tupdesc->natts);
	memcpy(usedefault, a.nulls, sizeof(bool) * a.tupdesc->natts);
	original = palloc(sizeof(Datum) * a.tupdesc->natts);
	memcpy(original, a.values, sizeof(Datum) * a.tupdesc->natts);
	tup = AigwRowInsert(t, a.tupdesc->natts, a.values, a.nulls, usedefault);
	/* the statement gets the row as given: its NULL columns are left out */
	result = tup != NULL ? heap_copy_tuple_as_datum(tup, a.tupdesc)
		: InsertRowStatement(a.relid, a.tupdesc, original, usedefault);
	ReleaseTupleDesc(a.tupdesc);
	PG_RETURN_DATUM(result);
}

/* What UpdateOne rechecks of a row followed to its last version: the key still matches */
typedef struct KeyMatch
{
	AttrNumber	attnum;
	Datum		key;
	FmgrInfo	eq;
	Oid			collation;
} KeyMatch;

/* UpdateOne callback: the row still has the key */
static bool
KeyStillMatches(TupleTableSlot *row, void *arg)
{
	KeyMatch   *m = arg;
	bool		isnull;
	Datum		d = slot_getattr(row, m->attnum, &isnull);

	return !isnull && DatumGetBool(FunctionCall2Coll(&m->eq, m->collation, d, m->key));
}

/*
 * The UPDATE of the columns set of the row whose primary key column pk has the
 * row's value, RETURNING *, through SPI (a table that does not qualify for
 * the direct update); (Datum) 0 with *found false when no row has it
 */
static Datum
UpdateRowStatement(Oid relid, TupleDesc tupdesc, const Datum *values, const bool *nulls,
				   int nset, const AttrNumber *set, AttrNumber pk, bool *found)
{
	StringInfoData sql;
	Datum	   *args = palloc(sizeof(Datum) * (nset + 1));
	Oid		   *types = palloc(sizeof(Oid) * (nset + 1));
	char	   *argnulls = palloc(nset + 1);
	Datum		result = (Datum) 0;

	initStringInfo(&sql);
	appendStringInfo(&sql, "UPDATE %s SET ",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid)));
	for (int i = 0; i < nset; i++)
	{
		appendStringInfo(&sql, "%s%s = $%d", i ? ", " : "",
						 quote_identifier(NameStr(TupleDescAttr(tupdesc, set[i] - 1)->attname)), i + 1);
		args[i] = values[set[i] - 1];
		argnulls[i] = nulls[set[i] - 1] ? 'n' : ' ';
		types[i] = TupleDescAttr(tupdesc, set[i] - 1)->atttypid;
	}
	appendStringInfo(&sql, " WHERE %s = $%d RETURNING *",
					 quote_identifier(NameStr(TupleDescAttr(tupdesc, pk - 1)->attname)), nset + 1);
	args[nset] = values[pk - 1];
	argnulls[nset] = nulls[pk - 1] ? 'n' : ' ';
	types[nset] = TupleDescAttr(tupdesc, pk - 1)->atttypid;
	SPI_connect();
	if (SPI_execute_with_args(sql.data, nset + 1, types, args, argnulls, false, 1) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "aigw: could not update a row of %s", get_rel_name(relid));
	*found = SPI_processed == 1;
	if (*found)
		result = SPI_datumTransfer(ReturnedRow(tupdesc), false, -1);
	SPI_finish();
	return result;
}

/* The primary key of rel, one column, as an index of t; InvalidOid when it has none such */
static Oid
PrimaryKeyIndex(AigwRowTable *t, Relation rel, AttrNumber *attnum)
{
	Oid			pk = RelationGetPrimaryKeyIndex(rel, false);

	for (int i = 0; i < t->nindexes && OidIsValid(pk); i++)
		if (t->index_oids[i] == pk && t->index_infos[i]->ii_NumIndexKeyAttrs == 1)
		{
			*attnum = t->index_infos[i]->ii_IndexAttrNumbers[0];
			return *attnum != InvalidAttrNumber ? pk : InvalidOid;
		}
	return InvalidOid;
}

/*
 * Updates the columns set of the row of t whose primary key equals the one in
 * values directly (see AigwRowUpdateByKey); returns the new version, or NULL
 * with *found false when there is no such row. NULL with *found true: the
 * table does not qualify, the caller runs the statement.
 */
static HeapTuple
UpdateRowDirect(AigwRowTable *t, Relation rel, int natts, const Datum *values, const bool *nulls,
				int nset, const AttrNumber *set, bool *found)
{
	AttrNumber	pk = InvalidAttrNumber;
	Oid			index = t->direct_update && natts == t->natts ? PrimaryKeyIndex(t, rel, &pk) : InvalidOid;
	Relation	idx;
	AigwKeyScan ks;
	HeapTuple	tup = NULL;
	KeyMatch	m;
	Oid			eqop;
	Datum	   *setvalues;
	bool	   *setnulls;

	*found = true;
	if (!OidIsValid(index) || nulls[pk - 1] || !SettableColumns(t, rel, nset, set, NULL) || !MayUpdate(t))
		return NULL;
	idx = index_open(index, AccessShareLock);
	eqop = get_opfamily_member(idx->rd_opfamily[0], idx->rd_opcintype[0], idx->rd_opcintype[0],
							   BTEqualStrategyNumber);
	m.collation = idx->rd_indcollation[0];
	if (TupleDescAttr(RelationGetDescr(rel), pk - 1)->atttypid != idx->rd_opcintype[0])
		eqop = InvalidOid;
	index_close(idx, NoLock);
	if (!OidIsValid(eqop))
		return NULL;
	m.attnum = pk;
	m.key = values[pk - 1];
	fmgr_info(get_opcode(eqop), &m.eq);
	setvalues = palloc(sizeof(Datum) * nset);
	setnulls = palloc(sizeof(bool) * nset);
	for (int i = 0; i < nset; i++)
	{
		setvalues[i] = values[set[i] - 1];
		setnulls[i] = nulls[set[i] - 1];
	}
	AigwKeyScanBegin(&ks, rel, index, get_opcode(eqop), m.key);
	if (index_getnext_slot(ks.scan, ForwardScanDirection, ks.slot))
		tup = UpdateOne(t, rel, ks.slot, ks.snapshot, nset, set, setvalues, setnulls, KeyStillMatches, &m);
	AigwKeyScanEnd(&ks);
	*found = tup != NULL;
	return tup;
}

PG_FUNCTION_INFO_V1(aigw_update_row);

/*
 * aigw.update_row(row anyelement, columns text[]) RETURNS anyelement: the
 * UPDATE of the columns named to the row's values, in the row of the same
 * table of schema aigw with the row's primary key, RETURNING * (NULL when
 * there is no such row); the other columns keep the values the table has.
 */
Datum
aigw_update_row(PG_FUNCTION_ARGS)
{
	RowArgument a;
	AigwRowTable *t;
	Relation	rel;
	Datum	   *names;
	bool	   *namenulls;
	int			nset;
	AttrNumber *set;
	HeapTuple	tup;
	bool		found;
	Datum		result = (Datum) 0;

	ReadRowArgument(fcinfo, "aigw.update_row", &a);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("aigw.update_row needs the columns to set, not NULL")));
	deconstruct_array_builtin(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, &names, &namenulls, &nset);
	set = palloc(sizeof(AttrNumber) * Max(nset, 1));
	for (int i = 0; i < nset; i++)
	{
		char	   *name = namenulls[i] ? "" : TextDatumGetCString(names[i]);

		set[i] = InvalidAttrNumber;
		for (int j = 0; j < a.tupdesc->natts; j++)
			if (!TupleDescAttr(a.tupdesc, j)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(a.tupdesc, j)->attname), name) == 0)
				set[i] = j + 1;
		if (set[i] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist", name, get_rel_name(a.relid))));
	}
	t = AigwRowTableFor(get_rel_name(a.relid));
	rel = OpenRowTable(t);
	tup = UpdateRowDirect(t, rel, a.tupdesc->natts, a.values, a.nulls, nset, set, &found);
	if (tup != NULL)
		result = heap_copy_tuple_as_datum(tup, a.tupdesc);
	else if (found)
	{
		Bitmapset  *pkattrs = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
		AttrNumber	pk;

		if (bms_num_members(pkattrs) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("aigw.update_row needs a table with a primary key of one column")));
		pk = bms_next_member(pkattrs, -1) + FirstLowInvalidHeapAttributeNumber;
		result = UpdateRowStatement(a.relid, a.tupdesc, a.values, a.nulls, nset, set, pk, &found);
	}
	table_close(rel, NoLock);
	ReleaseTupleDesc(a.tupdesc);
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
