// SPDX-License-Identifier: GPL-2.0
/*
 * space-map.c through the API: allocation, pins, freeing only after the
 * commit that freed is durable, ENOSPC and recovery from it, discard
 * passdown of freed blocks, and allocation failure injection.
 */
#include "harness.h"

#define PHYS	2048
#define LOGICAL	8192

TEST(freed_blocks_not_reused_before_commit)
{
	struct sis_core_stats st;
	u64 p_old, p, i, commits;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 0, 1));
	ASSERT_OK(sis_core_lookup(f.c, 0, &p_old));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(fx_write(&f, 0, 2));	/* frees p_old */
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_pending_free, 1);
	commits = st.commits;
	/*
	 * Allocate everything there is: p_old must not come back before a
	 * commit (the core may commit on its own when the transaction grows).
	 */
	for (i = 0; ; i++) {
		int r = sis_core_alloc(f.c, 1000 + i, &p);

		if (r == -ENOSPC)
			break;
		ASSERT_OK(r);
		if (p == p_old) {
			sis_core_get_stats(f.c, &st);
			ASSERT_TRUE(st.commits > commits);
		}
		sis_core_unpin(f.c, p);
		/* unpinned unmapped blocks go back: map a few to use space */
		ASSERT_OK(fx_write(&f, 1 + i, 10 + i));
	}
	/* after the commit, the freed blocks count as free again */
	sis_core_get_stats(f.c, &st);
	i = st.nr_free + st.nr_pending_free;
	ASSERT_OK(sis_core_commit(f.c));
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_pending_free, 0);
	ASSERT_EQ(st.nr_free, i);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(unpin_without_map_returns_the_block)
{
	struct sis_core_stats a, b;
	struct fx f;
	u64 p;

	fx_format(&f, PHYS, LOGICAL);
	sis_core_get_stats(f.c, &a);
	ASSERT_OK(sis_core_alloc(f.c, 77, &p));
	sis_core_get_stats(f.c, &b);
	ASSERT_EQ(b.nr_free, a.nr_free - 1);
	sis_core_unpin(f.c, p);		/* the data write failed */
	sis_core_get_stats(f.c, &b);
	ASSERT_EQ(b.nr_free, a.nr_free);
	ASSERT_ERR(sis_core_find_dup(f.c, 77, &p), -ENOENT);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(enospc_then_discard_then_success)
{
	struct sis_core_stats st;
	struct fx f;
	u64 l, commits;
	int r = 0;

	fx_format(&f, PHYS, LOGICAL);
	for (l = 0; l < LOGICAL; l++) {
		r = fx_write(&f, l, l + 1);
		if (r)
			break;
	}
	ASSERT_ERR(r, -ENOSPC);
	ASSERT_TRUE(l > PHYS / 2);
	ASSERT_OK(sis_core_commit(f.c));
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.mode, SIS_MODE_WRITE);	/* ENOSPC is not an error mode */
	/* duplicates and zeros still work when full */
	ASSERT_OK(fx_write(&f, l + 1, 1));
	ASSERT_OK(fx_write(&f, l + 2, 0));
	/* freeing takes effect at commit (the core may commit on its own) */
	sis_core_get_stats(f.c, &st);
	commits = st.commits;
	ASSERT_OK(sis_core_unmap(f.c, 0, l / 2));
	r = fx_write(&f, l, l + 1);
	sis_core_get_stats(f.c, &st);
	if (st.commits == commits)
		ASSERT_ERR(r, -ENOSPC);
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(fx_write(&f, l, l + 1));
	fx_expect(&f, l, l + 1);
	fx_expect(&f, l / 2, l / 2 + 1);
	fx_expect(&f, 0, 0);
	fx_check_clean(&f);
	fx_reopen(&f);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(discard_passdown_after_commit_only)
{
	u64 p, d0;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 3, 33));
	ASSERT_OK(sis_core_lookup(f.c, 3, &p));
	ASSERT_OK(sis_core_commit(f.c));
	d0 = f.d->discarded_blocks;
	ASSERT_OK(sis_core_unmap(f.c, 3, 1));
	ASSERT_EQ(f.d->discarded_blocks, d0);	/* not before the commit */
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_EQ(f.d->discarded_blocks, d0 + 1);
	/* passdown off: nothing is discarded */
	sis_core_set_discard_passdown(f.c, false);
	ASSERT_OK(fx_write(&f, 4, 44));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(sis_core_unmap(f.c, 4, 1));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_EQ(f.d->discarded_blocks, d0 + 1);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(shared_block_freed_with_last_sharer)
{
	struct sis_core_stats st;
	struct fx f;
	u64 l;

	fx_format(&f, PHYS, LOGICAL);
	for (l = 0; l < 100; l++)
		ASSERT_OK(fx_write(&f, l, 5));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(sis_core_unmap(f.c, 0, 99));
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_data, 1);
	ASSERT_EQ(st.nr_pending_free, 0);
	fx_expect(&f, 99, 5);
	ASSERT_OK(sis_core_unmap(f.c, 99, 1));
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_data, 0);
	ASSERT_EQ(st.nr_pending_free, 1);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(allocation_failures_never_corrupt)
{
	struct sis_core_stats st;
	unsigned long n;
	struct fx f;
	u64 l;

	for (n = 1; n < 40; n += 3) {
		fx_format(&f, PHYS, LOGICAL);
		for (l = 0; l < 50; l++)
			ASSERT_OK(fx_write(&f, l * 163, l % 10 + 1));
		ASSERT_OK(sis_core_commit(f.c));
		sis_core_drop_cache(f.c);
		sis_compat_fail_alloc_every = n;
		sis_backend_mute++;
		for (l = 0; l < 50; l++)
			fx_write(&f, l * 163 + 1, l % 10 + 1);	/* may fail */
		sis_core_commit(f.c);
		sis_backend_mute--;
		sis_compat_fail_alloc_every = 0;
		sis_core_get_stats(f.c, &st);
		if (st.mode == SIS_MODE_WRITE) {
			fx_check_clean(&f);
		}
		fx_crash(&f, 0, false);
		f.cfg.flags = SIS_OPEN_IGNORE_CHECK;
		fx_reopen(&f);
		for (l = 0; l < 50; l++)
			fx_expect(&f, l * 163, l % 10 + 1);
		fx_check_clean(&f);
		fx_destroy(&f);
	}
}

