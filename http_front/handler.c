/*
 * handler.c: turns one HTTP request into one aigw.http_request call and writes
 * the answer: a complete response, or, for a pending task, the events that the
 * channel pump delivers (one JSON result, or an OpenAI-format SSE stream).
 */
#include "front.h"

#include <civetweb.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

/* Paths that always go to the extension, never to static files */
static const char *const api_prefixes[] = {
	"/v1/", "/v1", "/api/", "/healthz", "/readyz", "/metrics", "/integration-platform", "/integration/",
	"/chat/", "/images/", "/video/", "/embeddings", "/models/", "/ai/", NULL
};

typedef struct Req
{
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	char		request_id[72];
	char		route[96];
	int			status;
	bool		head;
} Req;

/* Seconds since an arbitrary point */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Accepts a client's x-request-id when it is short and plain, else makes one */
static void
RequestId(const struct mg_request_info *ri, char *out, size_t outsz)
{
	const char *given = NULL;
	static __thread uint64_t state[2];
	uint64_t	a,
				b;

	for (int i = 0; i < ri->num_headers; i++)
		if (strcasecmp(ri->http_headers[i].name, "x-request-id") == 0)
			given = ri->http_headers[i].value;
	if (given && *given && strlen(given) < outsz && strlen(given) <= 64)
	{
		bool		ok = true;

		for (const char *p = given; *p && ok; p++)
			ok = isalnum((unsigned char) *p) || *p == '-' || *p == '_' || *p == '.' || *p == ':';
		if (ok)
		{
			snprintf(out, outsz, "%s", given);
			return;
		}
	}
	/* xorshift128+ per thread, seeded from the kernel: ids need to be unique, not secret */
	if (state[0] == 0 && state[1] == 0)
	{
		if (getrandom(state, sizeof(state), 0) != (ssize_t) sizeof(state))
			state[0] = (uint64_t) time(NULL) ^ (uint64_t) (uintptr_t) &state;
		state[1] |= 1;
	}
	a = state[0];
	b = state[1];
	state[0] = b;
	a ^= a << 23;
	state[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	snprintf(out, outsz, "req_%016llx%016llx", (unsigned long long) (state[1] + b),
			 (unsigned long long) (a ^ state[0]));
}

/*
 * Sends status line, headers and (in the same write, so that no small packet
 * waits for an acknowledgement) the first body bytes; extra is "Name: value\r\n"
 * lines or NULL.
 */
static void
SendHeadBody(Req *rq, int status, const char *content_type, long long length, const char *extra,
			 const char *body, size_t body_len)
{
	Buf			h;

	rq->status = status;
	buf_init(&h, 512 + body_len);
	buf_printf(&h, "HTTP/1.1 %d %s\r\n", status, mg_get_response_code_text(rq->conn, status));
	if (content_type)
		buf_printf(&h, "Content-Type: %s\r\n", content_type);
	if (length >= 0)
		buf_printf(&h, "Content-Length: %lld\r\n", length);
	else
		buf_puts(&h, "Transfer-Encoding: chunked\r\n");
	buf_printf(&h, "x-request-id: %s\r\n", rq->request_id);
	if (extra)
		buf_puts(&h, extra);
	if (front_draining)
		buf_puts(&h, "Connection: close\r\n");
	buf_puts(&h, "\r\n");
	if (body_len)
		buf_append(&h, body, body_len);
	mg_write(rq->conn, h.data, h.len);
	buf_free(&h);
}

/* Sends status line and headers only */
static void
SendHead(Req *rq, int status, const char *content_type, long long length, const char *extra)
{
	SendHeadBody(rq, status, content_type, length, extra, NULL, 0);
}

/* Appends an OpenAI-shaped error object */
static void
ErrorBody(Buf *b, const char *type, const char *code, const char *message)
{
	buf_puts(b, "{\"error\":{\"message\":");
	buf_json_string(b, message, strlen(message));
	buf_puts(b, ",\"type\":");
	buf_json_string(b, type, strlen(type));
	buf_puts(b, ",\"param\":null,\"code\":");
	buf_json_string(b, code, strlen(code));
	buf_puts(b, "}}");
}

/* Sends a complete OpenAI-shaped error response */
void
front_send_error(struct mg_connection *conn, int status, const char *type, const char *code,
				 const char *message, const char *request_id, const char *extra_headers)
{
	Req			rq = {.conn = conn};
	Buf			b;

	snprintf(rq.request_id, sizeof(rq.request_id), "%s", request_id);
	buf_init(&b, 256);
	ErrorBody(&b, type, code, message);
	SendHeadBody(&rq, status, "application/json", (long long) b.len, extra_headers, b.data, b.len);
	buf_free(&b);
}

/* Errors civetweb raises itself (malformed request line, header too large, ...) */
int
front_http_error(struct mg_connection *conn, int status, const char *msg)
{
	char		rid[72];
	const char *code = status == 413 || status == 431 ? "request_too_large" :
		status == 408 ? "request_timeout" : status >= 500 ? "server_error" : "bad_request";

	RequestId(mg_get_request_info(conn), rid, sizeof(rid));
	if (status == 411 && mg_get_header(conn, "Content-Length"))
	{
		status = 400;
		msg = "Content-Length must be a non-negative integer";
	}
	front_send_error(conn, status, status >= 500 ? "server_error" : "invalid_request_error", code,
					 msg && *msg ? msg : mg_get_response_code_text(conn, status), rid, "Connection: close\r\n");
	return 0;
}

/* Checks the framing headers against request smuggling forms; 0 when fine */
static int
CheckFraming(const struct mg_request_info *ri, const char **why)
{
	int			n_cl = 0,
				n_te = 0;

	for (int i = 0; i < ri->num_headers; i++)
	{
		const char *name = ri->http_headers[i].name;
		const char *v = ri->http_headers[i].value;

		if (strcasecmp(name, "content-length") == 0)
		{
			n_cl++;
			if (!*v)
			{
				*why = "empty Content-Length";
				return 400;
			}
			for (const char *p = v; *p; p++)
				if (!isdigit((unsigned char) *p))
				{
					*why = "Content-Length must be a non-negative integer";
					return 400;
				}
			if (strlen(v) > 15)
			{
				*why = "Content-Length too large";
				return 413;
			}
		}
		else if (strcasecmp(name, "transfer-encoding") == 0)
		{
			n_te++;
			if (strcasecmp(v, "chunked") != 0)
			{
				*why = "unsupported Transfer-Encoding";
				return 501;
			}
		}
	}
	if (n_cl > 1)
	{
		*why = "repeated Content-Length";
		return 400;
	}
	if (n_te > 1)
	{
		*why = "repeated Transfer-Encoding";
		return 400;
	}
	if (n_cl && n_te)
	{
		*why = "Content-Length together with Transfer-Encoding";
		return 400;
	}
	return 0;
}

/* Reads the body up to the limit; returns false when it is too large or broken */
static bool
ReadBody(struct mg_connection *conn, Buf *body, int *status, const char **why)
{
	char		chunk[16384];
	long long	cl = mg_get_request_info(conn)->content_length;

	if (cl > front_config.max_body)
	{
		*status = 413;
		*why = "request body is larger than the limit";
		return false;
	}
	for (;;)
	{
		int			n = mg_read(conn, chunk, sizeof(chunk));

		if (n == 0)
			break;
		if (n < 0)
		{
			*status = 400;
			*why = "the request body could not be read";
			return false;
		}
		if (body->len + (size_t) n > (size_t) front_config.max_body)
		{
			*status = 413;
			*why = "request body is larger than the limit";
			return false;
		}
		buf_append(body, chunk, (size_t) n);
	}
	return true;
}

/* True when the bytes are valid UTF-8 without NUL */
static bool
IsText(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	while (i < n)
	{
		unsigned char c = p[i];
		int			len;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (!len || i + len > n || (len == 2 && c < 0xc2) || c > 0xf4)
			return false;
		for (int k = 1; k < len; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

/* Base64-encodes binary bodies (multipart uploads) for a text parameter */
static void
Base64(const char *s, size_t n, Buf *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *) s;

	buf_reserve(out, (n + 2) / 3 * 4);
	for (size_t i = 0; i < n; i += 3)
	{
		unsigned	v = p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
		char		q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
		i + 2 < n ? tab[v & 63] : '='};

		buf_append(out, q, 4);
	}
}

/* Builds the headers object: lower-case names, repeated headers joined */
static void
HeadersJson(const struct mg_request_info *ri, const char *request_id, bool base64, Buf *out)
{
	buf_puts(out, "{");
	for (int i = 0; i < ri->num_headers; i++)
	{
		char		name[128];
		size_t		n = strlen(ri->http_headers[i].name);
		bool		seen = false;

		/*
		 * x-aigw-* are the front's own, except the request's routing config
		 * and the platform it asks for (both only narrow what the router
		 * would choose among the platforms the caller may use)
		 */
		if (n >= sizeof(name) || strcasecmp(ri->http_headers[i].name, "x-request-id") == 0 ||
			(strncasecmp(ri->http_headers[i].name, "x-aigw-", 7) == 0 &&
			 strcasecmp(ri->http_headers[i].name, "x-aigw-config") != 0 &&
			 strcasecmp(ri->http_headers[i].name, "x-aigw-platform") != 0))
			continue;
		for (int j = 0; j < i && !seen; j++)
			seen = strcasecmp(ri->http_headers[j].name, ri->http_headers[i].name) == 0;
		if (seen)
			continue;
		for (size_t k = 0; k <= n; k++)
			name[k] = (char) tolower((unsigned char) ri->http_headers[i].name[k]);
		buf_json_string(out, name, n);
		buf_puts(out, ":");
		{
			Buf			v;

			buf_init(&v, 128);
			for (int j = i; j < ri->num_headers; j++)
				if (strcasecmp(ri->http_headers[j].name, ri->http_headers[i].name) == 0)
				{
					if (v.len)
						buf_puts(&v, ", ");
					buf_puts(&v, ri->http_headers[j].value ? ri->http_headers[j].value : "");
				}
			buf_json_string(out, v.data, v.len);
			buf_free(&v);
		}
		buf_puts(out, ",");
	}
	buf_puts(out, "\"x-request-id\":");
	buf_json_string(out, request_id, strlen(request_id));
	buf_puts(out, ",\"x-aigw-remote-addr\":");
	buf_json_string(out, ri->remote_addr, strlen(ri->remote_addr));
	if (base64)
		buf_puts(out, ",\"x-aigw-body-encoding\":\"base64\"");
	buf_puts(out, "}");
}

/* The sk- API key a request carries (Bearer or x-comfy-api-key), if any */
static bool
ApiKeyOf(const struct mg_request_info *ri, char *out, size_t outsz)
{
	const char *v = NULL;
	size_t		n;

	for (int i = 0; i < ri->num_headers && !v; i++)
		if (strcasecmp(ri->http_headers[i].name, "Authorization") == 0 && ri->http_headers[i].value &&
			strncasecmp(ri->http_headers[i].value, "bearer ", 7) == 0)
			v = ri->http_headers[i].value + 7;
	for (int i = 0; i < ri->num_headers && !v; i++)
		if (strcasecmp(ri->http_headers[i].name, "x-comfy-api-key") == 0)
			v = ri->http_headers[i].value;
	if (!v)
		return false;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strcspn(v, " \t");
	if (n < 23 || n >= outsz || strncmp(v, "sk-", 3) != 0)
		return false;
	for (size_t i = 3; i < n; i++)
		if (!isalnum((unsigned char) v[i]) && v[i] != '-' && v[i] != '_')
			return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

/* Adds server-main's verification answer to the headers object (x-aigw-* names
 * a client cannot send: HeadersJson drops them) */
static void
AddVerified(Buf *headers, const char *hash, const char *answer)
{
	headers->data[--headers->len] = '\0';	/* the closing brace */
	buf_puts(headers, ",\"x-aigw-verified-key-hash\":");
	buf_json_string(headers, hash, strlen(hash));
	buf_puts(headers, ",\"x-aigw-verified-claims\":");
	buf_json_string(headers, answer, strlen(answer));
	buf_puts(headers, "}");
}

/* Decodes %XX and '+' of a query component in place */
static size_t
UrlDecode(char *s, size_t n)
{
	size_t		o = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (s[i] == '+')
			s[o++] = ' ';
		else if (s[i] == '%' && i + 2 < n &&
				 isxdigit((unsigned char) s[i + 1]) && isxdigit((unsigned char) s[i + 2]))
		{
			char		hx[3] = {s[i + 1], s[i + 2], 0};

			s[o++] = (char) strtol(hx, NULL, 16);
			i += 2;
		}
		else
			s[o++] = s[i];
	}
	return o;
}

/* Builds the query object; a repeated name keeps its last value */
static void
QueryJson(const char *qs, Buf *out)
{
	char	   *copy;
	char	   *p;
	bool		first = true;

	buf_puts(out, "{");
	if (qs && *qs)
	{
		copy = strdup(qs);
		p = copy;
		while (p && *p)
		{
			char	   *amp = strchr(p, '&');
			char	   *eq;
			size_t		nlen,
						vlen;

			if (amp)
				*amp = '\0';
			eq = strchr(p, '=');
			nlen = eq ? (size_t) (eq - p) : strlen(p);
			vlen = eq ? strlen(eq + 1) : 0;
			if (nlen > 0)
			{
				nlen = UrlDecode(p, nlen);
				if (!first)
					buf_puts(out, ",");
				buf_json_string(out, p, nlen);
				buf_puts(out, ":");
				if (eq)
				{
					vlen = UrlDecode(eq + 1, vlen);
					buf_json_string(out, eq + 1, vlen);
				}
				else
					buf_puts(out, "\"\"");
				first = false;
			}
			p = amp ? amp + 1 : NULL;
		}
		free(copy);
	}
	buf_puts(out, "}");
}

/*
 * Turns the response headers object (flat, string values) into header lines;
 * x-aigw-route is kept for metrics and not sent. Returns the content type.
 */
static void
HeaderLines(const char *json, Buf *lines, char *route, size_t routesz, char *ctype, size_t ctypesz)
{
	const char *p = json;

	while (p && *p && *p != '"')
		p++;
	while (p && *p == '"')
	{
		const char *kend = p + 1;
		char		name[128];
		size_t		n;
		Buf			val;

		while (*kend && *kend != '"')
			kend++;
		if (!*kend)
			break;
		n = (size_t) (kend - p - 1);
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, p + 1, n);
		name[n] = '\0';
		p = kend + 1;
		while (*p == ' ' || *p == ':')
			p++;
		buf_init(&val, 64);
		if (*p == '"')
		{
			p++;
			while (*p && *p != '"')
			{
				if (*p == '\\' && p[1])
					p++;
				if (*p != '\r' && *p != '\n')
					buf_append(&val, p, 1);
				p++;
			}
			if (*p == '"')
				p++;
		}
		else
		{
			while (*p && *p != ',' && *p != '}')
			{
				if (*p != ' ')
					buf_append(&val, p, 1);
				p++;
			}
		}
		if (strcasecmp(name, "x-aigw-route") == 0)
			snprintf(route, routesz, "%s", val.data);
		else if (strcasecmp(name, "content-type") == 0)
			snprintf(ctype, ctypesz, "%s", val.data);
		else if (strcasecmp(name, "content-length") != 0 && strcasecmp(name, "transfer-encoding") != 0 &&
				 strcasecmp(name, "connection") != 0 && strcasecmp(name, "x-request-id") != 0)
		{
			bool		ok = n > 0;

			for (size_t k = 0; k < n && ok; k++)
				ok = isalnum((unsigned char) name[k]) || name[k] == '-' || name[k] == '_';
			if (ok)
				buf_printf(lines, "%s: %s\r\n", name, val.data);
		}
		buf_free(&val);
		while (*p && *p != '"' && *p != '}')
			p++;
		if (*p == '}')
			break;
	}
}

/* Writes a complete response: status, headers object, body */
static void
SendComplete(Req *rq, int status, const char *headers_json, const char *body, size_t body_len,
			 const char *extra_body)
{
	Buf			lines;
	char		ctype[128] = "application/json";

	buf_init(&lines, 256);
	HeaderLines(headers_json ? headers_json : "{}", &lines, rq->route, sizeof(rq->route), ctype, sizeof(ctype));
	SendHeadBody(rq, status, ctype, (long long) (body_len + (extra_body ? strlen(extra_body) : 0)), lines.data,
				 rq->head ? NULL : body, rq->head ? 0 : body_len);
	if (!rq->head && extra_body)
		mg_write(rq->conn, extra_body, strlen(extra_body));
	buf_free(&lines);
}

/* Writes the final result of a task: {"status": n, "body": json, "headers": {}} */
static void
SendResult(Req *rq, const char *data)
{
	char		st[16] = "";
	size_t		blen = 0,
				hlen = 0;
	const char *body = json_find_value(data, "body", &blen);
	const char *hdr = json_find_value(data, "headers", &hlen);
	char	   *headers = hdr ? strndup(hdr, hlen) : strdup("{}");
	int			status = json_get_string(data, "status", st, sizeof(st)) ? atoi(st) : 500;

	if (status < 100 || status > 599)
		status = 500;
	if (body && *body == '"')
	{
		char	   *text = malloc(blen + 1);

		json_get_string(data, "body", text, blen + 1);
		SendComplete(rq, status, headers, text, strlen(text), NULL);
		free(text);
	}
	else if (body)
		SendComplete(rq, status, headers, body, blen, NULL);
	else
		SendComplete(rq, status, headers, "", 0, NULL);
	free(headers);
}

/* Sends a 503/504 that names the task, for when its outcome cannot be delivered */
static void
SendTaskUnavailable(Req *rq, const char *task_id, int status, const char *why)
{
	char		msg[512];
	char		extra[160];

	snprintf(msg, sizeof(msg), "task %s %s; its result can be fetched with GET /v1/ai/result/%s",
			 task_id, why, task_id);
	snprintf(extra, sizeof(extra), "x-aigw-task-id: %s\r\n%s", task_id, status == 503 ? "Retry-After: 1\r\n" : "");
	rq->status = status;
	front_send_error(rq->conn, status, status == 504 ? "timeout_error" : "service_unavailable",
					 status == 504 ? "task_timeout" : "result_unavailable", msg, rq->request_id, extra);
}

/* Writes one SSE data line as an HTTP chunk */
static bool
SseData(Req *rq, const char *data, size_t len)
{
	Buf			b;
	int			rc;

	buf_init(&b, len + 16);
	buf_puts(&b, "data: ");
	buf_append(&b, data, len);
	buf_puts(&b, "\n\n");
	rc = mg_send_chunk(rq->conn, b.data, (unsigned) b.len);
	buf_free(&b);
	return rc > 0;
}

/* Ends an OpenAI stream: optional error object, then [DONE] */
static void
SseFinish(Req *rq, const char *result)
{
	char		st[16] = "";

	if (result && json_get_string(result, "status", st, sizeof(st)) && atoi(st) >= 400)
	{
		size_t		blen = 0;
		const char *body = json_find_value(result, "body", &blen);

		if (body && *body == '{')
			SseData(rq, body, blen);
	}
	SseData(rq, "[DONE]", 6);
	mg_send_chunk(rq->conn, "", 0);
}

/*
 * After the channel broke, asks the database for the task's outcome. Returns
 * 1 when the response was sent, 0 to keep waiting, -1 when the database could
 * not say.
 */
static int
Resync(Req *rq, const char *task_id, bool stream_started)
{
	char	   *outcome = NULL;

	if (!pool_task_outcome(task_id, &outcome))
		return -1;
	if (!outcome)
		return 0;
	if (stream_started)
		SseFinish(rq, outcome);
	else
		SendResult(rq, outcome);
	free(outcome);
	return 1;
}

/* Waits for a pending task's events and writes them */
static void
AwaitTask(Req *rq, const PoolResult *pr)
{
	Waiter	   *w = channel_register(pr->task_id);
	double		deadline = Now() + front_config.wait_timeout_ms / 1000.0;
	bool		started = false;
	int			failures = 0;
	Buf			lines;
	char		ctype[128] = "";

	buf_init(&lines, 256);
	HeaderLines(pr->headers, &lines, rq->route, sizeof(rq->route), ctype, sizeof(ctype));
	if (pr->stream)
		metrics_stream(1);
	for (;;)
	{
		bool		lost = false;
		int			left_ms = (int) ((deadline - Now()) * 1000);
		ChannelEvent *e;

		if (front_drain_expired)
		{
			if (started)
				SseFinish(rq, NULL);
			else
				SendTaskUnavailable(rq, pr->task_id, 503, "is still running while this front shuts down");
			break;
		}
		if (left_ms <= 0)
		{
			if (started)
			{
				const char *err = "{\"error\":{\"message\":\"the stream timed out\",\"type\":\"timeout_error\","
					"\"param\":null,\"code\":\"task_timeout\"}}";

				SseData(rq, err, strlen(err));
				SseFinish(rq, NULL);
			}
			else
				SendTaskUnavailable(rq, pr->task_id, 504, "did not finish in time");
			break;
		}
		e = channel_next(w, left_ms > 1000 ? 1000 : left_ms, &lost);
		if (!e)
		{
			int			rc;

			if (!lost)
				continue;
			rc = Resync(rq, pr->task_id, started);
			if (rc == 1)
				break;
			if (rc == -1 && ++failures >= 10)
			{
				if (started)
					SseFinish(rq, NULL);
				else
					SendTaskUnavailable(rq, pr->task_id, 503, "was accepted but the database is unreachable");
				break;
			}
			continue;
		}
		if (strcmp(e->event, "chunk") == 0 && pr->stream)
		{
			if (!started)
			{
				Buf			h;

				buf_init(&h, 256);
				buf_puts(&h, "Cache-Control: no-cache\r\n");
				buf_append(&h, lines.data, lines.len);
				SendHead(rq, 200, "text/event-stream; charset=utf-8", -1, h.data);
				buf_free(&h);
				started = true;
			}
			if (!SseData(rq, e->data, strlen(e->data)))
			{
				channel_event_free(e);
				break;			/* the client went away */
			}
		}
		else if (strcmp(e->event, "result") == 0)
		{
			if (started)
				SseFinish(rq, e->data);
			else
				SendResult(rq, e->data);
			channel_event_free(e);
			break;
		}
		channel_event_free(e);
	}
	if (pr->stream)
		metrics_stream(-1);
	buf_free(&lines);
	channel_unregister(w);
}

/* True when a path belongs to the API rather than to the static console */
static bool
IsApiPath(const char *path)
{
	for (int i = 0; api_prefixes[i]; i++)
	{
		size_t		n = strlen(api_prefixes[i]);

		if (strncmp(path, api_prefixes[i], n) == 0 &&
			(api_prefixes[i][n - 1] == '/' || path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

/* Serves the console's files (index.html for client routes), with the request id */
static int
ServeStatic(Req *rq, const char *path)
{
	char		file[2048];
	char		extra[128];
	struct stat st;

	if (strstr(path, ".."))
		return 0;
	snprintf(extra, sizeof(extra), "x-request-id: %s\r\n", rq->request_id);
	snprintf(file, sizeof(file), "%s%s", front_config.static_dir, path);
	if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
	{
		snprintf(file, sizeof(file), "%s/index.html", front_config.static_dir);
		if (stat(file, &st) != 0)
			return 0;			/* civetweb answers 404 */
	}
	mg_send_mime_file2(rq->conn, file, NULL, extra);
	rq->status = 200;
	return 1;
}

/* The request handler for every path */
int
front_handle(struct mg_connection *conn, void *cbdata)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	Req			rq = {.conn = conn, .ri = ri, .status = 0};
	double		t0 = Now();
	const char *path = ri->local_uri ? ri->local_uri : "/";
	const char *why = NULL;
	int			bad;
	Buf			body,
				headers,
				query,
				encoded;
	const char *params[6];
	PoolResult	pr;
	bool		binary;
	const char *ctype_in = mg_get_header(conn, "Content-Type");
	char		key[256];
	char		key_hash[65];
	char	   *verified = NULL;
	bool		has_key;
	bool		ok;
	bool		verify_failed = false;

	RequestId(ri, rq.request_id, sizeof(rq.request_id));
	snprintf(rq.route, sizeof(rq.route), "unmatched");
	rq.head = strcmp(ri->request_method, "HEAD") == 0;
	metrics_inflight(1);

	if ((bad = CheckFraming(ri, &why)) != 0)
	{
		rq.status = bad;
		front_send_error(conn, bad, "invalid_request_error", bad == 413 ? "request_too_large" : "bad_request",
						 why, rq.request_id, "Connection: close\r\n");
		goto done;
	}
	if (front_config.static_dir[0] && (strcmp(ri->request_method, "GET") == 0 || rq.head) && !IsApiPath(path))
	{
		int			r = ServeStatic(&rq, path);

		metrics_inflight(-1);
		if (r)
			metrics_observe("static", ri->request_method, rq.status, Now() - t0);
		return r;
	}
	if (front_draining)
	{
		rq.status = 503;
		front_send_error(conn, 503, "service_unavailable", "draining", "this front is shutting down",
						 rq.request_id, "Retry-After: 1\r\n");
		goto done;
	}

	buf_init(&body, 1024);
	if (!ReadBody(conn, &body, &bad, &why))
	{
		rq.status = bad;
		front_send_error(conn, bad, "invalid_request_error", bad == 413 ? "request_too_large" : "bad_request",
						 why, rq.request_id, "Connection: close\r\n");
		buf_free(&body);
		goto done;
	}
	binary = (ctype_in && (strncasecmp(ctype_in, "multipart/", 10) == 0 ||
						   strncasecmp(ctype_in, "application/octet-stream", 24) == 0)) ||
		!IsText(body.data, body.len);
	buf_init(&headers, 1024);
	buf_init(&query, 128);
	HeadersJson(ri, rq.request_id, binary, &headers);
	QueryJson(ri->query_string, &query);
	buf_init(&encoded, binary ? body.len * 4 / 3 + 8 : 8);
	if (binary)
		Base64(body.data, body.len, &encoded);

	params[0] = ri->request_method;
	params[1] = path;
	params[2] = headers.data;
	params[3] = query.data;
	params[4] = binary ? encoded.data : body.data;
	params[5] = front_config.channel;
	has_key = ApiKeyOf(ri, key, sizeof(key));
	if (has_key)
	{
		verify_key_hash(key, key_hash);
		if (verify_cached(key_hash, &verified) > 0 && verified)
			AddVerified(&headers, key_hash, verified);
		params[2] = headers.data;
	}
	ok = pool_http_request(params, rq.request_id, &pr);
	if (ok && has_key && !verified && strcmp(pr.sqlstate, "AGV01") == 0)
	{
		/* not a local key: server-main verifies it, then the request runs again */
		char		err[300];
		VerifyResult v = verify_api_key(key, key_hash, &verified, err, sizeof(err));

		if (v == VERIFY_ACCEPTED)
		{
			AddVerified(&headers, key_hash, verified);
			params[2] = headers.data;
			pool_result_free(&pr);
			ok = pool_http_request(params, rq.request_id, &pr);
		}
		else if (v == VERIFY_FAILED)
		{
			char		msg[400];

			front_log("request %s: API key verification failed: %s", rq.request_id, err);
			snprintf(msg, sizeof(msg), "API key verification by server-main failed: %s", err);
			pool_result_free(&pr);
			rq.status = 503;
			front_send_error(conn, 503, "service_unavailable", "verification_unavailable", msg, rq.request_id,
							 "Retry-After: 1\r\n");
			verify_failed = true;
		}
	}
	if (verify_failed)
	{
		/* answered above */
	}
	else if (!ok)
	{
		char		msg[400];

		snprintf(msg, sizeof(msg), "the gateway database is unavailable: %s", pr.error);
		rq.status = 503;
		front_send_error(conn, 503, "service_unavailable", "database_unavailable", msg, rq.request_id,
						 "Retry-After: 1\r\n");
	}
	else if (pr.task_id[0] && !pr.body)
		AwaitTask(&rq, &pr);
	else
	{
		const char *b = pr.body ? pr.body : "";
		size_t		blen = strlen(b);

		if (strcmp(path, "/metrics") == 0 && pr.status == 200)
		{
			Buf			m;

			buf_init(&m, 4096);
			metrics_render(&m);
			SendComplete(&rq, pr.status, pr.headers, b, blen, m.data);
			buf_free(&m);
		}
		else
			SendComplete(&rq, pr.status, pr.headers, b, blen, NULL);
	}
	pool_result_free(&pr);
	free(verified);
	buf_free(&encoded);
	buf_free(&query);
	buf_free(&headers);
	buf_free(&body);
done:
	metrics_inflight(-1);
	metrics_observe(rq.route, ri->request_method, rq.status, Now() - t0);
	return rq.status ? rq.status : 200;
}
