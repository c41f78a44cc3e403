/* pause.h - holding every writer of one guest's RAM still while the merge engine works.
 *
 * Writers are the vCPUs (in KVM_RUN) and the VMM itself (devices writing guest RAM). A
 * pause sets a flag the vCPUs check before each KVM_RUN, kicks those inside the guest
 * and waits until none is; VMM writers hold the write guard shared, a pause holds it
 * exclusive. The module knows nothing of guests or vCPU objects: vCPUs are numbered
 * 0..n-1 and kicked through a callback.
 */
#ifndef VMM_PAUSE_H
#define VMM_PAUSE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define PAUSE_MAX_VCPUS 64

/* Make vCPU @id leave KVM_RUN soon (it re-enters unless paused or stopped). Called from
 * the pausing thread; must not block. */
typedef void (*pause_kick_fn)(void *opaque, unsigned id);

/* Make the vCPUs blocked in the VMM on a guest's request (a wait that only the guest's
 * next request or a timeout ends) complete that exit now. Called from the pausing thread
 * (with the kick's opaque); must not block. */
typedef void (*pause_wake_fn)(void *opaque);

struct pause {
	atomic_bool req;		       /* vCPUs must not enter KVM_RUN */
	atomic_bool settle;		       /* and must complete their last exit first */
	unsigned settled;		       /* vCPUs parked with nothing pending (lock) */
	atomic_bool in_guest[PAUSE_MAX_VCPUS]; /* vCPU i is in KVM_RUN or about to enter it */
	unsigned nr_vcpus;		       /* vCPUs 0..nr-1 take part; set before they run */
	pthread_mutex_t lock;		       /* with park_cond: parked vCPUs wait here */
	pthread_cond_t park_cond;	       /* the pause is over */
	pthread_cond_t out_cond;    /* a vCPU left the guest while a pause was requested */
	pthread_rwlock_t mem_guard; /* VMM writers of guest RAM shared, a pause exclusive */
	pause_kick_fn kick;
	pause_wake_fn wake; /* or NULL */
	void *kick_opaque;
};

/* Set up @p with no vCPUs; @kick makes one leave KVM_RUN. */
void pause_init(struct pause *p, pause_kick_fn kick, void *opaque);

/* A settled pause also calls @wake, at once and at each of its retries. */
void pause_set_wake(struct pause *p, pause_wake_fn wake);

/* From now on vCPUs 0..@n-1 take part (n <= PAUSE_MAX_VCPUS). Call before they run. */
void pause_set_vcpus(struct pause *p, unsigned n);

/* vCPU @id is about to enter KVM_RUN: honour a pause (park until it is over). Returns
 * true with the vCPU marked in the guest, or false (not marked) once *@stop is set.
 * Called on the vCPU's own thread. */
bool pause_enter(struct pause *p, unsigned id, const atomic_bool *stop);

enum pause_verdict {
	PAUSE_RUN,	/* enter KVM_RUN (marked in the guest) */
	PAUSE_STOP,	/* *stop is set: leave the run loop */
	PAUSE_COMPLETE, /* a settled pause wants the last exit completed first: KVM_RUN with
			 * immediate_exit (runs no guest code), then ask again */
};

/* pause_enter for a vCPU that knows whether its last exit still waits for KVM to
 * complete it (@exit_pending: KVM_EXIT_IO / MMIO data not yet taken back by KVM_RUN). */
enum pause_verdict pause_enter_exit(struct pause *p, unsigned id, const atomic_bool *stop,
				    bool exit_pending);

/* vCPU @id just returned from KVM_RUN: mark it out and tell a pausing engine. */
void pause_leave(struct pause *p, unsigned id);

/* Stop every writer: request takes the write guard (waits for VMM writers to finish),
 * asks the vCPUs to stay out and kicks those inside; wait returns once none is in
 * KVM_RUN. Undo with pause_resume. One pausing thread at a time. */
void pause_request(struct pause *p);
void pause_wait(struct pause *p);
void pause_resume(struct pause *p);

/* A snapshot's pause: pause_request, and wait until every vCPU is parked with its last
 * exit completed by KVM, so that its registers are final (KVM's API: an I/O exit is done
 * only once KVM_RUN is entered again). Returns 0, or -ETIMEDOUT after @timeout_ms (a
 * vCPU busy in a device, or gone); the pause holds either way: pause_resume ends it. */
int pause_request_settled(struct pause *p, int timeout_ms);

/* A VMM writer of guest RAM holds off pauses between these two. */
void pause_writer_begin(struct pause *p);
void pause_writer_end(struct pause *p);

/* Free what pause_init set up. No vCPU may still use @p. */
void pause_destroy(struct pause *p);

#endif
