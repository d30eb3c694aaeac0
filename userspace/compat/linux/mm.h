/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: kvmalloc lived in <linux/mm.h> before 6.x. */
#ifndef _COMPAT_LINUX_MM_H
#define _COMPAT_LINUX_MM_H

#include <linux/slab.h>

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)

#endif /* _COMPAT_LINUX_MM_H */
