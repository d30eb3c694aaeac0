/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-sis on-disk format: every structure that reaches the disk.
 *
 * Shared unchanged by the kernel target, the portable core and the userspace
 * tools: there is one codec, never a second implementation of the format.
 * docs/format.md describes the same layout in prose.
 *
 * Invariants:
 *  - Every structure is little-endian, packed, and exactly one 4 KiB block
 *    (asserted below); every block starts with struct sis_disk_header.
 *  - Every block type has its own checksum salt.  Except for the superblock,
 *    the salt is xored with the device's checksum seed (derived from the
 *    UUID), so blocks left over from an earlier format of the same disk
 *    never verify.
 *  - Every block records its own location (@blocknr), so a misdirected write
 *    or read is detected like a bad checksum.
 *
 * Device layout, in 4 KiB blocks:
 *
 *   0                 superblock copy A
 *   1                 superblock copy B
 *   journal_start     journal_blocks of circular metadata journal
 *   data_start        groups of SIS_GROUP_BLOCKS blocks up to the device end:
 *                     block 0 of a group is its refcount page, the other
 *                     SIS_RC_PER_PAGE blocks hold user data or block-map pages
 *
 * Version 2 has no fingerprint index on disk (version 1 had a region of
 * hash buckets between the journal and the groups): the index is built in
 * RAM from the fingerprints in the refcount pages.  Version 3 makes the
 * device a pool of volumes: the root carries a volume table, each volume
 * has its own block map, and map pages are reference counted so that a
 * clone shares its origin's map (struct sis_disk_volume).  Any other
 * version is refused, naming both.
 */
#ifndef SIS_FORMAT_H
#define SIS_FORMAT_H

#include <linux/types.h>
#include <linux/bits.h>
#include <linux/build_bug.h>

#define SIS_BLOCK_SHIFT		12
#define SIS_BLOCK_SIZE		BIT(SIS_BLOCK_SHIFT)
#define SIS_SECTORS_PER_BLOCK	(SIS_BLOCK_SIZE >> 9)

#define SIS_MAGIC		0x5055444544534953ULL	/* "SISDEDUP" */
#define SIS_VERSION		4

/* Feature flags: a device with an unknown incompat flag is refused. */
#define SIS_FEATURE_INCOMPAT_SUPP	0ULL
#define SIS_FEATURE_RO_COMPAT_SUPP	0ULL

/* Superblock flags. */
#define SIS_SB_CLEAN		BIT(0)	/* shut down cleanly */
#define SIS_SB_NEEDS_CHECK	BIT(1)	/* metadata error seen: run sis check */

/* Block types; the value is also the type's checksum salt. */
enum sis_block_type {
	SIS_BT_SUPERBLOCK	= 0x53425349,	/* "ISBS" */
	SIS_BT_JOURNAL_DESC	= 0x4a445349,
	SIS_BT_JOURNAL_COMMIT	= 0x4a435349,
	/* 0x58495349 ("ISIX") was the version 1 index bucket: never reused */
	SIS_BT_RC		= 0x43525349,
	SIS_BT_MAP_NODE		= 0x4e4d5349,
	SIS_BT_MAP_LEAF		= 0x4c4d5349,
};

/**
 * struct sis_disk_header - the first 32 bytes of every metadata block
 * @csum:    crc32c of bytes 4..4095, seeded with the type's salt (xored with
 *           the device seed for every type but the superblock)
 * @type:    enum sis_block_type
 * @blocknr: where this block belongs on the device
 * @seq:     transaction that last wrote the block
 * @reserved: zero
 */
struct sis_disk_header {
	__le32 csum;
	__le32 type;
	__le64 blocknr;
	__le64 seq;
	__le64 reserved;
} __packed;

#define SIS_HDR_SIZE		32
#define SIS_PAYLOAD_SIZE	(SIS_BLOCK_SIZE - SIS_HDR_SIZE)

/* ---- Volumes ---- */

