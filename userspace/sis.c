// SPDX-License-Identifier: GPL-2.0
/*
 * sis: the companion tool of the dm-sis device-mapper target.
 *
 * One command with subcommands, like thin_check/thin_dump/thin_repair and
 * vdoformat/vdostats rolled into one:
 *
 *   sis format DEV     write fresh metadata (refuses anything that looks used)
 *   sis check DEV      offline walk of every mapping and refcount
 *   sis repair DEV     rebuild refcounts and counters from the map
 *   sis dump DEV       superblock, sizes, usage, volumes, map summary, the maps
 *   sis ls DEV         the volumes of the pool, like thin_ls
 *   sis volume create|clone|delete|resize DEV ...   offline volume changes
 *   sis stats NAME     a vdostats-like view of `dmsetup status`
 *   sis create NAME DEV  build the table line and run `dmsetup create`
 *
 * The offline subcommands link the portable core (dm-sis/core) built for
 * userspace: the same code the kernel module runs, so the tool can never
 * disagree with the target about the format.  This file holds only what is
 * common: dispatch, parsing, output helpers.  The rule every subcommand
 * keeps: a usage error is detected before the device is opened, so a bad
 * command line touches nothing and exits 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>
#include "sis-format.h"
#include "sis.h"

#ifndef SIS_TOOL_VERSION
#define SIS_TOOL_VERSION "1"
#endif

const char *sis_prog = "sis";
const char *sis_cmd;

void sis_err(const char *fmt, ...)
{
	va_list ap;

	if (sis_cmd)
		fprintf(stderr, "%s %s: ", sis_prog, sis_cmd);
	else
		fprintf(stderr, "%s: ", sis_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int sis_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s: ", sis_prog, sis_cmd ? sis_cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s %s --help' for more information.\n",
		sis_prog, sis_cmd ? sis_cmd : "");
	return SIS_EXIT_USAGE;
}

/* ---- Numbers ---- */

int sis_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		unsigned int d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned int)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int sis_parse_size(const char *s, uint64_t *bytes, const char **why)
{
	static const char units[] = "KMGTPE";
	uint64_t v = 0, mult = 1;
	const char *p = s;
	const char *u;

	*why = "not a size (digits with an optional unit: s, K, M, G, T, P, E)";
	if (!s || *s < '0' || *s > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (v > (UINT64_MAX - d) / 10) {
			*why = "too large";
			return -1;
		}
		v = v * 10 + d;
	}
	if (*p == '\0' || !strcmp(p, "B")) {
		mult = 1;
	} else if (!strcmp(p, "s")) {
		mult = 512;
	} else {
		char c = *p;

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		u = strchr(units, c);
		if (!u || !c)
			return -1;
		p++;
		if (*p && strcmp(p, "iB") && strcmp(p, "B"))
			return -1;
		for (int i = 0; i <= u - units; i++)
			mult *= 1024;
	}
	if (mult > 1 && v > UINT64_MAX / mult) {
		*why = "too large";
		return -1;
	}
	*bytes = v * mult;
	return 0;
}

