/* domxml_read.c - walk libvirt's normalised domain XML: what we take, what we refuse.
 *
 * libxml2 rather than GMarkup: it is already in the process (libvirt parses with it),
 * it resolves namespaces (our <metadata> child is found by namespace URI, whatever
 * prefix the user chose), and it serialises a subtree with its namespace declarations
 * (GET_METADATA answers with the element as XML text).
 *
 * Every element is read through a table of the children it may have (domxml_walk.h):
 * a child not in the table is refused by name, so an element libvirt learns tomorrow is
 * refused too rather than silently dropped.
 */
#define pr_fmt(fmt) "domxml: " fmt

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "lib/errbuf.h"
#include "vmm/libvirt/domxml_read.h"
#include "vmm/libvirt/domxml_walk.h"

/* What guest and group names are made of (the --name and --share-group rule). */
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/* A domain name is a guest name: console files and reports use it. */
static int read_name(xmlNode *n, struct domxml_walk *w)
{
	char *name = w->d->name;

	if (domxml_walk_text_copy(n, name, sizeof(w->d->name), w))
		return -ENOTSUP;
	if (!name[0] || name[0] == '.' || name[0] == '-' ||
	    strspn(name, NAME_CHARS) != strlen(name))
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "domain name '%s': ksmvmm wants 1..%d of [A-Za-z0-9._-], not "
				  "starting with '.' or '-'",
				  name, LV_NAME_MAX - 1);
	return 0;
}

/* libvirt normalises sizes to KiB; anything else means the input was not normalised. */
static int read_kib(xmlNode *n, uint64_t *out, struct domxml_walk *w)
{
	int ret;

	if (!domxml_walk_attr_in(n, "unit", "KiB"))
		return errbuf_set(w->err, w->errlen, -EINVAL, "<%s>: expected unit='KiB'",
				  (const char *) n->name);
	ret = domxml_walk_text_u64(n, out, w);
	if (ret)
		return ret;
	if (*out > UINT64_MAX >> 10) /* libvirt's own limit: bytes fit in 64 bits */
		return errbuf_set(w->err, w->errlen, -EINVAL, "<%s>: too large",
				  (const char *) n->name);
	return 0;
}

static int read_memory(xmlNode *n, struct domxml_walk *w)
{
	return read_kib(n, &w->d->mem_kib, w);
}

static int read_cur_memory(xmlNode *n, struct domxml_walk *w)
{
	return read_kib(n, &w->d->cur_kib, w);
}

/* A fixed number of vCPUs: no pinning, no hotplug (current below the maximum). */
static int read_vcpu(xmlNode *n, struct domxml_walk *w)
{
	char cur[16];
	uint64_t v;
	int ret;

	ret = domxml_walk_attr_check(n, "placement", "static", "<vcpu>", w);
	if (!ret)
		ret = domxml_walk_attr_check(n, "cpuset", NULL, "<vcpu> (pinning)", w);
	if (!ret)
		ret = domxml_walk_text_u64(n, &v, w);
	if (!ret)
		ret = domxml_walk_attr_copy(n, "current", cur, sizeof(cur), w);
	if (ret)
		return ret;
	if (v < 1 || v > OPT_MAX_CPUS)
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "<vcpu>%llu: ksmvmm runs 1..%d vCPUs per guest",
				  (unsigned long long) v, OPT_MAX_CPUS);
	if (cur[0] && strtoull(cur, NULL, 10) != v)
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "<vcpu current='%s'>: ksmvmm has no vCPU hotplug", cur);
	w->d->vcpus = (unsigned) v;
	return 0;
}

static int read_os_type(xmlNode *n, struct domxml_walk *w)
{
	char *t = domxml_walk_text_dup(n);
	bool hvm = !strcmp(t, "hvm");

	g_free(t);
	if (!hvm)
		return errbuf_set(w->err, w->errlen, -ENOTSUP, "<os><type>: ksmvmm runs hvm only");
	/* test:///default fills in i686 when no arch is given. */
	return domxml_walk_attr_check(n, "arch", "x86_64|i686", "<os><type>", w);
}

/* A file name in <os>: @dst replaced by the text of @n, which must not be empty. */
static int read_os_file(xmlNode *n, char **dst, struct domxml_walk *w)
{
	g_free(*dst);
	*dst = domxml_walk_text_dup(n);
	if (!**dst)
		return errbuf_set(w->err, w->errlen, -EINVAL, "<os><%s> is empty",
				  (const char *) n->name);
	return 0;
}

