/* engine.c - the merge engine's thread, VM registry, tunables and published statistics.
 *
 * Overview. Guest RAM is anonymous private memory. The engine repeatedly passes over
 * every registered VM (scan.c): KVM's dirty log says which pages were written since the
 * last pass; the others keep their xxh3 hash without being read again. Equal hashes
 * within a sharing group are candidates; the page is then compared byte for byte with
 * the VM paused and remapped MAP_PRIVATE|MAP_FIXED onto a canonical page of the pool
 * memfd (merge.c, pool.c), or released with MADV_DONTNEED if it is all zeros. A guest
 * write to a merged page is copied by the host kernel in the fault; the engine learns
 * of it from the dirty log and confirms it in /proc/self/pagemap before the pool page
 * loses that member. A pool page with no members left is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "ksm/internal.h"
#include "lib/clock.h"

void ksm_default_tunables(struct ksm_tunables *t)
{
	*t = (struct ksm_tunables){
	    .interval_ms = 100,
	    .batch_pages = 256,
	    .max_stall_us = 400,
	    .scan_rate = 0,
	};
}

uint8_t *ksm_vm_page(const struct ksm_vm *vm, uint64_t i)
{
	unsigned r = ksm_vm_region(vm, i);

	return vm->regions[r].hva + (i - vm->first_page[r]) * PAGE_SIZE;
}

unsigned ksm_vm_region(const struct ksm_vm *vm, uint64_t i)
{
	unsigned r = 0;

	while (r + 1 < vm->nr_regions && i >= vm->first_page[r + 1])
		r++;
	return r;
}

int ksm_vm_queue(struct ksm_vm *vm, uint64_t page, uint32_t canon)
{
	if (vm->nr_actions == vm->cap_actions) {
		uint64_t cap = vm->cap_actions ? vm->cap_actions * 2 : 1024;
		struct ksm_action *n = realloc(vm->actions, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		vm->actions = n;
		vm->cap_actions = cap;
	}
	vm->actions[vm->nr_actions++] = (struct ksm_action){.page = page, .canon = canon};
	return 0;
}

void ksm_canon_put(struct ksm *k, uint32_t id)
{
	const struct ksm_canon *c = &k->pool.canon[id];

	if (c->refs == 1)
		ksm_index_remove(&k->stable, c->hash, c->group, id);
	ksm_pool_put(&k->pool, id);
}

/* The stable index keeps 32 bits of each key: the pool page's record has the rest. */
static bool stable_match(const void *ctx, uint32_t id, uint64_t hash, uint32_t group)
{
	const struct ksm_canon *c = &((const struct ksm *) ctx)->pool.canon[id];

	return c->hash == hash && c->group == group;
}

struct ksm *ksm_create(uint64_t max_pages, const struct ksm_tunables *tun)
{
	static const uint8_t zero[PAGE_SIZE];
	struct ksm *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	if (max_pages >= KSM_POOL_NONE - 1)
		max_pages = KSM_POOL_NONE - 2;
	k->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (ksm_pool_init(&k->pool, (uint32_t) max_pages + 1) ||
	    ksm_index_init(&k->stable, 1024, stable_match, k) ||
	    ksm_index_init(&k->unstable, 1024, ksm_unstable_match, k)) {
		ksm_destroy(k);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&k->lock, NULL);
	pthread_mutex_init(&k->stats_lock, NULL);
	pthread_cond_init(&k->wake, NULL);
	k->zero_hash = XXH3_64bits(zero, PAGE_SIZE);
	k->calm_passes = KSM_CALM_PASSES; /* no storm seen yet */
	if (tun)
		k->tun = *tun;
	else
		ksm_default_tunables(&k->tun);
	ksm_vmas_resync(&k->vmas);
	clock_gettime(CLOCK_MONOTONIC, &k->last_pass);
	return k;
}

