/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dm-sis core: the public contract of the portable dedup engine.
 *
 * The core owns every metadata block of one device: the block map (logical
 * -> physical), the refcounts, the fingerprint index, space allocation and
 * the metadata journal.  It never touches user data: the caller (the kernel
 * target, the userspace tools, the tests) reads, writes, hashes and
 * compares data blocks and tells the core what it did.  All metadata I/O
 * goes through struct sis_io_ops, so the same code runs in the kernel and in
 * userspace.
 *
 * Writing one 4 KiB block at logical block L, as the target does it:
 *
 *	if (sis_block_is_zero(data))
 *		return sis_core_unmap(c, L, 1);		// zero elimination
 *	fp = sis_fingerprint(data);
 *	if (!sis_core_find_dup(c, fp, &p)) {		// candidate, pinned
 *		if (the data of p equals data, and p's own write (if one is in
 *		    flight) completed successfully)
 *			r = sis_core_map(c, L, p);	// shared: no data write
 *		sis_core_unpin(c, p);
 *		...if r == 0, done; else go on with a new block
 *	}
 *	r = sis_core_alloc(c, fp, &p);			// fresh block, pinned
 *	write data to p and wait for completion;
 *	r = sis_core_map(c, L, p);			// the old mapping loses a ref
 *	sis_core_unpin(c, p);
 *
 * A writer of many blocks at once does the same with the batch calls, one
 * hold of the core's lock each for the whole batch: sis_core_find_dups(),
 * sis_core_find_or_alloc() (a look-up again, and new blocks for the
 * fingerprints still without a candidate) and sis_core_map_batch() (which
 * drops the pins).
 *
 * A fingerprint match is only advice: the caller compares the data before it
 * maps a candidate, so two different blocks are never merged.  A block
 * returned by sis_core_alloc() is entered in the index at once, so a second
 * write of the same new data finds it while the first is still in flight;
 * the second writer must not map it before the first write completed.
 *
 * Durability: changes are durable at sis_core_commit().  Commit first calls
 * ops->flush() (so data writes that completed before the mappings that name
 * them were made are durable), then writes the journal and flushes again.
 * After a crash, sis_core_open() yields exactly the state of the last
 * completed commit.  The core may also commit on its own when a transaction
 * grows large; that is equally safe because a mapping is only ever made
 * after its data write completed.
 *
 * Freed blocks: a block whose refcount reaches zero is not handed out again,
 * nor discarded, until the commit that freed it is durable.
 *
 * Locking: one mutex per core serialises metadata operations; every function
 * below takes it unless its name starts with __.  Functions may sleep (they
 * can do synchronous metadata I/O through the ops) and must not be called
 * from atomic context.  Data I/O, hashing and comparing happen outside the
 * lock, so many writers proceed at once.  A commit holds that mutex only
 * to freeze the transaction and to mark it durable: its journal writes,
 * flushes, discards and checkpoint run without it, one commit at a time,
 * while other operations go on into the next transaction.
 *
 * Errors are negative errno: -ENODATA unmapped, -ENOENT no candidate,
 * -ENOSPC no free block (also while the only free blocks are still pinned
 * by readers: retry when pins drain), -ESTALE a candidate freed under its
 * pin, -EROFS read-only or failed mode, -EILSEQ a metadata
 * block failed its checksum or location check, -EIO metadata I/O error,
 * -EINVAL bad argument, -EOVERFLOW refcount saturated, -ENOMEM.
 *
 * A metadata error aborts the open transaction, sets needs_check on disk
 * (best effort) and drops the core to read-only mode.  An abort drops
 * changes whose calls had returned success, so from then on every
 * sis_core_commit() fails with -EIO (stats.aborted) until the core is
 * closed and opened again: a FLUSH never reports success for dropped
 * writes.  A core that went read-only without an abort (opened read-only,
 * or sis_core_set_read_only() after a successful commit) keeps returning
 * the flush result from sis_core_commit().
 *
 * -ENOMEM is transient, never a metadata error: the call changed nothing
 * (a range operation may have done a prefix), the mode is unchanged, and
 * the caller may retry later.  That includes sis_core_commit(): the memory
 * a commit and the rollback of an abort need is allocated at open, and an
 * -ENOMEM from ops->write leaves the transaction open and intact.
 */
#ifndef SIS_CORE_H
#define SIS_CORE_H

#include <linux/types.h>
#include <linux/bits.h>
#include "../../include/sis-format.h"

struct sis_core;

