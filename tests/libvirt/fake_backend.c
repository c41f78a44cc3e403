/* fake_backend.c - an in-memory fleet behind the libvirt backend ops (tests only).
 *
 * Domain XML is not parsed for real (that is domxml.c's job): define takes <name>,
 * <uuid> and <memory> (KiB) from the text, and refuses XML without a name the way a
 * parser would, so that clients see an error travel back.
 */
#include "tests/libvirt/fake_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "vmm/libvirt/lvserver.h"

#define FAKE_MAX 100
#define FAKE_NS "https://ksmvmm.dev/xmlns/domain/1"

struct fake_be {
	struct lv_dom doms[FAKE_MAX];
	size_t n;
	int next_id;
	uint32_t pages_to_scan, sleep_ms;
	struct lv_server *srv;
	char *save_root; /* NULL: save and restore refuse */
};

static void fake_add(struct fake_be *f, const char *name, int id, uint64_t max_kib,
		     uint64_t cur_kib, unsigned vcpus)
{
	struct lv_dom *d = &f->doms[f->n];

	memset(d, 0, sizeof(*d));
	g_strlcpy(d->name, name, sizeof(d->name));
	for (int i = 0; i < LV_UUID_LEN; i++)
		d->uuid[i] = (uint8_t) (0x10 * (f->n + 1) + i);
	d->id = id;
	d->state = id > 0 ? LV_STATE_RUNNING : LV_STATE_SHUTOFF;
	d->reason = 1;
	d->max_kib = max_kib;
	d->cur_kib = cur_kib;
	d->vcpus = vcpus;
	d->cpu_ns = id > 0 ? 4200000000ull * (f->n + 1) : 0;
	d->persistent = true;
	d->autostart = id == 7;
	f->n++;
}

struct fake_be *fake_be_new(void)
{
	struct fake_be *f = g_new0(struct fake_be, 1);

	fake_add(f, "fake-alpha", 7, 262144, 196608, 2);
	fake_add(f, "fake-beta", -1, 524288, 524288, 1);
	fake_add(f, "fake-gamma", 9, 131072, 131072, 1);
	f->next_id = 10;
	f->pages_to_scan = 4096;
	f->sleep_ms = 20;
	return f;
}

void fake_be_free(struct fake_be *f)
{
	g_free(f->save_root);
	g_free(f);
}

void fake_be_set_save_root(struct fake_be *f, const char *dir)
{
	g_free(f->save_root);
	f->save_root = g_strdup(dir);
}

void fake_be_set_server(struct fake_be *f, struct lv_server *s)
{
	f->srv = s;
}

static void fake_event(struct fake_be *f, const struct lv_dom *d, int event, int detail)
{
	if (f->srv)
		lv_server_lifecycle(f->srv, d, event, detail);
}

/* The refusal of an operation that needs a running domain. Returns -1. */
static int fake_not_running(struct lv_err *e)
{
	e->code = LV_ERR_OPERATION_INVALID;
	g_strlcpy(e->msg, "Requested operation is not valid: domain is not running",
		  sizeof(e->msg));
	return -1;
}

static struct lv_dom *fake_find(struct fake_be *f, const struct lv_key *k, struct lv_err *e)
{
	for (size_t i = 0; i < f->n; i++) {
		struct lv_dom *d = &f->doms[i];

		if ((k->name && !strcmp(k->name, d->name)) ||
		    (k->uuid && !memcmp(k->uuid, d->uuid, LV_UUID_LEN)) ||
		    (!k->name && !k->uuid && k->id > 0 && k->id == d->id))
			return d;
	}
	e->code = LV_ERR_NO_DOMAIN;
	if (k->name)
		snprintf(e->msg, sizeof(e->msg),
			 "Domain not found: no domain with matching name '%s'", k->name);
	else
		snprintf(e->msg, sizeof(e->msg), "Domain not found");
	return NULL;
}

