/* test_table.c - the device table: order, bus ranges, allocated lines, the kernel command
 * line and the workload guest's list all come from one table (no KVM: vm_fd -1, so the
 * eventfd registrations fail and only warn); the devices' state saved and loaded into a
 * guest of the same device set, refused by name for a different one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sbuf.h"
#include "tests/unit/check.h"
#include "virtio/mmio.h"
#include "vmm/devices/table.h"
#include "vmm/acpi.h"

static struct guest_mem mem;
static struct guest_ram ram;
static struct pause pause_;
static struct bus bus;

static struct devices *make(const struct options *o, bool irqchip)
{
	struct dev_env env = {.name = "t0",
			      .index = 3,
			      .vm_fd = -1,
			      .irqchip = irqchip,
			      .bus = &bus,
			      .ram = &ram,
			      .console_fd = -1,
			      .tee_fd = -1,
			      .input_fd = -1,
			      .o = o};

	memset(&bus, 0, sizeof(bus));
	return devices_create(&env);
}

/* PM1: status reads 0, enable reads back what was written, control reads SCI_EN; the
 * generation ID event needs the VM (vm_fd -1 here: KVM_IRQ_LINE fails, and says so). */
static void test_acpi_registers(struct devices *d)
{
	uint8_t b[4] = {0xaa, 0xaa, 0xaa, 0xaa};
	uint8_t en[2] = {0x20, 0x01};

	CHECK(bus_dispatch(&bus, BUS_PIO, ACPI_PM1_EVT_PORT, false, b, 4));
	CHECK(b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0);
	CHECK(bus_dispatch(&bus, BUS_PIO, ACPI_PM1_EVT_PORT + 2, true, en, 2));
	CHECK(bus_dispatch(&bus, BUS_PIO, ACPI_PM1_EVT_PORT, false, b, 4));
	CHECK(b[0] == 0 && b[1] == 0 && b[2] == 0x20 && b[3] == 0x01);
	en[0] = 0;
	CHECK(bus_dispatch(&bus, BUS_PIO, ACPI_PM1_EVT_PORT + 2, true, en, 1));
	CHECK(bus_dispatch(&bus, BUS_PIO, ACPI_PM1_EVT_PORT + 3, false, b, 1));
	CHECK_EQ(b[0], 0x01); /* a byte write leaves the other byte */
	CHECK(bus_dispatch(&bus, BUS_PIO, ACPI_PM1_CNT_PORT, false, b, 2));
	CHECK(b[0] == 1 && b[1] == 0);
	CHECK(bus_dispatch(&bus, BUS_PIO, ACPI_PM1_CNT_PORT + 1, false, b, 4));
	CHECK(b[0] == 0 && b[1] == 0xff); /* past the block */
	CHECK_EQ(devices_acpi_notify(d), -EBADF);
	CHECK_EQ(devices_acpi_notify(NULL), -ENODEV);
}

