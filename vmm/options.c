/* options.c - parse `ksmvmm run` arguments and workload memory profiles into struct options. */
#include "vmm/options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errbuf.h"
#include "lib/page.h"
#include "vmm/guest_abi.h"
#include "vmm/mem.h"

#define MIN_WORKLOAD_MEM (8ull << 20)

/* Parse a decimal in [0, max] filling all of @s. */
static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || *end || *out > max)
		return -EINVAL;
	return 0;
}

static int profile_pct(const char *key, const char *val, unsigned *dst, char *err, size_t errlen)
{
	unsigned long long v;

	if (parse_uint(val, 100, &v))
		return errbuf_set(err, errlen, -EINVAL, "profile: %s=%s is not a percentage 0..100",
				  key, val);
	*dst = (unsigned) v;
	return 0;
}

static int profile_mutate(const char *val, struct profile *p, char *err, size_t errlen)
{
	char buf[64];
	char *at;
	unsigned long long rate;

	if (strlen(val) >= sizeof(buf))
		return errbuf_set(err, errlen, -EINVAL, "profile: mutate=%s is too long", val);
	strcpy(buf, val);
	at = strchr(buf, '@');
	if (!at)
		return errbuf_set(err, errlen, -EINVAL,
				  "profile: mutate wants PCT@PAGES_PER_S, got '%s'", val);
	*at = '\0';
	if (profile_pct("mutate", buf, &p->mutate_pct, err, errlen))
		return -EINVAL;
	if (parse_uint(at + 1, 10000000, &rate))
		return errbuf_set(err, errlen, -EINVAL,
				  "profile: mutate rate '%s' is not 0..10000000 pages/s", at + 1);
	p->mutate_rate = (unsigned) rate;
	return 0;
}

static int profile_item(char *item, struct profile *p, char *err, size_t errlen)
{
	char *val = strchr(item, '=');
	unsigned long long seed;

	if (!val)
		return errbuf_set(err, errlen, -EINVAL, "profile: '%s' is not KEY=VALUE", item);
	*val++ = '\0';
	if (!strcmp(item, "shared"))
		return profile_pct(item, val, &p->shared, err, errlen);
	if (!strcmp(item, "zero"))
		return profile_pct(item, val, &p->zero, err, errlen);
	if (!strcmp(item, "dup"))
		return profile_pct(item, val, &p->dup, err, errlen);
	if (!strcmp(item, "extent")) {
		if (parse_uint(val, 65536, &seed) || seed == 0)
			return errbuf_set(err, errlen, -EINVAL,
					  "profile: extent '%s' is not 1..65536 pages", val);
		p->extent = (unsigned) seed;
		return 0;
	}
	if (!strcmp(item, "mutate"))
		return profile_mutate(val, p, err, errlen);
	if (!strcmp(item, "free"))
		return profile_pct(item, val, &p->free, err, errlen);
	if (!strcmp(item, "seed")) {
		if (parse_uint(val, ~0ull, &seed))
			return errbuf_set(err, errlen, -EINVAL,
					  "profile: seed '%s' is not a number", val);
		p->seed = seed;
		return 0;
	}
	if (!strcmp(item, "placement")) {
		if (!strcmp(val, "same"))
			p->placement = WL_PLACE_SAME;
		else if (!strcmp(val, "shuffled"))
			p->placement = WL_PLACE_SHUFFLED;
		else
			return errbuf_set(err, errlen, -EINVAL,
					  "profile: placement must be same or shuffled");
		return 0;
	}
	return errbuf_set(err, errlen, -EINVAL, "profile: unknown key '%s'", item);
}

