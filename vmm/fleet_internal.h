/* fleet_internal.h - the fleet's slots, shared by fleet.c (life), fleet_merge.c (the
 * merge engine) and fleet_query.c (requests to one guest). Not for other modules: they
 * use fleet.h.
 *
 * A slot holds an entry; an entry holds a guest and a count of its users. Whoever uses a
 * guest outside the fleet lock holds a reference (fleet_get / fleet_put), so removing a
 * guest from its slot (a libvirt domain that ended) never frees what another thread is
 * still reading: the last fleet_put frees it.
 */
#ifndef VMM_FLEET_INTERNAL_H
#define VMM_FLEET_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "vmm/fleet.h"

#define FLEET_MAX_GROUPS OPT_MAX_GROUP_RULES + 1

struct fleet_entry {
	struct guest *g; /* NULL while the slot is reserved for a guest being built */
	unsigned refs;	 /* under fleet.lock; the slot itself holds one */
};

struct fleet {
	size_t nr;		    /* slots: --count, or OPT_MAX_GUESTS when dynamic */
	struct fleet_entry **slots; /* NULL: free */
	pthread_mutex_t lock;	    /* slots and refs */
	bool dynamic;		    /* guests come and go (fleet_add_guest) */
	struct options base;	    /* dynamic: fleet-wide settings */
	enum merge_mode merge;
	struct ksm *ksm; /* the merge engine (--merge=vmm), else NULL */
	unsigned nr_groups;
	char groups[FLEET_MAX_GROUPS][OPT_GROUP_NAME_MAX]; /* group id -> name */
	void (*end_cb)(void *opaque, size_t slot);
	void *end_opaque;
};

/* The id of sharing group @name (made on first use), UINT32_MAX when there are too many.
 * Caller holds f->lock. */
uint32_t fleet_group_id(struct fleet *f, const char *name);

/* Register @g with the engine (g->group set). Returns 0 or -errno. */
int fleet_register_guest(struct fleet *f, struct guest *g);

/* Take the merge mode of @o; for --merge=vmm create the engine with room for @max_pages
 * pool pages and register the guests already in their slots. Returns 0 or -ENOMEM
 * (logged). */
int fleet_setup_merging(struct fleet *f, const struct options *o, uint64_t max_pages);

/* Put @g in slot @i (reserved or free) with the slot's reference. Returns 0 or -ENOMEM. */
int fleet_fill(struct fleet *f, size_t i, struct guest *g);

/* Detach @g from the engine and free it (never started, or ended). */
void fleet_free_guest(struct fleet *f, struct guest *g);

/* Reserve a free slot for a guest called @name: its index, -EEXIST or -ENOSPC; *@ram
 * gets the RAM of the guests in the fleet. fleet_release_slot gives it back unused. */
int fleet_reserve_slot(struct fleet *f, const char *name, unsigned long long *ram);
void fleet_release_slot(struct fleet *f, size_t i);

/* Build, register, fill and start a guest of @o in reserved slot @i. Returns 0 or
 * -errno (logged); once filled, the slot holds the guest whether it started or not. */
typedef int fleet_build_fn(struct fleet *f, const struct options *o, size_t i, void *opaque);

/* fleet_add_guest with @build making the guest: reserve a slot for @o's name, check the
 * host's memory, build; the slot index, or -errno with a reason in @err. */
int fleet_add_with(struct fleet *f, const struct options *o, fleet_build_fn *build, void *opaque,
		   char *err, size_t len);

/* The entry in slot @i with a reference taken, or NULL if no guest is there. */
struct fleet_entry *fleet_get(struct fleet *f, size_t i);

/* Drop a reference from fleet_get; the last one frees a removed guest. */
void fleet_put(struct fleet *f, struct fleet_entry *e);

#endif
