/* snapshot.c - save a running guest to a snapshot directory, and build guests from one. */
#define pr_fmt(fmt) "snapshot: " fmt
#include "vmm/snapshot.h"

#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksm/ksm.h"
#include "lib/clock.h"
#include "lib/errbuf.h"
#include "lib/log.h"
#include "lib/page.h"
#include "lib/sbuf.h"
#include "vmm/devices/table.h"
#include "vmm/devices/wl_dev.h"
#include "vmm/guest.h"
#include "vmm/snapfile.h"
#include "vmm/snapseal.h"
#include "vmm/vcpu.h"
#include "vmm/vmstate.h"

#define GUEST_SECTION_VERSION 1
/* How long a snapshot waits for every vCPU to park (one may be in a device wait). */
#define SNAPSHOT_PAUSE_MS 10000
/* Engine images: one per sharing group the restored guests are in. */
#define MAX_IMAGES 8

/* The guest section: what the blank machine must be built with. */
struct guest_section {
	uint32_t kind;
	uint32_t nr_vcpus;
	uint32_t enable_avx;
	uint32_t linux_cpuid;
	uint32_t irqchip;
};

/* A section kept in memory (live clone). */
struct mem_section {
	uint32_t tag, index;
	struct sbuf b;
};

struct snapshot_src {
	char dir[1024];
	struct snapshot *file; /* NULL for a live clone: sections in @mem */
	struct mem_section *mem;
	unsigned nmem;
	struct snapdef_origin origin;
	struct guest_section gs;
	struct {
		uint32_t group;
		struct ksm_image *img;
	} images[MAX_IMAGES];
	unsigned nr_images;
	bool in_place; /* the last image made maps the memory file (else: a copy) */
	/* The memory check (snapfile_check), in a thread of its own when opened with
	 * snapshot_open_background: nothing reads the memory before it is joined. */
	pthread_t checker;
	bool checking; /* the thread runs or has not been joined */
	int check_ret; /* its result */
	char check_err[512];
	uint64_t check_us; /* how long it took */
};

static bool has_irqchip(const struct guest *g)
{
	return g->kind == GUEST_KIND_LINUX;
}

/* ---- Saving ---- */

/* Where saved sections go: a snapshot file, or memory (a live clone). */
struct sink {
	struct snap_writer *file;
	struct snapshot_src *mem;
};

static int keep_section(struct snapshot_src *s, uint32_t tag, uint32_t index, struct sbuf *b)
{
	struct mem_section *m = realloc(s->mem, (s->nmem + 1) * sizeof(*m));

	if (!m)
		return -ENOMEM;
	s->mem = m;
	m[s->nmem++] = (struct mem_section){.tag = tag, .index = index, .b = *b};
	sbuf_init(b); /* moved */
	return 0;
}

/* Append one section built by @b to @w, freeing (or moving) @b. */
static int add_section(struct sink *w, uint32_t tag, uint32_t index, struct sbuf *b)
{
	int ret = b->err    ? b->err
		  : w->file ? snapfile_add(w->file, tag, index, b)
			    : keep_section(w->mem, tag, index, b);

	sbuf_free(b);
	return ret;
}

static int save_definition(struct guest *g, struct sink *w)
{
	struct snapdef_origin origin = {.index = g->index, .generation = g->generation};
	struct sbuf b;

	snprintf(origin.name, sizeof(origin.name), "%s", g->name);
	snprintf(origin.group, sizeof(origin.group), "%s", g->group);
	memcpy(origin.uuid, g->uuid, sizeof(origin.uuid));
	origin.seed = options_seed_of(&g->def, g->name);
	sbuf_init(&b);
	snapdef_save(&g->def, &origin, &b);
	return add_section(w, SNAP_SEC_DEFINITION, 0, &b);
}

static int save_guest_section(struct guest *g, struct sink *w)
{
	struct sbuf b;

	sbuf_init(&b);
	sbuf_put_u32(&b, GUEST_SECTION_VERSION);
	sbuf_put_u32(&b, (uint32_t) g->kind);
	sbuf_put_u32(&b, g->nr_vcpus);
	sbuf_put_u32(&b, g->boot.enable_avx);
	sbuf_put_u32(&b, g->boot.linux_cpuid);
	sbuf_put_u32(&b, has_irqchip(g));
	return add_section(w, SNAP_SEC_GUEST, 0, &b);
}

