/* blk_disk.c - the disk under a virtio block device: the raw image, the private
 * copy-on-write overlay of snapshot mode, and the disk's part of a device snapshot.
 * (Requests are blk.c's; see its opening comment for the overlay's design.) */
#define pr_fmt(fmt) "virtio-blk: " fmt

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lib/errbuf.h"
#include "lib/log.h"
#include "lib/sbuf.h"
#include "virtio/blk_internal.h"

static void blk_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* --- The image and its overlay -------------------------------------------------------- */

/* Words of the cluster map (one bit per cluster, the last one possibly short). */
static uint64_t blk_map_words(const struct virtio_blk *blk)
{
	return (blk->size / VIRTIO_BLK_CLUSTER + 64) / 64;
}

static bool blk_mapped(const struct virtio_blk *blk, uint64_t cluster)
{
	return blk->map[cluster / 64] & (1ull << (cluster % 64));
}

static void blk_map_set(struct virtio_blk *blk, uint64_t cluster)
{
	if (blk_mapped(blk, cluster))
		return;
	blk->map[cluster / 64] |= 1ull << (cluster % 64);
	blk_count(&blk->stats.overlay_clusters, 1);
}

/* pread all @len bytes at @off: 0, or -errno (-EIO for a file that ended early). */
static int blk_pread_all(int fd, uint8_t *buf, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* pwritev all of @iov (@cnt entries, modified) at @off: 0 or -errno. */
static int blk_pwritev_all(int fd, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt) {
		ssize_t n = pwritev(fd, iov, cnt, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += n;
		for (; cnt && (size_t) n >= iov->iov_len; iov++, cnt--)
			n -= iov->iov_len;
		if (cnt) {
			iov->iov_base = (uint8_t *) iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

/* Read [off, off + len) of the disk as the guest sees it into @buf: from the image, or
 * in snapshot mode cluster run by cluster run from the overlay or the image. */
int virtio_blk_disk_read(struct virtio_blk *blk, uint8_t *buf, uint64_t off, uint64_t len)
{
	if (blk->mode != VIRTIO_BLK_SNAPSHOT)
		return blk_pread_all(blk->fd, buf, len, off);
	while (len) {
		bool in_overlay = blk_mapped(blk, off / VIRTIO_BLK_CLUSTER);
		uint64_t end = off;
		int ret;

		do
			end = (end / VIRTIO_BLK_CLUSTER + 1) * VIRTIO_BLK_CLUSTER;
		while (end < off + len && blk_mapped(blk, end / VIRTIO_BLK_CLUSTER) == in_overlay);
		if (end > off + len)
			end = off + len;
		ret = blk_pread_all(in_overlay ? blk->overlay_fd : blk->fd, buf, end - off, off);
		if (ret)
			return ret;
		buf += end - off;
		len -= end - off;
		off = end;
	}
	return 0;
}

/* Snapshot: copy cluster @cluster of the image into the overlay (the bounce buffer is
 * free: writes do not use it). */
static int blk_overlay_fill(struct virtio_blk *blk, uint64_t cluster)
{
	uint64_t off = cluster * VIRTIO_BLK_CLUSTER;
	uint64_t len = blk->size - off < VIRTIO_BLK_CLUSTER ? blk->size - off : VIRTIO_BLK_CLUSTER;
	struct iovec iov = {.iov_base = blk->bounce, .iov_len = len};
	int ret;

	if (blk_mapped(blk, cluster))
		return 0;
	ret = blk_pread_all(blk->fd, blk->bounce, len, off);
	if (!ret)
		ret = blk_pwritev_all(blk->overlay_fd, &iov, 1, off);
	if (!ret)
		blk_map_set(blk, cluster);
	return ret;
}

/* Write @iov (@len bytes) at @off of the disk: to the image, or in snapshot mode to the
 * overlay, whose partly covered edge clusters are filled from the image first. A cluster
 * is marked only once its overlay copy is whole. */
int virtio_blk_disk_write(struct virtio_blk *blk, struct iovec *iov, int cnt, uint64_t off,
			  uint64_t len)
{
	uint64_t first = off / VIRTIO_BLK_CLUSTER, last = (off + len - 1) / VIRTIO_BLK_CLUSTER;
	int ret = 0;

	if (blk->mode != VIRTIO_BLK_SNAPSHOT)
		return blk_pwritev_all(blk->fd, iov, cnt, off);
	if (off % VIRTIO_BLK_CLUSTER)
		ret = blk_overlay_fill(blk, first);
	if (!ret && (off + len) % VIRTIO_BLK_CLUSTER && off + len < blk->size)
		ret = blk_overlay_fill(blk, last);
	if (!ret)
		ret = blk_pwritev_all(blk->overlay_fd, iov, cnt, off);
	for (uint64_t c = first; !ret && c <= last; c++)
		blk_map_set(blk, c);
	return ret;
}

/* The overlay file: unlinked from the start (O_TMPFILE), or right after creation. */
int virtio_blk_overlay_open(struct virtio_blk *blk, char *err, size_t errlen)
{
	const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	char path[4096];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		snprintf(path, sizeof(path), "%s/ksmvmm-overlay-XXXXXX", dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return errbuf_set(err, errlen, -errno, "snapshot overlay in %s: %s", dir,
				  strerror(errno));
	blk->overlay_fd = fd;
	if (ftruncate(fd, blk->size) < 0)
		return errbuf_set(err, errlen, -errno, "snapshot overlay: %s", strerror(errno));
	blk->map = calloc(blk_map_words(blk), sizeof(uint64_t));
	return blk->map ? 0 : errbuf_set(err, errlen, -ENOMEM, "out of memory");
}

/* Open and lock the image, size it. */
int virtio_blk_image_open(struct virtio_blk *blk, const char *path, char *err, size_t errlen)
{
	bool rw = blk->mode == VIRTIO_BLK_RW;
	off_t end;

	blk->path = strdup(path);
	if (!blk->path)
		return errbuf_set(err, errlen, -ENOMEM, "out of memory");
	blk->fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (blk->fd < 0)
		return errbuf_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (flock(blk->fd, (rw ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0)
		return errbuf_set(err, errlen, -errno, "%s: in use by another disk (%s)", path,
				  strerror(errno));
	end = lseek(blk->fd, 0, SEEK_END);
	if (end < 0)
		return errbuf_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	blk->size = (uint64_t) end / BLK_SECTOR * BLK_SECTOR;
	if (!blk->size)
		return errbuf_set(err, errlen, -EINVAL, "%s: smaller than one sector", path);
	return 0;
}

/* --- The disk in a device snapshot ----------------------------------------------------
 * Section body (after the transport's, virtio/state.h): u32 version, u8 mode, u64 size in
 * bytes, blob the image's path. That is the disk's identity, which a restored device must
 * share: the guest's page cache and file systems describe that image. The serial is not
 * saved: each guest's comes from its own configuration (a clone gets its own).
 * In snapshot mode the overlay follows: u32 number of runs, then per run u64 first cluster
 * and a blob of its data (at most BLK_RUN_MAX clusters, whole except the disk's last one),
 * in ascending order. Each restored device writes them into its own fresh overlay, so
 * clones never see each other's writes, and the image stays untouched.
 * Nothing is ever in flight to save: a request is served whole, inside one queue_notify
 * call, and virtio_dev_save holds the device lock with the worker stopped. */
#define BLK_STATE_VERSION 1u
#define BLK_RUN_MAX (BLK_BOUNCE / VIRTIO_BLK_CLUSTER)

static const char *const blk_mode_names[] = {"rw", "readonly", "snapshot"};

static uint64_t blk_clusters(const struct virtio_blk *blk)
{
	return (blk->size + VIRTIO_BLK_CLUSTER - 1) / VIRTIO_BLK_CLUSTER;
}

/* Bytes of the run of @n clusters from @first (the disk's last cluster may be short). */
static uint64_t blk_run_bytes(const struct virtio_blk *blk, uint64_t first, uint64_t n)
{
	uint64_t end = (first + n) * VIRTIO_BLK_CLUSTER;

	return (end < blk->size ? end : blk->size) - first * VIRTIO_BLK_CLUSTER;
}

/* Clusters in the overlay from @c on, at most BLK_RUN_MAX; 0 if @c is not. */
static uint64_t blk_run_at(const struct virtio_blk *blk, uint64_t c)
{
	uint64_t n = 0, total = blk_clusters(blk);

	while (c + n < total && n < BLK_RUN_MAX && blk_mapped(blk, c + n))
		n++;
	return n;
}

static uint32_t blk_count_runs(const struct virtio_blk *blk)
{
	uint64_t total = blk_clusters(blk);
	uint32_t runs = 0;

	for (uint64_t c = 0; c < total;) {
		uint64_t n = blk_run_at(blk, c);

		runs += n != 0;
		c += n ? n : 1;
	}
	return runs;
}

/* The overlay's clusters, staged through the bounce buffer (free: no request runs). */
static int blk_save_overlay(struct virtio_blk *blk, struct sbuf *out)
{
	uint64_t total = blk_clusters(blk);

	sbuf_put_u32(out, blk_count_runs(blk));
	for (uint64_t c = 0; c < total;) {
		uint64_t n = blk_run_at(blk, c), len;
		int ret;

		if (!n) {
			c++;
			continue;
		}
		len = blk_run_bytes(blk, c, n);
		ret = blk_pread_all(blk->overlay_fd, blk->bounce, len, c * VIRTIO_BLK_CLUSTER);
		if (ret)
			return ret;
		sbuf_put_u64(out, c);
		sbuf_put_blob(out, blk->bounce, (uint32_t) len);
		c += n;
	}
	return out->err;
}

int virtio_blk_save(struct virtio_dev *dev, struct sbuf *out)
{
	struct virtio_blk *blk = virtio_dev_priv(dev);
	int ret;

	sbuf_put_u32(out, BLK_STATE_VERSION);
	sbuf_put_u8(out, blk->mode);
	sbuf_put_u64(out, blk->size);
	sbuf_put_blob(out, blk->path, (uint32_t) strlen(blk->path));
	if (blk->mode != VIRTIO_BLK_SNAPSHOT)
		return out->err;
	ret = blk_save_overlay(blk, out);
	if (ret)
		pr_err("%s: cannot save the overlay of %s: %s", virtio_dev_name(dev), blk->path,
		       strerror(-ret));
	return ret;
}

/* Back to an empty overlay (a failed load leaves nothing of the snapshot behind). */
static void blk_overlay_clear(struct virtio_blk *blk)
{
	memset(blk->map, 0, blk_map_words(blk) * sizeof(uint64_t));
	__atomic_store_n(&blk->stats.overlay_clusters, 0, __ATOMIC_RELAXED);
	if (ftruncate(blk->overlay_fd, 0) < 0 || ftruncate(blk->overlay_fd, blk->size) < 0)
		pr_warn("cannot clear the overlay of %s: %s", blk->path, strerror(errno));
}

/* A printable copy of @len untrusted bytes at @src, for a message. */
static void blk_printable(char *dst, size_t n, const char *src, uint32_t len)
{
	size_t i;

	for (i = 0; i + 1 < n && i < len; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

/* Mode, size and path: the same disk? */
static bool blk_load_identity(struct virtio_blk *blk, struct sbuf_reader *in)
{
	uint8_t mode = sbuf_get_u8(in);
	uint64_t size = sbuf_get_u64(in);
	uint32_t len;
	const char *path = sbuf_get_blob(in, &len);
	char saved[48];

	if (sbuf_error(in))
		return false;
	blk_printable(saved, sizeof(saved), path, len);
	return sbuf_check(in, mode == blk->mode, "disk %s is %s, the snapshot's was %s", blk->path,
			  blk_mode_names[blk->mode],
			  mode <= VIRTIO_BLK_SNAPSHOT ? blk_mode_names[mode] : "unknown") &&
	       sbuf_check(in, len == strlen(blk->path) && !memcmp(path, blk->path, len),
			  "disk %s, the snapshot's was %s", blk->path, saved) &&
	       sbuf_check(in, size == blk->size, "disk %s has %llu bytes, the snapshot's had %llu",
			  blk->path, (unsigned long long) blk->size, (unsigned long long) size);
}

/* One run of overlay data: in order, inside the disk, whole clusters, then written. */
static bool blk_load_run(struct virtio_blk *blk, struct sbuf_reader *in, uint64_t *next)
{
	uint64_t first = sbuf_get_u64(in), n;
	uint32_t len;
	const void *p = sbuf_get_blob(in, &len);
	struct iovec iov = {.iov_base = (void *) p, .iov_len = len};
	int ret;

	if (sbuf_error(in) ||
	    !sbuf_check(in, first >= *next && first < blk_clusters(blk),
			"overlay run at cluster %llu: out of order or beyond the disk",
			(unsigned long long) first))
		return false;
	n = (len + VIRTIO_BLK_CLUSTER - 1) / VIRTIO_BLK_CLUSTER;
	if (!sbuf_check(in,
			len && n <= BLK_RUN_MAX && n <= blk_clusters(blk) - first &&
			    len == blk_run_bytes(blk, first, n),
			"overlay run of %u bytes at cluster %llu", len, (unsigned long long) first))
		return false;
	ret = blk_pwritev_all(blk->overlay_fd, &iov, 1, first * VIRTIO_BLK_CLUSTER);
	if (!sbuf_check(in, !ret, "cannot write the overlay: %s", strerror(-ret)))
		return false;
	for (uint64_t c = first; c < first + n; c++)
		blk_map_set(blk, c);
	*next = first + n;
	return true;
}

static bool blk_load_overlay(struct virtio_blk *blk, struct sbuf_reader *in)
{
	uint32_t runs = sbuf_get_u32(in);
	uint64_t next = 0;

	if (sbuf_error(in) || !sbuf_check(in, runs <= blk_clusters(blk), "%u overlay runs", runs))
		return false;
	for (uint32_t i = 0; i < runs; i++)
		if (!blk_load_run(blk, in, &next))
			return false;
	return true;
}

int virtio_blk_load(struct virtio_dev *dev, struct sbuf_reader *in)
{
	struct virtio_blk *blk = virtio_dev_priv(dev);
	uint32_t version = sbuf_get_u32(in);

	if (!sbuf_check(in, sbuf_error(in) || version == BLK_STATE_VERSION,
			"unknown blk state version %u", version) ||
	    !blk_load_identity(blk, in))
		return -EINVAL;
	if (blk->mode != VIRTIO_BLK_SNAPSHOT)
		return 0;
	if (__atomic_load_n(&blk->stats.overlay_clusters, __ATOMIC_RELAXED))
		blk_overlay_clear(blk); /* not a fresh device: start from the image again */
	/* Trailing bytes would fail the whole load after this returns: check them here, so
	 * that every refusal leaves the overlay empty. */
	if (!blk_load_overlay(blk, in) ||
	    !sbuf_check(in, !sbuf_left(in), "%zu bytes after the overlay", sbuf_left(in))) {
		blk_overlay_clear(blk);
		return -EINVAL;
	}
	return 0;
}
