/*
 * config_portkey.c: validation of a Portkey-compatible routing config, as carried by a request's
 * x-portkey-config or x-aigw-config header (seed 004), and its normalisation into the routing
 * instruction the router follows: strategy, targets (recursively) and retry.
 *
 * Every violation is collected with the path of the offending field; the error names the
 * first in its message and lists all of them in its detail (SQLSTATE 22023, HTTP 400).
 */
#include "config.h"

#include <arpa/inet.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/miscnodes.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#define RETRY_MAX_ATTEMPTS 5

/* Providers a target may name (Portkey's VALID_PROVIDERS) */
static const char *const ValidProviders[] = {
	"openai", "cohere", "azure-openai", "azure-ai", "anthropic", "anyscale", "palm", "together-ai",
	"google", "vertex-ai", "huggingface", "perplexity-ai", "reka-ai", "mistral-ai", "deepinfra",
	"ncompass", "stability-ai", "nomic", "ollama", "ai21", "bedrock", "groq", "segmind", "jina",
	"fireworks-ai", "workers-ai", "moonshot", "openrouter", "lingyi", "zhipu", "novita-ai",
	"monsterapi", "deepseek", "predibase", "triton", "voyage", "github", "deepbricks",
	"siliconflow", "cerebras", "inference-net", "sambanova", "lemonfox-ai", "upstage", "lambda",
	"dashscope", "x-ai", "cortex", "sagemaker", "nebius", "recraft-ai", "milvus", "replicate",
	"lepton", "kluster-ai", "nscale", "hyperbolic", "bytez", "featherless-ai", "krutrim", "qdrant",
	"302ai", "cometapi", "matterai", "meshy", "tripo3d", "nextbit", "modal", "z-ai", NULL
};

static const char *const StrategyModes[] = {"loadbalance", "fallback", "conditional", "single", NULL};
static const int DefaultStatusCodes[] = {429, 500, 502, 503};

/* Sections of a single-provider config that stay at the top level rather than in its target */
static const char *const TopOnlyKeys[] = {
	"retry", "cache", "request_timeout", "before_request_hooks", "after_request_hooks", "metadata",
	NULL
};

/* Collected violations */
typedef struct PkCheck
{
	List	   *violations;
} PkCheck;

/* Records a violation at a path */
static void
Violation(PkCheck *pk, const char *path, const char *reason)
{
	pk->violations = lappend(pk->violations, psprintf("%s: %s", path, reason));
}

/* Looks up a key of an object container */
static JsonbValue *
Key(JsonbContainer *obj, const char *key, JsonbValue *buf)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), buf);
}

/* True when v is an object */
static bool
IsObj(JsonbValue *v)
{
	return v && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

/* True when v is an array */
static bool
IsArr(JsonbValue *v)
{
	return v && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}

/* True when a string value equals one of the words */
static bool
OneOf(JsonbValue *v, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (v->val.string.len == (int) strlen(words[i]) &&
			memcmp(v->val.string.val, words[i], v->val.string.len) == 0)
			return true;
	return false;
}

/* True when a numeric value is an integer within [lo, hi] */
static bool
IntegerIn(JsonbValue *v, int64 lo, int64 hi)
{
	Datum		n;
	bool		integral;

	if (v->type != jbvNumeric)
		return false;
	n = NumericGetDatum(v->val.numeric);
	integral = DatumGetBool(DirectFunctionCall2(numeric_eq, n,
												DirectFunctionCall2(numeric_trunc, n, Int32GetDatum(0))));
	return integral &&
		DatumGetBool(DirectFunctionCall2(numeric_ge, n, DirectFunctionCall1(int8_numeric, Int64GetDatum(lo)))) &&
		DatumGetBool(DirectFunctionCall2(numeric_le, n, DirectFunctionCall1(int8_numeric, Int64GetDatum(hi))));
}

/* True when a numeric value is negative */
static bool
IsNegative(JsonbValue *v)
{
	return DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(v->val.numeric),
											DirectFunctionCall1(int4_numeric, Int32GetDatum(0))));
}

