/* ksm.h - the in-VMM merge engine: find identical guest pages across the fleet, share them.
 *
 * Overview (read this first; the .c files only add per-function contracts).
 *
 * Guest RAM is anonymous private host memory behind KVM memslots. Each guest page is in
 * one state (struct ksm_page, internal.h): plain, the guest's own page; merged, mapped
 * uncopied from a canonical page of the pool (one memfd, pages shared within a sharing
 * group); zero, released so that reads see the host's zero page, or empty when it was
 * never backed at all. Flags qualify a state: volatile (written during the last pass,
 * left alone), unstable (hashed, no match yet, waiting in the unstable index), cooling
 * (copied on write after a merge, skipped for 10, 40 then 160 passes), planned.
 *
 * A pass, VM by VM: the dirty log marks written pages volatile (clean pages keep their
 * hash and are not read again); hash the clean pages whose hash is stale; look the hash
 * up in the stable index (content -> pool page), then in the unstable index (content ->
 * first guest page seen with it: a hit copies that page into a new pool page); queue the
 * merge or zero release; pause the VM, compare, remap, resume. Hashes only nominate.
 *
 * Why a merge cannot corrupt a guest, in order:
 *  (a) Nothing writes the page: ksm_vm_ops.request_pause/wait_paused gets every vCPU out
 *      of KVM_RUN and parked, and holds the VMM's own writers of guest RAM (devices) off
 *      with a rwlock, before the engine looks at it.
 *  (b) Under that pause the page is compared byte for byte with the pool page.
 *  (c) Still paused, mmap(MAP_PRIVATE|MAP_FIXED) of the pool memfd replaces it (a zero
 *      page is released with MADV_DONTNEED instead).
 *  (d) The running guest sees the new page at once: changing the host mapping fires
 *      KVM's MMU notifier, which drops the stale EPT/shadow entry, so the guest's next
 *      access faults and KVM maps the new host page.
 *  (e) A guest write to a merged page is a fault the host kernel resolves by copying it
 *      (private mapping) with no exit to the VMM; the pool page stays intact.
 *  (f) A pool page loses a mapper, and is freed when none is left, only once
 *      /proc/self/pagemap shows that guest page no longer maps it uncopied.
 *
 * Images (snapshot restore, live clone): ksm_image_create copies an image of a guest's
 * RAM into pool pages once, each page pinned by the image (ksm_image_map lends the pool
 * a snapshot's memory file in place instead); ksm_image_adopt maps it over
 * a VM that is not running, so that the VM's pages are merged from its first
 * instruction, with no copy of its own. From then on they are ordinary merged pages: a
 * guest write is a copy-on-write break, later guests merge onto them through the stable
 * index. A pin is not a mapper: a pool page mapped by k guests counts k references and
 * saves k-1 pages whether an image pins it or not, so one restored guest alone saves
 * nothing and N of them save N-1 copies. A pinned page no guest maps any more is
 * charged to no VM (ksm_stats.image_idle); ksm_image_put frees it.
 *
 * Who does what: engine.c the thread, VM registry and tunables; scan.c the pass (dirty
 * log, hashing, planning); merge.c the paused compare and remap, (a)-(c); cow.c the
 * pagemap checks, (f); vm.c a VM's page bookkeeping; stats.c the published figures;
 * image.c images; pool.c, index.c, vmas.c and stall.c the data structures
 * they share.
 *
 * Why replace the memory under an unchanged memslot instead of moving merged ranges to
 * read-only memory: a guest write to a read-only mapping is no fault the host resolves.
 * It exits (KVM_EXIT_MMIO at CPL0, EFAULT from KVM_RUN at CPL3) and a locked instruction
 * there ends in KVM_EXIT_INTERNAL_ERROR, which stops the guest (measured on our host).
 *
 * The engine sees guest memory only through struct ksm_vm_ops and the host mappings of
 * its RAM, so it runs against fake guests in unit tests.
 */
#ifndef KSM_KSM_H
#define KSM_KSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KSM_MAX_REGIONS 4
/* Group of a VM that opted out: only its zero pages are released. */
#define KSM_GROUP_NONE UINT32_MAX

struct ksm;
struct ksm_vm;
struct ksm_image;

