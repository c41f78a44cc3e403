/* test_domxml.c - domain XML through libvirt's real parser: taken, refused, as options. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "tests/unit/check.h"
#include "vmm/libvirt/domxml.h"
#include "vmm/libvirt/domxml_read.h"

#define DOMAINS "tests/libvirt/domains/"

static char err[1024];

static char *load(const char *file)
{
	char *text = NULL;

	if (!g_file_get_contents(file, &text, NULL, NULL))
		fprintf(stderr, "cannot read %s (run from the repository root)\n", file);
	return text;
}

static int parse_file(const char *file, bool validate, struct domdef *d)
{
	char *xml = load(file);
	int ret = xml ? domxml_parse(xml, validate, d, err, sizeof(err)) : -ENOENT;

	g_free(xml);
	return ret;
}

static void test_workload(void)
{
	static const uint8_t uuid[16] = {0x0b, 0x7a, 0x9c, 0x3e, 0x5d, 0x1f, 0x4e, 0x2a,
					 0x8b, 0x6c, 0x1d, 0x2e, 0x3f, 0x40, 0x51, 0x62};
	struct domdef d;

	CHECK_EQ(parse_file(DOMAINS "workload.xml", true, &d), 0);
	CHECK(!strcmp(d.name, "wl0"));
	CHECK(!memcmp(d.uuid, uuid, 16));
	CHECK_EQ(d.mem_kib, 64 * 1024);
	CHECK_EQ(d.cur_kib, 64 * 1024); /* libvirt fills currentMemory in */
	CHECK_EQ(d.vcpus, 1);
	CHECK(d.workload);
	CHECK(d.profile && !strcmp(d.profile, "shared=50,zero=10"));
	CHECK(!d.kernel && !d.initrd && !d.cmdline);
	CHECK(d.console && d.rng && d.balloon && d.free_page_reporting);
	CHECK(!d.nosharepages);
	CHECK(!strcmp(d.group, "fleet"));
	CHECK_EQ(d.nr_disks, 0);
	CHECK(d.xml && strstr(d.xml, "<memory unit='KiB'>65536</memory>"));
	domxml_clear(&d);
	CHECK(!d.xml && !d.profile);
}

static void test_linux(void)
{
	struct domdef d;

	CHECK_EQ(parse_file(DOMAINS "linux.xml", false, &d), 0);
	CHECK(!strcmp(d.name, "web1"));
	CHECK_EQ(d.mem_kib, 512 * 1024);
	CHECK_EQ(d.cur_kib, 384 * 1024);
	CHECK_EQ(d.vcpus, 2);
	CHECK(!d.workload);
	CHECK(d.kernel && !strcmp(d.kernel, "/var/lib/ksmvmm/bzImage"));
	CHECK(d.initrd && !strcmp(d.initrd, "/var/lib/ksmvmm/initrd.img"));
	CHECK(d.cmdline && !strcmp(d.cmdline, "console=hvc0 root=/dev/vda"));
	CHECK_EQ(d.nr_disks, 3);
	CHECK(!strcmp(d.disks[0].path, "/var/lib/ksmvmm/root.img"));
	CHECK_EQ(d.disks[0].mode, OPT_DISK_RW);
	CHECK(!strcmp(d.disks[0].serial, "root0"));
	CHECK_EQ(d.disks[1].mode, OPT_DISK_READONLY);
	CHECK_EQ(d.disks[2].mode, OPT_DISK_SNAPSHOT); /* <transient/> */
	CHECK(!strcmp(d.disks[2].serial, ""));
	CHECK(d.console && d.rng && d.balloon);
	CHECK(!strcmp(d.group, "web"));
	domxml_clear(&d);
	/* The same file passes libvirt's schema check too. */
	CHECK_EQ(parse_file(DOMAINS "linux.xml", true, &d), 0);
	domxml_clear(&d);
}

/* What virsh dumpxml gives for a QEMU guest loads: the platform parts are accepted. */
static void test_qemu_style(void)
{
	struct domdef d;
	char *m;

	CHECK_EQ(parse_file(DOMAINS "qemu-style.xml", true, &d), 0);
	CHECK(!strcmp(d.name, "ci-runner-3"));
	CHECK_EQ(d.mem_kib, 1024 * 1024);
	CHECK_EQ(d.vcpus, 2);
	CHECK(!d.workload && d.kernel && !d.initrd);
	CHECK_EQ(d.nr_disks, 1);
	CHECK_EQ(d.disks[0].mode, OPT_DISK_RW);
	CHECK(d.console && d.rng && d.balloon && d.free_page_reporting);
	CHECK(!strcmp(d.group, ""));
	m = domxml_description(&d, true);
	CHECK(m && !strcmp(m, "CI runner"));
	g_free(m);
	CHECK(!domxml_description(&d, false));
	domxml_clear(&d);
}

