// SPDX-License-Identifier: GPL-2.0
/*
 * sis-core.c through the public API: format, open, reopen, refusal of
 * foreign, newer and damaged formats, read-only and needs_check modes,
 * resize, the write path's refcount and copy-on-write semantics.
 */
#include "harness.h"
#include "../../dm-sis/core/core-internal.h"

#define PHYS	2048
#define LOGICAL	4096

static void stats(struct fx *f, struct sis_core_stats *st)
{
	sis_core_get_stats(f->c, st);
}

/* Rewrite superblock copy @copy after @edit changed it, with a valid csum. */
static void sb_edit(struct fx *f, u64 copy, void (*edit)(struct sis_disk_superblock *))
{
	struct sis_disk_superblock sb;

	memdev_read_durable(f->d, copy, &sb);
	edit(&sb);
	sis_block_seal(f->c, &sb, SIS_BT_SUPERBLOCK, copy, le64_to_cpu(sb.hdr.seq));
	memdev_poke(f->d, copy, &sb);
}

TEST(format_write_reopen)
{
	struct sis_core_stats st;
	struct fx f;
	u64 l;

	fx_format(&f, PHYS, LOGICAL);
	stats(&f, &st);
	ASSERT_EQ(st.mode, SIS_MODE_WRITE);
	ASSERT_EQ(st.logical_blocks, LOGICAL);
	ASSERT_EQ(st.physical_blocks, PHYS);
	ASSERT_EQ(st.nr_mapped, 0);
	ASSERT_TRUE(st.data_blocks > 0 && st.data_blocks < PHYS);
	for (l = 0; l < 100; l++)
		ASSERT_OK(fx_write(&f, l * 37 % LOGICAL, l + 1));
	fx_reopen(&f);
	for (l = 0; l < 100; l++)
		fx_expect(&f, l * 37 % LOGICAL, l + 1);
	fx_expect(&f, 1, 0);
	stats(&f, &st);
	ASSERT_EQ(st.nr_mapped, 100);
	ASSERT_EQ(st.nr_data, 100);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(default_logical_size)
{
	struct sis_core_stats st;
	struct fx f;

	fx_format(&f, PHYS, 0);
	stats(&f, &st);
	ASSERT_EQ(st.logical_blocks, st.data_blocks);
	fx_destroy(&f);
}

TEST(zero_device_needs_format_flag)
{
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	sis_core_close(f.c);
	f.c = NULL;
	memdev_destroy(f.d);
	f.d = memdev_create(PHYS, 1);
	memdev_ops(f.d, &f.ops);
	f.cfg.flags = 0;
	ASSERT_ERR(fx_open(&f), -EINVAL);
	ASSERT_TRUE(f.errmsg != NULL);
	f.cfg.flags = SIS_OPEN_READ_ONLY;
	ASSERT_ERR(fx_open(&f), -EINVAL);
	fx_destroy(&f);
}

TEST(too_small_refused)
{
	struct fx f;

	memset(&f, 0, sizeof(f));
	f.d = memdev_create(300, 1);
	memdev_ops(f.d, &f.ops);
	f.cfg.physical_blocks = 300;
	f.cfg.flags = SIS_OPEN_FORMAT;
	ASSERT_ERR(fx_open(&f), -ENOSPC);
	ASSERT_TRUE(f.errmsg != NULL);
	fx_destroy(&f);
}

TEST(foreign_data_refused)
{
	u8 junk[SIS_BLOCK_SIZE];
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	sis_core_close(f.c);
	f.c = NULL;
	/* an ext4-like device: data in block 0 and 1, no dm-sis magic */
	gen_block(7, junk);
	memdev_poke(f.d, 0, junk);
	memdev_poke(f.d, 1, junk);
	ASSERT_ERR(fx_open(&f), -EINVAL);
	ASSERT_TRUE(f.errmsg != NULL);
	/* SIS_OPEN_FORMAT must not format over foreign data */
	f.cfg.flags = SIS_OPEN_FORMAT;
	ASSERT_ERR(fx_open(&f), -EINVAL);
	/* ...but FORCE_FORMAT does */
	f.cfg.flags = SIS_OPEN_FORCE_FORMAT;
	ASSERT_OK(fx_open(&f));
	fx_destroy(&f);
}

static void set_version(struct sis_disk_superblock *sb)
{
	sb->version = cpu_to_le32(SIS_VERSION + 1);
}

static void set_incompat(struct sis_disk_superblock *sb)
{
	sb->incompat_features = cpu_to_le64(1ULL << 40);
}

static void set_ro_compat(struct sis_disk_superblock *sb)
{
	sb->ro_compat_features = cpu_to_le64(1ULL << 3);
}

static void set_needs_check(struct sis_disk_superblock *sb)
{
	sb->flags = cpu_to_le32(le32_to_cpu(sb->flags) | SIS_SB_NEEDS_CHECK);
}

static void bad_layout(struct sis_disk_superblock *sb)
{
	sb->data_start = cpu_to_le64(le64_to_cpu(sb->data_start) + 1);
}

static void refused_after(void (*edit)(struct sis_disk_superblock *), int want,
			  unsigned int flags)
{
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 3, 3));
	sis_core_close(f.c);
	/* a read-only core never rewrites the superblock on close */
	f.cfg.flags = SIS_OPEN_READ_ONLY;
	ASSERT_OK(fx_open(&f));
	sb_edit(&f, 0, edit);
	sb_edit(&f, 1, edit);
	sis_core_close(f.c);
	f.cfg.flags = flags;
	ASSERT_ERR(fx_open(&f), want);
	ASSERT_TRUE(f.errmsg != NULL);
	fx_destroy(&f);
}

