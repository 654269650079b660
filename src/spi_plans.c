/*
 * spi_plans.c: statements the hot paths run through SPI again and again
 * (the workers' lease and outcome calls, lease releases, task waits) are
 * planned once per backend and kept; PostgreSQL revalidates a kept plan when
 * what it depends on changes.
 */
#include "aigw.h"

#include "executor/spi.h"
#include "nodes/parsenodes.h"

/* The plan in *slot, prepared with the cursor options and kept on first use */
static AigwKeptPlan
KeepPlan(AigwKeptPlan *slot, const char *sql, int nargs, Oid *argtypes, int options)
{
	SPIPlanPtr	plan;

	if (*slot != NULL)
		return *slot;
	plan = SPI_prepare_cursor(sql, nargs, argtypes, options);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of \"%s\"", sql);
	*slot = plan;
	return plan;
}

/* The plan in *slot, prepared and kept on first use; call inside SPI_connect */
AigwKeptPlan
AigwKeepPlan(AigwKeptPlan *slot, const char *sql, int nargs, Oid *argtypes)
{
	return KeepPlan(slot, sql, nargs, argtypes, 0);
}

/*
 * The same with one generic plan for every execution. The plan cache plans a
 * statement again for its parameters whenever its estimate of the generic
 * plan is dearer than the plans for given values: for a lookup by a key whose
 * statistics are not known yet that is every time, though the plan is the same.
 */
AigwKeptPlan
AigwKeepGenericPlan(AigwKeptPlan *slot, const char *sql, int nargs, Oid *argtypes)
{
	return KeepPlan(slot, sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
}
