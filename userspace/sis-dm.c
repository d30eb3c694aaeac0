// SPDX-License-Identifier: GPL-2.0
/*
 * sis stats, sis create: the subcommands that talk to an active target.
 *
 * Both go through dmsetup(8), as thin and vdo users do, rather than the
 * DM ioctls, so what the tool runs is what a user could type.  Every
 * keyword and the position of every status field come from
 * include/sis-target.h, the header the kernel target prints them with, so
 * the tool and the target cannot spell the grammar differently.
 *
 * SIS_DMSETUP in the environment names another dmsetup binary (the host
 * tests use a fake that prints a canned status line and records its
 * arguments).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <linux/types.h>
#include <asm/byteorder.h>
#include "sis-core.h"
#include "sis-target.h"
#include "memdev.h"
#include "sis.h"

#define BS SIS_BLOCK_SIZE
#define DM_NAME_MAX 127		/* DM_NAME_LEN - 1 */
#define SIS_STATS_JSON_VERSION 1	/* schema of sis stats --json */

const char *sis_dmsetup_bin(void)
{
	const char *e = getenv("SIS_DMSETUP");

	return e && *e ? e : "dmsetup";
}

/*
 * Run argv; with @out, capture stdout (NUL-terminated, at most @len - 1
 * bytes).  stderr passes through.  Returns the exit status, or -1 if the
 * program could not be run.
 */
