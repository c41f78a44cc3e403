/* test_linux_boot.c - the Linux loader on a fake guest: vmlinux, bzImage, boot_params, errors. */
#include "vmm/linux_boot.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/acpi.h"
#include "vmm/mptable.h"

#define MIB (1ull << 20)
#define RAM (64 * MIB)
#define KBASE 0x1000000ull	    /* where the fake vmlinux loads: 16 MiB */
#define KVIRT 0xffffffff81000000ull /* and its link address */
#define GUEST_CPUS 2

static char dir[] = "/tmp/test_linux_boot.XXXXXX";
static char err[256];

/* A path inside the test's temp dir (a few rotating buffers). */
static const char *path(const char *name)
{
	static char buf[4][512];
	static unsigned n;
	char *p = buf[n++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static void write_file(const char *name, const void *data, size_t len)
{
	int fd = open(path(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, len) != (ssize_t) len) {
		perror(name);
		exit(2);
	}
	close(fd);
}

static void new_guest(struct guest_mem *m, uint64_t size)
{
	if (mem_layout(m, size) || mem_map(m)) {
		fprintf(stderr, "cannot map a %llu-byte fake guest\n", (unsigned long long) size);
		exit(2);
	}
}

static int load(struct guest_mem *m, const char *kernel, const char *initrd, const char *cmdline,
		struct x86_boot *boot)
{
	err[0] = 0;
	return linux_load(m, kernel ? path(kernel) : NULL, initrd ? path(initrd) : NULL, cmdline,
			  GUEST_CPUS, boot, err, sizeof(err));
}

/* Load @kernel into a fresh 64 MiB guest and expect @ret with @msg in the error. */
static void expect_error(const char *kernel, const char *initrd, const char *cmdline, int ret,
			 const char *msg)
{
	struct guest_mem m;
	struct x86_boot boot;
	int got;

	new_guest(&m, RAM);
	got = load(&m, kernel, initrd, cmdline, &boot);
	CHECK_EQ(got, ret);
	CHECK(strstr(err, msg) != NULL);
	CHECK(strchr(err, '\n') == NULL);
	if (got != ret || !strstr(err, msg))
		fprintf(stderr, "  %s: got %d \"%s\", want %d \"%s\"\n", kernel, got, err, ret,
			msg);
	mem_unmap(&m);
}

static struct boot_params *zero_page(struct guest_mem *m)
{
	return mem_gpa(m, LINUX_ZERO_PAGE_GPA, sizeof(struct boot_params));
}

/* ---- fake vmlinux ---- */

struct elf_spec {
	uint64_t entry;
	unsigned nseg;
	uint64_t paddr[2], vaddr[2], filesz[2], memsz[2];
	uint8_t cls;	   /* ELFCLASS64 unless overridden */
	uint16_t phnum;	   /* 0: nseg */
	uint64_t truncate; /* nonzero: cut the file to this many bytes */
};

/* A vmlinux-like ELF: segment i's bytes are (i + 1) * 0x11 ^ offset. */
static void make_elf(const char *name, const struct elf_spec *s)
{
	size_t size = 0x3000 + s->filesz[0] + s->filesz[1];
	uint8_t *f = calloc(1, size);
	Elf64_Ehdr *eh = (Elf64_Ehdr *) f;
	Elf64_Phdr *ph = (Elf64_Phdr *) (f + sizeof(*eh));
	uint64_t off = 0x1000;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = s->cls ? s->cls : ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_entry = s->entry;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = s->phnum ? s->phnum : (uint16_t) s->nseg;
	for (unsigned i = 0; i < s->nseg; i++) {
		ph[i] = (Elf64_Phdr){.p_type = PT_LOAD,
				     .p_offset = off,
				     .p_vaddr = s->vaddr[i],
				     .p_paddr = s->paddr[i],
				     .p_filesz = s->filesz[i],
				     .p_memsz = s->memsz[i]};
		for (uint64_t j = 0; j < s->filesz[i]; j++)
			f[off + j] = (uint8_t) (((i + 1) * 0x11) ^ j);
		off += s->filesz[i];
	}
	write_file(name, f, s->truncate ? s->truncate : size);
	free(f);
}

/* Two segments like Debian's: text at 16 MiB, data + bss at 18 MiB. */
static struct elf_spec vmlinux_spec(void)
{
	return (struct elf_spec){
	    .entry = KBASE,
	    .nseg = 2,
	    .paddr = {KBASE, KBASE + 2 * MIB},
	    .vaddr = {KVIRT, KVIRT + 2 * MIB},
	    .filesz = {0x1800, 0x800},
	    .memsz = {0x1800, 0x3000},
	};
}

static bool segment_ok(struct guest_mem *m, const struct elf_spec *s, unsigned i)
{
	const uint8_t *p = mem_gpa(m, s->paddr[i], s->memsz[i]);

	if (!p)
		return false;
	for (uint64_t j = 0; j < s->memsz[i]; j++) {
		uint8_t want = j < s->filesz[i] ? (uint8_t) (((i + 1) * 0x11) ^ j) : 0;

		if (p[j] != want)
			return false;
	}
	return true;
}

/* ---- fake bzImage ---- */

struct bz_spec {
	uint16_t version;
	uint16_t xloadflags;
	uint8_t setup_sects;
	uint8_t relocatable;
	uint8_t loadflags;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	size_t pm_size; /* bytes after the setup sectors */
	size_t truncate;
};

static struct bz_spec bz_default(void)
{
	return (struct bz_spec){
	    .version = 0x020f,
	    .xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
	    .setup_sects = 7,
	    .relocatable = 1,
	    .loadflags = LOADED_HIGH,
	    .pref_address = KBASE,
	    .init_size = 4 * MIB,
	    .cmdline_size = 2047,
	    .initrd_addr_max = 0x7fffffff,
	    .pm_size = 0x5000,
	};
}

static size_t bz_setup_size(const struct bz_spec *s)
{
	return ((size_t) (s->setup_sects ? s->setup_sects : 4) + 1) * 512;
}

static void make_bzimage(const char *name, const struct bz_spec *s)
{
	size_t setup = bz_setup_size(s), size = setup + s->pm_size;
	uint8_t *f = calloc(1, size);
	struct setup_header *h = (struct setup_header *) (f + 0x1f1);

	h->setup_sects = s->setup_sects;
	h->boot_flag = 0xaa55;
	h->jump = 0x66eb; /* jmp over the header to 0x268 */
	h->header = 0x53726448;
	h->version = s->version;
	h->loadflags = s->loadflags;
	h->syssize = (uint32_t) (s->pm_size / 16);
	h->kernel_alignment = 2 * MIB;
	h->relocatable_kernel = s->relocatable;
	h->xloadflags = s->xloadflags;
	h->cmdline_size = s->cmdline_size;
	h->initrd_addr_max = s->initrd_addr_max;
	h->pref_address = s->pref_address;
	h->init_size = s->init_size;
	for (size_t j = 0; j < s->pm_size; j++)
		f[setup + j] = (uint8_t) (j * 7 + 3);
	write_file(name, f, s->truncate ? s->truncate : size);
	free(f);
}

static bool payload_ok(struct guest_mem *m, uint64_t gpa, size_t len)
{
	const uint8_t *p = mem_gpa(m, gpa, len);

	for (size_t j = 0; p && j < len; j++)
		if (p[j] != (uint8_t) (j * 7 + 3))
			return false;
	return p != NULL;
}

/* ---- tests ---- */

static void check_common(struct guest_mem *m, const struct x86_boot *boot)
{
	struct boot_params *bp = zero_page(m);
	const uint64_t *gdt = mem_gpa(m, LINUX_GDT_GPA, 8 * X86_GDT_ENTRIES);
	const uint64_t *pml4 = mem_gpa(m, LINUX_PT_GPA, 4096);
	const uint8_t *mpf = mem_gpa(m, MPTABLE_GPA, 16);
	const uint8_t *rsdp = mem_gpa(m, ACPI_GPA, 8);
	struct mem_e820 e820[10];
	int n = mem_e820_reserve(e820, mptable_e820_reserve(e820, mem_e820(m, e820, 10), 10), 10,
				 ACPI_GPA, ACPI_GPA + ACPI_SIZE);

	CHECK_EQ(boot->rsi, LINUX_ZERO_PAGE_GPA);
	CHECK_EQ(boot->rsp, LINUX_STACK_TOP);
	CHECK_EQ(boot->cr3, LINUX_PT_GPA);
	CHECK_EQ(boot->gdt_gpa, LINUX_GDT_GPA);
	CHECK_EQ(boot->cpl, 0);
	CHECK(boot->linux_cpuid);
	CHECK(!boot->enable_avx);
	CHECK_EQ(bp->hdr.boot_flag, 0xaa55);
	CHECK_EQ(bp->hdr.header, 0x53726448);
	CHECK_EQ(bp->hdr.type_of_loader, 0xff);
	CHECK(bp->hdr.loadflags & CAN_USE_HEAP);
	CHECK(bp->hdr.loadflags & LOADED_HIGH);
	CHECK(bp->hdr.xloadflags & XLF_KERNEL_64);
	CHECK_EQ(bp->hdr.cmd_line_ptr, LINUX_CMDLINE_GPA);
	CHECK_EQ(bp->sentinel, 0);
	CHECK_EQ(bp->e820_entries, n);
	for (int i = 0; i < n; i++) {
		CHECK_EQ(bp->e820_table[i].addr, e820[i].addr);
		CHECK_EQ(bp->e820_table[i].size, e820[i].size);
		CHECK_EQ(bp->e820_table[i].type, e820[i].type);
	}
	/* RAM, the ACPI page, RAM, the MP table's KiB: neither is RAM. */
	CHECK_EQ(e820[0].size, ACPI_GPA);
	CHECK_EQ(e820[1].addr, ACPI_GPA);
	CHECK_EQ(e820[1].size, ACPI_SIZE);
	CHECK_EQ(e820[1].type, E820_RESERVED);
	CHECK_EQ(e820[2].type, E820_RAM);
	CHECK_EQ(e820[3].addr, MPTABLE_GPA);
	CHECK_EQ(e820[3].type, E820_RESERVED);
	CHECK(!memcmp(mpf, "_MP_", 4));	     /* its contents: test_mptable */
	CHECK(!memcmp(rsdp, "RSD PTR ", 8)); /* and test_acpi */
	CHECK_EQ(bp->acpi_rsdp_addr, ACPI_GPA);
	CHECK_EQ(gdt[X86_SEL_KCODE / 8], 0x00af9a000000ffffull);
	CHECK_EQ(gdt[X86_SEL_KDATA / 8], 0x00cf92000000ffffull);
	CHECK_EQ(pml4[0] & ~0xfffull, LINUX_PT_GPA + 4096);
	/* The page tables end below the command line. */
	CHECK(LINUX_PT_GPA + x86_identity_map_size(4ull << 30) <= LINUX_CMDLINE_GPA);
}

static void test_vmlinux(void)
{
	struct elf_spec s = vmlinux_spec();
	struct guest_mem m;
	struct x86_boot boot;
	struct boot_params *bp;
	const char *cmd = "console=ttyS0 earlyprintk=serial nokaslr";

	make_elf("vmlinux", &s);
	write_file("initrd", "0123456789abcdef", 16);
	new_guest(&m, RAM);
	memset(mem_gpa(&m, 0, RAM), 0x5a, RAM); /* loader must clear what it owns */
	CHECK_EQ(load(&m, "vmlinux", "initrd", cmd, &boot), 0);
	bp = zero_page(&m);
	check_common(&m, &boot);
	CHECK_EQ(boot.rip, KBASE);
	CHECK(segment_ok(&m, &s, 0));
	CHECK(segment_ok(&m, &s, 1)); /* bss zeroed */
	CHECK_EQ(bp->hdr.version, 0x020f);
	CHECK_EQ(bp->hdr.cmdline_size, 2047);
	CHECK_EQ(bp->hdr.pref_address, KBASE);
	CHECK_EQ(bp->hdr.init_size, 2 * MIB + 0x3000);
	CHECK(strcmp(mem_gpa(&m, LINUX_CMDLINE_GPA, 1), cmd) == 0);
	/* initrd: page aligned at the very top of RAM */
	CHECK_EQ(bp->hdr.ramdisk_image, RAM - 4096);
	CHECK_EQ(bp->hdr.ramdisk_size, 16);
	CHECK_EQ(bp->ext_ramdisk_image, 0);
	CHECK_EQ(bp->ext_ramdisk_size, 0);
	CHECK(memcmp(mem_gpa(&m, RAM - 4096, 16), "0123456789abcdef", 16) == 0);
	mem_unmap(&m);
}

static void test_vmlinux_virtual_entry(void)
{
	struct elf_spec s = vmlinux_spec();
	struct guest_mem m;
	struct x86_boot boot;
	struct boot_params *bp;

	s.entry = KVIRT + 2 * MIB + 0x40; /* in the second segment's link range */
	make_elf("vmlinux-virt", &s);
	new_guest(&m, RAM);
	CHECK_EQ(load(&m, "vmlinux-virt", NULL, NULL, &boot), 0);
	CHECK_EQ(boot.rip, KBASE + 2 * MIB + 0x40);
	bp = zero_page(&m);
	CHECK_EQ(bp->hdr.ramdisk_image, 0);
	CHECK_EQ(bp->hdr.ramdisk_size, 0);
	CHECK_EQ(*(char *) mem_gpa(&m, LINUX_CMDLINE_GPA, 1), 0); /* NULL cmdline: empty */
	mem_unmap(&m);
}

static void test_bzimage(void)
{
	struct bz_spec s = bz_default();
	struct guest_mem m;
	struct x86_boot boot;
	struct boot_params *bp;
	char initrd[10000];

	make_bzimage("bzImage", &s);
	memset(initrd, 0xa5, sizeof(initrd));
	write_file("initrd10k", initrd, sizeof(initrd));
	new_guest(&m, RAM);
	CHECK_EQ(load(&m, "bzImage", "initrd10k", "quiet", &boot), 0);
	bp = zero_page(&m);
	check_common(&m, &boot);
	CHECK_EQ(boot.rip, KBASE + 0x200);
	CHECK(payload_ok(&m, KBASE, s.pm_size));
	CHECK_EQ(bp->hdr.version, 0x020f);
	CHECK_EQ(bp->hdr.setup_sects, 7);
	CHECK_EQ(bp->hdr.init_size, 4 * MIB);
	CHECK_EQ(bp->hdr.code32_start, KBASE);
	CHECK_EQ(bp->hdr.kernel_alignment, 2 * MIB);
	CHECK_EQ(bp->hdr.ramdisk_image, (RAM - sizeof(initrd)) & ~4095ull);
	CHECK_EQ(bp->hdr.ramdisk_size, sizeof(initrd));
	CHECK(memcmp(mem_gpa(&m, bp->hdr.ramdisk_image, sizeof(initrd)), initrd, sizeof(initrd)) ==
	      0);
	CHECK(strcmp(mem_gpa(&m, LINUX_CMDLINE_GPA, 1), "quiet") == 0);
	mem_unmap(&m);
}

/* pref_address beyond RAM: a relocatable kernel goes to 1 MiB rounded up to its alignment,
 * a non-relocatable one to 1 MiB; initrd_addr_max caps the initrd. */
static void test_bzimage_placement(void)
{
	struct bz_spec s = bz_default();
	struct guest_mem m;
	struct x86_boot boot;
	struct boot_params *bp;

	s.pref_address = 1ull << 40;
	s.initrd_addr_max = 32 * MIB - 1;
	make_bzimage("bz-reloc", &s);
	new_guest(&m, RAM);
	CHECK_EQ(load(&m, "bz-reloc", "initrd", NULL, &boot), 0);
	CHECK_EQ(boot.rip, 2 * MIB + 0x200);
	CHECK(payload_ok(&m, 2 * MIB, s.pm_size));
	bp = zero_page(&m);
	CHECK_EQ(bp->hdr.ramdisk_image, 32 * MIB - 4096);
	mem_unmap(&m);

	/* not relocatable: at 1 MiB, and it will run at pref_address: the initrd stays clear */
	s.relocatable = 0;
	s.setup_sects = 0; /* means 4 */
	s.pref_address = 56 * MIB;
	s.init_size = 6 * MIB;
	s.initrd_addr_max = 0x7fffffff;
	make_bzimage("bz-fixed", &s);
	write_file("initrd8m", "", 0);
	CHECK_EQ(truncate(path("initrd8m"), 8 * MIB), 0);
	new_guest(&m, RAM);
	CHECK_EQ(load(&m, "bz-fixed", "initrd", NULL, &boot), 0);
	CHECK_EQ(boot.rip, MIB + 0x200);
	CHECK(payload_ok(&m, MIB, s.pm_size));
	CHECK_EQ(zero_page(&m)->hdr.ramdisk_image, RAM - 4096);
	mem_unmap(&m);
	expect_error("bz-fixed", "initrd8m", NULL, -ENOMEM, "initrd");
	s.pref_address = RAM;
	make_bzimage("bz-fixed-out", &s);
	expect_error("bz-fixed-out", NULL, NULL, -ENOMEM, "runtime area");
}

/* A guest with RAM above 4 GiB: the initrd still goes below the 32-bit hole. */
static void test_big_guest(void)
{
	struct elf_spec s = vmlinux_spec();
	struct guest_mem m;
	struct x86_boot boot;
	struct boot_params *bp;

	make_elf("vmlinux", &s);
	new_guest(&m, 4ull << 30);
	CHECK_EQ(load(&m, "vmlinux", "initrd", NULL, &boot), 0);
	bp = zero_page(&m);
	CHECK_EQ(bp->hdr.ramdisk_image, 0x7fffffffull + 1 - 4096);
	CHECK_EQ(bp->e820_entries, 7);
	CHECK_EQ(bp->e820_table[6].addr, MEM_HOLE_END);
	mem_unmap(&m);
}

static void test_file_errors(void)
{
	struct elf_spec s;
	struct guest_mem m;
	struct x86_boot boot;
	char garbage[8192];

	expect_error("missing", NULL, NULL, -ENOENT, "missing");
	mkdir(path("adir"), 0755);
	expect_error("adir", NULL, NULL, -EINVAL, "not a regular file");
	write_file("empty", "", 0);
	expect_error("empty", NULL, NULL, -ENOEXEC, "not a bzImage or vmlinux ELF");
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char) (i * 31 + 5);
	write_file("garbage", garbage, sizeof(garbage));
	expect_error("garbage", NULL, NULL, -ENOEXEC, "not a bzImage or vmlinux ELF");
	write_file("short-elf", ELFMAG, SELFMAG);
	expect_error("short-elf", NULL, NULL, -ENOEXEC, "not a bzImage or vmlinux ELF");
	s = vmlinux_spec();
	make_elf("vmlinux", &s);
	expect_error("vmlinux", "missing-initrd", NULL, -ENOENT, "missing-initrd");
	expect_error("vmlinux", "empty", NULL, -EINVAL, "is empty");

	new_guest(&m, RAM);
	CHECK_EQ(linux_load(&m, NULL, NULL, NULL, 1, &boot, err, sizeof(err)), -EINVAL);
	CHECK_EQ(linux_load(&m, path("vmlinux"), NULL, NULL, 1, NULL, err, sizeof(err)), -EINVAL);
	CHECK_EQ(linux_load(&m, path("missing"), NULL, NULL, 1, &boot, NULL, 0), -ENOENT);
	err[0] = 0;
	CHECK_EQ(linux_load(&m, path("vmlinux"), NULL, NULL, 0, &boot, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "MP table") != NULL);
	mem_unmap(&m);
}

static void test_elf_errors(void)
{
	struct elf_spec s;

	s = vmlinux_spec();
	s.cls = ELFCLASS32;
	make_elf("elf32", &s);
	expect_error("elf32", NULL, NULL, -ENOEXEC, "not x86-64");
	s = vmlinux_spec();
	s.phnum = 1000;
	make_elf("phnum", &s);
	expect_error("phnum", NULL, NULL, -ENOEXEC, "program headers");
	s = vmlinux_spec();
	s.nseg = 0;
	s.phnum = 1; /* one all-zero header: PT_NULL */
	make_elf("noload", &s);
	expect_error("noload", NULL, NULL, -ENOEXEC, "no loadable segment");
	s = vmlinux_spec();
	s.truncate = 0x1000 + 0x100;
	make_elf("truncated", &s);
	expect_error("truncated", NULL, NULL, -ENOEXEC, "truncated");
	s = vmlinux_spec();
	s.paddr[1] = RAM - 0x1000; /* memsz 0x3000 runs past the end of RAM */
	make_elf("too-high", &s);
	expect_error("too-high", NULL, NULL, -ENOMEM, "does not fit in guest RAM");
	s = vmlinux_spec();
	s.paddr[0] = 0x8000; /* would overwrite boot_params and page tables */
	make_elf("too-low", &s);
	expect_error("too-low", NULL, NULL, -ENOMEM, "above 1 MiB");
	s = vmlinux_spec();
	s.paddr[1] = UINT64_MAX - 0x1000; /* wraps around */
	make_elf("wraps", &s);
	expect_error("wraps", NULL, NULL, -ENOMEM, "does not fit");
	s = vmlinux_spec();
	s.filesz[1] = 0x4000; /* more file than memory */
	make_elf("filesz", &s);
	expect_error("filesz", NULL, NULL, -ENOEXEC, "file size exceeds memory size");
	s = vmlinux_spec();
	s.entry = 0x42;
	make_elf("entry", &s);
	expect_error("entry", NULL, NULL, -ENOEXEC, "entry point");
}

static void test_bzimage_errors(void)
{
	struct bz_spec s;

	s = bz_default();
	s.version = 0x020b;
	make_bzimage("bz-old", &s);
	expect_error("bz-old", NULL, NULL, -ENOEXEC, "too old");
	s = bz_default();
	s.xloadflags = 0;
	make_bzimage("bz-32", &s);
	expect_error("bz-32", NULL, NULL, -ENOEXEC, "XLF_KERNEL_64");
	s = bz_default();
	s.loadflags = 0;
	make_bzimage("bz-zimage", &s);
	expect_error("bz-zimage", NULL, NULL, -ENOEXEC, "zImage");
	s = bz_default();
	s.setup_sects = 200; /* setup larger than the file */
	s.pm_size = 0x1000;
	s.truncate = 0x2000;
	make_bzimage("bz-trunc", &s);
	expect_error("bz-trunc", NULL, NULL, -ENOEXEC, "truncated");
	s = bz_default();
	s.init_size = 0xf0000000u; /* needs more than the guest has */
	make_bzimage("bz-huge", &s);
	expect_error("bz-huge", NULL, NULL, -ENOMEM, "does not fit in guest RAM");
	s = bz_default();
	s.cmdline_size = 5;
	make_bzimage("bz-cmd", &s);
	expect_error("bz-cmd", NULL, "123456", -E2BIG, "command line too long");
}

static void test_limits(void)
{
	char cmd[2049];
	char *big = calloc(1, 60 * MIB);
	struct guest_mem m;
	struct x86_boot boot;

	make_elf("vmlinux", &(struct elf_spec){.entry = KBASE,
					       .nseg = 1,
					       .paddr = {KBASE},
					       .vaddr = {KVIRT},
					       .filesz = {16},
					       .memsz = {16}});
	memset(cmd, 'x', sizeof(cmd) - 1);
	cmd[2048] = 0;
	expect_error("vmlinux", NULL, cmd, -E2BIG, "command line too long");
	cmd[2047] = 0; /* 2047 bytes + NUL is the most Linux takes */
	new_guest(&m, RAM);
	CHECK_EQ(load(&m, "vmlinux", NULL, cmd, &boot), 0);
	mem_unmap(&m);

	/* 60 MiB initrd in 64 MiB RAM cannot clear the kernel at 16 MiB */
	write_file("initrd-big", big, 60 * MIB);
	expect_error("vmlinux", "initrd-big", NULL, -ENOMEM, "initrd");
	free(big);

	/* RAM too small for the boot area, or for the kernel at 16 MiB */
	new_guest(&m, 64 * 1024);
	CHECK_EQ(load(&m, "vmlinux", NULL, NULL, &boot), -ENOMEM);
	CHECK(strstr(err, "too small") != NULL);
	mem_unmap(&m);
	new_guest(&m, 8 * MIB);
	CHECK_EQ(load(&m, "vmlinux", NULL, NULL, &boot), -ENOMEM);
	CHECK(strstr(err, "does not fit") != NULL);
	mem_unmap(&m);
}

int main(void)
{
	char rm[sizeof(dir) + 16];
	int ret;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	test_vmlinux();
	test_vmlinux_virtual_entry();
	test_bzimage();
	test_bzimage_placement();
	test_big_guest();
	test_file_errors();
	test_elf_errors();
	test_bzimage_errors();
	test_limits();
	ret = check_done("test_linux_boot");
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	if (system(rm) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return ret;
}
