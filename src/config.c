/*
 * config.c: the hierarchical configuration resolver (seed 004).
 *
 * A value of a config type is resolved for a level and scope by layering, from the bottom:
 * the type's default value, the unscoped levels (global), the tier entitlement named by the
 * context's tier_name, then each scoped level down to the requested one (tenant, user group,
 * user, API key). A level takes part only while an enabled, active inheritance rule in its
 * effective period (and whose condition holds) links it to its parent; each layer is merged
 * with the strategy of that rule or of the type.
 *
 * Each backend keeps two caches. The snapshot holds the small tables (levels, strategies,
 * types, rules, tiers, tier mappings); the result cache holds resolved values by (type,
 * level, scope, context) and the time window in which every effective period involved stays
 * unchanged. A statement trigger on every configuration table registers a relcache
 * invalidation of an empty signal table; PostgreSQL delivers it to every backend when the
 * writing transaction commits (locally at the end of the statement, never after a rollback),
 * and the callback below marks the caches stale. Loads read the latest committed data (like
 * the catalog caches), so a load can never cache data older than an invalidation received.
 */
#include "config.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/sinval.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#define CFG_BUCKETS 4096
#define CFG_MAX_ENTRIES 16384

/* A cached resolution */
typedef struct CfgEntry
{
	struct CfgEntry *next;
	uint32		hash;
	int			keylen;
	TimestampTz from;			/* the value holds for transaction times in [from, until) */
	TimestampTz until;
	Jsonb	   *value;			/* NULL: resolves to SQL NULL */
	char		key[FLEXIBLE_ARRAY_MEMBER];
} CfgEntry;

/* One explained layer */
typedef struct CfgStep
{
	const char *source;
	const char *level;
	const char *scope;
	const char *strategy;
	Jsonb	   *contributed;
	Jsonb	   *result;
	const char *note;
} CfgStep;

typedef struct CfgResolution
{
	Jsonb	   *value;
	TimestampTz from;
	TimestampTz until;
	List	   *steps;			/* of CfgStep, only when explaining */
	bool		explain;
} CfgResolution;

static MemoryContext ConfigContext = NULL;
static MemoryContext SnapshotContext = NULL;
static MemoryContext ResultContext = NULL;
static CfgSnapshot *CurrentCfg = NULL;
static CfgEntry *Buckets[CFG_BUCKETS];
static int	NEntries = 0;
static uint64 Generation = 1;	/* bumped by every relevant invalidation */
static uint64 MetaGeneration = 1;	/* bumped when a table of the snapshot changes */
static uint64 SnapshotGeneration = 0;
static uint64 ResultGeneration = 0;
static int64 StatHits = 0;
static int64 StatMisses = 0;
static int64 StatLoads = 0;

static Oid	SignalMetaOid = InvalidOid;
static Oid	SignalStoreOid = InvalidOid;

/*
 * Relcache callback: a signal from the triggers (or a full reset) makes the caches stale. A
 * change to the store only drops results; any other configuration change also drops the snapshot.
 */
static void
ConfigRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == SignalMetaOid || !OidIsValid(SignalMetaOid))
	{
		Generation++;
		MetaGeneration++;
	}
	else if (relid == SignalStoreOid)
		Generation++;
}

/* Creates the memory contexts and registers the callback, once per backend */
static void
ConfigInitOnce(void)
{
	if (ConfigContext != NULL)
		return;
	ConfigContext = AllocSetContextCreate(CacheMemoryContext, "aigw config",
										  ALLOCSET_DEFAULT_SIZES);
	SnapshotContext = AllocSetContextCreate(ConfigContext, "aigw config snapshot",
											ALLOCSET_DEFAULT_SIZES);
	ResultContext = AllocSetContextCreate(ConfigContext, "aigw config results",
										  ALLOCSET_DEFAULT_SIZES);
	CacheRegisterRelcacheCallback(ConfigRelcacheCallback, (Datum) 0);
}

/* Drops every cached result */
static void
ResultsReset(void)
{
	MemoryContextReset(ResultContext);
	memset(Buckets, 0, sizeof(Buckets));
	NEntries = 0;
}

