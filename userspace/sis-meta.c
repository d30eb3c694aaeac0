// SPDX-License-Identifier: GPL-2.0
/*
 * sis format, check, repair, dump: the offline subcommands.
 *
 * Each one opens a block device or an image file through the file backend
 * (userspace/backend/filedev.c) and the portable core (dm-sis/core), the
 * very code the kernel target runs.  The hard part is not the walk (the
 * core's sis_core_check() does it) but being honest about what happened:
 *
 *  - A usage error is found before the device is opened: nothing touched.
 *  - check and dump open read-only (SIS_OPEN_READ_ONLY): the journal is
 *    replayed in RAM, nothing is written, so checking a device never
 *    changes it, even one whose metadata is damaged.
 *  - Exit codes separate "the metadata is damaged" (4) from "the tool could
 *    not look" (8: cannot open or read the device, or no dm-sis metadata
 *    at all), so a script can tell a bad disk from a bad path.
 *  - repair writes, and its exit code is the result of a fresh check after
 *    the repair, not a claim: clean (0) or still damaged (4).
 *
 * What the tool reads by itself: the two superblock copies, to print their
 * fields (dump), to tell a damaged dm-sis device from a foreign one, and to
 * refuse formatting over one.  The checksum of a copy is verified with the
 * core's own sis_block_csum(); nothing else of the format is decoded here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <linux/types.h>
#include <asm/byteorder.h>
#include "sis-core.h"
#include "memdev.h"
#include "sis.h"
#include "sis-dev.h"

/*
 * The one internal the tool uses: the checksum of a block, to say which
 * superblock copy is valid.  Declared in dm-sis/core/core-internal.h; the
 * public header has no superblock accessor yet.
 */
u32 sis_block_csum(u32 seed, const void *block);

#define BS SIS_BLOCK_SIZE

/* ---- Device handling ---- */


static void core_log(void *ctx, int level, const char *msg)
{
	static int max = -1;

	(void)ctx;
	if (max < 0) {
		const char *e = getenv("SIS_LOGLEVEL");

		max = e ? atoi(e) : 4;
	}
	if (level <= max)
		sis_err("core: %s", msg);
}

/*
 * Open @path.  A block device is also claimed with O_EXCL, which fails while
 * it is mounted or used by device-mapper: an active sis target holds newer
 * metadata in RAM than the disk shows, so even a read-only check or dump of
 * it would report a state that never existed (thin_check refuses the same
 * way).
 */
static int dev_open(struct sis_dev *d, const char *path, bool write, bool claim)
{
	struct stat st;
	int r;

	memset(d, 0, sizeof(*d));
	d->path = path;
	d->excl_fd = -1;
	if (stat(path, &st)) {
		r = -errno;
		sis_err("%s: %s", path, strerror(-r));
		return r;
	}
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
		sis_err("%s: not a block device or a regular file", path);
		return -EINVAL;
	}
	d->is_blk = S_ISBLK(st.st_mode);
	if (d->is_blk && claim) {
		d->excl_fd = open(path, O_RDONLY | O_EXCL);
		if (d->excl_fd < 0) {
			r = -errno;
			sis_err("%s: %s%s", path, strerror(-r),
				r == -EBUSY ? " (mounted, or an active device-mapper "
				"target uses it: remove it first)" : "");
			return r;
		}
	}
	r = filedev_open(&d->f, path, !write);
	if (r) {
		sis_err("%s: %s", path, strerror(-r));
		if (d->excl_fd >= 0)
			close(d->excl_fd);
		return r;
	}
	/* An active target writes around the page cache: drop what it holds. */
	if (!claim)
		posix_fadvise(d->f.fd, 0, 0, POSIX_FADV_DONTNEED);
	filedev_ops(&d->f, &d->ops);
	d->ops.log = core_log;
	if (!write)
		d->ops.discard = NULL;
	return 0;
}

int sis_dev_open(struct sis_dev *d, const char *path, bool write)
{
	return dev_open(d, path, write, true);
}

int sis_dev_open_shared(struct sis_dev *d, const char *path)
{
	return dev_open(d, path, false, false);
}

void sis_dev_close(struct sis_dev *d)
{
	filedev_close(&d->f);
	if (d->excl_fd >= 0)
		close(d->excl_fd);
	d->excl_fd = -1;
}

/* Read @n bytes from the start of the device; a short device reads zeros. */
/* strerror() for the core's errno codes, in the core's own meanings. */
const char *sis_core_strerror(int r)
{
	switch (r) {
	case -EILSEQ: return "metadata block failed its checksum or location check";
	case -EUCLEAN: return "problems remain";
	case -EROFS: return "metadata is read-only";
	case -ENOSPC: return "no space (device or journal too small)";
	case -EOPNOTSUPP: return "unsupported format version or feature";
	case -EINVAL: return "invalid or foreign metadata";
	default: return strerror(-r);
	}
}

/* ---- Superblock copies ---- */

enum sb_state { SB_ZERO, SB_FOREIGN, SB_BAD_CSUM, SB_BAD_LOCATION, SB_VALID };

static const char *const sb_state_name[] = {
	[SB_ZERO] = "all zeros",
	[SB_FOREIGN] = "no dm-sis magic",
	[SB_BAD_CSUM] = "dm-sis magic, bad checksum",
	[SB_BAD_LOCATION] = "dm-sis magic, wrong location or type",
	[SB_VALID] = "valid",
};

static enum sb_state sb_classify(const void *blk, u64 blocknr)
{
	const struct sis_disk_superblock *sb = blk;
	const uint8_t *p = blk;
	size_t i;

	for (i = 0; i < BS && !p[i]; i++)
		;
	if (i == BS)
		return SB_ZERO;
	if (le64_to_cpu(sb->magic) != SIS_MAGIC)
		return SB_FOREIGN;
	if (le32_to_cpu(sb->hdr.csum) != sis_block_csum(SIS_BT_SUPERBLOCK, blk))
		return SB_BAD_CSUM;
	if (le32_to_cpu(sb->hdr.type) != SIS_BT_SUPERBLOCK ||
	    le64_to_cpu(sb->hdr.blocknr) != blocknr)
		return SB_BAD_LOCATION;
	return SB_VALID;
}

