// SPDX-License-Identifier: GPL-2.0
/*
 * sis-core.c - the dedup engine's public entry points: open, format,
 * recovery, the write/read/discard operations, modes and statistics.
 *
 * Every entry point takes c->lock, trims the metadata cache while it holds
 * no page pointer (__sis_op_begin), does its work through the block map,
 * space map and index, and finishes with __sis_op_end(), which is where an
 * aborted transaction is rolled back: a metadata error anywhere sets
 * needs_check on disk, drops the core to read-only mode, and at op end the
 * cache is emptied and the last committed state reloaded from the
 * superblock and journal.  Nothing half-done is ever committed, because
 * commits only happen at op boundaries and only in write mode.  Once a
 * transaction was aborted, every later commit fails (c->aborted), so a
 * flush never reports success for writes the abort dropped.
 *
 * Out of memory is not a metadata error: an operation that fails with
 * -ENOMEM changes nothing (or, for a range, stops between blocks), and a
 * commit that fails with -ENOMEM leaves its transaction open and intact.
 * The rollback itself needs no new memory (see __sis_mc_recycle_all()).
 *
 * Mode transitions: write -> read-only (metadata error, user request),
 * read-only -> fail (the committed state itself cannot be read back).
 * No transition goes back; reactivating the device after `sis check`
 * (and repair) is the way out, as with dm-thin.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/crc32c.h>
#include <linux/sched.h>
#include <linux/wait_bit.h>
#include "core-internal.h"

__printf(3, 4) void sis_log(struct sis_core *c, int level, const char *fmt, ...)
{
	char msg[160];
	va_list args;

	if (!c->ops.log)
		return;
	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	c->ops.log(c->ops.ctx, level, msg);
}

/*
 * The fingerprint (format version 4, docs/format.md): four lanes, each
 * folding two little-endian words per step with one 64x64->128-bit
 * multiply whose halves are XORed; 64 steps per lane, then the lanes are
 * folded together.  One multiply per 16 bytes where xxh64 needs two per 8
 * bytes: the hash costs less than half as much, natively and under an
 * emulator.  It is advice only (data is compared before a block is
 * shared): a crafted word equal to its lane key zeroes a step and makes
 * collisions, which cost dedup, never data.
 */
static const u64 sis_fp_key[5] = {
	0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL, 0x165667b19e3779f9ULL,
	0xd6e8feb86659fd93ULL, 0x27d4eb2f165667c5ULL,
};

/* The low and the high half of @a * @b, XORed. */
static inline u64 fp_fold(u64 a, u64 b)
{
#ifdef __SIZEOF_INT128__
	__uint128_t p = (__uint128_t)a * b;

	return (u64)p ^ (u64)(p >> 64);
#else
	u64 al = lower_32_bits(a), ah = upper_32_bits(a);
	u64 bl = lower_32_bits(b), bh = upper_32_bits(b);
	u64 ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	u64 mid = (ll >> 32) + lower_32_bits(lh) + lower_32_bits(hl);

	return (lower_32_bits(ll) | (mid << 32)) ^
	       (hh + (lh >> 32) + (hl >> 32) + (mid >> 32));
#endif
}

u64 sis_fingerprint(const void *data)
{
	const __le64 *w = data;
	const u64 *k = sis_fp_key;
	u64 s0 = k[0], s1 = k[1], s2 = k[2], s3 = k[3], h;
	unsigned int i;

	for (i = 0; i < SIS_BLOCK_SIZE / 8; i += 8) {
		s0 = fp_fold(le64_to_cpu(w[i]) ^ s0, le64_to_cpu(w[i + 1]) ^ k[1]);
		s1 = fp_fold(le64_to_cpu(w[i + 2]) ^ s1, le64_to_cpu(w[i + 3]) ^ k[2]);
		s2 = fp_fold(le64_to_cpu(w[i + 4]) ^ s2, le64_to_cpu(w[i + 5]) ^ k[3]);
		s3 = fp_fold(le64_to_cpu(w[i + 6]) ^ s3, le64_to_cpu(w[i + 7]) ^ k[4]);
	}
	h = fp_fold(s0 ^ k[4], s1 ^ k[0]) ^ fp_fold(s2 ^ k[1], s3 ^ k[2]);
	return fp_fold(h ^ k[3], h ^ k[4] ^ k[0]);
}

/*
 * The block scans below test eight words at a time with one branch: a
 * loop that branches on every word (as memcmp() does) costs several times
 * as much under an emulator that ends its translated blocks at branches,
 * and no less on hardware.
 */
#define SIS_SCAN_WORDS	8

bool sis_block_is_zero(const void *data)
{
	const u64 *w = data;
	unsigned int i, k;
	u64 acc;

	for (i = 0; i < SIS_BLOCK_SIZE / sizeof(*w); i += SIS_SCAN_WORDS) {
		acc = 0;
		for (k = 0; k < SIS_SCAN_WORDS; k++)
			acc |= w[i + k];
		if (acc)
			return false;
	}
	return true;
}

bool sis_block_equal(const void *a, const void *b)
{
	const u64 *x = a, *y = b;
	unsigned int i, k;
	u64 acc;

	for (i = 0; i < SIS_BLOCK_SIZE / sizeof(*x); i += SIS_SCAN_WORDS) {
		acc = 0;
		for (k = 0; k < SIS_SCAN_WORDS; k++)
			acc |= x[i + k] ^ y[i + k];
		if (acc)
			return false;
	}
	return true;
}

/**
 * __sis_metadata_error() - a metadata operation failed: abort to read-only
 * @err:  the error, returned unchanged
 * @what: what failed, for the log
 *
 * The rollback itself happens at the end of the current operation.
 */
int __sis_metadata_error(struct sis_core *c, int err, const char *what)
{
	if (err == -ENOMEM || err == -ENOSPC)
		return err;
	if (c->mode == SIS_MODE_WRITE)
		sis_log(c, 3, "metadata error %d (%s): aborted, read-only; run sis check",
			err, what);
	__sis_abort(c, true);
	return err;
}

/**
 * __sis_abort() - drop the open transaction and leave write mode
 * @needs_check: record needs_check on disk (a metadata error); false when
 *               the metadata is sound and only the open transaction is lost
 *
 * No-op unless in write mode.  The rollback happens at the end of the
 * current operation; from now on every commit fails.
 */
void __sis_abort(struct sis_core *c, bool needs_check)
{
	if (c->mode != SIS_MODE_WRITE)
		return;
	c->mode = SIS_MODE_READ_ONLY;
	c->abort_pending = true;
	c->abort_check = needs_check;
	c->aborted = true;
}

int __sis_check_writable(struct sis_core *c)
{
	return c->mode == SIS_MODE_WRITE ? 0 : -EROFS;
}

void __sis_layout_from_sb(struct sis_core *c)
{
	c->csum_seed = le32_to_cpu(c->sb.csum_seed);
	c->journal_start = le64_to_cpu(c->sb.journal_start);
	c->journal_blocks = le64_to_cpu(c->sb.journal_blocks);
	c->data_start = le64_to_cpu(c->sb.data_start);
	sis_journal_setup(c);
}

void __sis_derive_sizes(struct sis_core *c)
{
	u64 span = le64_to_cpu(c->root.physical_blocks) - c->data_start;

	c->nr_groups = DIV_ROUND_UP_ULL(span, SIS_GROUP_BLOCKS);
	c->data_blocks = span - c->nr_groups;
}

/*
 * Roll back to the committed state after an abort.  Runs in the I/O path
 * (a bio worker in the kernel) holding c->lock: it allocates nothing; the
 * journal replay reuses the pages dropped here and c->jbuf.
 */
static void __sis_reload(struct sis_core *c)
{
	int r;

	c->abort_pending = false;
	if (c->abort_check) {
		c->needs_check = true;
		if (__sis_sb_write(c, le32_to_cpu(c->sb.flags) | SIS_SB_NEEDS_CHECK))
			sis_log(c, 3, "could not record needs_check in the superblock");
	}
	/* blocks mapped in the aborted transaction become free: no reader left */
	__sis_readers_drain(c);
	__sis_mc_recycle_all(c);
	c->root = c->sb.root;
	c->root_dirty = false;
	c->nr_pending_free = 0;
	c->nr_meta_wait = 0;
	c->frozen = false;	/* a transaction frozen by a failed commit */
	c->c_frees = false;
	__sis_summary_forget(c);	/* blocks of the transaction are free */
	__sis_derive_sizes(c);
	r = __sis_journal_recover(c, false, false);
	__sis_mc_free_spare(c);
	if (r) {
		sis_log(c, 3, "committed metadata unreadable (%d): failing all I/O", r);
		c->mode = SIS_MODE_FAIL;
		return;
	}
	__sis_derive_sizes(c);
}

void __sis_op_begin(struct sis_core *c)
{
	__sis_mc_shrink(c);
}

