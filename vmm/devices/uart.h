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

struct sbuf;
struct sbuf_reader;

/* Snapshot: append the UART's registers (LCR, IER, MCR, scratch, FCR, divisor), its
 * pending THRE interrupt and the partial output line not yet written out to @out. The
 * guest's vCPUs must be paused. Returns 0 or -ENOMEM. */
int uart_save(struct uart *u, struct sbuf *out);

/* Restore into a UART just created (its fds and line are the new guest's; the partial
 * line is written to them with the rest of it). Every value is checked: 0, or -EINVAL with
 * the reason in @in->why (the UART is then unchanged). The line's level is not driven:
 * it is part of the interrupt controller's state, which is restored with the vCPUs. */
int uart_load(struct uart *u, struct sbuf_reader *in);

/* Flush and free. */
void uart_destroy(struct uart *u);

#endif
