// SPDX-License-Identifier: GPL-2.0
/*
 * mcache.c - the core's metadata block cache and the block checksum codec.
 *
 * Owns every metadata block the core holds in RAM.  A page is on one of
 * three lists:
 *
 *   mc_lru     clean: home location == page content; may be evicted
 *   mc_dirty   changed in the running transaction (pg->dirty); pinned
 *   mc_ckpt    committing (its image is in the commit under way) or
 *              committed but not yet at home (pg->needs_ckpt); pinned
 *
 * A dirty page may also be committing or need a checkpoint: the running
 * transaction changed it again after the commit buffer took its image.  It
 * then keeps a copy of that image (pg->cimg), the one a checkpoint writes
 * home.  Only images whose commit is durable are ever written home, so a
 * crash never leaves uncommitted metadata at a home location: the journal
 * replays whole transactions over it.  Eviction happens only in
 * __sis_mc_shrink(), which the public entry points call before they take any
 * page pointer, so a pointer from __sis_mc_get() stays valid until the
 * caller drops c->lock.  The cache limit bounds the clean pages
 * (c->mc_nr_clean counts mc_lru): the pinned ones are bounded by the
 * transaction cap and the journal, and must not push the hot clean pages
 * out (they did: at half a journal of committed pages, every operation
 * re-read its refcount and map pages).  All fields are protected by c->lock.
 *
 * Every block read is verified: its checksum (seeded per type and per
 * device), its type and its own block number.  Index pages that are all
 * zeros are empty buckets, never an error.
 *
 * Misses are read without c->lock.  The common entry points run their work
 * through __sis_op_run() with c->no_io set: a miss records the block
 * (c->miss_blk, c->miss_type) and fails with SIS_MISS at the very spot
 * where the page allocation for it could fail with -ENOMEM.  Every caller
 * already leaves a consistent state on -ENOMEM there (each step does what
 * can fail before its first change; a range stops between blocks), so the
 * operation may simply be run again.  __sis_mc_fetch() drops c->lock, reads
 * and verifies the block into a page of its own (GFP_NOIO, as every page of
 * this cache; failing, the operation fails with -ENOMEM and changes
 * nothing, as it would have under the lock), retakes the lock and inserts
 * the page unless the block got cached meanwhile (the cached copy is never
 * older).  The same lock hold then runs the operation again.
 *
 * Pins.  Every page __sis_mc_fetch() brings in (or finds brought in) is
 * pinned for the operation's step (pg->op_pins, the blocks listed in the
 * operation's struct sis_op_ctx, c->op_cur): neither __sis_mc_shrink() nor
 * __sis_mc_drop_clean() evicts it until the step ends (__sis_op_step(),
 * between the leaves of an unmap, the steps of a volume delete, the leaves
 * of a map walk) or __sis_op_run() returns.  So a step that drops c->lock
 * to commit finds its pages again afterwards, however many other
 * operations trimmed the cache meanwhile, and a step fetches each block at
 * most once.  Pinned pages count as clean (c->mc_nr_clean) but are
 * skipped: a step may hold more than the cache limit for a while.  The
 * only ways a pinned page leaves the cache are wholesale (the rollback of
 * an abort, close) or the reallocation of a freed map block
 * (__sis_mc_new(), after the checkpoint following its free).
 *
 * Retries, and why they end.  A step retries when an image read without
 * the lock went stale (below) or when it misses a block it had fetched
 * (its pinned page went as above).  After two retries in a step, every
 * fetch of the step takes commit_mutex before it reads (order: commit_mutex, then
 * c->lock): it waits for the running commit and its checkpoint to end,
 * and none can start until the image is inserted.  A checkpoint is the only
 * thing but a rollback that makes a home image newer, and a core rolls
 * back at most once (an abort leaves write mode for good), so the retries
 * of a step are bounded without any read under c->lock.  The data path
 * holds no read ticket when it fetches (a reader with a ticket looks up
 * nowait: see sis_core_read_begin()), so waiting for commit_mutex cannot
 * wait for itself; operations already commit through it from the same
 * places.  A caller that holds commit_mutex with c->lock (c->commit_held:
 * close, repair, set_read_only) would read under c->lock, as it cannot
 * drop it; none runs an operation through __sis_op_run() today, and each
 * reads its own misses under the lock anyway.  __sis_mc_read() counts every
 * read under the lock (c->locked_md_reads), c->md_serial_reads the reads
 * holding commit_mutex.
 *
 * Staleness: the image read without the lock must be the block's newest
 * state whenever it is inserted.  A block that is not cached has its newest
 * state at home: dirty, committing and committed-not-at-home pages never
 * leave the cache, and a page leaves mc_ckpt only after its checkpoint
 * write completed.  So when the miss was recorded no write of the block
 * was in flight, and the home image can become newer only by a checkpoint
 * that starts afterwards (the block is cached, changed and committed by
 * another operation meanwhile, then written home and evicted) or by a
 * wholesale change of the cache (the rollback of an abort, recovery,
 * repair).  Each of those bumps c->md_gen under c->lock before it writes
 * anything home or changes what the cache holds; __sis_mc_fetch() samples
 * it before dropping the lock and drops its page if it moved, and the
 * operation runs again.  A block freed and reused meanwhile needs such a
 * checkpoint too: a map page is allocatable again only after the
 * checkpoint following the commit that freed it (pend_ckpt); refcount
 * pages never move.  A read or verification error is reported only if
 * c->md_gen did not move and the block is still not cached: an error while
 * the block was being rewritten is retried instead.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/crc32c.h>
#include <linux/hash.h>
#include "core-internal.h"

u32 sis_block_csum(u32 seed, const void *block)
{
	return crc32c(seed, (const u8 *)block + 4, SIS_BLOCK_SIZE - 4);
}

/**
 * sis_type_seed() - the checksum seed of a block type on this device
 */
