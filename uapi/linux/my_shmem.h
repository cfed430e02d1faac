/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * my_shmem: fault-driven shared device memory with software cache maintenance.
 *
 * Userspace ABI of /dev/my_shmem, version 1.
 *
 * Every open file description of the device is a *node*, bound to at most
 * one *segment*.  A fresh open is bound to segment 0 (key 0, the global
 * pool) when its opener may use it, and MY_SHMEM_IOC_GET binds it to the
 * segment of a key instead, until the first mmap(): attach = mmap() of the
 * bound fd (MAP_SHARED), detach = munmap().  Pages are allocated on first
 * touch in runs of 2^max_contiguous_alloc_order pages.
 *
 * Extensible structs: each starts with @size, which the caller sets to the
 * sizeof() it was compiled with.  The kernel accepts any size from the
 * struct's version-1 size up (EINVAL below it): fields a caller does not
 * know of read as zero, and bytes the kernel does not know of must be zero
 * (E2BIG otherwise).  It writes back at most @size bytes and sets @size to
 * what it filled.  Fields marked "reserved" must be zero.  Fields are only
 * ever added at the end.  The size encoded in the ioctl numbers below is
 * that of version 1 and is not checked: @size is.
 */
#ifndef _UAPI_LINUX_MY_SHMEM_H
#define _UAPI_LINUX_MY_SHMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MY_SHMEM_DEVICE		"/dev/my_shmem"

/* Highest allocation order the module accepts on any configuration. */
#define MY_SHMEM_MAX_ORDER	10
#define MY_SHMEM_NR_ORDERS	(MY_SHMEM_MAX_ORDER + 1)

/* MY_SHMEM_IOC_GET flags (struct my_shmem_get.flags) */
#define MY_SHMEM_GET_CREATE	0x1	/* create the segment if the key has none */
#define MY_SHMEM_GET_EXCL	0x2	/* with CREATE: fail with EEXIST if it has one */
#define MY_SHMEM_GET_VALID	(MY_SHMEM_GET_CREATE | MY_SHMEM_GET_EXCL)

/* Segment modes (struct my_shmem_get.mode) */
#define MY_SHMEM_MODE_SHARED	0	/* one copy, shared by every node */
#define MY_SHMEM_MODE_COHERENT	1	/* a copy per node, kept coherent (MSI) */

/* Permission bits (SysV IPC style: owner, group, others; read 4, write 2) */
#define MY_SHMEM_PERM_MASK	0777

/**
 * struct my_shmem_get - find or create the segment of a key, bind the fd to it
 * @size: sizeof(struct my_shmem_get)
 * @flags: MY_SHMEM_GET_*; without CREATE a missing key is ENOENT
 * @key: the key; 0 is segment 0 (which is never created or deleted)
 * @bytes: the size wanted, rounded up to whole pages; creating needs it
 *	non-zero; for an existing segment it may not exceed its size (EINVAL),
 *	0 meaning "whatever it is"
 * @mode: MY_SHMEM_MODE_* of a new segment; an existing segment of another
 *	mode is EINVAL
 * @perm: permission bits (MY_SHMEM_PERM_MASK) of a new segment, owned by
 *	the caller's uid and gid; for an existing one, access is checked as
 *	SysV IPC does (read, and write if the fd is open for writing):
 *	EACCES, unless the caller has CAP_IPC_OWNER
 * @id: out: the segment's id (stable while it exists; never reused while
 *	the module is loaded)
 * @__reserved: must be 0
 *
 * Errors: EBUSY if the fd has already been mapped (it cannot be rebound),
 * ENOSPC at max_segments, EFBIG past max_segment_pages, EINVAL for bad
 * flags, mode, perm or reserved bits.
 */
struct my_shmem_get {
	__u32 size;
	__u32 flags;
	__u64 key;
	__u64 bytes;
	__u32 mode;
	__u32 perm;
	__u32 id;
	__u32 __reserved;
};

/**
 * struct my_shmem_delete - mark a segment for deletion (SysV IPC_RMID)
 * @size: sizeof(struct my_shmem_delete)
 * @id: the segment
 *
 * The key is released at once (a new GET of it creates a new segment); the
 * segment stays usable, and attachable through fds already bound to it,
 * until its last mapping and its last bound fd are gone, then it is freed.
 * Only the owner, the creator or CAP_IPC_OWNER may delete (EPERM); segment
 * 0 cannot be deleted (EINVAL); an unknown or already deleted id is ENOENT.
 */
struct my_shmem_delete {
	__u32 size;
	__u32 id;
};

