/*
 * aigw.c: module entry point, GUCs and version.
 */
#include "aigw.h"
#include "credentials.h"
#include "http_entry.h"
#include "outbound.h"
#include "ratelimit.h"
#include "retention.h"
#include "runtime.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC_EXT(.name = "aigw", .version = AIGW_VERSION);

char	   *aigw_database = NULL;
char	   *aigw_role = NULL;
int			aigw_workers = 2;
int			aigw_worker_max_inflight = 256;
int			aigw_launcher_naptime_ms = 10000;

char	   *aigw_run_mode = NULL;
bool		aigw_allow_request_test_mode = false;
bool		aigw_start_at_submit_enabled = true;
int			aigw_task_lease_timeout_ms = 30000;
char	   *aigw_task_progress_callback_url = NULL;
char	   *aigw_settlement_url = NULL;
int			aigw_outbox_max_attempts = 10;

/* aigw.run_mode accepts production or simulation */
static bool
CheckRunMode(char **newval, void **extra, GucSource source)
{
	if (strcmp(*newval, "production") == 0 || strcmp(*newval, "simulation") == 0)
		return true;
	GUC_check_errdetail("aigw.run_mode must be \"production\" or \"simulation\".");
	return false;
}

/* Defines the aigw.* GUCs and reserves the prefix */
static void
DefineGucs(void)
{
	DefineCustomStringVariable("aigw.database",
							   "Database in which the aigw background workers run.",
							   NULL, &aigw_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("aigw.role",
							   "Role the aigw background workers connect as (empty: bootstrap superuser).",
							   NULL, &aigw_role, "",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.workers",
							"Number of task workers the launcher starts.",
							NULL, &aigw_workers, 2, 0, 64,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.worker_max_inflight",
							"Maximum concurrent provider transfers per task worker.",
							NULL, &aigw_worker_max_inflight, 256, 1, 65536,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.launcher_naptime",
							"How long the launcher sleeps between checks when idle.",
							NULL, &aigw_launcher_naptime_ms, 10000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.reaper_interval",
							"How often the reaper recovers interrupted tasks.",
							NULL, &aigw_reaper_interval_ms, 1000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("aigw.run_mode",
							   "production, or simulation to simulate every provider call.",
							   NULL, &aigw_run_mode, "production",
							   PGC_SUSET, 0, CheckRunMode, NULL, NULL);
	DefineCustomBoolVariable("aigw.allow_request_test_mode",
							 "Lets any signed-in user ask for simulation per request (X-EasyAI-Test-Mode); otherwise only power users, managers and internal services may, and API keys whose feature_flags.request_test_mode allows it.",
							 NULL, &aigw_allow_request_test_mode, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("aigw.start_at_submit",
							 "aigw.submit_task starts a task's first attempt itself when a worker of the database can take it (off: every task is leased from the queue).",
							 NULL, &aigw_start_at_submit_enabled, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.task_lease_timeout",
							"A running task whose worker sent no heartbeat for this long is recovered; workers heartbeat four times as often.",
							NULL, &aigw_task_lease_timeout_ms, 30000, 400, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("aigw.task_progress_callback_url",
							   "URL task events are delivered to (server-main mode); empty: none.",
							   NULL, &aigw_task_progress_callback_url, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("aigw.settlement_url",
							   "server-main endpoint settlement events are delivered to; empty: not delivered (standalone).",
							   NULL, &aigw_settlement_url, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("aigw.server_main_token",
							   "Bearer token sent with callbacks and settlement events.",
							   NULL, &aigw_server_main_token, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.outbox_interval",
							"How often the outbox worker looks for due deliveries.",
							NULL, &aigw_outbox_interval_ms, 1000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.outbox_max_attempts",
							"Deliveries of one outbox row before it is marked failed.",
							NULL, &aigw_outbox_max_attempts, 10, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	AigwRuntimeShmemInit();
	AigwClientsInit();
	MarkGUCPrefixReserved("aigw");
}

/* Module load: GUCs always; background workers only when preloaded */
void
_PG_init(void)
{
	AigwTasksInit();			/* first: its commit callback runs after the rate limits' */
	AigwRateLimitInit();
	AigwRetentionInit();
	AigwHttpInit();
	AigwCredentialInit();
	AigwOutboundInit();
	DefineGucs();
	if (!process_shared_preload_libraries_in_progress)
		return;
	AigwRegisterLauncher();
}

PG_FUNCTION_INFO_V1(aigw_version);

/* Returns the version of the loaded aigw library */
Datum
aigw_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(AIGW_VERSION));
}
