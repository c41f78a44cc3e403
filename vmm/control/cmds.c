/* cmds.c - the control commands: list, stop, verify, fault, ping, stats, report, devices,
 * balloon, hostile, snapshot, clone.
 *
 * Every handler runs on the main-loop thread and returns its reply at once, except
 * verify and report: a guest checks all its pages, which takes a while, so a verify
 * request is a job run by worker threads (several guests in parallel); a report takes
 * the engine lock, so it is a job run by one worker thread. The last worker of a job
 * wakes the main loop through an eventfd, where the reply is delivered and the
 * threads are joined.
 */
#define pr_fmt(fmt) "control: " fmt

#include "vmm/control/cmds.h"
#include "vmm/control/devices.h"
#include "vmm/control/report.h"
#include "vmm/control/stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "lib/errbuf.h"
#include "lib/log.h"
#include "vmm/control/history.h"
#include "vmm/control/protocol.h"
#include "vmm/devices/wl_dev.h"
#include "vmm/fleet.h"

#define CONTROL_MAX_JOBS 8    /* verify and report requests running at once */
#define CONTROL_JOB_THREADS 8 /* guests one verify request checks in parallel */

/* One verify request: guests idx[0..n) checked by worker threads; or, with @compute,
 * one call of @compute on a worker thread whose result is the reply. */
struct control_job {
	struct control_cmds *cmds;
	control_cmds_done_fn done; /* gets the reply */
	void *opaque;
	/* NULL for verify */
	char *(*compute)(struct control_cmds *c, const struct proto_request *req);
	struct proto_request req; /* what @compute was asked */
	char *reply;		  /* what @compute returned */
	size_t n;
	size_t *idx;		  /* fleet indices */
	struct proto_result *res; /* names set before the workers start */
	gint64 deadline;	  /* verify: monotonic µs of "timeout_s", 0 = none */
	gint next;		  /* next entry to verify (atomic) */
	gint running;		  /* workers not yet done, +1 while starting (atomic) */
	unsigned nthreads;
	GThread *threads[CONTROL_JOB_THREADS];
};

struct control_cmds {
	struct fleet *fleet;
	GList *jobs;		 /* verify and report jobs not yet delivered (main thread only) */
	struct history *history; /* samples of the engine's figures, or NULL */
	int wake_fd;		 /* eventfd written by the last worker of a job */
	guint wake_watch;
};

/* ---- Errors ---- */

/* Why a fleet call on guest @name failed (a -errno from fleet.h), as text in @buf. */
static void control_strerror(const char *name, int err, char *buf, size_t len)
{
	switch (err) {
	case -ENOENT: snprintf(buf, len, "no guest named \"%s\"", name); break;
	case -ENOTSUP: snprintf(buf, len, "guest %s is not a workload guest", name); break;
	case -ESRCH: snprintf(buf, len, "guest %s is not running", name); break;
	case -EALREADY: snprintf(buf, len, "guest %s has already ended", name); break;
	case -EBUSY:
		snprintf(buf, len, "guest %s is busy with another verify, probe or watch", name);
		break;
	case -ETIMEDOUT: snprintf(buf, len, "guest %s did not answer in time", name); break;
	case -ENODATA: snprintf(buf, len, "guest %s: TSC frequency unknown", name); break;
	default: snprintf(buf, len, "guest %s: %s", name, g_strerror(-err)); break;
	}
}

/* The same, as an error reply. */
static char *control_error(const char *name, int err)
{
	char msg[PROTO_TEXT_MAX];

	control_strerror(name, err, msg, sizeof(msg));
	return proto_reply_error("%s", msg);
}

/* The index of guest @name in *idx, or an error reply. */
static char *control_find(struct fleet *f, const char *name, size_t *idx)
{
	int i = fleet_find(f, name);

	if (i < 0)
		return control_error(name, i);
	*idx = (size_t) i;
	return NULL;
}

/* ---- Immediate commands ---- */

static char *control_ping(struct control_cmds *c, const struct proto_request *req)
{
	(void) c;
	(void) req;
	return proto_reply_ok();
}

