/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: kmalloc and friends on malloc.  GFP flags are ignored.
 *
 * Allocation-failure injection: when sis_compat_fail_alloc_in is set to
 * n > 0, the n-th allocation from now fails (returns NULL) and the counter
 * stops; sis_compat_fail_alloc_every = k makes every k-th allocation fail;
 * sis_compat_fail_alloc_size = s makes every allocation of s bytes fail.
 */
#ifndef _COMPAT_LINUX_SLAB_H
#define _COMPAT_LINUX_SLAB_H

#include <linux/types.h>
#include <linux/string.h>

#define GFP_KERNEL	0x1u
#define GFP_NOIO	0x2u
#define GFP_NOFS	0x4u
#define GFP_NOWAIT	0x8u
#define GFP_ATOMIC	0x10u
#define __GFP_NOWARN	0x20u
#define __GFP_ZERO	0x40u
#define __GFP_NORETRY	0x80u

extern unsigned long sis_compat_fail_alloc_in;
extern unsigned long sis_compat_fail_alloc_every;
extern size_t sis_compat_fail_alloc_size;

void *sis_compat_alloc(size_t size, gfp_t flags);
void sis_compat_free(const void *p);

static inline void *kmalloc(size_t size, gfp_t flags)
{
	return sis_compat_alloc(size, flags);
}

static inline void *kzalloc(size_t size, gfp_t flags)
{
	return sis_compat_alloc(size, flags | __GFP_ZERO);
}

static inline void *kmalloc_array(size_t n, size_t size, gfp_t flags)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return sis_compat_alloc(n * size, flags);
}

static inline void *kcalloc(size_t n, size_t size, gfp_t flags)
{
	return kmalloc_array(n, size, flags | __GFP_ZERO);
}

static inline void kfree(const void *p)
{
	sis_compat_free(p);
}

/*
 * The kernel's kvmalloc() family returns memory that is resident (and, for
 * the zeroing ones, zeroed) when it returns, vmalloc's pages allocated up
 * front.  malloc() of a large size maps pages on first touch instead, so
 * the first writes into a large table would pay a page fault each, a cost
 * the target never has (a hook table sized for 1 TiB: 225 MiB).  With
 * sis_compat_kv_resident set (bench-core sets it), the zeroing ones touch
 * every page at allocation, where the kernel pays for it too.  Off by
 * default: the tests and the fuzzer open devices of every claimed size,
 * and would pay for tables they barely use.  The uninitialised ones are
 * left alone, so that valgrind still sees reads of what nobody wrote.
 */
extern bool sis_compat_kv_resident;

void *sis_compat_kv_touch(void *p, size_t size);

static inline void *kvzalloc(size_t size, gfp_t flags)
{
	return sis_compat_kv_touch(kzalloc(size, flags), size);
}

static inline void *kvcalloc(size_t n, size_t size, gfp_t flags)
{
	/* n * size overflows only where kcalloc() gave NULL, not touched */
	return sis_compat_kv_touch(kcalloc(n, size, flags), n * size);
}

#define kvmalloc(size, flags)		kmalloc(size, flags)
#define kvmalloc_array(n, s, flags)	kmalloc_array(n, s, flags)
#define kvfree(p)			kfree(p)

#endif /* _COMPAT_LINUX_SLAB_H */
