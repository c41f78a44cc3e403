/* guest_abi.h - the contract between the VMM and the workload guest (tests/guest/workload).
 *
 * Shared verbatim by the hosted VMM and the freestanding guest, so it uses only
 * fixed-width integers. Guest-physical addresses equal guest-virtual ones: the VMM
 * identity-maps all guest RAM with 2 MiB pages, user-accessible, and enters the guest
 * in 64-bit mode at CPL3 with IOPL 3, so the guest talks to the VMM with plain port I/O.
 *
 * Layout of guest-physical memory for a workload guest:
 *   0x00001000  GDT (built by the VMM)
 *   0x00002000  struct wl_params (written by the VMM before the first KVM_RUN)
 *   0x00003000  first-write probe samples (WL_PROBE_GPA), then stall watch samples
 *               (WL_WATCH_GPA, up to 0xc000)
 *   0x0000c000  lineage tables (WL_LINEAGE_GPA): per vCPU, the identities it has had
 *               (up to 0xf000)
 *   0x00010000  page tables: PML4, PDPT, then one PD per GiB of guest-physical space
 *   0x00060000  vCPU stacks, WL_STACK_SIZE each, the stack of vCPU i ends at
 *               WL_STACK_TOP - i * WL_STACK_SIZE
 *   0x00080000  the guest's virtio driver: WL_VIRTIO_SLOT bytes per device (queues, buffers)
 *   0x00100000  the guest image (flat binary, entry at its first byte), at most 1 MiB
 *   0x00200000  version table: one uint32_t per profile page: its version tag (below)
 *   params.regions  the profile pages, in order of page index
 *
 * Entry state of vCPU i: RIP = WL_LOAD_GPA, RSP = its stack top, RDI = i,
 * RSI = WL_PARAMS_GPA; CR4 has OSFXSR|OSXMMEXCPT (and OSXSAVE with XCR0 = x87|SSE|AVX
 * when params.has_avx).
 */
#ifndef VMM_GUEST_ABI_H
#define VMM_GUEST_ABI_H

#include <stdint.h>

#include "lib/page.h"

#define WL_GDT_GPA 0x1000ull
#define WL_PARAMS_GPA 0x2000ull
#define WL_PT_GPA 0x10000ull
#define WL_MAX_PD 64 /* guest-physical space mapped: 64 GiB */
#define WL_STACK_TOP 0x80000ull
#define WL_STACK_SIZE 0x4000ull
#define WL_LOAD_GPA 0x100000ull
#define WL_IMAGE_MAX 0x100000ull
#define WL_VERSIONS_GPA 0x200000ull
#define WL_PROBE_GPA 0x3000ull /* uint32_t TSC ticks of probed first stores */
#define WL_PROBE_MAX 1024      /* samples that fit there */
#define WL_WATCH_GPA 0x4000ull /* uint32_t TSC ticks of the stalls a watch saw */
#define WL_WATCH_MAX 8192      /* samples that fit there (up to 0xc000) */

#define WL_VIRTIO_GPA 0x80000ull /* virtio queues and buffers of the guest's driver */
#define WL_VIRTIO_SLOT 0x8000ull /* per device: 4 queue pages, then 4 buffer pages */
#define WL_MAX_VIRTIO 8		 /* devices that fit there (up to 0xc0000) */

/* Identity and lineage. An instance of the workload guest has an identity: its guest
 * index and its unique seed, from which it derives the contents only it writes (dup and
 * unique pages, odd versions), and a generation ID, which only names the instance. A
 * snapshot restored N times, or a live clone, repeats one memory image: the VMM gives
 * each instance a new identity (WL_REQ_RESTORED) and from then on it writes under it.
 * Pages written before keep the content of the identity that wrote them, so each vCPU
 * keeps a lineage table: the identities it has had, oldest first, entry 0 the one it
 * booted with. Each vCPU's table is its own (it writes and reads only its own), at
 * WL_LINEAGE_GPA + cpu * WL_LINEAGE_STRIDE.
 *
 * A version tag (the version table's entry for a page) is (entry << WL_VERSION_SHIFT) |
 * count: the lineage entry of the owning vCPU under which the page was last written, and
 * its version count (0: the fill's content; the mutator counts on, wrapping from
 * WL_VERSION_COUNT_MAX back to 1). entry < WL_LINEAGE_MAX, so no tag equals
 * WL_VERSION_GONE. When a vCPU's table is full, the next identity replaces the whole
 * table: the vCPU first rewrites its pages whose content depends on the identity under
 * the new one, and retags the others, all to entry 0. */
