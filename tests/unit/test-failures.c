// SPDX-License-Identifier: GPL-2.0
/*
 * Failure modes of the core: what an aborted transaction means for later
 * flushes, which failures are transient (-ENOMEM, pinned free space) and
 * must leave the device writable and consistent, and that no failure
 * leaks a reference.
 */
#include "harness.h"
#include "../../dm-sis/core/core-internal.h"

#define PHYS	2048
#define LOGICAL	4096
#define FAR	3000		/* a logical block in another map leaf */

static void stats(struct fx *f, struct sis_core_stats *st)
{
	sis_core_get_stats(f->c, st);
}

/* The map leaf holding @lblock, as it is at home (depth 2 maps). */
static u64 leaf_of(struct fx *f, u64 lblock)
{
	struct sis_disk_map_page mp;
	u64 root = le64_to_cpu(f->c->root.vol[0].map_root);

	ASSERT_EQ(le32_to_cpu(f->c->root.vol[0].map_depth), 2);
	memdev_read_durable(f->d, root, &mp);
	ASSERT_TRUE(mp.e[lblock / SIS_MAP_FANOUT] != 0);
	return le64_to_cpu(mp.e[lblock / SIS_MAP_FANOUT]);
}

static void expect_writable(struct fx *f)
{
	struct sis_core_stats st;

	stats(f, &st);
	ASSERT_EQ(st.mode, SIS_MODE_WRITE);
	ASSERT_TRUE(!st.needs_check);
}

/*
 * Item 1: a read's metadata error aborts the open transaction, dropping
 * acknowledged (uncommitted) writes; the next FLUSH must not succeed.
 * Fails on 0209ebd: sis_core_commit() returned 0 after the abort, and
 * block 25 was unmapped.
 */
TEST(commit_fails_after_abort)
{
	struct sis_core_stats st;
	u64 l, p, leaf;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, FAR, 3));
	fx_reopen(&f);			/* checkpointed: FAR's leaf at home */
	leaf = leaf_of(&f, FAR);
	for (l = 20; l < 30; l++)
		ASSERT_OK(fx_write(&f, l, 100 + l));	/* acknowledged */
	sis_core_drop_cache(f.c);
	f.d->fail_read = leaf;
	sis_backend_mute++;
	ASSERT_ERR(sis_core_lookup(f.c, 0, FAR, &p), -EIO);
	sis_backend_mute--;
	f.d->fail_read = U64_MAX;

	/* the transaction holding 20-29 is gone: a flush must fail */
	ASSERT_ERR(sis_core_lookup(f.c, 0, 25, &p), -ENODATA);
	ASSERT_ERR(sis_core_commit(f.c), -EIO);
	ASSERT_ERR(sis_core_commit(f.c), -EIO);	/* and keeps failing */
	stats(&f, &st);
	ASSERT_EQ(st.mode, SIS_MODE_READ_ONLY);
	ASSERT_TRUE(st.needs_check);
	ASSERT_TRUE(st.aborted);
	fx_expect(&f, FAR, 3);			/* reads still work */

	/* only a new open (after check) clears it */
	sis_core_close(f.c);
	f.cfg.flags = SIS_OPEN_IGNORE_CHECK;
	ASSERT_OK(fx_open(&f));
	stats(&f, &st);
	ASSERT_TRUE(!st.aborted);
	ASSERT_OK(sis_core_commit(f.c));
	fx_check_clean(&f);
	fx_destroy(&f);
}

/* A device read-only without an abort keeps flushing successfully. */
TEST(clean_read_only_commit_flushes)
{
	struct sis_core_stats st;
	struct fx f;
	u64 fl;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, 1, 1));
	sis_core_set_read_only(f.c);
	fl = f.d->flushes;
	ASSERT_OK(sis_core_commit(f.c));
	ASSERT_TRUE(f.d->flushes > fl);
	stats(&f, &st);
	ASSERT_EQ(st.mode, SIS_MODE_READ_ONLY);
	ASSERT_TRUE(!st.aborted && !st.needs_check);
	sis_core_close(f.c);
	f.cfg.flags = SIS_OPEN_READ_ONLY;
	ASSERT_OK(fx_open(&f));
	ASSERT_OK(sis_core_commit(f.c));
	fx_expect(&f, 1, 1);
	fx_destroy(&f);
}

