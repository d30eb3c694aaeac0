// SPDX-License-Identifier: GPL-2.0
/* Test module for vm-run's self-tests: triggers a kernel WARNING on load. */
#include <linux/module.h>
#include <linux/bug.h>

static int __init sis_warn_test_init(void)
{
	WARN(1, "sis_warn_test: deliberate warning for the vm-run self-test\n");
	return 0;
}

static void __exit sis_warn_test_exit(void)
{
}

module_init(sis_warn_test_init);
module_exit(sis_warn_test_exit);
MODULE_DESCRIPTION("vm-run self-test: WARN on load");
MODULE_LICENSE("GPL");
