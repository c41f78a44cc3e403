/* snapdef.c - a snapshot's definition section. */
#include "vmm/snapdef.h"

#include <errno.h>
#include <string.h>

#include "lib/page.h"
#include "vmm/mem.h"

/* A NUL-free string of at most @max - 1 bytes, stored as a blob without its NUL. */
static void put_str(struct sbuf *b, const char *s)
{
	sbuf_put_blob(b, s, (uint32_t) strlen(s));
}

static void get_str(struct sbuf_reader *in, char *dst, size_t max, const char *what)
{
	uint32_t n;
	const char *p = sbuf_get_blob(in, &n);

	dst[0] = '\0';
	if (!p || !sbuf_check(in, n < max && !memchr(p, '\0', n), "%s: %u bytes or a NUL", what, n))
		return;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static void put_profile(struct sbuf *b, const struct profile *p, uint64_t seed)
{
	const unsigned v[] = {p->zero,	 p->shared,	p->dup,		p->placement,
			      p->extent, p->mutate_pct, p->mutate_rate, p->free};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		sbuf_put_u32(b, v[i]);
	sbuf_put_u64(b, seed);
}

void snapdef_save(const struct options *o, const struct snapdef_origin *origin, struct sbuf *out)
{
	sbuf_put_u32(out, SNAPDEF_VERSION);
	put_str(out, origin->name);
	sbuf_put_bytes(out, origin->uuid, sizeof(origin->uuid));
	sbuf_put_u32(out, origin->index);
	put_str(out, origin->group);
	sbuf_put_u64(out, origin->generation);
	sbuf_put_u32(out, (uint32_t) o->kind);
	sbuf_put_u64(out, o->mem);
	sbuf_put_u32(out, o->cpus);
	put_profile(out, &o->profile, origin->seed);
	sbuf_put_u32(out, o->virtio);
	sbuf_put_u32(out, o->nr_disks);
	for (unsigned i = 0; i < o->nr_disks; i++) {
		put_str(out, o->disks[i].path);
		sbuf_put_u32(out, (uint32_t) o->disks[i].mode);
		put_str(out, o->disks[i].serial);
	}
}

static int load_profile(struct sbuf_reader *in, struct profile *p, uint64_t *seed)
{
	unsigned *v[] = {&p->zero,   &p->shared,     &p->dup,	      &p->placement,
			 &p->extent, &p->mutate_pct, &p->mutate_rate, &p->free};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		*v[i] = sbuf_get_u32(in);
	*seed = sbuf_get_u64(in);
	p->seed = *seed;
	sbuf_check(in,
		   p->zero <= 100 && p->shared <= 100 && p->dup <= 100 &&
		       p->zero + p->shared + p->dup <= 100,
		   "profile: percentages %u/%u/%u", p->zero, p->shared, p->dup);
	sbuf_check(in,
		   p->placement <= 1 && p->extent >= 1 && p->mutate_pct <= 100 && p->free <= 100,
		   "profile: placement %u, extent %u, mutate %u%%, free %u%%", p->placement,
		   p->extent, p->mutate_pct, p->free);
	return sbuf_error(in);
}

static int load_disks(struct sbuf_reader *in, struct options *o)
{
	o->nr_disks = sbuf_get_u32(in);
	if (!sbuf_check(in, o->nr_disks <= OPT_MAX_DISKS, "%u disks (at most %d)", o->nr_disks,
			OPT_MAX_DISKS))
		return -EINVAL;
	for (unsigned i = 0; i < o->nr_disks && !sbuf_error(in); i++) {
		struct opt_disk *d = &o->disks[i];
		uint32_t mode;

		get_str(in, d->path, sizeof(d->path), "disk path");
		mode = sbuf_get_u32(in);
		get_str(in, d->serial, sizeof(d->serial), "disk serial");
		sbuf_check(in, d->path[0] && mode <= OPT_DISK_SNAPSHOT, "disk %u: path or mode %u",
			   i, mode);
		d->mode = (enum opt_disk_mode) mode;
	}
	return sbuf_error(in);
}

int snapdef_load(struct sbuf_reader *in, struct options *o, struct snapdef_origin *origin)
{
	uint32_t version = sbuf_get_u32(in), kind;

	memset(origin, 0, sizeof(*origin));
	if (!sbuf_check(in, version == SNAPDEF_VERSION,
			"definition version %u, this ksmvmm reads %d", version, SNAPDEF_VERSION))
		return -EINVAL;
	get_str(in, origin->name, sizeof(origin->name), "guest name");
	sbuf_get_bytes(in, origin->uuid, sizeof(origin->uuid));
	origin->index = sbuf_get_u32(in);
	get_str(in, origin->group, sizeof(origin->group), "sharing group");
	origin->generation = sbuf_get_u64(in);
	kind = sbuf_get_u32(in);
	o->mem = sbuf_get_u64(in);
	o->cpus = sbuf_get_u32(in);
	sbuf_check(in, kind <= GUEST_KIND_LINUX, "guest kind %u", kind);
	sbuf_check(in, o->mem && o->mem % PAGE_SIZE == 0 && o->mem <= MEM_MAX_RAM, "RAM size %llu",
		   (unsigned long long) o->mem);
	sbuf_check(in, o->cpus >= 1 && o->cpus <= OPT_MAX_CPUS, "%u vCPUs", o->cpus);
	o->kind = (enum guest_kind) kind;
	if (load_profile(in, &o->profile, &origin->seed))
		return -EINVAL;
	o->virtio = sbuf_get_u32(in);
	sbuf_check(in, !(o->virtio & ~(unsigned) OPT_VIRTIO_DEFAULT), "virtio devices 0x%x",
		   o->virtio);
	if (load_disks(in, o))
		return -EINVAL;
	sbuf_check(in, sbuf_left(in) == 0, "%zu bytes after the definition", sbuf_left(in));
	return sbuf_error(in);
}
