/* snapfile_read.c - open and check a snapshot directory (format in snapfile.h). A
 * snapshot is untrusted input: every length and offset is checked against the file
 * before use, and every refusal says what was wrong. */
#include "vmm/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/errbuf.h"
#include "lib/page.h"
#include "lib/parfor.h"
#include "vmm/snapcheck.h"
#include "vmm/snapseal.h"

#define MAGIC_LEN (sizeof(SNAPFILE_MAGIC) - 1)
#define HEADER_LEN (MAGIC_LEN + 4 + 4 + 8) /* magic, version, flags, RAM size */
#define TRAILER_LEN 8
#define SECTION_HEAD_LEN 16 /* tag, index, length */

struct snap_section {
	uint32_t tag, index;
	size_t off, len; /* body, inside the state bytes */
};

struct snapshot {
	uint8_t *state; /* the whole state file */
	size_t state_len;
	uint64_t ram_size;
	uint64_t nr_chunks;
	size_t hash_off;     /* where the chunk hashes start in state */
	uint32_t version;    /* SNAPFILE_VERSION_OLDEST..SNAPFILE_VERSION */
	uint64_t *page_hash; /* format 2: one per page, from check_chunks; else NULL */
	struct snap_section *secs;
	unsigned nr_secs;
	int mem_fd;	       /* -1 for a parsed-only snapshot */
	uint8_t *map;	       /* snapfile_memory_map, NULL until used */
	struct snapseal *seal; /* the memory file's, taken before it is checked; or NULL */
	char unsealed[160];    /* why there is none */
	char *dir;	       /* for messages; NULL for a parsed-only snapshot */
	bool checked;	       /* snapfile_check passed: memory and page hashes usable */
};

static const uint32_t known_tags[] = {
    SNAP_SEC_DEFINITION, SNAP_SEC_GUEST, SNAP_SEC_VM, SNAP_SEC_VCPU, SNAP_SEC_DEVICES, SNAP_SEC_WL,
};

static bool tag_known(uint32_t tag)
{
	for (unsigned i = 0; i < sizeof(known_tags) / sizeof(known_tags[0]); i++)
		if (known_tags[i] == tag)
			return true;
	return false;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

/* Magic, version and trailer, in that order, so that each refusal names the real cause
 * (a newer format is not "damaged"). */
static bool parse_envelope(struct sbuf_reader *r, const uint8_t *p, size_t n, uint32_t *out)
{
	uint32_t version;

	if (!sbuf_check(r, n >= MAGIC_LEN && !memcmp(p, SNAPFILE_MAGIC, MAGIC_LEN),
			"not a ksmvmm snapshot (bad magic)"))
		return false;
	if (!sbuf_check(r, n >= HEADER_LEN + TRAILER_LEN, "state file truncated (%zu bytes)", n))
		return false;
	r->pos = MAGIC_LEN;
	version = sbuf_get_u32(r);
	if (!sbuf_check(r, version >= SNAPFILE_VERSION_OLDEST && version <= SNAPFILE_VERSION,
			"format version %u, this ksmvmm reads %u to %u", version,
			SNAPFILE_VERSION_OLDEST, SNAPFILE_VERSION))
		return false;
	*out = version;
	return sbuf_check(r, XXH3_64bits(p, n - TRAILER_LEN) == le64(p + n - TRAILER_LEN),
			  "state file damaged or truncated (checksum mismatch)");
}

static bool parse_memory_header(struct snapshot *s, struct sbuf_reader *r)
{
	uint32_t flags = sbuf_get_u32(r);

	s->ram_size = sbuf_get_u64(r);
	if (!sbuf_check(r, flags == 0, "unknown flags 0x%x", flags) ||
	    !sbuf_check(
		r, s->ram_size && s->ram_size % PAGE_SIZE == 0 && s->ram_size <= SNAPFILE_MAX_RAM,
		"bad RAM size %llu", (unsigned long long) s->ram_size))
		return false;
	s->nr_chunks = (s->ram_size + SNAPFILE_CHUNK - 1) / SNAPFILE_CHUNK;
	s->hash_off = r->pos;
	if (!sbuf_check(r, s->nr_chunks <= sbuf_left(r) / 8,
			"state file truncated in chunk hashes"))
		return false;
	r->pos += s->nr_chunks * 8;
	return true;
}

static bool section_unique(const struct snapshot *s, uint32_t tag, uint32_t index)
{
	for (unsigned i = 0; i < s->nr_secs; i++)
		if (s->secs[i].tag == tag && s->secs[i].index == index)
			return false;
	return true;
}

static bool parse_section(struct snapshot *s, struct sbuf_reader *r)
{
	uint32_t tag = sbuf_get_u32(r), index = sbuf_get_u32(r);
	uint64_t len = sbuf_get_u64(r);
	struct snap_section *sec;

	if (!sbuf_check(r, len <= sbuf_left(r), "section 0x%x/%u: length %llu beyond the file", tag,
			index, (unsigned long long) len) ||
	    !sbuf_check(r, tag_known(tag) || !(tag & SNAP_TAG_REQUIRED),
			"section tag 0x%x is required but unknown to this ksmvmm", tag) ||
	    !sbuf_check(r, section_unique(s, tag, index), "section 0x%x/%u twice", tag, index) ||
	    !sbuf_check(r, s->nr_secs < SNAPFILE_MAX_SECTIONS, "more than %u sections",
			SNAPFILE_MAX_SECTIONS))
		return false;
	sec = realloc(s->secs, (s->nr_secs + 1) * sizeof(*sec));
	if (!sbuf_check(r, sec != NULL, "out of memory"))
		return false;
	s->secs = sec;
	s->secs[s->nr_secs++] = (struct snap_section){tag, index, r->pos, (size_t) len};
	r->pos += (size_t) len;
	return true;
}

static bool parse_state(struct snapshot *s, struct sbuf_reader *r)
{
	if (!parse_envelope(r, s->state, s->state_len, &s->version))
		return false;
	r->len -= TRAILER_LEN; /* what follows the header ends where the trailer starts */
	if (!parse_memory_header(s, r))
		return false;
	while (sbuf_left(r) > 0) {
		if (!sbuf_check(r, sbuf_left(r) >= SECTION_HEAD_LEN, "section header truncated") ||
		    !parse_section(s, r))
			return false;
	}
	return sbuf_error(r) == 0;
}

struct snapshot *snapfile_parse(const void *state, size_t n, char *err, size_t len)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct sbuf_reader r;

	if (!s || !(s->state = malloc(n ? n : 1))) {
		free(s);
		errbuf_set(err, len, -ENOMEM, "out of memory");
		return NULL;
	}
	s->mem_fd = -1;
	memcpy(s->state, state, n);
	s->state_len = n;
	sbuf_reader_init(&r, s->state, n);
	if (!parse_state(s, &r)) {
		errbuf_set(err, len, -EINVAL, "%s", r.why);
		snapfile_close(s);
		return NULL;
	}
	return s;
}