/* ---- Item 2: -ENOMEM at commit is transient ---- */

#define NR_BLOCKS	40

/*
 * Write blocks, half of them committed by a close, half in the open
 * transaction of a new core; remember where each one lives.
 */
static void enomem_setup(struct fx *f, u64 *pb, unsigned int journal)
{
	u64 l;

	fx_format_journal(f, PHYS, LOGICAL, journal);
	for (l = 0; l < NR_BLOCKS; l++) {
		if (l == NR_BLOCKS / 2)
			fx_reopen(f);	/* committed; a new core */
		ASSERT_OK(fx_write(f, l * 37, l + 1));
	}
	for (l = 0; l < NR_BLOCKS; l++)
		ASSERT_OK(sis_core_lookup(f->c, 0, l * 37, &pb[l]));
}

static void enomem_verify(struct fx *f, const u64 *pb)
{
	u64 l, p;

	for (l = 0; l < NR_BLOCKS; l++) {
		ASSERT_OK(sis_core_lookup(f->c, 0, l * 37, &p));
		ASSERT_EQ(p, pb[l]);
	}
	/* durable: a power cut right now loses nothing */
	fx_crash(f, 0, false);
	f->cfg.flags = 0;
	fx_reopen(f);
	expect_writable(f);
	for (l = 0; l < NR_BLOCKS; l++) {
		ASSERT_OK(sis_core_lookup(f->c, 0, l * 37, &p));
		ASSERT_EQ(p, pb[l]);
		fx_expect(f, l * 37, l + 1);
	}
	fx_check_clean(f);
}

/*
 * Fails on 0209ebd: with fail_alloc_in = 1, the commit's journal buffer
 * allocation failed and commit returned -EIO with the device read-only
 * and needs_check set.
 */
TEST(commit_alloc_failure_is_transient)
{
	u64 pb[NR_BLOCKS];
	unsigned long n, left;
	struct fx f;
	int r;

	for (n = 1; ; n++) {
		enomem_setup(&f, pb, 0);
		sis_compat_fail_alloc_in = n;
		r = sis_core_commit(f.c);
		left = sis_compat_fail_alloc_in;
		sis_compat_fail_alloc_in = 0;
		ASSERT_TRUE(r == 0 || r == -ENOMEM);
		expect_writable(&f);
		if (r)
			ASSERT_OK(sis_core_commit(f.c));	/* the retry */
		enomem_verify(&f, pb);
		fx_destroy(&f);
		if (left)	/* the commit made fewer than n allocations */
			break;
	}
}

/* A metadata write op that fails with -ENOMEM (the kernel's alloc_page). */
static long enomem_write_in;	/* the n-th write fails; 0: none */

static int enomem_write(void *ctx, u64 blocknr, const void *buf)
{
	if (enomem_write_in && !--enomem_write_in)
		return -ENOMEM;
	return memdev_write(ctx, blocknr, buf);
}

/*
 * Each metadata write of a commit (journal body, commit block, checkpoint
 * home writes, superblock) fails with -ENOMEM once; a small journal makes
 * the commit checkpoint.  A checkpoint that failed is owed: the next
 * commit does it first, or fails with -ENOMEM; writes go on meanwhile.
 * Fails on 0209ebd: the first journal write's -ENOMEM made commit return
 * -EIO, read-only, needs_check.
 */