static void test_nosharepages(void)
{
	struct options base = {.count = 3, .name = "g", .virtio = OPT_VIRTIO_DEFAULT};
	struct options o;
	struct domdef d;

	CHECK_EQ(parse_file(DOMAINS "private.xml", false, &d), 0);
	CHECK(d.nosharepages);
	CHECK(!d.balloon && !d.free_page_reporting); /* model='none' */
	CHECK(!d.console && !d.rng);
	CHECK(d.workload && !d.profile);
	CHECK_EQ(domxml_to_options(&d, &base, &o, err, sizeof(err)), 0);
	CHECK(!strcmp(options_group_of(&o, "private0"), "none"));
	CHECK_EQ(o.virtio, 0);
	domxml_clear(&d);
}

/* A workload guest with @top added to <domain> and @dev to <devices>. */
static int parse_flags(const char *type, const char *top, const char *dev, bool validate,
		       struct domdef *d)
{
	char *xml = g_strdup_printf(
	    "<domain type='%s'><name>t0</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
	    "<os><type>hvm</type></os>%s<devices>%s</devices><metadata>"
	    "<k:guest xmlns:k='" DOMXML_NS "'><k:workload/></k:guest></metadata></domain>",
	    type, top, dev);
	int ret = domxml_parse(xml, validate, d, err, sizeof(err));

	g_free(xml);
	if (!ret)
		domxml_clear(d);
	return ret;
}

static int parse_with(const char *type, const char *top, const char *dev, struct domdef *d)
{
	return parse_flags(type, top, dev, false, d);
}

static int validate_with(const char *top, struct domdef *d)
{
	return parse_flags("kvm", top, "", true, d);
}

/* libvirt's own messages come back as they are. */
static void test_libvirt_errors(void)
{
	struct domdef d;

	CHECK_EQ(parse_file(DOMAINS "bad-balloon.xml", false, &d), -EINVAL);
	CHECK(strstr(err, "XML error: Invalid value for attribute 'model' in element "
			  "'memballoon': 'bogus'"));
	CHECK_EQ(d.err_code, LV_ERR_XML);
	CHECK(!d.xml);

	CHECK_EQ(domxml_parse("<domain type='kvm'><name>a/b</name><memory>1</memory>"
			      "<os><type>hvm</type></os></domain>",
			      false, &d, err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "cannot contain '/'"));
	CHECK_EQ(domxml_parse("<domain type='kvm'><name>my vm</name><memory>1024</memory>"
			      "<os><type>hvm</type><kernel>/k</kernel></os></domain>",
			      false, &d, err, sizeof(err)),
		 -ENOTSUP);
	CHECK(strstr(err, "domain name 'my vm'"));
	/* An element libvirt does not know: dropped, unless the schema check is asked for. */
	CHECK_EQ(parse_with("kvm", "<frobnicate/>", "", &d), 0);
	CHECK_EQ(validate_with("<frobnicate/>", &d), -EINVAL);
	CHECK(strstr(err, "failed to validate against schema"));
	CHECK(d.err_code != 0 && d.err_code != LV_ERR_CONFIG_UNSUPPORTED);
	CHECK_EQ(domxml_parse("<domain", false, &d, err, sizeof(err)), -EINVAL);
	CHECK(d.err_code != 0);
	CHECK_EQ(domxml_parse("", false, &d, err, sizeof(err)), -EINVAL);
	CHECK_EQ(domxml_parse(NULL, false, &d, err, sizeof(err)), -EINVAL);
	CHECK_EQ(d.err_code, LV_ERR_INVALID_ARG);
}

static void refused(const char *top, const char *dev, const char *want)
{
	struct domdef d;
	int ret = parse_with("kvm", top, dev, &d);

	CHECK_EQ(ret, -ENOTSUP);
	CHECK_EQ(d.err_code, LV_ERR_CONFIG_UNSUPPORTED);
	if (ret != -ENOTSUP || !strstr(err, want))
		fprintf(stderr, "refusal of '%s%s': want '%s', got (%d) '%s'\n", top, dev, want,
			ret, ret ? err : "");
	CHECK(ret && strstr(err, want));
}

#define DISK(attrs, inner) "<disk " attrs ">" inner "</disk>"
#define VDISK(n) DISK("type='file'", "<source file='/i" n "'/><target dev='vd" n "' bus='virtio'/>")

