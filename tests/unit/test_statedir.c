/* test_statedir.c - definitions on disk: save, load, remove, autostart, crash leftovers,
 * the lock, bad names. Works in a fresh directory under $TMPDIR. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tests/unit/check.h"
#include "vmm/libvirt/statedir.h"

static char err[512];

/* What one statedir_load saw. */
struct seen {
	unsigned n;
	char names[8][64];
	char xml[8][64];
	bool autostart[8];
	const char *refuse; /* the callback fails for this name */
};

static int collect(void *arg, const char *name, const char *xml, bool autostart)
{
	struct seen *s = arg;

	if (s->refuse && !strcmp(name, s->refuse))
		return -EINVAL;
	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
		snprintf(s->xml[s->n], sizeof(s->xml[0]), "%s", xml);
		s->autostart[s->n] = autostart;
	}
	s->n++;
	return 0;
}

static int load(struct statedir *sd, struct seen *s, const char *refuse)
{
	*s = (struct seen){.refuse = refuse};
	return statedir_load(sd, collect, s);
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char *path = g_build_filename(dir, name, NULL);

	CHECK(g_file_set_contents(path, text, -1, NULL));
	g_free(path);
}

static bool exists(const char *dir, const char *name)
{
	char *path = g_build_filename(dir, name, NULL);
	bool ok = g_file_test(path, G_FILE_TEST_EXISTS);

	g_free(path);
	return ok;
}

/* Entries of @dir starting with '.', besides the lock file. */
static unsigned count_hidden(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;
	unsigned n = 0;

	while (d && (e = g_dir_read_name(d)))
		n += e[0] == '.' && strcmp(e, ".lock");
	if (d)
		g_dir_close(d);
	return n;
}

static void test_save_load(const char *dir)
{
	struct statedir *sd = statedir_open(dir, err, sizeof(err));
	struct stat st;
	struct seen s;

	CHECK(sd);
	if (!sd)
		return;
	CHECK(!stat(dir, &st) && (st.st_mode & 0777) == 0700 && S_ISDIR(st.st_mode));
	CHECK_EQ(load(sd, &s, NULL), 0);
	CHECK_EQ(statedir_save(sd, "web1", "<domain>web1 v1</domain>", err, sizeof(err)), 0);
	CHECK_EQ(statedir_save(sd, "alpha", "<domain>alpha</domain>", err, sizeof(err)), 0);
	CHECK_EQ(load(sd, &s, NULL), 2);
	CHECK(!strcmp(s.names[0], "alpha") && !strcmp(s.names[1], "web1")); /* name order */
	CHECK(!strcmp(s.xml[1], "<domain>web1 v1</domain>"));
	CHECK(!s.autostart[0] && !s.autostart[1]);

	/* A redefinition replaces the file, and leaves no temporary behind. */
	CHECK_EQ(statedir_save(sd, "web1", "<domain>web1 v2</domain>", err, sizeof(err)), 0);
	CHECK_EQ(load(sd, &s, NULL), 2);
	CHECK(!strcmp(s.xml[1], "<domain>web1 v2</domain>"));
	CHECK_EQ(count_hidden(dir), 0);
	{
		char *path = g_build_filename(dir, "web1.xml", NULL);

		CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600);
		g_free(path);
	}

	/* Autostart markers. */
	CHECK_EQ(statedir_set_autostart(sd, "web1", true, err, sizeof(err)), 0);
	CHECK(statedir_autostart(sd, "web1") && !statedir_autostart(sd, "alpha"));
	CHECK_EQ(load(sd, &s, NULL), 2);
	CHECK(!s.autostart[0] && s.autostart[1]);
	CHECK_EQ(statedir_set_autostart(sd, "web1", false, err, sizeof(err)), 0);
	CHECK(!statedir_autostart(sd, "web1"));
	CHECK_EQ(statedir_set_autostart(sd, "nosuch", true, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "no definition nosuch"));
	CHECK(!exists(dir, "autostart/nosuch"));

	/* A callback that refuses a definition: the others still load. */
	CHECK_EQ(load(sd, &s, "alpha"), 1);
	CHECK(!strcmp(s.names[0], "web1"));
	statedir_close(sd);
}

