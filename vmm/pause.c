/* pause.c - the pause protocol between the merge engine, the vCPU run loops and VMM writers.
 *
 * The race that matters: a vCPU about to enter KVM_RUN against a pause being requested.
 * The vCPU stores in_guest then loads req (pause_enter); the pauser stores req then loads
 * in_guest (pause_request, pause_wait). All four are seq_cst, so at least one side sees
 * the other: either the vCPU sees req and parks, or the pauser sees in_guest and kicks it
 * (and waits until pause_leave clears it).
 */
#include "vmm/pause.h"

#include <errno.h>
#include <time.h>

#include "lib/clock.h"

void pause_init(struct pause *p, pause_kick_fn kick, void *opaque)
{
	pthread_condattr_t attr;

	atomic_init(&p->req, false);
	atomic_init(&p->settle, false);
	p->settled = 0;
	for (unsigned i = 0; i < PAUSE_MAX_VCPUS; i++)
		atomic_init(&p->in_guest[i], false);
	p->nr_vcpus = 0;
	p->kick = kick;
	p->wake = NULL;
	p->kick_opaque = opaque;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->park_cond, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->out_cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_rwlock_init(&p->mem_guard, NULL);
}

void pause_set_wake(struct pause *p, pause_wake_fn wake)
{
	p->wake = wake;
}

void pause_set_vcpus(struct pause *p, unsigned n)
{
	p->nr_vcpus = n < PAUSE_MAX_VCPUS ? n : PAUSE_MAX_VCPUS;
}

/* Park until the pause is over; first tell the pauser this vCPU is out (and, for a
 * settled pause, counted: the caller completed its last exit). A vCPU parked by a plain
 * pause that a settled one follows returns early, so that its caller can complete its
 * exit and park again, counted. */
static void park(struct pause *p)
{
	bool counted = false;

	pthread_mutex_lock(&p->lock);
	if (atomic_load(&p->settle)) {
		p->settled++;
		counted = true;
	}
	pthread_cond_broadcast(&p->out_cond);
	while (atomic_load(&p->req) && (counted || !atomic_load(&p->settle)))
		pthread_cond_wait(&p->park_cond, &p->lock);
	if (counted)
		p->settled--;
	pthread_mutex_unlock(&p->lock);
}

/* The seq_cst store of in_guest then load of req pair with pause_request's store of req
 * then load of in_guest (see the top of this file). */
static enum pause_verdict enter(struct pause *p, atomic_bool *in, const atomic_bool *stop,
				bool exit_pending)
{
	atomic_store(in, true);
	while (atomic_load(&p->req)) {
		atomic_store(in, false);
		/* settle is stored before req (pause_request_settled). */
		if (exit_pending && atomic_load(&p->settle))
			return atomic_load(stop) ? PAUSE_STOP : PAUSE_COMPLETE;
		park(p);
		if (atomic_load(stop))
			return PAUSE_STOP;
		atomic_store(in, true);
	}
	return atomic_load(stop) ? PAUSE_STOP : PAUSE_RUN;
}

enum pause_verdict pause_enter_exit(struct pause *p, unsigned id, const atomic_bool *stop,
				    bool exit_pending)
{
	atomic_bool *in = &p->in_guest[id];
	enum pause_verdict v = enter(p, in, stop, exit_pending);

	if (v != PAUSE_RUN)
		atomic_store(in, false);
	return v;
}

bool pause_enter(struct pause *p, unsigned id, const atomic_bool *stop)
{
	return pause_enter_exit(p, id, stop, false) == PAUSE_RUN;
}

void pause_leave(struct pause *p, unsigned id)
{
	atomic_store(&p->in_guest[id], false);
	if (atomic_load(&p->req)) {
		pthread_mutex_lock(&p->lock);
		pthread_cond_broadcast(&p->out_cond);
		pthread_mutex_unlock(&p->lock);
	}
}

static bool any_in_guest(struct pause *p)
{
	for (unsigned i = 0; i < p->nr_vcpus; i++)
		if (atomic_load(&p->in_guest[i]))
			return true;
	return false;
}

static void kick_those_inside(struct pause *p)
{
	for (unsigned i = 0; i < p->nr_vcpus; i++)
		if (atomic_load(&p->in_guest[i]))
			p->kick(p->kick_opaque, i);
}

void pause_request(struct pause *p)
{
	pthread_rwlock_wrlock(&p->mem_guard);
	/* Pairs with enter(): store req, then look at in_guest. */
	atomic_store(&p->req, true);
	kick_those_inside(p);
}

void pause_wait(struct pause *p)
{
	pthread_mutex_lock(&p->lock);
	while (any_in_guest(p)) {
		struct timespec ts;

		/* Each vCPU leaving KVM_RUN signals out_cond. A kick that landed just before
		 * KVM_RUN is caught by immediate_exit; repeat it each millisecond anyway. */
		clock_deadline(&ts, CLOCK_MONOTONIC, 1000);
		if (pthread_cond_timedwait(&p->out_cond, &p->lock, &ts) == ETIMEDOUT)
			kick_those_inside(p);
	}
	pthread_mutex_unlock(&p->lock);
}

int pause_request_settled(struct pause *p, int timeout_ms)
{
	uint64_t left = (uint64_t) timeout_ms;
	int ret = 0;

	pthread_rwlock_wrlock(&p->mem_guard);
	atomic_store(&p->settle, true);
	atomic_store(&p->req, true);
	kick_those_inside(p);
	if (p->wake)
		p->wake(p->kick_opaque);
	pthread_mutex_lock(&p->lock);
	pthread_cond_broadcast(&p->park_cond); /* vCPUs parked uncounted: see park() */
	while (p->settled < p->nr_vcpus && ret == 0) {
		struct timespec ts;

		/* park() signals out_cond once it counted itself; kick again each ms. */
		clock_deadline(&ts, CLOCK_MONOTONIC, 1000);
		if (pthread_cond_timedwait(&p->out_cond, &p->lock, &ts) == ETIMEDOUT) {
			kick_those_inside(p);
			if (p->wake)
				p->wake(p->kick_opaque);
			if (left-- == 0)
				ret = -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void pause_resume(struct pause *p)
{
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->settle, false);
	atomic_store(&p->req, false);
	pthread_cond_broadcast(&p->park_cond);
	pthread_mutex_unlock(&p->lock);
	pthread_rwlock_unlock(&p->mem_guard);
}

void pause_writer_begin(struct pause *p)
{
	pthread_rwlock_rdlock(&p->mem_guard);
}

void pause_writer_end(struct pause *p)
{
	pthread_rwlock_unlock(&p->mem_guard);
}

void pause_destroy(struct pause *p)
{
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->park_cond);
	pthread_cond_destroy(&p->out_cond);
	pthread_rwlock_destroy(&p->mem_guard);
}
