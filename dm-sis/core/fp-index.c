// SPDX-License-Identifier: GPL-2.0
/*
 * fp-index.c - the fingerprint index: fingerprint -> candidate block, in RAM.
 *
 * There is no index on disk.  Every refcount entry already holds its
 * block's fingerprint, and the allocator fills groups in order, so the
 * refcount page of a group is a "chapter": the fingerprints of up to 254
 * blocks written at about the same time.  Two RAM structures find them:
 *
 *  - C, the record index: the fingerprints of the rc pages resident "for
 *    dedup" (the allocator's current group, and groups loaded by a hook
 *    hit), c_slots pages at most (a clock evicts the coldest).  Each slot
 *    keeps a copy of its page's fingerprints; an open-addressing table of
 *    entries (32 bits of the fingerprint's hash, slot and index) finds
 *    them.  A match is exact (full 64-bit fingerprint), so probing C reads
 *    no disk; the stored hash spares a probe, and a deletion's moves, the
 *    look into the slot's page of every other entry of the cluster (at
 *    scale those were cache misses: a third of a unique write's time).
 *  - H, the hook table: fingerprints whose low 3 bits are zero ("hooks", 1
 *    in 8) map to their group.  Buckets of one cache line hold 10 slots of
 *    48 bits (a 20-bit tag, a 28-bit group number + 1); the bucket is
 *    chosen by linear hashing on the low bits of fp >> 3, so the table
 *    grows by splitting buckets, each split using one more bit of the tag.
 *    Sized for 90% load when every data block holds unique data: 64 bytes
 *    per 72 physical blocks (0.89 byte per block, 227 MiB per TiB).  A full
 *    bucket replaces a slot in turn: less dedup, never wrong.
 *
 * A lookup probes C; if the fingerprint is a hook and H names groups not in
 * C, their rc pages are read (the one metadata read of a duplicate), loaded
 * into C, and C is probed again.  A unique write (no C match, not a hook or
 * no H match) reads nothing.  Everything here is advice: the caller
 * validates a candidate against its refcount entry (in use, same
 * fingerprint) and then compares the data byte for byte.
 *
 * Insert when a block is allocated (its group enters C), remove when it is
 * freed.  Both are built at open by one sequential scan of the used rc
 * pages; an aborted transaction leaves entries that validation drops.
 * Nothing here allocates after open (growth allocates before taking the
 * lock), so no index operation fails.
 *
 * All functions but sis_index_alloc(), sis_index_free(),
 * sis_hooks_alloc() and sis_hooks_free() are called with c->lock held.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/hash.h>
#include <linux/bitops.h>
#include <linux/prefetch.h>
#include "core-internal.h"

#define HOOK_MASK		7ULL		/* a hook: fp & HOOK_MASK == 0 */
#define HOOK_SLOTS		10
#define HOOK_TAG_BITS		20
#define HOOK_GROUP_BITS		28
#define HOOK_MAX_GROUP		((1ULL << HOOK_GROUP_BITS) - 2)
#define HOOK_BLOCKS_PER_BUCKET	72		/* 8 blocks per hook x 9 */
#define HOOK_MIN_BUCKETS	16
#define C_MIN_SLOTS		32
/*
 * Entering or evicting a whole page touches 254 random entries of ctab, a
 * cache miss each at scale: the home of the entry this many ahead is
 * prefetched, so the misses overlap instead of queueing.
 */
#define C_PREFETCH_AHEAD	8
#define C_NONE			U64_MAX

/**
 * struct sis_hook_bucket - one cache line of H
 * @slot: @nr slots of 48 bits, little-endian: group + 1 (bits 0-27), tag
 *        (bits 28-47)
 * @nr:   slots in use, packed at the front
 * @hand: the slot a full bucket replaces next
 */
struct sis_hook_bucket {
	u8 slot[HOOK_SLOTS][6];
	u8 nr;
	u8 hand;
	u8 pad[2];
};

/**
 * struct sis_hook_table - H
 * @b:         @cap buckets, @nr in use
 * @level:     2^level <= @nr < 2^(level + 1)
 * @tag_shift: the tag is bits tag_shift.. of fp >> 3 (the level at
 *             creation: a split at level L moves the slots whose tag bit
 *             L - tag_shift is set)
 */
struct sis_hook_table {
	struct sis_hook_bucket *b;
	u64 nr, cap;
	u32 level;
	u32 tag_shift;
};

