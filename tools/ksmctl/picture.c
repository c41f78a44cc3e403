/* picture.c - the report as one picture (cairo): saving over time, per-guest cost bars,
 * and the sharing matrix as a heat map. PICTURE_WIDTH x PICTURE_HEIGHT, SVG or PNG.
 *
 * Layout: a title; panel A (top, full width) plots the fleet's saved bytes, cost and
 * pool size from the history; panel B (bottom left) has one stacked bar per guest:
 * private pages, its share of the pool, and what merging saved it; panel C (bottom
 * right) colours each cell of the guest x guest matrix by the pool pages the pair shares.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cairo-svg.h>
#include <cairo.h>

#include "lib/errbuf.h"
#include "lib/page.h"
#include "tools/ksmctl/views.h"

#define FONT "DejaVu Sans"

struct box {
	double x0, y0, x1, y1; /* plot area, device units */
};

struct rgb {
	double r, g, b;
};

static const struct rgb C_PRIVATE = {0.30, 0.45, 0.69}; /* blue */
static const struct rgb C_POOL = {0.87, 0.52, 0.32};	/* orange */
static const struct rgb C_SAVED = {0.33, 0.66, 0.41};	/* green */
static const struct rgb C_GIVEN = {0.70, 0.70, 0.70};	/* grey: pages the guest gave back */
static const struct rgb C_AXIS = {0.2, 0.2, 0.2};
static const struct rgb C_GRID = {0.88, 0.88, 0.88};

static void set_rgb(cairo_t *cr, struct rgb c)
{
	cairo_set_source_rgb(cr, c.r, c.g, c.b);
}

/* ---- Text ---- */

enum align { LEFT, CENTER, RIGHT };

static void text(cairo_t *cr, double x, double y, double size, bool bold, enum align al,
		 const char *s)
{
	cairo_text_extents_t e;

	cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
			       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
	cairo_text_extents(cr, s, &e);
	cairo_move_to(cr, al == LEFT ? x : al == CENTER ? x - e.x_advance / 2 : x - e.x_advance, y);
	cairo_show_text(cr, s);
}

/* Text turned 90 degrees counter-clockwise, centred on (@x, @y). */
static void text_up(cairo_t *cr, double x, double y, double size, const char *s)
{
	cairo_save(cr);
	cairo_translate(cr, x, y);
	cairo_rotate(cr, -M_PI / 2);
	text(cr, 0, 0, size, false, CENTER, s);
	cairo_restore(cr);
}

/* ---- Axes ---- */

