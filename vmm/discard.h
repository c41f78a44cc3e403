/* discard.h - give guest RAM back to the host, the right way for how it is mapped.
 *
 * Freeing memory depends on the mapping (DESIGN.md, "Devices"):
 *  - anonymous private memory: MADV_DONTNEED frees it; reads then see zeros;
 *  - a private mapping of a file or memfd (pages merged onto the engine's pool, a
 *    snapshot's memory), or anonymous memory that may contain such ranges:
 *    MADV_DONTNEED would bring the *file's* content back, so fresh anonymous memory
 *    is mapped over the range instead;
 *  - a shared mapping of a memfd: only fallocate(PUNCH_HOLE) frees the pages.
 * The caller says which one it has, because the page table cannot tell (a page of a
 * private file mapping that the guest wrote looks anonymous). Every caller holds off
 * the merge engine for the range (the write guard) while it discards.
 */
#ifndef VMM_DISCARD_H
#define VMM_DISCARD_H

#include <stdint.h>
#include <sys/types.h>

enum discard_kind {
	DISCARD_ANON,	       /* anonymous private only (--merge=off or host) */
	DISCARD_MAYBE_PRIVATE, /* private, some ranges possibly file-backed (--merge=vmm) */
	DISCARD_SHARED_FD,     /* shared mapping of @fd at @off */
};

/* Discard [hva, hva+len) (page aligned): afterwards every page reads as zeros and holds
 * no memory. For DISCARD_SHARED_FD, @fd and @off name the backing range; otherwise
 * they are ignored. Returns 0 or -errno (EINVAL for an unaligned range). */
int discard_range(enum discard_kind kind, uint8_t *hva, uint64_t len, int fd, off_t off);

#endif
