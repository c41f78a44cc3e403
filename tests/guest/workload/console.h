/* console.h - line output on the COM1 transmit register, shared safely by all vCPUs. */
#ifndef WORKLOAD_CONSOLE_H
#define WORKLOAD_CONSOLE_H

/* Format and print one message. Supports %s %c %d %u %x and the l/ll length modifiers
 * (no widths or flags). A message longer than 255 bytes is cut. The whole message goes
 * out under a spin lock, so lines from different vCPUs never interleave. */
void wl_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
