// SPDX-License-Identifier: GPL-2.0
/*
 * space-map.c through the API: allocation, pins, freeing only after the
 * commit that freed is durable, ENOSPC and recovery from it, discard
 * passdown of freed blocks, and allocation failure injection.
 */
#include <pthread.h>
#include <unistd.h>
#include "harness.h"
#include "../../dm-sis/core/core-internal.h"

#define PHYS	2048
#define LOGICAL	8192

TEST(freed_blocks_not_reused_before_commit)
{
	struct sis_core_stats st;
	u64 p_old, p, i, commits;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 0, 1));
	ASSERT_OK(sis_core_lookup(f.c, 0, 0, &p_old));
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
	ASSERT_OK(sis_core_unmap(f.c, 0, 0, l / 2));
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
	ASSERT_OK(sis_core_lookup(f.c, 0, 3, &p));
	ASSERT_OK(sis_core_commit(f.c));
	d0 = f.d->discarded_blocks;
	ASSERT_OK(sis_core_unmap(f.c, 0, 3, 1));
	ASSERT_EQ(f.d->discarded_blocks, d0);	/* not before the commit */
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_EQ(f.d->discarded_blocks, d0 + 1);
	/* passdown off: nothing is discarded */
	sis_core_set_discard_passdown(f.c, false);
	ASSERT_OK(fx_write(&f, 4, 44));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(sis_core_unmap(f.c, 0, 4, 1));
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
	ASSERT_OK(sis_core_unmap(f.c, 0, 0, 99));
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.nr_data, 1);
	ASSERT_EQ(st.nr_pending_free, 0);
	fx_expect(&f, 99, 5);
	ASSERT_OK(sis_core_unmap(f.c, 0, 99, 1));
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
 * sis_core_read_begin(): unmapped blocks come back as 0, mapped ones with
 * their reference count; a block freed while a read of it is in flight is
 * neither reused nor discarded: the commit that would release it waits
 * for the read (sis_core_read_end(), here from another thread), and only
 * then is the block free as usual.  A block mapped and freed within one
 * transaction (never committed) waits for a commit too.  A nowait look-up
 * never reads metadata.
 */
struct read_end_arg {
	struct sis_core *c;
	unsigned int ticket;
	int ended;
};

static void *read_end_later(void *p)
{
	struct read_end_arg *a = p;

	usleep(200000);
	__atomic_store_n(&a->ended, 1, __ATOMIC_SEQ_CST);
	sis_core_read_end(a->c, a->ticket);
	return NULL;
}