static void control_guest_from_info(struct proto_guest *g, const struct fleet_guest_info *info)
{
	g_strlcpy(g->name, info->name, sizeof(g->name));
	g_strlcpy(g->state, guest_state_name(info->state), sizeof(g->state));
	g->mem_bytes = info->mem_bytes;
	g->cpus = info->cpus;
	g->workload = info->workload;
	g->ready = info->ready;
	g_strlcpy(g->reason, info->reason, sizeof(g->reason));
}

static char *control_list(struct control_cmds *c, const struct proto_request *req)
{
	size_t count = fleet_count(c->fleet), n = 0;
	struct proto_guest *g = g_new0(struct proto_guest, count ? count : 1);
	struct fleet_guest_info info;
	char *line;

	(void) req;
	for (size_t i = 0; i < count; i++) {
		if (fleet_info(c->fleet, i, &info) == 0)
			control_guest_from_info(&g[n++], &info);
	}
	line = proto_reply_guests(g, n);
	g_free(g);
	return line;
}

/* Ask every live guest to stop; the reply names those that were asked. */
static char *control_stop_all(struct fleet *f)
{
	size_t count = fleet_count(f), n = 0;
	struct fleet_guest_info *info = g_new0(struct fleet_guest_info, count ? count : 1);
	const char **names = g_new0(const char *, count ? count : 1);
	char *line;

	for (size_t i = 0; i < count; i++) {
		if (fleet_info(f, i, &info[n]) == 0 && fleet_stop_guest(f, i) == 0) {
			names[n] = info[n].name;
			n++;
		}
	}
	line = proto_reply_stopped(names, n);
	g_free(names);
	g_free(info);
	return line;
}

static char *control_stop(struct control_cmds *c, const struct proto_request *req)
{
	const char *name = req->name;
	size_t i = 0;
	char *line;
	int ret;

	if (!name[0])
		return control_stop_all(c->fleet);
	line = control_find(c->fleet, name, &i);
	if (line)
		return line;
	ret = fleet_stop_guest(c->fleet, i);
	return ret ? control_error(name, ret) : proto_reply_stopped(&name, 1);
}

static char *control_fault(struct control_cmds *c, const struct proto_request *req)
{
	size_t i = 0;
	char *line = control_find(c->fleet, req->name, &i);
	int ret;

	if (line)
		return line;
	ret = fleet_fault_guest(c->fleet, i);
	return ret ? control_error(req->name, ret) : proto_reply_ok();
}

/* "hostile": key names the attack, value the device (tests/kvm/virtio-hostile.sh). */
static char *control_hostile(struct control_cmds *c, const struct proto_request *req)
{
	size_t i = 0;
	char *line = control_find(c->fleet, req->name, &i);
	int kind = wl_dev_hostile_lookup(req->key);
	int ret;

	if (line)
		return line;
	if (kind < 0)
		return proto_reply_error("unknown attack \"%s\" (outside, loop, direction, "
					 "oversize, avail or reset)",
					 req->key);
	if (req->value >= WL_MAX_VIRTIO)
		return proto_reply_error("device %llu out of range (0..%u)",
					 (unsigned long long) req->value, WL_MAX_VIRTIO - 1);
	ret = fleet_hostile_guest(c->fleet, i, (uint32_t) req->value, (uint32_t) kind);
	return ret ? control_error(req->name, ret) : proto_reply_ok();
}

/* ---- Verify jobs ---- */

/* Verify entry @k of @job (worker thread): within what is left of the request's
 * deadline, or PROTO_VERIFY_GUEST_S from now without one. */
static void control_verify_one(struct control_job *job, size_t k)
{
	struct proto_result *r = &job->res[k];
	gint64 left_ms = PROTO_VERIFY_GUEST_S * 1000;
	int ret = -ETIMEDOUT;

	if (job->deadline)
		left_ms = (job->deadline - g_get_monotonic_time()) / 1000;
	if (left_ms > 0)
		ret = fleet_verify_guest(job->cmds->fleet, job->idx[k], (int) left_ms, &r->ok,
					 &r->bad);

	if (ret) {
		r->ok = r->bad = 0;
		control_strerror(r->name, ret, r->error, sizeof(r->error));
	}
}

