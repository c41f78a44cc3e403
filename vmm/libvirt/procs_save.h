/* procs_save.h - the remote procedures that save a running domain to a snapshot
 * directory and restore one from it (virsh save / restore, virDomainSave(Flags),
 * virDomainRestore(Flags)). The dispatcher (procs.c) searches this table. */
#ifndef VMM_LIBVIRT_PROCS_SAVE_H
#define VMM_LIBVIRT_PROCS_SAVE_H

#include <stddef.h>

#include "vmm/libvirt/procs_xdr.h"

extern const struct procs_entry procs_save_table[];
extern const size_t procs_save_count;

#endif
