/* answer.c - ksmctl's printing of the reply to a protocol command: list, verify, devices,
 * stop, ping, snapshot, clone, set, balloon here; stats, probe and watch by stats.c. */
#include "tools/ksmctl/answer.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "tools/ksmctl/reportdata.h"
#include "tools/ksmctl/stats.h"

/* Memory in MiB, with one decimal when it is not whole. */
static void ksmctl_format_mib(uint64_t bytes, char *buf, size_t len)
{
	if (bytes % (1u << 20))
		snprintf(buf, len, "%.1fMiB", (double) bytes / (1u << 20));
	else
		snprintf(buf, len, "%lluMiB", (unsigned long long) (bytes >> 20));
}

/* The READY column: whether a workload guest has filled its memory ("-" for others). */
static const char *ksmctl_ready(const struct proto_guest *g)
{
	if (!g->workload)
		return "-";
	return g->ready ? "yes" : "no";
}

static void ksmctl_print_list(const struct proto_reply *r)
{
	int w = 4;
	char mem[32];

	for (size_t i = 0; i < r->nguests; i++)
		w = MAX(w, (int) strlen(r->guests[i].name));
	printf("%-*s %-8s %10s %5s %5s %s\n", w, "NAME", "STATE", "MEMORY", "VCPUS", "READY",
	       "REASON");
	for (size_t i = 0; i < r->nguests; i++) {
		const struct proto_guest *g = &r->guests[i];

		ksmctl_format_mib(g->mem_bytes, mem, sizeof(mem));
		printf("%-*s %-8s %10s %5u %5s %s\n", w, g->name, g->state, mem, g->cpus,
		       ksmctl_ready(g), g->reason[0] ? g->reason : "-");
	}
}

/* One line per guest. */
static void ksmctl_print_verify(const struct proto_reply *r)
{
	for (size_t i = 0; i < r->nresults; i++) {
		const struct proto_result *v = &r->results[i];

		if (v->error[0])
			printf("%s VERIFY error: %s\n", v->name, v->error);
		else
			printf("%s VERIFY ok=%llu bad=%llu\n", v->name, (unsigned long long) v->ok,
			       (unsigned long long) v->bad);
	}
}

/* One line per device: KIND BUS BASE SIZE IRQ STATE DETAIL key=value... */
static void ksmctl_print_devices(const struct proto_reply *r)
{
	printf("%-8s %-4s %-12s %6s %4s %-12s %s\n", "KIND", "BUS", "BASE", "SIZE", "IRQ", "STATE",
	       "DETAIL COUNTERS");
	for (size_t i = 0; i < r->ndevices; i++) {
		const struct proto_device *d = &r->devices[i];
		char irq[16] = "-";

		if (d->irq >= 0)
			snprintf(irq, sizeof(irq), "%d", d->irq);
		printf("%-8s %-4s %#-12llx %6llu %4s %-12s %s", d->kind, d->bus,
		       (unsigned long long) d->base, (unsigned long long) d->size, irq, d->state,
		       d->detail[0] ? d->detail : "-");
		for (unsigned k = 0; k < d->ncounters; k++)
			printf(" %s=%llu", d->counters[k].key,
			       (unsigned long long) d->counters[k].value);
		printf("\n");
	}
}

/* Print a successful reply to request @req. */
static void ksmctl_print(const struct proto_request *req, const struct proto_reply *r)
{
	switch (req->cmd) {
	case PROTO_CMD_LIST: ksmctl_print_list(r); break;
	case PROTO_CMD_VERIFY: ksmctl_print_verify(r); break;
	case PROTO_CMD_DEVICES: ksmctl_print_devices(r); break;
	case PROTO_CMD_STOP:
		for (size_t i = 0; i < r->nstopped; i++)
			printf("%s stopping\n", r->stopped[i]);
		break;
	case PROTO_CMD_PING: printf("ksmvmm is alive\n"); break;
	case PROTO_CMD_SNAPSHOT: printf("%s saved to %s\n", req->name, req->path); break;
	case PROTO_CMD_CLONE:
		for (size_t i = 0; i < r->nclones; i++)
			printf("%s cloned: %s\n", req->name, r->clones[i]);
		break;
	default: break;
	}
}

/* The exit status of a successful reply: a verify fails on any bad page or error. */
static int ksmctl_status(const struct proto_reply *r)
{
	for (size_t i = 0; i < r->nresults; i++) {
		if (r->results[i].error[0] || r->results[i].bad)
			return KSMCTL_FAILED;
	}
	return KSMCTL_OK;
}

/* Blank out control characters so a reply cannot break lines or drive the terminal. */
static void ksmctl_clean(char *s)
{
	for (; *s; s++) {
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			*s = ' ';
	}
}

/* Clean every string of @r before it is printed. */
static void ksmctl_clean_reply(struct proto_reply *r)
{
	ksmctl_clean(r->error);
	for (size_t i = 0; i < r->nguests; i++) {
		ksmctl_clean(r->guests[i].name);
		ksmctl_clean(r->guests[i].state);
		ksmctl_clean(r->guests[i].reason);
	}
	for (size_t i = 0; i < r->nresults; i++) {
		ksmctl_clean(r->results[i].name);
		ksmctl_clean(r->results[i].error);
	}
	for (size_t i = 0; i < r->nstopped; i++)
		ksmctl_clean(r->stopped[i]);
	ksmctl_clean(r->guest);
	for (size_t i = 0; i < r->ndevices; i++) {
		ksmctl_clean(r->devices[i].kind);
		ksmctl_clean(r->devices[i].bus);
		ksmctl_clean(r->devices[i].state);
		ksmctl_clean(r->devices[i].detail);
	}
}

/* Show reply @line; returns the exit status. */
int ksmctl_answer(const struct proto_request *req, bool json, const char *line)
{
	struct proto_reply r;
	char err[PROTO_TEXT_MAX];
	int ret;

	if (req->cmd == PROTO_CMD_STATS)
		return ksmctl_stats_answer(line, json) ? KSMCTL_FAILED : KSMCTL_OK;
	if (req->cmd == PROTO_CMD_PROBE)
		return ksmctl_probe_answer(line, json) ? KSMCTL_FAILED : KSMCTL_OK;
	if (req->cmd == PROTO_CMD_WATCH)
		return ksmctl_watch_answer(line, json) ? KSMCTL_FAILED : KSMCTL_OK;
	if (json)
		fputs(line, stdout);
	if (proto_parse_reply(line, strlen(line), &r, err, sizeof(err))) {
		fprintf(stderr, "ksmctl: bad reply from ksmvmm: %s\n", err);
		return KSMCTL_USAGE;
	}
	ksmctl_clean_reply(&r);
	if (!r.ok) {
		fprintf(stderr, "ksmctl: %s\n", r.error);
		ret = KSMCTL_FAILED;
	} else if (req->cmd == PROTO_CMD_SET && !json) {
		printf("%s = %llu\n", req->key, (unsigned long long) req->value);
		ret = KSMCTL_OK;
	} else if (req->cmd == PROTO_CMD_BALLOON && !json) {
		printf("%s balloon target %llu bytes\n", req->name,
		       (unsigned long long) req->bytes);
		ret = KSMCTL_OK;
	} else {
		if (!json)
			ksmctl_print(req, &r);
		ret = ksmctl_status(&r);
	}
	proto_reply_clear(&r);
	return ret;
}
