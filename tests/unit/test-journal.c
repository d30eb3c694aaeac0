// SPDX-License-Identifier: GPL-2.0
/*
 * journal.c: commit, checkpoint and recovery, with power cuts at every write
 * of a commit, torn and reordered writes, damaged journal blocks, journal
 * wrap-around and a small journal holding a large transaction.
 */
#include "harness.h"
#include "../../dm-sis/core/core-internal.h"

#define PHYS	3000
#define LOGICAL	600000
/*
 * Large enough that these tests' transactions never make the core commit on
 * its own (which it may: then a later state than the last commit survives).
 */
#define JOURNAL	1024

static void expect_range(struct fx *f, u64 n, u32 base)
{
	u64 i;

	for (i = 0; i < n; i++)
		fx_expect(f, i * 509, base ? base + i : 0);
}

static void write_range(struct fx *f, u64 n, u32 base)
{
	u64 i;

	for (i = 0; i < n; i++)
		ASSERT_OK(fx_write(f, i * 509, base + i));
}

TEST(uncommitted_writes_are_lost_committed_kept)
{
	unsigned int pct;

	for (pct = 0; pct <= 100; pct += 50) {
		struct fx f;

		fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
		write_range(&f, 10, 100);
		ASSERT_OK(sis_core_commit(f.c));
		write_range(&f, 10, 200);
		fx_crash(&f, pct, pct == 50);
		fx_reopen(&f);
		expect_range(&f, 10, 100);
		fx_check_clean(&f);
		fx_destroy(&f);
	}
}

