/* lvfleet.c - libvirt domains on the fleet: define, start, stop, end, persist.
 *
 * A domain is a record (struct lvdom). A persistent one has its definition in the
 * state directory; a transient one (CREATE_XML, or a guest of `ksmvmm run`) lives only
 * while it runs. Starting builds one guest from the definition (domxml_to_options,
 * fleet_add_guest); when the guest ends, lvfleet_guest_ended gives its slot back and
 * tells libvirt's clients.
 */
#define pr_fmt(fmt) "libvirt: " fmt
#include "vmm/libvirt/lvfleet.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/errbuf.h"
#include "lib/log.h"
#include "vmm/kvm.h"
#include "vmm/libvirt/lvfleet_internal.h"
#include "vmm/libvirt/lvserver.h"
#include "vmm/libvirt/statedir.h"

/* How long DOMAIN_DESTROY waits for the vCPUs to leave (libvirt's destroy is
 * synchronous: the domain is off when the call returns). */
#define DESTROY_WAIT_MS 10000

static void lv_fail(struct lv_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void lv_fail(struct lv_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static void dom_free(gpointer p)
{
	struct lvdom *d = p;

	if (d->has_def)
		domxml_clear(&d->def);
	g_free(d);
}

/* ---- Finding domains ---- */

static struct lvdom *find(struct lvfleet *lf, const struct lv_key *k)
{
	for (guint i = 0; i < lf->doms->len; i++) {
		struct lvdom *d = g_ptr_array_index(lf->doms, i);

		if ((k->name && !strcmp(d->name, k->name)) ||
		    (k->uuid && !memcmp(d->uuid, k->uuid, LV_UUID_LEN)) ||
		    (!k->name && !k->uuid && k->id > 0 && d->slot >= 0 && d->id == k->id))
			return d;
	}
	return NULL;
}

static struct lvdom *find_or_fail(struct lvfleet *lf, const struct lv_key *k, struct lv_err *e)
{
	struct lvdom *d = find(lf, k);

	if (!d) {
		if (k->name)
			lv_fail(e, LV_ERR_NO_DOMAIN,
				"Domain not found: no domain with matching name '%s'", k->name);
		else if (k->uuid)
			lv_fail(e, LV_ERR_NO_DOMAIN,
				"Domain not found: no domain with matching uuid");
		else
			lv_fail(e, LV_ERR_NO_DOMAIN,
				"Domain not found: no domain with matching id %d", k->id);
	}
	return d;
}

/* The fleet's view of a running domain; false if it has no guest (any more). */
static bool guest_info(struct lvfleet *lf, const struct lvdom *d, struct fleet_guest_info *gi)
{
	return d->slot >= 0 && fleet_info(lf->fleet, (size_t) d->slot, gi) == 0;
}

static void fill_dom(struct lvfleet *lf, const struct lvdom *d, struct lv_dom *out)
{
	struct fleet_guest_info gi;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", d->name);
	memcpy(out->uuid, d->uuid, LV_UUID_LEN);
	out->persistent = d->persistent;
	out->autostart = d->autostart;
	out->id = -1;
	out->state = LV_STATE_SHUTOFF;
	out->reason = d->off_reason;
	if (d->has_def) {
		out->max_kib = d->def.mem_kib;
		out->cur_kib = d->def.cur_kib ? d->def.cur_kib : d->def.mem_kib;
		out->vcpus = d->def.vcpus;
	}
	if (!guest_info(lf, d, &gi))
		return;
	out->id = d->id;
	out->max_kib = gi.mem_bytes / 1024;
	out->cur_kib = out->max_kib - lvstats_balloon_kib(lf, d);
	out->vcpus = gi.cpus;
	if (gi.state == GUEST_STOPPING || d->stop_reason >= 0) {
		out->state = LV_STATE_SHUTDOWN;
		out->reason = LV_SHUTDOWN_USER;
	} else if (gi.state == GUEST_STARTING || gi.state == GUEST_RUNNING) {
		out->state = LV_STATE_RUNNING;
		out->reason = LV_RUNNING_BOOTED;
	} else {
		out->state = LV_STATE_SHUTOFF;
		out->reason = gi.state == GUEST_DEAD ? LV_SHUTOFF_CRASHED : LV_SHUTOFF_SHUTDOWN;
	}
}

static void emit(struct lvfleet *lf, const struct lvdom *d, int event, int detail)
{
	struct lv_dom info;

	if (!lf->server)
		return;
	fill_dom(lf, d, &info);
	lv_server_lifecycle(lf->server, &info, event, detail);
}

/* ---- Starting ---- */

static bool kvm_ready(struct lvfleet *lf, const char *name, struct lv_err *e)
{
	if (!lf->kvm_ready) {
		log_clear_error();
		lf->kvm_ready = kvm_open() >= 0;
	}
	if (!lf->kvm_ready)
		lv_fail(e, LV_ERR_OPERATION_FAILED, "cannot start %s: %s", name,
			log_last_error()[0] ? log_last_error() : "no /dev/kvm");
	return lf->kvm_ready;
}

/* Build and start @d's guest. */
static int start_dom(struct lvfleet *lf, struct lvdom *d, struct lv_err *e)
{
	struct options o;
	char err[512];
	int slot;

	if (d->slot >= 0) {
		lv_fail(e, LV_ERR_OPERATION_INVALID,
			"Requested operation is not valid: domain is already running");
		return -1;
	}
	if (!d->has_def) {
		lv_fail(e, LV_ERR_OPERATION_INVALID, "domain %s has no definition to start from",
			d->name);
		return -1;
	}
	if (domxml_to_options(&d->def, &lf->base, &o, err, sizeof(err))) {
		lv_fail(e, LV_ERR_CONFIG_UNSUPPORTED, "%s", err);
		return -1;
	}
	if (!kvm_ready(lf, d->name, e))
		return -1;
	slot = fleet_add_guest(lf->fleet, &o, err, sizeof(err));
	if (slot < 0) {
		lv_fail(e, LV_ERR_OPERATION_FAILED, "cannot start %s: %s", d->name, err);
		return -1;
	}
	d->slot = slot;
	d->id = lf->next_id++;
	d->owned = true;
	d->stop_reason = -1;
	/* <currentMemory> below <memory>: the balloon takes the difference back. */
	if (d->def.cur_kib && d->def.cur_kib < d->def.mem_kib &&
	    fleet_balloon(lf->fleet, (size_t) slot, (d->def.mem_kib - d->def.cur_kib) * 1024))
		pr_warn("%s: cannot set the balloon to its <currentMemory>", d->name);
	pr_info("domain %s started (id %d)", d->name, d->id);
	emit(lf, d, LV_EVENT_STARTED, 0);
	return 0;
}

/* ---- Ending ---- */

/* @d's guest ended: free its slot, note why, tell the clients; a transient domain goes.
 * Returns true if @d was freed. */
static bool reap(struct lvfleet *lf, struct lvdom *d, enum guest_state s)
{
	int reason = d->stop_reason >= 0 ? d->stop_reason
		     : s == GUEST_DEAD	 ? LV_SHUTOFF_CRASHED
					 : LV_SHUTOFF_SHUTDOWN;
	int detail = reason == LV_SHUTOFF_DESTROYED ? LV_STOPPED_DESTROYED
		     : reason == LV_SHUTOFF_CRASHED ? LV_STOPPED_CRASHED
		     : reason == LV_SHUTOFF_FAILED  ? LV_STOPPED_FAILED
						    : LV_STOPPED_SHUTDOWN;

	if (d->owned && fleet_remove_guest(lf->fleet, (size_t) d->slot))
		return false; /* not quite ended: a later end callback retries */
	d->off_reason = reason;
	d->stop_reason = -1;
	emit(lf, d, LV_EVENT_STOPPED, detail);
	pr_info("domain %s shut off (%s)", d->name,
		reason == LV_SHUTOFF_CRASHED ? "crashed" : "stopped");
	d->slot = -1;
	d->id = -1;
	if (d->persistent)
		return false;
	g_ptr_array_remove(lf->doms, d);
	return true;
}

void lvfleet_guest_ended(struct lvfleet *lf)
{
	for (guint i = 0; i < lf->doms->len;) {
		struct lvdom *d = g_ptr_array_index(lf->doms, i);
		struct fleet_guest_info gi;

		if (guest_info(lf, d, &gi) &&
		    (gi.state == GUEST_STOPPED || gi.state == GUEST_DEAD) && reap(lf, d, gi.state))
			continue;
		i++;
	}
}

static int stop_dom(struct lvfleet *lf, struct lvdom *d, int reason, struct lv_err *e)
{
	if (d->slot < 0) {
		lv_fail(e, LV_ERR_OPERATION_INVALID,
			"Requested operation is not valid: domain is not running");
		return -1;
	}
	if (d->stop_reason < 0 || reason == LV_SHUTOFF_DESTROYED)
		d->stop_reason = reason;
	fleet_stop_guest(lf->fleet, (size_t) d->slot); /* -EALREADY: it is ending anyway */
	return 0;
}

/* ---- The backend ops ---- */

static int op_list(void *be, struct lv_dom *out, size_t max)
{
	struct lvfleet *lf = be;
	size_t n = 0;

	for (guint i = 0; i < lf->doms->len && n < max; i++)
		fill_dom(lf, g_ptr_array_index(lf->doms, i), &out[n++]);
	return (int) n;
}

static int op_lookup(void *be, const struct lv_key *k, struct lv_dom *out, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);

	if (!d)
		return -1;
	fill_dom(lf, d, out);
	return 0;
}

static char *op_xml_desc(void *be, const struct lv_key *k, unsigned flags, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);
	struct fleet_guest_info gi;

	(void) flags;
	if (!d)
		return NULL;
	if (d->has_def)
		return g_strdup(d->def.xml);
	if (!guest_info(lf, d, &gi)) {
		lv_fail(e, LV_ERR_NO_DOMAIN, "Domain not found: %s has ended", d->name);
		return NULL;
	}
	return lvxml_of_guest(d, &gi, &lf->base);
}

