/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: vmalloc is kmalloc. */
#ifndef _COMPAT_LINUX_VMALLOC_H
#define _COMPAT_LINUX_VMALLOC_H

#include <linux/slab.h>

#define vmalloc(size)		kmalloc(size, GFP_KERNEL)
#define vzalloc(size)		kzalloc(size, GFP_KERNEL)
#define vfree(p)		kfree(p)

#endif /* _COMPAT_LINUX_VMALLOC_H */
