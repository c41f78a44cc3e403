/* ksmctl.c - command-line client of a running ksmvmm's control socket: the command line
 * parsed into a request, sent, and its reply handed to answer.c or to a view. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "tools/ksmctl/answer.h"
#include "tools/ksmctl/client.h"
#include "tools/ksmctl/views.h"
#include "vmm/control/protocol.h"
#include "vmm/mem.h"

#define KSMCTL_TIMEOUT_MS 30000		/* most commands answer at once */
#define KSMCTL_VERIFY_TIMEOUT_MS 600000 /* every guest checks all its pages */

/* Commands served by ksmctl itself from other requests (exit statuses: reportdata.h). */
enum ksmctl_local {
	KSMCTL_REMOTE,	/* a protocol command */
	KSMCTL_TOP,	/* live view, from "report" */
	KSMCTL_METRICS, /* Prometheus text, from "report" */
};

struct ksmctl_args {
	const char *control; /* socket path */
	bool json;	     /* print the raw reply */
	struct proto_request req;
	enum ksmctl_local local;
	struct view_args view; /* report, history, top, metrics */
	const char *count;     /* --count of clone */
	const char *timeout;   /* --timeout of verify */
};

static void ksmctl_usage(FILE *out)
{
	fprintf(out,
		"usage: ksmctl [--control SOCKET] [--json] COMMAND [ARGS]\n"
		"\n"
		"Talk to a running ksmvmm through its control socket.\n"
		"\n"
		"commands:\n"
		"  list           show every guest: NAME STATE MEMORY VCPUS READY REASON\n"
		"                 (READY: a workload guest has filled its memory)\n"
		"  stop [NAME]    stop guest NAME, or every guest\n"
		"  verify [NAME] [--timeout S]\n"
		"                 make workload guests check their memory; prints\n"
		"                 'NAME VERIFY ok=N bad=N' per guest. A guest not done\n"
		"                 S seconds after the request (default: 120 s after its own\n"
		"                 check began) is reported as not answering\n"
		"  fault NAME     make workload guest NAME triple-fault (a test hook)\n"
		"  hostile NAME DEVICE ATTACK\n"
		"                 workload guest NAME posts a bad request to its virtio device\n"
		"                 DEVICE (0 = its first virtio device): ATTACK is outside,\n"
		"                 loop, direction, oversize or avail; reset makes it reset\n"
		"                 and check the device again (a test hook)\n"
		"  snapshot NAME DIR\n"
		"                 pause guest NAME, save its memory, vCPUs, devices and\n"
		"                 definition to the new directory DIR, let it go on\n"
		"                 (ksmvmm run --restore DIR starts guests from it)\n"
		"  clone NAME --count N\n"
		"                 fork running guest NAME into N new guests NAME-1.. that go\n"
		"                 on from its state and share all its memory (the engine must\n"
		"                 run); each gets a new identity\n"
		"  ping           check that ksmvmm answers\n"
		"  stats          merge figures per guest and for the engine (docs/stats.md)\n"
		"  probe          workload guests time their first write to up to 256 merged\n"
		"                 pages per vCPU (then those pages are their own again)\n"
		"  watch NAME [MS [THRESHOLD_US]]\n"
		"                 workload guest NAME reads its memory for MS milliseconds\n"
		"                 (default 1000) and times every stall it notices longer\n"
		"                 than THRESHOLD_US (default 20): paused by merging, faulting\n"
		"                 on a remapped page, or preempted by the host\n"
		"  devices NAME   guest NAME's devices, one a line: KIND BUS BASE SIZE IRQ\n"
		"                 STATE DETAIL, then its counters as key=value\n"
		"  balloon NAME SIZE\n"
		"                 set guest NAME's balloon to SIZE (like --mem: 256M, 1G, 0):\n"
		"                 its driver gives that much RAM back to the host\n"
		"  set KEY VALUE  set an engine tunable: interval_ms, batch_pages,\n"
		"                 max_stall_us, scan_rate\n"
		"  report         per guest: cost, private and shared pages, share of the pool,\n"
		"                 zero pages, saving, copy-on-write rate; groups, the sharing\n"
		"                 matrix, and the host's accounting (docs/reports.md)\n"
		"                 [--json] [--svg FILE] [--png FILE] (a 1200x900 picture)\n"
		"  history [NAME] the last hour of samples, one a second [--csv | --json]\n"
		"  top            live view of the fleet and the engine; q or Ctrl-C quits\n"
		"                 [--interval SECONDS] [--iterations N]\n"
		"  metrics        the report in Prometheus text format\n"
		"\n"
		"options:\n"
		"  -c, --control SOCKET  the control socket (default: $KSMVMM_CONTROL)\n"
		"  -j, --json            print the JSON reply as it came\n"
		"      --csv             history: comma-separated values\n"
		"      --svg FILE        report: write the picture as SVG\n"
		"      --png FILE        report: write the picture as PNG\n"
		"      --interval S      top: seconds between refreshes (default 1)\n"
		"      --iterations N    top: stop after N refreshes (default: until q)\n"
		"      --timeout S       verify: give up on guests not done after S seconds\n"
		"  -h, --help            show this help\n"
		"\n"
		"exit status: 0 success, 1 the command failed (an error reply, or bad pages),\n"
		"2 usage error or no answer from ksmvmm.\n");
}