/**
 * struct sis_cpage - one rc page resident in C
 * @group: its group, C_NONE when the slot is free
 * @valid: which of @fp are entered in c->ctab
 * @fp:    the fingerprints of the page's blocks
 * @ref:   used since the clock hand last passed
 */
struct sis_cpage {
	u64 group;
	u64 valid[DIV_ROUND_UP(SIS_RC_PER_PAGE, 64)];
	u64 fp[SIS_RC_PER_PAGE];
	bool ref;
};

/**
 * struct sis_centry - an entry of the linear-probing tables ctab and cgrp
 * @hash: hash_64(key, 32) of its key (fingerprint, group): the home slot is
 *        its top bits, and a probe compares it before looking further
 * @e:    ctab: (slot << 8 | index) + 1; cgrp: slot + 1; 0: empty
 */
struct sis_centry {
	u32 hash;
	u32 e;
};

/* ---- H ---- */

static u64 hook_bucket(const struct sis_hook_table *h, u64 fp)
{
	u64 x = fp >> 3, a = x & ((2ULL << h->level) - 1);

	return a < h->nr ? a : x & ((1ULL << h->level) - 1);
}

static u64 hook_slot_value(const struct sis_hook_table *h, u64 fp, u64 group)
{
	u64 tag = (fp >> (3 + h->tag_shift)) & ((1ULL << HOOK_TAG_BITS) - 1);

	return tag << HOOK_GROUP_BITS | (group + 1);
}

static u64 slot_get(const struct sis_hook_bucket *b, unsigned int i)
{
	u64 v = 0;
	int k;

	for (k = 5; k >= 0; k--)
		v = v << 8 | b->slot[i][k];
	return v;
}

static void slot_set(struct sis_hook_bucket *b, unsigned int i, u64 v)
{
	int k;

	for (k = 0; k < 6; k++, v >>= 8)
		b->slot[i][k] = v & 0xff;
}

static void bucket_add(struct sis_hook_bucket *b, u64 v)
{
	unsigned int i;

	for (i = 0; i < b->nr; i++)
		if (slot_get(b, i) == v)
			return;
	if (b->nr < HOOK_SLOTS) {
		slot_set(b, b->nr++, v);
		return;
	}
	slot_set(b, b->hand, v);	/* full: replace in turn */
	b->hand = (b->hand + 1) % HOOK_SLOTS;
}

static void bucket_del(struct sis_hook_bucket *b, unsigned int i)
{
	slot_set(b, i, slot_get(b, b->nr - 1));
	slot_set(b, --b->nr, 0);
	if (b->hand >= b->nr)
		b->hand = 0;
}

static void hook_insert(struct sis_core *c, u64 fp, u64 group)
{
	struct sis_hook_table *h = c->hooks;

	if ((fp & HOOK_MASK) || group > HOOK_MAX_GROUP)
		return;
	bucket_add(&h->b[hook_bucket(h, fp)], hook_slot_value(h, fp, group));
}

static void hook_remove(struct sis_core *c, u64 fp, u64 group)
{
	struct sis_hook_table *h = c->hooks;
	struct sis_hook_bucket *b;
	u64 v = hook_slot_value(h, fp, group);
	unsigned int i;

	if ((fp & HOOK_MASK) || group > HOOK_MAX_GROUP)
		return;
	b = &h->b[hook_bucket(h, fp)];
	for (i = 0; i < b->nr; i++)
		if (slot_get(b, i) == v) {
			bucket_del(b, i);
			return;
		}
}

/* The groups H names for hook @fp (at most @max). */
static unsigned int hook_find(struct sis_core *c, u64 fp, u64 *groups,
			      unsigned int max)
{
	struct sis_hook_table *h = c->hooks;
	const struct sis_hook_bucket *b = &h->b[hook_bucket(h, fp)];
	u64 tag = hook_slot_value(h, fp, 0) >> HOOK_GROUP_BITS, v;
	unsigned int i, n = 0;

	for (i = 0; i < b->nr && n < max; i++) {
		v = slot_get(b, i);
		if (v >> HOOK_GROUP_BITS == tag)
			groups[n++] = (v & ((1ULL << HOOK_GROUP_BITS) - 1)) - 1;
	}
	return n;
}

static u64 hook_buckets_for(u64 physical_blocks)
{
	return max_t(u64, HOOK_MIN_BUCKETS,
		     DIV_ROUND_UP_ULL(physical_blocks, HOOK_BLOCKS_PER_BUCKET));
}

