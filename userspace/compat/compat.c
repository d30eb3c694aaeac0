// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace shim's few out-of-line pieces: crc32c, xxh64, a seeded
 * PRNG, allocation with failure injection, printk and WARN accounting.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/crc32c.h>
#include <linux/xxhash.h>
#include <linux/sort.h>

unsigned long sis_compat_warnings;
unsigned long sis_compat_fail_alloc_in;
unsigned long sis_compat_fail_alloc_every;
size_t sis_compat_fail_alloc_size;
int sis_compat_loglevel = -1;

void sis_compat_warn(const char *file, int line, const char *cond)
{
	__atomic_add_fetch(&sis_compat_warnings, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "WARNING: %s:%d: %s\n", file, line, cond);
}

int printk(const char *fmt, ...)
{
	int level = 4, r;
	va_list ap;

	if (sis_compat_loglevel < 0) {
		const char *e = getenv("SIS_LOGLEVEL");

		sis_compat_loglevel = e ? atoi(e) : 4;
	}
	if (fmt[0] == '\001' && fmt[1] >= '0' && fmt[1] <= '7') {
		level = fmt[1] - '0';
		fmt += 2;
	}
	if (level > sis_compat_loglevel)
		return 0;
	va_start(ap, fmt);
	r = vfprintf(stderr, fmt, ap);
	va_end(ap);
	return r;
}

int scnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (!size)
		return 0;
	va_start(ap, fmt);
	r = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (r < 0)
		return 0;
	return (size_t)r >= size ? (int)size - 1 : r;
}

void *memchr_inv(const void *s, int c, size_t n)
{
	const u8 *p = s;

	for (; n; n--, p++)
		if (*p != (u8)c)
			return (void *)p;
	return NULL;
}

/* ---- allocation ---- */

static bool alloc_should_fail(size_t size)
{
	static unsigned long nr;

	if (sis_compat_fail_alloc_size && size == sis_compat_fail_alloc_size)
		return true;
	if (sis_compat_fail_alloc_in && !--sis_compat_fail_alloc_in)
		return true;
	if (sis_compat_fail_alloc_every &&
	    ++nr % sis_compat_fail_alloc_every == 0)
		return true;
	return false;
}

void *sis_compat_alloc(size_t size, gfp_t flags)
{
	if (alloc_should_fail(size))
		return NULL;
	if (!size)
		size = 1;
	return flags & __GFP_ZERO ? calloc(1, size) : malloc(size);
}

bool sis_compat_kv_resident;

/* @p, a zeroed allocation of @size, with every page written (slab.h). */
void *sis_compat_kv_touch(void *p, size_t size)
{
	/* calloc()'s untouched pages are not yet mapped */
	if (p && sis_compat_kv_resident)
		memset(p, 0, size);
	return p;
}

void sis_compat_free(const void *p)
{
	free((void *)p);
}

/* ---- crc32c: reflected Castagnoli, no inversion: SSE4.2 or slicing-by-8 ---- */

static u32 crc32c_table[8][256];

static void __attribute__((constructor)) crc32c_init(void)
{
	u32 i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ (c & 1 ? 0x82f63b78 : 0);
		crc32c_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (j = 1; j < 8; j++)
			crc32c_table[j][i] = (crc32c_table[j - 1][i] >> 8) ^
				crc32c_table[0][crc32c_table[j - 1][i] & 0xff];
}

static u32 crc32c_table_update(u32 crc, const void *p, unsigned int len)
{
	const u8 *b = p;

	while (len >= 8) {
		u64 w;

		memcpy(&w, b, 8);
		w = le64_to_cpu(w) ^ crc;
		crc = crc32c_table[7][w & 0xff] ^
		      crc32c_table[6][(w >> 8) & 0xff] ^
		      crc32c_table[5][(w >> 16) & 0xff] ^
		      crc32c_table[4][(w >> 24) & 0xff] ^
		      crc32c_table[3][(w >> 32) & 0xff] ^
		      crc32c_table[2][(w >> 40) & 0xff] ^
		      crc32c_table[1][(w >> 48) & 0xff] ^
		      crc32c_table[0][w >> 56];
		b += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *b++) & 0xff];
	return crc;
}

#ifdef __x86_64__
/*
 * The SSE4.2 crc32 instruction computes the same update (the kernel's
 * crc32c is hardware too): a table loop cost about 2 us per 4 KiB block
 * verified, which made the userspace core look slower than the kernel's.
 */
