// SPDX-License-Identifier: GPL-2.0
/*
 * write.c: the write path of the "sis" target: writes and discards.
 *
 * A write of up to 128 KiB is one batch (sis_write_bio()): gather one page
 * per block (partial blocks merged with the old data), decide every block
 * (zero, duplicate or new), write all new blocks with one bio per run
 * contiguous on disk, then map them all.  A writer holds its logical range
 * (struct sis_range), which orders writes and discards of the same blocks.
 * Writes reach here from map(): a write of zeros and cached duplicates is
 * done there (sis_write_fast()); any other is queued on the pool's list
 * of writes (sis_write_defer()).  The pool's write workers
 * (sis_write_worker(), SIS_WRITERS of them) take the list a group of up to
 * SIS_WRITE_GROUP bios at a time: under one plug, each bio of the group is
 * started (gathered, decided, its data writes submitted, not waited for:
 * sis_write_start()), so the disk receives the data writes of the whole
 * group together, as it would from the application without dm-sis; then
 * each is finished (its writes waited for, its blocks mapped:
 * sis_write_finish()), one commit serves every REQ_FUA of the group, and
 * the bios are completed.  A write's completion settles its pcache entries
 * at once (pcache_write_submit()), so a writer of the same data waiting
 * for one depends on the disk only, never on this worker's progress.  A
 * group never waits for what it holds: only its first bio may wait for its
 * logical range or for a batch from the mempool; a later bio whose range
 * is held, or for which no batch is free, goes back to the head of the
 * list and ends the group, and so does any bio after one that holds
 * pcache's reserves (a ticket).
 *
 * Core calls: a round of a batch makes at most three, whatever its size:
 * sis_core_find_dups() for every block to decide, sis_core_find_or_alloc()
 * under the hash locks for the blocks still undecided (it looks again and
 * allocates the new blocks), and sis_core_map_batch(), which maps and
 * unmaps them all and drops the round's pins (the second is skipped when
 * every block was decided by the first).  A duplicate bio makes two, a
 * unique one three; one done in map() makes at most four (block 0's
 * look-up, the blocks after its candidate, the other blocks' look-up, the
 * mapping).  Around them: a
 * partial block at either end reads its old data (sis_core_lookup()), a
 * round that allocated checks the low-water mark (sis_core_get_stats(), if
 * one is set), and a round short of space waits for it and runs again.
 *
 * The hard part: sharing without ever merging different data, and breaking
 * sharing without disturbing the other sharers.
 *  - A write never modifies a data block in place.  New data goes to a block
 *    fresh from sis_core_alloc() or to an existing block holding identical
 *    data; the old mapping simply loses a reference.  So a block's data is
 *    immutable for as long as any logical block maps it, which is what lets
 *    pcache serve one cached copy to every sharer.
 *  - A fingerprint hit is advice.  The candidate is read through pcache and
 *    compared byte for byte before it is mapped.  The core indexes a block
 *    as soon as it is allocated, so the candidate may be a block whose data
 *    write is still in flight: its pcache entry is then in the WRITING
 *    state, its page already holds the data, so the writer compares at once
 *    and waits for the write only before mapping (a failed write sends the
 *    block back to be decided again).
 *  - Candidate reads happen outside every lock: the candidates of all the
 *    blocks of a batch are looked up first (no lock held), those missing
 *    from pcache are read all at once, and the blocks found identical are
 *    decided then and there: the candidate is pinned, so mapping it later
 *    is safe without any lock.  Only mapped candidates count there: their
 *    data is on disk.  A new block nothing maps yet may be found between
 *    its allocation and its writer's pcache install, when its disk block
 *    still holds older data; it is left to the look-up under the hash lock.
 *  - Writers of the same data decide one after the other, writers of
 *    different data in parallel: the blocks left undecided take the hash
 *    locks of their fingerprints (bits of pool->hash_locks, in ascending
 *    order), look their candidates up again, and hold the locks until the
 *    pcache install of their new blocks (the hashing, the first look-up
 *    and the data writes after hold none).  A block is only found through
 *    its fingerprint, so it is in pcache before another writer can find
 *    it, and writers of the same new data at once find each other's block
 *    (WRITING in pcache, so no read) instead of storing two copies.  A
 *    batch's new blocks are allocated with one core call, in a row,
 *    contiguous on disk as far as free space allows whatever other writers
 *    do, so a later sequential read of them is one disk read.  A candidate
 *    of the second look-up that misses the cache (rare: evicted since its
 *    writer installed it) is still read under its hash lock, blocking only
 *    writers of that data.
 *
 * Locks of this file: the logical range of the volume (pool->ranges, under
 * range_lock, a leaf) is taken first, then the hash locks (bits of
 * pool->hash_locks, ascending); no hash lock is held while waiting for space or while data
 * is written.  A batch's blocks are entries of pcache_new(), taken before
 * its hash locks: under memory pressure they come from pcache's reserves
 * under the batch's ticket (wb->ticket), kept until the batch ends, so a
 * batch never waits for a ticket or a reserve element under a hash lock.
 * A struct sis_wbatch belongs to the one worker that runs it.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/hash.h>
#include <linux/jiffies.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>

#include "../include/sis-target.h"
#include "dm-sis.h"

#define SIS_WBATCH_POOL_MIN	64
#define SIS_WRITE_GROUP		16	/* bios a write worker starts at once */
#define SIS_NO_SPACE_RETRY_MS	250

static bool map_writes = true;
module_param(map_writes, bool, 0644);
MODULE_PARM_DESC(map_writes,
		 "Do writes of zeros and cached duplicates in map(), without a worker (default Y)");

/* ---------------------------------------------------------------- */
/* Candidates                                                       */
/* ---------------------------------------------------------------- */

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

static struct pcache_entry *sis_cache_get(struct sis_pool *pool, u64 pblock)
{
	return sis_read_cache_get(pool, pblock, 1);
}

