/* protocol_json.h - writing JSON lines with json-glib (protocol_json.c): for protocol.c and
 * the repliers of the control commands. */
#ifndef VMM_CONTROL_PROTOCOL_JSON_H
#define VMM_CONTROL_PROTOCOL_JSON_H

#include <json-glib/json-glib.h>
#include <stdbool.h>
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

#endif