static int ksmctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "ksmctl: <message>" and a hint; returns KSMCTL_USAGE. */
static int ksmctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ksmctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ksmctl --help'.\n");
	return KSMCTL_USAGE;
}

/* "set KEY VALUE". */
static int ksmctl_parse_set(int argc, char **argv, struct ksmctl_args *a)
{
	char *end;

	if (argc != 3)
		return ksmctl_usage_error("'set' wants KEY VALUE, e.g. set batch_pages 64");
	if (!argv[1][0] || strlen(argv[1]) >= sizeof(a->req.key))
		return ksmctl_usage_error("bad tunable name '%s'", argv[1]);
	errno = 0;
	a->req.value = strtoull(argv[2], &end, 10);
	if (errno || *end || !argv[2][0] || argv[2][0] == '-')
		return ksmctl_usage_error("'%s' is not a number", argv[2]);
	strcpy(a->req.key, argv[1]);
	return KSMCTL_OK;
}

/* "hostile NAME DEVICE ATTACK": DEVICE a number, ATTACK a name the VMM checks. */
static int ksmctl_parse_hostile(int argc, char **argv, struct ksmctl_args *a)
{
	char *end;

	if (argc != 4)
		return ksmctl_usage_error(
		    "'hostile' wants NAME DEVICE ATTACK, e.g. hostile g0 1 loop");
	if (!argv[1][0] || strlen(argv[1]) >= sizeof(a->req.name))
		return ksmctl_usage_error("bad guest name '%s'", argv[1]);
	errno = 0;
	a->req.value = strtoull(argv[2], &end, 10);
	if (errno || *end || !argv[2][0] || argv[2][0] == '-')
		return ksmctl_usage_error("device '%s' is not a number", argv[2]);
	if (!argv[3][0] || strlen(argv[3]) >= sizeof(a->req.key))
		return ksmctl_usage_error("bad attack name '%s'", argv[3]);
	strcpy(a->req.name, argv[1]);
	strcpy(a->req.key, argv[3]);
	return KSMCTL_OK;
}

/* "snapshot NAME DIR": DIR made absolute here, since the VMM's working directory is not
 * ours; it must not exist yet (the VMM checks). */
static int ksmctl_parse_snapshot(int argc, char **argv, struct ksmctl_args *a)
{
	char cwd[PROTO_PATH_MAX];
	int n;

	if (argc != 3)
		return ksmctl_usage_error("'snapshot' wants NAME DIR, e.g. snapshot g0 /srv/snap");
	if (!argv[1][0] || strlen(argv[1]) >= sizeof(a->req.name))
		return ksmctl_usage_error("bad guest name '%s'", argv[1]);
	if (!argv[2][0])
		return ksmctl_usage_error("empty snapshot directory");
	if (argv[2][0] == '/')
		n = snprintf(a->req.path, sizeof(a->req.path), "%s", argv[2]);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(a->req.path, sizeof(a->req.path), "%s/%s", cwd, argv[2]);
	else
		return ksmctl_usage_error("cannot tell the current directory: %s", strerror(errno));
	if (n < 0 || (size_t) n >= sizeof(a->req.path))
		return ksmctl_usage_error("snapshot directory name too long");
	strcpy(a->req.name, argv[1]);
	return KSMCTL_OK;
}

