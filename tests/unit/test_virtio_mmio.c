/* test_virtio_mmio.c - the virtio-mmio transport driven as Linux's driver does: identity,
 * feature negotiation (and its refusals), queues, notifications, interrupts, config
 * generation, reset; rng and console end to end, threaded and not; clean teardown. */
#include "virtio/mmio.h"

#include <dirent.h>
#include <errno.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "lib/log.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_driver.h"
#include "virtio/console.h"
#include "virtio/rng.h"
#include "virtio/virtq.h"

#define V1 (1ull << VIRTIO_F_VERSION_1)
#define RAM_SIZE (1u << 20)

static struct fake_ram ram;

static unsigned count_dir(const char *path)
{
	DIR *d = opendir(path);
	unsigned n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Threads of this process named virtio-* (our workers). */
static unsigned count_workers(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	while (d && (e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "virtio-", 7))
			n++;
		fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

static uint64_t eventfd_take(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static bool wait_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

static void test_identity(void)
{
	struct virtio_dev *dev = virtio_rng_create(&ram.ops);
	uint8_t b = 0x55;

	CHECK(dev != NULL);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	/* Registers take 32-bit accesses only: a byte read gives 0, a byte write nothing. */
	virtio_mmio_access(dev, VIRTIO_MMIO_MAGIC_VALUE, false, &b, 1);
	CHECK_EQ(b, 0);
	b = 0xf;
	virtio_mmio_access(dev, VIRTIO_MMIO_STATUS, true, &b, 1);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_MAGIC_VALUE + 2), 0); /* misaligned */
	CHECK_EQ(drv_r32(dev, 0x1fc), 0);			/* rng has no config */
	CHECK_EQ(drv_r32(dev, 0x200), 0);			/* outside the window */
	virtio_dev_destroy(dev);
}

static void test_features(void)
{
	struct virtio_dev *dev = virtio_rng_create(&ram.ops);

	drv_w32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	drv_w32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_DEVICE_FEATURES), 1); /* VERSION_1 is bit 32 */
	drv_w32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_DEVICE_FEATURES), 0);

	CHECK(!drv_negotiate(dev, 0)); /* a legacy driver is refused */
	CHECK(!drv_negotiate(dev, V1 | (1ull << VIRTIO_RING_F_INDIRECT_DESC))); /* not offered */
	CHECK(drv_negotiate(dev, V1));
	CHECK_EQ(virtio_dev_features(dev), V1);
	/* Features are frozen once FEATURES_OK is set. */
	drv_w32(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	drv_w32(dev, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
	CHECK_EQ(virtio_dev_features(dev), V1);
	/* Reset forgets features and status. */
	drv_w32(dev, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(virtio_dev_features(dev), 0);
	/* DRIVER_OK without FEATURES_OK is not kept. */
	drv_status_add(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_STATUS),
		 VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	CHECK_EQ(virtio_dev_offer(dev, 1ull << VIRTIO_RING_F_INDIRECT_DESC), -EINVAL);
	virtio_dev_destroy(dev);
}

static void test_queue_regs(void)
{
	struct virtio_dev *dev = virtio_rng_create(&ram.ops);
	struct drv_vq q;

	drv_vq_layout(&q, 16, FAKE_RAM_BASE);
	CHECK(drv_negotiate(dev, V1));
	drv_w32(dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_READY), 0);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_SEL, 1); /* rng has one queue */
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	drv_vq_setup(dev, 0, &q);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_READY), 1);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_DESC_LOW), q.desc);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_USED_LOW), q.used);
	/* Layout is frozen while ready. */
	drv_w32(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_DESC_LOW), q.desc);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_READY, 0);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_READY), 0);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_READY), 1);
	drv_w32(dev, VIRTIO_MMIO_STATUS, 0);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	virtio_dev_destroy(dev);
}

