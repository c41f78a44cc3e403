/* wl_dev.c - the workload guest's command device: its command, wait and TSC ports.
 *
 * The guest reports through WL_PORT_CMD and sleeps in WL_PORT_WAIT, where this device
 * blocks the vCPU thread until a request (verify, probe, watch, fault, restored) arrives
 * or the guest's own timeout passes. Requests come from other threads (the control
 * socket, the restore path). Each vCPU has a set of waiting requests, taken one per
 * wait, RESTORED first: a verify posted right after a restore runs under the new
 * identity.
 *
 * Saved state (wl_dev_save): only the timeouts the vCPUs armed for their next wait. A
 * request waiting at snapshot time belongs to a caller of the parent (its verify, probe,
 * watch) and is not carried into the restored instance: it starts with none, and a report
 * the guest still sends for a round it was serving is ignored as unsolicited. The READY
 * flag is the guest object's (wl_dev_host.mark_ready), not the device's.
 */
#define pr_fmt(fmt) "workload: " fmt
#include "vmm/devices/wl_dev.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/guest_abi.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/sbuf.h"
#include "vmm/vcpu.h"

struct wl_dev {
	struct wl_dev_host host;
	struct wl_params *params;	  /* host view of the guest's parameter block */
	pthread_mutex_t lock;		  /* protects everything below */
	pthread_cond_t cond;		  /* signalled on every change below */
	uint32_t timeout_us[WL_MAX_CPUS]; /* armed by each vCPU for its next wait */
	uint32_t pending[WL_MAX_CPUS];	  /* bit r: request r waits for vCPU i */
	bool woken[WL_MAX_CPUS];	  /* a settled pause ends vCPU i's wait now */
	bool shutdown;			  /* guest is stopping: waits return at once */
	uint32_t round;			  /* request of the round in flight, or 0 */
	bool round_done;		  /* the guest reported the round */
	/* A round that timed out after the guest took it, or 0. The guest goes on with it,
	 * and no other round starts before it reports: rounds share the counters. */
	uint32_t late;
	unsigned warnings;  /* rate limit for reports of guest mistakes */
	uint64_t verify_ok; /* totals copied from the guest at VERIFY_DONE */
	uint64_t verify_bad;
	uint32_t restoring;  /* bit i: vCPU i has not yet taken the identity */
	uint64_t generation; /* the identity of the last wl_dev_restored */
	uint32_t guest_index;
};

#define REQ_BIT(r) (1u << (r))

/* Post @req to vCPU @id. Caller holds d->lock and broadcasts. */
static void post(struct wl_dev *d, unsigned id, uint32_t req)
{
	d->pending[id] |= REQ_BIT(req);
}

/* Take one of vCPU @id's waiting requests (RESTORED first), or WL_REQ_NONE. */
static uint32_t take(struct wl_dev *d, unsigned id)
{
	uint32_t set = d->pending[id], req;

	if (!set)
		return WL_REQ_NONE;
	req = set & REQ_BIT(WL_REQ_RESTORED) ? WL_REQ_RESTORED : (uint32_t) __builtin_ctz(set);
	d->pending[id] &= ~REQ_BIT(req);
	return req;
}

/* The vCPU blocks here until a request, the armed timeout, or shutdown. */
static uint32_t wait_request(struct wl_dev *d, unsigned id)
{
	struct timespec deadline;
	uint32_t timeout = d->timeout_us[id], req;
	int rc = 0;

	clock_deadline(&deadline, CLOCK_MONOTONIC, timeout);
	d->woken[id] = false; /* a pause before this wait retries its wake (wl_dev_wake) */
	while (!d->pending[id] && !d->shutdown && !d->woken[id] && rc != ETIMEDOUT) {
		if (timeout)
			rc = pthread_cond_timedwait(&d->cond, &d->lock, &deadline);
		else
			pthread_cond_wait(&d->cond, &d->lock);
	}
	req = take(d, id);
	d->timeout_us[id] = 0;
	return req;
}

