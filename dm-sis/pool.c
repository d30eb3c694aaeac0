// SPDX-License-Identifier: GPL-2.0
/*
 * pool.c: the pools of the "sis" target.
 *
 * A struct sis_pool is one open backing device: the open core, its
 * workqueue and reserves, its commits, its mode and its events, shared by
 * every table that names the device (the devices of its volumes, and a
 * reload, share one pool instead of opening the metadata twice).  This
 * file owns the registry of pools (pools_lock), the commit worker and
 * timer, the modes (a metadata error switches the core to read-only or
 * fail; logged once), the low-water and out-of-space events, and what
 * suspend and resume do to a pool.
 *
 * Invariants:
 *  - One pool per backing device, so no two cores ever open the same
 *    metadata.  Its tables serve its volumes, one mapped device per volume
 *    (a second device naming an open volume is refused: two devices would
 *    order their writes of one block separately); a device's reload shares
 *    its volume.  A table serves an existing volume only, and volume 0 is
 *    the only one a blank device is formatted with; a volume some table
 *    names is never deleted (sis_pool_volume_delete() holds pools_lock).
 *  - The features are the pool's: a table whose features differ from the
 *    pool's is refused, unless it reloads the pool's only device.
 *  - The commit timer runs while any device of the pool is resumed (not
 *    read-only); each device's postsuspend commits the whole pool.  Events
 *    (space, mode) are the pool's and go to every resumed device's table;
 *    a noflush suspend requeues the writes of that device only.
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
 * dm_table_event() takes dm's own event lock.  Space and mode are the
 * pool's, so the event goes to the live table of every resumed device of
 * the pool (none while all are suspended): a monitor of any volume sees it.
 */
static bool sis_mode_changed(struct sis_pool *pool, int r);
static void sis_note_mode(struct sis_pool *pool, int r);

static void sis_event_worker(struct work_struct *ws)
{
	struct sis_pool *pool = container_of(ws, struct sis_pool, event_work);
	int r = atomic_xchg(&pool->mode_check, 0);
	bool raise = atomic_xchg(&pool->event_pending, 0);
	struct sis_target *st;

	if (r && sis_mode_changed(pool, r))
		raise = true;
	if (!raise)
		return;
	mutex_lock(&pool->event_lock);
	list_for_each_entry(st, &pool->active, active_list)
		dm_table_event(st->ti->table);
	mutex_unlock(&pool->event_lock);
}

void sis_pool_raise_event(struct sis_pool *pool)
{
	atomic_set(&pool->event_pending, 1);
	queue_work(pool->wq, &pool->event_work);
}

/*
 * Resume (@on) puts @st on the pool's resumed targets, whose tables get
 * events, arms the commit timer (unless read-only) and re-arms the
 * low-water mark (a reload may change it).  Postsuspend and dtr (!@on)
 * take it off, and stop the timer when no device of the pool is resumed.
 */
static void sis_pool_activate(struct sis_target *st, bool on)
{
	struct sis_pool *pool = st->pool;

	mutex_lock(&pool->event_lock);
	if (on) {
		if (list_empty(&st->active_list))
			list_add(&st->active_list, &pool->active);
		if (!pool->timer_on && !st->f.read_only) {
			pool->timer_on = true;
			queue_delayed_work(pool->wq, &pool->commit_work,
					   st->f.commit_interval * HZ);
		}
	} else {
		list_del_init(&st->active_list);
		if (list_empty(&pool->active) && pool->timer_on) {
			cancel_delayed_work_sync(&pool->commit_work);
			pool->timer_on = false;
		}
	}
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
	if (pool->sink)
		__free_page(pool->sink);
	sis_md_exit(pool);
	kvfree(pool);
}

/*
 * pools_lock held.  Only a table of volume 0 formats a blank device (with
 * volume 0 of the table's length); another one leaves volume 0's size be.
 */
static struct sis_pool *__pool_create(struct sis_target *st)
{
	struct dm_target *ti = st->ti;
	const struct sis_features *f = &st->f;
	struct block_device *bdev = st->dev->bdev;
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
	INIT_LIST_HEAD(&pool->active);
	spin_lock_init(&pool->excl_lock);
	pool->bdev = bdev;
	pool->dev = bdev->bd_dev;
	snprintf(pool->name, sizeof(pool->name), "%u:%u",
		 MAJOR(pool->dev), MINOR(pool->dev));
	mutex_init(&pool->commit_lock);
	spin_lock_init(&pool->range_lock);
	INIT_LIST_HEAD(&pool->ranges);
	init_waitqueue_head(&pool->range_wait);
	spin_lock_init(&pool->write_lock);
	bio_list_init(&pool->writes);
	for (i = 0; i < SIS_WRITERS; i++) {
		INIT_WORK(&pool->writers[i].work, sis_write_worker);
		pool->writers[i].pool = pool;
	}
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
	r = bioset_init(&pool->bs, BIO_POOL_SIZE, 0, BIOSET_NEED_BVECS);
	if (!r)
		r = bioset_init(&pool->io_bs, SIS_IO_RESERVE_BIOS, 0,
				BIOSET_NEED_BVECS);
	if (r) {
		ti->error = "Cannot allocate bio set";
		goto bad;
	}
	pool->sink = alloc_page(GFP_KERNEL);
	if (!pool->sink) {
		ti->error = "Cannot allocate the read sink page";
		r = -ENOMEM;
		goto bad;
	}
	r = sis_md_init(pool);
	if (r) {
		ti->error = "Cannot allocate metadata page reserve";
		goto bad;
	}

