/* test_virtio_state.c - saving and loading virtio device state (virtio/state.h): each
 * device type is driven through bring-up and some I/O, saved, and a second device of the
 * same type is created over a copy of the fake RAM and loaded; the same driver state then
 * goes on with I/O against the second device (rng data, console output on the new fd and
 * input held across, balloon target/actual/held stats buffer, a snapshot disk's overlay
 * copied per device). Hostile state is refused with a reason: garbage, every truncation,
 * the wrong type, rings outside RAM, sizes not a power of two, impossible status. */
#include "virtio/state.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_blk.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/page.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_driver.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/rng.h"

#define V1 (1ull << VIRTIO_F_VERSION_1)
#define RAM_SIZE (2u << 20)
#define BUF (FAKE_RAM_BASE + 0x10000) /* request buffers */
#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT

/* Offsets into a saved section (the format of virtio/state.c). */
#define OFF_ACCEPTED 20
#define OFF_STATUS 40
#define OFF_ISR 44
#define OFF_CONFIG 52 /* the config blob's length */

static struct fake_ram ram_a, ram_b;

/* The snapshot's guest RAM becomes the new guest's: copy A into B. */
static void ram_copy(void)
{
	memcpy(ram_b.mem, ram_a.mem, ram_a.size);
	fake_ram_snapshot(&ram_b);
}

static void save(struct virtio_dev *dev, struct sbuf *out)
{
	sbuf_init(out);
	CHECK_EQ(virtio_dev_save(dev, out), 0);
}

/* Load @len bytes into @dev; returns the result, with the reason in @why. */
static int load(struct virtio_dev *dev, const void *p, size_t len, char *why, size_t wlen)
{
	struct sbuf_reader r;
	int ret;

	sbuf_reader_init(&r, p, len);
	ret = virtio_dev_load(dev, &r);
	snprintf(why, wlen, "%s", r.why);
	if (!ret)
		CHECK_EQ(sbuf_left(&r), 0);
	return ret;
}

static bool why_has(const char *why, const char *part)
{
	if (strstr(why, part))
		return true;
	fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", why, part);
	return false;
}

/* Worker rounds until idle, with the write audit. */
static void run(struct fake_ram *r, struct virtio_dev *dev)
{
	fake_ram_snapshot(r);
	while (virtio_dev_poll(dev, 0) > 0)
		;
	CHECK_EQ(fake_ram_unguarded(r), 0);
	CHECK_EQ(r->open, 0);
}

/* Bring up @nq queues of @size from FAKE_RAM_BASE, DRIVER_OK. */
static void up(struct fake_ram *r, struct virtio_dev *dev, uint64_t features, struct drv_vq *q,
	       unsigned nq, uint16_t size)
{
	uint64_t next = FAKE_RAM_BASE;

	CHECK(drv_negotiate(dev, V1 | features));
	memset(fake_at(r, FAKE_RAM_BASE), 0, 0x10000);
	for (unsigned i = 0; i < nq; i++) {
		next = drv_vq_layout(&q[i], size, next);
		drv_vq_setup(dev, i, &q[i]);
	}
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
}

/* --- rng -------------------------------------------------------------------------------- */

/* Queue a 64-byte request as chain @head at BUF + head * 64 (zeroed first). */
static void rng_post(struct fake_ram *r, struct drv_vq *q, uint16_t head)
{
	memset(fake_at(r, BUF + head * 64ull), 0, 64);
	drv_desc(r, q, head, BUF + head * 64ull, 64, W, 0);
	drv_avail_add(r, q, head);
}

static bool nonzero(struct fake_ram *r, uint64_t gpa, size_t len)
{
	const uint8_t *p = fake_at(r, gpa);

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return true;
	return false;
}

