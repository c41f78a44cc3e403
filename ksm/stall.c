/* stall.c - a fixed-size latency histogram: exact below 1 ms, power-of-two above. */
#include "ksm/stall.h"

static unsigned bucket_of(uint64_t us)
{
	if (us < KSM_STALL_LINEAR)
		return (unsigned) us;
	return KSM_STALL_LINEAR + (unsigned) (63 - __builtin_clzll(us)) - 10;
}

static uint64_t bucket_top(unsigned b)
{
	if (b < KSM_STALL_LINEAR)
		return b;
	return (2ull << (b - KSM_STALL_LINEAR + 10)) - 1;
}

void ksm_stall_record(struct ksm_stall *s, uint64_t us)
{
	s->buckets[bucket_of(us)]++;
	s->count++;
	if (us > s->max_us)
		s->max_us = us;
}

uint64_t ksm_stall_percentile(const struct ksm_stall *s, double pct)
{
	uint64_t want, seen = 0;

	if (s->count == 0)
		return 0;
	want = (uint64_t) ((double) s->count * pct / 100.0 + 0.999999);
	if (want == 0)
		want = 1;
	for (unsigned b = 0; b < KSM_STALL_BUCKETS; b++) {
		seen += s->buckets[b];
		if (seen >= want)
			return bucket_top(b) < s->max_us ? bucket_top(b) : s->max_us;
	}
	return s->max_us;
}
