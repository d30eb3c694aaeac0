// SPDX-License-Identifier: GPL-2.0
/*
 * journal.c - metadata transactions: commit, checkpoint, recovery.
 *
 * The hard part of dm-sis's crash safety lives here.  Metadata blocks have
 * fixed home locations and are changed in place, so a transaction must never
 * reach a home location before it is durable in the journal:
 *
 *  commit:     write a descriptor naming every dirty page and the page
 *              images; flush (this also makes durable the data that
 *              completed before its mappings were made); write the commit
 *              block carrying the new root and a checksum over the checksums
 *              of every block of the transaction; flush.  The transaction is
 *              durable now.  Blocks freed by it become allocatable (and are
 *              discarded first if passdown is on).
 *  checkpoint: when the journal is more than half full after a commit, write
 *              every committed page home, flush, then write the other
 *              superblock copy with the new journal tail and root, flush.
 *              Only then may the journal space be reused.
 *  recovery:   from the newer valid superblock, read transactions from its
 *              tail in sequence order; a transaction counts only if every
 *              block verifies (type, location, sequence, checksum) and its
 *              commit block's aggregate checksum matches.  The first
 *              transaction that fails ends the journal.  Recovery then reads
 *              the whole journal once more, so its time is bounded by twice
 *              the journal size (at most 64 MiB each way).
 *
 * Torn end or damage?  The commit block is written only after the body is
 * durable, so a crash can leave a transaction without a valid commit block,
 * never a valid commit block over an incomplete body.  When recovery stops
 * at transaction N, a valid commit block of N, or any valid descriptor or
 * commit block of a later transaction, means committed metadata was damaged
 * (not torn): the device is refused, or opened read-only with needs_check
 * when the caller asked to see damaged metadata (check, repair).  Damage to
 * the commit block of the very last transaction alone looks like a torn
 * end and cannot be told from one.
 *
 * Out of memory (the core's own buffers are allocated at open, but the
 * write op may fail with -ENOMEM): a commit that fails before its commit
 * block was written leaves the transaction open and intact, and is simply
 * retried.  That is safe: the head does not move, so the retry writes its
 * body over the same journal blocks, with the same sequence number, and
 * only the retry's commit block (written after its body is durable) can
 * seal the transaction.  Blocks of the failed attempt left beyond the
 * retry's end carry a sequence number below every later transaction's and
 * no commit block of theirs exists, so recovery neither replays them nor
 * takes them for damage.  A checkpoint that fails for memory after a
 * durable commit is owed (c->ckpt_owed): it is done before any page is
 * dirtied again, and before the next transaction is written.
 *
 * A torn or reordered write anywhere in a transaction makes recovery stop
 * before it: the state is that of the previous commit.  A torn superblock
 * write leaves the other copy, whose tail still points at intact journal
 * blocks, since nothing is written to the journal before the checkpoint
 * that wrote the superblock has finished.
 *
 * All functions are called with c->lock held.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/crc32c.h>
#include "core-internal.h"

static u64 journal_loc(struct sis_core *c, u64 pos)
{
	u64 rem;

	div64_u64_rem(pos, c->journal_blocks, &rem);
	return c->journal_start + rem;
}

/**
 * sis_journal_setup() - derive transaction limits from the journal size
 *
 * A transaction plus its descriptors and commit block must fit in the half
 * of the journal a checkpoint leaves free.
 */
void sis_journal_setup(struct sis_core *c)
{
	u64 half = c->journal_blocks / 2;

	BUILD_BUG_ON(SIS_MIN_JOURNAL_BLOCKS / 2 < SIS_OP_MAX_DIRTY + 4);
	c->txn_limit = half - half / SIS_JOURNAL_DESC_MAX - 2 - SIS_OP_MAX_DIRTY;
}

/**
 * sis_journal_alloc() - allocate c->jbuf for the journal's size
 *
 * A transaction never holds more blocks than the journal, so descriptors
 * for journal_blocks pages and a commit block always suffice; recovery uses
 * the first two blocks.  Called at open, once the layout is known and
 * checked.
 *
 * Return: 0 or -ENOMEM.
 */
int sis_journal_alloc(struct sis_core *c)
{
	unsigned int blocks = DIV_ROUND_UP_ULL(c->journal_blocks,
					       SIS_JOURNAL_DESC_MAX) + 1;

	blocks = max(blocks, 2U);
	if (c->jbuf_blocks >= blocks)
		return 0;
	kvfree(c->jbuf);
	c->jbuf = kvmalloc_array(blocks, SIS_BLOCK_SIZE, GFP_KERNEL);
	c->jbuf_blocks = c->jbuf ? blocks : 0;
	return c->jbuf ? 0 : -ENOMEM;
}