static void fake_remove(struct fake_be *f, struct lv_dom *d)
{
	*d = f->doms[--f->n];
}

static int fake_list(void *be, struct lv_dom *out, size_t max)
{
	struct fake_be *f = be;
	size_t n = MIN(max, f->n);

	memcpy(out, f->doms, n * sizeof(*out));
	return (int) n;
}

static int fake_lookup(void *be, const struct lv_key *k, struct lv_dom *out, struct lv_err *e)
{
	struct lv_dom *d = fake_find(be, k, e);

	if (!d)
		return -1;
	*out = *d;
	return 0;
}

static char *fake_xml_desc(void *be, const struct lv_key *k, unsigned flags, struct lv_err *e)
{
	struct lv_dom *d = fake_find(be, k, e);
	char uuid[37];

	(void) flags;
	if (!d)
		return NULL;
	for (int i = 0, o = 0; i < LV_UUID_LEN; i++)
		o += sprintf(uuid + o, "%s%02x", i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "",
			     d->uuid[i]);
	return g_strdup_printf("<domain type='kvm'%s>\n  <name>%s</name>\n  <uuid>%s</uuid>\n"
			       "  <memory unit='KiB'>%llu</memory>\n"
			       "  <currentMemory unit='KiB'>%llu</currentMemory>\n"
			       "  <vcpu>%u</vcpu>\n  <os><type>hvm</type></os>\n</domain>\n",
			       d->id > 0 ? " id='1'" : "", d->name, uuid,
			       (unsigned long long) d->max_kib, (unsigned long long) d->cur_kib,
			       d->vcpus);
}

/* The text between <@tag> and </@tag>, g_malloc'd, or NULL. */
static char *fake_tag(const char *xml, const char *tag)
{
	char *open = g_strdup_printf("<%s", tag), *close = g_strdup_printf("</%s>", tag);
	const char *a = strstr(xml, open), *b;
	char *v = NULL;

	if (a && (a = strchr(a, '>')) && (b = strstr(a, close)))
		v = g_strndup(a + 1, (size_t) (b - a - 1));
	g_free(open);
	g_free(close);
	return v;
}

/* The domain @xml names, added shut off if it is new (*@added). */
static struct lv_dom *fake_parse(struct fake_be *f, const char *xml, bool *added, struct lv_err *e)
{
	char *name = fake_tag(xml, "name"), *mem = fake_tag(xml, "memory");
	struct lv_dom *d = NULL;
	struct lv_err ignore;

	*added = false;
	if (!name || !name[0] || strlen(name) >= LV_NAME_MAX) {
		e->code = LV_ERR_XML;
		snprintf(e->msg, sizeof(e->msg), "XML error: a name is required");
	} else if (!(d = fake_find(f, &(struct lv_key){.name = name}, &ignore))) {
		if (f->n == FAKE_MAX) {
			e->code = LV_ERR_OPERATION_FAILED;
			snprintf(e->msg, sizeof(e->msg), "the fake fleet is full");
		} else {
			fake_add(f, name, -1, mem ? strtoull(mem, NULL, 10) : 65536, 0, 1);
			d = &f->doms[f->n - 1];
			d->cur_kib = d->max_kib;
			d->autostart = false;
			*added = true;
		}
	}
	g_free(name);
	g_free(mem);
	return d;
}

static int fake_define(void *be, const char *xml, bool validate, struct lv_dom *out,
		       struct lv_err *e)
{
	struct lv_dom *d;
	bool added;

	if (validate && !strstr(xml, "<domain")) {
		e->code = LV_ERR_XML;
		snprintf(e->msg, sizeof(e->msg), "XML error: not a domain");
		return -1;
	}
	d = fake_parse(be, xml, &added, e);
	if (!d)
		return -1;
	d->persistent = true;
	*out = *d;
	fake_event(be, d, LV_EVENT_DEFINED, added ? 0 : 1);
	return 0;
}