/* Narrows [from, until) to the part of time around now in which t is not crossed */
static void
WindowAdd(TimestampTz now, TimestampTz t, TimestampTz *from, TimestampTz *until)
{
	if (TIMESTAMP_NOT_FINITE(t))
		return;
	if (t <= now && t > *from)
		*from = t;
	if (t > now && t < *until)
		*until = t;
}

/* True when a period is in effect at now; narrows the window by its bounds */
static bool
PeriodInEffect(CfgPeriod *p, TimestampTz now, CfgResolution *res)
{
	WindowAdd(now, p->from, &res->from, &res->until);
	WindowAdd(now, p->to, &res->from, &res->until);
	return p->active && p->from <= now && now < p->to;
}

/* Finds a level of the snapshot by name */
static CfgLevel *
FindLevel(CfgSnapshot *s, const char *name)
{
	for (int i = 0; i < s->nlevels; i++)
		if (strcmp(s->levels[i].name, name) == 0)
			return &s->levels[i];
	return NULL;
}

/* The inheritance rule linking parent to child for a type, in effect now, or NULL */
static CfgRule *
RuleInEffect(CfgSnapshot *s, const char *type, const char *parent, const char *child,
			 Jsonb *context, TimestampTz now, CfgResolution *res)
{
	for (int i = 0; i < s->nrules; i++)
	{
		CfgRule    *ru = &s->rules[i];

		if (strcmp(ru->type, type) != 0 || strcmp(ru->parent, parent) != 0 ||
			strcmp(ru->child, child) != 0)
			continue;
		if (!PeriodInEffect(&ru->period, now, res) || !ru->enabled)
			return NULL;
		if (ru->condition && !ConditionEvaluate(&ru->condition->root, context))
			return NULL;
		return ru;
	}
	return NULL;
}

/* Adds an explained step */
static void
Explain(CfgResolution *res, const char *source, const char *level, const char *scope,
		const char *strategy, Jsonb *contributed, Jsonb *result, const char *note)
{
	CfgStep    *st;

	if (!res->explain)
		return;
	st = palloc(sizeof(CfgStep));
	st->source = source;
	st->level = level;
	st->scope = scope;
	st->strategy = strategy;
	st->contributed = contributed;
	st->result = result;
	st->note = note;
	res->steps = lappend(res->steps, st);
}

/* Merges a layer over the accumulated value with a strategy and a conflict resolution */
static Jsonb *
MergeLayer(CfgType *t, Jsonb *acc, Jsonb *layer, CfgStrategy *st, const char *conflict,
		   Jsonb *context)
{
	ConfigMergeKind kind = st ? st->kind : CONFIG_MERGE_OVERRIDE;
	Jsonb	   *parent = acc;
	Jsonb	   *child = layer;

	if (acc == NULL)
		return layer;
	if (conflict && strcmp(conflict, "parent_wins") == 0)
	{
		parent = layer;
		child = acc;
	}
	else if (conflict && strcmp(conflict, "merge") == 0 && kind == CONFIG_MERGE_OVERRIDE)
		kind = CONFIG_MERGE_DEEP;
	if (kind == CONFIG_MERGE_CUSTOM)
	{
		LOCAL_FCINFO(fcinfo, 3);
		Datum		d;

		if (!OidIsValid(st->flinfo.fn_oid))
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
							errmsg("the function of merge strategy \"%s\" no longer exists", st->name)));

		InitFunctionCallInfoData(*fcinfo, &st->flinfo, 3, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = JsonbPGetDatum(parent);
		fcinfo->args[0].isnull = false;
		fcinfo->args[1].value = JsonbPGetDatum(child);
		fcinfo->args[1].isnull = false;
		fcinfo->args[2].value = JsonbPGetDatum(context);
		fcinfo->args[2].isnull = false;
		d = FunctionCallInvoke(fcinfo);
		if (fcinfo->isnull)
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							errmsg("custom merge strategy \"%s\" returned NULL for config type \"%s\"",
								   st->name, t->name)));
		return DatumGetJsonbPCopy(d);
	}
	return ConfigMerge(parent, child, kind, t->array_keys, t->n_array_keys);
}

