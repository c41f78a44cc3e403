/* uart.c - 8250/16550A UART: transmit to file descriptors, never any input.
 *
 * The transmitter is infinitely fast: THR and the shift register are always empty
 * (LSR = THRE | TEMT), so polling drivers (early consoles, printk) never wait. The THRE
 * interrupt follows the 16550: pending when IER.ETBEI is enabled with THR empty and after
 * each transmitted byte, cleared by an IIR read that reports it. It reaches the guest only
 * if a line was set with uart_set_irq and MCR.OUT2 is set (as on a PC); an interrupt-driven
 * driver (Linux's tty output) needs it, a polling one does not.
 */
#define pr_fmt(fmt) "uart: " fmt

#include "vmm/devices/uart.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sbuf.h"

/* Register offsets and bits, as in the 16550 data sheet. */
enum {
	REG_DATA = 0, /* RBR (read) / THR (write); DLL when LCR.DLAB */
	REG_IER = 1,  /* DLM when LCR.DLAB */
	REG_IIR = 2,  /* IIR (read) / FCR (write) */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};
#define IER_ETBEI 0x02
#define IER_MASK 0x0f
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define LCR_DLAB 0x80
#define LSR_IDLE 0x60 /* THRE | TEMT */
#define MCR_LOOP 0x10
#define MCR_OUT2 0x08
#define MCR_MASK 0x1f
#define MSR_IDLE 0xb0 /* DCD | DSR | CTS: a connected modem */

#define UART_LINE_MAX 1024

struct uart {
	pthread_mutex_t lock; /* protects everything below; vCPU threads share a UART */
	int out_fd;
	int tee_fd;
	uint16_t base;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thr_pending;    /* THRE interrupt waiting to be reported */
	bool irq_level;	     /* last level given to set_irq */
	uart_irq_fn set_irq; /* NULL: no interrupt line */
	void *irq_opaque;
	unsigned write_errors; /* failed writes to out_fd/tee_fd (logged once) */
	size_t len;	       /* bytes in line */
	char line[UART_LINE_MAX];
};

struct uart *uart_create(int out_fd, int tee_fd)
{
	struct uart *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	pthread_mutex_init(&u->lock, NULL);
	u->out_fd = out_fd;
	u->tee_fd = tee_fd;
	u->dll = 12; /* 9600 baud, as after a BIOS */
	u->lcr = 0x03;
	return u;
}

/* Write all of @buf to @fd, waiting if it is non-blocking and full. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};

			poll(&p, 1, 1000);
			continue;
		}
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t) n;
	}
	return 0;
}

/* Must hold u->lock. */
static void uart_flush_locked(struct uart *u)
{
	int ret = 0;

	if (u->out_fd >= 0)
		ret = write_all(u->out_fd, u->line, u->len);
	if (u->tee_fd >= 0)
		ret = write_all(u->tee_fd, u->line, u->len) ?: ret;
	if (ret && u->write_errors++ == 0)
		pr_warn("cannot write console output: %s", strerror(-ret));
	u->len = 0;
}

static void uart_transmit(struct uart *u, uint8_t c)
{
	u->line[u->len++] = (char) c;
	if (c == '\n' || u->len == sizeof(u->line))
		uart_flush_locked(u);
	u->thr_pending = true;
}

static uint8_t uart_iir(struct uart *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((u->ier & IER_ETBEI) && u->thr_pending) {
		u->thr_pending = false; /* reading IIR acknowledges THRE */
		return fifo | IIR_THRI;
	}
	return fifo | IIR_NO_INT;
}

/* Modem status: in loopback the outputs of MCR feed back (RTS->CTS, DTR->DSR,
 * OUT1->RI, OUT2->DCD), which is how drivers probe for a UART. */
static uint8_t uart_msr(const struct uart *u)
{
	uint8_t m = u->mcr;

	if (!(m & MCR_LOOP))
		return MSR_IDLE;
	return (uint8_t) (((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) |
			  ((m & 0x08) << 4));
}

static void uart_update_irq(struct uart *u)
{
	bool level = (u->ier & IER_ETBEI) && u->thr_pending && (u->mcr & MCR_OUT2);

	if (u->set_irq && level != u->irq_level)
		u->set_irq(u->irq_opaque, level);
	u->irq_level = level;
}

static void uart_write_reg(struct uart *u, unsigned reg, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_DATA:
		if (dlab)
			u->dll = v;
		else if (!(u->mcr & MCR_LOOP))
			uart_transmit(u, v);
		else
			u->thr_pending = true; /* looped back; we have no receiver */
		break;
	case REG_IER:
		if (dlab) {
			u->dlm = v;
			break;
		}
		/* Enabling ETBEI with THR empty raises THRE at once, like a 16550. */
		u->thr_pending = (v & IER_ETBEI) && (!(u->ier & IER_ETBEI) || u->thr_pending);
		u->ier = v & IER_MASK;
		break;
	case REG_IIR: u->fcr = v & 0xc9; break; /* enable, DMA mode, trigger level */
	case REG_LCR: u->lcr = v; break;
	case REG_MCR: u->mcr = v & MCR_MASK; break;
	case REG_SCR: u->scr = v; break;
	default: break; /* LSR and MSR writes are ignored */
	}
}

