/* protocol_dev.h - the "devices" reply of the control protocol (protocol_dev.c): its
 * builder is declared in protocol.h; this is the hook protocol.c parses it with. */
#ifndef VMM_CONTROL_PROTOCOL_DEV_H
#define VMM_CONTROL_PROTOCOL_DEV_H

#include <stddef.h>

#include <json-glib/json-glib.h>

#include "vmm/control/protocol.h"

/* Fill r->guest and r->devices from reply object @o if it has "devices" (then "guest" is
 * required). Returns 0, or -EINVAL with a reason in @err (r->devices may be set: the
 * caller clears @r). */
int proto_dev_parse_reply(JsonObject *o, struct proto_reply *r, char *err, size_t errlen);

#endif
