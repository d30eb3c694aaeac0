// SPDX-License-Identifier: GPL-2.0
/*
 * journal.c - metadata transactions: commit, checkpoint, recovery.
 *
 * The hard part of dm-sis's crash safety lives here.  Metadata blocks have
 * fixed home locations and are changed in place, so a transaction must never
 * reach a home location before it is durable in the journal:
 *
 *  commit:     (a) under c->lock, for memory copies only: freeze the running
 *              transaction T(n): seal its pages and copy their images,
 *              behind descriptors naming them, into the commit buffer
 *              (c->jbuf, allocated at open; a transaction is capped at
 *              txn_limit pages, see __sis_commit_if_full()); build the
 *              commit block over a snapshot of the root and a checksum over
 *              the checksums of every block; move the blocks T(n) freed to
 *              it; open T(n+1).  (b) Without c->lock: write the body;
 *              flush (this also makes durable the data that completed
 *              before its mappings were made); write the commit block;
 *              flush.  (c) Under c->lock again: T(n) is durable, its pages
 *              wait for the checkpoint.  Then the blocks T(n) freed are
 *              released: the reads begun before the freeze are waited for
 *              and the blocks discarded (passdown, all in flight at
 *              once) without c->lock, and only then do they become
 *              allocatable.
 *  checkpoint: when the journal is more than 3/8 full after a commit,
 *              the pages not at home then form the set of a checkpoint
 *              (c->ckpt_pages), and the head then is its tail.  After this
 *              and each later commit, part of the set is written home: the
 *              newest committed image of each page (copied into c->jbuf
 *              under c->lock, written without it), flush.  When the whole
 *              set is home, the other superblock copy gets the new tail
 *              and the root durable when the checkpoint began, flush.
 *              Only then may the journal space before that tail be reused.
 *              Commits go on meanwhile into the space after the head, which
 *              the old tail never covered; a page committed again keeps
 *              needing a checkpoint (pg->ckpt_again), since its new image
 *              lies after the new tail.  A full checkpoint (open, close,
 *              repair, a journal without room for the next transaction,
 *              freed map pages waiting) writes every page not at home and
 *              moves the tail to the head.
 *
 * Only one commit (with its release and checkpoint step) runs at a time:
 * it holds commit_mutex, which is taken before c->lock.  Writers go on
 * changing pages in T(n+1) while T(n)'s I/O is in flight; the commit
 * buffer holds T(n)'s images, and a page changed again keeps its
 * committed image for the checkpoint (pg->cimg, see mcache.c).  A writer
 * that finds its transaction full waits for one commit and one checkpoint
 * step, not for a whole checkpoint.
 *
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
 * block was written leaves the transaction frozen and intact (c->frozen),
 * and the next commit writes it again before it freezes the running one.
 * That is safe: the retry writes the same
 * body over the same journal blocks, with the same sequence number, and
 * only the retry's commit block (written after its body is durable) can
 * seal the transaction.  Blocks of the failed attempt left beyond the
 * retry's end carry a sequence number below every later transaction's and
 * no commit block of theirs exists, so recovery neither replays them nor
 * takes them for damage.  A checkpoint that fails for memory after a
 * durable commit is owed (c->ckpt_owed): it is done before the next
 * transaction is frozen.
 *
 * A torn or reordered write anywhere in a transaction makes recovery stop
 * before it: the state is that of the previous commit.  A torn superblock
 * write leaves the other copy, whose tail still points at intact journal
 * blocks, since nothing is written to the journal before the checkpoint
 * that wrote the superblock has finished.
 *
 * Functions named __* are called with c->lock held; sis_commit_run() takes
 * the locks itself, and txn_write() runs without c->lock, as does every
 * I/O of a commit unless the caller holds commit_mutex and asked to keep
 * c->lock (c->commit_held: open, close, repair, set_read_only).
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
 * sis_txn_cap() - most pages a transaction may hold when it is frozen
 * @c: the core (the value is fixed once the journal is set up)
 */
u64 sis_txn_cap(struct sis_core *c)
{
	return c->txn_limit + 2 * SIS_OP_MAX_DIRTY;
}

/**
 * sis_journal_setup() - derive transaction limits from the journal size
 *
 * A transaction plus its descriptors and commit block must fit in the half
 * of the journal a checkpoint leaves free, and it is capped at
 * SIS_TXN_MAX_PAGES so the commit buffer stays small.
 */