/*
 * The rollback of an abort waits while a commit is busy without c->lock:
 * that commit's pages and buffers must stay valid; it runs the rollback
 * itself when it ends (sis_commit_run()).
 */
void __sis_op_end(struct sis_core *c)
{
	if (c->abort_pending && !c->commit_busy)
		__sis_reload(c);
}

/* ---- Format and open ---- */

static int sb_read_valid(struct sis_core *c, u64 copy, struct sis_disk_superblock *sb,
			 bool *zero, bool *ours)
{
	int r = c->ops.read(c->ops.ctx, copy, sb);

	if (r)
		return r;
	*zero = sis_block_is_zero(sb);
	*ours = le64_to_cpu(sb->magic) == SIS_MAGIC;
	if (!*ours || sis_block_verify(c, sb, SIS_BT_SUPERBLOCK, copy))
		return -EILSEQ;
	return 0;
}

static int vol_args_ok(u32 id, const char *name)
{
	if (id > SIS_VOL_ID_MAX)
		return -EINVAL;
	if (name && strnlen(name, SIS_VOL_NAME_LEN) >= SIS_VOL_NAME_LEN)
		return -ENAMETOOLONG;
	return 0;
}

/* Name volume slot @v @name (NULL: no name); vol_args_ok() checked it. */
static void vol_set_name(struct sis_disk_volume *v, const char *name)
{
	memset(v->name, 0, sizeof(v->name));
	if (name)	/* the NUL stays */
		memcpy(v->name, name, strnlen(name, SIS_VOL_NAME_LEN - 1));
}

static int format(struct sis_core *c, const struct sis_core_config *cfg,
		  const char **errmsg)
{
	struct sis_disk_superblock *sb = &c->sb;
	u64 p = cfg->physical_blocks, j, logical;
	u32 depth = 1;
	int r;

	j = cfg->journal_blocks ? cfg->journal_blocks : clamp_t(u64, p / 256,
		SIS_MIN_JOURNAL_BLOCKS, SIS_MAX_JOURNAL_BLOCKS);
	if (j < SIS_MIN_JOURNAL_BLOCKS || j > SIS_MAX_JOURNAL_BLOCKS) {
		*errmsg = "journal size out of range";
		return -EINVAL;
	}
	if (p < 2 + j + 2 * SIS_GROUP_BLOCKS) {
		*errmsg = "device too small";
		return -ENOSPC;
	}

	memset(sb, 0, sizeof(*sb));
	sb->magic = cpu_to_le64(SIS_MAGIC);
	sb->version = cpu_to_le32(SIS_VERSION);
	sb->block_size = cpu_to_le32(SIS_BLOCK_SIZE);
	memcpy(sb->uuid, cfg->uuid, sizeof(sb->uuid));
	sb->csum_seed = cpu_to_le32(crc32c(~0U, sb->uuid, sizeof(sb->uuid)));
	sb->journal_start = cpu_to_le64(2);
	sb->journal_blocks = cpu_to_le64(j);
	sb->data_start = cpu_to_le64(2 + j);
	sb->tail_seq = cpu_to_le64(1);
	sb->format_time = cpu_to_le64(cfg->now);
	__sis_layout_from_sb(c);

	sb->root.physical_blocks = cpu_to_le64(p);
	c->root = sb->root;
	__sis_derive_sizes(c);
	logical = cfg->logical_blocks ? cfg->logical_blocks : c->data_blocks;
	while (sis_map_capacity(depth) < logical)
		if (++depth > SIS_MAP_MAX_DEPTH) {
			*errmsg = "logical size too large";
			return -EINVAL;
		}
	sb->root.nr_volumes = cpu_to_le32(1);
	sb->root.vol[0].flags = cpu_to_le32(SIS_VOL_USED);
	sb->root.vol[0].logical_blocks = cpu_to_le64(logical);
	sb->root.vol[0].map_depth = cpu_to_le32(depth);
	sb->root.vol[0].origin = cpu_to_le32(SIS_VOL_NO_ORIGIN);
	sb->root.vol[0].create_seq = cpu_to_le64(1);
	r = vol_args_ok(0, cfg->name);
	if (r) {
		*errmsg = "volume name too long";
		return r;
	}
	vol_set_name(&sb->root.vol[0], cfg->name);
	sb->root.alloc_cursor = cpu_to_le64(c->data_start + 1);
	c->root = sb->root;
	c->committed_root = c->root;
	c->seq = 1;
	r = sis_journal_alloc(c);
	if (r) {
		*errmsg = "out of memory";
		return r;
	}

	/* Both superblock copies (there is no index region to clear). */
	r = __sis_sb_write(c, 0);
	if (!r)
		r = __sis_sb_write(c, 0);
	if (r)
		*errmsg = "I/O error while formatting";
	else
		sis_log(c, 6, "formatted: %llu data blocks, %llu logical blocks",
			(unsigned long long)c->data_blocks,
			(unsigned long long)logical);
	return r;
}

/* Is the superblock's layout (and root) self-consistent? */
static const char *sb_layout_error(struct sis_core *c)
{
	const struct sis_disk_superblock *sb = &c->sb;
	u64 p = le64_to_cpu(c->root.physical_blocks);

	if (le32_to_cpu(sb->block_size) != SIS_BLOCK_SIZE)
		return "block size mismatch: dm-sis metadata with a block size other than 4096";
	if (c->journal_start != 2 || c->journal_blocks < SIS_MIN_JOURNAL_BLOCKS ||
	    c->journal_blocks > SIS_MAX_JOURNAL_BLOCKS ||
	    sb->reserved1[0] || sb->reserved1[1] ||
	    c->data_start != c->journal_start + c->journal_blocks ||
	    p < c->data_start + 2 * SIS_GROUP_BLOCKS ||
	    le64_to_cpu(sb->tail_block) >= c->journal_blocks)
		return "superblock layout is inconsistent";
	return NULL;
}

/* Is volume slot @v of the root self-consistent (and unique in it)? */
static bool volume_ok(struct sis_core *c, const struct sis_disk_volume *v)
{
	u32 depth = le32_to_cpu(v->map_depth);
	u32 flags = le32_to_cpu(v->flags);
	u64 logical = le64_to_cpu(v->logical_blocks);
	const struct sis_disk_volume *w;

	if (!flags)
		return !memchr_inv(v, 0, sizeof(*v));
	if ((flags & ~(SIS_VOL_USED | SIS_VOL_DELETING)) || !(flags & SIS_VOL_USED) ||
	    le32_to_cpu(v->id) > SIS_VOL_ID_MAX ||
	    !depth || depth > SIS_MAP_MAX_DEPTH || !logical ||
	    sis_map_capacity(depth) < logical ||
	    le64_to_cpu(v->nr_mapped) > logical ||
	    (v->map_root && !sis_is_data_block(c, le64_to_cpu(v->map_root))) ||
	    v->name[SIS_VOL_NAME_LEN - 1])
		return false;
	for (w = c->root.vol; w < v; w++)
		if (w->flags && w->id == v->id)
			return false;
	return true;
}

static const char *root_error(struct sis_core *c)
{
	u64 groups_used = le64_to_cpu(c->root.groups_used);
	u32 i, used = 0;

	__sis_derive_sizes(c);
	if (groups_used > c->nr_groups ||
	    le64_to_cpu(c->root.nr_data) + le64_to_cpu(c->root.nr_meta) > c->data_blocks)
		return "committed root is inconsistent";
	for (i = 0; i < SIS_MAX_VOLUMES; i++) {
		if (!volume_ok(c, &c->root.vol[i]))
			return "committed root has an inconsistent volume";
		used += !!c->root.vol[i].flags;
	}
	if (used != le32_to_cpu(c->root.nr_volumes))
		return "committed root has an inconsistent volume count";
	return NULL;
}

/**
 * sis_version_error() - why a superblock of on-disk format @version is
 * refused (a static message naming both versions), or NULL if supported
 */
const char *sis_version_error(u32 version)
{
	if (version == SIS_VERSION)
		return NULL;
	if (version == 1)
		return "dm-sis on-disk format version 1 is not supported by this version (4)";
	if (version == 2)
		return "dm-sis on-disk format version 2 is not supported by this version (4)";
	if (version == 3)
		return "dm-sis on-disk format version 3 is not supported by this version (4)";
	if (version == 0)
		return "dm-sis on-disk format version 0 is not valid (this version: 4)";
	return "dm-sis on-disk format is newer than this version (4): use a newer dm-sis";
}

