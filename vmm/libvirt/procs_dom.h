/* procs_dom.h - the remote procedures on one domain (lookup, state, life cycle, XML,
 * memory statistics, metadata). The dispatcher (procs.c) searches this table. */
#ifndef VMM_LIBVIRT_PROCS_DOM_H
#define VMM_LIBVIRT_PROCS_DOM_H

#include <stddef.h>

#include "vmm/libvirt/procs_xdr.h"

extern const struct procs_entry procs_dom_table[];
extern const size_t procs_dom_count;

#endif