/**
 * sis_hooks_alloc() - an empty hook table sized for @physical_blocks
 *
 * 64 bytes per 72 physical blocks (at least 16 buckets).  No lock needed.
 *
 * Return: the table, or NULL without memory.
 */
struct sis_hook_table *sis_hooks_alloc(u64 physical_blocks)
{
	struct sis_hook_table *h = kzalloc(sizeof(*h), GFP_KERNEL);

	if (!h)
		return NULL;
	h->cap = hook_buckets_for(physical_blocks);
	h->nr = h->cap;
	h->level = fls64(h->nr) - 1;
	h->tag_shift = h->level;
	h->b = kvcalloc(h->cap, sizeof(*h->b), GFP_KERNEL);
	if (!h->b) {
		kfree(h);
		return NULL;
	}
	return h;
}

void sis_hooks_free(struct sis_hook_table *h)
{
	if (!h)
		return;
	kvfree(h->b);
	kfree(h);
}

/* Split bucket nr - 2^level of @h into itself and bucket nr. */
static void hook_split(struct sis_hook_table *h)
{
	u64 j = h->nr - (1ULL << h->level);
	struct sis_hook_bucket *from = &h->b[j], *to = &h->b[h->nr];
	u32 bit = HOOK_GROUP_BITS + h->level - h->tag_shift;
	unsigned int i = 0;
	u64 v;

	while (i < from->nr) {
		v = slot_get(from, i);
		if (v >> bit & 1) {
			bucket_add(to, v);
			bucket_del(from, i);
		} else {
			i++;
		}
	}
	if (++h->nr == 2ULL << h->level)
		h->level++;
}

/**
 * __sis_hooks_grow() - move H into the larger table *@bigger
 * @bigger: from sis_hooks_alloc(); on return, the table to free (the old
 *          one, or *@bigger itself if it is not larger)
 *
 * Copies the buckets and splits them up to the new size (every hook stays
 * findable).  Needs no memory: the caller allocated before taking c->lock.
 */
void __sis_hooks_grow(struct sis_core *c, struct sis_hook_table **bigger)
{
	struct sis_hook_table *old = c->hooks, *h = *bigger;
	u64 want = h->cap;

	if (want <= old->nr)
		return;
	memcpy(h->b, old->b, old->nr * sizeof(*h->b));
	h->nr = old->nr;
	h->level = old->level;
	h->tag_shift = old->tag_shift;
	/* each split spends a tag bit: stop before the tags run out */
	while (h->nr < want && h->level - h->tag_shift < HOOK_TAG_BITS - 1)
		hook_split(h);
	c->hooks = h;
	*bigger = old;
}

/* ---- C ---- */

static bool c_valid(const struct sis_cpage *cp, u32 idx)
{
	return cp->valid[idx / 64] & BIT_ULL(idx % 64);
}

/* log2 of the smallest power of two >= @n (n >= 1) */
static u32 order_of(u64 n)
{
	return fls64(n - 1);
}

static u64 c_pblock(struct sis_core *c, u64 group, u32 i)
{
	return sis_group_rc_block(c, group) + 1 + i;
}

static void c_split_block(struct sis_core *c, u64 pblock, u64 *group, u32 *i)
{
	u64 rem;

	*group = div64_u64_rem(pblock - c->data_start, SIS_GROUP_BLOCKS, &rem);
	*i = rem - 1;
}

static u32 lp_home(u32 hash, u32 bits)
{
	return hash >> (32 - bits);
}

/* Enter @e with @hash in a linear-probing table of 2^@bits entries. */
static void lp_add(struct sis_centry *tab, u32 bits, u32 hash, u32 e)
{
	u32 mask = (1U << bits) - 1, i = lp_home(hash, bits);

	while (tab[i].e)
		i = (i + 1) & mask;
	tab[i].hash = hash;
	tab[i].e = e;
}

/*
 * Remove @e (of @hash) from a linear-probing table of 2^@bits entries,
 * moving later entries of the cluster back (no tombstones).  Returns
 * false if it is not there.
 */
static bool lp_delete(struct sis_centry *tab, u32 bits, u32 hash, u32 e)
{
	u32 mask = (1U << bits) - 1, i = lp_home(hash, bits), j, k;

	for (; tab[i].e != e; i = (i + 1) & mask)
		if (!tab[i].e)
			return false;
	for (j = i;;) {
		j = (j + 1) & mask;
		if (!tab[j].e)
			break;
		k = lp_home(tab[j].hash, bits);
		/* may tab[j] move to the hole at i? (k not cyclically in (i, j]) */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			tab[i] = tab[j];
			i = j;
		}
	}
	tab[i].e = 0;
	return true;
}

