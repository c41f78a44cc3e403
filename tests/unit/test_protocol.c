/* test_protocol.c - the control protocol: good requests, hostile lines, reply round trips. */
#include "vmm/control/protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

static unsigned checks, failures;

static void print_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* printf, with the newlines a reply ends in left out. */
static void print_line(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_strdelimit(s, "\n", ' ');
	fputs(g_strchomp(s), stdout);
	g_free(s);
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		checks++;                                                                          \
		if (cond) {                                                                        \
			printf("ok   ");                                                           \
		} else {                                                                           \
			failures++;                                                                \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                \
		}                                                                                  \
		print_line(__VA_ARGS__);                                                           \
		printf("\n");                                                                      \
	} while (0)

/* Parse a NUL-terminated request; returns what proto_parse_request returns. */
static int parse(const char *line, struct proto_request *req, char *err, size_t errlen)
{
	return proto_parse_request(line, strlen(line), req, err, errlen);
}

/* A request that must parse to @cmd with @name. */
static void good(const char *line, enum proto_cmd cmd, const char *name)
{
	struct proto_request req;
	char err[256] = "";
	int ret = parse(line, &req, err, sizeof(err));

	CHECK(ret == 0 && req.cmd == cmd && strcmp(req.name, name) == 0, "accept %.60s %s", line,
	      err);
}

/* A request that must be rejected, with an error containing @why. */
static void bad(const char *line, size_t len, const char *why)
{
	struct proto_request req;
	char err[256] = "";
	int ret = proto_parse_request(line, len, &req, err, sizeof(err));
	char *shown = g_strescape(line, NULL);

	CHECK(ret == -EINVAL && strstr(err, why) && req.cmd == 0 && !req.name[0],
	      "reject %.60s -> %s", shown, err);
	g_free(shown);
}

static void bad_str(const char *line, const char *why)
{
	bad(line, strlen(line), why);
}

static void test_good_requests(void)
{
	good("{\"cmd\":\"ping\"}", PROTO_CMD_PING, "");
	good("{\"cmd\":\"list\"}\n", PROTO_CMD_LIST, "");
	good("{\"cmd\":\"list\"}\r\n", PROTO_CMD_LIST, "");
	good("  { \"cmd\" : \"stop\" }  ", PROTO_CMD_STOP, "");
	good("{\"cmd\":\"stop\",\"name\":\"g0\"}", PROTO_CMD_STOP, "g0");
	good("{\"name\":\"g0\",\"cmd\":\"stop\"}", PROTO_CMD_STOP, "g0");
	good("{\"cmd\":\"verify\"}", PROTO_CMD_VERIFY, "");
	good("{\"cmd\":\"verify\",\"name\":\"g12\"}", PROTO_CMD_VERIFY, "g12");
	good("{\"cmd\":\"fault\",\"name\":\"g1\"}", PROTO_CMD_FAULT, "g1");
	good("{\"cmd\":\"stop\",\"name\":\"g\\u00e9\"}", PROTO_CMD_STOP, "g\xc3\xa9");
	good("{\"cmd\":\"stop\",\"name\":\"[[[[[[[[[[[[[[[[[[[[[[\"}", PROTO_CMD_STOP,
	     "[[[[[[[[[[[[[[[[[[[[[[");
	good("{\"cmd\":\"stop\",\"name\":\"\\\"{{{{{{{{{{{{{{{{{{{{\"}", PROTO_CMD_STOP,
	     "\"{{{{{{{{{{{{{{{{{{{{");
}

static void test_name_limits(void)
{
	char name[PROTO_NAME_MAX + 1], line[256];

	memset(name, 'a', PROTO_NAME_MAX - 1);
	name[PROTO_NAME_MAX - 1] = '\0';
	snprintf(line, sizeof(line), "{\"cmd\":\"stop\",\"name\":\"%s\"}", name);
	good(line, PROTO_CMD_STOP, name);
	strcat(name, "a");
	snprintf(line, sizeof(line), "{\"cmd\":\"stop\",\"name\":\"%s\"}", name);
	bad_str(line, "longer than");
	bad_str("{\"cmd\":\"stop\",\"name\":\"\"}", "empty");
	bad_str("{\"cmd\":\"stop\",\"name\":\"g\\n0\"}", "control character");
	bad_str("{\"cmd\":\"stop\",\"name\":\"\\u0001\"}", "control character");
	bad_str("{\"cmd\":\"stop\",\"name\":\"\\u007f\"}", "control character");
	bad_str("{\"cmd\":\"stop\",\"name\":\"\\u0000\"}", "NUL");
	bad_str("{\"cmd\":\"stop\",\"name\":\"g0\\u0000x\"}", "NUL");
}

static void test_bad_shapes(void)
{
	bad_str("", "empty");
	bad_str("\n", "empty");
	bad_str("   ", "empty");
	bad_str("garbage", "not valid JSON");
	bad_str("{", "not valid JSON");
	bad_str("}", "not valid JSON");
	bad_str("{\"cmd\":\"ping\"", "not valid JSON");
	bad_str("{\"cmd\":\"ping\",}", "not valid JSON");
	bad_str("{'cmd':'ping'}", "not valid JSON");
	bad_str("{\"cmd\":\"ping\"} x", "not valid JSON");
	bad_str("{\"cmd\":\"ping\"} /* x */", "not valid JSON");
	bad_str("# x\n{\"cmd\":\"ping\"}", "not valid JSON");
	bad_str("{cmd:\"ping\"}", "not valid JSON");
	bad_str("{\"cmd\":\"ping\"}\n{\"cmd\":\"list\"}", "newline");
	bad_str("{\"cmd\":\"ping\"}\n\n", "newline");
	bad_str("{\"cmd\":\"stop\",\"name\":\"\\x41\"}", "bad escape");
	bad_str("{\"cmd\":\"stop\",\"name\":\"\\u12\"}", "bad escape");
	bad_str("{\"cmd\":\"stop\",\"name\":\"a\tb\"}", "control character");
	bad_str("{\"cmd\":\"stop\",\"name\":\"\\ud800\"}", "not valid JSON");
	bad_str("{\"cmd\":\"stop\"}\x01", "byte 0x01");
	bad_str("{\"cmd\":\"stop\",\"name\":\"g0\"", "not valid JSON");
	bad_str("{\"cmd\":\"stop\",\"name\":\"g0", "not valid JSON");
	bad_str("{\"cmd\":\"stop\",\"name\":\"g0\\", "not valid JSON");
	bad_str("[]", "not a JSON object");
	bad_str("[{\"cmd\":\"ping\"}]", "not a JSON object");
	bad_str("\"list\"", "not a JSON object");
	bad_str("42", "not a JSON object");
	bad_str("null", "not a JSON object");
	bad_str("true", "not a JSON object");
	bad_str("{}", "missing \"cmd\"");
	bad_str("{\"name\":\"g0\"}", "missing \"cmd\"");
}