/* What a crash leaves: a temporary (old definition intact), a stray marker. */
static void test_crash_leftovers(const char *dir)
{
	struct statedir *sd = statedir_open(dir, err, sizeof(err));
	struct seen s;

	CHECK(sd);
	if (!sd)
		return;
	put_file(dir, ".web1.xml.tmp-0badcafe", "<domain>web1 v3, torn");
	put_file(dir, "autostart/ghost", "");
	CHECK_EQ(load(sd, &s, NULL), 2);
	CHECK(!strcmp(s.xml[1], "<domain>web1 v2</domain>"));
	CHECK(!exists(dir, ".web1.xml.tmp-0badcafe"));
	CHECK(!exists(dir, "autostart/ghost"));

	/* Unreadable definitions are skipped by name; files that are not ours stay. */
	{
		char *sub = g_build_filename(dir, "dir.xml", NULL);

		CHECK(!g_mkdir(sub, 0700));
		g_free(sub);
	}
	put_file(dir, ".hidden.xml", "<domain/>");
	put_file(dir, "notes.txt", "hello");
	{
		char *big = g_malloc(STATEDIR_FILE_MAX + 2);

		memset(big, 'x', STATEDIR_FILE_MAX + 1);
		big[STATEDIR_FILE_MAX + 1] = '\0';
		put_file(dir, "big.xml", big);
		g_free(big);
	}
	CHECK_EQ(load(sd, &s, NULL), 2);
	CHECK(exists(dir, ".hidden.xml") && exists(dir, "notes.txt") && exists(dir, "big.xml"));
	statedir_close(sd);
}

static void test_remove(const char *dir)
{
	struct statedir *sd = statedir_open(dir, err, sizeof(err));
	struct seen s;

	CHECK(sd);
	if (!sd)
		return;
	CHECK_EQ(statedir_set_autostart(sd, "web1", true, err, sizeof(err)), 0);
	CHECK(exists(dir, "autostart/web1"));
	CHECK_EQ(statedir_remove(sd, "web1", err, sizeof(err)), 0);
	CHECK(!exists(dir, "web1.xml") && !exists(dir, "autostart/web1"));
	CHECK_EQ(statedir_remove(sd, "web1", err, sizeof(err)), -ENOENT);
	CHECK_EQ(load(sd, &s, NULL), 1);
	CHECK(!strcmp(s.names[0], "alpha"));
	statedir_close(sd);
}

static void test_lock(const char *dir)
{
	struct statedir *a = statedir_open(dir, err, sizeof(err)), *b;
	char pid[32];

	CHECK(a);
	b = statedir_open(dir, err, sizeof(err));
	CHECK(!b);
	snprintf(pid, sizeof(pid), "pid %ld", (long) getpid());
	CHECK(strstr(err, "in use by another ksmvmm") && strstr(err, pid));
	statedir_close(b);
	statedir_close(a);
	b = statedir_open(dir, err, sizeof(err)); /* free again */
	CHECK(b);
	statedir_close(b);
}

