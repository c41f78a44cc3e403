/* store.c - the five ways the workload guest writes a page, each pinned in inline asm.
 *
 * A real guest dirties memory through many instruction paths, and a VMM that merges and
 * un-merges pages under it must survive all of them: plain stores, string stores, locked
 * read-modify-writes, non-temporal stores and vector stores. Each kind is written in asm
 * so the compiler cannot turn one into another (e.g. a loop into rep stos or memset).
 */
#include "tests/guest/workload/store.h"

static void store_mov(uint64_t *p, uint64_t v, uint64_t step)
{
	uint32_t n = WL_QWORDS_PER_PAGE;

	asm volatile("1:\n\t"
		     "movq %[v], (%[p])\n\t"
		     "addq %[s], %[v]\n\t"
		     "addq $8, %[p]\n\t"
		     "decl %[n]\n\t"
		     "jnz 1b"
		     : [p] "+r"(p), [v] "+r"(v), [n] "+r"(n)
		     : [s] "r"(step)
		     : "memory", "cc");
}

/* rep stosq can only repeat one value: callers pass step 0 content. */
static void store_stos(uint64_t *p, uint64_t v)
{
	uint64_t n = WL_QWORDS_PER_PAGE;

	asm volatile("cld\n\trep stosq" : "+D"(p), "+c"(n) : "a"(v) : "memory", "cc");
}

/* lock xadd of (target - old): only the owning vCPU writes the page, so the result is
 * exactly the target; the locked RMW is what matters (an atomic write to a page the VMM
 * may have just merged). */
static void store_lock(uint64_t *p, uint64_t v, uint64_t step)
{
	for (uint32_t k = 0; k < WL_QWORDS_PER_PAGE; k++, v += step) {
		uint64_t d = v - *(volatile uint64_t *) &p[k];

		asm volatile("lock xaddq %[d], %[m]" : [d] "+r"(d), [m] "+m"(p[k]) : : "cc");
	}
}

static void store_movnti(uint64_t *p, uint64_t v, uint64_t step)
{
	uint32_t n = WL_QWORDS_PER_PAGE;

	asm volatile("1:\n\t"
		     "movntiq %[v], (%[p])\n\t"
		     "addq %[s], %[v]\n\t"
		     "addq $8, %[p]\n\t"
		     "decl %[n]\n\t"
		     "jnz 1b\n\t"
		     "sfence"
		     : [p] "+r"(p), [v] "+r"(v), [n] "+r"(n)
		     : [s] "r"(step)
		     : "memory", "cc");
}

/* SSE2: xmm0 = {v, v+s}, advanced by {2s, 2s} per 16-byte store. */
static void store_sse(uint64_t *p, uint64_t v, uint64_t step)
{
	uint64_t init[2] = {v, v + step};
	uint64_t inc[2] = {2 * step, 2 * step};
	uint32_t n = WL_QWORDS_PER_PAGE / 2;

	/* The arrays reach the asm by address; the "memory" clobber makes them stored. */
	asm volatile("movdqu (%[init]), %%xmm0\n\t"
		     "movdqu (%[inc]), %%xmm1\n\t"
		     "1:\n\t"
		     "movdqu %%xmm0, (%[p])\n\t"
		     "paddq %%xmm1, %%xmm0\n\t"
		     "addq $16, %[p]\n\t"
		     "decl %[n]\n\t"
		     "jnz 1b"
		     : [p] "+r"(p), [n] "+r"(n)
		     : [init] "r"(init), [inc] "r"(inc)
		     : "memory", "cc", "xmm0", "xmm1");
}

/* AVX1 (no AVX2 integer ops on ymm): build each 32-byte value from two xmm halves
 * {v, v+s} and {v+2s, v+3s}, store it with vmovdqu ymm, advance both halves by 4s. */
static void store_avx(uint64_t *p, uint64_t v, uint64_t step)
{
	uint64_t init[4] = {v, v + step, v + 2 * step, v + 3 * step};
	uint64_t inc[2] = {4 * step, 4 * step};
	uint32_t n = WL_QWORDS_PER_PAGE / 4;

	asm volatile("vmovdqu (%[init]), %%xmm0\n\t"
		     "vmovdqu 16(%[init]), %%xmm1\n\t"
		     "vmovdqu (%[inc]), %%xmm2\n\t"
		     "1:\n\t"
		     "vinsertf128 $1, %%xmm1, %%ymm0, %%ymm3\n\t"
		     "vmovdqu %%ymm3, (%[p])\n\t"
		     "vpaddq %%xmm2, %%xmm0, %%xmm0\n\t"
		     "vpaddq %%xmm2, %%xmm1, %%xmm1\n\t"
		     "addq $32, %[p]\n\t"
		     "decl %[n]\n\t"
		     "jnz 1b\n\t"
		     "vzeroupper"
		     : [p] "+r"(p), [n] "+r"(n)
		     : [init] "r"(init), [inc] "r"(inc)
		     : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3");
}

void wl_store_page(uint64_t *page, const struct wl_content *c, int has_avx)
{
	switch (c->kind) {
	case WL_STORE_STOS: store_stos(page, c->base); break;
	case WL_STORE_LOCK: store_lock(page, c->base, c->step); break;
	case WL_STORE_MOVNTI: store_movnti(page, c->base, c->step); break;
	case WL_STORE_VEC:
		if (has_avx)
			store_avx(page, c->base, c->step);
		else
			store_sse(page, c->base, c->step);
		break;
	default: store_mov(page, c->base, c->step); break;
	}
}

int wl_check_page(const uint64_t *page, const struct wl_content *c)
{
	uint64_t v = c->base, diff = 0;

	/* Accumulate instead of returning early: a full page read costs the same and keeps
	 * the loop branch-free. */
	for (uint32_t k = 0; k < WL_QWORDS_PER_PAGE; k++, v += c->step)
		diff |= page[k] ^ v;
	return diff == 0;
}
