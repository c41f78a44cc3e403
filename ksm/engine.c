/* engine.c - the merge engine's thread, VM registry and tunables (overview: ksm/ksm.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "ksm/image.h"
#include "ksm/internal.h"
#include "ksm/scan.h"
#include "ksm/stats.h"
#include "ksm/vm.h"
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
	    ksm_index_init(&k->unstable, 1024, ksm_vm_unstable_match, k)) {
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
		vm->reported[r] = calloc((vm->regions[r].npages + 63) / 64, 8);
		if (!vm->dirty[r] || !vm->reported[r])
			return -ENOMEM;
	}
	for (uint64_t i = 0; i < vm->npages; i++)
		vm->pages[i].canon = KSM_POOL_NONE;
	return 0;
}

static void vm_release(struct ksm_vm *vm)
{
	for (unsigned r = 0; r < vm->nr_regions; r++) {
		free(vm->dirty[r]);
		free(vm->reported[r]);
	}
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
	ksm_stats_publish(k);
	pthread_mutex_unlock(&k->lock);
	return vm;
}

void ksm_vm_detach(struct ksm *k, struct ksm_vm *vm)
{
	pthread_mutex_lock(&k->lock);
	for (uint64_t i = 0; i < vm->npages; i++)
		ksm_vm_unstable_forget(k, vm, i);
	for (struct ksm_vm **pp = &k->vms; *pp; pp = &(*pp)->next) {
		if (*pp == vm) {
			*pp = vm->next;
			break;
		}
	}
	vm->next = NULL;
	ksm_stats_publish(k);
	pthread_mutex_unlock(&k->lock);
}

void ksm_vm_free(struct ksm *k, struct ksm_vm *vm)
{
	if (!vm)
		return;
	pthread_mutex_lock(&k->lock);
	for (uint64_t i = 0; i < vm->npages; i++)
		if (vm->pages[i].kind == KSM_PAGE_MERGED)
			ksm_vm_canon_put(k, vm->pages[i].canon);
	ksm_stats_publish(k);
	pthread_mutex_unlock(&k->lock);
	vm_release(vm);
}

void ksm_pass(struct ksm *k)
{
	double t0 = clock_thread_cpu_s();

	pthread_mutex_lock(&k->lock);
	ksm_scan_pass(k);
	k->cpu_seconds += clock_thread_cpu_s() - t0;
	ksm_stats_publish(k);
	pthread_mutex_unlock(&k->lock);
}

void ksm_publish(struct ksm *k)
{
	pthread_mutex_lock(&k->lock);
	ksm_stats_publish(k);
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
			ksm_stats_publish(k);
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
	ksm_image_free_all(k);
	ksm_pool_destroy(&k->pool);
	ksm_index_free(&k->stable);
	ksm_index_free(&k->unstable);
	free(k->snap_vms);
	free(k->created);
	if (k->pagemap_fd >= 0)
		close(k->pagemap_fd);
	free(k);
}
