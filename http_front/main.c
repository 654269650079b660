/*
 * main.c: aigw-http, the HTTP front of aigw. Reads its settings from flags,
 * the environment or a config file, starts civetweb, the libpq pool and the
 * channel pump, and drains in-flight requests on SIGTERM.
 */
#include "front.h"

#include <civetweb.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

FrontConfig front_config;
volatile bool front_draining;
volatile bool front_drain_expired;

typedef enum
{
	OPT_STR, OPT_INT, OPT_LONG, OPT_BOOL
} OptType;

typedef struct Option
{
	const char *name;			/* flag --name, file key name, env AIGW_HTTP_NAME */
	OptType		type;
	void	   *target;
	size_t		size;
	const char *help;
} Option;

static const Option options[] = {
	{"listen", OPT_STR, front_config.listen, sizeof(front_config.listen), "address:port to listen on (civetweb syntax; several separated by commas)"},
	{"conninfo", OPT_STR, front_config.conninfo, sizeof(front_config.conninfo), "libpq connection string (empty: PG* environment)"},
	{"pool-size", OPT_INT, &front_config.pool_size, 0, "connections for short SQL calls"},
	{"threads", OPT_INT, &front_config.threads, 0, "worker threads = concurrent requests and streams"},
	{"max-body", OPT_LONG, &front_config.max_body, 0, "request body limit in bytes"},
	{"max-header", OPT_INT, &front_config.max_header, 0, "request line and headers limit in bytes"},
	{"request-timeout-ms", OPT_INT, &front_config.request_timeout_ms, 0, "slow-client timeout for reading a request"},
	{"keepalive-timeout-ms", OPT_INT, &front_config.keepalive_timeout_ms, 0, "idle keep-alive timeout"},
	{"wait-timeout-ms", OPT_INT, &front_config.wait_timeout_ms, 0, "longest wait for a pending task's result"},
	{"pool-wait-ms", OPT_INT, &front_config.pool_wait_ms, 0, "longest wait for a free database connection"},
	{"drain-timeout-ms", OPT_INT, &front_config.drain_timeout_ms, 0, "on SIGTERM, longest wait for in-flight requests"},
	{"static-dir", OPT_STR, front_config.static_dir, sizeof(front_config.static_dir), "directory served at / (the console's web/dist)"},
	{"tls-cert", OPT_STR, front_config.tls_cert, sizeof(front_config.tls_cert), "PEM file with certificate and key: serve HTTPS on ports ending in s"},
	{"ssl-cert", OPT_STR, front_config.tls_cert, sizeof(front_config.tls_cert), "same as tls-cert"},
	{"channel", OPT_STR, front_config.channel, sizeof(front_config.channel), "event channel name of this front (default: unique)"},
	{"pidfile", OPT_STR, front_config.pidfile, sizeof(front_config.pidfile), "write the process id here"},
	{"quiet", OPT_BOOL, &front_config.quiet, 0, "log only errors"},
	{"verify-timeout-ms", OPT_INT, &front_config.verify_timeout_ms, 0, "timeout of a server-main API key verification call"},
	{"verify-ttl-s", OPT_INT, &front_config.verify_ttl_s, 0, "seconds an API key accepted by server-main stays cached"},
	{"verify-negative-ttl-s", OPT_INT, &front_config.verify_negative_ttl_s, 0, "seconds an API key rejected by server-main stays cached"},
	{NULL}
};

