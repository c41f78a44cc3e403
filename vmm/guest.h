/* guest.h - one guest of the fleet: its KVM VM, RAM, devices, vCPUs and lifecycle. */
#ifndef VMM_GUEST_H
#define VMM_GUEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vmm/fleet.h"
#include "vmm/devices/bus.h"
#include "vmm/mem.h"
#include "vmm/options.h"
#include "vmm/x86.h"

struct vcpu;
struct uart;
struct wl_dev;
struct ksm_vm;

struct guest {
	char name[64];
	char group[32]; /* sharing group name */
	unsigned index; /* position in the fleet */
	enum guest_kind kind;
	int vm_fd;
	struct guest_mem mem;
	struct bus bus; /* filled before the vCPUs run, read-only after */
	struct uart *uart;
	int console_fd;	   /* owned; -1 when the console is discarded */
	struct wl_dev *wl; /* workload device; NULL for Linux guests */
	struct x86_boot boot;
	unsigned nr_vcpus;
	struct vcpu *vcpus[OPT_MAX_CPUS];

	/* Pausing for the merge engine (guest_pause). */
	atomic_bool pause_req;	    /* vCPUs must not enter KVM_RUN */
	pthread_mutex_t pause_lock; /* with pause_cond: parked vCPUs wait here */
	pthread_cond_t pause_cond;
	pthread_cond_t out_cond;    /* a vCPU left the guest while a pause was requested */
	pthread_rwlock_t mem_guard; /* VMM writers of guest RAM hold it shared, a pause exclusive */
	bool dirty_logging;	    /* memslots have KVM_MEM_LOG_DIRTY_PAGES */
	pthread_mutex_t dirty_lock; /* protects soft_dirty */
	uint64_t *soft_dirty[MEM_MAX_REGIONS]; /* pages the VMM itself wrote since the last fetch */
	struct ksm_vm *ksm_vm;		       /* its registration with the merge engine, or NULL */

	pthread_mutex_t lock; /* protects the fields below */
	enum guest_state state;
	bool ready;				       /* workload guest said READY */
	char reason[160];			       /* why it ended */
	unsigned vcpus_running;			       /* vCPU threads not yet exited */
	void (*on_end)(void *opaque, struct guest *g); /* called once, on the last vCPU thread */
	void *on_end_opaque;
};

/* Build guest @index of @opts: VM, RAM, memslots, loader, devices, vCPUs (not running).
 * @tee_stdout: also copy the console to stdout. Returns NULL after one clear error. */
struct guest *guest_create(const struct options *opts, unsigned index, bool tee_stdout);

/* Start the vCPU threads. Returns 0 or -errno (then nothing runs). */
int guest_start(struct guest *g);

/* Ask the guest to stop: every vCPU leaves KVM_RUN and its thread exits. Non-blocking.
 * Returns -EALREADY if it already ended or is stopping. */
int guest_request_stop(struct guest *g);

/* Mark the guest dead for @why (first reason wins) and make its vCPUs exit. Non-blocking;
 * called from a vCPU thread on a fatal exit. */
void guest_die(struct guest *g, const char *why);

/* Record that a workload guest filled its memory. Returns false if it was already ready. */
bool guest_mark_ready(struct guest *g);
enum guest_state guest_get_state(struct guest *g);

/* Called by each vCPU thread as it exits. */
void guest_vcpu_exited(struct guest *g);

/* Has the merge engine asked the vCPUs to stay out of the guest? (vCPU threads) */
bool guest_pause_requested(struct guest *g);

/* Block until the pause is over or the guest is stopping. (vCPU threads) */
void guest_wait_unpaused(struct guest *g);

/* Tell a pausing engine that a vCPU just left KVM_RUN. (vCPU threads) */
void guest_notify_out(struct guest *g);

/* Stop every writer of @g's RAM: no vCPU in KVM_RUN, no VMM writer inside
 * guest_write_begin/end. request asks (and kicks the vCPUs), wait returns when it
 * holds; undo with guest_resume. */
void guest_request_pause(struct guest *g);
void guest_wait_paused(struct guest *g);
void guest_resume(struct guest *g);

/* Fill @bitmap with the pages of region @r written since the last call (KVM's dirty log
 * plus VMM writes), and reset. Returns 0 or -errno. */
int guest_fetch_dirty(struct guest *g, unsigned r, uint64_t *bitmap);

/* Writes by the VMM into guest RAM go between these two: begin returns the host
 * pointer to [gpa, gpa+len) (NULL if out of range, nothing held), end marks the pages
 * written so the merge engine sees them like guest writes. */
void *guest_write_begin(struct guest *g, uint64_t gpa, uint64_t len);
void guest_write_end(struct guest *g, uint64_t gpa, uint64_t len);

/* Join every vCPU thread and free everything. The guest must be stopping or ended. */
void guest_destroy(struct guest *g);

#endif