int profile_parse(const char *s, struct profile *p, char *err, size_t errlen)
{
	char *copy, *item, *save = NULL;
	int ret = 0;

	*p = (struct profile){.seed = 1, .extent = PROFILE_DEFAULT_EXTENT};
	if (!s || !*s)
		return errbuf_set(err, errlen, -EINVAL, "profile: empty");
	copy = strdup(s);
	if (!copy)
		return errbuf_set(err, errlen, -EINVAL, "profile: out of memory");
	for (item = strtok_r(copy, ",", &save); item && !ret; item = strtok_r(NULL, ",", &save))
		ret = profile_item(item, p, err, errlen);
	free(copy);
	if (!ret && p->zero + p->shared + p->dup > 100)
		ret = errbuf_set(err, errlen, -EINVAL,
				 "profile: zero+shared+dup is %u%%, more than 100%%",
				 p->zero + p->shared + p->dup);
	return ret;
}

/* Every option of long_opts below has a line here that starts with it, and a row in
 * README.md's option table: tests/docs/options-help.sh keeps the three in step. */
const char options_usage[] =
    "usage: ksmvmm run --count N --mem SIZE [--cpus C] [--name PREFIX]\n"
    "                  (--guest workload [--profile PROFILE] [--seed N=GUESTS]\n"
    "                   [--ram-image FILE] [--workload-image FILE] |\n"
    "                   --kernel BZIMAGE|VMLINUX [--initrd FILE] [--cmdline STR])\n"
    "                  [--merge MODE] [--share-group RULE]... [engine tunables]\n"
    "                  [--control SOCKET] [--libvirt SOCKET] [--metrics [ADDR:]PORT]\n"
    "                  [--console DIR] [--verbose]\n"
    "       ksmvmm run --restore DIR [--count N] [--name PREFIX] [--share-group RULE]...\n"
    "                  [--merge MODE] [engine tunables] [--control SOCKET] [--libvirt SOCKET]\n"
    "                  [--metrics [ADDR:]PORT] [--console DIR] [--verbose]\n"
    "       ksmvmm serve --state-dir DIR [--libvirt SOCKET] [--control SOCKET]\n"
    "                  [--metrics [ADDR:]PORT] [--merge MODE] [engine tunables]\n"
    "                  [--console DIR] [--verbose]\n"
    "\n"
    "run: runs N identical guests in one process.\n"
    "serve: runs the domains libvirt's clients define and start (virsh -c\n"
    "       'ksmvmm+unix:///system?socket=SOCKET'); definitions persist in DIR.\n"
    "  --count N        guests to start (1..256, default 1)\n"
    "  --mem SIZE       RAM per guest, e.g. 256M or 1G (required)\n"
    "  --cpus C         vCPUs per guest (1..8, default 1)\n"
    "  --name PREFIX    guests are named PREFIX0..PREFIX<N-1> (default g)\n"
    "  --guest workload our memory-profile workload guest (build/guest/workload.bin)\n"
    "  --profile P      shared=50,zero=10[,dup=5][,placement=same|shuffled][,extent=16]\n"
    "                   [,mutate=PCT@PAGES_PER_S][,seed=N]  (percent of pages; rest unique)\n"
    "                   [,free=PCT]: report PCT%% of its spare shared pages free (balloon)\n"
    "  --seed N=GUESTS  those guests (g2,g3) use seed N: their shared pages differ\n"
    "  --ram-image FILE the workload's profile pages come from FILE (a memory dump), in\n"
    "                   page order; %d in FILE is the guest index (a file per guest)\n"
    "  --workload-image FILE\n"
    "                   run this workload guest binary instead of the one built\n"
    "  --disk PATH[,readonly|,snapshot][,serial=S]\n"
    "                   a raw image as a virtio disk (up to 5); snapshot: the image is\n"
    "                   never written, each guest keeps its writes in a private overlay\n"
    "  --virtio LIST    virtio devices besides disks: console,rng,balloon (default all\n"
    "                   three; none for none)\n"
    "  --restore DIR    start the guests from the snapshot in DIR (ksmctl snapshot): its\n"
    "                   memory, vCPUs, devices and definition; each guest gets a new\n"
    "                   identity, and with the engine they share the snapshot's pages\n"
    "  --kernel FILE    boot Linux from a bzImage or an uncompressed vmlinux ELF\n"
    "  --initrd FILE    the initramfs of --kernel\n"
    "  --cmdline STR    the kernel command line of --kernel\n"
    "  --merge MODE     vmm: our engine (default); host: the host kernel's KSM\n"
    "                   (MADV_MERGEABLE); off: no merging\n"
    "  --share-group NAME|NAME=GUEST[,GUEST...]\n"
    "                   non-zero pages merge only inside a group (default: one group\n"
    "                   for the fleet; the group none opts out)\n"
    "  --ksm-interval-ms MS\n"
    "                   engine: pause between passes (1..60000)\n"
    "  --ksm-batch PAGES\n"
    "                   engine: most pages merged per pause of a guest (1..65536)\n"
    "  --ksm-max-stall-us US\n"
    "                   engine: a batch ends once a guest was paused this long\n"
    "                   (10..1000000)\n"
    "  --ksm-scan-rate PAGES\n"
    "                   engine: most pages hashed per second (0: no limit)\n"
    "                   (engine tunables change at run time too: ksmctl set)\n"
    "  --control SOCKET serve ksmctl on this Unix socket (mode 0600)\n"
    "  --libvirt SOCKET serve libvirt's remote protocol on this Unix socket (mode 0600;\n"
    "                   serve's default: " OPT_DEFAULT_LIBVIRT_SOCKET ")\n"
    "  --state-dir DIR  serve: domain definitions (DIR/NAME.xml) and autostart marks\n"
    "  --metrics [ADDR:]PORT\n"
    "                   serve Prometheus metrics over HTTP at /metrics (ADDR defaults to\n"
    "                   127.0.0.1; any other address only when given, e.g. 0.0.0.0:9177)\n"
    "  --console DIR    write each guest's serial console to DIR/NAME.log\n"
    "                   (with one guest the console also goes to stdout)\n"
    "  --verbose        log debug messages too\n";

