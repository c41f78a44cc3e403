/* fake_backend.h - an in-memory fleet behind struct lv_backend_ops, for the tests and
 * the fuzz target of the libvirt endpoint. Its figures are fixed and distinctive so
 * that a test can tell they came through the protocol from here. */
#ifndef TESTS_LIBVIRT_FAKE_BACKEND_H
#define TESTS_LIBVIRT_FAKE_BACKEND_H

#include "vmm/libvirt/backend.h"

struct fake_be;

extern const struct lv_backend_ops fake_be_ops;

/* Three domains: fake-alpha (running, id 7), fake-beta (shut off), fake-gamma
 * (running, id 9). */
struct fake_be *fake_be_new(void);
void fake_be_free(struct fake_be *f);
/* Where DOMAIN_SAVE may write and DOMAIN_RESTORE read: only directories right under
 * @dir (copied). Without one (the default, and the fuzz target's) both refuse, so that
 * no input makes the fake touch the file system. */
void fake_be_set_save_root(struct fake_be *f, const char *dir);
/* Where lifecycle events go (NULL: nowhere). */
void fake_be_set_server(struct fake_be *f, struct lv_server *s);

#endif
