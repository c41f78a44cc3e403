/* internal.h - the engine's data structures, shared by the files of ksm/ (no functions:
 * each module declares its own in its .h). */
#ifndef KSM_INTERNAL_H
#define KSM_INTERNAL_H

#include <pthread.h>

#include "ksm/index.h"
#include "ksm/ksm.h"
#include "ksm/pool.h"
#include "ksm/stall.h"
#include "ksm/vmas.h"
#include "lib/page.h"

/* First-touched pages per second above which the fleet counts as filling memory. */
#define KSM_FILL_STORM_RATE 2560
/* Calm passes in a row that end a storm. */
#define KSM_CALM_PASSES 2
/* Passes merging may be held back in a row for that. */
#define KSM_MAX_HELD 1500
/* While merging is held back, passes come at least this often (ms), so that merging
 * starts soon after the storm ends. */
#define KSM_HOLD_INTERVAL_MS 20

/* Pages to hash in one pass from which a helper thread takes half (scan.c). */
#define KSM_PARALLEL_HASH_MIN 8192

/* Scratch arrays (queued actions, pool pages created) larger than this many entries are
 * freed after each pass rather than kept. */
#define KSM_KEEP_SCRATCH 4096

/* What a guest page is, from the engine's point of view. */
enum ksm_page_kind {
	KSM_PAGE_PLAIN,	 /* the guest's own anonymous (or COW-copied) page */
	KSM_PAGE_MERGED, /* maps pool page ->canon, uncopied */
	KSM_PAGE_ZERO,	 /* released: reads see the host zero page */
};

#define KSM_PF_HASHED 0x1    /* ->hash matches the content as of the last clean pass */
#define KSM_PF_VOLATILE 0x2  /* written during the last pass */
#define KSM_PF_POOLVMA 0x4   /* lies in a pool mapping (MADV_DONTNEED would bring pool data back) */
#define KSM_PF_PLANNED 0x8   /* an action for it is queued in this pass */
#define KSM_PF_EMPTY 0x10    /* ZERO only: was never backed by memory, nothing was released */
#define KSM_PF_UNSTABLE 0x20 /* PLAIN and hashed: in the unstable index under its hash */
#define KSM_PF_COOLING 0x40  /* copied on write after a merge: not planned until ->cool says */
#define KSM_PF_REPORTED 0x80 /* ZERO and EMPTY: the guest gave it back (reported free) */

struct ksm_page {
	uint64_t hash;	/* xxh3-64, valid with KSM_PF_HASHED */
	uint32_t canon; /* pool page, valid for KSM_PAGE_MERGED and while PLANNED */
	uint8_t kind;	/* enum ksm_page_kind */
	uint8_t flags;	/* KSM_PF_* */
	uint16_t cool;	/* bits 14-15: copy-on-write breaks so far (at most 3); bits 0-13:
			 * the pass (mod 16384) at which KSM_PF_COOLING ends */
};

/* A page the guest keeps rewriting would be merged and copied again and again, each
 * time a pause for the merge and a fault for the guest. After its n-th copy-on-write
 * break a page waits KSM_COOL_PASSES << 2(n-1) passes (10, 40, 160) before it is
 * considered again. */
#define KSM_COOL_PASSES 10

/* A queued change to one guest page, executed while its VM is paused. */
struct ksm_action {
	uint64_t page;	/* page index in the VM */
	uint32_t canon; /* pool page to map, or KSM_POOL_NONE to release as zero */
};

struct ksm_vm {
	struct ksm_vm *next;
	char name[64];
	uint32_t group;
	unsigned nr_regions;
	struct ksm_region regions[KSM_MAX_REGIONS];
	uint64_t first_page[KSM_MAX_REGIONS]; /* page index of each region's first page */
	uint64_t npages;
	uint32_t base; /* unstable index id of page 0: ids are fleet-wide */
	struct ksm_page *pages;
	uint64_t *dirty[KSM_MAX_REGIONS];    /* scratch: each region's dirty bitmap of this pass */
	uint64_t *reported[KSM_MAX_REGIONS]; /* scratch: pages given back during this pass */
	struct ksm_action *actions;
	uint64_t nr_actions, cap_actions;
	const struct ksm_vm_ops *ops;
	void *opaque;
	/* Counters (engine thread writes, stats reads under k->lock). */
	uint64_t merges;	 /* pages merged over its life */
	uint64_t adopted;	 /* pages mapped from an image by ksm_image_adopt, over its life */
	uint64_t cow_breaks;	 /* merged pages copied on write */
	uint64_t reports;	 /* pages taken in as reported */
	uint64_t volatile_pages; /* dirty in the last pass */
	uint64_t paused_at;	 /* when its last pause took hold (us), for stall accounting */
};

struct ksm {
	pthread_mutex_t lock;	       /* held by the engine for a whole pass; guards the VM list */
	pthread_mutex_t stats_lock;    /* guards the published snapshot below */
	struct ksm_stats snap;	       /* figures as of the last publish */
	struct ksm_vm_stats *snap_vms; /* per VM, in registration order */
	size_t snap_n, snap_cap;
	pthread_cond_t wake; /* wakes the engine thread early (stop, new tunables) */
	pthread_t thread;
	bool running;
	bool stopping;
	struct ksm_vm *vms;
	struct ksm_image *images; /* images not yet put, newest first (image.c) */
	struct ksm_pool pool;
	struct ksm_index stable;   /* (hash, group) -> pool page */
	struct ksm_index unstable; /* (hash, group) -> vm->base + page, for hashed pages that
				    * matched nothing yet; kept across passes, entries leave
				    * when their page changes or merges */
	uint32_t next_base;	   /* base for the next VM added */
	uint64_t activity;	   /* pages hashed, written or acted on in this pass */
	uint32_t *created;	   /* pool pages created this pass */
	uint64_t nr_created, cap_created;
	uint64_t zero_hash; /* xxh3 of a zero page */
	struct ksm_vmas vmas;
	struct ksm_stall stall;	     /* how long VMs stayed paused (all vCPUs out) per batch */
	struct ksm_stall pause_wait; /* how long a pause took to get every vCPU out */
	struct ksm_tunables tun;
	int pagemap_fd;	      /* /proc/self/pagemap, for COW ground truth */
	uint64_t hash_credit; /* pages we may still hash under scan_rate */
	double pass_dt;	      /* seconds from the previous pass's start to this one's */
	bool trim;	      /* big scratch was freed: return free heap memory to the system */
	struct timespec last_pass;
	/* Engine counters (see struct ksm_stats). */
	uint64_t passes, pages_scanned, pages_hashed, merges, zero_released, compare_fail;
	uint64_t cow_breaks, budget_skips;
	uint64_t adopted;	/* guest pages mapped from images at adoption */
	uint64_t first_touches; /* never-written pages the guests wrote in this pass */
	unsigned held_passes;	/* consecutive passes that held merging back */
	unsigned calm_passes;	/* consecutive passes without a fill storm */
	uint64_t passes_held;	/* passes that only hashed, over the engine's life */
	bool hold;		/* this pass only hashes: the guests are filling memory */
	double cpu_seconds;
	/* Failures already reported, one flag per kind (each is logged once per engine). */
	bool warned_dontneed; /* madvise(MADV_DONTNEED) of zero pages (merge.c) */
	bool warned_remap;    /* mmap(MAP_FIXED) of a merged run (merge.c) */
	bool warned_pagemap;  /* reading /proc/self/pagemap for the COW check (cow.c) */
};

#endif
