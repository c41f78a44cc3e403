/* test_wl_dev.c - the workload command device without KVM: restored identity, request
 * order, state save and load (vmm/devices/wl_dev.c).
 *
 * The test thread plays vCPU 0 (vcpu_self_id() is 0 off a vCPU thread) and drives the
 * device through the bus, as the guest's port I/O would.
 */
#include "vmm/devices/wl_dev.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/page.h"
#include "lib/sbuf.h"
#include "tests/unit/check.h"
#include "vmm/pause.h"

struct rig {
	struct guest_mem mem;
	struct guest_ram ram;
	struct pause pause;
	struct bus bus;
	struct wl_dev *dev;
	int deaths;
};

static unsigned long no_tsc(void *opaque, unsigned id)
{
	(void) opaque;
	(void) id;
	return 0;
}

static bool ready_once(void *opaque)
{
	(void) opaque;
	return true;
}

static void count_death(void *opaque, const char *why)
{
	(void) why;
	((struct rig *) opaque)->deaths++;
}

static int rig_init(struct rig *r, unsigned nr_vcpus)
{
	struct wl_dev_host host = {
	    .name = "t0",
	    .ram = &r->ram,
	    .nr_vcpus = nr_vcpus,
	    .tsc_khz = no_tsc,
	    .mark_ready = ready_once,
	    .die = count_death,
	    .opaque = r,
	};

	memset(r, 0, sizeof(*r));
	pause_init(&r->pause, NULL, NULL);
	if (mem_layout(&r->mem, 16ull << 20) || mem_map(&r->mem))
		return -1;
	if (ram_init(&r->ram, &r->mem, &r->pause, -1, false))
		return -1;
	r->dev = wl_dev_create(&host, &r->bus);
	return r->dev ? 0 : -1;
}

static void rig_destroy(struct rig *r)
{
	wl_dev_destroy(r->dev);
	ram_destroy(&r->ram);
	mem_unmap(&r->mem);
	pause_destroy(&r->pause);
}

static void port_out(struct rig *r, uint16_t port, uint32_t v)
{
	bus_dispatch(&r->bus, BUS_PIO, port, true, (uint8_t *) &v, 4);
}

static uint32_t port_in(struct rig *r, uint16_t port)
{
	uint32_t v = 0;

	bus_dispatch(&r->bus, BUS_PIO, port, false, (uint8_t *) &v, 4);
	return v;
}

/* A guest wait of @us: the request it returns, and how long it blocked in *@ms. */
static uint32_t guest_wait(struct rig *r, uint32_t us, double *ms)
{
	uint64_t t0 = clock_now_us();
	uint32_t req;

	port_out(r, WL_PORT_WAIT, us);
	req = port_in(r, WL_PORT_WAIT);
	if (ms)
		*ms = (double) (clock_now_us() - t0) / 1000.0;
	return req;
}

static bool params_dirty(const struct rig *r)
{
	uint64_t page = WL_PARAMS_GPA / PAGE_SIZE;

	return r->ram.soft_dirty[0][page / 64] >> (page % 64) & 1;
}

/* The identity reaches the parameters through the guard; RESTORED is served before a
 * request posted after it; the device knows when every vCPU took it. */
static void test_restored(void)
{
	struct rig r;
	struct wl_params *p;
	uint64_t ok, bad;

	printf("restored: identity written and marked dirty, RESTORED first, done per vCPU\n");
	if (rig_init(&r, 1)) {
		CHECK(!"rig");
		return;
	}
	p = mem_gpa(&r.mem, WL_PARAMS_GPA, sizeof(*p));
	CHECK_EQ(wl_dev_restored(r.dev, 7, 0, 1), -EINVAL); /* seed 0 would mean the fleet's */
	CHECK_EQ(wl_dev_restored_wait(r.dev, 10), 0);	    /* nothing outstanding */
	CHECK(!params_dirty(&r));
	CHECK_EQ(wl_dev_restored(r.dev, 7, 0x5eed7, 0xabcdef0123), 0);
	CHECK_EQ(p->guest_index, 7);
	CHECK_EQ(p->unique_seed, 0x5eed7);
	CHECK_EQ(p->generation, 0xabcdef0123);
	CHECK(params_dirty(&r)); /* the engine sees the VMM's write */
	CHECK_EQ(wl_dev_restored(r.dev, 8, 1, 2), -EBUSY);
	CHECK_EQ(p->guest_index, 7); /* the refused call wrote nothing */
	CHECK_EQ(wl_dev_fault(r.dev), 0);
	CHECK_EQ(guest_wait(&r, 1000, NULL), WL_REQ_RESTORED);
	CHECK_EQ(wl_dev_restored_wait(r.dev, 20), -ETIMEDOUT); /* taken, not yet answered */
	CHECK_EQ(guest_wait(&r, 1000, NULL), WL_REQ_FAULT);    /* kept, not overwritten */
	CHECK_EQ(guest_wait(&r, 1000, NULL), WL_REQ_NONE);
	port_out(&r, WL_PORT_CMD, WL_CMD_RESTORED_DONE);
	CHECK_EQ(wl_dev_restored_wait(r.dev, 10), 0);
	port_out(&r, WL_PORT_CMD, WL_CMD_RESTORED_DONE);	   /* stray: ignored */
	CHECK_EQ(wl_dev_verify(r.dev, 20, &ok, &bad), -ETIMEDOUT); /* nobody answers */
	CHECK_EQ(guest_wait(&r, 1000, NULL), WL_REQ_NONE);	   /* and it was withdrawn */
	CHECK_EQ(wl_dev_restored(r.dev, 9, 3, 4), 0);
	CHECK_EQ(p->guest_index, 9);
	wl_dev_shutdown(r.dev);
	CHECK_EQ(wl_dev_restored_wait(r.dev, 1000), -ESRCH);
	CHECK_EQ(wl_dev_restored(r.dev, 10, 3, 4), -ESRCH);
	CHECK_EQ(r.deaths, 0);
	rig_destroy(&r);
}

