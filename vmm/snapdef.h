/* snapdef.h - a snapshot's definition section: what guest was saved, so that a restore
 * builds the same machine (kind, RAM, vCPUs, profile, devices, disks) around it.
 *
 * The section is untrusted input when read back: every field is range-checked, and a
 * failure names the field (sbuf_reader why).
 */
#ifndef VMM_SNAPDEF_H
#define VMM_SNAPDEF_H

#include <stdint.h>

#include "lib/sbuf.h"
#include "vmm/options.h"

#define SNAPDEF_VERSION 1

/* Who was saved: the parent of the guests a restore starts. */
struct snapdef_origin {
	char name[64];
	uint8_t uuid[16];
	uint32_t index; /* its index in its fleet (the workload guest's guest_index) */
	char group[OPT_GROUP_NAME_MAX]; /* its sharing group */
	uint64_t seed;			/* its workload seed (after --seed rules) */
	uint64_t generation;		/* the generation ID it ran with */
};

/* Append the definition of a guest of @o described by @origin to @out. */
void snapdef_save(const struct options *o, const struct snapdef_origin *origin, struct sbuf *out);

/* Read it back: the guest fields of @o (kind, mem, cpus, profile with the origin's seed,
 * virtio, disks) are replaced, the rest of @o (fleet-wide options) stays. Returns 0 or
 * -EINVAL with in->why naming the bad field. */
int snapdef_load(struct sbuf_reader *in, struct options *o, struct snapdef_origin *origin);

#endif
