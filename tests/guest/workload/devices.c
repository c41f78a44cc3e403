/* devices.c - the workload guest's checks of its virtio devices, and its balloon. */
#include "tests/guest/workload/devices.h"

#include "tests/guest/workload/console.h"
#include "tests/guest/workload/libc.h"

enum { ID_BLOCK = 2, ID_CONSOLE = 3, ID_RNG = 4, ID_BALLOON = 5 };

#define BLK_F_RO (1ull << 5)
#define BLK_F_FLUSH (1ull << 9)
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BALLOON_F_REPORTING (1ull << 5)

/* Buffer space of a device slot (VIO_BUF_SIZE = 16 KiB). */
#define OFF_HDR 0x0000u
#define OFF_STATUS 0x0010u
#define OFF_ID 0x0100u
#define OFF_DATA 0x1000u
#define OFF_BACK 0x2000u
#define OFF_REF 0x3000u

static uint64_t addr(const struct vio_dev *d, unsigned off)
{
	return (uint64_t) (uintptr_t) (d->buf + off);
}

static int check_console(struct vio_dev *d, uint32_t guest)
{
	const char *s = "VIRTIO console: hello from the workload guest ";
	char *line = (char *) d->buf;
	struct vio_buf b;
	int n = 0;

	while (*s)
		line[n++] = *s++;
	line[n++] = (char) ('0' + guest % 10);
	line[n++] = '\n';
	b = (struct vio_buf){addr(d, 0), (uint32_t) n, 0};
	return vio_transfer(d, 1, &b, 1) < 0 ? -1 : 0; /* transmitq is queue 1 */
}

/* Two reads of 64 bytes: both returned whole, not all zero, and different. */
static int check_rng(struct vio_dev *d)
{
	struct vio_buf a = {addr(d, OFF_DATA), 64, 1}, b = {addr(d, OFF_BACK), 64, 1};
	const uint8_t *x = d->buf + OFF_DATA, *y = d->buf + OFF_BACK;
	uint8_t any = 0;

	memset(d->buf + OFF_DATA, 0, 64);
	memset(d->buf + OFF_BACK, 0, 64);
	if (vio_transfer(d, 0, &a, 1) != 64 || vio_transfer(d, 0, &b, 1) != 64)
		return -1;
	for (unsigned i = 0; i < 64; i++)
		any |= x[i];
	return any && memcmp(x, y, 64) ? 0 : -1;
}

/* One block request: header, optional data buffer, status byte. Returns the status
 * (0 ok, 1 I/O error, 2 unsupported) or -1 if the device did not answer. */
static int blk_request(struct vio_dev *d, uint32_t type, uint64_t sector, unsigned data_off,
		       uint32_t len, int dev_writes)
{
	uint32_t *hdr = (uint32_t *) (d->buf + OFF_HDR);
	struct vio_buf b[3];
	unsigned n = 0;

	hdr[0] = type;
	hdr[1] = 0;
	*(uint64_t *) (d->buf + OFF_HDR + 8) = sector;
	d->buf[OFF_STATUS] = 0xff;
	b[n++] = (struct vio_buf){addr(d, OFF_HDR), 16, 0};
	if (len)
		b[n++] = (struct vio_buf){addr(d, data_off), len, dev_writes};
	b[n++] = (struct vio_buf){addr(d, OFF_STATUS), 1, 1};
	if (vio_transfer(d, 0, b, n) < 0)
		return -1;
	return d->buf[OFF_STATUS];
}

/* Write the last 4 KiB of the disk with a pattern of this guest, flush, read it back
 * into another buffer and compare. A read-only disk must refuse the write instead. */
static int check_block(struct vio_dev *d, uint32_t guest, uint64_t seed, unsigned k)
{
	uint64_t cap = (uint64_t) vio_config32(d, 4) << 32 | vio_config32(d, 0);
	uint64_t sector = cap - 8;
	int ro = !!(d->features & BLK_F_RO);

	if (cap < 8)
		return -1;
	for (unsigned i = 0; i < 4096; i++)
		d->buf[OFF_DATA + i] = (uint8_t) (i * 31 + guest * 7 + seed);
	if (blk_request(d, BLK_T_OUT, sector, OFF_DATA, 4096, 0) != (ro ? 1 : 0))
		return -1;
	if ((d->features & BLK_F_FLUSH) && blk_request(d, BLK_T_FLUSH, 0, 0, 0, 0) != 0)
		return -1;
	memset(d->buf + OFF_BACK, 0, 4096);
	if (blk_request(d, BLK_T_IN, sector, OFF_BACK, 4096, 1) != 0)
		return -1;
	if (!ro && memcmp(d->buf + OFF_DATA, d->buf + OFF_BACK, 4096))
		return -1;
	memset(d->buf + OFF_ID, 0, 21);
	if (blk_request(d, BLK_T_GET_ID, 0, OFF_ID, 20, 1) != 0)
		return -1;
	wl_printf("VIRTIO blk%u: %lu sectors%s serial=%s\n", k, cap, ro ? " read-only" : "",
		  (const char *) d->buf + OFF_ID);
	return 0;
}

