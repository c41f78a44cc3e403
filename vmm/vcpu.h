/* vcpu.h - a vCPU: its KVM fd, register setup from struct x86_boot, and its run loop thread. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <stdbool.h>

#include "vmm/devices/bus.h"
#include "vmm/mem.h"
#include "vmm/pause.h"
#include "vmm/x86.h"

struct vcpu;

/* What a vCPU needs of the machine it runs in: all of it outlives the vCPU. The callbacks
 * run on the vCPU's thread. */
struct vcpu_host {
	const char *name;	     /* the guest's, for logs and the thread name */
	int vm_fd;		     /* KVM VM the vCPU is created in */
	const struct bus *bus;	     /* port I/O and MMIO exits go here */
	const struct guest_mem *mem; /* RAM, for the instruction fixups of Linux guests */
	struct pause *pause;	     /* the vCPU takes part as number @id */
	bool linux_guest;	     /* fixups on; unclaimed ports are not reported */
	/* A fatal exit (@why says which): the host must make every vCPU stop. */
	void (*die)(void *opaque, const char *why);
	/* The run loop ended; the thread's last call. */
	void (*exited)(void *opaque);
	void *opaque;
};

/* Create vCPU @id (< PAUSE_MAX_VCPUS) of @host's VM and load its registers from @boot.
 * @host is copied. Returns NULL after an error. */
struct vcpu *vcpu_create(const struct vcpu_host *host, unsigned id, const struct x86_boot *boot);

/* Start the run-loop thread. Returns 0 or -errno. */
int vcpu_start(struct vcpu *v);

/* Make the vCPU leave KVM_RUN and its thread exit soon. Safe from any thread. A vCPU
 * parked by a pause exits once the pause is over. */
void vcpu_request_stop(struct vcpu *v);

/* Make the vCPU leave KVM_RUN now; it re-enters unless paused or stopped (the kick of
 * pause_request). */
void vcpu_kick(struct vcpu *v);

/* The vCPU's KVM fd, for saving and loading its state (vmm/vmstate.h) while it is not in
 * KVM_RUN: before it starts, or parked by a pause. */
int vcpu_fd(const struct vcpu *v);

/* The guest TSC frequency in kHz, or 0 if KVM cannot say. */
unsigned long vcpu_tsc_khz(struct vcpu *v);

/* Join the thread (if started) and free the vCPU. */
void vcpu_destroy(struct vcpu *v);

/* Index of the vCPU whose thread calls this (device handlers use it), 0 elsewhere. */
unsigned vcpu_self_id(void);

/* Install the signal used to kick vCPUs out of KVM_RUN. Call once from main(). */
int vcpu_init_signals(void);

#endif
