/* table.c - the device table: which devices a guest gets, in which order, with which lines. */
#define pr_fmt(fmt) "devices: " fmt
#include "vmm/devices/table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>
#include <linux/virtio_ids.h>

#include "lib/log.h"
#include "lib/page.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/mmio.h"
#include "virtio/rng.h"
#include "vmm/acpi.h"
#include "vmm/devices/acpi_pm.h"
#include "vmm/devices/table_internal.h"
#include "vmm/devices/uart.h"

#define VIRTIO_NOTIFY_REG 0x50 /* QueueNotify, where ioeventfds listen */
#define COM1_IRQ 4	       /* the legacy line of COM1 that Linux's 8250 driver expects */

/* Interrupt lines for devices: the ISA lines nothing on a PC claims by convention
 * (0 timer, 1 keyboard, 2 cascade, 3/4 COM2/COM1, 8 RTC, 13 FPU), edge-triggered. */
static const int irq_pool[] = {5, 6, 7, 9, 10, 11, 12, 14, 15};

static int alloc_irq(struct devices *d, const char *what)
{
	if (!d->env.irqchip)
		return -1; /* no interrupt controller: the guest polls (the workload guest) */
	if (d->next_irq == sizeof(irq_pool) / sizeof(irq_pool[0])) {
		pr_warn("%s: no interrupt line left for %s; it runs without one", d->env.name,
			what);
		return -1;
	}
	return irq_pool[d->next_irq++];
}

static void add_counter(struct fleet_device *out, const char *key, uint64_t value)
{
	if (out->nr_counters == FLEET_DEV_COUNTERS)
		return;
	snprintf(out->counters[out->nr_counters].key, sizeof(out->counters[0].key), "%s", key);
	out->counters[out->nr_counters++].value = value;
}

/* --- legacy devices ----------------------------------------------------------------- */

static unsigned one(const struct dev_env *e)
{
	(void) e;
	return 1;
}

static void uart_line(void *opaque, bool level)
{
	struct devices *d = opaque;
	struct kvm_irq_level irq = {.irq = COM1_IRQ, .level = level};

	ioctl(d->env.vm_fd, KVM_IRQ_LINE, &irq);
}

static int uart_make(struct devices *d, struct dev_slot *s)
{
	s->uart = uart_create(d->env.console_fd, d->env.tee_fd);
	if (!s->uart || uart_attach(s->uart, d->env.bus, UART_COM1_BASE))
		return -ENOMEM;
	s->space = BUS_PIO;
	s->base = UART_COM1_BASE;
	s->size = UART_NR_PORTS;
	/* Linux's tty layer waits for the transmit interrupt; the workload guest polls. */
	if (d->env.irqchip) {
		s->irq = COM1_IRQ;
		uart_set_irq(s->uart, uart_line, d);
	}
	return 0;
}

static void uart_unmake(struct devices *d, struct dev_slot *s)
{
	(void) d;
	uart_destroy(s->uart);
}

static unsigned wl_count(const struct dev_env *e)
{
	return e->wl != NULL;
}

static int wl_make(struct devices *d, struct dev_slot *s)
{
	s->wl = wl_dev_create(d->env.wl, d->env.bus);
	s->space = BUS_PIO;
	s->base = WL_PORT_CMD;
	s->size = WL_PORT_TSC_KHZ + 4 - WL_PORT_CMD;
	return s->wl ? 0 : -ENOMEM;
}

static void wl_unmake(struct devices *d, struct dev_slot *s)
{
	(void) d;
	wl_dev_destroy(s->wl);
}

/* Linux guests (they have the irqchip; workload guests have neither) get ACPI. */
static unsigned acpi_count(const struct dev_env *e)
{
	return e->irqchip && !e->wl;
}

static int acpi_make(struct devices *d, struct dev_slot *s)
{
	s->pm = acpi_pm_create(d->env.bus);
	s->space = BUS_PIO;
	s->base = ACPI_PM1_EVT_PORT;
	s->size = ACPI_PM_PORTS;
	s->irq = ACPI_GED_IRQ;
	snprintf(s->detail, sizeof(s->detail), "pm1,vmgenid");
	return s->pm ? 0 : -ENOMEM;
}

