/* metrics_http.c - GET /metrics over HTTP with libsoup: one worker computes a scrape's
 * text while the main loop keeps serving; every scrape waiting for it gets that text. */
#define pr_fmt(fmt) "metrics: " fmt

#include "vmm/control/metrics_http.h"

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <libsoup/soup.h>

#include "lib/errbuf.h"
#include "lib/log.h"
#include "vmm/control/history.h"
#include "vmm/control/metrics.h"
#include "vmm/control/report.h"
#include "vmm/control/reportdata.h"
#include "vmm/fleet.h"
#include "vmm/options.h"

/* Samples kept for the copy-on-write rates: the report's window and a few more. */
#define METRICS_HISTORY_CAP (2 * REPORT_COW_WINDOW_S)

struct metrics_http {
	SoupServer *server;
	struct metrics_http_source src;
	struct fleet *fleet;	 /* metrics_http_create's fleet; NULL for another source */
	struct history *history; /* the fleet's copy-on-write rates; NULL without */
	GPtrArray *waiting;	 /* paused SoupServerMessages (ref'd) for the next text */
	GThread *worker;	 /* computing a text; NULL when none is */
	/* Written by the worker before it ends, read on the main loop after
	 * g_thread_join() (which orders the two): */
	char *text;	  /* the text, or NULL when it failed */
	char reason[256]; /* why it failed */
	GSource *done;	  /* the worker's hand-over to the main loop */
	unsigned port;	  /* listened on */
};

/* ---- The scrape's text ---- */

/* The fleet's report as Prometheus text (worker thread: the report needs one). */
static char *metrics_http_fleet_text(void *opaque, char *err, size_t errlen)
{
	struct metrics_http *m = opaque;
	char *line = control_report_reply(m->fleet, m->history);
	struct rd_report r;
	GString *out;
	int ret = rd_report_parse(line, &r, err, errlen);

	g_free(line);
	if (ret)
		return NULL;
	out = g_string_new(NULL);
	metrics_format(&r, out);
	rd_report_free(&r);
	return g_string_free(out, FALSE);
}

/* ---- Answering ---- */

static void metrics_http_respond(SoupServerMessage *msg, unsigned status, const char *text)
{
	const char *type = status == SOUP_STATUS_OK ? METRICS_CONTENT_TYPE : "text/plain";

	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, text, strlen(text));
}

/* Answer every waiting scrape with the worker's result (main loop, worker joined). */
static void metrics_http_answer_all(struct metrics_http *m)
{
	GPtrArray *waiting = m->waiting;
	char *failed = m->text ? NULL : g_strdup_printf("metrics unavailable: %s\n", m->reason);

	m->waiting = g_ptr_array_new_with_free_func(g_object_unref);
	for (guint i = 0; i < waiting->len; i++) {
		SoupServerMessage *msg = waiting->pdata[i];

		g_signal_handlers_disconnect_by_data(msg, m);
		if (m->text)
			metrics_http_respond(msg, SOUP_STATUS_OK, m->text);
		else
			metrics_http_respond(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, failed);
		soup_server_message_unpause(msg);
	}
	g_ptr_array_free(waiting, TRUE);
	g_free(failed);
}

/* Join the worker, drop its hand-over and answer with what it made. Main loop. */
static void metrics_http_finish(struct metrics_http *m)
{
	g_thread_join(m->worker);
	m->worker = NULL;
	g_source_destroy(m->done);
	g_source_unref(m->done);
	m->done = NULL;
	metrics_http_answer_all(m);
	g_free(m->text);
	m->text = NULL;
}

static gboolean metrics_http_on_done(gpointer data)
{
	metrics_http_finish(data);
	return G_SOURCE_REMOVE;
}

/* The worker: one text, then hand over to the main loop. */
static gpointer metrics_http_work(gpointer data)
{
	struct metrics_http *m = data;
	GSource *s = g_idle_source_new();

	m->reason[0] = '\0';
	m->text = m->src.produce(m->src.opaque, m->reason, sizeof(m->reason));
	if (!m->text && !m->reason[0])
		g_strlcpy(m->reason, "no text", sizeof(m->reason));
	g_source_set_callback(s, metrics_http_on_done, m, NULL);
	m->done = s;
	g_source_attach(s, NULL);
	return NULL;
}

