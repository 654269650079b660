/*
 * jsonschema.c: the subset of JSON Schema that config types use to validate values on write:
 * type, properties, required, additionalProperties, enum, minimum, maximum, minLength, maxLength,
 * items, minItems, maxItems (plus the annotations title, description, default, $schema, $comment).
 *
 * A schema is checked when its config type is written, so an unknown keyword (a typo such as
 * "requried") is an error there rather than a rule that silently never applies.
 */
#include "config.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

static const char *const SchemaTypes[] = {
	"object", "array", "string", "number", "integer", "boolean", "null", NULL
};

static const char *const SchemaKeywords[] = {
	"type", "properties", "required", "additionalProperties", "enum", "minimum", "maximum",
	"minLength", "maxLength", "items", "minItems", "maxItems",
	"title", "description", "default", "$schema", "$comment", NULL
};

/* Raises the error of a malformed schema */
static void
SchemaError(const char *path, const char *reason)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid JSON schema at %s: %s", path, reason)));
}

/* True when s (of length len) is one of the NULL-terminated words */
static bool
InList(const char *s, int len, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if ((int) strlen(words[i]) == len && memcmp(words[i], s, len) == 0)
			return true;
	return false;
}

/* Looks up a keyword of a schema object */
static JsonbValue *
Keyword(JsonbContainer *schema, const char *key, JsonbValue *buf)
{
	return getKeyJsonValueFromContainer(schema, key, strlen(key), buf);
}

/* True when a numeric value has no fractional part */
static bool
NumericIsIntegral(Numeric n)
{
	Datum		t = DirectFunctionCall2(numeric_trunc, NumericGetDatum(n), Int32GetDatum(0));

	return DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(n), t));
}

/* True when v is a non-negative integer that fits an int */
static bool
IsCount(JsonbValue *v)
{
	return v->type == jbvNumeric && NumericIsIntegral(v->val.numeric) &&
		DatumGetBool(DirectFunctionCall2(numeric_ge, NumericGetDatum(v->val.numeric),
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) &&
		DatumGetBool(DirectFunctionCall2(numeric_le, NumericGetDatum(v->val.numeric),
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(PG_INT32_MAX))));
}

/* Raises 22023 unless schema is an object built only from the supported keywords */
void
JsonSchemaCheckSchema(JsonbContainer *schema, const char *path)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	if (!JsonContainerIsObject(schema))
		SchemaError(path, "a schema must be a JSON object");
	it = JsonbIteratorInit(schema);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		JsonbIteratorNext(&it, &v, true);
		key = pnstrdup(k.val.string.val, k.val.string.len);
		if (!InList(key, strlen(key), SchemaKeywords))
			SchemaError(path, psprintf("unsupported keyword \"%s\"", key));
		if (strcmp(key, "type") == 0)
		{
			if (v.type == jbvString)
			{
				if (!InList(v.val.string.val, v.val.string.len, SchemaTypes))
					SchemaError(path, psprintf("unknown type \"%.*s\"", v.val.string.len, v.val.string.val));
			}
			else if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data) &&
					 JsonContainerSize(v.val.binary.data) > 0)
			{
				for (int i = 0; i < (int) JsonContainerSize(v.val.binary.data); i++)
				{
					JsonbValue *t = getIthJsonbValueFromContainer(v.val.binary.data, i);

					if (t->type != jbvString || !InList(t->val.string.val, t->val.string.len, SchemaTypes))
						SchemaError(path, "\"type\" lists an unknown type");
				}
			}
			else
				SchemaError(path, "\"type\" must be a type name or a non-empty array of type names");
		}
		else if (strcmp(key, "properties") == 0)
		{
			JsonbIterator *pit;
			JsonbValue	pk,
						pv;

			if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
				SchemaError(path, "\"properties\" must be an object");
			pit = JsonbIteratorInit(v.val.binary.data);
			while ((tok = JsonbIteratorNext(&pit, &pk, true)) != WJB_DONE)
			{
				if (tok != WJB_KEY)
					continue;
				JsonbIteratorNext(&pit, &pv, true);
				if (pv.type != jbvBinary)
					SchemaError(psprintf("%s.properties.%.*s", path, pk.val.string.len, pk.val.string.val),
								"a schema must be a JSON object");
				JsonSchemaCheckSchema(pv.val.binary.data,
									  psprintf("%s.properties.%.*s", path, pk.val.string.len, pk.val.string.val));
			}
		}
		else if (strcmp(key, "required") == 0)
		{
			if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
				SchemaError(path, "\"required\" must be an array of strings");
			for (int i = 0; i < (int) JsonContainerSize(v.val.binary.data); i++)
				if (getIthJsonbValueFromContainer(v.val.binary.data, i)->type != jbvString)
					SchemaError(path, "\"required\" must be an array of strings");
		}
		else if (strcmp(key, "enum") == 0)
		{
			if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data) ||
				JsonContainerSize(v.val.binary.data) == 0)
				SchemaError(path, "\"enum\" must be a non-empty array");
		}
		else if (strcmp(key, "minimum") == 0 || strcmp(key, "maximum") == 0)
		{
			if (v.type != jbvNumeric)
				SchemaError(path, psprintf("\"%s\" must be a number", key));
		}
		else if (strcmp(key, "minLength") == 0 || strcmp(key, "maxLength") == 0 ||
				 strcmp(key, "minItems") == 0 || strcmp(key, "maxItems") == 0)
		{
			if (!IsCount(&v))
				SchemaError(path, psprintf("\"%s\" must be a non-negative integer", key));
		}
		else if (strcmp(key, "items") == 0)
		{
			if (v.type != jbvBinary)
				SchemaError(psprintf("%s.items", path), "a schema must be a JSON object");
			JsonSchemaCheckSchema(v.val.binary.data, psprintf("%s.items", path));
		}
		else if (strcmp(key, "additionalProperties") == 0)
		{
			if (v.type == jbvBinary)
				JsonSchemaCheckSchema(v.val.binary.data, psprintf("%s.additionalProperties", path));
			else if (v.type != jbvBool)
				SchemaError(path, "\"additionalProperties\" must be a boolean or a schema");
		}
		else if (strcmp(key, "title") == 0 || strcmp(key, "description") == 0 ||
				 strcmp(key, "$schema") == 0 || strcmp(key, "$comment") == 0)
		{
			if (v.type != jbvString)
				SchemaError(path, psprintf("\"%s\" must be a string", key));
		}
	}
}