static void test_bad_members(void)
{
	bad_str("{\"cmd\":1}", "must be a string");
	bad_str("{\"cmd\":null}", "must be a string");
	bad_str("{\"cmd\":true}", "must be a string");
	bad_str("{\"cmd\":[\"list\"]}", "must be a string");
	bad_str("{\"cmd\":{\"x\":1}}", "must be a string");
	bad_str("{\"cmd\":\"LIST\"}", "unknown command");
	bad_str("{\"cmd\":\"nope\"}", "unknown command");
	bad_str("{\"cmd\":\"\"}", "unknown command");
	bad_str("{\"cmd\":\"stop\",\"name\":1}", "must be a string");
	bad_str("{\"cmd\":\"stop\",\"name\":null}", "must be a string");
	bad_str("{\"cmd\":\"stop\",\"name\":[\"g0\"]}", "must be a string");
	bad_str("{\"cmd\":\"ping\",\"name\":\"g0\"}", "unknown member \"name\"");
	bad_str("{\"cmd\":\"list\",\"extra\":1}", "unknown member \"extra\"");
	bad_str("{\"cmd\":\"stop\",\"nmae\":\"g0\"}", "unknown member \"nmae\"");
	bad_str("{\"cmd\":\"fault\"}", "needs a \"name\"");
}

static void test_huge_numbers(void)
{
	bad_str("{\"cmd\":\"list\",\"n\":1e999999}", "");
	bad_str("{\"cmd\":99999999999999999999999999999999}", "");
	bad_str("{\"cmd\":\"stop\",\"name\":-1e308}", "must be a string");
	bad_str("{\"cmd\":\"stop\",\"name\":123456789012345678901234567890}", "");
	bad_str("{\"cmd\":-0.0e-99999}", "");
}

static void test_nesting(void)
{
	char *deep = g_strnfill(60000, '[');
	GString *s = g_string_new("{\"cmd\":\"list\",\"x\":");

	bad_str(deep, "nesting deeper");
	memset(deep, '{', 60000);
	bad_str(deep, "nesting deeper");
	for (int i = 0; i < PROTO_MAX_DEPTH; i++)
		g_string_append_c(s, '[');
	g_string_append(s, "1");
	for (int i = 0; i < PROTO_MAX_DEPTH; i++)
		g_string_append_c(s, ']');
	g_string_append_c(s, '}');
	bad_str(s->str, "nesting deeper");
	/* One level less: the grammar is fine, the member is not. */
	g_string_assign(s, "{\"cmd\":\"list\",\"x\":");
	for (int i = 0; i < PROTO_MAX_DEPTH - 1; i++)
		g_string_append_c(s, '[');
	for (int i = 0; i < PROTO_MAX_DEPTH - 1; i++)
		g_string_append_c(s, ']');
	g_string_append_c(s, '}');
	bad_str(s->str, "unknown member \"x\"");
	g_string_free(s, TRUE);
	g_free(deep);
}

static void test_line_limits(void)
{
	const char *req = "{\"cmd\":\"ping\"}";
	size_t rlen = strlen(req);
	char *line = g_malloc(PROTO_MAX_LINE + 2);

	memset(line, ' ', PROTO_MAX_LINE + 1);
	memcpy(line + PROTO_MAX_LINE - rlen, req, rlen);
	line[PROTO_MAX_LINE] = '\n';
	line[PROTO_MAX_LINE + 1] = '\0';
	good(line, PROTO_CMD_PING, "");
	memcpy(line + PROTO_MAX_LINE + 1 - rlen, req, rlen);
	bad(line, PROTO_MAX_LINE + 1, "longer than");
	g_free(line);
	bad("{\"cmd\":\"ping\"}\0", 15, "NUL byte");
	bad("{\"cmd\":\"pi\0ng\"}", 15, "NUL byte");
	bad_str("{\"cmd\":\"stop\",\"name\":\"\xff\"}", "UTF-8");
	bad_str("{\"cmd\":\"stop\",\"name\":\"\xc0\x80\"}", "UTF-8");
	bad_str("{\"cmd\":\"stop\",\"name\":\"\xed\xa0\x80\"}", "UTF-8");
}

/* Whatever the bytes, the parser answers 0 or -EINVAL, and 0 only with a valid request. */
static bool fuzz_one(const char *buf, size_t len)
{
	struct proto_request req;
	char err[128];
	int ret = proto_parse_request(buf, len, &req, err, sizeof(err));

	if (ret == 0)
		return (unsigned) req.cmd < PROTO_CMD_COUNT && strlen(req.name) < PROTO_NAME_MAX;
	return ret == -EINVAL && err[0];
}

static void test_fuzz(void)
{
	static const char alphabet[] = "{}[]\":,\\u0 \n\tabcdeflnopst1e-+.";
	const char *seed = "{\"cmd\":\"verify\",\"name\":\"g0\"}";
	GRand *rand = g_rand_new_with_seed(42);
	unsigned bad_answers = 0;
	char buf[512];

	for (int i = 0; i < 20000; i++) {
		size_t len = g_rand_int_range(rand, 0, sizeof(buf));
		bool text = i & 1;

		for (size_t j = 0; j < len; j++)
			buf[j] = text ? alphabet[g_rand_int_range(rand, 0, sizeof(alphabet) - 1)]
				      : (char) g_rand_int(rand);
		bad_answers += !fuzz_one(buf, len);
	}
	for (int i = 0; i < 20000; i++) {
		size_t len = strlen(seed);

		memcpy(buf, seed, len);
		for (int k = g_rand_int_range(rand, 1, 4); k > 0; k--)
			buf[g_rand_int_range(rand, 0, len)] ^= 1 << g_rand_int_range(rand, 0, 8);
		bad_answers += !fuzz_one(buf, len);
	}
	g_rand_free(rand);
	CHECK(bad_answers == 0, "fuzz: 40000 random and mutated lines (%u bad answers)",
	      bad_answers);
}