/*
 * A write op failed: when for memory (a transient error the caller may
 * retry after), wait for the writes already issued, so the core may change
 * their buffers again; a failing flush is the error then.
 */
static int journal_drain(struct sis_core *c, int r)
{
	int r2;

	if (r != -ENOMEM)
		return r;
	r2 = c->ops.flush(c->ops.ctx);
	return r2 ? r2 : r;
}

/*
 * Write the superblock copy after the current one.  On failure the
 * sequence is rolled back, so the next attempt rewrites the same copy and
 * never the other, which is the valid one.
 */
int __sis_sb_write(struct sis_core *c, u32 flags)
{
	struct sis_disk_superblock *sb = &c->sb;
	u64 old_seq = le64_to_cpu(sb->sb_seq);
	u64 copy;
	int r;

	sb->flags = cpu_to_le32(flags);
	sb->sb_seq = cpu_to_le64(old_seq + 1);
	copy = le64_to_cpu(sb->sb_seq) & 1;
	sis_block_seal(c, sb, SIS_BT_SUPERBLOCK, copy, c->seq);
	r = c->ops.write(c->ops.ctx, copy, sb);
	if (!r)
		r = c->ops.flush(c->ops.ctx);
	if (r)
		sb->sb_seq = cpu_to_le64(old_seq);
	return r;
}

/**
 * __sis_journal_checkpoint() - write committed pages home, advance the tail
 *
 * Called only when no page is dirty (right after a commit or recovery, or
 * for an owed checkpoint before the first page of a transaction is
 * dirtied), so every page's content is committed content.  Allocates
 * nothing.  On failure nothing committed is lost and it may be retried:
 * home writes of committed images are harmless, the journal is not reused
 * (the tail moves only after the superblock is durable), and the in-RAM
 * superblock's new tail describes a durable state (the home writes were
 * flushed before it was written).
 */
int __sis_journal_checkpoint(struct sis_core *c)
{
	struct sis_page *pg, *tmp;
	u32 flags;
	int r;

	if (WARN_ON(c->mc_nr_dirty))
		return -EINVAL;
	list_for_each_entry(pg, &c->mc_ckpt, list) {
		r = c->ops.write(c->ops.ctx, pg->blocknr, pg->data);
		if (r)
			return journal_drain(c, r);
	}
	r = c->ops.flush(c->ops.ctx);
	if (r)
		return r;

	c->sb.tail_seq = cpu_to_le64(c->seq);
	c->sb.tail_block = cpu_to_le64(journal_loc(c, c->head) - c->journal_start);
	c->sb.root = c->committed_root;
	flags = le32_to_cpu(c->sb.flags) & ~SIS_SB_CLEAN;
	r = __sis_sb_write(c, flags);
	if (r)
		return journal_drain(c, r);
	c->tail = c->head;
	c->ckpt_owed = false;

	list_for_each_entry_safe(pg, tmp, &c->mc_ckpt, list) {
		pg->needs_ckpt = false;
		list_move_tail(&pg->list, &c->mc_lru);
	}
	return 0;
}

static int journal_write(struct sis_core *c, u64 *pos, const void *block,
			 u32 *agg)
{
	const struct sis_disk_header *h = block;
	int r;

	r = c->ops.write(c->ops.ctx, journal_loc(c, *pos), block);
	*agg = crc32c(*agg, &h->csum, sizeof(h->csum));
	(*pos)++;
	return r;
}

/*
 * Write the open transaction to the journal and flush.  Returns 0 when it is
 * durable; on -ENOMEM (from the write op) no commit block was written and
 * the transaction may be retried (see the top of this file).
 */
