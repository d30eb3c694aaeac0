/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: min/max/clamp, evaluating each argument once. */
#ifndef _COMPAT_LINUX_MINMAX_H
#define _COMPAT_LINUX_MINMAX_H

#define min(x, y) ({ __auto_type __x = (x); __auto_type __y = (y); __x < __y ? __x : __y; })
#define max(x, y) ({ __auto_type __x = (x); __auto_type __y = (y); __x > __y ? __x : __y; })
#define min_t(t, x, y)	min((t)(x), (t)(y))
#define max_t(t, x, y)	max((t)(x), (t)(y))
#define min3(x, y, z)	min(min(x, y), z)
#define max3(x, y, z)	max(max(x, y), z)
#define clamp(v, lo, hi)	min(max(v, lo), hi)
#define clamp_t(t, v, lo, hi)	clamp((t)(v), (t)(lo), (t)(hi))
#define swap(a, b) do { __auto_type __t = (a); (a) = (b); (b) = __t; } while (0)

#endif /* _COMPAT_LINUX_MINMAX_H */
