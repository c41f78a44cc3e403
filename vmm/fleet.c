/* fleet.c - the guests of one ksmvmm process: created alike by `ksmvmm run`, or one by
 * one at run time (`ksmvmm serve`, libvirt), addressed by name, and their life. Their
 * merge engine is set up by fleet_merge.c; what one guest is and requests to it are in
 * fleet_query.c. */
#define pr_fmt(fmt) "fleet: " fmt
#include "vmm/fleet.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksm/ksm.h"
#include "lib/errbuf.h"
#include "lib/log.h"
#include "lib/page.h"
#include "vmm/fleet_internal.h"
#include "vmm/guest.h"
#include "vmm/snapshot.h"

/* Refuse fleets promising more than this many times the host's RAM: a typo guard. */
#define MAX_OVERCOMMIT 8

/* @f_extra: RAM of the guests already running. */
static int check_host_memory(const struct options *o, unsigned long long f_extra)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	unsigned long long host = (unsigned long long) pages * (unsigned long long) psize;
	unsigned long long want = (unsigned long long) o->count * o->mem + f_extra;

	if (pages > 0 && psize > 0 && want / MAX_OVERCOMMIT > host) {
		pr_err("%u guest%s x %llu MiB (%llu GiB with the guests running) is more than "
		       "%dx this host's %llu GiB of RAM",
		       o->count, o->count == 1 ? "" : "s", (unsigned long long) (o->mem >> 20),
		       want >> 30, MAX_OVERCOMMIT, host >> 30);
		return -ENOMEM;
	}
	return 0;
}

static int make_console_dir(const char *dir)
{
	struct stat st;

	if (!dir)
		return 0;
	if (mkdir(dir, 0755) && errno != EEXIST) {
		int err = errno;

		pr_err("cannot create console directory %s: %s", dir, strerror(err));
		return -err;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		pr_err("console path %s is not a directory", dir);
		return -ENOTDIR;
	}
	if (access(dir, W_OK | X_OK)) {
		int err = errno;

		pr_err("console directory %s is not writable: %s", dir, strerror(err));
		return -EACCES;
	}
	return 0;
}

static void on_guest_end(void *opaque, struct guest *g)
{
	struct fleet *f = opaque;

	if (f->end_cb)
		f->end_cb(f->end_opaque, g->index);
}

static struct fleet *fleet_alloc(size_t nr)
{
	struct fleet *f = calloc(1, sizeof(*f));

