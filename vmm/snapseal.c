/* snapseal.c - the immutable attribute, a lease check and a shared flock on a snapshot's
 * memory file (why and how: snapseal.h). */
#define pr_fmt(fmt) "snapshot: " fmt
#include "vmm/snapseal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "lib/errbuf.h"
#include "lib/log.h"

/* A process that holds the exclusive flock holds it only to clear the attribute. */
#define LOCK_TRIES 40
#define LOCK_WAIT_NS 25000000L

struct snapseal {
	int fd; /* our own open file description of the file: the flock is its */
	unsigned refs;
	char path[1024];
};

/* Set or clear the immutable attribute of @fd. Returns 0 or -errno. */
static int set_immutable(int fd, bool on)
{
	int fl;

	if (ioctl(fd, FS_IOC_GETFLAGS, &fl))
		return -errno;
	if (!!(fl & FS_IMMUTABLE_FL) == on)
		return 0;
	fl = on ? fl | FS_IMMUTABLE_FL : fl & ~FS_IMMUTABLE_FL;
	return ioctl(fd, FS_IOC_SETFLAGS, &fl) ? -errno : 0;
}

/* The shared flock, waiting a little for a last holder that is clearing the attribute. */
static int lock_shared(int fd)
{
	const struct timespec wait = {0, LOCK_WAIT_NS};

	for (int i = 0; i < LOCK_TRIES; i++) {
		if (!flock(fd, LOCK_SH | LOCK_NB))
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		nanosleep(&wait, NULL);
	}
	return -EWOULDBLOCK;
}

/* Is the file open for writing anywhere? A read lease is refused then. 0 if not. */
static int no_writers(int fd)
{
	if (fcntl(fd, F_SETLEASE, F_RDLCK))
		return -errno;
	(void) fcntl(fd, F_SETLEASE, F_UNLCK);
	return 0;
}

/* Let go of the file: clear the attribute if no other process holds it, then close. */
static void unseal(struct snapseal *s)
{
	int ret = 0;

	if (!flock(s->fd, LOCK_EX | LOCK_NB))
		ret = set_immutable(s->fd, false);
	if (ret)
		pr_warn("cannot clear the immutable attribute of %s: %s (chattr -i clears it)",
			s->path, strerror(-ret));
	close(s->fd); /* drops the flock */
	free(s);
}

/* Lock, make immutable, check for writers; the step that failed in *@what. */
static int seal(struct snapseal *s, const char **what)
{
	int ret = lock_shared(s->fd);

	if (ret) {
		*what = ret == -EWOULDBLOCK ? "another process keeps it locked" : "cannot lock it";
		return ret;
	}
	ret = set_immutable(s->fd, true);
	if (ret) {
		*what = ret == -EPERM
			    ? "not allowed to make it immutable (needs CAP_LINUX_IMMUTABLE)"
			    : "its file system cannot make it immutable";
		return ret;
	}
	ret = no_writers(s->fd);
	if (ret)
		*what = ret == -EAGAIN
			    ? "it is open for writing elsewhere"
			    : "its file system cannot tell whether it is open for writing";
	return ret;
}

struct snapseal *snapseal_take(int fd, const char *path, char *why, size_t len)
{
	struct snapseal *s = calloc(1, sizeof(*s));
	const char *what = "cannot open it again";
	char self[64];
	int ret;

	if (!s) {
		errbuf_set(why, len, -ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	/* A description of our own: the flock must not be shared with the caller's. */
	s->fd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ret = s->fd < 0 ? -errno : seal(s, &what);
	if (!ret) {
		s->refs = 1;
		return s;
	}
	errbuf_set(why, len, ret, "%s (%s)", what, strerror(-ret));
	if (s->fd >= 0)
		unseal(s); /* clears the attribute again unless another process holds it */
	else
		free(s);
	return NULL;
}

struct snapseal *snapseal_ref(struct snapseal *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

void snapseal_put(void *opaque)
{
	struct snapseal *s = opaque;

	/* Acquire-release: the last holder sees every other holder's use of the file done. */
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		unseal(s);
}
