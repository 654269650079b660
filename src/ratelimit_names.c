/*
 * ratelimit_names.c: the names of rate-limit scope types and metrics, as SQL
 * and the durable tables spell them (seed 003 §8.1).
 */
#include "aigw.h"
#include "ratelimit.h"

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