/* Open @name in @dir read-only as a regular file (O_NONBLOCK: a FIFO planted there must not
 * hang us); its size in *@size. Returns the fd, -EINVAL if it is not a regular file, or -errno. */
static int open_regular(const char *dir, const char *name, uint64_t *size)
{
	char *p;
	struct stat st;
	int fd, ret;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	free(p);
	if (ret)
		return ret;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	*size = (uint64_t) st.st_size;
	return fd;
}

/* The state file's bytes into *@buf (*@n of them). Returns 0 or -errno with @why set. */
static int read_state(const char *dir, uint8_t **buf, size_t *n, const char **why)
{
	uint64_t size;
	int fd = open_regular(dir, "state", &size), ret;

	*why = fd == -ENOENT   ? "no state file (not a snapshot, or an unfinished one)"
	       : fd == -EINVAL ? "state is not a regular file"
			       : "cannot open state";
	if (fd < 0)
		return fd;
	*why = "state file too large";
	ret = -EFBIG;
	if (size <= SNAPFILE_MAX_STATE) {
		*why = "reading state";
		*buf = malloc(size ? size : 1);
		ret = *buf ? snapcheck_read(fd, *buf, size, 0) : -ENOMEM;
		*n = size;
	}
	close(fd);
	return ret;
}

static struct snapshot *open_state(const char *dir, char *err, size_t len)
{
	struct snapshot *s = NULL;
	uint8_t *buf = NULL;
	size_t n = 0;
	const char *why;
	char msg[256];
	int ret = read_state(dir, &buf, &n, &why);

	if (ret)
		errbuf_set(err, len, ret, "snapshot %s: %s: %s", dir, why, strerror(-ret));
	else if (!(s = snapfile_parse(buf, n, msg, sizeof(msg))))
		errbuf_set(err, len, -EINVAL, "snapshot %s: %s", dir, msg);
	free(buf);
	return s;
}

/* The file mapped PROT_READ, MAP_PRIVATE; NULL if it cannot be. */
static uint8_t *map_memory(struct snapshot *s)
{
	void *p;

	if (!s->map && s->mem_fd >= 0) {
		p = mmap(NULL, s->ram_size, PROT_READ, MAP_PRIVATE, s->mem_fd, 0);
		if (p != MAP_FAILED)
			s->map = p;
	}
	return s->map;
}

/* What the check needs made before it runs, so that it writes nothing of @s but the
 * page hashes (other threads read sections meanwhile): their array (format 2) and, for
 * a sealed file, its mapping. */
static int prepare_check(struct snapshot *s, const char *dir, char *err, size_t len)
{
	s->dir = strdup(dir);
	if (s->version >= 2)
		s->page_hash = malloc(s->ram_size / PAGE_SIZE * sizeof(*s->page_hash));
	if (!s->dir || (s->version >= 2 && !s->page_hash))
		return errbuf_set(err, len, -ENOMEM, "snapshot %s: out of memory", dir);
	if (s->page_hash && s->seal)
		map_memory(s); /* else (or if it fails) the check reads the file */
	return 0;
}

