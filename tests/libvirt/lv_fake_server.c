/* lv_fake_server.c - the libvirt endpoint over the fake backend, for the client tests:
 * `lv-fake-server SOCKET` serves until SIGTERM or SIGINT. SIGUSR1 starts a thread that
 * reports three lifecycle events (fake-alpha crashed, details 0, 1, 2) from outside the
 * main loop, as the fleet's vCPU threads do. LV_FAKE_STALL_MS, if set, replaces the 30 s
 * after which a client stuck in the middle of a packet is dropped. */
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>
#include <glib-unix.h>

#include "tests/libvirt/fake_backend.h"
#include "vmm/libvirt/lvserver.h"

static struct lv_server *server;

static gpointer report_events(gpointer data)
{
	struct lv_dom d = {.name = "fake-alpha", .id = 7};

	(void) data;
	for (int i = 0; i < LV_UUID_LEN; i++)
		d.uuid[i] = (uint8_t) (0x10 + i); /* fake-alpha's */
	for (int detail = 0; detail < 3; detail++)
		lv_server_lifecycle(server, &d, LV_EVENT_CRASHED, detail);
	return NULL;
}

static gboolean on_usr1(gpointer data)
{
	(void) data;
	g_thread_unref(g_thread_new("events", report_events, NULL));
	return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	struct fake_be *f = fake_be_new();
	struct lv_server *s;
	char err[256];

	if (argc != 2) {
		fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
		return 2;
	}
	s = lv_server_create(argv[1], &fake_be_ops, f, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "lv-fake-server: %s\n", err);
		return 1;
	}
	fake_be_set_server(f, s);
	{
		/* Saves go next to the socket: the test's own directory. */
		g_autofree char *abs = g_canonicalize_filename(argv[1], NULL);
		g_autofree char *dir = g_path_get_dirname(abs);

		fake_be_set_save_root(f, dir);
	}
	if (getenv("LV_FAKE_STALL_MS"))
		lv_server_set_stall_timeout(
		    s, (unsigned) strtoul(getenv("LV_FAKE_STALL_MS"), NULL, 10));
	server = s;
	g_unix_signal_add(SIGUSR1, on_usr1, NULL);
	g_unix_signal_add(SIGTERM, on_signal, loop);
	g_unix_signal_add(SIGINT, on_signal, loop);
	g_main_loop_run(loop);
	lv_server_destroy(s);
	fake_be_free(f);
	g_main_loop_unref(loop);
	return 0;
}