/* Check @def against the domains there are: same name and UUID, or neither taken. */
static int check_identity(struct lvfleet *lf, const struct domdef *def, struct lvdom **same,
			  struct lv_err *e)
{
	struct lvdom *by_name = find(lf, &(struct lv_key){.name = def->name});
	struct lvdom *by_uuid = find(lf, &(struct lv_key){.uuid = def->uuid});

	*same = by_name;
	if (by_name && memcmp(by_name->uuid, def->uuid, LV_UUID_LEN)) {
		lv_fail(e, LV_ERR_OPERATION_FAILED,
			"operation failed: domain '%s' already exists with another uuid",
			def->name);
		return -1;
	}
	if (by_uuid && by_uuid != by_name) {
		lv_fail(e, LV_ERR_OPERATION_FAILED,
			"operation failed: domain '%s' already exists with the same uuid",
			by_uuid->name);
		return -1;
	}
	return 0;
}

static struct lvdom *new_dom(struct lvfleet *lf, struct domdef *def)
{
	struct lvdom *d = g_new0(struct lvdom, 1);

	snprintf(d->name, sizeof(d->name), "%s", def->name);
	memcpy(d->uuid, def->uuid, LV_UUID_LEN);
	d->def = *def;
	d->has_def = true;
	d->slot = -1;
	d->id = -1;
	d->stop_reason = -1;
	g_ptr_array_add(lf->doms, d);
	return d;
}