TEST(commit_write_enomem_is_transient)
{
	u64 pb[NR_BLOCKS], l;
	long n, left;
	struct fx f;
	int r;

	for (n = 1; ; n++) {
		enomem_setup(&f, pb, SIS_MIN_JOURNAL_BLOCKS);
		sis_core_close(f.c);		/* reopen with the faulty op */
		f.ops.write = enomem_write;
		f.cfg.flags = 0;
		ASSERT_OK(fx_open(&f));
		/* fill the journal so that the next commit checkpoints */
		for (l = 0; f.c->head - f.c->tail <=
			    f.c->journal_blocks / 8 * SIS_CKPT_START_EIGHTHS - 8; l++) {
			ASSERT_OK(fx_write(&f, 500 + l, 500 + l));
			ASSERT_OK(sis_core_commit(f.c));
		}
		ASSERT_OK(fx_write(&f, 1000, 7777));
		ASSERT_OK(fx_write(&f, 2000, 7778));
		ASSERT_OK(sis_core_lookup(f.c, 0, 0, &pb[0]));
		enomem_write_in = n;
		sis_backend_mute++;
		r = sis_core_commit(f.c);
		sis_backend_mute--;
		left = enomem_write_in;
		enomem_write_in = 0;
		ASSERT_TRUE(r == 0 || r == -ENOMEM);
		expect_writable(&f);
		if (r)
			ASSERT_OK(sis_core_commit(f.c));
		if (f.c->ckpt_owed) {
			/*
			 * Writes go on: a page re-dirtied keeps its committed
			 * image for the checkpoint.  The owed checkpoint fails
			 * again at the next commit: the commit fails clean.
			 */
			ASSERT_OK(fx_write(&f, 3000, 7779));
			ASSERT_TRUE(f.c->ckpt_owed);
			enomem_write_in = 1;
			sis_backend_mute++;
			r = sis_core_commit(f.c);
			sis_backend_mute--;
			enomem_write_in = 0;
			ASSERT_ERR(r, -ENOMEM);
			expect_writable(&f);
			ASSERT_TRUE(f.c->ckpt_owed);
		}
		/* whatever failed, the next commit checkpoints and works */
		ASSERT_OK(fx_write(&f, 3000, 7779));
		ASSERT_OK(sis_core_commit(f.c));
		ASSERT_TRUE(!f.c->ckpt_owed);
		/* what the checkpoint wrote home is what was committed */
		fx_crash(&f, 100, false);
		ASSERT_OK(fx_open(&f));
		fx_expect(&f, 1000, 7777);
		fx_expect(&f, 2000, 7778);
		enomem_verify(&f, pb);
		fx_expect(&f, 3000, 7779);
		while (l--)
			fx_expect(&f, 500 + l, 500 + l);
		fx_destroy(&f);
		if (left)
			break;
	}
}

/*
 * The rollback after an abort (reload and journal recovery, in a bio
 * worker in the kernel) must not need new memory: with allocations
 * failing from the n-th on, the core still reloads the committed state and
 * goes read-only, never to fail mode.
 * Fails on 0209ebd: recovery's buffer allocation failed and the core went
 * to SIS_MODE_FAIL ("committed metadata unreadable").
 */
TEST(abort_reload_needs_no_memory)
{
	struct sis_core_stats st;
	unsigned long n;
	u64 l, p, leaf;
	struct fx f;
	int r;

	for (n = 1; n < 12; n++) {
		fx_format(&f, PHYS, LOGICAL);
		ASSERT_OK(fx_write(&f, FAR, 3));
		fx_reopen(&f);
		leaf = leaf_of(&f, FAR);
		for (l = 0; l < 10; l++)
			ASSERT_OK(fx_write(&f, l, 50 + l));
		ASSERT_OK(sis_core_commit(f.c));	/* not checkpointed */
		for (l = 20; l < 30; l++)
			ASSERT_OK(fx_write(&f, l, 100 + l));
		sis_core_drop_cache(f.c);
		f.d->fail_read = leaf;
		sis_backend_mute++;
		sis_compat_fail_alloc_every = 0;
		sis_compat_fail_alloc_in = n;
		r = sis_core_lookup(f.c, 0, FAR, &p);
		if (!sis_compat_fail_alloc_in) {
			/* the n-th allocation happened: fail every later one */
			sis_compat_fail_alloc_every = 1;
		}
		sis_compat_fail_alloc_in = 0;
		if (r == -ENOMEM) {
			sis_compat_fail_alloc_every = 1;
			r = sis_core_lookup(f.c, 0, FAR, &p);
		}
		sis_compat_fail_alloc_every = 0;
		sis_backend_mute--;
		f.d->fail_read = U64_MAX;
		stats(&f, &st);
		if (r == -ENOMEM) {	/* the leaf page itself: nothing read */
			ASSERT_EQ(st.mode, SIS_MODE_WRITE);
			fx_destroy(&f);
			continue;
		}
		ASSERT_ERR(r, -EIO);
		ASSERT_EQ(st.mode, SIS_MODE_READ_ONLY);
		ASSERT_TRUE(st.needs_check);
		for (l = 0; l < 10; l++)
			fx_expect(&f, l, 50 + l);
		fx_expect(&f, FAR, 3);
		fx_destroy(&f);
	}
}

