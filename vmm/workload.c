/* workload.c - load the workload guest: image, parameters, page tables, boot registers.
 *
 * The guest runs entirely at CPL3: the VMM writes its GDT, identity page tables and a
 * parameter block, and enters every vCPU at the image's first byte. Its command device
 * is vmm/devices/wl_dev.c.
 */
#define pr_fmt(fmt) "workload: " fmt
#include "vmm/workload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/guest_abi.h"
#include "vmm/kvm.h"
#include "lib/log.h"
#include "lib/page.h"

#define MIB (1ull << 20)

const char *workload_default_image(void)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX - 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return "build/guest/workload.bin";
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/guest/workload.bin", exe);
	return path;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int workload_regions(const struct guest_mem *m, struct wl_region *out, unsigned *nr,
		     uint64_t *total_pages)
{
	uint64_t ram_pages = m->ram_size / PAGE_SIZE;
	uint64_t start = WL_VERSIONS_GPA + align_up(ram_pages * 4, 2 * MIB);

	*nr = 0;
	*total_pages = 0;
	if (m->nr_regions == 0 || m->regions[0].size <= start + 16 * PAGE_SIZE)
		return -EINVAL;
	for (unsigned i = 0; i < m->nr_regions; i++) {
		uint64_t from = i == 0 ? start : m->regions[i].gpa;
		uint64_t end = m->regions[i].gpa + m->regions[i].size;

		out[*nr] = (struct wl_region){.gpa = from, .npages = (end - from) / PAGE_SIZE};
		*total_pages += out[*nr].npages;
		(*nr)++;
	}
	return 0;
}

static int read_image(const char *path, const struct workload_guest *g)
{
	void *dst = mem_gpa(g->mem, WL_LOAD_GPA, WL_IMAGE_MAX);
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		int err = errno;

		pr_err("cannot open workload image %s: %s (run make?)", path, strerror(err));
		return -ENOENT;
	}
	if (fstat(fd, &st) || st.st_size == 0 || st.st_size > (off_t) WL_IMAGE_MAX || !dst) {
		pr_err("workload image %s: empty or larger than %llu KiB", path,
		       WL_IMAGE_MAX >> 10);
		close(fd);
		return -EINVAL;
	}
	n = read(fd, dst, (size_t) st.st_size);
	close(fd);
	if (n != st.st_size) {
		pr_err("cannot read workload image %s", path);
		return -EIO;
	}
	return 0;
}

/* Where the identity map ends: past the last RAM region and past the 4 GiB line. */
static uint64_t map_end(const struct mem_region *last)
{
	uint64_t end = last->gpa + last->size;

	return end > MEM_HOLE_END ? end : MEM_HOLE_END;
}

static void fill_params(struct wl_params *p, const struct workload_guest *g,
			const struct options *o)
{
	memset(p, 0, sizeof(*p));
	p->magic = WL_MAGIC;
	p->abi_version = WL_ABI_VERSION;
	p->nr_cpus = o->cpus;
	p->guest_index = g->index;
	p->generation = g->generation;
	p->has_avx = kvm_has_avx();
	p->seed = options_seed_of(o, g->name);
	p->pct_zero = o->profile.zero;
	p->pct_shared = o->profile.shared;
	p->pct_dup = o->profile.dup;
	p->placement = o->profile.placement;
	p->mutate_pct = o->profile.mutate_pct;
	p->mutate_rate = o->profile.mutate_rate;
	p->shuffle_extent = o->profile.extent;
	p->pct_free = o->profile.free;
	p->nr_virtio = g->nr_virtio < WL_MAX_VIRTIO ? g->nr_virtio : WL_MAX_VIRTIO;
	for (unsigned i = 0; i < p->nr_virtio; i++)
		p->virtio[i] = g->virtio[i];
}

/* Read up to @len bytes of @fd into guest RAM at @gpa. Returns bytes read or -errno. */
static int64_t read_into(const struct workload_guest *g, int fd, uint64_t gpa, uint64_t len)
{
	uint8_t *dst = mem_gpa(g->mem, gpa, len);
	uint64_t done = 0;

	while (dst && done < len) {
		ssize_t n = read(fd, dst + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (uint64_t) n;
	}
	return dst ? (int64_t) done : -EFAULT;
}

/* --ram-image: the profile pages come from a file (a memory dump), in page order. */
static int load_ram_image(const struct workload_guest *g, const char *pattern,
			  const struct wl_params *p)
{
	char path[4096];
	int64_t got = 0, n = 0;
	int fd;

	snprintf(path, sizeof(path), pattern, g->index);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		pr_err("%s: cannot open RAM image %s: %s", g->name, path, strerror(err));
		return -err;
	}
	for (unsigned r = 0; r < p->nr_regions && n >= 0; r++) {
		n = read_into(g, fd, p->regions[r].gpa, p->regions[r].npages * PAGE_SIZE);
		got += n > 0 ? n : 0;
		if (n >= 0 && (uint64_t) n < p->regions[r].npages * PAGE_SIZE)
			break;
	}
	close(fd);
	if (n < 0 || got == 0) {
		pr_err("%s: RAM image %s is %s", g->name, path,
		       n < 0 ? strerror((int) -n) : "empty");
		return -EINVAL;
	}
	pr_info("%s: loaded %lld MiB of RAM image %s", g->name, (long long) (got >> 20), path);
	return 0;
}

int workload_load(const struct workload_guest *g, const struct options *o, const char *image,
		  struct x86_boot *boot)
{
	const struct mem_region *last = &g->mem->regions[g->mem->nr_regions - 1];
	struct wl_params *p = mem_gpa(g->mem, WL_PARAMS_GPA, sizeof(*p));
	int ret;

	if (!p || read_image(image, g))
		return -EINVAL;
	fill_params(p, g, o);
	if (workload_regions(g->mem, p->regions, &p->nr_regions, &p->total_pages)) {
		pr_err("%s: %llu MiB is too small for the workload guest", g->name,
		       (unsigned long long) (g->mem->ram_size / MIB));
		return -EINVAL;
	}
	if (o->ram_image) {
		p->image_mode = 1;
		if (load_ram_image(g, o->ram_image, p))
			return -EINVAL;
	}
	ret = x86_build_gdt(g->mem, WL_GDT_GPA);
	/* All of RAM and the whole 32-bit space, where the virtio registers are. */
	if (!ret)
		ret = x86_build_identity_map(g->mem, WL_PT_GPA, map_end(last), true);
	if (ret) {
		pr_err("%s: cannot build page tables: %s", g->name, strerror(-ret));
		return ret;
	}
	*boot = (struct x86_boot){
	    .rip = WL_LOAD_GPA,
	    .rsp = WL_STACK_TOP,
	    .rsi = WL_PARAMS_GPA,
	    .rdi = 0,
	    .cr3 = WL_PT_GPA,
	    .gdt_gpa = WL_GDT_GPA,
	    .cpl = 3,
	    .enable_avx = p->has_avx,
	    .stack_stride = WL_STACK_SIZE,
	};
	return 0;
}