	if (!f || !(f->slots = calloc(nr, sizeof(*f->slots)))) {
		pr_err("out of memory");
		free(f);
		return NULL;
	}
	f->nr = nr;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

/* Put @g in slot @i (reserved or free) with the slot's reference. */
int fleet_fill(struct fleet *f, size_t i, struct guest *g)
{
	struct fleet_entry *e = f->slots[i] ? f->slots[i] : calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	g->on_end = on_guest_end;
	g->on_end_opaque = f;
	pthread_mutex_lock(&f->lock);
	e->g = g;
	e->refs = 1;
	f->slots[i] = e;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* --restore: every guest's RAM comes from the snapshot, through the engine's image of it
 * when the engine runs (the guests are registered already). */
static int fill_restored(struct fleet *f, struct snapshot_src *snap)
{
	for (size_t i = 0; i < f->nr; i++) {
		struct guest *g = f->slots[i] ? f->slots[i]->g : NULL;
		uint32_t group;
		int ret;

		if (!g)
			continue;
		pthread_mutex_lock(&f->lock);
		group = fleet_group_id(f, g->group);
		pthread_mutex_unlock(&f->lock);
		ret = snapshot_fill_ram(snap, g, f->ksm, g->ksm_vm, group);
		/* Before it runs: no instruction under the parent's identity. */
		if (!ret)
			ret = snapshot_new_identity(g, (unsigned) i);
		if (ret)
			return ret;
	}
	if (f->ksm)
		ksm_publish(f->ksm); /* the reports show them shared from the start */
	return 0;
}

static struct guest *make_guest(struct snapshot_src *snap, const struct options *o, unsigned i)
{
	return snap ? snapshot_restore_guest(snap, o, i, o->count == 1)
		    : guest_create(o, i, o->count == 1);
}

static struct fleet *create(const struct options *o, struct snapshot_src *snap);

struct fleet *fleet_create(const struct options *in)
{
	struct options o = *in;
	struct snapshot_src *snap = NULL;
	struct fleet *f;
	char err[512];
	int ret;

	if (in->restore) {
		/* The memory is checked while the guests are built: fill_restored waits. */
		snap = snapshot_open_background(in->restore, &o, err, sizeof(err));
		if (!snap) {
			pr_err("%s", err);
			return NULL;
		}
	}
	f = create(&o, snap);
	ret = f && snap ? fill_restored(f, snap) : 0;
	/* The guests hold their pool pages now; the image's own references go. */
	snapshot_close(snap, f ? f->ksm : NULL);
	if (ret) {
		fleet_destroy(f);
		f = NULL;
	}
	return f;
}

static struct fleet *create(const struct options *o, struct snapshot_src *snap)
{
	struct fleet *f;

	long host_pages = sysconf(_SC_PHYS_PAGES);
	/* A restore's image takes one more guest's worth of pool pages at most. */
	uint64_t pool = (uint64_t) (o->count + (snap != NULL)) * (o->mem / PAGE_SIZE);

	if (check_host_memory(o, 0) || make_console_dir(o->console_dir))
		return NULL;
	/* With libvirt, more guests can join later (virsh create), and with the engine,
	 * clones (ksmctl clone): room for them. */
	f = fleet_alloc(o->libvirt || o->merge == MERGE_VMM ? OPT_MAX_GUESTS : o->count);
	if (!f)
		return NULL;
	if (o->libvirt) {
		f->dynamic = true;
		f->base = *o;
		pool = host_pages > 0 ? (uint64_t) host_pages : pool;
	}
	for (unsigned i = 0; i < o->count; i++) {
		struct guest *g = make_guest(snap, o, i);

		if (!g || fleet_fill(f, i, g)) {
			guest_destroy(g);
			fleet_destroy(f);
			return NULL;
		}
		snprintf(g->group, sizeof(g->group), "%s", options_group_of(o, g->name));
	}
	if (fleet_setup_merging(f, o, pool)) {
		fleet_destroy(f);
		return NULL;
	}
	return f;
}

struct fleet *fleet_create_dynamic(const struct options *base)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	struct fleet *f;

	/* Canonical pages are real memory: never more of them than the host has. */
	if (make_console_dir(base->console_dir))
		return NULL;
	f = fleet_alloc(OPT_MAX_GUESTS);
	if (!f)
		return NULL;
	f->dynamic = true;
	f->base = *base;
	if (fleet_setup_merging(f, base, pages > 0 ? (uint64_t) pages : 1u << 20)) {
		fleet_destroy(f);
		return NULL;
	}
	return f;
}

int fleet_start(struct fleet *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nr; i++) {
		struct fleet_entry *e = fleet_get(f, i);
		int ret = e ? guest_start(e->g) : 0;

		n += e != NULL;
		fleet_put(f, e);
		if (ret) {
			fleet_stop_all(f);
			return ret;
		}
	}
	if (f->ksm && ksm_start(f->ksm)) {
		pr_err("cannot start the merge engine thread");
		fleet_stop_all(f);
		return -EAGAIN;
	}
	pr_info("%zu guest%s running, merging: %s", n, n == 1 ? "" : "s",
		f->merge == MERGE_VMM	 ? "in the VMM"
		: f->merge == MERGE_HOST ? "host KSM"
					 : "off");
	return 0;
}