/* True when a numeric value is zero */
static bool
IsZero(JsonbValue *v)
{
	return DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(v->val.numeric),
											DirectFunctionCall1(int4_numeric, Int32GetDatum(0))));
}

/* Checks an array of HTTP status codes */
static void
CheckStatusCodes(PkCheck *pk, JsonbValue *v, const char *path)
{
	int			n;

	if (!IsArr(v) || (n = JsonContainerSize(v->val.binary.data)) == 0)
	{
		Violation(pk, path, "must be a non-empty array of HTTP status codes");
		return;
	}
	for (int i = 0; i < n; i++)
		if (!IntegerIn(getIthJsonbValueFromContainer(v->val.binary.data, i), 100, 599))
			Violation(pk, psprintf("%s[%d]", path, i), "must be an HTTP status code (100-599)");
}

/* True when an IPv4/IPv6 literal is private, loopback, link-local, metadata or unspecified */
static bool
AddressIsInternal(const char *host)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 10 || a[0] == 127 || a[0] == 0 ||
			(a[0] == 172 && (a[1] & 0xf0) == 16) ||
			(a[0] == 192 && a[1] == 168) ||
			(a[0] == 169 && a[1] == 254) ||
			(a[0] == 100 && (a[1] & 0xc0) == 64);
	if (inet_pton(AF_INET6, host, a) == 1)
	{
		static const unsigned char zero[16] = {0};
		static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
			return true;		/* :: and ::1 */
		if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
			return true;		/* fc00::/7, fe80::/10 */
		if (memcmp(a, v4mapped, 12) == 0)
		{
			char		v4[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, a + 12, v4, sizeof(v4));
			return AddressIsInternal(v4);
		}
	}
	return false;
}

/* Checks a target's custom_host: an http(s) URL that names no internal address or name */
static void
CheckCustomHost(PkCheck *pk, JsonbValue *v, const char *path)
{
	char	   *url;
	char	   *host;
	char	   *end;
	int			hl;

	if (v->type != jbvString)
	{
		Violation(pk, path, "must be a URL string");
		return;
	}
	url = pnstrdup(v->val.string.val, v->val.string.len);
	if (pg_strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (pg_strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else
	{
		Violation(pk, path, "must be an http or https URL");
		return;
	}
	if ((end = strchr(host, '@')) != NULL && (strchr(host, '/') == NULL || end < strchr(host, '/')))
		host = end + 1;			/* drop userinfo */
	if (*host == '[')
	{
		host++;
		end = strchr(host, ']');
	}
	else
		end = host + strcspn(host, ":/?#");
	if (end == NULL || end == host)
	{
		Violation(pk, path, "has no host");
		return;
	}
	*end = '\0';
	hl = strlen(host);
	while (hl > 0 && host[hl - 1] == '.')
		host[--hl] = '\0';
	for (char *c = host; *c; c++)
		*c = pg_tolower((unsigned char) *c);
	if (strcmp(host, "localhost") == 0 ||
		(hl > 6 && strcmp(host + hl - 6, ".local") == 0) ||
		(hl > 9 && strcmp(host + hl - 9, ".internal") == 0) ||
		(hl > 10 && strcmp(host + hl - 10, ".localhost") == 0) ||
		AddressIsInternal(host))
		Violation(pk, path, psprintf("host \"%s\" is a private, loopback, link-local or metadata address", host));
}

/* Pushes a key with a string value */
static void
PushStr(JsonbParseState **st, const char *key, const char *val, int len)
{
	JsonbValue	k,
				v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v.type = jbvString;
	v.val.string.val = (char *) val;
	v.val.string.len = len;
	pushJsonbValue(st, WJB_KEY, &k);
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* Pushes a key with a value taken from the input */
static void
PushVal(JsonbParseState **st, const char *key, JsonbValue *v)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
	pushJsonbValue(st, WJB_VALUE, v);
}

/* Pushes a key with an integer value */
static void
PushInt(JsonbParseState **st, const char *key, int val)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(val);
	PushVal(st, key, &v);
}

/* Pushes the default retry status codes as the value of a key */
static void
PushDefaultCodes(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < lengthof(DefaultStatusCodes); i++)
	{
		JsonbValue	e;

		e.type = jbvNumeric;
		e.val.numeric = int64_to_numeric(DefaultStatusCodes[i]);
		pushJsonbValue(st, WJB_ELEM, &e);
	}
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

static void CheckNode(PkCheck *pk, JsonbContainer *node, const char *path, bool top,
					  JsonbParseState **st);

/* Checks a target list and pushes the normalised targets */
static void
CheckTargets(PkCheck *pk, JsonbValue *targets, const char *path, const char *mode,
			 JsonbParseState **st)
{
	JsonbContainer *arr = targets->val.binary.data;
	int			n = JsonContainerSize(arr);
	bool		any_weight = false;

	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *t = getIthJsonbValueFromContainer(arr, i);
		char	   *tpath = psprintf("%s[%d]", path, i);
		JsonbValue	wbuf;
		JsonbValue *w;

		if (!IsObj(t))
		{
			Violation(pk, tpath, "a target must be an object");
			continue;
		}
		w = Key(t->val.binary.data, "weight", &wbuf);
		if (w == NULL || (w->type == jbvNumeric && !IsZero(w) && !IsNegative(w)))
			any_weight = true;
		CheckNode(pk, t->val.binary.data, tpath, false, st);
	}
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
	if (mode && strcmp(mode, "loadbalance") == 0 && n > 0 && !any_weight)
		Violation(pk, path, "loadbalance needs at least one target with a positive weight");
}

