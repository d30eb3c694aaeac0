// SPDX-License-Identifier: GPL-2.0
/*
 * check.c: the consistency walk finds what was damaged on purpose (a leaked
 * count, an under-count, a dangling mapping, a wrong counter, a data block
 * whose content no longer matches its fingerprint) and repair fixes it.
 */
#include "harness.h"
#include "../../dm-sis/core/core-internal.h"

#define PHYS	2048
#define LOGICAL	10000
#define JOURNAL	256

static void populate(struct fx *f)
{
	u64 l;

	fx_format_journal(f, PHYS, LOGICAL, JOURNAL);
	for (l = 0; l < 200; l++)
		ASSERT_OK(fx_write(f, l * 7, l % 40 + 1));
	sis_core_close(f->c);	/* checkpointed: everything at home */
	f->c = NULL;
	f->cfg.flags = SIS_OPEN_READ_ONLY;
	ASSERT_OK(fx_open(f));
}

/* Change the refcount of the block lblock 0 maps by @delta, on disk. */
static void bump_refcount(struct fx *f, int delta)
{
	struct sis_disk_rc_page rcp;
	u64 p, g, rcb, i;

	ASSERT_OK(sis_core_lookup(f->c, 0, 0, &p));
	g = (p - f->c->data_start) / SIS_GROUP_BLOCKS;
	rcb = sis_group_rc_block(f->c, g);
	i = p - rcb - 1;
	memdev_read_durable(f->d, rcb, &rcp);
	rcp.e[i].refcount = cpu_to_le32(le32_to_cpu(rcp.e[i].refcount) + delta);
	sis_block_seal(f->c, &rcp, SIS_BT_RC, rcb, le64_to_cpu(rcp.hdr.seq));
	memdev_poke(f->d, rcb, &rcp);
	sis_core_close(f->c);
	f->cfg.flags = SIS_OPEN_IGNORE_CHECK;
	ASSERT_OK(fx_open(f));
}

static void repair_clean(struct fx *f)
{
	struct sis_check_result res;
	struct sis_check_ops ops = { 0 };
	u64 l;

	memset(&res, 0, sizeof(res));
	ASSERT_OK(sis_core_repair(f->c, &ops, &res));
	if (getenv("SIS_VERBOSE"))
		fprintf(stderr, "  repaired %llu\n", res.repaired);
	fx_check_clean(f);
	fx_reopen(f);
	fx_check_clean(f);
	for (l = 0; l < 200; l++)
		fx_expect(f, l * 7, l % 40 + 1);
}

TEST(clean_device_checks_clean)
{
	struct sis_check_result res;
	struct fx f;

	populate(&f);
	fx_check(&f, &res, true);
	ASSERT_EQ(res.errors, 0);
	ASSERT_EQ(res.leaks, 0);
	ASSERT_EQ(res.mapped, 200);
	ASSERT_EQ(res.data_blocks, 40);
	fx_destroy(&f);
}

TEST(leak_found_and_repaired)
{
	struct sis_check_result res;
	struct fx f;

	populate(&f);
	bump_refcount(&f, +1);
	fx_check(&f, &res, false);
	ASSERT_EQ(res.errors, 0);
	ASSERT_EQ(res.leaks, 1);
	repair_clean(&f);
	fx_destroy(&f);
}

TEST(undercount_found_and_repaired)
{
	struct sis_check_result res;
	struct fx f;

	populate(&f);
	bump_refcount(&f, -1);
	fx_check(&f, &res, false);
	ASSERT_TRUE(res.errors >= 1);
	repair_clean(&f);
	fx_destroy(&f);
}

TEST(changed_data_found)
{
	struct sis_check_result res;
	u8 junk[SIS_BLOCK_SIZE];
	struct fx f;
	u64 p;

	populate(&f);
	ASSERT_OK(sis_core_lookup(f.c, 0, 7, &p));
	gen_block(999, junk);
	memdev_poke(f.d, p, junk);
	fx_check(&f, &res, true);
	ASSERT_TRUE(res.errors + res.info >= 1);
	fx_destroy(&f);
}

TEST(dangling_mapping_found)
{
	struct sis_check_result res;
	struct fx f;

	populate(&f);
	bump_refcount(&f, -1);
	/* lblock 0's block shares with others: drop all counts to zero */
	{
		struct sis_disk_rc_page rcp;
		u64 p, rcb, i, g;

		ASSERT_OK(sis_core_lookup(f.c, 0, 0, &p));
		g = (p - f.c->data_start) / SIS_GROUP_BLOCKS;
		rcb = sis_group_rc_block(f.c, g);
		i = p - rcb - 1;
		memdev_read_durable(f.d, rcb, &rcp);
		rcp.e[i].refcount = 0;
		sis_block_seal(f.c, &rcp, SIS_BT_RC, rcb, le64_to_cpu(rcp.hdr.seq));
		memdev_poke(f.d, rcb, &rcp);
		sis_core_close(f.c);
		ASSERT_OK(fx_open(&f));
	}
	fx_check(&f, &res, false);
	ASSERT_TRUE(res.errors >= 1);
	repair_clean(&f);
	fx_destroy(&f);
}

/* sis-core.h: res->repaired counts "problems fixed by sis_core_repair()". */
TEST(repair_counts_what_it_fixed)
{
	struct sis_check_result res;
	struct sis_check_ops ops = { 0 };
	struct fx f;

	populate(&f);
	bump_refcount(&f, +1);
	memset(&res, 0, sizeof(res));
	ASSERT_OK(sis_core_repair(f.c, &ops, &res));
	ASSERT_TRUE(res.repaired >= 1);
	fx_destroy(&f);
}
