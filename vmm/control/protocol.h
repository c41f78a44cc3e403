/* protocol.h - the control protocol: one JSON object per line, requests and replies.
 *
 * A client sends one request line, e.g. {"cmd":"verify","name":"g0"}, and gets exactly
 * one reply line: {"ok":true,...} or {"ok":false,"error":"..."}. This module only
 * parses and builds lines; it never touches sockets or the fleet, so both the VMM
 * (vmm/control/control.c) and ksmctl use it, and it is unit-tested without KVM.
 *
 * Every string returned by a proto_build_* or proto_reply_* function is one line
 * ending in '\n', allocated with g_malloc: release it with g_free().
 */
#ifndef VMM_CONTROL_PROTOCOL_H
#define VMM_CONTROL_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_MAX_LINE 65536	    /* longest request line, '\n' excluded */
#define PROTO_MAX_REPLY (16u << 20) /* longest reply line a client accepts */
#define PROTO_MAX_DEPTH 16	    /* deepest nesting of [ and { accepted */
#define PROTO_NAME_MAX 64	    /* name buffers: names are 1..63 bytes */
#define PROTO_STATE_MAX 16	    /* guest state buffers ("running", ...) */
#define PROTO_TEXT_MAX 256	    /* error and reason buffers */
#define PROTO_KEY_MAX 32	    /* tunable names of "set" */
#define PROTO_PATH_MAX 4096	    /* "path" buffers: absolute paths of 1..4095 bytes */

/* Requests. New commands go at the end and into the table in protocol.c. */
enum proto_cmd {
	PROTO_CMD_PING,	   /* is the VMM alive? */
	PROTO_CMD_LIST,	   /* one entry per guest slot */
	PROTO_CMD_STOP,	   /* stop one guest, or all without a name */
	PROTO_CMD_VERIFY,  /* workload guests check their pages */
	PROTO_CMD_FAULT,   /* test hook: a workload guest triple-faults */
	PROTO_CMD_STATS,   /* merge engine figures, per guest and for the engine */
	PROTO_CMD_SET,	   /* set an engine tunable: "key" and "value" */
	PROTO_CMD_HISTORY, /* samples of the last hour; with a name, that guest's too */
	PROTO_CMD_REPORT,  /* per-guest attribution, sharing matrix, host accounting */
	PROTO_CMD_PROBE,   /* workload guests time their first write to merged pages */
	PROTO_CMD_WATCH,   /* a workload guest times the stalls it notices: "name", "ms" */
	PROTO_CMD_DEVICES, /* a guest's devices and their counters: "name" */
	PROTO_CMD_BALLOON, /* set a guest's balloon target: "name" and "bytes" */
	/* test hook: a workload guest posts a bad virtio request: "name", "key" (the
	 * attack, e.g. "loop"), "value" (the index of the device among its virtio ones) */
	PROTO_CMD_HOSTILE,
	PROTO_CMD_SNAPSHOT, /* save a running guest to a new directory: "name", "path" */
	PROTO_CMD_CLONE,    /* fork a running guest into "count" new guests: "name", "count" */
	PROTO_CMD_COUNT,
};

/* A parsed request. */
struct proto_request {
	enum proto_cmd cmd;
	char name[PROTO_NAME_MAX]; /* target guest; "" = none given (all guests) */
	char key[PROTO_KEY_MAX];   /* "set": the tunable; "hostile": the attack */
	uint64_t value;		   /* "set": its new value; "hostile": the device */
	uint32_t ms;		   /* "watch": how long, 1..PROTO_WATCH_MAX_MS */
	uint32_t threshold_us;	   /* "watch": shortest stall, 1..PROTO_WATCH_MAX_THRESHOLD_US */
	uint64_t bytes;		   /* "balloon": target size, 0..PROTO_BALLOON_MAX_BYTES */
	char path[PROTO_PATH_MAX]; /* "snapshot": the directory to create (absolute) */
	uint32_t count;		   /* "clone": how many, 1..PROTO_CLONE_MAX */
	/* "verify": guests not done this many seconds after the request are reported as
	 * not answering, 1..PROTO_VERIFY_MAX_S; 0 = none given (each guest gets
	 * PROTO_VERIFY_GUEST_S from the start of its own check) */
	uint32_t timeout_s;
};

#define PROTO_VERIFY_MAX_S 86400
#define PROTO_VERIFY_GUEST_S 120

/* Does @cmd take a "timeout_s" (verify)? */
bool proto_cmd_takes_timeout(enum proto_cmd cmd);

#define PROTO_CLONE_MAX 256

/* Does @cmd take a "count" (clone)? */
bool proto_cmd_takes_count(enum proto_cmd cmd);

/* Does @cmd take a "path"? */
bool proto_cmd_takes_path(enum proto_cmd cmd);

#define PROTO_BALLOON_MAX_BYTES (1ull << 40) /* 1 TiB: no guest is larger */

#define PROTO_WATCH_MAX_MS 60000
#define PROTO_WATCH_MAX_THRESHOLD_US 1000
#define PROTO_WATCH_THRESHOLD_US 20 /* default of "threshold_us" */

/* One guest in a "list" reply. */
struct proto_guest {
	char name[PROTO_NAME_MAX];
	char state[PROTO_STATE_MAX]; /* guest_state_name() */
	uint64_t mem_bytes;
	unsigned cpus;
	bool workload;		     /* supports verify and fault */
	bool ready;		     /* a workload guest that has filled its memory */
	char reason[PROTO_TEXT_MAX]; /* why it ended; "" while alive */
};