u32 sis_type_seed(struct sis_core *c, u32 type)
{
	return type == SIS_BT_SUPERBLOCK ? type : type ^ c->csum_seed;
}

/**
 * sis_block_seal() - fill in a block's header and checksum before it is written
 */
void sis_block_seal(struct sis_core *c, void *block, u32 type, u64 blocknr,
		    u64 seq)
{
	struct sis_disk_header *h = block;

	h->type = cpu_to_le32(type);
	h->blocknr = cpu_to_le64(blocknr);
	h->seq = cpu_to_le64(seq);
	h->reserved = 0;
	h->csum = cpu_to_le32(sis_block_csum(sis_type_seed(c, type), block));
}

/**
 * sis_block_verify() - is @block a valid @type block that belongs at @blocknr?
 *
 * Return: 0 or -EILSEQ.
 */
int sis_block_verify(struct sis_core *c, const void *block, u32 type,
		     u64 blocknr)
{
	const struct sis_disk_header *h = block;

	if (le32_to_cpu(h->type) != type ||
	    le64_to_cpu(h->blocknr) != blocknr ||
	    le32_to_cpu(h->csum) != sis_block_csum(sis_type_seed(c, type), block))
		return -EILSEQ;
	return 0;
}

void sis_mc_init(struct sis_core *c, u64 limit)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c->mc_hash); i++)
		INIT_HLIST_HEAD(&c->mc_hash[i]);
	INIT_LIST_HEAD(&c->mc_lru);
	INIT_LIST_HEAD(&c->mc_dirty);
	INIT_LIST_HEAD(&c->mc_ckpt);
	INIT_LIST_HEAD(&c->mc_spare);
	c->mc_pages = 0;
	c->mc_nr_dirty = 0;
	c->mc_nr_clean = 0;
	c->mc_limit = limit;
}

/* Is @pg on c->mc_lru (neither dirty, committing nor awaiting a checkpoint)? */
static bool mc_clean(const struct sis_page *pg)
{
	return !pg->dirty && !pg->needs_ckpt && !pg->committing;
}

static struct hlist_head *mc_bucket(struct sis_core *c, u64 blocknr)
{
	return &c->mc_hash[hash_64(blocknr, SIS_MC_HASH_BITS)];
}

static struct sis_page *__mc_find(struct sis_core *c, u64 blocknr)
{
	struct sis_page *pg;

	hlist_for_each_entry(pg, mc_bucket(c, blocknr), node)
		if (pg->blocknr == blocknr)
			return pg;
	return NULL;
}

