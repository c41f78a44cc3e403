/* client.c - ksmctl's end of the control socket: one request, one reply, a deadline. */
#include "tools/ksmctl/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>

#include "lib/errbuf.h"
#include "vmm/control/protocol.h"

int client_connect(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Wait until @fd is ready for @events or @deadline (monotonic µs) passes. Returns 0,
 * -ETIMEDOUT or -errno. */
static int client_wait(int fd, short events, gint64 deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	gint64 left;
	int ret;

	do {
		left = deadline - g_get_monotonic_time();
		if (left <= 0)
			return -ETIMEDOUT;
		ret = poll(&p, 1, (int) MIN(left / 1000 + 1, G_MAXINT));
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	return ret ? 0 : -ETIMEDOUT;
}

/* Send all of @line before @deadline. Returns 0 or -errno. */
static int client_send(int fd, const char *line, gint64 deadline)
{
	size_t len = strlen(line), off = 0;
	ssize_t n;
	int ret;

	while (off < len) {
		ret = client_wait(fd, POLLOUT, deadline);
		if (ret)
			return ret;
		n = send(fd, line + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		off += n > 0 ? (size_t) n : 0;
	}
	return 0;
}

/* Read into @buf until it holds a '\n', before @deadline. Returns 0, -EPIPE at EOF,
 * -EMSGSIZE past PROTO_MAX_REPLY, -ETIMEDOUT or -errno. */
static int client_recv_line(int fd, GString *buf, gint64 deadline)
{
	char chunk[4096];
	ssize_t n;
	int ret;

	while (!memchr(buf->str, '\n', buf->len)) {
		if (buf->len > PROTO_MAX_REPLY)
			return -EMSGSIZE;
		ret = client_wait(fd, POLLIN, deadline);
		if (ret)
			return ret;
		n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (n > 0)
			g_string_append_len(buf, chunk, n);
	}
	return 0;
}

/* Why sending failed (@ret from client_send), into @err. */
static void client_send_error(int ret, char *err, size_t errlen)
{
	if (ret == -ETIMEDOUT)
		errbuf_set(err, errlen, ret, "timed out sending the request");
	else
		errbuf_set(err, errlen, ret, "cannot send the request: %s", g_strerror(-ret));
}

/* Why no reply came (@ret from client_recv_line), into @err. */
static void client_recv_error(int ret, int timeout_ms, char *err, size_t errlen)
{
	if (ret == -ETIMEDOUT)
		errbuf_set(err, errlen, ret, "timed out after %d s waiting for a reply",
			   timeout_ms / 1000);
	else if (ret == -EPIPE)
		errbuf_set(err, errlen, ret, "ksmvmm closed the connection without a reply");
	else if (ret == -EMSGSIZE)
		errbuf_set(err, errlen, ret, "reply longer than %u bytes", PROTO_MAX_REPLY);
	else
		errbuf_set(err, errlen, ret, "cannot read the reply: %s", g_strerror(-ret));
}

char *client_call(int fd, const char *line, int timeout_ms, char *err, size_t errlen)
{
	gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
	GString *buf;
	int ret = client_send(fd, line, deadline);

	if (ret) {
		client_send_error(ret, err, errlen);
		return NULL;
	}
	buf = g_string_new(NULL);
	ret = client_recv_line(fd, buf, deadline);
	if (!ret) {
		/* One reply per request: anything after the first line is not ours. */
		g_string_truncate(
		    buf, (size_t) ((char *) memchr(buf->str, '\n', buf->len) - buf->str) + 1);
		return g_string_free(buf, FALSE);
	}
	g_string_free(buf, TRUE);
	client_recv_error(ret, timeout_ms, err, errlen);
	return NULL;
}
