/* snapfile.c - write a snapshot directory: memory image (sparse), state file, atomic
 * completion. The format and the guarantees are described in snapfile.h; the reader is
 * snapfile_read.c. */
#define pr_fmt(fmt) "snapfile: " fmt
#include "vmm/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/errbuf.h"
#include "lib/log.h"
#include "lib/page.h"

struct snap_writer {
	char *dir;     /* the final name */
	char *partial; /* DIR.partial-<pid>, where everything is written */
	int mem_fd;    /* partial/memory, -1 before snapfile_write_memory */
	uint64_t ram_size;
	uint64_t *chunk_hash; /* one per SNAPFILE_CHUNK of memory */
	uint64_t nr_chunks;
	struct sbuf sections; /* the sections, already in their file layout */
	unsigned nr_sections;
	uint64_t *keys; /* (tag << 32 | index) of each section, for duplicates */
};

static char *path_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static void writer_free(struct snap_writer *w);

static struct snap_writer *writer_new(const char *dir)
{
	struct snap_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->mem_fd = -1;
	sbuf_init(&w->sections);
	w->dir = strdup(dir);
	/* "snap/" names snap: its partial sibling must not land inside it */
	for (size_t n = w->dir ? strlen(w->dir) : 0; n > 1 && w->dir[n - 1] == '/'; n--)
		w->dir[n - 1] = '\0';
	if (!w->dir || asprintf(&w->partial, "%s.partial-%d", w->dir, (int) getpid()) < 0) {
		w->partial = NULL;
		writer_free(w);
		return NULL;
	}
	return w;
}

struct snap_writer *snapfile_create(const char *dir, char *err, size_t len)
{
	struct snap_writer *w;
	struct stat st;

	if (!dir || !*dir) {
		errbuf_set(err, len, -EINVAL, "snapshot: no directory given");
		return NULL;
	}
	if (lstat(dir, &st) == 0) {
		errbuf_set(err, len, -EEXIST, "snapshot %s: already exists", dir);
		return NULL;
	}
	w = writer_new(dir);
	if (!w) {
		errbuf_set(err, len, -ENOMEM, "snapshot %s: out of memory", dir);
		return NULL;
	}
	if (mkdir(w->partial, 0700)) {
		int e = errno;

		errbuf_set(err, len, -e, "snapshot %s: cannot create %s: %s", dir, w->partial,
			   strerror(e));
		writer_free(w);
		return NULL;
	}
	return w;
}

const char *snapfile_partial_dir(const struct snap_writer *w)
{
	return w->partial;
}

static void writer_free(struct snap_writer *w)
{
	if (w->mem_fd >= 0)
		close(w->mem_fd);
	sbuf_free(&w->sections);
	free(w->chunk_hash);
	free(w->keys);
	free(w->partial);
	free(w->dir);
	free(w);
}

/* Remove what the writer may have put in its partial directory, and the directory. */
static void remove_partial(struct snap_writer *w)
{
	static const char *const names[] = {"memory", "state"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = path_join(w->partial, names[i]);

		if (p)
			unlink(p);
		free(p);
	}
	if (rmdir(w->partial) && errno != ENOENT)
		pr_warn("cannot remove %s: %s", w->partial, strerror(errno));
}

void snapfile_abort(struct snap_writer *w)
{
	if (!w)
		return;
	remove_partial(w);
	writer_free(w);
}

/* Write all of @n bytes at @off. */
static int write_all(int fd, const void *p, size_t n, off_t off)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t r = pwrite(fd, b, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		b += r;
		n -= (size_t) r;
		off += r;
	}
	return 0;
}

static bool page_is_zero(const uint8_t *p)
{
	uint64_t first;

	memcpy(&first, p, sizeof(first));
	return first == 0 && !memcmp(p, p + sizeof(first), PAGE_SIZE - sizeof(first));
}

/* Write the non-zero pages of [@p, @p + @n) at file offset @off, in runs; zero pages stay
 * holes (the file was created empty and is sized at the end). */
static int write_sparse(int fd, const uint8_t *p, uint64_t n, uint64_t off)
{
	uint64_t run = 0; /* start of the current run of non-zero pages, relative to p */
	int ret;

	for (uint64_t i = 0; i <= n; i += PAGE_SIZE) {
		if (i < n && !page_is_zero(p + i))
			continue;
		if (i > run) {
			ret = write_all(fd, p + run, i - run, (off_t) (off + run));
			if (ret)
				return ret;
		}
		run = i + PAGE_SIZE;
	}
	return 0;
}

