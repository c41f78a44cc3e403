/* report.h - the "report" and "history" replies: who costs what, who shares with
 * whom, and how the fleet's totals compare with the host's accounting (docs/reports.md). */
#ifndef VMM_CONTROL_REPORT_H
#define VMM_CONTROL_REPORT_H

#include <stdbool.h>
#include <stdint.h>

struct fleet;
struct history;

#define REPORT_VERSION 1       /* "version" of the report schema (docs/report-schema.json) */
#define REPORT_COW_WINDOW_S 10 /* copy-on-write rates are over this many seconds */

/* The host's accounting of this process, from /proc/self/smaps_rollup (bytes). */
struct control_report_host {
	uint64_t rss;
	uint64_t pss;
	uint64_t pss_anon;
	uint64_t pss_shmem;
	uint64_t pss_file;
};

/* Read /proc/self/smaps_rollup into @out. Returns 0 or -errno (-ENODATA if a field is
 * missing). Any thread; it walks the process's page tables, so not the main loop. */
int control_report_read_host(struct control_report_host *out);

/* How far the host's Pss may be from the fleet's accounted cost and still agree: the
 * VMM's own memory (code, heap, engine tables) is not any guest's. @guest_ram is the RAM
 * of every guest in bytes. See docs/reports.md. */
uint64_t control_report_tolerance(uint64_t guest_ram);

/* Whether @pss agrees with @accounted within @tolerance. */
bool control_report_agrees(uint64_t pss, uint64_t accounted, uint64_t tolerance);

/* The "report" reply line (g_free it). Takes the engine lock (the sharing matrix) and
 * reads smaps_rollup: call from a worker thread, never from the main loop. @h may be
 * NULL (no copy-on-write rates then). */
char *control_report_reply(struct fleet *f, struct history *h);

/* The "history" reply line (g_free it): the fleet's samples, and guest @name's too
 * when @name is not "". Any thread. */
char *control_report_history_reply(struct fleet *f, struct history *h, const char *name);

#endif
