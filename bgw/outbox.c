/*
 * outbox.c: the outbox worker — delivers task progress callbacks, in
 * server-main mode settlement events (seed 003 §12.2, §14.4), and the cancel
 * requests of cancelled tasks that a provider runs asynchronously.
 *
 * Rows are claimed in one transaction (aigw.outbox_claim), posted with no
 * transaction open, and each result is recorded in another (aigw.outbox_done).
 * The receiver deduplicates by the Idempotency-Key header, so a delivery
 * repeated after a crash is harmless.
 */
#include "aigw.h"
#include "credentials.h"
#include "runtime.h"
#include "worker.h"

#include <signal.h>

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

PGDLLEXPORT void AigwOutboxMain(Datum main_arg);

#define OUTBOX_BATCH 32

int			aigw_outbox_interval_ms = 1000;
char	   *aigw_server_main_token = NULL;

/* Claims due rows; NIL when the extension is absent */
static List *
Claim(MemoryContext target, bool *installed)
{
	List	   *rows = NIL;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	*installed = OidIsValid(get_extension_oid("aigw", true));
	if (*installed)
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "aigw: claim outbox");
		if (SPI_execute(psprintf("SELECT aigw.outbox_claim(%d)", OUTBOX_BATCH), false, 0) == SPI_OK_SELECT)
		{
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				bool		isnull;
				Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

				if (!isnull)
				{
					MemoryContext old = MemoryContextSwitchTo(target);

					rows = lappend(rows, DatumGetJsonbPCopy(d));
					MemoryContextSwitchTo(old);
				}
			}
		}
		SPI_finish();
		PopActiveSnapshot();
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(target);
	pgstat_report_activity(STATE_IDLE, NULL);
	return rows;
}

/* Discards a response body */
static size_t
DiscardBody(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/*
 * Sends one request: method to url with headers and body (NULL: none), under
 * the SSRF guard. Returns NULL when the answer is 2xx (or 404 with
 * ok_if_gone), else the reason. Frees headers.
 */
static char *
SendRequest(CURL *easy, const char *method, const char *url, struct curl_slist *headers,
			const char *body, bool ok_if_gone)
{
	CURLcode	rc;
	long		status = 0;
	char	   *error = NULL;
	AigwOutbound guard;

	curl_easy_reset(easy);
	if (!AigwOutboundPrepare(easy, url, &guard, &error))
	{
		curl_slist_free_all(headers);
		return error;
	}
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	if (body)
	{
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	}
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, DiscardBody);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
	rc = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK)
	{
		/* a connection the SSRF guard refused says so; anything else is curl's reason */
		error = AigwOutboundRefusal(&guard);
		if (error == NULL)
			error = pstrdup(curl_easy_strerror(rc));
	}
	else if ((status < 200 || status >= 300) && !(ok_if_gone && status == 404))
		error = psprintf("receiver answered HTTP %ld", status);
	curl_slist_free_all(headers);
	return error;
}

/*
 * Sends a provider's cancel request (its method, the platform's key); a 404
 * means the provider no longer has the task, which is what was asked.
 */
static char *
DeliverProviderCancel(CURL *easy, Jsonb *row)
{
	char	   *url = AigwJsonbGetText(row, "url");
	char	   *method = AigwJsonbGetText(row, "method");
	char	   *sealed = AigwJsonbGetText(row, "apiKey");
	struct curl_slist *headers = NULL;
	char	   *error = NULL;

	if (url == NULL || method == NULL)
		return pstrdup("the provider has no cancel request for this task");
	if (sealed && sealed[0])
	{
		char	   *key;
		char	   *auth;

		if (!AigwCredentialOpen(sealed, &key, &error))
			return error;
		auth = psprintf("Authorization: Bearer %s", key);
		headers = curl_slist_append(headers, auth);
		explicit_bzero(auth, strlen(auth));
		explicit_bzero(key, strlen(key));
		pfree(auth);
		pfree(key);
	}
	return SendRequest(easy, method, url, headers, NULL, true);
}

/* Posts one callback or settlement row; returns NULL on a 2xx answer, else the reason */
static char *
Deliver(CURL *easy, Jsonb *row)
{
	Jsonb	   *payload = AigwJsonbGetObject(row, "payload");
	char	   *body = payload ? JsonbToCString(NULL, &payload->root, VARSIZE(payload)) : pstrdup("{}");
	struct curl_slist *headers = NULL;

	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, psprintf("Idempotency-Key: %s", AigwJsonbGetText(row, "idempotencyKey")));
	headers = curl_slist_append(headers, psprintf("X-EasyAI-Event-Type: %s", AigwJsonbGetText(row, "eventType")));
	if (aigw_server_main_token && aigw_server_main_token[0])
		headers = curl_slist_append(headers, psprintf("Authorization: Bearer %s", aigw_server_main_token));
	return SendRequest(easy, "POST", AigwJsonbGetText(row, "url"), headers, body, false);
}

/* Records the delivery results in one transaction */
static void
Record(List *rows, List *errors)
{
	ListCell   *lr,
			   *le;
	Oid			types[4] = {TEXTOID, UUIDOID, BOOLOID, TEXTOID};

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "aigw: record outbox deliveries");
	forboth(lr, rows, le, errors)
	{
		Jsonb	   *row = lfirst(lr);
		char	   *error = lfirst(le);
		Datum		values[4];
		char		nulls[4] = {' ', ' ', ' ', error ? ' ' : 'n'};

		values[0] = CStringGetTextDatum(AigwJsonbGetText(row, "kind"));
		values[1] = DirectFunctionCall1(uuid_in, CStringGetDatum(AigwJsonbGetText(row, "id")));
		values[2] = BoolGetDatum(error == NULL);
		values[3] = error ? CStringGetTextDatum(error) : (Datum) 0;
		SPI_execute_with_args("SELECT aigw.outbox_done($1, $2, $3, $4)", 4, types, values, nulls, false, 0);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* Main loop of the outbox worker */
void
AigwOutboxMain(Datum main_arg)
{
	uint32		wait_event;
	MemoryContext cxt;
	CURL	   *easy;

	AigwWorkerConnect();
	AigwClaimPidSlot(&AigwShmem->outbox_pid);
	wait_event = WaitEventExtensionNew("AigwOutboxMain");
	pgstat_report_appname("aigw outbox");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (easy = curl_easy_init()) == NULL)
		elog(FATAL, "could not initialise libcurl");
	cxt = AllocSetContextCreate(TopMemoryContext, "aigw outbox", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		List	   *rows;
		List	   *errors = NIL;
		ListCell   *lc;
		bool		installed;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(cxt);
		MemoryContextSwitchTo(cxt);
		rows = Claim(cxt, &installed);
		foreach(lc, rows)
		{
			Jsonb	   *row = lfirst(lc);
			char	   *kind = AigwJsonbGetText(row, "kind");

			CHECK_FOR_INTERRUPTS();
			if (kind && strcmp(kind, "provider_cancel") == 0)
				errors = lappend(errors, DeliverProviderCancel(easy, row));
			else
				errors = lappend(errors, Deliver(easy, row));
		}
		if (rows != NIL)
		{
			Record(rows, errors);
			MemoryContextSwitchTo(cxt);
			if (list_length(rows) == OUTBOX_BATCH)
				continue;		/* more may be due */
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 installed ? aigw_outbox_interval_ms : aigw_launcher_naptime_ms, wait_event);
		ResetLatch(MyLatch);
	}
}
