/*
 * config_merge.c: merge strategies and condition expressions of the configuration system.
 *
 * Merges work on jsonb containers and push the result through a JsonbParseState, so nothing is
 * re-parsed from text. Conditions are checked with the same code that evaluates them, so a
 * condition accepted at write time can never fail at resolution time.
 */
#include "config.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

/* What a merge needs besides the two values */
typedef struct MergeState
{
	ConfigMergeKind kind;
	char	  **array_keys;
	int			n_array_keys;
	StringInfoData path;		/* dotted path of the key being merged */
} MergeState;

static void PushMerged(JsonbParseState **st, JsonbIteratorToken seq, JsonbValue *p,
					   JsonbValue *c, MergeState *ms);

/* Maps a built-in strategy name to its kind; false for any other name */
bool
ConfigMergeKindFromName(const char *name, ConfigMergeKind *kind)
{
	if (strcmp(name, "override") == 0)
		*kind = CONFIG_MERGE_OVERRIDE;
	else if (strcmp(name, "deep_merge") == 0)
		*kind = CONFIG_MERGE_DEEP;
	else if (strcmp(name, "array_append") == 0)
		*kind = CONFIG_MERGE_ARRAY_APPEND;
	else if (strcmp(name, "array_merge") == 0)
		*kind = CONFIG_MERGE_ARRAY_MERGE;
	else
		return false;
	return true;
}

/* True when two jsonb values (scalars or containers) are equal */
bool
JsonbValueEquals(JsonbValue *a, JsonbValue *b)
{
	if (a->type == jbvBinary || b->type == jbvBinary)
	{
		if (a->type != jbvBinary || b->type != jbvBinary)
			return false;
		return compareJsonbContainers(a->val.binary.data, b->val.binary.data) == 0;
	}
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetBool(DirectFunctionCall2(numeric_eq,
													NumericGetDatum(a->val.numeric),
													NumericGetDatum(b->val.numeric)));
		default:
			return false;
	}
}

/* True when v is a jsonb object (not an array, not a scalar) */
static bool
IsObject(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

/* True when v is a jsonb array (not a wrapped scalar) */
static bool
IsArray(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}

/* True when the key at the current merge path is one whose arrays are combined */
static bool
IsArrayKey(MergeState *ms)
{
	if (ms->kind != CONFIG_MERGE_ARRAY_APPEND && ms->kind != CONFIG_MERGE_ARRAY_MERGE)
		return false;
	if (ms->path.len == 0)
		return true;			/* the whole value is an array */
	for (int i = 0; i < ms->n_array_keys; i++)
		if (strcmp(ms->array_keys[i], ms->path.data) == 0)
			return true;
	return false;
}

/* Pushes the elements of parent then child; array_merge keeps only the first of equal elements */
static JsonbValue *
PushArrays(JsonbParseState **st, JsonbContainer *pc, JsonbContainer *cc, bool dedup)
{
	JsonbContainer *parts[2] = {pc, cc};
	JsonbValue *seen = NULL;
	int			nseen = 0;

	if (dedup)
		seen = palloc(sizeof(JsonbValue) * (JsonContainerSize(pc) + JsonContainerSize(cc) + 1));
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (int p = 0; p < 2; p++)
	{
		JsonbIterator *it = JsonbIteratorInit(parts[p]);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			bool		dup = false;

			if (tok != WJB_ELEM)
				continue;
			for (int i = 0; dedup && i < nseen && !dup; i++)
				dup = JsonbValueEquals(&seen[i], &v);
			if (dup)
				continue;
			if (dedup)
				seen[nseen++] = v;
			pushJsonbValue(st, WJB_ELEM, &v);
		}
	}
	return pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/* Pushes the union of two objects' keys, merging the values of keys present in both */
static JsonbValue *
PushObjects(JsonbParseState **st, JsonbContainer *pc, JsonbContainer *cc, MergeState *ms)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	int			base = ms->path.len;

	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(pc);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		JsonbValue	cvbuf;
		JsonbValue *cv;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		pushJsonbValue(st, WJB_KEY, &k);
		cv = getKeyJsonValueFromContainer(cc, k.val.string.val, k.val.string.len, &cvbuf);
		if (cv == NULL)
		{
			pushJsonbValue(st, WJB_VALUE, &v);
			continue;
		}
		if (base > 0)
			appendStringInfoChar(&ms->path, '.');
		appendBinaryStringInfo(&ms->path, k.val.string.val, k.val.string.len);
		PushMerged(st, WJB_VALUE, &v, cv, ms);
		ms->path.len = base;
		ms->path.data[base] = '\0';
	}
	it = JsonbIteratorInit(cc);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		JsonbValue	pvbuf;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		if (getKeyJsonValueFromContainer(pc, k.val.string.val, k.val.string.len, &pvbuf) != NULL)
			continue;
		pushJsonbValue(st, WJB_KEY, &k);
		pushJsonbValue(st, WJB_VALUE, &v);
	}
	return pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* Pushes child merged over parent: objects recursively, declared arrays combined, else child */
