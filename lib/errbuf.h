/* errbuf.h - the one formatter of caller-supplied error messages. */
#ifndef LIB_ERRBUF_H
#define LIB_ERRBUF_H

#include <stddef.h>

/* Format a message into @err (@len bytes, always terminated; @err may be NULL when
 * @len is 0) and return @ret, so that a failing parser can `return errbuf_set(err, len,
 * -EINVAL, "bad value '%s'", v);`. */
int errbuf_set(char *err, size_t len, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
