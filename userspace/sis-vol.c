// SPDX-License-Identifier: GPL-2.0
/*
 * sis ls, sis volume create|clone|delete|resize: the volumes of a pool.
 *
 * A dm-sis backing device is a pool of up to SIS_MAX_VOLUMES volumes (the
 * volume table of the root, include/sis-format.h); volume 0 is made by
 * format.  These commands work offline, like check and repair: they open
 * the core on the device or image (read-only for ls), and a block device
 * in use is refused by its O_EXCL claim (sis-dev.h).  Every change is the
 * core's own call (sis_core_volume_*), committed before the command
 * returns, so what the tool does is exactly what the target's messages do.
 * An active pool (a block device held by a sis device, or --dm NAME) gets
 * the dm message instead (vol_online()); names are resolved on its
 * committed volume table, read without the claim.
 *
 * Volumes are named here by NAME (1..31 bytes, stored in the table, unique
 * in the pool: the tool checks this, the core does not) or by --id.  A new
 * volume gets the lowest free id unless --id says otherwise.  Usage errors
 * (bad name, size, id, missing argument) are found before the device is
 * opened: nothing is touched and the exit status is 2.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <linux/types.h>
#include "sis-core.h"
#include "sis-target.h"
#include "sis.h"
#include "sis-dev.h"

#define BS SIS_BLOCK_SIZE
#define SIS_LS_JSON_VERSION 1	/* schema of sis ls --json (docs/tools.md) */
#define NO_ID UINT64_MAX
#define DM_NAME_MAX 127		/* DM_NAME_LEN - 1 */

/* ---- Arguments ---- */

/*
 * A volume name: 1..SIS_VOL_NAME_LEN - 1 bytes of letters, digits and
 * "._+-:@", not starting with '-' (one word in a dm message, never taken
 * for an option), not all digits (where an id or a name may be given, as
 * in sis create --volume, a number is an id).
 */
const char *sis_volume_name_problem(const char *name)
{
	size_t n = strlen(name);

	if (!n)
		return "is empty";
	if (n >= SIS_VOL_NAME_LEN)
		return "is too long (at most 31 bytes)";
	if (name[0] == '-')
		return "starts with '-'";
	if (strspn(name, "0123456789") == n)
		return "is a number (a name has a character other than a digit, "
		       "so a name and an id cannot be confused)";
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._+-:@", *p)))
			return "has a character other than letters, digits and ._+-:@";
	return NULL;
}

static int check_name(const char *what, const char *name)
{
	const char *why = sis_volume_name_problem(name);

	if (why)
		return sis_usage_error("%s '%s' %s", what, name, why);
	return 0;
}

static int parse_id(const char *opt, const char *arg, uint64_t *id)
{
	if (*id != NO_ID)
		return sis_usage_error("%s given twice", opt);
	if (sis_parse_uint(arg, SIS_VOL_ID_MAX, id))
		return sis_usage_error("%s '%s': not a volume id (0..%u)", opt, arg,
				       SIS_VOL_ID_MAX);
	return 0;
}

static int parse_vol_size(const char *arg, u64 *blocks)
{
	const char *why;
	uint64_t bytes;

	if (sis_parse_size(arg, &bytes, &why))
		return sis_usage_error("SIZE '%s': %s", arg, why);
	if (!bytes)
		return sis_usage_error("SIZE must not be zero");
	if (bytes % BS)
		return sis_usage_error("SIZE '%s' (%llu bytes) is not a multiple of 4 KiB",
				       arg, (unsigned long long)bytes);
	*blocks = bytes / BS;
	return 0;
}

/* ---- The pool ---- */

struct pool {
	struct sis_dev d;
	struct sis_core *c;
};

/*
 * Open the core on @path: read-only (ls), for writing, or @shared: read-only
 * on a pool an active target uses (its committed volume table).
 */