TEST(newer_version_refused)
{
	refused_after(set_version, -EOPNOTSUPP, 0);
}

TEST(unknown_incompat_refused)
{
	refused_after(set_incompat, -EOPNOTSUPP, 0);
	refused_after(set_incompat, -EOPNOTSUPP, SIS_OPEN_READ_ONLY);
}

TEST(unknown_ro_compat_refused_for_write)
{
	struct fx f;

	refused_after(set_ro_compat, -EOPNOTSUPP, 0);
	/* read-only is allowed */
	fx_format(&f, PHYS, LOGICAL);
	sis_core_close(f.c);
	f.cfg.flags = SIS_OPEN_READ_ONLY;
	ASSERT_OK(fx_open(&f));
	sb_edit(&f, 0, set_ro_compat);
	sb_edit(&f, 1, set_ro_compat);
	sis_core_close(f.c);
	ASSERT_OK(fx_open(&f));
	fx_destroy(&f);
}

TEST(inconsistent_layout_refused)
{
	refused_after(bad_layout, -EILSEQ, 0);
}

TEST(one_superblock_copy_damaged)
{
	u8 junk[SIS_BLOCK_SIZE];
	int copy;

	for (copy = 0; copy < 2; copy++) {
		struct fx f;

		fx_format(&f, PHYS, LOGICAL);
		ASSERT_OK(fx_write(&f, 5, 55));
		sis_core_close(f.c);
		f.c = NULL;
		memdev_read_durable(f.d, copy, junk);
		junk[100] ^= 1;
		memdev_poke(f.d, copy, junk);
		f.cfg.flags = 0;
		ASSERT_OK(fx_open(&f));
		fx_expect(&f, 5, 55);
		fx_check_clean(&f);
		fx_destroy(&f);
	}
}

TEST(both_superblocks_damaged)
{
	u8 junk[SIS_BLOCK_SIZE];
	struct fx f;
	int copy;

	fx_format(&f, PHYS, LOGICAL);
	sis_core_close(f.c);
	f.c = NULL;
	for (copy = 0; copy < 2; copy++) {
		memdev_read_durable(f.d, copy, junk);
		junk[200] ^= 0x40;
		memdev_poke(f.d, copy, junk);
	}
	f.cfg.flags = SIS_OPEN_FORMAT;	/* must not reformat a damaged device */
	ASSERT_ERR(fx_open(&f), -EILSEQ);
	fx_destroy(&f);
}

