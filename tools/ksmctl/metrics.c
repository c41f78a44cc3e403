/* metrics.c - `ksmctl metrics`: the report in Prometheus text exposition format (0.0.4),
 * written by the formatter the VMM's HTTP /metrics uses too (vmm/control/metrics.c), so
 * both print the same series. docs/reports.md lists them. */
#include <stdio.h>

#include <glib.h>

#include "tools/ksmctl/views.h"
#include "vmm/control/metrics.h"

int view_metrics(const struct view_args *a)
{
	struct rd_report r;
	GString *out;
	int ret = rd_fetch(a->control, &r, NULL);

	if (ret)
		return ret;
	out = g_string_new(NULL);
	metrics_format(&r, out);
	fwrite(out->str, 1, out->len, stdout);
	g_string_free(out, TRUE);
	rd_report_free(&r);
	return KSMCTL_OK;
}
