/* lvxml.c - domain XML for a guest that has no definition (one of `ksmvmm run`'s): what
 * it is, in the elements domxml.c reads back, so `virsh dumpxml NAME > f; virsh define f`
 * gives a domain that builds the same guest. */
#include <glib.h>
#include <stdio.h>

#include "vmm/guest_abi.h"
#include "vmm/libvirt/lvfleet_internal.h"

/* <@tag>@value</@tag> on a line of its own, @value escaped; nothing if @value is NULL. */
static void add_elem(GString *x, const char *tag, const char *value)
{
	char *v;

	if (!value)
		return;
	v = g_markup_escape_text(value, -1);
	g_string_append_printf(x, "    <%s>%s</%s>\n", tag, v, tag);
	g_free(v);
}

static void add_os(GString *x, const struct options *o)
{
	g_string_append(x, "  <os>\n    <type arch='x86_64'>hvm</type>\n");
	if (o->kind == GUEST_KIND_LINUX) {
		add_elem(x, "kernel", o->kernel);
		add_elem(x, "initrd", o->initrd);
		add_elem(x, "cmdline", o->cmdline);
	}
	g_string_append(x, "  </os>\n");
}

static void add_disks(GString *x, const struct options *o)
{
	for (unsigned i = 0; i < o->nr_disks; i++) {
		const struct opt_disk *d = &o->disks[i];
		char *path = g_markup_escape_text(d->path, -1);

		g_string_append_printf(x,
				       "    <disk type='file' device='disk'>\n"
				       "      <driver name='qemu' type='raw'/>\n"
				       "      <source file='%s'/>\n"
				       "      <target dev='vd%c' bus='virtio'/>\n",
				       path, 'a' + i);
		if (d->mode == OPT_DISK_READONLY)
			g_string_append(x, "      <readonly/>\n");
		if (d->mode == OPT_DISK_SNAPSHOT)
			g_string_append(x, "      <transient/>\n");
		if (d->serial[0])
			g_string_append_printf(x, "      <serial>%s</serial>\n", d->serial);
		g_string_append(x, "    </disk>\n");
		g_free(path);
	}
}

static void add_devices(GString *x, const struct options *o)
{
	g_string_append(x, "  <devices>\n");
	add_disks(x, o);
	if (o->virtio & OPT_VIRTIO_CONSOLE)
		g_string_append(x, "    <console type='pty'>\n"
				   "      <target type='virtio' port='0'/>\n"
				   "    </console>\n");
	if (o->virtio & OPT_VIRTIO_RNG)
		g_string_append(x, "    <rng model='virtio'>\n"
				   "      <backend model='random'>/dev/urandom</backend>\n"
				   "    </rng>\n");
	g_string_append_printf(x, "    <memballoon model='%s'%s/>\n",
			       o->virtio & OPT_VIRTIO_BALLOON ? "virtio" : "none",
			       o->virtio & OPT_VIRTIO_BALLOON ? " freePageReporting='on'" : "");
	g_string_append(x, "  </devices>\n");
}

static void add_metadata(GString *x, const struct fleet_guest_info *gi, const struct options *o)
{
	const struct profile *p = &o->profile;

	g_string_append_printf(
	    x,
	    "  <metadata>\n"
	    "    <ksmvmm:guest xmlns:ksmvmm='https://ksmvmm.dev/xmlns/domain/1'>\n"
	    "      <ksmvmm:group>%s</ksmvmm:group>\n",
	    gi->group);
	if (gi->workload) {
		g_string_append_printf(x,
				       "      <ksmvmm:workload profile='shared=%u,zero=%u,dup=%u,"
				       "free=%u,seed=%llu,extent=%u",
				       p->shared, p->zero, p->dup, p->free,
				       (unsigned long long) p->seed, p->extent);
		if (p->placement == WL_PLACE_SHUFFLED)
			g_string_append(x, ",placement=shuffled");
		if (p->mutate_rate)
			g_string_append_printf(x, ",mutate=%u@%u", p->mutate_pct, p->mutate_rate);
		g_string_append(x, "'/>\n");
	}
	g_string_append(x, "    </ksmvmm:guest>\n  </metadata>\n");
}

char *lvxml_of_guest(const struct lvdom *d, const struct fleet_guest_info *gi,
		     const struct options *base)
{
	GString *x = g_string_new(NULL);

	g_string_append_printf(x,
			       "<domain type='kvm'>\n"
			       "  <name>%s</name>\n"
			       "  <uuid>%s</uuid>\n",
			       d->name, gi->uuid_str);
	add_metadata(x, gi, base);
	g_string_append_printf(x,
			       "  <memory unit='KiB'>%llu</memory>\n"
			       "  <currentMemory unit='KiB'>%llu</currentMemory>\n"
			       "  <vcpu placement='static'>%u</vcpu>\n",
			       (unsigned long long) (gi->mem_bytes / 1024),
			       (unsigned long long) (gi->mem_bytes / 1024), gi->cpus);
	add_os(x, base);
	g_string_append(x, "  <on_poweroff>destroy</on_poweroff>\n"
			   "  <on_reboot>destroy</on_reboot>\n"
			   "  <on_crash>destroy</on_crash>\n");
	add_devices(x, base);
	g_string_append(x, "</domain>\n");
	return g_string_free(x, FALSE);
}