TEST(needs_check_opens_read_only)
{
	struct sis_core_stats st;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 9, 99));
	sis_core_close(f.c);
	f.cfg.flags = 0;
	ASSERT_OK(fx_open(&f));
	sis_core_close(f.c);
	/* set the flag with a core open read-only, so nothing rewrites it */
	f.cfg.flags = SIS_OPEN_READ_ONLY;
	ASSERT_OK(fx_open(&f));
	sb_edit(&f, 0, set_needs_check);
	sb_edit(&f, 1, set_needs_check);
	sis_core_close(f.c);

	f.cfg.flags = 0;
	ASSERT_OK(fx_open(&f));
	stats(&f, &st);
	ASSERT_TRUE(st.needs_check);
	ASSERT_EQ(st.mode, SIS_MODE_READ_ONLY);
	fx_expect(&f, 9, 99);
	ASSERT_ERR(fx_write(&f, 10, 100), -EROFS);
	ASSERT_ERR(sis_core_unmap(f.c, 0, 9, 1), -EROFS);
	sis_core_close(f.c);

	f.cfg.flags = SIS_OPEN_IGNORE_CHECK;
	ASSERT_OK(fx_open(&f));
	stats(&f, &st);
	ASSERT_TRUE(st.needs_check);
	ASSERT_EQ(st.mode, SIS_MODE_WRITE);
	ASSERT_OK(fx_write(&f, 10, 100));
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(read_only_open_never_writes)
{
	struct fx f;
	u64 w;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 1, 11));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(fx_write(&f, 2, 22));
	fx_crash(&f, 0, false);		/* leaves a journal to replay */
	f.cfg.flags = SIS_OPEN_READ_ONLY;
	w = f.d->writes;
	ASSERT_OK(fx_open(&f));
	fx_expect(&f, 1, 11);
	fx_expect(&f, 2, 0);
	ASSERT_ERR(fx_write(&f, 3, 33), -EROFS);
	ASSERT_ERR(sis_core_volume_resize(f.c, 0, LOGICAL * 2), -EROFS);
	sis_core_close(f.c);
	f.c = NULL;
	ASSERT_EQ(f.d->writes, w);
	fx_destroy(&f);
}

