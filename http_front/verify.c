/*
 * verify.c: verification of sk- API keys that are not local, by server-main
 * (seed 003 section 5.3). For such a key (server-main and hybrid identity
 * modes, aigw.server_main_verify_url set) aigw.http_request raises AGV01; the
 * front then POSTs {"apiKey": key} to that URL with server-main's service
 * token, caches the answer under the key's SHA-256 (a positive one for
 * verify-ttl-s, a negative one for verify-negative-ttl-s) and calls again with
 * the answer in x-aigw-verified-key-hash and x-aigw-verified-claims, which the
 * extension turns into the identity as it does JWT claims. No database
 * connection is held during the call.
 */
#include "front.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VERIFY_SLOTS 4096
#define VERIFY_MAX_ANSWER (64 * 1024)

/* One cached verdict; slots are direct-mapped by the key hash */
typedef struct VerifySlot
{
	char		hash[65];
	int			verdict;		/* 1 accepted, -1 rejected */
	double		expires;		/* monotonic seconds */
	char	   *answer;			/* server-main's body, for accepted keys */
} VerifySlot;

static VerifySlot slots[VERIFY_SLOTS];
static pthread_mutex_t verify_lock = PTHREAD_MUTEX_INITIALIZER;

/* Monotonic seconds */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Initialises libcurl once, before any thread uses it */
void
verify_start(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Frees the cache and libcurl */
void
verify_stop(void)
{
	pthread_mutex_lock(&verify_lock);
	for (int i = 0; i < VERIFY_SLOTS; i++)
	{
		free(slots[i].answer);
		slots[i].answer = NULL;
		slots[i].hash[0] = '\0';
	}
	pthread_mutex_unlock(&verify_lock);
	curl_global_cleanup();
}

/* SHA-256 of a key as 64 lower-case hex digits (the extension's api_key_hash) */
void
verify_key_hash(const char *key, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
	{
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

/* The cache slot of a key hash */
static VerifySlot *
SlotOf(const char *hash)
{
	unsigned	v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 4 | (unsigned) (hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
	return &slots[v % VERIFY_SLOTS];
}

/* Cached verdict of a key: 1 accepted (answer copied), -1 rejected, 0 unknown */
int
verify_cached(const char *hash, char **answer)
{
	VerifySlot *s = SlotOf(hash);
	int			verdict = 0;

	*answer = NULL;
	pthread_mutex_lock(&verify_lock);
	if (strcmp(s->hash, hash) == 0 && s->expires > Now())
	{
		verdict = s->verdict;
		if (verdict > 0 && s->answer)
			*answer = strdup(s->answer);
	}
	pthread_mutex_unlock(&verify_lock);
	return verdict;
}

/* Remembers a verdict for ttl seconds */
static void
Remember(const char *hash, int verdict, const char *answer, int ttl_s)
{
	VerifySlot *s = SlotOf(hash);

	if (ttl_s <= 0)
		return;
	pthread_mutex_lock(&verify_lock);
	free(s->answer);
	snprintf(s->hash, sizeof(s->hash), "%s", hash);
	s->verdict = verdict;
	s->expires = Now() + ttl_s;
	s->answer = answer ? strdup(answer) : NULL;
	pthread_mutex_unlock(&verify_lock);
}

/* libcurl write callback: collects the answer up to VERIFY_MAX_ANSWER bytes */
static size_t
Collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Buf		   *b = userdata;
	size_t		n = size * nmemb;

	if (b->len + n > VERIFY_MAX_ANSWER)
		return 0;				/* aborts the transfer */
	buf_append(b, ptr, n);
	return n;
}

/*
 * Verifies a key with server-main. Returns VERIFY_ACCEPTED with *answer set
 * (malloc'd), VERIFY_REJECTED, VERIFY_OFF when verification is not configured,
 * or VERIFY_FAILED with err set when server-main could not answer.
 */
VerifyResult
verify_api_key(const char *key, const char *hash, char **answer, char *err, size_t errsz)
{
	char	   *settings = NULL;
	char		url[2048],
				token[1024];
	Buf			body,
				resp,
				auth;
	CURL	   *c;
	CURLcode	rc;
	struct curl_slist *hdrs = NULL;
	long		status = 0;
	VerifyResult result;
	int			cached = verify_cached(hash, answer);

	if (cached > 0)
		return VERIFY_ACCEPTED;
	if (cached < 0)
		return VERIFY_REJECTED;
	if (!pool_verify_settings(&settings))
	{
		snprintf(err, errsz, "the gateway database is unavailable");
		return VERIFY_FAILED;
	}
	if (!settings || !json_get_string(settings, "url", url, sizeof(url)) || !url[0])
	{
		free(settings);
		return VERIFY_OFF;
	}
	if (!json_get_string(settings, "token", token, sizeof(token)))
		token[0] = '\0';
	free(settings);

	buf_init(&body, 256);
	buf_puts(&body, "{\"apiKey\":");
	buf_json_string(&body, key, strlen(key));
	buf_puts(&body, "}");
	buf_init(&resp, 1024);
	buf_init(&auth, 128);
	buf_printf(&auth, "Authorization: Bearer %s", token);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "X-EasyAI-Actor: aigw-gateway");
	if (token[0])
		hdrs = curl_slist_append(hdrs, auth.data);

	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) front_config.verify_timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) front_config.verify_timeout_ms);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) body.len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);

	if (rc != CURLE_OK)
	{
		snprintf(err, errsz, "server-main did not answer: %s", curl_easy_strerror(rc));
		result = VERIFY_FAILED;
	}
	else if (status >= 200 && status < 300)
	{
		/* the extension judges the claims (a 200 saying "invalid" is refused there) */
		*answer = strdup(resp.len ? resp.data : "{}");
		Remember(hash, 1, *answer, front_config.verify_ttl_s);
		result = VERIFY_ACCEPTED;
	}
	else if (status == 400 || status == 401 || status == 403 || status == 404)
	{
		Remember(hash, -1, NULL, front_config.verify_negative_ttl_s);
		result = VERIFY_REJECTED;
	}
	else
	{
		snprintf(err, errsz, "server-main answered HTTP %ld", status);
		result = VERIFY_FAILED;
	}
	buf_free(&auth);
	buf_free(&resp);
	buf_free(&body);
	return result;
}