/**
 * struct sis_io_ops - how the core reaches the metadata device
 * @read:    read one block synchronously into @buf; 0 or -errno
 * @write:   start writing one block; may complete later, but @buf is not
 *           modified by the core until the next @flush returns; 0 or -errno
 * @flush:   wait for every @write issued so far, then make them and every
 *           data write that completed before this call durable
 *           (REQ_PREFLUSH); returns the first error seen since the last flush
 * @discard: optional (may be NULL): discard @count blocks from @blocknr;
 *           called only for blocks whose freeing is durable.  Synchronous
 *           unless @discard_wait is set: then it may only start the
 *           discard, and the core calls @discard_wait before any block it
 *           discarded can be allocated again
 * @discard_wait: optional (may be NULL): wait for every discard started
 *           so far; returns the first error among them (a failed discard
 *           is only logged: discard is advisory)
 * @log:     optional: report a message; @level is a printk level digit
 *           (3 error, 4 warning, 6 info)
 * @ctx:     passed to every op
 */
struct sis_io_ops {
	int (*read)(void *ctx, u64 blocknr, void *buf);
	int (*write)(void *ctx, u64 blocknr, const void *buf);
	int (*flush)(void *ctx);
	int (*discard)(void *ctx, u64 blocknr, u64 count);
	int (*discard_wait)(void *ctx);
	void (*log)(void *ctx, int level, const char *msg);
	void *ctx;
};

/* sis_core_config.flags */
#define SIS_OPEN_FORMAT		BIT(0) /* format a blank device (superblocks
					* zero, no foreign signature)
					*/
#define SIS_OPEN_FORCE_FORMAT	BIT(1) /* format whatever the device holds */
#define SIS_OPEN_READ_ONLY	BIT(2) /* never write; replay the journal in RAM */
#define SIS_OPEN_IGNORE_CHECK	BIT(3) /* open for writing despite needs_check */

/**
 * struct sis_core_config - what sis_core_open() is asked for
 * @logical_blocks:  size of volume 0 in blocks (made when formatting); 0
 *                   keeps the on-disk size; larger than on disk grows it;
 *                   smaller is refused
 * @physical_blocks: size of the device in blocks; larger than on disk grows
 *                   the data area; smaller is refused
 * @cache_pages:     metadata cache bound in pages (0: default 4096) for clean
 *                   pages; pages of the open transaction and committed pages
 *                   awaiting the checkpoint (at most half the journal) are
 *                   held in addition
 * @journal_blocks:  journal size when formatting (0: default)
 * @flags:           SIS_OPEN_*
 * @uuid:            UUID written when formatting
 * @now:             seconds since the epoch, written when formatting
 * @name:            name of volume 0 when formatting (NULL: none; at most
 *                   SIS_VOL_NAME_LEN - 1 bytes)
 */
struct sis_core_config {
	u64 logical_blocks;
	u64 physical_blocks;
	unsigned int cache_pages;
	unsigned int journal_blocks;
	unsigned int flags;
	u8 uuid[16];
	u64 now;
	const char *name;
};

enum sis_mode {
	SIS_MODE_WRITE,
	SIS_MODE_READ_ONLY,
	SIS_MODE_FAIL,
};

/**
 * struct sis_core_stats - a snapshot for status reporting
 * @aborted:     a transaction was aborted since open (changes reported
 *               successful were dropped): sis_core_commit() fails with -EIO
 *               until the core is reopened
 * @data_blocks: blocks in the data area that can hold data or map pages
 * @nr_free:     blocks that can be allocated now (excludes @nr_pending_free)
 * @nr_pending_free: freed by a transaction not yet durable and released,
 *               reusable after its commit
 * @alloc_pages_scanned: refcount pages the allocator looked at to find free
 *               blocks since open (cached or read), for measuring its cost
 */
struct sis_core_stats {
	enum sis_mode mode;
	bool needs_check;
	bool aborted;
	u64 logical_blocks;
	u64 physical_blocks;
	u64 data_blocks;
	u64 nr_mapped;
	u64 nr_data;
	u64 nr_meta;
	u64 nr_free;
	u64 nr_pending_free;
	u64 metadata_blocks;	/* superblocks + journal + rc pages */
	u64 commits;
	u64 index_lookups;
	u64 index_hits;		/* candidates returned */
	u64 index_stale;	/* entries found invalid and dropped */
	u64 cache_pages;	/* metadata pages held in RAM now */
	u64 transaction_seq;
	u64 alloc_pages_scanned;
	u64 index_hook_loads;	/* rc pages read for a hook hit */
	u64 index_ram_bytes;	/* RAM of the fingerprint index (H + C) */
	/* RAM of the metadata cache, commit buffer and free-space summary */
	u64 metadata_ram_bytes;
	u32 nr_volumes;		/* volumes in the pool, being deleted too */
	u32 nr_deleting;	/* of those, being deleted */
	u64 map_copies;		/* shared map pages copied since open */
	u64 locked_md_reads;	/* metadata cache misses read under the core lock */
};

