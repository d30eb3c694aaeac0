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
 * SIS_MAX_IO_BLOCKS blocks).  map() never sleeps: it queues the bio as its
 * own work item on the pool's unbound workqueue, so many bios are processed
 * at once by as many kworkers; the core's mutex serialises only the short
 * metadata operations between them.  A read looks its blocks up at once,
 * pinned, and is cut into runs (sis_read()): unmapped runs are zeros,
 * unique blocks contiguous on disk are remapped to the disk as one bio,
 * shared blocks are served from pcache.  A write is cut into one piece per
 * block, each hashed, deduped or stored by its own worker (sis_write()).
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
 *    state, the comparing writer waits for it, and a failed write counts as
 *    a mismatch.  To make sure such an entry exists before anyone can find
 *    the block, the allocating writer holds alloc_sem for read across
 *    sis_core_alloc() + pcache_install(); a writer whose candidate is not in
 *    pcache takes alloc_sem for write once (a barrier) before reading the
 *    disk, so it waits for any install still to come.
 *  - Writers of the same new data at once would each miss in the index and
 *    store a copy.  A hashed per-fingerprint lock, held from find_dup to
 *    the pcache install of a new block (not across the data write), makes
 *    the second writer find the first one's block and wait for its write.
 *  - Read-modify-write and every write of one logical block hold that
 *    block's lock (a hashed array of mutexes, one held at a time per worker,
 *    so no lock order), which orders concurrent writes to the same block.
 *    Readers take no block lock: the pins of sis_core_lookup_range() keep
 *    every block they read from being reallocated (or discarded) until the
 *    read is done, so a read racing a write returns the old or the new data,
 *    never a third block's.
 *
 * Durability.  A data write completes before the mapping naming it is made;
 * the core's commit flushes the disk first, then writes its journal.  A
 * REQ_PREFLUSH completes after a commit that started after it arrived;
 * concurrent flushes share one commit (commit_started/commit_done).  A FUA
 * write commits after its mapping.  A timer commits every commit_interval
 * seconds; postsuspend commits.
 *
 * Locking order: block lock -> fp lock -> alloc_sem -> (core mutex, pcache shard locks:
 * leaf locks inside their modules).  commit_lock -> core mutex.  pools_lock
 * is taken only in ctr/dtr.
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
#include <linux/workqueue.h>

#include "core/sis-core.h"
#include "../include/sis-format.h"
#include "../include/sis-target.h"
#include "pcache.h"

#define DM_MSG_PREFIX "sis"

#define SIS_MAX_IO_BLOCKS	32	/* dm splits bios at 128 KiB boundaries */
#define SIS_IO_POOL_MIN		64
#define SIS_LOCK_BITS		10
#define SIS_NR_LOCKS		BIT(SIS_LOCK_BITS)
#define SIS_MAX_DISCARD_SECTORS	BIT(22)	/* 2 GiB per discard bio */
#define SIS_NO_SPACE_RETRY_MS	250

/**
 * struct sis_features - one table's feature arguments
 * @discard_passdown: discard freed blocks on the backing device
 * @zero_detect:      all-zero blocks are unmapped instead of stored
 * @error_if_no_space: fail a write needing a block at once when full
 * @read_only:        refuse writes; the core is opened read-only
 * @commit_interval:  seconds between periodic commits
 */
struct sis_features {
	bool discard_passdown;
	bool zero_detect;
	bool error_if_no_space;
	bool read_only;
	unsigned int commit_interval;
};

