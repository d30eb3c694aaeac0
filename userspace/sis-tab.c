// SPDX-License-Identifier: GPL-2.0
/*
 * sis probe, sis activate, sis deactivate: activation at boot.
 *
 * /etc/sistab (or --config FILE) lists the devices to activate, one a line:
 *
 *   # NAME  DEVICE                         OPTIONS
 *   sis0    UUID=0f3c...-...               commit_interval=5,low_water_mark=1000
 *   sis1    /dev/disk/by-id/ata-X-part2    defaults
 *
 * DEVICE is a path (use a stable one: /dev/disk/by-id/..., by-path/...,
 * by-partuuid/...) or UUID=<uuid> of the dm-sis superblock, which `sis
 * probe` finds by reading blocks 0 and 1 of every block device in
 * /proc/partitions and checking the magic and the checksum (blkid has no
 * dm-sis prober).  OPTIONS is a comma-separated list: defaults, noauto (not
 * activated by --all), the feature options of `sis create` in table-word
 * spelling (no_discard_passdown, skip_zero_detection, error_if_no_space,
 * read_only, commit_interval=S, low_water_mark=N), logical_size=SIZE and
 * volume=ID|NAME (the volume of the pool the device serves; several lines
 * may name one DEVICE, one per volume).
 *
 * activate runs `sis create` (which takes the logical size from the
 * metadata) for each entry not yet active; deactivate runs `dmsetup remove`.
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
#include <sys/wait.h>

#include <linux/types.h>
#include <asm/byteorder.h>
#include "sis-core.h"
#include "sis-target.h"
#include "sis.h"

#define BS SIS_BLOCK_SIZE
#define SISTAB_DEFAULT	"/etc/sistab"
#define TAB_MAX		64
#define PROBE_MAX	256

u32 sis_block_csum(u32 seed, const void *block);

struct tab_entry {
	char name[128];
	char dev[256];
	char opts[512];
	int line;
};

/* ---- Probing ---- */

