/* linux_boot.c - Linux 64-bit boot protocol: vmlinux or bzImage, boot_params, initrd, command line.
 *
 * Everything read from a kernel or initrd file is untrusted: every offset and size is
 * checked against the file size before use, and every guest address goes through
 * mem_gpa(). Layout of the low boot structures: see linux_boot.h.
 */
#define pr_fmt(fmt) "linux: " fmt

#include "vmm/linux_boot.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errbuf.h"
#include "lib/log.h"
#include "vmm/acpi.h"
#include "vmm/mptable.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define IDENTITY_MAP_LIMIT (4 * GIB)
#define HDR_MAGIC 0x53726448u /* "HdrS" */
#define HDR_BOOT_FLAG 0xaa55
#define HDR_OFFSET 0x1f1	/* setup header inside the bzImage and boot_params */
#define BZ_ENTRY64_OFFSET 0x200 /* 64-bit entry from the protected-mode load address */
#define BZ_MIN_VERSION 0x020c	/* 2.12: first with xloadflags (XLF_KERNEL_64) */
#define ELF_MAX_PHDRS 64
#define DEFAULT_CMDLINE_MAX 2047 /* x86 COMMAND_LINE_SIZE - 1 */
#define DEFAULT_INITRD_MAX 0x7fffffffu
#define DEFAULT_ALIGN (2 * MIB)

/* One kernel load in progress. */
struct loader {
	struct guest_mem *m;
	char *err;
	size_t errlen;
	struct boot_params *bp; /* in guest memory at LINUX_ZERO_PAGE_GPA */
	int fd;			/* file being read (kernel, then initrd) */
	uint64_t size;		/* its size in bytes */
	const char *path;
	uint64_t entry;	      /* physical 64-bit entry point */
	uint64_t kernel_end;  /* first byte above all memory the kernel needs */
	uint32_t cmdline_max; /* longest command line the kernel accepts, without NUL */
};

/* Open @path as the current file; must be a regular file. */
static int file_open(struct loader *ld, const char *path, const char *what)
{
	struct stat st;
	int ret;

	ld->path = path;
	ld->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ld->fd < 0) {
		ret = -errno;
		return errbuf_set(ld->err, ld->errlen, ret, "cannot open %s %s: %s", what, path,
				  strerror(-ret));
	}
	if (fstat(ld->fd, &st) < 0) {
		ret = -errno;
		return errbuf_set(ld->err, ld->errlen, ret, "cannot stat %s %s: %s", what, path,
				  strerror(-ret));
	}
	if (!S_ISREG(st.st_mode))
		return errbuf_set(ld->err, ld->errlen, -EINVAL, "%s %s is not a regular file", what,
				  path);
	ld->size = (uint64_t) st.st_size;
	return 0;
}

static void file_close(struct loader *ld)
{
	if (ld->fd >= 0)
		close(ld->fd);
	ld->fd = -1;
}

/* Read [off, off+len) of the current file into @dst; the range must lie in the file. */
static int file_read(struct loader *ld, uint64_t off, void *dst, uint64_t len)
{
	uint8_t *p = dst;

	if (off > ld->size || len > ld->size - off)
		return errbuf_set(ld->err, ld->errlen, -ENOEXEC,
				  "%s: truncated (needs bytes %#llx-%#llx, file has %#llx)",
				  ld->path, (unsigned long long) off,
				  (unsigned long long) (off + len), (unsigned long long) ld->size);
	while (len) {
		ssize_t n = pread(ld->fd, p, len > (1u << 30) ? (1u << 30) : len, (off_t) off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int ret = n < 0 ? -errno : -EIO;

			return errbuf_set(ld->err, ld->errlen, ret, "cannot read %s: %s", ld->path,
					  n < 0 ? strerror(-ret) : "file shrank");
		}
		p += n;
		off += (uint64_t) n;
		len -= (uint64_t) n;
	}
	return 0;
}

/* Host pointer to [gpa, gpa+len) of guest RAM for a kernel part, or NULL after a message in ld->err. */
static void *kernel_dest(struct loader *ld, uint64_t gpa, uint64_t len, const char *what)
{
	void *p = gpa >= LINUX_KERNEL_MIN ? mem_gpa(ld->m, gpa, len) : NULL;

	if (!p)
		errbuf_set(
		    ld->err, ld->errlen, -ENOMEM,
		    "%s: %s [%#llx, +%#llx) does not fit in guest RAM (%llu MiB) above 1 MiB",
		    ld->path, what, (unsigned long long) gpa, (unsigned long long) len,
		    (unsigned long long) (ld->m->ram_size / MIB));
	return p;
}

