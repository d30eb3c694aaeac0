// SPDX-License-Identifier: GPL-2.0
/*
 * RAM device with power-loss simulation (see memdev.h for the model).
 *
 * The volatile layer is a log of pending writes in issue order plus, per
 * block, a pointer to the newest pending image for reads.  A flush replays
 * the log into the durable layer; a crash replays a random subset in a
 * random order, optionally tearing one write at 512-byte granularity.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kernel.h>
#include "memdev.h"

#define BS	SIS_BLOCK_SIZE
#define SECTOR	512

static u64 rnd(struct memdev *d)
{
	u64 z = (d->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "memdev: out of memory (%zu bytes)\n", n);
		abort();
	}
	return p;
}

struct memdev *memdev_create(u64 nr_blocks, u64 seed)
{
	struct memdev *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	pthread_mutex_init(&d->lock, NULL);
	d->rng = seed;
	d->die_after = -1;
	d->fail_read = U64_MAX;
	d->fail_write = U64_MAX;
	if (memdev_resize(d, nr_blocks)) {
		free(d);
		return NULL;
	}
	return d;
}

int memdev_resize(struct memdev *d, u64 nr_blocks)
{
	u8 **dur, **lat;
	u64 i;

	pthread_mutex_lock(&d->lock);
	for (i = nr_blocks; i < d->nr_blocks; i++) {
		free(d->durable[i]);
		d->durable[i] = NULL;
		d->latest[i] = NULL;
	}
	dur = realloc(d->durable, (nr_blocks ? nr_blocks : 1) * sizeof(*dur));
	lat = dur ? realloc(d->latest, (nr_blocks ? nr_blocks : 1) * sizeof(*lat)) : NULL;
	if (!dur || !lat) {
		if (dur)
			d->durable = dur;
		pthread_mutex_unlock(&d->lock);
		return -ENOMEM;
	}
	for (i = d->nr_blocks; i < nr_blocks; i++) {
		dur[i] = NULL;
		lat[i] = NULL;
	}
	d->durable = dur;
	d->latest = lat;
	d->nr_blocks = nr_blocks;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void drop_log(struct memdev *d)
{
	size_t i;

	for (i = 0; i < d->log_len; i++) {
		if (d->log[i].blocknr < d->nr_blocks)
			d->latest[d->log[i].blocknr] = NULL;
		free(d->log[i].buf);
	}
	d->log_len = 0;
}

void memdev_destroy(struct memdev *d)
{
	u64 i;

	if (!d)
		return;
	drop_log(d);
	free(d->log);
	free(d->dq);
	for (i = 0; i < d->nr_blocks; i++)
		free(d->durable[i]);
	free(d->durable);
	free(d->latest);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void land(struct memdev *d, u64 blocknr, const u8 *buf)
{
	if (blocknr >= d->nr_blocks)
		return;		/* the device shrank under a pending write */
	if (!d->durable[blocknr])
		d->durable[blocknr] = xmalloc(BS);
	memcpy(d->durable[blocknr], buf, BS);
}

static void durable_image(struct memdev *d, u64 blocknr, void *buf)
{
	if (d->durable[blocknr])
		memcpy(buf, d->durable[blocknr], BS);
	else
		memset(buf, 0, BS);
}

int memdev_read(void *ctx, u64 blocknr, void *buf)
{
	struct memdev *d = ctx;
	int r = 0;

	pthread_mutex_lock(&d->lock);
	d->reads++;
	if (d->dead || blocknr == d->fail_read || blocknr >= d->nr_blocks)
		r = -EIO;
	else if (d->latest[blocknr])
		memcpy(buf, d->latest[blocknr], BS);
	else
		durable_image(d, blocknr, buf);
	pthread_mutex_unlock(&d->lock);
	return r;
}

/*
 * Room for one more element of @size in the array *@arr of *@cap, @len in
 * use: doubled (64 at first) when full.  Return: 0 or -ENOMEM.
 */
static int room_for_one(void **arr, size_t *cap, size_t len, size_t size)
{
	size_t n = *cap ? *cap * 2 : 64;
	void *a;

	if (len < *cap)
		return 0;
	a = realloc(*arr, n * size);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = n;
	return 0;
}

static int __write(struct memdev *d, u64 blocknr, const void *buf)
{
	struct memdev_pending *p;

	d->writes++;
	if (d->dead || blocknr == d->fail_write || blocknr >= d->nr_blocks)
		return -EIO;
	if (d->die_after >= 0 && d->die_after-- == 0) {
		d->dead = true;
		return -EIO;
	}
	if (room_for_one((void **)&d->log, &d->log_cap, d->log_len,
			 sizeof(*d->log)))
		return -ENOMEM;
	p = &d->log[d->log_len++];
	p->blocknr = blocknr;
	p->buf = xmalloc(BS);
	memcpy(p->buf, buf, BS);
	d->latest[blocknr] = p->buf;
	return 0;
}

int memdev_write(void *ctx, u64 blocknr, const void *buf)
{
	struct memdev *d = ctx;
	int r;

	pthread_mutex_lock(&d->lock);
	r = __write(d, blocknr, buf);
	pthread_mutex_unlock(&d->lock);
	return r;
}