static int pool_open(struct pool *p, const char *path, bool write, bool shared)
{
	struct sis_core_config cfg = { 0 };
	struct sis_core_stats st;
	const char *errmsg = NULL;
	int r;

	if (shared ? sis_dev_open_shared(&p->d, path) :
	    sis_dev_open(&p->d, path, write))
		return -1;
	cfg.physical_blocks = p->d.f.nr_blocks;
	cfg.flags = write ? 0 : SIS_OPEN_READ_ONLY | SIS_OPEN_IGNORE_CHECK;
	r = sis_core_open(&p->d.ops, &cfg, &p->c, &errmsg);
	if (r) {
		sis_open_failure(&p->d, r, errmsg, false);
		sis_dev_close(&p->d);
		return -1;
	}
	sis_core_get_stats(p->c, &st);
	if (write && st.mode != SIS_MODE_WRITE) {
		sis_err("%s: the metadata opened read-only%s; nothing changed", path,
			st.needs_check ? " (needs_check is set: run 'sis check', "
			"then 'sis repair')" : "");
		sis_core_close(p->c);
		sis_dev_close(&p->d);
		return -1;
	}
	return 0;
}

/* Close; for writers the close's commit and checkpoint, then a flush. */
static int pool_close(struct pool *p, bool write)
{
	int r = 0;

	sis_core_close(p->c);
	if (write && filedev_flush(&p->d.f)) {
		sis_err("%s: flush failed", p->d.path);
		r = -1;
	}
	sis_dev_close(&p->d);
	return r;
}

/* Volume @name or @id (one of them): 0 with its info, else -1 (printed). */
static int pool_find(struct pool *p, const char *name, uint64_t id,
		     struct sis_volume_info *vi)
{
	u32 v = (u32)id;

	if (name && sis_core_volume_find(p->c, name, &v)) {
		sis_err("%s: no volume named '%s' (see 'sis ls %s')", p->d.path,
			name, p->d.path);
		return -1;
	}
	if (sis_core_volume_info(p->c, v, vi)) {
		sis_err("%s: no volume with id %u (see 'sis ls %s')", p->d.path, v,
			p->d.path);
		return -1;
	}
	return 0;
}

/*
 * The id for a new volume named @name: @want, or the lowest free one; -1
 * (printed) when the name or the id is taken or the table is full.
 */
static int pool_new_id(struct pool *p, const char *name, uint64_t want, u32 *id)
{
	struct sis_volume_info vi;
	u32 v, n;

	if (!sis_core_volume_find(p->c, name, &v)) {
		sis_err("%s: a volume named '%s' exists already (id %u)", p->d.path,
			name, v);
		return -1;
	}
	if (want != NO_ID) {
		if (!sis_core_volume_info(p->c, (u32)want, &vi)) {
			sis_err("%s: volume id %llu is taken (by '%s')", p->d.path,
				(unsigned long long)want, vi.name[0] ? vi.name : "-");
			return -1;
		}
		*id = (u32)want;
	} else {
		/* Ids come in increasing order: the first gap is the lowest. */
		*id = 0;
		for (v = UINT32_MAX; !sis_core_volume_next(p->c, &v); )
			if (v == *id)
				(*id)++;
	}
	for (v = UINT32_MAX, n = 0; !sis_core_volume_next(p->c, &v); n++)
		;
	if (n >= SIS_MAX_VOLUMES) {
		sis_err("%s: the pool has %u volumes, the most it can hold", p->d.path,
			SIS_MAX_VOLUMES);
		return -1;
	}
	return 0;
}

/* What a failed sis_core_volume_*() call means, for the user. */
static const char *vol_strerror(int r)
{
	switch (r) {
	case -EEXIST:
		return "the id is taken";
	case -ENOENT:
		return "no such volume";
	case -ENOSPC:
		return "no space (the volume table or the device is full)";
	case -ENAMETOOLONG:
		return "name too long";
	case -EINVAL:
		return "invalid id or size (too large for the block map?)";
	case -EOPNOTSUPP:
		return "the journal is too small for clones (on devices over 130 MiB: sis format --journal-blocks 1030 or more)";
	default:
		return sis_core_strerror(r);
	}
}

static void vol_error(struct pool *p, const char *what, int r)
{
	sis_err("%s: %s failed: %s", p->d.path, what, vol_strerror(r));
}

/* ---- ls ---- */