/* The last worker of @job is done: wake the main loop to deliver the reply. */
static void control_job_done(struct control_job *job)
{
	uint64_t one = 1;
	int e;

	/* An eventfd write fails only if its counter would overflow: never here. */
	if (write(job->cmds->wake_fd, &one, sizeof(one)) < 0) {
		e = errno;
		pr_warn("cannot wake the main loop: %s", g_strerror(e));
	}
}

static gpointer control_job_thread(gpointer data)
{
	struct control_job *job = data;
	gint k;

	if (job->compute)
		job->reply = job->compute(job->cmds, &job->req);
	while (!job->compute && (k = g_atomic_int_add(&job->next, 1)) < (gint) job->n)
		control_verify_one(job, (size_t) k);
	if (g_atomic_int_dec_and_test(&job->running))
		control_job_done(job);
	return NULL;
}

/* Wait for the workers of @job (they have finished, or will: verifies time out). */
static void control_job_join(struct control_job *job)
{
	for (unsigned t = 0; t < job->nthreads; t++)
		g_thread_join(job->threads[t]);
	job->nthreads = 0;
}

static void control_job_free(struct control_job *job)
{
	control_job_join(job);
	g_free(job->reply);
	g_free(job->idx);
	g_free(job->res);
	g_free(job);
}

/* Start the workers of @job. @running holds a token of ours while threads start, so
 * the job cannot complete half-started. Returns 0, or -EAGAIN if no thread started
 * (the job is then idle and may be freed). */
static int control_job_start(struct control_job *job)
{
	unsigned want = MIN(job->n, CONTROL_JOB_THREADS);
	GError *gerr = NULL;

	g_atomic_int_set(&job->running, 1);
	for (unsigned t = 0; t < want; t++) {
		g_atomic_int_inc(&job->running);
		job->threads[t] = g_thread_try_new(job->compute ? "report" : "verify",
						   control_job_thread, job, &gerr);
		if (!job->threads[t]) {
			pr_warn("cannot start a worker thread: %s", gerr->message);
			g_clear_error(&gerr);
			g_atomic_int_add(&job->running, -1);
			break;
		}
		job->nthreads++;
	}
	if (!job->nthreads)
		return -EAGAIN;
	if (g_atomic_int_dec_and_test(&job->running))
		control_job_done(job);
	return 0;
}

/* Whether "verify" without a name covers guest @info: workload guests, except those
 * stopped on request (a dead guest is included, and reported as an error). */
static bool control_verify_selects(const struct fleet_guest_info *info)
{
	return info->workload && info->state != GUEST_STOPPING && info->state != GUEST_STOPPED;
}

/* Fill @job with the guests to verify: @name, or all selected. NULL or an error reply. */
static char *control_job_select(struct fleet *f, struct control_job *job, const char *name)
{
	size_t count = fleet_count(f);
	struct fleet_guest_info info;

	job->idx = g_new0(size_t, count ? count : 1);
	job->res = g_new0(struct proto_result, count ? count : 1);
	if (name[0]) {
		char *line = control_find(f, name, &job->idx[0]);

		if (!line)
			g_strlcpy(job->res[job->n++].name, name, sizeof(job->res->name));
		return line;
	}
	for (size_t i = 0; i < count; i++) {
		if (fleet_info(f, i, &info) || !control_verify_selects(&info))
			continue;
		job->idx[job->n] = i;
		g_strlcpy(job->res[job->n++].name, info.name, sizeof(job->res->name));
	}
	return job->n ? NULL : proto_reply_error("no workload guest to verify");
}

/* Start a verify job; NULL means the reply comes through @done. */
static char *control_verify(struct control_cmds *c, const struct proto_request *req,
			    control_cmds_done_fn done, void *opaque)
{
	struct control_job *job;
	char *line;

	if (g_list_length(c->jobs) >= CONTROL_MAX_JOBS)
		return proto_reply_error("too many verify or report requests in progress");
	job = g_new(struct control_job, 1);
	*job = (struct control_job){.cmds = c, .done = done, .opaque = opaque};
	if (req->timeout_s)
		job->deadline = g_get_monotonic_time() + (gint64) req->timeout_s * G_USEC_PER_SEC;
	line = control_job_select(c->fleet, job, req->name);
	if (!line && control_job_start(job))
		line = proto_reply_error("cannot start a verify thread");
	if (line) {
		control_job_free(job);
		return line;
	}
	c->jobs = g_list_prepend(c->jobs, job);
	return NULL;
}