/* "clone NAME --count N" (or "clone NAME N"); getopt took --count already. */
static int ksmctl_parse_clone(int argc, char **argv, struct ksmctl_args *a)
{
	const char *n = argc == 2 ? a->count : argc == 3 && !a->count ? argv[2] : NULL;
	char *end;
	unsigned long v;

	if (!n)
		return ksmctl_usage_error("'clone' wants NAME --count N, e.g. clone g0 --count 4");
	if (!argv[1][0] || strlen(argv[1]) >= sizeof(a->req.name))
		return ksmctl_usage_error("bad guest name '%s'", argv[1]);
	errno = 0;
	v = strtoul(n, &end, 10);
	if (errno || *end || !n[0] || n[0] == '-' || v < 1 || v > PROTO_CLONE_MAX)
		return ksmctl_usage_error("clone count '%s': want 1 to %d", n, PROTO_CLONE_MAX);
	a->req.count = (uint32_t) v;
	strcpy(a->req.name, argv[1]);
	return KSMCTL_OK;
}

/* A whole number in [1, @max] for @what, or a usage error. */
static int ksmctl_parse_count(const char *s, const char *what, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !s[0] || s[0] == '-' || v < 1 || v > max)
		return ksmctl_usage_error("%s '%s': want a number from 1 to %u", what, s, max);
	*out = (uint32_t) v;
	return KSMCTL_OK;
}

/* "watch NAME [MS [THRESHOLD_US]]". */
static int ksmctl_parse_watch(int argc, char **argv, struct ksmctl_args *a)
{
	int ret = KSMCTL_OK;

	if (argc < 2 || argc > 4)
		return ksmctl_usage_error("'watch' wants NAME [MS [THRESHOLD_US]]");
	if (!argv[1][0] || strlen(argv[1]) >= sizeof(a->req.name))
		return ksmctl_usage_error("bad guest name '%s'", argv[1]);
	strcpy(a->req.name, argv[1]);
	a->req.ms = 1000;
	if (argc > 2)
		ret = ksmctl_parse_count(argv[2], "MS", PROTO_WATCH_MAX_MS, &a->req.ms);
	if (!ret && argc > 3)
		ret = ksmctl_parse_count(argv[3], "THRESHOLD_US", PROTO_WATCH_MAX_THRESHOLD_US,
					 &a->req.threshold_us);
	return ret;
}

/* "balloon NAME SIZE": SIZE as for --mem, at most PROTO_BALLOON_MAX_BYTES. */
static int ksmctl_parse_balloon(int argc, char **argv, struct ksmctl_args *a)
{
	if (argc != 3)
		return ksmctl_usage_error("'balloon' wants NAME SIZE, e.g. balloon g0 256M");
	if (!argv[1][0] || strlen(argv[1]) >= sizeof(a->req.name))
		return ksmctl_usage_error("bad guest name '%s'", argv[1]);
	if (mem_parse_size(argv[2], &a->req.bytes))
		return ksmctl_usage_error(
		    "balloon size '%s': want bytes or a size like 256M, 1G, 0", argv[2]);
	if (a->req.bytes > PROTO_BALLOON_MAX_BYTES)
		return ksmctl_usage_error("balloon size '%s': more than 1 TiB", argv[2]);
	strcpy(a->req.name, argv[1]);
	return KSMCTL_OK;
}

/* "top" and "metrics": commands ksmctl builds from a report. */
static int ksmctl_parse_local(int argc, char **argv, struct ksmctl_args *a)
{
	a->local = strcmp(argv[0], "top") ? KSMCTL_METRICS : KSMCTL_TOP;
	a->req.cmd = PROTO_CMD_REPORT;
	if (argc > 1)
		return ksmctl_usage_error("too many arguments for '%s'", argv[0]);
	return KSMCTL_OK;
}

