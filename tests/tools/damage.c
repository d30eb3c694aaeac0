// SPDX-License-Identifier: GPL-2.0
/*
 * damage: deliberate, targeted damage to a dm-sis image, for the tool tests.
 *
 *   damage IMG KIND
 *
 * The image must have been closed cleanly (the journal checkpointed), so
 * the superblock's root is the current state and every metadata block is
 * at home.  Blocks whose content is changed on purpose are resealed with
 * the core's own sis_block_csum() (linked from libsis-core.a), so the only
 * inconsistency is the one named; "-csum" kinds leave the checksum wrong.
 *
 * KIND           what it does                                  check exit
 * sb-a           flip a byte in superblock copy A              1 (opens from B)
 * sb-b           flip a byte in superblock copy B              1 (opens from A)
 * sb-both        flip a byte in both copies                    4 (refused)
 * needs-check    set needs_check in both copies (resealed)     1
 * map-csum       flip a byte in the first block-map leaf       4 (repair cuts it out)
 * rc-csum        flip a byte in refcount page of group 0       4
 * version-1      both superblock copies say format version 1   8 (refused)
 * version-2      both superblock copies say format version 2   8 (refused)
 * version-3      both superblock copies say format version 3   8 (refused)
 * version-5      both superblock copies say format version 5   8 (refused)
 * rc-high        a refcount-1 data block gets refcount 2       1 (leak)
 * rc-low         a shared block's refcount drops by one        4
 * leak           a free block gets refcount 1                  1 (leak)
 * dangling       an unmapped logical block maps a free block   4
 * dangling-range an unmapped logical block maps beyond the end 4
 * fp-bad         a data block's stored fingerprint is wrong    4 (0 with --no-data)
 * data-corrupt   a byte of a data block flips                  4 (0 with --no-data)
 *
 * Prints one line "damage: KIND: ..." saying which block it changed and,
 * for mappings, "lblock=N" so the test knows which mapping it made up.
 * Exit 0 done, 1 nothing suitable found or I/O error, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include <asm/byteorder.h>
#include "sis-format.h"

#define BS SIS_BLOCK_SIZE

/* The core's block checksum (dm-sis/core/mcache.c), the one codec. */
u32 sis_block_csum(u32 seed, const void *block);

static int fd;
static struct sis_disk_superblock sb;
static u64 data_start, phys, logical, seed;

static void rd(u64 b, void *buf)
{
	if (pread(fd, buf, BS, (off_t)(b * BS)) != BS) {
		perror("damage: read");
		exit(1);
	}
}

static void wr(u64 b, const void *buf)
{
	if (pwrite(fd, buf, BS, (off_t)(b * BS)) != BS) {
		perror("damage: write");
		exit(1);
	}
}

static void reseal(void *blk)
{
	struct sis_disk_header *h = blk;
	u32 type = le32_to_cpu(h->type);
	u32 s = type == SIS_BT_SUPERBLOCK ? type : type ^ (u32)seed;

	h->csum = cpu_to_le32(sis_block_csum(s, blk));
}

static void flip(u64 b, unsigned int off)
{
	u8 buf[BS];

	rd(b, buf);
	buf[off] ^= 0x5a;
	wr(b, buf);
}

static bool sb_valid(const struct sis_disk_superblock *s, u64 blocknr)
{
	return le64_to_cpu(s->magic) == SIS_MAGIC &&
	       le32_to_cpu(s->hdr.type) == SIS_BT_SUPERBLOCK &&
	       le64_to_cpu(s->hdr.blocknr) == blocknr &&
	       le32_to_cpu(s->hdr.csum) == sis_block_csum(SIS_BT_SUPERBLOCK, s);
}

/* ---- refcounts ---- */

static u64 rc_block(u64 p) { return data_start + (p - data_start) / SIS_GROUP_BLOCKS * SIS_GROUP_BLOCKS; }
static u32 rc_index(u64 p) { return (u32)((p - data_start) % SIS_GROUP_BLOCKS) - 1; }
static bool is_data(u64 p)
{
	return p >= data_start && p < phys && (p - data_start) % SIS_GROUP_BLOCKS;
}