/* Logs one line to stderr with a UTC timestamp */
void
front_log(const char *fmt,...)
{
	va_list		ap;
	char		ts[32];
	time_t		now = time(NULL);
	struct tm	tm;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s aigw-http[%d]: ", ts, (int) getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Sets one option from text; false when the value is bad */
static bool
SetOption(const Option *o, const char *value)
{
	char	   *end;

	switch (o->type)
	{
		case OPT_STR:
			if (strlen(value) >= o->size)
				return false;
			strcpy((char *) o->target, value);
			return true;
		case OPT_INT:
			{
				long		v = strtol(value, &end, 10);

				if (*value == '\0' || *end || v < 0 || v > 1000000000L)
					return false;
				*(int *) o->target = (int) v;
				return true;
			}
		case OPT_LONG:
			{
				long		v = strtol(value, &end, 10);

				if (*value == '\0' || *end || v < 0)
					return false;
				*(long *) o->target = v;
				return true;
			}
		case OPT_BOOL:
			*(bool *) o->target = strcmp(value, "1") == 0 || strcasecmp(value, "true") == 0 ||
				strcasecmp(value, "on") == 0 || strcasecmp(value, "yes") == 0;
			return true;
	}
	return false;
}

/* Finds an option by name */
static const Option *
FindOption(const char *name)
{
	for (const Option *o = options; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* Reads "name = value" lines; # starts a comment */
static void
ReadConfigFile(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[2048];
	int			lineno = 0;

	if (!f)
	{
		fprintf(stderr, "aigw-http: cannot open config file %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *p = line,
				   *eq,
				   *k,
				   *v,
				   *e;
		const Option *o;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		eq = strchr(p, '=');
		if (!eq)
		{
			fprintf(stderr, "aigw-http: %s:%d: expected name = value\n", path, lineno);
			exit(2);
		}
		*eq = '\0';
		k = p;
		for (e = eq - 1; e >= k && (*e == ' ' || *e == '\t'); e--)
			*e = '\0';
		v = eq + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		for (e = v + strlen(v) - 1; e >= v && (*e == ' ' || *e == '\t'); e--)
			*e = '\0';
		if (strlen(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[strlen(v) - 1] == v[0])
		{
			v[strlen(v) - 1] = '\0';
			v++;
		}
		for (char *c = k; *c; c++)
			if (*c == '_')
				*c = '-';
		o = FindOption(k);
		if (!o || !SetOption(o, v))
		{
			fprintf(stderr, "aigw-http: %s:%d: %s %s\n", path, lineno, o ? "bad value for" : "unknown setting", k);
			exit(2);
		}
	}
	fclose(f);
}

/* Prints usage */
static void
Usage(void)
{
	printf("Usage: aigw-http [--config FILE] [--name value ...]\n\n"
		   "Settings (flag, config file key, or environment AIGW_HTTP_NAME):\n");
	for (const Option *o = options; o->name; o++)
		printf("  --%-22s %s\n", o->name, o->help);
	printf("\nPrecedence: flags over environment over the config file over defaults.\n");
}

/* Environment variable name of an option */
static void
EnvName(const char *name, char *out, size_t outsz)
{
	size_t		o = (size_t) snprintf(out, outsz, "AIGW_HTTP_");

	for (const char *p = name; *p && o + 1 < outsz; p++)
		out[o++] = *p == '-' ? '_' : (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	out[o] = '\0';
}

/* Defaults, then config file, then environment, then flags */
static void
Configure(int argc, char **argv)
{
	const char *config = getenv("AIGW_HTTP_CONFIG");
	unsigned char rnd[6];
	char		host[64] = "front";

	snprintf(front_config.listen, sizeof(front_config.listen), "127.0.0.1:8080");
	front_config.pool_size = 8;
	front_config.threads = 256;
	front_config.max_body = 32L * 1024 * 1024;
	front_config.max_header = 16384;
	front_config.request_timeout_ms = 30000;
	front_config.keepalive_timeout_ms = 15000;
	front_config.wait_timeout_ms = 600000;
	front_config.pool_wait_ms = 5000;
	front_config.drain_timeout_ms = 30000;
	front_config.verify_timeout_ms = 5000;
	front_config.verify_ttl_s = 60;
	front_config.verify_negative_ttl_s = 5;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			Usage();
			exit(0);
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
	}
	if (config && *config)
		ReadConfigFile(config);
	for (const Option *o = options; o->name; o++)
	{
		char		env[64];
		const char *v;

		EnvName(o->name, env, sizeof(env));
		v = getenv(env);
		if (v && !SetOption(o, v))
		{
			fprintf(stderr, "aigw-http: bad value for %s\n", env);
			exit(2);
		}
	}
	for (int i = 1; i < argc; i++)
	{
		char		name[64];
		const char *value;
		const char *eq;
		const Option *o;

		if (strncmp(argv[i], "--", 2) != 0)
		{
			fprintf(stderr, "aigw-http: unexpected argument %s (see --help)\n", argv[i]);
			exit(2);
		}
		eq = strchr(argv[i], '=');
		snprintf(name, sizeof(name), "%.*s", (int) (eq ? eq - argv[i] - 2 : (long) strlen(argv[i] + 2)), argv[i] + 2);
		if (strcmp(name, "config") == 0)
		{
			if (!eq)
				i++;
			continue;
		}
		o = FindOption(name);
		if (!o)
		{
			fprintf(stderr, "aigw-http: unknown flag --%s (see --help)\n", name);
			exit(2);
		}
		if (eq)
			value = eq + 1;
		else if (o->type == OPT_BOOL)
			value = "true";
		else if (i + 1 < argc)
			value = argv[++i];
		else
		{
			fprintf(stderr, "aigw-http: --%s needs a value\n", name);
			exit(2);
		}
		if (!SetOption(o, value))
		{
			fprintf(stderr, "aigw-http: bad value for --%s\n", name);
			exit(2);
		}
	}
	if (front_config.pool_size < 1 || front_config.threads < 2 || front_config.max_header < 1024)
	{
		fprintf(stderr, "aigw-http: pool-size must be >= 1, threads >= 2, max-header >= 1024\n");
		exit(2);
	}
	if (!front_config.channel[0])
	{
		gethostname(host, sizeof(host) - 1);
		host[20] = '\0';
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		snprintf(front_config.channel, sizeof(front_config.channel), "front-%s-%d-%02x%02x%02x%02x%02x%02x",
				 host, (int) getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	}
}

/*
 * Loads libaigw-tls.so (next to this program, or in ../lib) so that civetweb's
 * dlopen("libssl.so") gets OpenSSL 3 with the one OpenSSL 1.1 name it needs.
 */
static void
LoadTlsCompat(void)
{
	char		exe[1024];
	char		path[1200];
	ssize_t		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char	   *slash;

	if (n <= 0)
		return;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/libaigw-tls.so", exe);
	if (access(path, R_OK) != 0)
		snprintf(path, sizeof(path), "%s/../lib/libaigw-tls.so", exe);
	if (access(path, R_OK) == 0 && !dlopen(path, RTLD_NOW | RTLD_GLOBAL))
		front_log("cannot load %s: %s", path, dlerror());
}

/* civetweb's own log lines */
static int
LogMessage(const struct mg_connection *conn, const char *message)
{
	if (!front_config.quiet)
		front_log("%s", message);
	return 1;
}

/*
 * Drains: new requests are refused (503, Connection: close) while in-flight
 * ones finish; at the deadline waiting requests are released with a 503 that
 * names their task. civetweb stops only afterwards, since it refuses writes
 * once stopping.
 */
static void
Drain(void)
{
	struct timespec start,
				now;
	long		waited_ms = 0;

	front_draining = true;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (metrics_inflight_count() > 0)
	{
		usleep(20 * 1000);
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited_ms >= front_config.drain_timeout_ms && !front_drain_expired)
		{
			front_log("drain deadline reached with %ld requests in flight", metrics_inflight_count());
			front_drain_expired = true;
			channel_wake_all();
		}
		if (waited_ms >= front_config.drain_timeout_ms + 5000)
			break;
	}
}

int
main(int argc, char **argv)
{
	char		threads[16],
				maxreq[16],
				reqto[16],
				kato[16];
	const char *opts[32];
	int			n = 0;
	struct mg_callbacks cb;
	struct mg_context *ctx;
	sigset_t	set;
	int			sig = 0;

	Configure(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	/* every thread inherits this mask; only the main thread takes signals */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	/* 2 = MG_FEATURES_TLS; civetweb loads OpenSSL itself and reports failure as 0 */
	if (front_config.tls_cert[0])
		LoadTlsCompat();
	if (mg_init_library(front_config.tls_cert[0] ? 2 : 0) == 0 && front_config.tls_cert[0])
	{
		front_log("TLS is not available: civetweb cannot load OpenSSL (libaigw-tls.so, built with "
				  "aigw-http, adapts OpenSSL 3 to Debian 12's civetweb 1.15); terminate TLS in a proxy");
		return 2;
	}
	verify_start();
	pool_start();
	channel_start();

	snprintf(threads, sizeof(threads), "%d", front_config.threads);
	snprintf(maxreq, sizeof(maxreq), "%d", front_config.max_header);
	snprintf(reqto, sizeof(reqto), "%d", front_config.request_timeout_ms);
	snprintf(kato, sizeof(kato), "%d", front_config.keepalive_timeout_ms);
	opts[n++] = "listening_ports";
	opts[n++] = front_config.listen;
	opts[n++] = "num_threads";
	opts[n++] = threads;
	opts[n++] = "max_request_size";
	opts[n++] = maxreq;
	opts[n++] = "request_timeout_ms";
	opts[n++] = reqto;
	opts[n++] = "keep_alive_timeout_ms";
	opts[n++] = kato;
	opts[n++] = "enable_keep_alive";
	opts[n++] = "yes";
	opts[n++] = "enable_directory_listing";
	opts[n++] = "no";
	opts[n++] = "listen_backlog";
	opts[n++] = "4096";
	opts[n++] = "tcp_nodelay";
	opts[n++] = "1";
	opts[n++] = "decode_url";
	opts[n++] = "yes";
	if (front_config.static_dir[0])
	{
		opts[n++] = "document_root";
		opts[n++] = front_config.static_dir;
	}
	if (front_config.tls_cert[0])
	{
		opts[n++] = "ssl_certificate";
		opts[n++] = front_config.tls_cert;
	}
	opts[n] = NULL;

	memset(&cb, 0, sizeof(cb));
	cb.log_message = LogMessage;
	cb.http_error = front_http_error;
	ctx = mg_start(&cb, NULL, opts);
	if (!ctx)
	{
		front_log("cannot listen on %s", front_config.listen);
		channel_stop();
		pool_stop();
		return 1;
	}
	mg_set_request_handler(ctx, "/", front_handle, NULL);
	if (front_config.pidfile[0])
	{
		FILE	   *f = fopen(front_config.pidfile, "w");

		if (f)
		{
			fprintf(f, "%d\n", (int) getpid());
			fclose(f);
		}
	}
	if (!front_config.quiet)
		front_log("listening on %s, channel %s, pool %d, threads %d", front_config.listen,
				  front_config.channel, front_config.pool_size, front_config.threads);

	for (;;)
	{
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
	}
	front_log("signal %d: draining in-flight requests (up to %d ms)", sig, front_config.drain_timeout_ms);
	Drain();
	mg_stop(ctx);
	channel_stop();
	pool_stop();
	verify_stop();
	if (front_config.pidfile[0])
		unlink(front_config.pidfile);
	front_log("stopped");
	mg_exit_library();
	return 0;
}
