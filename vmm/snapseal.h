/* snapseal.h - keep a snapshot's memory file unchangeable while guests map it in place.
 *
 * The engine can lend a snapshot's memory file to its pool (ksm_image_map): guests then
 * map the file itself, MAP_PRIVATE, and any change of the file would show in every page
 * no guest has written yet. A seal rules that out before the file is checked:
 * - the file gets the immutable attribute (FS_IMMUTABLE_FL): nobody, root included, can
 *   open it for writing, truncate, rename or unlink it while it is set;
 * - a read lease is then taken and dropped at once: the kernel grants one only when no
 *   one has the file open for writing (or mapped shared and writable), which covers a
 *   writer that opened it before the attribute was set;
 * - every process holding a seal keeps a shared flock on the file; the last to let go
 *   (its exclusive flock succeeds) clears the attribute. A ksmvmm that was killed leaves
 *   it set: the next one to seal the file clears it when it ends (or `chattr -i`).
 * Without the means (a file system without FS_IOC_SETFLAGS or leases, a user without
 * CAP_LINUX_IMMUTABLE) there is no seal and the image is copied instead.
 */
#ifndef VMM_SNAPSEAL_H
#define VMM_SNAPSEAL_H

#include <stddef.h>

struct snapseal;

/* Seal the regular file open (read-only) as @fd, named @path in messages. NULL with the
 * reason in @why when it cannot be sealed; nothing is left changed then. */
struct snapseal *snapseal_take(int fd, const char *path, char *why, size_t len);

/* One more holder of @s (the engine, for as long as it maps the file). Returns @s. */
struct snapseal *snapseal_ref(struct snapseal *s);

/* Drop one holder (a struct snapseal *; void * so that it serves as an engine image's
 * done callback). The last one unseals: the attribute is cleared unless another process
 * still holds a seal of the file. NULL is ignored. Any thread. */
void snapseal_put(void *s);

#endif
