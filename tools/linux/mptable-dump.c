/* mptable-dump.c - write the MP table ksmvmm gives an N-CPU guest (MPTABLE_SIZE bytes, as at MPTABLE_GPA) to stdout.
 *
 * For tests/linux/qemu-mptable.sh, which puts it into a QEMU guest to see a real Linux
 * kernel read it. Usage: mptable-dump NCPUS >table.bin
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/mptable.h"

int main(int argc, char **argv)
{
	struct guest_mem m;
	char *end;
	unsigned long n = argc == 2 ? strtoul(argv[1], &end, 10) : 0;
	int ret;

	if (argc != 2 || *end) {
		fprintf(stderr, "usage: mptable-dump NCPUS >table.bin\n");
		return 2;
	}
	ret = mem_layout(&m, 16ull << 20);
	ret = ret ?: mem_map(&m);
	ret = ret ?: mptable_write(&m, (unsigned) n);
	if (ret) {
		fprintf(stderr, "mptable-dump: %s\n", strerror(-ret));
		return 1;
	}
	if (fwrite(mem_gpa(&m, MPTABLE_GPA, MPTABLE_SIZE), 1, MPTABLE_SIZE, stdout) != MPTABLE_SIZE)
		return 1;
	return 0;
}