/* Checks strategy.conditions / strategy.default of a conditional strategy against target names */
static void
CheckConditional(PkCheck *pk, JsonbContainer *strategy, JsonbValue *targets, const char *path)
{
	JsonbValue	cbuf,
				dbuf;
	JsonbValue *conds = Key(strategy, "conditions", &cbuf);
	JsonbValue *def = Key(strategy, "default", &dbuf);
	int			n;

	if (!IsArr(conds) || (n = JsonContainerSize(conds->val.binary.data)) == 0)
	{
		Violation(pk, psprintf("%s.conditions", path), "conditional mode needs a non-empty array of {query, then}");
		return;
	}
	for (int i = 0; i <= n; i++)
	{
		JsonbValue *then;
		JsonbValue	tbuf,
					qbuf;
		char	   *cpath = i < n ? psprintf("%s.conditions[%d]", path, i) : psprintf("%s.default", path);
		bool		named = false;

		if (i < n)
		{
			JsonbValue *c = getIthJsonbValueFromContainer(conds->val.binary.data, i);

			if (!IsObj(c))
			{
				Violation(pk, cpath, "must be an object {query, then}");
				continue;
			}
			if (!IsObj(Key(c->val.binary.data, "query", &qbuf)))
				Violation(pk, psprintf("%s.query", cpath), "must be an object");
			then = Key(c->val.binary.data, "then", &tbuf);
			cpath = psprintf("%s.then", cpath);
		}
		else if ((then = def) == NULL)
			break;
		if (then == NULL || then->type != jbvString)
		{
			Violation(pk, cpath, "must name a target");
			continue;
		}
		if (IsArr(targets))
			for (int t = 0; t < (int) JsonContainerSize(targets->val.binary.data) && !named; t++)
			{
				JsonbValue *tg = getIthJsonbValueFromContainer(targets->val.binary.data, t);
				JsonbValue	nbuf;
				JsonbValue *name = IsObj(tg) ? Key(tg->val.binary.data, "name", &nbuf) : NULL;

				named = name && name->type == jbvString && JsonbValueEquals(name, then);
			}
		if (!named)
			Violation(pk, cpath, psprintf("no target is named \"%.*s\"", then->val.string.len, then->val.string.val));
	}
}

