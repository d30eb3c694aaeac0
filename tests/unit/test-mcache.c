// SPDX-License-Identifier: GPL-2.0
/*
 * mcache.c: block sealing and verification, a tiny cache under load, and
 * every kind of damaged metadata block (map, refcount) found on
 * read: an error, read-only mode and needs_check on disk; never a crash.
 */
#include "harness.h"
#include "../../dm-sis/core/core-internal.h"

#define PHYS	2048
#define LOGICAL	100000
/* larger than the default: see test-journal/small_journal_large_transaction */
#define JOURNAL	512

TEST(seal_and_verify)
{
	u8 blk[SIS_BLOCK_SIZE];
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	gen_block(3, blk);
	sis_block_seal(f.c, blk, SIS_BT_MAP_LEAF, 1234, 7);
	ASSERT_OK(sis_block_verify(f.c, blk, SIS_BT_MAP_LEAF, 1234));
	ASSERT_ERR(sis_block_verify(f.c, blk, SIS_BT_MAP_LEAF, 1235), -EILSEQ);
	ASSERT_ERR(sis_block_verify(f.c, blk, SIS_BT_MAP_NODE, 1234), -EILSEQ);
	blk[4000] ^= 1;
	ASSERT_ERR(sis_block_verify(f.c, blk, SIS_BT_MAP_LEAF, 1234), -EILSEQ);
	blk[4000] ^= 1;
	/* another device's seed does not verify */
	f.c->csum_seed ^= 1;
	ASSERT_ERR(sis_block_verify(f.c, blk, SIS_BT_MAP_LEAF, 1234), -EILSEQ);
	f.c->csum_seed ^= 1;
	fx_destroy(&f);
}

TEST(tiny_cache_under_load)
{
	struct sis_core_stats st;
	struct fx f;
	u64 l;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	sis_core_close(f.c);
	f.cfg.cache_pages = 4;
	f.cfg.flags = 0;
	ASSERT_OK(fx_open(&f));
	for (l = 0; l < 1500; l++)
		ASSERT_OK(fx_write(&f, (l * 7919) % LOGICAL, l % 300 + 1));
	ASSERT_OK(sis_core_commit(f.c));
	sis_core_drop_cache(f.c);
	sis_core_get_stats(f.c, &st);
	/* committed pages wait in RAM for the checkpoint (half the journal) */
	ASSERT_LE(st.cache_pages, 4 + JOURNAL / 2);
	fx_reopen(&f);
	sis_core_drop_cache(f.c);
	sis_core_get_stats(f.c, &st);
	ASSERT_LE(st.cache_pages, 4);
	for (l = 0; l < 1500; l++)
		fx_expect(&f, (l * 7919) % LOGICAL, l % 300 + 1);
	fx_check_clean(&f);
	fx_reopen(&f);
	for (l = 0; l < 1500; l++)
		fx_expect(&f, (l * 7919) % LOGICAL, l % 300 + 1);
	fx_destroy(&f);
}

/*
 * The cache limit bounds clean pages: committed pages waiting for the
 * checkpoint are held in addition and must not push out a hot clean page.
 * (They did: with more pinned pages than the limit, every operation
 * evicted every clean page and read its map and refcount pages again.)
 */
TEST(pinned_pages_do_not_evict_hot_clean_pages)
{
	struct sis_core_stats st;
	struct fx f;
	u64 l, p, reads;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	ASSERT_OK(fx_write(&f, 0, 1));
	sis_core_close(f.c);	/* checkpoint: block 0's pages at home */
	f.cfg.cache_pages = 8;
	f.cfg.flags = 0;
	ASSERT_OK(fx_open(&f));
	ASSERT_OK(sis_core_lookup(f.c, 0, 0, &p));	/* its leaf, cached */
	/* far-apart writes: a map leaf each, committed, not checkpointed */
	for (l = 1; l <= 40; l++)
		ASSERT_OK(fx_write(&f, l * 2000, l + 1));
	ASSERT_OK(sis_core_commit(f.c));
	sis_core_get_stats(f.c, &st);
	ASSERT_LE(8 + 30, st.cache_pages);	/* far more pinned than the limit */
	ASSERT_OK(sis_core_lookup(f.c, 0, 0, &p));
	reads = f.d->reads;
	for (l = 0; l < 10; l++)
		ASSERT_OK(sis_core_lookup(f.c, 0, 0, &p));
	ASSERT_EQ(f.d->reads, reads);		/* the hot leaf stayed */
	fx_expect(&f, 0, 1);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A look-up that does not ask for sharing reads the map pages of its path
 * and nothing else: not the refcounts of those pages, which only a
 * reader's clone-sharing flag needs.  (It read them once a look-up kept
 * its leaf for the next block: 2.17 metadata reads per random look-up at
 * 100M blocks against 1.00, twice the time; here 37 reads for 34 leaves.)
 */
