/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small unit-test harness for the core, plus the caller's side of the
 * write path (fingerprint, find_dup, compare, alloc, write, map, unpin) on a
 * RAM device.
 *
 * TEST(name) { ... } registers a test; main() (harness.c) runs every test or
 * those whose name contains argv[1], printing "PASS: file/name" or
 * "FAIL: file/name" for each.  A failed assertion prints the expression and
 * both operands, then ends the test.  A test that leaves a WARN_ON count
 * behind fails too.
 */
#ifndef SIS_TEST_HARNESS_H
#define SIS_TEST_HARNESS_H

#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <linux/kernel.h>
#include <linux/errno.h>
#include <linux/slab.h>
#include "../../dm-sis/core/sis-core.h"
#include "../../userspace/backend/memdev.h"

struct sis_test {
	const char *name;
	void (*fn)(void);
};

void sis_test_register(const char *name, void (*fn)(void));
extern jmp_buf sis_test_jmp;
extern const char *sis_test_file;

#define TEST(name)							\
	static void name(void);						\
	static void __attribute__((constructor)) name##_register(void)	\
	{								\
		sis_test_register(#name, name);				\
	}								\
	static void name(void)

#define FAIL_TEST(fmt, ...) do {					\
	fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__); \
	longjmp(sis_test_jmp, 1);					\
} while (0)

#define ASSERT_TRUE(x) do {						\
	if (!(x))							\
		FAIL_TEST("assertion failed: %s", #x);			\
} while (0)

#define ASSERT_EQ(a, b) do {						\
	long long __a = (long long)(a), __b = (long long)(b);		\
	if (__a != __b)							\
		FAIL_TEST("%s == %s: %lld (0x%llx) != %lld (0x%llx)",	\
			  #a, #b, __a, (unsigned long long)__a, __b,	\
			  (unsigned long long)__b);			\
} while (0)

#define ASSERT_NE(a, b) do {						\
	long long __a = (long long)(a), __b = (long long)(b);		\
	if (__a == __b)							\
		FAIL_TEST("%s != %s: both %lld", #a, #b, __a);		\
} while (0)

#define ASSERT_LE(a, b) do {						\
	long long __a = (long long)(a), __b = (long long)(b);		\
	if (!(__a <= __b))						\
		FAIL_TEST("%s <= %s: %lld > %lld", #a, #b, __a, __b);	\
} while (0)

#define ASSERT_OK(r) do {						\
	int __r = (r);							\
	if (__r)							\
		FAIL_TEST("%s: %d (%s)", #r, __r, strerror(-__r));	\
} while (0)

/* @r must be the negative errno @e. */
#define ASSERT_ERR(r, e) do {						\
	int __r = (r), __e = (e);					\
	if (__r != __e)							\
		FAIL_TEST("%s: got %d (%s), want %d (%s)", #r, __r,	\
			  __r ? strerror(-__r) : "success", __e,	\
			  strerror(-__e));				\
} while (0)

/* A device, its ops, an open core and the volume fx_write/fx_read use. */
struct fx {
	struct memdev *d;
	struct sis_io_ops ops;
	struct sis_core_config cfg;
	struct sis_core *c;
	const char *errmsg;
	u32 vol;
};

/* Data of "seed" @s: zeros for 0, else a pseudo-random block. */
void gen_block(u32 s, void *buf);

/* Create a device of @phys blocks and open it with SIS_OPEN_FORMAT. */
void fx_format(struct fx *f, u64 phys, u64 logical);
/* The same with a journal of @journal blocks. */
void fx_format_journal(struct fx *f, u64 phys, u64 logical, unsigned int journal);
/* Open (again) with the current cfg; returns the open's result. */
int fx_open(struct fx *f);
/* Close the core (if open) and open again; asserts success. */
void fx_reopen(struct fx *f);
/* Power cut without closing (the core is freed without writing). */
void fx_crash(struct fx *f, unsigned int survive_pct, bool tear);
void fx_destroy(struct fx *f);

/* The caller's write path; fp 0 means sis_fingerprint(data). */
int fx_write_fp(struct fx *f, u64 lblock, const void *data, u64 fp);
int fx_write(struct fx *f, u64 lblock, u32 seed);
/* Read logical block @lblock (zeros when unmapped). */
int fx_read(struct fx *f, u64 lblock, void *buf);
/* Assert that @lblock holds the data of @seed. */
void fx_expect(struct fx *f, u64 lblock, u32 seed);
/* sis_core_check with data verification; asserts no error and no leak. */
void fx_check_clean(struct fx *f);
void fx_check(struct fx *f, struct sis_check_result *res, bool read_data);

#endif /* SIS_TEST_HARNESS_H */
