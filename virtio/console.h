/* console.h - virtio console (hvc0): one port, no multiport; output to files, input from
 * a file descriptor. */
#ifndef VIRTIO_CONSOLE_H
#define VIRTIO_CONSOLE_H

#include "virtio/virtio.h"

/* Queue indices (single port, VIRTIO_CONSOLE_F_MULTIPORT not offered). */
#define VIRTIO_CONSOLE_RX 0 /* receiveq: host input into the driver's writable buffers */
#define VIRTIO_CONSOLE_TX 1 /* transmitq: the driver's output */

/* Bytes of input held while the driver has no receive buffer; past that the input fd is
 * not read (back-pressure) until buffers arrive. */
#define VIRTIO_CONSOLE_INBUF 4096

/* A virtio console over @mem. Guest output goes to @out_fd and, if >= 0, also to
 * @out2_fd (stdout when there is one guest); input is read from @in_fd if >= 0 (stdin
 * when there is one guest; it must be pollable, or input is disabled with a warning).
 * The fds stay the caller's (not closed) and must outlive the device. NULL on error. */
struct virtio_dev *virtio_console_create(const struct virtio_mem_ops *mem, int out_fd, int out2_fd,
					 int in_fd);

#endif