/* A page not in the cache: with or without c->lock. */
static struct sis_page *mc_page_alloc(void)
{
	struct sis_page *pg = kzalloc(sizeof(*pg), GFP_NOIO);

	if (!pg)
		return NULL;
	pg->data = kmalloc(SIS_BLOCK_SIZE, GFP_NOIO);
	if (!pg->data) {
		kfree(pg);
		return NULL;
	}
	return pg;
}

static void mc_page_free(struct sis_page *pg)
{
	kfree(pg->cimg);
	kfree(pg->data);
	kfree(pg);
}

static void mc_free(struct sis_core *c, struct sis_page *pg)
{
	hlist_del(&pg->node);
	list_del(&pg->list);
	if (pg->dirty)
		c->mc_nr_dirty--;
	if (mc_clean(pg))
		c->mc_nr_clean--;
	c->mc_pages--;
	mc_page_free(pg);
}

/* Enter the clean, unlinked page @pg as block @blocknr of @type. */
static void __mc_link(struct sis_core *c, struct sis_page *pg, u64 blocknr,
		      u32 type)
{
	pg->blocknr = blocknr;
	pg->type = type;
	hlist_add_head(&pg->node, mc_bucket(c, blocknr));
	list_add_tail(&pg->list, &c->mc_lru);
	c->mc_pages++;
	c->mc_nr_clean++;
}

static struct sis_page *__mc_alloc(struct sis_core *c, u64 blocknr, u32 type)
{
	struct sis_page *pg;
	void *data;

	pg = list_first_entry_or_null(&c->mc_spare, struct sis_page, list);
	if (pg) {
		list_del(&pg->list);
		data = pg->data;
		memset(pg, 0, sizeof(*pg));
		pg->data = data;
	} else {
		pg = mc_page_alloc();
		if (!pg)
			return NULL;
	}
	__mc_link(c, pg, blocknr, type);
	return pg;
}

/**
 * __sis_mc_peek() - the cached page of block @blocknr, or NULL; no I/O,
 * no LRU change
 */
struct sis_page *__sis_mc_peek(struct sis_core *c, u64 blocknr)
{
	return __mc_find(c, blocknr);
}

/**
 * __sis_mc_read() - the verified page of metadata block @blocknr
 * @type: the type the caller expects there
 *
 * For the checker, which reports damage instead of failing on it; every
 * other caller uses __sis_mc_get().
 *
 * Return: 0, -EILSEQ (checksum, type or location mismatch), -EIO, -ENOMEM,
 * SIS_MISS (not cached while c->no_io is set: the block is recorded in
 * c->miss_blk and c->miss_type for __sis_mc_fetch(), or a nowait look-up
 * fails).
 */
int __sis_mc_read(struct sis_core *c, u64 blocknr, u32 type,
		  struct sis_page **out)
{
	struct sis_page *pg = __mc_find(c, blocknr);
	int r;

	if (pg) {
		if (pg->type != type)
			return -EILSEQ;
		if (mc_clean(pg))
			list_move_tail(&pg->list, &c->mc_lru);
		*out = pg;
		return 0;
	}

	if (c->no_io) {
		c->miss_blk = blocknr;
		c->miss_type = type;
		return SIS_MISS;
	}
	pg = __mc_alloc(c, blocknr, type);
	if (!pg)
		return -ENOMEM;
	c->locked_md_reads++;
	r = c->ops.read(c->ops.ctx, blocknr, pg->data);
	if (!r)
		r = sis_block_verify(c, pg->data, type, blocknr);
	if (r) {
		mc_free(c, pg);
		return r;
	}
	*out = pg;
	return 0;
}

/* A block that failed to read or verify: a metadata error. */
static int __mc_read_error(struct sis_core *c, u64 blocknr, u32 type, int r)
{
	sis_log(c, 3, "metadata block %llu (type %08x): %s",
		(unsigned long long)blocknr, type,
		r == -EILSEQ ? "checksum, type or location mismatch" : "read error");
	return __sis_metadata_error(c, r, "metadata read");
}

/**
 * __sis_mc_get() - __sis_mc_read(), with failures treated as metadata errors
 *
 * A read or verification failure aborts the transaction and leaves write
 * mode (see __sis_metadata_error()).
 */
