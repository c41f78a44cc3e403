/* history.c - `ksmctl history`: the VMM's samples of the last hour, as CSV, JSON or a table. */
#include <errno.h>
#include <stdio.h>

#include <glib.h>

#include "lib/page.h"
#include "tools/ksmctl/views.h"
#include "vmm/control/protocol.h"

#define HISTORY_TIMEOUT_MS 30000
#define HISTORY_ROWS 20 /* rows of the table view, spread over the samples */

static void print_csv(const struct rd_history *h)
{
	printf("time,uptime_s,bytes_saved,cost_bytes,merges,cow_breaks,zero_pages,pool_pages,"
	       "cpu_seconds%s\n",
	       h->guest[0] ? ",guest,guest_bytes_saved,guest_cow_breaks" : "");
	for (size_t i = 0; i < h->n; i++) {
		const struct rd_sample *s = &h->s[i];

		printf("%.3f,%.3f,%llu,%llu,%llu,%llu,%llu,%llu,%.6f", s->time, s->uptime,
		       (unsigned long long) s->bytes_saved, (unsigned long long) s->cost_bytes,
		       (unsigned long long) s->merges, (unsigned long long) s->cow_breaks,
		       (unsigned long long) s->zero_pages, (unsigned long long) s->pool_pages,
		       s->cpu_seconds);
		if (h->guest[0])
			printf(",%s,%llu,%llu", h->guest, (unsigned long long) h->guest_saved[i],
			       (unsigned long long) h->guest_cow[i]);
		printf("\n");
	}
}

static void print_table_row(const struct rd_history *h, size_t i)
{
	const struct rd_sample *s = &h->s[i];

	printf("%8.0f %9.1f %9.1f %9llu %9llu %9.1f %8.2f", s->uptime, rd_mib(s->bytes_saved),
	       rd_mib(s->cost_bytes), (unsigned long long) s->merges,
	       (unsigned long long) s->cow_breaks, rd_mib(s->pool_pages * PAGE_SIZE),
	       s->cpu_seconds);
	if (h->guest[0])
		printf(" %9.1f %9llu", rd_mib(h->guest_saved[i]),
		       (unsigned long long) h->guest_cow[i]);
	printf("\n");
}

static void print_table(const struct rd_history *h)
{
	size_t step = h->n > HISTORY_ROWS ? (h->n + HISTORY_ROWS - 1) / HISTORY_ROWS : 1;

	printf("%zu samples, one every %u s (showing at most %d)\n", h->n, h->period_s,
	       HISTORY_ROWS + 1);
	printf("%8s %9s %9s %9s %9s %9s %8s", "UPTIME_s", "SAVED_MiB", "COST_MiB", "MERGES", "COW",
	       "POOL_MiB", "CPU_s");
	if (h->guest[0])
		printf(" %9.9s %9s", h->guest, "COW");
	printf("\n");
	for (size_t i = 0; i < h->n; i += step)
		print_table_row(h, i);
	if (h->n && (h->n - 1) % step)
		print_table_row(h, h->n - 1);
}

int view_history(const struct view_args *a)
{
	struct rd_history h;
	char err[PROTO_TEXT_MAX];
	int status, ret;
	char *line = rd_call(a->control, PROTO_CMD_HISTORY, a->name, HISTORY_TIMEOUT_MS, &status);

	if (!line)
		return status;
	ret = rd_history_parse(line, &h, err, sizeof(err));
	if (ret)
		return rd_parse_failed(ret, err, line);
	if (a->json)
		fputs(line, stdout);
	else if (a->csv)
		print_csv(&h);
	else
		print_table(&h);
	g_free(line);
	rd_history_free(&h);
	return KSMCTL_OK;
}