/* Parse @xml with libvirt's parser; on failure libvirt's own message goes to @e. */
static int parse_def(const char *xml, bool validate, struct domdef *def, struct lv_err *e)
{
	char err[512];

	if (domxml_parse(xml, validate, def, err, sizeof(err))) {
		lv_fail(e, def->err_code ? def->err_code : LV_ERR_XML, "%s", err);
		return -1;
	}
	return 0;
}

/* @xml with <uuid>@uuid</uuid> after its </name>, or NULL if it has a <uuid> already
 * (a redefinition without one keeps the domain's UUID, as libvirt does). */
static char *with_uuid(const char *xml, const uint8_t *uuid)
{
	const char *name_end = strstr(xml, "</name>");
	char str[37];

	if (strstr(xml, "<uuid") || !name_end)
		return NULL;
	name_end += strlen("</name>");
	for (int i = 0, j = 0; i < LV_UUID_LEN; i++)
		j += snprintf(str + j, sizeof(str) - (size_t) j, "%s%02x",
			      i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", uuid[i]);
	return g_strdup_printf("%.*s<uuid>%s</uuid>%s", (int) (name_end - xml), xml, str, name_end);
}

static int op_define(void *be, const char *xml, bool validate, struct lv_dom *out, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d;
	struct domdef def;
	char err[512];
	bool update;
	int ret;

	if (!lf->sd) {
		lv_fail(e, LV_ERR_NO_SUPPORT,
			"this VMM keeps no definitions: run `ksmvmm serve --state-dir DIR` to "
			"define domains, or use `virsh create`");
		return -1;
	}
	if (parse_def(xml, validate, &def, e))
		return -1;
	d = find(lf, &(struct lv_key){.name = def.name});
	if (d && memcmp(d->uuid, def.uuid, LV_UUID_LEN)) {
		char *again = with_uuid(xml, d->uuid);

		if (again) {
			domxml_clear(&def);
			ret = parse_def(again, validate, &def, e);
			g_free(again);
			if (ret)
				return -1;
		}
	}
	if (check_identity(lf, &def, &d, e) ||
	    statedir_save(lf->sd, def.name, def.xml, err, sizeof(err))) {
		if (!e->code)
			lv_fail(e, LV_ERR_OPERATION_FAILED, "cannot save %s: %s", def.name, err);
		domxml_clear(&def);
		return -1;
	}
	update = d != NULL;
	if (d) { /* the running guest keeps what it was built from; the next start uses this */
		if (d->has_def)
			domxml_clear(&d->def);
		d->def = def;
		d->has_def = true;
	} else {
		d = new_dom(lf, &def);
	}
	d->persistent = true;
	fill_dom(lf, d, out);
	emit(lf, d, LV_EVENT_DEFINED, update ? 1 : 0);
	return 0;
}

static int op_undefine(void *be, const struct lv_key *k, unsigned flags, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);
	char err[512];

	(void) flags;
	if (!d)
		return -1;
	if (!d->persistent) {
		lv_fail(e, LV_ERR_OPERATION_INVALID,
			"Requested operation is not valid: cannot undefine transient domain");
		return -1;
	}
	if (statedir_remove(lf->sd, d->name, err, sizeof(err))) {
		lv_fail(e, LV_ERR_OPERATION_FAILED, "cannot remove the definition of %s: %s",
			d->name, err);
		return -1;
	}
	d->persistent = false;
	d->autostart = false;
	emit(lf, d, LV_EVENT_UNDEFINED, 0);
	if (d->slot < 0) /* a running domain goes on, transient, until it ends */
		g_ptr_array_remove(lf->doms, d);
	return 0;
}