static void test_linux_table(const char *img)
{
	struct options o = {.virtio = OPT_VIRTIO_DEFAULT, .nr_disks = 2};
	struct fleet_device info[FLEET_DEV_MAX];
	struct wl_virtio_dev list[WL_MAX_VIRTIO];
	char cmd[512] = "console=hvc0";
	struct devices *d;
	size_t n;

	snprintf(o.disks[0].path, sizeof(o.disks[0].path), "%s", img);
	snprintf(o.disks[1].path, sizeof(o.disks[1].path), "%s", img);
	o.disks[0].mode = o.disks[1].mode = OPT_DISK_SNAPSHOT;
	d = make(&o, true);
	CHECK(d != NULL);
	if (!d)
		return;
	n = devices_info(d, info, FLEET_DEV_MAX);
	CHECK_EQ(n, 7); /* uart, console, rng, balloon, blk, blk, acpi: no workload device */
	CHECK(!strcmp(info[0].kind, "uart") && !strcmp(info[0].bus, "pio"));
	CHECK_EQ(info[0].irq, 4);
	CHECK(!strcmp(info[1].kind, "console") && !strcmp(info[3].kind, "balloon"));
	CHECK(!strcmp(info[4].kind, "blk") && !strcmp(info[5].kind, "blk"));
	CHECK(!strcmp(info[6].kind, "acpi") && !strcmp(info[6].bus, "pio"));
	CHECK_EQ(info[6].base, ACPI_PM1_EVT_PORT);
	CHECK_EQ(info[6].irq, ACPI_GED_IRQ);
	for (size_t i = 1; i < n - 1; i++) {
		CHECK_EQ(info[i].base, VIRTIO_MMIO_BASE + (i - 1) * VIRTIO_MMIO_STRIDE);
		CHECK(!strcmp(info[i].state, "reset"));
		for (size_t j = 0; j < i; j++)
			CHECK(info[i].irq != info[j].irq); /* allocated, each its own */
		CHECK(info[i].irq > 4);
	}
	CHECK(strstr(info[4].detail, ",snapshot") != NULL);
	CHECK_EQ(devices_cmdline(d, cmd, sizeof(cmd)), 0);
	CHECK(!strncmp(
	    cmd, "console=hvc0 virtio_mmio.device=0x200@0xd0000000:5 virtio_mmio.device=",
	    strlen("console=hvc0 virtio_mmio.device=0x200@0xd0000000:5 virtio_mmio.device=")));
	CHECK(strstr(cmd, "@0xd0004000:") != NULL);
	CHECK(strstr(cmd, "@0xd0005000:") == NULL);
	cmd[0] = '\0';
	CHECK_EQ(devices_cmdline(d, cmd, 40), -ENOSPC);
	CHECK_EQ(devices_virtio_list(d, list, WL_MAX_VIRTIO), 5);
	CHECK_EQ(list[0].device_id, 3);
	CHECK_EQ(list[1].device_id, 4);
	CHECK_EQ(list[2].device_id, 5);
	CHECK_EQ(list[3].device_id, 2);
	CHECK_EQ(list[4].base, VIRTIO_MMIO_BASE + 4 * VIRTIO_MMIO_STRIDE);
	CHECK_EQ(devices_balloon_target(d, 1024), 0);
	n = devices_info(d, info, FLEET_DEV_MAX);
	CHECK_EQ(info[3].counters[0].value, 1024); /* target_pages */
	CHECK(!strcmp(info[3].counters[0].key, "target_pages"));
	CHECK(devices_wl(d) == NULL);
	test_acpi_registers(d);
	CHECK_EQ(devices_start(d), 0);
	devices_destroy(d);
}

static void test_minimal(void)
{
	struct options o = {.virtio = 0};
	struct fleet_device info[FLEET_DEV_MAX];
	char cmd[64] = "";
	struct devices *d = make(&o, false);

	CHECK(d != NULL);
	CHECK_EQ(devices_info(d, info, FLEET_DEV_MAX), 1); /* the UART only */
	CHECK_EQ(devices_acpi_notify(d), -ENODEV);
	CHECK_EQ(info[0].irq, -1); /* no irqchip: polled */
	CHECK_EQ(devices_cmdline(d, cmd, sizeof(cmd)), 0);
	CHECK_EQ(cmd[0], '\0');
	CHECK_EQ(devices_balloon_target(d, 1), -ENODEV);
	devices_destroy(d);
	/* A disk that cannot be opened: one clear error, nothing left behind. */
	o = (struct options){.nr_disks = 1};
	snprintf(o.disks[0].path, sizeof(o.disks[0].path), "/nonexistent/disk.img");
	CHECK(make(&o, true) == NULL);
}

