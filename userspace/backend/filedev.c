// SPDX-License-Identifier: GPL-2.0
/*
 * File or block-device backend for the tools: pread/pwrite/fdatasync.
 * Writes are synchronous to the page cache; flush is fdatasync; discard
 * punches a hole in a regular file (and is a no-op when that fails).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include "memdev.h"

int filedev_open(struct filedev *f, const char *path, bool read_only)
{
	struct stat st;
	u64 bytes;
	int r;

	f->read_only = read_only;
	f->fd = open(path, read_only ? O_RDONLY : O_RDWR);
	if (f->fd < 0)
		return -errno;
	if (fstat(f->fd, &st))
		goto err;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(f->fd, BLKGETSIZE64, &bytes))
			goto err;
	} else {
		bytes = st.st_size;
	}
	f->nr_blocks = bytes / SIS_BLOCK_SIZE;
	return 0;
err:
	r = -errno;
	close(f->fd);
	f->fd = -1;
	return r;
}

void filedev_close(struct filedev *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int filedev_read(void *ctx, u64 blocknr, void *buf)
{
	struct filedev *f = ctx;
	size_t done = 0;

	if (blocknr >= f->nr_blocks)
		return -EIO;
	while (done < SIS_BLOCK_SIZE) {
		ssize_t n = pread(f->fd, (char *)buf + done, SIS_BLOCK_SIZE - done,
				  (off_t)(blocknr * SIS_BLOCK_SIZE + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {	/* short file: the rest reads as zeros */
			memset((char *)buf + done, 0, SIS_BLOCK_SIZE - done);
			break;
		}
		done += n;
	}
	return 0;
}

int filedev_write(void *ctx, u64 blocknr, const void *buf)
{
	struct filedev *f = ctx;
	size_t done = 0;

	if (f->read_only)
		return -EROFS;
	if (blocknr >= f->nr_blocks)
		return -EIO;
	while (done < SIS_BLOCK_SIZE) {
		ssize_t n = pwrite(f->fd, (const char *)buf + done,
				   SIS_BLOCK_SIZE - done,
				   (off_t)(blocknr * SIS_BLOCK_SIZE + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
}

int filedev_flush(void *ctx)
{
	struct filedev *f = ctx;

	if (f->read_only)
		return 0;
	return fdatasync(f->fd) ? -errno : 0;
}

int filedev_discard(void *ctx, u64 blocknr, u64 count)
{
	struct filedev *f = ctx;

	if (f->read_only)
		return -EROFS;
	(void)fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)(blocknr * SIS_BLOCK_SIZE),
			(off_t)(count * SIS_BLOCK_SIZE));
	return 0;
}

void filedev_ops(struct filedev *f, struct sis_io_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->read = filedev_read;
	ops->write = filedev_write;
	ops->flush = filedev_flush;
	ops->discard = filedev_discard;
	ops->log = sis_backend_log;
	ops->ctx = f;
}
