/* table_internal.h - the device table's records, shared by the table (table.c) and the
 * saving and loading of its devices' state (table_state.c). */
#ifndef VMM_DEVICES_TABLE_INTERNAL_H
#define VMM_DEVICES_TABLE_INTERNAL_H

#include "virtio/virtio.h"
#include "vmm/devices/table.h"

#define DEV_MAX (3 + 3 + OPT_MAX_DISKS)

struct dev_slot {
	const struct dev_type *type;
	unsigned n;	       /* instance of its type (disk number) */
	enum bus_space space;  /* where its registers are */
	uint64_t base, size;   /* its register window */
	int irq;	       /* -1: none */
	struct uart *uart;     /* legacy devices */
	struct wl_dev *wl;     /* ... */
	struct acpi_pm *pm;    /* ... */
	struct virtio_dev *vd; /* virtio devices */
	int notify[VIRTIO_MAX_QUEUES];
	bool notify_on[VIRTIO_MAX_QUEUES]; /* KVM_IOEVENTFD registered */
	unsigned nq;
	int irqfd;
	bool irqfd_on; /* KVM_IRQFD registered */
	char detail[96];
};

struct devices {
	struct dev_env env;
	struct virtio_mem_ops mem; /* guest RAM for virtio devices, over env.ram */
	unsigned nr, next_irq, nr_virtio;
	struct dev_slot slot[DEV_MAX];
	struct dev_slot *balloon;
	bool started;  /* devices_start ran: the workers are (or, quiesced, were) running */
	bool quiesced; /* devices_quiesce stopped them */
};

/* A device type of the table: how many instances a guest gets, and how to make, describe
 * and undo one. */
struct dev_type {
	const char *kind;
	uint32_t virtio_id; /* VIRTIO_ID_* of a virtio device, 0 for a legacy one */
	unsigned (*count)(const struct dev_env *e);
	int (*create)(struct devices *d, struct dev_slot *s);
	void (*counters)(struct dev_slot *s, struct fleet_device *out);
	void (*destroy)(struct devices *d, struct dev_slot *s);
};

#endif
