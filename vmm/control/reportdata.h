/* reportdata.h - the model of "report" and "history" replies (docs/reports.md) and their
 * parser. ksmctl's report, top, metrics and picture views and the VMM's /metrics endpoint
 * all read these structures. Strings from the reply are cleaned of control characters
 * while parsing. */
#ifndef VMM_CONTROL_REPORTDATA_H
#define VMM_CONTROL_REPORTDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One device of a guest, as the report lists it (counter names are [a-z0-9_]). */
struct rd_device {
	char kind[16];
	char state[16];
	unsigned ncounters;
	struct {
		char key[24];
		uint64_t value;
	} counters[16];
};

/* Figures of one guest, one group, or the fleet (bytes unless said otherwise). */
struct rd_figures {
	char name[64];
	char uuid[37]; /* guests: 8-4-4-4-12 lower-case hex; "" for groups and totals */
	char group[32];
	char state[16];
	uint64_t guests; /* groups and totals: live guests counted */
	uint64_t mem_bytes, cost_bytes, private_pages, shared_pages, shared_cost_bytes;
	uint64_t zero_pages, empty_pages, saved_bytes, merges, cow_breaks;
	uint64_t pool_pages; /* groups and totals */
	double pool_share, cow_per_s;
	/* guests only: */
	uint64_t reported_pages, balloon_bytes; /* given back by the guest; its balloon now */
	unsigned dev_count, dev_broken;		/* devices; those needing a reset or failed */
	size_t ndevices;
	struct rd_device *devices; /* calloc'd, freed by rd_report_free */
};

struct rd_ended {
	char name[64];
	char uuid[37];
	char state[16];
	char reason[160];
};

struct rd_host {
	bool known; /* false: the VMM could not read smaps_rollup */
	uint64_t rss, pss, pss_anon, pss_shmem, pss_file, accounted, tolerance;
	int64_t difference, pool_difference;
	bool agrees;
};

struct rd_engine {
	uint64_t passes, pages_hashed, merges, zero_released, cow_breaks, pool_pages;
	uint64_t mappings_used, mappings_limit, stall_p99_us, stall_max_us;
	double cpu_seconds;
	char budget_state[32];
};

/* A square matrix with a name per row. */
struct rd_matrix {
	size_t n;
	char (*names)[64];
	uint64_t *cells; /* n x n, row-major */
};

struct rd_report {
	unsigned version;
	double time;
	uint64_t page_size;
	unsigned cow_window_s;
	size_t nguests;
	struct rd_figures *guests; /* live guests */
	size_t nended;
	struct rd_ended *ended;
	struct rd_figures totals;
	uint64_t ended_guests, ended_cost_bytes;
	size_t ngroups;
	struct rd_figures *groups; /* name = the group */
	struct rd_matrix matrix;   /* guests */
	struct rd_matrix group_matrix;
	struct rd_host host;
	struct rd_engine engine;
};

/* One history sample (see vmm/control/history.h). */
struct rd_sample {
	double time, uptime, cpu_seconds;
	uint64_t bytes_saved, cost_bytes, merges, cow_breaks, zero_pages, pool_pages;
};

struct rd_history {
	unsigned period_s;
	size_t n;
	struct rd_sample *s;   /* oldest first */
	char guest[64];	       /* "" unless one guest's samples were asked for: */
	uint64_t *guest_saved; /* n: its bytes saved */
	uint64_t *guest_cow;   /* n: its copy-on-write breaks so far */
};

/* Parse report reply @line into @r (free with rd_report_free). Returns 0; -EPROTO for
 * an error reply (its message in @err); -EINVAL if the reply is unreadable. */
int rd_report_parse(const char *line, struct rd_report *r, char *err, size_t errlen);
void rd_report_free(struct rd_report *r);

/* The same for a history reply. */
int rd_history_parse(const char *line, struct rd_history *h, char *err, size_t errlen);
void rd_history_free(struct rd_history *h);

#endif