/* A waiting scrape's client went away before its answer. */
static void metrics_http_on_finished(SoupServerMessage *msg, gpointer data)
{
	struct metrics_http *m = data;

	g_signal_handlers_disconnect_by_data(msg, m);
	g_ptr_array_remove(m->waiting, msg);
}

static void metrics_http_on_request(SoupServer *server, SoupServerMessage *msg, const char *path,
				    GHashTable *query, gpointer data)
{
	struct metrics_http *m = data;
	const char *method = soup_server_message_get_method(msg);

	(void) server;
	(void) query;
	if (strcmp(path, "/metrics")) {
		metrics_http_respond(msg, SOUP_STATUS_NOT_FOUND, "not found: try /metrics\n");
		return;
	}
	if (strcmp(method, SOUP_METHOD_GET) && strcmp(method, SOUP_METHOD_HEAD)) {
		soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
					     "GET, HEAD");
		metrics_http_respond(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
		return;
	}
	soup_server_message_pause(msg);
	g_ptr_array_add(m->waiting, g_object_ref(msg));
	g_signal_connect(msg, "finished", G_CALLBACK(metrics_http_on_finished), m);
	if (!m->worker)
		m->worker = g_thread_new("ksmvmm-metrics", metrics_http_work, m);
}

/* ---- Life ---- */

static struct metrics_http *metrics_http_alloc(void)
{
	struct metrics_http *m = g_new0(struct metrics_http, 1);

	m->waiting = g_ptr_array_new_with_free_func(g_object_unref);
	m->server = soup_server_new("server-header", "ksmvmm ", NULL);
	soup_server_add_handler(m->server, NULL, metrics_http_on_request, m, NULL);
	return m;
}

/* The port of the first URI @m listens on. */
static unsigned metrics_http_bound_port(struct metrics_http *m)
{
	GSList *uris = soup_server_get_uris(m->server);
	unsigned port = uris ? (unsigned) g_uri_get_port(uris->data) : 0;

	g_slist_free_full(uris, (GDestroyNotify) g_uri_unref);
	return port;
}

static int metrics_http_listen(struct metrics_http *m, const char *addr_port, char *err,
			       size_t errlen)
{
	char host[OPT_METRICS_HOST_MAX];
	GError *gerr = NULL;
	GInetAddress *ia;
	GSocketAddress *sa;
	unsigned port;
	int ret = 0;

	if (options_parse_metrics(addr_port, host, &port, err, errlen))
		return -EINVAL;
	ia = g_inet_address_new_from_string(host);
	sa = g_inet_socket_address_new(ia, (guint16) port);
	if (!soup_server_listen(m->server, sa, 0, &gerr)) {
		ret = errbuf_set(err, errlen, -EADDRNOTAVAIL, "--metrics %s: cannot listen: %s",
				 addr_port, gerr->message);
		g_error_free(gerr);
	}
	g_object_unref(sa);
	g_object_unref(ia);
	m->port = ret ? 0 : metrics_http_bound_port(m);
	if (!ret)
		pr_info("Prometheus metrics at http://%s%s%s:%u/metrics",
			strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", m->port);
	return ret;
}

struct metrics_http *metrics_http_create_source(const char *addr_port,
						const struct metrics_http_source *src, char *err,
						size_t errlen)
{
	struct metrics_http *m = metrics_http_alloc();

	m->src = *src;
	if (metrics_http_listen(m, addr_port, err, errlen)) {
		metrics_http_destroy(m);
		return NULL;
	}
	return m;
}

struct metrics_http *metrics_http_create(const char *addr_port, struct fleet *f, char *err,
					 size_t errlen)
{
	struct metrics_http *m = metrics_http_alloc();

	m->fleet = f;
	m->src = (struct metrics_http_source){metrics_http_fleet_text, m};
	if (metrics_http_listen(m, addr_port, err, errlen)) {
		metrics_http_destroy(m);
		return NULL;
	}
	m->history = history_create(fleet_count(f), METRICS_HISTORY_CAP);
	if (m->history)
		history_start(m->history, f);
	else
		pr_warn("no memory for a history: the metrics will have no copy-on-write rates");
	return m;
}

unsigned metrics_http_port(const struct metrics_http *m)
{
	return m->port;
}

void metrics_http_destroy(struct metrics_http *m)
{
	if (!m)
		return;
	if (m->worker)
		metrics_http_finish(m);
	soup_server_disconnect(m->server);
	g_object_unref(m->server);
	g_ptr_array_free(m->waiting, TRUE);
	history_destroy(m->history);
	g_free(m);
}
