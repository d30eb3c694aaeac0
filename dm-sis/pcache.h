/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcache: the module-wide shared cache of 4 KiB data blocks.
 *
 * One cache serves every "sis" device.  An entry is named by (backing device,
 * physical block) and holds one page of that block's data.  Since every
 * logical block, on every device, that maps a physical block reads the same
 * entry, reading N logical copies of a block costs one disk read.  The data
 * compare that guards every dedup hit also reads the candidate through here.
 *
 * Contracts:
 *  - The data of an entry never changes while the entry exists.  A write of
 *    new data to a block the caller just allocated installs a new entry
 *    (pcache_install()), which replaces any older entry of the same name in
 *    the index; holders of the older entry keep reading their copy.
 *  - States: PCACHE_LOADING (a disk read is filling the page),
 *    PCACHE_WRITING (the page holds the data, its disk write is in flight),
 *    PCACHE_VALID, PCACHE_ERROR (the read or write failed; the entry is
 *    out of the index, or about to be once its writer sees the error, so
 *    the next lookup reads the disk again).
 *    LOADING and WRITING only move to VALID or ERROR.
 *  - pcache_get() returns an entry whose page may be read: VALID, or -EIO
 *    for ERROR.  It waits for LOADING and WRITING to finish.
 *  - An entry with holders is never evicted nor unhashed, except by an
 *    error of its own I/O, pcache_install() of a new block under its name,
 *    pcache_invalidate() and pcache_forget_dev(): so a writer's entry stays
 *    the one every lookup finds until its disk write is done.
 *  - The cache holds at most cache_mb MiB of unreferenced entries, and
 *    fewer under memory pressure (its shrinker gives them back); entries
 *    with holders are never evicted, so the bound may be exceeded briefly by
 *    the entries in use.  Eviction takes the least recently released entry
 *    of a shard, shards taken round-robin ("LRU-ish", like dm-bufio); a
 *    block pcache_install()ed by a writer and not looked up since enters
 *    at the cold end when released, so a stream of new unique data evicts
 *    its own blocks, never the shared blocks read before it.  A full cache
 *    gives a new entry the evicted one's memory, page and all, as dm-bufio
 *    reuses its least recently used clean buffer: a stream of new blocks
 *    then frees and allocates nothing (and the page allocator zeroes no
 *    page for it under init_on_alloc).
 *  - Memory: the entries and pages that I/O needs to progress come from
 *    reserves of the cache's own (mempools; sizing in pcache.c), so
 *    pcache_get(), pcache_get_run(), pcache_get_batch() and pcache_new()
 *    never fail for lack of memory: under pressure they may wait until
 *    other I/O releases entries.  A caller may hold up to 2 *
 *    PCACHE_MAX_RUN entries of pcache_new() while it calls them; those are
 *    drawn from the reserves only under a ticket (struct pcache_ticket),
 *    of which there are as many as the reserves can serve at once, so every
 *    ticket holder progresses however short memory is.
 *  - The cache knows nothing of refcounts: the target must call
 *    pcache_install() (or pcache_invalidate()) for a block it allocates
 *    before the block's new data can be read, and pcache_forget_dev() for a
 *    device it starts or stops using (offline tools may rewrite it).
 *
 * Why not dm-bufio.  Its unit is a client per block device, which alone
 * would not cost extra copies (blocks are shared only within one backing
 * device, so one client per pool would hold one copy of each), but its
 * buffers are mutable write-back buffers, one per block, written by
 * dm-bufio itself one I/O per buffer, with write errors reported at the
 * next flush of dirty buffers.  pcache needs what it does not have: new
 * data installed under a name whose old entry is still held, the holders
 * keeping their copy; the writer's own data writes (one bio per run of a
 * batch) with the entry readable meanwhile (PCACHE_WRITING), so that a
 * duplicate writer compares without waiting; and a failed write that
 * takes the entry out of the index at once (PCACHE_ERROR).
 *
 * Locking: the index is split in PCACHE_SHARDS shards chosen by hashing the
 * name; shard->lock (a spinlock, never held across I/O or allocation)
 * protects the shard's hash chains, its LRU list, and entry->node, ->lru,
 * ->hashed and ->ref of its entries; the count of unreferenced entries (the
 * shrinker's) changes under it and is read locklessly.  entry->state is
 * written under the shard lock and read locklessly (READ_ONCE) by waiters,
 * who sleep in wait_var_event() on &entry->state; the one exception is a
 * write's completion, which moves WRITING to VALID or ERROR locklessly
 * (nothing else changes a WRITING entry's state; pcache_write_done() then
 * unhashes an ERROR one under the lock).  entry->dev, ->pblock and
 * ->page are set before the entry is published and never change.  The
 * reserves (mempools) have their own locks, never taken under a shard lock
 * by pcache (mempool_free() is called after the shard lock is dropped).
 * The shrinker takes shard locks only, from reclaim; pcache never allocates
 * under a shard lock, so reclaim cannot recurse into a held one.
 *
 * Every function may sleep unless stated otherwise; none may be called from
 * atomic context.  There is no lock ordering to respect: the cache takes no
 * lock of its callers and holds none of its own when it returns.
 *
 * Not done here: metadata blocks (the core has its own cache), write-back
 * (writes are the caller's), and readahead.
 */
#ifndef DM_SIS_PCACHE_H
#define DM_SIS_PCACHE_H

#include <linux/types.h>
#include <linux/blk_types.h>
#include <linux/completion.h>
#include <linux/list.h>
#include <linux/mm.h>

enum pcache_state {
	PCACHE_LOADING,
	PCACHE_WRITING,
	PCACHE_VALID,
	PCACHE_ERROR,
};

/**
 * struct pcache_entry - one cached 4 KiB data block
 * @node:   hash chain link (shard lock)
 * @lru:    on the shard's LRU list iff @hashed and @ref == 0 (shard lock);
 *          only such entries are evicted, dropped or shrunk
 * @dev:    backing device (immutable)
 * @pblock: physical block on @dev (immutable)
 * @page:   the data; readable in PCACHE_WRITING and PCACHE_VALID (immutable)
 * @ref:    holders (shard lock)
 * @hashed: in the index (shard lock)
 * @cold:   installed by a writer and not looked up since: released to the
 *          cold end of the LRU, so new unique data is evicted before the
 *          shared blocks (shard lock)
 * @state:  enum pcache_state (written under shard lock, read with READ_ONCE)
 */
struct pcache_entry {
	struct hlist_node node;
	struct list_head lru;
	dev_t dev;
	u64 pblock;
	struct page *page;
	unsigned int ref;
	bool hashed;
	bool cold;
	int state;
};

/**
 * pcache_init() - set up the cache, its reserves and its shrinker; called
 * once from module_init
 *
 * Return: 0 or -ENOMEM.
 */
int pcache_init(void);

/**
 * pcache_exit() - free every entry, the reserves and the shrinker; no entry
 * may be held
 */
void pcache_exit(void);

/**
 * pcache_data() - the 4 KiB of data of a held entry
 */
static inline void *pcache_data(struct pcache_entry *e)
{
	return page_address(e->page);
}

/**
 * pcache_get() - hold the entry of (@bdev, @pblock), reading it if absent
 * @bdev:   backing device; block @pblock is read from it on a miss
 * @pblock: physical block number (4 KiB units from the start of @bdev)
 * @hit:    set to true if the entry was found in the index
 *
 * Waits for a read or write in flight on the entry to finish.  A miss takes
 * its entry and page from the reserve if memory is short, waiting for one
 * if it is empty (see the memory contract above).
 *
 * Return: a held VALID entry (release with pcache_put()), or ERR_PTR(-EIO)
 * if the block could not be read or its write failed.
 */
struct pcache_entry *pcache_get(struct block_device *bdev, u64 pblock, bool *hit);

#define PCACHE_MAX_RUN	32	/* blocks pcache_get_run() reads at once */

/**
 * pcache_get_run() - pcache_get() of @pblock, reading ahead up to @nr blocks
 * @bdev:   backing device
 * @pblock: the block wanted
 * @nr:     blocks @pblock.. to enter in the cache (1..PCACHE_MAX_RUN); the
 *          caller knows they hold live data (e.g. the next logical blocks
 *          map them)
 * @hit:    set to true if @pblock was found in the index
 *
 * Absent blocks of the run are entered as LOADING and each run of them is
 * read with one bio, so readers of the following blocks wait for one large
 * read instead of issuing many small ones.  Only @pblock's entry is held on
 * return.  The following blocks are read ahead only as far as memory is
 * free at once (never waiting for it), so the run may be shorter.
 *
 * Return: as pcache_get().
 */
struct pcache_entry *pcache_get_run(struct block_device *bdev, u64 pblock,
				    unsigned int nr, bool *hit);

/**
 * struct pcache_rw - the bios of one pcache_write_submit() while in flight
 * @pending: one count for the submitter (dropped by pcache_rw_wait()) and
 *           one per bio in flight
 * @done:    completed when @pending reaches zero
 * @errs:    where each block's result goes (the caller's array)
 * @es:      pcache_write_submit(): the entries written, which the
 *           completions settle
 * @cur:     while submitting: the bio of the last run
 * @last:    while submitting: the last block added
 * @nr_runs: runs (bios) so far
 * @first:   first block of each run (bio), and @first[k + 1] its end
 * @bios:    the bio of each run, set before it is submitted (its
 *           completion finds its run here)
 *
 * Owned by the submitter until pcache_rw_wait() returns; the completions
 * write only @errs of their run and @pending.
 */
struct pcache_rw {
	atomic_t pending;
	struct completion done;
	int *errs;
	struct pcache_entry **es;
	struct bio *cur;
	u64 last;
	unsigned int nr_runs;
	u8 first[PCACHE_MAX_RUN + 1];
	struct bio *bios[PCACHE_MAX_RUN];
};

/**
 * pcache_write_submit() - write the pages of @nr entries, one bio per run
 * of them contiguous on disk, all in flight at once, without waiting for
 * them, and settle each entry when its write completes
 * @rw:      the caller's in-flight state, until pcache_rw_wait()
 * @bdev:    backing device
 * @bs:      the bio_set the bios come from: each bio is submitted before
 *           the next is allocated and freed at its completion, so the
 *           set's reserve always serves
 * @es:      held WRITING entries (pcache_install()); the array must stay
 *           until pcache_rw_wait() returns
 * @nr:      how many (1..PCACHE_MAX_RUN)
 * @errs:    out: the result of each entry's write, valid once
 *           pcache_rw_wait() returns
 *
 * Each write's completion makes its entries VALID, or ERROR, at once,
 * whatever the submitter is doing, so a duplicate writer waiting for one
 * (pcache_wait()) depends only on the disk.  For an ERROR entry the
 * submitter must still call pcache_write_done(), which takes it out of the
 * index.  The bios go out under a plug of their own; a caller with a plug
 * of its own (the write worker, which submits several batches) keeps them
 * in it until it finishes its plug or sleeps.  Sleeps only for a bio from
 * @bs; takes no lock.
 */
void pcache_write_submit(struct pcache_rw *rw, struct block_device *bdev,
			 struct bio_set *bs, struct pcache_entry **es,
			 unsigned int nr, int *errs);

/**
 * pcache_rw_wait() - wait for the bios of pcache_write_submit() to complete
 * @rw: as given to pcache_write_submit()
 */
void pcache_rw_wait(struct pcache_rw *rw);

/**
 * pcache_rw_blocks() - read or write @nr data blocks as
 * pcache_write_submit() writes entries, and wait for them
 * @bdev:    backing device
 * @op:      REQ_OP_READ or REQ_OP_WRITE
 * @bs:      as for pcache_write_submit()
 * @pblocks: the blocks, in the order of @pages (a run is a stretch of
 *           consecutive entries with consecutive blocks)
 * @pages:   one page per block
 * @nr:      how many (1..PCACHE_MAX_RUN)
 * @errs:    out: the result of each block's I/O (0 or -errno)
 *
 * Used for the reads of pcache_get_run() and pcache_get_batch().
 */
void pcache_rw_blocks(struct block_device *bdev, enum req_op op,
		      struct bio_set *bs, const u64 *pblocks,
		      struct page **pages, unsigned int nr, int *errs);

/**
 * pcache_get_batch() - hold the entries of up to @nr blocks, reading the
 * absent ones all at once
 * @bdev:    backing device
 * @pblocks: the blocks, in any order (a block twice is held twice)
 * @nr:      how many (1..PCACHE_MAX_RUN)
 * @es:      out: the held entries, @es[i] of @pblocks[i]
 * @nr_read: out: how many of them were read from the disk (the misses)
 *
 * The blocks absent from the index are entered as LOADING and read with
 * one bio per run contiguous on disk, all in flight together; the call
 * returns when those reads are done.  Entries found in the index are held
 * in whatever state they are: pass each to pcache_wait() or
 * pcache_wait_filled() before reading its data (an entry this call read
 * is VALID or ERROR already).  Memory: only the first block may wait for
 * the reserve (as pcache_get(), holding nothing of this call); the others
 * are entered while memory is free at once, so when it is short the call
 * holds fewer than @nr: the caller releases those and calls again for the
 * rest.
 *
 * Return: the number of entries held, @es[0..n), at least one.
 */
unsigned int pcache_get_batch(struct block_device *bdev, const u64 *pblocks,
			      unsigned int nr, struct pcache_entry **es,
			      unsigned int *nr_read);

/**
 * pcache_lookup() - hold the entry of (@dev, @pblock) if it is in the index
 *
 * Does not wait and does not read: the entry may be in any state; pass it to
 * pcache_wait() before reading its data.  Never sleeps.
 *
 * Return: a held entry, or NULL.
 */
struct pcache_entry *pcache_lookup(dev_t dev, u64 pblock);

/**
 * pcache_lookup_valid() - hold the entry of (@dev, @pblock) if it is in the
 * index and VALID now
 *
 * For a caller that must not sleep (map()): its data may be read at once.
 * Never sleeps, never reads.
 *
 * Return: a held VALID entry, or NULL (holding nothing).
 */
struct pcache_entry *pcache_lookup_valid(dev_t dev, u64 pblock);

/**
 * pcache_wait() - wait until a held entry is VALID or ERROR
 *
 * Return: 0 if VALID, -EIO if ERROR.
 */
int pcache_wait(struct pcache_entry *e);

/**
 * pcache_wait_filled() - wait until a held entry's page holds its data
 *
 * Unlike pcache_wait(), does not wait for the write of an installed entry
 * (its page was filled before the install), so a writer may compare against
 * data whose write it must not wait for yet; it calls pcache_wait() before
 * relying on the block on disk.
 *
 * Return: 0 if VALID or WRITING, -EIO if ERROR.
 */
int pcache_wait_filled(struct pcache_entry *e);

/**
 * struct pcache_ticket - a caller's right to draw on the reserves for what
 * it holds while waiting for more (pcache.c: the reserves)
 * @held: the ticket is taken; pcache_ticket_put() gives it back
 *
 * Zeroed by its owner, which uses it from one task at a time.
 */
struct pcache_ticket {
	bool held;
};

/**
 * pcache_new() - a held, unnamed entry with a page of its own
 * @t: the caller's ticket, taken here if the reserves must serve
 *
 * For new data the caller fills (pcache_data()) and may then name with
 * pcache_install(); pcache_put() frees an entry never installed.  Never
 * fails: from the page allocator, else from the reserves under @t, waiting
 * for a ticket or an element if need be (may sleep).  The caller must not
 * hold a lock that a holder of entries or of a ticket may wait for (write.c
 * calls it before taking its hash locks), and gives the ticket back with
 * pcache_ticket_put() once it holds none of these entries.
 */
struct pcache_entry *pcache_new(struct pcache_ticket *t);

/**
 * pcache_ticket_put() - give back @t's ticket, if taken; never sleeps
 */
void pcache_ticket_put(struct pcache_ticket *t);

/**
 * pcache_install() - name new data for a block the caller just allocated
 * @e:      an entry of pcache_new(), held by the caller alone, its page
 *          filled
 * @dev:    backing device
 * @pblock: the new block
 *
 * The entry becomes (@dev, @pblock) in PCACHE_WRITING and replaces any
 * entry of the same name in the index (whose holders keep it).  The caller
 * still holds it and writes its page to disk with pcache_write_submit(),
 * which settles it.  Allocates nothing and never fails: a failure here
 * would leave a window in which a duplicate writer reads stale data from
 * the disk.  May be called under the caller's own locks.
 */
void pcache_install(struct pcache_entry *e, dev_t dev, u64 pblock);

/**
 * pcache_write_done() - the disk write of an installed entry finished
 * @e:   the entry from pcache_install(), still held
 * @err: 0 or the write's -errno; on error the entry leaves the index
 *
 * After pcache_write_submit(), whose completion settled the entry, needed
 * only for an error.
 */
void pcache_write_done(struct pcache_entry *e, int err);

/**
 * pcache_put() - release a held entry; never sleeps
 *
 * The last release keeps the entry in the cache (unreferenced, evictable),
 * or frees it if a reserve is short of elements, to refill it.
 */
void pcache_put(struct pcache_entry *e);

/**
 * pcache_invalidate() - remove the entry of (@dev, @pblock) from the index
 */
void pcache_invalidate(dev_t dev, u64 pblock);

/**
 * pcache_drop() - free every unreferenced entry of @dev (0: of every device)
 *
 * Held entries stay in the index as they are: one may be a writer's whose
 * disk write is in flight (PCACHE_WRITING), or being loaded, and a lookup
 * must keep finding it, else a reader would enter the block's old contents
 * from the disk.  What is dropped is read from the disk again when needed.
 *
 * Return: entries freed.
 */
unsigned long pcache_drop(dev_t dev);

/**
 * pcache_forget_dev() - remove every entry of @dev (0: of every device)
 *
 * For a device no I/O of the caller can reach (its pool is being set up or
 * torn down) and whose blocks may be rewritten behind the cache: no entry
 * of @dev may be held.  A held one is a bug (warned once); it still leaves
 * the index, and is freed at its last pcache_put().
 *
 * Return: entries removed.
 */
unsigned long pcache_forget_dev(dev_t dev);

/**
 * pcache_nr_blocks() - entries that exist now, held or not; never sleeps
 */
unsigned long pcache_nr_blocks(void);

#endif /* DM_SIS_PCACHE_H */
