/* procs.c - the remote program's dispatcher and its connection-level procedures.
 *
 * A call is answered in the order it came, with its serial. Procedures are found in
 * four tables (this file's connection and node calls, procs_dom.c, procs_list.c,
 * procs_save.c); a procedure in none of them is answered with VIR_ERR_NO_SUPPORT, which
 * libvirt's client turns into "this function is not supported by the connection
 * driver". Every call but the few the client makes before CONNECT_OPEN needs an open
 * connection.
 */
#define pr_fmt(fmt) "libvirt: " fmt

#include "vmm/libvirt/procs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "lib/log.h"
#include "vmm/libvirt/procs_dom.h"
#include "vmm/libvirt/procs_list.h"
#include "vmm/libvirt/procs_save.h"
#include "vmm/libvirt/rpc.h"

#define PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE 318

/* virDrvFeature numbers the client asks about (CONNECT_SUPPORTS_FEATURE). */
#define FEATURE_TYPED_PARAM_STRING 9
#define FEATURE_PROGRAM_KEEPALIVE 10
#define FEATURE_REMOTE_EVENT_CALLBACK 14
#define FEATURE_REMOTE_CLOSE_CALLBACK 15

/* What CONNECT_GET_TYPE / GET_VERSION / GET_LIB_VERSION report: our name and version,
 * and the libvirt release whose protocol we speak (major * 1000000 + minor * 1000). */
#define PROCS_TYPE "KSMVMM"
#define PROCS_HV_VERSION 1000ull     /* 0.1.0 */
#define PROCS_LIB_VERSION 9000000ull /* 9.0.0 */

#define PROCS_AUTH_NONE 0
#define PROCS_NODE_PARAMS_MAX 64 /* REMOTE_NODE_MEMORY_PARAMETERS_MAX */

void procs_client_init(struct procs_client *cl)
{
	memset(cl, 0, sizeof(*cl));
	cl->next_id = 1;
}

void procs_client_clear(struct procs_client *cl)
{
	g_free(cl->uri);
	procs_client_init(cl);
}

/* ---- Connection ---- */

static int conn_auth_list(struct procs_call *c)
{
	if (procs_args_done(c))
		return -1;
	xdr_put_array_len(c->ret, 1, 20);
	xdr_put_int(c->ret, PROCS_AUTH_NONE);
	return 0;
}

static bool conn_feature(int feature)
{
	return feature == FEATURE_TYPED_PARAM_STRING || feature == FEATURE_PROGRAM_KEEPALIVE ||
	       feature == FEATURE_REMOTE_EVENT_CALLBACK || feature == FEATURE_REMOTE_CLOSE_CALLBACK;
}

static int conn_supports_feature(struct procs_call *c)
{
	int32_t feature;

	xdr_get_int(c->args, &feature);
	if (procs_args_done(c))
		return -1;
	if (feature == FEATURE_PROGRAM_KEEPALIVE)
		c->cl->keepalive = true;
	xdr_put_int(c->ret, conn_feature(feature));
	return 0;
}

/* CONNECT_OPEN: any name is ours (the client sends its URI minus socket=). */
static int conn_open(struct procs_call *c)
{
	uint32_t flags;
	char *name;

	xdr_get_opt_string(c->args, &name, RPC_STRING_MAX);
	xdr_get_uint(c->args, &flags);
	if (procs_args_done(c)) {
		g_free(name);
		return -1;
	}
	g_free(c->cl->uri);
	c->cl->uri = name;
	c->cl->opened = true;
	pr_debug("client opened '%s'", name ? name : "(default)");
	return 0;
}

static int conn_close(struct procs_call *c)
{
	if (procs_args_done(c))
		return -1;
	c->cl->opened = false;
	c->cl->ncallbacks = 0;
	return 0;
}

/* A procedure with no arguments and an empty reply (the close callbacks). */
static int conn_void(struct procs_call *c)
{
	return procs_args_done(c);
}

static int conn_put_string(struct procs_call *c, const char *s)
{
	if (procs_args_done(c))
		return -1;
	xdr_put_string(c->ret, s, RPC_STRING_MAX);
	return 0;
}

static int conn_get_type(struct procs_call *c)
{
	return conn_put_string(c, PROCS_TYPE);
}

