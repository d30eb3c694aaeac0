// SPDX-License-Identifier: GPL-2.0
/*
 * space-map.c - refcounts, allocation and pins of physical blocks.
 *
 * The data area is cut into groups of SIS_GROUP_BLOCKS blocks; the first
 * block of a group is its refcount page, describing the other
 * SIS_RC_PER_PAGE blocks (refcount, fingerprint, META flag).  A group's
 * refcount page is created when the allocator first enters the group
 * (root.groups_used), so formatting writes none of them and growing the
 * device just adds groups.
 *
 * A block is free when its refcount is zero, it is not a map page, no pin
 * holds it, and it is not pending: a block freed in a transaction (a bit in
 * its refcount page's pend_run, moved to pend_commit when the transaction
 * is frozen for its commit) is reused, or discarded, only after the commit
 * that freed it is durable, and that commit first waits for the reads
 * begun before it was frozen (sis_core_read_begin()), which is all the
 * reuse protection readers need.  A page with pending bits is dirty or
 * committing, so it stays in the cache until they clear.  A freed map page
 * waits longer, for the next checkpoint (pend_ckpt): until the journal's
 * tail passes the transactions holding its images, a replay could write
 * one of them home over data stored in the block.
 * The counters keep
 *	data_blocks = nr_data + nr_meta + nr_pending_free + nr_reserved + free
 * exactly, so the allocator knows without scanning when there is no space.
 * The last SIS_META_RESERVE free blocks go only to map pages, so when data
 * blocks run out, duplicate writes anywhere still find room for the map
 * pages they need.
 *
 * Pins are in-RAM only: a pin keeps a block from being reallocated while a
 * writer compares against it or writes it.  A block allocated and pinned but
 * never mapped is free again when its last pin goes.
 *
 * The free-space summary is in RAM only too: one bit per group, set when a
 * scan of the whole group found no block it could ever hand out without a
 * further change (every block mapped or a map page: none free but pinned,
 * none freed in the open transaction), so the allocator skips the group
 * without reading its refcount page; a second level has one bit per 64
 * groups all marked full.  The invariant is one-sided: a set bit means the
 * group has no allocatable block; a clear bit only costs a scan.  So every
 * change that can make a block allocatable clears its group's bit: a
 * refcount dropping to zero (the block is free now, or after the commit
 * that freed it, and no scan marks its group full until then), the last
 * pin of a block going, a map page given back, the device growing (the old
 * last group, which gets more blocks), and any wholesale change of the
 * refcounts (the rollback of an abort, repair) clears every bit.  Groups
 * start clear at open.  RAM: one bit per group of SIS_GROUP_BLOCKS blocks,
 * about 128 KiB per TiB of device, plus 1/64 of that.
 *
 * All functions are called with c->lock held.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/hash.h>
#include <linux/bitops.h>
#include "core-internal.h"

u64 sis_group_rc_block(struct sis_core *c, u64 group)
{
	return c->data_start + group * SIS_GROUP_BLOCKS;
}

/**
 * sis_is_data_block() - can @pblock hold data or a map page?
 */
bool sis_is_data_block(struct sis_core *c, u64 pblock)
{
	u64 rem;

	if (pblock < c->data_start ||
	    pblock >= le64_to_cpu(c->root.physical_blocks))
		return false;
	div64_u64_rem(pblock - c->data_start, SIS_GROUP_BLOCKS, &rem);
	return rem != 0;
}

static void block_group(struct sis_core *c, u64 pblock, u64 *group, u32 *idx)
{
	u64 rem;

	*group = div64_u64_rem(pblock - c->data_start, SIS_GROUP_BLOCKS, &rem);
	*idx = rem - 1;
}

/*
 * The refcount page of @group; a group beyond groups_used gets a fresh page
 * (and every group before it too, so groups_used stays a high-water mark).
 */
