/* test_procs.c - the remote program's dispatcher over the fake backend: replies carry
 * the serial, unknown procedures get VIR_ERR_NO_SUPPORT, calls before CONNECT_OPEN are
 * refused, bad arguments give an error and leave the connection usable, keepalive PING
 * gets PONG, protocol breaks ask for the connection to close, lifecycle messages, disk
 * and interface statistics, save and restore. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tests/libvirt/fake_backend.h"
#include "tests/unit/check.h"
#include "vmm/libvirt/procs.h"
#include "vmm/libvirt/rpc.h"

struct t {
	struct procs_backend b;
	struct procs_client cl;
	struct xdr_writer out;
	struct rpc_header h; /* of the answer */
	struct xdr_reader r; /* over the answer's body */
	int32_t err_code;    /* of an error answer */
	char err_msg[256];
};

/* Call @proc (program @prog, type @type) with body @args; decode the answer. Returns
 * procs_handle's result; t->out.len is 0 when nothing was answered. */
static int call(struct t *t, uint32_t prog, uint32_t type, int proc, const struct xdr_writer *args)
{
	struct rpc_header h = {prog, RPC_VERSION, proc, type, 1000 + proc, RPC_OK};
	struct xdr_writer pkt;
	const uint8_t *body;
	size_t start, blen;
	int ret;

	xdr_writer_init(&pkt, RPC_PACKET_MAX);
	start = rpc_packet_begin(&pkt, &h);
	if (args && args->len)
		xdr_put_opaque_fixed(&pkt, args->buf, args->len);
	rpc_packet_end(&pkt, start);
	xdr_writer_reset(&t->out);
	ret = procs_handle(&t->b, &t->cl, pkt.buf, pkt.len, &t->out);
	xdr_writer_free(&pkt);
	t->err_code = 0;
	if (ret || !t->out.len)
		return ret;
	CHECK_EQ(rpc_header_decode(t->out.buf, t->out.len, &t->h, &body, &blen), 0);
	xdr_reader_init(&t->r, body, blen);
	if (t->h.status == RPC_ERROR) {
		char *msg;

		xdr_get_int(&t->r, &t->err_code);
		xdr_get_int(&t->r, &(int32_t){0});
		xdr_get_opt_string(&t->r, &msg, 4096);
		g_strlcpy(t->err_msg, msg ? msg : "", sizeof(t->err_msg));
		g_free(msg);
	}
	return ret;
}

static int call_remote(struct t *t, int proc, const struct xdr_writer *args)
{
	return call(t, RPC_PROG_REMOTE, RPC_CALL, proc, args);
}

static void t_init(struct t *t)
{
	memset(t, 0, sizeof(*t));
	t->b.ops = &fake_be_ops;
	t->b.be = fake_be_new();
	procs_client_init(&t->cl);
	xdr_writer_init(&t->out, RPC_PACKET_MAX + 4096);
}

static void t_free(struct t *t)
{
	fake_be_free(t->b.be);
	procs_client_clear(&t->cl);
	xdr_writer_free(&t->out);
}

static void open_conn(struct t *t)
{
	struct xdr_writer a;

	xdr_writer_init(&a, 256);
	xdr_put_opt_string(&a, "ksmvmm:///system", 256);
	xdr_put_uint(&a, 0);
	CHECK_EQ(call_remote(t, 1, &a), 0);
	CHECK_EQ(t->h.status, RPC_OK);
	CHECK_EQ(t->h.serial, 1001);
	CHECK(t->cl.opened);
	xdr_writer_free(&a);
}

static void test_before_open(void)
{
	struct t t;
	int32_t n, auth;

	t_init(&t);
	CHECK_EQ(call_remote(&t, 66, NULL), 0); /* AUTH_LIST is fine before open */
	CHECK_EQ(t.h.status, RPC_OK);
	xdr_get_int(&t.r, &n);
	xdr_get_int(&t.r, &auth);
	CHECK_EQ(n, 1);
	CHECK_EQ(auth, 0);
	CHECK_EQ(call_remote(&t, 51, NULL), 0); /* NUM_OF_DOMAINS is not */
	CHECK_EQ(t.h.status, RPC_ERROR);
	CHECK_EQ(t.err_code, LV_ERR_OPERATION_INVALID);
	t_free(&t);
}

