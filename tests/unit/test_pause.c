/* test_pause.c - the pause protocol with fake vCPUs: while a pause holds, no vCPU is in its
 * "KVM_RUN" and no VMM writer is inside the guard; kicks end a run; stop ends parked vCPUs. */
#include "vmm/pause.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"

#define NR 3
#define ROUNDS 200

static struct pause p;
static atomic_bool stop[NR];
static atomic_bool kicked[NR]; /* the fake immediate_exit */
static atomic_bool inside[NR]; /* between pause_enter and pause_leave */
static atomic_bool exited[NR];
static atomic_uint runs[NR];
static atomic_bool writing; /* a VMM writer is inside the guard */
static atomic_bool writer_stop;
static atomic_uint kicks;
static atomic_bool pending[NR];	  /* the fake's last exit waits for completion */
static atomic_uint completes[NR]; /* PAUSE_COMPLETE verdicts acted on */
static atomic_bool busy[NR];	  /* the fake vCPU is held in a "device" outside KVM_RUN */
static atomic_bool held[NR];	  /* ... and is there now */

static void fake_kick(void *opaque, unsigned id)
{
	(void) opaque;
	atomic_fetch_add(&kicks, 1);
	atomic_store(&kicked[id], true);
}

/* A "KVM_RUN" that only a kick ends (or a long timeout, so a lost kick shows as slow). */
static void fake_run(unsigned id)
{
	for (int spin = 0; spin < 2000000 && !atomic_load(&kicked[id]); spin++)
		;
	atomic_store(&kicked[id], false);
}

static void *vcpu_thread(void *arg)
{
	unsigned id = (unsigned) (uintptr_t) arg;

	for (;;) {
		enum pause_verdict v =
		    pause_enter_exit(&p, id, &stop[id], atomic_load(&pending[id]));

		if (v == PAUSE_STOP)
			break;
		if (v == PAUSE_COMPLETE) {
			atomic_store(&pending[id], false);
			atomic_fetch_add(&completes[id], 1);
			continue;
		}
		atomic_store(&inside[id], true);
		atomic_fetch_add(&runs[id], 1);
		fake_run(id);
		atomic_store(&inside[id], false);
		pause_leave(&p, id);
		atomic_store(&pending[id], true); /* an exit the "VMM" handles next */
		while (atomic_load(&busy[id])) {
			atomic_store(&held[id], true);
			usleep(100);
		}
		atomic_store(&held[id], false);
	}
	atomic_store(&exited[id], true);
	return NULL;
}

static void *writer_thread(void *arg)
{
	(void) arg;
	while (!atomic_load(&writer_stop)) {
		pause_writer_begin(&p);
		atomic_store(&writing, true);
		usleep(10);
		atomic_store(&writing, false);
		pause_writer_end(&p);
	}
	return NULL;
}

static unsigned nr_inside(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NR; i++)
		n += atomic_load(&inside[i]);
	return n;
}