static int op_start(void *be, const struct lv_key *k, struct lv_dom *out, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);

	if (!d || start_dom(lf, d, e))
		return -1;
	fill_dom(lf, d, out);
	return 0;
}

static int op_create_xml(void *be, const char *xml, unsigned flags, struct lv_dom *out,
			 struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d;
	struct domdef def;

	(void) flags;
	if (parse_def(xml, false, &def, e))
		return -1;
	if (check_identity(lf, &def, &d, e) || (d && d->slot >= 0)) {
		if (!e->code)
			lv_fail(e, LV_ERR_OPERATION_INVALID,
				"Requested operation is not valid: domain '%s' is already running",
				def.name);
		domxml_clear(&def);
		return -1;
	}
	if (d) { /* a defined domain started from other XML: this run only */
		lv_fail(e, LV_ERR_OPERATION_INVALID,
			"domain '%s' is defined: start it, or define it anew first", def.name);
		domxml_clear(&def);
		return -1;
	}
	d = new_dom(lf, &def);
	if (start_dom(lf, d, e)) {
		g_ptr_array_remove(lf->doms, d);
		return -1;
	}
	fill_dom(lf, d, out);
	return 0;
}

static int op_shutdown(void *be, const struct lv_key *k, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);

	return d ? stop_dom(lf, d, LV_SHUTOFF_SHUTDOWN, e) : -1;
}

