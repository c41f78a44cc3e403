/* client.h - ksmctl's end of the control socket: connect, send a request, read a reply. */
#ifndef KSMCTL_CLIENT_H
#define KSMCTL_CLIENT_H

#include <stddef.h>

/* Connect to the control socket at @path. Returns the fd, or -errno (-ENAMETOOLONG if
 * @path does not fit a socket address). */
int client_connect(const char *path);

/* Send request @line on @fd and read one reply line (at most PROTO_MAX_REPLY bytes),
 * all within @timeout_ms. Returns the reply with its '\n' (g_free it), or NULL with a
 * reason in @err. */
char *client_call(int fd, const char *line, int timeout_ms, char *err, size_t errlen);

#endif