static int __rc_page(struct sis_core *c, u64 group, struct sis_page **pg)
{
	u64 used = le64_to_cpu(c->root.groups_used);
	int r;

	if (group >= c->nr_groups)
		return -EINVAL;
	while (group >= used) {
		r = __sis_mc_new(c, sis_group_rc_block(c, used), SIS_BT_RC, pg);
		if (r)
			return r;
		c->root.groups_used = cpu_to_le64(++used);
	}
	return __sis_mc_get(c, sis_group_rc_block(c, group), SIS_BT_RC, pg);
}

/**
 * __sis_rc_get() - the refcount entry of data block @pblock
 * @cur: optional: the page a batch or a run of look-ups located last; a
 *       block of its group, in the same generation (c->hold_gen), takes
 *       the page from there, and a page located anew is left there
 *
 * Return: 0, -EINVAL if @pblock is not a data block, or a metadata error.
 */
int __sis_rc_get(struct sis_core *c, struct sis_rc_cursor *cur, u64 pblock,
		 struct sis_page **pg, struct sis_disk_rc **rc)
{
	struct sis_disk_rc_page *p;
	u64 group;
	u32 idx;
	int r;

	if (!sis_is_data_block(c, pblock))
		return -EINVAL;
	block_group(c, pblock, &group, &idx);
	if (cur && cur->pg && cur->group == group && cur->gen == c->hold_gen) {
		*pg = cur->pg;
	} else {
		r = __rc_page(c, group, pg);
		if (r)
			return r;
		if (cur) {
			cur->pg = *pg;
			cur->group = group;
			cur->gen = c->hold_gen;
		}
	}
	p = (*pg)->data;
	*rc = &p->e[idx];
	return 0;
}

/* Was the block freed in a transaction not yet durable and released? */
static bool rc_pending(struct sis_page *pg, u32 idx)
{
	return ((pg->pend_run[idx / 64] | pg->pend_commit[idx / 64] |
		 pg->pend_ckpt[idx / 64]) >> (idx % 64)) & 1;
}

/**
 * __sis_nr_free() - blocks the allocator can hand out now
 */
u64 __sis_nr_free(struct sis_core *c)
{
	u64 used = le64_to_cpu(c->root.nr_data) + le64_to_cpu(c->root.nr_meta) +
		   c->nr_pending_free + c->nr_reserved;

	return used < c->data_blocks ? c->data_blocks - used : 0;
}

/* ---- The free-space summary ---- */

#define SM_WORD_BITS	64

/* Words of a summary of @groups groups: 1 bit per group, 1 per 64 groups. */
static u64 summary_words(u64 groups)
{
	u64 w1 = DIV_ROUND_UP_ULL(groups, SM_WORD_BITS);

	return max_t(u64, w1 + DIV_ROUND_UP_ULL(w1, SM_WORD_BITS), 1);
}

/**
 * sis_summary_alloc() - a zeroed summary for a device of @physical_blocks
 * @c:               the core (c->data_start must be set)
 * @physical_blocks: the device size it must describe
 * @groups:          out: the number of groups it describes
 *
 * Allocates with GFP_KERNEL: call it without c->lock held (or before the
 * core is published).  1 bit per group plus 1 bit per 64 groups.
 *
 * Return: the summary, or NULL (no memory).
 */
u64 *sis_summary_alloc(struct sis_core *c, u64 physical_blocks, u64 *groups)
{
	u64 words;

	*groups = physical_blocks > c->data_start ?
		  DIV_ROUND_UP_ULL(physical_blocks - c->data_start,
				   SIS_GROUP_BLOCKS) : 0;
	words = summary_words(*groups);
	if (words > SIZE_MAX / sizeof(u64))
		return NULL;
	return kvcalloc(words, sizeof(u64), GFP_KERNEL);
}

/**
 * __sis_summary_install() - use the summary *@map for @groups groups
 * @c:      the core
 * @map:    from sis_summary_alloc(); on return, what the caller must free
 *          with kvfree() (the old summary, or *@map itself when the one in
 *          use is large enough already)
 * @groups: what *@map describes
 *
 * Carries the bits of the summary in use over.
 */