static void test_calls(void)
{
	struct xdr_writer a;
	struct procs_dom_ref ref;
	struct t t;
	int32_t n;
	uint32_t count;

	t_init(&t);
	open_conn(&t);
	CHECK_EQ(call_remote(&t, 51, NULL), 0);
	xdr_get_int(&t.r, &n);
	CHECK_EQ(n, 2); /* fake-alpha and fake-gamma run */
	CHECK_EQ(xdr_reader_done(&t.r), 0);

	xdr_writer_init(&a, 256);
	xdr_put_string(&a, "fake-alpha", 256);
	CHECK_EQ(call_remote(&t, 23, &a), 0);
	CHECK_EQ(t.h.status, RPC_OK);
	CHECK_EQ(t.h.serial, 1023);
	procs_get_dom(&t.r, &ref);
	CHECK_EQ(xdr_reader_done(&t.r), 0);
	CHECK(!strcmp(ref.name, "fake-alpha"));
	CHECK_EQ(ref.id, 7);

	/* LIST_ALL_DOMAINS, inactive only, with results. */
	xdr_writer_reset(&a);
	xdr_put_int(&a, 1);
	xdr_put_uint(&a, 2);
	CHECK_EQ(call_remote(&t, 273, &a), 0);
	xdr_get_uint(&t.r, &count);
	CHECK_EQ(count, 1);
	procs_get_dom(&t.r, &ref);
	xdr_get_uint(&t.r, &count);
	CHECK_EQ(xdr_reader_done(&t.r), 0);
	CHECK(!strcmp(ref.name, "fake-beta"));
	CHECK_EQ(count, 1);

	/* A name that is not there: the backend's error, and the connection goes on. */
	xdr_writer_reset(&a);
	xdr_put_string(&a, "nosuch", 256);
	CHECK_EQ(call_remote(&t, 23, &a), 0);
	CHECK_EQ(t.err_code, LV_ERR_NO_DOMAIN);
	CHECK(strstr(t.err_msg, "nosuch") != NULL);

	/* Truncated arguments (a name length and no name): an RPC error. */
	xdr_writer_reset(&a);
	xdr_put_uint(&a, 40);
	CHECK_EQ(call_remote(&t, 23, &a), 0);
	CHECK_EQ(t.err_code, RPC_ERR_RPC);
	/* Trailing garbage after good arguments is malformed too. */
	xdr_writer_reset(&a);
	xdr_put_string(&a, "fake-alpha", 256);
	xdr_put_uint(&a, 1);
	CHECK_EQ(call_remote(&t, 23, &a), 0);
	CHECK_EQ(t.err_code, RPC_ERR_RPC);
	xdr_writer_free(&a);
	t_free(&t);
}

static void test_unknown_and_protocol(void)
{
	struct t t;

	t_init(&t);
	open_conn(&t);
	CHECK_EQ(call_remote(&t, 426, NULL), 0); /* DOMAIN_GET_MESSAGES */
	CHECK_EQ(t.h.status, RPC_ERROR);
	CHECK_EQ(t.err_code, LV_ERR_NO_SUPPORT);
	CHECK(strstr(t.err_msg, "not supported") != NULL);
	CHECK_EQ(call_remote(&t, -5, NULL), 0);
	CHECK_EQ(t.err_code, LV_ERR_NO_SUPPORT);
	CHECK_EQ(call(&t, 0x20008087u, RPC_CALL, 1, NULL), 0); /* the QEMU program */
	CHECK_EQ(t.err_code, RPC_ERR_RPC);
	CHECK_EQ(call(&t, RPC_PROG_REMOTE, RPC_STREAM, 1, NULL), -EPROTO);
	CHECK_EQ(call(&t, RPC_PROG_REMOTE, RPC_REPLY, 1, NULL), -EPROTO);
	CHECK_EQ(call(&t, RPC_PROG_REMOTE, RPC_MESSAGE, 1, NULL), 0);
	CHECK_EQ(t.out.len, 0);
	/* Keepalive: PING gets PONG, a PONG gets nothing. */
	CHECK_EQ(call(&t, RPC_PROG_KEEPALIVE, RPC_MESSAGE, RPC_KEEPALIVE_PING, NULL), 0);
	CHECK_EQ(t.out.len, RPC_PREFIX_SIZE);
	CHECK_EQ(t.h.prog, RPC_PROG_KEEPALIVE);
	CHECK_EQ(t.h.proc, RPC_KEEPALIVE_PONG);
	CHECK_EQ(t.h.type, RPC_MESSAGE);
	CHECK_EQ(call(&t, RPC_PROG_KEEPALIVE, RPC_MESSAGE, RPC_KEEPALIVE_PONG, NULL), 0);
	CHECK_EQ(t.out.len, 0);
	/* A packet whose length word lies. */
	uint8_t junk[RPC_PREFIX_SIZE] = {0, 0, 0, 99};
	CHECK_EQ(procs_handle(&t.b, &t.cl, junk, sizeof(junk), &t.out), -EBADMSG);
	t_free(&t);
}

