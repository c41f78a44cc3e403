/* lvserver.c - the libvirt endpoint: socket, clients, and events, on the GLib main loop.
 *
 * A client's input goes through its framer: the length word first, then exactly the
 * rest of that packet, so nothing beyond the packet in hand is ever buffered, and a
 * length out of range closes the connection before any body byte is read. Each whole
 * packet is served by procs_handle() into the server's scratch writer and appended to
 * the client's output queue. A client whose queue passes LV_OUT_LIMIT is not read
 * until it drains. A client that stops in the middle of a packet for the stall timeout
 * (LV_STALL_MS unless set) is dropped, so it cannot hold its buffer and its slot
 * forever; the timer runs only while we read it. Sends use MSG_NOSIGNAL: a client
 * that vanished costs only its connection. Watches are one-shot: every callback
 * re-arms the one its client needs.
 *
 * Lifecycle events may come from any thread: they are queued under @lock and one idle
 * source sends them from the main loop.
 */
#define pr_fmt(fmt) "libvirt: " fmt

#include "vmm/libvirt/lvserver.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "lib/errbuf.h"
#include "lib/log.h"
#include "lib/unixsock.h"
#include "vmm/libvirt/procs.h"
#include "vmm/libvirt/rpc.h"

#define LV_BACKLOG 64
#define LV_MAX_CLIENTS 64	 /* each may hold one packet of up to RPC_PACKET_MAX */
#define LV_ACCEPT_RETRY_MS 200	 /* pause after accept ran out of descriptors or memory */
#define LV_OUT_LIMIT (8u << 20)	 /* queued output bytes before we stop reading */
#define LV_PACKETS_PER_WAKEUP 16 /* packets served per read wakeup: others get a turn */
#define LV_STALL_MS 30000	 /* silence in the middle of a packet before we drop */
/* The scratch writer holds one reply of at most RPC_PACKET_MAX, or an error reply that
 * replaces a reply that did not fit. */
#define LV_SCRATCH_MAX (RPC_PACKET_MAX + 4096)

struct lv_client {
	struct lv_server *srv;
	int fd;
	guint watch; /* one-shot source for the condition the client needs; 0 = none */
	guint stall; /* timer dropping it when a partial packet gets no more bytes; 0 = none */
	bool got;    /* bytes arrived since the stall timer was last looked at */
	struct rpc_framer in;
	GByteArray *out; /* bytes not yet sent ... */
	size_t out_off;	 /* ... from this offset */
	bool eof;	 /* the client sent EOF: send what is queued, then close */
	struct procs_client state;
};

/* One lifecycle event waiting for the main loop. */
struct lv_pending {
	struct lv_dom dom;
	int event, detail;
};

struct lv_server {
	struct procs_backend b;
	char *path;
	struct unixsock sock; /* listening */
	guint watch;	      /* accept source; 0 while paused */
	guint retry;	      /* timer resuming accept; 0 = none */
	unsigned stall_ms;
	GList *clients;
	unsigned nclients;
	struct xdr_writer scratch;
	GMutex lock;	/* guards @pending and @idle */
	GQueue pending; /* struct lv_pending * */
	guint idle;	/* source sending @pending; 0 = none */
};

static void client_arm(struct lv_client *cl);

/* ---- Clients ---- */

static void client_close(struct lv_client *cl)
{
	struct lv_server *s = cl->srv;

	if (cl->watch)
		g_source_remove(cl->watch);
	if (cl->stall)
		g_source_remove(cl->stall);
	close(cl->fd);
	s->clients = g_list_remove(s->clients, cl);
	s->nclients--;
	rpc_framer_free(&cl->in);
	g_byte_array_unref(cl->out);
	procs_client_clear(&cl->state);
	g_free(cl);
}

static size_t client_queued(const struct lv_client *cl)
{
	return cl->out->len - cl->out_off;
}

/* Queue what the scratch writer holds. */
static void client_queue_scratch(struct lv_client *cl)
{
	struct xdr_writer *w = &cl->srv->scratch;

	if (w->len)
		g_byte_array_append(cl->out, w->buf, (guint) w->len);
	xdr_writer_reset(w);
}

