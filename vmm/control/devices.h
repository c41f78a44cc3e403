/* devices.h - replies of the "devices" and "balloon" control commands, and the device
 * summary the report carries per guest. */
#ifndef VMM_CONTROL_DEVICES_H
#define VMM_CONTROL_DEVICES_H

#include <stddef.h>
#include <stdint.h>

struct fleet;
struct fleet_device;

/* The "devices" reply for guest @name (g_free it): its devices in table order, or an
 * error reply. Any thread (fleet_devices does not stop the guest). */
char *control_devices_reply(struct fleet *f, const char *name);

/* The "balloon" reply for guest @name and target @bytes (g_free it). Any thread. */
char *control_devices_balloon_reply(struct fleet *f, const char *name, uint64_t bytes);

/* What the report says about a guest's devices. */
struct control_devices_summary {
	unsigned count;		/* devices */
	unsigned broken;	/* in state "needs-reset" or "failed" */
	uint64_t balloon_bytes; /* the balloon's "actual_pages" in bytes; 0 without one */
};

/* Summarise the @n devices of @d. */
void control_devices_summarise(const struct fleet_device *d, size_t n,
			       struct control_devices_summary *out);

#endif