void sis_journal_setup(struct sis_core *c)
{
	u64 half = c->journal_blocks / 2;

	BUILD_BUG_ON(SIS_MIN_JOURNAL_BLOCKS / 2 < SIS_OP_MAX_DIRTY + 4);
	c->txn_limit = half - half / SIS_JOURNAL_DESC_MAX - 2 - SIS_OP_MAX_DIRTY;
	c->txn_limit = min_t(u64, c->txn_limit, SIS_TXN_MAX_PAGES);
}

/**
 * sis_journal_alloc() - allocate the commit buffer, page array and discard
 * runs for the journal's size
 *
 * The commit buffer holds a transaction of txn_cap() pages with its
 * descriptors and commit block (recovery uses its first two blocks); the
 * page arrays hold the pages of a transaction and of a checkpoint (at most
 * one per journal block written since the last checkpoint).  Called at
 * open, once the layout is known and checked; freed by
 * sis_journal_free().
 *
 * Return: 0 or -ENOMEM.
 */
int sis_journal_alloc(struct sis_core *c)
{
	u64 cap = sis_txn_cap(c);
	unsigned int blocks = cap + DIV_ROUND_UP_ULL(cap, SIS_JOURNAL_DESC_MAX) + 1;
	u64 npages = max_t(u64, cap, c->journal_blocks);

	blocks = max(blocks, 2U);
	if (!c->dext) {
		c->dext = kvmalloc_array(SIS_DISCARD_RUNS, sizeof(*c->dext),
					 GFP_KERNEL);
		if (!c->dext)
			return -ENOMEM;
	}
	if (c->commit_pages_max < cap) {
		kvfree(c->commit_pages);
		c->commit_pages = kvmalloc_array(cap, sizeof(*c->commit_pages), GFP_KERNEL);
		c->commit_pages_max = c->commit_pages ? cap : 0;
		if (!c->commit_pages)
			return -ENOMEM;
	}
	if (c->ckpt_pages_max < npages) {
		if (WARN_ON(c->ckpt_active))
			return -EBUSY;
		kvfree(c->ckpt_pages);
		c->ckpt_pages = kvmalloc_array(npages, sizeof(*c->ckpt_pages), GFP_KERNEL);
		c->ckpt_pages_max = c->ckpt_pages ? npages : 0;
		if (!c->ckpt_pages)
			return -ENOMEM;
	}
	if (c->jbuf_blocks >= blocks)
		return 0;
	kvfree(c->jbuf);
	c->jbuf = kvmalloc_array(blocks, SIS_BLOCK_SIZE, GFP_KERNEL);
	c->jbuf_blocks = c->jbuf ? blocks : 0;
	return c->jbuf ? 0 : -ENOMEM;
}

/**
 * sis_journal_ram() - bytes of RAM held by what sis_journal_alloc()
 * allocated (the commit buffer, the page arrays, the discard runs)
 * @c: the core (what it counts is set at open, before the core is
 *     published)
 *
 * Return: the bytes.
 */
u64 sis_journal_ram(struct sis_core *c)
{
	return (u64)c->jbuf_blocks * SIS_BLOCK_SIZE +
	       c->commit_pages_max * sizeof(*c->commit_pages) +
	       c->ckpt_pages_max * sizeof(*c->ckpt_pages) +
	       (c->dext ? SIS_DISCARD_RUNS * sizeof(*c->dext) : 0);
}

/**
 * sis_journal_free() - free what sis_journal_alloc() allocated
 */
void sis_journal_free(struct sis_core *c)
{
	kvfree(c->jbuf);
	kvfree(c->commit_pages);
	kvfree(c->ckpt_pages);
	kvfree(c->dext);
	c->jbuf = NULL;
	c->commit_pages = NULL;
	c->ckpt_pages = NULL;
	c->ckpt_pages_max = 0;
	c->ckpt_active = false;
	c->dext = NULL;
	c->jbuf_blocks = 0;
	c->commit_pages_max = 0;
}

