/*
 * policy.c: failure classification and the retry / failover / hard-stop /
 * priority-demote decisions.
 *
 * The order of the checks, the reasons and the reported rule sources are a
 * contract with operators and with the shipped checks (aigw.policy_checks);
 * docs/policies.md describes them.  Text is matched the way the design
 * specifies: UTF-8, Unicode white space trimmed, simple Unicode lower-casing,
 * invalid bytes read as U+FFFD, keywords as byte substrings of the target.
 */
#include "postgres.h"

#include "jsonb_build.h"
#include "policy.h"

#include <math.h>

#include "common/unicode_case.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

/* Rule sources and policy names reported in matches */
#define SRC_RUNNER			"gateway_runner_policies"
#define SRC_FAILOVER		"gateway_runner_policies.failover_policy"
#define SRC_HARD_STOP		"gateway_runner_policies.hard_stop_policy"
#define SRC_DEMOTE			"gateway_runner_policies.priority_demote_policy"
#define SRC_OVERRIDE		"runtime_policy_override.failoverPolicy"
#define SRC_RETRY			"model_runtime_policy_sets.retry_policy"
#define SRC_RATE_LIMITS		"gateway_rate_limits"
#define SRC_CLIENT			"provider_client"

/* Which part of the failure a rule list is matched against */
typedef enum MatchField
{
	FIELD_CATEGORY,
	FIELD_CODE,
	FIELD_STATUS,
	FIELD_TARGET
} MatchField;

/* One rule list of a policy: its key and what it is matched against */
typedef struct RuleSpec
{
	const char *key;
	MatchField	field;
} RuleSpec;

static const RuleSpec HardStopSpecs[] = {
	{"categories", FIELD_CATEGORY}, {"codes", FIELD_CODE},
	{"statusCodes", FIELD_STATUS}, {"keywords", FIELD_TARGET}
};
static const RuleSpec DenySpecs[] = {
	{"denyCategories", FIELD_CATEGORY}, {"denyCodes", FIELD_CODE},
	{"denyStatusCodes", FIELD_STATUS}, {"denyKeywords", FIELD_TARGET}
};
static const RuleSpec AllowSpecs[] = {
	{"allowCategories", FIELD_CATEGORY}, {"allowCodes", FIELD_CODE},
	{"allowStatusCodes", FIELD_STATUS}, {"allowKeywords", FIELD_TARGET}
};

#define NSPECS 4

/*
 * A policy seen through an override: a key present in over (an object or
 * NULL) replaces the base key, whatever its value (a shallow merge).
 */
typedef struct PolicyLayer
{
	JsonbContainer *base;
	JsonbContainer *over;
} PolicyLayer;

/* ---------------------------------------------------------------------
 * UTF-8 text the way the design's matching reads it
 * --------------------------------------------------------------------- */