static int read_kernel(xmlNode *n, struct domxml_walk *w)
{
	return read_os_file(n, &w->d->kernel, w);
}

static int read_initrd(xmlNode *n, struct domxml_walk *w)
{
	return read_os_file(n, &w->d->initrd, w);
}

static int read_cmdline(xmlNode *n, struct domxml_walk *w)
{
	g_free(w->d->cmdline);
	w->d->cmdline = domxml_walk_text_dup(n);
	return 0;
}

/* Direct kernel boot only: no <loader>, <nvram>, <dtb>, <init>, firmware='...'. */
static int read_os(xmlNode *n, struct domxml_walk *w)
{
	static const struct domxml_rule rules[] = {
	    {"type", read_os_type},    {"kernel", read_kernel}, {"initrd", read_initrd},
	    {"cmdline", read_cmdline}, {"boot", NULL},		{"bootmenu", NULL},
	};

	return domxml_walk_attr_check(n, "firmware", NULL, "<os> (firmware boot)", w)
		   ?: DOMXML_WALK(n, rules, w);
}

static int read_nosharepages(xmlNode *n, struct domxml_walk *w)
{
	(void) n;
	w->d->nosharepages = true;
	return 0;
}

/* Only <nosharepages/>: hugepages, locked, file or memfd sources are refused. */
static int read_backing(xmlNode *n, struct domxml_walk *w)
{
	static const struct domxml_rule rules[] = {{"nosharepages", read_nosharepages}};

	return DOMXML_WALK(n, rules, w);
}

/* Any CPU model or topology is accepted (the guest sees the host CPU); NUMA is not. */
static int read_cpu(xmlNode *n, struct domxml_walk *w)
{
	static const struct domxml_rule rules[] = {
	    {"model", NULL},	{"vendor", NULL}, {"feature", NULL},
	    {"topology", NULL}, {"cache", NULL},  {"maxphysaddr", NULL},
	};

	return DOMXML_WALK(n, rules, w);
}

static int read_group(xmlNode *n, struct domxml_walk *w)
{
	char *g = w->d->group;

	if (domxml_walk_text_copy(n, g, sizeof(w->d->group), w))
		return -ENOTSUP;
	if (!g[0] || strspn(g, NAME_CHARS) != strlen(g))
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "<ksmvmm:group>'%s': want 1..%d of [A-Za-z0-9._-]", g,
				  OPT_GROUP_NAME_MAX - 1);
	return 0;
}

static int read_workload(xmlNode *n, struct domxml_walk *w)
{
	xmlChar *p = xmlGetProp(n, (const xmlChar *) "profile");

	w->d->workload = true;
	g_free(w->d->profile);
	w->d->profile = p ? g_strdup((const char *) p) : NULL;
	xmlFree(p);
	return 0;
}

/* <ksmvmm:guest>: every child must be in our namespace and known. */
static int read_own_metadata(xmlNode *n, struct domxml_walk *w)
{
	static const struct domxml_rule rules[] = {{"group", read_group},
						   {"workload", read_workload}};

	if (!domxml_walk_named(n, "guest"))
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "<metadata>: want a <guest> element in namespace %s, not <%s>",
				  DOMXML_NS, (const char *) n->name);
	if (w->metadata_own)
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "<metadata>: more than one <guest> in namespace %s", DOMXML_NS);
	w->metadata_own = true;
	return DOMXML_WALK(n, rules, w);
}

/* Other applications' metadata (other namespaces) is kept and left alone. */
static int read_metadata(xmlNode *n, struct domxml_walk *w)
{
	for (xmlNode *c = n->children; c; c = c->next) {
		int ret;

		if (c->type != XML_ELEMENT_NODE || strcmp(domxml_walk_ns(c), DOMXML_NS))
			continue;
		ret = read_own_metadata(c, w);
		if (ret)
			return ret;
	}
	return 0;
}

static struct opt_disk *disk_cur(struct domxml_walk *w)
{
	return &w->d->disks[w->d->nr_disks];
}

/* name='qemu' is libvirt's only driver name for QEMU disks: taken to mean "the VMM". */
static int read_disk_driver(xmlNode *n, struct domxml_walk *w)
{
	return domxml_walk_attr_check(n, "name", "qemu", "disk <driver>", w)
		   ?: domxml_walk_attr_check(n, "type", "raw",
					     "disk <driver> (ksmvmm reads raw images)", w);
}