static int open_existing(struct sis_core *c, const struct sis_core_config *cfg,
			 const char **errmsg)
{
	struct sis_disk_superblock *sb1;
	bool z0, z1, ours0, ours1;
	const char *what;
	int r0, r1, r;

	sb1 = kmalloc(sizeof(*sb1), GFP_KERNEL);
	if (!sb1)
		return -ENOMEM;
	r0 = sb_read_valid(c, 0, &c->sb, &z0, &ours0);
	r1 = sb_read_valid(c, 1, sb1, &z1, &ours1);
	if (r1 == 0 && (r0 || le64_to_cpu(sb1->sb_seq) > le64_to_cpu(c->sb.sb_seq)))
		memcpy(&c->sb, sb1, sizeof(*sb1));
	kfree(sb1);

	if ((cfg->flags & SIS_OPEN_FORCE_FORMAT) ||
	    (r0 == -EILSEQ && r1 == -EILSEQ && z0 && z1 &&
	     (cfg->flags & SIS_OPEN_FORMAT))) {
		if (cfg->flags & SIS_OPEN_READ_ONLY) {
			*errmsg = "device is not formatted for dm-sis (read-only: not formatting)";
			return -EINVAL;
		}
		if (!(cfg->flags & SIS_OPEN_FORCE_FORMAT)) {
			/* blank superblocks: is the rest of it blank too? */
			r = sis_foreign_signature(&c->ops, cfg->physical_blocks,
						  &what, errmsg);
			if (r) {
				*errmsg = "I/O error looking for signatures";
				return r;
			}
			if (what)
				return -EBUSY;
		}
		return format(c, cfg, errmsg);
	}
	if (r0 && r1) {
		if (r0 != -EILSEQ || r1 != -EILSEQ) {
			*errmsg = "I/O error reading the superblock";
			return r0 != -EILSEQ ? r0 : r1;
		}
		if (z0 && z1) {
			*errmsg = "device is not formatted for dm-sis";
			return -EINVAL;
		}
		if (ours0 || ours1) {
			*errmsg = "dm-sis superblock checksum mismatch (both copies)";
			return -EILSEQ;
		}
		/* name what it holds when we can */
		if (sis_foreign_signature(&c->ops, cfg->physical_blocks, &what,
					  errmsg) || !what)
			*errmsg = "device holds foreign data: no dm-sis superblock";
		return -EINVAL;
	}
	if (le32_to_cpu(c->sb.version) != SIS_VERSION) {
		*errmsg = sis_version_error(le32_to_cpu(c->sb.version));
		sis_log(c, 3, "%s", *errmsg);
		return -EOPNOTSUPP;
	}
	if (le64_to_cpu(c->sb.incompat_features) & ~SIS_FEATURE_INCOMPAT_SUPP) {
		*errmsg = "dm-sis metadata uses unsupported incompatible features";
		return -EOPNOTSUPP;
	}
	if (!(cfg->flags & SIS_OPEN_READ_ONLY) &&
	    (le64_to_cpu(c->sb.ro_compat_features) & ~SIS_FEATURE_RO_COMPAT_SUPP)) {
		*errmsg = "dm-sis metadata has features that allow read-only use only";
		return -EOPNOTSUPP;
	}
	__sis_layout_from_sb(c);
	c->root = c->sb.root;
	*errmsg = sb_layout_error(c);
	if (*errmsg)
		return -EILSEQ;
	*errmsg = root_error(c);
	if (*errmsg)
		return -EILSEQ;
	if (sis_journal_alloc(c)) {
		*errmsg = "out of memory";
		return -ENOMEM;
	}
	if (cfg->physical_blocks < le64_to_cpu(c->root.physical_blocks)) {
		*errmsg = "device is smaller than the dm-sis metadata says";
		return -ENOSPC;
	}

	r = __sis_journal_recover(c, !(cfg->flags & SIS_OPEN_READ_ONLY),
				  cfg->flags & SIS_OPEN_IGNORE_CHECK);
	if (r) {
		*errmsg = r == -ENOMEM ? "out of memory" : r == -EILSEQ ?
			"dm-sis metadata journal is damaged: run sis check" :
			"error replaying the dm-sis metadata journal";
		return r;
	}
	*errmsg = root_error(c);
	if (*errmsg)
		return -EILSEQ;
	c->needs_check |= !!(le32_to_cpu(c->sb.flags) & SIS_SB_NEEDS_CHECK);
	return 0;
}

static int __vols_finish_deletes(struct sis_core *c);

int sis_core_open(const struct sis_io_ops *ops, const struct sis_core_config *cfg,
		  struct sis_core **out, const char **errmsg)
{
	bool ro = cfg->flags & SIS_OPEN_READ_ONLY;
	struct sis_disk_volume *vol0;
	struct sis_core *c;
	u64 logical, groups;
	u64 *map;
	int r;

	sis_format_size_asserts();
	*errmsg = NULL;
	c = kvzalloc(sizeof(*c), GFP_KERNEL);
	if (!c) {
		*errmsg = "out of memory";
		return -ENOMEM;
	}
	mutex_init(&c->commit_mutex);
	mutex_init(&c->lock);
	for (c->nr_op_spares = 0; c->nr_op_spares < SIS_OP_SPARES; c->nr_op_spares++)
		c->op_spares[c->nr_op_spares] = c->op_spare_pins[c->nr_op_spares];
	c->ops = *ops;
	c->discard_passdown = true;
	sis_mc_init(c, cfg->cache_pages ? cfg->cache_pages : SIS_DEFAULT_CACHE_PAGES);
	mutex_lock(&c->lock);

	r = open_existing(c, cfg, errmsg);
	if (r)
		goto bad;
	/* the free-space summary; c is not published yet: GFP_KERNEL is fine */
	map = sis_summary_alloc(c, le64_to_cpu(c->root.physical_blocks), &groups);
	if (!map) {
		*errmsg = "out of memory";
		r = -ENOMEM;
		goto bad;
	}
	__sis_summary_install(c, &map, groups);
	kvfree(map);
	/* the fingerprint index: RAM only, built from the used rc pages */
	r = sis_index_alloc(c, le64_to_cpu(c->root.physical_blocks));
	if (r) {
		*errmsg = "out of memory for the fingerprint index";
		goto bad;
	}
	r = sis_pins_reserve(c);
	if (r) {
		*errmsg = "out of memory";
		goto bad;
	}
	r = __sis_index_build(c);
	if (r == -ENOMEM) {
		*errmsg = "out of memory for the fingerprint index";
		goto bad;
	}
	if (r)	/* advice only: dedup of old data is lost, nothing else */
		sis_log(c, 4, "fingerprint index incomplete (%d): refcount pages unreadable", r);
	c->mode = ro || (c->needs_check && !(cfg->flags & SIS_OPEN_IGNORE_CHECK)) ?
		SIS_MODE_READ_ONLY : SIS_MODE_WRITE;
	if (c->needs_check)
		sis_log(c, 4, "needs_check is set: %s", c->mode == SIS_MODE_WRITE ?
			"opening for repair" : "opening read-only; run sis check");

	vol0 = __sis_vol_find(c, 0);
	logical = vol0 ? le64_to_cpu(vol0->logical_blocks) : 0;
	if (vol0 && cfg->logical_blocks && cfg->logical_blocks < logical) {
		*errmsg = "logical size smaller than formatted: shrinking is not supported";
		r = -EINVAL;
		goto bad;
	}
	if (c->mode == SIS_MODE_WRITE) {
		r = __sis_sb_write(c, le32_to_cpu(c->sb.flags) & ~SIS_SB_CLEAN);
		if (!r && cfg->physical_blocks > le64_to_cpu(c->root.physical_blocks)) {
			mutex_unlock(&c->lock);
			r = sis_core_resize(c, cfg->physical_blocks);
			mutex_lock(&c->lock);
		}
		if (!r && vol0 && cfg->logical_blocks > logical) {
			mutex_unlock(&c->lock);
			r = sis_core_volume_resize(c, 0, cfg->logical_blocks);
			mutex_lock(&c->lock);
		}
		/* deletes a crash interrupted (not published yet: no race) */
		if (!r)
			r = __vols_finish_deletes(c);
		if (!r && (c->mc_nr_dirty || c->root_dirty))
			r = __sis_commit(c);	/* not published yet */
		if (r) {
			*errmsg = "error updating the dm-sis superblock";
			goto bad;
		}
	} else if (vol0 && cfg->logical_blocks > logical) {
		*errmsg = "cannot grow a read-only device";
		r = -EROFS;
		goto bad;
	}
	mutex_unlock(&c->lock);
	*out = c;
	return 0;

bad:
	__sis_pins_free(c);
	__sis_mc_drop_all(c);
	mutex_unlock(&c->lock);
	sis_summary_free(c);
	sis_index_free(c);
	sis_journal_free(c);
	kvfree(c);
	return r;
}

