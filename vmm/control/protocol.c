/* protocol.c - the command table, and parsing and building the control protocol's JSON
 * lines: requests and replies (see protocol.h).
 *
 * Input from the other end is hostile until proven otherwise: every line passes the
 * checks of protocol_check.c before json-glib sees it. Requests are strict: unknown
 * members are errors, so a typo is reported rather than ignored. Replies are parsed
 * leniently (unknown members are skipped) so an older ksmctl talks to a newer VMM.
 */
#include "vmm/control/protocol.h"
#include "vmm/control/protocol_check.h"
#include "vmm/control/protocol_dev.h"
#include "vmm/control/protocol_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "lib/errbuf.h"

enum proto_arg {
	PROTO_ARG_NONE,		  /* no member besides "cmd" */
	PROTO_ARG_NAME_OPTIONAL,  /* "name" may be given; absent = all guests */
	PROTO_ARG_NAME_REQUIRED,  /* "name" must be given */
	PROTO_ARG_KEY_VALUE,	  /* "key" (string) and "value" (integer) must be given */
	PROTO_ARG_WATCH,	  /* "name" and "ms" must be given, "threshold_us" may be */
	PROTO_ARG_NAME_BYTES,	  /* "name" and "bytes" must be given */
	PROTO_ARG_NAME_KEY_VALUE, /* "name", "key" and "value" must be given */
	PROTO_ARG_NAME_PATH,	  /* "name" and "path" must be given */
	PROTO_ARG_NAME_COUNT,	  /* "name" and "count" must be given */
	PROTO_ARG_VERIFY,	  /* "name" and "timeout_s" may be given */
};

/* The command table: wire names and accepted members, indexed by enum proto_cmd. */
static const struct proto_cmd_desc {
	const char *name;
	enum proto_arg arg;
} proto_cmds[PROTO_CMD_COUNT] = {
    [PROTO_CMD_PING] = {"ping", PROTO_ARG_NONE},
    [PROTO_CMD_LIST] = {"list", PROTO_ARG_NONE},
    [PROTO_CMD_STOP] = {"stop", PROTO_ARG_NAME_OPTIONAL},
    [PROTO_CMD_VERIFY] = {"verify", PROTO_ARG_VERIFY},
    [PROTO_CMD_FAULT] = {"fault", PROTO_ARG_NAME_REQUIRED},
    [PROTO_CMD_STATS] = {"stats", PROTO_ARG_NONE},
    [PROTO_CMD_SET] = {"set", PROTO_ARG_KEY_VALUE},
    [PROTO_CMD_HISTORY] = {"history", PROTO_ARG_NAME_OPTIONAL},
    [PROTO_CMD_REPORT] = {"report", PROTO_ARG_NONE},
    [PROTO_CMD_PROBE] = {"probe", PROTO_ARG_NONE},
    [PROTO_CMD_WATCH] = {"watch", PROTO_ARG_WATCH},
    [PROTO_CMD_DEVICES] = {"devices", PROTO_ARG_NAME_REQUIRED},
    [PROTO_CMD_BALLOON] = {"balloon", PROTO_ARG_NAME_BYTES},
    [PROTO_CMD_HOSTILE] = {"hostile", PROTO_ARG_NAME_KEY_VALUE},
    [PROTO_CMD_SNAPSHOT] = {"snapshot", PROTO_ARG_NAME_PATH},
    [PROTO_CMD_CLONE] = {"clone", PROTO_ARG_NAME_COUNT},
};

const char *proto_cmd_name(enum proto_cmd cmd)
{
	if ((unsigned) cmd >= PROTO_CMD_COUNT)
		return NULL;
	return proto_cmds[cmd].name;
}

int proto_cmd_lookup(const char *name, enum proto_cmd *cmd)
{
	for (unsigned i = 0; i < PROTO_CMD_COUNT; i++) {
		if (strcmp(proto_cmds[i].name, name) == 0) {
			*cmd = (enum proto_cmd) i;
			return 0;
		}
	}
	return -ENOENT;
}

