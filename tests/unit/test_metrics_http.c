/* test_metrics_http.c - the HTTP /metrics server on loopback with a fake producer: status
 * codes and content type, a bare port on 127.0.0.1 only, concurrent scrapes served by one
 * computation, failures as 503, clients that vanish, teardown during a scrape, bad and
 * busy addresses; and the formatter's text through it, parsed by prometheus_client. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "tests/unit/check.h"
#include "vmm/control/metrics.h"
#include "vmm/control/metrics_http.h"
#include "vmm/control/reportdata.h"

/* The fake producer's behaviour and what it saw. */
struct fake {
	gint calls;   /* produce() calls so far */
	gint entered; /* set once a call started */
	unsigned delay_ms;
	bool fail;
	char *text; /* when set: this text instead of "fake_calls N" */
};

static char *fake_produce(void *opaque, char *err, size_t errlen)
{
	struct fake *f = opaque;
	int n = g_atomic_int_add(&f->calls, 1) + 1;

	g_atomic_int_set(&f->entered, 1);
	g_usleep(f->delay_ms * 1000);
	if (f->fail) {
		g_strlcpy(err, "the engine is off", errlen);
		return NULL;
	}
	return f->text ? g_strdup(f->text) : g_strdup_printf("fake_calls %d\n", n);
}

/* One HTTP client on its own thread: a raw request, the whole answer. */
struct client {
	unsigned port;
	const char *request; /* sent as is */
	bool hang_up;	     /* close right after sending, read nothing */
	GString *answer;
	GThread *thread;
	gint done;
};

static gpointer client_run(gpointer data)
{
	struct client *c = data;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) c->port)};
	char buf[4096];
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->answer = g_string_new(NULL);
	if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
	    write(fd, c->request, strlen(c->request)) == (ssize_t) strlen(c->request) &&
	    !c->hang_up) {
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			g_string_append_len(c->answer, buf, n);
	}
	if (fd >= 0)
		close(fd);
	g_atomic_int_set(&c->done, 1);
	g_main_context_wakeup(NULL);
	return NULL;
}

static void client_start(struct client *c, unsigned port, const char *request)
{
	c->port = port;
	c->request = request;
	c->thread = g_thread_new("client", client_run, c);
}

/* Run the main loop until every client of @cs is done (at most 20 s). */
static void clients_wait(struct client *cs, size_t n)
{
	gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	bool all = false;

	while (!all && g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		all = true;
		for (size_t i = 0; i < n; i++)
			all &= g_atomic_int_get(&cs[i].done) != 0;
		if (!all)
			g_usleep(1000);
	}
	CHECK(all);
	for (size_t i = 0; i < n && all; i++)
		g_thread_join(cs[i].thread);
}

/* GET @path with a fresh connection; the answer (g_string_free it). */
static GString *get(unsigned port, const char *request)
{
	struct client c = {0};

	client_start(&c, port, request);
	clients_wait(&c, 1);
	return c.answer;
}

#define GET_METRICS "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

/* The body of an HTTP answer (after the blank line), or "". */
static const char *body_of(const GString *a)
{
	const char *p = strstr(a->str, "\r\n\r\n");

	return p ? p + 4 : "";
}

/* Whether /proc/net/tcp lists a listener on 127.0.0.1:@port, and on nothing else. */
static bool listens_on_loopback_only(unsigned port)
{
	char *text = NULL, want[32], any[32];
	bool loop = false, other = false;

	if (!g_file_get_contents("/proc/net/tcp", &text, NULL, NULL))
		return false;
	g_snprintf(want, sizeof(want), "0100007F:%04X 00000000:0000 0A", port);
	g_snprintf(any, sizeof(any), ":%04X 00000000:0000 0A", port);
	for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
		loop |= strstr(l, want) != NULL;
		other |= strstr(l, any) && !strstr(l, want);
	}
	g_free(text);
	return loop && !other;
}

