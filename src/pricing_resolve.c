/*
 * pricing_resolve.c: the table-backed side of the pricing resolver.
 *
 * The capability filter shared with aigw.pricing_candidates (the router's
 * candidate filter), aigw.estimate_billing, and the calls the task worker
 * makes to price and settle a finished task.
 */
#include "aigw.h"
#include "pricing.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/uuid.h"

/* ---- capabilities a request needs ---- */

/* True when key holds JSON false (a capability the model declares it lacks) */
static bool
IsFalse(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = PricingField(c, key, &buf);

	return v != NULL && v->type == jbvBool && !v->val.boolean;
}

/* True when key holds true or the string "true" */
static bool
IsTrue(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = PricingField(c, key, &buf);

	if (v == NULL)
		return false;
	if (v->type == jbvBool)
		return v->val.boolean;
	return v->type == jbvString && v->val.string.len == 4 &&
		memcmp(v->val.string.val, "true", 4) == 0;
}

/* True when any of the keys is present (and not null) */
static bool
HasAny(JsonbContainer *c, const char *const *keys)
{
	JsonbValue	buf;

	for (; *keys != NULL; keys++)
		if (PricingField(c, *keys, &buf) != NULL)
			return true;
	return false;
}

/* Whether an array holds a string equal to s, or a number equal to n */
static bool
ArrayHas(JsonbContainer *arr, const char *s, Numeric n)
{
	JsonbIterator *it = JsonbIteratorInit(arr);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		found = false;

	while (!found && (tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (s != NULL && v.type == jbvString && strlen(s) == v.val.string.len &&
			memcmp(s, v.val.string.val, v.val.string.len) == 0)
			found = true;
		else if (n != NULL && v.type == jbvNumeric && PricingNumCmp(n, v.val.numeric) == 0)
			found = true;
	}
	return found;
}

/* Whether a declared list (absent: anything goes) admits a text value */
static bool
ListAdmits(JsonbContainer *caps, const char *key, const char *value)
{
	JsonbContainer *arr = PricingFieldArray(caps, key);

	return value == NULL || arr == NULL || ArrayHas(arr, value, NULL);
}

/* Whether chat messages carry an image part */
static bool
HasImageParts(JsonbContainer *req)
{
	JsonbContainer *msgs = PricingFieldArray(req, "messages");
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (msgs == NULL)
		return false;
	it = JsonbIteratorInit(msgs);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbContainer *parts;
		JsonbIterator *pit;
		JsonbValue	pv;

		if (tok != WJB_ELEM || v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			continue;
		parts = PricingFieldArray(v.val.binary.data, "content");
		if (parts == NULL)
			continue;
		pit = JsonbIteratorInit(parts);
		while ((tok = JsonbIteratorNext(&pit, &pv, true)) != WJB_DONE)
		{
			JsonbValue	buf;
			JsonbValue *type;

			if (tok != WJB_ELEM || pv.type != jbvBinary || !JsonContainerIsObject(pv.val.binary.data))
				continue;
			type = PricingField(pv.val.binary.data, "type", &buf);
			if (type != NULL && type->type == jbvString &&
				((type->val.string.len == 9 && memcmp(type->val.string.val, "image_url", 9) == 0) ||
				 (type->val.string.len == 11 && memcmp(type->val.string.val, "input_image", 11) == 0)))
				return true;
		}
	}
	return false;
}

/* First of the keys that is present, as numeric, or NULL */
static Numeric
FirstNumeric(JsonbContainer *c, const char *const *keys)
{
	for (; *keys != NULL; keys++)
	{
		Numeric		n = PricingFieldNumeric(c, *keys);

		if (n != NULL)
			return n;
	}
	return NULL;
}

/*
 * Whether a model's effective capabilities cover what a request needs.
 * A capability the model does not declare does not exclude it.
 */
bool
AigwCapabilitiesAllow(Jsonb *capabilities, const char *modelType, Jsonb *request)
{
	static const char *const maxTokenKeys[] = {"max_completion_tokens", "max_tokens", "max_output_tokens", NULL};
	static const char *const durationKeys[] = {"duration", "seconds", NULL};
	static const char *const editKeys[] = {"image", "images", "mask", NULL};
	static const char *const videoRefKeys[] = {"reference_video", "video", "video_url", NULL};
	static const char *const imageRefKeys[] = {"reference_image", "image", "image_url", "first_frame_image",
	"input_reference", NULL};
	JsonbContainer *caps = capabilities != NULL && JB_ROOT_IS_OBJECT(capabilities) ? &capabilities->root : NULL;
	JsonbContainer *req = PricingRootObject(request, "request");
	JsonbContainer *tools;
	bool		chat = strcmp(modelType, "chat") == 0;
	bool		image = strcmp(modelType, "image") == 0;
	bool		video = strcmp(modelType, "video") == 0;

	if (caps == NULL || req == NULL)
		return true;
	if (IsTrue(req, "stream") && IsFalse(caps, "stream"))
		return false;
	tools = PricingFieldArray(req, "tools");
	if (tools != NULL && JsonContainerSize(tools) > 0 && IsFalse(caps, "tools"))
		return false;
	if (chat)
	{
		JsonbContainer *modalities = PricingFieldArray(caps, "inputModalities");
		Numeric		maxOut = PricingFieldNumeric(caps, "maxOutputTokens");
		Numeric		asked = FirstNumeric(req, maxTokenKeys);

		if (modalities != NULL && !ArrayHas(modalities, "image", NULL) && HasImageParts(req))
			return false;
		if (maxOut != NULL && asked != NULL && PricingNumCmp(asked, maxOut) > 0)
			return false;
	}
	if (image)
	{
		char	   *mode = PricingFieldText(req, "mode");

		if (mode == NULL || (strcmp(mode, "generate") != 0 && strcmp(mode, "edit") != 0))
			mode = HasAny(req, editKeys) ? "edit" : "generate";
		if (!ListAdmits(caps, "sizes", PricingFieldText(req, "size")) ||
			!ListAdmits(caps, "qualities", PricingFieldText(req, "quality")) ||
			!ListAdmits(caps, "modes", mode))
			return false;
	}
	if (image || video)
	{
		Numeric		n = PricingFieldNumeric(req, "n");
		Numeric		maxCount = PricingFieldNumeric(caps, "maxCount");

		if (n != NULL && maxCount != NULL && PricingNumCmp(n, maxCount) > 0)
			return false;
	}
	if (video)
	{
		Numeric		seconds = FirstNumeric(req, durationKeys);
		JsonbContainer *durations = PricingFieldArray(caps, "durations");
		JsonbValue	buf;
		JsonbValue *audio = PricingField(req, "audio", &buf);
		bool		wantsAudio;

		if (seconds != NULL && durations != NULL && !ArrayHas(durations, NULL, seconds))
			return false;
		if (!ListAdmits(caps, "resolutions", PricingFieldText(req, "resolution")))
			return false;
		if (audio != NULL)
			wantsAudio = IsTrue(req, "audio");
		else if (PricingField(req, "generate_audio", &buf) != NULL)
			wantsAudio = IsTrue(req, "generate_audio");
		else
			wantsAudio = IsTrue(req, "with_audio");
		if (wantsAudio && IsFalse(caps, "audio"))
			return false;
		if (HasAny(req, videoRefKeys) && IsFalse(caps, "referenceVideo"))
			return false;
		if (HasAny(req, imageRefKeys) && IsFalse(caps, "referenceImage"))
			return false;
	}
	return true;
}

/* ---- table-backed calls for the task worker ---- */

/* Runs a one-row SQL call with (uuid, jsonb, jsonb) arguments; returns its jsonb result */
static Jsonb *
CallTaskFunction(const char *sql, int nargs, Datum taskId, Jsonb *a, Jsonb *b)
{
	Oid			types[3] = {UUIDOID, JSONBOID, JSONBOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	Jsonb	   *result = NULL;
	bool		isnull;
	Datum		d;
	MemoryContext callerCxt = CurrentMemoryContext;

	values[0] = taskId;
	values[1] = a != NULL ? JsonbPGetDatum(a) : (Datum) 0;
	values[2] = b != NULL ? JsonbPGetDatum(b) : (Datum) 0;
	if (a == NULL)
		nulls[1] = 'n';
	if (b == NULL)
		nulls[2] = 'n';
	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "aigw pricing: \"%s\" returned no row", sql);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext spiCxt = MemoryContextSwitchTo(callerCxt);

		result = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(spiCxt);
	}
	SPI_finish();
	return result;
}

