/* protocol_json.c - write JSON lines with json-glib: the members every reply is made of.
 * Shared by protocol.c's builders and the repliers of the control commands. */
#include "vmm/control/protocol_json.h"

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
