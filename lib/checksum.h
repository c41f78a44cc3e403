/* checksum.h - the byte checksum of firmware tables (MP table, ACPI): all bytes sum to 0. */
#ifndef LIB_CHECKSUM_H
#define LIB_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* The byte that makes @len bytes at @p sum to 0 (mod 256), with that byte itself 0. */
static inline uint8_t checksum8(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t) -sum;
}

#endif
