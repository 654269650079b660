/*
 * channel.c: the channel pump. One connection per front calls
 * aigw.channel_wait(channel, timeout) in a loop and hands each event to the
 * request waiting for that task. Events that arrive before their request has
 * registered (the task finished before http_request returned) are kept for a
 * while so that nothing is lost to that race.
 */
#include "front.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NBUCKETS 1024
#define ORPHAN_TTL_SEC 120

struct Waiter
{
	Waiter	   *next;			/* bucket chain */
	char		task_id[40];
	ChannelEvent *head;
	ChannelEvent *tail;
	bool		registered;		/* false: events arrived first, nobody waits yet */
	bool		lost;			/* the channel connection broke while waiting */
	time_t		created;
	pthread_cond_t cond;
};

static Waiter *buckets[NBUCKETS];
static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t pump_thread;
static volatile bool pump_stop;
static volatile bool pump_available;
static bool pump_started;

/* Hashes a task id to a bucket */
static unsigned
Bucket(const char *task_id)
{
	unsigned	h = 2166136261u;

	for (const char *p = task_id; *p; p++)
		h = (h ^ (unsigned char) *p) * 16777619u;
	return h % NBUCKETS;
}

/* Finds a waiter; chan_lock held */
static Waiter *
Find(const char *task_id)
{
	for (Waiter *w = buckets[Bucket(task_id)]; w; w = w->next)
		if (strcmp(w->task_id, task_id) == 0)
			return w;
	return NULL;
}

/* Creates and links a waiter; chan_lock held */
static Waiter *
Create(const char *task_id)
{
	Waiter	   *w = calloc(1, sizeof(Waiter));
	unsigned	b = Bucket(task_id);

	if (!w)
		abort();
	snprintf(w->task_id, sizeof(w->task_id), "%s", task_id);
	w->created = time(NULL);
	pthread_cond_init(&w->cond, NULL);
	w->next = buckets[b];
	buckets[b] = w;
	return w;
}

/* Unlinks and frees a waiter with its queued events; chan_lock held */
static void
Destroy(Waiter *w)
{
	Waiter	  **pp = &buckets[Bucket(w->task_id)];

	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp)
		*pp = w->next;
	while (w->head)
	{
		ChannelEvent *e = w->head;

		w->head = e->next;
		channel_event_free(e);
	}
	pthread_cond_destroy(&w->cond);
	free(w);
}

/* Frees one event */
void
channel_event_free(ChannelEvent *e)
{
	if (e)
	{
		free(e->data);
		free(e);
	}
}

/* Queues an event for its task and wakes the waiter */
static void
Dispatch(const char *task_id, int64_t seq, const char *event, const char *data)
{
	ChannelEvent *e = calloc(1, sizeof(ChannelEvent));
	Waiter	   *w;

	if (!e)
		abort();
	e->seq = seq;
	snprintf(e->event, sizeof(e->event), "%s", event);
	e->data = strdup(data ? data : "");
	pthread_mutex_lock(&chan_lock);
	w = Find(task_id);
	if (!w)
		w = Create(task_id);
	if (w->tail)
		w->tail->next = e;
	else
		w->head = e;
	w->tail = e;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&chan_lock);
}

/* Drops events nobody claimed in time */
static void
CollectOrphans(void)
{
	time_t		now = time(NULL);

	pthread_mutex_lock(&chan_lock);
	for (int b = 0; b < NBUCKETS; b++)
	{
		Waiter	   *w = buckets[b];

		while (w)
		{
			Waiter	   *next = w->next;

			if (!w->registered && now - w->created > ORPHAN_TTL_SEC)
				Destroy(w);
			w = next;
		}
	}
	pthread_mutex_unlock(&chan_lock);
}

/* Marks every registered waiter as having possibly missed events */
static void
MarkAllLost(void)
{
	pthread_mutex_lock(&chan_lock);
	for (int b = 0; b < NBUCKETS; b++)
		for (Waiter *w = buckets[b]; w; w = w->next)
			if (w->registered)
			{
				w->lost = true;
				pthread_cond_signal(&w->cond);
			}
	pthread_mutex_unlock(&chan_lock);
}