static void *jblock(struct sis_core *c, u64 i)
{
	return (u8 *)c->jbuf + (size_t)i * SIS_BLOCK_SIZE;
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
 * Drop and retake c->lock around I/O when the caller asked for it
 * (@unlocked); a commit run with commit_held keeps it (open, close, repair,
 * set_read_only).
 */
static void io_unlock(struct sis_core *c, bool unlocked)
{
	if (unlocked)
		mutex_unlock(&c->lock);
}

static void io_lock(struct sis_core *c, bool unlocked)
{
	if (unlocked)
		mutex_lock(&c->lock);
}

/* Seal a copy of c->sb with @flags and the next sb_seq into @buf. */
static void __sb_prepare(struct sis_core *c, u32 flags, void *buf)
{
	struct sis_disk_superblock *sb = buf;

	memcpy(sb, &c->sb, sizeof(*sb));
	sb->flags = cpu_to_le32(flags);
	sb->sb_seq = cpu_to_le64(le64_to_cpu(sb->sb_seq) + 1);
	sis_block_seal(c, sb, SIS_BT_SUPERBLOCK, le64_to_cpu(sb->sb_seq) & 1,
		       c->seq);
}

/* Write the superblock copy @buf names, and flush. */
static int sb_write_buf(struct sis_core *c, const void *buf)
{
	const struct sis_disk_superblock *sb = buf;
	int r;

	r = c->ops.write(c->ops.ctx, le64_to_cpu(sb->sb_seq) & 1, buf);
	if (!r)
		r = c->ops.flush(c->ops.ctx);
	return r;
}

/*
 * Write the superblock copy after the current one, holding c->lock (open,
 * close, repair, the rollback of an abort: never while a commit is busy).
 * On failure c->sb is unchanged, so the next attempt rewrites the same
 * copy and never the other, which is the valid one.
 */
int __sis_sb_write(struct sis_core *c, u32 flags)
{
	int r;

	__sb_prepare(c, flags, &c->sb_next);
	r = sb_write_buf(c, &c->sb_next);
	if (!r)
		c->sb = c->sb_next;
	return r;
}

/*
 * Begin a checkpoint (commit_mutex held, nothing frozen, none under way):
 * its set is every page whose newest committed image is not at home, its
 * tail the head, its root the one durable now.  Memory only.
 */
static int __ckpt_start(struct sis_core *c)
{
	struct list_head *lists[] = { &c->mc_ckpt, &c->mc_dirty };
	struct sis_page *pg;
	u64 n = 0, i;

	if (WARN_ON(c->frozen || c->ckpt_active))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(lists); i++)
		list_for_each_entry(pg, lists[i], list) {
			if (!pg->needs_ckpt)
				continue;
			if (WARN_ON(n >= c->ckpt_pages_max ||
				    (pg->dirty && !pg->cimg))) {
				while (n)
					c->ckpt_pages[--n]->in_ckpt = false;
				return -EINVAL;
			}
			pg->in_ckpt = true;
			pg->ckpt_again = false;
			c->ckpt_pages[n++] = pg;
		}
	c->ckpt_n = n;
	c->ckpt_done = 0;
	c->ckpt_tail = c->head;
	c->ckpt_seq = c->seq;
	c->ckpt_root = c->committed_root;
	c->ckpt_active = true;
	return 0;
}

/*
 * Forget the checkpoint under way (before a full one, which covers its set,
 * and before recovery, which drops every page).  Its pages written home
 * stay correct there; they are written again by the next checkpoint.
 */
static void __ckpt_forget(struct sis_core *c)
{
	u64 k;

	if (!c->ckpt_active)
		return;
	for (k = 0; k < c->ckpt_n; k++) {
		c->ckpt_pages[k]->in_ckpt = false;
		c->ckpt_pages[k]->ckpt_again = false;
	}
	c->ckpt_n = 0;
	c->ckpt_done = 0;
	c->ckpt_active = false;
}

/*
 * Write up to @budget more pages of the checkpoint's set home, a buffer-full
 * at a time: the newest committed image of each (pg->cimg if the running
 * transaction changed it again), flush.  Every image written is durable: a
 * step runs only between commits (commit_mutex held, nothing frozen).
 * The set's pages stay cached (needs_ckpt) until the checkpoint ends.
 */
