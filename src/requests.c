/*
 * requests.c: reading OpenAI-shaped requests from SQL.
 */
#include "aigw.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

/* The value of key in the jsonb object c, or NULL */
static JsonbValue *
ObjectField(JsonbContainer *c, const char *key)
{
	return getKeyJsonValueFromContainer(c, key, strlen(key), NULL);
}

/* The container of v when it is an object (want_object) or an array, else NULL */
static JsonbContainer *
ContainerOf(JsonbValue *v, bool want_object)
{
	if (v == NULL || v->type != jbvBinary)
		return NULL;
	if (want_object ? !JsonContainerIsObject(v->val.binary.data) : !JsonContainerIsArray(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

/* Appends v as ->> renders it; false for a JSON null, which adds nothing */
static bool
AppendAsText(StringInfo out, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return false;
		case jbvString:
			appendBinaryStringInfo(out, v->val.string.val, v->val.string.len);
			return true;
		case jbvNumeric:
			appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v->val.numeric))));
			return true;
		case jbvBool:
			appendStringInfoString(out, v->val.boolean ? "true" : "false");
			return true;
		case jbvBinary:
			(void) JsonbToCString(out, v->val.binary.data, v->val.binary.len);
			return true;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return false;
}

/* The text of a message's content: the string, or its parts' "text" joined by spaces */
static text *
ContentText(JsonbValue *content)
{
	JsonbContainer *parts = ContainerOf(content, false);
	StringInfoData out;
	bool		any = false;

	if (content != NULL && content->type == jbvString)
		return cstring_to_text_with_len(content->val.string.val, content->val.string.len);
	if (parts == NULL)
		return NULL;
	initStringInfo(&out);
	for (uint32 i = 0; i < JsonContainerSize(parts); i++)
	{
		JsonbValue *part = getIthJsonbValueFromContainer(parts, i);
		JsonbContainer *obj = ContainerOf(part, true);
		JsonbValue *txt = obj ? ObjectField(obj, "text") : NULL;
		int			mark = out.len;

		if (txt == NULL)
			continue;
		if (any)
			appendStringInfoChar(&out, ' ');
		if (AppendAsText(&out, txt))
			any = true;
		else
			out.len = mark;		/* a null text adds nothing, not even the space */
	}
	return any ? cstring_to_text_with_len(out.data, out.len) : NULL;
}

PG_FUNCTION_INFO_V1(aigw_last_user_text);

/*
 * aigw.last_user_text(request jsonb): the text of the request's last message
 * whose role is "user" (its content when a string, else the "text" of its
 * content parts joined by spaces), or NULL.
 */
Datum
aigw_last_user_text(PG_FUNCTION_ARGS)
{
	Jsonb	   *req = PG_GETARG_JSONB_P(0);
	JsonbContainer *msgs;
	text	   *result = NULL;

	msgs = JB_ROOT_IS_OBJECT(req) ? ContainerOf(ObjectField(&req->root, "messages"), false) : NULL;
	if (msgs == NULL)
		PG_RETURN_NULL();
	for (int i = (int) JsonContainerSize(msgs) - 1; i >= 0; i--)
	{
		JsonbContainer *m = ContainerOf(getIthJsonbValueFromContainer(msgs, (uint32) i), true);
		JsonbValue *role = m ? ObjectField(m, "role") : NULL;

		if (role == NULL || role->type != jbvString || role->val.string.len != 4 ||
			memcmp(role->val.string.val, "user", 4) != 0)
			continue;
		result = ContentText(ObjectField(m, "content"));
		break;
	}
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}
