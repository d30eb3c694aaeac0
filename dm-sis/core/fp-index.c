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
 * All functions are called with c->lock held.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include "core-internal.h"

static int __bucket(struct sis_core *c, u64 fp, struct sis_page **pg)
{
	u64 rem;

	div64_u64_rem(fp, c->index_blocks, &rem);
	return __sis_mc_get(c, c->index_start + rem, SIS_BT_INDEX, pg);
}

static int bucket_find(struct sis_disk_index_page *b, u64 fp)
{
	u32 i, nr = le32_to_cpu(b->nr);

	for (i = 0; i < nr && i < SIS_INDEX_PER_PAGE; i++)
		if (le64_to_cpu(b->e[i].fp) == fp)
			return i;
	return -1;
}

static int __bucket_delete(struct sis_core *c, struct sis_page *pg, int i)
{
	struct sis_disk_index_page *b = pg->data;
	u32 nr = le32_to_cpu(b->nr);
	int r = __sis_mc_dirty(c, pg);

	if (r)
		return r;
	b->e[i] = b->e[nr - 1];
	memset(&b->e[nr - 1], 0, sizeof(b->e[0]));
	b->nr = cpu_to_le32(nr - 1);
	return 0;
}

/**
 * __sis_index_find() - the block the index names for @fp, if any
 *
 * Return: 0 with *@pblock, -ENOENT, or a metadata error.
 */
int __sis_index_find(struct sis_core *c, u64 fp, u64 *pblock)
{
	struct sis_disk_index_page *b;
	struct sis_page *pg;
	int i, r;

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

/**
 * __sis_index_insert() - remember that @pblock holds data with @fp
 */
int __sis_index_insert(struct sis_core *c, u64 fp, u64 pblock)
{
	struct sis_disk_index_page *b;
	struct sis_page *pg;
	u32 nr;
	int i, r;

	r = __bucket(c, fp, &pg);
	if (r)
		return r;
	r = __sis_mc_dirty(c, pg);
	if (r)
		return r;
	b = pg->data;
	nr = le32_to_cpu(b->nr);
	if (nr > SIS_INDEX_PER_PAGE)
		return __sis_metadata_error(c, -EILSEQ, "index bucket");
	i = bucket_find(b, fp);
	if (i < 0 && nr < SIS_INDEX_PER_PAGE) {
		i = nr;
		b->nr = cpu_to_le32(nr + 1);
	} else if (i < 0) {
		u64 slot;

		div64_u64_rem(fp >> 16, SIS_INDEX_PER_PAGE, &slot);
		i = slot;
	}
	b->e[i].fp = cpu_to_le64(fp);
	b->e[i].pblock = cpu_to_le64(pblock);
	return 0;
}

/**
 * __sis_index_remove() - forget @fp -> @pblock (nothing if it is not there)
 */
int __sis_index_remove(struct sis_core *c, u64 fp, u64 pblock)
{
	struct sis_disk_index_page *b;
	struct sis_page *pg;
	int i, r;

	r = __bucket(c, fp, &pg);
	if (r)
		return r;
	b = pg->data;
	if (le32_to_cpu(b->nr) > SIS_INDEX_PER_PAGE)
		return __sis_metadata_error(c, -EILSEQ, "index bucket");
	i = bucket_find(b, fp);
	if (i < 0 || le64_to_cpu(b->e[i].pblock) != pblock)
		return 0;
	return __bucket_delete(c, pg, i);
}
