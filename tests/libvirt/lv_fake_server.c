/* lv_fake_server.c - the libvirt endpoint over the fake backend, for the client tests:
 * `lv-fake-server SOCKET` serves until SIGTERM or SIGINT. */
#include <stdio.h>

#include <glib.h>
#include <glib-unix.h>

#include "tests/libvirt/fake_backend.h"
#include "vmm/libvirt/lvserver.h"

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
	g_unix_signal_add(SIGTERM, on_signal, loop);
	g_unix_signal_add(SIGINT, on_signal, loop);
	g_main_loop_run(loop);
	lv_server_destroy(s);
	fake_be_free(f);
	g_main_loop_unref(loop);
	return 0;
}