static void acpi_unmake(struct devices *d, struct dev_slot *s)
{
	(void) d;
	acpi_pm_destroy(s->pm);
}

int devices_acpi_notify(struct devices *d)
{
	struct kvm_irq_level irq = {.irq = ACPI_GED_IRQ, .level = 1};

	for (unsigned i = 0; d && i < d->nr; i++) {
		if (!d->slot[i].pm)
			continue;
		/* An edge: raise, then lower, the line. */
		if (ioctl(d->env.vm_fd, KVM_IRQ_LINE, &irq))
			return -errno;
		irq.level = 0;
		return ioctl(d->env.vm_fd, KVM_IRQ_LINE, &irq) ? -errno : 0;
	}
	return -ENODEV;
}

/* --- virtio devices ----------------------------------------------------------------- */

static const void *mem_read(void *opaque, uint64_t gpa, uint64_t len)
{
	const struct guest_ram *r = opaque;

	return mem_gpa(r->mem, gpa, len);
}

static void *mem_write_begin(void *opaque, uint64_t gpa, uint64_t len)
{
	return ram_write_begin(opaque, gpa, len);
}

static void mem_write_end(void *opaque, uint64_t gpa, uint64_t len)
{
	ram_write_end(opaque, gpa, len);
}

/* bus_fn: the register window of a virtio device takes offsets. */
static void virtio_access(void *opaque, uint64_t addr, bool write, uint8_t *data, unsigned len)
{
	struct dev_slot *s = opaque;

	virtio_mmio_access(s->vd, addr - s->base, write, data, len);
}

/* (De)register queue @q's notify eventfd on QueueNotify. Returns the ioctl's result. */
static int ioeventfd(struct devices *d, struct dev_slot *s, unsigned q, uint32_t flags)
{
	struct kvm_ioeventfd io = {
	    .datamatch = q,
	    .addr = s->base + VIRTIO_NOTIFY_REG,
	    .len = 4,
	    .fd = s->notify[q],
	    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH | flags,
	};

	return ioctl(d->env.vm_fd, KVM_IOEVENTFD, &io);
}

/* (De)register the irqfd on the device's line. */
static int irqfd(struct devices *d, struct dev_slot *s, uint32_t flags)
{
	struct kvm_irqfd irq = {
	    .fd = (uint32_t) s->irqfd, .gsi = (uint32_t) s->irq, .flags = flags};

	return ioctl(d->env.vm_fd, KVM_IRQFD, &irq);
}

/* Notifications by ioeventfd, interrupts by irqfd. A notification KVM cannot take in
 * the kernel still works: the QueueNotify write then reaches virtio_access. */
static void wire_eventfds(struct devices *d, struct dev_slot *s)
{
	s->nq = (unsigned) virtio_dev_eventfds(s->vd, s->notify, VIRTIO_MAX_QUEUES, &s->irqfd);
	for (unsigned q = 0; q < s->nq; q++) {
		s->notify_on[q] = ioeventfd(d, s, q, 0) == 0;
		if (!s->notify_on[q] && q == 0)
			pr_warn("%s: %s: KVM_IOEVENTFD: %s; queue notifications exit to the VMM",
				d->env.name, s->type->kind, strerror(errno));
	}
	if (s->irq >= 0) {
		s->irqfd_on = irqfd(d, s, 0) == 0;
		if (!s->irqfd_on)
			pr_warn("%s: %s: KVM_IRQFD on line %d: %s; it raises no interrupt",
				d->env.name, s->type->kind, s->irq, strerror(errno));
	}
}

static void unwire_eventfds(struct devices *d, struct dev_slot *s)
{
	for (unsigned q = 0; q < s->nq; q++)
		if (s->notify_on[q])
			ioeventfd(d, s, q, KVM_IOEVENTFD_FLAG_DEASSIGN);
	if (s->irqfd_on)
		irqfd(d, s, KVM_IRQFD_FLAG_DEASSIGN);
}