/*
 * First data block (in block order) whose refcount entry satisfies @want,
 * or 0.  Only groups that were allocated from.
 */
static u64 find_rc(bool (*want)(const struct sis_disk_rc *))
{
	u64 groups = le64_to_cpu(sb.root.groups_used);
	struct sis_disk_rc_page pg;

	for (u64 g = 0; g < groups; g++) {
		u64 base = data_start + g * SIS_GROUP_BLOCKS;

		rd(base, &pg);
		for (u32 i = 0; i < SIS_RC_PER_PAGE && base + 1 + i < phys; i++)
			if (want(&pg.e[i]))
				return base + 1 + i;
	}
	return 0;
}

static bool is_meta(const struct sis_disk_rc *e) { return le32_to_cpu(e->flags) & SIS_RC_META; }
static bool want_one(const struct sis_disk_rc *e) { return !is_meta(e) && le32_to_cpu(e->refcount) == 1; }
static bool want_shared(const struct sis_disk_rc *e) { return !is_meta(e) && le32_to_cpu(e->refcount) >= 2; }
static bool want_free(const struct sis_disk_rc *e) { return !is_meta(e) && !e->refcount; }

static void rc_edit(u64 p, int delta, bool set_fp, u64 fp_xor, const char *kind)
{
	struct sis_disk_rc_page pg;
	u64 b = rc_block(p);
	struct sis_disk_rc *e;
	u32 old;

	rd(b, &pg);
	e = &pg.e[rc_index(p)];
	old = le32_to_cpu(e->refcount);
	e->refcount = cpu_to_le32(old + (u32)delta);
	if (set_fp)
		e->fp = cpu_to_le64(0x5151515151515151ULL);
	e->fp = cpu_to_le64(le64_to_cpu(e->fp) ^ fp_xor);
	reseal(&pg);
	wr(b, &pg);
	printf("damage: %s: block %llu refcount %u -> %u (refcount page %llu)\n", kind,
	       (unsigned long long)p, old, old + (u32)delta, (unsigned long long)b);
}

/* ---- block map ---- */

static u64 capacity(u32 level)
{
	u64 c = 1;

	while (level--)
		c *= SIS_MAP_FANOUT;
	return c;
}

/* First leaf (block number) and its base, in logical order. */
static u64 first_leaf(u64 *base)
{
	u64 b = le64_to_cpu(sb.root.vol[0].map_root);
	u32 level = le32_to_cpu(sb.root.vol[0].map_depth) - 1;
	struct sis_disk_map_page mp;

	*base = 0;
	while (b && level > 0) {
		u64 next = 0;

		rd(b, &mp);
		for (u32 i = 0; i < SIS_MAP_FANOUT; i++) {
			if (mp.e[i]) {
				next = le64_to_cpu(mp.e[i]);
				*base += i * capacity(level);
				break;
			}
		}
		b = next;
		level--;
	}
	return b;
}