static int fake_undefine(void *be, const struct lv_key *k, unsigned flags, struct lv_err *e)
{
	struct lv_dom *d = fake_find(be, k, e);
	struct lv_dom gone;

	(void) flags;
	if (!d)
		return -1;
	gone = *d;
	if (d->id > 0)
		d->persistent = false;
	else
		fake_remove(be, d);
	fake_event(be, &gone, LV_EVENT_UNDEFINED, 0);
	return 0;
}

/* Start @d; @detail: virDomainEventStartedDetailType (0 booted, 2 restored). */
static int fake_boot(struct fake_be *f, struct lv_dom *d, int detail, struct lv_dom *out,
		     struct lv_err *e)
{
	if (d->id > 0) {
		e->code = LV_ERR_OPERATION_INVALID;
		snprintf(e->msg, sizeof(e->msg),
			 "Requested operation is not valid: domain is already running");
		return -1;
	}
	d->id = f->next_id++;
	d->state = LV_STATE_RUNNING;
	d->reason = 1;
	d->cpu_ns = 1000000;
	*out = *d;
	fake_event(f, d, LV_EVENT_STARTED, detail);
	return 0;
}

static int fake_start(void *be, const struct lv_key *k, struct lv_dom *out, struct lv_err *e)
{
	struct lv_dom *d = fake_find(be, k, e);

	return d ? fake_boot(be, d, 0, out, e) : -1;
}

static int fake_create_xml(void *be, const char *xml, unsigned flags, struct lv_dom *out,
			   struct lv_err *e)
{
	bool added;
	struct lv_dom *d = fake_parse(be, xml, &added, e);

	(void) flags;
	if (!d)
		return -1;
	if (d->id <= 0)
		d->persistent = false;
	return fake_boot(be, d, 0, out, e);
}

/* End a running domain; a transient one disappears. */
static int fake_stop(struct fake_be *f, const struct lv_key *k, int reason, struct lv_err *e)
{
	struct lv_dom *d = fake_find(f, k, e);
	struct lv_dom old;

	if (!d)
		return -1;
	if (d->id <= 0)
		return fake_not_running(e);
	d->id = -1;
	d->state = LV_STATE_SHUTOFF;
	d->reason = reason;
	d->cpu_ns = 0;
	old = *d;
	if (!d->persistent)
		fake_remove(f, d);
	/* virDomainEventStoppedDetailType: shutdown, destroyed, saved */
	fake_event(f, &old, LV_EVENT_STOPPED, reason == 1 ? 0 : reason == 5 ? 4 : 1);
	return 0;
}

static int fake_shutdown(void *be, const struct lv_key *k, struct lv_err *e)
{
	return fake_stop(be, k, 1, e);
}

static int fake_destroy(void *be, const struct lv_key *k, struct lv_err *e)
{
	return fake_stop(be, k, 2, e);
}

static int fake_set_autostart(void *be, const struct lv_key *k, bool on, struct lv_err *e)
{
	struct lv_dom *d = fake_find(be, k, e);

	if (!d)
		return -1;
	d->autostart = on;
	return 0;
}

/* virDomainMemoryStatTags: unused 4, available 5, actual balloon 6, rss 7, usable 8. */
static int fake_memory_stats(void *be, const struct lv_key *k, struct lv_memstat *out, size_t max,
			     struct lv_err *e)
{
	struct lv_dom *d = fake_find(be, k, e);
	struct lv_memstat s[] = {{6, 0}, {7, 54321}, {4, 11111}, {5, 0}, {8, 22222}};
	size_t n = MIN(max, G_N_ELEMENTS(s));

	if (!d)
		return -1;
	s[0].val = d->cur_kib;
	s[3].val = d->cur_kib - 1000;
	memcpy(out, s, n * sizeof(*out));
	return (int) n;
}

static void fake_param(struct lv_param *p, const char *field, int type)
{
	memset(p, 0, sizeof(*p));
	g_strlcpy(p->field, field, sizeof(p->field));
	p->type = type;
}

