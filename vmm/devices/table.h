/* table.h - a guest's devices, made from one explicit table.
 *
 * The table (table.c, dev_types[]) lists the device types in the order they are created:
 * the 8250 UART, the workload guest's command device, then the virtio devices: console,
 * rng, balloon, and one block device per --disk. Teardown runs in reverse. Each device
 * gets its bus range, an interrupt line allocated from the guest's pool (never a number
 * written into a device) and, for virtio, its place in the MMIO window and its kernel
 * command-line entry, so a Linux guest's command line comes from the same table that
 * creates the devices. Virtio queue notifications arrive through ioeventfds and
 * interrupts leave through irqfds, so device work runs on the devices' own threads.
 */
#ifndef VMM_DEVICES_TABLE_H
#define VMM_DEVICES_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/devices/bus.h"
#include "vmm/devices/wl_dev.h"
#include "vmm/devinfo.h"
#include "vmm/guest_abi.h"
#include "vmm/options.h"
#include "vmm/ram.h"

/* What the devices of one guest are made from. */
struct dev_env {
	const char *name;	      /* the guest's (logs, disk serials) */
	unsigned index;		      /* its index in the fleet */
	int vm_fd;		      /* for KVM_IOEVENTFD, KVM_IRQFD, KVM_IRQ_LINE */
	bool irqchip;		      /* an in-kernel irqchip exists: interrupt lines work */
	struct bus *bus;	      /* filled here, before any vCPU runs */
	struct guest_ram *ram;	      /* devices write guest RAM only through it */
	int console_fd;		      /* the guest's console file, or -1 to discard output */
	int tee_fd;		      /* console output also goes here (stdout), or -1 */
	int input_fd;		      /* the virtio console's input (stdin), or -1 */
	const struct options *o;      /* --virtio and --disk */
	const struct wl_dev_host *wl; /* the workload guest's command device, or NULL */
};

struct devices;

/* Create every device the table and @env call for, in table order. @env is copied (its
 * pointers must outlive the devices). Returns NULL after one clear error; whatever was
 * made is undone. Call before the vCPUs exist. */
struct devices *devices_create(const struct dev_env *env);

/* Start the devices' worker threads. Returns 0 or -errno. */
int devices_start(struct devices *d);

/* The guest is stopping: wake whatever waits on the guest (the workload device). */
void devices_shutdown(struct devices *d);

/* Stop the workers and free every device, in reverse table order. NULL is a no-op. */
void devices_destroy(struct devices *d);

struct sbuf;
struct sbuf_reader;

/* Snapshot: stop every virtio worker, so that no device touches guest memory or its
 * queues until devices_resume. Idempotent. Call it BEFORE pausing the guest (vmm/pause):
 * a worker in the middle of a request may be waiting in ram_write_begin, which a pause
 * holds off, and it cannot stop until that write is done; the vCPUs meanwhile only queue
 * notifications (eventfds), which the restarted or restored worker picks up. */
void devices_quiesce(struct devices *d);

/* Restart the workers devices_quiesce stopped (if devices_start had started them).
 * Returns 0 or -errno. */
int devices_resume(struct devices *d);

/* Append the state of every device but the workload device (saved by its own
 * wl_dev_save) to @out, in table order, each tagged with its kind, instance and bus
 * address. Call between devices_quiesce and devices_resume, vCPUs paused. Returns 0 or
 * -errno (logged; -EBUSY while a worker runs). */
int devices_save(struct devices *d, struct sbuf *out);

/* Load a section of devices_save into the devices of a guest just created (same device
 * configuration, before devices_start and before any vCPU runs), whose RAM is mapped at
 * its final host addresses (loaded queues cache host pointers into it, as at QueueReady).
 * A snapshot of a different device set is refused by name ("snapshot has a balloon, this
 * guest has none"), a device's refused state names the device ("device rng: ..."). Returns
 * 0, or -EINVAL with the reason in @in->why (devices may then be partly loaded: destroy
 * the guest). Call devices_start only once the irqchip's state is restored too: that start
 * raises again the interrupts the snapshot caught pending. */
int devices_load(struct devices *d, struct sbuf_reader *in);

/* The workload guest's command device, or NULL. */
struct wl_dev *devices_wl(struct devices *d);

/* Tell a Linux guest's ACPI that its generation ID changed: one edge on ACPI_GED_IRQ,
 * whose event method notifies the generation ID device (vmm/acpi.h). Returns 0,
 * -ENODEV if the guest has no ACPI device, or -errno of KVM_IRQ_LINE. */
int devices_acpi_notify(struct devices *d);

/* Append the kernel command-line entries of the virtio devices
 * ("virtio_mmio.device=0x200@0xd0000000:5 ...") to @buf (@len bytes, NUL-terminated).
 * Returns 0, or -ENOSPC when they do not fit. */
int devices_cmdline(const struct devices *d, char *buf, size_t len);

/* The virtio devices in table order, as the workload guest's parameters list them.
 * Returns how many were written to @out (at most @max). */
unsigned devices_virtio_list(const struct devices *d, struct wl_virtio_dev *out, unsigned max);

/* Describe up to @max devices in table order; returns how many. Any thread. */
size_t devices_info(struct devices *d, struct fleet_device *out, size_t max);

/* Set the balloon's target in 4 KiB pages. Returns 0 or -ENODEV (no balloon). */
int devices_balloon_target(struct devices *d, uint32_t pages);

struct virtio_balloon_guest_stats;

/* The pages in the balloon and the guest's latest statistics; @refresh: ask the driver
 * for fresh ones too. 0, or -ENODEV without a balloon. Any thread. */
int devices_balloon_stats(struct devices *d, bool refresh, uint32_t *actual_pages,
			  struct virtio_balloon_guest_stats *g);

#endif
