/* domxml.h - a libvirt domain XML as one ksmvmm guest: parsed by libvirt, read by us.
 *
 * domxml_parse hands the XML to libvirt's own parser (the built-in test:///default
 * driver, in this process, no daemon), so a bad domain gets libvirt's own error text.
 * It then reads libvirt's normalised XML with libxml2 into struct domdef, and refuses
 * what a ksmvmm guest cannot honour (other domain types, network, graphics, host devices,
 * non-virtio or non-raw disks, NUMA, hugepages, firmware boot, ...) instead of dropping
 * it. Accepted without effect, so the XMLs users keep for QEMU load: <features>, <cpu>
 * (without <numa>), <clock>, <on_*>, <pm>, <resource>, <seclabel>, <emulator>,
 * controllers, ps2 keyboard and mouse, pty serial and console: they describe a platform
 * that ksmvmm fixes (MP table, host CPU, 8250 UART, console files).
 *
 * What libvirt has no words for lives in <metadata>, namespace DOMXML_NS:
 *   <ksmvmm:guest xmlns:ksmvmm="https://ksmvmm.dev/xmlns/domain/1">
 *     <ksmvmm:group>fleet</ksmvmm:group>             sharing group
 *     <ksmvmm:workload profile="shared=50,zero=10"/>  the built-in workload guest
 *   </ksmvmm:guest>
 *
 * Thread rules: every function may be called from any thread; domxml_parse serialises
 * its use of the one test:///default connection of the process.
 */
#ifndef VMM_LIBVIRT_DOMXML_H
#define VMM_LIBVIRT_DOMXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/libvirt/backend.h"
#include "vmm/options.h"

#define DOMXML_NS "https://ksmvmm.dev/xmlns/domain/1"

/* One domain definition. Strings are g_malloc'd (NULL when absent); domxml_clear frees. */
struct domdef {
	char name[LV_NAME_MAX];
	uint8_t uuid[LV_UUID_LEN];
	uint64_t mem_kib; /* <memory> */
	uint64_t cur_kib; /* <currentMemory> (<= mem_kib; below it: the balloon's target) */
	unsigned vcpus;
	char *kernel, *initrd, *cmdline;
	unsigned nr_disks;
	struct opt_disk disks[OPT_MAX_DISKS];
	bool console;			/* a virtio console (<console><target type='virtio'>) */
	bool rng;			/* <rng model='virtio'> */
	bool balloon;			/* memballoon virtio, or none given (libvirt's default) */
	bool free_page_reporting;	/* the balloon reports free pages (ours always does) */
	bool nosharepages;		/* <memoryBacking><nosharepages/>: opted out of merging */
	char group[OPT_GROUP_NAME_MAX]; /* <ksmvmm:group>, "" if not given */
	bool workload;			/* <ksmvmm:workload>: the built-in workload guest */
	char *profile;			/* its profile="..." attribute */
	char *xml;			/* libvirt's normalised XML (dumpxml) */
	/* After a failed domxml_parse: libvirt's virErrorNumber for the error (an LV_ERR_*
	 * value for the endpoint), e.g. LV_ERR_XML, or LV_ERR_CONFIG_UNSUPPORTED for what
	 * we refuse. */
	int err_code;
};

/* Parse and check @xml (with VIR_DOMAIN_DEFINE_VALIDATE, libvirt's schema check, if
 * @validate), including what domxml_to_options checks (profile, a workload guest's
 * memory). Returns 0 with @out filled, or with @out empty but for err_code: -EINVAL
 * (libvirt refused the XML: its message as is in @err; or the guest is invalid for
 * ksmvmm), -ENOTSUP (something we cannot honour, named in @err), -EIO (libvirt's test
 * driver did not open). */
int domxml_parse(const char *xml, bool validate, struct domdef *out, char *err, size_t errlen);

/* The options of one guest for @d: a copy of @base (fleet-wide settings: merge mode,
 * control socket, engine tunables, console_dir, workload_image) with count 1, @d's
 * exact name and UUID, memory, vCPUs, kind, kernel, disks, virtio devices, group ("none"
 * for nosharepages) and profile. Pointers in @o point into @d and @base: they stay valid
 * while both live. Returns 0 or -EINVAL with the reason in @err. */
int domxml_to_options(const struct domdef *d, const struct options *base, struct options *o,
		      char *err, size_t errlen);

/* The child of <metadata> in namespace @uri, as XML text with its namespace declared
 * (g_malloc'd), or NULL if @d has none. */
char *domxml_metadata(const struct domdef *d, const char *uri);

/* GET_METADATA's other two kinds: the text of <description> (@title false) or <title>
 * (g_malloc'd), or NULL if @d has none. */
char *domxml_description(const struct domdef *d, bool title);

/* Free what @d holds and zero it (@d itself is the caller's). */
void domxml_clear(struct domdef *d);

#endif