static void test_events(void)
{
	struct lv_dom d = {.name = "fake-alpha", .id = 7};
	struct xdr_writer a;
	struct t t;
	int32_t id, cb, ev, detail;
	struct procs_dom_ref ref;

	t_init(&t);
	open_conn(&t);
	xdr_writer_init(&a, 64);
	for (int e = 0; e < 3; e++) { /* lifecycle and two other event ids */
		xdr_writer_reset(&a);
		xdr_put_int(&a, e);
		xdr_put_bool(&a, false);
		CHECK_EQ(call_remote(&t, 316, &a), 0);
		xdr_get_int(&t.r, &id);
		CHECK_EQ(id, e + 1);
	}
	xdr_writer_reset(&t.out);
	CHECK_EQ(procs_put_lifecycle(&t.cl, &d, LV_EVENT_STOPPED, 1, &t.out), 1);
	const uint8_t *body;
	size_t blen;
	CHECK_EQ(rpc_header_decode(t.out.buf, t.out.len, &t.h, &body, &blen), 0);
	CHECK_EQ(t.h.proc, 318);
	CHECK_EQ(t.h.type, RPC_MESSAGE);
	xdr_reader_init(&t.r, body, blen);
	xdr_get_int(&t.r, &cb);
	procs_get_dom(&t.r, &ref);
	xdr_get_int(&t.r, &ev);
	xdr_get_int(&t.r, &detail);
	CHECK_EQ(xdr_reader_done(&t.r), 0);
	CHECK_EQ(cb, 1);
	CHECK(!strcmp(ref.name, "fake-alpha"));
	CHECK_EQ(ev, LV_EVENT_STOPPED);
	CHECK_EQ(detail, 1);
	/* Deregistered: no more messages. */
	xdr_writer_reset(&a);
	xdr_put_int(&a, 1);
	CHECK_EQ(call_remote(&t, 317, &a), 0);
	CHECK_EQ(t.h.status, RPC_OK);
	xdr_writer_reset(&t.out);
	CHECK_EQ(procs_put_lifecycle(&t.cl, &d, LV_EVENT_STARTED, 0, &t.out), 0);
	CHECK_EQ(t.out.len, 0);
	CHECK_EQ(call_remote(&t, 317, &a), 0); /* twice: an error */
	CHECK_EQ(t.err_code, LV_ERR_INVALID_ARG);
	xdr_writer_free(&a);
	t_free(&t);
}

/* More domains than the first snapshot buffer holds: all are listed. */
static void test_many_domains(void)
{
	struct xdr_writer a;
	struct procs_dom_ref ref;
	uint32_t n, count;
	struct t t;
	char xml[128];

	t_init(&t);
	open_conn(&t);
	xdr_writer_init(&a, 4096);
	for (int i = 0; i < 67; i++) { /* 3 + 67 = 70 */
		snprintf(xml, sizeof(xml), "<domain><name>many-%02d</name></domain>", i);
		xdr_writer_reset(&a);
		xdr_put_string(&a, xml, 4096);
		CHECK_EQ(call_remote(&t, 11, &a), 0);
		CHECK_EQ(t.h.status, RPC_OK);
	}
	xdr_writer_reset(&a);
	xdr_put_int(&a, 1);
	xdr_put_uint(&a, 0);
	CHECK_EQ(call_remote(&t, 273, &a), 0);
	xdr_get_uint(&t.r, &n);
	CHECK_EQ(n, 70);
	for (uint32_t i = 0; i < n; i++)
		procs_get_dom(&t.r, &ref);
	xdr_get_uint(&t.r, &count);
	CHECK_EQ(xdr_reader_done(&t.r), 0);
	CHECK_EQ(count, 70);
	CHECK(!strcmp(ref.name, "many-66"));
	xdr_writer_free(&a);
	t_free(&t);
}

