/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: a seeded PRNG, so runs are reproducible.  Tests seed it
 * with sis_compat_srandom(); the default seed is fixed.
 */
#ifndef _COMPAT_LINUX_RANDOM_H
#define _COMPAT_LINUX_RANDOM_H

#include <linux/types.h>

void sis_compat_srandom(u64 seed);
u32 get_random_u32(void);
u64 get_random_u64(void);
void get_random_bytes(void *buf, size_t len);

#endif /* _COMPAT_LINUX_RANDOM_H */
