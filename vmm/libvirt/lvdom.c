/* lvdom.c - the domain records: finding them, what libvirt sees of them, starting their
 * guest, and the end of it (lvfleet_guest_ended). Used by lvdefs.c and lvfleet.c. */
#define pr_fmt(fmt) "libvirt: " fmt
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "vmm/kvm.h"
#include "vmm/libvirt/lvfleet_internal.h"
#include "vmm/libvirt/lvserver.h"

void lvdom_fail(struct lv_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void lvdom_free(gpointer p)
{
	struct lvdom *d = p;

	if (d->has_def)
		domxml_clear(&d->def);
	g_free(d);
}

struct lvdom *lvdom_find(struct lvfleet *lf, const struct lv_key *k)
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

struct lvdom *lvdom_find_or_fail(struct lvfleet *lf, const struct lv_key *k, struct lv_err *e)
{
	struct lvdom *d = lvdom_find(lf, k);

	if (!d) {
		if (k->name)
			lvdom_fail(e, LV_ERR_NO_DOMAIN,
				   "Domain not found: no domain with matching name '%s'", k->name);
		else if (k->uuid)
			lvdom_fail(e, LV_ERR_NO_DOMAIN,
				   "Domain not found: no domain with matching uuid");
		else
			lvdom_fail(e, LV_ERR_NO_DOMAIN,
				   "Domain not found: no domain with matching id %d", k->id);
	}
	return d;
}

/* The fleet's view of a running domain; false if it has no guest (any more). */
bool lvdom_guest_info(struct lvfleet *lf, const struct lvdom *d, struct fleet_guest_info *gi)
{
	return d->slot >= 0 && fleet_info(lf->fleet, (size_t) d->slot, gi) == 0;
}

void lvdom_fill(struct lvfleet *lf, const struct lvdom *d, struct lv_dom *out)
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
	if (!lvdom_guest_info(lf, d, &gi))
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
		out->reason = d->restored ? LV_RUNNING_RESTORED : LV_RUNNING_BOOTED;
	} else {
		out->state = LV_STATE_SHUTOFF;
		out->reason = gi.state == GUEST_DEAD ? LV_SHUTOFF_CRASHED : LV_SHUTOFF_SHUTDOWN;
	}
}

void lvdom_emit(struct lvfleet *lf, const struct lvdom *d, int event, int detail)
{
	struct lv_dom info;

	if (!lf->server)
		return;
	lvdom_fill(lf, d, &info);
	lv_server_lifecycle(lf->server, &info, event, detail);
}

bool lvdom_kvm_ready(struct lvfleet *lf, const char *name, struct lv_err *e)
{
	if (!lf->kvm_ready) {
		log_clear_error();
		lf->kvm_ready = kvm_open() >= 0;
	}
	if (!lf->kvm_ready)
		lvdom_fail(e, LV_ERR_OPERATION_FAILED, "cannot start %s: %s", name,
			   log_last_error()[0] ? log_last_error() : "no /dev/kvm");
	return lf->kvm_ready;
}

/* Build and start @d's guest. */
int lvdom_start(struct lvfleet *lf, struct lvdom *d, struct lv_err *e)
{
	struct options o;
	char err[512];
	int slot;

	if (d->slot >= 0) {
		lvdom_fail(e, LV_ERR_OPERATION_INVALID,
			   "Requested operation is not valid: domain is already running");
		return -1;
	}
	if (!d->has_def) {
		lvdom_fail(e, LV_ERR_OPERATION_INVALID, "domain %s has no definition to start from",
			   d->name);
		return -1;
	}
	if (domxml_to_options(&d->def, &lf->base, &o, err, sizeof(err))) {
		lvdom_fail(e, LV_ERR_CONFIG_UNSUPPORTED, "%s", err);
		return -1;
	}
	if (!lvdom_kvm_ready(lf, d->name, e))
		return -1;
	slot = fleet_add_guest(lf->fleet, &o, err, sizeof(err));
	if (slot < 0) {
		lvdom_fail(e, LV_ERR_OPERATION_FAILED, "cannot start %s: %s", d->name, err);
		return -1;
	}
	d->restored = false;
	lvdom_running(lf, d, slot, 0);
	/* <currentMemory> below <memory>: the balloon takes the difference back. */
	if (d->def.cur_kib && d->def.cur_kib < d->def.mem_kib &&
	    fleet_balloon(lf->fleet, (size_t) slot, (d->def.mem_kib - d->def.cur_kib) * 1024))
		pr_warn("%s: cannot set the balloon to its <currentMemory>", d->name);
	return 0;
}