/* Common part of every virtio device once its constructor made s->vd. */
static int virtio_place(struct devices *d, struct dev_slot *s)
{
	if (!s->vd)
		return -EINVAL;
	s->space = BUS_MMIO;
	s->base = VIRTIO_MMIO_BASE + d->nr_virtio * VIRTIO_MMIO_STRIDE;
	s->size = VIRTIO_MMIO_SIZE;
	if (bus_register(d->env.bus, BUS_MMIO, s->base, s->size, virtio_access, s)) {
		pr_err("%s: no room on the bus for %s", d->env.name, s->type->kind);
		return -ENOSPC;
	}
	d->nr_virtio++;
	s->irq = alloc_irq(d, s->type->kind);
	wire_eventfds(d, s);
	return 0;
}

static void virtio_unmake(struct devices *d, struct dev_slot *s)
{
	if (!s->vd)
		return;
	virtio_dev_stop(s->vd);
	unwire_eventfds(d, s);
	virtio_dev_destroy(s->vd);
}

static unsigned want(const struct dev_env *e, unsigned bit)
{
	return (e->o->virtio & bit) != 0;
}

static unsigned console_count(const struct dev_env *e)
{
	return want(e, OPT_VIRTIO_CONSOLE);
}

static int console_make(struct devices *d, struct dev_slot *s)
{
	s->vd = virtio_console_create(&d->mem, d->env.console_fd, d->env.tee_fd, d->env.input_fd);
	return virtio_place(d, s);
}

static unsigned rng_count(const struct dev_env *e)
{
	return want(e, OPT_VIRTIO_RNG);
}

static int rng_make(struct devices *d, struct dev_slot *s)
{
	s->vd = virtio_rng_create(&d->mem);
	return virtio_place(d, s);
}

static unsigned balloon_count(const struct dev_env *e)
{
	return want(e, OPT_VIRTIO_BALLOON);
}

/* virtio_balloon_discard_fn: inflated and reported memory goes back to the host, and
 * the merge engine learns it at its next pass (ram_fetch_reported). */
static int balloon_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	return ram_discard(opaque, gpa, len);
}

static int balloon_make(struct devices *d, struct dev_slot *s)
{
	s->vd = virtio_balloon_create(&d->mem, balloon_discard, d->env.ram);
	d->balloon = s;
	return virtio_place(d, s);
}

static void balloon_counters(struct dev_slot *s, struct fleet_device *out)
{
	struct virtio_balloon_counters c;
	struct virtio_balloon_guest_stats g;

	virtio_balloon_counters(s->vd, &c);
	virtio_balloon_guest_stats(s->vd, &g);
	add_counter(out, "target_pages", c.target);
	add_counter(out, "actual_pages", c.actual);
	add_counter(out, "inflated", c.inflated);
	add_counter(out, "deflated", c.deflated);
	add_counter(out, "reports", c.reports);
	add_counter(out, "reported_pages", c.reported_pages);
	add_counter(out, "discard_errors", c.discard_errors);
	add_counter(out, "stats_updates", g.updates);
}

static unsigned blk_count(const struct dev_env *e)
{
	return e->o->nr_disks;
}

static int blk_make(struct devices *d, struct dev_slot *s)
{
	static const char *const modes[] = {"rw", "readonly", "snapshot"};
	static const enum virtio_blk_mode blk_modes[] = {VIRTIO_BLK_RW, VIRTIO_BLK_READONLY,
							 VIRTIO_BLK_SNAPSHOT};
	const struct opt_disk *disk = &d->env.o->disks[s->n];
	char serial[VIRTIO_BLK_SERIAL_MAX + 1], err[256];

	if (disk->serial[0])
		snprintf(serial, sizeof(serial), "%s", disk->serial);
	else
		snprintf(serial, sizeof(serial), "ksmvmm-%u-%u", d->env.index, s->n);
	s->vd =
	    virtio_blk_create(&d->mem, disk->path, blk_modes[disk->mode], serial, err, sizeof(err));
	if (!s->vd) {
		pr_err("%s: --disk %s: %s", d->env.name, disk->path, err);
		return -EINVAL;
	}
	snprintf(s->detail, sizeof(s->detail), "%.80s,%s", disk->path, modes[disk->mode]);
	return virtio_place(d, s);
}