static int init_one(struct wl_devices *w, unsigned i, const struct wl_virtio_dev *v)
{
	struct vio_dev *d = &w->dev[i];
	uint64_t slot = WL_VIRTIO_GPA + i * WL_VIRTIO_SLOT, want = 0;
	unsigned nq = 1;
	const char *why;

	if (v->device_id == ID_CONSOLE)
		nq = 2;
	else if (v->device_id == ID_BLOCK)
		want = BLK_F_RO | BLK_F_FLUSH;
	else if (v->device_id == ID_BALLOON)
		want = BALLOON_F_REPORTING, nq = 3;
	if (vio_init(d, v->base, slot, want, nq, &why) == 0 && d->id == v->device_id)
		return 0;
	wl_printf("VIRTIO device %u (id %u) FAILED to initialise: %s\n", i, v->device_id,
		  d->id == v->device_id ? why : "wrong device ID");
	return -1;
}

static int check_one(struct wl_devices *w, unsigned i, const struct wl_params *prm, unsigned *disks)
{
	struct vio_dev *d = &w->dev[i];

	switch (d->id) {
	case ID_CONSOLE: return check_console(d, prm->guest_index);
	case ID_RNG: return check_rng(d);
	case ID_BLOCK:
		if (w->disk < 0)
			w->disk = (int) i;
		return check_block(d, prm->guest_index, prm->seed, (*disks)++);
	case ID_BALLOON:
		w->balloon = (int) i;
		/* Queues are numbered over the offered features: without the statistics
		 * queue, reporting is queue 2. */
		w->reporting = d->features & BALLOON_F_REPORTING ? 2 : -1;
		return 0;
	default: return -1;
	}
}

static const char *kind(uint32_t id)
{
	return id == ID_CONSOLE	  ? "console"
	       : id == ID_RNG	  ? "rng"
	       : id == ID_BLOCK	  ? "blk"
	       : id == ID_BALLOON ? "balloon"
				  : "unknown";
}

void wl_devices_start(struct wl_devices *w, const struct wl_params *prm,
		      volatile struct wl_params *live)
{
	unsigned disks = 0;

	w->live = live;
	w->n = prm->nr_virtio < WL_MAX_VIRTIO ? prm->nr_virtio : WL_MAX_VIRTIO;
	w->balloon = w->reporting = w->disk = -1;
	for (unsigned i = 0; i < w->n; i++) {
		int ok = init_one(w, i, &prm->virtio[i]) == 0 && check_one(w, i, prm, &disks) == 0;

		w->ready[i] = ok;
		if (ok)
			live->vio_ok |= 1ull << i;
		else
			live->vio_failed |= 1ull << i;
		wl_printf("VIRTIO %s %s (device %u, status 0x%x)\n", kind(prm->virtio[i].device_id),
			  ok ? "ok" : "FAILED", i, vio_status(&w->dev[i]));
	}
}

unsigned wl_devices_round(struct wl_devices *w)
{
	struct vio_dev *d;

	if (w->disk < 0 || !w->ready[w->disk])
		return 0;
	d = &w->dev[w->disk];
	if (blk_request(d, BLK_T_IN, 0, w->have_ref ? OFF_BACK : OFF_REF, 4096, 1) != 0) {
		wl_printf("VIRTIO blk round: the read failed\n");
		return 1;
	}
	if (!w->have_ref) {
		w->have_ref = 1;
		return 0;
	}
	if (memcmp(d->buf + OFF_BACK, d->buf + OFF_REF, 4096) == 0)
		return 0;
	wl_printf("VIRTIO blk round: reread MISMATCH\n");
	return 1;
}

uint32_t wl_balloon_target(const struct wl_devices *w)
{
	if (w->balloon < 0 || !w->ready[w->balloon])
		return 0;
	return vio_config32(&w->dev[w->balloon], 0); /* num_pages */
}

int wl_balloon_move(struct wl_devices *w, int inflate, const uint32_t *pfns, unsigned n,
		    uint32_t actual)
{
	struct vio_dev *d;
	struct vio_buf b;

	if (w->balloon < 0 || !w->ready[w->balloon] || n > VIO_BUF_SIZE / 4)
		return -1;
	d = &w->dev[w->balloon];
	memcpy(d->buf, pfns, n * 4);
	b = (struct vio_buf){addr(d, 0), n * 4, 0};
	if (n && vio_transfer(d, inflate ? 0 : 1, &b, 1) < 0)
		return -1;
	vio_config_write32(d, 4, actual);
	return 0;
}

