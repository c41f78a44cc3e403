/* control.c - the control socket server: a Unix socket served from the GLib main loop.
 *
 * Everything here runs on the main-loop thread. Clients are not trusted: input is
 * read without blocking into a bounded buffer (one line at most); every line gets
 * exactly one reply, in order (an over-long line gets one error and is skipped); a
 * client that stops reading stops being read, so its queued replies stay bounded.
 * Sends use MSG_NOSIGNAL: a client that disconnects mid-reply costs nothing but its
 * connection. What the requests do is in cmds.c.
 */
#define pr_fmt(fmt) "control: " fmt

#include "vmm/control/control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "lib/errbuf.h"
#include "lib/unixsock.h"
#include "lib/log.h"
#include "vmm/control/cmds.h"
#include "vmm/control/protocol.h"

#define CONTROL_BACKLOG 16
#define CONTROL_MAX_CONNS 64		     /* clients connected at once */
#define CONTROL_IN_SIZE (PROTO_MAX_LINE + 1) /* one request line and its '\n' */
#define CONTROL_OUT_LIMIT (1 << 20)	     /* queued reply bytes before we stop reading */
#define CONTROL_ACCEPT_RETRY_MS 200	     /* pause after accept ran out of descriptors */

/* One client connection. */
struct control_conn {
	int refs;	     /* the connection list, a running callback, a pending reply */
	struct control *ctl; /* NULL once closed */
	int fd;
	guint watch; /* source waiting for @cond on @fd; 0 = none */
	GIOCondition cond;
	char *in; /* received bytes not yet handled: at most one line */
	size_t in_len;
	GString *out;	/* reply bytes not yet sent ... */
	size_t out_off; /* ... from this offset */
	bool busy;	/* a reply is pending (verify): later requests wait */
	bool discard;	/* skipping the rest of an over-long line */
	bool eof;	/* the client will send nothing more */
	bool closing;	/* close as soon as @out is sent */
};

struct control {
	struct control_cmds *cmds;
	char *path;
	struct unixsock sock; /* listening */
	guint watch;	      /* accept source; 0 while paused */
	guint retry;	      /* timer resuming accept; 0 = none */
	bool accept_failing;  /* accept failed since it last worked (warned once) */
	bool stopping;	      /* control_destroy() runs: no new requests */
	GList *conns;	      /* open connections */
	unsigned nconns;
};

static void conn_rearm(struct control_conn *conn);
static void conn_process(struct control_conn *conn);

/* ---- Connections ---- */

static struct control_conn *conn_ref(struct control_conn *conn)
{
	conn->refs++;
	return conn;
}

static void conn_unref(struct control_conn *conn)
{
	if (--conn->refs)
		return;
	g_free(conn->in);
	g_string_free(conn->out, TRUE);
	g_free(conn);
}

/* Close the socket and drop the list's reference. Safe to call twice. */
static void conn_close(struct control_conn *conn)
{
	struct control *ctl = conn->ctl;

	if (!ctl)
		return;
	if (conn->watch)
		g_source_remove(conn->watch);
	conn->watch = 0;
	close(conn->fd);
	conn->fd = -1;
	conn->ctl = NULL;
	ctl->conns = g_list_remove(ctl->conns, conn);
	ctl->nconns--;
	conn_unref(conn);
}

static size_t conn_pending(const struct control_conn *conn)
{
	return conn->out->len - conn->out_off;
}

/* Send what the socket takes now; close the connection if the client is gone. */
static void conn_flush(struct control_conn *conn)
{
	ssize_t n;

	while (conn->ctl && conn_pending(conn)) {
		n = send(conn->fd, conn->out->str + conn->out_off, conn_pending(conn),
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			conn_close(conn);
			return;
		}
		conn->out_off += (size_t) n;
	}
	g_string_truncate(conn->out, 0);
	conn->out_off = 0;
}

/* Queue reply @line (taken over, may be NULL) and try to send it at once. */
static void conn_send(struct control_conn *conn, char *line)
{
	if (conn->ctl && line) {
		g_string_append(conn->out, line);
		conn_flush(conn);
	}
	g_free(line);
}