enum {
	OPT_COUNT = 256,
	OPT_MEM,
	OPT_CPUS,
	OPT_NAME,
	OPT_GUEST,
	OPT_PROFILE,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CONTROL,
	OPT_METRICS,
	OPT_CONSOLE,
	OPT_IMAGE,
	OPT_VERBOSE,
	OPT_MERGE,
	OPT_SHARE_GROUP,
	OPT_SEED,
	OPT_KSM_INTERVAL,
	OPT_KSM_BATCH,
	OPT_KSM_STALL,
	OPT_KSM_RATE,
	OPT_RAM_IMAGE,
	OPT_DISK,
	OPT_VIRTIO,
	OPT_LIBVIRT,
	OPT_STATE_DIR,
	OPT_RESTORE,
};

static const struct option long_opts[] = {
    {"count", required_argument, NULL, OPT_COUNT},
    {"mem", required_argument, NULL, OPT_MEM},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"name", required_argument, NULL, OPT_NAME},
    {"guest", required_argument, NULL, OPT_GUEST},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"console", required_argument, NULL, OPT_CONSOLE},
    {"workload-image", required_argument, NULL, OPT_IMAGE},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"merge", required_argument, NULL, OPT_MERGE},
    {"share-group", required_argument, NULL, OPT_SHARE_GROUP},
    {"seed", required_argument, NULL, OPT_SEED},
    {"ksm-interval-ms", required_argument, NULL, OPT_KSM_INTERVAL},
    {"ksm-batch", required_argument, NULL, OPT_KSM_BATCH},
    {"ksm-max-stall-us", required_argument, NULL, OPT_KSM_STALL},
    {"ksm-scan-rate", required_argument, NULL, OPT_KSM_RATE},
    {"ram-image", required_argument, NULL, OPT_RAM_IMAGE},
    {"disk", required_argument, NULL, OPT_DISK},
    {"virtio", required_argument, NULL, OPT_VIRTIO},
    {"libvirt", required_argument, NULL, OPT_LIBVIRT},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"restore", required_argument, NULL, OPT_RESTORE},
    {NULL, 0, NULL, 0},
};

