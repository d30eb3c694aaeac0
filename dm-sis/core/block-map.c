// SPDX-License-Identifier: GPL-2.0
/*
 * block-map.c - the block map: logical block -> physical block.
 *
 * A radix tree of map pages, SIS_MAP_FANOUT entries each, root.map_depth
 * levels deep (level 0 holds leaves).  A leaf entry is the physical block of
 * one logical block, or 0: unmapped, reads as zeros.  An interior entry is
 * the block of a child page, or 0: the whole subtree is unmapped.  Map pages
 * are allocated from the data area like data blocks (refcount 1, META) only
 * when a mapping is first made under them, so a thin device that has
 * written little has a small map whatever its logical size, and growing the
 * logical size only adds levels on top of the root.
 *
 * Map pages are never shared and are never freed (an emptied subtree keeps
 * its pages for the next write to it).
 *
 * All functions are called with c->lock held.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include "core-internal.h"

/**
 * sis_map_capacity() - logical blocks a map of @depth levels can address
 */
u64 sis_map_capacity(u32 depth)
{
	u64 cap = 1;

	while (depth--)
		cap *= SIS_MAP_FANOUT;
	return cap;
}

static u32 level_type(u32 level)
{
	return level ? SIS_BT_MAP_NODE : SIS_BT_MAP_LEAF;
}

static u32 level_index(u64 lblock, u32 level)
{
	u64 rem;

	div64_u64_rem(div64_u64(lblock, sis_map_capacity(level)),
		      SIS_MAP_FANOUT, &rem);
	return rem;
}

/* A new map page; on failure no block stays allocated for it. */
static int __new_map_page(struct sis_core *c, u32 level, u64 *blocknr,
			  struct sis_page **pg)
{
	int r = __sis_alloc_meta(c, blocknr);

	if (r)
		return r;
	r = __sis_mc_new(c, *blocknr, level_type(level), pg);
	if (r)
		__sis_alloc_meta_undo(c, *blocknr);
	return r;
}

/*
 * The leaf page covering @lblock.  With @create, missing pages on the way
 * are allocated; without, -ENODATA says the subtree is absent and *@skip
 * how many blocks from @lblock it spans.
 */
static int __map_leaf(struct sis_core *c, u64 lblock, bool create,
		      struct sis_page **leaf, u64 *skip)
{
	u32 depth = le32_to_cpu(c->root.map_depth);
	u32 level = depth - 1;
	u64 blocknr = le64_to_cpu(c->root.map_root);
	struct sis_disk_map_page *mp;
	struct sis_page *pg;
	int r;

	if (!blocknr) {
		if (!create)
			goto absent;
		r = __new_map_page(c, level, &blocknr, &pg);
		if (r)
			return r;
		c->root.map_root = cpu_to_le64(blocknr);
	} else {
		r = __sis_mc_get(c, blocknr, level_type(level), &pg);
		if (r)
			return r;
	}

	while (level) {
		u32 i = level_index(lblock, level);
		struct sis_page *child;

		mp = pg->data;
		blocknr = le64_to_cpu(mp->e[i]);
		level--;
		if (!blocknr) {
			if (!create)
				goto absent;
			r = __sis_mc_dirty(c, pg);
			if (r)
				return r;
			r = __new_map_page(c, level, &blocknr, &child);
			if (r)
				return r;
			mp->e[i] = cpu_to_le64(blocknr);
		} else {
			if (!sis_is_data_block(c, blocknr))
				return __sis_metadata_error(c, -EILSEQ,
							    "map pointer out of range");
			r = __sis_mc_get(c, blocknr, level_type(level), &child);
			if (r)
				return r;
		}
		pg = child;
	}
	*leaf = pg;
	return 0;

absent:
	if (skip) {
		u64 span = sis_map_capacity(level + 1), rem;

		div64_u64_rem(lblock, span, &rem);
		*skip = span - rem;
	}
	return -ENODATA;
}

/**
 * __sis_map_lookup() - the mapping of @lblock
 * @skip: optional: for an unmapped block, how many blocks from @lblock on
 *        are certainly unmapped too (at least 1)
 *
 * Return: 0, -ENODATA (unmapped) or a metadata error.
 */
