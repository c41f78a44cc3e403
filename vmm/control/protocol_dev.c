/* protocol_dev.c - build and parse the "devices" reply (see protocol.h).
 *
 * Counter names become parts of metric names (ksmvmm_device_<key>), so both sides
 * insist on [a-z0-9_]: the builder leaves other names out, the parser refuses them.
 */
#include "vmm/control/protocol_dev.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

#include "lib/errbuf.h"
#include "vmm/control/protocol_json.h"

bool proto_counter_key_ok(const char *key)
{
	size_t len = strlen(key);

	return len && len < PROTO_DEV_KEY_MAX &&
	       strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

/* ---- Building ---- */

static void proto_add_counters(JsonBuilder *b, const struct proto_device *d)
{
	json_builder_set_member_name(b, "counters");
	json_builder_begin_object(b);
	for (unsigned k = 0; k < d->ncounters && k < PROTO_DEV_COUNTERS; k++) {
		if (memchr(d->counters[k].key, '\0', PROTO_DEV_KEY_MAX) &&
		    proto_counter_key_ok(d->counters[k].key))
			proto_add_uint(b, d->counters[k].key, d->counters[k].value);
	}
	json_builder_end_object(b);
}

static void proto_add_device(JsonBuilder *b, const struct proto_device *d)
{
	json_builder_begin_object(b);
	proto_add_string(b, "kind", d->kind);
	proto_add_string(b, "bus", d->bus);
	proto_add_uint(b, "base", d->base);
	proto_add_uint(b, "size", d->size);
	proto_add_int(b, "irq", d->irq < 0 ? -1 : d->irq);
	proto_add_string(b, "state", d->state);
	proto_add_string(b, "detail", d->detail);
	proto_add_counters(b, d);
	json_builder_end_object(b);
}

char *proto_reply_devices(const char *guest, const struct proto_device *d, size_t n)
{
	JsonBuilder *b = proto_begin(true);

	proto_add_string(b, "guest", guest);
	json_builder_set_member_name(b, "devices");
	json_builder_begin_array(b);
	for (size_t i = 0; i < n; i++)
		proto_add_device(b, &d[i]);
	json_builder_end_array(b);
	return proto_finish(b);
}

/* ---- Parsing ---- */

/* "irq": an integer from -1 (none) to PROTO_DEV_IRQ_MAX. */
static int proto_get_irq(JsonNode *n, int *out)
{
	gint64 v;

	if (!proto_holds(n, G_TYPE_INT64))
		return -EINVAL;
	v = json_node_get_int(n);
	if (v < -1 || v > PROTO_DEV_IRQ_MAX)
		return -EINVAL;
	*out = (int) v;
	return 0;
}

/* "counters": an object of at most PROTO_DEV_COUNTERS valid names with integer values. */
static int proto_get_counters(JsonNode *n, struct proto_device *d)
{
	JsonObject *o;
	GList *members;
	int ret = 0;

	if (!n || !JSON_NODE_HOLDS_OBJECT(n))
		return -EINVAL;
	o = json_node_get_object(n);
	if (json_object_get_size(o) > PROTO_DEV_COUNTERS)
		return -EINVAL;
	members = json_object_get_members(o);
	for (GList *m = members; m && !ret; m = m->next) {
		struct proto_counter *c = &d->counters[d->ncounters];

		if (!proto_counter_key_ok(m->data) ||
		    proto_get_uint(json_object_get_member(o, m->data), INT64_MAX, &c->value))
			ret = -EINVAL;
		else
			g_strlcpy(c->key, m->data, sizeof(c->key));
		d->ncounters += !ret;
	}
	g_list_free(members);
	return ret;
}

/* One "devices" entry; every known member is required, others are skipped. */
static int proto_parse_device(JsonNode *n, void *entry)
{
	struct proto_device *d = entry;
	JsonObject *o;

	if (!n || !JSON_NODE_HOLDS_OBJECT(n))
		return -EINVAL;
	o = json_node_get_object(n);
	if (proto_copy(json_object_get_member(o, "kind"), d->kind, sizeof(d->kind), true) ||
	    proto_copy(json_object_get_member(o, "bus"), d->bus, sizeof(d->bus), true) ||
	    proto_get_uint(json_object_get_member(o, "base"), INT64_MAX, &d->base) ||
	    proto_get_uint(json_object_get_member(o, "size"), INT64_MAX, &d->size) ||
	    proto_get_irq(json_object_get_member(o, "irq"), &d->irq) ||
	    proto_copy(json_object_get_member(o, "state"), d->state, sizeof(d->state), true) ||
	    proto_copy(json_object_get_member(o, "detail"), d->detail, sizeof(d->detail), true) ||
	    !d->kind[0])
		return -EINVAL;
	return proto_get_counters(json_object_get_member(o, "counters"), d);
}

int proto_dev_parse_reply(JsonObject *o, struct proto_reply *r, char *err, size_t errlen)
{
	int ret;

	if (!json_object_has_member(o, "devices"))
		return 0;
	if (proto_copy(json_object_get_member(o, "guest"), r->guest, sizeof(r->guest), false) ||
	    !r->guest[0])
		return errbuf_set(err, errlen, -EINVAL, "a \"devices\" reply names no \"guest\"");
	r->devices = proto_parse_array(o, "devices", sizeof(*r->devices), PROTO_DEV_MAX,
				       &r->ndevices, proto_parse_device, &ret);
	if (ret)
		return errbuf_set(err, errlen, -EINVAL, "malformed \"devices\" in reply");
	return 0;
}