/* Final billing of a task from unified usage, without side effects */
Jsonb *
AigwPriceTaskUsage(Datum taskId, Jsonb *usage)
{
	return CallTaskFunction("SELECT aigw.price_task_usage($1, $2)", 2, taskId, usage, NULL);
}

/* Settles a succeeded task: billing, wallet settlement, settlement outbox event */
Jsonb *
AigwSettleTask(Datum taskId, Jsonb *usage, Jsonb *resultRef)
{
	return CallTaskFunction("SELECT aigw.settle_task($1, $2, $3)", 3, taskId, usage, resultRef);
}

/* Releases a failed or cancelled task's wallet hold */
void
AigwReleaseTask(Datum taskId, const char *reason)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		values[2];

	values[0] = taskId;
	values[1] = CStringGetTextDatum(reason != NULL ? reason : "failed");
	SPI_connect();
	if (SPI_execute_with_args("SELECT aigw.release_task($1, $2)", 2, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "aigw pricing: release_task failed");
	SPI_finish();
}

/* ---- estimated billing of a request for an identity ---- */

static SPIPlanPtr CandidatePlan = NULL;
static SPIPlanPtr GroupPlan = NULL;

/* Prepares a plan once per backend; saved plans are replanned after DDL */
static SPIPlanPtr
KeptPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "aigw pricing: SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*slot = plan;
	}
	return *slot;
}

