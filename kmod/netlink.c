// SPDX-License-Identifier: GPL-2.0
/*
 * The generic-netlink family "my_shmem" (uapi/netlink/my_shmem.yaml):
 * stats-get, seg-get (do and dump), seg-del, param-get (do and dump),
 * param-set, msi-get (dump), and the multicast group "events".
 *
 * Every operation has its own strict policy (resv_start_op 0: unknown
 * attributes are refused, with an extended ack naming them); seg-del and
 * param-set change state for others and need CAP_NET_ADMIN
 * (GENL_ADMIN_PERM).  Requests run in the sender's context, so segment
 * access is checked against the sender's credentials as for the ioctls.
 * Parameters are the module's own (THIS_MODULE->kp), read and written
 * through their kernel_param_ops under kernel_param_lock(), exactly as
 * sysfs does.  Events are sent only when someone listens
 * (genl_has_listeners()), at most MY_SHMEM_EVENT_BURST per second; the
 * events the limit drops are counted and reported in the next one sent.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/ratelimit.h>
#include <linux/string.h>
#include <net/genetlink.h>

#include "my_shmem.h"

/* Events a second; a listener's default receive buffer holds a second's worth. */
#define MY_SHMEM_EVENT_BURST	256

enum {
	MY_SHMEM_NLGRP_EVENTS,
};

static const struct genl_multicast_group my_shmem_nl_mcgrps[] = {
	[MY_SHMEM_NLGRP_EVENTS] = { .name = MY_SHMEM_MCGRP_EVENTS },
};

static struct genl_family my_shmem_nl_family;

static DEFINE_RATELIMIT_STATE(my_shmem_nl_event_rs, HZ, MY_SHMEM_EVENT_BURST);
static atomic_long_t my_shmem_nl_dropped;

/* --- policies (one per operation) ------------------------------------------- */

static const struct nla_policy my_shmem_nl_seg_id_policy[MY_SHMEM_A_SEG_ID + 1] = {
	[MY_SHMEM_A_SEG_ID] = { .type = NLA_U32 },
};

static const struct nla_policy my_shmem_nl_param_name_policy[MY_SHMEM_A_PARAM_NAME + 1] = {
	[MY_SHMEM_A_PARAM_NAME] = { .type = NLA_NUL_STRING, .len = 63 },
};

static const struct nla_policy my_shmem_nl_param_set_policy[MY_SHMEM_A_PARAM_VALUE + 1] = {
	[MY_SHMEM_A_PARAM_NAME] = { .type = NLA_NUL_STRING, .len = 63 },
	[MY_SHMEM_A_PARAM_VALUE] = { .type = NLA_NUL_STRING, .len = 63 },
};

static const struct nla_policy my_shmem_nl_msi_policy[MY_SHMEM_A_MSI_SEG_ID + 1] = {
	[MY_SHMEM_A_MSI_SEG_ID] = { .type = NLA_U32 },
};

/* --- stats ------------------------------------------------------------------- */

/* One attribute per order, in order. */
static int my_shmem_nl_put_orders(struct sk_buff *skb, int type, int pad,
				  const atomic_long_t *orders)
{
	unsigned int i;

	for (i = 0; i < MY_SHMEM_NR_ORDERS; i++)
		if (nla_put_u64_64bit(skb, type, atomic_long_read(&orders[i]), pad))
			return -EMSGSIZE;
	return 0;
}

