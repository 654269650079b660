/*
 * requests.c: reading OpenAI-shaped requests and the identities that come
 * with them from SQL.
 */
#include "aigw.h"
#include "jsonb_build.h"
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
	appendStringInfoString(out, PricingValueText(v));
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

/* The value under key in object c, a JSON null included; NULL when absent */
static JsonbValue *
RawField(JsonbContainer *c, const char *key, JsonbValue *buf)
{
	return getKeyJsonValueFromContainer(c, key, strlen(key), buf);
}

/* True when v is a JSON string (false when absent) */
static bool
IsString(JsonbValue *v)
{
	return v != NULL && v->type == jbvString;
}

/* True when v is a JSON array (false when absent) */
static bool
IsArray(JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

/* True when v is a JSON number within [lo, hi] (hi < lo: no upper bound) */
static bool
IsNumberWithin(JsonbValue *v, int lo, int hi)
{
	Numeric		n;

	if (v == NULL || v->type != jbvNumeric)
		return false;
	n = v->val.numeric;
	if (PricingNumCmp(n, int64_to_numeric(lo)) < 0)
		return false;
	return hi < lo || PricingNumCmp(n, int64_to_numeric(hi)) <= 0;
}

/* Raises 22023 with message */
static void
InvalidRequest(const char *message)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s", message)));
}

/* The task kinds aigw runs */
static const char *const TaskKinds[] = {
	"chat.completions", "embeddings", "images.generations", "images.edits",
	"videos.generations", "audio.speech"
};

PG_FUNCTION_INFO_V1(aigw_validate_task_request);

/*
 * aigw.validate_task_request(kind text, request jsonb): raises 22023 naming
 * the first problem of a request for a kind: an unknown kind, a request that
 * is not an object, no model, and the fields each kind needs (chat messages,
 * an embeddings or speech input, an image or video prompt); n within 1..16
 * and max_tokens at least 1 when given.
 */
Datum
aigw_validate_task_request(PG_FUNCTION_ARGS)
{
	char	   *kind = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *req;
	JsonbContainer *c;
	JsonbValue	buf;
	JsonbValue *v;
	bool		known = false;

	for (int i = 0; kind != NULL && i < lengthof(TaskKinds); i++)
		known = known || strcmp(kind, TaskKinds[i]) == 0;
	if (!known)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("unsupported task kind \"%s\"", kind ? kind : "<NULL>")));
	if (PG_ARGISNULL(1) || !JB_ROOT_IS_OBJECT(req = PG_GETARG_JSONB_P(1)))
		InvalidRequest("request must be a JSON object");
	c = &req->root;
	v = RawField(c, "model", &buf);
	if (!IsString(v) || v->val.string.len == 0)
		InvalidRequest("request.model is required");
	if (strcmp(kind, "chat.completions") == 0)
	{
		v = RawField(c, "messages", &buf);
		if (!IsArray(v) || JsonContainerSize(v->val.binary.data) == 0)
			InvalidRequest("request.messages must be a non-empty array");
	}
	if (strcmp(kind, "embeddings") == 0)
	{
		v = RawField(c, "input", &buf);
		if (!IsString(v) && !IsArray(v))
			InvalidRequest("request.input must be a string or an array");
	}
	if ((strcmp(kind, "images.generations") == 0 || strcmp(kind, "images.edits") == 0 ||
		 strcmp(kind, "videos.generations") == 0) && !IsString(RawField(c, "prompt", &buf)))
		InvalidRequest("request.prompt is required");
	if (strcmp(kind, "audio.speech") == 0 && !IsString(RawField(c, "input", &buf)))
		InvalidRequest("request.input must be a string");
	v = RawField(c, "n", &buf);
	if (v != NULL && !IsNumberWithin(v, 1, 16))
		InvalidRequest("request.n must be between 1 and 16");
	v = RawField(c, "max_tokens", &buf);
	if (v != NULL && !IsNumberWithin(v, 1, 0))
		InvalidRequest("request.max_tokens must be a positive integer");
	PG_RETURN_VOID();
}

/* The identity fields of aigw.task_identity: camelCase name, snake_case name */
static const char *const IdentityFields[][2] = {
	{"userId", "user_id"}, {"gatewayUserId", "gateway_user_id"}, {"tenantId", "tenant_id"},
	{"tenantKey", "tenant_key"}, {"gatewayTenantId", "gateway_tenant_id"}, {"apiKeyId", "api_key_id"},
	{"userGroupId", "user_group_id"}, {"userGroupKey", "user_group_key"}, {"userSource", "source"},
	{"identityMode", NULL}, {"role", NULL}
};

PG_FUNCTION_INFO_V1(aigw_task_identity);

/*
 * aigw.task_identity(identity jsonb): the camelCase identity the pricing and
 * wallet functions read, from an identity given in either camelCase (HTTP
 * entry, server-main) or snake_case. Each field is the camelCase value, else
 * the snake_case one, as text (->>); fields with neither are left out.
 */
Datum
aigw_task_identity(PG_FUNCTION_ARGS)
{
	JsonbContainer *c = NULL;
	JsonbParseState *st = NULL;
	JsonbValue *res;

	if (!PG_ARGISNULL(0))
	{
		Jsonb	   *identity = PG_GETARG_JSONB_P(0);

		if (JB_ROOT_IS_OBJECT(identity))
			c = &identity->root;
	}
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; c != NULL && i < lengthof(IdentityFields); i++)
	{
		JsonbValue	buf;
		JsonbValue *v = PricingField(c, IdentityFields[i][0], &buf);
		StringInfoData s;

		if (v == NULL && IdentityFields[i][1] != NULL)
			v = PricingField(c, IdentityFields[i][1], &buf);
		if (v == NULL)
			continue;
		initStringInfo(&s);
		AppendAsText(&s, v);
		AigwPushText(&st, IdentityFields[i][0], s.data);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}