/* ---------------------------------------------------------------- */
/* Batches                                                          */
/* ---------------------------------------------------------------- */

/**
 * struct sis_range - logical blocks [@start, @end) of volume @vol held by
 * one writer
 * @list:  on pool->ranges (pool->range_lock)
 * @vol:   the volume
 * @start: first logical block
 * @end:   the block after the last
 */
struct sis_range {
	struct list_head list;
	u32 vol;
	u64 start;
	u64 end;
};

/* What becomes of one block of a write (struct sis_wblock). */
enum sis_wstate {
	SIS_W_STORE,	/* to be decided */
	SIS_W_ZERO,	/* all zeros: unmapped */
	SIS_W_DUP,	/* identical to the existing block @pblock */
	SIS_W_SAME,	/* identical to block @dup_of of this batch, a NEW one */
	SIS_W_NEW,	/* new data in the newly allocated block @pblock */
	SIS_W_DONE,	/* mapped */
};

/**
 * struct sis_wblock - one block of a write batch
 * @own:    its data while the batch owns it, an unnamed entry of
 *           pcache_new() (a NEW block's becomes @e)
 * @e:       NEW: its pcache entry; DUP: the candidate's entry if its write
 *           was in flight at the compare
 * @fp:      fingerprint of the data
 * @pblock:  STORE: a candidate not compared yet; DUP: the candidate; NEW:
 *           the new block; pinned in every case (dropped by the map batch)
 * @rejected: a candidate found different (never compared again: the
 *           block gets a new one instead)
 * @state:   enum sis_wstate
 * @dup_of:  SAME: the block of the batch with the same data
 * @written: NEW: the data write is done, with result @werr
 * @reread:  STORE: its candidate (of the look-up under the hash locks)
 *           missed pcache: read and compared once the locks are released
 * @werr:    NEW: result of the data write
 */
struct sis_wblock {
	struct pcache_entry *own;
	struct pcache_entry *e;
	u64 fp;
	u64 pblock;
	u64 rejected;
	u8 state;
	u8 dup_of;
	bool written;
	bool reread;
	int werr;
};

/**
 * struct sis_wbatch - the blocks of one write bio (from sis_wbatch_pool)
 * @st:      the target
 * @bio:     the write
 * @ticket:  its right to pcache's reserves for its blocks' entries
 * @range:   the logical blocks it holds
 * @lblock:  first logical block
 * @nr:      blocks
 * @r:       the result of the round's decisions (sis_wbatch_decide())
 * @filled:  its data was gathered (sis_wbatch_fill() succeeded)
 * @nr_writing: data writes submitted and not waited for: the first
 *           @nr_writing entries of @idx and @es, results in @res (so those
 *           stay untouched until sis_wbatch_written())
 * @rw:      those writes in flight
 * @space_deadline: when a write waiting for space gives up (0: not waiting)
 * @nr_locks: hash locks held (sis_hash_lock_batch())
 * @locks:   their bits, ascending
 * @nr_pins: pins the map batch drops
 * @pins:    the rejected candidates of the round (at most one per block
 *           and look-up), then the blocks of @b
 * @idx:     scratch of a core call: the block of each entry of @fps/@pbs
 * @fps:     scratch: fingerprints passed to the core
 * @skip:    scratch: the candidate each of @fps must not get again
 * @es:      scratch: the candidates' pcache entries (compared while @fps is
 *           unused; sharing its room keeps the batch within 4 KiB), then
 *           the entries of the data writes
 * @pages:   scratch: the pages of the blocks of a write served in map()
 * @pbs:     scratch: blocks from or to the core (candidates, new blocks,
 *           the mapping of each block)
 * @unmapped: scratch: which candidates of @pbs are new blocks (another
 *           writer's, from sis_core_find_dups(); this batch's, from
 *           sis_core_find_or_alloc())
 * @res:     scratch: the result of each block's data write, then of its
 *           mapping
 * @b:       the blocks
 */
struct sis_wbatch {
	struct sis_target *st;
	struct bio *bio;
	struct pcache_ticket ticket;
	struct sis_range range;
	u64 lblock;
	unsigned int nr;
	int r;
	bool filled;
	unsigned int nr_writing;
	struct pcache_rw rw;
	unsigned long space_deadline;
	unsigned int nr_locks;
	u16 locks[SIS_MAX_IO_BLOCKS];
	unsigned int nr_pins;
	u64 pins[3 * SIS_MAX_IO_BLOCKS];
	u8 idx[SIS_MAX_IO_BLOCKS];
	union {
		u64 fps[SIS_MAX_IO_BLOCKS];
		struct pcache_entry *es[SIS_MAX_IO_BLOCKS];
		struct page *pages[SIS_MAX_IO_BLOCKS];
	};
	u64 skip[SIS_MAX_IO_BLOCKS];
	u64 pbs[SIS_MAX_IO_BLOCKS];
	bool unmapped[SIS_MAX_IO_BLOCKS];
	int res[SIS_MAX_IO_BLOCKS];
	struct sis_wblock b[SIS_MAX_IO_BLOCKS];
};

static_assert(sizeof(struct sis_wbatch) <= PAGE_SIZE);

static mempool_t *sis_wbatch_pool;

/*
 * A zeroed batch for @nr blocks of @st from @lblock, from the mempool
 * (NULL only if @gfp does not wait).
 */
static struct sis_wbatch *sis_wbatch_new(struct sis_target *st, u64 lblock,
					 unsigned int nr, gfp_t gfp)
{
	struct sis_wbatch *wb = mempool_alloc(sis_wbatch_pool, gfp);

	if (!wb)
		return NULL;
	memset(wb, 0, sizeof(*wb));
	wb->st = st;
	wb->lblock = lblock;
	wb->nr = nr;
	return wb;
}