/*
 * sis_core_lookup_range(): unmapped blocks come back as 0, mapped ones with
 * their reference count, pinned: a block freed under the pin is neither
 * reused nor discarded until the pin goes, then it is free as usual.
 */
TEST(lookup_range_pins_against_reuse_and_discard)
{
	struct sis_core_stats st;
	u64 pb[4], p, i, d0;
	u32 refs[4];
	struct fx f;
	int r;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 10, 5));
	ASSERT_OK(fx_write(&f, 11, 6));
	ASSERT_OK(fx_write(&f, 13, 6));		/* shares 11's block */
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(sis_core_lookup_range(f.c, 10, 4, pb, refs));
	ASSERT_TRUE(pb[0] && pb[1] && pb[3]);
	ASSERT_EQ(pb[2], 0);
	ASSERT_EQ(pb[1], pb[3]);
	ASSERT_EQ(refs[0], 1);
	ASSERT_EQ(refs[1], 2);
	ASSERT_EQ(refs[2], 0);
	ASSERT_EQ(sis_core_lookup_range(f.c, LOGICAL - 2, 4, pb + 0, refs),
		  -EINVAL);

	/* free 10's block under the pin, commit: not discarded, not reused */
	d0 = f.d->discarded_blocks;
	ASSERT_OK(sis_core_unmap(f.c, 10, 1));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_EQ(f.d->discarded_blocks, d0);
	for (i = 0; ; i++) {
		r = fx_write(&f, 100 + i, 7000 + i);
		if (r == -ENOSPC)
			break;
		ASSERT_OK(r);
		ASSERT_OK(sis_core_lookup(f.c, 100 + i, &p));
		ASSERT_TRUE(p != pb[0]);
	}
	ASSERT_OK(sis_core_commit(f.c));
	sis_core_get_stats(f.c, &st);
	ASSERT_TRUE(st.nr_free <= 64);		/* only the map-page reserve */
	sis_core_unpin_range(f.c, pb, 4);
	/* unpinned: the freed block can be handed out again */
	ASSERT_OK(sis_core_unmap(f.c, 100, 1));
	ASSERT_OK(sis_core_commit(f.c));
	sis_core_get_stats(f.c, &st);
	ASSERT_TRUE(st.nr_free > 0);
	ASSERT_OK(sis_core_alloc(f.c, 9999, &p));
	sis_core_unpin(f.c, p);
	fx_check_clean(&f);
	fx_destroy(&f);
}