/**
 * sis_core_open() - open (recovering, formatting or growing) a device
 * @ops:  metadata I/O; must outlive the core
 * @cfg:  what to open
 * @out:  the core on success
 * @errmsg: on failure, a static, specific message (for ti->error)
 *
 * Reads the newer valid superblock, refuses foreign, newer or damaged
 * formats, replays committed journal transactions, and checkpoints them
 * unless read-only.  With needs_check set and no SIS_OPEN_IGNORE_CHECK the
 * core opens read-only.  May sleep.
 *
 * RAM besides the metadata cache: a free-space summary of one bit per
 * group of SIS_GROUP_BLOCKS blocks (about 1 MiB of device), i.e. about
 * 128 KiB per TiB (12.5 MiB for 100 TiB), allocated here and on growth.
 * The fingerprint index (RAM only, built here by one sequential read of the
 * used refcount pages, about 4 GiB per TiB of used space): the hook table,
 * 64 bytes per 72 physical blocks (0.89 byte per block, 227 MiB per TiB,
 * grown with the device), and the record index C, about 4.2 KiB per
 * resident refcount page, max(cache_pages / 4, 32) pages: about a quarter
 * of the metadata cache in bytes.
 *
 * Return: 0 or -errno (-EINVAL foreign or bad format, -EBUSY a blank-
 * looking device that holds a foreign signature (not formatted), -EILSEQ
 * checksum, -EOPNOTSUPP newer version or unknown feature, -ENOSPC device
 * too small, -EIO, -ENOMEM).
 */
int sis_core_open(const struct sis_io_ops *ops, const struct sis_core_config *cfg,
		  struct sis_core **out, const char **errmsg);

/**
 * sis_foreign_signature() - does a device hold something other than dm-sis?
 * @ops:             how to read it (only @ops->read is used)
 * @physical_blocks: its size in 4 KiB blocks
 * @what:            out: NULL if nothing is recognised, else a static
 *                   description such as "a btrfs filesystem"
 * @refusal:         out, may be NULL: a static message refusing to format,
 *                   "device holds a btrfs filesystem: not formatting it"
 *
 * Looks at the head and the tail of the device (filesystems, partition
 * tables, LUKS, LVM, md superblocks of every version, dm-vdo, swap).
 * sis_core_open() with SIS_OPEN_FORMAT calls it before formatting a device
 * whose superblocks are blank, and refuses with -EBUSY and @refusal as its
 * message when something is found; `sis format` calls it too.  May sleep.
 *
 * Return: 0, -ENOMEM, or a read error.
 */
/**
 * sis_version_error() - why on-disk format @version is refused
 *
 * Return: NULL for the supported version, else a static message naming
 * @version (or "newer") and this version, for ti->error and the tools.
 */
const char *sis_version_error(u32 version);

int sis_foreign_signature(const struct sis_io_ops *ops, u64 physical_blocks,
			  const char **what, const char **refusal);

/**
 * sis_core_close() - commit, checkpoint, mark clean and free
 *
 * In write mode the final commit and checkpoint are attempted and the
 * superblock is marked clean; errors are logged.  Frees @c in every case;
 * NULL is a no-op.
 */
void sis_core_close(struct sis_core *c);

/**
 * sis_core_lookup() - where does logical block @lblock live?
 *
 * Return: 0 with *@pblock set, -ENODATA if unmapped (reads as zeros),
 * -EINVAL beyond the logical size, or a metadata error.
 */
int sis_core_lookup(struct sis_core *c, u32 vol, u64 lblock, u64 *pblock);

