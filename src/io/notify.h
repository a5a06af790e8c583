/* Telling systemd (Type=notify) what the server is doing (notify.c). */
#ifndef TURND_IO_NOTIFY_H
#define TURND_IO_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/* Send state ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=..."):
 * 1 sent, 0 no service manager asked for it, -1 failed. */
int notify_send(const char *state);

/* The watchdog interval the manager expects pings within, in
 * microseconds, or 0 for none. */
uint64_t notify_watchdog_usec(void);

#endif
