/* store.h - write a page's content with one of five store instructions, and check it. */
#ifndef WORKLOAD_STORE_H
#define WORKLOAD_STORE_H

#include <stdint.h>

#include "tests/guest/workload/layout.h"

/* Write @c into the 4 KiB page at @page with the instruction kind c->kind. Every kind
 * leaves exactly qword k = base + k * step. WL_STORE_STOS requires step 0 (as
 * wl_key_content guarantees); WL_STORE_VEC uses ymm stores when @has_avx (AVX1 only),
 * xmm stores otherwise. */
void wl_store_page(uint64_t *page, const struct wl_content *c, int has_avx);

/* 1 if the page at @page holds exactly @c, else 0. */
int wl_check_page(const uint64_t *page, const struct wl_content *c);

#endif
