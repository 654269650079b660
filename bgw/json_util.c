/*
 * json_util.c: small jsonb readers and a JSON string writer for the workers.
 */
#include "aigw.h"
#include "worker.h"

#include "common/jsonapi.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

/* Looks up a top-level key; false when absent or not an object */
static bool
GetKey(Jsonb *jb, const char *key, JsonbValue *out)
{
	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return false;
	return getKeyJsonValueFromContainer(&jb->root, key, strlen(key), out) != NULL;
}

/* Text of a string, number or boolean member; NULL when absent or null */
char *
AigwJsonbGetText(Jsonb *jb, const char *key)
{
	JsonbValue	v;

	if (!GetKey(jb, key, &v))
		return NULL;
	switch (v.type)
	{
		case jbvString:
			return pnstrdup(v.val.string.val, v.val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
		case jbvBool:
			return pstrdup(v.val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

/* Boolean member, or dflt */
bool
AigwJsonbGetBool(Jsonb *jb, const char *key, bool dflt)
{
	JsonbValue	v;

	if (!GetKey(jb, key, &v))
		return dflt;
	if (v.type == jbvBool)
		return v.val.boolean;
	if (v.type == jbvString)
		return strncmp(v.val.string.val, "true", v.val.string.len) == 0 && v.val.string.len == 4;
	return dflt;
}

/* Integer member (numbers and numeric strings), or dflt */
int64
AigwJsonbGetInt(Jsonb *jb, const char *key, int64 dflt)
{
	JsonbValue	v;

	if (!GetKey(jb, key, &v))
		return dflt;
	if (v.type == jbvNumeric)
		return DatumGetInt64(DirectFunctionCall1(numeric_int8,
												 DirectFunctionCall2(numeric_round,
																	 NumericGetDatum(v.val.numeric),
																	 Int32GetDatum(0))));
	if (v.type == jbvString)
	{
		char	   *s = pnstrdup(v.val.string.val, v.val.string.len);
		char	   *end;
		long long	n = strtoll(s, &end, 10);

		if (end != s && *end == '\0')
			return (int64) n;
	}
	return dflt;
}

/* Object or array member as a Jsonb of its own (copied), or NULL */
Jsonb *
AigwJsonbGetObject(Jsonb *jb, const char *key)
{
	JsonbValue	v;

	if (!GetKey(jb, key, &v))
		return NULL;
	if (v.type != jbvBinary)
		return NULL;
	return JsonbValueToJsonb(&v);
}

/* Appends s as a JSON string literal */
void
AigwAppendJsonString(StringInfo buf, const char *s)
{
	escape_json(buf, s ? s : "");
}
