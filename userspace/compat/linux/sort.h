/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: sort() as lib/sort.c (heapsort: in place, not stable). */
#ifndef _COMPAT_LINUX_SORT_H
#define _COMPAT_LINUX_SORT_H

#include <linux/types.h>

typedef int (*cmp_func_t)(const void *a, const void *b);
typedef void (*swap_func_t)(void *a, void *b, int size);

void sort(void *base, size_t num, size_t size, cmp_func_t cmp_func,
	  swap_func_t swap_func);

#endif /* _COMPAT_LINUX_SORT_H */
