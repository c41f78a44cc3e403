/* options.c - parse `ksmvmm run` arguments and workload memory profiles into struct options. */
#include "vmm/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/guest_abi.h"
#include "vmm/mem.h"

#define MIN_WORKLOAD_MEM (8ull << 20)

static int fail(char *err, unsigned errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, unsigned errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

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

static int profile_pct(const char *key, const char *val, unsigned *dst, char *err, unsigned errlen)
{
	unsigned long long v;

	if (parse_uint(val, 100, &v))
		return fail(err, errlen, "profile: %s=%s is not a percentage 0..100", key, val);
	*dst = (unsigned) v;
	return 0;
}

static int profile_mutate(const char *val, struct profile *p, char *err, unsigned errlen)
{
	char buf[64];
	char *at;
	unsigned long long rate;

	if (strlen(val) >= sizeof(buf))
		return fail(err, errlen, "profile: mutate=%s is too long", val);
	strcpy(buf, val);
	at = strchr(buf, '@');
	if (!at)
		return fail(err, errlen, "profile: mutate wants PCT@PAGES_PER_S, got '%s'", val);
	*at = '\0';
	if (profile_pct("mutate", buf, &p->mutate_pct, err, errlen))
		return -EINVAL;
	if (parse_uint(at + 1, 10000000, &rate))
		return fail(err, errlen, "profile: mutate rate '%s' is not 0..10000000 pages/s",
			    at + 1);
	p->mutate_rate = (unsigned) rate;
	return 0;
}

static int profile_item(char *item, struct profile *p, char *err, unsigned errlen)
{
	char *val = strchr(item, '=');
	unsigned long long seed;

	if (!val)
		return fail(err, errlen, "profile: '%s' is not KEY=VALUE", item);
	*val++ = '\0';
	if (!strcmp(item, "shared"))
		return profile_pct(item, val, &p->shared, err, errlen);
	if (!strcmp(item, "zero"))
		return profile_pct(item, val, &p->zero, err, errlen);
	if (!strcmp(item, "dup"))
		return profile_pct(item, val, &p->dup, err, errlen);
	if (!strcmp(item, "extent")) {
		if (parse_uint(val, 65536, &seed) || seed == 0)
			return fail(err, errlen, "profile: extent '%s' is not 1..65536 pages", val);
		p->extent = (unsigned) seed;
		return 0;
	}
	if (!strcmp(item, "mutate"))
		return profile_mutate(val, p, err, errlen);
	if (!strcmp(item, "seed")) {
		if (parse_uint(val, ~0ull, &seed))
			return fail(err, errlen, "profile: seed '%s' is not a number", val);
		p->seed = seed;
		return 0;
	}
	if (!strcmp(item, "placement")) {
		if (!strcmp(val, "same"))
			p->placement = WL_PLACE_SAME;
		else if (!strcmp(val, "shuffled"))
			p->placement = WL_PLACE_SHUFFLED;
		else
			return fail(err, errlen, "profile: placement must be same or shuffled");
		return 0;
	}
	return fail(err, errlen, "profile: unknown key '%s'", item);
}

int profile_parse(const char *s, struct profile *p, char *err, unsigned errlen)
{
	char *copy, *item, *save = NULL;
	int ret = 0;

	*p = (struct profile){.seed = 1, .extent = PROFILE_DEFAULT_EXTENT};
	if (!s || !*s)
		return fail(err, errlen, "profile: empty");
	copy = strdup(s);
	if (!copy)
		return fail(err, errlen, "profile: out of memory");
	for (item = strtok_r(copy, ",", &save); item && !ret; item = strtok_r(NULL, ",", &save))
		ret = profile_item(item, p, err, errlen);
	free(copy);
	if (!ret && p->zero + p->shared + p->dup > 100)
		ret = fail(err, errlen, "profile: zero+shared+dup is %u%%, more than 100%%",
			   p->zero + p->shared + p->dup);
	return ret;
}

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
    {NULL, 0, NULL, 0},
};

