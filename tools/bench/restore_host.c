/* restore_host.c - the host's part of a restore, timed without /dev/kvm: open and check a
 * snapshot's memory (snapfile_open), lend it to the engine's pool (ksm_image_map) and map
 * it into N guests' RAM (ksm_image_adopt), as `ksmvmm run --restore DIR --count N` does
 * before the first vCPU runs. The guests are fake (anonymous RAM registered with the
 * engine, tests/unit/ksm_image_fake.h); what KVM adds (vCPU and device state, the first
 * instruction) is not in these figures.
 *
 * usage: restore-host DIR [--mem MiB] [--count N] [--rounds R] [--clone [--restored]]
 * Writes a snapshot of MiB of memory to DIR/snap (8 of 9 pages non-zero), then for R
 * rounds each of a warm start (the memory file in the page cache) and a cold one (dropped
 * from it first), prints one JSON object per line:
 * {"cache": "warm"|"cold", "mem_mib", "count", "open_s", "map_s", "adopt_s", "total_s"}.
 * With --clone it times a live clone instead (`ksmctl clone NAME --count N`): a parent
 * holding the same pages is forked (ksm_image_fork: its RAM copied into the pool once and
 * mapped back) and N clones adopt the image, R rounds of
 * {"clone": true, "restored", "mem_mib", "count", "fork_s", "adopt_s", "total_s",
 * "fork_new_pages"} (pool pages the fork copied). With --restored the parent is itself
 * restored from the snapshot first (its RAM maps the memory file), then rewrites one
 * block of 64 pages in 16 with new bytes before it is forked: the fork takes the pages it
 * still maps merged and copies the rewritten ones.
 * Every guest's RAM (and the parent's) is compared with the image after each round (not
 * timed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksm/ksm.h"
#include "lib/clock.h"
#include "tests/unit/ksm_image_fake.h"
#include "vmm/snapfile.h"
#include "vmm/snapseal.h"

#define MAX_COUNT 64

struct bench {
	char dir[900];
	uint64_t mem_mib, npages;
	unsigned count, rounds;
	bool clone;    /* time a live clone instead of a restore */
	bool restored; /* the clone's parent is restored from the snapshot, then diverges */
};

/* Does a restored parent rewrite page @i before it is forked? One block of 64 in 16. */
static bool rewritten(const struct bench *b, uint64_t i)
{
	return b->restored && i / 64 % 16 == 5;
}

/* Page @i of the image: zero in runs of 64 pages, one ninth of them (the workload guest's
 * 256 MiB has 58086 non-zero pages), else bytes only it has. */
static void page_fill(uint8_t *p, uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;

	if (i % 576 >= 512) {
		memset(p, 0, PAGE);
		return;
	}
	for (size_t w = 0; w < PAGE / 8; w++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(p + w * 8, &x, 8);
	}
}