/**
 * struct sis_pool - one open backing device, shared by its tables
 * @list:        on sis_pools (pools_lock)
 * @ref:         tables naming this pool (pools_lock)
 * @targets:     the sis_targets holding @ref (pools_lock)
 * @bdev:        the backing device; kept open by each table's dm_dev
 * @dev:         its dev_t, the pool's and pcache's key
 * @name:        "major:minor" for messages
 * @core:        the open core (immutable after ctr)
 * @ops:         metadata I/O for the core (immutable, must outlive @core)
 * @md_inflight: metadata writes submitted and not completed
 * @md_wait:     woken when @md_inflight reaches zero
 * @md_error:    first metadata write error since the last flush (md_lock)
 * @md_lock:     protects @md_error
 * @wq:          the unbound workqueue processing bios and the commit timer
 * @bs:          splits of multi-block bios into pieces
 * @commit_work: periodic commit
 * @commit_lock: serialises commits; protects @commit_done, @commit_err and
 *               writes of @commit_started
 * @commit_started: commits begun (read locklessly by flush requests)
 * @commit_done: the sequence number of the last finished commit
 * @commit_err:  its result
 * @f:           features of the active table (set at resume)
 * @timer_on:    commit timer armed (pools_lock is not needed: set in
 *               resume, cleared in postsuspend, both serialised by dm)
 * @alloc_sem:   read: alloc + pcache install; write: a barrier (see top)
 * @block_locks: per-logical-block locks, hashed
 * @fp_locks:    per-fingerprint locks, hashed: writers of the same new data
 *               take turns from find_dup to the install of a new block, so
 *               the second finds the first one's block instead of racing it
 *               to a second copy
 * @out_of_space: the last allocation found no space
 * @mode_reported: a read-only or fail mode was logged
 * @stat_*:      counters for status, reset by the reset_stats message
 * @commits_base: core commit count at the last reset_stats
 */
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
	struct delayed_work commit_work;
	struct mutex commit_lock;	/* serialises commits */
	u64 commit_started;
	u64 commit_done;
	int commit_err;

	struct sis_features f;
	bool timer_on;

	struct rw_semaphore alloc_sem;
	struct mutex block_locks[SIS_NR_LOCKS];	/* per logical block, hashed */
	struct mutex fp_locks[SIS_NR_LOCKS];	/* per fingerprint, hashed */

	bool out_of_space;
	atomic_t mode_reported;

	atomic64_t stat_written;
	atomic64_t stat_new_data;
	atomic64_t stat_zero;
	atomic64_t stat_hits;
	atomic64_t stat_misses;
	atomic64_t stat_dedup;
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

/* Per-bio data: each bio is its own work item. */
struct sis_bio {
	struct work_struct work;
	struct sis_target *st;
};

/**
 * struct sis_io - a piece of a bio handled on its own (from sis_io_pool)
 * @work:     processes a write piece, or finishes a remapped read
 * @st:       the target
 * @bio:      the piece: a split of the dm bio (chained to it) or the dm bio
 * @end_io:   the piece's own completion while a remapped read hooks it
 * @private:  and its bi_private
 * @nr:       blocks in @pblocks
 * @pblocks:  the blocks a remapped read pinned (sis_core_lookup_range())
 */
struct sis_io {
	struct work_struct work;
	struct sis_target *st;
	struct bio *bio;
	bio_end_io_t *end_io;
	void *private;
	unsigned int nr;
	u64 pblocks[SIS_MAX_IO_BLOCKS];
};

static mempool_t *sis_io_pool;

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

	page = alloc_page(GFP_NOIO);
	if (!page)
		return -ENOMEM;
	bio = bio_alloc(pool->bdev, 1, REQ_OP_READ | REQ_META | REQ_SYNC, GFP_NOIO);
	bio->bi_iter.bi_sector = block_to_sector(blocknr);
	__bio_add_page(bio, page, SIS_BLOCK_SIZE, 0);
	r = submit_bio_wait(bio);
	bio_put(bio);
	if (!r)
		memcpy(buf, page_address(page), SIS_BLOCK_SIZE);
	__free_page(page);
	return r;
}