int sis_run(char *const argv[], char *out, size_t len)
{
	int pfd[2] = { -1, -1 };
	size_t got = 0;
	pid_t pid;
	int st;

	fflush(stdout);
	if (out && pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (out) {
			dup2(pfd[1], 1);
			close(pfd[0]);
			close(pfd[1]);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "%s %s: cannot run %s: %s\n", sis_prog,
			sis_cmd, argv[0], strerror(errno));
		_exit(127);
	}
	if (out) {
		close(pfd[1]);
		for (;;) {
			ssize_t n;

			if (got + 1 >= len) {	/* drain and drop the excess */
				char sink[512];

				n = read(pfd[0], sink, sizeof(sink));
			} else {
				n = read(pfd[0], out + got, len - 1 - got);
				if (n > 0)
					got += (size_t)n;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
		}
		out[got] = '\0';
		close(pfd[0]);
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st) == 127 ? -1 : WEXITSTATUS(st);
	return -1;
}

static bool valid_dm_name(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= DM_NAME_MAX && !strchr(name, '/') &&
	       strcmp(name, ".") && strcmp(name, "..");
}

/* ---- stats ---- */

/**
 * struct sis_status - one parsed status line
 * @len_sectors: the segment length (the logical size)
 * @f:           the fields, as text, indexed by enum sis_status_field
 */
struct sis_status {
	u64 len_sectors;
	char mode[32];
	u64 mapped, used, total, written, new_data, zero_blocks;
	u64 cache_hits, cache_misses, cache_blocks, commits, data_blocks, dedup_hits;
	u64 index_ram;		/* 0: not reported (an older target) */
	u64 metadata_ram;	/* 0: not reported (an older target) */
	bool has_volume;	/* the pool fields below are reported */
	u64 volume, exclusive, volumes, pool_mapped;
	bool has_exclusive;	/* counted (count_exclusive), not "-" */
	double ratio;
	bool needs_check;
};

static int parse_u64_field(const char *s, u64 *v)
{
	uint64_t x;

	if (sis_parse_uint(s, UINT64_MAX, &x))
		return -1;
	*v = x;
	return 0;
}

/* A fixed-point decimal such as "2.500". */
static int parse_ratio(const char *s, double *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*v = strtod(s, &end);
	return errno || *end ? -1 : 0;
}

/*
 * Parse one line of `dmsetup status`: "<start> <len> sis <fields...>".
 * Fields beyond SIS_STATUS_NR_FIELDS (appended by a newer target) are
 * ignored.  Returns 0, 1 if the line is not a sis segment, -1 if malformed
 * (@why says how).
 */
static int parse_status_line(char *line, struct sis_status *s, const char **why)
{
	char *tok[SIS_STATUS_NR_FIELDS + 3];
	char *save = NULL, *t, *slash;
	int n = 0;
	u64 start;

	for (t = strtok_r(line, " \t\n", &save); t && n < (int)(sizeof(tok) / sizeof(tok[0]));
	     t = strtok_r(NULL, " \t\n", &save))
		tok[n++] = t;
	if (n < 3 || strcmp(tok[2], SIS_TARGET_NAME))
		return 1;
	*why = "too few fields";
	if (n < SIS_STATUS_MIN_FIELDS + 3)
		return -1;
	*why = "bad start or length";
	if (parse_u64_field(tok[0], &start) || parse_u64_field(tok[1], &s->len_sectors))
		return -1;
	char **f = tok + 3;

	*why = "unknown mode";
	if (strcmp(f[SIS_STATUS_MODE], SIS_STATUS_MODE_WRITE) &&
	    strcmp(f[SIS_STATUS_MODE], SIS_STATUS_MODE_READ_ONLY) &&
	    strcmp(f[SIS_STATUS_MODE], SIS_STATUS_MODE_OUT_OF_SPACE) &&
	    strcmp(f[SIS_STATUS_MODE], SIS_STATUS_MODE_FAIL))
		return -1;
	snprintf(s->mode, sizeof(s->mode), "%s", f[SIS_STATUS_MODE]);
	*why = "bad <used>/<total>";
	slash = strchr(f[SIS_STATUS_USED_TOTAL], '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if (parse_u64_field(f[SIS_STATUS_USED_TOTAL], &s->used) ||
	    parse_u64_field(slash + 1, &s->total) || s->used > s->total)
		return -1;
	*why = "bad number";
	if (parse_u64_field(f[SIS_STATUS_MAPPED], &s->mapped) ||
	    parse_u64_field(f[SIS_STATUS_WRITTEN], &s->written) ||
	    parse_u64_field(f[SIS_STATUS_NEW_DATA], &s->new_data) ||
	    parse_u64_field(f[SIS_STATUS_ZERO_BLOCKS], &s->zero_blocks) ||
	    parse_u64_field(f[SIS_STATUS_CACHE_HITS], &s->cache_hits) ||
	    parse_u64_field(f[SIS_STATUS_CACHE_MISSES], &s->cache_misses) ||
	    parse_u64_field(f[SIS_STATUS_CACHE_BLOCKS], &s->cache_blocks) ||
	    parse_u64_field(f[SIS_STATUS_COMMITS], &s->commits) ||
	    parse_u64_field(f[SIS_STATUS_DATA_BLOCKS], &s->data_blocks) ||
	    parse_u64_field(f[SIS_STATUS_DEDUP_HITS], &s->dedup_hits))
		return -1;
	*why = "bad index_ram";
	s->index_ram = 0;
	if (n > SIS_STATUS_INDEX_RAM + 3 &&
	    parse_u64_field(f[SIS_STATUS_INDEX_RAM], &s->index_ram))
		return -1;
	*why = "bad volume fields";
	s->has_volume = n > SIS_STATUS_POOL_MAPPED + 3;
	if (s->has_volume) {
		s->has_exclusive = strcmp(f[SIS_STATUS_EXCLUSIVE], SIS_STATUS_STR_UNKNOWN);
		if (parse_u64_field(f[SIS_STATUS_VOLUME], &s->volume) ||
		    (s->has_exclusive && parse_u64_field(f[SIS_STATUS_EXCLUSIVE], &s->exclusive)) ||
		    parse_u64_field(f[SIS_STATUS_VOLUMES], &s->volumes) ||
		    parse_u64_field(f[SIS_STATUS_POOL_MAPPED], &s->pool_mapped))
			return -1;
	}
	*why = "bad metadata_ram";
	s->metadata_ram = 0;
	if (n > SIS_STATUS_METADATA_RAM + 3 &&
	    parse_u64_field(f[SIS_STATUS_METADATA_RAM], &s->metadata_ram))
		return -1;
	*why = "bad dedup ratio";
	if (parse_ratio(f[SIS_STATUS_RATIO], &s->ratio))
		return -1;
	*why = "bad needs_check field";
	if (!strcmp(f[SIS_STATUS_NEEDS_CHECK], SIS_STATUS_STR_NEEDS_CHECK))
		s->needs_check = true;
	else if (!strcmp(f[SIS_STATUS_NEEDS_CHECK], SIS_STATUS_STR_CLEAN))
		s->needs_check = false;
	else
		return -1;
	return 0;
}

/*
 * NAME or a device node (/dev/mapper/NAME, /dev/dm-N) -> the dm name.
 * A plain word that is not an existing path is taken as a name.
 */
static int resolve_name(const char *arg, char *name, size_t len)
{
	struct stat st;
	char p[128];
	FILE *f;

	if (!strchr(arg, '/')) {
		if (!valid_dm_name(arg))
			return -1;
		snprintf(name, len, "%s", arg);
		return 0;
	}
	if (stat(arg, &st)) {
		sis_err("%s: %s", arg, strerror(errno));
		return -1;
	}
	if (!S_ISBLK(st.st_mode)) {
		sis_err("%s: not a block device (give a device-mapper name or node)", arg);
		return -1;
	}
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/dm/name",
		 major(st.st_rdev), minor(st.st_rdev));
	f = fopen(p, "r");
	if (!f || !fgets(name, (int)len, f)) {
		if (f)
			fclose(f);
		sis_err("%s: not a device-mapper device", arg);
		return -1;
	}
	fclose(f);
	name[strcspn(name, "\n")] = '\0';
	return 0;
}

