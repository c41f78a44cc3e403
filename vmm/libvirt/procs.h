/* procs.h - libvirt's remote program served on one connection: the procedure table,
 * the per-connection state, and the event messages the server pushes.
 *
 * procs_handle() takes one whole packet and appends to @out whatever goes back (a
 * reply, an error reply, a keepalive PONG, or nothing). It never blocks and calls the
 * backend on the caller's thread. Anything the remote program does not define gets
 * libvirt's VIR_ERR_NO_SUPPORT; only a packet that breaks the framing or the protocol
 * (bad header, a stream or reply from the client) makes it ask for the connection to
 * be dropped.
 */
#ifndef VMM_LIBVIRT_PROCS_H
#define VMM_LIBVIRT_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/libvirt/backend.h"
#include "vmm/libvirt/procs_xdr.h"
#include "vmm/libvirt/xdr.h"

#define PROCS_MAX_CALLBACKS 256 /* event callbacks one connection may hold */
#define PROCS_EVENT_LIFECYCLE 0 /* VIR_DOMAIN_EVENT_ID_LIFECYCLE */

/* One event callback a client registered (CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY). */
struct procs_callback {
	int id;	      /* callbackID we handed out */
	int event_id; /* virDomainEventID */
	bool any_dom; /* for every domain, else only @uuid */
	uint8_t uuid[LV_UUID_LEN];
};

/* What one connection has said so far. */
struct procs_client {
	bool opened;	/* CONNECT_OPEN succeeded (and no CONNECT_CLOSE since) */
	bool keepalive; /* it asked whether we do keepalive, and we said yes */
	char *uri;	/* the name it opened (g_malloc'd), NULL if none */
	int next_id;	/* the next callbackID */
	size_t ncallbacks;
	struct procs_callback callbacks[PROCS_MAX_CALLBACKS];
};

void procs_client_init(struct procs_client *cl);
void procs_client_clear(struct procs_client *cl);

/* Serve one packet (@len bytes, length word included). Returns 0, or -EPROTO /
 * -EBADMSG when the connection must be closed. The answer is appended to @out, whose
 * maximum must leave room for an error reply beyond RPC_PACKET_MAX. */
int procs_handle(const struct procs_backend *b, struct procs_client *cl, const uint8_t *pkt,
		 size_t len, struct xdr_writer *out);

/* Append one DOMAIN_EVENT_CALLBACK_LIFECYCLE message per lifecycle callback of @cl that
 * matches @d; returns how many. */
int procs_put_lifecycle(const struct procs_client *cl, const struct lv_dom *d, int event,
			int detail, struct xdr_writer *out);

#endif
