/*
 * config.h: declarations shared by the configuration resolver (config.c), merge strategies and
 * conditions (config_merge.c), JSON-schema validation (jsonschema.c) and the Portkey interface
 * (config_portkey.c).
 */
#ifndef AIGW_CONFIG_H
#define AIGW_CONFIG_H

#include "postgres.h"

#include "utils/jsonb.h"

/* Built-in merge strategies; CONFIG_MERGE_CUSTOM calls a SQL function */
typedef enum ConfigMergeKind
{
	CONFIG_MERGE_OVERRIDE,
	CONFIG_MERGE_DEEP,
	CONFIG_MERGE_ARRAY_APPEND,
	CONFIG_MERGE_ARRAY_MERGE,
	CONFIG_MERGE_CUSTOM
} ConfigMergeKind;

/* config_merge.c */
extern bool ConfigMergeKindFromName(const char *name, ConfigMergeKind *kind);
extern Jsonb *ConfigMerge(Jsonb *parent, Jsonb *child, ConfigMergeKind kind,
						  char **array_keys, int n_array_keys);
extern void ConditionValidate(JsonbContainer *cond, const char *path);
extern bool ConditionEvaluate(JsonbContainer *cond, Jsonb *context);
extern bool JsonbValueEquals(JsonbValue *a, JsonbValue *b);
extern bool JsonbContextPath(Jsonb *context, const char *path, JsonbValue *out);

/* jsonschema.c */
extern void JsonSchemaCheckSchema(JsonbContainer *schema, const char *path);
extern void JsonSchemaValidate(JsonbValue *value, JsonbContainer *schema, const char *what);

#endif							/* AIGW_CONFIG_H */
