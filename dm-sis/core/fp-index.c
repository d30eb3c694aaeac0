// SPDX-License-Identifier: GPL-2.0
/*
 * fp-index.c - the fingerprint index: fingerprint -> candidate block.
 *
 * A hash table on disk: index_blocks buckets of SIS_INDEX_PER_PAGE entries,
 * the bucket chosen by the fingerprint.  Buckets are ordinary metadata pages
 * (cached, journaled, checksummed).  The index is advice only:
 *
 *  - a hit is a candidate that the caller compares byte for byte before
 *    sharing it, so a fingerprint collision never merges different data;
 *  - an entry is valid only while the block's refcount entry still carries
 *    the same fingerprint and the block is in use or reserved; invalid
 *    entries found on lookup are dropped (index_stale);
 *  - a full bucket evicts an entry chosen by the fingerprint: dedup becomes
 *    best effort when the index is over-full, never wrong.
 *
 * Entries of blocks freed by the open transaction are removed with it; an
 * entry committed for a block whose mapping never committed (a crash between
 * the two) is the one kind of stale entry that survives recovery, and it is
 * dropped on first lookup.  One entry per fingerprint: a newer block with the
 * same fingerprint (different data, or a saturated block) replaces it.
 *
 * Changes go first to a bounded in-RAM delta (one entry per fingerprint:
 * the newest insert, or a tombstone masking an on-disk entry), which
 * lookups consult before the bucket.  When it holds SIS_IDX_DELTA_MAX
 * entries (checked at operation boundaries), at clean shutdown and before a
 * repair commits, the delta is sorted by bucket and applied, each bucket
 * page dirtied once per batch.  Unique data with random fingerprints would
 * otherwise dirty one bucket per write and journal it at every commit.  A
 * crash loses the delta: recent entries are missing (less dedup for those
 * blocks, never wrong) and lost tombstones leave stale entries, which lookup
 * validation drops.
 *
 * All functions are called with c->lock held.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/hash.h>
#include <linux/sort.h>
#include "core-internal.h"

/**
 * struct sis_idx_delta - a pending index change
 * @node:    in c->idx_hash
 * @fp:      the fingerprint
 * @pblock:  its block (insert), or the block whose entry to drop (tombstone)
 * @bucket:  computed when the delta is applied
 * @removed: a tombstone
 */
struct sis_idx_delta {
	struct hlist_node node;
	u64 fp;
	u64 pblock;
	u64 bucket;
	bool removed;
};

static u64 bucket_of(struct sis_core *c, u64 fp)
{
	u64 rem;

	div64_u64_rem(fp, c->index_blocks, &rem);
	return rem;
}

static struct hlist_head *delta_head(struct sis_core *c, u64 fp)
{
	return &c->idx_hash[hash_64(fp, SIS_IDX_HASH_BITS)];
}

static struct sis_idx_delta *delta_find(struct sis_core *c, u64 fp)
{
	struct sis_idx_delta *d;

	hlist_for_each_entry(d, delta_head(c, fp), node)
		if (d->fp == fp)
			return d;
	return NULL;
}

static int delta_set(struct sis_core *c, u64 fp, u64 pblock, bool removed)
{
	struct sis_idx_delta *d = delta_find(c, fp);

	if (!d) {
		d = kmalloc(sizeof(*d), GFP_NOIO);
		if (!d)
			return -ENOMEM;
		d->fp = fp;
		hlist_add_head(&d->node, delta_head(c, fp));
		c->idx_delta_nr++;
	}
	d->pblock = pblock;
	d->removed = removed;
	return 0;
}

/**
 * __sis_index_delta_free() - forget every pending change (abort, close)
 */
void __sis_index_delta_free(struct sis_core *c)
{
	struct sis_idx_delta *d;
	struct hlist_node *tmp;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c->idx_hash); i++)
		hlist_for_each_entry_safe(d, tmp, &c->idx_hash[i], node) {
			hlist_del(&d->node);
			kfree(d);
		}
	c->idx_delta_nr = 0;
}

static int __bucket(struct sis_core *c, u64 fp, struct sis_page **pg)
{
	return __sis_mc_get(c, c->index_start + bucket_of(c, fp), SIS_BT_INDEX, pg);
}

static int bucket_find(struct sis_disk_index_page *b, u64 fp)
{
	u32 i, nr = le32_to_cpu(b->nr);

	for (i = 0; i < nr && i < SIS_INDEX_PER_PAGE; i++)
		if (le64_to_cpu(b->e[i].fp) == fp)
			return i;
	return -1;
}

/**
 * __sis_index_find() - the block the index names for @fp, if any
 *
 * Return: 0 with *@pblock, -ENOENT, or a metadata error.
 */