static void blk_counters(struct dev_slot *s, struct fleet_device *out)
{
	struct virtio_blk_stats b;

	virtio_blk_stats(s->vd, &b);
	add_counter(out, "sectors", b.capacity);
	add_counter(out, "reads", b.reads);
	add_counter(out, "writes", b.writes);
	add_counter(out, "flushes", b.flushes);
	add_counter(out, "bytes_read", b.bytes_read);
	add_counter(out, "bytes_written", b.bytes_written);
	add_counter(out, "errors", b.errors);
	add_counter(out, "unsupported", b.unsupported);
	add_counter(out, "overlay_clusters", b.overlay_clusters);
}

static const struct dev_type uart_type = {"uart", 0, one, uart_make, NULL, uart_unmake};
static const struct dev_type wl_type = {"workload", 0, wl_count, wl_make, NULL, wl_unmake};
static const struct dev_type acpi_type = {"acpi", 0, acpi_count, acpi_make, NULL, acpi_unmake};
static const struct dev_type console_type = {
    "console", VIRTIO_ID_CONSOLE, console_count, console_make, NULL, virtio_unmake};
static const struct dev_type rng_type = {"rng",	   VIRTIO_ID_RNG, rng_count,
					 rng_make, NULL,	  virtio_unmake};
static const struct dev_type balloon_type = {"balloon",	   VIRTIO_ID_BALLOON, balloon_count,
					     balloon_make, balloon_counters,  virtio_unmake};
static const struct dev_type blk_type = {"blk",	   VIRTIO_ID_BLOCK, blk_count,
					 blk_make, blk_counters,    virtio_unmake};

/* Created in this order, destroyed in reverse. */
static const struct dev_type *const dev_types[] = {
    &uart_type, &wl_type, &console_type, &rng_type, &balloon_type, &blk_type, &acpi_type,
};

/* --- the table ---------------------------------------------------------------------- */

struct devices *devices_create(const struct dev_env *env)
{
	struct devices *d = calloc(1, sizeof(*d));

	if (!d) {
		pr_err("%s: out of memory for devices", env->name);
		return NULL;
	}
	d->env = *env;
	d->mem = (struct virtio_mem_ops){mem_read, mem_write_begin, mem_write_end, env->ram};
	for (unsigned t = 0; t < sizeof(dev_types) / sizeof(dev_types[0]); t++) {
		unsigned n = dev_types[t]->count(env);

		for (unsigned i = 0; i < n && d->nr < DEV_MAX; i++) {
			struct dev_slot *s = &d->slot[d->nr];

			*s =
			    (struct dev_slot){.type = dev_types[t], .n = i, .irq = -1, .irqfd = -1};
			d->nr++; /* counted first: a half-made device is undone too */
			if (dev_types[t]->create(d, s)) {
				pr_err("%s: cannot create its %s device", env->name,
				       dev_types[t]->kind);
				devices_destroy(d);
				return NULL;
			}
		}
	}
	return d;
}