static int conn_get_hostname(struct procs_call *c)
{
	return conn_put_string(c, g_get_host_name());
}

static int conn_get_uri(struct procs_call *c)
{
	return conn_put_string(c, c->cl->uri ? c->cl->uri : "ksmvmm:///system");
}

static int conn_get_capabilities(struct procs_call *c)
{
	return conn_put_string(c, "<capabilities>\n"
				  "  <host>\n"
				  "    <cpu>\n"
				  "      <arch>x86_64</arch>\n"
				  "    </cpu>\n"
				  "  </host>\n"
				  "  <guest>\n"
				  "    <os_type>hvm</os_type>\n"
				  "    <arch name='x86_64'>\n"
				  "      <wordsize>64</wordsize>\n"
				  "      <domain type='kvm'/>\n"
				  "    </arch>\n"
				  "  </guest>\n"
				  "</capabilities>\n");
}

static int conn_put_uhyper(struct procs_call *c, uint64_t v)
{
	if (procs_args_done(c))
		return -1;
	xdr_put_uhyper(c->ret, v);
	return 0;
}

static int conn_get_version(struct procs_call *c)
{
	return conn_put_uhyper(c, PROCS_HV_VERSION);
}

static int conn_get_lib_version(struct procs_call *c)
{
	return conn_put_uhyper(c, PROCS_LIB_VERSION);
}

/* ---- Node ---- */

/* remote_node_get_info_ret: model is char[32], each char a whole XDR unit. */
static int node_get_info(struct procs_call *c)
{
	static const char model[32] = "x86_64";
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (procs_args_done(c))
		return -1;
	for (size_t i = 0; i < sizeof(model); i++)
		xdr_put_int(c->ret, model[i]);
	xdr_put_uhyper(c->ret, pages > 0 && psize > 0 ? (uint64_t) pages * psize / 1024 : 0);
	xdr_put_int(c->ret, cpus > 0 ? (int32_t) cpus : 1);
	xdr_put_int(c->ret, 0); /* mhz: unknown */
	xdr_put_int(c->ret, 1); /* nodes */
	xdr_put_int(c->ret, 1); /* sockets */
	xdr_put_int(c->ret, cpus > 0 ? (int32_t) cpus : 1);
	xdr_put_int(c->ret, 1); /* threads */
	return 0;
}

/* NODE_GET_SECURITY_MODEL: no security driver, so an empty model and DOI. */
static int node_get_security_model(struct procs_call *c)
{
	if (procs_args_done(c))
		return -1;
	xdr_put_array_len(c->ret, 0, 257);
	xdr_put_array_len(c->ret, 0, 257);
	return 0;
}

/* NODE_GET_MEMORY_PARAMETERS: asked with nparams 0, only how many there are. */
static int node_get_memory_params(struct procs_call *c)
{
	struct lv_param params[PROCS_NODE_PARAMS_MAX];
	int32_t nparams;
	uint32_t flags;
	int n;

	xdr_get_int(c->args, &nparams);
	xdr_get_uint(c->args, &flags);
	if (procs_args_done(c))
		return -1;
	if (nparams < 0 || nparams > PROCS_NODE_PARAMS_MAX)
		return procs_fail(c, LV_ERR_INVALID_ARG, "nparams %d is out of range", nparams);
	n = c->b->ops->node_memory_get(c->b->be, params, PROCS_NODE_PARAMS_MAX);
	if (n < 0 || n > PROCS_NODE_PARAMS_MAX)
		return procs_fail(c, LV_ERR_INTERNAL, "cannot read the merge engine's figures");
	if (nparams == 0) {
		procs_put_params(c->ret, params, 0, PROCS_NODE_PARAMS_MAX);
		xdr_put_int(c->ret, n);
		return 0;
	}
	n = MIN(n, nparams);
	procs_put_params(c->ret, params, (size_t) n, PROCS_NODE_PARAMS_MAX);
	xdr_put_int(c->ret, n);
	return 0;
}