int __sis_mc_get(struct sis_core *c, u64 blocknr, u32 type,
		 struct sis_page **out)
{
	int r = __sis_mc_read(c, blocknr, type, out);

	if (!r || r == -ENOMEM || r == SIS_MISS)
		return r;
	return __mc_read_error(c, blocknr, type, r);
}

/* Give back @op's pin list, unless inline: a spare to the core's stack. */
static void __op_pins_free(struct sis_core *c, struct sis_op_ctx *op)
{
	if (op->spare)
		c->op_spares[c->nr_op_spares++] = op->pins;
	else if (op->pins != op->inline_pins)
		kfree(op->pins);
	op->spare = false;
}

/*
 * Make room for one more pin in @op, before the fetch drops c->lock: the
 * first growth takes one of the core's spare lists if one is free, later
 * ones (or none free) allocate; -ENOMEM fails the operation as a failed
 * page allocation would.
 */
static int __op_pin_room(struct sis_core *c, struct sis_op_ctx *op)
{
	unsigned int max = op->max_pins * 2;
	bool spare = false;
	u64 *pins;

	if (op->nr_pins < op->max_pins)
		return 0;
	if (op->pins == op->inline_pins && c->nr_op_spares) {
		pins = c->op_spares[--c->nr_op_spares];
		max = SIS_OP_SPARE_PINS;
		spare = true;
	} else {
		pins = kmalloc_array(max, sizeof(*pins), GFP_NOIO);
		if (!pins)
			return -ENOMEM;
	}
	memcpy(pins, op->pins, op->nr_pins * sizeof(*pins));
	__op_pins_free(c, op);
	op->pins = pins;
	op->max_pins = max;
	op->spare = spare;
	return 0;
}

/* @pg stays cached until @op's step ends (room made by __op_pin_room()). */
static void __op_pin(struct sis_op_ctx *op, struct sis_page *pg)
{
	op->pins[op->nr_pins++] = pg->blocknr;
	pg->op_pins++;
}

/*
 * The step of @op ended: its pages may be evicted again.  A page dropped
 * while pinned (the rollback of an abort, or a freed map block reallocated
 * by __sis_mc_new()) took its pin with it; a later page of the same block
 * loses a pin only if it has one, which at worst lets another operation's
 * page be evicted early and read again.
 */
static void __op_unpin(struct sis_core *c, struct sis_op_ctx *op)
{
	struct sis_page *pg;
	unsigned int i;

	for (i = 0; i < op->nr_pins; i++) {
		pg = __mc_find(c, op->pins[i]);
		if (pg && pg->op_pins)
			pg->op_pins--;
	}
	op->nr_pins = 0;
	op->nretry = 0;
}

/* Did @op's step fetch @blocknr before (its pinned page is gone)? */
static bool op_pinned(const struct sis_op_ctx *op, u64 blocknr)
{
	unsigned int i;

	for (i = 0; i < op->nr_pins; i++)
		if (op->pins[i] == blocknr)
			return true;
	return false;
}

/* How __sis_mc_fetch() reads. */
enum sis_fetch_mode {
	SIS_FETCH_UNLOCKED,	/* without c->lock */
	SIS_FETCH_SERIAL,	/* without c->lock, holding commit_mutex */
	SIS_FETCH_LOCKED,	/* under c->lock: the caller holds commit_mutex */
};

/*
 * Read block c->miss_blk (of c->miss_type) into the cache, the verified
 * image of its newest state, and pin it for @op's step.  Called with
 * c->lock held after an operation failed with SIS_MISS; returns with it
 * held.  SIS_FETCH_SERIAL first waits for the running commit (and its
 * checkpoint) to end and keeps any other from starting until the image is
 * in: only a rollback can make that image stale.  Return: 0 (run the
 * operation again: the block is cached now, or the image went stale
 * (*@stale) and is read again), -ENOMEM, or a metadata error.
 */
static int __sis_mc_fetch(struct sis_core *c, struct sis_op_ctx *op,
			  enum sis_fetch_mode mode, bool *stale)
{
	u64 blocknr = c->miss_blk, gen;
	u32 type = c->miss_type;
	struct sis_page *pg;
	int r;

