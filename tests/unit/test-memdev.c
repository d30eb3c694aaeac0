// SPDX-License-Identifier: GPL-2.0
/* The test backends themselves: the RAM device's crash model, the file device. */
#include <stdlib.h>
#include <unistd.h>
#include "harness.h"

static void fill(u8 *b, u8 v)
{
	memset(b, v, SIS_BLOCK_SIZE);
}

TEST(memdev_flush_and_crash)
{
	u8 a[SIS_BLOCK_SIZE], b[SIS_BLOCK_SIZE];
	struct memdev *d = memdev_create(16, 1);

	fill(a, 1);
	ASSERT_OK(memdev_write(d, 3, a));
	ASSERT_OK(memdev_read(d, 3, b));
	ASSERT_EQ(b[100], 1);			/* reads see pending writes */
	memdev_read_durable(d, 3, b);
	ASSERT_EQ(b[100], 0);
	ASSERT_OK(memdev_flush(d));
	memdev_read_durable(d, 3, b);
	ASSERT_EQ(b[100], 1);
	fill(a, 2);
	ASSERT_OK(memdev_write(d, 3, a));
	ASSERT_EQ(memdev_crash(d, 0, false), 0);	/* all lost */
	ASSERT_OK(memdev_read(d, 3, b));
	ASSERT_EQ(b[100], 1);
	ASSERT_OK(memdev_write(d, 4, a));
	ASSERT_EQ(memdev_crash(d, 100, false), 1);	/* all kept */
	ASSERT_OK(memdev_read(d, 4, b));
	ASSERT_EQ(b[100], 2);
	ASSERT_ERR(memdev_read(d, 16, b), -EIO);
	memdev_destroy(d);
}

TEST(memdev_torn_write_mixes_sectors)
{
	u8 a[SIS_BLOCK_SIZE], b[SIS_BLOCK_SIZE];
	struct memdev *d = memdev_create(4, 7);
	int s, old = 0, new = 0;

	fill(a, 1);
	ASSERT_OK(memdev_write(d, 0, a));
	ASSERT_OK(memdev_flush(d));
	fill(a, 2);
	ASSERT_OK(memdev_write(d, 0, a));
	memdev_crash(d, 100, true);
	ASSERT_OK(memdev_read(d, 0, b));
	for (s = 0; s < 8; s++) {
		ASSERT_EQ(memchr_inv(b + s * 512, b[s * 512], 512), 0);
		old += b[s * 512] == 1;
		new += b[s * 512] == 2;
	}
	ASSERT_EQ(old + new, 8);
	ASSERT_TRUE(old > 0 && new > 0);
	memdev_destroy(d);
}

TEST(memdev_dies_after_n_writes)
{
	u8 a[SIS_BLOCK_SIZE];
	struct memdev *d = memdev_create(8, 1);

	fill(a, 5);
	memdev_die_after(d, 2);
	ASSERT_OK(memdev_write(d, 0, a));
	ASSERT_OK(memdev_write(d, 1, a));
	ASSERT_ERR(memdev_write(d, 2, a), -EIO);
	ASSERT_ERR(memdev_flush(d), -EIO);
	ASSERT_ERR(memdev_read(d, 0, a), -EIO);
	memdev_crash(d, 0, false);
	ASSERT_OK(memdev_read(d, 0, a));
	ASSERT_EQ(a[0], 0);
	memdev_destroy(d);
}

TEST(filedev_round_trip)
{
	char path[] = "/tmp/sis-filedev-XXXXXX";
	u8 a[SIS_BLOCK_SIZE], b[SIS_BLOCK_SIZE];
	struct filedev f;
	int fd = mkstemp(path);

	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(ftruncate(fd, 10 * SIS_BLOCK_SIZE));
	close(fd);
	ASSERT_OK(filedev_open(&f, path, false));
	ASSERT_EQ(f.nr_blocks, 10);
	fill(a, 9);
	ASSERT_OK(filedev_write(&f, 9, a));
	ASSERT_OK(filedev_flush(&f));
	ASSERT_OK(filedev_read(&f, 9, b));
	ASSERT_EQ(memcmp(a, b, sizeof(a)), 0);
	ASSERT_ERR(filedev_read(&f, 10, b), -EIO);
	ASSERT_OK(filedev_discard(&f, 9, 1));
	filedev_close(&f);
	ASSERT_OK(filedev_open(&f, path, true));
	ASSERT_ERR(filedev_write(&f, 0, a), -EROFS);
	filedev_close(&f);
	unlink(path);
}
