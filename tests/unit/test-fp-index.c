// SPDX-License-Identifier: GPL-2.0
/*
 * fp-index.c through the API: candidates, fingerprint collisions (the
 * caller compares; different data is never merged), in-flight duplicates,
 * stale entries, an index far smaller than the data; then the RAM index of
 * format version 2 (metadata reads counted by the RAM device): no read on a
 * unique lookup, one rc page read on a hook hit of old data, C eviction,
 * removal on free, dedup kept across a 4x growth, H's RAM per physical
 * block, streams of old data per bio, other format versions refused.
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
	ASSERT_OK(sis_core_lookup(f.c, 0, 1, &p));
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
	ASSERT_OK(sis_core_lookup(f.c, 0, 0, &px));
	/* the contract: find_dup offers px for y's fingerprint */
	ASSERT_OK(sis_core_find_dup(f.c, FP, &p));
	ASSERT_EQ(p, px);
	sis_core_unpin(f.c, p);
	ASSERT_OK(fx_write_fp(&f, 1, y, FP));	/* compares, allocates */
	ASSERT_OK(sis_core_lookup(f.c, 0, 1, &py));
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
	ASSERT_OK(sis_core_map(f.c, 0, 10, pa));
	sis_core_unpin(f.c, pa);
	ASSERT_OK(sis_core_map(f.c, 0, 11, pb));		/* B after A */
	sis_core_unpin(f.c, pb);
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_data, 1);
	ASSERT_EQ(st.nr_mapped, 2);
	ASSERT_OK(sis_core_lookup(f.c, 0, 11, &p));
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

/* ---- The RAM index: hooks (H), resident rc pages (C), growth ---- */

#include "../../dm-sis/core/core-internal.h"

static u64 seed_fp(u32 seed)
{
	u8 data[SIS_BLOCK_SIZE];

	gen_block(seed, data);
	return sis_fingerprint(data);
}

static bool is_hook(u32 seed)
{
	return !(seed_fp(seed) & 7);
}

/* A device of @phys blocks whose C holds 32 rc pages (cache of 16 pages). */
static void small_c(struct fx *f, u64 phys, u64 logical)
{
	fx_format(f, phys, logical);
	f->cfg.cache_pages = 16;
	fx_reopen(f);
	ASSERT_EQ(f->c->c_slots, 32);
}

/* Write seeds first..first+n-1 to logical blocks l.. in order. */
static void fill(struct fx *f, u64 l, u32 first, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		ASSERT_OK(fx_write(f, l + i, first + i));
}

/* find_dup of @seed: the result, and the metadata reads it cost. */
static int probe(struct fx *f, u32 seed, u64 *reads)
{
	u64 before = f->d->reads, p;
	int r = sis_core_find_dup(f->c, seed_fp(seed), &p);

	if (!r)
		sis_core_unpin(f->c, p);
	*reads = f->d->reads - before;
	return r;
}

/* 40 groups of unique data with C of 32 pages; data seeds 1..10000. */
#define OLD	10000

/* A lookup of data the device does not hold reads no metadata. */
TEST(unique_lookup_reads_nothing)
{
	u64 reads, total = 0;
	struct fx f;
	u32 s;

	small_c(&f, 20000, 40000);
	fill(&f, 0, 1, OLD);
	fx_reopen(&f);			/* H and C rebuilt from the rc pages */
	sis_core_drop_cache(f.c);
	for (s = 0; s < 4000; s++) {
		ASSERT_ERR(probe(&f, 1000000 + s, &reads), -ENOENT);
		total += reads;
	}
	ASSERT_EQ(total, 0);
	fx_destroy(&f);
}

/*
 * Old data (its group no longer in C): a hook is found at the cost of one
 * rc page read, which brings its group into C; then every other block of
 * that group is found with no read.  A non-hook alone is not found.
 */