	*stale = false;
	r = __op_pin_room(c, op);
	if (r)
		return r;
	if (mode == SIS_FETCH_LOCKED) {
		c->no_io = false;
		r = __sis_mc_get(c, blocknr, type, &pg);
		c->no_io = true;
		if (!r)
			__op_pin(op, pg);
		return r;
	}
	/*
	 * Other operations run while c->lock is dropped: they must not take
	 * @op for theirs (__sis_op_step() would unpin its pages, and a
	 * __sis_op_run() would restore it as its outer one after @op is
	 * gone).  __sis_op_run() sets both again before the next run.
	 */
	c->op_cur = NULL;
	c->no_io = false;
	if (mode == SIS_FETCH_SERIAL) {
		mutex_unlock(&c->lock);
		mutex_lock(&c->commit_mutex);	/* order: commit_mutex, c->lock */
		mutex_lock(&c->lock);
		c->md_serial_reads++;
		pg = __mc_find(c, blocknr);
		if (pg) {			/* cached meanwhile */
			mutex_unlock(&c->commit_mutex);
			__op_pin(op, pg);
			return 0;
		}
	}
	gen = c->md_gen;
	mutex_unlock(&c->lock);
	pg = mc_page_alloc();
	r = -ENOMEM;
	if (pg) {
		r = c->ops.read(c->ops.ctx, blocknr, pg->data);
		if (!r)
			r = sis_block_verify(c, pg->data, type, blocknr);
	}
	mutex_lock(&c->lock);
	if (mode == SIS_FETCH_SERIAL)
		mutex_unlock(&c->commit_mutex);
	if (!pg)
		return r;
	if (c->md_gen != gen) {
		*stale = true;		/* the home image may be newer: again */
		r = 0;
	} else if (__mc_find(c, blocknr)) {
		__op_pin(op, __mc_find(c, blocknr));
		r = 0;			/* cached meanwhile: that copy wins */
	} else if (!r) {
		__mc_link(c, pg, blocknr, type);
		__op_pin(op, pg);
		return 0;
	}
	mc_page_free(pg);
	return r ? __mc_read_error(c, blocknr, type, r) : 0;
}

/**
 * __sis_op_run() - run @fn, reading the metadata it misses without c->lock
 * @c:   the core, c->lock held (and held again on return)
 * @fn:  the operation: under c->lock, with c->no_io set, it fails with
 *       SIS_MISS on a metadata cache miss, leaving a consistent state
 *       from which it may run again (as on -ENOMEM at the same point)
 * @arg: passed to @fn, which may keep its progress there
 *
 * Each miss is read and inserted by __sis_mc_fetch(), then @fn runs again
 * in the same lock hold.  The lock is dropped only for those reads (and by
 * @fn itself, at operation boundaries, for commits), so @fn must not hold
 * page pointers across its runs.  Every page fetched stays pinned until
 * the step ends (__sis_op_step()) or @fn returns, so a step misses a block
 * twice only if its page was dropped wholesale or reallocated; that, or a
 * stale image, is a retry, and after two retries the step's reads hold
 * commit_mutex (see the header).  Only a caller that holds
 * commit_mutex with c->lock (c->commit_held) reads under c->lock.  A
 * nowait caller (c->op_nowait) reads nothing: the first miss, or a commit
 * the operation would need, fails it with -EWOULDBLOCK.
 *
 * Return: what @fn returned last, -EWOULDBLOCK, or the fetch's error
 * (-ENOMEM, or a metadata error).
 */
int __sis_op_run(struct sis_core *c, int (*fn)(struct sis_core *c, void *arg),
		 void *arg)
{
	struct sis_op_ctx op = { .max_pins = ARRAY_SIZE(op.inline_pins) };
	struct sis_op_ctx *outer = c->op_cur;
	enum sis_fetch_mode mode;
	bool stale;
	int r;

	op.pins = op.inline_pins;
	for (;;) {
		c->no_io = true;
		c->op_cur = &op;
		r = fn(c, arg);
		if (r != SIS_MISS)
			break;
		if (c->op_nowait) {	/* its caller does no I/O: see the header */
			r = -EWOULDBLOCK;
			break;
		}
		if (op_pinned(&op, c->miss_blk))
			op.nretry++;	/* its page was dropped: see the header */
		if (c->commit_held)
			mode = SIS_FETCH_LOCKED;
		else if (op.nretry >= 2)
			mode = SIS_FETCH_SERIAL;
		else
			mode = SIS_FETCH_UNLOCKED;
		r = __sis_mc_fetch(c, &op, mode, &stale);
		if (r)
			break;
		if (stale) {
			op.nretry++;
			c->md_stale_reads++;
		}
	}
	__op_unpin(c, &op);
	__op_pins_free(c, &op);
	c->op_cur = outer;
	c->no_io = false;
	return r;
}