TEST(replay_without_checkpoint)
{
	struct fx f;
	u32 i;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	for (i = 0; i < 5; i++) {
		write_range(&f, 3, 100 * (i + 1));
		ASSERT_OK(sis_core_commit(f.c));
	}
	fx_crash(&f, 0, false);
	fx_reopen(&f);
	expect_range(&f, 3, 500);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * Power cut after each possible number of writes during a commit (and the
 * checkpoint it may trigger): the state is the old or the new one.
 */
TEST(power_cut_at_every_write_of_a_commit)
{
	struct fx base, f;
	u64 k, writes, w0;
	unsigned int old_seen = 0, new_seen = 0;

	fx_format_journal(&base, PHYS, LOGICAL, JOURNAL);
	write_range(&base, 20, 100);
	ASSERT_OK(sis_core_commit(base.c));
	sis_core_close(base.c);
	base.c = NULL;

	/* how many writes does the commit take? */
	f = base;
	f.d = memdev_clone(base.d);
	memdev_ops(f.d, &f.ops);
	f.cfg.flags = 0;
	ASSERT_OK(fx_open(&f));
	write_range(&f, 20, 300);
	w0 = f.d->writes;
	ASSERT_OK(sis_core_commit(f.c));
	sis_core_close(f.c);
	f.c = NULL;
	writes = f.d->writes - w0;
	memdev_destroy(f.d);
	ASSERT_TRUE(writes > 2);

	for (k = 0; k <= writes + 2; k++) {
		u8 buf[SIS_BLOCK_SIZE], want_old[SIS_BLOCK_SIZE];
		bool is_old;
		int r;

		f = base;
		f.d = memdev_clone(base.d);
		memdev_ops(f.d, &f.ops);
		f.cfg.flags = 0;
		ASSERT_OK(fx_open(&f));
		write_range(&f, 20, 300);
		memdev_die_after(f.d, k);
		sis_backend_mute++;
		r = sis_core_commit(f.c);
		sis_backend_mute--;
		fx_crash(&f, (k * 37) % 101, k & 1);
		fx_reopen(&f);
		/* all old or all new */
		gen_block(100, want_old);
		ASSERT_OK(fx_read(&f, 0, buf));
		is_old = !memcmp(buf, want_old, sizeof(buf));
		if (r == 0 && k >= writes)
			ASSERT_TRUE(!is_old);
		expect_range(&f, 20, is_old ? 100 : 300);
		fx_check_clean(&f);
		if (is_old)
			old_seen++;
		else
			new_seen++;
		fx_destroy(&f);
	}
	ASSERT_TRUE(old_seen > 0 && new_seen > 0);
	memdev_destroy(base.d);
}

TEST(journal_wraps_many_times)
{
	struct fx f;
	u32 i;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	for (i = 0; i < 400; i++) {
		ASSERT_OK(fx_write(&f, (i % 50) * 509, i + 1));
		ASSERT_OK(sis_core_commit(f.c));
	}
	fx_crash(&f, 50, true);
	fx_reopen(&f);
	for (i = 350; i < 400; i++)
		fx_expect(&f, (i % 50) * 509, i + 1);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A journal block of the last transaction is damaged after the fact.  The
 * commit block alone: indistinguishable from a torn end, the state is the
 * previous commit's (whose freed blocks still hold their data, as nothing
 * was allocated since).  The descriptor under a valid commit block: damage,
 * not a torn write (the commit block is written only after the body is
 * durable): activation is refused; with SIS_OPEN_IGNORE_CHECK (check,
 * repair) the previous commit's state opens with needs_check set, check
 * reports the damage, and repair makes it clean.
 */
static void damage_last_txn(bool commit_block)
{
	u8 blk[SIS_BLOCK_SIZE];
	u64 h0, h1, loc;
	struct fx f;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	/* the blocks the second commit frees must keep their data */
	sis_core_set_discard_passdown(f.c, false);
	write_range(&f, 5, 100);
	ASSERT_OK(sis_core_commit(f.c));
	write_range(&f, 5, 200);
	h0 = f.c->head;
	ASSERT_OK(sis_core_commit(f.c));
	h1 = f.c->head;
	ASSERT_TRUE(h1 > h0 + 1);
	loc = f.c->journal_start + ((commit_block ? h1 - 1 : h0) % f.c->journal_blocks);
	fx_crash(&f, 0, false);
	memdev_read_durable(f.d, loc, blk);
	blk[SIS_BLOCK_SIZE - 7] ^= 0x20;
	memdev_poke(f.d, loc, blk);
	if (!commit_block) {
		struct sis_check_result res;
		struct sis_check_ops ops = { 0 };
		struct sis_core_stats st;

		ASSERT_EQ(fx_open(&f), -EILSEQ);
		f.cfg.flags |= SIS_OPEN_IGNORE_CHECK;
		ASSERT_OK(fx_open(&f));
		sis_core_get_stats(f.c, &st);
		ASSERT_TRUE(st.needs_check);
		expect_range(&f, 5, 100);
		fx_check(&f, &res, false);
		ASSERT_EQ(res.errors, 1);
		memset(&res, 0, sizeof(res));
		ASSERT_OK(sis_core_repair(f.c, &ops, &res));
		f.cfg.flags &= ~SIS_OPEN_IGNORE_CHECK;
	}
	fx_reopen(&f);
	expect_range(&f, 5, 100);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(damaged_commit_block_ends_the_journal)
{
	damage_last_txn(true);
}

TEST(damaged_descriptor_is_refused)
{
	damage_last_txn(false);
}

/*
 * Recovery reads a bounded number of blocks: the live journal, then the
 * whole journal once more to tell a torn end from damage.
 */
TEST(recovery_is_bounded)
{
	struct fx f;
	u64 r0;
	u32 i;

	fx_format_journal(&f, PHYS, LOGICAL, JOURNAL);
	for (i = 0; i < 30; i++) {
		write_range(&f, 4, 100 * i + 1);
		ASSERT_OK(sis_core_commit(f.c));
	}
	fx_crash(&f, 0, false);
	r0 = f.d->reads;
	fx_reopen(&f);
	ASSERT_LE(f.d->reads - r0, 2 + 2 * f.c->journal_blocks + 64);
	fx_destroy(&f);
}

/*
 * A transaction that dirties more pages than a small journal's half must
 * still commit (the core commits on its own before that).  Small devices
 * get the minimum journal (64 blocks at first, where txn_limit underflowed).
 */
TEST(small_journal_large_transaction)
{
	struct sis_core_stats st;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);	/* default journal: the minimum */
	ASSERT_EQ(f.c->journal_blocks, SIS_MIN_JOURNAL_BLOCKS);
	write_range(&f, 300, 1000);	/* 300 map leaves: several transactions */
	ASSERT_OK(sis_core_commit(f.c));
	sis_core_get_stats(f.c, &st);
	ASSERT_EQ(st.mode, SIS_MODE_WRITE);
	fx_crash(&f, 0, false);
	fx_reopen(&f);
	expect_range(&f, 80, 1000);
	fx_check_clean(&f);
	fx_destroy(&f);
}

TEST(minimum_journal_survives_load)
{
	struct fx f;
	u32 i;

	memset(&f, 0, sizeof(f));
	f.d = memdev_create(PHYS, 3);
	memdev_ops(f.d, &f.ops);
	f.cfg.physical_blocks = PHYS;
	f.cfg.logical_blocks = LOGICAL;
	f.cfg.journal_blocks = SIS_MIN_JOURNAL_BLOCKS;
	f.cfg.flags = SIS_OPEN_FORMAT;
	ASSERT_OK(fx_open(&f));
	for (i = 0; i < 3000; i++)
		ASSERT_OK(fx_write(&f, (i * 7919) % 20000, i % 1000 + 1));
	ASSERT_OK(sis_core_commit(f.c));
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A checkpoint in steps.  With a journal of 8192 blocks, 3/8 of it holds
 * more distinct pages than one buffer-full of the commit buffer, so the
 * checkpoint that begins at 3/8 full writes its set home over several
 * commits, and the commits made meanwhile change pages of that set (which
 * then still need the next checkpoint).  A power cut at writes spread from
 * the commit before it began to the end of the script leaves the state of
 * the last commit that returned, or of the one after it (its commit block
 * may be durable when a checkpoint write after it failed).
 */
#define STEP_PHYS	20000
#define STEP_LEAVES	2000		/* one map leaf each: 509 apart */
#define STEP_BATCH	400		/* writes per commit */
#define STEP_BATCHES	15		/* three rounds over every leaf */
#define STEP_LOGICAL	(STEP_LEAVES * 509ULL + 1)
#define STEP_JOURNAL	8192

static u32 step_seed(u32 round, u32 j)
{
	return round * 10000 + j + 1;
}

/* Batch @b of the script: its 400 leaves get the data of round 2 + b / 5. */
static int step_batch(struct fx *f, u32 b)
{
	u32 per_round = STEP_LEAVES / STEP_BATCH;
	u32 j0 = (b % per_round) * STEP_BATCH, j;
	int r;

	for (j = j0; j < j0 + STEP_BATCH; j++) {
		r = fx_write(f, j * 509ULL, step_seed(2 + b / per_round, j));
		if (r)
			return r;
	}
	return sis_core_commit(f->c);
}

/* The seed of leaf @j after @m batches of the script (round 1 before). */
static u32 step_expect(u32 m, u32 j)
{
	u32 per_round = STEP_LEAVES / STEP_BATCH;

	return step_seed(1 + m / per_round + (j / STEP_BATCH < m % per_round), j);
}

/* What memdev_die_after() counts: writes, and discards block by block. */
static u64 step_writes(struct fx *f)
{
	return f->d->writes + f->d->discarded_blocks;
}

static void step_open(struct fx *f, struct fx *base)
{
	*f = *base;
	f->d = memdev_clone(base->d);
	memdev_ops(f->d, &f->ops);
	f->cfg.flags = 0;
	ASSERT_OK(fx_open(f));
}

TEST(checkpoint_in_steps_survives_power_cuts)
{
	struct fx base, f;
	bool across = false, partial_tail = false;
	u64 k = 0, writes, w0, step, from = 0;
	u32 b, j, ok, m, later = 0;
	u8 buf[SIS_BLOCK_SIZE], want[SIS_BLOCK_SIZE];

	fx_format_journal(&base, STEP_PHYS, STEP_LOGICAL, STEP_JOURNAL);
	for (j = 0; j < STEP_LEAVES; j++) {
		ASSERT_OK(fx_write(&base, j * 509ULL, step_seed(1, j)));
		if ((j + 1) % STEP_BATCH == 0)
			ASSERT_OK(sis_core_commit(base.c));
	}
	ASSERT_TRUE(base.c->jbuf_blocks < STEP_JOURNAL / 2);
	sis_core_close(base.c);
	base.c = NULL;

	/* The script once, whole: its writes, and the checkpoint in steps. */
	step_open(&f, &base);
	w0 = step_writes(&f);
	for (b = 0; b < STEP_BATCHES; b++) {
		bool was = f.c->ckpt_active;

		if (!from)
			k = step_writes(&f) - w0;	/* before this batch */
		ASSERT_OK(step_batch(&f, b));
		if (!from && f.c->ckpt_active)
			from = k;
		across |= f.c->ckpt_active;	/* under way between commits */
		/* ended with the tail at its start, short of the head */
		partial_tail |= was && !f.c->ckpt_active && f.c->tail < f.c->head;
	}
	writes = step_writes(&f) - w0;
	ASSERT_TRUE(across);
	ASSERT_TRUE(partial_tail);
	fx_crash(&f, 0, false);
	fx_reopen(&f);
	for (j = 0; j < STEP_LEAVES; j++)
		fx_expect(&f, j * 509ULL, step_expect(STEP_BATCHES, j));
	fx_check_clean(&f);
	fx_destroy(&f);

	/* power cuts from the commit before it began to the end: 13 of them */
	step = (writes - from) / 12 + 1;
	for (k = from; k <= writes + 1; k = k < writes ? min(k + step, writes) : k + 1) {
		step_open(&f, &base);
		memdev_die_after(f.d, k);
		sis_backend_mute++;
		for (ok = 0; ok < STEP_BATCHES && !step_batch(&f, ok); ok++)
			;
		sis_backend_mute--;
		fx_crash(&f, (k * 37) % 101, k & 1);
		fx_reopen(&f);
		/* the batch that failed, if any, may be durable */
		m = ok;
		if (ok < STEP_BATCHES) {
			j = (ok % (STEP_LEAVES / STEP_BATCH)) * STEP_BATCH;
			ASSERT_OK(fx_read(&f, j * 509ULL, buf));
			gen_block(step_expect(ok + 1, j), want);
			if (!memcmp(buf, want, sizeof(buf)))
				m = ok + 1;
		}
		later += m > ok;
		for (j = 0; j < STEP_LEAVES; j++)
			fx_expect(&f, j * 509ULL, step_expect(m, j));
		fx_check_clean(&f);
		fx_destroy(&f);
	}
	ASSERT_TRUE(later > 0);	/* some cut a checkpoint step after a commit */
	memdev_destroy(base.d);
}
