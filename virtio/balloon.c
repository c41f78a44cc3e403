/* balloon.c - virtio memory balloon (virtio 1.x, section 5.5): inflate and deflate queues,
 * the statistics queue, deflate on OOM, and free page reporting.
 *
 * Queue numbering: the driver numbers its queues compacted over the features it
 * accepted, in the order inflate, deflate, stats (STATS_VQ), free page hinting (never
 * offered here), reporting (REPORTING): Linux passes no name for an absent queue and
 * virtio-mmio skips it, so without STATS_VQ the reporting queue is index 2. The device
 * therefore maps index to role at DRIVER_OK, when the features are final.
 *
 * Inflate: arrays of le32 4 KiB frame numbers; every frame must lie in guest RAM (else
 * a guest error), then runs of adjacent frames go to the host's discard hook as one range
 * each. Deflate: frames come back; they are checked and counted, nothing to do (no
 * MUST_TELL_HOST: the guest may reuse them before telling us anyway).
 * Stats: the driver posts one buffer of packed (le16 tag, le64 value) pairs; the device
 * keeps the values and holds the buffer until the host wants fresh numbers, then gives
 * it back (used) and the driver refills and reposts it.
 * Reporting: each chain is a list of writable buffers of free guest memory (2 MiB or
 * more each: a large buffer is normal here); their whole pages go to the discard hook,
 * then the chain is given back with 0 bytes written. */
#define pr_fmt(fmt) "virtio-balloon: " fmt

#include "virtio/balloon.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/page.h"
#include "lib/sbuf.h"
#include "virtio/virtq.h"

#define BALLOON_QUEUES 4 /* inflate, deflate, stats, reporting: the most a driver uses */
/* Frames handled per batch (what Linux sends in one inflate buffer). */
#define BALLOON_PFN_BATCH 256
/* Stats entries read from one buffer; more are ignored (Linux sends 10 or so). */
#define BALLOON_STATS_MAX 64
#define BALLOON_STAT_LEN 10 /* packed le16 tag + le64 value */

enum balloon_role { BALLOON_NONE, BALLOON_INFLATE, BALLOON_DEFLATE, BALLOON_STATS, BALLOON_REPORT };

struct virtio_balloon {
	virtio_balloon_discard_fn *discard;
	void *opaque;
	/* Set at DRIVER_OK, cleared at reset (vCPU, device lock); read by the worker. */
	enum balloon_role role[BALLOON_QUEUES];
	int stats_q; /* index of the stats queue or -1; atomic: request_stats reads it */
	/* Stats buffer the device holds (worker, device lock). */
	bool stats_held;
	uint16_t stats_head;
	bool stats_wanted;	    /* atomic: request_stats sets it, the worker clears it */
	pthread_mutex_t stats_lock; /* guest_stats: written by the worker, read by anyone */
	struct virtio_balloon_guest_stats guest;
	struct virtio_balloon_counters cnt; /* atomics (target, actual: see counters()) */
	uint64_t log_us;		    /* last discard failure line (worker) */
};

/* At most one discard failure line per 10 s per device (worker only). */
static bool balloon_log_ok(struct virtio_balloon *b)
{
	uint64_t now = clock_now_us();

	if (b->log_us && now - b->log_us < 10 * 1000 * 1000ull)
		return false;
	b->log_us = now;
	return true;
}

static void balloon_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* Hand [gpa, gpa + len) to the host; its failure is the host's, not the guest's. */
static void balloon_discard(struct virtio_dev *dev, struct virtio_balloon *b, uint64_t gpa,
			    uint64_t len)
{
	int ret = b->discard ? b->discard(b->opaque, gpa, len) : 0;

	balloon_count(&b->cnt.discards, 1);
	if (!ret)
		return;
	balloon_count(&b->cnt.discard_errors, 1);
	if (balloon_log_ok(b))
		pr_warn("%s: discard 0x%llx+0x%llx: %s", virtio_dev_name(dev),
			(unsigned long long) gpa, (unsigned long long) len, strerror(-ret));
}

