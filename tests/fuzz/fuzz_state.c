/* fuzz_state.c - libFuzzer target: hostile saved device state into virtio_dev_load of each
 * device type (rng, console, balloon, blk in snapshot mode) and into uart_load.
 *
 * Input: byte 0 picks the type; byte 1 picks how the state is made: raw (the rest of the
 * input is the section) or mutated (a valid section, saved from a device that was brought
 * up and used, then patched at input-chosen offsets and cut to an input-chosen length, to
 * get past the version and type checks). After a load that succeeded, the rest of the
 * input is stored into guest RAM and the device runs worker rounds on whatever its loaded
 * queues point at. Checked: no crash (ASan/UBSan), every write_begin ended, no guest byte
 * changed outside a write_begin range, a refused load always gives a reason, and the
 * snapshot disk's image is never written. */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sbuf.h"
#include "tests/fuzz/fuzz_prog.h"
#include "tests/unit/virtio_driver.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/rng.h"
#include "virtio/state.h"
#include "vmm/devices/uart.h"

#define RAM_SIZE (64u * 1024)
#define IMG_SIZE (64u * 1024)
#define BUF (FAKE_RAM_BASE + 0x8000)

enum { T_RNG, T_CONSOLE, T_BALLOON, T_BLK, T_UART, T_NR };

static struct fake_ram ram;
static int null_fd = -1;
static char img_path[64];
static uint8_t pristine[IMG_SIZE];
static struct sbuf base[T_NR];		 /* a valid section per type */
static uint8_t base_ram[T_NR][RAM_SIZE]; /* and the guest RAM it goes with */

static int no_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	(void) opaque;
	(void) gpa;
	(void) len;
	return 0;
}

/* A device of type @t over the fake RAM (console input from @in_fd). */
static struct virtio_dev *make(unsigned t, int in_fd)
{
	char err[256];

	switch (t) {
	case T_RNG: return virtio_rng_create(&ram.ops);
	case T_CONSOLE: return virtio_console_create(&ram.ops, null_fd, -1, in_fd);
	case T_BALLOON: return virtio_balloon_create(&ram.ops, no_discard, NULL);
	case T_BLK:
		return virtio_blk_create(&ram.ops, img_path, VIRTIO_BLK_SNAPSHOT, "f", err,
					 sizeof(err));
	}
	return NULL;
}

/* A request on queue 0 that the device serves without error (chain 0). */
static void first_request(unsigned t, struct drv_vq *q)
{
	struct virtio_blk_outhdr *h = fake_at(&ram, BUF);
	uint32_t *pfn = fake_at(&ram, BUF + 0x100);

	switch (t) {
	case T_BLK:
		h->type = VIRTIO_BLK_T_OUT;
		h->sector = 3; /* a cluster for the overlay, hence a run in the section */
		drv_desc(&ram, q, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
		drv_desc(&ram, q, 1, BUF + 0x100, 512, VRING_DESC_F_NEXT, 2);
		drv_desc(&ram, q, 2, BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
		break;
	case T_BALLOON:
		pfn[0] = (uint32_t) ((FAKE_RAM_BASE + 0xe000) >> PAGE_SHIFT);
		pfn[1] = pfn[0] + 1;
		drv_desc(&ram, q, 0, BUF + 0x100, 8, 0, 0);
		break;
	default: /* rng: filled; console receive queue: held until input comes */
		drv_desc(&ram, q, 0, BUF + 0x100, 64, VRING_DESC_F_WRITE, 0);
		break;
	}
	drv_avail_add(&ram, q, 0);
}

/* Every offered feature, all queues of 16, DRIVER_OK, one request on queue 0. */
static void bring_up(struct virtio_dev *dev, unsigned t, unsigned nq)
{
	uint64_t next = FAKE_RAM_BASE, f;
	struct drv_vq q0;

	drv_w32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = drv_r32(dev, VIRTIO_MMIO_DEVICE_FEATURES);
	drv_w32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t) drv_r32(dev, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	drv_negotiate(dev, f);
	for (unsigned i = 0; i < nq; i++) {
		struct drv_vq q;

		next = drv_vq_layout(&q, 16, next);
		drv_vq_setup(dev, i, &q);
		if (!i)
			q0 = q;
	}
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
	first_request(t, &q0);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	while (virtio_dev_poll(dev, 0) > 0)
		;
	if (virtio_dev_status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET)
		abort(); /* the base state must be a healthy device's */
}

static void make_base(unsigned t)
{
	static const unsigned queues[] = {1, 2, 4, 1};
	struct virtio_dev *dev;
	struct uart *u;

	sbuf_init(&base[t]);
	fake_ram_clear(&ram);
	if (t == T_UART) {
		u = uart_create(null_fd, -1);
		if (!u || uart_save(u, &base[t]))
			abort();
		uart_destroy(u);
		return;
	}
	dev = make(t, -1);
	if (!dev)
		abort();
	bring_up(dev, t, queues[t]);
	if (virtio_dev_save(dev, &base[t]))
		abort();
	memcpy(base_ram[t], ram.mem, RAM_SIZE);
	virtio_dev_destroy(dev);
}

static void init(void)
{
	int fd;

	log_level = -1;
	fake_ram_init(&ram, RAM_SIZE);
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	snprintf(img_path, sizeof(img_path), "/tmp/fuzz_state.%d.img", (int) getpid());
	for (unsigned i = 0; i < IMG_SIZE; i++)
		pristine[i] = (uint8_t) (i * 13 + 5);
	fd = open(img_path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, pristine, IMG_SIZE) != IMG_SIZE)
		abort();
	close(fd);
	for (unsigned t = 0; t < T_NR; t++)
		make_base(t);
}

static void image_check(void)
{
	uint8_t now[IMG_SIZE];
	int fd = open(img_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, now, IMG_SIZE) != IMG_SIZE || memcmp(now, pristine, IMG_SIZE))
		abort();
	close(fd);
}

