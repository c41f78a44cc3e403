/* scan.h - one pass of the scanner over every registered VM. */
#ifndef KSM_SCAN_H
#define KSM_SCAN_H

struct ksm;

/* Run one pass: dirty log, hashing and planning for every VM, then (unless merging is
 * held back while guests fill memory) each VM's merges, publishing after each VM that
 * had work. Caller holds k->lock. */
void ksm_scan_pass(struct ksm *k);

#endif