static int set_count(struct options *o, const char *v, char *err, size_t errlen)
{
	unsigned long long n;

	if (parse_uint(v, ~0u, &n) || n == 0 || n > OPT_MAX_GUESTS)
		return errbuf_set(err, errlen, -EINVAL, "--count '%s': want 1..%d guests", v,
				  OPT_MAX_GUESTS);
	o->count = (unsigned) n;
	return 0;
}

static int set_cpus(struct options *o, const char *v, char *err, size_t errlen)
{
	unsigned long long n;

	if (parse_uint(v, ~0u, &n) || n == 0 || n > OPT_MAX_CPUS)
		return errbuf_set(err, errlen, -EINVAL, "--cpus '%s': want 1..%d vCPUs", v,
				  OPT_MAX_CPUS);
	o->cpus = (unsigned) n;
	return 0;
}

static int set_mem(struct options *o, const char *v, char *err, size_t errlen)
{
	if (mem_parse_size(v, &o->mem) || o->mem == 0 || o->mem % PAGE_SIZE || o->mem > MEM_MAX_RAM)
		return errbuf_set(err, errlen, -EINVAL,
				  "--mem '%s': want a size like 256M or 1G, a multiple of 4 KiB, "
				  "above 0 and at most 1T",
				  v);
	return 0;
}

static int set_guest(struct options *o, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "workload"))
		return errbuf_set(err, errlen, -EINVAL,
				  "--guest '%s': the only built-in guest is 'workload'", v);
	o->kind = GUEST_KIND_WORKLOAD;
	return 0;
}

static bool valid_name(const char *s, size_t max)
{
	size_t len = strlen(s);

	return len > 0 && len <= max &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
		   len;
}

static int set_name(struct options *o, const char *v, char *err, size_t errlen)
{
	if (!valid_name(v, 40))
		return errbuf_set(err, errlen, -EINVAL, "--name '%s': want 1..40 of [A-Za-z0-9._-]",
				  v);
	o->name = v;
	return 0;
}

/* A file name, with at most one "%d" (replaced by the guest index) and no other '%'. */
static int set_ram_image(struct options *o, const char *v, char *err, size_t errlen)
{
	const char *pct = strchr(v, '%');

	if (!*v || (pct && (pct[1] != 'd' || strchr(pct + 1, '%'))))
		return errbuf_set(err, errlen, -EINVAL,
				  "--ram-image '%s': want a file name, with %%d for the "
				  "guest index if each guest has its own",
				  v);
	o->ram_image = v;
	return 0;
}

static int set_merge(struct options *o, const char *v, char *err, size_t errlen)
{
	if (!strcmp(v, "vmm"))
		o->merge = MERGE_VMM;
	else if (!strcmp(v, "off"))
		o->merge = MERGE_OFF;
	else if (!strcmp(v, "host"))
		o->merge = MERGE_HOST;
	else
		return errbuf_set(err, errlen, -EINVAL, "--merge '%s': want vmm, off or host", v);
	return 0;
}

static int set_group(struct options *o, const char *v, char *err, size_t errlen)
{
	struct group_rule *r = &o->group_rules[o->nr_group_rules];
	const char *eq = strchr(v, '=');
	size_t len = eq ? (size_t) (eq - v) : strlen(v);

	if (o->nr_group_rules == OPT_MAX_GROUP_RULES)
		return errbuf_set(err, errlen, -EINVAL, "--share-group: at most %d rules",
				  OPT_MAX_GROUP_RULES);
	if (len == 0 || len >= OPT_GROUP_NAME_MAX)
		return errbuf_set(err, errlen, -EINVAL,
				  "--share-group '%s': want NAME or NAME=GUEST[,GUEST...]", v);
	memcpy(r->group, v, len);
	r->group[len] = '\0';
	if (!valid_name(r->group, OPT_GROUP_NAME_MAX - 1) || (eq && !eq[1]))
		return errbuf_set(err, errlen, -EINVAL,
				  "--share-group '%s': want NAME or NAME=GUEST[,GUEST...]", v);
	r->guests = eq ? eq + 1 : NULL;
	o->nr_group_rules++;
	return 0;
}

