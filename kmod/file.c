// SPDX-License-Identifier: GPL-2.0
/*
 * Open file descriptions of /dev/my_shmem: nodes.
 *
 * Every open is a node with its own anonymous inode, whose address_space is
 * made the file's mapping: the node's VMAs are then found in that mapping's
 * i_mmap tree, so one node's mappings can be zapped alone with
 * unmap_mapping_range() (as DRM does per device, here per open).  A node is
 * bound to at most one segment: segment 0 at open when the opener may use
 * it, or the segment of a key after MY_SHMEM_IOC_GET, until its first
 * mmap().  The ioctls (GET, DELETE, SEG_INFO, GET_STATS, SYNC, NODE_INFO,
 * MSI_VIEW) take
 * extensible structs: see uapi/linux/my_shmem.h.
 *
 * Lock order: node lock -> registry lock.  No lock is held across a user
 * copy.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/pseudo_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "my_shmem.h"

#define MY_SHMEM_FS_MAGIC	0x6d79736d	/* "mysm" */

/* Mounted while a node exists (simple_pin_fs()), so the module can go. */
static struct vfsmount *my_shmem_mnt;
static int my_shmem_mnt_count;

static int my_shmem_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, MY_SHMEM_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type my_shmem_fs_type = {
	.name = "my_shmem",
	.owner = THIS_MODULE,
	.init_fs_context = my_shmem_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

/* The node leaves @seg (nothing maps it); the caller drops the reference. */
static void my_shmem_leave(struct my_shmem_node *node, struct my_shmem_seg *seg)
{
	if (seg->mode == MY_SHMEM_MODE_COHERENT)
		my_shmem_msi_leave(seg, node);
	atomic_dec(&seg->nodes);
}

static void my_shmem_unbind(struct my_shmem_node *node, struct my_shmem_seg *seg)
{
	my_shmem_leave(node, seg);
	my_shmem_seg_put(seg);
}

static int my_shmem_open(struct inode *inode, struct file *file)
{
	struct my_shmem_node *node;
	int err;

	node = kzalloc(sizeof(*node), GFP_KERNEL_ACCOUNT);
	if (!node)
		return -ENOMEM;
	mutex_init(&node->lock);
	xa_init(&node->copies);
	err = simple_pin_fs(&my_shmem_fs_type, &my_shmem_mnt, &my_shmem_mnt_count);
	if (err)
		goto err_free;
	node->inode = alloc_anon_inode(my_shmem_mnt->mnt_sb);
	if (IS_ERR(node->inode)) {
		err = PTR_ERR(node->inode);
		goto err_unpin;
	}
	file->f_mapping = node->inode->i_mapping;
	/* Segment 0 is the default, for those who may use it (seg0_mode). */
	if (my_shmem_seg_may_access(my_shmem_seg0, file->f_mode & FMODE_WRITE)) {
		node->seg = my_shmem_seg_ref(my_shmem_seg0);
		atomic_inc(&node->seg->nodes);
	}
	file->private_data = node;
	atomic_long_inc(&my_shmem_counters.files);
	return 0;

err_unpin:
	simple_release_fs(&my_shmem_mnt, &my_shmem_mnt_count);
err_free:
	mutex_destroy(&node->lock);
	kfree(node);
	return err;
}

static int my_shmem_release(struct inode *inode, struct file *file)
{
	struct my_shmem_node *node = file->private_data;

	if (node->seg)
		my_shmem_unbind(node, node->seg);
	iput(node->inode);
	simple_release_fs(&my_shmem_mnt, &my_shmem_mnt_count);
	mutex_destroy(&node->lock);
	kfree(node);
	atomic_long_dec(&my_shmem_counters.files);
	return 0;
}

static int my_shmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct my_shmem_node *node = file->private_data;
	int err = -EACCES;	/* unbound: segment 0 refused, no GET */

	mutex_lock(&node->lock);
	if (node->seg) {
		err = my_shmem_mmap_seg(node->seg, vma);
		if (!err)
			node->mapped = true;
	}
	mutex_unlock(&node->lock);
	return err;
}