#define SIS_MAX_VOLUMES		40
#define SIS_VOL_NAME_LEN	32	/* with the terminating NUL */
#define SIS_VOL_ID_MAX		((1U << 24) - 1)
#define SIS_VOL_NO_ORIGIN	0xffffffffU

#define SIS_VOL_USED		BIT(0)	/* the slot holds a volume */
#define SIS_VOL_DELETING	BIT(1)	/* being deleted: its map is freed */

/**
 * struct sis_disk_volume - one volume of the pool (a slot of the root)
 * @id:             the volume's id, 0..SIS_VOL_ID_MAX (unique in the pool)
 * @flags:          SIS_VOL_*; 0: a free slot (all other fields zero)
 * @map_root:       block-map root page, 0: empty map
 * @logical_blocks: exported size
 * @nr_mapped:      logical blocks that map a data block
 * @map_depth:      levels in the block map, >= 1
 * @origin:         id of the volume this one was cloned from, or
 *                  SIS_VOL_NO_ORIGIN (informational: clones are independent)
 * @create_seq:     transaction that created the volume
 * @name:           NUL-terminated, NUL-padded; may be empty
 */
struct sis_disk_volume {
	__le32 id;
	__le32 flags;
	__le64 map_root;
	__le64 logical_blocks;
	__le64 nr_mapped;
	__le32 map_depth;
	__le32 origin;
	__le64 create_seq;
	char name[SIS_VOL_NAME_LEN];
} __packed;

#define SIS_VOLUME_SIZE		80

/**
 * struct sis_disk_root - the state a transaction commits
 *
 * Carried by each journal commit block and, as of the last checkpoint, by
 * the superblock.  Recovery starts from the superblock's root and replays
 * the journal; the root of the last valid commit is the current state.
 * The volume table lives here, so creating, cloning or deleting a volume
 * is atomic with the map and refcount changes of the same transaction.
 */
struct sis_disk_root {
	__le64 physical_blocks;	/* device size the layout covers */
	__le64 nr_data;		/* data blocks with refcount > 0 */
	__le64 nr_meta;		/* blocks holding block-map pages */
	__le64 groups_used;	/* groups whose refcount page was written */
	__le64 alloc_cursor;	/* next block the allocator tries */
	__le32 nr_volumes;	/* slots in use */
	__le32 reserved0;
	__le64 reserved[2];
	struct sis_disk_volume vol[SIS_MAX_VOLUMES];
} __packed;

#define SIS_ROOT_SIZE		(64 + SIS_MAX_VOLUMES * SIS_VOLUME_SIZE)

/**
 * struct sis_disk_superblock - block 0 and block 1
 *
 * Two copies, written alternately at checkpoints; the valid copy with the
 * higher @sb_seq wins.  The journal starts at @tail_seq / @tail_block.
 */
struct sis_disk_superblock {
	struct sis_disk_header hdr;
	__le64 magic;
	__le32 version;
	__le32 block_size;
	__le64 incompat_features;
	__le64 ro_compat_features;
	__le64 compat_features;
	__u8 uuid[16];
	__le32 flags;		/* SIS_SB_* */
	__le32 csum_seed;	/* crc32c of the UUID: salts other blocks */
	__le64 sb_seq;		/* which copy is newer */
	__le64 journal_start;
	__le64 journal_blocks;
	__le64 reserved1[2];	/* zero (version 1: the index region) */
	__le64 data_start;	/* journal_start + journal_blocks */
	__le64 tail_seq;	/* first transaction to replay */
	__le64 tail_block;	/* its offset in the journal */
	__le64 format_time;	/* seconds since the epoch, informational */
	struct sis_disk_root root;
	__u8 pad[SIS_BLOCK_SIZE - SIS_HDR_SIZE - 136 - SIS_ROOT_SIZE];
} __packed;

/* ---- Refcount pages: one per group ---- */