static int journal_write_txn(struct sis_core *c, u64 *end)
{
	u64 ndirty = c->mc_nr_dirty;
	unsigned int ndesc = DIV_ROUND_UP(ndirty, SIS_JOURNAL_DESC_MAX);
	struct sis_disk_journal_commit *cb;
	struct sis_disk_journal_desc *d = NULL;
	struct sis_page *pg;
	u64 pos = c->head, start = c->head;
	unsigned int used = 0;
	u32 agg = 0;
	int r;

	if (ndirty + ndesc + 1 > c->journal_blocks - (c->head - c->tail)) {
		sis_log(c, 3, "transaction of %llu pages does not fit the journal (%llu, %llu)",
			(unsigned long long)ndirty, (unsigned long long)c->head,
			(unsigned long long)c->tail);
		return -ENOSPC;
	}
	/* fits the journal, so it fits jbuf (sis_journal_alloc()) */
	if (WARN_ON(ndesc + 1 > c->jbuf_blocks))
		return -EINVAL;

	/* Seal every page, then write descriptors each followed by its pages. */
	list_for_each_entry(pg, &c->mc_dirty, list)
		sis_block_seal(c, pg->data, pg->type, pg->blocknr, c->seq);

	pg = list_first_entry(&c->mc_dirty, struct sis_page, list);
	while (used < ndesc) {
		unsigned int i, n = min_t(u64, ndirty, SIS_JOURNAL_DESC_MAX);
		struct sis_page *first = pg;

		d = (void *)((u8 *)c->jbuf + (size_t)used * SIS_BLOCK_SIZE);
		memset(d, 0, SIS_BLOCK_SIZE);
		d->nr = cpu_to_le32(n);
		for (i = 0; i < n; i++) {
			d->target[i] = cpu_to_le64(pg->blocknr);
			pg = list_next_entry(pg, list);
		}
		sis_block_seal(c, d, SIS_BT_JOURNAL_DESC, journal_loc(c, pos), c->seq);
		r = journal_write(c, &pos, d, &agg);
		for (pg = first, i = 0; !r && i < n; i++) {
			r = journal_write(c, &pos, pg->data, &agg);
			pg = list_next_entry(pg, list);
		}
		if (r)
			return journal_drain(c, r);
		ndirty -= n;
		used++;
	}

	/* The body (and the data its mappings name) durable before the seal. */
	r = c->ops.flush(c->ops.ctx);
	if (r)
		return r;
	cb = (void *)((u8 *)c->jbuf + (size_t)used * SIS_BLOCK_SIZE);
	memset(cb, 0, SIS_BLOCK_SIZE);
	cb->nr_blocks = cpu_to_le32(pos - start);
	cb->agg_csum = cpu_to_le32(agg);
	cb->root = c->root;
	sis_block_seal(c, cb, SIS_BT_JOURNAL_COMMIT, journal_loc(c, pos), c->seq);
	r = journal_write(c, &pos, cb, &agg);
	if (r)
		return journal_drain(c, r);
	r = c->ops.flush(c->ops.ctx);
	*end = pos;
	return r;
}

/**
 * __sis_journal_commit() - make the open transaction durable
 *
 * Allocates nothing.
 *
 * Return: 0; -ENOMEM (the write op ran out of memory) with nothing
 * committed and the transaction intact, to be retried later; or another
 * -errno after which the caller must abort the transaction.
 */
int __sis_journal_commit(struct sis_core *c)
{
	struct sis_page *pg, *tmp;
	u64 end;
	int r;

	/* An owed checkpoint first: the journal may have no room before it. */
	if (c->ckpt_owed) {
		if (WARN_ON(c->mc_nr_dirty))
			return -EINVAL;
		r = __sis_journal_checkpoint(c);
		if (r && (r != -ENOMEM || c->root_dirty))
			return r;
	}

	/* Nothing to write: still a flush (it is what REQ_PREFLUSH becomes). */
	if (!c->mc_nr_dirty && !c->root_dirty)
		return c->ops.flush(c->ops.ctx);

	r = journal_write_txn(c, &end);
	if (r)
		return r;

	/* Durable: pages wait for the checkpoint, freed blocks become free. */
	c->head = end;
	c->seq++;
	c->commits++;
	c->root_dirty = false;
	c->committed_root = c->root;
	/* freed blocks may still be read by reads begun before the commit */
	if (c->nr_pending_free)
		__sis_readers_drain(c);
	list_for_each_entry_safe(pg, tmp, &c->mc_dirty, list) {
		if (pg->shadow) {
			r = __sis_release_freed(c, pg);
			kfree(pg->shadow);
			pg->shadow = NULL;
			if (r)
				sis_log(c, 4, "discard passdown failed: %d", r);
		}
		pg->dirty = false;
		pg->needs_ckpt = true;
		list_move_tail(&pg->list, &c->mc_ckpt);
	}
	c->mc_nr_dirty = 0;
	c->nr_pending_free = 0;

	if (c->head - c->tail <= c->journal_blocks / 2)
		return 0;
	r = __sis_journal_checkpoint(c);
	if (r == -ENOMEM) {
		/* The commit is durable; the checkpoint is retried later. */
		c->ckpt_owed = true;
		r = 0;
	}
	return r;
}

