/*
 * The network layer's face to main.c: bind every listening socket (one per
 * worker and address, SO_REUSEPORT), run one event base per worker thread,
 * and stop cleanly on SIGTERM/SIGINT.
 */
#ifndef TURND_NET_NET_H
#define TURND_NET_NET_H

#include <stddef.h>

#include "conf/conf.h"

struct net;

/* Create the workers and bind all their sockets, so that every bind error
 * shows at start-up. Returns an object owned by the caller (net_free), or
 * NULL with a message in err. conf must outlive the result. */
struct net *net_new(const struct conf *conf, char *err, size_t errlen);

/* Where a reload (SIGHUP) reads the configuration again: path (NULL: the
 * embedded default, which cannot be reloaded) with the same command-line
 * overrides. Both must outlive n. */
void net_set_conf_source(struct net *n, const char *path, const struct conf_overrides *ov);

/* Start the worker threads and serve until SIGTERM or SIGINT. Returns 0 on
 * a clean stop, -1 if a thread could not start. */
int net_run(struct net *n);

/* After fork() (daemon mode): re-create the kernel state of every event
 * base. Returns 0 or -1. */
int net_after_fork(struct net *n);

/* Number of worker threads. */
unsigned net_workers(const struct net *n);

/* For daemon/metrics.c: worker i, and the state every worker shares. */
struct worker;
struct relay_shared;
struct fleet_shared;
struct worker *net_worker(const struct net *n, unsigned i);
struct relay_shared *net_relay(struct net *n);
struct fleet_shared *net_fleet(struct net *n);
/* SIGHUP reloads so far: applied, and refused (the file did not load). */
void net_reloads(struct net *n, uint64_t *applied, uint64_t *refused);

void net_free(struct net *n);

#endif
