/* guest.h - one guest of the fleet: its KVM VM, RAM, devices, vCPUs and lifecycle. */
#ifndef VMM_GUEST_H
#define VMM_GUEST_H

#include <pthread.h>
#include <stdbool.h>

#include "vmm/devices/bus.h"
#include "vmm/mem.h"
#include "vmm/options.h"
#include "vmm/pause.h"
#include "vmm/ram.h"
#include "vmm/x86.h"

/* The life of a guest (fleet reports show guest_state_name). */
enum guest_state {
	GUEST_STARTING, /* created, vCPUs not yet running */
	GUEST_RUNNING,	/* vCPUs running */
	GUEST_STOPPING, /* stop requested, vCPUs leaving */
	GUEST_STOPPED,	/* stopped on request */
	GUEST_DEAD,	/* died: triple fault, internal error, bad exit */
};

/* Printable name of @s ("running", "dead", ...). */
const char *guest_state_name(enum guest_state s);

struct vcpu;
struct devices;
struct wl_dev;
struct ksm_vm;

struct guest {
	char name[64];
	uint8_t uuid[16]; /* the libvirt domain's, or random for `ksmvmm run` guests */
	char group[32];	  /* sharing group name */
	unsigned index;	  /* position in the fleet */
	enum guest_kind kind;
	int vm_fd;
	struct guest_mem mem;
	struct bus bus;		 /* filled before the vCPUs run, read-only after */
	struct devices *devices; /* its device table (vmm/devices/table.h) */
	int console_fd;		 /* owned; -1 when the console is discarded */
	struct wl_dev *wl;	 /* the workload device (one of devices); NULL for Linux */
	struct x86_boot boot;
	struct options def;  /* what it was made from (a snapshot saves its guest fields) */
	uint64_t generation; /* the generation ID it runs with (new for a restored guest) */
	unsigned nr_vcpus;
	struct vcpu *vcpus[OPT_MAX_CPUS];

	/* The merge engine pauses the guest through @pause (pause_request/wait/resume) and
	 * reads its dirty pages through @ram (ram_fetch_dirty); devices write RAM via @ram. */
	struct pause pause;
	struct guest_ram ram;
	struct ksm_vm *ksm_vm; /* its registration with the merge engine, or NULL */

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

/* The same machine without loading anything: RAM left empty, devices in their reset
 * state, vCPUs set up from @boot (its CPUID choices: linux_cpuid, enable_avx) for a
 * restore to load saved state into before guest_start. */
struct guest *guest_create_blank(const struct options *o, unsigned index, bool tee_stdout,
				 const struct x86_boot *boot);

/* A Linux guest was given a new g->generation (restored, or cloned) before it runs:
 * write its ACPI generation ID and raise the event that makes its kernel read it. A
 * kernel booted without our ACPI tables (an older snapshot) keeps what it has, with a
 * note in the log. Returns 0 or -errno (logged). */
int guest_new_genid(struct guest *g);

/* A version 4 (random) UUID. */
void guest_random_uuid(uint8_t uuid[16]);

/* Start the vCPU threads. Returns 0 or -errno (then nothing runs). */
int guest_start(struct guest *g);

/* Ask the guest to stop: every vCPU leaves KVM_RUN and its thread exits. Non-blocking.
 * Returns -EALREADY if it already ended or is stopping. */
int guest_request_stop(struct guest *g);

enum guest_state guest_get_state(struct guest *g);

/* Join every vCPU thread and free everything. The guest must be stopping or ended. */
void guest_destroy(struct guest *g);

#endif