/* The guest finished round @req. */
static void on_round_done(struct wl_dev *d, uint32_t req)
{
	/* Guest-written values: copy once, then use the copies. The acquire loads pair with
	 * the guest's locked adds (wl_atomic_add, wl_xadd in tests/guest/workload/), made
	 * before it writes the DONE command that brought us here. */
	uint64_t ok = __atomic_load_n(&d->params->verify_ok, __ATOMIC_ACQUIRE);
	uint64_t bad = __atomic_load_n(&d->params->verify_bad, __ATOMIC_ACQUIRE);

	if (d->round != req && d->late == req) {
		d->late = 0;
		if (req == WL_REQ_VERIFY && bad)
			pr_warn("%s: the verify that timed out has ended: ok=%llu bad=%llu",
				d->host.name, (unsigned long long) ok, (unsigned long long) bad);
		else
			pr_info("%s: the %s that timed out has ended", d->host.name,
				req == WL_REQ_VERIFY  ? "verify"
				: req == WL_REQ_PROBE ? "probe"
						      : "watch");
		pthread_cond_broadcast(&d->cond);
		return;
	}
	if (d->round != req) {
		if (d->warnings++ < 8)
			pr_warn("%s: unsolicited report %u ignored", d->host.name, req);
		return;
	}
	d->verify_ok = ok;
	d->verify_bad = bad;
	d->round_done = true;
	pthread_cond_broadcast(&d->cond);
}

/* vCPU @id took the identity of the last wl_dev_restored. */
static void on_restored(struct wl_dev *d, unsigned id)
{
	if (id >= WL_MAX_CPUS || !(d->restoring & 1u << id))
		return; /* a report of the parent's restore, inherited with its memory */
	d->restoring &= ~(1u << id);
	if (!d->restoring)
		pr_info("%s: restored as guest %u, generation %016llx", d->host.name,
			d->guest_index, (unsigned long long) d->generation);
	pthread_cond_broadcast(&d->cond);
}

static void on_command(struct wl_dev *d, unsigned id, uint32_t cmd)
{
	switch (cmd) {
	case WL_CMD_READY:
		if (d->host.mark_ready(d->host.opaque)) {
			pr_info("%s: ready (%llu pages filled)", d->host.name,
				(unsigned long long) d->params->pages_filled);
		}
		break;
	case WL_CMD_VERIFY_DONE: on_round_done(d, WL_REQ_VERIFY); break;
	case WL_CMD_PROBE_DONE: on_round_done(d, WL_REQ_PROBE); break;
	case WL_CMD_WATCH_DONE: on_round_done(d, WL_REQ_WATCH); break;
	case WL_CMD_RESTORED_DONE: on_restored(d, id); break;
	case WL_CMD_PANIC:
		pthread_mutex_unlock(&d->lock);
		d->host.die(d->host.opaque, "workload guest panicked (see its console)");
		pthread_mutex_lock(&d->lock);
		break;
	default:
		if (d->warnings++ < 8)
			pr_warn("%s: unknown workload command %u ignored%s", d->host.name, cmd,
				d->warnings == 8 ? " (further reports suppressed)" : "");
	}
}

static void wl_io(void *opaque, uint64_t port, bool write, uint8_t *data, unsigned size)
{
	struct wl_dev *d = opaque;
	unsigned id = vcpu_self_id();
	uint32_t val = 0;

	memcpy(&val, data, size < 4 ? size : 4);
	pthread_mutex_lock(&d->lock);
	if (port == WL_PORT_CMD && write)
		on_command(d, id, val);
	else if (port == WL_PORT_WAIT && write)
		d->timeout_us[id] = val;
	else if (port == WL_PORT_WAIT)
		val = wait_request(d, id);
	else if (port == WL_PORT_TSC_KHZ && !write && id < d->host.nr_vcpus)
		val = (uint32_t) d->host.tsc_khz(d->host.opaque, id);
	pthread_mutex_unlock(&d->lock);
	if (!write)
		memcpy(data, &val, size < 4 ? size : 4);
}