/* Column of the current SPI result row, copied out of SPI memory (0 when NULL) */
static Datum
SpiColumn(int col, bool *isnull)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], desc, col, isnull);
	Form_pg_attribute att = TupleDescAttr(desc, col - 1);

	if (*isnull)
		return (Datum) 0;
	return SPI_datumTransfer(d, att->attbyval, att->attlen);
}

/* Whether an identity names anything a user group can be resolved from */
static bool
IdentityNamesPrincipal(JsonbContainer *id)
{
	static const char *const keys[] = {"gatewayUserId", "userId", "gatewayTenantId", "tenantKey", "tenantId",
	"apiKeyId", "userGroupId", "organizationId", NULL};

	return HasAny(id, keys);
}

/* Pushes key: text datum (JSON null when isnull) */
static void
PushTextDatum(JsonbParseState **st, const char *key, Datum d, bool isnull)
{
	PricingPushText(st, key, isnull ? NULL : TextDatumGetCString(d));
}

/* Pushes key: uuid datum as a string (JSON null when isnull) */
static void
PushUuidDatum(JsonbParseState **st, const char *key, Datum d, bool isnull)
{
	PricingPushText(st, key, isnull ? NULL : DatumGetCString(DirectFunctionCall1(uuid_out, d)));
}

/* Pushes key: jsonb datum (JSON null when isnull) */
static void
PushJsonbDatum(JsonbParseState **st, const char *key, Jsonb *j)
{
	JsonbValue	v;

	PricingPushKey(st, key);
	if (j == NULL)
	{
		v.type = jbvNull;
		pushJsonbValue(st, WJB_VALUE, &v);
		return;
	}
	v.type = jbvBinary;
	v.val.binary.data = &j->root;
	v.val.binary.len = VARSIZE(j) - VARHDRSZ;
	pushJsonbValue(st, WJB_VALUE, &v);
}

PG_FUNCTION_INFO_V1(aigw_estimate_billing);

/*
 * aigw.estimate_billing(request, identity): the user group of the identity,
 * the first candidate platform model (the router's filter and order), its
 * effective capabilities and price, then the priced estimate.
 */
