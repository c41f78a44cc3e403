/* reportdata.h - how ksmctl gets "report" and "history" replies; the model they are
 * parsed into is vmm/control/reportdata.h, shared with the VMM's /metrics endpoint. */
#ifndef KSMCTL_REPORTDATA_H
#define KSMCTL_REPORTDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/control/reportdata.h"

/* Exit statuses shared by every ksmctl command. */
enum {
	KSMCTL_OK = 0,	   /* the command succeeded */
	KSMCTL_FAILED = 1, /* the VMM answered with an error, or verify found bad pages */
	KSMCTL_USAGE = 2,  /* bad command line, or no usable answer from the VMM */
};

/* Send @cmd (with guest @name, "" for none) to the VMM at socket @path and return the
 * reply line (g_free it). On failure prints a one-line reason to stderr, sets *status
 * to KSMCTL_USAGE and returns NULL. */
char *rd_call(const char *path, int cmd, const char *name, int timeout_ms, int *status);

/* A reply @line that failed to parse with @ret (-EPROTO: an error reply) and reason
 * @err: print why, free @line, and return ksmctl's exit status for it. */
int rd_parse_failed(int ret, const char *err, char *line);

/* Fetch and parse a report (and, if @h is not NULL, the history). Prints a reason to
 * stderr on failure. Returns KSMCTL_OK, KSMCTL_FAILED (error reply) or KSMCTL_USAGE. */
int rd_fetch(const char *path, struct rd_report *r, struct rd_history *h);

/* Fetch and parse the history, with guest @name's samples unless @name is "". */
int rd_fetch_history(const char *path, const char *name, struct rd_history *h);

/* Bytes in MiB. */
static inline double rd_mib(uint64_t bytes)
{
	return (double) bytes / (1024.0 * 1024.0);
}

/* What a guest would cost without merging: its cost plus what merging saves it. */
static inline uint64_t rd_unmerged(const struct rd_figures *f)
{
	return f->cost_bytes + f->saved_bytes;
}

/* @part as a percentage of @whole (0 when @whole is 0). */
static inline double rd_pct(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0.0;
}

#endif