/* A round step (1, 2 or 5 x 10^k) giving about @n ticks over @range. */
static double nice_step(double range, int n)
{
	double raw = range > 0 ? range / n : 1, mag = pow(10, floor(log10(raw)));
	double f = raw / mag;

	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void tick_label(char *buf, size_t len, double v, double step)
{
	if (step >= 1)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.*f", step >= 0.1 ? 1 : 2, v);
}

/* Horizontal grid and labels of the y axis from 0 to @ymax. */
static void y_axis(cairo_t *cr, const struct box *b, double ymax, const char *title)
{
	double step = nice_step(ymax, 5);
	char buf[32];

	for (double v = 0; v <= ymax * 1.0001; v += step) {
		double y = b->y1 - (b->y1 - b->y0) * v / ymax;

		set_rgb(cr, C_GRID);
		cairo_move_to(cr, b->x0, y);
		cairo_line_to(cr, b->x1, y);
		cairo_stroke(cr);
		set_rgb(cr, C_AXIS);
		tick_label(buf, sizeof(buf), v, step);
		text(cr, b->x0 - 6, y + 4, 11, false, RIGHT, buf);
	}
	text_up(cr, b->x0 - 52, (b->y0 + b->y1) / 2, 12, title);
}

/* Ticks and labels of the x axis from 0 to @xmax, and the frame of the plot. */
static void x_axis(cairo_t *cr, const struct box *b, double xmax, const char *title)
{
	double step = nice_step(xmax, 8);
	char buf[32];

	set_rgb(cr, C_AXIS);
	for (double v = 0; v <= xmax * 1.0001; v += step) {
		double x = b->x0 + (b->x1 - b->x0) * v / xmax;

		cairo_move_to(cr, x, b->y1);
		cairo_line_to(cr, x, b->y1 + 4);
		cairo_stroke(cr);
		tick_label(buf, sizeof(buf), v, step);
		text(cr, x, b->y1 + 17, 11, false, CENTER, buf);
	}
	cairo_rectangle(cr, b->x0, b->y0, b->x1 - b->x0, b->y1 - b->y0);
	cairo_stroke(cr);
	text(cr, (b->x0 + b->x1) / 2, b->y1 + 36, 12, false, CENTER, title);
}

/* A coloured square and its label; returns the x after it. */
static double legend(cairo_t *cr, double x, double y, struct rgb c, const char *label)
{
	cairo_text_extents_t e;

	set_rgb(cr, c);
	cairo_rectangle(cr, x, y - 10, 12, 12);
	cairo_fill(cr);
	set_rgb(cr, C_AXIS);
	text(cr, x + 17, y, 12, false, LEFT, label);
	cairo_text_extents(cr, label, &e);
	return x + 17 + e.x_advance + 18;
}

static void no_data(cairo_t *cr, const struct box *b, const char *why)
{
	set_rgb(cr, C_AXIS);
	cairo_rectangle(cr, b->x0, b->y0, b->x1 - b->x0, b->y1 - b->y0);
	cairo_stroke(cr);
	text(cr, (b->x0 + b->x1) / 2, (b->y0 + b->y1) / 2, 14, false, CENTER, why);
}

/* ---- Panel A: saving over time ---- */

/* MiB of series @k (0 saved, 1 cost, 2 pool) in sample @s. */
static double series(const struct rd_sample *s, int k)
{
	uint64_t v = k == 0 ? s->bytes_saved : k == 1 ? s->cost_bytes : s->pool_pages * PAGE_SIZE;

	return rd_mib(v);
}

static void plot_series(cairo_t *cr, const struct box *b, const struct rd_history *h, int k,
			double xmax, double ymax, double xscale)
{
	const struct rgb colours[] = {C_SAVED, C_PRIVATE, C_POOL};

	set_rgb(cr, colours[k]);
	cairo_set_line_width(cr, 2.5);
	for (size_t i = 0; i < h->n; i++) {
		double x = b->x0 + (b->x1 - b->x0) * (h->s[i].uptime / xscale) / xmax;
		double y = b->y1 - (b->y1 - b->y0) * series(&h->s[i], k) / ymax;

		if (i == 0)
			cairo_move_to(cr, x, y);
		else
			cairo_line_to(cr, x, y);
	}
	cairo_stroke(cr);
	cairo_set_line_width(cr, 1);
}

static void panel_history(cairo_t *cr, const struct rd_history *h)
{
	struct box b = {80, 100, 1160, 360};
	double xmax = 0, ymax = 0, xscale;
	double x;

	set_rgb(cr, C_AXIS);
	text(cr, 20, 82, 15, true, LEFT, "(a) Saving over time (whole fleet)");
	if (h->n < 2) {
		no_data(cr, &b, "no history yet (one sample a second)");
		return;
	}
	for (size_t i = 0; i < h->n; i++)
		for (int k = 0; k < 3; k++)
			ymax = fmax(ymax, series(&h->s[i], k));
	xmax = h->s[h->n - 1].uptime;
	xscale = xmax > 600 ? 60 : 1; /* minutes past ten minutes */
	xmax = fmax(xmax / xscale, 1e-3);
	ymax = ymax > 0 ? ymax * 1.1 : 1;
	y_axis(cr, &b, ymax, "MiB");
	x_axis(cr, &b, xmax,
	       xscale > 1 ? "time since the VMM started (min)" : "time since the VMM started (s)");
	for (int k = 0; k < 3; k++)
		plot_series(cr, &b, h, k, xmax, ymax, xscale);
	x = legend(cr, 520, 82, C_SAVED, "saved (MiB)");
	x = legend(cr, x, 82, C_PRIVATE, "fleet cost (MiB)");
	legend(cr, x, 82, C_POOL, "pool (MiB)");
}

/* ---- Panel B: per-guest cost bars ---- */

/* Draw a bar segment of @mib MiB at @x; returns the x after it. */
static double segment(cairo_t *cr, double x, double y, double h, double mib, double scale,
		      struct rgb c)
{
	double w = mib * scale;

	set_rgb(cr, c);
	cairo_rectangle(cr, x, y, w, h);
	cairo_fill(cr);
	return x + w;
}

static void guest_bar(cairo_t *cr, const struct box *b, const struct rd_figures *g, size_t i,
		      double row, double scale, size_t label_every)
{
	double y = b->y0 + row * (double) i, h = fmax(row * 0.7, 1), x = b->x0;

	x = segment(cr, x, y + (row - h) / 2, h, rd_mib(g->private_pages * PAGE_SIZE), scale,
		    C_PRIVATE);
	x = segment(cr, x, y + (row - h) / 2, h, rd_mib(g->shared_cost_bytes), scale, C_POOL);
	x = segment(cr, x, y + (row - h) / 2, h, rd_mib(g->saved_bytes), scale, C_SAVED);
	segment(cr, x, y + (row - h) / 2, h, rd_mib(g->reported_pages * PAGE_SIZE), scale, C_GIVEN);
	if (i % label_every == 0) {
		set_rgb(cr, C_AXIS);
		text(cr, b->x0 - 6, y + row / 2 + 4, fmin(12, row), false, RIGHT, g->name);
	}
}

static void panel_bars(cairo_t *cr, const struct rd_report *r)
{
	struct box b = {100, 450, 560, 820};
	double xmax = 0, row, x;
	size_t every;

	set_rgb(cr, C_AXIS);
	text(cr, 20, 425, 15, true, LEFT, "(b) What each guest costs and saves");
	if (!r->nguests) {
		no_data(cr, &b, "no running guest");
		return;
	}
	for (size_t i = 0; i < r->nguests; i++)
		xmax = fmax(xmax, rd_mib(rd_unmerged(&r->guests[i]) +
					 r->guests[i].reported_pages * PAGE_SIZE));
	xmax = xmax > 0 ? xmax * 1.05 : 1;
	row = (b.y1 - b.y0) / (double) r->nguests;
	every = row >= 9 ? 1 : (size_t) ceil(9 / row);
	for (size_t i = 0; i < r->nguests; i++)
		guest_bar(cr, &b, &r->guests[i], i, row, (b.x1 - b.x0) / xmax, every);
	x_axis(cr, &b, xmax, "MiB per guest");
	x = legend(cr, 40, 885, C_PRIVATE, "private");
	x = legend(cr, x, 885, C_POOL, "share of pool (1/k per page)");
	x = legend(cr, x, 885, C_SAVED, "saved");
	legend(cr, x, 885, C_GIVEN, "given back");
}

/* ---- Panel C: the sharing matrix ---- */

/* White to dark blue as @f goes from 0 to 1. */
static struct rgb heat(double f)
{
	f = fmin(fmax(f, 0), 1);
	return (struct rgb){0.97 - 0.94 * f, 0.98 - 0.79 * f, 1.0 - 0.58 * f};
}

static void heat_cell(cairo_t *cr, double x, double y, double cell, uint64_t v, uint64_t vmax)
{
	double f = vmax ? (double) v / (double) vmax : 0;
	char buf[32];

	set_rgb(cr, heat(f));
	cairo_rectangle(cr, x, y, cell, cell);
	cairo_fill(cr);
	if (cell < 34)
		return;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);
	cairo_set_source_rgb(cr, f > 0.5 ? 1 : 0, f > 0.5 ? 1 : 0, f > 0.5 ? 1 : 0);
	text(cr, x + cell / 2, y + cell / 2 + 4, fmin(11, cell / 4), false, CENTER, buf);
}

