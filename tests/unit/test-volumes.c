// SPDX-License-Identifier: GPL-2.0
/*
 * Pools of volumes (format version 3): create, clone, delete, resize,
 * copy-on-write of shared map pages, dedup across volumes, exclusive
 * counts, the shared-path report to readers, check across volumes, and a
 * delete a crash interrupted being finished at the next open.
 */
#include <string.h>
#include "harness.h"
#include "memdev.h"
#include "core-internal.h"

#define PHYS	40000
#define LOGICAL	20000
#define JOURNAL	2048	/* room to copy a shared map page */

static void stats(struct fx *f, struct sis_core_stats *st)
{
	sis_core_get_stats(f->c, st);
}

static void write_range(struct fx *f, u32 vol, u64 from, u64 n, u32 seed)
{
	u64 i;

	f->vol = vol;
	for (i = 0; i < n; i++)
		ASSERT_OK(fx_write(f, from + i, seed + i));
}

static void expect_range(struct fx *f, u32 vol, u64 from, u64 n, u32 seed)
{
	u64 i;

	f->vol = vol;
	for (i = 0; i < n; i++)
		fx_expect(f, from + i, seed + i);
}

static u64 exclusive(struct fx *f, u32 vol)
{
	u64 x = ~0ULL;

	ASSERT_OK(sis_core_count_exclusive(f->c, vol, &x));
	return x;
}

