/*
 * config_load.c: reading the configuration tables for the resolver (config.c). The small tables
 * are loaded into a snapshot with one sequential scan each; the unified store is read with one
 * probe of its lookup index per (level, scope) pair. No SQL statement is run. Both read the latest committed data (plus this
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
#include "executor/tuptable.h"
#include "fmgr.h"
#include "nodes/miscnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

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

/* A sequential scan of one table of the aigw schema at the latest committed data */
typedef struct CfgScan
{
	Relation	rel;
	Snapshot	snap;
	TableScanDesc scan;
	TupleTableSlot *slot;
} CfgScan;

/* Opens a scan of aigw.<table> */
static void
ScanOpen(CfgScan *cs, Oid nsp, const char *table)
{
	Oid			relid = get_relname_relid(table, nsp);

	if (!OidIsValid(relid))
		elog(ERROR, "aigw config: table aigw.%s is missing", table);
	cs->rel = table_open(relid, AccessShareLock);
	cs->snap = RegisterSnapshot(GetLatestSnapshot());
	cs->scan = table_beginscan(cs->rel, cs->snap, 0, NULL);
	cs->slot = table_slot_create(cs->rel, NULL);
}

/* Moves to the next row, with all its columns deformed; false at the end */
static bool
ScanNext(CfgScan *cs)
{
	if (!table_scan_getnextslot(cs->scan, ForwardScanDirection, cs->slot))
		return false;
	slot_getallattrs(cs->slot);
	return true;
}

/* Ends a scan */
static void
ScanClose(CfgScan *cs)
{
	ExecDropSingleTupleTableSlot(cs->slot);
	table_endscan(cs->scan);
	UnregisterSnapshot(cs->snap);
	table_close(cs->rel, NoLock);
}

/* Grows an array of rows being appended to */
#define CFG_GROW(arr, n, cap, type) \
	do { \
		if ((n) == (cap)) \
		{ \
			(cap) *= 2; \
			(arr) = repalloc0((arr), sizeof(type) * (n), sizeof(type) * (cap)); \
		} \
	} while (0)

/* A text column of the current row, copied, or NULL */
static char *
RowText(CfgScan *cs, AttrNumber att)
{
	return cs->slot->tts_isnull[att - 1] ? NULL : TextDatumGetCString(cs->slot->tts_values[att - 1]);
}

/* A boolean column of the current row (NULL reads as false) */
static bool
RowBool(CfgScan *cs, AttrNumber att)
{
	return !cs->slot->tts_isnull[att - 1] && DatumGetBool(cs->slot->tts_values[att - 1]);
}

/* A jsonb column of the current row, copied, or NULL */
static Jsonb *
RowJsonb(CfgScan *cs, AttrNumber att)
{
	return cs->slot->tts_isnull[att - 1] ? NULL : DatumGetJsonbPCopy(cs->slot->tts_values[att - 1]);
}

