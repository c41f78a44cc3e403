/* test_options.c - `ksmvmm run` option and memory profile parsing, good and bad. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/guest_abi.h"
#include "vmm/options.h"

#define ARGV(...) ((char *[]){"run", __VA_ARGS__, NULL})
#define ARGC(...) ((int) (sizeof((char *[]){"run", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, ...) options_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, err, sizeof(err))

static char err[256];

static void test_profile(void)
{
	struct profile p;

	CHECK_EQ(profile_parse("shared=50,zero=10", &p, err, sizeof(err)), 0);
	CHECK_EQ(p.shared, 50);
	CHECK_EQ(p.zero, 10);
	CHECK_EQ(p.dup, 0);
	CHECK_EQ(p.placement, WL_PLACE_SAME);
	CHECK_EQ(p.mutate_rate, 0);
	CHECK_EQ(p.seed, 1);

	CHECK_EQ(profile_parse("shared=40,zero=10,dup=5,placement=shuffled,mutate=20@5000,seed=7",
			       &p, err, sizeof(err)),
		 0);
	CHECK_EQ(p.dup, 5);
	CHECK_EQ(p.placement, WL_PLACE_SHUFFLED);
	CHECK_EQ(p.mutate_pct, 20);
	CHECK_EQ(p.mutate_rate, 5000);
	CHECK_EQ(p.seed, 7);

	CHECK_EQ(profile_parse("shared=101", &p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "percentage"));
	CHECK_EQ(profile_parse("shared=60,zero=41", &p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "more than 100"));
	CHECK_EQ(profile_parse("shared", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(profile_parse("shared=-1", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(profile_parse("shared=5x", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(profile_parse("placement=diagonal", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(profile_parse("mutate=5", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(profile_parse("mutate=5@", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(profile_parse("mutate=500@5", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(profile_parse("seed=abc", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(profile_parse("", &p, err, sizeof(err)), -EINVAL);
	CHECK_EQ(profile_parse("nonsense=1", &p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown key"));
	CHECK_EQ(profile_parse(",,,", &p, err, sizeof(err)), 0); /* empty items: defaults */
}

static void test_run_options(void)
{
	struct options o;

	CHECK_EQ(PARSE(&o, "--count", "4", "--mem", "256M", "--guest", "workload", "--profile",
		       "shared=50,zero=10", "--control", "/tmp/s", "--console", "/tmp/c"),
		 0);
	CHECK_EQ(o.count, 4);
	CHECK_EQ(o.mem, 256ull << 20);
	CHECK_EQ(o.cpus, 1);
	CHECK_EQ(o.kind, GUEST_KIND_WORKLOAD);
	CHECK_EQ(o.profile.shared, 50);
	CHECK(!strcmp(o.control, "/tmp/s"));
	CHECK(!strcmp(o.name, "g"));

	CHECK_EQ(PARSE(&o, "--mem", "1G", "--kernel", "bz", "--initrd", "rd", "--cmdline", "x",
		       "--cpus", "2", "--name", "web"),
		 0);
	CHECK_EQ(o.kind, GUEST_KIND_LINUX);
	CHECK_EQ(o.cpus, 2);
	CHECK(!strcmp(o.name, "web"));

	CHECK_EQ(PARSE(&o, "--mem", "0", "--guest", "workload"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--guest", "workload"), -EINVAL);
	CHECK(strstr(err, "--mem SIZE is required"));
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--count", "0"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--count", "257"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--count", "1e9"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--cpus", "9"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "other"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--kernel", "k"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--kernel", "k", "--profile", "shared=1"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--initrd", "x"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--name", "a/b"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "extra"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--bogus"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest"), -EINVAL); /* missing argument */
	CHECK_EQ(PARSE(&o, "--mem", "100G", "--guest", "workload"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "4M", "--guest", "workload"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "5000", "--guest", "workload"), -EINVAL); /* not 4K aligned */
}

/* --restore takes fleet-wide options, a count and names; never a guest's shape. */
static void test_restore(void)
{
	struct options o;

	CHECK_EQ(PARSE(&o, "--restore", "/tmp/snap", "--count", "8", "--name", "c", "--control",
		       "/tmp/s", "--merge", "vmm", "--share-group", "A"),
		 0);
	CHECK(o.restore && !strcmp(o.restore, "/tmp/snap"));
	CHECK_EQ(o.count, 8);
	CHECK(!strcmp(o.name, "c"));
	CHECK_EQ(PARSE(&o, "--restore", "/tmp/snap", "--mem", "64M"), -EINVAL);
	CHECK(strstr(err, "--mem describes guests: with --restore they come from the snapshot"));
	CHECK_EQ(PARSE(&o, "--restore", "/tmp/snap", "--count", "2", "--guest", "workload"),
		 -EINVAL);
	CHECK(strstr(err, "--guest describes guests"));
	CHECK_EQ(PARSE(&o, "--restore", "/tmp/snap", "--disk", "/x"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--restore", "/tmp/snap", "--count", "0"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload"), 0);
	CHECK(o.restore == NULL);
}

