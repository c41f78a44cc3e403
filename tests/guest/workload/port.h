/* port.h - the guest's only ways to reach the VMM and the other vCPUs: port I/O, atomics, TSC. */
#ifndef WORKLOAD_PORT_H
#define WORKLOAD_PORT_H

#include <stdint.h>

/* Port I/O is legal at CPL3 because the VMM enters us with IOPL 3; each access is one
 * exit to the VMM (~17 us under PVM), so callers batch their waits. */
static inline void wl_outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void wl_outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint32_t wl_inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* Atomically add @v to *@p; returns the old value. A full barrier (lock prefix). */
static inline uint64_t wl_xadd(volatile uint64_t *p, uint64_t v)
{
	asm volatile("lock xaddq %0, %1" : "+r"(v), "+m"(*p) : : "memory", "cc");
	return v;
}

/* Atomically add @v to *@p (lock add: the counter is read by the VMM and other vCPUs). */
static inline void wl_atomic_add(volatile uint64_t *p, uint64_t v)
{
	asm volatile("lock addq %1, %0" : "+m"(*p) : "r"(v) : "memory", "cc");
}

static inline uint32_t wl_xchg32(volatile uint32_t *p, uint32_t v)
{
	asm volatile("xchgl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v;
}

static inline void wl_pause(void)
{
	asm volatile("pause" : : : "memory");
}

/* Time stamp counter; CR4.TSD is clear, so rdtsc is legal at CPL3. */
/* rdtsc ordered after every earlier instruction and store (for timing one store). */
static inline uint64_t wl_rdtsc_fenced(void)
{
	uint32_t lo, hi;

	asm volatile("mfence; lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t) hi << 32) | lo;
}

static inline uint64_t wl_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t) hi << 32) | lo;
}

/* Die on purpose: with no IDT the #UD becomes a triple fault (KVM_EXIT_SHUTDOWN). */
static inline __attribute__((noreturn)) void wl_die(void)
{
	for (;;)
		asm volatile("ud2");
}

#endif
