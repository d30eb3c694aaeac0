// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: load damaged metadata.
 *
 * A valid device image is built once (formatted, populated with shared and
 * unique data, checkpointed, then three more commits left in the journal
 * and a power cut).  Each input patches that image's metadata blocks:
 *
 *   byte 0            flags: bit 0 open read-only, bit 1 write after open,
 *                     bit 2 SIS_OPEN_IGNORE_CHECK, bit 3 small cache
 *   then records      [sel u8][off le16][len u8][len bytes]
 *                     sel & 0x3f picks a metadata block (superblocks,
 *                     journal, refcount pages, map pages);
 *                     sel & 0x40: reseal the block (fix its checksum) so
 *                     the damage reaches the parsers behind the checksum;
 *                     len 0: the next 4096 bytes (or what is left) replace
 *                     the block and it is resealed
 *
 * The core must refuse what is wrong with an error, never crash, hang or
 * leak; if the device opens, every lookup, find_dup, a full check, a few
 * writes, a commit and a close must behave the same way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kernel.h>
#include <linux/crc32c.h>
#include "../../dm-sis/core/sis-core.h"
#include "../../userspace/backend/memdev.h"

#define PHYS		1200
#define LOGICAL		3000
#define MAX_SEL		64

static struct memdev *base;
static u64 sel_blocks[MAX_SEL];
static unsigned int nr_sel;
static u32 csum_seed;