static int load_into(struct devices *d, const struct sbuf *s, size_t len, char *why)
{
	struct sbuf_reader r;
	int ret;

	sbuf_reader_init(&r, s->data, len);
	ret = devices_load(d, &r);
	snprintf(why, 128, "%s", r.why);
	if (!ret)
		CHECK_EQ(sbuf_left(&r), 0);
	return ret;
}

static bool has(const char *why, const char *part)
{
	if (strstr(why, part))
		return true;
	fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", why, part);
	return false;
}

static void test_state(const char *img)
{
	struct options o = {.virtio = OPT_VIRTIO_DEFAULT, .nr_disks = 1};
	struct fleet_device info[FLEET_DEV_MAX];
	struct devices *a, *b;
	struct sbuf s;
	char why[128];
	unsigned refused = 0;

	snprintf(o.disks[0].path, sizeof(o.disks[0].path), "%s", img);
	o.disks[0].mode = OPT_DISK_SNAPSHOT;
	a = make(&o, true);
	CHECK_EQ(devices_balloon_target(a, 777), 0);
	sbuf_init(&s);
	CHECK_EQ(devices_start(a), 0);
	CHECK_EQ(devices_save(a, &s), -EBUSY); /* the workers run */
	devices_quiesce(a);
	sbuf_free(&s);
	CHECK_EQ(devices_save(a, &s), 0);
	CHECK_EQ(devices_resume(a), 0);
	b = make(&o, true);
	CHECK_EQ(load_into(b, &s, s.len, why), 0);
	CHECK_EQ(devices_info(b, info, FLEET_DEV_MAX), 6); /* the ACPI registers too, unsaved */
	CHECK_EQ(info[3].counters[0].value, 777);	   /* the balloon's target came along */
	for (size_t n = 0; n < s.len; n++)
		refused += load_into(b, &s, n, why) == -EINVAL && why[0];
	CHECK_EQ(refused, s.len);
	devices_destroy(b);
	/* A different device set, refused by name. */
	o.virtio &= ~OPT_VIRTIO_BALLOON;
	b = make(&o, true);
	CHECK_EQ(load_into(b, &s, s.len, why), -EINVAL);
	CHECK(has(why, "snapshot has a balloon, this guest has none"));
	devices_destroy(b);
	o.virtio |= OPT_VIRTIO_BALLOON;
	o.nr_disks = 2;
	snprintf(o.disks[1].path, sizeof(o.disks[1].path), "%s", img);
	o.disks[1].mode = OPT_DISK_SNAPSHOT;
	b = make(&o, true);
	CHECK_EQ(load_into(b, &s, s.len, why), -EINVAL);
	CHECK(has(why, "this guest has blk 2, the snapshot has none"));
	devices_destroy(b);
	/* Without a console every later device sits elsewhere: the console is named. */
	o.nr_disks = 1;
	o.virtio &= ~OPT_VIRTIO_CONSOLE;
	b = make(&o, true);
	CHECK_EQ(load_into(b, &s, s.len, why), -EINVAL);
	CHECK(has(why, "snapshot has a console, this guest has none"));
	devices_destroy(b);
	/* Running again after the resume: no save without a quiesce. */
	sbuf_free(&s);
	CHECK_EQ(devices_save(a, &s), -EBUSY);
	sbuf_free(&s);
	devices_destroy(a);
}

int main(void)
{
	char img[] = "/tmp/test-table-XXXXXX";
	int fd = mkstemp(img);

	log_level = 0; /* the KVM registrations fail here on purpose */
	if (fd < 0 || ftruncate(fd, 1 << 20) || mem_layout(&mem, 64ull << 20) || mem_map(&mem))
		return 2;
	pause_init(&pause_, NULL, NULL);
	CHECK_EQ(ram_init(&ram, &mem, &pause_, -1, true), 0);
	test_linux_table(img);
	test_minimal();
	test_state(img);
	ram_destroy(&ram);
	mem_unmap(&mem);
	pause_destroy(&pause_);
	close(fd);
	unlink(img);
	return check_done("test_table");
}
