/* top.c - `ksmctl top`: a live view of the fleet and the engine, refreshed in place.
 *
 * On a terminal: the alternate screen, no echo, one key at a time; q (or Ctrl-C, or
 * SIGTERM) quits and the terminal is restored exactly as it was. Otherwise (a pipe or
 * a file): each refresh is printed below the previous one, without escape sequences.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "lib/page.h"
#include "tools/ksmctl/views.h"

static volatile sig_atomic_t top_quit; /* set by SIGINT / SIGTERM */

struct top_term {
	bool tty; /* stdout is a terminal: refresh in place */
	bool raw; /* stdin's settings were changed: restore @saved */
	struct termios saved;
	struct sigaction old_int, old_term;
};

static void top_on_signal(int sig)
{
	(void) sig;
	top_quit = 1;
}

/* Catch SIGINT and SIGTERM (no SA_RESTART: poll returns at once). */
static void top_signals(struct top_term *t)
{
	struct sigaction sa = {.sa_handler = top_on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &t->old_int);
	sigaction(SIGTERM, &sa, &t->old_term);
}

static void top_enter(struct top_term *t)
{
	struct termios raw;

	t->tty = isatty(STDOUT_FILENO);
	top_signals(t);
	if (!t->tty)
		return;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		raw = t->saved;
		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO); /* ISIG stays: Ctrl-C is SIGINT */
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		t->raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	/* One write per frame: the screen is cleared and redrawn without flicker. */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout); /* alternate screen, no cursor */
	fflush(stdout);
}

static void top_leave(struct top_term *t)
{
	if (t->tty) {
		fputs("\033[?25h\033[?1049l", stdout);
		fflush(stdout);
	}
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	sigaction(SIGINT, &t->old_int, NULL);
	sigaction(SIGTERM, &t->old_term, NULL);
}

/* Wait up to @seconds for a key; true if the user asked to quit. */
static bool top_wait(const struct top_term *t, double seconds)
{
	gint64 deadline = g_get_monotonic_time() + (gint64) (seconds * 1e6);
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
	char c;

	while (!top_quit) {
		gint64 left = deadline - g_get_monotonic_time();

		if (left <= 0)
			return false;
		if (!t->raw) {
			poll(NULL, 0, (int) (left / 1000 + 1));
			continue;
		}
		if (poll(&p, 1, (int) (left / 1000 + 1)) > 0 && read(STDIN_FILENO, &c, 1) == 1 &&
		    (c == 'q' || c == 'Q'))
			return true;
	}
	return true;
}

/* Engine CPU use between two frames, in percent of one core. */
struct top_rate {
	gint64 at_us;
	double cpu;
};

static double top_cpu_pct(struct top_rate *prev, const struct rd_report *r)
{
	gint64 now = g_get_monotonic_time();
	double pct = 0;

	if (prev->at_us && now > prev->at_us)
		pct = 100.0 * (r->engine.cpu_seconds - prev->cpu) /
		      ((double) (now - prev->at_us) / 1e6);
	prev->at_us = now;
	prev->cpu = r->engine.cpu_seconds;
	return pct < 0 ? 0 : pct;
}

static void top_header(const struct view_args *a, const struct rd_report *r, double cpu_pct)
{
	const struct rd_figures *t = &r->totals;
	time_t now = time(NULL);
	char when[32];

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	printf("ksmvmm top - %s - %s - every %.1f s%s\n", a->control, when, a->interval,
	       isatty(STDOUT_FILENO) ? " - q to quit" : "");
	printf("fleet: %zu running, %llu ended | RAM %.1f MiB | cost %.1f MiB | saved %.1f MiB "
	       "(%.1f%%) | pool %.1f MiB | COW %.1f/s\n",
	       r->nguests, (unsigned long long) r->ended_guests, rd_mib(t->mem_bytes),
	       rd_mib(t->cost_bytes), rd_mib(t->saved_bytes),
	       rd_pct((double) t->saved_bytes, (double) rd_unmerged(t)),
	       rd_mib(t->pool_pages * PAGE_SIZE), t->cow_per_s);
	if (r->host.known)
		printf("host:  Pss %.1f MiB, Rss %.1f MiB | VMM's own memory %+.1f MiB (%s)\n",
		       rd_mib(r->host.pss), rd_mib(r->host.rss),
		       (double) r->host.difference / (1 << 20),
		       r->host.agrees ? "agrees" : "DOES NOT AGREE");
	printf("engine: %llu passes | %llu merges | %llu COW breaks | CPU %.2f s (%.1f%%) | "
	       "mappings %llu/%llu %s | stall p99 %llu us\n\n",
	       (unsigned long long) r->engine.passes, (unsigned long long) r->engine.merges,
	       (unsigned long long) r->engine.cow_breaks, r->engine.cpu_seconds, cpu_pct,
	       (unsigned long long) r->engine.mappings_used,
	       (unsigned long long) r->engine.mappings_limit, r->engine.budget_state,
	       (unsigned long long) r->engine.stall_p99_us);
}

/* Draw one frame; returns a ksmctl status (not OK: stop). */
static int top_frame(const struct view_args *a, const struct top_term *t, struct top_rate *rate)
{
	struct rd_report r;
	int ret = rd_fetch(a->control, &r, NULL);

	if (ret)
		return ret;
	if (t->tty)
		fputs("\033[H\033[2J", stdout);
	else
		printf("----\n");
	top_header(a, &r, top_cpu_pct(rate, &r));
	view_print_guests(&r);
	fflush(stdout);
	rd_report_free(&r);
	return KSMCTL_OK;
}

int view_top(const struct view_args *a)
{
	struct top_term t = {0};
	struct top_rate rate = {0};
	int ret = KSMCTL_OK;

	struct rd_report first;

	/* Check that the VMM answers before the terminal is taken over. */
	ret = rd_fetch(a->control, &first, NULL);
	if (ret)
		return ret;
	rd_report_free(&first);
	top_quit = 0;
	top_enter(&t);
	for (long i = 0; !a->iterations || i < a->iterations; i++) {
		ret = top_frame(a, &t, &rate);
		if (ret || (a->iterations && i + 1 == a->iterations) || top_wait(&t, a->interval))
			break;
	}
	top_leave(&t);
	if (ret)
		fprintf(stderr, "ksmctl: top: lost contact with ksmvmm at %s\n", a->control);
	return ret;
}