TEST(sharing_and_copy_on_write)
{
	struct sis_core_stats st;
	u64 p0, p, l;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	for (l = 0; l < 10; l++)
		ASSERT_OK(fx_write(&f, l, 1234));
	stats(&f, &st);
	ASSERT_EQ(st.nr_mapped, 10);
	ASSERT_EQ(st.nr_data, 1);
	ASSERT_OK(sis_core_lookup(f.c, 0, 0, &p0));
	for (l = 1; l < 10; l++) {
		ASSERT_OK(sis_core_lookup(f.c, 0, l, &p));
		ASSERT_EQ(p, p0);
	}
	/* overwrite one sharer: new block; the others keep the old one */
	ASSERT_OK(fx_write(&f, 4, 999));
	ASSERT_OK(sis_core_lookup(f.c, 0, 4, &p));
	ASSERT_NE(p, p0);
	fx_expect(&f, 4, 999);
	for (l = 0; l < 10; l++)
		if (l != 4)
			fx_expect(&f, l, 1234);
	stats(&f, &st);
	ASSERT_EQ(st.nr_data, 2);
	/* rewrite the same data: no new block, no change */
	ASSERT_OK(fx_write(&f, 4, 999));
	ASSERT_OK(fx_write(&f, 4, 1234));
	stats(&f, &st);
	ASSERT_EQ(st.nr_data, 1);
	fx_check_clean(&f);
	fx_reopen(&f);
	for (l = 0; l < 10; l++)
		fx_expect(&f, l, 1234);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(zero_elimination)
{
	struct sis_core_stats st;
	struct fx f;
	u64 p;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 7, 0));
	ASSERT_ERR(sis_core_lookup(f.c, 0, 7, &p), -ENODATA);
	ASSERT_OK(fx_write(&f, 7, 77));
	ASSERT_OK(fx_write(&f, 7, 0));
	ASSERT_ERR(sis_core_lookup(f.c, 0, 7, &p), -ENODATA);
	stats(&f, &st);
	ASSERT_EQ(st.nr_mapped, 0);
	ASSERT_EQ(st.nr_data, 0);
	fx_expect(&f, 7, 0);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(bounds)
{
	struct fx f;
	u64 p;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_ERR(sis_core_lookup(f.c, 0, LOGICAL, &p), -EINVAL);
	ASSERT_ERR(sis_core_lookup(f.c, 0, U64_MAX, &p), -EINVAL);
	ASSERT_ERR(fx_write(&f, LOGICAL, 5), -EINVAL);
	ASSERT_ERR(sis_core_unmap(f.c, 0, LOGICAL - 1, 2), -EINVAL);
	ASSERT_ERR(sis_core_unmap(f.c, 0, 1, U64_MAX), -EINVAL);
	ASSERT_OK(sis_core_unmap(f.c, 0, 0, LOGICAL));
	ASSERT_OK(fx_write(&f, LOGICAL - 1, 5));
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(resize_logical)
{
	struct sis_core_stats st;
	struct fx f;

	fx_format(&f, PHYS, 400);	/* one map leaf */
	ASSERT_OK(fx_write(&f, 399, 1));
	ASSERT_OK(fx_write(&f, 0, 2));
	ASSERT_ERR(fx_write(&f, 400, 3), -EINVAL);
	ASSERT_ERR(sis_core_volume_resize(f.c, 0, 100), -EINVAL);
	ASSERT_OK(sis_core_volume_resize(f.c, 0, 10000000));	/* depth grows */
	ASSERT_OK(fx_write(&f, 9999999, 3));
	ASSERT_OK(fx_write(&f, 600, 4));
	fx_expect(&f, 399, 1);
	fx_expect(&f, 0, 2);
	f.cfg.logical_blocks = 0;	/* keep the on-disk size */
	fx_reopen(&f);
	stats(&f, &st);
	ASSERT_EQ(st.logical_blocks, 10000000);
	fx_expect(&f, 399, 1);
	fx_expect(&f, 0, 2);
	fx_expect(&f, 9999999, 3);
	fx_expect(&f, 600, 4);
	fx_check_clean(&f);
	/* growing through the open config */
	sis_core_close(f.c);
	f.cfg.logical_blocks = 20000000;
	ASSERT_OK(fx_open(&f));
	stats(&f, &st);
	ASSERT_EQ(st.logical_blocks, 20000000);
	fx_expect(&f, 9999999, 3);
	sis_core_close(f.c);
	f.cfg.logical_blocks = 1000;
	ASSERT_ERR(fx_open(&f), -EINVAL);
	fx_destroy(&f);
}

TEST(resize_physical)
{
	struct sis_core_stats a, b;
	struct fx f;
	u64 l;
	int r = 0;

	fx_format(&f, PHYS, 100000);
	stats(&f, &a);
	/* fill the device */
	for (l = 0; l < 100000; l++) {
		r = fx_write(&f, l, l + 1);
		if (r)
			break;
	}
	ASSERT_ERR(r, -ENOSPC);
	ASSERT_OK(memdev_resize(f.d, PHYS * 2));
	ASSERT_ERR(sis_core_resize(f.c, PHYS - 1), -EINVAL);
	ASSERT_OK(sis_core_resize(f.c, PHYS * 2));
	stats(&f, &b);
	ASSERT_EQ(b.physical_blocks, PHYS * 2);
	ASSERT_TRUE(b.data_blocks > a.data_blocks + PHYS / 2);
	ASSERT_OK(fx_write(&f, l, l + 1));
	ASSERT_OK(fx_write(&f, l + 1, l + 2));
	f.cfg.physical_blocks = PHYS * 2;
	fx_reopen(&f);
	stats(&f, &b);
	ASSERT_EQ(b.physical_blocks, PHYS * 2);
	fx_expect(&f, l, l + 1);
	fx_expect(&f, 0, 1);
	fx_check_clean(&f);
	/* grow again through the open config */
	sis_core_close(f.c);
	ASSERT_OK(memdev_resize(f.d, PHYS * 3));
	f.cfg.physical_blocks = PHYS * 3;
	ASSERT_OK(fx_open(&f));
	stats(&f, &b);
	ASSERT_EQ(b.physical_blocks, PHYS * 3);
	fx_check_clean(&f);
	/* a device smaller than the metadata says is refused */
	sis_core_close(f.c);
	f.cfg.physical_blocks = PHYS * 2;
	ASSERT_ERR(fx_open(&f), -ENOSPC);
	fx_destroy(&f);
}

TEST(commit_counts_and_dirty)
{
	struct sis_core_stats st;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_TRUE(!sis_core_dirty(f.c));
	ASSERT_OK(fx_write(&f, 1, 1));
	ASSERT_TRUE(sis_core_dirty(f.c));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_TRUE(!sis_core_dirty(f.c));
	stats(&f, &st);
	ASSERT_TRUE(st.commits >= 1);
	/* an empty commit still flushes (REQ_PREFLUSH) */
	st.commits = f.d->flushes;
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_TRUE(f.d->flushes > st.commits);
	fx_destroy(&f);
}

TEST(set_read_only_commits)
{
	struct sis_core_stats st;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 1, 1));
	sis_core_set_read_only(f.c);
	stats(&f, &st);
	ASSERT_EQ(st.mode, SIS_MODE_READ_ONLY);
	ASSERT_ERR(fx_write(&f, 2, 2), -EROFS);
	fx_crash(&f, 0, false);
	f.cfg.flags = 0;
	ASSERT_OK(fx_open(&f));
	fx_expect(&f, 1, 1);
	fx_destroy(&f);
}

