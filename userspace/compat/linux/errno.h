/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: the uapi errno values are the kernel's.  libc's <errno.h>
 * reaches this file as <linux/errno.h>, so pass on to the real one.
 */
#ifndef _COMPAT_LINUX_ERRNO_H
#define _COMPAT_LINUX_ERRNO_H

#include_next <linux/errno.h>
#include <errno.h>

#endif /* _COMPAT_LINUX_ERRNO_H */
