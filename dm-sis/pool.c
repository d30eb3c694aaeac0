// SPDX-License-Identifier: GPL-2.0
/*
 * pool.c: the pools of the "sis" target.
 *
 * A struct sis_pool is one open backing device: the open core, its
 * workqueue and reserves, its commits, its mode and its events, shared by
 * every table that names the device (a reload shares one pool instead of
 * opening the metadata twice).  This file owns the registry of pools
 * (pools_lock), the commit worker and timer, the modes (a metadata error
 * switches the core to read-only or fail; logged once), the low-water and
 * out-of-space events, and what suspend and resume do to a pool.
 *
 * Invariants:
 *  - One pool per backing device, and one mapped device per pool: a table
 *    of another device naming the same backing device is refused, so no
 *    two cores ever open the same metadata.
 *  - Durability.  A data write completes before the mapping naming it is
 *    made (write.c); the core's commit flushes the disk first, then writes
 *    its journal.  A REQ_PREFLUSH completes after a commit that started
 *    after it arrived; concurrent flushes share one commit
 *    (commit_started/commit_done).  A FUA write commits after its
 *    mappings.  A timer commits every commit_interval seconds; postsuspend
 *    commits.
 *  - -ENOMEM from the core changed nothing and is retried after a pause
 *    (sis_pool_nomem_wait()): memory is never a reason to fail a bio or to
 *    abort metadata.
 *  - dm events are raised from a work item, never from the caller's
 *    context (which may hold the core lock or run in the I/O path).
 */
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kdev_t.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uuid.h>

#include "../include/sis-target.h"
#include "dm-sis.h"

#define SIS_NOMEM_RETRY_MS	20	/* -ENOMEM from the core: try again */
/*
 * The bio reserve of each pool, for metadata I/O and data writes (one write
 * batch submits at most SIS_MAX_IO_BLOCKS bios, each submitted before the
 * next is allocated): forward progress under memory pressure.
 */
#define SIS_IO_RESERVE_BIOS	64

static unsigned int metadata_cache_mb = 64;
module_param(metadata_cache_mb, uint, 0644);
MODULE_PARM_DESC(metadata_cache_mb,
		 "Metadata cache of each sis device (map, refcount and index pages), in MiB, read when the device is created (default 64)");

/* The registry: every open pool, on sis_pools, under pools_lock. */
static LIST_HEAD(sis_pools);
static DEFINE_MUTEX(pools_lock);

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
static bool sis_mode_changed(struct sis_pool *pool, int r);
static void sis_note_mode(struct sis_pool *pool, int r);

static void sis_event_worker(struct work_struct *ws)
{
	struct sis_pool *pool = container_of(ws, struct sis_pool, event_work);
	int r = atomic_xchg(&pool->mode_check, 0);
	bool raise = atomic_xchg(&pool->event_pending, 0);

	if (r && sis_mode_changed(pool, r))
		raise = true;
	if (!raise)
		return;
	mutex_lock(&pool->event_lock);
	if (pool->event_ti)
		dm_table_event(pool->event_ti->table);
	mutex_unlock(&pool->event_lock);
}

void sis_pool_raise_event(struct sis_pool *pool)
{
	atomic_set(&pool->event_pending, 1);
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
void sis_pool_space_check(struct sis_pool *pool)
{
	u64 mark = READ_ONCE(pool->f.low_water_mark);
	struct sis_core_stats stats;

	if (READ_ONCE(pool->out_of_space)) {
		WRITE_ONCE(pool->out_of_space, false);
		sis_pool_raise_event(pool);
	}
	if (!mark)
		return;
	sis_core_get_stats(pool->core, &stats);
	if (stats.nr_free >= mark) {
		atomic_set(&pool->low_water_hit, 0);
	} else if (!atomic_xchg(&pool->low_water_hit, 1)) {
		DMWARN("%s: low water mark reached: %llu blocks free, mark %llu",
		       pool->name, stats.nr_free, mark);
		sis_pool_raise_event(pool);
	}
}

/* ---------------------------------------------------------------- */
/* Commits and modes                                                */
/* ---------------------------------------------------------------- */

/*
 * The core returned -ENOMEM: it changed nothing (or, for a commit, kept the
 * transaction intact), so the operation is simply tried again a little
 * later; memory is never a reason to fail a bio or to abort metadata.
 */
void sis_pool_nomem_wait(struct sis_pool *pool)
{
	DMWARN_LIMIT("%s: out of memory: retrying", pool->name);
	msleep(SIS_NOMEM_RETRY_MS);
}

/*
 * Commit everything mapped before the call.  Callers that arrive while a
 * commit runs wait for it and then find that a later one is needed only if
 * that commit began before they arrived.
 */
int sis_pool_commit(struct sis_pool *pool)
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
		sis_pool_nomem_wait(pool);
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
		sis_pool_commit(pool);
	queue_delayed_work(pool->wq, &pool->commit_work,
			   READ_ONCE(pool->f.commit_interval) * HZ);
}

