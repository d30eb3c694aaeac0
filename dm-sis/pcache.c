// SPDX-License-Identifier: GPL-2.0
/*
 * pcache: the module-wide shared cache of 4 KiB data blocks (see pcache.h
 * for the contracts and the locking rules).
 *
 * This file owns every struct pcache_entry and its page, the reserves they
 * come from (two mempools) and the cache's shrinker.  The index is sharded:
 * the name (dev, pblock) hashes to one of PCACHE_SHARDS shards, each with
 * its own spinlock, hash chains and LRU list of unreferenced entries, so
 * readers of different blocks rarely meet on a lock.
 *
 * Invariants (under the shard lock):
 *  - an entry is on its shard's LRU list iff it is hashed and unreferenced,
 *    and pcache_nr_unused counts the entries on LRU lists;
 *  - an entry that is neither hashed nor referenced is freed at once;
 *  - at most one hashed entry per name;
 *  - pcache_nr counts every entry that exists (hashed or not).
 *
 * Memory.  Entries come from pcache_entry_pool and pages for reads from
 * pcache_page_pool, mempools whose reserves are sized in PCACHE_RESERVE
 * below.  mempool_alloc() takes the page allocator first (without reclaim),
 * then the reserve, then waits for an element to come back.  Entries kept
 * in the cache after their last holder would never come back, so the cache
 * keeps an unreferenced entry only while both reserves are full: an entry
 * released while either is short is freed at once, and refills it.  An
 * allocation that must not fail first evicts unreferenced entries, then
 * waits; what it waits for are entries held by I/O in flight, which each
 * holder releases without allocating from pcache again.  Read-ahead never
 * waits.  The shrinker gives back unreferenced entries under memory
 * pressure; held ones are never touched.
 *
 * The hard part is the lifetime of a name across allocations: the core may
 * free a block and hand it out again for other data.  The target installs
 * the new data under the name before anyone can be told about the block
 * (under the hash lock of its data, write.c), and installing unhashes the
 * stale entry, so the index never serves the previous contents of a block to
 * a lookup made after the allocation.
 *
 * The size bound is read from the module parameter cache_mb at every
 * insertion, so it may be changed at run time; the number of hash chains is
 * fixed at load from the value then (longer chains, not errors, follow a
 * large increase).
 */
#include "pcache.h"

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/semaphore.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/version.h>
#include <linux/wait_bit.h>

#include "../include/sis-format.h"

#define PCACHE_SHARD_BITS	6
#define PCACHE_SHARDS		BIT(PCACHE_SHARD_BITS)
#define PCACHE_MIN_BUCKETS	64

/*
 * The reserves, and who may draw on them.  A reader waits for one entry and
 * page at a time, holding none, and takes a read-ahead run of up to
 * PCACHE_MAX_RUN only from what is free; a writer's candidate reads
 * (pcache_get_batch()) wait for the first entry only and release all of
 * them after the compare: such holds are brief, each ends when its own
 * read does.  What is held while its holder waits for more is a write
 * batch's own blocks (pcache_new(): one entry and page per block of a
 * 128 KiB bio, dm splits bios at PCACHE_MAX_RUN = 32 blocks, and as many
 * again for blocks to store again while the first are still held), plus
 * one brief hold.  Such a batch draws on the reserves only under one of
 * PCACHE_TICKETS tickets (struct pcache_ticket), taken the first time the
 * page allocator gives it nothing and kept until the batch ends.  So the
 * reserves below (PCACHE_TICKETS * PCACHE_TICKET_NEED entries and pages,
 * 260 of each, 1 MiB of pages, for the whole module) always cover the
 * ticket holders, which therefore progress however short memory is; the
 * brief holders wait for nothing but their own reads.  Batches without a
 * ticket take only what the page allocator gives, or wait for a ticket,
 * holding no reserve element and no hash lock (write.c takes its blocks
 * before its hash locks).
 */
#define PCACHE_TICKETS		4
#define PCACHE_TICKET_NEED	(2 * PCACHE_MAX_RUN + 1)
#define PCACHE_RESERVE		(PCACHE_TICKETS * PCACHE_TICKET_NEED)

static struct semaphore pcache_tickets;

static bool test_reserve_only;
module_param(test_reserve_only, bool, 0644);
MODULE_PARM_DESC(test_reserve_only,
		 "For tests: the shared cache takes nothing from the page allocator, only its reserves, as when memory is exhausted (default N)");