/* Every section but memory; @what names the piece that failed. */
static int save_state(struct guest *g, struct sink *w, const char **what)
{
	struct sbuf b;
	int ret;

	*what = "definition";
	ret = save_definition(g, w);
	if (!ret)
		ret = save_guest_section(g, w);
	*what = "VM state";
	sbuf_init(&b);
	if (!ret && !(ret = vmstate_save_vm(g->vm_fd, has_irqchip(g), &b)))
		ret = add_section(w, SNAP_SEC_VM, 0, &b);
	sbuf_free(&b);
	*what = "vCPU state";
	for (unsigned i = 0; i < g->nr_vcpus && !ret; i++) {
		sbuf_init(&b);
		ret = vmstate_save_vcpu(vcpu_fd(g->vcpus[i]), has_irqchip(g), &b);
		ret = ret ? ret : add_section(w, SNAP_SEC_VCPU, i, &b);
		sbuf_free(&b);
	}
	*what = "device state";
	sbuf_init(&b);
	if (!ret && !(ret = devices_save(g->devices, &b)))
		ret = add_section(w, SNAP_SEC_DEVICES, 0, &b);
	sbuf_free(&b);
	*what = "workload device state";
	sbuf_init(&b);
	if (!ret && g->wl && !(ret = wl_dev_save(g->wl, &b)))
		ret = add_section(w, SNAP_SEC_WL, 0, &b);
	sbuf_free(&b);
	return ret;
}

/* Progress of the memory write: a line per quarter. */
static void memory_progress(void *opaque, uint64_t done, uint64_t total)
{
	unsigned *quarter = opaque;

	if (total && done * 4 / total > *quarter) {
		*quarter = (unsigned) (done * 4 / total);
		pr_info("writing memory: %llu of %llu MiB", (unsigned long long) (done >> 20),
			(unsigned long long) (total >> 20));
	}
}

static int save_memory(struct guest *g, struct snap_writer *w, char *err, size_t len)
{
	struct snap_region r[MEM_MAX_REGIONS];
	unsigned quarter = 0;

	for (unsigned i = 0; i < g->mem.nr_regions; i++)
		r[i] = (struct snap_region){.hva = g->mem.regions[i].hva,
					    .size = g->mem.regions[i].size};
	return snapfile_write_memory(w, r, g->mem.nr_regions, memory_progress, &quarter, err, len);
}

/* The guest is paused (settled) and its device workers stopped. */
static int save_paused(struct guest *g, struct snap_writer *w, char *err, size_t len)
{
	struct sink sink = {.file = w};
	const char *what = "";
	int ret = save_state(g, &sink, &what);

	if (ret)
		return errbuf_set(err, len, ret, "%s: cannot save its %s: %s", g->name, what,
				  strerror(-ret));
	return save_memory(g, w, err, len);
}

int snapshot_save(struct guest *g, const char *dir, char *err, size_t len)
{
	struct snap_writer *w;
	uint64_t t0 = clock_now_us();
	int ret;

	if (guest_get_state(g) != GUEST_RUNNING)
		return errbuf_set(err, len, -ESRCH, "%s is not running", g->name);
	w = snapfile_create(dir, err, len);
	if (!w)
		return -EINVAL;
	devices_quiesce(g->devices); /* before the pause: see devices_quiesce */
	ret = pause_request_settled(&g->pause, SNAPSHOT_PAUSE_MS);
	if (ret)
		errbuf_set(err, len, ret, "%s: its vCPUs did not stop within %d s", g->name,
			   SNAPSHOT_PAUSE_MS / 1000);
	else
		ret = save_paused(g, w, err, len);
	pause_resume(&g->pause);
	if (devices_resume(g->devices) && !ret)
		ret = errbuf_set(err, len, -EIO, "%s: its devices could not restart", g->name);
	if (ret) {
		snapfile_abort(w);
		return ret;
	}
	ret = snapfile_commit(w, err, len);
	if (!ret)
		pr_info("%s saved to %s in %.2f s", g->name, dir, (clock_now_us() - t0) / 1e6);
	return ret;
}

