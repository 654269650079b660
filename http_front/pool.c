/*
 * pool.c: a pool of libpq connections for short calls. A connection is held
 * only for the duration of one statement, never while a provider works.
 */
#include "front.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct PoolConn
{
	PGconn	   *conn;
	bool		prepared;
	bool		err_prepared;
	unsigned	epoch;			/* pool epoch at the last successful check */
	struct PoolConn *next_free;
} PoolConn;

static PoolConn *conns;
static PoolConn *free_list;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static unsigned pool_epoch = 1;	/* bumped when any connection breaks */
static int	connected_count;

static const char *const REQUEST_SQL =
"SELECT status, headers::text, body, task_id::text, stream "
"FROM aigw.http_request($1, $2, $3::jsonb, $4::jsonb, $5, $6)";

static const char *const ERROR_SQL =
"SELECT status, headers::text, body FROM aigw.http_error_response($1, $2, $3, $4, $5)";

/*
 * Turns a statement error into a response through aigw.http_error_response,
 * the one place where SQLSTATEs become HTTP statuses. The failed request's
 * transaction is already rolled back.
 */
static bool
MapError(PoolConn *pc, const PGresult *err, const char *request_id, PoolResult *out)
{
	const char *params[5];
	PGresult   *r;
	bool		ok;

	params[0] = PQresultErrorField(err, PG_DIAG_SQLSTATE);
	params[1] = PQresultErrorField(err, PG_DIAG_MESSAGE_PRIMARY);
	params[2] = PQresultErrorField(err, PG_DIAG_MESSAGE_DETAIL);
	params[3] = PQresultErrorField(err, PG_DIAG_MESSAGE_HINT);
	params[4] = request_id;
	if (!params[0] || PQstatus(pc->conn) != CONNECTION_OK)
		return false;
	if (!pc->err_prepared)
	{
		r = PQprepare(pc->conn, "aigw_err", ERROR_SQL, 5, NULL);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok)
			return false;
		pc->err_prepared = true;
	}
	r = PQexecPrepared(pc->conn, "aigw_err", 5, params, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	if (ok)
	{
		out->status = atoi(PQgetvalue(r, 0, 0));
		out->headers = strdup(PQgetisnull(r, 0, 1) ? "{}" : PQgetvalue(r, 0, 1));
		out->body = PQgetisnull(r, 0, 2) ? strdup("") : strdup(PQgetvalue(r, 0, 2));
		out->task_id[0] = '\0';
		out->stream = false;
		snprintf(out->sqlstate, sizeof(out->sqlstate), "%s", params[0]);
	}
	PQclear(r);
	return ok;
}

/* Creates the pool; connections open lazily on first use */
void
pool_start(void)
{
	conns = calloc(front_config.pool_size, sizeof(PoolConn));
	if (!conns)
		abort();
	for (int i = front_config.pool_size - 1; i >= 0; i--)
	{
		conns[i].next_free = free_list;
		free_list = &conns[i];
	}
}

/* Closes every connection */
void
pool_stop(void)
{
	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < front_config.pool_size; i++)
		if (conns[i].conn)
		{
			PQfinish(conns[i].conn);
			conns[i].conn = NULL;
		}
	connected_count = 0;
	pthread_mutex_unlock(&pool_lock);
}

/* Number of open connections, for /metrics and /readyz */
int
pool_connected(void)
{
	return __atomic_load_n(&connected_count, __ATOMIC_RELAXED);
}

/* Takes a free connection, waiting up to pool_wait_ms */
static PoolConn *
Acquire(void)
{
	struct timespec deadline;
	PoolConn   *pc;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += front_config.pool_wait_ms / 1000;
	deadline.tv_nsec += (long) (front_config.pool_wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&pool_lock);
	while (!free_list)
	{
		if (pthread_cond_timedwait(&pool_cond, &pool_lock, &deadline) == ETIMEDOUT)
		{
			pthread_mutex_unlock(&pool_lock);
			return NULL;
		}
	}
	pc = free_list;
	free_list = pc->next_free;
	pthread_mutex_unlock(&pool_lock);
	return pc;
}

/* Returns a connection to the pool */
static void
Release(PoolConn *pc)
{
	pthread_mutex_lock(&pool_lock);
	pc->next_free = free_list;
	free_list = pc;
	pthread_cond_signal(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
}

/* Drops a broken connection and tells the others to check themselves */
static void
Discard(PoolConn *pc)
{
	if (pc->conn)
	{
		PQfinish(pc->conn);
		pc->conn = NULL;
		__atomic_sub_fetch(&connected_count, 1, __ATOMIC_RELAXED);
	}
	pc->prepared = false;
	pc->err_prepared = false;
	__atomic_add_fetch(&pool_epoch, 1, __ATOMIC_RELAXED);
}

/*
 * Makes sure pc has a live connection with the request statement prepared.
 * After another connection broke (a PostgreSQL restart), an idle connection
 * is checked with an empty query before it carries a request.
 */
static bool
Ensure(PoolConn *pc, char *err, size_t errsz)
{
	unsigned	epoch = __atomic_load_n(&pool_epoch, __ATOMIC_RELAXED);

	if (pc->conn && (PQstatus(pc->conn) != CONNECTION_OK || pc->epoch != epoch))
	{
		PGresult   *r = PQstatus(pc->conn) == CONNECTION_OK ? PQexec(pc->conn, "") : NULL;
		bool		ok = r && PQresultStatus(r) == PGRES_EMPTY_QUERY;

		PQclear(r);
		if (!ok)
			Discard(pc);
		else
			pc->epoch = epoch;
	}
	if (!pc->conn)
	{
		pc->conn = PQconnectdb(front_config.conninfo);
		if (PQstatus(pc->conn) != CONNECTION_OK)
		{
			snprintf(err, errsz, "%s", PQerrorMessage(pc->conn));
			PQfinish(pc->conn);
			pc->conn = NULL;
			return false;
		}
		__atomic_add_fetch(&connected_count, 1, __ATOMIC_RELAXED);
		pc->epoch = __atomic_load_n(&pool_epoch, __ATOMIC_RELAXED);
		pc->prepared = false;
		pc->err_prepared = false;
	}
	if (!pc->prepared)
	{
		PGresult   *r = PQprepare(pc->conn, "aigw_req", REQUEST_SQL, 6, NULL);
		bool		ok = PQresultStatus(r) == PGRES_COMMAND_OK;

		if (!ok)
			snprintf(err, errsz, "%s", PQresultErrorMessage(r));
		PQclear(r);
		if (!ok)
		{
			if (PQstatus(pc->conn) != CONNECTION_OK)
				Discard(pc);
			return false;
		}
		pc->prepared = true;
	}
	return true;
}

/* Copies the first line of a libpq message */
static void
CopyMessage(char *dst, size_t dstsz, const char *msg)
{
	size_t		n = strcspn(msg, "\n");

	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, msg, n);
	dst[n] = '\0';
}