static unsigned int cache_mb = 256;
module_param(cache_mb, uint, 0644);
MODULE_PARM_DESC(cache_mb,
		 "Size limit of the shared data-block cache of all sis devices, in MiB (default 256)");

/**
 * struct pcache_shard - one slice of the index
 * @lock:    protects everything below and the entries' list links and refs
 * @buckets: hash chains of hashed entries
 * @lru:     hashed, unreferenced entries, most recently released first
 */
struct pcache_shard {
	spinlock_t lock;	/* see the kernel-doc above */
	struct hlist_head *buckets;
	struct list_head lru;
} ____cacheline_aligned_in_smp;

static struct pcache_shard pcache_shards[PCACHE_SHARDS];
static unsigned int pcache_bucket_bits;	/* set once at init */
static struct kmem_cache *pcache_entry_cache;
static mempool_t *pcache_entry_pool;
static mempool_t *pcache_page_pool;
static atomic_long_t pcache_nr = ATOMIC_LONG_INIT(0);
static atomic_long_t pcache_nr_unused = ATOMIC_LONG_INIT(0);
static atomic_t pcache_evict_cursor = ATOMIC_INIT(0);

static u64 pcache_hash(dev_t dev, u64 pblock)
{
	return hash_64(pblock ^ ((u64)dev << 40) ^ ((u64)dev >> 24), 64);
}

static struct pcache_shard *pcache_shard_of(u64 h)
{
	return &pcache_shards[h & (PCACHE_SHARDS - 1)];
}

static struct hlist_head *pcache_bucket_of(struct pcache_shard *s, u64 h)
{
	return &s->buckets[(h >> PCACHE_SHARD_BITS) &
			   ((1UL << pcache_bucket_bits) - 1)];
}

static unsigned long pcache_limit(void)
{
	return (unsigned long)READ_ONCE(cache_mb) << (20 - SIS_BLOCK_SHIFT);
}

/* Caller holds s->lock. */
static struct pcache_entry *__pcache_find(struct pcache_shard *s, u64 h,
					  dev_t dev, u64 pblock)
{
	struct pcache_entry *e;

	hlist_for_each_entry(e, pcache_bucket_of(s, h), node)
		if (e->dev == dev && e->pblock == pblock)
			return e;
	return NULL;
}

/*
 * Caller holds s->lock: @e (hashed, unreferenced) joins the LRU list, at
 * the warm end, or at the cold end (evicted first) while nobody but its
 * writer has used it: a stream of new unique data then evicts itself, not
 * the shared blocks the cache is for.
 */
static void __pcache_lru_add(struct pcache_shard *s, struct pcache_entry *e)
{
	if (e->cold)
		list_add_tail(&e->lru, &s->lru);
	else
		list_add(&e->lru, &s->lru);
	atomic_long_inc(&pcache_nr_unused);
}

/* Caller holds s->lock: @e leaves the LRU list. */
static void __pcache_lru_del(struct pcache_entry *e)
{
	list_del_init(&e->lru);
	atomic_long_dec(&pcache_nr_unused);
}

/* Caller holds s->lock; takes a reference for a look-up: @e is warm now. */
static void __pcache_hold(struct pcache_entry *e)
{
	e->cold = false;
	if (!e->ref++ && e->hashed)
		__pcache_lru_del(e);
}

/*
 * Caller holds s->lock.  Removes @e from the index; returns true if the
 * caller must free it (no holder left).
 */
static bool __pcache_unhash(struct pcache_entry *e)
{
	if (!e->hashed)
		return false;
	hlist_del_init(&e->node);
	e->hashed = false;
	if (e->ref)
		return false;
	__pcache_lru_del(e);
	return true;
}

/* Frees to the reserves first (mempool_free() refills a short one). */
static void pcache_free(struct pcache_entry *e)
{
	mempool_free(e->page, pcache_page_pool);
	mempool_free(e, pcache_entry_pool);
	atomic_long_dec(&pcache_nr);
}

/* Is either reserve short (elements of it in use)?  Lockless hint. */
static bool pcache_reserve_short(void)
{
	return READ_ONCE(pcache_entry_pool->curr_nr) < pcache_entry_pool->min_nr ||
	       READ_ONCE(pcache_page_pool->curr_nr) < pcache_page_pool->min_nr;
}

static unsigned long pcache_evict(unsigned long nr);
static struct pcache_entry *pcache_reuse(void);

/* test_reserve_only, once the reserves are filled (module init) */
static bool pcache_reserves_filled;

static bool pcache_test_exhausted(void)
{
	return READ_ONCE(test_reserve_only) && pcache_reserves_filled;
}

