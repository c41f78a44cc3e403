/* views.h - ksmctl's report views: report, history, top, metrics, and the picture. */
#ifndef KSMCTL_VIEWS_H
#define KSMCTL_VIEWS_H

#include <stdbool.h>
#include <stddef.h>

#include "tools/ksmctl/reportdata.h"

#define PICTURE_WIDTH 1200 /* pixels (PNG) or points (SVG) */
#define PICTURE_HEIGHT 900

/* What the command line asked of a view. */
struct view_args {
	const char *control; /* socket path */
	const char *name;    /* history: one guest's samples too; "" = none */
	bool json;	     /* the reply as it came */
	bool csv;	     /* history: comma-separated values */
	const char *svg;     /* report: write the picture as SVG here */
	const char *png;     /* report: write the picture as PNG here */
	double interval;     /* top: seconds between refreshes */
	long iterations;     /* top: refreshes before exiting; 0 = until q */
};

/* Each view returns a ksmctl exit status (KSMCTL_OK, KSMCTL_FAILED, KSMCTL_USAGE). */
int view_report(const struct view_args *a);
int view_history(const struct view_args *a);
int view_top(const struct view_args *a);
int view_metrics(const struct view_args *a);

/* Print the per-guest table and fleet totals of @r (used by report and top). */
void view_print_guests(const struct rd_report *r);

/* Draw @r and @h as one PICTURE_WIDTH x PICTURE_HEIGHT picture into @path: SVG if @svg,
 * else PNG. Returns 0, or -EIO with a reason in @err. */
int picture_render(const struct rd_report *r, const struct rd_history *h, const char *path,
		   bool svg, char *err, size_t errlen);

#endif
