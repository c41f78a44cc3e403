/* main.c - `ksmvmm run`: parse options, build the fleet, serve the control socket, shut down. */
#define pr_fmt(fmt) "" fmt
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vmm/control/control.h"
#include "vmm/control/metrics_http.h"
#include "vmm/fleet.h"
#include "vmm/kvm.h"
#include "lib/log.h"
#include "vmm/options.h"
#include "vmm/vcpu.h"

struct run_ctx {
	GMainLoop *loop;
	struct fleet *fleet;
};

/* Runs on the main loop: quit once no guest is left. */
static gboolean check_fleet_end(gpointer data)
{
	struct run_ctx *ctx = data;

	if (fleet_live(ctx->fleet) == 0)
		g_main_loop_quit(ctx->loop);
	return G_SOURCE_REMOVE;
}

/* Called on a vCPU thread when a guest ends: hand over to the main loop. */
static void on_guest_end(void *opaque)
{
	g_idle_add(check_fleet_end, opaque);
}

static gboolean on_signal(gpointer data)
{
	struct run_ctx *ctx = data;

	pr_info("signal received, stopping all guests");
	fleet_stop_all(ctx->fleet);
	return G_SOURCE_CONTINUE;
}

static int serve(struct fleet *f, const char *control_path, const char *metrics_addr)
{
	struct run_ctx ctx = {.loop = g_main_loop_new(NULL, FALSE), .fleet = f};
	struct control *c = NULL;
	struct metrics_http *mh = NULL;
	char err[256];
	int status;

	if (control_path) {
		c = control_create(control_path, f, err, sizeof(err));
		if (!c) {
			pr_err("%s", err);
			g_main_loop_unref(ctx.loop);
			return -1;
		}
	}
	if (metrics_addr) {
		mh = metrics_http_create(metrics_addr, f, err, sizeof(err));
		if (!mh) {
			pr_err("%s", err);
			control_destroy(c);
			g_main_loop_unref(ctx.loop);
			return -1;
		}
	}
	fleet_set_end_callback(f, on_guest_end, &ctx);
	g_unix_signal_add(SIGINT, on_signal, &ctx);
	g_unix_signal_add(SIGTERM, on_signal, &ctx);
	if (fleet_start(f) == 0)
		g_main_loop_run(ctx.loop);
	fleet_stop_all(f);
	metrics_http_destroy(mh);
	control_destroy(c);
	status = fleet_exit_status(f);
	fleet_set_end_callback(f, NULL, NULL);
	g_main_loop_unref(ctx.loop);
	return status;
}

static int cmd_run(int argc, char **argv)
{
	struct options o;
	struct fleet *f;
	char err[256];
	int status;

	if (options_parse(argc, argv, &o, err, sizeof(err))) {
		pr_err("%s", err);
		return 2;
	}
	if (o.verbose)
		log_level = 3;
	if (kvm_open() < 0)
		return 1;
	f = fleet_create(&o);
	if (!f) {
		kvm_close();
		return 1;
	}
	status = serve(f, o.control, o.metrics);
	fleet_destroy(f);
	kvm_close();
	if (status < 0)
		return 1; /* nothing ran: the error said why */
	pr_info("all guests ended, exit status %d", status);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(options_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "run")) {
		pr_err("unknown command '%s' (try ksmvmm --help)", argv[1]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (vcpu_init_signals()) {
		pr_err("cannot install the vCPU kick signal");
		return 1;
	}
	return cmd_run(argc - 1, argv + 1);
}
