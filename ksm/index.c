/* index.c - linear-probing hash table of 8-byte slots, with tombstones. */
#include "ksm/index.h"

#include <errno.h>
#include <stdlib.h>

#define TOMB (KSM_INDEX_NONE - 1)
#define MIN_CAP 64ull
#define SHRINK_ABOVE 4096ull /* tables this large shrink when 1/8 full */

static void slots_reset(struct ksm_index_slot *s, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		s[i].id = KSM_INDEX_NONE;
}

/* Smallest power of two holding @n entries at most half full. */
static uint64_t cap_for(uint64_t n)
{
	uint64_t cap = MIN_CAP;

	while (cap < n * 2)
		cap <<= 1;
	return cap;
}

int ksm_index_init(struct ksm_index *ix, uint64_t capacity_hint, ksm_index_match_fn match,
		   const void *ctx)
{
	uint64_t cap = cap_for(capacity_hint);

	ix->slots = malloc(cap * sizeof(*ix->slots));
	if (!ix->slots)
		return -ENOMEM;
	ix->cap = cap;
	ix->used = 0;
	ix->tombs = 0;
	ix->match = match;
	ix->ctx = ctx;
	slots_reset(ix->slots, cap);
	return 0;
}

void ksm_index_free(struct ksm_index *ix)
{
	free(ix->slots);
	ix->slots = NULL;
	ix->cap = ix->used = ix->tombs = 0;
}

void ksm_index_clear(struct ksm_index *ix)
{
	slots_reset(ix->slots, ix->cap);
	ix->used = 0;
	ix->tombs = 0;
}

/* The key's 32 stored bits: the multiply carries every bit of hash and group into them
 * (the hash is uniform already; mixing spreads groups and made-up keys too). */
static uint32_t tag_of(uint64_t hash, uint32_t group)
{
	return (uint32_t) (((hash ^ ((uint64_t) group << 32 | group)) * 0x9e3779b97f4a7c15ull) >>
			   32);
}

static uint64_t next(const struct ksm_index *ix, uint64_t i)
{
	return (i + 1) & (ix->cap - 1);
}

uint32_t ksm_index_find(const struct ksm_index *ix, uint64_t hash, uint32_t group)
{
	uint32_t tag = tag_of(hash, group);

	for (uint64_t i = tag & (ix->cap - 1);; i = next(ix, i)) {
		const struct ksm_index_slot *s = &ix->slots[i];

		if (s->id == KSM_INDEX_NONE)
			return KSM_INDEX_NONE;
		if (s->id != TOMB && s->tag == tag && ix->match(ix->ctx, s->id, hash, group))
			return s->id;
	}
}

static void place(struct ksm_index *ix, uint32_t tag, uint32_t id)
{
	uint64_t i;

	for (i = tag & (ix->cap - 1); ix->slots[i].id != KSM_INDEX_NONE && ix->slots[i].id != TOMB;
	     i = next(ix, i))
		;
	if (ix->slots[i].id == TOMB)
		ix->tombs--;
	ix->slots[i] = (struct ksm_index_slot){.tag = tag, .id = id};
	ix->used++;
}

/* Move every entry into a table sized for @n entries (tombstones go). The tags alone
 * place them: no key is needed. */
static int rebuild(struct ksm_index *ix, uint64_t n)
{
	struct ksm_index old = *ix;

	if (ksm_index_init(ix, n, old.match, old.ctx)) {
		*ix = old;
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < old.cap; i++) {
		const struct ksm_index_slot *s = &old.slots[i];

		if (s->id != KSM_INDEX_NONE && s->id != TOMB)
			place(ix, s->tag, s->id);
	}
	free(old.slots);
	return 0;
}

int ksm_index_insert(struct ksm_index *ix, uint64_t hash, uint32_t group, uint32_t id)
{
	if ((ix->used + ix->tombs + 1) * 4 > ix->cap * 3) {
		int ret = rebuild(ix, ix->used + 1);

		if (ret)
			return ret;
	}
	place(ix, tag_of(hash, group), id);
	return 0;
}

int ksm_index_reserve(struct ksm_index *ix, uint64_t more)
{
	if ((ix->used + ix->tombs + more) * 4 <= ix->cap * 3)
		return 0;
	return rebuild(ix, ix->used + more);
}

bool ksm_index_remove(struct ksm_index *ix, uint64_t hash, uint32_t group, uint32_t id)
{
	uint32_t tag = tag_of(hash, group);

	for (uint64_t i = tag & (ix->cap - 1);; i = next(ix, i)) {
		struct ksm_index_slot *s = &ix->slots[i];

		if (s->id == KSM_INDEX_NONE)
			return false;
		if (s->id == id && s->tag == tag) {
			s->id = TOMB;
			ix->used--;
			ix->tombs++;
			/* A table that emptied gives memory back (failure just keeps it). */
			if (ix->cap > SHRINK_ABOVE && ix->used * 8 < ix->cap)
				rebuild(ix, ix->used);
			return true;
		}
	}
}