/*
 * The mempools' allocators: the kernel's, except that under
 * test_reserve_only they give nothing (the frees are the kernel's).
 */
static void *pcache_mempool_alloc_page(gfp_t gfp, void *order)
{
	return pcache_test_exhausted() ? NULL : mempool_alloc_pages(gfp, order);
}

static void *pcache_mempool_alloc_entry(gfp_t gfp, void *cache)
{
	return pcache_test_exhausted() ? NULL : mempool_alloc_slab(gfp, cache);
}

/*
 * An element of @pool for a brief hold (see the reserves above): without
 * waiting if @wait is false (NULL if none is free), else never NULL: after
 * a non-waiting try, unreferenced entries are evicted (refilling the
 * reserves), then mempool_alloc() waits.  The caller holds no shard lock.
 */
static void *pcache_pool_alloc(mempool_t *pool, bool wait)
{
	void *p = mempool_alloc(pool, GFP_NOWAIT);

	if (p || !wait)
		return p;
	pcache_evict(PCACHE_MAX_RUN);
	return mempool_alloc(pool, GFP_NOIO);
}

/*
 * An element of @pool held while its holder may wait for more: from the
 * page allocator, else from the reserve under @t's ticket (taken here the
 * first time, waiting for one if need be).  Never NULL.
 */
static void *pcache_pool_alloc_held(mempool_t *pool, struct pcache_ticket *t)
{
	void *p = pool->alloc(GFP_NOIO | __GFP_NORETRY | __GFP_NOWARN,
			      pool->pool_data);

	if (p)
		return p;
	if (!t->held) {
		down(&pcache_tickets);
		t->held = true;
	}
	pcache_evict(PCACHE_MAX_RUN);
	return mempool_alloc(pool, GFP_NOIO);
}

void pcache_ticket_put(struct pcache_ticket *t)
{
	if (t->held)
		up(&pcache_tickets);
	t->held = false;
}

/* Make @e a held LOADING entry of (@dev, @pblock) with @page, unhashed. */
static void pcache_init_entry(struct pcache_entry *e, dev_t dev, u64 pblock,
			      struct page *page)
{
	INIT_HLIST_NODE(&e->node);
	INIT_LIST_HEAD(&e->lru);
	e->dev = dev;
	e->pblock = pblock;
	e->page = page;
	e->ref = 1;
	e->hashed = false;
	e->cold = false;
	e->state = PCACHE_LOADING;
	atomic_long_inc(&pcache_nr);
}

/* A new held LOADING entry with a page, for a brief hold.  NULL only if !@wait. */
static struct pcache_entry *pcache_alloc_entry(dev_t dev, u64 pblock, bool wait)
{
	struct pcache_entry *e = pcache_reuse();
	struct page *page;

	if (e) {
		pcache_init_entry(e, dev, pblock, e->page);
		return e;
	}
	e = pcache_pool_alloc(pcache_entry_pool, wait);
	if (!e)
		return NULL;
	page = pcache_pool_alloc(pcache_page_pool, wait);
	if (!page) {
		mempool_free(e, pcache_entry_pool);
		return NULL;
	}
	pcache_init_entry(e, dev, pblock, page);
	return e;
}

/* Caller holds s->lock: publish a held entry. */
static void __pcache_insert(struct pcache_shard *s, u64 h, struct pcache_entry *e)
{
	hlist_add_head(&e->node, pcache_bucket_of(s, h));
	e->hashed = true;
}

/*
 * Take the least recently released unreferenced entry of a shard out of
 * the index, shards taken round-robin.  Return: the entry, owned by the
 * caller (free it or reuse it), or NULL if every LRU list is empty.
 */
static struct pcache_entry *pcache_evict_one(void)
{
	unsigned int idle;

	for (idle = 0; idle < PCACHE_SHARDS; idle++) {
		unsigned int i = (unsigned int)atomic_inc_return(&pcache_evict_cursor);
		struct pcache_shard *s = &pcache_shards[i & (PCACHE_SHARDS - 1)];
		struct pcache_entry *e = NULL;
		bool evicted = false;

		spin_lock(&s->lock);
		if (!list_empty(&s->lru)) {
			e = list_last_entry(&s->lru, struct pcache_entry, lru);
			evicted = __pcache_unhash(e);
		}
		spin_unlock(&s->lock);
		if (evicted)
			return e;
	}
	return NULL;
}

/*
 * Evict up to @nr unreferenced entries (pcache_evict_one()).  Return:
 * entries freed (fewer if every LRU list is empty).
 */
