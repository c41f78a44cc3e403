/* statedir.h - persistent domain definitions: DIR/NAME.xml and autostart markers.
 *
 * Layout: DIR/NAME.xml holds a definition (libvirt's domain XML), DIR/autostart/NAME
 * (an empty file) marks it autostart, DIR/.lock is held (flock) by the one VMM using
 * DIR. A definition is written to a temporary file in DIR (.NAME.xml.tmp-XXXXXX),
 * fsynced, renamed over NAME.xml and the directory fsynced: after a crash at any point
 * NAME.xml is the old or the new definition, never a torn one, and the next
 * statedir_load removes the temporary file left behind.
 *
 * Names are domain names: 1..STATEDIR_NAME_MAX bytes, no '/', not starting with '.'
 * (which keeps them apart from temporaries and the lock) and no NUL; anything else is
 * refused before it becomes a path.
 *
 * Thread rules: one struct statedir may be used by one thread at a time.
 */
#ifndef VMM_LIBVIRT_STATEDIR_H
#define VMM_LIBVIRT_STATEDIR_H

#include <stdbool.h>
#include <stddef.h>

#define STATEDIR_NAME_MAX 63	     /* LV_NAME_MAX - 1 */
#define STATEDIR_FILE_MAX (4u << 20) /* a definition larger than this is not read */

struct statedir;

/* Open (mkdir 0700 if missing) and lock directory @path. NULL with the reason in @err
 * if it is not a directory, not writable, or locked by another process or handle. */
struct statedir *statedir_open(const char *path, char *err, size_t errlen);

/* Unlock and free. */
void statedir_close(struct statedir *sd);

/* The directory's path. */
const char *statedir_path(const struct statedir *sd);

/* Is @name usable as a definition name? */
bool statedir_name_valid(const char *name);

/* Called by statedir_load for each definition, in name order. A non-zero return is
 * logged with the name and the load goes on with the next one. */
typedef int statedir_load_fn(void *arg, const char *name, const char *xml, bool autostart);

/* Hand every readable definition to @fn; a file that cannot be read is logged by name
 * and skipped; temporaries left by a crash and markers without a definition are
 * removed. Returns how many definitions @fn accepted (returned 0 for), or -errno if
 * the directory cannot be listed. */
int statedir_load(struct statedir *sd, statedir_load_fn *fn, void *arg);

/* Write definition @name (durably, old or new after a crash). Returns 0 or -errno with
 * the reason in @err. */
int statedir_save(struct statedir *sd, const char *name, const char *xml, char *err, size_t errlen);

/* Remove definition @name and its autostart marker. Returns 0, -ENOENT if there is no
 * such definition, or -errno with the reason in @err. */
int statedir_remove(struct statedir *sd, const char *name, char *err, size_t errlen);

/* Mark @name autostart or not. Returns 0, -ENOENT if there is no such definition, or
 * -errno with the reason in @err. */
int statedir_set_autostart(struct statedir *sd, const char *name, bool on, char *err,
			   size_t errlen);

/* Is @name marked autostart? */
bool statedir_autostart(struct statedir *sd, const char *name);

#endif
