/*
 * openai.c: the OpenAI-compatible provider — chat completions (JSON and SSE
 * streams parsed incrementally), embeddings and image generations — over the
 * worker's curl multi handle. Also serves every vendor that speaks this API.
 */
#include "aigw.h"
#include "credentials.h"
#include "runtime.h"
#include "worker.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#define MAX_RESPONSE_BYTES (64 * 1024 * 1024)

/* Parses JSON text into jsonb, returning NULL (and a message) instead of raising */
static Jsonb *
ParseJsonQuietly(const char *text, char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	Jsonb	   *jb = NULL;

	PG_TRY();
	{
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		*error = pstrdup(ed->message);
		FreeErrorData(ed);
		jb = NULL;
	}
	PG_END_TRY();
	return jb;
}

/* Reads member key of the first element of array member arr */
static Jsonb *
FirstElement(Jsonb *jb, const char *arr)
{
	JsonbValue	v;
	JsonbValue *e;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb) ||
		getKeyJsonValueFromContainer(&jb->root, arr, strlen(arr), &v) == NULL ||
		v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
		return NULL;
	e = getIthJsonbValueFromContainer(v.val.binary.data, 0);
	if (e == NULL || e->type != jbvBinary)
		return NULL;
	return JsonbValueToJsonb(e);
}

/* Takes usage numbers from a usage object */
static void
TakeUsage(AigwTransfer *t, Jsonb *usage)
{
	Jsonb	   *details;

	if (usage == NULL)
		return;
	t->usage_seen = true;
	t->prompt_tokens = AigwJsonbGetInt(usage, "prompt_tokens", t->prompt_tokens);
	t->completion_tokens = AigwJsonbGetInt(usage, "completion_tokens", t->completion_tokens);
	details = AigwJsonbGetObject(usage, "prompt_tokens_details");
	if (details)
		t->cached_tokens = AigwJsonbGetInt(details, "cached_tokens", t->cached_tokens);
}

/*
 * Memory for reading one stream chunk, emptied after each: what a transfer
 * keeps of its chunks (the content, the finish reason, the usage numbers) is
 * copied into its own context, so a stream of any length holds no more than
 * its content.
 */
static MemoryContext chunk_cxt = NULL;

/* Reads one SSE data payload of a chat stream (in chunk_cxt) into the transfer */
static void
ReadStreamChunk(AigwTransfer *t, const char *payload, Size len)
{
	Jsonb	   *chunk;
	Jsonb	   *choice;
	Jsonb	   *usage;
	char	   *error = NULL;
	bool		forward = true;

	chunk = ParseJsonQuietly(pnstrdup(payload, len), &error);
	if (chunk == NULL)
	{
		t->parse_error = MemoryContextStrdup(t->cxt, psprintf("malformed stream chunk: %s", error));
		return;
	}
	if (t->completion_id == NULL)
	{
		char	   *id = AigwJsonbGetText(chunk, "id");

		t->completion_id = id ? MemoryContextStrdup(t->cxt, id) : NULL;
		t->created = AigwJsonbGetInt(chunk, "created", 0);
	}
	choice = FirstElement(chunk, "choices");
	if (choice)
	{
		Jsonb	   *delta = AigwJsonbGetObject(choice, "delta");
		char	   *content = delta ? AigwJsonbGetText(delta, "content") : NULL;
		char	   *finish = AigwJsonbGetText(choice, "finish_reason");

		/* t->content grows in its own context (repalloc keeps a chunk's context) */
		if (content)
			appendStringInfoString(&t->content, content);
		if (finish && (t->finish_reason == NULL || strcmp(t->finish_reason, finish) != 0))
			t->finish_reason = MemoryContextStrdup(t->cxt, finish);
	}
	usage = AigwJsonbGetObject(chunk, "usage");
	if (usage)
	{
		TakeUsage(t, usage);
		/* usage-only chunks were asked for by the gateway, not the client */
		if (choice == NULL && !t->client_include_usage)
			forward = false;
	}
	if (forward)
		AigwTransferEmitChunk(t, payload, len);
}

