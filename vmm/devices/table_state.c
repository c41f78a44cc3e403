/* table_state.c - a guest's devices in a snapshot: quiesce, save in table order, load.
 *
 * Section body: u32 version, u32 number of devices, then per device (every device of the
 * table except the workload device, whose state wl_dev_save keeps): blob its kind
 * ("uart", "rng", "blk", ...), u32 its instance of that kind, u32 bus space, u64 bus
 * address, blob its state (uart_save or virtio_dev_save). Loading matches the saved
 * devices with this guest's by kind and instance, so a different device set is refused
 * by name before any device's state is read. */
#define pr_fmt(fmt) "devices: " fmt

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "lib/sbuf.h"
#include "virtio/state.h"
#include "vmm/devices/table_internal.h"
#include "vmm/devices/uart.h"

#define DEVICES_STATE_VERSION 1u
#define DEV_KIND_MAX 16 /* longest kind name, with its NUL */

/* One device of a snapshot, as read; body points into the reader's buffer. */
struct dev_saved {
	char kind[DEV_KIND_MAX];
	uint32_t n, space;
	uint64_t base;
	const void *body;
	uint32_t len;
	struct dev_slot *slot; /* this guest's device it matched, or NULL */
};

void devices_quiesce(struct devices *d)
{
	for (unsigned i = 0; i < d->nr; i++)
		if (d->slot[i].vd)
			virtio_dev_stop(d->slot[i].vd);
	d->quiesced = true;
}

int devices_resume(struct devices *d)
{
	bool restart = d->quiesced && d->started;

	d->quiesced = false;
	return restart ? devices_start(d) : 0;
}

/* Saved at all? The workload device is the lead's (wl_dev_save). The ACPI registers are
 * not: the guest wrote their only state (PM1 enable) at boot, and it reads back nothing
 * it acts on; and Linux snapshots taken before the guests had them still restore. */
static bool dev_saved_here(const struct dev_slot *s)
{
	return !s->wl && !s->pm;
}

static int dev_save_one(struct devices *d, struct dev_slot *s, struct sbuf *out)
{
	struct sbuf body;
	int ret;

	sbuf_init(&body);
	ret = s->vd ? virtio_dev_save(s->vd, &body) : uart_save(s->uart, &body);
	if (!ret && body.len > UINT32_MAX)
		ret = -E2BIG;
	if (!ret) {
		sbuf_put_blob(out, s->type->kind, (uint32_t) strlen(s->type->kind));
		sbuf_put_u32(out, s->n);
		sbuf_put_u32(out, s->space);
		sbuf_put_u64(out, s->base);
		sbuf_put_blob(out, body.data, (uint32_t) body.len);
	} else {
		pr_err("%s: cannot save its %s device: %s", d->env.name, s->type->kind,
		       strerror(-ret));
	}
	sbuf_free(&body);
	return ret;
}

int devices_save(struct devices *d, struct sbuf *out)
{
	uint32_t count = 0;

	for (unsigned i = 0; i < d->nr; i++)
		count += dev_saved_here(&d->slot[i]);
	sbuf_put_u32(out, DEVICES_STATE_VERSION);
	sbuf_put_u32(out, count);
	for (unsigned i = 0; i < d->nr; i++) {
		int ret = dev_saved_here(&d->slot[i]) ? dev_save_one(d, &d->slot[i], out) : 0;

		if (ret)
			return ret;
	}
	return out->err;
}

/* --- Loading ------------------------------------------------------------------------- */

/* One saved device's tag and body; the kind must be a short printable name. */
static bool dev_get_saved(struct sbuf_reader *in, struct dev_saved *sv)
{
	uint32_t len;
	const char *kind = sbuf_get_blob(in, &len);

	memset(sv, 0, sizeof(*sv));
	if (sbuf_error(in) ||
	    !sbuf_check(in, len && len < DEV_KIND_MAX, "device kind of %u bytes", len))
		return false;
	for (uint32_t i = 0; i < len; i++)
		if (!sbuf_check(in, kind[i] >= 'a' && kind[i] <= 'z',
				"a device kind that is no name"))
			return false;
	memcpy(sv->kind, kind, len);
	sv->n = sbuf_get_u32(in);
	sv->space = sbuf_get_u32(in);
	sv->base = sbuf_get_u64(in);
	sv->body = sbuf_get_blob(in, &sv->len);
	return !sbuf_error(in);
}