static void test_refused_devices(void)
{
	refused("", "<interface type='network'><source network='default'/></interface>",
		"<interface> in <devices>");
	refused("", "<graphics type='vnc'/>", "<graphics>");
	refused("", "<video><model type='virtio'/></video>", "<video>");
	refused("",
		"<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' "
		"slot='1' function='0'/></source></hostdev>",
		"<hostdev>");
	refused("", "<sound model='ich6'/>", "<sound>");
	refused("", "<channel type='pty'><target type='virtio' name='x.0'/></channel>",
		"<channel>");
	refused("", "<watchdog model='i6300esb'/>", "<watchdog>");
	refused("", DISK("type='file'", "<source file='/i'/><target dev='sda' bus='sata'/>"),
		"bus='sata'");
	refused("",
		DISK("type='file'", "<driver name='qemu' type='qcow2'/><source file='/i'/>"
				    "<target dev='vda' bus='virtio'/>"),
		"type='qcow2'");
	refused("",
		DISK("type='block'", "<source dev='/dev/sdb'/><target dev='vda' bus='virtio'/>"),
		"type='block'");
	refused("",
		DISK("type='file'", "<source file='/i'/><readonly/><transient/>"
				    "<target dev='vdq' bus='virtio'/>"),
		"disk vdq: give one of");
	refused("",
		DISK("type='file' device='cdrom'", "<source file='/i'/><target dev='vda' "
						   "bus='virtio'/>"),
		"device='cdrom'");
	refused("", VDISK("a") VDISK("b") VDISK("c") VDISK("d") VDISK("e") VDISK("f"),
		"more than 5 disks");
	refused("", "<memballoon model='virtio-transitional'/>", "<memballoon> model=");
	refused("", "<memballoon model='virtio' freePageReporting='off'/>", "freePageReporting");
	refused("", "<rng model='virtio-transitional'><backend model='random'/></rng>", "<rng>");
	refused("",
		"<rng model='virtio'><backend model='egd' type='tcp'><source mode='connect' "
		"host='localhost' service='1234'/></backend></rng>",
		"<rng><backend> model='egd'");
	refused("", "<console type='tcp'><source mode='bind' host='::' service='9'/></console>",
		"type='tcp' is not supported"); /* libvirt makes it a <serial> */
	refused("", "<input type='tablet' bus='usb'/>", "<input> type='tablet'");
}

static void test_refused_domain(void)
{
	struct domdef d;

	CHECK_EQ(parse_with("qemu", "", "", &d), -ENOTSUP);
	CHECK(strstr(err, "kvm"));
	refused("<memoryBacking><hugepages/></memoryBacking>", "", "<hugepages>");
	refused("<cpu><numa><cell id='0' cpus='0' memory='65536' unit='KiB'/></numa></cpu>", "",
		"<numa>");
	refused("<numatune><memory mode='strict' nodeset='0'/></numatune>", "", "<numatune>");
	refused("<cputune><vcpupin vcpu='0' cpuset='1'/></cputune>", "", "<cputune>");
	refused("<iothreads>2</iothreads>", "", "<iothreads>");
}

/* Our reader on its own (no libvirt before it) refuses a domain without a name, which
 * its callers use for console files and reports (found by fuzz_domxml). */
static void test_read_needs_name(void)
{
	struct domdef d = {0};

	CHECK_EQ(domxml_read("<domain type='kvm'><memory unit='KiB'>65536</memory><vcpu>1</vcpu>"
			     "<os><type>hvm</type><kernel>/k</kernel></os></domain>",
			     &d, err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "no <name>"));
	domxml_clear(&d);
}