void __sis_summary_install(struct sis_core *c, u64 **map, u64 groups)
{
	u64 w1 = DIV_ROUND_UP_ULL(groups, SM_WORD_BITS);
	u64 old_w1 = DIV_ROUND_UP_ULL(c->sm_groups, SM_WORD_BITS);
	u64 *old = c->sm_full, *full = *map, *full2 = full + w1, w;

	if (groups <= c->sm_groups)
		return;
	for (w = 0; w < old_w1; w++) {
		full[w] = old[w];
		if (full[w] == ~0ULL)
			full2[w / SM_WORD_BITS] |= BIT_ULL(w % SM_WORD_BITS);
	}
	c->sm_full = full;
	c->sm_full2 = full2;
	c->sm_groups = groups;
	*map = old;
}

/**
 * sis_summary_ram() - bytes of RAM held by the free-space summary
 * @c: the core; the caller holds c->lock
 *
 * Return: the bytes (as sized by sis_summary_alloc() for c->sm_groups).
 */
u64 sis_summary_ram(struct sis_core *c)
{
	return c->sm_full ? summary_words(c->sm_groups) * sizeof(u64) : 0;
}

/**
 * sis_summary_free() - free the summary (close)
 */
void sis_summary_free(struct sis_core *c)
{
	kvfree(c->sm_full);
	c->sm_full = NULL;
	c->sm_full2 = NULL;
	c->sm_groups = 0;
}

static void __summary_clear(struct sis_core *c, u64 group)
{
	u64 w = group / SM_WORD_BITS;

	if (group >= c->sm_groups)
		return;
	c->sm_full[w] &= ~BIT_ULL(group % SM_WORD_BITS);
	c->sm_full2[w / SM_WORD_BITS] &= ~BIT_ULL(w % SM_WORD_BITS);
}

static void __summary_set(struct sis_core *c, u64 group)
{
	u64 w = group / SM_WORD_BITS;

	if (group >= c->sm_groups)
		return;
	c->sm_full[w] |= BIT_ULL(group % SM_WORD_BITS);
	if (c->sm_full[w] == ~0ULL)
		c->sm_full2[w / SM_WORD_BITS] |= BIT_ULL(w % SM_WORD_BITS);
}

/* @pblock may have become allocatable: its group needs a scan again. */
static void __summary_clear_block(struct sis_core *c, u64 pblock)
{
	u64 group;
	u32 idx;

	if (pblock < c->data_start)
		return;
	block_group(c, pblock, &group, &idx);
	__summary_clear(c, group);
}

/**
 * __sis_summary_forget() - clear every bit (the refcounts changed wholesale)
 */
void __sis_summary_forget(struct sis_core *c)
{
	u64 w1 = DIV_ROUND_UP_ULL(c->sm_groups, SM_WORD_BITS);

	if (c->sm_full)
		memset(c->sm_full, 0, (w1 + DIV_ROUND_UP_ULL(w1, SM_WORD_BITS)) *
		       sizeof(u64));
}

/**
 * __sis_summary_grown() - the device grew from @old_groups groups: the old
 * last group (it may have gained blocks) and every new one need a scan
 */
void __sis_summary_grown(struct sis_core *c, u64 old_groups)
{
	u64 g = old_groups ? old_groups - 1 : 0;

	while (g < c->nr_groups && g < c->sm_groups) {
		if (!(g % SM_WORD_BITS) && c->nr_groups - g >= SM_WORD_BITS) {
			c->sm_full[g / SM_WORD_BITS] = 0;
			__summary_clear(c, g);	/* and the second level */
			g += SM_WORD_BITS;
		} else {
			__summary_clear(c, g++);
		}
	}
}

/*
 * The first group in [@g, @end) not marked full, or @end.  Groups beyond
 * the summary count as not full.
 */
