// SPDX-License-Identifier: GPL-2.0
/*
 * dm-sis: the device-mapper target "sis", inline deduplication of 4 KiB
 * blocks on top of the portable core (core/sis-core.h).
 *
 * This file owns the bios: table parsing, the workers that read, hash,
 * compare and write data blocks, flush/FUA/discard handling, commits,
 * status and messages.  The core owns every metadata block; the shared data
 * cache (pcache.c) owns every cached data page.  Nothing here touches the
 * on-disk format.
 *
 * Objects.  A struct sis_pool exists once per backing device and lives as
 * long as any table names that device, so a reload (new table while the old
 * one is still live) shares one open core instead of opening the metadata
 * twice.  A struct sis_target is one table's view: its feature arguments.
 *
 * The data path.  dm core splits bios at 128 KiB boundaries (max_io_len is
 * SIS_MAX_IO_BLOCKS blocks).  map() never sleeps: a read whose mapping is
 * cached is remapped (or zero-filled) there at once (sis_read_fast());
 * every other bio is queued as its own work item on the pool's unbound
 * workqueue, so many bios are processed at once by as many kworkers; the
 * core's mutex serialises only the short metadata operations between them.
 *  - A read looks its blocks up at once and is cut into runs (sis_read()):
 *    unmapped runs are zeros, unique blocks contiguous on disk are remapped
 *    to the disk as one bio, shared blocks are served from pcache.  Reuse
 *    protection takes no lock and no allocation: the look-up
 *    (sis_core_read_begin()) counts the bio in the core's current read
 *    epoch and sis_end_io() uncounts it; a freed block is only handed out
 *    (or discarded) after a commit, which first waits for the reads of
 *    the epoch before it.  So a read racing a write returns the old or the
 *    new data, never a third block's.
 *  - A write is one batch (sis_write()): gather one page per block (partial
 *    blocks merged with the old data), decide every block (zero, duplicate
 *    or new), write all new blocks with one bio per run contiguous on disk,
 *    then map them all.  A writer holds its logical range (struct
 *    sis_range), which orders writes and discards of the same blocks.
 *
 * The hard part: sharing without ever merging different data, and breaking
 * sharing without disturbing the other sharers.
 *  - A write never modifies a data block in place.  New data goes to a block
 *    fresh from sis_core_alloc() or to an existing block holding identical
 *    data; the old mapping simply loses a reference.  So a block's data is
 *    immutable for as long as any logical block maps it, which is what lets
 *    pcache serve one cached copy to every sharer.
 *  - A fingerprint hit is advice.  The candidate is read through pcache and
 *    compared byte for byte before sis_core_map().  The core indexes a block
 *    as soon as it is allocated, so the candidate may be a block whose data
 *    write is still in flight: its pcache entry is then in the WRITING
 *    state, its page already holds the data, so the writer compares at once
 *    and waits for the write only before mapping (a failed write sends the
 *    block back to be decided again).
 *  - Writers of the same data decide one after the other, writers of
 *    different data in parallel: a batch takes the hash locks of its
 *    blocks' fingerprints (bits of pool->hash_locks, in ascending order)
 *    from find_dup to the pcache install of its new blocks (the hashing
 *    before and the data writes after hold none).  A block is only found
 *    through its fingerprint, so it is always in pcache before another
 *    writer can find it, and writers of the same new data at once find each
 *    other's block instead of storing two copies.  A batch's new blocks are
 *    allocated with one core call, in a row, contiguous on disk as far as
 *    free space allows whatever other writers do, so a later sequential
 *    read of them is one disk read.  A candidate that misses the cache is
 *    still read under its hash lock (blocking only writers of that data).
 *
 * Durability.  A data write completes before the mapping naming it is made;
 * the core's commit flushes the disk first, then writes its journal.  A
 * REQ_PREFLUSH completes after a commit that started after it arrived;
 * concurrent flushes share one commit (commit_started/commit_done).  A FUA
 * write commits after its mappings.  A timer commits every commit_interval
 * seconds; postsuspend commits.
 *
 * Locking order: logical range -> hash locks (ascending) -> commit_lock ->
 * core mutex (pcache shard locks and range_lock are leaves).  No hash lock
 * is held while waiting for space.  pools_lock is taken only
 * in ctr/dtr.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/device-mapper.h>
#include <linux/hash.h>
#include <linux/jiffies.h>
#include <linux/kdev_t.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uuid.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "core/sis-core.h"
#include "../include/sis-format.h"
#include "../include/sis-target.h"
#include "pcache.h"

#define DM_MSG_PREFIX "sis"

#define SIS_MAX_IO_BLOCKS	32	/* dm splits bios at 128 KiB boundaries */
#define SIS_WBATCH_POOL_MIN	64
#define SIS_MAX_DISCARD_SECTORS	BIT(22)	/* 2 GiB per discard bio */
#define SIS_NO_SPACE_RETRY_MS	250
#define SIS_NOMEM_RETRY_MS	20	/* -ENOMEM from the core: try again */
#define SIS_HASH_LOCK_BITS	10
#define SIS_HASH_LOCKS		BIT(SIS_HASH_LOCK_BITS)	/* per pool */
/*
 * Reserves of each pool for forward progress under memory pressure: pages
 * for metadata I/O (each metadata write holds one until it completes, so
 * a commit never waits for more than the writes in flight return), and
 * bios for metadata I/O and data writes (one write batch submits at most
 * SIS_MAX_IO_BLOCKS bios, each submitted before the next is allocated).
 */
#define SIS_MD_RESERVE_PAGES	64
#define SIS_IO_RESERVE_BIOS	64

/**
 * struct sis_features - one table's feature arguments
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
 * @list:        on sis_pools (pools_lock)
 * @ref:         tables naming this pool (pools_lock)
 * @targets:     the sis_targets holding @ref (pools_lock)
 * @md:          the mapped device whose tables use this pool: a table of
 *               any other device naming the same backing device is refused
 * @bdev:        the backing device; kept open by each table's dm_dev
 * @dev:         its dev_t, the pool's and pcache's key
 * @name:        "major:minor" for messages
 * @core:        the open core (immutable after ctr)
 * @ops:         metadata I/O for the core (immutable, must outlive @core)
 * @md_inflight: metadata writes submitted and not completed
 * @md_wait:     woken when @md_inflight reaches zero
 * @md_error:    first metadata write error since the last flush (md_lock)
 * @md_lock:     protects @md_error; IRQ-safe: taken in bio completions
 * @wq:          the unbound workqueue processing bios and the commit timer
 * @bs:          splits of multi-block bios into pieces
 * @io_bs:       bios of metadata I/O and data writes (with a bvec reserve)
 * @md_pages:    pages of metadata I/O (a reserve of SIS_MD_RESERVE_PAGES)
 * @commit_work: periodic commit
 * @commit_lock: serialises commits; protects @commit_done, @commit_err and
 *               writes of @commit_started
 * @commit_started: commits begun (read locklessly by flush requests)
 * @commit_done: the sequence number of the last finished commit
 * @commit_err:  its result
 * @f:           features of the active table (set at resume)
 * @timer_on:    commit timer armed (pools_lock is not needed: set in
 *               resume, cleared in postsuspend, both serialised by dm)
 * @hash_locks:  one bit lock per SIS_HASH_LOCKS-th of the fingerprint
 *               space: writers of the same data decide in turn (see top)
 * @range_lock:  protects @ranges
 * @ranges:      logical ranges held by writers and discards (struct sis_range)
 * @range_wait:  woken when a range is released
 * @out_of_space: the last allocation found no space
 * @requeue:     a noflush suspend is under way: writes waiting for space
 *               give their bio back to dm (BLK_STS_DM_REQUEUE), which
 *               resubmits it after resume (set in presuspend, cleared in
 *               postsuspend and presuspend_undo; read with READ_ONCE)
 * @space_wait:  writers waiting for space (they look again every
 *               SIS_NO_SPACE_RETRY_MS); woken at once by @requeue
 * @mode_reported: a read-only or fail mode was logged
 * @event_work:  raises a dm event on @event_ti's table (on @wq)
 * @event_lock:  protects @event_ti; held while raising the event
 * @event_ti:    the resumed target whose table gets events, or NULL
 * @low_water_hit: free space is below the low-water mark, event raised
 * @stat_*:      counters for status, reset by the reset_stats message
 * @commits_base: core commit count at the last reset_stats
 */
struct sis_pool {
	struct list_head list;
	unsigned int ref;
	struct list_head targets;
	struct mapped_device *md;
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
	mempool_t *md_pages;
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

	bool out_of_space;
	bool requeue;
	wait_queue_head_t space_wait;
	atomic_t mode_reported;

	struct work_struct event_work;
	struct mutex event_lock;	/* protects event_ti */
	struct dm_target *event_ti;
	atomic_t low_water_hit;

	atomic64_t stat_written;
	atomic64_t stat_new_data;
	atomic64_t stat_zero;
	atomic64_t stat_hits;
	atomic64_t stat_misses;
	atomic64_t stat_dedup;
	atomic64_t stat_fast_reads;
	u64 commits_base;
};

/**
 * struct sis_target - one table line
 * @ti:   the dm target
 * @dev:  the backing device as opened by this table
 * @pool: the shared pool
 * @f:    this table's features
 * @pool_list: on pool->targets (pools_lock)
 */
struct sis_target {
	struct dm_target *ti;
	struct dm_dev *dev;
	struct sis_pool *pool;
	struct sis_features f;
	struct list_head pool_list;
};