/*
 * @r may mean that the core left write mode (a metadata error, needs_check):
 * the event worker looks.  Not here: a read's completion holds a read
 * ticket, and the core lock that sis_core_get_stats() takes may be held by
 * an abort's rollback waiting for that very ticket.
 */
static void sis_note_mode(struct sis_pool *pool, int r)
{
	if (r != -EROFS && r != -EIO && r != -EILSEQ)
		return;
	if (atomic_read(&pool->mode_reported))
		return;
	atomic_set(&pool->mode_check, r);
	queue_work(pool->wq, &pool->event_work);
}

/* Event worker: log once when the core has left write mode; raise an event? */
static bool sis_mode_changed(struct sis_pool *pool, int r)
{
	struct sis_core_stats st;

	sis_core_get_stats(pool->core, &st);
	if (st.mode == SIS_MODE_WRITE || pool->f.read_only)
		return false;
	if (atomic_xchg(&pool->mode_reported, 1))
		return false;
	DMERR("%s: metadata error (%d): switched to %s mode%s; run 'sis check'",
	      pool->name, r, st.mode == SIS_MODE_FAIL ? "fail" : "read-only",
	      st.needs_check ? ", needs_check set" : "");
	return true;
}

/*
 * Complete @bio (a dm bio or a piece of one) with @r, logging errors;
 * -EAGAIN gives the bio back to dm to be resubmitted after resume (only
 * during a noflush suspend, see sis_wait_space() in write.c).
 */
void sis_pool_end_bio(struct sis_target *st, struct bio *bio, u64 lblock,
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

/* ---------------------------------------------------------------- */
/* The registry                                                     */
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
	sis_md_exit(pool);
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
	r = sis_md_init(pool);
	if (r) {
		ti->error = "Cannot allocate metadata page reserve";
		goto bad;
	}

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

int sis_pool_get(struct sis_target *st)
{
	struct dm_target *ti = st->ti;
	struct sis_core_stats stats;
	struct sis_pool *pool;
	int r;

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

	if (!r)
		st->pool = pool;
	return r;
}

void sis_pool_put(struct sis_target *st)
{
	mutex_lock(&pools_lock);
	list_del(&st->pool_list);
	__pool_put(st->pool);
	mutex_unlock(&pools_lock);
}

/* ---------------------------------------------------------------- */
/* Suspend and resume                                               */
/* ---------------------------------------------------------------- */

/*
 * A noflush suspend (to grow the backing device of a full device, say)
 * must not wait for writes that wait for space: they are requeued.
 */
void sis_pool_presuspend(struct dm_target *ti)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;

	if (dm_noflush_suspending(ti)) {
		WRITE_ONCE(pool->requeue, true);
		wake_up_all(&pool->space_wait);
	}
}

void sis_pool_presuspend_undo(struct dm_target *ti)
{
	struct sis_target *st = ti->private;

	WRITE_ONCE(st->pool->requeue, false);
}

void sis_pool_postsuspend(struct dm_target *ti)
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
		r = sis_pool_commit(pool);
		if (r && r != -EROFS)
			DMERR("%s: commit on suspend failed: %d", pool->name, r);
	}
}

int sis_pool_preresume(struct dm_target *ti)
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
	r = sis_core_resize(pool->core, pb > stats.physical_blocks ? pb : 0);
	if (!r && lb > stats.logical_blocks)
		r = sis_core_volume_resize(pool->core, 0, lb);
	if (r) {
		DMERR("%s: resize to %llu logical / %llu physical blocks failed: %d",
		      pool->name, lb, pb, r);
		return r;
	}
	r = sis_pool_commit(pool);
	if (!r)
		DMINFO("%s: resized to %llu logical / %llu physical blocks",
		       pool->name, max(lb, stats.logical_blocks),
		       max(pb, stats.physical_blocks));
	return r;
}

void sis_pool_resume(struct dm_target *ti)
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
