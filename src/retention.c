/*
 * retention.c: how long finished tasks, their attempts and events are kept.
 *
 * Tasks are reaped, not partitioned: aigw.purge_finished_tasks() deletes
 * finished tasks older than aigw.task_retention in small batches and the
 * reaper worker calls it; see docs/data-model.md.
 */
#include "retention.h"

#include <limits.h>

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

int			aigw_task_retention_min = 7 * MINS_PER_HOUR * HOURS_PER_DAY;

/* Defines aigw.task_retention */
void
AigwRetentionInit(void)
{
	DefineCustomIntVariable("aigw.task_retention",
							"How long finished tasks, their attempts and events are kept.",
							"0 keeps them forever. Older finished tasks are deleted in batches by the reaper.",
							&aigw_task_retention_min, 7 * MINS_PER_HOUR * HOURS_PER_DAY, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MIN, NULL, NULL, NULL);
}

PG_FUNCTION_INFO_V1(aigw_task_retention);

/* Returns aigw.task_retention as an interval, or null when retention is off */
Datum
aigw_task_retention(PG_FUNCTION_ARGS)
{
	Interval   *result;
	int			minutes = aigw_task_retention_min;

	if (minutes <= 0)
		PG_RETURN_NULL();
	result = (Interval *) palloc0(sizeof(Interval));
	result->day = minutes / (MINS_PER_HOUR * HOURS_PER_DAY);
	result->time = (int64) (minutes % (MINS_PER_HOUR * HOURS_PER_DAY)) * USECS_PER_MINUTE;
	PG_RETURN_INTERVAL_P(result);
}
