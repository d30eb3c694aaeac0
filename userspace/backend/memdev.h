/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A RAM block device for tests, with power-loss simulation.
 *
 * Every write lands in a volatile layer (a log of pending writes, newest
 * wins for reads); memdev_flush() makes every pending write durable.
 * memdev_crash() is a power cut: each pending write survives with a given
 * probability, survivors land in a random order (the device may reorder
 * its volatile cache), and one pending write may be torn (each 512-byte
 * sector old or new).  Blocks are allocated lazily (an unwritten block
 * reads as zeros), so a large sparse device costs 16 bytes per block.
 *
 * Faults: memdev_die_after() makes the device lose power after n more
 * writes: from then on every op returns -EIO and writes are dropped, until
 * memdev_crash().  fail_read/fail_write name one block whose I/O returns
 * -EIO.  Discarded blocks read back as 0xdd bytes (poison), so a discard of
 * live data is caught by the data checks.
 *
 * Not thread-safe by itself: a mutex serialises every op.
 */
#ifndef SIS_MEMDEV_H
#define SIS_MEMDEV_H

#include <pthread.h>
#include <linux/types.h>
#include "../../dm-sis/core/sis-core.h"

struct memdev_pending {
	u64 blocknr;
	u8 *buf;
};

struct memdev_extent {
	u64 start, count;
};

struct memdev {
	pthread_mutex_t lock;
	u64 nr_blocks;
	u8 **durable;			/* NULL: zeros */
	u8 **latest;			/* newest pending image, or NULL */
	struct memdev_pending *log;	/* pending writes, oldest first */
	size_t log_len, log_cap;
	u64 rng;

	/* fault injection */
	long long die_after;		/* writes left before power loss; <0 off */
	bool dead;
	u64 fail_read, fail_write;	/* block that fails, U64_MAX: none */
	bool fail_flush;
	bool lie_flush;			/* flush "succeeds" but lands nothing */

	/*
	 * async_discard: a discard only queues its extent (@dq), as a
	 * block device's discard in flight; memdev_discard_wait() does them
	 */
	bool async_discard;
	struct memdev_extent *dq;
	size_t dq_len, dq_cap;

	/* statistics */
	u64 reads, writes, flushes, discards, discarded_blocks, discard_waits;
};

struct memdev *memdev_create(u64 nr_blocks, u64 seed);
void memdev_destroy(struct memdev *d);
/* Grow (or shrink) the device; new blocks read as zeros. */
int memdev_resize(struct memdev *d, u64 nr_blocks);

int memdev_read(void *ctx, u64 blocknr, void *buf);
int memdev_write(void *ctx, u64 blocknr, const void *buf);
int memdev_flush(void *ctx);
int memdev_discard(void *ctx, u64 blocknr, u64 count);
/* Do the discards queued in async_discard mode; the first error. */
int memdev_discard_wait(void *ctx);
/* Fill @ops with this device's ops (discard included, log to stderr). */
void memdev_ops(struct memdev *d, struct sis_io_ops *ops);

/*
 * Power cut: drop pending writes except a random @survive_pct percent, in a
 * random order; if @tear, one pending write (the newest) is torn instead.
 * Clears the dead state.  Returns the number of writes that survived.
 */
size_t memdev_crash(struct memdev *d, unsigned int survive_pct, bool tear);
void memdev_die_after(struct memdev *d, long long writes);
size_t memdev_pending(struct memdev *d);

/* Durable image of a block (ignores pending writes); zeros if never written. */
void memdev_read_durable(struct memdev *d, u64 blocknr, void *buf);
/* Overwrite a block durably, bypassing faults (for corruption tests). */
void memdev_poke(struct memdev *d, u64 blocknr, const void *buf);

/* Copy the whole durable state of @src into a new device. */
struct memdev *memdev_clone(struct memdev *src);

/* A file-backed device for the tools: pread/pwrite/fdatasync. */
struct filedev {
	int fd;
	u64 nr_blocks;
	bool read_only;
};

int filedev_open(struct filedev *f, const char *path, bool read_only);
void filedev_close(struct filedev *f);
int filedev_read(void *ctx, u64 blocknr, void *buf);
int filedev_write(void *ctx, u64 blocknr, const void *buf);
int filedev_flush(void *ctx);
int filedev_discard(void *ctx, u64 blocknr, u64 count);
void filedev_ops(struct filedev *f, struct sis_io_ops *ops);

/*
 * A stderr logger usable as sis_io_ops.log (honours SIS_LOGLEVEL); while
 * sis_backend_mute is set it prints nothing (crash simulation is noisy).
 */
void sis_backend_log(void *ctx, int level, const char *msg);
extern int sis_backend_mute;

#endif /* SIS_MEMDEV_H */
