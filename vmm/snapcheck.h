/* snapcheck.h - check a snapshot's memory file against its chunk hashes, on every CPU the
 * process may use (format in snapfile.h; snapfile_open is the caller).
 *
 * The chunks are independent: workers take them in file order from one shared counter,
 * so each reads ahead through the file as one reader would, and the check of a 256 MiB
 * restore takes about 1/T of one CPU's time on T CPUs. A failure stops the workers from
 * taking new chunks, but every chunk taken is finished: all chunks before the failing one
 * were taken before it, so the first failing chunk of the file is the one reported.
 */
#ifndef VMM_SNAPCHECK_H
#define VMM_SNAPCHECK_H

#include <stddef.h>
#include <stdint.h>

struct snapcheck {
	int fd;		      /* the memory file, read-only */
	const uint8_t *map;   /* the file mapped, only when sealed (nobody can truncate it
			      * under the mapping): hashed where it lies; NULL: pread() */
	uint64_t size;	      /* bytes, page aligned */
	uint32_t version;     /* 1: a chunk's hash is of its bytes; 2: of its page hashes */
	const uint64_t *want; /* the expected hash of each chunk */
	uint64_t *page_hash;  /* version 2: filled, one per page (holes hash as zero pages);
			      * else NULL. @map needs it. */
};

/* Check every chunk with up to @threads workers (lib/parfor.h: the calling thread is one;
 * fewer when a thread cannot start; par_threads() uses every CPU we may). Returns 0; -EINVAL if a chunk does not match its hash; or the
 * -errno of a failed read (-EIO when the file is shorter than @size). On failure
 * *@bad_off is the offset of the failing chunk. */
int snapcheck_run(const struct snapcheck *c, unsigned threads, uint64_t *bad_off);

/* Read exactly @n bytes at @off of @fd: 0, -errno, or -EIO if the file ends first. */
int snapcheck_read(int fd, void *p, size_t n, uint64_t off);

#endif
