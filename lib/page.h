/* page.h - the one spelling of the page size (the host's and the guest's: x86-64 4 KiB).
 * Plain macros only: the freestanding workload guest includes it too. */
#ifndef LIB_PAGE_H
#define LIB_PAGE_H

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)

#endif