/**
 * __sis_mc_new() - a zeroed, dirty page for block @blocknr, not read from disk
 *
 * Used for blocks whose old content is meaningless: new map pages and the
 * refcount page of a group entering use.  Replaces any cached copy.
 */
int __sis_mc_new(struct sis_core *c, u64 blocknr, u32 type,
		 struct sis_page **out)
{
	struct sis_page *pg = __mc_find(c, blocknr);
	int r;

	if (pg) {
		if (pg->dirty || pg->needs_ckpt || pg->committing)
			return -EILSEQ;	/* a live block being reallocated */
		mc_free(c, pg);
	}
	pg = __mc_alloc(c, blocknr, type);
	if (!pg)
		return -ENOMEM;
	memset(pg->data, 0, SIS_BLOCK_SIZE);
	sis_block_seal(c, pg->data, type, blocknr, 0);
	r = __sis_mc_dirty(c, pg);
	if (r) {
		mc_free(c, pg);
		return r;
	}
	*out = pg;
	return 0;
}

/**
 * __sis_mc_dirty() - the caller is about to change @pg in the running
 * transaction
 *
 * A page whose image is committing, or committed but not at home, keeps a
 * copy of that image first (pg->cimg): the checkpoint writes it home.
 * Return: 0 or -ENOMEM (nothing changed).
 */
int __sis_mc_dirty(struct sis_core *c, struct sis_page *pg)
{
	if (pg->dirty)
		return 0;
	if ((pg->needs_ckpt || pg->committing) && !pg->cimg) {
		pg->cimg = kmalloc(SIS_BLOCK_SIZE, GFP_NOIO);
		if (!pg->cimg)
			return -ENOMEM;
		memcpy(pg->cimg, pg->data, SIS_BLOCK_SIZE);
	}
	if (mc_clean(pg))
		c->mc_nr_clean--;
	pg->dirty = true;
	c->mc_nr_dirty++;
	list_move_tail(&pg->list, &c->mc_dirty);
	return 0;
}

/**
 * __sis_mc_install() - load a committed image found by journal recovery
 *
 * The page becomes committed-not-at-home; a later image of the same block
 * replaces it.  The image must already be verified.
 */
int __sis_mc_install(struct sis_core *c, u64 blocknr, const void *image)
{
	const struct sis_disk_header *h = image;
	struct sis_page *pg = __mc_find(c, blocknr);

	if (pg && (pg->dirty || pg->type != le32_to_cpu(h->type))) {
		mc_free(c, pg);
		pg = NULL;
	}
	if (!pg) {
		pg = __mc_alloc(c, blocknr, le32_to_cpu(h->type));
		if (!pg)
			return -ENOMEM;
	}
	memcpy(pg->data, image, SIS_BLOCK_SIZE);
	if (mc_clean(pg))
		c->mc_nr_clean--;
	pg->needs_ckpt = true;
	list_move_tail(&pg->list, &c->mc_ckpt);
	return 0;
}

/**
 * __sis_mc_settle() - @pg's image is at home: back on c->mc_lru unless the
 * running transaction dirtied it or it is committing again
 */
void __sis_mc_settle(struct sis_core *c, struct sis_page *pg)
{
	if (!mc_clean(pg))
		return;
	list_move_tail(&pg->list, &c->mc_lru);
	c->mc_nr_clean++;
}

/**
 * __sis_mc_shrink() - evict the least recent clean pages beyond the cache
 * limit (pinned pages do not count against it)
 *
 * Invalidates every page pointer the caller holds: call it only between
 * operations.
 */
