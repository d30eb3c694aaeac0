// SPDX-License-Identifier: GPL-2.0
/*
 * md-io.c: metadata I/O for the core, one struct sis_io_ops per pool.
 *
 * The core (core/sis-core.h) does no I/O of its own: it reads, writes,
 * flushes and discards 4 KiB metadata blocks through these ops, with the
 * pool as their context.  This file owns the pool's md_* fields.
 *
 * Invariants:
 *  - A read is synchronous; a write is asynchronous and copies the block
 *    into a page of its own (from the md_pages reserve), so the core's
 *    buffer is free again at once.
 *  - md_inflight counts the writes submitted and not completed; a flush
 *    first waits for it to reach zero, then flushes the disk, so every
 *    write submitted before a flush is durable when the flush returns.
 *  - A write error is kept in md_error (md_lock, IRQ-safe: completions may
 *    run in hard-IRQ context) and returned by the next flush, which
 *    clears it: the core learns of every failed write before it commits.
 *  - A discard only starts: the bios of a passdown round are chained
 *    (md_discard) and all in flight at once; discard_wait waits for them
 *    before the core makes the blocks allocatable.
 *  - Every metadata bio comes from the pool's io_bs and every page from
 *    md_pages, reserves that writes in flight refill, so metadata I/O
 *    makes progress under memory pressure (discard bios come from the
 *    kernel's fs_bio_set, __blkdev_issue_discard()'s own reserve).
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/mempool.h>

#include "dm-sis.h"

/*
 * The page reserve of each pool for metadata I/O: each metadata write holds
 * one page until it completes, so a commit never waits for more than the
 * writes in flight return.
 */
#define SIS_MD_RESERVE_PAGES	64

static int sis_md_read(void *ctx, u64 blocknr, void *buf)
{
	struct sis_pool *pool = ctx;
	struct page *page;
	struct bio *bio;
	int r;

	page = mempool_alloc(pool->md_pages, GFP_NOIO);
	bio = bio_alloc_bioset(pool->bdev, 1, REQ_OP_READ | REQ_META | REQ_SYNC,
			       GFP_NOIO, &pool->io_bs);
	bio->bi_iter.bi_sector = block_to_sector(blocknr);
	__bio_add_page(bio, page, SIS_BLOCK_SIZE, 0);
	r = submit_bio_wait(bio);
	bio_put(bio);
	if (!r)
		memcpy(buf, page_address(page), SIS_BLOCK_SIZE);
	mempool_free(page, pool->md_pages);
	return r;
}

static void sis_md_write_endio(struct bio *bio)
{
	struct sis_pool *pool = bio->bi_private;

	unsigned long flags;

	if (bio->bi_status) {
		/* completions may run in hard-IRQ context (NVMe) */
		spin_lock_irqsave(&pool->md_lock, flags);
		if (!pool->md_error)
			pool->md_error = blk_status_to_errno(bio->bi_status);
		spin_unlock_irqrestore(&pool->md_lock, flags);
	}
	mempool_free(bio_first_page_all(bio), pool->md_pages);
	bio_put(bio);
	if (atomic_dec_and_test(&pool->md_inflight))
		wake_up(&pool->md_wait);
}

/*
 * The block is copied, so the core's buffer (whatever memory it is) is free
 * again at once and the write needs no page of the core's.
 */
static int sis_md_write(void *ctx, u64 blocknr, const void *buf)
{
	struct sis_pool *pool = ctx;
	struct page *page;
	struct bio *bio;

	page = mempool_alloc(pool->md_pages, GFP_NOIO);
	memcpy(page_address(page), buf, SIS_BLOCK_SIZE);
	bio = bio_alloc_bioset(pool->bdev, 1, REQ_OP_WRITE | REQ_META, GFP_NOIO,
			       &pool->io_bs);
	bio->bi_iter.bi_sector = block_to_sector(blocknr);
	__bio_add_page(bio, page, SIS_BLOCK_SIZE, 0);
	bio->bi_end_io = sis_md_write_endio;
	bio->bi_private = pool;
	atomic_inc(&pool->md_inflight);
	submit_bio(bio);
	return 0;
}

static int sis_md_flush(void *ctx)
{
	struct sis_pool *pool = ctx;
	int r, err;

	wait_event(pool->md_wait, !atomic_read(&pool->md_inflight));
	r = blkdev_issue_flush(pool->bdev);

	spin_lock_irq(&pool->md_lock);
	err = pool->md_error;
	pool->md_error = 0;
	spin_unlock_irq(&pool->md_lock);
	return err ? err : r;
}

static int sis_md_discard(void *ctx, u64 blocknr, u64 count)
{
	struct sis_pool *pool = ctx;

	if (!bdev_max_discard_sectors(pool->bdev))
		return 0;
	return __blkdev_issue_discard(pool->bdev, block_to_sector(blocknr),
				      block_to_sector(count), GFP_NOIO,
				      &pool->md_discard);
}

static int sis_md_discard_wait(void *ctx)
{
	struct sis_pool *pool = ctx;
	struct bio *bio = pool->md_discard;
	int r;

	if (!bio)
		return 0;
	pool->md_discard = NULL;
	r = submit_bio_wait(bio);
	bio_put(bio);
	return r;
}

static void sis_md_log(void *ctx, int level, const char *msg)
{
	struct sis_pool *pool = ctx;

	if (level <= 3)
		DMERR("%s: %s", pool->name, msg);
	else if (level == 4)
		DMWARN("%s: %s", pool->name, msg);
	else
		DMINFO("%s: %s", pool->name, msg);
}

int sis_md_init(struct sis_pool *pool)
{
	atomic_set(&pool->md_inflight, 0);
	init_waitqueue_head(&pool->md_wait);
	spin_lock_init(&pool->md_lock);
	pool->md_pages = mempool_create_page_pool(SIS_MD_RESERVE_PAGES, 0);
	if (!pool->md_pages)
		return -ENOMEM;

	pool->ops.read = sis_md_read;
	pool->ops.write = sis_md_write;
	pool->ops.flush = sis_md_flush;
	pool->ops.discard = sis_md_discard;
	pool->ops.discard_wait = sis_md_discard_wait;
	pool->ops.log = sis_md_log;
	pool->ops.ctx = pool;
	return 0;
}

void sis_md_exit(struct sis_pool *pool)
{
	mempool_destroy(pool->md_pages);
}
