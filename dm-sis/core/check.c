// SPDX-License-Identifier: GPL-2.0
/*
 * check.c - the offline consistency walk and repair (used by `sis check`,
 * `sis repair` and the userspace tests; not built into the module).
 *
 * The check counts the references the block map really holds and compares
 * every refcount with them, the way thin_check does:
 *
 *   refcount > references      a leak: space is lost, no data is at risk
 *   refcount < references      an error: freeing one sharer would free data
 *                              another still maps
 *   mapping to a non-data,
 *   map-page or free block     an error (dangling mapping)
 *
 * Every volume's map is walked.  A map page met a second time (shared by
 * clones) counts one more reference to the page and its subtree is walked
 * again only to count the volume's mappings ("shadow"), so its entries'
 * references are counted once.  Map pages must carry the META flag and a
 * refcount equal to the parents naming them; the root's counters and each
 * volume's mapped count must equal what the walk found; with a data
 * reader, every block in use must still hash to its fingerprint.  There is
 * no index on disk to check: the RAM index is built from the refcount
 * pages checked here.
 *
 * Repair rebuilds everything derivable from the map: refcounts, flags,
 * fingerprints and counters (and the RAM index from them).  It keeps every mapping that
 * names an in-range data block, drops mappings that cannot be valid, unlinks
 * map pages that fail verification (the mappings under them cannot be read
 * by anyone: they read as zeros afterwards, and each is reported), and
 * clears needs_check only when a check after it is clean.
 *
 * RAM: 4 bytes of reference count and 1 bit of map-page mark per block.
 * A bad mapping is remembered as its leaf block and slot, so repair clears
 * it in place for every volume sharing the leaf.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/string.h>
#include "core-internal.h"

#define SIS_CHECK_MAX_BAD_MAPPINGS	65536

struct check_state {
	const struct sis_check_ops *ops;
	struct sis_check_result *res;
	u32 *refs;		/* references found, per block */
	u8 *meta;		/* map pages found, one bit per block */
	u64 *bad;		/* mappings repair must drop: leaf << 9 | slot */
	u64 nr_bad;
	u64 leaf;		/* the leaf whose mappings the walk is at */
	u64 vol_mapped;		/* mappings found in the volume walked */
	u64 found[SIS_MAX_VOLUMES];	/* ...per volume slot */
	bool repair;
	void *buf;
};

__printf(3, 4) static void report(struct check_state *s, enum sis_check_severity sev,
				  const char *fmt, ...)
{
	char msg[200];
	va_list args;

	if (sev == SIS_CHECK_INFO)
		s->res->info++;
	else if (sev == SIS_CHECK_LEAK)
		s->res->leaks++;
	else
		s->res->errors++;
	if (!s->ops || !s->ops->report)
		return;
	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	s->ops->report(s->ops->ctx, sev, msg);
}

static bool meta_test(struct check_state *s, u64 b)
{
	return s->meta[b >> 3] & (1U << (b & 7));
}

static int check_page(struct sis_core *c, void *arg, u64 blocknr, u32 level)
{
	struct check_state *s = arg;

	if (level & SIS_WALK_SHADOW)	/* under a page counted already */
		return 0;
	if (level & SIS_WALK_BAD) {
		report(s, SIS_CHECK_ERROR,
		       "map page %llu (level %u) is bad; mappings under it are lost",
		       (unsigned long long)blocknr, level & ~SIS_WALK_BAD);
		return s->repair ? SIS_WALK_CUT : 0;
	}
	if (!level)
		s->leaf = blocknr;
	if (s->refs[blocknr]++) {
		if (!meta_test(s, blocknr)) {
			report(s, SIS_CHECK_ERROR,
			       "block %llu is both mapped data and a map page",
			       (unsigned long long)blocknr);
			return s->repair ? SIS_WALK_CUT : 0;
		}
		/* shared by clones: count this volume's mappings only */
		return SIS_WALK_SHADOWED;
	}
	s->meta[blocknr >> 3] |= 1U << (blocknr & 7);
	s->res->meta_blocks++;
	return 0;
}

