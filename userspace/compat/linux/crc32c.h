/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: crc32c() with the kernel's semantics: the raw Castagnoli
 * (reflected 0x82f63b78) update of @crc over @p, with no inversion on entry
 * or exit.  crc32c(~0, "123456789", 9) ^ ~0 == 0xe3069283.
 */
#ifndef _COMPAT_LINUX_CRC32C_H
#define _COMPAT_LINUX_CRC32C_H

#include <linux/types.h>

u32 crc32c(u32 crc, const void *p, unsigned int len);

#endif /* _COMPAT_LINUX_CRC32C_H */
