// SPDX-License-Identifier: GPL-2.0
/*
 * bench-core: what the core costs per block, measured, not asserted.
 *
 * Metadata lives on a RAM device (memdev); data blocks are not stored (the
 * core never reads them), so the numbers are the core's own: fingerprint,
 * index, allocation, refcounts, block map and the commits it does on its
 * own, plus one explicit commit per --commit-every operations (default
 * 2^20: the target commits every second, commit_interval 1, or on a flush;
 * at the 1 us per block the core aims for, a second is a million writes).
 * The fingerprint (sis_fingerprint() of 4 KiB, part of every write) is
 * also timed alone, and the time spent in the metadata device's ops is
 * reported per phase with the reads and writes per block.
 *
 * Writes go in batches of --batch blocks (default 32, a 128 KiB bio), with
 * the calls the target makes per bio (dm-sis/write.c): find_dups, then
 * find_or_alloc of the misses (a second look-up and the allocation, which
 * the target does under its hash locks), map_batch (which drops the pins);
 * --batch 1 makes the
 * single-block calls named below instead.
 *
 *   unique    N writes of distinct data: fingerprint + find_dup (miss) +
 *             alloc + map + unpin
 *   dup       N writes of data already stored, in the order it was written:
 *             fingerprint + find_dup (hit) + map + unpin (the byte
 *             comparison of a real target, a sis_block_equal() of 4 KiB,
 *             is not included).  A duplicate the RAM index does not
 *             find (a block of a group no longer in C, before the group's
 *             first hook) is counted and stored as new data, as the target
 *             would.
 *   lookup    N random lookups of mapped blocks (--lookups: another count;
 *             on a file at scale each one may read a map page)
 *
 * RAM: the core's metadata cache and RAM index as reported by the core,
 * and the process's resident-set growth minus the RAM device's storage,
 * scaled to one million blocks; with --file, also the peak resident set
 * (VmHWM) per million mapped blocks.
 *
 * Each phase also reports the process's CPU time per block (user and
 * system, every thread; on a loaded host steadier than the wall clock),
 * and prints its start and end on CLOCK_MONOTONIC to stderr, so that
 * `perf record -k CLOCK_MONOTONIC` + `perf report --time START,END`
 * profiles one phase alone.
 *
 * With --commit-thread MS, a second thread commits as the target's commit
 * worker does (dm-sis/pool.c, with the core lock dropped across the I/O):
 * sis_core_commit() whenever sis_core_dirty(), then a pause of MS
 * milliseconds (the target's timer is commit_interval, 1 s; a flush
 * commits at once).  The writer then rarely finds the running transaction
 * full and commits inline only at the end of a phase and every
 * --commit-every operations, as before.  Nothing is hidden: the output
 * says the thread ran and how many commits it made, the I/O per phase
 * counts both threads' I/O (its time summed over both), and the CPU time
 * per block is that of every thread, next to the wall time.  Without the
 * option (the default) the single thread does every commit itself.
 *
 * With --file PATH the metadata goes to a sparse file instead (created or
 * truncated to the physical size; the file backend, pread/pwrite and
 * fdatasync per commit): there is no RAM device to subtract, and the
 * file's allocated size is reported.  The file is left in place; with
 * --reuse-file it is not truncated first but formatted over (forced: the
 * earlier run's superblocks are valid, and a plain open would measure
 * overwrites of its mappings), so the blocks an earlier run had
 * the file system allocate are written in place (as on a block device:
 * at 100M blocks a sparse file's allocation of scattered 4 KiB extents is
 * a large part of the writer's system time).  The last
 * line, "bench-core-result: key=value ...", is for scripts/bench.
 *
 * With --device-blocks N (and --file) the device has N blocks however few
 * the workload needs (by default N + N/8 + 4096 for --blocks N): the same
 * writes on a 4 GiB and on a 1 TiB device show what the device's size
 * alone costs (issue 12: unique writes at 1 TiB against 4 GiB).
 *
 * Usage: bench-core [--blocks N] [--mode all|unique|dup|lookup] [--cache PAGES]
 *                   [--file PATH [--reuse-file]] [--lookups N] [--device-blocks N]
 *                   [--commit-every OPS] [--batch N] [--commit-thread MS]
 * With --mode, only that phase runs inside CALLGRIND_TOGGLE_COLLECT, so
 * `valgrind --tool=callgrind --collect-atstart=no bench-core --mode unique`
 * counts the instructions of that phase alone.
 */