/* ---------------------------------------------------------------- */
/* Logical ranges and hash locks                                    */
/* ---------------------------------------------------------------- */

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
		if (other->vol == range->vol && other->start < range->end &&
		    range->start < other->end) {
			free = false;
			break;
		}
	if (free)
		list_add(&range->list, &pool->ranges);
	spin_unlock(&pool->range_lock);
	return free;
}

/* Name blocks [@start, @start + @count) of @st's volume in @range. */
static void sis_range_init(struct sis_target *st, struct sis_range *range,
			   u64 start, u64 count)
{
	range->vol = st->vol;
	range->start = start;
	range->end = start + count;
}

static void sis_range_lock(struct sis_target *st, struct sis_range *range,
			   u64 start, u64 count)
{
	sis_range_init(st, range, start, count);
	wait_event(st->pool->range_wait, sis_range_try_lock(st->pool, range));
}

static void sis_range_unlock(struct sis_pool *pool, struct sis_range *range)
{
	spin_lock(&pool->range_lock);
	list_del(&range->list);
	spin_unlock(&pool->range_lock);
	wake_up_all(&pool->range_wait);
}

/* Fill @page with the current data of @lblock (read-modify-write). */
static int sis_read_old(struct sis_target *st, u64 lblock, struct page *page)
{
	struct sis_pool *pool = st->pool;
	struct pcache_entry *e;
	u64 pblock;
	int r;

	r = sis_core_lookup(pool->core, st->vol, lblock, &pblock);
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
		b->own = pcache_new(&wb->ticket);
		len = min(iter.bi_size, SIS_BLOCK_SIZE - skip);
		if (len != SIS_BLOCK_SIZE) {
			r = sis_read_old(wb->st, wb->lblock + i, b->own->page);
			if (r)
				return r;
		}
		copy_from_bio((u8 *)pcache_data(b->own) + skip, bio, &iter, len);
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

/* ---------------------------------------------------------------- */
/* Decide, write, map                                               */
/* ---------------------------------------------------------------- */

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
		r = sis_pool_commit(pool);
		return r ? r : 1;
	}
	if (!READ_ONCE(pool->out_of_space)) {
		WRITE_ONCE(pool->out_of_space, true);
		DMWARN_LIMIT("%s: out of data space", pool->name);
		sis_pool_raise_event(pool);
	}
	if (wb->st->f.error_if_no_space)
		return -ENOSPC;
	if (READ_ONCE(wb->st->requeue))
		return -EAGAIN;
	if (!wb->space_deadline)
		wb->space_deadline = jiffies + SIS_NO_SPACE_TIMEOUT * HZ;
	else if (time_after(jiffies, wb->space_deadline))
		return -ENOSPC;
	wait_event_timeout(pool->space_wait, READ_ONCE(wb->st->requeue),
			   msecs_to_jiffies(SIS_NO_SPACE_RETRY_MS));
	return 1;
}

/*
 * Without any lock: the candidates of every STORE block of @wb, with one
 * core call: each found one is pinned in b->pblock.  A new block that
 * nothing maps yet is not taken: its writer may not have installed its
 * data in pcache yet (it does so under the hash lock), so its disk block
 * may still hold older data; such a block is looked up again under the
 * hash locks.  Nor is a candidate the block found different before.
 * Return: 0 or -errno.
 */
static int sis_wbatch_find(struct sis_wbatch *wb)
{
	unsigned int i, n = 0;
	int r;

	for (i = 0; i < wb->nr; i++)
		if (wb->b[i].state == SIS_W_STORE) {
			wb->idx[n] = i;
			wb->fps[n++] = wb->b[i].fp;
		}
	if (!n)
		return 0;
	r = sis_core_find_dups(wb->st->pool->core, wb->fps, n, wb->pbs,
			       wb->unmapped);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		if (wb->pbs[i] && (wb->unmapped[i] ||
				   wb->pbs[i] == wb->b[wb->idx[i]].rejected))
			wb->pins[wb->nr_pins++] = wb->pbs[i];
		else
			wb->b[wb->idx[i]].pblock = wb->pbs[i];
	}
	return 0;
}

/*
 * Compare STORE block @b with its candidate b->pblock, whose entry @e the
 * caller holds (or an error pointer: a failed read is a mismatch).  Equal:
 * @b becomes DUP.  An entry whose write is still in flight is compared at
 * once, without waiting (its writer may be this very batch): on a match
 * it stays held in b->e, and the block waits for the write before it is
 * mapped.  Different: the pin goes to the batch's pins to drop and @b
 * stays STORE.  Consumes the caller's hold of @e.
 */
static void sis_wblock_compare(struct sis_wbatch *wb, struct sis_wblock *b,
			       struct pcache_entry *e)
{
	bool same = !IS_ERR(e) && !pcache_wait_filled(e) &&
		    sis_block_equal(pcache_data(e), pcache_data(b->own));

	if (same) {
		b->state = SIS_W_DUP;
		if (READ_ONCE(e->state) == PCACHE_WRITING) {
			b->e = e;
			return;
		}
	} else {
		b->rejected = b->pblock;
		wb->pins[wb->nr_pins++] = b->pblock;
		b->pblock = 0;
	}
	if (!IS_ERR(e))
		pcache_put(e);
}

/*
 * Without any lock: compare every STORE block that has a candidate with
 * it, the candidates missing from pcache read all at once.
 */
static void sis_wbatch_compare_all(struct sis_wbatch *wb)
{
	struct sis_pool *pool = wb->st->pool;
	unsigned int i, k, n = 0, got, misses;

	for (i = 0; i < wb->nr; i++)
		if (wb->b[i].state == SIS_W_STORE && wb->b[i].pblock) {
			wb->idx[n] = i;
			wb->pbs[n++] = wb->b[i].pblock;
		}
	if (!n)
		return;
	/* all at once, unless memory is short (pcache_get_batch()) */
	for (k = 0; k < n; k += got) {
		got = pcache_get_batch(pool->bdev, wb->pbs + k, n - k,
				       wb->es + k, &misses);
		atomic64_add(misses, &pool->stat_misses);
		atomic64_add(got - misses, &pool->stat_hits);
		for (i = k; i < k + got; i++)
			sis_wblock_compare(wb, &wb->b[wb->idx[i]], wb->es[i]);
	}
}

