/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to dm-sis/core: the state of one device and the interfaces between
 * the core's files.  Nothing outside dm-sis/core includes this header except
 * the core's own unit tests.
 *
 * Every field of struct sis_core is protected by c->lock unless it says
 * otherwise; every function named __sis_* expects the caller to hold it.
 */
#ifndef SIS_CORE_INTERNAL_H
#define SIS_CORE_INTERNAL_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/atomic.h>
#include "sis-core.h"

/*
 * The metadata cache's hash: 16384 buckets (128 KiB) for the 4096 clean
 * pages of the default limit plus up to 8192 awaiting the checkpoint (half
 * the largest journal) and a transaction's dirty ones: chains under one.
 */
#define SIS_MC_HASH_BITS	14
#define SIS_PIN_HASH_BITS	8
/* pins kept for reuse: writers pin without allocating (about 40 KiB) */
#define SIS_PIN_RESERVE		1024
#define SIS_DEFAULT_CACHE_PAGES	4096
#define SIS_MIN_JOURNAL_BLOCKS	64
#define SIS_MAX_JOURNAL_BLOCKS	16384
/*
 * Pages one operation may dirty: a map with new pages at every level (two
 * pages each: the page and its refcount page, plus the parent), the
 * refcount pages of the new and the old block.  The index is in RAM;
 * unmap and repair commit between entries.
 */
#define SIS_OP_MAX_DIRTY	24
#define SIS_META_RESERVE	64	/* free blocks kept for map pages */
#define SIS_TXN_MAX_PAGES	1024	/* cap of one transaction (N3) */
#define SIS_CKPT_START_EIGHTHS	3	/* a checkpoint begins at 3/8 of the journal */
#define SIS_CKPT_MIN_STEP	256	/* checkpoint pages written per commit, at least */
#define SIS_PEND_WORDS		((SIS_RC_PER_PAGE + 63) / 64)
#define SIS_DISCARD_RUNS	512	/* extents a discard round collects */
/*
 * A metadata cache miss under c->no_io (mcache.c).  Not -EWOULDBLOCK, which
 * is -EAGAIN, the block map's "commit for room and retry".
 */
#define SIS_MISS		(-EINPROGRESS)

/**
 * struct sis_page - a metadata block held in RAM (mcache.c)
 * @node:       in c->mc_hash
 * @list:       on c->mc_lru when clean, else on c->mc_dirty or c->mc_ckpt
 * @blocknr:    home location
 * @type:       enum sis_block_type
 * @dirty:      changed in the running transaction
 * @committing: its image is part of the transaction being committed (copied
 *              into c->cbuf; durable once that commit finishes)
 * @needs_ckpt: a committed image in the journal is newer than home
 * @in_ckpt:    in the set of the checkpoint under way (c->ckpt_pages)
 * @ckpt_again: committed again since that checkpoint began: it still needs
 *              the next one when this one ends
 * @cimg:       while @dirty and (@needs_ckpt or @committing): a copy of the
 *              newest committed (or committing) image, which a checkpoint
 *              writes home instead of the changed @data
 * @pend_run:   refcount pages: blocks freed in the running transaction
 * @pend_commit: refcount pages: blocks freed in the committing transaction;
 *              both kinds are skipped by the allocator until released
 * @pend_meta:  refcount pages: which of those pending blocks were map pages
 * @pend_ckpt:  refcount pages: freed map pages whose freeing is durable,
 *              still skipped until a checkpoint: the journal may hold
 *              images of them that a replay would write home
 * @data:       SIS_BLOCK_SIZE bytes
 */
struct sis_page {
	struct hlist_node node;
	struct list_head list;
	u64 blocknr;
	u32 type;
	bool dirty;
	bool committing;
	bool needs_ckpt;
	bool in_ckpt;
	bool ckpt_again;
	u32 op_pins;		/* operation steps holding it (mcache.c) */
	void *cimg;
	u64 pend_run[SIS_PEND_WORDS];
	u64 pend_commit[SIS_PEND_WORDS];
	u64 pend_meta[SIS_PEND_WORDS];
	u64 pend_ckpt[SIS_PEND_WORDS];
	void *data;
};