static int read_disk_source(xmlNode *n, struct domxml_walk *w)
{
	struct opt_disk *disk = disk_cur(w);

	if (domxml_walk_attr_copy(n, "file", disk->path, sizeof(disk->path), w))
		return -ENOTSUP;
	if (!disk->path[0])
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "disk %s: <source> without file=", w->dev);
	return 0;
}

static int read_disk_target(xmlNode *n, struct domxml_walk *w)
{
	if (domxml_walk_attr_copy(n, "dev", w->dev, sizeof(w->dev), w))
		return -ENOTSUP;
	return domxml_walk_attr_check(n, "bus", "virtio", "disk <target> (ksmvmm disks are virtio)",
				      w);
}

static int disk_set_mode(enum opt_disk_mode mode, struct domxml_walk *w)
{
	if (disk_cur(w)->mode != OPT_DISK_RW)
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "disk %s: give one of <readonly/> and <transient/>", w->dev);
	disk_cur(w)->mode = mode;
	return 0;
}

static int read_disk_readonly(xmlNode *n, struct domxml_walk *w)
{
	(void) n;
	return disk_set_mode(OPT_DISK_READONLY, w);
}

/* <transient/>: writes go to a private copy that ends with the guest: our snapshot. */
static int read_disk_transient(xmlNode *n, struct domxml_walk *w)
{
	(void) n;
	return disk_set_mode(OPT_DISK_SNAPSHOT, w);
}

static int read_disk_serial(xmlNode *n, struct domxml_walk *w)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
	char *s = disk_cur(w)->serial;

	if (domxml_walk_text_copy(n, s, sizeof(disk_cur(w)->serial), w))
		return -ENOTSUP;
	if (!s[0] || strspn(s, ok) != strlen(s))
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "disk %s: <serial>'%s': want 1..20 of [A-Za-z0-9_-]", w->dev, s);
	return 0;
}

