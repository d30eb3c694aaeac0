/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sis: the offline device handling shared by sis-meta.c and sis-vol.c.
 *
 * A struct sis_dev is a block device or an image file opened through the
 * file backend, with the core's I/O ops pointing at it.  A block device is
 * also claimed with O_EXCL for as long as it is open, so an offline
 * command never runs on a device an active target uses.  Defined in
 * sis-meta.c.
 */
#ifndef SIS_DEV_H
#define SIS_DEV_H

#include <linux/types.h>
#include "sis-core.h"
#include "memdev.h"

struct sis_dev {
	const char *path;
	struct filedev f;
	struct sis_io_ops ops;
	int excl_fd;		/* block devices: the O_EXCL claim */
	bool is_blk;
};

/*
 * Open @path (read-only unless @write); a block device in use (EBUSY) is
 * refused.  Prints the reason; returns 0 or -errno.
 */
int sis_dev_open(struct sis_dev *d, const char *path, bool write);
/*
 * Open @path read-only without the O_EXCL claim, dropping its cached pages
 * first: for reading the committed volume table of a pool an active target
 * uses (sis volume --dm).  Never for anything that reads the map.
 */
int sis_dev_open_shared(struct sis_dev *d, const char *path);
void sis_dev_close(struct sis_dev *d);
/* strerror() for the core's errno codes, in the core's own meanings. */
const char *sis_core_strerror(int r);
/*
 * Report why sis_core_open() failed on @d; returns the exit code: for
 * check (@check) 4 damaged metadata or 8 not something to check, else 1.
 */
int sis_open_failure(struct sis_dev *d, int r, const char *errmsg, bool check);
/* Exactly one positional argument left (the device): 0, else usage exit. */
int sis_one_device(int argc, char **argv, const char **dev);

#endif /* SIS_DEV_H */
