// SPDX-License-Identifier: GPL-2.0
/*
 * signature.c - what a device holds when it is not dm-sis metadata: the one
 * check behind both refusals to format a used disk, the kernel target's
 * (formatting a blank device on `dmsetup create`) and `sis format`'s.
 *
 * It looks where other storage stacks put their magic: the first
 * SIS_SIG_HEAD_BLOCKS blocks (filesystems, partition tables, LUKS, LVM,
 * md 1.1/1.2, dm-vdo, swap) and the last SIS_SIG_TAIL_BLOCKS (md 0.90 and
 * 1.0 superblocks, the GPT backup header), so that, for example, a btrfs
 * filesystem (first superblock at 64 KiB, first 64 KiB zero) or an md array
 * with its superblock at the end is never taken for a blank disk.  It is
 * not libblkid: it covers what a user is likely to point dm-sis at by
 * mistake.  The device size is taken in whole 4 KiB blocks; a signature in
 * a partial last block is not seen.
 *
 * Pure logic over the ops table; no lock, no state.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "core-internal.h"

#define SIS_SIG_HEAD_BLOCKS	17	/* 68 KiB: btrfs at 64 KiB + 64 */
#define SIS_SIG_TAIL_BLOCKS	32	/* 128 KiB: md 0.90 lies within */

/* One signature: @what names it, @refusal is the whole static message. */
struct sis_sig {
	const char *what;
	const char *refusal;
};

enum {
	SIG_SIS, SIG_EXT, SIG_XFS, SIG_BTRFS, SIG_LUKS, SIG_SWAP, SIG_VDO,
	SIG_LVM, SIG_GPT, SIG_MD, SIG_NTFS, SIG_FAT, SIG_ISO, SIG_MBR,
};

static const struct sis_sig sis_sigs[] = {
	[SIG_SIS] = { "dm-sis metadata",
		"device holds dm-sis metadata: not formatting it" },
	[SIG_EXT] = { "an ext2/ext3/ext4 filesystem",
		"device holds an ext2/ext3/ext4 filesystem: not formatting it" },
	[SIG_XFS] = { "an XFS filesystem",
		"device holds an XFS filesystem: not formatting it" },
	[SIG_BTRFS] = { "a btrfs filesystem",
		"device holds a btrfs filesystem: not formatting it" },
	[SIG_LUKS] = { "a LUKS header",
		"device holds a LUKS header: not formatting it" },
	[SIG_SWAP] = { "a swap area",
		"device holds a swap area: not formatting it" },
	[SIG_VDO] = { "dm-vdo metadata",
		"device holds dm-vdo metadata: not formatting it" },
	[SIG_LVM] = { "an LVM2 physical volume",
		"device holds an LVM2 physical volume: not formatting it" },
	[SIG_GPT] = { "a GPT partition table",
		"device holds a GPT partition table: not formatting it" },
	[SIG_MD] = { "an md RAID member",
		"device holds an md RAID member: not formatting it" },
	[SIG_NTFS] = { "an NTFS filesystem",
		"device holds an NTFS filesystem: not formatting it" },
	[SIG_FAT] = { "a FAT filesystem",
		"device holds a FAT filesystem: not formatting it" },
	[SIG_ISO] = { "an ISO 9660 filesystem",
		"device holds an ISO 9660 filesystem: not formatting it" },
	[SIG_MBR] = { "an MBR partition table",
		"device holds an MBR partition table: not formatting it" },
};

static bool at(const u8 *h, size_t len, size_t off, const void *m, size_t n)
{
	return off + n <= len && !memcmp(h + off, m, n);
}

static const u8 md_magic[] = { 0xfc, 0x4e, 0x2b, 0xa9 };	/* a92b4efc LE */

