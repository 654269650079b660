/*
 * runtime.h: shared memory of the task runtime — worker slots, event channels
 * and task waiters — shared by SQL functions and background workers.
 */
#ifndef AIGW_RUNTIME_H
#define AIGW_RUNTIME_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#define AIGW_MAX_WORKERS 64
#define AIGW_CHANNEL_NAMELEN 64

/* Event kinds carried by channels */
typedef enum AigwEventKind
{
	AIGW_EVENT_CHUNK = 1,		/* one stream chunk (OpenAI chunk JSON) */
	AIGW_EVENT_RESULT = 2,		/* final result {"status","body","headers"} */
	AIGW_EVENT_PROGRESS = 3		/* progress event JSON */
} AigwEventKind;

/* One task worker's slot: how to wake it and how busy it is */
typedef struct AigwWorkerSlot
{
	pid_t		pid;
	Latch	   *latch;
	pg_atomic_uint32 inflight;
	pg_atomic_uint32 scan;		/* asked to scan the queue */
	Oid			dboid;			/* database the worker runs in */
} AigwWorkerSlot;

/* One event channel: a byte ring read by one front connection */
typedef struct AigwChannel
{
	slock_t		mutex;
	bool		in_use;
	char		name[AIGW_CHANNEL_NAMELEN];
	Latch	   *reader;			/* set while a reader waits */
	TimestampTz last_read;
	uint64		head;			/* next byte to read */
	uint64		tail;			/* next byte to write */
	uint32		writers_blocked;	/* writers waiting for space */
	uint64		dropped;		/* events dropped (channel gone or full) */
	char		ring[FLEXIBLE_ARRAY_MEMBER];
} AigwChannel;

/* One SQL caller waiting in aigw.await_task */
typedef struct AigwTaskWaiter
{
	pg_uuid_t	task_id;
	Latch	   *latch;
	pg_atomic_uint64 commit_end;	/* the end of the commit record that ended the task, or 0 */
} AigwTaskWaiter;

/*
 * Tasks handed from submitting backends to workers at commit: the worker
 * leases them by id instead of scanning the queue. A full ring sets
 * overflow, and the next worker to look scans the queue instead.
 *
 * A task started at submit comes with what to call (its attempt payload, a
 * jsonb) in a payload slot when it fits: the worker calls it without a claim
 * transaction. Without a slot, or when the entry is older than a heartbeat
 * interval or its task may have been cancelled since, the worker claims it in
 * the database first (aigw.claim_started).
 */
#define AIGW_HANDOFF_RING 4096
#define AIGW_PAYLOAD_SLOTS 1024
#define AIGW_PAYLOAD_SLOT_SIZE 4096
typedef struct AigwHandoffEntry
{
	pg_uuid_t	id;
	bool		started;		/* started at submit: call it, do not lease it */
	int32		payload;		/* payload slot, or -1 */
	uint64		cancels;		/* the cancel sequence number before the commit */
	TimestampTz handed_at;		/* the task's heartbeat_at as written by the submit */
} AigwHandoffEntry;

typedef struct AigwPayloads
{
	slock_t		mutex;
	int			nfree;
	int32		free[AIGW_PAYLOAD_SLOTS];	/* a stack of free slots */
} AigwPayloads;

typedef struct AigwHandoff
{
	slock_t		mutex;
	uint32		head;			/* next entry to take */
	uint32		count;			/* entries in the ring */
	bool		overflow;		/* queued ids were dropped: scan the queue */
	AigwHandoffEntry entries[AIGW_HANDOFF_RING];
} AigwHandoff;

/*
 * Tasks cancelled while a worker may be calling their provider, announced at
 * the cancel's commit: each worker keeps the sequence number it has read up
 * to and ends the calls of its in-flight tasks named since. A worker more than
 * a ring behind asks the database which of its tasks were cancelled.
 */
#define AIGW_CANCEL_RING 256
typedef struct AigwCancels
{
	slock_t		mutex;
	pg_atomic_uint64 next;		/* sequence number of the next cancel */
	pg_uuid_t	ids[AIGW_CANCEL_RING];	/* ids[seq % AIGW_CANCEL_RING] */
} AigwCancels;