/* How the engine reaches one VM. Called on the engine thread. */
struct ksm_vm_ops {
	/* Ask every writer of the VM's RAM to stop (vCPUs out of KVM_RUN and parked,
	 * devices held off). Returns without waiting for the vCPUs. */
	void (*request_pause)(void *opaque);
	/* Return once no writer can touch the VM's RAM (after request_pause). */
	void (*wait_paused)(void *opaque);
	/* Let them go again. */
	void (*resume)(void *opaque);
	/* OR into @bitmap (one bit per page of region @r) the pages written since the last
	 * call, and forget them. Returns 0 or -errno (then every page counts as written). */
	int (*fetch_dirty)(void *opaque, unsigned r, uint64_t *bitmap);
	/* Optional. OR into @bitmap the pages of region @r the VMM gave back to the host
	 * since the last call (the guest reported them free, or put them in its balloon),
	 * and forget them. Their content is gone (they read zeros); a page also marked in
	 * the dirty log was written afterwards and counts as written. Returns 0 or -errno
	 * (then none counts as reported). */
	int (*fetch_reported)(void *opaque, unsigned r, uint64_t *bitmap);
};

struct ksm_region {
	uint8_t *hva; /* host mapping of the region, page aligned */
	uint64_t gpa; /* guest-physical start (reports only) */
	uint64_t npages;
};

struct ksm_tunables {
	uint32_t interval_ms;  /* pause between passes */
	uint32_t batch_pages;  /* most pages merged per pause of a VM */
	uint32_t max_stall_us; /* a batch ends early once a VM was paused this long */
	uint64_t scan_rate;    /* most pages hashed per second; 0 = no limit */
};

/* Per-VM figures (pages unless said otherwise). */
struct ksm_vm_stats {
	char name[64];
	void *opaque; /* the VM's ksm_add_vm @opaque: tells VMs of one name apart */
	uint32_t group;
	uint64_t pages_total;
	uint64_t pages_merged;	  /* mapping a pool page uncopied */
	uint64_t pages_zero;	  /* released zero pages */
	uint64_t pages_empty;	  /* never written: no memory behind them to release */
	uint64_t pages_reported;  /* given back by the guest (free page reporting, balloon):
				   * no memory behind them, neither hashed nor merged */
	uint64_t reports;	  /* pages taken in as reported, over its life */
	uint64_t pages_unique;	  /* stable content, no match */
	uint64_t pages_volatile;  /* written during the last pass */
	uint64_t pages_unscanned; /* not hashed yet */
	uint64_t merges;	  /* merges done into this VM, over its life */
	uint64_t adopted;	  /* pages mapped from an image at adoption, over its life */
	uint64_t cow_breaks;	  /* merged pages the guest wrote (host copied them) */
	uint64_t bytes_saved;	  /* zero pages + (k-1)/k of each page shared by k mappers */
	uint64_t pages_private;	  /* the guest's own pages: unique, volatile, unscanned */
	uint64_t cost_bytes;	  /* what it really costs: private pages + 1/k of each page
				  * it shares with k-1 other mappings (like PSS) */
};

struct ksm_stats {
	uint64_t passes;
	uint64_t passes_held;	     /* passes that only hashed: guests were filling memory */
	uint64_t pages_scanned;	     /* page visits by the scanner */
	uint64_t pages_hashed;	     /* xxh3 computed */
	uint64_t merges;	     /* guest pages mapped onto pool pages */
	uint64_t zero_released;	     /* guest pages released as zero */
	uint64_t compare_fail;	     /* merges refused by the byte-for-byte compare */
	uint64_t cow_breaks;	     /* copy-on-write breaks seen */
	uint64_t pool_pages;	     /* canonical pages in the pool now */
	uint64_t pool_freed;	     /* canonical pages freed over the engine's life */
	uint64_t image_pages;	     /* pool pages pinned by images (part of pool_pages) */
	uint64_t image_idle;	     /* of those, mapped by no guest: charged to no VM */
	uint64_t adopted;	     /* guest pages mapped from images at adoption */
	uint64_t mappings_used;	     /* VMAs of the process (counted or estimated) */
	uint64_t mappings_limit;     /* vm.max_map_count */
	uint64_t budget_skips;	     /* merges not done for lack of mapping budget */
	bool budget_isolated_paused; /* isolated pages no longer merged: budget low */
	bool budget_full;	     /* no merging at all: budget exhausted */
	double cpu_seconds;	     /* engine thread CPU time */
	uint64_t stall_p50_us;	     /* guest pause durations */
	uint64_t stall_p99_us;
	uint64_t stall_max_us;
	uint64_t stalls;       /* pauses so far */
	uint64_t pause_p99_us; /* time to get every vCPU out of the guest (not a stall: */
	uint64_t pause_max_us; /* the vCPUs still run guest code meanwhile) */
	uint64_t bytes_saved;  /* sum over VMs */
	struct ksm_tunables tun;
};