bool proto_cmd_takes_name(enum proto_cmd cmd)
{
	return (unsigned) cmd < PROTO_CMD_COUNT &&
	       (proto_cmds[cmd].arg == PROTO_ARG_NAME_OPTIONAL ||
		proto_cmds[cmd].arg == PROTO_ARG_VERIFY ||
		proto_cmds[cmd].arg == PROTO_ARG_NAME_REQUIRED ||
		proto_cmds[cmd].arg == PROTO_ARG_WATCH ||
		proto_cmds[cmd].arg == PROTO_ARG_NAME_BYTES ||
		proto_cmds[cmd].arg == PROTO_ARG_NAME_KEY_VALUE ||
		proto_cmds[cmd].arg == PROTO_ARG_NAME_PATH ||
		proto_cmds[cmd].arg == PROTO_ARG_NAME_COUNT);
}

bool proto_cmd_takes_count(enum proto_cmd cmd)
{
	return (unsigned) cmd < PROTO_CMD_COUNT && proto_cmds[cmd].arg == PROTO_ARG_NAME_COUNT;
}

bool proto_cmd_takes_path(enum proto_cmd cmd)
{
	return (unsigned) cmd < PROTO_CMD_COUNT && proto_cmds[cmd].arg == PROTO_ARG_NAME_PATH;
}

bool proto_cmd_takes_timeout(enum proto_cmd cmd)
{
	return (unsigned) cmd < PROTO_CMD_COUNT && proto_cmds[cmd].arg == PROTO_ARG_VERIFY;
}

static bool proto_cmd_is_watch(enum proto_cmd cmd)
{
	return (unsigned) cmd < PROTO_CMD_COUNT && proto_cmds[cmd].arg == PROTO_ARG_WATCH;
}

bool proto_cmd_takes_key_value(enum proto_cmd cmd)
{
	return (unsigned) cmd < PROTO_CMD_COUNT &&
	       (proto_cmds[cmd].arg == PROTO_ARG_KEY_VALUE ||
		proto_cmds[cmd].arg == PROTO_ARG_NAME_KEY_VALUE);
}

bool proto_cmd_needs_name(enum proto_cmd cmd)
{
	return (unsigned) cmd < PROTO_CMD_COUNT &&
	       (proto_cmds[cmd].arg == PROTO_ARG_NAME_REQUIRED ||
		proto_cmds[cmd].arg == PROTO_ARG_WATCH ||
		proto_cmds[cmd].arg == PROTO_ARG_NAME_BYTES ||
		proto_cmds[cmd].arg == PROTO_ARG_NAME_KEY_VALUE ||
		proto_cmds[cmd].arg == PROTO_ARG_NAME_PATH ||
		proto_cmds[cmd].arg == PROTO_ARG_NAME_COUNT);
}

bool proto_cmd_takes_bytes(enum proto_cmd cmd)
{
	return (unsigned) cmd < PROTO_CMD_COUNT && proto_cmds[cmd].arg == PROTO_ARG_NAME_BYTES;
}

/* ---- Requests ---- */

/* A guest name: 1..PROTO_NAME_MAX-1 bytes, no control characters. */
static int proto_get_name(JsonNode *n, char *name, char *err, size_t errlen)
{
	if (!proto_holds(n, G_TYPE_STRING))
		return errbuf_set(err, errlen, -EINVAL, "\"name\" must be a string");
	if (proto_copy(n, name, PROTO_NAME_MAX, false))
		return errbuf_set(err, errlen, -EINVAL, "\"name\" is longer than %d bytes",
				  PROTO_NAME_MAX - 1);
	if (!name[0])
		return errbuf_set(err, errlen, -EINVAL, "\"name\" is empty");
	for (const char *p = name; *p; p++) {
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			return errbuf_set(err, errlen, -EINVAL,
					  "\"name\" contains a control character");
	}
	return 0;
}

/* A tunable name: 1..PROTO_KEY_MAX-1 of [a-z0-9_]. */
static int proto_get_key(JsonNode *n, char *key, char *err, size_t errlen)
{
	if (!proto_holds(n, G_TYPE_STRING) || proto_copy(n, key, PROTO_KEY_MAX, false) || !key[0] ||
	    strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(key))
		return errbuf_set(err, errlen, -EINVAL,
				  "\"key\" must be a tunable name like batch_pages");
	return 0;
}

/* "path": an absolute path (the VMM's working directory is not the client's). */
static int proto_get_path(JsonNode *n, char *path, char *err, size_t errlen)
{
	if (!proto_holds(n, G_TYPE_STRING) || proto_copy(n, path, PROTO_PATH_MAX, false) ||
	    path[0] != '/')
		return errbuf_set(err, errlen, -EINVAL,
				  "\"path\" must be an absolute path of at most %d bytes",
				  PROTO_PATH_MAX - 1);
	return 0;
}

