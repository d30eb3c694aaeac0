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
 * holds it, and its committed refcount (the shadow image of a page dirty in
 * the open transaction) is zero too: a block freed in the open transaction
 * is reused, or discarded, only after the commit that freed it is durable.
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
 * All functions are called with c->lock held.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/hash.h>
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
 *
 * Return: 0, -EINVAL if @pblock is not a data block, or a metadata error.
 */
int __sis_rc_get(struct sis_core *c, u64 pblock, struct sis_page **pg,
		 struct sis_disk_rc **rc)
{
	struct sis_disk_rc_page *p;
	u64 group;
	u32 idx;
	int r;

	if (!sis_is_data_block(c, pblock))
		return -EINVAL;
	block_group(c, pblock, &group, &idx);
	r = __rc_page(c, group, pg);
	if (r)
		return r;
	p = (*pg)->data;
	*rc = &p->e[idx];
	return 0;
}

static bool rc_committed_free(struct sis_page *pg, u32 idx)
{
	struct sis_disk_rc_page *s = pg->shadow;

	return !s || !s->e[idx].refcount;
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

/*
 * Find a free block at or after the cursor, wrapping once.  The counters
 * say one exists, but they count free blocks that readers still pin
 * (sis_core_lookup_range()): when those are all there is, there is no
 * space for now (-ENOSPC, until the pins go).  A scan that finds no free
 * block at all, pinned or not, means the counters are wrong.
 */
static int __alloc_scan(struct sis_core *c, u64 *pblock, u64 reserve)
{
	u64 cursor = le64_to_cpu(c->root.alloc_cursor);
	u64 end = le64_to_cpu(c->root.physical_blocks);
	u64 group, scanned;
	bool pinned = false;
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

	for (scanned = 0; scanned <= c->nr_groups; scanned++) {
		struct sis_page *pg;
		struct sis_disk_rc_page *p;

		r = __rc_page(c, group, &pg);
		if (r)
			return r;
		p = pg->data;
		for (; idx < SIS_RC_PER_PAGE; idx++) {
			u64 b = sis_group_rc_block(c, group) + 1 + idx;

			if (b >= end)
				break;
			if (p->e[idx].refcount || (le32_to_cpu(p->e[idx].flags) & SIS_RC_META) ||
			    !rc_committed_free(pg, idx))
				continue;
			if (__sis_pin_find(c, b)) {
				pinned = true;
				continue;
			}
			*pblock = b;
			c->root.alloc_cursor = cpu_to_le64(b + 1);
			return 0;
		}
		idx = 0;
		if (++group >= c->nr_groups)
			group = 0;
	}
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
	r = __sis_rc_get(c, *pblock, &pg, &rc);
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

	if (WARN_ON(__sis_rc_get(c, pblock, &pg, &rc) || !pg->dirty))
		return;
	rc->refcount = 0;
	rc->flags = 0;
	le64_add_cpu(&c->root.nr_meta, -1);
}

/**
 * __sis_rc_shareable() - may one more logical block map @pblock?
 * @c:      the core (c->lock held)
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
int __sis_rc_shareable(struct sis_core *c, u64 pblock, struct sis_page **pg,
		       struct sis_disk_rc **rc)
{
	struct sis_pin *pin = __sis_pin_find(c, pblock);
	u32 count;
	int r;

	r = __sis_rc_get(c, pblock, pg, rc);
	if (r)
		return r;
	count = le32_to_cpu((*rc)->refcount);
	if (le32_to_cpu((*rc)->flags) & SIS_RC_META)
		return -EINVAL;
	if (count == U32_MAX)
		return -EOVERFLOW;
	if (!count && !(pin && pin->reserved))
		return -ESTALE;
	return 0;
}

/**
 * __sis_ref_inc() - one more logical block maps @pblock
 *
 * Return: as __sis_rc_shareable(), which it checks first.
 */
int __sis_ref_inc(struct sis_core *c, u64 pblock)
{
	struct sis_pin *pin;
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	u32 count;
	int r;

	r = __sis_rc_shareable(c, pblock, &pg, &rc);
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

	r = __sis_rc_get(c, pblock, &pg, &rc);
	if (r == -EINVAL)
		return __sis_metadata_error(c, -EILSEQ, "mapping out of range");
	if (!r)
		r = __sis_mc_dirty(c, pg);
	return r;
}

/**
 * __sis_ref_dec() - one logical block less maps @pblock; free it at zero
 *
 * Needs no memory after __sis_ref_dec_prepare(): a freed block's index
 * entry is dropped when memory allows, and otherwise left for lookup
 * validation to drop (the index is advice).
 */
int __sis_ref_dec(struct sis_core *c, u64 pblock)
{
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	u32 count;
	u64 group;
	u32 idx;
	int r;

	r = __sis_rc_get(c, pblock, &pg, &rc);
	if (r)
		return r;
	count = le32_to_cpu(rc->refcount);
	if (!count || (le32_to_cpu(rc->flags) & SIS_RC_META))
		return __sis_metadata_error(c, -EILSEQ, "refcount underflow");
	r = __sis_mc_dirty(c, pg);
	if (r)
		return r;
	rc->refcount = cpu_to_le32(count - 1);
	if (count > 1)
		return 0;

	le64_add_cpu(&c->root.nr_data, -1);
	block_group(c, pblock, &group, &idx);
	if (!rc_committed_free(pg, idx))
		c->nr_pending_free++;
	r = __sis_index_remove(c, le64_to_cpu(rc->fp), pblock);
	return r == -ENOMEM ? 0 : r;
}

/**
 * __sis_release_freed() - a commit made @pg durable: pass its freed blocks
 * down as discards (coalesced runs) when passdown is on, except blocks still
 * pinned (a reader of sis_core_lookup_range() may be reading them)
 */
int __sis_release_freed(struct sis_core *c, struct sis_page *pg)
{
	struct sis_disk_rc_page *p = pg->data, *s = pg->shadow;
	u64 base = pg->blocknr + 1, run = 0, start = 0;
	int r = 0, r2;
	u32 i;

	if (!c->discard_passdown || !c->ops.discard)
		return 0;
	for (i = 0; i <= SIS_RC_PER_PAGE; i++) {
		/* a pinned block may still be being read: not discarded */
		bool freed = i < SIS_RC_PER_PAGE && s->e[i].refcount &&
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
			r2 = c->ops.discard(c->ops.ctx, start, run);
			r = r ? r : r2;
		}
		run = 0;
	}
	return r;
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
 */
int __sis_pin(struct sis_core *c, u64 pblock, bool reserved)
{
	struct sis_pin *pin = __sis_pin_find(c, pblock);

	if (!pin) {
		pin = kzalloc(sizeof(*pin), GFP_NOIO);
		if (!pin)
			return -ENOMEM;
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
		    !__sis_rc_get(c, pblock, &pg, &rc) && !rc->refcount)
			__sis_index_remove(c, le64_to_cpu(rc->fp), pblock);
	}
	hlist_del(&pin->node);
	kfree(pin);
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
	c->nr_reserved = 0;
}