static int __ckpt_steps(struct sis_core *c, bool unlocked, u64 budget)
{
	u64 m, i;
	struct sis_page *pg;
	int r = 0;

	while (c->ckpt_done < c->ckpt_n && budget) {
		if (WARN_ON(c->frozen))
			return -EINVAL;
		c->md_gen++;	/* home images change: see mcache.c, staleness */
		m = min3(c->ckpt_n - c->ckpt_done, (u64)c->jbuf_blocks, budget);
		for (i = 0; i < m; i++) {
			pg = c->ckpt_pages[c->ckpt_done + i];
			memcpy(jblock(c, i), pg->dirty ? pg->cimg : pg->data,
			       SIS_BLOCK_SIZE);
		}
		io_unlock(c, unlocked);
		for (i = 0; !r && i < m; i++)
			r = c->ops.write(c->ops.ctx,
					 c->ckpt_pages[c->ckpt_done + i]->blocknr,
					 jblock(c, i));
		/* the buffer is reused: every chunk is flushed */
		r = r ? journal_drain(c, r) : c->ops.flush(c->ops.ctx);
		io_lock(c, unlocked);
		if (!r && c->aborted)
			r = -EIO;
		if (r)
			return r;
		c->ckpt_done += m;
		budget -= m;
	}
	return 0;
}

/*
 * The whole set is home: flush, write the other superblock with the new
 * tail and root, flush; then the set's pages are at home unless committed
 * again meanwhile.  On failure the checkpoint stays under way and may be
 * finished later: home writes of committed images are harmless, and the
 * tail moves only once the superblock is durable.
 */
static int __ckpt_finish(struct sis_core *c, bool unlocked)
{
	struct sis_disk_superblock *sb = &c->sb_next;
	struct sis_page *pg;
	u64 k;
	int r;

	if (WARN_ON(c->ckpt_done != c->ckpt_n))
		return -EINVAL;
	if (!c->ckpt_n) {
		/* nothing was written: the flush the superblock needs first */
		io_unlock(c, unlocked);
		r = c->ops.flush(c->ops.ctx);
		io_lock(c, unlocked);
		if (!r && c->aborted)
			r = -EIO;
		if (r)
			return r;
	}
	c->sb.tail_seq = cpu_to_le64(c->ckpt_seq);
	c->sb.tail_block = cpu_to_le64(journal_loc(c, c->ckpt_tail) - c->journal_start);
	c->sb.root = c->ckpt_root;
	__sb_prepare(c, le32_to_cpu(c->sb.flags) & ~SIS_SB_CLEAN, sb);
	io_unlock(c, unlocked);
	r = sb_write_buf(c, sb);
	if (r)
		r = journal_drain(c, r);
	io_lock(c, unlocked);
	if (!r && c->aborted)
		r = -EIO;
	if (r)
		return r;
	c->sb = *sb;
	c->tail = c->ckpt_tail;
	for (k = 0; k < c->ckpt_n; k++) {
		pg = c->ckpt_pages[k];
		pg->in_ckpt = false;
		if (pg->ckpt_again) {
			/* its newer image lies after the new tail */
			pg->ckpt_again = false;
			continue;
		}
		pg->needs_ckpt = false;
		if (pg->type == SIS_BT_RC)
			__sis_release_checkpointed(c, pg);
		kfree(pg->cimg);
		pg->cimg = NULL;
		__sis_mc_settle(c, pg);
	}
	c->ckpt_n = 0;
	c->ckpt_done = 0;
	c->ckpt_active = false;
	return 0;
}

/*
 * A full checkpoint: write home the newest committed image of every page
 * that needs it (a checkpoint under way is forgotten: this one covers its
 * set), flush, write the other superblock with tail = head, flush.  Runs
 * with commit_mutex held and no transaction frozen, so every image is
 * durable; with @unlocked the images are copied into c->jbuf under
 * c->lock, a buffer-full at a time, and written without it.  The running
 * transaction goes on meanwhile: a page it dirties keeps the committed
 * image in pg->cimg (__sis_mc_dirty()).  On failure nothing committed is
 * lost and it may be retried.
 */
static int __ckpt_run(struct sis_core *c, bool unlocked)
{
	int r;

	__ckpt_forget(c);
	r = __ckpt_start(c);
	if (!r)
		r = __ckpt_steps(c, unlocked, U64_MAX);
	if (!r)
		r = __ckpt_finish(c, unlocked);
	if (!r)
		c->ckpt_owed = false;
	return r;
}

/**
 * __sis_journal_checkpoint() - write committed pages home, advance the tail
 *
 * Holding c->lock throughout: for open, recovery and repair, and only
 * while no commit is busy (the caller holds commit_mutex, or the core is
 * not published yet).  Allocates nothing.
 * Return: 0, -ENOMEM (retry later), or another -errno.
 */
int __sis_journal_checkpoint(struct sis_core *c)
{
	return __ckpt_run(c, false);
}