static uint8_t uart_read_reg(struct uart *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_DATA: return dlab ? u->dll : 0; /* no input, ever */
	case REG_IER: return dlab ? u->dlm : u->ier;
	case REG_IIR: return uart_iir(u);
	case REG_LCR: return u->lcr;
	case REG_MCR: return u->mcr;
	case REG_LSR: return LSR_IDLE;
	case REG_MSR: return uart_msr(u);
	case REG_SCR: return u->scr;
	default: return 0xff;
	}
}

/* bus_fn: a wider access touches consecutive registers, one byte each. */
static void uart_io(void *opaque, uint64_t port, bool write, uint8_t *data, unsigned size)
{
	struct uart *u = opaque;

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < size; i++) {
		unsigned reg = (unsigned) (port - u->base) + i;

		if (reg >= UART_NR_PORTS)
			data[i] = write ? data[i] : 0xff;
		else if (write)
			uart_write_reg(u, reg, data[i]);
		else
			data[i] = uart_read_reg(u, reg);
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

int uart_attach(struct uart *u, struct bus *bus, uint16_t base)
{
	u->base = base;
	return bus_register(bus, BUS_PIO, base, UART_NR_PORTS, uart_io, u);
}

void uart_set_irq(struct uart *u, uart_irq_fn fn, void *opaque)
{
	pthread_mutex_lock(&u->lock);
	u->set_irq = fn;
	u->irq_opaque = opaque;
	u->irq_level = false;
	pthread_mutex_unlock(&u->lock);
}

/* Saved state: u32 version, u8 IER, LCR, MCR, SCR, FCR, DLL, DLM, u8 THRE pending,
 * u8 line level, blob the partial line. */
#define UART_STATE_VERSION 1u

int uart_save(struct uart *u, struct sbuf *out)
{
	pthread_mutex_lock(&u->lock);
	sbuf_put_u32(out, UART_STATE_VERSION);
	sbuf_put_u8(out, u->ier);
	sbuf_put_u8(out, u->lcr);
	sbuf_put_u8(out, u->mcr);
	sbuf_put_u8(out, u->scr);
	sbuf_put_u8(out, u->fcr);
	sbuf_put_u8(out, u->dll);
	sbuf_put_u8(out, u->dlm);
	sbuf_put_u8(out, u->thr_pending);
	sbuf_put_u8(out, u->irq_level);
	sbuf_put_blob(out, u->line, (uint32_t) u->len);
	pthread_mutex_unlock(&u->lock);
	return out->err;
}

/* Decoded registers of a saved UART, checked before they are used. */
struct uart_image {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	uint8_t thr_pending, irq_level;
	const void *line;
	uint32_t len;
};

/* Read and check: the values uart_write_reg can leave, a line shorter than the buffer. */
static bool uart_get_image(struct sbuf_reader *in, struct uart_image *m)
{
	m->ier = sbuf_get_u8(in);
	m->lcr = sbuf_get_u8(in);
	m->mcr = sbuf_get_u8(in);
	m->scr = sbuf_get_u8(in);
	m->fcr = sbuf_get_u8(in);
	m->dll = sbuf_get_u8(in);
	m->dlm = sbuf_get_u8(in);
	m->thr_pending = sbuf_get_u8(in);
	m->irq_level = sbuf_get_u8(in);
	m->line = sbuf_get_blob(in, &m->len);
	return !sbuf_error(in) && sbuf_check(in, !(m->ier & ~IER_MASK), "IER 0x%x", m->ier) &&
	       sbuf_check(in, !(m->mcr & ~MCR_MASK), "MCR 0x%x", m->mcr) &&
	       sbuf_check(in, !(m->fcr & ~0xc9), "FCR 0x%x", m->fcr) &&
	       sbuf_check(in, m->thr_pending <= 1 && m->irq_level <= 1, "flags %u %u",
			  m->thr_pending, m->irq_level) &&
	       sbuf_check(in, m->len < UART_LINE_MAX, "partial line of %u bytes", m->len);
}

int uart_load(struct uart *u, struct sbuf_reader *in)
{
	uint32_t version = sbuf_get_u32(in);
	struct uart_image m;

	if (!sbuf_check(in, sbuf_error(in) || version == UART_STATE_VERSION,
			"unknown uart state version %u", version) ||
	    !uart_get_image(in, &m))
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	u->ier = m.ier;
	u->lcr = m.lcr;
	u->mcr = m.mcr;
	u->scr = m.scr;
	u->fcr = m.fcr;
	u->dll = m.dll;
	u->dlm = m.dlm;
	u->thr_pending = m.thr_pending;
	u->irq_level = m.irq_level; /* the level the restored irqchip holds for the line */
	if (m.len)
		memcpy(u->line, m.line, m.len);
	u->len = m.len;
	pthread_mutex_unlock(&u->lock);
	return 0;
}

void uart_flush(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	if (u->len)
		uart_flush_locked(u);
	pthread_mutex_unlock(&u->lock);
}

void uart_destroy(struct uart *u)
{
	if (!u)
		return;
	uart_flush(u);
	pthread_mutex_destroy(&u->lock);
	free(u);
}
