/* domxml_walk.h - the walk over a domain's XML: its state, child tables, checked readers.
 *
 * Every element is read through a table of the children its parent may have
 * (domxml_walk_children): a child not in the table, or in another namespace than its
 * parent, is refused by name. Readers of attributes and text check lengths and numbers
 * and write the reason into the walk's error buffer.
 */
#ifndef VMM_LIBVIRT_DOMXML_WALK_H
#define VMM_LIBVIRT_DOMXML_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "vmm/libvirt/domxml.h"

/* One walk over a domain. */
struct domxml_walk {
	struct domdef *d;
	char *err;
	size_t errlen;
	unsigned serials;  /* <serial> devices seen (we have one UART) */
	char dev[32];	   /* target dev of the disk being read, for messages */
	bool rng_seen;	   /* a second <rng> is refused */
	bool metadata_own; /* our <ksmvmm:guest> was seen */
};

struct domxml_rule {
	const char *name;
	/* NULL: accepted as is. */
	int (*read)(xmlNode *n, struct domxml_walk *w);
};

/* Is @n named @name (namespaces aside)? */
bool domxml_walk_named(const xmlNode *n, const char *name);

/* The namespace URI of @n, "" if none. */
const char *domxml_walk_ns(const xmlNode *n);

/* Attribute @a of @n into @buf ("" if absent). Returns 0 or -ENOTSUP if too long. */
int domxml_walk_attr_copy(xmlNode *n, const char *a, char *buf, size_t len, struct domxml_walk *w);

/* Is attribute @a of @n absent or one of the '|'-separated @allowed values? */
bool domxml_walk_attr_in(xmlNode *n, const char *a, const char *allowed);

/* 0 if attribute @a of @n is absent or in @allowed (NULL: must be absent), else -ENOTSUP
 * with "@what a='value' is not supported by ksmvmm". */
int domxml_walk_attr_check(xmlNode *n, const char *a, const char *allowed, const char *what,
			   struct domxml_walk *w);

/* The text of @n as a g_malloc'd string. */
char *domxml_walk_text_dup(xmlNode *n);

/* The text of @n into @buf. Returns 0 or -ENOTSUP if it does not fit. */
int domxml_walk_text_copy(xmlNode *n, char *buf, size_t len, struct domxml_walk *w);

/* The text of @n as a decimal number. Returns 0, -ENOTSUP or -EINVAL. */
int domxml_walk_text_u64(xmlNode *n, uint64_t *out, struct domxml_walk *w);

/* Run the rule for each element child of @parent; refuse children without one. Returns
 * 0 or the first rule's error. */
int domxml_walk_children(xmlNode *parent, const struct domxml_rule *rules, size_t nr,
			 struct domxml_walk *w);

#define DOMXML_WALK(parent, rules, w)                                                              \
	domxml_walk_children(parent, rules, sizeof(rules) / sizeof((rules)[0]), w)

#endif