void __sis_mc_shrink(struct sis_core *c)
{
	struct sis_page *pg, *tmp;

	list_for_each_entry_safe(pg, tmp, &c->mc_lru, list) {
		if (c->mc_nr_clean <= c->mc_limit)
			break;
		if (!pg->op_pins)
			mc_free(c, pg);
	}
}

/**
 * __sis_op_step() - an operation of many steps finished one: trim the cache
 *
 * For ranges (an unmap of many leaves, a volume delete, a map walk),
 * between the steps, holding no page pointer.  The pages the running
 * __sis_op_run() fetched for the step before are unpinned: they may be
 * evicted and read again without counting as a retry.
 */
void __sis_op_step(struct sis_core *c)
{
	if (c->op_cur)
		__op_unpin(c, c->op_cur);
	__sis_mc_shrink(c);
}

/* Evict every clean page; with @all the pinned ones too. */
static void __mc_drop_lru(struct sis_core *c, bool all)
{
	struct sis_page *pg, *tmp;

	list_for_each_entry_safe(pg, tmp, &c->mc_lru, list)
		if (all || !pg->op_pins)
			mc_free(c, pg);
}

/**
 * __sis_mc_drop_clean() - evict every clean page an operation's step does
 * not hold pinned
 */
void __sis_mc_drop_clean(struct sis_core *c)
{
	__mc_drop_lru(c, false);
}

/**
 * __sis_mc_drop_all() - forget every page, dirty and committed ones too
 *
 * Used when a transaction is aborted: the caller reloads the committed state
 * from the disk afterwards.
 */
void __sis_mc_drop_all(struct sis_core *c)
{
	struct sis_page *pg, *tmp;

	c->md_gen++;
	list_for_each_entry_safe(pg, tmp, &c->mc_dirty, list)
		mc_free(c, pg);
	list_for_each_entry_safe(pg, tmp, &c->mc_ckpt, list)
		mc_free(c, pg);
	__mc_drop_lru(c, true);
	__sis_mc_free_spare(c);
}

/**
 * __sis_mc_recycle_all() - forget every page, keeping their memory
 *
 * The rollback of an abort: the pages go to c->mc_spare, where the journal
 * replay that follows takes its pages from.  Every block that replay
 * installs was committed after the last checkpoint, so it was held here as
 * a committed (or re-dirtied) page: the spares always suffice, and the
 * rollback needs no new memory.  The caller frees what is left with
 * __sis_mc_free_spare().
 */
void __sis_mc_recycle_all(struct sis_core *c)
{
	struct list_head *lists[] = { &c->mc_dirty, &c->mc_ckpt, &c->mc_lru };
	struct sis_page *pg, *tmp;
	unsigned int i;

	c->md_gen++;
	for (i = 0; i < ARRAY_SIZE(lists); i++)
		list_for_each_entry_safe(pg, tmp, lists[i], list) {
			hlist_del(&pg->node);
			kfree(pg->cimg);
			pg->cimg = NULL;
			list_move_tail(&pg->list, &c->mc_spare);
		}
	c->mc_pages = 0;
	c->mc_nr_dirty = 0;
	c->mc_nr_clean = 0;
}

/**
 * __sis_mc_ram() - bytes of RAM the metadata cache holds now
 * @c: the core; the caller holds c->lock
 *
 * Every cached page (clean, dirty and committing: mc_pages) with its
 * struct sis_page, and the committed images kept for a checkpoint
 * (pg->cimg, only on pages dirty again: mc_dirty, at most a transaction's
 * worth, so the walk is bounded by the transaction cap).
 *
 * Return: the bytes.
 */
u64 __sis_mc_ram(struct sis_core *c)
{
	struct sis_page *pg;
	u64 cimgs = 0;

	list_for_each_entry(pg, &c->mc_dirty, list)
		cimgs += !!pg->cimg;
	return c->mc_pages * (SIS_BLOCK_SIZE + sizeof(*pg)) +
	       cimgs * SIS_BLOCK_SIZE;
}

/**
 * __sis_mc_free_spare() - free the pages __sis_mc_recycle_all() kept
 */
void __sis_mc_free_spare(struct sis_core *c)
{
	struct sis_page *pg, *tmp;

	list_for_each_entry_safe(pg, tmp, &c->mc_spare, list) {
		list_del(&pg->list);
		kfree(pg->data);
		kfree(pg);
	}
}