/*
 * The reserve of pin lists for operations that outgrow their inline pins
 * (struct sis_op_ctx): SIS_OP_SPARES lists of SIS_OP_SPARE_PINS blocks in
 * each core, 16 KiB, so that many operations grow at once without an
 * allocation; beyond them a list is allocated (GFP_NOIO), and its failure
 * is an -ENOMEM that changes nothing (the target retries).
 */
#define SIS_OP_SPARES		4
#define SIS_OP_SPARE_PINS	512

/**
 * struct sis_op_ctx - one run of __sis_op_run() (mcache.c), on its stack
 * @pins:    the blocks whose pages the current step fetched and pinned
 * @nr_pins: how many; @max_pins: room in @pins
 * @nretry:  images of this step dropped (stale, or a pinned page gone)
 * @spare:   @pins is one of the core's spare lists (c->op_spares)
 * @inline_pins: the first pins, before @pins has to grow
 *
 * Protected by c->lock; c->op_cur names the one whose operation holds it.
 */
struct sis_op_ctx {
	u64 *pins;
	unsigned int nr_pins, max_pins;
	unsigned int nretry;
	bool spare;
	u64 inline_pins[16];
};

/**
 * struct sis_rc_cursor - the refcount page a batch located last
 * (space-map.c), for the next block of the same group
 * @pg:    that page, or NULL
 * @group: its group
 * @gen:   c->hold_gen when it was located
 *
 * On the stack of one run of an operation (__sis_op_run(): a cache miss
 * ends the run, so it never outlives the lock hold); a page pointer, valid
 * while c->hold_gen does not move.
 */
struct sis_rc_cursor {
	struct sis_page *pg;
	u64 group;
	u64 gen;
};

/**
 * struct sis_leaf_memo - the leaf a batch of mappings prepared last
 * (block-map.c), for the next block under the same leaf
 * @leaf:  that leaf, exclusive and dirty, or NULL
 * @v:     its volume
 * @first: the first logical block it covers
 * @gen:   c->hold_gen when it was prepared
 *
 * Lifetime as struct sis_rc_cursor.  A commit since (which freezes the
 * leaf's dirty state, and may drop c->lock for a clone to share it) moves
 * c->hold_gen and makes the memo stale.
 */
struct sis_leaf_memo {
	struct sis_page *leaf;
	const struct sis_disk_volume *v;
	u64 first;
	u64 gen;
};

/**
 * struct sis_lookup_memo - the leaf a run of look-ups located last
 * (block-map.c), for the next block under the same leaf
 * @leaf:   that leaf, or NULL
 * @v:      its volume
 * @first:  the first logical block it covers
 * @gen:    c->hold_gen when it was located
 * @shared: a page on the leaf's path is shared (if @shared_known)
 * @shared_known: the walk that located it was asked for @shared
 *
 * Lifetime as struct sis_rc_cursor.  Read only: a change goes through
 * __sis_map_prepare() and its struct sis_leaf_memo.
 */
struct sis_lookup_memo {
	struct sis_page *leaf;
	const struct sis_disk_volume *v;
	u64 first;
	u64 gen;
	bool shared;
	bool shared_known;
};

/**
 * struct sis_extent - a run of blocks (discard passdown)
 */
struct sis_extent {
	u64 start, count;
};

/**
 * struct sis_pin - an in-flight use of a data block (space-map.c)
 * @count:    pins held
 * @reserved: allocated by sis_core_alloc() and not yet mapped
 */
struct sis_pin {
	struct hlist_node node;
	u64 pblock;
	unsigned int count;
	bool reserved;
};

struct sis_core {
	/*
	 * Held by the one commit (or checkpoint) that runs; taken before
	 * c->lock, never while holding it (only mutex_trylock() is allowed
	 * then).  The commit buffer and checkpoint fields below belong to
	 * its holder; it reads and writes them without c->lock.
	 */
	struct mutex commit_mutex;
	struct mutex lock;		/* protects everything below */
	struct sis_io_ops ops;		/* immutable */
	enum sis_mode mode;
	bool needs_check;
	bool discard_passdown;

	/* Layout and identity, from the superblock: immutable once open. */
	struct sis_disk_superblock sb __aligned(8);	/* last written or read */
	/* the copy being written (__sis_sb_write(), the checkpoint) */
	struct sis_disk_superblock sb_next __aligned(8);
	u32 csum_seed;
	u64 journal_start, journal_blocks;
	u64 data_start;

