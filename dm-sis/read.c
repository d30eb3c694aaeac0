// SPDX-License-Identifier: GPL-2.0
/*
 * read.c: the read path of the "sis" target.
 *
 * dm core splits bios at 128 KiB boundaries (max_io_len is
 * SIS_MAX_IO_BLOCKS blocks).  A bio is served block by block into its own
 * pages: unmapped blocks are zeros; unique blocks (refcount 1) are read
 * from the disk by one bio per run of them in order on disk, whatever
 * blocks sit between them in the bio (a gather bio, chained to it; a
 * refcount block between them on disk is read into the pool's sink page),
 * or the bio is remapped whole if every block of it is unique and they lie
 * in a row on disk; shared blocks are copied from pcache, where one copy
 * serves every sharer.  map() never sleeps: a read whose mapping is cached
 * and whose shared blocks are all in pcache is served there
 * (sis_read_fast()), unless it has more copies to make than
 * SIS_FAST_MAX_COPIES, which the worker makes beside the submitter; any
 * other read is queued as its own work item on the pool's unbound
 * workqueue (dm-sis-target.c), where sis_read_bio() serves it the same
 * way, reading the missing shared blocks into pcache all at once.
 *
 * Invariant: a read returns the old or the new data of a block it races a
 * write with, never a third block's.  Reuse protection takes no lock and
 * no allocation: the look-up (sis_core_read_begin()) counts the bio in the
 * core's current read epoch (its ticket, kept in struct sis_bio) and
 * sis_read_end_io() uncounts it when the whole bio (every gather bio) has
 * completed; a freed block is only handed out (or discarded) after a
 * commit, which first waits for the reads of the epoch before it.  So a
 * reader holding a ticket must never wait for the core lock (a commit
 * waiting for its epoch may hold it): its read-ahead look-ups are nowait.
 *
 * This file takes no lock of its own; pcache and the core lock theirs.
 */
#include <linux/bio.h>
#include <linux/device-mapper.h>

#include "dm-sis.h"

/* ---------------------------------------------------------------- */
/* Through the shared cache                                         */
/* ---------------------------------------------------------------- */

struct pcache_entry *sis_read_cache_get(struct sis_pool *pool, u64 pblock,
					unsigned int nr)
{
	struct pcache_entry *e;
	bool hit;

	e = pcache_get_run(pool->bdev, pblock, nr, &hit);
	atomic64_inc(hit ? &pool->stat_hits : &pool->stat_misses);
	return e;
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
	if (nr > 1 && !sis_core_read_begin(pool->core, st->vol, lblock + 1,
					   nr - 1, next, refs, true, NULL)) {
		for (i = 1; i < nr && next[i - 1] == pblock + i; i++)
			;
		nr = i;
	} else {
		nr = 1;
	}
	return sis_read_cache_get(pool, pblock, nr);
}

/* ---------------------------------------------------------------- */
/* A bio, block by block                                            */
/* ---------------------------------------------------------------- */

/* How a read serves a block (see sis_read_serve()). */
enum sis_read_kind {
	SIS_READ_ZERO,		/* unmapped: zeros, no I/O */
	SIS_READ_DIRECT,	/* one logical block maps it: read from the disk */
	SIS_READ_CACHED,	/* shared: through pcache, one copy for all */
};