/**
 * struct sis_bio - per-bio data: each bio that needs a worker is its own
 * work item
 * @work:        runs sis_process_bio()
 * @st:          the target
 * @ticket:      a read's sis_core_read_begin() ticket, released by
 *               sis_end_io() when the whole bio (every piece) has completed
 * @ticket_held: @ticket is to be released
 */
struct sis_bio {
	struct work_struct work;
	struct sis_target *st;
	unsigned int ticket;
	bool ticket_held;
};

static unsigned int metadata_cache_mb = 64;
module_param(metadata_cache_mb, uint, 0644);
MODULE_PARM_DESC(metadata_cache_mb,
		 "Metadata cache of each sis device (map, refcount and index pages), in MiB, read when the device is created (default 64)");

/**
 * struct sis_range - logical blocks [@start, @end) held by one writer
 * @list:  on pool->ranges (pool->range_lock)
 */
struct sis_range {
	struct list_head list;
	u64 start;
	u64 end;
};

static LIST_HEAD(sis_pools);
static DEFINE_MUTEX(pools_lock);

/* ---------------------------------------------------------------- */
/* Metadata I/O for the core                                        */
/* ---------------------------------------------------------------- */

static sector_t block_to_sector(u64 block)
{
	return block << (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
}

static int sis_md_read(void *ctx, u64 blocknr, void *buf)
{
	struct sis_pool *pool = ctx;
	struct page *page;
	struct bio *bio;
	int r;

	page = mempool_alloc(pool->md_pages, GFP_NOIO);
	bio = bio_alloc_bioset(pool->bdev, 1, REQ_OP_READ | REQ_META | REQ_SYNC,
			       GFP_NOIO, &pool->io_bs);
	bio->bi_iter.bi_sector = block_to_sector(blocknr);
	__bio_add_page(bio, page, SIS_BLOCK_SIZE, 0);
	r = submit_bio_wait(bio);
	bio_put(bio);
	if (!r)
		memcpy(buf, page_address(page), SIS_BLOCK_SIZE);
	mempool_free(page, pool->md_pages);
	return r;
}

static void sis_md_write_endio(struct bio *bio)
{
	struct sis_pool *pool = bio->bi_private;

	unsigned long flags;

	if (bio->bi_status) {
		/* completions may run in hard-IRQ context (NVMe) */
		spin_lock_irqsave(&pool->md_lock, flags);
		if (!pool->md_error)
			pool->md_error = blk_status_to_errno(bio->bi_status);
		spin_unlock_irqrestore(&pool->md_lock, flags);
	}
	mempool_free(bio_first_page_all(bio), pool->md_pages);
	bio_put(bio);
	if (atomic_dec_and_test(&pool->md_inflight))
		wake_up(&pool->md_wait);
}

/*
 * The block is copied, so the core's buffer (whatever memory it is) is free
 * again at once and the write needs no page of the core's.
 */
static int sis_md_write(void *ctx, u64 blocknr, const void *buf)
{
	struct sis_pool *pool = ctx;
	struct page *page;
	struct bio *bio;

	page = mempool_alloc(pool->md_pages, GFP_NOIO);
	memcpy(page_address(page), buf, SIS_BLOCK_SIZE);
	bio = bio_alloc_bioset(pool->bdev, 1, REQ_OP_WRITE | REQ_META, GFP_NOIO,
			       &pool->io_bs);
	bio->bi_iter.bi_sector = block_to_sector(blocknr);
	__bio_add_page(bio, page, SIS_BLOCK_SIZE, 0);
	bio->bi_end_io = sis_md_write_endio;
	bio->bi_private = pool;
	atomic_inc(&pool->md_inflight);
	submit_bio(bio);
	return 0;
}

static int sis_md_flush(void *ctx)
{
	struct sis_pool *pool = ctx;
	int r, err;

	wait_event(pool->md_wait, !atomic_read(&pool->md_inflight));
	r = blkdev_issue_flush(pool->bdev);

	spin_lock_irq(&pool->md_lock);
	err = pool->md_error;
	pool->md_error = 0;
	spin_unlock_irq(&pool->md_lock);
	return err ? err : r;
}

static int sis_md_discard(void *ctx, u64 blocknr, u64 count)
{
	struct sis_pool *pool = ctx;

	if (!bdev_max_discard_sectors(pool->bdev))
		return 0;
	return blkdev_issue_discard(pool->bdev, block_to_sector(blocknr),
				    block_to_sector(count), GFP_NOIO);
}

static void sis_md_log(void *ctx, int level, const char *msg)
{
	struct sis_pool *pool = ctx;

	if (level <= 3)
		DMERR("%s: %s", pool->name, msg);
	else if (level == 4)
		DMWARN("%s: %s", pool->name, msg);
	else
		DMINFO("%s: %s", pool->name, msg);
}

/* ---------------------------------------------------------------- */
/* Commits                                                          */
/* ---------------------------------------------------------------- */

/* ---------------------------------------------------------------- */
/* Events                                                           */
/* ---------------------------------------------------------------- */

/*
 * dm events (dmsetup wait, dmeventd) are raised from a work item on the
 * pool's workqueue, as dm-thin raises them from its worker: the places that
 * notice a change may hold the store lock or run in the I/O path, and
 * dm_table_event() takes dm's own event lock.  The event goes to the table
 * of the target resumed last (NULL while suspended).
 */
static void sis_event_worker(struct work_struct *ws)
{
	struct sis_pool *pool = container_of(ws, struct sis_pool, event_work);

	mutex_lock(&pool->event_lock);
	if (pool->event_ti)
		dm_table_event(pool->event_ti->table);
	mutex_unlock(&pool->event_lock);
}

static void sis_raise_event(struct sis_pool *pool)
{
	queue_work(pool->wq, &pool->event_work);
}

/*
 * Resume (@on) makes @ti's table the one that gets events and re-arms the
 * low-water mark (a reload may change it); postsuspend stops events to it.
 */
static void sis_event_target(struct sis_pool *pool, struct dm_target *ti,
			     bool on)
{
	mutex_lock(&pool->event_lock);
	if (on)
		pool->event_ti = ti;
	else if (pool->event_ti == ti)
		pool->event_ti = NULL;
	mutex_unlock(&pool->event_lock);
	if (on)
		atomic_set(&pool->low_water_hit, 0);
}

/*
 * After a successful allocation: leave out-of-space mode
 * and check the low-water mark, raising one event per crossing.
 */
static void sis_space_check(struct sis_pool *pool)
{
	u64 mark = READ_ONCE(pool->f.low_water_mark);
	struct sis_core_stats stats;

	if (READ_ONCE(pool->out_of_space)) {
		WRITE_ONCE(pool->out_of_space, false);
		sis_raise_event(pool);
	}
	if (!mark)
		return;
	sis_core_get_stats(pool->core, &stats);
	if (stats.nr_free >= mark) {
		atomic_set(&pool->low_water_hit, 0);
	} else if (!atomic_xchg(&pool->low_water_hit, 1)) {
		DMWARN("%s: low water mark reached: %llu blocks free, mark %llu",
		       pool->name, stats.nr_free, mark);
		sis_raise_event(pool);
	}
}

static void sis_note_mode(struct sis_pool *pool, int r);

/*
 * The core returned -ENOMEM: it changed nothing (or, for a commit, kept the
 * transaction intact), so the operation is simply tried again a little
 * later; memory is never a reason to fail a bio or to abort metadata.
 */
static void sis_nomem_wait(struct sis_pool *pool)
{
	DMWARN_LIMIT("%s: out of memory: retrying", pool->name);
	msleep(SIS_NOMEM_RETRY_MS);
}

/*
 * Commit everything mapped before the call.  Callers that arrive while a
 * commit runs wait for it and then find that a later one is needed only if
 * that commit began before they arrived.
 */
static int sis_commit(struct sis_pool *pool)
{
	/* pairs with the store below: a later commit saw our mappings */
	u64 ticket = smp_load_acquire(&pool->commit_started);
	u64 seq;
	int r;

	mutex_lock(&pool->commit_lock);
	if (pool->commit_done > ticket) {
		r = pool->commit_err;
		mutex_unlock(&pool->commit_lock);
		return r;
	}
	seq = pool->commit_started + 1;
	/* pairs with the load above */
	smp_store_release(&pool->commit_started, seq);
	r = sis_core_commit(pool->core);
	while (r == -ENOMEM) {
		sis_nomem_wait(pool);
		r = sis_core_commit(pool->core);
	}
	pool->commit_done = seq;
	pool->commit_err = r;
	mutex_unlock(&pool->commit_lock);

	if (r)
		sis_note_mode(pool, r);
	return r;
}

static void sis_commit_worker(struct work_struct *ws)
{
	struct sis_pool *pool = container_of(to_delayed_work(ws), struct sis_pool,
					     commit_work);

	if (sis_core_dirty(pool->core))
		sis_commit(pool);
	queue_delayed_work(pool->wq, &pool->commit_work,
			   READ_ONCE(pool->f.commit_interval) * HZ);
}

/* Log once when the core leaves write mode (metadata error, needs_check). */
static void sis_note_mode(struct sis_pool *pool, int r)
{
	struct sis_core_stats st;

	if (r != -EROFS && r != -EIO && r != -EILSEQ)
		return;
	sis_core_get_stats(pool->core, &st);
	if (st.mode == SIS_MODE_WRITE || pool->f.read_only)
		return;
	if (atomic_xchg(&pool->mode_reported, 1))
		return;
	sis_raise_event(pool);
	DMERR("%s: metadata error (%d): switched to %s mode%s; run 'sis check'",
	      pool->name, r, st.mode == SIS_MODE_FAIL ? "fail" : "read-only",
	      st.needs_check ? ", needs_check set" : "");
}

/* ---------------------------------------------------------------- */
/* Data path helpers                                                */
/* ---------------------------------------------------------------- */

/* Copy @len bytes from @src into @bio at @iter, advancing @iter. */
static void copy_to_bio(struct bio *bio, struct bvec_iter *iter, const u8 *src,
			unsigned int len)
{
	while (len) {
		struct bio_vec bv = bio_iter_iovec(bio, *iter);

		bv.bv_len = min(bv.bv_len, len);
		memcpy_to_bvec(&bv, src);
		bio_advance_iter_single(bio, iter, bv.bv_len);
		src += bv.bv_len;
		len -= bv.bv_len;
	}
}

/* Copy @len bytes of @bio at @iter to @dst, advancing @iter. */
static void copy_from_bio(u8 *dst, struct bio *bio, struct bvec_iter *iter,
			  unsigned int len)
{
	while (len) {
		struct bio_vec bv = bio_iter_iovec(bio, *iter);

		bv.bv_len = min(bv.bv_len, len);
		memcpy_from_bvec(dst, &bv);
		bio_advance_iter_single(bio, iter, bv.bv_len);
		dst += bv.bv_len;
		len -= bv.bv_len;
	}
}

static struct pcache_entry *sis_cache_get_nr(struct sis_pool *pool, u64 pblock,
					     unsigned int nr)
{
	struct pcache_entry *e;
	bool hit;

	e = pcache_get_run(pool->bdev, pblock, nr, &hit);
	atomic64_inc(hit ? &pool->stat_hits : &pool->stat_misses);
	return e;
}

static struct pcache_entry *sis_cache_get(struct sis_pool *pool, u64 pblock)
{
	return sis_cache_get_nr(pool, pblock, 1);
}

/*
 * A read of @lblock -> @pblock: on a cache miss, read ahead the following
 * logical blocks that map the following physical blocks (data written
 * sequentially is usually allocated sequentially), so that a sequential
 * read of shared data costs one disk read per run.  The look-ups take no
 * block lock: an entry read ahead for a block remapped meanwhile only holds
 * what the disk holds, and a new owner of the block installs its data over
 * it (pcache.h).
 */
static struct pcache_entry *sis_cache_get_run(struct sis_target *st, u64 lblock,
					      u64 pblock)
{
	struct sis_pool *pool = st->pool;
	u64 end = st->ti->len >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	u64 next[PCACHE_MAX_RUN - 1];
	u32 refs[PCACHE_MAX_RUN - 1];
	struct pcache_entry *e;
	unsigned int nr, i;

	e = pcache_lookup(pool->dev, pblock);
	if (e) {
		atomic64_inc(&pool->stat_hits);
		if (pcache_wait(e)) {
			pcache_put(e);
			return ERR_PTR(-EIO);
		}
		return e;
	}
	/*
	 * A hint only: nowait (a reader holding a ticket must not wait for
	 * the core lock, which a commit waiting for readers may hold) and
	 * without a ticket of its own.
	 */
	nr = min_t(u64, PCACHE_MAX_RUN, end - lblock);
	if (nr > 1 && !sis_core_read_begin(pool->core, lblock + 1, nr - 1, next,
					   refs, true, NULL)) {
		for (i = 1; i < nr && next[i - 1] == pblock + i; i++)
			;
		nr = i;
	} else {
		nr = 1;
	}
	return sis_cache_get_nr(pool, pblock, nr);
}

/*
 * Complete @bio (a dm bio or a piece of one) with @r, logging errors;
 * -EAGAIN gives the bio back to dm to be resubmitted after resume (only
 * during a noflush suspend, see sis_alloc_install()).
 */
static void sis_bio_end(struct sis_target *st, struct bio *bio, u64 lblock,
			int r)
{
	if (r == -EAGAIN) {
		bio->bi_status = BLK_STS_DM_REQUEUE;
	} else if (r) {
		sis_note_mode(st->pool, r);
		if (r != -EROFS && r != -ENOSPC)
			DMERR_LIMIT("%s: %s of block %llu failed: %d",
				    st->pool->name,
				    op_is_write(bio_op(bio)) ? "write" : "read",
				    lblock, r);
		bio->bi_status = errno_to_blk_status(r);
	}
	bio_endio(bio);
}

/* How a read serves a block (see sis_read()). */
enum sis_read_kind {
	SIS_READ_ZERO,		/* unmapped: zeros, no I/O */
	SIS_READ_DIRECT,	/* one logical block maps it: remap to the disk */
	SIS_READ_CACHED,	/* shared: through pcache, one copy for all */
};

static enum sis_read_kind sis_read_kind(const u64 *pblocks, const u32 *refs,
					unsigned int i)
{
	if (!pblocks[i])
		return SIS_READ_ZERO;
	return refs[i] == 1 ? SIS_READ_DIRECT : SIS_READ_CACHED;
}

/*
 * Point @piece, which reads physically contiguous blocks from
 * @pblocks[0], byte @skip, at the backing device.  The blocks are safe
 * from reuse until the whole bio ends (its read ticket, sis_end_io()).
 */
static void sis_remap(struct sis_target *st, struct bio *piece,
		      const u64 *pblocks, unsigned int skip)
{
	bio_set_dev(piece, st->pool->bdev);
	piece->bi_iter.bi_sector = block_to_sector(pblocks[0]) +
				   (skip >> SECTOR_SHIFT);
}

/* Serve @piece from pcache: shared blocks @pblocks[0..nr). */
static void sis_read_cached(struct sis_target *st, struct bio *piece,
			    u64 lblock, const u64 *pblocks, unsigned int nr,
			    unsigned int skip)
{
	struct bvec_iter iter = piece->bi_iter;
	struct pcache_entry *e;
	unsigned int i, len;
	int r = 0;

	for (i = 0; i < nr && iter.bi_size; i++) {
		e = sis_cache_get_run(st, lblock + i, pblocks[i]);
		if (IS_ERR(e)) {
			r = PTR_ERR(e);
			break;
		}
		len = min(iter.bi_size, SIS_BLOCK_SIZE - skip);
		copy_to_bio(piece, &iter, (u8 *)pcache_data(e) + skip, len);
		pcache_put(e);
		skip = 0;
	}
	sis_bio_end(st, piece, lblock + i, r);
}

/* The end of the run of blocks from @i that a read serves one way. */
static unsigned int sis_read_run_end(const u64 *pblocks, const u32 *refs,
				     unsigned int i, unsigned int nr)
{
	enum sis_read_kind kind = sis_read_kind(pblocks, refs, i);
	unsigned int j;

	for (j = i + 1; j < nr && sis_read_kind(pblocks, refs, j) == kind &&
	     (kind != SIS_READ_DIRECT || pblocks[j] == pblocks[j - 1] + 1); j++)
		;
	return j;
}

/* Where a read of @bio starts: its first logical block and its offset in it. */
static u64 sis_bio_lblock(struct sis_target *st, struct bio *bio,
			  unsigned int *skip, unsigned int *nr)
{
	sector_t off = dm_target_offset(st->ti, bio->bi_iter.bi_sector);

	*skip = (off & (SIS_SECTORS_PER_BLOCK - 1)) << SECTOR_SHIFT;
	*nr = DIV_ROUND_UP(*skip + bio->bi_iter.bi_size, SIS_BLOCK_SIZE);
	return off >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
}

/*
 * A read of up to SIS_MAX_IO_BLOCKS blocks, in the worker.  One look-up
 * maps every block and takes a read ticket for the whole bio (so no block
 * it reads is reallocated under it, whatever writes do meanwhile, until
 * sis_end_io()); then the bio is cut into runs of one kind, each a piece
 * chained to it: unmapped runs complete with zeros and no I/O; runs of
 * unique blocks that are contiguous on disk are remapped as one bio (no copy
 * and no cache space for data only one logical block reads); shared blocks
 * are read through pcache, where one copy serves every sharer on every
 * device.
 */
static void sis_read(struct sis_target *st, struct bio *bio)
{
	struct sis_bio *sb = dm_per_bio_data(bio, sizeof(*sb));
	u64 pblocks[SIS_MAX_IO_BLOCKS];
	u32 refs[SIS_MAX_IO_BLOCKS];
	enum sis_read_kind kind;
	unsigned int i, j, skip, nr;
	struct bio *piece;
	u64 lblock;
	int r;

	lblock = sis_bio_lblock(st, bio, &skip, &nr);
	if (WARN_ON_ONCE(nr > SIS_MAX_IO_BLOCKS)) {
		sis_bio_end(st, bio, lblock, -EIO);
		return;
	}
	while ((r = sis_core_read_begin(st->pool->core, lblock, nr, pblocks,
					refs, false, &sb->ticket)) == -ENOMEM)
		sis_nomem_wait(st->pool);
	if (r) {
		sis_bio_end(st, bio, lblock, r);
		return;
	}
	sb->ticket_held = true;
	for (i = 0; i < nr; i = j, skip = 0) {
		kind = sis_read_kind(pblocks, refs, i);
		j = sis_read_run_end(pblocks, refs, i, nr);
		piece = bio;
		if (j < nr) {
			piece = bio_split(bio, ((j - i) * SIS_BLOCK_SIZE - skip) >>
					  SECTOR_SHIFT, GFP_NOIO, &st->pool->bs);
			bio_chain(piece, bio);
		}
		switch (kind) {
		case SIS_READ_ZERO:
			zero_fill_bio(piece);
			bio_endio(piece);
			break;
		case SIS_READ_DIRECT:
			sis_remap(st, piece, pblocks + i, skip);
			submit_bio_noacct(piece);
			break;
		case SIS_READ_CACHED:
			sis_read_cached(st, piece, lblock + i, pblocks + i,
					j - i, skip);
			break;
		}
	}
}

/*
 * A read in map(), without sleeping: when every map and refcount page it
 * needs is cached and the core lock is free, a read of blocks that only
 * one logical block maps, contiguous on disk, is remapped to the disk at
 * once (no worker, no copy), and a read of unmapped blocks completes with
 * zeros.  Anything else (shared blocks, a mix, a page to read, a busy lock)
 * goes to the worker: return false.
 */
static bool sis_read_fast(struct sis_target *st, struct bio *bio,
			  struct sis_bio *sb, int *mapio)
{
	u64 pblocks[SIS_MAX_IO_BLOCKS];
	u32 refs[SIS_MAX_IO_BLOCKS];
	unsigned int skip, nr, ticket;
	enum sis_read_kind kind;
	u64 lblock;

	lblock = sis_bio_lblock(st, bio, &skip, &nr);
	if (nr > SIS_MAX_IO_BLOCKS ||
	    sis_core_read_begin(st->pool->core, lblock, nr, pblocks, refs, true,
				&ticket))
		return false;
	kind = sis_read_kind(pblocks, refs, 0);
	if (sis_read_run_end(pblocks, refs, 0, nr) < nr ||
	    kind == SIS_READ_CACHED) {
		sis_core_read_end(st->pool->core, ticket);
		return false;
	}
	if (kind == SIS_READ_ZERO) {
		sis_core_read_end(st->pool->core, ticket);
		zero_fill_bio(bio);
		bio_endio(bio);
		*mapio = DM_MAPIO_SUBMITTED;
		return true;
	}
	sb->ticket = ticket;
	sb->ticket_held = true;
	sis_remap(st, bio, pblocks, skip);
	atomic64_inc(&st->pool->stat_fast_reads);
	*mapio = DM_MAPIO_REMAPPED;
	return true;
}

/*
 * Is the data of candidate @pblock equal to @data?  Reads the candidate
 * through pcache (a failed read is a mismatch).  An entry whose write is
 * still in flight is compared at once, without waiting (its writer may be
 * this very batch): on a match it is returned held in *@pending and the
 * caller waits for the write before mapping the block.
 */
static bool sis_candidate_matches(struct sis_pool *pool, u64 pblock,
				  const void *data, struct pcache_entry **pending)
{
	struct pcache_entry *e;
	bool same;

	*pending = NULL;
	e = pcache_lookup(pool->dev, pblock);
	if (e) {
		atomic64_inc(&pool->stat_hits);
		if (pcache_wait_filled(e)) {
			pcache_put(e);
			return false;
		}
	} else {
		e = sis_cache_get(pool, pblock);
		if (IS_ERR(e))
			return false;
	}
	same = !memcmp(pcache_data(e), data, SIS_BLOCK_SIZE);
	if (same && READ_ONCE(e->state) == PCACHE_WRITING) {
		*pending = e;
		return true;
	}
	pcache_put(e);
	return same;
}

/* ---------------------------------------------------------------- */
/* Writes                                                           */
/* ---------------------------------------------------------------- */

/* What becomes of one block of a write (struct sis_wblock). */
enum sis_wstate {
	SIS_W_STORE,	/* to be decided */
	SIS_W_ZERO,	/* all zeros: unmapped */
	SIS_W_DUP,	/* identical to the existing block @pblock */
	SIS_W_SAME,	/* identical to block @dup_of of this batch, a NEW one */
	SIS_W_ALLOC,	/* new data: gets a new block at the end of the round */
	SIS_W_NEW,	/* new data in the newly allocated block @pblock */
	SIS_W_DONE,	/* mapped */
};

/**
 * struct sis_wblock - one block of a write batch
 * @page:    its data while the batch owns it (a NEW block's is @e's)
 * @e:       NEW: its pcache entry; DUP: the candidate's entry if its write
 *           was in flight at the compare
 * @fp:      fingerprint of the data
 * @pblock:  DUP: the candidate (pinned by find_dup); NEW: the new block
 *           (pinned, reserved)
 * @state:   enum sis_wstate
 * @dup_of:  SAME: the block of the batch with the same data
 * @written: NEW: the data write is done, with result @werr
 * @werr:    NEW: result of the data write
 */
struct sis_wblock {
	struct page *page;
	struct pcache_entry *e;
	u64 fp;
	u64 pblock;
	unsigned int state;
	unsigned int dup_of;
	bool written;
	int werr;
};

/* One data write: a run of NEW blocks contiguous on disk. */
struct sis_wrun {
	struct sis_wbatch *wb;
	int err;
};

/**
 * struct sis_wbatch - the blocks of one write bio (from sis_wbatch_pool)
 * @st:      the target
 * @lblock:  first logical block
 * @nr:      blocks
 * @pending: data writes in flight, and @done completes when they end
 * @runs:    the data writes
 * @space_deadline: when a write waiting for space gives up (0: not waiting)
 * @nr_locks: hash locks held (sis_hash_lock_batch())
 * @locks:   their bits, ascending
 * @b:       the blocks
 */
struct sis_wbatch {
	struct sis_target *st;
	u64 lblock;
	unsigned int nr;
	atomic_t pending;
	struct completion done;
	struct sis_wrun runs[SIS_MAX_IO_BLOCKS];
	unsigned long space_deadline;
	unsigned int nr_locks;
	u16 locks[SIS_MAX_IO_BLOCKS];
	struct sis_wblock b[SIS_MAX_IO_BLOCKS];
};

static mempool_t *sis_wbatch_pool;

/*
 * Write ordering per logical block: a writer (or discard) waits until no
 * other one holds an overlapping range, then holds its own.
 */
static bool sis_range_try_lock(struct sis_pool *pool, struct sis_range *range)
{
	struct sis_range *other;
	bool free = true;

	spin_lock(&pool->range_lock);
	list_for_each_entry(other, &pool->ranges, list)
		if (other->start < range->end && range->start < other->end) {
			free = false;
			break;
		}
	if (free)
		list_add(&range->list, &pool->ranges);
	spin_unlock(&pool->range_lock);
	return free;
}

static void sis_range_lock(struct sis_pool *pool, struct sis_range *range,
			   u64 start, u64 count)
{
	range->start = start;
	range->end = start + count;
	wait_event(pool->range_wait, sis_range_try_lock(pool, range));
}

static void sis_range_unlock(struct sis_pool *pool, struct sis_range *range)
{
	spin_lock(&pool->range_lock);
	list_del(&range->list);
	spin_unlock(&pool->range_lock);
	wake_up_all(&pool->range_wait);
}

/* Fill @page with the current data of @lblock (read-modify-write). */
static int sis_read_old(struct sis_pool *pool, u64 lblock, struct page *page)
{
	struct pcache_entry *e;
	u64 pblock;
	int r;

	r = sis_core_lookup(pool->core, lblock, &pblock);
	if (r == -ENODATA) {
		clear_page(page_address(page));
		return 0;
	}
	if (r)
		return r;
	e = sis_cache_get(pool, pblock);
	if (IS_ERR(e))
		return PTR_ERR(e);
	copy_page(page_address(page), pcache_data(e));
	pcache_put(e);
	return 0;
}

/* Gather the bio's data into one page per block, partial blocks merged. */
static int sis_wbatch_fill(struct sis_wbatch *wb, struct bio *bio,
			   unsigned int skip)
{
	struct bvec_iter iter = bio->bi_iter;
	struct sis_wblock *b;
	unsigned int i, len;
	int r;

	for (i = 0; i < wb->nr; i++, skip = 0) {
		b = &wb->b[i];
		b->page = pcache_alloc_page();
		len = min(iter.bi_size, SIS_BLOCK_SIZE - skip);
		if (len != SIS_BLOCK_SIZE) {
			r = sis_read_old(wb->st->pool, wb->lblock + i, b->page);
			if (r)
				return r;
		}
		copy_from_bio((u8 *)page_address(b->page) + skip, bio, &iter,
			      len);
	}
	return 0;
}

static unsigned int sis_hash_lock_of(u64 fp)
{
	return hash_64(fp, SIS_HASH_LOCK_BITS);
}

/*
 * Take the hash locks of every STORE block of @wb, in ascending order (so
 * two batches never wait for each other in a cycle).  A hash lock is a bit
 * of pool->hash_locks: writers of the same data (the same fingerprint)
 * decide one after the other, so the second finds the block of the first;
 * writers of different data take different bits and never wait for each
 * other, except for the rare fingerprints sharing a bit.
 */
static void sis_hash_lock_batch(struct sis_wbatch *wb)
{
	unsigned long *bits = wb->st->pool->hash_locks;
	unsigned int i, j, k, n = 0;
	u16 l;

	for (i = 0; i < wb->nr; i++) {
		if (wb->b[i].state != SIS_W_STORE)
			continue;
		l = sis_hash_lock_of(wb->b[i].fp);
		for (j = 0; j < n && wb->locks[j] < l; j++)
			;
		if (j < n && wb->locks[j] == l)
			continue;
		for (k = n++; k > j; k--)
			wb->locks[k] = wb->locks[k - 1];
		wb->locks[j] = l;
	}
	wb->nr_locks = n;
	for (i = 0; i < n; i++)
		wait_on_bit_lock(bits, wb->locks[i], TASK_UNINTERRUPTIBLE);
}

static void sis_hash_unlock_batch(struct sis_wbatch *wb)
{
	unsigned long *bits = wb->st->pool->hash_locks;
	unsigned int i;

	for (i = 0; i < wb->nr_locks; i++)
		clear_and_wake_up_bit(wb->locks[i], bits);
	wb->nr_locks = 0;
}

/*
 * No block for new data (no hash lock held): commit if that frees some,
 * else wait for space, without error_if_no_space, for up to
 * SIS_NO_SPACE_TIMEOUT seconds (commits and discards may free blocks).  A
 * noflush suspend ends the wait with -EAGAIN: the bio is requeued and
 * retried after resume (when the backing device may have grown), so the
 * suspend does not wait for space that cannot come.
 * Return: 1 (decide again), -ENOSPC, -EAGAIN, or a commit error.
 */
static int sis_wait_space(struct sis_wbatch *wb)
{
	struct sis_pool *pool = wb->st->pool;
	struct sis_core_stats stats;
	int r;

	sis_core_get_stats(pool->core, &stats);
	if (stats.nr_pending_free) {
		r = sis_commit(pool);
		return r ? r : 1;
	}
	if (!READ_ONCE(pool->out_of_space)) {
		WRITE_ONCE(pool->out_of_space, true);
		DMWARN_LIMIT("%s: out of data space", pool->name);
		sis_raise_event(pool);
	}
	if (wb->st->f.error_if_no_space)
		return -ENOSPC;
	if (READ_ONCE(pool->requeue))
		return -EAGAIN;
	if (!wb->space_deadline)
		wb->space_deadline = jiffies + SIS_NO_SPACE_TIMEOUT * HZ;
	else if (time_after(jiffies, wb->space_deadline))
		return -ENOSPC;
	wait_event_timeout(pool->space_wait, READ_ONCE(pool->requeue),
			   msecs_to_jiffies(SIS_NO_SPACE_RETRY_MS));
	return 1;
}

/*
 * Phase 1: decide every STORE block, under the hash locks of its data:
 * zero, a duplicate of an earlier block of the batch, of an existing
 * block (compared), or new data.  The new blocks of the batch are then
 * allocated with one core call, so they are contiguous on disk as far as
 * free space allows whatever other writers do, and installed in pcache
 * before the hash locks go (a writer of the same data finds the entry).
 * Return: 0, 1 when blocks are left to decide after waiting for space, or
 * -errno (what was decided before it is still stored).
 */
static int sis_wbatch_decide(struct sis_wbatch *wb)
{
	struct sis_pool *pool = wb->st->pool;
	unsigned int i, j, k, nr_alloc = 0, last_dup = 0;
	u8 alloc[SIS_MAX_IO_BLOCKS];
	u64 fps[SIS_MAX_IO_BLOCKS];
	u64 pbs[SIS_MAX_IO_BLOCKS];
	struct sis_wblock *b;
	void *data;
	u64 p;
	int r = 0, n;

	for (i = 0; i < wb->nr; i++) {	/* pure CPU: outside any lock */
		b = &wb->b[i];
		if (b->state != SIS_W_STORE)
			continue;
		data = page_address(b->page);
		if (wb->st->f.zero_detect && sis_block_is_zero(data))
			b->state = SIS_W_ZERO;
		else
			b->fp = sis_fingerprint(data);
	}

	sis_hash_lock_batch(wb);
	for (i = 0; i < wb->nr; i++) {
		b = &wb->b[i];
		if (b->state != SIS_W_STORE)
			continue;
		data = page_address(b->page);
		for (j = 0; j < i; j++)
			if (wb->b[j].state == SIS_W_ALLOC && wb->b[j].fp == b->fp &&
			    !memcmp(page_address(wb->b[j].page), data, SIS_BLOCK_SIZE))
				break;
		if (j < i) {
			b->state = SIS_W_SAME;
			b->dup_of = j;
			continue;
		}
		r = sis_core_find_dup(pool->core, b->fp, &p);
		if (!r) {
			if (sis_candidate_matches(pool, p, data, &b->e)) {
				b->pblock = p;
				b->state = SIS_W_DUP;
				last_dup = i;
				continue;
			}
			sis_core_unpin(pool->core, p);
		} else if (r != -ENOENT) {
			break;
		}
		r = 0;
		b->state = SIS_W_ALLOC;
		alloc[nr_alloc] = i;
		fps[nr_alloc++] = b->fp;
	}
	/*
	 * A duplicate found after some misses may have brought its source
	 * refcount page into the core's index (a hook hit): the misses
	 * before it are looked up once more (in RAM: their source page is
	 * resident now).
	 */
	for (k = 0, j = 0; !r && k < nr_alloc; k++) {
		b = &wb->b[alloc[k]];
		if (alloc[k] < last_dup &&
		    !sis_core_find_dup(pool->core, b->fp, &p)) {
			if (sis_candidate_matches(pool, p, page_address(b->page),
						  &b->e)) {
				b->pblock = p;
				b->state = SIS_W_DUP;
				continue;
			}
			sis_core_unpin(pool->core, p);
		}
		alloc[j] = alloc[k];
		fps[j++] = b->fp;
	}
	if (!r)
		nr_alloc = j;

	n = 0;
	if (!r && nr_alloc) {
		n = sis_core_alloc_run(pool->core, fps, nr_alloc, pbs);
		if (n < 0) {
			r = n;
			n = 0;
		}
	}
	for (k = 0; k < nr_alloc; k++) {
		b = &wb->b[alloc[k]];
		if (k < n) {
			b->pblock = pbs[k];
			b->e = pcache_install(pool->dev, b->pblock, b->page);
			b->page = NULL;		/* pcache owns it now */
			b->state = SIS_W_NEW;
			b->written = false;
			continue;
		}
		/* no block (error, or space ran out): decided again later */
		b->state = SIS_W_STORE;
		for (j = alloc[k] + 1; j < wb->nr; j++)
			if (wb->b[j].state == SIS_W_SAME &&
			    wb->b[j].dup_of == alloc[k])
				wb->b[j].state = SIS_W_STORE;
	}
	sis_hash_unlock_batch(wb);

	if (n)
		sis_space_check(pool);
	if (!r && n < nr_alloc)
		r = -ENOSPC;
	if (r == -ENOSPC)
		r = sis_wait_space(wb);
	else if (!r)
		wb->space_deadline = 0;
	return r;
}

static void sis_wrun_endio(struct bio *bio)
{
	struct sis_wrun *run = bio->bi_private;
	struct sis_wbatch *wb = run->wb;

	run->err = blk_status_to_errno(bio->bi_status);
	bio_put(bio);
	if (atomic_dec_and_test(&wb->pending))
		complete(&wb->done);
}

/*
 * Phase 2: write the data of the NEW blocks not yet written, one bio per
 * run of blocks contiguous on disk, all in flight at once.
 */
static void sis_wbatch_write(struct sis_wbatch *wb)
{
	struct block_device *bdev = wb->st->pool->bdev;
	unsigned int i, nr_runs = 0;
	struct sis_wblock *b;
	struct bio *bio = NULL;
	struct blk_plug plug;
	u8 run_of[SIS_MAX_IO_BLOCKS];
	u64 next = 0;

	atomic_set(&wb->pending, 1);
	init_completion(&wb->done);
	blk_start_plug(&plug);
	for (i = 0; i < wb->nr; i++) {
		b = &wb->b[i];
		if (b->state != SIS_W_NEW || b->written)
			continue;
		if (!bio || b->pblock != next) {
			if (bio)
				submit_bio(bio);
			bio = bio_alloc_bioset(bdev, wb->nr - i, REQ_OP_WRITE,
					       GFP_NOIO, &wb->st->pool->io_bs);
			bio->bi_iter.bi_sector = block_to_sector(b->pblock);
			bio->bi_end_io = sis_wrun_endio;
			wb->runs[nr_runs].wb = wb;
			wb->runs[nr_runs].err = 0;
			bio->bi_private = &wb->runs[nr_runs++];
			atomic_inc(&wb->pending);
		}
		__bio_add_page(bio, b->e->page, SIS_BLOCK_SIZE, 0);
		run_of[i] = nr_runs - 1;
		next = b->pblock + 1;
	}
	if (bio)
		submit_bio(bio);
	blk_finish_plug(&plug);
	if (!atomic_dec_and_test(&wb->pending))
		wait_for_completion_io(&wb->done);

	for (i = 0; i < wb->nr; i++) {
		b = &wb->b[i];
		if (b->state != SIS_W_NEW || b->written)
			continue;
		b->written = true;
		b->werr = wb->runs[run_of[i]].err;
		pcache_write_done(b->e, b->werr);
	}
}

/* A block to store again: give it its data back as a page of its own. */
static void sis_wblock_again(struct sis_wblock *b, void *data)
{
	if (!b->page) {
		b->page = pcache_alloc_page();
		copy_page(page_address(b->page), data);
	}
	b->state = SIS_W_STORE;
}

/*
 * Map block @i of @wb to @pblock and count it in @stat.  A block that can
 * no longer be shared (freed under its pin, or saturated) is left as it is,
 * to be decided again.
 */
static int sis_wblock_map(struct sis_wbatch *wb, unsigned int i, u64 pblock,
			  atomic64_t *stat, s64 add)
{
	int r = sis_core_map(wb->st->pool->core, wb->lblock + i, pblock);

	if (!r) {
		atomic64_add(add, stat);
		wb->b[i].state = SIS_W_DONE;
	}
	return r == -ESTALE || r == -EOVERFLOW ? 0 : r;
}

/*
 * Phase 3: map every decided block, in order, until an error; a candidate
 * that turned out unusable (its write failed, it was freed, it saturated)
 * or a new block freed under its pin goes back to STORE.  Then drop the
 * pins and entries of this round.  Return: the first error, or 1 if
 * blocks are to be stored again.
 */
static int sis_wbatch_map(struct sis_wbatch *wb)
{
	struct sis_pool *pool = wb->st->pool;
	struct sis_wblock *b, *src;
	bool again = false;
	unsigned int i;
	int err = 0;

	for (i = 0; i < wb->nr && !err; i++) {
		b = &wb->b[i];
		switch (b->state) {
		case SIS_W_ZERO:
			err = sis_core_unmap(pool->core, wb->lblock + i, 1);
			if (!err) {
				atomic64_inc(&pool->stat_zero);
				b->state = SIS_W_DONE;
			}
			break;
		case SIS_W_NEW:
			err = b->werr ? :
			      sis_wblock_map(wb, i, b->pblock, &pool->stat_new_data,
					     SIS_BLOCK_SIZE);
			break;
		case SIS_W_SAME:
			src = &wb->b[b->dup_of];
			err = src->werr ? :
			      sis_wblock_map(wb, i, src->pblock, &pool->stat_dedup, 1);
			break;
		case SIS_W_DUP:
			if (b->e && pcache_wait(b->e))
				break;	/* its write failed: store again */
			err = sis_wblock_map(wb, i, b->pblock, &pool->stat_dedup, 1);
			break;
		}
	}

	/* decided blocks left unmapped (no error) are decided again */
	for (i = 0; i < wb->nr && !err; i++) {
		b = &wb->b[i];
		if (b->state == SIS_W_SAME || b->state == SIS_W_DUP) {
			sis_wblock_again(b, NULL);
			again = true;
		} else if (b->state == SIS_W_NEW) {
			sis_wblock_again(b, pcache_data(b->e));
			again = true;
		}
	}

	for (i = 0; i < wb->nr; i++) {
		b = &wb->b[i];
		if (b->e)
			pcache_put(b->e);
		if (b->pblock)		/* block 0 is a superblock, never data */
			sis_core_unpin(pool->core, b->pblock);
		b->e = NULL;
		b->pblock = 0;
		b->written = false;
	}
	return err ? err : again ? 1 : 0;
}

/*
 * A write of up to SIS_MAX_IO_BLOCKS blocks, as one batch: gather the
 * data, decide each block, write the new ones, map them all; blocks whose
 * candidate fell through are decided again.  The range lock orders it
 * against other writes and discards of the same blocks.
 */
static int sis_write(struct sis_target *st, struct bio *bio)
{
	struct sis_pool *pool = st->pool;
	sector_t off = dm_target_offset(st->ti, bio->bi_iter.bi_sector);
	unsigned int skip = (off & (SIS_SECTORS_PER_BLOCK - 1)) << SECTOR_SHIFT;
	unsigned int len = bio->bi_iter.bi_size;
	struct sis_range range;
	struct sis_wbatch *wb;
	unsigned int i;
	int r, r2;

	if (st->f.read_only)
		return -EROFS;
	wb = mempool_alloc(sis_wbatch_pool, GFP_NOIO);
	memset(wb, 0, sizeof(*wb));
	wb->st = st;
	wb->lblock = off >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	wb->nr = DIV_ROUND_UP(skip + len, SIS_BLOCK_SIZE);
	if (WARN_ON_ONCE(wb->nr > SIS_MAX_IO_BLOCKS)) {
		mempool_free(wb, sis_wbatch_pool);
		return -EIO;
	}

	sis_range_lock(pool, &range, wb->lblock, wb->nr);
	r = sis_wbatch_fill(wb, bio, skip);
	while (!r) {
		/* what was decided before an error (ENOSPC) is still stored */
		r = sis_wbatch_decide(wb);
		sis_wbatch_write(wb);
		r2 = sis_wbatch_map(wb);
		if (r < 0 || r2 < 0) {
			r = r < 0 ? r : r2;
			break;
		}
		if (!r && !r2)
			break;
		r = 0;		/* blocks to decide again */
	}
	sis_range_unlock(pool, &range);

	for (i = 0; i < wb->nr; i++)
		if (wb->b[i].page)
			pcache_free_page(wb->b[i].page);
	mempool_free(wb, sis_wbatch_pool);
	if (!r) {
		atomic64_add(len, &pool->stat_written);
		if (bio->bi_opf & REQ_FUA)
			r = sis_commit(pool);
	}
	return r;
}

/*
 * Discard whole blocks of the range as one unmap; the partial blocks at its
 * ends are left alone (discard is advisory).
 */
static int sis_discard_bio(struct sis_target *st, struct bio *bio)
{
	sector_t start = dm_target_offset(st->ti, bio->bi_iter.bi_sector);
	sector_t end = start + bio_sectors(bio);
	u64 first = DIV_ROUND_UP_ULL(start, SIS_SECTORS_PER_BLOCK);
	u64 last = end >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	struct sis_range range;
	int r;

	if (st->f.read_only)
		return -EROFS;
	if (last <= first)
		return 0;
	sis_range_lock(st->pool, &range, first, last - first);
	r = sis_core_unmap(st->pool->core, first, last - first);
	sis_range_unlock(st->pool, &range);
	return r;
}

/*
 * A REQ_PREFLUSH: commit.  A device read-only by the table, by the message
 * or after a clean switch has nothing more to make durable: the core's
 * commit is just a flush of the disk.  Once a metadata error has aborted a
 * transaction, every commit fails (-EIO) until the device is created again:
 * acknowledged writes may have been lost with it, and a flush must never
 * say otherwise (dm-thin's rule).
 */
static int sis_flush(struct sis_target *st)
{
	return sis_commit(st->pool);
}

static void sis_process_bio(struct work_struct *ws)
{
	struct sis_bio *sb = container_of(ws, struct sis_bio, work);
	struct sis_target *st = sb->st;
	struct bio *bio = dm_bio_from_per_bio_data(sb, sizeof(*sb));
	u64 lblock = dm_target_offset(st->ti, bio->bi_iter.bi_sector) >>
		     (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	int r;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		sis_read(st, bio);
		return;
	case REQ_OP_WRITE:
		if (bio->bi_opf & REQ_PREFLUSH) {
			r = sis_flush(st);
			if (r || !bio->bi_iter.bi_size)
				break;
			bio->bi_opf &= ~REQ_PREFLUSH;
		}
		while ((r = sis_write(st, bio)) == -ENOMEM)
			sis_nomem_wait(st->pool);
		break;
	case REQ_OP_DISCARD:
		while ((r = sis_discard_bio(st, bio)) == -ENOMEM)
			sis_nomem_wait(st->pool);
		break;
	default:
		r = -EOPNOTSUPP;
		break;
	}
	sis_bio_end(st, bio, lblock, r);
}

/* ---------------------------------------------------------------- */
/* Pools                                                            */
/* ---------------------------------------------------------------- */

/* pools_lock held */
static struct sis_pool *__pool_find(dev_t dev)
{
	struct sis_pool *pool;

	list_for_each_entry(pool, &sis_pools, list)
		if (pool->dev == dev)
			return pool;
	return NULL;
}

static void pool_free(struct sis_pool *pool)
{
	if (pool->wq)
		destroy_workqueue(pool->wq);
	bioset_exit(&pool->bs);
	bioset_exit(&pool->io_bs);
	mempool_destroy(pool->md_pages);
	kvfree(pool);
}

/* pools_lock held */
static struct sis_pool *__pool_create(struct dm_target *ti, struct dm_dev *dm_dev,
				      const struct sis_features *f)
{
	struct block_device *bdev = dm_dev->bdev;
	struct sis_core_config cfg = { };
	const char *errmsg = NULL;
	struct sis_pool *pool;
	int r;

	pool = kvzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool) {
		ti->error = "Cannot allocate pool";
		return ERR_PTR(-ENOMEM);
	}
	pool->ref = 1;
	INIT_LIST_HEAD(&pool->targets);
	pool->md = dm_table_get_md(ti->table);
	pool->bdev = bdev;
	pool->dev = bdev->bd_dev;
	snprintf(pool->name, sizeof(pool->name), "%u:%u",
		 MAJOR(pool->dev), MINOR(pool->dev));
	atomic_set(&pool->md_inflight, 0);
	init_waitqueue_head(&pool->md_wait);
	spin_lock_init(&pool->md_lock);
	mutex_init(&pool->commit_lock);
	spin_lock_init(&pool->range_lock);
	INIT_LIST_HEAD(&pool->ranges);
	init_waitqueue_head(&pool->range_wait);
	init_waitqueue_head(&pool->space_wait);
	INIT_DELAYED_WORK(&pool->commit_work, sis_commit_worker);
	INIT_WORK(&pool->event_work, sis_event_worker);
	mutex_init(&pool->event_lock);
	pool->f = *f;

	pool->wq = alloc_workqueue("sis-%s", WQ_UNBOUND | WQ_MEM_RECLAIM, 0,
				   pool->name);
	if (!pool->wq) {
		ti->error = "Cannot allocate workqueue";
		r = -ENOMEM;
		goto bad;
	}
	r = bioset_init(&pool->bs, BIO_POOL_SIZE, 0, 0);
	if (!r)
		r = bioset_init(&pool->io_bs, SIS_IO_RESERVE_BIOS, 0,
				BIOSET_NEED_BVECS);
	if (r) {
		ti->error = "Cannot allocate bio set";
		goto bad;
	}
	pool->md_pages = mempool_create_page_pool(SIS_MD_RESERVE_PAGES, 0);
	if (!pool->md_pages) {
		ti->error = "Cannot allocate metadata page reserve";
		r = -ENOMEM;
		goto bad;
	}

	pool->ops.read = sis_md_read;
	pool->ops.write = sis_md_write;
	pool->ops.flush = sis_md_flush;
	pool->ops.discard = sis_md_discard;
	pool->ops.log = sis_md_log;
	pool->ops.ctx = pool;

	cfg.logical_blocks = ti->len >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	cfg.physical_blocks = bdev_nr_sectors(bdev) >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	cfg.flags = SIS_OPEN_FORMAT | (f->read_only ? SIS_OPEN_READ_ONLY : 0);
	generate_random_uuid(cfg.uuid);
	cfg.now = ktime_get_real_seconds();
	cfg.cache_pages = clamp_t(u64, (u64)READ_ONCE(metadata_cache_mb) <<
				  (20 - SIS_BLOCK_SHIFT), 256, U32_MAX);

	/* a stale copy of this device's blocks must not survive a reopen */
	pcache_forget_dev(pool->dev);
	r = sis_core_open(&pool->ops, &cfg, &pool->core, &errmsg);
	if (r) {
		ti->error = errmsg ? (char *)errmsg : "Cannot open sis metadata";
		goto bad;
	}
	sis_core_set_discard_passdown(pool->core, f->discard_passdown);
	pool->commits_base = 0;
	list_add(&pool->list, &sis_pools);
	return pool;

bad:
	pool_free(pool);
	return ERR_PTR(r);
}