int memdev_flush(void *ctx)
{
	struct memdev *d = ctx;
	size_t i;
	int r = 0;

	pthread_mutex_lock(&d->lock);
	d->flushes++;
	if (d->dead || d->fail_flush) {
		r = -EIO;
	} else if (!d->lie_flush) {
		for (i = 0; i < d->log_len; i++)
			land(d, d->log[i].blocknr, d->log[i].buf);
		drop_log(d);
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* Discard (poison) @count blocks from @blocknr; d->lock held. */
static int __discard(struct memdev *d, u64 blocknr, u64 count)
{
	u8 poison[BS];
	u64 i;
	int r = 0;

	memset(poison, 0xdd, BS);
	if (blocknr > d->nr_blocks || count > d->nr_blocks - blocknr)
		r = -EIO;
	for (i = 0; !r && i < count; i++) {
		r = __write(d, blocknr + i, poison);
		d->writes--;
	}
	if (!r)
		d->discarded_blocks += count;
	return r;
}

int memdev_discard(void *ctx, u64 blocknr, u64 count)
{
	struct memdev *d = ctx;
	int r = 0;

	pthread_mutex_lock(&d->lock);
	d->discards++;
	if (!d->async_discard) {
		r = __discard(d, blocknr, count);
	} else {
		r = room_for_one((void **)&d->dq, &d->dq_cap, d->dq_len,
				 sizeof(*d->dq));
		if (!r)
			d->dq[d->dq_len++] = (struct memdev_extent){ blocknr, count };
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

int memdev_discard_wait(void *ctx)
{
	struct memdev *d = ctx;
	int r = 0, r2;
	size_t i;

	pthread_mutex_lock(&d->lock);
	d->discard_waits++;
	for (i = 0; i < d->dq_len; i++) {
		r2 = __discard(d, d->dq[i].start, d->dq[i].count);
		r = r ? r : r2;
	}
	d->dq_len = 0;
	pthread_mutex_unlock(&d->lock);
	return r;
}

int sis_backend_mute;

void sis_backend_log(void *ctx, int level, const char *msg)
{
	static int max = -1;

	(void)ctx;
	if (sis_backend_mute)
		return;
	if (max < 0) {
		const char *e = getenv("SIS_LOGLEVEL");

		max = e ? atoi(e) : 4;
	}
	if (level <= max)
		fprintf(stderr, "sis<%d>: %s\n", level, msg);
}

void memdev_ops(struct memdev *d, struct sis_io_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->read = memdev_read;
	ops->write = memdev_write;
	ops->flush = memdev_flush;
	ops->discard = memdev_discard;
	ops->log = sis_backend_log;
	ops->ctx = d;
}

static void tear(struct memdev *d, u64 blocknr, const u8 *new)
{
	u8 img[BS];
	unsigned int s, mask;

	if (blocknr >= d->nr_blocks)
		return;
	durable_image(d, blocknr, img);
	/* at least one sector old and one new, so the write really tore */
	do {
		mask = rnd(d) & 0xff;
	} while (mask == 0 || mask == 0xff);
	for (s = 0; s < BS / SECTOR; s++)
		if (mask & (1U << s))
			memcpy(img + s * SECTOR, new + s * SECTOR, SECTOR);
	land(d, blocknr, img);
}

size_t memdev_crash(struct memdev *d, unsigned int survive_pct, bool do_tear)
{
	size_t i, n = 0, torn = SIZE_MAX;
	size_t *order;

	pthread_mutex_lock(&d->lock);
	if (do_tear && d->log_len)
		torn = d->log_len - 1;
	order = xmalloc((d->log_len + 1) * sizeof(*order));
	for (i = 0; i < d->log_len; i++)
		if (i != torn && rnd(d) % 100 < survive_pct)
			order[n++] = i;
	for (i = n; i > 1; i--) {
		size_t j = rnd(d) % i, t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	for (i = 0; i < n; i++)
		land(d, d->log[order[i]].blocknr, d->log[order[i]].buf);
	if (torn != SIZE_MAX)
		tear(d, d->log[torn].blocknr, d->log[torn].buf);
	free(order);
	drop_log(d);
	d->dead = false;
	d->die_after = -1;
	pthread_mutex_unlock(&d->lock);
	return n;
}

void memdev_die_after(struct memdev *d, long long writes)
{
	pthread_mutex_lock(&d->lock);
	d->die_after = writes;
	pthread_mutex_unlock(&d->lock);
}

size_t memdev_pending(struct memdev *d)
{
	size_t n;

	pthread_mutex_lock(&d->lock);
	n = d->log_len;
	pthread_mutex_unlock(&d->lock);
	return n;
}

void memdev_read_durable(struct memdev *d, u64 blocknr, void *buf)
{
	pthread_mutex_lock(&d->lock);
	if (blocknr < d->nr_blocks)
		durable_image(d, blocknr, buf);
	else
		memset(buf, 0, BS);
	pthread_mutex_unlock(&d->lock);
}

void memdev_poke(struct memdev *d, u64 blocknr, const void *buf)
{
	pthread_mutex_lock(&d->lock);
	land(d, blocknr, buf);
	if (blocknr < d->nr_blocks && d->latest[blocknr])
		memcpy(d->latest[blocknr], buf, BS);
	pthread_mutex_unlock(&d->lock);
}

struct memdev *memdev_clone(struct memdev *src)
{
	struct memdev *d = memdev_create(src->nr_blocks, src->rng);
	u64 i;

	if (!d)
		return NULL;
	pthread_mutex_lock(&src->lock);
	for (i = 0; i < src->nr_blocks; i++)
		if (src->durable[i])
			land(d, i, src->durable[i]);
	pthread_mutex_unlock(&src->lock);
	return d;
}
