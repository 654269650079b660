/*
 * config_load.c: reading the configuration tables for the resolver (config.c). The small tables
 * are loaded into a snapshot with prepared statements; the unified store is read with one probe
 * of its lookup index per (level, scope) pair. Both read the latest committed data (plus this
 * transaction's own changes), like the catalog caches, so that what the resolver caches is never
 * older than an invalidation it has already received.
 */
#include "config.h"

#include "access/genam.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* The context the snapshot being loaded is allocated in */
static MemoryContext SnapshotContext = NULL;

/* Runs a read-only query against the latest committed data (plus this transaction's own changes) */
static void
RunLatest(SPIPlanPtr plan, Datum *values, const char *nulls)
{
	MemoryContext old = CurrentMemoryContext;
	int			rc = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(),
										  InvalidSnapshot, true, false, 0);

	/* SPI calls return in the procedure context; keep working where the caller was */
	MemoryContextSwitchTo(old);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "aigw config: query failed: %s", SPI_result_code_string(rc));
}

/* Prepares a query once per backend and keeps its plan */
static SPIPlanPtr
KeptPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	MemoryContext old = CurrentMemoryContext;

	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "aigw config: cannot prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*slot = plan;
	}
	MemoryContextSwitchTo(old);
	return *slot;
}

/* Runs load query number i of the snapshot */
static void
LoadQuery(int i, const char *sql)
{
	static SPIPlanPtr plans[6];

	Assert(i >= 0 && i < lengthof(plans));
	RunLatest(KeptPlan(&plans[i], sql, 0, NULL), NULL, NULL);
}

/* Column i (1-based) of row r of the last result as a string in the snapshot context, or NULL */
static char *
ColText(int r, int i)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i, &isnull);

	return isnull ? NULL : MemoryContextStrdup(SnapshotContext, TextDatumGetCString(d));
}

/* Column i of row r as a jsonb copied into the snapshot context, or NULL */
static Jsonb *
ColJsonb(int r, int i)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i, &isnull);
	MemoryContext old;
	Jsonb	   *res;

	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(SnapshotContext);
	res = DatumGetJsonbPCopy(d);
	MemoryContextSwitchTo(old);
	return res;
}

/* Column i of row r as a boolean (NULL reads as false) */
static bool
ColBool(int r, int i)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i, &isnull);

	return !isnull && DatumGetBool(d);
}

/* Columns i and i+1 of row r as an effective period; NULL bounds are open */
static CfgPeriod
ColPeriod(int r, int i, bool active)
{
	CfgPeriod	p;
	bool		isnull;
	Datum		d;

	p.active = active;
	d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i, &isnull);
	p.from = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i + 1, &isnull);
	p.to = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	return p;
}

/* Finds a strategy of the snapshot by name */
CfgStrategy *
ConfigFindStrategy(CfgSnapshot *s, const char *name)
{
	for (int i = 0; i < s->nstrategies; i++)
		if (strcmp(s->strategies[i].name, name) == 0)
			return &s->strategies[i];
	return NULL;
}

/*
 * Loads the small configuration tables into a snapshot allocated in cxt (SPI must be
 * connected), and returns the oids of the signal tables.
 */