/*
 * Under the hash locks, one core call: the candidates of every STORE block
 * (a new block that nothing maps yet included: its writer installed it in
 * pcache before releasing the hash lock), and a new block, allocated and
 * installed in pcache, for each block that has none.  The new blocks come
 * in a row, contiguous on disk as far as free space allows whatever other
 * writers do.  *@nr_new: how many new blocks it got.  Return: the number
 * of blocks left without a block for lack of space, or -errno.
 */
static int sis_wbatch_find_or_alloc(struct sis_wbatch *wb, int *nr_new)
{
	struct sis_pool *pool = wb->st->pool;
	unsigned int i, j, n = 0, nr_short = 0;
	struct sis_wblock *b;
	int r;

	for (i = 0; i < wb->nr; i++)
		if (wb->b[i].state == SIS_W_STORE) {
			wb->idx[n] = i;
			wb->skip[n] = wb->b[i].rejected;
			wb->fps[n++] = wb->b[i].fp;
		}
	r = sis_core_find_or_alloc(pool->core, wb->fps, wb->skip, n, wb->pbs,
				   wb->unmapped);
	if (r < 0)
		return r;
	*nr_new = r;
	for (i = 0; i < n; i++) {
		b = &wb->b[wb->idx[i]];
		b->pblock = wb->pbs[i];
		if (b->pblock && wb->unmapped[i]) {	/* a new block */
			pcache_install(b->own, pool->dev, b->pblock);
			b->e = b->own;
			b->own = NULL;
			b->state = SIS_W_NEW;
			b->written = false;
		} else if (!b->pblock) {	/* no space: decided again later */
			nr_short++;
			for (j = wb->idx[i] + 1; j < wb->nr; j++)
				if (wb->b[j].state == SIS_W_SAME &&
				    wb->b[j].dup_of == wb->idx[i])
					wb->b[j].state = SIS_W_STORE;
		}
	}
	return nr_short;
}

/*
 * Under the hash locks: compare every STORE block that has a candidate
 * with it.  A candidate found here is usually another writer's new block,
 * in pcache (WRITING or VALID) since before its hash lock was released.
 * One that misses pcache (rare: evicted since) is left for
 * sis_wbatch_reread(), without the locks.
 */
static void sis_wbatch_compare_locked(struct sis_wbatch *wb)
{
	struct sis_pool *pool = wb->st->pool;
	struct pcache_entry *e;
	struct sis_wblock *b;
	unsigned int i;

	for (i = 0; i < wb->nr; i++) {
		b = &wb->b[i];
		if (b->state != SIS_W_STORE || !b->pblock)
			continue;
		e = pcache_lookup(pool->dev, b->pblock);
		if (!e) {
			b->reread = true;
			continue;
		}
		atomic64_inc(&pool->stat_hits);
		sis_wblock_compare(wb, b, e);
	}
}

/*
 * Without any lock: read and compare the candidates sis_wbatch_compare_locked()
 * left.  Such a candidate is not a new block in flight: its writer holds
 * its pcache entry until the block is mapped, so evicted means mapped (its
 * data on disk) or freed; pinned, it is not reused meanwhile, so equal data
 * on disk may be shared.  Different, the block is decided again.
 */
static void sis_wbatch_reread(struct sis_wbatch *wb)
{
	struct sis_wblock *b;
	unsigned int i;

	for (i = 0; i < wb->nr; i++) {
		b = &wb->b[i];
		if (!b->reread)
			continue;
		b->reread = false;
		sis_wblock_compare(wb, b, sis_cache_get(wb->st->pool, b->pblock));
	}
}

/*
 * Pure CPU: make block @b ZERO if its @data is zeros (zero_detect).
 * Return: whether it is ZERO.
 */
static bool sis_wblock_zero(struct sis_wbatch *wb, struct sis_wblock *b,
			    const void *data)
{
	if (!wb->st->f.zero_detect || !sis_block_is_zero(data))
		return false;
	b->state = SIS_W_ZERO;
	return true;
}

/*
 * Pure CPU: make block @b ZERO if its @data is zeros (zero_detect), else
 * take its fingerprint.  Return: whether it is ZERO.
 */
static bool sis_wblock_hash(struct sis_wbatch *wb, struct sis_wblock *b,
			    const void *data)
{
	if (sis_wblock_zero(wb, b, data))
		return true;
	b->fp = sis_fingerprint(data);
	return false;
}

/*
 * Phase 1: decide every STORE block: zero, the same data as an earlier
 * block of the batch, a duplicate of an existing block (compared), or new
 * data.  First without any lock: the candidates of all blocks (one core
 * call), read at once where pcache misses them, and compared; the blocks
 * found equal are decided (their candidates are pinned: safe to map
 * without a hash lock).  The rest take the hash locks of their data and,
 * with one core call, look again (for data another writer is storing at
 * the same time) and get a new block where there is still no candidate,
 * installed in pcache before the hash locks go (a writer of the same data
 * finds the entry).  A candidate found then is compared; one found
 * different leaves its block to the next round, which allocates.
 * Return: 0, 1 when blocks are left to decide (after waiting for space if
 * that is why), or -errno (what was decided before it is still stored).
 */