int __sis_map_lookup(struct sis_core *c, u64 lblock, u64 *pblock, u64 *skip)
{
	struct sis_disk_map_page *mp;
	struct sis_page *leaf;
	u64 p;
	int r;

	r = __map_leaf(c, lblock, false, &leaf, skip);
	if (r)
		return r;
	mp = leaf->data;
	p = le64_to_cpu(mp->e[level_index(lblock, 0)]);
	if (!p) {
		if (skip)
			*skip = 1;
		return -ENODATA;
	}
	if (!sis_is_data_block(c, p))
		return __sis_metadata_error(c, -EILSEQ, "mapping out of range");
	*pblock = p;
	return 0;
}

/**
 * __sis_map_prepare() - make the leaf of @lblock exist and dirty
 * @old: the current mapping of @lblock
 *
 * After it succeeds, __sis_map_set() of the same block cannot fail: callers
 * do every step that can fail before the first change.
 */
int __sis_map_prepare(struct sis_core *c, u64 lblock, u64 *old)
{
	struct sis_disk_map_page *mp;
	struct sis_page *leaf;
	int r;

	r = __map_leaf(c, lblock, true, &leaf, NULL);
	if (!r)
		r = __sis_mc_dirty(c, leaf);
	if (r)
		return r;
	mp = leaf->data;
	*old = le64_to_cpu(mp->e[level_index(lblock, 0)]);
	return 0;
}

/**
 * __sis_map_set() - map @lblock to @pblock (0: unmap); *@old gets the
 * previous mapping.  Refcounts are the caller's business.
 *
 * The leaf is made dirty before anything changes, so an error leaves the
 * map as it was.
 */
int __sis_map_set(struct sis_core *c, u64 lblock, u64 pblock, u64 *old)
{
	struct sis_disk_map_page *mp;
	struct sis_page *leaf;
	u32 i = level_index(lblock, 0);
	int r;

	r = __map_leaf(c, lblock, pblock != 0, &leaf, NULL);
	if (r == -ENODATA) {
		*old = 0;
		return 0;
	}
	if (r)
		return r;
	r = __sis_mc_dirty(c, leaf);
	if (r)
		return r;
	mp = leaf->data;
	*old = le64_to_cpu(mp->e[i]);
	mp->e[i] = cpu_to_le64(pblock);
	return 0;
}

/**
 * __sis_map_unmap() - unmap [@lblock, @lblock + @count), dropping refs
 *
 * Absent subtrees are skipped whole.  May commit between leaves, dropping
 * c->lock meanwhile (__sis_commit_if_full()).
 */
int __sis_map_unmap(struct sis_core *c, u64 lblock, u64 count)
{
	u64 end = lblock + count;
	int r;

	while (lblock < end) {
		struct sis_disk_map_page *mp;
		struct sis_page *leaf;
		u64 skip, leaf_end, rem;
		u32 i;

		__sis_mc_shrink(c);
		r = __sis_maybe_commit(c);
		if (r)
			return r;
		r = __map_leaf(c, lblock, false, &leaf, &skip);
		if (r == -ENODATA) {
			lblock += skip;
			continue;
		}
		if (r)
			return r;
		div64_u64_rem(lblock, SIS_MAP_FANOUT, &rem);
		leaf_end = min(end, lblock - rem + SIS_MAP_FANOUT);
		mp = leaf->data;
		for (; lblock < leaf_end; lblock++) {
			u64 old;

			i = level_index(lblock, 0);
			old = le64_to_cpu(mp->e[i]);
			if (!old)
				continue;
			/*
			 * Full: commit at the top of the loop, which holds no
			 * page (the commit may drop c->lock); the first entry
			 * after it always fits.
			 */
			if (__sis_txn_full(c))
				break;
			r = __sis_mc_dirty(c, leaf);
			if (!r)		/* the decrement cannot fail for memory */
				r = __sis_ref_dec_prepare(c, old);
			if (r)
				return r;
			mp->e[i] = 0;
			le64_add_cpu(&c->root.nr_mapped, -1);
			r = __sis_ref_dec(c, old);
			if (r)
				return __sis_metadata_error(c, r, "unmap");
		}
	}
	return 0;
}

/**
 * __sis_map_grow() - let the map address @logical_blocks blocks
 */
