/* snapshot.h - save a running guest to a snapshot directory, and build guests from one.
 *
 * A snapshot (vmm/snapfile.h: DIR/memory and DIR/state) holds the guest's RAM, its
 * definition (vmm/snapdef.h), the VM's and every vCPU's KVM state (vmm/vmstate.h), its
 * devices' state and the workload device's. Saving pauses the guest with a settled
 * pause (every vCPU parked with its last exit completed, device workers stopped), writes
 * it all, and lets the guest go on. Restoring builds the same machine blank
 * (guest_create_blank), loads every piece into it before anything runs, and fills its
 * RAM: with the merge engine by adopting the snapshot's image (its pages shared by every
 * restored guest from the first instruction, counted as merged), without it by copying.
 * Each restored guest then gets a new identity (fleet index, seed, generation ID).
 */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/options.h"
#include "vmm/snapdef.h"

struct guest;
struct ksm;
struct ksm_vm;
struct snapshot_src;

/* Save running guest @g to @dir (which must not exist). The guest is paused while its
 * state and memory are written, then goes on. Returns 0 or -errno with a one-line
 * reason in @err; on failure nothing is left at @dir. */
int snapshot_save(struct guest *g, const char *dir, char *err, size_t len);

/* Open @dir for restoring: every check of the format, the definition loaded into @o's
 * guest fields (fleet-wide fields stay). NULL with a reason in @err. */
struct snapshot_src *snapshot_open(const char *dir, struct options *o, char *err, size_t len);

/* snapshot_open with the memory check (the slow part) in a thread of its own, so that it
 * runs while the caller builds the guests: snapshot_restore_guest reads only the saved
 * states. snapshot_fill_ram waits for the check and, if it failed, logs why and fails;
 * no guest runs on memory that was not checked. */
struct snapshot_src *snapshot_open_background(const char *dir, struct options *o, char *err,
					      size_t len);

/* Who was saved. */
const struct snapdef_origin *snapshot_origin(const struct snapshot_src *s);

/* Build guest @index of @o (from snapshot_open) with every saved state loaded; its RAM
 * is still empty (snapshot_fill_ram). NULL after a clear error. */
struct guest *snapshot_restore_guest(struct snapshot_src *s, const struct options *o,
				     unsigned index, bool tee_stdout);

/* Fill @g's RAM from the snapshot: with @k, @vm is @g's registration with the engine and
 * the snapshot's image (made once, on first use) is adopted; without, the pages are
 * copied. Before @g runs. Returns 0 or -errno (logged). */
int snapshot_fill_ram(struct snapshot_src *s, struct guest *g, struct ksm *k, struct ksm_vm *vm,
		      uint32_t group);

/* Give restored guest @g its new identity (workload guests: index @index, a fresh seed
 * and generation ID), after snapshot_fill_ram and before it runs: its vCPUs take it
 * before anything else. Returns 0 or -errno. */
int snapshot_new_identity(struct guest *g, unsigned index);

/* Live clone: pause running guest @g (registered with engine @k, sharing group id
 * @group), capture its state in memory, make its RAM an engine image that @g itself
 * adopts (from now on it shares every page), and let it go on. Clones are then built
 * from the result like restored guests (snapshot_restore_guest, snapshot_fill_ram,
 * snapshot_new_identity), with @g's definition. NULL with a reason in @err. */
struct snapshot_src *snapshot_fork(struct guest *g, struct ksm *k, uint32_t group, char *err,
				   size_t len);

/* Drop the snapshot (and the engine image's own references: pages no restored guest
 * maps any more are freed). */
void snapshot_close(struct snapshot_src *s, struct ksm *k);

#endif
