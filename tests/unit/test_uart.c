/* test_uart.c - the 16550 UART: driver probes, line-buffered output, THRE interrupt, and
 * its state saved and loaded into a second UART (registers, pending THRE, partial line). */
#include "vmm/devices/uart.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sbuf.h"
#include "tests/unit/check.h"

#define BASE UART_COM1_BASE

static struct bus bus;
static int irq_level = -1, irq_changes;

static void out(uint16_t reg, uint8_t v)
{
	bus_dispatch(&bus, BUS_PIO, BASE + reg, true, &v, 1);
}

static uint8_t in(uint16_t reg)
{
	uint8_t v = 0;

	bus_dispatch(&bus, BUS_PIO, BASE + reg, false, &v, 1);
	return v;
}

static void on_irq(void *opaque, bool level)
{
	(void) opaque;
	irq_level = level;
	irq_changes++;
}

/* Bytes waiting in the pipe (non-blocking read). */
static size_t drain(int fd, char *buf, size_t len)
{
	ssize_t n = read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
	return n > 0 ? (size_t) n : 0;
}

static void test_output(struct uart *u, int rfd, int tee_rfd)
{
	char buf[4096];

	for (const char *s = "hello"; *s; s++)
		out(0, (uint8_t) *s);
	CHECK_EQ(drain(rfd, buf, sizeof(buf)), 0); /* no newline yet */
	out(0, '\n');
	CHECK_EQ(drain(rfd, buf, sizeof(buf)), 6);
	CHECK(strcmp(buf, "hello\n") == 0);
	CHECK_EQ(drain(tee_rfd, buf, sizeof(buf)), 6);
	out(0, 'x');
	uart_flush(u);
	CHECK_EQ(drain(rfd, buf, sizeof(buf)), 1);
	CHECK_EQ(drain(tee_rfd, buf, sizeof(buf)), 1);
	/* a line longer than the buffer loses nothing */
	for (int i = 0; i < 3000; i++)
		out(0, (uint8_t) ('a' + i % 26));
	out(0, '\n');
	CHECK_EQ(drain(rfd, buf, sizeof(buf)), 3001);
	CHECK_EQ(buf[0], 'a');
	CHECK_EQ(buf[2999], 'a' + 2999 % 26);
	drain(tee_rfd, buf, sizeof(buf));
}

static void test_registers(void)
{
	CHECK_EQ(in(5), 0x60); /* LSR: THR and transmitter empty, no data */
	CHECK_EQ(in(0), 0);    /* RBR: no input */
	out(7, 0x5a);
	CHECK_EQ(in(7), 0x5a); /* scratch */
	out(1, 0xff);
	CHECK_EQ(in(1), 0x0f); /* IER keeps 4 bits */
	out(1, 0);
	out(3, 0x83); /* DLAB */
	out(0, 0x01);
	out(1, 0x02);
	CHECK_EQ(in(0), 0x01);
	CHECK_EQ(in(1), 0x02);
	out(3, 0x03);
	CHECK_EQ(in(3), 0x03);
	CHECK_EQ(in(1), 0); /* IER again, not DLM */
	/* loopback: RTS|OUT2 -> CTS|DCD, as Linux's probe expects */
	out(4, 0x10 | 0x0a);
	CHECK_EQ(in(6) & 0xf0, 0x90);
	out(4, 0x10 | 0x05);
	CHECK_EQ(in(6) & 0xf0, 0x60);
	out(4, 0);
	CHECK_EQ(in(2) & 0x0f, 0x01); /* no interrupt */
	out(2, 0x01);		      /* FIFO on: 16550A */
	CHECK_EQ(in(2) & 0xc0, 0xc0);
}

static void test_thre_interrupt(void)
{
	out(4, 0x08); /* OUT2 gates the line */
	out(1, 0x02); /* ETBEI with THR empty: THRE pending at once */
	CHECK_EQ(irq_level, 1);
	CHECK_EQ(in(2) & 0x0f, 0x02);
	CHECK_EQ(irq_level, 0); /* reading IIR acknowledged it */
	CHECK_EQ(in(2) & 0x0f, 0x01);
	out(0, '\n'); /* each transmitted byte raises it again */
	CHECK_EQ(irq_level, 1);
	out(1, 0);
	CHECK_EQ(irq_level, 0);
	out(1, 0x02);
	CHECK_EQ(irq_level, 1); /* Linux's THRE re-assert test */
	out(4, 0);
	CHECK_EQ(irq_level, 0); /* OUT2 off masks it */
	out(1, 0);
}

static void out_on(struct bus *b, uint16_t reg, uint8_t v)
{
	bus_dispatch(b, BUS_PIO, BASE + reg, true, &v, 1);
}

static uint8_t in_on(struct bus *b, uint16_t reg)
{
	uint8_t v = 0;

	bus_dispatch(b, BUS_PIO, BASE + reg, false, &v, 1);
	return v;
}