TEST(read_begin_protects_against_reuse_and_discard)
{
	struct read_end_arg arg;
	u64 pb[4], p, i, d0;
	unsigned int ticket;
	pthread_t t;
	u32 refs[4];
	struct fx f;
	int r;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 10, 5));
	ASSERT_OK(fx_write(&f, 11, 6));
	ASSERT_OK(fx_write(&f, 13, 6));		/* shares 11's block */
	for (i = 0; ; i++) {			/* fill: only the reserve left */
		r = fx_write(&f, 100 + i, 7000 + i);
		if (r == -ENOSPC)
			break;
		ASSERT_OK(r);
	}
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(sis_core_read_begin(f.c, 0, 10, 4, pb, refs, false, &ticket));
	ASSERT_TRUE(pb[0] && pb[1] && pb[3]);
	ASSERT_EQ(pb[2], 0);
	ASSERT_EQ(pb[1], pb[3]);
	ASSERT_EQ(refs[0], 1);
	ASSERT_EQ(refs[1], 2);
	ASSERT_EQ(refs[2], 0);
	ASSERT_EQ(sis_core_read_begin(f.c, 0, LOGICAL - 2, 4, pb + 1, refs, false,
				      &arg.ticket), -EINVAL);

	/*
	 * Free 10's block under the read: not allocatable, not discarded;
	 * the commit that releases it waits for the read to end.
	 */
	d0 = f.d->discarded_blocks;
	ASSERT_OK(sis_core_unmap(f.c, 0, 10, 1));
	ASSERT_ERR(sis_core_alloc(f.c, 9999, &p), -ENOSPC);
	arg.c = f.c;
	arg.ticket = ticket;
	arg.ended = 0;
	ASSERT_OK(pthread_create(&t, NULL, read_end_later, &arg));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_TRUE(__atomic_load_n(&arg.ended, __ATOMIC_SEQ_CST));
	ASSERT_OK(pthread_join(t, NULL));
	ASSERT_EQ(f.d->discarded_blocks, d0 + 1);	/* after the read */
	ASSERT_OK(sis_core_alloc(f.c, 9999, &p));	/* the one freed block */
	sis_core_unpin(f.c, p);

	/* mapped and freed in one transaction: still waits for a commit */
	ASSERT_OK(fx_write(&f, 20, 900000));	/* new data: a free block */
	ASSERT_OK(sis_core_lookup(f.c, 0, 20, &p));
	ASSERT_OK(sis_core_read_begin(f.c, 0, 20, 1, pb, refs, false, &ticket));
	ASSERT_OK(sis_core_unmap(f.c, 0, 20, 1));
	ASSERT_ERR(sis_core_alloc(f.c, 9998, &pb[1]), -ENOSPC);
	sis_core_read_end(f.c, ticket);
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_OK(sis_core_alloc(f.c, 9998, &pb[1]));
	sis_core_unpin(f.c, pb[1]);

	/* nowait: a page not in the cache is -EWOULDBLOCK, no I/O */
	sis_core_drop_cache(f.c);
	ASSERT_EQ(sis_core_read_begin(f.c, 0, 11, 1, pb, refs, true, &ticket),
		  -EWOULDBLOCK);
	ASSERT_OK(sis_core_read_begin(f.c, 0, 11, 1, pb, refs, false, &ticket));
	sis_core_read_end(f.c, ticket);
	ASSERT_OK(sis_core_read_begin(f.c, 0, 11, 1, pb, refs, true, &ticket));
	ASSERT_EQ(refs[0], 2);
	sis_core_read_end(f.c, ticket);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* ---- The free-space summary (issue 12, item 4) ---- */

#define BIG_PHYS	40055	/* 157 groups; the last one holds 116 data blocks */
#define BIG_LOGICAL	60000

/* Write unique data from logical block *@l on until -ENOSPC. */
static void fill_to_enospc(struct fx *f, u64 *l, u32 seed_base)
{
	int r;

	for (;; (*l)++) {
		r = fx_write(f, *l, seed_base + *l);
		if (r == -ENOSPC)
			break;
		ASSERT_OK(r);
	}
}

static u64 group_of(struct fx *f, u64 pblock)
{
	return (pblock - f->c->data_start) / SIS_GROUP_BLOCKS;
}

/*
 * Cost: on a full device whose only free blocks are in its last group, the
 * allocator must not read every full group's refcount page again for each
 * allocation.  Each allocation here is handed back unmapped (a failed data
 * write), so the cursor keeps passing the free blocks and every few
 * allocations it has to wrap round the whole device; the metadata cache is
 * dropped before each allocation, so every refcount page it looks at is a
 * metadata read.  One full pass (which marks the groups full) is allowed;
 * after it, an allocation may read at most 2 pages (and look at at most 2,
 * stats.alloc_pages_scanned).
 *
 * The free blocks (the 4 freed and the map-page reserve) all lie in the
 * last group, so the cursor passes them all every 68 allocations.
 * Checked on the unchanged allocator (tree 68a0522): fails, allocations
 * 64, 132, 200 and 268 each read all 155 refcount pages ("over == 0: 3").
 */