/* pools_lock held */
static void __pool_put(struct sis_pool *pool)
{
	if (--pool->ref)
		return;
	list_del(&pool->list);
	cancel_delayed_work_sync(&pool->commit_work);
	flush_workqueue(pool->wq);
	sis_core_close(pool->core);
	pcache_forget_dev(pool->dev);
	pool_free(pool);
}

/* ---------------------------------------------------------------- */
/* Target methods                                                   */
/* ---------------------------------------------------------------- */

static int sis_parse_features(struct dm_arg_set *as, struct sis_features *f,
			      char **error)
{
	static const struct dm_arg _args[] = {
		{0, SIS_FEATURE_ARGS_MAX, "Invalid number of feature arguments"},
	};
	unsigned int argc;
	const char *arg;
	int r;

	f->discard_passdown = true;
	f->zero_detect = true;
	f->error_if_no_space = false;
	f->read_only = false;
	f->commit_interval = SIS_COMMIT_INTERVAL_DEFAULT;
	f->low_water_mark = 0;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(_args, as, &argc, error);
	if (r)
		return -EINVAL;

	while (argc) {
		arg = dm_shift_arg(as);
		argc--;
		if (!strcasecmp(arg, SIS_FEAT_NO_DISCARD_PASSDOWN)) {
			f->discard_passdown = false;
		} else if (!strcasecmp(arg, SIS_FEAT_SKIP_ZERO_DETECTION)) {
			f->zero_detect = false;
		} else if (!strcasecmp(arg, SIS_FEAT_ERROR_IF_NO_SPACE)) {
			f->error_if_no_space = true;
		} else if (!strcasecmp(arg, SIS_FEAT_READ_ONLY)) {
			f->read_only = true;
		} else if (!strcasecmp(arg, SIS_FEAT_COMMIT_INTERVAL)) {
			if (!argc) {
				*error = "commit_interval needs a value in seconds";
				return -EINVAL;
			}
			arg = dm_shift_arg(as);
			argc--;
			if (kstrtouint(arg, 10, &f->commit_interval) ||
			    !f->commit_interval ||
			    f->commit_interval > SIS_COMMIT_INTERVAL_MAX) {
				*error = "Invalid commit_interval (1..3600 seconds)";
				return -EINVAL;
			}
		} else if (!strcasecmp(arg, SIS_FEAT_LOW_WATER_MARK)) {
			if (!argc) {
				*error = "low_water_mark needs a value in blocks";
				return -EINVAL;
			}
			arg = dm_shift_arg(as);
			argc--;
			if (kstrtou64(arg, 10, &f->low_water_mark)) {
				*error = "Invalid low_water_mark (4 KiB blocks)";
				return -EINVAL;
			}
		} else {
			*error = "Unknown feature argument";
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Construct a sis target:
 *   <backing dev> [<#feature args> <feature arg>...]
 */
static int sis_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct sis_core_stats stats;
	struct sis_target *st;
	struct sis_pool *pool;
	unsigned int lbs;
	const char *path;
	int r;

	if (argc < 1) {
		ti->error = "Missing backing device argument";
		return -EINVAL;
	}
	if (!ti->len || ti->len & (SIS_SECTORS_PER_BLOCK - 1)) {
		ti->error = "Length is not a multiple of 4 KiB (8 sectors)";
		return -EINVAL;
	}

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st) {
		ti->error = "Cannot allocate target context";
		return -ENOMEM;
	}
	st->ti = ti;

	path = dm_shift_arg(&as);
	r = sis_parse_features(&as, &st->f, &ti->error);
	if (r)
		goto bad_free;
	if (as.argc) {
		ti->error = "Too many arguments (feature count too small?)";
		r = -EINVAL;
		goto bad_free;
	}

	r = dm_get_device(ti, path, dm_table_get_mode(ti->table), &st->dev);
	if (r) {
		ti->error = "Backing device lookup failed";
		goto bad_free;
	}
	lbs = bdev_logical_block_size(st->dev->bdev);
	if (lbs > SIS_BLOCK_SIZE) {
		ti->error = "Backing device block size larger than 4 KiB";
		r = -EINVAL;
		goto bad_put;
	}
	if (bdev_nr_sectors(st->dev->bdev) < 2 * SIS_SECTORS_PER_BLOCK) {
		ti->error = "Backing device too small";
		r = -ENOSPC;
		goto bad_put;
	}

	mutex_lock(&pools_lock);
	pool = __pool_find(st->dev->bdev->bd_dev);
	if (pool) {
		struct sis_target *other;

		sis_core_get_stats(pool->core, &stats);
		r = 0;
		list_for_each_entry(other, &pool->targets, pool_list)
			if (other->ti->table == ti->table)
				r = -EBUSY;
		if (r) {
			/* Two targets of one table would alias each other. */
			ti->error = "Backing device already used by this table";
		} else if (pool->md != dm_table_get_md(ti->table)) {
			/*
			 * Only a reload of the same device shares the open
			 * metadata; another device would alias its blocks.
			 */
			ti->error = "Backing device already used by another sis device";
			r = -EBUSY;
		} else if (ti->len >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT) < stats.logical_blocks) {
			ti->error = "Cannot shrink the logical size";
			r = -EINVAL;
		} else if (pool->f.read_only && !st->f.read_only) {
			ti->error = "Device is read-only: remove and create it to write";
			r = -EINVAL;
		} else {
			pool->ref++;
		}
	} else {
		pool = __pool_create(ti, st->dev, &st->f);
		r = IS_ERR(pool) ? PTR_ERR(pool) : 0;
	}
	if (!r)
		list_add(&st->pool_list, &pool->targets);
	mutex_unlock(&pools_lock);
	if (r)
		goto bad_put;
	st->pool = pool;

	r = dm_set_target_max_io_len(ti, SIS_MAX_IO_BLOCKS * SIS_SECTORS_PER_BLOCK);
	if (r) {
		ti->error = "Cannot set max_io_len";
		goto bad_pool;
	}
	ti->per_io_data_size = sizeof(struct sis_bio);
	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	ti->num_discard_bios = 1;
	ti->discards_supported = true;
	ti->private = st;
	return 0;

bad_pool:
	mutex_lock(&pools_lock);
	list_del(&st->pool_list);
	__pool_put(pool);
	mutex_unlock(&pools_lock);
bad_put:
	dm_put_device(ti, st->dev);
bad_free:
	kfree(st);
	return r;
}

static void sis_dtr(struct dm_target *ti)
{
	struct sis_target *st = ti->private;

	mutex_lock(&pools_lock);
	list_del(&st->pool_list);
	__pool_put(st->pool);
	mutex_unlock(&pools_lock);
	dm_put_device(ti, st->dev);
	kfree(st);
}

static int sis_map(struct dm_target *ti, struct bio *bio)
{
	struct sis_target *st = ti->private;
	struct sis_bio *sb = dm_per_bio_data(bio, sizeof(*sb));
	int mapio;

	sb->st = st;
	sb->ticket_held = false;
	if (bio_op(bio) == REQ_OP_READ && sis_read_fast(st, bio, sb, &mapio))
		return mapio;
	INIT_WORK(&sb->work, sis_process_bio);
	queue_work(st->pool->wq, &sb->work);
	return DM_MAPIO_SUBMITTED;
}

/*
 * Every bio of the target ends here (remapped or completed by us): a read
 * gives back its ticket, which kept the blocks it read from reuse.  Takes
 * no lock and never sleeps (may run in hard-IRQ context).
 */
static int sis_end_io(struct dm_target *ti, struct bio *bio,
		      blk_status_t *error)
{
	struct sis_target *st = ti->private;
	struct sis_bio *sb = dm_per_bio_data(bio, sizeof(*sb));

	if (sb->ticket_held) {
		sb->ticket_held = false;
		sis_core_read_end(st->pool->core, sb->ticket);
	}
	return DM_ENDIO_DONE;
}

/*
 * A noflush suspend (to grow the backing device of a full device, say)
 * must not wait for writes that wait for space: they are requeued.
 */
static void sis_presuspend(struct dm_target *ti)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;

	if (dm_noflush_suspending(ti)) {
		WRITE_ONCE(pool->requeue, true);
		wake_up_all(&pool->space_wait);
	}
}

