// SPDX-License-Identifier: GPL-2.0
/*
 * dm-sis: the device-mapper target "sis", inline deduplication of 4 KiB
 * blocks on top of the portable core (core/sis-core.h).
 *
 * This file is the target's face: table lines (ctr/dtr and the feature
 * arguments), map() and the bio worker that send each bio its way, status
 * lines, messages, and the module.  The core owns every metadata block;
 * the shared data cache (pcache.c) owns every cached data page.  Nothing
 * in the target touches the on-disk format.  What the files of the target
 * share, and their locking order, is in dm-sis.h.
 *
 * The data path.  dm core splits bios at 128 KiB boundaries (max_io_len is
 * SIS_MAX_IO_BLOCKS blocks).  map() never sleeps: a read whose mapping is
 * cached is remapped (or zero-filled) there at once (sis_read_fast(),
 * read.c), and so is a write of zeros and cached duplicates
 * (sis_write_fast(), write.c).  Every other write (without REQ_PREFLUSH)
 * goes to the pool's list of writes, which its write workers drain a group
 * of bios at a time (sis_write_defer(), write.c), so the data writes of
 * many bios reach the disk together.  Any other bio is queued as its own
 * work item on the pool's unbound workqueue, so many bios are processed at
 * once by as many kworkers; the core's mutex serialises only the short
 * metadata operations between them.  That worker (sis_process_bio())
 * sends a read to read.c, a discard to write.c, and a flush to a commit
 * (pool.c), then the write of a REQ_PREFLUSH bio's data, if any.
 *
 * Invariant: a struct sis_target is immutable after ctr (but for its links
 * on the pool's lists of targets, under pools_lock and event_lock, and its
 * requeue flag); what the tables of one pool (every volume's device, and a
 * reload) share lives in their struct sis_pool.  The volume messages
 * (sis_vol_message()) go to any device of the pool and act on the pool.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "../include/sis-target.h"
#include "dm-sis.h"

#define SIS_MAX_DISCARD_SECTORS	BIT(22)	/* 2 GiB per discard bio */

/* ---------------------------------------------------------------- */
/* Table lines                                                      */
/* ---------------------------------------------------------------- */