/* Options that only some commands take. */
static int ksmctl_check_view(const struct ksmctl_args *a)
{
	bool report = a->req.cmd == PROTO_CMD_REPORT && a->local == KSMCTL_REMOTE;

	if (a->view.csv && a->req.cmd != PROTO_CMD_HISTORY)
		return ksmctl_usage_error("--csv applies to 'history' only");
	if (a->view.csv && a->json)
		return ksmctl_usage_error("give --csv or --json, not both");
	if ((a->view.svg || a->view.png) && !report)
		return ksmctl_usage_error("--svg and --png apply to 'report' only");
	if ((a->view.interval > 0 || a->view.iterations) && a->local != KSMCTL_TOP)
		return ksmctl_usage_error("--interval and --iterations apply to 'top' only");
	if (a->json && a->local != KSMCTL_REMOTE)
		return ksmctl_usage_error("--json does not apply to '%s'",
					  a->local == KSMCTL_TOP ? "top" : "metrics");
	return KSMCTL_OK;
}

/* The command and its argument, after the options. */
static int ksmctl_parse_command(int argc, char **argv, struct ksmctl_args *a)
{
	const char *cmd;
	int max;

	if (argc < 1)
		return ksmctl_usage_error("no command given");
	cmd = argv[0];
	if (!strcmp(cmd, "top") || !strcmp(cmd, "metrics"))
		return ksmctl_parse_local(argc, argv, a);
	if (proto_cmd_lookup(cmd, &a->req.cmd))
		return ksmctl_usage_error("unknown command '%s'", cmd);
	if (a->req.cmd == PROTO_CMD_HOSTILE)
		return ksmctl_parse_hostile(argc, argv, a);
	if (a->req.cmd == PROTO_CMD_SNAPSHOT)
		return ksmctl_parse_snapshot(argc, argv, a);
	if (a->req.cmd == PROTO_CMD_CLONE)
		return ksmctl_parse_clone(argc, argv, a);
	if (a->count)
		return ksmctl_usage_error("--count is for 'clone'");
	if (a->timeout && !proto_cmd_takes_timeout(a->req.cmd))
		return ksmctl_usage_error("--timeout is for 'verify'");
	if (a->timeout &&
	    ksmctl_parse_count(a->timeout, "--timeout", PROTO_VERIFY_MAX_S, &a->req.timeout_s))
		return KSMCTL_USAGE;
	if (proto_cmd_takes_key_value(a->req.cmd))
		return ksmctl_parse_set(argc, argv, a);
	if (a->req.cmd == PROTO_CMD_WATCH)
		return ksmctl_parse_watch(argc, argv, a);
	if (a->req.cmd == PROTO_CMD_BALLOON)
		return ksmctl_parse_balloon(argc, argv, a);
	max = proto_cmd_takes_name(a->req.cmd) ? 2 : 1;
	if (argc > max)
		return ksmctl_usage_error("too many arguments for '%s'", cmd);
	if (argc < 2 && proto_cmd_needs_name(a->req.cmd))
		return ksmctl_usage_error("'%s' needs a guest name", cmd);
	if (argc == 2 && (!argv[1][0] || strlen(argv[1]) >= sizeof(a->req.name)))
		return ksmctl_usage_error("bad guest name '%s'", argv[1]);
	if (argc == 2)
		strcpy(a->req.name, argv[1]);
	return KSMCTL_OK;
}

/* --interval: 0.1 .. 3600 seconds. */
static int ksmctl_parse_interval(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || *end || !s[0] || !(*out >= 0.1 && *out <= 3600))
		return ksmctl_usage_error("--interval '%s': want 0.1 to 3600 seconds", s);
	return KSMCTL_OK;
}

/* --iterations: 1 .. 10^9. */
static int ksmctl_parse_iterations(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || *end || !s[0] || *out < 1 || *out > 1000000000)
		return ksmctl_usage_error("--iterations '%s': want a count from 1", s);
	return KSMCTL_OK;
}

