/* devices.c - the "devices" and "balloon" replies: a guest's device table as the fleet
 * reports it, and its balloon target. */
#include "vmm/control/devices.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

#include "lib/page.h"
#include "vmm/control/protocol.h"
#include "vmm/fleet.h"

/* The protocol's device entry is the fleet's, field for field. */
G_STATIC_ASSERT(sizeof(((struct proto_device *) 0)->kind) ==
		sizeof(((struct fleet_device *) 0)->kind));
G_STATIC_ASSERT(PROTO_DEV_COUNTERS >= FLEET_DEV_COUNTERS);
G_STATIC_ASSERT(PROTO_DEV_MAX >= FLEET_DEV_MAX);

static void devices_copy(struct proto_device *p, const struct fleet_device *d)
{
	memset(p, 0, sizeof(*p));
	g_strlcpy(p->kind, d->kind, sizeof(p->kind));
	g_strlcpy(p->bus, d->bus, sizeof(p->bus));
	p->base = d->base;
	p->size = d->size;
	p->irq = d->irq;
	g_strlcpy(p->state, d->state, sizeof(p->state));
	g_strlcpy(p->detail, d->detail, sizeof(p->detail));
	for (unsigned k = 0; k < d->nr_counters && k < FLEET_DEV_COUNTERS; k++) {
		g_strlcpy(p->counters[k].key, d->counters[k].key, sizeof(p->counters[k].key));
		p->counters[k].value = d->counters[k].value;
		p->ncounters++;
	}
}

char *control_devices_reply(struct fleet *f, const char *name)
{
	struct fleet_device *d = g_new0(struct fleet_device, FLEET_DEV_MAX);
	struct proto_device *p = NULL;
	int i = fleet_find(f, name), n = i < 0 ? i : fleet_devices(f, (size_t) i, d, FLEET_DEV_MAX);
	char *line;

	if (n < 0) {
		g_free(d);
		return proto_reply_error("no guest named \"%s\"", name);
	}
	n = MIN(n, FLEET_DEV_MAX); /* filled at most @max, whatever it counts */
	p = g_new0(struct proto_device, n ? n : 1);
	for (int k = 0; k < n; k++)
		devices_copy(&p[k], &d[k]);
	line = proto_reply_devices(name, p, (size_t) n);
	g_free(p);
	g_free(d);
	return line;
}

char *control_devices_balloon_reply(struct fleet *f, const char *name, uint64_t bytes)
{
	int i = fleet_find(f, name);
	int ret = i < 0 ? i : fleet_balloon(f, (size_t) i, bytes);

	switch (ret) {
	case 0: return proto_reply_ok();
	case -ENOENT: return proto_reply_error("no guest named \"%s\"", name);
	case -ENODEV: return proto_reply_error("%s has no balloon", name);
	case -ERANGE:
		return proto_reply_error("%llu bytes is more than %s's RAM",
					 (unsigned long long) bytes, name);
	case -ESRCH: return proto_reply_error("%s is not running", name);
	default: return proto_reply_error("%s: %s", name, g_strerror(-ret));
	}
}

/* Whether a device in @state needs its driver to start again or has given up. */
static bool devices_broken(const char *state)
{
	return !strcmp(state, "needs-reset") || !strcmp(state, "failed");
}

void control_devices_summarise(const struct fleet_device *d, size_t n,
			       struct control_devices_summary *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		out->count++;
		out->broken += devices_broken(d[i].state);
		for (unsigned k = 0; !strcmp(d[i].kind, "balloon") && k < d[i].nr_counters; k++) {
			if (!strcmp(d[i].counters[k].key, "actual_pages"))
				out->balloon_bytes = d[i].counters[k].value * PAGE_SIZE;
		}
	}
}