/* With two vCPUs, one answer is not enough. */
static void test_restored_two(void)
{
	struct rig r;

	printf("restored: every vCPU must take the identity\n");
	if (rig_init(&r, 2)) {
		CHECK(!"rig");
		return;
	}
	CHECK_EQ(wl_dev_restored(r.dev, 1, 1, 1), 0);
	CHECK_EQ(guest_wait(&r, 1000, NULL), WL_REQ_RESTORED);
	port_out(&r, WL_PORT_CMD, WL_CMD_RESTORED_DONE); /* vCPU 0 only */
	CHECK_EQ(wl_dev_restored_wait(r.dev, 20), -ETIMEDOUT);
	CHECK_EQ(wl_dev_restored(r.dev, 2, 2, 2), -EBUSY);
	rig_destroy(&r);
}

/* A verify on another thread, as the control socket's workers run it. */
struct verify_call {
	struct rig *r;
	int timeout_ms;
	int ret;
	uint64_t ok, bad;
	pthread_t thread;
};

static void *verify_thread(void *arg)
{
	struct verify_call *v = arg;

	v->ret = wl_dev_verify(v->r->dev, v->timeout_ms, &v->ok, &v->bad);
	return NULL;
}

static bool verify_start(struct verify_call *v, struct rig *r, int timeout_ms)
{
	*v = (struct verify_call){.r = r, .timeout_ms = timeout_ms};
	return pthread_create(&v->thread, NULL, verify_thread, v) == 0;
}

/* A verify the guest took but did not finish in time: the guest's counters are its
 * own until it reports, so nothing else starts before; its late report answers no one. */
static void test_late_round(void)
{
	struct rig r;
	struct verify_call v;
	struct wl_params *p;
	uint32_t ticks[4];
	size_t n;
	uint64_t ok, bad;

	printf("late round: a verify that timed out once taken blocks the next until it reports\n");
	if (rig_init(&r, 1)) {
		CHECK(!"rig");
		return;
	}
	p = mem_gpa(&r.mem, WL_PARAMS_GPA, sizeof(*p));
	if (!verify_start(&v, &r, 100)) {
		CHECK(!"thread");
		rig_destroy(&r);
		return;
	}
	CHECK_EQ(guest_wait(&r, 5000000, NULL), WL_REQ_VERIFY); /* taken ... */
	p->verify_ok = 3;					/* ... and partly done */
	pthread_join(v.thread, NULL);
	CHECK_EQ(v.ret, -ETIMEDOUT);
	CHECK_EQ(wl_dev_verify(r.dev, 20, &ok, &bad), -EBUSY);
	CHECK_EQ(wl_dev_probe(r.dev, 1, 20, ticks, 4, &n), -EBUSY);
	CHECK_EQ(p->verify_ok, 3); /* the refused rounds left the guest's count alone */
	p->verify_ok = 7;
	port_out(&r, WL_PORT_CMD, WL_CMD_VERIFY_DONE); /* the late report: logged only */
	if (verify_start(&v, &r, 5000)) {
		CHECK_EQ(guest_wait(&r, 5000000, NULL), WL_REQ_VERIFY);
		CHECK_EQ(p->verify_ok, 0); /* the new round started from zero */
		p->verify_ok = 9;
		port_out(&r, WL_PORT_CMD, WL_CMD_VERIFY_DONE);
		pthread_join(v.thread, NULL);
		CHECK_EQ(v.ret, 0);
		CHECK_EQ(v.ok, 9);
	} else {
		CHECK(!"thread");
	}
	CHECK_EQ(r.deaths, 0);
	rig_destroy(&r);
}

static void save(struct rig *r, struct sbuf *b)
{
	sbuf_init(b);
	CHECK_EQ(wl_dev_save(r->dev, b), 0);
}