static int check_mapping(struct sis_core *c, void *arg, u64 lblock, u64 pblock,
			 u32 flags)
{
	struct check_state *s = arg;

	if (!sis_is_data_block(c, pblock) || meta_test(s, pblock)) {
		if (flags & SIS_WALK_SHADOW)
			return 0;	/* reported with the first sharer */
		report(s, SIS_CHECK_ERROR,
		       "logical block %llu maps block %llu, which is not a data block",
		       (unsigned long long)lblock, (unsigned long long)pblock);
		if (s->nr_bad < SIS_CHECK_MAX_BAD_MAPPINGS)	/* an error */
			s->bad[s->nr_bad++] = s->leaf << 9 |
				(lblock % SIS_MAP_FANOUT);
		return 0;
	}
	s->vol_mapped++;
	s->res->mapped++;
	if (flags & SIS_WALK_SHADOW)
		return 0;
	if (!s->refs[pblock]++)
		s->res->data_blocks++;
	return 0;
}

/* Compare one refcount page with the references found. */
static void check_group(struct sis_core *c, struct check_state *s, u64 group)
{
	u64 base = sis_group_rc_block(c, group) + 1;
	u64 end = le64_to_cpu(c->root.physical_blocks);
	struct sis_disk_rc_page *p;
	struct sis_page *pg;
	u32 i;

	if (group >= le64_to_cpu(c->root.groups_used)) {
		for (i = 0; i < SIS_RC_PER_PAGE && base + i < end; i++)
			if (s->refs[base + i] || meta_test(s, base + i))
				report(s, SIS_CHECK_ERROR,
				       "block %llu is in use but its group %llu was never allocated from",
				       (unsigned long long)(base + i),
				       (unsigned long long)group);
		return;
	}
	if (__sis_mc_read(c, base - 1, SIS_BT_RC, &pg)) {
		report(s, SIS_CHECK_ERROR,
		       "refcount page %llu of group %llu fails verification",
		       (unsigned long long)(base - 1), (unsigned long long)group);
		return;
	}
	p = pg->data;
	for (i = 0; i < SIS_RC_PER_PAGE; i++) {
		u64 b = base + i;
		u32 count = le32_to_cpu(p->e[i].refcount);
		bool is_meta = le32_to_cpu(p->e[i].flags) & SIS_RC_META;

		if (b >= end) {
			if (count || is_meta)
				report(s, SIS_CHECK_ERROR,
				       "refcount entry beyond the device end (block %llu)",
				       (unsigned long long)b);
			continue;
		}
		if (meta_test(s, b)) {
			if (!is_meta || count != s->refs[b])
				report(s, SIS_CHECK_ERROR,
				       "map page %llu has refcount %u flags %#x, expected %u META",
				       (unsigned long long)b, count,
				       le32_to_cpu(p->e[i].flags), s->refs[b]);
			continue;
		}
		if (is_meta) {
			report(s, SIS_CHECK_LEAK, "block %llu: map page flag, unreferenced",
			       (unsigned long long)b);
			continue;
		}
		if (count > s->refs[b])
			report(s, SIS_CHECK_LEAK, "block %llu: refcount %u, %u references",
			       (unsigned long long)b, count, s->refs[b]);
		else if (count < s->refs[b])
			report(s, SIS_CHECK_ERROR, "block %llu: refcount %u but %u references",
			       (unsigned long long)b, count, s->refs[b]);
		if (s->refs[b] && s->ops && s->ops->read_data) {
			if (s->ops->read_data(s->ops->ctx, b, s->buf))
				report(s, SIS_CHECK_ERROR, "data block %llu unreadable",
				       (unsigned long long)b);
			else if (sis_fingerprint(s->buf) != le64_to_cpu(p->e[i].fp))
				report(s, SIS_CHECK_ERROR,
				       "data block %llu does not match its fingerprint",
				       (unsigned long long)b);
		}
	}
}

static void check_counters(struct sis_core *c, struct check_state *s)
{
	if (c->journal_damaged)
		report(s, SIS_CHECK_ERROR,
		       "metadata journal damaged: transactions after %llu were not replayed",
		       (unsigned long long)c->seq);
	struct sis_disk_volume *v;
	u32 i;

	for (i = 0; i < SIS_MAX_VOLUMES; i++) {
		v = &c->root.vol[i];
		if (le32_to_cpu(v->flags) == SIS_VOL_USED &&
		    le64_to_cpu(v->nr_mapped) != s->found[i])
			report(s, SIS_CHECK_ERROR,
			       "volume %u counts %llu mapped blocks, found %llu",
			       le32_to_cpu(v->id), le64_to_cpu(v->nr_mapped),
			       s->found[i]);
	}
	if (le64_to_cpu(c->root.nr_data) != s->res->data_blocks)
		report(s, SIS_CHECK_ERROR, "root counts %llu data blocks, found %llu",
		       le64_to_cpu(c->root.nr_data), s->res->data_blocks);
	if (le64_to_cpu(c->root.nr_meta) != s->res->meta_blocks)
		report(s, SIS_CHECK_ERROR, "root counts %llu map pages, found %llu",
		       le64_to_cpu(c->root.nr_meta), s->res->meta_blocks);
}