void lvdom_running(struct lvfleet *lf, struct lvdom *d, int slot, int detail)
{
	d->slot = slot;
	d->id = lf->next_id++;
	d->owned = true;
	d->stop_reason = -1;
	pr_info("domain %s %s (id %d)", d->name, d->restored ? "restored" : "started", d->id);
	lvdom_emit(lf, d, LV_EVENT_STARTED, detail);
}

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
		     : reason == LV_SHUTOFF_SAVED   ? LV_STOPPED_SAVED
						    : LV_STOPPED_SHUTDOWN;

	if (d->owned && fleet_remove_guest(lf->fleet, (size_t) d->slot))
		return false; /* not quite ended: a later end callback retries */
	d->off_reason = reason;
	d->stop_reason = -1;
	lvdom_emit(lf, d, LV_EVENT_STOPPED, detail);
	pr_info("domain %s shut off (%s)", d->name,
		reason == LV_SHUTOFF_CRASHED ? "crashed"
		: reason == LV_SHUTOFF_SAVED ? "saved"
					     : "stopped");
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

		if (lvdom_guest_info(lf, d, &gi) &&
		    (gi.state == GUEST_STOPPED || gi.state == GUEST_DEAD) && reap(lf, d, gi.state))
			continue;
		i++;
	}
}

/* How long destroy and save wait for the vCPUs to leave (libvirt's destroy and save are
 * synchronous: the domain is off when the call returns). */
#define LVDOM_END_WAIT_MS 10000

int lvdom_end(struct lvfleet *lf, struct lvdom *d, int reason, struct lv_err *e)
{
	uint64_t until = clock_now_us() + LVDOM_END_WAIT_MS * 1000ull;
	struct fleet_guest_info gi;
	char name[LV_NAME_MAX];

	if (lvdom_stop(lf, d, reason, e))
		return -1;
	snprintf(name, sizeof(name), "%s", d->name);
	while (lvdom_guest_info(lf, d, &gi) && gi.state == GUEST_STOPPING && clock_now_us() < until)
		g_usleep(1000);
	lvfleet_guest_ended(lf); /* may free @d */
	d = lvdom_find(lf, &(struct lv_key){.name = name});
	if (d && d->slot >= 0) {
		lvdom_fail(e, LV_ERR_OPERATION_FAILED, "%s did not stop within %d s", name,
			   LVDOM_END_WAIT_MS / 1000);
		return -1;
	}
	return 0;
}

int lvdom_stop(struct lvfleet *lf, struct lvdom *d, int reason, struct lv_err *e)
{
	if (d->slot < 0) {
		lvdom_fail(e, LV_ERR_OPERATION_INVALID,
			   "Requested operation is not valid: domain is not running");
		return -1;
	}
	if (d->stop_reason < 0 || reason == LV_SHUTOFF_DESTROYED)
		d->stop_reason = reason;
	fleet_stop_guest(lf->fleet, (size_t) d->slot); /* -EALREADY: it is ending anyway */
	return 0;
}

int lvdom_check_name_uuid(struct lvfleet *lf, const char *name, const uint8_t *uuid,
			  struct lvdom **same, struct lv_err *e)
{
	struct lvdom *by_name = lvdom_find(lf, &(struct lv_key){.name = name});
	struct lvdom *by_uuid = lvdom_find(lf, &(struct lv_key){.uuid = uuid});

	*same = by_name;
	if (by_name && memcmp(by_name->uuid, uuid, LV_UUID_LEN)) {
		lvdom_fail(e, LV_ERR_OPERATION_FAILED,
			   "operation failed: domain '%s' already exists with another uuid", name);
		return -1;
	}
	if (by_uuid && by_uuid != by_name) {
		lvdom_fail(e, LV_ERR_OPERATION_FAILED,
			   "operation failed: domain '%s' already exists with the same uuid",
			   by_uuid->name);
		return -1;
	}
	return 0;
}

/* Check @def against the domains there are (lvdom_check_name_uuid). */
int lvdom_check_identity(struct lvfleet *lf, const struct domdef *def, struct lvdom **same,
			 struct lv_err *e)
{
	return lvdom_check_name_uuid(lf, def->name, def->uuid, same, e);
}

struct lvdom *lvdom_new(struct lvfleet *lf, struct domdef *def)
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
int lvdom_parse(const char *xml, bool validate, struct domdef *def, struct lv_err *e)
{
	char err[512];

	if (domxml_parse(xml, validate, def, err, sizeof(err))) {
		lvdom_fail(e, def->err_code ? def->err_code : LV_ERR_XML, "%s", err);
		return -1;
	}
	return 0;
}
