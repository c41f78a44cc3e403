/* procs_list.c - remote procedures that list domains or report on several at once.
 *
 * Each call takes one snapshot of the backend's domains (ops->list) and answers from
 * it. The filter flags are libvirt's virConnectListAllDomainsFlags: within each pair
 * (active/inactive, persistent/transient, ...) no flag means both, one flag selects.
 */
#include "vmm/libvirt/procs_list.h"

#include <glib.h>

#include "vmm/libvirt/rpc.h"

/* REMOTE_DOMAIN_LIST_MAX, REMOTE_DOMAIN_ID_LIST_MAX, REMOTE_DOMAIN_NAME_LIST_MAX */
#define LIST_WIRE_MAX 16384
/* REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX: parameters in one record. */
#define LIST_STATS_WIRE_MAX 4096
/* Parameters we ask the backend for, per domain. */
#define LIST_STATS_MAX 128
/* Domains asked for first (small enough not to cost page faults per call). */
#define LIST_FIRST_TRY 64

/* virConnectListAllDomainsFlags */
enum {
	LIST_ACTIVE = 1 << 0,
	LIST_INACTIVE = 1 << 1,
	LIST_PERSISTENT = 1 << 2,
	LIST_TRANSIENT = 1 << 3,
	LIST_RUNNING = 1 << 4,
	LIST_PAUSED = 1 << 5,
	LIST_SHUTOFF = 1 << 6,
	LIST_OTHER = 1 << 7,
	LIST_MANAGEDSAVE = 1 << 8,
	LIST_NO_MANAGEDSAVE = 1 << 9,
	LIST_AUTOSTART = 1 << 10,
	LIST_NO_AUTOSTART = 1 << 11,
	LIST_HAS_SNAPSHOT = 1 << 12,
	LIST_NO_SNAPSHOT = 1 << 13,
	LIST_HAS_CHECKPOINT = 1 << 14,
	LIST_NO_CHECKPOINT = 1 << 15,
};

/* A snapshot of the backend's domains. */
struct list_doms {
	struct lv_dom *d; /* g_malloc'd */
	size_t n;
};

/* Take the snapshot: a small buffer first (the usual fleet), all LV_MAX_DOMAINS only
 * when it came back full. */
static void list_take(struct procs_call *c, struct list_doms *l)
{
	size_t max = LIST_FIRST_TRY;
	int n;

	for (;;) {
		l->d = g_new(struct lv_dom, max); /* the backend fills what it returns */
		n = c->b->ops->list(c->b->be, l->d, max);
		l->n = n < 0 ? 0 : MIN((size_t) n, max);
		if (l->n < max || max == LV_MAX_DOMAINS)
			return;
		g_free(l->d);
		max = LV_MAX_DOMAINS;
	}
}

static bool list_pair(uint32_t flags, uint32_t yes, uint32_t no, bool v)
{
	if (!(flags & (yes | no)))
		return true;
	return ((flags & yes) && v) || ((flags & no) && !v);
}

static bool list_state_match(uint32_t flags, const struct lv_dom *d)
{
	uint32_t mask = LIST_RUNNING | LIST_PAUSED | LIST_SHUTOFF | LIST_OTHER;

	if (!(flags & mask))
		return true;
	if (d->state == LV_STATE_RUNNING)
		return flags & LIST_RUNNING;
	if (d->state == LV_STATE_SHUTOFF)
		return flags & LIST_SHUTOFF;
	return flags & LIST_OTHER;
}

/* Does @d pass the filter @flags? (The VMM keeps no managed saves, snapshots or
 * checkpoints: the "has" side of those pairs matches nothing.) */
static bool list_match(uint32_t flags, const struct lv_dom *d)
{
	return list_pair(flags, LIST_ACTIVE, LIST_INACTIVE, d->id > 0) &&
	       list_pair(flags, LIST_PERSISTENT, LIST_TRANSIENT, d->persistent) &&
	       list_state_match(flags, d) &&
	       list_pair(flags, LIST_MANAGEDSAVE, LIST_NO_MANAGEDSAVE, false) &&
	       list_pair(flags, LIST_AUTOSTART, LIST_NO_AUTOSTART, d->autostart) &&
	       list_pair(flags, LIST_HAS_SNAPSHOT, LIST_NO_SNAPSHOT, false) &&
	       list_pair(flags, LIST_HAS_CHECKPOINT, LIST_NO_CHECKPOINT, false);
}

static size_t list_count(const struct list_doms *l, uint32_t flags)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += list_match(flags, &l->d[i]);
	return n;
}

/* CONNECT_NUM_OF_DOMAINS (@flags LIST_ACTIVE) and NUM_OF_DEFINED_DOMAINS (inactive). */
static int list_num(struct procs_call *c, uint32_t flags)
{
	struct list_doms l;

	if (procs_args_done(c))
		return -1;
	list_take(c, &l);
	xdr_put_int(c->ret, (int32_t) list_count(&l, flags));
	g_free(l.d);
	return 0;
}

static int list_num_active(struct procs_call *c)
{
	return list_num(c, LIST_ACTIVE);
}

static int list_num_defined(struct procs_call *c)
{
	return list_num(c, LIST_INACTIVE);
}

/* The argument of the old list calls: how many the caller has room for. */
static int list_get_max(struct procs_call *c, uint32_t *max)
{
	int32_t n;

	xdr_get_int(c->args, &n);
	if (procs_args_done(c))
		return -1;
	if (n < 0 || n > LIST_WIRE_MAX)
		return procs_fail(c, LV_ERR_INVALID_ARG, "a list of %d is out of range", n);
	*max = (uint32_t) n;
	return 0;
}

