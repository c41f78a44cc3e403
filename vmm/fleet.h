/* fleet.h - N identical guests in one process: start, query, verify, stop.
 *
 * Thread rules: every function here may be called from any thread (the control
 * socket calls them from the GLib main loop and from worker threads). A guest keeps its
 * slot (index) for its life; stopped and dead guests keep it until fleet_remove_guest
 * (only dynamic fleets remove guests). Empty slots answer -ENOENT.
 */
#ifndef VMM_FLEET_H
#define VMM_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest.h" /* enum guest_state */
#include "vmm/devinfo.h"
#include "vmm/guest_abi.h"
#include "vmm/options.h"

struct fleet;
struct snapshot_src;

/* A snapshot of one guest for reports. */
struct fleet_guest_info {
	char name[64];
	uint8_t uuid[16];
	char uuid_str[37]; /* 8-4-4-4-12 lower-case hex */
	enum guest_state state;
	uint64_t mem_bytes;
	unsigned cpus;
	bool workload;	  /* a workload guest (supports verify) */
	bool ready;	  /* workload guest reported READY (memory filled) */
	char reason[160]; /* why it is dead or stopped; "" otherwise */
	char group[32];	  /* sharing group ("none": opted out) */
	unsigned nr_ram;  /* RAM regions: guest-physical start, host address, size */
	struct {
		uint64_t gpa, hva, size;
	} ram[2];
};

/* Create every guest of @opts (VMs, memory, loaders, devices) without running them.
 * Returns NULL after printing one clear error; nothing is left behind. */
struct fleet *fleet_create(const struct options *opts);

/* Start all vCPU threads. Returns 0 or -errno (the fleet is then stopped). */
int fleet_start(struct fleet *f);

/* A fleet with no guests yet that takes them at run time (`ksmvmm serve`, libvirt):
 * @base gives the fleet-wide settings (merge mode, engine tunables, console directory).
 * Its merge engine runs from fleet_start on. Returns NULL after one clear error. */
struct fleet *fleet_create_dynamic(const struct options *base);

/* True for a fleet of fleet_create_dynamic. */
bool fleet_is_dynamic(struct fleet *f);

/* Build and start one guest of a dynamic fleet from @o (count 1, name_exact) and
 * register it with the engine. Returns its slot, or -errno with the reason in @err
 * (-EEXIST: a guest of that name is in the fleet, -ENOSPC: no free slot). */
int fleet_add_guest(struct fleet *f, const struct options *o, char *err, size_t len);

/* Build and start one guest of a dynamic fleet from snapshot @s (vmm/fleet_clone.c), as
 * `ksmvmm run --restore` does: @o from snapshot_open, with count 1, name_exact and the
 * domain's name and UUID. The guest is built blank with every saved state loaded, its RAM
 * maps the engine's image of the snapshot (copied without the engine), and it takes a
 * new identity before it runs. @s is closed either way. Returns its slot, or -errno with
 * the reason in @err (-EEXIST: a guest of that name is in the fleet). Blocks while the
 * snapshot's memory is read into the pool. */
int fleet_restore_guest(struct fleet *f, struct snapshot_src *s, const struct options *o, char *err,
			size_t len);

/* Take an ended guest out of its slot; its memory is freed once no request uses it.
 * Returns 0, -ENOENT, or -EBUSY while it runs (stop it first). */
int fleet_remove_guest(struct fleet *f, size_t i);

/* Called (from a vCPU thread) each time a guest stops or dies, with its slot; may be
 * NULL. */
void fleet_set_end_callback(struct fleet *f, void (*cb)(void *opaque, size_t slot), void *opaque);

/* Number of guest slots (some may be empty in a dynamic fleet). */
size_t fleet_count(struct fleet *f);

/* Index of the guest called @name, or -ENOENT. */
int fleet_find(struct fleet *f, const char *name);

/* Fill @out for guest @i. Returns 0 or -ENOENT. */
int fleet_info(struct fleet *f, size_t i, struct fleet_guest_info *out);

/* Guests not yet stopped or dead. */
size_t fleet_live(struct fleet *f);

/* Ask guest @i to stop (asynchronous: its vCPUs leave KVM_RUN and exit).
 * Returns 0, -ENOENT, or -EALREADY if it already ended. */
int fleet_stop_guest(struct fleet *f, size_t i);

/* Stop every guest and join all threads. Idempotent. */
void fleet_stop_all(struct fleet *f);

/* Make workload guest @i verify all its pages; blocks up to @timeout_ms.
 * Returns 0 with *ok / *bad set, -ENOENT, -ENOTSUP (not a workload guest), -ESRCH (not
 * running), -EBUSY (a verify is already in progress), -ETIMEDOUT. */
int fleet_verify_guest(struct fleet *f, size_t i, int timeout_ms, uint64_t *ok, uint64_t *bad);

/* First-write cost measured by a workload guest (WL_REQ_PROBE). */
struct fleet_probe {
	uint64_t samples; /* stores timed */
	uint64_t p50_ns, p99_ns, max_ns;
};

/* Make workload guest @i time the first store to up to @pages of its shared pages per
 * vCPU (merged ones, once merging converged), blocking up to @timeout_ms. Returns 0 with
 * @out filled, or the errors of fleet_verify_guest, or -ENODATA (no TSC frequency). */
