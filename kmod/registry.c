// SPDX-License-Identifier: GPL-2.0
/*
 * The segment registry: id -> segment and key -> segment, with SysV IPC
 * (shmget/shmctl) and KSM (ksmget/ksmdelete) lifetimes.
 *
 * A segment is reference-counted.  The registry holds one reference while
 * the segment is not deleted (segment 0, key 0, is never deleted: the
 * module holds it until unload), every node (fd) bound to it holds one and
 * every VMA mapping it holds one.  Deleting releases the key at once, so a
 * new GET of the key creates a new segment, and drops the registry's
 * reference; the segment is freed when its last node and its last mapping
 * are gone.  Its id stays in the id map until then, so that INFO still
 * answers for a deleted segment that is in use.
 *
 * Locking: my_shmem_registry_lock serialises GET, DELETE and the removal of
 * a segment's id when its last reference goes (kref_put_mutex()); it is
 * never held across a user copy, so it nests inside the mmap lock (VMA
 * close drops references) and never the other way round.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/xarray.h>

#include "my_shmem.h"

static DEFINE_MUTEX(my_shmem_registry_lock);
/* id -> segment, from creation until freed (ids are allocated cyclically) */
static DEFINE_XARRAY_ALLOC(my_shmem_segs);
static u32 my_shmem_next_id;
/* key -> segment, from creation until deleted */
static DEFINE_XARRAY(my_shmem_keys);
/* Changes when a segment is created or freed (dump consistency). */
static atomic_long_t my_shmem_registry_generation;

struct my_shmem_seg *my_shmem_seg0;

static struct my_shmem_seg *my_shmem_seg_alloc(u64 key, unsigned long pages,
					       unsigned int mode, umode_t perm)
{
	struct my_shmem_seg *seg = kzalloc(sizeof(*seg), GFP_KERNEL_ACCOUNT);
	const struct cred *cred = current_cred();

	if (!seg)
		return NULL;
	kref_init(&seg->ref);
	seg->key = key;
	seg->mode = mode;
	seg->uid = cred->euid;
	seg->cuid = cred->euid;
	seg->gid = cred->egid;
	seg->cgid = cred->egid;
	seg->perm = perm & MY_SHMEM_PERM_MASK;
	seg->cpid = task_tgid_nr(current);
	seg->ctime = ktime_get_real_seconds();
	my_shmem_seg_init(seg, pages);
	return seg;
}

/* Called with the registry lock held (kref_put_mutex()); drops it. */
static void my_shmem_seg_release(struct kref *ref)
{
	struct my_shmem_seg *seg = container_of(ref, struct my_shmem_seg, ref);

	lockdep_assert_held(&my_shmem_registry_lock);
	xa_erase(&my_shmem_segs, seg->id);
	atomic_long_dec(&my_shmem_counters.segments);
	atomic_long_inc(&my_shmem_registry_generation);
	mutex_unlock(&my_shmem_registry_lock);

	my_shmem_seg_destroy(seg);
	mutex_destroy(&seg->lock);
	kfree(seg);
}

/**
 * my_shmem_seg_put() - drop a reference to a segment
 * @seg: the segment
 *
 * The last reference frees it, with all its pages.
 */
void my_shmem_seg_put(struct my_shmem_seg *seg)
{
	kref_put_mutex(&seg->ref, my_shmem_seg_release, &my_shmem_registry_lock);
}

/**
 * my_shmem_seg_may_access() - SysV IPC permission check (ipcperms())
 * @seg: the segment
 * @write: write access wanted as well as read
 *
 * The owner's or creator's bits for them, the group's for members of the
 * owner's or creator's group, the others' bits otherwise; CAP_IPC_OWNER
 * (in the initial user namespace) overrides.
 *
 * Return: true if the caller may access @seg so.
 */
bool my_shmem_seg_may_access(const struct my_shmem_seg *seg, bool write)
{
	kuid_t euid = current_euid();
	umode_t want = write ? 06 : 04, granted = seg->perm;

	if (uid_eq(euid, seg->cuid) || uid_eq(euid, seg->uid))
		granted >>= 6;
	else if (in_group_p(seg->cgid) || in_group_p(seg->gid))
		granted >>= 3;
	if ((granted & want & 07) == want)
		return true;
	return capable(CAP_IPC_OWNER);
}

static bool my_shmem_seg_is_owner(const struct my_shmem_seg *seg)
{
	kuid_t euid = current_euid();

	return uid_eq(euid, seg->cuid) || uid_eq(euid, seg->uid) ||
	       capable(CAP_IPC_OWNER);
}

