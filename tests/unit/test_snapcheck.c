/* test_snapcheck.c - the memory check on several workers: every worker count gives the same
 * page hashes (each the xxh3 of its page, holes as zero pages), by pread() and through a
 * mapping, in both formats; with several chunks altered the first one is reported,
 * whatever the workers' timing; a file shorter than it should be is a read error. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/page.h"
#include "lib/parfor.h"
#include "tests/unit/check.h"
#include "vmm/snapcheck.h"
#include "vmm/snapfile.h"

#define NR_CHUNKS 13u
#define LAST_PAGES 100u /* the last chunk is short */
#define NR_PAGES ((NR_CHUNKS - 1) * SNAPFILE_CHUNK_PAGES + LAST_PAGES)
#define SIZE (NR_PAGES * PAGE_SIZE)

static char path[] = "/tmp/test_snapcheck.XXXXXX";
static uint64_t want1[NR_CHUNKS], want2[NR_CHUNKS], page_hash[NR_PAGES];

/* Chunk 4 is all hole; chunk 7 holds one data page among holes; the rest is data. */
static bool is_hole(uint64_t p)
{
	uint64_t c = p / SNAPFILE_CHUNK_PAGES;

	return c == 4 || (c == 7 && p % SNAPFILE_CHUNK_PAGES != 9);
}

static void page_fill(uint8_t *b, uint64_t p)
{
	for (size_t i = 0; i < PAGE_SIZE / 8; i++) {
		uint64_t v = p * 0x9e3779b97f4a7c15ull + i + 1;

		memcpy(b + i * 8, &v, 8);
	}
}

/* Write the file (holes unwritten) and the hashes both formats expect. */
static int make_file(void)
{
	static uint8_t chunk[SNAPFILE_CHUNK];
	int fd = mkstemp(path);

	if (fd < 0 || ftruncate(fd, (off_t) SIZE))
		return -1;
	for (uint64_t c = 0; c < NR_CHUNKS; c++) {
		uint64_t first = c * SNAPFILE_CHUNK_PAGES;
		uint64_t n = c + 1 < NR_CHUNKS ? SNAPFILE_CHUNK_PAGES : LAST_PAGES;

		memset(chunk, 0, sizeof(chunk));
		for (uint64_t p = first; p < first + n; p++) {
			if (!is_hole(p))
				page_fill(chunk + (p - first) * PAGE_SIZE, p);
			page_hash[p] = XXH3_64bits(chunk + (p - first) * PAGE_SIZE, PAGE_SIZE);
			if (!is_hole(p) && pwrite(fd, chunk + (p - first) * PAGE_SIZE, PAGE_SIZE,
						  (off_t) (p * PAGE_SIZE)) != PAGE_SIZE)
				return -1;
		}
		want1[c] = XXH3_64bits(chunk, n * PAGE_SIZE);
		want2[c] = snapfile_chunk_digest(page_hash + first, n);
	}
	return fd;
}

/* Check @fd (mapped at @map or read) as format @version with @threads workers. */
static int run(int fd, const uint8_t *map, uint32_t version, unsigned threads, uint64_t *ph,
	       uint64_t *bad)
{
	struct snapcheck c = {.fd = fd,
			      .map = map,
			      .size = SIZE,
			      .version = version,
			      .want = version == 1 ? want1 : want2,
			      .page_hash = version == 1 ? NULL : ph};

	return snapcheck_run(&c, threads, bad);
}

static void test_same_hashes(int fd, const uint8_t *map)
{
	static uint64_t ph[NR_PAGES];
	static const unsigned threads[] = {0, 1, 2, 3, 8, 64};
	uint64_t bad = 7;

	for (unsigned t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		for (unsigned m = 0; m < 2; m++) {
			memset(ph, 0xa5, sizeof(ph));
			CHECK_EQ(run(fd, m ? map : NULL, 2, threads[t], ph, &bad), 0);
			CHECK(memcmp(ph, page_hash, sizeof(ph)) == 0);
		}
		CHECK_EQ(run(fd, NULL, 1, threads[t], NULL, &bad), 0);
	}
	CHECK_EQ(bad, 7); /* untouched on success */
}

/* Chunks 2, 3 and 11 altered (their expected hashes changed): chunk 2 is reported every
 * time, in both formats, whichever worker finds which first. */
static void test_first_bad(int fd, const uint8_t *map)
{
	static uint64_t ph[NR_PAGES];
	static const unsigned alter[] = {11, 3, 2};
	uint64_t bad;

	for (unsigned a = 0; a < 3; a++) {
		want1[alter[a]] ^= 1;
		want2[alter[a]] ^= 1;
	}
	for (unsigned round = 0; round < 40; round++) {
		unsigned threads = 1 + round % 8;

		bad = 0;
		CHECK_EQ(run(fd, round % 2 ? map : NULL, 2, threads, ph, &bad), -EINVAL);
		CHECK_EQ(bad, 2 * SNAPFILE_CHUNK);
		bad = 0;
		CHECK_EQ(run(fd, NULL, 1, threads, NULL, &bad), -EINVAL);
		CHECK_EQ(bad, 2 * SNAPFILE_CHUNK);
	}
	for (unsigned a = 0; a < 3; a++) {
		want1[alter[a]] ^= 1;
		want2[alter[a]] ^= 1;
	}
	/* The last, short chunk alone: found by the worker that takes it. */
	want2[NR_CHUNKS - 1] ^= 1;
	CHECK_EQ(run(fd, map, 2, 4, ph, &bad), -EINVAL);
	CHECK_EQ(bad, (NR_CHUNKS - 1) * SNAPFILE_CHUNK);
	want2[NR_CHUNKS - 1] ^= 1;
}

/* The file cut inside chunk 9 (read, not mapped: a mapping would fault): a read error at
 * chunk 9, before the chunks past the end (holes to SEEK_DATA, so not matching). */
static void test_short_file(int fd)
{
	static uint64_t ph[NR_PAGES];
	uint64_t bad = 0;
	int ret;

	CHECK(ftruncate(fd, (off_t) (9 * SNAPFILE_CHUNK + 5 * PAGE_SIZE)) == 0);
	ret = run(fd, NULL, 2, 3, ph, &bad);
	CHECK_EQ(ret, -EIO);
	CHECK_EQ(bad, 9 * SNAPFILE_CHUNK);
	ret = run(fd, NULL, 1, 1, NULL, &bad);
	CHECK_EQ(ret, -EIO);
}

int main(void)
{
	int fd = make_file();
	const uint8_t *map = NULL;

	CHECK(fd >= 0);
	if (fd < 0)
		return check_done("test_snapcheck");
	map = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(map != MAP_FAILED);
	CHECK(par_threads() >= 1 && par_threads() <= PAR_MAX_THREADS);
	test_same_hashes(fd, map);
	test_first_bad(fd, map);
	munmap((void *) map, SIZE);
	test_short_file(fd);
	close(fd);
	unlink(path);
	return check_done("test_snapcheck");
}