static void sis_presuspend_undo(struct dm_target *ti)
{
	struct sis_target *st = ti->private;

	WRITE_ONCE(st->pool->requeue, false);
}

static void sis_postsuspend(struct dm_target *ti)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;
	int r;

	/* dm has cleared the noflush flag by now: always end requeueing */
	WRITE_ONCE(pool->requeue, false);

	sis_event_target(pool, ti, false);
	if (pool->timer_on) {
		cancel_delayed_work_sync(&pool->commit_work);
		pool->timer_on = false;
	}
	if (!st->f.read_only) {
		r = sis_commit(pool);
		if (r && r != -EROFS)
			DMERR("%s: commit on suspend failed: %d", pool->name, r);
	}
}

static int sis_preresume(struct dm_target *ti)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;
	struct sis_core_stats stats;
	u64 lb = ti->len >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	u64 pb = bdev_nr_sectors(pool->bdev) >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	int r;

	if (st->f.read_only && !pool->f.read_only)
		sis_core_set_read_only(pool->core);
	pool->f = st->f;
	sis_core_set_discard_passdown(pool->core, st->f.discard_passdown);
	if (st->f.read_only)
		return 0;

	sis_core_get_stats(pool->core, &stats);
	if (lb <= stats.logical_blocks && pb <= stats.physical_blocks)
		return 0;
	r = sis_core_resize(pool->core, lb > stats.logical_blocks ? lb : 0,
			    pb > stats.physical_blocks ? pb : 0);
	if (r) {
		DMERR("%s: resize to %llu logical / %llu physical blocks failed: %d",
		      pool->name, lb, pb, r);
		return r;
	}
	r = sis_commit(pool);
	if (!r)
		DMINFO("%s: resized to %llu logical / %llu physical blocks",
		       pool->name, max(lb, stats.logical_blocks),
		       max(pb, stats.physical_blocks));
	return r;
}