static void test_bad(const char *top)
{
	char *file = g_build_filename(top, "plain", NULL), *deep, *names;
	struct statedir *sd;
	char long_name[STATEDIR_NAME_MAX + 2];

	put_file(top, "plain", "x");
	CHECK(!statedir_open(file, err, sizeof(err)));
	CHECK(strstr(err, "not a directory"));
	deep = g_build_filename(top, "no", "such", NULL);
	CHECK(!statedir_open(deep, err, sizeof(err)));
	CHECK(strstr(err, "cannot create"));
	CHECK(!statedir_open("", err, sizeof(err)));

	names = g_build_filename(top, "names", NULL);
	sd = statedir_open(names, err, sizeof(err));
	CHECK(sd);
	if (!sd)
		goto out;
	memset(long_name, 'n', sizeof(long_name));
	long_name[STATEDIR_NAME_MAX + 1] = '\0';
	CHECK_EQ(statedir_save(sd, long_name, "x", err, sizeof(err)), -EINVAL);
	long_name[STATEDIR_NAME_MAX] = '\0';
	CHECK_EQ(statedir_save(sd, long_name, "x", err, sizeof(err)), 0); /* 63: fits */
	CHECK_EQ(statedir_save(sd, "", "x", err, sizeof(err)), -EINVAL);
	CHECK_EQ(statedir_save(sd, ".lock", "x", err, sizeof(err)), -EINVAL);
	CHECK_EQ(statedir_save(sd, "../escape", "x", err, sizeof(err)), -EINVAL);
	CHECK_EQ(statedir_save(sd, "a/b", "x", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bad definition name 'a/b'"));
	CHECK_EQ(statedir_save(sd, NULL, "x", err, sizeof(err)), -EINVAL);
	CHECK_EQ(statedir_remove(sd, "../names", err, sizeof(err)), -EINVAL);
	CHECK_EQ(statedir_set_autostart(sd, "a/b", true, err, sizeof(err)), -EINVAL);
	CHECK(!exists(top, "escape.xml"));
	statedir_close(sd);
out:
	g_free(names);
	g_free(deep);
	g_free(file);
}

/* A child saves two alternating 256 KiB definitions until it is killed at a random
 * moment; what is on disk must then be one of them, whole, and the next load removes
 * the child's temporary. */
#define CRASH_SIZE (256u << 10)

static void save_forever(const char *dir)
{
	struct statedir *sd = statedir_open(dir, err, sizeof(err));
	char *text[2] = {g_malloc(CRASH_SIZE + 1), g_malloc(CRASH_SIZE + 1)};

	for (int i = 0; i < 2; i++) {
		memset(text[i], i ? 'B' : 'A', CRASH_SIZE);
		text[i][CRASH_SIZE] = '\0';
	}
	for (unsigned i = 0; sd; i++)
		if (statedir_save(sd, "victim", text[i & 1], err, sizeof(err)))
			_exit(2);
	_exit(1);
}

static bool whole(const char *xml, size_t len)
{
	return len == CRASH_SIZE && (xml[0] == 'A' || xml[0] == 'B') &&
	       strspn(xml, xml[0] == 'A' ? "A" : "B") == CRASH_SIZE;
}

static int check_victim(void *arg, const char *name, const char *xml, bool autostart)
{
	unsigned *good = arg;

	(void) autostart;
	if (!strcmp(name, "victim") && whole(xml, strlen(xml)))
		(*good)++;
	else if (!strcmp(name, "victim"))
		fprintf(stderr, "victim torn: %zu bytes, starts '%.8s'\n", strlen(xml), xml);
	return 0;
}

static void test_kill_during_save(const char *dir)
{
	unsigned good = 0, rounds = 20;
	struct statedir *first = statedir_open(dir, err, sizeof(err));
	char *a = g_malloc(CRASH_SIZE + 1);

	memset(a, 'A', CRASH_SIZE);
	a[CRASH_SIZE] = '\0';
	CHECK(first && !statedir_save(first, "victim", a, err, sizeof(err)));
	statedir_close(first);
	g_free(a);
	for (unsigned i = 0; i < rounds; i++) {
		pid_t pid = fork();
		struct statedir *sd;
		int status;

		if (pid == 0)
			save_forever(dir);
		g_usleep(2000 + g_random_int_range(0, 20000));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status)); /* it was still saving, not failed */
		sd = statedir_open(dir, err, sizeof(err));
		CHECK(sd);
		if (sd)
			statedir_load(sd, check_victim, &good);
		statedir_close(sd);
		CHECK_EQ(count_hidden(dir), 0);
	}
	CHECK_EQ(good, rounds);
}

static void rm_rf(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *e;

	while (d && (e = g_dir_read_name(d))) {
		char *p = g_build_filename(path, e, NULL);

		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			rm_rf(p);
		else
			g_unlink(p);
		g_free(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(path);
}

int main(void)
{
	char *top = g_dir_make_tmp("test_statedir-XXXXXX", NULL);
	char *dir = g_build_filename(top, "state", NULL);
	char *crash = g_build_filename(top, "crash", NULL);

	test_save_load(dir);
	test_crash_leftovers(dir);
	test_remove(dir);
	test_lock(dir);
	test_kill_during_save(crash);
	test_bad(top);
	rm_rf(top);
	g_free(crash);
	g_free(dir);
	g_free(top);
	return check_done("test_statedir");
}