	/* Current (uncommitted) root and derived sizes. */
	struct sis_disk_root root;
	u64 nr_groups;			/* groups the device holds */
	u64 data_blocks;		/* allocatable blocks in those groups */
	bool root_dirty;		/* root changed without a page change */

	/* Space accounting not kept on disk. */
	u64 nr_pending_free;		/* freed, not yet released (pend bits) */
	u64 nr_meta_wait;		/* of those, map pages in pend_ckpt */
	u64 nr_reserved;		/* allocated, pinned, not yet mapped */

	/* Journal (journal.c). */
	u64 seq;			/* sequence of the open transaction */
	u64 head;			/* next journal block, monotonic */
	u64 tail;			/* oldest live journal block, monotonic */
	u64 txn_limit;			/* pages that force a commit */
	/*
	 * The commit buffer: descriptors, page images and commit block of the
	 * largest transaction (txn_limit + 2 * SIS_OP_MAX_DIRTY pages), also
	 * the checkpoint's bounce buffer and recovery's two buffers: allocated
	 * at open, so neither a commit nor the rollback of an abort needs new
	 * memory.  Owned by the holder of commit_mutex (or by c->lock when no
	 * commit is busy: recovery).
	 */
	void *jbuf;
	unsigned int jbuf_blocks;
	/*
	 * The root of the last durable transaction: what a checkpoint writes
	 * to the superblock, whatever the open transaction did to c->root.
	 */
	struct sis_disk_root committed_root;
	/* recovery's copy of a replayed transaction's root (too big for a stack) */
	struct sis_disk_root rec_root;
	/*
	 * The checkpoint after a commit failed for memory (the commit itself
	 * is durable).  It is retried before the next transaction is frozen;
	 * pages dirtied meanwhile keep their committed image (pg->cimg).
	 */
	bool ckpt_owed;
	/*
	 * The checkpoint under way (journal.c), owned by the holder of
	 * commit_mutex.  It began when the journal was 3/8 full, with the
	 * @ckpt_n pages that needed one then (@ckpt_pages, each pg->in_ckpt),
	 * and writes them home a few per commit (@ckpt_done so far); when all
	 * are home it moves the tail to @ckpt_tail, the head when it began
	 * (transaction @ckpt_seq), with @ckpt_root, the root then durable.
	 * Commits go on meanwhile into the journal space it left free.
	 */
	bool ckpt_active;
	struct sis_page **ckpt_pages;
	u64 ckpt_pages_max;
	u64 ckpt_n, ckpt_done;
	u64 ckpt_tail, ckpt_seq;
	struct sis_disk_root ckpt_root;

	/*
	 * The committing transaction (journal.c), frozen under c->lock and
	 * written without it by the holder of commit_mutex.  @commit_busy:
	 * that holder may be doing I/O without c->lock (an abort's rollback
	 * waits for it: see __sis_op_end()).  @frozen: T(n) is frozen and not
	 * yet durable (after -ENOMEM it stays frozen and is written again).
	 * @commit_held: the c->lock holder also holds commit_mutex, so a
	 * commit it needs runs without dropping c->lock.
	 */
	bool commit_busy;
	bool frozen;
	bool commit_held;
	bool c_frees;			/* T(n) freed blocks */
	unsigned int c_epoch;		/* readers epoch T(n) waits for */
	struct sis_page **commit_pages;	/* pages of T(n) */
	u64 commit_pages_max;
	u64 c_npages;
	u64 c_start, c_blocks;		/* T(n)'s journal position and size */
	u64 c_seq;
	struct sis_disk_root c_root;
	struct sis_extent *dext;	/* discard runs being passed down */

	/* Metadata cache (mcache.c). */
	struct hlist_head mc_hash[1 << SIS_MC_HASH_BITS];
	struct list_head mc_lru;	/* clean pages, least recent first */
	struct list_head mc_dirty;	/* dirty in the open transaction */
	struct list_head mc_ckpt;	/* committed, not yet at home */
	struct list_head mc_spare;	/* freed pages kept for a reload */
	u64 mc_pages;
	u64 mc_nr_dirty;
	u64 mc_nr_clean;		/* pages on mc_lru */
	u64 mc_limit;			/* bound of mc_nr_clean */

