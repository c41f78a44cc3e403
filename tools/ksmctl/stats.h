/* stats.h - ksmctl's table view of a "stats" reply. */
#ifndef KSMCTL_STATS_H
#define KSMCTL_STATS_H

#include <stdbool.h>

/* Show the stats reply @line: as it came with @json, else as tables; an error reply is
 * printed to stderr. Returns 0, or -EINVAL for an error or unreadable reply. */
int ksmctl_stats_answer(const char *line, bool json);

/* Show the probe reply @line: one "NAME PROBE samples=N p50=Xus p99=Xus max=Xus" line per
 * guest (or its error), or the JSON as it came. Returns 0, or -EINVAL for an error reply,
 * an unreadable one, or a guest that could not probe. */
int ksmctl_probe_answer(const char *line, bool json);

/* Show the watch reply @line: "NAME WATCH ..." (or the raw line with @json). Returns 0, or
 * -EINVAL for an error reply or an unreadable one. */
int ksmctl_watch_answer(const char *line, bool json);

#endif