/* A builder's line: exactly one '\n', at the end. */
static bool one_line(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl && nl[1] == '\0';
}

static void test_build_requests(void)
{
	struct proto_request in = {.cmd = PROTO_CMD_VERIFY, .name = "g7"}, out;
	char err[128] = "";
	char *line = proto_build_request(&in);

	CHECK(line && one_line(line) && parse(line, &out, err, sizeof(err)) == 0 &&
		  out.cmd == PROTO_CMD_VERIFY && strcmp(out.name, "g7") == 0,
	      "build verify g7: %s", line ? line : "(null)");
	g_free(line);
	for (unsigned c = 0; c < PROTO_CMD_COUNT; c++) {
		struct proto_request r = {.cmd = (enum proto_cmd) c};

		if (proto_cmd_needs_name(r.cmd))
			strcpy(r.name, "g0");
		if (proto_cmd_takes_key_value(r.cmd)) {
			strcpy(r.key, "batch_pages");
			r.value = 64;
		}
		if (r.cmd == PROTO_CMD_WATCH)
			r.ms = 250;
		if (proto_cmd_takes_path(r.cmd))
			strcpy(r.path, "/tmp/x");
		if (proto_cmd_takes_count(r.cmd))
			r.count = 3;
		line = proto_build_request(&r);
		CHECK(line && parse(line, &out, err, sizeof(err)) == 0 && out.cmd == r.cmd,
		      "build and parse %s", proto_cmd_name(r.cmd));
		g_free(line);
	}
	CHECK(!proto_build_request(&(struct proto_request){.cmd = PROTO_CMD_PING, .name = "g0"}),
	      "no name for ping");
	CHECK(!proto_build_request(&(struct proto_request){.cmd = PROTO_CMD_FAULT}),
	      "fault needs a name");
	CHECK(!proto_build_request(&(struct proto_request){.cmd = PROTO_CMD_COUNT}),
	      "out-of-range command");
	CHECK(!proto_build_request(&(struct proto_request){.cmd = PROTO_CMD_SET}),
	      "set needs a key");
}

static void test_set_requests(void)
{
	struct proto_request r;
	char err[128] = "";
	static const char *const bad[] = {
	    "{\"cmd\":\"set\"}",
	    "{\"cmd\":\"set\",\"key\":\"batch_pages\"}",
	    "{\"cmd\":\"set\",\"value\":3}",
	    "{\"cmd\":\"set\",\"key\":\"batch_pages\",\"value\":-1}",
	    "{\"cmd\":\"set\",\"key\":\"batch_pages\",\"value\":\"7\"}",
	    "{\"cmd\":\"set\",\"key\":\"Batch Pages\",\"value\":7}",
	    "{\"cmd\":\"set\",\"key\":7,\"value\":7}",
	    "{\"cmd\":\"stats\",\"key\":\"x\",\"value\":7}",
	    "{\"cmd\":\"set\",\"name\":\"g0\",\"key\":\"x\",\"value\":7}",
	};

	CHECK(parse("{\"cmd\":\"set\",\"key\":\"batch_pages\",\"value\":64}", &r, err,
		    sizeof(err)) == 0 &&
		  r.cmd == PROTO_CMD_SET && !strcmp(r.key, "batch_pages") && r.value == 64,
	      "set batch_pages 64: %s", err);
	CHECK(parse("{\"cmd\":\"stats\"}", &r, err, sizeof(err)) == 0 && r.cmd == PROTO_CMD_STATS,
	      "stats: %s", err);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], &r, err, sizeof(err)) == -EINVAL, "rejects %s", bad[i]);
}

static void test_watch_requests(void)
{
	struct proto_request r,
	    in = {.cmd = PROTO_CMD_WATCH, .name = "g3", .ms = 60000, .threshold_us = 1000};
	char err[128] = "";
	char *line;
	static const char *const bad[] = {
	    "{\"cmd\":\"watch\"}",
	    "{\"cmd\":\"watch\",\"name\":\"g0\"}",
	    "{\"cmd\":\"watch\",\"ms\":100}",
	    "{\"cmd\":\"watch\",\"name\":\"g0\",\"ms\":0}",
	    "{\"cmd\":\"watch\",\"name\":\"g0\",\"ms\":60001}",
	    "{\"cmd\":\"watch\",\"name\":\"g0\",\"ms\":-5}",
	    "{\"cmd\":\"watch\",\"name\":\"g0\",\"ms\":1.5}",
	    "{\"cmd\":\"watch\",\"name\":\"g0\",\"ms\":\"100\"}",
	    "{\"cmd\":\"watch\",\"name\":\"g0\",\"ms\":100,\"threshold_us\":0}",
	    "{\"cmd\":\"watch\",\"name\":\"g0\",\"ms\":100,\"threshold_us\":1001}",
	    "{\"cmd\":\"watch\",\"name\":\"g0\",\"ms\":100,\"value\":3}",
	    "{\"cmd\":\"probe\",\"ms\":100}",
	    "{\"cmd\":\"verify\",\"threshold_us\":10}",
	};

	CHECK(parse("{\"cmd\":\"watch\",\"name\":\"g1\",\"ms\":1500}", &r, err, sizeof(err)) == 0 &&
		  r.cmd == PROTO_CMD_WATCH && !strcmp(r.name, "g1") && r.ms == 1500 &&
		  r.threshold_us == PROTO_WATCH_THRESHOLD_US,
	      "watch g1 1500 with the default threshold: %s", err);
	CHECK(parse("{\"threshold_us\":7,\"cmd\":\"watch\",\"ms\":1,\"name\":\"g1\"}", &r, err,
		    sizeof(err)) == 0 &&
		  r.ms == 1 && r.threshold_us == 7,
	      "watch with a threshold, members in any order: %s", err);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], &r, err, sizeof(err)) == -EINVAL && r.cmd == 0 && r.ms == 0,
		      "rejects %s (%s)", bad[i], err);
	line = proto_build_request(&in);
	CHECK(line && parse(line, &r, err, sizeof(err)) == 0 && r.ms == 60000 &&
		  r.threshold_us == 1000 && !strcmp(r.name, "g3"),
	      "build and parse watch at the limits: %s", line ? line : "(null)");
	g_free(line);
	in.ms = 0;
	CHECK(!proto_build_request(&in), "no watch of 0 ms");
	in.ms = 60001;
	CHECK(!proto_build_request(&in), "no watch above 60000 ms");
}

