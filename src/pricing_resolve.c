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
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "lib/stringinfo.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "access/xact.h"

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

/* Whether an identity names anything a user group can be resolved from */
static bool
IdentityNamesPrincipal(JsonbContainer *id)
{
	static const char *const keys[] = {"gatewayUserId", "userId", "gatewayTenantId", "tenantKey", "tenantId",
	"apiKeyId", "userGroupId", "organizationId", NULL};

	return HasAny(id, keys);
}

/* Pushes key: uuid datum as a string (JSON null when isnull) */
static void
PushUuidDatum(JsonbParseState **st, const char *key, Datum d, bool isnull)
{
	AigwPushText(st, key, isnull ? NULL : DatumGetCString(DirectFunctionCall1(uuid_out, d)));
}

/* Pushes key: jsonb datum (JSON null when isnull) */
static void
PushJsonbDatum(JsonbParseState **st, const char *key, Jsonb *j)
{
	JsonbValue	v;

	AigwPushKey(st, key);
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

/* ---- candidate cache ---- */

/*
 * Candidate platform models per requested model name, in the router's order,
 * kept per backend. The request- and identity-dependent filters (type,
 * cooldown, tenant visibility, explicit platform, permission, capabilities)
 * run on every lookup; what is cached is only what the catalog says. A
 * statement trigger on platform_models, integration_platforms and
 * model_catalog_providers sends a relcache invalidation, which every backend
 * turns into a cache reset (and so does a rolled-back change).
 */
#define CANDIDATE_KEY_LEN 256

typedef struct CachedCandidate
{
	pg_uuid_t	platformModelId;
	pg_uuid_t	platformId;
	char	   *platformKey;
	char	   *modelName;
	char	   *modelType;
	Jsonb	   *capabilities;
	Jsonb	   *billingConfig;
	Jsonb	   *permission;
	bool		hasVersion;
	int32		pricingVersion;
	Numeric		platformFactor;
	bool		simulatedPlatform;
	bool		global;
	char	   *tenantId;
	char	   *tenantKey;
	bool		hasCooldown;
	TimestampTz cooldownUntil;
} CachedCandidate;

typedef struct CandidateSet
{
	char		model[CANDIDATE_KEY_LEN];
	int			n;
	CachedCandidate *items;
} CandidateSet;

static HTAB *CandidateCache = NULL;
static MemoryContext CandidateCacheCxt = NULL;
static uint64 CandidateCacheGeneration = 0;
static bool CandidateCallbackRegistered = false;
static Oid	CandidateWatched[3];
static SPIPlanPtr CandidateLoadPlan = NULL;
static SPIPlanPtr GroupPlan = NULL;

/* Drops every cached candidate set */
static void
CandidateCacheReset(void)
{
	if (CandidateCacheCxt != NULL)
		MemoryContextReset(CandidateCacheCxt);
	CandidateCache = NULL;
	CandidateCacheGeneration++;
}

/* User group resolutions per identity, dropped like the candidates */
#define GROUP_KEY_LEN 512

typedef struct GroupEntry
{
	char		identity[GROUP_KEY_LEN];
	bool		found;
	pg_uuid_t	groupId;
	char	   *groupKey;
	Jsonb	   *policy;
} GroupEntry;

static HTAB *GroupCache = NULL;
static MemoryContext GroupCacheCxt = NULL;
static uint64 GroupCacheGeneration = 0;
static Oid	GroupWatched[4];
static TimestampTz GroupCacheValidUntil = DT_NOEND;
static SPIPlanPtr GroupValidUntilPlan = NULL;

/* Drops every cached user group resolution */
static void
GroupCacheReset(void)
{
	if (GroupCacheCxt != NULL)
		MemoryContextReset(GroupCacheCxt);
	GroupCache = NULL;
	GroupCacheGeneration++;
}

/* Relcache callback: a watched table (or everything) changed */
static void
CandidateCacheInvalidate(Datum arg, Oid relid)
{
	if (CandidateCache != NULL &&
		(relid == InvalidOid || relid == CandidateWatched[0] || relid == CandidateWatched[1] ||
		 relid == CandidateWatched[2]))
		CandidateCacheReset();
	if (GroupCache != NULL &&
		(relid == InvalidOid || relid == GroupWatched[0] || relid == GroupWatched[1] ||
		 relid == GroupWatched[2] || relid == GroupWatched[3]))
		GroupCacheReset();
}

/* Creates the cache (and registers the callback once per backend) */
static void
CandidateCacheInit(void)
{
	HASHCTL		ctl;
	Oid			ns = get_namespace_oid("aigw", false);

	if (!CandidateCallbackRegistered)
	{
		CacheRegisterRelcacheCallback(CandidateCacheInvalidate, (Datum) 0);
		CandidateCallbackRegistered = true;
	}
	if (CandidateCacheCxt == NULL)
		CandidateCacheCxt = AllocSetContextCreate(TopMemoryContext, "aigw pricing candidates",
												  ALLOCSET_SMALL_SIZES);
	CandidateWatched[0] = get_relname_relid("platform_models", ns);
	CandidateWatched[1] = get_relname_relid("integration_platforms", ns);
	CandidateWatched[2] = get_relname_relid("model_catalog_providers", ns);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = CANDIDATE_KEY_LEN;
	ctl.entrysize = sizeof(CandidateSet);
	ctl.hcxt = CandidateCacheCxt;
	CandidateCache = hash_create("aigw pricing candidates", 64, &ctl,
								 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Text of an SPI column copied into cxt, or NULL */
static char *
SpiText(HeapTuple tup, TupleDesc desc, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	MemoryContext old;
	char	   *r;

	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	r = TextDatumGetCString(d);
	MemoryContextSwitchTo(old);
	return r;
}

/* Jsonb of an SPI column copied into cxt, or NULL */
static Jsonb *
SpiJsonb(HeapTuple tup, TupleDesc desc, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	MemoryContext old;
	Jsonb	   *r;

	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	r = DatumGetJsonbPCopy(d);
	MemoryContextSwitchTo(old);
	return r;
}

/* Loads the catalog's candidates for a model name into cxt (SPI connected) */
static CachedCandidate *
CandidateLoad(const char *model, MemoryContext cxt, int *count)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	CachedCandidate *items;

	args[0] = CStringGetTextDatum(model);
	if (CandidateLoadPlan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(
			"SELECT pm.id, p.id, p.platform_key, pm.model_name, pm.model_type, pm.capabilities, "
			"       pm.billing_config, pm.resolved_pricing_version, "
			"       CASE pm.pricing_mode WHEN 'inherit' THEN 1::numeric WHEN 'custom' THEN 1::numeric "
			"            ELSE coalesce(pm.discount_factor, p.default_discount_factor) END, "
			"       cp.provider_type = 'simulation' OR coalesce(p.config->>'testMode', 'false') = 'true', "
			"       p.visibility_scope = 'global', p.tenant_id, p.tenant_key, p.cooldown_until, "
			"       pm.permission_config "
			"  FROM aigw.platform_models pm "
			"  JOIN aigw.integration_platforms p ON p.id = pm.platform_id "
			"  JOIN aigw.model_catalog_providers cp ON cp.provider_key = p.provider "
			" WHERE (pm.model_name = $1 OR pm.model_alias = $1) AND pm.enabled "
			"   AND p.status = 'enabled' AND p.deleted_at IS NULL "
			" ORDER BY coalesce(p.dynamic_priority, p.priority), p.priority, p.platform_key, pm.id",
			1, types);

		if (plan == NULL)
			elog(ERROR, "aigw pricing: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		CandidateLoadPlan = plan;
	}
	if (SPI_execute_plan(CandidateLoadPlan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "aigw pricing: candidate load failed");
	*count = (int) SPI_processed;
	items = MemoryContextAllocZero(cxt, sizeof(CachedCandidate) * Max(*count, 1));
	for (int i = 0; i < *count; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		CachedCandidate *c = &items[i];
		bool		isnull;
		Datum		d;
		MemoryContext old;

		memcpy(&c->platformModelId, DatumGetUUIDP(SPI_getbinval(tup, desc, 1, &isnull)), sizeof(pg_uuid_t));
		memcpy(&c->platformId, DatumGetUUIDP(SPI_getbinval(tup, desc, 2, &isnull)), sizeof(pg_uuid_t));
		c->platformKey = SpiText(tup, desc, 3, cxt);
		c->modelName = SpiText(tup, desc, 4, cxt);
		c->modelType = SpiText(tup, desc, 5, cxt);
		c->capabilities = SpiJsonb(tup, desc, 6, cxt);
		c->billingConfig = SpiJsonb(tup, desc, 7, cxt);
		d = SPI_getbinval(tup, desc, 8, &isnull);
		c->hasVersion = !isnull;
		c->pricingVersion = isnull ? 0 : DatumGetInt32(d);
		d = SPI_getbinval(tup, desc, 9, &isnull);
		old = MemoryContextSwitchTo(cxt);
		c->platformFactor = isnull ? int64_to_numeric(1) : DatumGetNumericCopy(d);
		MemoryContextSwitchTo(old);
		c->simulatedPlatform = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull)) && !isnull;
		c->global = DatumGetBool(SPI_getbinval(tup, desc, 11, &isnull)) && !isnull;
		c->tenantId = SpiText(tup, desc, 12, cxt);
		c->tenantKey = SpiText(tup, desc, 13, cxt);
		d = SPI_getbinval(tup, desc, 14, &isnull);
		c->hasCooldown = !isnull;
		c->cooldownUntil = isnull ? 0 : DatumGetTimestampTz(d);
		c->permission = SpiJsonb(tup, desc, 15, cxt);
	}
	return items;
}

/* Model type a task kind is served by, or NULL */
const char *
AigwModelTypeOfKind(const char *kind)
{
	if (kind == NULL)
		return NULL;
	if (strcmp(kind, "chat.completions") == 0 || strcmp(kind, "completions") == 0 ||
		strcmp(kind, "responses") == 0 || strcmp(kind, "messages") == 0)
		return "chat";
	if (strncmp(kind, "images.", 7) == 0)
		return "image";
	if (strncmp(kind, "videos.", 7) == 0)
		return "video";
	if (strncmp(kind, "audio.", 6) == 0)
		return "audio";
	if (strcmp(kind, "embeddings") == 0 || strcmp(kind, "embeddings.create") == 0)
		return "embedding";
	return NULL;
}

/* Whether a JSON array under key (absent: admits all) holds one of the values */
static bool
PermissionListAdmits(JsonbContainer *perm, const char *key, const char *v1, const char *v2)
{
	JsonbContainer *arr = PricingFieldArray(perm, key);

	if (arr == NULL)
		return true;
	return ArrayHas(arr, v1, NULL) || (v2 != NULL && ArrayHas(arr, v2, NULL));
}

/* Whether a cached candidate serves this request for this identity */
static bool
CandidateMatches(const CachedCandidate *c, Jsonb *request, JsonbContainer *req, JsonbContainer *id,
				 const char *groupKey, const char *wantType, const char *wantPlatform, TimestampTz now)
{
	char	   *tenantKey = PricingFieldText(id, "tenantKey");
	char	   *tenantId = PricingFieldText(id, "tenantId");

	if (wantType != NULL && strcmp(wantType, c->modelType) != 0)
		return false;
	if (c->hasCooldown && c->cooldownUntil > now)
		return false;
	if (!c->global &&
		!(c->tenantKey != NULL && tenantKey != NULL && strcmp(c->tenantKey, tenantKey) == 0) &&
		!(c->tenantId != NULL && tenantId != NULL && strcmp(c->tenantId, tenantId) == 0))
		return false;
	if (wantPlatform != NULL && strcmp(c->platformKey, wantPlatform) != 0 &&
		strcmp(DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&c->platformId))), wantPlatform) != 0)
		return false;
	if (c->permission != NULL && JB_ROOT_IS_OBJECT(c->permission))
	{
		if (!PermissionListAdmits(&c->permission->root, "tenants", tenantKey != NULL ? tenantKey : "",
								  tenantId != NULL ? tenantId : ""))
			return false;
		if (!PermissionListAdmits(&c->permission->root, "userGroups", groupKey != NULL ? groupKey : "", NULL))
			return false;
	}
	return AigwCapabilitiesAllow(c->capabilities, c->modelType, request);
}