static void test_rounds(void)
{
	unsigned bad = 0, bad_writer = 0;

	for (int r = 0; r < ROUNDS; r++) {
		pause_request(&p);
		pause_wait(&p);
		bad += nr_inside();
		bad_writer += atomic_load(&writing);
		usleep(50); /* nobody may slip in while we hold the pause */
		bad += nr_inside();
		bad_writer += atomic_load(&writing);
		pause_resume(&p);
		usleep(20);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(bad_writer, 0);
	CHECK(atomic_load(&kicks) > 0);
	for (unsigned i = 0; i < NR; i++)
		CHECK(atomic_load(&runs[i]) > 1); /* every vCPU ran again after resumes */
}

/* A settled pause returns only once every vCPU completed its last exit and parked; a vCPU
 * held in a device makes it time out, and the pause still holds until resumed. */
static void test_settled(void)
{
	unsigned bad = 0, unsettled = 0;

	for (int r = 0; r < ROUNDS / 4; r++) {
		CHECK_EQ(pause_request_settled(&p, 2000), 0);
		bad += nr_inside();
		for (unsigned i = 0; i < NR; i++)
			unsettled += atomic_load(&pending[i]);
		usleep(50);
		bad += nr_inside();
		pause_resume(&p);
		usleep(20);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(unsettled, 0);
	for (unsigned i = 0; i < NR; i++)
		CHECK(atomic_load(&completes[i]) > 0);
	/* The plain pause does not ask for completion. */
	for (unsigned i = 0; i < NR; i++)
		atomic_store(&completes[i], 0);
	for (int r = 0; r < 20; r++) {
		pause_request(&p);
		pause_wait(&p);
		pause_resume(&p);
		usleep(20);
	}
	for (unsigned i = 0; i < NR; i++)
		CHECK_EQ(atomic_load(&completes[i]), 0);

	atomic_store(&busy[1], true);
	while (!atomic_load(&held[1])) /* vCPU 1 is held after an exit */
		usleep(100);
	CHECK_EQ(pause_request_settled(&p, 20), -ETIMEDOUT);
	bad = nr_inside();
	atomic_store(&busy[1], false);
	usleep(2000);
	bad += nr_inside(); /* released from the device, vCPU 1 still may not run */
	CHECK_EQ(bad, 0);
	pause_resume(&p);
}

static atomic_uint wakes;

/* The fake device's wait ends when woken (wl_dev_wake). */
static void fake_wake(void *opaque)
{
	(void) opaque;
	atomic_fetch_add(&wakes, 1);
	for (unsigned i = 0; i < NR; i++)
		atomic_store(&busy[i], false);
}

/* With a wake, a settled pause ends a vCPU's wait in the VMM instead of timing out on
 * it; a plain pause never wakes (a merge does not wait for vCPUs outside the guest). */
static void test_settled_wake(void)
{
	pause_set_wake(&p, fake_wake);
	for (int r = 0; r < 20; r++) {
		pause_request(&p);
		pause_wait(&p);
		pause_resume(&p);
	}
	CHECK_EQ(atomic_load(&wakes), 0);
	atomic_store(&busy[1], true);
	while (!atomic_load(&held[1]))
		usleep(100);
	CHECK_EQ(pause_request_settled(&p, 2000), 0);
	CHECK(atomic_load(&wakes) > 0);
	CHECK(!atomic_load(&busy[1]));
	CHECK_EQ(nr_inside(), 0);
	CHECK(!atomic_load(&pending[1])); /* its exit was completed */
	pause_resume(&p);
	pause_set_wake(&p, NULL);
}

/* A vCPU stopped during a pause stays parked until the pause is over, then exits. */
static void test_stop_while_paused(void)
{
	pause_request(&p);
	pause_wait(&p);
	for (unsigned i = 0; i < NR; i++)
		atomic_store(&stop[i], true);
	usleep(20000);
	for (unsigned i = 0; i < NR; i++)
		CHECK(!atomic_load(&exited[i]));
	pause_resume(&p);
}

int main(void)
{
	pthread_t t[NR], w;

	pause_init(&p, fake_kick, NULL);
	pause_set_vcpus(&p, NR);
	for (unsigned i = 0; i < NR; i++)
		if (pthread_create(&t[i], NULL, vcpu_thread, (void *) (uintptr_t) i))
			return 2;
	if (pthread_create(&w, NULL, writer_thread, NULL))
		return 2;
	usleep(1000);
	test_rounds();
	atomic_store(&writer_stop, true);
	pthread_join(w, NULL);
	test_settled();
	test_settled_wake();
	test_stop_while_paused();
	for (unsigned i = 0; i < NR; i++)
		pthread_join(t[i], NULL);
	for (unsigned i = 0; i < NR; i++)
		CHECK(atomic_load(&exited[i]));
	/* With nothing running, a pause holds at once and needs no kick. */
	atomic_store(&kicks, 0);
	pause_request(&p);
	pause_wait(&p);
	pause_resume(&p);
	CHECK_EQ(atomic_load(&kicks), 0);
	pause_destroy(&p);
	return check_done("test_pause");
}