struct sb_pair {
	struct sis_disk_superblock copy[2];
	enum sb_state state[2];
	int current;		/* index of the valid copy with the higher seq, or -1 */
};

static int sb_read(struct sis_dev *d, struct sb_pair *sp)
{
	int r;

	sp->current = -1;
	for (int i = 0; i < 2; i++) {
		if ((u64)i >= d->f.nr_blocks) {
			memset(&sp->copy[i], 0, BS);
		} else {
			r = filedev_read(&d->f, i, &sp->copy[i]);
			if (r)
				return r;
		}
		sp->state[i] = sb_classify(&sp->copy[i], i);
		if (sp->state[i] != SB_VALID)
			continue;
		if (sp->current < 0 ||
		    le64_to_cpu(sp->copy[i].sb_seq) >
		    le64_to_cpu(sp->copy[sp->current].sb_seq))
			sp->current = i;
	}
	return 0;
}

static bool sb_has_magic(const struct sb_pair *sp)
{
	return sp->state[0] >= SB_BAD_CSUM || sp->state[1] >= SB_BAD_CSUM;
}

/* ---- Helpers ---- */

static void fmt_uuid(const uint8_t *u, char *buf)
{
	sprintf(buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		"%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
		u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void fmt_time(u64 t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%llu", (unsigned long long)t);
}

/* Exactly one positional argument: the device. */
int sis_one_device(int argc, char **argv, const char **dev)
{
	if (optind >= argc)
		return sis_usage_error("missing DEV (a block device or an image file)");
	if (optind + 1 < argc)
		return sis_usage_error("unexpected argument '%s'", argv[optind + 1]);
	*dev = argv[optind];
	return 0;
}

/*
 * Why sis_core_open() failed, as an exit code: damaged dm-sis metadata (4)
 * or not something we can check (8).
 */
int sis_open_failure(struct sis_dev *d, int r, const char *errmsg, bool check)
{
	struct sb_pair sp;

	sis_err("%s: cannot open dm-sis metadata: %s (%s)", d->path,
		errmsg ? errmsg : "error", sis_core_strerror(r));
	if (r == -EIO || r == -ENOMEM || r == -EOPNOTSUPP)
		return check ? SIS_CHECK_EXIT_OPER : SIS_EXIT_FAIL;
	if (sb_read(d, &sp))
		return check ? SIS_CHECK_EXIT_OPER : SIS_EXIT_FAIL;
	for (int i = 0; i < 2; i++)
		sis_err("superblock copy %c: %s", 'A' + i, sb_state_name[sp.state[i]]);
	if (!sb_has_magic(&sp)) {
		sis_err("%s: no dm-sis metadata found", d->path);
		return check ? SIS_CHECK_EXIT_OPER : SIS_EXIT_FAIL;
	}
	return check ? SIS_CHECK_EXIT_ERRORS : SIS_EXIT_FAIL;
}

/* ---- format ---- */

static const char format_help[] =
"Usage: sis format DEV [--logical-size SIZE] [--journal-blocks N] [--name NAME]\n"
"                      [--force]\n"
"\n"
"Write fresh dm-sis metadata on DEV (a block device or an image file).\n"
"The pool starts with one volume, id 0, of the logical size (more with\n"
"'sis volume').  Everything DEV held is lost.  Refuses a device that holds\n"
"dm-sis metadata, a filesystem, a partition table or another volume\n"
"signature unless --force.\n"
"\n"
"Options:\n"
"  -l, --logical-size SIZE   exported size (default: the size of DEV); may be\n"
"                            larger than DEV (thin); a multiple of 4 KiB\n"
"  -j, --journal-blocks N    metadata journal size in 4 KiB blocks\n"
"                            (default: chosen by the core; cloning volumes\n"
"                            needs about 1030 on devices over 130 MiB)\n"
"  -N, --name NAME           a name for volume 0 (see sis volume)\n"
"  -f, --force               format whatever DEV holds\n"
"  -q, --quiet               print nothing on success\n"
"  -h, --help                this text\n"
"\n"
"SIZE is a number of bytes with an optional unit: s (512-byte sectors),\n"
"K, M, G, T, P, E (powers of 1024; KiB and KB are accepted too).\n"
"Exit: 0 formatted, 1 failed or refused, 2 usage error.\n";

static int parse_logical(const char *arg, u64 *blocks)
{
	const char *why;
	uint64_t bytes;

	if (sis_parse_size(arg, &bytes, &why))
		return sis_usage_error("--logical-size '%s': %s", arg, why);
	if (bytes == 0)
		return sis_usage_error("--logical-size must not be zero");
	if (bytes % BS)
		return sis_usage_error("--logical-size '%s' (%llu bytes) is not a multiple of 4 KiB",
				       arg, (unsigned long long)bytes);
	*blocks = bytes / BS;
	return 0;
}

int cmd_format(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "logical-size", required_argument, NULL, 'l' },
		{ "journal-blocks", required_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "name", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct sis_core_config cfg = { 0 };
	const char *path, *sig, *errmsg = NULL, *name = NULL, *why;
	struct sis_core_stats st;
	struct sis_core *c;
	bool force = false, quiet = false;
	uint64_t jb;
	struct sis_dev d;
	int opt, r;
	char ub[40], h1[16], h2[16];

	if (sis_want_help(argc, argv, format_help))
		return SIS_EXIT_OK;
	while ((opt = sis_next_opt(argc, argv, ":l:j:fqN:", longs)) != -1) {
		switch (opt) {
		case 'l':
			if (parse_logical(optarg, &cfg.logical_blocks))
				return SIS_EXIT_USAGE;
			break;
		case 'j':
			if (sis_parse_uint(optarg, UINT32_MAX, &jb) || jb == 0)
				return sis_usage_error("--journal-blocks '%s': not a positive number",
						       optarg);
			cfg.journal_blocks = (unsigned int)jb;
			break;
		case 'f':
			force = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'N':
			why = sis_volume_name_problem(optarg);
			if (why)
				return sis_usage_error("--name '%s' %s", optarg, why);
			name = optarg;
			break;
		default:
			return SIS_EXIT_USAGE;
		}
	}
	if (sis_one_device(argc, argv, &path))
		return SIS_EXIT_USAGE;

	if (sis_dev_open(&d, path, true))
		return SIS_EXIT_FAIL;
	r = SIS_EXIT_FAIL;
	if (d.f.nr_blocks < 3) {
		sis_err("%s: too small (%llu bytes)", path,
			(unsigned long long)d.f.nr_blocks * BS);
		goto out;
	}
	r = sis_foreign_signature(&d.ops, d.f.nr_blocks, &sig, NULL);
	if (r) {
		sis_err("%s: cannot read: %s", path, strerror(-r));
		r = SIS_EXIT_FAIL;
		goto out;
	}
	r = SIS_EXIT_FAIL;
	if (sig && !force) {
		sis_err("%s holds %s; not formatting (use --force to overwrite it)",
			path, sig);
		goto out;
	}
	cfg.physical_blocks = d.f.nr_blocks;
	if (!cfg.logical_blocks)
		cfg.logical_blocks = d.f.nr_blocks;
	cfg.flags = SIS_OPEN_FORCE_FORMAT;
	cfg.now = (u64)time(NULL);
	if (getrandom(cfg.uuid, sizeof(cfg.uuid), 0) != sizeof(cfg.uuid)) {
		sis_err("getrandom: %s", strerror(errno));
		goto out;
	}
	cfg.uuid[6] = (uint8_t)((cfg.uuid[6] & 0x0f) | 0x40);	/* version 4 */
	cfg.uuid[8] = (uint8_t)((cfg.uuid[8] & 0x3f) | 0x80);	/* variant */

	cfg.name = name;
	r = sis_core_open(&d.ops, &cfg, &c, &errmsg);
	if (r) {
		sis_err("%s: format failed: %s (%s)", path,
			errmsg ? errmsg : "error", sis_core_strerror(r));
		r = SIS_EXIT_FAIL;
		goto out;
	}
	sis_core_get_stats(c, &st);
	sis_core_close(c);
	if (filedev_flush(&d.f)) {
		sis_err("%s: flush failed: %s", path, strerror(errno));
		r = SIS_EXIT_FAIL;
		goto out;
	}
	if (!quiet) {
		fmt_uuid(cfg.uuid, ub);
		printf("%s: formatted dm-sis: logical %s (%llu blocks), physical %s "
		       "(%llu blocks, %llu for data), uuid %s\n", path,
		       sis_human(st.logical_blocks * BS, h1, sizeof(h1)),
		       (unsigned long long)st.logical_blocks,
		       sis_human(st.physical_blocks * BS, h2, sizeof(h2)),
		       (unsigned long long)st.physical_blocks,
		       (unsigned long long)st.data_blocks, ub);
	}
	r = SIS_EXIT_OK;
out:
	sis_dev_close(&d);
	return r;
}

/* ---- check and repair ---- */

struct reporter {
	struct sis_dev *d;
	const char *prefix;	/* "" or "after repair: " */
	unsigned long long printed, suppressed;
	uint64_t max_lines;
	bool quiet;
};

static const char *const sev_name[] = {
	[SIS_CHECK_INFO] = "info",
	[SIS_CHECK_LEAK] = "leak",
	[SIS_CHECK_ERROR] = "error",
};

static void report_cb(void *ctx, enum sis_check_severity sev, const char *msg)
{
	struct reporter *rp = ctx;

	if (rp->quiet || rp->printed >= rp->max_lines) {
		rp->suppressed++;
		return;
	}
	rp->printed++;
	printf("%s%s: %s\n", rp->prefix,
	       (unsigned int)sev <= SIS_CHECK_ERROR ? sev_name[sev] : "?", msg);
}

static int read_data_cb(void *ctx, u64 pblock, void *buf)
{
	struct reporter *rp = ctx;

	return filedev_read(&rp->d->f, pblock, buf);
}

static void report_flush(struct reporter *rp)
{
	if (rp->suppressed && !rp->quiet)
		printf("%s... %llu more problem lines not shown\n", rp->prefix,
		       rp->suppressed);
	rp->printed = rp->suppressed = 0;
}

/*
 * Superblock copies as check sees them: a copy that is damaged while the
 * other is valid is reported (the device still opens); it is a minor
 * problem because the next checkpoint rewrites the copies in turn.
 */
static unsigned int check_sb_copies(struct sis_dev *d, struct reporter *rp)
{
	struct sb_pair sp;
	unsigned int bad = 0;

	if (sb_read(d, &sp))
		return 0;
	for (int i = 0; i < 2; i++) {
		if (sp.state[i] == SB_VALID)
			continue;
		bad++;
		if (!rp->quiet)
			printf("%sinfo: superblock copy %c (block %d): %s; copy %c is in use\n",
			       rp->prefix, 'A' + i, i, sb_state_name[sp.state[i]],
			       'B' - i);
	}
	return bad;
}

/* @st: the core's counters (the volumes of the pool, needs_check). */
static void print_summary(const char *what, const struct sis_check_result *res,
			  unsigned int sb_bad, const struct sis_core_stats *st)
{
	bool needs_check = st->needs_check;

	printf("%s: %llu mapped, %llu data blocks, %llu map pages, %u volume%s%s; "
	       "%llu errors, %llu leaks, %llu info%s%s\n", what,
	       (unsigned long long)res->mapped,
	       (unsigned long long)res->data_blocks,
	       (unsigned long long)res->meta_blocks, st->nr_volumes,
	       st->nr_volumes == 1 ? "" : "s",
	       st->nr_deleting ? " (some being deleted)" : "",
	       (unsigned long long)res->errors,
	       (unsigned long long)res->leaks,
	       (unsigned long long)(res->info + sb_bad),
	       sb_bad ? ", damaged superblock copy" : "",
	       needs_check ? ", needs_check set" : "");
}

static int check_exit(const struct sis_check_result *res, unsigned int sb_bad,
		      bool needs_check)
{
	if (res->errors)
		return SIS_CHECK_EXIT_ERRORS;
	if (res->leaks || sb_bad || needs_check)
		return SIS_CHECK_EXIT_MINOR;
	return SIS_CHECK_EXIT_CLEAN;
}

static const char check_help[] =
"Usage: sis check DEV [--no-data] [--max-lines N] [--quiet]\n"
"\n"
"Check the dm-sis metadata on DEV offline, without writing anything: both\n"
"superblock copies, the journal (replayed in memory), every block-map page,\n"
"every mapping, every refcount against the references actually found, the\n"
"counters and, unless --no-data, the fingerprint of every data block\n"
"against its contents (the fingerprint index lives in RAM only).  DEV must not be\n"
"active: the kernel may hold newer state than the disk.\n"
"\n"
"Prints one line per problem (\"error: ...\", \"leak: ...\", \"info: ...\"),\n"
"at most N (default 100) and a count of the rest, then a summary line.\n"
"\n"
"Options:\n"
"      --no-data       do not read data blocks (metadata only; faster)\n"
"  -m, --max-lines N   print at most N problem lines (default 100)\n"
"  -q, --quiet         print only the summary line\n"
"  -h, --help          this text\n"
"\n"
"Exit status (like fsck):\n"
"  0  clean (info lines such as stale index hints may still be printed)\n"
"  1  minor: leaked blocks (space lost, no data at risk), a damaged\n"
"     superblock copy while the other is valid, or needs_check set;\n"
"     'sis repair' fixes these\n"
"  2  usage error; nothing was read\n"
"  4  errors: data at risk (under-counted or dangling mappings, bad\n"
"     checksums, damaged map pages) or both superblock copies unusable\n"
"  8  operational error: DEV cannot be opened or read, holds no dm-sis\n"
"     metadata, or has a newer format\n";

int cmd_check(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "no-data", no_argument, NULL, 'n' },
		{ "max-lines", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct sis_core_config cfg = { 0 };
	struct sis_check_result res = { 0 };
	struct reporter rp = { .prefix = "", .max_lines = 100 };
	struct sis_check_ops cops;
	struct sis_core_stats st;
	const char *path, *errmsg = NULL;
	struct sis_core *c;
	bool no_data = false;
	unsigned int sb_bad;
	struct sis_dev d;
	int opt, r;

	if (sis_want_help(argc, argv, check_help))
		return SIS_EXIT_OK;
	while ((opt = sis_next_opt(argc, argv, ":nm:q", longs)) != -1) {
		switch (opt) {
		case 'n':
			no_data = true;
			break;
		case 'm':
			if (sis_parse_uint(optarg, UINT64_MAX, &rp.max_lines))
				return sis_usage_error("--max-lines '%s': not a number", optarg);
			break;
		case 'q':
			rp.quiet = true;
			break;
		default:
			return SIS_EXIT_USAGE;
		}
	}
	if (sis_one_device(argc, argv, &path))
		return SIS_EXIT_USAGE;

	if (sis_dev_open(&d, path, false))
		return SIS_CHECK_EXIT_OPER;
	rp.d = &d;
	cfg.flags = SIS_OPEN_READ_ONLY | SIS_OPEN_IGNORE_CHECK;
	cfg.physical_blocks = d.f.nr_blocks;
	r = sis_core_open(&d.ops, &cfg, &c, &errmsg);
	if (r) {
		r = sis_open_failure(&d, r, errmsg, true);
		printf("summary: %s: metadata cannot be opened\n", path);
		sis_dev_close(&d);
		return r;
	}
	/* (A device smaller than its metadata was refused by the open: 4.) */
	sis_core_get_stats(c, &st);
	sb_bad = check_sb_copies(&d, &rp);
	cops.read_data = no_data ? NULL : read_data_cb;
	cops.report = report_cb;
	cops.ctx = &rp;
	r = sis_core_check(c, &cops, &res);
	report_flush(&rp);
	if (r) {
		sis_err("%s: the check could not complete: %s", path, sis_core_strerror(r));
		print_summary("summary (incomplete)", &res, sb_bad, &st);
		sis_core_close(c);
		sis_dev_close(&d);
		/* A walk stopped by a checksum failure found damage. */
		return r == -EILSEQ ? SIS_CHECK_EXIT_ERRORS : SIS_CHECK_EXIT_OPER;
	}
	print_summary("summary", &res, sb_bad, &st);
	if (st.needs_check && !res.errors && !res.leaks)
		printf("note: needs_check is set; run 'sis repair %s' to clear it\n", path);
	sis_core_close(c);
	sis_dev_close(&d);
	return check_exit(&res, sb_bad, st.needs_check);
}

static const char repair_help[] =
"Usage: sis repair DEV [--no-data] [--max-lines N] [--quiet]\n"
"\n"
"Repair the dm-sis metadata on DEV (which must not be active): replay the\n"
"journal, then rebuild every refcount and the counters from the block\n"
"map.  Every mapping that points at a data block in\n"
"range is kept; mappings to blocks outside the data area or to refcount\n"
"pages are dropped (they name no data).  Prints what it found and fixed,\n"
"then checks the result again; needs_check is cleared only when that check\n"
"is clean.  Take a copy of DEV first if its contents matter.\n"
"\n"
"Options:\n"
"      --no-data       do not read data blocks to verify fingerprints\n"
"  -m, --max-lines N   print at most N problem lines per pass (default 100)\n"
"  -q, --quiet         print only the summary lines\n"
"  -h, --help          this text\n"
"\n"
"Exit status: 0 clean after repair, 2 usage error (nothing touched),\n"
"4 problems remain after repair (or the metadata cannot be opened at all),\n"
"8 operational error (cannot open, read or write DEV; not dm-sis).\n";

int cmd_repair(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "no-data", no_argument, NULL, 'n' },
		{ "max-lines", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct sis_core_config cfg = { 0 };
	struct sis_check_result res = { 0 }, before = { 0 }, after = { 0 };
	struct reporter rp = { .prefix = "", .max_lines = 100 };
	struct reporter qrp = { .prefix = "", .quiet = true };
	struct sis_check_ops cops, qops;
	u64 found, left;
	struct sis_core_stats st;
	const char *path, *errmsg = NULL;
	struct sis_core *c;
	bool no_data = false;
	unsigned int sb_bad;
	struct sis_dev d;
	int opt, r, r2, ret;

	if (sis_want_help(argc, argv, repair_help))
		return SIS_EXIT_OK;
	while ((opt = sis_next_opt(argc, argv, ":nm:q", longs)) != -1) {
		switch (opt) {
		case 'n':
			no_data = true;
			break;
		case 'm':
			if (sis_parse_uint(optarg, UINT64_MAX, &rp.max_lines))
				return sis_usage_error("--max-lines '%s': not a number", optarg);
			break;
		case 'q':
			rp.quiet = true;
			break;
		default:
			return SIS_EXIT_USAGE;
		}
	}
	if (sis_one_device(argc, argv, &path))
		return SIS_EXIT_USAGE;

	if (sis_dev_open(&d, path, true))
		return SIS_CHECK_EXIT_OPER;
	rp.d = &d;
	/*
	 * Superblock copies first: opening for writing rewrites one of them,
	 * which would hide a damaged copy.
	 */
	rp.prefix = "found: ";
	sb_bad = check_sb_copies(&d, &rp);
	cfg.flags = SIS_OPEN_IGNORE_CHECK;
	cfg.physical_blocks = d.f.nr_blocks;
	r = sis_core_open(&d.ops, &cfg, &c, &errmsg);
	if (r) {
		r = sis_open_failure(&d, r, errmsg, true);
		printf("summary: %s: metadata cannot be opened; nothing repaired\n", path);
		sis_dev_close(&d);
		return r;
	}
	cops.read_data = no_data ? NULL : read_data_cb;
	cops.report = report_cb;
	cops.ctx = &rp;

	/* 1. What is wrong, printed before anything else is changed. */
	sis_core_get_stats(c, &st);
	r = sis_core_check(c, &cops, &before);
	report_flush(&rp);
	if (r) {
		sis_err("%s: the check before repair could not complete: %s", path,
			sis_core_strerror(r));
		sis_core_close(c);
		sis_dev_close(&d);
		return r == -EIO || r == -ENOMEM ? SIS_CHECK_EXIT_OPER :
			SIS_CHECK_EXIT_ERRORS;
	}
	print_summary("found", &before, sb_bad, &st);
	found = before.errors + before.leaks + before.info + sb_bad;
	if (!found && !st.needs_check) {
		printf("repair: nothing to repair\n");
		sis_core_close(c);
		sis_dev_close(&d);
		return SIS_CHECK_EXIT_CLEAN;
	}

	/* 2. The repair; its own final check is silent, ours follows. */
	qrp.d = &d;
	qops = cops;
	qops.ctx = &qrp;
	r = sis_core_repair(c, &qops, &res);
	if (r && r != -EUCLEAN) {
		sis_err("%s: repair failed: %s", path, sis_core_strerror(r));
		/* What the failed repair left is what the check below shows. */
	}

	/* 3. The claim is checked, not trusted. */
	rp.prefix = "after repair: ";
	r2 = sis_core_check(c, &cops, &after);
	report_flush(&rp);
	sis_core_get_stats(c, &st);
	sis_core_close(c);
	if (r2) {
		sis_err("%s: the check after repair could not complete: %s", path,
			sis_core_strerror(r2));
		sis_dev_close(&d);
		return SIS_CHECK_EXIT_ERRORS;
	}
	/*
	 * Superblock copies after the close (its checkpoint rewrites them); the
	 * needs_check flag is the one the core held before the close.
	 */
	sb_bad = check_sb_copies(&d, &rp);
	left = after.errors + after.leaks + after.info + sb_bad;
	print_summary("after repair", &after, sb_bad, &st);
	printf("repair: %s: %llu of %llu problems fixed, %llu left%s\n",
	       r ? "FAILED" : "done",
	       (unsigned long long)(found > left ? found - left : 0),
	       (unsigned long long)found, (unsigned long long)left,
	       st.needs_check ? "; needs_check still set" : "; needs_check clear");
	ret = check_exit(&after, sb_bad, st.needs_check);
	sis_dev_close(&d);
	if (r)
		return SIS_CHECK_EXIT_ERRORS;
	/* Leaks left after a repair are a failure of the repair too. */
	return ret == SIS_CHECK_EXIT_CLEAN ? ret : SIS_CHECK_EXIT_ERRORS;
}

/* ---- dump ---- */

static const char dump_help[] =
"Usage: sis dump DEV [--json] [--blocks] [--full]\n"
"\n"
"Print what DEV's dm-sis metadata holds, without writing anything: both\n"
"superblock copies, the layout, sizes and usage, the volume table (one\n"
"\"volume ID ...\" line per volume) and a summary of the block maps of all\n"
"volumes (extents, shared blocks).  With --blocks, the full map of each\n"
"volume follows, one extent per line:\n"
"\n"
"    LBLOCK PBLOCK COUNT\n"
"\n"
"meaning logical blocks LBLOCK..LBLOCK+COUNT-1 map to physical blocks\n"
"PBLOCK..PBLOCK+COUNT-1 (4 KiB blocks, decimal).  Unmapped blocks (which\n"
"read as zeros) are not listed.  The map section of volume 0 starts with\n"
"the line \"# sis-map v1 logical_blocks=N\", that of volume ID > 0 with\n"
"\"# sis-map v1 volume=ID logical_blocks=N\"; each ends with\n"
"\"# end mapped=M\".  The logical size printed is volume 0's; the mapped,\n"
"data and shared counts are the pool's.\n"
"\n"
"Options:\n"
"  -j, --json     JSON instead of text (with --blocks: a \"map\" array of\n"
"                 [lblock, pblock, count] triples for volume 0, and one in\n"
"                 each object of the \"volumes\" array)\n"
"  -b, --blocks   include the full map\n"
"  -F, --full     walk every logical block; by default the walk stops after\n"
"                 as many mappings as the root counts (sis check verifies\n"
"                 that count), which is fast on large sparse devices\n"
"  -h, --help     this text\n"
"\n"
"Exit: 0 printed, 1 the metadata cannot be opened or read, 2 usage error.\n";

struct map_summary {
	u64 mapped, extents, distinct, shared, max_refs;
	u32 *refs;		/* references per physical block found */
	u64 nr_refs;
};

struct extent {
	u64 l, p, n;
};

static void emit_extent(const struct extent *e, bool json, struct sis_json *j)
{
	char buf[80];

	if (!e->n)
		return;
	if (json) {
		snprintf(buf, sizeof(buf), "[%llu, %llu, %llu]",
			 (unsigned long long)e->l, (unsigned long long)e->p,
			 (unsigned long long)e->n);
		sj_raw(j, NULL, buf);
	} else {
		printf("%llu %llu %llu\n", (unsigned long long)e->l,
		       (unsigned long long)e->p, (unsigned long long)e->n);
	}
}

/*
 * Walk the map of volume @vol with sis_core_lookup(), the public API: one
 * call per logical block (the core has no public walk yet).  The walk ends
 * early once it has seen @expect mappings (the volume's counter) unless
 * @expect is U64_MAX, so a large, sparsely used volume costs what it maps
 * up to its last mapping, not its logical size.  Adds to the summary
 * (blocks shared between volumes count as shared too) and, when @print,
 * prints extents.
 */
static int walk_map(struct sis_core *c, u32 vol, u64 logical, u64 expect,
		    struct map_summary *ms, bool print, bool json,
		    struct sis_json *j)
{
	struct extent e = { 0 };
	u64 found = 0;

	for (u64 l = 0; l < logical && found < expect; l++) {
		u64 p;
		int r = sis_core_lookup(c, vol, l, &p);

		if (r == -ENODATA)
			continue;
		if (r)
			return r;
		found++;
		ms->mapped++;
		if (p < ms->nr_refs) {
			if (ms->refs[p]++ == 0)
				ms->distinct++;
			else if (ms->refs[p] == 2)
				ms->shared++;
			if (ms->refs[p] > ms->max_refs)
				ms->max_refs = ms->refs[p];
		}
		if (e.n && e.l + e.n == l && e.p + e.n == p) {
			e.n++;
			continue;
		}
		if (e.n)
			ms->extents++;
		if (print)
			emit_extent(&e, json, j);
		e.l = l;
		e.p = p;
		e.n = 1;
	}
	if (e.n)
		ms->extents++;
	if (print)
		emit_extent(&e, json, j);
	return 0;
}

/* "used", "used,deleting": the flags of a volume, as dump prints them. */
static const char *vol_flags(const struct sis_volume_info *vi)
{
	return vi->deleting ? "used,deleting" : "used";
}

/* One "volume ID ..." line of the text dump (the volume table). */
static void print_volume(const struct sis_volume_info *vi)
{
	char org[16] = "-";

	if (vi->origin != SIS_VOL_NO_ORIGIN)
		snprintf(org, sizeof(org), "%u", vi->origin);
	printf("volume %-14u name=%s flags=%s map_root=%llu map_depth=%u "
	       "logical_blocks=%llu mapped=%llu origin=%s create_seq=%llu\n",
	       vi->id, vi->name[0] ? vi->name : "-", vol_flags(vi),
	       (unsigned long long)vi->map_root, vi->map_depth,
	       (unsigned long long)vi->logical_blocks,
	       (unsigned long long)vi->nr_mapped, org,
	       (unsigned long long)vi->create_seq);
}

/* Print the map of @vi (text or a JSON array named "map"). */
static int print_vol_map(struct sis_core *c, const struct sis_volume_info *vi,
			 bool full, bool json, struct sis_json *j)
{
	struct map_summary ms = { 0 };
	u64 expect = full ? ~0ULL : vi->nr_mapped;
	int r;

	if (json) {
		sj_arr(j, "map");
		r = walk_map(c, vi->id, vi->logical_blocks, expect, &ms, true, true, j);
		sj_arr_end(j);
		return r;
	}
	if (vi->id)
		printf("# sis-map v1 volume=%u logical_blocks=%llu\n", vi->id,
		       (unsigned long long)vi->logical_blocks);
	else
		printf("# sis-map v1 logical_blocks=%llu\n",
		       (unsigned long long)vi->logical_blocks);
	r = walk_map(c, vi->id, vi->logical_blocks, expect, &ms, true, false, NULL);
	if (!r)
		printf("# end mapped=%llu\n", (unsigned long long)ms.mapped);
	return r;
}

static void flag_names(u32 flags, char *buf, size_t len)
{
	snprintf(buf, len, "0x%x%s%s", flags,
		 flags & SIS_SB_CLEAN ? " clean" : " not-clean",
		 flags & SIS_SB_NEEDS_CHECK ? " needs_check" : "");
}

int cmd_dump(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "blocks", no_argument, NULL, 'b' },
		{ "full", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	struct sis_core_config cfg = { 0 };
	static struct sis_volume_info vols[SIS_MAX_VOLUMES];
	struct map_summary ms = { 0 };
	bool full = false;
	int nvol = 0;
	u32 vid;
	struct sis_core_stats st;
	const char *path, *errmsg = NULL;
	const struct sis_disk_superblock *sb = NULL;
	struct sis_core *c;
	bool json = false, blocks = false;
	struct sb_pair sp;
	struct sis_json j;
	struct sis_dev d;
	int opt, r;
	char ub[40], tb[40], fb[64], h[16];
	double ratio, saving;

	if (sis_want_help(argc, argv, dump_help))
		return SIS_EXIT_OK;
	while ((opt = sis_next_opt(argc, argv, ":jbF", longs)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'F':
			full = true;
			break;
		case 'b':
			blocks = true;
			break;
		default:
			return SIS_EXIT_USAGE;
		}
	}
	if (sis_one_device(argc, argv, &path))
		return SIS_EXIT_USAGE;

	if (sis_dev_open(&d, path, false))
		return SIS_EXIT_FAIL;
	cfg.flags = SIS_OPEN_READ_ONLY | SIS_OPEN_IGNORE_CHECK;
	cfg.physical_blocks = d.f.nr_blocks;
	r = sis_core_open(&d.ops, &cfg, &c, &errmsg);
	if (r) {
		sis_open_failure(&d, r, errmsg, false);
		sis_dev_close(&d);
		return SIS_EXIT_FAIL;
	}
	sis_core_get_stats(c, &st);
	if (sb_read(&d, &sp) == 0 && sp.current >= 0)
		sb = &sp.copy[sp.current];

	for (vid = UINT32_MAX; nvol < SIS_MAX_VOLUMES &&
	     !sis_core_volume_next(c, &vid); nvol++)
		if (sis_core_volume_info(c, vid, &vols[nvol]))
			break;

	/* The summary walk comes first, so a failing walk prints nothing. */
	ms.nr_refs = st.physical_blocks;
	ms.refs = calloc(ms.nr_refs ? ms.nr_refs : 1, sizeof(u32));
	if (!ms.refs) {
		sis_err("out of memory (%llu blocks)", (unsigned long long)ms.nr_refs);
		goto fail;
	}
	/* A volume being deleted has a partly freed map: not walked. */
	for (int i = 0; i < nvol; i++) {
		if (vols[i].deleting)
			continue;
		r = walk_map(c, vols[i].id, vols[i].logical_blocks,
			     full ? ~0ULL : vols[i].nr_mapped, &ms, false, false, NULL);
		if (r) {
			sis_err("%s: reading the block map of volume %u failed: %s", path,
				vols[i].id, sis_core_strerror(r));
			goto fail;
		}
	}
	ratio = st.nr_data ? (double)st.nr_mapped / (double)st.nr_data : 1.0;
	saving = st.nr_mapped ? 1.0 - (double)st.nr_data / (double)st.nr_mapped : 0.0;

	if (json) {
		sj_begin(&j, stdout);
		sj_str(&j, "device", path);
		if (sb) {
			fmt_uuid(sb->uuid, ub);
			fmt_time(le64_to_cpu(sb->format_time), tb, sizeof(tb));
			sj_obj(&j, "superblock");
			sj_str(&j, "copy", sp.current ? "B" : "A");
			sj_u64(&j, "sb_seq", le64_to_cpu(sb->sb_seq));
			sj_u64(&j, "version", le32_to_cpu(sb->version));
			sj_u64(&j, "block_size", le32_to_cpu(sb->block_size));
			sj_str(&j, "uuid", ub);
			sj_u64(&j, "flags", le32_to_cpu(sb->flags));
			sj_bool(&j, "clean", le32_to_cpu(sb->flags) & SIS_SB_CLEAN);
			sj_bool(&j, "needs_check", le32_to_cpu(sb->flags) & SIS_SB_NEEDS_CHECK);
			sj_u64(&j, "incompat_features", le64_to_cpu(sb->incompat_features));
			sj_u64(&j, "ro_compat_features", le64_to_cpu(sb->ro_compat_features));
			sj_u64(&j, "compat_features", le64_to_cpu(sb->compat_features));
			sj_str(&j, "format_time", tb);
			sj_u64(&j, "journal_start", le64_to_cpu(sb->journal_start));
			sj_u64(&j, "journal_blocks", le64_to_cpu(sb->journal_blocks));
			sj_u64(&j, "data_start", le64_to_cpu(sb->data_start));
			sj_u64(&j, "tail_seq", le64_to_cpu(sb->tail_seq));
			sj_u64(&j, "tail_block", le64_to_cpu(sb->tail_block));
			sj_obj_end(&j);
		}
		sj_arr(&j, "superblock_copies");
		for (int i = 0; i < 2; i++) {
			sj_obj(&j, NULL);
			sj_u64(&j, "block", (u64)i);
			sj_str(&j, "state", sb_state_name[sp.state[i]]);
			if (sp.state[i] == SB_VALID)
				sj_u64(&j, "sb_seq", le64_to_cpu(sp.copy[i].sb_seq));
			sj_obj_end(&j);
		}
		sj_arr_end(&j);
		sj_obj(&j, "state");
		sj_bool(&j, "needs_check", st.needs_check);
		sj_u64(&j, "transaction_seq", st.transaction_seq);
		sj_u64(&j, "logical_blocks", st.logical_blocks);
		sj_u64(&j, "physical_blocks", st.physical_blocks);
		sj_u64(&j, "data_area_blocks", st.data_blocks);
		sj_u64(&j, "metadata_blocks", st.metadata_blocks);
		sj_u64(&j, "mapped_blocks", st.nr_mapped);
		sj_u64(&j, "data_blocks_used", st.nr_data);
		sj_u64(&j, "map_pages", st.nr_meta);
		sj_u64(&j, "free_blocks", st.nr_free);
		sj_u64(&j, "index_ram_bytes", st.index_ram_bytes);
		sj_dbl(&j, "dedup_ratio", ratio);
		sj_dbl(&j, "space_saving", saving);
		sj_obj_end(&j);
		sj_obj(&j, "map_summary");
		sj_u64(&j, "mapped", ms.mapped);
		sj_u64(&j, "extents", ms.extents);
		sj_u64(&j, "distinct_blocks", ms.distinct);
		sj_u64(&j, "shared_blocks", ms.shared);
		sj_u64(&j, "max_sharing", ms.max_refs);
		sj_obj_end(&j);
		r = 0;
		/* Volume 0's map where it always was; every volume's below. */
		if (blocks && nvol && vols[0].id == 0 && !vols[0].deleting)
			r = print_vol_map(c, &vols[0], full, true, &j);
		sj_u64(&j, "nr_volumes", st.nr_volumes);
		sj_arr(&j, "volumes");
		for (int i = 0; i < nvol && !r; i++) {
			const struct sis_volume_info *vi = &vols[i];

			sj_obj(&j, NULL);
			sj_u64(&j, "id", vi->id);
			sj_str(&j, "name", vi->name);
			sj_str(&j, "flags", vol_flags(vi));
			sj_bool(&j, "deleting", vi->deleting);
			sj_u64(&j, "map_root", vi->map_root);
			sj_u64(&j, "map_depth", vi->map_depth);
			sj_u64(&j, "logical_blocks", vi->logical_blocks);
			sj_u64(&j, "mapped_blocks", vi->nr_mapped);
			if (vi->origin != SIS_VOL_NO_ORIGIN)
				sj_u64(&j, "origin", vi->origin);
			sj_u64(&j, "create_seq", vi->create_seq);
			if (blocks && !vi->deleting)
				r = print_vol_map(c, vi, full, true, &j);
			sj_obj_end(&j);
		}
		sj_arr_end(&j);
		sj_end(&j);
		if (r) {
			sis_err("%s: reading the block map failed: %s", path,
				sis_core_strerror(r));
			goto fail;
		}
	} else {
		printf("device                %s\n", path);
		if (sb) {
			fmt_uuid(sb->uuid, ub);
			fmt_time(le64_to_cpu(sb->format_time), tb, sizeof(tb));
			flag_names(le32_to_cpu(sb->flags), fb, sizeof(fb));
			printf("superblock            copy %c (block %d), sb_seq %llu\n",
			       'A' + sp.current, sp.current,
			       (unsigned long long)le64_to_cpu(sb->sb_seq));
			printf("version               %u\n", le32_to_cpu(sb->version));
			printf("block size            %u\n", le32_to_cpu(sb->block_size));
			printf("uuid                  %s\n", ub);
			printf("flags                 %s\n", fb);
			printf("features              incompat 0x%llx ro_compat 0x%llx compat 0x%llx\n",
			       (unsigned long long)le64_to_cpu(sb->incompat_features),
			       (unsigned long long)le64_to_cpu(sb->ro_compat_features),
			       (unsigned long long)le64_to_cpu(sb->compat_features));
			printf("formatted             %s\n", tb);
			printf("journal               blocks %llu-%llu (%llu), tail seq %llu at %llu\n",
			       (unsigned long long)le64_to_cpu(sb->journal_start),
			       (unsigned long long)(le64_to_cpu(sb->journal_start) +
						    le64_to_cpu(sb->journal_blocks) - 1),
			       (unsigned long long)le64_to_cpu(sb->journal_blocks),
			       (unsigned long long)le64_to_cpu(sb->tail_seq),
			       (unsigned long long)le64_to_cpu(sb->tail_block));
			printf("data area             from block %llu, groups of %u\n",
			       (unsigned long long)le64_to_cpu(sb->data_start),
			       SIS_GROUP_BLOCKS);
		}
		for (int i = 0; i < 2; i++) {
			printf("superblock copy %c     %s", 'A' + i, sb_state_name[sp.state[i]]);
			if (sp.state[i] == SB_VALID)
				printf(", sb_seq %llu",
				       (unsigned long long)le64_to_cpu(sp.copy[i].sb_seq));
			putchar('\n');
		}
		printf("needs_check           %s\n", st.needs_check ? "yes" : "no");
		printf("transaction           %llu\n", (unsigned long long)st.transaction_seq);
		printf("logical size          %llu blocks (%s)\n",
		       (unsigned long long)st.logical_blocks,
		       sis_human(st.logical_blocks * BS, h, sizeof(h)));
		printf("physical size         %llu blocks (%s)\n",
		       (unsigned long long)st.physical_blocks,
		       sis_human(st.physical_blocks * BS, h, sizeof(h)));
		printf("data area             %llu blocks\n", (unsigned long long)st.data_blocks);
		printf("metadata blocks       %llu (superblocks, journal, refcount pages)\n",
		       (unsigned long long)st.metadata_blocks);
		printf("index RAM             %llu bytes (%s; built from the refcount pages at open, none on disk)\n",
		       (unsigned long long)st.index_ram_bytes,
		       sis_human(st.index_ram_bytes, h, sizeof(h)));
		printf("mapped blocks         %llu (%s)\n", (unsigned long long)st.nr_mapped,
		       sis_human(st.nr_mapped * BS, h, sizeof(h)));
		printf("data blocks used      %llu (%s)\n", (unsigned long long)st.nr_data,
		       sis_human(st.nr_data * BS, h, sizeof(h)));
		printf("map pages             %llu\n", (unsigned long long)st.nr_meta);
		printf("free blocks           %llu (%s)\n", (unsigned long long)st.nr_free,
		       sis_human(st.nr_free * BS, h, sizeof(h)));
		printf("dedup ratio           %.3f\n", ratio);
		printf("space saving          %.1f%%\n", saving * 100.0);
		printf("map extents           %llu\n", (unsigned long long)ms.extents);
		printf("distinct data blocks  %llu\n", (unsigned long long)ms.distinct);
		printf("shared data blocks    %llu (max %llu references)\n",
		       (unsigned long long)ms.shared, (unsigned long long)ms.max_refs);
		printf("volumes               %u (%u being deleted)\n", st.nr_volumes,
		       st.nr_deleting);
		for (int i = 0; i < nvol; i++)
			print_volume(&vols[i]);
		for (int i = 0; blocks && i < nvol; i++) {
			if (vols[i].deleting)
				continue;
			r = print_vol_map(c, &vols[i], full, false, NULL);
			if (r) {
				sis_err("%s: reading the block map of volume %u failed: %s",
					path, vols[i].id, sis_core_strerror(r));
				goto fail;
			}
		}
	}
	free(ms.refs);
	sis_core_close(c);
	sis_dev_close(&d);
	return SIS_EXIT_OK;
fail:
	free(ms.refs);
	sis_core_close(c);
	sis_dev_close(&d);
	return SIS_EXIT_FAIL;
}