/* CONNECT_LIST_DOMAINS: ids of running domains. */
static int list_ids(struct procs_call *c)
{
	struct list_doms l;
	uint32_t max = 0, n;

	if (list_get_max(c, &max))
		return -1;
	list_take(c, &l);
	n = MIN((uint32_t) list_count(&l, LIST_ACTIVE), max);
	xdr_put_array_len(c->ret, n, LIST_WIRE_MAX);
	for (size_t i = 0; i < l.n && n; i++)
		if (list_match(LIST_ACTIVE, &l.d[i]) && n--)
			xdr_put_int(c->ret, l.d[i].id);
	g_free(l.d);
	return 0;
}

/* CONNECT_LIST_DEFINED_DOMAINS: names of domains not running. */
static int list_defined(struct procs_call *c)
{
	struct list_doms l;
	uint32_t max = 0, n;

	if (list_get_max(c, &max))
		return -1;
	list_take(c, &l);
	n = MIN((uint32_t) list_count(&l, LIST_INACTIVE), max);
	xdr_put_array_len(c->ret, n, LIST_WIRE_MAX);
	for (size_t i = 0; i < l.n && n; i++)
		if (list_match(LIST_INACTIVE, &l.d[i]) && n--)
			xdr_put_string(c->ret, l.d[i].name, LV_NAME_MAX);
	g_free(l.d);
	return 0;
}

/* CONNECT_LIST_ALL_DOMAINS: with need_results 0 only the count. */
static int list_all(struct procs_call *c)
{
	int32_t need_results;
	struct list_doms l;
	uint32_t flags, n;

	xdr_get_int(c->args, &need_results);
	xdr_get_uint(c->args, &flags);
	if (procs_args_done(c))
		return -1;
	list_take(c, &l);
	n = (uint32_t) list_count(&l, flags);
	xdr_put_array_len(c->ret, need_results ? n : 0, LIST_WIRE_MAX);
	for (size_t i = 0; i < l.n && need_results; i++)
		if (list_match(flags, &l.d[i]))
			procs_put_dom(c->ret, &l.d[i]);
	xdr_put_uint(c->ret, n);
	g_free(l.d);
	return 0;
}

/* One remote_domain_stats_record. */
static int list_put_stats(struct procs_call *c, const struct lv_dom *d, uint32_t stats,
			  struct lv_param *params)
{
	int n = c->b->ops->domain_stats(c->b->be, &(struct lv_key){.uuid = d->uuid}, stats, params,
					LIST_STATS_MAX, &c->err);

	if (n < 0 || n > LIST_STATS_MAX) {
		if (!c->err.code)
			procs_fail(c, LV_ERR_INTERNAL, "no statistics for '%s'", d->name);
		return -1;
	}
	procs_put_dom(c->ret, d);
	return procs_put_params(c->ret, params, (size_t) n, LIST_STATS_WIRE_MAX) ? -1 : 0;
}

/* The domains the caller named (*@asked of them), each looked up again: one that is
 * gone fails the call, as it does in libvirt. */
static int list_named(struct procs_call *c, struct list_doms *l, uint32_t *asked)
{
	struct procs_dom_ref ref;
	uint32_t n;

	l->d = NULL;
	l->n = 0;
	xdr_get_array_len(c->args, &n, LIST_WIRE_MAX, PROCS_DOM_MIN);
	*asked = n;
	if (n > LV_MAX_DOMAINS)
		return procs_fail(c, LV_ERR_INVALID_ARG, "too many domains: %u", n);
	l->d = g_new0(struct lv_dom, MAX(n, 1u));
	for (uint32_t i = 0; i < n && !c->args->err; i++) {
		procs_get_dom(c->args, &ref);
		if (c->args->err)
			break;
		if (c->b->ops->lookup(c->b->be, &(struct lv_key){.uuid = ref.uuid}, &l->d[l->n],
				      &c->err))
			return c->err.code ? -1
					   : procs_fail(c, LV_ERR_NO_DOMAIN,
							"Domain not found: '%s'", ref.name);
		l->n++;
	}
	return 0;
}

static int list_stats_records(struct procs_call *c, const struct list_doms *l, uint32_t stats,
			      uint32_t flags, bool filter)
{
	struct lv_param *params = g_new(struct lv_param, LIST_STATS_MAX);
	uint32_t n = 0;
	int ret = 0;

	for (size_t i = 0; i < l->n; i++)
		n += !filter || list_match(flags, &l->d[i]);
	xdr_put_array_len(c->ret, n, LIST_WIRE_MAX);
	for (size_t i = 0; i < l->n && !ret; i++)
		if (!filter || list_match(flags, &l->d[i]))
			ret = list_put_stats(c, &l->d[i], stats, params);
	g_free(params);
	return ret;
}

/* CONNECT_GET_ALL_DOMAIN_STATS: the named domains, or every one the filter passes
 * (the low 16 bits of flags; the high ones ask for enforcement or backing chains). */
static int list_all_stats(struct procs_call *c)
{
	uint32_t stats, flags, asked;
	struct list_doms l;
	int ret = -1;

	if (list_named(c, &l, &asked))
		goto out_free;
	xdr_get_uint(c->args, &stats);
	xdr_get_uint(c->args, &flags);
	if (procs_args_done(c))
		goto out_free;
	if (!asked) {
		g_free(l.d);
		list_take(c, &l);
	}
	ret = list_stats_records(c, &l, stats, flags & 0xffff, !asked);
out_free:
	g_free(l.d);
	return ret;
}

const struct procs_entry procs_list_table[] = {
    {21, false, list_defined},	  {25, false, list_num_defined}, {37, false, list_ids},
    {51, false, list_num_active}, {273, false, list_all},	 {344, false, list_all_stats},
};

const size_t procs_list_count = G_N_ELEMENTS(procs_list_table);