static int sis_wbatch_decide(struct sis_wbatch *wb)
{
	unsigned int i, j;
	struct sis_wblock *b;
	int r, nr_new = 0;
	void *data;

	for (i = 0; i < wb->nr; i++) {	/* pure CPU: outside any lock */
		b = &wb->b[i];
		if (b->state != SIS_W_STORE)
			continue;
		data = pcache_data(b->own);
		if (sis_wblock_hash(wb, b, data))
			continue;
		for (j = 0; j < i; j++)
			if (wb->b[j].state == SIS_W_STORE && wb->b[j].fp == b->fp &&
			    sis_block_equal(pcache_data(wb->b[j].own), data))
				break;
		if (j < i) {
			b->state = SIS_W_SAME;
			b->dup_of = j;
		}
	}

	r = sis_wbatch_find(wb);
	if (r)
		return r;
	sis_wbatch_compare_all(wb);

	sis_hash_lock_batch(wb);
	if (!wb->nr_locks) {		/* every block decided */
		wb->space_deadline = 0;
		return 0;
	}
	r = sis_wbatch_find_or_alloc(wb, &nr_new);
	if (r >= 0)
		sis_wbatch_compare_locked(wb);
	sis_hash_unlock_batch(wb);
	sis_wbatch_reread(wb);

	if (nr_new)
		sis_pool_space_check(wb->st->pool);
	if (r)		/* short of space (> 0), or an error */
		return r > 0 ? sis_wait_space(wb) : r;
	wb->space_deadline = 0;
	for (i = 0; i < wb->nr; i++)
		if (wb->b[i].state == SIS_W_STORE)
			return 1;
	return 0;
}

/*
 * Phase 2: submit the data writes of the NEW blocks not yet written, one
 * bio per run of blocks contiguous on disk, all in flight at once, and
 * return (sis_wbatch_written() waits for them).  Under the caller's plug,
 * if it has one.
 */
static void sis_wbatch_write(struct sis_wbatch *wb)
{
	struct sis_pool *pool = wb->st->pool;
	unsigned int i, n = 0;
	struct sis_wblock *b;

	for (i = 0; i < wb->nr; i++) {
		b = &wb->b[i];
		if (b->state != SIS_W_NEW || b->written)
			continue;
		wb->idx[n] = i;
		wb->es[n++] = b->e;
	}
	wb->nr_writing = n;
	if (n)
		pcache_write_submit(&wb->rw, pool->bdev, &pool->io_bs, wb->es,
				    n, wb->res);
}

/* Wait for the data writes of sis_wbatch_write(); settle their entries. */
static void sis_wbatch_written(struct sis_wbatch *wb)
{
	struct sis_wblock *b;
	unsigned int i;

	if (!wb->nr_writing)
		return;
	pcache_rw_wait(&wb->rw);
	for (i = 0; i < wb->nr_writing; i++) {
		b = &wb->b[wb->idx[i]];
		b->written = true;
		b->werr = wb->res[i];
		if (b->werr)
			pcache_write_done(b->e, b->werr);
	}
	wb->nr_writing = 0;
}

/* The blocks' pins (b->pblock) join those the next map batch drops. */
static void sis_wbatch_pin_blocks(struct sis_wbatch *wb)
{
	unsigned int i;

	for (i = 0; i < wb->nr; i++)
		if (wb->b[i].pblock)	/* block 0 is a superblock, never data */
			wb->pins[wb->nr_pins++] = wb->b[i].pblock;
}

/* A block to store again: give it its data back as an entry of its own. */
static void sis_wblock_again(struct sis_wbatch *wb, struct sis_wblock *b,
			     void *data)
{
	if (!b->own) {
		b->own = pcache_new(&wb->ticket);
		copy_page(pcache_data(b->own), data);
	}
	b->state = SIS_W_STORE;
}

/*
 * Phase 3: map every decided block, in order, until an error, with one
 * core call that also drops the pins of the round.  A block that cannot
 * be shared (its candidate's write failed, the block was freed under its
 * pin, or it saturated) or a new block freed under its pin goes back to
 * STORE.  Return: the first error, or 1 if blocks are to be stored again.
 */
static int sis_wbatch_map(struct sis_wbatch *wb)
{
	struct sis_pool *pool = wb->st->pool;
	unsigned int i, n;
	struct sis_wblock *b;
	bool again = false;
	int err = 0, r;
	u64 p;

	for (n = 0; n < wb->nr; n++) {
		b = &wb->b[n];
		p = SIS_MAP_KEEP;
		switch (b->state) {
		case SIS_W_ZERO:
			p = 0;
			break;
		case SIS_W_NEW:
			err = b->werr;
			p = b->pblock;
			break;
		case SIS_W_SAME:
			/* KEEP if its block is: decided again with it */
			p = wb->pbs[b->dup_of];
			break;
		case SIS_W_DUP:
			if (!b->e || !pcache_wait(b->e))
				p = b->pblock;
			break;	/* its write failed: store again */
		}
		if (err)
			break;
		wb->pbs[n] = p;
	}
	sis_wbatch_pin_blocks(wb);
	r = sis_core_map_batch(pool->core, wb->st->vol, wb->lblock, n, wb->pbs,
			       wb->res, wb->pins, wb->nr_pins);
	if (r)
		err = r;	/* it came before block n */
	for (i = 0; i < n; i++) {
		b = &wb->b[i];
		if (wb->res[i])
			continue;
		if (b->state == SIS_W_ZERO)
			atomic64_inc(&pool->stat_zero);
		else if (b->state == SIS_W_NEW)
			atomic64_add(SIS_BLOCK_SIZE, &pool->stat_new_data);
		else
			atomic64_inc(&pool->stat_dedup);
		b->state = SIS_W_DONE;
	}

	/* decided blocks left unmapped (no error) are decided again */
	for (i = 0; i < wb->nr && !err; i++) {
		b = &wb->b[i];
		if (b->state == SIS_W_SAME || b->state == SIS_W_DUP) {
			sis_wblock_again(wb, b, NULL);
			again = true;
		} else if (b->state == SIS_W_NEW) {
			sis_wblock_again(wb, b, pcache_data(b->e));
			again = true;
		}
	}

	for (i = 0; i < wb->nr; i++) {
		b = &wb->b[i];
		if (b->e)
			pcache_put(b->e);
		b->e = NULL;
		b->pblock = 0;
		b->written = false;
	}
	wb->nr_pins = 0;
	return err ? err : again ? 1 : 0;
}

