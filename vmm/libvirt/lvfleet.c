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
#include <stdio.h>
#include <string.h>

#include "lib/errbuf.h"
#include "lib/log.h"
#include "vmm/kvm.h"
#include "vmm/libvirt/lvfleet_internal.h"
#include "vmm/libvirt/lvserver.h"
#include "vmm/libvirt/statedir.h"

static int op_list(void *be, struct lv_dom *out, size_t max)
{
	struct lvfleet *lf = be;
	size_t n = 0;

	for (guint i = 0; i < lf->doms->len && n < max; i++)
		lvdom_fill(lf, g_ptr_array_index(lf->doms, i), &out[n++]);
	return (int) n;
}

static int op_lookup(void *be, const struct lv_key *k, struct lv_dom *out, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);

	if (!d)
		return -1;
	lvdom_fill(lf, d, out);
	return 0;
}

static int op_start(void *be, const struct lv_key *k, struct lv_dom *out, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);

	if (!d || lvdom_start(lf, d, e))
		return -1;
	lvdom_fill(lf, d, out);
	return 0;
}

static int op_shutdown(void *be, const struct lv_key *k, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);

	return d ? lvdom_stop(lf, d, LV_SHUTOFF_SHUTDOWN, e) : -1;
}

static int op_destroy(void *be, const struct lv_key *k, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);

	return d ? lvdom_end(lf, d, LV_SHUTOFF_DESTROYED, e) : -1;
}

/* The running domain of key @k, or NULL with libvirt's error in @e. */
static struct lvdom *running_or_fail(struct lvfleet *lf, const struct lv_key *k, struct lv_err *e)
{
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);

	if (d && d->slot < 0) {
		lvdom_fail(e, LV_ERR_OPERATION_INVALID,
			   "Requested operation is not valid: domain is not running");
		return NULL;
	}
	return d;
}

static int op_memory_stats(void *be, const struct lv_key *k, struct lv_memstat *out, size_t max,
			   struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = running_or_fail(lf, k, e);

	return d ? lvstats_memory(lf, d, out, max) : -1;
}

static int op_domain_stats(void *be, const struct lv_key *k, unsigned stats, struct lv_param *out,
			   size_t max, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);
	struct lv_dom info;

	if (!d)
		return -1;
	lvdom_fill(lf, d, &info);
	return lvstats_domain(lf, d, &info, stats, out, max);
}

static int op_block_stats(void *be, const struct lv_key *k, const char *path,
			  struct lv_blkstat *out, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = running_or_fail(lf, k, e);

	return d ? lvstats_block(lf, d, path, out, e) : -1;
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
    .xml_desc = lvdefs_xml_desc,
    .define = lvdefs_define,
    .undefine = lvdefs_undefine,
    .start = op_start,
    .create_xml = lvdefs_create_xml,
    .shutdown = op_shutdown,
    .destroy = op_destroy,
    .set_autostart = lvdefs_set_autostart,
    .memory_stats = op_memory_stats,
    .domain_stats = op_domain_stats,
    .get_metadata = lvdefs_get_metadata,
    .node_memory_get = op_node_memory_get,
    .node_memory_set = op_node_memory_set,
    .block_stats = op_block_stats,
    .save = lvsave_save,
    .restore = lvsave_restore,
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

	if (lvdom_parse(xml, false, &def, &e)) {
		pr_err("state directory: %s: %s (skipped)", name, e.msg);
		return -1;
	}
	if (strcmp(def.name, name) || lvdom_check_identity(lf, &def, &same, &e) || same) {
		pr_err("state directory: %s: %s (skipped)", name,
		       e.code ? e.msg : "the file name and the domain name differ");
		domxml_clear(&def);
		return -1;
	}
	same = lvdom_new(lf, &def);
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
	lf->doms = g_ptr_array_new_with_free_func(lvdom_free);
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

		if (d->autostart && d->slot < 0 && lvdom_start(lf, d, &e))
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

unsigned lvfleet_clients(struct lvfleet *lf)
{
	return lf->server ? lv_server_clients(lf->server) : 0;
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
