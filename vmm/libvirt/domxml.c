/* domxml.c - domain XML through libvirt's own parser (test:///default, in-process).
 *
 * One test:///default connection per process, opened on first use and kept: the test
 * driver's state lives as long as the connection, so each parse defines the domain,
 * reads back libvirt's normalised XML and undefines it again, under one mutex. The
 * driver starts with a running domain "test" of its own; it is destroyed and undefined
 * at open so a user's domain of that name (or UUID) can be parsed too.
 */
#define pr_fmt(fmt) "domxml: " fmt

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "lib/errbuf.h"
#include "lib/log.h"
#include "vmm/libvirt/domxml.h"
#include "vmm/libvirt/domxml_read.h"

static pthread_mutex_t domxml_lock = PTHREAD_MUTEX_INITIALIZER;
static virConnectPtr domxml_conn; /* under domxml_lock */

/* libvirt prints every error to stderr by default; ours go back to the caller. */
static void domxml_quiet(void *opaque, virErrorPtr e)
{
	(void) opaque;
	(void) e;
}

/* libvirt's last error on this thread, as is, and its code. */
static int libvirt_error(int ret, struct domdef *out, char *err, size_t errlen)
{
	virErrorPtr e = virGetLastError();

	out->err_code = e ? e->code : LV_ERR_INTERNAL;
	return errbuf_set(err, errlen, ret, "%s",
			  e && e->message ? e->message : "libvirt failed without a message");
}

/* Remove the test driver's own domain "test" (running, persistent). */
static void conn_drop_default(virConnectPtr c)
{
	virDomainPtr dom = virDomainLookupByName(c, "test");

	if (!dom)
		return;
	if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
		pr_warn("test:///default: cannot stop its domain 'test'");
	if (virDomainUndefine(dom) < 0)
		pr_warn("test:///default: cannot undefine its domain 'test'");
	virDomainFree(dom);
}

/* domxml_lock held. */
static virConnectPtr conn_get(void)
{
	if (domxml_conn)
		return domxml_conn;
	virSetErrorFunc(NULL, domxml_quiet);
	domxml_conn = virConnectOpen("test:///default");
	if (domxml_conn)
		conn_drop_default(domxml_conn);
	return domxml_conn;
}

/* Copy what libvirt knows for sure (name checked by domxml_read, UUID as bytes). */
static int take_uuid_and_xml(virDomainPtr dom, struct domdef *out, char *err, size_t errlen)
{
	char *xml;

	if (virDomainGetUUID(dom, out->uuid) < 0)
		return libvirt_error(-EINVAL, out, err, errlen);
	xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
	if (!xml)
		return libvirt_error(-EINVAL, out, err, errlen);
	out->xml = g_strdup(xml);
	free(xml);
	return 0;
}

/* Define @xml on the test driver, read it back, undefine it. domxml_lock held. */
static int libvirt_normalise(virConnectPtr c, const char *xml, bool validate, struct domdef *out,
			     char *err, size_t errlen)
{
	virDomainPtr dom;
	int ret;

	dom = virDomainDefineXMLFlags(c, xml, validate ? VIR_DOMAIN_DEFINE_VALIDATE : 0);
	if (!dom)
		return libvirt_error(-EINVAL, out, err, errlen);
	ret = take_uuid_and_xml(dom, out, err, errlen);
	if (virDomainUndefine(dom) < 0)
		pr_warn("test:///default: cannot undefine a parsed domain: %s",
			virGetLastErrorMessage());
	virDomainFree(dom);
	return ret;
}

/* Build the guest's options on neutral fleet-wide settings, so that what only fails
 * at start (a bad profile, too little memory for a workload guest) fails at define. */
static int options_try(const struct domdef *d, char *err, size_t errlen)
{
	static const struct options base = {
	    .profile = {.seed = 1, .extent = PROFILE_DEFAULT_EXTENT}};
	struct options o;

	return domxml_to_options(d, &base, &o, err, errlen);
}

int domxml_parse(const char *xml, bool validate, struct domdef *out, char *err, size_t errlen)
{
	virConnectPtr c;
	int ret, code;

	*out = (struct domdef){.err_code = LV_ERR_INVALID_ARG};
	if (!xml)
		return errbuf_set(err, errlen, -EINVAL, "no domain XML");
	out->err_code = 0;
	pthread_mutex_lock(&domxml_lock);
	c = conn_get();
	ret = c ? libvirt_normalise(c, xml, validate, out, err, errlen)
		: libvirt_error(-EIO, out, err, errlen);
	pthread_mutex_unlock(&domxml_lock);
	if (ret)
		return ret;
	ret = domxml_read(out->xml, out, err, errlen);
	code = ret == -ENOTSUP ? LV_ERR_CONFIG_UNSUPPORTED : LV_ERR_XML;
	if (!ret) {
		ret = options_try(out, err, errlen);
		code = LV_ERR_CONFIG_UNSUPPORTED;
	}
	if (ret) {
		domxml_clear(out);
		out->err_code = code;
	}
	return ret;
}

static void options_set_guest(const struct domdef *d, struct options *o)
{
	o->count = 1;
	o->name = d->name;
	o->name_exact = true;
	memcpy(o->uuid, d->uuid, sizeof(o->uuid));
	o->mem = d->mem_kib << 10;
	o->cpus = d->vcpus;
	o->kind = d->workload ? GUEST_KIND_WORKLOAD : GUEST_KIND_LINUX;
	o->kernel = d->kernel;
	o->initrd = d->initrd;
	o->cmdline = d->cmdline;
	o->nr_disks = d->nr_disks;
	memcpy(o->disks, d->disks, sizeof(o->disks));
	o->virtio = (d->console ? OPT_VIRTIO_CONSOLE : 0) | (d->rng ? OPT_VIRTIO_RNG : 0) |
		    (d->balloon ? OPT_VIRTIO_BALLOON : 0);
}

/* The domain's own group replaces the fleet's rules; without one they apply as given. */
static void options_set_group(const struct domdef *d, struct options *o)
{
	const char *group = d->nosharepages ? "none" : d->group;

	if (!group[0])
		return;
	o->nr_group_rules = 1;
	o->group_rules[0] = (struct group_rule){.guests = NULL};
	snprintf(o->group_rules[0].group, sizeof(o->group_rules[0].group), "%s", group);
}

int domxml_to_options(const struct domdef *d, const struct options *base, struct options *o,
		      char *err, size_t errlen)
{
	*o = *base;
	options_set_guest(d, o);
	options_set_group(d, o);
	if (d->profile && profile_parse(d->profile, &o->profile, err, errlen))
		return -EINVAL;
	return options_check(o, err, errlen);
}

char *domxml_metadata(const struct domdef *d, const char *uri)
{
	return d->xml && uri ? domxml_read_metadata(d->xml, uri) : NULL;
}

char *domxml_description(const struct domdef *d, bool title)
{
	return d->xml ? domxml_read_text(d->xml, title ? "title" : "description") : NULL;
}

void domxml_clear(struct domdef *d)
{
	g_free(d->kernel);
	g_free(d->initrd);
	g_free(d->cmdline);
	g_free(d->profile);
	g_free(d->xml);
	*d = (struct domdef){0};
}