/* Take @job off the list, wait for its workers, hand its reply over, free it. */
static void control_job_deliver(struct control_cmds *c, struct control_job *job)
{
	char *reply;

	c->jobs = g_list_remove(c->jobs, job);
	control_job_join(job);
	reply = job->compute ? job->reply : proto_reply_results(job->res, job->n);
	job->reply = NULL;
	job->done(job->opaque, reply ? reply : proto_reply_error("the report failed"));
	control_job_free(job);
}

/* Main loop: deliver the replies of the jobs whose workers are all done. */
static gboolean control_on_wake(gint fd, GIOCondition cond, gpointer data)
{
	struct control_cmds *c = data;
	uint64_t count;
	GList *l, *next;
	int e;

	(void) cond;
	if (read(fd, &count, sizeof(count)) < 0) {
		e = errno;
		if (e != EAGAIN)
			pr_warn("cannot read the wake eventfd: %s", g_strerror(e));
	}
	for (l = c->jobs; l; l = next) {
		struct control_job *job = l->data;

		next = l->next;
		if (!g_atomic_int_get(&job->running))
			control_job_deliver(c, job);
	}
	return G_SOURCE_CONTINUE;
}

static char *control_stats(struct control_cmds *c, const struct proto_request *req)
{
	(void) req;
	return control_stats_reply(c->fleet);
}

static char *control_set(struct control_cmds *c, const struct proto_request *req)
{
	return control_stats_set_reply(c->fleet, req->key, req->value);
}

static char *control_devices(struct control_cmds *c, const struct proto_request *req)
{
	return control_devices_reply(c->fleet, req->name);
}

static char *control_balloon(struct control_cmds *c, const struct proto_request *req)
{
	return control_devices_balloon_reply(c->fleet, req->name, req->bytes);
}

static char *control_history(struct control_cmds *c, const struct proto_request *req)
{
	return control_report_history_reply(c->fleet, c->history, req->name);
}

/* Worker thread: the report (ksm_matrix waits for the engine lock). */
static char *control_report_compute(struct control_cmds *c, const struct proto_request *req)
{
	(void) req;
	return control_report_reply(c->fleet, c->history);
}

/* Worker thread: every workload guest times its first writes to merged pages. */
static char *control_probe_compute(struct control_cmds *c, const struct proto_request *req)
{
	(void) req;
	return control_stats_probe_reply(c->fleet);
}

/* Worker thread: one workload guest watches for stalls for req->ms. */
static char *control_watch_compute(struct control_cmds *c, const struct proto_request *req)
{
	size_t idx = 0; /* set when control_find returns NULL; gcc cannot see that */
	char *reply = control_find(c->fleet, req->name, &idx);
	int err = 0;

	if (!reply)
		reply = control_stats_watch_reply(c->fleet, idx, req->name, req->ms,
						  req->threshold_us, &err);
	return reply ? reply : control_error(req->name, err);
}

/* Worker thread: save one guest to a new directory (seconds for a large guest). */
static char *control_snapshot_compute(struct control_cmds *c, const struct proto_request *req)
{
	size_t idx = 0;
	char *reply = control_find(c->fleet, req->name, &idx), err[PROTO_TEXT_MAX];

	if (reply)
		return reply;
	if (fleet_snapshot_guest(c->fleet, idx, req->path, err, sizeof(err)))
		return proto_reply_error("%s", err);
	return proto_reply_ok();
}

/* Worker thread: fork one guest into req->count clones. */
static char *control_clone_compute(struct control_cmds *c, const struct proto_request *req)
{
	size_t idx = 0;
	char *reply = control_find(c->fleet, req->name, &idx), err[PROTO_TEXT_MAX];
	char names[PROTO_CLONE_MAX * PROTO_NAME_MAX];
	const char *list[PROTO_CLONE_MAX];
	size_t n = 0;

	if (reply)
		return reply;
	if (fleet_clone_guest(c->fleet, idx, req->count, names, sizeof(names), err, sizeof(err)))
		return proto_reply_error("%s", err);
	for (char *save, *t = strtok_r(names, " ", &save); t && n < PROTO_CLONE_MAX;
	     t = strtok_r(NULL, " ", &save))
		list[n++] = t;
	return proto_reply_clones(list, n);
}

