/* test_snapdef.c - a snapshot's definition: round trip, and every truncation or bad field
 * refused with a message naming it. */
#include <errno.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/snapdef.h"

static void sample(struct options *o, struct snapdef_origin * or)
{
	memset(o, 0, sizeof(*o));
	memset(or, 0, sizeof(* or));
	o->kind = GUEST_KIND_WORKLOAD;
	o->mem = 256ull << 20;
	o->cpus = 2;
	o->profile = (struct profile){.zero = 10,
				      .shared = 50,
				      .dup = 5,
				      .placement = 1,
				      .extent = 16,
				      .mutate_pct = 20,
				      .mutate_rate = 500,
				      .seed = 1};
	o->virtio = OPT_VIRTIO_CONSOLE | OPT_VIRTIO_RNG;
	o->nr_disks = 1;
	strcpy(o->disks[0].path, "/srv/disk.img");
	o->disks[0].mode = OPT_DISK_SNAPSHOT;
	strcpy(o->disks[0].serial, "abc");
	strcpy(or->name, "g3");
	or->uuid[0] = 0x42;
	or->index = 3;
	strcpy(or->group, "A");
	or->seed = 99;
	or->generation = 0x1122334455667788ull;
}

static int load(const struct sbuf *b, size_t len, struct options *o, struct snapdef_origin * or,
		struct sbuf_reader *r)
{
	sbuf_reader_init(r, b->data, len);
	return snapdef_load(r, o, or);
}

static void test_round_trip(void)
{
	struct options o, got = {.count = 7, .control = "/s"};
	struct snapdef_origin or, gor;
	struct sbuf b;
	struct sbuf_reader r;

	sample(&o, & or);
	sbuf_init(&b);
	snapdef_save(&o, & or, &b);
	CHECK_EQ(load(&b, b.len, &got, &gor, &r), 0);
	CHECK_EQ(got.kind, GUEST_KIND_WORKLOAD);
	CHECK_EQ(got.mem, 256ull << 20);
	CHECK_EQ(got.cpus, 2);
	CHECK_EQ(got.profile.shared, 50);
	CHECK_EQ(got.profile.mutate_rate, 500);
	CHECK_EQ(got.profile.seed, 99); /* the origin's seed, not the fleet's */
	CHECK_EQ(got.virtio, OPT_VIRTIO_CONSOLE | OPT_VIRTIO_RNG);
	CHECK_EQ(got.nr_disks, 1);
	CHECK(!strcmp(got.disks[0].path, "/srv/disk.img"));
	CHECK_EQ(got.disks[0].mode, OPT_DISK_SNAPSHOT);
	CHECK(!strcmp(got.disks[0].serial, "abc"));
	CHECK_EQ(got.count, 7); /* fleet-wide options stay */
	CHECK(!strcmp(got.control, "/s"));
	CHECK(!strcmp(gor.name, "g3") && !strcmp(gor.group, "A"));
	CHECK_EQ(gor.index, 3);
	CHECK_EQ(gor.uuid[0], 0x42);
	CHECK_EQ(gor.generation, 0x1122334455667788ull);

	/* Every truncation fails cleanly, with a message. */
	for (size_t len = 0; len < b.len; len++) {
		struct snapdef_origin t;

		CHECK_EQ(load(&b, len, &got, &t, &r), -EINVAL);
		CHECK(r.why[0] != '\0');
	}
	sbuf_free(&b);
}

/* Save @o, @or and expect the load to fail with @want in the message. */
static void refused(const struct options *o, const struct snapdef_origin * or, const char *want)
{
	struct options got;
	struct snapdef_origin gor;
	struct sbuf b;
	struct sbuf_reader r;

	sbuf_init(&b);
	snapdef_save(o, or, &b);
	CHECK_EQ(load(&b, b.len, &got, &gor, &r), -EINVAL);
	if (!strstr(r.why, want))
		fprintf(stderr, "want \"%s\" in \"%s\"\n", want, r.why);
	CHECK(strstr(r.why, want) != NULL);
	sbuf_free(&b);
}

static void test_bad_fields(void)
{
	struct options o;
	struct snapdef_origin or ;
	struct sbuf b;
	struct sbuf_reader r;

	sample(&o, & or);
	o.cpus = 9;
	refused(&o, & or, "9 vCPUs");
	sample(&o, & or);
	o.mem = 4097;
	refused(&o, & or, "RAM size 4097");
	sample(&o, & or);
	o.kind = 7;
	refused(&o, & or, "guest kind 7");
	sample(&o, & or);
	o.profile.shared = 95;
	refused(&o, & or, "percentages");
	sample(&o, & or);
	o.virtio = 0x100;
	refused(&o, & or, "virtio devices 0x100");
	sample(&o, & or);
	o.nr_disks = 0;
	o.disks[0].mode = 9;
	o.nr_disks = 1;
	refused(&o, & or, "disk 0: path or mode 9");

	/* A newer version, and trailing bytes. */
	sample(&o, & or);
	sbuf_init(&b);
	snapdef_save(&o, & or, &b);
	b.data[0] = 2;
	CHECK_EQ(load(&b, b.len, &o, & or, &r), -EINVAL);
	CHECK(strstr(r.why, "definition version 2, this ksmvmm reads 1") != NULL);
	b.data[0] = 1;
	sbuf_put_u8(&b, 0);
	CHECK_EQ(load(&b, b.len, &o, & or, &r), -EINVAL);
	CHECK(strstr(r.why, "1 bytes after the definition") != NULL);
	sbuf_free(&b);
}

int main(void)
{
	test_round_trip();
	test_bad_fields();
	return check_done("test_snapdef");
}