/* The scope id a context gives a level, or NULL */
static char *
ContextScope(Jsonb *context, const char *key)
{
	JsonbValue	v;

	if (key == NULL || !JsonContainerIsObject(&context->root) ||
		getKeyJsonValueFromContainer(&context->root, key, strlen(key), &v) == NULL)
		return NULL;
	if (v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	if (v.type == jbvNumeric)
		return numeric_normalize(v.val.numeric);
	return NULL;
}

/* True when row a is preferred over row b: tier-specific, then newer version, then later start */
static bool
RowBetter(CfgRow *a, CfgRow *b)
{
	if ((a->tier != NULL) != (b->tier != NULL))
		return a->tier != NULL;
	if (a->version != b->version)
		return a->version > b->version;
	if (a->period.from != b->period.from)
		return a->period.from > b->period.from;
	return a->created > b->created;
}

/* Picks the row that applies at (level, scope) now, or NULL */
static CfgRow *
PickRow(CfgRow *rows, int nrows, const char *level, const char *scope, const char *tier,
		Jsonb *context, TimestampTz now, CfgResolution *res)
{
	CfgRow	   *best = NULL;

	for (int i = 0; i < nrows; i++)
	{
		CfgRow	   *r = &rows[i];

		if (strcmp(r->level, level) != 0 || (r->scope == NULL) != (scope == NULL) ||
			(scope && strcmp(r->scope, scope) != 0))
			continue;
		if (!PeriodInEffect(&r->period, now, res))
			continue;
		if (r->tier && (tier == NULL || strcmp(r->tier, tier) != 0))
			continue;
		if (r->condition && !ConditionEvaluate(&r->condition->root, context))
			continue;
		if (best == NULL || RowBetter(r, best))
			best = r;
	}
	return best;
}

/* Applies the tier entitlement layer of the context's tier, if any */
static Jsonb *
ApplyTier(CfgSnapshot *s, CfgType *t, Jsonb *acc, const char *tier, Jsonb *context,
		  TimestampTz now, CfgResolution *res)
{
	if (tier == NULL)
		return acc;
	if (!t->supports_tier)
	{
		Explain(res, "tier", NULL, tier, NULL, NULL, acc, "config type does not support tier entitlements");
		return acc;
	}
	for (int i = 0; i < s->ntiermaps; i++)
	{
		CfgTierMap *m = &s->tiermaps[i];

		if (strcmp(m->tier, tier) != 0 || strcmp(m->type, t->name) != 0)
			continue;
		if (!PeriodInEffect(&m->period, now, res))
			continue;
		if (m->condition && !ConditionEvaluate(&m->condition->root, context))
			continue;
		acc = MergeLayer(t, acc, m->value, t->strategy, NULL, context);
		Explain(res, "tier", NULL, tier, t->strategy ? t->strategy->name : NULL, m->value, acc, NULL);
		return acc;
	}
	Explain(res, "tier", NULL, tier, NULL, NULL, acc, "no entitlement of this tier in effect");
	return acc;
}

/* Resolves a config type at a level and scope for a context */
static void
Resolve(CfgSnapshot *s, const char *type, const char *level, const char *scope_id,
		Jsonb *context, CfgResolution *res)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	CfgType    *t = NULL;
	CfgLevel   *target;
	CfgLevel  **path;
	CfgRule   **edge;
	char	  **scopes;
	int			depth = 0;
	const char *stop_note = NULL;
	CfgLevel   *stop_level = NULL;
	CfgRow	   *rows = NULL;
	int			nrows = 0;
	int			npairs = 0;
	char	   *tier = ContextScope(context, "tier_name");
	bool		tier_done = false;
	Jsonb	   *acc = NULL;

	for (int i = 0; i < s->ntypes; i++)
		if (strcmp(s->types[i].name, type) == 0)
			t = &s->types[i];
	if (t == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("unknown config type \"%s\"", type)));
	target = FindLevel(s, level);
	if (target == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("unknown config level \"%s\"", level)));

	/* the inheritance path, from the target level up */
	path = palloc(sizeof(CfgLevel *) * (s->nlevels + 1));
	edge = palloc0(sizeof(CfgRule *) * (s->nlevels + 1));
	path[depth++] = target;
	while (path[depth - 1]->parent != NULL && depth <= s->nlevels)
	{
		CfgLevel   *child = path[depth - 1];
		CfgLevel   *parent = FindLevel(s, child->parent);
		CfgRule    *ru;

		if (parent == NULL)
			break;
		ru = RuleInEffect(s, type, parent->name, child->name, context, now, res);
		if (ru == NULL)
		{
			stop_level = parent;
			stop_note = psprintf("not inherited by %s: no enabled, active inheritance rule in effect",
								 child->name);
			break;
		}
		edge[depth - 1] = ru;
		path[depth++] = parent;
	}

	/* scope ids along the path, and the rows stored at them */
	scopes = palloc0(sizeof(char *) * (depth + 1));
	for (int i = 0; i < depth; i++)
	{
		CfgLevel   *l = path[i];

		if (l->scope_key == NULL)
			scopes[i] = NULL;
		else if (l == target && scope_id != NULL)
			scopes[i] = pstrdup(scope_id);
		else
			scopes[i] = ContextScope(context, l->scope_key);
		if (l->scope_key == NULL || scopes[i] != NULL)
			npairs++;
	}
	if (npairs > 0)
	{
		char	  **pl = palloc(sizeof(char *) * (npairs + 1));
		char	  **ps = palloc(sizeof(char *) * (npairs + 1));
		int			k = 0;

		for (int i = 0; i < depth; i++)
			if (path[i]->scope_key == NULL || scopes[i] != NULL)
			{
				pl[k] = path[i]->name;
				ps[k] = scopes[i];
				k++;
			}
		rows = ConfigFetchRows(type, pl, ps, npairs, &nrows);
	}

	if (t->default_value)
	{
		acc = t->default_value;
		Explain(res, "type_default", NULL, NULL, NULL, acc, acc, NULL);
	}
	if (stop_level)
		Explain(res, "level", stop_level->name, NULL, NULL, NULL, acc, stop_note);

	/* layers from the top of the path down */
	for (int i = depth - 1; i >= 0; i--)
	{
		CfgLevel   *l = path[i];
		CfgRule    *ru = edge[i];
		CfgStrategy *st = (ru && ru->custom) ? ru->custom : t->strategy;
		CfgRow	   *row;

		if (l->scope_key != NULL && !tier_done)
		{
			acc = ApplyTier(s, t, acc, tier, context, now, res);
			tier_done = true;
		}
		if (l->scope_key != NULL && scopes[i] == NULL)
		{
			Explain(res, "level", l->name, NULL, NULL, NULL, acc,
					psprintf("no scope id: context has no \"%s\"", l->scope_key));
			continue;
		}
		row = PickRow(rows, nrows, l->name, scopes[i], tier, context, now, res);
		if (row == NULL)
		{
			Explain(res, "level", l->name, scopes[i], NULL, NULL, acc, "no config in effect");
			continue;
		}
		acc = MergeLayer(t, acc, row->value, st, ru ? ru->conflict : NULL, context);
		Explain(res, "level", l->name, scopes[i], st ? st->name : NULL, row->value, acc,
				(ru && strcmp(ru->conflict, "child_wins") != 0) ? psprintf("conflict resolution: %s", ru->conflict) : NULL);
	}
	if (!tier_done)
		acc = ApplyTier(s, t, acc, tier, context, now, res);
	res->value = acc;
}

