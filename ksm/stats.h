/* stats.h - publishing the engine's figures (read back by ksm_get_stats, ksm.h). */
#ifndef KSM_STATS_H
#define KSM_STATS_H

struct ksm;

/* Recompute the snapshot from the engine counters and every VM's page states. Caller
 * holds k->lock; takes k->stats_lock. On lack of memory the old snapshot stays. */
void ksm_stats_publish(struct ksm *k);

#endif