CfgSnapshot *
ConfigLoadSnapshot(MemoryContext cxt, Oid *signal_meta, Oid *signal_store)
{
	CfgSnapshot *s;
	Oid			nsp = get_namespace_oid("aigw", false);
	uint64		n;

	SnapshotContext = cxt;
	s = MemoryContextAllocZero(SnapshotContext, sizeof(CfgSnapshot));
	*signal_meta = get_relname_relid(CFG_SIGNAL_META, nsp);
	*signal_store = get_relname_relid(CFG_SIGNAL_STORE, nsp);

	LoadQuery(0, "SELECT level_name, parent_level, scope_context_key FROM aigw.config_levels");
	n = SPI_processed;
	s->levels = MemoryContextAllocZero(SnapshotContext, sizeof(CfgLevel) * (n + 1));
	for (uint64 r = 0; r < n; r++)
	{
		s->levels[r].name = ColText(r, 1);
		s->levels[r].parent = ColText(r, 2);
		s->levels[r].scope_key = ColText(r, 3);
	}
	s->nlevels = n;

	LoadQuery(1, "SELECT strategy_name, is_builtin, "
			  "to_regprocedure(implementation_function || '(jsonb, jsonb, jsonb)')::oid "
			  "FROM aigw.merge_strategies");
	n = SPI_processed;
	s->strategies = MemoryContextAllocZero(SnapshotContext, sizeof(CfgStrategy) * (n + 1));
	for (uint64 r = 0; r < n; r++)
	{
		CfgStrategy *st = &s->strategies[r];
		bool		isnull;
		Datum		fn;

		st->name = ColText(r, 1);
		if (ColBool(r, 2) && ConfigMergeKindFromName(st->name, &st->kind))
			continue;
		st->kind = CONFIG_MERGE_CUSTOM;
		fn = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3, &isnull);
		/* a dropped function breaks only the resolutions that use the strategy */
		st->flinfo.fn_oid = InvalidOid;
		if (!isnull)
			fmgr_info_cxt(DatumGetObjectId(fn), &st->flinfo, SnapshotContext);
	}
	s->nstrategies = n;

	LoadQuery(2, "SELECT type_name, merge_strategy, default_value, supports_tier_entitlements, array_keys "
			  "FROM aigw.config_types");
	n = SPI_processed;
	s->types = MemoryContextAllocZero(SnapshotContext, sizeof(CfgType) * (n + 1));
	for (uint64 r = 0; r < n; r++)
	{
		CfgType    *t = &s->types[r];
		char	   *strategy = ColText(r, 2);
		bool		isnull;
		Datum		keys = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 5, &isnull);

		t->name = ColText(r, 1);
		t->strategy = ConfigFindStrategy(s, strategy);
		t->default_value = ColJsonb(r, 3);
		t->supports_tier = ColBool(r, 4);
		if (!isnull)
		{
			Datum	   *elems;
			bool	   *enulls;
			int			nk;

			deconstruct_array_builtin(DatumGetArrayTypeP(keys), TEXTOID, &elems, &enulls, &nk);
			t->array_keys = MemoryContextAlloc(SnapshotContext, sizeof(char *) * (nk + 1));
			for (int k = 0; k < nk; k++)
				t->array_keys[k] = MemoryContextStrdup(SnapshotContext,
													   enulls[k] ? "" : TextDatumGetCString(elems[k]));
			t->n_array_keys = nk;
		}
	}
	s->ntypes = n;

	LoadQuery(3, "SELECT parent_level, child_level, config_type, is_inheritance_enabled, is_active, "
			  "effective_from, effective_to, custom_merge_strategy, conflict_resolution, "
			  "condition_expression FROM aigw.inheritance_rules");
	n = SPI_processed;
	s->rules = MemoryContextAllocZero(SnapshotContext, sizeof(CfgRule) * (n + 1));
	for (uint64 r = 0; r < n; r++)
	{
		CfgRule    *ru = &s->rules[r];
		char	   *custom = ColText(r, 8);

		ru->parent = ColText(r, 1);
		ru->child = ColText(r, 2);
		ru->type = ColText(r, 3);
		ru->enabled = ColBool(r, 4);
		ru->period = ColPeriod(r, 6, ColBool(r, 5));
		ru->custom = custom ? ConfigFindStrategy(s, custom) : NULL;
		ru->conflict = ColText(r, 9);
		ru->condition = ColJsonb(r, 10);
	}
	s->nrules = n;

	/* conditional mappings first, then the latest */
	LoadQuery(4, "SELECT m.tier_name, m.config_type, m.feature_value, m.is_active AND t.is_active, "
			  "m.effective_from, m.effective_to, m.condition_expression "
			  "FROM aigw.tier_feature_mappings m JOIN aigw.tier_definitions t USING (tier_name) "
			  "ORDER BY m.condition_expression IS NULL, m.effective_from DESC");
	n = SPI_processed;
	s->tiermaps = MemoryContextAllocZero(SnapshotContext, sizeof(CfgTierMap) * (n + 1));
	for (uint64 r = 0; r < n; r++)
	{
		CfgTierMap *m = &s->tiermaps[r];

		m->tier = ColText(r, 1);
		m->type = ColText(r, 2);
		m->value = ColJsonb(r, 3);
		m->tier_active = ColBool(r, 4);
		m->period = ColPeriod(r, 5, m->tier_active);
		m->condition = ColJsonb(r, 7);
	}
	s->ntiermaps = n;
	return s;
}