/* Reloads the snapshot when stale and returns it */
static CfgSnapshot *
EnsureSnapshot(void)
{
	if (CurrentCfg == NULL || SnapshotGeneration != MetaGeneration)
	{
		uint64		gen = MetaGeneration;
		CfgSnapshot *s;

		MemoryContextReset(SnapshotContext);
		CurrentCfg = NULL;
		s = ConfigLoadSnapshot(SnapshotContext, &SignalMetaOid, &SignalStoreOid);
		StatLoads++;
		CurrentCfg = s;
		/* an invalidation received while loading leaves the snapshot stale for the next call */
		SnapshotGeneration = gen;
	}
	return CurrentCfg;
}

/* Builds the result-cache key of a resolution */
static char *
BuildKey(text *type, text *level, text *scope, Jsonb *context, int *keylen)
{
	int			tl = VARSIZE_ANY_EXHDR(type);
	int			ll = VARSIZE_ANY_EXHDR(level);
	int			sl = scope ? VARSIZE_ANY_EXHDR(scope) : -1;
	int			cl = VARSIZE(context) - VARHDRSZ;
	int			len = 3 * sizeof(int) + tl + ll + (sl > 0 ? sl : 0) + cl;
	char	   *key = palloc(len);
	char	   *p = key;

	memcpy(p, &tl, sizeof(int));
	p += sizeof(int);
	memcpy(p, VARDATA_ANY(type), tl);
	p += tl;
	memcpy(p, &ll, sizeof(int));
	p += sizeof(int);
	memcpy(p, VARDATA_ANY(level), ll);
	p += ll;
	memcpy(p, &sl, sizeof(int));
	p += sizeof(int);
	if (sl > 0)
	{
		memcpy(p, VARDATA_ANY(scope), sl);
		p += sl;
	}
	memcpy(p, VARDATA(context), cl);
	*keylen = len;
	return key;
}

