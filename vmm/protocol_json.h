/* protocol_json.h - building reply lines with json-glib, for repliers beyond protocol.c. */
#ifndef VMM_PROTOCOL_JSON_H
#define VMM_PROTOCOL_JSON_H

#include <json-glib/json-glib.h>
#include <stdbool.h>

/* Start a reply object with "ok": @ok; add members, then proto_finish(). */
JsonBuilder *proto_begin(bool ok);

/* Close the object of @b (freed) and render it as one line ending in '\n' (g_free it). */
char *proto_finish(JsonBuilder *b);

#endif