/* Member @what: an integer in 1..@max. */
static int proto_get_bounded(JsonNode *n, const char *what, uint32_t max, uint32_t *out, char *err,
			     size_t errlen)
{
	uint64_t v;

	if (proto_get_uint(n, max, &v) || v < 1)
		return errbuf_set(err, errlen, -EINVAL, "\"%s\" must be an integer from 1 to %u",
				  what, max);
	*out = (uint32_t) v;
	return 0;
}

/* "bytes" of "balloon": an integer in 0..PROTO_BALLOON_MAX_BYTES. */
static int proto_get_bytes(JsonNode *n, uint64_t *out, char *err, size_t errlen)
{
	if (proto_get_uint(n, PROTO_BALLOON_MAX_BYTES, out))
		return errbuf_set(err, errlen, -EINVAL,
				  "\"bytes\" must be an integer from 0 to %llu (1 TiB)",
				  (unsigned long long) PROTO_BALLOON_MAX_BYTES);
	return 0;
}

/* Find and look up "cmd". */
static int proto_get_cmd(JsonObject *o, enum proto_cmd *cmd, char *err, size_t errlen)
{
	JsonNode *n = json_object_get_member(o, "cmd");
	const char *s;

	if (!n)
		return errbuf_set(err, errlen, -EINVAL, "missing \"cmd\"");
	if (!proto_holds(n, G_TYPE_STRING))
		return errbuf_set(err, errlen, -EINVAL, "\"cmd\" must be a string");
	s = json_node_get_string(n);
	if (proto_cmd_lookup(s, cmd))
		return errbuf_set(err, errlen, -EINVAL, "unknown command \"%.64s\"", s);
	return 0;
}

/* Check every member of @o against the command's table entry and fill @req. */
static int proto_get_args(JsonObject *o, struct proto_request *req, char *err, size_t errlen)
{
	GList *members = json_object_get_members(o);
	int ret = 0;

	for (GList *m = members; m && !ret; m = m->next) {
		const char *key = m->data;

		if (strcmp(key, "cmd") == 0)
			continue;
		if (strcmp(key, "name") == 0 && proto_cmd_takes_name(req->cmd))
			ret =
			    proto_get_name(json_object_get_member(o, key), req->name, err, errlen);
		else if (strcmp(key, "key") == 0 && proto_cmd_takes_key_value(req->cmd))
			ret = proto_get_key(json_object_get_member(o, key), req->key, err, errlen);
		else if (strcmp(key, "value") == 0 && proto_cmd_takes_key_value(req->cmd))
			ret = proto_get_uint(json_object_get_member(o, key), INT64_MAX, &req->value)
				  ? errbuf_set(err, errlen, -EINVAL,
					       "\"value\" must be an integer >= 0")
				  : 0;
		else if (strcmp(key, "bytes") == 0 && proto_cmd_takes_bytes(req->cmd))
			ret = proto_get_bytes(json_object_get_member(o, key), &req->bytes, err,
					      errlen);
		else if (strcmp(key, "count") == 0 && proto_cmd_takes_count(req->cmd))
			ret = proto_get_bounded(json_object_get_member(o, key), "count",
						PROTO_CLONE_MAX, &req->count, err, errlen);
		else if (strcmp(key, "path") == 0 && proto_cmd_takes_path(req->cmd))
			ret =
			    proto_get_path(json_object_get_member(o, key), req->path, err, errlen);
		else if (strcmp(key, "timeout_s") == 0 && proto_cmd_takes_timeout(req->cmd))
			ret = proto_get_bounded(json_object_get_member(o, key), "timeout_s",
						PROTO_VERIFY_MAX_S, &req->timeout_s, err, errlen);
		else if (strcmp(key, "ms") == 0 && proto_cmd_is_watch(req->cmd))
			ret = proto_get_bounded(json_object_get_member(o, key), "ms",
						PROTO_WATCH_MAX_MS, &req->ms, err, errlen);
		else if (strcmp(key, "threshold_us") == 0 && proto_cmd_is_watch(req->cmd))
			ret = proto_get_bounded(json_object_get_member(o, key), "threshold_us",
						PROTO_WATCH_MAX_THRESHOLD_US, &req->threshold_us,
						err, errlen);
		else
			ret =
			    errbuf_set(err, errlen, -EINVAL, "unknown member \"%.64s\" for \"%s\"",
				       key, proto_cmd_name(req->cmd));
	}
	g_list_free(members);
	if (!ret && proto_cmd_is_watch(req->cmd) && !req->ms)
		ret = errbuf_set(err, errlen, -EINVAL, "\"watch\" needs \"ms\"");
	if (!ret && proto_cmd_takes_bytes(req->cmd) && !json_object_has_member(o, "bytes"))
		ret = errbuf_set(err, errlen, -EINVAL, "\"balloon\" needs \"bytes\"");
	if (!ret && proto_cmd_takes_count(req->cmd) && !req->count)
		ret = errbuf_set(err, errlen, -EINVAL, "\"%s\" needs a \"count\"",
				 proto_cmd_name(req->cmd));
	if (!ret && proto_cmd_takes_path(req->cmd) && !req->path[0])
		ret = errbuf_set(err, errlen, -EINVAL, "\"%s\" needs a \"path\"",
				 proto_cmd_name(req->cmd));
	if (!ret && proto_cmd_is_watch(req->cmd) && !req->threshold_us)
		req->threshold_us = PROTO_WATCH_THRESHOLD_US;
	if (!ret && proto_cmd_needs_name(req->cmd) && !req->name[0])
		ret = errbuf_set(err, errlen, -EINVAL, "\"%s\" needs a \"name\"",
				 proto_cmd_name(req->cmd));
	if (!ret && proto_cmd_takes_key_value(req->cmd) &&
	    (!req->key[0] || !json_object_has_member(o, "value")))
		ret = errbuf_set(err, errlen, -EINVAL, "\"%s\" needs a \"key\" and a \"value\"",
				 proto_cmd_name(req->cmd));
	return ret;
}

