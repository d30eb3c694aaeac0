// SPDX-License-Identifier: GPL-2.0
/*
 * block-map.c through the API: mappings across leaf and node boundaries,
 * a sparse huge logical space, unmapping large ranges at the cost of what is
 * mapped, depth growth, and lookups of holes.
 */
#include <time.h>
#include "harness.h"

#define PHYS	4096
#define FANOUT	SIS_MAP_FANOUT

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(leaf_and_node_boundaries)
{
	u64 edges[] = { 0, 1, FANOUT - 1, FANOUT, FANOUT + 1,
			(u64)FANOUT * FANOUT - 1, (u64)FANOUT * FANOUT,
			(u64)FANOUT * FANOUT + 1, 3000000 - 1 };
	struct fx f;
	unsigned int i;
	u64 p;

	fx_format_journal(&f, PHYS, 3000000, 256);
	for (i = 0; i < ARRAY_SIZE(edges); i++)
		ASSERT_OK(fx_write(&f, edges[i], i + 1));
	for (i = 0; i < ARRAY_SIZE(edges); i++) {
		fx_expect(&f, edges[i], i + 1);
		if (edges[i] + 2 < 3000000 && edges[i] != FANOUT - 1 &&
		    edges[i] != (u64)FANOUT * FANOUT - 1 && edges[i] != 0 &&
		    edges[i] != FANOUT)
			ASSERT_ERR(sis_core_lookup(f.c, 0, edges[i] + 2, &p), -ENODATA);
	}
	fx_reopen(&f);
	for (i = 0; i < ARRAY_SIZE(edges); i++)
		fx_expect(&f, edges[i], i + 1);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Unmapping a huge, sparsely mapped range costs what it maps. */
TEST(unmap_huge_sparse_range)
{
	const u64 logical = 1ULL << 36;	/* 256 TiB of 4 KiB blocks */
	struct sis_core_stats st;
	struct fx f;
	double t0;
	u64 i, p;

	fx_format_journal(&f, PHYS, logical, 256);
	for (i = 0; i < 100; i++)
		ASSERT_OK(fx_write(&f, i * (logical / 100) + i, i % 10 + 1));
	ASSERT_OK(sis_core_commit(f.c));
	t0 = now();
	ASSERT_OK(sis_core_unmap(f.c, 0, 0, logical));
	ASSERT_LE((long long)((now() - t0) * 1000), 2000);	/* ms */
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_mapped, 0);
	ASSERT_EQ(st.nr_data, 0);
	for (i = 0; i < 100; i++)
		ASSERT_ERR(sis_core_lookup(f.c, 0, i * (logical / 100) + i, &p), -ENODATA);
	ASSERT_OK(sis_core_commit(f.c));
	fx_check_clean(&f);
	fx_reopen(&f);
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_mapped, 0);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(unmap_dense_range_partial_edges)
{
	struct sis_core_stats st;
	struct fx f;
	u64 l;

	fx_format_journal(&f, PHYS, 20000, 256);
	for (l = 0; l < 3000; l++)
		ASSERT_OK(fx_write(&f, l, l % 700 + 1));
	ASSERT_OK(sis_core_unmap(f.c, 0, 100, 2500));	/* crosses leaves */
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_mapped, 500);
	for (l = 0; l < 3000; l++)
		fx_expect(&f, l, l >= 100 && l < 2600 ? 0 : l % 700 + 1);
	fx_check_clean(&f);
	fx_crash(&f, 0, false);
	fx_reopen(&f);		/* nothing was committed: all gone */
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_mapped, 0);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(overwrite_same_mapping_is_noop)
{
	struct sis_core_stats a, b;
	struct fx f;
	u64 p;

	fx_format(&f, PHYS, 1000);
	ASSERT_OK(fx_write(&f, 5, 5));
	ASSERT_OK(sis_core_lookup(f.c, 0, 5, &p));
	sis_core_get_stats(f.c, &a);
	/* map the same block again through a pin */
	ASSERT_OK(fx_write(&f, 5, 5));
	sis_core_get_stats(f.c, &b);
	ASSERT_EQ(b.nr_data, a.nr_data);
	ASSERT_EQ(b.nr_mapped, a.nr_mapped);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(map_pages_counted_as_metadata)
{
	struct sis_core_stats st;
	struct fx f;
	u64 i;

	fx_format_journal(&f, PHYS, 1000000, 256);
	for (i = 0; i < 20; i++)
		ASSERT_OK(fx_write(&f, i * FANOUT * 3, 1));
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_data, 1);
	ASSERT_EQ(st.nr_meta, 22);	/* root, one level-1 node, 20 leaves */
	ASSERT_OK(sis_core_unmap(f.c, 0, 0, 1000000));
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A large unmap commits between entries when the journal is small; every
 * unmapped block must stay unmapped after a crash once the unmap returned
 * and a commit followed.
 */
TEST(large_unmap_small_journal_survives_crash)
{
	struct sis_core_stats st;
	struct fx f;
	u64 l, p;

	fx_format(&f, PHYS, 60000);	/* default (small) journal */
	for (l = 0; l < 1500; l++)
		ASSERT_OK(fx_write(&f, l * 37, l % 300 + 1));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(sis_core_unmap(f.c, 0, 0, 60000));
	ASSERT_OK(sis_core_commit(f.c));
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_mapped, 0);
	fx_crash(&f, 0, false);
	fx_reopen(&f);
	for (l = 0; l < 1500; l++)
		ASSERT_ERR(sis_core_lookup(f.c, 0, l * 37, &p), -ENODATA);
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_mapped, 0);
	fx_check_clean(&f);
	fx_destroy(&f);
}
