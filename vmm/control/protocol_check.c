/* protocol_check.c - the checks every line of the control protocol gets before json-glib
 * sees it (see protocol_check.h).
 *
 * Before json-glib sees a line we check its length, NUL bytes, UTF-8 and nesting depth
 * (json-glib's parser recurses, so deep nesting would exhaust the stack), and that it is
 * plain JSON: json-glib takes more than JSON and lets through escapes JSON has not.
 */
#include "vmm/control/protocol_check.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

#include "lib/errbuf.h"
#include "vmm/control/protocol.h"

/* Length of @line without one trailing "\n" or "\r\n". */
size_t proto_trim(const char *line, size_t len)
{
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	return len;
}

/* Complain about a byte that cannot appear outside a JSON string. */
static int proto_fail_byte(char c, char *err, size_t errlen)
{
	if (g_ascii_isprint(c))
		return errbuf_set(err, errlen, -EINVAL, "not valid JSON: unexpected '%c'", c);
	return errbuf_set(err, errlen, -EINVAL, "not valid JSON: unexpected byte 0x%02x",
			  (unsigned char) c);
}

/* Length of the escape sequence at @s (just after a backslash, @left bytes left), or 0
 * if it is not a JSON escape. */
static size_t proto_escape_len(const char *s, size_t left)
{
	if (left && strchr("\"\\/bfnrt", s[0]))
		return 1;
	if (left < 5 || s[0] != 'u')
		return 0;
	for (int i = 1; i < 5; i++) {
		if (!g_ascii_isxdigit(s[i]))
			return 0;
	}
	return 5;
}

/* Check the string starting after the quote at @s[*i]; leave *i on its closing quote.
 * Refuses what json-glib would let through: raw control characters, unknown escapes
 * ("\x41" would become "x41"), and "\u0000" (it would silently cut a name short). */
static int proto_check_string(const char *s, size_t len, size_t *i, char *err, size_t errlen)
{
	size_t esc;

	for ((*i)++; *i < len && s[*i] != '"'; (*i)++) {
		if ((unsigned char) s[*i] < 0x20)
			return errbuf_set(err, errlen, -EINVAL, "control character in a string");
		if (s[*i] != '\\')
			continue;
		esc = proto_escape_len(s + *i + 1, len - *i - 1);
		if (!esc)
			return errbuf_set(err, errlen, -EINVAL,
					  "not valid JSON: bad escape in a string");
		if (esc == 5 && memcmp(s + *i + 1, "u0000", 5) == 0)
			return errbuf_set(err, errlen, -EINVAL, "NUL characters are not allowed");
		*i += esc;
	}
	return 0;
}

/* A lexical pass before json-glib: bounded nesting (its parser recurses, so deep
 * nesting would exhaust the stack) and plain JSON (json-glib also takes 'quotes',
 * comments and bare words). json-glib judges the grammar afterwards. */
static int proto_check_lexis(const char *s, size_t len, char *err, size_t errlen)
{
	unsigned depth = 0;
	int ret = 0;

	for (size_t i = 0; i < len && !ret; i++) {
		if (s[i] == '"')
			ret = proto_check_string(s, len, &i, err, errlen);
		else if (s[i] == '\n')
			ret = errbuf_set(err, errlen, -EINVAL, "line contains a newline");
		else if (!strchr("{}[]:, \t\r-+.0123456789eEtrufalsn", s[i]))
			ret = proto_fail_byte(s[i], err, errlen);
		else if ((s[i] == '[' || s[i] == '{') && ++depth > PROTO_MAX_DEPTH)
			ret = errbuf_set(err, errlen, -EINVAL, "nesting deeper than %d",
					 PROTO_MAX_DEPTH);
		else if ((s[i] == ']' || s[i] == '}') && depth)
			depth--;
	}
	return ret;
}

/* The checks every line gets before json-glib sees it. */
int proto_check_text(const char *s, size_t len, size_t max, char *err, size_t errlen)
{
	if (len > max)
		return errbuf_set(err, errlen, -EINVAL, "line longer than %zu bytes", max);
	if (memchr(s, '\0', len))
		return errbuf_set(err, errlen, -EINVAL, "line contains a NUL byte");
	if (!g_utf8_validate(s, (gssize) len, NULL))
		return errbuf_set(err, errlen, -EINVAL, "line is not valid UTF-8");
	return proto_check_lexis(s, len, err, errlen);
}

/* Parse checked text into a JSON object node (caller frees), or NULL with @err set. */
JsonNode *proto_load_object(const char *s, size_t len, char *err, size_t errlen)
{
	JsonParser *parser = json_parser_new();
	GError *gerr = NULL;
	JsonNode *root = NULL;

	if (!json_parser_load_from_data(parser, s, (gssize) len, &gerr)) {
		errbuf_set(err, errlen, -EINVAL, "not valid JSON: %s", gerr->message);
		g_error_free(gerr);
	} else {
		root = json_parser_steal_root(parser);
		if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
			errbuf_set(err, errlen, -EINVAL, "%s",
				   root ? "not a JSON object" : "empty line");
			g_clear_pointer(&root, json_node_unref);
		}
	}
	g_object_unref(parser);
	return root;
}