/**
 * sis_core_read_begin() - map @nr logical blocks from @lblock for a read
 * @c:       the core
 * @lblock:  the first logical block
 * @nr:      how many
 * @pblocks: out: the physical block of each, 0 if unmapped (reads as zeros)
 * @vol:     the volume
 * @refs:    out: the reference count of each mapped block when looked up
 *           (1: only this logical block maps it; more: shared), plus one
 *           when a map page on its path is shared with another volume
 * @nowait:  never wait for the core lock and do no I/O: -EWOULDBLOCK when
 *           the lock is busy or a map or refcount page is not in the cache.
 *           For a reader that may hold a ticket already: a reader holding
 *           one must never wait for the lock, whose holder may be waiting
 *           for that ticket (set_read_only() commits under it).  In dm's
 *           map() that is the rest of a bio whose first run was remapped:
 *           its clone, ticket held, is only dispatched once map() returns
 * @ticket:  out: pass it to sis_core_read_end() when every read of the
 *           returned blocks has completed; NULL for a look-up that is only
 *           a hint (read-ahead) and needs no protection
 *
 * Reuse protection without pins: none of the returned blocks is handed out
 * again (nor discarded by passdown) before sis_core_read_end(), even if its
 * logical blocks are remapped meanwhile, because every freed block waits
 * for the next commit, and a commit that frees blocks waits for the reads
 * begun before it (two read epochs, counted with atomics: see
 * __sis_readers_drain()).  So a read racing a write returns the old or the
 * new data, never a third block's.  On error no ticket is held.
 *
 * Return: 0, -EWOULDBLOCK (@nowait only), -EINVAL beyond the logical
 * size, -EIO in fail mode, -ENOMEM, or a metadata error.
 */
int sis_core_read_begin(struct sis_core *c, u32 vol, u64 lblock,
			unsigned int nr, u64 *pblocks, u32 *refs, bool nowait,
			unsigned int *ticket);

/**
 * sis_core_read_end() - the reads of a sis_core_read_begin() are done
 * @c:      the core
 * @ticket: its ticket
 *
 * Takes no lock and never sleeps: callable from a bio's completion, in
 * hard-IRQ context too.
 */
void sis_core_read_end(struct sis_core *c, unsigned int ticket);

/**
 * sis_core_find_dup() - find a block that may already hold data with @fp
 *
 * On success *@pblock is pinned: it is neither freed for reuse nor moved
 * until sis_core_unpin().  The caller must compare its data before mapping
 * it.  Saturated blocks are never returned.  While a pinned block is free
 * (its last mapping dropped), it is not counted as allocatable space.
 *
 * Return: 0, -ENOENT (no candidate), or a metadata error.
 */
int sis_core_find_dup(struct sis_core *c, u64 fp, u64 *pblock);

/**
 * sis_core_find_dups() - sis_core_find_dup() for @n fingerprints in one call
 * @c:       the core
 * @fps:     the fingerprints
 * @n:       how many
 * @pblocks: out: the candidate for @fps[i], pinned as by sis_core_find_dup(),
 *           or 0 if there is none (block 0 never holds data)
 * @unmapped: out: for each candidate, whether it is a new block that no
 *           logical block maps yet: its allocator's data write may still be
 *           in flight (a mapped block's data is on disk)
 *
 * One hold of the core's lock.  A look-up that loaded a group's refcount
 * page into the index (a hook hit) may make the misses before it findable:
 * those are looked up once more, so a candidate is found wherever a writer
 * finds one by calling sis_core_find_dup() for each and again for the
 * misses before a hit.  Data written in a row is stored in a row: the
 * block after the previous block's candidate is tried first (by its
 * refcount entry), so where several blocks hold the same data the
 * candidate may be another of them than sis_core_find_dup() gives.  Each
 * candidate is pinned once per block it is given for (the same fingerprint
 * twice: two pins).
 *
 * Return: the number of candidates found, or -errno (a metadata error,
 * -EIO in fail mode) with nothing pinned.
 */
int sis_core_find_dups(struct sis_core *c, const u64 *fps, unsigned int n,
		       u64 *pblocks, bool *unmapped);

/**
 * sis_core_find_dups_nowait() - sis_core_find_dups() that does no I/O
 *
 * For a caller that may not wait for I/O (a target's map()): it waits for
 * the core's lock (whose holders do no I/O on the data path, so the wait is
 * for CPU work only) but anything that would read metadata (a hook hit on
 * a refcount page not cached, a map page) fails the call instead, as does
 * the rollback of an abort, left to the next waiting call.
 *
 * Return: as sis_core_find_dups(), or -EWOULDBLOCK (I/O needed) with
 * nothing pinned.
 */
int sis_core_find_dups_nowait(struct sis_core *c, const u64 *fps,
			      unsigned int n, u64 *pblocks, bool *unmapped);

