/* options.h - the `ksmvmm run` command line and the workload memory profile. */
#ifndef VMM_OPTIONS_H
#define VMM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPT_MAX_GUESTS 256
#define OPT_MAX_CPUS 8

/* Default extent of placement=shuffled: 64 KiB runs. */
#define PROFILE_DEFAULT_EXTENT 16

/* A workload memory profile: percentages of profile pages (the rest is unique). */
struct profile {
	unsigned zero;
	unsigned shared;
	unsigned dup;
	unsigned placement; /* enum wl_placement */
	unsigned extent;    /* shuffled placement moves runs of this many pages */
	unsigned mutate_pct;
	unsigned mutate_rate; /* pages per second, 0 = no mutation */
	unsigned free;	      /* percent of its spare shared pages the guest reports free */
	uint64_t seed;
};

/* Virtio devices every guest gets unless --virtio says otherwise. */
enum opt_virtio {
	OPT_VIRTIO_CONSOLE = 1u << 0,
	OPT_VIRTIO_RNG = 1u << 1,
	OPT_VIRTIO_BALLOON = 1u << 2,
	OPT_VIRTIO_DEFAULT = OPT_VIRTIO_CONSOLE | OPT_VIRTIO_RNG | OPT_VIRTIO_BALLOON,
};

#define OPT_MAX_DISKS 5 /* with console, rng and balloon: 8 virtio devices */

enum opt_disk_mode { OPT_DISK_RW, OPT_DISK_READONLY, OPT_DISK_SNAPSHOT };

/* --disk PATH[,readonly|,snapshot][,serial=S]: a raw image as a virtio block device. */
struct opt_disk {
	char path[1024];
	enum opt_disk_mode mode;
	char serial[21]; /* "" : the VMM makes one from the guest and disk index */
};

enum guest_kind { GUEST_KIND_WORKLOAD, GUEST_KIND_LINUX };

enum merge_mode {
	MERGE_VMM,  /* our engine (default) */
	MERGE_OFF,  /* no merging */
	MERGE_HOST, /* MADV_MERGEABLE: the host kernel's KSM does it */
};

#define OPT_MAX_GROUP_RULES 64
#define OPT_GROUP_NAME_MAX 32

/* --share-group NAME (every guest) or NAME=GUEST[,GUEST...] (those guests). The group
 * "none" opts out: only zero pages are released. */
struct group_rule {
	char group[OPT_GROUP_NAME_MAX];
	const char *guests; /* comma-separated guest names, or NULL for the default */
};

#define OPT_MAX_SEED_RULES 64

/* --seed N=GUEST[,GUEST...]: those workload guests use seed N instead of the profile's,
 * so their "shared" pages differ from the other guests' (tests of the sharing matrix). */
struct seed_rule {
	uint64_t seed;
	const char *guests; /* comma-separated guest names */
};

struct options {
	unsigned count;
	uint64_t mem;
	unsigned cpus;
	const char *name; /* guest name prefix; guests are PREFIX0..PREFIXn-1 */
	bool name_exact;  /* one guest named exactly @name (a libvirt domain) */
	uint8_t uuid[16]; /* with @name_exact: the domain's UUID; else each guest gets one */
	enum guest_kind kind;
	struct profile profile;
	const char *workload_image; /* flat binary of the workload guest */
	const char *ram_image;	    /* workload RAM loaded from this file ("%d": guest index) */
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	const char *control;   /* socket path or NULL */
	const char *libvirt;   /* libvirt remote-protocol socket path or NULL */
	const char *state_dir; /* `ksmvmm serve`: where domain definitions persist */
	const char *restore;   /* `ksmvmm run --restore DIR`: the guests come from a snapshot */
	const char *metrics; /* --metrics [ADDR:]PORT (checked by options_parse_metrics) or NULL */
	const char *console_dir;
	int verbose;
	enum merge_mode merge;
	unsigned nr_group_rules;
	struct group_rule group_rules[OPT_MAX_GROUP_RULES];
	unsigned nr_seed_rules;
	struct seed_rule seed_rules[OPT_MAX_SEED_RULES];
	/* Engine tunables; 0 keeps the engine's default. */
	uint64_t ksm_interval_ms;
	uint64_t ksm_batch_pages;
	uint64_t ksm_max_stall_us;
	uint64_t ksm_scan_rate;
	unsigned virtio; /* enum opt_virtio bits */
	unsigned nr_disks;
	struct opt_disk disks[OPT_MAX_DISKS];
};

/* The sharing group name of guest @name under @o's rules ("fleet" by default). */
const char *options_group_of(const struct options *o, const char *name);

/* The workload seed of guest @name: the first --seed rule naming it, else the profile's. */
uint64_t options_seed_of(const struct options *o, const char *name);

/* Parse "shared=50,zero=10[,dup=5][,placement=shuffled][,mutate=PCT@RATE][,seed=N]".
 * Returns 0, or -EINVAL after writing a reason into @err (size @errlen). */
int profile_parse(const char *s, struct profile *p, char *err, size_t errlen);

/* The checks that need the whole guest: kind against kernel, initrd and cmdline, the
 * profile against the balloon and --ram-image, a workload guest's memory. Run by
 * options_parse, and by whoever builds options another way (a libvirt domain). Returns
 * 0, or -EINVAL with a one-line reason in @err. */
int options_check(const struct options *o, char *err, size_t errlen);
#define OPT_METRICS_HOST_MAX 64 /* an IPv6 literal and its NUL fit */

/* Parse @s, the argument of --metrics: "PORT" (the loopback address 127.0.0.1),
 * "ADDR:PORT" with ADDR an IPv4 address or "localhost", or "[ADDR]:PORT" with an IPv6
 * one. Any other address than loopback must be given explicitly. PORT is 0..65535 (0: a
 * free port the kernel picks). Writes the address as text into @host and the port into
 * *@port. Returns 0, or -EINVAL with a one-line reason in @err. */
int options_parse_metrics(const char *s, char host[OPT_METRICS_HOST_MAX], unsigned *port, char *err,
			  size_t errlen);

/* The text of `ksmvmm --help`: a line for every option options_parse accepts. */
extern const char options_usage[];

/* Parse the arguments after `run`. Returns 0, or -EINVAL with a one-line reason in @err. */
int options_parse(int argc, char **argv, struct options *o, char *err, size_t errlen);

/* The socket `ksmvmm serve` takes libvirt's clients on without --libvirt. */
#define OPT_DEFAULT_LIBVIRT_SOCKET "/run/ksmvmm/libvirt-sock"

/* Parse the arguments after `serve`: fleet-wide options only (guests come from domain
 * XML), --state-dir required. Returns 0, or -EINVAL with a reason in @err. */
int options_parse_serve(int argc, char **argv, struct options *o, char *err, size_t errlen);

#endif