/* Whole-domain rules, and what we read out of our own metadata element. */
static void test_refused_whole(void)
{
	static const char head[] = "<domain type='kvm'><name>t1</name><memory unit='MiB'>64"
				   "</memory>";
	struct {
		const char *rest, *want;
	} cases[] = {
	    {"<vcpu>9</vcpu><os><type>hvm</type><kernel>/k</kernel></os>", "1..8 vCPUs"},
	    {"<vcpu current='1'>2</vcpu><os><type>hvm</type><kernel>/k</kernel></os>", "hotplug"},
	    {"<vcpu>1</vcpu><os><type>hvm</type></os>", "no <os><kernel>"},
	    {"<currentMemory unit='MiB'>32</currentMemory><vcpu>1</vcpu><os><type>hvm</type>"
	     "<kernel>/k</kernel></os><devices><memballoon model='none'/></devices>",
	     "needs the balloon"},
	    {"<vcpu>1</vcpu><os><type>hvm</type><kernel>/k</kernel></os><metadata><k:guest "
	     "xmlns:k='" DOMXML_NS "'><k:workload/></k:guest></metadata>",
	     "built-in image"},
	    {"<vcpu>1</vcpu><memoryBacking><nosharepages/></memoryBacking><os><type>hvm</type>"
	     "<kernel>/k</kernel></os><metadata><k:guest xmlns:k='" DOMXML_NS "'><k:group>web"
	     "</k:group></k:guest></metadata>",
	     "contradict"},
	    {"<vcpu>1</vcpu><os><type>hvm</type><kernel>/k</kernel></os><metadata><k:guest "
	     "xmlns:k='" DOMXML_NS "'><k:group>a b</k:group></k:guest></metadata>",
	     "<ksmvmm:group>'a b'"},
	    {"<vcpu>1</vcpu><os><type>hvm</type><kernel>/k</kernel></os><metadata><k:guest "
	     "xmlns:k='" DOMXML_NS "'><k:bogus/></k:guest></metadata>",
	     "<bogus> in <guest>"},
	    {"<vcpu>1</vcpu><os><type>hvm</type><loader>/ovmf</loader><kernel>/k</kernel></os>",
	     "<loader> in <os>"},
	    {"<vcpu>1</vcpu><os><type>hvm</type><kernel>/k</kernel></os><devices>"
	     "<console type='pty'><target type='virtio'/></console><console type='pty'>"
	     "<target type='virtio'/></console></devices>",
	     "one virtio <console>"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *xml = g_strdup_printf("%s%s</domain>", head, cases[i].rest);
		struct domdef d;
		int ret = domxml_parse(xml, false, &d, err, sizeof(err));

		CHECK_EQ(ret, -ENOTSUP);
		if (!ret || !strstr(err, cases[i].want))
			fprintf(stderr, "case %zu: want '%s', got (%d) '%s'\n", i, cases[i].want,
				ret, ret ? err : "");
		CHECK(ret && strstr(err, cases[i].want));
		if (!ret)
			domxml_clear(&d);
		g_free(xml);
	}
}

/* The test driver's own "test" domain does not get in the way of one of ours. */
static void test_name_test(void)
{
	struct domdef d;

	CHECK_EQ(domxml_parse("<domain type='kvm'><name>test</name><memory unit='MiB'>16"
			      "</memory><os><type>hvm</type><kernel>/k</kernel></os></domain>",
			      false, &d, err, sizeof(err)),
		 0);
	CHECK(!strcmp(d.name, "test"));
	domxml_clear(&d);
}

static void test_metadata(void)
{
	struct domdef d;
	char *m;

	CHECK_EQ(parse_file(DOMAINS "linux.xml", false, &d), 0);
	m = domxml_metadata(&d, DOMXML_NS);
	CHECK(m && strstr(m, "xmlns:ksmvmm=\"" DOMXML_NS "\""));
	CHECK(m && strstr(m, "<ksmvmm:group>web</ksmvmm:group>"));
	CHECK(m && !strstr(m, "owner"));
	g_free(m);
	m = domxml_metadata(&d, "https://example.org/app/1");
	CHECK(m && strstr(m, "<other:owner>ci</other:owner>"));
	CHECK(m && strstr(m, "xmlns:other="));
	g_free(m);
	CHECK(!domxml_metadata(&d, "https://example.org/none"));
	domxml_clear(&d);
	CHECK(!domxml_metadata(&d, DOMXML_NS));
}

static void test_to_options(void)
{
	struct options base = {.count = 4,
			       .name = "g",
			       .merge = MERGE_HOST,
			       .control = "/run/ctl",
			       .console_dir = "/tmp/cons",
			       .workload_image = "build/guest/workload.bin",
			       .ksm_interval_ms = 7,
			       .ksm_batch_pages = 99,
			       .virtio = OPT_VIRTIO_DEFAULT,
			       .profile = {.seed = 1, .extent = PROFILE_DEFAULT_EXTENT}};
	struct options o;
	struct domdef d;

	CHECK_EQ(parse_file(DOMAINS "workload.xml", false, &d), 0);
	CHECK_EQ(domxml_to_options(&d, &base, &o, err, sizeof(err)), 0);
	CHECK_EQ(o.count, 1);
	CHECK(o.name == d.name && o.name_exact);
	CHECK(!memcmp(o.uuid, d.uuid, 16));
	CHECK_EQ(o.mem, 64ull << 20);
	CHECK_EQ(o.cpus, 1);
	CHECK_EQ(o.kind, GUEST_KIND_WORKLOAD);
	CHECK_EQ(o.profile.shared, 50);
	CHECK_EQ(o.profile.zero, 10);
	CHECK_EQ(o.merge, MERGE_HOST);
	CHECK(!strcmp(o.control, "/run/ctl") && !strcmp(o.console_dir, "/tmp/cons"));
	CHECK(!strcmp(o.workload_image, "build/guest/workload.bin"));
	CHECK_EQ(o.ksm_interval_ms, 7);
	CHECK_EQ(o.ksm_batch_pages, 99);
	CHECK_EQ(o.virtio, OPT_VIRTIO_CONSOLE | OPT_VIRTIO_RNG | OPT_VIRTIO_BALLOON);
	CHECK(!strcmp(options_group_of(&o, "wl0"), "fleet"));
	domxml_clear(&d);

	CHECK_EQ(parse_file(DOMAINS "linux.xml", false, &d), 0);
	CHECK_EQ(domxml_to_options(&d, &base, &o, err, sizeof(err)), 0);
	CHECK_EQ(o.kind, GUEST_KIND_LINUX);
	CHECK_EQ(o.mem, 512ull << 20);
	CHECK_EQ(o.cpus, 2);
	CHECK(o.kernel == d.kernel && o.initrd == d.initrd && o.cmdline == d.cmdline);
	CHECK_EQ(o.nr_disks, 3);
	CHECK(!strcmp(o.disks[1].path, "/var/lib/ksmvmm/data.img"));
	CHECK_EQ(o.disks[2].mode, OPT_DISK_SNAPSHOT);
	CHECK(!strcmp(options_group_of(&o, "web1"), "web"));
	domxml_clear(&d);
}

/* A workload domain with @mib MiB, @dev in <devices> and profile @profile. */
static int parse_workload(int mib, const char *dev, const char *profile, struct domdef *d)
{
	char *xml = g_strdup_printf(
	    "<domain type='kvm'><name>p</name><memory unit='MiB'>%d</memory><os><type>hvm"
	    "</type></os><devices>%s</devices><metadata><k:guest xmlns:k='" DOMXML_NS "'>"
	    "<k:workload profile='%s'/></k:guest></metadata></domain>",
	    mib, dev, profile);
	int ret = domxml_parse(xml, false, d, err, sizeof(err));

	g_free(xml);
	return ret;
}

/* The options-level checks run at parse time already (a bad definition is refused by
 * `define`, not at `start`), and again against the real fleet-wide base. */
static void test_options_refused(void)
{
	struct options base = {.name = "g", .ram_image = "ram.img", .profile = {.seed = 1}};
	struct options o;
	struct domdef d;

	CHECK_EQ(parse_workload(64, "", "shared=101", &d), -EINVAL);
	CHECK(strstr(err, "percentage"));
	CHECK_EQ(d.err_code, LV_ERR_CONFIG_UNSUPPORTED);
	CHECK_EQ(parse_workload(64, "<memballoon model='none'/>", "shared=50,free=20", &d),
		 -EINVAL);
	CHECK(strstr(err, "balloon"));
	CHECK_EQ(parse_workload(4, "", "shared=50", &d), -EINVAL);
	CHECK(strstr(err, "at least"));
	CHECK(!d.xml);

	/* Fine on its own, not with this fleet's --ram-image. */
	CHECK_EQ(parse_file(DOMAINS "linux.xml", false, &d), 0);
	CHECK_EQ(domxml_to_options(&d, &base, &o, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--ram-image"));
	domxml_clear(&d);
}

/* Parses from several threads at once: the one connection is shared safely (without
 * the lock, two defines of the same name and UUID would collide). */
static void *parse_loop(void *arg)
{
	char *xml = arg, e[512];
	long bad = 0;

	for (int i = 0; i < 25; i++) {
		struct domdef d;

		if (domxml_parse(xml, false, &d, e, sizeof(e)) || strcmp(d.name, "web1"))
			bad++;
		domxml_clear(&d);
	}
	return (void *) bad;
}

static void test_threads(void)
{
	char *xml = load(DOMAINS "linux.xml");
	pthread_t t[4];
	long bad = 0;

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, parse_loop, xml);
	for (int i = 0; i < 4; i++) {
		void *r;

		pthread_join(t[i], &r);
		bad += (long) r;
	}
	CHECK_EQ(bad, 0);
	g_free(xml);
}

int main(void)
{
	test_workload();
	test_linux();
	test_qemu_style();
	test_nosharepages();
	test_libvirt_errors();
	test_refused_devices();
	test_refused_domain();
	test_refused_whole();
	test_read_needs_name();
	test_name_test();
	test_metadata();
	test_to_options();
	test_options_refused();
	test_threads();
	return check_done("test_domxml");
}
