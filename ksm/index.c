/* index.c - linear-probing hash table keyed by (xxh3 hash, group), with tombstones. */
#include "ksm/index.h"

#include <errno.h>
#include <stdlib.h>

#define TOMB (KSM_INDEX_NONE - 1)

static void slots_reset(struct ksm_index_slot *s, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		s[i].id = KSM_INDEX_NONE;
}

int ksm_index_init(struct ksm_index *ix, uint64_t capacity_hint)
{
	uint64_t cap = 64;

	while (cap < capacity_hint * 2)
		cap <<= 1;
	ix->slots = malloc(cap * sizeof(*ix->slots));
	if (!ix->slots)
		return -ENOMEM;
	ix->cap = cap;
	ix->used = 0;
	ix->tombs = 0;
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

static uint64_t slot_of(const struct ksm_index *ix, uint64_t hash, uint32_t group)
{
	/* The hash is already uniform; mix in the group so groups spread too. */
	return (hash ^ ((uint64_t) group * 0x9e3779b97f4a7c15ull)) & (ix->cap - 1);
}

uint32_t ksm_index_find(const struct ksm_index *ix, uint64_t hash, uint32_t group)
{
	for (uint64_t i = slot_of(ix, hash, group);; i = (i + 1) & (ix->cap - 1)) {
		const struct ksm_index_slot *s = &ix->slots[i];

		if (s->id == KSM_INDEX_NONE)
			return KSM_INDEX_NONE;
		if (s->id != TOMB && s->hash == hash && s->group == group)
			return s->id;
	}
}

static int grow(struct ksm_index *ix)
{
	struct ksm_index old = *ix;
	int ret = ksm_index_init(ix, old.used * 2 > old.cap ? old.used * 2 : old.cap / 2);

	if (ret) {
		*ix = old;
		return ret;
	}
	for (uint64_t i = 0; i < old.cap; i++) {
		const struct ksm_index_slot *s = &old.slots[i];

		if (s->id != KSM_INDEX_NONE && s->id != TOMB)
			ksm_index_insert(ix, s->hash, s->group, s->id);
	}
	free(old.slots);
	return 0;
}

int ksm_index_insert(struct ksm_index *ix, uint64_t hash, uint32_t group, uint32_t id)
{
	uint64_t i;

	if ((ix->used + ix->tombs + 1) * 4 > ix->cap * 3) {
		int ret = grow(ix);

		if (ret)
			return ret;
	}
	for (i = slot_of(ix, hash, group);
	     ix->slots[i].id != KSM_INDEX_NONE && ix->slots[i].id != TOMB;
	     i = (i + 1) & (ix->cap - 1))
		;
	if (ix->slots[i].id == TOMB)
		ix->tombs--;
	ix->slots[i] = (struct ksm_index_slot){.hash = hash, .group = group, .id = id};
	ix->used++;
	return 0;
}

bool ksm_index_remove(struct ksm_index *ix, uint64_t hash, uint32_t group, uint32_t id)
{
	for (uint64_t i = slot_of(ix, hash, group);; i = (i + 1) & (ix->cap - 1)) {
		struct ksm_index_slot *s = &ix->slots[i];

		if (s->id == KSM_INDEX_NONE)
			return false;
		if (s->id == id && s->hash == hash && s->group == group) {
			s->id = TOMB;
			ix->used--;
			ix->tombs++;
			return true;
		}
	}
}
