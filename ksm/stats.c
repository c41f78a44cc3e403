/* stats.c - the engine's published figures: counters, per-VM page states, sharing matrix. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksm/internal.h"
#include "ksm/stats.h"

static void vm_stats(const struct ksm *k, const struct ksm_vm *vm, struct ksm_vm_stats *s)
{
	double saved = 0, cost = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", vm->name);
	s->opaque = vm->opaque;
	s->group = vm->group;
	s->pages_total = vm->npages;
	s->merges = vm->merges;
	s->adopted = vm->adopted;
	s->cow_breaks = vm->cow_breaks;
	s->reports = vm->reports;
	s->pages_volatile = vm->volatile_pages;
	for (uint64_t i = 0; i < vm->npages; i++) {
		const struct ksm_page *p = &vm->pages[i];

		if (p->kind == KSM_PAGE_MERGED) {
			uint32_t refs = k->pool.canon[p->canon].refs;

			s->pages_merged++;
			saved += refs ? (double) (refs - 1) / refs : 0;
			cost += refs ? 1.0 / refs : 1;
		} else if (p->kind == KSM_PAGE_ZERO && (p->flags & KSM_PF_REPORTED)) {
			s->pages_reported++;
		} else if (p->kind == KSM_PAGE_ZERO && (p->flags & KSM_PF_EMPTY)) {
			s->pages_empty++;
		} else if (p->kind == KSM_PAGE_ZERO) {
			s->pages_zero++;
			saved += 1;
		} else {
			s->pages_private++;
			cost += 1;
			if (p->flags & KSM_PF_VOLATILE)
				continue;
			if (p->flags & KSM_PF_HASHED)
				s->pages_unique++;
			else
				s->pages_unscanned++;
		}
	}
	s->bytes_saved = (uint64_t) (saved * PAGE_SIZE + 0.5);
	s->cost_bytes = (uint64_t) (cost * PAGE_SIZE + 0.5);
}

static void engine_stats(struct ksm *k, struct ksm_stats *out)
{
	*out = (struct ksm_stats){
	    .passes = k->passes,
	    .passes_held = k->passes_held,
	    .pages_scanned = k->pages_scanned,
	    .pages_hashed = k->pages_hashed,
	    .merges = k->merges,
	    .zero_released = k->zero_released,
	    .compare_fail = k->compare_fail,
	    .cow_breaks = k->cow_breaks,
	    .pool_pages = k->pool.used,
	    .pool_freed = k->pool.freed,
	    .image_pages = k->pool.nr_pinned,
	    .image_idle = k->pool.nr_idle,
	    .adopted = k->adopted,
	    .mappings_used = k->vmas.used,
	    .mappings_limit = k->vmas.limit,
	    .budget_skips = k->budget_skips,
	    .budget_isolated_paused = !ksm_vmas_allow(&k->vmas, 1),
	    .budget_full = !ksm_vmas_allow(&k->vmas, 2),
	    .cpu_seconds = k->cpu_seconds,
	    .stall_p50_us = ksm_stall_percentile(&k->stall, 50),
	    .stall_p99_us = ksm_stall_percentile(&k->stall, 99),
	    .stall_max_us = k->stall.max_us,
	    .stalls = k->stall.count,
	    .pause_p99_us = ksm_stall_percentile(&k->pause_wait, 99),
	    .pause_max_us = k->pause_wait.max_us,
	    .tun = k->tun,
	};
}

/* Make room for @n VM entries in the snapshot. Caller holds stats_lock. */
static bool snap_reserve(struct ksm *k, size_t n)
{
	struct ksm_vm_stats *v;

	if (n <= k->snap_cap)
		return true;
	v = realloc(k->snap_vms, n * sizeof(*v));
	if (!v)
		return false;
	k->snap_vms = v;
	k->snap_cap = n;
	return true;
}

void ksm_stats_publish(struct ksm *k)
{
	size_t n = 0;

	for (const struct ksm_vm *vm = k->vms; vm; vm = vm->next)
		n++;
	pthread_mutex_lock(&k->stats_lock);
	if (snap_reserve(k, n)) {
		size_t i = n;

		engine_stats(k, &k->snap);
		/* The list is newest first; the snapshot is in registration order. */
		for (const struct ksm_vm *vm = k->vms; vm; vm = vm->next) {
			vm_stats(k, vm, &k->snap_vms[--i]);
			k->snap.bytes_saved += k->snap_vms[i].bytes_saved;
		}
		k->snap_n = n;
	}
	pthread_mutex_unlock(&k->stats_lock);
}

size_t ksm_get_stats(struct ksm *k, struct ksm_stats *out, struct ksm_vm_stats *vms, size_t max)
{
	size_t n;

	pthread_mutex_lock(&k->stats_lock);
	*out = k->snap;
	n = k->snap_n < max ? k->snap_n : max;
	if (n)
		memcpy(vms, k->snap_vms, n * sizeof(*vms));
	pthread_mutex_unlock(&k->stats_lock);
	return n;
}

/* One bit per pool page for each VM: which pool pages it maps. */
static uint64_t *mapped_bits(const struct ksm_vm *vm, uint64_t words)
{
	uint64_t *bits = calloc(words, 8);

	for (uint64_t i = 0; bits && i < vm->npages; i++) {
		const struct ksm_page *p = &vm->pages[i];

		if (p->kind == KSM_PAGE_MERGED)
			bits[p->canon / 64] |= 1ull << (p->canon % 64);
	}
	return bits;
}

static uint64_t common(const uint64_t *a, const uint64_t *b, uint64_t words)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w < words; w++)
		n += (uint64_t) __builtin_popcountll(a[w] & b[w]);
	return n;
}

int ksm_matrix(struct ksm *k, uint64_t *out, void **opaques, size_t n)
{
	uint64_t words = (k->pool.cap + 63) / 64, **bits;
	size_t nvm = 0, i = 0;
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	for (const struct ksm_vm *vm = k->vms; vm; vm = vm->next)
		nvm++;
	n = n < nvm ? n : nvm;
	bits = calloc(nvm ? nvm : 1, sizeof(*bits));
	/* The list is newest first: VM number nvm-1-i in registration order. */
	for (const struct ksm_vm *vm = k->vms; bits && vm; vm = vm->next, i++) {
		if (nvm - 1 - i >= n)
			continue;
		if (opaques)
			opaques[nvm - 1 - i] = vm->opaque;
		if (!(bits[nvm - 1 - i] = mapped_bits(vm, words)))
			ret = -ENOMEM;
	}
	pthread_mutex_unlock(&k->lock);
	if (!bits)
		return -ENOMEM;
	for (size_t a = 0; !ret && a < n; a++)
		for (size_t b = a; b < n; b++)
			out[a * n + b] = out[b * n + a] = common(bits[a], bits[b], words);
	for (i = 0; i < nvm; i++)
		free(bits[i]);
	free(bits);
	return ret ? ret : (int) n;
}