static int balloon_pfn_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* Discard @n checked frames as ranges: sorted, duplicates dropped, adjacent merged. */
static void balloon_discard_frames(struct virtio_dev *dev, struct virtio_balloon *b, uint32_t *pfn,
				   unsigned n)
{
	uint64_t start = 0, end = 0; /* current run, in frames */

	qsort(pfn, n, sizeof(*pfn), balloon_pfn_cmp);
	for (unsigned i = 0; i < n; i++) {
		if (end && pfn[i] < end)
			continue; /* a duplicate */
		if (end && pfn[i] == end) {
			end++;
			continue;
		}
		if (end)
			balloon_discard(dev, b, start << PAGE_SHIFT, (end - start) << PAGE_SHIFT);
		start = pfn[i];
		end = start + 1;
	}
	if (end)
		balloon_discard(dev, b, start << PAGE_SHIFT, (end - start) << PAGE_SHIFT);
}

/* One batch of frames from an inflate or deflate buffer: every frame in guest RAM? */
static int balloon_frames(struct virtio_dev *dev, struct virtq *vq, uint32_t *pfn, unsigned n,
			  bool inflate)
{
	const struct virtio_mem_ops *mem = virtio_dev_mem(dev);
	struct virtio_balloon *b = virtio_dev_priv(dev);

	for (unsigned i = 0; i < n; i++) {
		pfn[i] = le32toh(pfn[i]);
		if (!mem->read(mem->opaque, (uint64_t) pfn[i] << PAGE_SHIFT, PAGE_SIZE)) {
			vq->error = "balloon frame outside guest RAM";
			return -EFAULT;
		}
	}
	balloon_count(inflate ? &b->cnt.inflated : &b->cnt.deflated, n);
	if (inflate)
		balloon_discard_frames(dev, b, pfn, n);
	return 0;
}

/* An inflate or deflate chain: readable only, a whole number of le32 frames. */
static int balloon_pfn_chain(struct virtio_dev *dev, struct virtq *vq, const struct virtq_chain *c,
			     bool inflate)
{
	uint32_t pfn[BALLOON_PFN_BATCH];

	if (c->nr_in || c->out_len % sizeof(uint32_t)) {
		vq->error = "balloon frame list malformed";
		return -EINVAL;
	}
	for (uint64_t off = 0; off < c->out_len; off += sizeof(pfn)) {
		ssize_t n = virtq_chain_read(vq, c, off, pfn, sizeof(pfn));
		int ret;

		if (n <= 0)
			return n < 0 ? n : -EFAULT;
		ret = balloon_frames(dev, vq, pfn, n / sizeof(uint32_t), inflate);
		if (ret)
			return ret;
	}
	return virtq_push(vq, c->head, 0);
}

/* A reporting chain: writable buffers of free memory; their whole pages are discarded. */
static int balloon_report_chain(struct virtio_dev *dev, struct virtq *vq,
				const struct virtq_chain *c)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	uint64_t pages = 0;

	if (c->nr_out) {
		vq->error = "free page report with readable buffers";
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->nr_in; i++) {
		uint64_t start = (c->buf[i].gpa + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		uint64_t end = (c->buf[i].gpa + c->buf[i].len) & ~(PAGE_SIZE - 1);

		if (end <= start)
			continue;
		balloon_discard(dev, b, start, end - start);
		pages += (end - start) >> PAGE_SHIFT;
	}
	balloon_count(&b->cnt.reports, 1);
	balloon_count(&b->cnt.reported_pages, pages);
	return virtq_push(vq, c->head, 0);
}

/* Keep the values of a stats buffer (packed pairs; unknown tags ignored). */
static int balloon_stats_parse(struct virtio_dev *dev, struct virtq *vq,
			       const struct virtq_chain *c)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	uint8_t raw[BALLOON_STATS_MAX * BALLOON_STAT_LEN];
	ssize_t n = virtq_chain_read(vq, c, 0, raw, sizeof(raw));

	if (n < 0)
		return n;
	pthread_mutex_lock(&b->stats_lock);
	for (ssize_t off = 0; off + BALLOON_STAT_LEN <= n; off += BALLOON_STAT_LEN) {
		uint16_t tag;
		uint64_t val;

		memcpy(&tag, raw + off, sizeof(tag));
		memcpy(&val, raw + off + sizeof(tag), sizeof(val));
		tag = le16toh(tag);
		if (tag >= VIRTIO_BALLOON_STATS_NR)
			continue;
		b->guest.val[tag] = le64toh(val);
		b->guest.valid |= 1u << tag;
	}
	b->guest.time_us = clock_now_us();
	b->guest.updates++;
	pthread_mutex_unlock(&b->stats_lock);
	return 0;
}

/* Stats queue: take the newest buffer (giving back an older one), and give it back when
 * the host asked for fresh numbers. */