static int cgrp_find(struct sis_core *c, u64 group)
{
	u32 mask = (1U << c->cgrp_bits) - 1, h = hash_64(group, 32);
	u32 i = lp_home(h, c->cgrp_bits);

	for (; c->cgrp[i].e; i = (i + 1) & mask)
		if (c->cgrp[i].hash == h &&
		    c->cpages[c->cgrp[i].e - 1].group == group)
			return c->cgrp[i].e - 1;
	return -1;
}

static void ctab_add(struct sis_core *c, u32 s, u32 idx, u64 fp)
{
	struct sis_cpage *cp = &c->cpages[s];

	cp->fp[idx] = fp;
	cp->valid[idx / 64] |= BIT_ULL(idx % 64);
	lp_add(c->ctab, c->ctab_bits, hash_64(fp, 32), (s << 8 | idx) + 1);
}

static void ctab_del(struct sis_core *c, u32 s, u32 idx)
{
	struct sis_cpage *cp = &c->cpages[s];

	cp->valid[idx / 64] &= ~BIT_ULL(idx % 64);
	WARN_ON(!lp_delete(c->ctab, c->ctab_bits, hash_64(cp->fp[idx], 32),
			   (s << 8 | idx) + 1));
}

/* Prefetch the home entry of @fp in ctab (about to be added or deleted). */
static void ctab_prefetch(struct sis_core *c, u64 fp)
{
	prefetchw(&c->ctab[lp_home(hash_64(fp, 32), c->ctab_bits)]);
}

static void c_evict(struct sis_core *c, u32 s)
{
	struct sis_cpage *cp = &c->cpages[s];
	u8 idx[SIS_RC_PER_PAGE];
	u32 w, n = 0, k;
	u64 bits;

	if (cp->group == C_NONE)
		return;
	for (w = 0; w < ARRAY_SIZE(cp->valid); w++)
		for (bits = cp->valid[w]; bits; bits &= bits - 1)
			idx[n++] = w * 64 + __ffs64(bits);
	for (k = 0; k < n && k < C_PREFETCH_AHEAD; k++)
		ctab_prefetch(c, cp->fp[idx[k]]);
	for (k = 0; k < n; k++) {
		if (k + C_PREFETCH_AHEAD < n)
			ctab_prefetch(c, cp->fp[idx[k + C_PREFETCH_AHEAD]]);
		ctab_del(c, s, idx[k]);
	}
	lp_delete(c->cgrp, c->cgrp_bits, hash_64(cp->group, 32), s + 1);
	cp->group = C_NONE;
}

/* A slot for a new page: a free one, else the clock's victim. */
static u32 c_victim(struct sis_core *c)
{
	struct sis_cpage *cp;
	u32 s;

	for (;;) {
		s = c->c_hand;
		c->c_hand = (c->c_hand + 1) % c->c_slots;
		cp = &c->cpages[s];
		if (cp->group != C_NONE && cp->ref) {
			cp->ref = false;
			continue;
		}
		c_evict(c, s);
		return s;
	}
}

/* Make @group (its rc page is @p) resident in C; returns its slot. */
static u32 c_load(struct sis_core *c, u64 group, const struct sis_disk_rc_page *p)
{
	int found = cgrp_find(c, group);
	u8 idx[SIS_RC_PER_PAGE];
	u32 s, i, n = 0, k;

	if (found >= 0) {
		c->cpages[found].ref = true;
		return found;
	}
	s = c_victim(c);
	c->cpages[s].group = group;
	c->cpages[s].ref = true;
	lp_add(c->cgrp, c->cgrp_bits, hash_64(group, 32), s + 1);
	for (i = 0; i < SIS_RC_PER_PAGE; i++)
		if (p->e[i].refcount && !(le32_to_cpu(p->e[i].flags) & SIS_RC_META))
			idx[n++] = i;
	for (k = 0; k < n && k < C_PREFETCH_AHEAD; k++)
		ctab_prefetch(c, le64_to_cpu(p->e[idx[k]].fp));
	for (k = 0; k < n; k++) {
		if (k + C_PREFETCH_AHEAD < n)
			ctab_prefetch(c, le64_to_cpu(p->e[idx[k + C_PREFETCH_AHEAD]].fp));
		ctab_add(c, s, idx[k], le64_to_cpu(p->e[idx[k]].fp));
	}
	return s;
}