/* Create an engine for up to @max_pages guest pages in total (sizes the pool).
 * Returns NULL on failure (errno set). */
struct ksm *ksm_create(uint64_t max_pages, const struct ksm_tunables *tun);

/* Default tunables. */
void ksm_default_tunables(struct ksm_tunables *t);

/* Register a VM before it runs. @group: pages merge only within a group
 * (KSM_GROUP_NONE: opt out). Returns NULL on failure. */
struct ksm_vm *ksm_add_vm(struct ksm *k, const char *name, uint32_t group,
			  const struct ksm_region *regions, unsigned nr,
			  const struct ksm_vm_ops *ops, void *opaque);

/* Stop scanning @vm; returns once the engine no longer touches its memory. Call before
 * its RAM is unmapped, then ksm_vm_free after. */
void ksm_vm_detach(struct ksm *k, struct ksm_vm *vm);

/* Drop @vm's references to pool pages and free it. Its RAM must be unmapped already. */
void ksm_vm_free(struct ksm *k, struct ksm_vm *vm);

/* Start / stop the engine thread. */
int ksm_start(struct ksm *k);
void ksm_stop(struct ksm *k);

/* Run one pass on the calling thread (tests; the engine thread must not be running). */
void ksm_pass(struct ksm *k);

/* Publish the figures now (passes publish on their own; ksm_image_adopt does not, so
 * that adopting N VMs costs no N walks of the fleet). Takes k->lock. */
void ksm_publish(struct ksm *k);

/* Snapshot of the engine's figures. @vms gets up to @max VMs; returns how many. */
size_t ksm_get_stats(struct ksm *k, struct ksm_stats *out, struct ksm_vm_stats *vms, size_t max);

/* Guest x guest sharing: @out[a * n + b] = pool pages mapped by both VM a and VM b
 * (a == b: pool pages VM a maps), VMs in registration order, for the first @n VMs;
 * @opaques (may be NULL) gets VM a's ksm_add_vm @opaque in @opaques[a].
 * Takes the engine lock (waits for a running pass): call from a worker thread.
 * Returns the number of VMs filled, or -ENOMEM. */
int ksm_matrix(struct ksm *k, uint64_t *out, void **opaques, size_t n);

/* Set tunable @key ("interval_ms", "batch_pages", "max_stall_us", "scan_rate").
 * Returns 0, -ENOENT (unknown key) or -ERANGE. */
int ksm_set_tunable(struct ksm *k, const char *key, uint64_t value);

/* Copy @nsrc runs of guest pages, @npages[s] pages from @src[s] each, concatenated in
 * the VM's page order (regions one after the other), into pool pages of sharing group
 * @group, each pinned by the image: consecutive non-zero pages get consecutive pool pages
 * where the pool has them, so that a run of guest pages maps with one mapping. All-zero
 * pages get no pool page: an adopting VM leaves them unbacked. Each page is hashed
 * (xxh3, of the pool's copy) and becomes the stable index's entry for its content, so
 * that later guests merge onto it, unless an image's page is that already (a duplicate
 * keeps its own pool page, so runs stay whole, but is not found by later merges).
 * @src may be a mapped snapshot memory file or a paused guest's RAM; it must not change
 * during the call and may go afterwards (the image is a copy). The pool must have room:
 * size ksm_create's @max_pages for the guests plus the images' pages. Takes k->lock
 * (waits for a running pass). Returns NULL with errno set: EINVAL (no pages, or more
 * than a VM can have), ENOSPC (pool full: nothing is kept), ENOMEM. */
struct ksm_image *ksm_image_create(struct ksm *k, const uint8_t *const *src, const uint64_t *npages,
				   unsigned nsrc, uint32_t group);