/* ---------------------------------------------------------------- */
/* Entry points                                                     */
/* ---------------------------------------------------------------- */

/*
 * The first round of a write of up to SIS_MAX_IO_BLOCKS blocks, as one
 * batch: take its logical range (waiting for it if @wait, else giving up
 * if it is held), gather the data, decide each block and submit the
 * writes of the new ones without waiting for them.  Without @wait nothing
 * waits for memory either (the batch comes from its mempool only if one
 * is free).  Return: the batch for sis_write_finish(), NULL (only without
 * @wait: try again later), or ERR_PTR(-errno) (the bio is not started).
 */
static struct sis_wbatch *sis_write_start(struct sis_target *st,
					  struct bio *bio, bool wait)
{
	sector_t off = dm_target_offset(st->ti, bio->bi_iter.bi_sector);
	unsigned int skip = (off & (SIS_SECTORS_PER_BLOCK - 1)) << SECTOR_SHIFT;
	struct sis_wbatch *wb;

	if (st->f.read_only)
		return ERR_PTR(-EROFS);
	wb = sis_wbatch_new(st, off >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT),
			    DIV_ROUND_UP(skip + bio->bi_iter.bi_size,
					 SIS_BLOCK_SIZE),
			    wait ? GFP_NOIO : GFP_NOWAIT);
	if (!wb)
		return NULL;
	if (WARN_ON_ONCE(wb->nr > SIS_MAX_IO_BLOCKS)) {
		mempool_free(wb, sis_wbatch_pool);
		return ERR_PTR(-EIO);
	}
	wb->bio = bio;
	if (wait) {
		sis_range_lock(st, &wb->range, wb->lblock, wb->nr);
	} else {
		sis_range_init(st, &wb->range, wb->lblock, wb->nr);
		if (!sis_range_try_lock(st->pool, &wb->range)) {
			mempool_free(wb, sis_wbatch_pool);
			return NULL;
		}
	}
	wb->r = sis_wbatch_fill(wb, bio, skip);
	if (wb->r)
		return wb;
	wb->filled = true;
	/* what was decided before an error (ENOSPC) is still stored */
	wb->r = sis_wbatch_decide(wb);
	sis_wbatch_write(wb);
	return wb;
}

/*
 * The rest of a write begun by sis_write_start(): wait for its data
 * writes, map its blocks, and run more rounds for blocks whose candidate
 * fell through, until every block is stored or an error; then release
 * the batch.  Return: 0 or -errno (a FUA is the caller's).
 */
static int sis_write_finish(struct sis_wbatch *wb)
{
	struct sis_pool *pool = wb->st->pool;
	unsigned int len = wb->bio->bi_iter.bi_size;
	int r = wb->r, r2;
	unsigned int i;

	while (wb->filled) {
		sis_wbatch_written(wb);
		r2 = sis_wbatch_map(wb);
		if (r < 0 || r2 < 0) {
			r = r < 0 ? r : r2;
			break;
		}
		if (!r && !r2)
			break;
		/* blocks to decide again */
		r = sis_wbatch_decide(wb);
		sis_wbatch_write(wb);
	}
	sis_range_unlock(pool, &wb->range);

	for (i = 0; i < wb->nr; i++)
		if (wb->b[i].own)
			pcache_put(wb->b[i].own);
	pcache_ticket_put(&wb->ticket);
	mempool_free(wb, sis_wbatch_pool);
	if (!r)
		atomic64_add(len, &pool->stat_written);
	return r;
}

int sis_write_bio(struct sis_target *st, struct bio *bio)
{
	struct sis_wbatch *wb = sis_write_start(st, bio, true);
	int r;

	if (IS_ERR(wb))
		return PTR_ERR(wb);
	r = sis_write_finish(wb);
	if (!r && (bio->bi_opf & REQ_FUA))
		r = sis_pool_commit(st->pool);
	return r;
}

static struct sis_target *sis_bio_target(struct bio *bio)
{
	struct sis_bio *sb = dm_per_bio_data(bio, sizeof(*sb));

	return sb->st;
}