/* Check @f clean, reopen it, expect @seed's data at @l, check it again. */
static void check_reopen_expect(struct fx *f, u64 l, u32 seed)
{
	fx_check_clean(f);
	fx_reopen(f);
	fx_expect(f, l, seed);
	fx_check_clean(f);
}

/*
 * sis_core_map_batch(): maps, unmaps and leaves blocks as the per-block
 * calls do, in one call, and drops every pin it is given.
 */
TEST(map_batch_maps_unmaps_unpins)
{
	u8 data[2][SIS_BLOCK_SIZE];
	u64 fps[2], pn[2], pd, pd2[2], batch[5], p;
	struct sis_core_stats st;
	bool un[2];
	int res[5];
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 100, 5));		/* the duplicate's source */
	ASSERT_OK(fx_write(&f, 11, 6));		/* to be unmapped */
	ASSERT_OK(fx_write(&f, 12, 7));		/* to be kept */
	gen_block(8, data[0]);
	gen_block(9, data[1]);
	fps[0] = sis_fingerprint(data[0]);
	fps[1] = sis_fingerprint(data[1]);
	ASSERT_EQ(sis_core_alloc_run(f.c, fps, 2, pn), 2);
	ASSERT_OK(memdev_write(f.d, pn[0], data[0]));
	ASSERT_OK(memdev_write(f.d, pn[1], data[1]));
	gen_block(5, data[0]);
	/* a new block is found, flagged as mapped nowhere yet */
	ASSERT_EQ(sis_core_find_dups(f.c, fps, 2, pd2, un), 2);
	ASSERT_TRUE(pd2[0] == pn[0] && pd2[1] == pn[1] && un[0] && un[1]);
	sis_core_unpin(f.c, pd2[0]);
	sis_core_unpin(f.c, pd2[1]);
	ASSERT_EQ(sis_core_find_dups(f.c, &(u64){ sis_fingerprint(data[0]) }, 1,
				     &pd, un), 1);
	ASSERT_TRUE(!un[0]);
	batch[0] = pn[0];
	batch[1] = 0;
	batch[2] = SIS_MAP_KEEP;
	batch[3] = pd;
	batch[4] = pn[1];
	ASSERT_OK(sis_core_map_batch(f.c, 0, 10, 5, batch, res,
				     (u64[]){ pn[0], pd, pn[1] }, 3));
	ASSERT_EQ(res[0], 0);
	ASSERT_EQ(res[1], 0);
	ASSERT_EQ(res[2], -ECANCELED);
	ASSERT_EQ(res[3], 0);
	ASSERT_EQ(res[4], 0);
	fx_expect(&f, 10, 8);
	ASSERT_ERR(sis_core_lookup(f.c, 0, 11, &p), -ENODATA);
	fx_expect(&f, 12, 7);
	fx_expect(&f, 13, 5);
	ASSERT_OK(sis_core_lookup(f.c, 0, 13, &p));
	ASSERT_EQ(p, pd);
	fx_expect(&f, 14, 9);
	ASSERT_TRUE(!__sis_pin_find(f.c, pn[0]) && !__sis_pin_find(f.c, pn[1]) &&
		    !__sis_pin_find(f.c, pd));
	stats(&f, &st);
	ASSERT_EQ(st.nr_mapped, 5);	/* 10, 12, 13, 14, 100 */
	ASSERT_EQ(st.nr_data, 4);	/* 5 (twice), 7, 8, 9 */
	check_reopen_expect(&f, 13, 5);
	fx_destroy(&f);
}

