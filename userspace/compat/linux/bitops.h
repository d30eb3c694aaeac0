/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: bit search. */
#ifndef _COMPAT_LINUX_BITOPS_H
#define _COMPAT_LINUX_BITOPS_H

#include <linux/bits.h>
#include <linux/types.h>

/* The index of the lowest set bit of @word; undefined when @word is 0. */
static inline unsigned int __ffs64(u64 word)
{
	return __builtin_ctzll(word);
}

/* The number of set bits of @word. */
static inline unsigned int hweight64(u64 word)
{
	return __builtin_popcountll(word);
}

/* The 1-based index of the highest set bit of @word; 0 when @word is 0. */
static inline int fls64(u64 word)
{
	return word ? 64 - __builtin_clzll(word) : 0;
}

#endif /* _COMPAT_LINUX_BITOPS_H */