/*
 * Copy in an extensible struct that starts with its __u32 size: smaller
 * than @min is EINVAL, larger than ours must be zero beyond it (E2BIG).
 */
static int my_shmem_copy_in(void *dst, size_t ksize, size_t min,
			    void __user *uarg, u32 *usize)
{
	int err;

	if (get_user(*usize, (u32 __user *)uarg))
		return -EFAULT;
	if (*usize < min)
		return -EINVAL;
	if (*usize > PAGE_SIZE)
		return -E2BIG;
	err = copy_struct_from_user(dst, ksize, uarg, *usize);
	if (err)
		return err;
	*(u32 *)dst = *usize;
	return 0;
}

/* Copy out at most what the caller has room for, its size set to that. */
static int my_shmem_copy_out(void __user *uarg, void *src, size_t ksize, u32 usize)
{
	size_t n = min_t(size_t, ksize, usize);

	*(u32 *)src = n;
	return copy_to_user(uarg, src, n) ? -EFAULT : 0;
}

/* Counts per order into a user array of @n __u64 (at most ours). */
static int my_shmem_copy_orders(u64 uptr, u32 n, const atomic_long_t *orders)
{
	u64 __user *dst = u64_to_user_ptr(uptr);
	unsigned int i;

	if (!uptr)
		return 0;
	for (i = 0; i < min_t(u32, n, MY_SHMEM_NR_ORDERS); i++)
		if (put_user((u64)atomic_long_read(&orders[i]), &dst[i]))
			return -EFAULT;
	return 0;
}

static long my_shmem_ioctl_get(struct file *file, struct my_shmem_node *node,
			       void __user *argp)
{
	struct my_shmem_seg *seg, *old;
	struct my_shmem_get req;
	u32 usize, nid = 0;
	int err;

	err = my_shmem_copy_in(&req, sizeof(req), sizeof(req), argp, &usize);
	if (err)
		return err;
	if (req.flags & ~MY_SHMEM_GET_VALID || req.perm & ~MY_SHMEM_PERM_MASK ||
	    req.__reserved || req.mode > MY_SHMEM_MODE_COHERENT)
		return -EINVAL;

	mutex_lock(&node->lock);
	if (node->mapped) {
		mutex_unlock(&node->lock);
		return -EBUSY;
	}
	seg = my_shmem_seg_get(&req, file->f_mode & FMODE_WRITE);
	if (IS_ERR(seg)) {
		mutex_unlock(&node->lock);
		return PTR_ERR(seg);
	}
	if (seg->mode == MY_SHMEM_MODE_COHERENT) {
		err = my_shmem_msi_join(seg, node, &nid);
		if (err) {
			mutex_unlock(&node->lock);
			my_shmem_seg_put(seg);
			return err;
		}
	}
	old = node->seg;
	if (old)
		my_shmem_leave(node, old);
	node->nid = nid;
	node->seg = seg;
	atomic_inc(&seg->nodes);
	mutex_unlock(&node->lock);
	if (old)
		my_shmem_seg_put(old);

	req.id = seg->id;
	return my_shmem_copy_out(argp, &req, sizeof(req), usize);
}

static long my_shmem_ioctl_delete(void __user *argp)
{
	struct my_shmem_delete req;
	u32 usize;
	int err;

	err = my_shmem_copy_in(&req, sizeof(req), sizeof(req), argp, &usize);
	if (err)
		return err;
	return my_shmem_seg_delete(req.id);
}

/*
 * A reference to segment @id, or to the node's own for
 * MY_SHMEM_SEG_INFO_BOUND, if the caller may read it.
 */
static struct my_shmem_seg *my_shmem_seg_readable(struct my_shmem_node *node,
						  u32 id)
{
	struct my_shmem_seg *seg = NULL;

	if (id == MY_SHMEM_SEG_INFO_BOUND) {
		mutex_lock(&node->lock);
		if (node->seg)
			seg = my_shmem_seg_ref(node->seg);
		mutex_unlock(&node->lock);
	} else {
		seg = my_shmem_seg_find(id);
	}
	if (!seg)
		return ERR_PTR(-ENOENT);
	if (!my_shmem_seg_may_access(seg, false)) {
		my_shmem_seg_put(seg);
		return ERR_PTR(-EACCES);
	}
	return seg;
}