/* First of the keys present in a as text, else in b, else NULL */
static char *
FirstText(JsonbContainer *a, const char *ka1, const char *ka2, JsonbContainer *b, const char *kb1, const char *kb2)
{
	char	   *v;

	if ((v = PricingFieldText(a, ka1)) != NULL || (v = PricingFieldText(a, ka2)) != NULL ||
		(v = PricingFieldText(b, kb1)) != NULL || (v = PricingFieldText(b, kb2)) != NULL)
		return v;
	return NULL;
}

/*
 * The first candidate for a request and identity (aigw.pricing_candidates'
 * first row), from the backend cache; NULL when none. SPI must be connected.
 * The result points into cache memory: copy what must outlive a catalog change.
 */
static const CachedCandidate *
FirstCandidate(Jsonb *request, Jsonb *identity, const char *groupKey)
{
	JsonbContainer *req = &request->root;
	JsonbContainer *id = &identity->root;
	char	   *model = PricingFieldText(req, "model");
	char	   *wantType = PricingFieldText(req, "model_type");
	char	   *wantPlatform = FirstText(req, "platform", "platform_id", id, "platformId", "platformKey");
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	CachedCandidate *items;
	int			n;

	if (wantType == NULL)
		wantType = (char *) AigwModelTypeOfKind(PricingFieldText(req, "kind"));
	if (strlen(model) < CANDIDATE_KEY_LEN)
	{
		CandidateSet *set;
		bool		found;
		uint64		generation;

		if (CandidateCache == NULL)
			CandidateCacheInit();
		set = hash_search(CandidateCache, model, HASH_FIND, &found);
		if (!found)
		{
			MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "aigw candidate load",
													  ALLOCSET_SMALL_SIZES);

			generation = CandidateCacheGeneration;
			items = CandidateLoad(model, tmp, &n);
			if (generation == CandidateCacheGeneration && CandidateCache != NULL)
			{
				/* nothing changed while loading: keep a copy */
				CandidateSet *entry = hash_search(CandidateCache, model, HASH_ENTER, &found);
				MemoryContext old = MemoryContextSwitchTo(CandidateCacheCxt);

				entry->n = n;
				entry->items = palloc0(sizeof(CachedCandidate) * Max(n, 1));
				for (int i = 0; i < n; i++)
				{
					CachedCandidate *src = &items[i];
					CachedCandidate *dst = &entry->items[i];

					*dst = *src;
					dst->platformKey = pstrdup(src->platformKey);
					dst->modelName = pstrdup(src->modelName);
					dst->modelType = pstrdup(src->modelType);
					dst->capabilities = src->capabilities ? (Jsonb *) datumCopy(JsonbPGetDatum(src->capabilities), false, -1) : NULL;
					dst->billingConfig = src->billingConfig ? (Jsonb *) datumCopy(JsonbPGetDatum(src->billingConfig), false, -1) : NULL;
					dst->permission = src->permission ? (Jsonb *) datumCopy(JsonbPGetDatum(src->permission), false, -1) : NULL;
					dst->platformFactor = (Numeric) datumCopy(NumericGetDatum(src->platformFactor), false, -1);
					dst->tenantId = src->tenantId ? pstrdup(src->tenantId) : NULL;
					dst->tenantKey = src->tenantKey ? pstrdup(src->tenantKey) : NULL;
				}
				MemoryContextSwitchTo(old);
			}
		}
		else
		{
			items = set->items;
			n = set->n;
		}
	}
	else
	{
		MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "aigw candidate load",
												  ALLOCSET_SMALL_SIZES);

		items = CandidateLoad(model, tmp, &n);
	}
	for (int i = 0; i < n; i++)
		if (CandidateMatches(&items[i], request, req, id, groupKey, wantType, wantPlatform, now))
			return &items[i];
	return NULL;
}

