/*
 * ratelimit_sql.c: the SQL interface of the rate limits (src/ratelimit.c):
 * requirements and admissions as jsonb, the windows view, the benchmark.
 */
#include "jsonb_build.h"
#include "ratelimit.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

/* A scope type argument, or an error naming it */
static AigwRlScope
RlScopeArg(text *t)
{
	char	   *name = text_to_cstring(t);
	AigwRlScope scope;

	if (!AigwRlParseScope(name, &scope))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown rate-limit scope type \"%s\"", name)));
	return scope;
}

/* A jsonb object's string member as a C string, or NULL */
static char *
RlJsonStr(JsonbContainer *obj, const char *name)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(obj, name, strlen(name), &v) == NULL ||
		v.type == jbvNull)
		return NULL;
	if (v.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit field \"%s\" must be a string", name)));
	return pnstrdup(v.val.string.val, v.val.string.len);
}

/* A jsonb object's integer member, or dflt when absent */
static int64
RlJsonInt(JsonbContainer *obj, const char *name, int64 dflt)
{
	JsonbValue	v;
	bool		err = false;
	int64		r;

	if (getKeyJsonValueFromContainer(obj, name, strlen(name), &v) == NULL ||
		v.type == jbvNull)
		return dflt;
	if (v.type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit field \"%s\" must be a number", name)));
	r = numeric_int8_opt_error(v.val.numeric, &err);
	/* a display scale of 0 is a whole number; otherwise compare (100.0 is whole too) */
	if (err ||
		(DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(v.val.numeric))) != 0 &&
		 !DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(v.val.numeric),
										   NumericGetDatum(int64_to_numeric(r))))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit field \"%s\" must be a whole number", name)));
	return r;
}

/* A jsonb object's member that must fit an int32 (zero or less when out of range) */
static int32
RlJsonInt32(JsonbContainer *obj, const char *name, int32 dflt)
{
	int64		v = RlJsonInt(obj, name, dflt);

	return (v < PG_INT32_MIN || v > PG_INT32_MAX) ? 0 : (int32) v;
}

/* A jsonb object's boolean member, or dflt when absent */
static bool
RlJsonBool(JsonbContainer *obj, const char *name, bool dflt)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(obj, name, strlen(name), &v) == NULL ||
		v.type == jbvNull)
		return dflt;
	if (v.type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit field \"%s\" must be a boolean", name)));
	return v.val.boolean;
}

/*
 * Parses a requirements array (or an admission result with "grants") into
 * reqs; grants also carry their windowStart.  Returns the count.
 */
int
AigwRlParseRequirements(Jsonb *j, AigwRlRequirement *reqs, bool grants)
{
	JsonbContainer *arr = &j->root;
	JsonbValue	gv;
	int			n;

	if (!JsonContainerIsArray(arr) || JsonContainerIsScalar(arr))
	{
		if (!grants || !JsonContainerIsObject(arr) ||
			getKeyJsonValueFromContainer(arr, "grants", 6, &gv) == NULL ||
			gv.type != jbvBinary || !JsonContainerIsArray(gv.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg(grants ? "expected an admission with a \"grants\" array"
							: "rate-limit requirements must be a JSON array")));
		arr = gv.val.binary.data;
	}
	n = JsonContainerSize(arr);
	if (n > AIGW_RL_MAX_REQUIREMENTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("an admission may carry at most %d requirements", AIGW_RL_MAX_REQUIREMENTS)));
	for (int i = 0; i < n; i++)
	{
		JsonbValue *ev = getIthJsonbValueFromContainer(arr, i);
		JsonbContainer *o;
		AigwRlRequirement *r = &reqs[i];
		char	   *s;

		if (ev->type != jbvBinary || !JsonContainerIsObject(ev->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("each rate-limit requirement must be a JSON object")));
		o = ev->val.binary.data;
		s = RlJsonStr(o, "scopeType");
		if (s == NULL || !AigwRlParseScope(s, &r->scope_type))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown rate-limit scope type \"%s\"", s ? s : ""),
					 errhint("Scope types: global, provider, platform, client, base_model, "
							 "platform_model, method, tenant, user_group, user, api_key, queue.")));
		r->scope_key = RlJsonStr(o, "scopeKey");
		if (r->scope_key == NULL)
		{
			if (r->scope_type != AIGW_RL_SCOPE_GLOBAL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("rate-limit requirement for scope \"%s\" has no scopeKey", s)));
			r->scope_key = "*";
		}
		s = RlJsonStr(o, "metric");
		if (s == NULL || !AigwRlParseMetric(s, &r->metric))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown rate-limit metric \"%s\"", s ? s : ""),
					 errhint("Metrics: tpm_total, tpm_input, tpm_output, rpm, concurrent, queue_size.")));
		if (getKeyJsonValueFromContainer(o, "limit", 5, &gv) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rate-limit requirement has no limit")));
		r->limit = RlJsonInt(o, "limit", 0);
		r->window_seconds = RlJsonInt32(o, "windowSeconds", 60);
		r->amount = RlJsonInt(o, "amount", r->metric == AIGW_RL_RPM ||
							  !AigwRlMetricIsWindowed(r->metric) ? 1 : 0);
		r->reserve = RlJsonBool(o, "reserve", r->metric != AIGW_RL_RPM);
		r->lease_ttl_seconds = RlJsonInt32(o, "leaseTtlSeconds", 900);
		r->window_start = 0;
		if (grants && AigwRlMetricIsWindowed(r->metric))
		{
			int64		ws = RlJsonInt(o, "windowStart", -1);

			if (ws < 0 || ws > PG_INT64_MAX / USECS_PER_SEC)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("a granted %s window has no valid windowStart",
								AigwRlMetricName(r->metric))));
			r->window_start = AigwRlFromUnixSeconds(ws);
		}
		AigwRlValidate(r);
	}
	return n;
}

