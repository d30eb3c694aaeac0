// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace shim: known vectors for crc32c and xxh64, list, helpers;
 * and the core's fingerprint (format version 4).
 */
#include <linux/kernel.h>
#include <linux/crc32c.h>
#include <linux/xxhash.h>
#include <linux/bitops.h>
#include <linux/list.h>
#include <linux/math64.h>
#include <linux/mutex.h>
#include <linux/sort.h>
#include <unistd.h>
#include "harness.h"

TEST(crc32c_vectors)
{
	u8 zeros[32] = { 0 };

	/* the kernel's crc32c() is the raw update: invert around it */
	ASSERT_EQ(crc32c(~0U, "123456789", 9) ^ ~0U, 0xe3069283);
	ASSERT_EQ(crc32c(~0U, zeros, 32) ^ ~0U, 0x8a9136aa);
	ASSERT_EQ(crc32c(0, "", 0), 0);
	ASSERT_EQ(crc32c(0x12345678, "", 0), 0x12345678);
	/* chaining equals one pass */
	ASSERT_EQ(crc32c(crc32c(~0U, "1234", 4), "56789", 5),
		  crc32c(~0U, "123456789", 9));
}

TEST(xxh64_vectors)
{
	u8 buf[SIS_BLOCK_SIZE];
	unsigned int i;

	ASSERT_EQ(xxh64("", 0, 0), 0xef46db3751d8e999ULL);
	ASSERT_EQ(xxh64("a", 1, 0), 0xd24ec4f1a98c6e5bULL);
	ASSERT_EQ(xxh64("abc", 3, 0), 0x44bc2cf5ad770999ULL);
	ASSERT_EQ(xxh64("Nobody inspects the spammish repetition", 39, 0),
		  0xfbcea83c8a378bf1ULL);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (u8)i;
	/* 100 and 4096 bytes exercise the 32-byte stripe loop (xxhash-wasm) */
	ASSERT_EQ(xxh64(buf, 100, 0), 0x6ac1e58032166597ULL);
	ASSERT_EQ(xxh64(buf, SIS_BLOCK_SIZE, 0), 0x0f6e64be186af6a4ULL);
	ASSERT_EQ(xxh64(buf, SIS_BLOCK_SIZE, 12345), 0xebc18658b7dc4a09ULL);
}

/*
 * The fingerprint is on-disk format: its values are fixed.  These come
 * from a reference model of docs/format.md's definition written apart
 * from the C code (Python, arbitrary-precision integers).
 */