void fleet_set_end_callback(struct fleet *f, void (*cb)(void *opaque, size_t slot), void *opaque)
{
	f->end_cb = cb;
	f->end_opaque = opaque;
}

struct fleet_entry *fleet_get(struct fleet *f, size_t i)
{
	struct fleet_entry *e = NULL;

	pthread_mutex_lock(&f->lock);
	if (i < f->nr && f->slots[i] && f->slots[i]->g) {
		e = f->slots[i];
		e->refs++;
	}
	pthread_mutex_unlock(&f->lock);
	return e;
}

/* The engine lets go of the RAM before it is unmapped, and of the pool pages after. */
void fleet_free_guest(struct fleet *f, struct guest *g)
{
	struct ksm_vm *vm = g->ksm_vm;

	if (vm)
		ksm_vm_detach(f->ksm, vm);
	guest_destroy(g);
	if (vm)
		ksm_vm_free(f->ksm, vm);
}

void fleet_put(struct fleet *f, struct fleet_entry *e)
{
	bool last;

	if (!e)
		return;
	pthread_mutex_lock(&f->lock);
	last = --e->refs == 0;
	pthread_mutex_unlock(&f->lock);
	if (last) {
		fleet_free_guest(f, e->g);
		free(e);
	}
}

size_t fleet_count(struct fleet *f)
{
	return f->nr;
}

bool fleet_is_dynamic(struct fleet *f)
{
	return f->dynamic;
}

/* Slot of the guest called @name, or -ENOENT. Caller holds f->lock. */
static int find_locked(struct fleet *f, const char *name)
{
	for (size_t i = 0; i < f->nr; i++)
		if (f->slots[i] && f->slots[i]->g && !strcmp(f->slots[i]->g->name, name))
			return (int) i;
	return -ENOENT;
}

int fleet_find(struct fleet *f, const char *name)
{
	int ret;

	pthread_mutex_lock(&f->lock);
	ret = find_locked(f, name);
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/* Reserve a free slot for a guest called @name: its index, -EEXIST or -ENOSPC. */
int fleet_reserve_slot(struct fleet *f, const char *name, unsigned long long *ram)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&f->lock);
	*ram = 0;
	for (size_t i = 0; i < f->nr; i++)
		if (f->slots[i] && f->slots[i]->g)
			*ram += f->slots[i]->g->mem.ram_size;
	if (find_locked(f, name) >= 0) {
		ret = -EEXIST;
		goto out;
	}
	for (size_t i = 0; i < f->nr; i++) {
		if (!f->slots[i] && (f->slots[i] = calloc(1, sizeof(*f->slots[i])))) {
			ret = (int) i;
			break;
		}
	}
out:
	pthread_mutex_unlock(&f->lock);
	return ret;
}

void fleet_release_slot(struct fleet *f, size_t i)
{
	pthread_mutex_lock(&f->lock);
	free(f->slots[i]);
	f->slots[i] = NULL;
	pthread_mutex_unlock(&f->lock);
}

/* Build, register and start the guest of @o in reserved slot @i. */
static int add_in_slot(struct fleet *f, const struct options *o, size_t i)
{
	struct guest *g = guest_create(o, (unsigned) i, false);
	int ret;

	if (!g)
		return -EINVAL;
	snprintf(g->group, sizeof(g->group), "%s", options_group_of(o, g->name));
	ret = f->ksm ? fleet_register_guest(f, g) : 0;
	if (!ret)
		ret = fleet_fill(f, i, g);
	if (ret) {
		fleet_free_guest(f, g);
		return ret;
	}
	ret = guest_start(g);
	if (ret)
		pr_err("%s could not start: %s", g->name, strerror(-ret));
	return ret; /* started or not, it is in its slot: fleet_remove_guest frees it */
}

static int add_built(struct fleet *f, const struct options *o, size_t i, void *opaque)
{
	(void) opaque;
	return add_in_slot(f, o, i);
}