/*
 * Item 3: free blocks that readers still pin are not free space, and not
 * a counter error either.
 * Fails on 0209ebd: the allocation after the unpinned free blocks ran out
 * returned -EILSEQ ("free-space counters"), read-only with needs_check.
 */
TEST(pinned_free_blocks_are_enospc)
{
	u64 pins[100], held[200], p;
	u8 buf[SIS_BLOCK_SIZE];
	unsigned int nheld = 0, i;
	struct fx f;
	u64 l;
	int r;

	fx_format(&f, PHYS, 8192);
	for (l = 0; ; l++) {
		r = fx_write(&f, l, 1000 + l);
		if (r == -ENOSPC)
			break;
		ASSERT_OK(r);
	}
	ASSERT_TRUE(l > 200);
	ASSERT_OK(sis_core_commit(f.c));
	/* writers comparing against the blocks of 0..99 pin them */
	for (i = 0; i < 100; i++) {
		gen_block(1000 + i, buf);
		ASSERT_OK(sis_core_find_dup(f.c, sis_fingerprint(buf), &pins[i]));
	}
	ASSERT_OK(sis_core_unmap(f.c, 0, 0, 100));
	ASSERT_OK(sis_core_commit(f.c));
	sis_backend_mute++;
	for (;;) {
		ASSERT_TRUE(nheld < ARRAY_SIZE(held));
		r = sis_core_alloc(f.c, 5000 + nheld, &held[nheld]);
		if (r)
			break;
		nheld++;
	}
	sis_backend_mute--;
	ASSERT_ERR(r, -ENOSPC);
	expect_writable(&f);
	for (i = 0; i < 100; i++)
		sis_core_unpin(f.c, pins[i]);
	ASSERT_OK(sis_core_alloc(f.c, 9999, &p));
	sis_core_unpin(f.c, p);
	for (i = 0; i < nheld; i++)
		sis_core_unpin(f.c, held[i]);
	expect_writable(&f);
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * Item 4: an allocation failure anywhere in a sis_core_map() that replaces
 * a mapping leaves the old mapping or the new one, and no leaked count.
 * Fails on 0209ebd: with fail_alloc_in = 5 (the old block's refcount page
 * read, after the map changed) map returned -ENOMEM with lblock 5 already
 * remapped; check: 1 leak (old block refcount 1, 0 references), 1 error.
 */
TEST(map_alloc_failure_never_leaks)
{
	u8 data[SIS_BLOCK_SIZE];
	struct sis_check_result res;
	unsigned long n, left;
	u64 a, b, p, l;
	struct fx f;
	int r;

	for (n = 1; ; n++) {
		fx_format(&f, PHYS, LOGICAL);
		ASSERT_OK(fx_write(&f, 5, 1));
		ASSERT_OK(sis_core_lookup(f.c, 0, 5, &a));
		for (l = 0; l < 300; l++)	/* move the cursor to group 1 */
			ASSERT_OK(fx_write(&f, 1000 + l, 100 + l));
		fx_reopen(&f);			/* all at home, delta applied */
		gen_block(7777, data);
		ASSERT_OK(sis_core_alloc(f.c, sis_fingerprint(data), &b));
		ASSERT_NE((a - f.c->data_start) / SIS_GROUP_BLOCKS,
			  (b - f.c->data_start) / SIS_GROUP_BLOCKS);
		ASSERT_OK(memdev_write(f.d, b, data));
		sis_core_drop_cache(f.c);

		sis_compat_fail_alloc_in = n;
		r = sis_core_map(f.c, 0, 5, b);
		left = sis_compat_fail_alloc_in;
		sis_compat_fail_alloc_in = 0;
		sis_core_unpin(f.c, b);

		ASSERT_TRUE(r == 0 || r == -ENOMEM);
		expect_writable(&f);
		ASSERT_OK(sis_core_lookup(f.c, 0, 5, &p));
		ASSERT_EQ(p, r ? a : b);
		fx_check(&f, &res, true);
		ASSERT_EQ(res.errors, 0);
		ASSERT_EQ(res.leaks, 0);
		fx_expect(&f, 5, r ? 1 : 7777);
		ASSERT_OK(sis_core_commit(f.c));
		fx_crash(&f, 0, false);
		f.cfg.flags = 0;
		fx_reopen(&f);
		fx_expect(&f, 5, r ? 1 : 7777);
		fx_check_clean(&f);
		fx_destroy(&f);
		if (left)
			break;
	}
}

/*
 * Issue 11 item 3: pinning a block (find_dup, alloc) allocates nothing
 * while fewer than SIS_PIN_RESERVE pins are held: with every allocation
 * failing, duplicates of cached data are still found, mapped and unpinned.
 * Fails on 72fd568: find_dup returned -ENOMEM (a pin was a kzalloc).
 */
TEST(pins_need_no_memory)
{
	u8 buf[SIS_BLOCK_SIZE];
	u64 p[16], fp;
	unsigned int i;
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	for (i = 0; i < 16; i++)
		ASSERT_OK(fx_write(&f, i, 700 + i));
	sis_compat_fail_alloc_every = 1;
	for (i = 0; i < 16; i++) {	/* all held at once, then dropped */
		gen_block(700 + i, buf);
		fp = sis_fingerprint(buf);
		ASSERT_OK(sis_core_find_dup(f.c, fp, &p[i]));
		ASSERT_OK(sis_core_map(f.c, 0, 100 + i, p[i]));
	}
	for (i = 0; i < 16; i++)
		sis_core_unpin(f.c, p[i]);
	sis_compat_fail_alloc_every = 0;
	ASSERT_EQ(f.c->nr_pin_spare, SIS_PIN_RESERVE);
	ASSERT_OK(sis_core_commit(f.c));
	for (i = 0; i < 16; i++) {
		fx_expect(&f, i, 700 + i);
		fx_expect(&f, 100 + i, 700 + i);
	}
	fx_check_clean(&f);
	fx_destroy(&f);
}

/*
 * A metadata error while mapping one block of a batch stops the batch
 * there with that error (as sis_core_map() of that block fails): the
 * blocks before it were done, the ones after are left, and every pin is
 * dropped all the same.
 */
TEST(map_batch_metadata_error_stops)
{
	u64 fps[3], pn[3], batch[3], leaf, l;
	u8 data[SIS_BLOCK_SIZE];
	struct sis_core_stats st;
	unsigned int i;
	int res[3];
	struct fx f;

	fx_format(&f, PHYS, LOGICAL);
	ASSERT_OK(fx_write(&f, FAR, 3));
	fx_reopen(&f);			/* checkpointed: FAR's leaf at home */
	leaf = leaf_of(&f, FAR);
	for (i = 0; i < 3; i++) {
		gen_block(50 + i, data);
		fps[i] = sis_fingerprint(data);
	}
	ASSERT_EQ(sis_core_alloc_run(f.c, fps, 3, pn), 3);
	for (i = 0; i < 3; i++) {
		gen_block(50 + i, data);
		ASSERT_OK(memdev_write(f.d, pn[i], data));
	}
	sis_core_drop_cache(f.c);
	f.d->fail_read = leaf;
	batch[0] = pn[0];
	batch[1] = pn[1];
	batch[2] = pn[2];
	/* l in a leaf of its own, l + 1 and l + 2 in FAR's: unreadable */
	l = FAR - FAR % SIS_MAP_FANOUT - 1;
	sis_backend_mute++;
	ASSERT_ERR(sis_core_map_batch(f.c, 0, l, 3, batch, res, pn, 3), -EIO);
	sis_backend_mute--;
	f.d->fail_read = U64_MAX;
	ASSERT_EQ(res[0], 0);
	ASSERT_EQ(res[1], -EIO);
	ASSERT_EQ(res[2], -ECANCELED);
	for (i = 0; i < 3; i++)
		ASSERT_TRUE(!__sis_pin_find(f.c, pn[i]));
	stats(&f, &st);
	ASSERT_TRUE(st.aborted);
	fx_expect(&f, FAR, 3);			/* the committed state */
	fx_destroy(&f);
}
