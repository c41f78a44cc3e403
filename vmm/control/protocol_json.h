/* protocol_json.h - writing and reading JSON lines with json-glib (protocol_json.c): for
 * protocol.c, protocol_dev.c and the repliers of the control commands. */
#ifndef VMM_CONTROL_PROTOCOL_JSON_H
#define VMM_CONTROL_PROTOCOL_JSON_H

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Start a reply object with "ok": @ok; add members, then proto_finish(). */
JsonBuilder *proto_begin(bool ok);

/* Close the object of @b (freed) and render it as one line ending in '\n' (g_free it). */
char *proto_finish(JsonBuilder *b);

/* Render the complete document of @b (freed) as one line ending in '\n' (g_free it). */
char *proto_render(JsonBuilder *b);

/* Add member "key" (a NULL key adds an array element, for strings) to the open object.
 * Strings with invalid UTF-8 are repaired; unsigned values above INT64_MAX clamped. */
void proto_add_string(JsonBuilder *b, const char *key, const char *s);
void proto_add_uint(JsonBuilder *b, const char *key, uint64_t v);
void proto_add_int(JsonBuilder *b, const char *key, int64_t v);
void proto_add_double(JsonBuilder *b, const char *key, double v);
void proto_add_bool(JsonBuilder *b, const char *key, bool v);

#define PROTO_MAX_ENTRIES 4096 /* longest array a client accepts in a reply */

/* Whether @n is a scalar of GType @type (json-glib holds integers as gint64). */
bool proto_holds(JsonNode *n, GType type);

/* Copy string node @n into @buf of @size bytes. A longer string is -EINVAL, or if @cut
 * is set, cut at a UTF-8 character boundary. -EINVAL if @n is not a string. */
int proto_copy(JsonNode *n, char *buf, size_t size, bool cut);

/* Read a non-negative integer node no larger than @max: 0 or -EINVAL. */
int proto_get_uint(JsonNode *n, uint64_t max, uint64_t *out);

/* Parse the optional array member @key of @o into a new zeroed array of entries of
 * @size bytes, running @parse on each element; at most @max elements. Returns the
 * array (g_free it; also on error) or NULL if the member is absent; sets *count, and
 * *ret to 0 or -EINVAL. */
void *proto_parse_array(JsonObject *o, const char *key, size_t size, size_t max, size_t *count,
			int (*parse)(JsonNode *n, void *entry), int *ret);

#endif
