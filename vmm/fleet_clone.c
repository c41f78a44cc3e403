/* fleet_clone.c - guests built from a snapshot source: live clones (fork a running guest
 * into new guests of the fleet that share all of its memory at once, vmm/snapshot.h
 * snapshot_fork), and one guest restored from a snapshot directory into a dynamic fleet
 * (the libvirt endpoint's DOMAIN_RESTORE). */
#define pr_fmt(fmt) "fleet: " fmt
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksm/ksm.h"
#include "lib/errbuf.h"
#include "lib/log.h"
#include "vmm/fleet.h"
#include "vmm/fleet_internal.h"
#include "vmm/guest.h"
#include "vmm/snapshot.h"

/* Slots reserved for the clones of one request. */
struct clone_slots {
	unsigned n;
	int slot[OPT_MAX_GUESTS];
	char name[OPT_MAX_GUESTS][64];
};

/* Reserve @n slots named PARENT-1, PARENT-2, ... (skipping names in use). */
static int reserve(struct fleet *f, const char *parent, unsigned n, struct clone_slots *cs,
		   char *err, size_t len)
{
	unsigned long long ram;

	cs->n = 0;
	for (unsigned k = 1; cs->n < n && k <= 4 * OPT_MAX_GUESTS; k++) {
		char *name = cs->name[cs->n];
		int i;

		if ((size_t) snprintf(name, 64, "%s-%u", parent, k) >= 64)
			return errbuf_set(err, len, -ENAMETOOLONG, "clone names of %s are too long",
					  parent);
		i = fleet_reserve_slot(f, name, &ram);
		if (i == -EEXIST)
			continue;
		if (i < 0)
			return errbuf_set(err, len, i, "the fleet is full (%d guests)",
					  OPT_MAX_GUESTS);
		cs->slot[cs->n++] = i;
	}
	return cs->n == n ? 0 : errbuf_set(err, len, -ENOSPC, "no free clone names for %s", parent);
}

/* Build clone @j in its reserved slot and start it. Returns 0 or -errno (logged). */
static int make_clone(struct fleet *f, struct snapshot_src *s, const struct guest *parent,
		      struct clone_slots *cs, unsigned j, uint32_t group)
{
	struct options o = parent->def;
	struct guest *g;
	int ret;

	o.count = 1;
	o.name = cs->name[j];
	o.name_exact = true;
	guest_random_uuid(o.uuid);
	g = snapshot_restore_guest(s, &o, (unsigned) cs->slot[j], false);
	if (!g)
		return -EINVAL;
	snprintf(g->group, sizeof(g->group), "%s", parent->group);
	ret = fleet_register_guest(f, g);
	if (!ret)
		ret = snapshot_fill_ram(s, g, f->ksm, g->ksm_vm, group);
	if (!ret)
		ret = snapshot_new_identity(g, (unsigned) cs->slot[j]);
	if (!ret)
		ret = fleet_fill(f, (size_t) cs->slot[j], g);
	if (ret) {
		fleet_free_guest(f, g);
		return ret;
	}
	cs->slot[j] = -1; /* filled: no longer ours to release */
	ret = guest_start(g);
	if (ret)
		pr_err("%s could not start: %s", g->name, strerror(-ret));
	return 0; /* in its slot either way: it shows as dead if it did not start */
}

/* Fork the running parent in @e and build its clones. */
static int clone_from(struct fleet *f, struct guest *parent, struct clone_slots *cs, char *err,
		      size_t len)
{
	struct snapshot_src *s;
	uint32_t group;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	group = fleet_group_id(f, parent->group);
	pthread_mutex_unlock(&f->lock);
	s = snapshot_fork(parent, f->ksm, group, err, len);
	if (!s)
		return -EINVAL;
	log_clear_error();
	for (unsigned j = 0; j < cs->n && !ret; j++)
		ret = make_clone(f, s, parent, cs, j, group);
	if (ret)
		errbuf_set(err, len, ret, "%s",
			   log_last_error()[0] ? log_last_error() : "a clone could not be built");
	snapshot_close(s, f->ksm); /* the image's pins go; the guests keep their pages */
	ksm_publish(f->ksm);
	return ret;
}

int fleet_clone_guest(struct fleet *f, size_t i, unsigned n, char *names, size_t names_len,
		      char *err, size_t len)
{
	struct fleet_entry *e = fleet_get(f, i);
	struct clone_slots *cs = calloc(1, sizeof(*cs));
	int ret;

	if (!e || !cs) {
		fleet_put(f, e);
		free(cs);
		return errbuf_set(err, len, e ? -ENOMEM : -ENOENT,
				  e ? "out of memory" : "no guest");
	}
	if (!f->ksm || !e->g->ksm_vm)
		ret = errbuf_set(err, len, -ENOTSUP, "clones need the merge engine (--merge=vmm)");
	else if (guest_get_state(e->g) != GUEST_RUNNING)
		ret = errbuf_set(err, len, -ESRCH, "%s is not running", e->g->name);
	else if (n < 1 || n > OPT_MAX_GUESTS)
		ret = errbuf_set(err, len, -EINVAL, "clone count %u (1..%d)", n, OPT_MAX_GUESTS);
	else if (!(ret = reserve(f, e->g->name, n, cs, err, len)))
		ret = clone_from(f, e->g, cs, err, len);
	names[0] = '\0';
	for (unsigned j = 0; j < cs->n; j++) {
		if (cs->slot[j] >= 0) {
			fleet_release_slot(f, (size_t) cs->slot[j]);
		} else {
			size_t at = strlen(names);

			snprintf(names + at, names_len - at, "%s%s", at ? " " : "", cs->name[j]);
		}
	}
	fleet_put(f, e);
	free(cs);
	return ret;
}

/* Build guest @o from snapshot @s in reserved slot @i of a dynamic fleet, and start it. */
static int restore_in_slot(struct fleet *f, struct snapshot_src *s, const struct options *o,
			   size_t i)
{
	struct guest *g = snapshot_restore_guest(s, o, (unsigned) i, false);
	uint32_t group;
	int ret;

	if (!g)
		return -EINVAL;
	snprintf(g->group, sizeof(g->group), "%s", options_group_of(o, g->name));
	pthread_mutex_lock(&f->lock);
	group = fleet_group_id(f, g->group);
	pthread_mutex_unlock(&f->lock);
	ret = f->ksm ? fleet_register_guest(f, g) : 0;
	if (!ret)
		ret = snapshot_fill_ram(s, g, f->ksm, g->ksm_vm, group);
	/* Before it runs: no instruction under the parent's identity. */
	if (!ret)
		ret = snapshot_new_identity(g, (unsigned) i);
	if (!ret)
		ret = fleet_fill(f, i, g);
	if (ret) {
		fleet_free_guest(f, g);
		return ret;
	}
	if (f->ksm)
		ksm_publish(f->ksm); /* its pages show as merged from the first report */
	ret = guest_start(g);
	if (ret)
		pr_err("%s could not start: %s", g->name, strerror(-ret));
	return ret; /* started or not, it is in its slot: fleet_remove_guest frees it */
}

static int restore_built(struct fleet *f, const struct options *o, size_t i, void *opaque)
{
	return restore_in_slot(f, opaque, o, i);
}

int fleet_restore_guest(struct fleet *f, struct snapshot_src *s, const struct options *o, char *err,
			size_t len)
{
	int ret = fleet_add_with(f, o, restore_built, s, err, len);

	/* The guest holds its pool pages now; the image's own references go. */
	snapshot_close(s, f->ksm);
	return ret;
}