/* --seed N=GUEST[,GUEST...] */
static int set_seed(struct options *o, const char *v, char *err, size_t errlen)
{
	struct seed_rule *r = &o->seed_rules[o->nr_seed_rules];
	const char *eq = strchr(v, '=');
	unsigned long long seed;
	char num[24];

	if (o->nr_seed_rules == OPT_MAX_SEED_RULES)
		return errbuf_set(err, errlen, -EINVAL, "--seed: at most %d rules",
				  OPT_MAX_SEED_RULES);
	if (!eq || !eq[1] || (size_t) (eq - v) >= sizeof(num))
		return errbuf_set(err, errlen, -EINVAL, "--seed '%s': want N=GUEST[,GUEST...]", v);
	memcpy(num, v, (size_t) (eq - v));
	num[eq - v] = '\0';
	if (parse_uint(num, ~0ull, &seed))
		return errbuf_set(err, errlen, -EINVAL, "--seed '%s': '%s' is not a number", v,
				  num);
	r->seed = seed;
	r->guests = eq + 1;
	o->nr_seed_rules++;
	return 0;
}

static int set_u64(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *dst,
		   char *err, size_t errlen)
{
	unsigned long long n;

	if (parse_uint(v, max, &n) || n < min)
		return errbuf_set(err, errlen, -EINVAL, "%s '%s': want %llu..%llu", opt, v,
				  (unsigned long long) min, (unsigned long long) max);
	*dst = n;
	return 0;
}