void sis_core_close(struct sis_core *c)
{
	int r;

	if (!c)
		return;
	mutex_lock(&c->commit_mutex);
	mutex_lock(&c->lock);
	c->commit_held = true;
	if (c->mode == SIS_MODE_WRITE) {
		r = __sis_commit(c);
		if (!r)
			r = __sis_journal_checkpoint(c);
		if (!r)
			r = __sis_sb_write(c, le32_to_cpu(c->sb.flags) | SIS_SB_CLEAN);
		if (r)
			sis_log(c, 3, "error %d on the final commit", r);
	}
	__sis_pins_free(c);
	__sis_mc_drop_all(c);
	c->commit_held = false;
	mutex_unlock(&c->lock);
	mutex_unlock(&c->commit_mutex);
	mutex_destroy(&c->lock);
	mutex_destroy(&c->commit_mutex);
	sis_summary_free(c);
	sis_index_free(c);
	sis_journal_free(c);
	kvfree(c);
}

/* ---- Data path ---- */

/**
 * __sis_vol_find() - the slot of volume @id, NULL if there is none (or it
 * is being deleted)
 *
 * The pointer is into c->root: valid until c->lock is dropped.
 */
struct sis_disk_volume *__sis_vol_find(struct sis_core *c, u32 id)
{
	struct sis_disk_volume *v;

	for (v = c->root.vol; v < c->root.vol + SIS_MAX_VOLUMES; v++)
		if (le32_to_cpu(v->flags) == SIS_VOL_USED && le32_to_cpu(v->id) == id)
			return v;
	return NULL;
}

/* Volume @id, and [@lblock, +@count) inside it: -ENOENT, -EINVAL or 0. */
static int __vol_range(struct sis_core *c, u32 id, u64 lblock, u64 count,
		       struct sis_disk_volume **vp)
{
	struct sis_disk_volume *v = __sis_vol_find(c, id);
	u64 logical;

	if (!v)
		return -ENOENT;
	logical = le64_to_cpu(v->logical_blocks);
	*vp = v;
	return lblock < logical && count <= logical - lblock ? 0 : -EINVAL;
}

/*
 * One look-up (@refs NULL: an unmapped block is -ENODATA) or read_begin,
 * run by __sis_op_run().  Every run resolves all the blocks again: the
 * mappings must come from the lock hold that counts the reader (a block
 * looked up before c->lock was dropped for a read may be freed and reused
 * meanwhile); the pages of earlier runs are still cached.
 */
struct lookup_op {
	u32 vol;
	u64 lblock;
	unsigned int nr;
	u64 *pblocks;
	u32 *refs;
};

static int __lookup_run(struct sis_core *c, void *arg)
{
	struct lookup_op *a = arg;
	struct sis_lookup_memo memo = {};
	struct sis_rc_cursor rcur = {};
	struct sis_disk_volume *v;
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	unsigned int i;
	bool shared;
	int r;

	r = c->mode == SIS_MODE_FAIL ? -EIO :
		__vol_range(c, a->vol, a->lblock, a->nr, &v);
	for (i = 0; !r && i < a->nr; i++) {
		shared = false;
		/* one walk per leaf, one refcount page per group */
		r = __sis_map_lookup(c, v, a->lblock + i, &a->pblocks[i], NULL,
				     a->refs ? &shared : NULL, &memo);
		if (!a->refs)
			continue;	/* a look-up: -ENODATA is its answer */
		a->refs[i] = 0;
		if (r == -ENODATA) {
			a->pblocks[i] = 0;
			r = 0;
			continue;
		}
		if (!r)
			r = __sis_rc_get(c, &rcur, a->pblocks[i], &pg, &rc);
		/* under a shared map page, another volume maps it too */
		if (!r)
			a->refs[i] = le32_to_cpu(rc->refcount) + shared;
	}
	return r;
}

/* How an operation takes c->lock (core_lock_op()). */
enum sis_lock_mode {
	SIS_LOCK_WAIT,		/* wait for it; the operation may read */
	SIS_LOCK_TRY,		/* only if free; no reads, no commit */
	SIS_LOCK_NOIO,		/* wait for it (no holder does I/O); no reads */
};

/*
 * Take c->lock for an operation as @mode says, with c->op_nowait set
 * unless SIS_LOCK_WAIT, so that the operation reads nothing and commits
 * nothing (__sis_op_run()).  Return: 0 or -EWOULDBLOCK (SIS_LOCK_TRY).
 */
static int core_lock_op(struct sis_core *c, enum sis_lock_mode mode)
{
	if (mode != SIS_LOCK_TRY)
		mutex_lock(&c->lock);
	else if (!mutex_trylock(&c->lock))
		return -EWOULDBLOCK;
	__sis_op_begin(c);
	c->op_nowait = mode != SIS_LOCK_WAIT;
	return 0;
}

/* End what core_lock_op() began; a rollback (reads) is not a nowait one's. */
static void core_unlock_op(struct sis_core *c)
{
	if (!c->op_nowait)
		__sis_op_end(c);
	c->op_nowait = false;
	mutex_unlock(&c->lock);
}

int sis_core_lookup(struct sis_core *c, u32 vol, u64 lblock, u64 *pblock)
{
	struct lookup_op a = { .vol = vol, .lblock = lblock, .nr = 1,
			       .pblocks = pblock };
	int r;

	core_lock_op(c, SIS_LOCK_WAIT);
	r = __sis_op_run(c, __lookup_run, &a);
	core_unlock_op(c);
	return r;
}

int sis_core_read_begin(struct sis_core *c, u32 vol, u64 lblock,
			unsigned int nr, u64 *pblocks, u32 *refs, bool nowait,
			unsigned int *ticket)
{
	struct lookup_op a = { .vol = vol, .lblock = lblock, .nr = nr,
			       .pblocks = pblocks, .refs = refs };
	/*
	 * nowait: only try the lock (the caller may hold a ticket); a miss
	 * fails the look-up, the caller goes to its worker
	 */
	int r = core_lock_op(c, nowait ? SIS_LOCK_TRY : SIS_LOCK_WAIT);

	if (r)
		return r;
	r = __sis_op_run(c, __lookup_run, &a);
	if (!r && ticket) {
		*ticket = c->read_epoch & 1;
		atomic_inc(&c->readers[*ticket]);
	}
	core_unlock_op(c);
	return r;
}

void sis_core_read_end(struct sis_core *c, unsigned int ticket)
{
	if (atomic_dec_and_test(&c->readers[ticket]))
		wake_up_var(&c->readers[ticket]);
}

/**
 * __sis_readers_flip() - later readers count in the other epoch
 *
 * Return: the epoch of the readers begun before now, for
 * sis_readers_wait().  Readers enter under c->lock, which the caller
 * holds, and leave without it.  Only one flip may be waited for at a time
 * (the commit that froze a transaction with freed blocks, or the rollback
 * of an abort, which never runs while a commit is busy).
 */
unsigned int __sis_readers_flip(struct sis_core *c)
{
	return c->read_epoch++ & 1;
}

/**
 * sis_readers_wait() - wait for the readers of @epoch to finish
 *
 * With or without c->lock held: readers leave without it.
 */
void sis_readers_wait(struct sis_core *c, unsigned int epoch)
{
	atomic_t *old = &c->readers[epoch];

	wait_var_event(old, !atomic_read(old));
}

/**
 * __sis_readers_drain() - wait for every read begun before now
 *
 * Called before blocks mapped in an aborted transaction become free (the
 * rollback): flips the epoch and waits for the old one, holding c->lock.
 */
void __sis_readers_drain(struct sis_core *c)
{
	sis_readers_wait(c, __sis_readers_flip(c));
}

/*
 * Is the index's candidate for @fp still a block holding that data?  If
 * so, *@unmapped tells whether it is a new block no logical block maps yet.
 */
static int __candidate_valid(struct sis_core *c, struct sis_rc_cursor *rcur,
			     u64 fp, u64 pblock, bool *unmapped)
{
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	int r;

	r = __sis_rc_shareable(c, rcur, pblock, &pg, &rc);
	if (r == -EINVAL || (!r && le64_to_cpu(rc->fp) != fp))
		return -ESTALE;
	if (!r)
		*unmapped = !rc->refcount;
	return r == -EOVERFLOW ? -ENOENT : r;
}

/*
 * Find and pin a valid candidate for @fp in *@pblock (left alone unless
 * one is pinned).  Before the pin it changes only the index (stale entries
 * dropped, groups loaded into C), which is advice: a look-up cut short by
 * a miss may run again.  @rcur: the refcount page of the last candidate
 * (a batch's candidates are mostly in one group).
 */
static int __find_dup_one(struct sis_core *c, u64 fp, u64 *pblock,
			  bool *unmapped, struct sis_rc_cursor *rcur)
{
	u64 cand[4], p = 0;
	int n, r;

	n = c->mode == SIS_MODE_FAIL ? -EIO :
		__sis_index_find(c, fp, cand, ARRAY_SIZE(cand));
	r = n < 0 ? n : -ENOENT;
	/* the newest entry last: try candidates from there */
	while (n > 0 && r == -ENOENT) {
		p = cand[--n];
		r = __candidate_valid(c, rcur, fp, p, unmapped);
		if (r == -ESTALE) {
			c->index_stale++;
			__sis_index_remove(c, fp, p);
			r = -ENOENT;
		}
	}
	if (!r)
		r = __sis_pin(c, p, false);
	if (!r)
		*pblock = p;
	return r;
}

