/* domxml_walk.c - checked readers for the walk over a domain's XML (domxml_walk.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libxml/tree.h>

#include "lib/errbuf.h"
#include "vmm/libvirt/domxml_walk.h"

bool domxml_walk_named(const xmlNode *n, const char *name)
{
	return !strcmp((const char *) n->name, name);
}

const char *domxml_walk_ns(const xmlNode *n)
{
	return n->ns && n->ns->href ? (const char *) n->ns->href : "";
}

/* Attribute @a of @n into @buf ("" if absent). Returns 0 or -ENOTSUP if too long. */
int domxml_walk_attr_copy(xmlNode *n, const char *a, char *buf, size_t len, struct domxml_walk *w)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *) a);
	size_t vlen = v ? strlen((const char *) v) : 0;

	buf[0] = '\0';
	if (vlen >= len) {
		xmlFree(v);
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "<%s %s='...'>: the value is longer than %zu bytes",
				  (const char *) n->name, a, len - 1);
	}
	if (v)
		memcpy(buf, v, vlen + 1);
	xmlFree(v);
	return 0;
}

/* Is attribute @a of @n absent or one of the '|'-separated @allowed values? */
bool domxml_walk_attr_in(xmlNode *n, const char *a, const char *allowed)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *) a);
	bool ok = !v;

	for (const char *p = allowed; v && p && !ok;) {
		const char *bar = strchr(p, '|');
		size_t plen = bar ? (size_t) (bar - p) : strlen(p);

		ok = strlen((const char *) v) == plen && !strncmp((const char *) v, p, plen);
		p = bar ? bar + 1 : NULL;
	}
	xmlFree(v);
	return ok;
}

/* Refuse attribute @a of @n unless absent or in @allowed; @what names it for users. */
int domxml_walk_attr_check(xmlNode *n, const char *a, const char *allowed, const char *what,
			   struct domxml_walk *w)
{
	char v[64];

	if (domxml_walk_attr_in(n, a, allowed))
		return 0;
	domxml_walk_attr_copy(n, a, v, sizeof(v), w);
	return errbuf_set(w->err, w->errlen, -ENOTSUP, "%s %s='%s' is not supported by ksmvmm",
			  what, a, v);
}

/* The text of @n as a g_malloc'd string. */
char *domxml_walk_text_dup(xmlNode *n)
{
	xmlChar *t = xmlNodeGetContent(n);
	char *s = g_strdup(t ? (const char *) t : "");

	xmlFree(t);
	return s;
}

int domxml_walk_text_copy(xmlNode *n, char *buf, size_t len, struct domxml_walk *w)
{
	char *t = domxml_walk_text_dup(n);
	size_t tlen = strlen(t);

	if (tlen >= len) {
		g_free(t);
		return errbuf_set(w->err, w->errlen, -ENOTSUP,
				  "<%s>: the text is longer than %zu bytes", (const char *) n->name,
				  len - 1);
	}
	memcpy(buf, t, tlen + 1);
	g_free(t);
	return 0;
}

int domxml_walk_text_u64(xmlNode *n, uint64_t *out, struct domxml_walk *w)
{
	char buf[32], *end;
	unsigned long long v;

	if (domxml_walk_text_copy(n, buf, sizeof(buf), w))
		return -ENOTSUP;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf || *end || buf[0] == '-')
		return errbuf_set(w->err, w->errlen, -EINVAL, "<%s>: '%s' is not a number",
				  (const char *) n->name, buf);
	*out = v;
	return 0;
}

/* Run the rule for each element child of @parent; refuse children without one. */
int domxml_walk_children(xmlNode *parent, const struct domxml_rule *rules, size_t nr,
			 struct domxml_walk *w)
{
	for (xmlNode *c = parent->children; c; c = c->next) {
		size_t i;
		int ret;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		for (i = 0; i < nr && !domxml_walk_named(c, rules[i].name); i++)
			;
		if (i == nr || strcmp(domxml_walk_ns(c), domxml_walk_ns(parent)))
			return errbuf_set(w->err, w->errlen, -ENOTSUP,
					  "<%s> in <%s> is not supported by ksmvmm",
					  (const char *) c->name, (const char *) parent->name);
		ret = rules[i].read ? rules[i].read(c, w) : 0;
		if (ret)
			return ret;
	}
	return 0;
}