/* @addr (of @len bytes, not terminated) as an address of family @af into @host. */
static bool metrics_host(const char *addr, size_t len, int af, char host[OPT_METRICS_HOST_MAX])
{
	unsigned char bin[sizeof(struct in6_addr)];

	if (len >= OPT_METRICS_HOST_MAX)
		return false;
	memcpy(host, addr, len);
	host[len] = '\0';
	if (af == AF_INET && !strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	return inet_pton(af, host, bin) == 1;
}

int options_parse_metrics(const char *s, char host[OPT_METRICS_HOST_MAX], unsigned *port, char *err,
			  size_t errlen)
{
	const char *colon = strrchr(s, ':');
	const char *p = colon ? colon + 1 : s;
	unsigned long long n;
	bool ok;

	if (!colon)
		ok = metrics_host("127.0.0.1", 9, AF_INET, host);
	else if (s[0] == '[')
		ok = colon > s + 1 && colon[-1] == ']' &&
		     metrics_host(s + 1, (size_t) (colon - s - 2), AF_INET6, host);
	else
		ok = metrics_host(s, (size_t) (colon - s), AF_INET, host);
	if (!ok)
		return errbuf_set(err, errlen, -EINVAL,
				  "--metrics '%s': want PORT, ADDR:PORT or [IPv6]:PORT with an IP "
				  "address (e.g. 9177, 127.0.0.1:9177, [::1]:9177)",
				  s);
	if (parse_uint(p, 65535, &n))
		return errbuf_set(err, errlen, -EINVAL, "--metrics '%s': the port is 0..65535", s);
	*port = (unsigned) n;
	return 0;
}

static int set_metrics(struct options *o, const char *v, char *err, size_t errlen)
{
	char host[OPT_METRICS_HOST_MAX];
	unsigned port;

	if (options_parse_metrics(v, host, &port, err, errlen))
		return -EINVAL;
	o->metrics = v;
	return 0;
}

/* Is @name one of the comma-separated names in @list? */
static bool in_list(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t) (comma - p) : strlen(p);

		if (n == len && !strncmp(p, name, n))
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

uint64_t options_seed_of(const struct options *o, const char *name)
{
	for (unsigned i = 0; i < o->nr_seed_rules; i++)
		if (in_list(o->seed_rules[i].guests, name))
			return o->seed_rules[i].seed;
	return o->profile.seed;
}

const char *options_group_of(const struct options *o, const char *name)
{
	const char *dflt = "fleet";

	for (unsigned i = 0; i < o->nr_group_rules; i++) {
		const struct group_rule *r = &o->group_rules[i];

		if (r->guests && in_list(r->guests, name))
			return r->group;
		if (!r->guests)
			dflt = r->group;
	}
	return dflt;
}

/* One ",readonly", ",snapshot" or ",serial=S" of --disk. */
static int disk_flag(struct opt_disk *d, const char *f, char *err, size_t errlen)
{
	if (!strcmp(f, "readonly") || !strcmp(f, "snapshot")) {
		if (d->mode != OPT_DISK_RW)
			return errbuf_set(err, errlen, -EINVAL,
					  "--disk: give at most one of readonly and snapshot");
		d->mode = f[0] == 'r' ? OPT_DISK_READONLY : OPT_DISK_SNAPSHOT;
		return 0;
	}
	if (!strncmp(f, "serial=", 7) && strlen(f + 7) >= 1 && strlen(f + 7) < sizeof(d->serial) &&
	    valid_name(f + 7, sizeof(d->serial) - 1)) {
		snprintf(d->serial, sizeof(d->serial), "%s", f + 7);
		return 0;
	}
	return errbuf_set(
	    err, errlen, -EINVAL,
	    "--disk: '%s' is not readonly, snapshot or serial=S (1..20 of A-Za-z0-9_-)", f);
}

/* --disk PATH[,FLAG]... (so a path cannot hold a comma). */
static int set_disk(struct options *o, const char *v, char *err, size_t errlen)
{
	struct opt_disk *d = &o->disks[o->nr_disks];
	size_t n = strcspn(v, ",");
	char flags[256], *f, *save = NULL;

	if (o->nr_disks == OPT_MAX_DISKS)
		return errbuf_set(err, errlen, -EINVAL, "--disk: at most %d disks", OPT_MAX_DISKS);
	if (n == 0 || n >= sizeof(d->path) || strlen(v + n) >= sizeof(flags))
		return errbuf_set(err, errlen, -EINVAL,
				  "--disk: the image path is empty or too long");
	*d = (struct opt_disk){.mode = OPT_DISK_RW};
	memcpy(d->path, v, n);
	snprintf(flags, sizeof(flags), "%s", v + n);
	for (f = strtok_r(flags, ",", &save); f; f = strtok_r(NULL, ",", &save))
		if (disk_flag(d, f, err, errlen))
			return -EINVAL;
	o->nr_disks++;
	return 0;
}

static int set_virtio(struct options *o, const char *v, char *err, size_t errlen)
{
	static const char *const names[] = {"console", "rng", "balloon"};
	const char *p = v;

	o->virtio = 0;
	if (!strcmp(v, "none"))
		return 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		unsigned i;

		for (i = 0; i < 3 && (strlen(names[i]) != n || strncmp(p, names[i], n)); i++)
			;
		if (i == 3 || n == 0)
			return errbuf_set(err, errlen, -EINVAL,
					  "--virtio '%s': want a list of console, rng, balloon, "
					  "or none",
					  v);
		o->virtio |= 1u << i;
		p += n + (p[n] == ',');
	}
	return o->virtio ? 0
			 : errbuf_set(err, errlen, -EINVAL, "--virtio: an empty list (say none)");
}