/* ASCII lower-casing, inline: it runs on every byte matched */
static inline char
AsciiLower(char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Decodes the rune at s (len bytes left); invalid input is U+FFFD of width 1 */
static int
DecodeRune(const unsigned char *s, int len, pg_wchar *rune)
{
	int			w;

	if (s[0] < 0x80)
	{
		*rune = s[0];
		return 1;
	}
	w = pg_utf_mblen(s);
	if (w > 1 && w <= len && pg_utf8_islegal(s, w))
	{
		*rune = utf8_to_unicode(s);
		return w;
	}
	*rune = 0xFFFD;
	return 1;
}

/* Decodes the rune ending at s + end; invalid input is U+FFFD of width 1 */
static int
DecodeLastRune(const unsigned char *s, int end, pg_wchar *rune)
{
	int			start = end - 1;
	int			lim = Max(end - 4, 0);
	int			w;

	if (s[start] < 0x80)
	{
		*rune = s[start];
		return 1;
	}
	for (start--; start >= lim; start--)
		if ((s[start] & 0xC0) != 0x80)
			break;
	if (start < 0)
		start = 0;
	w = DecodeRune(s + start, end - start, rune);
	if (start + w != end)
	{
		*rune = 0xFFFD;
		return 1;
	}
	return w;
}

/* Unicode White_Space, as trimmed around codes, keywords and targets */
static inline bool
IsSpaceRune(pg_wchar r)
{
	switch (r)
	{
		case '\t':
		case '\n':
		case '\v':
		case '\f':
		case '\r':
		case ' ':
		case 0x85:
		case 0xA0:
		case 0x1680:
		case 0x2028:
		case 0x2029:
		case 0x202F:
		case 0x205F:
		case 0x3000:
			return true;
		default:
			return r >= 0x2000 && r <= 0x200A;
	}
}

/* Narrows [*start, *start + *len) to its content without surrounding white space */
static void
TrimSpace(const char *s, int *start, int *len)
{
	const unsigned char *u = (const unsigned char *) s;
	int			b = *start;
	int			e = *start + *len;
	pg_wchar	r;
	int			w;

	while (b < e)
	{
		if (u[b] < 0x80)
		{
			if (!IsSpaceRune(u[b]))
				break;
			b++;
			continue;
		}
		w = DecodeRune(u + b, e - b, &r);
		if (!IsSpaceRune(r))
			break;
		b += w;
	}
	while (e > b)
	{
		if (u[e - 1] < 0x80)
		{
			if (!IsSpaceRune(u[e - 1]))
				break;
			e--;
			continue;
		}
		w = DecodeLastRune(u + b, e - b, &r);
		if (!IsSpaceRune(r))
			break;
		e -= w;
	}
	*start = b;
	*len = e - b;
}

/* True when the bytes are all ASCII */
static bool
IsAscii(const char *s, int len)
{
	for (int i = 0; i < len; i++)
		if ((unsigned char) s[i] >= 0x80)
			return false;
	return true;
}

/* Lower-cases s (simple Unicode mapping, invalid bytes become U+FFFD) into a new string */
static char *
LowerText(const char *s, int len)
{
	const unsigned char *u = (const unsigned char *) s;
	char	   *out;
	int			o = 0;

	if (IsAscii(s, len))
	{
		out = palloc(len + 1);
		for (int i = 0; i < len; i++)
			out[i] = AsciiLower(s[i]);
		out[len] = '\0';
		return out;
	}
	/* A rune never grows past 4 bytes; an invalid byte grows to 3 */
	out = palloc(len * 3 + 1);
	for (int i = 0; i < len;)
	{
		pg_wchar	r;

		i += DecodeRune(u + i, len - i, &r);
		r = (r < 0x80) ? (pg_wchar) AsciiLower((char) r) : unicode_lowercase_simple(r);
		unicode_to_utf8(r, (unsigned char *) out + o);
		o += unicode_utf8len(r);
	}
	out[o] = '\0';
	return out;
}

/* Lower-cases the trimmed content of s */
static char *
TrimLower(const char *s, int len)
{
	int			start = 0;

	TrimSpace(s, &start, &len);
	return LowerText(s + start, len);
}

/* Copy of s with invalid UTF-8 replaced by U+FFFD, so it can go into jsonb */
static char *
ValidText(const char *s)
{
	int			len = strlen(s);
	const unsigned char *u = (const unsigned char *) s;
	char	   *out;
	int			o = 0;

	if (pg_verify_mbstr(PG_UTF8, s, len, true))
		return pstrdup(s);
	out = palloc(len * 3 + 1);
	for (int i = 0; i < len;)
	{
		pg_wchar	r;

		i += DecodeRune(u + i, len - i, &r);
		unicode_to_utf8(r, (unsigned char *) out + o);
		o += unicode_utf8len(r);
	}
	out[o] = '\0';
	return out;
}

/* ---------------------------------------------------------------------
 * Classification
 * --------------------------------------------------------------------- */

/* Auth words in "code message", lower-cased */
static bool
ProviderAuthMessage(const char *target)
{
	return strstr(target, "api key") || strstr(target, "apikey") ||
		strstr(target, "unauthorized") || strstr(target, "authentication") ||
		strstr(target, "auth failed") || strstr(target, "credential");
}

/* The category function proper; target is lower("code message") */
static const char *
CategoryOf(const char *code, int status, const char *target)
{
	if (strcmp(code, "insufficient_balance") == 0)
		return "insufficient_balance";
	if (strcmp(code, "rate_limit") == 0 || status == 429)
		return "rate_limit";
	if (strcmp(code, "network") == 0)
		return "network";
	if (strcmp(code, "timeout") == 0 || status == 408 || strstr(target, "timeout"))
		return "timeout";
	if (strcmp(code, "stream_read_error") == 0)
		return "stream_error";
	if (strcmp(code, "overloaded") == 0 || strstr(target, "overloaded"))
		return "provider_overloaded";
	if (status >= 500 || strcmp(code, "server_error") == 0)
		return "provider_5xx";
	if (strcmp(code, "permission_denied") == 0)
		return "user_permission";
	if (strcmp(code, "auth_failed") == 0 || strcmp(code, "invalid_api_key") == 0 ||
		strcmp(code, "missing_credentials") == 0 || status == 401 || status == 403 ||
		ProviderAuthMessage(target))
		return "auth_error";
	if (strstr(code, "unsupported"))
		return "unsupported_model";
	if (status == 400 || strcmp(code, "bad_request") == 0 ||
		strcmp(code, "invalid_request") == 0 || strcmp(code, "invalid_parameter") == 0 ||
		strcmp(code, "missing_required") == 0)
		return "request_error";
	if (status > 400 && status < 500)
		return "request_error";
	return "client_error";
}

/* Category of a failure; code is expected trimmed and lower-cased */
const char *
AigwFailureCategory(const char *code, int status, const char *message)
{
	char	   *joined;
	char	   *target;
	const char *category;

	if (code == NULL)
		code = "";
	if (message == NULL)
		message = "";
	joined = psprintf("%s %s", code, message);
	target = LowerText(joined, strlen(joined));
	category = CategoryOf(code, status, target);
	pfree(target);
	pfree(joined);
	return category;
}

/* Classifies a failure: normalised code, category and the keyword target */
void
AigwClassifyFailure(const AigwFailure *failure, AigwFailureInfo *info)
{
	const char *code = failure->code ? failure->code : "";
	char	   *raw;

	info->code = TrimLower(code, strlen(code));
	info->message = pstrdup(failure->message ? failure->message : "");
	info->status = failure->status;
	info->category = AigwFailureCategory(info->code, info->status, info->message);
	raw = psprintf("%s %s %d %s", info->code, info->category, info->status, info->message);
	info->target = TrimLower(raw, strlen(raw));
	pfree(raw);
	info->retryable = failure->retryable;
	info->local_rate_limit = failure->local_rate_limit;
	info->local_rate_limit_retryable = failure->local_rate_limit_retryable;
}

/* ---------------------------------------------------------------------
 * Reading policies
 * --------------------------------------------------------------------- */

/* Root container of an object policy; NULL (read as {}) when missing or not an object */
static JsonbContainer *
PolicyRoot(Jsonb *policy)
{
	if (policy == NULL || !JB_ROOT_IS_OBJECT(policy))
		return NULL;
	return &policy->root;
}

/* Looks key up in an object container (NULL = empty object) */
static bool
GetKey(JsonbContainer *obj, const char *key, JsonbValue *out)
{
	if (obj == NULL)
		return false;
	return getKeyJsonValueFromContainer(obj, key, strlen(key), out) != NULL;
}

/* Looks key up in a layered policy: the override's key wins */
static bool
LayerGet(const PolicyLayer *layer, const char *key, JsonbValue *out)
{
	return GetKey(layer->over, key, out) || GetKey(layer->base, key, out);
}

/* Nested object of v, or NULL when v is not an object */
static JsonbContainer *
ObjectOf(const JsonbValue *v)
{
	if (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
		return v->val.binary.data;
	return NULL;
}

/* Nested array of v, or NULL when v is not an array */
static JsonbContainer *
ArrayOf(const JsonbValue *v)
{
	if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data))
		return v->val.binary.data;
	return NULL;
}

