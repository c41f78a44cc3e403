/* stats.h - ksmctl's table view of a "stats" reply. */
#ifndef KSMCTL_STATS_H
#define KSMCTL_STATS_H

#include <stdbool.h>

/* Show the stats reply @line: as it came with @json, else as tables; an error reply is
 * printed to stderr. Returns 0, or -EINVAL for an error or unreadable reply. */
int ksmctl_stats_answer(const char *line, bool json);

#endif
