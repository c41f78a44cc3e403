/* test_discard.c - discard_range on each mapping kind, judged by what reads return, by
 * the backing file and by /proc/self/pagemap. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/page.h"
#include "tests/unit/check.h"
#include "vmm/discard.h"

#define NPAGES 8
#define PM_PRESENT (1ull << 63)

static int all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static uint64_t pagemap(const void *hva)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, &e, 8, (off_t) ((uintptr_t) hva / PAGE_SIZE * 8)) != 8)
			e = 0;
		close(fd);
	}
	return e;
}

static int memfd_with(uint8_t byte)
{
	uint8_t buf[PAGE_SIZE];
	int fd = memfd_create("test-discard", 0);

	memset(buf, byte, sizeof(buf));
	for (int i = 0; fd >= 0 && i < NPAGES; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t) sizeof(buf))
			return -1;
	return fd;
}

static void test_anon(void)
{
	uint64_t len = NPAGES * PAGE_SIZE;
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(m != MAP_FAILED);
	memset(m, 0xab, len);
	CHECK(pagemap(m + PAGE_SIZE) & PM_PRESENT);
	CHECK_EQ(discard_range(DISCARD_ANON, m + PAGE_SIZE, 2 * PAGE_SIZE, -1, 0), 0);
	CHECK(all_zero(m + PAGE_SIZE, 2 * PAGE_SIZE));
	CHECK(!(pagemap(m + PAGE_SIZE) & PM_PRESENT) || all_zero(m + PAGE_SIZE, PAGE_SIZE));
	CHECK_EQ(m[0], 0xab); /* neighbours untouched */
	CHECK_EQ(m[3 * PAGE_SIZE], 0xab);
	munmap(m, len);
}

/* The trap the routine exists for: on a private file mapping MADV_DONTNEED brings the
 * file's content back, even over the guest's own copy; the remap gives zeros. */
static void test_private_file(void)
{
	uint64_t len = NPAGES * PAGE_SIZE;
	int fd = memfd_with(0x5a);
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), back = 0;

	CHECK(fd >= 0 && m != MAP_FAILED);
	m[0] = 0x11; /* page 0: a private copy; page 1: the file's page, faulted in */
	CHECK_EQ(m[PAGE_SIZE], 0x5a);
	CHECK_EQ(madvise(m, PAGE_SIZE, MADV_DONTNEED), 0);
	CHECK_EQ(m[0], 0x5a); /* the file content came back: not a discard */
	m[0] = 0x11;
	CHECK_EQ(discard_range(DISCARD_MAYBE_PRIVATE, m, 4 * PAGE_SIZE, -1, 0), 0);
	CHECK(all_zero(m, 4 * PAGE_SIZE)); /* copied, faulted and untouched pages alike */
	CHECK_EQ(m[4 * PAGE_SIZE], 0x5a);  /* the rest still maps the file */
	CHECK_EQ(pread(fd, &back, 1, 0), 1);
	CHECK_EQ(back, 0x5a); /* the file (the pool) is intact */
	m[0] = 0x22;	      /* the range is ordinary anonymous memory again */
	CHECK_EQ(pread(fd, &back, 1, 0), 1);
	CHECK_EQ(back, 0x5a);
	munmap(m, len);
	close(fd);
}

static void test_shared_fd(void)
{
	uint64_t len = NPAGES * PAGE_SIZE;
	int fd = memfd_with(0x77);
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct stat before, after;

	CHECK(fd >= 0 && m != MAP_FAILED);
	CHECK_EQ(fstat(fd, &before), 0);
	CHECK_EQ(
	    discard_range(DISCARD_SHARED_FD, m + 2 * PAGE_SIZE, 4 * PAGE_SIZE, fd, 2 * PAGE_SIZE),
	    0);
	/* Before reading: a read fault on a hole of a shared memfd allocates a page. */
	CHECK_EQ(fstat(fd, &after), 0);
	CHECK(after.st_blocks < before.st_blocks); /* memory really went back */
	CHECK_EQ(after.st_size, before.st_size);
	CHECK(all_zero(m + 2 * PAGE_SIZE, 4 * PAGE_SIZE));
	CHECK_EQ(m[PAGE_SIZE], 0x77);
	munmap(m, len);
	close(fd);
}

static void test_bad_ranges(void)
{
	static uint8_t page[2 * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

	CHECK_EQ(discard_range(DISCARD_ANON, page + 1, PAGE_SIZE, -1, 0), -EINVAL);
	CHECK_EQ(discard_range(DISCARD_ANON, page, 100, -1, 0), -EINVAL);
	CHECK_EQ(discard_range(DISCARD_ANON, page, 0, -1, 0), -EINVAL);
	CHECK_EQ(discard_range(DISCARD_SHARED_FD, page, PAGE_SIZE, -1, 0), -EBADF);
	CHECK_EQ(discard_range((enum discard_kind) 9, page, PAGE_SIZE, -1, 0), -EINVAL);
}

int main(void)
{
	test_anon();
	test_private_file();
	test_shared_fd();
	test_bad_ranges();
	return check_done("test_discard");
}