/* The blocks C holds for @fp (at most @max). */
static unsigned int c_find(struct sis_core *c, u64 fp, u64 *out, unsigned int max)
{
	u32 mask = (1U << c->ctab_bits) - 1, h = hash_64(fp, 32), e;
	u32 i = lp_home(h, c->ctab_bits);
	struct sis_cpage *cp;
	unsigned int n = 0;

	for (; c->ctab[i].e && n < max; i = (i + 1) & mask) {
		if (c->ctab[i].hash != h)
			continue;
		e = c->ctab[i].e - 1;
		cp = &c->cpages[e >> 8];
		if (cp->fp[e & 0xff] == fp) {
			cp->ref = true;
			out[n++] = c_pblock(c, cp->group, e & 0xff);
		}
	}
	return n;
}

/* ---- Interface ---- */

/**
 * sis_index_alloc() - allocate H for @physical_blocks and C for the
 * metadata cache limit (c->mc_limit); no lock needed (c not published)
 *
 * C: max(cache_pages / 4, 32) slots of about 6 KiB (the page's
 * fingerprints, up to four 8-byte table entries per fingerprint).
 *
 * Return: 0 or -ENOMEM.
 */
int sis_index_alloc(struct sis_core *c, u64 physical_blocks)
{
	u32 s;

	c->c_slots = max_t(u64, c->mc_limit / 4, C_MIN_SLOTS);
	c->ctab_bits = order_of(2 * c->c_slots * SIS_RC_PER_PAGE);
	c->cgrp_bits = order_of(2 * c->c_slots);
	c->hooks = sis_hooks_alloc(physical_blocks);
	c->cpages = kvcalloc(c->c_slots, sizeof(*c->cpages), GFP_KERNEL);
	c->ctab = kvcalloc(1U << c->ctab_bits, sizeof(*c->ctab), GFP_KERNEL);
	c->cgrp = kvcalloc(1U << c->cgrp_bits, sizeof(*c->cgrp), GFP_KERNEL);
	if (!c->hooks || !c->cpages || !c->ctab || !c->cgrp) {
		sis_index_free(c);
		return -ENOMEM;
	}
	for (s = 0; s < c->c_slots; s++)
		c->cpages[s].group = C_NONE;
	return 0;
}

void sis_index_free(struct sis_core *c)
{
	sis_hooks_free(c->hooks);
	kvfree(c->cpages);
	kvfree(c->ctab);
	kvfree(c->cgrp);
	c->hooks = NULL;
	c->cpages = NULL;
	c->ctab = NULL;
	c->cgrp = NULL;
}

/**
 * sis_index_ram() - bytes of RAM held by H and C
 */
u64 sis_index_ram(struct sis_core *c)
{
	if (!c->hooks)
		return 0;
	return c->hooks->cap * sizeof(struct sis_hook_bucket) + sizeof(*c->hooks) +
	       (u64)c->c_slots * sizeof(struct sis_cpage) +
	       (sizeof(*c->ctab) << c->ctab_bits) +
	       (sizeof(*c->cgrp) << c->cgrp_bits);
}

/**
 * __sis_index_prefetch() - start loading what __sis_index_find(@fp) reads
 * first: its home entry in C and, for a hook, its bucket of H
 *
 * A hint for a batch of look-ups (sis_core_find_dups()): issued for every
 * fingerprint before the first probe, the cache misses of the batch
 * overlap instead of following one another.
 */
void __sis_index_prefetch(struct sis_core *c, u64 fp)
{
	struct sis_hook_table *h = c->hooks;

	ctab_prefetch(c, fp);
	if (!(fp & HOOK_MASK))
		prefetch(&h->b[hook_bucket(h, fp)]);
}

/**
 * __sis_index_find() - candidate blocks for @fp
 * @cand: out: up to @max blocks, each to be validated by the caller
 *
 * Probes C; if @fp is a hook and H names groups not in C, reads their rc
 * pages (metadata reads), loads them into C and probes again.  A
 * fingerprint that is not a hook or not in H costs no read.
 *
 * Return: the number of candidates (> 0), -ENOENT, or a metadata error.
 */