static void sis_resume(struct dm_target *ti)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;

	if (!pool->timer_on && !st->f.read_only) {
		pool->timer_on = true;
		queue_delayed_work(pool->wq, &pool->commit_work,
				   st->f.commit_interval * HZ);
	}
	sis_event_target(pool, ti, true);
}

static const char *sis_mode_string(struct sis_pool *pool,
				   const struct sis_core_stats *stats)
{
	switch (stats->mode) {
	case SIS_MODE_FAIL:
		return SIS_STATUS_MODE_FAIL;
	case SIS_MODE_READ_ONLY:
		return SIS_STATUS_MODE_READ_ONLY;
	default:
		return READ_ONCE(pool->out_of_space) ?
			SIS_STATUS_MODE_OUT_OF_SPACE : SIS_STATUS_MODE_WRITE;
	}
}

static unsigned int sis_feature_count(const struct sis_features *f)
{
	return !f->discard_passdown + !f->zero_detect + f->error_if_no_space +
		f->read_only +
		(f->commit_interval != SIS_COMMIT_INTERVAL_DEFAULT ? 2 : 0) +
		(f->low_water_mark ? 2 : 0);
}

static void sis_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;
	const struct sis_features *f = &st->f;
	struct sis_core_stats stats;
	unsigned int sz = 0;
	u64 ratio, used;
	u32 frac;

	switch (type) {
	case STATUSTYPE_INFO:
		sis_core_get_stats(pool->core, &stats);
		used = stats.physical_blocks - stats.nr_free;
		ratio = stats.nr_data ?
			div64_u64(stats.nr_mapped * 1000, stats.nr_data) : 1000;
		ratio = div_u64_rem(ratio, 1000, &frac);
		DMEMIT("%s %llu %llu/%llu %llu %llu %llu.%03u ",
		       sis_mode_string(pool, &stats), stats.nr_mapped,
		       used, stats.physical_blocks,
		       (u64)atomic64_read(&pool->stat_written),
		       (u64)atomic64_read(&pool->stat_new_data),
		       ratio, frac);
		DMEMIT("%llu %llu %llu %lu %llu %s %llu %llu %llu %llu",
		       (u64)atomic64_read(&pool->stat_zero),
		       (u64)atomic64_read(&pool->stat_hits),
		       (u64)atomic64_read(&pool->stat_misses),
		       pcache_nr_blocks(),
		       stats.commits - READ_ONCE(pool->commits_base),
		       stats.needs_check ? SIS_STATUS_STR_NEEDS_CHECK :
					   SIS_STATUS_STR_CLEAN,
		       stats.nr_data,
		       (u64)atomic64_read(&pool->stat_dedup),
		       (u64)atomic64_read(&pool->stat_fast_reads),
		       stats.index_ram_bytes);
		break;

	case STATUSTYPE_TABLE:
		DMEMIT("%s", st->dev->name);
		if (!sis_feature_count(f))
			break;
		DMEMIT(" %u", sis_feature_count(f));
		if (!f->discard_passdown)
			DMEMIT(" " SIS_FEAT_NO_DISCARD_PASSDOWN);
		if (!f->zero_detect)
			DMEMIT(" " SIS_FEAT_SKIP_ZERO_DETECTION);
		if (f->error_if_no_space)
			DMEMIT(" " SIS_FEAT_ERROR_IF_NO_SPACE);
		if (f->read_only)
			DMEMIT(" " SIS_FEAT_READ_ONLY);
		if (f->commit_interval != SIS_COMMIT_INTERVAL_DEFAULT)
			DMEMIT(" " SIS_FEAT_COMMIT_INTERVAL " %u", f->commit_interval);
		if (f->low_water_mark)
			DMEMIT(" " SIS_FEAT_LOW_WATER_MARK " %llu", f->low_water_mark);
		break;

	case STATUSTYPE_IMA:
		*result = '\0';
		break;
	}
}