static int balloon_stats_queue(struct virtio_dev *dev, struct virtq *vq)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	struct virtq_chain c;
	int ret = 0;

	for (unsigned n = 0; n < vq->size && (ret = virtq_pop(vq, &c)) > 0; n++) {
		if (c.nr_in) {
			vq->error = "stats buffer is writable";
			return -EINVAL;
		}
		ret = balloon_stats_parse(dev, vq, &c);
		if (!ret && b->stats_held)
			ret = virtq_push(vq, b->stats_head, 0);
		if (ret)
			return ret;
		b->stats_held = true;
		b->stats_head = c.head;
	}
	if (ret > 0)
		return ret; /* more to pop: the worker comes back */
	if (!ret && b->stats_held &&
	    __atomic_exchange_n(&b->stats_wanted, false, __ATOMIC_ACQ_REL)) {
		b->stats_held = false;
		ret = virtq_push(vq, b->stats_head, 0);
	}
	return ret;
}

/* Worker: up to a queue's worth of chains of an inflate, deflate or reporting queue. */
static int balloon_chains(struct virtio_dev *dev, struct virtq *vq, enum balloon_role role)
{
	struct virtq_chain c;
	int ret = 0;

	for (unsigned n = 0; n < vq->size && (ret = virtq_pop(vq, &c)) > 0; n++) {
		int err = role == BALLOON_REPORT
			      ? balloon_report_chain(dev, vq, &c)
			      : balloon_pfn_chain(dev, vq, &c, role == BALLOON_INFLATE);

		if (err)
			return err;
	}
	return ret;
}

static int balloon_notify(struct virtio_dev *dev, unsigned q)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	struct virtq *vq = virtio_dev_queue(dev, q);
	enum balloon_role role = q < BALLOON_QUEUES ? b->role[q] : BALLOON_NONE;
	int ret;

	if (role == BALLOON_NONE)
		return 0; /* a queue the accepted features do not have: ignored */
	ret = role == BALLOON_STATS ? balloon_stats_queue(dev, vq) : balloon_chains(dev, vq, role);
	virtio_dev_signal_used(dev, q);
	if (ret > 0)
		virtio_dev_kick(dev, q); /* more chains are waiting */
	return ret < 0 ? ret : 0;
}

/* vCPU: the features are final; number the queues as the driver did. */
static int balloon_driver_ok(struct virtio_dev *dev)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	uint64_t f = virtio_dev_features(dev);
	unsigned q = 0;

	memset(b->role, 0, sizeof(b->role));
	b->role[q++] = BALLOON_INFLATE;
	b->role[q++] = BALLOON_DEFLATE;
	__atomic_store_n(&b->stats_q, -1, __ATOMIC_RELAXED);
	if (f & (1ull << VIRTIO_BALLOON_F_STATS_VQ)) {
		__atomic_store_n(&b->stats_q, (int) q, __ATOMIC_RELAXED);
		b->role[q++] = BALLOON_STATS;
	}
	if (f & (1ull << VIRTIO_BALLOON_F_REPORTING))
		b->role[q++] = BALLOON_REPORT;
	return 0;
}

/* vCPU: drop the held stats buffer (the rings are gone) and the numbering. */
static void balloon_reset(struct virtio_dev *dev)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);

	memset(b->role, 0, sizeof(b->role));
	__atomic_store_n(&b->stats_q, -1, __ATOMIC_RELAXED);
	__atomic_store_n(&b->stats_wanted, false, __ATOMIC_RELAXED);
	b->stats_held = false;
}

/* The driver may write only `actual`. */
static bool balloon_config_write(struct virtio_dev *dev, uint32_t off, const uint8_t *data,
				 unsigned len)
{
	const uint32_t lo = offsetof(struct virtio_balloon_config, actual);

	(void) dev;
	(void) data;
	return off >= lo && len <= lo + sizeof(uint32_t) - off;
}

/* --- Snapshot state ------------------------------------------------------------------
 * Saved: the stats buffer the device holds (the driver posts one and waits for it: a
 * restored device that forgot it would never see statistics again), whether the host
 * asked for fresh ones, the guest's last statistics (their age, not a clock value of this
 * process) and the counters of what the guest did (inflated, deflated, reports). The
 * target and `actual` live in config space (the transport's state); the queue roles are
 * derived from the accepted features, as at DRIVER_OK. Not carried over: the discard
 * counters, which count this host process's work. */
#define BALLOON_STATE_VERSION 1u
#define BALLOON_NO_AGE UINT64_MAX

