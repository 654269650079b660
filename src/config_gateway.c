/*
 * config_gateway.c: what the gateway itself reads from the configuration resolver on the submit
 * path (docs/configuration.md): the resolver context of a task identity, access_control (allowed
 * and blocked models, 403) and feature_flags (streaming, 403), and gateway_routing for the
 * default routing plan. In C because it runs for every submitted task: a warm check costs three
 * result-cache probes.
 */
#include "config.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#define ERRCODE_AIGW_MODEL_NOT_ALLOWED MAKE_SQLSTATE('A','G','C','4','1')
#define ERRCODE_AIGW_FEATURE_DISABLED MAKE_SQLSTATE('A','G','C','4','2')

/* Context keys of the resolver and the identity keys that give them, first present wins */
static const char *const ContextKeys[][5] = {
	{"tenant_id", "tenant_id", "tenantId", "tenant_key", "tenantKey"},
	{"user_group_id", "user_group_id", "userGroupId", "user_group_key", "userGroupKey"},
	{"user_id", "user_id", "userId", NULL, NULL},
	{"api_key_id", "api_key_id", "apiKeyId", NULL, NULL},
	{"tier_name", "tier_name", "tierName", NULL, NULL},
};
#define N_CONTEXT_KEYS lengthof(ContextKeys)

/* The text of a string or number member of an object, or NULL */
static char *
MemberText(JsonbContainer *obj, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), &buf);

	if (v == NULL)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	return NULL;
}

/* Builds the resolver context of an identity; *level is the most specific level it names */
static Jsonb *
IdentityContext(Jsonb *identity, const char **level)
{
	JsonbParseState *st = NULL;
	char	   *vals[N_CONTEXT_KEYS] = {NULL};
	static const char *const levels[] = {"tenant", "user_group", "user", "api_key"};

	*level = "global";
	if (identity != NULL && JB_ROOT_IS_OBJECT(identity) && !JB_ROOT_IS_SCALAR(identity))
		for (int i = 0; i < (int) N_CONTEXT_KEYS; i++)
			for (int k = 1; k < 5 && vals[i] == NULL && ContextKeys[i][k]; k++)
				vals[i] = MemberText(&identity->root, ContextKeys[i][k]);
	for (int i = 0; i < 4; i++)
		if (vals[i])
			*level = levels[i];

	/* keys in jsonb order (by length, then bytes), as jsonb_build_object would store them */
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < (int) N_CONTEXT_KEYS; i++)
		if (vals[i])
		{
			JsonbValue	k = {.type = jbvString};
			JsonbValue	v = {.type = jbvString};

			k.val.string.val = (char *) ContextKeys[i][0];
			k.val.string.len = strlen(ContextKeys[i][0]);
			v.val.string.val = vals[i];
			v.val.string.len = strlen(vals[i]);
			pushJsonbValue(&st, WJB_KEY, &k);
			pushJsonbValue(&st, WJB_VALUE, &v);
		}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* Resolves one config type for the context at a level */
static Jsonb *
ResolveFor(const char *type, const char *level, Jsonb *context)
{
	return ConfigResolveCached(cstring_to_text(type), cstring_to_text(level), NULL, context);
}

/* True when a JSON array (an object member) holds the string s */
static bool
ArrayHas(Jsonb *obj, const char *key, const char *s, bool *nonempty)
{
	JsonbValue	buf;
	JsonbValue *arr;
	JsonbValue	needle = {.type = jbvString};

	*nonempty = false;
	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj) || JB_ROOT_IS_SCALAR(obj))
		return false;
	arr = getKeyJsonValueFromContainer(&obj->root, key, strlen(key), &buf);
	if (arr == NULL || arr->type != jbvBinary || !JsonContainerIsArray(arr->val.binary.data))
		return false;
	*nonempty = JsonContainerSize(arr->val.binary.data) > 0;
	needle.val.string.val = (char *) s;
	needle.val.string.len = strlen(s);
	return findJsonbValueFromContainer(arr->val.binary.data, JB_FARRAY, &needle) != NULL;
}

/* Raises AGC41 when access_control blocks the model or leaves it out of a non-empty allow list */
static void
CheckModel(Jsonb *access, const char *model, const char *what)
{
	bool		nonempty;

	if (access == NULL || model == NULL)
		return;
	if (ArrayHas(access, "blocked_models", model, &nonempty))
		ereport(ERROR, (errcode(ERRCODE_AIGW_MODEL_NOT_ALLOWED),
						errmsg("%s \"%s\" is blocked for this account (access_control.blocked_models)",
							   what, model)));
	if (!ArrayHas(access, "allowed_models", model, &nonempty) && nonempty)
		ereport(ERROR, (errcode(ERRCODE_AIGW_MODEL_NOT_ALLOWED),
						errmsg("%s \"%s\" is not allowed for this account (access_control.allowed_models)",
							   what, model)));
}