static u64 __summary_next_open(struct sis_core *c, u64 g, u64 end)
{
	u64 lim = min(end, c->sm_groups), w, bits;

	if (g >= c->sm_groups)
		return min(g, end);
	while (g < lim) {
		w = g / SM_WORD_BITS;
		bits = ~c->sm_full2[w / SM_WORD_BITS] >> (w % SM_WORD_BITS);
		if (!(bits & 1)) {
			/* 64 groups all full: on to the next word that is not */
			g = bits ? (w + __ffs64(bits)) * SM_WORD_BITS :
			    (w / SM_WORD_BITS + 1) * SM_WORD_BITS * SM_WORD_BITS;
			continue;
		}
		bits = ~c->sm_full[w] >> (g % SM_WORD_BITS);
		if (bits)
			return min(g + __ffs64(bits), lim);
		g = (w + 1) * SM_WORD_BITS;
	}
	return lim;
}

/* ---- Allocation ---- */

/*
 * Scan @group from entry @idx for an allocatable block: 0 with *@pblock
 * set, -ENOENT, or a metadata error.  A scan of the whole group that finds
 * every block in use (none free but pinned, none freed in the open
 * transaction) marks the group full.
 */
static int __scan_group(struct sis_core *c, u64 group, u32 idx, u64 *pblock,
			bool *pinned)
{
	u64 end = le64_to_cpu(c->root.physical_blocks);
	u64 base = sis_group_rc_block(c, group) + 1;
	struct sis_disk_rc_page *p;
	struct sis_page *pg;
	bool full = !idx;
	int r;

	r = __rc_page(c, group, &pg);
	if (r)
		return r;
	c->alloc_pages_scanned++;
	p = pg->data;
	for (; idx < SIS_RC_PER_PAGE && base + idx < end; idx++) {
		if (p->e[idx].refcount || (le32_to_cpu(p->e[idx].flags) & SIS_RC_META))
			continue;
		if (rc_pending(pg, idx)) {
			full = false;	/* allocatable after the commit */
			continue;
		}
		if (__sis_pin_find(c, base + idx)) {
			*pinned = true;
			full = false;	/* allocatable when unpinned */
			continue;
		}
		*pblock = base + idx;
		c->root.alloc_cursor = cpu_to_le64(base + idx + 1);
		return 0;
	}
	if (full)
		__summary_set(c, group);
	return -ENOENT;
}

/* Scan groups [@from, @to), the first from entry @idx, skipping full ones. */
static int __scan_range(struct sis_core *c, u64 from, u64 to, u32 idx,
			u64 *pblock, bool *pinned)
{
	u64 g = from;
	int r;

	for (;; g++) {
		g = __summary_next_open(c, g, to);
		if (g >= to)
			return -ENOENT;
		r = __scan_group(c, g, g == from ? idx : 0, pblock, pinned);
		if (r != -ENOENT)
			return r;
	}
}

/*
 * Find a free block at or after the cursor, wrapping once, skipping the
 * groups the summary marks full.  The counters say one exists, but they
 * count free blocks that writers still pin (find_dup, alloc): when
 * those are all there is, there is no space for now (-ENOSPC, until the
 * pins go).  A scan that finds no free block at all, pinned or not, means
 * the counters are wrong.
 */
static int __alloc_scan(struct sis_core *c, u64 *pblock, u64 reserve)
{
	u64 cursor = le64_to_cpu(c->root.alloc_cursor);
	u64 end = le64_to_cpu(c->root.physical_blocks);
	bool pinned = false;
	u64 group;
	u32 idx;
	int r;

	if (__sis_nr_free(c) <= reserve)
		return -ENOSPC;
	if (cursor < c->data_start || cursor >= end)
		cursor = c->data_start + 1;
	else if (!sis_is_data_block(c, cursor))
		cursor++;		/* a refcount page: its group's first block */
	if (cursor >= end)
		cursor = c->data_start + 1;
	block_group(c, cursor, &group, &idx);

	r = __scan_range(c, group, c->nr_groups, idx, pblock, &pinned);
	if (r == -ENOENT)
		r = __scan_range(c, 0, group + 1, 0, pblock, &pinned);
	if (r != -ENOENT)
		return r;
	if (pinned)
		return -ENOSPC;
	return __sis_metadata_error(c, -EILSEQ, "free-space counters");
}

