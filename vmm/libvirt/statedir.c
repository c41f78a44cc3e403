/* statedir.c - domain definitions in a directory, written so a crash never tears one.
 *
 * Every file operation is relative to the directory's descriptor (openat, renameat,
 * unlinkat), so names are only ever single path components, checked by
 * statedir_name_valid first.
 */
#define pr_fmt(fmt) "statedir: " fmt

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "lib/errbuf.h"
#include "lib/log.h"
#include "vmm/libvirt/statedir.h"

#define LOCK_FILE ".lock"
#define AUTOSTART_DIR "autostart"
#define TMP_INFIX ".xml.tmp-" /* .NAME.xml.tmp-XXXXXX */

struct statedir {
	char *path;
	int dir_fd;	  /* DIR */
	int autostart_fd; /* DIR/autostart */
	int lock_fd;	  /* DIR/.lock, flock'ed for the life of the handle */
};

bool statedir_name_valid(const char *name)
{
	size_t len = name ? strnlen(name, STATEDIR_NAME_MAX + 1) : 0;

	return len > 0 && len <= STATEDIR_NAME_MAX && name[0] != '.' && !strchr(name, '/');
}

const char *statedir_path(const struct statedir *sd)
{
	return sd->path;
}

/* The pid written into a lock file by its holder, for the error message; 0 if unknown. */
static long lock_holder(int fd)
{
	char buf[24] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	return n > 0 ? strtol(buf, NULL, 10) : 0;
}