/*
 * A block of a batch is done: if it fetched pages (read without c->lock),
 * end the operation's step (__sis_op_step()), so that a batch holds no
 * more pages pinned at a time than one block does.  The step's trim may
 * evict pages: the batch's @leaf (optional) and @rcur are dropped too.
 */
static void __batch_step(struct sis_core *c, struct sis_leaf_memo *leaf,
			 struct sis_rc_cursor *rcur)
{
	if (!c->op_cur->nr_pins)
		return;
	__sis_op_step(c);
	if (leaf)
		leaf->leaf = NULL;
	rcur->pg = NULL;
}

/*
 * Data written in a row was stored in a row: the block after the previous
 * block's candidate, @p, is tried first, by its refcount entry (which
 * holds its fingerprint) without probing the index.  Return: as
 * __find_dup_one(); -ENOENT: not that block (look it up in the index).
 */
static int __find_dup_after(struct sis_core *c, u64 fp, u64 p, u64 *pblock,
			    bool *unmapped, struct sis_rc_cursor *rcur)
{
	int r = c->mode == SIS_MODE_FAIL ? -ENOENT :
		__candidate_valid(c, rcur, fp, p, unmapped);

	if (r == -ESTALE)
		return -ENOENT;		/* other data: not an index entry */
	if (!r)
		r = __sis_pin(c, p, false);
	if (!r)
		*pblock = p;
	return r;
}

/*
 * The look-ups of sis_core_find_dups(): @pos counts them, the blocks in
 * order (0..@n-1), then once more the misses before @last_load, the last
 * block whose look-up loaded a group into the index (@loads: the index's
 * count of loads when the block before was done).  Kept across runs.
 */
struct find_dups_op {
	const u64 *fps;
	u64 *pblocks;
	bool *unmapped;
	unsigned int n, pos, last_load;
	u64 loads;
};

static int __find_dups_run(struct sis_core *c, void *arg)
{
	struct sis_rc_cursor rcur = { .pg = NULL };
	struct find_dups_op *a = arg;
	unsigned int i;
	int r;

	for (; a->pos < a->n + a->last_load; a->pos++) {
		i = a->pos < a->n ? a->pos : a->pos - a->n;
		if (a->pblocks[i])
			continue;	/* found the first time */
		r = -ENOENT;
		if (i && a->pblocks[i - 1])
			r = __find_dup_after(c, a->fps[i], a->pblocks[i - 1] + 1,
					     &a->pblocks[i], &a->unmapped[i],
					     &rcur);
		if (r == -ENOENT)
			r = __find_dup_one(c, a->fps[i], &a->pblocks[i],
					   &a->unmapped[i], &rcur);
		if (r == SIS_MISS)
			return r;
		c->index_lookups++;
		if (!r)
			c->index_hits++;
		if (a->pos < a->n && c->index_hook_loads != a->loads)
			a->last_load = i;
		a->loads = c->index_hook_loads;
		if (r && r != -ENOENT)
			return r;
		__batch_step(c, NULL, &rcur);
	}
	return 0;
}

/*
 * sis_core_find_dups()'s look-ups, c->lock held: the number of candidates
 * found, or -errno with nothing pinned.  A hook hit brings its group's
 * refcount page into the index: the misses before it are looked up once
 * more (in RAM now).
 */
static int __find_dups(struct sis_core *c, const u64 *fps, unsigned int n,
		       u64 *pblocks, bool *unmapped)
{
	struct find_dups_op a = {
		.fps = fps, .pblocks = pblocks, .unmapped = unmapped, .n = n,
		.loads = c->index_hook_loads
	};
	unsigned int i, found = 0;
	int r;

	for (i = 0; i < n; i++) {
		pblocks[i] = 0;
		__sis_index_prefetch(c, fps[i]);
	}
	r = __sis_op_run(c, __find_dups_run, &a);
	for (i = 0; i < n; i++) {
		if (r && pblocks[i]) {
			__sis_unpin(c, pblocks[i]);
			pblocks[i] = 0;
		} else if (pblocks[i]) {
			found++;
		}
	}
	return r ? r : (int)found;
}

static int core_find_dups(struct sis_core *c, const u64 *fps, unsigned int n,
			  u64 *pblocks, bool *unmapped, enum sis_lock_mode mode)
{
	int r = core_lock_op(c, mode);

	if (r)
		return r;
	r = __find_dups(c, fps, n, pblocks, unmapped);
	core_unlock_op(c);
	return r;
}

int sis_core_find_dup(struct sis_core *c, u64 fp, u64 *pblock)
{
	bool unmapped;
	int r = core_find_dups(c, &fp, 1, pblock, &unmapped, SIS_LOCK_WAIT);

	return r < 0 ? r : r ? 0 : -ENOENT;
}

int sis_core_find_dups(struct sis_core *c, const u64 *fps, unsigned int n,
		       u64 *pblocks, bool *unmapped)
{
	return core_find_dups(c, fps, n, pblocks, unmapped, SIS_LOCK_WAIT);
}

int sis_core_find_dups_nowait(struct sis_core *c, const u64 *fps,
			      unsigned int n, u64 *pblocks, bool *unmapped)
{
	return core_find_dups(c, fps, n, pblocks, unmapped, SIS_LOCK_NOIO);
}

/*
 * sis_core_find_next_nowait()'s pins: @done blocks after @after pinned so
 * far (kept across runs).
 */
struct find_next_op {
	u64 after;
	u64 *pblocks;
	unsigned int n, done;
};

static int __find_next_run(struct sis_core *c, void *arg)
{
	struct sis_rc_cursor rcur = { .pg = NULL };
	struct find_next_op *a = arg;
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	u64 p;
	int r;

	if (c->mode == SIS_MODE_FAIL)
		return 0;
	for (; a->done < a->n; a->done++) {
		p = a->after + 1 + a->done;
		r = __sis_rc_shareable(c, &rcur, p, &pg, &rc);
		if (r == -EINVAL || r == -EOVERFLOW || r == -ESTALE ||
		    (!r && !rc->refcount))
			return 0;	/* not a mapped, shareable block: the end */
		if (r)
			return r;	/* SIS_MISS, or a metadata error */
		r = __sis_pin(c, p, false);
		if (r)
			return r;
		a->pblocks[a->done] = p;
	}
	return 0;
}

int sis_core_find_next_nowait(struct sis_core *c, u64 after, unsigned int n,
			      u64 *pblocks)
{
	struct find_next_op a = { .after = after, .pblocks = pblocks, .n = n };
	unsigned int i;
	int r;

	r = core_lock_op(c, SIS_LOCK_NOIO);
	if (r)
		return r;
	r = __sis_op_run(c, __find_next_run, &a);
	if (r)
		for (i = 0; i < a.done; i++)
			__sis_unpin(c, pblocks[i]);
	core_unlock_op(c);
	return r ? r : (int)a.done;
}

/* A new block for data with @fp, pinned, reserved and in the index. */
static int __sis_alloc_one(struct sis_core *c, u64 fp, u64 *pblock)
{
	struct sis_disk_rc *rc;
	struct sis_page *pg;
	int r;

	r = __sis_maybe_commit(c);
	if (!r)
		r = __sis_alloc_block(c, pblock);
	if (r)
		return r;
	r = __sis_rc_get(c, NULL, *pblock, &pg, &rc);
	if (!r)
		r = __sis_mc_dirty(c, pg);
	if (!r) {
		rc->fp = cpu_to_le64(fp);
		__sis_index_insert(c, fp, *pblock, pg);
	}
	if (r)
		__sis_unpin(c, *pblock);
	return r;
}

/*
 * An allocation run over @n blocks: those before @done are dealt with
 * (kept across runs).  Without @fresh every block gets a new one; with it
 * only the blocks whose @pblocks entry is 0, and @fresh tells which.
 */
struct alloc_op {
	const u64 *fps;
	u64 *pblocks;
	bool *fresh;
	unsigned int n, done, nr_new;
};

/*
 * Each block is allocated whole or not at all; a miss in the allocator's
 * scan leaves at most summary bits set and groups entering use (fresh
 * refcount pages), both consistent whether or not a block is allocated.
 */
static int __alloc_run(struct sis_core *c, void *arg)
{
	struct alloc_op *a = arg;
	int r = __sis_check_writable(c);
	u64 pblock;

	for (; !r && a->done < a->n; a->done++) {
		if (a->fresh && a->pblocks[a->done])
			continue;	/* a candidate */
		r = __sis_alloc_one(c, a->fps[a->done], &pblock);
		if (r)
			break;
		a->pblocks[a->done] = pblock;
		if (a->fresh)
			a->fresh[a->done] = true;
		a->nr_new++;
	}
	return r;
}

