/* lineage.c - a restored or cloned instance takes a new identity (vmm/guest_abi.h,
 * "Identity and lineage"); pages written before keep verifying as their writer's. */
#include "tests/guest/workload/lineage.h"

#include "tests/guest/workload/console.h"
#include "tests/guest/workload/port.h"
#include "tests/guest/workload/store.h"

/* The lineage table of vCPU c->index, with the boot identity as entry 0. */
void wl_lineage_init(struct wl_cpu *c)
{
	c->lineage =
	    (struct wl_identity *) (uintptr_t) (WL_LINEAGE_GPA + c->index * WL_LINEAGE_STRIDE);
	c->lineage[0] = c->lay.self;
	c->entry = 0;
	c->live->lineage_len[c->index] = 1;
}

/* The lineage table is full: make @id entry 0 of a fresh table. Pages whose content
 * depends on the identity are rewritten under @id (at the same count), the others keep
 * their bytes and are retagged; the old table is read until every page is done. */
static void rebase(struct wl_cpu *c, const struct wl_identity *id)
{
	for (uint64_t p = c->index; p < c->lay.total && !c->prm.image_mode; p += c->ncpu) {
		uint32_t tag = c->versions[p], v = wl_version_count(tag);

		if (tag == WL_VERSION_GONE || wl_version_entry(tag) > c->entry)
			continue; /* given away, or already bad: verify will say so */
		if (wl_page_personal(&c->lay, p, v)) {
			struct wl_content want = wl_page_content_by(&c->lay, id, p, v);

			wl_store_page(wl_cpu_page(c, p), &want, c->prm.has_avx);
		}
		c->versions[p] = wl_version_tag(0, v);
	}
	c->lineage[0] = *id;
	c->entry = 0;
}

/* RESTORED request: take the identity the VMM wrote into the parameters (copied once:
 * the VMM may write them again for the next request) and write under it from now on. */
void wl_lineage_restored(struct wl_cpu *c)
{
	struct wl_identity id = {
	    .generation = c->live->generation,
	    .seed = c->live->unique_seed,
	    .guest_index = c->live->guest_index,
	};

	if (!id.seed)
		id.seed = c->prm.seed;
	c->prm.generation = id.generation;
	c->prm.unique_seed = id.seed;
	c->prm.guest_index = id.guest_index;
	if (c->entry + 1 < WL_LINEAGE_MAX)
		c->lineage[++c->entry] = id;
	else
		rebase(c, &id);
	c->live->lineage_len[c->index] = c->entry + 1;
	/* Device rounds and balloon checks are due now: the TSC of a restored image need not
	 * go on from where the parent's deadlines were set. */
	c->next_poll = 0;
	c->next_round = 0;
	if (c->index == 0)
		wl_printf("RESTORED generation=%lx guest=%u lineage=%u\n", id.generation,
			  id.guest_index, c->entry + 1);
	wl_outl(WL_PORT_CMD, WL_CMD_RESTORED_DONE);
}