/* Send without blocking. Returns 0 (all sent or the socket is full) or -errno. */
static int client_flush(struct lv_client *cl)
{
	while (client_queued(cl)) {
		ssize_t n = send(cl->fd, cl->out->data + cl->out_off, client_queued(cl),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		cl->out_off += (size_t) n;
	}
	g_byte_array_set_size(cl->out, 0);
	cl->out_off = 0;
	return 0;
}

/* Serve the packet the framer holds. Returns 0, or < 0 to drop the client. */
static int client_serve(struct lv_client *cl)
{
	size_t len;
	const uint8_t *pkt = rpc_framer_packet(&cl->in, &len);
	int ret = procs_handle(&cl->srv->b, &cl->state, pkt, len, &cl->srv->scratch);

	if (ret < 0) {
		xdr_writer_reset(&cl->srv->scratch);
		return ret;
	}
	client_queue_scratch(cl);
	rpc_framer_next(&cl->in);
	return 0;
}

/* Read and serve up to LV_PACKETS_PER_WAKEUP packets. Returns 0, or < 0 to drop. */
static int client_read(struct lv_client *cl)
{
	for (int served = 0; served < LV_PACKETS_PER_WAKEUP;) {
		uint8_t *p;
		size_t want;
		ssize_t n;
		int ret;

		rpc_framer_want(&cl->in, &p, &want);
		n = recv(cl->fd, p, want, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (n == 0) {
			cl->eof = true;
			return 0;
		}
		cl->got = true;
		ret = rpc_framer_got(&cl->in, (size_t) n);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			ret = client_serve(cl);
			if (ret < 0)
				return ret;
			served++;
		}
		if (client_queued(cl) > LV_OUT_LIMIT)
			break;
	}
	return 0;
}

static gboolean client_on_event(gint fd, GIOCondition cond, gpointer data)
{
	struct lv_client *cl = data;
	int ret = 0;

	(void) fd;
	cl->watch = 0; /* this source ends when we return */
	if (cond & G_IO_IN && !cl->eof)
		ret = client_read(cl);
	if (!ret)
		ret = client_flush(cl);
	if (ret < 0 || (cond & (G_IO_ERR | G_IO_NVAL)) || (cond & G_IO_HUP && !(cond & G_IO_IN))) {
		/* Info, not a warning: any local process can make us drop it. */
		if (ret < 0 && ret != -EPIPE && ret != -ECONNRESET)
			pr_info("dropping a libvirt client: %s", g_strerror(-ret));
		client_close(cl);
		return G_SOURCE_REMOVE;
	}
	client_arm(cl);
	return G_SOURCE_REMOVE;
}

static gboolean client_on_stall(gpointer data)
{
	struct lv_client *cl = data;

	cl->stall = 0; /* this source ends when we return */
	pr_info("dropping a libvirt client: %zu bytes into a packet, then nothing for %u ms",
		cl->in.have, cl->srv->stall_ms);
	client_close(cl);
	return G_SOURCE_REMOVE;
}

/* The stall timer runs while we read @cl and it is in the middle of a packet; bytes
 * arriving start it again. */
static void client_watch_stall(struct lv_client *cl, bool reading)
{
	bool partial = reading && cl->in.have > 0;

	if (cl->stall && (cl->got || !partial)) {
		g_source_remove(cl->stall);
		cl->stall = 0;
	}
	cl->got = false;
	if (partial && !cl->stall)
		cl->stall = g_timeout_add(cl->srv->stall_ms, client_on_stall, cl);
}

/* Watch for what @cl needs next: input unless it reached EOF or its queue is full,
 * output while anything is queued. A client at EOF with nothing queued is closed. */
static void client_arm(struct lv_client *cl)
{
	GIOCondition cond = 0;

	if (!cl->eof && client_queued(cl) <= LV_OUT_LIMIT)
		cond |= G_IO_IN;
	if (client_queued(cl))
		cond |= G_IO_OUT;
	if (!cond) {
		client_close(cl);
		return;
	}
	client_watch_stall(cl, cond & G_IO_IN);
	if (cl->watch)
		g_source_remove(cl->watch);
	cl->watch = g_unix_fd_add(cl->fd, cond, client_on_event, cl);
}

static void client_new(struct lv_server *s, int fd)
{
	struct lv_client *cl = g_new0(struct lv_client, 1);

	cl->srv = s;
	cl->fd = fd;
	rpc_framer_init(&cl->in);
	cl->out = g_byte_array_new();
	procs_client_init(&cl->state);
	s->clients = g_list_prepend(s->clients, cl);
	s->nclients++;
	client_arm(cl);
}

static gboolean lv_on_accept(gint fd, GIOCondition cond, gpointer data);

static gboolean lv_resume_accept(gpointer data)
{
	struct lv_server *s = data;

	s->retry = 0;
	s->watch = g_unix_fd_add(s->sock.fd, G_IO_IN, lv_on_accept, s);
	return G_SOURCE_REMOVE;
}

/* Out of descriptors or memory: the pending connection stays readable, so stop
 * watching for a while instead of spinning on it. */
static gboolean lv_pause_accept(struct lv_server *s, int err)
{
	pr_warn("cannot accept a libvirt client: %s (retrying)", g_strerror(err));
	s->watch = 0;
	s->retry = g_timeout_add(LV_ACCEPT_RETRY_MS, lv_resume_accept, s);
	return G_SOURCE_REMOVE;
}

static gboolean lv_on_accept(gint fd, GIOCondition cond, gpointer data)
{
	struct lv_server *s = data;

	(void) cond;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return G_SOURCE_CONTINUE;
			return lv_pause_accept(s, errno);
		}
		if (s->nclients >= LV_MAX_CLIENTS) {
			pr_warn("refusing a libvirt client: %d are connected", LV_MAX_CLIENTS);
			close(cfd);
			continue;
		}
		client_new(s, cfd);
	}
}

