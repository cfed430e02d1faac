// SPDX-License-Identifier: GPL-2.0
/*
 * provoke: a throw-away module that makes the debug kernel print one real
 * report of a kind, so that scripts/scan-console is tested on what the
 * kernel really prints (scripts/tests/capture-console-fixtures).  Load with
 * what=<kind>; the load then fails with -EAGAIN so nothing stays behind
 * (except the leak, which is the point of what=kmemleak).  Never load it
 * anywhere but a throw-away debug guest.
 */
#include <linux/delay.h>
#include <linux/kfence.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

static char *what = "";
module_param(what, charp, 0444);
MODULE_PARM_DESC(what, "rcu, atomic-sleep, circular, kasan, ubsan, kfence, kmemleak, hung-task, soft-lockup");

static DEFINE_MUTEX(provoke_a);
static DEFINE_MUTEX(provoke_b);
static DEFINE_SPINLOCK(provoke_lock);
static int __rcu *provoke_rcu_ptr;
static void *provoke_leak_sink;

static noinline void provoke_circular(void)
{
	mutex_lock(&provoke_a);
	mutex_lock(&provoke_b);
	mutex_unlock(&provoke_b);
	mutex_unlock(&provoke_a);
	mutex_lock(&provoke_b);
	mutex_lock(&provoke_a);
	mutex_unlock(&provoke_a);
	mutex_unlock(&provoke_b);
}

static noinline int provoke_kasan(void)
{
	volatile char *p = kmalloc(32, GFP_KERNEL);
	char c;

	if (!p)
		return -ENOMEM;
	kfree((void *)p);
	c = p[0];
	return c;
}

static noinline int provoke_ubsan(void)
{
	volatile int shift = 40;

	return 1 << shift;
}

static noinline int provoke_kfence(void)
{
	volatile char *p;
	char c;
	int i;

	/* KFENCE samples one allocation per interval (100 ms by default). */
	for (i = 0; i < 1000; i++) {
		p = kmalloc(32, GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		if (is_kfence_address((void *)p))
			break;
		kfree((void *)p);
		p = NULL;
		msleep(20);
	}
	if (!p)
		return -ETIMEDOUT;
	kfree((void *)p);
	c = p[0];
	return c;
}

static int __init provoke_init(void)
{
	int ret = 0;

	pr_info("provoke: %s\n", what);
	if (!strcmp(what, "rcu")) {
		ret = rcu_dereference(provoke_rcu_ptr) ? 1 : 0;
	} else if (!strcmp(what, "atomic-sleep")) {
		spin_lock(&provoke_lock);
		might_sleep();
		spin_unlock(&provoke_lock);
	} else if (!strcmp(what, "circular")) {
		provoke_circular();
	} else if (!strcmp(what, "kasan")) {
		ret = provoke_kasan();
	} else if (!strcmp(what, "ubsan")) {
		ret = provoke_ubsan();
	} else if (!strcmp(what, "kfence")) {
		ret = provoke_kfence();
	} else if (!strcmp(what, "kmemleak")) {
		provoke_leak_sink = kmalloc(64, GFP_KERNEL);
		provoke_leak_sink = NULL;
	} else if (!strcmp(what, "hung-task")) {
		schedule_timeout_uninterruptible(8 * HZ);
	} else if (!strcmp(what, "soft-lockup")) {
		preempt_disable();
		mdelay(8000);
		preempt_enable();
	} else {
		pr_err("provoke: unknown what=%s\n", what);
		return -EINVAL;
	}
	pr_info("provoke: %s done (%d)\n", what, ret);
	return 0;
}
module_init(provoke_init);

static void __exit provoke_exit(void)
{
}
module_exit(provoke_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Provoke one debug-kernel report (test fixtures only)");