int fleet_probe_guest(struct fleet *f, size_t i, uint32_t pages, int timeout_ms,
		      struct fleet_probe *out);

/* Stalls a workload guest noticed while it watched (WL_REQ_WATCH). */
struct fleet_watch {
	uint64_t threshold_ns;		 /* a gap longer than this between two reads is a stall */
	uint64_t watched_ns;		 /* time watched, summed over its vCPUs */
	uint64_t reads;			 /* timed reads */
	uint64_t stalls;		 /* stalls seen */
	uint64_t stalled_ns;		 /* their total length */
	uint64_t p50_ns, p99_ns, max_ns; /* over the recorded stalls; 0 without any */
	size_t nsamples;		 /* stalls recorded, sorted, in @stall_ns */
	uint32_t stall_ns[WL_WATCH_MAX];
};

/* Make workload guest @i watch for stalls longer than @threshold_us for @ms, blocking
 * until it is done. Returns 0 with @out filled, or the errors of fleet_probe_guest. */
int fleet_watch_guest(struct fleet *f, size_t i, uint32_t ms, uint32_t threshold_us,
		      struct fleet_watch *out);

/* Make workload guest @i triple-fault (tests). Returns 0, -ENOENT, -ENOTSUP, -ESRCH. */
int fleet_fault_guest(struct fleet *f, size_t i);

/* Make workload guest @i post bad request @kind (enum wl_hostile) to its virtio device
 * @dev (tests; see wl_dev_hostile). Returns 0, -EINVAL, -ENOENT, -ENOTSUP, -ESRCH. */
int fleet_hostile_guest(struct fleet *f, size_t i, uint32_t dev, uint32_t kind);

/* Fork running guest @i into @n clones (vmm/fleet_clone.c): new guests named NAME-1,
 * NAME-2, ... that go on from its state, share all of its memory at once through the
 * engine (it shares with them too) and each take a new identity. Blocks while the
 * parent's RAM is copied into the pool: call from a worker thread. @names gets the
 * clones made, space separated. Returns 0 or -errno with a reason in @err (clones made
 * before a failure stay). */
int fleet_clone_guest(struct fleet *f, size_t i, unsigned n, char *names, size_t names_len,
		      char *err, size_t len);

/* Save guest @i to the new directory @dir (vmm/snapshot.h); it is paused meanwhile and
 * goes on. Blocks for as long as the memory takes to write: call from a worker thread.
 * Returns 0, -ENOENT (no guest there) or -errno with a one-line reason in @err. */
int fleet_snapshot_guest(struct fleet *f, size_t i, const char *dir, char *err, size_t len);

/* Fill up to @max entries of @out with guest @i's devices. Returns how many (0.. the
 * guest's device count), or -ENOENT. Safe while the guest runs (counters are read
 * without stopping anything, so they may be a moment apart). */
int fleet_devices(struct fleet *f, size_t i, struct fleet_device *out, size_t max);

/* Set guest @i's balloon target to @bytes (rounded down to 4 KiB pages): the guest's
 * driver inflates or deflates towards it. Returns 0, -ENOENT, -ENODEV (no balloon),
 * -ERANGE (more than the guest's RAM), -ESRCH (not running). */
int fleet_balloon(struct fleet *f, size_t i, uint64_t bytes);

/* The balloon of a guest and the statistics its driver last sent. */
struct fleet_balloon_stats {
	uint64_t actual_bytes; /* memory in the balloon (taken from the guest) */
	uint64_t val[16];      /* by VIRTIO_BALLOON_S_* tag: bytes, or counts for faults */
	uint32_t valid;	       /* bit per tag the guest sent */
	uint64_t age_us;       /* since that update; UINT64_MAX: none yet */
};

/* Fill @out for guest @i; @refresh: also ask its driver for fresh statistics (they come
 * a moment later). Returns 0, -ENOENT, -ENODEV (no balloon). */
int fleet_balloon_stats(struct fleet *f, size_t i, bool refresh, struct fleet_balloon_stats *out);

struct ksm_stats;
struct ksm_vm_stats;

/* Merge engine figures: fills @s and up to @max per-guest entries of @vms (in fleet
 * order). Returns the number of entries, or -ENOTSUP when the fleet runs without
 * --merge=vmm. */
int fleet_merge_stats(struct fleet *f, struct ksm_stats *s, struct ksm_vm_stats *vms, size_t max);

/* Guest x guest sharing (ksm_matrix): @out[a * n + b] = pool pages mapped by both guest
 * a and guest b (the diagonal: pool pages guest a maps), for the first @n guests in fleet
 * order. Takes the engine lock (waits for a running pass): call from a worker thread,
 * never from the main loop. Returns the guests filled, -ENOTSUP without --merge=vmm, or
 * -ENOMEM. */
int fleet_merge_matrix(struct fleet *f, uint64_t *out, size_t n);

/* Set an engine tunable at run time. Returns 0, -ENOTSUP, -ENOENT or -ERANGE. */
int fleet_set_tunable(struct fleet *f, const char *key, uint64_t value);

/* The merge mode the fleet runs with. */
enum merge_mode fleet_merge_mode(struct fleet *f);

/* 0 if every guest ended by request, 1 if any died. */
int fleet_exit_status(struct fleet *f);

/* Stop everything and free the fleet. */
void fleet_destroy(struct fleet *f);

#endif