static int write_snapshot(const struct bench *b)
{
	uint8_t *ram = mmap(NULL, b->npages * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct snap_region reg = {ram, b->npages * PAGE};
	struct sbuf sec = {0};
	char err[512];
	struct snap_writer *w;

	if (ram == MAP_FAILED)
		return -errno;
	for (uint64_t i = 0; i < b->npages; i++)
		page_fill(ram + i * PAGE, i);
	w = snapfile_create(b->dir, err, sizeof(err));
	sbuf_put_u32(&sec, 1);
	if (!w || snapfile_write_memory(w, &reg, 1, NULL, NULL, err, sizeof(err)) ||
	    snapfile_add(w, SNAP_SEC_VM, 0, &sec) || snapfile_commit(w, err, sizeof(err))) {
		if (w)
			snapfile_abort(w);
		fprintf(stderr, "restore-host: writing %s: %s\n", b->dir, err);
		sbuf_free(&sec);
		munmap(ram, b->npages * PAGE);
		return -EIO;
	}
	sbuf_free(&sec);
	munmap(ram, b->npages * PAGE);
	return 0;
}

/* Drop the memory file from the page cache (cold start); nothing maps it now. */
static void drop_cache(const struct bench *b)
{
	char path[1000];
	int fd;

	snprintf(path, sizeof(path), "%s/memory", b->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

/* Does every page of @f read as page_fill says (a rewritten page: as page_fill says of
 * a page past the end)? */
static bool reads_pattern(const struct bench *b, const struct fake *f)
{
	static uint8_t want[PAGE];

	for (uint64_t i = 0; i < b->npages; i++) {
		page_fill(want, rewritten(b, i) ? i + b->npages : i);
		if (memcmp(fake_page(f, i), want, PAGE))
			return false;
	}
	return true;
}

struct times {
	double open_s, map_s, adopt_s; /* a clone's fork is in map_s */
	uint64_t new_pages;	       /* pool pages a clone's fork added (its copies) */
};

/* The engine and its fake guests for one round: guest 0 first (a clone's parent). */
struct crowd {
	struct ksm *k;
	unsigned n;
	struct fake *f[MAX_COUNT + 1];
	struct ksm_vm *v[MAX_COUNT + 1];
};

/* @n guests of b->npages each, named NAME0.. ; false if one could not be made. */
static bool crowd_make(struct crowd *c, const struct bench *b, unsigned n, const char *name)
{
	*c = (struct crowd){.k = engine(b->npages * (n + 1)), .n = n};
	for (unsigned i = 0; c->k && i < n; i++) {
		char nm[32];

		snprintf(nm, sizeof(nm), "%s%u", name, i);
		c->f[i] = fake_new(b->npages, 0);
		c->v[i] = fake_add(c->k, c->f[i], nm, 0);
	}
	return c->k && c->v[n - 1];
}

/* Guests [@first, n) adopt @img; 0 or -1 (said why). */
static int crowd_adopt(struct crowd *c, struct ksm_image *img, unsigned first)
{
	for (unsigned i = first; i < c->n; i++)
		if (ksm_image_adopt(c->k, img, c->v[i])) {
			fprintf(stderr, "restore-host: ksm_image_adopt: %s\n", strerror(errno));
			return -1;
		}
	return 0;
}

/* Does every guest read every page as page_fill says? 0 or -1 (said which). */
static int crowd_check(const struct crowd *c, const struct bench *b)
{
	for (unsigned i = 0; i < c->n; i++)
		if (!reads_pattern(b, c->f[i])) {
			fprintf(stderr, "restore-host: guest %u does not read the image\n", i);
			return -1;
		}
	return 0;
}

static void crowd_end(struct crowd *c, struct ksm_image *img)
{
	if (img)
		ksm_image_put(c->k, img);
	for (unsigned i = 0; i < c->n; i++) {
		if (c->v[i])
			ksm_vm_detach(c->k, c->v[i]);
		if (c->f[i])
			fake_free(c->f[i]);
		if (c->v[i])
			ksm_vm_free(c->k, c->v[i]);
	}
	if (c->k)
		ksm_destroy(c->k);
}

/* The snapshot lent to the pool as ksmvmm does it: sealed, mapped in place. */
static struct ksm_image *map_snapshot(struct ksm *k, struct snapshot *s, uint64_t np)
{
	const char *why;
	struct snapseal *seal = snapfile_memory_seal(s, &why);
	struct ksm_image *img;

	if (!seal) {
		fprintf(stderr, "restore-host: the memory file cannot be sealed: %s\n", why);
		return NULL;
	}
	img = ksm_image_map(k, snapfile_memory_fd(s), 0, &np, 1, 0, snapfile_page_hashes(s),
			    snapseal_put, snapseal_ref(seal));
	if (!img)
		fprintf(stderr, "restore-host: ksm_image_map: %s\n", strerror(errno));
	return img;
}

/* One restore of b->count guests; every guest checked afterwards. 0 or -1. */
static int round_once(const struct bench *b, struct times *t)
{
	struct crowd c;
	struct snapshot *s = NULL;
	struct ksm_image *img = NULL;
	char err[512];
	uint64_t t0, t1, t2;
	int ret = -1;

	if (!crowd_make(&c, b, b->count, "c"))
		goto out;
	t0 = clock_now_us();
	s = snapfile_open(b->dir, err, sizeof(err));
	t1 = clock_now_us();
	if (!s) {
		fprintf(stderr, "restore-host: %s\n", err);
		goto out;
	}
	img = map_snapshot(c.k, s, b->npages);
	t2 = clock_now_us();
	if (!img || crowd_adopt(&c, img, 0))
		goto out;
	*t = (struct times){(t1 - t0) / 1e6, (t2 - t1) / 1e6, (clock_now_us() - t2) / 1e6, 0};
	ret = crowd_check(&c, b);
out:
	crowd_end(&c, img);
	snapfile_close(s);
	return ret;
}

/* The parent of a clone: filled with the image's pages, or restored from the snapshot
 * (@s) and then partly rewritten. @base is put by the caller. 0 or -1 (said why). */
static int parent_make(const struct bench *b, struct crowd *c, struct snapshot *s,
		       struct ksm_image **base)
{
	for (uint64_t i = 0; !s && i < b->npages; i++)
		page_fill(fake_page(c->f[0], i), i);
	if (!s)
		return 0;
	*base = map_snapshot(c->k, s, b->npages);
	if (!*base || ksm_image_adopt(c->k, *base, c->v[0])) {
		fprintf(stderr, "restore-host: the parent could not be restored\n");
		return -1;
	}
	for (uint64_t i = 0; i < b->npages; i++)
		if (rewritten(b, i))
			page_fill(fake_page(c->f[0], i), i + b->npages);
	return 0;
}

/* One live clone of a parent into b->count clones; every guest checked afterwards. */
static int clone_once(const struct bench *b, struct snapshot *s, struct times *t)
{
	struct crowd c;
	struct ksm_image *img = NULL, *base = NULL;
	uint64_t t0, t1, before;
	int ret = -1;

	if (!crowd_make(&c, b, b->count + 1, "g") || parent_make(b, &c, s, &base))
		goto out;
	before = pool_pages(c.k);
	t0 = clock_now_us();
	img = ksm_image_fork(c.k, c.v[0], fake_hold, fake_nop, NULL);
	t1 = clock_now_us();
	if (!img) {
		fprintf(stderr, "restore-host: ksm_image_fork: %s\n", strerror(errno));
		goto out;
	}
	if (crowd_adopt(&c, img, 1))
		goto out;
	*t = (struct times){0, (t1 - t0) / 1e6, (clock_now_us() - t1) / 1e6,
			    pool_pages(c.k) - before};
	ret = crowd_check(&c, b);
out:
	if (base)
		ksm_image_put(c.k, base);
	crowd_end(&c, img);
	return ret;
}

static int parse(struct bench *b, int argc, char **argv)
{
	b->mem_mib = 256, b->count = 1, b->rounds = 3, b->clone = b->restored = false;
	if (argc < 2)
		return -1;
	snprintf(b->dir, sizeof(b->dir), "%s/snap", argv[1]);
	for (int i = 2; i < argc; i += 2) {
		unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], NULL, 10) : 0;

		if (!strcmp(argv[i], "--clone"))
			b->clone = true, i--;
		else if (!strcmp(argv[i], "--restored"))
			b->restored = true, i--;
		else if (!strcmp(argv[i], "--mem") && v >= 2 && v <= 65536)
			b->mem_mib = v;
		else if (!strcmp(argv[i], "--count") && v >= 1 && v <= MAX_COUNT)
			b->count = (unsigned) v;
		else if (!strcmp(argv[i], "--rounds") && v >= 1 && v <= 100)
			b->rounds = (unsigned) v;
		else
			return -1;
	}
	b->npages = b->mem_mib << 20 >> 12;
	return b->restored && !b->clone ? -1 : 0;
}

static void print_round(const struct bench *b, bool cold, const struct times *t)
{
	if (b->clone)
		printf("{\"clone\": true, \"restored\": %s, \"mem_mib\": %llu, \"count\": %u, "
		       "\"fork_s\": %.4f, \"adopt_s\": %.4f, \"total_s\": %.4f, "
		       "\"fork_new_pages\": %llu}\n",
		       b->restored ? "true" : "false", (unsigned long long) b->mem_mib, b->count,
		       t->map_s, t->adopt_s, t->map_s + t->adopt_s,
		       (unsigned long long) t->new_pages);
	else
		printf("{\"cache\": \"%s\", \"mem_mib\": %llu, \"count\": %u, \"open_s\": %.4f, "
		       "\"map_s\": %.4f, \"adopt_s\": %.4f, \"total_s\": %.4f}\n",
		       cold ? "cold" : "warm", (unsigned long long) b->mem_mib, b->count, t->open_s,
		       t->map_s, t->adopt_s, t->open_s + t->map_s + t->adopt_s);
	fflush(stdout);
}

/* The --clone rounds; with --restored the parents come from a snapshot written first. */
static int clone_rounds(const struct bench *b)
{
	struct snapshot *s = NULL;
	struct times t;
	char err[512];
	int ret = 0;

	if (b->restored && write_snapshot(b))
		return 1;
	if (b->restored && !(s = snapfile_open(b->dir, err, sizeof(err)))) {
		fprintf(stderr, "restore-host: %s\n", err);
		return 1;
	}
	for (unsigned r = 0; !ret && r < b->rounds; r++) {
		ret = clone_once(b, s, &t) ? 1 : 0;
		if (!ret)
			print_round(b, false, &t);
	}
	snapfile_close(s);
	return ret;
}

int main(int argc, char **argv)
{
	struct bench b;
	struct times t;
	struct stat st;

	if (parse(&b, argc, argv)) {
		fprintf(stderr,
			"usage: restore-host DIR [--mem MiB (2..65536)] "
			"[--count N (1..%d)] [--rounds R (1..100)] [--clone [--restored]]\n",
			MAX_COUNT);
		return 2;
	}
	if (stat(b.dir, &st) == 0) {
		fprintf(stderr, "restore-host: %s exists: give a fresh DIR\n", b.dir);
		return 2;
	}
	if (b.clone)
		return clone_rounds(&b);
	if (write_snapshot(&b))
		return 1;
	for (unsigned r = 0; r < 2 * b.rounds; r++) {
		bool cold = r % 2;

		if (cold)
			drop_cache(&b);
		if (round_once(&b, &t))
			return 1;
		print_round(&b, cold, &t);
	}
	return 0;
}