/* Journal blocks the running transaction takes: images, descriptors, commit. */
static u64 __txn_blocks(struct sis_core *c)
{
	return c->mc_nr_dirty + DIV_ROUND_UP_ULL(c->mc_nr_dirty, SIS_JOURNAL_DESC_MAX) + 1;
}

/*
 * Freeze the running transaction T(n) into the commit buffer (c->lock
 * held, commit_mutex held, nothing frozen): seal its pages, copy their
 * images behind descriptors, build the commit block over the root, mark
 * the pages committing, move their freed blocks to T(n), flip the readers'
 * epoch if anything was freed, and open T(n+1).  Memory copies only.
 * Return: 0 or -ENOSPC (the transaction does not fit: a bug, aborts).
 */
static int __txn_freeze(struct sis_core *c)
{
	u64 ndirty = c->mc_nr_dirty;
	u64 blocks = __txn_blocks(c), b = 0, k = 0, i, n, m;
	struct sis_disk_journal_commit *cb;
	struct sis_disk_journal_desc *d;
	struct sis_page *pg, *tmp;
	bool frees = false;
	u32 agg = 0;

	if (ndirty > c->commit_pages_max || blocks > c->jbuf_blocks ||
	    blocks > c->journal_blocks - (c->head - c->tail)) {
		sis_log(c, 3, "transaction of %llu pages does not fit the journal (%llu, %llu)",
			(unsigned long long)ndirty, (unsigned long long)c->head,
			(unsigned long long)c->tail);
		return -ENOSPC;
	}

	/* Descriptors each followed by the images they name, as on disk. */
	pg = list_first_entry(&c->mc_dirty, struct sis_page, list);
	for (n = ndirty; n; n -= m) {
		m = min_t(u64, n, SIS_JOURNAL_DESC_MAX);

		d = jblock(c, b);
		memset(d, 0, SIS_BLOCK_SIZE);
		d->nr = cpu_to_le32(m);
		for (i = 0; i < m; i++, pg = list_next_entry(pg, list)) {
			struct sis_disk_header *h = jblock(c, b + 1 + i);

			sis_block_seal(c, pg->data, pg->type, pg->blocknr, c->seq);
			memcpy(h, pg->data, SIS_BLOCK_SIZE);
			d->target[i] = cpu_to_le64(pg->blocknr);
		}
		sis_block_seal(c, d, SIS_BT_JOURNAL_DESC,
			       journal_loc(c, c->head + b), c->seq);
		for (i = 0; i <= m; i++) {
			const struct sis_disk_header *h = jblock(c, b + i);

			agg = crc32c(agg, &h->csum, sizeof(h->csum));
		}
		b += m + 1;
	}
	cb = jblock(c, b);
	memset(cb, 0, SIS_BLOCK_SIZE);
	cb->nr_blocks = cpu_to_le32(b);
	cb->agg_csum = cpu_to_le32(agg);
	cb->root = c->root;
	sis_block_seal(c, cb, SIS_BT_JOURNAL_COMMIT,
		       journal_loc(c, c->head + b), c->seq);

	list_for_each_entry_safe(pg, tmp, &c->mc_dirty, list) {
		for (i = 0; i < SIS_PEND_WORDS; i++) {
			pg->pend_commit[i] = pg->pend_run[i];
			pg->pend_run[i] = 0;
			frees |= !!pg->pend_commit[i];
		}
		kfree(pg->cimg);	/* superseded by the image being committed */
		pg->cimg = NULL;
		pg->ckpt_again = pg->in_ckpt;
		pg->dirty = false;
		pg->committing = true;
		list_move_tail(&pg->list, &c->mc_ckpt);
		c->commit_pages[k++] = pg;
	}
	c->mc_nr_dirty = 0;
	c->c_npages = k;
	c->c_start = c->head;
	c->c_blocks = blocks;
	c->c_seq = c->seq;
	c->c_root = c->root;
	/* readers begun from now on cannot see the blocks T(n) freed */
	c->c_frees = frees;
	if (frees)
		c->c_epoch = __sis_readers_flip(c);
	c->head += blocks;
	c->seq++;
	c->hold_gen++;		/* no page is dirty now */
	c->root_dirty = false;
	c->frozen = true;
	return 0;
}