__attribute__((target("sse4.2")))
static u32 crc32c_sse42_update(u32 crc, const void *p, unsigned int len)
{
	const u8 *b = p;
	u64 c = crc, w;

	for (; len >= 8; len -= 8, b += 8) {
		memcpy(&w, b, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	for (; len; len--)
		c = __builtin_ia32_crc32qi((u32)c, *b++);
	return c;
}
#endif

static u32 (*crc32c_update)(u32 crc, const void *p, unsigned int len) =
	crc32c_table_update;

static void __attribute__((constructor)) crc32c_pick(void)
{
#ifdef __x86_64__
	if (__builtin_cpu_supports("sse4.2"))
		crc32c_update = crc32c_sse42_update;
#endif
}

u32 crc32c(u32 crc, const void *p, unsigned int len)
{
	return crc32c_update(crc, p, len);
}

/* ---- xxh64 ---- */

#define P64_1 11400714785074694791ULL
#define P64_2 14029467366897019727ULL
#define P64_3 1609587929392839161ULL
#define P64_4 9650029242287828579ULL
#define P64_5 2870177450012600261ULL

static inline u64 rotl64(u64 x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline u64 get64(const u8 *p)
{
	u64 v;

	memcpy(&v, p, 8);
	return le64_to_cpu(v);
}

static inline u32 get32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, 4);
	return le32_to_cpu(v);
}

static inline u64 xxh64_round(u64 acc, u64 input)
{
	acc += input * P64_2;
	acc = rotl64(acc, 31);
	return acc * P64_1;
}

static inline u64 xxh64_merge(u64 acc, u64 val)
{
	acc ^= xxh64_round(0, val);
	return acc * P64_1 + P64_4;
}

uint64_t xxh64(const void *input, size_t len, uint64_t seed)
{
	const u8 *p = input, *end = p + len;
	u64 h;

	if (len >= 32) {
		const u8 *limit = end - 32;
		u64 v1 = seed + P64_1 + P64_2, v2 = seed + P64_2;
		u64 v3 = seed, v4 = seed - P64_1;

		do {
			v1 = xxh64_round(v1, get64(p));
			v2 = xxh64_round(v2, get64(p + 8));
			v3 = xxh64_round(v3, get64(p + 16));
			v4 = xxh64_round(v4, get64(p + 24));
			p += 32;
		} while (p <= limit);
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		h = xxh64_merge(h, v1);
		h = xxh64_merge(h, v2);
		h = xxh64_merge(h, v3);
		h = xxh64_merge(h, v4);
	} else {
		h = seed + P64_5;
	}
	h += len;
	while (p + 8 <= end) {
		h ^= xxh64_round(0, get64(p));
		h = rotl64(h, 27) * P64_1 + P64_4;
		p += 8;
	}
	if (p + 4 <= end) {
		h ^= (u64)get32(p) * P64_1;
		h = rotl64(h, 23) * P64_2 + P64_3;
		p += 4;
	}
	while (p < end) {
		h ^= *p * P64_5;
		h = rotl64(h, 11) * P64_1;
		p++;
	}
	h ^= h >> 33;
	h *= P64_2;
	h ^= h >> 29;
	h *= P64_3;
	h ^= h >> 32;
	return h;
}

/* ---- sort: heapsort, like lib/sort.c ---- */

static void byte_swap(void *a, void *b, int size)
{
	u8 *x = a, *y = b, t;

	while (size--) {
		t = *x;
		*x++ = *y;
		*y++ = t;
	}
}

void sort(void *base, size_t num, size_t size, cmp_func_t cmp_func,
	  swap_func_t swap_func)
{
	u8 *b = base;
	size_t i, n, c, r;

	if (!swap_func)
		swap_func = byte_swap;
	if (num < 2)
		return;
	/* heapify, then pop the maximum to the end */
	for (i = num / 2; i-- > 0;) {
		for (r = i; (c = 2 * r + 1) < num; r = c) {
			if (c + 1 < num && cmp_func(b + c * size, b + (c + 1) * size) < 0)
				c++;
			if (cmp_func(b + r * size, b + c * size) >= 0)
				break;
			swap_func(b + r * size, b + c * size, (int)size);
		}
	}
	for (n = num - 1; n > 0; n--) {
		swap_func(b, b + n * size, (int)size);
		for (r = 0; (c = 2 * r + 1) < n; r = c) {
			if (c + 1 < n && cmp_func(b + c * size, b + (c + 1) * size) < 0)
				c++;
			if (cmp_func(b + r * size, b + c * size) >= 0)
				break;
			swap_func(b + r * size, b + c * size, (int)size);
		}
	}
}
