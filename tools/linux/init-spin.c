/* init-spin.c - /sbin/ksmvmm-spin: a PID 1 for the minimal Linux guest that makes no system call.
 *
 * On PVM hosts a system call from guest user space does not reach the kernel, so an
 * init that needs one dies at once and takes the kernel down with it. This init only
 * spins on rdtsc, keeping the kernel alive (timers, device interrupts, the balloon's
 * free page reporting all run meanwhile), then executes ud2: the kernel logs the trap
 * ("trap invalid opcode") and panics ("Attempted to kill init"), which ends the guest.
 * The kernel log is the proof: the trap comes the configured time after "Run".
 *
 * Kernel command line (the kernel hands unknown name=value words to init's environment):
 *   ksmvmm_spin=SECONDS    how long to spin (default 60)
 *   ksmvmm_tsc_mhz=MHZ     TSC rate; default from CPUID leaf 0x16, else 0x15, else the
 *                          hypervisor leaf 0x40000010, else 2000
 * Freestanding: no libc, no stack protector; built static by the Makefile.
 */
#include <stdint.h>

#define DEFAULT_SPIN_S 60
#define DEFAULT_TSC_MHZ 2000

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t) hi << 32 | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(0));
}

/* The value of NAME=... in @envp as a decimal number, or @def if absent or malformed. */
static uint64_t env_number(char **envp, const char *name, uint64_t def)
{
	for (; *envp; envp++) {
		const char *s = *envp, *n = name;
		uint64_t v = 0;

		while (*n && *s == *n)
			s++, n++;
		if (*n || *s++ != '=' || *s < '0' || *s > '9')
			continue;
		while (*s >= '0' && *s <= '9' && v < (1ull << 40))
			v = v * 10 + (uint64_t) (*s++ - '0');
		return *s ? def : v;
	}
	return def;
}

/* The TSC rate as the CPU or hypervisor announces it, in MHz, or 0 if neither does. */
static uint64_t cpuid_tsc_mhz(void)
{
	uint32_t r[4];

	cpuid(0, r);
	if (r[0] >= 0x16) {
		cpuid(0x16, r);
		if (r[0])
			return r[0]; /* base frequency in MHz */
	}
	cpuid(0, r);
	if (r[0] >= 0x15) {
		cpuid(0x15, r); /* TSC = crystal (ecx Hz) * ebx / eax */
		if (r[0] && r[1] && r[2])
			return (uint64_t) r[2] * r[1] / r[0] / 1000000;
	}
	cpuid(0x40000000, r);
	if (r[0] >= 0x40000010) {
		cpuid(0x40000010, r); /* TSC in kHz (VMware's leaf; some hypervisors fill it) */
		if (r[0])
			return r[0] / 1000;
	}
	return 0;
}

void init_main(uint64_t *sp);

/* @sp: the initial stack, argc then argv[], NULL, envp[], NULL. Never returns. */
void init_main(uint64_t *sp)
{
	char **envp = (char **) (sp + 1) + sp[0] + 1;
	uint64_t mhz = cpuid_tsc_mhz();
	uint64_t seconds, end;

	mhz = env_number(envp, "ksmvmm_tsc_mhz", mhz ? mhz : DEFAULT_TSC_MHZ);
	seconds = env_number(envp, "ksmvmm_spin", DEFAULT_SPIN_S);
	end = rdtsc() + seconds * mhz * 1000000;
	while (rdtsc() < end)
		__asm__ volatile("pause");
	__asm__ volatile("ud2");
	for (;;)
		;
}

/* Entry from the kernel: pass the initial stack pointer, keep the stack ABI-aligned. */
__asm__(".globl _start\n"
	"_start:\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call init_main\n"
	"	ud2\n");
