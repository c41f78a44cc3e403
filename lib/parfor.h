/* parfor.h - one job split into blocks, run on several threads (the calling one too).
 *
 * Blocks go out in order from one shared counter, so threads sweeping a file or a
 * memory range each move forward through it as a single reader would, and a fast
 * thread takes more blocks than a slow one. The caller's @fn must make its blocks
 * independent; par_for returns once every block is done, and everything the blocks
 * wrote is then visible to the caller (the threads are joined).
 */
#ifndef LIB_PARFOR_H
#define LIB_PARFOR_H

#include <stdint.h>

#define PAR_MAX_THREADS 8u

/* Do [@from, @to) of the job. @worker (0 .. threads-1) is the same for every block one
 * thread does, so per-worker state can live in an array indexed by it; 0 is the caller. */
typedef void par_fn(void *opaque, unsigned worker, uint64_t from, uint64_t to);

/* Run @fn over [0, @n) in blocks of @block (> 0) on up to @threads threads, at most
 * PAR_MAX_THREADS and no more than there are blocks. A thread that cannot start leaves
 * its share to the others: the calling thread alone still does the whole job. Returns
 * the number of threads that ran. */
unsigned par_for(uint64_t n, uint64_t block, unsigned threads, par_fn *fn, void *opaque);

/* The threads a job should use: the CPUs this process may run on, 1..PAR_MAX_THREADS,
 * unless par_set_threads said otherwise. */
unsigned par_threads(void);

/* Fix par_threads() to @n (tests and benchmarks compare thread counts); 0 goes back to
 * counting CPUs. Not for use while jobs run. */
void par_set_threads(unsigned n);

#endif