/*
 * Write the frozen transaction: body, flush (this also makes durable the
 * data whose mappings it holds), commit block, flush.  Touches only the
 * commit buffer and the immutable layout: called without c->lock by the
 * holder of commit_mutex.  Returns 0 when it is durable; on -ENOMEM no
 * commit block was written and it may be written again (see the top of
 * this file).
 */
static int txn_write(struct sis_core *c)
{
	u64 i, last = c->c_blocks - 1;
	int r = 0;

	for (i = 0; !r && i < last; i++)
		r = c->ops.write(c->ops.ctx, journal_loc(c, c->c_start + i),
				 jblock(c, i));
	if (r)
		return journal_drain(c, r);
	r = c->ops.flush(c->ops.ctx);
	if (r)
		return r;
	r = c->ops.write(c->ops.ctx, journal_loc(c, c->c_start + last),
			 jblock(c, last));
	if (r)
		return journal_drain(c, r);
	return c->ops.flush(c->ops.ctx);
}

/* T(n) is durable (c->lock held): its pages wait for the checkpoint. */
static void __txn_durable(struct sis_core *c)
{
	struct sis_page *pg;
	u64 k;

	for (k = 0; k < c->c_npages; k++) {
		pg = c->commit_pages[k];
		pg->committing = false;
		pg->needs_ckpt = true;
	}
	c->commits++;
	c->committed_root = c->c_root;
	c->frozen = false;
}

/*
 * Release the blocks durable T(n) freed: wait for the readers begun before
 * it was frozen, pass the blocks down as discards, then make them
 * allocatable.  Waits and discards without c->lock when @unlocked.
 */
static void __txn_release(struct sis_core *c, bool unlocked)
{
	struct sis_page *pg;
	unsigned int n, i;
	u64 k = 0;
	int r;

	if (!c->c_frees)
		return;
	io_unlock(c, unlocked);
	sis_readers_wait(c, c->c_epoch);
	io_lock(c, unlocked);
	while (c->discard_passdown && c->ops.discard && k < c->c_npages &&
	       !c->aborted) {
		for (n = 0; k < c->c_npages &&
		     n + SIS_RC_PER_PAGE / 2 + 1 <= SIS_DISCARD_RUNS; k++) {
			pg = c->commit_pages[k];
			if (pg->type == SIS_BT_RC)
				n += __sis_collect_freed(c, pg, c->dext + n);
		}
		io_unlock(c, unlocked);
		for (i = 0; i < n; i++) {
			r = c->ops.discard(c->ops.ctx, c->dext[i].start,
					   c->dext[i].count);
			if (r)
				sis_log(c, 4, "discard passdown failed: %d", r);
		}
		/* all in flight at once; done before any is allocatable */
		r = n && c->ops.discard_wait ?
			c->ops.discard_wait(c->ops.ctx) : 0;
		if (r)
			sis_log(c, 4, "discard passdown failed: %d", r);
		io_lock(c, unlocked);
	}
	if (c->aborted)
		return;		/* the rollback forgets every pending block */
	for (k = 0; k < c->c_npages; k++)
		__sis_release_freed(c, c->commit_pages[k]);
	c->c_frees = false;
}

/*
 * After a durable commit of @blocks journal blocks (0: a flush with nothing
 * to commit): a checkpoint begins once the journal is 3/8 full, and each
 * commit writes home twice its own size of the set (at least
 * SIS_CKPT_MIN_STEP pages), so the set (at most 3/8 of the journal) is home
 * before the commits made meanwhile fill another 3/16: the journal holds at
 * most 9/16 of its size of pages not at home, all pinned in RAM (a full
 * checkpoint at half full held up to 1/2).  Freed map pages waiting (they
 * become allocatable after a checkpoint) and a checkpoint owed after a
 * failure take a full one at once.
 */
static int __ckpt_after_commit(struct sis_core *c, bool unlocked, u64 blocks)
{
	int r = 0;

	if (c->ckpt_owed || c->nr_meta_wait) {
		r = __ckpt_run(c, unlocked);
	} else {
		if (!c->ckpt_active &&
		    c->head - c->tail > c->journal_blocks / 8 * SIS_CKPT_START_EIGHTHS)
			r = __ckpt_start(c);
		if (!r && c->ckpt_active)
			r = __ckpt_steps(c, unlocked,
					 max_t(u64, 2 * blocks, SIS_CKPT_MIN_STEP));
		if (!r && c->ckpt_active && c->ckpt_done == c->ckpt_n)
			r = __ckpt_finish(c, unlocked);
	}
	if (r == -ENOMEM) {
		/* The commit is durable; the checkpoint is retried later. */
		c->ckpt_owed = true;
		r = 0;
	}
	return r;
}

