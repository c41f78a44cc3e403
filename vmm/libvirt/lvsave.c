/* lvsave.c - libvirt's save and restore on the fleet: the saved "file" is a snapshot
 * directory (docs/snapshots.md).
 *
 * Saving snapshots the running domain (vmm/snapshot.h: paused while its state and
 * memory are written, then it goes on) and stops it, as libvirt's save does: the domain
 * shuts off with reason "saved"; a persistent one stays defined, a transient one goes.
 * Restoring builds the saved guest anew (fleet_restore_guest) under the name and UUID
 * the snapshot records. It comes back in the domain defined under that name if there is
 * one (then persistent), else as a new transient domain.
 *
 * Both run on the main loop's thread and block it for as long as the memory takes to
 * write or read (the remote protocol answers calls in order).
 */
#define pr_fmt(fmt) "libvirt: " fmt
#include <string.h>

#include "lib/log.h"
#include "vmm/libvirt/lvfleet_internal.h"
#include "vmm/snapshot.h"

/* VIR_DOMAIN_EVENT_STARTED_RESTORED */
#define LV_STARTED_RESTORED 2

int lvsave_save(void *be, const struct lv_key *k, const char *path, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);
	char err[512];

	if (!d)
		return -1;
	if (d->slot < 0) {
		lvdom_fail(e, LV_ERR_OPERATION_INVALID,
			   "Requested operation is not valid: domain is not running");
		return -1;
	}
	if (fleet_snapshot_guest(lf->fleet, (size_t) d->slot, path, err, sizeof(err))) {
		lvdom_fail(e, LV_ERR_OPERATION_FAILED, "operation failed: %s", err);
		return -1;
	}
	pr_info("domain %s saved to %s", d->name, path);
	return lvdom_end(lf, d, LV_SHUTOFF_SAVED, e);
}

/* The domain the guest saved as @org comes back in: the shut-off domain defined under
 * its name (*@d), or none (*@d NULL: a new transient one). -1 with @e when a domain
 * of that name or UUID runs, or another domain has one of them. */
static int restore_target(struct lvfleet *lf, const struct snapdef_origin *org, struct lvdom **d,
			  struct lv_err *e)
{
	struct lvdom *by_name = lvdom_find(lf, &(struct lv_key){.name = org->name});
	struct lvdom *by_uuid = lvdom_find(lf, &(struct lv_key){.uuid = org->uuid});
	struct lvdom *on = by_name && by_name->slot >= 0 ? by_name : by_uuid;

	*d = by_name;
	if (on && on->slot >= 0) {
		lvdom_fail(e, LV_ERR_OPERATION_INVALID,
			   "Requested operation is not valid: domain '%s' is already running",
			   on->name);
		return -1;
	}
	return lvdom_check_name_uuid(lf, org->name, org->uuid, d, e);
}

/* A transient domain for a guest restored without a definition (like a `ksmvmm run`
 * guest, its XML comes from the running guest). */
static struct lvdom *restore_transient(struct lvfleet *lf, const char *name, const uint8_t *uuid)
{
	struct lvdom *d = g_new0(struct lvdom, 1);

	snprintf(d->name, sizeof(d->name), "%s", name);
	memcpy(d->uuid, uuid, LV_UUID_LEN);
	d->slot = -1;
	d->id = -1;
	d->stop_reason = -1;
	g_ptr_array_add(lf->doms, d);
	return d;
}

/* Build the guest of open snapshot @s (closed here) in the fleet. */
static int restore_from(struct lvfleet *lf, struct snapshot_src *s, struct options *o,
			struct lv_dom *out, struct lv_err *e)
{
	const struct snapdef_origin *org = snapshot_origin(s);
	char name[LV_NAME_MAX], err[512];
	uint8_t uuid[LV_UUID_LEN];
	struct lvdom *d;
	int slot;

	if (restore_target(lf, org, &d, e) || !lvdom_kvm_ready(lf, org->name, e)) {
		snapshot_close(s, NULL);
		return -1;
	}
	snprintf(name, sizeof(name), "%s", org->name);
	memcpy(uuid, org->uuid, LV_UUID_LEN);
	o->count = 1;
	o->name = name;
	o->name_exact = true;
	memcpy(o->uuid, uuid, LV_UUID_LEN);
	slot = fleet_restore_guest(lf->fleet, s, o, err, sizeof(err)); /* closes @s */
	if (slot < 0) {
		lvdom_fail(e, LV_ERR_OPERATION_FAILED, "cannot restore %s: %s", name, err);
		return -1;
	}
	if (!d)
		d = restore_transient(lf, name, uuid);
	d->restored = true;
	lvdom_running(lf, d, slot, LV_STARTED_RESTORED);
	lvdom_fill(lf, d, out);
	return 0;
}

int lvsave_restore(void *be, const char *path, struct lv_dom *out, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct options o = lf->base;
	struct snapshot_src *s;
	char err[512];

	s = snapshot_open(path, &o, err, sizeof(err));
	if (!s) {
		lvdom_fail(e, LV_ERR_OPERATION_FAILED, "operation failed: %s", err);
		return -1;
	}
	return restore_from(lf, s, &o, out, e);
}
