/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: the parts of <linux/kernel.h> the core uses.
 *
 * WARN_ON() prints and counts (sis_compat_warnings) instead of tainting, so a
 * test can fail on any warning; BUG_ON() aborts.
 */
#ifndef _COMPAT_LINUX_KERNEL_H
#define _COMPAT_LINUX_KERNEL_H

#include <stdio.h>
#include <stdlib.h>
#include <linux/types.h>
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/printk.h>
#include <linux/math64.h>
#include <asm/byteorder.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define DIV_ROUND_UP_ULL(n, d)	DIV_ROUND_UP((unsigned long long)(n), (d))
#define __round_mask(x, y)	((__typeof__(x))((y) - 1))
#define round_up(x, y)		((((x) - 1) | __round_mask(x, y)) + 1)
#define round_down(x, y)	((x) & ~__round_mask(x, y))
#define roundup(x, y)		((((x) + ((y) - 1)) / (y)) * (y))
#define rounddown(x, y)		((x) - ((x) % (y)))
#define ALIGN(x, a)		(((x) + ((__typeof__(x))(a) - 1)) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a)	(((x) & ((__typeof__(x))(a) - 1)) == 0)
#define lower_32_bits(n)	((u32)((n) & 0xffffffff))
#define upper_32_bits(n)	((u32)(((n) >> 16) >> 16))

extern unsigned long sis_compat_warnings;
void sis_compat_warn(const char *file, int line, const char *cond);

#define WARN_ON(cond) ({						\
	int __ret_warn = !!(cond);					\
	if (unlikely(__ret_warn))					\
		sis_compat_warn(__FILE__, __LINE__, #cond);		\
	unlikely(__ret_warn);						\
})
#define WARN_ON_ONCE(cond)	WARN_ON(cond)
#define WARN(cond, fmt, ...) ({						\
	int __ret_warn = !!(cond);					\
	if (unlikely(__ret_warn)) {					\
		fprintf(stderr, fmt, ##__VA_ARGS__);			\
		sis_compat_warn(__FILE__, __LINE__, #cond);		\
	}								\
	unlikely(__ret_warn);						\
})
#define WARN_ONCE(cond, fmt, ...) WARN(cond, fmt, ##__VA_ARGS__)
#define BUG() do {							\
	fprintf(stderr, "BUG at %s:%d\n", __FILE__, __LINE__);		\
	abort();							\
} while (0)
#define BUG_ON(cond) do { if (unlikely(cond)) BUG(); } while (0)

#define might_sleep()		do { } while (0)
#define cond_resched()		do { } while (0)

#endif /* _COMPAT_LINUX_KERNEL_H */