static void sis_md_write_endio(struct bio *bio)
{
	struct sis_pool *pool = bio->bi_private;

	if (bio->bi_status) {
		spin_lock(&pool->md_lock);
		if (!pool->md_error)
			pool->md_error = blk_status_to_errno(bio->bi_status);
		spin_unlock(&pool->md_lock);
	}
	__free_page(bio_first_page_all(bio));
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

	page = alloc_page(GFP_NOIO);
	if (!page)
		return -ENOMEM;
	memcpy(page_address(page), buf, SIS_BLOCK_SIZE);
	bio = bio_alloc(pool->bdev, 1, REQ_OP_WRITE | REQ_META, GFP_NOIO);
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

	spin_lock(&pool->md_lock);
	err = pool->md_error;
	pool->md_error = 0;
	spin_unlock(&pool->md_lock);
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

static void sis_note_mode(struct sis_pool *pool, int r);

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
	DMERR("%s: metadata error (%d): switched to %s mode%s; run 'sis check'",
	      pool->name, r, st.mode == SIS_MODE_FAIL ? "fail" : "read-only",
	      st.needs_check ? ", needs_check set" : "");
}

/* ---------------------------------------------------------------- */
/* Data path helpers                                                */
/* ---------------------------------------------------------------- */

static struct mutex *sis_block_lock(struct sis_pool *pool, u64 lblock)
{
	return &pool->block_locks[hash_64(lblock, SIS_LOCK_BITS)];
}

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