/**
 * __sis_alloc_block() - a free data block, pinned and reserved
 *
 * Return: 0, or -ENOSPC when only the map-page reserve is left.
 */
int __sis_alloc_block(struct sis_core *c, u64 *pblock)
{
	int r = __alloc_scan(c, pblock, SIS_META_RESERVE);

	if (!r)
		r = __sis_pin(c, *pblock, true);
	return r;
}

/**
 * __sis_alloc_meta() - a free block for a map page, marked META, refcount 1
 */
int __sis_alloc_meta(struct sis_core *c, u64 *pblock)
{
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	int r;

	r = __alloc_scan(c, pblock, 0);
	if (r)
		return r;
	r = __sis_rc_get(c, NULL, *pblock, &pg, &rc);
	if (!r)
		r = __sis_mc_dirty(c, pg);
	if (r)
		return r;
	rc->refcount = cpu_to_le32(1);
	rc->flags = cpu_to_le32(SIS_RC_META);
	rc->fp = 0;
	le64_add_cpu(&c->root.nr_meta, 1);
	return 0;
}

/**
 * __sis_alloc_meta_undo() - return a block from __sis_alloc_meta() that
 * was not linked into the map (its page could not be set up)
 *
 * Its refcount page is cached and dirty, so this cannot fail; the block was
 * free in the committed state, so it is simply free again.
 */
void __sis_alloc_meta_undo(struct sis_core *c, u64 pblock)
{
	struct sis_disk_rc *rc;
	struct sis_page *pg;

	if (WARN_ON(__sis_rc_get(c, NULL, pblock, &pg, &rc) || !pg->dirty))
		return;
	rc->refcount = 0;
	rc->flags = 0;
	le64_add_cpu(&c->root.nr_meta, -1);
	__summary_clear_block(c, pblock);
}

/**
 * __sis_rc_shareable() - may one more logical block map @pblock?
 * @c:      the core (c->lock held)
 * @cur:    optional: a batch's refcount page located last (see
 *          struct sis_rc_cursor), used and updated
 * @pblock: a data block the caller holds a pin on
 * @pg:     out: the refcount page of @pblock
 * @rc:     out: the refcount entry of @pblock
 *
 * The one check behind both sharing an index candidate and taking a
 * reference: the block is a data block (not metadata), its count is not
 * saturated, and it is mapped, or free but the caller's own reservation.
 *
 * Return: 0, -EOVERFLOW (saturated), -ESTALE (freed under the caller's pin
 * and not its reservation), -EINVAL (not a data block), or a metadata error.
 */
int __sis_rc_shareable(struct sis_core *c, struct sis_rc_cursor *cur,
		       u64 pblock, struct sis_page **pg, struct sis_disk_rc **rc)
{
	struct sis_pin *pin;
	u32 count;
	int r;

	r = __sis_rc_get(c, cur, pblock, pg, rc);
	if (r)
		return r;
	count = le32_to_cpu((*rc)->refcount);
	if (le32_to_cpu((*rc)->flags) & SIS_RC_META)
		return -EINVAL;
	if (count == U32_MAX)
		return -EOVERFLOW;
	if (count)
		return 0;
	pin = __sis_pin_find(c, pblock);
	return pin && pin->reserved ? 0 : -ESTALE;
}

/**
 * __sis_ref_inc() - one more logical block maps @pblock
 * @cur: optional, as for __sis_rc_shareable()
 *
 * Return: as __sis_rc_shareable(), which it checks first.
 */
