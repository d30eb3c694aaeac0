// SPDX-License-Identifier: GPL-2.0
/*
 * populate: write known content to a dm-sis image through the core, the way
 * the kernel target does (zero detection, find_dup + compare, alloc + write
 * + map), then verify it back.  A test helper for tests/tools/run.sh.
 *
 *   populate IMG write  [--blocks N] [--seed S]   write, commit, close
 *   populate IMG verify [--blocks N] [--seed S]   read every logical block
 *                                                 back: exit 0 if all match
 *   populate IMG write --crash-after K            stop dead (_exit, no close,
 *                                                 no checkpoint) after the
 *                                                 K-th commit: a crash image
 *   --volume V                                    volume V instead of 0
 *
 * The content of logical block L is a pure function of (L, S), so verify
 * knows what every block must read, after a repair too:
 *   phase 1: L % 11 == 5 zero; L % 4 == 1 one of 13 shared patterns;
 *            else unique to L
 *   phase 2: L % 17 == 3 overwritten with one of 5 other shared patterns
 *            (old blocks lose references, some are freed)
 *   phase 3: L in [N/2, N/2 + 20) discarded (unmapped, reads zeros)
 * Commits every COMMIT_EVERY (40) writes, so the journal wraps and
 * checkpoints happen.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include "sis-core.h"
#include "memdev.h"

#define BS SIS_BLOCK_SIZE
#ifndef COMMIT_EVERY
#define COMMIT_EVERY 40
#endif

static u64 seed = 1;
static u32 vol;

static void fill(u8 *buf, u64 id)
{
	u64 x = id * 0x9e3779b97f4a7c15ULL + seed * 0xbf58476d1ce4e5b9ULL + 1;

	for (size_t i = 0; i < BS; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
}

/* Content id of @l after phase 1; 0 means zeros. */
static u64 id_phase1(u64 l)
{
	if (l % 11 == 5)
		return 0;
	if (l % 4 == 1)
		return 1000000 + l % 13;
	return 1 + l;
}

static u64 id_final(u64 l, u64 n)
{
	if (l >= n / 2 && l < n / 2 + 20)
		return 0;
	if (l % 17 == 3)
		return 3000000 + l % 5;
	return id_phase1(l);
}

static int write_block(struct sis_core *c, struct filedev *f, u64 l, u64 id)
{
	u8 buf[BS], cand[BS];
	u64 fp, p;
	int r;

	if (!id)
		return sis_core_unmap(c, vol, l, 1);
	fill(buf, id);
	fp = sis_fingerprint(buf);
	if (!sis_core_find_dup(c, fp, &p)) {
		r = filedev_read(f, p, cand);
		if (!r && !memcmp(buf, cand, BS))
			r = sis_core_map(c, vol, l, p);
		else
			r = -ENOENT;
		sis_core_unpin(c, p);
		if (!r)
			return 0;
	}
	r = sis_core_alloc(c, fp, &p);
	if (r)
		return r;
	r = filedev_write(f, p, buf);
	if (!r)
		r = sis_core_map(c, vol, l, p);
	sis_core_unpin(c, p);
	return r;
}

int main(int argc, char **argv)
{
	struct sis_core_config cfg = { 0 };
	struct sis_io_ops ops;
	struct sis_core *c;
	struct filedev f;
	const char *errmsg = NULL;
	u64 n = 3000, ops_done = 0, bad = 0, crash_after = 0, commits = 0;
	bool verify;
	int r, i;

	if (argc < 3 || (strcmp(argv[2], "write") && strcmp(argv[2], "verify"))) {
		fprintf(stderr, "usage: populate IMG write|verify [--blocks N] [--seed S] [--volume V]\n");
		return 2;
	}
	verify = !strcmp(argv[2], "verify");
	for (i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--blocks"))
			n = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--volume"))
			vol = (u32)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--crash-after"))
			crash_after = strtoull(argv[i + 1], NULL, 0);
		else
			return 2;
	}
	r = filedev_open(&f, argv[1], verify);
	if (r) {
		fprintf(stderr, "populate: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	filedev_ops(&f, &ops);
	cfg.physical_blocks = f.nr_blocks;
	cfg.flags = verify ? SIS_OPEN_READ_ONLY | SIS_OPEN_IGNORE_CHECK : 0;
	r = sis_core_open(&ops, &cfg, &c, &errmsg);
	if (r) {
		fprintf(stderr, "populate: open: %s (%d)\n", errmsg, r);
		return 1;
	}
	if (verify) {
		u8 want[BS], got[BS];

		for (u64 l = 0; l < n; l++) {
			u64 id = id_final(l, n), p;

			r = sis_core_lookup(c, vol, l, &p);
			if (r == -ENODATA)
				memset(got, 0, BS);
			else if (r || filedev_read(&f, p, got))
				memset(got, 0xee, BS);
			if (id)
				fill(want, id);
			else
				memset(want, 0, BS);
			if (memcmp(want, got, BS)) {
				if (bad < 10)
					fprintf(stderr, "populate: logical block %llu differs\n",
						(unsigned long long)l);
				bad++;
			}
		}
		sis_core_close(c);
		filedev_close(&f);
		printf("verify: %llu blocks, %llu differ\n", (unsigned long long)n,
		       (unsigned long long)bad);
		return bad ? 1 : 0;
	}
	for (int phase = 1; phase <= 3; phase++) {
		for (u64 l = 0; l < n; l++) {
			if (phase == 2 && l % 17 != 3)
				continue;
			if (phase == 3 && (l < n / 2 || l >= n / 2 + 20))
				continue;
			r = write_block(c, &f, l, phase == 1 ? id_phase1(l) :
					phase == 2 ? id_final(l, n) : 0);
			if (r) {
				fprintf(stderr, "populate: write of %llu: %d\n",
					(unsigned long long)l, r);
				return 1;
			}
			if (++ops_done % COMMIT_EVERY == 0 && (r = sis_core_commit(c))) {
				fprintf(stderr, "populate: commit: %d\n", r);
				return 1;
			}
			if (ops_done % COMMIT_EVERY == 0 && crash_after &&
			    ++commits == crash_after)
				_exit(0);	/* a crash: no close, no checkpoint */
		}
	}
	r = sis_core_commit(c);
	sis_core_close(c);
	filedev_close(&f);
	if (r) {
		fprintf(stderr, "populate: commit: %d\n", r);
		return 1;
	}
	return 0;
}