/*
 * sis_core_find_or_alloc(): a candidate where the index has one (not the
 * one to skip), new blocks in a row for the rest, all pinned; mapped as
 * the write path maps them, the device reads back and checks clean.
 */
TEST(find_or_alloc_finds_or_allocates)
{
	u8 data[4][SIS_BLOCK_SIZE];
	u64 fps[4], skip[4] = { 0 }, pb[4], old, p;
	struct sis_core_stats st;
	bool fresh[4];
	int res[4], i;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 100, 5));
	ASSERT_OK(fx_write(&f, 101, 6));
	ASSERT_OK(sis_core_lookup(f.c, 0, 101, &old));
	for (i = 0; i < 4; i++) {
		gen_block(i < 2 ? 5 + i : 7 + i, data[i]);
		fps[i] = sis_fingerprint(data[i]);
	}
	skip[1] = old;			/* found different before: not again */
	ASSERT_EQ(sis_core_find_or_alloc(f.c, fps, skip, 4, pb, fresh), 3);
	ASSERT_OK(sis_core_lookup(f.c, 0, 100, &p));
	ASSERT_TRUE(pb[0] == p && !fresh[0]);
	ASSERT_TRUE(fresh[1] && fresh[2] && fresh[3]);
	ASSERT_TRUE(pb[1] != old);
	ASSERT_EQ(pb[2], pb[1] + 1);	/* in a row */
	ASSERT_EQ(pb[3], pb[2] + 1);
	ASSERT_TRUE(!__sis_pin_find(f.c, old));
	for (i = 1; i < 4; i++)
		ASSERT_OK(memdev_write(f.d, pb[i], data[i]));
	ASSERT_OK(sis_core_map_batch(f.c, 0, 10, 4, pb, res, pb, 4));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(res[i], 0);
		ASSERT_TRUE(!__sis_pin_find(f.c, pb[i]));
	}
	fx_expect(&f, 10, 5);
	fx_expect(&f, 11, 6);
	fx_expect(&f, 12, 9);
	fx_expect(&f, 13, 10);
	stats(&f, &st);
	ASSERT_EQ(st.nr_data, 5);	/* 5 shared; 6 twice (skipped); 9, 10 */
	check_reopen_expect(&f, 11, 6);
	fx_destroy(&f);
}

/*
 * Short of space, sis_core_find_or_alloc() allocates what it can and
 * keeps the candidates; an error (read-only) pins and allocates nothing.
 */
