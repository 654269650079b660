/*
 * jsonb_build.h: "key": value pairs for jsonb objects built with pushJsonbValue.
 */
#ifndef AIGW_JSONB_BUILD_H
#define AIGW_JSONB_BUILD_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/numeric.h"

extern void AigwPushKey(JsonbParseState **st, const char *key);
extern void AigwPushNumeric(JsonbParseState **st, const char *key, Numeric n);
extern void AigwPushInt(JsonbParseState **st, const char *key, int64 i);
extern void AigwPushText(JsonbParseState **st, const char *key, const char *s);
extern void AigwPushBool(JsonbParseState **st, const char *key, bool b);
extern void AigwPushNull(JsonbParseState **st, const char *key);

#endif							/* AIGW_JSONB_BUILD_H */