static int set_count(struct options *o, const char *v, char *err, unsigned errlen)
{
	unsigned long long n;

	if (parse_uint(v, ~0u, &n) || n == 0 || n > OPT_MAX_GUESTS)
		return fail(err, errlen, "--count '%s': want 1..%d guests", v, OPT_MAX_GUESTS);
	o->count = (unsigned) n;
	return 0;
}

static int set_cpus(struct options *o, const char *v, char *err, unsigned errlen)
{
	unsigned long long n;

	if (parse_uint(v, ~0u, &n) || n == 0 || n > OPT_MAX_CPUS)
		return fail(err, errlen, "--cpus '%s': want 1..%d vCPUs", v, OPT_MAX_CPUS);
	o->cpus = (unsigned) n;
	return 0;
}

static int set_mem(struct options *o, const char *v, char *err, unsigned errlen)
{
	if (mem_parse_size(v, &o->mem) || o->mem == 0 || o->mem % PAGE_SIZE || o->mem > MEM_MAX_RAM)
		return fail(err, errlen,
			    "--mem '%s': want a size like 256M or 1G, a multiple of 4 KiB, "
			    "above 0 and at most 1T",
			    v);
	return 0;
}

static int set_guest(struct options *o, const char *v, char *err, unsigned errlen)
{
	if (strcmp(v, "workload"))
		return fail(err, errlen, "--guest '%s': the only built-in guest is 'workload'", v);
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

static int set_name(struct options *o, const char *v, char *err, unsigned errlen)
{
	if (!valid_name(v, 40))
		return fail(err, errlen, "--name '%s': want 1..40 of [A-Za-z0-9._-]", v);
	o->name = v;
	return 0;
}

/* A file name, with at most one "%d" (replaced by the guest index) and no other '%'. */
static int set_ram_image(struct options *o, const char *v, char *err, unsigned errlen)
{
	const char *pct = strchr(v, '%');

	if (!*v || (pct && (pct[1] != 'd' || strchr(pct + 1, '%'))))
		return fail(err, errlen,
			    "--ram-image '%s': want a file name, with %%d for the "
			    "guest index if each guest has its own",
			    v);
	o->ram_image = v;
	return 0;
}

static int set_merge(struct options *o, const char *v, char *err, unsigned errlen)
{
	if (!strcmp(v, "vmm"))
		o->merge = MERGE_VMM;
	else if (!strcmp(v, "off"))
		o->merge = MERGE_OFF;
	else if (!strcmp(v, "host"))
		o->merge = MERGE_HOST;
	else
		return fail(err, errlen, "--merge '%s': want vmm, off or host", v);
	return 0;
}

static int set_group(struct options *o, const char *v, char *err, unsigned errlen)
{
	struct group_rule *r = &o->group_rules[o->nr_group_rules];
	const char *eq = strchr(v, '=');
	size_t len = eq ? (size_t) (eq - v) : strlen(v);

	if (o->nr_group_rules == OPT_MAX_GROUP_RULES)
		return fail(err, errlen, "--share-group: at most %d rules", OPT_MAX_GROUP_RULES);
	if (len == 0 || len >= OPT_GROUP_NAME_MAX)
		return fail(err, errlen, "--share-group '%s': want NAME or NAME=GUEST[,GUEST...]",
			    v);
	memcpy(r->group, v, len);
	r->group[len] = '\0';
	if (!valid_name(r->group, OPT_GROUP_NAME_MAX - 1) || (eq && !eq[1]))
		return fail(err, errlen, "--share-group '%s': want NAME or NAME=GUEST[,GUEST...]",
			    v);
	r->guests = eq ? eq + 1 : NULL;
	o->nr_group_rules++;
	return 0;
}

/* --seed N=GUEST[,GUEST...] */
static int set_seed(struct options *o, const char *v, char *err, unsigned errlen)
{
	struct seed_rule *r = &o->seed_rules[o->nr_seed_rules];
	const char *eq = strchr(v, '=');
	unsigned long long seed;
	char num[24];

	if (o->nr_seed_rules == OPT_MAX_SEED_RULES)
		return fail(err, errlen, "--seed: at most %d rules", OPT_MAX_SEED_RULES);
	if (!eq || !eq[1] || (size_t) (eq - v) >= sizeof(num))
		return fail(err, errlen, "--seed '%s': want N=GUEST[,GUEST...]", v);
	memcpy(num, v, (size_t) (eq - v));
	num[eq - v] = '\0';
	if (parse_uint(num, ~0ull, &seed))
		return fail(err, errlen, "--seed '%s': '%s' is not a number", v, num);
	r->seed = seed;
	r->guests = eq + 1;
	o->nr_seed_rules++;
	return 0;
}

static int set_u64(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *dst,
		   char *err, unsigned errlen)
{
	unsigned long long n;

	if (parse_uint(v, max, &n) || n < min)
		return fail(err, errlen, "%s '%s': want %llu..%llu", opt, v,
			    (unsigned long long) min, (unsigned long long) max);
	*dst = n;
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

static int apply_option(struct options *o, int c, const char *v, bool *have_guest,
			bool *have_profile, char *err, unsigned errlen)
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
	case OPT_CONSOLE: o->console_dir = v; return 0;
	case OPT_IMAGE: o->workload_image = v; return 0;
	case OPT_VERBOSE: o->verbose++; return 0;
	case OPT_MERGE: return set_merge(o, v, err, errlen);
	case OPT_RAM_IMAGE: return set_ram_image(o, v, err, errlen);
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
	default: return fail(err, errlen, "unknown option (see ksmvmm --help)");
	}
}

