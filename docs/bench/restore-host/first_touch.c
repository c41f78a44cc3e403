/* first_touch.c - the probe behind docs/bench/restore-host.md: what copying 227 MiB (the
 * non-zero pages of a 256 MiB guest) costs into fresh memory and into the same memory
 * again, anonymous and shmem (the engine's pool is a memfd), and shared by T threads.
 *
 * build: gcc -O2 -o first_touch docs/bench/restore-host/first_touch.c -lxxhash -lpthread
 * run:   ./first_touch [T]   (T threads for the last line, default 2)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define BYTES (58304ul * 4096)

static uint8_t *src, *dst;
static unsigned nthreads;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static uint8_t *fresh(bool shmem)
{
	int fd = shmem ? memfd_create("first-touch", 0) : -1;
	uint8_t *p;

	if (shmem && (fd < 0 || ftruncate(fd, BYTES)))
		return NULL;
	p = mmap(NULL, BYTES, PROT_READ | PROT_WRITE,
		 shmem ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, BYTES, MADV_POPULATE_WRITE); /* backed and mapped before the clock starts */
	return p;
}

/* Thread @k's share: populate, copy and hash its pages, as the engine's copy does. */
static void *share(void *arg)
{
	uint64_t k = (uintptr_t) arg, per = BYTES / nthreads / 4096 * 4096, h = 0;
	uint64_t from = k * per, to = k + 1 == nthreads ? BYTES : from + per;

	madvise(dst + from, to - from, MADV_POPULATE_WRITE);
	for (uint64_t i = from; i < to; i += 4096) {
		memcpy(dst + i, src + i, 4096);
		h ^= XXH3_64bits(dst + i, 4096);
	}
	return (void *) (uintptr_t) h;
}

int main(int argc, char **argv)
{
	pthread_t t[16];
	double t0, t1, t2;

	nthreads = argc > 1 ? (unsigned) atoi(argv[1]) : 2;
	if (nthreads < 1 || nthreads > 16)
		nthreads = 2;
	src = fresh(false);
	if (!src)
		return 1;
	for (uint64_t i = 0; i < BYTES; i += 8)
		*(uint64_t *) (src + i) = i * 0x9e3779b97f4a7c15ull;
	for (int shmem = 0; shmem < 2; shmem++) {
		dst = fresh(shmem);
		if (!dst)
			return 1;
		t0 = now_ms();
		memcpy(dst, src, BYTES);
		t1 = now_ms();
		memcpy(dst, src, BYTES);
		t2 = now_ms();
		printf("%s: copy into fresh memory %.1f ms, into the same again %.1f ms\n",
		       shmem ? "shmem" : "anonymous", t1 - t0, t2 - t1);
		munmap(dst, BYTES);
	}
	for (unsigned pass = 0; pass < 2; pass++) {
		unsigned want = nthreads, n = pass ? want : 1;
		int fd = memfd_create("first-touch", 0);

		if (fd < 0 || ftruncate(fd, BYTES))
			return 1;
		dst = mmap(NULL, BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (dst == MAP_FAILED)
			return 1;
		nthreads = n;
		t0 = now_ms();
		for (uintptr_t k = 0; k < n; k++)
			pthread_create(&t[k], NULL, share, (void *) k);
		for (unsigned k = 0; k < n; k++)
			pthread_join(t[k], NULL);
		printf("shmem, %u thread(s): populate, copy and hash %.1f ms\n", n, now_ms() - t0);
		munmap(dst, BYTES);
		nthreads = want;
	}
	return 0;
}
