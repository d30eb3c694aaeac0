/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The grammar of the device-mapper target "sis": table line, status line and
 * messages.  Shared by the kernel target (the files of dm-sis/) and the
 * userspace tools that build tables and parse `dmsetup status`, so both
 * sides spell every keyword the same way.  docs/target.md describes the same
 * grammar in prose.
 *
 * Table line:
 *
 *   <start> <len> sis <backing dev> [<#feature args> <feature arg>...]
 *
 * <len> is a multiple of SIS_SECTORS_PER_BLOCK sectors: the logical size of
 * the volume the table serves.  Each feature is one argument, except
 * SIS_FEAT_COMMIT_INTERVAL, SIS_FEAT_LOW_WATER_MARK and SIS_FEAT_VOLUME
 * which take a value and count as two (as dm-thin counts its arguments).
 *
 * Pools and volumes: the backing device is a pool of up to SIS_MAX_VOLUMES
 * volumes (include/sis-format.h) sharing one fingerprint index, one set of
 * refcounts and one cached copy of each block.  A table serves one volume
 * (SIS_FEAT_VOLUME, default 0; volume 0 is made when a blank device is
 * formatted); several mapped devices may name one pool, one per volume.
 * Every feature but SIS_FEAT_VOLUME belongs to the pool: the tables of one
 * pool must agree on them.  The SIS_MSG_*_VOLUME messages (to any device of
 * the pool) create, clone, delete and grow volumes.
 *
 * Events: the target raises a dm event (dm_table_event(); `dmsetup wait`,
 * dmeventd) when free space falls below the low-water mark (once per
 * crossing), when the device runs out of space or gets space again, and
 * when the mode leaves "write" (read-only, fail).
 *
 * Status line (STATUSTYPE_INFO), fields separated by one space, in the order
 * of enum sis_status_field:
 *
 *   <mode> <mapped> <used>/<total> <written_bytes> <new_bytes> <ratio>
 *   <zero_blocks> <cache_hits> <cache_misses> <cache_blocks> <commits>
 *   <needs_check> <data_blocks> <dedup_hits> <fast_reads> <index_ram>
 *   <volume> <exclusive> <volumes> <pool_mapped> <fast_writes>
 *   <metadata_ram>
 *
 * <used>/<total> is one whitespace-separated field.  <ratio> is a fixed-point
 * decimal with three digits after the point ("2.500").  New fields are only
 * ever appended.
 */
#ifndef SIS_TARGET_H
#define SIS_TARGET_H

#define SIS_TARGET_NAME			"sis"

/* Feature arguments. */
#define SIS_FEAT_NO_DISCARD_PASSDOWN	"no_discard_passdown"
#define SIS_FEAT_SKIP_ZERO_DETECTION	"skip_zero_detection"
#define SIS_FEAT_ERROR_IF_NO_SPACE	"error_if_no_space"
#define SIS_FEAT_READ_ONLY		"read_only"
#define SIS_FEAT_COMMIT_INTERVAL	"commit_interval"	/* <seconds> */
#define SIS_FEAT_LOW_WATER_MARK		"low_water_mark"	/* <blocks> */
#define SIS_FEAT_VOLUME			"volume"		/* <id> */

#define SIS_COMMIT_INTERVAL_DEFAULT	1	/* seconds */
#define SIS_COMMIT_INTERVAL_MAX		3600	/* seconds */
#define SIS_NO_SPACE_TIMEOUT		60	/* seconds a write waits for space */
#define SIS_FEATURE_ARGS_MAX		10	/* words after <#feature args> */

/* Messages: dmsetup message <dev> 0 <message>. */
#define SIS_MSG_RESET_STATS		"reset_stats"
#define SIS_MSG_DROP_CACHE		"drop_cache"
#define SIS_MSG_COMMIT			"commit"
#define SIS_MSG_READ_ONLY		"read_only"
/* Volume messages: decimal ids (0..SIS_VOL_ID_MAX) and 4 KiB block counts. */
#define SIS_MSG_CREATE_VOLUME		"create_volume"	  /* <id> <blocks> [<name>] */
#define SIS_MSG_CLONE_VOLUME		"clone_volume"	  /* <id> <origin> [<name>] */
#define SIS_MSG_DELETE_VOLUME		"delete_volume"	  /* <id> */
#define SIS_MSG_SET_VOLUME_SIZE		"set_volume_size" /* <id> <blocks> */
#define SIS_MSG_COUNT_EXCLUSIVE		"count_exclusive" /* <id> */

/* Values of the first status field. */
#define SIS_STATUS_MODE_WRITE		"write"
#define SIS_STATUS_MODE_READ_ONLY	"read-only"
#define SIS_STATUS_MODE_OUT_OF_SPACE	"out-of-space"
#define SIS_STATUS_MODE_FAIL		"fail"

/* Values of the needs_check field. */
#define SIS_STATUS_STR_NEEDS_CHECK	"needs_check"
#define SIS_STATUS_STR_CLEAN		"-"

/* A count not known yet (the exclusive field before count_exclusive). */
#define SIS_STATUS_STR_UNKNOWN		"-"

/**
 * enum sis_status_field - position of each field in the status line
 * @SIS_STATUS_MODE:         SIS_STATUS_MODE_*
 * @SIS_STATUS_MAPPED:       logical blocks of this table's volume that map
 *                           a data block (the other fields are pool-wide
 *                           unless they say otherwise)
 * @SIS_STATUS_USED_TOTAL:   "<used>/<total>": physical 4 KiB blocks not free
 *                           (data, block-map pages and fixed metadata) and
 *                           the size of the backing device in blocks
 * @SIS_STATUS_WRITTEN:      bytes written by users since load or reset_stats
 * @SIS_STATUS_NEW_DATA:     of those, bytes that needed a new data block
 * @SIS_STATUS_RATIO:        dedup ratio, pool_mapped / data_blocks ("1.000"
 *                           when nothing is mapped); savings = 1 - 1 / ratio
 * @SIS_STATUS_ZERO_BLOCKS:  all-zero blocks written (unmapped, no data)
 * @SIS_STATUS_CACHE_HITS:   shared-cache lookups of this device that hit
 * @SIS_STATUS_CACHE_MISSES: lookups that read the disk
 * @SIS_STATUS_CACHE_BLOCKS: 4 KiB blocks in the module-wide shared cache
 * @SIS_STATUS_COMMITS:      metadata commits since load or reset_stats
 * @SIS_STATUS_NEEDS_CHECK:  SIS_STATUS_STR_NEEDS_CHECK or SIS_STATUS_STR_CLEAN
 * @SIS_STATUS_DATA_BLOCKS:  physical blocks holding user data (refcount > 0)
 * @SIS_STATUS_DEDUP_HITS:   block writes that shared an existing block
 * @SIS_STATUS_FAST_READS:   reads remapped to the disk in map() (no worker)
 *                           since load or reset_stats
 * @SIS_STATUS_INDEX_RAM:    bytes of RAM of the fingerprint index (hook
 *                           table and record index; format version 2)
 * @SIS_STATUS_VOLUME:       the id of this table's volume
 * @SIS_STATUS_EXCLUSIVE:    blocks only this volume references (what
 *                           deleting it would free), as counted by the last
 *                           SIS_MSG_COUNT_EXCLUSIVE, or SIS_STATUS_STR_UNKNOWN
 * @SIS_STATUS_VOLUMES:      volumes in the pool (being deleted included)
 * @SIS_STATUS_POOL_MAPPED:  mapped blocks of every volume of the pool
 * @SIS_STATUS_FAST_WRITES:  writes done in map() (every block zeros or a
 *                           duplicate found in the shared cache: no worker)
 *                           since load or reset_stats
 * @SIS_STATUS_METADATA_RAM: bytes of RAM of the pool's metadata (the
 *                           metadata cache's pages, the commit buffer, the
 *                           free-space summary): with SIS_STATUS_INDEX_RAM,
 *                           what the pool holds beyond the shared cache
 * @SIS_STATUS_NR_FIELDS:    fields in a status line
 *
 * SIS_STATUS_MIN_FIELDS: the fields every version of the target prints (a
 * parser accepts a line with at least these; later fields are optional).
 */
enum sis_status_field {
	SIS_STATUS_MODE,
	SIS_STATUS_MAPPED,
	SIS_STATUS_USED_TOTAL,
	SIS_STATUS_WRITTEN,
	SIS_STATUS_NEW_DATA,
	SIS_STATUS_RATIO,
	SIS_STATUS_ZERO_BLOCKS,
	SIS_STATUS_CACHE_HITS,
	SIS_STATUS_CACHE_MISSES,
	SIS_STATUS_CACHE_BLOCKS,
	SIS_STATUS_COMMITS,
	SIS_STATUS_NEEDS_CHECK,
	SIS_STATUS_DATA_BLOCKS,
	SIS_STATUS_DEDUP_HITS,
	SIS_STATUS_FAST_READS,
	SIS_STATUS_INDEX_RAM,
	SIS_STATUS_VOLUME,
	SIS_STATUS_EXCLUSIVE,
	SIS_STATUS_VOLUMES,
	SIS_STATUS_POOL_MAPPED,
	SIS_STATUS_FAST_WRITES,
	SIS_STATUS_METADATA_RAM,
	SIS_STATUS_NR_FIELDS,
};

#define SIS_STATUS_MIN_FIELDS	SIS_STATUS_FAST_READS

#endif /* SIS_TARGET_H */