static void balloon_save_guest(struct virtio_balloon *b, struct sbuf *out)
{
	uint64_t now = clock_now_us();

	pthread_mutex_lock(&b->stats_lock);
	sbuf_put_u32(out, b->guest.valid);
	for (unsigned i = 0; i < VIRTIO_BALLOON_STATS_NR; i++)
		sbuf_put_u64(out, b->guest.val[i]);
	sbuf_put_u64(out, b->guest.time_us ? now - b->guest.time_us : BALLOON_NO_AGE);
	sbuf_put_u64(out, b->guest.updates);
	pthread_mutex_unlock(&b->stats_lock);
}

static int balloon_save(struct virtio_dev *dev, struct sbuf *out)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);

	sbuf_put_u32(out, BALLOON_STATE_VERSION);
	sbuf_put_u8(out, b->stats_held);
	sbuf_put_u16(out, b->stats_head);
	sbuf_put_u8(out, __atomic_load_n(&b->stats_wanted, __ATOMIC_ACQUIRE));
	balloon_save_guest(b, out);
	sbuf_put_u64(out, __atomic_load_n(&b->cnt.inflated, __ATOMIC_RELAXED));
	sbuf_put_u64(out, __atomic_load_n(&b->cnt.deflated, __ATOMIC_RELAXED));
	sbuf_put_u64(out, __atomic_load_n(&b->cnt.reports, __ATOMIC_RELAXED));
	sbuf_put_u64(out, __atomic_load_n(&b->cnt.reported_pages, __ATOMIC_RELAXED));
	return 0;
}

/* A held stats buffer needs a running driver with a ready stats queue that has the head. */
static bool balloon_load_held(struct virtio_dev *dev, struct sbuf_reader *in, uint16_t head)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	struct virtq *vq = b->stats_q >= 0 ? virtio_dev_queue(dev, b->stats_q) : NULL;

	return sbuf_check(in, vq && vq->ready, "a held stats buffer, but no stats queue") &&
	       sbuf_check(in, head < vq->size, "held stats buffer %u of a queue of %u", head,
			  vq->size);
}

static bool balloon_load_guest(struct virtio_balloon *b, struct sbuf_reader *in)
{
	struct virtio_balloon_guest_stats g;
	uint64_t age, now = clock_now_us();

	g.valid = sbuf_get_u32(in);
	for (unsigned i = 0; i < VIRTIO_BALLOON_STATS_NR; i++)
		g.val[i] = sbuf_get_u64(in);
	age = sbuf_get_u64(in);
	g.updates = sbuf_get_u64(in);
	g.time_us = age == BALLOON_NO_AGE ? 0 : age < now ? now - age : 1;
	if (sbuf_error(in) ||
	    !sbuf_check(in, !(g.valid >> VIRTIO_BALLOON_STATS_NR), "statistics tags 0x%x", g.valid))
		return false;
	pthread_mutex_lock(&b->stats_lock);
	b->guest = g;
	pthread_mutex_unlock(&b->stats_lock);
	return true;
}

static void balloon_load_counters(struct virtio_balloon *b, struct sbuf_reader *in)
{
	b->cnt.inflated = sbuf_get_u64(in);
	b->cnt.deflated = sbuf_get_u64(in);
	b->cnt.reports = sbuf_get_u64(in);
	b->cnt.reported_pages = sbuf_get_u64(in);
}

/* The target is what config space tells the driver (virtio_balloon_set_target writes
 * both): taken from the loaded config, so a target set while the snapshot was written
 * cannot make the two disagree. */
static void balloon_load_target(struct virtio_dev *dev)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	uint32_t num_pages;

	virtio_config_get(dev, offsetof(struct virtio_balloon_config, num_pages), &num_pages,
			  sizeof(num_pages));
	__atomic_store_n(&b->cnt.target, le32toh(num_pages), __ATOMIC_RELAXED);
}

static int balloon_load(struct virtio_dev *dev, struct sbuf_reader *in)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	uint32_t version = sbuf_get_u32(in);
	uint8_t held, wanted;
	uint16_t head;

	if (!sbuf_check(in, sbuf_error(in) || version == BALLOON_STATE_VERSION,
			"unknown balloon state version %u", version))
		return -EINVAL;
	balloon_load_target(dev);
	held = sbuf_get_u8(in);
	head = sbuf_get_u16(in);
	wanted = sbuf_get_u8(in);
	if (virtio_dev_status(dev) & VIRTIO_CONFIG_S_DRIVER_OK)
		balloon_driver_ok(dev); /* the queue roles, as the driver numbered them */
	if (sbuf_error(in) ||
	    !sbuf_check(in, held <= 1 && wanted <= 1, "stats flags %u %u", held, wanted) ||
	    (held && !balloon_load_held(dev, in, head)) || !balloon_load_guest(b, in))
		return -EINVAL;
	balloon_load_counters(b, in);
	b->stats_held = held;
	b->stats_head = head;
	__atomic_store_n(&b->stats_wanted, wanted, __ATOMIC_RELEASE);
	return sbuf_error(in);
}

