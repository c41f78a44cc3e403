/* lvserver.h - libvirt's remote protocol served on a Unix socket, so that the
 * unmodified virsh and python3-libvirt manage the VMM (ksmvmm+unix:///system?socket=S).
 *
 * Everything runs on the thread of the GLib default main context; the backend's ops
 * are called there (backend.h). Clients are not trusted: each one is read one packet
 * at a time into a bounded buffer, answered in order, and dropped on a packet that
 * breaks framing or protocol, without effect on the others. A client that stops
 * reading stops being read once its queued output passes a bound; one that stops
 * sending in the middle of a packet is dropped after a timeout.
 */
#ifndef VMM_LIBVIRT_LVSERVER_H
#define VMM_LIBVIRT_LVSERVER_H

#include <stddef.h>

#include "vmm/libvirt/backend.h"

/* Listen on a new Unix stream socket at @path (mode 0600 from the start; a stale socket
 * of a dead VMM is replaced, a live one or any other file is an error) and serve
 * libvirt's remote and keepalive programs from the default main context, calling @ops
 * on @be. Returns NULL with a one-line reason in @err. @ops and @be must outlive the
 * server. Call from the thread that runs the default main context. */
struct lv_server *lv_server_create(const char *path, const struct lv_backend_ops *ops, void *be,
				   char *err, size_t errlen);

/* A client that sent part of a packet and then nothing for @ms is dropped (0: the
 * default, 30 s). Applies to timers started from now on. */
void lv_server_set_stall_timeout(struct lv_server *s, unsigned ms);

/* Clients connected now. */
unsigned lv_server_clients(const struct lv_server *s);

/* Stop serving: unlink the socket, give every queued reply one last non-blocking send,
 * close every connection, drop lifecycle events not yet sent. NULL is a no-op. Same
 * thread as lv_server_create(), and no lv_server_lifecycle() may run or follow. */
void lv_server_destroy(struct lv_server *s);

/* lv_server_lifecycle (declared in backend.h): safe from any thread; the event is
 * queued and sent from the main loop to every client with a matching lifecycle
 * callback, in the order the events were reported. */

#endif