/* struct my_shmem_seg_info.flags */
#define MY_SHMEM_SEG_DELETED	0x1	/* marked for deletion */

/**
 * struct my_shmem_seg_info - one segment (MY_SHMEM_IOC_SEG_INFO)
 * @size: sizeof(struct my_shmem_seg_info)
 * @id: in: the segment; MY_SHMEM_SEG_INFO_BOUND: the fd's own segment
 * @key: its key (0 for segment 0; still reported after deletion)
 * @bytes: its size in bytes
 * @mode: MY_SHMEM_MODE_*
 * @perm: permission bits
 * @flags: MY_SHMEM_SEG_*
 * @uid: owner's uid (in the caller's user namespace)
 * @gid: owner's gid
 * @cuid: creator's uid
 * @cgid: creator's gid
 * @cpid: creator's pid (in the caller's pid namespace; 0 if not visible)
 * @lpid: pid of the last attach or detach
 * @nattch: current attachments (mappings)
 * @nodes: fds bound to it
 * @atime: last attach, seconds since the epoch (0: never)
 * @dtime: last detach
 * @ctime: creation or last change
 * @pages: pages allocated to it
 * @faults: faults handled
 * @cleans: clean-to-PoC operations run over its runs
 * @invals: invalidate-to-PoC operations run over its runs
 * @orders: in: user pointer to an array of __u64, @nr_orders entries, that
 *	receives the live runs of each order 0, 1, ...; 0: not wanted
 * @nr_orders: in: entries at @orders; out: orders the module knows
 *	(MY_SHMEM_NR_ORDERS), whatever was copied
 */
struct my_shmem_seg_info {
	__u32 size;
	__u32 id;
	__u64 key;
	__u64 bytes;
	__u32 mode;
	__u32 perm;
	__u32 flags;
	__u32 uid;
	__u32 gid;
	__u32 cuid;
	__u32 cgid;
	__s32 cpid;
	__s32 lpid;
	__u32 nattch;
	__u32 nodes;
	__u32 __pad;
	__s64 atime;
	__s64 dtime;
	__s64 ctime;
	__u64 pages;
	__u64 faults;
	__u64 cleans;
	__u64 invals;
	__u64 orders;
	__u32 nr_orders;
	__u32 __reserved;
};

#define MY_SHMEM_SEG_INFO_BOUND	0xffffffffU

/**
 * struct my_shmem_stats - module-wide counters (MY_SHMEM_IOC_GET_STATS)
 * @size: sizeof(struct my_shmem_stats)
 * @__reserved: must be 0
 * @pages_in_use: device pages currently allocated (xv6's pgused)
 * @max_pages: module-wide cap on @pages_in_use
 * @faults: page faults handled
 * @cleans: clean-to-PoC operations run
 * @invals: invalidate-to-PoC operations run
 * @sigbus: faults that could not be backed and raised SIGBUS
 * @order_fallbacks: allocations served below the order asked
 * @vmas: live VMAs mapping the device
 * @files: open files of the device
 * @segments: live segments, segment 0 included
 * @orders: in: user pointer to __u64[@nr_orders] for the live runs of each
 *	order; 0: not wanted
 * @nr_orders: in: entries at @orders; out: MY_SHMEM_NR_ORDERS
 * @__reserved2: must be 0
 *
 * The same values are readable one per file under
 * /sys/class/misc/my_shmem/stats/.
 */
struct my_shmem_stats {
	__u32 size;
	__u32 __reserved;
	__u64 pages_in_use;
	__u64 max_pages;
	__u64 faults;
	__u64 cleans;
	__u64 invals;
	__u64 sigbus;
	__u64 order_fallbacks;
	__u64 vmas;
	__u64 files;
	__u64 segments;
	__u64 orders;
	__u32 nr_orders;
	__u32 __reserved2;
};

/* Direction of a MY_SHMEM_IOC_SYNC, as for a streaming DMA mapping. */
#define MY_SHMEM_SYNC_CLEAN	0x1		/* CPU wrote, device will read */
#define MY_SHMEM_SYNC_INVAL	0x2		/* device wrote, CPU will read */
#define MY_SHMEM_SYNC_VALID	(MY_SHMEM_SYNC_CLEAN | MY_SHMEM_SYNC_INVAL)