int __sis_index_find(struct sis_core *c, u64 fp, u64 *cand, unsigned int max)
{
	u64 groups[2];
	unsigned int n, i;
	struct sis_page *pg;
	int r;

	n = c_find(c, fp, cand, max);
	if (n)
		return n;
	if (fp & HOOK_MASK)
		return -ENOENT;
	n = hook_find(c, fp, groups, ARRAY_SIZE(groups));
	for (i = 0; i < n; i++) {
		if (groups[i] >= le64_to_cpu(c->root.groups_used) ||
		    cgrp_find(c, groups[i]) >= 0)
			continue;	/* stale, or in C already (no match there) */
		r = __sis_mc_get(c, sis_group_rc_block(c, groups[i]), SIS_BT_RC, &pg);
		if (r)
			return r;
		c->index_hook_loads++;
		c_load(c, groups[i], pg->data);
	}
	n = n ? c_find(c, fp, cand, max) : 0;
	return n ? (int)n : -ENOENT;
}

/**
 * __sis_index_insert() - block @pblock now holds data with @fp
 * @pg: the refcount page of @pblock (resident)
 *
 * Its group becomes resident in C (the allocator's current group) and a
 * hook enters H.
 */
void __sis_index_insert(struct sis_core *c, u64 fp, u64 pblock, struct sis_page *pg)
{
	u64 group;
	u32 idx, s;

	c_split_block(c, pblock, &group, &idx);
	s = c_load(c, group, pg->data);
	if (c_valid(&c->cpages[s], idx)) {
		if (c->cpages[s].fp[idx] == fp)
			goto hook;
		ctab_del(c, s, idx);
	}
	ctab_add(c, s, idx, fp);
hook:
	hook_insert(c, fp, group);
}

/**
 * __sis_index_remove() - block @pblock no longer holds data with @fp
 * (freed, or found stale)
 */
void __sis_index_remove(struct sis_core *c, u64 fp, u64 pblock)
{
	struct sis_cpage *cp;
	u64 group;
	u32 idx;
	int s;

	c_split_block(c, pblock, &group, &idx);
	s = cgrp_find(c, group);
	if (s >= 0) {
		cp = &c->cpages[s];
		if (c_valid(cp, idx) && cp->fp[idx] == fp)
			ctab_del(c, s, idx);
	}
	hook_remove(c, fp, group);
}

/**
 * __sis_index_build() - fill H and C from the used rc pages
 *
 * One sequential pass over groups 0..groups_used-1 (the cached, possibly
 * newer image when a page is in the metadata cache; otherwise read
 * without caching it).  H gets every hook; C the last c_slots groups.  A
 * page that fails verification is skipped (sis check reports it).
 *
 * Return: 0, -ENOMEM or -EIO (the caller may go on without the index).
 */
int __sis_index_build(struct sis_core *c)
{
	u64 used = le64_to_cpu(c->root.groups_used), g, blk;
	u64 c_from = used > c->c_slots ? used - c->c_slots : 0;
	const struct sis_disk_rc_page *p;
	struct sis_page *pg;
	void *buf;
	u32 i;
	int r = 0;

	buf = kmalloc(SIS_BLOCK_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (g = 0; g < used && !r; g++) {
		blk = sis_group_rc_block(c, g);
		pg = __sis_mc_peek(c, blk);
		if (pg && pg->type == SIS_BT_RC) {
			p = pg->data;
		} else {
			r = c->ops.read(c->ops.ctx, blk, buf);
			if (r || sis_block_verify(c, buf, SIS_BT_RC, blk))
				continue;
			p = buf;
		}
		for (i = 0; i < SIS_RC_PER_PAGE; i++)
			if (p->e[i].refcount &&
			    !(le32_to_cpu(p->e[i].flags) & SIS_RC_META))
				hook_insert(c, le64_to_cpu(p->e[i].fp), g);
		if (g >= c_from)
			c_load(c, g, p);
	}
	kfree(buf);
	return r;
}

/**
 * __sis_index_reset() - forget every entry of H and C (before a rebuild)
 */
void __sis_index_reset(struct sis_core *c)
{
	u32 s;

	memset(c->hooks->b, 0, c->hooks->nr * sizeof(*c->hooks->b));
	memset(c->ctab, 0, sizeof(*c->ctab) << c->ctab_bits);
	memset(c->cgrp, 0, sizeof(*c->cgrp) << c->cgrp_bits);
	for (s = 0; s < c->c_slots; s++) {
		memset(&c->cpages[s], 0, sizeof(c->cpages[s]));
		c->cpages[s].group = C_NONE;
	}
}
