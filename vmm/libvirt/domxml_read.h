/* domxml_read.h - libvirt's normalised domain XML into struct domdef (libxml2).
 *
 * Used by domxml.c after libvirt's parser accepted the XML; the input is the XML
 * libvirt gave back (virDomainGetXMLDesc), so memory is in KiB and defaults are filled.
 * Still treated as untrusted: every value is length- and range-checked.
 */
#ifndef VMM_LIBVIRT_DOMXML_READ_H
#define VMM_LIBVIRT_DOMXML_READ_H

#include <stddef.h>

#include "vmm/libvirt/domxml.h"

/* Fill @d (name, memory, vCPUs, os, disks, devices, metadata; not uuid nor xml) from
 * @xml. Returns 0, -ENOTSUP with what ksmvmm cannot honour named in @err, -EINVAL if
 * the XML does not parse, -ENOMEM. @d may be partly filled on failure (domxml_clear). */
int domxml_read(const char *xml, struct domdef *d, char *err, size_t errlen);

/* The element child of <metadata> in namespace @uri, serialised with its namespace
 * declared (g_malloc'd), or NULL if there is none. */
char *domxml_read_metadata(const char *xml, const char *uri);

/* The text of the top-level element @element (e.g. "title"), g_malloc'd, or NULL. */
char *domxml_read_text(const char *xml, const char *element);

#endif
