/*
 * requests.c: reading OpenAI-shaped requests from SQL.
 */
#include "aigw.h"
#include "pricing.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

/* The container of array element v when it is an object, else NULL */
static JsonbContainer *
ObjectOf(JsonbValue *v)
{
	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

/* Appends v (not a JSON null) as ->> renders it */
static void
AppendAsText(StringInfo out, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			appendBinaryStringInfo(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v->val.numeric))));
			break;
		case jbvBool:
			appendStringInfoString(out, v->val.boolean ? "true" : "false");
			break;
		case jbvBinary:
			(void) JsonbToCString(out, v->val.binary.data, v->val.binary.len);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

/* The text of message m's content: the string, or its parts' "text" joined by spaces */
static text *
ContentText(JsonbContainer *m)
{
	JsonbValue	buf;
	JsonbValue *content = PricingField(m, "content", &buf);
	JsonbContainer *parts = PricingFieldArray(m, "content");
	StringInfoData out;
	bool		any = false;

	if (content != NULL && content->type == jbvString)
		return cstring_to_text_with_len(content->val.string.val, content->val.string.len);
	if (parts == NULL)
		return NULL;
	initStringInfo(&out);
	for (uint32 i = 0; i < JsonContainerSize(parts); i++)
	{
		JsonbValue	tbuf;
		JsonbValue *txt = PricingField(ObjectOf(getIthJsonbValueFromContainer(parts, i)), "text", &tbuf);

		if (txt == NULL)		/* no "text", or a JSON null: adds nothing */
			continue;
		if (any)
			appendStringInfoChar(&out, ' ');
		AppendAsText(&out, txt);
		any = true;
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

	msgs = PricingFieldArray(&req->root, "messages");
	if (msgs == NULL)
		PG_RETURN_NULL();
	for (int i = (int) JsonContainerSize(msgs) - 1; i >= 0; i--)
	{
		JsonbContainer *m = ObjectOf(getIthJsonbValueFromContainer(msgs, (uint32) i));
		JsonbValue	buf;
		JsonbValue *role = PricingField(m, "role", &buf);

		if (role == NULL || role->type != jbvString || role->val.string.len != 4 ||
			memcmp(role->val.string.val, "user", 4) != 0)
			continue;
		result = ContentText(m);
		break;
	}
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}
