/*
 * ratelimit_names.c: the names of rate-limit scope types and metrics, as SQL
 * and the durable tables spell them (seed 003 §8.1), and the rows that name
 * a scope.
 */
#include "aigw.h"
#include "ratelimit.h"

#include "executor/spi.h"

static const char *const rl_scope_names[AIGW_RL_NUM_SCOPES] = {
	"global", "provider", "platform", "client", "base_model", "platform_model",
	"method", "tenant", "user_group", "user", "api_key", "queue"
};

static const char *const rl_metric_names[AIGW_RL_NUM_METRICS] = {
	"tpm_total", "tpm_input", "tpm_output", "rpm", "concurrent", "queue_size"
};

/* Index of name among n names, or -1 */
static int
NameIndex(const char *name, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

/* Looks a scope type up by name */
bool
AigwRlParseScope(const char *name, AigwRlScope *scope)
{
	int			i = NameIndex(name, rl_scope_names, AIGW_RL_NUM_SCOPES);

	if (i >= 0)
		*scope = (AigwRlScope) i;
	return i >= 0;
}

/* Looks a metric up by name */
bool
AigwRlParseMetric(const char *name, AigwRlMetric *metric)
{
	int			i = NameIndex(name, rl_metric_names, AIGW_RL_NUM_METRICS);

	if (i >= 0)
		*metric = (AigwRlMetric) i;
	return i >= 0;
}

/* Name of a scope type */
const char *
AigwRlScopeName(AigwRlScope scope)
{
	Assert(scope >= 0 && scope < AIGW_RL_NUM_SCOPES);
	return rl_scope_names[scope];
}

/* Name of a metric */
const char *
AigwRlMetricName(AigwRlMetric metric)
{
	Assert(metric >= 0 && metric < AIGW_RL_NUM_METRICS);
	return rl_metric_names[metric];
}

/*
 * Reads row i of SPI_tuptable as (scope_type, scope_key, value int8); false
 * when it names no scope a counter can have (an unknown scope type, a NULL,
 * empty or too long key). A NULL value reads as 0.
 */
bool
AigwRlScopeRow(uint64 i, AigwRlScope *scope, char **scope_key, int64 *value)
{
	HeapTuple	t = SPI_tuptable->vals[i];
	TupleDesc	d = SPI_tuptable->tupdesc;
	char	   *type = SPI_getvalue(t, d, 1);
	bool		isnull;
	Datum		v;

	*scope_key = SPI_getvalue(t, d, 2);
	if (type == NULL || *scope_key == NULL || !AigwRlParseScope(type, scope) ||
		strlen(*scope_key) == 0 || strlen(*scope_key) > AIGW_RL_KEY_MAX)
		return false;
	v = SPI_getbinval(t, d, 3, &isnull);
	*value = isnull ? 0 : DatumGetInt64(v);
	return true;
}
