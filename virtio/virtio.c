/* virtio.c - the device core: creation, eventfds, the worker thread, config space,
 * interrupts and the error state (DEVICE_NEEDS_RESET). The register file is mmio.c. */
#define pr_fmt(fmt) "virtio: " fmt

#include "virtio/virtio.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "virtio/internal.h"

/* epoll tags: queue index, stop, or WATCH_TAG + watch slot. */
#define VIRTIO_STOP_TAG 0x100u
#define VIRTIO_RESAMPLE_TAG 0x101u
#define VIRTIO_WATCH_TAG 0x200u

#define VIRTIO_LOG_INTERVAL_US (10 * 1000 * 1000ull)

/* Transport features this layer refuses to offer (not implemented). */
#define VIRTIO_UNSUPPORTED                                                                         \
	((1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX) |               \
	 (1ull << VIRTIO_F_RING_PACKED))

bool virtio_log_ok(uint64_t *stamp)
{
	uint64_t now = clock_now_us();
	uint64_t last = __atomic_load_n(stamp, __ATOMIC_RELAXED);

	if (last && now - last < VIRTIO_LOG_INTERVAL_US)
		return false;
	return __atomic_compare_exchange_n(stamp, &last, now, false, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}

static bool virtio_type_ok(const struct virtio_device_type *t)
{
	uint16_t m = t->queue_max;

	return t->name && t->queue_notify && t->num_queues >= 1 &&
	       t->num_queues <= VIRTIO_MAX_QUEUES && m && !(m & (m - 1)) && m <= VIRTQ_MAX_SIZE &&
	       t->config_size <= VIRTIO_CONFIG_MAX && !(t->features & VIRTIO_UNSUPPORTED);
}

static int virtio_epoll_add(struct virtio_dev *dev, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

	if (epoll_ctl(dev->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static int virtio_eventfd(int *fd)
{
	*fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

static void virtio_dev_close_fds(struct virtio_dev *dev)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (dev->notify_fd[q] >= 0)
			close(dev->notify_fd[q]);
	if (dev->irq_fd >= 0)
		close(dev->irq_fd);
	if (dev->stop_fd >= 0)
		close(dev->stop_fd);
	if (dev->resample_fd >= 0)
		close(dev->resample_fd);
	if (dev->epoll_fd >= 0)
		close(dev->epoll_fd);
}

/* All fds start at -1 so that virtio_dev_close_fds can undo a partial open. */
static int virtio_dev_open_fds(struct virtio_dev *dev)
{
	int ret;

	dev->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (dev->epoll_fd < 0)
		return -errno;
	ret = virtio_eventfd(&dev->irq_fd);
	if (!ret)
		ret = virtio_eventfd(&dev->stop_fd);
	if (!ret)
		ret = virtio_epoll_add(dev, dev->stop_fd, VIRTIO_STOP_TAG);
	if (!ret)
		ret = virtio_eventfd(&dev->resample_fd);
	if (!ret)
		ret = virtio_epoll_add(dev, dev->resample_fd, VIRTIO_RESAMPLE_TAG);
	for (unsigned q = 0; !ret && q < dev->type->num_queues; q++) {
		ret = virtio_eventfd(&dev->notify_fd[q]);
		if (!ret)
			ret = virtio_epoll_add(dev, dev->notify_fd[q], q);
	}
	return ret;
}

static void virtio_dev_init_fields(struct virtio_dev *dev, const struct virtio_device_type *type,
				   const struct virtio_mem_ops *mem, void *priv)
{
	dev->type = type;
	dev->mem = *mem;
	dev->priv = priv;
	dev->offered = type->features | (1ull << VIRTIO_F_VERSION_1);
	dev->epoll_fd = dev->irq_fd = dev->stop_fd = dev->resample_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->notify_fd[q] = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_WATCHES; i++)
		dev->watch[i].fd = -1;
	pthread_mutex_init(&dev->lock, NULL);
	pthread_mutex_init(&dev->cfg_lock, NULL);
}

struct virtio_dev *virtio_dev_create(const struct virtio_device_type *type,
				     const struct virtio_mem_ops *mem, void *priv)
{
	struct virtio_dev *dev;
	int ret;

	if (!type || !virtio_type_ok(type) || !mem || !mem->read || !mem->write_begin ||
	    !mem->write_end) {
		pr_err("device type %s: invalid description",
		       type && type->name ? type->name : "?");
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	virtio_dev_init_fields(dev, type, mem, priv);
	ret = virtio_dev_open_fds(dev);
	if (ret) {
		pr_err("%s: cannot create eventfds: %s", type->name, strerror(-ret));
		goto err_close_fds;
	}
	return dev;

err_close_fds:
	virtio_dev_close_fds(dev);
	pthread_mutex_destroy(&dev->cfg_lock);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
	return NULL;
}

void virtio_dev_destroy(struct virtio_dev *dev)
{
	if (!dev)
		return;
	virtio_dev_stop(dev);
	if (dev->type->destroy)
		dev->type->destroy(dev);
	virtio_dev_close_fds(dev);
	pthread_mutex_destroy(&dev->cfg_lock);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

int virtio_dev_offer(struct virtio_dev *dev, uint64_t features)
{
	if (features & VIRTIO_UNSUPPORTED)
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	dev->offered = features | (1ull << VIRTIO_F_VERSION_1);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

int virtio_dev_eventfds(struct virtio_dev *dev, int *notify, unsigned max, int *irqfd)
{
	for (unsigned q = 0; q < dev->type->num_queues && q < max; q++)
		notify[q] = dev->notify_fd[q];
	if (irqfd)
		*irqfd = dev->irq_fd;
	return dev->type->num_queues;
}

int virtio_dev_resamplefd(struct virtio_dev *dev)
{
	return dev->resample_fd;
}

static void virtio_eventfd_signal(int fd)
{
	uint64_t one = 1;

	/* Only fails when the counter would overflow: it is signalled already. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

static void virtio_eventfd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return; /* EAGAIN: nothing pending */
}

void virtio_dev_interrupt(struct virtio_dev *dev, uint32_t bits)
{
	/* Seq-cst RMW before the irqfd write: the guest's handler, woken by the interrupt,
	 * reads InterruptStatus through an MMIO exit (virtio_mmio_access) and sees @bits. */
	__atomic_fetch_or(&dev->isr, bits, __ATOMIC_SEQ_CST);
	virtio_eventfd_signal(dev->irq_fd);
}

static bool virtio_dev_live(struct virtio_dev *dev)
{
	uint32_t s = __atomic_load_n(&dev->status, __ATOMIC_ACQUIRE);

	return (s & VIRTIO_CONFIG_S_DRIVER_OK) && !(s & VIRTIO_CONFIG_S_NEEDS_RESET);
}

void virtio_dev_fail(struct virtio_dev *dev, int err, const char *why)
{
	uint32_t old =
	    __atomic_fetch_or(&dev->status, VIRTIO_CONFIG_S_NEEDS_RESET, __ATOMIC_SEQ_CST);

	if (old & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	if (old & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_dev_interrupt(dev, VIRTIO_MMIO_INT_CONFIG);
	if (virtio_log_ok(&dev->fail_log_us))
		pr_warn("%s: guest error (%s: %s): device needs reset", virtio_dev_name(dev), why,
			strerror(err < 0 ? -err : err));
}

static void virtio_dev_run_queue(struct virtio_dev *dev, unsigned q)
{
	int ret;

	virtio_eventfd_drain(dev->notify_fd[q]);
	pthread_mutex_lock(&dev->lock);
	if (virtio_dev_live(dev) && dev->vq[q].ready) {
		dev->vq[q].error = NULL;
		ret = dev->type->queue_notify(dev, q);
		if (ret < 0)
			virtio_dev_fail(dev, ret,
					dev->vq[q].error ? dev->vq[q].error : "bad request");
	}
	pthread_mutex_unlock(&dev->lock);
}

static void virtio_dev_run_watch(struct virtio_dev *dev, unsigned slot)
{
	struct virtio_watch *w = &dev->watch[slot];
	int ret;

	pthread_mutex_lock(&dev->lock);
	if (w->fd >= 0) {
		ret = w->fn(dev, w->fd);
		if (ret < 0)
			virtio_dev_fail(dev, ret, "watch");
	}
	pthread_mutex_unlock(&dev->lock);
}

/* The guest's EOI lowered the line: raise it again if something is still pending. */
static void virtio_dev_resample(struct virtio_dev *dev)
{
	virtio_eventfd_drain(dev->resample_fd);
	if (__atomic_load_n(&dev->isr, __ATOMIC_SEQ_CST))
		virtio_eventfd_signal(dev->irq_fd);
}

/* Handle one epoll event. Returns false for the stop request. */
static bool virtio_dev_dispatch(struct virtio_dev *dev, uint32_t tag)
{
	if (tag == VIRTIO_STOP_TAG)
		return false;
	if (tag == VIRTIO_RESAMPLE_TAG)
		virtio_dev_resample(dev);
	else if (tag >= VIRTIO_WATCH_TAG && tag < VIRTIO_WATCH_TAG + VIRTIO_MAX_WATCHES)
		virtio_dev_run_watch(dev, tag - VIRTIO_WATCH_TAG);
	else if (tag < dev->type->num_queues)
		virtio_dev_run_queue(dev, tag);
	return true;
}

/* One round; *@stop is set when the stop eventfd fired. */
static int virtio_dev_round(struct virtio_dev *dev, int timeout_ms, bool *stop)
{
	struct epoll_event ev[VIRTIO_MAX_QUEUES + VIRTIO_MAX_WATCHES + 1];
	int n = epoll_wait(dev->epoll_fd, ev, sizeof(ev) / sizeof(ev[0]), timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++)
		if (!virtio_dev_dispatch(dev, ev[i].data.u32))
			*stop = true;
	return n;
}

int virtio_dev_poll(struct virtio_dev *dev, int timeout_ms)
{
	bool stop = false;

	if (dev->running)
		return -EBUSY;
	return virtio_dev_round(dev, timeout_ms, &stop);
}

static void *virtio_dev_worker(void *arg)
{
	struct virtio_dev *dev = arg;
	bool stop = false;

	while (!stop) {
		int ret = virtio_dev_round(dev, -1, &stop);

		if (ret < 0) {
			pr_err("%s: worker: epoll_wait: %s", virtio_dev_name(dev), strerror(-ret));
			break;
		}
	}
	return NULL;
}

int virtio_dev_start(struct virtio_dev *dev)
{
	char name[16];
	int ret;

	if (dev->running)
		return -EBUSY;
	ret = pthread_create(&dev->worker, NULL, virtio_dev_worker, dev);
	if (ret)
		return -ret;
	snprintf(name, sizeof(name), "virtio-%s", dev->type->name); /* for top -H, gdb */
	pthread_setname_np(dev->worker, name);
	dev->running = true;
	/* A restored device's pending interrupt: the snapshot was taken between setting
	 * InterruptStatus and the driver's acknowledgement, and whether the line's edge
	 * reached the new guest's irqchip is not known. Only now, with the irqchip restored
	 * and the irqfd registered, can it be raised again; an extra interrupt finds
	 * InterruptStatus read and is harmless, a lost one would hang the driver. */
	if (dev->restored && __atomic_load_n(&dev->isr, __ATOMIC_SEQ_CST))
		virtio_eventfd_signal(dev->irq_fd);
	dev->restored = false;
	return 0;
}

void virtio_dev_stop(struct virtio_dev *dev)
{
	if (!dev->running)
		return;
	virtio_eventfd_signal(dev->stop_fd);
	pthread_join(dev->worker, NULL);
	virtio_eventfd_drain(dev->stop_fd);
	dev->running = false;
}

int virtio_dev_watch(struct virtio_dev *dev, int fd, int (*fn)(struct virtio_dev *dev, int fd))
{
	for (unsigned i = 0; i < VIRTIO_MAX_WATCHES; i++) {
		int ret;

		if (dev->watch[i].fd >= 0)
			continue;
		ret = virtio_epoll_add(dev, fd, VIRTIO_WATCH_TAG + i);
		if (ret)
			return ret;
		dev->watch[i].fn = fn;
		dev->watch[i].fd = fd;
		return 0;
	}
	return -ENOSPC;
}

void virtio_dev_unwatch(struct virtio_dev *dev, int fd)
{
	for (unsigned i = 0; i < VIRTIO_MAX_WATCHES; i++) {
		if (dev->watch[i].fd != fd)
			continue;
		epoll_ctl(dev->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		dev->watch[i].fd = -1;
	}
}

void *virtio_dev_priv(struct virtio_dev *dev)
{
	return dev->priv;
}

const struct virtio_mem_ops *virtio_dev_mem(struct virtio_dev *dev)
{
	return &dev->mem;
}

struct virtq *virtio_dev_queue(struct virtio_dev *dev, unsigned q)
{
	return q < dev->type->num_queues ? &dev->vq[q] : NULL;
}

uint64_t virtio_dev_features(struct virtio_dev *dev)
{
	return dev->accepted;
}

uint8_t virtio_dev_status(struct virtio_dev *dev)
{
	return __atomic_load_n(&dev->status, __ATOMIC_ACQUIRE);
}

const char *virtio_dev_name(struct virtio_dev *dev)
{
	return dev->label[0] ? dev->label : dev->type->name;
}

void virtio_dev_set_label(struct virtio_dev *dev, const char *label)
{
	snprintf(dev->label, sizeof(dev->label), "%s", label);
}

void virtio_dev_signal_used(struct virtio_dev *dev, unsigned q)
{
	if (q < dev->type->num_queues && virtq_needs_interrupt(&dev->vq[q]))
		virtio_dev_interrupt(dev, VIRTIO_MMIO_INT_VRING);
}

void virtio_dev_kick(struct virtio_dev *dev, unsigned q)
{
	if (q < dev->type->num_queues)
		virtio_eventfd_signal(dev->notify_fd[q]);
}

void virtio_dev_reset(struct virtio_dev *dev)
{
	__atomic_store_n(&dev->status, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&dev->isr, 0, __ATOMIC_RELAXED);
	dev->accepted = 0;
	dev->dev_feat_sel = dev->drv_feat_sel = dev->queue_sel = 0;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&dev->vq[q]);
	if (dev->type->reset)
		dev->type->reset(dev);
}

static bool virtio_config_range(struct virtio_dev *dev, uint32_t off, uint32_t len)
{
	return off <= dev->type->config_size && len <= dev->type->config_size - off;
}

void virtio_config_update(struct virtio_dev *dev, uint32_t off, const void *data, uint32_t len)
{
	if (!virtio_config_range(dev, off, len))
		return;
	pthread_mutex_lock(&dev->cfg_lock);
	memcpy(dev->config + off, data, len);
	dev->generation++;
	pthread_mutex_unlock(&dev->cfg_lock);
	if (virtio_dev_live(dev))
		virtio_dev_interrupt(dev, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_config_get(struct virtio_dev *dev, uint32_t off, void *data, uint32_t len)
{
	if (!virtio_config_range(dev, off, len)) {
		memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&dev->cfg_lock);
	memcpy(data, dev->config + off, len);
	pthread_mutex_unlock(&dev->cfg_lock);
}