/* Start a job running @compute on a worker thread; NULL means the reply comes through
 * @done. */
static char *control_compute(struct control_cmds *c,
			     char *(*compute)(struct control_cmds *, const struct proto_request *),
			     const struct proto_request *req, control_cmds_done_fn done,
			     void *opaque)
{
	struct control_job *job;

	if (g_list_length(c->jobs) >= CONTROL_MAX_JOBS)
		return proto_reply_error("too many verify or report requests in progress");
	job = g_new(struct control_job, 1);
	*job = (struct control_job){
	    .cmds = c, .done = done, .opaque = opaque, .n = 1, .compute = compute, .req = *req};
	if (control_job_start(job)) {
		control_job_free(job);
		return proto_reply_error("cannot start a report thread");
	}
	c->jobs = g_list_prepend(c->jobs, job);
	return NULL;
}

/* ---- Dispatch ---- */

/* A handler for an immediate command: returns its reply line. */
typedef char *(*control_cmd_fn)(struct control_cmds *c, const struct proto_request *req);

/* Indexed by enum proto_cmd; NULL = served elsewhere (verify, report) or not by this
 * VMM. */
static const control_cmd_fn control_cmd_table[PROTO_CMD_COUNT] = {
    [PROTO_CMD_PING] = control_ping,	   [PROTO_CMD_LIST] = control_list,
    [PROTO_CMD_STOP] = control_stop,	   [PROTO_CMD_FAULT] = control_fault,
    [PROTO_CMD_STATS] = control_stats,	   [PROTO_CMD_SET] = control_set,
    [PROTO_CMD_HISTORY] = control_history, [PROTO_CMD_DEVICES] = control_devices,
    [PROTO_CMD_BALLOON] = control_balloon, [PROTO_CMD_HOSTILE] = control_hostile,
};

char *control_cmds_handle(struct control_cmds *c, const char *line, size_t len,
			  control_cmds_done_fn done, void *opaque)
{
	struct proto_request req;
	char err[PROTO_TEXT_MAX];

	if (proto_parse_request(line, len, &req, err, sizeof(err)))
		return proto_reply_error("%s", err);
	if (req.cmd == PROTO_CMD_VERIFY)
		return control_verify(c, &req, done, opaque);
	if (req.cmd == PROTO_CMD_REPORT)
		return control_compute(c, control_report_compute, &req, done, opaque);
	if (req.cmd == PROTO_CMD_PROBE)
		return control_compute(c, control_probe_compute, &req, done, opaque);
	if (req.cmd == PROTO_CMD_WATCH)
		return control_compute(c, control_watch_compute, &req, done, opaque);
	if (req.cmd == PROTO_CMD_SNAPSHOT)
		return control_compute(c, control_snapshot_compute, &req, done, opaque);
	if (req.cmd == PROTO_CMD_CLONE)
		return control_compute(c, control_clone_compute, &req, done, opaque);
	if (!control_cmd_table[req.cmd])
		return proto_reply_error("\"%s\" is not supported", proto_cmd_name(req.cmd));
	return control_cmd_table[req.cmd](c, &req);
}

struct control_cmds *control_cmds_create(struct fleet *f, char *err, size_t errlen)
{
	struct control_cmds *c = g_new0(struct control_cmds, 1);
	int e;

	c->fleet = f;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		e = errno;
		errbuf_set(err, errlen, -e, "cannot create an eventfd: %s", g_strerror(e));
		g_free(c);
		return NULL;
	}
	c->wake_watch = g_unix_fd_add(c->wake_fd, G_IO_IN, control_on_wake, c);
	c->history = history_create(fleet_count(f), HISTORY_CAP);
	if (c->history)
		history_start(c->history, f);
	else
		pr_warn("no memory for the history: reports will have no rates");
	return c;
}

void control_cmds_destroy(struct control_cmds *c)
{
	if (!c)
		return;
	while (c->jobs)
		control_job_deliver(c, c->jobs->data);
	g_source_remove(c->wake_watch);
	close(c->wake_fd);
	history_destroy(c->history);
	g_free(c);
}