/**
 * sis_core_find_next_nowait() - candidates by locality, without fingerprints
 * @c:       the core
 * @after:   a block the caller found holding data it is writing (a
 *           candidate it compared equal)
 * @n:       how many blocks after @after to try
 * @pblocks: out: @after + 1, @after + 2, ... for as many as are pinned
 *
 * Data written in a row was stored in a row, so the blocks that follow
 * a duplicate's candidate on disk are likely to hold the data that follows
 * it in the write: a writer may take them as candidates without hashing
 * its data.  Each block from @after + 1 on is pinned, as by
 * sis_core_find_dup(), while it is a data block that logical blocks map
 * (its data is on disk) and whose count is not saturated; the first that
 * is not ends the run.  A fingerprint is only ever advice and these have
 * none: the caller must compare each candidate byte for byte before
 * mapping it, and unpin (or drop through sis_core_map_batch()) every one.
 * One hold of the core's lock; no I/O, as sis_core_find_dups_nowait().
 *
 * Return: the number pinned (0..@n, 0 in fail mode), or -errno
 * (-EWOULDBLOCK: a refcount page is not cached; -ENOMEM) with nothing
 * pinned.
 */
int sis_core_find_next_nowait(struct sis_core *c, u64 after, unsigned int n,
			      u64 *pblocks);

/**
 * sis_core_alloc() - allocate a new data block for data with @fp
 *
 * The block is pinned and entered in the index under @fp; its refcount stays
 * zero until sis_core_map().  If it is never mapped, sis_core_unpin() returns
 * it to the free pool and drops the index entry.
 *
 * Return: 0, -ENOSPC (also when every free block is still pinned by a
 * reader or a writer: transient), -EROFS, -ENOMEM, or a metadata error.
 */
int sis_core_alloc(struct sis_core *c, u64 fp, u64 *pblock);

/**
 * sis_core_alloc_run() - sis_core_alloc() for @n blocks in one call
 * @c:       the core
 * @fps:     the fingerprint of each block's data
 * @n:       how many
 * @pblocks: out: the blocks, allocated in a row (contiguous on disk as far
 *           as free space allows, whatever other writers allocate)
 *
 * Return: the number allocated (@n, or fewer when space ran out: the rest
 * is -ENOSPC), or -errno with nothing allocated (-ENOSPC, -EROFS, -ENOMEM,
 * a metadata error).
 */
int sis_core_alloc_run(struct sis_core *c, const u64 *fps, unsigned int n,
		       u64 *pblocks);

/**
 * sis_core_find_or_alloc() - sis_core_find_dups(), then a new block for
 * every fingerprint without a candidate, in one call
 * @c:       the core
 * @fps:     the fingerprints
 * @skip:    for each, a candidate already found different (or 0): if the
 *           look-up gives it again, the block gets a new one instead
 * @n:       how many
 * @pblocks: out: the candidate (pinned, to be compared) or the new block
 *           (pinned, in the index, as by sis_core_alloc_run()) of each, or
 *           0 where space ran out
 * @fresh:   out: which of @pblocks are new blocks
 *
 * One hold of the core's lock, for a writer that holds the hash locks of
 * @fps: a block with no candidate is allocated in the same hold, so no
 * other writer of the same data can miss it.  The new blocks are allocated
 * in a row, in the order of @fps (contiguous on disk as far as free space
 * allows).  Running out of space is not an error: the blocks left get 0.
 *
 * Return: the number of new blocks, or -errno (-EROFS, -ENOMEM, a metadata
 * error, -EIO in fail mode) with nothing pinned or allocated.
 */
int sis_core_find_or_alloc(struct sis_core *c, const u64 *fps,
			   const u64 *skip, unsigned int n, u64 *pblocks,
			   bool *fresh);

/**
 * sis_core_map() - map @lblock of volume @vol to @pblock
 *
 * Map pages the volume shares with a clone are copied first (the first
 * write under each); that may commit the open transaction, dropping the
 * core's lock meanwhile.
 *
 * @pblock must be pinned by the caller (from find_dup or alloc) and its data
 * written.  Takes one reference on @pblock and drops the reference of the
 * previous mapping, freeing that block if it was the last.
 *
 * Return: 0, -EOVERFLOW if @pblock is saturated, -ESTALE if @pblock lost
 * its last mapping and was freed while pinned: a candidate from find_dup, or
 * a block from alloc that a concurrent writer of the same data shared and
 * then dropped (in all these cases: store the data again), -EINVAL, -EROFS,
 * -ENOSPC (no room for a map page), -ENOENT (no volume @vol), -ENOMEM, or
 * a metadata error.  On any
 * error but a metadata error @lblock keeps its previous mapping and every
 * refcount is unchanged (map pages created on the way may stay: they are
 * accounted for).
 */