/* ---- Events ---- */

static void lv_send_event(struct lv_server *s, const struct lv_pending *ev)
{
	for (GList *l = s->clients, *next; l; l = next) {
		struct lv_client *cl = l->data;

		next = l->next; /* client_arm may close @cl */
		if (procs_put_lifecycle(&cl->state, &ev->dom, ev->event, ev->detail, &s->scratch) <
		    0)
			pr_warn("cannot encode a lifecycle event for '%s'", ev->dom.name);
		if (!s->scratch.len)
			continue;
		client_queue_scratch(cl);
		client_arm(cl);
	}
	xdr_writer_reset(&s->scratch);
}

static gboolean lv_on_events(gpointer data)
{
	struct lv_server *s = data;
	GQueue q = G_QUEUE_INIT;
	struct lv_pending *ev;

	g_mutex_lock(&s->lock);
	q = s->pending;
	g_queue_init(&s->pending);
	s->idle = 0;
	g_mutex_unlock(&s->lock);
	while ((ev = g_queue_pop_head(&q))) {
		lv_send_event(s, ev);
		g_free(ev);
	}
	return G_SOURCE_REMOVE;
}

void lv_server_lifecycle(struct lv_server *s, const struct lv_dom *d, int event, int detail)
{
	struct lv_pending *ev = g_new(struct lv_pending, 1);

	ev->dom = *d;
	ev->event = event;
	ev->detail = detail;
	g_mutex_lock(&s->lock);
	g_queue_push_tail(&s->pending, ev);
	if (!s->idle)
		s->idle = g_idle_add(lv_on_events, s);
	g_mutex_unlock(&s->lock);
}

struct lv_server *lv_server_create(const char *path, const struct lv_backend_ops *ops, void *be,
				   char *err, size_t errlen)
{
	struct lv_server *s = g_new0(struct lv_server, 1);

	s->b.ops = ops;
	s->b.be = be;
	s->stall_ms = LV_STALL_MS;
	if (unixsock_listen(path, "libvirt socket", LV_BACKLOG, &s->sock, err, errlen)) {
		g_free(s);
		return NULL;
	}
	s->path = g_strdup(path);
	xdr_writer_init(&s->scratch, LV_SCRATCH_MAX);
	g_mutex_init(&s->lock);
	g_queue_init(&s->pending);
	s->watch = g_unix_fd_add(s->sock.fd, G_IO_IN, lv_on_accept, s);
	pr_info("serving libvirt's remote protocol on %s", path);
	return s;
}

void lv_server_set_stall_timeout(struct lv_server *s, unsigned ms)
{
	s->stall_ms = ms ? ms : LV_STALL_MS;
}

unsigned lv_server_clients(const struct lv_server *s)
{
	return s->nclients;
}

void lv_server_destroy(struct lv_server *s)
{
	if (!s)
		return;
	if (s->watch)
		g_source_remove(s->watch);
	if (s->retry)
		g_source_remove(s->retry);
	close(s->sock.fd);
	unixsock_unlink(s->path, &s->sock);
	while (s->clients) {
		struct lv_client *cl = s->clients->data;

		client_flush(cl);
		client_close(cl);
	}
	if (s->idle)
		g_source_remove(s->idle);
	g_queue_clear_full(&s->pending, g_free);
	g_mutex_clear(&s->lock);
	xdr_writer_free(&s->scratch);
	g_free(s->path);
	g_free(s);
}
