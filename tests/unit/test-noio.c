// SPDX-License-Identifier: GPL-2.0
/*
 * Metadata cache misses are read without the core lock (issue 11 item 2,
 * mcache.c: __sis_op_run(), __sis_mc_fetch()): with a tiny cache, every
 * metadata read of the write, read and discard paths and of the volume
 * operations (create, clone, resize, delete, count_exclusive) happens with
 * c->lock free, a page an operation fetched is not evicted while it drops
 * the lock to commit, and an image that went stale while it was read (a
 * checkpoint wrote the block home meanwhile) is never the one cached.
 */
#include "harness.h"
#include "../../dm-sis/core/core-internal.h"

#define PHYS	16384
#define LOGICAL	200000
#define JOURNAL	1024
#define NBLK	1200
/* unique blocks written after the first NBLK: their groups fill C */
#define FILLER	9000

/* The wrapped read op's view. */
static struct {
	struct fx *f;
	bool armed;		/* count reads */
	unsigned long locked, unlocked;
	/* the stale test: change the block being read, once */
	bool stale_hook;
	u64 stale_lblock;
	u32 stale_seed;
	bool no_ckpt;		/* only overwrite and commit */
	unsigned int stale_more;	/* times to go on after the first */
	bool in_hook;
	unsigned long serial;	/* reads of an op holding commit_mutex */
	int hook_err;
	/* the repeated-miss test: other look-ups during a commit's write */
	bool evict_hook;
} G;

static void force_checkpoint(struct sis_core *c)
{
	int r;

	mutex_lock(&c->commit_mutex);
	mutex_lock(&c->lock);
	c->commit_held = true;
	r = __sis_journal_checkpoint(c);
	c->commit_held = false;
	mutex_unlock(&c->lock);
	mutex_unlock(&c->commit_mutex);
	ASSERT_OK(r);
}

/*
 * After reading a map leaf (without c->lock), and before the core inserts
 * it: overwrite G.stale_lblock, commit, write the leaf home (checkpoint)
 * and evict it, so the image just read is older than home.
 */
static void stale_step(void *buf)
{
	const struct sis_disk_header *h = buf;
	struct fx *f = G.f;

	if (le32_to_cpu(h->type) != SIS_BT_MAP_LEAF)
		return;
	if (mutex_is_locked(&f->c->commit_mutex))
		return;			/* a serial read: nothing can commit */
	if (G.stale_more)
		G.stale_more--;
	else
		G.stale_hook = false;
	G.in_hook = true;
	G.hook_err = fx_write(f, G.stale_lblock, G.stale_seed++);
	if (!G.hook_err)
		G.hook_err = sis_core_commit(f->c);
	if (G.no_ckpt) {
		G.in_hook = false;
		return;
	}
	if (!G.hook_err)
		force_checkpoint(f->c);
	sis_core_drop_cache(f->c);
	G.in_hook = false;
}

static int noio_read(void *ctx, u64 blocknr, void *buf)
{
	int r = memdev_read(ctx, blocknr, buf);

	if (G.armed && G.f->c) {
		if (mutex_is_locked(&G.f->c->lock))
			G.locked++;
		else
			G.unlocked++;
		if (!G.in_hook && mutex_is_locked(&G.f->c->commit_mutex))
			G.serial++;
	}
	if (!r && G.stale_hook && !G.in_hook)
		stale_step(buf);
	return r;
}

static u64 lb(u64 i);

/*
 * Once, at a commit's first write without c->lock: other operations run
 * (look-ups of blocks in other leaves), and their begin trims the 4-page
 * cache, as it would between any two operations.
 */
static int noio_write(void *ctx, u64 blocknr, const void *buf)
{
	struct sis_core *c = G.f->c;
	u64 i, p;

	if (G.evict_hook && c && !mutex_is_locked(&c->lock)) {
		G.evict_hook = false;
		for (i = 0; i < 8 && !G.hook_err; i++) {
			G.hook_err = sis_core_lookup(c, 0, lb(i * 50), &p);
			if (G.hook_err == -ENODATA)
				G.hook_err = 0;
		}
	}
	return memdev_write(ctx, blocknr, buf);
}

/* Reopen @f with a cache of @pages pages and the wrapped I/O ops. */
static void open_small(struct fx *f, unsigned int pages)
{
	sis_core_close(f->c);
	memset(&G, 0, sizeof(G));
	G.f = f;
	f->ops.read = noio_read;
	f->ops.write = noio_write;
	f->cfg.cache_pages = pages;
	f->cfg.flags = 0;
	ASSERT_OK(fx_open(f));
}