/* ---- Restoring ---- */

/* Section @tag/@index as a reader; false (with @err set) if the snapshot has none. */
static bool section(const struct snapshot_src *s, uint32_t tag, uint32_t index,
		    struct sbuf_reader *r)
{
	size_t n = 0;
	const void *p = s->file ? snapfile_section(s->file, tag, index, &n) : NULL;

	for (unsigned i = 0; !s->file && i < s->nmem && !p; i++) {
		if (s->mem[i].tag == tag && s->mem[i].index == index) {
			p = s->mem[i].b.data;
			n = s->mem[i].b.len;
		}
	}
	sbuf_reader_init(r, p, n);
	return sbuf_check(r, p != NULL, "no section %u/%u", tag, index);
}

static int load_guest_section(struct snapshot_src *s, const struct options *o, char *err,
			      size_t len)
{
	struct guest_section *gs = &s->gs;
	struct sbuf_reader r;
	uint32_t version;

	if (section(s, SNAP_SEC_GUEST, 0, &r)) {
		version = sbuf_get_u32(&r);
		sbuf_check(&r, version == GUEST_SECTION_VERSION, "guest section version %u",
			   version);
		gs->kind = sbuf_get_u32(&r);
		gs->nr_vcpus = sbuf_get_u32(&r);
		gs->enable_avx = sbuf_get_u32(&r);
		gs->linux_cpuid = sbuf_get_u32(&r);
		gs->irqchip = sbuf_get_u32(&r);
		sbuf_check(&r,
			   gs->kind == (uint32_t) o->kind && gs->nr_vcpus == o->cpus &&
			       gs->irqchip == (o->kind == GUEST_KIND_LINUX),
			   "guest section disagrees with the definition");
		sbuf_check(&r, sbuf_left(&r) == 0, "guest section: trailing bytes");
	}
	if (sbuf_error(&r))
		return errbuf_set(err, len, -EINVAL, "snapshot %s: %s", s->dir, r.why);
	return 0;
}

static int load_definition(struct snapshot_src *s, struct options *o, char *err, size_t len)
{
	struct sbuf_reader r;
	uint64_t ram;

	if (section(s, SNAP_SEC_DEFINITION, 0, &r))
		snapdef_load(&r, o, &s->origin);
	if (sbuf_error(&r))
		return errbuf_set(err, len, -EINVAL, "snapshot %s: definition: %s", s->dir, r.why);
	ram = snapfile_ram_size(s->file);
	if (ram != o->mem)
		return errbuf_set(err, len, -EINVAL,
				  "snapshot %s: memory holds %llu bytes, the definition %llu",
				  s->dir, (unsigned long long) ram, (unsigned long long) o->mem);
	o->workload_image = NULL; /* the guest is in the memory already */
	o->ram_image = NULL;
	return load_guest_section(s, o, err, len);
}

static void check_memory(struct snapshot_src *s)
{
	uint64_t t0 = clock_now_us();

	s->check_ret = snapfile_check(s->file, s->check_err, sizeof(s->check_err));
	s->check_us = clock_now_us() - t0;
}

static void *check_thread(void *opaque)
{
	check_memory(opaque);
	return NULL;
}

static void log_checked(const struct snapshot_src *s, const char *how)
{
	pr_info("%s: %llu MiB of memory checked in %.3f s%s%s", s->dir,
		(unsigned long long) (snapfile_ram_size(s->file) >> 20), s->check_us / 1e6,
		snapfile_page_hashes(s->file) ? "" : " (format 1: the pages are hashed again)",
		how);
}

/* Join the background check if it still runs: true if it did. */
static bool join_checker(struct snapshot_src *s)
{
	if (!s->checking)
		return false;
	pthread_join(s->checker, NULL);
	s->checking = false;
	return true;
}