/* Reads the arguments shared by resolve_config and explain_config */
static void
GetArgs(FunctionCallInfo fcinfo, text **type, text **level, text **scope, Jsonb **context)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("config type and level must not be NULL")));
	*type = PG_GETARG_TEXT_PP(0);
	*level = PG_GETARG_TEXT_PP(1);
	*scope = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
	if (PG_NARGS() < 4 || PG_ARGISNULL(3))
		*context = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	else
		*context = PG_GETARG_JSONB_P(3);
	if (!JB_ROOT_IS_OBJECT(*context) || JB_ROOT_IS_SCALAR(*context))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("config context must be a JSON object")));
}

/* Runs a full resolution with SPI, with or without explanation */
static void
ResolveCold(text *type, text *level, text *scope, Jsonb *context, CfgResolution *res)
{
	MemoryContext caller = CurrentMemoryContext;
	CfgSnapshot *s;

	res->from = DT_NOBEGIN;
	res->until = DT_NOEND;
	res->value = NULL;
	res->steps = NIL;
	s = EnsureSnapshot();
	MemoryContextSwitchTo(caller);
	Resolve(s, text_to_cstring(type), text_to_cstring(level),
			scope ? text_to_cstring(scope) : NULL, context, res);
}

/*
 * Resolves through the result cache: a hit costs a hash probe; a miss resolves and caches the
 * value unless an invalidation arrived meanwhile. Returns NULL when nothing applies.
 */
Jsonb *
ConfigResolveCached(text *type, text *level, text *scope, Jsonb *context)
{
	int			keylen;
	char	   *key;
	uint32		hash;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	CfgEntry   *e;
	CfgResolution res;
	uint64		gen;

	ConfigInitOnce();
	AcceptInvalidationMessages();
	if (ResultGeneration != Generation)
	{
		ResultsReset();
		ResultGeneration = Generation;
	}
	key = BuildKey(type, level, scope, context, &keylen);
	hash = hash_bytes((unsigned char *) key, keylen);
	for (e = Buckets[hash % CFG_BUCKETS]; e; e = e->next)
		if (e->hash == hash && e->keylen == keylen && memcmp(e->key, key, keylen) == 0 &&
			e->from <= now && now < e->until)
		{
			StatHits++;
			pfree(key);
			if (e->value == NULL)
				return NULL;
			return (Jsonb *) pg_detoast_datum_copy((struct varlena *) e->value);
		}

	StatMisses++;
	gen = Generation;
	res.explain = false;
	ResolveCold(type, level, scope, context, &res);
	if (gen == Generation)
	{
		MemoryContext old;

		if (NEntries >= CFG_MAX_ENTRIES)
			ResultsReset();
		old = MemoryContextSwitchTo(ResultContext);
		e = palloc(offsetof(CfgEntry, key) + keylen);
		e->hash = hash;
		e->keylen = keylen;
		memcpy(e->key, key, keylen);
		e->from = res.from;
		e->until = res.until;
		e->value = res.value ? DatumGetJsonbPCopy(JsonbPGetDatum(res.value)) : NULL;
		e->next = Buckets[hash % CFG_BUCKETS];
		Buckets[hash % CFG_BUCKETS] = e;
		NEntries++;
		MemoryContextSwitchTo(old);
	}
	pfree(key);
	return res.value;
}