static void test_cmd_table(void)
{
	enum proto_cmd cmd;

	CHECK(proto_cmd_lookup("verify", &cmd) == 0 && cmd == PROTO_CMD_VERIFY, "lookup verify");
	CHECK(proto_cmd_lookup("Verify", &cmd) == -ENOENT, "lookup is case-sensitive");
	CHECK(proto_cmd_name(PROTO_CMD_COUNT) == NULL, "no name past the table");
	for (unsigned c = 0; c < PROTO_CMD_COUNT; c++)
		CHECK(proto_cmd_name((enum proto_cmd) c) != NULL, "command %u has a name", c);
}

/* Parse a reply line that must be accepted. */
static bool reply_ok(const char *line, struct proto_reply *r)
{
	char err[128] = "";
	int ret = proto_parse_reply(line, strlen(line), r, err, sizeof(err));

	if (ret)
		printf("     (%s)\n", err);
	return ret == 0;
}

static void test_reply_errors(void)
{
	struct proto_reply r;
	char *line = proto_reply_ok();

	CHECK(strcmp(line, "{\"ok\":true}\n") == 0, "reply ok: %s", line);
	CHECK(reply_ok(line, &r) && r.ok && !r.guests && !r.results && !r.stopped,
	      "parse ok reply");
	g_free(line);
	line = proto_reply_error("no guest named \"%s\"", "x\ny");
	CHECK(one_line(line) && reply_ok(line, &r) && !r.ok &&
		  strcmp(r.error, "no guest named \"x\ny\"") == 0,
	      "error reply round trip: %s", line);
	g_free(line);
	line = proto_reply_error("bad \xff bytes \xc3");
	CHECK(g_utf8_validate(line, -1, NULL) && reply_ok(line, &r) && !r.ok,
	      "invalid UTF-8 in a message is repaired: %s", line);
	g_free(line);
}

static void test_reply_guests(void)
{
	struct proto_guest g[2] = {
	    {"g0", "running", 256ull << 20, 1, true, true, ""},
	    {"g1", "dead", 1ull << 40, 8, false, false, "triple fault at \"rip\"\n"},
	};
	struct proto_reply r;
	char *line = proto_reply_guests(g, 2);

	CHECK(one_line(line) && reply_ok(line, &r) && r.ok && r.nguests == 2 &&
		  memcmp(&r.guests[0], &g[0], sizeof(g[0])) == 0 &&
		  strcmp(r.guests[1].reason, g[1].reason) == 0 &&
		  r.guests[1].mem_bytes == g[1].mem_bytes && r.guests[1].cpus == 8 &&
		  !r.guests[1].workload,
	      "guests round trip: %s", line);
	proto_reply_clear(&r);
	g_free(line);
	line = proto_reply_guests(NULL, 0);
	CHECK(reply_ok(line, &r) && r.ok && r.nguests == 0 && r.guests, "empty guest list");
	proto_reply_clear(&r);
	g_free(line);
}

static void test_reply_results(void)
{
	struct proto_result res[2] = {
	    {
		"g0",
		"",
		65536,
		0,
	    },
	    {"g1", "guest g1 is not running", 0, 0},
	};
	const char *names[] = {"g0", "g1", "g2"};
	struct proto_reply r;
	char *line = proto_reply_results(res, 2);

	CHECK(reply_ok(line, &r) && r.nresults == 2 && r.results[0].ok == 65536 &&
		  !r.results[0].error[0] && strcmp(r.results[1].error, res[1].error) == 0,
	      "results round trip: %s", line);
	proto_reply_clear(&r);
	g_free(line);
	line = proto_reply_stopped(names, 3);
	CHECK(reply_ok(line, &r) && r.nstopped == 3 && strcmp(r.stopped[2], "g2") == 0,
	      "stopped round trip: %s", line);
	proto_reply_clear(&r);
	g_free(line);
}

/* A reply that must be rejected (a lying or broken server). */
static void bad_reply(const char *line)
{
	struct proto_reply r;
	char err[128] = "";
	int ret = proto_parse_reply(line, strlen(line), &r, err, sizeof(err));

	CHECK(ret == -EINVAL && err[0] && !r.guests && !r.results, "reject reply %.70s -> %s", line,
	      err);
}

static void test_hostile_replies(void)
{
	struct proto_reply r;

	bad_reply("");
	bad_reply("garbage");
	bad_reply("[true]");
	bad_reply("{\"ok\":\"yes\"}");
	bad_reply("{\"ok\":1}");
	bad_reply("{\"ok\":false}");
	bad_reply("{\"ok\":false,\"error\":7}");
	bad_reply("{\"ok\":true,\"guests\":{}}");
	bad_reply("{\"ok\":true,\"guests\":[{}]}");
	CHECK(reply_ok(
		  "{\"ok\":true,\"guests\":[{\"name\":\"g0\",\"state\":\"running\","
		  "\"mem_bytes\":1,\"cpus\":1,\"workload\":true,\"ready\":true,\"reason\":\"\"}]}",
		  &r) &&
		  r.nguests == 1,
	      "a well-formed guest entry");
	proto_reply_clear(&r);
	bad_reply("{\"ok\":true,\"guests\":[{\"name\":\"g0\",\"state\":\"running\",\"mem_bytes\":1,"
		  "\"cpus\":1,\"workload\":true,\"reason\":\"\"}]}");
	bad_reply("{\"ok\":true,\"guests\":[{\"name\":\"g0\",\"state\":\"ready\",\"mem_bytes\":-1,"
		  "\"cpus\":1,\"workload\":true,\"ready\":true,\"reason\":\"\"}]}");
	bad_reply("{\"ok\":true,\"guests\":[{\"name\":\"g0\",\"state\":\"ready\",\"mem_bytes\":1.5,"
		  "\"cpus\":1,\"workload\":true,\"ready\":true,\"reason\":\"\"}]}");
	bad_reply("{\"ok\":true,\"guests\":[{\"name\":\"g0\",\"state\":\"ready\",\"mem_bytes\":1,"
		  "\"cpus\":1099511627776,\"workload\":true,\"ready\":true,\"reason\":\"\"}]}");
	bad_reply("{\"ok\":true,\"results\":[{\"name\":\"g0\",\"ok\":\"1\",\"bad\":0}]}");
	bad_reply("{\"ok\":true,\"results\":[{\"ok\":1,\"bad\":0}]}");
	bad_reply("{\"ok\":true,\"stopped\":[1]}");
	bad_reply("{\"ok\":true,\"stopped\":[\"g0\",null]}");
}