static int lock_take(struct statedir *sd, char *err, size_t errlen)
{
	char pid[24];
	int ret, len;

	sd->lock_fd = openat(sd->dir_fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sd->lock_fd < 0) {
		ret = -errno;
		return errbuf_set(err, errlen, ret, "state directory %s: cannot create %s: %s",
				  sd->path, LOCK_FILE, strerror(-ret));
	}
	if (flock(sd->lock_fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		if (ret == -EWOULDBLOCK)
			return errbuf_set(err, errlen, -EBUSY,
					  "state directory %s is in use by another ksmvmm "
					  "(pid %ld holds %s/%s)",
					  sd->path, lock_holder(sd->lock_fd), sd->path, LOCK_FILE);
		return errbuf_set(err, errlen, ret, "state directory %s: cannot lock: %s", sd->path,
				  strerror(-ret));
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
	if (ftruncate(sd->lock_fd, 0) || pwrite(sd->lock_fd, pid, (size_t) len, 0) != len)
		pr_warn("%s/%s: cannot write our pid: %s", sd->path, LOCK_FILE, strerror(errno));
	return 0;
}

/* mkdir -m 0700 @path unless it exists; then it must be a writable directory. */
static int dir_open(struct statedir *sd, char *err, size_t errlen)
{
	int ret;

	if (mkdir(sd->path, 0700) && errno != EEXIST) {
		ret = -errno;
		return errbuf_set(err, errlen, ret, "state directory %s: cannot create it: %s",
				  sd->path, strerror(-ret));
	}
	sd->dir_fd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sd->dir_fd < 0) {
		ret = -errno;
		return errbuf_set(err, errlen, ret, "state directory %s: %s", sd->path,
				  ret == -ENOTDIR ? "not a directory" : strerror(-ret));
	}
	if (faccessat(sd->dir_fd, ".", W_OK | X_OK, AT_EACCESS)) {
		ret = -errno;
		return errbuf_set(err, errlen, ret, "state directory %s is not writable: %s",
				  sd->path, strerror(-ret));
	}
	return 0;
}

static int autostart_open(struct statedir *sd, char *err, size_t errlen)
{
	int ret;

	if (mkdirat(sd->dir_fd, AUTOSTART_DIR, 0700) && errno != EEXIST) {
		ret = -errno;
		return errbuf_set(err, errlen, ret, "state directory %s: cannot create %s/: %s",
				  sd->path, AUTOSTART_DIR, strerror(-ret));
	}
	sd->autostart_fd = openat(sd->dir_fd, AUTOSTART_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sd->autostart_fd < 0) {
		ret = -errno;
		return errbuf_set(err, errlen, ret, "state directory %s: %s/: %s", sd->path,
				  AUTOSTART_DIR, strerror(-ret));
	}
	return 0;
}

struct statedir *statedir_open(const char *path, char *err, size_t errlen)
{
	struct statedir *sd;

	if (!path || !*path) {
		errbuf_set(err, errlen, -EINVAL, "no state directory given");
		return NULL;
	}
	sd = g_new0(struct statedir, 1);
	sd->path = g_strdup(path);
	sd->dir_fd = sd->autostart_fd = sd->lock_fd = -1;
	/* The lock comes before the autostart directory: nothing is created in a
	 * directory another VMM owns. */
	if (dir_open(sd, err, errlen) || lock_take(sd, err, errlen) ||
	    autostart_open(sd, err, errlen)) {
		statedir_close(sd);
		return NULL;
	}
	return sd;
}

void statedir_close(struct statedir *sd)
{
	if (!sd)
		return;
	if (sd->autostart_fd >= 0)
		close(sd->autostart_fd);
	if (sd->lock_fd >= 0)
		close(sd->lock_fd); /* drops the flock */
	if (sd->dir_fd >= 0)
		close(sd->dir_fd);
	g_free(sd->path);
	g_free(sd);
}

/* "NAME.xml" for a valid @name. */
static char *def_file(const char *name)
{
	return g_strdup_printf("%s.xml", name);
}

/* Is @ent a temporary left by statedir_save (".NAME.xml.tmp-XXXXXX")? */
static bool is_tmp(const char *ent)
{
	return ent[0] == '.' && strstr(ent, TMP_INFIX);
}

/* The definition name of directory entry @ent ("NAME.xml"), or NULL. */
static char *def_name(const char *ent)
{
	size_t len = strlen(ent);
	char *name;

	if (len <= 4 || strcmp(ent + len - 4, ".xml"))
		return NULL;
	name = g_strndup(ent, len - 4);
	if (statedir_name_valid(name))
		return name;
	g_free(name);
	return NULL;
}

/* A copy of @fd's directory stream (closedir closes its descriptor). */
static DIR *dir_stream(int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = copy >= 0 ? fdopendir(copy) : NULL;

	if (!d && copy >= 0)
		close(copy);
	if (d)
		rewinddir(d);
	return d;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The sorted names of DIR's definitions; temporaries are removed on the way. */
static GPtrArray *list_defs(struct statedir *sd, int *ret)
{
	DIR *d = dir_stream(sd->dir_fd);
	GPtrArray *names;
	struct dirent *e;

	if (!d) {
		*ret = -errno;
		return NULL;
	}
	names = g_ptr_array_new_with_free_func(g_free);
	while ((e = readdir(d))) {
		char *name = def_name(e->d_name);

		if (name) {
			g_ptr_array_add(names, name);
		} else if (is_tmp(e->d_name)) {
			if (unlinkat(sd->dir_fd, e->d_name, 0))
				pr_warn("%s: cannot remove %s: %s", sd->path, e->d_name,
					strerror(errno));
			else
				pr_info("%s: removed %s, left by a crash", sd->path, e->d_name);
		}
	}
	closedir(d);
	g_ptr_array_sort(names, cmp_str);
	*ret = 0;
	return names;
}

/* Read a whole regular file of at most STATEDIR_FILE_MAX bytes; NULL with errno set. */
static char *file_read(int dir_fd, const char *file)
{
	int fd = openat(dir_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *buf = NULL;
	ssize_t n = -1;
	int saved;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st))
		goto out_close;
	if (!S_ISREG(st.st_mode) || st.st_size > STATEDIR_FILE_MAX) {
		errno = S_ISREG(st.st_mode) ? EFBIG : S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto out_close;
	}
	buf = g_malloc((size_t) st.st_size + 1);
	n = read(fd, buf, (size_t) st.st_size);
	if (n >= 0 && n != st.st_size)
		errno = EIO; /* changed under us: not what was saved */
out_close:
	saved = errno;
	close(fd);
	if (buf && n == st.st_size) {
		buf[n] = '\0';
		return buf;
	}
	g_free(buf);
	errno = saved;
	return NULL;
}

/* Markers whose definition is gone (removed by hand, or a crash in statedir_remove). */
static void prune_markers(struct statedir *sd)
{
	DIR *d = dir_stream(sd->autostart_fd);
	struct dirent *e;

	for (; d && (e = readdir(d));) {
		char *file;
		struct stat st;

		if (!statedir_name_valid(e->d_name))
			continue;
		file = def_file(e->d_name);
		if (fstatat(sd->dir_fd, file, &st, 0) && errno == ENOENT &&
		    !unlinkat(sd->autostart_fd, e->d_name, 0))
			pr_info("%s: removed the autostart marker of %s (no definition)", sd->path,
				e->d_name);
		g_free(file);
	}
	if (d)
		closedir(d);
}

int statedir_load(struct statedir *sd, statedir_load_fn *fn, void *arg)
{
	GPtrArray *names;
	int ret, loaded = 0;

	names = list_defs(sd, &ret);
	if (!names) {
		pr_err("%s: cannot list: %s", sd->path, strerror(-ret));
		return ret;
	}
	for (unsigned i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		char *file = def_file(name), *xml = file_read(sd->dir_fd, file);

		if (!xml)
			pr_warn("%s: cannot read %s, skipped: %s", sd->path, file, strerror(errno));
		else if (fn(arg, name, xml, statedir_autostart(sd, name)))
			pr_warn("%s: definition %s not loaded", sd->path, file);
		else
			loaded++;
		g_free(xml);
		g_free(file);
	}
	g_ptr_array_free(names, TRUE);
	prune_markers(sd);
	return loaded;
}

/* A new temporary ".NAME.xml.tmp-XXXXXX" in DIR, opened for writing; its name in @tmp. */
static int tmp_create(struct statedir *sd, const char *name, char **tmp)
{
	for (int tries = 0; tries < 16; tries++) {
		int fd;

		*tmp = g_strdup_printf(".%s" TMP_INFIX "%08x", name, g_random_int());
		fd = openat(sd->dir_fd, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
		g_free(*tmp);
	}
	*tmp = NULL;
	return -EEXIST;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t) n;
	}
	return 0;
}

