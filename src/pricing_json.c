/*
 * pricing_json.c: numeric and jsonb helpers shared by the pricing files.
 */
#include "aigw.h"
#include "pricing.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/miscnodes.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

/* ---- numeric helpers ---- */

/* Parses a numeric literal */
Numeric
PricingNumFromCString(const char *s)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* a * b */
Numeric
PricingNumMul(Numeric a, Numeric b)
{
	return numeric_mul_opt_error(a, b, NULL);
}

/* a + b */
Numeric
PricingNumAdd(Numeric a, Numeric b)
{
	return numeric_add_opt_error(a, b, NULL);
}

/* a / b with trailing zeros trimmed */
Numeric
PricingNumDiv(Numeric a, Numeric b)
{
	Numeric		q = numeric_div_opt_error(a, b, NULL);

	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(q)));
}

/* Smallest integer not below a */
Numeric
PricingNumCeil(Numeric a)
{
	return DatumGetNumeric(DirectFunctionCall1(numeric_ceil, NumericGetDatum(a)));
}

/* a rounded to scale decimal places, trailing zeros trimmed */
Numeric
PricingNumRound(Numeric a, int scale)
{
	Datum		r = DirectFunctionCall2(numeric_round, NumericGetDatum(a), Int32GetDatum(scale));

	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, r));
}

/* Three-way comparison */
int
PricingNumCmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

/* True when a is zero */
bool
PricingNumIsZero(Numeric a)
{
	return PricingNumCmp(a, int64_to_numeric(0)) == 0;
}

/* ---- jsonb access ---- */

/* Value of key in an object container; NULL when absent or JSON null */
JsonbValue *
PricingField(JsonbContainer *c, const char *key, JsonbValue *buf)
{
	JsonbValue *v;

	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	v = getKeyJsonValueFromContainer(c, key, strlen(key), buf);
	if (v != NULL && v->type == jbvNull)
		return NULL;
	return v;
}

/* Value v (not a JSON null) as ->> renders it, palloc'd */
char *
PricingValueText(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return NULL;				/* keep compiler quiet */
}

/* Nested object under key, NULL when absent; error when not an object */
JsonbContainer *
PricingFieldObject(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = PricingField(c, key, &buf);

	if (v == NULL)
		return NULL;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a JSON object", key)));
	return v->val.binary.data;
}

/* Nested array under key, NULL when absent or not an array */
JsonbContainer *
PricingFieldArray(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = PricingField(c, key, &buf);

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

/* Numeric from a JSON number or numeric string; error otherwise */
Numeric
PricingValueNumeric(JsonbValue *v, const char *key)
{
	Numeric		n;

	if (v->type == jbvNumeric)
		n = v->val.numeric;
	else if (v->type == jbvString)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);
		Datum		d;
		ErrorSaveContext escontext = {T_ErrorSaveContext};

		if (!DirectInputFunctionCallSafe(numeric_in, s, InvalidOid, -1,
										 (Node *) &escontext, &d))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" must be a number, not \"%s\"", key, s)));
		n = DatumGetNumeric(d);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a number", key)));
	if (numeric_is_nan(n) || numeric_is_inf(n) || PricingNumCmp(n, int64_to_numeric(0)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a finite number not below zero", key)));
	return n;
}

/* Non-negative numeric under key, or NULL when absent */
Numeric
PricingFieldNumeric(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = PricingField(c, key, &buf);

	return v == NULL ? NULL : PricingValueNumeric(v, key);
}

/* Non-negative whole number under key, or dflt when absent */
int64
PricingFieldCount(JsonbContainer *c, const char *key, int64 dflt)
{
	Numeric		n = PricingFieldNumeric(c, key);
	bool		err = false;
	int64		r;

	if (n == NULL)
		return dflt;
	if (PricingNumCmp(n, PricingNumCeil(n)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" must be a whole number", key)));
	r = numeric_int8_opt_error(n, &err);
	if (err)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%s\" is out of range", key)));
	return r;
}

/* Text form of a scalar under key (strings, numbers, booleans), or NULL */
char *
PricingFieldText(JsonbContainer *c, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = PricingField(c, key, &buf);

	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return numeric_normalize(v->val.numeric);
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" must be a string, number or boolean", key)));
	}
	return NULL;					/* keep compiler quiet */
}

/* Boolean under key: true, false, or dflt when absent */
bool
PricingFieldBool(JsonbContainer *c, const char *key, bool dflt)
{
	JsonbValue	buf;
	JsonbValue *v = PricingField(c, key, &buf);

	if (v == NULL)
		return dflt;
	if (v->type == jbvBool)
		return v->val.boolean;
	if (v->type == jbvString)
	{
		bool		b;

		if (parse_bool_with_len(v->val.string.val, v->val.string.len, &b))
			return b;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" must be a boolean", key)));
	return dflt;					/* keep compiler quiet */
}

/* Text of the first element of an array under key, or NULL */
char *
PricingFirstArrayText(JsonbContainer *c, const char *key)
{
	JsonbContainer *arr = PricingFieldArray(c, key);
	JsonbValue *v;

	if (arr == NULL || JsonContainerSize(arr) == 0)
		return NULL;
	v = getIthJsonbValueFromContainer(arr, 0);
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return numeric_normalize(v->val.numeric);
	return NULL;
}

/* Root container of a jsonb that must be an object */
JsonbContainer *
PricingRootObject(Jsonb *j, const char *what)
{
	if (j == NULL)
		return NULL;
	if (!JB_ROOT_IS_OBJECT(j))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", what)));
	return &j->root;
}