static int sis_parse_features(struct dm_arg_set *as, struct sis_features *f,
			      u32 *vol, char **error)
{
	static const struct dm_arg _args[] = {
		{0, SIS_FEATURE_ARGS_MAX, "Invalid number of feature arguments"},
	};
	unsigned int argc;
	const char *arg;
	int r;

	f->discard_passdown = true;
	f->zero_detect = true;
	f->error_if_no_space = false;
	f->read_only = false;
	f->commit_interval = SIS_COMMIT_INTERVAL_DEFAULT;
	f->low_water_mark = 0;
	*vol = 0;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(_args, as, &argc, error);
	if (r)
		return -EINVAL;

	while (argc) {
		arg = dm_shift_arg(as);
		argc--;
		if (!strcasecmp(arg, SIS_FEAT_NO_DISCARD_PASSDOWN)) {
			f->discard_passdown = false;
		} else if (!strcasecmp(arg, SIS_FEAT_SKIP_ZERO_DETECTION)) {
			f->zero_detect = false;
		} else if (!strcasecmp(arg, SIS_FEAT_ERROR_IF_NO_SPACE)) {
			f->error_if_no_space = true;
		} else if (!strcasecmp(arg, SIS_FEAT_READ_ONLY)) {
			f->read_only = true;
		} else if (!strcasecmp(arg, SIS_FEAT_COMMIT_INTERVAL)) {
			if (!argc) {
				*error = "commit_interval needs a value in seconds";
				return -EINVAL;
			}
			arg = dm_shift_arg(as);
			argc--;
			if (kstrtouint(arg, 10, &f->commit_interval) ||
			    !f->commit_interval ||
			    f->commit_interval > SIS_COMMIT_INTERVAL_MAX) {
				*error = "Invalid commit_interval (1..3600 seconds)";
				return -EINVAL;
			}
		} else if (!strcasecmp(arg, SIS_FEAT_LOW_WATER_MARK)) {
			if (!argc) {
				*error = "low_water_mark needs a value in blocks";
				return -EINVAL;
			}
			arg = dm_shift_arg(as);
			argc--;
			if (kstrtou64(arg, 10, &f->low_water_mark)) {
				*error = "Invalid low_water_mark (4 KiB blocks)";
				return -EINVAL;
			}
		} else if (!strcasecmp(arg, SIS_FEAT_VOLUME)) {
			if (!argc) {
				*error = "volume needs a volume id";
				return -EINVAL;
			}
			arg = dm_shift_arg(as);
			argc--;
			if (kstrtou32(arg, 10, vol) || *vol > SIS_VOL_ID_MAX) {
				*error = "Invalid volume id (0..16777215)";
				return -EINVAL;
			}
		} else {
			*error = "Unknown feature argument";
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Construct a sis target, a view of one volume of the pool on the backing
 * device:
 *   <backing dev> [<#feature args> <feature arg>...]
 */
static int sis_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct sis_target *st;
	unsigned int lbs;
	const char *path;
	int r;

	if (argc < 1) {
		ti->error = "Missing backing device argument";
		return -EINVAL;
	}
	if (!ti->len || ti->len & (SIS_SECTORS_PER_BLOCK - 1)) {
		ti->error = "Length is not a multiple of 4 KiB (8 sectors)";
		return -EINVAL;
	}

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st) {
		ti->error = "Cannot allocate target context";
		return -ENOMEM;
	}
	st->ti = ti;
	st->md = dm_table_get_md(ti->table);

	path = dm_shift_arg(&as);
	r = sis_parse_features(&as, &st->f, &st->vol, &ti->error);
	if (r)
		goto bad_free;
	if (as.argc) {
		ti->error = "Too many arguments (feature count too small?)";
		r = -EINVAL;
		goto bad_free;
	}

	r = dm_get_device(ti, path, dm_table_get_mode(ti->table), &st->dev);
	if (r) {
		ti->error = "Backing device lookup failed";
		goto bad_free;
	}
	lbs = bdev_logical_block_size(st->dev->bdev);
	if (lbs > SIS_BLOCK_SIZE) {
		ti->error = "Backing device block size larger than 4 KiB";
		r = -EINVAL;
		goto bad_put;
	}
	if (bdev_nr_sectors(st->dev->bdev) < 2 * SIS_SECTORS_PER_BLOCK) {
		ti->error = "Backing device too small";
		r = -ENOSPC;
		goto bad_put;
	}

	r = sis_pool_get(st);
	if (r)
		goto bad_put;

	r = dm_set_target_max_io_len(ti, SIS_MAX_IO_BLOCKS * SIS_SECTORS_PER_BLOCK);
	if (r) {
		ti->error = "Cannot set max_io_len";
		goto bad_pool;
	}
	ti->per_io_data_size = sizeof(struct sis_bio);
	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	ti->num_discard_bios = 1;
	ti->discards_supported = true;
	ti->private = st;
	return 0;

bad_pool:
	sis_pool_put(st);
bad_put:
	dm_put_device(ti, st->dev);
bad_free:
	kfree(st);
	return r;
}

static void sis_dtr(struct dm_target *ti)
{
	struct sis_target *st = ti->private;

	sis_pool_put(st);
	dm_put_device(ti, st->dev);
	kfree(st);
}

/* ---------------------------------------------------------------- */
/* Bios                                                             */
/* ---------------------------------------------------------------- */

/*
 * A REQ_PREFLUSH: commit.  A device read-only by the table, by the message
 * or after a clean switch has nothing more to make durable: the core's
 * commit is just a flush of the disk.  Once a metadata error has aborted a
 * transaction, every commit fails (-EIO) until the device is created again:
 * acknowledged writes may have been lost with it, and a flush must never
 * say otherwise (dm-thin's rule).
 */
static int sis_flush(struct sis_target *st)
{
	return sis_pool_commit(st->pool);
}

static void sis_process_bio(struct work_struct *ws)
{
	struct sis_bio *sb = container_of(ws, struct sis_bio, work);
	struct sis_target *st = sb->st;
	struct bio *bio = dm_bio_from_per_bio_data(sb, sizeof(*sb));
	u64 lblock = dm_target_offset(st->ti, bio->bi_iter.bi_sector) >>
		     (SIS_BLOCK_SHIFT - SECTOR_SHIFT);
	int r;

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		sis_read_bio(st, bio);
		return;
	case REQ_OP_WRITE:
		if (bio->bi_opf & REQ_PREFLUSH) {
			r = sis_flush(st);
			if (r || !bio->bi_iter.bi_size)
				break;
			bio->bi_opf &= ~REQ_PREFLUSH;
		}
		while ((r = sis_write_bio(st, bio)) == -ENOMEM)
			sis_pool_nomem_wait(st->pool);
		break;
	case REQ_OP_DISCARD:
		while ((r = sis_write_discard(st, bio)) == -ENOMEM)
			sis_pool_nomem_wait(st->pool);
		break;
	default:
		r = -EOPNOTSUPP;
		break;
	}
	sis_pool_end_bio(st, bio, lblock, r);
}

static int sis_map(struct dm_target *ti, struct bio *bio)
{
	struct sis_target *st = ti->private;
	struct sis_bio *sb = dm_per_bio_data(bio, sizeof(*sb));
	int mapio;

	sb->st = st;
	sb->ticket_held = false;
	if (bio_op(bio) == REQ_OP_READ && sis_read_fast(st, bio, sb, &mapio))
		return mapio;
	if (bio_op(bio) == REQ_OP_WRITE && !(bio->bi_opf & REQ_PREFLUSH)) {
		if (sis_write_fast(st, bio))
			bio_endio(bio);
		else
			sis_write_defer(st, bio);
		return DM_MAPIO_SUBMITTED;
	}
	INIT_WORK(&sb->work, sis_process_bio);
	queue_work(st->pool->wq, &sb->work);
	return DM_MAPIO_SUBMITTED;
}

/* ---------------------------------------------------------------- */
/* Volumes                                                          */
/* ---------------------------------------------------------------- */

/* The last count_exclusive result of volume @id, if any. */
static bool sis_excl_get(struct sis_pool *pool, u32 id, u64 *blocks)
{
	bool found = false;
	unsigned int i;

	spin_lock(&pool->excl_lock);
	for (i = 0; i < SIS_MAX_VOLUMES; i++) {
		if (pool->excl[i].valid && pool->excl[i].id == id) {
			*blocks = pool->excl[i].blocks;
			found = true;
			break;
		}
	}
	spin_unlock(&pool->excl_lock);
	return found;
}

/* Remember (@valid) or forget the exclusive count of volume @id. */
static void sis_excl_set(struct sis_pool *pool, u32 id, bool valid, u64 blocks)
{
	unsigned int i, slot = SIS_MAX_VOLUMES;

	spin_lock(&pool->excl_lock);
	for (i = 0; i < SIS_MAX_VOLUMES; i++) {
		if (pool->excl[i].valid && pool->excl[i].id == id) {
			slot = i;
			break;
		}
		if (!pool->excl[i].valid && slot == SIS_MAX_VOLUMES)
			slot = i;
	}
	if (slot < SIS_MAX_VOLUMES) {
		pool->excl[slot].id = id;
		pool->excl[slot].valid = valid;
		pool->excl[slot].blocks = blocks;
	}
	spin_unlock(&pool->excl_lock);
}

/* The volume messages: each word, its arguments and what they are. */
enum sis_vol_op {
	SIS_VOL_CREATE,
	SIS_VOL_CLONE,
	SIS_VOL_DELETE,
	SIS_VOL_SET_SIZE,
	SIS_VOL_COUNT_EXCLUSIVE,
};

static const struct {
	const char *word;
	const char *usage;
	unsigned int args;	/* words after the message word */
	bool size;		/* the second is a size in blocks, not an id */
	bool name;		/* an optional <name> may follow */
} sis_vol_msgs[] = {
	[SIS_VOL_CREATE] = { SIS_MSG_CREATE_VOLUME, "<id> <blocks> [<name>]",
			     2, true, true },
	[SIS_VOL_CLONE] = { SIS_MSG_CLONE_VOLUME, "<new id> <origin id> [<name>]",
			    2, false, true },
	[SIS_VOL_DELETE] = { SIS_MSG_DELETE_VOLUME, "<id>", 1, false, false },
	[SIS_VOL_SET_SIZE] = { SIS_MSG_SET_VOLUME_SIZE, "<id> <blocks>",
			       2, true, false },
	[SIS_VOL_COUNT_EXCLUSIVE] = { SIS_MSG_COUNT_EXCLUSIVE, "<id>",
				      1, false, false },
};

/* What a core error means to the user of volume message @op. */
static const char *sis_vol_strerror(enum sis_vol_op op, int r)
{
	switch (r) {
	case -EEXIST:
		return "the volume id is taken";
	case -ENOENT:
		return "no such volume";
	case -ENOSPC:
		return op == SIS_VOL_SET_SIZE ? "no space for the block map" :
			"the volume table is full (" __stringify(SIS_MAX_VOLUMES) " volumes)";
	case -EOPNOTSUPP:
		return "the journal is too small for clones (sis format --journal-blocks)";
	case -ENAMETOOLONG:
		return "name longer than 31 bytes";
	case -EINVAL:
		return "invalid size";
	case -EROFS:
		return "the pool is read-only";
	case -ENOMEM:
		return "out of memory (a delete is finished when the pool is next opened)";
	case -EIO:
	case -EILSEQ:
		return "metadata error";
	default:
		return "failed";
	}
}

/* A volume id: a decimal number up to SIS_VOL_ID_MAX. */
static bool sis_parse_vol_id(const char *arg, u32 *id)
{
	return !kstrtou32(arg, 10, id) && *id <= SIS_VOL_ID_MAX;
}

/*
 * A volume message (sis_vol_msgs[@op]): check every argument first (a bad
 * one changes nothing: -EINVAL), then one core call, committed.  Returns
 * 1 with the count in @result for count_exclusive.
 */
static int sis_vol_message(struct sis_target *st, enum sis_vol_op op,
			   unsigned int argc, char **argv, char *result,
			   unsigned int maxlen)
{
	struct sis_pool *pool = st->pool;
	const char *word = sis_vol_msgs[op].word;
	const char *name = NULL;
	struct sis_volume_info vi;
	u32 id, id2 = 0;
	u64 blocks = 0;
	int r;

	if (argc - 1 != sis_vol_msgs[op].args &&
	    (!sis_vol_msgs[op].name || argc - 1 != sis_vol_msgs[op].args + 1)) {
		DMERR("%s: usage: %s %s", pool->name, word, sis_vol_msgs[op].usage);
		return -EINVAL;
	}
	if (!sis_parse_vol_id(argv[1], &id) ||
	    (argc > 2 && !sis_vol_msgs[op].size &&
	     !sis_parse_vol_id(argv[2], &id2))) {
		DMERR("%s: %s: invalid volume id (0..%u)", pool->name, word,
		      SIS_VOL_ID_MAX);
		return -EINVAL;
	}
	if (argc > 2 && sis_vol_msgs[op].size &&
	    (kstrtou64(argv[2], 10, &blocks) || !blocks)) {
		DMERR("%s: %s: invalid size '%s' (4 KiB blocks, at least 1)",
		      pool->name, word, argv[2]);
		return -EINVAL;
	}
	if (argc > 3) {
		name = argv[3];
		if (strlen(name) >= SIS_VOL_NAME_LEN) {
			DMERR("%s: %s %u: %s", pool->name, word, id,
			      sis_vol_strerror(op, -ENAMETOOLONG));
			return -EINVAL;
		}
	}

	switch (op) {
	case SIS_VOL_CREATE:
		r = sis_core_volume_create(pool->core, id, blocks, name);
		break;
	case SIS_VOL_CLONE:
		r = sis_core_volume_clone(pool->core, id, id2, name);
		break;
	case SIS_VOL_DELETE:
		r = sis_pool_volume_delete(pool, id);
		if (r == -EBUSY)
			return r;	/* logged, naming the device */
		break;
	case SIS_VOL_SET_SIZE:
		r = sis_core_volume_info(pool->core, id, &vi);
		if (!r && vi.deleting)
			r = -ENOENT;
		if (!r && blocks < vi.logical_blocks) {
			DMERR("%s: %s %u: cannot shrink a volume (%llu blocks)",
			      pool->name, word, id, vi.logical_blocks);
			return -EINVAL;
		}
		if (!r)
			r = sis_core_volume_resize(pool->core, id, blocks);
		if (!r)
			r = sis_pool_commit(pool);
		break;
	case SIS_VOL_COUNT_EXCLUSIVE:
		r = sis_core_count_exclusive(pool->core, id, &blocks);
		if (r < 0)
			break;
		if (r)
			DMINFO("%s: volume %u: exclusive count is a lower bound",
			       pool->name, id);
		sis_excl_set(pool, id, true, blocks);
		scnprintf(result, maxlen, "%llu", blocks);
		return 1;
	}
	if (r) {
		DMERR("%s: %s %u failed: %s (%d)", pool->name, word, id,
		      sis_vol_strerror(op, r), r);
		return r;
	}
	if (op != SIS_VOL_SET_SIZE)
		sis_excl_set(pool, id, false, 0);	/* a new or no volume */
	DMINFO("%s: %s %u: done", pool->name, word, id);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Status and messages                                              */
/* ---------------------------------------------------------------- */

static const char *sis_mode_string(struct sis_pool *pool,
				   const struct sis_core_stats *stats)
{
	switch (stats->mode) {
	case SIS_MODE_FAIL:
		return SIS_STATUS_MODE_FAIL;
	case SIS_MODE_READ_ONLY:
		return SIS_STATUS_MODE_READ_ONLY;
	default:
		return READ_ONCE(pool->out_of_space) ?
			SIS_STATUS_MODE_OUT_OF_SPACE : SIS_STATUS_MODE_WRITE;
	}
}

static unsigned int sis_feature_count(const struct sis_target *st)
{
	const struct sis_features *f = &st->f;

	return !f->discard_passdown + !f->zero_detect + f->error_if_no_space +
		f->read_only +
		(f->commit_interval != SIS_COMMIT_INTERVAL_DEFAULT ? 2 : 0) +
		(f->low_water_mark ? 2 : 0) + (st->vol ? 2 : 0);
}

static void sis_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;
	const struct sis_features *f = &st->f;
	struct sis_core_stats stats;
	struct sis_volume_info vi;
	unsigned int sz = 0;
	u64 ratio, used, excl;
	bool excl_known;
	u32 frac;

	switch (type) {
	case STATUSTYPE_INFO:
		sis_core_get_stats(pool->core, &stats);
		if (sis_core_volume_info(pool->core, st->vol, &vi))
			vi.nr_mapped = 0;	/* cannot happen: see pool.c */
		excl_known = sis_excl_get(pool, st->vol, &excl);
		used = stats.physical_blocks - stats.nr_free;
		ratio = stats.nr_data ?
			div64_u64(stats.nr_mapped * 1000, stats.nr_data) : 1000;
		ratio = div_u64_rem(ratio, 1000, &frac);
		DMEMIT("%s %llu %llu/%llu %llu %llu %llu.%03u ",
		       sis_mode_string(pool, &stats), vi.nr_mapped,
		       used, stats.physical_blocks,
		       (u64)atomic64_read(&pool->stat_written),
		       (u64)atomic64_read(&pool->stat_new_data),
		       ratio, frac);
		DMEMIT("%llu %llu %llu %lu %llu %s %llu %llu %llu %llu",
		       (u64)atomic64_read(&pool->stat_zero),
		       (u64)atomic64_read(&pool->stat_hits),
		       (u64)atomic64_read(&pool->stat_misses),
		       pcache_nr_blocks(),
		       stats.commits - READ_ONCE(pool->commits_base),
		       stats.needs_check ? SIS_STATUS_STR_NEEDS_CHECK :
					   SIS_STATUS_STR_CLEAN,
		       stats.nr_data,
		       (u64)atomic64_read(&pool->stat_dedup),
		       (u64)atomic64_read(&pool->stat_fast_reads),
		       stats.index_ram_bytes);
		DMEMIT(" %u ", st->vol);
		if (excl_known)
			DMEMIT("%llu", excl);
		else
			DMEMIT(SIS_STATUS_STR_UNKNOWN);
		DMEMIT(" %u %llu %llu %llu", stats.nr_volumes, stats.nr_mapped,
		       (u64)atomic64_read(&pool->stat_fast_writes),
		       stats.metadata_ram_bytes);
		break;

	case STATUSTYPE_TABLE:
		DMEMIT("%s", st->dev->name);
		if (!sis_feature_count(st))
			break;
		DMEMIT(" %u", sis_feature_count(st));
		if (!f->discard_passdown)
			DMEMIT(" " SIS_FEAT_NO_DISCARD_PASSDOWN);
		if (!f->zero_detect)
			DMEMIT(" " SIS_FEAT_SKIP_ZERO_DETECTION);
		if (f->error_if_no_space)
			DMEMIT(" " SIS_FEAT_ERROR_IF_NO_SPACE);
		if (f->read_only)
			DMEMIT(" " SIS_FEAT_READ_ONLY);
		if (f->commit_interval != SIS_COMMIT_INTERVAL_DEFAULT)
			DMEMIT(" " SIS_FEAT_COMMIT_INTERVAL " %u", f->commit_interval);
		if (f->low_water_mark)
			DMEMIT(" " SIS_FEAT_LOW_WATER_MARK " %llu", f->low_water_mark);
		if (st->vol)
			DMEMIT(" " SIS_FEAT_VOLUME " %u", st->vol);
		break;

	case STATUSTYPE_IMA:
		*result = '\0';
		break;
	}
}

static int sis_message(struct dm_target *ti, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	struct sis_target *st = ti->private;
	struct sis_pool *pool = st->pool;
	struct sis_core_stats stats;
	unsigned int op;
	int r;

	for (op = 0; argc && op < ARRAY_SIZE(sis_vol_msgs); op++)
		if (!strcasecmp(argv[0], sis_vol_msgs[op].word))
			return sis_vol_message(st, op, argc, argv, result, maxlen);
	if (argc != 1) {
		DMWARN("%s: message takes one word: %s, %s, %s or %s (or a volume message)",
		       pool->name, SIS_MSG_RESET_STATS, SIS_MSG_DROP_CACHE,
		       SIS_MSG_COMMIT, SIS_MSG_READ_ONLY);
		return -EINVAL;
	}

	if (!strcasecmp(argv[0], SIS_MSG_RESET_STATS)) {
		sis_core_get_stats(pool->core, &stats);
		WRITE_ONCE(pool->commits_base, stats.commits);
		atomic64_set(&pool->stat_written, 0);
		atomic64_set(&pool->stat_new_data, 0);
		atomic64_set(&pool->stat_zero, 0);
		atomic64_set(&pool->stat_hits, 0);
		atomic64_set(&pool->stat_misses, 0);
		atomic64_set(&pool->stat_dedup, 0);
		atomic64_set(&pool->stat_fast_reads, 0);
		atomic64_set(&pool->stat_fast_writes, 0);
		return 0;
	}
	if (!strcasecmp(argv[0], SIS_MSG_DROP_CACHE)) {
		pcache_drop(0);
		sis_core_drop_cache(pool->core);
		return 0;
	}
	if (!strcasecmp(argv[0], SIS_MSG_COMMIT)) {
		r = sis_pool_commit(pool);
		if (r)
			DMERR("%s: commit failed: %d", pool->name, r);
		return r;
	}
	if (!strcasecmp(argv[0], SIS_MSG_READ_ONLY)) {
		sis_core_set_read_only(pool->core);
		DMINFO("%s: switched to read-only mode on request", pool->name);
		sis_pool_raise_event(pool);
		return 0;
	}

	DMWARN("%s: unknown message '%s'", pool->name, argv[0]);
	return -EINVAL;
}

static int sis_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct sis_target *st = ti->private;
	sector_t len = bdev_nr_sectors(st->dev->bdev) &
		       ~(sector_t)(SIS_SECTORS_PER_BLOCK - 1);

	return fn(ti, st->dev, 0, len, data);
}

