// SPDX-License-Identifier: GPL-2.0
/*
 * block-map.c - the block maps of the volumes: logical block -> physical
 * block.
 *
 * Each volume (struct sis_disk_volume, a slot of the root) has a radix tree
 * of map pages, SIS_MAP_FANOUT entries each, map_depth levels deep (level 0
 * holds leaves).  A leaf entry is the physical block of one logical block,
 * or 0: unmapped, reads as zeros.  An interior entry is the block of a child
 * page, or 0: the whole subtree is unmapped.  Map pages are allocated from
 * the data area (META blocks) only when a mapping is first made under them,
 * so a thin volume that has written little has a small map whatever its
 * logical size, and growing the logical size only adds levels on top.
 *
 * Sharing (clones).  A map page's refcount counts the parents naming it:
 * map pages and volume roots.  A clone takes one more reference on its
 * origin's root: O(1), whatever the size.  Invariants:
 *  - A page with refcount > 1 is never changed.  A change under it first
 *    copies it (top-down, dm-thin's rule): the copy takes a reference on
 *    each child, the original loses the parent's reference, and the parent
 *    (now exclusive) names the copy.  Each copy is one consistent step, so
 *    a transaction may commit between the levels of one path.
 *  - A data block is shared when its own refcount is above 1 or any page on
 *    its path is shared (__map_leaf() reports it to readers).
 *  - A copy touches the refcount pages of all children: its step needs room
 *    for them in the running transaction; without it the step returns
 *    -EAGAIN with c->map_room set, and the operation commits
 *    (__sis_commit_room()) and retries.
 *  - Pages of a deleted volume are freed top-down in bounded steps
 *    (__sis_map_free_step()); a shared page only loses a reference.  An
 *    exclusive leaf being freed is cleared entry by entry, like an unmap.
 *
 * Emptied exclusive pages stay allocated until the volume is deleted.
 *
 * All functions are called with c->lock held.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>
#include "core-internal.h"

/* Refcount entries a count of exclusive blocks keeps in RAM at most. */
#define SIS_EXCL_MAX_SHARED	BIT(20)

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
 * Refcount pages the entries of @mp may touch, plus @extra: runs of
 * entries in one group count once (exact for data written in order, an
 * upper bound otherwise), and never more than the groups there are.
 */
static u64 entry_pages(struct sis_core *c, const struct sis_disk_map_page *mp,
		       u64 extra)
{
	u64 prev = U64_MAX, n = extra;
	u32 i;

	for (i = 0; i < SIS_MAP_FANOUT; i++) {
		u64 b = le64_to_cpu(mp->e[i]), g;

		if (!b || b < c->data_start)
			continue;
		g = div64_u64(b - c->data_start, SIS_GROUP_BLOCKS);
		if (g != prev)
			n++;
		prev = g;
	}
	return min(n, c->nr_groups + extra);
}

/**
 * sis_map_copy_pages() - transaction pages one copy of a shared map page
 * may need at most on this device (see sis_core_volume_clone())
 */
u64 sis_map_copy_pages(struct sis_core *c)
{
	return min_t(u64, SIS_MAP_FANOUT, c->nr_groups) + 4;
}

/*
 * Has the running transaction room for @pages more?  Else say how many
 * (-EAGAIN), or -ENOSPC if even an empty one could not hold them (the
 * journal is too small for this step: the device grew since clones were
 * allowed).
 */
static int __room(struct sis_core *c, u64 pages)
{
	if (c->mc_nr_dirty + pages <= sis_txn_cap(c))
		return 0;
	if (pages + SIS_OP_MAX_DIRTY > sis_txn_cap(c)) {
		sis_log(c, 3, "journal too small to copy a shared map page (%llu pages)",
			(unsigned long long)pages);
		return -ENOSPC;
	}
	c->map_room = pages;
	return -EAGAIN;
}

/*
 * Copy the shared page @old (level @level) for a change under it: *@copy
 * is the new exclusive page and *@blocknr its block.  The caller points the
 * parent at it.  Everything that can fail runs before the first change.
 */
static int __cow_page(struct sis_core *c, u64 old, u32 level, u64 *blocknr,
		      struct sis_page **copy)
{
	struct sis_disk_map_page *om, *nm;
	struct sis_disk_rc *orc, *rc;
	struct sis_page *opg;
	u32 i;
	int r;