static const char ls_help[] =
"Usage: sis ls DEV [--json] [--bytes] [--no-exclusive]\n"
"\n"
"List the volumes of the dm-sis pool on DEV (a block device or an image\n"
"file, not active), one line each, like thin_ls(8):\n"
"\n"
"  ID         the volume id (the table feature 'volume <id>')\n"
"  NAME       its name ('-' if it has none)\n"
"  LOGICAL    its logical size\n"
"  MAPPED     logical blocks that map a data block\n"
"  EXCLUSIVE  data blocks only this volume references: what deleting it\n"
"             would free; '~N' when N is only a lower bound (too many\n"
"             shared blocks to track exactly)\n"
"  ORIGIN     the id of the volume it was cloned from, or '-'\n"
"\n"
"then one line for the pool: volumes, mapped blocks of all volumes, data\n"
"blocks, map pages and physical blocks used of the total.  Blocks are\n"
"4 KiB.  Nothing is written.\n"
"\n"
"Options:\n"
"  -j, --json          one JSON object (schema in docs/tools.md)\n"
"  -b, --bytes         LOGICAL in bytes instead of K/M/G\n"
"  -E, --no-exclusive  do not count exclusive blocks (each count walks the\n"
"                      volume's whole map)\n"
"  -h, --help          this text\n"
"\n"
"Exit: 0 listed, 1 DEV cannot be opened or read, 2 usage error.\n";

struct ls_row {
	struct sis_volume_info vi;
	u64 exclusive;
	int excl;		/* 0 exact, 1 lower bound, < 0 not counted */
};