int __sis_ref_inc(struct sis_core *c, struct sis_rc_cursor *cur, u64 pblock)
{
	struct sis_pin *pin;
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	u32 count;
	int r;

	r = __sis_rc_shareable(c, cur, pblock, &pg, &rc);
	if (r)
		return r;
	count = le32_to_cpu(rc->refcount);
	r = __sis_mc_dirty(c, pg);
	if (r)
		return r;
	rc->refcount = cpu_to_le32(count + 1);
	if (!count) {
		pin = __sis_pin_find(c, pblock);
		pin->reserved = false;
		c->nr_reserved--;
		le64_add_cpu(&c->root.nr_data, 1);
	}
	return 0;
}

/**
 * __sis_ref_inc_prepare() - make __sis_ref_inc(@pblock) of a mapped data
 * block unable to fail
 *
 * Return: 0, -EOVERFLOW (saturated: no further sharer), -ENOMEM (nothing
 * changed), or a metadata error (not a mapped data block).
 */
int __sis_ref_inc_prepare(struct sis_core *c, u64 pblock)
{
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	int r;

	r = __sis_rc_get(c, NULL, pblock, &pg, &rc);
	if (r == -EINVAL || (!r && (!rc->refcount ||
				    (le32_to_cpu(rc->flags) & SIS_RC_META))))
		return __sis_metadata_error(c, -EILSEQ, "mapping to a free or map block");
	if (!r && le32_to_cpu(rc->refcount) == U32_MAX)
		r = -EOVERFLOW;
	if (!r)
		r = __sis_mc_dirty(c, pg);
	return r;
}

/**
 * __sis_node_rc() - the refcount entry of the map page at @blocknr
 * @dirty: make its refcount page dirty (for a change)
 *
 * Return: 0, -ENOMEM, or a metadata error (not an allocated map page).
 */
int __sis_node_rc(struct sis_core *c, u64 blocknr, bool dirty,
		  struct sis_disk_rc **rc)
{
	struct sis_page *pg;
	int r;

	r = __sis_rc_get(c, NULL, blocknr, &pg, rc);
	if (r == -EINVAL || (!r && (!(*rc)->refcount ||
				    !(le32_to_cpu((*rc)->flags) & SIS_RC_META))))
		return __sis_metadata_error(c, -EILSEQ, "map page not allocated");
	if (!r && dirty)
		r = __sis_mc_dirty(c, pg);
	return r;
}

/**
 * __sis_ref_dec_prepare() - make __sis_ref_dec(@pblock) unable to fail
 * for memory
 *
 * Reads and dirties the refcount page of @pblock; after it, until the
 * caller drops c->lock or the transaction commits, __sis_ref_dec() of
 * @pblock fails only for damage.  Call it before changing the map.
 *
 * Return: 0, -ENOMEM (nothing changed), or a metadata error.
 */
int __sis_ref_dec_prepare(struct sis_core *c, u64 pblock)
{
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	int r;

	r = __sis_rc_get(c, NULL, pblock, &pg, &rc);
	if (r == -EINVAL)
		return __sis_metadata_error(c, -EILSEQ, "mapping out of range");
	if (!r)
		r = __sis_mc_dirty(c, pg);
	return r;
}

/**
 * __sis_ref_dec() - one reference less to @pblock; free it at zero
 *
 * A data block loses a logical block (or a leaf) naming it, a map page a
 * parent.  Needs no memory after __sis_ref_dec_prepare(); a freed data
 * block leaves the fingerprint index (RAM, no memory needed).
 */