/* As my_shmem_seg_readable(), for a coherent segment only (EOPNOTSUPP). */
static struct my_shmem_seg *my_shmem_seg_coherent(struct my_shmem_node *node,
						  u32 id)
{
	struct my_shmem_seg *seg = my_shmem_seg_readable(node, id);

	if (!IS_ERR(seg) && seg->mode != MY_SHMEM_MODE_COHERENT) {
		my_shmem_seg_put(seg);
		return ERR_PTR(-EOPNOTSUPP);
	}
	return seg;
}

static long my_shmem_ioctl_seg_info(struct my_shmem_node *node, void __user *argp)
{
	struct my_shmem_seg_info info;
	struct my_shmem_seg *seg;
	u32 usize;
	int err;

	err = my_shmem_copy_in(&info, sizeof(info), sizeof(info), argp, &usize);
	if (err)
		return err;
	if (info.__reserved || info.__pad)
		return -EINVAL;
	seg = my_shmem_seg_readable(node, info.id);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	my_shmem_seg_info(seg, &info);
	err = my_shmem_copy_orders(info.orders, info.nr_orders,
				   seg->stats.allocs_by_order);
	if (err)
		goto out_put;
	info.nr_orders = MY_SHMEM_NR_ORDERS;
	err = my_shmem_copy_out(argp, &info, sizeof(info), usize);
out_put:
	my_shmem_seg_put(seg);
	return err;
}

static long my_shmem_ioctl_node_info(struct my_shmem_node *node,
				     void __user *argp)
{
	struct my_shmem_node_info info;
	struct my_shmem_seg *seg;
	u32 usize;
	int err;

	err = my_shmem_copy_in(&info, sizeof(info), sizeof(info), argp, &usize);
	if (err)
		return err;
	if (info.__reserved || info.flags & ~MY_SHMEM_NODE_INFO_NEXT)
		return -EINVAL;
	seg = my_shmem_seg_coherent(node, info.seg);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	err = my_shmem_msi_node_info(seg, node, &info);
	my_shmem_seg_put(seg);
	if (err)
		return err;
	return my_shmem_copy_out(argp, &info, sizeof(info), usize);
}

/* Pages of a view gathered per pass, then copied out with no lock held. */
#define MY_SHMEM_VIEW_BATCH	256

struct my_shmem_view_batch {
	u8 states[MY_SHMEM_VIEW_BATCH];
	u32 owners[MY_SHMEM_VIEW_BATCH];
	u32 sharers[MY_SHMEM_VIEW_BATCH];
};

static int my_shmem_view_copy_out(const struct my_shmem_msi_view *v, u64 done,
				  const struct my_shmem_view_batch *b, u64 n)
{
	if (v->states &&
	    copy_to_user(u64_to_user_ptr(v->states + done), b->states, n))
		return -EFAULT;
	if (v->owners &&
	    copy_to_user(u64_to_user_ptr(v->owners + done * sizeof(u32)),
			 b->owners, n * sizeof(u32)))
		return -EFAULT;
	if (v->sharers &&
	    copy_to_user(u64_to_user_ptr(v->sharers + done * sizeof(u32)),
			 b->sharers, n * sizeof(u32)))
		return -EFAULT;
	return 0;
}

static long my_shmem_ioctl_msi_view(struct my_shmem_node *node,
				    void __user *argp)
{
	struct my_shmem_node_info who = { .flags = 0 };
	struct my_shmem_view_batch *b;
	struct my_shmem_msi_view v;
	struct my_shmem_seg *seg;
	u64 size, done = 0, n, i;
	u32 usize;
	int err;

	err = my_shmem_copy_in(&v, sizeof(v), sizeof(v), argp, &usize);
	if (err)
		return err;
	if (v.__reserved)
		return -EINVAL;
	seg = my_shmem_seg_coherent(node, v.seg);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	who.node = v.node;
	if (v.states) {
		err = my_shmem_msi_node_info(seg, node, &who);
		if (err)
			goto out_put;
	}
	err = -ENOMEM;
	b = kmalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		goto out_put;
	size = READ_ONCE(seg->size);
	if (v.first < size)
		v.count = min(v.count, size - v.first);
	else
		v.count = 0;
	err = 0;
	while (!err && done < v.count) {
		n = min_t(u64, v.count - done, MY_SHMEM_VIEW_BATCH);
		for (i = 0; !err && i < n; i++)
			err = my_shmem_msi_view(seg, who.node, v.first + done + i,
						&b->states[i], &b->owners[i],
						&b->sharers[i]);
		if (!err)
			err = my_shmem_view_copy_out(&v, done, b, n);
		done += n;
		cond_resched();
	}
	kfree(b);
	if (err)
		goto out_put;
	v.seg = seg->id;
	if (v.states)
		v.node = who.node;
	err = my_shmem_copy_out(argp, &v, sizeof(v), usize);
out_put:
	my_shmem_seg_put(seg);
	return err;
}