/* ---- vmlinux (ELF64) ---- */

static int elf_check_header(struct loader *ld, const Elf64_Ehdr *eh)
{
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64)
		return errbuf_set(ld->err, ld->errlen, -ENOEXEC,
				  "%s: ELF file is not x86-64 little-endian 64-bit", ld->path);
	if (eh->e_type != ET_EXEC)
		return errbuf_set(ld->err, ld->errlen, -ENOEXEC,
				  "%s: ELF file is not an executable (e_type %u)", ld->path,
				  eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_MAX_PHDRS)
		return errbuf_set(ld->err, ld->errlen, -ENOEXEC,
				  "%s: bad ELF program headers (%u of %u bytes)", ld->path,
				  eh->e_phnum, eh->e_phentsize);
	return 0;
}

static int elf_load_segment(struct loader *ld, const Elf64_Phdr *ph)
{
	uint8_t *dst;
	int ret;

	if (ph->p_filesz > ph->p_memsz)
		return errbuf_set(ld->err, ld->errlen, -ENOEXEC,
				  "%s: ELF segment file size exceeds memory size", ld->path);
	dst = kernel_dest(ld, ph->p_paddr, ph->p_memsz, "ELF segment");
	if (!dst)
		return -ENOMEM;
	ret = file_read(ld, ph->p_offset, dst, ph->p_filesz);
	if (ret)
		return ret;
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	if (ph->p_paddr + ph->p_memsz > ld->kernel_end)
		ld->kernel_end = ph->p_paddr + ph->p_memsz;
	return 0;
}

/* e_entry as a physical address: itself if it lies in a loaded segment's physical
 * range (Debian's vmlinux: startup_64 at 16 MiB), else translated from a segment's
 * virtual range (kernels whose e_entry is the 0xffffffff8... link address). */
static int elf_entry(struct loader *ld, const Elf64_Phdr *ph, unsigned n, uint64_t e_entry)
{
	for (unsigned i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && e_entry >= ph[i].p_paddr &&
		    e_entry - ph[i].p_paddr < ph[i].p_memsz) {
			ld->entry = e_entry;
			return 0;
		}
	for (unsigned i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && e_entry >= ph[i].p_vaddr &&
		    e_entry - ph[i].p_vaddr < ph[i].p_memsz) {
			ld->entry = ph[i].p_paddr + (e_entry - ph[i].p_vaddr);
			return 0;
		}
	return errbuf_set(ld->err, ld->errlen, -ENOEXEC,
			  "%s: ELF entry point %#llx lies in no loaded segment", ld->path,
			  (unsigned long long) e_entry);
}

/* The setup header a bzImage would carry, for a vmlinux that has none. */
static void elf_fill_header(struct loader *ld, uint64_t kernel_start)
{
	struct setup_header *h = &ld->bp->hdr;

	h->boot_flag = HDR_BOOT_FLAG;
	h->header = HDR_MAGIC;
	h->version = 0x020f;
	h->vid_mode = 0xffff; /* "normal" */
	h->loadflags = LOADED_HIGH;
	h->kernel_alignment = DEFAULT_ALIGN;
	h->initrd_addr_max = DEFAULT_INITRD_MAX;
	h->cmdline_size = DEFAULT_CMDLINE_MAX;
	h->xloadflags = XLF_KERNEL_64;
	h->code32_start = (uint32_t) kernel_start;
	h->pref_address = kernel_start;
	h->init_size = (uint32_t) (ld->kernel_end - kernel_start);
	ld->cmdline_max = DEFAULT_CMDLINE_MAX;
}

static int elf_load(struct loader *ld)
{
	Elf64_Phdr ph[ELF_MAX_PHDRS];
	uint64_t start = UINT64_MAX;
	Elf64_Ehdr eh;
	unsigned nload = 0;
	int ret;

	ret = file_read(ld, 0, &eh, sizeof(eh));
	ret = ret ?: elf_check_header(ld, &eh);
	ret = ret ?: file_read(ld, eh.e_phoff, ph, (uint64_t) eh.e_phnum * sizeof(ph[0]));
	if (ret)
		return ret;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		ret = elf_load_segment(ld, &ph[i]);
		if (ret)
			return ret;
		start = ph[i].p_paddr < start ? ph[i].p_paddr : start;
		nload++;
	}
	if (!nload)
		return errbuf_set(ld->err, ld->errlen, -ENOEXEC,
				  "%s: ELF file has no loadable segment", ld->path);
	ret = elf_entry(ld, ph, eh.e_phnum, eh.e_entry);
	if (ret)
		return ret;
	elf_fill_header(ld, start);
	pr_debug("vmlinux %s: [%#llx, %#llx), entry %#llx", ld->path, (unsigned long long) start,
		 (unsigned long long) ld->kernel_end, (unsigned long long) ld->entry);
	return 0;
}