int wl_report_free(struct wl_devices *w, const struct vio_buf *ranges, unsigned n)
{
	if (w->balloon < 0 || w->reporting < 0 || !w->ready[w->balloon])
		return -1;
	return vio_transfer(&w->dev[w->balloon], (unsigned) w->reporting, ranges, n) < 0 ? -1 : 0;
}

/* ---- Hostile requests (WL_REQ_HOSTILE) ---- */

/* The queue the attack goes to, and whether the device reads its buffers. */
static unsigned hostile_queue(const struct vio_dev *d, int *device_reads)
{
	*device_reads = d->id != ID_RNG;
	return d->id == ID_CONSOLE ? 1 : 0; /* the console reads its transmitq */
}

/* Build the descriptors of attack @kind on @d in @desc; returns their number, 0 if the
 * device cannot be attacked that way. *@bump is the avail index step. */
static unsigned hostile_chain(const struct vio_dev *d, uint32_t kind, struct vio_desc *desc,
			      uint16_t *bump)
{
	int reads;
	unsigned q = hostile_queue(d, &reads);
	uint16_t w;

	w = reads ? 0 : VIO_DESC_F_WRITE; /* the honest direction */
	*bump = 1;
	desc[0] = (struct vio_desc){addr(d, OFF_DATA), 16, w, 0};
	switch (kind) {
	case WL_HOSTILE_OUTSIDE: desc[0].addr = 1ull << 46; return 1; /* far beyond RAM */
	case WL_HOSTILE_LOOP:
		desc[0].flags |= VIO_DESC_F_NEXT, desc[0].next = 1;
		desc[1] = (struct vio_desc){addr(d, OFF_BACK), 16, w | VIO_DESC_F_NEXT, 0};
		return 2;
	case WL_HOSTILE_DIRECTION: desc[0].flags = reads ? VIO_DESC_F_WRITE : 0; return 1;
	case WL_HOSTILE_AVAIL: *bump = (uint16_t) (d->q[q].size + 1); return 1;
	case WL_HOSTILE_OVERSIZE:
		if (d->id != ID_BLOCK)
			return 0;
		/* Read 8 MiB (the limit is 4 MiB) from sector 0 into RAM at 16 MiB. */
		memset(d->buf + OFF_HDR, 0, 16);
		desc[0] = (struct vio_desc){addr(d, OFF_HDR), 16, VIO_DESC_F_NEXT, 1};
		desc[1] =
		    (struct vio_desc){16ull << 20, 8u << 20, VIO_DESC_F_WRITE | VIO_DESC_F_NEXT, 2};
		desc[2] = (struct vio_desc){addr(d, OFF_STATUS), 1, VIO_DESC_F_WRITE, 0};
		return 3;
	default: return 0;
	}
}

static void hostile_reset(struct wl_devices *w, unsigned i, const struct wl_params *prm)
{
	unsigned disks = 0;
	int ok = init_one(w, i, &prm->virtio[i]) == 0 && check_one(w, i, prm, &disks) == 0;

	w->ready[i] = ok;
	wl_printf("HOSTILE reset: VIRTIO %s %s (device %u, status 0x%x)\n",
		  kind(prm->virtio[i].device_id), ok ? "ok" : "FAILED", i, vio_status(&w->dev[i]));
}

void wl_devices_hostile(struct wl_devices *w, uint32_t i, uint32_t how, const struct wl_params *prm)
{
	struct vio_desc desc[3];
	uint16_t bump = 1;
	unsigned n, q;
	int reads;

	if (i >= w->n || how >= WL_HOSTILE_COUNT) {
		wl_printf("HOSTILE: no device %u or no attack %u\n", i, how);
		return;
	}
	if (how == WL_HOSTILE_RESET) {
		hostile_reset(w, i, prm);
		return;
	}
	n = hostile_chain(&w->dev[i], how, desc, &bump);
	q = hostile_queue(&w->dev[i], &reads);
	if (!n || w->dev[i].q[q].size == 0) {
		wl_printf("HOSTILE: attack %u does not apply to device %u\n", how, i);
		return;
	}
	w->ready[i] = 0; /* from now on the guest leaves the device alone */
	vio_post_raw(&w->dev[i], q, desc, n, bump);
	wl_printf("HOSTILE attack %u on device %u (%s): status 0x%x\n", how, i, kind(w->dev[i].id),
		  vio_wait_status(&w->dev[i], VIO_S_NEEDS_RESET, 1000000));
}