static long my_shmem_ioctl_stats(void __user *argp)
{
	struct my_shmem_stats st;
	u64 orders;
	u32 usize, n;
	int err;

	err = my_shmem_copy_in(&st, sizeof(st), sizeof(st), argp, &usize);
	if (err)
		return err;
	if (st.__reserved || st.__reserved2)
		return -EINVAL;
	orders = st.orders;
	n = st.nr_orders;
	my_shmem_stats_snapshot(&st);
	err = my_shmem_copy_orders(orders, n, my_shmem_counters.allocs_by_order);
	if (err)
		return err;
	st.orders = orders;
	st.nr_orders = MY_SHMEM_NR_ORDERS;
	return my_shmem_copy_out(argp, &st, sizeof(st), usize);
}

static long my_shmem_ioctl_sync(struct my_shmem_node *node, void __user *argp)
{
	struct my_shmem_seg *seg = NULL;
	struct my_shmem_sync req;
	u64 end;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (!req.flags || req.flags & ~MY_SHMEM_SYNC_VALID || !req.len ||
	    !PAGE_ALIGNED(req.offset) || !PAGE_ALIGNED(req.len) ||
	    check_add_overflow(req.offset, req.len, &end))
		return -EINVAL;
	mutex_lock(&node->lock);
	if (node->seg)
		seg = my_shmem_seg_ref(node->seg);
	mutex_unlock(&node->lock);
	if (!seg)
		return -EACCES;
	req.allocs = my_shmem_seg_sync(seg, req.offset >> PAGE_SHIFT,
				       end >> PAGE_SHIFT, req.flags);
	my_shmem_seg_put(seg);
	if (copy_to_user(argp, &req, sizeof(req)))
		return -EFAULT;
	return 0;
}

/*
 * The size encoded in an ioctl number is not used (the structs carry their
 * own @size and grow): commands are matched on type and number.
 */
static long my_shmem_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct my_shmem_node *node = file->private_data;
	void __user *argp = (void __user *)arg;

	if (_IOC_TYPE(cmd) != MY_SHMEM_IOC_MAGIC)
		return -ENOTTY;
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(MY_SHMEM_IOC_GET_STATS):
		return my_shmem_ioctl_stats(argp);
	case _IOC_NR(MY_SHMEM_IOC_SYNC):
		return my_shmem_ioctl_sync(node, argp);
	case _IOC_NR(MY_SHMEM_IOC_GET):
		return my_shmem_ioctl_get(file, node, argp);
	case _IOC_NR(MY_SHMEM_IOC_DELETE):
		return my_shmem_ioctl_delete(argp);
	case _IOC_NR(MY_SHMEM_IOC_SEG_INFO):
		return my_shmem_ioctl_seg_info(node, argp);
	case _IOC_NR(MY_SHMEM_IOC_NODE_INFO):
		return my_shmem_ioctl_node_info(node, argp);
	case _IOC_NR(MY_SHMEM_IOC_MSI_VIEW):
		return my_shmem_ioctl_msi_view(node, argp);
	default:
		return -ENOTTY;
	}
}

const struct file_operations my_shmem_fops = {
	.owner = THIS_MODULE,
	.open = my_shmem_open,
	.release = my_shmem_release,
	.mmap = my_shmem_mmap,
	.unlocked_ioctl = my_shmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};