int sis_core_map(struct sis_core *c, u32 vol, u64 lblock, u64 pblock);

/**
 * sis_core_unpin() - drop a pin taken by find_dup or alloc
 */
void sis_core_unpin(struct sis_core *c, u64 pblock);

/**
 * sis_core_unmap() - unmap @count logical blocks of volume @vol from @lblock
 * (discard, or a
 * write of zeros); drops one reference per mapped block.  Empty map subtrees
 * are skipped, so large ranges cost what they map, not what they span.
 *
 * A range too large for one transaction is committed in pieces, so after a
 * crash a discard may be found partly done (each block either still mapped
 * or unmapped), as block-device semantics allow for an unflushed discard.
 *
 * Return: 0, -EINVAL (beyond the logical size), -ENOENT (no volume @vol),
 * -EROFS, -ENOMEM (a prefix of the range may be unmapped; no count leaks),
 * or a metadata error.
 */
int sis_core_unmap(struct sis_core *c, u32 vol, u64 lblock, u64 count);

#define SIS_MAP_KEEP	U64_MAX	/* sis_core_map_batch(): leave the block */

/**
 * sis_core_map_batch() - map or unmap @n logical blocks in a row, then drop
 * pins, in one hold of the core's lock
 * @c:         the core
 * @vol:       the volume
 * @lblock:    the first logical block
 * @n:         how many
 * @pblocks:   for block @lblock + i: the pinned block to map it to (as
 *             sis_core_map()), 0 to unmap it (a block of zeros, as
 *             sis_core_unmap()), or SIS_MAP_KEEP to leave it as it is
 * @results:   out: per block, the result of its sis_core_map() or
 *             sis_core_unmap(); -ECANCELED if left alone (SIS_MAP_KEEP, or
 *             after the error returned)
 * @unpins:    pins to drop once the blocks are done, as sis_core_unpin()
 *             (the pins of @pblocks among them), dropped on error too
 * @nr_unpins: how many
 *
 * Blocks are done in order.  -ESTALE and -EOVERFLOW are outcomes of one
 * block (it keeps its previous mapping; store its data again) and the
 * batch goes on; any other error stops it.
 *
 * Return: 0, or the first error other than -ESTALE and -EOVERFLOW (as for
 * sis_core_map(); blocks before it are done).
 */
int sis_core_map_batch(struct sis_core *c, u32 vol, u64 lblock,
		       unsigned int n, const u64 *pblocks, int *results,
		       const u64 *unpins, unsigned int nr_unpins);

/**
 * sis_core_map_batch_nowait() - sis_core_map_batch() that does no I/O
 *
 * It waits for the core's lock (whose holders do no I/O on the data path)
 * but reads no metadata and commits nothing: a block whose mapping would
 * read a page or need a commit first stops the batch with -EWOULDBLOCK
 * (blocks before it are done, as on any error: the caller may run the
 * whole batch again with sis_core_map_batch(), mapping a block to the
 * block it maps changes nothing).  @unpins are dropped in every case.  The
 * rollback of an abort is left to the next waiting call.
 *
 * Return: as sis_core_map_batch(), or -EWOULDBLOCK.
 */
int sis_core_map_batch_nowait(struct sis_core *c, u32 vol, u64 lblock,
			      unsigned int n, const u64 *pblocks, int *results,
			      const u64 *unpins, unsigned int nr_unpins);

/**
 * sis_core_commit() - make every change so far durable
 *
 * Freezes the running transaction (everything changed before the call),
 * then, without the core's lock: writes the journal body, flushes (data
 * too), writes the commit block, flushes; then passes freed blocks to
 * ops->discard (if set and passdown is on) and makes them allocatable;
 * checkpoints when the journal is half full.  Commits run one at a time: a
 * call that finds one under way waits for it, then commits what is left,
 * so 0 always means every change made before the call is durable.  Other
 * operations proceed meanwhile, into the next transaction.  A commit with
 * nothing dirty
 * still flushes (it is what a REQ_PREFLUSH becomes), and so does a commit
 * in read-only mode when no transaction was aborted.
 *
 * Return: 0; -ENOMEM: nothing was committed, the transaction stays
 * intact (frozen, written first by the next commit) and the core writable:
 * retry later; -EIO after an abort (now
 * or earlier since open: see stats.aborted) or in fail mode; or an I/O
 * error of the flush in read-only mode.  A commit I/O error aborts to
 * read-only mode (-EIO).
 */
int sis_core_commit(struct sis_core *c);