static void
PushMerged(JsonbParseState **st, JsonbIteratorToken seq, JsonbValue *p, JsonbValue *c,
		   MergeState *ms)
{
	if (IsObject(p) && IsObject(c))
		PushObjects(st, p->val.binary.data, c->val.binary.data, ms);
	else if (IsArray(p) && IsArray(c) && IsArrayKey(ms))
		PushArrays(st, p->val.binary.data, c->val.binary.data,
				   ms->kind == CONFIG_MERGE_ARRAY_MERGE);
	else
		pushJsonbValue(st, seq, c);
}

/* Merges child over parent with a built-in strategy; NULL sides yield the other side */
Jsonb *
ConfigMerge(Jsonb *parent, Jsonb *child, ConfigMergeKind kind, char **array_keys, int n_array_keys)
{
	JsonbValue	p,
				c;
	JsonbParseState *st = NULL;
	JsonbValue *res;
	MergeState	ms;

	if (parent == NULL)
		return child;
	if (child == NULL)
		return parent;
	Assert(kind != CONFIG_MERGE_CUSTOM);
	if (kind == CONFIG_MERGE_OVERRIDE)
		return child;
	p.type = jbvBinary;
	p.val.binary.data = &parent->root;
	p.val.binary.len = VARSIZE(parent) - VARHDRSZ;
	c.type = jbvBinary;
	c.val.binary.data = &child->root;
	c.val.binary.len = VARSIZE(child) - VARHDRSZ;
	ms.kind = kind;
	ms.array_keys = array_keys;
	ms.n_array_keys = n_array_keys;
	initStringInfo(&ms.path);
	if (IsObject(&p) && IsObject(&c))
		res = PushObjects(&st, p.val.binary.data, c.val.binary.data, &ms);
	else if (IsArray(&p) && IsArray(&c) && IsArrayKey(&ms))
		res = PushArrays(&st, p.val.binary.data, c.val.binary.data,
						 kind == CONFIG_MERGE_ARRAY_MERGE);
	else
		return child;
	pfree(ms.path.data);
	return JsonbValueToJsonb(res);
}

PG_FUNCTION_INFO_V1(aigw_merge_config);

/* SQL: merge_config(parent, child, strategy, array_keys) with a built-in strategy */
Datum
aigw_merge_config(PG_FUNCTION_ARGS)
{
	Jsonb	   *parent = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	Jsonb	   *child = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	char	   *name;
	ConfigMergeKind kind;
	Datum	   *keys = NULL;
	bool	   *nulls = NULL;
	int			nkeys = 0;
	char	  **array_keys = NULL;
	Jsonb	   *res;

	if (PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("merge strategy must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!ConfigMergeKindFromName(name, &kind))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("unknown built-in merge strategy \"%s\"", name),
						errhint("Built-in strategies are override, deep_merge, array_append and array_merge.")));
	if (!PG_ARGISNULL(3))
	{
		deconstruct_array_builtin(PG_GETARG_ARRAYTYPE_P(3), TEXTOID, &keys, &nulls, &nkeys);
		array_keys = palloc(sizeof(char *) * (nkeys + 1));
		for (int i = 0; i < nkeys; i++)
			array_keys[i] = nulls[i] ? "" : TextDatumGetCString(keys[i]);
	}
	res = ConfigMerge(parent, child, kind, array_keys, nkeys);
	if (res == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(res);
}

