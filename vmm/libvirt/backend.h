/* backend.h - what the libvirt endpoint asks of the fleet.
 *
 * The remote-protocol server (lvserver.c, procs.c) decodes a call, asks the backend
 * through these ops and encodes the answer. vmm/libvirt/lvfleet.c implements them on
 * the real fleet; unit tests and fuzz targets use a fake. Every op runs on the thread of
 * the GLib main loop that serves the socket and must not block for long (starting a
 * guest builds its VM, but never waits for it to boot; shutdown only asks). Save and
 * restore are the exception: they hold the loop while the guest's memory is written or
 * read, as libvirt's save and restore return only when they are done.
 *
 * Errors: an op returns 0 (or a count) on success and -1 on failure, with @e filled:
 * e->code is libvirt's virErrorNumber (LV_ERR_*), e->msg the text virsh prints.
 */
#ifndef VMM_LIBVIRT_BACKEND_H
#define VMM_LIBVIRT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LV_NAME_MAX 64
#define LV_UUID_LEN 16

/* libvirt's virErrorNumber values the backend uses. */
enum lv_err_code {
	LV_ERR_INTERNAL = 1,		  /* VIR_ERR_INTERNAL_ERROR */
	LV_ERR_NO_SUPPORT = 3,		  /* VIR_ERR_NO_SUPPORT */
	LV_ERR_OPERATION_FAILED = 9,	  /* VIR_ERR_OPERATION_FAILED */
	LV_ERR_INVALID_ARG = 8,		  /* VIR_ERR_INVALID_ARG */
	LV_ERR_XML = 27,		  /* VIR_ERR_XML_ERROR */
	LV_ERR_NO_DOMAIN = 42,		  /* VIR_ERR_NO_DOMAIN */
	LV_ERR_OPERATION_INVALID = 55,	  /* VIR_ERR_OPERATION_INVALID (e.g. already running) */
	LV_ERR_CONFIG_UNSUPPORTED = 67,	  /* VIR_ERR_CONFIG_UNSUPPORTED */
	LV_ERR_ARGUMENT_UNSUPPORTED = 74, /* VIR_ERR_ARGUMENT_UNSUPPORTED (a flag we lack) */
	LV_ERR_NO_METADATA = 80,	  /* VIR_ERR_NO_DOMAIN_METADATA */
};

struct lv_err {
	int code;
	char msg[512];
};

/* virDomainState */
enum lv_state {
	LV_STATE_RUNNING = 1,
	LV_STATE_SHUTDOWN = 4, /* being shut down */
	LV_STATE_SHUTOFF = 5,
	LV_STATE_CRASHED = 6,
};

/* One domain as libvirt sees it. */
struct lv_dom {
	char name[LV_NAME_MAX];
	uint8_t uuid[LV_UUID_LEN];
	int id;		   /* > 0 while running, -1 otherwise */
	int state, reason; /* enum lv_state and libvirt's reason for it */
	uint64_t max_kib;  /* <memory> */
	uint64_t cur_kib;  /* <currentMemory>, or what the balloon leaves the guest */
	unsigned vcpus;
	uint64_t cpu_ns; /* vCPU time used, 0 if unknown */
	bool persistent;
	bool autostart;
};

/* Find a domain by exactly one key: @name non-NULL, or @uuid non-NULL, or @id > 0. */
struct lv_key {
	const char *name;
	const uint8_t *uuid;
	int id;
};

/* virTypedParameterType */
enum lv_param_type {
	LV_PARAM_INT = 1,
	LV_PARAM_UINT = 2,
	LV_PARAM_LLONG = 3,
	LV_PARAM_ULLONG = 4,
	LV_PARAM_DOUBLE = 5,
	LV_PARAM_BOOLEAN = 6,
	LV_PARAM_STRING = 7,
};

#define LV_PARAM_FIELD_MAX 80 /* VIR_TYPED_PARAM_FIELD_LENGTH */

struct lv_param {
	char field[LV_PARAM_FIELD_MAX];
	int type; /* enum lv_param_type */
	union {
		int32_t i;
		uint32_t ui;
		int64_t l;
		uint64_t ul;
		double d;
		bool b;
		char s[256];
	} v;
};

/* One virDomainMemoryStat: tag (VIR_DOMAIN_MEMORY_STAT_*) and value (KiB for sizes). */
struct lv_memstat {
	int tag;
	uint64_t val;
};

/* One disk's counters (virDomainBlockStatsStruct, and flush_req for BLOCK_STATS_FLAGS):
 * requests and bytes since the guest started; -1 where unknown, as libvirt has it. */
struct lv_blkstat {
	int64_t rd_req, rd_bytes;
	int64_t wr_req, wr_bytes;
	int64_t flush_req;
	int64_t errs;
};

