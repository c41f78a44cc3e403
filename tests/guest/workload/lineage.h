/* lineage.h - a vCPU's identities: the boot one and those of later restores or clones. */
#ifndef WORKLOAD_LINEAGE_H
#define WORKLOAD_LINEAGE_H

#include "tests/guest/workload/cpu.h"

/* Set up vCPU c->index's lineage table with the boot identity (c->lay.self). */
void wl_lineage_init(struct wl_cpu *c);

/* WL_REQ_RESTORED: take the identity now in the parameters and write under it. */
void wl_lineage_restored(struct wl_cpu *c);

#endif
