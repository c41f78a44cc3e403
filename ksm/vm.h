/* vm.h - a VM's page bookkeeping: where its pages live, queued actions, index membership.
 *
 * Every function here needs k->lock (held by a pass, by registration and by teardown).
 */
#ifndef KSM_VM_H
#define KSM_VM_H

#include <stdbool.h>
#include <stdint.h>

struct ksm;
struct ksm_vm;

/* Host address of page @i of @vm. */
uint8_t *ksm_vm_page(const struct ksm_vm *vm, uint64_t i);

/* Index of the region holding page @i. */
unsigned ksm_vm_region(const struct ksm_vm *vm, uint64_t i);

/* Queue an action for @vm (struct ksm_action). Returns 0 or -ENOMEM. */
int ksm_vm_queue(struct ksm_vm *vm, uint64_t page, uint32_t canon);

/* The VM and page (in *@page) behind fleet-wide page id @id (vm->base + page), or NULL
 * if no registered VM has it. */
struct ksm_vm *ksm_vm_of(const struct ksm *k, uint32_t id, uint64_t *page);

/* The unstable index's check of a candidate: is guest page @id (fleet-wide id) in the
 * index with this key? @ctx is the struct ksm. */
bool ksm_vm_unstable_match(const void *ctx, uint32_t id, uint64_t hash, uint32_t group);

/* Put hashed page @i into the unstable index under its hash; if the index cannot grow it
 * stays out (it only misses a match). */
void ksm_vm_unstable_add(struct ksm *k, struct ksm_vm *vm, uint64_t i);

/* Take page @i out of the unstable index if it is there. */
void ksm_vm_unstable_forget(struct ksm *k, struct ksm_vm *vm, uint64_t i);

/* Drop one reference of pool page @id; unindex it if that frees it (not while an image
 * pins it). */
void ksm_vm_canon_put(struct ksm *k, uint32_t id);

/* Page @i was given back to the host by the VMM (discarded: it reads zeros): it leaves
 * the pool and the unstable index and is empty and reported from now on. An action
 * queued for it stays queued and is refused by the compare under the next pause (or
 * finds nothing to release). Caller holds k->lock. */
void ksm_vm_page_reported(struct ksm *k, struct ksm_vm *vm, uint64_t i);

#endif