/* An image of the same kind with no copy: @npages (as for ksm_image_create) pages of file
 * @fd from byte @off (page aligned; a snapshot's memory file) are lent to the pool in
 * place (ksm/pool.h segments): its non-zero pages become pinned, indexed pool pages that
 * VMs map straight from the file, MAP_PRIVATE. Holes are not read. The file must not
 * change for as long as the pool maps it: the caller makes it immutable first, and is
 * told when that may end: @done(@opaque) is called once, with k->lock held, when the
 * pool maps the file no more (the image put and its last page freed, or ksm_destroy).
 * The pool takes its own descriptor; @fd may be closed afterwards. @hashes, if not NULL,
 * holds the XXH3-64 of each of those pages (a hole's: a zero page's), computed by the
 * caller from the same unchanging bytes: then no page is read here (a page hashing as
 * zero is still checked), only mapped in the pool's view, so that the host's accounting
 * charges them to the process as any pool page. A wrong hash only hides the page from
 * later merges: every merge compares the bytes. Takes k->lock.
 * Returns NULL with errno set, and then @done is never called: EINVAL (as for
 * ksm_image_create, or @off not aligned), ENOSPC (no run of that many free pool ids, or
 * too many mapped images: a copy may still fit), ENOMEM, or a failed mmap's error. */
struct ksm_image *ksm_image_map(struct ksm *k, int fd, uint64_t off, const uint64_t *npages,
				unsigned nsrc, uint32_t group, const uint64_t *hashes,
				void (*done)(void *opaque), void *opaque);

/* Replace the whole of @vm's RAM by the image: page i of the VM maps the image's page i
 * (MAP_PRIVATE|MAP_FIXED of the pool memfd or the image's file, one mapping per run) and becomes merged
 * (one reference each, hashed); zero pages are released (a fresh VM's stay empty).
 * What the VM had is dropped: its private pages are freed, its pool references put, its
 * queued merges, pending dirty-log bits and reported pages forgotten (drained through
 * its ops, on the calling thread). Only while nothing writes
 * the VM's RAM: before its vCPUs and devices first run (restore) or while the caller
 * holds it paused (live clone: the parent adopts the image of its own paused RAM and
 * then shares every page with its clones). @vm must be registered (not detached), of
 * the image's size and group, its RAM anonymous private memory where the engine has not
 * mapped the pool (zero pages are released with MADV_DONTNEED there). Takes k->lock. The published figures show the adoption
 * after the next pass or ksm_publish.
 * Returns 0; -EINVAL (size or group mismatch, unknown VM) or -ENOSPC (the mapping budget
 * cannot take the runs), and then nothing changed; or the -errno of a failed mmap or
 * madvise: then the pages before the failure map the image and the rest are as they were,
 * and the engine's bookkeeping matches both exactly (a parent's RAM still reads its own
 * content; a restored VM must not be run). */
int ksm_image_adopt(struct ksm *k, struct ksm_image *img, struct ksm_vm *vm);

/* Live clone: with the engine lock held (no pass runs, so the engine cannot be waiting
 * to pause the VM), call @hold (it pauses the VM and captures what else it needs; 0 or
 * -errno), make an image of @vm's RAM in its group, adopt it into @vm itself, call
 * @release (the VM goes on, now sharing every page with the image), and return the
 * image for the clones to adopt. Pages @vm maps merged that still hold its content (its
 * pagemap shows the pool's page, or the bytes match) are not copied: the image pins
 * those pool pages, shared with any image that pins them too. A run of them between
 * zero pages is always taken; runs next to pages to copy are taken longest first, up to
 * 256 mapping boundaries more than a copy would have, so that adopting the image stays
 * within a bounded number of mappings. The rest is copied as ksm_image_create does. NULL with errno (hold's error, or create's or adopt's;
 * a failed adopt leaves the VM as ksm_image_adopt says, and no image). */
struct ksm_image *ksm_image_fork(struct ksm *k, struct ksm_vm *vm, int (*hold)(void *opaque),
				 void (*release)(void *opaque), void *opaque);

/* Drop the image's pins: its pool pages that no guest maps are freed, the others live on
 * as long as guests map them. @img is gone afterwards. Takes k->lock. */
void ksm_image_put(struct ksm *k, struct ksm_image *img);

/* Pool pages @img holds (its non-zero pages). */
uint64_t ksm_image_pages(const struct ksm_image *img);

/* Guest pages @img covers (what an adopting VM must have). */
uint64_t ksm_image_npages(const struct ksm_image *img);

/* Stop the engine and free it, with the bookkeeping of VMs still registered and of
 * images not yet put (their pointers are then invalid). */
void ksm_destroy(struct ksm *k);

#endif