static void sis_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	limits->physical_block_size = max_t(unsigned int,
					    limits->physical_block_size,
					    SIS_BLOCK_SIZE);
	limits->io_min = max_t(unsigned int, limits->io_min, SIS_BLOCK_SIZE);
	limits->io_opt = SIS_BLOCK_SIZE;
	limits->discard_granularity = SIS_BLOCK_SIZE;
	limits->max_hw_discard_sectors = SIS_MAX_DISCARD_SECTORS;
	/* 6.1 stacks this one; 6.9+ recomputes it from the hw limit */
	limits->max_discard_sectors = SIS_MAX_DISCARD_SECTORS;
}

/* ---------------------------------------------------------------- */
/* The module                                                       */
/* ---------------------------------------------------------------- */

static struct target_type sis_target = {
	.name = SIS_TARGET_NAME,
	.version = {1, 0, 0},
	.module = THIS_MODULE,
	.ctr = sis_ctr,
	.dtr = sis_dtr,
	.map = sis_map,
	.end_io = sis_read_end_io,
	.presuspend = sis_pool_presuspend,
	.presuspend_undo = sis_pool_presuspend_undo,
	.postsuspend = sis_pool_postsuspend,
	.preresume = sis_pool_preresume,
	.resume = sis_pool_resume,
	.status = sis_status,
	.message = sis_message,
	.iterate_devices = sis_iterate_devices,
	.io_hints = sis_io_hints,
};

static int __init dm_sis_init(void)
{
	int r;

	r = sis_write_init();
	if (r)
		return r;
	r = pcache_init();
	if (r)
		goto bad_pool;
	r = dm_register_target(&sis_target);
	if (r) {
		DMERR("register failed %d", r);
		goto bad_cache;
	}
	return 0;

bad_cache:
	pcache_exit();
bad_pool:
	sis_write_exit();
	return r;
}

static void __exit dm_sis_exit(void)
{
	dm_unregister_target(&sis_target);
	pcache_exit();
	sis_write_exit();
}

module_init(dm_sis_init);
module_exit(dm_sis_exit);

MODULE_DESCRIPTION(DM_NAME " target deduplicating 4 KiB blocks inline (sis)");
MODULE_AUTHOR("dm-sis developers");
MODULE_LICENSE("GPL");
