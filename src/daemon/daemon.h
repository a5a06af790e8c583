/*
 * The process, as main.c sees it (daemon.c): bind every listening socket
 * (one per worker and address, SO_REUSEPORT), run one event base per worker
 * thread, reload on SIGHUP, drain on SIGUSR1, and stop cleanly on SIGTERM
 * or SIGINT.
 */
#ifndef TURND_DAEMON_DAEMON_H
#define TURND_DAEMON_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

struct daemon;
struct control_owner;

/* Create the workers and bind all their sockets, so that every bind error
 * shows at start-up. Returns an object owned by the caller (daemon_free), or
 * NULL with a message in err. conf must outlive the result. */
struct daemon *daemon_new(const struct conf *conf, char *err, size_t errlen);

/* Where a reload (SIGHUP) reads the configuration again: path (NULL: the
 * embedded default, which cannot be reloaded) with the same command-line
 * overrides. Both must outlive n. */
void daemon_set_conf_source(struct daemon *n, const char *path, const struct conf_overrides *ov);

/* The control socket (control-socket; daemon/control.h), bound for owner
 * (who the process becomes): after detaching, before the privilege drop.
 * Returns 0 (also when it is off, or the default path is taken by another
 * turnd: then a warning says so), or -1 with err set. */
int daemon_control_open(struct daemon *n, const struct control_owner *owner, char *err,
			size_t errlen);

/* Start the worker threads and serve until SIGTERM or SIGINT. Returns 0 on
 * a clean stop, -1 if a thread could not start. */
int daemon_run(struct daemon *n);

/* After fork() (daemon mode): re-create the kernel state of every event
 * base. Returns 0 or -1. */
int daemon_after_fork(struct daemon *n);

/* Number of worker threads. */
unsigned daemon_workers(const struct daemon *n);

/* SIGHUP reloads so far: applied, and refused (the file did not load). */
void daemon_reloads(struct daemon *n, uint64_t *applied, uint64_t *refused);

void daemon_free(struct daemon *n);

#endif