/* The admission result: grants when admitted, the refusing scope otherwise */
Jsonb *
AigwRlAdmissionJson(bool admitted, const AigwRlRequirement *reqs, int n, const AigwRlRefusal *ref)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	AigwPushBool(&st, "admitted", admitted);
	if (admitted)
	{
		AigwPushKey(&st, "grants");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < n; i++)
		{
			const AigwRlRequirement *r = &reqs[i];

			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			AigwPushText(&st, "scopeType", AigwRlScopeName(r->scope_type));
			AigwPushText(&st, "scopeKey", r->scope_key);
			AigwPushText(&st, "metric", AigwRlMetricName(r->metric));
			AigwPushInt(&st, "limit", r->limit);
			AigwPushInt(&st, "amount", r->amount);
			if (AigwRlMetricIsWindowed(r->metric))
			{
				AigwPushInt(&st, "windowSeconds", r->window_seconds);
				AigwPushInt(&st, "windowStart", AigwRlUnixSeconds(r->window_start));
				AigwPushBool(&st, "reserve", r->reserve);
			}
			else if (r->metric == AIGW_RL_CONCURRENT)
				AigwPushInt(&st, "leaseTtlSeconds", r->lease_ttl_seconds);
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	else
	{
		const AigwRlRequirement *r = &reqs[ref->index];

		AigwPushKey(&st, "refusedScope");
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		AigwPushText(&st, "scopeType", AigwRlScopeName(r->scope_type));
		AigwPushText(&st, "scopeKey", r->scope_key);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		AigwPushText(&st, "metric", AigwRlMetricName(r->metric));
		AigwPushInt(&st, "limit", ref->limit);
		AigwPushInt(&st, "used", ref->used);
		AigwPushInt(&st, "requested", r->amount);
		AigwPushText(&st, "reason", ref->reason);
		if (ref->retry_after_seconds >= 0)
			AigwPushInt(&st, "retryAfterSeconds", ref->retry_after_seconds);
		else
			AigwPushNull(&st, "retryAfterSeconds");
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_admit);

/* aigw.ratelimit_admit(requirements jsonb, task_id uuid, attempt_id uuid) */
Datum
aigw_ratelimit_admit(PG_FUNCTION_ARGS)
{
	AigwRlRequirement reqs[AIGW_RL_MAX_REQUIREMENTS];
	AigwRlRefusal refusal;
	int			n;
	bool		ok;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rate-limit requirements must not be null")));
	n = AigwRlParseRequirements(PG_GETARG_JSONB_P(0), reqs, false);
	ok = AigwRateLimitAdmit(reqs, n, PG_ARGISNULL(1) ? NULL : PG_GETARG_UUID_P(1),
							PG_ARGISNULL(2) ? NULL : PG_GETARG_UUID_P(2), &refusal);
	PG_RETURN_JSONB_P(AigwRlAdmissionJson(ok, reqs, n, &refusal));
}

/* Actual usage of a metric from a usage object (unified or per metric), or -1 */
static int64
RlUsageFor(JsonbContainer *usage, AigwRlMetric metric)
{
	int64		in = RlJsonInt(usage, "tpm_input", -1);
	int64		out = RlJsonInt(usage, "tpm_output", -1);
	int64		total = RlJsonInt(usage, "tpm_total", -1);

	if (in < 0)
		in = RlJsonInt(usage, "input_tokens", RlJsonInt(usage, "prompt_tokens", -1));
	if (out < 0)
		out = RlJsonInt(usage, "output_tokens", RlJsonInt(usage, "completion_tokens", -1));
	if (total < 0)
		total = RlJsonInt(usage, "total_tokens", in >= 0 && out >= 0 ? in + out : -1);
	switch (metric)
	{
		case AIGW_RL_TPM_INPUT:
			return in;
		case AIGW_RL_TPM_OUTPUT:
			return out;
		case AIGW_RL_TPM_TOTAL:
			return total;
		case AIGW_RL_RPM:
			return RlJsonInt(usage, "rpm", RlJsonInt(usage, "requests", -1));
		default:
			return -1;
	}
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_reconcile);

/* aigw.ratelimit_reconcile(admission jsonb, usage jsonb): reservations become usage */
Datum
aigw_ratelimit_reconcile(PG_FUNCTION_ARGS)
{
	AigwRlRequirement reqs[AIGW_RL_MAX_REQUIREMENTS];
	int64		actual[AIGW_RL_MAX_REQUIREMENTS];
	Jsonb	   *usage = PG_GETARG_JSONB_P(1);
	int			n = AigwRlParseRequirements(PG_GETARG_JSONB_P(0), reqs, true);

	if (!JsonContainerIsObject(&usage->root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("usage must be a JSON object")));
	for (int i = 0; i < n; i++)
	{
		int64		a = RlUsageFor(&usage->root, reqs[i].metric);

		/* a metric the usage does not report keeps its estimate */
		actual[i] = a >= 0 ? a : reqs[i].amount;
	}
	AigwRateLimitReconcile(reqs, n, actual);
	PG_RETURN_INT32(n);
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_release);

/* aigw.ratelimit_release(admission jsonb): gives back what was never sent */
Datum
aigw_ratelimit_release(PG_FUNCTION_ARGS)
{
	AigwRlRequirement reqs[AIGW_RL_MAX_REQUIREMENTS];
	int			n = AigwRlParseRequirements(PG_GETARG_JSONB_P(0), reqs, true);

	AigwRateLimitRelease(reqs, n);
	PG_RETURN_INT32(n);
}

PG_FUNCTION_INFO_V1(aigw_concurrency_release);

/* aigw.concurrency_release(task_id uuid, attempt_id uuid) */
Datum
aigw_concurrency_release(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("task id must not be null")));
	PG_RETURN_INT64(AigwConcurrencyRelease(PG_GETARG_UUID_P(0),
										   PG_ARGISNULL(1) ? NULL : PG_GETARG_UUID_P(1)));
}

