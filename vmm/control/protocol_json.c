/* protocol_json.c - write JSON lines with json-glib: the members every reply is made of.
 * Shared by protocol.c's builders and the repliers of the control commands. */
#include "vmm/control/protocol_json.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

void proto_add_string(JsonBuilder *b, const char *key, const char *s)
{
	char *valid = g_utf8_make_valid(s, -1);

	if (key)
		json_builder_set_member_name(b, key);
	json_builder_add_string_value(b, valid);
	g_free(valid);
}

void proto_add_uint(JsonBuilder *b, const char *key, uint64_t v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_int_value(b, v > INT64_MAX ? INT64_MAX : (gint64) v);
}

void proto_add_int(JsonBuilder *b, const char *key, int64_t v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_int_value(b, v);
}

void proto_add_double(JsonBuilder *b, const char *key, double v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_double_value(b, v);
}

void proto_add_bool(JsonBuilder *b, const char *key, bool v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_boolean_value(b, v);
}

JsonBuilder *proto_begin(bool ok)
{
	JsonBuilder *b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "ok");
	json_builder_add_boolean_value(b, ok);
	return b;
}

char *proto_finish(JsonBuilder *b)
{
	json_builder_end_object(b);
	return proto_render(b);
}

char *proto_render(JsonBuilder *b)
{
	JsonGenerator *gen = json_generator_new();
	JsonNode *root;
	char *text, *line;

	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	line = g_strconcat(text, "\n", NULL);
	g_free(text);
	json_node_unref(root);
	g_object_unref(gen);
	g_object_unref(b);
	return line;
}

/* ---- Reading ---- */

bool proto_holds(JsonNode *n, GType type)
{
	return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == type;
}

int proto_copy(JsonNode *n, char *buf, size_t size, bool cut)
{
	const char *s;
	size_t len;

	if (!proto_holds(n, G_TYPE_STRING))
		return -EINVAL;
	s = json_node_get_string(n);
	len = strlen(s);
	if (len >= size && !cut)
		return -EINVAL;
	for (len = MIN(len, size - 1); len && (s[len] & 0xc0) == 0x80;)
		len--;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

int proto_get_uint(JsonNode *n, uint64_t max, uint64_t *out)
{
	gint64 v;

	if (!proto_holds(n, G_TYPE_INT64))
		return -EINVAL;
	v = json_node_get_int(n);
	if (v < 0 || (uint64_t) v > max)
		return -EINVAL;
	*out = (uint64_t) v;
	return 0;
}

void *proto_parse_array(JsonObject *o, const char *key, size_t size, size_t max, size_t *count,
			int (*parse)(JsonNode *n, void *entry), int *ret)
{
	JsonNode *n = json_object_get_member(o, key);
	JsonArray *a;
	guint len;
	char *v;

	*ret = n && !JSON_NODE_HOLDS_ARRAY(n) ? -EINVAL : 0;
	if (!n || *ret)
		return NULL;
	a = json_node_get_array(n);
	len = json_array_get_length(a);
	if (len > max) {
		*ret = -EINVAL;
		return NULL;
	}
	v = g_malloc0_n(len ? len : 1, size);
	*count = len;
	for (guint i = 0; i < len && !*ret; i++)
		*ret = parse(json_array_get_element(a, i), v + i * size);
	return v;
}