/* One rng request of @len bytes at @buf, driven with virtio_dev_poll. */
static void rng_request(struct virtio_dev *dev, struct drv_vq *q, uint16_t head, uint64_t buf,
			uint32_t len)
{
	drv_desc(&ram, q, head, buf, len, VRING_DESC_F_WRITE, 0);
	drv_avail_add(&ram, q, head);
	fake_ram_snapshot(&ram);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0); /* no ioeventfd: the register kicks */
	CHECK(virtio_dev_poll(dev, 1000) >= 1);
}

static void test_rng_poll(void)
{
	struct virtio_dev *dev = virtio_rng_create(&ram.ops);
	uint64_t buf = FAKE_RAM_BASE + 0x10000;
	int notify[4] = {-1, -1, -1, -1}, irqfd = -1;
	unsigned zeros = 0;
	uint32_t id = 0, len = 0;
	struct drv_vq q;

	CHECK_EQ(virtio_dev_eventfds(dev, notify, 4, &irqfd), 1);
	CHECK(notify[0] >= 0 && irqfd >= 0 && notify[0] != irqfd && notify[1] == -1);
	drv_vq_layout(&q, 8, FAKE_RAM_BASE);
	CHECK(drv_negotiate(dev, V1));
	drv_vq_setup(dev, 0, &q);
	/* Before DRIVER_OK the device must not consume buffers. */
	rng_request(dev, &q, 3, buf, 1024);
	CHECK_EQ(drv_used_idx(&ram, &q), 0);
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK); /* kicks the queue again */
	CHECK(virtio_dev_poll(dev, 1000) >= 1);
	CHECK(drv_used_get(&ram, &q, &id, &len));
	CHECK_EQ(id, 3);
	CHECK_EQ(len, 1024);
	for (unsigned i = 0; i < 1024; i++)
		zeros += !((uint8_t *) fake_at(&ram, buf))[i];
	CHECK(zeros < 64); /* random bytes, not left zero */
	CHECK_EQ(ram.begins, ram.ends);
	CHECK_EQ(ram.open, 0);
	CHECK_EQ(fake_ram_unguarded(&ram), 0);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(eventfd_take(irqfd), 1);
	drv_w32(dev, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* Level-triggered lines: after the EOI (resamplefd), the line is raised again only
	 * while InterruptStatus is not zero. */
	int resample = virtio_dev_resamplefd(dev);
	uint64_t one = 1;
	CHECK(resample >= 0 && resample != irqfd);
	CHECK_EQ(write(resample, &one, 8), 8);
	CHECK(virtio_dev_poll(dev, 1000) >= 1);
	CHECK(!wait_readable(irqfd, 0));
	rng_request(dev, &q, 4, buf, 16);
	CHECK_EQ(eventfd_take(irqfd), 1);
	CHECK_EQ(write(resample, &one, 8), 8); /* EOI without the driver's ACK */
	CHECK(virtio_dev_poll(dev, 1000) >= 1);
	CHECK_EQ(eventfd_take(irqfd), 1);
	CHECK(drv_used_get(&ram, &q, &id, &len));
	drv_w32(dev, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);

	/* Suppressed interrupts: used ring advances, no irqfd signal. */
	((struct vring_avail *) fake_at(&ram, q.avail))->flags = VRING_AVAIL_F_NO_INTERRUPT;
	rng_request(dev, &q, 5, buf, 200000); /* capped at VIRTIO_RNG_MAX_REQUEST */
	CHECK(drv_used_get(&ram, &q, &id, &len));
	CHECK_EQ(id, 5);
	CHECK_EQ(len, VIRTIO_RNG_MAX_REQUEST);
	CHECK_EQ(fake_ram_unguarded(&ram), 0);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK(!wait_readable(irqfd, 0));
	/* Only the used ring and the buffer were written. */
	CHECK(((uint8_t *) fake_at(&ram, buf + VIRTIO_RNG_MAX_REQUEST))[0] == 0);
	virtio_dev_destroy(dev);
}

/* The worker thread: kicks through the notify eventfd (as KVM's ioeventfd would),
 * interrupts through the irqfd. No thread and no fd left after destroy. */
