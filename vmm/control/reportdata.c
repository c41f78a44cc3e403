/* reportdata.c - parse "report" and "history" replies into one model, shared by ksmctl's
 * views and the VMM's /metrics endpoint (vmm/control/metrics.c), so that a figure means the
 * same wherever it is shown. */
#include "vmm/control/reportdata.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "lib/errbuf.h"
#include "vmm/control/protocol.h"

#define RD_MAX_ROWS 4096 /* most guests, groups or samples accepted */

/* ---- Typed access (missing or mistyped members read as 0 or "") ---- */

static JsonNode *rd_member(JsonObject *o, const char *key)
{
	return o ? json_object_get_member(o, key) : NULL;
}

static uint64_t rd_uint(JsonObject *o, const char *key)
{
	JsonNode *n = rd_member(o, key);

	if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
		return 0;
	return json_node_get_int(n) < 0 ? 0 : (uint64_t) json_node_get_int(n);
}

static int64_t rd_int(JsonObject *o, const char *key)
{
	JsonNode *n = rd_member(o, key);

	if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
		return 0;
	return json_node_get_int(n);
}

static double rd_double(JsonObject *o, const char *key)
{
	JsonNode *n = rd_member(o, key);

	if (!n || !JSON_NODE_HOLDS_VALUE(n))
		return 0;
	if (json_node_get_value_type(n) == G_TYPE_INT64)
		return (double) json_node_get_int(n);
	return json_node_get_value_type(n) == G_TYPE_DOUBLE ? json_node_get_double(n) : 0;
}

static bool rd_bool(JsonObject *o, const char *key)
{
	JsonNode *n = rd_member(o, key);

	return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN &&
	       json_node_get_boolean(n);
}