/* A JSON boolean under key, else fallback */
static bool
LayerBool(const PolicyLayer *layer, const char *key, bool fallback)
{
	JsonbValue	v;

	if (LayerGet(layer, key, &v) && v.type == jbvBool)
		return v.val.boolean;
	return fallback;
}

/* A JSON number as the design's integers read it: float64, truncated */
static bool
NumberToInt(const JsonbValue *v, int64 *out)
{
	double		d;

	if (v->type != jbvNumeric || numeric_is_nan(v->val.numeric) || numeric_is_inf(v->val.numeric))
		return false;
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	d = trunc(d);
	if (d > (double) PG_INT32_MAX)
		d = (double) PG_INT32_MAX;
	else if (d < (double) PG_INT32_MIN)
		d = (double) PG_INT32_MIN;
	*out = (int64) d;
	return true;
}

/* An integer under key, 0 when absent or not a number */
static int
LayerInt(const PolicyLayer *layer, const char *key)
{
	JsonbValue	v;
	int64		n;

	if (LayerGet(layer, key, &v) && NumberToInt(&v, &n))
		return (int) n;
	return 0;
}

/*
 * Element i of an array container, read in place: strings and numbers only
 * (anything else comes back as jbvNull).  Rule lists are read on every
 * decision, so this avoids an allocation per element.
 */
static void
ArrayElement(JsonbContainer *arr, int i, JsonbValue *out)
{
	JEntry		entry = arr->children[i];
	char	   *base = (char *) &arr->children[JsonContainerSize(arr)];
	uint32		offset = getJsonbOffset(arr, i);

	if (JBE_ISSTRING(entry))
	{
		out->type = jbvString;
		out->val.string.val = base + offset;
		out->val.string.len = getJsonbLength(arr, i);
	}
	else if (JBE_ISNUMERIC(entry))
	{
		out->type = jbvNumeric;
		out->val.numeric = (Numeric) (base + INTALIGN(offset));
	}
	else
		out->type = jbvNull;
}

/* Case-insensitive equality of an item with an already lower-cased value */
static bool
LowerEquals(const char *item, int len, const char *value, int value_len)
{
	if (IsAscii(item, len))
	{
		if (value_len != len)
			return false;
		for (int i = 0; i < len; i++)
			if (AsciiLower(item[i]) != value[i])
				return false;
		return true;
	}
	return strcmp(LowerText(item, len), value) == 0;
}

/* First string of the list equal to value ignoring case; the trimmed item is reported */
static bool
MatchStringList(JsonbContainer *list, const char *value, char **matched)
{
	int			n = JsonContainerSize(list);
	int			value_len = strlen(value);

	if (value_len == 0)
		return false;
	for (int i = 0; i < n; i++)
	{
		JsonbValue	ev;
		JsonbValue *e = &ev;
		int			start = 0;
		int			len;

		ArrayElement(list, i, e);
		if (e->type != jbvString)
			continue;
		len = e->val.string.len;
		TrimSpace(e->val.string.val, &start, &len);
		if (LowerEquals(e->val.string.val + start, len, value, value_len))
		{
			*matched = pnstrdup(e->val.string.val + start, len);
			return true;
		}
	}
	return false;
}