/* Lifecycle events (virDomainEventType) and the details used. */
enum lv_event {
	LV_EVENT_DEFINED = 0,	/* detail 0 added, 1 updated */
	LV_EVENT_UNDEFINED = 1, /* detail 0 removed */
	LV_EVENT_STARTED = 2,	/* detail 0 booted */
	LV_EVENT_STOPPED = 5,	/* detail 0 shutdown, 1 destroyed, 2 crashed, 5 failed */
	LV_EVENT_SHUTDOWN = 6,	/* detail 0 finished (guest asked to shut down) */
	LV_EVENT_CRASHED = 8,	/* detail 0 panicked */
};

#define LV_MAX_DOMAINS 1024

struct lv_backend_ops {
	/* Fill up to @max domains (running and defined); returns how many. */
	int (*list)(void *be, struct lv_dom *out, size_t max);
	int (*lookup)(void *be, const struct lv_key *k, struct lv_dom *out, struct lv_err *e);
	/* The domain's XML (flags: virDomainXMLFlags); a g_malloc'd string, NULL on error. */
	char *(*xml_desc)(void *be, const struct lv_key *k, unsigned flags, struct lv_err *e);
	/* Persistently define (or redefine) from @xml; @validate: VIR_DOMAIN_DEFINE_VALIDATE. */
	int (*define)(void *be, const char *xml, bool validate, struct lv_dom *out,
		      struct lv_err *e);
	int (*undefine)(void *be, const struct lv_key *k, unsigned flags, struct lv_err *e);
	/* Start a defined domain (DOMAIN_CREATE / CREATE_WITH_FLAGS). */
	int (*start)(void *be, const struct lv_key *k, struct lv_dom *out, struct lv_err *e);
	/* Start a transient domain from @xml (CREATE_XML). */
	int (*create_xml)(void *be, const char *xml, unsigned flags, struct lv_dom *out,
			  struct lv_err *e);
	int (*shutdown)(void *be, const struct lv_key *k, struct lv_err *e);
	int (*destroy)(void *be, const struct lv_key *k, struct lv_err *e);
	int (*set_autostart)(void *be, const struct lv_key *k, bool on, struct lv_err *e);
	/* Up to @max memory stats; returns how many, or -1. */
	int (*memory_stats)(void *be, const struct lv_key *k, struct lv_memstat *out, size_t max,
			    struct lv_err *e);
	/* The typed parameters of one domain for CONNECT_GET_ALL_DOMAIN_STATS (@stats: the
	 * virDomainStatsTypes mask asked for, 0 = all); returns how many, or -1. */
	int (*domain_stats)(void *be, const struct lv_key *k, unsigned stats, struct lv_param *out,
			    size_t max, struct lv_err *e);
	/* GET_METADATA: @type 0 description, 1 title, 2 element (@uri names its namespace).
	 * A g_malloc'd string, or NULL with e->code LV_ERR_NO_METADATA. */
	char *(*get_metadata)(void *be, const struct lv_key *k, int type, const char *uri,
			      struct lv_err *e);
	/* NODE_GET_MEMORY_PARAMETERS / SET: libvirt's host-KSM figures (shm_*). */
	int (*node_memory_get)(void *be, struct lv_param *out, size_t max);
	int (*node_memory_set)(void *be, const struct lv_param *in, size_t n, struct lv_err *e);
	/* DOMAIN_BLOCK_STATS(_FLAGS): the counters of the running domain's disk @path (its
	 * target dev, e.g. "vda", or its source file). An unknown disk is LV_ERR_INVALID_ARG,
	 * a domain that does not run LV_ERR_OPERATION_INVALID. NULL: not supported. */
	int (*block_stats)(void *be, const struct lv_key *k, const char *path,
			   struct lv_blkstat *out, struct lv_err *e);
	/* DOMAIN_SAVE(_FLAGS): snapshot the running domain into the new directory @path
	 * (absolute, on the VMM's host), then stop it (shut off, reason saved). NULL: not
	 * supported. The procedure layer has refused every flag but VIR_DOMAIN_SAVE_RUNNING. */
	int (*save)(void *be, const struct lv_key *k, const char *path, struct lv_err *e);
	/* DOMAIN_RESTORE(_FLAGS): start the domain saved in @path (its name and UUID from
	 * the snapshot); @out: the domain now running. */
	int (*restore)(void *be, const char *path, struct lv_dom *out, struct lv_err *e);
};

/* The server side: the backend reports lifecycle changes here (any thread). Implemented
 * by lvserver.c; sent to every client that registered for lifecycle events. */
struct lv_server;
void lv_server_lifecycle(struct lv_server *s, const struct lv_dom *d, int event, int detail);

#endif