static int my_shmem_nl_stats_get(struct sk_buff *skb, struct genl_info *info)
{
	struct my_shmem_stats st;
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &my_shmem_nl_family, 0, info->genlhdr->cmd);
	if (!hdr)
		goto err_free;
	my_shmem_stats_snapshot(&st);
	if (nla_put_u64_64bit(msg, MY_SHMEM_A_STATS_PAGES_IN_USE, st.pages_in_use,
			      MY_SHMEM_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, MY_SHMEM_A_STATS_MAX_PAGES, st.max_pages,
			      MY_SHMEM_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, MY_SHMEM_A_STATS_FAULTS, st.faults, MY_SHMEM_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, MY_SHMEM_A_STATS_CLEANS, st.cleans, MY_SHMEM_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, MY_SHMEM_A_STATS_INVALS, st.invals, MY_SHMEM_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, MY_SHMEM_A_STATS_SIGBUS, st.sigbus, MY_SHMEM_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, MY_SHMEM_A_STATS_ORDER_FALLBACKS, st.order_fallbacks,
			      MY_SHMEM_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, MY_SHMEM_A_STATS_VMAS, st.vmas, MY_SHMEM_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, MY_SHMEM_A_STATS_FILES, st.files, MY_SHMEM_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, MY_SHMEM_A_STATS_SEGMENTS, st.segments,
			      MY_SHMEM_A_STATS_PAD) ||
	    my_shmem_nl_put_orders(msg, MY_SHMEM_A_STATS_ALLOCS_BY_ORDER,
				   MY_SHMEM_A_STATS_PAD, my_shmem_counters.allocs_by_order))
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* --- segments ------------------------------------------------------------------ */

static int my_shmem_nl_seg_fill(struct sk_buff *skb, struct my_shmem_seg *seg)
{
	struct my_shmem_seg_info si = { .size = sizeof(si) };

	my_shmem_seg_info(seg, &si);
	if (nla_put_u32(skb, MY_SHMEM_A_SEG_ID, si.id) ||
	    nla_put_u64_64bit(skb, MY_SHMEM_A_SEG_KEY, si.key, MY_SHMEM_A_SEG_PAD) ||
	    nla_put_u64_64bit(skb, MY_SHMEM_A_SEG_BYTES, si.bytes, MY_SHMEM_A_SEG_PAD) ||
	    nla_put_u32(skb, MY_SHMEM_A_SEG_MODE, si.mode) ||
	    nla_put_u32(skb, MY_SHMEM_A_SEG_PERM, si.perm) ||
	    nla_put_u32(skb, MY_SHMEM_A_SEG_FLAGS, si.flags) ||
	    nla_put_u32(skb, MY_SHMEM_A_SEG_UID, si.uid) ||
	    nla_put_u32(skb, MY_SHMEM_A_SEG_GID, si.gid) ||
	    nla_put_u32(skb, MY_SHMEM_A_SEG_CUID, si.cuid) ||
	    nla_put_u32(skb, MY_SHMEM_A_SEG_CGID, si.cgid) ||
	    nla_put_s32(skb, MY_SHMEM_A_SEG_CPID, si.cpid) ||
	    nla_put_s32(skb, MY_SHMEM_A_SEG_LPID, si.lpid) ||
	    nla_put_u32(skb, MY_SHMEM_A_SEG_NATTCH, si.nattch) ||
	    nla_put_u32(skb, MY_SHMEM_A_SEG_NODES, si.nodes) ||
	    nla_put_s64(skb, MY_SHMEM_A_SEG_ATIME, si.atime, MY_SHMEM_A_SEG_PAD) ||
	    nla_put_s64(skb, MY_SHMEM_A_SEG_DTIME, si.dtime, MY_SHMEM_A_SEG_PAD) ||
	    nla_put_s64(skb, MY_SHMEM_A_SEG_CTIME, si.ctime, MY_SHMEM_A_SEG_PAD) ||
	    nla_put_u64_64bit(skb, MY_SHMEM_A_SEG_PAGES, si.pages, MY_SHMEM_A_SEG_PAD) ||
	    nla_put_u64_64bit(skb, MY_SHMEM_A_SEG_FAULTS, si.faults, MY_SHMEM_A_SEG_PAD) ||
	    nla_put_u64_64bit(skb, MY_SHMEM_A_SEG_CLEANS, si.cleans, MY_SHMEM_A_SEG_PAD) ||
	    nla_put_u64_64bit(skb, MY_SHMEM_A_SEG_INVALS, si.invals, MY_SHMEM_A_SEG_PAD) ||
	    my_shmem_nl_put_orders(skb, MY_SHMEM_A_SEG_ALLOCS_BY_ORDER,
				   MY_SHMEM_A_SEG_PAD, seg->stats.allocs_by_order))
		return -EMSGSIZE;
	return 0;
}

