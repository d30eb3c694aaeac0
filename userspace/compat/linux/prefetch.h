/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: cache prefetch hints (the compiler's builtins). */
#ifndef _COMPAT_LINUX_PREFETCH_H
#define _COMPAT_LINUX_PREFETCH_H

#define prefetch(x)		__builtin_prefetch(x)
#define prefetchw(x)		__builtin_prefetch(x, 1)

#endif /* _COMPAT_LINUX_PREFETCH_H */