	/*
	 * Fingerprint index (fp-index.c), RAM only: H (hooks), C (c_slots
	 * resident rc pages, found through ctab by fingerprint and cgrp by
	 * group; c_hand is the eviction clock).  Allocated at open; H is
	 * replaced (not reallocated in place) when the device grows.
	 */
	struct sis_hook_table *hooks;
	struct sis_cpage *cpages;
	u32 c_slots, c_hand;
	struct sis_centry *ctab, *cgrp;
	u32 ctab_bits, cgrp_bits;

	/*
	 * Pins (space-map.c): the pins held, by block, and unused pins
	 * (@pin_spare, @nr_pin_spare <= SIS_PIN_RESERVE, filled at open), so
	 * that pinning allocates nothing while fewer pins than that are held.
	 */
	struct hlist_head pins[1 << SIS_PIN_HASH_BITS];
	struct hlist_head pin_spare;
	unsigned int nr_pin_spare;

	/*
	 * Free-space summary (space-map.c), in RAM only: bit g of sm_full set
	 * means group g has no allocatable block (a scan of the whole group
	 * found none, and nothing freed one since); bit w of sm_full2 is set
	 * iff word w of sm_full is all ones.  A clear bit only costs a scan.
	 * Sized for sm_groups groups (>= nr_groups); 1 bit per group of
	 * SIS_GROUP_BLOCKS blocks (about 1 MiB): 128 KiB of RAM per TiB.
	 */
	u64 *sm_full;
	u64 *sm_full2;
	u64 sm_groups;
	u64 alloc_pages_scanned;	/* refcount pages the allocator read */

	/*
	 * Readers (sis_core_read_begin()): each counts itself in
	 * readers[read_epoch & 1], under c->lock, and leaves without it
	 * (sis_core_read_end()).  read_epoch is protected by c->lock;
	 * readers[] are atomics.  @no_io: the operation in progress must not
	 * read metadata under c->lock (a nowait look-up, or a run of
	 * __sis_op_run()); a miss then records @miss_blk and @miss_type.
	 * @md_gen: bumped before anything can make a block's home image newer
	 * than an uncached copy read earlier (checkpoint, recovery, rollback;
	 * see mcache.c).
	 */
	unsigned int read_epoch;
	atomic_t readers[2];
	bool no_io;
	bool op_nowait;		/* __sis_op_run() fails a miss: -EWOULDBLOCK */
	u32 miss_type;
	u64 miss_blk;
	u64 md_gen;
	struct sis_op_ctx *op_cur;	/* the running __sis_op_run(), or NULL */
	/* spare pin lists (struct sis_op_ctx): the free ones, a stack */
	u64 *op_spares[SIS_OP_SPARES];
	unsigned int nr_op_spares;
	u64 op_spare_pins[SIS_OP_SPARES][SIS_OP_SPARE_PINS];
	/*
	 * Bumped when a page pointer kept from one block of a batch to the
	 * next (struct sis_rc_cursor, struct sis_leaf_memo) may be stale
	 * without an eviction point between: a transaction frozen (its dirty
	 * pages are no longer dirty) or c->lock dropped inside an operation
	 * to commit (journal.c).
	 */
	u64 hold_gen;

	bool abort_pending;		/* reload committed state at op end */
	bool abort_check;		/* ...and set needs_check on disk */
	/*
	 * A transaction was aborted since open: changes callers were told
	 * succeeded may be lost, so every later commit fails (-EIO).
	 */
	bool aborted;
	bool journal_damaged;		/* recovery found damage (see journal.c) */

	/*
	 * Block maps (block-map.c): @map_room, the transaction room a map
	 * page copy asked for (-EAGAIN); @map_copies, shared pages copied.
	 */
	u64 map_room;
	u64 map_copies;

	/* Statistics. */
	u64 commits;
	u64 index_lookups, index_hits, index_stale;
	u64 index_hook_loads;		/* rc pages read for a hook hit */
	u64 locked_md_reads;		/* cache misses read under c->lock */
	u64 md_stale_reads;		/* unlocked reads dropped as stale */
	u64 md_serial_reads;		/* reads holding commit_mutex instead */
};

