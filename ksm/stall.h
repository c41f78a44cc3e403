/* stall.h - histogram of guest pause durations, for p50 / p99 / max in microseconds. */
#ifndef KSM_STALL_H
#define KSM_STALL_H

#include <stdint.h>

/* Buckets: 0..1023 us one per microsecond, then 64 power-of-two buckets above. */
#define KSM_STALL_LINEAR 1024
#define KSM_STALL_BUCKETS (KSM_STALL_LINEAR + 64)

struct ksm_stall {
	uint64_t count;
	uint64_t max_us;
	uint64_t buckets[KSM_STALL_BUCKETS];
};

void ksm_stall_record(struct ksm_stall *s, uint64_t us);

/* The @pct-th percentile (0..100) in microseconds: an upper bound of its bucket. */
uint64_t ksm_stall_percentile(const struct ksm_stall *s, double pct);

#endif