/*
 * A reference to the segment whose id is @id, if the caller may read it;
 * else an ERR_PTR, with the reason in @extack.
 */
static struct my_shmem_seg *my_shmem_nl_seg_readable(struct nlattr *id,
						     struct netlink_ext_ack *extack)
{
	struct my_shmem_seg *seg = my_shmem_seg_find(nla_get_u32(id));

	if (!seg) {
		NL_SET_ERR_MSG_ATTR(extack, id, "no segment with this id");
		return ERR_PTR(-ENOENT);
	}
	if (!my_shmem_seg_may_access(seg, false)) {
		NL_SET_ERR_MSG_ATTR(extack, id, "no read permission on this segment");
		my_shmem_seg_put(seg);
		return ERR_PTR(-EACCES);
	}
	return seg;
}

static int my_shmem_nl_seg_get(struct sk_buff *skb, struct genl_info *info)
{
	struct my_shmem_seg *seg;
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, MY_SHMEM_A_SEG_ID))
		return -EINVAL;
	seg = my_shmem_nl_seg_readable(info->attrs[MY_SHMEM_A_SEG_ID], info->extack);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	err = -ENOMEM;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto out_put;
	err = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &my_shmem_nl_family, 0, info->genlhdr->cmd);
	if (!hdr || my_shmem_nl_seg_fill(msg, seg)) {
		nlmsg_free(msg);
		goto out_put;
	}
	genlmsg_end(msg, hdr);
	err = genlmsg_reply(msg, info);
out_put:
	my_shmem_seg_put(seg);
	return err;
}

/*
 * Dump every segment the caller may read, in id order, resuming at
 * cb->args[0]; the dump is flagged interrupted (NLM_F_DUMP_INTR) when
 * segments were created or freed between two parts of it.
 */
static int my_shmem_nl_seg_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	unsigned long index = cb->args[0];
	struct my_shmem_seg *seg;
	void *hdr;

	cb->seq = my_shmem_registry_gen();
	while ((seg = my_shmem_seg_next(&index))) {
		if (!my_shmem_seg_may_access(seg, false)) {
			my_shmem_seg_put(seg);
			index++;
			continue;
		}
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				  &my_shmem_nl_family, NLM_F_MULTI, MY_SHMEM_CMD_SEG_GET);
		if (!hdr) {
			my_shmem_seg_put(seg);
			break;
		}
		genl_dump_check_consistent(cb, hdr);
		if (my_shmem_nl_seg_fill(skb, seg)) {
			genlmsg_cancel(skb, hdr);
			my_shmem_seg_put(seg);
			break;
		}
		genlmsg_end(skb, hdr);
		my_shmem_seg_put(seg);
		index++;
	}
	cb->args[0] = index;
	return skb->len;
}

static int my_shmem_nl_seg_del(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *id = info->attrs[MY_SHMEM_A_SEG_ID];
	int err;

	if (GENL_REQ_ATTR_CHECK(info, MY_SHMEM_A_SEG_ID))
		return -EINVAL;
	err = my_shmem_seg_delete(nla_get_u32(id));
	if (err == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, id,
				    "no segment with this id, or already deleted");
	else if (err == -EINVAL)
		NL_SET_ERR_MSG_ATTR(info->extack, id, "segment 0 cannot be deleted");
	else if (err == -EPERM)
		NL_SET_ERR_MSG_ATTR(info->extack, id,
				    "neither owner nor creator (CAP_IPC_OWNER overrides)");
	return err;
}

/* --- parameters ---------------------------------------------------------------- */

static const struct kernel_param *my_shmem_nl_param(const char *name)
{
	unsigned int i;

	for (i = 0; i < THIS_MODULE->num_kp; i++)
		if (!strcmp(THIS_MODULE->kp[i].name, name))
			return &THIS_MODULE->kp[i];
	return NULL;
}