/* Two timestamp columns of the current row as an effective period; NULL bounds are open */
static CfgPeriod
RowPeriod(CfgScan *cs, AttrNumber from, AttrNumber to, bool active)
{
	CfgPeriod	p;

	p.active = active;
	p.from = cs->slot->tts_isnull[from - 1] ? DT_NOBEGIN : DatumGetTimestampTz(cs->slot->tts_values[from - 1]);
	p.to = cs->slot->tts_isnull[to - 1] ? DT_NOEND : DatumGetTimestampTz(cs->slot->tts_values[to - 1]);
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

/* Tier mappings in resolution order: conditional ones first, then the latest effective_from */
static int
TierMapOrder(const void *a, const void *b)
{
	const CfgTierMap *x = a;
	const CfgTierMap *y = b;

	if ((x->condition == NULL) != (y->condition == NULL))
		return x->condition == NULL ? 1 : -1;
	if (x->period.from != y->period.from)
		return x->period.from > y->period.from ? -1 : 1;
	return 0;
}

/*
 * Loads the small configuration tables into a snapshot allocated in cxt, and returns the oids
 * of the signal tables. Each table is read with one sequential scan of the latest committed
 * data (no SQL statement: parsing, planning and executor start-up were most of a reload).
 */
CfgSnapshot *
ConfigLoadSnapshot(MemoryContext cxt, Oid *signal_meta, Oid *signal_store)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	CfgSnapshot *s = palloc0(sizeof(CfgSnapshot));
	Oid			nsp = get_namespace_oid("aigw", false);
	CfgScan		cs;
	int			cap;
	char	  **tier_names = NULL;
	bool	   *tier_active = NULL;
	int			ntiers = 0;

	*signal_meta = get_relname_relid(CFG_SIGNAL_META, nsp);
	*signal_store = get_relname_relid(CFG_SIGNAL_STORE, nsp);

	ScanOpen(&cs, nsp, "config_levels");
	{
		AttrNumber	a_name = ColumnNumber(cs.rel, "level_name"),
					a_parent = ColumnNumber(cs.rel, "parent_level"),
					a_key = ColumnNumber(cs.rel, "scope_context_key");

		cap = 8;
		s->levels = palloc0(sizeof(CfgLevel) * cap);
		while (ScanNext(&cs))
		{
			CFG_GROW(s->levels, s->nlevels, cap, CfgLevel);
			s->levels[s->nlevels].name = RowText(&cs, a_name);
			s->levels[s->nlevels].parent = RowText(&cs, a_parent);
			s->levels[s->nlevels].scope_key = RowText(&cs, a_key);
			s->nlevels++;
		}
	}
	ScanClose(&cs);

	ScanOpen(&cs, nsp, "merge_strategies");
	{
		AttrNumber	a_name = ColumnNumber(cs.rel, "strategy_name"),
					a_builtin = ColumnNumber(cs.rel, "is_builtin"),
					a_impl = ColumnNumber(cs.rel, "implementation_function");

		cap = 8;
		s->strategies = palloc0(sizeof(CfgStrategy) * cap);
		while (ScanNext(&cs))
		{
			CfgStrategy *st;
			char	   *impl;
			ErrorSaveContext escontext = {T_ErrorSaveContext};
			Datum		fn;

			CFG_GROW(s->strategies, s->nstrategies, cap, CfgStrategy);
			st = &s->strategies[s->nstrategies++];
			st->name = RowText(&cs, a_name);
			if (RowBool(&cs, a_builtin) && ConfigMergeKindFromName(st->name, &st->kind))
				continue;
			st->kind = CONFIG_MERGE_CUSTOM;
			/* a dropped function breaks only the resolutions that use the strategy */
			st->flinfo.fn_oid = InvalidOid;
			impl = RowText(&cs, a_impl);
			if (impl != NULL &&
				DirectInputFunctionCallSafe(regprocedurein, psprintf("%s(jsonb, jsonb, jsonb)", impl),
											InvalidOid, -1, (Node *) &escontext, &fn))
				fmgr_info_cxt(DatumGetObjectId(fn), &st->flinfo, cxt);
		}
	}
	ScanClose(&cs);

	ScanOpen(&cs, nsp, "config_types");
	{
		AttrNumber	a_name = ColumnNumber(cs.rel, "type_name"),
					a_strategy = ColumnNumber(cs.rel, "merge_strategy"),
					a_default = ColumnNumber(cs.rel, "default_value"),
					a_tier = ColumnNumber(cs.rel, "supports_tier_entitlements"),
					a_keys = ColumnNumber(cs.rel, "array_keys");

		cap = 8;
		s->types = palloc0(sizeof(CfgType) * cap);
		while (ScanNext(&cs))
		{
			CfgType    *t;

			CFG_GROW(s->types, s->ntypes, cap, CfgType);
			t = &s->types[s->ntypes++];
			t->name = RowText(&cs, a_name);
			t->strategy = ConfigFindStrategy(s, RowText(&cs, a_strategy));
			t->default_value = RowJsonb(&cs, a_default);
			t->supports_tier = RowBool(&cs, a_tier);
			if (!cs.slot->tts_isnull[a_keys - 1])
			{
				Datum	   *elems;
				bool	   *enulls;
				int			nk;

				deconstruct_array_builtin(DatumGetArrayTypeP(cs.slot->tts_values[a_keys - 1]), TEXTOID,
										  &elems, &enulls, &nk);
				t->array_keys = palloc(sizeof(char *) * (nk + 1));
				for (int k = 0; k < nk; k++)
					t->array_keys[k] = enulls[k] ? pstrdup("") : TextDatumGetCString(elems[k]);
				t->n_array_keys = nk;
			}
		}
	}
	ScanClose(&cs);

	ScanOpen(&cs, nsp, "inheritance_rules");
	{
		AttrNumber	a_parent = ColumnNumber(cs.rel, "parent_level"),
					a_child = ColumnNumber(cs.rel, "child_level"),
					a_type = ColumnNumber(cs.rel, "config_type"),
					a_enabled = ColumnNumber(cs.rel, "is_inheritance_enabled"),
					a_active = ColumnNumber(cs.rel, "is_active"),
					a_from = ColumnNumber(cs.rel, "effective_from"),
					a_to = ColumnNumber(cs.rel, "effective_to"),
					a_custom = ColumnNumber(cs.rel, "custom_merge_strategy"),
					a_conflict = ColumnNumber(cs.rel, "conflict_resolution"),
					a_cond = ColumnNumber(cs.rel, "condition_expression");

		cap = 32;
		s->rules = palloc0(sizeof(CfgRule) * cap);
		while (ScanNext(&cs))
		{
			CfgRule    *ru;
			char	   *custom = RowText(&cs, a_custom);

			CFG_GROW(s->rules, s->nrules, cap, CfgRule);
			ru = &s->rules[s->nrules++];
			ru->parent = RowText(&cs, a_parent);
			ru->child = RowText(&cs, a_child);
			ru->type = RowText(&cs, a_type);
			ru->enabled = RowBool(&cs, a_enabled);
			ru->period = RowPeriod(&cs, a_from, a_to, RowBool(&cs, a_active));
			ru->custom = custom ? ConfigFindStrategy(s, custom) : NULL;
			ru->conflict = RowText(&cs, a_conflict);
			ru->condition = RowJsonb(&cs, a_cond);
		}
	}
	ScanClose(&cs);

	/* a mapping counts as active only while its tier is active too */
	ScanOpen(&cs, nsp, "tier_definitions");
	{
		AttrNumber	a_name = ColumnNumber(cs.rel, "tier_name"),
					a_active = ColumnNumber(cs.rel, "is_active");

		cap = 8;
		tier_names = palloc(sizeof(char *) * cap);
		tier_active = palloc(sizeof(bool) * cap);
		while (ScanNext(&cs))
		{
			if (ntiers == cap)
			{
				cap *= 2;
				tier_names = repalloc(tier_names, sizeof(char *) * cap);
				tier_active = repalloc(tier_active, sizeof(bool) * cap);
			}
			tier_names[ntiers] = RowText(&cs, a_name);
			tier_active[ntiers++] = RowBool(&cs, a_active);
		}
	}
	ScanClose(&cs);

	ScanOpen(&cs, nsp, "tier_feature_mappings");
	{
		AttrNumber	a_tier = ColumnNumber(cs.rel, "tier_name"),
					a_type = ColumnNumber(cs.rel, "config_type"),
					a_value = ColumnNumber(cs.rel, "feature_value"),
					a_active = ColumnNumber(cs.rel, "is_active"),
					a_from = ColumnNumber(cs.rel, "effective_from"),
					a_to = ColumnNumber(cs.rel, "effective_to"),
					a_cond = ColumnNumber(cs.rel, "condition_expression");

		cap = 16;
		s->tiermaps = palloc0(sizeof(CfgTierMap) * cap);
		while (ScanNext(&cs))
		{
			CfgTierMap *m;
			bool		active = false;

			CFG_GROW(s->tiermaps, s->ntiermaps, cap, CfgTierMap);
			m = &s->tiermaps[s->ntiermaps++];
			m->tier = RowText(&cs, a_tier);
			m->type = RowText(&cs, a_type);
			m->value = RowJsonb(&cs, a_value);
			for (int i = 0; i < ntiers; i++)
				if (strcmp(tier_names[i], m->tier) == 0)
					active = tier_active[i];
			m->tier_active = RowBool(&cs, a_active) && active;
			m->period = RowPeriod(&cs, a_from, a_to, m->tier_active);
			m->condition = RowJsonb(&cs, a_cond);
		}
	}
	ScanClose(&cs);
	if (s->ntiermaps > 1)
		qsort(s->tiermaps, s->ntiermaps, sizeof(CfgTierMap), TierMapOrder);

	MemoryContextSwitchTo(old);
	return s;
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

