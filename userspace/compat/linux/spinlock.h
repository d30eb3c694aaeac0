/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace shim: spinlocks are owner-tracking pthread mutexes. */
#ifndef _COMPAT_LINUX_SPINLOCK_H
#define _COMPAT_LINUX_SPINLOCK_H

#include <linux/mutex.h>

typedef struct mutex spinlock_t;

#define DEFINE_SPINLOCK(name)		DEFINE_MUTEX(name)
#define spin_lock_init(l)		mutex_init(l)
#define spin_lock(l)			mutex_lock(l)
#define spin_unlock(l)			mutex_unlock(l)
#define spin_trylock(l)			mutex_trylock(l)
#define spin_lock_irq(l)		mutex_lock(l)
#define spin_unlock_irq(l)		mutex_unlock(l)
#define spin_lock_bh(l)			mutex_lock(l)
#define spin_unlock_bh(l)		mutex_unlock(l)
#define spin_lock_irqsave(l, f)		do { (f) = 0; mutex_lock(l); } while (0)
#define spin_unlock_irqrestore(l, f)	do { (void)(f); mutex_unlock(l); } while (0)
#define assert_spin_locked(l)		lockdep_assert_held(l)

#endif /* _COMPAT_LINUX_SPINLOCK_H */