int __sis_ref_dec(struct sis_core *c, u64 pblock)
{
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	u32 count;
	u64 group;
	u32 idx;
	int r;

	r = __sis_rc_get(c, NULL, pblock, &pg, &rc);
	if (r)
		return r;
	count = le32_to_cpu(rc->refcount);
	if (!count)
		return __sis_metadata_error(c, -EILSEQ, "refcount underflow");
	r = __sis_mc_dirty(c, pg);
	if (r)
		return r;
	rc->refcount = cpu_to_le32(count - 1);
	if (count > 1)
		return 0;

	block_group(c, pblock, &group, &idx);
	if (le32_to_cpu(rc->flags) & SIS_RC_META) {
		rc->flags = 0;
		le64_add_cpu(&c->root.nr_meta, -1);
		pg->pend_meta[idx / 64] |= BIT_ULL(idx % 64);
	} else {
		le64_add_cpu(&c->root.nr_data, -1);
		__sis_index_remove(c, le64_to_cpu(rc->fp), pblock);
	}
	/*
	 * Allocatable only after the next commit, even a block the last
	 * commit never saw mapped: reads begun before the commit may still be
	 * reading it, and the commit waits for them before it releases freed
	 * blocks (sis_readers_wait()).  The pending bit is what the allocator
	 * and the release after that commit read.
	 */
	if (!WARN_ON(rc_pending(pg, idx))) {
		pg->pend_run[idx / 64] |= BIT_ULL(idx % 64);
		c->nr_pending_free++;
	}
	/*
	 * Free now, or at the commit: until then no scan marks the group
	 * full (it sees the block freed in the open transaction).
	 */
	__summary_clear(c, group);
	return 0;
}

/**
 * __sis_collect_freed() - the runs of blocks @pg's committing transaction
 * freed that may be passed down as discards
 * @ext: room for SIS_RC_PER_PAGE / 2 + 1 runs
 *
 * Called once that transaction is durable and the readers of the freed
 * blocks were waited for (sis_readers_wait()); the blocks stay pending (the
 * allocator skips them) until __sis_release_freed(), so the caller may
 * discard them without c->lock.  Pinned blocks are left out: a writer may
 * be comparing against them.
 *
 * Return: the number of runs stored in @ext.
 */
unsigned int __sis_collect_freed(struct sis_core *c, struct sis_page *pg,
				 struct sis_extent *ext)
{
	struct sis_disk_rc_page *p = pg->data;
	u64 base = pg->blocknr + 1, run = 0, start = 0;
	unsigned int n = 0;
	u32 i;

	for (i = 0; i <= SIS_RC_PER_PAGE; i++) {
		bool freed = i < SIS_RC_PER_PAGE &&
			     (pg->pend_commit[i / 64] & BIT_ULL(i % 64)) &&
			     !p->e[i].refcount &&
			     base + i < le64_to_cpu(c->root.physical_blocks) &&
			     !__sis_pin_find(c, base + i);

		if (freed && !run)
			start = base + i;
		if (freed) {
			run++;
			continue;
		}
		if (run) {
			ext[n].start = start;
			ext[n++].count = run;
		}
		run = 0;
	}
	return n;
}

/**
 * __sis_release_freed() - the blocks @pg's committing transaction freed
 * become allocatable
 *
 * Only after that commit is durable, its readers were waited for, and any
 * discard of those blocks completed (a late discard must not hit reused
 * data).
 */
void __sis_release_freed(struct sis_core *c, struct sis_page *pg)
{
	unsigned int w;

	for (w = 0; w < SIS_PEND_WORDS; w++) {
		u64 meta = pg->pend_commit[w] & pg->pend_meta[w];

		/* map pages wait for the next checkpoint */
		c->nr_pending_free -= hweight64(pg->pend_commit[w] & ~meta);
		c->nr_meta_wait += hweight64(meta);
		pg->pend_ckpt[w] |= meta;
		pg->pend_meta[w] &= ~meta;
		pg->pend_commit[w] = 0;
	}
}

/**
 * __sis_release_checkpointed() - freed map pages of @pg become allocatable
 *
 * Called for every refcount page a checkpoint wrote home: the journal no
 * longer holds a transaction that names those blocks, so no replay can
 * write an old map page over data stored there later.  A page with
 * pend_ckpt bits needs a checkpoint until then, so it stays cached.
 */
void __sis_release_checkpointed(struct sis_core *c, struct sis_page *pg)
{
	unsigned int w;

	for (w = 0; w < SIS_PEND_WORDS; w++) {
		u64 n = hweight64(pg->pend_ckpt[w]);

		c->nr_pending_free -= n;
		c->nr_meta_wait -= n;
		pg->pend_ckpt[w] = 0;
	}
}

