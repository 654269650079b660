/*
 * front.h: shared declarations of aigw-http, the HTTP front of aigw.
 */
#ifndef AIGW_FRONT_H
#define AIGW_FRONT_H

#include <pthread.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* Settings, from flags, environment or a config file */
typedef struct FrontConfig
{
	char		listen[256];		/* civetweb listening_ports, e.g. 127.0.0.1:8080 */
	char		conninfo[1024];		/* libpq connection string */
	int			pool_size;			/* connections for short calls */
	int			threads;			/* civetweb worker threads = max concurrent requests */
	long		max_body;			/* request body limit, bytes */
	int			max_header;			/* request line + headers limit, bytes */
	int			request_timeout_ms;	/* slow-client read timeout */
	int			keepalive_timeout_ms;
	int			wait_timeout_ms;	/* longest wait for a pending task */
	int			pool_wait_ms;		/* longest wait for a free pool connection */
	int			drain_timeout_ms;	/* SIGTERM: longest wait for in-flight requests */
	char		static_dir[1024];	/* served at / when set */
	char		tls_cert[1024];		/* PEM with certificate and key: listen with TLS */
	char		channel[128];		/* this front's event channel name */
	char		pidfile[1024];
	bool		quiet;
	int			verify_timeout_ms;	/* server-main API key verification call */
	int			verify_ttl_s;		/* how long an accepted key is cached */
	int			verify_negative_ttl_s;	/* how long a rejected key is cached */
} FrontConfig;

extern FrontConfig front_config;
extern volatile bool front_draining;
extern volatile bool front_drain_expired;

/* A growable byte buffer (buf.c) */
typedef struct Buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

extern void buf_init(Buf *b, size_t cap);
extern void buf_free(Buf *b);
extern void buf_reserve(Buf *b, size_t extra);
extern void buf_append(Buf *b, const char *s, size_t n);
extern void buf_puts(Buf *b, const char *s);
extern void buf_printf(Buf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern void buf_json_string(Buf *b, const char *s, size_t n);
extern bool json_get_string(const char *json, const char *key, char *out, size_t outsz);
extern const char *json_find_value(const char *json, const char *key, size_t *len);

/* libpq pool (pool.c) */
typedef struct PoolResult
{
	int			status;
	char	   *headers;		/* jsonb text, malloc'd */
	char	   *body;			/* malloc'd or NULL */
	char		task_id[40];	/* empty when complete */
	bool		stream;
	bool		failed;			/* no usable answer from PostgreSQL */
	char		sqlstate[6];	/* of a mapped error, else empty */
	char		error[256];
} PoolResult;

extern void pool_start(void);
extern void pool_stop(void);
extern bool pool_http_request(const char *params[6], const char *request_id, PoolResult *out);
extern bool pool_task_outcome(const char *task_id, char **outcome);
extern bool pool_verify_settings(char **settings);
extern void pool_result_free(PoolResult *r);
extern int	pool_connected(void);

/* Event channel pump and waiters (channel.c) */
typedef struct ChannelEvent
{
	struct ChannelEvent *next;
	int64_t		seq;
	char		event[16];
	char	   *data;
} ChannelEvent;

typedef struct Waiter Waiter;

extern void channel_start(void);
extern void channel_stop(void);
extern Waiter *channel_register(const char *task_id);
extern ChannelEvent *channel_next(Waiter *w, int timeout_ms, bool *lost);
extern void channel_unregister(Waiter *w);
extern void channel_event_free(ChannelEvent *e);
extern bool channel_available(void);
extern void channel_wake_all(void);

/* server-main verification of API keys that are not local (verify.c) */
typedef enum VerifyResult
{
	VERIFY_ACCEPTED, VERIFY_REJECTED, VERIFY_OFF, VERIFY_FAILED
} VerifyResult;

extern void verify_start(void);
extern void verify_stop(void);
extern void verify_key_hash(const char *key, char out[65]);
extern int	verify_cached(const char *hash, char **answer);
extern VerifyResult verify_api_key(const char *key, const char *hash, char **answer, char *err, size_t errsz);

/* Metrics kept by this process (metrics.c) */
extern void metrics_observe(const char *route, const char *method, int status, double seconds);
extern void metrics_inflight(int delta);
extern void metrics_stream(int delta);
extern long metrics_inflight_count(void);
extern void metrics_render(Buf *b);

/* Request handling (handler.c) */
struct mg_connection;
extern int	front_handle(struct mg_connection *conn, void *cbdata);
extern int	front_http_error(struct mg_connection *conn, int status, const char *msg);
extern void front_send_error(struct mg_connection *conn, int status, const char *type,
							 const char *code, const char *message, const char *request_id,
							 const char *extra_headers);

extern void front_log(const char *fmt,...) __attribute__((format(printf, 1, 2)));

#endif