static int fake_domain_stats(void *be, const struct lv_key *k, unsigned stats, struct lv_param *out,
			     size_t max, struct lv_err *e)
{
	struct lv_dom *d = fake_find(be, k, e);

	(void) stats;
	if (!d || max < 4)
		return -1;
	fake_param(&out[0], "state.state", LV_PARAM_INT);
	out[0].v.i = d->state;
	fake_param(&out[1], "balloon.current", LV_PARAM_ULLONG);
	out[1].v.ul = d->cur_kib;
	fake_param(&out[2], "ksmvmm.shared_pages", LV_PARAM_ULLONG);
	out[2].v.ul = 4242;
	fake_param(&out[3], "ksmvmm.group", LV_PARAM_STRING);
	g_strlcpy(out[3].v.s, "fake-group", sizeof(out[3].v.s));
	return 4;
}

/* Every running fake domain has one disk, vda (/fake/NAME.img), with counters that
 * tell the fields apart; errs is -1, as a driver that cannot tell reports it. */
static int fake_block_stats(void *be, const struct lv_key *k, const char *path,
			    struct lv_blkstat *out, struct lv_err *e)
{
	struct lv_dom *d = fake_find(be, k, e);
	char *file;
	bool known;

	if (!d)
		return -1;
	if (d->id <= 0)
		return fake_not_running(e);
	file = g_strdup_printf("/fake/%s.img", d->name);
	known = !strcmp(path, "vda") || !strcmp(path, file);
	g_free(file);
	if (!known) {
		e->code = LV_ERR_INVALID_ARG;
		snprintf(e->msg, sizeof(e->msg), "invalid argument: invalid path: %s", path);
		return -1;
	}
	*out = (struct lv_blkstat){.rd_req = 100 + d->id,
				   .rd_bytes = 409600,
				   .wr_req = 30,
				   .wr_bytes = 122880,
				   .flush_req = 3,
				   .errs = -1};
	return 0;
}

static char *fake_get_metadata(void *be, const struct lv_key *k, int type, const char *uri,
			       struct lv_err *e)
{
	if (!fake_find(be, k, e))
		return NULL;
	if (type == 2 && uri && !strcmp(uri, FAKE_NS))
		return g_strdup("<ksmvmm:guest xmlns:ksmvmm=\"" FAKE_NS "\">"
				"<ksmvmm:group>fake-group</ksmvmm:group></ksmvmm:guest>");
	e->code = LV_ERR_NO_METADATA;
	snprintf(e->msg, sizeof(e->msg),
		 "metadata not found: Requested metadata element is not present");
	return NULL;
}

static int fake_node_memory_get(void *be, struct lv_param *out, size_t max)
{
	struct fake_be *f = be;
	static const char *const counts[] = {"shm_pages_shared", "shm_pages_sharing",
					     "shm_pages_unshared", "shm_pages_volatile",
					     "shm_full_scans"};
	size_t n = 0;

	for (size_t i = 0; i < G_N_ELEMENTS(counts) && n < max; i++, n++) {
		fake_param(&out[n], counts[i], LV_PARAM_ULLONG);
		out[n].v.ul = 1000 + 111 * i;
	}
	if (n + 2 > max)
		return (int) n;
	fake_param(&out[n], "shm_pages_to_scan", LV_PARAM_UINT);
	out[n++].v.ui = f->pages_to_scan;
	fake_param(&out[n], "shm_sleep_millisecs", LV_PARAM_UINT);
	out[n++].v.ui = f->sleep_ms;
	return (int) n;
}