int cmd_ls(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "no-exclusive", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ls_row rows[SIS_MAX_VOLUMES];
	bool json = false, bytes = false, excl = true;
	struct sis_core_stats st;
	const char *path;
	struct pool p;
	int opt, n = 0, r = SIS_EXIT_OK;
	u32 id;
	u64 used;

	if (sis_want_help(argc, argv, ls_help))
		return SIS_EXIT_OK;
	while ((opt = sis_next_opt(argc, argv, ":jbE", longs)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'b':
			bytes = true;
			break;
		case 'E':
			excl = false;
			break;
		default:
			return SIS_EXIT_USAGE;
		}
	}
	if (sis_one_device(argc, argv, &path))
		return SIS_EXIT_USAGE;
	if (pool_open(&p, path, false, false))
		return SIS_EXIT_FAIL;
	for (id = UINT32_MAX; n < SIS_MAX_VOLUMES && !sis_core_volume_next(p.c, &id); n++) {
		struct ls_row *w = &rows[n];

		w->excl = -1;
		if (sis_core_volume_info(p.c, id, &w->vi))
			break;
		if (!excl || w->vi.deleting)
			continue;
		w->excl = sis_core_count_exclusive(p.c, id, &w->exclusive);
		if (w->excl < 0) {
			sis_err("%s: counting the exclusive blocks of volume %u failed: %s",
				path, id, sis_core_strerror(w->excl));
			r = SIS_EXIT_FAIL;
			goto out;
		}
	}
	sis_core_get_stats(p.c, &st);
	used = st.physical_blocks - st.nr_free;

	if (json) {
		struct sis_json j;

		sj_begin(&j, stdout);
		sj_u64(&j, "schema_version", SIS_LS_JSON_VERSION);
		sj_str(&j, "device", path);
		sj_obj(&j, "pool");
		sj_u64(&j, "volumes", st.nr_volumes);
		sj_u64(&j, "volumes_deleting", st.nr_deleting);
		sj_u64(&j, "mapped_blocks", st.nr_mapped);
		sj_u64(&j, "data_blocks", st.nr_data);
		sj_u64(&j, "map_pages", st.nr_meta);
		sj_u64(&j, "used_blocks", used);
		sj_u64(&j, "total_blocks", st.physical_blocks);
		sj_u64(&j, "free_blocks", st.nr_free);
		sj_bool(&j, "needs_check", st.needs_check);
		sj_obj_end(&j);
		sj_arr(&j, "volumes");
		for (int i = 0; i < n; i++) {
			const struct sis_volume_info *vi = &rows[i].vi;

			sj_obj(&j, NULL);
			sj_u64(&j, "id", vi->id);
			sj_str(&j, "name", vi->name);
			sj_u64(&j, "logical_blocks", vi->logical_blocks);
			sj_u64(&j, "logical_bytes", vi->logical_blocks * BS);
			sj_u64(&j, "mapped_blocks", vi->nr_mapped);
			if (rows[i].excl >= 0) {
				sj_u64(&j, "exclusive_blocks", rows[i].exclusive);
				sj_bool(&j, "exclusive_exact", rows[i].excl == 0);
			}
			if (vi->origin != SIS_VOL_NO_ORIGIN)
				sj_u64(&j, "origin", vi->origin);
			sj_bool(&j, "deleting", vi->deleting);
			sj_u64(&j, "create_seq", vi->create_seq);
			sj_obj_end(&j);
		}
		sj_arr_end(&j);
		sj_end(&j);
		goto out;
	}
	printf("%8s  %-31s %12s %10s %10s %8s\n", "ID", "NAME", "LOGICAL", "MAPPED",
	       "EXCLUSIVE", "ORIGIN");
	for (int i = 0; i < n; i++) {
		const struct sis_volume_info *vi = &rows[i].vi;
		char lg[24], ex[24], org[16];

		if (bytes)
			snprintf(lg, sizeof(lg), "%llu",
				 (unsigned long long)vi->logical_blocks * BS);
		else
			sis_human(vi->logical_blocks * BS, lg, sizeof(lg));
		if (rows[i].excl < 0)
			snprintf(ex, sizeof(ex), "-");
		else
			snprintf(ex, sizeof(ex), "%s%llu", rows[i].excl ? "~" : "",
				 (unsigned long long)rows[i].exclusive);
		if (vi->origin == SIS_VOL_NO_ORIGIN)
			snprintf(org, sizeof(org), "-");
		else
			snprintf(org, sizeof(org), "%u", vi->origin);
		printf("%8u  %-31s %12s %10llu %10s %8s%s\n", vi->id,
		       vi->name[0] ? vi->name : "-", lg,
		       (unsigned long long)vi->nr_mapped, ex, org,
		       vi->deleting ? "  (being deleted)" : "");
	}
	printf("pool: %u volume%s, %llu mapped blocks, %llu data blocks, %llu map pages, "
	       "used %llu/%llu blocks (%.0f%%)%s\n", st.nr_volumes,
	       st.nr_volumes == 1 ? "" : "s", (unsigned long long)st.nr_mapped,
	       (unsigned long long)st.nr_data, (unsigned long long)st.nr_meta,
	       (unsigned long long)used, (unsigned long long)st.physical_blocks,
	       st.physical_blocks ? 100.0 * (double)used / (double)st.physical_blocks : 0.0,
	       st.needs_check ? ", needs_check set" : "");
out:
	sis_core_close(p.c);
	sis_dev_close(&p.d);
	return r;
}

/* ---- volume create|clone|delete|resize ---- */

static const char create_help[] =
"Usage: sis volume create DEV NAME SIZE [--id ID]\n"
"\n"
"Create an empty volume NAME of SIZE (a thin size: nothing is allocated\n"
"until written) in the pool on DEV (see --dm).  NAME is 1..31 letters,\n"
"digits or ._+-:@ and unique in the pool; the id is the lowest free one\n"
"unless --id.  SIZE has the units of sis format (s, K, M, G, T, P, E), a\n"
"multiple of 4 KiB.  Prints the new volume's id.\n"
"\n"
"Options:\n"
"  -i, --id ID          the new volume's id (0..16777215)\n"
"  -d, --dm NAME        DEV is active: send the dm message to its sis device\n"
"                       NAME instead (found by itself for a block device)\n"
"  -h, --help           this text\n"
"\n"
"Exit: 0 created, 1 refused or failed (nothing changed), 2 usage error.\n";