/**
 * struct my_shmem_sync - run cache maintenance over the fd's segment
 * @offset: byte offset into the segment (page aligned)
 * @len: length in bytes (page aligned, non-zero)
 * @flags: MY_SHMEM_SYNC_CLEAN and/or MY_SHMEM_SYNC_INVAL
 * @allocs: out: number of allocations the operation covered
 *
 * The operation covers every allocation intersecting [offset, offset + len)
 * that is already backed, whole, exactly as VMA close does; clean runs before
 * invalidate when both are requested.
 */
struct my_shmem_sync {
	__u64 offset;
	__u64 len;
	__u32 flags;
	__u32 allocs;
};

/*
 * Coherent segments (MY_SHMEM_MODE_COHERENT): a home copy of each page plus
 * a private copy per node, kept coherent by an MSI protocol driven by page
 * faults.  A node is one open file description bound to the segment (the
 * processes sharing it through fork or fd passing are one node); its id is
 * given when MY_SHMEM_IOC_GET binds it, from 0, lowest free first, below
 * MY_SHMEM_MAX_NODES.  A node's state for a page follows from the page's
 * directory entry: M if it is the owner, S if it is a sharer, I otherwise.
 * S pages are mapped read-only, I pages not at all; every copy between
 * copies is a simulated DMA transfer (clean the source to PoC, copy,
 * invalidate the destination to PoC).
 */
#define MY_SHMEM_MSI_I		0	/* invalid: no copy */
#define MY_SHMEM_MSI_S		1	/* shared: a read-only copy */
#define MY_SHMEM_MSI_M		2	/* modified: the one writable copy */

/* Why a node's state of a page changed (tracepoint my_shmem:msi, events) */
enum my_shmem_msi_cause {
	MY_SHMEM_MSI_CAUSE_READ = 1,	/* the node read the page */
	MY_SHMEM_MSI_CAUSE_WRITE,	/* the node wrote the page */
	MY_SHMEM_MSI_CAUSE_REMOTE_READ,	/* another node read it: M -> S */
	MY_SHMEM_MSI_CAUSE_REMOTE_WRITE,	/* another node wrote it: -> I */
	MY_SHMEM_MSI_CAUSE_DETACH,	/* munmap of the node's mapping: M -> S */
	MY_SHMEM_MSI_CAUSE_CLOSE,	/* the node's last fd went: -> I */
};

#define MY_SHMEM_MAX_NODES	65536
#define MY_SHMEM_NODE_SELF	0xfffffffeU	/* in: the calling fd's node */
#define MY_SHMEM_NODE_NONE	0xffffffffU	/* out: no node (no owner) */

/* struct my_shmem_node_info.flags */
#define MY_SHMEM_NODE_INFO_NEXT	0x1	/* the first node with an id >= @node */

/**
 * struct my_shmem_node_info - one node of a coherent segment
 *	(MY_SHMEM_IOC_NODE_INFO)
 * @size: sizeof(struct my_shmem_node_info)
 * @seg: in: a segment id, or MY_SHMEM_SEG_INFO_BOUND for the fd's own
 *	segment; out: the segment's id
 * @node: in: MY_SHMEM_NODE_SELF (the fd's node) or a node id; out: the id
 * @flags: in: MY_SHMEM_NODE_INFO_NEXT: report the first node whose id is
 *	@node or above (walk the nodes from 0 by asking for id + 1)
 * @nr_nodes: out: nodes bound to the segment now
 * @__reserved: must be 0
 * @read_faults: read faults taken by this node's mappings
 * @write_faults: write faults (first write to an I or S page, or to an M
 *	page mapped read-only)
 * @fetches: pages copied into this node (from home or from the owner)
 * @invals_received: copies of this node dropped by another node's write
 * @writebacks: pages written back home from this node (M -> S on another
 *	node's read; M on munmap or close)
 * @bytes_moved: bytes copied into or out of this node's copies
 * @cleans: clean-to-PoC run over this node's copies (as a source)
 * @invals: invalidate-to-PoC run over this node's copies (as a destination)
 * @pages_s: pages this node holds in S now
 * @pages_m: pages this node holds in M now
 *
 * Reading another segment than the fd's own needs read permission on it,
 * as MY_SHMEM_IOC_SEG_INFO does.  Errors: EOPNOTSUPP if the segment is not
 * coherent, ENOENT for a segment or node id that does not exist (or no
 * node at or above @node with NEXT), EACCES without read permission.
 */
struct my_shmem_node_info {
	__u32 size;
	__u32 seg;
	__u32 node;
	__u32 flags;
	__u32 nr_nodes;
	__u32 __reserved;
	__u64 read_faults;
	__u64 write_faults;
	__u64 fetches;
	__u64 invals_received;
	__u64 writebacks;
	__u64 bytes_moved;
	__u64 cleans;
	__u64 invals;
	__u64 pages_s;
	__u64 pages_m;
};

