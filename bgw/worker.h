/*
 * worker.h: a task worker's in-flight transfers and the provider interface.
 */
#ifndef AIGW_WORKER_H
#define AIGW_WORKER_H

#include "postgres.h"

#include <curl/curl.h>

#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "outbound.h"

typedef struct AigwTransfer AigwTransfer;

/*
 * A provider implements seed 003 §10.1 for the worker: start builds the vendor
 * request and submits it (a curl handle, or a timer for simulation); done
 * normalises what came back into the transfer's outcome.
 */
typedef struct AigwProvider
{
	const char *name;
	void		(*start) (AigwTransfer *t);
	void		(*done) (AigwTransfer *t, CURLcode rc);	/* curl providers */
	void		(*timer) (AigwTransfer *t);	/* timer providers */
} AigwProvider;

struct AigwTransfer
{
	dlist_node	node;
	MemoryContext cxt;
	const AigwProvider *provider;

	/* what the lease handed us */
	pg_uuid_t	task_id;
	pg_uuid_t	attempt_id;
	char		task_id_str[37];
	char		attempt_id_str[37];
	int			attempt_no;
	char	   *kind;
	char	   *model;			/* requested model name */
	char	   *provider_model;	/* vendor model name */
	char	   *base_url;
	char	   *api_key;
	char	   *channel;
	bool		stream;
	bool		simulated;
	int			timeout_ms;
	bool		poll;			/* a poll of the remote task, not a submission */
	char	   *remote_task_id;	/* the provider's id of an asynchronous task */
	Jsonb	   *request;
	Jsonb	   *sim_profile;

	/* event sequence for channel chunks */
	int64		seq;
	bool		unclaimed;		/* started from a hand-off: locked_by is 'handoff' */

	/* curl state */
	CURL	   *easy;
	AigwOutbound outbound;		/* the SSRF guard of easy */
	struct curl_slist *headers;
	char	   *body_out;		/* request body sent */
	bool		client_include_usage;	/* forward the usage chunk to the client */
	char	   *parse_error;	/* set when the provider's response was malformed */
	StringInfoData resp;		/* response body (non-stream) */
	StringInfoData line;		/* partial SSE line */
	long		http_status;
	char	   *retry_after;

	/* stream assembly */
	StringInfoData content;
	char	   *finish_reason;
	char	   *completion_id;
	int64		created;
	int64		prompt_tokens;
	int64		completion_tokens;
	int64		cached_tokens;
	bool		usage_seen;
	bool		done_seen;
	int			chunks;

	/* back-pressure: chunks waiting for channel space */
	List	   *pending;
	bool		paused;

	/* timer providers */
	TimestampTz due;
	int			step;

	/* outcome */
	bool		finished;
	bool		ok;
	char	   *outcome_json;	/* {"ok":..,"result":..,"usage":..} or {"ok":false,"error":..} */
};

/* worker.c services for providers */
extern CURLM *AigwCurlMulti(void);
extern void AigwTransferFinish(AigwTransfer *t, const char *outcome_json, bool ok);
extern void AigwTransferFail(AigwTransfer *t, const char *code, const char *message,
							 int status, bool retryable);
extern void AigwTransferEmitChunk(AigwTransfer *t, const char *json, Size len);
extern void AigwTransferSetTimer(AigwTransfer *t, int delay_ms);

/* providers */
extern const AigwProvider AigwSimulationProvider;
extern const AigwProvider AigwOpenAIProvider;
extern const AigwProvider *AigwLookupProvider(const char *provider_type, bool simulated);

/* small jsonb readers */
extern char *AigwJsonbGetText(Jsonb *jb, const char *key);
extern bool AigwJsonbGetBool(Jsonb *jb, const char *key, bool dflt);
extern int64 AigwJsonbGetInt(Jsonb *jb, const char *key, int64 dflt);
extern Jsonb *AigwJsonbGetObject(Jsonb *jb, const char *key);
extern void AigwAppendJsonString(StringInfo buf, const char *s);

#endif							/* AIGW_WORKER_H */