static struct uart *uart_on(struct bus *b, int fd)
{
	struct uart *u = uart_create(fd, -1);

	memset(b, 0, sizeof(*b));
	CHECK(u && uart_attach(u, b, BASE) == 0);
	return u;
}

static int load_bytes(struct uart *u, const void *p, size_t len, char *why)
{
	struct sbuf_reader r;
	int ret;

	sbuf_reader_init(&r, p, len);
	ret = uart_load(u, &r);
	strcpy(why, r.why);
	return ret;
}

/* The guest's view of the UART goes on in the second one; its output goes to its own fd. */
static void test_state(void)
{
	static struct bus ba, bb;
	int pa[2], pb[2];
	struct uart *a, *b;
	struct sbuf s;
	char buf[64], why[128];
	unsigned refused = 0;

	CHECK(!pipe2(pa, O_NONBLOCK) && !pipe2(pb, O_NONBLOCK));
	a = uart_on(&ba, pa[1]);
	b = uart_on(&bb, pb[1]);
	out_on(&ba, 3, 0x83); /* DLAB: divisor 0x0201 */
	out_on(&ba, 0, 0x01);
	out_on(&ba, 1, 0x02);
	out_on(&ba, 3, 0x1b); /* 8 bits, even parity */
	out_on(&ba, 1, 0x02); /* ETBEI: THRE pending */
	out_on(&ba, 4, 0x0b);
	out_on(&ba, 7, 0xa5);
	out_on(&ba, 2, 0x01);
	for (const char *p = "part"; *p; p++)
		out_on(&ba, 0, (uint8_t) *p);
	sbuf_init(&s);
	CHECK_EQ(uart_save(a, &s), 0);
	CHECK_EQ(load_bytes(b, s.data, s.len, why), 0);
	CHECK_EQ(in_on(&bb, 3), 0x1b);
	CHECK_EQ(in_on(&bb, 1), 0x02);
	CHECK_EQ(in_on(&bb, 4), 0x0b);
	CHECK_EQ(in_on(&bb, 7), 0xa5);
	CHECK_EQ(in_on(&bb, 2), 0xc2); /* FIFO on, THRE pending (and now acknowledged) */
	CHECK_EQ(in_on(&bb, 2), 0xc1);
	out_on(&bb, 3, 0x9b);
	CHECK_EQ(in_on(&bb, 0), 0x01);
	CHECK_EQ(in_on(&bb, 1), 0x02);
	out_on(&bb, 3, 0x1b);
	for (const char *p = "ial\n"; *p; p++)
		out_on(&bb, 0, (uint8_t) *p);
	CHECK_EQ(drain(pb[0], buf, sizeof(buf)), 8);
	CHECK(strcmp(buf, "partial\n") == 0);
	CHECK_EQ(drain(pa[0], buf, sizeof(buf)), 0);
	/* Refused: every truncation, an unknown version, register values no write makes. */
	for (size_t n = 0; n < s.len; n++)
		refused += load_bytes(b, s.data, n, why) == -EINVAL && why[0];
	CHECK_EQ(refused, s.len);
	s.data[0] = 2;
	CHECK_EQ(load_bytes(b, s.data, s.len, why), -EINVAL);
	CHECK(strstr(why, "version 2") != NULL);
	s.data[0] = 1;
	s.data[4] = 0xff; /* IER */
	CHECK_EQ(load_bytes(b, s.data, s.len, why), -EINVAL);
	CHECK(strstr(why, "IER") != NULL);
	s.data[4] = 0x02;
	s.data[13] = 0xff; /* partial line length */
	CHECK_EQ(load_bytes(b, s.data, s.len, why), -EINVAL);
	CHECK_EQ(in_on(&bb, 7), 0xa5); /* a refused load changes nothing */
	sbuf_free(&s);
	uart_destroy(a);
	uart_destroy(b);
	drain(pa[0], buf, sizeof(buf));
	CHECK(strcmp(buf, "part") == 0); /* the old one still printed its own line */
	for (int i = 0; i < 2; i++) {
		close(pa[i]);
		close(pb[i]);
	}
}

int main(void)
{
	int p[2], t[2];
	struct uart *u;

	if (pipe2(p, O_NONBLOCK) || pipe2(t, O_NONBLOCK))
		return 2;
	u = uart_create(p[1], t[1]);
	CHECK(u != NULL);
	CHECK_EQ(uart_attach(u, &bus, BASE), 0);
	uart_set_irq(u, on_irq, NULL);
	test_output(u, p[0], t[0]);
	test_registers();
	test_thre_interrupt();
	CHECK(irq_changes > 0);
	out(0, 'z');
	uart_destroy(u); /* flushes the partial line */
	{
		char buf[8];

		CHECK_EQ(drain(p[0], buf, sizeof(buf)), 2); /* the '\n' of the THRE test, then z */
		CHECK(strcmp(buf, "\nz") == 0);
	}
	log_level = -1;
	test_state();
	return check_done("test_uart");
}