static const char clone_help[] =
"Usage: sis volume clone DEV ORIGIN NAME [--id ID]\n"
"       sis volume clone DEV --origin-id ID NAME [--id ID]\n"
"\n"
"Make volume NAME an instant copy of volume ORIGIN (by name, or by id with\n"
"--origin-id) in the pool on DEV (see --dm): the clone shares every map\n"
"page and data block of its origin; writes to either break the sharing\n"
"block by block.  It has the origin's size.  Prints the new volume's id.\n"
"\n"
"Options:\n"
"  -i, --id ID          the new volume's id (default: the lowest free)\n"
"  -o, --origin-id ID   the origin by id instead of by name\n"
"  -d, --dm NAME        DEV is active: send the dm message to its sis device\n"
"                       NAME instead (found by itself for a block device)\n"
"  -h, --help           this text\n"
"\n"
"Exit: 0 cloned, 1 refused or failed (nothing changed), 2 usage error.\n";

static const char delete_help[] =
"Usage: sis volume delete DEV NAME\n"
"       sis volume delete DEV --id ID\n"
"\n"
"Delete a volume of the pool on DEV (see --dm) and free every block no\n"
"other volume references (what 'sis ls' shows as EXCLUSIVE).  Prints the\n"
"blocks freed.  Interrupted, the delete is finished by the next open.\n"
"\n"
"Options:\n"
"  -i, --id ID          the volume by id instead of by name\n"
"  -d, --dm NAME        DEV is active: send the dm message to its sis device\n"
"                       NAME instead (found by itself for a block device)\n"
"  -h, --help           this text\n"
"\n"
"Exit: 0 deleted, 1 refused or failed, 2 usage error.\n";

static const char resize_help[] =
"Usage: sis volume resize DEV NAME SIZE\n"
"       sis volume resize DEV --id ID SIZE\n"
"\n"
"Grow a volume of the pool on DEV (see --dm) to SIZE; volumes never\n"
"shrink.\n"
"\n"
"Options:\n"
"  -i, --id ID          the volume by id instead of by name\n"
"  -d, --dm NAME        DEV is active: send the dm message to its sis device\n"
"                       NAME instead (found by itself for a block device)\n"
"  -h, --help           this text\n"
"\n"
"Exit: 0 resized, 1 refused or failed, 2 usage error.\n";

static const char volume_help[] =
"Usage: sis volume create DEV NAME SIZE [--id ID]\n"
"       sis volume clone DEV ORIGIN NAME [--id ID] [--origin-id ID]\n"
"       sis volume delete DEV NAME | --id ID\n"
"       sis volume resize DEV NAME | --id ID  SIZE\n"
"\n"
"Change the volumes of the dm-sis pool on DEV.  Offline (DEV not active)\n"
"the tool makes the change through the core; when DEV is a block device\n"
"held by an active sis device, or with --dm NAME, it sends that device\n"
"the dm message instead (create_volume, clone_volume, delete_volume,\n"
"set_volume_size: docs/target.md).  List them with 'sis ls DEV'\n"
"(offline).  'sis volume COMMAND --help' for each.\n"
"\n"
"Exit: 0 done, 1 refused or failed (nothing changed), 2 usage error.\n";

enum vol_op { VOL_CREATE, VOL_CLONE, VOL_DELETE, VOL_RESIZE };

static const struct {
	const char *name;
	const char *help;
	int npos;		/* positionals after DEV (by name) */
	bool has_size;
} vol_ops[] = {
	[VOL_CREATE] = { "create", create_help, 2, true },
	[VOL_CLONE] = { "clone", clone_help, 2, false },
	[VOL_DELETE] = { "delete", delete_help, 1, false },
	[VOL_RESIZE] = { "resize", resize_help, 2, true },
};

/* One volume command, as parsed. */
struct vol_req {
	enum vol_op op;
	const char *name;	/* the volume (NULL: by @id), or the new one */
	const char *origin;	/* clone: the origin (NULL: by @origin_id) */
	uint64_t id, origin_id;	/* NO_ID: not given */
	u64 blocks;		/* create, resize: the size */
	const char *dm;		/* the active device to send the message to */
};

/*
 * Everything the tool checks before a change: the volume named exists (and
 * is not being deleted), a new name and id are free, the table has room,
 * a resize does not shrink.  Fills @vi (the volume or the origin) and
 * @nid (the new id).  Returns 0, or -1 with a message printed.
 */
