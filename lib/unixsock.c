/* unixsock.c - a private listening Unix socket: address, stale-file check, bind, mode. */
#define pr_fmt(fmt) "" fmt
#include "lib/unixsock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/errbuf.h"
#include "lib/log.h"

static int address(const char *path, const char *what, struct sockaddr_un *addr, char *err,
		   size_t errlen)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (!path[0])
		return errbuf_set(err, errlen, -EINVAL, "the %s path is empty", what);
	if (strlen(path) >= sizeof(addr->sun_path))
		return errbuf_set(err, errlen, -ENAMETOOLONG, "%s path %s is longer than %zu bytes",
				  what, path, sizeof(addr->sun_path) - 1);
	strcpy(addr->sun_path, path);
	return 0;
}

/* Whether someone listens at @addr: 1 yes, 0 no (a stale socket), -errno unknown. */
static int probe(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int ret;

	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *) addr, sizeof(*addr));
	if (ret == 0 || errno == EAGAIN || errno == EINPROGRESS)
		ret = 1; /* accepted, or a listener with a full backlog */
	else
		ret = errno == ECONNREFUSED ? 0 : -errno;
	close(fd);
	return ret;
}

/* Make the path free for bind(): nothing there, or a stale socket removed. */
static int clear_path(const struct sockaddr_un *addr, const char *what, char *err, size_t errlen)
{
	const char *path = addr->sun_path;
	struct stat st;
	int ret;

	if (lstat(path, &st) < 0) {
		ret = -errno;
		return ret == -ENOENT ? 0
				      : errbuf_set(err, errlen, ret, "cannot stat %s: %s", path,
						   strerror(-ret));
	}
	if (!S_ISSOCK(st.st_mode))
		return errbuf_set(err, errlen, -ENOTSOCK, "%s exists and is not a socket", path);
	ret = probe(addr);
	if (ret > 0)
		return errbuf_set(err, errlen, -EADDRINUSE, "%s %s is in use", what, path);
	if (ret < 0)
		return errbuf_set(err, errlen, ret, "cannot probe %s %s: %s", what, path,
				  strerror(-ret));
	if (unlink(path) < 0) {
		ret = -errno;
		return errbuf_set(err, errlen, ret, "cannot remove stale %s %s: %s", what, path,
				  strerror(-ret));
	}
	pr_info("removed stale %s %s", what, path);
	return 0;
}

/* A socket bound at @addr. Its inode is made 0600 before bind(), which gives the file its
 * mode (Linux): no other user can ever connect. */
static int bind_private(const struct sockaddr_un *addr, const char *what, char *err, size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int ret;

	if (fd < 0) {
		ret = -errno;
		return errbuf_set(err, errlen, ret, "cannot create a socket: %s", strerror(-ret));
	}
	if (fchmod(fd, 0600) < 0 || bind(fd, (const struct sockaddr *) addr, sizeof(*addr)) < 0) {
		ret = -errno;
		close(fd);
		if (ret == -EADDRINUSE)
			return errbuf_set(err, errlen, ret, "%s %s is in use", what,
					  addr->sun_path);
		return errbuf_set(err, errlen, ret, "cannot bind %s: %s", addr->sun_path,
				  strerror(-ret));
	}
	return fd;
}

int unixsock_listen(const char *path, const char *what, int backlog, struct unixsock *out,
		    char *err, size_t errlen)
{
	struct sockaddr_un addr;
	struct stat st;
	int fd, ret;

	ret = address(path, what, &addr, err, errlen);
	if (ret || (ret = clear_path(&addr, what, err, errlen)))
		return ret;
	fd = bind_private(&addr, what, err, errlen);
	if (fd < 0)
		return fd;
	if (lstat(path, &st) < 0 || listen(fd, backlog) < 0) {
		ret = -errno;
		errbuf_set(err, errlen, ret, "cannot listen on %s: %s", path, strerror(-ret));
		goto err_unlink;
	}
	if (st.st_mode & 077) {
		ret = errbuf_set(err, errlen, -EPERM, "%s has mode %o: other users could connect",
				 path, st.st_mode & 0777);
		goto err_unlink;
	}
	*out = (struct unixsock){.fd = fd, .dev = st.st_dev, .ino = st.st_ino};
	return 0;

err_unlink:
	unlink(path);
	close(fd);
	return ret;
}

void unixsock_unlink(const char *path, const struct unixsock *s)
{
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(path);
}