struct wl_dev *wl_dev_create(const struct wl_dev_host *host, struct bus *bus)
{
	struct wl_dev *d = calloc(1, sizeof(*d));
	pthread_condattr_t attr;

	if (!d)
		return NULL;
	if (host->nr_vcpus > WL_MAX_CPUS) {
		pr_err("%s: %u vCPUs, the workload guest takes at most %d", host->name,
		       host->nr_vcpus, WL_MAX_CPUS);
		free(d);
		return NULL;
	}
	d->host = *host;
	d->params = mem_gpa(host->ram->mem, WL_PARAMS_GPA, sizeof(*d->params));
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (bus_register(bus, BUS_PIO, WL_PORT_CMD, WL_PORT_TSC_KHZ + 4 - WL_PORT_CMD, wl_io, d)) {
		wl_dev_destroy(d);
		return NULL;
	}
	return d;
}

void wl_dev_shutdown(struct wl_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->shutdown = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

void wl_dev_wake(struct wl_dev *d)
{
	/* Never blocks: a holder of the lock may itself wait for the pause to end (a RAM
	 * write through the guard); the pause calls again a millisecond later. */
	if (pthread_mutex_trylock(&d->lock))
		return;
	for (unsigned i = 0; i < d->host.nr_vcpus; i++)
		d->woken[i] = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static int wait_round(struct wl_dev *d, int timeout_ms)
{
	struct timespec deadline;
	int rc = 0;

	clock_deadline(&deadline, CLOCK_MONOTONIC, (uint64_t) timeout_ms * 1000u);
	while (!d->round_done && !d->shutdown && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&d->cond, &d->lock, &deadline);
	if (d->round_done)
		return 0;
	return d->shutdown ? -ESRCH : -ETIMEDOUT;
}

/* What a round asks of the guest besides its request. */
struct wl_round_args {
	uint32_t probe_pages;
	uint32_t watch_ms;
	uint32_t watch_threshold_us;
};

/* The guest only adds to these after it sees the request posted next; the write goes
 * through the guard so the merge engine never replaces the page under it. */
static void reset_counters(struct wl_dev *d, const struct wl_round_args *a)
{
	struct wl_params *p = ram_write_begin(d->host.ram, WL_PARAMS_GPA, sizeof(*p));

	if (!p)
		return;
	p->verify_cpus = 0;
	p->verify_ok = 0;
	p->verify_bad = 0;
	p->probe_pages = a->probe_pages;
	p->probe_cpus = 0;
	p->probe_count = 0;
	p->watch_ms = a->watch_ms;
	p->watch_threshold_us = a->watch_threshold_us;
	p->watch_cpus = 0;
	p->watch_count = 0;
	p->watch_stall_ticks = 0;
	p->watch_ticks = 0;
	p->watch_reads = 0;
	ram_write_end(d->host.ram, WL_PARAMS_GPA, sizeof(*p));
}

/* Whether a vCPU has taken request @req posted to all of them. Caller holds d->lock. */
static bool round_taken(const struct wl_dev *d, uint32_t req)
{
	for (unsigned i = 0; i < d->host.nr_vcpus; i++)
		if (!(d->pending[i] & REQ_BIT(req)))
			return true;
	return false;
}

/* Post request @req to every vCPU and wait for the guest's report. Caller holds d->lock. */
static int run_round(struct wl_dev *d, uint32_t req, const struct wl_round_args *a, int timeout_ms)
{
	int ret;

	if (d->shutdown || d->round || d->late)
		return d->shutdown ? -ESRCH : -EBUSY;
	d->round = req;
	d->round_done = false;
	reset_counters(d, a);
	for (unsigned i = 0; i < d->host.nr_vcpus; i++)
		post(d, i, req);
	pthread_cond_broadcast(&d->cond);
	ret = wait_round(d, timeout_ms);
	/* Timed out after a vCPU took it: the guest is at it and adds to the counters, so
	 * it stays posted and the next round waits for its report (see on_round_done).
	 * Taken by none: withdrawn, or a late taker would answer the next round. */
	if (ret == -ETIMEDOUT && round_taken(d, req))
		d->late = req;
	for (unsigned i = 0; i < d->host.nr_vcpus && !d->late; i++)
		d->pending[i] &= ~REQ_BIT(req);
	d->round = 0;
	return ret;
}

int wl_dev_verify(struct wl_dev *d, int timeout_ms, uint64_t *ok, uint64_t *bad)
{
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = run_round(d, WL_REQ_VERIFY, &(struct wl_round_args){0}, timeout_ms);
	*ok = d->verify_ok;
	*bad = d->verify_bad;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int wl_dev_probe(struct wl_dev *d, uint32_t pages, int timeout_ms, uint32_t *ticks, size_t max,
		 size_t *n)
{
	const uint32_t *samples = mem_gpa(d->host.ram->mem, WL_PROBE_GPA, WL_PROBE_MAX * 4);
	int ret;

	*n = 0;
	pthread_mutex_lock(&d->lock);
	ret = run_round(d, WL_REQ_PROBE, &(struct wl_round_args){.probe_pages = pages}, timeout_ms);
	if (!ret && samples) {
		/* Acquire: as in on_round_done. */
		uint64_t count = __atomic_load_n(&d->params->probe_count, __ATOMIC_ACQUIRE);

		*n = count < WL_PROBE_MAX ? count : WL_PROBE_MAX;
		*n = *n < max ? *n : max;
		memcpy(ticks, samples, *n * sizeof(*ticks));
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int wl_dev_watch(struct wl_dev *d, uint32_t ms, uint32_t threshold_us, uint32_t *ticks, size_t max,
		 struct wl_watch *out)
{
	const uint32_t *samples = mem_gpa(d->host.ram->mem, WL_WATCH_GPA, WL_WATCH_MAX * 4);
	struct wl_round_args a = {.watch_ms = ms, .watch_threshold_us = threshold_us};
	int ret;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&d->lock);
	/* The guest spins for @ms: allow that plus the usual slack for a busy host. */
	ret = run_round(d, WL_REQ_WATCH, &a, (int) ms + 30000);
	if (!ret && samples) {
		/* Guest-written values: copied once, bounded before use (acquire: as in
		 * on_round_done). */
		uint64_t count = __atomic_load_n(&d->params->watch_count, __ATOMIC_ACQUIRE);

		out->stalls = count;
		out->stall_ticks = __atomic_load_n(&d->params->watch_stall_ticks, __ATOMIC_ACQUIRE);
		out->ticks = __atomic_load_n(&d->params->watch_ticks, __ATOMIC_ACQUIRE);
		out->reads = __atomic_load_n(&d->params->watch_reads, __ATOMIC_ACQUIRE);
		out->nsamples = count < WL_WATCH_MAX ? count : WL_WATCH_MAX;
		out->nsamples = out->nsamples < max ? out->nsamples : max;
		memcpy(ticks, samples, out->nsamples * sizeof(*ticks));
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int wl_dev_fault(struct wl_dev *d)
{
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	if (d->shutdown)
		ret = -ESRCH;
	else
		post(d, 0, WL_REQ_FAULT);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static const char *const hostile_names[WL_HOSTILE_COUNT] = {
    [WL_HOSTILE_RESET] = "reset",	[WL_HOSTILE_OUTSIDE] = "outside",
    [WL_HOSTILE_LOOP] = "loop",		[WL_HOSTILE_DIRECTION] = "direction",
    [WL_HOSTILE_OVERSIZE] = "oversize", [WL_HOSTILE_AVAIL] = "avail",
};

int wl_dev_hostile_lookup(const char *name)
{
	for (int i = 0; i < WL_HOSTILE_COUNT; i++)
		if (!strcmp(name, hostile_names[i]))
			return i;
	return -EINVAL;
}

/* The parameters go through the write guard, as in reset_counters. */
int wl_dev_hostile(struct wl_dev *d, uint32_t dev, uint32_t kind)
{
	struct wl_params *p;
	int ret = 0;

	if (kind >= WL_HOSTILE_COUNT || dev >= WL_MAX_VIRTIO)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	p = d->shutdown ? NULL : ram_write_begin(d->host.ram, WL_PARAMS_GPA, sizeof(*p));
	if (p) {
		p->hostile_dev = dev;
		p->hostile_kind = kind;
		ram_write_end(d->host.ram, WL_PARAMS_GPA, sizeof(*p));
		post(d, 0, WL_REQ_HOSTILE);
	} else {
		ret = d->shutdown ? -ESRCH : -EFAULT;
	}
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* The identity goes through the write guard, as in reset_counters; the guest reads it
 * only once it takes the request posted after the write. */
int wl_dev_restored(struct wl_dev *d, uint32_t guest_index, uint64_t seed, uint64_t generation)
{
	struct wl_params *p = NULL;
	int ret = 0;

	if (!seed)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	if (d->shutdown || d->restoring)
		ret = d->shutdown ? -ESRCH : -EBUSY;
	else if (!(p = ram_write_begin(d->host.ram, WL_PARAMS_GPA, sizeof(*p))))
		ret = -EFAULT;
	if (p) {
		p->guest_index = guest_index;
		p->unique_seed = seed;
		p->generation = generation;
		ram_write_end(d->host.ram, WL_PARAMS_GPA, sizeof(*p));
		d->guest_index = guest_index;
		d->generation = generation;
		for (unsigned i = 0; i < d->host.nr_vcpus; i++)
			post(d, i, WL_REQ_RESTORED);
		d->restoring = (uint32_t) ((1ull << d->host.nr_vcpus) - 1);
		pthread_cond_broadcast(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int wl_dev_restored_wait(struct wl_dev *d, int timeout_ms)
{
	struct timespec deadline;
	int rc = 0, ret;

	pthread_mutex_lock(&d->lock);
	clock_deadline(&deadline, CLOCK_MONOTONIC, (uint64_t) timeout_ms * 1000u);
	while (d->restoring && !d->shutdown && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&d->cond, &d->lock, &deadline);
	ret = !d->restoring ? 0 : d->shutdown ? -ESRCH : -ETIMEDOUT;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

#define WL_DEV_STATE_VERSION 1

int wl_dev_save(struct wl_dev *d, struct sbuf *out)
{
	pthread_mutex_lock(&d->lock);
	sbuf_put_u32(out, WL_DEV_STATE_VERSION);
	sbuf_put_u32(out, d->host.nr_vcpus);
	for (unsigned i = 0; i < d->host.nr_vcpus; i++)
		sbuf_put_u32(out, d->timeout_us[i]);
	pthread_mutex_unlock(&d->lock);
	return out->err;
}

/* Any armed timeout is one the guest could have set (the port takes any 32-bit value),
 * so only the layout is checked; nothing is applied unless all of it reads back. */
int wl_dev_load(struct wl_dev *d, struct sbuf_reader *in)
{
	uint32_t version = sbuf_get_u32(in), n, timeout[WL_MAX_CPUS];

	if (!sbuf_check(in, version == WL_DEV_STATE_VERSION,
			"workload device state version %u (known: %u)", version,
			WL_DEV_STATE_VERSION))
		return -EINVAL;
	n = sbuf_get_u32(in);
	if (!sbuf_check(in, n == d->host.nr_vcpus, "workload device of %u vCPUs, guest has %u", n,
			d->host.nr_vcpus))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		timeout[i] = sbuf_get_u32(in);
	if (sbuf_error(in))
		return sbuf_error(in);
	pthread_mutex_lock(&d->lock);
	memcpy(d->timeout_us, timeout, n * sizeof(*timeout));
	pthread_mutex_unlock(&d->lock);
	return 0;
}

void wl_dev_destroy(struct wl_dev *d)
{
	if (!d)
		return;
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
