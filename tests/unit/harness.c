// SPDX-License-Identifier: GPL-2.0
/* The unit-test runner and the caller's write path (see harness.h). */
#include <stdlib.h>
#include <libgen.h>
#include "harness.h"

#define MAX_TESTS 256

static struct sis_test tests[MAX_TESTS];
static int nr_tests;
jmp_buf sis_test_jmp;

void sis_test_register(const char *name, void (*fn)(void))
{
	if (nr_tests == MAX_TESTS)
		abort();
	tests[nr_tests].name = name;
	tests[nr_tests].fn = fn;
	nr_tests++;
}

static bool run_one(void (*fn)(void))
{
	if (setjmp(sis_test_jmp) == 0) {
		fn();
		return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	const char *prog = basename(argv[0]);
	int i, passed = 0, failed = 0;

	for (i = 0; i < nr_tests; i++) {
		unsigned long warn = sis_compat_warnings;
		bool ok;

		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		sis_compat_fail_alloc_in = 0;
		sis_compat_fail_alloc_every = 0;
		sis_compat_fail_alloc_size = 0;
		sis_backend_mute = 0;
		ok = run_one(tests[i].fn);
		sis_compat_fail_alloc_in = 0;
		sis_compat_fail_alloc_every = 0;
		sis_compat_fail_alloc_size = 0;
		if (ok && sis_compat_warnings != warn) {
			fprintf(stderr, "  %lu WARN_ON(s) fired\n",
				sis_compat_warnings - warn);
			ok = false;
		}
		printf("%s: %s/%s\n", ok ? "PASS" : "FAIL", prog, tests[i].name);
		fflush(stdout);
		if (ok)
			passed++;
		else
			failed++;
	}
	fprintf(stderr, "  (%s: %d passed, %d failed)\n", prog, passed, failed);
	return failed ? 1 : 0;
}

/* ---- fixture ---- */

void gen_block(u32 s, void *buf)
{
	u64 x = s * 0x9e3779b97f4a7c15ULL + 1, *w = buf;
	unsigned int i;

	if (!s) {
		memset(buf, 0, SIS_BLOCK_SIZE);
		return;
	}
	for (i = 0; i < SIS_BLOCK_SIZE / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
}

int fx_open(struct fx *f)
{
	f->errmsg = NULL;
	f->c = NULL;
	return sis_core_open(&f->ops, &f->cfg, &f->c, &f->errmsg);
}

void fx_format(struct fx *f, u64 phys, u64 logical)
{
	fx_format_journal(f, phys, logical, 0);
}

void fx_format_journal(struct fx *f, u64 phys, u64 logical, unsigned int journal)
{
	int r;

	memset(f, 0, sizeof(*f));
	f->d = memdev_create(phys, 42);
	ASSERT_TRUE(f->d);
	memdev_ops(f->d, &f->ops);
	f->cfg.logical_blocks = logical;
	f->cfg.physical_blocks = phys;
	f->cfg.journal_blocks = journal;
	f->cfg.flags = SIS_OPEN_FORMAT;
	memcpy(f->cfg.uuid, "0123456789abcdef", 16);
	f->cfg.now = 1700000000;
	r = fx_open(f);
	if (r)
		FAIL_TEST("format %llu/%llu: %d (%s)", phys, logical, r,
			  f->errmsg ? f->errmsg : "?");
}

void fx_reopen(struct fx *f)
{
	int r;

	if (f->c)
		sis_core_close(f->c);
	f->c = NULL;
	r = fx_open(f);
	if (r)
		FAIL_TEST("reopen: %d (%s)", r, f->errmsg ? f->errmsg : "?");
}

void fx_crash(struct fx *f, unsigned int survive_pct, bool tear)
{
	if (f->c) {
		sis_backend_mute++;
		memdev_die_after(f->d, 0);
		sis_core_close(f->c);
		sis_backend_mute--;
		f->c = NULL;
	}
	memdev_crash(f->d, survive_pct, tear);
}

void fx_destroy(struct fx *f)
{
	if (f->c)
		sis_core_close(f->c);
	f->c = NULL;
	memdev_destroy(f->d);
	f->d = NULL;
}

int fx_write_fp(struct fx *f, u64 lblock, const void *data, u64 fp)
{
	u8 buf[SIS_BLOCK_SIZE];
	u64 p;
	int r;

	if (sis_block_is_zero(data))
		return sis_core_unmap(f->c, f->vol, lblock, 1);
	if (!fp)
		fp = sis_fingerprint(data);
again:
	r = sis_core_find_dup(f->c, fp, &p);
	if (!r) {
		r = memdev_read(f->d, p, buf);
		if (!r)
			r = !sis_block_equal(buf, data) ? -ENOENT :
				sis_core_map(f->c, f->vol, lblock, p);
		sis_core_unpin(f->c, p);
		if (r != -ENOENT && r != -EOVERFLOW && r != -ESTALE)
			return r;
	} else if (r != -ENOENT) {
		return r;
	}
	r = sis_core_alloc(f->c, fp, &p);
	if (r)
		return r;
	r = memdev_write(f->d, p, data);
	if (!r)
		r = sis_core_map(f->c, f->vol, lblock, p);
	sis_core_unpin(f->c, p);
	if (r == -ESTALE)	/* shared by another writer, then freed */
		goto again;
	return r;
}

int fx_write(struct fx *f, u64 lblock, u32 seed)
{
	u8 buf[SIS_BLOCK_SIZE];

	gen_block(seed, buf);
	return fx_write_fp(f, lblock, buf, 0);
}

int fx_read(struct fx *f, u64 lblock, void *buf)
{
	u64 p;
	int r = sis_core_lookup(f->c, f->vol, lblock, &p);

	if (r == -ENODATA) {
		memset(buf, 0, SIS_BLOCK_SIZE);
		return 0;
	}
	if (r)
		return r;
	return memdev_read(f->d, p, buf);
}

void fx_expect(struct fx *f, u64 lblock, u32 seed)
{
	u8 want[SIS_BLOCK_SIZE], got[SIS_BLOCK_SIZE];
	int r;

	gen_block(seed, want);
	r = fx_read(f, lblock, got);
	if (r)
		FAIL_TEST("read lblock %llu: %d", lblock, r);
	if (memcmp(want, got, SIS_BLOCK_SIZE))
		FAIL_TEST("lblock %llu does not hold data %u", lblock, seed);
}

static int check_read_data(void *ctx, u64 pblock, void *buf)
{
	return memdev_read(ctx, pblock, buf);
}

static void check_report(void *ctx, enum sis_check_severity sev, const char *msg)
{
	if (sev != SIS_CHECK_INFO || getenv("SIS_VERBOSE"))
		fprintf(stderr, "  check[%d]: %s\n", sev, msg);
}

void fx_check(struct fx *f, struct sis_check_result *res, bool read_data)
{
	struct sis_check_ops ops = {
		.read_data = read_data ? check_read_data : NULL,
		.report = check_report,
		.ctx = f->d,
	};

	memset(res, 0, sizeof(*res));
	ASSERT_OK(sis_core_check(f->c, &ops, res));
}

void fx_check_clean(struct fx *f)
{
	struct sis_check_result res;

	fx_check(f, &res, true);
	ASSERT_EQ(res.errors, 0);
	ASSERT_EQ(res.leaks, 0);
}
