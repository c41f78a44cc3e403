/* guest.c - build one guest (VM, RAM, memslots, loader, devices, vCPUs) and track its life. */
#define pr_fmt(fmt) "guest: " fmt
#include "vmm/guest.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/acpi.h"
#include "vmm/kvm.h"
#include "vmm/linux_boot.h"
#include "lib/log.h"
#include "vmm/devices/table.h"
#include "vmm/vcpu.h"
#include "vmm/devices/wl_dev.h"
#include "vmm/workload.h"

#define TSS_GPA 0xfffbd000ull

_Static_assert(OPT_MAX_CPUS <= PAUSE_MAX_VCPUS, "every vCPU takes part in pauses");

static void guest_die(struct guest *g, const char *why);

static const char *const state_names[] = {
    [GUEST_STARTING] = "starting", [GUEST_RUNNING] = "running", [GUEST_STOPPING] = "stopping",
    [GUEST_STOPPED] = "stopped",   [GUEST_DEAD] = "dead",
};

const char *guest_state_name(enum guest_state s)
{
	return (unsigned) s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

static int set_memslots(struct guest *g)
{
	for (unsigned i = 0; i < g->mem.nr_regions; i++) {
		const struct mem_region *r = &g->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
		    .slot = i,
		    .flags = g->ram.dirty_logging ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		    .guest_phys_addr = r->gpa,
		    .memory_size = r->size,
		    .userspace_addr = (uintptr_t) r->hva,
		};

		if (ioctl(g->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return -errno;
	}
	return 0;
}

/* --merge=host: hand the RAM to the host kernel's KSM. */
static int mark_mergeable(struct guest *g)
{
	for (unsigned i = 0; i < g->mem.nr_regions; i++) {
		const struct mem_region *r = &g->mem.regions[i];

		if (madvise(r->hva, r->size, MADV_MERGEABLE)) {
			int err = errno;

			pr_err("%s: madvise(MADV_MERGEABLE): %s (host KSM not built in?)", g->name,
			       strerror(err));
			return -err;
		}
	}
	return 0;
}

static int create_vm(struct guest *g, uint64_t mem_size, enum merge_mode merge)
{
	int ret;

	g->vm_fd = ioctl(kvm_fd(), KVM_CREATE_VM, 0);
	if (g->vm_fd < 0) {
		int err = errno;

		pr_err("%s: KVM_CREATE_VM failed: %s", g->name, strerror(err));
		return -err;
	}
	ioctl(g->vm_fd, KVM_SET_TSS_ADDR, (unsigned long) TSS_GPA);
	ret = mem_layout(&g->mem, mem_size);
	if (!ret)
		ret = mem_map(&g->mem);
	if (!ret)
		ret = ram_init(&g->ram, &g->mem, &g->pause, g->vm_fd, merge == MERGE_VMM);
	if (!ret && merge == MERGE_HOST)
		ret = mark_mergeable(g);
	if (!ret)
		ret = set_memslots(g);
	if (ret)
		pr_err("%s: cannot set up %llu MiB of guest RAM: %s", g->name,
		       (unsigned long long) (mem_size >> 20), strerror(-ret));
	return ret;
}

/* Linux wants interrupt controllers and a timer; the workload guest needs neither. */
static int create_irqchip(struct guest *g)
{
	struct kvm_pit_config pit = {.flags = 0};

	if (ioctl(g->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(g->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		int err = errno;

		pr_err("%s: cannot create the in-kernel irqchip/PIT: %s", g->name, strerror(err));
		return -err;
	}
	return 0;
}

static int open_console(struct guest *g, const char *dir)
{
	char path[4096];

	if (!dir) {
		g->console_fd = -1;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s.log", dir, g->name);
	g->console_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (g->console_fd < 0) {
		int err = errno;

		pr_err("cannot create console file %s: %s", path, strerror(err));
		return -err;
	}
	return 0;
}

/* wl_dev_host callbacks. */
static unsigned long wl_tsc_khz(void *opaque, unsigned id)
{
	struct guest *g = opaque;

	return id < g->nr_vcpus ? vcpu_tsc_khz(g->vcpus[id]) : 0;
}

static bool wl_mark_ready(void *opaque)
{
	struct guest *g = opaque;
	bool was;

	pthread_mutex_lock(&g->lock);
	was = g->ready;
	g->ready = true;
	pthread_mutex_unlock(&g->lock);
	return !was;
}

/* A vCPU's fatal exit or the workload guest's panic: the guest dies. */
static void on_fatal(void *opaque, const char *why)
{
	guest_die(opaque, why);
}

/* The virtio console's input: stdin, when one guest has the terminal and stdin is
 * something to poll (a tty, pipe or socket; not a file this process opened on a closed
 * fd 0, such as /dev/kvm). */
static int console_input(bool one_guest)
{
	struct stat st;

	if (!one_guest || fstat(STDIN_FILENO, &st) || STDIN_FILENO == kvm_fd())
		return -1;
	/* A character device that is no terminal (/dev/null) cannot be polled. */
	if (S_ISCHR(st.st_mode) ? isatty(STDIN_FILENO)
				: S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		return STDIN_FILENO;
	return -1;
}

/* The device table makes every device; the workload device gets the guest's callbacks. */
static int create_devices(struct guest *g, const struct options *o, bool tee_stdout)
{
	const struct wl_dev_host wl = {
	    .name = g->name,
	    .ram = &g->ram,
	    .nr_vcpus = o->cpus,
	    .tsc_khz = wl_tsc_khz,
	    .mark_ready = wl_mark_ready,
	    .die = on_fatal,
	    .opaque = g,
	};
	struct dev_env env = {
	    .name = g->name,
	    .index = g->index,
	    .vm_fd = g->vm_fd,
	    .irqchip = g->kind == GUEST_KIND_LINUX,
	    .bus = &g->bus,
	    .ram = &g->ram,
	    .console_fd = g->console_fd,
	    .tee_fd = tee_stdout ? STDOUT_FILENO : -1,
	    .input_fd = console_input(tee_stdout),
	    .o = o,
	    .wl = g->kind == GUEST_KIND_WORKLOAD ? &wl : NULL,
	};
	int ret = open_console(g, o->console_dir);

	/* Linux wants interrupt controllers and a timer, and irqfds need the irqchip. */
	if (!ret && g->kind == GUEST_KIND_LINUX)
		ret = create_irqchip(g);
	if (ret)
		return ret;
	env.console_fd = g->console_fd;
	g->devices = devices_create(&env);
	if (!g->devices)
		return -EINVAL;
	g->wl = devices_wl(g->devices);
	return 0;
}

/* A Linux guest's command line: the user's, then one entry per virtio device. */
static int linux_cmdline(struct guest *g, const char *user, char *buf, size_t len)
{
	snprintf(buf, len, "%s", user ? user : "");
	if (strlen(buf) + 1 >= len || devices_cmdline(g->devices, buf, len)) {
		pr_err("%s: the kernel command line is too long with the device entries", g->name);
		return -E2BIG;
	}
	return 0;
}

/* A Linux guest's 16-byte generation ID: its generation, then half its UUID (the ACPI
 * page linux_load wrote holds it). */
static int set_genid(struct guest *g)
{
	uint8_t id[ACPI_VMGENID_SIZE];

	for (unsigned i = 0; i < 8; i++)
		id[i] = (uint8_t) (g->generation >> (8 * i));
	memcpy(id + 8, g->uuid + 8, 8);
	return acpi_set_genid(&g->mem, id);
}

int guest_new_genid(struct guest *g)
{
	int ret = set_genid(g);

	if (ret == -ENODEV) {
		pr_info("%s: its kernel was booted without ACPI tables (a snapshot older than "
			"them): it has no generation ID to change",
			g->name);
		return 0;
	}
	ret = ret ?: devices_acpi_notify(g->devices);
	if (ret)
		pr_err("%s: cannot tell its kernel the new generation ID: %s", g->name,
		       strerror(-ret));
	return ret;
}

static int load_guest(struct guest *g, const struct options *o)
{
	char err[256], cmdline[4096];
	int ret;

	if (g->kind == GUEST_KIND_WORKLOAD) {
		const char *img = o->workload_image ? o->workload_image : workload_default_image();
		struct wl_virtio_dev vio[WL_MAX_VIRTIO];
		const struct workload_guest wg = {
		    .mem = &g->mem,
		    .name = g->name,
		    .index = g->index,
		    .generation = g->generation,
		    .nr_virtio = devices_virtio_list(g->devices, vio, WL_MAX_VIRTIO),
		    .virtio = vio,
		};

		return workload_load(&wg, o, img, &g->boot);
	}
	ret = linux_cmdline(g, o->cmdline, cmdline, sizeof(cmdline));
	if (ret)
		return ret;
	ret =
	    linux_load(&g->mem, o->kernel, o->initrd, cmdline, o->cpus, &g->boot, err, sizeof(err));
	if (ret)
		pr_err("%s", err);
	return ret ?: set_genid(g);
}

/* The last vCPU thread out settles the guest's state. */
static void on_vcpu_exited(void *opaque)
{
	struct guest *g = opaque;
	bool last;

	pthread_mutex_lock(&g->lock);
	last = --g->vcpus_running == 0;
	if (last && g->state != GUEST_DEAD) {
		g->state = GUEST_STOPPED;
		if (!g->reason[0])
			snprintf(g->reason, sizeof(g->reason), "stopped");
	}
	pthread_mutex_unlock(&g->lock);
	if (last && g->on_end)
		g->on_end(g->on_end_opaque, g);
}

/* pause_kick_fn: pause_request and pause_wait kick the vCPUs still in the guest. */
static void kick_vcpu(void *opaque, unsigned id)
{
	struct guest *g = opaque;

	vcpu_kick(g->vcpus[id]);
}

/* pause_wake_fn: a workload guest's vCPUs may wait in the VMM for its next request. */
static void wake_waiters(void *opaque)
{
	struct guest *g = opaque;

	if (g->wl)
		wl_dev_wake(g->wl);
}

static int create_vcpus(struct guest *g, unsigned n)
{
	const struct vcpu_host host = {
	    .name = g->name,
	    .vm_fd = g->vm_fd,
	    .bus = &g->bus,
	    .mem = &g->mem,
	    .pause = &g->pause,
	    .linux_guest = g->kind == GUEST_KIND_LINUX,
	    .die = on_fatal,
	    .exited = on_vcpu_exited,
	    .opaque = g,
	};

	for (unsigned i = 0; i < n; i++) {
		g->vcpus[i] = vcpu_create(&host, i, &g->boot);
		if (!g->vcpus[i])
			return -EINVAL;
		g->nr_vcpus++;
		pause_set_vcpus(&g->pause, g->nr_vcpus);
	}
	return 0;
}

void guest_random_uuid(uint8_t uuid[16])
{
	for (unsigned i = 0; i < 16; i += 4) {
		uint32_t r = g_random_int();

		memcpy(uuid + i, &r, 4);
	}
	uuid[6] = (uint8_t) ((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t) ((uuid[8] & 0x3f) | 0x80);
}

/* Everything but the loader; @boot NULL: the loader sets g->boot. */
static struct guest *build(const struct options *o, unsigned index, bool tee_stdout,
			   const struct x86_boot *boot)
{
	struct guest *g = calloc(1, sizeof(*g));

	if (!g) {
		pr_err("out of memory");
		return NULL;
	}
	if (o->name_exact) {
		snprintf(g->name, sizeof(g->name), "%s", o->name);
		memcpy(g->uuid, o->uuid, sizeof(g->uuid));
	} else {
		snprintf(g->name, sizeof(g->name), "%s%u", o->name, index);
		guest_random_uuid(g->uuid);
	}
	g->index = index;
	g->kind = o->kind;
	g->def = *o;
	/* It describes this one guest, and points at nothing the caller may free. */
	g->def.count = 1;
	g->def.name = g->name;
	g->def.name_exact = true;
	g->generation = (uint64_t) g_random_int() << 32 | g_random_int();
	g->console_fd = -1;
	g->state = GUEST_STARTING;
	pthread_mutex_init(&g->lock, NULL);
	pause_init(&g->pause, kick_vcpu, g);
	pause_set_wake(&g->pause, wake_waiters);
	if (boot)
		g->boot = *boot;
	if (create_vm(g, o->mem, o->merge) || create_devices(g, o, tee_stdout) ||
	    (!boot && load_guest(g, o)) || create_vcpus(g, o->cpus)) {
		guest_destroy(g);
		return NULL;
	}
	return g;
}

struct guest *guest_create(const struct options *o, unsigned index, bool tee_stdout)
{
	return build(o, index, tee_stdout, NULL);
}

struct guest *guest_create_blank(const struct options *o, unsigned index, bool tee_stdout,
				 const struct x86_boot *boot)
{
	return build(o, index, tee_stdout, boot);
}

int guest_start(struct guest *g)
{
	int ret = devices_start(g->devices);

	if (ret) {
		guest_die(g, "its devices could not start");
		return ret;
	}
	pthread_mutex_lock(&g->lock);
	g->state = GUEST_RUNNING;
	for (unsigned i = 0; i < g->nr_vcpus && !ret; i++) {
		ret = vcpu_start(g->vcpus[i]);
		if (!ret)
			g->vcpus_running++;
	}
	pthread_mutex_unlock(&g->lock);
	if (ret) {
		pr_err("%s: cannot start vCPU threads: %s", g->name, strerror(-ret));
		guest_die(g, "vCPU threads could not start");
	}
	return ret;
}

/* Make every vCPU and device let go. Caller holds g->lock. */
static void stop_locked(struct guest *g)
{
	for (unsigned i = 0; i < g->nr_vcpus; i++)
		vcpu_request_stop(g->vcpus[i]);
	devices_shutdown(g->devices);
}

/* Mark the guest dead for @why (first reason wins) and make its vCPUs exit. Non-blocking. */
static void guest_die(struct guest *g, const char *why)
{
	pthread_mutex_lock(&g->lock);
	if (g->state != GUEST_DEAD && g->state != GUEST_STOPPED && g->state != GUEST_STOPPING) {
		g->state = GUEST_DEAD;
		snprintf(g->reason, sizeof(g->reason), "%s", why);
		pr_err("%s died: %s; the other guests keep running", g->name, why);
	}
	stop_locked(g);
	pthread_mutex_unlock(&g->lock);
}

static bool ended(enum guest_state s)
{
	return s == GUEST_STOPPING || s == GUEST_STOPPED || s == GUEST_DEAD;
}

int guest_request_stop(struct guest *g)
{
	int ret = 0;

	pthread_mutex_lock(&g->lock);
	if (ended(g->state)) {
		ret = -EALREADY;
	} else {
		g->state = GUEST_STOPPING;
		snprintf(g->reason, sizeof(g->reason), "stopped on request");
		stop_locked(g);
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

enum guest_state guest_get_state(struct guest *g)
{
	enum guest_state s;

	pthread_mutex_lock(&g->lock);
	s = g->state;
	pthread_mutex_unlock(&g->lock);
	return s;
}

void guest_destroy(struct guest *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	stop_locked(g);
	pthread_mutex_unlock(&g->lock);
	for (unsigned i = 0; i < g->nr_vcpus; i++)
		vcpu_destroy(g->vcpus[i]);
	devices_destroy(g->devices);
	if (g->console_fd >= 0)
		close(g->console_fd);
	if (g->vm_fd > 0)
		close(g->vm_fd);
	ram_destroy(&g->ram);
	mem_unmap(&g->mem);
	pthread_mutex_destroy(&g->lock);
	pause_destroy(&g->pause);
	free(g);
}
