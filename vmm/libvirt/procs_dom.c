/* procs_dom.c - remote procedures on one domain.
 *
 * Every domain argument is looked up again by its UUID, so a call on a domain that was
 * undefined meanwhile gets VIR_ERR_NO_DOMAIN, never stale data. Layouts follow
 * libvirt's remote_protocol.x (remote_domain_*_args / _ret).
 */
#include "vmm/libvirt/procs_dom.h"

#include <string.h>

#include <glib.h>

#include "vmm/libvirt/rpc.h"

/* VIR_DOMAIN_DEFINE_VALIDATE */
#define DOM_DEFINE_VALIDATE 1u
/* REMOTE_DOMAIN_MEMORY_STATS_MAX */
#define DOM_MEMSTATS_MAX 1024
/* The longest name worth a lookup; longer ones cannot exist. */
#define DOM_LOOKUP_NAME_MAX 4096
/* The longest disk or interface name worth a look (a source path at most). */
#define DOM_DEV_NAME_MAX 4096
/* REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX */
#define DOM_BLKSTATS_MAX 16

/* After a backend op failed: make sure the client gets an error that says something. */
static int dom_failed(struct procs_call *c)
{
	if (!c->err.code)
		return procs_fail(c, LV_ERR_INTERNAL, "the VMM could not do this");
	if (!c->err.msg[0])
		g_strlcpy(c->err.msg, "operation failed", sizeof(c->err.msg));
	return -1;
}

static int dom_lookup_key(struct procs_call *c, const struct lv_key *k, struct lv_dom *d)
{
	if (c->b->ops->lookup(c->b->be, k, d, &c->err) == 0)
		return 0;
	return dom_failed(c);
}

/* ---- Lookups ---- */

static int dom_lookup_by_id(struct procs_call *c)
{
	struct lv_dom d;
	int32_t id;

	xdr_get_int(c->args, &id);
	if (procs_args_done(c))
		return -1;
	if (id <= 0)
		return procs_fail(c, LV_ERR_NO_DOMAIN, "Domain not found: no domain with id %d",
				  id);
	if (dom_lookup_key(c, &(struct lv_key){.id = id}, &d))
		return -1;
	procs_put_dom(c->ret, &d);
	return 0;
}

static int dom_lookup_by_name(struct procs_call *c)
{
	struct lv_dom d;
	char *name;
	int ret = -1;

	xdr_get_string(c->args, &name, DOM_LOOKUP_NAME_MAX);
	if (procs_args_done(c))
		goto out_free;
	if (dom_lookup_key(c, &(struct lv_key){.name = name}, &d))
		goto out_free;
	procs_put_dom(c->ret, &d);
	ret = 0;
out_free:
	g_free(name);
	return ret;
}

static int dom_lookup_by_uuid(struct procs_call *c)
{
	uint8_t uuid[LV_UUID_LEN];
	struct lv_dom d;

	xdr_get_opaque_fixed(c->args, uuid, sizeof(uuid));
	if (procs_args_done(c))
		return -1;
	if (dom_lookup_key(c, &(struct lv_key){.uuid = uuid}, &d))
		return -1;
	procs_put_dom(c->ret, &d);
	return 0;
}

/* ---- State ---- */

static int dom_get_state(struct procs_call *c)
{
	struct lv_dom d;
	uint32_t flags;

	if (procs_lookup_flags(c, &d, &flags))
		return -1;
	xdr_put_int(c->ret, d.state);
	xdr_put_int(c->ret, d.reason);
	return 0;
}

/* remote_domain_get_info_ret: state is an unsigned char and nrVirtCpu an unsigned
 * short, each a whole XDR unit. */
static int dom_get_info(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;

	if (procs_lookup_arg(c, &ref, &d))
		return -1;
	xdr_put_uint(c->ret, (uint8_t) d.state);
	xdr_put_uhyper(c->ret, d.max_kib);
	xdr_put_uhyper(c->ret, d.cur_kib);
	xdr_put_uint(c->ret, (uint16_t) d.vcpus);
	xdr_put_uhyper(c->ret, d.cpu_ns);
	return 0;
}

static int dom_get_os_type(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;

	if (procs_lookup_arg(c, &ref, &d))
		return -1;
	xdr_put_string(c->ret, "hvm", RPC_STRING_MAX);
	return 0;
}

static int dom_is_active(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;

	if (procs_lookup_arg(c, &ref, &d))
		return -1;
	xdr_put_int(c->ret, d.id > 0);
	return 0;
}

static int dom_is_persistent(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;

	if (procs_lookup_arg(c, &ref, &d))
		return -1;
	xdr_put_int(c->ret, d.persistent);
	return 0;
}

static int dom_get_autostart(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;

	if (procs_lookup_arg(c, &ref, &d))
		return -1;
	xdr_put_int(c->ret, d.autostart);
	return 0;
}