/*
 * The commit, c->lock held on entry and exit, commit_mutex held: freeze,
 * write, mark durable, release, checkpoint.  A transaction frozen by a
 * commit that failed for memory is written first, then the running one.
 * With @unlocked, c->lock is dropped for all I/O and waits.
 */
static int __commit(struct sis_core *c, bool unlocked)
{
	bool retry;
	int r;

	if (c->mode == SIS_MODE_FAIL || c->aborted)
		return -EIO;	/* acknowledged changes may have been dropped */
	c->commit_busy = unlocked;
	/* An owed checkpoint first: the journal may have no room before it. */
	r = c->ckpt_owed && !c->frozen ? __ckpt_run(c, unlocked) : 0;
	if (r)
		goto out;
	do {
		retry = c->frozen;
		if (!retry && !c->mc_nr_dirty && !c->root_dirty) {
			/* Nothing to write: still a flush (REQ_PREFLUSH). */
			io_unlock(c, unlocked);
			r = c->ops.flush(c->ops.ctx);
			io_lock(c, unlocked);
			if (!r)
				r = __ckpt_after_commit(c, unlocked, 0);
			break;
		}
		/*
		 * No room in the journal for the running transaction (the
		 * checkpoint under way fell behind the commits): a full one
		 * first, after which the running transaction is frozen in the
		 * same hold of c->lock.
		 */
		if (!retry && __txn_blocks(c) > c->journal_blocks - (c->head - c->tail))
			r = __ckpt_run(c, unlocked);
		if (r)
			break;
		r = retry ? 0 : __txn_freeze(c);
		if (r)
			break;
		io_unlock(c, unlocked);
		r = txn_write(c);
		io_lock(c, unlocked);
		if (r)
			break;
		if (c->aborted) {
			r = -EIO;
			break;
		}
		__txn_durable(c);
		__txn_release(c, unlocked);
		r = c->aborted ? -EIO : __ckpt_after_commit(c, unlocked, c->c_blocks);
	} while (!r && retry);
out:
	c->commit_busy = false;
	if (!r || r == -ENOMEM)
		return r;
	return __sis_metadata_error(c, -EIO, "commit");
}

/**
 * __sis_commit() - commit the running transaction holding c->lock throughout
 *
 * Only for callers that hold commit_mutex (c->commit_held) or own a core
 * not published yet: open, close, repair, set_read_only.  Everything else
 * uses sis_commit_run().
 *
 * Return: 0; -ENOMEM: nothing was committed, the transaction is intact and
 * the mode unchanged, retry later; or -EIO after aborting the transaction
 * (see __sis_metadata_error()).
 */
int __sis_commit(struct sis_core *c)
{
	return __commit(c, false);
}

/**
 * sis_commit_run() - commit everything changed before the call, holding
 * c->lock only to freeze the transaction and to mark it durable
 * @c:     the core; the caller holds neither c->lock nor commit_mutex
 * @flush: a flush request: in read-only mode it still flushes the device
 *
 * Takes commit_mutex, so commits run one at a time; writers go on mapping
 * into the next transaction while this one's I/O is in flight.  When it
 * returns 0, every change made before the call is durable.  Ends as an
 * operation does (__sis_op_end()): the rollback of an abort runs here.
 *
 * Return: 0; -ENOMEM (transient: nothing lost, retry); -EIO (the core
 * aborted, now or before: changes may be lost); in read-only mode (not
 * aborted) the result of the flush, or 0 without @flush.
 */
int sis_commit_run(struct sis_core *c, bool flush)
{
	int r;

	mutex_lock(&c->commit_mutex);
	mutex_lock(&c->lock);
	if (c->mode == SIS_MODE_READ_ONLY && !c->aborted) {
		mutex_unlock(&c->lock);
		r = flush ? c->ops.flush(c->ops.ctx) : 0;
		mutex_lock(&c->lock);
	} else {
		r = __commit(c, true);
	}
	__sis_op_end(c);
	mutex_unlock(&c->lock);
	mutex_unlock(&c->commit_mutex);
	return r;
}

/*
 * Commit from inside an operation, at one of its boundaries: drop c->lock
 * and run sis_commit_run().  Other operations run meanwhile, so the
 * operation's c->no_io and c->op_cur (see __sis_op_run()) are put aside
 * and restored; the pages its step pinned stay pinned.
 */
