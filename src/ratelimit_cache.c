/*
 * ratelimit_cache.c: aigw.ratelimit_requirements, the rules of a request's
 * scopes with their amounts.
 *
 * Finding which rules apply (aigw.ratelimit_rules: a dozen joins over the
 * policy tables, the scopes' own records and the default templates) costs far
 * more than admitting the request, and it runs twice per task. The rules
 * depend only on the scopes and tables, not on the token counts, so each
 * backend keeps them per context (amount fields removed) and adds the amounts
 * on every call. A statement trigger on every table the rules read sends a
 * relcache invalidation, which every backend turns into a reset of this
 * cache, at the end of the writing command in the writing backend and at
 * commit in the others.
 */
#include "aigw.h"
#include "jsonb_build.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define RULES_KEY_LEN 1024
#define RULES_CACHE_MAX 4096
#define NWATCHED 9

typedef struct RulesEntry
{
	char		key[RULES_KEY_LEN];
	Jsonb	   *rules;
} RulesEntry;

/* the context fields that are amounts, not scopes */
static const char *const AmountKeys[] = {
	"inputTokens", "maxTokens", "maxOutputTokens", "requests", "leaseValue"
};

static HTAB *RulesCache = NULL;
static MemoryContext RulesCacheCxt = NULL;
static bool RulesCallbackRegistered = false;
static Oid	RulesWatched[NWATCHED];
static Oid	RulesFunction = InvalidOid;

/* Drops every cached rule set */
static void
RulesCacheReset(void)
{
	if (RulesCacheCxt != NULL)
		MemoryContextReset(RulesCacheCxt);
	RulesCache = NULL;
	RulesFunction = InvalidOid;
}

/* Relcache callback: a table behind the rules (or everything) changed */
static void
RulesCacheInvalidate(Datum arg, Oid relid)
{
	if (RulesCache == NULL)
		return;
	if (relid == InvalidOid)
	{
		RulesCacheReset();
		return;
	}
	for (int i = 0; i < NWATCHED; i++)
		if (RulesWatched[i] == relid)
		{
			RulesCacheReset();
			return;
		}
}

/* Creates the cache and looks up what it watches (once per reset) */
static void
RulesCacheInit(void)
{
	static const char *const tables[NWATCHED] = {
		"gateway_rate_limit_policies", "gateway_tenants", "gateway_user_groups", "gateway_api_keys",
		"integration_platforms", "model_catalog_providers", "platform_models",
		"model_runtime_policy_sets", "base_model_catalog"
	};
	Oid			ns = get_namespace_oid("aigw", false);
	Oid			argtype = JSONBOID;
	List	   *name = list_make2(makeString("aigw"), makeString("ratelimit_rules"));
	HASHCTL		ctl;

	if (!RulesCallbackRegistered)
	{
		CacheRegisterRelcacheCallback(RulesCacheInvalidate, (Datum) 0);
		RulesCallbackRegistered = true;
	}
	if (RulesCacheCxt == NULL)
		RulesCacheCxt = AllocSetContextCreate(TopMemoryContext, "aigw rate-limit rules",
											  ALLOCSET_DEFAULT_SIZES);
	for (int i = 0; i < NWATCHED; i++)
		RulesWatched[i] = get_relname_relid(tables[i], ns);
	RulesFunction = LookupFuncName(name, 1, &argtype, false);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = RULES_KEY_LEN;
	ctl.entrysize = sizeof(RulesEntry);
	ctl.hcxt = RulesCacheCxt;
	RulesCache = hash_create("aigw rate-limit rules", 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* True when key is one of the amount fields */
static bool
IsAmountKey(const char *key, int len)
{
	for (int i = 0; i < lengthof(AmountKeys); i++)
		if ((int) strlen(AmountKeys[i]) == len && memcmp(AmountKeys[i], key, len) == 0)
			return true;
	return false;
}

/* An amount field of the context: a whole number >= 0, or dflt when absent or null */
static int64
ContextAmount(Jsonb *context, const char *key, int64 dflt, bool *present)
{
	JsonbValue	v;
	Datum		d;

	*present = false;
	if (getKeyJsonValueFromContainer(&context->root, key, strlen(key), &v) == NULL || v.type == jbvNull)
		return dflt;
	if (v.type != jbvNumeric)
		goto bad;
	d = NumericGetDatum(v.val.numeric);
	if (numeric_is_nan(v.val.numeric) || numeric_is_inf(v.val.numeric) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, d,
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(0)))) ||
		!DatumGetBool(DirectFunctionCall2(numeric_eq, d,
										  DirectFunctionCall2(numeric_trunc, d, Int32GetDatum(0)))))
		goto bad;
	*present = true;
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, d));
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("context \"%s\" must be a whole number >= 0", key)));
	return 0;					/* keep the compiler quiet */
}

/* The context without its amount fields: what the rules depend on */
static Jsonb *
ScopesOnly(Jsonb *context)
{
	JsonbParseState *st = NULL;
	JsonbIterator *it = JsonbIteratorInit(&context->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbValue *res = NULL;
	bool		skip = false;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			skip = IsAmountKey(v.val.string.val, v.val.string.len);
			if (!skip)
				pushJsonbValue(&st, tok, &v);
		}
		else if (tok == WJB_VALUE)
		{
			if (!skip)
				pushJsonbValue(&st, tok, &v);
		}
		else
			res = pushJsonbValue(&st, tok, NULL);
	}
	return JsonbValueToJsonb(res);
}

/* Integer value of a scalar rule field, or -1 when absent */
static int64
RuleInt(JsonbValue *rule_field)
{
	if (rule_field->type != jbvNumeric)
		return -1;
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(rule_field->val.numeric)));
}