static int vol_plan(struct pool *p, const struct vol_req *q,
		    struct sis_volume_info *vi, u32 *nid)
{
	if (q->op != VOL_CREATE) {
		if (q->op == VOL_CLONE ? pool_find(p, q->origin, q->origin_id, vi) :
		    pool_find(p, q->name, q->id, vi))
			return -1;
		if (vi->deleting) {
			sis_err("%s: volume %u is being deleted", p->d.path, vi->id);
			return -1;
		}
	}
	if ((q->op == VOL_CREATE || q->op == VOL_CLONE) &&
	    pool_new_id(p, q->name, q->id, nid))
		return -1;
	if (q->op == VOL_RESIZE && q->blocks < vi->logical_blocks) {
		sis_err("%s: volume %u has %llu blocks; volumes cannot shrink",
			p->d.path, vi->id, (unsigned long long)vi->logical_blocks);
		return -1;
	}
	return 0;
}

/* ---- The online path: a message to the active pool ---- */

/*
 * Is the device-mapper device @dm a sis table over @path?  (When @path is
 * a block device its table names it as major:minor.)  With @quiet no
 * message is printed.
 */
static bool dm_is_pool(const char *dm, const char *path, bool quiet)
{
	char *av[] = { (char *)sis_dmsetup_bin(), (char *)"table", (char *)dm, NULL };
	char out[4096], *w[4], *save = NULL, *t, mm[32];
	struct stat st;
	int n = 0;

	if (sis_run(av, out, sizeof(out))) {
		if (!quiet)
			sis_err("'%s table %s' failed", sis_dmsetup_bin(), dm);
		return false;
	}
	for (t = strtok_r(out, " \t\n", &save); t && n < 4; t = strtok_r(NULL, " \t\n", &save))
		w[n++] = t;
	if (n < 4 || strcmp(w[2], SIS_TARGET_NAME)) {
		if (!quiet)
			sis_err("%s is not a %s device", dm, SIS_TARGET_NAME);
		return false;
	}
	if (!stat(path, &st) && S_ISBLK(st.st_mode)) {
		snprintf(mm, sizeof(mm), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
		if (strcmp(w[3], mm) && strcmp(w[3], path)) {
			if (!quiet)
				sis_err("%s serves the pool on %s, not %s (%s)", dm, w[3],
					path, mm);
			return false;
		}
	}
	return true;
}

/*
 * A sis device that holds the block device @path (sysfs holders), in @dm:
 * true when one is found.
 */
static bool find_active(const char *path, char *dm, size_t len)
{
	char dir[96], f[400];
	struct dirent *e;
	struct stat st;
	bool found = false;
	DIR *d;

	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return false;
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/holders",
		 major(st.st_rdev), minor(st.st_rdev));
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		FILE *nf;

		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "/sys/block/%s/dm/name", e->d_name);
		nf = fopen(f, "re");
		if (!nf)
			continue;
		if (fgets(dm, (int)len, nf)) {
			dm[strcspn(dm, "\n")] = '\0';
			found = dm[0] && dm_is_pool(dm, path, true);
		}
		fclose(nf);
	}
	closedir(d);
	return found;
}

/*
 * The change as a message to @q->dm: the names are resolved and checked
 * on the committed volume table read from @path (every volume message
 * commits before it returns, so it is current), the target checks again.
 */
