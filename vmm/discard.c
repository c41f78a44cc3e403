/* discard.c - free a range of guest RAM: MADV_DONTNEED, anonymous remap, or hole punch. */
#include "vmm/discard.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/page.h"

int discard_range(enum discard_kind kind, uint8_t *hva, uint64_t len, int fd, off_t off)
{
	void *r;

	if (((uintptr_t) hva | len) & (PAGE_SIZE - 1) || len == 0)
		return -EINVAL;
	switch (kind) {
	case DISCARD_ANON: return madvise(hva, len, MADV_DONTNEED) ? -errno : 0;
	case DISCARD_MAYBE_PRIVATE:
		/* Replacing the mapping frees whatever was there (anonymous pages, private
		 * copies, references to file pages); KVM's MMU notifier drops the guest's
		 * stale translations, so the guest's next access faults in a zero page. */
		r = mmap(hva, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		return r == MAP_FAILED ? -errno : 0;
	case DISCARD_SHARED_FD:
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t) len))
			return -errno;
		return 0;
	}
	return -EINVAL;
}