static void uuid_str(const uint8_t *u, char *buf)
{
	sprintf(buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		"%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
		u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/*
 * Read both superblock copies of @path; 0 with the UUID of the valid copy
 * with the higher sequence number in @uuid (text), -1 when @path cannot be
 * read or holds no valid dm-sis superblock.
 */
static int probe_one(const char *path, char *uuid)
{
	struct sis_disk_superblock *sb;
	uint8_t *buf;
	u64 best_seq = 0;
	int fd, best = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	buf = malloc(2 * BS);
	if (!buf || pread(fd, buf, 2 * BS, 0) != 2 * BS) {
		free(buf);
		close(fd);
		return -1;
	}
	close(fd);
	for (int i = 0; i < 2; i++) {
		sb = (struct sis_disk_superblock *)(buf + i * BS);
		if (le64_to_cpu(sb->magic) != SIS_MAGIC ||
		    le32_to_cpu(sb->hdr.csum) != sis_block_csum(SIS_BT_SUPERBLOCK, sb) ||
		    le32_to_cpu(sb->hdr.type) != SIS_BT_SUPERBLOCK ||
		    le64_to_cpu(sb->hdr.blocknr) != (u64)i)
			continue;
		if (best < 0 || le64_to_cpu(sb->sb_seq) > best_seq) {
			best = i;
			best_seq = le64_to_cpu(sb->sb_seq);
		}
	}
	if (best >= 0)
		uuid_str(((struct sis_disk_superblock *)(buf + best * BS))->uuid, uuid);
	free(buf);
	return best >= 0 ? 0 : -1;
}

/* Every block device of /proc/partitions as /dev/NAME; returns the count. */
static int list_block_devices(char devs[][64], int max)
{
	char line[256], name[64];
	unsigned long long kib;
	unsigned int maj, min;
	int n = 0;
	FILE *f = fopen("/proc/partitions", "re");

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %u %u %llu %63s", &maj, &min, &kib, name) != 4)
			continue;
		if (kib < 2 * BS / 1024)
			continue;
		snprintf(devs[n++], 64, "/dev/%.58s", name);
	}
	fclose(f);
	return n;
}

/*
 * Resolve UUID=<uuid> to the one block device carrying it.  Returns 0 with
 * the path in @out; -1 (message printed) when none or several carry it.
 */
static int find_uuid(const char *want, char *out, size_t len)
{
	static char devs[PROBE_MAX][64];
	int n = list_block_devices(devs, PROBE_MAX), found = 0;
	char uuid[40];

	for (int i = 0; i < n; i++) {
		if (probe_one(devs[i], uuid) || strcasecmp(uuid, want))
			continue;
		if (found++) {
			sis_err("UUID=%s is on both %s and %s: name the device by path",
				want, out, devs[i]);
			return -1;
		}
		snprintf(out, len, "%.63s", devs[i]);
	}
	if (!found) {
		sis_err("no block device with dm-sis UUID=%s", want);
		return -1;
	}
	return 0;
}

static const char probe_help[] =
"Usage: sis probe [DEV...]\n"
"       sis probe --uuid UUID\n"
"\n"
"Print \"DEV UUID=<uuid>\" for each DEV (default: every block device in\n"
"/proc/partitions) whose block 0 or 1 is a valid dm-sis superblock (magic\n"
"and checksum).  With --uuid, print the one device carrying UUID.\n"
"\n"
"Exit: 0 found, 1 nothing found (or UUID ambiguous), 2 usage error.\n";

int cmd_probe(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "uuid", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char devs[PROBE_MAX][64];
	const char *want = NULL;
	char uuid[40], path[256];
	int opt, n, found = 0;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+hU:", longs, NULL)) != -1) {
		switch (opt) {
		case 'U':
			want = optarg;
			break;
		case 'h':
			fputs(probe_help, stdout);
			return SIS_EXIT_OK;
		default:
			return sis_usage_error("unknown option or missing value: '%s'",
					       argv[optind - 1]);
		}
	}
	if (want) {
		if (optind < argc)
			return sis_usage_error("unexpected argument '%s'", argv[optind]);
		if (find_uuid(want, path, sizeof(path)))
			return SIS_EXIT_FAIL;
		printf("%s\n", path);
		return SIS_EXIT_OK;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			if (probe_one(argv[i], uuid))
				continue;
			printf("%s UUID=%s\n", argv[i], uuid);
			found++;
		}
	} else {
		n = list_block_devices(devs, PROBE_MAX);
		for (int i = 0; i < n; i++) {
			if (probe_one(devs[i], uuid))
				continue;
			printf("%s UUID=%s\n", devs[i], uuid);
			found++;
		}
	}
	return found ? SIS_EXIT_OK : SIS_EXIT_FAIL;
}

/* ---- sistab ---- */