/* Copy the whole of @bio to @dst. */
static void copy_from_bio(u8 *dst, struct bio *bio)
{
	struct bvec_iter iter;
	struct bio_vec bv;

	bio_for_each_segment(bv, bio, iter) {
		memcpy_from_bvec(dst, &bv);
		dst += bv.bv_len;
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
	struct pcache_entry *e;
	unsigned int nr;
	u64 p;

	e = pcache_lookup(pool->dev, pblock);
	if (e) {
		atomic64_inc(&pool->stat_hits);
		if (pcache_wait(e)) {
			pcache_put(e);
			return ERR_PTR(-EIO);
		}
		return e;
	}
	for (nr = 1; nr < PCACHE_MAX_RUN && lblock + nr < end; nr++)
		if (sis_core_lookup(pool->core, lblock + nr, &p) || p != pblock + nr)
			break;
	return sis_cache_get_nr(pool, pblock, nr);
}

static int sis_write_data(struct sis_pool *pool, u64 pblock, struct page *page)
{
	struct bio *bio;
	int r;

	bio = bio_alloc(pool->bdev, 1, REQ_OP_WRITE, GFP_NOIO);
	bio->bi_iter.bi_sector = block_to_sector(pblock);
	__bio_add_page(bio, page, SIS_BLOCK_SIZE, 0);
	r = submit_bio_wait(bio);
	bio_put(bio);
	return r;
}

/*
 * Is the data of candidate @pblock equal to @data?  Reads the candidate
 * through pcache; an entry still being written is waited for, and a failed
 * write or read is a mismatch.
 */
static bool sis_candidate_matches(struct sis_pool *pool, u64 pblock,
				  const void *data)
{
	struct pcache_entry *e;
	bool same;

	e = pcache_lookup(pool->dev, pblock);
	if (e) {
		atomic64_inc(&pool->stat_hits);
		if (pcache_wait(e)) {
			pcache_put(e);
			return false;
		}
	} else {
		/* wait for an allocator that may not have installed yet */
		down_write(&pool->alloc_sem);
		up_write(&pool->alloc_sem);
		e = sis_cache_get(pool, pblock);
		if (IS_ERR(e))
			return false;
	}
	same = !memcmp(pcache_data(e), data, SIS_BLOCK_SIZE);
	pcache_put(e);
	return same;
}

/*
 * Allocate a block for new data and install the data in pcache under it.
 * Without error_if_no_space a full device is retried for up to
 * SIS_NO_SPACE_TIMEOUT seconds (commits may free blocks, discards too).
 */
static int sis_alloc_install(struct sis_target *st, u64 fp, struct page *page,
			     u64 *pblock, struct pcache_entry **entry)
{
	struct sis_pool *pool = st->pool;
	unsigned long deadline = jiffies + SIS_NO_SPACE_TIMEOUT * HZ;
	struct sis_core_stats stats;
	int r;

	for (;;) {
		down_read(&pool->alloc_sem);
		r = sis_core_alloc(pool->core, fp, pblock);
		if (!r)
			*entry = pcache_install(pool->dev, *pblock, page);
		up_read(&pool->alloc_sem);
		if (r != -ENOSPC) {
			if (!r)
				WRITE_ONCE(pool->out_of_space, false);
			return r;
		}

		sis_core_get_stats(pool->core, &stats);
		if (stats.nr_pending_free) {
			r = sis_commit(pool);
			if (r)
				return r;
			continue;
		}
		if (!READ_ONCE(pool->out_of_space)) {
			WRITE_ONCE(pool->out_of_space, true);
			DMWARN_LIMIT("%s: out of data space", pool->name);
		}
		if (st->f.error_if_no_space || time_after(jiffies, deadline))
			return -ENOSPC;
		msleep(SIS_NO_SPACE_RETRY_MS);
	}
}

/*
 * Store one whole block of data at @lblock: zero detection, dedup against
 * an identical block, or a new block.  Takes over @page.  Block lock held.
 */
static int sis_store_block(struct sis_target *st, u64 lblock, struct page *page)
{
	struct sis_pool *pool = st->pool;
	void *data = page_address(page);
	struct mutex *fp_lock;		/* writers of this fingerprint */
	struct pcache_entry *e;
	u64 fp, pblock;
	int r;

	if (st->f.zero_detect && sis_block_is_zero(data)) {
		__free_page(page);
		r = sis_core_unmap(pool->core, lblock, 1);
		if (!r)
			atomic64_inc(&pool->stat_zero);
		return r;
	}

	fp = sis_fingerprint(data);
	fp_lock = &pool->fp_locks[hash_64(fp, SIS_LOCK_BITS)];
again:
	data = page_address(page);
	mutex_lock(fp_lock);
	r = sis_core_find_dup(pool->core, fp, &pblock);
	if (!r) {
		if (sis_candidate_matches(pool, pblock, data))
			r = sis_core_map(pool->core, lblock, pblock);
		else
			r = -ENOENT;
		sis_core_unpin(pool->core, pblock);
		if (!r) {
			mutex_unlock(fp_lock);
			atomic64_inc(&pool->stat_dedup);
			__free_page(page);
			return 0;
		}
		/* no longer a candidate: saturated, or freed since find_dup */
		if (r != -ENOENT && r != -EOVERFLOW && r != -ESTALE)
			goto out_unlock;
	} else if (r != -ENOENT) {
		goto out_unlock;
	}

	r = sis_alloc_install(st, fp, page, &pblock, &e);
	mutex_unlock(fp_lock);
	if (r)
		goto out_free;
	/* pcache owns the page now */
	r = sis_write_data(pool, pblock, e->page);
	pcache_write_done(e, r);
	if (!r)
		r = sis_core_map(pool->core, lblock, pblock);
	if (!r)
		atomic64_add(SIS_BLOCK_SIZE, &pool->stat_new_data);
	if (r == -ESTALE) {
		/*
		 * A concurrent writer of the same data shared the new block
		 * and its last mapping went away before ours was made: the
		 * block is freed, so store the data again.
		 */
		page = alloc_page(GFP_NOIO);
		if (page)
			copy_page(page_address(page), pcache_data(e));
		else
			r = -ENOMEM;
	}
	pcache_put(e);
	sis_core_unpin(pool->core, pblock);
	if (r == -ESTALE)
		goto again;
	return r;

out_unlock:
	mutex_unlock(fp_lock);
out_free:
	__free_page(page);
	return r;
}

/* Complete @bio (a dm bio or a piece of one) with @r, logging errors. */
static void sis_bio_end(struct sis_target *st, struct bio *bio, u64 lblock,
			int r)
{
	if (r) {
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

static void sis_remap_done(struct work_struct *ws)
{
	struct sis_io *io = container_of(ws, struct sis_io, work);
	struct bio *bio = io->bio;

	sis_core_unpin_range(io->st->pool->core, io->pblocks, io->nr);
	if (bio->bi_status)
		DMERR_LIMIT("%s: read of block %llu failed: %d",
			    io->st->pool->name, io->pblocks[0],
			    blk_status_to_errno(bio->bi_status));
	mempool_free(io, sis_io_pool);
	bio_endio(bio);
}

/* The disk finished a remapped read: unpin (which may sleep) in a worker. */
static void sis_remap_endio(struct bio *bio)
{
	struct sis_io *io = bio->bi_private;

	bio->bi_end_io = io->end_io;
	bio->bi_private = io->private;
	INIT_WORK(&io->work, sis_remap_done);
	queue_work(io->st->pool->wq, &io->work);
}

/*
 * Send @piece, which reads the physically contiguous pinned blocks
 * @pblocks[0..nr) from byte @skip of the first, to the disk; the pins go
 * when it completes.
 */
static void sis_read_direct(struct sis_target *st, struct bio *piece,
			    const u64 *pblocks, unsigned int nr,
			    unsigned int skip)
{
	struct sis_io *io = mempool_alloc(sis_io_pool, GFP_NOIO);

	io->st = st;
	io->bio = piece;
	io->end_io = piece->bi_end_io;
	io->private = piece->bi_private;
	io->nr = nr;
	memcpy(io->pblocks, pblocks, nr * sizeof(*pblocks));
	piece->bi_end_io = sis_remap_endio;
	piece->bi_private = io;
	bio_set_dev(piece, st->pool->bdev);
	piece->bi_iter.bi_sector = block_to_sector(pblocks[0]) +
				   (skip >> SECTOR_SHIFT);
	submit_bio_noacct(piece);
}

/* Serve @piece from pcache: pinned shared blocks @pblocks[0..nr). */
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
	sis_core_unpin_range(st->pool->core, pblocks, nr);
	sis_bio_end(st, piece, lblock + i, r);
}

/*
 * A read of up to SIS_MAX_IO_BLOCKS blocks.  One look-up pins every mapped
 * block (so none is reallocated under the read, whatever writes do
 * meanwhile); then the bio is cut into runs of one kind, each a piece
 * chained to it: unmapped runs complete with zeros and no I/O; runs of
 * unique blocks that are contiguous on disk are remapped as one bio (no copy
 * and no cache space for data only one logical block reads); shared blocks
 * are read through pcache, where one copy serves every sharer on every
 * device.
 */
static void sis_read(struct sis_target *st, struct bio *bio)
{
	sector_t off = dm_target_offset(st->ti, bio->bi_iter.bi_sector);
	unsigned int skip = (off & (SIS_SECTORS_PER_BLOCK - 1)) << SECTOR_SHIFT;
	unsigned int nr = DIV_ROUND_UP(skip + bio->bi_iter.bi_size, SIS_BLOCK_SIZE);
	u64 lblock = off >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	u64 pblocks[SIS_MAX_IO_BLOCKS];
	u32 refs[SIS_MAX_IO_BLOCKS];
	enum sis_read_kind kind;
	unsigned int i, j;
	struct bio *piece;
	int r;

	if (WARN_ON_ONCE(nr > SIS_MAX_IO_BLOCKS)) {
		sis_bio_end(st, bio, lblock, -EIO);
		return;
	}
	r = sis_core_lookup_range(st->pool->core, lblock, nr, pblocks, refs);
	if (r) {
		sis_bio_end(st, bio, lblock, r);
		return;
	}
	for (i = 0; i < nr; i = j, skip = 0) {
		kind = sis_read_kind(pblocks, refs, i);
		for (j = i + 1; j < nr && sis_read_kind(pblocks, refs, j) == kind &&
		     (kind != SIS_READ_DIRECT || pblocks[j] == pblocks[j - 1] + 1);
		     j++)
			;
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
			sis_read_direct(st, piece, pblocks + i, j - i, skip);
			break;
		case SIS_READ_CACHED:
			sis_read_cached(st, piece, lblock + i, pblocks + i,
					j - i, skip);
			break;
		}
	}
}

static int sis_write_bio(struct sis_target *st, struct bio *bio, u64 lblock,
			 unsigned int offset)
{
	struct sis_pool *pool = st->pool;
	unsigned int len = bio->bi_iter.bi_size;
	struct mutex *lock = sis_block_lock(pool, lblock);
	struct pcache_entry *e;
	struct page *page;
	u64 pblock;
	int r;

	if (st->f.read_only)
		return -EROFS;
	page = alloc_page(GFP_NOIO);
	if (!page)
		return -ENOMEM;

	mutex_lock(lock);
	if (len != SIS_BLOCK_SIZE) {
		/* read-modify-write of a partial block */
		r = sis_core_lookup(pool->core, lblock, &pblock);
		if (r == -ENODATA) {
			clear_page(page_address(page));
		} else if (r) {
			goto out_unlock;
		} else {
			e = sis_cache_get(pool, pblock);
			if (IS_ERR(e)) {
				r = PTR_ERR(e);
				goto out_unlock;
			}
			copy_page(page_address(page), pcache_data(e));
			pcache_put(e);
		}
	}
	copy_from_bio((u8 *)page_address(page) + offset, bio);
	r = sis_store_block(st, lblock, page);
	mutex_unlock(lock);
	if (!r)
		atomic64_add(len, &pool->stat_written);
	return r;

out_unlock:
	mutex_unlock(lock);
	__free_page(page);
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

	if (st->f.read_only)
		return -EROFS;
	if (last <= first)
		return 0;
	return sis_core_unmap(st->pool->core, first, last - first);
}

/*
 * A REQ_PREFLUSH: commit.  A device read-only by the table, by the message,
 * or after a clean switch has nothing to make durable, so the flush succeeds;
 * after a metadata error (needs_check) it fails: acknowledged writes may have
 * been lost with the aborted transaction.
 */
static int sis_flush(struct sis_target *st)
{
	struct sis_core_stats stats;
	int r;

	if (st->f.read_only)
		return 0;
	r = sis_commit(st->pool);
	if (r == -EROFS) {
		sis_core_get_stats(st->pool->core, &stats);
		if (!stats.needs_check && stats.mode == SIS_MODE_READ_ONLY)
			r = 0;
	}
	return r;
}

/* Write one block's piece @bio, then commit if it is FUA, and complete it. */
static void sis_write_piece(struct sis_target *st, struct bio *bio)
{
	sector_t off = dm_target_offset(st->ti, bio->bi_iter.bi_sector);
	u64 lblock = off >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	unsigned int offset = (off & (SIS_SECTORS_PER_BLOCK - 1)) << SECTOR_SHIFT;
	int r;

	r = sis_write_bio(st, bio, lblock, offset);
	if (!r && (bio->bi_opf & REQ_FUA))
		r = sis_commit(st->pool);
	sis_bio_end(st, bio, lblock, r);
}

static void sis_write_piece_work(struct work_struct *ws)
{
	struct sis_io *io = container_of(ws, struct sis_io, work);
	struct sis_target *st = io->st;
	struct bio *bio = io->bio;

	mempool_free(io, sis_io_pool);
	sis_write_piece(st, bio);
}

/*
 * A write of up to SIS_MAX_IO_BLOCKS blocks: each block is hashed, deduped
 * or stored on its own, so the blocks but the last become pieces chained to
 * the bio and processed by other workers in parallel.
 */
static void sis_write(struct sis_target *st, struct bio *bio)
{
	sector_t off = dm_target_offset(st->ti, bio->bi_iter.bi_sector);
	unsigned int skip = (off & (SIS_SECTORS_PER_BLOCK - 1)) << SECTOR_SHIFT;
	struct sis_io *io;
	struct bio *piece;

	while (skip + bio->bi_iter.bi_size > SIS_BLOCK_SIZE) {
		piece = bio_split(bio, (SIS_BLOCK_SIZE - skip) >> SECTOR_SHIFT,
				  GFP_NOIO, &st->pool->bs);
		bio_chain(piece, bio);
		io = mempool_alloc(sis_io_pool, GFP_NOIO);
		io->st = st;
		io->bio = piece;
		INIT_WORK(&io->work, sis_write_piece_work);
		queue_work(st->pool->wq, &io->work);
		skip = 0;
	}
	sis_write_piece(st, bio);
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
		sis_write(st, bio);
		return;
	case REQ_OP_DISCARD:
		r = sis_discard_bio(st, bio);
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
	unsigned int i;
	int r;

	pool = kvzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool) {
		ti->error = "Cannot allocate pool";
		return ERR_PTR(-ENOMEM);
	}
	pool->ref = 1;
	INIT_LIST_HEAD(&pool->targets);
	pool->bdev = bdev;
	pool->dev = bdev->bd_dev;
	snprintf(pool->name, sizeof(pool->name), "%u:%u",
		 MAJOR(pool->dev), MINOR(pool->dev));
	atomic_set(&pool->md_inflight, 0);
	init_waitqueue_head(&pool->md_wait);
	spin_lock_init(&pool->md_lock);
	mutex_init(&pool->commit_lock);
	init_rwsem(&pool->alloc_sem);
	for (i = 0; i < SIS_NR_LOCKS; i++) {
		mutex_init(&pool->block_locks[i]);
		mutex_init(&pool->fp_locks[i]);
	}
	INIT_DELAYED_WORK(&pool->commit_work, sis_commit_worker);
	pool->f = *f;

	pool->wq = alloc_workqueue("sis-%s", WQ_UNBOUND | WQ_MEM_RECLAIM, 0,
				   pool->name);
	if (!pool->wq) {
		ti->error = "Cannot allocate workqueue";
		r = -ENOMEM;
		goto bad;
	}
	r = bioset_init(&pool->bs, BIO_POOL_SIZE, 0, 0);
	if (r) {
		ti->error = "Cannot allocate bio set";
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

	/* a stale copy of this device's blocks must not survive a reopen */
	pcache_drop(pool->dev);
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
	pcache_drop(pool->dev);
	pool_free(pool);
}

/* ---------------------------------------------------------------- */
/* Target methods                                                   */
/* ---------------------------------------------------------------- */

static int sis_parse_features(struct dm_arg_set *as, struct sis_features *f,
			      char **error)
{
	static const struct dm_arg _args[] = {
		{0, 6, "Invalid number of feature arguments"},
	};
	unsigned int argc;
	const char *arg;
	int r;

	f->discard_passdown = true;
	f->zero_detect = true;
	f->error_if_no_space = false;
	f->read_only = false;
	f->commit_interval = SIS_COMMIT_INTERVAL_DEFAULT;

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

	sb->st = st;
	INIT_WORK(&sb->work, sis_process_bio);
	queue_work(st->pool->wq, &sb->work);
	return DM_MAPIO_SUBMITTED;
}

static void sis_postsuspend(struct dm_target *ti)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;
	int r;

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
		(f->commit_interval != SIS_COMMIT_INTERVAL_DEFAULT ? 2 : 0);
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
		DMEMIT("%llu %llu %llu %lu %llu %s %llu %llu",
		       (u64)atomic64_read(&pool->stat_zero),
		       (u64)atomic64_read(&pool->stat_hits),
		       (u64)atomic64_read(&pool->stat_misses),
		       pcache_nr_blocks(),
		       stats.commits - READ_ONCE(pool->commits_base),
		       stats.needs_check ? SIS_STATUS_STR_NEEDS_CHECK :
					   SIS_STATUS_STR_CLEAN,
		       stats.nr_data,
		       (u64)atomic64_read(&pool->stat_dedup));
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

	sis_io_pool = mempool_create_kmalloc_pool(SIS_IO_POOL_MIN,
						  sizeof(struct sis_io));
	if (!sis_io_pool)
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
	mempool_destroy(sis_io_pool);
	return r;
}

static void __exit dm_sis_exit(void)
{
	dm_unregister_target(&sis_target);
	pcache_exit();
	mempool_destroy(sis_io_pool);
}

module_init(dm_sis_init);
module_exit(dm_sis_exit);

MODULE_DESCRIPTION(DM_NAME " target deduplicating 4 KiB blocks inline (sis)");
MODULE_AUTHOR("dm-sis developers");
MODULE_LICENSE("GPL");
