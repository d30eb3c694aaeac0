// SPDX-License-Identifier: GPL-2.0
/*
 * sis-stress: a seeded, model-based crash test of the core (in the spirit of
 * ztest).
 *
 * The test plays the target: it generates 4 KiB blocks from small integer
 * "seeds" (so duplicates are frequent), fingerprints them, asks find_dup,
 * compares the candidate's data, allocates, writes data to the RAM device,
 * maps and unpins.  A reference model holds, per logical block, the seed of
 * the data it should read (0: zeros).
 *
 * Crash model.  Changes are durable at sis_core_commit(), but the core may
 * also commit on its own, so after a crash the recovered state must equal
 * exactly one of the model states reached at an operation boundary since
 * the last commit the test knows completed (the history), or the intended
 * result of the operation that was cut short.  Crashes are power cuts of the
 * RAM device (memdev_crash: unflushed writes survive at random, reordered,
 * and the newest write may tear), either between operations or in the
 * middle of one (the device dies after k more writes, every later I/O
 * fails, and the operation in progress sees an error).
 *
 * After every recovery: every logical block is read through the core and
 * compared (by content hash) with the model states; the full consistency
 * walk (sis_core_check, with data fingerprints) must find no error and no
 * leak; the counters must match the model.
 *
 * Operations: unique, duplicate, zero and overwrite writes; batches of up
 * to 32 blocks written as the target writes a bio (find_dups, alloc_run,
 * map_batch: every prefix a state a crash may find); in-flight
 * duplicates (a second writer finds the first's block before it is written,
 * waits, and shares it); abandoned allocations (a data write that failed);
 * a candidate pinned while its last mapping goes away; discards of small
 * and huge ranges; commits; clean reopen; cache drops; logical and physical
 * growth; ENOSPC followed by discard and commit (the power sometimes failing
 * in that commit, before or after it is durable); clones (format version 3):
 * volume 1 is cloned from volume 0, written to (the first write under each
 * shared map page copies it), and deleted, with the power failing anywhere
 * in those too.  --weak-fp keeps 8 bits of
 * each fingerprint so real collisions are frequent: a candidate with other
 * data must never be shared.
 *
 * Usage: sis-stress [--seed N] [--iter N] [--phys N] [--logical N]
 *                   [--journal N] [--weak-fp] [--quiet] [--verbose]
 * Prints the seed first; the same seed and options replay the same run.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/kernel.h>
#include <linux/xxhash.h>
#include "../../dm-sis/core/sis-core.h"
#include "../../userspace/backend/memdev.h"

#define BS		SIS_BLOCK_SIZE
#define MAX_HISTORY	256	/* op boundaries kept before a forced commit */

/*
 * A model state.  Blocks in [wild_lo, wild_hi) may also read as zeros: a
 * large discard commits between entries, so a crash may find it partly done.
 * @clogical: the logical size of the clone (volume CLONE), 0 if none.
 */
struct snap {
	u64 logical;
	u32 *seeds;
	u64 wild_lo, wild_hi;
	u64 clogical;
	u32 *cseeds;
};

#define CLONE	1	/* the clone's volume id */

static struct {
	u64 seed, iter, phys, logical;
	long long journal;
	bool weak_fp, quiet, verbose, paranoid;
} opt = { .iter = 20000, .journal = -1 };

static struct {
	struct memdev *d;
	struct sis_io_ops ops;
	struct sis_core_config cfg;
	struct sis_core *c;

	u64 logical;		/* model's logical size */
	u32 *cur;		/* model: seed per logical block */
	u64 clogical;		/* the clone's logical size, 0: no clone */
	u32 *ccur;		/* ...and its seeds */
	struct snap *hist;
	int nr_hist, cap_hist;	/* hist[0] is known durable */

	u64 *hash_of;		/* content hash per seed */
	u32 nr_seeds, cap_seeds;
	u32 recent[64];		/* recently written seeds, for duplicates */

	u64 rng;
	u64 op;			/* operation counter */
	const char *op_name;

	/* statistics */
	u64 crashes, mid_op_crashes, reopens, commits, checks, enospc;
	u64 writes, dups, zeros, discards, inflight, abandoned, races;
	u64 matched_older, stale_maps;
	u64 clones, clone_writes, deletes;
	u64 died_after_commit;	/* free_space(): device died in the passdown */
} t;

static u64 rnd(void)
{
	u64 z = (t.rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u64 rnd_below(u64 n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int per_mille)
{
	return rnd_below(1000) < per_mille;
}

__printf(1, 2) static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "FAILED seed=%llu op=%llu (%s): ", opt.seed, t.op,
		t.op_name ? t.op_name : "-");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nreplay: sis-stress --seed %llu --iter %llu --phys %llu --logical %llu --journal %llu%s\n",
		opt.seed, opt.iter, opt.phys, opt.logical, t.cfg.journal_blocks ? (u64)t.cfg.journal_blocks : 0,
		opt.weak_fp ? " --weak-fp" : "");
	exit(1);
}

