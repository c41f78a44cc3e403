/* main.c - `ksmvmm run` and `ksmvmm serve`: parse options, build the fleet, serve the
 * control socket and the libvirt endpoint, shut down. */
#define pr_fmt(fmt) "" fmt
#include <glib-unix.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "vmm/control/control.h"
#include "vmm/control/metrics_http.h"
#include "vmm/fleet.h"
#include "vmm/kvm.h"
#include "vmm/libvirt/lvfleet.h"
#include "lib/log.h"
#include "vmm/options.h"
#include "vmm/vcpu.h"

struct run_ctx {
	GMainLoop *loop;
	struct fleet *fleet;
	struct lvfleet *lv;    /* the libvirt endpoint, or NULL */
	bool serve;	       /* `ksmvmm serve`: runs on without guests, until a signal */
	bool quitting;	       /* a signal came: end once every guest has stopped */
	guint linger;	       /* source waiting for libvirt clients to leave; 0 = none */
	unsigned linger_ticks; /* its ticks so far */
};

/* `run` ends when its last guest ends. A virsh that has just destroyed the last domain
 * still closes its connection (a call that wants a reply), so connected libvirt clients
 * get up to RUN_LINGER_TICKS * RUN_LINGER_TICK_MS to leave first. */
#define RUN_LINGER_TICK_MS 50
#define RUN_LINGER_TICKS 100

static gboolean linger_tick(gpointer data)
{
	struct run_ctx *ctx = data;

	if (fleet_live(ctx->fleet) > 0) { /* a client started a guest: run on */
		ctx->linger = 0;
		return G_SOURCE_REMOVE;
	}
	if (lvfleet_clients(ctx->lv) > 0 && ++ctx->linger_ticks < RUN_LINGER_TICKS)
		return G_SOURCE_CONTINUE;
	ctx->linger = 0;
	g_main_loop_quit(ctx->loop);
	return G_SOURCE_REMOVE;
}

/* No guest is left: quit, once libvirt's clients have left (`run`, no signal). */
static void run_end(struct run_ctx *ctx)
{
	if (ctx->quitting || !ctx->lv || lvfleet_clients(ctx->lv) == 0) {
		g_main_loop_quit(ctx->loop);
		return;
	}
	if (ctx->linger)
		return;
	ctx->linger_ticks = 0;
	ctx->linger = g_timeout_add(RUN_LINGER_TICK_MS, linger_tick, ctx);
}

/* Runs on the main loop after a guest ended: tell libvirt, and quit once no guest is
 * left (`run`) or once they stopped after a signal (`serve`). */
static gboolean check_fleet_end(gpointer data)
{
	struct run_ctx *ctx = data;

	if (ctx->lv)
		lvfleet_guest_ended(ctx->lv);
	if ((!ctx->serve || ctx->quitting) && fleet_live(ctx->fleet) == 0)
		run_end(ctx);
	return G_SOURCE_REMOVE;
}

/* Called on a vCPU thread when a guest ends: hand over to the main loop. */
static void on_guest_end(void *opaque, size_t slot)
{
	(void) slot;
	g_idle_add(check_fleet_end, opaque);
}

static gboolean on_signal(gpointer data)
{
	struct run_ctx *ctx = data;

	pr_info("signal received, stopping all guests");
	ctx->quitting = true;
	fleet_stop_all(ctx->fleet);
	if (fleet_live(ctx->fleet) == 0)
		g_main_loop_quit(ctx->loop);
	return G_SOURCE_CONTINUE;
}

/* The libvirt endpoint on @path; @state_dir: where definitions persist (serve). */
static struct lvfleet *start_libvirt(struct fleet *f, const struct options *o,
				     const char *state_dir)
{
	char err[512];
	struct lvfleet *lv = lvfleet_create(f, o, state_dir, err, sizeof(err));

	if (!lv) {
		pr_err("%s", err);
		return NULL;
	}
	if (lvfleet_listen(lv, o->libvirt, err, sizeof(err))) {
		pr_err("%s", err);
		lvfleet_destroy(lv);
		return NULL;
	}
	pr_info("libvirt clients: virsh -c 'ksmvmm+unix:///system?socket=%s'", o->libvirt);
	return lv;
}