/* True when a request asks for a stream ("stream": true) */
static bool
WantsStream(Jsonb *request)
{
	JsonbValue	buf;
	JsonbValue *v;

	if (request == NULL || !JB_ROOT_IS_OBJECT(request) || JB_ROOT_IS_SCALAR(request))
		return false;
	v = getKeyJsonValueFromContainer(&request->root, "stream", 6, &buf);
	return v && ((v->type == jbvBool && v->val.boolean) ||
				 (v->type == jbvString && v->val.string.len == 4 && memcmp(v->val.string.val, "true", 4) == 0));
}

/* True when a feature flag is present and false */
static bool
FlagOff(Jsonb *flags, const char *name)
{
	JsonbValue	buf;
	JsonbValue *v;

	if (flags == NULL || !JB_ROOT_IS_OBJECT(flags) || JB_ROOT_IS_SCALAR(flags))
		return false;
	v = getKeyJsonValueFromContainer(&flags->root, name, strlen(name), &buf);
	return v && v->type == jbvBool && !v->val.boolean;
}

/* True when a resolved gateway_routing names at least one target */
static bool
HasTargets(Jsonb *routing)
{
	JsonbValue	buf;
	JsonbValue *v;

	if (routing == NULL || !JB_ROOT_IS_OBJECT(routing) || JB_ROOT_IS_SCALAR(routing))
		return false;
	v = getKeyJsonValueFromContainer(&routing->root, "targets", 7, &buf);
	return v && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		JsonContainerSize(v->val.binary.data) > 0;
}

