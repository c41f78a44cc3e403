/* ram.h - the VMM's own writes into guest RAM, and the dirty pages the merge engine reads.
 *
 * Devices write guest RAM only between ram_write_begin and ram_write_end: the range is
 * translated through the one checked function (mem_gpa), a merge pause is held off, and
 * the pages are marked dirty so the engine sees them like guest writes (KVM's dirty log
 * does not see writes of the VMM). Knows the RAM and the pause, nothing of the guest.
 */
#ifndef VMM_RAM_H
#define VMM_RAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/discard.h"
#include "vmm/mem.h"
#include "vmm/pause.h"

struct guest_ram {
	const struct guest_mem *mem;	       /* mapped before ram_init, outlives it */
	struct pause *pause;		       /* whose write guard the writers hold */
	int vm_fd;			       /* for KVM_GET_DIRTY_LOG */
	bool dirty_logging;		       /* memslots have KVM_MEM_LOG_DIRTY_PAGES */
	enum discard_kind discard;	       /* how its memory is given back (ram_discard) */
	pthread_mutex_t dirty_lock;	       /* protects soft_dirty */
	uint64_t *soft_dirty[MEM_MAX_REGIONS]; /* pages the VMM itself wrote since the last fetch */
	uint64_t *reported[MEM_MAX_REGIONS];   /* pages given back since the last fetch */
	uint64_t pages_discarded;	       /* over its life (dirty_lock) */
};

/* Set up @r over the mapped @m, writers guarded by @p. @dirty_logging: KVM logs the guest's
 * writes to @vm_fd's memslots (--merge=vmm). Returns 0 or -ENOMEM; ram_destroy undoes
 * either outcome. */
int ram_init(struct guest_ram *r, const struct guest_mem *m, struct pause *p, int vm_fd,
	     bool dirty_logging);

/* Host pointer to [gpa, gpa+len) with pauses held off, or NULL (out of range; nothing
 * held). Every non-NULL begin must be followed by ram_write_end with the same range. */
void *ram_write_begin(struct guest_ram *r, uint64_t gpa, uint64_t len);

/* Mark the pages of [gpa, gpa+len) written and let pauses proceed. */
void ram_write_end(struct guest_ram *r, uint64_t gpa, uint64_t len);

/* Fill @bitmap with the pages of region @region written since the last call (KVM's dirty
 * log plus VMM writes), and reset. Returns 0 or -errno (-EINVAL without dirty logging). */
int ram_fetch_dirty(struct guest_ram *r, unsigned region, uint64_t *bitmap);

/* Give [gpa, gpa+len) back to the host (a balloon inflation, free page reporting): the
 * range must be page aligned and inside one region. With pauses held off, the memory is
 * discarded the way its mapping needs (with --merge=vmm merged ranges may be pool
 * mappings: DISCARD_MAYBE_PRIVATE) and the pages are marked reported for the engine,
 * which then drops them from its pool and counts them as reported. Afterwards the guest
 * reads zeros there. Returns 0, -EINVAL (unaligned, outside RAM) or -errno. */
int ram_discard(struct guest_ram *r, uint64_t gpa, uint64_t len);

/* OR into @bitmap the pages of region @region discarded since the last call, and reset.
 * Returns 0 or -EINVAL. (ksm_vm_ops.fetch_reported) */
int ram_fetch_reported(struct guest_ram *r, unsigned region, uint64_t *bitmap);

/* Free the dirty bitmaps; safe on a zeroed, never initialised @r. */
void ram_destroy(struct guest_ram *r);

#endif
