/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: nothing of the scheduler is needed (wait_bit.h polls). */
#ifndef _COMPAT_LINUX_SCHED_H
#define _COMPAT_LINUX_SCHED_H
#endif /* _COMPAT_LINUX_SCHED_H */
