/* measure.h - the measuring requests: first-store probe and stall watch. */
#ifndef WORKLOAD_MEASURE_H
#define WORKLOAD_MEASURE_H

#include "tests/guest/workload/cpu.h"

/* WL_REQ_PROBE on this vCPU; the last vCPU to finish reports. */
void wl_measure_probe(struct wl_cpu *c);

/* WL_REQ_WATCH on this vCPU; the last vCPU to finish reports. */
void wl_measure_watch(struct wl_cpu *c);

#endif
