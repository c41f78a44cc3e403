/* procs_list.h - the remote procedures over many domains: counts and lists (old and
 * new style) and CONNECT_GET_ALL_DOMAIN_STATS. The dispatcher (procs.c) searches
 * this table. */
#ifndef VMM_LIBVIRT_PROCS_LIST_H
#define VMM_LIBVIRT_PROCS_LIST_H

#include <stddef.h>

#include "vmm/libvirt/procs_xdr.h"

extern const struct procs_entry procs_list_table[];
extern const size_t procs_list_count;

#endif