/* The JSON type name of a value, as JSON Schema spells it */
static const char *
ValueTypeName(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvBool:
			return "boolean";
		case jbvString:
			return "string";
		case jbvNumeric:
			return NumericIsIntegral(v->val.numeric) ? "integer" : "number";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "object" : "array";
		default:
			return "unknown";
	}
}

/* True when v has the named JSON Schema type */
static bool
TypeMatches(JsonbValue *v, const char *t, int len)
{
	const char *actual = ValueTypeName(v);

	if (len == 6 && memcmp(t, "number", 6) == 0)
		return v->type == jbvNumeric;
	return (int) strlen(actual) == len && memcmp(actual, t, len) == 0;
}

/* Raises the error of a value that does not match its schema */
static void
ValueError(const char *what, StringInfo path, const char *reason)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("%s is invalid at %s: %s", what, path->data, reason)));
}

/* Compares a numeric value with a numeric keyword */
static int
NumCmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

/* Validates v against schema, reporting the first violation with its path */
static void
ValidateAt(JsonbValue *v, JsonbContainer *schema, StringInfo path, const char *what)
{
	JsonbValue	buf,
				kbuf;
	JsonbValue *kw;
	int			base = path->len;

	if ((kw = Keyword(schema, "type", &buf)) != NULL)
	{
		bool		ok = false;

		if (kw->type == jbvString)
			ok = TypeMatches(v, kw->val.string.val, kw->val.string.len);
		else
			for (int i = 0; !ok && i < (int) JsonContainerSize(kw->val.binary.data); i++)
			{
				JsonbValue *t = getIthJsonbValueFromContainer(kw->val.binary.data, i);

				ok = TypeMatches(v, t->val.string.val, t->val.string.len);
			}
		if (!ok)
		{
			StringInfoData want;

			if (kw->type == jbvString)
				ValueError(what, path, psprintf("expected %.*s, got %s", kw->val.string.len,
												kw->val.string.val, ValueTypeName(v)));
			initStringInfo(&want);
			(void) JsonbToCString(&want, kw->val.binary.data, 0);
			ValueError(what, path, psprintf("expected one of %s, got %s", want.data, ValueTypeName(v)));
		}
	}
	if ((kw = Keyword(schema, "enum", &buf)) != NULL)
	{
		bool		ok = false;
		StringInfoData allowed;

		for (int i = 0; !ok && i < (int) JsonContainerSize(kw->val.binary.data); i++)
			ok = JsonbValueEquals(v, getIthJsonbValueFromContainer(kw->val.binary.data, i));
		if (!ok)
		{
			initStringInfo(&allowed);
			(void) JsonbToCString(&allowed, kw->val.binary.data, 0);
			ValueError(what, path, psprintf("value is not one of %s", allowed.data));
		}
	}
	if (v->type == jbvNumeric)
	{
		if ((kw = Keyword(schema, "minimum", &buf)) != NULL && NumCmp(v->val.numeric, kw->val.numeric) < 0)
			ValueError(what, path, psprintf("%s is less than the minimum %s",
											numeric_normalize(v->val.numeric),
											numeric_normalize(kw->val.numeric)));
		if ((kw = Keyword(schema, "maximum", &buf)) != NULL && NumCmp(v->val.numeric, kw->val.numeric) > 0)
			ValueError(what, path, psprintf("%s is greater than the maximum %s",
											numeric_normalize(v->val.numeric),
											numeric_normalize(kw->val.numeric)));
	}
	if (v->type == jbvString)
	{
		int			chars = pg_mbstrlen_with_len(v->val.string.val, v->val.string.len);

		if ((kw = Keyword(schema, "minLength", &buf)) != NULL &&
			chars < DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(kw->val.numeric))))
			ValueError(what, path, "string is shorter than minLength");
		if ((kw = Keyword(schema, "maxLength", &buf)) != NULL &&
			chars > DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(kw->val.numeric))))
			ValueError(what, path, "string is longer than maxLength");
	}
	if (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
	{
		JsonbContainer *obj = v->val.binary.data;
		JsonbValue	pbuf;
		JsonbValue *props = Keyword(schema, "properties", &pbuf);
		JsonbValue	abuf;
		JsonbValue *addl = Keyword(schema, "additionalProperties", &abuf);
		JsonbIterator *it;
		JsonbValue	k,
					pv;
		JsonbIteratorToken tok;

		if ((kw = Keyword(schema, "required", &buf)) != NULL)
			for (int i = 0; i < (int) JsonContainerSize(kw->val.binary.data); i++)
			{
				JsonbValue *r = getIthJsonbValueFromContainer(kw->val.binary.data, i);

				if (getKeyJsonValueFromContainer(obj, r->val.string.val, r->val.string.len, &kbuf) == NULL)
					ValueError(what, path, psprintf("required property \"%.*s\" is missing",
													r->val.string.len, r->val.string.val));
			}
		it = JsonbIteratorInit(obj);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			JsonbValue	sbuf;
			JsonbValue *sub = NULL;

			if (tok != WJB_KEY)
				continue;
			JsonbIteratorNext(&it, &pv, true);
			if (props)
				sub = getKeyJsonValueFromContainer(props->val.binary.data, k.val.string.val,
												   k.val.string.len, &sbuf);
			appendStringInfo(path, ".%.*s", k.val.string.len, k.val.string.val);
			if (sub)
				ValidateAt(&pv, sub->val.binary.data, path, what);
			else if (addl && addl->type == jbvBool && !addl->val.boolean)
				ValueError(what, path, "property is not allowed");
			else if (addl && addl->type == jbvBinary)
				ValidateAt(&pv, addl->val.binary.data, path, what);
			path->len = base;
			path->data[base] = '\0';
		}
	}
	if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbContainer *arr = v->val.binary.data;
		int			n = JsonContainerSize(arr);

		if ((kw = Keyword(schema, "minItems", &buf)) != NULL &&
			n < DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(kw->val.numeric))))
			ValueError(what, path, psprintf("array has %d items, fewer than minItems", n));
		if ((kw = Keyword(schema, "maxItems", &buf)) != NULL &&
			n > DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(kw->val.numeric))))
			ValueError(what, path, psprintf("array has %d items, more than maxItems", n));
		if ((kw = Keyword(schema, "items", &buf)) != NULL)
			for (int i = 0; i < n; i++)
			{
				JsonbValue *elem = getIthJsonbValueFromContainer(arr, i);

				appendStringInfo(path, "[%d]", i);
				ValidateAt(elem, kw->val.binary.data, path, what);
				path->len = base;
				path->data[base] = '\0';
			}
	}
}