/* Put one parameter's name and value (as sysfs shows it, no newline). */
static int my_shmem_nl_param_fill(struct sk_buff *skb, const struct kernel_param *kp,
				  char *page)
{
	int len;

	kernel_param_lock(THIS_MODULE);
	len = kp->ops->get ? kp->ops->get(page, kp) : -EPERM;
	kernel_param_unlock(THIS_MODULE);
	if (len < 0)
		return len;
	while (len > 0 && page[len - 1] == '\n')
		len--;
	page[len] = '\0';
	if (nla_put_string(skb, MY_SHMEM_A_PARAM_NAME, kp->name) ||
	    nla_put_string(skb, MY_SHMEM_A_PARAM_VALUE, page))
		return -EMSGSIZE;
	return 0;
}

static int my_shmem_nl_param_get(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *name = info->attrs[MY_SHMEM_A_PARAM_NAME];
	const struct kernel_param *kp;
	struct sk_buff *msg;
	char *page;
	void *hdr;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, MY_SHMEM_A_PARAM_NAME))
		return -EINVAL;
	kp = my_shmem_nl_param(nla_data(name));
	if (!kp) {
		NL_SET_ERR_MSG_ATTR(info->extack, name, "no such parameter");
		return -ENOENT;
	}
	page = (char *)__get_free_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	err = -ENOMEM;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto out_page;
	err = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &my_shmem_nl_family, 0, info->genlhdr->cmd);
	if (!hdr)
		goto err_msg;
	err = my_shmem_nl_param_fill(msg, kp, page);
	if (err)
		goto err_msg;
	genlmsg_end(msg, hdr);
	err = genlmsg_reply(msg, info);
	goto out_page;

err_msg:
	nlmsg_free(msg);
out_page:
	free_page((unsigned long)page);
	return err;
}

static int my_shmem_nl_param_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	unsigned int i = cb->args[0];
	char *page;
	void *hdr;

	page = (char *)__get_free_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	for (; i < THIS_MODULE->num_kp; i++) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				  &my_shmem_nl_family, NLM_F_MULTI, MY_SHMEM_CMD_PARAM_GET);
		if (!hdr)
			break;
		if (my_shmem_nl_param_fill(skb, &THIS_MODULE->kp[i], page)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	free_page((unsigned long)page);
	cb->args[0] = i;
	return skb->len;
}

static int my_shmem_nl_param_set(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *name = info->attrs[MY_SHMEM_A_PARAM_NAME];
	struct nlattr *value = info->attrs[MY_SHMEM_A_PARAM_VALUE];
	const struct kernel_param *kp;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, MY_SHMEM_A_PARAM_NAME) ||
	    GENL_REQ_ATTR_CHECK(info, MY_SHMEM_A_PARAM_VALUE))
		return -EINVAL;
	kp = my_shmem_nl_param(nla_data(name));
	if (!kp) {
		NL_SET_ERR_MSG_ATTR(info->extack, name, "no such parameter");
		return -ENOENT;
	}
	if (!(kp->perm & 0200) || !kp->ops->set) {
		NL_SET_ERR_MSG_ATTR(info->extack, name, "parameter is read-only (set it at load)");
		return -EPERM;
	}
	kernel_param_lock(THIS_MODULE);
	err = kp->ops->set(nla_data(value), kp);
	kernel_param_unlock(THIS_MODULE);
	if (err)
		NL_SET_ERR_MSG_ATTR(info->extack, value, "value refused by the parameter");
	return err;
}

/* --- msi ------------------------------------------------------------------------ */

/* One chunk of a coherent segment's states, as MY_SHMEM_IOC_MSI_VIEW reads them. */
struct my_shmem_nl_msi_chunk {
	u8 states[MY_SHMEM_MSI_CHUNK];
	u32 owners[MY_SHMEM_MSI_CHUNK];
	u32 sharers[MY_SHMEM_MSI_CHUNK];
};

/*
 * One message: node @nid's states of [@first, @first + @n), or with
 * @nid == MY_SHMEM_NODE_NONE the directory of those pages.
 */
