// SPDX-License-Identifier: GPL-2.0
/*
 * Commits run their I/O without the core lock (issue 11 item 2): an ops
 * table whose writes, flushes and discards call back into the test while
 * the commit waits for them.  From there the test takes c->lock, maps new
 * blocks into the next transaction and looks blocks up, all while the
 * commit's journal body, commit block, flushes, discards and checkpoint
 * are in flight.  A crash at every one of those steps recovers to the
 * transaction before or the one being committed, never a mix, and never
 * shows what the next transaction mapped.  A commit whose transaction
 * freed blocks waits for the reads begun before it without c->lock, and
 * the freed blocks stay unallocatable until then.
 */
#include <pthread.h>
#include <unistd.h>
#include "harness.h"
#include "../../dm-sis/core/core-internal.h"

/* The hook: what the test does at each I/O op of an armed commit. */
static struct {
	struct fx *f;
	bool armed;
	long step;		/* I/O ops seen while armed */
	long die_at;		/* power is lost before this op; 0: never */
	int lock_busy;		/* ops that found c->lock held */
	int errors;		/* failed actions in the hook */
	u64 forbidden;		/* a block the allocator must not hand out */
	int extra;		/* blocks mapped from the hook */
	bool in_hook;		/* the hook's own I/O is no commit step */
} H;

#define EXTRA_BASE	400
#define EXTRA_SEED	5000

/* One step of the commit is about to be issued: act as another thread. */
static void hook_step(void)
{
	struct fx *f = H.f;
	u64 p, l;
	int r;

	if (!H.armed || H.in_hook)
		return;
	H.step++;
	if (H.die_at && H.step >= H.die_at) {
		if (H.step == H.die_at)
			memdev_die_after(f->d, 0);
		return;		/* the power is gone: no more writers */
	}
	if (!mutex_trylock(&f->c->lock)) {
		H.lock_busy++;
		return;
	}
	if (H.forbidden)
		f->c->root.alloc_cursor = cpu_to_le64(H.forbidden);
	mutex_unlock(&f->c->lock);

	l = EXTRA_BASE + H.extra;
	H.in_hook = true;
	r = fx_write(f, l, EXTRA_SEED + H.extra);
	if (r) {
		fprintf(stderr, "  hook: write at step %ld: %d\n", H.step, r);
		H.errors++;
	} else {
		H.extra++;
		if (sis_core_lookup(f->c, 0, l, &p) || p == H.forbidden)
			H.errors++;
	}
	H.in_hook = false;
}

static int hook_write(void *ctx, u64 blocknr, const void *buf)
{
	hook_step();
	return memdev_write(ctx, blocknr, buf);
}

static int hook_flush(void *ctx)
{
	hook_step();
	return memdev_flush(ctx);
}

static int hook_discard(void *ctx, u64 blocknr, u64 count)
{
	hook_step();
	return memdev_discard(ctx, blocknr, count);
}

static void hook_open(struct fx *f)
{
	if (f->c)
		sis_core_close(f->c);
	f->ops.write = hook_write;
	f->ops.flush = hook_flush;
	f->ops.discard = hook_discard;
	f->cfg.flags = 0;
	ASSERT_OK(fx_open(f));
	memset(&H, 0, sizeof(H));
	H.f = f;
}

static u64 lookup(struct fx *f, u64 l)
{
	u64 p = 0;
	int r = sis_core_lookup(f->c, 0, l, &p);

	ASSERT_TRUE(!r || r == -ENODATA);
	return r ? 0 : p;
}

/*
 * Fails before the commit ran its I/O without c->lock: every step found
 * the lock held (and nothing could be mapped meanwhile).
 */