/* Insert a new segment under a new id (and its key); registry lock held. */
static int my_shmem_seg_insert_locked(struct my_shmem_seg *seg)
{
	int err;

	lockdep_assert_held(&my_shmem_registry_lock);
	err = xa_alloc_cyclic(&my_shmem_segs, &seg->id, seg,
			      XA_LIMIT(seg->key ? 1 : 0, INT_MAX),
			      &my_shmem_next_id, GFP_KERNEL);
	if (err < 0)
		return err;
	err = xa_insert(&my_shmem_keys, seg->key, seg, GFP_KERNEL);
	if (err) {
		xa_erase(&my_shmem_segs, seg->id);
		return err;
	}
	atomic_long_inc(&my_shmem_counters.segments);
	atomic_long_inc(&my_shmem_registry_generation);
	return 0;
}

/**
 * my_shmem_seg_get() - find or create the segment of a key (MY_SHMEM_IOC_GET)
 * @req: the request, validated by the caller (flags, mode, perm, reserved)
 * @write: the caller's fd is open for writing (checked as write access)
 *
 * Return: the segment with a reference for the caller, or an ERR_PTR:
 * -ENOENT (no segment and no CREATE), -EEXIST (CREATE|EXCL and one exists),
 * -EINVAL (bigger than the existing one, another mode, 0 bytes to create, or
 * a key this machine cannot index), -EACCES, -ENOSPC (max_segments),
 * -EFBIG (max_segment_pages), -ENOMEM.
 */
struct my_shmem_seg *my_shmem_seg_get(const struct my_shmem_get *req,
				      bool write)
{
	unsigned long pages = DIV_ROUND_UP_ULL(req->bytes, PAGE_SIZE);
	struct my_shmem_seg *seg;
	int err;

	if (req->key > ULONG_MAX || req->bytes > (u64)LONG_MAX)
		return ERR_PTR(-EINVAL);

	mutex_lock(&my_shmem_registry_lock);
	seg = xa_load(&my_shmem_keys, req->key);
	if (seg) {
		err = -EEXIST;
		if ((req->flags & MY_SHMEM_GET_EXCL) && (req->flags & MY_SHMEM_GET_CREATE))
			goto err_unlock;
		err = -EINVAL;
		if (pages > READ_ONCE(seg->size) || req->mode != seg->mode)
			goto err_unlock;
		err = -EACCES;
		if (!my_shmem_seg_may_access(seg, write))
			goto err_unlock;
		my_shmem_seg_ref(seg);
		mutex_unlock(&my_shmem_registry_lock);
		return seg;
	}

	err = -ENOENT;
	if (!(req->flags & MY_SHMEM_GET_CREATE))
		goto err_unlock;
	err = -EINVAL;
	if (!pages)
		goto err_unlock;
	err = -EFBIG;
	if (pages > READ_ONCE(my_shmem_max_segment_pages))
		goto err_unlock;
	err = -ENOSPC;
	if (atomic_long_read(&my_shmem_counters.segments) >=
	    READ_ONCE(my_shmem_max_segments))
		goto err_unlock;
	err = -ENOMEM;
	seg = my_shmem_seg_alloc(req->key, pages, req->mode, req->perm);
	if (!seg)
		goto err_unlock;
	err = my_shmem_seg_insert_locked(seg);
	if (err)
		goto err_free;
	/* The registry's reference, and the caller's. */
	my_shmem_seg_ref(seg);
	mutex_unlock(&my_shmem_registry_lock);
	my_shmem_nl_seg_event(seg, true);
	return seg;

err_free:
	mutex_destroy(&seg->lock);
	kfree(seg);
err_unlock:
	mutex_unlock(&my_shmem_registry_lock);
	return ERR_PTR(err == -EBUSY ? -ENOSPC : err);
}

/**
 * my_shmem_seg_find() - a segment by id, deleted or not, while it exists
 * @id: the id
 *
 * Return: the segment with a reference for the caller, or NULL.
 */
struct my_shmem_seg *my_shmem_seg_find(u32 id)
{
	struct my_shmem_seg *seg;

	mutex_lock(&my_shmem_registry_lock);
	seg = xa_load(&my_shmem_segs, id);
	if (seg)
		my_shmem_seg_ref(seg);
	mutex_unlock(&my_shmem_registry_lock);
	return seg;
}

/**
 * my_shmem_seg_next() - the segment with the lowest id at or after *@index
 * @index: in: where to start; out: the id found
 *
 * Return: the segment with a reference for the caller, or NULL at the end.
 */
struct my_shmem_seg *my_shmem_seg_next(unsigned long *index)
{
	struct my_shmem_seg *seg;

	mutex_lock(&my_shmem_registry_lock);
	seg = xa_find(&my_shmem_segs, index, ULONG_MAX, XA_PRESENT);
	if (seg)
		my_shmem_seg_ref(seg);
	mutex_unlock(&my_shmem_registry_lock);
	return seg;
}

/**
 * my_shmem_registry_gen() - a number that changes when segments come or go
 *
 * Return: the generation.
 */
unsigned long my_shmem_registry_gen(void)
{
	return atomic_long_read(&my_shmem_registry_generation);
}

/**
 * my_shmem_seg_delete() - mark a segment for deletion (MY_SHMEM_IOC_DELETE)
 * @id: the segment
 *
 * Return: 0, -ENOENT (no such segment, or already deleted), -EINVAL
 * (segment 0), -EPERM (neither owner nor creator, no CAP_IPC_OWNER).
 */
