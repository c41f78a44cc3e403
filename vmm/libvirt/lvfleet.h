/* lvfleet.h - libvirt's view of the fleet: domains (definitions kept in a state
 * directory, or the guests of `ksmvmm run`), started and stopped through the remote
 * protocol. Implements struct lv_backend_ops (backend.h) on the real fleet.
 *
 * Threads: everything here runs on the GLib main loop's thread, including the remote
 * protocol's calls into the backend.
 */
#ifndef VMM_LIBVIRT_LVFLEET_H
#define VMM_LIBVIRT_LVFLEET_H

#include <stddef.h>

#include "vmm/fleet.h"
#include "vmm/options.h"

struct lvfleet;

/* Domains of fleet @f: its guests now (transient domains: `ksmvmm run`), and the
 * definitions in @state_dir (NULL: none, nothing persists). @base: the fleet-wide
 * settings every started domain inherits. Returns NULL with a reason in @err. */
struct lvfleet *lvfleet_create(struct fleet *f, const struct options *base, const char *state_dir,
			       char *err, size_t len);

/* Serve libvirt's remote protocol on the Unix socket @path. 0, or -errno with @err. */
int lvfleet_listen(struct lvfleet *lf, const char *path, char *err, size_t len);

/* Start the domains marked autostart; failures are logged, the others still start. */
void lvfleet_autostart(struct lvfleet *lf);

/* A guest of the fleet ended (call on the main loop): its domain shuts off, libvirt's
 * clients hear of it, a transient domain goes away. */
void lvfleet_guest_ended(struct lvfleet *lf);

/* Domains that run now. */
size_t lvfleet_running(struct lvfleet *lf);

/* libvirt clients connected now. */
unsigned lvfleet_clients(struct lvfleet *lf);

void lvfleet_destroy(struct lvfleet *lf);

#endif