int __sis_map_grow(struct sis_core *c, u64 logical_blocks)
{
	u32 depth = le32_to_cpu(c->root.map_depth);
	int r;

	while (sis_map_capacity(depth) < logical_blocks) {
		u64 root = le64_to_cpu(c->root.map_root);

		if (depth >= SIS_MAP_MAX_DEPTH)
			return -EINVAL;
		if (root) {
			struct sis_disk_map_page *mp;
			struct sis_page *pg;
			u64 blocknr;

			r = __new_map_page(c, depth, &blocknr, &pg);
			if (r)
				return r;
			mp = pg->data;
			mp->e[0] = cpu_to_le64(root);
			c->root.map_root = cpu_to_le64(blocknr);
		}
		c->root.map_depth = cpu_to_le32(++depth);
	}
	c->root.logical_blocks = cpu_to_le64(logical_blocks);
	c->root_dirty = true;
	return 0;
}

/*
 * Walk one subtree.  The entries of each interior page are copied before
 * descending, so the walk may shrink the cache between leaves.
 */
static int __walk(struct sis_core *c, u64 blocknr, u32 level, u64 base,
		  sis_map_walk_fn fn, sis_map_page_fn pfn, void *arg)
{
	struct sis_disk_map_page *mp;
	struct sis_page *pg;
	u64 *e;
	u32 i;
	int r;

	r = sis_is_data_block(c, blocknr) ? 0 : -EILSEQ;
	if (!r)
		r = __sis_mc_read(c, blocknr, level_type(level), &pg);
	if (r && pfn)	/* the callback decides: skip the subtree, or stop */
		return pfn(c, arg, blocknr, level | SIS_WALK_BAD);
	if (r)
		return __sis_metadata_error(c, r, "map walk");
	if (pfn) {
		r = pfn(c, arg, blocknr, level);
		if (r)
			return r;
		r = __sis_mc_read(c, blocknr, level_type(level), &pg);
		if (r)
			return r;
	}
	mp = pg->data;
	if (!level) {
		for (i = 0; i < SIS_MAP_FANOUT; i++) {
			u64 p = le64_to_cpu(mp->e[i]);

			if (p && base + i < le64_to_cpu(c->root.logical_blocks)) {
				r = fn(c, arg, base + i, p);
				if (r)
					return r;
			}
		}
		__sis_mc_shrink(c);
		return 0;
	}

	e = kmalloc_array(SIS_MAP_FANOUT, sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	for (i = 0; i < SIS_MAP_FANOUT; i++)
		e[i] = le64_to_cpu(mp->e[i]);
	for (i = 0, r = 0; i < SIS_MAP_FANOUT && !r; i++) {
		if (!e[i])
			continue;
		r = __walk(c, e[i], level - 1,
			   base + i * sis_map_capacity(level), fn, pfn, arg);
		if (r != SIS_WALK_CUT)
			continue;
		/* Repair: unlink the bad child from this (verified) page. */
		r = __sis_mc_read(c, blocknr, level_type(level), &pg);
		if (!r)
			r = __sis_mc_dirty(c, pg);
		if (!r) {
			mp = pg->data;
			mp->e[i] = 0;
		}
	}
	kfree(e);
	return r;
}

/**
 * __sis_map_walk() - call @fn for every mapping and @pfn for every map page
 *
 * Either callback may stop the walk by returning non-zero.  A map page that
 * is out of range or fails verification is passed to @pfn with SIS_WALK_BAD
 * or'ed into its level; @pfn returns 0 to skip the subtree or SIS_WALK_CUT
 * to unlink it from its parent (repair); without @pfn it aborts the walk.
 * May evict clean pages: callers hold no page pointers across it.
 */
int __sis_map_walk(struct sis_core *c, sis_map_walk_fn fn, sis_map_page_fn pfn,
		   void *arg)
{
	u64 root = le64_to_cpu(c->root.map_root);
	int r;

	if (!root)
		return 0;
	r = __walk(c, root, le32_to_cpu(c->root.map_depth) - 1, 0, fn, pfn, arg);
	if (r == SIS_WALK_CUT) {
		c->root.map_root = 0;
		c->root_dirty = true;
		r = 0;
	}
	return r;
}
