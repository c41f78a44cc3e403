/* lvdefs.c - domain definitions: define, undefine, create from XML, autostart, the XML
 * and metadata of a domain (backend ops of lvfleet.c). */
#define pr_fmt(fmt) "libvirt: " fmt
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "vmm/libvirt/lvfleet_internal.h"
#include "vmm/libvirt/statedir.h"

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

char *lvdefs_xml_desc(void *be, const struct lv_key *k, unsigned flags, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);
	struct fleet_guest_info gi;

	(void) flags;
	if (!d)
		return NULL;
	if (d->has_def)
		return g_strdup(d->def.xml);
	if (!lvdom_guest_info(lf, d, &gi)) {
		lvdom_fail(e, LV_ERR_NO_DOMAIN, "Domain not found: %s has ended", d->name);
		return NULL;
	}
	return lvxml_of_guest(d, &gi, &lf->base);
}

int lvdefs_define(void *be, const char *xml, bool validate, struct lv_dom *out, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d;
	struct domdef def;
	char err[512];
	bool update;
	int ret;

	if (!lf->sd) {
		lvdom_fail(e, LV_ERR_NO_SUPPORT,
			   "this VMM keeps no definitions: run `ksmvmm serve --state-dir DIR` to "
			   "define domains, or use `virsh create`");
		return -1;
	}
	if (lvdom_parse(xml, validate, &def, e))
		return -1;
	d = lvdom_find(lf, &(struct lv_key){.name = def.name});
	if (d && memcmp(d->uuid, def.uuid, LV_UUID_LEN)) {
		char *again = with_uuid(xml, d->uuid);

		if (again) {
			domxml_clear(&def);
			ret = lvdom_parse(again, validate, &def, e);
			g_free(again);
			if (ret)
				return -1;
		}
	}
	if (lvdom_check_identity(lf, &def, &d, e) ||
	    statedir_save(lf->sd, def.name, def.xml, err, sizeof(err))) {
		if (!e->code)
			lvdom_fail(e, LV_ERR_OPERATION_FAILED, "cannot save %s: %s", def.name, err);
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
		d = lvdom_new(lf, &def);
	}
	d->persistent = true;
	lvdom_fill(lf, d, out);
	lvdom_emit(lf, d, LV_EVENT_DEFINED, update ? 1 : 0);
	return 0;
}

int lvdefs_undefine(void *be, const struct lv_key *k, unsigned flags, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);
	char err[512];

	(void) flags;
	if (!d)
		return -1;
	if (!d->persistent) {
		lvdom_fail(e, LV_ERR_OPERATION_INVALID,
			   "Requested operation is not valid: cannot undefine transient domain");
		return -1;
	}
	if (statedir_remove(lf->sd, d->name, err, sizeof(err))) {
		lvdom_fail(e, LV_ERR_OPERATION_FAILED, "cannot remove the definition of %s: %s",
			   d->name, err);
		return -1;
	}
	d->persistent = false;
	d->autostart = false;
	lvdom_emit(lf, d, LV_EVENT_UNDEFINED, 0);
	if (d->slot < 0) /* a running domain goes on, transient, until it ends */
		g_ptr_array_remove(lf->doms, d);
	return 0;
}

int lvdefs_create_xml(void *be, const char *xml, unsigned flags, struct lv_dom *out,
		      struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d;
	struct domdef def;

	(void) flags;
	if (lvdom_parse(xml, false, &def, e))
		return -1;
	if (lvdom_check_identity(lf, &def, &d, e) || (d && d->slot >= 0)) {
		if (!e->code)
			lvdom_fail(
			    e, LV_ERR_OPERATION_INVALID,
			    "Requested operation is not valid: domain '%s' is already running",
			    def.name);
		domxml_clear(&def);
		return -1;
	}
	if (d) { /* a defined domain started from other XML: this run only */
		lvdom_fail(e, LV_ERR_OPERATION_INVALID,
			   "domain '%s' is defined: start it, or define it anew first", def.name);
		domxml_clear(&def);
		return -1;
	}
	d = lvdom_new(lf, &def);
	if (lvdom_start(lf, d, e)) {
		g_ptr_array_remove(lf->doms, d);
		return -1;
	}
	lvdom_fill(lf, d, out);
	return 0;
}

int lvdefs_set_autostart(void *be, const struct lv_key *k, bool on, struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);
	char err[512];

	if (!d)
		return -1;
	if (!d->persistent) {
		lvdom_fail(
		    e, LV_ERR_OPERATION_INVALID,
		    "Requested operation is not valid: cannot set autostart for transient domain");
		return -1;
	}
	if (statedir_set_autostart(lf->sd, d->name, on, err, sizeof(err))) {
		lvdom_fail(e, LV_ERR_OPERATION_FAILED, "%s", err);
		return -1;
	}
	d->autostart = on;
	return 0;
}

char *lvdefs_get_metadata(void *be, const struct lv_key *k, int type, const char *uri,
			  struct lv_err *e)
{
	struct lvfleet *lf = be;
	struct lvdom *d = lvdom_find_or_fail(lf, k, e);
	char *md = NULL;

	if (!d)
		return NULL;
	if (type == 2 && uri && d->has_def)
		md = domxml_metadata(&d->def, uri);
	if (!md)
		lvdom_fail(e, LV_ERR_NO_METADATA,
			   "metadata not found: Requested metadata element is not present");
	return md;
}
