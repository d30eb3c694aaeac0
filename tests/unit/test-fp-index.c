// SPDX-License-Identifier: GPL-2.0
/*
 * fp-index.c through the API: candidates, fingerprint collisions (the
 * caller compares; different data is never merged), in-flight duplicates,
 * stale entries, and an index far smaller than the data.
 */
#include "harness.h"

#define PHYS	2048
#define LOGICAL	8192
#define FP	0x1234567890abcdefULL

TEST(candidate_found_and_shared)
{
	struct sis_core_stats st;
	u8 data[SIS_BLOCK_SIZE];
	struct fx f;
	u64 p, q;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 1, 42));
	ASSERT_OK(sis_core_lookup(f.c, 1, &p));
	gen_block(42, data);
	ASSERT_OK(sis_core_find_dup(f.c, sis_fingerprint(data), &q));
	ASSERT_EQ(q, p);
	sis_core_unpin(f.c, q);
	ASSERT_ERR(sis_core_find_dup(f.c, sis_fingerprint(data) ^ 1, &q), -ENOENT);
	sis_core_get_stats(f.c, &st);
	ASSERT_TRUE(st.index_hits >= 1 && st.index_lookups >= 2);
	fx_reopen(&f);		/* the index is persistent */
	ASSERT_OK(sis_core_find_dup(f.c, sis_fingerprint(data), &q));
	ASSERT_EQ(q, p);
	sis_core_unpin(f.c, q);
	fx_destroy(&f);
}

/* Different data under one fingerprint: a candidate, never a merge. */
TEST(fingerprint_collision_never_merges)
{
	u8 x[SIS_BLOCK_SIZE], y[SIS_BLOCK_SIZE];
	struct sis_core_stats st;
	struct fx f;
	u64 p, px, py;

	fx_format(&f, PHYS, LOGICAL);
	gen_block(1, x);
	gen_block(2, y);
	ASSERT_OK(fx_write_fp(&f, 0, x, FP));
	ASSERT_OK(sis_core_lookup(f.c, 0, &px));
	/* the contract: find_dup offers px for y's fingerprint */
	ASSERT_OK(sis_core_find_dup(f.c, FP, &p));
	ASSERT_EQ(p, px);
	sis_core_unpin(f.c, p);
	ASSERT_OK(fx_write_fp(&f, 1, y, FP));	/* compares, allocates */
	ASSERT_OK(sis_core_lookup(f.c, 1, &py));
	ASSERT_NE(px, py);
	ASSERT_OK(fx_write_fp(&f, 2, x, FP));
	ASSERT_OK(fx_write_fp(&f, 3, y, FP));
	fx_expect(&f, 0, 1);
	fx_expect(&f, 1, 2);
	fx_expect(&f, 2, 1);
	fx_expect(&f, 3, 2);
	sis_core_get_stats(f.c, &st);
	ASSERT_LE(st.nr_data, 4);
	ASSERT_TRUE(st.nr_data >= 2);
	fx_reopen(&f);
	fx_expect(&f, 0, 1);
	fx_expect(&f, 1, 2);
	fx_expect(&f, 2, 1);
	fx_expect(&f, 3, 2);
	fx_destroy(&f);
}

/* Two writes of the same new data in flight at once share one block. */
TEST(inflight_duplicates_share)
{
	u8 data[SIS_BLOCK_SIZE];
	struct sis_core_stats st;
	struct fx f;
	u64 fp, pa, pb, p;

	fx_format(&f, PHYS, LOGICAL);
	gen_block(9, data);
	fp = sis_fingerprint(data);
	ASSERT_OK(sis_core_alloc(f.c, fp, &pa));	/* writer A */
	ASSERT_OK(sis_core_find_dup(f.c, fp, &pb));	/* writer B */
	ASSERT_EQ(pb, pa);
	ASSERT_OK(memdev_write(f.d, pa, data));		/* A completes */
	ASSERT_OK(sis_core_map(f.c, 10, pa));
	sis_core_unpin(f.c, pa);
	ASSERT_OK(sis_core_map(f.c, 11, pb));		/* B after A */
	sis_core_unpin(f.c, pb);
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_data, 1);
	ASSERT_EQ(st.nr_mapped, 2);
	ASSERT_OK(sis_core_lookup(f.c, 11, &p));
	ASSERT_EQ(p, pa);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* A's write fails: B, holding a pin on A's block, must not be left with it. */
TEST(inflight_abandoned_block)
{
	u8 data[SIS_BLOCK_SIZE];
	struct sis_core_stats a, b;
	struct fx f;
	u64 fp, pa, pb;

	fx_format(&f, PHYS, LOGICAL);
	sis_core_get_stats(f.c, &a);
	gen_block(9, data);
	fp = sis_fingerprint(data);
	ASSERT_OK(sis_core_alloc(f.c, fp, &pa));
	ASSERT_OK(sis_core_find_dup(f.c, fp, &pb));
	ASSERT_EQ(pb, pa);
	sis_core_unpin(f.c, pa);	/* A gives up */
	sis_core_unpin(f.c, pb);	/* B sees A failed, gives up on pb */
	sis_core_get_stats(f.c, &b);
	ASSERT_EQ(b.nr_free, a.nr_free);
	ASSERT_ERR(sis_core_find_dup(f.c, fp, &pb), -ENOENT);
	ASSERT_OK(fx_write(&f, 3, 9));
	fx_expect(&f, 3, 9);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(stale_candidate_dropped)
{
	u8 data[SIS_BLOCK_SIZE];
	struct fx f;
	u64 p;

	fx_format(&f, PHYS, LOGICAL);
	gen_block(5, data);
	ASSERT_OK(fx_write(&f, 0, 5));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(fx_write(&f, 0, 6));	/* 5's block is freed */
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_ERR(sis_core_find_dup(f.c, sis_fingerprint(data), &p), -ENOENT);
	/* the block is reused by other data: still no candidate for 5 */
	ASSERT_OK(fx_write(&f, 1, 7));
	ASSERT_ERR(sis_core_find_dup(f.c, sis_fingerprint(data), &p), -ENOENT);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Far more unique blocks than index buckets hold: dedup is best effort. */
TEST(index_overflow_is_best_effort)
{
	struct sis_core_stats st;
	struct fx f;
	u64 l;

	fx_format(&f, 8192, 65536);
	for (l = 0; l < 7000; l++)
		ASSERT_OK(fx_write(&f, l, l + 1));
	for (l = 0; l < 7000; l += 7)
		ASSERT_OK(fx_write(&f, 7000 + l, l + 1));	/* duplicates */
	sis_core_get_stats(f.c, &st);
	ASSERT_LE(st.nr_data, 8192);
	for (l = 0; l < 7000; l += 7)
		fx_expect(&f, 7000 + l, l + 1);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Every fingerprint lands in one bucket: still correct. */
TEST(one_hot_bucket)
{
	u8 data[SIS_BLOCK_SIZE];
	struct fx f;
	u64 l;

	fx_format(&f, PHYS, LOGICAL);
	for (l = 0; l < 600; l++) {
		gen_block(l + 1, data);
		ASSERT_OK(fx_write_fp(&f, l, data, FP));
	}
	for (l = 0; l < 600; l++) {
		gen_block(l % 13 + 1, data);
		ASSERT_OK(fx_write_fp(&f, 1000 + l, data, FP));
	}
	for (l = 0; l < 600; l++)
		fx_expect(&f, 1000 + l, l % 13 + 1);
	fx_reopen(&f);
	for (l = 0; l < 600; l++)
		fx_expect(&f, l, l + 1);
	fx_destroy(&f);
}
