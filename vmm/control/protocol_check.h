/* protocol_check.h - the checks of a control protocol line before json-glib parses it
 * (protocol_check.c): for protocol.c, which parses requests and replies. */
#ifndef VMM_CONTROL_PROTOCOL_CHECK_H
#define VMM_CONTROL_PROTOCOL_CHECK_H

#include <stddef.h>

#include <json-glib/json-glib.h>

/* Length of @line without one trailing "\n" or "\r\n". */
size_t proto_trim(const char *line, size_t len);

/* The checks every line gets before json-glib sees it: at most @max bytes, no NUL byte,
 * valid UTF-8, plain JSON (strings without raw control characters, unknown escapes or
 * "\u0000"), nesting at most PROTO_MAX_DEPTH deep. Returns 0, or -EINVAL with a
 * one-line reason in @err. */
int proto_check_text(const char *s, size_t len, size_t max, char *err, size_t errlen);

/* Parse text that passed proto_check_text into a JSON object node (json_node_unref it),
 * or NULL with a reason in @err (not JSON, not an object, or empty). */
JsonNode *proto_load_object(const char *s, size_t len, char *err, size_t errlen);

#endif