	r = __sis_mc_get(c, old, level_type(level), &opg);
	if (r)
		return r;
	om = opg->data;
	r = __room(c, entry_pages(c, om, 4));
	if (r)
		return r;
	for (i = 0; i < SIS_MAP_FANOUT; i++) {
		u64 b = le64_to_cpu(om->e[i]);

		if (!b)
			continue;
		if (level)
			r = __sis_node_rc(c, b, true, &rc);
		else
			r = __sis_ref_inc_prepare(c, b);
		if (r)
			return r;
	}
	r = __sis_node_rc(c, old, true, &orc);
	if (!r)
		r = __new_map_page(c, level, blocknr, copy);
	if (r)
		return r;

	/* Nothing below can fail: every page is cached and dirty. */
	nm = (*copy)->data;
	memcpy(nm->e, om->e, sizeof(nm->e));
	for (i = 0; i < SIS_MAP_FANOUT; i++) {
		u64 b = le64_to_cpu(om->e[i]);

		if (!b)
			continue;
		if (level) {
			__sis_node_rc(c, b, true, &rc);
			rc->refcount = cpu_to_le32(le32_to_cpu(rc->refcount) + 1);
		} else {
			WARN_ON(__sis_ref_inc(c, NULL, b));
		}
	}
	orc->refcount = cpu_to_le32(le32_to_cpu(orc->refcount) - 1);
	c->map_copies++;
	return 0;
}

/*
 * The page @blocknr at @level, child @idx of @parent (NULL: the volume's
 * root), for @mode.  *@shared is set once a page on the path is shared;
 * for a change, a shared page is copied first and the parent updated.
 */
static int __path_page(struct sis_core *c, struct sis_disk_volume *v,
		       struct sis_page *parent, u32 idx, u64 blocknr,
		       u32 level, enum sis_map_mode mode, bool *shared,
		       struct sis_page **pg)
{
	struct sis_disk_rc *rc;
	u64 copy;
	int r;

	if (!sis_is_data_block(c, blocknr))
		return __sis_metadata_error(c, -EILSEQ, "map pointer out of range");
	if (mode == SIS_MAP_LOOKUP && (!shared || *shared))
		return __sis_mc_get(c, blocknr, level_type(level), pg);
	r = __sis_node_rc(c, blocknr, false, &rc);
	if (r)
		return r;
	if (le32_to_cpu(rc->refcount) == 1)
		return __sis_mc_get(c, blocknr, level_type(level), pg);
	if (mode == SIS_MAP_LOOKUP) {
		*shared = true;
		return __sis_mc_get(c, blocknr, level_type(level), pg);
	}
	if (parent) {
		r = __sis_mc_dirty(c, parent);
		if (r)
			return r;
	}
	r = __cow_page(c, blocknr, level, &copy, pg);
	if (r)
		return r;
	if (parent) {
		struct sis_disk_map_page *pm = parent->data;

		pm->e[idx] = cpu_to_le64(copy);
	} else {
		v->map_root = cpu_to_le64(copy);
		c->root_dirty = true;
	}
	return 0;
}

/**
 * __sis_map_leaf() - the leaf page covering @lblock in volume @v
 * @mode:   SIS_MAP_LOOKUP: read only; SIS_MAP_CREATE: missing pages are
 *          allocated and shared ones copied; SIS_MAP_CLEAR: shared pages
 *          are copied, missing ones are not created
 * @skip:   optional: when the leaf is absent (-ENODATA), how many blocks
 *          from @lblock its absent subtree spans
 * @shared: optional (lookups): set if a page on the path is shared
 *
 * Return: 0, -ENODATA (absent, without SIS_MAP_CREATE), -EAGAIN (a copy
 * needs c->map_room free pages in the transaction: commit and retry; the
 * levels copied so far stay copied, which is consistent), -ENOMEM, or a
 * metadata error.
 */