static int op_destroy(void *be, const struct lv_key *k, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);
	uint64_t until = clock_now_us() + DESTROY_WAIT_MS * 1000ull;
	struct fleet_guest_info gi;
	char name[LV_NAME_MAX];

	if (!d || stop_dom(lf, d, LV_SHUTOFF_DESTROYED, e))
		return -1;
	snprintf(name, sizeof(name), "%s", d->name);
	while (guest_info(lf, d, &gi) && gi.state == GUEST_STOPPING && clock_now_us() < until)
		g_usleep(1000);
	lvfleet_guest_ended(lf); /* may free @d */
	d = find(lf, &(struct lv_key){.name = name});
	if (d && d->slot >= 0) {
		lv_fail(e, LV_ERR_OPERATION_FAILED, "%s did not stop within %d s", name,
			DESTROY_WAIT_MS / 1000);
		return -1;
	}
	return 0;
}

static int op_set_autostart(void *be, const struct lv_key *k, bool on, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);
	char err[512];

	if (!d)
		return -1;
	if (!d->persistent) {
		lv_fail(
		    e, LV_ERR_OPERATION_INVALID,
		    "Requested operation is not valid: cannot set autostart for transient domain");
		return -1;
	}
	if (statedir_set_autostart(lf->sd, d->name, on, err, sizeof(err))) {
		lv_fail(e, LV_ERR_OPERATION_FAILED, "%s", err);
		return -1;
	}
	d->autostart = on;
	return 0;
}

static int op_memory_stats(void *be, const struct lv_key *k, struct lv_memstat *out, size_t max,
			   struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);

	if (!d)
		return -1;
	if (d->slot < 0) {
		lv_fail(e, LV_ERR_OPERATION_INVALID,
			"Requested operation is not valid: domain is not running");
		return -1;
	}
	return lvstats_memory(lf, d, out, max);
}

static int op_domain_stats(void *be, const struct lv_key *k, unsigned stats, struct lv_param *out,
			   size_t max, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);
	struct lv_dom info;

	if (!d)
		return -1;
	fill_dom(lf, d, &info);
	return lvstats_domain(lf, d, &info, stats, out, max);
}

static int op_block_stats(void *be, const struct lv_key *k, const char *path,
			  struct lv_blkstat *out, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);

	if (!d)
		return -1;
	if (d->slot < 0) {
		lv_fail(e, LV_ERR_OPERATION_INVALID,
			"Requested operation is not valid: domain is not running");
		return -1;
	}
	return lvstats_block(lf, d, path, out, e);
}

static char *op_get_metadata(void *be, const struct lv_key *k, int type, const char *uri,
			     struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = find_or_fail(lf, k, e);
	char *md = NULL;

	if (!d)
		return NULL;
	if (type == 2 && uri && d->has_def)
		md = domxml_metadata(&d->def, uri);
	if (!md)
		lv_fail(e, LV_ERR_NO_METADATA,
			"metadata not found: Requested metadata element is not present");
	return md;
}

static int op_node_memory_get(void *be, struct lv_param *out, size_t max)
{
	return lvstats_node_get(be, out, max);
}

static int op_node_memory_set(void *be, const struct lv_param *in, size_t n, struct lv_err *e)
{
	return lvstats_node_set(be, in, n, e);
}