static int apply_option(struct options *o, int c, const char *v, bool *have_guest,
			bool *have_profile, char *err, size_t errlen)
{
	switch (c) {
	case OPT_COUNT: return set_count(o, v, err, errlen);
	case OPT_MEM: return set_mem(o, v, err, errlen);
	case OPT_CPUS: return set_cpus(o, v, err, errlen);
	case OPT_NAME: return set_name(o, v, err, errlen);
	case OPT_GUEST: *have_guest = true; return set_guest(o, v, err, errlen);
	case OPT_PROFILE: *have_profile = true; return profile_parse(v, &o->profile, err, errlen);
	case OPT_KERNEL: o->kernel = v; return 0;
	case OPT_INITRD: o->initrd = v; return 0;
	case OPT_CMDLINE: o->cmdline = v; return 0;
	case OPT_CONTROL: o->control = v; return 0;
	case OPT_LIBVIRT: o->libvirt = v; return 0;
	case OPT_STATE_DIR: o->state_dir = v; return 0;
	case OPT_RESTORE: o->restore = v; return 0;
	case OPT_METRICS: return set_metrics(o, v, err, errlen);
	case OPT_CONSOLE: o->console_dir = v; return 0;
	case OPT_IMAGE: o->workload_image = v; return 0;
	case OPT_VERBOSE: o->verbose++; return 0;
	case OPT_MERGE: return set_merge(o, v, err, errlen);
	case OPT_RAM_IMAGE: return set_ram_image(o, v, err, errlen);
	case OPT_DISK: return set_disk(o, v, err, errlen);
	case OPT_VIRTIO: return set_virtio(o, v, err, errlen);
	case OPT_SHARE_GROUP: return set_group(o, v, err, errlen);
	case OPT_SEED: return set_seed(o, v, err, errlen);
	case OPT_KSM_INTERVAL:
		return set_u64("--ksm-interval-ms", v, 1, 60000, &o->ksm_interval_ms, err, errlen);
	case OPT_KSM_BATCH:
		return set_u64("--ksm-batch", v, 1, 65536, &o->ksm_batch_pages, err, errlen);
	case OPT_KSM_STALL:
		return set_u64("--ksm-max-stall-us", v, 10, 1000000, &o->ksm_max_stall_us, err,
			       errlen);
	case OPT_KSM_RATE:
		return set_u64("--ksm-scan-rate", v, 0, 1ull << 40, &o->ksm_scan_rate, err, errlen);
	default: return errbuf_set(err, errlen, -EINVAL, "unknown option (see ksmvmm --help)");
	}
}

static int check_combination(struct options *o, bool have_guest, bool have_profile, char *err,
			     size_t errlen)
{
	if (have_guest == (o->kernel != NULL))
		return errbuf_set(err, errlen, -EINVAL,
				  "give exactly one of --guest workload or --kernel BZIMAGE");
	if (o->kernel)
		o->kind = GUEST_KIND_LINUX;
	if (o->kind == GUEST_KIND_LINUX && have_profile)
		return errbuf_set(err, errlen, -EINVAL,
				  "--profile applies to --guest workload only");
	return options_check(o, err, errlen);
}

int options_check(const struct options *o, char *err, size_t errlen)
{
	if (o->kind == GUEST_KIND_WORKLOAD && (o->initrd || o->cmdline))
		return errbuf_set(err, errlen, -EINVAL,
				  "--initrd and --cmdline apply to --kernel only");
	if (o->profile.free && (o->ram_image || !(o->virtio & OPT_VIRTIO_BALLOON)))
		return errbuf_set(err, errlen, -EINVAL,
				  "profile free=: needs the balloon and no --ram-image");
	if (o->ram_image && (o->kind != GUEST_KIND_WORKLOAD || o->profile.mutate_rate))
		return errbuf_set(err, errlen, -EINVAL,
				  "--ram-image applies to --guest workload without mutate");
	if (o->kind == GUEST_KIND_WORKLOAD && o->mem < MIN_WORKLOAD_MEM)
		return errbuf_set(err, errlen, -EINVAL,
				  "--mem: a workload guest needs at least %llu MiB",
				  MIN_WORKLOAD_MEM >> 20);
	if (o->kind == GUEST_KIND_WORKLOAD && o->mem > (uint64_t) (WL_MAX_PD - 1) << 30)
		return errbuf_set(err, errlen, -EINVAL,
				  "--mem: a workload guest supports at most %d GiB", WL_MAX_PD - 1);
	return 0;
}