TEST(lookup_reads_only_its_path)
{
	u64 l, p, reads, leaf, last = ~0ULL, leaves = 0, depth = 1;
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	for (l = 0; l < 300; l++)
		ASSERT_OK(fx_write(&f, l * 61, l + 1));
	sis_core_close(f.c);	/* checkpoint: every page at home */
	f.cfg.cache_pages = 8;
	f.cfg.flags = 0;
	ASSERT_OK(fx_open(&f));
	while (sis_map_capacity(depth) < LOGICAL)
		depth++;
	reads = f.d->reads;
	for (l = 0; l < 300; l += 9) {	/* leaf after leaf, cold */
		ASSERT_OK(sis_core_lookup(f.c, 0, l * 61, &p));
		leaf = l * 61 / SIS_MAP_FANOUT;
		leaves += leaf != last;
		last = leaf;
	}
	/* each leaf once, and the nodes above them */
	ASSERT_LE(f.d->reads - reads, leaves + depth - 1);
	fx_expect(&f, 0, 1);
	fx_destroy(&f);
}

/* Populate, close cleanly (everything at home), damage block @b. */
static void populate_and_damage(struct fx *f, u64 (*pick)(struct fx *f))
{
	u8 blk[SIS_BLOCK_SIZE];
	u64 l, b;

	fx_format_journal(f, PHYS, LOGICAL, JOURNAL);
	for (l = 0; l < 300; l++)
		ASSERT_OK(fx_write(f, l * 300, l % 50 + 1));
	sis_core_close(f->c);	/* checkpoint: every page at home */
	f->cfg.flags = SIS_OPEN_READ_ONLY;
	ASSERT_OK(fx_open(f));
	b = pick(f);
	sis_core_close(f->c);
	f->c = NULL;
	memdev_read_durable(f->d, b, blk);
	blk[64] ^= 0x5a;
	memdev_poke(f->d, b, blk);
	f->cfg.flags = 0;
}

static u64 pick_leaf(struct fx *f)
{
	u64 root = le64_to_cpu(f->c->root.vol[0].map_root);
	struct sis_disk_map_page mp;

	ASSERT_TRUE(root != 0);
	ASSERT_TRUE(le32_to_cpu(f->c->root.vol[0].map_depth) >= 2);
	memdev_read(f->d, root, &mp);
	ASSERT_TRUE(mp.e[0] != 0);
	return le64_to_cpu(mp.e[0]);	/* the leaf holding lblock 0 */
}

static u64 pick_root(struct fx *f)
{
	return le64_to_cpu(f->c->root.vol[0].map_root);
}

static u64 pick_rc(struct fx *f)
{
	return f->c->data_start;	/* refcount page of group 0 */
}

static void expect_metadata_error(struct fx *f, int r)
{
	struct sis_core_stats st;

	sis_core_get_stats(f->c, &st);
	if (getenv("SIS_VERBOSE"))
		fprintf(stderr, "  r=%d mode=%d needs_check=%d reads=%llu\n", r, st.mode,
			st.needs_check, f->d->reads);
	ASSERT_TRUE(r == -EILSEQ || r == -EIO || r == -EROFS);
	ASSERT_TRUE(st.mode != SIS_MODE_WRITE);
	ASSERT_TRUE(st.needs_check);
	/* the flag is on disk: a new open comes up read-only */
	sis_core_close(f->c);
	ASSERT_OK(fx_open(f));
	sis_core_get_stats(f->c, &st);
	ASSERT_TRUE(st.needs_check);
	ASSERT_EQ(st.mode, SIS_MODE_READ_ONLY);
}

TEST(damaged_map_leaf)
{
	struct fx f;
	u64 p;

	populate_and_damage(&f, pick_leaf);
	sis_backend_mute++;
	ASSERT_OK(fx_open(&f));
	expect_metadata_error(&f, sis_core_lookup(f.c, 0, 0, &p));
	sis_backend_mute--;
	/* mappings in other leaves still read */
	fx_expect(&f, 299 * 300, 299 % 50 + 1);
	fx_destroy(&f);
}

TEST(damaged_map_root)
{
	struct fx f;
	u64 p;
	int r;

	populate_and_damage(&f, pick_root);
	sis_backend_mute++;
	r = fx_open(&f);
	if (r == 0) {
		expect_metadata_error(&f, sis_core_lookup(f.c, 0, 0, &p));
	} else {
		ASSERT_TRUE(r == -EILSEQ);
		ASSERT_TRUE(f.errmsg != NULL);
	}
	sis_backend_mute--;
	fx_destroy(&f);
}

TEST(damaged_refcount_page)
{
	struct fx f;
	int r;

	populate_and_damage(&f, pick_rc);
	sis_backend_mute++;
	r = fx_open(&f);
	if (r == 0) {
		/* overwriting lblock 0 drops a count in group 0 */
		r = fx_write(&f, 0, 4000);
		if (!r)
			r = sis_core_commit(f.c);
		expect_metadata_error(&f, r);
	} else {
		ASSERT_TRUE(r == -EILSEQ);
	}
	sis_backend_mute--;
	fx_destroy(&f);
}