TEST(find_or_alloc_short_and_error)
{
	u8 data[3][SIS_BLOCK_SIZE];
	u64 fps[3], skip[3] = { 0 }, pb[3], l, p;
	struct sis_core_stats a, b;
	bool fresh[3];
	int i, r = 0;
	struct fx f;

	fx_format(&f, PHYS, 100000);
	for (l = 0; l < 100000 && !r; l++)
		r = fx_write(&f, l, l + 1);
	ASSERT_ERR(r, -ENOSPC);
	l -= 1;				/* blocks 0 .. l-1 are mapped */
	ASSERT_OK(sis_core_unmap(f.c, 0, l - 1, 1));
	ASSERT_OK(sis_core_commit(f.c));	/* frees its block for reuse */
	gen_block(1, data[0]);		/* the data of logical block 0 */
	gen_block(200001, data[1]);
	gen_block(200002, data[2]);
	for (i = 0; i < 3; i++)
		fps[i] = sis_fingerprint(data[i]);
	ASSERT_EQ(sis_core_find_or_alloc(f.c, fps, skip, 3, pb, fresh), 1);
	ASSERT_OK(sis_core_lookup(f.c, 0, 0, &p));
	ASSERT_TRUE(pb[0] == p && !fresh[0]);
	ASSERT_TRUE(pb[1] && fresh[1] && !pb[2] && !fresh[2]);
	sis_core_unpin(f.c, pb[0]);
	sis_core_unpin(f.c, pb[1]);	/* never mapped: free again */
	ASSERT_TRUE(!__sis_pin_find(f.c, pb[0]) && !__sis_pin_find(f.c, pb[1]));

	stats(&f, &a);
	sis_core_set_read_only(f.c);
	ASSERT_ERR(sis_core_find_or_alloc(f.c, fps, skip, 3, pb, fresh), -EROFS);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(pb[i], 0);
	ASSERT_TRUE(!__sis_pin_find(f.c, p));
	stats(&f, &b);
	ASSERT_EQ(a.nr_data, b.nr_data);
	fx_destroy(&f);
}

/*
 * A candidate freed under its pin is -ESTALE for its block alone, as
 * sis_core_map() returns it; the blocks after it are mapped.
 */
TEST(map_batch_estale_per_block)
{
	u8 data[SIS_BLOCK_SIZE];
	u64 fp, pd, pn, batch[2], p;
	struct sis_core_stats st;
	int res[2];
	bool un;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 100, 5));
	gen_block(5, data);
	ASSERT_EQ(sis_core_find_dups(f.c, &(u64){ sis_fingerprint(data) }, 1,
				     &pd, &un), 1);
	ASSERT_OK(fx_write(&f, 100, 6));	/* pd loses its last mapping */
	gen_block(7, data);
	fp = sis_fingerprint(data);
	ASSERT_EQ(sis_core_alloc_run(f.c, &fp, 1, &pn), 1);
	ASSERT_OK(memdev_write(f.d, pn, data));
	batch[0] = pd;
	batch[1] = pn;
	ASSERT_OK(sis_core_map_batch(f.c, 0, 20, 2, batch, res,
				     (u64[]){ pd, pn }, 2));
	ASSERT_EQ(res[0], -ESTALE);
	ASSERT_EQ(res[1], 0);
	ASSERT_ERR(sis_core_lookup(f.c, 0, 20, &p), -ENODATA);
	fx_expect(&f, 21, 7);
	ASSERT_TRUE(!__sis_pin_find(f.c, pd) && !__sis_pin_find(f.c, pn));
	stats(&f, &st);
	ASSERT_EQ(st.nr_data, 2);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A batch whose blocks go to refcount pages of several groups in turn
 * fills the running transaction many times over: sis_core_map_batch()
 * commits between its blocks, and every mapping made after such a commit
 * must be in a transaction (its leaf dirty again), so a power cut after
 * the final commit keeps them all.  The batch keeps its leaf and refcount
 * page from block to block; a commit must make it look them up again.
 */