/*
 * The rules with their amounts (the same as the rules function computed them
 * before it was cached): rpm counts requests, tpm_input the prompt, tpm_output
 * maxTokens or the rule's output reserve, tpm_total both, concurrent the lease
 * value, queue_size one slot.
 */
static Jsonb *
AddAmounts(Jsonb *rules, Jsonb *context)
{
	JsonbParseState *st = NULL;
	JsonbIterator *it = JsonbIteratorInit(&rules->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbValue *res = NULL;
	bool		has_requests,
				has_input,
				has_max,
				has_max_out,
				has_lease;
	int64		requests = ContextAmount(context, "requests", 1, &has_requests);
	int64		input = ContextAmount(context, "inputTokens", 0, &has_input);
	int64		max_tokens = ContextAmount(context, "maxTokens", 0, &has_max);
	int64		max_out = ContextAmount(context, "maxOutputTokens", 0, &has_max_out);
	int64		lease = ContextAmount(context, "leaseValue", 1, &has_lease);

	res = pushJsonbValue(&st, JsonbIteratorNext(&it, &v, true), NULL);	/* [ */
	while ((tok = JsonbIteratorNext(&it, &v, true)) == WJB_ELEM)
	{
		JsonbIterator *rit = JsonbIteratorInit(v.val.binary.data);
		JsonbValue	f;
		JsonbIteratorToken rtok;
		char		metric[32] = "";
		int64		reserve = -1;
		int64		output;
		int64		amount;
		bool		skip = false;

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		(void) JsonbIteratorNext(&rit, &f, true);	/* { */
		while ((rtok = JsonbIteratorNext(&rit, &f, true)) != WJB_END_OBJECT && rtok != WJB_DONE)
		{
			if (rtok == WJB_KEY)
			{
				char	   *k = f.val.string.val;
				int			len = f.val.string.len;

				skip = false;
				if (len == 10 && memcmp(k, "outReserve", 10) == 0)
				{
					(void) JsonbIteratorNext(&rit, &f, true);
					reserve = RuleInt(&f);
					skip = true;
					continue;
				}
				if (len == 6 && memcmp(k, "amount", 6) == 0)
				{
					(void) JsonbIteratorNext(&rit, &f, true);
					skip = true;
					continue;
				}
				pushJsonbValue(&st, WJB_KEY, &f);
				if (len == 6 && memcmp(k, "metric", 6) == 0)
				{
					(void) JsonbIteratorNext(&rit, &f, true);
					if (f.type == jbvString)
						snprintf(metric, sizeof(metric), "%.*s", Min(f.val.string.len, 31), f.val.string.val);
					pushJsonbValue(&st, WJB_VALUE, &f);
				}
			}
			else if (rtok == WJB_VALUE && !skip)
				pushJsonbValue(&st, WJB_VALUE, &f);
		}
		/* tpm_output: maxTokens, else the rule's reserve, else maxOutputTokens, else 0 */
		output = has_max ? max_tokens : reserve >= 0 ? reserve : has_max_out ? max_out : 0;
		if (strcmp(metric, "rpm") == 0)
			amount = requests;
		else if (strcmp(metric, "tpm_input") == 0)
			amount = input;
		else if (strcmp(metric, "tpm_output") == 0)
			amount = output;
		else if (strcmp(metric, "tpm_total") == 0)
			amount = input + output;
		else if (strcmp(metric, "concurrent") == 0)
			amount = lease;
		else
			amount = 1;
		AigwPushInt(&st, "amount", amount);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	res = pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	return JsonbValueToJsonb(res);
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_requirements);

/* aigw.ratelimit_requirements(context jsonb): the rules (cached) with this request's amounts */
Datum
aigw_ratelimit_requirements(PG_FUNCTION_ARGS)
{
	Jsonb	   *context;
	Jsonb	   *scopes;
	Jsonb	   *rules;
	char	   *key;
	RulesEntry *entry = NULL;
	bool		found = false;
	bool		dummy;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit context must be a JSON object")));
	context = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(context))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit context must be a JSON object")));
	for (int i = 0; i < lengthof(AmountKeys); i++)
		(void) ContextAmount(context, AmountKeys[i], 0, &dummy);

	scopes = ScopesOnly(context);
	key = JsonbToCString(NULL, &scopes->root, VARSIZE(scopes));
	if (RulesCache == NULL)
		RulesCacheInit();
	if (strlen(key) < RULES_KEY_LEN)
		entry = hash_search(RulesCache, key, HASH_FIND, &found);
	if (found)
		rules = entry->rules;
	else
	{
		Oid			fn = RulesFunction;

		rules = DatumGetJsonbP(OidFunctionCall1(fn, JsonbPGetDatum(scopes)));
		/* an invalidation while computing reset the cache: store nothing this time */
		if (RulesCache != NULL && strlen(key) < RULES_KEY_LEN)
		{
			MemoryContext old;

			if (hash_get_num_entries(RulesCache) >= RULES_CACHE_MAX)
			{
				RulesCacheReset();
				RulesCacheInit();
			}
			entry = hash_search(RulesCache, key, HASH_ENTER, &found);
			old = MemoryContextSwitchTo(RulesCacheCxt);
			entry->rules = (Jsonb *) datumCopy(JsonbPGetDatum(rules), false, -1);
			MemoryContextSwitchTo(old);
		}
	}
	PG_RETURN_JSONB_P(AddAmounts(rules, context));
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_cache_invalidate);

/* Statement trigger: a table behind the rate-limit rules changed; every backend drops its rules */
Datum
aigw_ratelimit_cache_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("aigw.ratelimit_cache_invalidate() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