/**
 * struct my_shmem_msi_view - a node's MSI states and the directory over a
 *	range of pages (MY_SHMEM_IOC_MSI_VIEW), s2dsm's "v"
 * @size: sizeof(struct my_shmem_msi_view)
 * @seg: in: a segment id or MY_SHMEM_SEG_INFO_BOUND; out: the segment's id
 * @node: in: MY_SHMEM_NODE_SELF or a node id, whose states go to @states
 *	(ignored when @states is 0); out: the id
 * @__reserved: must be 0
 * @first: in: first page
 * @count: in: entries at each array given; out: pages reported, fewer when
 *	the segment ends first (0 when @first is at or past its end)
 * @states: in: user pointer to __u8[@count] receiving the node's state of
 *	each page (MY_SHMEM_MSI_*); 0: not wanted
 * @owners: in: user pointer to __u32[@count] receiving each page's owner
 *	(the node in M, or MY_SHMEM_NODE_NONE); 0: not wanted
 * @sharers: in: user pointer to __u32[@count] receiving the number of nodes
 *	in S for each page; 0: not wanted
 *
 * Each page is read under its directory lock, so each page's entry is
 * consistent; different pages are not read at one instant.  Errors as for
 * MY_SHMEM_IOC_NODE_INFO.
 */
struct my_shmem_msi_view {
	__u32 size;
	__u32 seg;
	__u32 node;
	__u32 __reserved;
	__u64 first;
	__u64 count;
	__u64 states;
	__u64 owners;
	__u64 sharers;
};

/* 0xE7: no in-tree user (Documentation/userspace-api/ioctl/ioctl-number.rst). */
#define MY_SHMEM_IOC_MAGIC	0xE7
#define MY_SHMEM_IOC_GET_STATS	_IOWR(MY_SHMEM_IOC_MAGIC, 0x01, struct my_shmem_stats)
#define MY_SHMEM_IOC_SYNC	_IOWR(MY_SHMEM_IOC_MAGIC, 0x02, struct my_shmem_sync)
#define MY_SHMEM_IOC_GET	_IOWR(MY_SHMEM_IOC_MAGIC, 0x03, struct my_shmem_get)
#define MY_SHMEM_IOC_DELETE	_IOW(MY_SHMEM_IOC_MAGIC, 0x04, struct my_shmem_delete)
#define MY_SHMEM_IOC_SEG_INFO	_IOWR(MY_SHMEM_IOC_MAGIC, 0x05, struct my_shmem_seg_info)
#define MY_SHMEM_IOC_NODE_INFO	_IOWR(MY_SHMEM_IOC_MAGIC, 0x06, struct my_shmem_node_info)
#define MY_SHMEM_IOC_MSI_VIEW	_IOWR(MY_SHMEM_IOC_MAGIC, 0x07, struct my_shmem_msi_view)

/*
 * Generic netlink: the family "my_shmem", described by
 * uapi/netlink/my_shmem.yaml (YNL); these names follow YNL's conventions
 * and scripts/tests/test-ynl-spec checks that they match the spec.
 * Every attribute set starts at 1; u64 attributes are padded with *_PAD.
 */
#define MY_SHMEM_FAMILY_NAME	"my_shmem"
#define MY_SHMEM_FAMILY_VERSION	1
#define MY_SHMEM_MCGRP_EVENTS	"events"

enum my_shmem_event_type {
	MY_SHMEM_EVENT_TYPE_SEG_CREATED = 1,
	MY_SHMEM_EVENT_TYPE_SEG_DELETED,
	MY_SHMEM_EVENT_TYPE_ALLOC,
	MY_SHMEM_EVENT_TYPE_MSI,
};

enum {
	MY_SHMEM_A_STATS_PAD = 1,
	MY_SHMEM_A_STATS_PAGES_IN_USE,
	MY_SHMEM_A_STATS_MAX_PAGES,
	MY_SHMEM_A_STATS_FAULTS,
	MY_SHMEM_A_STATS_CLEANS,
	MY_SHMEM_A_STATS_INVALS,
	MY_SHMEM_A_STATS_SIGBUS,
	MY_SHMEM_A_STATS_ORDER_FALLBACKS,
	MY_SHMEM_A_STATS_VMAS,
	MY_SHMEM_A_STATS_FILES,
	MY_SHMEM_A_STATS_SEGMENTS,
	MY_SHMEM_A_STATS_ALLOCS_BY_ORDER,	/* one per order, in order */