static void test_rng_worker(void)
{
	unsigned fds0 = count_dir("/proc/self/fd");
	struct virtio_dev *dev = virtio_rng_create(&ram.ops);
	uint64_t one = 1, buf = FAKE_RAM_BASE + 0x20000;
	int notify, irqfd;
	uint32_t id = 0, len = 0;
	struct drv_vq q;

	CHECK(count_dir("/proc/self/fd") > fds0);
	virtio_dev_eventfds(dev, &notify, 1, &irqfd);
	drv_vq_layout(&q, 256, FAKE_RAM_BASE);
	CHECK(drv_negotiate(dev, V1));
	drv_vq_setup(dev, 0, &q);
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(count_workers(), 0);
	CHECK_EQ(virtio_dev_start(dev), 0);
	CHECK_EQ(count_workers(), 1);
	CHECK_EQ(virtio_dev_poll(dev, 0), -EBUSY);
	for (unsigned i = 0; i < 300; i++) { /* wraps the 256-entry ring */
		drv_desc(&ram, &q, i % 256, buf, 64, VRING_DESC_F_WRITE, 0);
		drv_avail_add(&ram, &q, i % 256);
		CHECK_EQ(write(notify, &one, sizeof(one)), 8);
		CHECK(wait_readable(irqfd, 2000));
		eventfd_take(irqfd);
		drv_w32(dev, VIRTIO_MMIO_INTERRUPT_ACK, 1);
		CHECK(drv_used_get(&ram, &q, &id, &len));
		CHECK_EQ(id, i % 256);
		CHECK_EQ(len, 64);
	}
	CHECK_EQ(ram.open, 0);
	virtio_dev_stop(dev);
	CHECK_EQ(count_workers(), 0);
	virtio_dev_destroy(dev);
	CHECK_EQ(count_dir("/proc/self/fd"), fds0);
}

struct stress {
	struct virtio_dev *dev;
	bool stop;
	unsigned reads;
};

