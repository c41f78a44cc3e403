/* lvfleet_internal.h - the domain records shared by lvfleet.c (life of domains) and
 * lvstats.c (their figures). Not for other modules. */
#ifndef VMM_LIBVIRT_LVFLEET_INTERNAL_H
#define VMM_LIBVIRT_LVFLEET_INTERNAL_H

#include <glib.h>
#include <stdbool.h>

#include "vmm/libvirt/backend.h"
#include "vmm/libvirt/domxml.h"
#include "vmm/libvirt/lvfleet.h"

/* libvirt's reasons (virDomainRunningReason, virDomainShutoffReason, ...). */
enum {
	LV_RUNNING_BOOTED = 1,
	LV_RUNNING_RESTORED = 3,
	LV_SHUTDOWN_USER = 1,
	LV_SHUTOFF_UNKNOWN = 0,
	LV_SHUTOFF_SHUTDOWN = 1,
	LV_SHUTOFF_DESTROYED = 2,
	LV_SHUTOFF_CRASHED = 3,
	LV_SHUTOFF_SAVED = 5,
	LV_SHUTOFF_FAILED = 6,
};

/* STOPPED event details (virDomainEventStoppedDetailType). */
enum {
	LV_STOPPED_SHUTDOWN = 0,
	LV_STOPPED_DESTROYED = 1,
	LV_STOPPED_CRASHED = 2,
	LV_STOPPED_SAVED = 4,
	LV_STOPPED_FAILED = 5,
};

struct lvdom {
	char name[LV_NAME_MAX];
	uint8_t uuid[LV_UUID_LEN];
	bool has_def;	   /* @def holds its definition; false: a `ksmvmm run` guest */
	struct domdef def; /* what the next start builds (and dumpxml shows) */
	bool persistent;   /* defined in the state directory */
	bool autostart;
	bool owned;	 /* started by us: its slot is freed when it ends */
	bool restored;	 /* it runs from a snapshot (DOMAIN_RESTORE), not from a boot */
	int slot;	 /* fleet slot while it runs, -1 otherwise */
	int id;		 /* libvirt's domain id while it runs */
	int stop_reason; /* LV_SHUTOFF_* the pending stop will end with, or -1 */
	int off_reason;	 /* LV_SHUTOFF_* of its last end */
};

struct lvfleet {
	struct fleet *fleet;
	struct options base;
	struct statedir *sd; /* NULL: nothing persists */
	struct lv_server *server;
	GPtrArray *doms; /* struct lvdom * */
	int next_id;
	bool kvm_ready;
};

/* lvdom.c: the records. */
void lvdom_fail(struct lv_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lvdom_free(gpointer p); /* GPtrArray's free function */
/* The domain of key @k, or NULL (lvdom_find_or_fail: with libvirt's "not found" in @e). */
struct lvdom *lvdom_find(struct lvfleet *lf, const struct lv_key *k);
struct lvdom *lvdom_find_or_fail(struct lvfleet *lf, const struct lv_key *k, struct lv_err *e);
/* The fleet's view of a running domain; false if it has no guest (any more). */
bool lvdom_guest_info(struct lvfleet *lf, const struct lvdom *d, struct fleet_guest_info *gi);
/* What libvirt sees of @d now. */
void lvdom_fill(struct lvfleet *lf, const struct lvdom *d, struct lv_dom *out);
/* Tell the clients that registered for lifecycle events. */
void lvdom_emit(struct lvfleet *lf, const struct lvdom *d, int event, int detail);
/* Build and start @d's guest from its definition; 0, or -1 with @e. */
int lvdom_start(struct lvfleet *lf, struct lvdom *d, struct lv_err *e);
/* Ask @d's guest to stop; it ends with LV_SHUTOFF_@reason. 0, or -1 (not running). */
int lvdom_stop(struct lvfleet *lf, struct lvdom *d, int reason, struct lv_err *e);
/* Stop @d's guest and wait until it is off (libvirt's destroy and save are synchronous);
 * @d may be freed meanwhile (a transient domain goes). 0, or -1 with @e. */
int lvdom_end(struct lvfleet *lf, struct lvdom *d, int reason, struct lv_err *e);
/* Whether /dev/kvm is open (opened on first use); false with the reason in @e. */
bool lvdom_kvm_ready(struct lvfleet *lf, const char *name, struct lv_err *e);
/* Give running guest @slot to @d (started or restored now) and tell the clients. */
void lvdom_running(struct lvfleet *lf, struct lvdom *d, int slot, int detail);
/* @name and @uuid against the domains there are: both free, or both of one domain
 * (*@same: the domain of that name, or NULL). 0, or -1 with @e. */
int lvdom_check_name_uuid(struct lvfleet *lf, const char *name, const uint8_t *uuid,
			  struct lvdom **same, struct lv_err *e);
/* The same for @def's name and UUID. */
int lvdom_check_identity(struct lvfleet *lf, const struct domdef *def, struct lvdom **same,
			 struct lv_err *e);
/* A new record holding @def (taken over), not persistent, not running. */
struct lvdom *lvdom_new(struct lvfleet *lf, struct domdef *def);
/* Parse @xml with libvirt's parser; on failure libvirt's own message goes to @e. */
int lvdom_parse(const char *xml, bool validate, struct domdef *def, struct lv_err *e);

/* lvdefs.c: the backend ops on definitions. */
char *lvdefs_xml_desc(void *be, const struct lv_key *k, unsigned flags, struct lv_err *e);
int lvdefs_define(void *be, const char *xml, bool validate, struct lv_dom *out, struct lv_err *e);
int lvdefs_undefine(void *be, const struct lv_key *k, unsigned flags, struct lv_err *e);
int lvdefs_create_xml(void *be, const char *xml, unsigned flags, struct lv_dom *out,
		      struct lv_err *e);
int lvdefs_set_autostart(void *be, const struct lv_key *k, bool on, struct lv_err *e);
char *lvdefs_get_metadata(void *be, const struct lv_key *k, int type, const char *uri,
			  struct lv_err *e);

/* lvsave.c: DOMAIN_SAVE and DOMAIN_RESTORE on snapshot directories. */
int lvsave_save(void *be, const struct lv_key *k, const char *path, struct lv_err *e);
int lvsave_restore(void *be, const char *path, struct lv_dom *out, struct lv_err *e);

/* lvstats.c: the figures of a domain. */
int lvstats_memory(struct lvfleet *lf, struct lvdom *d, struct lv_memstat *out, size_t max);
int lvstats_domain(struct lvfleet *lf, struct lvdom *d, struct lv_dom *info, unsigned stats,
		   struct lv_param *out, size_t max);
int lvstats_node_get(struct lvfleet *lf, struct lv_param *out, size_t max);
int lvstats_node_set(struct lvfleet *lf, const struct lv_param *in, size_t n, struct lv_err *e);
/* The counters of a running domain's disk @path (target dev or source file); 0, or -1
 * with @e (LV_ERR_INVALID_ARG) for a disk it does not have. */
int lvstats_block(struct lvfleet *lf, struct lvdom *d, const char *path, struct lv_blkstat *out,
		  struct lv_err *e);
/* The balloon's size of a running domain in KiB (0 without one). */
uint64_t lvstats_balloon_kib(struct lvfleet *lf, const struct lvdom *d);

/* lvxml.c: the XML of a `ksmvmm run` guest (no definition), g_malloc'd. */
char *lvxml_of_guest(const struct lvdom *d, const struct fleet_guest_info *info,
		     const struct options *base);

#endif