static int my_shmem_nl_msi_fill(struct sk_buff *skb, struct netlink_callback *cb,
				struct my_shmem_seg *seg, u32 nid, u64 first,
				u64 n, struct my_shmem_nl_msi_chunk *c)
{
	bool dir = nid == MY_SHMEM_NODE_NONE;
	void *hdr;
	u64 i;
	int err;

	for (i = 0; i < n; i++) {
		err = my_shmem_msi_view(seg, nid, first + i, &c->states[i],
					&c->owners[i], &c->sharers[i]);
		if (err)
			return err;
	}
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &my_shmem_nl_family, NLM_F_MULTI, MY_SHMEM_CMD_MSI_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, MY_SHMEM_A_MSI_SEG_ID, seg->id) ||
	    nla_put_u64_64bit(skb, MY_SHMEM_A_MSI_FIRST, first, MY_SHMEM_A_MSI_PAD) ||
	    (!dir && (nla_put_u32(skb, MY_SHMEM_A_MSI_NODE, nid) ||
		      nla_put(skb, MY_SHMEM_A_MSI_STATES, n, c->states))) ||
	    (dir && (nla_put(skb, MY_SHMEM_A_MSI_OWNERS, n * sizeof(u32), c->owners) ||
		     nla_put(skb, MY_SHMEM_A_MSI_SHARERS, n * sizeof(u32), c->sharers)))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* The first node with an id >= *@nid, or MY_SHMEM_NODE_NONE when none is left. */
static void my_shmem_nl_msi_next_node(struct my_shmem_seg *seg, unsigned long *nid)
{
	if (!xa_find(&seg->members, nid, MY_SHMEM_MAX_NODES - 1, XA_PRESENT))
		*nid = MY_SHMEM_NODE_NONE;
}

/*
 * msi-get checks its request when the dump starts, so that an error comes
 * back as the request's ack (with its extended-ack message), and holds the
 * segment (cb->args[3]) until the dump is done.
 */
static int my_shmem_nl_msi_start(struct netlink_callback *cb)
{
	struct nlattr **attrs = my_shmem_genl_dump_attrs(cb);
	struct nlattr *id = attrs[MY_SHMEM_A_MSI_SEG_ID];
	struct my_shmem_seg *seg;

	if (!id) {
		NL_SET_ERR_MSG(cb->extack, "msi-get needs the segment id (seg-id)");
		return -EINVAL;
	}
	seg = my_shmem_nl_seg_readable(id, cb->extack);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	if (seg->mode != MY_SHMEM_MODE_COHERENT) {
		NL_SET_ERR_MSG_ATTR(cb->extack, id, "segment is not coherent");
		my_shmem_seg_put(seg);
		return -EOPNOTSUPP;
	}
	cb->args[3] = (long)seg;
	return 0;
}

static int my_shmem_nl_msi_done(struct netlink_callback *cb)
{
	my_shmem_seg_put((struct my_shmem_seg *)cb->args[3]);
	return 0;
}

/*
 * Dump the states of every node of a coherent segment (in id order), then
 * its directory, in chunks of MY_SHMEM_MSI_CHUNK pages; resumes at
 * cb->args[0] (the node id, or MY_SHMEM_NODE_NONE for the directory) and
 * cb->args[1] (the next page); cb->args[2] is set once the first node has
 * been looked up.  Nodes joining or leaving meanwhile may be missed or
 * appear, as with any dump.
 */
static int my_shmem_nl_msi_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct my_shmem_seg *seg = (struct my_shmem_seg *)cb->args[3];
	struct my_shmem_nl_msi_chunk *c;
	unsigned long nid = cb->args[0];
	u64 first = cb->args[1], size;
	int err = 0;

	c = kmalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	size = READ_ONCE(seg->size);
	if (!cb->args[2]) {
		cb->args[2] = 1;
		my_shmem_nl_msi_next_node(seg, &nid);
	}
	while (nid != MY_SHMEM_NODE_NONE || first < size) {
		u64 n = min_t(u64, size - first, MY_SHMEM_MSI_CHUNK);

		err = my_shmem_nl_msi_fill(skb, cb, seg, nid, first, n, c);
		if (err)
			break;
		first += n;
		if (nid != MY_SHMEM_NODE_NONE && first >= size) {
			nid++;
			first = 0;
			my_shmem_nl_msi_next_node(seg, &nid);
		}
	}
	kfree(c);
	cb->args[0] = nid;
	cb->args[1] = first;
	/* A full message is the next part; only an empty one is an error. */
	if (err == -EMSGSIZE && skb->len)
		err = 0;
	return err ? err : skb->len;
}