static void gen_block(u32 s, void *buf)
{
	u64 x = s * 0x9e3779b97f4a7c15ULL + 1, *w = buf;
	unsigned int i;

	if (!s) {
		memset(buf, 0, BS);
		return;
	}
	for (i = 0; i < BS / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
}

static u64 content_hash(const void *buf)
{
	return xxh64(buf, BS, 0x5157);
}

static u32 new_seed(void)
{
	u8 buf[BS];

	if (t.nr_seeds == t.cap_seeds) {
		t.cap_seeds = t.cap_seeds ? t.cap_seeds * 2 : 4096;
		t.hash_of = realloc(t.hash_of, t.cap_seeds * sizeof(*t.hash_of));
		if (!t.hash_of)
			die("out of memory");
	}
	if (!t.nr_seeds) {		/* seed 0: zeros */
		gen_block(0, buf);
		t.hash_of[t.nr_seeds++] = content_hash(buf);
	}
	gen_block(t.nr_seeds, buf);
	t.hash_of[t.nr_seeds] = content_hash(buf);
	return t.nr_seeds++;
}

static u64 fp_of(const void *data)
{
	u64 fp = sis_fingerprint(data);

	return opt.weak_fp ? fp & 0xff : fp;
}

/* ---- model history ---- */

static void snap_free(struct snap *s)
{
	free(s->seeds);
	free(s->cseeds);
	s->seeds = NULL;
	s->cseeds = NULL;
}

static u32 *dup_seeds(const u32 *from, u64 n)
{
	u32 *to = malloc((n ? n : 1) * sizeof(u32));

	if (!to)
		die("out of memory");
	if (n)
		memcpy(to, from, n * sizeof(u32));
	return to;
}

static void snap_take(struct snap *s)
{
	s->wild_lo = s->wild_hi = 0;
	s->logical = t.logical;
	s->seeds = dup_seeds(t.cur, t.logical);
	s->clogical = t.clogical;
	s->cseeds = dup_seeds(t.ccur, t.clogical);
}

/* The model state @s becomes the current one. */
static void model_set(const struct snap *s)
{
	memcpy(t.cur, s->seeds, s->logical * sizeof(u32));
	t.logical = s->logical;
	free(t.ccur);
	t.ccur = dup_seeds(s->cseeds, s->clogical);
	t.clogical = s->clogical;
}

/* The current model as a snapshot (not owning its arrays). */
static struct snap snap_cur(void)
{
	return (struct snap){ .logical = t.logical, .seeds = t.cur,
			      .clogical = t.clogical, .cseeds = t.ccur };
}

static void hist_reset(void)
{
	int i;

	for (i = 0; i < t.nr_hist; i++)
		snap_free(&t.hist[i]);
	if (!t.cap_hist) {
		t.cap_hist = MAX_HISTORY + 8;
		t.hist = calloc(t.cap_hist, sizeof(*t.hist));
		if (!t.hist)
			die("out of memory");
	}
	snap_take(&t.hist[0]);
	t.nr_hist = 1;
}

static bool dead(void)
{
	return t.d->dead;
}

/* An operation boundary: the current model may be what a crash recovers. */
static void hist_push(void)
{
	if (t.nr_hist >= MAX_HISTORY && !dead()) {
		/* keep memory bounded: make everything so far durable */
		if (sis_core_commit(t.c) == 0) {
			t.commits++;
			hist_reset();
			return;
		}
	}
	if (t.nr_hist == t.cap_hist) {
		t.cap_hist = t.cap_hist ? t.cap_hist * 2 : MAX_HISTORY + 8;
		t.hist = realloc(t.hist, t.cap_hist * sizeof(*t.hist));
		if (!t.hist)
			die("out of memory");
	}
	snap_take(&t.hist[t.nr_hist++]);
}

/* The current state, with [lo, hi) possibly zeroed (a discard under way). */
static void hist_push_wild(u64 lo, u64 hi)
{
	hist_push();
	t.hist[t.nr_hist - 1].wild_lo = lo;
	t.hist[t.nr_hist - 1].wild_hi = hi;
}

/*
 * A boundary inside a compound operation (two writers): the core may commit
 * between the steps, so the state with only the first step done is one a
 * crash may recover.  @l still holds @old at that point.
 */
static void hist_push_partial(u64 l, u32 old)
{
	u32 save = t.cur[l];

	t.cur[l] = old;
	hist_push();
	t.cur[l] = save;
}

static void model_grow(u64 logical)
{
	u32 *n = realloc(t.cur, logical * sizeof(u32));

	if (!n)
		die("out of memory");
	memset(n + t.logical, 0, (logical - t.logical) * sizeof(u32));
	t.cur = n;
	t.logical = logical;
}

/* ---- the caller's write path ---- */

static u32 pick_dup_seed(void)
{
	u32 s = t.recent[rnd_below(ARRAY_SIZE(t.recent))];

	if (!s && t.logical)
		s = t.cur[rnd_below(t.logical)];
	return s ? s : new_seed();
}

static void remember(u32 seed)
{
	if (seed)
		t.recent[rnd_below(ARRAY_SIZE(t.recent))] = seed;
}

/* Compare candidate @p with @data; the candidate's write has completed. */
static int same_data(u64 p, const void *data, bool *same)
{
	u8 buf[BS];
	int r = memdev_read(t.d, p, buf);

	*same = !r && !memcmp(buf, data, BS);
	return r;
}

static int write_vol(u32 vol, u64 l, u32 seed)
{
	u8 data[BS];
	bool same;
	u64 fp, p;
	int r;

	gen_block(seed, data);
	if (sis_block_is_zero(data))
		return sis_core_unmap(t.c, vol, l, 1);
	fp = fp_of(data);
	r = sis_core_find_dup(t.c, fp, &p);
	if (!r) {
		r = same_data(p, data, &same);
		if (!r)
			r = same ? sis_core_map(t.c, vol, l, p) : -ENOENT;
		sis_core_unpin(t.c, p);
		if (!r)
			t.dups++;
		/* -ESTALE: the candidate was freed under the pin: use a new block */
		if (r != -ENOENT && r != -EOVERFLOW && r != -ESTALE)
			return r;
	} else if (r != -ENOENT) {
		return r;
	}
	r = sis_core_alloc(t.c, fp, &p);
	if (r)
		return r;
	r = memdev_write(t.d, p, data);
	if (!r)
		r = sis_core_map(t.c, vol, l, p);
	sis_core_unpin(t.c, p);
	return r;
}

static int write_block(u64 l, u32 seed)
{
	return write_vol(0, l, seed);
}

#define BATCH_MAX	32	/* blocks of a batch write (SIS_MAX_IO_BLOCKS) */

static u8 batch_data[BATCH_MAX][BS];

/* Drop @np pins of @pins; return @r. */
static int unpin_all(const u64 *pins, unsigned int np, int r)
{
	while (np--)
		sis_core_unpin(t.c, pins[np]);
	return r;
}

/*
 * A write of @n blocks from @l (volume 0) as the target does one bio
 * (dm-sis/write.c): one sis_core_find_dups() for every block not zero, the
 * candidates compared, one sis_core_alloc_run() for the blocks left, their
 * data written, then one sis_core_map_batch() that maps every block in order
 * and drops every pin.  The model changes only once the blocks are
 * allocated (-ENOSPC before that: nothing done): every prefix of the batch
 * is a state a crash may recover (the core may commit between two blocks
 * of a map batch).  @seeds are distinct and none is an old seed of the
 * range, so no candidate loses its last mapping inside the batch (no
 * -ESTALE: that outcome is the target's to retry).
 */
static int write_batch(u64 l, unsigned int n, const u32 *seeds)
{
	u64 fps[BATCH_MAX], cand[BATCH_MAX], pbs[BATCH_MAX];
	u64 nfps[BATCH_MAX], nps[BATCH_MAX];
	/* a rejected candidate's pin and its block's new one: two per block */
	u64 pins[2 * BATCH_MAX];
	unsigned int i, j, nf = 0, nn = 0, np = 0;
	u8 idx[BATCH_MAX], nidx[BATCH_MAX];
	bool unmapped[BATCH_MAX], same;
	int res[BATCH_MAX], r = 0;
	u32 old[BATCH_MAX];

	for (i = 0; i < n; i++) {
		gen_block(seeds[i], batch_data[i]);
		pbs[i] = 0;		/* zeros: unmapped */
		if (sis_block_is_zero(batch_data[i]))
			continue;
		idx[nf] = i;
		fps[nf++] = fp_of(batch_data[i]);
	}
	if (nf)
		r = sis_core_find_dups(t.c, fps, nf, cand, unmapped);
	if (r < 0)
		return r;
	for (j = 0; j < nf; j++) {
		i = idx[j];
		same = false;
		if (cand[j]) {
			pins[np++] = cand[j];
			r = unmapped[j] ? 0 : same_data(cand[j], batch_data[i], &same);
			if (r)
				return unpin_all(pins, np, r);
		}
		if (same) {
			pbs[i] = cand[j];
			t.dups++;
		} else {
			nidx[nn] = i;
			nfps[nn++] = fps[j];
		}
	}
	if (nn) {
		r = sis_core_alloc_run(t.c, nfps, nn, nps);
		if (r < 0)
			return unpin_all(pins, np, r);
		for (j = 0; j < (unsigned int)r; j++) {
			pins[np++] = nps[j];
			pbs[nidx[j]] = nps[j];
		}
		if ((unsigned int)r < nn)
			return unpin_all(pins, np, -ENOSPC);
		for (j = 0; j < nn; j++) {
			r = memdev_write(t.d, nps[j], batch_data[nidx[j]]);
			if (r)
				return unpin_all(pins, np, r);
		}
	}

	/* from here the batch maps: every prefix may be what a crash finds */
	if (t.nr_hist + n + 1 >= MAX_HISTORY && !dead() &&
	    !sis_core_commit(t.c)) {
		t.commits++;
		hist_reset();
	}
	memcpy(old, t.cur + l, n * sizeof(*old));
	for (i = 0; i + 1 < n; i++) {
		t.cur[l + i] = seeds[i];
		hist_push();
	}
	t.cur[l + n - 1] = seeds[n - 1];
	r = sis_core_map_batch(t.c, 0, l, n, pbs, res, pins, np);
	for (i = 0; !r && i < n; i++)
		r = res[i];
	if (r == -ENOSPC && !dead()) {
		/*
		 * The blocks before the failing one are done (the others get
		 * its error or -ECANCELED): that state is where the op ends
		 */
		for (i = 0; i < n && !res[i]; i++)
			;
		for (; i < n; i++)
			t.cur[l + i] = old[i];
		hist_push();
	}
	t.writes += n;
	return r;
}

/*
 * Two writers of the same data: A allocates; B finds A's block in flight,
 * waits for A's data write and map, then shares it.  With @abandon, A's data
 * write "fails": A unpins without mapping and B must use its own block.
 */
static int inflight_pair(u64 la, u64 lb, u32 seed, bool abandon, bool *a_mapped,
			 u32 lb_old)
{
	u8 data[BS];
	u64 fp, pa, pb;
	bool same;
	int r, rb;

	*a_mapped = false;
	gen_block(seed, data);
	fp = fp_of(data);
	r = sis_core_alloc(t.c, fp, &pa);
	if (r)
		return r;
	rb = sis_core_find_dup(t.c, fp, &pb);
	if (rb && rb != -ENOENT) {
		sis_core_unpin(t.c, pa);
		return rb;
	}
	if (abandon) {
		sis_core_unpin(t.c, pa);	/* A's write failed */
		t.abandoned++;
	} else {
		r = memdev_write(t.d, pa, data);
		if (!r)
			r = sis_core_map(t.c, 0, la, pa);
		sis_core_unpin(t.c, pa);
		if (r) {
			if (!rb)
				sis_core_unpin(t.c, pb);
			return r;
		}
		*a_mapped = true;
		hist_push_partial(lb, lb_old);
	}
	if (!rb) {
		/* B: only a block whose write completed may be shared */
		r = 0;
		if (pb == pa && abandon)
			same = false;
		else
			r = same_data(pb, data, &same);
		if (!r && same)
			r = sis_core_map(t.c, 0, lb, pb);
		sis_core_unpin(t.c, pb);
		if (!r && same) {
			if (pb == pa)
				t.inflight++;
			return 0;
		}
		if (r && r != -EOVERFLOW && r != -ESTALE)
			return r;
	}
	return write_block(lb, seed);
}

/*
 * B finds a candidate and pins it; before B maps it, the candidate's last
 * mapping (at @lo, which holds @seed) is overwritten with @seed2, so its
 * count can drop to zero.  The pin must keep the block and its data; B then
 * shares it (or falls back to a new block).
 */
static int pinned_race(u64 lb, u64 lo, u32 seed, u32 seed2, u32 lb_old)
{
	u8 data[BS];
	bool same = false;
	u64 p;
	int r;

	gen_block(seed, data);
	r = sis_core_find_dup(t.c, fp_of(data), &p);
	if (r && r != -ENOENT)
		return r;
	if (r == -ENOENT) {
		r = write_block(lo, seed2);
		if (!r)
			hist_push_partial(lb, lb_old);
		return r ? : write_block(lb, seed);
	}
	r = write_block(lo, seed2);	/* may free p's last mapping */
	if (r) {
		sis_core_unpin(t.c, p);
		return r;
	}
	hist_push_partial(lb, lb_old);
	r = same_data(p, data, &same);
	if (!r && same)
		r = sis_core_map(t.c, 0, lb, p);
	sis_core_unpin(t.c, p);
	if (r == -ESTALE)
		t.stale_maps++;
	if (r == -EOVERFLOW || r == -ESTALE || (!r && !same))
		r = write_block(lb, seed);
	if (!r)
		t.races++;
	return r;
}

/* ---- open, crash, verify ---- */

static void check_report(void *ctx, enum sis_check_severity sev, const char *msg)
{
	if (sev != SIS_CHECK_INFO || opt.verbose)
		fprintf(stderr, "  check[%s]: %s\n",
			sev == SIS_CHECK_ERROR ? "error" :
			sev == SIS_CHECK_LEAK ? "leak" : "info", msg);
}

static int check_read(void *ctx, u64 pblock, void *buf)
{
	return memdev_read(ctx, pblock, buf);
}

static void run_check(const char *when)
{
	struct sis_check_ops ops = {
		.read_data = opt.weak_fp ? NULL : check_read,
		.report = check_report,
		.ctx = t.d,
	};
	struct sis_check_result res;
	int r;

	memset(&res, 0, sizeof(res));
	r = sis_core_check(t.c, &ops, &res);
	if (r)
		die("sis_core_check (%s): %d", when, r);
	if (res.errors || res.leaks)
		die("check (%s): %llu errors, %llu leaks", when, res.errors, res.leaks);
	t.checks++;
}

static void core_open(void)
{
	const char *errmsg = NULL;
	struct sis_core_stats st;
	int r;

	t.cfg.physical_blocks = t.d->nr_blocks;
	t.cfg.logical_blocks = 0;
	t.cfg.flags = 0;
	t.cfg.cache_pages = chance(300) ? 8 + rnd_below(64) : 0;
	r = sis_core_open(&t.ops, &t.cfg, &t.c, &errmsg);
	if (r)
		die("reopen: %d (%s)", r, errmsg ? errmsg : "?");
	sis_core_get_stats(t.c, &st);
	if (st.needs_check || st.mode != SIS_MODE_WRITE)
		die("reopened with needs_check=%d mode=%d after a crash",
		    st.needs_check, st.mode);
	if (chance(300))
		sis_core_set_discard_passdown(t.c, false);
	t.reopens++;
}

/* Read every block of volume @vol through the core; hash its content. */
static u64 *read_vol(u32 vol, u64 logical)
{
	u8 buf[BS];
	u64 l, p, *h;
	int r;

	h = malloc((logical ? logical : 1) * sizeof(*h));
	if (!h)
		die("out of memory");
	for (l = 0; l < logical; l++) {
		r = sis_core_lookup(t.c, vol, l, &p);
		if (r == -ENODATA) {
			memset(buf, 0, BS);
		} else if (r) {
			die("lookup %llu: %d", l, r);
		} else {
			r = memdev_read(t.d, p, buf);
			if (r)
				die("read pblock %llu: %d", p, r);
		}
		h[l] = content_hash(buf);
	}
	return h;
}

/*
 * The recovered state: volume 0 into @hashes, the clone (if any) into
 * t.chash / t.clog_found; @nr_mapped counts every volume.
 */
static struct {
	u64 *h;
	u64 logical;
} found_clone;

static void read_state(u64 *logical, u64 **hashes, u64 *nr_mapped)
{
	struct sis_volume_info vi;
	struct sis_core_stats st;

	sis_core_get_stats(t.c, &st);
	*logical = st.logical_blocks;
	*nr_mapped = st.nr_mapped;
	*hashes = read_vol(0, st.logical_blocks);
	free(found_clone.h);
	found_clone.logical = 0;
	if (!sis_core_volume_info(t.c, CLONE, &vi)) {
		if (vi.deleting)
			die("volume %u is still being deleted after open", CLONE);
		found_clone.logical = vi.logical_blocks;
	}
	found_clone.h = read_vol(CLONE, found_clone.logical);
}

static bool snap_matches(const struct snap *s, u64 logical, const u64 *h,
			 u64 nr_mapped, u64 *first_bad)
{
	u64 l, mapped = 0;

	if (s->logical != logical || s->clogical != found_clone.logical) {
		*first_bad = U64_MAX;
		return false;
	}
	for (l = 0; l < s->clogical; l++) {
		if (found_clone.h[l] != t.hash_of[s->cseeds[l]]) {
			*first_bad = U64_MAX;
			return false;
		}
		mapped += s->cseeds[l] != 0;
	}
	for (l = 0; l < logical; l++) {
		if (h[l] != t.hash_of[s->seeds[l]]) {
			if (l >= s->wild_lo && l < s->wild_hi && h[l] == t.hash_of[0])
				continue;	/* discarded already */
			*first_bad = l;
			return false;
		}
		mapped += s->seeds[l] != 0;
	}
	*first_bad = U64_MAX - 1;
	return s->wild_hi > s->wild_lo || mapped == nr_mapped;
}

static long long seed_of_hash(u64 h)
{
	u32 s;

	for (s = 0; s < t.nr_seeds; s++)
		if (t.hash_of[s] == h)
			return s;
	return -1;
}

/* On a mismatch: the closest model state and how it differs. */
static void diagnose(u64 logical, const u64 *h, u64 nr_mapped, struct snap *extra)
{
	u64 best_diff = U64_MAX, l, diff;
	int i, best = -1, shown = 0;
	struct snap *s;

	for (i = 0; i <= t.nr_hist; i++) {
		s = i < t.nr_hist ? &t.hist[i] : extra;
		if (!s || !s->seeds)
			continue;
		for (l = 0, diff = 0; l < min_t(u64, logical, s->logical); l++)
			diff += h[l] != t.hash_of[s->seeds[l]];
		if (diff < best_diff) {
			best_diff = diff;
			best = i;
		}
	}
	if (best < 0)
		return;
	s = best < t.nr_hist ? &t.hist[best] : extra;
	fprintf(stderr, "closest model state: #%d of %d (0 = last commit%s), %llu blocks differ, logical %llu vs %llu, mapped %llu:\n",
		best, t.nr_hist, extra && extra->seeds ? ", last = the op's intended result" : "",
		best_diff, logical, s->logical, nr_mapped);
	for (l = 0; l < min_t(u64, logical, s->logical) && shown < 12; l++) {
		if (h[l] == t.hash_of[s->seeds[l]])
			continue;
		fprintf(stderr, "  lblock %llu: recovered seed %lld, model seed %u\n",
			l, seed_of_hash(h[l]), s->seeds[l]);
		shown++;
	}
}

/* After a recovery: the state must be one of the history's (or @extra). */
/*
 * The fingerprint index is RAM only, rebuilt from the refcount pages at
 * open: on a device whose groups all fit in the record index (at least 32
 * refcount pages), the data of every mapped block is found again.  Not
 * with --weak-fp (thousands of blocks share each fingerprint).
 */
static void verify_index(void)
{
	struct sis_core_stats st;
	u8 data[BS];
	u64 l, p;
	int r;

	sis_core_get_stats(t.c, &st);
	if (opt.weak_fp || st.physical_blocks > 32 * SIS_GROUP_BLOCKS)
		return;
	for (l = 0; l < t.logical; l++) {
		if (!t.cur[l])
			continue;
		gen_block(t.cur[l], data);
		r = sis_core_find_dup(t.c, fp_of(data), &p);
		if (r)
			die("after recovery: the data of lblock %llu (seed %u) is not in the index: %d",
			    l, t.cur[l], r);
		sis_core_unpin(t.c, p);
	}
}

static void verify_recovered(struct snap *extra)
{
	u64 logical, *h, nr_mapped, bad = 0, bad0 = 0;
	int i, found = -1;

	read_state(&logical, &h, &nr_mapped);
	for (i = t.nr_hist - 1; i >= 0 && found < 0; i--)
		if (snap_matches(&t.hist[i], logical, h, nr_mapped, &bad))
			found = i;
	if (found < 0 && extra && extra->seeds &&
	    snap_matches(extra, logical, h, nr_mapped, &bad)) {
		found = t.nr_hist;
		snap_free(&t.hist[0]);
		t.hist[0] = *extra;
		extra->seeds = NULL;
		extra->cseeds = NULL;
		model_set(&t.hist[0]);
	}
	if (found < 0) {
		diagnose(logical, h, nr_mapped, extra);
		snap_matches(&t.hist[0], logical, h, nr_mapped, &bad0);
		if (bad0 < logical)
			die("recovered state matches none of %d model states; vs the last commit: lblock %llu holds hash %llx, model seed %u (hash %llx); logical %llu, mapped %llu",
			    t.nr_hist + (extra && extra->seeds ? 1 : 0), bad0, h[bad0],
			    t.hist[0].seeds[bad0], t.hash_of[t.hist[0].seeds[bad0]],
			    logical, nr_mapped);
		die("recovered state matches none of %d model states (logical %llu vs %llu, mapped %llu)",
		    t.nr_hist, logical, t.hist[0].logical, nr_mapped);
	}
	if (found < t.nr_hist) {
		if (found != t.nr_hist - 1)
			t.matched_older++;
		if (t.hist[found].logical > t.logical)
			model_grow(t.hist[found].logical);
		model_set(&t.hist[found]);
		for (i = 0; (u64)i < t.logical; i++)	/* a partial discard */
			if ((u64)i >= t.hist[found].wild_lo && (u64)i < t.hist[found].wild_hi &&
			    h[i] == t.hash_of[0])
				t.cur[i] = 0;
	}
	free(h);
	hist_reset();
	run_check("after recovery");
	verify_index();
}

/* Compare the live state with the current model (no crash). */
static void verify_live(void)
{
	u64 logical, *h, nr_mapped, bad;
	struct snap s = snap_cur();

	read_state(&logical, &h, &nr_mapped);
	if (!snap_matches(&s, logical, h, nr_mapped, &bad)) {
		if (bad < logical)
			die("live state differs from the model at lblock %llu (model seed %u)",
			    bad, t.cur[bad]);
		die("live state differs: logical %llu vs %llu, mapped %llu",
		    logical, t.logical, nr_mapped);
	}
	free(h);
	run_check("live");
}

/*
 * --paranoid: after every operation, open a copy of the durable state (a
 * power cut that loses every pending write) read-only and match it against
 * the history, to find the first operation whose durable state is wrong.
 */
static void paranoid_check(void)
{
	struct sis_core_config cfg = { .flags = SIS_OPEN_READ_ONLY };
	struct sis_core *save_c = t.c;
	struct memdev *save_d = t.d;
	struct sis_io_ops ops;
	const char *errmsg = NULL;
	u64 logical, *h, nr_mapped, bad;
	int i, r;

	t.d = memdev_clone(save_d);
	memdev_ops(t.d, &ops);
	cfg.physical_blocks = t.d->nr_blocks;
	sis_backend_mute++;
	r = sis_core_open(&ops, &cfg, &t.c, &errmsg);
	sis_backend_mute--;
	if (r)
		die("paranoid open: %d (%s)", r, errmsg ? errmsg : "?");
	read_state(&logical, &h, &nr_mapped);
	for (i = t.nr_hist - 1; i >= 0; i--)
		if (snap_matches(&t.hist[i], logical, h, nr_mapped, &bad))
			break;
	if (i < 0) {
		struct snap s = snap_cur();

		if (!snap_matches(&s, logical, h, nr_mapped, &bad)) {
			diagnose(logical, h, nr_mapped, &s);
			die("paranoid: the durable state after this op matches no model state");
		}
	}
	free(h);
	sis_core_close(t.c);
	memdev_destroy(t.d);
	t.c = save_c;
	t.d = save_d;
}

static void power_cut(void)
{
	unsigned int pct = (unsigned int[]){ 0, 0, 30, 70, 100 }[rnd_below(5)];

	sis_backend_mute++;
	memdev_die_after(t.d, 0);
	sis_core_close(t.c);	/* every write fails: nothing more lands */
	sis_backend_mute--;
	t.c = NULL;
	memdev_crash(t.d, pct, chance(500));
	t.crashes++;
}

/* ---- operations ---- */

static u64 rnd_lblock(void)
{
	/* half the time, a hot region, so overwrites are common */
	if (chance(500))
		return rnd_below(min_t(u64, t.logical, 64));
	return rnd_below(t.logical);
}

/*
 * One random operation.  Returns 0, or the error of an operation cut short
 * by the device dying; @intended receives the model state the operation was
 * meant to reach (it may be what recovery finds).
 */
static int one_op(struct snap *intended)
{
	u64 k = rnd_below(1000), l, l2, n;
	u32 seed, seed2, old2;
	bool a_mapped;
	int r = 0;

	if (chance(1) && chance(500)) {		/* fill: unique writes until full */
		t.op_name = "fill";
		l = rnd_below(t.logical);
		for (n = 0; n < t.logical; n++) {
			l2 = (l + n) % t.logical;
			seed = new_seed();
			t.cur[l2] = seed;
			snap_take(intended);
			r = write_block(l2, seed);
			if (r)
				return r;
			snap_free(intended);
			hist_push();
			t.writes++;
		}
		snap_take(intended);
		return 0;
	}

	if (k >= 260 && k < 300) {		/* a batch, as one bio */
		u32 seeds[BATCH_MAX];
		unsigned int i, j;

		t.op_name = "write-batch";
		n = 1 + rnd_below(min_t(u64, BATCH_MAX, t.logical));
		l = rnd_below(t.logical - n + 1);
		for (i = 0; i < n; i++) {
			do {
				seed = chance(100) ? 0 : chance(500) ?
					new_seed() : pick_dup_seed();
				for (j = 0; seed && j < n; j++)
					if (t.cur[l + j] == seed ||
					    (j < i && seeds[j] == seed))
						break;
			} while (seed && j < n);
			seeds[i] = seed;
		}
		snap_take(intended);
		for (i = 0; i < n; i++)
			intended->seeds[l + i] = seeds[i];
		r = write_batch(l, n, seeds);
		for (i = 0; i < n; i++)
			remember(seeds[i]);
	} else if (k < 300) {			/* unique or overwrite */
		t.op_name = "write-unique";
		l = rnd_lblock();
		seed = new_seed();
		t.cur[l] = seed;
		snap_take(intended);
		r = write_block(l, seed);
		remember(seed);
		t.writes++;
	} else if (k < 550) {			/* duplicate */
		t.op_name = "write-dup";
		l = rnd_lblock();
		seed = pick_dup_seed();
		t.cur[l] = seed;
		snap_take(intended);
		r = write_block(l, seed);
		t.writes++;
	} else if (k < 600) {			/* zeros */
		t.op_name = "write-zero";
		l = rnd_lblock();
		t.cur[l] = 0;
		snap_take(intended);
		r = write_block(l, 0);
		t.zeros++;
	} else if (k < 660) {			/* in-flight duplicates */
		bool abandon = chance(250);

		t.op_name = abandon ? "inflight-abandon" : "inflight";
		l = rnd_lblock();
		do {
			l2 = rnd_lblock();
		} while (l2 == l && t.logical > 1);
		seed = chance(500) ? new_seed() : pick_dup_seed();
		old2 = t.cur[l2];
		if (!abandon)
			t.cur[l] = seed;
		t.cur[l2] = seed;
		snap_take(intended);
		r = inflight_pair(l, l2, seed, abandon, &a_mapped,
				  old2);
		if (r && !abandon && !a_mapped)
			t.cur[l] = intended->seeds[l];	/* irrelevant on crash */
		remember(seed);
	} else if (k < 690) {			/* pinned candidate freed */
		t.op_name = "pinned-race";
		seed = pick_dup_seed();
		n = rnd_below(t.logical);
		for (l2 = 0; l2 < t.logical; l2++)
			if (t.cur[(n + l2) % t.logical] == seed)
				break;
		if (l2 == t.logical)
			return 0;
		l2 = (n + l2) % t.logical;	/* holds seed: its mapping goes */
		l = rnd_lblock();
		if (l == l2)
			return 0;
		seed2 = new_seed();
		old2 = t.cur[l];
		t.cur[l2] = seed2;
		t.cur[l] = seed;
		snap_take(intended);
		r = pinned_race(l, l2, seed, seed2, old2);
	} else if (k < 740) {			/* discard */
		t.op_name = "discard";
		l = rnd_below(t.logical);
		n = chance(50) ? t.logical - l : 1 + rnd_below(min_t(u64, 64, t.logical - l));
		hist_push_wild(l, l + n);
		memset(t.cur + l, 0, n * sizeof(u32));
		snap_take(intended);
		r = sis_core_unmap(t.c, 0, l, n);
		t.discards++;
	} else if (k < 770) {			/* commit */
		t.op_name = "commit";
		snap_take(intended);
		r = sis_core_commit(t.c);
		if (!r) {
			t.commits++;
			hist_reset();
			return 0;
		}
	} else if (k < 775) {
		t.op_name = "drop-cache";
		sis_core_drop_cache(t.c);
	} else if (k < 778) {			/* grow logical */
		t.op_name = "grow-logical";
		n = t.logical + 1 + rnd_below(600);
		if (n > opt.logical * 2)
			return 0;
		r = sis_core_volume_resize(t.c, 0, n);
		if (!r)
			model_grow(n);
		snap_take(intended);
	} else if (k < 780) {			/* grow physical */
		t.op_name = "grow-physical";
		n = t.d->nr_blocks + 1 + rnd_below(300);
		if (n > opt.phys * 2)
			return 0;
		if (memdev_resize(t.d, n))
			die("memdev_resize");
		snap_take(intended);
		r = sis_core_resize(t.c, n);
	} else if (k < 800) {			/* live verification */
		t.op_name = "verify-live";
		if (chance(100))
			verify_live();
		return 0;
	} else if (k < 806) {			/* clone volume 0 */
		t.op_name = "clone";
		if (t.clogical)
			return 0;
		free(t.ccur);
		t.ccur = dup_seeds(t.cur, t.logical);
		t.clogical = t.logical;
		snap_take(intended);
		r = sis_core_volume_clone(t.c, CLONE, 0, "clone");
		if (r == -EOPNOTSUPP && !dead()) {	/* journal too small */
			free(t.ccur);
			t.ccur = NULL;
			t.clogical = 0;
			return 0;
		}
		if (!r) {			/* committed */
			t.clones++;
			hist_reset();
		}
	} else if (k < 809) {			/* delete the clone */
		t.op_name = "delete";
		if (!t.clogical)
			return 0;
		free(t.ccur);
		t.ccur = NULL;
		t.clogical = 0;
		snap_take(intended);
		r = sis_core_volume_delete(t.c, CLONE);
		if (!r) {			/* committed */
			t.deletes++;
			hist_reset();
		}
	} else if (k < 840) {			/* write to the clone */
		t.op_name = "clone-write";
		if (!t.clogical)
			return 0;
		l = chance(500) ? rnd_below(min_t(u64, t.clogical, 64)) :
			rnd_below(t.clogical);
		seed = chance(100) ? 0 : chance(500) ? new_seed() : pick_dup_seed();
		t.ccur[l] = seed;
		snap_take(intended);
		r = write_vol(CLONE, l, seed);
		remember(seed);
		t.clone_writes++;
	} else {				/* overwrite in the hot region */
		t.op_name = "overwrite";
		l = rnd_below(min_t(u64, t.logical, 16));
		seed = chance(500) ? new_seed() : pick_dup_seed();
		t.cur[l] = seed;
		snap_take(intended);
		r = write_block(l, seed);
		remember(seed);
		t.writes++;
	}
	return r;
}

/*
 * Returns true when the device died under it (a power cut was handled).
 *
 * The device may also die after the commit is durable: the discard
 * passdown of the blocks it freed runs after the commit block, and a
 * failed passdown is only logged, so the commit returns 0 on a dead
 * device.  The discard is then known durable: recovery must find it.
 */
static bool free_space(void)
{
	u64 l = rnd_below(t.logical / 2);
	bool armed = false;
	int r;

	if (t.clogical) {		/* the clone may hold the space: delete it */
		struct snap done;

		t.op_name = "enospc-delete-clone";
		free(t.ccur);
		t.ccur = NULL;
		t.clogical = 0;
		snap_take(&done);
		r = sis_core_volume_delete(t.c, CLONE);
		if (r && !dead())
			die("delete after ENOSPC: %d", r);
		if (dead()) {
			if (!r)
				hist_reset();	/* the delete is durable */
			t.mid_op_crashes++;
			power_cut();
			core_open();
			verify_recovered(r ? &done : NULL);
			snap_free(&done);
			return true;
		}
		snap_free(&done);
		t.deletes++;
		hist_reset();
	}
	t.op_name = "enospc-discard";
	hist_push_wild(l, t.logical);
	r = sis_core_unmap(t.c, 0, l, t.logical - l);
	memset(t.cur + l, 0, (t.logical - l) * sizeof(u32));
	/*
	 * Now and then the power fails within the commit's first writes:
	 * its journal blocks (about 20), then the passdown of the blocks
	 * freed (hundreds; each discarded block is one device write here).
	 */
	if (t.d->die_after < 0 && chance(250)) {
		memdev_die_after(t.d, rnd_below(64));
		armed = true;
	}
	if (!r)
		r = sis_core_commit(t.c);
	if (armed && !dead())
		memdev_die_after(t.d, -1);
	if (r && !dead())
		die("discard after ENOSPC: %d", r);
	if (!r && dead()) {
		t.died_after_commit++;
		hist_reset();		/* the commit is durable */
		t.mid_op_crashes++;
		power_cut();
		core_open();
		verify_recovered(NULL);
		return true;
	}
	if (r) {
		struct snap done;

		snap_take(&done);
		t.mid_op_crashes++;
		power_cut();
		core_open();
		verify_recovered(&done);
		snap_free(&done);
		return true;
	}
	hist_reset();
	return false;
}

static void run(void)
{
	struct snap intended = { 0 };
	u64 die_at = 0;
	int r;

	t.d = memdev_create(opt.phys, opt.seed ^ 0xd15c);
	if (!t.d)
		die("memdev_create");
	memdev_ops(t.d, &t.ops);
	t.d->lie_flush = getenv("SIS_STRESS_LYING_DEVICE") != NULL;	/* self-test */
	t.cfg.physical_blocks = opt.phys;
	t.cfg.logical_blocks = opt.logical;
	/* half the runs use the default journal size, half a random one */
	t.cfg.journal_blocks = chance(500) ? 0 :
		256 + rnd_below(min_t(u64, 768, opt.phys - 900));	/* drawn always */
	if (opt.journal >= 0)
		t.cfg.journal_blocks = opt.journal;
	t.cfg.flags = SIS_OPEN_FORMAT;
	for (r = 0; r < 16; r++)
		t.cfg.uuid[r] = (u8)rnd();
	{
		const char *errmsg = NULL;

		r = sis_core_open(&t.ops, &t.cfg, &t.c, &errmsg);
		if (r)
			die("format: %d (%s)", r, errmsg ? errmsg : "?");
	}
	model_grow(opt.logical);
	hist_reset();
	remember(new_seed());	/* also registers seed 0, the zero block */

	for (t.op = 0; t.op < opt.iter; t.op++) {
		/* arm a mid-operation power cut now and then */
		if (!die_at && chance(8)) {
			memdev_die_after(t.d, rnd_below(40));
			die_at = t.op + 1;
		}
		r = one_op(&intended);
		if (r == -ENOSPC && !dead()) {
			t.enospc++;
			/* the op did nothing: the model goes back */
			model_set(&t.hist[t.nr_hist - 1]);
			snap_free(&intended);
			if (free_space())
				die_at = 0;
			else
				verify_live();
			continue;
		}
		if (r && !dead())
			die("%s failed: %d", t.op_name, r);
		if (r || dead()) {
			/* cut short (or the device died just after it) */
			t.mid_op_crashes++;
			power_cut();
			core_open();
			verify_recovered(&intended);
			snap_free(&intended);
			die_at = 0;
			continue;
		}
		snap_free(&intended);
		if (opt.paranoid && !die_at)
			paranoid_check();
		if (t.op_name && strcmp(t.op_name, "commit") &&
		    strcmp(t.op_name, "verify-live") && strcmp(t.op_name, "drop-cache"))
			hist_push();
		if (chance(15) && !die_at) {
			t.op_name = "power-cut";
			power_cut();
			core_open();
			verify_recovered(NULL);
		} else if (chance(3) && !die_at) {
			t.op_name = "clean-reopen";
			sis_core_close(t.c);
			t.c = NULL;
			core_open();	/* close committed everything */
			{
				struct snap s = snap_cur();
				u64 logical, *h, nr_mapped, bad;

				read_state(&logical, &h, &nr_mapped);
				if (!snap_matches(&s, logical, h, nr_mapped, &bad))
					die("state after a clean close differs from the model (lblock %llu)", bad);
				free(h);
			}
			hist_reset();
			run_check("after clean reopen");
		}
		if (!opt.quiet && t.op && t.op % 100000 == 0)
			fprintf(stderr, "  %llu ops, %llu crashes, %llu checks\n",
				t.op, t.crashes, t.checks);
	}
	memdev_die_after(t.d, -1);
	if (dead()) {
		power_cut();
		core_open();
		verify_recovered(NULL);
	}
	t.op_name = "final";
	verify_live();
	sis_core_close(t.c);
	t.c = NULL;
	core_open();
	verify_live();
	sis_core_close(t.c);
	memdev_destroy(t.d);
	free(t.ccur);
	free(found_clone.h);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "iter", required_argument, NULL, 'n' },
		{ "phys", required_argument, NULL, 'p' },
		{ "logical", required_argument, NULL, 'l' },
		{ "journal", required_argument, NULL, 'j' },
		{ "weak-fp", no_argument, NULL, 'w' },
		{ "paranoid", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct timespec t0, t1;
	double secs;
	int ch;

	opt.seed = (u64)time(NULL);
	while ((ch = getopt_long(argc, argv, "s:n:p:l:j:wqvP", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'n': opt.iter = strtoull(optarg, NULL, 0); break;
		case 'p': opt.phys = strtoull(optarg, NULL, 0); break;
		case 'l': opt.logical = strtoull(optarg, NULL, 0); break;
		case 'j': opt.journal = strtoll(optarg, NULL, 0); break;
		case 'w': opt.weak_fp = true; break;
		case 'P': opt.paranoid = true; break;
		case 'q': opt.quiet = true; break;
		case 'v': opt.verbose = true; break;
		default:
			fprintf(stderr, "usage: %s [--seed N] [--iter N] [--phys N] [--logical N] [--journal N] [--weak-fp] [--quiet] [--verbose]\n",
				argv[0]);
			return 2;
		}
	}
	t.rng = opt.seed * 0x2545f4914f6cdd1dULL + 7;
	if (opt.quiet)
		sis_backend_mute = 1;	/* the core's messages about injected faults */
	/*
	 * Vary the geometry by seed unless given.  The draws happen either
	 * way, so a run given the values its seed draws (the replay line of
	 * die()) is the same run as one given the seed alone.
	 */
	{
		u64 phys = 1000 + rnd_below(2500), logical;
		bool weak_fp;

		if (!opt.phys)
			opt.phys = phys;
		logical = opt.phys / 2 + rnd_below(chance(300) ? 3 * opt.phys : opt.phys);
		if (!opt.logical)
			opt.logical = logical;
		weak_fp = chance(250);
		opt.weak_fp |= weak_fp;
	}
	printf("sis-stress: seed=%llu iter=%llu phys=%llu logical=%llu%s\n",
	       opt.seed, opt.iter, opt.phys, opt.logical, opt.weak_fp ? " weak-fp" : "");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (sis_compat_warnings)
		die("%lu WARN_ON(s) fired", sis_compat_warnings);
	printf("ok: %llu ops (%llu writes, %llu dedup hits, %llu in-flight shares, %llu abandoned, %llu pinned races (%llu -ESTALE), %llu zeros, %llu discards, %llu clones, %llu clone writes, %llu deletes), %llu commits, %llu crashes (%llu mid-op), %llu reopens, %llu checks, %llu ENOSPC (%llu died after the discard's commit), %llu recoveries to an older op boundary, %.1fs\n",
	       opt.iter, t.writes, t.dups, t.inflight, t.abandoned, t.races, t.stale_maps,
	       t.zeros, t.discards, t.clones, t.clone_writes, t.deletes,
	       t.commits, t.crashes, t.mid_op_crashes,
	       t.reopens, t.checks, t.enospc, t.died_after_commit, t.matched_older, secs);
	return 0;
}