uint64_t snapfile_chunk_digest(const uint64_t *page_hash, size_t n)
{
	uint8_t le[SNAPFILE_CHUNK_PAGES * 8];

	for (size_t i = 0; i < n && i < SNAPFILE_CHUNK_PAGES; i++)
		for (unsigned b = 0; b < 8; b++)
			le[8 * i + b] = (uint8_t) (page_hash[i] >> (8 * b));
	return XXH3_64bits(le, 8 * (n < SNAPFILE_CHUNK_PAGES ? n : SNAPFILE_CHUNK_PAGES));
}

/* The walk over the concatenated regions in pieces that never cross a chunk boundary. */
struct mem_walk {
	struct snap_writer *w;
	uint64_t off;				  /* file offset reached */
	uint64_t page_hash[SNAPFILE_CHUNK_PAGES]; /* of the chunk's pages so far */
	size_t nr_pages;
};

static int walk_piece(struct mem_walk *mw, const uint8_t *p, uint64_t n)
{
	int ret = write_sparse(mw->w->mem_fd, p, n, mw->off);

	if (ret)
		return ret;
	for (uint64_t i = 0; i < n; i += PAGE_SIZE)
		mw->page_hash[mw->nr_pages++] = XXH3_64bits(p + i, PAGE_SIZE);
	mw->off += n;
	if (mw->off % SNAPFILE_CHUNK == 0 || mw->off == mw->w->ram_size) {
		mw->w->chunk_hash[(mw->off - 1) / SNAPFILE_CHUNK] =
		    snapfile_chunk_digest(mw->page_hash, mw->nr_pages);
		mw->nr_pages = 0;
	}
	return 0;
}

static int walk_regions(struct mem_walk *mw, const struct snap_region *regions, unsigned n,
			snapfile_progress_fn *progress, void *opaque)
{
	for (unsigned i = 0; i < n; i++) {
		for (uint64_t done = 0; done < regions[i].size;) {
			uint64_t room = SNAPFILE_CHUNK - mw->off % SNAPFILE_CHUNK;
			uint64_t piece =
			    regions[i].size - done < room ? regions[i].size - done : room;
			int ret = walk_piece(mw, regions[i].hva + done, piece);

			if (ret)
				return ret;
			done += piece;
			if (progress)
				progress(opaque, mw->off, mw->w->ram_size);
		}
	}
	return 0;
}

static int check_regions(const struct snap_region *regions, unsigned n, uint64_t *total)
{
	*total = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!regions[i].hva || !regions[i].size || regions[i].size % PAGE_SIZE)
			return -EINVAL;
		*total += regions[i].size;
	}
	return *total && *total <= SNAPFILE_MAX_RAM ? 0 : -EINVAL;
}

/* fsync, then read-only for everyone (the directory keeps others out). */
static int seal_file(int fd)
{
	if (fsync(fd) || fchmod(fd, 0444))
		return -errno;
	return 0;
}

static int open_new(struct snap_writer *w, const char *name)
{
	char *p = path_join(w->partial, name);
	int fd;

	if (!p)
		return -ENOMEM;
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = -errno;
	free(p);
	return fd;
}

static int memory_write(struct snap_writer *w, const struct snap_region *regions, unsigned n,
			snapfile_progress_fn *progress, void *opaque)
{
	struct mem_walk *mw = calloc(1, sizeof(*mw));
	int ret;

	if (!mw)
		return -ENOMEM;
	mw->w = w;
	ret = walk_regions(mw, regions, n, progress, opaque);
	free(mw);
	if (!ret && (ftruncate(w->mem_fd, (off_t) w->ram_size) || fchmod(w->mem_fd, 0444)))
		ret = -errno;
	return ret;
}

int snapfile_write_memory(struct snap_writer *w, const struct snap_region *regions, unsigned n,
			  snapfile_progress_fn *progress, void *opaque, char *err, size_t len)
{
	uint64_t total;
	int ret;

	if (w->mem_fd >= 0)
		return errbuf_set(err, len, -EINVAL, "snapshot %s: memory written twice", w->dir);
	if (check_regions(regions, n, &total))
		return errbuf_set(err, len, -EINVAL, "snapshot %s: bad RAM regions", w->dir);
	w->nr_chunks = (total + SNAPFILE_CHUNK - 1) / SNAPFILE_CHUNK;
	w->chunk_hash = calloc(w->nr_chunks, sizeof(*w->chunk_hash));
	if (!w->chunk_hash)
		return errbuf_set(err, len, -ENOMEM, "snapshot %s: out of memory", w->dir);
	w->ram_size = total;
	w->mem_fd = open_new(w, "memory");
	if (w->mem_fd < 0) {
		ret = w->mem_fd;
		w->mem_fd = -1;
		return errbuf_set(err, len, ret, "snapshot %s: cannot create memory: %s", w->dir,
				  strerror(-ret));
	}
	ret = memory_write(w, regions, n, progress, opaque);
	if (ret)
		return errbuf_set(err, len, ret, "snapshot %s: writing memory: %s", w->dir,
				  strerror(-ret));
	return 0;
}