/* Creates the user group cache and notes when a membership period next starts or ends */
static void
GroupCacheInit(void)
{
	HASHCTL		ctl;
	Oid			ns = get_namespace_oid("aigw", false);
	bool		isnull;
	Datum		d;

	if (CandidateCache == NULL)
		CandidateCacheInit();		/* registers the callback */
	if (GroupCacheCxt == NULL)
		GroupCacheCxt = AllocSetContextCreate(TopMemoryContext, "aigw pricing user groups",
											  ALLOCSET_SMALL_SIZES);
	GroupWatched[0] = get_relname_relid("gateway_users", ns);
	GroupWatched[1] = get_relname_relid("gateway_tenants", ns);
	GroupWatched[2] = get_relname_relid("gateway_user_groups", ns);
	GroupWatched[3] = get_relname_relid("gateway_user_group_memberships", ns);
	if (GroupValidUntilPlan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(
			"SELECT min(t) FROM (SELECT effective_from AS t FROM aigw.gateway_user_group_memberships "
			"                     WHERE effective_from > now() "
			"                    UNION ALL SELECT effective_to FROM aigw.gateway_user_group_memberships "
			"                     WHERE effective_to > now()) AS boundaries", 0, NULL);

		if (plan == NULL)
			elog(ERROR, "aigw pricing: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		GroupValidUntilPlan = plan;
	}
	if (SPI_execute_plan(GroupValidUntilPlan, NULL, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "aigw pricing: membership period lookup failed");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	GroupCacheValidUntil = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = GROUP_KEY_LEN;
	ctl.entrysize = sizeof(GroupEntry);
	ctl.hcxt = GroupCacheCxt;
	GroupCache = hash_create("aigw pricing user groups", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Cache key of the identity fields a user group is resolved from; false when too long */
static bool
GroupIdentityKey(JsonbContainer *id, char *key)
{
	static const char *const fields[] = {"gatewayUserId", "userId", "userSource", "gatewayTenantId", "tenantKey",
	"tenantId", "apiKeyId", "organizationId", "userGroupId", NULL};
	StringInfoData buf;
	bool		fits;

	initStringInfo(&buf);
	for (const char *const *f = fields; *f != NULL; f++)
	{
		char	   *v = PricingFieldText(id, *f);

		appendStringInfo(&buf, "%s\x1f", v != NULL ? v : "\x1e");
	}
	fits = buf.len < GROUP_KEY_LEN;
	if (fits)
		memcpy(key, buf.data, buf.len + 1);
	pfree(buf.data);
	return fits;
}

/*
 * The user group of an identity (aigw.resolve_user_group), from the backend
 * cache; results are copied into cxt. SPI must be connected.
 */
static bool
ResolveGroup(Jsonb *identity, JsonbContainer *id, MemoryContext cxt, pg_uuid_t *groupId,
			 char **groupKey, Jsonb **policy)
{
	Oid			types[1] = {JSONBOID};
	Datum		args[1];
	char		key[GROUP_KEY_LEN];
	bool		cacheable = GroupIdentityKey(id, key);
	GroupEntry *entry = NULL;
	bool		found = false;
	bool		isnull;
	uint64		generation;
	MemoryContext old;

	if (GroupCache != NULL && GetCurrentTransactionStartTimestamp() >= GroupCacheValidUntil)
		GroupCacheReset();
	if (cacheable)
	{
		if (GroupCache == NULL)
			GroupCacheInit();
		entry = hash_search(GroupCache, key, HASH_FIND, &found);
	}
	if (!found)
	{
		GroupEntry	loaded;

		memset(&loaded, 0, sizeof(loaded));
		generation = GroupCacheGeneration;
		args[0] = JsonbPGetDatum(identity);
		if (SPI_execute_plan(KeptPlan(&GroupPlan,
									  "SELECT user_group_id, group_key, billing_discount_policy "
									  "FROM aigw.resolve_user_group($1)", 1, types),
							 args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "aigw pricing: user group lookup failed");
		if (SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			Datum		d = SPI_getbinval(tup, desc, 1, &isnull);

			loaded.found = !isnull;
			if (!isnull)
				memcpy(&loaded.groupId, DatumGetUUIDP(d), sizeof(pg_uuid_t));
			loaded.groupKey = SpiText(tup, desc, 2, cxt);
			loaded.policy = SpiJsonb(tup, desc, 3, cxt);
		}
		if (cacheable && GroupCache != NULL && generation == GroupCacheGeneration)
		{
			entry = hash_search(GroupCache, key, HASH_ENTER, &found);
			old = MemoryContextSwitchTo(GroupCacheCxt);
			entry->found = loaded.found;
			entry->groupId = loaded.groupId;
			entry->groupKey = loaded.groupKey ? pstrdup(loaded.groupKey) : NULL;
			entry->policy = loaded.policy ? (Jsonb *) datumCopy(JsonbPGetDatum(loaded.policy), false, -1) : NULL;
			MemoryContextSwitchTo(old);
		}
		*groupId = loaded.groupId;
		*groupKey = loaded.groupKey;
		*policy = loaded.policy;
		return loaded.found;
	}
	old = MemoryContextSwitchTo(cxt);
	*groupId = entry->groupId;
	*groupKey = entry->groupKey ? pstrdup(entry->groupKey) : NULL;
	*policy = entry->policy ? (Jsonb *) datumCopy(JsonbPGetDatum(entry->policy), false, -1) : NULL;
	MemoryContextSwitchTo(old);
	return entry->found;
}

PG_FUNCTION_INFO_V1(aigw_pricing_cache_invalidate);

/* Statement trigger: the catalog behind pricing changed; every backend drops its candidates */
Datum
aigw_pricing_cache_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("aigw.pricing_cache_invalidate() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(aigw_model_type_of_kind);

/* aigw.model_type_of_kind(kind) */
Datum
aigw_model_type_of_kind(PG_FUNCTION_ARGS)
{
	const char *t = AigwModelTypeOfKind(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	if (t == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(t));
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
	Datum		groupId = 0, groupKey = 0;
	bool		groupIdNull = true, groupKeyNull = true;
	Jsonb	   *policy = NULL;
	const CachedCandidate *cand;
	CachedCandidate c;
	bool		simulated;
	Jsonb	   *usage;
	Jsonb	   *context;
	Jsonb	   *bill;
	JsonbParseState *st = NULL;
	JsonbValue *res;
	MemoryContext callerCxt = CurrentMemoryContext;

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
		pg_uuid_t	gid;
		char	   *gkey;

		groupIdNull = !ResolveGroup(identity, id, callerCxt, &gid, &gkey, &policy);
		if (!groupIdNull)
		{
			MemoryContext spiCxt = MemoryContextSwitchTo(callerCxt);
			pg_uuid_t  *copy = palloc(sizeof(pg_uuid_t));

			memcpy(copy, &gid, sizeof(pg_uuid_t));
			groupId = UUIDPGetDatum(copy);
			MemoryContextSwitchTo(spiCxt);
		}
		groupKeyNull = gkey == NULL;
		if (!groupKeyNull)
			groupKey = PointerGetDatum(gkey);
	}
	cand = FirstCandidate(request, identity, groupKeyNull ? NULL : (char *) DatumGetPointer(groupKey));
	if (cand == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no available platform model serves \"%s\" for this request", model),
				 errhint("The model may not exist, be disabled or cooling down, be invisible to the tenant, or lack a capability the request needs.")));
	/* copy out of cache and SPI memory into the caller's context, then leave SPI */
	c = *cand;
	{
		MemoryContext spiCxt = MemoryContextSwitchTo(callerCxt);

		c.capabilities = c.capabilities ? (Jsonb *) datumCopy(JsonbPGetDatum(c.capabilities), false, -1) : NULL;
		c.billingConfig = c.billingConfig ? (Jsonb *) datumCopy(JsonbPGetDatum(c.billingConfig), false, -1) : NULL;
		c.platformFactor = (Numeric) datumCopy(NumericGetDatum(c.platformFactor), false, -1);
		c.platformKey = pstrdup(c.platformKey);
		c.modelName = pstrdup(c.modelName);
		c.modelType = pstrdup(c.modelType);
		c.permission = NULL;
		c.tenantId = NULL;
		c.tenantKey = NULL;
		MemoryContextSwitchTo(spiCxt);
	}
	SPI_finish();
	simulated = c.simulatedPlatform || (PricingFieldText(id, "runMode") != NULL &&
										strcmp(PricingFieldText(id, "runMode"), "simulation") == 0);
	simulated = simulated || IsTrue(&request->root, "test_mode");

	/* context of the resolver: discounts, version, simulation, phase */
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	AigwPushText(&st, "phase", "estimate");
	AigwPushNumeric(&st, "pricingVersion", c.hasVersion ? int64_to_numeric(c.pricingVersion) : NULL);
	AigwPushNumeric(&st, "platformDiscountFactor", c.platformFactor);
	PushUuidDatum(&st, "platformModelId", UUIDPGetDatum(&c.platformModelId), false);
	PushJsonbDatum(&st, "userGroupDiscountPolicy", policy);
	AigwPushBool(&st, "simulated", simulated);
	context = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));

	usage = AigwEstimateUsage(c.modelType, request, c.capabilities);
	bill = AigwPriceUsage(c.modelType, usage, c.billingConfig, context);

	st = NULL;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushJsonbDatum(&st, "usage", usage);
	AigwPushText(&st, "model", c.modelName);
	AigwPushText(&st, "platformKey", c.platformKey);
	PushUuidDatum(&st, "platformId", UUIDPGetDatum(&c.platformId), false);
	PushUuidDatum(&st, "userGroupId", groupId, groupIdNull);
	AigwPushText(&st, "userGroupKey", groupKeyNull ? NULL : (char *) DatumGetPointer(groupKey));
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

/* ---- final billing of usage on a platform model ---- */

static SPIPlanPtr PriceModelPlan = NULL;

PG_FUNCTION_INFO_V1(aigw_price_usage);

/*
 * aigw.price_usage(platform_model_id uuid, usage jsonb, context jsonb DEFAULT
 * '{}'): the final billing of unified usage on a platform model, with the
 * resolver of the estimate: its pricing version and platform discount, the
 * final phase, then context (a task's user group discount policy, simulated,
 * its id), simulated also when the platform is; the platform key and the
 * usage added. 42704 when the platform model does not exist.
 */
Datum
aigw_price_usage(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	JsonbParseState *st = NULL;
	Jsonb	   *usage = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	Jsonb	   *context = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	Jsonb	   *base;
	Jsonb	   *bill;
	char	   *modelType;
	Jsonb	   *billingConfig;
	char	   *platformKey;
	Datum		d;
	bool		isnull;
	bool		simNull;
	bool		simulated;
	char	   *ctxSimulated;
	MemoryContext cxt = CurrentMemoryContext;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("platform model <NULL> does not exist")));
	args[0] = PG_GETARG_DATUM(0);
	SPI_connect();
	if (SPI_execute_plan(KeptPlan(&PriceModelPlan,
								  "SELECT m.model_type, m.billing_config, m.resolved_pricing_version, "
								  "       CASE m.pricing_mode WHEN 'inherit' THEN 1::numeric WHEN 'custom' THEN 1::numeric "
								  "            ELSE coalesce(m.discount_factor, p.default_discount_factor) END, "
								  "       cp.provider_type = 'simulation' OR coalesce(p.config->>'testMode', 'false') = 'true', "
								  "       p.platform_key "
								  "  FROM aigw.platform_models m "
								  "  JOIN aigw.integration_platforms p ON p.id = m.platform_id "
								  "  JOIN aigw.model_catalog_providers cp ON cp.provider_key = p.provider "
								  " WHERE m.id = $1", 1, types),
						 args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "aigw pricing: platform model lookup failed");
	if (SPI_processed == 0)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
						errmsg("platform model %s does not exist",
							   DatumGetCString(DirectFunctionCall1(uuid_out, args[0])))));

	/* the resolver's context: version, discount, model, phase, then the caller's */
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old;

		modelType = SpiText(tup, desc, 1, cxt);
		billingConfig = SpiJsonb(tup, desc, 2, cxt);
		platformKey = SpiText(tup, desc, 6, cxt);
		d = SPI_getbinval(tup, desc, 5, &simNull);
		simulated = !simNull && DatumGetBool(d);
		old = MemoryContextSwitchTo(cxt);
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		AigwPushNumeric(&st, "pricingVersion", isnull ? NULL : int64_to_numeric(DatumGetInt32(d)));
		d = SPI_getbinval(tup, desc, 4, &isnull);
		AigwPushNumeric(&st, "platformDiscountFactor", isnull ? NULL : DatumGetNumericCopy(d));
		PushUuidDatum(&st, "platformModelId", args[0], false);
		AigwPushText(&st, "phase", "final");
		base = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (context == NULL)
		context = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));

	/*
	 * simulated: the platform's (NULL when unknown) OR (context->>'simulated')::boolean,
	 * the cast made only when the platform's is not true, as SQL evaluates it
	 */
	if (!simulated && JB_ROOT_IS_OBJECT(context))
	{
		JsonbValue	vbuf;
		JsonbValue *v = PricingField(&context->root, "simulated", &vbuf);

		ctxSimulated = v == NULL ? NULL : PricingValueText(v);
		if (ctxSimulated != NULL && DatumGetBool(DirectFunctionCall1(boolin, CStringGetDatum(ctxSimulated))))
			simulated = true, simNull = false;
	}
	/* compute_billing is NULL without a model type or usage, and so is the billing */
	if (modelType == NULL || usage == NULL)
		PG_RETURN_NULL();
	base = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(base), JsonbPGetDatum(context)));
	st = NULL;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (simNull && !simulated)
		AigwPushNull(&st, "simulated");
	else
		AigwPushBool(&st, "simulated", simulated);
	base = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(base),
											  JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)))));

	bill = AigwPriceUsage(modelType, usage, billingConfig, base);
	st = NULL;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	AigwPushText(&st, "platformKey", platformKey);
	PushJsonbDatum(&st, "usage", usage);
	PG_RETURN_DATUM(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(bill),
										JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)))));
}