int __sis_index_find(struct sis_core *c, u64 fp, u64 *pblock)
{
	struct sis_idx_delta *d = delta_find(c, fp);
	struct sis_disk_index_page *b;
	struct sis_page *pg;
	int i, r;

	if (d) {
		*pblock = d->pblock;
		return d->removed ? -ENOENT : 0;
	}
	r = __bucket(c, fp, &pg);
	if (r)
		return r;
	b = pg->data;
	if (le32_to_cpu(b->nr) > SIS_INDEX_PER_PAGE)
		return __sis_metadata_error(c, -EILSEQ, "index bucket");
	i = bucket_find(b, fp);
	if (i < 0)
		return -ENOENT;
	*pblock = le64_to_cpu(b->e[i].pblock);
	return 0;
}

/* Apply one change to its (dirty) bucket page. */
static int __bucket_apply(struct sis_core *c, struct sis_page *pg, u64 fp,
			  u64 pblock, bool removed)
{
	struct sis_disk_index_page *b = pg->data;
	u32 nr = le32_to_cpu(b->nr);
	int i;

	if (nr > SIS_INDEX_PER_PAGE)
		return __sis_metadata_error(c, -EILSEQ, "index bucket");
	i = bucket_find(b, fp);
	if (removed) {
		if (i < 0 || le64_to_cpu(b->e[i].pblock) != pblock)
			return 0;
		b->e[i] = b->e[nr - 1];
		memset(&b->e[nr - 1], 0, sizeof(b->e[0]));
		b->nr = cpu_to_le32(nr - 1);
		return 0;
	}
	if (i < 0 && nr < SIS_INDEX_PER_PAGE) {
		i = nr;
		b->nr = cpu_to_le32(nr + 1);
	} else if (i < 0) {
		u64 slot;	/* full: evict an entry chosen by the fingerprint */

		div64_u64_rem(fp >> 16, SIS_INDEX_PER_PAGE, &slot);
		i = slot;
	}
	b->e[i].fp = cpu_to_le64(fp);
	b->e[i].pblock = cpu_to_le64(pblock);
	return 0;
}

/**
 * __sis_index_insert() - remember that @pblock holds data with @fp
 *
 * Return: 0 or -ENOMEM.
 */
int __sis_index_insert(struct sis_core *c, u64 fp, u64 pblock)
{
	return delta_set(c, fp, pblock, false);
}

/**
 * __sis_index_remove() - forget @fp -> @pblock (nothing if @fp now names
 * another block)
 */
int __sis_index_remove(struct sis_core *c, u64 fp, u64 pblock)
{
	struct sis_idx_delta *d = delta_find(c, fp);

	if (d) {
		if (d->pblock == pblock)
			d->removed = true;
		return 0;
	}
	return delta_set(c, fp, pblock, true);
}

static int delta_cmp(const void *a, const void *b)
{
	const struct sis_idx_delta *x = *(const struct sis_idx_delta * const *)a;
	const struct sis_idx_delta *y = *(const struct sis_idx_delta * const *)b;

	return x->bucket < y->bucket ? -1 : x->bucket > y->bucket;
}

/**
 * __sis_index_flush() - apply the delta to the bucket pages
 *
 * Called at an operation boundary: the delta is taken out of the hash
 * first, because a commit between buckets may drop c->lock (see
 * __sis_commit_if_full()); changes made meanwhile start a new delta, and
 * lookups meanwhile miss the changes being applied (the index is advice).
 * On error the remaining changes are dropped.
 */
int __sis_index_flush(struct sis_core *c)
{
	struct sis_idx_delta **v, *d;
	struct hlist_node *tmp;
	struct sis_page *pg;
	u64 n = 0, i, j;
	unsigned int h;
	int r = 0;

	if (!c->idx_delta_nr)
		return 0;
	v = kvmalloc_array(c->idx_delta_nr, sizeof(*v), GFP_NOIO);
	if (!v)
		return -ENOMEM;
	for (h = 0; h < ARRAY_SIZE(c->idx_hash); h++)
		hlist_for_each_entry_safe(d, tmp, &c->idx_hash[h], node) {
			hlist_del(&d->node);
			d->bucket = bucket_of(c, d->fp);
			v[n++] = d;
		}
	c->idx_delta_nr = 0;
	sort(v, n, sizeof(*v), delta_cmp, NULL);

	for (i = 0; i < n && !r; i = j) {
		__sis_mc_shrink(c);
		r = __sis_commit_if_full(c);
		if (!r)
			r = __sis_mc_get(c, c->index_start + v[i]->bucket,
					 SIS_BT_INDEX, &pg);
		if (!r)
			r = __sis_mc_dirty(c, pg);
		for (j = i; j < n && v[j]->bucket == v[i]->bucket; j++)
			if (!r)
				r = __bucket_apply(c, pg, v[j]->fp, v[j]->pblock,
						   v[j]->removed);
	}
	for (i = 0; i < n; i++)
		kfree(v[i]);
	kvfree(v);
	return r;
}
