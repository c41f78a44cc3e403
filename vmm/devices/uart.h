/* uart.h - an 8250/16550-compatible UART on COM1 whose output needs no interrupt. */
#ifndef VMM_UART_H
#define VMM_UART_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/devices/bus.h"

#define UART_COM1_BASE 0x3f8
#define UART_NR_PORTS 8

struct uart;

/* A UART writing every transmitted byte to @out_fd and, if @tee_fd >= 0, also to @tee_fd.
 * The fds stay owned by the caller. Returns NULL on allocation failure. */
struct uart *uart_create(int out_fd, int tee_fd);

/* Register the UART's 8 ports at @base on @bus. Returns 0 or -errno. */
int uart_attach(struct uart *u, struct bus *bus, uint16_t base);

/* Called with the UART's lock held whenever its interrupt output changes level
 * (THRE interrupt pending, enabled in IER and gated by MCR.OUT2); @level true = raise. */
typedef void (*uart_irq_fn)(void *opaque, bool level);

/* Give the UART an interrupt line (e.g. KVM_IRQ_LINE on IRQ 4 with an in-kernel irqchip).
 * Optional: polling drivers (early consoles, printk) work without; Linux's tty output
 * (what /init prints) needs it. Call before the vCPUs run. */
void uart_set_irq(struct uart *u, uart_irq_fn fn, void *opaque);

/* Write out a partial line still buffered (output is flushed at each newline). */
void uart_flush(struct uart *u);

/* Flush and free. */
void uart_destroy(struct uart *u);

#endif