static int state_init(struct sis_core *c, struct check_state *s,
		      const struct sis_check_ops *ops, struct sis_check_result *res)
{
	u64 p = le64_to_cpu(c->root.physical_blocks);

	memset(s, 0, sizeof(*s));
	memset(res, 0, sizeof(*res));
	s->ops = ops;
	s->res = res;
	s->refs = kvcalloc(p, sizeof(*s->refs), GFP_KERNEL);
	s->meta = kvzalloc(DIV_ROUND_UP_ULL(p, 8), GFP_KERNEL);
	s->bad = kvcalloc(SIS_CHECK_MAX_BAD_MAPPINGS, sizeof(*s->bad), GFP_KERNEL);
	s->buf = kmalloc(SIS_BLOCK_SIZE, GFP_KERNEL);
	return s->refs && s->meta && s->bad && s->buf ? 0 : -ENOMEM;
}

static void state_free(struct check_state *s)
{
	kvfree(s->refs);
	kvfree(s->meta);
	kvfree(s->bad);
	kfree(s->buf);
}

/* Walk the maps of every volume (those being deleted too). */
static int __walk_volumes(struct sis_core *c, struct check_state *s)
{
	u32 i;
	int r;

	for (i = 0; i < SIS_MAX_VOLUMES; i++) {
		if (!c->root.vol[i].flags)
			continue;
		s->vol_mapped = 0;
		r = __sis_map_walk(c, &c->root.vol[i], check_mapping, check_page, s);
		if (r)
			return r;
		s->found[i] = s->vol_mapped;
	}
	return 0;
}

static int __check(struct sis_core *c, struct check_state *s)
{
	u64 g;
	int r;

	r = __walk_volumes(c, s);
	if (r)
		return r;
	for (g = 0; g < c->nr_groups; g++) {
		__sis_mc_shrink(c);
		check_group(c, s, g);
	}
	check_counters(c, s);
	return 0;
}

int sis_core_check(struct sis_core *c, const struct sis_check_ops *ops,
		   struct sis_check_result *res)
{
	struct check_state s;
	int r;

	mutex_lock(&c->lock);
	__sis_op_begin(c);
	r = state_init(c, &s, ops, res);
	if (!r)
		r = __check(c, &s);
	if (r == -EILSEQ)	/* a map loop: reported, the walk stopped */
		r = 0;
	state_free(&s);
	__sis_op_end(c);
	mutex_unlock(&c->lock);
	return r;
}

/*
 * Rebuild refcount pages and counters from the references found, then the
 * RAM fingerprint index from the new refcount pages.
 */