/* fake-alpha (id 7) as a domain argument, then disk or interface @dev. */
static void put_alpha_dev(struct xdr_writer *a, const char *dev)
{
	struct lv_dom d = {.name = "fake-alpha", .id = 7};

	for (int i = 0; i < LV_UUID_LEN; i++)
		d.uuid[i] = (uint8_t) (0x10 + i);
	xdr_writer_reset(a);
	procs_put_dom(a, &d);
	if (dev)
		xdr_put_string(a, dev, 256);
}

/* BLOCK_STATS_FLAGS with @nparams: the answer's count. */
static int32_t blk_flags(struct t *t, struct xdr_writer *a, int32_t nparams, struct lv_param *p,
			 uint32_t *n)
{
	int32_t count = -1;

	put_alpha_dev(a, "vda");
	xdr_put_int(a, nparams);
	xdr_put_uint(a, 0);
	CHECK_EQ(call_remote(t, 243, a), 0);
	if (t->h.status != RPC_OK)
		return -1;
	xdr_get_array_len(&t->r, n, 16, 12);
	for (uint32_t i = 0; i < *n && i < 16; i++)
		procs_get_param(&t->r, &p[i]);
	xdr_get_int(&t->r, &count);
	CHECK_EQ(xdr_reader_done(&t->r), 0);
	return count;
}

static void test_block_stats(void)
{
	struct lv_backend_ops no_blk = fake_be_ops;
	struct lv_param p[16];
	struct xdr_writer a;
	int64_t v[5];
	uint32_t n;
	struct t t;

	t_init(&t);
	open_conn(&t);
	xdr_writer_init(&a, 1024);
	put_alpha_dev(&a, "vda"); /* BLOCK_STATS: five hypers */
	CHECK_EQ(call_remote(&t, 64, &a), 0);
	CHECK_EQ(t.h.status, RPC_OK);
	for (int i = 0; i < 5; i++)
		xdr_get_hyper(&t.r, &v[i]);
	CHECK_EQ(xdr_reader_done(&t.r), 0);
	CHECK(v[0] == 107 && v[1] == 409600 && v[2] == 30 && v[3] == 122880 && v[4] == -1);
	/* nparams 0 asks how many; the unknown errs is left out of the five. */
	CHECK_EQ(blk_flags(&t, &a, 0, p, &n), 5);
	CHECK_EQ(n, 0);
	CHECK_EQ(blk_flags(&t, &a, 2, p, &n), 2);
	CHECK_EQ(n, 2);
	CHECK(!strcmp(p[0].field, "rd_operations") && p[0].type == LV_PARAM_LLONG);
	CHECK_EQ(p[0].v.l, 107);
	CHECK(!strcmp(p[1].field, "rd_bytes") && p[1].v.l == 409600);
	CHECK_EQ(blk_flags(&t, &a, 17, p, &n), -1);
	CHECK_EQ(t.err_code, LV_ERR_INVALID_ARG);
	put_alpha_dev(&a, "vdz");
	CHECK_EQ(call_remote(&t, 64, &a), 0);
	CHECK_EQ(t.err_code, LV_ERR_INVALID_ARG);
	CHECK(strstr(t.err_msg, "vdz") != NULL);
	put_alpha_dev(&a, NULL); /* no disk name: malformed */
	CHECK_EQ(call_remote(&t, 64, &a), 0);
	CHECK_EQ(t.err_code, RPC_ERR_RPC);
	put_alpha_dev(&a, "eth0");
	CHECK_EQ(call_remote(&t, 65, &a), 0);
	CHECK_EQ(t.err_code, LV_ERR_INVALID_ARG);
	CHECK(strstr(t.err_msg, "'eth0' is not a known interface") != NULL);
	no_blk.block_stats = NULL; /* a backend without the op: not supported */
	t.b.ops = &no_blk;
	put_alpha_dev(&a, "vda");
	CHECK_EQ(call_remote(&t, 64, &a), 0);
	CHECK_EQ(t.err_code, LV_ERR_NO_SUPPORT);
	t.b.ops = &fake_be_ops;
	xdr_writer_free(&a);
	t_free(&t);
}