TEST(fingerprint_vectors)
{
	static u8 buf[SIS_BLOCK_SIZE];
	unsigned int i;

	ASSERT_EQ(sis_fingerprint(buf), 0xcf5a0928fbfe15e0ULL);
	buf[SIS_BLOCK_SIZE - 1] = 1;
	ASSERT_EQ(sis_fingerprint(buf), 0x8a934187c77ea05eULL);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (u8)i;
	ASSERT_EQ(sis_fingerprint(buf), 0x72cc72e252069685ULL);
	memset(buf, 'a', sizeof(buf));
	ASSERT_EQ(sis_fingerprint(buf), 0xd0b6dc4ba234af14ULL);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Blocks that differ in little (one byte anywhere, or a counter in any
 * word: what real data has) get different fingerprints, and one bit
 * flipped changes about half the bits of the fingerprint.
 */
TEST(fingerprint_spreads)
{
	static u64 w[SIS_BLOCK_SIZE / 8];
	unsigned int i, v, n = 0, bits = 0, lo = 64, c, mean;
	u64 *fps = kvmalloc(sizeof(u64) * (SIS_BLOCK_SIZE * 16 + ARRAY_SIZE(w) * 64),
			    GFP_KERNEL);
	u64 fp0;

	ASSERT_TRUE(fps != NULL);
	for (i = 0; i < SIS_BLOCK_SIZE; i++)
		for (v = 1; v <= 16; v++) {
			((u8 *)w)[i] = v * 15;
			fps[n++] = sis_fingerprint(w);
			((u8 *)w)[i] = 0;
		}
	for (i = 0; i < ARRAY_SIZE(w); i++)
		for (v = 1; v <= 64; v++) {
			w[i] = (u64)v << 40 | 0xffff;
			fps[n++] = sis_fingerprint(w);
			w[i] = 0;
		}
	sort(fps, n, sizeof(u64), cmp_u64, NULL);
	for (i = 1; i < n; i++)
		ASSERT_TRUE(fps[i] != fps[i - 1]);
	kvfree(fps);

	fp0 = sis_fingerprint(w);
	for (i = 0; i < SIS_BLOCK_SIZE * 8; i++) {
		w[i / 64] ^= 1ULL << (i % 64);
		c = hweight64(sis_fingerprint(w) ^ fp0);
		w[i / 64] = 0;
		bits += c;
		lo = min(lo, c);
	}
	/* 32 on average; fewer than 12 of 64 bits is 6 sigma out */
	mean = bits / (SIS_BLOCK_SIZE * 8);
	ASSERT_TRUE(mean >= 31 && mean <= 32);
	ASSERT_TRUE(lo >= 12);
}

/* The chunked scans see one bit set or changed anywhere in the block. */
TEST(block_is_zero)
{
	u64 w[SIS_BLOCK_SIZE / 8] = { 0 };
	u8 *buf = (u8 *)w;
	unsigned int i;

	ASSERT_TRUE(sis_block_is_zero(buf));
	for (i = 0; i < SIS_BLOCK_SIZE; i++) {
		buf[i] = 1 << (i % 8);
		ASSERT_TRUE(!sis_block_is_zero(buf));
		buf[i] = 0;
	}
	ASSERT_TRUE(sis_block_is_zero(buf));
}

TEST(block_equal)
{
	u64 a[SIS_BLOCK_SIZE / 8], b[SIS_BLOCK_SIZE / 8];
	u8 *x = (u8 *)a, *y = (u8 *)b;
	unsigned int i;

	for (i = 0; i < SIS_BLOCK_SIZE; i++)
		x[i] = y[i] = (u8)(i * 7 + 3);
	ASSERT_TRUE(sis_block_equal(x, y));
	for (i = 0; i < SIS_BLOCK_SIZE; i++) {
		y[i] ^= 1 << (i % 8);
		ASSERT_TRUE(!sis_block_equal(x, y));
		ASSERT_TRUE(!sis_block_equal(y, x));
		y[i] = x[i];
	}
	ASSERT_TRUE(sis_block_equal(x, y));
}

struct item {
	struct list_head list;
	struct hlist_node node;
	int v;
};

TEST(list_and_hlist)
{
	struct item it[4], *pos, *n;
	LIST_HEAD(head);
	HLIST_HEAD(hh);
	int i, sum = 0;

	for (i = 0; i < 4; i++) {
		it[i].v = i;
		list_add_tail(&it[i].list, &head);
		hlist_add_head(&it[i].node, &hh);
	}
	ASSERT_EQ(list_first_entry(&head, struct item, list)->v, 0);
	ASSERT_EQ(list_last_entry(&head, struct item, list)->v, 3);
	list_for_each_entry_safe(pos, n, &head, list)
		if (pos->v & 1)
			list_del(&pos->list);
	list_for_each_entry(pos, &head, list)
		sum += pos->v;
	ASSERT_EQ(sum, 2);
	hlist_del(&it[3].node);
	sum = 0;
	hlist_for_each_entry(pos, &hh, node)
		sum += pos->v;
	ASSERT_EQ(sum, 3);
}

TEST(helpers)
{
	u32 rem;
	u64 n = 1000;
	struct mutex m;

	ASSERT_EQ(min(3, 5), 3);
	ASSERT_EQ(max_t(u64, 3, 5), 5);
	ASSERT_EQ(clamp(10, 0, 7), 7);
	ASSERT_EQ(DIV_ROUND_UP(9, 4), 3);
	ASSERT_EQ(round_up(9, 8), 16);
	ASSERT_EQ(round_down(9, 8), 8);
	ASSERT_EQ(div_u64_rem(1000, 255, &rem), 3);
	ASSERT_EQ(rem, 235);
	ASSERT_EQ(div64_u64_rem(n, 7, &n), 142);
	ASSERT_EQ(n, 6);
	ASSERT_EQ(BIT(3), 8);
	ASSERT_EQ(le64_to_cpu(cpu_to_le64(0x0102030405060708ULL)),
		  0x0102030405060708ULL);
	mutex_init(&m);
	mutex_lock(&m);
	lockdep_assert_held(&m);
	mutex_unlock(&m);
	mutex_destroy(&m);
}

TEST(sort_matches_order)
{
	u64 v[1000], x = 88172645463325252ULL;
	unsigned int i, n;

	for (n = 0; n <= 1000; n += n < 10 ? 1 : 97) {
		for (i = 0; i < n; i++)
			v[i] = (x = x * 6364136223846793005ULL + 1) >> 58;
		sort(v, n, sizeof(v[0]), cmp_u64, NULL);
		for (i = 1; i < n; i++)
			ASSERT_LE(v[i - 1], v[i]);
	}
}

/* Resident pages of this process (the second field of /proc/self/statm). */
static long resident_pages(void)
{
	long size = 0, res = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res;
}

/*
 * With sis_compat_kv_resident (bench-core's setting), kvcalloc() is
 * resident when it returns, as the kernel's is: a large table's first
 * writes must not each pay a page fault the target never pays (bench-core
 * on a 1 TiB device measured them as 8x the unique-write cost).
 */
TEST(kvcalloc_is_resident)
{
	size_t size = 32UL << 20;
	long before, after;
	u8 *p;

	sis_compat_kv_resident = true;	/* as bench-core runs */
	before = resident_pages();
	ASSERT_TRUE(before > 0);
	p = kvcalloc(size, 1, GFP_KERNEL);
	sis_compat_kv_resident = false;
	ASSERT_TRUE(p != NULL);
	after = resident_pages();
	ASSERT_EQ(p[0] | p[size / 2] | p[size - 1], 0);
	/* nearly all of it: the allocator may have reused a little */
	ASSERT_TRUE((after - before) * sysconf(_SC_PAGESIZE) >= (long)size * 3 / 4);
	kvfree(p);
}