int proto_parse_request(const char *line, size_t len, struct proto_request *req, char *err,
			size_t errlen)
{
	JsonNode *root;
	int ret;

	memset(req, 0, sizeof(*req));
	len = proto_trim(line, len);
	ret = proto_check_text(line, len, PROTO_MAX_LINE, err, errlen);
	if (ret)
		return ret;
	root = proto_load_object(line, len, err, errlen);
	if (!root)
		return -EINVAL;
	ret = proto_get_cmd(json_node_get_object(root), &req->cmd, err, errlen);
	if (!ret)
		ret = proto_get_args(json_node_get_object(root), req, err, errlen);
	json_node_unref(root);
	if (ret)
		memset(req, 0, sizeof(*req));
	return ret;
}

/* ---- Building lines ---- */

char *proto_build_request(const struct proto_request *req)
{
	const char *cmd = proto_cmd_name(req->cmd);
	JsonBuilder *b;

	if (!cmd || (req->name[0] && !proto_cmd_takes_name(req->cmd)) ||
	    (!req->name[0] && proto_cmd_needs_name(req->cmd)) ||
	    !memchr(req->name, '\0', sizeof(req->name)) ||
	    (proto_cmd_takes_key_value(req->cmd) && (!req->key[0] || req->value > INT64_MAX)) ||
	    (proto_cmd_is_watch(req->cmd) && (req->ms < 1 || req->ms > PROTO_WATCH_MAX_MS ||
					      req->threshold_us > PROTO_WATCH_MAX_THRESHOLD_US)) ||
	    (proto_cmd_takes_bytes(req->cmd) && req->bytes > PROTO_BALLOON_MAX_BYTES) ||
	    (req->timeout_s &&
	     (!proto_cmd_takes_timeout(req->cmd) || req->timeout_s > PROTO_VERIFY_MAX_S)) ||
	    (proto_cmd_takes_count(req->cmd) && (req->count < 1 || req->count > PROTO_CLONE_MAX)) ||
	    (proto_cmd_takes_path(req->cmd) &&
	     (req->path[0] != '/' || !memchr(req->path, '\0', sizeof(req->path)))))
		return NULL;
	b = json_builder_new();
	json_builder_begin_object(b);
	proto_add_string(b, "cmd", cmd);
	if (req->name[0])
		proto_add_string(b, "name", req->name);
	if (proto_cmd_takes_key_value(req->cmd)) {
		proto_add_string(b, "key", req->key);
		json_builder_set_member_name(b, "value");
		json_builder_add_int_value(b, (gint64) req->value);
	}
	if (proto_cmd_is_watch(req->cmd)) {
		proto_add_uint(b, "ms", req->ms);
		if (req->threshold_us)
			proto_add_uint(b, "threshold_us", req->threshold_us);
	}
	if (proto_cmd_takes_bytes(req->cmd))
		proto_add_uint(b, "bytes", req->bytes);
	if (proto_cmd_takes_path(req->cmd))
		proto_add_string(b, "path", req->path);
	if (proto_cmd_takes_count(req->cmd))
		proto_add_uint(b, "count", req->count);
	if (req->timeout_s)
		proto_add_uint(b, "timeout_s", req->timeout_s);
	return proto_finish(b);
}

