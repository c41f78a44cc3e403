/* test_snapseal.c - sealing a snapshot's memory file (vmm/snapseal.h) on a real file in
 * /tmp: immutable while any seal is held, including against root, cleared by the last
 * holder only, refused (and left as it was) while a writer has the file open. Needs a
 * file system with the immutable attribute and CAP_LINUX_IMMUTABLE: skipped (77) loudly
 * without them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/snapseal.h"

static char dir[] = "/tmp/test_snapseal.XXXXXX";
static char file[64];

static bool immutable(void)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC), fl = 0;
	bool on = fd >= 0 && !ioctl(fd, FS_IOC_GETFLAGS, &fl) && (fl & FS_IMMUTABLE_FL);

	if (fd >= 0)
		close(fd);
	return on;
}

/* Can the file be opened for writing, as root can any file without the attribute? */
static bool writable(void)
{
	int fd = open(file, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int open_ro(void)
{
	return open(file, O_RDONLY | O_CLOEXEC);
}

/* Two holders in one process (two open file descriptions, as two processes would have),
 * one of them with a second reference (the engine's). */
static void test_holders(void)
{
	int a = open_ro(), b = open_ro();
	char why[160] = "";
	struct snapseal *s = snapseal_take(a, file, why, sizeof(why)), *t;

	CHECK(s != NULL);
	CHECK(immutable());
	CHECK(!writable() && errno == EPERM);
	CHECK(unlink(file) < 0 && errno == EPERM);
	t = snapseal_take(b, file, why, sizeof(why));
	CHECK(t != NULL);
	close(a); /* the caller's descriptor is not what holds the seal */
	close(b);
	snapseal_ref(s);
	snapseal_put(s);
	CHECK(immutable());
	snapseal_put(s); /* s's last: t still holds the file */
	CHECK(immutable() && !writable());
	snapseal_put(t);
	CHECK(!immutable());
	CHECK(writable());
	snapseal_put(NULL);
}

/* A writer that opened the file before the seal: refused, with the reason, and the
 * attribute not left behind. */
static void test_writer(void)
{
	int w = open(file, O_WRONLY | O_CLOEXEC), fd = open_ro();
	char why[160] = "";

	CHECK(w >= 0);
	CHECK(snapseal_take(fd, file, why, sizeof(why)) == NULL);
	CHECK(strstr(why, "open for writing elsewhere") != NULL);
	CHECK(!immutable());
	close(w);
	struct snapseal *s = snapseal_take(fd, file, why, sizeof(why));
	CHECK(s != NULL);
	snapseal_put(s);
	CHECK(!immutable());
	close(fd);
}

/* Left set by a ksmvmm that was killed: the next holder clears it when it ends. */
static void test_leftover(void)
{
	int fd = open_ro(), fl = FS_IMMUTABLE_FL;
	char why[160] = "";
	struct snapseal *s;

	CHECK(ioctl(fd, FS_IOC_SETFLAGS, &fl) == 0);
	s = snapseal_take(fd, file, why, sizeof(why));
	CHECK(s != NULL && immutable());
	snapseal_put(s);
	CHECK(!immutable());
	close(fd);
}

/* May this machine set the attribute in /tmp? */
static bool supported(void)
{
	int fd = open_ro(), fl = 0;
	bool ok = fd >= 0 && !ioctl(fd, FS_IOC_GETFLAGS, &fl);

	fl |= FS_IMMUTABLE_FL;
	ok = ok && !ioctl(fd, FS_IOC_SETFLAGS, &fl);
	fl &= ~FS_IMMUTABLE_FL;
	if (ok)
		ok = !ioctl(fd, FS_IOC_SETFLAGS, &fl);
	if (fd >= 0)
		close(fd);
	return ok;
}

int main(void)
{
	int fd, ret;

	if (!mkdtemp(dir))
		return 1;
	snprintf(file, sizeof(file), "%s/memory", dir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
	CHECK(fd >= 0 && write(fd, "snapshot", 8) == 8);
	close(fd);
	if (!supported()) {
		printf("SKIPPED: /tmp cannot take the immutable attribute here (file system, or no "
		       "CAP_LINUX_IMMUTABLE)\n");
		unlink(file);
		rmdir(dir);
		return 77;
	}
	test_holders();
	test_writer();
	test_leftover();
	ret = check_done("test_snapseal");
	unlink(file);
	rmdir(dir);
	return ret;
}