/* One guest in a "verify" reply: counts, or an error. */
struct proto_result {
	char name[PROTO_NAME_MAX];
	char error[PROTO_TEXT_MAX]; /* "" = verified, @ok and @bad are valid */
	uint64_t ok;		    /* pages with the expected content */
	uint64_t bad;		    /* pages that differ: merging corrupted memory */
};

#define PROTO_DEV_MAX 64       /* devices of one guest a client accepts */
#define PROTO_DEV_COUNTERS 16  /* counters of one device */
#define PROTO_DEV_KEY_MAX 24   /* counter name buffers: [a-z0-9_], 1..23 bytes */
#define PROTO_DEV_IRQ_MAX 1023 /* highest interrupt line a reply may name */

/* One device in a "devices" reply (see struct fleet_device). */
struct proto_device {
	char kind[16];	 /* "uart", "console", "balloon", "blk", ... */
	char bus[8];	 /* "pio" or "mmio" */
	uint64_t base;	 /* port or guest-physical address of its registers */
	uint64_t size;	 /* bytes (ports) of its register window */
	int irq;	 /* interrupt line, -1 for none */
	char state[16];	 /* "driver-ok", "needs-reset", "active", ... */
	char detail[96]; /* e.g. a disk's path and mode; "" for none */
	unsigned ncounters;
	struct proto_counter {
		char key[PROTO_DEV_KEY_MAX];
		uint64_t value;
	} counters[PROTO_DEV_COUNTERS];
};

/* A parsed reply. Arrays are g_malloc'd (NULL when the member is absent); release
 * them with proto_reply_clear(). */
struct proto_reply {
	bool ok;
	char error[PROTO_TEXT_MAX]; /* set when !ok */
	struct proto_guest *guests; /* "guests" (list) */
	size_t nguests;
	struct proto_result *results; /* "results" (verify) */
	size_t nresults;
	char (*stopped)[PROTO_NAME_MAX]; /* "stopped" (stop) */
	size_t nstopped;
	char (*clones)[PROTO_NAME_MAX]; /* "clones" (clone): the guests made */
	size_t nclones;
	char guest[PROTO_NAME_MAX];   /* "guest" (devices); "" when absent */
	struct proto_device *devices; /* "devices" (devices) */
	size_t ndevices;
};

/* The wire name of @cmd ("list", ...), or NULL if @cmd is out of range. */
const char *proto_cmd_name(enum proto_cmd cmd);

/* The command called @name: 0 with *cmd set, or -ENOENT. */
int proto_cmd_lookup(const char *name, enum proto_cmd *cmd);

/* Whether @cmd accepts a name / requires one. */
bool proto_cmd_takes_name(enum proto_cmd cmd);
bool proto_cmd_needs_name(enum proto_cmd cmd);

/* Whether @cmd needs "bytes" (balloon). */
bool proto_cmd_takes_bytes(enum proto_cmd cmd);

/* Whether @key is a valid device counter name: 1..PROTO_DEV_KEY_MAX-1 of [a-z0-9_]. */
bool proto_counter_key_ok(const char *key);

/* Whether @cmd needs "key" and "value" (set, hostile). */
bool proto_cmd_takes_key_value(enum proto_cmd cmd);

/* Parse one request line of @len bytes (a trailing "\n" or "\r\n" is allowed; @line
 * need not be NUL-terminated). Rejects: over-long lines, NUL bytes, invalid UTF-8,
 * nesting deeper than PROTO_MAX_DEPTH, non-JSON, non-objects, a missing or unknown
 * "cmd", unknown members, wrong types, bad names. Returns 0 with *req filled, or
 * -EINVAL with a one-line reason (suitable for a client) in @err. */
int proto_parse_request(const char *line, size_t len, struct proto_request *req, char *err,
			size_t errlen);

/* The request line for @req (client side). NULL if @req is invalid (unknown
 * command, a name where none is accepted, a missing or bad name). */
char *proto_build_request(const struct proto_request *req);

/* {"ok":true} */
char *proto_reply_ok(void);

/* {"ok":false,"error":"<formatted message>"} */
char *proto_reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* {"ok":true,"guests":[{"name","state","mem_bytes","cpus","workload","ready","reason"},...]} */
char *proto_reply_guests(const struct proto_guest *g, size_t n);

/* {"ok":true,"results":[{"name","ok","bad"} or {"name","error"},...]} */
char *proto_reply_results(const struct proto_result *r, size_t n);

/* {"ok":true,"stopped":["g0",...]} */
char *proto_reply_stopped(const char *const *names, size_t n);

/* {"ok":true,"clones":["g0-1",...]} */
char *proto_reply_clones(const char *const *names, size_t n);

/* {"ok":true,"guest":"g0","devices":[{"kind","bus","base","size","irq","state","detail",
 * "counters":{"reads":N,...}},...]}. Counters with an invalid key are left out. */
char *proto_reply_devices(const char *guest, const struct proto_device *d, size_t n);

/* Parse one reply line of @len bytes (client side; at most PROTO_MAX_REPLY). Returns
 * 0 with *r filled (call proto_reply_clear() afterwards), or -EINVAL with a reason in
 * @err and *r left empty. A well-formed error reply returns 0 with r->ok false. */
int proto_parse_reply(const char *line, size_t len, struct proto_reply *r, char *err,
		      size_t errlen);

/* Free the arrays of @r and empty it. */
void proto_reply_clear(struct proto_reply *r);

#endif