PG_FUNCTION_INFO_V1(aigw_resolve_config);

/* SQL: resolve_config(config_type, level, scope_id, context) returns the resolved value */
Datum
aigw_resolve_config(PG_FUNCTION_ARGS)
{
	text	   *type,
			   *level,
			   *scope;
	Jsonb	   *context;
	Jsonb	   *value;

	GetArgs(fcinfo, &type, &level, &scope, &context);
	value = ConfigResolveCached(type, level, scope, context);
	if (value == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(value);
}

PG_FUNCTION_INFO_V1(aigw_explain_config);

/* SQL: explain_config(...) returns one row per layer: what it contributed and the result so far */
Datum
aigw_explain_config(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *type,
			   *level,
			   *scope;
	Jsonb	   *context;
	CfgResolution res;
	ListCell   *lc;
	int			step = 0;

	GetArgs(fcinfo, &type, &level, &scope, &context);
	ConfigInitOnce();
	AcceptInvalidationMessages();
	InitMaterializedSRF(fcinfo, 0);
	res.explain = true;
	ResolveCold(type, level, scope, context, &res);
	foreach(lc, res.steps)
	{
		CfgStep    *st = lfirst(lc);
		Datum		values[8];
		bool		nulls[8] = {0};

		values[0] = Int32GetDatum(++step);
		values[1] = CStringGetTextDatum(st->source);
		nulls[2] = st->level == NULL;
		values[2] = st->level ? CStringGetTextDatum(st->level) : (Datum) 0;
		nulls[3] = st->scope == NULL;
		values[3] = st->scope ? CStringGetTextDatum(st->scope) : (Datum) 0;
		nulls[4] = st->strategy == NULL;
		values[4] = st->strategy ? CStringGetTextDatum(st->strategy) : (Datum) 0;
		nulls[5] = st->contributed == NULL;
		values[5] = JsonbPGetDatum(st->contributed);
		nulls[6] = st->result == NULL;
		values[6] = JsonbPGetDatum(st->result);
		nulls[7] = st->note == NULL;
		values[7] = st->note ? CStringGetTextDatum(st->note) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(aigw_config_cache_invalidate);

/*
 * Statement trigger on the configuration tables: registers a relcache invalidation of the signal
 * table named by its argument ("meta" or "store"). PostgreSQL applies it locally at the end of
 * the statement, sends it to every backend at commit, and forgets it on rollback.
 */
Datum
aigw_config_cache_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *signal;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("config_cache_invalidate must be called as a trigger")));
	signal = (trigdata->tg_trigger->tgnargs > 0 && strcmp(trigdata->tg_trigger->tgargs[0], "store") == 0)
		? CFG_SIGNAL_STORE : CFG_SIGNAL_META;
	relid = get_relname_relid(signal, get_namespace_oid("aigw", false));
	if (!OidIsValid(relid))
		elog(ERROR, "aigw config: signal table aigw.%s is missing", signal);
	CacheInvalidateRelcacheByRelid(relid);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(aigw_config_cache_stats);

/* SQL: config_cache_stats() reports this backend's resolver cache */
Datum
aigw_config_cache_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "config_cache_stats must return a composite type");
	AcceptInvalidationMessages();
	values[0] = Int64GetDatum(ResultGeneration == Generation ? NEntries : 0);
	values[1] = Int64GetDatum(StatHits);
	values[2] = Int64GetDatum(StatMisses);
	values[3] = Int64GetDatum(StatLoads);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