static struct hlist_head *pin_bucket(struct sis_core *c, u64 pblock)
{
	return &c->pins[hash_64(pblock, SIS_PIN_HASH_BITS)];
}

struct sis_pin *__sis_pin_find(struct sis_core *c, u64 pblock)
{
	struct sis_pin *pin;

	hlist_for_each_entry(pin, pin_bucket(c, pblock), node)
		if (pin->pblock == pblock)
			return pin;
	return NULL;
}

/**
 * __sis_pin() - keep @pblock from reuse; @reserved: it is a new allocation
 *
 * A new pin comes from the spares (filled at open); only beyond
 * SIS_PIN_RESERVE pins held at once is one allocated.
 *
 * Return: 0, or -ENOMEM (nothing changed; transient).
 */
int __sis_pin(struct sis_core *c, u64 pblock, bool reserved)
{
	struct sis_pin *pin = __sis_pin_find(c, pblock);

	if (!pin && c->nr_pin_spare) {
		pin = hlist_entry(c->pin_spare.first, struct sis_pin, node);
		hlist_del(&pin->node);
		c->nr_pin_spare--;
		memset(pin, 0, sizeof(*pin));
	} else if (!pin) {
		pin = kzalloc(sizeof(*pin), GFP_NOIO);
		if (!pin)
			return -ENOMEM;
	}
	if (!pin->count) {
		pin->pblock = pblock;
		hlist_add_head(&pin->node, pin_bucket(c, pblock));
	}
	pin->count++;
	if (reserved) {
		pin->reserved = true;
		c->nr_reserved++;
	}
	return 0;
}

/* A pin no longer held goes back to the spares, or is freed beyond them. */
static void __pin_put(struct sis_core *c, struct sis_pin *pin)
{
	if (c->nr_pin_spare < SIS_PIN_RESERVE) {
		hlist_add_head(&pin->node, &c->pin_spare);
		c->nr_pin_spare++;
	} else {
		kfree(pin);
	}
}

/**
 * sis_pins_reserve() - fill the spare pins (at open; may sleep)
 *
 * Return: 0 or -ENOMEM.
 */
int sis_pins_reserve(struct sis_core *c)
{
	struct sis_pin *pin;

	while (c->nr_pin_spare < SIS_PIN_RESERVE) {
		pin = kzalloc(sizeof(*pin), GFP_KERNEL);
		if (!pin)
			return -ENOMEM;
		hlist_add_head(&pin->node, &c->pin_spare);
		c->nr_pin_spare++;
	}
	return 0;
}

/**
 * __sis_unpin() - drop a pin; an unmapped reservation becomes free again
 */
void __sis_unpin(struct sis_core *c, u64 pblock)
{
	struct sis_pin *pin = __sis_pin_find(c, pblock);
	struct sis_disk_rc *rc;
	struct sis_page *pg;

	if (WARN_ON(!pin))
		return;
	if (--pin->count)
		return;
	if (pin->reserved) {
		c->nr_reserved--;
		/* Never mapped: its index entry must not outlive it. */
		if (c->mode == SIS_MODE_WRITE &&
		    !__sis_rc_get(c, NULL, pblock, &pg, &rc) && !rc->refcount)
			__sis_index_remove(c, le64_to_cpu(rc->fp), pblock);
	}
	hlist_del(&pin->node);
	__pin_put(c, pin);
	/* a free block no longer pinned can be handed out */
	__summary_clear_block(c, pblock);
}

void __sis_pins_free(struct sis_core *c)
{
	struct hlist_node *tmp;
	struct sis_pin *pin;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c->pins); i++)
		hlist_for_each_entry_safe(pin, tmp, &c->pins[i], node) {
			hlist_del(&pin->node);
			kfree(pin);
		}
	hlist_for_each_entry_safe(pin, tmp, &c->pin_spare, node) {
		hlist_del(&pin->node);
		kfree(pin);
	}
	c->nr_pin_spare = 0;
	c->nr_reserved = 0;
}