#define WL_LINEAGE_GPA 0xc000ull
#define WL_LINEAGE_MAX 64 /* identities per vCPU table */
#define WL_VERSION_SHIFT 24
#define WL_VERSION_COUNT_MAX 0xffffffu

/* Version table entry of a page the guest gave away (reported free or in the balloon):
 * neither verified nor mutated until the guest takes it back and rewrites it. */
#define WL_VERSION_GONE 0xffffffffu

#define WL_MAX_CPUS 8
#define WL_MAX_REGIONS 4
#define WL_PAGE_SIZE PAGE_SIZE /* the one page size, shared with the guest */

#define WL_MAGIC 0x4b534d574c4f4144ull /* "KSMWLOAD" */
#define WL_ABI_VERSION 5

/* Ports. COM1 (0x3f8) is the console: the guest writes bytes to its THR. */
#define WL_PORT_CONSOLE 0x3f8
/* out dword: a command (enum wl_cmd); arguments are in struct wl_params. */
#define WL_PORT_CMD 0x510
/* out dword: arm a timeout in microseconds (0 = none) for the next wait.
 * in dword: block until the VMM posts a request or the timeout passes; returns the
 * request (enum wl_req), WL_REQ_NONE on timeout. */
#define WL_PORT_WAIT 0x514
/* in dword: the TSC rate in kHz as KVM runs this vCPU (0 = unknown: calibrate). */
#define WL_PORT_TSC_KHZ 0x518

enum wl_cmd {
	WL_CMD_READY = 1,	  /* all vCPUs filled their pages (sent once, by the last) */
	WL_CMD_VERIFY_DONE = 2,	  /* verify_ok / verify_bad hold the totals (sent by the last) */
	WL_CMD_PANIC = 3,	  /* the guest found its parameters unusable; it printed why */
	WL_CMD_PROBE_DONE = 4,	  /* probe_count samples are at WL_PROBE_GPA (sent by the last) */
	WL_CMD_WATCH_DONE = 5,	  /* watch_* hold the totals, samples at WL_WATCH_GPA (last) */
	WL_CMD_RESTORED_DONE = 6, /* this vCPU took the identity of WL_REQ_RESTORED (each) */
};

enum wl_req {
	WL_REQ_NONE = 0,
	WL_REQ_VERIFY = 1,  /* verify every owned page, add to verify_ok/bad, report */
	WL_REQ_FAULT = 2,   /* execute ud2 with no IDT: a real triple fault (tests) */
	WL_REQ_PROBE = 3,   /* time the first store to up to probe_pages shared pages each */
	WL_REQ_WATCH = 4,   /* spin for watch_ms timing every gap longer than the threshold */
	WL_REQ_HOSTILE = 5, /* vCPU 0 posts a bad request to a device (hostile_*; tests) */
	/* Every vCPU takes the identity now in guest_index / unique_seed / generation,
	 * appends it to its lineage table and answers WL_CMD_RESTORED_DONE; vCPU 0 prints
	 * "RESTORED generation=<hex> guest=<n> lineage=<entries>". Served before any other
	 * request waiting for the same vCPU. */
	WL_REQ_RESTORED = 6,
};

/* What WL_REQ_HOSTILE makes vCPU 0 post on virtio device hostile_dev, as a hostile driver
 * would; the device must end in DEVICE_NEEDS_RESET. Afterwards the guest leaves the
 * device alone, except WL_HOSTILE_RESET, which resets it and runs its check again. */