int snapfile_add(struct snap_writer *w, uint32_t tag, uint32_t index, const struct sbuf *b)
{
	uint64_t key = (uint64_t) tag << 32 | index;
	uint64_t *keys;

	if (b->err)
		return b->err;
	if (w->nr_sections >= SNAPFILE_MAX_SECTIONS)
		return -EINVAL;
	for (unsigned i = 0; i < w->nr_sections; i++)
		if (w->keys[i] == key)
			return -EINVAL;
	keys = realloc(w->keys, (w->nr_sections + 1) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	w->keys = keys;
	keys[w->nr_sections++] = key;
	sbuf_put_u32(&w->sections, tag);
	sbuf_put_u32(&w->sections, index);
	sbuf_put_u64(&w->sections, b->len);
	sbuf_put_bytes(&w->sections, b->data, b->len);
	return w->sections.err;
}

/* The whole state file: header, RAM size, chunk hashes, sections, trailer. */
static int state_build(const struct snap_writer *w, struct sbuf *out)
{
	sbuf_put_bytes(out, SNAPFILE_MAGIC, sizeof(SNAPFILE_MAGIC) - 1);
	sbuf_put_u32(out, SNAPFILE_VERSION);
	sbuf_put_u32(out, 0);
	sbuf_put_u64(out, w->ram_size);
	for (uint64_t i = 0; i < w->nr_chunks; i++)
		sbuf_put_u64(out, w->chunk_hash[i]);
	sbuf_put_bytes(out, w->sections.data, w->sections.len);
	if (!out->err)
		sbuf_put_u64(out, XXH3_64bits(out->data, out->len));
	return out->err;
}

static int state_write(struct snap_writer *w)
{
	struct sbuf st;
	int fd, ret;

	sbuf_init(&st);
	ret = state_build(w, &st);
	if (ret)
		goto out_free;
	fd = open_new(w, "state");
	if (fd < 0) {
		ret = fd;
		goto out_free;
	}
	ret = write_all(fd, st.data, st.len, 0);
	if (!ret)
		ret = seal_file(fd);
	close(fd);
out_free:
	sbuf_free(&st);
	return ret;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

/* rename(2) would silently replace an empty directory made meanwhile at DIR. */
static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (access(to, F_OK) == 0) /* a file system without RENAME_NOREPLACE */
		return -EEXIST;
	return rename(from, to) ? -errno : 0;
}

static int parent_fsync(const char *dir)
{
	char *copy = strdup(dir), *slash;
	int ret;

	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash == copy)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	ret = fsync_path(slash ? copy : ".");
	free(copy);
	return ret;
}

/* Everything up to DIR appearing; *@what names the step that failed. */
static int commit_steps(struct snap_writer *w, const char **what)
{
	int ret;

	*what = "syncing memory";
	if (fsync(w->mem_fd))
		return -errno;
	*what = "writing state";
	ret = state_write(w);
	if (ret)
		return ret;
	*what = "syncing";
	ret = fsync_path(w->partial);
	if (ret)
		return ret;
	*what = "renaming into place";
	return rename_noreplace(w->partial, w->dir);
}

int snapfile_commit(struct snap_writer *w, char *err, size_t len)
{
	const char *what;
	int ret;

	if (w->mem_fd < 0) {
		ret = errbuf_set(err, len, -EINVAL, "snapshot %s: no memory written", w->dir);
		goto err_abort;
	}
	ret = commit_steps(w, &what);
	if (ret) {
		errbuf_set(err, len, ret, "snapshot %s: %s: %s", w->dir, what, strerror(-ret));
		goto err_abort;
	}
	/* DIR is complete and in place; only its durability across a host crash is open. */
	ret = parent_fsync(w->dir);
	if (ret)
		pr_warn("snapshot %s: syncing its parent directory: %s", w->dir, strerror(-ret));
	writer_free(w);
	return 0;

err_abort:
	snapfile_abort(w);
	return ret;
}