/* A clone shares everything; a write to it breaks sharing of one block. */
TEST(clone_shares_then_copies_on_write)
{
	struct sis_core_stats before, st;
	struct sis_volume_info vi;
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	write_range(&f, 0, 0, 1000, 1);
	ASSERT_OK(sis_core_commit(f.c));
	stats(&f, &before);
	ASSERT_EQ(before.nr_data, 1000);

	ASSERT_OK(sis_core_volume_clone(f.c, 1, 0, "clone-1"));
	stats(&f, &st);
	ASSERT_EQ(st.nr_volumes, 2);
	ASSERT_EQ(st.nr_data, before.nr_data);	/* instant: no block taken */
	ASSERT_EQ(st.nr_meta, before.nr_meta);
	ASSERT_EQ(st.nr_mapped, 2000);
	ASSERT_OK(sis_core_volume_info(f.c, 1, &vi));
	ASSERT_EQ(vi.nr_mapped, 1000);
	ASSERT_EQ(vi.origin, 0);
	ASSERT_TRUE(!strcmp(vi.name, "clone-1"));
	expect_range(&f, 1, 0, 1000, 1);

	/* nothing of either is exclusive yet */
	ASSERT_EQ(exclusive(&f, 0), 0);
	ASSERT_EQ(exclusive(&f, 1), 0);

	write_range(&f, 1, 5, 1, 5000);
	expect_range(&f, 1, 5, 1, 5000);
	expect_range(&f, 0, 5, 1, 6);		/* the origin is untouched */
	expect_range(&f, 0, 0, 1000, 1);
	stats(&f, &st);
	ASSERT_EQ(st.nr_data, 1001);
	ASSERT_TRUE(st.map_copies >= 2);	/* root and one leaf */
	ASSERT_EQ(exclusive(&f, 0), 1);		/* old block 5 */
	ASSERT_EQ(exclusive(&f, 1), 1);		/* new block 5 */
	fx_check_clean(&f);

	fx_reopen(&f);
	expect_range(&f, 1, 5, 1, 5000);
	expect_range(&f, 0, 0, 1000, 1);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Deleting frees only what no other volume references. */
TEST(delete_frees_only_exclusive_blocks)
{
	struct sis_core_stats st, base;
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	write_range(&f, 0, 0, 3000, 1);
	stats(&f, &base);
	ASSERT_OK(sis_core_volume_clone(f.c, 1, 0, NULL));
	ASSERT_OK(sis_core_volume_clone(f.c, 2, 1, NULL));
	write_range(&f, 2, 100, 10, 90000);	/* 10 new blocks in clone 2 */

	/* a fresh clone's delete frees nothing and keeps the others whole */
	ASSERT_OK(sis_core_volume_delete(f.c, 1));
	stats(&f, &st);
	ASSERT_EQ(st.nr_volumes, 2);
	ASSERT_EQ(st.nr_data, base.nr_data + 10);
	ASSERT_ERR(sis_core_lookup(f.c, 1, 0, &(u64){0}), -ENOENT);
	expect_range(&f, 0, 0, 3000, 1);
	expect_range(&f, 2, 100, 10, 90000);
	expect_range(&f, 2, 0, 100, 1);
	fx_check_clean(&f);

	/* the origin goes: clone 2 keeps its blocks */
	ASSERT_OK(sis_core_volume_delete(f.c, 0));
	stats(&f, &st);
	ASSERT_EQ(st.nr_data, 3000);		/* 2990 shared + 10 new */
	expect_range(&f, 2, 0, 100, 1);
	expect_range(&f, 2, 110, 2890, 111);
	ASSERT_EQ(exclusive(&f, 2), 3000);
	fx_check_clean(&f);

	/* the last one frees everything, map pages too */
	ASSERT_OK(sis_core_volume_delete(f.c, 2));
	stats(&f, &st);
	ASSERT_EQ(st.nr_volumes, 0);
	ASSERT_EQ(st.nr_data, 0);
	ASSERT_EQ(st.nr_meta, 0);
	fx_check_clean(&f);
	fx_reopen(&f);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Identical data written through different volumes is stored once. */
TEST(dedup_across_volumes)
{
	struct sis_core_stats st;
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	ASSERT_OK(sis_core_volume_create(f.c, 7, 5000, "seven"));
	write_range(&f, 0, 0, 500, 1);
	write_range(&f, 7, 2000, 500, 1);
	stats(&f, &st);
	ASSERT_EQ(st.nr_data, 500);
	ASSERT_EQ(st.nr_mapped, 1000);
	expect_range(&f, 7, 2000, 500, 1);
	/* all of vol 7's blocks are also vol 0's */
	ASSERT_EQ(exclusive(&f, 7), 0);
	ASSERT_OK(sis_core_volume_delete(f.c, 0));
	ASSERT_EQ(exclusive(&f, 7), 500);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Readers are told a block under a shared map page is shared. */
TEST(reads_see_shared_paths)
{
	u64 pb[4], pb1[4];
	u32 refs[4];
	unsigned int t;
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	write_range(&f, 0, 0, 4, 1);
	ASSERT_OK(sis_core_read_begin(f.c, 0, 0, 4, pb, refs, false, &t));
	sis_core_read_end(f.c, t);
	ASSERT_EQ(refs[0], 1);
	ASSERT_OK(sis_core_volume_clone(f.c, 1, 0, NULL));
	ASSERT_OK(sis_core_read_begin(f.c, 1, 0, 4, pb1, refs, false, &t));
	sis_core_read_end(f.c, t);
	ASSERT_EQ(refs[0], 2);
	ASSERT_EQ(pb1[3], pb[3]);		/* one physical copy */
	ASSERT_OK(sis_core_read_begin(f.c, 0, 0, 4, pb, refs, false, &t));
	sis_core_read_end(f.c, t);
	ASSERT_EQ(refs[2], 2);
	/* the origin goes: the clone's blocks are its own again */
	ASSERT_OK(sis_core_volume_delete(f.c, 0));
	ASSERT_OK(sis_core_read_begin(f.c, 1, 0, 4, pb1, refs, false, &t));
	sis_core_read_end(f.c, t);
	ASSERT_EQ(refs[1], 1);
	fx_destroy(&f);
}

/*
 * One look-up of a run that crosses leaves (one walk per leaf, the leaf and
 * its path's sharing kept for the next block under it) answers as a
 * look-up of each block alone: a leaf the clone copied is its own, the
 * leaves around it are still shared.
 */
TEST(read_run_across_leaves_sees_each_leaf)
{
	const u64 first = SIS_MAP_FANOUT - 16, nr = 32;
	u64 pb[32], one;
	u32 refs[32], ref1;
	unsigned int t, i;
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	write_range(&f, 0, 0, 2 * SIS_MAP_FANOUT, 1);
	ASSERT_OK(sis_core_volume_clone(f.c, 1, 0, NULL));
	write_range(&f, 1, SIS_MAP_FANOUT + 3, 1, 777777);	/* copies leaf 1 */
	ASSERT_OK(sis_core_read_begin(f.c, 1, first, nr, pb, refs, false, &t));
	sis_core_read_end(f.c, t);
	for (i = 0; i < nr; i++) {
		ASSERT_OK(sis_core_read_begin(f.c, 1, first + i, 1, &one, &ref1,
					      false, &t));
		sis_core_read_end(f.c, t);
		ASSERT_EQ(pb[i], one);
		ASSERT_EQ(refs[i], ref1);
		ASSERT_EQ(refs[i], first + i == SIS_MAP_FANOUT + 3 ? 1 : 2);
	}
	fx_destroy(&f);
}

/* Discard on a clone unmaps only there; growing a clone keeps its data. */
TEST(clone_discard_and_grow)
{
	struct sis_core_stats st;
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	write_range(&f, 0, 0, 2000, 1);
	ASSERT_OK(sis_core_volume_clone(f.c, 1, 0, NULL));
	ASSERT_OK(sis_core_unmap(f.c, 1, 100, 1500));
	stats(&f, &st);
	ASSERT_EQ(st.nr_data, 2000);
	expect_range(&f, 0, 0, 2000, 1);
	expect_range(&f, 1, 0, 100, 1);
	expect_range(&f, 1, 1600, 400, 1601);
	f.vol = 1;
	fx_expect(&f, 700, 0);			/* zeros */
	ASSERT_OK(sis_core_volume_resize(f.c, 1, 600 * 508));	/* depth 2 -> 3 */
	expect_range(&f, 1, 1600, 400, 1601);
	write_range(&f, 1, 300000, 3, 7000);
	expect_range(&f, 0, 0, 2000, 1);
	fx_check_clean(&f);
	fx_reopen(&f);
	expect_range(&f, 1, 300000, 3, 7000);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Bad requests are refused and change nothing. */
TEST(volume_requests_refused)
{
	char longname[SIS_VOL_NAME_LEN + 1];
	struct sis_core_stats st;
	u64 pb;
	u32 id;
	struct fx f;

	memset(longname, 'x', SIS_VOL_NAME_LEN);
	longname[SIS_VOL_NAME_LEN] = 0;
	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	ASSERT_ERR(sis_core_volume_create(f.c, 0, 10, NULL), -EEXIST);
	ASSERT_ERR(sis_core_volume_create(f.c, SIS_VOL_ID_MAX + 1, 10, NULL), -EINVAL);
	ASSERT_ERR(sis_core_volume_create(f.c, 3, 0, NULL), -EINVAL);
	ASSERT_ERR(sis_core_volume_create(f.c, 3, 10, longname), -ENAMETOOLONG);
	ASSERT_ERR(sis_core_volume_clone(f.c, 3, 9, NULL), -ENOENT);
	ASSERT_ERR(sis_core_volume_clone(f.c, 0, 0, NULL), -EEXIST);
	ASSERT_ERR(sis_core_volume_delete(f.c, 9), -ENOENT);
	ASSERT_ERR(sis_core_volume_resize(f.c, 0, 10), -EINVAL);
	ASSERT_OK(sis_core_alloc(f.c, 1234, &pb));
	ASSERT_ERR(sis_core_map(f.c, 9, 0, pb), -ENOENT);
	sis_core_unpin(f.c, pb);
	ASSERT_ERR(sis_core_unmap(f.c, 9, 0, 1), -ENOENT);
	ASSERT_ERR(sis_core_lookup(f.c, 9, 0, &(u64){0}), -ENOENT);
	for (id = 1; id < SIS_MAX_VOLUMES; id++)
		ASSERT_OK(sis_core_volume_create(f.c, id * 10, 100, NULL));
	ASSERT_ERR(sis_core_volume_create(f.c, 5, 100, NULL), -ENOSPC);
	stats(&f, &st);
	ASSERT_EQ(st.nr_volumes, SIS_MAX_VOLUMES);
	ASSERT_OK(sis_core_volume_find(f.c, "", &id) ? 0 : -1);
	id = U32_MAX;
	ASSERT_OK(sis_core_volume_next(f.c, &id));
	ASSERT_EQ(id, 0);
	ASSERT_OK(sis_core_volume_next(f.c, &id));
	ASSERT_EQ(id, 10);
	fx_check_clean(&f);
	fx_destroy(&f);

	/* a journal too small to copy a shared map page: no clones */
	fx_format_journal(&f, PHYS, LOGICAL, 256);
	ASSERT_ERR(sis_core_volume_clone(f.c, 1, 0, NULL), -EOPNOTSUPP);
	fx_destroy(&f);
}

/*
 * A delete interrupted by a crash (the volume marked deleting, its map
 * partly freed) is finished at the next open.
 */
TEST(interrupted_delete_finished_at_open)
{
	struct sis_disk_volume *v;
	struct sis_core_stats st;
	struct fx f;
	int r;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	write_range(&f, 0, 0, 1500, 1);
	ASSERT_OK(sis_core_volume_clone(f.c, 1, 0, NULL));
	write_range(&f, 1, 0, 1500, 20000);	/* all of clone 1 its own */
	ASSERT_OK(sis_core_commit(f.c));

	/* mark it and take two steps, as sis_core_volume_delete() does */
	mutex_lock(&f.c->lock);
	v = __sis_vol_find(f.c, 1);
	ASSERT_TRUE(v);
	v->flags = cpu_to_le32(SIS_VOL_USED | SIS_VOL_DELETING);
	f.c->root_dirty = true;
	r = __sis_map_free_step(f.c, v);
	ASSERT_EQ(r, 1);
	r = __sis_map_free_step(f.c, v);
	ASSERT_EQ(r, 1);
	mutex_unlock(&f.c->lock);
	ASSERT_OK(sis_core_commit(f.c));
	fx_crash(&f, 100, false);

	ASSERT_OK(fx_open(&f));
	stats(&f, &st);
	ASSERT_EQ(st.nr_volumes, 1);
	ASSERT_EQ(st.nr_data, 1500);
	expect_range(&f, 0, 0, 1500, 1);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Check finds a wrong map-page refcount in a shared map. */
TEST(check_counts_shared_pages)
{
	struct sis_check_result res;
	struct sis_disk_rc *rc;
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	write_range(&f, 0, 0, 600, 1);
	ASSERT_OK(sis_core_volume_clone(f.c, 1, 0, NULL));
	ASSERT_OK(sis_core_volume_clone(f.c, 2, 0, NULL));
	fx_check_clean(&f);

	mutex_lock(&f.c->lock);
	ASSERT_OK(__sis_node_rc(f.c, le64_to_cpu(__sis_vol_find(f.c, 0)->map_root),
				true, &rc));
	ASSERT_EQ(le32_to_cpu(rc->refcount), 3);
	rc->refcount = cpu_to_le32(2);
	f.c->root_dirty = true;
	mutex_unlock(&f.c->lock);
	fx_reopen(&f);			/* the damage reaches the disk */
	fx_check(&f, &res, false);
	ASSERT_TRUE(res.errors >= 1);
	ASSERT_OK(sis_core_repair(f.c, NULL, &res));
	fx_check_clean(&f);
	expect_range(&f, 2, 0, 600, 1);
	fx_destroy(&f);
}

/*
 * A deleted volume's map pages are not reused before a checkpoint: the
 * journal still holds their images, and a replay after a power cut would
 * write them home over data stored there meanwhile.  (Found by sis-stress
 * seed 3: a map page freed by a delete, reused for data, overwritten by
 * the checkpoint of its old image.)
 */
TEST(freed_map_pages_wait_for_checkpoint)
{
	struct sis_core_stats st;
	u64 l, n = 0;
	struct fx f;
	int r;

	fx_format_journal(&f, 6000, 6000, 2048);
	ASSERT_OK(sis_core_volume_create(f.c, 1, 5000, NULL));
	/*
	 * 500 blocks, a map page every 51 of them: most map pages are not
	 * among the last free blocks the allocator reaches (the META reserve)
	 */
	f.vol = 1;
	for (l = 0; l < 5000; l += 10)
		ASSERT_OK(fx_write(&f, l, 100 + l));
	ASSERT_OK(sis_core_volume_delete(f.c, 1));
	/* fill the device through volume 0: every free block gets data */
	f.vol = 0;
	for (l = 0; l < 6000; l++, n++) {
		r = fx_write(&f, l, 20000 + l);
		if (r == -ENOSPC)
			break;
		ASSERT_OK(r);
	}
	ASSERT_OK(sis_core_commit(f.c));
	stats(&f, &st);
	fx_crash(&f, 0, false);		/* only what was flushed survives */
	ASSERT_OK(fx_open(&f));
	expect_range(&f, 0, 0, n, 20000);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* A delete that fails for memory is finished by calling it again. */
TEST(failed_delete_resumed)
{
	struct sis_core_stats st;
	struct fx f;
	int r;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	ASSERT_OK(sis_core_volume_create(f.c, 1, 5000, "one"));
	write_range(&f, 1, 0, 3000, 1);
	f.cfg.cache_pages = 8;		/* the walk must read pages again */
	fx_reopen(&f);
	sis_compat_fail_alloc_in = 3;	/* after the first steps */
	sis_backend_mute++;
	r = sis_core_volume_delete(f.c, 1);
	sis_backend_mute--;
	sis_compat_fail_alloc_in = 0;
	ASSERT_ERR(r, -ENOMEM);
	stats(&f, &st);
	ASSERT_EQ(st.nr_deleting, 1);
	ASSERT_ERR(sis_core_lookup(f.c, 1, 0, &(u64){0}), -ENOENT);
	ASSERT_OK(sis_core_volume_delete(f.c, 1));
	stats(&f, &st);
	ASSERT_EQ(st.nr_volumes, 1);
	ASSERT_EQ(st.nr_data, 0);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A write under a shared leaf whose copy needs more room than the running
 * transaction has left commits and goes on (sis_core_map's -EAGAIN loop
 * used to spin without committing).
 */
TEST(map_commits_for_copy_room)
{
	struct fx f;
	u64 i, k, before;

	fx_format_journal(&f, PHYS, 10 * LOGICAL, 512);
	/* leaf 0's blocks in 60 groups: a copy needs their 60 rc pages */
	for (i = 0; i < 60; i++) {
		ASSERT_OK(fx_write(&f, i, i + 1));
		for (k = 0; k < SIS_RC_PER_PAGE; k++)
			ASSERT_OK(fx_write(&f, 5000 + i * SIS_RC_PER_PAGE + k,
					   100000 + i * SIS_RC_PER_PAGE + k));
	}
	ASSERT_OK(sis_core_volume_clone(f.c, 1, 0, "c"));
	ASSERT_OK(sis_core_commit(f.c));
	/* fill the running transaction with new leaves of the clone */
	f.vol = 1;
	for (k = 0; f.c->mc_nr_dirty + 8 < f.c->txn_limit; k++) {
		ASSERT_TRUE(2 * LOGICAL + k * SIS_MAP_FANOUT < 10 * LOGICAL);
		ASSERT_OK(fx_write(&f, 2 * LOGICAL + k * SIS_MAP_FANOUT, 7));
	}
	ASSERT_TRUE(f.c->mc_nr_dirty < f.c->txn_limit);
	ASSERT_TRUE(f.c->mc_nr_dirty + 64 > sis_txn_cap(f.c));
	before = f.c->commits;
	ASSERT_OK(fx_write(&f, 3, 8));
	ASSERT_TRUE(f.c->commits > before);
	fx_expect(&f, 3, 8);
	fx_expect(&f, 4, 5);
	f.vol = 0;
	fx_expect(&f, 3, 4);
	fx_check_clean(&f);
	fx_destroy(&f);
}