static int vm_alloc(struct ksm_vm *vm)
{
	vm->pages = calloc(vm->npages, sizeof(*vm->pages));
	if (!vm->pages)
		return -ENOMEM;
	for (unsigned r = 0; r < vm->nr_regions; r++) {
		vm->dirty[r] = calloc((vm->regions[r].npages + 63) / 64, 8);
		if (!vm->dirty[r])
			return -ENOMEM;
	}
	for (uint64_t i = 0; i < vm->npages; i++)
		vm->pages[i].canon = KSM_POOL_NONE;
	return 0;
}

static void vm_release(struct ksm_vm *vm)
{
	for (unsigned r = 0; r < vm->nr_regions; r++)
		free(vm->dirty[r]);
	free(vm->actions);
	free(vm->pages);
	free(vm);
}

struct ksm_vm *ksm_add_vm(struct ksm *k, const char *name, uint32_t group,
			  const struct ksm_region *regions, unsigned nr,
			  const struct ksm_vm_ops *ops, void *opaque)
{
	struct ksm_vm *vm = calloc(1, sizeof(*vm));

	if (!vm || nr == 0 || nr > KSM_MAX_REGIONS) {
		free(vm);
		return NULL;
	}
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	vm->group = group;
	vm->nr_regions = nr;
	vm->ops = ops;
	vm->opaque = opaque;
	for (unsigned r = 0; r < nr; r++) {
		vm->regions[r] = regions[r];
		vm->first_page[r] = vm->npages;
		vm->npages += regions[r].npages;
	}
	if (vm_alloc(vm)) {
		vm_release(vm);
		return NULL;
	}
	pthread_mutex_lock(&k->lock);
	if ((uint64_t) k->next_base + vm->npages >= KSM_INDEX_NONE - 1) {
		pthread_mutex_unlock(&k->lock);
		vm_release(vm);
		return NULL;
	}
	vm->base = k->next_base;
	k->next_base += (uint32_t) vm->npages;
	vm->next = k->vms;
	k->vms = vm;
	ksm_publish(k);
	pthread_mutex_unlock(&k->lock);
	return vm;
}

void ksm_vm_detach(struct ksm *k, struct ksm_vm *vm)
{
	pthread_mutex_lock(&k->lock);
	for (uint64_t i = 0; i < vm->npages; i++)
		ksm_unstable_forget(k, vm, i);
	for (struct ksm_vm **pp = &k->vms; *pp; pp = &(*pp)->next) {
		if (*pp == vm) {
			*pp = vm->next;
			break;
		}
	}
	vm->next = NULL;
	ksm_publish(k);
	pthread_mutex_unlock(&k->lock);
}

void ksm_vm_free(struct ksm *k, struct ksm_vm *vm)
{
	if (!vm)
		return;
	pthread_mutex_lock(&k->lock);
	for (uint64_t i = 0; i < vm->npages; i++)
		if (vm->pages[i].kind == KSM_PAGE_MERGED)
			ksm_canon_put(k, vm->pages[i].canon);
	ksm_publish(k);
	pthread_mutex_unlock(&k->lock);
	vm_release(vm);
}

void ksm_pass(struct ksm *k)
{
	double t0 = clock_thread_cpu_s();

	pthread_mutex_lock(&k->lock);
	ksm_scan_pass(k);
	k->cpu_seconds += clock_thread_cpu_s() - t0;
	ksm_publish(k);
	pthread_mutex_unlock(&k->lock);
}