/*
 * Blocks @l and @l + 1 written (their data seeded 1 and 2), *@old the
 * block @l maps; then reopened with a cache of 4 pages, all dropped.
 */
static void two_blocks_cold(struct fx *f, u64 l, u64 *old)
{
	fx_format_journal(f, PHYS, LOGICAL, JOURNAL);
	ASSERT_OK(fx_write(f, l, 1));
	ASSERT_OK(fx_write(f, l + 1, 2));
	ASSERT_OK(sis_core_lookup(f->c, 0, l, old));
	open_small(f, 4);
	sis_core_drop_cache(f->c);
}

static u64 locked_reads(struct fx *f)
{
	struct sis_core_stats st;

	sis_core_get_stats(f->c, &st);
	return st.locked_md_reads;
}

static u64 lb(u64 i)
{
	return i * 131 % LOGICAL;
}

/*
 * Unique writes, duplicates of old data (hook hits reading old groups'
 * refcount pages), overwrites, look-ups, read_begin and discards, with a
 * cache of 4 pages dropped between phases: every metadata read happens
 * without c->lock, none is counted as locked, and every block reads back.
 */
TEST(misses_read_without_core_lock)
{
	struct sis_core_stats st0, st;
	u64 base, i, p, pb[4];
	unsigned int ticket;
	u32 refs[4];
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	for (i = 0; i < NBLK; i++)
		ASSERT_OK(fx_write(&f, lb(i), i + 1));
	for (i = 0; i < FILLER; i++)
		ASSERT_OK(fx_write(&f, 160000 + i, 20000 + i));
	open_small(&f, 4);		/* closed: checkpointed, all at home */
	sis_core_drop_cache(f.c);
	sis_core_get_stats(f.c, &st0);
	base = st0.locked_md_reads;
	G.armed = true;

	/* look-ups */
	for (i = 0; i < NBLK; i += 3)
		fx_expect(&f, lb(i), i + 1);
	/* read_begin over mapped and unmapped blocks */
	sis_core_drop_cache(f.c);
	for (i = 0; i < NBLK; i += 7) {
		ASSERT_OK(sis_core_read_begin(f.c, 0, lb(i), 4, pb, refs, false,
					      &ticket));
		sis_core_read_end(f.c, ticket);
		ASSERT_OK(sis_core_lookup(f.c, 0, lb(i), &p));
		ASSERT_EQ(pb[0], p);
		ASSERT_EQ(refs[0], 1);
		ASSERT_EQ(pb[1], 0);
	}
	/* duplicates of old data: hook hits load old groups' rc pages */
	sis_core_drop_cache(f.c);
	for (i = 0; i < NBLK; i++)
		ASSERT_OK(fx_write(&f, lb(i) + 1, i + 1));
	sis_core_get_stats(f.c, &st);
	ASSERT_TRUE(st.index_hook_loads > st0.index_hook_loads);
	/* most of them deduplicated */
	ASSERT_LE(st.nr_data, st0.nr_data + NBLK / 4);
	/* overwrites: the old blocks' rc pages; unique writes */
	sis_core_drop_cache(f.c);
	for (i = 0; i < NBLK; i += 2)
		ASSERT_OK(fx_write(&f, lb(i), 5000 + i));
	for (i = 0; i < NBLK / 2; i++)
		ASSERT_OK(fx_write(&f, lb(i) + 2, 9000 + i));
	/* discards across leaves */
	sis_core_drop_cache(f.c);
	ASSERT_OK(sis_core_unmap(f.c, 0, 1000, 20000));
	ASSERT_OK(sis_core_commit(f.c));
	G.armed = false;

	ASSERT_EQ(G.locked, 0);
	ASSERT_TRUE(G.unlocked > 100);
	ASSERT_EQ(locked_reads(&f), base);
	for (i = 0; i < NBLK; i++) {
		u64 l = lb(i);
		bool gone = l >= 1000 && l < 21000;

		fx_expect(&f, l, gone ? 0 : i % 2 ? i + 1 : 5000 + i);
		fx_expect(&f, l + 1, gone ? 0 : i + 1);
		if (i < NBLK / 2)
			fx_expect(&f, l + 2, gone ? 0 : 9000 + i);
	}
	for (i = 0; i < FILLER; i += 97)
		fx_expect(&f, 160000 + i, 20000 + i);
	fx_check_clean(&f);
	fx_reopen(&f);
	fx_expect(&f, lb(1), 2);
	fx_expect(&f, lb(2), 5002);
	fx_destroy(&f);
}