int my_shmem_seg_delete(u32 id)
{
	struct my_shmem_seg *seg;
	int err;

	mutex_lock(&my_shmem_registry_lock);
	seg = xa_load(&my_shmem_segs, id);
	err = -ENOENT;
	if (!seg || seg->deleted)
		goto out_unlock;
	err = -EINVAL;
	if (seg == my_shmem_seg0)
		goto out_unlock;
	err = -EPERM;
	if (!my_shmem_seg_is_owner(seg))
		goto out_unlock;
	seg->deleted = true;
	xa_erase(&my_shmem_keys, seg->key);
	WRITE_ONCE(seg->ctime, ktime_get_real_seconds());
	mutex_unlock(&my_shmem_registry_lock);
	my_shmem_nl_seg_event(seg, false);
	/* The registry's reference: the last one frees the segment. */
	my_shmem_seg_put(seg);
	return 0;

out_unlock:
	mutex_unlock(&my_shmem_registry_lock);
	return err;
}

/* A pid of the initial namespace as the caller's namespace sees it. */
static pid_t my_shmem_pid_vnr(pid_t nr)
{
	struct pid *pid;
	pid_t vnr;

	rcu_read_lock();
	pid = find_pid_ns(nr, &init_pid_ns);
	vnr = pid ? pid_vnr(pid) : 0;
	rcu_read_unlock();
	return vnr;
}

/**
 * my_shmem_seg_info() - fill the fixed part of a segment's INFO
 * @seg: the segment (a reference held)
 * @info: filled but for @size, @orders and @nr_orders
 */
void my_shmem_seg_info(struct my_shmem_seg *seg, struct my_shmem_seg_info *info)
{
	struct user_namespace *ns = current_user_ns();

	mutex_lock(&my_shmem_registry_lock);
	info->flags = seg->deleted ? MY_SHMEM_SEG_DELETED : 0;
	info->uid = from_kuid_munged(ns, seg->uid);
	info->gid = from_kgid_munged(ns, seg->gid);
	info->cuid = from_kuid_munged(ns, seg->cuid);
	info->cgid = from_kgid_munged(ns, seg->cgid);
	info->perm = seg->perm;
	mutex_unlock(&my_shmem_registry_lock);
	info->id = seg->id;
	info->key = seg->key;
	info->bytes = (u64)READ_ONCE(seg->size) << PAGE_SHIFT;
	info->mode = seg->mode;
	info->cpid = my_shmem_pid_vnr(seg->cpid);
	info->lpid = my_shmem_pid_vnr(READ_ONCE(seg->lpid));
	info->nattch = atomic_read(&seg->nattch);
	info->nodes = atomic_read(&seg->nodes);
	info->atime = READ_ONCE(seg->atime);
	info->dtime = READ_ONCE(seg->dtime);
	info->ctime = READ_ONCE(seg->ctime);
	info->pages = atomic_long_read(&seg->stats.pages);
	info->faults = atomic_long_read(&seg->stats.faults);
	info->cleans = atomic_long_read(&seg->stats.cleans);
	info->invals = atomic_long_read(&seg->stats.invals);
}

/**
 * my_shmem_registry_init() - create segment 0
 *
 * Return: 0 or -ENOMEM.
 */
int my_shmem_registry_init(void)
{
	struct my_shmem_seg *seg;
	int err;

	seg = my_shmem_seg_alloc(0, READ_ONCE(my_shmem_seg0_pages),
				 MY_SHMEM_MODE_SHARED, READ_ONCE(my_shmem_seg0_mode));
	if (!seg)
		return -ENOMEM;
	seg->uid = GLOBAL_ROOT_UID;
	seg->cuid = GLOBAL_ROOT_UID;
	seg->gid = GLOBAL_ROOT_GID;
	seg->cgid = GLOBAL_ROOT_GID;
	mutex_lock(&my_shmem_registry_lock);
	err = my_shmem_seg_insert_locked(seg);
	mutex_unlock(&my_shmem_registry_lock);
	if (err) {
		mutex_destroy(&seg->lock);
		kfree(seg);
		return err;
	}
	my_shmem_seg0 = seg;
	return 0;
}

/**
 * my_shmem_registry_exit() - free every segment left (no file is open)
 *
 * Segments nobody deleted outlive their users, as SysV segments do, until
 * the module goes.
 */
void my_shmem_registry_exit(void)
{
	struct my_shmem_seg *seg;
	unsigned long key;

	xa_for_each(&my_shmem_keys, key, seg) {
		mutex_lock(&my_shmem_registry_lock);
		seg->deleted = true;
		xa_erase(&my_shmem_keys, key);
		mutex_unlock(&my_shmem_registry_lock);
		my_shmem_seg_put(seg);
	}
	WARN_ON(!xa_empty(&my_shmem_segs));
	my_shmem_seg0 = NULL;
}
