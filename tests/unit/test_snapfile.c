/* test_snapfile.c - the snapshot directory: round trip with fake RAM (zero pages become
 * holes), atomic completion (an existing DIR is refused, an aborted or unfinished write
 * leaves no snapshot), and every damaged snapshot refused with its own message: truncated
 * or altered state, altered or resized memory, wrong magic or version, unknown required
 * sections, sections out of bounds. Format 2's page hashes are the pages' own, and a
 * format 1 snapshot (chunk hashes of the bytes) is still read. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/log.h"
#include "lib/page.h"
#include "lib/sbuf.h"
#include "tests/unit/check.h"
#include "vmm/snapfile.h"

#define R0_SIZE (5ull << 20) /* two full chunks and a half... */
#define R1_SIZE (1ull << 20) /* ...then a region that ends the third chunk */
#define RAM_SIZE (R0_SIZE + R1_SIZE)

static char top[] = "/tmp/test_snapfile.XXXXXX";
static uint8_t *ram[2];
static char err[512];

static bool has(const char *needle)
{
	bool ok = strstr(err, needle) != NULL;

	if (!ok)
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err, needle);
	return ok;
}

static char *path(const char *a, const char *b)
{
	static char buf[4][512];
	static unsigned next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s%s%s", top, a, b ? "/" : "", b ? b : "");
	return p;
}