static unsigned long pcache_evict(unsigned long nr)
{
	struct pcache_entry *e;
	unsigned long freed;

	for (freed = 0; freed < nr; freed++) {
		e = pcache_evict_one();
		if (!e)
			break;
		pcache_free(e);
	}
	return freed;
}

/*
 * A full cache makes room by reusing its coldest entry, page and all, for
 * the new one, as dm-bufio reuses its least recently used clean buffer:
 * no free and no allocation, and no page for the allocator to zero
 * (init_on_alloc).  Not while a reserve is short: eviction refills it.
 * Return: an unhashed entry to initialise, or NULL (allocate instead).
 */
static struct pcache_entry *pcache_reuse(void)
{
	struct pcache_entry *e;

	if (atomic_long_read(&pcache_nr) < pcache_limit() ||
	    pcache_reserve_short())
		return NULL;
	e = pcache_evict_one();
	if (e)
		atomic_long_dec(&pcache_nr);	/* pcache_init_entry() counts it */
	return e;
}

/* Evict unreferenced entries until under the limit (as far as possible). */
static void pcache_shrink(void)
{
	unsigned long limit = pcache_limit(), nr = atomic_long_read(&pcache_nr);

	if (nr > limit)
		pcache_evict(nr - limit);
}

static void pcache_set_state(struct pcache_entry *e, int state)
{
	u64 h = pcache_hash(e->dev, e->pblock);
	struct pcache_shard *s = pcache_shard_of(h);

	spin_lock(&s->lock);
	WRITE_ONCE(e->state, state);
	if (state == PCACHE_ERROR)
		__pcache_unhash(e);	/* held by the caller: never frees */
	spin_unlock(&s->lock);
	/* wake_up_var() needs a full barrier after the condition's store */
	smp_mb();
	wake_up_var(&e->state);
}

static bool pcache_settled(struct pcache_entry *e)
{
	int state = READ_ONCE(e->state);

	return state == PCACHE_VALID || state == PCACHE_ERROR;
}

int pcache_wait(struct pcache_entry *e)
{
	wait_var_event(&e->state, pcache_settled(e));
	/* pairs with the barrier in pcache_set_state(): the page is filled */
	smp_rmb();
	return READ_ONCE(e->state) == PCACHE_VALID ? 0 : -EIO;
}

static bool pcache_filled(struct pcache_entry *e)
{
	return READ_ONCE(e->state) != PCACHE_LOADING;
}

int pcache_wait_filled(struct pcache_entry *e)
{
	wait_var_event(&e->state, pcache_filled(e));
	/* pairs with the barrier in pcache_set_state(): the page is filled */
	smp_rmb();
	return READ_ONCE(e->state) == PCACHE_ERROR ? -EIO : 0;
}

/*
 * A written entry's state, from its write's completion (any context):
 * WRITING -> VALID, or ERROR, which pcache_write_done() then takes out of
 * the index under the shard lock.  Lockless: nothing but the completion
 * changes a WRITING entry's state, and its waiters read it with
 * READ_ONCE().
 */
static void pcache_settle_write(struct pcache_entry *e, int err)
{
	/* pairs with the barrier after the waiters' READ_ONCE() */
	smp_wmb();
	WRITE_ONCE(e->state, err ? PCACHE_ERROR : PCACHE_VALID);
	/* wake_up_var() needs a full barrier after the condition's store */
	smp_mb();
	wake_up_var(&e->state);
}

static void pcache_rw_endio(struct bio *bio)
{
	struct pcache_rw *rw = bio->bi_private;
	int err = blk_status_to_errno(bio->bi_status);
	unsigned int k, i;

	/* runs before this one were published before it was submitted */
	for (k = 0; READ_ONCE(rw->bios[k]) != bio; k++)
		;
	for (i = rw->first[k]; i < rw->first[k + 1]; i++) {
		if (err)
			rw->errs[i] = err;
		if (rw->es)
			pcache_settle_write(rw->es[i], err);
	}
	bio_put(bio);
	if (atomic_dec_and_test(&rw->pending))
		complete(&rw->done);
}

/*
 * Submit block @i of @nr (@pblock, @page) of a pcache_rw: a new bio when
 * it does not follow the previous block on disk.
 */