/* First number of the list equal to value; status 0 never matches */
static bool
MatchIntList(JsonbContainer *list, int value, char **matched)
{
	int			n = JsonContainerSize(list);

	if (value == 0)
		return false;
	for (int i = 0; i < n; i++)
	{
		JsonbValue	ev;
		JsonbValue *e = &ev;
		int64		item;
		bool		overflow = false;

		ArrayElement(list, i, e);
		if (e->type != jbvNumeric)
			continue;
		/* Rounding is cheap and lands within 1 of the truncated value */
		item = numeric_int8_opt_error(e->val.numeric, &overflow);
		if (!overflow && (item > (int64) value + 1 || item < (int64) value - 1))
			continue;
		if (NumberToInt(e, &item) && item == value)
		{
			*matched = psprintf("%d", value);
			return true;
		}
	}
	return false;
}

/* First keyword of the list contained in the target; the trimmed keyword is reported */
static bool
MatchKeywordList(JsonbContainer *list, const char *target, char **matched)
{
	int			n = JsonContainerSize(list);
	char		buf[128];
	bool		found;

	if (*target == '\0')
		return false;
	for (int i = 0; i < n; i++)
	{
		JsonbValue	ev;
		JsonbValue *e = &ev;
		int			start = 0;
		int			len;
		char	   *keyword;

		ArrayElement(list, i, e);
		if (e->type != jbvString)
			continue;
		len = e->val.string.len;
		TrimSpace(e->val.string.val, &start, &len);
		if (len == 0)
			continue;
		if (len < (int) sizeof(buf) && IsAscii(e->val.string.val + start, len))
		{
			for (int j = 0; j < len; j++)
				buf[j] = AsciiLower(e->val.string.val[start + j]);
			buf[len] = '\0';
			keyword = buf;
		}
		else
			keyword = LowerText(e->val.string.val + start, len);
		found = strstr(target, keyword) != NULL;
		if (keyword != buf)
			pfree(keyword);
		if (found)
		{
			*matched = pnstrdup(e->val.string.val + start, len);
			return true;
		}
	}
	return false;
}

/* Matches the value of one rule list (v) against the failure */
static bool
MatchRuleValue(const JsonbValue *v, const RuleSpec *spec, const AigwFailureInfo *info,
			   char **matched)
{
	JsonbContainer *list = ArrayOf(v);

	if (list == NULL)
		return false;
	switch (spec->field)
	{
		case FIELD_CATEGORY:
			return MatchStringList(list, info->category, matched);
		case FIELD_CODE:
			return MatchStringList(list, info->code, matched);
		case FIELD_STATUS:
			return MatchIntList(list, info->status, matched);
		case FIELD_TARGET:
			return MatchKeywordList(list, info->target, matched);
	}
	return false;
}

/* Fills a match */
static void
SetMatch(AigwRuleMatch *m, const char *source, const char *policy, const char *rule, char *value)
{
	m->source = source;
	m->policy = policy;
	m->rule = rule;
	m->value = value;
}

/* First rule list of the (layered) policy that matches, in spec order */
static bool
FirstPolicyMatch(const PolicyLayer *layer, const AigwFailureInfo *info, const char *source,
				 const char *policy, const RuleSpec *specs, AigwRuleMatch *m)
{
	for (int i = 0; i < NSPECS; i++)
	{
		JsonbValue	v;
		char	   *value;

		if (LayerGet(layer, specs[i].key, &v) && MatchRuleValue(&v, &specs[i], info, &value))
		{
			SetMatch(m, source, policy, specs[i].key, value);
			return true;
		}
	}
	return false;
}

/*
 * Like FirstPolicyMatch over base and override, but reporting which of the
 * two the matching list came from: an override that names a list replaces
 * the base list for that key only.
 */
static bool
MatchWithSources(const PolicyLayer *layer, const AigwFailureInfo *info, const RuleSpec *specs,
				 AigwRuleMatch *m)
{
	for (int i = 0; i < NSPECS; i++)
	{
		JsonbValue	v;
		char	   *value;

		if (GetKey(layer->over, specs[i].key, &v))
		{
			if (MatchRuleValue(&v, &specs[i], info, &value))
			{
				SetMatch(m, SRC_OVERRIDE, "failoverPolicy", specs[i].key, value);
				return true;
			}
			continue;
		}
		if (GetKey(layer->base, specs[i].key, &v) && MatchRuleValue(&v, &specs[i], info, &value))
		{
			SetMatch(m, SRC_FAILOVER, "failoverPolicy", specs[i].key, value);
			return true;
		}
	}
	return false;
}