typedef struct AigwShared
{
	LWLock	   *lock;			/* guards slot allocation tables */
	pg_atomic_uint32 next_worker;	/* round robin for wake-ups */
	pg_atomic_uint64 submitted;
	pg_atomic_uint64 completed;
	pg_atomic_uint32 slot_waiters;	/* a queued task waits for a concurrency slot */
	AigwHandoff handoff;
	AigwPayloads payloads;
	char	   *payload_data;	/* AIGW_PAYLOAD_SLOTS slots of AIGW_PAYLOAD_SLOT_SIZE */
	AigwCancels cancels;
	pid_t		reaper_pid;
	pid_t		outbox_pid;
	TimestampTz started_at;		/* when this shared memory was initialised */
	int			nworkers;
	AigwWorkerSlot workers[AIGW_MAX_WORKERS];
	int			nwaiters;
	AigwTaskWaiter *waiters;	/* aigw.max_task_waiters entries */
	int			nchannels;
	Size		channel_size;	/* bytes per AigwChannel incl. ring */
	char	   *channels;		/* aigw.channels channel structs */
} AigwShared;

extern AigwShared *AigwShmem;
extern int	aigw_channels;
extern int	aigw_channel_buffer_kb;
extern int	aigw_max_task_waiters;

extern void AigwRuntimeShmemInit(void);
extern void AigwClientsInit(void);
extern void AigwTasksInit(void);
extern void AigwAttachShmem(void);

/* Workers */
extern int	aigw_reaper_interval_ms;
extern int	aigw_task_lease_timeout_ms;
extern void AigwWorkerConnect(void);
extern void AigwClaimPidSlot(pid_t *slot);
extern bool AigwPidSlotAlive(pid_t *slot);
extern int	aigw_outbox_interval_ms;
extern char *aigw_server_main_token;
extern void AigwWakeWorker(void);
extern void AigwWakeAllWorkers(void);
extern void AigwWakeAnotherWorker(int self);
extern bool aigw_start_at_submit_enabled;
extern void AigwHandOffTasks(AigwHandoffEntry *entries, Jsonb *const *payloads, int n);
extern int	AigwTakeHandedOff(AigwHandoffEntry *out, int max, bool *overflow);
extern Jsonb *AigwTakePayload(int32 slot);
extern bool AigwMaybeCancelledSince(uint64 since, const pg_uuid_t *task);
extern bool AigwCanStartAtSubmit(int pending);
extern bool AigwHandOffPending(void);

/*
 * A transaction that hands off, or ends with its outcome, at most this many
 * tasks that someone waits for (an interactive request) makes its commit
 * visible before its flush (AigwCommitBeforeFlush). A batch keeps its
 * synchronous commit: the head start is small next to the batch, and an
 * asynchronous commit of that much WAL wakes the WAL writer into flushes of
 * its own.
 */
#define AIGW_COMMIT_BEFORE_FLUSH_MAX 4
extern bool AigwCommitBeforeFlush(void);
extern bool AigwScanRequested(int index);
extern void AigwAnnounceCancels(const pg_uuid_t *ids, int n);
extern uint64 AigwCancelSequence(void);
extern int	AigwCancelsSince(uint64 *seen, pg_uuid_t *out, bool *overflow);
extern int	AigwClaimWorkerSlot(int index);
extern void AigwReleaseWorkerSlot(int index);

/* Channels */
extern AigwChannel *AigwChannelAt(int i);
extern int	AigwChannelLookup(const char *name, bool create);
extern bool AigwChannelPost(const char *name, const pg_uuid_t *task, int64 seq,
							AigwEventKind kind, const char *data, Size len, bool *full);
extern void AigwNotifyTaskWaiters(const pg_uuid_t *task, XLogRecPtr commit_end);
extern XLogRecPtr AigwTaskWaiterCommitEnd(int slot);
extern bool AigwTaskHasWaiter(const pg_uuid_t *task);
extern int	AigwAddTaskWaiter(const pg_uuid_t *task);
extern void AigwRemoveTaskWaiter(int slot);
extern uint32 AigwTaskWaitEvent(void);

#endif							/* AIGW_RUNTIME_H */
