/* snapcheck.c - a snapshot's memory file checked chunk by chunk on several CPUs. */
#include "vmm/snapcheck.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/page.h"
#include "lib/parfor.h"
#include "vmm/snapfile.h"

/* What the workers share. */
struct snapcheck_run {
	const struct snapcheck *c;
	uint8_t *buf[PAR_MAX_THREADS]; /* per worker, for pread(); made on first use */
	atomic_bool failed;	       /* set once a chunk failed: take no more */
	pthread_mutex_t lock;	       /* guards bad and ret */
	uint64_t bad;		       /* the lowest failing chunk found */
	int ret;		       /* its error, 0 if none */
};

int snapcheck_read(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = pread(fd, b, n, (off_t) off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* shorter than fstat said: changed under us */
		b += r;
		n -= (size_t) r;
		off += (uint64_t) r;
	}
	return 0;
}

/* Does [@off, @off + @n) of @fd hold data, or only a hole? File systems without SEEK_DATA
 * say "data" everywhere (the generic answer), which only costs a read. (The offset lseek
 * leaves behind is shared by the workers; every read here gives its own.) */
static bool has_data(int fd, uint64_t off, uint64_t n)
{
	off_t d = lseek(fd, (off_t) off, SEEK_DATA);

	if (d < 0)
		return errno != ENXIO;
	return (uint64_t) d < off + n;
}

/* Format 2, the file sealed and mapped at @m: the pages of [@off, @off + @n) hashed where
 * they lie. Nothing is copied, and holes are neither read nor put in the page cache: they
 * hash as zero pages. Without SEEK_DATA everything is data. */
static void hash_mapped(int fd, const uint8_t *m, uint64_t off, uint64_t n, uint64_t *ph)
{
	static const uint8_t zero[PAGE_SIZE];
	uint64_t z = XXH3_64bits(zero, PAGE_SIZE), end = off + n, at = off;

	for (uint64_t p = 0; p < n / PAGE_SIZE; p++)
		ph[p] = z;
	while (at < end) {
		off_t d = lseek(fd, (off_t) at, SEEK_DATA), h = (off_t) end;
		uint64_t from, to;

		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0)
			d = (off_t) at;
		else
			h = lseek(fd, d, SEEK_HOLE);
		from = (uint64_t) d & ~(PAGE_SIZE - 1);
		to = h < 0 || (uint64_t) h > end
			 ? end
			 : ((uint64_t) h + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		if (from >= end)
			break;
		/* one call maps the run; best effort (else faults) */
		madvise((void *) (m + from), to - from, MADV_POPULATE_READ);
		for (uint64_t q = from; q < to; q += PAGE_SIZE)
			ph[(q - off) / PAGE_SIZE] = XXH3_64bits(m + q, PAGE_SIZE);
		at = to;
	}
}

/* Hash chunk @i into *@h, as the format says; in format 2 its page hashes go to
 * c->page_hash. @buf (SNAPFILE_CHUNK bytes) is for pread(); a chunk all hole is not read. */
static int chunk_hash(const struct snapcheck *c, uint64_t i, uint8_t *buf, uint64_t *h)
{
	uint64_t off = i * SNAPFILE_CHUNK;
	uint64_t n = c->size - off < SNAPFILE_CHUNK ? c->size - off : SNAPFILE_CHUNK;
	uint64_t *ph = c->page_hash ? c->page_hash + off / PAGE_SIZE : NULL;
	bool data;
	int ret = 0;

	if (ph && c->map) {
		hash_mapped(c->fd, c->map, off, n, ph);
		*h = snapfile_chunk_digest(ph, n / PAGE_SIZE);
		return 0;
	}
	data = has_data(c->fd, off, n);
	if (data)
		ret = snapcheck_read(c->fd, buf, n, off);
	else
		memset(buf, 0, ph ? PAGE_SIZE : n);
	if (!ph) {
		*h = XXH3_64bits(buf, n);
		return ret;
	}
	for (uint64_t p = 0; p < n / PAGE_SIZE; p++)
		ph[p] =
		    data || !p ? XXH3_64bits(buf + (data ? p * PAGE_SIZE : 0), PAGE_SIZE) : ph[0];
	*h = snapfile_chunk_digest(ph, n / PAGE_SIZE);
	return ret;
}

static void fail(struct snapcheck_run *r, uint64_t i, int ret)
{
	pthread_mutex_lock(&r->lock);
	if (!r->ret || i < r->bad) {
		r->bad = i;
		r->ret = ret;
	}
	pthread_mutex_unlock(&r->lock);
	atomic_store(&r->failed, true);
}

/* par_fn: chunks [@from, @to) (one at a time). After a failure, chunks not yet begun
 * are skipped; one begun is finished, so every chunk before a failing one is checked. */
static void check_block(void *opaque, unsigned worker, uint64_t from, uint64_t to)
{
	struct snapcheck_run *r = opaque;
	bool mapped = r->c->map && r->c->page_hash;
	uint64_t h;

	for (uint64_t i = from; i < to && !atomic_load(&r->failed); i++) {
		int ret = 0;

		if (!mapped && !r->buf[worker])
			r->buf[worker] = malloc(SNAPFILE_CHUNK);
		if (!mapped && !r->buf[worker])
			ret = -ENOMEM;
		else
			ret = chunk_hash(r->c, i, r->buf[worker], &h);
		if (!ret && h != r->c->want[i])
			ret = -EINVAL;
		if (ret)
			fail(r, i, ret);
	}
}

int snapcheck_run(const struct snapcheck *c, unsigned threads, uint64_t *bad_off)
{
	struct snapcheck_run r = {.c = c};

	atomic_init(&r.failed, false);
	pthread_mutex_init(&r.lock, NULL);
	par_for((c->size + SNAPFILE_CHUNK - 1) / SNAPFILE_CHUNK, 1, threads, check_block, &r);
	for (unsigned k = 0; k < PAR_MAX_THREADS; k++)
		free(r.buf[k]);
	pthread_mutex_destroy(&r.lock);
	if (r.ret)
		*bad_off = r.bad * SNAPFILE_CHUNK;
	return r.ret;
}
