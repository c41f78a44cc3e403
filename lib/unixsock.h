/* unixsock.h - a private listening Unix socket, as the control socket and the libvirt
 * endpoint both need: a stale socket file replaced, one in use refused, and mode 0600
 * from the moment it exists, so no other user can ever connect. */
#ifndef LIB_UNIXSOCK_H
#define LIB_UNIXSOCK_H

#include <stddef.h>
#include <sys/types.h>

struct unixsock {
	int fd;	   /* listening, non-blocking, close-on-exec */
	dev_t dev; /* the socket file bound: unixsock_unlink removes only that one */
	ino_t ino;
};

/* Listen on a new socket at @path; @what names it in messages ("control socket").
 * Returns 0 with @out filled, or -errno with the reason in @err and nothing left behind
 * (-EADDRINUSE: another process listens there). */
int unixsock_listen(const char *path, const char *what, int backlog, struct unixsock *out,
		    char *err, size_t errlen);

/* Unlink @path if it is still the socket file of @s (not one a later process bound). */
void unixsock_unlink(const char *path, const struct unixsock *s);

#endif