/* Join the background check (once): its result, its error logged. */
static int wait_checked(struct snapshot_src *s)
{
	if (join_checker(s)) {
		if (s->check_ret)
			pr_err("%s", s->check_err);
		else
			log_checked(s, " (while the guests were built)");
	}
	return s->check_ret;
}

static struct snapshot_src *open_src(const char *dir, struct options *o, bool background, char *err,
				     size_t len)
{
	struct snapshot_src *s = calloc(1, sizeof(*s));

	if (!s) {
		errbuf_set(err, len, -ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->file = snapfile_open_unchecked(dir, err, len);
	if (!s->file || load_definition(s, o, err, len)) {
		snapshot_close(s, NULL);
		return NULL;
	}
	if (background && !pthread_create(&s->checker, NULL, check_thread, s)) {
		s->checking = true;
		return s;
	}
	check_memory(s); /* in the foreground, or no thread could start */
	if (s->check_ret) {
		snprintf(err, len, "%s", s->check_err);
		snapshot_close(s, NULL);
		return NULL;
	}
	log_checked(s, "");
	return s;
}

struct snapshot_src *snapshot_open(const char *dir, struct options *o, char *err, size_t len)
{
	return open_src(dir, o, false, err, len);
}

struct snapshot_src *snapshot_open_background(const char *dir, struct options *o, char *err,
					      size_t len)
{
	return open_src(dir, o, true, err, len);
}

const struct snapdef_origin *snapshot_origin(const struct snapshot_src *s)
{
	return &s->origin;
}

/* Load every saved state into the blank guest @g; @what names what failed. */
static int load_state(struct snapshot_src *s, struct guest *g, struct sbuf_reader *r,
		      const char **what)
{
	bool irq = s->gs.irqchip;

	/* Devices first, then the interrupt controllers and vCPUs that see them. */
	*what = "device state";
	if (!section(s, SNAP_SEC_DEVICES, 0, r) || devices_load(g->devices, r))
		return -EINVAL;
	*what = "workload device state";
	if (g->wl && (!section(s, SNAP_SEC_WL, 0, r) || wl_dev_load(g->wl, r)))
		return -EINVAL;
	*what = "VM state";
	if (!section(s, SNAP_SEC_VM, 0, r) || vmstate_load_vm(g->vm_fd, irq, r))
		return -EINVAL;
	for (unsigned i = 0; i < g->nr_vcpus; i++) {
		*what = "vCPU state";
		if (!section(s, SNAP_SEC_VCPU, i, r) ||
		    vmstate_load_vcpu(vcpu_fd(g->vcpus[i]), irq, r))
			return -EINVAL;
	}
	return 0;
}

struct guest *snapshot_restore_guest(struct snapshot_src *s, const struct options *o,
				     unsigned index, bool tee_stdout)
{
	const struct x86_boot boot = {.enable_avx = s->gs.enable_avx,
				      .linux_cpuid = s->gs.linux_cpuid};
	struct guest *g = guest_create_blank(o, index, tee_stdout, &boot);
	struct sbuf_reader r;
	const char *what = "";

	if (!g)
		return NULL;
	sbuf_reader_init(&r, NULL, 0);
	if (load_state(s, g, &r, &what)) {
		pr_err("%s: cannot restore from %s: %s: %s", g->name, s->dir, what,
		       r.why[0] ? r.why : "refused by KVM");
		guest_destroy(g);
		return NULL;
	}
	return g;
}

/* The snapshot's memory as the regions of @g's RAM see it. */
static int memory_sources(struct snapshot_src *s, const struct guest *g, const uint8_t **src,
			  uint64_t *npages)
{
	const uint8_t *map = snapfile_memory_map(s->file);
	uint64_t off = 0;

	if (!map)
		return -errno ? -errno : -EIO;
	for (unsigned i = 0; i < g->mem.nr_regions; i++) {
		src[i] = map + off;
		npages[i] = g->mem.regions[i].size / PAGE_SIZE;
		off += g->mem.regions[i].size;
	}
	return 0;
}

/* The snapshot's memory lent to the engine's pool in place, sealed for as long as the
 * pool maps it; NULL (the reason logged) when it cannot be, and the caller copies. */
static struct ksm_image *map_in_place(struct snapshot_src *s, struct ksm *k, const uint64_t *npages,
				      unsigned n, uint32_t group)
{
	const char *why;
	struct snapseal *seal = snapfile_memory_seal(s->file, &why);
	struct ksm_image *img;

	s->in_place = false;
	if (!seal) {
		pr_info("%s: the memory file cannot be sealed: %s; copying it into the pool",
			s->dir, why);
		return NULL;
	}
	img = ksm_image_map(k, snapfile_memory_fd(s->file), 0, npages, n, group,
			    snapfile_page_hashes(s->file), snapseal_put, snapseal_ref(seal));
	if (!img) {
		pr_info("%s: cannot map the memory file into the pool (%s); copying it", s->dir,
			strerror(errno));
		snapseal_put(seal);
		return NULL;
	}
	s->in_place = true;
	return img;
}

/* The engine image of group @group, made on first use. */
static struct ksm_image *image_of(struct snapshot_src *s, const struct guest *g, struct ksm *k,
				  uint32_t group)
{
	const uint8_t *src[MEM_MAX_REGIONS];
	uint64_t npages[MEM_MAX_REGIONS], t0 = clock_now_us();
	struct ksm_image *img;

	for (unsigned i = 0; i < s->nr_images; i++)
		if (s->images[i].group == group)
			return s->images[i].img;
	if (s->nr_images == MAX_IMAGES) {
		errno = ENOSPC;
		return NULL;
	}
	if (memory_sources(s, g, src, npages))
		return NULL;
	img = map_in_place(s, k, npages, g->mem.nr_regions, group);
	if (!img)
		img = ksm_image_create(k, src, npages, g->mem.nr_regions, group);
	if (img) {
		s->images[s->nr_images].group = group;
		s->images[s->nr_images++].img = img;
		pr_info("%s: %llu pages in the pool in %.3f s (%s)", s->dir,
			(unsigned long long) ksm_image_pages(img), (clock_now_us() - t0) / 1e6,
			s->in_place ? "the memory file mapped in place, no copy" : "copied");
	}
	return img;
}

/* Without the engine: copy the non-zero pages into the guest's own RAM. */
static int copy_ram(struct snapshot_src *s, struct guest *g)
{
	const uint8_t *src[MEM_MAX_REGIONS];
	uint64_t npages[MEM_MAX_REGIONS];
	static const uint8_t zero[PAGE_SIZE];
	int ret = memory_sources(s, g, src, npages);

	for (unsigned i = 0; i < g->mem.nr_regions && !ret; i++)
		for (uint64_t p = 0; p < npages[i]; p++)
			if (memcmp(src[i] + p * PAGE_SIZE, zero, PAGE_SIZE))
				memcpy(g->mem.regions[i].hva + p * PAGE_SIZE,
				       src[i] + p * PAGE_SIZE, PAGE_SIZE);
	return ret;
}

int snapshot_fill_ram(struct snapshot_src *s, struct guest *g, struct ksm *k, struct ksm_vm *vm,
		      uint32_t group)
{
	struct ksm_image *img;
	int ret = s->file ? wait_checked(s) : 0;

	if (ret)
		return ret;
	if (!k || !vm) {
		ret = copy_ram(s, g);
		if (ret)
			pr_err("%s: cannot read the memory of %s: %s", g->name, s->dir,
			       strerror(-ret));
		return ret;
	}
	img = image_of(s, g, k, group);
	if (!img) {
		ret = -errno;
		pr_err("%s: cannot put the memory of %s into the pool: %s", g->name, s->dir,
		       strerror(-ret));
		return ret;
	}
	ret = ksm_image_adopt(k, img, vm);
	if (ret)
		pr_err("%s: cannot map the pages of %s: %s", g->name, s->dir, strerror(-ret));
	return ret;
}

static uint64_t random_u64(void)
{
	return (uint64_t) g_random_int() << 32 | g_random_int();
}

int snapshot_new_identity(struct guest *g, unsigned index)
{
	uint64_t seed = random_u64() | 1; /* 0 would mean "the fleet seed" */

	g->generation = random_u64();
	if (!g->wl)
		return guest_new_genid(g); /* a Linux guest: its ACPI generation ID */
	return wl_dev_restored(g->wl, index, seed, g->generation);
}

void snapshot_close(struct snapshot_src *s, struct ksm *k)
{
	if (!s)
		return;
	join_checker(s); /* no guest was filled: the result does not matter */
	for (unsigned i = 0; i < s->nr_images; i++)
		ksm_image_put(k, s->images[i].img);
	for (unsigned i = 0; i < s->nmem; i++)
		sbuf_free(&s->mem[i].b);
	free(s->mem);
	snapfile_close(s->file);
	free(s);
}

/* ---- Live clone ---- */

struct fork_ctx {
	struct guest *g;
	struct snapshot_src *s;
	char *err;
	size_t len;
	uint64_t t_hold, t_held, t_release; /* clock_now_us() at each step, for the log */
};

/* ksm_image_fork's hold: stop the parent, capture its state in memory. */
static int fork_hold(void *opaque)
{
	struct fork_ctx *c = opaque;
	struct sink sink = {.mem = c->s};
	const char *what = "";
	int ret;

	c->t_hold = clock_now_us();
	devices_quiesce(c->g->devices); /* before the pause: see devices_quiesce */
	ret = pause_request_settled(&c->g->pause, SNAPSHOT_PAUSE_MS);
	if (ret)
		errbuf_set(c->err, c->len, ret, "%s: its vCPUs did not stop within %d s",
			   c->g->name, SNAPSHOT_PAUSE_MS / 1000);
	else if ((ret = save_state(c->g, &sink, &what)))
		errbuf_set(c->err, c->len, ret, "%s: cannot save its %s: %s", c->g->name, what,
			   strerror(-ret));
	if (ret) {
		pause_resume(&c->g->pause);
		devices_resume(c->g->devices);
	}
	c->t_held = clock_now_us();
	return ret;
}

/* ksm_image_fork's release: the parent goes on, now sharing its RAM with the image. */
static void fork_release(void *opaque)
{
	struct fork_ctx *c = opaque;

	c->t_release = clock_now_us();
	pause_resume(&c->g->pause);
	if (devices_resume(c->g->devices))
		pr_err("%s: its devices could not restart after the clone", c->g->name);
}

struct snapshot_src *snapshot_fork(struct guest *g, struct ksm *k, uint32_t group, char *err,
				   size_t len)
{
	struct snapshot_src *s = calloc(1, sizeof(*s));
	struct fork_ctx c = {.g = g, .s = s, .err = err, .len = len};
	struct ksm_image *img;
	uint64_t t0 = clock_now_us();

	if (!s) {
		errbuf_set(err, len, -ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(s->dir, sizeof(s->dir), "%s (live)", g->name);
	s->gs = (struct guest_section){.kind = (uint32_t) g->kind,
				       .nr_vcpus = g->nr_vcpus,
				       .enable_avx = g->boot.enable_avx,
				       .linux_cpuid = g->boot.linux_cpuid,
				       .irqchip = has_irqchip(g)};
	err[0] = '\0';
	img = ksm_image_fork(k, g->ksm_vm, fork_hold, fork_release, &c);
	if (!img) {
		if (!err[0])
			errbuf_set(err, len, -errno, "%s: cannot share its memory: %s", g->name,
				   strerror(errno));
		snapshot_close(s, k);
		return NULL;
	}
	s->images[0].group = group;
	s->images[0].img = img;
	s->nr_images = 1;
	pr_info("%s: forked, %llu pages shared, paused %.3f s (waiting for the engine %.3f s, "
		"stopping and saving its state %.3f s, its RAM into the pool and back %.3f s)",
		g->name, (unsigned long long) ksm_image_pages(img), (clock_now_us() - t0) / 1e6,
		(c.t_hold - t0) / 1e6, (c.t_held - c.t_hold) / 1e6, (c.t_release - c.t_held) / 1e6);
	return s;
}
