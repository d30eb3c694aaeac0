// SPDX-License-Identifier: GPL-2.0
/*
 * Many writers at once, as the kernel target's workers: threads write
 * their own logical ranges with data drawn from one small shared pool (so
 * duplicates race across threads, in flight included), while other threads
 * commit, look up and discard.  Afterwards every block holds its owner's
 * last write, and the consistency walk is clean.  Under ASan this also
 * catches use-after-free between pins and frees.
 */
#include <pthread.h>
#include <unistd.h>
#include "harness.h"

#define PHYS		8192
#define LOGICAL		32768
#define WRITERS		4
#define PER_WRITER	2048
#define OPS		6000
#define POOL		200

static struct fx F;
static u32 last[LOGICAL];
static int stop;
static int errors;

struct writer {
	int id;
	u64 rng;
};

static u64 xs(u64 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	u64 base = (u64)w->id * PER_WRITER, l;
	u32 seed;
	int i, r;

	for (i = 0; i < OPS; i++) {
		l = base + xs(&w->rng) % PER_WRITER;
		if (xs(&w->rng) % 20 == 0) {
			u64 n = 1 + xs(&w->rng) % 16;

			if (l + n > base + PER_WRITER)
				n = base + PER_WRITER - l;
			r = sis_core_unmap(F.c, 0, l, n);
			if (!r)
				memset(&last[l], 0, n * sizeof(u32));
		} else {
			seed = xs(&w->rng) % 10 ? 1 + xs(&w->rng) % POOL :
				(u32)(100000 + w->id * OPS + i);
			r = fx_write(&F, l, seed);
			if (!r)
				last[l] = seed;
		}
		if (r && r != -ENOSPC) {
			fprintf(stderr, "  writer %d: op %d on %llu: %d\n", w->id, i, l, r);
			__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

static void *committer_fn(void *arg)
{
	int r;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		r = sis_core_commit(F.c);
		if (r) {
			fprintf(stderr, "  commit: %d\n", r);
			__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
			break;
		}
		usleep(200);
	}
	return NULL;
}

static void *reader_fn(void *arg)
{
	u64 x = 12345, p;
	int r;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		r = sis_core_lookup(F.c, 0, xs(&x) % LOGICAL, &p);
		if (r && r != -ENODATA) {
			fprintf(stderr, "  lookup: %d\n", r);
			__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
			break;
		}
		if (xs(&x) % 1000 == 0)
			sis_core_drop_cache(F.c);
	}
	return NULL;
}

TEST(writers_committers_readers)
{
	pthread_t wt[WRITERS], ct, rt;
	struct writer w[WRITERS];
	struct sis_core_stats st;
	u64 l;
	int i;

	fx_format(&F, PHYS, LOGICAL);
	memset(last, 0, sizeof(last));
	stop = 0;
	errors = 0;
	ASSERT_OK(pthread_create(&ct, NULL, committer_fn, NULL));
	ASSERT_OK(pthread_create(&rt, NULL, reader_fn, NULL));
	for (i = 0; i < WRITERS; i++) {
		w[i].id = i;
		w[i].rng = 0x1234567 + i * 7919;
		ASSERT_OK(pthread_create(&wt[i], NULL, writer_fn, &w[i]));
	}
	for (i = 0; i < WRITERS; i++)
		pthread_join(wt[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(ct, NULL);
	pthread_join(rt, NULL);
	ASSERT_EQ(errors, 0);
	for (l = 0; l < WRITERS * PER_WRITER; l++)
		fx_expect(&F, l, last[l]);
	fx_check_clean(&F);
	sis_core_get_stats(F.c, &st);
	ASSERT_TRUE(st.index_hits > 0);
	fx_reopen(&F);
	for (l = 0; l < WRITERS * PER_WRITER; l++)
		fx_expect(&F, l, last[l]);
	fx_check_clean(&F);
	fx_destroy(&F);
}
