/* metrics_http.h - Prometheus metrics over HTTP: GET /metrics, served with libsoup on the
 * GLib main loop (docs/reports.md, "HTTP metrics").
 *
 * A scrape is computed on a worker thread (a report takes the engine lock and reads
 * smaps_rollup, never on the main loop); scrapes that arrive while one is computed wait
 * for it and get the same text, so at most one report is computed at a time whatever the
 * number of clients. Any other path is 404, any other method 405.
 */
#ifndef VMM_CONTROL_METRICS_HTTP_H
#define VMM_CONTROL_METRICS_HTTP_H

#include <stddef.h>

struct fleet;
struct metrics_http;

/* Where a scrape's text comes from. @produce runs on a worker thread, one call at a
 * time; it returns the exposition text (g_malloc'd: the server g_free()s it), or NULL
 * with a one-line reason in @err (the scrape then gets 503 and the reason). */
struct metrics_http_source {
	char *(*produce)(void *opaque, char *err, size_t errlen);
	void *opaque;
};

/* Serve the metrics of fleet @f (the report of vmm/control/report.h in the format of
 * vmm/control/metrics.h) at @addr_port, the argument of --metrics (options.h:
 * "PORT" is 127.0.0.1:PORT). Keeps its own short history for the copy-on-write rates.
 * Returns NULL with a one-line reason in @err (nothing left behind). @f must outlive
 * the server. Call from the thread that runs the GLib default main context. */
struct metrics_http *metrics_http_create(const char *addr_port, struct fleet *f, char *err,
					 size_t errlen);

/* The same with any @src (copied); for tests and other producers. */
struct metrics_http *metrics_http_create_source(const char *addr_port,
						const struct metrics_http_source *src, char *err,
						size_t errlen);

/* The TCP port listened on (useful with port 0). */
unsigned metrics_http_port(const struct metrics_http *m);

/* Stop serving: wait for a scrape being computed, answer the waiting ones, close every
 * connection and the listening socket. Call fleet_stop_all() first. NULL is a no-op.
 * Same thread as the constructor. */
void metrics_http_destroy(struct metrics_http *m);

#endif