const char *sis_human(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	double v = (double)bytes;
	int i = 0;

	while (v >= 1024.0 && i < 6) {
		v /= 1024.0;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f%c", v, units[i]);
	return buf;
}

/* ---- JSON ---- */

static void sj_sep(struct sis_json *j, const char *key)
{
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
	if (key)
		fprintf(j->f, "\"%s\": ", key);
}

static void sj_open(struct sis_json *j, const char *key, char c)
{
	sj_sep(j, key);
	fputc(c, j->f);
	if (j->depth < 15)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void sj_close(struct sis_json *j, char c)
{
	if (j->depth > 0)
		j->depth--;
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
	fputc(c, j->f);
}

void sj_begin(struct sis_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	fputc('{', f);
	j->depth = 1;
}

void sj_obj(struct sis_json *j, const char *key) { sj_open(j, key, '{'); }
void sj_obj_end(struct sis_json *j) { sj_close(j, '}'); }
void sj_arr(struct sis_json *j, const char *key) { sj_open(j, key, '['); }
void sj_arr_end(struct sis_json *j) { sj_close(j, ']'); }

void sj_str(struct sis_json *j, const char *key, const char *val)
{
	sj_sep(j, key);
	fputc('"', j->f);
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(j->f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(j->f, "\\u%04x", *p);
		else
			fputc(*p, j->f);
	}
	fputc('"', j->f);
}

void sj_u64(struct sis_json *j, const char *key, uint64_t val)
{
	sj_sep(j, key);
	fprintf(j->f, "%llu", (unsigned long long)val);
}

void sj_dbl(struct sis_json *j, const char *key, double val)
{
	sj_sep(j, key);
	if (val != val)		/* NaN is not JSON */
		fputs("null", j->f);
	else
		fprintf(j->f, "%.4f", val);
}

void sj_raw(struct sis_json *j, const char *key, const char *text)
{
	sj_sep(j, key);
	fputs(text, j->f);
}

void sj_bool(struct sis_json *j, const char *key, bool val)
{
	sj_sep(j, key);
	fputs(val ? "true" : "false", j->f);
}

void sj_end(struct sis_json *j)
{
	sj_close(j, '}');
	fputc('\n', j->f);
}

/* ---- Command lines ---- */

/* A --help in @argv (anywhere) prints @help to stdout. */
bool sis_want_help(int argc, char **argv, const char *help)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(help, stdout);
			return true;
		}
	}
	return false;
}

/*
 * Run getopt_long over @argv; returns the option, '?' on error (message
 * already printed by us, not getopt), -1 at the end.
 */
int sis_next_opt(int argc, char **argv, const char *short_opts,
		 const struct option *longs)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, short_opts, longs, NULL);
	if (c == '?') {
		if (optopt)
			sis_usage_error("option '-%c' is unknown or needs a value", optopt);
		else
			sis_usage_error("unknown option or missing value: '%s'",
					argv[optind - 1]);
	} else if (c == ':') {
		sis_usage_error("option '%s' needs a value", argv[optind - 1]);
		c = '?';
	}
	return c;
}

/* ---- Dispatch ---- */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cmds[] = {
	{ "format", cmd_format, "write fresh dm-sis metadata on a device or image" },
	{ "check",  cmd_check,  "check the metadata offline (exit codes like fsck)" },
	{ "repair", cmd_repair, "rebuild refcounts and counters from the map" },
	{ "dump",   cmd_dump,   "print the superblock, usage, the volume table and the block maps" },
	{ "ls",     cmd_ls,     "list the volumes of a pool: sizes, mapped and exclusive blocks" },
	{ "volume", cmd_volume, "create, clone, delete or resize a volume of a pool (offline)" },
	{ "stats",  cmd_stats,  "print usage and dedup statistics of an active device" },
	{ "create", cmd_create, "activate a device: build the table, run dmsetup create" },
	{ "probe",  cmd_probe,  "find dm-sis devices (and their UUIDs) among the block devices" },
	{ "activate", cmd_activate, "create the devices listed in /etc/sistab" },
	{ "deactivate", cmd_deactivate, "remove the devices listed in /etc/sistab" },
};

static void main_usage(FILE *f)
{
	fprintf(f, "Usage: %s COMMAND [ARGS...]\n"
		"       %s COMMAND --help\n"
		"       %s --version\n\n"
		"The dm-sis deduplicating device-mapper target's companion tool.\n\n"
		"Commands:\n", sis_prog, sis_prog, sis_prog);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nSee sis(8) for details and exit codes.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		main_usage(stderr);
		return SIS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
				if (!strcmp(argv[2], cmds[i].name)) {
					char *hv[] = { argv[2], (char *)"--help", NULL };

					sis_cmd = cmds[i].name;
					return cmds[i].fn(2, hv);
				}
			}
		}
		main_usage(stdout);
		return SIS_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("sis %s (dm-sis on-disk format %d)\n", SIS_TOOL_VERSION, SIS_VERSION);
		return SIS_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			sis_cmd = cmds[i].name;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "%s: unknown command '%s'\n", sis_prog, argv[1]);
	fprintf(stderr, "Try '%s --help' for the list of commands.\n", sis_prog);
	return SIS_EXIT_USAGE;
}