	if (!st->vol)
		cfg.logical_blocks = ti->len >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	cfg.physical_blocks = bdev_nr_sectors(bdev) >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	cfg.flags = (st->vol ? 0 : SIS_OPEN_FORMAT) |
		    (f->read_only ? SIS_OPEN_READ_ONLY : 0);
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

static bool sis_features_equal(const struct sis_features *a,
			       const struct sis_features *b)
{
	return a->discard_passdown == b->discard_passdown &&
	       a->zero_detect == b->zero_detect &&
	       a->error_if_no_space == b->error_if_no_space &&
	       a->read_only == b->read_only &&
	       a->commit_interval == b->commit_interval &&
	       a->low_water_mark == b->low_water_mark;
}

/*
 * pools_lock held.  May @st join the open @pool?  One target per table;
 * one mapped device per volume; the pool's features unless @st reloads
 * the pool's only device.
 */
static int __pool_may_share(struct sis_pool *pool, struct sis_target *st)
{
	struct dm_target *ti = st->ti;
	struct sis_target *other;
	bool only_device = true;

	list_for_each_entry(other, &pool->targets, pool_list) {
		if (other->ti->table == ti->table) {
			/* Two targets of one table would alias each other. */
			ti->error = "Backing device already used by this table";
			return -EBUSY;
		}
		if (other->md == st->md)
			continue;
		only_device = false;
		if (other->vol == st->vol) {
			/* Two devices would order their writes apart. */
			ti->error = "Volume is already in use by another device";
			return -EBUSY;
		}
	}
	if (!only_device && !sis_features_equal(&pool->f, &st->f)) {
		ti->error = "Pool features differ from the open pool's";
		return -EINVAL;
	}
	if (pool->f.read_only && !st->f.read_only) {
		ti->error = "Device is read-only: remove and create it to write";
		return -EINVAL;
	}
	return 0;
}

/* pools_lock held: @st's volume exists and is no larger than its table. */
static int __pool_check_volume(struct sis_pool *pool, struct sis_target *st)
{
	struct dm_target *ti = st->ti;
	struct sis_volume_info vi;

	if (sis_core_volume_info(pool->core, st->vol, &vi) || vi.deleting) {
		ti->error = "Volume does not exist";
		return -ENOENT;
	}
	if (ti->len >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT) < vi.logical_blocks) {
		ti->error = "Cannot shrink the logical size";
		return -EINVAL;
	}
	return 0;
}

int sis_pool_get(struct sis_target *st)
{
	struct sis_pool *pool;
	int r;

	mutex_lock(&pools_lock);
	pool = __pool_find(st->dev->bdev->bd_dev);
	if (pool) {
		r = __pool_may_share(pool, st);
		if (!r)
			pool->ref++;
	} else {
		pool = __pool_create(st);
		r = IS_ERR(pool) ? PTR_ERR(pool) : 0;
	}
	if (!r) {
		r = __pool_check_volume(pool, st);
		if (r)
			__pool_put(pool);
	}
	if (!r) {
		INIT_LIST_HEAD(&st->active_list);
		list_add(&st->pool_list, &pool->targets);
		st->pool = pool;
	}
	mutex_unlock(&pools_lock);
	return r;
}

void sis_pool_put(struct sis_target *st)
{
	sis_pool_activate(st, false);	/* dm suspended it: a no-op */
	mutex_lock(&pools_lock);
	list_del(&st->pool_list);
	__pool_put(st->pool);
	mutex_unlock(&pools_lock);
}

int sis_pool_volume_delete(struct sis_pool *pool, u32 id)
{
	char name[DM_NAME_LEN];
	struct sis_target *st;
	int r = 0;

	mutex_lock(&pools_lock);
	list_for_each_entry(st, &pool->targets, pool_list) {
		if (st->vol == id) {
			if (dm_copy_name_and_uuid(st->md, name, NULL))
				strscpy(name, "?", sizeof(name));
			DMERR("%s: volume %u is in use by device %s (%s): not deleting it",
			      pool->name, id, name, dm_device_name(st->md));
			r = -EBUSY;
			break;
		}
	}
	if (!r)
		r = sis_core_volume_delete(pool->core, id);
	mutex_unlock(&pools_lock);
	return r;
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
		WRITE_ONCE(st->requeue, true);
		wake_up_all(&pool->space_wait);
	}
}

void sis_pool_presuspend_undo(struct dm_target *ti)
{
	struct sis_target *st = ti->private;

	WRITE_ONCE(st->requeue, false);
}

void sis_pool_postsuspend(struct dm_target *ti)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;
	int r;

	/* dm has cleared the noflush flag by now: always end requeueing */
	WRITE_ONCE(st->requeue, false);

	sis_pool_activate(st, false);
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
	struct sis_volume_info vi;
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
	r = sis_core_volume_info(pool->core, st->vol, &vi);
	if (r) {	/* cannot happen: a volume with a table is not deleted */
		DMERR("%s: volume %u is gone", pool->name, st->vol);
		return r;
	}
	if (lb <= vi.logical_blocks && pb <= stats.physical_blocks)
		return 0;
	r = sis_core_resize(pool->core, pb > stats.physical_blocks ? pb : 0);
	if (!r && lb > vi.logical_blocks)
		r = sis_core_volume_resize(pool->core, st->vol, lb);
	if (r) {
		DMERR("%s: resize of volume %u to %llu / pool to %llu blocks failed: %d",
		      pool->name, st->vol, lb, pb, r);
		return r;
	}
	r = sis_pool_commit(pool);
	if (!r)
		DMINFO("%s: resized volume %u to %llu / pool to %llu blocks",
		       pool->name, st->vol, max(lb, vi.logical_blocks),
		       max(pb, stats.physical_blocks));
	return r;
}

void sis_pool_resume(struct dm_target *ti)
{
	sis_pool_activate(ti->private, true);
}