static void balloon_destroy(struct virtio_dev *dev)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);

	pthread_mutex_destroy(&b->stats_lock);
	free(b);
}

static const struct virtio_device_type balloon_type = {
    .name = "balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .features = (1ull << VIRTIO_BALLOON_F_STATS_VQ) | (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
		(1ull << VIRTIO_BALLOON_F_REPORTING),
    .num_queues = BALLOON_QUEUES,
    .queue_max = VIRTIO_BALLOON_QUEUE_SIZE,
    .config_size = sizeof(struct virtio_balloon_config),
    .queue_notify = balloon_notify,
    .driver_ok = balloon_driver_ok,
    .reset = balloon_reset,
    .config_write = balloon_config_write,
    .destroy = balloon_destroy,
    .save = balloon_save,
    .load = balloon_load,
};

struct virtio_dev *virtio_balloon_create(const struct virtio_mem_ops *mem,
					 virtio_balloon_discard_fn *discard, void *opaque)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	struct virtio_dev *dev;

	if (!b)
		return NULL;
	b->discard = discard;
	b->opaque = opaque;
	b->stats_q = -1;
	pthread_mutex_init(&b->stats_lock, NULL);
	dev = virtio_dev_create(&balloon_type, mem, b);
	if (!dev)
		goto err_free;
	virtio_balloon_set_target(dev, 0);
	return dev;

err_free:
	pthread_mutex_destroy(&b->stats_lock);
	free(b);
	return NULL;
}

void virtio_balloon_set_target(struct virtio_dev *dev, uint32_t pages)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	uint32_t le = htole32(pages);

	__atomic_store_n(&b->cnt.target, pages, __ATOMIC_RELAXED);
	virtio_config_update(dev, offsetof(struct virtio_balloon_config, num_pages), &le,
			     sizeof(le));
}

int virtio_balloon_request_stats(struct virtio_dev *dev)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	int q = __atomic_load_n(&b->stats_q, __ATOMIC_RELAXED);

	if (q < 0)
		return -EOPNOTSUPP;
	__atomic_store_n(&b->stats_wanted, true, __ATOMIC_RELEASE);
	virtio_dev_kick(dev, q);
	return 0;
}

void virtio_balloon_guest_stats(struct virtio_dev *dev, struct virtio_balloon_guest_stats *out)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);

	pthread_mutex_lock(&b->stats_lock);
	*out = b->guest;
	pthread_mutex_unlock(&b->stats_lock);
}

void virtio_balloon_counters(struct virtio_dev *dev, struct virtio_balloon_counters *out)
{
	struct virtio_balloon *b = virtio_dev_priv(dev);
	const struct virtio_balloon_counters *c = &b->cnt;
	uint32_t actual;

	virtio_config_get(dev, offsetof(struct virtio_balloon_config, actual), &actual,
			  sizeof(actual));
	out->target = __atomic_load_n(&c->target, __ATOMIC_RELAXED);
	out->actual = le32toh(actual);
	out->inflated = __atomic_load_n(&c->inflated, __ATOMIC_RELAXED);
	out->deflated = __atomic_load_n(&c->deflated, __ATOMIC_RELAXED);
	out->reports = __atomic_load_n(&c->reports, __ATOMIC_RELAXED);
	out->reported_pages = __atomic_load_n(&c->reported_pages, __ATOMIC_RELAXED);
	out->discards = __atomic_load_n(&c->discards, __ATOMIC_RELAXED);
	out->discard_errors = __atomic_load_n(&c->discard_errors, __ATOMIC_RELAXED);
}

const char *virtio_balloon_queue_role(struct virtio_dev *dev, unsigned q)
{
	static const char *const names[] = {NULL, "inflate", "deflate", "stats", "reporting"};
	struct virtio_balloon *b = virtio_dev_priv(dev);

	return q < BALLOON_QUEUES ? names[b->role[q]] : NULL;
}
