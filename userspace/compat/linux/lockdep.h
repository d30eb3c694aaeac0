/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: lockdep_assert_held() lives with the mutex. */
#ifndef _COMPAT_LINUX_LOCKDEP_H
#define _COMPAT_LINUX_LOCKDEP_H

#include <linux/mutex.h>

#endif /* _COMPAT_LINUX_LOCKDEP_H */
