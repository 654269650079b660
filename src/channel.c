/*
 * channel.c: event channels in shared memory, and task waiters.
 *
 * A channel is a byte ring read by one front connection (aigw.channel_wait)
 * and written by task workers: stream chunks and completions travel to the
 * front without a commit per token and without a connection per request.
 * A full ring makes the writer pause its own transfer, never the reader.
 */
#include "aigw.h"
#include "runtime.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"

/* A channel unread this long with no reader is considered abandoned */
#define CHANNEL_ABANDON_MS 30000

typedef struct EventHeader
{
	uint32		data_len;
	uint8		kind;
	pg_uuid_t	task;
	int64		seq;
} EventHeader;

static uint32 channel_wait_event = 0;
static uint32 task_wait_event = 0;

/* Returns channel i */
AigwChannel *
AigwChannelAt(int i)
{
	return (AigwChannel *) (AigwShmem->channels + (Size) i * AigwShmem->channel_size);
}

/* Bytes available in a channel's ring */
static inline Size
RingCapacity(void)
{
	return AigwShmem->channel_size - offsetof(AigwChannel, ring);
}

/* Copies len bytes into the ring at logical offset pos */
static void
RingWrite(AigwChannel *ch, uint64 pos, const char *src, Size len)
{
	Size		cap = RingCapacity();
	Size		off = pos % cap;
	Size		first = Min(len, cap - off);

	memcpy(ch->ring + off, src, first);
	if (first < len)
		memcpy(ch->ring, src + first, len - first);
}

/* Copies len bytes out of the ring at logical offset pos */
static void
RingRead(AigwChannel *ch, uint64 pos, char *dst, Size len)
{
	Size		cap = RingCapacity();
	Size		off = pos % cap;
	Size		first = Min(len, cap - off);

	memcpy(dst, ch->ring + off, first);
	if (first < len)
		memcpy(dst + first, ch->ring, len - first);
}

/* True when an unused or abandoned slot may be (re)taken */
static bool
ChannelReclaimable(AigwChannel *ch, TimestampTz now)
{
	return !ch->in_use ||
		(ch->reader == NULL &&
		 TimestampDifferenceExceeds(ch->last_read, now, CHANNEL_ABANDON_MS));
}

/* Finds a channel by name; with create, allocates one; -1 when absent or full */
int
AigwChannelLookup(const char *name, bool create)
{
	int			found = -1;

	LWLockAcquire(AigwShmem->lock, create ? LW_EXCLUSIVE : LW_SHARED);
	for (int i = 0; i < AigwShmem->nchannels; i++)
	{
		AigwChannel *ch = AigwChannelAt(i);

		if (ch->in_use && strcmp(ch->name, name) == 0)
		{
			found = i;
			break;
		}
	}
	if (found < 0 && create)
	{
		TimestampTz now = GetCurrentTimestamp();

		for (int i = 0; i < AigwShmem->nchannels; i++)
		{
			AigwChannel *ch = AigwChannelAt(i);

			if (ChannelReclaimable(ch, now))
			{
				SpinLockAcquire(&ch->mutex);
				ch->in_use = true;
				strlcpy(ch->name, name, AIGW_CHANNEL_NAMELEN);
				ch->reader = NULL;
				ch->last_read = now;
				ch->head = ch->tail = 0;
				ch->writers_blocked = 0;
				ch->dropped = 0;
				SpinLockRelease(&ch->mutex);
				found = i;
				break;
			}
		}
	}
	LWLockRelease(AigwShmem->lock);
	return found;
}

/*
 * Posts one event. Returns false with *full set when the ring has no room
 * (the caller pauses its transfer and retries after a wake-up), and false
 * without *full when the channel does not exist (nobody is listening).
 */