static const struct genl_ops my_shmem_nl_ops[] = {
	{
		.cmd = MY_SHMEM_CMD_STATS_GET,
		.doit = my_shmem_nl_stats_get,
	},
	{
		.cmd = MY_SHMEM_CMD_SEG_GET,
		.doit = my_shmem_nl_seg_get,
		.dumpit = my_shmem_nl_seg_dump,
		.policy = my_shmem_nl_seg_id_policy,
		.maxattr = ARRAY_SIZE(my_shmem_nl_seg_id_policy) - 1,
	},
	{
		.cmd = MY_SHMEM_CMD_SEG_DEL,
		.doit = my_shmem_nl_seg_del,
		.policy = my_shmem_nl_seg_id_policy,
		.maxattr = ARRAY_SIZE(my_shmem_nl_seg_id_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = MY_SHMEM_CMD_PARAM_GET,
		.doit = my_shmem_nl_param_get,
		.dumpit = my_shmem_nl_param_dump,
		.policy = my_shmem_nl_param_name_policy,
		.maxattr = ARRAY_SIZE(my_shmem_nl_param_name_policy) - 1,
	},
	{
		.cmd = MY_SHMEM_CMD_PARAM_SET,
		.doit = my_shmem_nl_param_set,
		.policy = my_shmem_nl_param_set_policy,
		.maxattr = ARRAY_SIZE(my_shmem_nl_param_set_policy) - 1,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = MY_SHMEM_CMD_MSI_GET,
		.start = my_shmem_nl_msi_start,
		.dumpit = my_shmem_nl_msi_dump,
		.done = my_shmem_nl_msi_done,
		.policy = my_shmem_nl_msi_policy,
		.maxattr = ARRAY_SIZE(my_shmem_nl_msi_policy) - 1,
	},
};

static struct genl_family my_shmem_nl_family = {
	.name = MY_SHMEM_FAMILY_NAME,
	.version = MY_SHMEM_FAMILY_VERSION,
	.module = THIS_MODULE,
	.parallel_ops = true,
	.ops = my_shmem_nl_ops,
	.n_ops = ARRAY_SIZE(my_shmem_nl_ops),
	.mcgrps = my_shmem_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(my_shmem_nl_mcgrps),
};

/* --- events ---------------------------------------------------------------------- */

/* What an event says beyond its type and segment. */
struct my_shmem_nl_ev {
	u32 type;
	u64 pgoff;
	u32 order;
	u32 node;
	u32 from;
	u32 to;
	u32 cause;
};

static int my_shmem_nl_event_fill(struct sk_buff *msg,
				  const struct my_shmem_seg *seg,
				  const struct my_shmem_nl_ev *ev)
{
	if (nla_put_u32(msg, MY_SHMEM_A_EVENT_TYPE, ev->type) ||
	    nla_put_u32(msg, MY_SHMEM_A_EVENT_SEG_ID, seg->id) ||
	    nla_put_u64_64bit(msg, MY_SHMEM_A_EVENT_KEY, seg->key, MY_SHMEM_A_EVENT_PAD))
		return -EMSGSIZE;
	if ((ev->type == MY_SHMEM_EVENT_TYPE_ALLOC ||
	     ev->type == MY_SHMEM_EVENT_TYPE_MSI) &&
	    nla_put_u64_64bit(msg, MY_SHMEM_A_EVENT_PGOFF, ev->pgoff, MY_SHMEM_A_EVENT_PAD))
		return -EMSGSIZE;
	if (ev->type == MY_SHMEM_EVENT_TYPE_ALLOC &&
	    nla_put_u32(msg, MY_SHMEM_A_EVENT_ORDER, ev->order))
		return -EMSGSIZE;
	if (ev->type == MY_SHMEM_EVENT_TYPE_MSI &&
	    (nla_put_u32(msg, MY_SHMEM_A_EVENT_NODE, ev->node) ||
	     nla_put_u32(msg, MY_SHMEM_A_EVENT_FROM, ev->from) ||
	     nla_put_u32(msg, MY_SHMEM_A_EVENT_TO, ev->to) ||
	     nla_put_u32(msg, MY_SHMEM_A_EVENT_CAUSE, ev->cause)))
		return -EMSGSIZE;
	return nla_put_u64_64bit(msg, MY_SHMEM_A_EVENT_DROPPED,
				 atomic_long_xchg(&my_shmem_nl_dropped, 0),
				 MY_SHMEM_A_EVENT_PAD);
}

/*
 * Send one event if anyone listens and the rate limit allows; a dropped
 * event is counted and the count goes out with the next one sent.
 */
static void my_shmem_nl_event(const struct my_shmem_seg *seg,
			      const struct my_shmem_nl_ev *ev)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&my_shmem_nl_family, &init_net, MY_SHMEM_NLGRP_EVENTS))
		return;
	if (!__ratelimit(&my_shmem_nl_event_rs)) {
		atomic_long_inc(&my_shmem_nl_dropped);
		return;
	}
	msg = genlmsg_new(nla_total_size(sizeof(u32)) * 7 +
			  nla_total_size_64bit(sizeof(u64)) * 3, GFP_KERNEL);
	if (!msg)
		goto dropped;
	hdr = genlmsg_put(msg, 0, 0, &my_shmem_nl_family, 0, MY_SHMEM_CMD_EVENT);
	if (!hdr || my_shmem_nl_event_fill(msg, seg, ev))
		goto err_free;
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&my_shmem_nl_family, msg, 0, MY_SHMEM_NLGRP_EVENTS, GFP_KERNEL);
	return;