static int __rebuild(struct sis_core *c, struct check_state *s)
{
	u64 end = le64_to_cpu(c->root.physical_blocks), g, i, data = 0, meta = 0;
	u64 used = 0;
	int r;

	for (g = 0; g < c->nr_groups; g++) {
		u64 base = sis_group_rc_block(c, g) + 1;

		for (i = 0; i < SIS_RC_PER_PAGE && base + i < end; i++)
			if (s->refs[base + i] || meta_test(s, base + i))
				used = g + 1;
	}
	used = max(used, le64_to_cpu(c->root.groups_used));

	for (g = 0; g < used; g++) {
		u64 base = sis_group_rc_block(c, g) + 1;
		struct sis_disk_rc_page *old = NULL, *p;
		struct sis_page *pg;

		__sis_mc_shrink(c);
		r = __sis_maybe_commit(c);
		if (r)
			return r;
		if (g < le64_to_cpu(c->root.groups_used) &&
		    !__sis_mc_read(c, base - 1, SIS_BT_RC, &pg)) {
			old = kmalloc(SIS_BLOCK_SIZE, GFP_KERNEL);
			if (!old)
				return -ENOMEM;
			memcpy(old, pg->data, SIS_BLOCK_SIZE);
		}
		r = __sis_mc_new(c, base - 1, SIS_BT_RC, &pg);
		if (r) {
			kfree(old);
			return r;
		}
		p = pg->data;
		for (i = 0; !r && i < SIS_RC_PER_PAGE && base + i < end; i++) {
			u64 b = base + i, fp = old ? le64_to_cpu(old->e[i].fp) : 0;

			if (meta_test(s, b)) {
				p->e[i].refcount = cpu_to_le32(s->refs[b]);
				p->e[i].flags = cpu_to_le32(SIS_RC_META);
				meta++;
				continue;
			}
			if (!s->refs[b])
				continue;
			if (s->ops && s->ops->read_data &&
			    !s->ops->read_data(s->ops->ctx, b, s->buf))
				fp = sis_fingerprint(s->buf);
			p->e[i].refcount = cpu_to_le32(s->refs[b]);
			p->e[i].fp = cpu_to_le64(fp);
			data++;
		}
		kfree(old);
		if (r)
			return r;
	}
	c->root.groups_used = cpu_to_le64(used);
	c->root.nr_data = cpu_to_le64(data);
	c->root.nr_meta = cpu_to_le64(meta);
	for (i = 0; i < SIS_MAX_VOLUMES; i++)
		if (le32_to_cpu(c->root.vol[i].flags) == SIS_VOL_USED)
			c->root.vol[i].nr_mapped = cpu_to_le64(s->found[i]);
	c->root_dirty = true;
	r = __sis_commit(c);
	if (r)
		return r;
	__sis_index_reset(c);
	r = __sis_index_build(c);
	if (r)	/* advice only */
		sis_log(c, 4, "fingerprint index incomplete after repair (%d)", r);
	return 0;
}

int sis_core_repair(struct sis_core *c, const struct sis_check_ops *ops,
		    struct sis_check_result *res)
{
	struct sis_check_result after;
	struct check_state s;
	struct sis_page *pg;
	u64 i;
	int r;

	/* commits between steps keep c->lock: the repair's state lives on */
	mutex_lock(&c->commit_mutex);
	mutex_lock(&c->lock);
	c->commit_held = true;
	__sis_op_begin(c);
	r = __sis_check_writable(c);
	if (!r)
		r = state_init(c, &s, NULL, res);
	if (r)
		goto out_unlock;
	s.repair = true;
	r = __walk_volumes(c, &s);
	if (r)
		goto out;
	/* Count what is wrong, then rebuild it all. */
	for (i = 0; i < c->nr_groups; i++) {
		__sis_mc_shrink(c);
		check_group(c, &s, i);
	}
	check_counters(c, &s);
	/* bad mappings are cleared in place: for every sharer of the leaf */
	for (i = 0; i < s.nr_bad; i++) {
		r = __sis_maybe_commit(c);
		if (!r)
			r = __sis_mc_get(c, s.bad[i] >> 9, SIS_BT_MAP_LEAF, &pg);
		if (!r)
			r = __sis_mc_dirty(c, pg);
		if (r)
			goto out;
		((struct sis_disk_map_page *)pg->data)->e[s.bad[i] & 511] = 0;
	}
	s.ops = ops;
	/* blocks the rebuild frees are allocatable at once */
	__sis_summary_forget(c);
	r = __rebuild(c, &s);
	__sis_summary_forget(c);
	if (r)
		goto out;
	res->repaired = res->errors + res->leaks;
	c->journal_damaged = false;	/* the state before the damage is kept */
	state_free(&s);

	r = state_init(c, &s, ops, &after);
	if (!r)
		r = __check(c, &s);
	if (!r && !after.errors && !after.leaks) {
		r = __sis_journal_checkpoint(c);
		if (!r)
			r = __sis_sb_write(c, le32_to_cpu(c->sb.flags) & ~SIS_SB_NEEDS_CHECK);
		if (!r)
			c->needs_check = false;
	} else if (!r) {
		r = -EUCLEAN;
	}
out:
	state_free(&s);
	if (r && r != -EUCLEAN)
		r = __sis_metadata_error(c, r, "repair");
out_unlock:
	c->commit_held = false;
	__sis_op_end(c);
	mutex_unlock(&c->lock);
	mutex_unlock(&c->commit_mutex);
	return r;
}