/* ---- bzImage ---- */

static int bz_check_header(struct loader *ld, const struct setup_header *h)
{
	if (h->version < BZ_MIN_VERSION)
		return errbuf_set(
		    ld->err, ld->errlen, -ENOEXEC,
		    "%s: bzImage boot protocol %u.%02u is too old (64-bit entry needs 2.12)",
		    ld->path, h->version >> 8, h->version & 0xff);
	if (!(h->xloadflags & XLF_KERNEL_64))
		return errbuf_set(ld->err, ld->errlen, -ENOEXEC,
				  "%s: bzImage has no 64-bit entry point (XLF_KERNEL_64 clear)",
				  ld->path);
	if (!(h->loadflags & LOADED_HIGH))
		return errbuf_set(ld->err, ld->errlen, -ENOEXEC,
				  "%s: bzImage is a zImage (not loaded high)", ld->path);
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Where the protected-mode part goes: pref_address for a relocatable kernel if
 * [addr, addr+need) fits in RAM, else 1 MiB rounded up to the kernel's alignment. */
static uint64_t bz_load_addr(struct loader *ld, const struct setup_header *h, uint64_t need)
{
	uint64_t align = h->kernel_alignment;

	if (!h->relocatable_kernel)
		return LINUX_KERNEL_MIN;
	if (align == 0 || (align & (align - 1)) || align > GIB)
		align = DEFAULT_ALIGN;
	if (h->pref_address >= LINUX_KERNEL_MIN && mem_gpa(ld->m, h->pref_address, need))
		return h->pref_address;
	return align_up(LINUX_KERNEL_MIN, align);
}

/* Copy the bzImage's setup header (as long as its jump at 0x200 says) into boot_params. */
static int bz_copy_header(struct loader *ld)
{
	uint8_t jump_len;
	uint64_t len;
	int ret;

	ret = file_read(ld, 0x201, &jump_len, 1);
	if (ret)
		return ret;
	len = 0x202 + jump_len - HDR_OFFSET;
	if (len > sizeof(struct setup_header))
		len = sizeof(struct setup_header);
	return file_read(ld, HDR_OFFSET, &ld->bp->hdr, len);
}

/* A kernel that cannot relocate decompresses itself to pref_address (its
 * LOAD_PHYSICAL_ADDR) and runs there: that range must be RAM and stay free too. */
static int bz_fixed_range(struct loader *ld, const struct setup_header *h)
{
	if (h->relocatable_kernel)
		return 0;
	if (!kernel_dest(ld, h->pref_address, h->init_size, "bzImage runtime area"))
		return -ENOMEM;
	if (h->pref_address + h->init_size > ld->kernel_end)
		ld->kernel_end = h->pref_address + h->init_size;
	return 0;
}

static int bz_load(struct loader *ld)
{
	struct setup_header *h = &ld->bp->hdr;
	uint64_t setup_size, pm_size, need, addr;
	void *dst;
	int ret;

	ret = bz_copy_header(ld);
	ret = ret ?: bz_check_header(ld, h);
	if (ret)
		return ret;
	setup_size = ((uint64_t) (h->setup_sects ? h->setup_sects : 4) + 1) * 512;
	if (setup_size >= ld->size)
		return errbuf_set(ld->err, ld->errlen, -ENOEXEC,
				  "%s: bzImage truncated (setup %#llx of %#llx bytes)", ld->path,
				  (unsigned long long) setup_size, (unsigned long long) ld->size);
	pm_size = ld->size - setup_size;
	need = h->init_size > pm_size ? h->init_size : pm_size;
	addr = bz_load_addr(ld, h, need);
	dst = kernel_dest(ld, addr, need, "bzImage kernel");
	if (!dst)
		return -ENOMEM;
	ret = file_read(ld, setup_size, dst, pm_size);
	if (ret)
		return ret;
	h->code32_start = (uint32_t) addr;
	ld->entry = addr + BZ_ENTRY64_OFFSET;
	ld->kernel_end = addr + need;
	ld->cmdline_max = h->cmdline_size;
	ret = bz_fixed_range(ld, h);
	if (ret)
		return ret;
	pr_debug("bzImage %s: protocol %#x at %#llx, needs %#llx, entry %#llx", ld->path,
		 h->version, (unsigned long long) addr, (unsigned long long) need,
		 (unsigned long long) ld->entry);
	return 0;
}

/* ---- boot_params, initrd, command line, entry state ---- */

/* Load the kernel file, whichever format it is. */
static int kernel_load(struct loader *ld, const char *path)
{
	uint8_t magic[SELFMAG];
	uint8_t hdrs[4];
	uint16_t flag = 0;
	int ret;

	ret = file_open(ld, path, "kernel");
	if (ret)
		return ret;
	if (ld->size >= sizeof(Elf64_Ehdr) && !file_read(ld, 0, magic, SELFMAG) &&
	    !memcmp(magic, ELFMAG, SELFMAG))
		return elf_load(ld);
	if (ld->size >= 0x1000 && !file_read(ld, 0x1fe, &flag, 2) &&
	    !file_read(ld, 0x202, hdrs, 4) && flag == HDR_BOOT_FLAG && !memcmp(hdrs, "HdrS", 4))
		return bz_load(ld);
	return errbuf_set(ld->err, ld->errlen, -ENOEXEC, "%s: not a bzImage or vmlinux ELF", path);
}

static int cmdline_load(struct loader *ld, const char *cmdline)
{
	uint64_t max =
	    ld->cmdline_max < LINUX_CMDLINE_ROOM - 1 ? ld->cmdline_max : LINUX_CMDLINE_ROOM - 1;
	size_t len = cmdline ? strlen(cmdline) : 0;
	char *dst;

	if (len > max)
		return errbuf_set(ld->err, ld->errlen, -E2BIG,
				  "kernel command line too long (%zu bytes, kernel takes %llu)",
				  len, (unsigned long long) max);
	dst = mem_gpa(ld->m, LINUX_CMDLINE_GPA, len + 1);
	if (!dst)
		return errbuf_set(ld->err, ld->errlen, -ENOMEM,
				  "guest RAM too small for the command line");
	memcpy(dst, cmdline ? cmdline : "", len + 1);
	ld->bp->hdr.cmd_line_ptr = (uint32_t) LINUX_CMDLINE_GPA;
	return 0;
}

/* Highest address + 1 an initrd may end at: RAM below the 32-bit hole, capped by the
 * kernel's initrd_addr_max. */
static uint64_t initrd_top(struct loader *ld)
{
	const struct mem_region *low = mem_find(ld->m, 0);
	uint64_t top = low ? low->size : 0;
	uint64_t max = (uint64_t) ld->bp->hdr.initrd_addr_max + 1;

	return top < max ? top : max;
}

static int initrd_place(struct loader *ld, uint64_t *gpa)
{
	uint64_t top = initrd_top(ld);
	uint64_t addr;

	if (ld->size == 0)
		return errbuf_set(ld->err, ld->errlen, -EINVAL, "initrd %s is empty", ld->path);
	addr = ld->size <= top ? (top - ld->size) & ~(PAGE_SIZE - 1) : 0;
	if (ld->size > top || addr < ld->kernel_end || !mem_gpa(ld->m, addr, ld->size))
		return errbuf_set(
		    ld->err, ld->errlen, -ENOMEM,
		    "initrd %s (%llu KiB) does not fit in guest RAM between the kernel "
		    "end %#llx and %#llx",
		    ld->path, (unsigned long long) (ld->size >> 10),
		    (unsigned long long) ld->kernel_end, (unsigned long long) top);
	*gpa = addr;
	return 0;
}

static int initrd_load(struct loader *ld, const char *path)
{
	struct boot_params *bp = ld->bp;
	uint64_t gpa = 0;
	int ret;

	ret = file_open(ld, path, "initrd");
	ret = ret ?: initrd_place(ld, &gpa);
	ret = ret ?: file_read(ld, 0, mem_gpa(ld->m, gpa, ld->size), ld->size);
	if (ret)
		return ret;
	bp->hdr.ramdisk_image = (uint32_t) gpa;
	bp->ext_ramdisk_image = (uint32_t) (gpa >> 32);
	bp->hdr.ramdisk_size = (uint32_t) ld->size;
	bp->ext_ramdisk_size = (uint32_t) (ld->size >> 32);
	pr_debug("initrd %s: %#llx bytes at %#llx", path, (unsigned long long) ld->size,
		 (unsigned long long) gpa);
	return 0;
}

/* The loader-owned fields of boot_params: who we are, e820 map (with the MP table's
 * KiB and the ACPI page reserved), where the RSDP is. */
static void boot_params_fill(struct loader *ld)
{
	struct mem_e820 e820[E820_MAX_ENTRIES_ZEROPAGE];
	struct boot_params *bp = ld->bp;
	int n = mem_e820(ld->m, e820, E820_MAX_ENTRIES_ZEROPAGE);

	n = mptable_e820_reserve(e820, n, E820_MAX_ENTRIES_ZEROPAGE);
	n = mem_e820_reserve(e820, n, E820_MAX_ENTRIES_ZEROPAGE, ACPI_GPA, ACPI_GPA + ACPI_SIZE);

	bp->hdr.type_of_loader = 0xff; /* undefined loader */
	bp->hdr.loadflags |= CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.hardware_subarch = X86_SUBARCH_PC;
	for (int i = 0; i < n; i++) {
		bp->e820_table[i].addr = e820[i].addr;
		bp->e820_table[i].size = e820[i].size;
		bp->e820_table[i].type = e820[i].type;
	}
	bp->e820_entries = (uint8_t) n;
	bp->acpi_rsdp_addr = ACPI_GPA;
}

static int entry_state(struct loader *ld, struct x86_boot *boot)
{
	int ret = x86_build_identity_map(ld->m, LINUX_PT_GPA, IDENTITY_MAP_LIMIT, false);

	ret = ret ?: x86_build_gdt(ld->m, LINUX_GDT_GPA);
	if (ret)
		return errbuf_set(ld->err, ld->errlen, ret, "cannot write page tables or GDT: %s",
				  strerror(-ret));
	*boot = (struct x86_boot){
	    .rip = ld->entry,
	    .rsp = LINUX_STACK_TOP,
	    .rsi = LINUX_ZERO_PAGE_GPA,
	    .cr3 = LINUX_PT_GPA,
	    .gdt_gpa = LINUX_GDT_GPA,
	    .cpl = 0,
	    .linux_cpuid = true,
	};
	return 0;
}

/* The low boot area must be RAM: it holds boot_params, page tables, GDT and cmdline. */
static int low_area_check(struct loader *ld)
{
	ld->bp = mem_gpa(ld->m, LINUX_ZERO_PAGE_GPA, sizeof(*ld->bp));
	if (!ld->bp || !mem_gpa(ld->m, 0, LINUX_CMDLINE_GPA + LINUX_CMDLINE_ROOM))
		return errbuf_set(ld->err, ld->errlen, -ENOMEM,
				  "guest RAM too small for a Linux guest");
	memset(ld->bp, 0, sizeof(*ld->bp));
	return 0;
}

/* The MP table tells the kernel its @ncpus CPUs (without it: "SMP disabled"). */
static int mptable_load(struct loader *ld, unsigned ncpus)
{
	int ret = mptable_write(ld->m, ncpus);

	if (ret)
		return errbuf_set(ld->err, ld->errlen, ret,
				  "cannot write the MP table for %u CPUs: %s", ncpus,
				  strerror(-ret));
	return 0;
}

/* The ACPI tables (CPUs again, and the generation ID device: vmm/acpi.h), with an ID of
 * zeros until the caller sets the guest's (acpi_set_genid). */
static int acpi_load(struct loader *ld, unsigned ncpus)
{
	static const uint8_t no_id[ACPI_VMGENID_SIZE];
	int ret = acpi_write(ld->m, ncpus, no_id);

	if (ret)
		return errbuf_set(ld->err, ld->errlen, ret,
				  "cannot write the ACPI tables for %u CPUs: %s", ncpus,
				  strerror(-ret));
	return 0;
}

int linux_load(struct guest_mem *m, const char *kernel_path, const char *initrd_path,
	       const char *cmdline, unsigned ncpus, struct x86_boot *boot, char *err, size_t errlen)
{
	struct loader ld = {.m = m, .err = err, .errlen = errlen, .fd = -1};
	int ret;

	if (!m || !kernel_path || !boot)
		return errbuf_set(ld.err, ld.errlen, -EINVAL,
				  "linux_load: missing guest memory, kernel or boot state");
	ret = low_area_check(&ld);
	ret = ret ?: kernel_load(&ld, kernel_path);
	file_close(&ld);
	ret = ret ?: cmdline_load(&ld, cmdline);
	if (!ret && initrd_path) {
		ret = initrd_load(&ld, initrd_path);
		file_close(&ld);
	}
	if (ret)
		return ret;
	boot_params_fill(&ld);
	ret = mptable_load(&ld, ncpus);
	ret = ret ?: acpi_load(&ld, ncpus);
	return ret ?: entry_state(&ld, boot);
}