TEST(map_batch_commits_between_blocks)
{
	enum { NB = 64, SRC = 5 * SIS_RC_PER_PAGE };
	u8 data[SIS_BLOCK_SIZE];
	u64 fps[NB], pb[NB], commits;
	struct sis_core_stats st;
	int res[NB], i;
	bool un[NB];
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, 64);
	for (i = 0; i < SRC; i++)
		ASSERT_OK(fx_write(&f, i, i + 1));
	ASSERT_OK(sis_core_commit(f.c));
	/* block i: a duplicate from group i % 5, so the groups alternate */
	for (i = 0; i < NB; i++) {
		gen_block((i % 5) * SIS_RC_PER_PAGE + i / 5 + 1, data);
		fps[i] = sis_fingerprint(data);
	}
	ASSERT_EQ(sis_core_find_dups(f.c, fps, NB, pb, un), NB);
	stats(&f, &st);
	commits = st.commits;
	ASSERT_OK(sis_core_map_batch(f.c, 0, SRC + 100, NB, pb, res, pb, NB));
	stats(&f, &st);
	commits = st.commits - commits;
	for (i = 0; i < NB; i++)
		ASSERT_EQ(res[i], 0);
	ASSERT_OK(sis_core_commit(f.c));
	fx_crash(&f, 0, false);
	fx_reopen(&f);
	for (i = 0; i < NB; i++)
		fx_expect(&f, SRC + 100 + i, (i % 5) * SIS_RC_PER_PAGE + i / 5 + 1);
	stats(&f, &st);
	ASSERT_EQ(st.nr_mapped, SRC + NB);
	ASSERT_EQ(st.nr_data, SRC);
	fx_check_clean(&f);
	ASSERT_LE(4, commits);		/* it did commit inside the batch */
	fx_destroy(&f);
}

/*
 * sis_core_find_dups() tries the block after the previous candidate first:
 * it is taken only when its refcount entry holds the same fingerprint;
 * otherwise the index finds the block, wherever it is.
 */
TEST(find_dups_next_block_first)
{
	u8 data[SIS_BLOCK_SIZE];
	u64 fps[3], pb[3], p[3];
	bool un[3];
	int i;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 9, 19));		/* the map pages first */
	for (i = 0; i < 3; i++) {
		ASSERT_OK(fx_write(&f, 10 + i, 20 + i));	/* in a row */
		ASSERT_OK(sis_core_lookup(f.c, 0, 10 + i, &p[i]));
		gen_block(20 + i, data);
		fps[i] = sis_fingerprint(data);
	}
	ASSERT_EQ(p[1], p[0] + 1);
	ASSERT_EQ(p[2], p[1] + 1);
	ASSERT_EQ(sis_core_find_dups(f.c, fps, 3, pb, un), 3);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(pb[i], p[i]);
		sis_core_unpin(f.c, pb[i]);
	}
	/* the block after p[0] holds other data: the index finds p[2] */
	fps[1] = fps[2];
	ASSERT_EQ(sis_core_find_dups(f.c, fps, 2, pb, un), 2);
	ASSERT_EQ(pb[0], p[0]);
	ASSERT_EQ(pb[1], p[2]);
	sis_core_unpin(f.c, pb[0]);
	sis_core_unpin(f.c, pb[1]);
	/* nothing stored after p[2]: a miss, nothing pinned */
	gen_block(99, data);
	fps[1] = sis_fingerprint(data);
	fps[0] = fps[2];
	ASSERT_EQ(sis_core_find_dups(f.c, fps, 2, pb, un), 1);
	ASSERT_EQ(pb[0], p[2]);
	ASSERT_EQ(pb[1], 0);
	sis_core_unpin(f.c, pb[0]);
	ASSERT_TRUE(!__sis_pin_find(f.c, p[0]) && !__sis_pin_find(f.c, p[1]) &&
		    !__sis_pin_find(f.c, p[2]) && !__sis_pin_find(f.c, p[2] + 1));
	fx_check_clean(&f);
	fx_destroy(&f);
}