/* --disk, --virtio and the profile's free=. */
static void test_devices(void)
{
	struct options o;

	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload"), 0);
	CHECK_EQ(o.virtio, OPT_VIRTIO_DEFAULT);
	CHECK_EQ(o.nr_disks, 0);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--disk", "/a.img", "--disk",
		       "b.img,snapshot", "--disk", "c,readonly,serial=disk-7", "--virtio", "rng"),
		 0);
	CHECK_EQ(o.nr_disks, 3);
	CHECK(!strcmp(o.disks[0].path, "/a.img") && o.disks[0].mode == OPT_DISK_RW);
	CHECK(!strcmp(o.disks[1].path, "b.img") && o.disks[1].mode == OPT_DISK_SNAPSHOT);
	CHECK(!strcmp(o.disks[2].path, "c") && o.disks[2].mode == OPT_DISK_READONLY);
	CHECK(!strcmp(o.disks[2].serial, "disk-7") && !o.disks[0].serial[0]);
	CHECK_EQ(o.virtio, OPT_VIRTIO_RNG);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--virtio", "none"), 0);
	CHECK_EQ(o.virtio, 0);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--virtio", "balloon,console"),
		 0);
	CHECK_EQ(o.virtio, OPT_VIRTIO_BALLOON | OPT_VIRTIO_CONSOLE);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--profile", "shared=50,free=20"),
		 0);
	CHECK_EQ(o.profile.free, 20);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--profile", "free=20",
		       "--virtio", "rng"),
		 -EINVAL); /* reports go through the balloon */
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--profile", "free=101"),
		 -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--virtio", "net"), -EINVAL);
	CHECK(strstr(err, "--virtio 'net'"));
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--virtio", ""), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--virtio", ",rng"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--disk", ""), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--disk", ",snapshot"), -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--disk", "a,bogus"), -EINVAL);
	CHECK(strstr(err, "'bogus'"));
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--disk", "a,readonly,snapshot"),
		 -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--disk",
		       "a,serial=123456789012345678901"),
		 -EINVAL); /* 21 bytes: GET_ID has 20 */
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--disk", "a,serial=a b"),
		 -EINVAL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--disk", "1", "--disk", "2",
		       "--disk", "3", "--disk", "4", "--disk", "5", "--disk", "6"),
		 -EINVAL);
	CHECK(strstr(err, "at most 5"));
}

/* --seed N=GUESTS overrides the profile's seed for those guests only. */
static void test_seed_rules(void)
{
	struct options o;

	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--profile", "shared=50,seed=3",
		       "--seed", "7=g2,g3", "--seed", "9=g1"),
		 0);
	CHECK_EQ(options_seed_of(&o, "g0"), 3);
	CHECK_EQ(options_seed_of(&o, "g1"), 9);
	CHECK_EQ(options_seed_of(&o, "g2"), 7);
	CHECK_EQ(options_seed_of(&o, "g3"), 7);
	CHECK_EQ(options_seed_of(&o, "g33"), 3);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--seed", "7"), -EINVAL);
	CHECK(strstr(err, "N=GUEST"));
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--seed", "x=g1"), -EINVAL);
	CHECK(strstr(err, "not a number"));
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--seed", "5="), -EINVAL);
}

/* Whether options_parse knows option @name (given one argument, so that options with a
 * value get one): any error but "bad option" / "unknown option" means it does. */
static bool parser_knows(char *name)
{
	struct options o;

	err[0] = '\0';
	PARSE(&o, name, "1");
	return !strstr(err, "bad option") && !strstr(err, "unknown option");
}

/* --metrics: loopback unless an address is given; bad addresses and ports refused. */
static void test_metrics(void)
{
	static const char *const bad[] = {
	    "",	       "abc",	   "70000",	      "-1",	      "127.0.0.1:",
	    ":9177",   "1.2.3:80", "::1:9177",	      "[::1]",	      "[::1:9177",
	    "[]:9177", "[zz]:80",  "host.example:80", "127.0.0.1:9x", "[127.0.0.1]:80",
	};
	char host[OPT_METRICS_HOST_MAX];
	struct options o;
	unsigned port;

	CHECK_EQ(options_parse_metrics("9177", host, &port, err, sizeof(err)), 0);
	CHECK(!strcmp(host, "127.0.0.1"));
	CHECK_EQ(port, 9177);
	CHECK_EQ(options_parse_metrics("0.0.0.0:80", host, &port, err, sizeof(err)), 0);
	CHECK(!strcmp(host, "0.0.0.0"));
	CHECK_EQ(port, 80);
	CHECK_EQ(options_parse_metrics("[::1]:0", host, &port, err, sizeof(err)), 0);
	CHECK(!strcmp(host, "::1"));
	CHECK_EQ(port, 0);
	CHECK_EQ(options_parse_metrics("localhost:9", host, &port, err, sizeof(err)), 0);
	CHECK(!strcmp(host, "127.0.0.1"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(options_parse_metrics(bad[i], host, &port, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "--metrics"));
	}
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload"), 0);
	CHECK(o.metrics == NULL);
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--metrics", "9177"), 0);
	CHECK(o.metrics && !strcmp(o.metrics, "9177"));
	CHECK_EQ(PARSE(&o, "--mem", "64M", "--guest", "workload", "--metrics", "x:1"), -EINVAL);
}

/* Every option `ksmvmm --help` describes (a line starting "  --NAME") is one the parser
 * accepts. tests/docs/options-help.sh checks the converse and README.md's table. */
static void test_usage_options(void)
{
	char *text = strdup(options_usage), *save, *line;
	unsigned n = 0;
	bool known;

	CHECK(!parser_knows("--no-such-option"));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "  --", 4))
			continue;
		line += 2;
		line[strspn(line, "-abcdefghijklmnopqrstuvwxyz0123456789")] = '\0';
		known = parser_knows(line);
		if (!known)
			fprintf(stderr, "--help lists %s, which the parser refuses: %s\n", line,
				err);
		CHECK(known);
		n++;
	}
	CHECK(n >= 20); /* the usage text describes its options at all */
	free(text);
}

int main(void)
{
	test_devices();
	test_profile();
	test_run_options();
	test_seed_rules();
	test_metrics();
	test_usage_options();
	test_restore();
	return check_done("test_options");
}
