/*
 * retention.h: retention of finished tasks (retention.c).
 */
#ifndef AIGW_RETENTION_H
#define AIGW_RETENTION_H

#include "postgres.h"

/* aigw.task_retention in minutes; 0 keeps finished tasks forever */
extern int	aigw_task_retention_min;

extern void AigwRetentionInit(void);

#endif							/* AIGW_RETENTION_H */
