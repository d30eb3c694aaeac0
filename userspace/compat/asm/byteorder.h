/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: little-endian conversions (the host order via <endian.h>). */
#ifndef _COMPAT_ASM_BYTEORDER_H
#define _COMPAT_ASM_BYTEORDER_H

#include <endian.h>
#include <linux/types.h>

#define cpu_to_le16(x)	((__le16)htole16(x))
#define cpu_to_le32(x)	((__le32)htole32(x))
#define cpu_to_le64(x)	((__le64)htole64(x))
#define le16_to_cpu(x)	((u16)le16toh(x))
#define le32_to_cpu(x)	((u32)le32toh(x))
#define le64_to_cpu(x)	((u64)le64toh(x))
#define cpu_to_be32(x)	((__be32)htobe32(x))
#define cpu_to_be64(x)	((__be64)htobe64(x))
#define be32_to_cpu(x)	((u32)be32toh(x))
#define be64_to_cpu(x)	((u64)be64toh(x))

#define le16_add_cpu(p, v)	(*(p) = cpu_to_le16(le16_to_cpu(*(p)) + (v)))
#define le32_add_cpu(p, v)	(*(p) = cpu_to_le32(le32_to_cpu(*(p)) + (v)))
#define le64_add_cpu(p, v)	(*(p) = cpu_to_le64(le64_to_cpu(*(p)) + (v)))

#endif /* _COMPAT_ASM_BYTEORDER_H */
