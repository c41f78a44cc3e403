/* history.c - the ring of merge samples taken once a second from the main loop. */
#include "vmm/control/history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ksm/ksm.h"
#include "vmm/fleet.h"
#include "vmm/control/protocol_json.h"

#define HISTORY_VERSION 1

struct history {
	GMutex lock;			/* guards everything below but the timer fields */
	size_t cap;			/* samples the ring holds */
	size_t nguests;			/* per-guest columns */
	size_t head;			/* index of the oldest sample */
	size_t count;			/* samples held */
	struct history_sample *samples; /* cap entries */
	uint64_t *saved;		/* cap x nguests: bytes saved per guest */
	uint64_t *cow;			/* cap x nguests: copy-on-write breaks per guest */
	/* Sampling (main-loop thread only). */
	struct fleet *fleet;
	guint timer;
	gint64 start_us;	  /* monotonic time of history_start() */
	struct ksm_vm_stats *vms; /* scratch: nguests entries */
};

struct history *history_create(size_t nguests, size_t cap)
{
	struct history *h;

	if (cap == 0 || cap > HISTORY_CAP)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	g_mutex_init(&h->lock);
	h->cap = cap;
	h->nguests = nguests;
	h->samples = calloc(cap, sizeof(*h->samples));
	h->saved = calloc(cap * (nguests ? nguests : 1), sizeof(*h->saved));
	h->cow = calloc(cap * (nguests ? nguests : 1), sizeof(*h->cow));
	h->vms = calloc(nguests ? nguests : 1, sizeof(*h->vms));
	if (!h->samples || !h->saved || !h->cow || !h->vms) {
		history_destroy(h);
		return NULL;
	}
	return h;
}

void history_destroy(struct history *h)
{
	if (!h)
		return;
	if (h->timer)
		g_source_remove(h->timer);
	free(h->samples);
	free(h->saved);
	free(h->cow);
	free(h->vms);
	g_mutex_clear(&h->lock);
	free(h);
}

/* Slot of sample @i (0 = oldest). Caller holds the lock. */
static size_t history_slot(const struct history *h, size_t i)
{
	return (h->head + i) % h->cap;
}

void history_add(struct history *h, double time, double uptime, const struct ksm_stats *s,
		 const struct ksm_vm_stats *vms, size_t n)
{
	struct history_sample smp = {.time = time, .uptime = uptime};
	size_t slot;

	smp.merges = s->merges;
	smp.cow_breaks = s->cow_breaks;
	smp.pool_pages = s->pool_pages;
	smp.cpu_seconds = s->cpu_seconds;
	for (size_t g = 0; g < n; g++) {
		smp.bytes_saved += vms[g].bytes_saved;
		smp.cost_bytes += vms[g].cost_bytes;
		smp.zero_pages += vms[g].pages_zero;
	}
	g_mutex_lock(&h->lock);
	if (h->count == h->cap)
		h->head = (h->head + 1) % h->cap;
	else
		h->count++;
	slot = history_slot(h, h->count - 1);
	h->samples[slot] = smp;
	for (size_t g = 0; g < h->nguests; g++) {
		h->saved[slot * h->nguests + g] = g < n ? vms[g].bytes_saved : 0;
		h->cow[slot * h->nguests + g] = g < n ? vms[g].cow_breaks : 0;
	}
	g_mutex_unlock(&h->lock);
}

size_t history_count(struct history *h)
{
	size_t n;

	g_mutex_lock(&h->lock);
	n = h->count;
	g_mutex_unlock(&h->lock);
	return n;
}

int history_get(struct history *h, size_t i, struct history_sample *out, uint64_t *saved,
		uint64_t *cow)
{
	size_t slot, bytes = h->nguests * sizeof(uint64_t);

	g_mutex_lock(&h->lock);
	if (i >= h->count) {
		g_mutex_unlock(&h->lock);
		return -ERANGE;
	}
	slot = history_slot(h, i);
	*out = h->samples[slot];
	if (saved && bytes)
		memcpy(saved, &h->saved[slot * h->nguests], bytes);
	if (cow && bytes)
		memcpy(cow, &h->cow[slot * h->nguests], bytes);
	g_mutex_unlock(&h->lock);
	return 0;
}

/* Copy-on-write breaks in slot @slot: guest @g, or the fleet. Caller holds the lock. */
static uint64_t history_cow_at(const struct history *h, size_t slot, size_t g)
{
	return g == SIZE_MAX ? h->samples[slot].cow_breaks : h->cow[slot * h->nguests + g];
}