/*
 * Run @a, c->lock held: the number of blocks allocated (fewer than asked
 * when space ran out), or -errno with none allocated.  The blocks not
 * allocated get 0.
 */
static int __alloc_blocks(struct sis_core *c, struct alloc_op *a)
{
	unsigned int i;
	int r = __sis_op_run(c, __alloc_run, a);

	if (r == -ENOSPC && a->nr_new)
		r = 0;			/* a part: the caller waits for the rest */
	for (i = a->done; !a->fresh && i < a->n; i++)
		a->pblocks[i] = 0;
	for (i = 0; r && i < a->done; i++) {
		if (a->fresh && !a->fresh[i])
			continue;
		__sis_unpin(c, a->pblocks[i]);
		a->pblocks[i] = 0;
	}
	return r ? r : (int)a->nr_new;
}

int sis_core_alloc_run(struct sis_core *c, const u64 *fps, unsigned int n,
		       u64 *pblocks)
{
	struct alloc_op a = { .fps = fps, .pblocks = pblocks, .n = n };
	int r;

	core_lock_op(c, SIS_LOCK_WAIT);
	r = __alloc_blocks(c, &a);
	core_unlock_op(c);
	return r;
}

int sis_core_find_or_alloc(struct sis_core *c, const u64 *fps,
			   const u64 *skip, unsigned int n, u64 *pblocks,
			   bool *fresh)
{
	struct alloc_op a = {
		.fps = fps, .pblocks = pblocks, .fresh = fresh, .n = n
	};
	unsigned int i;
	int r;

	core_lock_op(c, SIS_LOCK_WAIT);
	/* fresh doubles as find_dups' "unmapped", unused here */
	r = __find_dups(c, fps, n, pblocks, fresh);
	for (i = 0; r >= 0 && i < n; i++) {
		fresh[i] = false;
		if (pblocks[i] && pblocks[i] == skip[i]) {
			__sis_unpin(c, pblocks[i]);
			pblocks[i] = 0;
		}
	}
	if (r >= 0) {
		r = __alloc_blocks(c, &a);
		if (r == -ENOSPC)
			r = 0;		/* none: the candidates are still given */
		for (i = 0; r < 0 && i < n; i++)
			if (pblocks[i]) {
				__sis_unpin(c, pblocks[i]);
				pblocks[i] = 0;
			}
	}
	core_unlock_op(c);
	return r;
}

int sis_core_alloc(struct sis_core *c, u64 fp, u64 *pblock)
{
	int r = sis_core_alloc_run(c, &fp, 1, pblock);

	return r < 0 ? r : 0;
}

/*
 * A run of mappings: @n logical blocks from @lblock of volume @vol to
 * @pblocks; those before @done are dealt with (kept across runs), their
 * outcomes in @results.
 */
struct map_op {
	u32 vol;
	u64 lblock;
	const u64 *pblocks;
	int *results;
	unsigned int n, done;
	u64 room;		/* transaction room a map page copy asked for */
};

/*
 * Map block @a->done.  Everything that can miss (the map path, the
 * refcount pages of the path, of the old and of the new block, the
 * allocator's scan for new map pages) runs before the first change, as
 * everything that can fail for memory does: a miss leaves at most levels
 * copied or created and pages dirty but unchanged, which is consistent,
 * and the run starts again.  @leaf and @rcur keep the leaf and the
 * refcount page of the new block for the next block of the run (blocks in
 * a row share a leaf; blocks written in a row share a refcount page).
 */
static int __map_one(struct sis_core *c, struct map_op *a,
		     struct sis_leaf_memo *leaf, struct sis_rc_cursor *rcur)
{
	u64 old, lblock = a->lblock + a->done, pblock = a->pblocks[a->done];
	struct sis_disk_volume *v = NULL;
	struct sis_page *lpg;
	int r;

	r = __sis_check_writable(c);
	if (!r && WARN_ON(!__sis_pin_find(c, pblock)))
		r = -EINVAL;
	/* copying shared map pages may need commits between the levels */
	while (!r) {
		r = __sis_commit_room(c, a->room);
		if (!r)
			r = __vol_range(c, a->vol, lblock, 1, &v);
		if (!r)
			r = __sis_map_prepare(c, v, lblock, &old, &lpg, leaf);
		if (r != -EAGAIN)
			break;
		a->room = c->map_room;
		r = 0;
	}
	if (r || old == pblock)
		return r;
	/*
	 * Everything that can fail for memory before the map changes: the
	 * old block's refcount page is cached and dirty from here on, so its
	 * decrement below cannot fail but for damage (which aborts).
	 */
	if (old)
		r = __sis_ref_dec_prepare(c, old);
	if (!r)
		r = __sis_ref_inc(c, rcur, pblock);
	if (r)
		return r;
	/* the leaf stays cached and dirty: nothing evicts or commits here */
	__sis_map_leaf_set(lpg, lblock, pblock, &old);
	if (old)
		r = __sis_ref_dec(c, old);
	else
		v->nr_mapped = cpu_to_le64(le64_to_cpu(v->nr_mapped) + 1);
	if (r)
		r = __sis_metadata_error(c, r == -ENOMEM ? -EIO : r, "map");
	return r;
}

/*
 * -ESTALE and -EOVERFLOW are outcomes of one block and the run goes on;
 * any other error stops it at that block (@a->done), as does a miss.
 */
static int __map_run(struct sis_core *c, void *arg)
{
	struct sis_rc_cursor rcur = { .pg = NULL };
	struct sis_leaf_memo leaf = { .leaf = NULL };
	struct map_op *a = arg;
	int r;

	for (; a->done < a->n; a->done++) {
		r = __map_one(c, a, &leaf, &rcur);
		if (r && r != -ESTALE && r != -EOVERFLOW)
			return r;
		a->results[a->done] = r;
		a->room = 0;
		__batch_step(c, &leaf, &rcur);
	}
	return 0;
}

/*
 * Map @n blocks from @lblock of volume @vol to the pinned @pblocks, in
 * order: as sis_core_map() each, the outcomes in @results.  Return: 0, or
 * the error that stopped the run (its block's result; the blocks after
 * it get -ECANCELED).
 */
static int __core_map(struct sis_core *c, u32 vol, u64 lblock, unsigned int n,
		      const u64 *pblocks, int *results)
{
	struct map_op a = { .vol = vol, .lblock = lblock, .pblocks = pblocks,
			    .results = results, .n = n };
	unsigned int i;
	int r = __sis_op_run(c, __map_run, &a);

	for (i = a.done; i < n; i++)
		results[i] = i == a.done ? r : -ECANCELED;
	return r;
}

int sis_core_map(struct sis_core *c, u32 vol, u64 lblock, u64 pblock)
{
	int r;

	core_lock_op(c, SIS_LOCK_WAIT);
	__core_map(c, vol, lblock, 1, &pblock, &r);
	core_unlock_op(c);
	return r;
}

void sis_core_unpin(struct sis_core *c, u64 pblock)
{
	mutex_lock(&c->lock);
	__sis_unpin(c, pblock);
	__sis_op_end(c);
	mutex_unlock(&c->lock);
}

/* An unmap: blocks before @lblock are done (kept across runs). */
struct unmap_op {
	u32 vol;
	u64 lblock, end;
};

static int __unmap_run(struct sis_core *c, void *arg)
{
	struct unmap_op *a = arg;
	int r = __sis_check_writable(c);

	return r ? r : __sis_map_unmap(c, a->vol, &a->lblock, a->end);
}

/* Unmap [@lblock, +@count) of volume @vol: as sis_core_unmap(). */
static int __core_unmap(struct sis_core *c, u32 vol, u64 lblock, u64 count)
{
	struct unmap_op a = { .vol = vol, .lblock = lblock, .end = lblock + count };
	struct sis_disk_volume *v;
	int r;

	r = __sis_check_writable(c);
	if (!r)
		r = __vol_range(c, vol, lblock, count, &v);
	if (!r)
		r = __sis_op_run(c, __unmap_run, &a);
	return r;
}

int sis_core_unmap(struct sis_core *c, u32 vol, u64 lblock, u64 count)
{
	int r;

	core_lock_op(c, SIS_LOCK_WAIT);
	r = __core_unmap(c, vol, lblock, count);
	core_unlock_op(c);
	return r;
}

static int core_map_batch(struct sis_core *c, u32 vol, u64 lblock,
			  unsigned int n, const u64 *pblocks, int *results,
			  const u64 *unpins, unsigned int nr_unpins,
			  enum sis_lock_mode mode)
{
	unsigned int i, k;
	int r = core_lock_op(c, mode);

