/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: compile-time assertions. */
#ifndef _COMPAT_LINUX_BUILD_BUG_H
#define _COMPAT_LINUX_BUILD_BUG_H

#define BUILD_BUG_ON(cond)	_Static_assert(!(cond), "BUILD_BUG_ON(" #cond ")")
#define BUILD_BUG_ON_MSG(cond, msg) _Static_assert(!(cond), msg)
#undef static_assert
#define static_assert(expr, ...) _Static_assert(expr, "" __VA_ARGS__)

#endif /* _COMPAT_LINUX_BUILD_BUG_H */
