/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: a mutex on pthreads that knows its owner, so
 * lockdep_assert_held() really checks (and counts a warning when it fails).
 */
#ifndef _COMPAT_LINUX_MUTEX_H
#define _COMPAT_LINUX_MUTEX_H

#include <pthread.h>
#include <linux/kernel.h>

struct mutex {
	pthread_mutex_t m;
	pthread_t owner;
	bool held;
};

#define DEFINE_MUTEX(name) \
	struct mutex name = { .m = PTHREAD_MUTEX_INITIALIZER }

static inline void mutex_init(struct mutex *l)
{
	pthread_mutex_init(&l->m, NULL);
	l->held = false;
}

static inline void mutex_destroy(struct mutex *l)
{
	WARN_ON(l->held);
	pthread_mutex_destroy(&l->m);
}

static inline void mutex_lock(struct mutex *l)
{
	pthread_mutex_lock(&l->m);
	l->owner = pthread_self();
	l->held = true;
}

static inline int mutex_trylock(struct mutex *l)
{
	if (pthread_mutex_trylock(&l->m))
		return 0;
	l->owner = pthread_self();
	l->held = true;
	return 1;
}

static inline void mutex_unlock(struct mutex *l)
{
	WARN_ON(!l->held || !pthread_equal(l->owner, pthread_self()));
	l->held = false;
	pthread_mutex_unlock(&l->m);
}

static inline bool mutex_is_locked(struct mutex *l)
{
	return READ_ONCE(l->held);
}

#define mutex_lock_nested(l, subclass)	mutex_lock(l)

/* Works for struct mutex and spinlock_t alike: both have owner and held. */
#define lockdep_assert_held(l) \
	WARN_ON(!(l)->held || !pthread_equal((l)->owner, pthread_self()))
#define lockdep_assert_not_held(l) \
	WARN_ON((l)->held && pthread_equal((l)->owner, pthread_self()))

#endif /* _COMPAT_LINUX_MUTEX_H */
