/* cmds.h - what the control socket does: one handler per protocol command. */
#ifndef VMM_CONTROL_CMDS_H
#define VMM_CONTROL_CMDS_H

#include <stddef.h>

struct control_cmds;
struct fleet;

/* Receives a reply that came later (taken over: g_free it). Called once, on the
 * main-loop thread, at the latest from control_cmds_destroy(). */
typedef void (*control_cmds_done_fn)(void *opaque, char *reply);

/* Commands acting on @f, which must outlive them. Returns NULL with a reason in @err.
 * Call from the thread that runs the GLib default main context. */
struct control_cmds *control_cmds_create(struct fleet *f, char *err, size_t errlen);

/* Answer request line @line (@len bytes, need not be NUL-terminated). Returns the
 * reply line (g_free it), or NULL if the reply comes later (verify runs on worker
 * threads): then @done(@opaque, reply) is called once from the main loop. Never
 * blocks on the guests. Main-loop thread only. */
char *control_cmds_handle(struct control_cmds *c, const char *line, size_t len,
			  control_cmds_done_fn done, void *opaque);

/* Wait for the requests still running (verify: up to their timeout, unless the
 * guests have been stopped), deliver their replies through @done, and free @c. NULL
 * is a no-op. Main-loop thread only. */
void control_cmds_destroy(struct control_cmds *c);

#endif