Datum
aigw_estimate_billing(PG_FUNCTION_ARGS)
{
	Jsonb	   *request = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	Jsonb	   *identity = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	JsonbContainer *id;
	char	   *model;
	Oid			groupTypes[1] = {JSONBOID};
	Oid			candTypes[3] = {JSONBOID, JSONBOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	Datum		groupId = 0, groupKey = 0, policyDatum = 0, pmId = 0, platformId = 0, platformKey = 0;
	Datum		modelName = 0, modelType = 0, caps = 0, config = 0, version = 0, factor = 0, simulated = 0;
	bool		groupIdNull = true, groupKeyNull = true, policyNull = true, versionNull;
	bool		isnull;
	Jsonb	   *policy = NULL;
	Jsonb	   *usage;
	Jsonb	   *context;
	Jsonb	   *bill;
	char	   *type;
	JsonbParseState *st = NULL;
	JsonbValue *res;

	if (request == NULL || !JB_ROOT_IS_OBJECT(request) ||
		(model = PricingFieldText(&request->root, "model")) == NULL || model[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request must be a JSON object with a \"model\"")));
	if (identity == NULL)
		identity = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	id = PricingRootObject(identity, "identity");

	SPI_connect();
	if (IdentityNamesPrincipal(id))
	{
		args[0] = JsonbPGetDatum(identity);
		if (SPI_execute_plan(KeptPlan(&GroupPlan,
									  "SELECT user_group_id, group_key, billing_discount_policy "
									  "FROM aigw.resolve_user_group($1)", 1, groupTypes),
							 args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "aigw pricing: user group lookup failed");
		if (SPI_processed == 1)
		{
			groupId = SpiColumn(1, &groupIdNull);
			groupKey = SpiColumn(2, &groupKeyNull);
			policyDatum = SpiColumn(3, &policyNull);
		}
	}
	args[0] = JsonbPGetDatum(request);
	args[1] = JsonbPGetDatum(identity);
	args[2] = groupKey;
	nulls[2] = groupKeyNull ? 'n' : ' ';
	if (SPI_execute_plan(KeptPlan(&CandidatePlan,
								  "SELECT platform_model_id, platform_id, platform_key, model_name, model_type, "
								  "capabilities, billing_config, pricing_version, platform_discount_factor, simulated "
								  "FROM aigw.pricing_candidates($1, $2, $3) LIMIT 1", 3, candTypes),
						 args, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "aigw pricing: candidate lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no available platform model serves \"%s\" for this request", model),
				 errhint("The model may not exist, be disabled or cooling down, be invisible to the tenant, or lack a capability the request needs.")));
	pmId = SpiColumn(1, &isnull);
	platformId = SpiColumn(2, &isnull);
	platformKey = SpiColumn(3, &isnull);
	modelName = SpiColumn(4, &isnull);
	modelType = SpiColumn(5, &isnull);
	caps = SpiColumn(6, &isnull);
	config = SpiColumn(7, &isnull);
	version = SpiColumn(8, &versionNull);
	factor = SpiColumn(9, &isnull);
	simulated = SpiColumn(10, &isnull);
	SPI_finish();
	/* detoast only now: a copy made inside SPI would be freed by SPI_finish */
	if (!policyNull)
		policy = DatumGetJsonbP(policyDatum);

	/* context of the resolver: discounts, version, simulation, phase */
	type = TextDatumGetCString(modelType);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PricingPushText(&st, "phase", "estimate");
	PricingPushNumeric(&st, "pricingVersion", versionNull ? NULL : int64_to_numeric(DatumGetInt32(version)));
	PricingPushNumeric(&st, "platformDiscountFactor", DatumGetNumeric(factor));
	PushUuidDatum(&st, "platformModelId", pmId, false);
	PushJsonbDatum(&st, "userGroupDiscountPolicy", policy);
	PricingPushBool(&st, "simulated", DatumGetBool(simulated));
	context = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));

	usage = AigwEstimateUsage(type, request, DatumGetJsonbP(caps));
	bill = AigwPriceUsage(type, usage, DatumGetJsonbP(config), context);

	st = NULL;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushJsonbDatum(&st, "usage", usage);
	PushTextDatum(&st, "model", modelName, false);
	PushTextDatum(&st, "platformKey", platformKey, false);
	PushUuidDatum(&st, "platformId", platformId, false);
	PushUuidDatum(&st, "userGroupId", groupId, groupIdNull);
	PushTextDatum(&st, "userGroupKey", groupKey, groupKeyNull);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	PG_RETURN_DATUM(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(bill),
										JsonbPGetDatum(JsonbValueToJsonb(res))));
}

PG_FUNCTION_INFO_V1(aigw_capabilities_allow);

/* aigw.capabilities_allow(capabilities, model_type, request) */
Datum
aigw_capabilities_allow(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(AigwCapabilitiesAllow(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0),
										 text_to_cstring(PG_GETARG_TEXT_PP(1)),
										 PG_GETARG_JSONB_P(2)));
}