static bool same_state(struct rig *r, const struct sbuf *want)
{
	struct sbuf b;
	bool same;

	save(r, &b);
	same = b.len == want->len && !memcmp(b.data, want->data, b.len);
	sbuf_free(&b);
	return same;
}

static int load(struct rig *r, const void *data, size_t len, char *why, size_t whylen)
{
	struct sbuf_reader in;
	int ret;

	sbuf_reader_init(&in, data, len);
	ret = wl_dev_load(r->dev, &in);
	snprintf(why, whylen, "%s", in.why);
	return ret;
}

/* The armed timeout survives a round trip; waiting requests do not. */
static void *wake_later(void *opaque)
{
	usleep(20 * 1000);
	wl_dev_wake(opaque);
	return NULL;
}

/* A wake ends a wait at once, as a timeout does (no request); one that came before the
 * wait does not cut the next wait short. */
static void test_wake(void)
{
	struct rig r;
	pthread_t t;
	double ms;

	CHECK_EQ(rig_init(&r, 1), 0);
	CHECK_EQ(pthread_create(&t, NULL, wake_later, r.dev), 0);
	CHECK_EQ(guest_wait(&r, 5 * 1000 * 1000, &ms), WL_REQ_NONE);
	pthread_join(t, NULL);
	CHECK(ms < 4000.0); /* woken, not timed out after 5 s */
	wl_dev_wake(r.dev);
	CHECK_EQ(guest_wait(&r, 50 * 1000, &ms), WL_REQ_NONE);
	CHECK(ms >= 45.0);
	rig_destroy(&r);
}

static void test_save_load(void)
{
	struct rig a, b;
	struct sbuf s;
	char why[128];
	double ms;

	printf("save/load: armed wait timeouts round-trip, waiting requests are dropped\n");
	if (rig_init(&a, 2) || rig_init(&b, 2)) {
		CHECK(!"rig");
		return;
	}
	port_out(&a, WL_PORT_WAIT, 30000); /* vCPU 0 armed 30 ms, then the snapshot */
	CHECK_EQ(wl_dev_fault(a.dev), 0);
	save(&a, &s);
	CHECK_EQ(s.len, 4 + 4 + 2 * 4);
	CHECK(!same_state(&b, &s));
	CHECK_EQ(load(&b, s.data, s.len, why, sizeof(why)), 0);
	CHECK(same_state(&b, &s));
	/* The restored vCPU 0 re-enters its wait: the armed 30 ms, no inherited FAULT. */
	CHECK_EQ(port_in(&b, WL_PORT_WAIT), WL_REQ_NONE);
	CHECK_EQ(guest_wait(&b, 5000, &ms), WL_REQ_NONE);
	CHECK(ms >= 4.0);
	sbuf_free(&s);
	rig_destroy(&b);
	rig_destroy(&a);
}

/* Every truncation, a wrong version, a wrong vCPU count and random bytes: refused with
 * a message (or, for random bytes that happen to be well formed, taken), never a crash,
 * and a refused load changes nothing. */
static void test_load_refuses(void)
{
	struct rig a, b;
	struct sbuf s, before;
	char why[128];
	uint8_t junk[64];
	unsigned refused = 0, bad_msg = 0, changed = 0;

	printf("load: truncated, altered and random input refused with a reason\n");
	if (rig_init(&a, 2) || rig_init(&b, 2)) {
		CHECK(!"rig");
		return;
	}
	port_out(&a, WL_PORT_WAIT, 1234);
	save(&a, &s);
	save(&b, &before);
	for (size_t len = 0; len < s.len; len++) {
		refused += load(&b, s.data, len, why, sizeof(why)) == -EINVAL;
		bad_msg += !strstr(why, "truncated");
		changed += !same_state(&b, &before);
	}
	CHECK_EQ(refused, s.len);
	CHECK_EQ(bad_msg, 0);
	CHECK_EQ(changed, 0);
	s.data[0] = 2; /* version */
	CHECK_EQ(load(&b, s.data, s.len, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "version 2") != NULL);
	s.data[0] = 1;
	s.data[4] = 3; /* vCPUs */
	CHECK_EQ(load(&b, s.data, s.len, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "3 vCPUs") != NULL);
	CHECK(same_state(&b, &before));
	srand(12);
	for (int i = 0; i < 2000; i++) {
		size_t len = (size_t) rand() % sizeof(junk);
		int ret;

		for (size_t k = 0; k < len; k++)
			junk[k] = (uint8_t) (i % 3 ? rand() : rand() % 3);
		ret = load(&b, junk, len, why, sizeof(why));
		bad_msg += ret ? ret != -EINVAL || !why[0] : 0;
	}
	CHECK_EQ(bad_msg, 0);
	sbuf_free(&before);
	sbuf_free(&s);
	rig_destroy(&b);
	rig_destroy(&a);
}

int main(void)
{
	test_restored();
	test_restored_two();
	test_late_round();
	test_wake();
	test_save_load();
	test_load_refuses();
	return check_done("test_wl_dev");
}