/* Data first, then the name: fsync the file, rename it over NAME.xml, fsync DIR. */
static int tmp_commit(struct statedir *sd, int fd, const char *tmp, const char *file,
		      const char *xml)
{
	int ret = write_all(fd, xml, strlen(xml));

	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && renameat(sd->dir_fd, tmp, sd->dir_fd, file))
		ret = -errno;
	return ret;
}

int statedir_save(struct statedir *sd, const char *name, const char *xml, char *err, size_t errlen)
{
	char *tmp = NULL, *file;
	int fd, ret;

	if (!statedir_name_valid(name) || !xml)
		return errbuf_set(err, errlen, -EINVAL, "bad definition name '%s'",
				  name ? name : "(null)");
	fd = tmp_create(sd, name, &tmp);
	if (fd < 0)
		return errbuf_set(err, errlen, fd, "%s: cannot create a temporary for %s: %s",
				  sd->path, name, strerror(-fd));
	file = def_file(name);
	ret = tmp_commit(sd, fd, tmp, file, xml);
	if (ret) {
		unlinkat(sd->dir_fd, tmp, 0);
		errbuf_set(err, errlen, ret, "%s: cannot write %s: %s", sd->path, file,
			   strerror(-ret));
	} else if (fsync(sd->dir_fd)) {
		ret = -errno;
		errbuf_set(err, errlen, ret, "%s: cannot sync the directory: %s", sd->path,
			   strerror(-ret));
	}
	g_free(file);
	g_free(tmp);
	return ret;
}

static bool def_exists(struct statedir *sd, const char *name)
{
	char *file = def_file(name);
	struct stat st;
	bool ok = !fstatat(sd->dir_fd, file, &st, AT_SYMLINK_NOFOLLOW);

	g_free(file);
	return ok;
}

/* The marker goes first: a crash in between leaves a definition without autostart
 * rather than a marker without a definition (which statedir_load would prune anyway). */
int statedir_remove(struct statedir *sd, const char *name, char *err, size_t errlen)
{
	char *file;
	int ret = 0;

	if (!statedir_name_valid(name))
		return errbuf_set(err, errlen, -EINVAL, "bad definition name '%s'",
				  name ? name : "(null)");
	if (!def_exists(sd, name))
		return errbuf_set(err, errlen, -ENOENT, "no definition %s in %s", name, sd->path);
	ret = statedir_set_autostart(sd, name, false, err, errlen);
	if (ret)
		return ret;
	file = def_file(name);
	if (unlinkat(sd->dir_fd, file, 0) || fsync(sd->dir_fd)) {
		ret = -errno;
		errbuf_set(err, errlen, ret, "%s: cannot remove %s: %s", sd->path, file,
			   strerror(-ret));
	}
	g_free(file);
	return ret;
}

int statedir_set_autostart(struct statedir *sd, const char *name, bool on, char *err, size_t errlen)
{
	int fd, ret = 0;

	if (!statedir_name_valid(name))
		return errbuf_set(err, errlen, -EINVAL, "bad definition name '%s'",
				  name ? name : "(null)");
	if (!def_exists(sd, name))
		return errbuf_set(err, errlen, -ENOENT, "no definition %s in %s", name, sd->path);
	if (on) {
		fd = openat(sd->autostart_fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			ret = -errno;
		else
			close(fd);
	} else if (unlinkat(sd->autostart_fd, name, 0) && errno != ENOENT) {
		ret = -errno;
	}
	if (!ret && fsync(sd->autostart_fd))
		ret = -errno;
	if (ret)
		return errbuf_set(err, errlen, ret, "%s: cannot %s the autostart marker of %s: %s",
				  sd->path, on ? "create" : "remove", name, strerror(-ret));
	return 0;
}

bool statedir_autostart(struct statedir *sd, const char *name)
{
	struct stat st;

	return statedir_name_valid(name) &&
	       !fstatat(sd->autostart_fd, name, &st, AT_SYMLINK_NOFOLLOW);
}