/* Pushes key: jsonb (or null) into an object under construction */
static void
PushJsonb(JsonbParseState **st, const char *key, Jsonb *val)
{
	JsonbValue	k = {.type = jbvString};
	JsonbValue	v;

	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
	if (val == NULL)
	{
		v.type = jbvNull;
		pushJsonbValue(st, WJB_VALUE, &v);
		return;
	}
	v.type = jbvBinary;
	v.val.binary.data = &val->root;
	v.val.binary.len = VARSIZE(val) - VARHDRSZ;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* Appends a limiter rule {metric, limit[, windowSeconds]} when the rate_limits value sets the key */
static void
PushRule(JsonbParseState **st, Jsonb *limits, const char *key, const char *metric, bool windowed)
{
	JsonbValue	buf;
	JsonbValue *v = getKeyJsonValueFromContainer(&limits->root, key, strlen(key), &buf);
	JsonbValue	k = {.type = jbvString};
	JsonbValue	s = {.type = jbvString};

	if (v == NULL || v->type != jbvNumeric)
		return;
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	k.val.string.val = "metric";
	k.val.string.len = 6;
	s.val.string.val = (char *) metric;
	s.val.string.len = strlen(metric);
	pushJsonbValue(st, WJB_KEY, &k);
	pushJsonbValue(st, WJB_VALUE, &s);
	k.val.string.val = "limit";
	k.val.string.len = 5;
	pushJsonbValue(st, WJB_KEY, &k);
	pushJsonbValue(st, WJB_VALUE, v);
	if (windowed)
	{
		JsonbValue	w = {.type = jbvNumeric};

		w.val.numeric = int64_to_numeric(60);
		k.val.string.val = "windowSeconds";
		k.val.string.len = 13;
		pushJsonbValue(st, WJB_KEY, &k);
		pushJsonbValue(st, WJB_VALUE, &w);
	}
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/*
 * The limiter policy ({scopeType, scopeKey, policy: {rules}}) that a resolved rate_limits value
 * sets for the principal (the API key when the identity has one, else the user): its
 * requests_per_minute, tokens_per_minute and concurrency. NULL when it sets none of them.
 */
static Jsonb *
PrincipalRateLimits(Jsonb *limits, Jsonb *ctx)
{
	JsonbParseState *st = NULL;
	JsonbValue	k = {.type = jbvString};
	JsonbValue	v = {.type = jbvString};
	char	   *key;
	const char *scope = "api_key";
	JsonbValue *arr;

	if (limits == NULL || !JB_ROOT_IS_OBJECT(limits) || JB_ROOT_IS_SCALAR(limits))
		return NULL;
	if ((key = MemberText(&ctx->root, "api_key_id")) == NULL)
	{
		scope = "user";
		if ((key = MemberText(&ctx->root, "user_id")) == NULL)
			return NULL;
	}
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	PushRule(&st, limits, "requests_per_minute", "rpm", true);
	PushRule(&st, limits, "tokens_per_minute", "tpm_total", true);
	PushRule(&st, limits, "concurrency", "concurrent", false);
	arr = pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	if (arr->val.array.nElems == 0)
		return NULL;
	st = NULL;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	k.val.string.val = "scopeType";
	k.val.string.len = 9;
	v.val.string.val = (char *) scope;
	v.val.string.len = strlen(scope);
	pushJsonbValue(&st, WJB_KEY, &k);
	pushJsonbValue(&st, WJB_VALUE, &v);
	k.val.string.val = "scopeKey";
	k.val.string.len = 8;
	v.val.string.val = key;
	v.val.string.len = strlen(key);
	pushJsonbValue(&st, WJB_KEY, &k);
	pushJsonbValue(&st, WJB_VALUE, &v);
	k.val.string.val = "policy";
	k.val.string.len = 6;
	pushJsonbValue(&st, WJB_KEY, &k);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	k.val.string.val = "rules";
	k.val.string.len = 5;
	pushJsonbValue(&st, WJB_KEY, &k);
	{
		Jsonb	   *rules = JsonbValueToJsonb(arr);
		JsonbValue	rv = {.type = jbvBinary};

		rv.val.binary.data = &rules->root;
		rv.val.binary.len = VARSIZE(rules) - VARHDRSZ;
		pushJsonbValue(&st, WJB_VALUE, &rv);
	}
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

PG_FUNCTION_INFO_V1(aigw_identity_config_context);

/* SQL: identity_config_context(identity) returns the resolver context of a task identity */
Datum
aigw_identity_config_context(PG_FUNCTION_ARGS)
{
	const char *level;

	PG_RETURN_JSONB_P(IdentityContext(PG_GETARG_JSONB_P(0), &level));
}

PG_FUNCTION_INFO_V1(aigw_request_gateway_config);

/* SQL: request_gateway_config(identity) returns access_control, feature_flags and gateway_routing */
Datum
aigw_request_gateway_config(PG_FUNCTION_ARGS)
{
	const char *level;
	Jsonb	   *ctx = IdentityContext(PG_GETARG_JSONB_P(0), &level);
	JsonbParseState *st = NULL;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushJsonb(&st, "access_control", ResolveFor("access_control", level, ctx));
	PushJsonb(&st, "feature_flags", ResolveFor("feature_flags", level, ctx));
	PushJsonb(&st, "gateway_routing", ResolveFor("gateway_routing", level, ctx));
	PushJsonb(&st, "rate_limits", ResolveFor("rate_limits", level, ctx));
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}

PG_FUNCTION_INFO_V1(aigw_gateway_request_check);

/*
 * SQL: gateway_request_check(kind, request, identity) enforces access_control on the request's
 * model (AGC41) and feature_flags.streaming (AGC42), and returns what the rest of the submit
 * needs, or NULL when nothing: {access_control, gateway_routing} when gateway_routing names
 * targets, and rateLimits, the limiter policy that rate_limits sets for the principal.
 */
Datum
aigw_gateway_request_check(PG_FUNCTION_ARGS)
{
	text	   *kind = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	Jsonb	   *request = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	Jsonb	   *identity = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	const char *level;
	Jsonb	   *ctx = IdentityContext(identity, &level);
	Jsonb	   *access = ResolveFor("access_control", level, ctx);
	Jsonb	   *flags = ResolveFor("feature_flags", level, ctx);
	Jsonb	   *routing = ResolveFor("gateway_routing", level, ctx);
	Jsonb	   *limits = PrincipalRateLimits(ResolveFor("rate_limits", level, ctx), ctx);
	char	   *model = NULL;
	JsonbParseState *st = NULL;

	if (request && JB_ROOT_IS_OBJECT(request) && !JB_ROOT_IS_SCALAR(request))
		model = MemberText(&request->root, "model");
	CheckModel(access, model, "model");
	if (kind && strcmp(text_to_cstring(kind), "chat.completions") == 0 && WantsStream(request) &&
		FlagOff(flags, "streaming"))
		ereport(ERROR, (errcode(ERRCODE_AIGW_FEATURE_DISABLED),
						errmsg("streaming is disabled for this account (feature_flags.streaming)"),
						errhint("send the request without \"stream\": true")));
	if (!HasTargets(routing) && limits == NULL)
		PG_RETURN_NULL();
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (HasTargets(routing))
	{
		PushJsonb(&st, "access_control", access);
		PushJsonb(&st, "gateway_routing", routing);
	}
	if (limits)
		PushJsonb(&st, "rateLimits", limits);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}

PG_FUNCTION_INFO_V1(aigw_check_model_access);

/* SQL: check_model_access(access_control, model, what) raises AGC41 when the model is refused */
Datum
aigw_check_model_access(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(0) && !PG_ARGISNULL(1))
		CheckModel(PG_GETARG_JSONB_P(0), text_to_cstring(PG_GETARG_TEXT_PP(1)),
				   PG_ARGISNULL(2) ? "model" : text_to_cstring(PG_GETARG_TEXT_PP(2)));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(aigw_saved_routing_config);

/* SQL: saved_routing_config(identity, name) returns the routing config of that name resolved for the identity, or NULL */
Datum
aigw_saved_routing_config(PG_FUNCTION_ARGS)
{
	const char *level;
	Jsonb	   *ctx = IdentityContext(PG_GETARG_JSONB_P(0), &level);
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Jsonb	   *saved = ResolveFor("routing_configs", level, ctx);
	JsonbValue	buf;
	JsonbValue *v;

	if (saved == NULL || !JB_ROOT_IS_OBJECT(saved) || JB_ROOT_IS_SCALAR(saved))
		PG_RETURN_NULL();
	v = getKeyJsonValueFromContainer(&saved->root, name, strlen(name), &buf);
	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(JsonbValueToJsonb(v));
}