/* Finds the value at a dotted path of the context; false when any step is missing */
bool
JsonbContextPath(Jsonb *context, const char *path, JsonbValue *out)
{
	JsonbContainer *cur = &context->root;
	const char *seg = path;

	for (;;)
	{
		const char *dot = strchr(seg, '.');
		int			len = dot ? (int) (dot - seg) : (int) strlen(seg);

		if (!JsonContainerIsObject(cur) ||
			getKeyJsonValueFromContainer(cur, seg, len, out) == NULL)
			return false;
		if (dot == NULL)
			return true;
		if (out->type != jbvBinary)
			return false;
		cur = out->val.binary.data;
		seg = dot + 1;
	}
}

/* Raises the error of a malformed condition */
static void
ConditionError(const char *path, const char *reason)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("malformed condition at %s: %s", path, reason),
					errhint("A condition is {\"field\": f, \"operator\": op, \"value\": v} with op one of "
							"equals, in, not_in, greater_than, less_than, exists, or {\"all\": [...]} / {\"any\": [...]}.")));
}

/* Looks up a key of a condition object */
static JsonbValue *
CondKey(JsonbContainer *cond, const char *key, JsonbValue *buf)
{
	return getKeyJsonValueFromContainer(cond, key, strlen(key), buf);
}

/*
 * Checks a condition and, when context is not NULL, evaluates it. Every branch is checked even
 * where evaluation could stop early, so validation and evaluation accept exactly the same input.
 */
