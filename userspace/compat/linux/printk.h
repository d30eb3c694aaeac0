/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: printk to stderr.  Messages above sis_compat_loglevel
 * (default 4: errors and warnings) are dropped, so corruption tests stay
 * quiet; set SIS_LOGLEVEL=7 in the environment to see everything.
 */
#ifndef _COMPAT_LINUX_PRINTK_H
#define _COMPAT_LINUX_PRINTK_H

#include <stdarg.h>
#include <stdio.h>
#include <linux/compiler.h>

#define KERN_EMERG	"\0010"
#define KERN_ALERT	"\0011"
#define KERN_CRIT	"\0012"
#define KERN_ERR	"\0013"
#define KERN_WARNING	"\0014"
#define KERN_NOTICE	"\0015"
#define KERN_INFO	"\0016"
#define KERN_DEBUG	"\0017"

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

__printf(1, 2) int printk(const char *fmt, ...);

#define pr_emerg(fmt, ...)	printk(KERN_EMERG pr_fmt(fmt), ##__VA_ARGS__)
#define pr_crit(fmt, ...)	printk(KERN_CRIT pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err(fmt, ...)	printk(KERN_ERR pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...)	printk(KERN_WARNING pr_fmt(fmt), ##__VA_ARGS__)
#define pr_notice(fmt, ...)	printk(KERN_NOTICE pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...)	printk(KERN_INFO pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...)	printk(KERN_DEBUG pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err_ratelimited	pr_err
#define pr_warn_ratelimited	pr_warn
#define pr_warn_once		pr_warn

/* snprintf/scnprintf: the libc ones (scnprintf returns what was stored). */
int scnprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

#endif /* _COMPAT_LINUX_PRINTK_H */