static int set_unmapped(u64 target, const char *kind)
{
	struct sis_disk_map_page mp;
	u64 base, leaf = first_leaf(&base);

	if (!leaf)
		return 1;
	rd(leaf, &mp);
	for (u32 i = 0; i < SIS_MAP_FANOUT && base + i < logical; i++) {
		if (mp.e[i])
			continue;
		mp.e[i] = cpu_to_le64(target);
		reseal(&mp);
		wr(leaf, &mp);
		printf("damage: %s: leaf %llu entry %u now maps block %llu lblock=%llu\n",
		       kind, (unsigned long long)leaf, i, (unsigned long long)target,
		       (unsigned long long)(base + i));
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct sis_disk_superblock sb1;
	const char *kind;
	u64 p;

	if (argc != 3) {
		fprintf(stderr, "usage: damage IMG KIND (see the comment in damage.c)\n");
		return 2;
	}
	kind = argv[2];
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	rd(0, &sb);
	rd(1, &sb1);
	if (!sb_valid(&sb, 0) || (sb_valid(&sb1, 1) && le64_to_cpu(sb1.sb_seq) > le64_to_cpu(sb.sb_seq)))
		sb = sb1;
	if (!sb_valid(&sb, 0) && !sb_valid(&sb, 1)) {
		fprintf(stderr, "damage: no valid superblock\n");
		return 1;
	}
	data_start = le64_to_cpu(sb.data_start);
	phys = le64_to_cpu(sb.root.physical_blocks);
	logical = le64_to_cpu(sb.root.vol[0].logical_blocks);
	seed = le32_to_cpu(sb.csum_seed);

	if (!strcmp(kind, "sb-a") || !strcmp(kind, "sb-both")) {
		flip(0, 4000);
		printf("damage: %s: superblock copy A\n", kind);
	}
	if (!strcmp(kind, "sb-b") || !strcmp(kind, "sb-both")) {
		flip(1, 4000);
		printf("damage: %s: superblock copy B\n", kind);
	}
	if (!strncmp(kind, "sb-", 3))
		return 0;
	if (!strcmp(kind, "needs-check")) {
		for (u64 b = 0; b < 2; b++) {
			struct sis_disk_superblock s;

			rd(b, &s);
			if (!sb_valid(&s, b))
				continue;
			s.flags = cpu_to_le32(le32_to_cpu(s.flags) | SIS_SB_NEEDS_CHECK);
			reseal(&s);
			wr(b, &s);
		}
		printf("damage: %s: needs_check set in the superblock\n", kind);
		return 0;
	}
	if (!strcmp(kind, "version-1") || !strcmp(kind, "version-2") ||
	    !strcmp(kind, "version-3") || !strcmp(kind, "version-5")) {
		for (u64 b = 0; b < 2; b++) {
			struct sis_disk_superblock s;

			rd(b, &s);
			if (!sb_valid(&s, b))
				continue;
			s.version = cpu_to_le32(kind[8] - '0');
			reseal(&s);
			wr(b, &s);
		}
		printf("damage: %s: superblock version set to %c\n", kind, kind[8]);
		return 0;
	}

	if (!strcmp(kind, "map-csum")) {
		u64 base, leaf = first_leaf(&base);

		if (!leaf)
			return 1;
		flip(leaf, 4095);
		printf("damage: %s: leaf %llu (logical %llu..)\n", kind,
		       (unsigned long long)leaf, (unsigned long long)base);
		return 0;
	}
	if (!strcmp(kind, "rc-csum")) {
		flip(data_start, 4095);
		printf("damage: %s: refcount page %llu\n", kind, (unsigned long long)data_start);
		return 0;
	}
	if (!strcmp(kind, "rc-high")) {
		p = find_rc(want_one);
		if (!p)
			return 1;
		rc_edit(p, +1, false, 0, kind);
		return 0;
	}
	if (!strcmp(kind, "rc-low")) {
		p = find_rc(want_shared);
		if (!p)
			return 1;
		rc_edit(p, -1, false, 0, kind);
		return 0;
	}
	if (!strcmp(kind, "leak")) {
		p = find_rc(want_free);
		if (!p)
			return 1;
		rc_edit(p, +1, true, 0, kind);
		return 0;
	}
	if (!strcmp(kind, "fp-bad")) {
		p = find_rc(want_one);
		if (!p)
			return 1;
		rc_edit(p, 0, false, 1, kind);
		return 0;
	}
	if (!strcmp(kind, "data-corrupt")) {
		p = find_rc(want_one);
		if (!p)
			return 1;
		flip(p, 100);
		printf("damage: %s: data block %llu\n", kind, (unsigned long long)p);
		return 0;
	}
	if (!strcmp(kind, "dangling")) {
		p = find_rc(want_free);
		if (!p || !is_data(p))
			return 1;
		return set_unmapped(p, kind);
	}
	if (!strcmp(kind, "dangling-range"))
		return set_unmapped(phys + 100, kind);

	fprintf(stderr, "damage: unknown KIND '%s'\n", kind);
	return 2;
}