static bool
ConditionRun(JsonbContainer *cond, Jsonb *context, const char *path)
{
	JsonbValue	buf,
				fbuf,
				obuf,
				vbuf,
				ctxv;
	JsonbValue *all,
			   *any,
			   *field,
			   *op,
			   *value;
	bool		has_ctx;
	char	   *fname;
	char	   *opname;

	if (!JsonContainerIsObject(cond))
		ConditionError(path, "a condition must be a JSON object");
	all = CondKey(cond, "all", &buf);
	any = all ? NULL : CondKey(cond, "any", &buf);
	if (all || any)
	{
		JsonbValue *list = all ? all : any;
		bool		result = all != NULL;
		int			n;

		if (JsonContainerSize(cond) != 1)
			ConditionError(path, "\"all\" and \"any\" take no sibling keys");
		if (!IsArray(list) || (n = JsonContainerSize(list->val.binary.data)) == 0)
			ConditionError(path, all ? "\"all\" must be a non-empty array of conditions"
						   : "\"any\" must be a non-empty array of conditions");
		for (int i = 0; i < n; i++)
		{
			JsonbValue *elem = getIthJsonbValueFromContainer(list->val.binary.data, i);
			char	   *sub = psprintf("%s.%s[%d]", path, all ? "all" : "any", i);
			bool		r;

			if (elem->type != jbvBinary)
				ConditionError(sub, "a condition must be a JSON object");
			r = ConditionRun(elem->val.binary.data, context, sub);
			result = all ? (result && r) : (result || r);
		}
		return result;
	}

	field = CondKey(cond, "field", &fbuf);
	op = CondKey(cond, "operator", &obuf);
	value = CondKey(cond, "value", &vbuf);
	if (field == NULL || field->type != jbvString || field->val.string.len == 0)
		ConditionError(path, "\"field\" must be a non-empty string");
	if (op == NULL || op->type != jbvString)
		ConditionError(path, "\"operator\" must be a string");
	if (JsonContainerSize(cond) != (value ? 3 : 2))
		ConditionError(path, "only \"field\", \"operator\" and \"value\" are allowed");
	fname = pnstrdup(field->val.string.val, field->val.string.len);
	opname = pnstrdup(op->val.string.val, op->val.string.len);

	if (strcmp(opname, "exists") == 0)
	{
		if (value)
			ConditionError(path, "operator \"exists\" takes no \"value\"");
	}
	else if (strcmp(opname, "equals") == 0)
	{
		if (!value)
			ConditionError(path, "operator \"equals\" needs a \"value\"");
	}
	else if (strcmp(opname, "in") == 0 || strcmp(opname, "not_in") == 0)
	{
		if (!value || !IsArray(value))
			ConditionError(path, psprintf("operator \"%s\" needs an array \"value\"", opname));
	}
	else if (strcmp(opname, "greater_than") == 0 || strcmp(opname, "less_than") == 0)
	{
		if (!value || value->type != jbvNumeric)
			ConditionError(path, psprintf("operator \"%s\" needs a numeric \"value\"", opname));
	}
	else
		ConditionError(path, psprintf("unknown operator \"%s\"", opname));

	if (context == NULL)
		return false;
	has_ctx = JsonbContextPath(context, fname, &ctxv);
	if (strcmp(opname, "exists") == 0)
		return has_ctx;
	if (!has_ctx)
		return false;
	if (strcmp(opname, "equals") == 0)
		return JsonbValueEquals(&ctxv, value);
	if (strcmp(opname, "in") == 0 || strcmp(opname, "not_in") == 0)
	{
		JsonbContainer *arr = value->val.binary.data;
		int			n = JsonContainerSize(arr);
		bool		found = false;

		for (int i = 0; i < n && !found; i++)
			found = JsonbValueEquals(&ctxv, getIthJsonbValueFromContainer(arr, i));
		return strcmp(opname, "in") == 0 ? found : !found;
	}
	if (ctxv.type != jbvNumeric)
		return false;			/* a non-numeric context value is neither greater nor less */
	{
		int			cmp = DatumGetInt32(DirectFunctionCall2(numeric_cmp,
															NumericGetDatum(ctxv.val.numeric),
															NumericGetDatum(value->val.numeric)));

		return strcmp(opname, "greater_than") == 0 ? cmp > 0 : cmp < 0;
	}
}

/* Raises 22023 unless cond is a well-formed condition */
void
ConditionValidate(JsonbContainer *cond, const char *path)
{
	(void) ConditionRun(cond, NULL, path);
}

/* Evaluates a condition against a context (an empty context when NULL) */
bool
ConditionEvaluate(JsonbContainer *cond, Jsonb *context)
{
	if (context != NULL && !JsonContainerIsObject(&context->root))
		context = NULL;			/* no fields: every leaf is false */
	return ConditionRun(cond, context, "$");
}

PG_FUNCTION_INFO_V1(aigw_validate_condition);

/* SQL: validate_condition(condition) raises 22023 on a malformed condition */
Datum
aigw_validate_condition(PG_FUNCTION_ARGS)
{
	Jsonb	   *cond = PG_GETARG_JSONB_P(0);

	if (JB_ROOT_IS_SCALAR(cond) || !JB_ROOT_IS_OBJECT(cond))
		ConditionError("$", "a condition must be a JSON object");
	ConditionValidate(&cond->root, "$");
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(aigw_evaluate_condition);

/* SQL: evaluate_condition(condition, context) */
Datum
aigw_evaluate_condition(PG_FUNCTION_ARGS)
{
	Jsonb	   *cond = PG_GETARG_JSONB_P(0);
	Jsonb	   *context = PG_GETARG_JSONB_P(1);

	if (!JB_ROOT_IS_OBJECT(cond))
		ConditionError("$", "a condition must be a JSON object");
	if (!JB_ROOT_IS_OBJECT(context))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("condition context must be a JSON object")));
	PG_RETURN_BOOL(ConditionEvaluate(&cond->root, context));
}