	if (r)
		return r;
	for (i = 0; i < n; i += k) {
		k = 1;
		if (r || pblocks[i] == SIS_MAP_KEEP) {
			results[i] = -ECANCELED;
			continue;
		}
		if (!pblocks[i]) {
			r = __core_unmap(c, vol, lblock + i, 1);
			results[i] = r;
			if (r == -ESTALE || r == -EOVERFLOW)
				r = 0;
			continue;
		}
		/* the mappings in a row: one run */
		while (i + k < n && pblocks[i + k] &&
		       pblocks[i + k] != SIS_MAP_KEEP)
			k++;
		r = __core_map(c, vol, lblock + i, k, pblocks + i, results + i);
	}
	for (i = 0; i < nr_unpins; i++)
		__sis_unpin(c, unpins[i]);
	core_unlock_op(c);
	return r;
}

int sis_core_map_batch(struct sis_core *c, u32 vol, u64 lblock,
		       unsigned int n, const u64 *pblocks, int *results,
		       const u64 *unpins, unsigned int nr_unpins)
{
	return core_map_batch(c, vol, lblock, n, pblocks, results, unpins,
			      nr_unpins, SIS_LOCK_WAIT);
}

int sis_core_map_batch_nowait(struct sis_core *c, u32 vol, u64 lblock,
			      unsigned int n, const u64 *pblocks, int *results,
			      const u64 *unpins, unsigned int nr_unpins)
{
	return core_map_batch(c, vol, lblock, n, pblocks, results, unpins,
			      nr_unpins, SIS_LOCK_NOIO);
}

int sis_core_commit(struct sis_core *c)
{
	return sis_commit_run(c, true);
}

void sis_core_set_discard_passdown(struct sis_core *c, bool on)
{
	mutex_lock(&c->lock);
	c->discard_passdown = on;
	mutex_unlock(&c->lock);
}

int sis_core_resize(struct sis_core *c, u64 physical_blocks)
{
	struct sis_hook_table *hooks = NULL;
	u64 old_groups, groups = 0;
	u64 *map = NULL;
	int r;

	/*
	 * The free-space summary and the hook table for the new size,
	 * allocated before taking the lock (c->data_start is immutable);
	 * unused if not growing, and nothing changes if either fails.
	 */
	if (physical_blocks) {
		map = sis_summary_alloc(c, physical_blocks, &groups);
		hooks = sis_hooks_alloc(physical_blocks);
		if (!map || !hooks) {
			kvfree(map);
			sis_hooks_free(hooks);
			return -ENOMEM;
		}
	}
	core_lock_op(c, SIS_LOCK_WAIT);
	r = __sis_check_writable(c);
	if (r)
		goto out;
	if (physical_blocks && physical_blocks < le64_to_cpu(c->root.physical_blocks)) {
		r = -EINVAL;
		goto out;
	}
	if (physical_blocks > le64_to_cpu(c->root.physical_blocks)) {
		__sis_summary_install(c, &map, groups);
		__sis_hooks_grow(c, &hooks);
		old_groups = c->nr_groups;
		c->root.physical_blocks = cpu_to_le64(physical_blocks);
		__sis_derive_sizes(c);
		__sis_summary_grown(c, old_groups);
		c->root_dirty = true;
	}
out:
	core_unlock_op(c);
	kvfree(map);
	sis_hooks_free(hooks);
	return r;
}

void sis_core_set_read_only(struct sis_core *c)
{
	int r;

	/* an administrative path: commits holding c->lock throughout */
	mutex_lock(&c->commit_mutex);
	mutex_lock(&c->lock);
	c->commit_held = true;
	if (c->mode == SIS_MODE_WRITE) {
		r = __sis_commit(c);
		if (r == -ENOMEM) {
			/* Its changes are lost: later flushes must fail. */
			sis_log(c, 3, "no memory to commit before read-only: dropped");
			__sis_abort(c, false);
		} else if (!r) {
			c->mode = SIS_MODE_READ_ONLY;
		}
	}
	c->commit_held = false;
	__sis_op_end(c);
	mutex_unlock(&c->lock);
	mutex_unlock(&c->commit_mutex);
}

bool sis_core_dirty(struct sis_core *c)
{
	bool dirty;

	mutex_lock(&c->lock);
	dirty = c->mode == SIS_MODE_WRITE &&
		(c->mc_nr_dirty || c->root_dirty || c->frozen);
	mutex_unlock(&c->lock);
	return dirty;
}

/* ---- Volumes ---- */

/* The slot of volume @id in any state (being deleted too), or NULL. */
static struct sis_disk_volume *__vol_slot(struct sis_core *c, u32 id)
{
	struct sis_disk_volume *v;

	for (v = c->root.vol; v < c->root.vol + SIS_MAX_VOLUMES; v++)
		if (v->flags && le32_to_cpu(v->id) == id)
			return v;
	return NULL;
}

/* The volume named @name (not empty), in any state, or NULL. */
static struct sis_disk_volume *__vol_named(struct sis_core *c, const char *name)
{
	struct sis_disk_volume *v;

	for (v = c->root.vol; name && name[0] && v < c->root.vol + SIS_MAX_VOLUMES; v++)
		if (v->flags && !strncmp(v->name, name, SIS_VOL_NAME_LEN))
			return v;
	return NULL;
}

/*
 * A free slot for a new volume @id named @name: -EEXIST (the id or the
 * name is taken), -ENOSPC (table full) or 0.
 */
static int __vol_new_slot(struct sis_core *c, u32 id, const char *name,
			  struct sis_disk_volume **vp)
{
	struct sis_disk_volume *v;

	if (__vol_slot(c, id) || __vol_named(c, name))
		return -EEXIST;
	for (v = c->root.vol; v < c->root.vol + SIS_MAX_VOLUMES; v++)
		if (!v->flags) {
			*vp = v;
			return 0;
		}
	return -ENOSPC;
}

static void __vol_fill(struct sis_core *c, struct sis_disk_volume *v, u32 id,
		       u32 origin, const char *name)
{
	v->id = cpu_to_le32(id);
	v->flags = cpu_to_le32(SIS_VOL_USED);
	v->origin = cpu_to_le32(origin);
	v->create_seq = cpu_to_le64(c->seq);
	vol_set_name(v, name);
	le32_add_cpu(&c->root.nr_volumes, 1);
	c->root_dirty = true;
}

/* End a volume operation that changed the root: make it durable. */
static int vol_op_commit(struct sis_core *c, int r)
{
	core_unlock_op(c);
	return r ? r : sis_commit_run(c, true);
}

int sis_core_volume_create(struct sis_core *c, u32 id, u64 logical_blocks,
			   const char *name)
{
	struct sis_disk_volume *v;
	u32 depth = 1;
	int r;

	r = vol_args_ok(id, name);
	if (r)
		return r;
	while (sis_map_capacity(depth) < logical_blocks)
		if (++depth > SIS_MAP_MAX_DEPTH)
			return -EINVAL;
	if (!logical_blocks)
		return -EINVAL;
	core_lock_op(c, SIS_LOCK_WAIT);
	r = __sis_check_writable(c);
	if (!r)
		r = __vol_new_slot(c, id, name, &v);
	if (!r) {
		v->logical_blocks = cpu_to_le64(logical_blocks);
		v->map_depth = cpu_to_le32(depth);
		__vol_fill(c, v, id, SIS_VOL_NO_ORIGIN, name);
	}
	return vol_op_commit(c, r);
}

/* A volume operation run by __sis_op_run(). */
struct vol_op {
	u32 id, origin;
	const char *name;
	u64 logical_blocks;
};

/*
 * The clone: the origin root's refcount page, the one page it may miss,
 * is read before anything changes, so a run cut short by a miss (or by
 * the commit before it) starts again from the look-ups.
 */
static int __clone_run(struct sis_core *c, void *arg)
{
	struct vol_op *a = arg;
	struct sis_disk_volume *v, *o;
	struct sis_disk_rc *rc;
	int r;

	r = __sis_check_writable(c);
	/* one copy of a shared page must fit in a transaction */
	if (!r && sis_txn_cap(c) < sis_map_copy_pages(c) + SIS_OP_MAX_DIRTY)
		r = -EOPNOTSUPP;
	if (!r) {
		o = __sis_vol_find(c, a->origin);
		r = o ? __vol_new_slot(c, a->id, a->name, &v) : -ENOENT;
	}
	if (!r)
		r = __sis_maybe_commit(c);	/* may drop c->lock: look again */
	if (!r) {
		o = __sis_vol_find(c, a->origin);
		r = o ? __vol_new_slot(c, a->id, a->name, &v) : -ENOENT;
	}
	if (!r && o->map_root)
		r = __sis_node_rc(c, le64_to_cpu(o->map_root), true, &rc);
	if (!r) {
		if (o->map_root)
			rc->refcount = cpu_to_le32(le32_to_cpu(rc->refcount) + 1);
		*v = *o;
		__vol_fill(c, v, a->id, a->origin, a->name);
	}
	return r;
}