int snapfile_check(struct snapshot *s, char *err, size_t len)
{
	struct snapcheck c = {.fd = s->mem_fd,
			      .map = s->page_hash && s->seal ? s->map : NULL,
			      .size = s->ram_size,
			      .version = s->version,
			      .page_hash = s->page_hash};
	uint64_t *want = malloc(s->nr_chunks * sizeof(*want)), bad = 0;
	int ret;

	if (!want)
		return errbuf_set(err, len, -ENOMEM, "snapshot %s: out of memory", s->dir);
	for (uint64_t i = 0; i < s->nr_chunks; i++)
		want[i] = le64(s->state + s->hash_off + 8 * i);
	c.want = want;
	ret = snapcheck_run(&c, par_threads(), &bad);
	free(want);
	if (ret == -EINVAL)
		return errbuf_set(err, len, ret,
				  "snapshot %s: memory altered: chunk at offset 0x%llx does not "
				  "match its hash",
				  s->dir, (unsigned long long) bad);
	if (ret)
		return errbuf_set(err, len, ret, "snapshot %s: reading memory: %s", s->dir,
				  strerror(-ret));
	s->checked = true;
	return 0;
}

/* Seal the memory file before it is checked, so that what was checked is what guests
 * will read; without a seal the reason is kept (the engine then copies the pages). */
static void take_seal(struct snapshot *s, const char *dir)
{
	char path[1100];

	snprintf(path, sizeof(path), "%s/memory", dir);
	s->seal = snapseal_take(s->mem_fd, path, s->unsealed, sizeof(s->unsealed));
}

static int open_memory(struct snapshot *s, const char *dir, char *err, size_t len)
{
	uint64_t size;
	int fd = open_regular(dir, "memory", &size);

	if (fd < 0)
		return errbuf_set(err, len, fd, "snapshot %s: cannot open memory: %s", dir,
				  fd == -EINVAL ? "not a regular file" : strerror(-fd));
	s->mem_fd = fd;
	take_seal(s, dir);
	if (size != s->ram_size)
		return errbuf_set(err, len, -EINVAL,
				  "snapshot %s: memory file has %llu bytes, the state says %llu",
				  dir, (unsigned long long) size, (unsigned long long) s->ram_size);
	return prepare_check(s, dir, err, len);
}

struct snapshot *snapfile_open_unchecked(const char *dir, char *err, size_t len)
{
	struct snapshot *s = open_state(dir, err, len);

	if (s && open_memory(s, dir, err, len)) {
		snapfile_close(s);
		return NULL;
	}
	return s;
}

struct snapshot *snapfile_open(const char *dir, char *err, size_t len)
{
	struct snapshot *s = snapfile_open_unchecked(dir, err, len);

	if (s && snapfile_check(s, err, len)) {
		snapfile_close(s);
		return NULL;
	}
	return s;
}

static const struct snap_section *find(const struct snapshot *s, uint32_t tag, uint32_t index)
{
	for (unsigned i = 0; i < s->nr_secs; i++)
		if (s->secs[i].tag == tag && s->secs[i].index == index)
			return &s->secs[i];
	return NULL;
}

const void *snapfile_section(const struct snapshot *s, uint32_t tag, uint32_t index, size_t *len)
{
	const struct snap_section *sec = find(s, tag, index);

	*len = sec ? sec->len : 0;
	return sec ? s->state + sec->off : NULL;
}

void snapfile_reader(const struct snapshot *s, uint32_t tag, uint32_t index, struct sbuf_reader *r)
{
	size_t n;
	const void *p = snapfile_section(s, tag, index, &n);

	sbuf_reader_init(r, p, n);
	sbuf_check(r, p != NULL, "no section 0x%x/%u", tag, index);
}

unsigned snapfile_count(const struct snapshot *s, uint32_t tag)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->nr_secs; i++)
		n += s->secs[i].tag == tag;
	return n;
}

uint64_t snapfile_ram_size(const struct snapshot *s)
{
	return s->ram_size;
}

int snapfile_memory_fd(const struct snapshot *s)
{
	return s->mem_fd;
}

const uint8_t *snapfile_memory_map(struct snapshot *s)
{
	if (!s->checked)
		return NULL; /* nobody reads memory that was not checked */
	return map_memory(s);
}

struct snapseal *snapfile_memory_seal(const struct snapshot *s, const char **why)
{
	*why = s->seal ? "" : s->mem_fd < 0 ? "no memory file" : s->unsealed;
	return s->seal;
}

void snapfile_close(struct snapshot *s)
{
	if (!s)
		return;
	snapseal_put(s->seal); /* the engine may hold it longer */
	if (s->map)
		munmap(s->map, s->ram_size);
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	free(s->page_hash);
	free(s->dir);
	free(s->secs);
	free(s->state);
	free(s);
}

const uint64_t *snapfile_page_hashes(const struct snapshot *s)
{
	return s->checked ? s->page_hash : NULL;
}