/* Hard-stop match of the runner policy (off when its enabled is false) */
static bool
HardStopMatch(const AigwRunnerPolicy *runner, const AigwFailureInfo *info, AigwRuleMatch *m)
{
	PolicyLayer layer = {PolicyRoot(runner->hard_stop_policy), NULL};

	if (!LayerBool(&layer, "enabled", true))
		return false;
	return FirstPolicyMatch(&layer, info, SRC_HARD_STOP, "hardStopPolicy", HardStopSpecs, m);
}

/* The object under key of a runtime override, or NULL */
static JsonbContainer *
OverrideSection(Jsonb *runtime_override, const char *key)
{
	JsonbValue	v;

	if (runtime_override == NULL || !GetKey(PolicyRoot(runtime_override), key, &v))
		return NULL;
	return ObjectOf(&v);
}

/* True when a runner policy status means "not active" */
static bool
RunnerInactive(const char *status)
{
	int			start = 0;
	int			len;

	if (status == NULL)
		return false;
	len = strlen(status);
	TrimSpace(status, &start, &len);
	return len > 0 && strcmp(status, "active") != 0;
}

static const AigwRuleMatch NoMatch = {NULL, NULL, NULL, NULL};

/* ---------------------------------------------------------------------
 * Decisions
 * --------------------------------------------------------------------- */

/* Retry the same client? */
void
AigwRetryDecide(Jsonb *retry_policy, Jsonb *runtime_override, const AigwFailureInfo *info,
				AigwRetryDecision *out)
{
	PolicyLayer layer = {PolicyRoot(retry_policy), OverrideSection(runtime_override, "retryPolicy")};

	out->match = NoMatch;
	if (info->local_rate_limit)
	{
		out->retry = false;
		out->reason = "local_rate_limit_wait_queue";
		SetMatch(&out->match, SRC_RATE_LIMITS, "rateLimitPolicy", "localCapacity", pstrdup("exceeded"));
		return;
	}
	if (!LayerBool(&layer, "enabled", true))
	{
		out->retry = false;
		out->reason = "retry_disabled";
		SetMatch(&out->match, SRC_RETRY, "retryPolicy", "enabled", pstrdup("false"));
		return;
	}
	if (FirstPolicyMatch(&layer, info, SRC_RETRY, "retryPolicy", DenySpecs, &out->match))
	{
		out->retry = false;
		out->reason = "retry_deny_policy";
		return;
	}
	if (FirstPolicyMatch(&layer, info, SRC_RETRY, "retryPolicy", AllowSpecs, &out->match))
	{
		out->retry = true;
		out->reason = "retry_allow_policy";
		return;
	}
	out->retry = info->retryable;
	out->reason = info->retryable ? "client_retryable" : "client_non_retryable";
	SetMatch(&out->match, SRC_CLIENT, "ClientError", "Retryable",
			 pstrdup(info->retryable ? "true" : "false"));
}

/* The action for the failure's category from the policy's actions (default next) */
static char *
FailoverAction(const PolicyLayer *layer, const AigwFailureInfo *info)
{
	JsonbValue	v;
	JsonbContainer *actions;
	JsonbValue	a;

	if (LayerGet(layer, "actions", &v) && (actions = ObjectOf(&v)) != NULL &&
		GetKey(actions, info->category, &a) && a.type == jbvString)
	{
		int			start = 0;
		int			len = a.val.string.len;

		TrimSpace(a.val.string.val, &start, &len);
		if (len > 0)
			return pnstrdup(a.val.string.val + start, len);
	}
	return pstrdup("next");
}

/* Sets a stop decision */
static void
FailoverStop(AigwFailoverDecision *out, const char *reason)
{
	out->retry = false;
	out->action = pstrdup("stop");
	out->reason = reason;
	out->cooldown_seconds = 0;
}

/* Fail over to the next candidate? */
void
AigwFailoverDecide(const AigwRunnerPolicy *runner, Jsonb *runtime_override,
				   const AigwFailureInfo *info, AigwFailoverDecision *out)
{
	PolicyLayer layer;
	char	   *action;
	int			cooldown;

	out->match = NoMatch;
	if (RunnerInactive(runner->status))
	{
		FailoverStop(out, "runner_policy_disabled");
		SetMatch(&out->match, SRC_RUNNER, "runnerPolicy", "status", pstrdup(runner->status));
		return;
	}
	if (HardStopMatch(runner, info, &out->match))
	{
		FailoverStop(out, "hard_stop_policy");
		return;
	}
	layer.base = PolicyRoot(runner->failover_policy);
	layer.over = OverrideSection(runtime_override, "failoverPolicy");
	if (!LayerBool(&layer, "enabled", true))
	{
		JsonbValue	v;

		FailoverStop(out, "failover_disabled");
		SetMatch(&out->match, GetKey(layer.over, "enabled", &v) ? SRC_OVERRIDE : SRC_FAILOVER,
				 "failoverPolicy", "enabled", pstrdup("false"));
		return;
	}
	if (MatchWithSources(&layer, info, DenySpecs, &out->match))
	{
		FailoverStop(out, "failover_deny_policy");
		return;
	}
	action = FailoverAction(&layer, info);
	cooldown = LayerInt(&layer, "cooldownSeconds");
	if (cooldown <= 0)
		cooldown = 300;
	if (info->local_rate_limit && info->local_rate_limit_retryable)
	{
		out->retry = true;
		out->action = pstrdup("next");
		out->reason = "local_rate_limit_try_next_candidate";
		out->cooldown_seconds = cooldown;
		SetMatch(&out->match, SRC_RATE_LIMITS, "rateLimitPolicy", "localCapacity", pstrdup("exceeded"));
		return;
	}
	if (MatchWithSources(&layer, info, AllowSpecs, &out->match))
	{
		out->retry = true;
		out->action = action;
		out->reason = "failover_allow_policy";
		out->cooldown_seconds = cooldown;
		return;
	}
	if (info->retryable)
	{
		out->retry = true;
		out->action = action;
		out->reason = "client_retryable";
		out->cooldown_seconds = cooldown;
		SetMatch(&out->match, SRC_CLIENT, "ClientError", "Retryable", pstrdup("true"));
		return;
	}
	FailoverStop(out, "client_non_retryable");
	SetMatch(&out->match, SRC_CLIENT, "ClientError", "Retryable", pstrdup("false"));
}

