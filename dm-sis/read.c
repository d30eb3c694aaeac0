// SPDX-License-Identifier: GPL-2.0
/*
 * read.c: the read path of the "sis" target.
 *
 * dm core splits bios at 128 KiB boundaries (max_io_len is
 * SIS_MAX_IO_BLOCKS blocks).  map() never sleeps: a read whose mapping is
 * cached is served there at once, a run of blocks of one kind at a time
 * (sis_read_fast()): remapped, zero-filled, or copied from pcache as far
 * as its shared blocks are there; any other read is queued as its own
 * work item on the pool's unbound
 * workqueue (dm-sis-target.c), where sis_read_bio() looks its blocks up at
 * once and cuts it into runs: unmapped runs are zeros, unique blocks
 * contiguous on disk are remapped to the disk as one bio, shared blocks
 * are served from pcache, where one copy serves every sharer.
 *
 * Invariant: a read returns the old or the new data of a block it races a
 * write with, never a third block's.  Reuse protection takes no lock and
 * no allocation: the look-up (sis_core_read_begin()) counts the bio in the
 * core's current read epoch (its ticket, kept in struct sis_bio) and
 * sis_read_end_io() uncounts it when the whole bio (every piece) has
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
/* Runs of one kind                                                 */
/* ---------------------------------------------------------------- */

/* How a read serves a block (see sis_read_bio()). */
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
 * from reuse until the whole bio ends (its read ticket, sis_read_end_io()).
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
	sis_pool_end_bio(st, piece, lblock + i, r);
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

/* ---------------------------------------------------------------- */
/* The worker, map() and end_io                                     */
/* ---------------------------------------------------------------- */

/*
 * A read of up to SIS_MAX_IO_BLOCKS blocks, in the worker.  One look-up
 * maps every block and takes a read ticket for the whole bio (so no block
 * it reads is reallocated under it, whatever writes do meanwhile, until
 * sis_read_end_io()); then the bio is cut into runs of one kind, each a piece
 * chained to it: unmapped runs complete with zeros and no I/O; runs of
 * unique blocks that are contiguous on disk are remapped as one bio (no copy
 * and no cache space for data only one logical block reads); shared blocks
 * are read through pcache, where one copy serves every sharer on every
 * device.
 */
void sis_read_bio(struct sis_target *st, struct bio *bio)
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

/* A bio of more runs than this goes to the worker (one look-up for all). */
#define SIS_FAST_MAX_RUNS	4

/*
 * In map(): copy shared blocks @pblocks[0..nr) into @bio from pcache, one
 * held entry at a time, up to the first that is not there and VALID now.
 * Return: the number of blocks copied.
 */
static unsigned int sis_read_fast_copy(struct sis_pool *pool, struct bio *bio,
				       const u64 *pblocks, unsigned int nr,
				       unsigned int skip)
{
	struct bvec_iter iter = bio->bi_iter;
	struct pcache_entry *e;
	unsigned int i, len;

	for (i = 0; i < nr; i++, skip = 0) {
		e = pcache_lookup_valid(pool->dev, pblocks[i]);
		if (!e)
			break;
		len = min(iter.bi_size, SIS_BLOCK_SIZE - skip);
		copy_to_bio(bio, &iter, (u8 *)pcache_data(e) + skip, len);
		pcache_put(e);
	}
	atomic64_add(i, &pool->stat_hits);
	return i;
}

/*
 * A read in map(), without sleeping, when every map and refcount page it
 * needs is cached and the core lock is free.  Its first run of blocks of
 * one kind is served there and then: unique blocks contiguous on disk are
 * remapped to the disk (DM_MAPIO_REMAPPED: no worker, no copy), unmapped
 * blocks complete with zeros, and shared blocks VALID in pcache are copied
 * from it.  If the bio holds more runs, dm core sends
 * the rest as a bio of its own (dm_accept_partial_bio()), which comes back
 * here; so does the rest of a shared run after a block missing from
 * pcache.  Anything else (a first shared block missing from pcache, more
 * than SIS_FAST_MAX_RUNS runs, a page to read, a busy lock) goes to the
 * worker whole: return false.
 */
bool sis_read_fast(struct sis_target *st, struct bio *bio, struct sis_bio *sb,
		   int *mapio)
{
	struct sis_pool *pool = st->pool;
	u64 pblocks[SIS_MAX_IO_BLOCKS];
	u32 refs[SIS_MAX_IO_BLOCKS];
	unsigned int skip, nr, ticket, j, k, runs = 1;
	enum sis_read_kind kind;
	u64 lblock;

	lblock = sis_bio_lblock(st, bio, &skip, &nr);
	if (nr > SIS_MAX_IO_BLOCKS ||
	    sis_core_read_begin(pool->core, st->vol, lblock, nr, pblocks,
				refs, true, &ticket))
		return false;
	kind = sis_read_kind(pblocks, refs, 0);
	j = sis_read_run_end(pblocks, refs, 0, nr);
	for (k = j; k < nr && runs <= SIS_FAST_MAX_RUNS; runs++)
		k = sis_read_run_end(pblocks, refs, k, nr);
	/* a shared run is served as far as pcache holds it, from its start */
	if (runs <= SIS_FAST_MAX_RUNS && kind == SIS_READ_CACHED)
		j = sis_read_fast_copy(pool, bio, pblocks, j, skip);
	if (runs > SIS_FAST_MAX_RUNS || !j) {
		sis_core_read_end(pool->core, ticket);
		return false;
	}
	if (j < nr)
		dm_accept_partial_bio(bio, (j * SIS_BLOCK_SIZE - skip) >>
				      SECTOR_SHIFT);
	atomic64_inc(&pool->stat_fast_reads);
	if (kind == SIS_READ_DIRECT) {
		sb->ticket = ticket;
		sb->ticket_held = true;
		sis_remap(st, bio, pblocks, skip);
		*mapio = DM_MAPIO_REMAPPED;
		return true;
	}
	if (kind == SIS_READ_ZERO)
		zero_fill_bio(bio);
	sis_core_read_end(pool->core, ticket);
	bio_endio(bio);
	*mapio = DM_MAPIO_SUBMITTED;
	return true;
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