/* Handles one SSE data payload of a chat stream */
static void
HandleStreamData(AigwTransfer *t, const char *payload, Size len)
{
	MemoryContext old;

	if (len == 6 && strncmp(payload, "[DONE]", 6) == 0)
	{
		t->done_seen = true;
		return;
	}
	if (chunk_cxt == NULL)
		chunk_cxt = AllocSetContextCreate(TopMemoryContext, "aigw stream chunk", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(chunk_cxt);
	ReadStreamChunk(t, payload, len);
	MemoryContextSwitchTo(old);
	MemoryContextReset(chunk_cxt);
}

/* Splits buffered stream bytes into SSE lines and handles data lines */
static void
ConsumeStream(AigwTransfer *t)
{
	char	   *buf = t->line.data;
	int			start = 0;

	for (int i = 0; i < t->line.len && t->parse_error == NULL; i++)
	{
		if (buf[i] != '\n')
			continue;
		{
			int			end = i;
			char	   *line = buf + start;
			int			len;

			if (end > start && buf[end - 1] == '\r')
				end--;
			len = end - start;
			if (len >= 5 && strncmp(line, "data:", 5) == 0)
			{
				int			off = 5;

				while (off < len && line[off] == ' ')
					off++;
				HandleStreamData(t, line + off, len - off);
			}
			start = i + 1;
		}
	}
	if (start > 0)
	{
		memmove(t->line.data, t->line.data + start, t->line.len - start);
		t->line.len -= start;
		t->line.data[t->line.len] = '\0';
	}
}

/* CURLOPT_WRITEFUNCTION */
static size_t
WriteCallback(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	AigwTransfer *t = userdata;
	size_t		n = size * nmemb;
	MemoryContext old = MemoryContextSwitchTo(t->cxt);

	if (t->http_status == 0)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->http_status);
	if (t->stream && t->http_status == 200)
	{
		appendBinaryStringInfo(&t->line, ptr, n);
		ConsumeStream(t);
	}
	else if (t->resp.len + n <= MAX_RESPONSE_BYTES)
		appendBinaryStringInfo(&t->resp, ptr, n);
	else
		t->parse_error = pstrdup("response too large");
	MemoryContextSwitchTo(old);
	return t->parse_error ? 0 : n;
}

/* CURLOPT_HEADERFUNCTION: keeps Retry-After */
static size_t
HeaderCallback(char *ptr, size_t size, size_t nitems, void *userdata)
{
	AigwTransfer *t = userdata;
	size_t		n = size * nitems;

	if (n > 12 && pg_strncasecmp(ptr, "retry-after:", 12) == 0)
	{
		MemoryContext old = MemoryContextSwitchTo(t->cxt);
		char	   *v = pnstrdup(ptr + 12, n - 12);

		t->retry_after = pstrdup(TextDatumGetCString(DirectFunctionCall1(btrim1,
																		 CStringGetTextDatum(v))));
		MemoryContextSwitchTo(old);
	}
	return n;
}

/* Builds and submits the HTTP request */
static void
OpenAIStart(AigwTransfer *t)
{
	CURL	   *easy = curl_easy_init();
	char	   *auth;
	char	   *error;

	if (easy == NULL || t->base_url == NULL || (t->body_out == NULL && !t->poll))
	{
		AigwTransferFail(t, "network", "could not create the provider request", 0, true);
		return;
	}
	t->easy = easy;
	if (!t->poll)
		t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
	if (t->stream)
		t->headers = curl_slist_append(t->headers, "Accept: text/event-stream");
	if (t->api_key && t->api_key[0])
	{
		char	   *key;

		/* the sealed key is opened here, only for the header curl copies */
		if (!AigwCredentialOpen(t->api_key, &key, &error))
		{
			AigwTransferFail(t, "credential_error", error, 0, false);
			return;
		}
		auth = psprintf("Authorization: Bearer %s", key);
		t->headers = curl_slist_append(t->headers, auth);
		explicit_bzero(auth, strlen(auth));
		explicit_bzero(key, strlen(key));
		pfree(auth);
		pfree(key);
	}
	if (!AigwOutboundPrepare(easy, t->base_url, &t->outbound, &error))
	{
		AigwTransferFail(t, "outbound_blocked", error, 0, false);
		return;
	}
	if (t->poll)
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);	/* GET base/videos/{id} */
	else
	{
		curl_easy_setopt(easy, CURLOPT_POST, 1L);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->body_out);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) strlen(t->body_out));
	}
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteCallback);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, HeaderCallback);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) t->timeout_ms);
	if (curl_multi_add_handle(AigwCurlMulti(), easy) != CURLM_OK)
		AigwTransferFail(t, "network", "could not start the provider request", 0, true);
}