/*
 * Checks one config node (the top level or a target) and pushes its normalised form: a node with
 * targets becomes {strategy, targets, weight?, retry?...}; a leaf keeps its fields with a weight.
 * A top-level leaf becomes a single-target config.
 */
static void
CheckNode(PkCheck *pk, JsonbContainer *node, const char *path, bool top, JsonbParseState **st)
{
	JsonbValue	buf[12];
	JsonbValue *strategy = Key(node, "strategy", &buf[0]);
	JsonbValue *targets = Key(node, "targets", &buf[1]);
	JsonbValue *provider = Key(node, "provider", &buf[2]);
	JsonbValue *weight = Key(node, "weight", &buf[3]);
	JsonbValue *retry = Key(node, "retry", &buf[4]);
	JsonbValue *overrides = Key(node, "override_params", &buf[5]);
	JsonbValue *host = Key(node, "custom_host", &buf[6]);
	JsonbValue *timeout = Key(node, "request_timeout", &buf[7]);
	JsonbValue *cache = Key(node, "cache", &buf[8]);
	JsonbValue *platform = Key(node, "platform", &buf[10]);
	JsonbValue *mode = NULL;
	char	   *mode_s = NULL;
	const char *pfx = top ? "" : ".";
	const char *base = top ? "" : path;
	bool		leaf = targets == NULL && strategy == NULL;

	if (weight && (weight->type != jbvNumeric || IsNegative(weight)))
		Violation(pk, psprintf("%s%sweight", base, pfx), "must be a non-negative number");
	if (overrides && !IsObj(overrides))
		Violation(pk, psprintf("%s%soverride_params", base, pfx), "must be an object");
	if (host)
		CheckCustomHost(pk, host, psprintf("%s%scustom_host", base, pfx));
	if (timeout && !IntegerIn(timeout, 1, PG_INT32_MAX))
		Violation(pk, psprintf("%s%srequest_timeout", base, pfx), "must be a positive integer (milliseconds)");
	if (provider && (provider->type != jbvString || !OneOf(provider, ValidProviders)))
		Violation(pk, psprintf("%s%sprovider", base, pfx),
				  provider->type == jbvString
				  ? psprintf("\"%.*s\" is not a supported provider", provider->val.string.len, provider->val.string.val)
				  : "must be a provider name");
	if (platform && (platform->type != jbvString || platform->val.string.len == 0))
		Violation(pk, psprintf("%s%splatform", base, pfx), "must be the key or id of an aigw platform");
	if (cache)
	{
		JsonbValue	mb,
					ab;
		JsonbValue *cm = IsObj(cache) ? Key(cache->val.binary.data, "mode", &mb) : NULL;
		JsonbValue *age = IsObj(cache) ? Key(cache->val.binary.data, "max_age", &ab) : NULL;
		static const char *const cache_modes[] = {"simple", "semantic", NULL};

		if (!IsObj(cache))
			Violation(pk, psprintf("%s%scache", base, pfx), "must be an object");
		else if (cm == NULL || cm->type != jbvString || !OneOf(cm, cache_modes))
			Violation(pk, psprintf("%s%scache.mode", base, pfx), "must be \"simple\" or \"semantic\"");
		if (age && !IntegerIn(age, 0, PG_INT32_MAX))
			Violation(pk, psprintf("%s%scache.max_age", base, pfx), "must be a non-negative integer (seconds)");
	}
	if (retry)
	{
		JsonbValue	ab,
					cb;
		JsonbValue *att = IsObj(retry) ? Key(retry->val.binary.data, "attempts", &ab) : NULL;
		JsonbValue *codes = IsObj(retry) ? Key(retry->val.binary.data, "on_status_codes", &cb) : NULL;

		if (!IsObj(retry))
			Violation(pk, psprintf("%s%sretry", base, pfx), "must be an object");
		else if (att == NULL || !IntegerIn(att, 1, RETRY_MAX_ATTEMPTS))
			Violation(pk, psprintf("%s%sretry.attempts", base, pfx), "must be an integer from 1 to 5");
		if (codes)
			CheckStatusCodes(pk, codes, psprintf("%s%sretry.on_status_codes", base, pfx));
	}
	for (const char *const *h = (const char *const[]) {"before_request_hooks", "after_request_hooks", NULL}; *h; h++)
	{
		JsonbValue	hb;
		JsonbValue *hooks = Key(node, *h, &hb);

		if (hooks == NULL)
			continue;
		if (!IsArr(hooks))
			Violation(pk, psprintf("%s%s%s", base, pfx, *h), "must be an array of hook objects");
		else
			for (int i = 0; i < (int) JsonContainerSize(hooks->val.binary.data); i++)
				if (!IsObj(getIthJsonbValueFromContainer(hooks->val.binary.data, i)))
					Violation(pk, psprintf("%s%s%s[%d]", base, pfx, *h, i), "must be an object");
	}
	{
		JsonbValue	mdb;
		JsonbValue *md = Key(node, "metadata", &mdb);

		if (md && !IsObj(md))
			Violation(pk, psprintf("%s%smetadata", base, pfx), "must be an object");
	}

	if (leaf)
	{
		JsonbIterator *it;
		JsonbValue	k,
					v;
		JsonbIteratorToken tok;

		if (provider == NULL && platform == NULL)
			Violation(pk, psprintf("%s%sprovider", base, pfx), top ? "a config needs targets, a provider or a platform"
					  : "a target needs a provider or a platform (or strategy and targets)");
		if (top)
		{
			/* a single-provider config: one target, strategy single */
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			pushJsonbValue(st, WJB_KEY, &(JsonbValue) {.type = jbvString, .val.string = {8, "strategy"}});
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			PushStr(st, "mode", "single", 6);
			pushJsonbValue(st, WJB_END_OBJECT, NULL);
			pushJsonbValue(st, WJB_KEY, &(JsonbValue) {.type = jbvString, .val.string = {7, "targets"}});
			pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
		}
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		it = JsonbIteratorInit(node);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			if (tok != WJB_KEY)
				continue;
			JsonbIteratorNext(&it, &v, true);
			if (top && OneOf(&k, TopOnlyKeys))
				continue;
			pushJsonbValue(st, WJB_KEY, &k);
			pushJsonbValue(st, WJB_VALUE, &v);
		}
		if (weight == NULL)
			PushInt(st, "weight", 1);
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
		if (top)
		{
			pushJsonbValue(st, WJB_END_ARRAY, NULL);
			goto top_sections;
		}
		return;
	}

	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	if (!IsObj(strategy))
		Violation(pk, psprintf("%s%sstrategy", base, pfx), "must be an object with a mode");
	else
	{
		JsonbValue	codes_buf;
		JsonbValue *codes;

		mode = Key(strategy->val.binary.data, "mode", &buf[9]);
		if (mode == NULL || mode->type != jbvString || !OneOf(mode, StrategyModes))
			Violation(pk, psprintf("%s%sstrategy.mode", base, pfx),
					  "must be one of loadbalance, fallback, conditional, single");
		else
			mode_s = pnstrdup(mode->val.string.val, mode->val.string.len);
		codes = Key(strategy->val.binary.data, "on_status_codes", &codes_buf);
		if (codes)
			CheckStatusCodes(pk, codes, psprintf("%s%sstrategy.on_status_codes", base, pfx));
		if (mode_s && strcmp(mode_s, "conditional") == 0)
			CheckConditional(pk, strategy->val.binary.data, targets, psprintf("%s%sstrategy", base, pfx));
		PushVal(st, "strategy", strategy);
	}
	if (targets == NULL || !IsArr(targets) || JsonContainerSize(targets->val.binary.data) == 0)
		Violation(pk, psprintf("%s%stargets", base, pfx), "must be a non-empty array of targets");
	else
	{
		pushJsonbValue(st, WJB_KEY, &(JsonbValue) {.type = jbvString, .val.string = {7, "targets"}});
		CheckTargets(pk, targets, psprintf("%s%stargets", base, pfx), mode_s, st);
	}
	if (provider)
		Violation(pk, psprintf("%s%sprovider", base, pfx), "a node with targets takes no provider");
	if (platform)
		Violation(pk, psprintf("%s%splatform", base, pfx), "a node with targets takes no platform");
	if (!top)
	{
		JsonbValue	nb;
		JsonbValue *name = Key(node, "name", &nb);

		PushVal(st, "weight", weight ? weight : &(JsonbValue) {.type = jbvNumeric, .val.numeric = int64_to_numeric(1)});
		if (name)
			PushVal(st, "name", name);
		if (retry)
			PushVal(st, "retry", retry);
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
		return;
	}