/* Read what the client sent; at EOF or on an error, note it or close. */
static void conn_read(struct control_conn *conn)
{
	ssize_t n =
	    recv(conn->fd, conn->in + conn->in_len, CONTROL_IN_SIZE - conn->in_len, MSG_DONTWAIT);

	if (n > 0)
		conn->in_len += (size_t) n;
	else if (n == 0)
		conn->eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		conn_close(conn);
}

static gboolean conn_on_event(gint fd, GIOCondition cond, gpointer data)
{
	struct control_conn *conn = conn_ref(data);
	guint self = conn->watch;
	gboolean keep;

	(void) fd;
	if (cond & G_IO_OUT)
		conn_flush(conn);
	if (conn->ctl && (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && (conn->cond & G_IO_IN))
		conn_read(conn);
	conn_process(conn);
	conn_rearm(conn);
	keep = conn->watch == self;
	conn_unref(conn);
	return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Wait for what the connection needs next: input while it may take requests, output
 * while replies are queued. Closes it once it is finished. */
static void conn_rearm(struct control_conn *conn)
{
	GIOCondition cond = 0;

	if (!conn->ctl)
		return;
	if (conn->eof && !conn->busy && !conn->in_len)
		conn->closing = true;
	if (conn->closing && !conn_pending(conn)) {
		conn_close(conn);
		return;
	}
	if (!conn->eof && !conn->closing && !conn->busy && conn->in_len < CONTROL_IN_SIZE &&
	    conn_pending(conn) < CONTROL_OUT_LIMIT)
		cond |= G_IO_IN;
	if (conn_pending(conn))
		cond |= G_IO_OUT;
	if (conn->watch && cond == conn->cond)
		return;
	if (conn->watch)
		g_source_remove(conn->watch);
	conn->cond = cond;
	conn->watch = cond ? g_unix_fd_add(conn->fd, cond, conn_on_event, conn) : 0;
}

static struct control_conn *conn_new(struct control *ctl, int fd)
{
	struct control_conn *conn = g_new0(struct control_conn, 1);

	conn->refs = 1;
	conn->ctl = ctl;
	conn->fd = fd;
	conn->in = g_malloc(CONTROL_IN_SIZE);
	conn->out = g_string_new(NULL);
	ctl->conns = g_list_prepend(ctl->conns, conn);
	ctl->nconns++;
	conn_rearm(conn);
	return conn;
}

/* A reply that came later (verify). */
static void conn_on_reply(void *opaque, char *reply)
{
	struct control_conn *conn = opaque;

	conn->busy = false;
	conn_send(conn, reply);
	conn_process(conn);
	conn_rearm(conn);
	conn_unref(conn);
}

/* Answer one request line; a pending reply holds a reference on @conn. */
static void conn_handle(struct control_conn *conn, const char *line, size_t len)
{
	char *reply =
	    control_cmds_handle(conn->ctl->cmds, line, len, conn_on_reply, conn_ref(conn));

	if (reply) {
		conn_send(conn, reply);
		conn_unref(conn);
	} else {
		conn->busy = true;
	}
}

/* Drop the first @len bytes of the input buffer. */
static void conn_consume(struct control_conn *conn, size_t len)
{
	memmove(conn->in, conn->in + len, conn->in_len - len);
	conn->in_len -= len;
}

/* Skip input up to the end of an over-long line; then the connection is usable again. */
static void conn_skip(struct control_conn *conn)
{
	char *nl = memchr(conn->in, '\n', conn->in_len);

	if (!nl) {
		conn->in_len = 0;
		return;
	}
	conn_consume(conn, (size_t) (nl - conn->in) + 1);
	conn->discard = false;
}

/* Handle the complete lines received, in order, while the connection may take them.
 * An over-long line gets one error reply and is skipped. */
static void conn_process(struct control_conn *conn)
{
	char *nl;

	while (conn->ctl && !conn->ctl->stopping && !conn->busy && !conn->closing && conn->in_len &&
	       conn_pending(conn) < CONTROL_OUT_LIMIT) {
		nl = memchr(conn->in, '\n', conn->in_len);
		if (conn->discard) {
			conn_skip(conn);
		} else if (nl) {
			conn_handle(conn, conn->in, (size_t) (nl - conn->in) + 1);
			conn_consume(conn, (size_t) (nl - conn->in) + 1);
		} else if (conn->in_len == CONTROL_IN_SIZE) {
			conn_send(conn, proto_reply_error("request line longer than %d bytes",
							  PROTO_MAX_LINE));
			conn->discard = true;
		} else if (conn->eof) {
			/* A last request without its newline. */
			conn_handle(conn, conn->in, conn->in_len);
			conn->in_len = 0;
		} else {
			break;
		}
	}
}

/* ---- The listening socket ---- */

static gboolean control_on_accept(gint fd, GIOCondition cond, gpointer data);

static gboolean control_resume_accept(gpointer data)
{
	struct control *ctl = data;

	ctl->retry = 0;
	ctl->watch = g_unix_fd_add(ctl->sock.fd, G_IO_IN, control_on_accept, ctl);
	return G_SOURCE_REMOVE;
}

/* Out of file descriptors: the listening socket stays readable, so stop watching it
 * for a moment instead of spinning. Warns once per run of failures. */
static void control_pause_accept(struct control *ctl, int err)
{
	if (!ctl->accept_failing)
		pr_warn("cannot accept control connections: %s (retrying)", g_strerror(err));
	ctl->accept_failing = true;
	ctl->watch = 0;
	ctl->retry = g_timeout_add(CONTROL_ACCEPT_RETRY_MS, control_resume_accept, ctl);
}

/* A client over the limit gets one error line and is closed. */
static void control_refuse(int fd)
{
	char *line = proto_reply_error("too many control connections");
	int e;

	if (send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		e = errno;
		pr_debug("refused client gone: %s", g_strerror(e));
	}
	g_free(line);
	close(fd);
}

static gboolean control_on_accept(gint fd, GIOCondition cond, gpointer data)
{
	struct control *ctl = data;
	int cfd;

	(void) cond;
	for (int i = 0; i < CONTROL_BACKLOG; i++) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (cfd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (cfd < 0) {
			control_pause_accept(ctl, errno);
			return G_SOURCE_REMOVE;
		}
		ctl->accept_failing = false;
		if (ctl->nconns >= CONTROL_MAX_CONNS)
			control_refuse(cfd);
		else
			conn_new(ctl, cfd);
	}
	return G_SOURCE_CONTINUE;
}

struct control *control_create(const char *path, struct fleet *f, char *err, size_t errlen)
{
	struct control *ctl = g_new0(struct control, 1);

	ctl->path = g_strdup(path);
	ctl->cmds = control_cmds_create(f, err, errlen);
	if (!ctl->cmds)
		goto err_free;
	if (unixsock_listen(path, "control socket", CONTROL_BACKLOG, &ctl->sock, err, errlen))
		goto err_destroy_cmds;
	ctl->watch = g_unix_fd_add(ctl->sock.fd, G_IO_IN, control_on_accept, ctl);
	return ctl;

err_destroy_cmds:
	control_cmds_destroy(ctl->cmds);
err_free:
	g_free(ctl->path);
	g_free(ctl);
	return NULL;
}

void control_destroy(struct control *ctl)
{
	if (!ctl)
		return;
	if (ctl->watch)
		g_source_remove(ctl->watch);
	if (ctl->retry)
		g_source_remove(ctl->retry);
	close(ctl->sock.fd);
	unixsock_unlink(ctl->path, &ctl->sock);
	/* Verify replies still due are delivered, then sent along with the rest. */
	ctl->stopping = true;
	control_cmds_destroy(ctl->cmds);
	while (ctl->conns) {
		struct control_conn *conn = ctl->conns->data;

		conn_flush(conn);
		conn_close(conn);
	}
	g_free(ctl->path);
	g_free(ctl);
}