static int vol_online(const struct vol_req *q, const char *path)
{
	char a[3][24], *av[9];
	struct sis_volume_info vi;
	struct pool p;
	int r, n = 0;
	u32 nid = 0;

	if (!dm_is_pool(q->dm, path, false))
		return SIS_EXIT_FAIL;
	if (pool_open(&p, path, false, true))
		return SIS_EXIT_FAIL;
	r = vol_plan(&p, q, &vi, &nid);
	pool_close(&p, false);
	if (r)
		return SIS_EXIT_FAIL;
	av[n++] = (char *)sis_dmsetup_bin();
	av[n++] = (char *)"message";
	av[n++] = (char *)q->dm;
	av[n++] = (char *)"0";
	switch (q->op) {
	case VOL_CREATE:
		av[n++] = (char *)SIS_MSG_CREATE_VOLUME;
		snprintf(a[0], sizeof(a[0]), "%u", nid);
		snprintf(a[1], sizeof(a[1]), "%llu", (unsigned long long)q->blocks);
		av[n++] = a[0];
		av[n++] = a[1];
		av[n++] = (char *)q->name;
		break;
	case VOL_CLONE:
		av[n++] = (char *)SIS_MSG_CLONE_VOLUME;
		snprintf(a[0], sizeof(a[0]), "%u", nid);
		snprintf(a[1], sizeof(a[1]), "%u", vi.id);
		av[n++] = a[0];
		av[n++] = a[1];
		av[n++] = (char *)q->name;
		break;
	case VOL_DELETE:
		av[n++] = (char *)SIS_MSG_DELETE_VOLUME;
		snprintf(a[0], sizeof(a[0]), "%u", vi.id);
		av[n++] = a[0];
		break;
	case VOL_RESIZE:
		av[n++] = (char *)SIS_MSG_SET_VOLUME_SIZE;
		snprintf(a[0], sizeof(a[0]), "%u", vi.id);
		snprintf(a[1], sizeof(a[1]), "%llu", (unsigned long long)q->blocks);
		av[n++] = a[0];
		av[n++] = a[1];
		break;
	}
	av[n] = NULL;
	r = sis_run(av, NULL, 0);
	if (r) {
		sis_err("'%s message %s 0 %s ...' failed%s (the kernel log says why)",
			sis_dmsetup_bin(), q->dm, av[4],
			r < 0 ? " (cannot run dmsetup)" : "");
		return SIS_EXIT_FAIL;
	}
	printf("%s: sent '%s", q->dm, av[4]);
	for (int i = 5; i < n; i++)
		printf(" %s", av[i]);
	printf("'\n");
	return SIS_EXIT_OK;
}