static int node_set_memory_params(struct procs_call *c)
{
	struct lv_param params[PROCS_NODE_PARAMS_MAX];
	uint32_t n, flags;

	xdr_get_array_len(c->args, &n, PROCS_NODE_PARAMS_MAX, PROCS_PARAM_MIN);
	for (uint32_t i = 0; i < n && !c->args->err; i++)
		procs_get_param(c->args, &params[i]);
	xdr_get_uint(c->args, &flags);
	if (procs_args_done(c))
		return -1;
	if (c->b->ops->node_memory_set(c->b->be, params, n, &c->err)) {
		if (!c->err.code)
			procs_fail(c, LV_ERR_INTERNAL, "cannot set the parameters");
		return -1;
	}
	return 0;
}

/* ---- Events ---- */

static int event_register(struct procs_call *c)
{
	struct procs_client *cl = c->cl;
	struct procs_callback *cb;
	struct procs_dom_ref ref;
	int32_t event_id;
	bool has_dom;

	xdr_get_int(c->args, &event_id);
	if (!xdr_get_bool(c->args, &has_dom) && has_dom)
		procs_get_dom(c->args, &ref);
	if (procs_args_done(c))
		return -1;
	if (cl->ncallbacks == PROCS_MAX_CALLBACKS)
		return procs_fail(c, LV_ERR_OPERATION_FAILED, "too many event callbacks (%d)",
				  PROCS_MAX_CALLBACKS);
	cb = &cl->callbacks[cl->ncallbacks++];
	cb->id = cl->next_id++;
	cb->event_id = event_id;
	cb->any_dom = !has_dom;
	if (has_dom)
		memcpy(cb->uuid, ref.uuid, sizeof(cb->uuid));
	xdr_put_int(c->ret, cb->id);
	return 0;
}

static int event_deregister(struct procs_call *c)
{
	struct procs_client *cl = c->cl;
	int32_t id;

	xdr_get_int(c->args, &id);
	if (procs_args_done(c))
		return -1;
	for (size_t i = 0; i < cl->ncallbacks; i++) {
		if (cl->callbacks[i].id != id)
			continue;
		cl->callbacks[i] = cl->callbacks[--cl->ncallbacks];
		return 0;
	}
	return procs_fail(c, LV_ERR_INVALID_ARG, "no event callback %d", id);
}

static bool event_wants(const struct procs_callback *cb, const struct lv_dom *d)
{
	if (cb->event_id != PROCS_EVENT_LIFECYCLE)
		return false;
	return cb->any_dom || !memcmp(cb->uuid, d->uuid, sizeof(cb->uuid));
}

int procs_put_lifecycle(const struct procs_client *cl, const struct lv_dom *d, int event,
			int detail, struct xdr_writer *out)
{
	struct rpc_header h = {RPC_PROG_REMOTE, RPC_VERSION, PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
			       RPC_MESSAGE,	0,	     RPC_OK};
	int sent = 0;

	if (!cl->opened)
		return 0;
	for (size_t i = 0; i < cl->ncallbacks; i++) {
		size_t start;

		if (!event_wants(&cl->callbacks[i], d))
			continue;
		start = rpc_packet_begin(out, &h);
		xdr_put_int(out, cl->callbacks[i].id);
		procs_put_dom(out, d);
		xdr_put_int(out, event);
		xdr_put_int(out, detail);
		if (rpc_packet_end(out, start))
			return out->err ? out->err : -EMSGSIZE;
		sent++;
	}
	return sent;
}

/* ---- Dispatch ---- */

static const struct procs_entry procs_conn_table[] = {
    {1, true, conn_open},
    {2, false, conn_close},
    {3, false, conn_get_type},
    {4, false, conn_get_version},
    {6, false, node_get_info},
    {7, false, conn_get_capabilities},
    {59, false, conn_get_hostname},
    {60, true, conn_supports_feature},
    {66, true, conn_auth_list},
    {110, false, conn_get_uri},
    {122, false, node_get_security_model},
    {157, false, conn_get_lib_version},
    {288, false, node_set_memory_params},
    {289, false, node_get_memory_params},
    {316, false, event_register},
    {317, false, event_deregister},
    {360, false, conn_void}, /* CONNECT_REGISTER_CLOSE_CALLBACK */
    {361, false, conn_void}, /* CONNECT_UNREGISTER_CLOSE_CALLBACK */
};

static const struct procs_entry *procs_find_in(const struct procs_entry *t, size_t n, int proc)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].proc == proc)
			return &t[i];
	return NULL;
}