/**
 * sis_core_set_discard_passdown() - discard freed blocks after commit?
 */
void sis_core_set_discard_passdown(struct sis_core *c, bool on);

/**
 * sis_core_resize() - grow the pool to a backing device of @physical_blocks
 *
 * Zero or the same size changes nothing; shrinking is refused with
 * -EINVAL.  The change is part of the open transaction.  Growing grows the
 * free-space summary and the hook table (see sis_core_open()); they are
 * allocated before anything changes.  May sleep; do not call it from the
 * I/O path.
 *
 * Return: 0, -EINVAL, -EROFS, -ENOMEM (nothing changed), or a metadata
 * error.
 */
int sis_core_resize(struct sis_core *c, u64 physical_blocks);

/**
 * struct sis_volume_info - one volume of the pool
 * @deleting: being deleted (its map is being freed; it takes no I/O)
 * @origin:   the volume it was cloned from, or SIS_VOL_NO_ORIGIN
 * @create_seq: transaction that created it
 * @map_root, @map_depth: its block map (for tools)
 */
struct sis_volume_info {
	u32 id;
	bool deleting;
	u64 logical_blocks;
	u64 nr_mapped;
	u32 origin;
	u64 create_seq;
	u64 map_root;
	u32 map_depth;
	char name[SIS_VOL_NAME_LEN];
};

/**
 * sis_core_volume_create() - a new, empty volume @id of @logical_blocks
 * @name: up to SIS_VOL_NAME_LEN - 1 bytes, or NULL
 *
 * Committed before it returns.  May sleep.
 *
 * Return: 0, -EINVAL (id above SIS_VOL_ID_MAX, size 0 or too large),
 * -ENAMETOOLONG, -EEXIST (the id, or a non-empty @name, is taken),
 * -ENOSPC (SIS_MAX_VOLUMES volumes exist), -EROFS, -ENOMEM, -EIO.
 */
int sis_core_volume_create(struct sis_core *c, u32 id, u64 logical_blocks,
			   const char *name);

/**
 * sis_core_volume_clone() - volume @id becomes a copy of volume @origin
 *
 * Instant whatever the size: the clone takes a reference on the origin's
 * map root and shares every map page and data block with it; a later write
 * to either copies the map pages on its path (block by block, the sharing
 * breaks).  The clone has the origin's logical size and mapped count.  It
 * captures the mappings made before the call; for a consistent filesystem
 * suspend the origin first.  Committed before it returns.  May sleep.
 *
 * Return: as sis_core_volume_create(), -ENOENT (no volume @origin), and
 * -EOPNOTSUPP when the journal is too small to copy a shared map page in
 * one transaction (a transaction of min(SIS_MAP_FANOUT, groups) + 28
 * pages: about 1100 journal blocks from 130 MiB of device up; format with
 * a larger journal).
 */
int sis_core_volume_clone(struct sis_core *c, u32 id, u32 origin,
			  const char *name);

/**
 * sis_core_volume_delete() - delete volume @id and free every block no
 * other volume references
 *
 * The volume is marked deleting (it takes no I/O from then on), then its
 * map is freed top-down in bounded steps, committing between them; a page
 * shared with a clone only loses a reference, so deleting a fresh clone is
 * O(1).  A crash in between is finished at the next open.  The caller
 * makes sure no one does I/O to the volume.  Committed before it returns.
 * May sleep.
 *
 * Return: 0, -ENOENT, -EROFS, -ENOMEM (the volume stays marked deleting;
 * calling again, or the next open, finishes it), or a metadata error.
 */
int sis_core_volume_delete(struct sis_core *c, u32 id);

/**
 * sis_core_volume_resize() - grow volume @id to @logical_blocks
 *
 * Part of the open transaction.  Return: 0, -ENOENT, -EINVAL (smaller, or
 * beyond SIS_MAP_MAX_DEPTH levels), -EROFS, -ENOSPC, -ENOMEM, or a
 * metadata error.
 */
int sis_core_volume_resize(struct sis_core *c, u32 id, u64 logical_blocks);

/**
 * sis_core_volume_info() - what is known of volume @id (being deleted too)
 *
 * Return: 0 or -ENOENT.
 */
int sis_core_volume_info(struct sis_core *c, u32 id, struct sis_volume_info *vi);

/**
 * sis_core_volume_next() - the lowest volume id after *@id (U32_MAX: the
 * first), into *@id
 *
 * Return: 0, or -ENOENT when there is none.
 */
int sis_core_volume_next(struct sis_core *c, u32 *id);

