/* fuzz_snapfile.c - libFuzzer target: the snapshot state parser (vmm/snapfile_read.c) and
 * the vCPU and VM state decoders (vmm/vmstate_codec.c) on hostile bytes. The first input
 * byte says how the rest is used:
 *   0: a state file as it is (most inputs stop at the envelope: magic, version, trailer);
 *   1: a state file without its trailer, which the target appends, so that the fuzzer
 *      gets past the checksum into the header, the chunk table and the sections;
 *   2: a vCPU section body; 3: a VM section body; 4: a definition section body
 *   (vmm/snapdef.c).
 * A parsed snapshot has each vCPU and VM section decoded. Checked: no crash, no read out of
 * bounds (ASan, every section byte is read), a refusal always says why, and a parse that
 * succeeded is consistent (no more sections of a tag found than it counts, RAM size page
 * aligned, no memory file). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "lib/log.h"
#include "lib/sbuf.h"
#include "vmm/snapdef.h"
#include "vmm/snapfile.h"
#include "vmm/vmstate.h"

static volatile uint8_t sink;

static void decode_vcpu(const void *p, size_t n)
{
	struct sbuf_reader r;
	struct vmstate_vcpu st;

	sbuf_reader_init(&r, p, n);
	if (vmstate_vcpu_decode(&r, &st) == 0) {
		if (st.has_xsave && (!st.xsave || st.xsave_len < sizeof(struct kvm_xsave)))
			abort();
		for (uint32_t i = 0; i < st.nr_msrs; i++)
			sink ^= (uint8_t) st.msrs[i].data;
		vmstate_vcpu_free(&st);
	} else if (!r.why[0]) {
		abort();
	}
}

static void decode_vm(const void *p, size_t n)
{
	struct sbuf_reader r;
	struct vmstate_vm st;

	sbuf_reader_init(&r, p, n);
	if (vmstate_vm_decode(&r, &st) && !r.why[0])
		abort();
}

/* A definition: refused with a reason, or loaded into options that pass its own checks. */
static void decode_definition(const void *p, size_t n)
{
	struct sbuf_reader r;
	struct options o = {.count = 1};
	struct snapdef_origin org;

	sbuf_reader_init(&r, p, n);
	if (snapdef_load(&r, &o, &org)) {
		if (!r.why[0])
			abort();
		return;
	}
	if (!o.cpus || o.cpus > OPT_MAX_CPUS || o.mem % 4096 || o.nr_disks > OPT_MAX_DISKS ||
	    !memchr(org.name, '\0', sizeof(org.name)) ||
	    !memchr(org.group, '\0', sizeof(org.group)))
		abort();
	for (unsigned i = 0; i < o.nr_disks; i++)
		if (!o.disks[i].path[0] ||
		    !memchr(o.disks[i].serial, '\0', sizeof(o.disks[i].serial)))
			abort();
}

static void touch(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sink ^= p[i];
}

/* Look at the first 64 indices of each tag this ksmvmm knows. */
static void walk(const struct snapshot *s)
{
	static const uint32_t tags[] = {SNAP_SEC_DEFINITION, SNAP_SEC_GUEST,   SNAP_SEC_VM,
					SNAP_SEC_VCPU,	     SNAP_SEC_DEVICES, SNAP_SEC_WL};

	for (unsigned t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
		unsigned found = 0, count = snapfile_count(s, tags[t]);

		for (uint32_t i = 0; i < 64; i++) {
			size_t n;
			const uint8_t *p = snapfile_section(s, tags[t], i, &n);

			if (!p)
				continue;
			found++;
			touch(p, n);
			if (tags[t] == SNAP_SEC_VCPU)
				decode_vcpu(p, n);
			if (tags[t] == SNAP_SEC_VM)
				decode_vm(p, n);
			if (tags[t] == SNAP_SEC_DEFINITION)
				decode_definition(p, n);
		}
		if (found > count)
			abort();
	}
	if (snapfile_ram_size(s) == 0 || snapfile_ram_size(s) % 4096 || snapfile_memory_fd(s) != -1)
		abort();
}

static void parse(const uint8_t *p, size_t n)
{
	char err[256] = "";
	struct snapshot *s = snapfile_parse(p, n, err, sizeof(err));

	if (!s) {
		if (!err[0])
			abort();
		return;
	}
	walk(s);
	snapfile_close(s);
}

static void parse_with_trailer(const uint8_t *p, size_t n)
{
	uint8_t *buf = malloc(n + 8);
	uint64_t h = XXH3_64bits(p, n);

	if (!buf)
		return;
	memcpy(buf, p, n);
	for (unsigned i = 0; i < 8; i++)
		buf[n + i] = (uint8_t) (h >> (8 * i));
	parse(buf, n + 8);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_level = -1;
	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0: parse(data + 1, size - 1); break;
	case 1: parse_with_trailer(data + 1, size - 1); break;
	case 2: decode_vcpu(data + 1, size - 1); break;
	case 3: decode_vm(data + 1, size - 1); break;
	default: decode_definition(data + 1, size - 1); break;
	}
	return 0;
}