top_sections:
	/* top level: retry with its defaults, then the passed-through sections */
	pushJsonbValue(st, WJB_KEY, &(JsonbValue) {.type = jbvString, .val.string = {5, "retry"}});
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	if (IsObj(retry))
	{
		JsonbValue	ab,
					cb;
		JsonbValue *att = Key(retry->val.binary.data, "attempts", &ab);
		JsonbValue *codes = Key(retry->val.binary.data, "on_status_codes", &cb);

		if (att)
			PushVal(st, "attempts", att);
		else
			PushInt(st, "attempts", 0);
		if (codes)
			PushVal(st, "on_status_codes", codes);
		else
			PushDefaultCodes(st, "on_status_codes");
	}
	else
	{
		PushInt(st, "attempts", 0);
		PushDefaultCodes(st, "on_status_codes");
	}
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
	for (const char *const *s = (const char *const[]) {"cache", "request_timeout", "before_request_hooks",
	"after_request_hooks", "metadata", NULL}; *s; s++)
	{
		JsonbValue	sb;
		JsonbValue *sv = Key(node, *s, &sb);

		if (sv)
			PushVal(st, *s, sv);
	}
}

PG_FUNCTION_INFO_V1(aigw_validate_portkey_config);

/* SQL: validate_portkey_config(config) returns the normalised routing instruction or raises 22023 */
Datum
aigw_validate_portkey_config(PG_FUNCTION_ARGS)
{
	Jsonb	   *cfg = PG_GETARG_JSONB_P(0);
	PkCheck		pk = {NIL};
	JsonbParseState *st = NULL;
	JsonbValue *res;
	StringInfoData detail;
	ListCell   *lc;

	if (!JB_ROOT_IS_OBJECT(cfg) || JB_ROOT_IS_SCALAR(cfg))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("invalid routing config: the config must be a JSON object")));
	CheckNode(&pk, &cfg->root, "", true, &st);
	if (pk.violations != NIL)
	{
		initStringInfo(&detail);
		foreach(lc, pk.violations)
			appendStringInfo(&detail, "%s%s", foreach_current_index(lc) > 0 ? "; " : "", (char *) lfirst(lc));
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("invalid routing config: %s", (char *) linitial(pk.violations)),
						errdetail("%d violation(s): %s", list_length(pk.violations), detail.data)));
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

PG_FUNCTION_INFO_V1(aigw_validate_portkey_header);

/* SQL: validate_portkey_header(text) parses a header value, then validates it; bad JSON is 22023 too */
Datum
aigw_validate_portkey_header(PG_FUNCTION_ARGS)
{
	char	   *raw = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ErrorSaveContext escontext = {T_ErrorSaveContext};
	Datum		cfg;

	if (!DirectInputFunctionCallSafe(jsonb_in, raw, InvalidOid, -1, (Node *) &escontext, &cfg))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("invalid routing config: the header value is not valid JSON")));
	return DirectFunctionCall1(aigw_validate_portkey_config, cfg);
}