static void gen_block(u32 s, void *buf)
{
	u64 x = s * 0x9e3779b97f4a7c15ULL + 1, *w = buf;
	unsigned int i;

	for (i = 0; i < SIS_BLOCK_SIZE / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
}

static int write_block(struct sis_core *c, struct memdev *d, u64 l, u32 seed)
{
	u8 data[SIS_BLOCK_SIZE], buf[SIS_BLOCK_SIZE];
	u64 fp, p;
	int r;

	gen_block(seed, data);
	fp = sis_fingerprint(data);
	r = sis_core_find_dup(c, fp, &p);
	if (!r) {
		r = memdev_read(d, p, buf);
		if (!r)
			r = memcmp(buf, data, sizeof(buf)) ? -ENOENT : sis_core_map(c, 0, l, p);
		sis_core_unpin(c, p);
		if (r != -ENOENT && r != -EOVERFLOW && r != -ESTALE)
			return r;
	} else if (r != -ENOENT) {
		return r;
	}
	r = sis_core_alloc(c, fp, &p);
	if (r)
		return r;
	r = memdev_write(d, p, data);
	if (!r)
		r = sis_core_map(c, 0, l, p);
	sis_core_unpin(c, p);
	return r;
}

static void add_sel(u64 b)
{
	if (nr_sel < MAX_SEL && b < PHYS)
		sel_blocks[nr_sel++] = b;
}

static void build_base(void)
{
	struct sis_disk_superblock sb;
	struct sis_disk_map_page mp;
	struct sis_core_config cfg = {
		.logical_blocks = LOGICAL, .physical_blocks = PHYS,
		.flags = SIS_OPEN_FORMAT, .uuid = "fuzzfuzzfuzzfuzz",
	};
	struct sis_io_ops ops;
	struct sis_core *c;
	const char *err;
	u64 i, j;

	sis_backend_mute = 1;
	base = memdev_create(PHYS, 1);
	memdev_ops(base, &ops);
	if (sis_core_open(&ops, &cfg, &c, &err)) {
		fprintf(stderr, "fuzz-open: cannot format the base image: %s\n", err);
		abort();
	}
	for (i = 0; i < 120; i++)
		if (write_block(c, base, (i * 131) % LOGICAL, 1 + i % 40))
			abort();
	sis_core_close(c);
	cfg.flags = 0;
	if (sis_core_open(&ops, &cfg, &c, &err))
		abort();
	for (j = 0; j < 3; j++) {
		for (i = 0; i < 10; i++)
			if (write_block(c, base, (i * 509 + j) % LOGICAL, 100 + i + j))
				abort();
		if (sis_core_unmap(c, 0, 131 * j, 1) || sis_core_commit(c))
			abort();
	}
	memdev_die_after(base, 0);
	sis_core_close(c);		/* a power cut: the journal stays */
	memdev_crash(base, 0, false);

	memdev_read_durable(base, 0, &sb);
	csum_seed = le32_to_cpu(sb.csum_seed);
	add_sel(0);
	add_sel(1);
	for (i = 0; i < 12; i++)
		add_sel(le64_to_cpu(sb.journal_start) +
			(le64_to_cpu(sb.tail_block) + i) % le64_to_cpu(sb.journal_blocks));
	/* selectors 14-16 (the v1 index buckets) now name rc pages 2-4 */
	for (i = 0; i < 3; i++)
		add_sel(le64_to_cpu(sb.data_start) + (2 + i) * SIS_GROUP_BLOCKS);
	add_sel(le64_to_cpu(sb.data_start));
	add_sel(le64_to_cpu(sb.data_start) + SIS_GROUP_BLOCKS);
	i = le64_to_cpu(sb.root.vol[0].map_root);
	if (i) {
		add_sel(i);
		memdev_read_durable(base, i, &mp);
		for (j = 0; j < SIS_MAP_FANOUT && nr_sel < MAX_SEL; j++)
			if (le32_to_cpu(sb.root.vol[0].map_depth) > 1 && mp.e[j])
				add_sel(le64_to_cpu(mp.e[j]));
	}
	while (nr_sel < MAX_SEL)	/* anything else, data blocks included */
		add_sel((nr_sel * 97) % PHYS);
}

static void reseal(u8 *blk)
{
	struct sis_disk_header *h = (void *)blk;
	u32 type = le32_to_cpu(h->type);
	u32 seed = type == SIS_BT_SUPERBLOCK ? type : type ^ csum_seed;

	h->csum = cpu_to_le32(crc32c(seed, blk + 4, SIS_BLOCK_SIZE - 4));
}

static int read_data(void *ctx, u64 pblock, void *buf)
{
	return memdev_read(ctx, pblock, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct sis_check_ops cops = { .read_data = read_data };
	struct sis_core_config cfg = { .physical_blocks = PHYS };
	struct sis_check_result res;
	struct sis_core_stats st;
	struct sis_io_ops ops;
	u8 blk[SIS_BLOCK_SIZE];
	struct sis_core *c;
	struct memdev *d;
	const char *err;
	size_t pos = 1;
	u64 l, p;
	u8 flags;

	if (!base)
		build_base();
	if (!size)
		return 0;
	flags = in[0];
	d = memdev_clone(base);
	memdev_ops(d, &ops);
	cops.ctx = d;
	while (pos + 4 <= size) {
		u8 sel = in[pos], len = in[pos + 3];
		u16 off = (in[pos + 1] | in[pos + 2] << 8) % SIS_BLOCK_SIZE;
		u64 b = sel_blocks[(sel & 0x3f) % nr_sel];

		pos += 4;
		memdev_read_durable(d, b, blk);
		if (!len) {
			size_t n = min_t(size_t, size - pos, SIS_BLOCK_SIZE);

			memcpy(blk, in + pos, n);
			pos += n;
			reseal(blk);
		} else {
			size_t n = min_t(size_t, min_t(size_t, len, size - pos),
					 SIS_BLOCK_SIZE - off);

			memcpy(blk + off, in + pos, n);
			pos += len;
			if (sel & 0x40)
				reseal(blk);
		}
		memdev_poke(d, b, blk);
	}

	cfg.flags = (flags & 1 ? SIS_OPEN_READ_ONLY : 0) |
		    (flags & 4 ? SIS_OPEN_IGNORE_CHECK : 0);
	cfg.cache_pages = flags & 8 ? 4 : 0;
	if (sis_core_open(&ops, &cfg, &c, &err) == 0) {
		sis_core_get_stats(c, &st);
		for (l = 0; l < min_t(u64, st.logical_blocks, LOGICAL + 600); l++) {
			if (sis_core_lookup(c, 0, l, &p) == 0 && p >= PHYS)
				abort();	/* a mapping outside the device */
		}
		for (l = 0; l < 50; l++) {
			gen_block(1 + l, blk);
			if (sis_core_find_dup(c, sis_fingerprint(blk), &p) == 0) {
				if (p >= PHYS)
					abort();
				sis_core_unpin(c, p);
			}
		}
		memset(&res, 0, sizeof(res));
		sis_core_check(c, &cops, &res);
		if (flags & 2) {
			for (l = 0; l < 40; l++)
				if (write_block(c, d, (l * 77) % max_t(u64, st.logical_blocks, 1), 500 + l % 7) &&
				    l > 5)
					break;
			sis_core_unmap(c, 0, 0, min_t(u64, st.logical_blocks, 100));
			sis_core_commit(c);
		}
		sis_core_close(c);
	} else if (!err) {
		abort();	/* a refusal must say why */
	}
	memdev_destroy(d);
	return 0;
}