static int dom_set_autostart(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;
	int32_t on;

	procs_get_dom(c->args, &ref);
	xdr_get_int(c->args, &on);
	if (procs_args_done(c) || dom_lookup_key(c, &(struct lv_key){.uuid = ref.uuid}, &d))
		return -1;
	if (c->b->ops->set_autostart(c->b->be, &(struct lv_key){.uuid = d.uuid}, on != 0, &c->err))
		return dom_failed(c);
	return 0;
}

/* HAS_MANAGED_SAVE_IMAGE and SNAPSHOT_NUM: the VMM keeps neither, so 0 for a domain
 * that exists. */
static int dom_zero_count(struct procs_call *c)
{
	struct lv_dom d;
	uint32_t flags;

	if (procs_lookup_flags(c, &d, &flags))
		return -1;
	xdr_put_int(c->ret, 0);
	return 0;
}

/* ---- XML and definitions ---- */

static int dom_get_xml_desc(struct procs_call *c)
{
	struct lv_dom d;
	uint32_t flags;
	char *xml;

	if (procs_lookup_flags(c, &d, &flags))
		return -1;
	xml = c->b->ops->xml_desc(c->b->be, &(struct lv_key){.uuid = d.uuid}, flags, &c->err);
	if (!xml)
		return dom_failed(c);
	xdr_put_string(c->ret, xml, RPC_STRING_MAX);
	g_free(xml);
	return 0;
}

static int dom_define(struct procs_call *c, const char *xml, uint32_t flags)
{
	bool validate = flags & DOM_DEFINE_VALIDATE;
	struct lv_dom d;

	if (c->b->ops->define(c->b->be, xml, validate, &d, &c->err))
		return dom_failed(c);
	procs_put_dom(c->ret, &d);
	return 0;
}

static int dom_define_xml(struct procs_call *c)
{
	char *xml;
	int ret;

	xdr_get_string(c->args, &xml, RPC_STRING_MAX);
	ret = procs_args_done(c) ? -1 : dom_define(c, xml, 0);
	g_free(xml);
	return ret;
}

static int dom_define_xml_flags(struct procs_call *c)
{
	uint32_t flags;
	char *xml;
	int ret;

	xdr_get_string(c->args, &xml, RPC_STRING_MAX);
	xdr_get_uint(c->args, &flags);
	ret = procs_args_done(c) ? -1 : dom_define(c, xml, flags);
	g_free(xml);
	return ret;
}

static int dom_undefine_as(struct procs_call *c, const struct lv_dom *d, uint32_t flags)
{
	if (c->b->ops->undefine(c->b->be, &(struct lv_key){.uuid = d->uuid}, flags, &c->err))
		return dom_failed(c);
	return 0;
}

static int dom_undefine(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;

	if (procs_lookup_arg(c, &ref, &d))
		return -1;
	return dom_undefine_as(c, &d, 0);
}

static int dom_undefine_flags(struct procs_call *c)
{
	struct lv_dom d;
	uint32_t flags;

	if (procs_lookup_flags(c, &d, &flags))
		return -1;
	return dom_undefine_as(c, &d, flags);
}

/* ---- Life cycle ---- */

static int dom_start(struct procs_call *c, struct lv_dom *d)
{
	if (c->b->ops->start(c->b->be, &(struct lv_key){.uuid = d->uuid}, d, &c->err))
		return dom_failed(c);
	return 0;
}

static int dom_create(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;

	if (procs_lookup_arg(c, &ref, &d))
		return -1;
	return dom_start(c, &d);
}

static int dom_create_with_flags(struct procs_call *c)
{
	struct lv_dom d;
	uint32_t flags;

	if (procs_lookup_flags(c, &d, &flags) || dom_start(c, &d))
		return -1;
	procs_put_dom(c->ret, &d);
	return 0;
}

static int dom_create_xml(struct procs_call *c)
{
	struct lv_dom d;
	uint32_t flags;
	char *xml;
	int ret = -1;

	xdr_get_string(c->args, &xml, RPC_STRING_MAX);
	xdr_get_uint(c->args, &flags);
	if (procs_args_done(c))
		goto out_free;
	if (c->b->ops->create_xml(c->b->be, xml, flags, &d, &c->err)) {
		dom_failed(c);
		goto out_free;
	}
	procs_put_dom(c->ret, &d);
	ret = 0;
out_free:
	g_free(xml);
	return ret;
}

static int dom_stop(struct procs_call *c, const struct lv_dom *d, bool destroy)
{
	const struct lv_key k = {.uuid = d->uuid};
	int ret;

	if (destroy)
		ret = c->b->ops->destroy(c->b->be, &k, &c->err);
	else
		ret = c->b->ops->shutdown(c->b->be, &k, &c->err);
	return ret ? dom_failed(c) : 0;
}

