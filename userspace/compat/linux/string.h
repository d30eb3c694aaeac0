/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: libc's string functions plus memchr_inv(). */
#ifndef _COMPAT_LINUX_STRING_H
#define _COMPAT_LINUX_STRING_H

#include <string.h>
#include <linux/types.h>

void *memchr_inv(const void *s, int c, size_t n);

#endif /* _COMPAT_LINUX_STRING_H */