char *proto_reply_ok(void)
{
	return proto_finish(proto_begin(true));
}

char *proto_reply_error(const char *fmt, ...)
{
	JsonBuilder *b = proto_begin(false);
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	proto_add_string(b, "error", msg);
	g_free(msg);
	return proto_finish(b);
}

/* Add one "list" entry. */
static void proto_add_guest(JsonBuilder *b, const struct proto_guest *g)
{
	json_builder_begin_object(b);
	proto_add_string(b, "name", g->name);
	proto_add_string(b, "state", g->state);
	proto_add_uint(b, "mem_bytes", g->mem_bytes);
	proto_add_uint(b, "cpus", g->cpus);
	json_builder_set_member_name(b, "workload");
	json_builder_add_boolean_value(b, g->workload);
	json_builder_set_member_name(b, "ready");
	json_builder_add_boolean_value(b, g->ready);
	proto_add_string(b, "reason", g->reason);
	json_builder_end_object(b);
}

char *proto_reply_guests(const struct proto_guest *g, size_t n)
{
	JsonBuilder *b = proto_begin(true);

	json_builder_set_member_name(b, "guests");
	json_builder_begin_array(b);
	for (size_t i = 0; i < n; i++)
		proto_add_guest(b, &g[i]);
	json_builder_end_array(b);
	return proto_finish(b);
}

/* Add one "verify" entry. */
static void proto_add_result(JsonBuilder *b, const struct proto_result *r)
{
	json_builder_begin_object(b);
	proto_add_string(b, "name", r->name);
	if (r->error[0]) {
		proto_add_string(b, "error", r->error);
	} else {
		proto_add_uint(b, "ok", r->ok);
		proto_add_uint(b, "bad", r->bad);
	}
	json_builder_end_object(b);
}

char *proto_reply_results(const struct proto_result *r, size_t n)
{
	JsonBuilder *b = proto_begin(true);

	json_builder_set_member_name(b, "results");
	json_builder_begin_array(b);
	for (size_t i = 0; i < n; i++)
		proto_add_result(b, &r[i]);
	json_builder_end_array(b);
	return proto_finish(b);
}

/* {"ok":true,"@member":[names...]} */
static char *proto_reply_names(const char *member, const char *const *names, size_t n)
{
	JsonBuilder *b = proto_begin(true);

	json_builder_set_member_name(b, member);
	json_builder_begin_array(b);
	for (size_t i = 0; i < n; i++)
		proto_add_string(b, NULL, names[i]);
	json_builder_end_array(b);
	return proto_finish(b);
}

char *proto_reply_stopped(const char *const *names, size_t n)
{
	return proto_reply_names("stopped", names, n);
}

char *proto_reply_clones(const char *const *names, size_t n)
{
	return proto_reply_names("clones", names, n);
}

/* ---- Parsing replies ---- */

/* Parse one "guests" entry; every known member is required, others are skipped. */
static int proto_parse_guest(JsonNode *n, void *entry)
{
	struct proto_guest *g = entry;
	JsonObject *o;
	uint64_t cpus;

	if (!n || !JSON_NODE_HOLDS_OBJECT(n))
		return -EINVAL;
	o = json_node_get_object(n);
	if (proto_copy(json_object_get_member(o, "name"), g->name, sizeof(g->name), false) ||
	    proto_copy(json_object_get_member(o, "state"), g->state, sizeof(g->state), true) ||
	    proto_get_uint(json_object_get_member(o, "mem_bytes"), INT64_MAX, &g->mem_bytes) ||
	    proto_get_uint(json_object_get_member(o, "cpus"), UINT32_MAX, &cpus) ||
	    !proto_holds(json_object_get_member(o, "workload"), G_TYPE_BOOLEAN) ||
	    !proto_holds(json_object_get_member(o, "ready"), G_TYPE_BOOLEAN) ||
	    proto_copy(json_object_get_member(o, "reason"), g->reason, sizeof(g->reason), true))
		return -EINVAL;
	g->cpus = (unsigned) cpus;
	g->workload = json_object_get_boolean_member(o, "workload");
	g->ready = json_object_get_boolean_member(o, "ready");
	return 0;
}