enum wl_hostile {
	WL_HOSTILE_RESET = 0,	  /* not an attack: reset the device and check it again */
	WL_HOSTILE_OUTSIDE = 1,	  /* a descriptor whose buffer lies outside RAM */
	WL_HOSTILE_LOOP = 2,	  /* a chain whose last descriptor points back at the first */
	WL_HOSTILE_DIRECTION = 3, /* a device-writable buffer where the device reads */
	WL_HOSTILE_OVERSIZE = 4,  /* a block request larger than the device's limits */
	WL_HOSTILE_AVAIL = 5,	  /* an avail index more than a queue size ahead */
	WL_HOSTILE_COUNT,
};

enum wl_placement {
	WL_PLACE_SAME = 0,     /* shared page j sits at the same page index in every guest */
	WL_PLACE_SHUFFLED = 1, /* shared pages are permuted differently per guest */
};

struct wl_region {
	uint64_t gpa;	 /* page aligned */
	uint64_t npages; /* profile pages in this region */
};

/* One virtio-mmio device of the guest, in the order of the VMM's device table. */
struct wl_virtio_dev {
	uint64_t base;	    /* guest-physical address of its register window */
	uint32_t device_id; /* virtio device ID: 3 console, 2 block, 4 rng, 5 balloon */
	uint32_t pad;
};

/* One entry of a lineage table (written by the guest). */
struct wl_identity {
	uint64_t generation;  /* generation ID of the instance (for people: never in content) */
	uint64_t seed;	      /* unique seed: params.unique_seed, or params.seed if that was 0 */
	uint32_t guest_index; /* params.guest_index */
	uint32_t pad;
};

#define WL_LINEAGE_STRIDE (WL_LINEAGE_MAX * sizeof(struct wl_identity))

struct wl_params {
	uint64_t magic;	      /* WL_MAGIC */
	uint32_t abi_version; /* WL_ABI_VERSION */
	uint32_t nr_cpus;     /* vCPUs running the workload, 1..WL_MAX_CPUS */
	/* Current identity (see "Identity and lineage"): at boot 0..nr_guests-1, distinct
	 * per guest of the fleet; rewritten by the VMM before it posts WL_REQ_RESTORED. It
	 * also picks the SHUFFLED permutation, but only the boot value: a restored instance
	 * keeps its parent's placement. */
	uint32_t guest_index;
	uint32_t has_avx; /* 1: AVX stores usable (XCR0 set by the VMM) */
	uint64_t seed;	  /* fleet seed: shared content depends only on it */

	/* Profile, in percent of the profile pages; the rest is unique. */
	uint32_t pct_zero;
	uint32_t pct_shared;
	uint32_t pct_dup;
	uint32_t placement;   /* enum wl_placement */
	uint32_t mutate_pct;  /* percent of profile pages in the mutating working set */
	uint32_t mutate_rate; /* pages rewritten per second per guest (0 = no mutation) */

	uint32_t nr_regions;
	uint32_t pad0;
	struct wl_region regions[WL_MAX_REGIONS];
	uint64_t total_pages; /* sum of regions[].npages */

	/* Written by the guest (lock-prefixed adds), reset by the VMM before a request. */
	uint64_t ready_cpus;   /* vCPUs done filling */
	uint64_t verify_cpus;  /* vCPUs done verifying in this round */
	uint64_t verify_ok;    /* pages that matched */
	uint64_t verify_bad;   /* pages that did not */
	uint64_t mutations;    /* page rewrites done since start (all vCPUs) */
	uint64_t pages_filled; /* pages written by the fill phase (all vCPUs) */

	/* SHUFFLED permutes extents of this many shared pages (0 or 1: single pages);
	 * pages inside an extent stay in order, as runs of identical memory do. */
	uint32_t shuffle_extent;
	/* 1: the VMM loaded the profile pages from a RAM image (e.g. a Linux guest's memory
	 * dump) instead of the guest filling them; the guest records a 32-bit checksum of
	 * each page in the version table and verify checks against it. No mutation. */
	uint32_t image_mode;