int fleet_add_guest(struct fleet *f, const struct options *o, char *err, size_t len)
{
	return fleet_add_with(f, o, add_built, NULL, err, len);
}

int fleet_add_with(struct fleet *f, const struct options *o, fleet_build_fn *build, void *opaque,
		   char *err, size_t len)
{
	unsigned long long ram;
	int i, ret;

	if (!f->dynamic || o->count != 1 || !o->name_exact)
		return errbuf_set(err, len, -EINVAL, "this fleet does not take guests at run time");
	i = fleet_reserve_slot(f, o->name, &ram);
	if (i == -EEXIST)
		return errbuf_set(err, len, i, "a guest called %s is already running", o->name);
	if (i < 0)
		return errbuf_set(err, len, i, "the fleet is full (%d guests)", OPT_MAX_GUESTS);
	log_clear_error();
	if (check_host_memory(o, ram)) {
		fleet_release_slot(f, (size_t) i);
		return errbuf_set(err, len, -ENOMEM, "%s", log_last_error());
	}
	ret = build(f, o, (size_t) i, opaque);
	if (ret && !f->slots[i]->g) { /* never filled: nothing runs */
		fleet_release_slot(f, (size_t) i);
		return errbuf_set(err, len, ret, "%s",
				  log_last_error()[0] ? log_last_error()
						      : "the guest could not be built");
	}
	if (ret) {
		fleet_remove_guest(f, (size_t) i);
		return errbuf_set(err, len, ret, "%s",
				  log_last_error()[0] ? log_last_error()
						      : "the guest could not start");
	}
	return i;
}

int fleet_remove_guest(struct fleet *f, size_t i)
{
	struct fleet_entry *e;
	enum guest_state s;

	pthread_mutex_lock(&f->lock);
	e = i < f->nr ? f->slots[i] : NULL;
	if (!e || !e->g) {
		pthread_mutex_unlock(&f->lock);
		return -ENOENT;
	}
	s = guest_get_state(e->g);
	if (s != GUEST_STOPPED && s != GUEST_DEAD) {
		pthread_mutex_unlock(&f->lock);
		return -EBUSY;
	}
	f->slots[i] = NULL;
	pthread_mutex_unlock(&f->lock);
	fleet_put(f, e); /* the slot's reference */
	return 0;
}

static bool live(enum guest_state s)
{
	return s != GUEST_STOPPED && s != GUEST_DEAD;
}

size_t fleet_live(struct fleet *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nr; i++) {
		struct fleet_entry *e = fleet_get(f, i);

		n += e && live(guest_get_state(e->g));
		fleet_put(f, e);
	}
	return n;
}

int fleet_stop_guest(struct fleet *f, size_t i)
{
	struct fleet_entry *e = fleet_get(f, i);
	int ret;

	if (!e)
		return -ENOENT;
	ret = guest_request_stop(e->g);
	fleet_put(f, e);
	return ret;
}

void fleet_stop_all(struct fleet *f)
{
	for (size_t i = 0; i < f->nr; i++)
		fleet_stop_guest(f, i);
}

int fleet_exit_status(struct fleet *f)
{
	int status = 0;

	for (size_t i = 0; i < f->nr; i++) {
		struct fleet_entry *e = fleet_get(f, i);

		if (e && guest_get_state(e->g) == GUEST_DEAD)
			status = 1;
		fleet_put(f, e);
	}
	return status;
}

void fleet_destroy(struct fleet *f)
{
	if (!f)
		return;
	fleet_stop_all(f);
	if (f->ksm)
		ksm_stop(f->ksm);
	for (size_t i = 0; i < f->nr; i++) {
		struct fleet_entry *e = f->slots[i];

		/* Nobody else holds a reference now: the control socket is gone. */
		if (e && e->g)
			fleet_free_guest(f, e->g);
		free(e);
	}
	ksm_destroy(f->ksm);
	pthread_mutex_destroy(&f->lock);
	free(f->slots);
	free(f);
}