static const char stats_help[] =
"Usage: sis stats NAME|DEV [--json] [--bytes] [--verbose]\n"
"\n"
"Print usage and deduplication statistics of an active dm-sis device, read\n"
"from `dmsetup status NAME` (NAME, or its node /dev/mapper/NAME or\n"
"/dev/dm-N).  The default is one table row like vdostats(8):\n"
"\n"
"  Size        physical size of the backing device\n"
"  Used        physical blocks in use (data, block-map pages, metadata)\n"
"  Available   Size - Used\n"
"  Use%        Used / Size\n"
"  Saving%     space saved by sharing: 1 - data blocks / mapped blocks\n"
"  Dedup       dedup ratio: mapped blocks / data blocks\n"
"  Zero        all-zero blocks written (stored as unmapped)\n"
"  Hit%        shared-cache hit rate of this device's reads\n"
"\n"
"Options:\n"
"  -j, --json      one JSON object with every status field\n"
"  -b, --bytes     sizes in bytes instead of K/M/G\n"
"  -v, --verbose   every status field, one per line\n"
"  -h, --help      this text\n"
"\n"
"Exit: 0 printed, 1 dmsetup failed or the device is not a sis target,\n"
"2 usage error.\n";

static void pct(char *buf, size_t len, double num, double den)
{
	if (den <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f%%", 100.0 * num / den);
}

int cmd_stats(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, bytes = false, verbose = false;
	char name[DM_NAME_MAX + 2], out[8192];
	char *line, *save = NULL;
	struct sis_status s = { 0 };
	const char *why = NULL;
	int opt, r, found = 0;

	if (sis_want_help(argc, argv, stats_help))
		return SIS_EXIT_OK;
	while ((opt = sis_next_opt(argc, argv, ":jbv", longs)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'b':
			bytes = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			return SIS_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return sis_usage_error("missing NAME (a device-mapper name or device node)");
	if (optind + 1 < argc)
		return sis_usage_error("unexpected argument '%s'", argv[optind + 1]);
	if (!strchr(argv[optind], '/') && !valid_dm_name(argv[optind]))
		return sis_usage_error("'%s' is not a valid device-mapper name", argv[optind]);
	if (resolve_name(argv[optind], name, sizeof(name)))
		return SIS_EXIT_FAIL;

	{
		char *av[] = { (char *)sis_dmsetup_bin(), (char *)"status", name, NULL };

		r = sis_run(av, out, sizeof(out));
	}
	if (r != 0) {
		sis_err("'%s status %s' failed%s", sis_dmsetup_bin(), name,
			r < 0 ? " (cannot run dmsetup)" : "");
		return SIS_EXIT_FAIL;
	}
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sis_status one = { 0 };
		char copy[4096];

		snprintf(copy, sizeof(copy), "%s", line);
		r = parse_status_line(copy, &one, &why);
		if (r == 1)
			continue;
		if (r < 0) {
			sis_err("%s: cannot parse the status line (%s): %s", name, why, line);
			return SIS_EXIT_FAIL;
		}
		if (!found)
			s = one;
		found++;
	}
	if (!found) {
		sis_err("%s: not a %s target", name, SIS_TARGET_NAME);
		return SIS_EXIT_FAIL;
	}
	if (found > 1)
		sis_err("%s: %d sis segments; showing the first", name, found);

	u64 size = s.total * BS, used = s.used * BS;
	u64 avail = size - used;
	u64 lookups = s.cache_hits + s.cache_misses;
	/* Data blocks are the pool's: so is the saving. */
	u64 pool_mapped = s.has_volume ? s.pool_mapped : s.mapped;
	double saving = pool_mapped ? 1.0 - (double)s.data_blocks / (double)pool_mapped : 0.0;
	double hit = lookups ? (double)s.cache_hits / (double)lookups : 0.0;

	if (json) {
		struct sis_json j;

		sj_begin(&j, stdout);
		/* docs/tools.md "sis stats --json": bump only on incompatible change */
		sj_u64(&j, "schema_version", SIS_STATS_JSON_VERSION);
		sj_str(&j, "device", name);
		sj_str(&j, "mode", s.mode);
		sj_u64(&j, "logical_bytes", s.len_sectors * 512);
		sj_u64(&j, "mapped_blocks", s.mapped);
		sj_u64(&j, "used_blocks", s.used);
		sj_u64(&j, "total_blocks", s.total);
		sj_u64(&j, "free_blocks", s.total - s.used);
		sj_u64(&j, "size_bytes", size);
		sj_u64(&j, "used_bytes", used);
		sj_u64(&j, "available_bytes", avail);
		sj_dbl(&j, "use_percent", size ? 100.0 * (double)used / (double)size : 0.0);
		sj_u64(&j, "written_bytes", s.written);
		sj_u64(&j, "new_data_bytes", s.new_data);
		sj_dbl(&j, "dedup_ratio", s.ratio);
		sj_dbl(&j, "saving_percent", 100.0 * saving);
		sj_u64(&j, "zero_blocks", s.zero_blocks);
		sj_u64(&j, "cache_hits", s.cache_hits);
		sj_u64(&j, "cache_misses", s.cache_misses);
		sj_dbl(&j, "cache_hit_percent", 100.0 * hit);
		sj_u64(&j, "cache_blocks", s.cache_blocks);
		sj_u64(&j, "commits", s.commits);
		sj_bool(&j, "needs_check", s.needs_check);
		sj_u64(&j, "data_blocks", s.data_blocks);
		sj_u64(&j, "dedup_hits", s.dedup_hits);
		if (s.index_ram)
			sj_u64(&j, "index_ram_bytes", s.index_ram);
		if (s.metadata_ram)
			sj_u64(&j, "metadata_ram_bytes", s.metadata_ram);
		if (s.has_volume) {
			sj_u64(&j, "volume", s.volume);
			if (s.has_exclusive)
				sj_u64(&j, "exclusive_blocks", s.exclusive);
			sj_u64(&j, "volumes", s.volumes);
			sj_u64(&j, "pool_mapped_blocks", s.pool_mapped);
		}
		sj_end(&j);
		return SIS_EXIT_OK;
	}
	char hs[24], hu[24], ha[24], hl[24], up[16], sp[16], hp[16];

	if (bytes) {
		snprintf(hs, sizeof(hs), "%llu", (unsigned long long)size);
		snprintf(hu, sizeof(hu), "%llu", (unsigned long long)used);
		snprintf(ha, sizeof(ha), "%llu", (unsigned long long)avail);
		snprintf(hl, sizeof(hl), "%llu", (unsigned long long)s.len_sectors * 512);
	} else {
		sis_human(size, hs, sizeof(hs));
		sis_human(used, hu, sizeof(hu));
		sis_human(avail, ha, sizeof(ha));
		sis_human(s.len_sectors * 512, hl, sizeof(hl));
	}
	pct(up, sizeof(up), (double)used, (double)size);
	if (pool_mapped)
		snprintf(sp, sizeof(sp), "%.0f%%", 100.0 * saving);
	else
		snprintf(sp, sizeof(sp), "-");
	if (lookups)
		snprintf(hp, sizeof(hp), "%.1f%%", 100.0 * hit);
	else
		snprintf(hp, sizeof(hp), "-");
	if (verbose) {
		printf("device                 %s\n", name);
		printf("mode                   %s\n", s.mode);
		printf("logical size           %s\n", hl);
		printf("mapped blocks          %llu\n", (unsigned long long)s.mapped);
		printf("physical used          %llu blocks (%s)\n", (unsigned long long)s.used, hu);
		printf("physical total         %llu blocks (%s)\n", (unsigned long long)s.total, hs);
		printf("available              %s\n", ha);
		printf("use                    %s\n", up);
		printf("data blocks            %llu\n", (unsigned long long)s.data_blocks);
		printf("bytes written          %llu\n", (unsigned long long)s.written);
		printf("bytes needing new data %llu\n", (unsigned long long)s.new_data);
		printf("dedup hits             %llu\n", (unsigned long long)s.dedup_hits);
		printf("dedup ratio            %.3f\n", s.ratio);
		printf("space saving           %s\n", sp);
		printf("zero blocks            %llu\n", (unsigned long long)s.zero_blocks);
		printf("cache hits             %llu\n", (unsigned long long)s.cache_hits);
		printf("cache misses           %llu\n", (unsigned long long)s.cache_misses);
		printf("cache hit rate         %s\n", hp);
		printf("cache blocks (module)  %llu\n", (unsigned long long)s.cache_blocks);
		printf("commits                %llu\n", (unsigned long long)s.commits);
		if (s.index_ram)
			printf("index RAM              %llu bytes\n",
			       (unsigned long long)s.index_ram);
		if (s.metadata_ram)
			printf("metadata RAM           %llu bytes\n",
			       (unsigned long long)s.metadata_ram);
		if (s.has_volume) {
			printf("volume                 %llu\n", (unsigned long long)s.volume);
			if (s.has_exclusive)
				printf("exclusive blocks       %llu\n",
				       (unsigned long long)s.exclusive);
			else
				printf("exclusive blocks       - (not counted: dmsetup message %s 0 count_exclusive %llu)\n",
				       name, (unsigned long long)s.volume);
			printf("volumes in pool        %llu\n", (unsigned long long)s.volumes);
			printf("pool mapped blocks     %llu\n",
			       (unsigned long long)s.pool_mapped);
		}
		printf("needs_check            %s\n", s.needs_check ? "yes" : "no");
		return SIS_EXIT_OK;
	}
	int w = (int)strlen(name) > 16 ? (int)strlen(name) : 16;

	printf("%-*s %10s %10s %10s %5s %8s %7s %12s %6s %s\n", w, "Device",
	       "Size", "Used", "Available", "Use%", "Saving%", "Dedup", "Zero-blocks",
	       "Hit%", "Mode");
	printf("%-*s %10s %10s %10s %5s %8s %6.2fx %12llu %6s %s%s\n", w, name,
	       hs, hu, ha, up, sp, s.ratio, (unsigned long long)s.zero_blocks, hp,
	       s.mode, s.needs_check ? ",needs_check" : "");
	return SIS_EXIT_OK;
}

/* ---- create ---- */

static const char create_help[] =
"Usage: sis create NAME DEV [--volume VOL] [--logical-size SIZE]\n"
"                  [feature options] [--dry-run]\n"
"\n"
"Activate the dm-sis target NAME over DEV: compute the table line\n"
"\n"
"    0 <logical sectors> sis DEV [<#feature args> <feature arg>...]\n"
"\n"
"and run `dmsetup create NAME --table LINE`.  The logical size defaults to\n"
"the one in DEV's metadata, or the size of DEV when DEV is blank (the target\n"
"formats a blank device on first activation).  A larger size than the\n"
"metadata's grows the device; a smaller one is refused.  With --volume,\n"
"the device serves that volume of the pool (table feature 'volume <id>',\n"
"its size is the volume's); one device per volume.\n"
"\n"
"Options:\n"
"  -V, --volume VOL            the volume, by name or id (default 0; see\n"
"                              sis ls, sis volume)\n"
"  -l, --logical-size SIZE     exported size, a multiple of 4 KiB (units as\n"
"                              for sis format: s, K, M, G, T, P, E)\n"
"      --no-discard-passdown   do not discard freed blocks on DEV\n"
"      --skip-zero-detection   store all-zero blocks like any other data\n"
"      --error-if-no-space     fail writes at once when out of space\n"
"                              (default: wait up to 60 s for space)\n"
"      --read-only             activate read-only\n"
"      --commit-interval S     commit metadata every S seconds (1..3600)\n"
"      --low-water-mark N      raise a dm event (dmsetup wait) when fewer\n"
"                              than N 4 KiB blocks are free\n"
"  -n, --dry-run               print the table line, do not run dmsetup\n"
"  -h, --help                  this text\n"
"\n"
"Exit: 0 created (or printed), 1 dmsetup failed or DEV is unusable,\n"
"2 usage error.\n";

enum {
	OPT_NO_DISCARD = 256,
	OPT_SKIP_ZERO,
	OPT_ERROR_NO_SPACE,
	OPT_READ_ONLY,
	OPT_COMMIT_INTERVAL,
	OPT_LOW_WATER_MARK,
};

/*
 * The logical size DEV's metadata records for volume @vol (NULL: 0; a
 * number: an id; else a name), its id in *@vid: 0 with *@blank when both
 * superblock copies are zero; -1 (message printed) when DEV cannot be read,
 * holds something that is not usable dm-sis metadata, or has no such
 * volume.
 */
static int device_logical_blocks(const char *path, const char *vol, u32 *vid,
				 u64 *logical, u64 *physical, bool *blank)
{
	struct sis_volume_info vi;
	uint64_t id = 0;
	struct sis_core_config cfg = { .flags = SIS_OPEN_READ_ONLY | SIS_OPEN_IGNORE_CHECK };
	struct sis_core_stats st;
	struct sis_io_ops ops;
	struct sis_core *c;
	const char *errmsg = NULL;
	struct filedev f;
	uint8_t *buf;
	bool zero = true;
	int r;

	*blank = false;
	r = filedev_open(&f, path, true);
	if (r) {
		sis_err("%s: %s", path, strerror(-r));
		return -1;
	}
	*physical = f.nr_blocks;
	buf = malloc(2 * BS);
	if (!buf) {
		filedev_close(&f);
		return -1;
	}
	for (u64 b = 0; b < 2 && b < f.nr_blocks; b++) {
		if (filedev_read(&f, b, buf + b * BS)) {
			sis_err("%s: cannot read", path);
			free(buf);
			filedev_close(&f);
			return -1;
		}
		for (size_t i = 0; i < BS; i++)
			if (buf[b * BS + i])
				zero = false;
	}
	free(buf);
	if (vol && sis_parse_uint(vol, SIS_VOL_ID_MAX, &id))
		id = UINT64_MAX;	/* a name */
	*vid = 0;
	if (zero) {
		filedev_close(&f);
		if (id) {
			sis_err("%s: blank (the target formats it with volume 0 only): "
				"no volume %s", path, vol);
			return -1;
		}
		*blank = true;
		*logical = 0;
		return 0;
	}
	filedev_ops(&f, &ops);
	cfg.physical_blocks = f.nr_blocks;
	ops.discard = NULL;
	ops.log = NULL;
	r = sis_core_open(&ops, &cfg, &c, &errmsg);
	if (r) {
		sis_err("%s: no usable dm-sis metadata: %s (%s); 'sis format' it first "
			"(or 'sis check' it)", path, errmsg ? errmsg : "error",
			strerror(-r));
		filedev_close(&f);
		return -1;
	}
	sis_core_get_stats(c, &st);
	*logical = st.logical_blocks;
	r = 0;
	if (id == UINT64_MAX)
		r = sis_core_volume_find(c, vol, vid);
	else
		*vid = (u32)id;
	if (!r)
		r = sis_core_volume_info(c, *vid, &vi);
	if (!r && vi.deleting)
		r = -ENOENT;
	sis_core_close(c);
	filedev_close(&f);
	if (r) {
		sis_err("%s: no volume %s%s (see 'sis ls %s')", path,
			id == UINT64_MAX ? "named " : "", vol ? vol : "0", path);
		return -1;
	}
	*logical = vi.logical_blocks;
	return 0;
}

int cmd_create(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "logical-size", required_argument, NULL, 'l' },
		{ "no-discard-passdown", no_argument, NULL, OPT_NO_DISCARD },
		{ "skip-zero-detection", no_argument, NULL, OPT_SKIP_ZERO },
		{ "error-if-no-space", no_argument, NULL, OPT_ERROR_NO_SPACE },
		{ "read-only", no_argument, NULL, OPT_READ_ONLY },
		{ "commit-interval", required_argument, NULL, OPT_COMMIT_INTERVAL },
		{ "low-water-mark", required_argument, NULL, OPT_LOW_WATER_MARK },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "volume", required_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *feats[8], *vol = NULL;
	char volid[16];
	u32 vid;
	int nfeat = 0, nargs = 0;
	char interval[24] = "", lwm[24] = "", table[4096], *p;
	u64 logical = 0, disk_logical, physical;
	bool dry = false, blank;
	const char *name, *dev, *why;
	uint64_t v;
	int opt, r;

	if (sis_want_help(argc, argv, create_help))
		return SIS_EXIT_OK;
	while ((opt = sis_next_opt(argc, argv, ":l:nV:", longs)) != -1) {
		switch (opt) {
		case 'V':
			if (vol)
				return sis_usage_error("--volume given twice");
			if (sis_parse_uint(optarg, SIS_VOL_ID_MAX, &v) &&
			    (why = sis_volume_name_problem(optarg)))
				return sis_usage_error("--volume '%s': not an id (0..%u) nor a "
						       "volume name: the name %s", optarg,
						       SIS_VOL_ID_MAX, why);
			vol = optarg;
			break;
		case 'l':
			if (sis_parse_size(optarg, &v, &why))
				return sis_usage_error("--logical-size '%s': %s", optarg, why);
			if (!v)
				return sis_usage_error("--logical-size must not be zero");
			if (v % BS)
				return sis_usage_error("--logical-size '%s' (%llu bytes) is not a multiple of 4 KiB",
						       optarg, (unsigned long long)v);
			if (v / BS > UINT64_MAX / SIS_SECTORS_PER_BLOCK)
				return sis_usage_error("--logical-size '%s' is too large", optarg);
			logical = v / BS;
			break;
		case OPT_NO_DISCARD:
			feats[nfeat++] = SIS_FEAT_NO_DISCARD_PASSDOWN;
			nargs++;
			break;
		case OPT_SKIP_ZERO:
			feats[nfeat++] = SIS_FEAT_SKIP_ZERO_DETECTION;
			nargs++;
			break;
		case OPT_ERROR_NO_SPACE:
			feats[nfeat++] = SIS_FEAT_ERROR_IF_NO_SPACE;
			nargs++;
			break;
		case OPT_READ_ONLY:
			feats[nfeat++] = SIS_FEAT_READ_ONLY;
			nargs++;
			break;
		case OPT_COMMIT_INTERVAL:
			if (sis_parse_uint(optarg, SIS_COMMIT_INTERVAL_MAX, &v) || v == 0)
				return sis_usage_error("--commit-interval '%s': seconds, 1..%d",
						       optarg, SIS_COMMIT_INTERVAL_MAX);
			if (interval[0])
				return sis_usage_error("--commit-interval given twice");
			snprintf(interval, sizeof(interval), "%llu", (unsigned long long)v);
			break;
		case OPT_LOW_WATER_MARK:
			if (sis_parse_uint(optarg, UINT64_MAX, &v))
				return sis_usage_error("--low-water-mark '%s': a number of 4 KiB blocks",
						       optarg);
			if (lwm[0])
				return sis_usage_error("--low-water-mark given twice");
			snprintf(lwm, sizeof(lwm), "%llu", (unsigned long long)v);
			break;
		case 'n':
			dry = true;
			break;
		default:
			return SIS_EXIT_USAGE;
		}
		/* The same flag twice would make a table line the target refuses. */
		for (int i = 0; i + 1 < nfeat; i++)
			if (!strcmp(feats[i], feats[nfeat - 1]))
				return sis_usage_error("option '--%s' given twice",
						       argv[optind - 1] + 2);
	}
	if (argc - optind < 2)
		return sis_usage_error(argc - optind == 0 ? "missing NAME and DEV" :
				       "missing DEV (the backing block device)");
	if (argc - optind > 2)
		return sis_usage_error("unexpected argument '%s'", argv[optind + 2]);
	name = argv[optind];
	dev = argv[optind + 1];
	if (!valid_dm_name(name))
		return sis_usage_error("'%s' is not a valid device-mapper name "
				       "(1..%d characters, no '/')", name, DM_NAME_MAX);
	if (strchr(dev, ' ') || strchr(dev, '\t') || strchr(dev, '\n'))
		return sis_usage_error("DEV '%s' contains white space", dev);

	if (device_logical_blocks(dev, vol, &vid, &disk_logical, &physical, &blank))
		return SIS_EXIT_FAIL;
	if (!logical)
		logical = blank ? physical : disk_logical;
	if (!logical) {
		sis_err("%s: empty device", dev);
		return SIS_EXIT_FAIL;
	}
	if (!blank && logical < disk_logical) {
		sis_err("%s: --logical-size is smaller than the metadata's %llu blocks "
			"(%llu bytes); dm-sis cannot shrink", dev,
			(unsigned long long)disk_logical,
			(unsigned long long)disk_logical * BS);
		return SIS_EXIT_FAIL;
	}

	p = table;
	p += snprintf(p, sizeof(table), "0 %llu %s %s",
		      (unsigned long long)(logical * SIS_SECTORS_PER_BLOCK),
		      SIS_TARGET_NAME, dev);
	if (interval[0])
		nargs += 2;
	if (lwm[0])
		nargs += 2;
	/* Volume 0 is the default: its table line stays what it always was. */
	if (vid) {
		snprintf(volid, sizeof(volid), "%u", vid);
		nargs += 2;
	}
	if (nargs) {
		p += snprintf(p, sizeof(table) - (size_t)(p - table), " %d", nargs);
		for (int i = 0; i < nfeat; i++)
			p += snprintf(p, sizeof(table) - (size_t)(p - table), " %s", feats[i]);
		if (interval[0])
			p += snprintf(p, sizeof(table) - (size_t)(p - table), " %s %s",
				      SIS_FEAT_COMMIT_INTERVAL, interval);
		if (lwm[0])
			p += snprintf(p, sizeof(table) - (size_t)(p - table), " %s %s",
				      SIS_FEAT_LOW_WATER_MARK, lwm);
		if (vid)
			snprintf(p, sizeof(table) - (size_t)(p - table), " %s %s",
				 SIS_FEAT_VOLUME, volid);
	}
	if (dry) {
		printf("%s\n", table);
		return SIS_EXIT_OK;
	}
	{
		char *av[] = { (char *)sis_dmsetup_bin(), (char *)"create", (char *)name,
			       (char *)"--table", table, NULL };

		r = sis_run(av, NULL, 0);
	}
	if (r) {
		struct stat st;

		sis_err("'%s create %s --table \"%s\"' failed%s", sis_dmsetup_bin(), name,
			table, r < 0 ? " (cannot run dmsetup)" : "");
		if (!stat(dev, &st) && S_ISREG(st.st_mode))
			sis_err("%s is a regular file: attach it with losetup(8) first", dev);
		return SIS_EXIT_FAIL;
	}
	/* Without udev no /dev/mapper node appears: make it. */
	{
		char node[DM_NAME_MAX + 16];
		struct stat st;

		snprintf(node, sizeof(node), "/dev/mapper/%s", name);
		if (stat(node, &st)) {
			char *av[] = { (char *)sis_dmsetup_bin(), (char *)"mknodes",
				       (char *)name, NULL };

			(void)sis_run(av, NULL, 0);
		}
	}
	printf("created /dev/mapper/%s: %s\n", name, table);
	return SIS_EXIT_OK;
}