TEST(commit_io_leaves_core_lock_free)
{
	struct fx f;
	u64 l, p0;

	fx_format_journal(&f, 4096, 4096, 256);
	hook_open(&f);
	for (l = 0; l < 10; l++)
		ASSERT_OK(fx_write(&f, l, 1 + l));
	ASSERT_OK(sis_core_commit(f.c));

	/* T(n): overwrites free blocks, one new block */
	p0 = lookup(&f, 0);
	for (l = 0; l < 5; l++)
		ASSERT_OK(fx_write(&f, l, 101 + l));
	ASSERT_OK(fx_write(&f, 20, 120));
	H.armed = true;
	H.forbidden = p0;	/* freed by T(n): not reusable during it */
	ASSERT_OK(sis_core_commit(f.c));
	H.armed = false;
	ASSERT_EQ(H.lock_busy, 0);
	ASSERT_EQ(H.errors, 0);
	/* body, flush, commit block, flush, at least */
	ASSERT_LE(4, H.step);
	ASSERT_EQ(H.extra, H.step);
	ASSERT_TRUE(sis_core_dirty(f.c));	/* T(n+1) holds the extras */

	/* T(n) is durable; what the hook mapped meanwhile is not */
	fx_crash(&f, 0, false);
	ASSERT_OK(fx_open(&f));
	for (l = 0; l < 10; l++)
		fx_expect(&f, l, l < 5 ? 101 + l : 1 + l);
	fx_expect(&f, 20, 120);
	for (l = 0; l < (u64)H.extra; l++)
		fx_expect(&f, EXTRA_BASE + l, 0);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Expected contents: T(n-1) ("before") and T(n) ("after"). */
#define NL	40
static u32 before[NL], after[NL];

static bool matches(struct fx *f, const u32 *want)
{
	u8 a[SIS_BLOCK_SIZE], b[SIS_BLOCK_SIZE];
	u64 l;

	for (l = 0; l < NL; l++) {
		ASSERT_OK(fx_read(f, l, a));
		gen_block(want[l], b);
		if (memcmp(a, b, sizeof(a)))
			return false;
	}
	return true;
}

/*
 * A commit (with a checkpoint: the journal is filled near its start first)
 * loses power before each of its steps in turn, while the hook maps blocks
 * into the next transaction at every step.  Recovery gives T(n-1) or T(n)
 * whole, never the next transaction's blocks, and a clean check.
 */
TEST(crash_at_every_step_of_commit)
{
	long n, steps = 0;
	unsigned int v;
	struct fx f;
	u64 l, k;
	int r;

	for (n = 1; ; n++) {
		for (v = 0; v < 3; v++) {
			fx_format_journal(&f, 4096, 4096, 128);
			hook_open(&f);
			memset(before, 0, sizeof(before));
			for (l = 0; l < 16; l++) {
				ASSERT_OK(fx_write(&f, l, 1 + l));
				before[l] = 1 + l;
			}
			ASSERT_OK(sis_core_commit(f.c));
			/* near the checkpoint's start: this commit checkpoints */
			for (k = 0; f.c->head - f.c->tail <=
				    f.c->journal_blocks / 8 * SIS_CKPT_START_EIGHTHS - 5; k++) {
				ASSERT_OK(fx_write(&f, 16 + k % 8, 50 + k));
				before[16 + k % 8] = 50 + k;
				ASSERT_OK(sis_core_commit(f.c));
			}
			memcpy(after, before, sizeof(after));
			for (l = 0; l < 8; l++) {
				ASSERT_OK(fx_write(&f, l, 200 + l));
				after[l] = 200 + l;
			}
			ASSERT_OK(sis_core_unmap(f.c, 0, 8, 2));
			after[8] = after[9] = 0;
			for (l = 30; l < 34; l++) {
				ASSERT_OK(fx_write(&f, l, 300 + l));
				after[l] = 300 + l;
			}

			H.armed = true;
			H.die_at = n;
			sis_backend_mute++;
			r = sis_core_commit(f.c);
			sis_backend_mute--;
			H.armed = false;
			ASSERT_EQ(H.lock_busy, 0);
			ASSERT_EQ(H.errors, 0);
			ASSERT_TRUE(r == 0 || r == -EIO);
			if (H.step < n) {
				steps = H.step;
				ASSERT_EQ(f.c->tail, f.c->head); /* checkpointed */
			}
			fx_crash(&f, v == 0 ? 0 : v == 1 ? 50 : 100, v == 1);
			ASSERT_OK(fx_open(&f));
			if (!matches(&f, after) && !matches(&f, before))
				FAIL_TEST("step %ld, variant %u: neither T(n-1) nor T(n)",
					  n, v);
			for (k = 0; k < (u64)H.extra; k++)
				fx_expect(&f, EXTRA_BASE + k, 0);
			fx_check_clean(&f);
			fx_destroy(&f);
		}
		if (steps)	/* the last run finished before its power cut */
			break;
	}
	if (getenv("SIS_VERBOSE"))
		fprintf(stderr, "  %ld steps\n", steps);
	/* body + flush + commit + flush + checkpoint (homes, flush, sb) */
	ASSERT_LE(7, steps);
}

/* The reader and committer threads of the test below. */
static struct fx R;
static int commit_r, commit_done;

static void *committer(void *arg)
{
	commit_r = sis_core_commit(R.c);
	__atomic_store_n(&commit_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Fails before: the commit waited for the reader holding c->lock, so
 * nobody could map or look up meanwhile.
 */
TEST(commit_waits_for_readers_without_core_lock)
{
	u64 p0, pb, commits;
	unsigned int ticket, i;
	pthread_t t;
	u32 ref;
	bool seen = false;

	fx_format(&R, 4096, 4096);
	ASSERT_OK(fx_write(&R, 0, 1));
	ASSERT_OK(sis_core_commit(R.c));
	p0 = lookup(&R, 0);
	ASSERT_OK(sis_core_read_begin(R.c, 0, 0, 1, &pb, &ref, false, &ticket));
	ASSERT_EQ(pb, p0);
	ASSERT_OK(fx_write(&R, 0, 2));		/* frees p0 in T(n) */
	commits = R.c->commits;
	commit_done = 0;
	ASSERT_OK(pthread_create(&t, NULL, committer, NULL));

	/* the commit becomes durable, then waits for our read */
	for (i = 0; i < 5000 && !seen; i++) {
		if (mutex_trylock(&R.c->lock)) {
			seen = R.c->commits != commits;
			mutex_unlock(&R.c->lock);
		}
		if (!seen)
			usleep(1000);
	}
	if (!seen) {
		sis_core_read_end(R.c, ticket);
		pthread_join(t, NULL);
		FAIL_TEST("c->lock held while the commit waits for a reader");
	}
	usleep(20000);
	ASSERT_TRUE(!__atomic_load_n(&commit_done, __ATOMIC_ACQUIRE));

	/* meanwhile: map, look up; p0 is not handed out */
	mutex_lock(&R.c->lock);
	R.c->root.alloc_cursor = cpu_to_le64(p0);
	mutex_unlock(&R.c->lock);
	ASSERT_OK(fx_write(&R, 1, 3));
	ASSERT_NE(lookup(&R, 1), p0);
	fx_expect(&R, 0, 2);

	sis_core_read_end(R.c, ticket);
	ASSERT_OK(pthread_join(t, NULL));
	ASSERT_OK(commit_r);
	ASSERT_EQ(R.c->nr_pending_free, 0);

	/* released now: the allocator may hand p0 out */
	mutex_lock(&R.c->lock);
	R.c->root.alloc_cursor = cpu_to_le64(p0);
	mutex_unlock(&R.c->lock);
	ASSERT_OK(fx_write(&R, 2, 4));
	ASSERT_EQ(lookup(&R, 2), p0);
	ASSERT_OK(sis_core_commit(R.c));
	fx_reopen(&R);
	fx_expect(&R, 0, 2);
	fx_expect(&R, 1, 3);
	fx_expect(&R, 2, 4);
	fx_check_clean(&R);
	fx_destroy(&R);
}

/*
 * A transaction of more pages than one descriptor names (507), near the
 * 1024-page cap: frozen and written whole, recovered whole after a crash.
 */
TEST(large_transaction_recovers)
{
	struct fx f;
	u64 i, n = 700;

	fx_format_journal(&f, 16384, 400000, 4096);
	ASSERT_EQ(f.c->txn_limit, SIS_TXN_MAX_PAGES);
	for (i = 0; i < n; i++)		/* one new leaf per write */
		ASSERT_OK(fx_write(&f, i * SIS_MAP_FANOUT, 1 + i));
	ASSERT_LE(SIS_JOURNAL_DESC_MAX + 1, f.c->mc_nr_dirty);
	ASSERT_OK(sis_core_commit(f.c));
	fx_crash(&f, 0, false);
	ASSERT_OK(fx_open(&f));
	for (i = 0; i < n; i++)
		fx_expect(&f, i * SIS_MAP_FANOUT, 1 + i);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* Another operation hits a metadata error while a commit's I/O is out. */
static int abort_write(void *ctx, u64 blocknr, const void *buf)
{
	struct sis_core *c = H.f->c;

	if (H.armed && !H.step++) {
		mutex_lock(&c->lock);
		__sis_metadata_error(c, -EIO, "test");
		__sis_op_end(c);	/* the rollback waits for the commit */
		H.extra = c->abort_pending;
		mutex_unlock(&c->lock);
	}
	return memdev_write(ctx, blocknr, buf);
}

/*
 * The abort's rollback (cache reload) must not run under a commit whose
 * pages and buffers are in use: it runs when the commit ends, which then
 * reports -EIO; the device reopens to T(n-1) or T(n), with needs_check.
 */
TEST(abort_during_commit_io)
{
	struct sis_core_stats st;
	struct fx f;
	u64 l;
	int r;

	fx_format_journal(&f, 4096, 4096, 256);
	hook_open(&f);
	f.c->ops.write = abort_write;
	f.c->ops.flush = memdev_flush;
	f.c->ops.discard = memdev_discard;
	memset(before, 0, sizeof(before));
	for (l = 0; l < 10; l++) {
		ASSERT_OK(fx_write(&f, l, 1 + l));
		before[l] = 1 + l;
	}
	ASSERT_OK(sis_core_commit(f.c));
	memcpy(after, before, sizeof(after));
	for (l = 0; l < 5; l++) {
		ASSERT_OK(fx_write(&f, l, 101 + l));
		after[l] = 101 + l;
	}
	H.armed = true;
	sis_backend_mute++;
	r = sis_core_commit(f.c);
	sis_backend_mute--;
	H.armed = false;
	ASSERT_EQ(H.extra, 1);		/* still pending inside the commit */
	ASSERT_ERR(r, -EIO);
	ASSERT_TRUE(!f.c->abort_pending);	/* rolled back at its end */
	sis_core_get_stats(f.c, &st);
	ASSERT_TRUE(st.aborted);
	ASSERT_EQ(st.mode, SIS_MODE_READ_ONLY);
	ASSERT_ERR(sis_core_commit(f.c), -EIO);
	ASSERT_TRUE(matches(&f, after) || matches(&f, before));

	sis_core_close(f.c);
	f.c = NULL;
	f.cfg.flags = SIS_OPEN_IGNORE_CHECK;
	ASSERT_OK(fx_open(&f));
	ASSERT_TRUE(matches(&f, after) || matches(&f, before));
	fx_check_clean(&f);
	fx_destroy(&f);
}