/* What the first @len bytes of a device say it holds, or -1. */
static int head_signature(const u8 *h, size_t len)
{
	static const u8 luks[] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
	static const u8 ext_magic[] = { 0x53, 0xef };
	u8 sis[8];
	int i;

	for (i = 0; i < 8; i++)
		sis[i] = (u8)(SIS_MAGIC >> (8 * i));
	if (at(h, len, 32, sis, 8) || at(h, len, SIS_BLOCK_SIZE + 32, sis, 8))
		return SIG_SIS;
	if (at(h, len, 1080, ext_magic, 2))
		return SIG_EXT;
	if (at(h, len, 0, "XFSB", 4))
		return SIG_XFS;
	if (at(h, len, 65600, "_BHRfS_M", 8))
		return SIG_BTRFS;
	if (at(h, len, 0, luks, sizeof(luks)))
		return SIG_LUKS;
	if (at(h, len, 4086, "SWAPSPACE2", 10) || at(h, len, 4086, "SWAP-SPACE", 10))
		return SIG_SWAP;
	if (at(h, len, 0, "dmvdo001", 8))
		return SIG_VDO;
	for (i = 0; i < 4; i++)		/* the label may be in sectors 0-3 */
		if (at(h, len, 512 * i, "LABELONE", 8))
			return SIG_LVM;
	if (at(h, len, 512, "EFI PART", 8))
		return SIG_GPT;
	if (at(h, len, 0, md_magic, 4) || at(h, len, 4096, md_magic, 4))
		return SIG_MD;			/* md 1.1 at 0, 1.2 at 4 KiB */
	if (at(h, len, 3, "NTFS    ", 8))
		return SIG_NTFS;
	if (at(h, len, 82, "FAT32   ", 8) || at(h, len, 54, "FAT16   ", 8) ||
	    at(h, len, 54, "FAT12   ", 8))
		return SIG_FAT;
	if (at(h, len, 32769, "CD001", 5))
		return SIG_ISO;
	if (at(h, len, 510, "\x55\xaa", 2))
		for (i = 0; i < 4; i++)	/* a partition entry of a non-zero type */
			if (h[446 + 16 * i + 4])
				return SIG_MBR;
	return -1;
}

/*
 * What the last @len bytes of a device of @size bytes say it holds, or -1.
 * @t[0] is the byte at @size - @len.
 */
static int tail_signature(const u8 *t, size_t len, u64 size)
{
	u64 start = size - len;
	u64 md090 = (size & ~(u64)65535) - 65536;	/* MD_NEW_SIZE_SECTORS */
	u64 md10 = ((size >> 9) - 16) & ~(u64)7;	/* in sectors */

	if (md090 >= start && at(t, len, md090 - start, md_magic, 4))
		return SIG_MD;
	if ((md10 << 9) >= start && at(t, len, (md10 << 9) - start, md_magic, 4))
		return SIG_MD;
	if (at(t, len, len - 512, "EFI PART", 8))
		return SIG_GPT;			/* the backup GPT header */
	return -1;
}

static int read_blocks(const struct sis_io_ops *ops, u64 first, unsigned int nr,
		       u8 *buf)
{
	unsigned int i;
	int r;

	for (i = 0; i < nr; i++) {
		r = ops->read(ops->ctx, first + i, buf + (size_t)i * SIS_BLOCK_SIZE);
		if (r)
			return r;
	}
	return 0;
}

/**
 * sis_foreign_signature() - does a device hold something other than dm-sis?
 * @ops:             how to read the device (only @ops->read is used)
 * @physical_blocks: the device size in 4 KiB blocks
 * @what:            out: NULL when nothing is recognised, else a static
 *                   description ("a btrfs filesystem")
 * @refusal:         out (may be NULL): a static message refusing to format
 *                   ("device holds a btrfs filesystem: not formatting it")
 *
 * Reads the head and the tail of the device.  May sleep.
 *
 * Return: 0 (see @what), -ENOMEM, or the read error.
 */
int sis_foreign_signature(const struct sis_io_ops *ops, u64 physical_blocks,
			  const char **what, const char **refusal)
{
	unsigned int nhead = min_t(u64, physical_blocks, SIS_SIG_HEAD_BLOCKS);
	unsigned int ntail = min_t(u64, physical_blocks, SIS_SIG_TAIL_BLOCKS);
	size_t bytes = (size_t)max(nhead, ntail) * SIS_BLOCK_SIZE;
	int sig = -1, r;
	u8 *buf;

	*what = NULL;
	if (refusal)
		*refusal = NULL;
	buf = kvmalloc(bytes, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	r = read_blocks(ops, 0, nhead, buf);
	if (!r)
		sig = head_signature(buf, (size_t)nhead * SIS_BLOCK_SIZE);
	if (!r && sig < 0) {
		r = read_blocks(ops, physical_blocks - ntail, ntail, buf);
		if (!r)
			sig = tail_signature(buf, (size_t)ntail * SIS_BLOCK_SIZE,
					     physical_blocks * SIS_BLOCK_SIZE);
	}
	kvfree(buf);
	if (!r && sig >= 0) {
		*what = sis_sigs[sig].what;
		if (refusal)
			*refusal = sis_sigs[sig].refusal;
	}
	return r;
}