	/* First-write probe (WL_REQ_PROBE). The VMM sets probe_pages (per vCPU) and resets
	 * the counters; each vCPU times the first store to that many of its shared,
	 * never-rewritten pages (merged ones, once merging converged) and moves them to
	 * version 1. Ticks go to WL_PROBE_GPA[probe_count++] (at most WL_PROBE_MAX). */
	uint32_t probe_pages;
	uint32_t pad2;
	uint64_t probe_cpus;  /* vCPUs done probing in this round */
	uint64_t probe_count; /* samples taken (may exceed WL_PROBE_MAX: extras dropped) */

	/* Stall watch (WL_REQ_WATCH). The VMM sets watch_ms (1..WL_WATCH_MAX_MS) and
	 * watch_threshold_us (1..1000) and resets the counters; each vCPU reads one word
	 * of its pages in turn for watch_ms, timing every read with the TSC. A gap above
	 * the threshold between two reads is a stall the guest noticed: its vCPU was
	 * paused, it faulted on a remapped page, or the host preempted it. Stall lengths
	 * go to WL_WATCH_GPA[watch_count++] (at most WL_WATCH_MAX, in ticks). */
	uint32_t watch_ms;
	uint32_t watch_threshold_us;
	uint64_t watch_cpus;	    /* vCPUs done watching in this round */
	uint64_t watch_count;	    /* stalls seen (may exceed WL_WATCH_MAX: extras dropped) */
	uint64_t watch_stall_ticks; /* their total length */
	uint64_t watch_ticks;	    /* time watched, summed over vCPUs */
	uint64_t watch_reads;	    /* timed reads, summed over vCPUs */

	/* Devices. vCPU 0 drives every virtio device with the guest's own driver after
	 * the fill: console (prints a line), rng (reads entropy), each disk (writes a
	 * region near its end and reads it back, or checks that a read-only disk refuses
	 * the write), balloon (follows the target the VMM sets, checked every 100 ms).
	 * With pct_free, it reports that percentage of its own shared pages free through
	 * the balloon's free page reporting queue, WL_FREE_DELAY_MS after READY. */
	uint32_t nr_virtio;
	uint32_t pct_free;
	struct wl_virtio_dev virtio[WL_MAX_VIRTIO];
	/* Written by vCPU 0. */
	uint64_t vio_ok;	 /* bit i: device i passed its check */
	uint64_t vio_failed;	 /* bit i: device i failed it (the guest printed why) */
	uint64_t pages_reported; /* pages reported free so far */
	uint64_t balloon_pages;	 /* pages in the balloon now */

	/* Set by the VMM before it posts WL_REQ_HOSTILE; the guest copies them once. */
	uint32_t hostile_dev;  /* index into virtio[] */
	uint32_t hostile_kind; /* enum wl_hostile */
	/* Written by vCPU 0 when it has posted the request: the number of requests done. */
	uint64_t hostile_done;

	/* Identity, with guest_index above: written by the VMM at boot and before each
	 * WL_REQ_RESTORED, read by every vCPU when it takes the request. */
	uint64_t generation;  /* random per instance, new at every restore or clone */
	uint64_t unique_seed; /* seed of this instance's own contents; 0: use seed */
	/* Written by each vCPU: entries in its lineage table (1 after boot). */
	uint32_t lineage_len[WL_MAX_CPUS];
};

/* The low areas do not overlap. */
_Static_assert(WL_WATCH_GPA + WL_WATCH_MAX * 4 <= WL_LINEAGE_GPA, "watch samples overlap");
_Static_assert(WL_LINEAGE_GPA + WL_MAX_CPUS * WL_LINEAGE_STRIDE <= WL_PT_GPA,
	       "lineage tables overlap the page tables");
_Static_assert(WL_LINEAGE_MAX - 1 < (WL_VERSION_GONE >> WL_VERSION_SHIFT),
	       "a version tag could equal WL_VERSION_GONE");

#define WL_FREE_DELAY_MS 2000

#define WL_WATCH_MAX_MS 60000

#endif