PG_FUNCTION_INFO_V1(aigw_concurrency_forget);

/* aigw.concurrency_forget(scope_type, scope_key, lease_value): a deleted unreleased lease */
Datum
aigw_concurrency_forget(PG_FUNCTION_ARGS)
{
	AigwConcurrencyForget(RlScopeArg(PG_GETARG_TEXT_PP(0)),
						  text_to_cstring(PG_GETARG_TEXT_PP(1)), PG_GETARG_INT64(2));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_set_gauge);

/* aigw.ratelimit_set_gauge(scope_type, scope_key, value): sets a queue_size gauge */
Datum
aigw_ratelimit_set_gauge(PG_FUNCTION_ARGS)
{
	AigwRateLimitSetQueueGauge(RlScopeArg(PG_GETARG_TEXT_PP(0)),
							   text_to_cstring(PG_GETARG_TEXT_PP(1)), PG_GETARG_INT64(2));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_recount_queues);

/*
 * aigw.ratelimit_recount_queues(force): corrects drifted queue gauges;
 * null when it could not be done now (queue changes in flight, or not due)
 */
Datum
aigw_ratelimit_recount_queues(PG_FUNCTION_ARGS)
{
	int64		n = AigwRateLimitRecountQueues(PG_GETARG_BOOL(0));

	if (n < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(n);
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_windows);

/* aigw.ratelimit_windows(): every counter as of now, for the console */
Datum
aigw_ratelimit_windows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n;
	AigwRlWindow *wins;

	InitMaterializedSRF(fcinfo, 0);
	wins = AigwRateLimitWindows(&n);
	for (int i = 0; i < n; i++)
	{
		AigwRlWindow *w = &wins[i];
		Datum		v[9];
		bool		nulls[9] = {0};

		if (AigwRlMetricIsWindowed(w->metric))
		{
			v[3] = TimestampTzGetDatum(w->window_start);
			v[4] = Int32GetDatum(w->window_seconds);
			v[5] = TimestampTzGetDatum(w->window_start + (int64) w->window_seconds * USECS_PER_SEC);
		}
		else
			nulls[3] = nulls[4] = nulls[5] = true;
		v[0] = CStringGetTextDatum(AigwRlScopeName(w->scope_type));
		v[1] = CStringGetTextDatum(w->scope_key);
		v[2] = CStringGetTextDatum(AigwRlMetricName(w->metric));
		v[6] = Int64GetDatum(w->used);
		v[7] = Int64GetDatum(w->reserved);
		v[8] = Int64GetDatum(w->limit);
		nulls[8] = w->limit < 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_release_expired);

/* aigw.ratelimit_release_expired() */
Datum
aigw_ratelimit_release_expired(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(AigwRateLimitReleaseExpired());
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_flush);

/* aigw.ratelimit_flush() */
Datum
aigw_ratelimit_flush(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(AigwRateLimitFlush());
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_headroom);

/* aigw.ratelimit_headroom(requirements jsonb) */
Datum
aigw_ratelimit_headroom(PG_FUNCTION_ARGS)
{
	AigwRlRequirement reqs[AIGW_RL_MAX_REQUIREMENTS];
	int			n = AigwRlParseRequirements(PG_GETARG_JSONB_P(0), reqs, false);

	PG_RETURN_FLOAT8(AigwRateLimitHeadroom(reqs, n));
}

PG_FUNCTION_INFO_V1(aigw_ratelimit_bench);

/*
 * aigw.ratelimit_bench(n int, scopes int): runs n admissions, each across
 * `scopes` windows of distinct scope types, in C; returns microseconds per
 * admission.  The counters it uses are private to the calling backend.
 */
Datum
aigw_ratelimit_bench(PG_FUNCTION_ARGS)
{
	int32		n = PG_GETARG_INT32(0);
	int32		scopes = PG_GETARG_INT32(1);
	AigwRlRequirement reqs[AIGW_RL_NUM_SCOPES];
	AigwRlRefusal refusal;
	char		key[64];
	instr_time	start,
				elapsed;

	if (n <= 0 || scopes <= 0 || scopes > AIGW_RL_NUM_SCOPES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bench needs n > 0 and 1 to %d scopes", AIGW_RL_NUM_SCOPES)));
	snprintf(key, sizeof(key), "bench-%d", MyProcPid);
	for (int i = 0; i < scopes; i++)
	{
		reqs[i].scope_type = (AigwRlScope) i;
		reqs[i].scope_key = key;
		reqs[i].metric = i % 2 ? AIGW_RL_TPM_TOTAL : AIGW_RL_RPM;
		reqs[i].limit = PG_INT64_MAX / 2;
		reqs[i].window_seconds = 3600;
		reqs[i].amount = i % 2 ? 100 : 1;
		reqs[i].reserve = i % 2 == 1;
		reqs[i].lease_ttl_seconds = 0;
	}
	INSTR_TIME_SET_CURRENT(start);
	for (int k = 0; k < n; k++)
		if (!AigwRateLimitAdmit(reqs, scopes, NULL, NULL, &refusal))
			elog(ERROR, "bench admission refused");
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	/* give the bench counters back when the caller commits */
	for (int i = 0; i < scopes; i++)
		reqs[i].amount *= n;
	AigwRateLimitRelease(reqs, scopes);
	PG_RETURN_FLOAT8(INSTR_TIME_GET_MICROSEC(elapsed) / (double) n);
}