static int __sis_commit_unlocked(struct sis_core *c)
{
	struct sis_op_ctx *op = c->op_cur;
	bool no_io = c->no_io;
	int r;

	c->no_io = false;
	c->op_cur = NULL;
	c->hold_gen++;		/* other operations run meanwhile */
	mutex_unlock(&c->lock);
	r = sis_commit_run(c, false);
	mutex_lock(&c->lock);
	c->op_cur = op;
	c->no_io = no_io;
	return r;
}

/**
 * __sis_txn_full() - has the running transaction reached its limit?
 */
bool __sis_txn_full(struct sis_core *c)
{
	return c->mc_nr_dirty >= c->txn_limit;
}

/**
 * __sis_commit_if_full() - commit if the running transaction is near its
 * limit
 *
 * Called at the start of every operation that dirties pages, so one more
 * operation (at most SIS_OP_MAX_DIRTY pages) always fits.  The caller must
 * hold no page pointer and be at an operation boundary: unless it holds
 * commit_mutex (c->commit_held), c->lock is dropped while the commit runs
 * (sis_commit_run()) and other operations run meanwhile.
 *
 * Return: as __sis_commit(); on -ENOMEM the operation must fail before it
 * dirties anything.  SIS_MISS for a nowait operation (c->op_nowait) that
 * would have to commit: it fails with -EWOULDBLOCK (__sis_op_run()).
 */
int __sis_commit_if_full(struct sis_core *c)
{
	bool dropped = false;
	int r;

	if (c->commit_held)
		return __sis_txn_full(c) ? __sis_commit(c) : 0;
	if (c->op_nowait && __sis_txn_full(c))
		return SIS_MISS;	/* a nowait caller leaves it to its worker */
	while (__sis_txn_full(c)) {
		if (c->mode != SIS_MODE_WRITE)
			break;
		dropped = true;
		r = __sis_commit_unlocked(c);
		if (r)
			return r;
	}
	/* an abort may have rolled back everything meanwhile */
	if (dropped && c->mode != SIS_MODE_WRITE)
		return c->aborted ? -EIO : -EROFS;
	return 0;
}

/**
 * __sis_maybe_commit() - at an operation boundary: commit if the open
 * transaction is near its limit
 */
int __sis_maybe_commit(struct sis_core *c)
{
	return __sis_commit_if_full(c);
}

/**
 * __sis_commit_room() - at an operation boundary: commit unless the open
 * transaction has room for @pages more pages (and for one more operation)
 *
 * For steps bigger than an operation (copying a shared map page touches
 * the refcount pages of all its children).  Locking as
 * __sis_commit_if_full().
 *
 * Return: as __sis_commit_if_full().
 */
int __sis_commit_room(struct sis_core *c, u64 pages)
{
	int r = __sis_commit_if_full(c);

	if (r || !pages || !c->mc_nr_dirty ||
	    c->mc_nr_dirty + pages <= sis_txn_cap(c))
		return r;
	if (c->op_nowait)
		return SIS_MISS;
	if (c->commit_held)
		return __sis_commit(c);
	r = __sis_commit_unlocked(c);
	if (!r && c->mode != SIS_MODE_WRITE)
		r = c->aborted ? -EIO : -EROFS;
	return r;
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
	u64 p = *pos, start = *pos, i, n, end;
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
	end = p;	/* cb aliases buf: read before buf is reused below */

	/* Second pass: install the images. */
	for (p = start; p < end;) {
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

	c->md_gen++;	/* the cache's content is reloaded: see mcache.c */
	c->seq = le64_to_cpu(c->sb.tail_seq);
	c->tail = le64_to_cpu(c->sb.tail_block);
	c->head = c->tail;
	c->ckpt_owed = false;
	__ckpt_forget(c);	/* its pages were dropped: c->ckpt_pages is stale */
	/* allocated at open: the abort path runs in a bio worker */
	if (WARN_ON(c->jbuf_blocks < 2))
		return -EINVAL;
	buf = c->jbuf;
	img = (u8 *)c->jbuf + SIS_BLOCK_SIZE;
	r = 0;
	while (!r) {
		r = journal_read_txn(c, &c->head, &c->rec_root, buf, img);
		if (r)
			break;
		c->root = c->rec_root;
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
