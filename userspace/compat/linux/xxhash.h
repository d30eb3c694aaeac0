/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: XXH64, as lib/xxhash.c. */
#ifndef _COMPAT_LINUX_XXHASH_H
#define _COMPAT_LINUX_XXHASH_H

#include <linux/types.h>

uint64_t xxh64(const void *input, size_t length, uint64_t seed);

#endif /* _COMPAT_LINUX_XXHASH_H */
