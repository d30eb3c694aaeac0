/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: wait_var_event() polls its condition, yielding between
 * looks; wake_up_var() has nothing to do.  Only the core's reader drain
 * (sis_core_read_begin()/sis_core_read_end()) uses them.
 */
#ifndef _COMPAT_LINUX_WAIT_BIT_H
#define _COMPAT_LINUX_WAIT_BIT_H

#include <linux/atomic.h>

#define wait_var_event(var, condition) do {				\
	while (!(condition))						\
		cpu_relax();						\
} while (0)

#define wake_up_var(var) do { (void)(var); } while (0)

#endif /* _COMPAT_LINUX_WAIT_BIT_H */