err_free:
	nlmsg_free(msg);
dropped:
	atomic_long_inc(&my_shmem_nl_dropped);
}

/**
 * my_shmem_nl_seg_event() - a segment was created or deleted
 * @seg: the segment
 * @created: true for creation, false for deletion
 */
void my_shmem_nl_seg_event(const struct my_shmem_seg *seg, bool created)
{
	struct my_shmem_nl_ev ev = {
		.type = created ? MY_SHMEM_EVENT_TYPE_SEG_CREATED :
				  MY_SHMEM_EVENT_TYPE_SEG_DELETED,
	};

	my_shmem_nl_event(seg, &ev);
}

/**
 * my_shmem_nl_alloc_event() - a run was allocated
 * @seg: its segment
 * @pgoff: its first page offset
 * @order: its order
 */
void my_shmem_nl_alloc_event(const struct my_shmem_seg *seg, pgoff_t pgoff,
			     unsigned int order)
{
	struct my_shmem_nl_ev ev = {
		.type = MY_SHMEM_EVENT_TYPE_ALLOC, .pgoff = pgoff, .order = order,
	};

	my_shmem_nl_event(seg, &ev);
}

/**
 * my_shmem_nl_msi_event() - a node's MSI state of a page changed
 * @seg: the coherent segment
 * @pgoff: the page
 * @node: the node's id
 * @from: its state before (MY_SHMEM_MSI_*)
 * @to: its state after
 * @cause: enum my_shmem_msi_cause
 */
void my_shmem_nl_msi_event(const struct my_shmem_seg *seg, pgoff_t pgoff,
			   u32 node, unsigned int from, unsigned int to,
			   unsigned int cause)
{
	struct my_shmem_nl_ev ev = {
		.type = MY_SHMEM_EVENT_TYPE_MSI, .pgoff = pgoff, .node = node,
		.from = from, .to = to, .cause = cause,
	};

	my_shmem_nl_event(seg, &ev);
}

/**
 * my_shmem_nl_init() - register the family
 *
 * Return: 0 or a negative errno.
 */
int my_shmem_nl_init(void)
{
	ratelimit_set_flags(&my_shmem_nl_event_rs, RATELIMIT_MSG_ON_RELEASE);
	return genl_register_family(&my_shmem_nl_family);
}

/**
 * my_shmem_nl_exit() - unregister it
 */
void my_shmem_nl_exit(void)
{
	genl_unregister_family(&my_shmem_nl_family);
}