static int sis_message(struct dm_target *ti, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;
	struct sis_core_stats stats;
	int r;

	if (argc != 1) {
		DMWARN("%s: message takes one word: %s, %s, %s or %s", pool->name,
		       SIS_MSG_RESET_STATS, SIS_MSG_DROP_CACHE, SIS_MSG_COMMIT,
		       SIS_MSG_READ_ONLY);
		return -EINVAL;
	}

	if (!strcasecmp(argv[0], SIS_MSG_RESET_STATS)) {
		sis_core_get_stats(pool->core, &stats);
		WRITE_ONCE(pool->commits_base, stats.commits);
		atomic64_set(&pool->stat_written, 0);
		atomic64_set(&pool->stat_new_data, 0);
		atomic64_set(&pool->stat_zero, 0);
		atomic64_set(&pool->stat_hits, 0);
		atomic64_set(&pool->stat_misses, 0);
		atomic64_set(&pool->stat_dedup, 0);
		atomic64_set(&pool->stat_fast_reads, 0);
		return 0;
	}
	if (!strcasecmp(argv[0], SIS_MSG_DROP_CACHE)) {
		pcache_drop(0);
		sis_core_drop_cache(pool->core);
		return 0;
	}
	if (!strcasecmp(argv[0], SIS_MSG_COMMIT)) {
		r = sis_commit(pool);
		if (r)
			DMERR("%s: commit failed: %d", pool->name, r);
		return r;
	}
	if (!strcasecmp(argv[0], SIS_MSG_READ_ONLY)) {
		sis_core_set_read_only(pool->core);
		DMINFO("%s: switched to read-only mode on request", pool->name);
		sis_raise_event(pool);
		return 0;
	}

	DMWARN("%s: unknown message '%s'", pool->name, argv[0]);
	return -EINVAL;
}