static void test_lenient_replies(void)
{
	GString *s = g_string_new("{\"ok\":true,\"stopped\":[");
	struct proto_reply r;
	char err[128];
	int ret;

	CHECK(reply_ok("{\"ok\":true,\"future\":{\"x\":[1,2]},\"stopped\":[]}", &r) && r.ok,
	      "unknown reply members are skipped");
	proto_reply_clear(&r);
	for (int i = 0; i < 5000; i++)
		g_string_append(s, i ? ",\"g\"" : "\"g\"");
	g_string_append(s, "]}");
	ret = proto_parse_reply(s->str, s->len, &r, err, sizeof(err));
	CHECK(ret == -EINVAL && !r.stopped, "5000-entry array rejected");
	g_string_assign(s, "{\"ok\":false,\"error\":\"");
	for (int i = 0; i < 300; i++)
		g_string_append(s, "\xc3\xa9");
	g_string_append(s, "\"}");
	CHECK(reply_ok(s->str, &r) && !r.ok && strlen(r.error) < PROTO_TEXT_MAX &&
		  g_utf8_validate(r.error, -1, NULL),
	      "long error cut at a character boundary (%zu bytes)", strlen(r.error));
	proto_reply_clear(&r);
	g_string_free(s, TRUE);
}

static void test_hostile_requests(void)
{
	struct proto_request r, in = {.cmd = PROTO_CMD_HOSTILE, .name = "g2", .key = "loop"};
	char err[128] = "";
	char *line;
	static const char *const bad[] = {
	    "{\"cmd\":\"hostile\"}",
	    "{\"cmd\":\"hostile\",\"name\":\"g0\",\"key\":\"loop\"}",
	    "{\"cmd\":\"hostile\",\"name\":\"g0\",\"value\":1}",
	    "{\"cmd\":\"hostile\",\"key\":\"loop\",\"value\":1}",
	    "{\"cmd\":\"hostile\",\"name\":\"g0\",\"key\":\"Loop!\",\"value\":1}",
	    "{\"cmd\":\"hostile\",\"name\":\"g0\",\"key\":\"loop\",\"value\":-1}",
	    "{\"cmd\":\"hostile\",\"name\":\"g0\",\"key\":\"loop\",\"value\":\"1\"}",
	    "{\"cmd\":\"hostile\",\"name\":\"g0\",\"key\":\"loop\",\"value\":1,\"bytes\":0}",
	    "{\"cmd\":\"set\",\"name\":\"g0\",\"key\":\"batch_pages\",\"value\":1}",
	};

	CHECK(parse("{\"cmd\":\"hostile\",\"name\":\"g1\",\"key\":\"avail\",\"value\":4}", &r, err,
		    sizeof(err)) == 0 &&
		  r.cmd == PROTO_CMD_HOSTILE && !strcmp(r.name, "g1") && !strcmp(r.key, "avail") &&
		  r.value == 4,
	      "hostile g1 4 avail: %s", err);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], &r, err, sizeof(err)) == -EINVAL && r.cmd == 0,
		      "rejects %s (%s)", bad[i], err);
	line = proto_build_request(&in);
	CHECK(line && parse(line, &r, err, sizeof(err)) == 0 && r.cmd == PROTO_CMD_HOSTILE &&
		  !strcmp(r.key, "loop") && r.value == 0 && !strcmp(r.name, "g2"),
	      "build and parse hostile: %s", line ? line : "(null)");
	g_free(line);
	in.name[0] = '\0';
	CHECK(!proto_build_request(&in), "no hostile without a name");
	in = (struct proto_request){.cmd = PROTO_CMD_SET, .name = "g0", .key = "batch_pages"};
	CHECK(!proto_build_request(&in), "no set with a name");
}