/* Parse one "results" entry: a name and either "error" or "ok" and "bad". */
static int proto_parse_result(JsonNode *n, void *entry)
{
	struct proto_result *r = entry;
	JsonObject *o;

	if (!n || !JSON_NODE_HOLDS_OBJECT(n))
		return -EINVAL;
	o = json_node_get_object(n);
	if (proto_copy(json_object_get_member(o, "name"), r->name, sizeof(r->name), false))
		return -EINVAL;
	if (json_object_has_member(o, "error"))
		return proto_copy(json_object_get_member(o, "error"), r->error, sizeof(r->error),
				  true);
	if (proto_get_uint(json_object_get_member(o, "ok"), INT64_MAX, &r->ok) ||
	    proto_get_uint(json_object_get_member(o, "bad"), INT64_MAX, &r->bad))
		return -EINVAL;
	return 0;
}

/* Parse one guest name of "stopped" or "clones". */
static int proto_parse_stopped(JsonNode *n, void *entry)
{
	return proto_copy(n, entry, PROTO_NAME_MAX, false);
}

/* Fill @r from the reply object @o. */
static int proto_parse_reply_object(JsonObject *o, struct proto_reply *r, char *err, size_t errlen)
{
	int ret;

	if (!proto_holds(json_object_get_member(o, "ok"), G_TYPE_BOOLEAN))
		return errbuf_set(err, errlen, -EINVAL, "reply has no boolean \"ok\"");
	r->ok = json_object_get_boolean_member(o, "ok");
	if (!r->ok &&
	    proto_copy(json_object_get_member(o, "error"), r->error, sizeof(r->error), true))
		return errbuf_set(err, errlen, -EINVAL, "error reply has no \"error\" string");
	r->guests = proto_parse_array(o, "guests", sizeof(*r->guests), PROTO_MAX_ENTRIES,
				      &r->nguests, proto_parse_guest, &ret);
	if (ret)
		return errbuf_set(err, errlen, -EINVAL, "malformed \"guests\" in reply");
	r->results = proto_parse_array(o, "results", sizeof(*r->results), PROTO_MAX_ENTRIES,
				       &r->nresults, proto_parse_result, &ret);
	if (ret)
		return errbuf_set(err, errlen, -EINVAL, "malformed \"results\" in reply");
	r->stopped = proto_parse_array(o, "stopped", sizeof(*r->stopped), PROTO_MAX_ENTRIES,
				       &r->nstopped, proto_parse_stopped, &ret);
	if (ret)
		return errbuf_set(err, errlen, -EINVAL, "malformed \"stopped\" in reply");
	r->clones = proto_parse_array(o, "clones", sizeof(*r->clones), PROTO_MAX_ENTRIES,
				      &r->nclones, proto_parse_stopped, &ret);
	if (ret)
		return errbuf_set(err, errlen, -EINVAL, "malformed \"clones\" in reply");
	return proto_dev_parse_reply(o, r, err, errlen);
}

int proto_parse_reply(const char *line, size_t len, struct proto_reply *r, char *err, size_t errlen)
{
	JsonNode *root;
	int ret;

	memset(r, 0, sizeof(*r));
	len = proto_trim(line, len);
	ret = proto_check_text(line, len, PROTO_MAX_REPLY, err, errlen);
	if (ret)
		return ret;
	root = proto_load_object(line, len, err, errlen);
	if (!root)
		return -EINVAL;
	ret = proto_parse_reply_object(json_node_get_object(root), r, err, errlen);
	json_node_unref(root);
	if (ret)
		proto_reply_clear(r);
	return ret;
}

void proto_reply_clear(struct proto_reply *r)
{
	g_free(r->guests);
	g_free(r->results);
	g_free(r->stopped);
	g_free(r->clones);
	g_free(r->devices);
	memset(r, 0, sizeof(*r));
}