bool
AigwChannelPost(const char *name, const pg_uuid_t *task, int64 seq,
				AigwEventKind kind, const char *data, Size len, bool *full)
{
	int			idx;
	AigwChannel *ch;
	EventHeader hdr;
	Size		need = sizeof(EventHeader) + len;
	Latch	   *reader = NULL;

	*full = false;
	if (AigwShmem == NULL || name == NULL || name[0] == '\0')
		return false;
	idx = AigwChannelLookup(name, false);
	if (idx < 0)
		return false;
	ch = AigwChannelAt(idx);
	if (need > RingCapacity())
	{
		ch->dropped++;
		return false;
	}
	hdr.data_len = (uint32) len;
	hdr.kind = (uint8) kind;
	hdr.task = *task;
	hdr.seq = seq;

	SpinLockAcquire(&ch->mutex);
	if (RingCapacity() - (ch->tail - ch->head) < need)
	{
		ch->writers_blocked++;
		SpinLockRelease(&ch->mutex);
		*full = true;
		return false;
	}
	RingWrite(ch, ch->tail, (const char *) &hdr, sizeof(hdr));
	RingWrite(ch, ch->tail + sizeof(hdr), data, len);
	ch->tail += need;
	reader = ch->reader;
	SpinLockRelease(&ch->mutex);
	if (reader)
		SetLatch(reader);
	return true;
}

static const char *
EventKindName(uint8 kind)
{
	switch (kind)
	{
		case AIGW_EVENT_CHUNK:
			return "chunk";
		case AIGW_EVENT_RESULT:
			return "result";
		case AIGW_EVENT_PROGRESS:
			return "progress";
	}
	return "unknown";
}

/* Moves up to max_bytes of events from the ring into the tuplestore; returns count */
static int
DrainChannel(AigwChannel *ch, ReturnSetInfo *rsinfo, Size max_bytes, bool *wake_writers)
{
	uint64		head,
				tail;
	Size		taken = 0;
	int			n = 0;

	SpinLockAcquire(&ch->mutex);
	head = ch->head;
	tail = ch->tail;
	SpinLockRelease(&ch->mutex);

	while (head < tail && taken < max_bytes)
	{
		EventHeader hdr;
		char	   *data;
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

		RingRead(ch, head, (char *) &hdr, sizeof(hdr));
		data = palloc(hdr.data_len + 1);
		RingRead(ch, head + sizeof(hdr), data, hdr.data_len);
		data[hdr.data_len] = '\0';
		*u = hdr.task;
		values[0] = UUIDPGetDatum(u);
		values[1] = Int64GetDatum(hdr.seq);
		values[2] = CStringGetTextDatum(EventKindName(hdr.kind));
		values[3] = PointerGetDatum(cstring_to_text_with_len(data, hdr.data_len));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		head += sizeof(hdr) + hdr.data_len;
		taken += sizeof(hdr) + hdr.data_len;
		n++;
	}

	SpinLockAcquire(&ch->mutex);
	ch->head = head;
	ch->last_read = GetCurrentTimestamp();
	*wake_writers = ch->writers_blocked > 0;
	ch->writers_blocked = 0;
	SpinLockRelease(&ch->mutex);
	return n;
}

PG_FUNCTION_INFO_V1(aigw_channel_wait);

/*
 * aigw.channel_wait(channel text, timeout_ms int): returns the events queued
 * on the channel, waiting up to timeout_ms for the first one.
 */
