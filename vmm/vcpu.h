/* vcpu.h - a vCPU: its KVM fd, register setup from struct x86_boot, and its run loop thread. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <stdbool.h>

#include "vmm/x86.h"

struct guest;
struct vcpu;

/* Create vCPU @id of @g and load its registers from @boot. Returns NULL after an error. */
struct vcpu *vcpu_create(struct guest *g, unsigned id, const struct x86_boot *boot);

/* Start the run-loop thread. Returns 0 or -errno. */
int vcpu_start(struct vcpu *v);

/* Make the vCPU leave KVM_RUN and its thread exit soon. Safe from any thread. */
void vcpu_request_stop(struct vcpu *v);

/* True while the vCPU thread is in KVM_RUN or about to enter it. Pairs with the pause
 * check in the run loop: after guest_pause() set pause_req, a vCPU seen outside stays out. */
bool vcpu_in_guest(struct vcpu *v);

/* Make the vCPU leave KVM_RUN now; it re-enters unless paused or stopped. */
void vcpu_kick(struct vcpu *v);

/* The guest TSC frequency in kHz, or 0 if KVM cannot say. */
unsigned long vcpu_tsc_khz(struct vcpu *v);

/* Join the thread (if started) and free the vCPU. */
void vcpu_destroy(struct vcpu *v);

/* Index of the vCPU whose thread calls this (device handlers use it), 0 elsewhere. */
unsigned vcpu_self_id(void);

/* Install the signal used to kick vCPUs out of KVM_RUN. Call once from main(). */
int vcpu_init_signals(void);

#endif
