/* snapfile.h - the snapshot directory: guest RAM image and saved state, written so that an
 * interrupted snapshot is never taken for a complete one, and checked when read.
 *
 * A snapshot DIR holds two files:
 * - `memory`: guest RAM, its regions concatenated in guest-physical order, file size = RAM
 *   size. Pages that are all zero are holes (the file is sparse): a reader finds them with
 *   SEEK_DATA/SEEK_HOLE and never copies them.
 * - `state`, all integers little-endian:
 *     header   "KSMVSNAP", u32 format version (SNAPFILE_VERSION), u32 flags (none yet: 0)
 *     u64      RAM size (bytes, page aligned, > 0)
 *     u64[]    one hash per SNAPFILE_CHUNK bytes of `memory` (the last chunk may be
 *              shorter): the xxh3-64 of the xxh3-64 of each of its pages, those as u64
 *              little-endian (snapfile_chunk_digest; holes hash as zero pages). An
 *              altered memory file is refused, and the page hashes computed on the way
 *              are the engine's own, so it need not read the pages again. Format 1,
 *              still read, hashed each chunk's bytes instead.
 *     sections until the trailer: u32 tag, u32 index, u64 length, length bytes
 *     trailer  u64 xxh3-64 of every byte before it
 *
 * Section tags: a tag with SNAP_TAG_REQUIRED set must be understood by the reader, which
 * refuses a snapshot holding a required tag it does not know; a tag without that bit is
 * optional and an older reader skips it. Every (tag, index) pair appears at most once.
 * Each section body starts with its own u32 version (the writer of the body owns it).
 *
 * Writing goes into the sibling `DIR.partial-<pid>`: memory first, then state, each
 * fsynced and made read-only (0444; the directory is 0700, RAM is private), then the
 * directory is renamed to DIR (never replacing anything) and the parent fsynced. A crash
 * leaves only a `.partial-*` directory, which no reader accepts: DIR does not exist, and the
 * partial directory has no state file with a valid trailer.
 *
 * The memory file stays immutable while guests use it: the reader opens it read-only and
 * seals it (vmm/snapseal.h: the immutable attribute, no writer left) before checking its
 * hashes, so the checked bytes are the ones guests read; the engine then maps the file in
 * place (ksm_image_map), the seal held until the last guest page mapping it is gone.
 * Where the file cannot be sealed, the engine copies the image into its own pool before
 * any guest maps it (a change after the check but before the copy is then not detected).
 */
#ifndef VMM_SNAPFILE_H
#define VMM_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/page.h"
#include "lib/sbuf.h"

#define SNAPFILE_MAGIC "KSMVSNAP"
#define SNAPFILE_VERSION 2u
#define SNAPFILE_VERSION_OLDEST 1u  /* format 1: chunk hashes of the bytes */
#define SNAPFILE_CHUNK (2ull << 20) /* bytes of memory per chunk hash */
#define SNAPFILE_CHUNK_PAGES (SNAPFILE_CHUNK / PAGE_SIZE)
#define SNAPFILE_MAX_RAM (1ull << 40)
#define SNAPFILE_MAX_STATE (256ull << 20) /* a state file larger than this is refused */
#define SNAPFILE_MAX_SECTIONS 4096u

#define SNAP_TAG_REQUIRED 0x80000000u

enum snap_section_tag {
	SNAP_SEC_DEFINITION = SNAP_TAG_REQUIRED | 1, /* the guest's options (lead) */
	SNAP_SEC_GUEST = SNAP_TAG_REQUIRED | 2,	     /* identity and guest-wide facts */
	SNAP_SEC_VM = SNAP_TAG_REQUIRED | 3,	     /* vmstate_save_vm */
	SNAP_SEC_VCPU = SNAP_TAG_REQUIRED | 4,	     /* vmstate_save_vcpu, index = vCPU id */
	SNAP_SEC_DEVICES = SNAP_TAG_REQUIRED | 5,    /* every device's state */
	SNAP_SEC_WL = SNAP_TAG_REQUIRED | 6,	     /* the workload device */
};

/* One host mapping of guest RAM, in guest-physical order. */
struct snap_region {
	const uint8_t *hva;
	uint64_t size; /* bytes, page aligned */
};

/* Bytes done of @total; called after each chunk of memory written. */
typedef void snapfile_progress_fn(void *opaque, uint64_t done, uint64_t total);

struct snap_writer;

/* Start a snapshot that will become @dir. Refused (NULL, message in @err) if @dir exists
 * or its partial directory cannot be made. */