	__MY_SHMEM_A_STATS_MAX,
	MY_SHMEM_A_STATS_MAX = (__MY_SHMEM_A_STATS_MAX - 1)
};

enum {
	MY_SHMEM_A_SEG_PAD = 1,
	MY_SHMEM_A_SEG_ID,
	MY_SHMEM_A_SEG_KEY,
	MY_SHMEM_A_SEG_BYTES,
	MY_SHMEM_A_SEG_MODE,
	MY_SHMEM_A_SEG_PERM,
	MY_SHMEM_A_SEG_FLAGS,
	MY_SHMEM_A_SEG_UID,
	MY_SHMEM_A_SEG_GID,
	MY_SHMEM_A_SEG_CUID,
	MY_SHMEM_A_SEG_CGID,
	MY_SHMEM_A_SEG_CPID,
	MY_SHMEM_A_SEG_LPID,
	MY_SHMEM_A_SEG_NATTCH,
	MY_SHMEM_A_SEG_NODES,
	MY_SHMEM_A_SEG_ATIME,
	MY_SHMEM_A_SEG_DTIME,
	MY_SHMEM_A_SEG_CTIME,
	MY_SHMEM_A_SEG_PAGES,
	MY_SHMEM_A_SEG_FAULTS,
	MY_SHMEM_A_SEG_CLEANS,
	MY_SHMEM_A_SEG_INVALS,
	MY_SHMEM_A_SEG_ALLOCS_BY_ORDER,	/* one per order, in order */

	__MY_SHMEM_A_SEG_MAX,
	MY_SHMEM_A_SEG_MAX = (__MY_SHMEM_A_SEG_MAX - 1)
};

enum {
	MY_SHMEM_A_PARAM_NAME = 1,
	MY_SHMEM_A_PARAM_VALUE,

	__MY_SHMEM_A_PARAM_MAX,
	MY_SHMEM_A_PARAM_MAX = (__MY_SHMEM_A_PARAM_MAX - 1)
};

enum {
	MY_SHMEM_A_EVENT_PAD = 1,
	MY_SHMEM_A_EVENT_TYPE,
	MY_SHMEM_A_EVENT_SEG_ID,
	MY_SHMEM_A_EVENT_KEY,
	MY_SHMEM_A_EVENT_PGOFF,
	MY_SHMEM_A_EVENT_ORDER,
	MY_SHMEM_A_EVENT_DROPPED,
	MY_SHMEM_A_EVENT_NODE,
	MY_SHMEM_A_EVENT_FROM,
	MY_SHMEM_A_EVENT_TO,
	MY_SHMEM_A_EVENT_CAUSE,

	__MY_SHMEM_A_EVENT_MAX,
	MY_SHMEM_A_EVENT_MAX = (__MY_SHMEM_A_EVENT_MAX - 1)
};

/*
 * msi-get (dump): per node of the segment, its states in chunks of at most
 * MY_SHMEM_MSI_CHUNK pages (NODE, FIRST, STATES: one byte per page); then
 * the directory in chunks (FIRST, OWNERS and SHARERS: one __u32 per page,
 * as MY_SHMEM_IOC_MSI_VIEW fills them).
 */
#define MY_SHMEM_MSI_CHUNK	256

enum {
	MY_SHMEM_A_MSI_PAD = 1,
	MY_SHMEM_A_MSI_SEG_ID,
	MY_SHMEM_A_MSI_NODE,
	MY_SHMEM_A_MSI_FIRST,
	MY_SHMEM_A_MSI_STATES,
	MY_SHMEM_A_MSI_OWNERS,
	MY_SHMEM_A_MSI_SHARERS,

	__MY_SHMEM_A_MSI_MAX,
	MY_SHMEM_A_MSI_MAX = (__MY_SHMEM_A_MSI_MAX - 1)
};

enum {
	MY_SHMEM_CMD_STATS_GET = 1,
	MY_SHMEM_CMD_SEG_GET,
	MY_SHMEM_CMD_SEG_DEL,
	MY_SHMEM_CMD_PARAM_GET,
	MY_SHMEM_CMD_PARAM_SET,
	MY_SHMEM_CMD_EVENT,
	MY_SHMEM_CMD_MSI_GET,

	__MY_SHMEM_CMD_MAX,
	MY_SHMEM_CMD_MAX = (__MY_SHMEM_CMD_MAX - 1)
};

#endif /* _UAPI_LINUX_MY_SHMEM_H */