static int serve(struct fleet *f, const struct options *o, bool serve_mode)
{
	struct run_ctx ctx = {
	    .loop = g_main_loop_new(NULL, FALSE), .fleet = f, .serve = serve_mode};
	struct control *c = NULL;
	struct metrics_http *mh = NULL;
	char err[256];
	int status = -1;

	if (o->control) {
		c = control_create(o->control, f, err, sizeof(err));
		if (!c) {
			pr_err("%s", err);
			goto out_loop;
		}
	}
	if (o->libvirt && !(ctx.lv = start_libvirt(f, o, serve_mode ? o->state_dir : NULL)))
		goto out_control;
	if (o->metrics && !(mh = metrics_http_create(o->metrics, f, err, sizeof(err)))) {
		pr_err("%s", err);
		goto out_libvirt;
	}
	fleet_set_end_callback(f, on_guest_end, &ctx);
	g_unix_signal_add(SIGINT, on_signal, &ctx);
	g_unix_signal_add(SIGTERM, on_signal, &ctx);
	if (fleet_start(f) == 0) {
		if (ctx.lv)
			lvfleet_autostart(ctx.lv);
		g_main_loop_run(ctx.loop);
	}
	if (ctx.linger)
		g_source_remove(ctx.linger);
	fleet_stop_all(f);
	status = fleet_exit_status(f);
	fleet_set_end_callback(f, NULL, NULL);
	metrics_http_destroy(mh);
out_libvirt:
	lvfleet_destroy(ctx.lv);
out_control:
	control_destroy(c);
out_loop:
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
	status = serve(f, &o, false);
	fleet_destroy(f);
	kvm_close();
	if (status < 0)
		return 1; /* nothing ran: the error said why */
	pr_info("all guests ended, exit status %d", status);
	return status;
}

/* The directory of the default socket (/run/ksmvmm), made if missing. */
static int make_socket_dir(const char *path)
{
	char *dir = g_path_get_dirname(path);
	int ret = g_mkdir_with_parents(dir, 0755);

	if (ret)
		pr_err("cannot create %s: %s", dir, g_strerror(errno));
	g_free(dir);
	return ret;
}

static int cmd_serve(int argc, char **argv)
{
	struct options o;
	struct fleet *f;
	char err[256];
	int status;

	if (options_parse_serve(argc, argv, &o, err, sizeof(err))) {
		pr_err("%s", err);
		return 2;
	}
	if (o.verbose)
		log_level = 3;
	if (make_socket_dir(o.libvirt))
		return 1;
	if (kvm_open() < 0)
		pr_warn("without /dev/kvm domains can be defined and listed, not started");
	f = fleet_create_dynamic(&o);
	if (!f) {
		kvm_close();
		return 1;
	}
	status = serve(f, &o, true);
	fleet_destroy(f);
	kvm_close();
	if (status < 0)
		return 1;
	pr_info("stopped");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(options_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "run") && strcmp(argv[1], "serve")) {
		pr_err("unknown command '%s' (try ksmvmm --help)", argv[1]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Guest RAM is shared and released in 4 KiB pages. A host with transparent huge pages
	 * "always" would back a guest's first write with 2 MiB of zeros, which the engine then
	 * has to find and release, and which the reports would count as saved; the same
	 * process on a host in "madvise" mode (Debian's hosts here) never sees one. */
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		pr_warn("cannot turn off transparent huge pages for guest RAM: %s",
			strerror(errno));
	if (vcpu_init_signals()) {
		pr_err("cannot install the vCPU kick signal");
		return 1;
	}
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	return cmd_run(argc - 1, argv + 1);
}
