/* index.h - open-addressing hash table from (content hash, sharing group) to a 32-bit id.
 *
 * Used twice by the engine: the stable index maps content to canonical pool pages, the
 * unstable index maps content to the first guest page seen with it. A slot is 8 bytes:
 * 32 bits of the mixed key and the id. The full key stays with the caller (in the pool
 * page's or the guest page's state), so a lookup asks the caller to confirm each
 * candidate whose 32 bits match. The table grows past 3/4 full and shrinks below 1/8.
 * Keys may repeat only if the caller inserts them twice; lookups return the first match.
 */
#ifndef KSM_INDEX_H
#define KSM_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#define KSM_INDEX_NONE UINT32_MAX

/* Does the entry with id @id have the key (@hash, @group)? */
typedef bool (*ksm_index_match_fn)(const void *ctx, uint32_t id, uint64_t hash, uint32_t group);

struct ksm_index_slot {
	uint32_t tag; /* 32 bits of the mixed (hash, group) key; also picks the home slot */
	uint32_t id;  /* caller's id; KSM_INDEX_NONE marks an empty slot */
};

struct ksm_index {
	struct ksm_index_slot *slots;
	uint64_t cap;	/* power of two */
	uint64_t used;	/* live entries */
	uint64_t tombs; /* deleted slots still occupying probes */
	ksm_index_match_fn match;
	const void *ctx; /* for @match */
};

/* Initialise an empty index whose entries @match checks. Returns 0 or -ENOMEM. */
int ksm_index_init(struct ksm_index *ix, uint64_t capacity_hint, ksm_index_match_fn match,
		   const void *ctx);

void ksm_index_free(struct ksm_index *ix);

/* Remove every entry, keeping the allocation. */
void ksm_index_clear(struct ksm_index *ix);

/* Id stored for (hash, group), or KSM_INDEX_NONE. */
uint32_t ksm_index_find(const struct ksm_index *ix, uint64_t hash, uint32_t group);

/* Insert (hash, group) -> id (id < KSM_INDEX_NONE - 1). Returns 0 or -ENOMEM. */
int ksm_index_insert(struct ksm_index *ix, uint64_t hash, uint32_t group, uint32_t id);

/* Make room for @more inserts without growing on the way (one rebuild now instead of
 * one per doubling). Returns 0 or -ENOMEM (the table is as it was: inserts still grow
 * it). */
int ksm_index_reserve(struct ksm_index *ix, uint64_t more);

/* Remove the entry (hash, group) whose id is @id. Returns true if it was there. */
bool ksm_index_remove(struct ksm_index *ix, uint64_t hash, uint32_t group, uint32_t id);

#endif