static const struct procs_entry *procs_find(int proc)
{
	const struct procs_entry *e;

	e = procs_find_in(procs_conn_table, G_N_ELEMENTS(procs_conn_table), proc);
	if (!e)
		e = procs_find_in(procs_dom_table, procs_dom_count, proc);
	if (!e)
		e = procs_find_in(procs_list_table, procs_list_count, proc);
	if (!e)
		e = procs_find_in(procs_save_table, procs_save_count, proc);
	return e;
}

/* Run @e on the arguments @body and append its reply (or its error) to @out. */
static int procs_call_one(const struct procs_backend *b, struct procs_client *cl,
			  const struct procs_entry *e, const struct rpc_header *h,
			  const uint8_t *body, size_t len, struct xdr_writer *out)
{
	struct rpc_header rh = *h;
	struct xdr_reader args;
	struct procs_call c = {.b = b, .cl = cl, .args = &args, .ret = out};
	size_t start;

	rh.type = RPC_REPLY;
	rh.status = RPC_OK;
	xdr_reader_init(&args, body, len);
	start = rpc_packet_begin(out, &rh);
	if (e->fn(&c) == 0 && rpc_packet_end(out, start) == 0)
		return 0;
	if (!c.err.code)
		procs_fail(&c, LV_ERR_INTERNAL, "the reply to procedure %d is too large", h->proc);
	xdr_writer_truncate(out, start);
	return rpc_put_error(out, h, c.err.code,
			     c.err.code == RPC_ERR_RPC ? RPC_FROM_RPC : RPC_FROM_DOM, c.err.msg);
}

static int procs_keepalive(const struct rpc_header *h, struct xdr_writer *out)
{
	struct rpc_header pong = {RPC_PROG_KEEPALIVE, RPC_VERSION, RPC_KEEPALIVE_PONG,
				  RPC_MESSAGE,	      0,	   RPC_OK};

	if (h->proc != RPC_KEEPALIVE_PING || h->type != RPC_MESSAGE)
		return 0; /* a PONG to a ping we never send, or noise: nothing to answer */
	return rpc_packet_end(out, rpc_packet_begin(out, &pong));
}

static int procs_call_remote(const struct procs_backend *b, struct procs_client *cl,
			     const struct rpc_header *h, const uint8_t *body, size_t len,
			     struct xdr_writer *out)
{
	const struct procs_entry *e;

	if (h->vers != RPC_VERSION)
		return rpc_put_error(out, h, RPC_ERR_RPC, RPC_FROM_RPC,
				     "unsupported protocol version");
	if (h->status != RPC_OK)
		return rpc_put_error(out, h, RPC_ERR_RPC, RPC_FROM_RPC,
				     "a call must have status OK");
	e = procs_find(h->proc);
	if (!e) {
		char msg[96];

		snprintf(msg, sizeof(msg),
			 "this function is not supported by the connection driver: procedure %d",
			 h->proc);
		return rpc_put_error(out, h, LV_ERR_NO_SUPPORT, RPC_FROM_REMOTE, msg);
	}
	if (!e->before_open && !cl->opened)
		return rpc_put_error(out, h, LV_ERR_OPERATION_INVALID, RPC_FROM_RPC,
				     "the connection is not open");
	return procs_call_one(b, cl, e, h, body, len, out);
}

int procs_handle(const struct procs_backend *b, struct procs_client *cl, const uint8_t *pkt,
		 size_t len, struct xdr_writer *out)
{
	struct rpc_header h;
	const uint8_t *body;
	size_t body_len;

	if (rpc_header_decode(pkt, len, &h, &body, &body_len))
		return -EBADMSG;
	if (h.prog == RPC_PROG_KEEPALIVE)
		return procs_keepalive(&h, out);
	if (h.type == RPC_MESSAGE)
		return 0; /* the client tells us nothing we act on */
	if (h.type != RPC_CALL)
		return -EPROTO; /* replies and streams: none was asked for */
	if (h.prog != RPC_PROG_REMOTE)
		return rpc_put_error(out, &h, RPC_ERR_RPC, RPC_FROM_RPC, "unknown program");
	return procs_call_remote(b, cl, &h, body, body_len, out);
}