#define SIS_RC_PER_PAGE		254
#define SIS_GROUP_BLOCKS	(SIS_RC_PER_PAGE + 1)

/*
 * The block holds a block-map page; its refcount counts the parents (map
 * pages or volume roots) naming it.
 */
#define SIS_RC_META		BIT(0)

/**
 * struct sis_disk_rc - what is known of one physical block
 * @fp:       fingerprint of the data (valid while @refcount > 0)
 * @refcount: logical blocks mapping it; 0 is free; U32_MAX is saturated
 *            (still exact, but no further sharer is added)
 * @flags:    SIS_RC_*
 */
struct sis_disk_rc {
	__le64 fp;
	__le32 refcount;
	__le32 flags;
} __packed;

struct sis_disk_rc_page {
	struct sis_disk_header hdr;
	struct sis_disk_rc e[SIS_RC_PER_PAGE];
} __packed;

/* ---- Block map: a radix tree of SIS_MAP_FANOUT entries per page ---- */

#define SIS_MAP_FANOUT		508
#define SIS_MAP_MAX_DEPTH	5

/**
 * struct sis_disk_map_page - an interior node or a leaf of the block map
 *
 * Interior: @e[i] is the child page's block, 0 if the subtree is empty.
 * Leaf: @e[i] is the physical block of logical block (base + i), 0 if
 * unmapped (reads as zeros).  A page whose refcount is above 1 is shared by
 * several parents (clones) and is never changed: a write under it copies
 * it first (and every page under a shared page is shared too).
 */
struct sis_disk_map_page {
	struct sis_disk_header hdr;
	__le64 e[SIS_MAP_FANOUT];
} __packed;

/* ---- Journal ---- */

#define SIS_JOURNAL_DESC_MAX	507

/**
 * struct sis_disk_journal_desc - names the pages of a transaction
 * @nr:     images following this block, in order
 * @target: where each image belongs
 *
 * A transaction is one or more (descriptor, images) runs and one commit
 * block, consecutive modulo the journal size.  Every block carries the
 * transaction's sequence number in hdr.seq.
 */
struct sis_disk_journal_desc {
	struct sis_disk_header hdr;
	__le32 nr;
	__le32 reserved;
	__le64 target[SIS_JOURNAL_DESC_MAX];
} __packed;

/**
 * struct sis_disk_journal_commit - seals a transaction
 * @nr_blocks: journal blocks of the transaction before this one
 * @agg_csum:  crc32c over the checksums of those blocks, in order: a torn or
 *             stale block anywhere in the transaction fails recovery of it
 * @root:      the state this transaction commits
 */
struct sis_disk_journal_commit {
	struct sis_disk_header hdr;
	__le32 nr_blocks;
	__le32 agg_csum;
	struct sis_disk_root root;
	__u8 pad[SIS_PAYLOAD_SIZE - 8 - SIS_ROOT_SIZE];
} __packed;

static inline void sis_format_size_asserts(void)
{
	BUILD_BUG_ON(sizeof(struct sis_disk_header) != SIS_HDR_SIZE);
	BUILD_BUG_ON(sizeof(struct sis_disk_volume) != SIS_VOLUME_SIZE);
	BUILD_BUG_ON(sizeof(struct sis_disk_root) != SIS_ROOT_SIZE);
	BUILD_BUG_ON(sizeof(struct sis_disk_superblock) != SIS_BLOCK_SIZE);
	BUILD_BUG_ON(sizeof(struct sis_disk_rc_page) != SIS_BLOCK_SIZE);
	BUILD_BUG_ON(sizeof(struct sis_disk_map_page) != SIS_BLOCK_SIZE);
	BUILD_BUG_ON(sizeof(struct sis_disk_journal_desc) != SIS_BLOCK_SIZE);
	BUILD_BUG_ON(sizeof(struct sis_disk_journal_commit) != SIS_BLOCK_SIZE);
}

#endif /* SIS_FORMAT_H */