static void test_answers(void)
{
	struct fake f = {0};
	struct metrics_http_source src = {fake_produce, &f};
	char err[256];
	struct metrics_http *m = metrics_http_create_source("0", &src, err, sizeof(err));
	GString *a;

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(metrics_http_port(m) > 0);
	CHECK(listens_on_loopback_only(metrics_http_port(m)));
	a = get(metrics_http_port(m), GET_METRICS);
	CHECK(g_str_has_prefix(a->str, "HTTP/1.1 200 OK\r\n"));
	CHECK(strstr(a->str, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	CHECK(!strcmp(body_of(a), "fake_calls 1\n"));
	g_string_free(a, TRUE);
	a = get(metrics_http_port(m),
		"GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK(g_str_has_prefix(a->str, "HTTP/1.1 404 "));
	g_string_free(a, TRUE);
	a = get(metrics_http_port(m),
		"GET /metrics/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK(g_str_has_prefix(a->str, "HTTP/1.1 404 "));
	g_string_free(a, TRUE);
	a = get(
	    metrics_http_port(m),
	    "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	CHECK(g_str_has_prefix(a->str, "HTTP/1.1 405 "));
	CHECK(strstr(a->str, "\r\nAllow: GET, HEAD\r\n"));
	g_string_free(a, TRUE);
	a = get(metrics_http_port(m),
		"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK(g_str_has_prefix(a->str, "HTTP/1.1 200 OK\r\n"));
	CHECK(!strcmp(body_of(a), "")); /* the headers only */
	g_string_free(a, TRUE);
	a = get(metrics_http_port(m), "NONSENSE\r\n\r\n");
	CHECK(!g_str_has_prefix(a->str, "HTTP/1.1 200"));
	g_string_free(a, TRUE);
	CHECK_EQ(g_atomic_int_get(&f.calls), 2); /* only GET and HEAD computed a text */
	metrics_http_destroy(m);
}

/* Scrapes that arrive during a computation share it. */
static void test_coalesce(void)
{
	struct fake f = {.delay_ms = 500};
	struct metrics_http_source src = {fake_produce, &f};
	char err[256];
	struct metrics_http *m = metrics_http_create_source("127.0.0.1:0", &src, err, sizeof(err));
	struct client cs[4] = {0};
	GString *a;

	CHECK(m != NULL);
	if (!m)
		return;
	for (size_t i = 0; i < G_N_ELEMENTS(cs); i++)
		client_start(&cs[i], metrics_http_port(m), GET_METRICS);
	clients_wait(cs, G_N_ELEMENTS(cs));
	for (size_t i = 0; i < G_N_ELEMENTS(cs); i++) {
		CHECK(g_str_has_prefix(cs[i].answer->str, "HTTP/1.1 200 OK\r\n"));
		CHECK(!strcmp(body_of(cs[i].answer), "fake_calls 1\n"));
		g_string_free(cs[i].answer, TRUE);
	}
	CHECK_EQ(g_atomic_int_get(&f.calls), 1);
	f.delay_ms = 0;
	a = get(metrics_http_port(m), GET_METRICS);
	CHECK(!strcmp(body_of(a), "fake_calls 2\n")); /* a later scrape: a fresh text */
	g_string_free(a, TRUE);
	metrics_http_destroy(m);
}

static void test_failure_and_hang_up(void)
{
	struct fake f = {.fail = true};
	struct metrics_http_source src = {fake_produce, &f};
	char err[256];
	struct metrics_http *m = metrics_http_create_source("0", &src, err, sizeof(err));
	struct client gone = {.hang_up = true};
	GString *a;

	CHECK(m != NULL);
	if (!m)
		return;
	a = get(metrics_http_port(m), GET_METRICS);
	CHECK(g_str_has_prefix(a->str, "HTTP/1.1 503 "));
	CHECK(strstr(body_of(a), "the engine is off"));
	g_string_free(a, TRUE);
	/* A client that leaves while its text is computed: nothing breaks. */
	f.fail = false;
	f.delay_ms = 300;
	client_start(&gone, metrics_http_port(m), GET_METRICS);
	clients_wait(&gone, 1);
	g_string_free(gone.answer, TRUE);
	for (int i = 0; i < 50; i++) /* let the computation end and be delivered */
		g_main_context_iteration(NULL, FALSE), g_usleep(10000);
	f.delay_ms = 0;
	a = get(metrics_http_port(m), GET_METRICS);
	CHECK(g_str_has_prefix(a->str, "HTTP/1.1 200 OK\r\n"));
	g_string_free(a, TRUE);
	metrics_http_destroy(m);
}

/* Destroying the server while a scrape is computed waits for it; nothing hangs. */
static void test_destroy_busy(void)
{
	struct fake f = {.delay_ms = 300};
	struct metrics_http_source src = {fake_produce, &f};
	char err[256];
	struct metrics_http *m = metrics_http_create_source("0", &src, err, sizeof(err));
	struct client c = {0};
	gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

	CHECK(m != NULL);
	if (!m)
		return;
	client_start(&c, metrics_http_port(m), GET_METRICS);
	while (!g_atomic_int_get(&f.entered) && g_get_monotonic_time() < end)
		g_main_context_iteration(NULL, FALSE), g_usleep(1000);
	CHECK(g_atomic_int_get(&f.entered));
	metrics_http_destroy(m);
	clients_wait(&c, 1);
	CHECK(!g_str_has_prefix(c.answer->str, "HTTP/1.1 5")); /* an answer or a close */
	g_string_free(c.answer, TRUE);
	CHECK_EQ(g_atomic_int_get(&f.calls), 1);
}

static void test_bad_addresses(void)
{
	struct fake f = {0};
	struct metrics_http_source src = {fake_produce, &f};
	char err[256], busy[32];
	struct metrics_http *m;

	CHECK(metrics_http_create_source("nonsense", &src, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "--metrics 'nonsense'"));
	CHECK(metrics_http_create_source("127.0.0.1:99999", &src, err, sizeof(err)) == NULL);
	m = metrics_http_create_source("0", &src, err, sizeof(err));
	CHECK(m != NULL);
	if (!m)
		return;
	g_snprintf(busy, sizeof(busy), "127.0.0.1:%u", metrics_http_port(m));
	CHECK(metrics_http_create_source(busy, &src, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "cannot listen"));
	metrics_http_destroy(m);
	metrics_http_destroy(NULL);
}

/* A formatted report served and parsed by the Prometheus client library's parser
 * (tests/lib/prom_client.py), when Debian's python3-prometheus-client is there. */
static void test_real_parser(void)
{
	static const char line[] =
	    "{\"ok\":true,\"version\":1,\"guests\":[{\"name\":\"web \\\"1\\\"\",\"uuid\":"
	    "\"00000000-0000-4000-8000-00000000000a\",\"group\":\"fleet\",\"cost_bytes\":5,"
	    "\"devices\":{\"count\":1,\"broken\":0,\"list\":[{\"kind\":\"blk\",\"state\":"
	    "\"ok\",\"counters\":{\"reads\":3}}]}},{\"name\":\"b\\\\x\",\"uuid\":"
	    "\"00000000-0000-4000-8000-00000000000b\",\"group\":\"fleet\"}],\"ended\":[],"
	    "\"totals\":{},\"groups\":[{\"name\":\"fleet\"}],\"matrix\":{\"guests\":[\"web "
	    "\\\"1\\\"\",\"b\\\\x\"],\"pages\":[[1,2],[3,4]]},\"group_matrix\":{\"groups\":"
	    "[\"fleet\"],\"pages\":[[2]]},\"host\":{\"pss_bytes\":9},\"engine\":{}}";
	struct fake f = {0};
	struct metrics_http_source src = {fake_produce, &f};
	struct rd_report r;
	char err[256], *path = NULL, *out = NULL, *errout = NULL;
	GString *text = g_string_new(NULL), *a;
	struct metrics_http *m;
	int status = -1, fd;

	CHECK_EQ(rd_report_parse(line, &r, err, sizeof(err)), 0);
	metrics_format(&r, text);
	rd_report_free(&r);
	f.text = text->str;
	m = metrics_http_create_source("0", &src, err, sizeof(err));
	CHECK(m != NULL);
	if (!m)
		return;
	a = get(metrics_http_port(m), GET_METRICS);
	CHECK(!strcmp(body_of(a), text->str));
	fd = g_file_open_tmp("metrics-XXXXXX.txt", &path, NULL);
	CHECK(fd >= 0 && g_file_set_contents(path, body_of(a), -1, NULL));
	if (fd >= 0)
		close(fd);
	if (!g_spawn_command_line_sync("/usr/bin/python3 -c 'import prometheus_client'", NULL, NULL,
				       &status, NULL) ||
	    status != 0) {
		printf("note: /usr/bin/python3 has no prometheus_client (tools/setup.sh "
		       "installs it): the real parser's check did not run\n");
	} else {
		char *cmd = g_strdup_printf("/usr/bin/python3 tests/lib/prom_client.py check %s "
					    "ksmvmm_up ksmvmm_guest_cost_bytes ksmvmm_device_reads "
					    "ksmvmm_sharing_pages",
					    path);

		CHECK(g_spawn_command_line_sync(cmd, &out, &errout, &status, NULL));
		CHECK(g_spawn_check_wait_status(status, NULL));
		printf("%s%s", out ? out : "", errout ? errout : "");
		g_free(cmd);
	}
	unlink(path);
	g_free(path);
	g_free(out);
	g_free(errout);
	g_string_free(a, TRUE);
	metrics_http_destroy(m);
	g_string_free(text, TRUE);
}

int main(void)
{
	test_answers();
	test_coalesce();
	test_failure_and_hang_up();
	test_destroy_busy();
	test_bad_addresses();
	test_real_parser();
	return check_done("test_metrics_http");
}