static void defaults(struct options *o)
{
	*o = (struct options){.count = 1,
			      .cpus = 1,
			      .name = "g",
			      .virtio = OPT_VIRTIO_DEFAULT,
			      .profile = {.seed = 1, .extent = PROFILE_DEFAULT_EXTENT}};
}

static const char *opt_name(int c)
{
	for (const struct option *l = long_opts; l->name; l++)
		if (l->val == c)
			return l->name;
	return "?";
}

/* Options of `serve`: those that apply to the whole fleet. */
static bool serve_option(int c)
{
	switch (c) {
	case OPT_CONTROL:
	case OPT_METRICS:
	case OPT_LIBVIRT:
	case OPT_STATE_DIR:
	case OPT_CONSOLE:
	case OPT_IMAGE:
	case OPT_VERBOSE:
	case OPT_MERGE:
	case OPT_KSM_INTERVAL:
	case OPT_KSM_BATCH:
	case OPT_KSM_STALL:
	case OPT_KSM_RATE: return true;
	default: return false;
	}
}

/* Options that --restore takes besides the fleet-wide ones: the rest describe guests,
 * which come from the snapshot. */
static bool restore_option(int c)
{
	return serve_option(c) || c == OPT_COUNT || c == OPT_NAME || c == OPT_SHARE_GROUP ||
	       c == OPT_RESTORE;
}

/* What the arguments gave, for the checks after the loop. */
struct seen {
	bool guest, profile, mem;
	int shape; /* the first option given that describes a guest (0: none) */
};

/* Apply every option of @argv to @o (from the defaults); @serve: only fleet-wide ones. */
static int parse_args(int argc, char **argv, struct options *o, bool serve, struct seen *seen,
		      char *err, size_t errlen)
{
	int c;

	defaults(o);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return errbuf_set(err, errlen, -EINVAL,
					  "bad option '%s' (see ksmvmm --help)", argv[optind - 1]);
		if (serve && !serve_option(c))
			return errbuf_set(err, errlen, -EINVAL,
					  "--%s describes guests: ksmvmm serve takes them from "
					  "domain XML (virsh define)",
					  opt_name(c));
		seen->mem |= c == OPT_MEM;
		if (!seen->shape && !restore_option(c))
			seen->shape = c;
		if (apply_option(o, c, optarg, &seen->guest, &seen->profile, err, errlen))
			return -EINVAL;
	}
	if (optind < argc)
		return errbuf_set(err, errlen, -EINVAL, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int options_parse(int argc, char **argv, struct options *o, char *err, size_t errlen)
{
	struct seen seen = {0};

	if (parse_args(argc, argv, o, false, &seen, err, errlen))
		return -EINVAL;
	if (o->restore && seen.shape)
		return errbuf_set(
		    err, errlen, -EINVAL,
		    "--%s describes guests: with --restore they come from the snapshot",
		    opt_name(seen.shape));
	if (o->restore)
		return 0;
	if (!seen.mem)
		return errbuf_set(err, errlen, -EINVAL, "--mem SIZE is required");
	if (o->state_dir)
		return errbuf_set(err, errlen, -EINVAL, "--state-dir is for ksmvmm serve");
	return check_combination(o, seen.guest, seen.profile, err, errlen);
}

int options_parse_serve(int argc, char **argv, struct options *o, char *err, size_t errlen)
{
	struct seen seen = {0};

	if (parse_args(argc, argv, o, true, &seen, err, errlen))
		return -EINVAL;
	if (!o->state_dir)
		return errbuf_set(err, errlen, -EINVAL, "--state-dir DIR is required");
	if (!o->libvirt)
		o->libvirt = OPT_DEFAULT_LIBVIRT_SOCKET;
	o->count = 0;
	return 0;
}
