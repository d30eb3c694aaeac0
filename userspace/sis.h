/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sis: the dm-sis companion tool, private declarations shared by its files.
 *
 *   sis.c        main, the subcommand table, argument and size parsing,
 *                output helpers (text and JSON), exit codes
 *   sis-meta.c   format, check, repair, dump: offline, through the portable
 *                core (libsis-core.a) on a block device or an image file
 *   sis-dm.c     stats, create: online, through dmsetup and the grammar of
 *                include/sis-target.h
 *   sis-vol.c    ls, volume create/clone/delete/resize: the volumes of a
 *                pool, offline through the core (sis-dev.h)
 *   sis-tab.c    probe, activate, deactivate: /etc/sistab
 *
 * The tool never decodes a metadata block by itself except the superblock
 * fields it prints (through include/sis-format.h); every walk, checksum
 * and repair is the core's own code: one codec, never a second one.
 */
#ifndef SIS_TOOL_H
#define SIS_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes shared by every subcommand. */
#define SIS_EXIT_OK		0
#define SIS_EXIT_FAIL		1	/* the operation failed (not check) */
#define SIS_EXIT_USAGE		2	/* bad arguments; nothing was touched */

/* sis check / sis repair, like fsck(8) (documented in sis(8)). */
#define SIS_CHECK_EXIT_CLEAN	0
#define SIS_CHECK_EXIT_MINOR	1	/* leaks only, or needs_check set */
#define SIS_CHECK_EXIT_USAGE	2
#define SIS_CHECK_EXIT_ERRORS	4	/* data at risk or damaged metadata */
#define SIS_CHECK_EXIT_OPER	8	/* cannot open, read or not dm-sis */

extern const char *sis_prog;		/* "sis" */
extern const char *sis_cmd;		/* current subcommand, for messages */

/* Print "sis CMD: msg" to stderr. */
void sis_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a usage error, point at --help, return SIS_EXIT_USAGE. */
int sis_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parse a size: digits, then an optional unit: none or B (bytes),
 * s (512-byte sectors), K/M/G/T/P/E with optional "iB" or "B" (powers of
 * 1024).  Rejects signs, spaces, empty strings and overflow.
 * Returns 0 or -1 (with a message in @why).
 */
int sis_parse_size(const char *s, uint64_t *bytes, const char **why);
/* Parse a plain unsigned decimal number no larger than @max. */
int sis_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* "10.0G"-style rendering of @bytes into @buf (at least 16 bytes). */
const char *sis_human(uint64_t bytes, char *buf, size_t len);

/* A --help (or -h) anywhere in @argv: print @help to stdout, true. */
bool sis_want_help(int argc, char **argv, const char *help);
struct option;
/*
 * getopt_long() over @argv with our own messages: returns the option, '?'
 * on an error (message printed), -1 at the end.
 */
int sis_next_opt(int argc, char **argv, const char *short_opts,
		 const struct option *longs);

/*
 * Why @name cannot name a volume (NULL if it can): 1..31 bytes of letters,
 * digits and "._+-:@", not starting with '-', not all digits (sis-vol.c).
 */
const char *sis_volume_name_problem(const char *name);

/* Minimal JSON writer: an object per call, comma handling automatic. */
struct sis_json {
	FILE *f;
	int depth;
	bool need_comma[16];
};
void sj_begin(struct sis_json *j, FILE *f);
void sj_obj(struct sis_json *j, const char *key);	/* key NULL in arrays */
void sj_obj_end(struct sis_json *j);
void sj_arr(struct sis_json *j, const char *key);
void sj_arr_end(struct sis_json *j);
void sj_str(struct sis_json *j, const char *key, const char *val);
void sj_u64(struct sis_json *j, const char *key, uint64_t val);
void sj_dbl(struct sis_json *j, const char *key, double val);
void sj_bool(struct sis_json *j, const char *key, bool val);
/* @text as it is (a value the caller formatted as JSON). */
void sj_raw(struct sis_json *j, const char *key, const char *text);
void sj_end(struct sis_json *j);

/* Subcommands: argc/argv start at the subcommand name. */
int cmd_format(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_activate(int argc, char **argv);
int cmd_deactivate(int argc, char **argv);
/*
 * Run argv; with @out, capture its stdout (NUL-terminated, at most @len - 1
 * bytes).  Returns the exit status, or -1 if it could not be run (sis-dm.c).
 */
int sis_run(char *const argv[], char *out, size_t len);
/* dmsetup, or $SIS_DMSETUP (the host tests' fake). */
const char *sis_dmsetup_bin(void);
int cmd_ls(int argc, char **argv);
int cmd_volume(int argc, char **argv);

#endif /* SIS_TOOL_H */
