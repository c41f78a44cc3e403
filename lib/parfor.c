/* parfor.c - blocks of one job on several threads. */
#include "lib/parfor.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

struct par_job {
	uint64_t n, block;
	par_fn *fn;
	void *opaque;
	atomic_uint_fast64_t next; /* the start of the next block to hand out */
};

struct par_worker {
	struct par_job *job;
	unsigned index;
};

static unsigned fixed_threads; /* par_set_threads; 0: count CPUs */

static void *work(void *arg)
{
	struct par_worker *w = arg;
	struct par_job *j = w->job;
	uint64_t from;

	while ((from = atomic_fetch_add(&j->next, j->block)) < j->n)
		j->fn(j->opaque, w->index, from, j->n - from < j->block ? j->n : from + j->block);
	return NULL;
}

unsigned par_for(uint64_t n, uint64_t block, unsigned threads, par_fn *fn, void *opaque)
{
	struct par_job j = {.n = n, .block = block ? block : 1, .fn = fn, .opaque = opaque};
	struct par_worker w[PAR_MAX_THREADS];
	pthread_t t[PAR_MAX_THREADS];
	uint64_t blocks = (n + j.block - 1) / j.block;
	unsigned started = 1;

	atomic_init(&j.next, 0);
	if (threads > PAR_MAX_THREADS)
		threads = PAR_MAX_THREADS;
	for (unsigned i = 0; i < PAR_MAX_THREADS; i++)
		w[i] = (struct par_worker){.job = &j, .index = i};
	while (started < threads && started < blocks &&
	       !pthread_create(&t[started], NULL, work, &w[started]))
		started++;
	work(&w[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(t[i], NULL);
	return started;
}

unsigned par_threads(void)
{
	cpu_set_t set;
	int n = 1;

	if (fixed_threads)
		return fixed_threads < PAR_MAX_THREADS ? fixed_threads : PAR_MAX_THREADS;
	if (!sched_getaffinity(0, sizeof(set), &set))
		n = CPU_COUNT(&set);
	if (n < 1)
		n = 1;
	return (unsigned) n < PAR_MAX_THREADS ? (unsigned) n : PAR_MAX_THREADS;
}

void par_set_threads(unsigned n)
{
	fixed_threads = n;
}