/* sis-core.c */
__printf(3, 4) void sis_log(struct sis_core *c, int level, const char *fmt, ...);
int __sis_metadata_error(struct sis_core *c, int err, const char *what);
void __sis_abort(struct sis_core *c, bool needs_check);
int __sis_check_writable(struct sis_core *c);
void __sis_op_begin(struct sis_core *c);
void __sis_op_end(struct sis_core *c);
void __sis_readers_drain(struct sis_core *c);
unsigned int __sis_readers_flip(struct sis_core *c);
void sis_readers_wait(struct sis_core *c, unsigned int epoch);
void __sis_layout_from_sb(struct sis_core *c);
void __sis_derive_sizes(struct sis_core *c);
struct sis_disk_volume *__sis_vol_find(struct sis_core *c, u32 id);

/* mcache.c */
u32 sis_block_csum(u32 seed, const void *block);
u32 sis_type_seed(struct sis_core *c, u32 type);
void sis_block_seal(struct sis_core *c, void *block, u32 type, u64 blocknr, u64 seq);
int sis_block_verify(struct sis_core *c, const void *block, u32 type, u64 blocknr);
void sis_mc_init(struct sis_core *c, u64 limit);
int __sis_mc_read(struct sis_core *c, u64 blocknr, u32 type, struct sis_page **out);
int __sis_mc_get(struct sis_core *c, u64 blocknr, u32 type, struct sis_page **out);
struct sis_page *__sis_mc_peek(struct sis_core *c, u64 blocknr);
int __sis_mc_new(struct sis_core *c, u64 blocknr, u32 type, struct sis_page **out);
int __sis_mc_dirty(struct sis_core *c, struct sis_page *pg);
int __sis_mc_install(struct sis_core *c, u64 blocknr, const void *image);
void __sis_mc_settle(struct sis_core *c, struct sis_page *pg);
void __sis_mc_shrink(struct sis_core *c);
void __sis_mc_drop_all(struct sis_core *c);
void __sis_mc_drop_clean(struct sis_core *c);
void __sis_mc_recycle_all(struct sis_core *c);
void __sis_mc_free_spare(struct sis_core *c);
u64 __sis_mc_ram(struct sis_core *c);
int __sis_op_run(struct sis_core *c, int (*fn)(struct sis_core *c, void *arg),
		 void *arg);
void __sis_op_step(struct sis_core *c);

/* journal.c */
int sis_journal_alloc(struct sis_core *c);
void sis_journal_free(struct sis_core *c);
u64 sis_journal_ram(struct sis_core *c);
int sis_commit_run(struct sis_core *c, bool flush);
int __sis_commit(struct sis_core *c);
int __sis_journal_checkpoint(struct sis_core *c);
bool __sis_txn_full(struct sis_core *c);
int __sis_journal_recover(struct sis_core *c, bool write, bool tolerate_damage);
int __sis_sb_write(struct sis_core *c, u32 flags);
int __sis_maybe_commit(struct sis_core *c);
int __sis_commit_if_full(struct sis_core *c);
int __sis_commit_room(struct sis_core *c, u64 pages);
u64 sis_txn_cap(struct sis_core *c);
void sis_journal_setup(struct sis_core *c);

/* space-map.c */
int __sis_rc_get(struct sis_core *c, struct sis_rc_cursor *cur, u64 pblock,
		 struct sis_page **pg, struct sis_disk_rc **rc);
bool sis_is_data_block(struct sis_core *c, u64 pblock);
u64 sis_group_rc_block(struct sis_core *c, u64 group);
int __sis_alloc_block(struct sis_core *c, u64 *pblock);
int __sis_alloc_meta(struct sis_core *c, u64 *pblock);
void __sis_alloc_meta_undo(struct sis_core *c, u64 pblock);
int __sis_rc_shareable(struct sis_core *c, struct sis_rc_cursor *cur,
		       u64 pblock, struct sis_page **pg, struct sis_disk_rc **rc);
int __sis_ref_inc(struct sis_core *c, struct sis_rc_cursor *cur, u64 pblock);
int __sis_ref_inc_prepare(struct sis_core *c, u64 pblock);
int __sis_node_rc(struct sis_core *c, u64 blocknr, bool dirty,
		  struct sis_disk_rc **rc);
