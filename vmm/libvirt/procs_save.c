/* procs_save.c - DOMAIN_SAVE, DOMAIN_SAVE_FLAGS, DOMAIN_RESTORE, DOMAIN_RESTORE_FLAGS.
 *
 * The file of libvirt's API is a snapshot directory here (docs/snapshots.md), a path on
 * the VMM's host; the client library has made it absolute already. Layouts follow
 * libvirt's remote_protocol.x (remote_domain_save_args and its relatives); every reply
 * is empty.
 */
#include "vmm/libvirt/procs_save.h"

#include <glib.h>

#include "vmm/libvirt/rpc.h"

/* virDomainSaveRestoreFlags */
#define SAVE_BYPASS_CACHE (1u << 0)
#define SAVE_RUNNING (1u << 1)
#define SAVE_PAUSED (1u << 2)
#define SAVE_RESET_NVRAM (1u << 3)
/* The longest path worth a look (PATH_MAX). */
#define SAVE_PATH_MAX 4096

/* What the flags and the replacement XML ask for, refused unless we do it: a restored
 * domain always runs, so VIR_DOMAIN_SAVE_RUNNING is what we do anyway. */
static int save_check(struct procs_call *c, const char *dxml, uint32_t flags)
{
	if (flags & SAVE_PAUSED)
		return procs_fail(c, LV_ERR_ARGUMENT_UNSUPPORTED,
				  "argument unsupported: VIR_DOMAIN_SAVE_PAUSED: ksmvmm has no "
				  "paused domains, a restored domain runs");
	if (flags & SAVE_BYPASS_CACHE)
		return procs_fail(c, LV_ERR_ARGUMENT_UNSUPPORTED,
				  "argument unsupported: VIR_DOMAIN_SAVE_BYPASS_CACHE is not "
				  "supported by ksmvmm");
	if (flags & SAVE_RESET_NVRAM)
		return procs_fail(c, LV_ERR_ARGUMENT_UNSUPPORTED,
				  "argument unsupported: VIR_DOMAIN_SAVE_RESET_NVRAM: ksmvmm "
				  "guests have no NVRAM");
	if (flags & ~SAVE_RUNNING)
		return procs_fail(c, LV_ERR_INVALID_ARG, "unsupported flags (0x%x) in save/restore",
				  flags & ~SAVE_RUNNING);
	if (dxml)
		return procs_fail(c, LV_ERR_ARGUMENT_UNSUPPORTED,
				  "argument unsupported: a replacement domain XML is not supported "
				  "by ksmvmm's save and restore");
	if (!c->b->ops->save || !c->b->ops->restore)
		return procs_fail(c, LV_ERR_NO_SUPPORT,
				  "this function is not supported by the connection driver: save "
				  "and restore");
	return 0;
}

static int save_failed(struct procs_call *c)
{
	if (!c->err.code)
		return procs_fail(c, LV_ERR_OPERATION_FAILED, "operation failed");
	return -1;
}

/* Save domain @ref to @to after the checks of @dxml and @flags. */
static int save_one(struct procs_call *c, const struct procs_dom_ref *ref, const char *to,
		    const char *dxml, uint32_t flags)
{
	struct lv_dom d;

	if (save_check(c, dxml, flags))
		return -1;
	if (c->b->ops->lookup(c->b->be, &(struct lv_key){.uuid = ref->uuid}, &d, &c->err))
		return save_failed(c);
	if (to[0] != '/')
		return procs_fail(c, LV_ERR_INVALID_ARG, "invalid argument: %s is not absolute",
				  to);
	if (c->b->ops->save(c->b->be, &(struct lv_key){.uuid = d.uuid}, to, &c->err))
		return save_failed(c);
	return 0;
}

/* The arguments after the domain: a path, then (the Flags forms) an optional XML and
 * flags. Returns 0 when they decoded and nothing follows; the caller frees both strings
 * either way. */
static int path_args(struct procs_call *c, bool with_flags, char **path, char **dxml,
		     uint32_t *flags)
{
	xdr_get_string(c->args, path, SAVE_PATH_MAX);
	if (with_flags) {
		xdr_get_opt_string(c->args, dxml, RPC_STRING_MAX);
		xdr_get_uint(c->args, flags);
	}
	return procs_args_done(c);
}

static int save_common(struct procs_call *c, bool with_flags)
{
	struct procs_dom_ref ref;
	char *to = NULL, *dxml = NULL;
	uint32_t flags = 0;
	int ret = -1;

	procs_get_dom(c->args, &ref);
	if (!path_args(c, with_flags, &to, &dxml, &flags))
		ret = save_one(c, &ref, to, dxml, flags);
	g_free(to);
	g_free(dxml);
	return ret;
}

static int save_plain(struct procs_call *c)
{
	return save_common(c, false);
}

static int save_flags(struct procs_call *c)
{
	return save_common(c, true);
}

static int restore_one(struct procs_call *c, const char *from, const char *dxml, uint32_t flags)
{
	struct lv_dom d;

	if (save_check(c, dxml, flags))
		return -1;
	if (from[0] != '/')
		return procs_fail(c, LV_ERR_INVALID_ARG, "invalid argument: %s is not absolute",
				  from);
	if (c->b->ops->restore(c->b->be, from, &d, &c->err))
		return save_failed(c);
	return 0;
}

static int restore_common(struct procs_call *c, bool with_flags)
{
	char *from = NULL, *dxml = NULL;
	uint32_t flags = 0;
	int ret = -1;

	if (!path_args(c, with_flags, &from, &dxml, &flags))
		ret = restore_one(c, from, dxml, flags);
	g_free(from);
	g_free(dxml);
	return ret;
}

static int restore_plain(struct procs_call *c)
{
	return restore_common(c, false);
}

static int restore_flags(struct procs_call *c)
{
	return restore_common(c, true);
}

const struct procs_entry procs_save_table[] = {
    {54, false, restore_plain},
    {55, false, save_plain},
    {232, false, save_flags},
    {233, false, restore_flags},
};

const size_t procs_save_count = G_N_ELEMENTS(procs_save_table);