/* True for HTTP statuses a provider may answer differently on another try */
static bool
RetryableStatus(long status)
{
	return status == 408 || status == 409 || status == 429 || status >= 500;
}

/* Turns an HTTP error response into the unified error */
static void
FailFromErrorBody(AigwTransfer *t)
{
	char	   *error = NULL;
	Jsonb	   *body = t->resp.len > 0 ? ParseJsonQuietly(t->resp.data, &error) : NULL;
	Jsonb	   *err = body ? AigwJsonbGetObject(body, "error") : NULL;
	char	   *code = err ? AigwJsonbGetText(err, "code") : NULL;
	char	   *message = err ? AigwJsonbGetText(err, "message") : NULL;

	if (code == NULL && err)
		code = AigwJsonbGetText(err, "type");
	if (code == NULL)
		code = t->http_status == 429 ? "rate_limit" :
			t->http_status >= 500 ? "server_error" : "provider_error";
	if (message == NULL)
		message = psprintf("provider answered HTTP %ld", t->http_status);
	AigwTransferFail(t, code, message, (int) t->http_status, RetryableStatus(t->http_status));
}

/* Completes a finished stream: the assembled chat.completion */
static void
FinishStream(AigwTransfer *t)
{
	StringInfoData buf;
	bool		estimated = !t->usage_seen;

	if (!t->done_seen && t->finish_reason == NULL)
	{
		AigwTransferFail(t, "stream_read_error", "the provider's stream ended before it finished",
						 0, t->chunks == 0);
		return;
	}
	if (estimated)
		t->completion_tokens = (t->content.len + 3) / 4;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"ok\":true,\"result\":{\"id\":");
	AigwAppendJsonString(&buf, t->completion_id ? t->completion_id : psprintf("chatcmpl-%s", t->task_id_str));
	appendStringInfo(&buf, ",\"object\":\"chat.completion\",\"created\":" INT64_FORMAT ",\"model\":", t->created);
	AigwAppendJsonString(&buf, t->model);
	appendStringInfoString(&buf, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
	AigwAppendJsonString(&buf, t->content.data);
	appendStringInfoString(&buf, "},\"finish_reason\":");
	AigwAppendJsonString(&buf, t->finish_reason ? t->finish_reason : "stop");
	appendStringInfo(&buf, "}],\"usage\":{\"prompt_tokens\":" INT64_FORMAT ",\"completion_tokens\":" INT64_FORMAT
					 ",\"total_tokens\":" INT64_FORMAT "}},\"usage\":{\"prompt_tokens\":" INT64_FORMAT
					 ",\"completion_tokens\":" INT64_FORMAT ",\"total_tokens\":" INT64_FORMAT
					 ",\"cached_tokens\":" INT64_FORMAT ",\"estimated\":%s},\"chunksSent\":%d}",
					 t->prompt_tokens, t->completion_tokens, t->prompt_tokens + t->completion_tokens,
					 t->prompt_tokens, t->completion_tokens, t->prompt_tokens + t->completion_tokens,
					 t->cached_tokens, estimated ? "true" : "false", t->chunks);
	AigwTransferFinish(t, buf.data, true);
}

/*
 * The task still runs at the provider: its id (recorded before any poll, so
 * a lost worker polls it again instead of submitting it twice), its progress
 * and, for a poll that could not reach the provider, why.
 */
static void
FinishPending(AigwTransfer *t, const char *remote_id, int64 progress, const char *poll_error)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"ok\":true,\"pending\":true,\"remoteTaskId\":");
	AigwAppendJsonString(&buf, remote_id);
	if (progress >= 0)
		appendStringInfo(&buf, ",\"progress\":" INT64_FORMAT, Min(progress, 100));
	if (poll_error)
	{
		appendStringInfoString(&buf, ",\"pollError\":");
		AigwAppendJsonString(&buf, poll_error);
	}
	appendStringInfoChar(&buf, '}');
	AigwTransferFinish(t, buf.data, true);
}

/*
 * An asynchronous video job (OpenAI's videos API): queued or in_progress is
 * pending, completed is the result, failed is the job's error.
 */
