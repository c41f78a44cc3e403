/* test_vcpu_trace.c - the exit trace of a vCPU: which exits it keeps and how it logs them. */
#include "vmm/vcpu_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"

static void record_io(struct vcpu_trace *t, uint16_t port, int out)
{
	struct kvm_run r = {.exit_reason = KVM_EXIT_IO};

	r.io.port = port;
	r.io.size = 4;
	r.io.direction = out ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
	vcpu_trace_record(t, &r);
}

static void record_mmio(struct vcpu_trace *t, uint64_t gpa, int write)
{
	struct kvm_run r = {.exit_reason = KVM_EXIT_MMIO};

	r.mmio.phys_addr = gpa;
	r.mmio.len = 4;
	r.mmio.is_write = (uint8_t) write;
	vcpu_trace_record(t, &r);
}

/* Runs vcpu_trace_dump with stderr going to a file; returns what it logged (malloc'd). */
static char *dump_to_string(const struct vcpu_trace *t, int fd)
{
	FILE *f = tmpfile();
	int saved = dup(2);
	long len;
	char *buf;

	fflush(stderr);
	dup2(fileno(f), 2);
	vcpu_trace_dump(t, fd, "g7", 1);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = ftell(f);
	buf = calloc(1, (size_t) len + 1);
	rewind(f);
	CHECK_EQ(fread(buf, 1, (size_t) len, f), len);
	fclose(f);
	return buf;
}

static unsigned count_lines(const char *s, const char *needle)
{
	unsigned n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* The ring keeps the last VCPU_TRACE_LEN exits with their addresses and directions. */
static void test_record(void)
{
	struct vcpu_trace t = {0};
	struct kvm_run shut = {.exit_reason = KVM_EXIT_SHUTDOWN};

	for (unsigned i = 0; i < 10; i++)
		record_io(&t, (uint16_t) (0x500 + i), i & 1);
	record_mmio(&t, 0xd0000050, 1);
	vcpu_trace_record(&t, &shut);
	CHECK_EQ(t.count, 12);
	CHECK_EQ(t.exits[10 % VCPU_TRACE_LEN].addr, 0xd0000050);
	CHECK_EQ(t.exits[10 % VCPU_TRACE_LEN].write, 1);
	CHECK_EQ(t.exits[11 % VCPU_TRACE_LEN].reason, KVM_EXIT_SHUTDOWN);
	CHECK_EQ(t.exits[11 % VCPU_TRACE_LEN].addr, 0); /* not the stale port */
	CHECK_EQ(t.exits[9 % VCPU_TRACE_LEN].addr, 0x509);
	CHECK_EQ(t.exits[9 % VCPU_TRACE_LEN].write, 1);
	CHECK_EQ(t.exits[4 % VCPU_TRACE_LEN].addr, 0x504); /* exit #4 is the oldest kept */
}

/* The dump logs the kept exits oldest first; without a vCPU (bad fd) no register lines. */
static void test_dump(void)
{
	struct vcpu_trace t = {0};
	char *out;

	for (unsigned i = 0; i < 10; i++)
		record_mmio(&t, 0xd0000000 + i * 0x200, 0);
	out = dump_to_string(&t, -1);
	CHECK_EQ(count_lines(out, "g7: vCPU 1: exit #"), VCPU_TRACE_LEN);
	CHECK(strstr(out, "exit #1 ") == NULL);
	CHECK(strstr(out, "exit #2 reason 6 read 4 bytes at 0xd0000400") != NULL);
	CHECK(strstr(out, "exit #9 reason 6 read 4 bytes at 0xd0001200") != NULL);
	CHECK(strstr(out, "exit #2 ") < strstr(out, "exit #9 "));
	CHECK(strstr(out, "rip") == NULL);
	free(out);

	t = (struct vcpu_trace){0};
	out = dump_to_string(&t, -1);
	CHECK_EQ(count_lines(out, "exit #"), 0);
	free(out);
}

int main(void)
{
	test_record();
	test_dump();
	return check_done("test_vcpu_trace");
}
