/*
 * spi_plans.c: statements the hot paths run through SPI again and again
 * (the workers' lease and outcome calls, lease releases, task waits) are
 * planned once per backend and kept; PostgreSQL revalidates a kept plan when
 * what it depends on changes.
 */
#include "aigw.h"

#include "executor/spi.h"

/* The plan in *slot, prepared and kept on first use; call inside SPI_connect */
AigwKeptPlan
AigwKeepPlan(AigwKeptPlan *slot, const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan;

	if (*slot != NULL)
		return *slot;
	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of \"%s\"", sql);
	*slot = plan;
	return plan;
}