int sis_core_volume_clone(struct sis_core *c, u32 id, u32 origin,
			  const char *name)
{
	struct vol_op a = { .id = id, .origin = origin, .name = name };
	int r;

	r = vol_args_ok(id, name);
	if (r)
		return r;
	core_lock_op(c, SIS_LOCK_WAIT);
	r = __sis_op_run(c, __clone_run, &a);
	return vol_op_commit(c, r);
}

/*
 * Free the map of volume @a->id, which is marked SIS_VOL_DELETING, step by
 * step, committing when the transaction is full; then free its slot.  Run
 * by __sis_op_run(): each step of __sis_map_free_step() is consistent on
 * its own and a miss stops one before it changes anything it cannot
 * leave, so a run starts again from the root.  The cache is trimmed
 * between steps (__sis_op_step()), never before a run's first, which uses
 * the page just fetched.
 */
static int __vol_delete_run(struct sis_core *c, void *arg)
{
	struct vol_op *a = arg;
	struct sis_disk_volume *v;
	bool first = true;
	int r;

	for (;;) {
		if (!first)
			__sis_op_step(c);
		first = false;
		r = __sis_maybe_commit(c);
		if (r)
			return r;
		v = __vol_slot(c, a->id);
		if (!v || !(le32_to_cpu(v->flags) & SIS_VOL_DELETING))
			return 0;		/* another caller finished it */
		r = __sis_map_free_step(c, v);
		if (r == 1)
			continue;
		if (r)
			return r;
		memset(v, 0, sizeof(*v));
		le32_add_cpu(&c->root.nr_volumes, -1);
		c->root_dirty = true;
		return 0;
	}
}

/* Free the map and then the slot of volume @id, being deleted. */
static int __vol_delete(struct sis_core *c, u32 id)
{
	struct vol_op a = { .id = id };

	return __sis_op_run(c, __vol_delete_run, &a);
}

/* At open: finish the deletes a crash or an error interrupted. */
static int __vols_finish_deletes(struct sis_core *c)
{
	struct sis_disk_volume *v;
	int r;

	for (v = c->root.vol; v < c->root.vol + SIS_MAX_VOLUMES; v++) {
		if (!(le32_to_cpu(v->flags) & SIS_VOL_DELETING))
			continue;
		r = __vol_delete(c, le32_to_cpu(v->id));
		if (r)
			return r;
	}
	return 0;
}

int sis_core_volume_delete(struct sis_core *c, u32 id)
{
	struct sis_disk_volume *v;
	int r;

	core_lock_op(c, SIS_LOCK_WAIT);
	r = __sis_check_writable(c);
	if (!r) {
		v = __vol_slot(c, id);	/* a delete that failed is resumed */
		r = v ? 0 : -ENOENT;
	}
	if (!r) {
		v->flags = cpu_to_le32(le32_to_cpu(v->flags) | SIS_VOL_DELETING);
		c->root_dirty = true;
		r = __vol_delete(c, id);
	}
	return vol_op_commit(c, r);
}

/*
 * The resize: a miss (in the allocator's scan for a new top page) leaves
 * the levels added so far, each consistent: the run goes on from there.
 */
static int __resize_run(struct sis_core *c, void *arg)
{
	struct vol_op *a = arg;
	struct sis_disk_volume *v;
	int r;

	r = __sis_check_writable(c);
	if (!r) {
		v = __sis_vol_find(c, a->id);
		r = v ? 0 : -ENOENT;
	}
	if (!r && a->logical_blocks < le64_to_cpu(v->logical_blocks))
		r = -EINVAL;
	if (!r)
		r = __sis_maybe_commit(c);	/* may drop c->lock: look again */
	if (!r) {
		v = __sis_vol_find(c, a->id);
		r = v ? 0 : -ENOENT;
	}
	if (!r && a->logical_blocks > le64_to_cpu(v->logical_blocks))
		r = __sis_map_grow(c, v, a->logical_blocks);
	return r;
}

int sis_core_volume_resize(struct sis_core *c, u32 id, u64 logical_blocks)
{
	struct vol_op a = { .id = id, .logical_blocks = logical_blocks };
	int r;

	core_lock_op(c, SIS_LOCK_WAIT);
	r = __sis_op_run(c, __resize_run, &a);
	core_unlock_op(c);
	return r;
}

static void vol_info(const struct sis_disk_volume *v, struct sis_volume_info *vi)
{
	vi->id = le32_to_cpu(v->id);
	vi->deleting = le32_to_cpu(v->flags) & SIS_VOL_DELETING;
	vi->logical_blocks = le64_to_cpu(v->logical_blocks);
	vi->nr_mapped = le64_to_cpu(v->nr_mapped);
	vi->origin = le32_to_cpu(v->origin);
	vi->create_seq = le64_to_cpu(v->create_seq);
	vi->map_root = le64_to_cpu(v->map_root);
	vi->map_depth = le32_to_cpu(v->map_depth);
	memcpy(vi->name, v->name, sizeof(vi->name));
	vi->name[sizeof(vi->name) - 1] = 0;
}

int sis_core_volume_info(struct sis_core *c, u32 id, struct sis_volume_info *vi)
{
	struct sis_disk_volume *v;

	mutex_lock(&c->lock);
	v = __vol_slot(c, id);
	if (v)
		vol_info(v, vi);
	mutex_unlock(&c->lock);
	return v ? 0 : -ENOENT;
}

int sis_core_volume_next(struct sis_core *c, u32 *id)
{
	struct sis_disk_volume *v;
	u64 best = U64_MAX, after = *id == U32_MAX ? 0 : (u64)*id + 1;

	mutex_lock(&c->lock);
	for (v = c->root.vol; v < c->root.vol + SIS_MAX_VOLUMES; v++)
		if (v->flags && le32_to_cpu(v->id) >= after &&
		    le32_to_cpu(v->id) < best)
			best = le32_to_cpu(v->id);
	mutex_unlock(&c->lock);
	if (best == U64_MAX)
		return -ENOENT;
	*id = best;
	return 0;
}

int sis_core_volume_find(struct sis_core *c, const char *name, u32 *id)
{
	struct sis_disk_volume *v;

	mutex_lock(&c->lock);
	v = __vol_named(c, name);
	if (v)
		*id = le32_to_cpu(v->id);
	mutex_unlock(&c->lock);
	return v ? 0 : -ENOENT;
}

int sis_core_count_exclusive(struct sis_core *c, u32 id, u64 *exclusive)
{
	int r;

	core_lock_op(c, SIS_LOCK_WAIT);
	r = __sis_map_count_exclusive(c, id, exclusive);
	core_unlock_op(c);
	return r;
}

void sis_core_get_stats(struct sis_core *c, struct sis_core_stats *st)
{
	struct sis_disk_volume *v;

	mutex_lock(&c->lock);
	memset(st, 0, sizeof(*st));
	st->mode = c->mode;
	st->needs_check = c->needs_check;
	st->aborted = c->aborted;
	v = __sis_vol_find(c, 0);
	st->logical_blocks = v ? le64_to_cpu(v->logical_blocks) : 0;
	st->physical_blocks = le64_to_cpu(c->root.physical_blocks);
	st->data_blocks = c->data_blocks;
	for (v = c->root.vol; v < c->root.vol + SIS_MAX_VOLUMES; v++) {
		st->nr_mapped += le64_to_cpu(v->nr_mapped);
		st->nr_volumes += !!v->flags;
		st->nr_deleting += !!(le32_to_cpu(v->flags) & SIS_VOL_DELETING);
	}
	st->map_copies = c->map_copies;
	st->nr_data = le64_to_cpu(c->root.nr_data);
	st->nr_meta = le64_to_cpu(c->root.nr_meta);
	st->nr_free = __sis_nr_free(c);
	st->nr_pending_free = c->nr_pending_free;
	st->metadata_blocks = c->data_start + c->nr_groups;
	st->commits = c->commits;
	st->index_lookups = c->index_lookups;
	st->index_hits = c->index_hits;
	st->index_stale = c->index_stale;
	st->index_hook_loads = c->index_hook_loads;
	st->index_ram_bytes = sis_index_ram(c);
	st->metadata_ram_bytes = __sis_mc_ram(c) + sis_journal_ram(c) +
				 sis_summary_ram(c);
	st->cache_pages = c->mc_pages;
	st->transaction_seq = c->seq;
	st->alloc_pages_scanned = c->alloc_pages_scanned;
	st->locked_md_reads = c->locked_md_reads;
	mutex_unlock(&c->lock);
}

void sis_core_drop_cache(struct sis_core *c)
{
	mutex_lock(&c->lock);
	__sis_mc_drop_clean(c);
	mutex_unlock(&c->lock);
}
