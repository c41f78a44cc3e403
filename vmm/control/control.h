/* control.h - the control socket: ksmctl and tests talk to the running VMM here. */
#ifndef VMM_CONTROL_CONTROL_H
#define VMM_CONTROL_CONTROL_H

#include <stddef.h>

struct control;
struct fleet;

/* Listen on a new Unix stream socket at @path, mode 0600 from the start, and serve
 * protocol.h requests about @f from the GLib default main context (the caller runs
 * g_main_loop_run on it). A stale socket left at @path by a dead VMM is replaced; a
 * socket someone listens on, or any other file, is an error. Returns NULL with a
 * one-line reason in @err (nothing is logged, nothing left behind). @f must outlive
 * the control. Call from the thread that runs the default main context. */
struct control *control_create(const char *path, struct fleet *f, char *err, size_t errlen);

/* Stop serving: unlink the socket, wait for verify requests still running and queue
 * their replies, give every queued reply one last non-blocking send, close every
 * connection. Call fleet_stop_all() first so that running verifies end at once instead
 * of at their timeout. NULL is a no-op. Same thread as control_create(). */
void control_destroy(struct control *c);

#endif
