/*
 * jsonb_build.c: pushing "key": value pairs into a jsonb object being built,
 * shared by every C file that returns jsonb.
 */
#include "postgres.h"

#include "jsonb_build.h"

#include "utils/numeric.h"


/* Pushes an object key */
void
AigwPushKey(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

/* Pushes key: numeric (JSON null when n is NULL) */
void
AigwPushNumeric(JsonbParseState **st, const char *key, Numeric n)
{
	JsonbValue	v;

	AigwPushKey(st, key);
	if (n == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = n;
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* Pushes key: int64 */
void
AigwPushInt(JsonbParseState **st, const char *key, int64 i)
{
	AigwPushNumeric(st, key, int64_to_numeric(i));
}

/* Pushes key: string (JSON null when s is NULL) */
void
AigwPushText(JsonbParseState **st, const char *key, const char *s)
{
	JsonbValue	v;

	AigwPushKey(st, key);
	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* Pushes key: boolean */
void
AigwPushBool(JsonbParseState **st, const char *key, bool b)
{
	JsonbValue	v;

	AigwPushKey(st, key);
	v.type = jbvBool;
	v.val.boolean = b;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* Pushes key: null */
void
AigwPushNull(JsonbParseState **st, const char *key)
{
	AigwPushText(st, key, NULL);
}