#define _GNU_SOURCE	/* RUSAGE_THREAD */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <valgrind/callgrind.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include "../dm-sis/core/sis-core.h"
#include "backend/memdev.h"

#define BS	SIS_BLOCK_SIZE

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process (every thread), user and system. */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * CPU seconds of the calling thread alone, user and system: run in the
 * writer, the phase's wall time minus their sum is the time the writer
 * waited (for a commit or a checkpoint it found in its way, for its own
 * metadata I/O), and the system time is what the metadata device's
 * syscalls cost it (with --file, the host file system's).
 */
struct thread_cpu {
	double user, sys;
};

static struct thread_cpu thread_cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (struct thread_cpu){
		.user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		.sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	};
}

static struct thread_cpu thread_cpu_since(struct thread_cpu a)
{
	struct thread_cpu b = thread_cpu_now();

	return (struct thread_cpu){ .user = b.user - a.user, .sys = b.sys - a.sys };
}

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The process's peak resident set (VmHWM) in KiB, 0 if unknown. */
static long peak_rss_kib(void)
{
	char line[128];
	long kib = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static u64 memdev_bytes(struct memdev *d)
{
	u64 i, n = 0;

	if (!d)
		return 0;
	for (i = 0; i < d->nr_blocks; i++)
		n += d->durable[i] ? BS : 0;
	return n + d->log_len * BS;
}

static void make_data(u64 id, u8 *buf)
{
	u64 *w = (u64 *)buf;
	unsigned int i;

	/* distinct per id, cheap to make: the hash still reads 4 KiB */
	for (i = 0; i < BS / 8; i += 64)
		w[i] = id * 0x9e3779b97f4a7c15ULL + i;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench-core: %s: %d\n", what, r);
	exit(1);
}

/*
 * Create or truncate @path to @blocks blocks (sparse) and open it as the
 * metadata device.  With @reuse, an existing file keeps the blocks it has
 * (the file system allocated them for an earlier run): the core formats
 * over it, and writes to blocks allocated already cost what they cost on a
 * block device, not a sparse file's block allocation.
 */
static void file_create(struct filedev *f, const char *path, u64 blocks,
			bool reuse)
{
	int fd = open(path, O_RDWR | O_CREAT | (reuse ? 0 : O_TRUNC), 0600);
	int r;

	if (fd < 0)
		die(path, -errno);
	if (ftruncate(fd, blocks * BS))
		die("ftruncate", -errno);
	close(fd);
	r = filedev_open(f, path, false);
	if (r)
		die(path, r);
}

/* Bytes the file system has allocated to @f (st_blocks), 0 on error. */
static u64 file_allocated(struct filedev *f)
{
	struct stat st;

	if (fstat(f->fd, &st))
		return 0;
	return (u64)st.st_blocks * 512;
}

/*
 * The metadata I/O the core asks for, counted per phase: the backend's ops
 * wrapped (the RAM device counts too, but the file backend does not).
 */
static struct sis_io_ops inner;
/* io_lock: the committer thread (--commit-thread) counts too */
static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static u64 io_reads, io_writes, io_flushes, io_commits;
static double io_s;		/* time spent in the backend's ops */

static void io_count(u64 *counter, double t)
{
	pthread_mutex_lock(&io_lock);
	(*counter)++;
	io_s += now() - t;
	pthread_mutex_unlock(&io_lock);
}

static int count_read(void *ctx, u64 blocknr, void *buf)
{
	double t = now();
	int r = inner.read(ctx, blocknr, buf);

	io_count(&io_reads, t);
	return r;
}

static int count_write(void *ctx, u64 blocknr, const void *buf)
{
	double t = now();
	int r = inner.write(ctx, blocknr, buf);

	io_count(&io_writes, t);
	return r;
}

static int count_flush(void *ctx)
{
	double t = now();
	int r = inner.flush(ctx);

	io_count(&io_flushes, t);
	return r;
}

static void count_ops(struct sis_io_ops *ops)
{
	inner = *ops;
	ops->read = count_read;
	ops->write = count_write;
	ops->flush = count_flush;
}

/* The I/O counters at a point in the run. */
struct io_mark {
	u64 reads, writes, flushes, commits;
	double s;
};

static void io_mark(struct io_mark *m)
{
	pthread_mutex_lock(&io_lock);
	m->reads = io_reads;
	m->writes = io_writes;
	m->flushes = io_flushes;
	m->commits = io_commits;
	m->s = io_s;
	pthread_mutex_unlock(&io_lock);
}

/* Milliseconds between the committer thread's commits; 0: no thread. */
static unsigned int commit_thread_ms;

/* The I/O between marks @a and @b, per block of @n. */
static void io_print(const char *phase, const struct io_mark *a,
		     const struct io_mark *b, u64 n)
{
	printf("  %-8s metadata I/O per block: %.4f reads, %.4f writes; %llu flushes; %.2f us/block in I/O%s",
	       phase, (b->reads - a->reads) / (double)n,
	       (b->writes - a->writes) / (double)n, b->flushes - a->flushes,
	       (b->s - a->s) * 1e6 / n,
	       commit_thread_ms ? " (both threads)" : "");
	if (commit_thread_ms)
		printf("; %llu commits by the committer thread",
		       b->commits - a->commits);
	printf("\n");
}

/*
 * The committer thread (--commit-thread): the target's commit worker,
 * every commit_thread_ms while the core holds changes.
 */
static bool committer_stop;

static void *committer(void *arg)
{
	struct sis_core *c = arg;
	int r;

	while (!__atomic_load_n(&committer_stop, __ATOMIC_ACQUIRE)) {
		if (sis_core_dirty(c)) {
			r = sis_core_commit(c);
			if (r) {
				fprintf(stderr, "bench-core: commit (thread): %d\n", r);
				exit(1);
			}
			pthread_mutex_lock(&io_lock);
			io_commits++;
			pthread_mutex_unlock(&io_lock);
		}
		usleep(commit_thread_ms * 1000);
	}
	return NULL;
}

/* Microseconds per block of the fingerprint alone, over @n blocks. */
static double fingerprint_us(u8 *data, u64 n)
{
	u64 i, sum = 0;
	double t0 = now();

	for (i = 0; i < n; i++) {
		make_data(i + 1, data);
		sum += sis_fingerprint(data);
	}
	t0 = now() - t0;
	return sum == 42 ? 0 : t0 * 1e6 / n;	/* sum: keep the loop */
}

/* Duplicates the index did not find (stored as new data, as the target does). */
static u64 dup_missed;

static void write_one(struct sis_core *c, u64 l, const u8 *data, bool expect_dup)
{
	u64 fp = sis_fingerprint(data), p;
	int r = sis_core_find_dup(c, fp, &p);

	if (!r) {
		r = sis_core_map(c, 0, l, p);
		sis_core_unpin(c, p);
		if (r)
			die("map (dup)", r);
		return;
	}
	if (r != -ENOENT)
		die("find_dup", r);
	if (expect_dup)
		dup_missed++;
	r = sis_core_alloc(c, fp, &p);
	if (r)
		die("alloc", r);
	r = sis_core_map(c, 0, l, p);
	sis_core_unpin(c, p);
	if (r)
		die("map", r);
}

/* Blocks per batch of core calls (--batch); 1: the single-block calls. */
#define BATCH_MAX	256
static unsigned int batch = 32;

/*
 * The target's write path for one bio of @nb blocks (data @id..@id+nb-1)
 * at @l: fingerprints, sis_core_find_dups(), sis_core_find_or_alloc() for
 * the misses, sis_core_map_batch() dropping every pin: three holds of the
 * core's lock per batch (two when every block is found), as dm-sis/write.c
 * does per bio.
 */
static void write_batch(struct sis_core *c, u64 l, u64 id, unsigned int nb,
			u8 *data, bool expect_dup)
{
	u64 fps[BATCH_MAX] = { 0 }, pbs[BATCH_MAX], afps[BATCH_MAX], apbs[BATCH_MAX];
	u64 skip[BATCH_MAX] = { 0 };
	bool unmapped[BATCH_MAX];
	int results[BATCH_MAX];
	unsigned int i, k, na = 0;
	int r;

	for (i = 0; i < nb; i++) {
		make_data(id + i, data);
		fps[i] = sis_fingerprint(data);
	}
	r = sis_core_find_dups(c, fps, nb, pbs, unmapped);
	if (r < 0)
		die("find_dups", r);
	for (i = 0; i < nb; i++)
		if (!pbs[i])
			afps[na++] = fps[i];
	if (expect_dup)
		dup_missed += na;
	if (na) {
		/* a candidate found now is mapped like a new block */
		r = sis_core_find_or_alloc(c, afps, skip, na, apbs, unmapped);
		if (r < 0)
			die("find_or_alloc", r);
		for (k = 0; k < na; k++)
			if (!apbs[k])
				die("find_or_alloc", -ENOSPC);
		for (i = 0, k = 0; i < nb; i++)
			if (!pbs[i])
				pbs[i] = apbs[k++];
	}
	r = sis_core_map_batch(c, 0, l, nb, pbs, results, pbs, nb);
	if (r)
		die("map_batch", r);
	for (i = 0; i < nb; i++)
		if (results[i])
			die("map_batch (block)", results[i]);
}

/* Operations between explicit commits (--commit-every). */
static u64 commit_every = 1ULL << 20;

/*
 * Write blocks @from..@from+@n-1 (data 1..n) in batches of @batch,
 * committing every commit_every blocks.
 */
static void write_phase(struct sis_core *c, u64 from, u64 n, u8 *data, bool expect_dup)
{
	u64 i, nb, next_commit = commit_every;
	int r;

	for (i = 0; i < n; i += nb) {
		nb = min_t(u64, batch, n - i);
		if (batch == 1) {
			make_data(i + 1, data);
			write_one(c, from + i, data, expect_dup);
		} else {
			write_batch(c, from + i, i + 1, nb, data, expect_dup);
		}
		if (i + nb >= next_commit) {
			next_commit += commit_every;
			r = sis_core_commit(c);
			if (r)
				die("commit", r);
		}
	}
	r = sis_core_commit(c);
	if (r)
		die("commit", r);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "blocks", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "cache", required_argument, NULL, 'c' },
		{ "file", required_argument, NULL, 'f' },
		{ "lookups", required_argument, NULL, 'l' },
		{ "commit-every", required_argument, NULL, 'e' },
		{ "batch", required_argument, NULL, 'b' },
		{ "commit-thread", required_argument, NULL, 't' },
		{ "reuse-file", no_argument, NULL, 'r' },
		{ "device-blocks", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mode = "all", *errmsg = NULL, *path = NULL;
	struct filedev fdev = { .fd = -1 };
	struct sis_core_config cfg = { .flags = SIS_OPEN_FORMAT };
	struct sis_core_stats st;
	struct sis_io_ops ops;
	struct io_mark mk[4];
	struct sis_core *c;
	struct memdev *d = NULL;
	pthread_t cthread;
	u64 n = 1000000, nl = 0, dev_blocks = 0, i, p, x = 88172645463325252ULL;
	double t0, t_unique, t_dup, t_lookup, t_format, ram, fp_us, peak;
	double c0, c_unique, c_dup, c_lookup;
	struct thread_cpu w0, w_unique = { 0 }, w_dup = { 0 };
	long rss0, rss1;
	u64 dev0;
	u8 data[BS];
	bool all, dup_ran, reuse = false;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "n:m:c:f:l:e:b:t:rd:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			n = strtoull(optarg, NULL, 0);
			break;
		case 'm':
			mode = optarg;
			break;
		case 'c':
			cfg.cache_pages = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			path = optarg;
			break;
		case 'l':
			nl = strtoull(optarg, NULL, 0);
			break;
		case 'e':
			commit_every = strtoull(optarg, NULL, 0);
			if (!commit_every)
				commit_every = 1;
			break;
		case 'b':
			batch = clamp_t(unsigned int, strtoul(optarg, NULL, 0), 1,
					BATCH_MAX);
			break;
		case 't':
			commit_thread_ms = strtoul(optarg, NULL, 0);
			if (!commit_thread_ms)
				commit_thread_ms = 1;
			break;
		case 'd':
			dev_blocks = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			reuse = true;
			/* format over the earlier run: never open its device */
			cfg.flags |= SIS_OPEN_FORCE_FORMAT;
			break;
		default:
			fprintf(stderr, "usage: bench-core [--blocks N] [--mode all|unique|dup|lookup]\n"
				"                  [--cache PAGES] [--file PATH] [--lookups N]\n"
				"                  [--commit-every OPS] [--batch N] [--commit-thread MS]\n"
				"                  [--reuse-file] [--device-blocks N]\n");
			return 2;
		}
	}
	/* the kernel's kvmalloc()ed tables are resident: so are ours */
	sis_compat_kv_resident = true;
	all = !strcmp(mode, "all");
	if (!nl)
		nl = n;
	memset(data, 0x5a, sizeof(data));
	cfg.physical_blocks = n + n / 8 + 4096;
	if (dev_blocks > cfg.physical_blocks) {
		if (!path) {
			fprintf(stderr, "bench-core: --device-blocks %llu needs --file: the RAM device would hold it all\n",
				(unsigned long long)dev_blocks);
			return 2;
		}
		cfg.physical_blocks = dev_blocks;
	} else if (dev_blocks) {
		fprintf(stderr, "bench-core: --device-blocks %llu is below the %llu blocks the workload needs\n",
			(unsigned long long)dev_blocks,
			(unsigned long long)cfg.physical_blocks);
		return 2;
	}
	cfg.logical_blocks = 2 * n;
	if (path) {
		file_create(&fdev, path, cfg.physical_blocks, reuse);
		filedev_ops(&fdev, &ops);
	} else {
		d = memdev_create(cfg.physical_blocks, 1);
		if (!d)
			die("memdev_create", -ENOMEM);
		memdev_ops(d, &ops);
	}
	ops.discard = NULL;
	count_ops(&ops);
	fp_us = fingerprint_us(data, min_t(u64, n, 200000));
	rss0 = rss_kib();
	t0 = now();
	r = sis_core_open(&ops, &cfg, &c, &errmsg);
	if (r) {
		fprintf(stderr, "bench-core: open: %s\n", errmsg ? errmsg : "?");
		return 1;
	}
	t_format = now() - t0;
	sis_core_get_stats(c, &st);
	if (st.nr_mapped || st.nr_data) {
		/* an opened device, not a formatted one: nothing to measure */
		fprintf(stderr, "bench-core: the device holds %llu mappings after open: not formatted\n",
			(unsigned long long)st.nr_mapped);
		return 1;
	}
	dev0 = memdev_bytes(d);
	if (commit_thread_ms && pthread_create(&cthread, NULL, committer, c))
		die("pthread_create", -EAGAIN);

	/* unique: lblocks 0..n-1 */
	if (!strcmp(mode, "unique"))
		CALLGRIND_TOGGLE_COLLECT;
	io_mark(&mk[0]);
	c0 = cpu_now();
	w0 = thread_cpu_now();
	t0 = now();
	write_phase(c, 0, n, data, false);
	t_unique = now() - t0;
	c_unique = cpu_now() - c0;
	w_unique = thread_cpu_since(w0);
	fprintf(stderr, "bench-core: unique phase %.1f s (CLOCK_MONOTONIC %.6f to %.6f)\n",
		t_unique, t0, t0 + t_unique);
	if (!strcmp(mode, "unique"))
		CALLGRIND_TOGGLE_COLLECT;

	/* dup: lblocks n..2n-1 share the data of 0..n-1 */
	if (!strcmp(mode, "dup"))
		CALLGRIND_TOGGLE_COLLECT;
	io_mark(&mk[1]);
	c0 = cpu_now();
	w0 = thread_cpu_now();
	t0 = now();
	dup_ran = all || !strcmp(mode, "dup") || !strcmp(mode, "lookup");
	if (dup_ran)
		write_phase(c, n, n, data, true);
	t_dup = now() - t0;
	c_dup = cpu_now() - c0;
	w_dup = thread_cpu_since(w0);
	fprintf(stderr, "bench-core: dup phase %.1f s (CLOCK_MONOTONIC %.6f to %.6f)\n",
		t_dup, t0, t0 + t_dup);
	if (!strcmp(mode, "dup"))
		CALLGRIND_TOGGLE_COLLECT;

	/* lookup: random mapped lblocks */
	if (!strcmp(mode, "lookup"))
		CALLGRIND_TOGGLE_COLLECT;
	io_mark(&mk[2]);
	c0 = cpu_now();
	t0 = now();
	for (i = 0; i < nl; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r = sis_core_lookup(c, 0, x % (dup_ran ? 2 * n : n), &p);
		if (r)
			die("lookup", r);
	}
	t_lookup = now() - t0;
	c_lookup = cpu_now() - c0;
	io_mark(&mk[3]);
	fprintf(stderr, "bench-core: lookup phase %.1f s (CLOCK_MONOTONIC %.6f to %.6f)\n",
		t_lookup, t0, t0 + t_lookup);
	if (!strcmp(mode, "lookup"))
		CALLGRIND_TOGGLE_COLLECT;

	if (commit_thread_ms) {
		__atomic_store_n(&committer_stop, true, __ATOMIC_RELEASE);
		pthread_join(cthread, NULL);
	}
	sis_core_get_stats(c, &st);
	rss1 = rss_kib();
	peak = peak_rss_kib() / 1024.0;
	/* the RAM device holds the metadata in this process: not the core's */
	ram = ((rss1 - rss0) * 1024.0 - (memdev_bytes(d) - dev0)) / 1048576.0;
	printf("bench-core: %llu blocks, metadata on %s, metadata cache limit %u clean pages%s (pages of open or uncheckpointed transactions in addition); one commit per %llu operations; format %.2f s\n",
	       n, path ?: "a RAM device",
	       cfg.cache_pages ? cfg.cache_pages : 4096,
	       cfg.cache_pages ? "" : " (default)", commit_every, t_format);
	if (commit_thread_ms)
		printf("  a committer thread commits every %u ms while the core holds changes (as the target's commit worker; the writer commits only when it finds the transaction full, every %llu operations and at the end of a phase); CPU per block counts both threads\n",
		       commit_thread_ms, commit_every);
	if (batch > 1)
		printf("  writes in batches of %u blocks: sis_core_find_dups(), sis_core_find_or_alloc() of the misses, sis_core_map_batch() (the target's calls per bio)\n",
		       batch);
	else
		printf("  writes one block at a time: sis_core_find_dup(), sis_core_alloc() on a miss, sis_core_map(), sis_core_unpin()\n");
	printf("  unique writes  %10.0f blocks/s  (%.2f us/block; CPU %.2f us/block)\n",
	       n / t_unique, t_unique * 1e6 / n, c_unique * 1e6 / n);
	printf("  dup writes     %10.0f blocks/s  (%.2f us/block; CPU %.2f us/block; %llu not found, stored again)\n",
	       n / t_dup, t_dup * 1e6 / n, c_dup * 1e6 / n, dup_missed);
	printf("  lookups        %10.0f blocks/s  (%.2f us/block; CPU %.2f us/block; %llu lookups)\n",
	       nl / t_lookup, t_lookup * 1e6 / nl, c_lookup * 1e6 / nl, nl);
	printf("  the writer thread alone, us/block: unique %.2f user + %.2f system CPU, %.2f waiting; dup %.2f user + %.2f system, %.2f waiting (system: its metadata syscalls%s; waiting: the wall time off CPU, for commits, checkpoints and metadata I/O)\n",
	       w_unique.user * 1e6 / n, w_unique.sys * 1e6 / n,
	       (t_unique - w_unique.user - w_unique.sys) * 1e6 / n,
	       w_dup.user * 1e6 / n, w_dup.sys * 1e6 / n,
	       (t_dup - w_dup.user - w_dup.sys) * 1e6 / n,
	       path ? ", in the host's file system" : "");
	io_print("unique", &mk[0], &mk[1], n);
	io_print("dup", &mk[1], &mk[2], n);
	io_print("lookup", &mk[2], &mk[3], nl);
	printf("  fingerprint alone (sis_fingerprint() of 4 KiB, in every write above): %.2f us/block\n",
	       fp_us);
	printf("  dedup: %llu mapped, %llu data blocks, %llu map pages, %llu index hits of %llu lookups, %llu commits\n",
	       st.nr_mapped, st.nr_data, st.nr_meta, st.index_hits,
	       st.index_lookups, st.commits);
	printf("  index: %llu rc pages read for hook hits; index RAM %.1f MiB (hook table + record index)\n",
	       st.index_hook_loads, st.index_ram_bytes / 1048576.0);
	printf("  RAM: core metadata cache %llu pages (%.1f MiB); process RSS growth %.1f MiB minus RAM-device growth %.1f MiB = %.1f MiB, per million mapped blocks: %.1f MiB\n",
	       st.cache_pages, st.cache_pages * 4096.0 / (1 << 20),
	       (rss1 - rss0) / 1024.0, (memdev_bytes(d) - dev0) / 1048576.0,
	       ram, ram / (2.0 * n / 1e6));
	printf("  peak RSS %.1f MiB (the whole process%s), per million mapped blocks: %.2f MiB\n",
	       peak, path ? "" : ", the RAM device's storage included",
	       peak / (2.0 * n / 1e6));
	if (path)
		printf("  file: %.1f MiB allocated of %.1f MiB (sparse)\n",
		       file_allocated(&fdev) / 1048576.0,
		       cfg.physical_blocks * (double)BS / 1048576.0);
	printf("bench-core-result: blocks=%llu backend=%s format_s=%.3f",
	       n, path ? "file" : "ram", t_format);
	printf(" unique_us=%.3f dup_us=%.3f lookup_us=%.3f dup_missed=%llu",
	       t_unique * 1e6 / n, t_dup * 1e6 / n, t_lookup * 1e6 / nl,
	       dup_missed);
	printf(" batch=%u commit_thread_ms=%u", batch, commit_thread_ms);
	printf(" unique_cpu_us=%.3f dup_cpu_us=%.3f lookup_cpu_us=%.3f",
	       c_unique * 1e6 / n, c_dup * 1e6 / n, c_lookup * 1e6 / nl);
	printf(" unique_wait_us=%.3f dup_wait_us=%.3f",
	       (t_unique - w_unique.user - w_unique.sys) * 1e6 / n,
	       (t_dup - w_dup.user - w_dup.sys) * 1e6 / n);
	printf(" unique_wuser_us=%.3f unique_wsys_us=%.3f dup_wuser_us=%.3f dup_wsys_us=%.3f file_reused=%d",
	       w_unique.user * 1e6 / n, w_unique.sys * 1e6 / n,
	       w_dup.user * 1e6 / n, w_dup.sys * 1e6 / n, reuse);
	printf(" unique_io_us=%.3f dup_io_us=%.3f lookup_io_us=%.3f lookup_reads=%.3f fp_us=%.3f commit_every=%llu cache_limit=%u peak_rss_mib=%.1f peak_per_m_mib=%.2f",
	       (mk[1].s - mk[0].s) * 1e6 / n, (mk[2].s - mk[1].s) * 1e6 / n,
	       (mk[3].s - mk[2].s) * 1e6 / nl,
	       (mk[3].reads - mk[2].reads) / (double)nl, fp_us, commit_every,
	       cfg.cache_pages ? cfg.cache_pages : 4096, peak,
	       peak / (2.0 * n / 1e6));
	printf(" index_ram_mib=%.1f cache_mib=%.1f ram_mib=%.1f ram_per_m_mib=%.2f file_mib=%.1f\n",
	       st.index_ram_bytes / 1048576.0,
	       st.cache_pages * 4096.0 / (1 << 20), ram, ram / (2.0 * n / 1e6),
	       path ? file_allocated(&fdev) / 1048576.0 : 0.0);
	sis_core_close(c);
	if (path)
		filedev_close(&fdev);
	else
		memdev_destroy(d);
	return 0;
}
