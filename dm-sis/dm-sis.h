/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-sis.h: what the files of the "sis" target share, private to dm-sis.ko.
 *
 * The target is five files around the portable core (core/sis-core.h) and
 * the shared data cache (pcache.h), one concern each:
 *   dm-sis-target.c  table lines (ctr/dtr, features), map() and the bio
 *                    worker that sends each bio its way, status, messages,
 *                    module init
 *   pool.c           the pools: registry, commits, modes, events, space
 *                    checks, suspend and resume
 *   md-io.c          metadata I/O for the core (a pool's sis_io_ops)
 *   read.c           the read path: map()'s fast path, the read worker,
 *                    the release of read tickets in end_io
 *   write.c          the write path: range locks, hash locks, batches,
 *                    allocation waits, data writes, discards
 * A function used by another file is named sis_<file>_<verb>() and has its
 * contract below; everything else is static to its file.
 *
 * Objects.  A struct sis_pool exists once per backing device and lives as
 * long as any table names that device: the tables of the pool's volumes
 * (one mapped device per volume) and a reload (new table while the old one
 * is still live) share one open core instead of opening the metadata
 * twice.  A struct sis_target is one table's view: its volume and its
 * feature arguments (the pool's, see sis_pool_get()).  A struct sis_bio
 * is the per-bio data of every bio of the target.
 *
 * Locking order: logical range (write.c) -> hash locks (write.c, ascending)
 * -> commit_lock (pool.c) -> core mutex.  pcache shard locks, range_lock and
 * md_lock are leaves; md_lock is IRQ-safe (taken in bio completions).  No
 * hash lock is held while waiting for space.  pools_lock (pool.c) is taken
 * by ctr and dtr (sis_pool_get(), sis_pool_put()) and by the volume
 * messages that must not race a table load (sis_pool_volume_delete()),
 * never under another lock of the target: pools_lock -> core mutex.
 * event_lock is taken only by the event worker and by resume/postsuspend/
 * dtr; excl_lock is a leaf.
 */
#ifndef DM_SIS_H
#define DM_SIS_H

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/list.h>
#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "core/sis-core.h"
#include "../include/sis-format.h"
#include "pcache.h"

#define DM_MSG_PREFIX "sis"

#define SIS_MAX_IO_BLOCKS	32	/* dm splits bios at 128 KiB boundaries */
/*
 * Hash locks: 2^16 bits (8 KiB per pool; lock numbers fit the u16 of a
 * batch's sorted list).  16 batches of 32 blocks in flight hold 512 bits:
 * with 1024 bits nearly every batch met one of them and writers of
 * different data queued behind each other (measured: 88% of the decide
 * phase of a unique 128 KiB QD16 write was hash-lock wait); with 65536, a
 * batch meets a held bit about one time in five.
 */
#define SIS_HASH_LOCK_BITS	16
#define SIS_HASH_LOCKS		BIT(SIS_HASH_LOCK_BITS)	/* per pool */

/**
 * struct sis_features - one table's feature arguments, all pool-wide (the
 * tables of one pool agree on them, see sis_pool_get())
 * @discard_passdown: discard freed blocks on the backing device
 * @zero_detect:      all-zero blocks are unmapped instead of stored
 * @error_if_no_space: fail a write needing a block at once when full
 * @read_only:        refuse writes; the core is opened read-only
 * @commit_interval:  seconds between periodic commits
 * @low_water_mark:   raise a dm event when fewer blocks are free (0: off)
 */
struct sis_features {
	bool discard_passdown;
	bool zero_detect;
	bool error_if_no_space;
	bool read_only;
	unsigned int commit_interval;
	u64 low_water_mark;
};

/**
 * struct sis_pool - one open backing device, shared by its tables
 *
 * Fields by owner; each says what protects it.  Immutable fields are set
 * by sis_pool_get() before the pool is published on the registry.
 *
 * Registry (pool.c; pools_lock):
 * @list:        on the registry of pools (pools_lock)
 * @ref:         tables naming this pool (pools_lock)
 * @targets:     the sis_targets holding @ref, live or not, of every mapped
 *               device of the pool (pools_lock)
 * @bdev:        the backing device; kept open by each table's dm_dev
 *               (immutable)
 * @dev:         its dev_t, the pool's and pcache's key (immutable)
 * @name:        "major:minor" for messages (immutable)
 * @core:        the open core (immutable after ctr; its own mutex inside)
 *
 * Metadata I/O (md-io.c):
 * @ops:         metadata I/O for the core (immutable, must outlive @core)
 * @md_inflight: metadata writes submitted and not completed (atomic)
 * @md_wait:     woken when @md_inflight reaches zero
 * @md_lock:     protects @md_error; IRQ-safe: taken in bio completions
 * @md_error:    first metadata write error since the last flush (md_lock)
 * @md_pages:    pages of metadata I/O (a reserve of SIS_MD_RESERVE_PAGES)
 * @md_discard:  the discards of a passdown round in flight, chained (their
 *               last bio); owned by the one commit that runs (the core's
 *               commit_mutex)
 *
 * I/O resources (pool.c creates them; immutable pointers):
 * @wq:          the unbound workqueue processing bios and the commit timer
 * @bs:          the gather bios of reads (read.c: sis_read_gather())
 * @io_bs:       bios of metadata I/O and data writes (with a bvec reserve)
 *
 * Commits (pool.c):
 * @commit_work: periodic commit
 * @commit_lock: serialises commits; protects @commit_done, @commit_err and
 *               writes of @commit_started
 * @commit_started: commits begun (read locklessly by flush requests,
 *               smp_load_acquire/smp_store_release)
 * @commit_done: the sequence number of the last finished commit (commit_lock)
 * @commit_err:  its result (commit_lock)
 * @f:           the pool's features: those of its first table, then of
 *               the table resumed last (set at preresume; every table of
 *               the pool has the same, except a reload of its only device;
 *               the I/O path reads single fields with READ_ONCE)
 * @timer_on:    commit timer armed: some table of the pool is resumed
 *               (event_lock)
 *
 * Write ordering (write.c):
 * @hash_locks:  one bit lock per SIS_HASH_LOCKS-th of the fingerprint
 *               space: writers of the same data decide in turn (write.c)
 * @range_lock:  protects @ranges (a leaf: no other lock is taken under it)
 * @ranges:      logical ranges held by writers and discards (range_lock)
 * @range_wait:  woken when a range is released
 * @write_lock:  protects @writes (a leaf)
 * @writes:      write bios waiting for @write_work (sis_write_defer())
 * @writers:     the write workers (sis_write_worker()) on @wq: each
 *               starts the bios of @writes a group at a time
 *
 * Space and modes (pool.c, write.c; lockless flags, READ_ONCE/WRITE_ONCE):
 * @out_of_space: the last allocation found no space
 * @space_wait:  writers waiting for space (they look again every
 *               SIS_NO_SPACE_RETRY_MS); woken at once by a target's
 *               @requeue
 * @mode_reported: a read-only or fail mode was logged (atomic)
 * @mode_check:  an error that may mean the core left write mode, for the
 *               event worker to look at (atomic; 0: none)
 *
 * Events (pool.c):
 * @event_work:  raises a dm event on the table of every target on
 *               @active (on @wq), and logs a mode change (@mode_check): it
 *               holds no read ticket, so it may take the core lock, which a
 *               bio's completion may not
 * @event_pending: an event was asked for (atomic)
 * @event_lock:  protects @active and @timer_on; held while raising events
 * @active:      the resumed targets (one per mapped device of the pool):
 *               an event of the pool is raised on each of their tables
 * @low_water_hit: free space is below the low-water mark, event raised
 *               (atomic)
 *
 * Volumes (dm-sis-target.c):
 * @excl_lock:   protects @excl (a leaf)
 * @excl:        the last count_exclusive result of each volume, for its
 *               status (entries with @valid false are free)
 *
 * Statistics for status (atomics, every file; reset by reset_stats):
 * @stat_written: bytes of the write bios stored
 * @stat_new_data: bytes of new data stored (blocks written to disk)
 * @stat_zero:   blocks found all-zero and unmapped
 * @stat_hits:   pcache look-ups that found the block
 * @stat_misses: pcache look-ups that read it
 * @stat_dedup:  blocks mapped to an existing block (duplicates)
 * @stat_fast_reads: reads served in map() (sis_read_fast())
 * @stat_fast_writes: writes done in map() (sis_write_fast())
 * @commits_base: core commit count at the last reset_stats (READ_ONCE)
 */
/**
 * struct sis_writer - one write worker of a pool (write.c)
 * @work: runs sis_write_worker()
 * @pool: its pool
 */
struct sis_writer {
	struct work_struct work;
	struct sis_pool *pool;
};

#define SIS_WRITERS	2	/* write workers per pool */

struct sis_pool {
	struct list_head list;
	unsigned int ref;
	struct list_head targets;
	struct block_device *bdev;
	dev_t dev;
	char name[16];
	struct sis_core *core;
	struct sis_io_ops ops;

	atomic_t md_inflight;
	wait_queue_head_t md_wait;
	spinlock_t md_lock;		/* protects md_error */
	int md_error;

	struct workqueue_struct *wq;
	struct bio_set bs;
	struct bio_set io_bs;
	struct page *sink;	/* read.c: what a gather bio reads but nobody wants */
	mempool_t *md_pages;
	struct bio *md_discard;
	struct delayed_work commit_work;
	struct mutex commit_lock;	/* serialises commits */
	u64 commit_started;
	u64 commit_done;
	int commit_err;

	struct sis_features f;
	bool timer_on;

	unsigned long hash_locks[BITS_TO_LONGS(SIS_HASH_LOCKS)];
	spinlock_t range_lock;		/* protects ranges */
	struct list_head ranges;
	wait_queue_head_t range_wait;
	spinlock_t write_lock;		/* protects writes */
	struct bio_list writes;
	struct sis_writer writers[SIS_WRITERS];

	bool out_of_space;
	wait_queue_head_t space_wait;
	atomic_t mode_reported;
	atomic_t mode_check;

	struct work_struct event_work;
	atomic_t event_pending;
	struct mutex event_lock;	/* protects active, timer_on */
	struct list_head active;
	atomic_t low_water_hit;

	spinlock_t excl_lock;		/* protects excl */
	struct {
		u32 id;
		bool valid;
		u64 blocks;
	} excl[SIS_MAX_VOLUMES];

	atomic64_t stat_written;
	atomic64_t stat_new_data;
	atomic64_t stat_zero;
	atomic64_t stat_hits;
	atomic64_t stat_misses;
	atomic64_t stat_dedup;
	atomic64_t stat_fast_reads;
	atomic64_t stat_fast_writes;
	u64 commits_base;
};

/**
 * struct sis_target - one table line
 * @ti:   the dm target
 * @md:   its mapped device (immutable)
 * @dev:  the backing device as opened by this table
 * @pool: the shared pool (set by sis_pool_get(), immutable after ctr)
 * @vol:  the volume of the pool this table serves (immutable)
 * @f:    this table's features (immutable after ctr)
 * @pool_list: on pool->targets (pools_lock)
 * @active_list: on pool->active while resumed (pool->event_lock)
 * @requeue: a noflush suspend of this device is under way: its writes
 *        waiting for space give their bio back to dm (BLK_STS_DM_REQUEUE),
 *        which resubmits it after resume (set in presuspend, cleared in
 *        postsuspend and presuspend_undo; read with READ_ONCE)
 */
struct sis_target {
	struct dm_target *ti;
	struct mapped_device *md;
	struct dm_dev *dev;
	struct sis_pool *pool;
	u32 vol;
	struct sis_features f;
	struct list_head pool_list;
	struct list_head active_list;
	bool requeue;
};

/**
 * struct sis_bio - per-bio data: each bio that needs a worker is its own
 * work item, except the writes, which wait on pool->writes
 * @work:        runs sis_process_bio()
 * @st:          the target
 * @ticket:      a read's sis_core_read_begin() ticket, released by
 *               sis_read_end_io() when the whole bio (every gather bio
 *               chained to it) has completed
 * @ticket_held: @ticket is to be released
 */
struct sis_bio {
	struct work_struct work;
	struct sis_target *st;
	unsigned int ticket;
	bool ticket_held;
};

/**
 * block_to_sector() - the first sector of a 4 KiB block
 * @block: block number on the backing device
 *
 * Return: its first 512-byte sector.
 */
static inline sector_t block_to_sector(u64 block)
{
	return block << (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
}

/* ------------------------------------------------------------------ */
/* md-io.c: metadata I/O for the core                                 */
/* ------------------------------------------------------------------ */

/**
 * sis_md_init() - set up a pool's metadata I/O
 * @pool: a pool being created, its @bdev and @io_bs set
 *
 * Initialises the md_* fields, allocates the page reserve and fills
 * @pool->ops (context: @pool) for sis_core_open().
 * Context: process, may sleep.
 * Return: 0 or -ENOMEM.  On failure sis_md_exit() still cleans up.
 */
int sis_md_init(struct sis_pool *pool);

/**
 * sis_md_exit() - free what sis_md_init() allocated
 * @pool: the pool, its core closed (no metadata I/O in flight)
 */
void sis_md_exit(struct sis_pool *pool);

/* ------------------------------------------------------------------ */
/* pool.c: the pools                                                  */
/* ------------------------------------------------------------------ */

/**
 * sis_pool_get() - attach a table line to the pool of its backing device
 * @st: the target: @st->ti, @st->md, @st->dev, @st->vol and @st->f set
 *
 * Finds the pool of @st's backing device, or creates it (opening the core;
 * formatting an empty device, with volume 0 of the table's length, only
 * for a table of volume 0).  One target per table; one mapped device per
 * volume (its reloads share it); the volume must exist and be no larger
 * than the table; the features must be the pool's, unless the table
 * reloads the pool's only device (and even then a device opened read-only
 * stays so).  Sets @st->pool and links @st on the pool's targets.  Takes
 * pools_lock, then the core mutex.
 * Context: process (ctr), may sleep.
 * Return: 0, or -errno with @st->ti->error set.
 */
int sis_pool_get(struct sis_target *st);

/**
 * sis_pool_put() - detach a table line from its pool
 * @st: a target that sis_pool_get() attached
 *
 * The last put stops the commit timer, drains the workqueue, closes the
 * core (a clean close commits) and forgets the device's cached blocks.
 * Takes pools_lock.  Context: process (dtr), may sleep.
 */
void sis_pool_put(struct sis_target *st);

/**
 * sis_pool_commit() - commit everything mapped before the call
 * @pool: the pool
 *
 * Concurrent callers share one commit: a caller that arrives while a commit
 * runs waits for it, and starts another only if that one began before it
 * arrived.  -ENOMEM from the core is retried, never returned.  A metadata
 * error is logged once and raises an event (mode change).
 * Takes commit_lock, then the core mutex.  Context: process, may sleep.
 * Return: 0 or the core's commit error (-EROFS, -EIO, ...).
 */
int sis_pool_commit(struct sis_pool *pool);

/**
 * sis_pool_nomem_wait() - back off after -ENOMEM from the core
 * @pool: the pool (for the message)
 *
 * The core changed nothing; the caller simply tries again after this.
 * Context: process, sleeps SIS_NOMEM_RETRY_MS.  Holds no lock.
 */
void sis_pool_nomem_wait(struct sis_pool *pool);

/**
 * sis_pool_raise_event() - raise a dm event on the live table of every
 * resumed device of the pool
 * @pool: the pool
 *
 * Queues the event worker; never sleeps, takes no lock, so it may be
 * called anywhere in the I/O path.
 */
void sis_pool_raise_event(struct sis_pool *pool);

/**
 * sis_pool_space_check() - after a successful allocation
 * @pool: the pool
 *
 * Leaves out-of-space mode and checks the low-water mark, raising one event
 * per crossing.  Takes the core mutex (stats): call it with no hash lock
 * and no core lock held.  Context: process.
 */
void sis_pool_space_check(struct sis_pool *pool);

/**
 * sis_pool_end_bio() - complete a bio of the target with an errno
 * @st:     the target
 * @bio:    a dm bio or a piece of one
 * @lblock: the logical block to name in an error message
 * @r:      0, -EAGAIN to give the bio back to dm (requeued after resume,
 *          only during a noflush suspend), or another -errno
 *
 * Errors other than -EROFS and -ENOSPC are logged (rate-limited); a
 * metadata error is noted as a mode change.  Takes no lock of the target.
 */
void sis_pool_end_bio(struct sis_target *st, struct bio *bio, u64 lblock,
		      int r);

/**
 * sis_pool_presuspend() - dm presuspend: requeue writes waiting for space
 * @ti: the target
 *
 * A noflush suspend must not wait for writes that wait for space: they
 * are given back to dm (see @requeue of struct sis_pool).
 */
void sis_pool_presuspend(struct dm_target *ti);

/**
 * sis_pool_presuspend_undo() - dm presuspend_undo: stop requeueing
 * @ti: the target
 */
void sis_pool_presuspend_undo(struct dm_target *ti);

/**
 * sis_pool_postsuspend() - dm postsuspend: quiesce the pool
 * @ti: the target
 *
 * Stops requeueing and events to this table, and the commit timer when
 * no other device of the pool is resumed; then commits (unless the table
 * is read-only).  Context: process, may sleep.
 */
void sis_pool_postsuspend(struct dm_target *ti);

/**
 * sis_pool_preresume() - dm preresume: apply the table to the pool
 * @ti: the target
 *
 * Makes the table's features the pool's, switches the core read-only if
 * the table asks, and grows the table's volume to the table length and the
 * pool to the backing device size (committed at once).  Context: process,
 * may sleep.
 * Return: 0 or -errno (the resume fails).
 */
int sis_pool_preresume(struct dm_target *ti);

/**
 * sis_pool_resume() - dm resume: arm the commit timer and events
 * @ti: the target
 */
void sis_pool_resume(struct dm_target *ti);

/**
 * sis_pool_volume_delete() - delete a volume no table of the pool serves
 * @pool: the pool
 * @id:   the volume
 *
 * Refuses (-EBUSY, logged) while a table of any mapped device, live or
 * loaded, names volume @id; holds pools_lock for the whole delete, so no
 * table of the volume can be loaded meanwhile.  Context: process
 * (message), may sleep.
 * Return: 0, -EBUSY, or sis_core_volume_delete()'s error.
 */
int sis_pool_volume_delete(struct sis_pool *pool, u32 id);

/* ------------------------------------------------------------------ */
/* read.c: the read path                                              */
/* ------------------------------------------------------------------ */

/**
 * sis_read_fast() - serve a read in map() without sleeping, if possible
 * @st:    the target
 * @bio:   a REQ_OP_READ bio of at most SIS_MAX_IO_BLOCKS blocks
 * @sb:    its per-bio data (@sb->ticket_held false)
 * @mapio: where to store map()'s return value when it returns true
 *
 * Serves the read there (as sis_read_bio() would, see read.c) when every
 * metadata page it needs is cached, the core mutex is free (trylock),
 * every shared block it reads is valid in pcache and its gather bios can
 * be allocated without waiting; otherwise does nothing.  A bio served
 * holds a read ticket until sis_read_end_io().  Context: map(), atomic:
 * never sleeps.
 * Return: true if the bio was dealt with, false to queue it to the worker.
 */
bool sis_read_fast(struct sis_target *st, struct bio *bio, struct sis_bio *sb,
		   int *mapio);

/**
 * sis_read_bio() - the read worker: serve a read of up to 128 KiB
 * @st:  the target
 * @bio: the dm bio
 *
 * Completes @bio (possibly after it returns, through its gather bios).
 * Holds no lock while it waits for I/O.  Context: process (worker).
 */
void sis_read_bio(struct sis_target *st, struct bio *bio);

/**
 * sis_read_end_io() - dm end_io: release a read's ticket
 * @ti:    the target
 * @bio:   any bio of the target, remapped or completed by the target
 * @error: its status (unchanged)
 *
 * Takes no lock and never sleeps (may run in hard-IRQ context).
 * Return: DM_ENDIO_DONE.
 */
int sis_read_end_io(struct dm_target *ti, struct bio *bio,
		    blk_status_t *error);

/**
 * sis_read_cache_get() - read physical blocks through pcache
 * @pool:   the pool
 * @pblock: the first block
 * @nr:     blocks to read ahead on a miss (1..PCACHE_MAX_RUN)
 *
 * pcache_get_run() on the pool's device, counted as a hit or a miss.
 * The caller must keep @pblock from reuse (a read ticket, a pin, or the
 * logical range of its mapping).  Context: process, may sleep.
 * Return: the held entry of @pblock (release with pcache_put()), or an
 * ERR_PTR() if its read failed.
 */
struct pcache_entry *sis_read_cache_get(struct sis_pool *pool, u64 pblock,
					unsigned int nr);

/* ------------------------------------------------------------------ */
/* write.c: the write path                                            */
/* ------------------------------------------------------------------ */

/**
 * sis_write_bio() - write the data of a bio of up to 128 KiB, alone
 * @st:  the target
 * @bio: a REQ_OP_WRITE dm bio (REQ_PREFLUSH already dealt with)
 *
 * Stores every block (zero, duplicate or new data) and maps it; commits
 * for REQ_FUA.  What a write worker does for a group of bios, for one: for
 * the data of a REQ_PREFLUSH bio, and to store a bio again after -ENOMEM.
 * Does not complete @bio.  Takes the logical range, then the hash locks.
 * Context: process (worker), may sleep.
 * Return: 0, -EROFS, -ENOSPC, -EAGAIN (requeue during a noflush suspend),
 * -ENOMEM (nothing lost: call again) or a core or I/O error.
 */
int sis_write_bio(struct sis_target *st, struct bio *bio);

/**
 * sis_write_defer() - in map(): queue a write for the pool's write worker
 * @st:  the target
 * @bio: a REQ_OP_WRITE dm bio without REQ_PREFLUSH, not served in map()
 *
 * Never sleeps.  The worker completes the bio.
 */
void sis_write_defer(struct sis_target *st, struct bio *bio);

/**
 * sis_write_worker() - a write worker of the pool (pool->writers)
 * @ws: the work of one of pool->writers
 *
 * Drains pool->writes a group of up to SIS_WRITE_GROUP bios at a time:
 * starts each (its data gathered, its blocks decided, the data writes of
 * its new blocks submitted), all under one plug so that the disk gets
 * them together, then finishes each (waits for its data writes, maps its
 * blocks), commits once if any of them is REQ_FUA, and completes them.
 * Only the first bio of a group may wait for its logical range or for a
 * batch from the mempool; a later one that would wait, or a bio after one
 * holding pcache's reserves (a ticket), ends the group.  Context: process
 * (the pool's workqueue), may sleep.
 */
void sis_write_worker(struct work_struct *ws);

/**
 * sis_write_fast() - in map(): a write whose every block is zeros or a
 * duplicate whose data the shared cache holds, with its metadata cached
 *
 * Done then and there, without a worker: hashed and compared in the bio's
 * pages, mapped with sis_core_map_batch_nowait().  Does no I/O and
 * allocates nothing (its batch from the mempool only if one is free).
 *
 * Return: true if the write is done (the caller ends the bio with
 * success), false if it is left to the worker (anything else; blocks
 * mapped here before a miss are mapped again by it to the same blocks).
 */
bool sis_write_fast(struct sis_target *st, struct bio *bio);

/**
 * sis_write_discard() - unmap the whole blocks of a discard bio
 * @st:  the target
 * @bio: a REQ_OP_DISCARD dm bio
 *
 * Partial blocks at either end are left alone.  Does not complete @bio.
 * Takes the logical range.  Context: process (worker), may sleep.
 * Return: 0, -EROFS, -ENOMEM (call again) or a core error.
 */
int sis_write_discard(struct sis_target *st, struct bio *bio);

/**
 * sis_write_init() - module init of the write path (batch reserve)
 * Return: 0 or -ENOMEM.
 */
int sis_write_init(void);

/**
 * sis_write_exit() - module exit of the write path
 */
void sis_write_exit(void);

#endif /* DM_SIS_H */