/**
 * sis_core_volume_find() - the id of the volume named @name (not empty)
 *
 * Return: 0 or -ENOENT.
 */
int sis_core_volume_find(struct sis_core *c, const char *name, u32 *id);

/**
 * sis_core_count_exclusive() - blocks deleting volume @id would free
 *
 * Walks the volume's map holding the core's lock (metadata reads included):
 * an administrative call, not for the I/O path.  See
 * __sis_map_count_exclusive() for what counts.
 *
 * Return: 0 (exact), 1 (a lower bound: too many shared blocks to track),
 * -ENOENT, -EIO (fail mode), -ENOMEM, or a metadata error.
 */
int sis_core_count_exclusive(struct sis_core *c, u32 id, u64 *exclusive);

/**
 * sis_core_set_read_only() - switch to read-only mode (e.g. on a user's
 * request or a data-device error); an open transaction is committed first
 * when possible.  When that commit fails (an I/O error, or no memory) the
 * transaction is aborted, and later commits fail (stats.aborted).
 */
void sis_core_set_read_only(struct sis_core *c);

/**
 * sis_core_dirty() - does the open transaction hold changes?
 */
bool sis_core_dirty(struct sis_core *c);

void sis_core_get_stats(struct sis_core *c, struct sis_core_stats *st);

/**
 * sis_core_drop_cache() - drop clean metadata pages from RAM
 */
void sis_core_drop_cache(struct sis_core *c);

/**
 * sis_fingerprint() - the fast 64-bit hash of a 4 KiB block
 * @data: SIS_BLOCK_SIZE bytes, any alignment of 8
 *
 * The index's key (format version 4: docs/format.md defines it).  The
 * same on every architecture; advice only, as a collision costs a failed
 * comparison, never data.
 */
u64 sis_fingerprint(const void *data);

/**
 * sis_block_is_zero() - is a 4 KiB block all zeros?
 */
bool sis_block_is_zero(const void *data);

/**
 * sis_block_equal() - do two 4 KiB blocks hold the same bytes?
 * @a: a block, 8-byte aligned (bio data is at least sector aligned)
 * @b: another, 8-byte aligned
 *
 * The byte compare that decides sharing (a fingerprint is only advice).
 */
bool sis_block_equal(const void *a, const void *b);

/* ---- Offline check and repair (check.c) ---- */

enum sis_check_severity {
	SIS_CHECK_INFO,		/* harmless */
	SIS_CHECK_LEAK,		/* a refcount too high: space lost, no data */
	SIS_CHECK_ERROR,	/* data at risk: under-count, dangling mapping */
};

/**
 * struct sis_check_ops - what a check needs besides the metadata
 * @read_data: optional: read data block @pblock, to verify fingerprints
 * @report:    one line per problem, already formatted
 */
struct sis_check_ops {
	int (*read_data)(void *ctx, u64 pblock, void *buf);
	void (*report)(void *ctx, enum sis_check_severity sev, const char *msg);
	void *ctx;
};

struct sis_check_result {
	u64 mapped;		/* logical blocks found mapped */
	u64 data_blocks;	/* distinct data blocks referenced */
	u64 meta_blocks;	/* map pages found */
	u64 info;		/* counts per severity */
	u64 leaks;
	u64 errors;
	u64 repaired;		/* problems fixed by sis_core_repair() */
};

/**
 * sis_core_check() - walk every mapping and refcount
 *
 * Counts the references the map really holds and compares them with every
 * refcount (higher: leak; lower or a mapping to a free, metadata or
 * out-of-range block: error), checks the counters in the root, and with
 * @ops->read_data every data block's fingerprint.  Uses RAM
 * proportional to the data area (4 bytes per block).  Takes the core lock.
 *
 * Return: 0 when the walk completed (see @res for what it found), or -errno
 * when it could not (-ENOMEM, I/O error).
 */
int sis_core_check(struct sis_core *c, const struct sis_check_ops *ops,
		   struct sis_check_result *res);

/**
 * sis_core_repair() - rebuild refcounts and counters from the map
 *
 * Keeps every mapping that points at an in-range data block; drops mappings
 * that point outside the data area or at a refcount page; recomputes every
 * refcount and counter; commits, rebuilds the RAM fingerprint index, and
 * clears needs_check when a following check is clean.  @c must be opened
 * with SIS_OPEN_IGNORE_CHECK.
 *
 * Return: 0 or -errno.
 */
int sis_core_repair(struct sis_core *c, const struct sis_check_ops *ops,
		    struct sis_check_result *res);

#endif /* SIS_CORE_H */