static int vol_cmd(enum vol_op op, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "origin-id", required_argument, NULL, 'o' },
		{ "dm", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct vol_req q = { .op = op, .id = NO_ID, .origin_id = NO_ID };
	const char *path, *size_arg = NULL;
	struct sis_volume_info vi, after;
	struct sis_core_stats st0, st1;
	char what[64], dmname[DM_NAME_MAX + 2];
	struct pool p;
	int opt, npos, r;
	u32 nid;

	if (sis_want_help(argc, argv, vol_ops[op].help))
		return SIS_EXIT_OK;
	while ((opt = sis_next_opt(argc, argv, ":i:o:d:", longs)) != -1) {
		switch (opt) {
		case 'd':
			if (q.dm)
				return sis_usage_error("--dm given twice");
			if (!*optarg || strlen(optarg) > DM_NAME_MAX || strchr(optarg, '/'))
				return sis_usage_error("--dm '%s' is not a device-mapper name",
						       optarg);
			q.dm = optarg;
			break;
		case 'i':
			if (parse_id("--id", optarg, &q.id))
				return SIS_EXIT_USAGE;
			break;
		case 'o':
			if (op != VOL_CLONE)
				return sis_usage_error("--origin-id is for clone only");
			if (parse_id("--origin-id", optarg, &q.origin_id))
				return SIS_EXIT_USAGE;
			break;
		default:
			return SIS_EXIT_USAGE;
		}
	}
	/* Positionals: DEV, then the names (one fewer when an id replaces one). */
	npos = vol_ops[op].npos + 1;
	if ((op == VOL_DELETE || op == VOL_RESIZE) && q.id != NO_ID)
		npos--;
	if (op == VOL_CLONE && q.origin_id != NO_ID)
		npos--;
	if (optind >= argc)
		return sis_usage_error("missing DEV (a block device or an image file)");
	if (argc - optind < npos)
		return sis_usage_error("missing arguments: see 'sis volume %s --help'",
				       vol_ops[op].name);
	if (argc - optind > npos)
		return sis_usage_error("unexpected argument '%s'", argv[optind + npos]);
	path = argv[optind++];
	switch (op) {
	case VOL_CREATE:
		q.name = argv[optind++];
		size_arg = argv[optind++];
		break;
	case VOL_CLONE:
		if (q.origin_id == NO_ID)
			q.origin = argv[optind++];
		q.name = argv[optind++];
		break;
	case VOL_DELETE:
	case VOL_RESIZE:
		if (q.id == NO_ID)
			q.name = argv[optind++];
		if (op == VOL_RESIZE)
			size_arg = argv[optind++];
		break;
	}
	if (q.name && check_name("NAME", q.name))
		return SIS_EXIT_USAGE;
	if (q.origin && check_name("ORIGIN", q.origin))
		return SIS_EXIT_USAGE;
	if (size_arg && parse_vol_size(size_arg, &q.blocks))
		return SIS_EXIT_USAGE;

	/*
	 * Everything the tool can refuse is found on a read-only open, so a
	 * refusal writes nothing (a writable open checkpoints at close);
	 * then the same look-ups again on the writable open, and the change.
	 */
	if (!q.dm && find_active(path, dmname, sizeof(dmname))) {
		q.dm = dmname;
		printf("%s is in use by the active %s device %s: sending it a message\n",
		       path, SIS_TARGET_NAME, dmname);
	}
	if (q.dm)
		return vol_online(&q, path);
	if (pool_open(&p, path, false, false))
		return SIS_EXIT_FAIL;
	r = vol_plan(&p, &q, &vi, &nid);
	pool_close(&p, false);
	if (r)
		return SIS_EXIT_FAIL;
	if (pool_open(&p, path, true, false))
		return SIS_EXIT_FAIL;
	sis_core_get_stats(p.c, &st0);
	r = vol_plan(&p, &q, &vi, &nid);
	switch (r ? -1 : (int)op) {
	case VOL_CREATE:
		r = sis_core_volume_create(p.c, nid, q.blocks, q.name);
		if (r) {
			vol_error(&p, "create", r);
			break;
		}
		printf("%s: created volume %u '%s', %llu blocks\n", path, nid, q.name,
		       (unsigned long long)q.blocks);
		break;
	case VOL_CLONE:
		r = sis_core_volume_clone(p.c, nid, vi.id, q.name);
		if (r) {
			vol_error(&p, "clone", r);
			break;
		}
		printf("%s: cloned volume %u '%s' from volume %u%s%s%s, %llu mapped "
		       "blocks shared\n", path, nid, q.name, vi.id,
		       vi.name[0] ? " '" : "", vi.name, vi.name[0] ? "'" : "",
		       (unsigned long long)vi.nr_mapped);
		break;
	case VOL_DELETE:
		r = sis_core_volume_delete(p.c, vi.id);
		if (r) {
			snprintf(what, sizeof(what), "delete of volume %u", vi.id);
			vol_error(&p, what, r);
			break;
		}
		sis_core_get_stats(p.c, &st1);
		printf("%s: deleted volume %u%s%s%s: %llu data blocks and %llu map pages freed\n",
		       path, vi.id, vi.name[0] ? " '" : "", vi.name, vi.name[0] ? "'" : "",
		       (unsigned long long)(st0.nr_data - st1.nr_data),
		       (unsigned long long)(st0.nr_meta - st1.nr_meta));
		break;
	case VOL_RESIZE:
		r = sis_core_volume_resize(p.c, vi.id, q.blocks);
		if (!r)
			r = sis_core_commit(p.c);
		if (r) {
			vol_error(&p, "resize", r);
			break;
		}
		sis_core_volume_info(p.c, vi.id, &after);
		printf("%s: volume %u: %llu blocks (was %llu)\n", path, vi.id,
		       (unsigned long long)after.logical_blocks,
		       (unsigned long long)vi.logical_blocks);
		break;
	}
	if (pool_close(&p, true))
		r = -1;
	return r ? SIS_EXIT_FAIL : SIS_EXIT_OK;
}

int cmd_volume(int argc, char **argv)
{
	static char cmd[32];

	if (argc < 2) {
		fputs(volume_help, stderr);
		return SIS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(volume_help, stdout);
		return SIS_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(vol_ops) / sizeof(vol_ops[0]); i++) {
		if (strcmp(argv[1], vol_ops[i].name))
			continue;
		snprintf(cmd, sizeof(cmd), "volume %s", vol_ops[i].name);
		sis_cmd = cmd;
		return vol_cmd((enum vol_op)i, argc - 1, argv + 1);
	}
	return sis_usage_error("unknown volume command '%s' (create, clone, delete, resize)",
			       argv[1]);
}