/* The section to load: raw input, or the type's base patched by (u16 off, u8 v) pairs and
 * cut to an input-chosen length. */
static void section(struct prog *pr, unsigned t, struct sbuf *out)
{
	unsigned patches;
	uint64_t cut;

	sbuf_init(out);
	if (!(prog_take(pr, 1) & 1)) {
		sbuf_put_bytes(out, pr->p, pr->left);
		pr->left = 0;
		return;
	}
	sbuf_put_bytes(out, base[t].data, base[t].len);
	memcpy(ram.mem, base_ram[t], RAM_SIZE); /* the snapshot's RAM with its state */
	patches = prog_take(pr, 1) % 8;
	for (unsigned i = 0; i < patches && out->len; i++) {
		uint64_t off = prog_take(pr, 2) % out->len;

		out->data[off] = (uint8_t) prog_take(pr, 1);
	}
	cut = prog_take(pr, 1);
	if (cut < 16 && out->len > cut)
		out->len -= cut; /* mostly whole; sometimes short */
}

/* A reader over @s; never over NULL (lib/sbuf.c's take() would then add a zero offset
 * to a null pointer, which UBSan reports; the lead owns that file). */
static void reader(struct sbuf_reader *r, const struct sbuf *s)
{
	static const uint8_t none;

	sbuf_reader_init(r, s->data ? s->data : &none, s->len);
}

/* A load must succeed or fail with a reason; never leave the reader unexplained. */
static bool loaded(int ret, const struct sbuf_reader *r)
{
	if (ret && (ret != -EINVAL || !r->why[0]))
		abort();
	return !ret;
}

/* What was loaded saves again, and that loads into a fresh device: no load leaves a
 * device in a state the format cannot describe. */
static void resave(unsigned t, struct virtio_dev *dev, const struct sbuf *s)
{
	struct virtio_dev *again;
	struct sbuf_reader r;
	struct sbuf out;

	sbuf_init(&out);
	if (virtio_dev_save(dev, &out))
		abort();
	if (t != T_BALLOON && (out.len != s->len || memcmp(out.data, s->data, s->len)))
		abort(); /* the same bytes back (the balloon's stats age moves on) */
	again = make(t, -1);
	reader(&r, &out);
	if (!again || virtio_dev_load(again, &r) || sbuf_left(&r))
		abort();
	virtio_dev_destroy(again);
	sbuf_free(&out);
}

static void run_virtio(unsigned t, struct prog *pr, const struct sbuf *s)
{
	int in[2] = {-1, -1};
	struct virtio_dev *dev;
	struct sbuf_reader r;

	if (t == T_CONSOLE && pipe2(in, O_NONBLOCK | O_CLOEXEC) < 0)
		return;
	dev = make(t, in[0]);
	if (!dev)
		abort();
	reader(&r, s);
	if (loaded(virtio_dev_load(dev, &r), &r)) {
		resave(t, dev, s);
		prog_run_round(&ram, dev); /* what the loaded queues point at */
		while (pr->left)
			prog_poke(&ram, pr, 2);
		virtio_dev_kick(dev, 0);
		virtio_dev_kick(dev, 1);
		prog_run_round(&ram, dev);
	}
	virtio_dev_destroy(dev);
	if (in[0] >= 0) {
		close(in[0]);
		close(in[1]);
	}
	if (t == T_BLK)
		image_check();
}

static void run_uart(struct prog *pr, const struct sbuf *s)
{
	struct uart *u = uart_create(null_fd, -1);
	struct sbuf_reader r;
	struct bus bus;

	memset(&bus, 0, sizeof(bus));
	if (!u || uart_attach(u, &bus, UART_COM1_BASE))
		abort();
	reader(&r, s);
	if (loaded(uart_load(u, &r), &r)) {
		while (pr->left) {
			uint8_t v = prog_take(pr, 1);

			bus_dispatch(&bus, BUS_PIO, UART_COM1_BASE + (v & 7), v & 8, &v, 1);
		}
	}
	uart_destroy(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prog pr = {data, size};
	unsigned t;
	struct sbuf s;

	if (!ram.mem)
		init();
	t = prog_take(&pr, 1) % T_NR;
	fake_ram_clear(&ram);
	section(&pr, t, &s);
	if (t == T_UART)
		run_uart(&pr, &s);
	else
		run_virtio(t, &pr, &s);
	sbuf_free(&s);
	return 0;
}