/* Demote the candidate's priority? */
void
AigwDemoteDecide(const AigwRunnerPolicy *runner, const AigwFailureInfo *info,
				 AigwDemoteDecision *out)
{
	PolicyLayer layer = {PolicyRoot(runner->priority_demote_policy), NULL};
	AigwRuleMatch ignored;

	out->demote = false;
	out->step = 0;
	out->match = NoMatch;
	if (RunnerInactive(runner->status))
	{
		out->reason = "runner_policy_disabled";
		return;
	}
	if (HardStopMatch(runner, info, &ignored))
	{
		out->reason = "hard_stop_policy";
		return;
	}
	if (!LayerBool(&layer, "enabled", false))
	{
		out->reason = "priority_demote_disabled";
		return;
	}
	if (FirstPolicyMatch(&layer, info, SRC_DEMOTE, "priorityDemotePolicy", HardStopSpecs, &out->match))
	{
		out->demote = true;
		out->reason = "priority_demote_policy";
		out->step = LayerInt(&layer, "demoteStep");
		if (out->step <= 0)
			out->step = 100;
		return;
	}
	out->reason = "priority_demote_no_match";
}

/* ---------------------------------------------------------------------
 * jsonb in and out
 * --------------------------------------------------------------------- */

/* Raises the error for a malformed argument */
static void
BadArgument(const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s", what),
			 errdetail("%s", detail)));
}

/* Reads an error jsonb {"code","message","status","retryable","localRateLimit","localRateLimitRetryable"} */
void
AigwFailureFromJsonb(Jsonb *error, AigwFailure *out)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;

	memset(out, 0, sizeof(*out));
	out->local_rate_limit_retryable = true;
	if (!JB_ROOT_IS_OBJECT(error))
		BadArgument("failure", "The failure must be a JSON object.");
	it = JsonbIteratorInit(&error->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "code") == 0 || strcmp(key, "message") == 0)
		{
			char	   *s = NULL;

			if (v.type == jbvString)
				s = pnstrdup(v.val.string.val, v.val.string.len);
			else if (v.type != jbvNull)
				BadArgument("failure", psprintf("\"%s\" must be a string or null.", key));
			if (key[0] == 'c')
				out->code = s;
			else
				out->message = s;
		}
		else if (strcmp(key, "status") == 0)
		{
			int64		n = 0;

			if (v.type == jbvNull)
				continue;
			if (v.type != jbvNumeric || strpbrk(numeric_normalize(v.val.numeric), ".eEN") != NULL ||
				!NumberToInt(&v, &n) || (n != 0 && (n < 100 || n > 999)))
				BadArgument("failure", "\"status\" must be an integer HTTP status (100-999), 0 or null.");
			out->status = (int) n;
		}
		else if (strcmp(key, "retryable") == 0 || strcmp(key, "localRateLimit") == 0 ||
				 strcmp(key, "localRateLimitRetryable") == 0)
		{
			bool		b = false;

			if (v.type == jbvBool)
				b = v.val.boolean;
			else if (v.type != jbvNull)
				BadArgument("failure", psprintf("\"%s\" must be a boolean or null.", key));
			else if (strcmp(key, "localRateLimitRetryable") == 0)
				b = true;
			if (strcmp(key, "retryable") == 0)
				out->retryable = b;
			else if (strcmp(key, "localRateLimit") == 0)
				out->local_rate_limit = b;
			else
				out->local_rate_limit_retryable = b;
		}
		else
			BadArgument("failure",
						psprintf("Unknown key \"%s\"; expected code, message, status, retryable, localRateLimit, localRateLimitRetryable.", key));
	}
}

/* A nested object of a runner policy row as its own jsonb; NULL when absent or null */
static Jsonb *
RowPolicy(JsonbContainer *row, const char *key)
{
	JsonbValue	v;

	if (!GetKey(row, key, &v) || v.type == jbvNull)
		return NULL;
	if (ObjectOf(&v) == NULL)
		BadArgument("runner policy", psprintf("\"%s\" must be a JSON object.", key));
	return JsonbValueToJsonb(&v);
}