/* A second vCPU: reads registers and config while the first resets and re-initialises. */
static void *stress_vcpu(void *arg)
{
	struct stress *st = arg;

	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
		drv_r32(st->dev, VIRTIO_MMIO_STATUS);
		drv_r32(st->dev, VIRTIO_MMIO_CONFIG_GENERATION);
		drv_r32(st->dev, VIRTIO_MMIO_INTERRUPT_STATUS);
		drv_w32(st->dev, VIRTIO_MMIO_INTERRUPT_ACK, 1);
		__atomic_fetch_add(&st->reads, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Resets while the worker serves requests: no deadlock, no stray write, and the device
 * works after the last re-initialisation. */
static void test_reset_stress(void)
{
	struct stress st = {.dev = virtio_rng_create(&ram.ops)};
	uint64_t buf = FAKE_RAM_BASE + 0x20000;
	uint32_t id = 0, len = 0;
	struct drv_vq q;
	pthread_t t;

	CHECK_EQ(virtio_dev_start(st.dev), 0);
	CHECK_EQ(pthread_create(&t, NULL, stress_vcpu, &st), 0);
	for (int i = 0; i < 1000 && __atomic_load_n(&st.reads, __ATOMIC_RELAXED) < 100; i++)
		usleep(1000); /* the second vCPU is running before the resets start */
	for (unsigned round = 0; round < 200; round++) {
		drv_w32(st.dev, VIRTIO_MMIO_STATUS, 0); /* the device lets go of RAM first */
		fake_ram_clear(&ram);
		drv_vq_layout(&q, 16, FAKE_RAM_BASE);
		CHECK(drv_negotiate(st.dev, V1));
		drv_vq_setup(st.dev, 0, &q);
		drv_status_add(st.dev, VIRTIO_CONFIG_S_DRIVER_OK);
		for (uint16_t i = 0; i < 16; i++) {
			drv_desc(&ram, &q, i, buf + i * 256ull, 256, VRING_DESC_F_WRITE, 0);
			drv_avail_add(&ram, &q, i);
			drv_w32(st.dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		}
		if (round % 2 && round < 199)
			drv_w32(st.dev, VIRTIO_MMIO_STATUS, 0); /* reset mid-flight */
	}
	for (int i = 0; i < 2000 && drv_used_idx(&ram, &q) != 16; i++)
		usleep(1000);
	__atomic_store_n(&st.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	CHECK_EQ(drv_used_idx(&ram, &q), 16);
	CHECK(drv_used_get(&ram, &q, &id, &len));
	CHECK_EQ(len, 256);
	CHECK(st.reads >= 100);
	virtio_dev_stop(st.dev);
	CHECK_EQ(ram.open, 0);
	CHECK_EQ(ram.bad_ends, 0);
	virtio_dev_destroy(st.dev);
}

static void test_config_generation(void)
{
	int out[2];
	CHECK_EQ(pipe(out), 0);
	struct virtio_dev *dev = virtio_console_create(&ram.ops, out[1], -1, -1);
	struct virtio_console_config cfg = {.cols = 80, .rows = 25};
	uint32_t gen0 = drv_r32(dev, VIRTIO_MMIO_CONFIG_GENERATION);
	int irqfd;
	uint16_t w = 0;
	uint8_t b = 0;

	virtio_dev_eventfds(dev, NULL, 0, &irqfd);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	virtio_config_update(dev, 0, &cfg, sizeof(cfg));
	CHECK(drv_r32(dev, VIRTIO_MMIO_CONFIG_GENERATION) != gen0);
	CHECK(!wait_readable(irqfd, 0)); /* no config interrupt before DRIVER_OK */
	virtio_mmio_access(dev, VIRTIO_MMIO_CONFIG, false, (uint8_t *) &w, 2);
	CHECK_EQ(w, 80);
	virtio_mmio_access(dev, VIRTIO_MMIO_CONFIG + 2, false, &b, 1);
	CHECK_EQ(b, 25);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_CONFIG), 80 | 25 << 16);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_CONFIG + 12), 0); /* past the config: zero */
	/* Console config is read-only: the write is dropped, generation unchanged. */
	gen0 = drv_r32(dev, VIRTIO_MMIO_CONFIG_GENERATION);
	drv_w32(dev, VIRTIO_MMIO_CONFIG, 0x12345678);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_CONFIG), 80 | 25 << 16);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_CONFIG_GENERATION), gen0);
	/* After DRIVER_OK a device change also raises the config interrupt (bit 1). */
	CHECK(drv_negotiate(dev, V1));
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
	cfg.cols = 132;
	virtio_config_update(dev, 0, &cfg, sizeof(cfg));
	CHECK(drv_r32(dev, VIRTIO_MMIO_CONFIG_GENERATION) != gen0);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	CHECK(wait_readable(irqfd, 0));
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_CONFIG) & 0xffff, 132);
	/* Out-of-range device updates are ignored. */
	virtio_config_update(dev, 10, &cfg, 4);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_CONFIG + 8), 0);
	virtio_dev_destroy(dev);
	close(out[0]);
	close(out[1]);
}

static void console_setup(struct virtio_dev *dev, struct drv_vq *rx, struct drv_vq *tx)
{
	uint64_t next = drv_vq_layout(rx, 16, FAKE_RAM_BASE);

	drv_vq_layout(tx, 16, next);
	CHECK(drv_negotiate(dev, V1));
	drv_vq_setup(dev, VIRTIO_CONSOLE_RX, rx);
	drv_vq_setup(dev, VIRTIO_CONSOLE_TX, tx);
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
}