int history_cow_rate(struct history *h, size_t g, double window_s, double *rate)
{
	size_t first, last;
	double dt;

	if (g != SIZE_MAX && g >= h->nguests)
		return -ERANGE;
	g_mutex_lock(&h->lock);
	if (h->count < 2) {
		g_mutex_unlock(&h->lock);
		return -ENODATA;
	}
	last = history_slot(h, h->count - 1);
	/* The oldest sample still inside the window; at least the one before the last. */
	first = h->count - 2;
	while (first > 0 &&
	       h->samples[last].uptime - h->samples[history_slot(h, first - 1)].uptime <= window_s)
		first--;
	first = history_slot(h, first);
	dt = h->samples[last].uptime - h->samples[first].uptime;
	*rate =
	    dt > 0 ? (double) (history_cow_at(h, last, g) - history_cow_at(h, first, g)) / dt : 0;
	g_mutex_unlock(&h->lock);
	return 0;
}

/* ---- Sampling ---- */

static gboolean history_on_timer(gpointer data)
{
	struct history *h = data;
	struct ksm_stats s;
	int n = fleet_merge_stats(h->fleet, &s, h->vms, h->nguests);
	gint64 now = g_get_monotonic_time();

	if (n < 0)
		return G_SOURCE_CONTINUE;
	history_add(h, (double) g_get_real_time() / 1e6, (double) (now - h->start_us) / 1e6, &s,
		    h->vms, (size_t) n);
	return G_SOURCE_CONTINUE;
}

void history_start(struct history *h, struct fleet *f)
{
	if (fleet_merge_mode(f) != MERGE_VMM || h->timer)
		return;
	h->fleet = f;
	h->start_us = g_get_monotonic_time();
	history_on_timer(h);
	h->timer = g_timeout_add_seconds(HISTORY_PERIOD_S, history_on_timer, h);
}

/* ---- The reply ---- */

static const char *const history_columns[] = {
    "time",	  "uptime",	"bytes_saved", "cost_bytes",  "merges",
    "cow_breaks", "zero_pages", "pool_pages",  "cpu_seconds",
};

static void history_add_sample(JsonBuilder *b, const struct history_sample *s)
{
	const uint64_t ints[] = {s->bytes_saved, s->cost_bytes, s->merges,
				 s->cow_breaks,	 s->zero_pages, s->pool_pages};

	json_builder_begin_array(b);
	json_builder_add_double_value(b, s->time);
	json_builder_add_double_value(b, s->uptime);
	for (size_t i = 0; i < G_N_ELEMENTS(ints); i++)
		json_builder_add_int_value(b, (gint64) MIN(ints[i], (uint64_t) G_MAXINT64));
	json_builder_add_double_value(b, s->cpu_seconds);
	json_builder_end_array(b);
}

static void history_add_header(JsonBuilder *b, const struct history *h)
{
	json_builder_set_member_name(b, "ok");
	json_builder_add_boolean_value(b, TRUE);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, HISTORY_VERSION);
	json_builder_set_member_name(b, "period_s");
	json_builder_add_int_value(b, HISTORY_PERIOD_S);
	json_builder_set_member_name(b, "capacity");
	json_builder_add_int_value(b, (gint64) h->cap);
	json_builder_set_member_name(b, "columns");
	json_builder_begin_array(b);
	for (size_t i = 0; i < G_N_ELEMENTS(history_columns); i++)
		json_builder_add_string_value(b, history_columns[i]);
	json_builder_end_array(b);
}

/* "guest_samples": [[saved, cow], ...] of guest @g, one per sample. Caller holds the lock. */
static void history_add_guest(JsonBuilder *b, const struct history *h, size_t g)
{
	json_builder_set_member_name(b, "guest_samples");
	json_builder_begin_array(b);
	for (size_t i = 0; i < h->count; i++) {
		size_t slot = history_slot(h, i);

		json_builder_begin_array(b);
		json_builder_add_int_value(b, (gint64) h->saved[slot * h->nguests + g]);
		json_builder_add_int_value(b, (gint64) h->cow[slot * h->nguests + g]);
		json_builder_end_array(b);
	}
	json_builder_end_array(b);
}

char *history_reply(struct history *h, size_t guest, const char *name)
{
	JsonBuilder *b = json_builder_new();

	json_builder_begin_object(b);
	history_add_header(b, h);
	g_mutex_lock(&h->lock);
	json_builder_set_member_name(b, "samples");
	json_builder_begin_array(b);
	for (size_t i = 0; i < h->count; i++)
		history_add_sample(b, &h->samples[history_slot(h, i)]);
	json_builder_end_array(b);
	if (guest < h->nguests) {
		json_builder_set_member_name(b, "guest");
		json_builder_add_string_value(b, name);
		history_add_guest(b, h, guest);
	}
	g_mutex_unlock(&h->lock);
	json_builder_end_object(b);
	return proto_render(b);
}
