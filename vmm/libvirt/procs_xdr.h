/* procs_xdr.h - what every remote procedure shares: the call being served, its error,
 * and the XDR encodings of libvirt's common types (remote_nonnull_domain,
 * remote_typed_param).
 *
 * A procedure reads its arguments from c->args, checks them with procs_args_done,
 * asks the backend and writes its reply body into c->ret. It returns 0, or -1 with
 * c->err filled (procs_fail), and the dispatcher sends remote_error instead.
 */
#ifndef VMM_LIBVIRT_PROCS_XDR_H
#define VMM_LIBVIRT_PROCS_XDR_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/libvirt/backend.h"
#include "vmm/libvirt/xdr.h"

struct procs_client;

/* The backend every procedure talks to. */
struct procs_backend {
	const struct lv_backend_ops *ops;
	void *be;
};

struct procs_call {
	const struct procs_backend *b;
	struct procs_client *cl;
	struct xdr_reader *args;
	struct xdr_writer *ret; /* the reply body */
	struct lv_err err;	/* set when a procedure returns -1 */
};

/* One procedure: its number, whether it is allowed before CONNECT_OPEN, its handler. */
struct procs_entry {
	int proc;
	bool before_open;
	int (*fn)(struct procs_call *c);
};

/* The smallest encodings, to bound array counts: a remote_nonnull_domain (empty name,
 * UUID, id) and a remote_typed_param (empty field, type, 4-byte value). */
#define PROCS_DOM_MIN (4 + LV_UUID_LEN + 4)
#define PROCS_PARAM_MIN 12

/* A remote_nonnull_domain as the client sent it. */
struct procs_dom_ref {
	char name[LV_NAME_MAX];
	uint8_t uuid[LV_UUID_LEN];
	int id;
};

/* Fill c->err and return -1. */
int procs_fail(struct procs_call *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 0 when the arguments decoded cleanly and nothing is left over, else procs_fail. */
int procs_args_done(struct procs_call *c);

int procs_get_dom(struct xdr_reader *r, struct procs_dom_ref *ref);
void procs_put_dom(struct xdr_writer *w, const struct lv_dom *d);
/* Decode a domain argument and look it up by its UUID (the key libvirt itself uses);
 * -1 with c->err set when the arguments are bad or the domain is gone. Call only as
 * the last argument is read: it checks that the arguments ended. */
int procs_lookup_arg(struct procs_call *c, struct procs_dom_ref *ref, struct lv_dom *d);
/* The same, for a procedure whose domain is followed by one unsigned int (flags). */
int procs_lookup_flags(struct procs_call *c, struct lv_dom *d, uint32_t *flags);

/* virTypedParameter on the wire. Writing an unknown type is -EINVAL, reading one
 * -EBADMSG. */
int procs_put_param(struct xdr_writer *w, const struct lv_param *p);
int procs_get_param(struct xdr_reader *r, struct lv_param *p);
/* An array of @n parameters (at most @max on the wire). */
int procs_put_params(struct xdr_writer *w, const struct lv_param *p, size_t n, uint32_t max);

#endif