/**
 * __sis_commit() - commit the open transaction, aborting on failure
 *
 * Return: 0; -ENOMEM: nothing was committed, the transaction is intact and
 * the mode unchanged, retry later; or -EIO after aborting the transaction
 * (see __sis_metadata_error()).
 */
int __sis_commit(struct sis_core *c)
{
	int r = __sis_journal_commit(c);

	if (!r || r == -ENOMEM)
		return r;
	return __sis_metadata_error(c, -EIO, "commit");
}

/**
 * __sis_checkpoint_owed() - before the first page of a transaction is
 * dirtied: do a checkpoint that failed for memory after the last commit
 *
 * Return: 0, -ENOMEM (still owed: the caller must not dirty the page), or
 * -EIO after aborting.
 */
int __sis_checkpoint_owed(struct sis_core *c)
{
	int r;

	if (!c->ckpt_owed)
		return 0;
	if (WARN_ON(c->mc_nr_dirty))
		return __sis_metadata_error(c, -EIO, "checkpoint owed");
	r = __sis_journal_checkpoint(c);
	if (!r || r == -ENOMEM)
		return r;
	return __sis_metadata_error(c, -EIO, "checkpoint");
}

/**
 * __sis_commit_if_full() - commit if the open transaction is near its limit
 *
 * Called at the start of every operation that dirties pages, so one more
 * operation (at most SIS_OP_MAX_DIRTY pages) always fits.
 *
 * Return: as __sis_commit(); on -ENOMEM the operation must fail before it
 * dirties anything.
 */
int __sis_commit_if_full(struct sis_core *c)
{
	if (c->mc_nr_dirty < c->txn_limit)
		return 0;
	return __sis_commit(c);
}

/**
 * __sis_maybe_commit() - at an operation boundary: commit if the open
 * transaction is near its limit
 */
int __sis_maybe_commit(struct sis_core *c)
{
	return __sis_commit_if_full(c);
}

static bool journal_image_type_ok(u32 type)
{
	return type == SIS_BT_RC ||
	       type == SIS_BT_MAP_NODE || type == SIS_BT_MAP_LEAF;
}

/*
 * Read and verify the transaction at *pos with sequence c->seq.  On success
 * the images are installed in the cache, *root is its root, *pos is past it.
 * Return: 0, 1 when there is no valid transaction there, or -errno.
 */
static int journal_read_txn(struct sis_core *c, u64 *pos,
			    struct sis_disk_root *root, void *buf, void *img)
{
	u64 p = *pos, start = *pos, i, n;
	struct sis_disk_journal_desc *d = buf;
	struct sis_disk_journal_commit *cb = buf;
	const struct sis_disk_header *ih = img;
	u32 agg = 0;
	int r;

	/* First pass: verify everything; install nothing. */
	for (;;) {
		if (p - start >= c->journal_blocks)
			return 1;
		r = c->ops.read(c->ops.ctx, journal_loc(c, p), buf);
		if (r)
			return r;
		if (le64_to_cpu(d->hdr.seq) != c->seq)
			return 1;
		if (!sis_block_verify(c, buf, SIS_BT_JOURNAL_COMMIT,
				      journal_loc(c, p)))
			break;
		if (sis_block_verify(c, buf, SIS_BT_JOURNAL_DESC,
				     journal_loc(c, p)))
			return 1;
		n = le32_to_cpu(d->nr);
		if (!n || n > SIS_JOURNAL_DESC_MAX)
			return 1;
		agg = crc32c(agg, &d->hdr.csum, sizeof(d->hdr.csum));
		p++;
		for (i = 0; i < n; i++, p++) {
			u64 target = le64_to_cpu(d->target[i]);

			r = c->ops.read(c->ops.ctx, journal_loc(c, p), img);
			if (r)
				return r;
			if (le64_to_cpu(ih->seq) != c->seq ||
			    !journal_image_type_ok(le32_to_cpu(ih->type)) ||
			    sis_block_verify(c, img, le32_to_cpu(ih->type), target))
				return 1;
			agg = crc32c(agg, &ih->csum, sizeof(ih->csum));
		}
	}
	if (le32_to_cpu(cb->nr_blocks) != p - start ||
	    le32_to_cpu(cb->agg_csum) != agg)
		return 1;
	*root = cb->root;