TEST(hook_hit_loads_group)
{
	struct sis_core_stats a, b;
	u32 s, hook = 0, plain = 0;
	u64 reads;
	struct fx f;

	small_c(&f, 20000, 40000);
	fill(&f, 0, 1, OLD);
	fx_reopen(&f);
	sis_core_drop_cache(f.c);
	/* group 1 holds seeds of about 255..508: not among the last 32 */
	for (s = 300; s < 500 && (!hook || !plain); s++) {
		if (is_hook(s) && !hook)
			hook = s;
		else if (!is_hook(s) && !plain)
			plain = s;
	}
	ASSERT_TRUE(hook && plain);
	ASSERT_ERR(probe(&f, plain, &reads), -ENOENT);
	ASSERT_EQ(reads, 0);
	sis_core_get_stats(f.c, &a);
	ASSERT_OK(probe(&f, hook, &reads));
	ASSERT_EQ(reads, 1);		/* the rc page of its group */
	sis_core_get_stats(f.c, &b);
	ASSERT_EQ(b.index_hook_loads, a.index_hook_loads + 1);
	for (s = 300; s < 500; s++) {
		u64 p, q;

		ASSERT_OK(sis_core_lookup(f.c, 0, s - 1, &p));
		ASSERT_OK(sis_core_lookup(f.c, 0, hook - 1, &q));
		if ((p - f.c->data_start) / SIS_GROUP_BLOCKS !=
		    (q - f.c->data_start) / SIS_GROUP_BLOCKS)
			continue;	/* another group */
		ASSERT_OK(probe(&f, s, &reads));
		ASSERT_EQ(reads, 0);
	}
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * C holds 32 pages: writing more groups evicts the oldest, whose non-hook
 * blocks are then found only through a hook; the newest are all found.
 */
TEST(c_evicts_oldest_groups)
{
	u32 s, found_old = 0, found_new = 0, n_old = 0;
	u64 reads;
	struct fx f;

	small_c(&f, 20000, 40000);
	fill(&f, 0, 1, OLD);
	for (s = 1; s <= 1000; s++) {		/* first 4 groups: evicted */
		if (is_hook(s))
			continue;
		n_old++;
		found_old += !probe(&f, s, &reads);
		ASSERT_EQ(reads, 0);
	}
	for (s = OLD - 2000; s <= OLD; s++)	/* last 8 groups: in C */
		found_new += !probe(&f, s, &reads);
	ASSERT_EQ(found_old, 0);
	ASSERT_TRUE(n_old > 800);
	ASSERT_EQ(found_new, 2001);
	fx_destroy(&f);
}

/*
 * 60 groups through C of 32 slots, then 100 blocks of a new group, whose
 * slot held a full page before (so its page's fingerprint copies beyond
 * index 100 are an evicted page's): C offers a block either alone and
 * exactly once (its group is resident) or not at all, never another block
 * of the slot.
 */
TEST(c_evicted_entries_never_match)
{
	u32 s, n_old = 0, n_new = 0, nr = 60 * 254 + 100;
	u64 cand[4], p;
	struct fx f;
	int n;

	small_c(&f, 20000, 40000);
	fill(&f, 0, 1, nr);
	for (s = 1; s <= nr; s++) {
		if (is_hook(s))
			continue;	/* a miss would load its group */
		ASSERT_OK(sis_core_lookup(f.c, 0, s - 1, &p));
		mutex_lock(&f.c->lock);
		n = __sis_index_find(f.c, seed_fp(s), cand, ARRAY_SIZE(cand));
		mutex_unlock(&f.c->lock);
		if (n != -ENOENT) {
			ASSERT_EQ(n, 1);
			ASSERT_EQ(cand[0], p);
			n_new++;
		} else {
			n_old++;
		}
	}
	ASSERT_TRUE(n_new > 6000 && n_old > 6000);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A freed block leaves C and H: no stale candidate to validate, and a
 * freed hook of an evicted group costs no read.
 */
TEST(free_removes_from_index)
{
	struct sis_core_stats a, b;
	u32 s, hook = 0;
	u64 reads;
	struct fx f;

	small_c(&f, 20000, 40000);
	for (s = 2; s < 200 && !hook; s++)
		if (is_hook(s))
			hook = s;
	ASSERT_TRUE(hook);
	fill(&f, 0, 1, OLD);
	ASSERT_OK(sis_core_unmap(f.c, 0, hook - 1, 1));	/* frees it */
	ASSERT_OK(sis_core_unmap(f.c, 0, OLD - 1, 1));	/* one in C */
	ASSERT_OK(sis_core_commit(f.c));
	sis_core_drop_cache(f.c);
	sis_core_get_stats(f.c, &a);
	ASSERT_ERR(probe(&f, hook, &reads), -ENOENT);
	ASSERT_EQ(reads, 0);
	ASSERT_ERR(probe(&f, OLD, &reads), -ENOENT);
	sis_core_get_stats(f.c, &b);
	ASSERT_EQ(b.index_stale, a.index_stale);	/* removed, not found stale */
	ASSERT_EQ(b.index_hook_loads, a.index_hook_loads);
	fx_reopen(&f);
	ASSERT_ERR(probe(&f, hook, &reads), -ENOENT);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * Write @runs runs of 32 duplicates (a 128 KiB bio each) of seeds
 * src[i]..src[i]+31 at logical @l..; returns the blocks saved (not
 * allocated).
 */
static u64 dup_runs(struct fx *f, u64 l, const u32 *src, unsigned int runs)
{
	struct sis_core_stats a, b;
	unsigned int i;

	sis_core_get_stats(f->c, &a);
	for (i = 0; i < runs; i++)
		fill(f, l + 32 * i, src[i], 32);
	sis_core_get_stats(f->c, &b);
	return 32ULL * runs - (b.nr_data - a.nr_data);
}

/*
 * Issue 12 item 3: growing the device 4x grows H (its slots split, no hook
 * lost), and dedup of old and of new data is as good as before.
 */
TEST(growth_keeps_dedup)
{
	u64 before, after_old, after_new, ram0, ram1, l = 20000;
	struct sis_core_stats st;
	u32 src[24], src_new[24];
	struct fx f;
	unsigned int i;

	small_c(&f, 12000, 200000);
	fill(&f, 0, 1, OLD);
	for (i = 0; i < ARRAY_SIZE(src); i++)
		src[i] = 1 + 7 * 32 * i;	/* groups 0..26: not in C */
	sis_core_get_stats(f.c, &st);
	ram0 = st.index_ram_bytes;
	before = dup_runs(&f, l, src, ARRAY_SIZE(src));
	l += 32 * ARRAY_SIZE(src);

	ASSERT_OK(memdev_resize(f.d, 48000));
	ASSERT_OK(sis_core_resize(f.c, 48000));
	f.cfg.physical_blocks = 48000;
	sis_core_get_stats(f.c, &st);
	ram1 = st.index_ram_bytes;
	ASSERT_EQ(st.physical_blocks, 48000);
	/* H grew by 64 bytes per 72 added blocks, C did not change */
	ASSERT_EQ(ram1 - ram0, (48000 / 72 + 1 - (12000 / 72 + 1)) * 64);

	fill(&f, l, 500000, 8200);		/* new data evicts C */
	l += 8200;
	after_old = dup_runs(&f, l, src, ARRAY_SIZE(src));
	l += 32 * ARRAY_SIZE(src);
	fill(&f, l, 600000, 20000);		/* more new data, in the new space */
	l += 20000;
	for (i = 0; i < ARRAY_SIZE(src_new); i++)
		src_new[i] = 500000 + 7 * 32 * i;
	after_new = dup_runs(&f, l, src_new, ARRAY_SIZE(src_new));
	if (getenv("SIS_TEST_VERBOSE"))
		fprintf(stderr, "saved of %zu: before %llu, old after %llu, new after %llu\n",
			32 * ARRAY_SIZE(src), before, after_old, after_new);
	ASSERT_TRUE(before >= 32 * ARRAY_SIZE(src) / 2);
	ASSERT_TRUE(after_old >= before);
	ASSERT_TRUE(after_new * 100 >= before * 97);
	for (i = 0; i < ARRAY_SIZE(src); i++)
		fx_expect(&f, 20000 + 32 * i, src[i]);
	fx_reopen(&f);				/* rebuilt at the new size */
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.index_ram_bytes, ram1);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* H costs at most 1 byte per physical block (256 MiB per TiB). */
TEST(index_ram_is_a_function_of_size)
{
	struct sis_core_stats a, b;
	struct fx f;

	fx_format(&f, 100000, 100000);
	sis_core_get_stats(f.c, &a);
	fx_destroy(&f);
	fx_format(&f, 1100000, 100000);
	sis_core_get_stats(f.c, &b);
	ASSERT_TRUE(b.index_ram_bytes > a.index_ram_bytes);
	ASSERT_LE(b.index_ram_bytes - a.index_ram_bytes, 1000000 * 9 / 10);
	ASSERT_TRUE(b.index_ram_bytes - a.index_ram_bytes >= 1000000 * 88 / 100);
	fx_destroy(&f);
}

static void set_version(struct fx *f, u32 version)
{
	struct sis_disk_superblock sb;
	u64 b;

	for (b = 0; b < 2; b++) {
		memdev_read_durable(f->d, b, &sb);
		sb.version = cpu_to_le32(version);
		sb.hdr.csum = cpu_to_le32(sis_block_csum(SIS_BT_SUPERBLOCK, &sb));
		memdev_poke(f->d, b, &sb);
	}
}

/* Format versions 1, 2 and 3 (and a newer one) are refused, naming both. */
TEST(other_versions_refused)
{
	struct fx f;

	fx_format(&f, 4000, 4000);
	fill(&f, 0, 1, 10);
	sis_core_close(f.c);
	f.c = NULL;
	set_version(&f, 1);
	sis_backend_mute++;
	ASSERT_ERR(fx_open(&f), -EOPNOTSUPP);
	ASSERT_TRUE(strstr(f.errmsg, "version 1 is not supported by this version (4)"));
	set_version(&f, 2);
	ASSERT_ERR(fx_open(&f), -EOPNOTSUPP);
	ASSERT_TRUE(strstr(f.errmsg, "version 2 is not supported by this version (4)"));
	set_version(&f, 3);
	ASSERT_ERR(fx_open(&f), -EOPNOTSUPP);
	ASSERT_TRUE(strstr(f.errmsg, "version 3 is not supported by this version (4)"));
	set_version(&f, 5);
	ASSERT_ERR(fx_open(&f), -EOPNOTSUPP);
	ASSERT_TRUE(strstr(f.errmsg, "newer than this version (4)"));
	sis_backend_mute--;
	set_version(&f, 4);
	ASSERT_OK(fx_open(&f));
	fx_expect(&f, 9, 10);
	fx_destroy(&f);
}

/* find_dups of seeds @s..@s+@n-1 into @p: the number found. */
static int probe_batch(struct fx *f, u32 s, unsigned int n, u64 *p)
{
	bool unmapped[32];
	u64 fps[32] = { 0 };
	unsigned int k;
	int r;

	for (k = 0; k < n; k++)
		fps[k] = seed_fp(s + k);
	r = sis_core_find_dups(f->c, fps, n, p, unmapped);
	for (k = 0; r >= 0 && k < n; k++)
		ASSERT_TRUE(!p[k] || !unmapped[k]);	/* all mapped */
	return r;
}

/*
 * The same with one find_dup per block, then once more for the misses
 * before the last block found (the loop write.c had): which were found.
 */
static void probe_per_block(struct fx *f, u32 s, int *hit)
{
	int k, last = -1;
	u64 reads;

	for (k = 0; k < 32; k++) {
		hit[k] = !probe(f, s + k, &reads);
		if (hit[k])
			last = k;
	}
	for (k = 0; k < last; k++)
		if (!hit[k])
			hit[k] = !probe(f, s + k, &reads);
}

/*
 * The target's write batch (write.c): sis_core_find_dups() of every block
 * of a 128 KiB bio, which looks once more for the misses before a hook
 * hit (it brought its source page into C).  Bios of duplicates of old
 * data (groups no longer in C) are then found almost whole: the
 * design's 1 - (7/8)^32 = 98.6% per bio when every hook is in H.
 */
TEST(old_stream_found_per_bio)
{
	u32 s, k, found = 0, total = 0, bio;
	u64 p[32];
	struct fx f;

	small_c(&f, 20000, 40000);
	fill(&f, 0, 1, OLD);
	fx_reopen(&f);
	for (bio = 0; bio < 24; bio++) {
		s = 1 + 32 * 9 * bio;		/* groups 0..27: not in C */
		found += probe_batch(&f, s, 32, p);
		for (k = 0; k < 32; k++)
			if (p[k])
				sis_core_unpin(f.c, p[k]);
		total += 32;
	}
	if (getenv("SIS_TEST_VERBOSE"))
		fprintf(stderr, "old stream: %u of %u found\n", found, total);
	ASSERT_TRUE(found * 100 >= total * 90);
	fx_destroy(&f);
}

/*
 * sis_core_find_dups() finds what a writer finds with sis_core_find_dup()
 * per block and again for the misses before a hook hit, on two identical
 * devices, and pins each candidate once.
 */
TEST(find_dups_equals_per_block)
{
	int hit[32], n, found;
	struct fx f, g;
	u64 p[32], q;
	u32 s, k, bio;

	small_c(&f, 20000, 40000);
	fill(&f, 0, 1, OLD);
	fx_reopen(&f);
	small_c(&g, 20000, 40000);
	fill(&g, 0, 1, OLD);
	fx_reopen(&g);
	for (bio = 0; bio < 24; bio++) {
		s = 1 + 32 * 9 * bio;
		probe_per_block(&f, s, hit);
		n = probe_batch(&g, s, 32, p);
		ASSERT_TRUE(n >= 0);
		for (k = 0, found = 0; k < 32; k++) {
			ASSERT_EQ(!!p[k], hit[k]);
			if (!p[k])
				continue;
			found++;
			ASSERT_OK(sis_core_lookup(g.c, 0, s + k - 1, &q));
			ASSERT_EQ(p[k], q);
			ASSERT_EQ(__sis_pin_find(g.c, p[k])->count, 1);
			sis_core_unpin(g.c, p[k]);
			ASSERT_TRUE(!__sis_pin_find(g.c, p[k]));
		}
		ASSERT_EQ(n, found);
	}
	fx_destroy(&f);
	fx_destroy(&g);
}

/*
 * A device of old data (as in hook_hit_loads_group): its first hook of
 * group 1, whose block is put in *@p.
 */
static u32 old_hook(struct fx *f, u64 *p)
{
	u32 s;

	small_c(f, 20000, 40000);
	fill(f, 0, 1, OLD);
	fx_reopen(f);
	for (s = 300; s < 500 && !is_hook(s); s++)
		;
	ASSERT_TRUE(s < 500);
	ASSERT_OK(sis_core_lookup(f->c, 0, s - 1, p));
	return s;
}

/*
 * A miss before a hook hit of the same group is found in the same call
 * (the re-probe moved into the core from write.c); the same fingerprint
 * twice is pinned twice.
 */
TEST(find_dups_reprobes_before_hook)
{
	u32 s, hook, plain = 0;
	u64 reads, p[3], a, b;
	struct fx f;

	hook = old_hook(&f, &a);
	for (s = 300; s < 500 && !plain; s++) {
		if (is_hook(s))
			continue;
		ASSERT_OK(sis_core_lookup(f.c, 0, s - 1, &b));
		if ((a - f.c->data_start) / SIS_GROUP_BLOCKS ==
		    (b - f.c->data_start) / SIS_GROUP_BLOCKS)
			plain = s;
	}
	ASSERT_TRUE(plain);
	sis_core_drop_cache(f.c);
	ASSERT_ERR(probe(&f, plain, &reads), -ENOENT);	/* alone: not found */

	{
		u64 fps[3] = { seed_fp(plain), seed_fp(hook), seed_fp(plain) };

		bool un[3];

		ASSERT_EQ(sis_core_find_dups(f.c, fps, 3, p, un), 3);
	}
	ASSERT_EQ(p[0], b);
	ASSERT_EQ(p[1], a);
	ASSERT_EQ(p[2], b);
	ASSERT_EQ(__sis_pin_find(f.c, b)->count, 2);
	sis_core_unpin(f.c, b);
	sis_core_unpin(f.c, b);
	sis_core_unpin(f.c, a);
	ASSERT_TRUE(!__sis_pin_find(f.c, a) && !__sis_pin_find(f.c, b));
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A metadata error in one look-up (the hook's rc page unreadable) fails
 * the whole call with nothing pinned, not even the candidates found
 * before it, as sis_core_find_dup() of that block fails.
 */
TEST(find_dups_error_pins_nothing)
{
	u64 reads, p[2], a, x, fps[2];
	bool un[2];
	u32 hook;
	struct fx f;

	hook = old_hook(&f, &a);
	ASSERT_OK(fx_write(&f, 30000, 777777));	/* new: its group in C */
	ASSERT_OK(sis_core_lookup(f.c, 0, 30000, &x));
	sis_core_drop_cache(f.c);
	f.d->fail_read = sis_group_rc_block(f.c, (a - f.c->data_start) /
					    SIS_GROUP_BLOCKS);
	fps[0] = seed_fp(777777);
	fps[1] = seed_fp(hook);
	sis_backend_mute++;
	ASSERT_ERR(sis_core_find_dups(f.c, fps, 2, p, un), -EIO);
	ASSERT_ERR(probe(&f, hook, &reads), -EIO);
	sis_backend_mute--;
	f.d->fail_read = U64_MAX;
	ASSERT_TRUE(!__sis_pin_find(f.c, x) && !__sis_pin_find(f.c, a));
	fx_destroy(&f);
}

/*
 * sis_core_find_next_nowait(): the blocks after a candidate, by locality
 * (write.c's duplicates in map() take them without hashing): pinned while
 * each is a mapped data block, in a row; the first block that is free
 * ends the run; a refcount page not cached fails the call with nothing
 * pinned; past the end of the device there is nothing.
 */
TEST(find_next_follows_stored_run)
{
	u64 p[40], q, p0, last;
	unsigned int k, run;
	struct fx f;
	int n;

	fx_format(&f, 4096, 4096);
	fill(&f, 0, 1, 41);
	/* the first write also allocated map pages: start after it */
	ASSERT_OK(sis_core_lookup(f.c, 0, 1, &p0));
	/* the run as the map has it: blocks stored in a row after p0 */
	for (run = 0; run < 39; run++) {
		ASSERT_OK(sis_core_lookup(f.c, 0, 2 + run, &q));
		if (q != p0 + 1 + run)
			break;
	}
	ASSERT_TRUE(run >= 30);
	n = sis_core_find_next_nowait(f.c, p0, 39, p);
	ASSERT_EQ(n, (int)run);
	for (k = 0; k < run; k++) {
		ASSERT_EQ(p[k], p0 + 1 + k);
		ASSERT_EQ(__sis_pin_find(f.c, p[k])->count, 1);
		sis_core_unpin(f.c, p[k]);
	}
	/* a block no logical block maps any more ends the run */
	ASSERT_OK(sis_core_unmap(f.c, 0, 2 + 19, 1));
	n = sis_core_find_next_nowait(f.c, p0, 39, p);
	ASSERT_EQ(n, 19);
	for (k = 0; k < 19; k++)
		sis_core_unpin(f.c, p[k]);
	ASSERT_TRUE(!__sis_pin_find(f.c, p0 + 1));
	/* the device's last block: nothing after it */
	last = 4096 - 1;		/* fx_format()'s size */
	ASSERT_EQ(sis_core_find_next_nowait(f.c, last, 3, p), 0);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * sis_core_find_next_nowait() reads nothing: after a block whose group's
 * refcount page is not cached (old data, its group not resident), it
 * fails with -EWOULDBLOCK and pins nothing.
 */
TEST(find_next_nowait_miss_pins_nothing)
{
	u64 p[8], p0;
	struct fx f;

	small_c(&f, 20000, 40000);
	fill(&f, 0, 1, OLD);
	fx_reopen(&f);
	sis_core_drop_cache(f.c);
	ASSERT_OK(sis_core_lookup(f.c, 0, 100, &p0));
	ASSERT_ERR(sis_core_find_next_nowait(f.c, p0, 8, p), -EWOULDBLOCK);
	ASSERT_TRUE(!__sis_pin_find(f.c, p0 + 1));
	fx_check_clean(&f);
	fx_destroy(&f);
}