/* Reads a runner policy: a gateway_runner_policies row as jsonb (other keys are ignored) */
void
AigwRunnerPolicyFromJsonb(Jsonb *row, AigwRunnerPolicy *out)
{
	JsonbValue	v;

	memset(out, 0, sizeof(*out));
	if (!JB_ROOT_IS_OBJECT(row))
		BadArgument("runner policy", "The runner policy must be a JSON object (a gateway_runner_policies row).");
	if (GetKey(&row->root, "status", &v) && v.type != jbvNull)
	{
		if (v.type != jbvString)
			BadArgument("runner policy", "\"status\" must be a string.");
		out->status = pnstrdup(v.val.string.val, v.val.string.len);
	}
	out->failover_policy = RowPolicy(&row->root, "failover_policy");
	out->hard_stop_policy = RowPolicy(&row->root, "hard_stop_policy");
	out->priority_demote_policy = RowPolicy(&row->root, "priority_demote_policy");
}

/* Pushes "match": {source, policy, rule, value} or null */
static void
PushMatch(JsonbParseState **st, const AigwRuleMatch *m)
{
	if (m->source == NULL)
	{
		AigwPushText(st, "match", NULL);
		return;
	}
	AigwPushKey(st, "match");
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	AigwPushText(st, "source", m->source);
	AigwPushText(st, "policy", m->policy);
	AigwPushText(st, "rule", m->rule);
	AigwPushText(st, "value", m->value);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* Pushes the failure info's keys into the open object */
static void
PushInfoFields(JsonbParseState **st, const AigwFailureInfo *info)
{
	AigwPushText(st, "code", info->code);
	AigwPushText(st, "message", ValidText(info->message));
	AigwPushInt(st, "status", info->status);
	AigwPushText(st, "category", info->category);
	AigwPushText(st, "target", info->target);
	AigwPushBool(st, "retryable", info->retryable);
	AigwPushBool(st, "localRateLimit", info->local_rate_limit);
	AigwPushBool(st, "localRateLimitRetryable", info->local_rate_limit_retryable);
}

/* Pushes "info": {...} */
static void
PushInfo(JsonbParseState **st, const AigwFailureInfo *info)
{
	AigwPushKey(st, "info");
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	PushInfoFields(st, info);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* The failure info as jsonb */
Jsonb *
AigwFailureInfoToJsonb(const AigwFailureInfo *info)
{
	JsonbParseState *st = NULL;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushInfoFields(&st, info);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* A retry decision as jsonb */
Jsonb *
AigwRetryDecisionToJsonb(const AigwRetryDecision *d, const AigwFailureInfo *info)
{
	JsonbParseState *st = NULL;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	AigwPushBool(&st, "retry", d->retry);
	AigwPushText(&st, "reason", d->reason);
	PushMatch(&st, &d->match);
	PushInfo(&st, info);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* A failover decision as jsonb */
Jsonb *
AigwFailoverDecisionToJsonb(const AigwFailoverDecision *d, const AigwFailureInfo *info)
{
	JsonbParseState *st = NULL;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	AigwPushBool(&st, "retry", d->retry);
	AigwPushText(&st, "action", d->action);
	AigwPushText(&st, "reason", d->reason);
	AigwPushInt(&st, "cooldownSeconds", d->cooldown_seconds);
	PushMatch(&st, &d->match);
	PushInfo(&st, info);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* A demotion decision as jsonb */
Jsonb *
AigwDemoteDecisionToJsonb(const AigwDemoteDecision *d, const AigwFailureInfo *info)
{
	JsonbParseState *st = NULL;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	AigwPushBool(&st, "demote", d->demote);
	AigwPushText(&st, "reason", d->reason);
	AigwPushInt(&st, "step", d->step);
	PushMatch(&st, &d->match);
	PushInfo(&st, info);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* ---------------------------------------------------------------------
 * SQL-callable functions
 * --------------------------------------------------------------------- */

/* A jsonb argument that must be an object; SQL NULL reads as {} (NULL) */
static Jsonb *
ObjectArg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	Jsonb	   *j;

	if (PG_ARGISNULL(argno))
		return NULL;
	j = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_OBJECT(j))
		BadArgument(what, psprintf("The %s must be a JSON object.", what));
	return j;
}

/* The failure argument, classified */
static void
FailureArg(FunctionCallInfo fcinfo, int argno, AigwFailureInfo *info)
{
	AigwFailure failure;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the failure must not be null")));
	AigwFailureFromJsonb(PG_GETARG_JSONB_P(argno), &failure);
	AigwClassifyFailure(&failure, info);
}

/* The runner policy argument */
static void
RunnerArg(FunctionCallInfo fcinfo, int argno, AigwRunnerPolicy *runner)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the runner policy must not be null")));
	AigwRunnerPolicyFromJsonb(PG_GETARG_JSONB_P(argno), runner);
}

PG_FUNCTION_INFO_V1(aigw_failure_category);

/* failure_category(code text, status int, message text): category of a failure */
Datum
aigw_failure_category(PG_FUNCTION_ARGS)
{
	const char *code = PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			status = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	const char *message = PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2));

	PG_RETURN_TEXT_P(cstring_to_text(AigwFailureCategory(TrimLower(code, strlen(code)),
														 status, message)));
}

PG_FUNCTION_INFO_V1(aigw_classify_failure);

/* classify_failure(error jsonb): the failure info */
Datum
aigw_classify_failure(PG_FUNCTION_ARGS)
{
	AigwFailureInfo info;

	FailureArg(fcinfo, 0, &info);
	PG_RETURN_JSONB_P(AigwFailureInfoToJsonb(&info));
}

PG_FUNCTION_INFO_V1(aigw_retry_decision);

/* retry_decision(retry_policy jsonb, error jsonb, runtime_policy_override jsonb) */
Datum
aigw_retry_decision(PG_FUNCTION_ARGS)
{
	Jsonb	   *policy = ObjectArg(fcinfo, 0, "retry policy");
	Jsonb	   *override = ObjectArg(fcinfo, 2, "runtime policy override");
	AigwFailureInfo info;
	AigwRetryDecision d;

	FailureArg(fcinfo, 1, &info);
	AigwRetryDecide(policy, override, &info, &d);
	PG_RETURN_JSONB_P(AigwRetryDecisionToJsonb(&d, &info));
}

PG_FUNCTION_INFO_V1(aigw_failover_decision);

/* failover_decision(runner_policy jsonb, runtime_policy_override jsonb, error jsonb) */
Datum
aigw_failover_decision(PG_FUNCTION_ARGS)
{
	AigwRunnerPolicy runner;
	Jsonb	   *override = ObjectArg(fcinfo, 1, "runtime policy override");
	AigwFailureInfo info;
	AigwFailoverDecision d;

	RunnerArg(fcinfo, 0, &runner);
	FailureArg(fcinfo, 2, &info);
	AigwFailoverDecide(&runner, override, &info, &d);
	PG_RETURN_JSONB_P(AigwFailoverDecisionToJsonb(&d, &info));
}

PG_FUNCTION_INFO_V1(aigw_demote_decision);

/* demote_decision(runner_policy jsonb, error jsonb) */
Datum
aigw_demote_decision(PG_FUNCTION_ARGS)
{
	AigwRunnerPolicy runner;
	AigwFailureInfo info;
	AigwDemoteDecision d;

	RunnerArg(fcinfo, 0, &runner);
	FailureArg(fcinfo, 1, &info);
	AigwDemoteDecide(&runner, &info, &d);
	PG_RETURN_JSONB_P(AigwDemoteDecisionToJsonb(&d, &info));
}

PG_FUNCTION_INFO_V1(aigw_bench_failover_decisions);

/*
 * bench_failover_decisions(runner_policy, runtime_policy_override, error, n):
 * classifies the failure and decides failover n times in C, reporting the rate.
 */
Datum
aigw_bench_failover_decisions(PG_FUNCTION_ARGS)
{
	AigwRunnerPolicy runner;
	Jsonb	   *override = ObjectArg(fcinfo, 1, "runtime policy override");
	AigwFailure failure;
	int32		n = PG_GETARG_INT32(3);
	MemoryContext loop;
	MemoryContext old;
	instr_time	start;
	instr_time	elapsed;
	double		secs;
	int			retries = 0;
	JsonbParseState *st = NULL;
	JsonbValue	v;

	if (n <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the number of decisions must be positive")));
	RunnerArg(fcinfo, 0, &runner);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the failure must not be null")));
	AigwFailureFromJsonb(PG_GETARG_JSONB_P(2), &failure);

	loop = AllocSetContextCreate(CurrentMemoryContext, "aigw policy bench", ALLOCSET_SMALL_SIZES);
	INSTR_TIME_SET_CURRENT(start);
	for (int32 i = 0; i < n; i++)
	{
		AigwFailureInfo info;
		AigwFailoverDecision d;

		old = MemoryContextSwitchTo(loop);
		AigwClassifyFailure(&failure, &info);
		AigwFailoverDecide(&runner, override, &info, &d);
		retries += d.retry;
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop);
		CHECK_FOR_INTERRUPTS();
	}
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	MemoryContextDelete(loop);
	secs = INSTR_TIME_GET_DOUBLE(elapsed);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	AigwPushInt(&st, "decisions", n);
	AigwPushInt(&st, "retryDecisions", retries);
	AigwPushKey(&st, "elapsedSeconds");
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(secs)));
	pushJsonbValue(&st, WJB_VALUE, &v);
	AigwPushInt(&st, "decisionsPerSecond", secs > 0 ? (int64) (n / secs) : 0);
	AigwPushKey(&st, "microsecondsPerDecision");
	v.val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric,
														Float8GetDatum(secs * 1e6 / n)));
	pushJsonbValue(&st, WJB_VALUE, &v);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}