int __sis_ref_dec_prepare(struct sis_core *c, u64 pblock);
int __sis_ref_dec(struct sis_core *c, u64 pblock);
struct sis_pin *__sis_pin_find(struct sis_core *c, u64 pblock);
int __sis_pin(struct sis_core *c, u64 pblock, bool reserved);
void __sis_unpin(struct sis_core *c, u64 pblock);
void __sis_pins_free(struct sis_core *c);
int sis_pins_reserve(struct sis_core *c);
unsigned int __sis_collect_freed(struct sis_core *c, struct sis_page *pg,
				 struct sis_extent *ext);
void __sis_release_freed(struct sis_core *c, struct sis_page *pg);
void __sis_release_checkpointed(struct sis_core *c, struct sis_page *pg);
u64 __sis_nr_free(struct sis_core *c);
u64 *sis_summary_alloc(struct sis_core *c, u64 physical_blocks, u64 *groups);
void __sis_summary_install(struct sis_core *c, u64 **map, u64 groups);
void __sis_summary_forget(struct sis_core *c);
void __sis_summary_grown(struct sis_core *c, u64 old_groups);
void sis_summary_free(struct sis_core *c);
u64 sis_summary_ram(struct sis_core *c);

/* fp-index.c */
struct sis_hook_table;
struct sis_cpage;
struct sis_centry;
int sis_index_alloc(struct sis_core *c, u64 physical_blocks);
void sis_index_free(struct sis_core *c);
u64 sis_index_ram(struct sis_core *c);
struct sis_hook_table *sis_hooks_alloc(u64 physical_blocks);
void sis_hooks_free(struct sis_hook_table *h);
void __sis_hooks_grow(struct sis_core *c, struct sis_hook_table **bigger);
void __sis_index_prefetch(struct sis_core *c, u64 fp);
int __sis_index_find(struct sis_core *c, u64 fp, u64 *cand, unsigned int max);
void __sis_index_insert(struct sis_core *c, u64 fp, u64 pblock, struct sis_page *pg);
void __sis_index_remove(struct sis_core *c, u64 fp, u64 pblock);
int __sis_index_build(struct sis_core *c);
void __sis_index_reset(struct sis_core *c);

/* block-map.c */
enum sis_map_mode {
	SIS_MAP_LOOKUP,		/* read only */
	SIS_MAP_CREATE,		/* create missing pages, copy shared ones */
	SIS_MAP_CLEAR,		/* copy shared pages, create none */
};

int __sis_map_leaf(struct sis_core *c, struct sis_disk_volume *v, u64 lblock,
		   enum sis_map_mode mode, struct sis_page **leaf, u64 *skip,
		   bool *shared);
int __sis_map_lookup(struct sis_core *c, struct sis_disk_volume *v, u64 lblock,
		     u64 *pblock, u64 *skip, bool *shared,
		     struct sis_lookup_memo *memo);
int __sis_map_prepare(struct sis_core *c, struct sis_disk_volume *v,
		      u64 lblock, u64 *old, struct sis_page **leaf,
		      struct sis_leaf_memo *memo);
void __sis_map_leaf_set(struct sis_page *leaf, u64 lblock, u64 pblock, u64 *old);
int __sis_map_unmap(struct sis_core *c, u32 id, u64 *lblock, u64 end);
int __sis_map_grow(struct sis_core *c, struct sis_disk_volume *v,
		   u64 logical_blocks);
int __sis_map_free_step(struct sis_core *c, struct sis_disk_volume *v);
int __sis_map_count_exclusive(struct sis_core *c, u32 id, u64 *exclusive);
u64 sis_map_capacity(u32 depth);
u64 sis_map_copy_pages(struct sis_core *c);

#define SIS_WALK_BAD		0x80000000U	/* page unreadable or out of range */
#define SIS_WALK_SHADOW		0x40000000U	/* under a page met before */
#define SIS_WALK_CUT		1		/* pfn: unlink the bad subtree */
#define SIS_WALK_SKIP		2		/* pfn: do not descend */
#define SIS_WALK_SHADOWED	3		/* pfn: descend in shadow */

typedef int (*sis_map_walk_fn)(struct sis_core *c, void *arg, u64 lblock,
			       u64 pblock, u32 flags);
typedef int (*sis_map_page_fn)(struct sis_core *c, void *arg, u64 blocknr,
			       u32 level);
int __sis_map_walk(struct sis_core *c, struct sis_disk_volume *v,
		   sis_map_walk_fn fn, sis_map_page_fn pfn, void *arg);

#endif /* SIS_CORE_INTERNAL_H */
