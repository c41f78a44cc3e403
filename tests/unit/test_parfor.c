/* test_parfor.c - one job on several threads: every index done exactly once, whatever
 * the length, block and thread count; a worker index belongs to one thread and stays
 * below the count of threads that ran; the caller is worker 0; par_set_threads fixes
 * par_threads(). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parfor.h"
#include "tests/unit/check.h"

#define MAX_N 100000u

struct job {
	atomic_uint hits[MAX_N];
	pthread_t owner[PAR_MAX_THREADS];
	atomic_bool seen[PAR_MAX_THREADS];
	atomic_uint bad; /* blocks with a worker index out of range or owned by two threads */
	pthread_t caller;
	uint64_t block;
};

static void visit(void *opaque, unsigned worker, uint64_t from, uint64_t to)
{
	struct job *j = opaque;

	if (worker >= PAR_MAX_THREADS || to <= from || to - from > j->block) {
		atomic_fetch_add(&j->bad, 1);
		return;
	}
	if (!atomic_exchange(&j->seen[worker], true))
		j->owner[worker] = pthread_self();
	else if (!pthread_equal(j->owner[worker], pthread_self()))
		atomic_fetch_add(&j->bad, 1);
	if (worker == 0 && !pthread_equal(pthread_self(), j->caller))
		atomic_fetch_add(&j->bad, 1);
	for (uint64_t i = from; i < to; i++)
		atomic_fetch_add(&j->hits[i], 1);
}

static void run(uint64_t n, uint64_t block, unsigned threads)
{
	static struct job j;
	unsigned ran, once = 0;

	memset(&j, 0, sizeof(j));
	j.caller = pthread_self();
	j.block = block;
	ran = par_for(n, block, threads, visit, &j);
	for (uint64_t i = 0; i < n; i++)
		once += atomic_load(&j.hits[i]) == 1;
	CHECK_EQ(once, n);
	CHECK_EQ(atomic_load(&j.bad), 0);
	CHECK(ran >= 1 && ran <= (threads ? threads : 1) && ran <= PAR_MAX_THREADS);
	CHECK(ran <= (n + block - 1) / block || n == 0);
	for (unsigned w = ran; w < PAR_MAX_THREADS; w++)
		CHECK(!atomic_load(&j.seen[w]));
}

int main(void)
{
	static const uint64_t lengths[] = {0, 1, 7, 512, 4096, 99999};
	static const uint64_t blocks[] = {1, 3, 512, 200000};
	static const unsigned threads[] = {0, 1, 2, 5, 8, 64};

	for (unsigned a = 0; a < 6; a++)
		for (unsigned b = 0; b < 4; b++)
			for (unsigned t = 0; t < 6; t++)
				run(lengths[a], blocks[b], threads[t]);
	/* Many blocks on 8 threads: more than one thread ran (each start is checked). */
	{
		static struct job j;

		j.caller = pthread_self();
		j.block = 1;
		CHECK(par_for(64, 1, 8, visit, &j) > 1);
	}
	CHECK(par_threads() >= 1 && par_threads() <= PAR_MAX_THREADS);
	par_set_threads(3);
	CHECK_EQ(par_threads(), 3);
	par_set_threads(100);
	CHECK_EQ(par_threads(), PAR_MAX_THREADS);
	par_set_threads(0);
	CHECK(par_threads() >= 1 && par_threads() <= PAR_MAX_THREADS);
	return check_done("test_parfor");
}