/* "a balloon", "blk 2": how messages name a device. */
static void dev_name(char *buf, size_t len, const char *kind, uint32_t n)
{
	if (n)
		snprintf(buf, len, "%.15s %u", kind, n + 1);
	else
		snprintf(buf, len, "a %.15s", kind);
}

/* This guest's device for saved @sv: same kind and instance, and at the same address. */
static bool dev_match(struct devices *d, struct sbuf_reader *in, struct dev_saved *sv)
{
	char name[32];

	dev_name(name, sizeof(name), sv->kind, sv->n);
	for (unsigned i = 0; i < d->nr && !sv->slot; i++) {
		struct dev_slot *s = &d->slot[i];

		if (dev_saved_here(s) && !strcmp(s->type->kind, sv->kind) && s->n == sv->n)
			sv->slot = s;
	}
	if (!sbuf_check(in, sv->slot, "snapshot has %s, this guest has none", name))
		return false;
	return sbuf_check(in, sv->space == sv->slot->space && sv->base == sv->slot->base,
			  "snapshot's %s is at 0x%llx, this guest's at 0x%llx", sv->kind,
			  (unsigned long long) sv->base, (unsigned long long) sv->slot->base);
}

/* Every device of this guest matched exactly once? */
static bool dev_all_matched(struct devices *d, struct sbuf_reader *in, struct dev_saved *sv,
			    uint32_t count)
{
	for (unsigned i = 0; i < d->nr; i++) {
		struct dev_slot *s = &d->slot[i];
		unsigned hits = 0;
		char name[32];

		if (!dev_saved_here(s))
			continue;
		for (uint32_t j = 0; j < count; j++)
			hits += sv[j].slot == s;
		dev_name(name, sizeof(name), s->type->kind, s->n);
		if (!sbuf_check(in, hits, "this guest has %s, the snapshot has none", name) ||
		    !sbuf_check(in, hits == 1, "snapshot has %s %u times", name, hits))
			return false;
	}
	return true;
}

static bool dev_load_one(struct sbuf_reader *in, const struct dev_saved *sv)
{
	struct dev_slot *s = sv->slot;
	struct sbuf_reader body;
	int ret;

	sbuf_reader_init(&body, sv->body, sv->len);
	ret = s->vd ? virtio_dev_load(s->vd, &body) : uart_load(s->uart, &body);
	if (ret && !sbuf_error(&body))
		sbuf_check(&body, false, "%s", strerror(-ret));
	sbuf_check(&body, !sbuf_left(&body), "%zu bytes left over", sbuf_left(&body));
	return sbuf_check(in, !sbuf_error(&body), "device %s: %s", sv->kind, body.why);
}

int devices_load(struct devices *d, struct sbuf_reader *in)
{
	struct dev_saved sv[DEV_MAX];
	uint32_t version = sbuf_get_u32(in), count;

	if (!sbuf_check(in, sbuf_error(in) || version == DEVICES_STATE_VERSION,
			"unknown devices state version %u (this build reads %u)", version,
			DEVICES_STATE_VERSION))
		return -EINVAL;
	count = sbuf_get_u32(in);
	if (sbuf_error(in) || !sbuf_check(in, count <= DEV_MAX,
					  "snapshot of %u devices (at most %u)", count, DEV_MAX))
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++)
		if (!dev_get_saved(in, &sv[i]) || !dev_match(d, in, &sv[i]))
			return -EINVAL;
	if (!dev_all_matched(d, in, sv, count))
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++)
		if (!dev_load_one(in, &sv[i]))
			return -EINVAL;
	return 0;
}