TEST(alloc_skips_full_groups_cost)
{
	u64 l = 0, p, i, last, freed = 0, reads, worst = 0, over = 0;
	u64 scanned, wraps = 0;
	struct sis_core_stats st;
	struct fx f;

	fx_format(&f, BIG_PHYS, BIG_LOGICAL);
	fill_to_enospc(&f, &l, 1);
	last = f.c->nr_groups - 1;
	ASSERT_TRUE(last > 100);
	/* free 4 scattered blocks of the last group */
	for (i = 0; i < l && freed < 4; i += 7) {
		if (sis_core_lookup(f.c, 0, i, &p) || group_of(&f, p) != last)
			continue;
		ASSERT_OK(sis_core_unmap(f.c, 0, i, 1));
		freed++;
	}
	ASSERT_EQ(freed, 4);
	fx_reopen(&f);			/* checkpointed: every page clean */
	sis_core_get_stats(f.c, &st);
	ASSERT_TRUE(st.nr_free > SIS_META_RESERVE);

	for (i = 0; i < 300; i++) {
		sis_core_drop_cache(f.c);
		reads = f.d->reads;
		sis_core_get_stats(f.c, &st);
		scanned = st.alloc_pages_scanned;
		ASSERT_OK(sis_core_alloc(f.c, 5000000 + i, &p));
		reads = f.d->reads - reads;
		sis_core_get_stats(f.c, &st);
		scanned = st.alloc_pages_scanned - scanned;
		ASSERT_LE(reads, scanned);
		if (scanned > 2)
			wraps++;
		ASSERT_EQ(group_of(&f, p), last);
		if (getenv("SIS_TEST_VERBOSE"))
			fprintf(stderr, "alloc %llu: block %llu, %llu reads\n",
				i, p, reads);
		sis_core_unpin(f.c, p);
		if (reads > worst) {
			if (worst > 2)
				over++;
			worst = reads;
		} else if (reads > 2) {
			over++;
		}
	}
	/* one full pass (the worst allocation) at most; the rest are cheap */
	ASSERT_LE(worst, f.c->nr_groups + 8);
	ASSERT_EQ(over, 0);
	ASSERT_LE(wraps, 1);	/* the page visits, cached or not, too */
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Groups the summary marks full now. */
static u64 summary_full_groups(struct fx *f)
{
	u64 g, n = 0;

	for (g = 0; g < f->c->nr_groups; g++)
		n += !!(f->c->sm_full[g / 64] & BIT_ULL(g % 64));
	return n;
}

/*
 * The summary's invariant, checked against the refcount pages: a group
 * marked full holds no free block (allocatable, freed in the open
 * transaction, or pinned), and a second-level bit is set iff its word is.
 */
static void assert_summary_sound(struct fx *f)
{
	struct sis_core *c = f->c;
	u64 g, b, end = le64_to_cpu(c->root.physical_blocks), bad = 0, w;
	struct sis_disk_rc *rc;
	struct sis_page *pg;

	mutex_lock(&c->lock);
	for (g = 0; g < c->nr_groups; g++) {
		if (!(c->sm_full[g / 64] & BIT_ULL(g % 64)))
			continue;
		for (b = sis_group_rc_block(c, g) + 1;
		     b < sis_group_rc_block(c, g + 1) && b < end; b++) {
			if (__sis_rc_get(c, NULL, b, &pg, &rc))
				bad = b;
			else if (!rc->refcount)
				bad = b;
		}
	}
	for (w = 0; w < DIV_ROUND_UP(c->sm_groups, 64); w++)
		if (!(c->sm_full2[w / 64] & BIT_ULL(w % 64)) !=
		    (c->sm_full[w] != ~0ULL))
			bad = w + 1;
	mutex_unlock(&c->lock);
	if (bad)
		FAIL_TEST("free block %llu in a group marked full",
			  (unsigned long long)bad);
}

#define MAX_FREED	512

/*
 * Unmap mapped logical blocks below @l_end, one per group from group @g0
 * on, every @stride groups; commit.
 */
static unsigned int free_scattered(struct fx *f, u64 l_end, u64 g0,
				   u64 stride, u64 *freed)
{
	unsigned int n = 0, k;
	u64 l, p, g;

	for (l = 0; l < l_end && n < MAX_FREED; l++) {
		if (sis_core_lookup(f->c, 0, l, &p))
			continue;
		g = group_of(f, p);
		if (g < g0 || (g - g0) % stride)
			continue;
		for (k = 0; k < n && group_of(f, freed[k]) != g; k++)
			;
		if (k < n)
			continue;
		ASSERT_OK(sis_core_unmap(f->c, 0, l, 1));
		freed[n++] = p;
	}
	ASSERT_OK(sis_core_commit(f->c));
	assert_summary_sound(f);
	return n;
}

/*
 * Write new data from *@l until -ENOSPC: the device must end up full (a
 * block lost behind a wrong "full" bit makes the allocator find the
 * counters wrong and abort), the summary sound, and of @freed, all but at
 * most the map-page reserve mapped again.
 */
static void refill_finds(struct fx *f, u64 *l, u32 seed, const u64 *freed,
			 unsigned int n)
{
	struct sis_core_stats st;
	unsigned int k, reused = 0;
	u64 l0 = *l, i, p;
	bool found;

	fill_to_enospc(f, l, seed);
	sis_core_get_stats(f->c, &st);
	ASSERT_EQ(st.mode, SIS_MODE_WRITE);
	ASSERT_LE(st.nr_free, SIS_META_RESERVE);
	for (k = 0; k < n; k++) {
		found = false;
		for (i = l0; i < *l && !found; i++)
			found = !sis_core_lookup(f->c, 0, i, &p) && p == freed[k];
		reused += found;
	}
	ASSERT_LE(n, reused + SIS_META_RESERVE + 1);
	assert_summary_sound(f);
}

/*
 * Allocate and hand back (unmapped) until the cursor has gone round the
 * whole device once: the lap marks every full group in the summary.
 * Returns whether @want came back.  On a full device, logical blocks
 * @l - 2 and @l - 1 are unmapped first to make room.
 */
static bool alloc_lap(struct fx *f, u64 want, u64 l)
{
	struct sis_core_stats st;
	bool seen = false;
	u64 i, p;

	sis_core_get_stats(f->c, &st);
	if (st.nr_free <= SIS_META_RESERVE + 1) {
		ASSERT_OK(sis_core_unmap(f->c, 0, l - 2, 2));
		ASSERT_OK(sis_core_commit(f->c));
		sis_core_get_stats(f->c, &st);
	}
	for (i = 0; i < st.nr_free + 2; i++) {
		ASSERT_OK(sis_core_alloc(f->c, 7000000 + i, &p));
		seen |= p == want;
		sis_core_unpin(f->c, p);
	}
	assert_summary_sound(f);
	return seen;
}

/*
 * Correctness: blocks freed in groups the summary marks full are all found
 * again, after a commit, after a crash and reopen, after an abort and
 * reopen, and a device grown by a partial group is filled completely.
 */
TEST(alloc_summary_loses_no_free_block)
{
	u64 freed[MAX_FREED], l = 0;
	struct sis_core_stats st;
	unsigned int n;
	struct fx f;

	fx_format(&f, BIG_PHYS, BIG_LOGICAL);
	fill_to_enospc(&f, &l, 1);
	alloc_lap(&f, 0, l);
	ASSERT_TRUE(summary_full_groups(&f) > f.c->nr_groups / 2);

	/* scattered over groups marked full: found after the commit */
	n = free_scattered(&f, l, 1, 1, freed);
	ASSERT_TRUE(n > 2 * SIS_META_RESERVE);
	refill_finds(&f, &l, 1, freed, n);
	alloc_lap(&f, 0, l);
	ASSERT_TRUE(summary_full_groups(&f) > f.c->nr_groups / 2);

	/* after a crash and reopen */
	n = free_scattered(&f, l, 2, 1, freed);
	ASSERT_TRUE(n > 2 * SIS_META_RESERVE);
	fx_crash(&f, 0, false);
	fx_reopen(&f);
	refill_finds(&f, &l, 1, freed, n);
	alloc_lap(&f, 0, l);

	/* after an abort (its rollback) and reopen */
	n = free_scattered(&f, l, 3, 1, freed);
	ASSERT_TRUE(n > 2 * SIS_META_RESERVE);
	ASSERT_OK(fx_write(&f, l, 1 + l));	/* allocates one of them */
	l++;
	sis_core_drop_cache(f.c);
	f.d->fail_read = sis_group_rc_block(f.c, 0);
	sis_backend_mute++;
	ASSERT_ERR(sis_core_unmap(f.c, 0, 0, l), -EIO);
	sis_backend_mute--;
	f.d->fail_read = U64_MAX;
	sis_core_get_stats(f.c, &st);
	ASSERT_TRUE(st.aborted);
	l--;				/* that write was rolled back */
	sis_core_close(f.c);
	f.cfg.flags = SIS_OPEN_IGNORE_CHECK;
	ASSERT_OK(fx_open(&f));
	refill_finds(&f, &l, 1, freed, n);
	alloc_lap(&f, 0, l);
	ASSERT_TRUE(summary_full_groups(&f) > f.c->nr_groups / 2);

	/* after growing by part of a group: the old last group gains blocks */
	ASSERT_OK(memdev_resize(f.d, BIG_PHYS + 100));
	ASSERT_OK(sis_core_resize(f.c, BIG_PHYS + 100));
	ASSERT_OK(memdev_resize(f.d, BIG_PHYS + 1000));
	ASSERT_OK(sis_core_resize(f.c, BIG_PHYS + 1000));
	refill_finds(&f, &l, 1, freed, 0);
	ASSERT_OK(sis_core_commit(f.c));
	fx_check_clean(&f);
	f.cfg.physical_blocks = BIG_PHYS + 1000;
	fx_reopen(&f);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A group whose only free block is pinned is not marked full: -ENOSPC
 * while the pin lasts (not a counter error), and the block is found once
 * the pin goes.
 */
TEST(alloc_summary_pinned_free_block)
{
	u64 l = 0, p, pinned, fp;
	u8 buf[SIS_BLOCK_SIZE];
	struct fx f;

	fx_format(&f, BIG_PHYS, BIG_LOGICAL);
	fill_to_enospc(&f, &l, 1);
	alloc_lap(&f, 0, l);
	ASSERT_OK(sis_core_lookup(f.c, 0, 5, &p));
	ASSERT_TRUE(f.c->sm_full[group_of(&f, p) / 64] &
		    BIT_ULL(group_of(&f, p) % 64));

	/* pin a mapped block as a duplicate writer would, then free it */
	gen_block(1 + 5, buf);
	fp = sis_fingerprint(buf);
	ASSERT_OK(sis_core_find_dup(f.c, fp, &pinned));
	ASSERT_EQ(pinned, p);
	ASSERT_OK(sis_core_unmap(f.c, 0, 5, 1));
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_TRUE(!alloc_lap(&f, pinned, l));	/* not handed out, not marked */
	sis_core_unpin(f.c, pinned);
	assert_summary_sound(&f);
	ASSERT_TRUE(alloc_lap(&f, pinned, l));	/* found once unpinned */
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A target's discard may only start the discard (sis_io_ops.discard_wait
 * set): the core waits for every discard of a passdown round before any of
 * its blocks can be allocated again.  The device here queues discards and
 * does them only when waited for; after the freed blocks were all reused,
 * whatever is still queued is done (a discard completing late), and every
 * block must read back as written: a discard that landed on reused blocks
 * would poison them.
 */
TEST(async_discard_waited_before_reuse)
{
	u8 buf[SIS_BLOCK_SIZE], want[SIS_BLOCK_SIZE];
	u64 l, i, p, n = 200, extra, reused, old[200];
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	f.d->async_discard = true;
	f.c->ops.discard_wait = memdev_discard_wait;
	for (l = 0; l < n; l++)
		ASSERT_OK(fx_write(&f, l, 1 + l));
	ASSERT_OK(sis_core_commit(f.c));
	for (l = 0; l < n; l++) {	/* frees the n blocks */
		ASSERT_OK(sis_core_lookup(f.c, 0, l, &old[l]));
		ASSERT_OK(fx_write(&f, l, 1001 + l));
	}
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_TRUE(f.d->discards > 0);
	ASSERT_TRUE(f.d->discard_waits > 0);
	ASSERT_EQ(f.d->dq_len, 0);	/* waited for within the commit */
	ASSERT_EQ(f.d->discarded_blocks, n);

	/* every free block used again, the freed ones among them */
	for (extra = 0; ; extra++) {
		int r = fx_write(&f, n + extra, 5001 + extra);

		if (r == -ENOSPC)
			break;
		ASSERT_OK(r);
	}
	for (l = n, reused = 0; l < n + extra; l++) {
		ASSERT_OK(sis_core_lookup(f.c, 0, l, &p));
		for (i = 0; i < n; i++)
			reused += p == old[i];
	}
	ASSERT_TRUE(reused >= n / 2);
	ASSERT_OK(memdev_discard_wait(f.d));	/* late completions */
	for (l = 0; l < n + extra; l++) {
		gen_block(l < n ? 1001 + l : 5001 + l - n, want);
		ASSERT_OK(fx_read(&f, l, buf));
		ASSERT_TRUE(!memcmp(buf, want, SIS_BLOCK_SIZE));
	}
	fx_check_clean(&f);
	fx_destroy(&f);
}