	/* Second pass: install the images. */
	for (p = start; p < start + le32_to_cpu(cb->nr_blocks);) {
		r = c->ops.read(c->ops.ctx, journal_loc(c, p), buf);
		if (r)
			return r;
		n = le32_to_cpu(d->nr);
		p++;
		for (i = 0; i < n; i++, p++) {
			u64 target = le64_to_cpu(d->target[i]);

			r = c->ops.read(c->ops.ctx, journal_loc(c, p), img);
			if (!r && sis_block_verify(c, img, le32_to_cpu(ih->type),
						   target))
				r = -EIO;	/* changed under us */
			if (!r)
				r = __sis_mc_install(c, target, img);
			if (r)
				return r;
		}
	}
	*pos = p + 1;
	return 0;
}

/*
 * Recovery stopped at transaction c->seq: is anything committed beyond it?
 * Returns the highest sequence number found in a valid descriptor or commit
 * block of c->seq or later (a commit) / later (a descriptor), or 0 if none.
 */
static u64 journal_damage_scan(struct sis_core *c, void *buf)
{
	const struct sis_disk_header *h = buf;
	u64 pos, seq, loc, found = 0;

	for (pos = 0; pos < c->journal_blocks; pos++) {
		loc = c->journal_start + pos;
		if (c->ops.read(c->ops.ctx, loc, buf))
			continue;
		seq = le64_to_cpu(h->seq);
		if (seq < c->seq)
			continue;
		if ((seq > c->seq &&
		     !sis_block_verify(c, buf, SIS_BT_JOURNAL_DESC, loc)) ||
		    !sis_block_verify(c, buf, SIS_BT_JOURNAL_COMMIT, loc))
			found = max(found, seq);
	}
	return found;
}

/**
 * __sis_journal_recover() - replay committed transactions after the tail
 * @write: checkpoint the result (write mode); otherwise keep it in RAM
 * @tolerate_damage: on damage (see above) keep the state before the damaged
 *                   transaction and set needs_check, instead of failing
 *
 * Expects c->sb, the layout and c->root (from the superblock) to be loaded,
 * and c->jbuf allocated (sis_journal_alloc()).  The only memory it takes is
 * the cache pages for the images it installs, spare pages first (a reload
 * after an abort recycles the pages it dropped: see __sis_mc_recycle_all()).
 * Return: 0, -EILSEQ (damaged journal), -EIO, -ENOMEM.
 */
int __sis_journal_recover(struct sis_core *c, bool write, bool tolerate_damage)
{
	u64 damaged = 0;
	void *buf, *img;
	u64 replayed = 0;
	int r;

	c->seq = le64_to_cpu(c->sb.tail_seq);
	c->tail = le64_to_cpu(c->sb.tail_block);
	c->head = c->tail;
	c->ckpt_owed = false;
	/* allocated at open: the abort path runs in a bio worker */
	if (WARN_ON(c->jbuf_blocks < 2))
		return -EINVAL;
	buf = c->jbuf;
	img = (u8 *)c->jbuf + SIS_BLOCK_SIZE;
	r = 0;
	while (!r) {
		struct sis_disk_root root;

		r = journal_read_txn(c, &c->head, &root, buf, img);
		if (r)
			break;
		c->root = root;
		c->seq++;
		replayed++;
	}
	if (r > 0) {
		r = 0;
		damaged = journal_damage_scan(c, buf);
	}
	if (r < 0)
		return r;
	c->committed_root = c->root;
	if (damaged) {
		sis_log(c, 3, "journal damaged: transaction %llu bad, later ones up to %llu exist",
			(unsigned long long)c->seq, (unsigned long long)damaged);
		c->journal_damaged = true;
		c->needs_check = true;
		if (!tolerate_damage)
			return -EILSEQ;
		/* New transactions must outrank every block left behind. */
		c->seq = damaged + 1;
		c->sb.flags |= cpu_to_le32(SIS_SB_NEEDS_CHECK);
		if (write)
			return __sis_journal_checkpoint(c);
	}
	if (replayed)
		sis_log(c, 6, "recovered %llu journal transactions",
			(unsigned long long)replayed);
	if (write && replayed)
		return __sis_journal_checkpoint(c);
	return 0;
}