static void heat_labels(cairo_t *cr, const struct rd_matrix *m, double x0, double y0, double cell)
{
	size_t every = cell >= 9 ? 1 : (size_t) ceil(9 / cell);

	set_rgb(cr, C_AXIS);
	for (size_t i = 0; i < m->n; i += every) {
		text(cr, x0 - 5, y0 + cell * ((double) i + 0.5) + 4, fmin(12, cell), false, RIGHT,
		     m->names[i]);
		text(cr, x0 + cell * ((double) i + 0.5), y0 - 6, fmin(12, cell), false, CENTER,
		     m->names[i]);
	}
}

static void colour_bar(cairo_t *cr, double x, double y0, double y1, uint64_t vmax)
{
	char buf[32];

	for (int i = 0; i < 100; i++) {
		set_rgb(cr, heat((double) i / 99));
		cairo_rectangle(cr, x, y1 - (y1 - y0) * (i + 1) / 100.0, 16,
				(y1 - y0) / 100.0 + 0.5);
		cairo_fill(cr);
	}
	set_rgb(cr, C_AXIS);
	for (int k = 0; k <= 2; k++) {
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long) (vmax * (uint64_t) k / 2));
		text(cr, x + 20, y1 - (y1 - y0) * k / 2.0 + 4, 11, false, LEFT, buf);
	}
	text_up(cr, x + 72, (y0 + y1) / 2, 12, "shared pool pages (4 KiB each)");
}