static int check_combination(struct options *o, bool have_guest, bool have_profile, char *err,
			     unsigned errlen)
{
	if (have_guest == (o->kernel != NULL))
		return fail(err, errlen,
			    "give exactly one of --guest workload or --kernel BZIMAGE");
	if (o->kernel)
		o->kind = GUEST_KIND_LINUX;
	if (o->kind == GUEST_KIND_LINUX && have_profile)
		return fail(err, errlen, "--profile applies to --guest workload only");
	if (o->kind == GUEST_KIND_WORKLOAD && (o->initrd || o->cmdline))
		return fail(err, errlen, "--initrd and --cmdline apply to --kernel only");
	if (o->ram_image && (o->kind != GUEST_KIND_WORKLOAD || o->profile.mutate_rate))
		return fail(err, errlen, "--ram-image applies to --guest workload without mutate");
	if (o->kind == GUEST_KIND_WORKLOAD && o->mem < MIN_WORKLOAD_MEM)
		return fail(err, errlen, "--mem: a workload guest needs at least %llu MiB",
			    MIN_WORKLOAD_MEM >> 20);
	if (o->kind == GUEST_KIND_WORKLOAD && o->mem > (uint64_t) (WL_MAX_PD - 1) << 30)
		return fail(err, errlen, "--mem: a workload guest supports at most %d GiB",
			    WL_MAX_PD - 1);
	return 0;
}

int options_parse(int argc, char **argv, struct options *o, char *err, unsigned errlen)
{
	bool have_guest = false, have_profile = false, have_mem = false;
	int c;

	*o = (struct options){.count = 1,
			      .cpus = 1,
			      .name = "g",
			      .profile = {.seed = 1, .extent = PROFILE_DEFAULT_EXTENT}};
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return fail(err, errlen, "bad option '%s' (see ksmvmm --help)",
				    argv[optind - 1]);
		have_mem |= c == OPT_MEM;
		if (apply_option(o, c, optarg, &have_guest, &have_profile, err, errlen))
			return -EINVAL;
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
	if (!have_mem)
		return fail(err, errlen, "--mem SIZE is required");
	return check_combination(o, have_guest, have_profile, err, errlen);
}
