/* One batch of datagrams out of one UDP socket, with UDP GSO for runs to
 * one destination (udp_send.c). */
#ifndef TURND_IO_UDP_SEND_H
#define TURND_IO_UDP_SEND_H

#include <stdint.h>
#include <sys/socket.h>

/* The most datagrams one call takes. */
#define UDP_SEND_MAX 64

/*
 * Send msgs[0..n) (each one datagram: one iovec, its destination and any
 * control data such as IP_PKTINFO) on fd, never blocking. Datagrams that
 * leave are added to *sent, those the kernel refused to *failed (never
 * fatal: ICMP errors, full buffers).
 */
void udp_send_batch(int fd, struct mmsghdr *msgs, int n, uint64_t *sent, uint64_t *failed);

#endif
