/* fuzz_domxml.c - libFuzzer target: arbitrary XML through our reader of libvirt's
 * normalised domain XML (domxml_read) and the metadata lookup. In the VMM the reader
 * sees only what libvirt's parser accepted and wrote back, but the <metadata> subtree
 * and every text and attribute value come from the client as they were; arbitrary
 * input is a superset. Checked: no crash or leak (ASan/UBSan), the error text is
 * terminated, and an accepted domain keeps the promises domxml.h makes (name, vCPUs,
 * disks, memory, kind). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "lib/log.h"
#include "vmm/libvirt/domxml_read.h"

static void check_accepted(const struct domdef *d)
{
	if (!d->name[0] || d->name[0] == '.' || strchr(d->name, '/'))
		abort();
	if (d->vcpus < 1 || d->vcpus > OPT_MAX_CPUS || d->nr_disks > OPT_MAX_DISKS)
		abort();
	if (!d->mem_kib || d->cur_kib > d->mem_kib)
		abort();
	if (d->workload == (d->kernel != NULL) || (!d->kernel && (d->initrd || d->cmdline)))
		abort();
	for (unsigned i = 0; i < d->nr_disks; i++)
		if (!d->disks[i].path[0] || d->disks[i].mode > OPT_DISK_SNAPSHOT)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *xml = g_strndup((const char *) data, size);
	struct domdef d = {0};
	char err[256];
	char *m;

	log_level = -1; /* quiet: the reasons are in err */
	memset(err, 'x', sizeof(err));
	if (domxml_read(xml, &d, err, sizeof(err)) == 0)
		check_accepted(&d);
	else if (!memchr(err, '\0', sizeof(err)))
		abort();
	domxml_clear(&d);
	m = domxml_read_metadata(xml, DOMXML_NS);
	g_free(m);
	g_free(xml);
	return 0;
}