static void test_snapshot_requests(void)
{
	struct proto_request r, in = {.cmd = PROTO_CMD_SNAPSHOT, .name = "g2", .path = "/srv/s"};
	char err[128] = "";
	char *line, *longp;
	static const char *const bad[] = {
	    "{\"cmd\":\"snapshot\"}",
	    "{\"cmd\":\"snapshot\",\"name\":\"g0\"}",
	    "{\"cmd\":\"snapshot\",\"path\":\"/x\"}",
	    "{\"cmd\":\"snapshot\",\"name\":\"g0\",\"path\":\"relative/x\"}",
	    "{\"cmd\":\"snapshot\",\"name\":\"g0\",\"path\":\"\"}",
	    "{\"cmd\":\"snapshot\",\"name\":\"g0\",\"path\":7}",
	    "{\"cmd\":\"snapshot\",\"name\":\"g0\",\"path\":\"/x\",\"bytes\":0}",
	    "{\"cmd\":\"verify\",\"name\":\"g0\",\"path\":\"/x\"}",
	};

	CHECK(parse("{\"cmd\":\"snapshot\",\"name\":\"g1\",\"path\":\"/tmp/a b\"}", &r, err,
		    sizeof(err)) == 0 &&
		  r.cmd == PROTO_CMD_SNAPSHOT && !strcmp(r.name, "g1") &&
		  !strcmp(r.path, "/tmp/a b"),
	      "snapshot g1 /tmp/a b: %s", err);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], &r, err, sizeof(err)) == -EINVAL && r.cmd == 0,
		      "rejects %s (%s)", bad[i], err);
	line = proto_build_request(&in);
	CHECK(line && parse(line, &r, err, sizeof(err)) == 0 && r.cmd == PROTO_CMD_SNAPSHOT &&
		  !strcmp(r.path, "/srv/s") && !strcmp(r.name, "g2"),
	      "build and parse snapshot: %s", line ? line : "(null)");
	g_free(line);
	/* A path of PROTO_PATH_MAX bytes does not fit; one byte less does. */
	longp = g_strdup_printf("{\"cmd\":\"snapshot\",\"name\":\"g0\",\"path\":\"/%0*d\"}",
				PROTO_PATH_MAX - 1, 0);
	CHECK(parse(longp, &r, err, sizeof(err)) == -EINVAL, "a path too long");
	g_free(longp);
	longp = g_strdup_printf("{\"cmd\":\"snapshot\",\"name\":\"g0\",\"path\":\"/%0*d\"}",
				PROTO_PATH_MAX - 2, 0);
	CHECK(parse(longp, &r, err, sizeof(err)) == 0 && strlen(r.path) == PROTO_PATH_MAX - 1,
	      "the longest path: %s", err);
	g_free(longp);
	strcpy(in.path, "rel");
	CHECK(!proto_build_request(&in), "no snapshot to a relative path");
}

static void test_clone_requests(void)
{
	struct proto_request r, in = {.cmd = PROTO_CMD_CLONE, .name = "g2", .count = 256};
	struct proto_reply rep;
	const char *names[] = {"g2-1", "g2-2"};
	char err[128] = "";
	char *line;
	static const char *const bad[] = {
	    "{\"cmd\":\"clone\",\"name\":\"g0\"}",
	    "{\"cmd\":\"clone\",\"count\":2}",
	    "{\"cmd\":\"clone\",\"name\":\"g0\",\"count\":0}",
	    "{\"cmd\":\"clone\",\"name\":\"g0\",\"count\":257}",
	    "{\"cmd\":\"clone\",\"name\":\"g0\",\"count\":\"2\"}",
	    "{\"cmd\":\"clone\",\"name\":\"g0\",\"count\":1.5}",
	    "{\"cmd\":\"snapshot\",\"name\":\"g0\",\"path\":\"/x\",\"count\":1}",
	};

	CHECK(parse("{\"cmd\":\"clone\",\"name\":\"g1\",\"count\":4}", &r, err, sizeof(err)) == 0 &&
		  r.cmd == PROTO_CMD_CLONE && !strcmp(r.name, "g1") && r.count == 4,
	      "clone g1 4: %s", err);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], &r, err, sizeof(err)) == -EINVAL && r.cmd == 0,
		      "rejects %s (%s)", bad[i], err);
	line = proto_build_request(&in);
	CHECK(line && parse(line, &r, err, sizeof(err)) == 0 && r.count == 256,
	      "build and parse clone: %s", line ? line : "(null)");
	g_free(line);
	in.count = 0;
	CHECK(!proto_build_request(&in), "no clone of 0");
	line = proto_reply_clones(names, 2);
	CHECK(proto_parse_reply(line, strlen(line), &rep, err, sizeof(err)) == 0 &&
		  rep.nclones == 2 && !strcmp(rep.clones[1], "g2-2"),
	      "clones reply round trip: %s", line);
	proto_reply_clear(&rep);
	g_free(line);
	CHECK(proto_parse_reply("{\"ok\":true,\"clones\":[1]}", 24, &rep, err, sizeof(err)) ==
		  -EINVAL,
	      "a clones reply of numbers");
}

static void test_verify_requests(void)
{
	struct proto_request r, in = {.cmd = PROTO_CMD_VERIFY, .timeout_s = PROTO_VERIFY_MAX_S};
	char err[128] = "";
	char *line;
	static const char *const bad[] = {
	    "{\"cmd\":\"verify\",\"timeout_s\":0}",
	    "{\"cmd\":\"verify\",\"timeout_s\":86401}",
	    "{\"cmd\":\"verify\",\"timeout_s\":-5}",
	    "{\"cmd\":\"verify\",\"timeout_s\":1.5}",
	    "{\"cmd\":\"verify\",\"timeout_s\":\"60\"}",
	    "{\"cmd\":\"verify\",\"timeout_s\":null}",
	    "{\"cmd\":\"probe\",\"timeout_s\":60}",
	    "{\"cmd\":\"stop\",\"name\":\"g0\",\"timeout_s\":60}",
	};

	CHECK(parse("{\"cmd\":\"verify\",\"name\":\"g1\",\"timeout_s\":600}", &r, err,
		    sizeof(err)) == 0 &&
		  r.cmd == PROTO_CMD_VERIFY && !strcmp(r.name, "g1") && r.timeout_s == 600,
	      "verify g1 within 600 s: %s", err);
	CHECK(parse("{\"timeout_s\":1,\"cmd\":\"verify\"}", &r, err, sizeof(err)) == 0 &&
		  !r.name[0] && r.timeout_s == 1,
	      "verify all within 1 s, members in any order: %s", err);
	CHECK(parse("{\"cmd\":\"verify\"}", &r, err, sizeof(err)) == 0 && r.timeout_s == 0,
	      "verify without a timeout: %s", err);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], &r, err, sizeof(err)) == -EINVAL && r.cmd == 0,
		      "rejects %s (%s)", bad[i], err);
	line = proto_build_request(&in);
	CHECK(line && parse(line, &r, err, sizeof(err)) == 0 && r.timeout_s == PROTO_VERIFY_MAX_S,
	      "build and parse the longest timeout: %s", line ? line : "(null)");
	g_free(line);
	in.timeout_s = 0;
	line = proto_build_request(&in);
	CHECK(line && !strstr(line, "timeout_s"), "no timeout given, none sent: %s",
	      line ? line : "(null)");
	g_free(line);
	in.timeout_s = PROTO_VERIFY_MAX_S + 1;
	CHECK(!proto_build_request(&in), "no request with a timeout over a day");
	in = (struct proto_request){.cmd = PROTO_CMD_PROBE, .timeout_s = 60};
	CHECK(!proto_build_request(&in), "no probe request with a timeout");
}

