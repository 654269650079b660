/*
 * aigw.h: shared declarations of the aigw extension.
 */
#ifndef AIGW_H
#define AIGW_H

#include "postgres.h"

#define AIGW_VERSION "1.0"

/* GUCs (aigw.c) */
extern char *aigw_database;
extern char *aigw_role;
extern int	aigw_workers;
extern int	aigw_worker_max_inflight;
extern int	aigw_launcher_naptime_ms;
extern char *aigw_task_progress_callback_url;

/* Plans kept for the life of the backend (spi_plans.c) */
typedef struct _SPI_plan *AigwKeptPlan;
extern AigwKeptPlan AigwKeepPlan(AigwKeptPlan *slot, const char *sql, int nargs, Oid *argtypes);
extern AigwKeptPlan AigwKeepGenericPlan(AigwKeptPlan *slot, const char *sql, int nargs, Oid *argtypes);

/* Launcher (bgw/launcher.c) */
extern void AigwRegisterLauncher(void);

#endif							/* AIGW_H */