static void test_console(void)
{
	int out[2], out2[2], in[2];
	CHECK_EQ(pipe(out) | pipe(out2) | pipe(in), 0);
	struct virtio_dev *dev = virtio_console_create(&ram.ops, out[1], out2[1], in[0]);
	uint64_t msg = FAKE_RAM_BASE + 0x30000, rxbuf = FAKE_RAM_BASE + 0x31000;
	char got[64] = "";
	struct drv_vq rx, tx;
	uint32_t id = 0, len = 0;

	console_setup(dev, &rx, &tx);
	/* Output: a chain of two readable buffers goes to both fds in order. */
	memcpy(fake_at(&ram, msg), "hello, ", 7);
	memcpy(fake_at(&ram, msg + 100), "hvc0\n", 5);
	drv_desc(&ram, &tx, 0, msg, 7, VRING_DESC_F_NEXT, 1);
	drv_desc(&ram, &tx, 1, msg + 100, 5, 0, 0);
	drv_avail_add(&ram, &tx, 0);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_CONSOLE_TX);
	CHECK(virtio_dev_poll(dev, 1000) >= 1);
	CHECK_EQ(read(out[0], got, sizeof(got)), 12);
	CHECK(!memcmp(got, "hello, hvc0\n", 12));
	memset(got, 0, sizeof(got));
	CHECK_EQ(read(out2[0], got, sizeof(got)), 12);
	CHECK(!memcmp(got, "hello, hvc0\n", 12));
	CHECK(drv_used_get(&ram, &tx, &id, &len));
	CHECK_EQ(id, 0);

	/* Input before any receive buffer waits; a buffer then gets it. */
	CHECK_EQ(write(in[1], "ls -l\n", 6), 6);
	CHECK(virtio_dev_poll(dev, 1000) >= 1);
	CHECK_EQ(drv_used_idx(&ram, &rx), 0);
	drv_desc(&ram, &rx, 0, rxbuf, 4, VRING_DESC_F_WRITE, 0); /* smaller than the input */
	drv_desc(&ram, &rx, 1, rxbuf + 16, 64, VRING_DESC_F_WRITE, 0);
	drv_avail_add(&ram, &rx, 0);
	drv_avail_add(&ram, &rx, 1);
	fake_ram_snapshot(&ram);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_CONSOLE_RX);
	CHECK(virtio_dev_poll(dev, 1000) >= 1);
	CHECK(drv_used_get(&ram, &rx, &id, &len));
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 4);
	CHECK(drv_used_get(&ram, &rx, &id, &len));
	CHECK_EQ(id, 1);
	CHECK_EQ(len, 2);
	CHECK(!memcmp(fake_at(&ram, rxbuf), "ls -", 4));
	CHECK(!memcmp(fake_at(&ram, rxbuf + 16), "l\n", 2));
	CHECK_EQ(fake_ram_unguarded(&ram), 0);
	CHECK_EQ(ram.open, 0);
	CHECK(drv_r32(dev, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);

	/* Wrong direction: a writable buffer on the transmit queue. */
	drv_desc(&ram, &tx, 2, msg, 8, VRING_DESC_F_WRITE, 0);
	drv_avail_add(&ram, &tx, 2);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_CONSOLE_TX);
	CHECK(virtio_dev_poll(dev, 1000) >= 1);
	CHECK(drv_r32(dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(drv_r32(dev, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	virtio_dev_destroy(dev);
	for (int i = 0; i < 2; i++) {
		close(out[i]);
		close(out2[i]);
		close(in[i]);
	}
}

/* Input with the worker running: typed bytes reach the guest's buffer. Back-pressure:
 * more input than VIRTIO_CONSOLE_INBUF with no buffers must not spin or lose order. */
static void test_console_worker(void)
{
	int out[2], in[2];
	CHECK_EQ(pipe(out) | pipe(in), 0);
	struct virtio_dev *dev = virtio_console_create(&ram.ops, out[1], -1, in[0]);
	static char big[3 * VIRTIO_CONSOLE_INBUF];
	uint64_t rxbuf = FAKE_RAM_BASE + 0x40000;
	struct drv_vq rx, tx;
	uint64_t total = 0;
	uint32_t id = 0, len = 0;
	int irqfd;
	bool order_ok = true;

	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = 'a' + i % 23;
	virtio_dev_eventfds(dev, NULL, 0, &irqfd);
	console_setup(dev, &rx, &tx);
	CHECK_EQ(virtio_dev_start(dev), 0);
	CHECK_EQ(write(in[1], big, sizeof(big)), sizeof(big));
	usleep(50 * 1000);
	for (unsigned round = 0; round < 64 && total < sizeof(big); round++) {
		uint16_t slot = round % 16;

		drv_desc(&ram, &rx, slot, rxbuf + slot * 2048ull, 2048, VRING_DESC_F_WRITE, 0);
		drv_avail_add(&ram, &rx, slot);
		drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_CONSOLE_RX);
		if (!wait_readable(irqfd, 2000))
			break;
		eventfd_take(irqfd);
		drv_w32(dev, VIRTIO_MMIO_INTERRUPT_ACK, 1);
		while (drv_used_get(&ram, &rx, &id, &len)) {
			const char *p = fake_at(&ram, rxbuf + id * 2048ull);

			order_ok &= len <= 2048 && !memcmp(p, big + total, len);
			total += len;
		}
	}
	CHECK_EQ(total, sizeof(big));
	CHECK(order_ok);
	virtio_dev_destroy(dev);
	for (int i = 0; i < 2; i++) {
		close(out[i]);
		close(in[i]);
	}
}

static int nop_notify(struct virtio_dev *dev, unsigned q)
{
	(void) dev;
	(void) q;
	return 0;
}

static int nop_watch(struct virtio_dev *dev, int fd)
{
	(void) dev;
	(void) fd;
	return 0;
}

/* Device types the layer cannot serve are refused at creation, not at run time. */
static void test_bad_types(void)
{
	struct virtio_device_type t = {.name = "t",
				       .device_id = 99,
				       .num_queues = 1,
				       .queue_max = 64,
				       .queue_notify = nop_notify};
	struct virtio_dev *dev = virtio_dev_create(&t, &ram.ops, NULL);
	int fds[VIRTIO_MAX_WATCHES + 1][2];

	CHECK(dev != NULL);
	for (int i = 0; i <= VIRTIO_MAX_WATCHES; i++) {
		CHECK_EQ(pipe(fds[i]), 0);
		CHECK_EQ(virtio_dev_watch(dev, fds[i][0], nop_watch),
			 i < VIRTIO_MAX_WATCHES ? 0 : -ENOSPC);
	}
	virtio_dev_unwatch(dev, fds[0][0]);
	CHECK_EQ(virtio_dev_watch(dev, fds[VIRTIO_MAX_WATCHES][0], nop_watch), 0);
	virtio_dev_destroy(dev);
	for (int i = 0; i <= VIRTIO_MAX_WATCHES; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	int level = log_level;
	log_level = -1;	   /* the refusals below are expected */
	t.queue_max = 100; /* not a power of two */
	CHECK(virtio_dev_create(&t, &ram.ops, NULL) == NULL);
	t.queue_max = 64;
	t.num_queues = VIRTIO_MAX_QUEUES + 1;
	CHECK(virtio_dev_create(&t, &ram.ops, NULL) == NULL);
	t.num_queues = 1;
	t.features = 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	CHECK(virtio_dev_create(&t, &ram.ops, NULL) == NULL);
	t.features = 0;
	t.config_size = VIRTIO_CONFIG_MAX + 1;
	CHECK(virtio_dev_create(&t, &ram.ops, NULL) == NULL);
	log_level = level;
}

static void test_cmdline(void)
{
	char buf[80];

	CHECK_EQ(virtio_mmio_cmdline(buf, sizeof(buf), 2, 7), 37);
	CHECK(!strcmp(buf, "virtio_mmio.device=0x200@0xd0002000:7"));
}

int main(void)
{
	log_level = getenv("V") ? 3 : 0;
	fake_ram_init(&ram, RAM_SIZE);
	fake_ram_clear(&ram);
	test_identity();
	fake_ram_clear(&ram);
	test_features();
	fake_ram_clear(&ram);
	test_queue_regs();
	fake_ram_clear(&ram);
	test_rng_poll();
	fake_ram_clear(&ram);
	test_rng_worker();
	fake_ram_clear(&ram);
	test_reset_stress();
	fake_ram_clear(&ram);
	test_config_generation();
	fake_ram_clear(&ram);
	test_console();
	fake_ram_clear(&ram);
	test_console_worker();
	fake_ram_clear(&ram);
	test_bad_types();
	test_cmdline();
	fake_ram_free(&ram);
	return check_done("test_virtio_mmio");
}