/*
 * Look up block @l of two_blocks_cold() while the hook makes @times
 * images of its leaf in a row stale (writing seeds 5, 6, ... to it):
 * *@p is what the look-up found, *@old the block @l mapped before.
 */
static void stale_lookup(struct fx *f, u64 l, unsigned int times, u64 *old,
			 u64 *p)
{
	two_blocks_cold(f, l, old);
	G.stale_hook = true;
	G.stale_more = times - 1;
	G.stale_lblock = l;
	G.stale_seed = 5;
	G.armed = true;
	ASSERT_OK(sis_core_lookup(f->c, 0, l, p));
	G.armed = false;
	ASSERT_OK(G.hook_err);
	ASSERT_TRUE(!G.stale_hook && !G.stale_more);	/* it ran @times */
	ASSERT_NE(*p, *old);
}

/*
 * A map leaf read without the lock while another writer changes it,
 * commits and checkpoints it home, and the cache evicts it: the image read
 * is stale, is dropped (c->md_gen moved), and the look-up reads the block
 * again and sees the new mapping.  Without the guard the stale leaf is
 * cached and the look-up returns the freed block.
 */
TEST(stale_unlocked_read_not_cached)
{
	u64 old, p, l = 4321;
	struct fx f;

	stale_lookup(&f, l, 1, &old, &p);
	ASSERT_EQ(f.c->md_stale_reads, 1);
	fx_expect(&f, l, 5);
	fx_expect(&f, l + 1, 2);
	/* a change through the cached leaf keeps both mappings */
	ASSERT_OK(fx_write(&f, l + 1, 8));
	fx_reopen(&f);
	fx_expect(&f, l, 5);
	fx_expect(&f, l + 1, 8);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A nowait read_begin still fails on a miss instead of reading; the same
 * call that may sleep reads the page without the lock.
 */
TEST(nowait_read_begin_misses_without_reading)
{
	unsigned int ticket;
	u64 pb[1];
	u32 refs[1];
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	ASSERT_OK(fx_write(&f, 77, 3));
	open_small(&f, 4);
	sis_core_drop_cache(f.c);
	G.armed = true;
	ASSERT_ERR(sis_core_read_begin(f.c, 0, 77, 1, pb, refs, true, &ticket),
		   -EWOULDBLOCK);
	ASSERT_EQ(G.locked + G.unlocked, 0);
	ASSERT_OK(sis_core_read_begin(f.c, 0, 77, 1, pb, refs, false, &ticket));
	sis_core_read_end(f.c, ticket);
	ASSERT_EQ(G.locked, 0);
	ASSERT_TRUE(G.unlocked >= 2);	/* root, leaf, rc page */
	ASSERT_OK(sis_core_read_begin(f.c, 0, 77, 1, pb, refs, true, &ticket));
	sis_core_read_end(f.c, ticket);
	G.armed = false;
	fx_destroy(&f);
}

/*
 * read_begin of two blocks, the second one's leaf not cached: while it is
 * read without the lock, the first block is overwritten and the commit
 * frees (and releases) its old block.  The mappings returned come from the
 * lock hold that counts the reader, so the first is the new block.
 */
TEST(read_begin_maps_from_its_reader_hold)
{
	u8 want[SIS_BLOCK_SIZE], got[SIS_BLOCK_SIZE];
	u64 old, pb[2], l = SIS_MAP_FANOUT - 1;	/* l + 1: the next leaf */
	unsigned int ticket;
	u32 refs[2];
	struct fx f;

	two_blocks_cold(&f, l, &old);
	/* l's path and refcount page cached, l + 1's leaf not */
	ASSERT_OK(sis_core_read_begin(f.c, 0, l, 1, pb, refs, false, &ticket));
	sis_core_read_end(f.c, ticket);
	ASSERT_EQ(pb[0], old);
	G.stale_hook = true;
	G.no_ckpt = true;
	G.stale_lblock = l;
	G.stale_seed = 3;
	ASSERT_OK(sis_core_read_begin(f.c, 0, l, 2, pb, refs, false, &ticket));
	ASSERT_OK(G.hook_err);
	ASSERT_TRUE(!G.stale_hook);	/* the hook ran */
	ASSERT_NE(pb[0], old);
	ASSERT_OK(memdev_read(f.d, pb[0], got));
	gen_block(3, want);
	ASSERT_TRUE(!memcmp(got, want, SIS_BLOCK_SIZE));
	ASSERT_OK(memdev_read(f.d, pb[1], got));
	gen_block(2, want);
	ASSERT_TRUE(!memcmp(got, want, SIS_BLOCK_SIZE));
	sis_core_read_end(f.c, ticket);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * One step of an operation reads block @a->lblock's map path, commits
 * (dropping c->lock: other operations trim the cache meanwhile), and reads
 * the path again.  The pages it fetched stay pinned for the step, so the
 * second look stays in the cache; before the pins, those pages were
 * evicted and read again under c->lock (a block missed twice in a step).
 */
struct twice_op {
	u64 lblock, pblock;
	bool committed;
};

static int __twice_run(struct sis_core *c, void *arg)
{
	struct twice_op *a = arg;
	struct sis_disk_volume *v = __sis_vol_find(c, 0);
	int r;

	r = __sis_map_lookup(c, v, a->lblock, &a->pblock, NULL, NULL, NULL);
	if (r || a->committed)
		return r;
	a->committed = true;
	G.evict_hook = true;
	r = __sis_commit_room(c, sis_txn_cap(c));	/* drops c->lock */
	G.evict_hook = false;
	if (r)
		return r;
	v = __sis_vol_find(c, 0);
	return __sis_map_lookup(c, v, a->lblock, &a->pblock, NULL, NULL, NULL);
}

TEST(missed_twice_in_a_step_not_read_locked)
{
	struct twice_op a = { .lblock = lb(7) };
	u64 i, p, base;
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	for (i = 0; i < 400; i++)
		ASSERT_OK(fx_write(&f, lb(i), i + 1));
	open_small(&f, 4);
	ASSERT_OK(fx_write(&f, 3, 9));		/* something to commit */
	sis_core_drop_cache(f.c);
	base = locked_reads(&f);
	G.armed = true;
	mutex_lock(&f.c->lock);
	__sis_op_begin(f.c);
	ASSERT_OK(__sis_op_run(f.c, __twice_run, &a));
	__sis_op_end(f.c);
	mutex_unlock(&f.c->lock);
	G.armed = false;
	ASSERT_OK(G.hook_err);
	ASSERT_TRUE(a.committed && !G.evict_hook);	/* the hook ran */
	ASSERT_EQ(G.locked, 0);
	ASSERT_EQ(locked_reads(&f), base);
	ASSERT_OK(sis_core_lookup(f.c, 0, lb(7), &p));
	ASSERT_EQ(a.pblock, p);
	fx_expect(&f, lb(7), 8);
	fx_expect(&f, 3, 9);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* What the volume operations below report, to compare two cache sizes. */
enum {
	R_X0, R_X1, R_X0_CLONED, R_X2, R_X2_WRITTEN, R_X2_ALONE, R_X3,
	R_DATA, R_META, R_MAPPED, R_VOLUMES, R_NR
};

#define VOL_N	1500	/* blocks of volume 0, every tenth a duplicate */

/* Volume 0 over many leaves (some blocks twice), volume 1 sharing some. */
static void vols_setup(struct fx *f)
{
	u64 i;

	fx_format_journal(f, PHYS, LOGICAL, JOURNAL);
	f->vol = 0;
	for (i = 0; i < VOL_N; i++)
		ASSERT_OK(fx_write(f, lb(i), i % 10 ? i + 1 : i / 10 + 1));
	ASSERT_OK(sis_core_volume_create(f->c, 1, 50000, "one"));
	f->vol = 1;
	for (i = 0; i < 300; i++)
		ASSERT_OK(fx_write(f, i * 97 % 50000, i % 3 ? 30000 + i : i + 1));
	f->vol = 0;
}

static u64 vol_exclusive(struct fx *f, u32 vol)
{
	u64 x = ~0ULL;

	ASSERT_OK(sis_core_count_exclusive(f->c, vol, &x));
	return x;
}

/*
 * Count, clone, write to the clone, resize (new top pages), create,
 * delete an exclusive volume and the clone's origin, count again.
 */
static void vols_ops(struct fx *f, u64 *res)
{
	struct sis_core_stats st;
	u64 i;

	res[R_X0] = vol_exclusive(f, 0);
	res[R_X1] = vol_exclusive(f, 1);
	ASSERT_OK(sis_core_volume_clone(f->c, 2, 0, "two"));
	res[R_X0_CLONED] = vol_exclusive(f, 0);
	res[R_X2] = vol_exclusive(f, 2);
	f->vol = 2;
	for (i = 0; i < 60; i++)
		ASSERT_OK(fx_write(f, lb(i * 20), 40000 + i));
	res[R_X2_WRITTEN] = vol_exclusive(f, 2);
	ASSERT_OK(sis_core_volume_resize(f->c, 0, 600000));
	ASSERT_OK(sis_core_volume_resize(f->c, 1, 300000));
	ASSERT_OK(sis_core_volume_create(f->c, 3, 1000, "three"));
	f->vol = 3;
	for (i = 0; i < 5; i++)
		ASSERT_OK(fx_write(f, i, 50000 + i));
	ASSERT_OK(sis_core_volume_delete(f->c, 1));
	ASSERT_OK(sis_core_volume_delete(f->c, 0));
	res[R_X2_ALONE] = vol_exclusive(f, 2);
	res[R_X3] = vol_exclusive(f, 3);
	ASSERT_OK(sis_core_commit(f->c));
	sis_core_get_stats(f->c, &st);
	res[R_DATA] = st.nr_data;
	res[R_META] = st.nr_meta;
	res[R_MAPPED] = st.nr_mapped;
	res[R_VOLUMES] = st.nr_volumes;
}

/* The clone's data after vols_ops(). */
static void vols_expect(struct fx *f)
{
	u64 i;

	f->vol = 2;
	for (i = 0; i < VOL_N; i++)
		fx_expect(f, lb(i), i % 20 == 0 && i < 1200 ? 40000 + i / 20 :
			  i % 10 ? i + 1 : i / 10 + 1);
	f->vol = 3;
	for (i = 0; i < 5; i++)
		fx_expect(f, i, 50000 + i);
	f->vol = 0;
}

/*
 * With a 4-page cache, dropped before: the volume operations read every
 * metadata block they miss without c->lock (none counted as locked), and
 * report what they report with the default cache.
 */
TEST(volume_ops_read_without_core_lock)
{
	u64 want[R_NR], got[R_NR], base;
	struct fx f;
	int i;

	vols_setup(&f);
	vols_ops(&f, want);
	vols_expect(&f);
	fx_check_clean(&f);
	fx_destroy(&f);
	ASSERT_EQ(want[R_X0_CLONED], 0);	/* all under the shared root */
	ASSERT_EQ(want[R_X2], 0);
	ASSERT_TRUE(want[R_X0] > 1000);
	ASSERT_EQ(want[R_X2_ALONE], want[R_DATA] - 5);
	ASSERT_EQ(want[R_X3], 5);
	ASSERT_EQ(want[R_VOLUMES], 2);

	vols_setup(&f);
	open_small(&f, 4);
	sis_core_drop_cache(f.c);
	base = locked_reads(&f);
	G.armed = true;
	vols_ops(&f, got);
	G.armed = false;
	ASSERT_EQ(G.locked, 0);
	ASSERT_TRUE(G.unlocked > 100);
	ASSERT_EQ(locked_reads(&f), base);
	for (i = 0; i < R_NR; i++)
		ASSERT_EQ(got[i], want[i]);
	vols_expect(&f);
	fx_check_clean(&f);
	fx_reopen(&f);
	vols_expect(&f);
	fx_destroy(&f);
}

/* The fingerprint of the data of seed @seed. */
static u64 seed_fp(u32 seed)
{
	u8 buf[SIS_BLOCK_SIZE];

	gen_block(seed, buf);
	return sis_fingerprint(buf);
}

/*
 * The nowait calls of a target's map() (dm-sis/write.c, sis_write_fast()):
 * on a cold 4-page cache, sis_core_find_dups_nowait() of old data (a hook
 * hit on a refcount page not cached) and sis_core_map_batch_nowait() of a
 * block whose map leaf is not cached read nothing and fail with
 * -EWOULDBLOCK, leaving nothing pinned and the old mapping; the waiting
 * calls then do the same work, after which the nowait ones succeed without
 * a read, and everything reads back.
 */
TEST(nowait_dup_write_reads_nothing)
{
	u64 fps[2], pbs[2], p, old, dst = lb(300);
	int res[2];
	bool un[2];
	struct fx f;
	u64 i;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	for (i = 0; i < 400; i++)
		ASSERT_OK(fx_write(&f, lb(i), i + 1));
	ASSERT_OK(sis_core_lookup(f.c, 0, dst, &old));
	open_small(&f, 4);
	sis_core_drop_cache(f.c);
	fps[0] = seed_fp(8);		/* the data of lb(7) and lb(8)... */
	fps[1] = seed_fp(9);

	G.armed = true;
	ASSERT_EQ(sis_core_find_dups_nowait(f.c, fps, 2, pbs, un), -EWOULDBLOCK);
	ASSERT_EQ(G.locked + G.unlocked, 0);
	G.armed = false;
	ASSERT_EQ(sis_core_find_dups(f.c, fps, 2, pbs, un), 2);
	ASSERT_TRUE(pbs[0] && pbs[1] && !un[0] && !un[1]);
	sis_core_unpin(f.c, pbs[0]);
	sis_core_unpin(f.c, pbs[1]);
	ASSERT_EQ(sis_core_find_dups_nowait(f.c, fps, 2, pbs, un), 2);
	sis_core_unpin(f.c, pbs[0]);
	sis_core_unpin(f.c, pbs[1]);

	/* ...mapped to lb(300) and the block after: its leaf is not cached */
	sis_core_drop_cache(f.c);
	ASSERT_EQ(sis_core_find_dups(f.c, fps, 2, pbs, un), 2);
	sis_core_drop_cache(f.c);
	G.armed = true;
	ASSERT_EQ(sis_core_map_batch_nowait(f.c, 0, dst, 2, pbs, res, pbs, 2),
		  -EWOULDBLOCK);
	ASSERT_EQ(G.locked + G.unlocked, 0);
	G.armed = false;
	ASSERT_OK(sis_core_lookup(f.c, 0, dst, &p));
	ASSERT_EQ(p, old);		/* nothing changed, and no pin left: */
	fx_check_clean(&f);
	ASSERT_EQ(sis_core_find_dups(f.c, fps, 2, pbs, un), 2);
	ASSERT_OK(sis_core_map_batch(f.c, 0, dst, 1, pbs, res, NULL, 0));
	ASSERT_OK(res[0]);
	/* cached now: the nowait call maps without a read (again for dst) */
	G.armed = true;
	ASSERT_OK(sis_core_map_batch_nowait(f.c, 0, dst, 2, pbs, res, pbs, 2));
	ASSERT_EQ(G.locked + G.unlocked, 0);
	G.armed = false;
	ASSERT_OK(res[0]);
	ASSERT_OK(res[1]);
	fx_expect(&f, dst, 8);
	fx_expect(&f, dst + 1, 9);
	fx_check_clean(&f);
	fx_reopen(&f);
	fx_expect(&f, dst, 8);
	fx_expect(&f, dst + 1, 9);
	fx_destroy(&f);
}

/*
 * The same volume operations on a cold 4-page cache, with every allocation
 * of a grown pin list failing (32 pins, the first growth past the 16
 * inline ones): a step that pins more than 16 pages takes one of the
 * core's spare lists instead, so nothing fails and no spare is lost.
 * Before the spares, the first growth failed count_exclusive with -ENOMEM.
 */
TEST(op_pins_grow_into_spares_without_allocating)
{
	u64 want[R_NR], got[R_NR];
	struct fx f;
	int i;

	vols_setup(&f);
	vols_ops(&f, want);
	fx_destroy(&f);

	vols_setup(&f);
	open_small(&f, 4);
	sis_core_drop_cache(f.c);
	sis_compat_fail_alloc_size = 2 * ARRAY_SIZE(((struct sis_op_ctx *)0)->inline_pins) *
				     sizeof(u64);
	vols_ops(&f, got);
	sis_compat_fail_alloc_size = 0;
	for (i = 0; i < R_NR; i++)
		ASSERT_EQ(got[i], want[i]);
	ASSERT_EQ(f.c->nr_op_spares, SIS_OP_SPARES);
	vols_expect(&f);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * Two images of a map leaf in a row go stale while read (a checkpoint
 * each time): the third read holds commit_mutex, so no checkpoint can run
 * meanwhile, and still not c->lock.  Before, it was read under c->lock.
 */
TEST(third_read_after_two_stale_holds_commit_mutex)
{
	u64 old, p, l = 4321;
	struct fx f;

	stale_lookup(&f, l, 2, &old, &p);
	ASSERT_EQ(f.c->md_stale_reads, 2);
	ASSERT_EQ(f.c->md_serial_reads, 1);
	ASSERT_EQ(G.serial, 1);
	ASSERT_EQ(G.locked, 0);
	ASSERT_EQ(locked_reads(&f), 0);
	fx_expect(&f, l, 6);
	fx_expect(&f, l + 1, 2);
	fx_reopen(&f);
	fx_expect(&f, l, 6);
	fx_check_clean(&f);
	fx_destroy(&f);
}