static void panel_matrix(cairo_t *cr, const struct rd_report *r)
{
	const struct rd_matrix *m = &r->matrix;
	struct box b = {700, 470, 1050, 820};
	double cell;
	uint64_t vmax = 0;

	set_rgb(cr, C_AXIS);
	text(cr, 620, 425, 15, true, LEFT, "(c) Who shares with whom (pool pages per pair)");
	if (!m->n) {
		no_data(cr, &b, "no running guest");
		return;
	}
	for (size_t i = 0; i < m->n * m->n; i++)
		vmax = vmax > m->cells[i] ? vmax : m->cells[i];
	cell = (b.x1 - b.x0) / (double) m->n;
	for (size_t a = 0; a < m->n; a++)
		for (size_t c = 0; c < m->n; c++)
			heat_cell(cr, b.x0 + cell * (double) c, b.y0 + cell * (double) a, cell,
				  m->cells[a * m->n + c], vmax);
	heat_labels(cr, m, b.x0, b.y0, cell);
	set_rgb(cr, C_AXIS);
	cairo_rectangle(cr, b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
	cairo_stroke(cr);
	text(cr, (b.x0 + b.x1) / 2, b.y1 + 22, 12, false, CENTER,
	     "guest (diagonal: pool pages the guest maps)");
	colour_bar(cr, b.x1 + 25, b.y0, b.y1, vmax);
}

/* ---- The whole picture ---- */

static void title(cairo_t *cr, const struct rd_report *r)
{
	const struct rd_figures *t = &r->totals;
	time_t when = (time_t) r->time;
	char buf[256], date[64];

	set_rgb(cr, C_AXIS);
	snprintf(buf, sizeof(buf), "ksmvmm: %zu guests, %.1f MiB cost, %.1f MiB saved (%.1f%%)",
		 r->nguests, rd_mib(t->cost_bytes), rd_mib(t->saved_bytes),
		 rd_pct((double) t->saved_bytes, (double) rd_unmerged(t)));
	text(cr, 20, 34, 20, true, LEFT, buf);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", localtime(&when));
	snprintf(buf, sizeof(buf), "%s - pool %.1f MiB - host Pss %.1f MiB (%s)", date,
		 rd_mib(t->pool_pages * PAGE_SIZE), rd_mib(r->host.pss),
		 !r->host.known	  ? "unknown"
		 : r->host.agrees ? "agrees with the fleet's cost"
				  : "does not agree");
	text(cr, 20, 56, 12, false, LEFT, buf);
}

static void draw(cairo_t *cr, const struct rd_report *r, const struct rd_history *h)
{
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_set_line_width(cr, 1);
	title(cr, r);
	panel_history(cr, h);
	panel_bars(cr, r);
	panel_matrix(cr, r);
}

int picture_render(const struct rd_report *r, const struct rd_history *h, const char *path,
		   bool svg, char *err, size_t errlen)
{
	cairo_surface_t *s =
	    svg ? cairo_svg_surface_create(path, PICTURE_WIDTH, PICTURE_HEIGHT)
		: cairo_image_surface_create(CAIRO_FORMAT_RGB24, PICTURE_WIDTH, PICTURE_HEIGHT);
	cairo_t *cr = cairo_create(s);
	cairo_status_t st;

	draw(cr, r, h);
	st = cairo_status(cr);
	cairo_destroy(cr);
	if (st == CAIRO_STATUS_SUCCESS && !svg)
		st = cairo_surface_write_to_png(s, path);
	cairo_surface_finish(s);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(s);
	cairo_surface_destroy(s);
	if (st == CAIRO_STATUS_SUCCESS)
		return 0;
	return errbuf_set(err, errlen, -EIO, "cannot write %s: %s", path,
			  cairo_status_to_string(st));
}