/* Parse the command line. Returns KSMCTL_OK, or an exit status (-1: help shown). */
static int ksmctl_parse_args(int argc, char **argv, struct ksmctl_args *a)
{
	static const struct option opts[] = {
	    {"control", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"csv", no_argument, NULL, 'C'},
	    {"svg", required_argument, NULL, 'S'},
	    {"png", required_argument, NULL, 'P'},
	    {"interval", required_argument, NULL, 'i'},
	    {"iterations", required_argument, NULL, 'n'},
	    {"count", required_argument, NULL, 'N'},
	    {"timeout", required_argument, NULL, 'T'},
	    {NULL, 0, NULL, 0},
	};
	int c, ret = KSMCTL_OK;

	a->control = getenv("KSMVMM_CONTROL");
	while (ret == KSMCTL_OK && (c = getopt_long(argc, argv, "c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->control = optarg; break;
		case 'j': a->json = true; break;
		case 'h': ksmctl_usage(stdout); return -1;
		case 'C': a->view.csv = true; break;
		case 'S': a->view.svg = optarg; break;
		case 'P': a->view.png = optarg; break;
		case 'i': ret = ksmctl_parse_interval(optarg, &a->view.interval); break;
		case 'n': ret = ksmctl_parse_iterations(optarg, &a->view.iterations); break;
		case 'N': a->count = optarg; break;
		case 'T': a->timeout = optarg; break;
		default: fprintf(stderr, "Try 'ksmctl --help'.\n"); return KSMCTL_USAGE;
		}
	}
	if (ret)
		return ret;
	if (!a->control || !a->control[0])
		return ksmctl_usage_error(
		    "no control socket: use --control SOCKET or set KSMVMM_CONTROL");
	ret = ksmctl_parse_command(argc - optind, argv + optind, a);
	return ret ? ret : ksmctl_check_view(a);
}

/* The report views: report, history, top, metrics. Returns the exit status. */
static int ksmctl_run_view(struct ksmctl_args *a)
{
	a->view.control = a->control;
	a->view.name = a->req.name;
	a->view.json = a->json;
	if (a->view.interval <= 0)
		a->view.interval = 1;
	switch (a->local) {
	case KSMCTL_TOP: return view_top(&a->view);
	case KSMCTL_METRICS: return view_metrics(&a->view);
	default: break;
	}
	return a->req.cmd == PROTO_CMD_REPORT ? view_report(&a->view) : view_history(&a->view);
}

/* Send the request, wait for the reply, show it. Returns the exit status. */
static int ksmctl_run(struct ksmctl_args *a)
{
	int timeout = a->req.cmd == PROTO_CMD_VERIFY || a->req.cmd == PROTO_CMD_PROBE ||
			      a->req.cmd == PROTO_CMD_SNAPSHOT || a->req.cmd == PROTO_CMD_CLONE
			  ? KSMCTL_VERIFY_TIMEOUT_MS
			  : KSMCTL_TIMEOUT_MS;

	if (a->req.cmd == PROTO_CMD_WATCH)
		timeout = (int) a->req.ms + KSMCTL_VERIFY_TIMEOUT_MS;
	if (a->req.timeout_s) /* the VMM answers by then; allow for a slow reply */
		timeout = (int) a->req.timeout_s * 1000 + KSMCTL_TIMEOUT_MS;
	char *request = proto_build_request(&a->req), *reply;
	char err[PROTO_TEXT_MAX];
	int fd, ret;

	if (a->req.cmd == PROTO_CMD_REPORT || a->req.cmd == PROTO_CMD_HISTORY) {
		g_free(request);
		return ksmctl_run_view(a);
	}
	if (!request)
		return ksmctl_usage_error("cannot build the request");
	fd = client_connect(a->control);
	if (fd < 0) {
		fprintf(stderr, "ksmctl: cannot connect to %s: %s\n", a->control, g_strerror(-fd));
		g_free(request);
		return KSMCTL_USAGE;
	}
	reply = client_call(fd, request, timeout, err, sizeof(err));
	close(fd);
	g_free(request);
	if (!reply) {
		fprintf(stderr, "ksmctl: %s: %s\n", a->control, err);
		return KSMCTL_USAGE;
	}
	ret = ksmctl_answer(&a->req, a->json, reply);
	g_free(reply);
	return ret;
}

int main(int argc, char **argv)
{
	struct ksmctl_args a = {0};
	int ret = ksmctl_parse_args(argc, argv, &a), e;

	if (ret)
		return ret < 0 ? KSMCTL_OK : ret;
	ret = ksmctl_run(&a);
	e = fflush(stdout) ? errno : 0;
	if (e && ret == KSMCTL_OK) {
		fprintf(stderr, "ksmctl: cannot write the output: %s\n", g_strerror(e));
		ret = KSMCTL_FAILED;
	}
	return ret;
}