struct snap_writer *snapfile_create(const char *dir, char *err, size_t len);

/* Write guest RAM (the guest is paused: nothing may change it meanwhile). Call once, before
 * snapfile_commit. Once it returns, the RAM is copied (into the page cache): the guest may
 * run again; snapfile_commit syncs it to disk. @progress may be NULL. Returns 0 or -errno
 * (message in @err). */
int snapfile_write_memory(struct snap_writer *w, const struct snap_region *regions, unsigned n,
			  snapfile_progress_fn *progress, void *opaque, char *err, size_t len);

/* Add a section (the bytes are copied). Returns 0, -EINVAL (duplicate, too many) or
 * -ENOMEM (also when @b itself failed to grow). */
int snapfile_add(struct snap_writer *w, uint32_t tag, uint32_t index, const struct sbuf *b);

/* Sync the memory file, write the state file and make the snapshot appear as DIR (this is
 * the slow part for a large guest: its page cache goes to disk; the guest need not be
 * paused). Frees @w whatever happens; on failure the partial directory is removed.
 * Returns 0 or -errno (message in @err). */
int snapfile_commit(struct snap_writer *w, char *err, size_t len);

/* Give up: remove the partial directory and free @w (NULL is fine). */
void snapfile_abort(struct snap_writer *w);

/* The partial directory @w writes into (for tests and messages). */
const char *snapfile_partial_dir(const struct snap_writer *w);

struct snapshot;

/* Open and check a snapshot: magic, version, trailer, sections, memory file size and
 * chunk hashes. NULL with "snapshot DIR: <why>" in @err if anything is wrong. */
struct snapshot *snapfile_open(const char *dir, char *err, size_t len);

/* snapfile_open in two steps, so that the slow one can run while the caller builds the
 * guests from the sections: this one does everything but the chunk hashes (the memory
 * file opened and sealed, its size checked); snapfile_check then checks them (on every
 * CPU we may use). Until it succeeded, snapfile_memory_map and snapfile_page_hashes
 * give NULL: no memory is read that was not checked. While it runs, other threads may
 * use only snapfile_section, snapfile_reader, snapfile_count and snapfile_ram_size.
 * snapfile_check returns 0 or -errno with "snapshot DIR: <why>" in @err; call it once. */
struct snapshot *snapfile_open_unchecked(const char *dir, char *err, size_t len);
int snapfile_check(struct snapshot *s, char *err, size_t len);

/* The pure parser of a state file's bytes (copied), without a memory file: every check
 * but those of `memory`. For the fuzz target and tests; snapfile_open uses it. */
struct snapshot *snapfile_parse(const void *state, size_t n, char *err, size_t len);

/* Body of section (@tag, @index) and its length in *@len, or NULL if absent. */
const void *snapfile_section(const struct snapshot *s, uint32_t tag, uint32_t index, size_t *len);

/* A reader over that section (an empty failed reader, why "no section ...", if absent). */
void snapfile_reader(const struct snapshot *s, uint32_t tag, uint32_t index, struct sbuf_reader *r);

/* How many sections carry @tag (e.g. the vCPUs); their indices are 0..n-1 only if the
 * writer numbered them so: check with snapfile_section. */
unsigned snapfile_count(const struct snapshot *s, uint32_t tag);

uint64_t snapfile_ram_size(const struct snapshot *s);

/* A chunk's hash in format 2: xxh3-64 of its @n (at most SNAPFILE_CHUNK_PAGES) page
 * hashes as u64 little-endian. */
uint64_t snapfile_chunk_digest(const uint64_t *page_hash, size_t n);

/* The xxh3-64 of each page of memory (a hole hashes as a zero page), computed from the
 * sealed or checked bytes by the check; NULL for format 1, a parsed-only snapshot, or
 * before the check passed. */
const uint64_t *snapfile_page_hashes(const struct snapshot *s);

/* The memory file, O_RDONLY (-1 for a parsed-only snapshot). */
int snapfile_memory_fd(const struct snapshot *s);

struct snapseal;

/* The memory file's seal (take a reference to keep it past snapfile_close), or NULL with
 * the reason in *@why. */
struct snapseal *snapfile_memory_seal(const struct snapshot *s, const char **why);

/* The memory file mapped PROT_READ, MAP_PRIVATE, on first use; NULL if it cannot be or
 * before the check passed. */
const uint8_t *snapfile_memory_map(struct snapshot *s);

void snapfile_close(struct snapshot *s);

#endif