/* Wakes every waiter (shutdown deadline) */
void
channel_wake_all(void)
{
	MarkAllLost();
}

/* True when the channel function answers */
bool
channel_available(void)
{
	return pump_available;
}

/* The pump: one connection, one channel_wait call after another */
static void *
Pump(void *arg)
{
	PGconn	   *conn = NULL;
	bool		ever_connected = false;
	time_t		last_gc = time(NULL);
	bool		missing_logged = false;

	while (!pump_stop)
	{
		PGresult   *r;
		const char *params[2];

		if (!conn)
		{
			conn = PQconnectdb(front_config.conninfo);
			if (PQstatus(conn) != CONNECTION_OK)
			{
				PQfinish(conn);
				conn = NULL;
				pump_available = false;
				usleep(250 * 1000);
				continue;
			}
			if (ever_connected)
			{
				front_log("channel connection re-established");
				MarkAllLost();
			}
			ever_connected = true;
		}
		params[0] = front_config.channel;
		params[1] = "1000";
		r = PQexecParams(conn, "SELECT task_id::text, seq, event, data FROM aigw.channel_wait($1, $2::int)",
						 2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
		{
			pump_available = true;
			missing_logged = false;
			for (int i = 0; i < PQntuples(r); i++)
				Dispatch(PQgetvalue(r, i, 0), strtoll(PQgetvalue(r, i, 1), NULL, 10),
						 PQgetvalue(r, i, 2), PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3));
		}
		else
		{
			const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

			pump_available = false;
			if (PQstatus(conn) != CONNECTION_OK)
			{
				front_log("channel connection lost: %s", PQerrorMessage(conn));
				PQfinish(conn);
				conn = NULL;
				MarkAllLost();
			}
			else
			{
				if (!missing_logged)
					front_log("channel_wait unavailable (%s): %s", state ? state : "?",
							  PQresultErrorMessage(r));
				missing_logged = true;
				usleep(1000 * 1000);
			}
		}
		PQclear(r);
		if (time(NULL) - last_gc >= 10)
		{
			CollectOrphans();
			last_gc = time(NULL);
		}
	}
	if (conn)
		PQfinish(conn);
	return arg;
}

/* Starts the pump thread */
void
channel_start(void)
{
	pump_stop = false;
	if (pthread_create(&pump_thread, NULL, Pump, NULL) != 0)
	{
		front_log("cannot start the channel pump");
		exit(1);
	}
	pump_started = true;
}

/* Stops the pump thread (its current call returns within its timeout) */
void
channel_stop(void)
{
	if (!pump_started)
		return;
	pump_stop = true;
	pthread_join(pump_thread, NULL);
	pump_started = false;
}

/* Registers interest in a task's events; events that came first are kept */
Waiter *
channel_register(const char *task_id)
{
	Waiter	   *w;

	pthread_mutex_lock(&chan_lock);
	w = Find(task_id);
	if (!w)
		w = Create(task_id);
	w->registered = true;
	pthread_mutex_unlock(&chan_lock);
	return w;
}

/*
 * Returns the next event, or NULL on timeout or when the channel broke
 * (*lost set; the flag is cleared so the caller can resynchronise once).
 */
ChannelEvent *
channel_next(Waiter *w, int timeout_ms, bool *lost)
{
	struct timespec deadline;
	ChannelEvent *e = NULL;

	*lost = false;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&chan_lock);
	while (!w->head && !w->lost)
		if (pthread_cond_timedwait(&w->cond, &chan_lock, &deadline) == ETIMEDOUT)
			break;
	if (w->head)
	{
		e = w->head;
		w->head = e->next;
		if (!w->head)
			w->tail = NULL;
		e->next = NULL;
	}
	else if (w->lost)
	{
		*lost = true;
		w->lost = false;
	}
	pthread_mutex_unlock(&chan_lock);
	return e;
}

/* Forgets a waiter */
void
channel_unregister(Waiter *w)
{
	pthread_mutex_lock(&chan_lock);
	Destroy(w);
	pthread_mutex_unlock(&chan_lock);
}
