/* vmas.c - count the process's mappings and decide whether merging may add more. */
#include "ksm/vmas.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_LIMIT 65530

static uint64_t read_limit(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	unsigned long long v = 0;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v ? v : DEFAULT_LIMIT;
}

uint64_t ksm_vmas_count(void)
{
	char buf[65536];
	uint64_t lines = 0;
	ssize_t n;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines;
}

void ksm_vmas_resync(struct ksm_vmas *v)
{
	uint64_t counted = ksm_vmas_count();

	v->limit = read_limit();
	/* Threads, libraries and guest RAM need mappings too; a guest never needs one. */
	v->reserve = v->limit / 8 > 2048 ? v->limit / 8 : 2048;
	if (v->reserve > v->limit / 2)
		v->reserve = v->limit / 2;
	v->isolated_stop = v->limit - v->reserve - (v->limit - v->reserve) / 4;
	if (counted)
		v->used = counted;
	v->since_count = 0;
}

void ksm_vmas_maybe_resync(struct ksm_vmas *v)
{
	/* Counting walks /proc/self/maps: do it rarely, more often near the limit, where
	 * the worst-case estimate (+2 per call) would stop merging too early. */
	bool near = v->used + 4096 > v->isolated_stop;

	if (v->limit == 0 || v->since_count >= (near ? 32u : 512u))
		ksm_vmas_resync(v);
}

bool ksm_vmas_allow(const struct ksm_vmas *v, uint64_t npages)
{
	if (v->used + 2 > v->limit - v->reserve)
		return false;
	return npages > 1 || v->used + 2 <= v->isolated_stop;
}

bool ksm_vmas_fits(const struct ksm_vmas *v, uint64_t calls)
{
	return calls <= (v->limit - v->reserve) / 2 && v->used + 2 * calls <= v->limit - v->reserve;
}

void ksm_vmas_add(struct ksm_vmas *v)
{
	v->used += 2;
	v->since_count++;
}