/* Copy a string node into @buf, control characters blanked; "" if not a string. */
static void rd_copy(JsonNode *n, char *buf, size_t size)
{
	const char *s = "";

	if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
		s = json_node_get_string(n);
	g_strlcpy(buf, s, size);
	for (char *p = buf; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static void rd_str(JsonObject *o, const char *key, char *buf, size_t size)
{
	rd_copy(rd_member(o, key), buf, size);
}

static JsonObject *rd_object(JsonObject *o, const char *key)
{
	JsonNode *n = rd_member(o, key);

	return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* Array member @key with at most RD_MAX_ROWS elements, or NULL. */
static JsonArray *rd_array(JsonObject *o, const char *key)
{
	JsonNode *n = rd_member(o, key);
	JsonArray *a = n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;

	return a && json_array_get_length(a) <= RD_MAX_ROWS ? a : NULL;
}

static JsonObject *rd_element_object(JsonArray *a, guint i)
{
	JsonNode *n = json_array_get_element(a, i);

	return JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* ---- Report ---- */

static void rd_figures(JsonObject *o, struct rd_figures *f)
{
	rd_str(o, "name", f->name, sizeof(f->name));
	rd_str(o, "uuid", f->uuid, sizeof(f->uuid));
	rd_str(o, "group", f->group, sizeof(f->group));
	rd_str(o, "state", f->state, sizeof(f->state));
	f->guests = rd_uint(o, "guests");
	f->mem_bytes = rd_uint(o, "mem_bytes");
	f->cost_bytes = rd_uint(o, "cost_bytes");
	f->private_pages = rd_uint(o, "private_pages");
	f->shared_pages = rd_uint(o, "shared_pages");
	f->shared_cost_bytes = rd_uint(o, "shared_cost_bytes");
	f->zero_pages = rd_uint(o, "zero_pages");
	f->empty_pages = rd_uint(o, "empty_pages");
	f->saved_bytes = rd_uint(o, "saved_bytes");
	f->merges = rd_uint(o, "merges");
	f->cow_breaks = rd_uint(o, "cow_breaks");
	f->pool_pages = rd_uint(o, "pool_pages");
	f->pool_share = rd_double(o, "pool_share");
	f->cow_per_s = rd_double(o, "cow_per_s");
}

/* Parse array @key of objects into *out (calloc'd) with @parse; sets *n. */
static int rd_rows(JsonObject *o, const char *key, size_t size, void **out, size_t *n,
		   void (*parse)(JsonObject *o, void *row))
{
	JsonArray *a = rd_array(o, key);
	char *rows;

	*n = 0;
	*out = NULL;
	if (!a)
		return -EINVAL;
	rows = calloc(json_array_get_length(a) + 1, size);
	if (!rows)
		return -ENOMEM;
	for (guint i = 0; i < json_array_get_length(a); i++)
		parse(rd_element_object(a, i), rows + i * size);
	*out = rows;
	*n = json_array_get_length(a);
	return 0;
}

/* The counters of one device: valid names only, at most as many as fit. */
static void rd_counters(JsonObject *o, struct rd_device *d)
{
	GList *members = o ? json_object_get_members(o) : NULL;

	for (GList *m = members; m && d->ncounters < G_N_ELEMENTS(d->counters); m = m->next) {
		if (!proto_counter_key_ok(m->data))
			continue;
		g_strlcpy(d->counters[d->ncounters].key, m->data, sizeof(d->counters[0].key));
		d->counters[d->ncounters++].value = rd_uint(o, m->data);
	}
	g_list_free(members);
}

/* A guest's "reported_pages", "balloon_bytes" and "devices" (absent: zeros). */
static void rd_guest_devices(JsonObject *o, struct rd_figures *f)
{
	JsonObject *dev = rd_object(o, "devices");
	JsonArray *list = rd_array(dev, "list");
	guint n = list ? MIN(json_array_get_length(list), PROTO_DEV_MAX) : 0;

	f->reported_pages = rd_uint(o, "reported_pages");
	f->balloon_bytes = rd_uint(o, "balloon_bytes");
	f->dev_count = (unsigned) MIN(rd_uint(dev, "count"), UINT32_MAX);
	f->dev_broken = (unsigned) MIN(rd_uint(dev, "broken"), UINT32_MAX);
	f->devices = n ? calloc(n, sizeof(*f->devices)) : NULL;
	for (guint i = 0; f->devices && i < n; i++) {
		JsonObject *d = rd_element_object(list, i);

		rd_str(d, "kind", f->devices[i].kind, sizeof(f->devices[i].kind));
		rd_str(d, "state", f->devices[i].state, sizeof(f->devices[i].state));
		rd_counters(rd_object(d, "counters"), &f->devices[i]);
		f->ndevices++;
	}
}

static void rd_figures_row(JsonObject *o, void *row)
{
	rd_figures(o, row);
}

static void rd_guest_row(JsonObject *o, void *row)
{
	rd_figures(o, row);
	rd_guest_devices(o, row);
}

static void rd_ended_row(JsonObject *o, void *row)
{
	struct rd_ended *e = row;

	rd_str(o, "name", e->name, sizeof(e->name));
	rd_str(o, "uuid", e->uuid, sizeof(e->uuid));
	rd_str(o, "state", e->state, sizeof(e->state));
	rd_str(o, "reason", e->reason, sizeof(e->reason));
}

/* {"<names_key>": [...], "pages": [[...], ...]} into @m; must be square. */
static int rd_matrix(JsonObject *o, const char *names_key, struct rd_matrix *m)
{
	JsonArray *names = rd_array(o, names_key), *rows = rd_array(o, "pages");
	size_t n = names ? json_array_get_length(names) : 0;

	if (!names || !rows || json_array_get_length(rows) != n)
		return -EINVAL;
	m->names = calloc(n + 1, sizeof(*m->names));
	m->cells = calloc(n * n + 1, sizeof(*m->cells));
	if (!m->names || !m->cells)
		return -ENOMEM;
	m->n = n;
	for (size_t a = 0; a < n; a++) {
		JsonNode *rn = json_array_get_element(rows, a);
		JsonArray *row = JSON_NODE_HOLDS_ARRAY(rn) ? json_node_get_array(rn) : NULL;

		rd_copy(json_array_get_element(names, a), m->names[a], sizeof(m->names[a]));
		if (!row || json_array_get_length(row) != n)
			return -EINVAL;
		for (size_t c = 0; c < n; c++)
			m->cells[a * n + c] = (uint64_t) json_array_get_int_element(row, c);
	}
	return 0;
}

static void rd_host(JsonObject *o, struct rd_host *h)
{
	h->known = o != NULL;
	h->rss = rd_uint(o, "rss_bytes");
	h->pss = rd_uint(o, "pss_bytes");
	h->pss_anon = rd_uint(o, "pss_anon_bytes");
	h->pss_shmem = rd_uint(o, "pss_shmem_bytes");
	h->pss_file = rd_uint(o, "pss_file_bytes");
	h->accounted = rd_uint(o, "accounted_bytes");
	h->tolerance = rd_uint(o, "tolerance_bytes");
	h->difference = rd_int(o, "difference_bytes");
	h->pool_difference = rd_int(o, "pool_difference_bytes");
	h->agrees = rd_bool(o, "agrees");
}

static void rd_engine(JsonObject *o, struct rd_engine *e)
{
	e->passes = rd_uint(o, "passes");
	e->pages_hashed = rd_uint(o, "pages_hashed");
	e->merges = rd_uint(o, "merges");
	e->zero_released = rd_uint(o, "zero_released");
	e->cow_breaks = rd_uint(o, "cow_breaks");
	e->pool_pages = rd_uint(o, "pool_pages");
	e->mappings_used = rd_uint(o, "mappings_used");
	e->mappings_limit = rd_uint(o, "mappings_limit");
	e->stall_p99_us = rd_uint(o, "stall_p99_us");
	e->stall_max_us = rd_uint(o, "stall_max_us");
	e->cpu_seconds = rd_double(o, "cpu_seconds");
	rd_str(o, "budget_state", e->budget_state, sizeof(e->budget_state));
}

static int rd_report_object(JsonObject *o, struct rd_report *r)
{
	JsonObject *tot = rd_object(o, "totals");

	r->version = (unsigned) rd_uint(o, "version");
	if (r->version != 1)
		return -EINVAL;
	r->time = rd_double(o, "time");
	r->page_size = rd_uint(o, "page_size");
	r->cow_window_s = (unsigned) rd_uint(o, "cow_window_s");
	if (!tot ||
	    rd_rows(o, "guests", sizeof(*r->guests), (void **) &r->guests, &r->nguests,
		    rd_guest_row) ||
	    rd_rows(o, "ended", sizeof(*r->ended), (void **) &r->ended, &r->nended, rd_ended_row) ||
	    rd_rows(o, "groups", sizeof(*r->groups), (void **) &r->groups, &r->ngroups,
		    rd_figures_row) ||
	    rd_matrix(rd_object(o, "matrix"), "guests", &r->matrix) ||
	    rd_matrix(rd_object(o, "group_matrix"), "groups", &r->group_matrix))
		return -EINVAL;
	rd_figures(tot, &r->totals);
	r->ended_guests = rd_uint(tot, "ended_guests");
	r->ended_cost_bytes = rd_uint(tot, "ended_cost_bytes");
	rd_host(rd_object(o, "host"), &r->host);
	rd_engine(rd_object(o, "engine"), &r->engine);
	return 0;
}

/* Parse @line into a JSON object; an error reply is -EPROTO with its message. */
static JsonParser *rd_load(const char *line, JsonObject **o, char *err, size_t errlen, int *ret)
{
	JsonParser *p = json_parser_new();
	JsonNode *root = NULL;

	*ret = 0;
	if (json_parser_load_from_data(p, line, -1, NULL))
		root = json_parser_get_root(p);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		*ret = errbuf_set(err, errlen, -EINVAL, "the reply is not a JSON object");
		return p;
	}
	*o = json_node_get_object(root);
	if (!rd_bool(*o, "ok")) {
		rd_str(*o, "error", err, errlen);
		*ret = -EPROTO;
	}
	return p;
}

int rd_report_parse(const char *line, struct rd_report *r, char *err, size_t errlen)
{
	JsonObject *o = NULL;
	int ret;
	JsonParser *p = rd_load(line, &o, err, errlen, &ret);

	memset(r, 0, sizeof(*r));
	if (!ret && rd_report_object(o, r)) {
		rd_report_free(r);
		ret = errbuf_set(err, errlen, -EINVAL, "the report is not in schema version 1");
	}
	g_object_unref(p);
	return ret;
}

void rd_report_free(struct rd_report *r)
{
	for (size_t i = 0; r->guests && i < r->nguests; i++)
		free(r->guests[i].devices);
	free(r->guests);
	free(r->ended);
	free(r->groups);
	free(r->matrix.names);
	free(r->matrix.cells);
	free(r->group_matrix.names);
	free(r->group_matrix.cells);
	memset(r, 0, sizeof(*r));
}

/* ---- History ---- */

/* One sample: an array in the order of "columns" (vmm/control/history.c). */
static int rd_sample(JsonNode *n, struct rd_sample *s)
{
	JsonArray *a = JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;

	if (!a || json_array_get_length(a) != 9)
		return -EINVAL;
	s->time = json_array_get_double_element(a, 0);
	s->uptime = json_array_get_double_element(a, 1);
	s->bytes_saved = (uint64_t) json_array_get_int_element(a, 2);
	s->cost_bytes = (uint64_t) json_array_get_int_element(a, 3);
	s->merges = (uint64_t) json_array_get_int_element(a, 4);
	s->cow_breaks = (uint64_t) json_array_get_int_element(a, 5);
	s->zero_pages = (uint64_t) json_array_get_int_element(a, 6);
	s->pool_pages = (uint64_t) json_array_get_int_element(a, 7);
	s->cpu_seconds = json_array_get_double_element(a, 8);
	return 0;
}

/* The optional "guest" and "guest_samples" [[saved, cow], ...] of a history reply. */
static int rd_guest_samples(JsonObject *o, struct rd_history *h, char *err, size_t errlen)
{
	JsonArray *a = rd_array(o, "guest_samples");

	if (!rd_member(o, "guest"))
		return 0;
	if (!a || json_array_get_length(a) != h->n)
		return errbuf_set(err, errlen, -EINVAL, "malformed guest samples");
	rd_str(o, "guest", h->guest, sizeof(h->guest));
	h->guest_saved = calloc(h->n + 1, sizeof(*h->guest_saved));
	h->guest_cow = calloc(h->n + 1, sizeof(*h->guest_cow));
	if (!h->guest_saved || !h->guest_cow)
		return errbuf_set(err, errlen, -ENOMEM, "out of memory");
	for (guint i = 0; i < h->n; i++) {
		JsonNode *n = json_array_get_element(a, i);
		JsonArray *pair = JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;

		if (!pair || json_array_get_length(pair) != 2)
			return errbuf_set(err, errlen, -EINVAL, "malformed guest samples");
		h->guest_saved[i] = (uint64_t) json_array_get_int_element(pair, 0);
		h->guest_cow[i] = (uint64_t) json_array_get_int_element(pair, 1);
	}
	return 0;
}

int rd_history_parse(const char *line, struct rd_history *h, char *err, size_t errlen)
{
	JsonObject *o = NULL;
	JsonArray *a;
	int ret;
	JsonParser *p = rd_load(line, &o, err, errlen, &ret);

	memset(h, 0, sizeof(*h));
	a = ret ? NULL : rd_array(o, "samples");
	if (!ret && (!a || rd_uint(o, "version") != 1))
		ret = errbuf_set(err, errlen, -EINVAL, "the history is not in version 1");
	if (!ret) {
		h->period_s = (unsigned) rd_uint(o, "period_s");
		h->s = calloc(json_array_get_length(a) + 1, sizeof(*h->s));
		for (guint i = 0; h->s && i < json_array_get_length(a) && !ret; i++)
			ret = rd_sample(json_array_get_element(a, i), &h->s[h->n++]);
		if (!h->s || ret)
			ret = errbuf_set(err, errlen, -EINVAL, "malformed history samples");
	}
	if (!ret)
		ret = rd_guest_samples(o, h, err, errlen);
	if (ret)
		rd_history_free(h);
	g_object_unref(p);
	return ret;
}

void rd_history_free(struct rd_history *h)
{
	free(h->s);
	free(h->guest_saved);
	free(h->guest_cow);
	memset(h, 0, sizeof(*h));
}