static const struct lv_backend_ops lvfleet_ops = {
    .list = op_list,
    .lookup = op_lookup,
    .xml_desc = op_xml_desc,
    .define = op_define,
    .undefine = op_undefine,
    .start = op_start,
    .create_xml = op_create_xml,
    .shutdown = op_shutdown,
    .destroy = op_destroy,
    .set_autostart = op_set_autostart,
    .memory_stats = op_memory_stats,
    .domain_stats = op_domain_stats,
    .get_metadata = op_get_metadata,
    .node_memory_get = op_node_memory_get,
    .node_memory_set = op_node_memory_set,
    .block_stats = op_block_stats,
};

/* ---- Creation ---- */

/* The guests the fleet has now become transient domains (`ksmvmm run`). */
static void adopt_guests(struct lvfleet *lf)
{
	for (size_t i = 0; i < fleet_count(lf->fleet); i++) {
		struct fleet_guest_info gi;
		struct lvdom *d;

		if (fleet_info(lf->fleet, i, &gi))
			continue;
		d = g_new0(struct lvdom, 1);
		snprintf(d->name, sizeof(d->name), "%s", gi.name);
		memcpy(d->uuid, gi.uuid, LV_UUID_LEN);
		d->slot = (int) i;
		d->id = lf->next_id++;
		d->stop_reason = -1;
		g_ptr_array_add(lf->doms, d);
	}
}

static int load_one(void *opaque, const char *name, const char *xml, bool autostart)
{
	struct lvfleet *lf = opaque;
	struct lv_err e = {0};
	struct lvdom *same;
	struct domdef def;

	if (parse_def(xml, false, &def, &e)) {
		pr_err("state directory: %s: %s (skipped)", name, e.msg);
		return -1;
	}
	if (strcmp(def.name, name) || check_identity(lf, &def, &same, &e) || same) {
		pr_err("state directory: %s: %s (skipped)", name,
		       e.code ? e.msg : "the file name and the domain name differ");
		domxml_clear(&def);
		return -1;
	}
	same = new_dom(lf, &def);
	same->persistent = true;
	same->autostart = autostart;
	return 0;
}

struct lvfleet *lvfleet_create(struct fleet *f, const struct options *base, const char *state_dir,
			       char *err, size_t len)
{
	struct lvfleet *lf = g_new0(struct lvfleet, 1);

	lf->fleet = f;
	lf->base = *base;
	lf->doms = g_ptr_array_new_with_free_func(dom_free);
	lf->next_id = 1;
	lf->kvm_ready = kvm_fd() >= 0;
	adopt_guests(lf);
	if (state_dir) {
		int n;

		lf->sd = statedir_open(state_dir, err, len);
		n = lf->sd ? statedir_load(lf->sd, load_one, lf) : 0;
		if (!lf->sd || n < 0) {
			if (lf->sd)
				errbuf_set(err, len, n, "cannot read %s: %s", state_dir,
					   g_strerror(-n));
			lvfleet_destroy(lf);
			return NULL;
		}
		pr_info("%d domain%s defined in %s", n, n == 1 ? "" : "s", state_dir);
	}
	return lf;
}

int lvfleet_listen(struct lvfleet *lf, const char *path, char *err, size_t len)
{
	lf->server = lv_server_create(path, &lvfleet_ops, lf, err, len);
	return lf->server ? 0 : -EINVAL;
}

void lvfleet_autostart(struct lvfleet *lf)
{
	for (guint i = 0; i < lf->doms->len; i++) {
		struct lvdom *d = g_ptr_array_index(lf->doms, i);
		struct lv_err e = {0};

		if (d->autostart && d->slot < 0 && start_dom(lf, d, &e))
			pr_err("autostart of %s failed: %s", d->name, e.msg);
	}
}

size_t lvfleet_running(struct lvfleet *lf)
{
	size_t n = 0;

	for (guint i = 0; i < lf->doms->len; i++)
		n += ((struct lvdom *) g_ptr_array_index(lf->doms, i))->slot >= 0;
	return n;
}

void lvfleet_destroy(struct lvfleet *lf)
{
	if (!lf)
		return;
	lv_server_destroy(lf->server);
	statedir_close(lf->sd);
	g_ptr_array_unref(lf->doms);
	g_free(lf);
}
