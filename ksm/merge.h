/* merge.h - carry out one VM's queued actions with the VM paused. */
#ifndef KSM_MERGE_H
#define KSM_MERGE_H

struct ksm;
struct ksm_vm;

/* Execute @vm's queued actions in paused batches (tunables batch_pages, max_stall_us),
 * each page compared byte for byte first, then empty the queue and clear
 * KSM_PF_PLANNED. Caller holds k->lock. */
void ksm_merge_actions(struct ksm *k, struct ksm_vm *vm);

#endif
