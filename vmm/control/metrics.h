/* metrics.h - a report in the Prometheus text exposition format (version 0.0.4), the one
 * formatter of both `ksmctl metrics` and the VMM's HTTP /metrics (metrics_http.h).
 *
 * Every family gets a HELP and a TYPE line, then its samples; counters end in _total.
 * Per-guest series are labelled domain="NAME" and uuid="UUID", as
 * prometheus-libvirt-exporter labels its series; docs/reports.md lists every family.
 */
#ifndef VMM_CONTROL_METRICS_H
#define VMM_CONTROL_METRICS_H

#include <glib.h>

#include "vmm/control/reportdata.h"

/* Content-Type of the text metrics_format() writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append every family of report @r to @out, starting with ksmvmm_up 1. */
void metrics_format(const struct rd_report *r, GString *out);

/* Append @v to @out as a quoted label value: backslash, double quote and newline escaped
 * (\\, \", \n), every other byte as it is. */
void metrics_label_value(GString *out, const char *v);

#endif