static void *engine_thread(void *arg)
{
	struct ksm *k = arg;
	struct timespec until, published = {0, 0};
	unsigned idle = 0;
	uint32_t ms;

	/* A batch holds guests paused: do not let busy vCPU threads preempt it midway.
	 * Best effort: without CAP_SYS_NICE the engine runs at normal priority. */
	setpriority(PRIO_PROCESS, (id_t) gettid(), -10);
	pthread_mutex_lock(&k->lock);
	while (!k->stopping) {
		double t0 = clock_thread_cpu_s();
		struct timespec now;

		ksm_scan_pass(k);
		k->cpu_seconds += clock_thread_cpu_s() - t0;
		/* Publishing reads every page's state; held-back passes come every 20 ms
		 * and change little: publish those at most every interval. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!k->hold || clock_diff_s(&published, &now) >= k->tun.interval_ms / 1000.0) {
			ksm_publish(k);
			published = now;
		}
		/* A quiet fleet is looked at less often: up to 8 intervals apart. */
		idle = k->activity || k->hold ? 0 : idle < 3 ? idle + 1 : idle;
		ms = k->tun.interval_ms;
		/* Soon again while merging is held back, and after a pass whose dirty log
		 * covered a long gap (the engine slept): its written pages were set aside
		 * as volatile, and most have long been still. */
		if ((k->hold || (k->activity && k->pass_dt * 1000 > 4.0 * ms)) &&
		    ms > KSM_HOLD_INTERVAL_MS)
			ms = KSM_HOLD_INTERVAL_MS;
		/* The condition variable waits on CLOCK_REALTIME (its default). */
		clock_deadline(&until, CLOCK_REALTIME, (uint64_t) ms * 1000 << idle);
		if (!k->stopping)
			pthread_cond_timedwait(&k->wake, &k->lock, &until);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int ksm_start(struct ksm *k)
{
	int ret;

	k->stopping = false;
	ret = pthread_create(&k->thread, NULL, engine_thread, k);
	if (ret)
		return -ret;
	pthread_setname_np(k->thread, "ksm-engine");
	k->running = true;
	return 0;
}

void ksm_stop(struct ksm *k)
{
	if (!k->running)
		return;
	pthread_mutex_lock(&k->lock);
	k->stopping = true;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	k->running = false;
}

static void vm_stats(const struct ksm *k, const struct ksm_vm *vm, struct ksm_vm_stats *s)
{
	double saved = 0, cost = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", vm->name);
	s->group = vm->group;
	s->pages_total = vm->npages;
	s->merges = vm->merges;
	s->cow_breaks = vm->cow_breaks;
	s->pages_volatile = vm->volatile_pages;
	for (uint64_t i = 0; i < vm->npages; i++) {
		const struct ksm_page *p = &vm->pages[i];

		if (p->kind == KSM_PAGE_MERGED) {
			uint32_t refs = k->pool.canon[p->canon].refs;

			s->pages_merged++;
			saved += refs ? (double) (refs - 1) / refs : 0;
			cost += refs ? 1.0 / refs : 1;
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

void ksm_publish(struct ksm *k)
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

int ksm_matrix(struct ksm *k, uint64_t *out, size_t n)
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
	for (const struct ksm_vm *vm = k->vms; bits && vm; vm = vm->next, i++)
		if (nvm - 1 - i < n && !(bits[nvm - 1 - i] = mapped_bits(vm, words)))
			ret = -ENOMEM;
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

int ksm_set_tunable(struct ksm *k, const char *key, uint64_t value)
{
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	if (!strcmp(key, "interval_ms") && value >= 1 && value <= 60000)
		k->tun.interval_ms = (uint32_t) value;
	else if (!strcmp(key, "batch_pages") && value >= 1 && value <= 65536)
		k->tun.batch_pages = (uint32_t) value;
	else if (!strcmp(key, "max_stall_us") && value >= 10 && value <= 1000000)
		k->tun.max_stall_us = (uint32_t) value;
	else if (!strcmp(key, "scan_rate") && value <= (1ull << 40))
		k->tun.scan_rate = value;
	else if (strcmp(key, "interval_ms") && strcmp(key, "batch_pages") &&
		 strcmp(key, "max_stall_us") && strcmp(key, "scan_rate"))
		ret = -ENOENT;
	else
		ret = -ERANGE;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

void ksm_destroy(struct ksm *k)
{
	if (!k)
		return;
	ksm_stop(k);
	/* VMs still registered: their pool pages go with the pool. */
	while (k->vms) {
		struct ksm_vm *vm = k->vms;

		k->vms = vm->next;
		vm_release(vm);
	}
	ksm_pool_destroy(&k->pool);
	ksm_index_free(&k->stable);
	ksm_index_free(&k->unstable);
	free(k->snap_vms);
	free(k->created);
	if (k->pagemap_fd >= 0)
		close(k->pagemap_fd);
	free(k);
}