/* Page i of region 0 is zero when i % 3 == 0; every other page has its own pattern. */
static void fill_ram(void)
{
	ram[0] = mmap(NULL, R0_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ram[1] = mmap(NULL, R1_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (uint64_t i = 0; i < R0_SIZE / PAGE_SIZE; i++)
		if (i % 3)
			memset(ram[0] + i * PAGE_SIZE, (int) (i & 0xff) | 1, PAGE_SIZE);
	for (uint64_t i = 0; i < R1_SIZE; i += 64)
		ram[1][i] = (uint8_t) (i >> 6);
}

static uint64_t last_done, last_total;
static unsigned progress_calls;

static void progress(void *opaque, uint64_t done, uint64_t total)
{
	CHECK(opaque == &progress_calls);
	CHECK(done > last_done && done <= total);
	last_done = done;
	last_total = total;
	progress_calls++;
}

static void put_section(struct snap_writer *w, uint32_t tag, uint32_t index, const char *text)
{
	struct sbuf b;

	sbuf_init(&b);
	sbuf_put_u32(&b, 1);
	sbuf_put_blob(&b, text, (uint32_t) strlen(text));
	CHECK_EQ(snapfile_add(w, tag, index, &b), 0);
	sbuf_free(&b);
}

/* A complete snapshot of the fake RAM at top/@name, with sections, or @extra_tag too. */
static int write_snapshot(const char *name, uint32_t extra_tag)
{
	struct snap_region regs[2] = {{ram[0], R0_SIZE}, {ram[1], R1_SIZE}};
	struct snap_writer *w = snapfile_create(path(name, NULL), err, sizeof(err));

	if (!w)
		return -1;
	last_done = progress_calls = 0;
	CHECK_EQ(snapfile_write_memory(w, regs, 2, progress, &progress_calls, err, sizeof(err)), 0);
	put_section(w, SNAP_SEC_VCPU, 0, "vcpu zero");
	put_section(w, SNAP_SEC_VCPU, 1, "vcpu one");
	put_section(w, SNAP_SEC_VM, 0, "the vm");
	if (extra_tag)
		put_section(w, extra_tag, 0, "from the future");
	return snapfile_commit(w, err, sizeof(err));
}

static void check_section(const struct snapshot *s, uint32_t tag, uint32_t index, const char *text)
{
	struct sbuf_reader r;
	uint32_t n;
	const void *p;

	snapfile_reader(s, tag, index, &r);
	CHECK_EQ(sbuf_get_u32(&r), 1);
	p = sbuf_get_blob(&r, &n);
	CHECK(p && n == strlen(text) && !memcmp(p, text, n));
	CHECK_EQ(sbuf_left(&r), 0);
	CHECK_EQ(sbuf_error(&r), 0);
}

static void check_holes(void)
{
	struct stat st;
	int fd = open(path("snap", "memory"), O_RDONLY);

	CHECK(fd >= 0);
	CHECK(fstat(fd, &st) == 0);
	CHECK_EQ(st.st_size, RAM_SIZE);
	CHECK_EQ(st.st_mode & 0777, 0444);
	/* A third of region 0 is zero: the file must not have blocks for it (a few blocks of
	 * slack for the file system's own extent tree, which st_blocks counts). */
	CHECK((uint64_t) st.st_blocks * 512 <= RAM_SIZE - R0_SIZE / 3 + 16 * PAGE_SIZE);
	/* page 3 is zero, page 4 is not */
	CHECK_EQ(lseek(fd, 3 * PAGE_SIZE, SEEK_HOLE), 3 * PAGE_SIZE);
	CHECK_EQ(lseek(fd, 3 * PAGE_SIZE, SEEK_DATA), 4 * PAGE_SIZE);
	close(fd);
	CHECK(stat(path("snap", "state"), &st) == 0 && (st.st_mode & 0777) == 0444);
	CHECK(stat(path("snap", NULL), &st) == 0 && (st.st_mode & 0777) == 0700);
}

/* Open, the memory file is sealed where this machine can seal it, and can be neither
 * written nor removed (as root, only the immutable attribute stops either). */
static void check_sealed(const struct snapshot *s)
{
	const char *why;
	int fd;

	if (!snapfile_memory_seal(s, &why)) {
		printf("note: the memory file is not sealed here: %s\n", why);
		CHECK(why[0] != '\0');
		return;
	}
	fd = open(path("snap", "memory"), O_WRONLY | O_CLOEXEC);
	CHECK(fd < 0 && errno == EPERM);
	if (fd >= 0)
		close(fd);
	CHECK(unlink(path("snap", "memory")) < 0 && errno == EPERM);
}

/* Format 2: the page hashes handed out are those of the pages read (holes as zeros). */
static void check_page_hashes(const struct snapshot *s, const uint8_t *m)
{
	const uint64_t *h = snapfile_page_hashes(s);
	uint64_t wrong = 0;

	CHECK(h != NULL);
	for (uint64_t i = 0; h && m && i < RAM_SIZE / PAGE_SIZE; i++)
		wrong += h[i] != XXH3_64bits(m + i * PAGE_SIZE, PAGE_SIZE);
	CHECK_EQ(wrong, 0);
}

static void test_round_trip(void)
{
	struct snapshot *s;
	const uint8_t *m;
	char partial[512];
	size_t n;

	CHECK_EQ(write_snapshot("snap", 0), 0);
	CHECK_EQ(progress_calls, 3 + 1); /* chunks 0, 1, 2 (split by the region end) */
	CHECK_EQ(last_done, RAM_SIZE);
	CHECK_EQ(last_total, RAM_SIZE);
	check_holes();
	snprintf(partial, sizeof(partial), "%s/snap.partial-%d", top, (int) getpid());
	CHECK(access(partial, F_OK) != 0);
	s = snapfile_open(path("snap", NULL), err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ(snapfile_ram_size(s), RAM_SIZE);
	CHECK(snapfile_memory_fd(s) >= 0);
	m = snapfile_memory_map(s);
	CHECK(m && !memcmp(m, ram[0], R0_SIZE) && !memcmp(m + R0_SIZE, ram[1], R1_SIZE));
	CHECK(snapfile_memory_map(s) == m);
	check_page_hashes(s, m);
	check_section(s, SNAP_SEC_VCPU, 0, "vcpu zero");
	check_section(s, SNAP_SEC_VCPU, 1, "vcpu one");
	check_section(s, SNAP_SEC_VM, 0, "the vm");
	CHECK_EQ(snapfile_count(s, SNAP_SEC_VCPU), 2);
	CHECK_EQ(snapfile_count(s, SNAP_SEC_DEVICES), 0);
	CHECK(snapfile_section(s, SNAP_SEC_VCPU, 2, &n) == NULL && n == 0);
	check_sealed(s);
	snapfile_close(s);
	/* Closed: the memory file is let go (the attribute cleared; root may write it). */
	CHECK(access(path("snap", "memory"), W_OK) == 0 || geteuid() != 0);
}

static void test_missing_section_reader(void)
{
	struct snapshot *s = snapfile_open(path("snap", NULL), err, sizeof(err));
	struct sbuf_reader r;

	CHECK(s != NULL);
	if (!s)
		return;
	snapfile_reader(s, SNAP_SEC_WL, 0, &r);
	CHECK_EQ(sbuf_error(&r), -EINVAL);
	CHECK(strstr(r.why, "no section") != NULL);
	CHECK_EQ(sbuf_get_u32(&r), 0);
	snapfile_close(s);
}

static void test_existing_dir(void)
{
	CHECK(snapfile_create(path("snap", NULL), err, sizeof(err)) == NULL);
	CHECK(has("already exists"));
	CHECK(snapfile_create(path("nodir", "x"), err, sizeof(err)) == NULL);
	CHECK(has("cannot create"));
	CHECK(snapfile_create(path("snap/", NULL), err, sizeof(err)) == NULL);
	CHECK(has("already exists"));
}

/* What a crash leaves (a partial directory with memory, no state) is not a snapshot; an
 * abort removes it, and DIR never appears. */
static void test_interrupted(void)
{
	struct snap_region regs[1] = {{ram[1], R1_SIZE}};
	struct snap_writer *w = snapfile_create(path("cut//", NULL), err, sizeof(err));
	char partial[512];

	CHECK(w != NULL);
	if (!w)
		return;
	snprintf(partial, sizeof(partial), "%s", snapfile_partial_dir(w));
	CHECK(strstr(partial, ".partial-") != NULL);
	CHECK(strstr(partial, "/cut.partial-") != NULL);
	CHECK_EQ(snapfile_write_memory(w, regs, 1, NULL, NULL, err, sizeof(err)), 0);
	CHECK(access(path("cut", NULL), F_OK) != 0);
	CHECK(snapfile_open(partial, err, sizeof(err)) == NULL);
	CHECK(has("no state file"));
	CHECK(snapfile_open(path("cut", NULL), err, sizeof(err)) == NULL);
	CHECK(has("no state file"));
	snapfile_abort(w);
	CHECK(access(partial, F_OK) != 0);
	CHECK(access(path("cut", NULL), F_OK) != 0);
}

static void test_commit_without_memory(void)
{
	struct snap_writer *w = snapfile_create(path("nomem", NULL), err, sizeof(err));
	char partial[512];

	CHECK(w != NULL);
	if (!w)
		return;
	snprintf(partial, sizeof(partial), "%s", snapfile_partial_dir(w));
	CHECK_EQ(snapfile_commit(w, err, sizeof(err)), -EINVAL);
	CHECK(has("no memory written"));
	CHECK(access(partial, F_OK) != 0);
	CHECK(access(path("nomem", NULL), F_OK) != 0);
}

static void test_writer_refusals(void)
{
	struct snap_region bad[1] = {{ram[0], 100}};
	struct snap_writer *w = snapfile_create(path("refuse", NULL), err, sizeof(err));
	struct sbuf b;

	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ(snapfile_write_memory(w, bad, 1, NULL, NULL, err, sizeof(err)), -EINVAL);
	CHECK(has("bad RAM regions"));
	sbuf_init(&b);
	sbuf_put_u32(&b, 1);
	CHECK_EQ(snapfile_add(w, SNAP_SEC_VM, 0, &b), 0);
	CHECK_EQ(snapfile_add(w, SNAP_SEC_VM, 0, &b), -EINVAL);
	b.err = -ENOMEM;
	CHECK_EQ(snapfile_add(w, SNAP_SEC_VM, 1, &b), -ENOMEM);
	b.err = 0;
	sbuf_free(&b);
	snapfile_abort(w);
}

static uint8_t *slurp(const char *p, size_t *n)
{
	struct stat st;
	int fd = open(p, O_RDONLY);
	uint8_t *buf;

	if (fd < 0 || fstat(fd, &st))
		return NULL;
	buf = malloc((size_t) st.st_size + 1);
	*n = (size_t) read(fd, buf, (size_t) st.st_size);
	close(fd);
	return buf;
}

static void spit(const char *p, const void *buf, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0 && write(fd, buf, n) == (ssize_t) n);
	close(fd);
}

/* A copy of top/snap as top/@name, with its state replaced by @state (n bytes) and its
 * memory by @mem (m bytes), or the originals when NULL. */
static void make_copy(const char *name, const void *state, size_t n, const void *mem, size_t m)
{
	size_t sn, mn;
	uint8_t *s0 = slurp(path("snap", "state"), &sn), *m0 = slurp(path("snap", "memory"), &mn);

	CHECK(mkdir(path(name, NULL), 0700) == 0);
	spit(path(name, "state"), state ? state : s0, state ? n : sn);
	spit(path(name, "memory"), mem ? mem : m0, mem ? m : mn);
	free(s0);
	free(m0);
}

static void refused(const char *name, const char *why)
{
	struct snapshot *s = snapfile_open(path(name, NULL), err, sizeof(err));

	CHECK(s == NULL);
	snapfile_close(s);
	CHECK(has(why));
	CHECK(has(path(name, NULL))); /* "snapshot DIR: ..." */
}

static void test_state_damage(void)
{
	size_t n;
	uint8_t *st = slurp(path("snap", "state"), &n);

	make_copy("trunc", st, n - 5, NULL, 0);
	refused("trunc", "checksum mismatch");
	make_copy("short", st, 20, NULL, 0);
	refused("short", "truncated (20 bytes)");
	st[n - 20] ^= 0x40; /* inside the last section */
	make_copy("flip", st, n, NULL, 0);
	refused("flip", "damaged");
	st[n - 20] ^= 0x40;
	st[8] = 7; /* version 7: refused as such, before the checksum */
	make_copy("v7", st, n, NULL, 0);
	refused("v7", "format version 7, this ksmvmm reads 1 to 2");
	st[8] = 0;
	make_copy("v0", st, n, NULL, 0);
	refused("v0", "format version 0, this ksmvmm reads 1 to 2");
	st[8] = SNAPFILE_VERSION;
	st[0] = 'X';
	make_copy("magic", st, n, NULL, 0);
	refused("magic", "bad magic");
	make_copy("empty", st, 0, NULL, 0);
	refused("empty", "bad magic");
	free(st);
}

static void test_memory_damage(void)
{
	size_t n;
	uint8_t *m = slurp(path("snap", "memory"), &n);

	CHECK_EQ(n, RAM_SIZE);
	m[(2ull << 20) + 5 * PAGE_SIZE + 17] ^= 1; /* chunk 1 */
	make_copy("memflip", NULL, 0, m, n);
	refused("memflip", "chunk at offset 0x200000 does not match");
	m[(2ull << 20) + 5 * PAGE_SIZE + 17] ^= 1;
	m[0] = 1; /* page 0 was a hole: altered holes count too */
	make_copy("memhole", NULL, 0, m, n);
	refused("memhole", "chunk at offset 0x0 does not match");
	m[0] = 0;
	make_copy("memshort", NULL, 0, m, n - PAGE_SIZE);
	refused("memshort", "memory file has 6287360 bytes, the state says 6291456");
	free(m);
	make_copy("nomemory", NULL, 0, NULL, 0);
	CHECK(unlink(path("nomemory", "memory")) == 0);
	refused("nomemory", "cannot open memory");
}

/* The check run apart (snapfile_open_unchecked, then snapfile_check in another thread
 * while this one reads sections, as a restore builds its guests meanwhile): no memory
 * and no page hash before it passed; after, the same as snapfile_open gives; an altered
 * file opens unchecked, then fails the check with its message and still shows nothing. */
static void *check_in_thread(void *opaque)
{
	static char terr[512];

	return (void *) (intptr_t) snapfile_check(opaque, terr, sizeof(terr));
}

static void test_check_apart(void)
{
	struct snapshot *s = snapfile_open_unchecked(path("snap", NULL), err, sizeof(err));
	pthread_t t;
	void *ret = NULL;
	size_t n;
	uint8_t *m;

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK(snapfile_memory_map(s) == NULL);
	CHECK(snapfile_page_hashes(s) == NULL);
	CHECK_EQ(pthread_create(&t, NULL, check_in_thread, s), 0);
	for (unsigned i = 0; i < 200; i++) {
		check_section(s, SNAP_SEC_VCPU, i % 2, i % 2 ? "vcpu one" : "vcpu zero");
		CHECK_EQ(snapfile_ram_size(s), RAM_SIZE);
	}
	pthread_join(t, &ret);
	CHECK_EQ((intptr_t) ret, 0);
	CHECK(snapfile_memory_map(s) != NULL);
	check_page_hashes(s, snapfile_memory_map(s));
	snapfile_close(s);

	m = slurp(path("snap", "memory"), &n);
	m[(4ull << 20) + 9] ^= 1; /* chunk 2 */
	make_copy("apartflip", NULL, 0, m, n);
	free(m);
	s = snapfile_open_unchecked(path("apartflip", NULL), err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ(snapfile_check(s, err, sizeof(err)), -EINVAL);
	CHECK(has("chunk at offset 0x400000 does not match"));
	CHECK(has(path("apartflip", NULL)));
	CHECK(snapfile_memory_map(s) == NULL);
	CHECK(snapfile_page_hashes(s) == NULL);
	snapfile_close(s);
}

/* With a writer holding the memory file open, it cannot be sealed: it is still checked
 * (read, not mapped) and its page hashes are the same. */
static void test_unsealed(void)
{
	int w;
	struct snapshot *s;
	const char *why = NULL;

	make_copy("unsealed", NULL, 0, NULL, 0);
	w = open(path("unsealed", "memory"), O_WRONLY);
	CHECK(w >= 0);
	s = snapfile_open(path("unsealed", NULL), err, sizeof(err));
	CHECK(s != NULL);
	if (s) {
		CHECK(snapfile_memory_seal(s, &why) == NULL && why && why[0]);
		check_page_hashes(s, snapfile_memory_map(s));
	}
	snapfile_close(s);
	if (w >= 0)
		close(w);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned b = 0; b < 8; b++)
		p[b] = (uint8_t) (v >> (8 * b));
}

/* top/snap rewritten as format 1 would have it: version 1, each chunk hash over the
 * chunk's bytes, the trailer redone. Read as before, checked as before, no page hashes. */
static void test_format1(void)
{
	size_t n, mn;
	uint8_t *st = slurp(path("snap", "state"), &n), *m = slurp(path("snap", "memory"), &mn);
	uint64_t chunks = (RAM_SIZE + SNAPFILE_CHUNK - 1) / SNAPFILE_CHUNK;
	struct snapshot *s;
	const uint8_t *map;

	CHECK(st && m && mn == RAM_SIZE && n > 24 + 8 * chunks + 8);
	if (!st || !m || mn != RAM_SIZE) {
		free(st);
		free(m);
		return;
	}
	st[8] = 1;
	for (uint64_t c = 0; c < chunks; c++) {
		uint64_t len = RAM_SIZE - c * SNAPFILE_CHUNK;

		put_le64(st + 24 + 8 * c, XXH3_64bits(m + c * SNAPFILE_CHUNK,
						      len < SNAPFILE_CHUNK ? len : SNAPFILE_CHUNK));
	}
	put_le64(st + n - 8, XXH3_64bits(st, n - 8));
	make_copy("v1", st, n, NULL, 0);
	s = snapfile_open(path("v1", NULL), err, sizeof(err));
	CHECK(s != NULL);
	map = s ? snapfile_memory_map(s) : NULL;
	CHECK(map && !memcmp(map, m, RAM_SIZE));
	CHECK(s && snapfile_page_hashes(s) == NULL);
	if (s)
		check_section(s, SNAP_SEC_VM, 0, "the vm");
	snapfile_close(s);
	m[(2ull << 20) + 3 * PAGE_SIZE] ^= 2;
	make_copy("v1flip", st, n, m, mn);
	refused("v1flip", "chunk at offset 0x200000 does not match");
	/* A format 2 state's chunk hashes are not format 1's: relabelled, it is refused. */
	free(st);
	st = slurp(path("snap", "state"), &n);
	CHECK(st != NULL);
	if (!st) {
		free(m);
		return;
	}
	st[8] = 1;
	put_le64(st + n - 8, XXH3_64bits(st, n - 8));
	make_copy("v1relabel", st, n, NULL, 0);
	refused("v1relabel", "does not match its hash");
	free(st);
	free(m);
}

/* An unknown tag is refused only when it says it is required. */
static void test_unknown_tags(void)
{
	struct snapshot *s;
	size_t n;

	CHECK_EQ(write_snapshot("optional", 0x77), 0);
	s = snapfile_open(path("optional", NULL), err, sizeof(err));
	CHECK(s != NULL);
	if (s)
		check_section(s, 0x77, 0, "from the future");
	CHECK(s && snapfile_section(s, SNAP_SEC_VM, 0, &n) != NULL);
	snapfile_close(s);
	CHECK_EQ(write_snapshot("required", SNAP_TAG_REQUIRED | 0x77), 0);
	refused("required", "section tag 0x80000077 is required but unknown");
}

/* A state file built by hand: a valid envelope around @body (after the RAM size and one
 * chunk hash), for layouts the writer never makes. */
static struct snapshot *parse_crafted_ram(uint64_t ram_size, unsigned hashes, const void *body,
					  size_t len)
{
	struct sbuf b;
	struct snapshot *s;

	sbuf_init(&b);
	sbuf_put_bytes(&b, SNAPFILE_MAGIC, 8);
	sbuf_put_u32(&b, SNAPFILE_VERSION);
	sbuf_put_u32(&b, 0);
	sbuf_put_u64(&b, ram_size);
	for (unsigned i = 0; i < hashes; i++)
		sbuf_put_u64(&b, 0);
	sbuf_put_bytes(&b, body, len);
	sbuf_put_u64(&b, XXH3_64bits(b.data, b.len));
	s = snapfile_parse(b.data, b.len, err, sizeof(err));
	sbuf_free(&b);
	return s;
}

static struct snapshot *parse_crafted(const void *body, size_t len)
{
	return parse_crafted_ram(PAGE_SIZE, 1, body, len);
}

static void test_crafted(void)
{
	struct sbuf b;
	struct snapshot *s;

	sbuf_init(&b);
	s = parse_crafted(NULL, 0); /* no section at all: fine */
	CHECK(s != NULL && snapfile_memory_fd(s) == -1 && snapfile_memory_map(s) == NULL);
	snapfile_close(s);
	sbuf_put_u32(&b, SNAP_SEC_VM);
	sbuf_put_u32(&b, 0);
	sbuf_put_u64(&b, 1000); /* longer than what follows */
	sbuf_put_u32(&b, 1);
	CHECK(parse_crafted(b.data, b.len) == NULL);
	CHECK(has("length 1000 beyond the file"));
	CHECK(parse_crafted(b.data, 7) == NULL);
	CHECK(has("section header truncated"));
	b.len = 0;
	for (int i = 0; i < 2; i++) {
		sbuf_put_u32(&b, SNAP_SEC_VCPU);
		sbuf_put_u32(&b, 3);
		sbuf_put_u64(&b, 0);
	}
	CHECK(parse_crafted(b.data, b.len) == NULL);
	CHECK(has("section 0x80000004/3 twice"));
	/* 4 MiB want two chunk hashes; one and the trailer must not pass for them (fuzz) */
	CHECK(parse_crafted_ram(4ull << 20, 1, NULL, 0) == NULL);
	CHECK(has("truncated in chunk hashes"));
	CHECK(parse_crafted_ram(4ull << 20, 1, "12345", 5) == NULL);
	CHECK(has("truncated in chunk hashes"));
	CHECK(parse_crafted_ram(PAGE_SIZE + 1, 1, NULL, 0) == NULL);
	CHECK(has("bad RAM size 4097"));
	CHECK(parse_crafted_ram(0, 0, NULL, 0) == NULL);
	CHECK(has("bad RAM size 0"));
	sbuf_free(&b);
}

static void remove_tree(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	log_level = 0;
	if (!mkdtemp(top)) {
		perror("mkdtemp");
		return 1;
	}
	fill_ram();
	test_round_trip();
	test_missing_section_reader();
	test_existing_dir();
	test_interrupted();
	test_commit_without_memory();
	test_writer_refusals();
	test_state_damage();
	test_memory_damage();
	test_check_apart();
	test_format1();
	test_unsealed();
	test_unknown_tags();
	test_crafted();
	remove_tree();
	return check_done("test_snapfile");
}