static int fake_node_memory_set(void *be, const struct lv_param *in, size_t n, struct lv_err *e)
{
	struct fake_be *f = be;

	for (size_t i = 0; i < n; i++) {
		bool uint = in[i].type == LV_PARAM_UINT;

		if (uint && !strcmp(in[i].field, "shm_pages_to_scan"))
			f->pages_to_scan = in[i].v.ui;
		else if (uint && !strcmp(in[i].field, "shm_sleep_millisecs"))
			f->sleep_ms = in[i].v.ui;
		else {
			e->code = LV_ERR_INVALID_ARG;
			snprintf(e->msg, sizeof(e->msg), "invalid argument: cannot set '%s'",
				 in[i].field);
			return -1;
		}
	}
	return 0;
}

/* Whether @path is a directory right under the save root; else @e says why not. */
static bool fake_path_ok(struct fake_be *f, const char *path, struct lv_err *e)
{
	g_autofree char *parent = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);

	if (f->save_root && !strcmp(parent, f->save_root) && strcmp(base, "..") &&
	    strcmp(base, ".") && strcmp(base, "/"))
		return true;
	e->code = LV_ERR_INVALID_ARG;
	snprintf(e->msg, sizeof(e->msg),
		 "the fake backend saves only right under its test "
		 "directory");
	return false;
}

/* DOMAIN_SAVE: a running domain's "snapshot" is a new directory holding a file
 * "fake-saved" with its name; the domain then shuts off, reason saved (5). */
static int fake_save(void *be, const struct lv_key *k, const char *path, struct lv_err *e)
{
	struct lv_dom *d = fake_find(be, k, e);
	g_autofree char *file = g_build_filename(path, "fake-saved", NULL);

	if (!d || !fake_path_ok(be, path, e))
		return -1;
	if (d->id <= 0)
		return fake_not_running(e);
	if (g_mkdir(path, 0700) || !g_file_set_contents(file, d->name, -1, NULL)) {
		e->code = LV_ERR_OPERATION_FAILED;
		snprintf(e->msg, sizeof(e->msg), "operation failed: snapshot %s: %s", path,
			 g_strerror(errno));
		return -1;
	}
	return fake_stop(be, k, 5, e);
}

/* DOMAIN_RESTORE: start the domain named in PATH/fake-saved (a new transient one if it
 * is gone); a directory without that file is "not a snapshot". */
static int fake_restore(void *be, const char *path, struct lv_dom *out, struct lv_err *e)
{
	struct fake_be *f = be;
	g_autofree char *file = g_build_filename(path, "fake-saved", NULL);
	g_autofree char *name = NULL;
	struct lv_dom *d;

	if (!fake_path_ok(f, path, e))
		return -1;
	if (!g_file_get_contents(file, &name, NULL, NULL)) {
		e->code = LV_ERR_OPERATION_FAILED;
		snprintf(e->msg, sizeof(e->msg), "operation failed: snapshot %s: not a snapshot",
			 path);
		return -1;
	}
	d = fake_find(f, &(struct lv_key){.name = name}, e);
	if (!d && f->n < FAKE_MAX) {
		fake_add(f, name, -1, 65536, 65536, 1);
		d = &f->doms[f->n - 1];
		d->persistent = false;
	}
	if (!d)
		return -1;
	if (fake_boot(f, d, 2, out, e))
		return -1;
	d->reason = 3; /* VIR_DOMAIN_RUNNING_RESTORED */
	*out = *d;
	return 0;
}

const struct lv_backend_ops fake_be_ops = {
    .list = fake_list,
    .lookup = fake_lookup,
    .xml_desc = fake_xml_desc,
    .define = fake_define,
    .undefine = fake_undefine,
    .start = fake_start,
    .create_xml = fake_create_xml,
    .shutdown = fake_shutdown,
    .destroy = fake_destroy,
    .set_autostart = fake_set_autostart,
    .memory_stats = fake_memory_stats,
    .domain_stats = fake_domain_stats,
    .get_metadata = fake_get_metadata,
    .node_memory_get = fake_node_memory_get,
    .node_memory_set = fake_node_memory_set,
    .block_stats = fake_block_stats,
    .save = fake_save,
    .restore = fake_restore,
};
