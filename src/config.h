/*
 * config.h: declarations shared by the configuration resolver (config.c), merge strategies and
 * conditions (config_merge.c), JSON-schema validation (jsonschema.c) and the Portkey interface
 * (config_portkey.c).
 */
#ifndef AIGW_CONFIG_H
#define AIGW_CONFIG_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* Built-in merge strategies; CONFIG_MERGE_CUSTOM calls a SQL function */
typedef enum ConfigMergeKind
{
	CONFIG_MERGE_OVERRIDE,
	CONFIG_MERGE_DEEP,
	CONFIG_MERGE_ARRAY_APPEND,
	CONFIG_MERGE_ARRAY_MERGE,
	CONFIG_MERGE_CUSTOM
} ConfigMergeKind;

/* Empty tables whose relcache invalidation is the signal that configuration changed */
#define CFG_SIGNAL_META "config_cache_meta_signal"
#define CFG_SIGNAL_STORE "config_cache_store_signal"

typedef struct CfgLevel
{
	char	   *name;
	char	   *parent;
	char	   *scope_key;		/* NULL: unscoped (global) */
} CfgLevel;

typedef struct CfgStrategy
{
	char	   *name;
	ConfigMergeKind kind;
	FmgrInfo	flinfo;			/* custom strategies only */
} CfgStrategy;

typedef struct CfgType
{
	char	   *name;
	CfgStrategy *strategy;
	Jsonb	   *default_value;
	bool		supports_tier;
	char	  **array_keys;
	int			n_array_keys;
} CfgType;

typedef struct CfgPeriod
{
	bool		active;
	TimestampTz from;
	TimestampTz to;				/* DT_NOEND when open */
} CfgPeriod;

typedef struct CfgRule
{
	char	   *parent;
	char	   *child;
	char	   *type;
	bool		enabled;
	CfgPeriod	period;
	CfgStrategy *custom;
	char	   *conflict;
	Jsonb	   *condition;
} CfgRule;

typedef struct CfgTierMap
{
	char	   *tier;
	char	   *type;
	Jsonb	   *value;
	bool		tier_active;
	CfgPeriod	period;
	Jsonb	   *condition;
} CfgTierMap;

typedef struct CfgSnapshot
{
	CfgLevel   *levels;
	int			nlevels;
	CfgStrategy *strategies;
	int			nstrategies;
	CfgType    *types;
	int			ntypes;
	CfgRule    *rules;
	int			nrules;
	CfgTierMap *tiermaps;
	int			ntiermaps;
} CfgSnapshot;

/* A stored row of the unified config store fetched for one resolution */
typedef struct CfgRow
{
	char	   *level;
	char	   *scope;
	Jsonb	   *value;
	int			version;
	CfgPeriod	period;
	char	   *tier;
	Jsonb	   *condition;
	TimestampTz created;
} CfgRow;

/* config.c */
extern Jsonb *ConfigResolveCached(text *type, text *level, text *scope, Jsonb *context);

/* config_load.c */
extern CfgSnapshot *ConfigLoadSnapshot(MemoryContext cxt, Oid *signal_meta, Oid *signal_store);
extern CfgStrategy *ConfigFindStrategy(CfgSnapshot *s, const char *name);
extern CfgRow *ConfigFetchRows(const char *type, char **levels, char **scopes, int npairs, int *nrows);

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