/* SAVE_FLAGS (232) of fake-alpha to @to with @dxml and @flags; the answer's error code. */
static int32_t save_flags(struct t *t, struct xdr_writer *a, const char *to, const char *dxml,
			  uint32_t flags)
{
	put_alpha_dev(a, to);
	xdr_put_opt_string(a, dxml, 256);
	xdr_put_uint(a, flags);
	CHECK_EQ(call_remote(t, 232, a), 0);
	return t->err_code;
}

/* DOMAIN_SAVE / RESTORE and their flag forms on the wire: a path must be absolute (the
 * client library makes it so; a raw client may not), trailing bytes are malformed,
 * every flag but RUNNING is refused, and nothing is done before the checks pass. */
static void test_save_restore(void)
{
	struct lv_backend_ops no_save = fake_be_ops;
	char *dir = g_dir_make_tmp("test-procs.XXXXXX", NULL);
	char *to = g_build_filename(dir, "saved", NULL);
	g_autofree char *marker = NULL;
	struct xdr_writer a;
	struct t t;

	CHECK(dir != NULL);
	t_init(&t);
	open_conn(&t);
	xdr_writer_init(&a, 1024);
	CHECK_EQ(save_flags(&t, &a, to, NULL, 0), LV_ERR_INVALID_ARG); /* no save root yet */
	CHECK(strstr(t.err_msg, "test directory") != NULL);
	fake_be_set_save_root(t.b.be, dir);
	CHECK_EQ(save_flags(&t, &a, "relative", NULL, 0), LV_ERR_INVALID_ARG);
	CHECK(strstr(t.err_msg, "not absolute") != NULL);
	CHECK_EQ(save_flags(&t, &a, to, NULL, 4), LV_ERR_ARGUMENT_UNSUPPORTED);
	CHECK(strstr(t.err_msg, "VIR_DOMAIN_SAVE_PAUSED") != NULL);
	CHECK_EQ(save_flags(&t, &a, to, NULL, 0x10), LV_ERR_INVALID_ARG);
	CHECK(strstr(t.err_msg, "0x10") != NULL);
	CHECK_EQ(save_flags(&t, &a, to, "<domain/>", 0), LV_ERR_ARGUMENT_UNSUPPORTED);
	CHECK(!g_file_test(to, G_FILE_TEST_EXISTS)); /* nothing done so far */
	put_alpha_dev(&a, to);
	xdr_put_uint(&a, 0); /* DOMAIN_SAVE takes no flags: trailing bytes */
	CHECK_EQ(call_remote(&t, 55, &a), 0);
	CHECK_EQ(t.err_code, RPC_ERR_RPC);
	no_save.save = NULL; /* a backend without the op: not supported */
	t.b.ops = &no_save;
	CHECK_EQ(save_flags(&t, &a, to, NULL, 0), LV_ERR_NO_SUPPORT);
	t.b.ops = &fake_be_ops;
	CHECK_EQ(save_flags(&t, &a, to, NULL, 2), 0); /* RUNNING: what we do anyway */
	CHECK_EQ(t.h.status, RPC_OK);
	CHECK_EQ(xdr_reader_done(&t.r), 0); /* an empty reply */
	CHECK(g_file_test(to, G_FILE_TEST_IS_DIR));
	xdr_writer_reset(&a);
	xdr_put_string(&a, "saved", 256); /* RESTORE of a relative path */
	CHECK_EQ(call_remote(&t, 54, &a), 0);
	CHECK_EQ(t.err_code, LV_ERR_INVALID_ARG);
	xdr_writer_reset(&a);
	xdr_put_string(&a, to, 1024);
	CHECK_EQ(call_remote(&t, 54, &a), 0);
	CHECK_EQ(t.h.status, RPC_OK);
	CHECK_EQ(call_remote(&t, 54, &a), 0); /* a second time: it runs already */
	CHECK_EQ(t.err_code, LV_ERR_OPERATION_INVALID);
	xdr_writer_free(&a);
	t_free(&t);
	marker = g_build_filename(to, "fake-saved", NULL);
	g_remove(marker);
	g_rmdir(to);
	g_rmdir(dir);
	g_free(to);
	g_free(dir);
}

int main(void)
{
	test_before_open();
	test_calls();
	test_unknown_and_protocol();
	test_events();
	test_many_domains();
	test_block_stats();
	test_save_restore();
	return check_done("test_procs");
}