/* Parse @path; returns the number of entries or -1 (message printed). */
static int tab_read(const char *path, struct tab_entry *e, int max)
{
	char line[1024], *p, *w[4];
	int n = 0, lineno = 0, nw;
	FILE *f = fopen(path, "re");

	if (!f) {
		sis_err("%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		p = strchr(line, '#');
		if (p)
			*p = '\0';
		nw = 0;
		for (p = strtok(line, " \t\r\n"); p && nw < 4; p = strtok(NULL, " \t\r\n"))
			w[nw++] = p;
		if (!nw)
			continue;
		if (nw < 2 || nw > 3) {
			sis_err("%s:%d: expected NAME DEVICE [OPTIONS]", path, lineno);
			fclose(f);
			return -1;
		}
		if (n == max) {
			sis_err("%s: more than %d entries", path, max);
			fclose(f);
			return -1;
		}
		if (strlen(w[0]) >= sizeof(e[n].name) || strchr(w[0], '/') ||
		    strlen(w[1]) >= sizeof(e[n].dev) ||
		    (nw == 3 && strlen(w[2]) >= sizeof(e[n].opts))) {
			sis_err("%s:%d: name, device or options too long (or '/' in the name)",
				path, lineno);
			fclose(f);
			return -1;
		}
		for (int i = 0; i < n; i++) {
			if (!strcmp(e[i].name, w[0])) {
				sis_err("%s:%d: %s listed twice", path, lineno, w[0]);
				fclose(f);
				return -1;
			}
		}
		snprintf(e[n].name, sizeof(e[n].name), "%s", w[0]);
		snprintf(e[n].dev, sizeof(e[n].dev), "%s", w[1]);
		snprintf(e[n].opts, sizeof(e[n].opts), "%s", nw == 3 ? w[2] : "defaults");
		e[n].line = lineno;
		n++;
	}
	fclose(f);
	return n;
}

static bool has_opt(const char *opts, const char *want)
{
	char buf[512], *p, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", opts);
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
		if (!strcmp(p, want))
			return true;
	return false;
}

/* Run argv quietly (stdout and stderr to /dev/null); its exit status. */
static int run_quiet(char *const argv[])
{
	pid_t pid;
	int st, fd;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool dm_active(const char *name)
{
	char *av[] = { (char *)sis_dmsetup_bin(), (char *)"info", (char *)name, NULL };

	return run_quiet(av) == 0;
}

/*
 * Activate one entry through cmd_create: the options become create's
 * flags.  Returns a SIS_EXIT_* code.
 */
static int activate_one(const struct tab_entry *e, const char *tab, bool dry)
{
	char opts[512], dev[256], *p, *save = NULL, *av[32];
	char flags[16][64];
	int ac = 0, nf = 0;

	if (!strncmp(e->dev, "UUID=", 5)) {
		if (find_uuid(e->dev + 5, dev, sizeof(dev)))
			return SIS_EXIT_FAIL;
	} else {
		char uuid[40];

		snprintf(dev, sizeof(dev), "%s", e->dev);
		if (probe_one(dev, uuid)) {
			sis_err("%s:%d: %s: no dm-sis superblock (run 'sis format' first)",
				tab, e->line, dev);
			return SIS_EXIT_FAIL;
		}
	}
	av[ac++] = (char *)"create";
	snprintf(opts, sizeof(opts), "%s", e->opts);
	for (p = strtok_r(opts, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		static const char *const plain[] = {
			SIS_FEAT_NO_DISCARD_PASSDOWN, SIS_FEAT_SKIP_ZERO_DETECTION,
			SIS_FEAT_ERROR_IF_NO_SPACE, SIS_FEAT_READ_ONLY,
		};
		static const char *const valued[] = {
			SIS_FEAT_COMMIT_INTERVAL, SIS_FEAT_LOW_WATER_MARK, "logical_size",
			SIS_FEAT_VOLUME,
		};
		char *eq = strchr(p, '=');
		bool ok = false;

		if (!strcmp(p, "defaults") || !strcmp(p, "noauto"))
			continue;
		if (nf + 2 > 16)
			break;
		for (size_t i = 0; !eq && i < sizeof(plain) / sizeof(plain[0]); i++) {
			if (!strcmp(p, plain[i])) {
				snprintf(flags[nf], 64, "--%s", p);
				ok = true;
			}
		}
		for (size_t i = 0; eq && i < sizeof(valued) / sizeof(valued[0]); i++) {
			if ((size_t)(eq - p) == strlen(valued[i]) &&
			    !strncmp(p, valued[i], (size_t)(eq - p)) && eq[1]) {
				snprintf(flags[nf], 64, "--%.*s", (int)(eq - p), p);
				ok = true;
			}
		}
		if (!ok) {
			sis_err("%s:%d: unknown option '%s'", tab, e->line, p);
			return SIS_EXIT_FAIL;
		}
		for (char *c = flags[nf] + 2; *c; c++)
			if (*c == '_')
				*c = '-';
		av[ac++] = flags[nf++];
		if (eq) {
			snprintf(flags[nf], 64, "%s", eq + 1);
			av[ac++] = flags[nf++];
		}
	}
	if (dry)
		av[ac++] = (char *)"--dry-run";
	av[ac++] = (char *)e->name;
	av[ac++] = dev;
	av[ac] = NULL;
	optind = 0;
	return cmd_create(ac, av);
}

static const char activate_help[] =
"Usage: sis activate [--config FILE] [--dry-run] --all | NAME...\n"
"       sis deactivate [--config FILE] --all | NAME...\n"
"\n"
"activate: create each device of FILE (default /etc/sistab) that is not\n"
"active yet (--all: every entry without noauto), with `sis create`: the\n"
"logical size comes from the metadata, the options from the entry.\n"
"deactivate: remove the active devices of FILE (--all: in reverse order)\n"
"with `dmsetup remove`.\n"
"\n"
"/etc/sistab, one device a line ('#' starts a comment):\n"
"    NAME  DEVICE  [OPTIONS]\n"
"DEVICE is a path (a stable one: /dev/disk/by-id/...) or UUID=<uuid> of\n"
"the dm-sis superblock (see sis probe).  OPTIONS, comma-separated:\n"
"defaults, noauto, no_discard_passdown, skip_zero_detection,\n"
"error_if_no_space, read_only, commit_interval=S, low_water_mark=N,\n"
"logical_size=SIZE, volume=ID|NAME (the volume of the pool on DEVICE the\n"
"device serves, default 0; one line per volume).\n"
"\n"
"Options:\n"
"  -c, --config FILE  the table (default /etc/sistab)\n"
"  -a, --all          every entry (activate: except noauto)\n"
"  -n, --dry-run      activate: print the table lines only\n"
"  -h, --help         this text\n"
"\n"
"Exit: 0 every device done (or already in the wanted state), 1 one or\n"
"more failed (the others are still done), 2 usage error or bad FILE.\n";

static int tab_cmd(int argc, char **argv, bool activate)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "all", no_argument, NULL, 'a' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct tab_entry e[TAB_MAX];
	const char *tab = SISTAB_DEFAULT;
	bool all = false, dry = false;
	int opt, n, rc = SIS_EXIT_OK;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+c:anh", longs, NULL)) != -1) {
		switch (opt) {
		case 'c':
			tab = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'n':
			if (!activate)
				return sis_usage_error("--dry-run is for activate only");
			dry = true;
			break;
		case 'h':
			fputs(activate_help, stdout);
			return SIS_EXIT_OK;
		default:
			return sis_usage_error("unknown option or missing value: '%s'",
					       argv[optind - 1]);
		}
	}
	if (all == (optind < argc))
		return sis_usage_error("give --all or NAMEs (not both)");
	n = tab_read(tab, e, TAB_MAX);
	if (n < 0)
		return SIS_EXIT_USAGE;
	for (int i = optind; i < argc; i++) {
		int j;

		for (j = 0; j < n && strcmp(e[j].name, argv[i]); j++)
			;
		if (j == n) {
			sis_err("%s is not in %s", argv[i], tab);
			rc = SIS_EXIT_FAIL;
		}
	}
	for (int k = 0; k < n; k++) {
		int i = activate ? k : n - 1 - k;
		bool named = all;

		for (int a = optind; a < argc && !named; a++)
			named = !strcmp(argv[a], e[i].name);
		if (!named || (all && activate && has_opt(e[i].opts, "noauto")))
			continue;
		if (activate) {
			if (!dry && dm_active(e[i].name)) {
				printf("%s: already active\n", e[i].name);
				continue;
			}
			if (activate_one(&e[i], tab, dry))
				rc = SIS_EXIT_FAIL;
			sis_cmd = "activate";
		} else {
			char *av[] = { (char *)sis_dmsetup_bin(), (char *)"remove", e[i].name, NULL };

			if (!dm_active(e[i].name))
				continue;
			if (run_quiet(av)) {
				sis_err("'%s remove %s' failed (in use?)", sis_dmsetup_bin(), e[i].name);
				rc = SIS_EXIT_FAIL;
			} else {
				printf("removed %s\n", e[i].name);
			}
		}
	}
	return rc;
}

int cmd_activate(int argc, char **argv)
{
	return tab_cmd(argc, argv, true);
}

int cmd_deactivate(int argc, char **argv)
{
	return tab_cmd(argc, argv, false);
}