int devices_start(struct devices *d)
{
	d->started = true;
	for (unsigned i = 0; i < d->nr; i++) {
		int ret = d->slot[i].vd ? virtio_dev_start(d->slot[i].vd) : 0;

		if (ret) {
			pr_err("%s: cannot start its %s device: %s", d->env.name,
			       d->slot[i].type->kind, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void devices_shutdown(struct devices *d)
{
	for (unsigned i = 0; d && i < d->nr; i++)
		if (d->slot[i].wl)
			wl_dev_shutdown(d->slot[i].wl);
}

void devices_destroy(struct devices *d)
{
	if (!d)
		return;
	for (unsigned i = d->nr; i-- > 0;)
		d->slot[i].type->destroy(d, &d->slot[i]);
	free(d);
}

struct wl_dev *devices_wl(struct devices *d)
{
	for (unsigned i = 0; d && i < d->nr; i++)
		if (d->slot[i].wl)
			return d->slot[i].wl;
	return NULL;
}

int devices_cmdline(const struct devices *d, char *buf, size_t len)
{
	size_t used = strlen(buf);

	for (unsigned i = 0; i < d->nr; i++) {
		const struct dev_slot *s = &d->slot[i];
		int n;

		if (!s->vd)
			continue;
		if (s->irq < 0)
			return -EINVAL; /* Linux refuses a virtio-mmio device without a line */
		n = snprintf(buf + used, len - used, "%s", used ? " " : "");
		if (n < 0 || (size_t) n >= len - used)
			return -ENOSPC;
		used += (size_t) n;
		n = virtio_mmio_cmdline(
		    buf + used, (unsigned) (len - used),
		    (unsigned) ((s->base - VIRTIO_MMIO_BASE) / VIRTIO_MMIO_STRIDE),
		    (unsigned) s->irq);
		if (n < 0 || (size_t) n >= len - used)
			return -ENOSPC;
		used += (size_t) n;
	}
	return 0;
}

unsigned devices_virtio_list(const struct devices *d, struct wl_virtio_dev *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < d->nr && n < max; i++) {
		const struct dev_slot *s = &d->slot[i];

		if (!s->vd)
			continue;
		out[n].base = s->base;
		out[n].device_id = s->type->virtio_id;
		out[n++].pad = 0;
	}
	return n;
}

/* The device status register, in words. */
static const char *state_of(struct dev_slot *s)
{
	uint8_t st;

	if (!s->vd)
		return "active";
	st = virtio_dev_status(s->vd);
	return st & 0x80   ? "failed"
	       : st & 0x40 ? "needs-reset"
	       : st & 0x04 ? "driver-ok"
	       : st & 0x08 ? "features-ok"
	       : st & 0x02 ? "driver"
	       : st & 0x01 ? "acknowledged"
			   : "reset";
}

size_t devices_info(struct devices *d, struct fleet_device *out, size_t max)
{
	size_t n = 0;

	for (unsigned i = 0; d && i < d->nr && n < max; i++, n++) {
		struct dev_slot *s = &d->slot[i];
		struct fleet_device *o = &out[n];

		memset(o, 0, sizeof(*o));
		snprintf(o->kind, sizeof(o->kind), "%s", s->type->kind);
		snprintf(o->bus, sizeof(o->bus), "%s", s->space == BUS_PIO ? "pio" : "mmio");
		o->base = s->base;
		o->size = s->size;
		o->irq = s->irq;
		snprintf(o->state, sizeof(o->state), "%s", state_of(s));
		snprintf(o->detail, sizeof(o->detail), "%s", s->detail);
		if (s->type->counters)
			s->type->counters(s, o);
	}
	return n;
}

int devices_balloon_target(struct devices *d, uint32_t pages)
{
	if (!d || !d->balloon || !d->balloon->vd)
		return -ENODEV;
	virtio_balloon_set_target(d->balloon->vd, pages);
	return 0;
}

int devices_balloon_stats(struct devices *d, bool refresh, uint32_t *actual_pages,
			  struct virtio_balloon_guest_stats *g)
{
	struct virtio_balloon_counters c;

	if (!d || !d->balloon || !d->balloon->vd)
		return -ENODEV;
	virtio_balloon_counters(d->balloon->vd, &c);
	*actual_pages = c.actual;
	virtio_balloon_guest_stats(d->balloon->vd, g);
	/* Ask for the next update now; until it comes, the last one is what there is. */
	if (refresh)
		virtio_balloon_request_stats(d->balloon->vd);
	return 0;
}