/* An empty <backingStore/> says "no backing chain"; a chain is not supported. */
static int read_disk_backing(xmlNode *n, struct domxml_walk *w)
{
	for (xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return errbuf_set(w->err, w->errlen, -ENOTSUP,
					  "disk %s: a backing chain is not supported", w->dev);
	return 0;
}

/* The disk's target dev for messages about any of its children, whatever their order. */
static void disk_name(xmlNode *n, struct domxml_walk *w)
{
	snprintf(w->dev, sizeof(w->dev), "%s", "?");
	for (xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && domxml_walk_named(c, "target"))
			domxml_walk_attr_copy(c, "dev", w->dev, sizeof(w->dev), w);
}

/* One raw image file on the virtio bus, read-write, read-only or transient. */
static int read_disk(xmlNode *n, struct domxml_walk *w)
{
	static const struct domxml_rule rules[] = {
	    {"target", read_disk_target},
	    {"driver", read_disk_driver},
	    {"source", read_disk_source},
	    {"readonly", read_disk_readonly},
	    {"transient", read_disk_transient},
	    {"serial", read_disk_serial},
	    {"backingStore", read_disk_backing},
	    {"address", NULL},
	    {"alias", NULL},
	    {"boot", NULL},
	};
	int ret;

	if (w->d->nr_disks == OPT_MAX_DISKS)
		return errbuf_set(w->err, w->errlen, -ENOTSUP, "more than %d disks", OPT_MAX_DISKS);
	*disk_cur(w) = (struct opt_disk){.mode = OPT_DISK_RW};
	disk_name(n, w);
	ret = domxml_walk_attr_check(n, "type", "file", "<disk> (ksmvmm disks are image files)", w) ?:
	      domxml_walk_attr_check(n, "device", "disk", "<disk>", w) ?: DOMXML_WALK(n, rules, w);
	if (!ret && !disk_cur(w)->path[0])
		ret = errbuf_set(w->err, w->errlen, -ENOTSUP, "disk %s: no <source file=...>",
				 w->dev);
	if (!ret)
		w->d->nr_disks++;
	return ret;
}

/* libvirt adds a ps2 keyboard and mouse to every x86 domain: nothing reads them. */
static int read_input(xmlNode *n, struct domxml_walk *w)
{
	return domxml_walk_attr_check(n, "type", "keyboard|mouse", "<input>", w)
		   ?: domxml_walk_attr_check(n, "bus", "ps2", "<input>", w);
}

/* Our 8250 UART: one, on a pty (its output goes to the console directory). */
static int read_serial(xmlNode *n, struct domxml_walk *w)
{
	if (++w->serials > 1)
		return errbuf_set(w->err, w->errlen, -ENOTSUP, "ksmvmm has one <serial> port");
	return domxml_walk_attr_check(n, "type", "pty", "<serial>", w);
}

static int read_console_target(xmlNode *n, struct domxml_walk *w)
{
	int ret = domxml_walk_attr_check(n, "type", "virtio|serial", "<console><target>", w);

	if (!ret && domxml_walk_attr_in(n, "type", "virtio")) {
		if (w->d->console)
			return errbuf_set(w->err, w->errlen, -ENOTSUP,
					  "ksmvmm has one virtio <console>");
		w->d->console = true;
	}
	return ret;
}

/* A console is the UART (target serial) or the virtio console (target virtio). */
static int read_console(xmlNode *n, struct domxml_walk *w)
{
	static const struct domxml_rule rules[] = {
	    {"target", read_console_target},
	    {"source", NULL},
	    {"alias", NULL},
	    {"address", NULL},
	    {"log", NULL},
	};

	return domxml_walk_attr_check(n, "type", "pty", "<console>", w) ?: DOMXML_WALK(n, rules, w);
}

/* Our balloon always offers free page reporting: freePageReporting='off' is refused. */
static int read_balloon(xmlNode *n, struct domxml_walk *w)
{
	int ret = domxml_walk_attr_check(n, "model", "virtio|none", "<memballoon>", w);

	if (ret)
		return ret;
	w->d->balloon = !domxml_walk_attr_in(n, "model", "none");
	w->d->free_page_reporting = w->d->balloon;
	if (w->d->balloon)
		return domxml_walk_attr_check(
		    n, "freePageReporting", "on",
		    "<memballoon> (ksmvmm's balloon always reports free pages)", w);
	return 0;
}

static int read_rng_backend(xmlNode *n, struct domxml_walk *w)
{
	return domxml_walk_attr_check(n, "model", "random|builtin", "<rng><backend>", w);
}

static int read_rng(xmlNode *n, struct domxml_walk *w)
{
	static const struct domxml_rule rules[] = {
	    {"backend", read_rng_backend},
	    {"rate", NULL},
	    {"alias", NULL},
	    {"address", NULL},
	};
	int ret;

	if (w->rng_seen)
		return errbuf_set(w->err, w->errlen, -ENOTSUP, "ksmvmm has one <rng>");
	ret = domxml_walk_attr_check(n, "model", "virtio", "<rng>", w) ?: DOMXML_WALK(n, rules, w);
	w->rng_seen = w->d->rng = !ret;
	return ret;
}

/* Devices not listed (interface, graphics, video, hostdev, sound, channel, filesystem,
 * watchdog, tpm, ...) are refused by domxml_walk_children. Controllers are accepted: with
 * only virtio disks nothing can sit on them. */
static int read_devices(xmlNode *n, struct domxml_walk *w)
{
	static const struct domxml_rule rules[] = {
	    {"emulator", NULL},		  {"disk", read_disk},	   {"controller", NULL},
	    {"input", read_input},	  {"serial", read_serial}, {"console", read_console},
	    {"memballoon", read_balloon}, {"rng", read_rng},
	};

	return DOMXML_WALK(n, rules, w);
}

static const struct domxml_rule domain_rules[] = {
    {"name", read_name},
    {"uuid", NULL}, /* domxml.c takes the raw bytes from libvirt */
    {"genid", NULL},
    {"title", NULL},
    {"description", NULL},
    {"metadata", read_metadata},
    {"memory", read_memory},
    {"currentMemory", read_cur_memory},
    {"memoryBacking", read_backing},
    {"vcpu", read_vcpu},
    {"os", read_os},
    {"features", NULL},
    {"cpu", read_cpu},
    {"clock", NULL},
    {"on_poweroff", NULL},
    {"on_reboot", NULL},
    {"on_crash", NULL},
    {"pm", NULL},
    {"resource", NULL},
    {"seclabel", NULL},
    {"devices", read_devices},
};

/* What needs the whole domain: the kind of guest, its group, its memory. */
static int check_domain(const struct domdef *d, char *err, size_t errlen)
{
	/* libvirt's parser wants one too; this reader promises it (domxml.h) on its own. */
	if (!d->name[0])
		return errbuf_set(err, errlen, -EINVAL, "no <name>");
	if (!d->workload && !d->kernel)
		return errbuf_set(err, errlen, -ENOTSUP,
				  "no <os><kernel>: ksmvmm boots a Linux kernel directly (or the "
				  "built-in workload guest: <ksmvmm:workload/> in <metadata>)");
	if (d->workload && (d->kernel || d->initrd || d->cmdline))
		return errbuf_set(err, errlen, -ENOTSUP,
				  "a workload guest runs the built-in image: no <kernel>, "
				  "<initrd> or <cmdline>");
	if (!d->kernel && (d->initrd || d->cmdline))
		return errbuf_set(err, errlen, -ENOTSUP, "<initrd> and <cmdline> need <kernel>");
	if (d->nosharepages && d->group[0] && strcmp(d->group, "none"))
		return errbuf_set(err, errlen, -ENOTSUP,
				  "<nosharepages/> and <ksmvmm:group>%s</ksmvmm:group> contradict",
				  d->group);
	if (!d->mem_kib || !d->vcpus)
		return errbuf_set(err, errlen, -EINVAL, "no <memory> or <vcpu>");
	if (d->cur_kib > d->mem_kib)
		return errbuf_set(err, errlen, -EINVAL, "<currentMemory> above <memory>");
	if (d->cur_kib < d->mem_kib && !d->balloon)
		return errbuf_set(err, errlen, -ENOTSUP,
				  "<currentMemory> below <memory> needs the balloon (memballoon "
				  "model='none' given)");
	return 0;
}

static xmlDoc *doc_parse(const char *xml)
{
	return xmlReadMemory(xml, (int) strnlen(xml, INT32_MAX), "domain.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

int domxml_read(const char *xml, struct domdef *d, char *err, size_t errlen)
{
	struct domxml_walk w = {.d = d, .err = err, .errlen = errlen};
	xmlDoc *doc = doc_parse(xml);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	int ret;

	if (!root || !domxml_walk_named(root, "domain") || root->ns) {
		xmlFreeDoc(doc);
		return errbuf_set(err, errlen, -EINVAL, "not a <domain> document");
	}
	d->balloon = d->free_page_reporting = true; /* no <memballoon>: libvirt's virtio one */
	ret = domxml_walk_attr_check(root, "type", "kvm", "<domain> (ksmvmm runs kvm domains)", &w)
		  ?: DOMXML_WALK(root, domain_rules, &w);
	xmlFreeDoc(doc);
	return ret ?: check_domain(d, err, errlen);
}

/* The metadata child in namespace @uri, copied into a document of its own so that its
 * namespace is declared on it whatever ancestor declared it. */
static char *node_dump(xmlNode *n)
{
	xmlDoc *doc = xmlNewDoc((const xmlChar *) "1.0");
	xmlNode *copy = doc ? xmlDocCopyNode(n, doc, 1) : NULL;
	xmlBuffer *buf = xmlBufferCreate();
	char *out = NULL;

	if (copy && buf) {
		xmlDocSetRootElement(doc, copy);
		xmlReconciliateNs(doc, copy);
		if (xmlNodeDump(buf, doc, copy, 0, 0) >= 0)
			out = g_strdup((const char *) xmlBufferContent(buf));
	}
	xmlBufferFree(buf);
	xmlFreeDoc(doc);
	return out;
}

char *domxml_read_metadata(const char *xml, const char *uri)
{
	xmlDoc *doc = doc_parse(xml);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	char *out = NULL;

	for (xmlNode *m = root ? root->children : NULL; m && !out; m = m->next) {
		if (m->type != XML_ELEMENT_NODE || !domxml_walk_named(m, "metadata"))
			continue;
		for (xmlNode *c = m->children; c && !out; c = c->next)
			if (c->type == XML_ELEMENT_NODE && !strcmp(domxml_walk_ns(c), uri))
				out = node_dump(c);
	}
	xmlFreeDoc(doc);
	return out;
}

char *domxml_read_text(const char *xml, const char *element)
{
	xmlDoc *doc = doc_parse(xml);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	char *out = NULL;

	for (xmlNode *c = root ? root->children : NULL; c && !out; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !c->ns && domxml_walk_named(c, element))
			out = domxml_walk_text_dup(c);
	xmlFreeDoc(doc);
	return out;
}