Datum
aigw_channel_wait(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			timeout_ms = PG_GETARG_INT32(1);
	TimestampTz deadline;
	AigwChannel *ch;
	int			idx;

	AigwAttachShmem();
	if (strlen(name) == 0 || strlen(name) >= AIGW_CHANNEL_NAMELEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("channel name must have 1 to %d characters", AIGW_CHANNEL_NAMELEN - 1)));
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative")));
	InitMaterializedSRF(fcinfo, 0);
	idx = AigwChannelLookup(name, true);
	if (idx < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no free event channel"),
				 errhint("Raise aigw.channels.")));
	ch = AigwChannelAt(idx);
	if (channel_wait_event == 0)
		channel_wait_event = WaitEventExtensionNew("AigwChannelWait");
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);

	for (;;)
	{
		bool		wake_writers = false;
		int			n;
		long		remaining;

		ResetLatch(MyLatch);
		n = DrainChannel(ch, rsinfo, 1024 * 1024, &wake_writers);
		if (wake_writers)
			AigwWakeAllWorkers();
		if (n > 0)
			break;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			break;
		SpinLockAcquire(&ch->mutex);
		ch->reader = MyLatch;
		SpinLockRelease(&ch->mutex);
		PG_TRY();
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 remaining, channel_wait_event);
			CHECK_FOR_INTERRUPTS();
		}
		PG_FINALLY();
		{
			SpinLockAcquire(&ch->mutex);
			ch->reader = NULL;
			ch->last_read = GetCurrentTimestamp();
			SpinLockRelease(&ch->mutex);
		}
		PG_END_TRY();
	}
	return (Datum) 0;
}

/* Registers the caller as waiting for a task; returns the slot or -1 */
int
AigwAddTaskWaiter(const pg_uuid_t *task)
{
	int			slot = -1;

	LWLockAcquire(AigwShmem->lock, LW_EXCLUSIVE);
	for (int i = 0; i < AigwShmem->nwaiters; i++)
	{
		if (AigwShmem->waiters[i].latch == NULL)
		{
			AigwShmem->waiters[i].task_id = *task;
			AigwShmem->waiters[i].latch = MyLatch;
			pg_atomic_write_u64(&AigwShmem->waiters[i].commit_end, 0);
			slot = i;
			break;
		}
	}
	LWLockRelease(AigwShmem->lock);
	return slot;
}

/* Removes a waiter registered by AigwAddTaskWaiter */
void
AigwRemoveTaskWaiter(int slot)
{
	LWLockAcquire(AigwShmem->lock, LW_EXCLUSIVE);
	AigwShmem->waiters[slot].latch = NULL;
	LWLockRelease(AigwShmem->lock);
}

/*
 * Wakes every SQL caller waiting for this task, once its outcome is visible;
 * commit_end is where the commit record that made it visible ends, which the
 * caller flushes before it returns the outcome.
 */
void
AigwNotifyTaskWaiters(const pg_uuid_t *task, XLogRecPtr commit_end)
{
	if (AigwShmem == NULL)
		return;
	LWLockAcquire(AigwShmem->lock, LW_SHARED);
	for (int i = 0; i < AigwShmem->nwaiters; i++)
	{
		AigwTaskWaiter *w = &AigwShmem->waiters[i];

		if (w->latch != NULL && memcmp(&w->task_id, task, sizeof(pg_uuid_t)) == 0)
		{
			uint64		old = pg_atomic_read_u64(&w->commit_end);

			/* the latest of the commits that woke it */
			while (old < commit_end && !pg_atomic_compare_exchange_u64(&w->commit_end, &old, commit_end))
				;
			SetLatch(w->latch);
		}
	}
	LWLockRelease(AigwShmem->lock);
}

/* True when an SQL caller waits for this task */
bool
AigwTaskHasWaiter(const pg_uuid_t *task)
{
	bool		found = false;

	if (AigwShmem == NULL)
		return false;
	LWLockAcquire(AigwShmem->lock, LW_SHARED);
	for (int i = 0; i < AigwShmem->nwaiters && !found; i++)
		found = AigwShmem->waiters[i].latch != NULL &&
			memcmp(&AigwShmem->waiters[i].task_id, task, sizeof(pg_uuid_t)) == 0;
	LWLockRelease(AigwShmem->lock);
	return found;
}

/* The end of the commit record of the notification the waiter in slot got, or 0 */
XLogRecPtr
AigwTaskWaiterCommitEnd(int slot)
{
	return pg_atomic_read_u64(&AigwShmem->waiters[slot].commit_end);
}

/* Wait event for aigw.await_task */
uint32
AigwTaskWaitEvent(void)
{
	if (task_wait_event == 0)
		task_wait_event = WaitEventExtensionNew("AigwAwaitTask");
	return task_wait_event;
}