static void test_balloon_requests(void)
{
	struct proto_request r, in = {.cmd = PROTO_CMD_BALLOON, .name = "g2", .bytes = 1ull << 40};
	char err[128] = "";
	char *line;
	static const char *const bad[] = {
	    "{\"cmd\":\"balloon\"}",
	    "{\"cmd\":\"balloon\",\"name\":\"g0\"}",
	    "{\"cmd\":\"balloon\",\"bytes\":4096}",
	    "{\"cmd\":\"balloon\",\"name\":\"g0\",\"bytes\":-1}",
	    "{\"cmd\":\"balloon\",\"name\":\"g0\",\"bytes\":1099511627777}",
	    "{\"cmd\":\"balloon\",\"name\":\"g0\",\"bytes\":9223372036854775807}",
	    "{\"cmd\":\"balloon\",\"name\":\"g0\",\"bytes\":99999999999999999999}",
	    "{\"cmd\":\"balloon\",\"name\":\"g0\",\"bytes\":1.5}",
	    "{\"cmd\":\"balloon\",\"name\":\"g0\",\"bytes\":\"16M\"}",
	    "{\"cmd\":\"balloon\",\"name\":\"g0\",\"bytes\":null}",
	    "{\"cmd\":\"balloon\",\"name\":\"g0\",\"bytes\":true}",
	    "{\"cmd\":\"balloon\",\"name\":\"g0\",\"bytes\":0,\"value\":3}",
	    "{\"cmd\":\"balloon\",\"name\":\"\",\"bytes\":0}",
	    "{\"cmd\":\"devices\",\"name\":\"g0\",\"bytes\":0}",
	    "{\"cmd\":\"verify\",\"bytes\":0}",
	};

	CHECK(parse("{\"cmd\":\"balloon\",\"name\":\"g1\",\"bytes\":16777216}", &r, err,
		    sizeof(err)) == 0 &&
		  r.cmd == PROTO_CMD_BALLOON && !strcmp(r.name, "g1") && r.bytes == 16777216,
	      "balloon g1 16M: %s", err);
	CHECK(parse("{\"bytes\":0,\"name\":\"g1\",\"cmd\":\"balloon\"}", &r, err, sizeof(err)) ==
		      0 &&
		  r.cmd == PROTO_CMD_BALLOON && r.bytes == 0,
	      "balloon 0 (deflate), members in any order: %s", err);
	CHECK(parse("{\"cmd\":\"balloon\",\"name\":\"g1\",\"bytes\":1099511627776}", &r, err,
		    sizeof(err)) == 0 &&
		  r.bytes == PROTO_BALLOON_MAX_BYTES,
	      "balloon at the 1 TiB limit: %s", err);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], &r, err, sizeof(err)) == -EINVAL && r.cmd == 0 && r.bytes == 0,
		      "rejects %s (%s)", bad[i], err);
	bad_str("{\"cmd\":\"balloon\",\"name\":\"g0\",\"bytes\":1099511627777}", "1 TiB");
	bad_str("{\"cmd\":\"balloon\",\"name\":\"g0\"}", "needs \"bytes\"");
	line = proto_build_request(&in);
	CHECK(line && parse(line, &r, err, sizeof(err)) == 0 && r.bytes == 1ull << 40 &&
		  !strcmp(r.name, "g2"),
	      "build and parse balloon at the limit: %s", line ? line : "(null)");
	g_free(line);
	in.bytes = 0;
	line = proto_build_request(&in);
	CHECK(line && strstr(line, "\"bytes\":0") && parse(line, &r, err, sizeof(err)) == 0,
	      "build balloon 0: %s", line ? line : "(null)");
	g_free(line);
	in.bytes = (1ull << 40) + 1;
	CHECK(!proto_build_request(&in), "no balloon above 1 TiB");
	in.bytes = 0;
	in.name[0] = '\0';
	CHECK(!proto_build_request(&in), "no balloon without a name");
}

static void test_devices_requests(void)
{
	struct proto_request r, in = {.cmd = PROTO_CMD_DEVICES, .name = "g0"};
	char err[128] = "";
	char *line = proto_build_request(&in);

	good("{\"cmd\":\"devices\",\"name\":\"g7\"}", PROTO_CMD_DEVICES, "g7");
	bad_str("{\"cmd\":\"devices\"}", "needs a \"name\"");
	bad_str("{\"cmd\":\"devices\",\"name\":3}", "must be a string");
	bad_str("{\"cmd\":\"devices\",\"name\":\"g0\",\"ms\":5}", "unknown member");
	CHECK(line && !strcmp(line, "{\"cmd\":\"devices\",\"name\":\"g0\"}\n") &&
		  parse(line, &r, err, sizeof(err)) == 0 && r.cmd == PROTO_CMD_DEVICES,
	      "build devices: %s", line ? line : "(null)");
	g_free(line);
	in.name[0] = '\0';
	CHECK(!proto_build_request(&in), "no devices without a name");
}

/* Two devices as the VMM would list them. */
static void fill_devices(struct proto_device *d)
{
	memset(d, 0, 2 * sizeof(*d));
	d[0] = (struct proto_device){
	    .kind = "uart", .bus = "pio", .base = 0x3f8, .size = 8, .irq = 4, .state = "active"};
	d[1] = (struct proto_device){.kind = "blk",
				     .bus = "mmio",
				     .base = 0xd0000000ull,
				     .size = 0x200,
				     .irq = -1,
				     .state = "driver-ok",
				     .detail = "/tmp/rw.img rw",
				     .ncounters = 3};
	d[1].counters[0] = (struct proto_counter){"reads", 12};
	d[1].counters[1] = (struct proto_counter){"writes", 1ull << 40};
	d[1].counters[2] = (struct proto_counter){"errors", 0};
}

