/* procs_xdr.c - errors and common XDR types of the remote procedures. */
#include "vmm/libvirt/procs_xdr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "vmm/libvirt/rpc.h"

int procs_fail(struct procs_call *c, int code, const char *fmt, ...)
{
	va_list ap;

	c->err.code = code;
	va_start(ap, fmt);
	vsnprintf(c->err.msg, sizeof(c->err.msg), fmt, ap);
	va_end(ap);
	return -1;
}

int procs_args_done(struct procs_call *c)
{
	int ret = xdr_reader_done(c->args);

	if (!ret)
		return 0;
	return procs_fail(c, RPC_ERR_RPC, "cannot decode the arguments: %s", g_strerror(-ret));
}

int procs_get_dom(struct xdr_reader *r, struct procs_dom_ref *ref)
{
	xdr_get_string_buf(r, ref->name, sizeof(ref->name));
	xdr_get_opaque_fixed(r, ref->uuid, sizeof(ref->uuid));
	return xdr_get_int(r, &ref->id);
}

void procs_put_dom(struct xdr_writer *w, const struct lv_dom *d)
{
	xdr_put_string(w, d->name, LV_NAME_MAX);
	xdr_put_opaque_fixed(w, d->uuid, sizeof(d->uuid));
	xdr_put_int(w, d->id > 0 ? d->id : -1);
}

static int procs_lookup_ref(struct procs_call *c, const struct procs_dom_ref *ref, struct lv_dom *d)
{
	struct lv_key k = {.uuid = ref->uuid};

	memset(&c->err, 0, sizeof(c->err));
	if (c->b->ops->lookup(c->b->be, &k, d, &c->err) == 0)
		return 0;
	if (!c->err.code)
		procs_fail(c, LV_ERR_NO_DOMAIN, "Domain not found: '%s'", ref->name);
	return -1;
}

int procs_lookup_arg(struct procs_call *c, struct procs_dom_ref *ref, struct lv_dom *d)
{
	procs_get_dom(c->args, ref);
	if (procs_args_done(c))
		return -1;
	return procs_lookup_ref(c, ref, d);
}

int procs_lookup_flags(struct procs_call *c, struct lv_dom *d, uint32_t *flags)
{
	struct procs_dom_ref ref;

	procs_get_dom(c->args, &ref);
	xdr_get_uint(c->args, flags);
	if (procs_args_done(c))
		return -1;
	return procs_lookup_ref(c, &ref, d);
}

int procs_put_param(struct xdr_writer *w, const struct lv_param *p)
{
	xdr_put_string(w, p->field, LV_PARAM_FIELD_MAX);
	xdr_put_int(w, p->type);
	switch (p->type) {
	case LV_PARAM_INT: return xdr_put_int(w, p->v.i);
	case LV_PARAM_UINT: return xdr_put_uint(w, p->v.ui);
	case LV_PARAM_LLONG: return xdr_put_hyper(w, p->v.l);
	case LV_PARAM_ULLONG: return xdr_put_uhyper(w, p->v.ul);
	case LV_PARAM_DOUBLE: return xdr_put_double(w, p->v.d);
	case LV_PARAM_BOOLEAN: return xdr_put_int(w, p->v.b);
	case LV_PARAM_STRING: return xdr_put_string(w, p->v.s, RPC_STRING_MAX);
	}
	if (!w->err)
		w->err = -EINVAL;
	return w->err;
}

int procs_put_params(struct xdr_writer *w, const struct lv_param *p, size_t n, uint32_t max)
{
	xdr_put_array_len(w, (uint32_t) n, max);
	for (size_t i = 0; i < n && !w->err; i++)
		procs_put_param(w, &p[i]);
	return w->err;
}

static int procs_get_param_value(struct xdr_reader *r, struct lv_param *p)
{
	int32_t b;

	switch (p->type) {
	case LV_PARAM_INT: return xdr_get_int(r, &p->v.i);
	case LV_PARAM_UINT: return xdr_get_uint(r, &p->v.ui);
	case LV_PARAM_LLONG: return xdr_get_hyper(r, &p->v.l);
	case LV_PARAM_ULLONG: return xdr_get_uhyper(r, &p->v.ul);
	case LV_PARAM_DOUBLE: return xdr_get_double(r, &p->v.d);
	case LV_PARAM_BOOLEAN:
		xdr_get_int(r, &b);
		p->v.b = b != 0;
		return r->err;
	case LV_PARAM_STRING: return xdr_get_string_buf(r, p->v.s, sizeof(p->v.s));
	}
	if (!r->err)
		r->err = -EBADMSG;
	return r->err;
}

int procs_get_param(struct xdr_reader *r, struct lv_param *p)
{
	memset(p, 0, sizeof(*p));
	xdr_get_string_buf(r, p->field, sizeof(p->field));
	xdr_get_int(r, &p->type);
	if (r->err)
		return r->err;
	return procs_get_param_value(r, p);
}