/* Validates a value (a jbvBinary root or a scalar) against a checked schema */
void
JsonSchemaValidate(JsonbValue *value, JsonbContainer *schema, const char *what)
{
	StringInfoData path;
	JsonbValue	scalar;

	if (value->type == jbvBinary && JsonContainerIsScalar(value->val.binary.data))
	{
		JsonbExtractScalar(value->val.binary.data, &scalar);
		value = &scalar;
	}
	initStringInfo(&path);
	appendStringInfoChar(&path, '$');
	ValidateAt(value, schema, &path, what);
	pfree(path.data);
}

PG_FUNCTION_INFO_V1(aigw_json_schema_check_schema);

/* SQL: json_schema_check_schema(schema) */
Datum
aigw_json_schema_check_schema(PG_FUNCTION_ARGS)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);

	JsonSchemaCheckSchema(&schema->root, "$");
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(aigw_json_schema_validate);

/* SQL: json_schema_validate(value, schema, what) */
Datum
aigw_json_schema_validate(PG_FUNCTION_ARGS)
{
	Jsonb	   *value = PG_GETARG_JSONB_P(0);
	Jsonb	   *schema = PG_GETARG_JSONB_P(1);
	char	   *what = text_to_cstring(PG_GETARG_TEXT_PP(2));
	JsonbValue	v;

	JsonSchemaCheckSchema(&schema->root, "$");
	v.type = jbvBinary;
	v.val.binary.data = &value->root;
	v.val.binary.len = VARSIZE(value) - VARHDRSZ;
	JsonSchemaValidate(&v, &schema->root, what);
	PG_RETURN_VOID();
}
