/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SIS_COMPAT_LINUX_BITS_H
#define _SIS_COMPAT_LINUX_BITS_H
#include <linux/kernel.h>
#endif