int __sis_map_leaf(struct sis_core *c, struct sis_disk_volume *v, u64 lblock,
		   enum sis_map_mode mode, struct sis_page **leaf, u64 *skip,
		   bool *shared)
{
	u32 level = le32_to_cpu(v->map_depth) - 1;
	u64 blocknr = le64_to_cpu(v->map_root);
	struct sis_disk_map_page *mp;
	struct sis_page *pg;
	int r;

	if (!blocknr) {
		if (mode != SIS_MAP_CREATE)
			goto absent;
		r = __new_map_page(c, level, &blocknr, &pg);
		if (r)
			return r;
		v->map_root = cpu_to_le64(blocknr);
		c->root_dirty = true;
	} else {
		r = __path_page(c, v, NULL, 0, blocknr, level, mode, shared, &pg);
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
			if (mode != SIS_MAP_CREATE)
				goto absent;
			r = __sis_mc_dirty(c, pg);
			if (r)
				return r;
			r = __new_map_page(c, level, &blocknr, &child);
			if (r)
				return r;
			mp->e[i] = cpu_to_le64(blocknr);
		} else {
			r = __path_page(c, v, pg, i, blocknr, level, mode,
					shared, &child);
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
 * __sis_map_lookup() - the mapping of @lblock in volume @v
 * @skip:   optional: for an unmapped block, how many blocks from @lblock on
 *          are certainly unmapped too (at least 1)
 * @shared: optional: set if a map page on the path is shared (the block is
 *          then shared whatever its own refcount)
 * @memo:   optional: the leaf a run of look-ups located last; a block
 *          under it takes it (and its path's sharing) from there without
 *          walking the path, and a walk leaves its leaf there
 *
 * Return: 0, -ENODATA (unmapped) or a metadata error.
 */
int __sis_map_lookup(struct sis_core *c, struct sis_disk_volume *v, u64 lblock,
		     u64 *pblock, u64 *skip, bool *shared,
		     struct sis_lookup_memo *memo)
{
	u32 i = level_index(lblock, 0);
	struct sis_disk_map_page *mp;
	struct sis_page *leaf;
	bool path_shared = false;
	u64 p;
	int r;

	if (memo && memo->leaf && memo->v == v && memo->gen == c->hold_gen &&
	    lblock - i == memo->first && (!shared || memo->shared_known)) {
		leaf = memo->leaf;
		path_shared = memo->shared;
	} else {
		/* the sharing costs the path's node refcounts: only if asked */
		r = __sis_map_leaf(c, v, lblock, SIS_MAP_LOOKUP, &leaf, skip,
				   shared ? &path_shared : NULL);
		if (r)
			return r;
		if (memo) {
			memo->leaf = leaf;
			memo->v = v;
			memo->first = lblock - i;
			memo->gen = c->hold_gen;
			memo->shared = path_shared;
			memo->shared_known = !!shared;
		}
	}
	if (shared)
		*shared |= path_shared;
	mp = leaf->data;
	p = le64_to_cpu(mp->e[i]);
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
 * __sis_map_prepare() - make the leaf of @lblock exist, exclusive and dirty
 * @old:  the current mapping of @lblock
 * @leaf: out: that leaf, for __sis_map_leaf_set() in the same lock hold
 *        (no eviction and no commit in between)
 * @memo: optional: the leaf a batch prepared last (struct sis_leaf_memo);
 *        a block under it takes it from there without walking the path,
 *        and a walk leaves its leaf there
 *
 * After it succeeds, __sis_map_leaf_set() of the same block cannot fail:
 * callers do every step that can fail before the first change.  The leaf
 * stays exclusive and dirty until the next commit (c->hold_gen): a page
 * is shared only by a clone, and made clean only by a commit.
 *
 * Return: 0, -EAGAIN (see __sis_map_leaf()), -ENOMEM or a metadata error.
 */
int __sis_map_prepare(struct sis_core *c, struct sis_disk_volume *v,
		      u64 lblock, u64 *old, struct sis_page **leaf,
		      struct sis_leaf_memo *memo)
{
	u32 i = level_index(lblock, 0);
	struct sis_disk_map_page *mp;
	int r;

	if (memo && memo->leaf && memo->v == v && memo->gen == c->hold_gen &&
	    lblock - i == memo->first) {
		*leaf = memo->leaf;
	} else {
		r = __sis_map_leaf(c, v, lblock, SIS_MAP_CREATE, leaf, NULL,
				   NULL);
		if (!r)
			r = __sis_mc_dirty(c, *leaf);
		if (r)
			return r;
		if (memo) {
			memo->leaf = *leaf;
			memo->v = v;
			memo->first = lblock - i;
			memo->gen = c->hold_gen;
		}
	}
	mp = (*leaf)->data;
	*old = le64_to_cpu(mp->e[i]);
	return 0;
}

/**
 * __sis_map_leaf_set() - set the entry of @lblock in its dirty, exclusive
 * @leaf to @pblock; *@old gets the previous one
 *
 * Refcounts are the caller's business.  The leaf comes from
 * __sis_map_prepare() in the same lock hold, so the map path is walked
 * once per mapping.
 */
void __sis_map_leaf_set(struct sis_page *leaf, u64 lblock, u64 pblock, u64 *old)
{
	struct sis_disk_map_page *mp = leaf->data;
	u32 i = level_index(lblock, 0);

	*old = le64_to_cpu(mp->e[i]);
	mp->e[i] = cpu_to_le64(pblock);
}

/*
 * Clear entries [@from, @to) of the exclusive leaf @pg, dropping the
 * references they hold, while the running transaction has room (it stops
 * at the first entry that does not fit: commit, then go on from there).
 * *@cleared counts the mappings dropped.  Return: the first entry not
 * cleared (@to when done), -ENOMEM (nothing lost: entries cleared so far
 * are consistent), or a metadata error.
 */
static int __leaf_clear(struct sis_core *c, struct sis_page *pg, u32 from,
			u32 to, u64 *cleared)
{
	struct sis_disk_map_page *mp = pg->data;
	u32 i;
	int r;

	for (i = from; i < to; i++) {
		u64 b = le64_to_cpu(mp->e[i]);

		if (!b)
			continue;
		if (__sis_txn_full(c))
			break;
		r = __sis_mc_dirty(c, pg);
		if (!r)		/* the decrement cannot fail for memory */
			r = __sis_ref_dec_prepare(c, b);
		if (r)
			return r;
		mp->e[i] = 0;
		(*cleared)++;
		r = __sis_ref_dec(c, b);
		if (r)
			return __sis_metadata_error(c, r, "clearing a map leaf");
	}
	return i;
}

/**
 * __sis_map_unmap() - unmap [*@lblock, @end) of volume @id, dropping refs
 * @lblock: in: where to start; out: the first block not yet unmapped (the
 *          range before it is done, also when an error stops it)
 *
 * Absent subtrees are skipped whole; shared leaves are copied first.  May
 * commit between leaves, dropping c->lock meanwhile (__sis_commit_room()),
 * so the volume is looked up again after each.  Trims the cache between
 * leaves (__sis_op_step(): a range may cover many), never before the
 * first, so a run of __sis_op_run() finds the page it fetched.
 *
 * Return: 0, -ENOENT (the volume went away meanwhile), -ENOMEM,
 * SIS_MISS (see __sis_op_run()), or a metadata error.
 */
int __sis_map_unmap(struct sis_core *c, u32 id, u64 *lblock, u64 end)
{
	u64 room = 0;
	bool first = true;
	int r;

	while (*lblock < end) {
		struct sis_disk_volume *v;
		struct sis_page *leaf;
		u64 skip, rem, cleared = 0;
		u32 n;

		if (!first)
			__sis_op_step(c);
		first = false;
		r = __sis_commit_room(c, room);
		if (r)
			return r;
		room = 0;
		v = __sis_vol_find(c, id);
		if (!v)
			return -ENOENT;
		r = __sis_map_leaf(c, v, *lblock, SIS_MAP_CLEAR, &leaf, &skip, NULL);
		if (r == -ENODATA) {
			*lblock += skip;
			continue;
		}
		if (r == -EAGAIN) {
			room = c->map_room;
			continue;
		}
		if (r)
			return r;
		div64_u64_rem(*lblock, SIS_MAP_FANOUT, &rem);
		n = min_t(u64, end - *lblock, SIS_MAP_FANOUT - rem);
		/*
		 * A full transaction stops it: commit at the top of the loop,
		 * which holds no page (the commit may drop c->lock); the
		 * first entry after it always fits.
		 */
		r = __leaf_clear(c, leaf, rem, rem + n, &cleared);
		v->nr_mapped = cpu_to_le64(le64_to_cpu(v->nr_mapped) - cleared);
		if (r < 0)
			return r;
		*lblock += r - rem;
	}
	return 0;
}

/**
 * __sis_map_grow() - let the map of volume @v address @logical_blocks
 *
 * A new top page names the old root (which keeps its one reference, now
 * from the new page).
 */
int __sis_map_grow(struct sis_core *c, struct sis_disk_volume *v,
		   u64 logical_blocks)
{
	u32 depth = le32_to_cpu(v->map_depth);
	int r;

	while (sis_map_capacity(depth) < logical_blocks) {
		u64 root = le64_to_cpu(v->map_root);

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
			v->map_root = cpu_to_le64(blocknr);
		}
		v->map_depth = cpu_to_le32(++depth);
	}
	v->logical_blocks = cpu_to_le64(logical_blocks);
	c->root_dirty = true;
	return 0;
}

/* Drop the parent's reference to page @blocknr (refcount page dirty). */
static void __unlink(struct sis_core *c, struct sis_disk_volume *v,
		     struct sis_page *parent, u32 idx, u64 blocknr)
{
	if (parent) {
		struct sis_disk_map_page *pm = parent->data;

		pm->e[idx] = 0;
	} else {
		v->map_root = 0;
		c->root_dirty = true;
	}
	WARN_ON(__sis_ref_dec(c, blocknr));
}

/**
 * __sis_map_free_step() - free one bounded piece of the map of volume @v,
 * which is being deleted
 *
 * Walks down from the root through exclusive pages to the first non-empty
 * entry, then either drops a shared child's reference, or drops the
 * references of one leaf's entries (clearing them; as many as the running
 * transaction holds) and frees the leaf, or frees one emptied page.  Each
 * step is consistent on its own: a transaction may commit after any of
 * them, and after a crash the walk starts again from the root.
 *
 * Return: 1 (more to do: commit if the transaction is full, then call
 * again), 0 (the map is empty: v->map_root is 0), -ENOMEM or a metadata
 * error.
 */
int __sis_map_free_step(struct sis_core *c, struct sis_disk_volume *v)
{
	u32 level = le32_to_cpu(v->map_depth) - 1, pi = 0, i;
	u64 blocknr = le64_to_cpu(v->map_root), cleared = 0;
	struct sis_page *pg, *parent = NULL;
	struct sis_disk_map_page *mp;
	struct sis_disk_rc *rc;
	int r;

	if (!blocknr)
		return 0;
	for (;;) {
		if (!sis_is_data_block(c, blocknr))
			return __sis_metadata_error(c, -EILSEQ, "map pointer out of range");
		r = __sis_node_rc(c, blocknr, true, &rc);
		if (!r && parent)
			r = __sis_mc_dirty(c, parent);
		if (r)
			return r;
		if (le32_to_cpu(rc->refcount) > 1) {
			__unlink(c, v, parent, pi, blocknr);	/* still shared */
			return !!v->map_root;
		}
		r = __sis_mc_get(c, blocknr, level_type(level), &pg);
		if (r)
			return r;
		mp = pg->data;
		for (i = 0; i < SIS_MAP_FANOUT && !mp->e[i]; i++)
			;
		if (level && i < SIS_MAP_FANOUT) {
			parent = pg;
			pi = i;
			blocknr = le64_to_cpu(mp->e[i]);
			level--;
			continue;
		}
		break;
	}
	if (level)			/* an emptied interior page */
		goto unlink;

	/* an exclusive leaf: its entries go one by one, as unmap does */
	r = __leaf_clear(c, pg, 0, SIS_MAP_FANOUT, &cleared);
	if (r < 0)
		return r;
	if (r < SIS_MAP_FANOUT)
		return 1;	/* the rest after a commit */
unlink:
	__unlink(c, v, parent, pi, blocknr);
	return !!v->map_root;
}

/* ---- Walks ---- */

struct walk {
	struct sis_core *c;
	struct sis_disk_volume *v;
	u64 *pos;		/* mappings below it are skipped (done) */
	sis_map_walk_fn fn;
	sis_map_page_fn pfn;
	void *arg;
};

/*
 * Walk one subtree.  The entries of each interior page are copied before
 * descending, so the walk may shrink the cache between leaves
 * (__sis_op_step()).  @flags: SIS_WALK_SHADOW once the page callback said
 * the subtree was seen before.  *w->pos moves past every mapping passed
 * to the callback, every leaf done and every subtree skipped, so a walk
 * a miss (SIS_MISS) stopped goes on from there when run again; a leaf
 * done is never walked again, so the pages a rerun fetched are used before
 * the step ends.
 */
static int __walk(struct walk *w, u64 blocknr, u32 level, u64 base, u32 flags)
{
	struct sis_core *c = w->c;
	struct sis_disk_map_page *mp;
	struct sis_page *pg;
	u64 *e;
	u32 i;
	int r;

	r = sis_is_data_block(c, blocknr) ? 0 : -EILSEQ;
	if (!r)
		r = __sis_mc_read(c, blocknr, level_type(level), &pg);
	if (r == SIS_MISS || r == -ENOMEM)
		return r;
	if (r && w->pfn)  /* the callback decides: skip the subtree, or stop */
		return w->pfn(c, w->arg, blocknr, level | flags | SIS_WALK_BAD);
	if (r)
		return __sis_metadata_error(c, r, "map walk");
	if (w->pfn) {
		r = w->pfn(c, w->arg, blocknr, level | flags);
		if (r == SIS_WALK_SKIP) {
			*w->pos = max(*w->pos, base + sis_map_capacity(level + 1));
			return 0;
		}
		if (r == SIS_WALK_SHADOWED)
			flags |= SIS_WALK_SHADOW;
		else if (r)
			return r;
		r = __sis_mc_read(c, blocknr, level_type(level), &pg);
		if (r)
			return r;
	}
	mp = pg->data;
	if (!level) {
		u64 logical = le64_to_cpu(w->v->logical_blocks);

		for (i = 0; i < SIS_MAP_FANOUT; i++) {
			u64 p = le64_to_cpu(mp->e[i]);

			if (p && base + i < logical && base + i >= *w->pos) {
				r = w->fn(c, w->arg, base + i, p, flags);
				if (r)
					return r;
				*w->pos = base + i + 1;
			}
		}
		*w->pos = max(*w->pos, base + SIS_MAP_FANOUT);
		__sis_op_step(c);
		return 0;
	}

	e = kmalloc_array(SIS_MAP_FANOUT, sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	for (i = 0; i < SIS_MAP_FANOUT; i++)
		e[i] = le64_to_cpu(mp->e[i]);
	for (i = 0, r = 0; i < SIS_MAP_FANOUT && !r; i++) {
		u64 cb = base + i * sis_map_capacity(level);

		/* a subtree wholly below *w->pos was walked before */
		if (!e[i] || (*w->pos > cb &&
			      *w->pos - cb >= sis_map_capacity(level)))
			continue;
		r = __walk(w, e[i], level - 1, cb, flags);
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

/*
 * __sis_map_walk() from logical block *@pos on, moving *@pos past what it
 * walked (see __walk()).
 */
static int __map_walk_from(struct sis_core *c, struct sis_disk_volume *v,
			   u64 *pos, sis_map_walk_fn fn, sis_map_page_fn pfn,
			   void *arg)
{
	struct walk w = { .c = c, .v = v, .pos = pos, .fn = fn, .pfn = pfn,
			  .arg = arg };
	u64 root = le64_to_cpu(v->map_root);
	int r;

	if (!root)
		return 0;
	r = __walk(&w, root, le32_to_cpu(v->map_depth) - 1, 0, 0);
	if (r == SIS_WALK_CUT) {
		v->map_root = 0;
		c->root_dirty = true;
		r = 0;
	}
	return r;
}

/**
 * __sis_map_walk() - call @fn for every mapping of volume @v and @pfn for
 * every map page on the way
 *
 * Either callback may stop the walk by returning a value not listed here.
 * @pfn returns 0 to descend, SIS_WALK_SKIP to skip the subtree, or
 * SIS_WALK_SHADOWED to descend with SIS_WALK_SHADOW passed to both callbacks
 * below (a shared subtree met again: its mappings count for this volume,
 * its pages and references were counted already).  A map page that is out
 * of range or fails verification is passed to @pfn with SIS_WALK_BAD or'ed
 * into its level; @pfn returns 0 to skip the subtree or SIS_WALK_CUT to
 * unlink it from its parent (repair); without @pfn it aborts the walk.
 * May evict clean pages: callers hold no page pointers across it.
 */
int __sis_map_walk(struct sis_core *c, struct sis_disk_volume *v,
		   sis_map_walk_fn fn, sis_map_page_fn pfn, void *arg)
{
	u64 pos = 0;

	return __map_walk_from(c, v, &pos, fn, pfn, arg);
}

/* ---- Exclusive blocks ---- */

/*
 * A count of exclusive blocks, run by __sis_op_run(): the progress is kept
 * here across the runs a miss cuts short.
 */
struct excl {
	u32 id;
	u64 exclusive;
	u64 *shared;		/* data blocks with refcount > 1, found here */
	u64 nr_shared, max_shared;
	u64 next;		/* the walk: where it goes on (__walk()) */
	bool walked;		/* the walk is done, the shared ones sorted */
	u64 i;			/* then: the first shared block not counted */
	bool truncated;
};

static int excl_page(struct sis_core *c, void *arg, u64 blocknr, u32 level)
{
	struct sis_disk_rc *rc;
	int r;

	if (level & SIS_WALK_BAD)
		return -EILSEQ;
	r = __sis_node_rc(c, blocknr, false, &rc);
	if (r)
		return r;
	/* a shared page: its blocks stay when this volume goes */
	return le32_to_cpu(rc->refcount) > 1 ? SIS_WALK_SKIP : 0;
}

static int excl_mapping(struct sis_core *c, void *arg, u64 lblock, u64 pblock,
			u32 flags)
{
	struct excl *x = arg;
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	int r;

	r = __sis_rc_get(c, NULL, pblock, &pg, &rc);
	if (r)
		return r == -EINVAL ? -EILSEQ : r;
	if (le32_to_cpu(rc->refcount) == 1)
		x->exclusive++;
	else if (x->nr_shared < x->max_shared)
		x->shared[x->nr_shared++] = pblock;
	else
		x->truncated = true;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Walk from x->next on, then count the shared blocks all of whose
 * references were found, from x->i on.  A miss stops either part between
 * two blocks; the next run goes on from there.  The volume is looked up
 * again in every run (c->lock was dropped to read).  x->i moves past a
 * run only in the loop's increment, after the step, so a rerun after a
 * miss counts each run once.
 */
static int __excl_run(struct sis_core *c, void *arg)
{
	struct excl *x = arg;
	struct sis_disk_volume *v;
	u64 run;
	int r;

	if (c->mode == SIS_MODE_FAIL)
		return -EIO;
	v = __sis_vol_find(c, x->id);
	if (!v)
		return -ENOENT;
	if (!x->walked) {
		r = __map_walk_from(c, v, &x->next, excl_mapping, excl_page, x);
		if (r)
			return r;
		sort(x->shared, x->nr_shared, sizeof(u64), cmp_u64, NULL);
		x->walked = true;
	}
	for (; x->i < x->nr_shared; x->i += run) {
		struct sis_disk_rc *rc;
		struct sis_page *pg;

		for (run = 1; x->i + run < x->nr_shared &&
		     x->shared[x->i + run] == x->shared[x->i]; run++)
			;
		r = __sis_rc_get(c, NULL, x->shared[x->i], &pg, &rc);
		if (r)
			return r;
		if (le32_to_cpu(rc->refcount) == run)
			x->exclusive++;
		__sis_op_step(c);	/* after the use: the next may miss */
	}
	return 0;
}

/**
 * __sis_map_count_exclusive() - data blocks that deleting volume @id would
 * free
 *
 * A block is exclusive when every reference to it comes from this volume's
 * exclusive map pages: refcount 1, or refcount k with all k references
 * found in this walk (blocks the volume holds several copies of).  Pages
 * with refcount > 1 are skipped: everything under them stays.  Misses are
 * read without c->lock (__sis_op_run()), so a volume written meanwhile is
 * counted as each part of its map was when walked.  May evict clean pages.
 *
 * Return: 0 (exact), 1 (a lower bound: more than SIS_EXCL_MAX_SHARED
 * shared blocks), -ENOENT, -ENOMEM or a metadata error.
 */
int __sis_map_count_exclusive(struct sis_core *c, u32 id, u64 *exclusive)
{
	struct excl x = { .id = id };
	struct sis_disk_volume *v = __sis_vol_find(c, id);
	int r;

	if (!v)
		return -ENOENT;
	x.max_shared = min_t(u64, le64_to_cpu(v->nr_mapped) + 1,
			     SIS_EXCL_MAX_SHARED);
	x.shared = kvmalloc_array(x.max_shared, sizeof(u64), GFP_KERNEL);
	if (!x.shared)
		return -ENOMEM;
	r = __sis_op_run(c, __excl_run, &x);
	if (!r) {
		*exclusive = x.exclusive;
		r = x.truncated;
	}
	kvfree(x.shared);
	return r;
}