static int dom_shutdown(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;

	if (procs_lookup_arg(c, &ref, &d))
		return -1;
	return dom_stop(c, &d, false);
}

static int dom_destroy(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;

	if (procs_lookup_arg(c, &ref, &d))
		return -1;
	return dom_stop(c, &d, true);
}

/* SHUTDOWN_FLAGS (@destroy false) and DESTROY_FLAGS: the flags choose nothing here. */
static int dom_stop_flags(struct procs_call *c, bool destroy)
{
	struct lv_dom d;
	uint32_t flags;

	if (procs_lookup_flags(c, &d, &flags))
		return -1;
	return dom_stop(c, &d, destroy);
}

static int dom_shutdown_flags(struct procs_call *c)
{
	return dom_stop_flags(c, false);
}

static int dom_destroy_flags(struct procs_call *c)
{
	return dom_stop_flags(c, true);
}

/* ---- Statistics and metadata ---- */

static int dom_memory_stats(struct procs_call *c)
{
	struct lv_memstat stats[DOM_MEMSTATS_MAX];
	struct procs_dom_ref ref;
	uint32_t max, flags;
	struct lv_dom d;
	int n;

	procs_get_dom(c->args, &ref);
	xdr_get_uint(c->args, &max);
	xdr_get_uint(c->args, &flags);
	if (procs_args_done(c) || dom_lookup_key(c, &(struct lv_key){.uuid = ref.uuid}, &d))
		return -1;
	if (max > DOM_MEMSTATS_MAX)
		return procs_fail(c, LV_ERR_INVALID_ARG, "maxStats %u is over %d", max,
				  DOM_MEMSTATS_MAX);
	n = c->b->ops->memory_stats(c->b->be, &(struct lv_key){.uuid = d.uuid}, stats, max,
				    &c->err);
	if (n < 0 || (uint32_t) n > max)
		return dom_failed(c);
	xdr_put_array_len(c->ret, n, DOM_MEMSTATS_MAX);
	for (int i = 0; i < n; i++) {
		xdr_put_int(c->ret, stats[i].tag);
		xdr_put_uhyper(c->ret, stats[i].val);
	}
	return 0;
}

static int dom_get_metadata(struct procs_call *c)
{
	struct procs_dom_ref ref;
	uint32_t flags;
	struct lv_dom d;
	char *uri, *md;
	int32_t type;
	int ret = -1;

	procs_get_dom(c->args, &ref);
	xdr_get_int(c->args, &type);
	xdr_get_opt_string(c->args, &uri, RPC_STRING_MAX);
	xdr_get_uint(c->args, &flags);
	if (procs_args_done(c) || dom_lookup_key(c, &(struct lv_key){.uuid = ref.uuid}, &d))
		goto out_free;
	md =
	    c->b->ops->get_metadata(c->b->be, &(struct lv_key){.uuid = d.uuid}, type, uri, &c->err);
	if (!md) {
		dom_failed(c);
		goto out_free;
	}
	xdr_put_string(c->ret, md, RPC_STRING_MAX);
	g_free(md);
	ret = 0;
out_free:
	g_free(uri);
	return ret;
}

/* ---- Disks and interfaces ---- */

/* The domain and the device name that open BLOCK_STATS, BLOCK_STATS_FLAGS and
 * INTERFACE_STATS; *@dev is g_malloc'd or NULL, a decoding error shows in
 * procs_args_done. */
static void dom_get_dev(struct procs_call *c, struct procs_dom_ref *ref, char **dev)
{
	procs_get_dom(c->args, ref);
	xdr_get_string(c->args, dev, DOM_DEV_NAME_MAX);
}

/* Look the domain up and ask the backend for the counters of disk @dev. */
static int dom_blkstat(struct procs_call *c, const struct procs_dom_ref *ref, const char *dev,
		       struct lv_blkstat *st)
{
	struct lv_dom d;

	if (dom_lookup_key(c, &(struct lv_key){.uuid = ref->uuid}, &d))
		return -1;
	if (!c->b->ops->block_stats)
		return procs_fail(c, LV_ERR_NO_SUPPORT,
				  "this function is not supported by the connection driver: "
				  "virDomainBlockStats");
	if (c->b->ops->block_stats(c->b->be, &(struct lv_key){.uuid = d.uuid}, dev, st, &c->err))
		return dom_failed(c);
	return 0;
}