/* The logical block of the start of @bio, for messages. */
static u64 sis_bio_lblock(struct sis_target *st, struct bio *bio)
{
	return dm_target_offset(st->ti, bio->bi_iter.bi_sector) >>
	       (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
}

/* Complete write @bio with @r, storing it all again while memory is short. */
static void sis_write_end(struct sis_target *st, struct bio *bio, int r)
{
	while (r == -ENOMEM) {
		sis_pool_nomem_wait(st->pool);
		r = sis_write_bio(st, bio);
	}
	sis_pool_end_bio(st, bio, sis_bio_lblock(st, bio), r);
}

void sis_write_defer(struct sis_target *st, struct bio *bio)
{
	struct sis_pool *pool = st->pool;
	unsigned int i;

	spin_lock(&pool->write_lock);
	bio_list_add(&pool->writes, bio);
	spin_unlock(&pool->write_lock);
	for (i = 0; i < SIS_WRITERS; i++)
		queue_work(pool->wq, &pool->writers[i].work);
}

static struct bio *sis_write_pop(struct sis_pool *pool)
{
	struct bio *bio;

	spin_lock(&pool->write_lock);
	bio = bio_list_pop(&pool->writes);
	spin_unlock(&pool->write_lock);
	return bio;
}

/* Give back a bio sis_write_pop() took, first in line again. */
static void sis_write_unpop(struct sis_pool *pool, struct bio *bio)
{
	spin_lock(&pool->write_lock);
	bio_list_add_head(&pool->writes, bio);
	spin_unlock(&pool->write_lock);
}

void sis_write_worker(struct work_struct *ws)
{
	struct sis_pool *pool = container_of(ws, struct sis_writer, work)->pool;
	struct sis_wbatch *group[SIS_WRITE_GROUP];
	struct bio *bios[SIS_WRITE_GROUP];
	int res[SIS_WRITE_GROUP];
	struct sis_target *st;
	struct blk_plug plug;
	unsigned int i, n;
	struct sis_wbatch *wb;
	struct bio *bio;
	bool fua, more = true;
	int r;

	while (more) {
		n = 0;
		fua = false;
		blk_start_plug(&plug);
		while (n < SIS_WRITE_GROUP) {
			bio = sis_write_pop(pool);
			if (!bio) {
				more = false;
				break;
			}
			st = sis_bio_target(bio);
			wb = sis_write_start(st, bio, !n);
			if (!wb) {
				sis_write_unpop(pool, bio);
				break;
			}
			if (IS_ERR(wb)) {
				sis_write_end(st, bio, PTR_ERR(wb));
				continue;
			}
			bios[n] = bio;
			group[n++] = wb;
			fua |= !!(bio->bi_opf & REQ_FUA);
			/* reserves held: it must end before another starts */
			if (wb->ticket.held)
				break;
		}
		blk_finish_plug(&plug);

		for (i = 0; i < n; i++)
			res[i] = sis_write_finish(group[i]);
		r = fua ? sis_pool_commit(pool) : 0;
		for (i = 0; i < n; i++) {
			bio = bios[i];
			if (!res[i] && (bio->bi_opf & REQ_FUA))
				res[i] = r;
			sis_write_end(sis_bio_target(bio), bio, res[i]);
		}
	}
}

/* ---------------------------------------------------------------- */
/* Duplicates in map()                                              */
/* ---------------------------------------------------------------- */

/*
 * Find block @i of the bio at @iter in its own page (wb->pages[i], offset
 * in wb->res[i]) and mark it ZERO if it is zeros (zero_detect); advances
 * @iter.  Return: false if the block is not within one page of the bio.
 */
static bool sis_fast_block(struct sis_wbatch *wb, struct bio *bio,
			   struct bvec_iter *iter, unsigned int i)
{
	struct bio_vec bv = bio_iter_iovec(bio, *iter);
	struct sis_wblock *b = &wb->b[i];
	void *data;

	if (bv.bv_len < SIS_BLOCK_SIZE)
		return false;
	wb->pages[i] = bv.bv_page;
	wb->res[i] = bv.bv_offset;
	data = bvec_kmap_local(&bv);
	sis_wblock_zero(wb, b, data);
	kunmap_local(data);
	bio_advance_iter_single(bio, iter, SIS_BLOCK_SIZE);
	return true;
}

/* Fingerprint block @i of the bio (in wb->pages[i]) into its b->fp. */
static void sis_fast_fingerprint(struct sis_wbatch *wb, unsigned int i)
{
	void *data = kmap_local_page(wb->pages[i]);

	wb->b[i].fp = sis_fingerprint((u8 *)data + wb->res[i]);
	kunmap_local(data);
}

/* Is block @i of the bio (in wb->pages[i]) the data pcache entry @e holds? */
static bool sis_fast_same(struct sis_wbatch *wb, unsigned int i,
			  struct pcache_entry *e)
{
	void *data = kmap_local_page(wb->pages[i]);
	bool same = sis_block_equal((u8 *)data + wb->res[i], pcache_data(e));

	kunmap_local(data);
	return same;
}

/*
 * Blocks [1, @nr) by locality, no fingerprints taken: a duplicate's data
 * was mostly stored in a row, so the blocks on disk after block 0's
 * candidate are the likely candidates of the blocks after it in the bio
 * (ZERO blocks, never stored, skipped).  They are pinned by one core call
 * and compared, in order, with their VALID pcache entries; each equal one
 * makes its block DUP.  The first that differs, or is not cached, ends it:
 * the blocks left are fingerprinted and looked up (sis_fast_find()).  The
 * candidates not taken join the pins the batch drops.  Block 0 is DUP.
 */
static void sis_fast_follow(struct sis_wbatch *wb, unsigned int nr)
{
	struct sis_pool *pool = wb->st->pool;
	struct pcache_entry *e;
	unsigned int i, m = 0, n = 0;
	bool same;
	int got;

	for (i = 1; i < nr; i++)
		n += wb->b[i].state == SIS_W_STORE;
	got = n ? sis_core_find_next_nowait(pool->core, wb->b[0].pblock, n,
					    wb->pbs) : 0;
	if (got <= 0)
		return;
	for (i = 1; i < nr && m < got; i++) {
		if (wb->b[i].state != SIS_W_STORE)
			continue;
		e = pcache_lookup_valid(pool->dev, wb->pbs[m]);
		if (!e)
			break;
		same = sis_fast_same(wb, i, e);
		pcache_put(e);
		if (!same)
			break;
		wb->b[i].state = SIS_W_DUP;
		wb->b[i].pblock = wb->pbs[m++];
	}
	atomic64_add(m, &pool->stat_hits);
	while (m < got)
		wb->pins[wb->nr_pins++] = wb->pbs[m++];
}

/*
 * The candidates of blocks [@from, @to) still to decide (STORE: not ZERO,
 * nor DUP by sis_fast_follow()), with the nowait look-up; each found one
 * becomes DUP with its pin in b->pblock.
 * Return: false unless every one has a candidate whose data is on disk
 * (mapped) and VALID in pcache, and equal to the block's.
 */
static bool sis_fast_find(struct sis_wbatch *wb, unsigned int from,
			  unsigned int to)
{
	struct sis_pool *pool = wb->st->pool;
	struct pcache_entry *e;
	unsigned int i, n = 0;
	bool same;

	for (i = from; i < to; i++)
		if (wb->b[i].state == SIS_W_STORE) {
			wb->idx[n] = i;
			wb->skip[n++] = wb->b[i].fp;
		}
	if (!n)
		return true;
	if (sis_core_find_dups_nowait(pool->core, wb->skip, n, wb->pbs,
				      wb->unmapped) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (wb->pbs[i]) {
			wb->b[wb->idx[i]].pblock = wb->pbs[i];
			wb->b[wb->idx[i]].state = SIS_W_DUP;
		}
	for (i = 0; i < n; i++) {
		if (!wb->pbs[i] || wb->unmapped[i])
			return false;
		e = pcache_lookup_valid(pool->dev, wb->pbs[i]);
		if (!e)
			return false;
		same = sis_fast_same(wb, wb->idx[i], e);
		pcache_put(e);
		if (!same)
			return false;
	}
	atomic64_add(n, &pool->stat_hits);
	return true;
}

/*
 * A write served in map(), no worker: a bio of whole blocks, each one
 * zeros or a duplicate of a mapped block whose data pcache holds (VALID),
 * with every metadata page the mapping needs cached.  The blocks are
 * hashed and compared in the bio's own pages: nothing is copied and
 * nothing allocated (the batch comes from its mempool only if one is
 * free), no I/O is issued and nothing waits but the look-ups and the
 * mapping for the core's lock, whose holders do no I/O (a write's map()
 * holds no read ticket: see sis_core_read_begin()).  The first block is
 * looked up before the others are hashed, so a bio of new data costs one
 * block's hash here; the blocks after a duplicate first block are compared
 * with the blocks after its candidate on disk before any of them is
 * hashed (sis_fast_follow()), so a duplicate of data stored in a row costs
 * one hash and its byte compares.  Anything else (new data, a candidate
 * not cached or different, a miss, a busy range, FUA or flush, a partial
 * block) goes to the worker, which does it all again: blocks mapped here
 * before a miss are mapped again to the same block, which changes nothing.
 * Return: true if the bio is done (its caller ends it).
 */
bool sis_write_fast(struct sis_target *st, struct bio *bio)
{
	struct sis_pool *pool = st->pool;
	sector_t off = dm_target_offset(st->ti, bio->bi_iter.bi_sector);
	unsigned int len = bio->bi_iter.bi_size, nr = len >> SIS_BLOCK_SHIFT;
	struct bvec_iter iter = bio->bi_iter;
	struct sis_range range;
	struct sis_wbatch *wb;
	unsigned int i, n;
	bool done = false;
	int r;

	if (!READ_ONCE(map_writes) || st->f.read_only ||
	    (bio->bi_opf & (REQ_FUA | REQ_PREFLUSH)) ||
	    (off & (SIS_SECTORS_PER_BLOCK - 1)) || !nr ||
	    (len & (SIS_BLOCK_SIZE - 1)) || nr > SIS_MAX_IO_BLOCKS)
		return false;
	wb = sis_wbatch_new(st, off >> (SIS_BLOCK_SHIFT - SECTOR_SHIFT), nr,
			    GFP_NOWAIT);
	if (!wb)
		return false;
	sis_range_init(st, &range, wb->lblock, nr);
	if (!sis_range_try_lock(pool, &range))
		goto out_free;

	for (i = 0; i < nr; i++)
		if (!sis_fast_block(wb, bio, &iter, i))
			goto out_unpin;
	if (wb->b[0].state == SIS_W_STORE)
		sis_fast_fingerprint(wb, 0);
	if (!sis_fast_find(wb, 0, 1))
		goto out_unpin;
	if (wb->b[0].state == SIS_W_DUP)
		sis_fast_follow(wb, nr);
	for (i = 1; i < nr; i++)
		if (wb->b[i].state == SIS_W_STORE)
			sis_fast_fingerprint(wb, i);
	if (!sis_fast_find(wb, 1, nr))
		goto out_unpin;

	for (i = 0; i < nr; i++)
		wb->pbs[i] = wb->b[i].pblock;	/* 0 for ZERO: unmap */
	sis_wbatch_pin_blocks(wb);
	r = sis_core_map_batch_nowait(pool->core, st->vol, wb->lblock, nr,
				      wb->pbs, wb->res, wb->pins, wb->nr_pins);
	wb->nr_pins = 0;		/* dropped */
	for (i = 0; !r && i < nr; i++)
		r = wb->res[i];
	if (r)
		goto out_unlock;
	for (i = 0, n = 0; i < nr; i++)
		n += wb->b[i].state == SIS_W_ZERO;
	atomic64_add(n, &pool->stat_zero);
	atomic64_add(nr - n, &pool->stat_dedup);
	atomic64_add(len, &pool->stat_written);
	atomic64_inc(&pool->stat_fast_writes);
	done = true;
	goto out_unlock;

out_unpin:
	sis_wbatch_pin_blocks(wb);
	if (wb->nr_pins)
		sis_core_map_batch_nowait(pool->core, st->vol, wb->lblock, 0,
					  NULL, NULL, wb->pins, wb->nr_pins);
out_unlock:
	sis_range_unlock(pool, &range);
out_free:
	mempool_free(wb, sis_wbatch_pool);
	return done;
}

/*
 * Discard whole blocks of the range as one unmap; the partial blocks at its
 * ends are left alone (discard is advisory).
 */
int sis_write_discard(struct sis_target *st, struct bio *bio)
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
	sis_range_lock(st, &range, first, last - first);
	r = sis_core_unmap(st->pool->core, st->vol, first, last - first);
	sis_range_unlock(st->pool, &range);
	return r;
}

int sis_write_init(void)
{
	sis_wbatch_pool = mempool_create_kmalloc_pool(SIS_WBATCH_POOL_MIN,
						      sizeof(struct sis_wbatch));
	return sis_wbatch_pool ? 0 : -ENOMEM;
}

void sis_write_exit(void)
{
	mempool_destroy(sis_wbatch_pool);
}
