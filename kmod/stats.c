// SPDX-License-Identifier: GPL-2.0
/*
 * Counters, readable without any tool under
 * /sys/class/misc/my_shmem/stats/, one value per file (allocs_by_order
 * lists the live allocations of orders 0..10, space separated).
 */

#include <linux/device.h>
#include <linux/sysfs.h>

#include "my_shmem.h"

/**
 * my_shmem_stats_snapshot() - copy the counters out
 * @st: destination (all of it is overwritten; allocations by order are
 *	copied by the caller, see file.c)
 */
void my_shmem_stats_snapshot(struct my_shmem_stats *st)
{
	struct my_shmem_counters *c = &my_shmem_counters;

	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->pages_in_use = atomic_long_read(&c->pages_in_use);
	st->max_pages = READ_ONCE(my_shmem_max_pages);
	st->faults = atomic_long_read(&c->faults);
	st->cleans = atomic_long_read(&c->cleans);
	st->invals = atomic_long_read(&c->invals);
	st->sigbus = atomic_long_read(&c->sigbus);
	st->order_fallbacks = atomic_long_read(&c->order_fallbacks);
	st->vmas = atomic_long_read(&c->vmas);
	st->files = atomic_long_read(&c->files);
	st->segments = atomic_long_read(&c->segments);
}

/* One counter per file: the attribute carries a pointer to its counter. */
static ssize_t my_shmem_counter_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	struct dev_ext_attribute *ea = container_of(attr, struct dev_ext_attribute, attr);

	return sysfs_emit(buf, "%ld\n", atomic_long_read(ea->var));
}

static struct dev_ext_attribute my_shmem_attr_pages_in_use = {
	__ATTR(pages_in_use, 0444, my_shmem_counter_show, NULL), &my_shmem_counters.pages_in_use
};

static struct dev_ext_attribute my_shmem_attr_faults = {
	__ATTR(faults, 0444, my_shmem_counter_show, NULL), &my_shmem_counters.faults
};

static struct dev_ext_attribute my_shmem_attr_cleans = {
	__ATTR(cleans, 0444, my_shmem_counter_show, NULL), &my_shmem_counters.cleans
};

static struct dev_ext_attribute my_shmem_attr_invals = {
	__ATTR(invals, 0444, my_shmem_counter_show, NULL), &my_shmem_counters.invals
};

static struct dev_ext_attribute my_shmem_attr_sigbus = {
	__ATTR(sigbus, 0444, my_shmem_counter_show, NULL), &my_shmem_counters.sigbus
};

static struct dev_ext_attribute my_shmem_attr_order_fallbacks = {
	__ATTR(order_fallbacks, 0444, my_shmem_counter_show, NULL),
	&my_shmem_counters.order_fallbacks
};

static struct dev_ext_attribute my_shmem_attr_vmas = {
	__ATTR(vmas, 0444, my_shmem_counter_show, NULL), &my_shmem_counters.vmas
};

static struct dev_ext_attribute my_shmem_attr_segments = {
	__ATTR(segments, 0444, my_shmem_counter_show, NULL), &my_shmem_counters.segments
};

static struct dev_ext_attribute my_shmem_attr_files = {
	__ATTR(files, 0444, my_shmem_counter_show, NULL), &my_shmem_counters.files
};

static ssize_t allocs_by_order_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	int len = 0;
	unsigned int i;

	for (i = 0; i < MY_SHMEM_NR_ORDERS; i++)
		len += sysfs_emit_at(buf, len, "%s%ld", i ? " " : "",
			atomic_long_read(&my_shmem_counters.allocs_by_order[i]));
	len += sysfs_emit_at(buf, len, "\n");
	return len;
}
static DEVICE_ATTR_RO(allocs_by_order);

static struct attribute *my_shmem_stats_attrs[] = {
	&my_shmem_attr_pages_in_use.attr.attr,
	&dev_attr_allocs_by_order.attr,
	&my_shmem_attr_faults.attr.attr,
	&my_shmem_attr_cleans.attr.attr,
	&my_shmem_attr_invals.attr.attr,
	&my_shmem_attr_sigbus.attr.attr,
	&my_shmem_attr_order_fallbacks.attr.attr,
	&my_shmem_attr_vmas.attr.attr,
	&my_shmem_attr_files.attr.attr,
	&my_shmem_attr_segments.attr.attr,
	NULL,
};

static const struct attribute_group my_shmem_stats_group = {
	.name = "stats",
	.attrs = my_shmem_stats_attrs,
};

const struct attribute_group *my_shmem_attr_groups[] = {
	&my_shmem_stats_group,
	NULL,
};