static void test_rng(void)
{
	struct virtio_dev *a = virtio_rng_create(&ram_a.ops), *b = virtio_rng_create(&ram_b.ops);
	struct drv_vq q;
	struct sbuf s;
	uint32_t id, len;
	char why[128];

	fake_ram_clear(&ram_a);
	up(&ram_a, a, 0, &q, 1, 16);
	rng_post(&ram_a, &q, 0);
	run(&ram_a, a);
	CHECK(drv_used_get(&ram_a, &q, &id, &len) && id == 0 && len == 64);
	/* Posted and notified, but not served before the snapshot. */
	rng_post(&ram_a, &q, 1);
	drv_w32(a, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	save(a, &s);
	ram_copy();
	CHECK_EQ(load(b, s.data, s.len, why, sizeof(why)), 0);
	CHECK_EQ(drv_r32(b, VIRTIO_MMIO_STATUS), drv_r32(a, VIRTIO_MMIO_STATUS));
	drv_w32(b, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(drv_r32(b, VIRTIO_MMIO_QUEUE_READY), 1);
	CHECK_EQ(drv_r32(b, VIRTIO_MMIO_QUEUE_DESC_LOW), (uint32_t) q.desc);
	CHECK_EQ(drv_r32(b, VIRTIO_MMIO_QUEUE_USED_LOW), (uint32_t) q.used);
	/* The load kicked the queue: request 1 is served by b, in b's RAM only. */
	run(&ram_b, b);
	CHECK(drv_used_get(&ram_b, &q, &id, &len) && id == 1 && len == 64);
	CHECK(nonzero(&ram_b, BUF + 64, 64));
	CHECK(!nonzero(&ram_a, BUF + 64, 64));
	CHECK_EQ(drv_used_idx(&ram_a, &q), 1);
	/* And it goes on: a third request, the used index continuing at 3. */
	rng_post(&ram_b, &q, 2);
	drv_w32(b, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	run(&ram_b, b);
	CHECK(drv_used_get(&ram_b, &q, &id, &len) && id == 2 && len == 64);
	CHECK_EQ(drv_used_idx(&ram_b, &q), 3);
	CHECK(nonzero(&ram_b, BUF + 128, 64));
	sbuf_free(&s);
	virtio_dev_destroy(a);
	virtio_dev_destroy(b);
}

/* A pending interrupt is raised again at the first start, not before. */
static void test_interrupt(void)
{
	struct virtio_dev *a = virtio_rng_create(&ram_a.ops), *b = virtio_rng_create(&ram_b.ops);
	int irq_b = -1, notify[1];
	struct drv_vq q;
	struct sbuf s;
	uint64_t v = 0;
	char why[128];

	fake_ram_clear(&ram_a);
	up(&ram_a, a, 0, &q, 1, 16);
	rng_post(&ram_a, &q, 0);
	drv_w32(a, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	run(&ram_a, a);
	CHECK_EQ(drv_r32(a, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING); /* not acked */
	save(a, &s);
	ram_copy();
	CHECK_EQ(load(b, s.data, s.len, why, sizeof(why)), 0);
	CHECK_EQ(drv_r32(b, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	virtio_dev_eventfds(b, notify, 1, &irq_b);
	CHECK(read(irq_b, &v, sizeof(v)) < 0 && errno == EAGAIN); /* nothing before start */
	CHECK_EQ(virtio_dev_save(b, &s), 0);
	CHECK_EQ(virtio_dev_start(b), 0);
	CHECK_EQ(virtio_dev_save(b, &s), -EBUSY); /* never while the worker runs */
	CHECK_EQ(load(b, s.data, s.len, why, sizeof(why)), -EBUSY);
	CHECK_EQ(poll(&(struct pollfd){.fd = irq_b, .events = POLLIN}, 1, 2000), 1);
	CHECK(read(irq_b, &v, sizeof(v)) == sizeof(v) && v >= 1);
	virtio_dev_stop(b);
	/* A second start (after a quiesce) raises nothing more. */
	CHECK_EQ(virtio_dev_start(b), 0);
	CHECK_EQ(poll(&(struct pollfd){.fd = irq_b, .events = POLLIN}, 1, 100), 0);
	virtio_dev_stop(b);
	sbuf_free(&s);
	virtio_dev_destroy(a);
	virtio_dev_destroy(b);
}

/* --- console ---------------------------------------------------------------------------- */

struct con {
	struct virtio_dev *dev;
	int out[2], in[2];
};

static void con_open(struct con *c, struct fake_ram *r)
{
	CHECK_EQ(pipe2(c->out, O_NONBLOCK), 0);
	CHECK_EQ(pipe2(c->in, O_NONBLOCK), 0);
	c->dev = virtio_console_create(&r->ops, c->out[1], -1, c->in[0]);
	CHECK(c->dev != NULL);
}

static void con_close(struct con *c)
{
	virtio_dev_destroy(c->dev);
	for (int i = 0; i < 2; i++) {
		close(c->out[i]);
		close(c->in[i]);
	}
}

/* Transmit @text as chain @head of the TX queue. */
static void con_tx(struct fake_ram *r, struct con *c, struct drv_vq *q, uint16_t head,
		   const char *text)
{
	uint64_t gpa = BUF + 0x1000 + head * 64ull;

	memcpy(fake_at(r, gpa), text, strlen(text));
	drv_desc(r, &q[VIRTIO_CONSOLE_TX], head, gpa, strlen(text), 0, 0);
	drv_avail_add(r, &q[VIRTIO_CONSOLE_TX], head);
	drv_w32(c->dev, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_CONSOLE_TX);
	run(r, c->dev);
}

/* Give the driver's receive buffer @head (32 bytes) and run. */
static void con_rx(struct fake_ram *r, struct con *c, struct drv_vq *q, uint16_t head)
{
	drv_desc(r, &q[VIRTIO_CONSOLE_RX], head, BUF + head * 32ull, 32, W, 0);
	drv_avail_add(r, &q[VIRTIO_CONSOLE_RX], head);
	drv_w32(c->dev, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_CONSOLE_RX);
	run(r, c->dev);
}

static bool con_output(struct con *c, const char *want)
{
	char buf[64] = "";
	ssize_t n = read(c->out[0], buf, sizeof(buf) - 1);

	if (n < 0)
		n = 0;
	buf[n] = '\0';
	if (!strcmp(buf, want))
		return true;
	fprintf(stderr, "console output \"%s\", not \"%s\"\n", buf, want);
	return false;
}

static void test_console(void)
{
	struct drv_vq q[2];
	struct con a, b;
	struct sbuf s;
	uint32_t id, len;
	char why[128];

	fake_ram_clear(&ram_a);
	con_open(&a, &ram_a);
	con_open(&b, &ram_b);
	up(&ram_a, a.dev, 0, q, 2, 16);
	con_tx(&ram_a, &a, q, 0, "hello ");
	CHECK(con_output(&a, "hello "));
	/* Typed at the guest, read by the device, no receive buffer yet. */
	CHECK_EQ(write(a.in[1], "abc", 3), 3);
	run(&ram_a, a.dev);
	save(a.dev, &s);
	ram_copy();
	CHECK_EQ(load(b.dev, s.data, s.len, why, sizeof(why)), 0);
	con_tx(&ram_b, &b, q, 1, "world");
	CHECK(con_output(&b, "world")); /* the new guest's console */
	CHECK(con_output(&a, ""));
	con_rx(&ram_b, &b, q, 0); /* the held input arrives in b */
	CHECK(drv_used_get(&ram_b, &q[VIRTIO_CONSOLE_RX], &id, &len) && id == 0 && len == 3);
	CHECK(!memcmp(fake_at(&ram_b, BUF), "abc", 3));
	CHECK_EQ(write(b.in[1], "xyz", 3), 3); /* b reads its own input fd */
	con_rx(&ram_b, &b, q, 1);
	CHECK(drv_used_get(&ram_b, &q[VIRTIO_CONSOLE_RX], &id, &len) && id == 1 && len == 3);
	CHECK(!memcmp(fake_at(&ram_b, BUF + 32), "xyz", 3));
	sbuf_free(&s);
	con_close(&a);
	con_close(&b);
}

/* --- balloon ---------------------------------------------------------------------------- */

#define F_STATS (1ull << VIRTIO_BALLOON_F_STATS_VQ)
#define F_REPORT (1ull << VIRTIO_BALLOON_F_REPORTING)
#define BQ_INFLATE 0
#define BQ_STATS 2

static unsigned discards[2]; /* discard hook calls per device */

static int count_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	(void) gpa;
	(void) len;
	(*(unsigned *) opaque)++;
	return 0;
}

/* Inflate @n frames from the middle of RAM as chain @head. */
static void inflate(struct fake_ram *r, struct virtio_dev *dev, struct drv_vq *q, uint16_t head,
		    unsigned n)
{
	uint32_t *pfn = fake_at(r, BUF + 0x2000);

	for (unsigned i = 0; i < n; i++)
		pfn[i] = (uint32_t) ((FAKE_RAM_BASE + RAM_SIZE / 2) >> PAGE_SHIFT) + i;
	drv_desc(r, &q[BQ_INFLATE], head, BUF + 0x2000, 4 * n, 0, 0);
	drv_avail_add(r, &q[BQ_INFLATE], head);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, BQ_INFLATE);
	run(r, dev);
}

static void set_actual(struct virtio_dev *dev, uint32_t pages)
{
	virtio_mmio_access(dev, VIRTIO_MMIO_CONFIG + offsetof(struct virtio_balloon_config, actual),
			   true, (uint8_t *) &pages, 4);
}

static void test_balloon(void)
{
	struct virtio_dev *a = virtio_balloon_create(&ram_a.ops, count_discard, &discards[0]);
	struct virtio_dev *b = virtio_balloon_create(&ram_b.ops, count_discard, &discards[1]);
	struct virtio_balloon_counters c;
	struct virtio_balloon_guest_stats g;
	uint8_t stat[10] = {VIRTIO_BALLOON_S_MEMFREE, 0, 0x39, 0x30}; /* tag 4 = 12345 */
	struct drv_vq q[4];
	struct sbuf s;
	uint32_t id, len;
	char why[128];

	fake_ram_clear(&ram_a);
	up(&ram_a, a, F_STATS | F_REPORT, q, 4, 32);
	virtio_balloon_set_target(a, 100);
	set_actual(a, 50);
	memcpy(fake_at(&ram_a, BUF + 0x3000), stat, sizeof(stat));
	drv_desc(&ram_a, &q[BQ_STATS], 5, BUF + 0x3000, sizeof(stat), 0, 0);
	drv_avail_add(&ram_a, &q[BQ_STATS], 5);
	drv_w32(a, VIRTIO_MMIO_QUEUE_NOTIFY, BQ_STATS);
	run(&ram_a, a);
	CHECK_EQ(drv_used_idx(&ram_a, &q[BQ_STATS]), 0); /* held by the device */
	inflate(&ram_a, a, q, 0, 4);
	CHECK_EQ(discards[0], 1);
	save(a, &s);
	ram_copy();
	CHECK_EQ(load(b, s.data, s.len, why, sizeof(why)), 0);
	virtio_balloon_counters(b, &c);
	CHECK_EQ(c.target, 100);
	CHECK_EQ(c.actual, 50);
	CHECK_EQ(c.inflated, 4);
	virtio_balloon_guest_stats(b, &g);
	CHECK_EQ(g.val[VIRTIO_BALLOON_S_MEMFREE], 12345);
	CHECK(g.valid & (1u << VIRTIO_BALLOON_S_MEMFREE));
	CHECK_EQ(g.updates, 1);
	CHECK(g.time_us != 0);
	CHECK(!strcmp(virtio_balloon_queue_role(b, 3), "reporting"));
	/* The held stats buffer is b's to give back. */
	CHECK_EQ(virtio_balloon_request_stats(b), 0);
	run(&ram_b, b);
	CHECK(drv_used_get(&ram_b, &q[BQ_STATS], &id, &len) && id == 5);
	inflate(&ram_b, b, q, 1, 2);
	CHECK_EQ(discards[1], 1); /* b's host, not a's */
	CHECK_EQ(discards[0], 1);
	virtio_balloon_counters(b, &c);
	CHECK_EQ(c.inflated, 6);
	sbuf_free(&s);
	virtio_dev_destroy(a);
	virtio_dev_destroy(b);
}

/* --- blk -------------------------------------------------------------------------------- */

#define IMG_SIZE (1u << 20)
#define HDR (FAKE_RAM_BASE + 0x10000)
#define STATUS (FAKE_RAM_BASE + 0x10100)
#define DATA (FAKE_RAM_BASE + 0x100000)
#define SEG (32u * 1024)

static char img[64], img2[64];

static void image_make(const char *path, uint64_t size)
{
	uint8_t *buf = malloc(size);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	for (uint64_t i = 0; i < size; i++)
		buf[i] = (uint8_t) (i * 7 + 1);
	CHECK_EQ(write(fd, buf, size), size);
	close(fd);
	free(buf);
}

struct disk {
	struct virtio_dev *dev;
	struct fake_ram *r;
	struct drv_vq q;
};

/* A request of @len bytes at @sector from/to DATA, in segments of at most SEG. */
static int disk_req(struct disk *d, uint32_t type, uint64_t sector, uint32_t len)
{
	struct virtio_blk_outhdr *h = fake_at(d->r, HDR);
	uint16_t dflags = type == VIRTIO_BLK_T_OUT ? 0 : W, i = 1;
	uint32_t id, used;

	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	drv_desc(d->r, &d->q, 0, HDR, 16, N, 1);
	for (uint32_t off = 0; off < len; off += SEG, i++)
		drv_desc(d->r, &d->q, i, DATA + off, len - off < SEG ? len - off : SEG, dflags | N,
			 i + 1);
	drv_desc(d->r, &d->q, i, STATUS, 1, W, 0);
	*(uint8_t *) fake_at(d->r, STATUS) = 0xee;
	drv_avail_add(d->r, &d->q, 0);
	drv_w32(d->dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	run(d->r, d->dev);
	if (!drv_used_get(d->r, &d->q, &id, &used))
		return -1;
	return *(uint8_t *) fake_at(d->r, STATUS);
}

static bool disk_open(struct disk *d, struct fake_ram *r, const char *path,
		      enum virtio_blk_mode mode)
{
	char err[256] = "";

	d->r = r;
	d->dev = virtio_blk_create(&r->ops, path, mode, "s", err, sizeof(err));
	if (!d->dev)
		fprintf(stderr, "disk %s: %s\n", path, err);
	return d->dev != NULL;
}

/* Write @len bytes of @v at @sector, then read them back. */
static void disk_fill(struct disk *d, uint64_t sector, uint32_t len, uint8_t v)
{
	memset(fake_at(d->r, DATA), v, len);
	CHECK_EQ(disk_req(d, VIRTIO_BLK_T_OUT, sector, len), VIRTIO_BLK_S_OK);
}

static bool disk_holds(struct disk *d, uint64_t sector, uint32_t len, uint8_t v)
{
	const uint8_t *p = fake_at(d->r, DATA);

	memset(fake_at(d->r, DATA), 0, len);
	if (disk_req(d, VIRTIO_BLK_T_IN, sector, len) != VIRTIO_BLK_S_OK)
		return false;
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static bool image_pristine(const char *path)
{
	uint8_t *buf = malloc(IMG_SIZE);
	int fd = open(path, O_RDONLY);
	bool ok = read(fd, buf, IMG_SIZE) == IMG_SIZE;

	for (uint64_t i = 0; ok && i < IMG_SIZE; i++)
		ok = buf[i] == (uint8_t) (i * 7 + 1);
	close(fd);
	free(buf);
	return ok;
}

static void test_blk(void)
{
	struct disk a, b, c;
	struct virtio_blk_stats st;
	struct sbuf s;
	char why[128];

	fake_ram_clear(&ram_a);
	CHECK(disk_open(&a, &ram_a, img, VIRTIO_BLK_SNAPSHOT));
	CHECK(disk_open(&b, &ram_b, img, VIRTIO_BLK_SNAPSHOT));
	up(&ram_a, a.dev, 0, &a.q, 1, VIRTIO_BLK_QUEUE_SIZE);
	disk_fill(&a, 8, 4096, 0xab);	    /* one whole cluster */
	disk_fill(&a, 1, 512, 0x11);	    /* part of cluster 0 */
	disk_fill(&a, 64, 64 * 4096, 0x22); /* two runs of the saved overlay */
	disk_fill(&a, 2047, 512, 0x33);	    /* the disk's last sector */
	save(a.dev, &s);
	ram_copy();
	b.q = a.q; /* the driver's own state goes on in the copied RAM */
	CHECK_EQ(load(b.dev, s.data, s.len, why, sizeof(why)), 0);
	virtio_blk_stats(b.dev, &st);
	CHECK_EQ(st.overlay_clusters, 1 + 1 + 64 + 1);
	CHECK(disk_holds(&b, 8, 4096, 0xab));
	CHECK(disk_holds(&b, 1, 512, 0x11));
	CHECK(disk_holds(&b, 64, 64 * 4096, 0x22));
	CHECK(disk_holds(&b, 2047, 512, 0x33));
	/* Sector 0 shares a cluster with sector 1: the image's bytes came along. */
	memset(fake_at(&ram_b, DATA), 0, 512);
	CHECK_EQ(disk_req(&b, VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
	CHECK_EQ(((uint8_t *) fake_at(&ram_b, DATA))[100], (uint8_t) (100 * 7 + 1));
	/* Each device has its own overlay: b's write is not a's, the image is untouched. */
	disk_fill(&b, 8, 4096, 0xcd);
	CHECK(disk_holds(&a, 8, 4096, 0xab));
	CHECK(disk_holds(&b, 8, 4096, 0xcd));
	CHECK(image_pristine(img));
	/* A different disk, or the same one set up otherwise, is refused by name. */
	CHECK(disk_open(&c, &ram_b, img2, VIRTIO_BLK_SNAPSHOT));
	CHECK_EQ(load(c.dev, s.data, s.len, why, sizeof(why)), -EINVAL);
	CHECK(why_has(why, img2) && why_has(why, "the snapshot's was"));
	CHECK_EQ(drv_r32(c.dev, VIRTIO_MMIO_STATUS), 0);
	virtio_dev_destroy(c.dev);
	CHECK(disk_open(&c, &ram_b, img, VIRTIO_BLK_READONLY));
	CHECK_EQ(load(c.dev, s.data, s.len, why, sizeof(why)), -EINVAL);
	CHECK(why_has(why, "offered features"));
	virtio_dev_destroy(c.dev);
	virtio_dev_destroy(a.dev);
	virtio_dev_destroy(b.dev);
	CHECK(disk_open(&c, &ram_b, img, VIRTIO_BLK_RW));
	CHECK_EQ(load(c.dev, s.data, s.len, why, sizeof(why)), -EINVAL);
	CHECK(why_has(why, "is rw, the snapshot's was snapshot"));
	virtio_dev_destroy(c.dev);
	CHECK(image_pristine(img));
	sbuf_free(&s);
}

/* --- hostile state ---------------------------------------------------------------------- */

/* @len bytes of @src with @n bytes at @off replaced by @v (little endian). */
static int load_patched(struct virtio_dev *dev, const struct sbuf *src, size_t off, uint64_t v,
			unsigned n, char *why)
{
	uint8_t *p = malloc(src->len);
	int ret;

	memcpy(p, src->data, src->len);
	for (unsigned i = 0; i < n && off + i < src->len; i++)
		p[off + i] = (uint8_t) (v >> (8 * i));
	ret = load(dev, p, src->len, why, 128);
	free(p);
	return ret;
}

/* Every prefix of a valid section is refused, with a reason, and leaves a reset device. */
static void check_truncations(struct virtio_dev *dev, const struct sbuf *s)
{
	unsigned refused = 0;
	char why[128];

	for (size_t n = 0; n < s->len; n++) {
		refused += load(dev, s->data, n, why, sizeof(why)) == -EINVAL && why[0];
		CHECK_EQ(virtio_dev_status(dev), 0);
	}
	CHECK_EQ(refused, s->len);
}

/* The rng's queue record starts after the header, registers and an empty config blob. */
#define RNG_Q0 (OFF_CONFIG + 4)

static void test_hostile_rng(void)
{
	struct virtio_dev *a = virtio_rng_create(&ram_a.ops), *b = virtio_rng_create(&ram_b.ops);
	struct drv_vq q;
	struct sbuf s, big;
	char why[128];

	fake_ram_clear(&ram_a);
	up(&ram_a, a, 0, &q, 1, 16);
	save(a, &s);
	ram_copy();
	check_truncations(b, &s);
	CHECK_EQ(load_patched(b, &s, 0, 2, 4, why), -EINVAL);
	CHECK(why_has(why, "unknown virtio state version 2"));
	CHECK_EQ(load_patched(b, &s, RNG_Q0, 3, 2, why), -EINVAL);
	CHECK(why_has(why, "queue 0") && why_has(why, "power of two"));
	CHECK_EQ(load_patched(b, &s, RNG_Q0, 512, 2, why), -EINVAL); /* above QueueNumMax 256 */
	CHECK(why_has(why, "queue 0"));
	CHECK_EQ(load_patched(b, &s, RNG_Q0 + 3, q.desc + 8, 8, why), -EINVAL);
	CHECK(why_has(why, "misaligned"));
	CHECK_EQ(load_patched(b, &s, RNG_Q0 + 3 + 16, FAKE_RAM_BASE + RAM_SIZE - 8, 8, why),
		 -EINVAL); /* the used ring runs past the end of RAM */
	CHECK(why_has(why, "outside guest memory"));
	CHECK_EQ(load_patched(b, &s, RNG_Q0 + 3, 0xfffffffffffff000ull, 8, why), -EINVAL);
	CHECK(why_has(why, "outside guest memory"));
	CHECK_EQ(load_patched(b, &s, OFF_STATUS, VIRTIO_CONFIG_S_DRIVER_OK, 4, why), -EINVAL);
	CHECK(why_has(why, "DRIVER_OK without FEATURES_OK"));
	CHECK_EQ(load_patched(b, &s, OFF_STATUS, 0x10f, 4, why), -EINVAL);
	CHECK_EQ(load_patched(b, &s, OFF_ACCEPTED, V1 | (1ull << 40), 8, why), -EINVAL);
	CHECK(why_has(why, "not a valid choice"));
	CHECK_EQ(load_patched(b, &s, OFF_ACCEPTED, 0, 8, why), -EINVAL); /* no VERSION_1 */
	CHECK_EQ(load_patched(b, &s, OFF_ISR, 4, 4, why), -EINVAL);
	CHECK_EQ(load_patched(b, &s, OFF_CONFIG, 4, 4, why), -EINVAL); /* rng has no config */
	/* State for a type that keeps none. */
	sbuf_init(&big);
	sbuf_put_bytes(&big, s.data, s.len - 4);
	sbuf_put_blob(&big, "x", 1);
	CHECK_EQ(load(b, big.data, big.len, why, sizeof(why)), -EINVAL);
	CHECK(why_has(why, "which has none"));
	/* The ring far into a smaller guest's RAM: the queue is never enabled there. */
	CHECK_EQ(load_patched(b, &s, RNG_Q0 + 3, FAKE_RAM_BASE + RAM_SIZE, 8, why), -EINVAL);
	CHECK_EQ(drv_r32(b, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK_EQ(load(b, s.data, s.len, why, sizeof(why)), 0); /* the original still loads */
	sbuf_free(&big);
	sbuf_free(&s);
	virtio_dev_destroy(a);
	virtio_dev_destroy(b);
}

/* A section of one type into another, garbage, and truncated type state. */
static void test_hostile_types(void)
{
	struct virtio_dev *rng = virtio_rng_create(&ram_a.ops);
	struct con a, b;
	struct drv_vq q[2];
	struct sbuf s;
	uint8_t junk[256];
	char why[128];
	unsigned refused = 0;

	fake_ram_clear(&ram_a);
	con_open(&a, &ram_a);
	con_open(&b, &ram_b);
	up(&ram_a, a.dev, 0, q, 2, 16);
	CHECK_EQ(write(a.in[1], "pending", 7), 7);
	run(&ram_a, a.dev);
	save(a.dev, &s);
	ram_copy();
	CHECK_EQ(load(rng, s.data, s.len, why, sizeof(why)), -EINVAL);
	CHECK(why_has(why, "device id 3, this rng is 4"));
	check_truncations(b.dev, &s);
	srand(12);
	for (unsigned i = 0; i < 2000; i++) {
		size_t n = (size_t) rand() % sizeof(junk);

		for (size_t j = 0; j < n; j++)
			junk[j] = (uint8_t) rand();
		if (i % 2) /* a valid header, then garbage */
			memcpy(junk, s.data, n < 64 ? n : 64);
		refused += load(b.dev, junk, n, why, sizeof(why)) == -EINVAL && why[0];
	}
	CHECK_EQ(refused, 2000);
	CHECK_EQ(load(b.dev, s.data, s.len, why, sizeof(why)), 0);
	sbuf_free(&s);
	virtio_dev_destroy(rng);
	con_close(&a);
	con_close(&b);
}

/* Where the type's own state starts in a section of a device with @cfg bytes of config
 * space and @nq queues (after the type blob's length). */
static size_t type_body(size_t cfg, unsigned nq)
{
	return OFF_CONFIG + 4 + cfg + 33 * nq + 4; /* a queue record is 33 bytes */
}

/* A balloon's held stats buffer must exist in this driver's queues. */
static void test_hostile_balloon(void)
{
	struct virtio_dev *a = virtio_balloon_create(&ram_a.ops, count_discard, &discards[0]);
	struct virtio_dev *b = virtio_balloon_create(&ram_b.ops, count_discard, &discards[1]);
	size_t body = type_body(sizeof(struct virtio_balloon_config), 4);
	struct drv_vq q[4];
	struct sbuf s;
	char why[128];

	fake_ram_clear(&ram_a);
	up(&ram_a, a, 0, q, 2, 32); /* no STATS_VQ: inflate and deflate only */
	save(a, &s);
	ram_copy();
	CHECK_EQ(load(b, s.data, s.len, why, sizeof(why)), 0);
	CHECK_EQ(load_patched(b, &s, body + 4, 1, 1, why), -EINVAL);
	CHECK(why_has(why, "no stats queue"));
	CHECK_EQ(load_patched(b, &s, body + 4, 2, 1, why), -EINVAL);
	CHECK(why_has(why, "stats flags 2"));
	CHECK_EQ(load_patched(b, &s, body + 8, 1u << 10, 4, why), -EINVAL);
	CHECK(why_has(why, "statistics tags"));
	CHECK_EQ(load_patched(b, &s, body, 7, 4, why), -EINVAL);
	CHECK(why_has(why, "unknown balloon state version 7"));
	sbuf_free(&s);
	/* With a stats queue of 32, a held head of 999 is no buffer of it. */
	fake_ram_clear(&ram_a);
	up(&ram_a, a, F_STATS, q, 3, 32);
	save(a, &s);
	ram_copy();
	CHECK_EQ(load_patched(b, &s, body + 4, 1 | (999u << 8), 3, why), -EINVAL);
	CHECK(why_has(why, "held stats buffer 999 of a queue of 32"));
	CHECK_EQ(load_patched(b, &s, body + 4, 1 | (31u << 8), 3, why), 0);
	sbuf_free(&s);
	virtio_dev_destroy(a);
	virtio_dev_destroy(b);
}

/* Overlay runs out of place or of the wrong size are refused, and leave no overlay. */
static void test_hostile_blk(void)
{
	size_t body = type_body(sizeof(struct virtio_blk_config), 1);
	size_t runs = body + 4 + 1 + 8 + 4 + strlen(img);
	struct virtio_blk_stats st;
	struct disk a, b;
	struct sbuf s;
	char why[128];

	fake_ram_clear(&ram_a);
	CHECK(disk_open(&a, &ram_a, img, VIRTIO_BLK_SNAPSHOT));
	CHECK(disk_open(&b, &ram_b, img, VIRTIO_BLK_SNAPSHOT));
	up(&ram_a, a.dev, 0, &a.q, 1, VIRTIO_BLK_QUEUE_SIZE);
	disk_fill(&a, 16, 4096, 0x44); /* cluster 2 */
	disk_fill(&a, 80, 4096, 0x55); /* cluster 10 */
	save(a.dev, &s);
	ram_copy();
	CHECK_EQ(load(b.dev, s.data, s.len, why, sizeof(why)), 0);
	virtio_blk_stats(b.dev, &st);
	CHECK_EQ(st.overlay_clusters, 2);
	CHECK_EQ(load_patched(b.dev, &s, runs, 1, 4, why), -EINVAL); /* one run, then junk */
	CHECK(why_has(why, "after the overlay"));
	virtio_blk_stats(b.dev, &st);
	CHECK_EQ(st.overlay_clusters, 0);
	CHECK_EQ(load(b.dev, s.data, s.len, why, sizeof(why)), 0);
	CHECK_EQ(load_patched(b.dev, &s, runs + 4, 256, 8, why), -EINVAL);
	CHECK(why_has(why, "beyond the disk"));
	virtio_blk_stats(b.dev, &st);
	CHECK_EQ(st.overlay_clusters, 0); /* nothing of a refused load is kept */
	/* The second run moved before the first: out of order. */
	CHECK_EQ(load_patched(b.dev, &s, runs + 4 + 8 + 4 + 4096, 1, 8, why), -EINVAL);
	CHECK(why_has(why, "out of order"));
	CHECK_EQ(load_patched(b.dev, &s, runs + 4 + 8, 4095, 4, why), -EINVAL);
	CHECK_EQ(load_patched(b.dev, &s, runs, 0xffffffu, 4, why), -EINVAL);
	CHECK(why_has(why, "overlay runs"));
	CHECK_EQ(load_patched(b.dev, &s, body + 4, 0, 1, why), -EINVAL);
	CHECK(why_has(why, "is snapshot, the snapshot's was rw"));
	CHECK_EQ(load_patched(b.dev, &s, body + 5, IMG_SIZE * 2, 8, why), -EINVAL);
	CHECK(why_has(why, "has 1048576 bytes, the snapshot's had 2097152"));
	CHECK_EQ(load(b.dev, s.data, s.len, why, sizeof(why)), 0);
	b.q = a.q;
	CHECK(disk_holds(&b, 80, 4096, 0x55));
	sbuf_free(&s);
	virtio_dev_destroy(a.dev);
	virtio_dev_destroy(b.dev);
}

int main(void)
{
	log_level = -1; /* refusals are expected here */
	fake_ram_init(&ram_a, RAM_SIZE);
	fake_ram_init(&ram_b, RAM_SIZE);
	snprintf(img, sizeof(img), "/tmp/test_virtio_state.%d.img", (int) getpid());
	snprintf(img2, sizeof(img2), "/tmp/test_virtio_state.%d.img2", (int) getpid());
	image_make(img, IMG_SIZE);
	image_make(img2, IMG_SIZE);
	test_rng();
	test_interrupt();
	test_console();
	test_balloon();
	test_blk();
	test_hostile_rng();
	test_hostile_types();
	test_hostile_balloon();
	test_hostile_blk();
	unlink(img);
	unlink(img2);
	fake_ram_free(&ram_a);
	fake_ram_free(&ram_b);
	return check_done("test_virtio_state");
}
