/*
 * shmem.c: the task runtime's shared memory — worker slots, event channels,
 * task waiters — and the wake-ups between backends and workers.
 */
#include "aigw.h"
#include "runtime.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

AigwShared *AigwShmem = NULL;
int			aigw_channels = 16;
int			aigw_channel_buffer_kb = 512;
int			aigw_max_task_waiters = 256;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Bytes of one channel including its ring */
static Size
ChannelSize(void)
{
	return MAXALIGN(offsetof(AigwChannel, ring) + (Size) aigw_channel_buffer_kb * 1024);
}

/* Total shared memory the runtime needs */
static Size
RuntimeShmemSize(void)
{
	Size		size = MAXALIGN(sizeof(AigwShared));

	size = add_size(size, mul_size(aigw_max_task_waiters, sizeof(AigwTaskWaiter)));
	size = add_size(size, mul_size(aigw_channels, ChannelSize()));
	size = add_size(size, mul_size(AIGW_PAYLOAD_SLOTS, AIGW_PAYLOAD_SLOT_SIZE));
	return size;
}

/* shmem_request_hook: reserve space and a lock tranche */
static void
RuntimeShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(RuntimeShmemSize());
	RequestNamedLWLockTranche("aigw_runtime", 1);
}

/* shmem_startup_hook: initialise or attach */
static void
RuntimeShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	AigwShmem = ShmemInitStruct("aigw runtime", RuntimeShmemSize(), &found);
	if (!found)
	{
		char	   *p = (char *) AigwShmem;

		memset(AigwShmem, 0, sizeof(AigwShared));
		AigwShmem->lock = &(GetNamedLWLockTranche("aigw_runtime"))->lock;
		AigwShmem->started_at = GetCurrentTimestamp();
		pg_atomic_init_u32(&AigwShmem->next_worker, 0);
		pg_atomic_init_u64(&AigwShmem->submitted, 0);
		pg_atomic_init_u64(&AigwShmem->completed, 0);
		pg_atomic_init_u32(&AigwShmem->slot_waiters, 0);
		SpinLockInit(&AigwShmem->handoff.mutex);
		SpinLockInit(&AigwShmem->payloads.mutex);
		AigwShmem->payloads.nfree = AIGW_PAYLOAD_SLOTS;
		for (int i = 0; i < AIGW_PAYLOAD_SLOTS; i++)
			AigwShmem->payloads.free[i] = AIGW_PAYLOAD_SLOTS - 1 - i;
		SpinLockInit(&AigwShmem->cancels.mutex);
		pg_atomic_init_u64(&AigwShmem->cancels.next, 0);
		for (int i = 0; i < AIGW_MAX_WORKERS; i++)
		{
			pg_atomic_init_u32(&AigwShmem->workers[i].inflight, 0);
			pg_atomic_init_u32(&AigwShmem->workers[i].scan, 1);
		}
		p += MAXALIGN(sizeof(AigwShared));
		AigwShmem->nwaiters = aigw_max_task_waiters;
		AigwShmem->waiters = (AigwTaskWaiter *) p;
		memset(p, 0, aigw_max_task_waiters * sizeof(AigwTaskWaiter));
		for (int i = 0; i < aigw_max_task_waiters; i++)
			pg_atomic_init_u64(&AigwShmem->waiters[i].commit_end, 0);
		p += aigw_max_task_waiters * sizeof(AigwTaskWaiter);
		AigwShmem->nchannels = aigw_channels;
		AigwShmem->channel_size = ChannelSize();
		AigwShmem->channels = p;
		for (int i = 0; i < aigw_channels; i++)
		{
			AigwChannel *ch = AigwChannelAt(i);

			memset(ch, 0, offsetof(AigwChannel, ring));
			SpinLockInit(&ch->mutex);
		}
		p += mul_size(aigw_channels, ChannelSize());
		AigwShmem->payload_data = p;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Defines the runtime's shared-memory GUCs and installs the hooks */
void
AigwRuntimeShmemInit(void)
{
	DefineCustomIntVariable("aigw.channels",
							"Number of event channels (one per aigw-http front or SQL waiter).",
							NULL, &aigw_channels, 16, 1, 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.channel_buffer",
							"Buffer size of each event channel.",
							NULL, &aigw_channel_buffer_kb, 512, 16, 65536,
							PGC_POSTMASTER, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("aigw.max_task_waiters",
							"Maximum concurrent aigw.await_task callers.",
							NULL, &aigw_max_task_waiters, 256, 1, 65536,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = RuntimeShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = RuntimeShmemStartup;
}

/* Errors out unless the library was preloaded (the runtime needs shared memory) */
void
AigwAttachShmem(void)
{
	if (AigwShmem == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("aigw must be loaded through shared_preload_libraries"),
				 errhint("Add aigw to shared_preload_libraries and restart the server.")));
}

/* Claims worker slot i for the calling process */
int
AigwClaimWorkerSlot(int index)
{
	AigwWorkerSlot *slot = &AigwShmem->workers[index];

	LWLockAcquire(AigwShmem->lock, LW_EXCLUSIVE);
	slot->pid = MyProcPid;
	slot->latch = MyLatch;
	slot->dboid = MyDatabaseId;
	pg_atomic_write_u32(&slot->inflight, 0);
	pg_atomic_write_u32(&slot->scan, 1);
	if (index + 1 > AigwShmem->nworkers)
		AigwShmem->nworkers = index + 1;
	LWLockRelease(AigwShmem->lock);
	return index;
}

/* Releases worker slot i (at worker exit) */
void
AigwReleaseWorkerSlot(int index)
{
	AigwWorkerSlot *slot = &AigwShmem->workers[index];

	LWLockAcquire(AigwShmem->lock, LW_EXCLUSIVE);
	slot->pid = 0;
	slot->latch = NULL;
	LWLockRelease(AigwShmem->lock);
}

/*
 * The least busy live worker whose load is below limit, other than exclude
 * (-1: none), looking from start on so that equals take turns; -1 if none.
 */
static int
LeastBusyWorker(int start, int exclude, uint32 limit)
{
	int			n = AigwShmem->nworkers;
	int			best = -1;
	uint32		best_load = limit;

	for (int k = 0; k < n; k++)
	{
		int			i = (start + k) % n;
		AigwWorkerSlot *slot = &AigwShmem->workers[i];
		uint32		load;

		if (i == exclude || slot->pid == 0 || slot->latch == NULL)
			continue;
		load = pg_atomic_read_u32(&slot->inflight);
		if (load < best_load)
		{
			best = i;
			best_load = load;
		}
	}
	return best;
}

/* Sets worker i's latch, if it is still there (-1: nobody) */
static void
WakeSlot(int i)
{
	Latch	   *latch = i >= 0 ? AigwShmem->workers[i].latch : NULL;

	if (latch)
		SetLatch(latch);
}

/* Wakes the least busy live worker (round robin among equals) */
void
AigwWakeWorker(void)
{
	if (AigwShmem == NULL || AigwShmem->nworkers <= 0)
		return;
	WakeSlot(LeastBusyWorker(pg_atomic_fetch_add_u32(&AigwShmem->next_worker, 1) % AigwShmem->nworkers,
							 -1, PG_UINT32_MAX));
}

/* Sets the latch of every live worker, asking each to scan the queue if scan */
static void
WakeEveryWorker(bool scan)
{
	if (AigwShmem == NULL)
		return;
	for (int i = 0; i < AigwShmem->nworkers; i++)
	{
		Latch	   *latch = AigwShmem->workers[i].latch;

		if (scan)
			pg_atomic_write_u32(&AigwShmem->workers[i].scan, 1);
		if (AigwShmem->workers[i].pid != 0 && latch)
			SetLatch(latch);
	}
}

/* Wakes every live worker, each to scan the queue */
void
AigwWakeAllWorkers(void)
{
	WakeEveryWorker(true);
}

/*
 * Wakes the least busy live worker other than self that has a free call slot,
 * if any: a worker that fills up while handed-off tasks still wait passes
 * them on, instead of leaving them to whenever another worker wakes.
 */
void
AigwWakeAnotherWorker(int self)
{
	WakeSlot(LeastBusyWorker(0, self, (uint32) aigw_worker_max_inflight));
}

/* Takes a free payload slot, or -1 when none is free */
static int32
TakePayloadSlot(void)
{
	AigwPayloads *ps = &AigwShmem->payloads;
	int32		slot = -1;

	SpinLockAcquire(&ps->mutex);
	if (ps->nfree > 0)
		slot = ps->free[--ps->nfree];
	SpinLockRelease(&ps->mutex);
	return slot;
}

/* Gives a payload slot back */
static void
FreePayloadSlot(int32 slot)
{
	AigwPayloads *ps = &AigwShmem->payloads;

	SpinLockAcquire(&ps->mutex);
	Assert(ps->nfree < AIGW_PAYLOAD_SLOTS);
	ps->free[ps->nfree++] = slot;
	SpinLockRelease(&ps->mutex);
}

/*
 * Hands committed tasks to the workers and wakes the least busy one. A full
 * ring drops queued tasks (the workers then scan the queue for them); a task
 * started at submit is recovered by the reaper if it could not be handed off,
 * which aigw.start_at_submit() makes unlikely by asking for room first. A
 * started task's payload (payloads[i], may be NULL) is copied into a slot
 * when it fits and a slot is free. The caller sets each entry's cancel
 * sequence number before its commit (a cancel of the task can only come after
 * the commit) and its handed_at, the heartbeat_at the task was written with.
 */
void
AigwHandOffTasks(AigwHandoffEntry *entries, Jsonb *const *payloads, int n)
{
	AigwHandoff *h;
	int			i;

	if (AigwShmem == NULL || n <= 0)
		return;
	for (i = 0; i < n; i++)
	{
		Jsonb	   *p = payloads ? payloads[i] : NULL;

		entries[i].payload = -1;
		if (p != NULL && entries[i].started && VARSIZE(p) <= AIGW_PAYLOAD_SLOT_SIZE)
		{
			entries[i].payload = TakePayloadSlot();
			if (entries[i].payload >= 0)
				memcpy(AigwShmem->payload_data + (Size) entries[i].payload * AIGW_PAYLOAD_SLOT_SIZE,
					   p, VARSIZE(p));
		}
	}
	h = &AigwShmem->handoff;
	SpinLockAcquire(&h->mutex);
	for (i = 0; i < n; i++)
	{
		if (h->count >= AIGW_HANDOFF_RING)
		{
			h->overflow = true;
			break;
		}
		h->entries[(h->head + h->count) % AIGW_HANDOFF_RING] = entries[i];
		h->count++;
	}
	SpinLockRelease(&h->mutex);
	/* entries that did not fit keep no slot */
	for (; i < n; i++)
		if (entries[i].payload >= 0)
			FreePayloadSlot(entries[i].payload);
	AigwWakeWorker();
}

/* Takes up to max handed-off tasks; *overflow says some were dropped */
int
AigwTakeHandedOff(AigwHandoffEntry *out, int max, bool *overflow)
{
	AigwHandoff *h = &AigwShmem->handoff;
	int			n = 0;

	SpinLockAcquire(&h->mutex);
	while (n < max && h->count > 0)
	{
		out[n++] = h->entries[h->head];
		h->head = (h->head + 1) % AIGW_HANDOFF_RING;
		h->count--;
	}
	*overflow = h->overflow;
	h->overflow = false;
	SpinLockRelease(&h->mutex);
	return n;
}

/* Copies a handed-off payload out of its slot (palloc'd) and frees the slot */
Jsonb *
AigwTakePayload(int32 slot)
{
	const char *p = AigwShmem->payload_data + (Size) slot * AIGW_PAYLOAD_SLOT_SIZE;
	Jsonb	   *copy = palloc(VARSIZE(p));

	memcpy(copy, p, VARSIZE(p));
	FreePayloadSlot(slot);
	return copy;
}

/*
 * True when task may have been cancelled after the cancel sequence number
 * since: it is among the cancels announced since, or more were announced
 * than the ring keeps.
 */
bool
AigwMaybeCancelledSince(uint64 since, const pg_uuid_t *task)
{
	AigwCancels *c = &AigwShmem->cancels;
	bool		maybe = false;
	uint64		next;

	if (pg_atomic_read_u64(&c->next) == since)
		return false;
	SpinLockAcquire(&c->mutex);
	next = pg_atomic_read_u64(&c->next);
	if (next - since > AIGW_CANCEL_RING)
		maybe = true;
	for (uint64 seq = since; !maybe && seq < next; seq++)
		maybe = memcmp(&c->ids[seq % AIGW_CANCEL_RING], task, sizeof(pg_uuid_t)) == 0;
	SpinLockRelease(&c->mutex);
	return maybe;
}

/*
 * True when a submitting backend, which will hand off pending tasks at its
 * commit, may start one more itself: the task workers of this database have
 * room for it (free call slots beyond what already waits in the ring), so a
 * task started at submit is not left waiting, with its heartbeat aging, for a
 * worker; under overload tasks wait in the queue, in priority order. The
 * reads are unlocked: the ring's other half is the margin.
 */
bool
AigwCanStartAtSubmit(int pending)
{
	int64		free = 0;
	uint32		waiting;

	if (!aigw_start_at_submit_enabled || AigwShmem == NULL)
		return false;
	waiting = AigwShmem->handoff.count + pending;
	if (waiting >= AIGW_HANDOFF_RING / 2)
		return false;
	for (int i = 0; i < AigwShmem->nworkers; i++)
	{
		AigwWorkerSlot *slot = &AigwShmem->workers[i];

		if (slot->pid != 0 && slot->dboid == MyDatabaseId)
			free += Max(aigw_worker_max_inflight - (int) pg_atomic_read_u32(&slot->inflight), 0);
	}
	return free > waiting;
}

/* True when handed-off tasks wait in the ring (an unlocked read: a hint) */
bool
AigwHandOffPending(void)
{
	return AigwShmem->handoff.count > 0 || AigwShmem->handoff.overflow;
}

/* True once after someone asked worker index to scan the queue */
bool
AigwScanRequested(int index)
{
	return pg_atomic_exchange_u32(&AigwShmem->workers[index].scan, 0) != 0;
}

/* Announces committed cancels to the task workers and wakes them */
void
AigwAnnounceCancels(const pg_uuid_t *ids, int n)
{
	AigwCancels *c;
	uint64		seq;

	if (AigwShmem == NULL || n <= 0)
		return;
	c = &AigwShmem->cancels;
	SpinLockAcquire(&c->mutex);
	seq = pg_atomic_read_u64(&c->next);
	for (int i = 0; i < n; i++)
		c->ids[(seq + i) % AIGW_CANCEL_RING] = ids[i];
	pg_atomic_write_u64(&c->next, seq + n);
	SpinLockRelease(&c->mutex);
	WakeEveryWorker(false);
}

/* The sequence number of the next cancel (an unlocked read: a hint) */
uint64
AigwCancelSequence(void)
{
	return pg_atomic_read_u64(&AigwShmem->cancels.next);
}

/*
 * Copies the ids of the tasks cancelled since *seen into out (room for
 * AIGW_CANCEL_RING) and moves *seen on; *overflow says older ones were
 * overwritten before this worker read them.
 */
int
AigwCancelsSince(uint64 *seen, pg_uuid_t *out, bool *overflow)
{
	AigwCancels *c = &AigwShmem->cancels;
	uint64		next;
	int			n = 0;

	SpinLockAcquire(&c->mutex);
	next = pg_atomic_read_u64(&c->next);
	*overflow = next - *seen > AIGW_CANCEL_RING;
	if (*overflow)
		*seen = next - AIGW_CANCEL_RING;
	for (uint64 seq = *seen; seq < next; seq++)
		out[n++] = c->ids[seq % AIGW_CANCEL_RING];
	*seen = next;
	SpinLockRelease(&c->mutex);
	return n;
}

PG_FUNCTION_INFO_V1(aigw_runtime_started_at);

/*
 * aigw.runtime_started_at(): when shared memory was last initialised — the
 * server start or the last crash restart. Work locked before it has no worker.
 */
Datum
aigw_runtime_started_at(PG_FUNCTION_ARGS)
{
	AigwAttachShmem();
	PG_RETURN_TIMESTAMPTZ(AigwShmem->started_at);
}