static int dom_block_stats(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_blkstat st;
	char *dev;
	int ret = -1;

	dom_get_dev(c, &ref, &dev);
	if (procs_args_done(c) || dom_blkstat(c, &ref, dev, &st))
		goto out_free;
	xdr_put_hyper(c->ret, st.rd_req);
	xdr_put_hyper(c->ret, st.rd_bytes);
	xdr_put_hyper(c->ret, st.wr_req);
	xdr_put_hyper(c->ret, st.wr_bytes);
	xdr_put_hyper(c->ret, st.errs);
	ret = 0;
out_free:
	g_free(dev);
	return ret;
}

static void dom_blk_param(struct lv_param *p, size_t *n, const char *field, int64_t v)
{
	if (v < 0)
		return; /* unknown: left out, as libvirt leaves out what it cannot tell */
	memset(&p[*n], 0, sizeof(p[*n]));
	g_strlcpy(p[*n].field, field, sizeof(p[*n].field));
	p[*n].type = LV_PARAM_LLONG;
	p[(*n)++].v.l = v;
}

/* The counters as VIR_DOMAIN_BLOCK_STATS_* typed parameters; returns how many. */
static size_t dom_blk_params(const struct lv_blkstat *st, struct lv_param *p)
{
	size_t n = 0;

	dom_blk_param(p, &n, "rd_operations", st->rd_req);
	dom_blk_param(p, &n, "rd_bytes", st->rd_bytes);
	dom_blk_param(p, &n, "wr_operations", st->wr_req);
	dom_blk_param(p, &n, "wr_bytes", st->wr_bytes);
	dom_blk_param(p, &n, "flush_operations", st->flush_req);
	dom_blk_param(p, &n, "errs", st->errs);
	return n;
}

/* BLOCK_STATS_FLAGS: asked with nparams 0 first, for how many there are (virsh does). */
static int dom_block_stats_flags(struct procs_call *c)
{
	struct lv_param params[DOM_BLKSTATS_MAX];
	struct procs_dom_ref ref;
	struct lv_blkstat st;
	int32_t nparams = 0;
	uint32_t flags;
	char *dev;
	size_t n;
	int ret = -1;

	dom_get_dev(c, &ref, &dev);
	xdr_get_int(c->args, &nparams);
	xdr_get_uint(c->args, &flags);
	if (procs_args_done(c) || dom_blkstat(c, &ref, dev, &st))
		goto out_free;
	if (nparams < 0 || nparams > DOM_BLKSTATS_MAX) {
		procs_fail(c, LV_ERR_INVALID_ARG, "nparams %d is out of range", nparams);
		goto out_free;
	}
	n = dom_blk_params(&st, params);
	procs_put_params(c->ret, params, nparams ? MIN(n, (size_t) nparams) : 0, DOM_BLKSTATS_MAX);
	xdr_put_int(c->ret, nparams ? (int32_t) MIN(n, (size_t) nparams) : (int32_t) n);
	ret = 0;
out_free:
	g_free(dev);
	return ret;
}

/* INTERFACE_STATS: ksmvmm guests have no network interfaces (docs/libvirt.md), so any
 * name is unknown, as libvirt says for a name the domain does not have. */
static int dom_interface_stats(struct procs_call *c)
{
	struct procs_dom_ref ref;
	struct lv_dom d;
	char *dev;

	dom_get_dev(c, &ref, &dev);
	if (!procs_args_done(c) && !dom_lookup_key(c, &(struct lv_key){.uuid = ref.uuid}, &d))
		procs_fail(c, LV_ERR_INVALID_ARG, "invalid argument: '%s' is not a known interface",
			   dev);
	g_free(dev);
	return -1;
}

const struct procs_entry procs_dom_table[] = {
    {9, false, dom_create},
    {10, false, dom_create_xml},
    {11, false, dom_define_xml},
    {12, false, dom_destroy},
    {14, false, dom_get_xml_desc},
    {15, false, dom_get_autostart},
    {16, false, dom_get_info},
    {19, false, dom_get_os_type},
    {22, false, dom_lookup_by_id},
    {23, false, dom_lookup_by_name},
    {24, false, dom_lookup_by_uuid},
    {29, false, dom_set_autostart},
    {33, false, dom_shutdown},
    {35, false, dom_undefine},
    {64, false, dom_block_stats},
    {65, false, dom_interface_stats},
    {150, false, dom_is_active},
    {151, false, dom_is_persistent},
    {159, false, dom_memory_stats},
    {183, false, dom_zero_count}, /* HAS_MANAGED_SAVE_IMAGE */
    {187, false, dom_zero_count}, /* SNAPSHOT_NUM */
    {196, false, dom_create_with_flags},
    {212, false, dom_get_state},
    {231, false, dom_undefine_flags},
    {234, false, dom_destroy_flags},
    {243, false, dom_block_stats_flags},

    {258, false, dom_shutdown_flags},
    {265, false, dom_get_metadata},
    {350, false, dom_define_xml_flags},
};

const size_t procs_dom_count = G_N_ELEMENTS(procs_dom_table);