/* Attribute number of a named column of a relation */
static AttrNumber
ColumnNumber(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	elog(ERROR, "aigw config: column %s of %s is missing", name, RelationGetRelationName(rel));
	return InvalidAttrNumber;
}

/* A column of the current slot as text, or NULL */
static char *
SlotText(TupleTableSlot *slot, AttrNumber att)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, att, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* A column of the current slot as a timestamp, or the given infinity */
static TimestampTz
SlotTime(TupleTableSlot *slot, AttrNumber att, TimestampTz ifnull)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, att, &isnull);

	return isnull ? ifnull : DatumGetTimestampTz(d);
}

/* A column of the current slot as a jsonb copy, or NULL */
static Jsonb *
SlotJsonb(TupleTableSlot *slot, AttrNumber att)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, att, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

/*
 * Fetches the stored rows of a type at the given (level, scope) pairs with one probe of the
 * lookup index per pair, reading the latest committed data like the snapshot load does.
 */
CfgRow *
ConfigFetchRows(const char *type, char **levels, char **scopes, int npairs, int *nrows)
{
	Oid			nsp = get_namespace_oid("aigw", false);
	Oid			relid = get_relname_relid("unified_config_store", nsp);
	Oid			idxid = get_relname_relid("unified_config_store_lookup", nsp);
	Relation	rel;
	Relation	idx;
	Snapshot	snap;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData keys[3];
	AttrNumber	a_level,
				a_scope,
				a_value,
				a_version,
				a_from,
				a_to,
				a_tier,
				a_cond,
				a_created;
	int			cap = 8;
	int			n = 0;
	CfgRow	   *rows = palloc0(sizeof(CfgRow) * cap);
	Datum		type_d = CStringGetTextDatum(type);

	if (!OidIsValid(relid) || !OidIsValid(idxid))
		elog(ERROR, "aigw config: aigw.unified_config_store or its lookup index is missing");
	rel = table_open(relid, AccessShareLock);
	idx = index_open(idxid, AccessShareLock);
	a_level = ColumnNumber(rel, "level_name");
	a_scope = ColumnNumber(rel, "scope_id");
	a_value = ColumnNumber(rel, "config_value");
	a_version = ColumnNumber(rel, "version");
	a_from = ColumnNumber(rel, "effective_from");
	a_to = ColumnNumber(rel, "effective_to");
	a_tier = ColumnNumber(rel, "applied_tier");
	a_cond = ColumnNumber(rel, "condition_context");
	a_created = ColumnNumber(rel, "created_at");
	snap = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, idx, snap, NULL, 3, 0);
	for (int p = 0; p < npairs; p++)
	{
		Datum		args[3];

		args[0] = type_d;
		args[1] = CStringGetTextDatum(levels[p]);
		args[2] = CStringGetTextDatum(scopes[p] ? scopes[p] : "");
		for (int k = 0; k < 3; k++)
			ScanKeyEntryInitialize(&keys[k], 0, k + 1, BTEqualStrategyNumber, InvalidOid,
								   idx->rd_indcollation[k], F_TEXTEQ, args[k]);
		index_rescan(scan, keys, 3, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			CfgRow	   *r;
			bool		isnull;
			Datum		d;

			if (n == cap)
			{
				cap *= 2;
				rows = repalloc0(rows, sizeof(CfgRow) * n, sizeof(CfgRow) * cap);
			}
			r = &rows[n++];
			r->level = SlotText(slot, a_level);
			r->scope = SlotText(slot, a_scope);
			r->value = SlotJsonb(slot, a_value);
			d = slot_getattr(slot, a_version, &isnull);
			r->version = isnull ? 0 : DatumGetInt32(d);
			r->period.active = true;
			r->period.from = SlotTime(slot, a_from, DT_NOBEGIN);
			r->period.to = SlotTime(slot, a_to, DT_NOEND);
			r->tier = SlotText(slot, a_tier);
			r->condition = SlotJsonb(slot, a_cond);
			r->created = SlotTime(slot, a_created, DT_NOBEGIN);
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
	*nrows = n;
	return rows;
}