static void
FinishVideo(AigwTransfer *t, Jsonb *body)
{
	char	   *id = AigwJsonbGetText(body, "id");
	char	   *status = AigwJsonbGetText(body, "status");
	StringInfoData buf;

	if (status != NULL && strcmp(status, "completed") == 0)
	{
		initStringInfo(&buf);
		appendStringInfo(&buf, "{\"ok\":true,\"result\":%s,\"usage\":{}}", t->resp.data);
		AigwTransferFinish(t, buf.data, true);
	}
	else if (status != NULL && strcmp(status, "failed") == 0)
	{
		Jsonb	   *err = AigwJsonbGetObject(body, "error");
		char	   *code = err ? AigwJsonbGetText(err, "code") : NULL;
		char	   *message = err ? AigwJsonbGetText(err, "message") : NULL;

		AigwTransferFail(t, code ? code : "generation_failed",
						 message ? message : "the provider reports the video job failed", 0, false);
	}
	else if (id != NULL && id[0] != '\0')
		FinishPending(t, t->remote_task_id ? t->remote_task_id : id, AigwJsonbGetInt(body, "progress", -1), NULL);
	else
		AigwTransferFail(t, "invalid_response", "the provider's video job has neither an id nor a result", 502, true);
}

/* Completes a JSON response */
static void
FinishJson(AigwTransfer *t)
{
	char	   *error = NULL;
	Jsonb	   *body = ParseJsonQuietly(t->resp.data, &error);
	Jsonb	   *usage;
	StringInfoData buf;

	if (body == NULL || !JB_ROOT_IS_OBJECT(body))
	{
		AigwTransferFail(t, "invalid_response",
						 psprintf("the provider's response is not a JSON object%s%s",
								  error ? ": " : "", error ? error : ""),
						 502, true);
		return;
	}
	if (t->poll || (t->kind && strcmp(t->kind, "videos.generations") == 0))
	{
		FinishVideo(t, body);
		return;
	}
	usage = AigwJsonbGetObject(body, "usage");
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"ok\":true,\"result\":%s,\"usage\":%s}", t->resp.data,
					 usage ? JsonbToCString(NULL, &usage->root, VARSIZE(usage)) : "{}");
	AigwTransferFinish(t, buf.data, true);
}

/* Called when curl is done with the transfer */
static void
OpenAIDone(AigwTransfer *t, CURLcode rc)
{
	MemoryContext old = MemoryContextSwitchTo(t->cxt);
	char	   *refusal;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->http_status);
	if (rc != CURLE_OK && (refusal = AigwOutboundRefusal(&t->outbound)) != NULL)
		AigwTransferFail(t, "outbound_blocked", refusal, 0, false);
	else if (t->poll && (rc != CURLE_OK || t->http_status == 408 || t->http_status == 429 ||
						 t->http_status >= 500))
		/* the job runs on at the provider: a poll that failed is tried again later */
		FinishPending(t, t->remote_task_id, -1,
					  rc != CURLE_OK ? curl_easy_strerror(rc) : psprintf("provider answered HTTP %ld", t->http_status));
	else if (t->poll && t->http_status == 404)
		AigwTransferFail(t, "remote_task_not_found", "the provider no longer knows the task", 404, false);
	else if (t->parse_error)
		AigwTransferFail(t, "invalid_response", t->parse_error, 502, t->chunks == 0);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		AigwTransferFail(t, "timeout", "the provider did not answer in time", 0, t->chunks == 0);
	else if (rc != CURLE_OK)
		AigwTransferFail(t, t->chunks > 0 ? "stream_read_error" : "network",
						 curl_easy_strerror(rc), 0, t->chunks == 0);
	else if (t->http_status >= 400 || t->http_status < 200)
		FailFromErrorBody(t);
	else if (t->stream)
		FinishStream(t);
	else
		FinishJson(t);
	MemoryContextSwitchTo(old);
}

const AigwProvider AigwOpenAIProvider = {
	.name = "openai",
	.start = OpenAIStart,
	.done = OpenAIDone,
	.timer = NULL,
};

/* Picks the provider implementation for a platform's provider type */
const AigwProvider *
AigwLookupProvider(const char *provider_type, bool simulated)
{
	if (simulated || (provider_type && strcmp(provider_type, "simulation") == 0))
		return &AigwSimulationProvider;
	if (provider_type == NULL || strcmp(provider_type, "openai") == 0 ||
		strcmp(provider_type, "openai_compatible") == 0)
		return &AigwOpenAIProvider;
	return NULL;
}
