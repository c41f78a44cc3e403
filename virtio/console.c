/* console.c - virtio console, single port (hvc0 in the guest): the transmit queue's
 * readable buffers are written to the output fds; input read from the input fd (by the
 * worker, when it is readable) fills the receive queue's writable buffers. */
#define pr_fmt(fmt) "virtio-console: " fmt

#include "virtio/console.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sbuf.h"
#include "virtio/virtq.h"

struct console {
	int out_fd, out2_fd, in_fd;
	bool in_watched; /* in_fd is polled by the worker */
	bool in_eof;	 /* in_fd ended or failed: never polled again */
	size_t in_len;	 /* bytes waiting in in_buf */
	uint8_t in_buf[VIRTIO_CONSOLE_INBUF];
};

static bool console_live(struct virtio_dev *dev)
{
	uint8_t s = virtio_dev_status(dev);

	return (s & VIRTIO_CONFIG_S_DRIVER_OK) && !(s & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* Output is best effort: a full pipe or a closed terminal must not stop the guest. */
static void console_write_all(int fd, const uint8_t *p, size_t len)
{
	while (fd >= 0 && len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= n;
	}
}

static int console_output(struct virtio_dev *dev, struct virtq *vq, const struct virtq_chain *c)
{
	const struct virtio_mem_ops *mem = virtio_dev_mem(dev);
	struct console *con = virtio_dev_priv(dev);

	if (c->nr_in) {
		vq->error = "writable buffer on the transmit queue";
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->nr_out; i++) {
		const uint8_t *p = mem->read(mem->opaque, c->buf[i].gpa, c->buf[i].len);

		if (!p && c->buf[i].len)
			return -EFAULT;
		console_write_all(con->out_fd, p, c->buf[i].len);
		console_write_all(con->out2_fd, p, c->buf[i].len);
	}
	return 0;
}

static int console_tx(struct virtio_dev *dev, struct virtq *vq)
{
	struct virtq_chain c;
	int ret = 0;

	for (unsigned n = 0; n < vq->size && (ret = virtq_pop(vq, &c)) > 0; n++) {
		ret = console_output(dev, vq, &c);
		if (!ret)
			ret = virtq_push(vq, c.head, 0);
		if (ret)
			return ret;
		ret = 1;
	}
	virtio_dev_signal_used(dev, VIRTIO_CONSOLE_TX);
	if (ret > 0) /* a queue's worth done: come back after other events */
		virtio_dev_kick(dev, VIRTIO_CONSOLE_TX);
	return ret < 0 ? ret : 0;
}

static int console_input(struct virtio_dev *dev, int fd);

/* Poll the input fd again once there is room (called on the worker). */
static void console_rewatch(struct virtio_dev *dev, struct console *con)
{
	int ret;

	if (con->in_watched || con->in_eof || con->in_fd < 0 || con->in_len == sizeof(con->in_buf))
		return;
	ret = virtio_dev_watch(dev, con->in_fd, console_input);
	if (ret) {
		pr_warn("%s: input disabled: %s", virtio_dev_name(dev), strerror(-ret));
		con->in_eof = true;
		return;
	}
	con->in_watched = true;
}

/* Move waiting input into receive buffers, one chain at a time. */
static int console_deliver(struct virtio_dev *dev, struct console *con)
{
	struct virtq *vq = virtio_dev_queue(dev, VIRTIO_CONSOLE_RX);
	struct virtq_chain c;
	ssize_t n;
	int ret = 0;

	while (con->in_len && console_live(dev) && (ret = virtq_pop(vq, &c)) > 0) {
		if (c.nr_out || !c.nr_in) {
			vq->error = "readable buffer on the receive queue";
			return -EINVAL;
		}
		n = virtq_chain_write(vq, &c, 0, con->in_buf, con->in_len);
		if (n < 0)
			return n;
		ret = virtq_push(vq, c.head, n);
		if (ret)
			return ret;
		memmove(con->in_buf, con->in_buf + n, con->in_len - n);
		con->in_len -= n;
	}
	virtio_dev_signal_used(dev, VIRTIO_CONSOLE_RX);
	return ret < 0 ? ret : 0;
}

/* Worker: the input fd is readable. Stop polling it while the buffer is full (the driver
 * has no receive buffers); console_rx resumes once it has. */
static int console_input(struct virtio_dev *dev, int fd)
{
	struct console *con = virtio_dev_priv(dev);
	ssize_t n = read(fd, con->in_buf + con->in_len, sizeof(con->in_buf) - con->in_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		con->in_eof = true;
	} else {
		con->in_len += n;
	}
	if (con->in_eof || con->in_len == sizeof(con->in_buf)) {
		virtio_dev_unwatch(dev, fd);
		con->in_watched = false;
	}
	return console_deliver(dev, con);
}

static int console_rx(struct virtio_dev *dev, struct console *con)
{
	int ret = console_deliver(dev, con);

	console_rewatch(dev, con);
	return ret;
}

static int console_notify(struct virtio_dev *dev, unsigned q)
{
	struct console *con = virtio_dev_priv(dev);

	if (q == VIRTIO_CONSOLE_TX)
		return console_tx(dev, virtio_dev_queue(dev, q));
	return console_rx(dev, con);
}

static void console_destroy(struct virtio_dev *dev)
{
	free(virtio_dev_priv(dev));
}

/* Snapshot: input read from the host but not yet given to the driver was typed at the
 * guest, so it goes with it. The host side (the fds, whether the input fd is polled or
 * ended) is the new device's own: a restored console prints on its guest's console fd.
 * Output is never held (each transmit chain is written out before it is used). */
#define CONSOLE_STATE_VERSION 1u

static int console_save(struct virtio_dev *dev, struct sbuf *out)
{
	struct console *con = virtio_dev_priv(dev);

	sbuf_put_u32(out, CONSOLE_STATE_VERSION);
	sbuf_put_blob(out, con->in_buf, (uint32_t) con->in_len);
	return 0;
}

static int console_load(struct virtio_dev *dev, struct sbuf_reader *in)
{
	struct console *con = virtio_dev_priv(dev);
	uint32_t version = sbuf_get_u32(in), len;
	const void *p;

	if (!sbuf_check(in, sbuf_error(in) || version == CONSOLE_STATE_VERSION,
			"unknown console state version %u", version))
		return -EINVAL;
	p = sbuf_get_blob(in, &len);
	if (sbuf_error(in) ||
	    !sbuf_check(in, len <= sizeof(con->in_buf), "%u bytes of pending input (at most %zu)",
			len, sizeof(con->in_buf)))
		return -EINVAL;
	if (len)
		memcpy(con->in_buf, p, len);
	con->in_len = len;
	if (con->in_len == sizeof(con->in_buf) && con->in_watched) {
		virtio_dev_unwatch(dev, con->in_fd); /* full: back-pressure, as console_input */
		con->in_watched = false;
	}
	return 0;
}

static const struct virtio_device_type console_type = {
    .name = "console",
    .device_id = VIRTIO_ID_CONSOLE,
    .num_queues = 2,
    .queue_max = 256,
    .config_size = sizeof(struct virtio_console_config),
    .queue_notify = console_notify,
    .destroy = console_destroy,
    .save = console_save,
    .load = console_load,
};

struct virtio_dev *virtio_console_create(const struct virtio_mem_ops *mem, int out_fd, int out2_fd,
					 int in_fd)
{
	struct console *con = calloc(1, sizeof(*con));
	struct virtio_dev *dev;

	if (!con)
		return NULL;
	con->out_fd = out_fd;
	con->out2_fd = out2_fd;
	con->in_fd = in_fd;
	dev = virtio_dev_create(&console_type, mem, con);
	if (!dev) {
		free(con);
		return NULL;
	}
	console_rewatch(dev, con);
	return dev;
}