static void pcache_rw_add(struct pcache_rw *rw, struct block_device *bdev,
			  enum req_op op, struct bio_set *bs, unsigned int i,
			  unsigned int nr, u64 pblock, struct page *page)
{
	unsigned int k = rw->nr_runs;

	rw->errs[i] = 0;
	if (!k || pblock != rw->last + 1) {
		rw->first[k] = i;	/* the end of run k - 1 too */
		if (k)
			submit_bio(rw->bios[k - 1]);
		/* one at a time from @bs: its reserve always serves */
		rw->cur = bio_alloc_bioset(bdev, nr - i, op, GFP_NOIO, bs);
		rw->cur->bi_iter.bi_sector =
			pblock << (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
		rw->cur->bi_end_io = pcache_rw_endio;
		rw->cur->bi_private = rw;
		WRITE_ONCE(rw->bios[k], rw->cur);
		rw->nr_runs++;
		atomic_inc(&rw->pending);
	}
	rw->last = pblock;
	__bio_add_page(rw->cur, page, SIS_BLOCK_SIZE, 0);
}

/*
 * Submit @nr blocks under one plug, one bio per run contiguous on disk:
 * the blocks and pages of @es if set (which the completions settle), else
 * @pblocks and @pages.  Results to @errs once pcache_rw_wait() returns.
 */
static void pcache_rw_start(struct pcache_rw *rw, struct block_device *bdev,
			    enum req_op op, struct bio_set *bs,
			    struct pcache_entry **es, const u64 *pblocks,
			    struct page **pages, unsigned int nr, int *errs)
{
	struct blk_plug plug;
	unsigned int i;

	if (WARN_ON_ONCE(nr > PCACHE_MAX_RUN))
		nr = PCACHE_MAX_RUN;
	atomic_set(&rw->pending, 1);
	init_completion(&rw->done);
	rw->errs = errs;
	rw->es = es;
	rw->nr_runs = 0;
	memset(rw->bios, 0, sizeof(rw->bios));
	blk_start_plug(&plug);
	for (i = 0; i < nr; i++)
		pcache_rw_add(rw, bdev, op, bs, i, nr,
			      es ? es[i]->pblock : pblocks[i],
			      es ? es[i]->page : pages[i]);
	if (rw->nr_runs) {	/* the last run */
		rw->first[rw->nr_runs] = nr;
		submit_bio(rw->cur);
	}
	blk_finish_plug(&plug);
}

void pcache_write_submit(struct pcache_rw *rw, struct block_device *bdev,
			 struct bio_set *bs, struct pcache_entry **es,
			 unsigned int nr, int *errs)
{
	pcache_rw_start(rw, bdev, REQ_OP_WRITE, bs, es, NULL, NULL, nr, errs);
}

void pcache_rw_wait(struct pcache_rw *rw)
{
	if (!atomic_dec_and_test(&rw->pending))
		wait_for_completion_io(&rw->done);
}

void pcache_rw_blocks(struct block_device *bdev, enum req_op op,
		      struct bio_set *bs, const u64 *pblocks,
		      struct page **pages, unsigned int nr, int *errs)
{
	struct pcache_rw rw;

	pcache_rw_start(&rw, bdev, op, bs, NULL, pblocks, pages, nr, errs);
	pcache_rw_wait(&rw);
}

/*
 * Load the entries @es[i] with @fresh[i] set (LOADING, created by the
 * caller), all at once (pcache_rw_blocks()), then make each VALID or
 * ERROR.
 */
static void pcache_load(struct block_device *bdev, struct pcache_entry **es,
			const bool *fresh, unsigned int nr)
{
	struct page *pages[PCACHE_MAX_RUN];
	u64 pblocks[PCACHE_MAX_RUN];
	u8 idx[PCACHE_MAX_RUN];
	int errs[PCACHE_MAX_RUN];
	unsigned int i, n = 0;

	for (i = 0; i < nr; i++) {
		if (!fresh[i])
			continue;
		idx[n] = i;
		pblocks[n] = es[i]->pblock;
		pages[n++] = es[i]->page;
	}
	if (!n)
		return;
	pcache_rw_blocks(bdev, REQ_OP_READ, &fs_bio_set, pblocks, pages, n,
			 errs);
	for (i = 0; i < n; i++)
		pcache_set_state(es[idx[i]],
				 errs[i] ? PCACHE_ERROR : PCACHE_VALID);
}

struct pcache_entry *pcache_lookup(dev_t dev, u64 pblock)
{
	u64 h = pcache_hash(dev, pblock);
	struct pcache_shard *s = pcache_shard_of(h);
	struct pcache_entry *e;

	spin_lock(&s->lock);
	e = __pcache_find(s, h, dev, pblock);
	if (e)
		__pcache_hold(e);
	spin_unlock(&s->lock);
	return e;
}

struct pcache_entry *pcache_lookup_valid(dev_t dev, u64 pblock)
{
	struct pcache_entry *e = pcache_lookup(dev, pblock);

	if (e && READ_ONCE(e->state) != PCACHE_VALID) {
		pcache_put(e);
		return NULL;
	}
	/* pairs with the barrier in pcache_set_state(): the page is filled */
	smp_rmb();
	return e;
}

/*
 * Hold the entry of (@dev, @pblock), creating a LOADING one if absent.
 * @wait: the caller needs the block to make progress (from the reserve,
 * waiting if need be), else it is read-ahead (only if memory is free now).
 * Return: the held entry, true in *@fresh if the caller must load it, or
 * NULL (only if !@wait).
 */
static struct pcache_entry *pcache_get_or_create(dev_t dev, u64 pblock,
						 bool wait, bool *fresh)
{
	u64 h = pcache_hash(dev, pblock);
	struct pcache_shard *s = pcache_shard_of(h);
	struct pcache_entry *e, *found;

	*fresh = false;
	e = pcache_lookup(dev, pblock);
	if (e)
		return e;

	e = pcache_alloc_entry(dev, pblock, wait);
	if (!e)
		return NULL;

	spin_lock(&s->lock);
	found = __pcache_find(s, h, dev, pblock);
	if (found)
		__pcache_hold(found);
	else
		__pcache_insert(s, h, e);
	spin_unlock(&s->lock);

	if (found) {
		/* raced with another reader or an installer: use theirs */
		pcache_free(e);
		return found;
	}
	*fresh = true;
	return e;
}

struct pcache_entry *pcache_get_run(struct block_device *bdev, u64 pblock,
				    unsigned int nr, bool *hit)
{
	struct pcache_entry *es[PCACHE_MAX_RUN];
	bool fresh[PCACHE_MAX_RUN];
	unsigned int i;
	int r;

	nr = clamp(nr, 1U, (unsigned int)PCACHE_MAX_RUN);
	for (i = 0; i < nr; i++) {
		es[i] = pcache_get_or_create(bdev->bd_dev, pblock + i, !i,
					     &fresh[i]);
		if (!es[i])
			break;
	}
	if (!i)
		return ERR_PTR(-ENOMEM);
	nr = i;
	*hit = !fresh[0];
	pcache_shrink();

	/* the blocks nobody else is loading or holds */
	pcache_load(bdev, es, fresh, nr);
	for (i = 1; i < nr; i++)
		pcache_put(es[i]);

	r = pcache_wait(es[0]);
	if (r) {
		pcache_put(es[0]);
		return ERR_PTR(r);
	}
	return es[0];
}

struct pcache_entry *pcache_get(struct block_device *bdev, u64 pblock, bool *hit)
{
	return pcache_get_run(bdev, pblock, 1, hit);
}

unsigned int pcache_get_batch(struct block_device *bdev, const u64 *pblocks,
			      unsigned int nr, struct pcache_entry **es,
			      unsigned int *nr_read)
{
	bool fresh[PCACHE_MAX_RUN];
	unsigned int i;

	nr = clamp(nr, 1U, (unsigned int)PCACHE_MAX_RUN);
	*nr_read = 0;
	/* only the first waits for memory: the caller holds none of these */
	for (i = 0; i < nr; i++) {
		es[i] = pcache_get_or_create(bdev->bd_dev, pblocks[i], !i,
					     &fresh[i]);
		if (!es[i])
			break;
		*nr_read += fresh[i];
	}
	pcache_shrink();
	pcache_load(bdev, es, fresh, i);
	return i;
}

struct pcache_entry *pcache_new(struct pcache_ticket *t)
{
	struct pcache_entry *e = pcache_reuse();

	if (e) {
		pcache_init_entry(e, 0, 0, e->page);
		return e;
	}
	e = pcache_pool_alloc_held(pcache_entry_pool, t);
	pcache_init_entry(e, 0, 0, pcache_pool_alloc_held(pcache_page_pool, t));
	return e;
}

void pcache_install(struct pcache_entry *e, dev_t dev, u64 pblock)
{
	u64 h = pcache_hash(dev, pblock);
	struct pcache_shard *s = pcache_shard_of(h);
	struct pcache_entry *old;
	bool free_old = false;

	/* unnamed and held by the caller alone: nobody else sees it yet */
	e->dev = dev;
	e->pblock = pblock;
	e->state = PCACHE_WRITING;
	e->cold = true;		/* until someone else looks it up */

	spin_lock(&s->lock);
	old = __pcache_find(s, h, dev, pblock);
	if (old)
		free_old = __pcache_unhash(old);
	__pcache_insert(s, h, e);
	spin_unlock(&s->lock);

	if (free_old)
		pcache_free(old);
	pcache_shrink();
}

void pcache_write_done(struct pcache_entry *e, int err)
{
	pcache_set_state(e, err ? PCACHE_ERROR : PCACHE_VALID);
}

void pcache_put(struct pcache_entry *e)
{
	u64 h = pcache_hash(e->dev, e->pblock);
	struct pcache_shard *s = pcache_shard_of(h);
	bool do_free = false;

	spin_lock(&s->lock);
	if (!--e->ref) {
		/* a short reserve takes it back instead of the cache */
		if (e->hashed && pcache_reserve_short()) {
			hlist_del_init(&e->node);
			e->hashed = false;
		}
		if (e->hashed)
			__pcache_lru_add(s, e);
		else
			do_free = true;
	}
	spin_unlock(&s->lock);

	if (do_free)
		pcache_free(e);
}

void pcache_invalidate(dev_t dev, u64 pblock)
{
	u64 h = pcache_hash(dev, pblock);
	struct pcache_shard *s = pcache_shard_of(h);
	struct pcache_entry *e;
	bool do_free = false;

	spin_lock(&s->lock);
	e = __pcache_find(s, h, dev, pblock);
	if (e)
		do_free = __pcache_unhash(e);
	spin_unlock(&s->lock);

	if (do_free)
		pcache_free(e);
}

static void pcache_free_list(struct list_head *victims)
{
	struct pcache_entry *e, *tmp;

	list_for_each_entry_safe(e, tmp, victims, lru) {
		list_del(&e->lru);
		pcache_free(e);
	}
}

/*
 * Only the LRU lists are walked: a held entry may be a writer's whose disk
 * write is in flight, and unhashing it would let a reader enter the block's
 * old contents from the disk as VALID.
 */
unsigned long pcache_drop(dev_t dev)
{
	unsigned long dropped = 0;
	unsigned int i;

	for (i = 0; i < PCACHE_SHARDS; i++) {
		struct pcache_shard *s = &pcache_shards[i];
		struct pcache_entry *e, *tmp;
		LIST_HEAD(victims);

		spin_lock(&s->lock);
		list_for_each_entry_safe(e, tmp, &s->lru, lru) {
			if (dev && e->dev != dev)
				continue;
			if (__pcache_unhash(e)) {	/* unreferenced: true */
				list_add(&e->lru, &victims);
				dropped++;
			}
		}
		spin_unlock(&s->lock);
		pcache_free_list(&victims);
		cond_resched();
	}
	return dropped;
}

unsigned long pcache_forget_dev(dev_t dev)
{
	unsigned long nr_buckets = 1UL << pcache_bucket_bits, dropped = 0, b;
	unsigned long held = 0;
	unsigned int i;

	for (i = 0; i < PCACHE_SHARDS; i++) {
		struct pcache_shard *s = &pcache_shards[i];
		struct pcache_entry *e;
		struct hlist_node *tmp;
		LIST_HEAD(victims);

		spin_lock(&s->lock);
		for (b = 0; b < nr_buckets; b++) {
			hlist_for_each_entry_safe(e, tmp, &s->buckets[b], node) {
				if (dev && e->dev != dev)
					continue;
				dropped++;
				if (e->ref)
					held++;
				if (__pcache_unhash(e))
					list_add(&e->lru, &victims);
			}
		}
		spin_unlock(&s->lock);
		pcache_free_list(&victims);
		cond_resched();
	}
	WARN_ONCE(held, "dm-sis pcache: %lu entries of %u:%u held while forgotten\n",
		  held, MAJOR(dev), MINOR(dev));
	return dropped;
}

unsigned long pcache_nr_blocks(void)
{
	return atomic_long_read(&pcache_nr);
}

/* The shrinker: unreferenced entries are given back under memory pressure. */
static unsigned long pcache_shrinker_count(struct shrinker *shrink,
					   struct shrink_control *sc)
{
	long nr = atomic_long_read(&pcache_nr_unused);

	return nr > 0 ? nr : 0;
}

/* Takes shard locks only, no I/O: safe in any reclaim context. */
static unsigned long pcache_shrinker_scan(struct shrinker *shrink,
					  struct shrink_control *sc)
{
	unsigned long freed = pcache_evict(sc->nr_to_scan);

	return freed ? freed : SHRINK_STOP;
}

/*
 * Shrinker compat: from 6.7 a shrinker is allocated by shrinker_alloc() and
 * published by shrinker_register(), and shrinker_free() unregisters and
 * frees it; before, the caller owns a struct shrinker and registers it with
 * register_shrinker(shrinker, fmt) (6.0 to 6.6: 6.1 is the oldest kernel
 * built for).  pcache_shrinker_add() and pcache_shrinker_del() hide the
 * difference; nothing else in the module uses shrinkers.  The choice is by
 * kernel version, LINUX_VERSION_CODE without its sublevel: checkpatch
 * --strict warns at any use of that macro itself, and make lint ignores no
 * warning type.
 */
#define PCACHE_KERNEL_VERSION \
	KERNEL_VERSION(LINUX_VERSION_MAJOR, LINUX_VERSION_PATCHLEVEL, 0)

#if KERNEL_VERSION(6, 7, 0) <= PCACHE_KERNEL_VERSION
static struct shrinker *pcache_shrinker;

static int pcache_shrinker_add(void)
{
	pcache_shrinker = shrinker_alloc(0, "dm-sis-pcache");
	if (!pcache_shrinker)
		return -ENOMEM;
	pcache_shrinker->count_objects = pcache_shrinker_count;
	pcache_shrinker->scan_objects = pcache_shrinker_scan;
	pcache_shrinker->seeks = DEFAULT_SEEKS;
	shrinker_register(pcache_shrinker);
	return 0;
}

static void pcache_shrinker_del(void)
{
	shrinker_free(pcache_shrinker);
}
#else
static struct shrinker pcache_shrinker = {
	.count_objects = pcache_shrinker_count,
	.scan_objects = pcache_shrinker_scan,
	.seeks = DEFAULT_SEEKS,
};

static int pcache_shrinker_add(void)
{
	return register_shrinker(&pcache_shrinker, "dm-sis-pcache");
}

static void pcache_shrinker_del(void)
{
	unregister_shrinker(&pcache_shrinker);
}
#endif

int pcache_init(void)
{
	unsigned long per_shard = max(pcache_limit() / PCACHE_SHARDS,
				      (unsigned long)PCACHE_MIN_BUCKETS);
	unsigned long nr_buckets, b;
	unsigned int i;

	pcache_bucket_bits = min(ilog2(roundup_pow_of_two(per_shard)), 16);
	nr_buckets = 1UL << pcache_bucket_bits;

	pcache_entry_cache = KMEM_CACHE(pcache_entry, 0);
	if (!pcache_entry_cache)
		return -ENOMEM;
	sema_init(&pcache_tickets, PCACHE_TICKETS);
	pcache_entry_pool = mempool_create(PCACHE_RESERVE,
					   pcache_mempool_alloc_entry,
					   mempool_free_slab, pcache_entry_cache);
	if (!pcache_entry_pool)
		goto bad_entry_pool;
	pcache_page_pool = mempool_create(PCACHE_RESERVE,
					  pcache_mempool_alloc_page,
					  mempool_free_pages, NULL /* order 0 */);
	if (!pcache_page_pool)
		goto bad_page_pool;
	pcache_reserves_filled = true;

	for (i = 0; i < PCACHE_SHARDS; i++) {
		struct pcache_shard *s = &pcache_shards[i];

		spin_lock_init(&s->lock);
		INIT_LIST_HEAD(&s->lru);
		s->buckets = kvmalloc_array(nr_buckets, sizeof(*s->buckets),
					    GFP_KERNEL);
		if (!s->buckets)
			goto bad;
		for (b = 0; b < nr_buckets; b++)
			INIT_HLIST_HEAD(&s->buckets[b]);
	}
	if (pcache_shrinker_add())
		goto bad;
	return 0;

bad:
	while (i--)
		kvfree(pcache_shards[i].buckets);
	mempool_destroy(pcache_page_pool);
bad_page_pool:
	mempool_destroy(pcache_entry_pool);
bad_entry_pool:
	kmem_cache_destroy(pcache_entry_cache);
	return -ENOMEM;
}

void pcache_exit(void)
{
	unsigned int i;

	pcache_shrinker_del();
	pcache_forget_dev(0);
	WARN_ON(atomic_long_read(&pcache_nr));
	for (i = 0; i < PCACHE_SHARDS; i++)
		kvfree(pcache_shards[i].buckets);
	mempool_destroy(pcache_page_pool);
	mempool_destroy(pcache_entry_pool);
	kmem_cache_destroy(pcache_entry_cache);
}
