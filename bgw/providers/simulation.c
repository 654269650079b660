/*
 * simulation.c: the simulation provider (seed 003 §13).
 *
 * The lease computes a deterministic simulated response from the task's
 * simulation profile and request; this provider plays it out in time:
 * latency, progress steps, stream chunks, and failures injected per attempt.
 * No network is touched.
 */
#include "aigw.h"
#include "runtime.h"
#include "worker.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"

/* Returns element i of a latency list (or the number itself), clamped at 0 */
static int
LatencyAt(Jsonb *sim, int i)
{
	JsonbValue	v;
	JsonbValue *e;

	if (sim == NULL || getKeyJsonValueFromContainer(&sim->root, "latencyMs", 9, &v) == NULL)
		return 0;
	if (v.type == jbvNumeric)
		return (int) DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v.val.numeric)));
	if (v.type != jbvBinary)
		return 0;
	e = getIthJsonbValueFromContainer(v.val.binary.data, i);
	if (e == NULL)
	{
		int			n = JsonContainerSize(v.val.binary.data);

		if (n == 0)
			return 0;
		e = getIthJsonbValueFromContainer(v.val.binary.data, n - 1);
	}
	if (e && e->type == jbvNumeric)
		return Max(0, DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(e->val.numeric))));
	return 0;
}

/* Next word-sized piece of the simulated content starting at *pos */
static char *
NextPiece(const char *content, int *pos)
{
	int			start;
	int			i = *pos;

	while (content[i] == ' ')
		i++;
	start = i;
	while (content[i] != '\0' && content[i] != ' ')
		i++;
	*pos = i;
	return pnstrdup(content + start, i - start);
}

/* Emits one OpenAI chat.completion.chunk */
static void
EmitChunk(AigwTransfer *t, const char *delta_json, const char *finish, const char *usage_json)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion.chunk\",\"created\":" INT64_FORMAT ",\"model\":",
					 t->task_id_str, t->created);
	AigwAppendJsonString(&buf, t->model);
	if (usage_json)
		appendStringInfo(&buf, ",\"choices\":[],\"usage\":%s}", usage_json);
	else
	{
		appendStringInfo(&buf, ",\"choices\":[{\"index\":0,\"delta\":%s,\"logprobs\":null,\"finish_reason\":", delta_json);
		if (finish)
			AigwAppendJsonString(&buf, finish);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, "}]}");
	}
	AigwTransferEmitChunk(t, buf.data, buf.len);
	pfree(buf.data);
}

/* Finishes with the precomputed result */
static void
FinishOk(AigwTransfer *t)
{
	Jsonb	   *result = AigwJsonbGetObject(t->sim_profile, "result");
	Jsonb	   *usage = AigwJsonbGetObject(t->sim_profile, "usage");
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"ok\":true,\"simulated\":true,\"chunksSent\":%d,\"result\":%s,\"usage\":%s}",
					 t->chunks,
					 result ? JsonbToCString(NULL, &result->root, VARSIZE(result)) : "{}",
					 usage ? JsonbToCString(NULL, &usage->root, VARSIZE(usage)) : "{}");
	AigwTransferFinish(t, buf.data, true);
}

/* Timer step: step 0 is the submit latency, then one step per stream piece */
static void
SimulationTimer(AigwTransfer *t)
{
	Jsonb	   *failure;
	char	   *content;

	if (t->step == 0)
	{
		failure = AigwJsonbGetObject(t->sim_profile, "failure");
		if (failure)
		{
			char	   *code = AigwJsonbGetText(failure, "errorCode");
			char	   *msg = AigwJsonbGetText(failure, "message");

			AigwTransferFail(t, code ? code : "simulated_error",
							 msg ? msg : "simulated failure",
							 (int) AigwJsonbGetInt(failure, "status", 0),
							 AigwJsonbGetBool(failure, "retryable", false));
			return;
		}
		if (!t->stream)
		{
			FinishOk(t);
			return;
		}
		EmitChunk(t, "{\"role\":\"assistant\",\"content\":\"\"}", NULL, NULL);
	}

	content = AigwJsonbGetText(t->sim_profile, "content");
	if (content && t->line.len < (int) strlen(content))
	{
		int			pos = t->line.len;
		char	   *piece = NextPiece(content, &pos);
		StringInfoData delta;

		/* t->line tracks how much content has been streamed */
		appendBinaryStringInfo(&t->line, content + t->line.len, pos - t->line.len);
		initStringInfo(&delta);
		appendStringInfoString(&delta, "{\"content\":");
		AigwAppendJsonString(&delta, (t->step == 0 || piece[0] == '\0') ? piece : psprintf(" %s", piece));
		appendStringInfoChar(&delta, '}');
		EmitChunk(t, delta.data, NULL, NULL);
		t->step++;
		AigwTransferSetTimer(t, (int) AigwJsonbGetInt(t->sim_profile, "chunkIntervalMs", 0));
		return;
	}

	EmitChunk(t, "{}", "stop", NULL);
	if (AigwJsonbGetBool(t->sim_profile, "includeUsage", false))
	{
		Jsonb	   *usage = AigwJsonbGetObject(t->sim_profile, "usage");

		if (usage)
			EmitChunk(t, NULL, NULL, JsonbToCString(NULL, &usage->root, VARSIZE(usage)));
	}
	FinishOk(t);
}

/* Starts a simulated call: wait the first latency, then play the timer steps */
static void
SimulationStart(AigwTransfer *t)
{
	t->created = (int64) (GetCurrentTimestamp() / USECS_PER_SEC) + 946684800;
	t->step = 0;
	AigwTransferSetTimer(t, LatencyAt(t->sim_profile, t->attempt_no - 1));
}

const AigwProvider AigwSimulationProvider = {
	.name = "simulation",
	.start = SimulationStart,
	.done = NULL,
	.timer = SimulationTimer,
};