static int sis_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct sis_target *st = ti->private;
	sector_t len = bdev_nr_sectors(st->dev->bdev) &
		       ~(sector_t)(SIS_SECTORS_PER_BLOCK - 1);

	return fn(ti, st->dev, 0, len, data);
}

static void sis_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	limits->physical_block_size = max_t(unsigned int,
					    limits->physical_block_size,
					    SIS_BLOCK_SIZE);
	limits->io_min = max_t(unsigned int, limits->io_min, SIS_BLOCK_SIZE);
	limits->io_opt = SIS_BLOCK_SIZE;
	limits->discard_granularity = SIS_BLOCK_SIZE;
	limits->max_hw_discard_sectors = SIS_MAX_DISCARD_SECTORS;
	/* 6.1 stacks this one; 6.9+ recomputes it from the hw limit */
	limits->max_discard_sectors = SIS_MAX_DISCARD_SECTORS;
}

static struct target_type sis_target = {
	.name = SIS_TARGET_NAME,
	.version = {1, 0, 0},
	.module = THIS_MODULE,
	.ctr = sis_ctr,
	.dtr = sis_dtr,
	.map = sis_map,
	.end_io = sis_end_io,
	.presuspend = sis_presuspend,
	.presuspend_undo = sis_presuspend_undo,
	.postsuspend = sis_postsuspend,
	.preresume = sis_preresume,
	.resume = sis_resume,
	.status = sis_status,
	.message = sis_message,
	.iterate_devices = sis_iterate_devices,
	.io_hints = sis_io_hints,
};

static int __init dm_sis_init(void)
{
	int r;

	sis_wbatch_pool = mempool_create_kmalloc_pool(SIS_WBATCH_POOL_MIN,
						      sizeof(struct sis_wbatch));
	if (!sis_wbatch_pool)
		return -ENOMEM;
	r = pcache_init();
	if (r)
		goto bad_pool;
	r = dm_register_target(&sis_target);
	if (r) {
		DMERR("register failed %d", r);
		goto bad_cache;
	}
	return 0;

bad_cache:
	pcache_exit();
bad_pool:
	mempool_destroy(sis_wbatch_pool);
	return r;
}

static void __exit dm_sis_exit(void)
{
	dm_unregister_target(&sis_target);
	pcache_exit();
	mempool_destroy(sis_wbatch_pool);
}

module_init(dm_sis_init);
module_exit(dm_sis_exit);

MODULE_DESCRIPTION(DM_NAME " target deduplicating 4 KiB blocks inline (sis)");
MODULE_AUTHOR("dm-sis developers");
MODULE_LICENSE("GPL");