static void test_reply_devices(void)
{
	struct proto_device d[2];
	struct proto_reply r;
	char *line;

	fill_devices(d);
	line = proto_reply_devices("g0", d, 2);
	CHECK(one_line(line) && reply_ok(line, &r) && r.ok && !strcmp(r.guest, "g0") &&
		  r.ndevices == 2 && memcmp(&r.devices[0], &d[0], sizeof(d[0])) == 0 &&
		  memcmp(&r.devices[1], &d[1], sizeof(d[1])) == 0,
	      "devices round trip: %s", line);
	proto_reply_clear(&r);
	g_free(line);
	d[1].counters[1] = (struct proto_counter){"Bad-Key", 1};
	d[1].counters[2] = (struct proto_counter){"", 1};
	line = proto_reply_devices("g0", d, 2);
	CHECK(reply_ok(line, &r) && r.ndevices == 2 && r.devices[1].ncounters == 1 &&
		  !strcmp(r.devices[1].counters[0].key, "reads"),
	      "counters with invalid names are left out: %s", line);
	proto_reply_clear(&r);
	g_free(line);
	line = proto_reply_devices("g1", NULL, 0);
	CHECK(reply_ok(line, &r) && r.ndevices == 0 && r.devices && !strcmp(r.guest, "g1"),
	      "a guest without devices: %s", line);
	proto_reply_clear(&r);
	g_free(line);
}

/* A device entry with member @member replaced by @value, in a devices reply. */
static char *device_line(const char *member, const char *value)
{
	static const char *const members[][2] = {
	    {"kind", "\"blk\""},    {"bus", "\"mmio\""},
	    {"base", "3489660928"}, {"size", "512"},
	    {"irq", "5"},	    {"state", "\"driver-ok\""},
	    {"detail", "\"\""},	    {"counters", "{\"reads\":1}"},
	};
	GString *s = g_string_new("{\"ok\":true,\"guest\":\"g0\",\"devices\":[{");

	for (unsigned i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		bool mine = !strcmp(members[i][0], member);

		if (mine && !value)
			continue;
		g_string_append_printf(s, "%s\"%s\":%s", s->str[s->len - 1] == '{' ? "" : ",",
				       members[i][0], mine ? value : members[i][1]);
	}
	g_string_append(s, "}]}");
	return g_string_free(s, FALSE);
}

static void bad_device(const char *member, const char *value)
{
	char *line = device_line(member, value);
	struct proto_reply r;
	char err[128] = "";
	int ret = proto_parse_reply(line, strlen(line), &r, err, sizeof(err));

	CHECK(ret == -EINVAL && !r.devices && !r.ndevices && !r.guest[0],
	      "reject device %s=%s -> %s", member, value ? value : "(absent)", err);
	g_free(line);
}

static void test_hostile_devices(void)
{
	static const char *const bad[][2] = {
	    {"kind", NULL},
	    {"kind", "\"\""},
	    {"kind", "7"},
	    {"bus", NULL},
	    {"base", "-1"},
	    {"base", "1.5"},
	    {"size", "\"512\""},
	    {"irq", "-2"},
	    {"irq", "1024"},
	    {"irq", "null"},
	    {"state", NULL},
	    {"detail", "[]"},
	    {"counters", NULL},
	    {"counters", "[1]"},
	    {"counters", "{\"reads\":-1}"},
	    {"counters", "{\"reads\":\"1\"}"},
	    {"counters", "{\"Reads\":1}"},
	    {"counters", "{\"a b\":1}"},
	    {"counters", "{\"\":1}"},
	    {"counters", "{\"aaaaaaaaaaaaaaaaaaaaaaaa\":1}"},
	    {"counters", "{\"x\":{}}"},
	};
	GString *s = g_string_new("{");
	struct proto_reply r;
	char *line = device_line("irq", "-1");

	CHECK(reply_ok(line, &r) && r.ndevices == 1 && r.devices[0].irq == -1 &&
		  r.devices[0].ncounters == 1 && r.devices[0].counters[0].value == 1,
	      "a well-formed device entry: %s", line);
	proto_reply_clear(&r);
	g_free(line);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		bad_device(bad[i][0], bad[i][1]);
	for (int i = 0; i < PROTO_DEV_COUNTERS + 1; i++)
		g_string_append_printf(s, "%s\"c%d\":%d", i ? "," : "", i, i);
	g_string_append(s, "}");
	bad_device("counters", s->str);
	g_string_free(s, TRUE);
	bad_reply("{\"ok\":true,\"devices\":[]}");
	bad_reply("{\"ok\":true,\"guest\":\"\",\"devices\":[]}");
	bad_reply("{\"ok\":true,\"guest\":\"g0\",\"devices\":{}}");
	bad_reply("{\"ok\":true,\"guest\":\"g0\",\"devices\":[null]}");
	s = g_string_new("{\"ok\":true,\"guest\":\"g0\",\"devices\":[");
	for (int i = 0; i <= PROTO_DEV_MAX; i++)
		g_string_append_printf(
		    s,
		    "%s{\"kind\":\"rng\",\"bus\":\"mmio\",\"base\":0,\"size\":0,"
		    "\"irq\":-1,\"state\":\"reset\",\"detail\":\"\",\"counters\":{}}",
		    i ? "," : "");
	g_string_append(s, "]}");
	bad_reply(s->str);
	g_string_free(s, TRUE);
	line =
	    device_line("detail", "\"a very long detail that goes on and on and on and on and "
				  "on and on and on and on and on and on and on and on and on\"");
	CHECK(reply_ok(line, &r) && r.ndevices == 1 && strlen(r.devices[0].detail) == 95,
	      "a long detail is cut, not refused");
	proto_reply_clear(&r);
	g_free(line);
}

int main(void)
{
	test_cmd_table();
	test_good_requests();
	test_name_limits();
	test_bad_shapes();
	test_bad_members();
	test_huge_numbers();
	test_nesting();
	test_line_limits();
	test_fuzz();
	test_build_requests();
	test_set_requests();
	test_watch_requests();
	test_reply_errors();
	test_reply_guests();
	test_reply_results();
	test_hostile_replies();
	test_lenient_replies();
	test_balloon_requests();
	test_verify_requests();
	test_hostile_requests();
	test_snapshot_requests();
	test_clone_requests();
	test_devices_requests();
	test_reply_devices();
	test_hostile_devices();
	printf("test_protocol: %u checks, %u failed\n", checks, failures);
	return failures ? 1 : 0;
}