/*
 * Runs aigw.http_request. params: method, path, headers, query, body, channel.
 * A GET is retried once on a fresh connection when the connection broke; other
 * methods are not, because their transaction may have committed.
 */
bool
pool_http_request(const char *params[6], const char *request_id, PoolResult *out)
{
	bool		idempotent = strcmp(params[0], "GET") == 0 || strcmp(params[0], "HEAD") == 0;

	memset(out, 0, sizeof(*out));
	for (int attempt = 0; attempt < 2; attempt++)
	{
		PoolConn   *pc = Acquire();
		PGresult   *r;

		if (!pc)
		{
			out->failed = true;
			snprintf(out->error, sizeof(out->error), "all database connections are busy");
			return false;
		}
		if (!Ensure(pc, out->error, sizeof(out->error)))
		{
			Release(pc);
			out->failed = true;
			return false;
		}
		r = PQexecPrepared(pc->conn, "aigw_req", 6, params, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		{
			out->status = atoi(PQgetvalue(r, 0, 0));
			out->headers = strdup(PQgetisnull(r, 0, 1) ? "{}" : PQgetvalue(r, 0, 1));
			out->body = PQgetisnull(r, 0, 2) ? NULL : strdup(PQgetvalue(r, 0, 2));
			if (!PQgetisnull(r, 0, 3))
				snprintf(out->task_id, sizeof(out->task_id), "%s", PQgetvalue(r, 0, 3));
			out->stream = !PQgetisnull(r, 0, 4) && PQgetvalue(r, 0, 4)[0] == 't';
			PQclear(r);
			Release(pc);
			return true;
		}
		if (MapError(pc, r, request_id, out))
		{
			PQclear(r);
			Release(pc);
			return true;
		}
		CopyMessage(out->error, sizeof(out->error), PQresultErrorMessage(r));
		{
			const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

			/* a dropped or replaced function invalidates the prepared statement */
			if (state && (strcmp(state, "26000") == 0 || strcmp(state, "0A000") == 0))
				pc->prepared = false;
		}
		PQclear(r);
		if (PQstatus(pc->conn) != CONNECTION_OK)
		{
			Discard(pc);
			Release(pc);
			if (idempotent)
				continue;
		}
		else
			Release(pc);
		break;
	}
	out->failed = true;
	return false;
}

/*
 * Reads the final outcome of a task ({"status","body","headers"} or NULL when
 * not terminal) through aigw.http_task_outcome. Used when events may have been
 * missed while the channel connection was down.
 */
bool
pool_task_outcome(const char *task_id, char **outcome)
{
	PoolConn   *pc = Acquire();
	char		err[256];
	const char *params[1] = {task_id};
	PGresult   *r;
	bool		ok = false;

	*outcome = NULL;
	if (!pc)
		return false;
	if (!Ensure(pc, err, sizeof(err)))
	{
		Release(pc);
		return false;
	}
	r = PQexecParams(pc->conn, "SELECT aigw.http_task_outcome($1::uuid)::text", 1, NULL, params,
					 NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
	{
		ok = true;
		if (!PQgetisnull(r, 0, 0))
			*outcome = strdup(PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	if (PQstatus(pc->conn) != CONNECTION_OK)
		Discard(pc);
	Release(pc);
	return ok;
}

/*
 * Reads what server-main API key verification needs ({"url","token"}, or NULL
 * when it is off) through aigw.http_server_main_verify_settings.
 */
bool
pool_verify_settings(char **settings)
{
	PoolConn   *pc = Acquire();
	char		err[256];
	PGresult   *r;
	bool		ok = false;

	*settings = NULL;
	if (!pc)
		return false;
	if (!Ensure(pc, err, sizeof(err)))
	{
		Release(pc);
		return false;
	}
	r = PQexec(pc->conn, "SELECT aigw.http_server_main_verify_settings()::text");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
	{
		ok = true;
		if (!PQgetisnull(r, 0, 0))
			*settings = strdup(PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	if (PQstatus(pc->conn) != CONNECTION_OK)
		Discard(pc);
	Release(pc);
	return ok;
}

/* Frees what pool_http_request allocated */
void
pool_result_free(PoolResult *r)
{
	free(r->headers);
	free(r->body);
	r->headers = r->body = NULL;
}
