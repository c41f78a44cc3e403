/* answer.h - ksmctl's printing of the reply to a protocol command (answer.c). */
#ifndef KSMCTL_ANSWER_H
#define KSMCTL_ANSWER_H

#include <stdbool.h>

#include "vmm/control/protocol.h"

/* Show reply @line to request @req: as it came with @json, else as lines; an error reply
 * is printed to stderr. Control characters in the reply are blanked before it is
 * printed. Returns the exit status: KSMCTL_OK, KSMCTL_FAILED (an error reply, or a verify
 * with an error or bad pages) or KSMCTL_USAGE (a reply that cannot be read). */
int ksmctl_answer(const struct proto_request *req, bool json, const char *line);

#endif