static enum sis_read_kind sis_read_kind(const u64 *pblocks, const u32 *refs,
					unsigned int i)
{
	if (!pblocks[i])
		return SIS_READ_ZERO;
	return refs[i] == 1 ? SIS_READ_DIRECT : SIS_READ_CACHED;
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

/* The part of @bio that holds its block @i (block 0 starts @skip bytes in). */
static struct bvec_iter sis_block_iter(struct bio *bio, unsigned int i,
				       unsigned int skip)
{
	struct bvec_iter iter = bio->bi_iter;

	if (i)
		bio_advance_iter(bio, &iter, i * SIS_BLOCK_SIZE - skip);
	iter.bi_size = min(iter.bi_size, SIS_BLOCK_SIZE - (i ? 0 : skip));
	return iter;
}

/* Copy the held entry @e into block @i of @bio, or zero it if @e is NULL. */
static void sis_fill_block(struct bio *bio, unsigned int i, unsigned int skip,
			   struct pcache_entry *e)
{
	const u8 *src = e ? (u8 *)pcache_data(e) + (i ? 0 : skip) : NULL;
	struct bvec_iter iter;
	struct bio_vec bv;

	__bio_for_each_segment(bv, bio, iter, sis_block_iter(bio, i, skip)) {
		if (src) {
			memcpy_to_bvec(&bv, src);
			src += bv.bv_len;
		} else {
			memzero_bvec(&bv);
		}
	}
}

/*
 * A gather bio reads through up to this many disk blocks between two
 * unique blocks of a bio into the pool's sink page rather than split: the
 * format puts a refcount block after every group of SIS_GROUP_BLOCKS - 1
 * data blocks, so about one 128 KiB run of data written in a row in eight
 * has one in its middle.
 */
#define SIS_READ_MAX_HOLE	1

/*
 * The last of the unique blocks from @i (of kind DIRECT) that follow it on
 * disk in order, at most SIS_READ_MAX_HOLE blocks apart, skipping the
 * blocks of other kinds between them in the bio; *@next: the next unique
 * block after it (or @nr).
 */
static unsigned int sis_read_run_last(const u64 *pblocks, const u32 *refs,
				      unsigned int i, unsigned int nr,
				      unsigned int *next)
{
	unsigned int j, last = i;

	for (j = i + 1; j < nr; j++) {
		if (sis_read_kind(pblocks, refs, j) != SIS_READ_DIRECT)
			continue;
		if (pblocks[j] <= pblocks[last] ||
		    pblocks[j] - pblocks[last] > SIS_READ_MAX_HOLE + 1)
			break;
		last = j;
	}
	*next = j;
	return last;
}

#define SIS_READ_FLAGS	(REQ_SYNC | REQ_META | REQ_PRIO)

/*
 * Is every one of the @nr blocks of a bio unique, and the blocks in a row
 * on disk from @pblocks[0]?  Only then is the bio remapped whole: a run of
 * sis_read_run_last() may skip blocks of other kinds in the bio, and a
 * hole on disk may sit just where such a block is.
 */
static bool sis_read_contiguous(const u64 *pblocks, const u32 *refs,
				unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (sis_read_kind(pblocks, refs, i) != SIS_READ_DIRECT ||
		    pblocks[i] != pblocks[0] + i)
			return false;
	return true;
}

/* Send @bio, whose first block is @skip bytes into @pblock, to the disk. */
static void sis_read_remap(struct sis_target *st, struct bio *bio, u64 pblock,
			   unsigned int skip)
{
	bio_set_dev(bio, st->pool->bdev);
	bio->bi_iter.bi_sector = block_to_sector(pblock) + (skip >> SECTOR_SHIFT);
}

/*
 * A bio that reads the unique blocks @first..@last of @bio (those of kind
 * DIRECT, in order on disk from @pblocks[@first], as sis_read_run_last()
 * found them) straight into @bio's pages (the caller chains it to @bio):
 * the disk sees one request for them however many shared or unmapped
 * blocks sit between them in @bio.  The disk blocks between two of them
 * (a refcount block) are read into the pool's sink page, whose contents
 * nobody reads.  NULL if @gfp cannot allocate it.
 */
static struct bio *sis_read_gather(struct sis_target *st, struct bio *bio,
				   const u64 *pblocks, const u32 *refs,
				   unsigned int first, unsigned int last,
				   unsigned int skip, gfp_t gfp)
{
	struct page *sink = st->pool->sink;
	unsigned short nr_vecs = 0;
	struct bvec_iter iter;
	struct bio_vec bv;
	u64 next = pblocks[first];
	struct bio *gb;
	unsigned int i;

	for (i = first; i <= last; i++)
		if (sis_read_kind(pblocks, refs, i) == SIS_READ_DIRECT) {
			nr_vecs += pblocks[i] - next;	/* holes */
			next = pblocks[i] + 1;
			__bio_for_each_segment(bv, bio, iter,
					       sis_block_iter(bio, i, skip))
				nr_vecs++;
		}
	gb = bio_alloc_bioset(st->pool->bdev, nr_vecs,
			      REQ_OP_READ | (bio->bi_opf & SIS_READ_FLAGS), gfp,
			      &st->pool->bs);
	if (!gb)
		return NULL;
	bio_clone_blkg_association(gb, bio);
	gb->bi_ioprio = bio->bi_ioprio;
	gb->bi_iter.bi_sector = block_to_sector(pblocks[first]) +
				((first ? 0 : skip) >> SECTOR_SHIFT);
	next = pblocks[first];
	for (i = first; i <= last; i++) {
		if (sis_read_kind(pblocks, refs, i) != SIS_READ_DIRECT)
			continue;
		for (; next < pblocks[i]; next++)
			WARN_ON_ONCE(bio_add_page(gb, sink, SIS_BLOCK_SIZE, 0) !=
				     SIS_BLOCK_SIZE);
		next = pblocks[i] + 1;
		__bio_for_each_segment(bv, bio, iter,
				       sis_block_iter(bio, i, skip))
			WARN_ON_ONCE(bio_add_page(gb, bv.bv_page, bv.bv_len,
						  bv.bv_offset) != bv.bv_len);
	}
	return gb;
}

/*
 * The shared blocks of a worker read, from pcache: those missing from it
 * are read all at once, one bio per run contiguous on disk
 * (pcache_get_batch()), not one after another.  A lone shared block reads
 * ahead the blocks that follow it both logically and on disk instead
 * (sis_cache_get_run()).  *@bad: the first block that failed.
 * Return: 0 or the first error.
 */
static int sis_read_cached(struct sis_target *st, struct bio *bio, u64 lblock,
			   const u64 *pblocks, const u32 *refs, unsigned int nr,
			   unsigned int skip, unsigned int *bad)
{
	struct sis_pool *pool = st->pool;
	struct pcache_entry *es[SIS_MAX_IO_BLOCKS];
	u64 pbs[SIS_MAX_IO_BLOCKS];
	u8 idx[SIS_MAX_IO_BLOCKS];
	unsigned int i, k, n = 0, got, misses;
	int r, err = 0;

	for (i = 0; i < nr; i++)
		if (sis_read_kind(pblocks, refs, i) == SIS_READ_CACHED) {
			idx[n] = i;
			pbs[n++] = pblocks[i];
		}
	for (k = 0; k < n; k += got) {
		if (n == 1) {
			es[0] = sis_cache_get_run(st, lblock + idx[0], pbs[0]);
			got = 1;
		} else {
			/* all at once, unless memory is short */
			got = pcache_get_batch(pool->bdev, pbs + k, n - k,
					       es + k, &misses);
			atomic64_add(misses, &pool->stat_misses);
			atomic64_add(got - misses, &pool->stat_hits);
		}
		for (i = k; i < k + got; i++) {
			r = IS_ERR(es[i]) ? PTR_ERR(es[i]) : pcache_wait(es[i]);
			if (r && !err) {
				err = r;
				*bad = idx[i];
			}
			if (!err)
				sis_fill_block(bio, idx[i], skip, es[i]);
			if (!IS_ERR(es[i]))
				pcache_put(es[i]);
		}
	}
	return err;
}

/* ---------------------------------------------------------------- */
/* The worker, map() and end_io                                     */
/* ---------------------------------------------------------------- */

/*
 * A read of up to SIS_MAX_IO_BLOCKS blocks, in the worker.  One look-up
 * maps every block and takes a read ticket for the whole bio (so no block
 * it reads is reallocated under it, whatever writes do meanwhile, until
 * sis_read_end_io()).  A bio of unique blocks contiguous on disk is
 * remapped whole.  Otherwise it is served block by block, into its own
 * pages: its unique blocks are read by one bio per run of them contiguous
 * on disk, whatever blocks sit between them (sis_read_gather(), all
 * submitted first so they are in flight together), unmapped blocks are
 * zeros, and shared blocks are copied from pcache, where one copy serves
 * every sharer on every device.
 */
void sis_read_bio(struct sis_target *st, struct bio *bio)
{
	struct sis_bio *sb = dm_per_bio_data(bio, sizeof(*sb));
	u64 pblocks[SIS_MAX_IO_BLOCKS];
	u32 refs[SIS_MAX_IO_BLOCKS];
	unsigned int i, j, last, skip, nr, bad = 0;
	struct bio *gb;
	u64 lblock;
	int r;

	lblock = sis_bio_lblock(st, bio, &skip, &nr);
	if (WARN_ON_ONCE(nr > SIS_MAX_IO_BLOCKS)) {
		sis_pool_end_bio(st, bio, lblock, -EIO);
		return;
	}
	for (;;) {
		r = sis_core_read_begin(st->pool->core, st->vol, lblock, nr,
					pblocks, refs, false, &sb->ticket);
		if (r != -ENOMEM)
			break;
		sis_pool_nomem_wait(st->pool);
	}
	if (r) {
		sis_pool_end_bio(st, bio, lblock, r);
		return;
	}
	sb->ticket_held = true;
	if (sis_read_contiguous(pblocks, refs, nr)) {
		sis_read_remap(st, bio, pblocks[0], skip);
		submit_bio_noacct(bio);
		return;
	}
	for (i = 0; i < nr; i = j) {
		j = i + 1;
		if (sis_read_kind(pblocks, refs, i) != SIS_READ_DIRECT)
			continue;
		last = sis_read_run_last(pblocks, refs, i, nr, &j);
		/* from the bio_set's reserve: each is submitted before the next */
		gb = sis_read_gather(st, bio, pblocks, refs, i, last, skip,
				     GFP_NOIO);
		bio_chain(gb, bio);
		submit_bio_noacct(gb);
	}
	for (i = 0; i < nr; i++)
		if (sis_read_kind(pblocks, refs, i) == SIS_READ_ZERO)
			sis_fill_block(bio, i, skip, NULL);
	r = sis_read_cached(st, bio, lblock, pblocks, refs, nr, skip, &bad);
	sis_pool_end_bio(st, bio, lblock + bad, r);
}

/*
 * A read with more blocks than this to copy from pcache (more than half of
 * the largest bio) is bulk work: copied in map(), the copies would run on
 * the submitter's CPU, one bio after another, before it could submit its
 * next bio or use the pages it has (a stream's read-ahead is not even
 * waited for); a worker copies them beside it, as a disk's DMA would, and
 * several at once.  A read with fewer copies costs less than the hop.
 */
#define SIS_FAST_MAX_COPIES	(SIS_MAX_IO_BLOCKS / 2)

static unsigned int sis_read_copies(const u64 *pblocks, const u32 *refs,
				    unsigned int nr)
{
	unsigned int i, copies = 0;

	for (i = 0; i < nr; i++)
		copies += sis_read_kind(pblocks, refs, i) == SIS_READ_CACHED;
	return copies;
}

/* A read in map() with more runs of unique blocks than this goes to the worker. */
#define SIS_FAST_MAX_GATHERS	8

/*
 * A read in map(), without sleeping, when every map and refcount page it
 * needs is cached and the core lock is free: served there and then as
 * sis_read_bio() serves it, if every shared block it reads is VALID in
 * pcache and its gather bios (at most SIS_FAST_MAX_GATHERS) can be
 * allocated at once, and it has at most SIS_FAST_MAX_COPIES blocks to
 * copy.  A bio of unique blocks contiguous on disk is remapped
 * (DM_MAPIO_REMAPPED: no worker, no copy).  Anything else goes to the
 * worker whole, nothing done: return false.
 */
bool sis_read_fast(struct sis_target *st, struct bio *bio, struct sis_bio *sb,
		   int *mapio)
{
	struct sis_pool *pool = st->pool;
	struct pcache_entry *es[SIS_MAX_IO_BLOCKS];
	struct bio *gbs[SIS_FAST_MAX_GATHERS];
	u64 pblocks[SIS_MAX_IO_BLOCKS];
	u32 refs[SIS_MAX_IO_BLOCKS];
	unsigned int skip, nr, ticket, i, j, last, n = 0, nr_gb = 0;
	u64 lblock;

	lblock = sis_bio_lblock(st, bio, &skip, &nr);
	if (nr > SIS_MAX_IO_BLOCKS ||
	    sis_core_read_begin(pool->core, st->vol, lblock, nr, pblocks,
				refs, true, &ticket))
		return false;
	sb->ticket = ticket;
	sb->ticket_held = true;
	if (sis_read_contiguous(pblocks, refs, nr)) {
		sis_read_remap(st, bio, pblocks[0], skip);
		*mapio = DM_MAPIO_REMAPPED;
		goto served;
	}
	if (sis_read_copies(pblocks, refs, nr) > SIS_FAST_MAX_COPIES)
		goto fail;
	for (i = 0; i < nr; i++) {
		if (sis_read_kind(pblocks, refs, i) != SIS_READ_CACHED)
			continue;
		es[n] = pcache_lookup_valid(pool->dev, pblocks[i]);
		if (!es[n])
			goto fail;
		n++;
	}
	for (i = 0; i < nr; i = j) {
		j = i + 1;
		if (sis_read_kind(pblocks, refs, i) != SIS_READ_DIRECT)
			continue;
		last = sis_read_run_last(pblocks, refs, i, nr, &j);
		if (nr_gb == SIS_FAST_MAX_GATHERS)
			goto fail;
		gbs[nr_gb] = sis_read_gather(st, bio, pblocks, refs, i, last,
					     skip, GFP_NOWAIT);
		if (!gbs[nr_gb])
			goto fail;
		nr_gb++;
	}
	for (i = 0; i < nr_gb; i++) {
		bio_chain(gbs[i], bio);
		submit_bio_noacct(gbs[i]);
	}
	for (i = 0, n = 0; i < nr; i++) {
		switch (sis_read_kind(pblocks, refs, i)) {
		case SIS_READ_ZERO:
			sis_fill_block(bio, i, skip, NULL);
			break;
		case SIS_READ_CACHED:
			sis_fill_block(bio, i, skip, es[n]);
			pcache_put(es[n++]);
			break;
		case SIS_READ_DIRECT:
			break;
		}
	}
	atomic64_add(n, &pool->stat_hits);
	bio_endio(bio);
	*mapio = DM_MAPIO_SUBMITTED;
served:
	atomic64_inc(&pool->stat_fast_reads);
	return true;

fail:
	while (nr_gb)
		bio_put(gbs[--nr_gb]);
	while (n)
		pcache_put(es[--n]);
	sb->ticket_held = false;
	sis_core_read_end(pool->core, ticket);
	return false;
}

/*
 * Every bio of the target ends here (remapped or completed by us): a read
 * gives back its ticket, which kept the blocks it read from reuse.  Takes
 * no lock and never sleeps (may run in hard-IRQ context).
 */
int sis_read_end_io(struct dm_target *ti, struct bio *bio,
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
