/*
 * Sending a batch of datagrams from one UDP socket (udp_send.h): one
 * sendmmsg, with each run of datagrams that share a destination, a source
 * and a size given to the kernel as one UDP GSO send (UDP_SEGMENT, Linux
 * 4.18): the stack routes and builds one buffer for the run instead of
 * one per datagram. A relay sees such runs all the time: a client's burst
 * of ChannelData to its peer, and the peer's answers back to the client.
 */
#include "io/udp_send.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

/* The kernel's UDP_MAX_SEGMENTS, and the most one send may carry. */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 60000

/* Cleared for good the first time the kernel refuses a GSO send (an
 * interface without the offload, an old kernel): from then on every
 * datagram goes on its own. */
static atomic_bool gso_ok = true;

struct gso_ctl {
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
	};
};

static bool same_route(const struct msghdr *a, const struct msghdr *b)
{
	return a->msg_namelen == b->msg_namelen &&
	       memcmp(a->msg_name, b->msg_name, a->msg_namelen) == 0 &&
	       a->msg_controllen == b->msg_controllen &&
	       (a->msg_controllen == 0 ||
		memcmp(a->msg_control, b->msg_control, a->msg_controllen) == 0);
}

/* How many datagrams from msgs[i] form one GSO run: same route, each of
 * the first datagram's size but the last, which may be shorter. */
static int run_length(const struct mmsghdr *msgs, int i, int n)
{
	const struct msghdr *first = &msgs[i].msg_hdr;
	size_t size = first->msg_iov[0].iov_len;
	size_t total = size;
	int k = 1;

	if (first->msg_iovlen != 1 || size == 0)
		return 1;
	while (i + k < n && k < GSO_MAX_SEGMENTS) {
		const struct msghdr *m = &msgs[i + k].msg_hdr;
		size_t len = m->msg_iov[0].iov_len;
		if (m->msg_iovlen != 1 || len == 0 || len > size || total + len > GSO_MAX_BYTES ||
		    !same_route(first, m))
			break;
		total += len;
		k++;
		if (len < size)
			break; /* a shorter one ends the run */
	}
	return k;
}

/* msgs[i..i+k) as one send with UDP_SEGMENT, its iovecs taken in place
 * (each datagram's one iovec, adjacent in iov). */
static void build_gso(struct msghdr *out, const struct mmsghdr *msgs, int i, int k,
		      struct iovec *iov, struct gso_ctl *ctl)
{
	const struct msghdr *first = &msgs[i].msg_hdr;
	uint16_t size = (uint16_t)first->msg_iov[0].iov_len;
	size_t have = first->msg_controllen;

	for (int j = 0; j < k; j++)
		iov[j] = msgs[i + j].msg_hdr.msg_iov[0];
	memset(ctl, 0, sizeof(*ctl));
	if (have)
		memcpy(ctl->buf, first->msg_control, have);
	struct cmsghdr *c = (struct cmsghdr *)(ctl->buf + have);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(size));
	memcpy(CMSG_DATA(c), &size, sizeof(size));
	*out = (struct msghdr){
		.msg_name = first->msg_name,
		.msg_namelen = first->msg_namelen,
		.msg_iov = iov,
		.msg_iovlen = (size_t)k,
		.msg_control = ctl->buf,
		.msg_controllen = have + CMSG_SPACE(sizeof(size)),
	};
}

void udp_send_batch(int fd, struct mmsghdr *msgs, int n, uint64_t *sent, uint64_t *failed)
{
	struct mmsghdr out[UDP_SEND_MAX];
	struct iovec iov[UDP_SEND_MAX];
	struct gso_ctl ctl[UDP_SEND_MAX];
	int count[UDP_SEND_MAX]; /* datagrams in each of out[] */
	int m = 0;
	bool gso = atomic_load_explicit(&gso_ok, memory_order_relaxed);

	if (n > UDP_SEND_MAX)
		n = UDP_SEND_MAX;
	for (int i = 0; i < n;) {
		int k = gso ? run_length(msgs, i, n) : 1;
		if (k > 1)
			build_gso(&out[m].msg_hdr, msgs, i, k, &iov[i], &ctl[m]);
		else
			out[m].msg_hdr = msgs[i].msg_hdr;
		count[m++] = k;
		i += k;
	}
	for (int done = 0; done < m;) {
		int rc = sendmmsg(fd, out + done, (unsigned)(m - done), MSG_DONTWAIT);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			/* out[done] failed: an ICMP error from earlier, a full
			 * buffer, or a GSO send the path cannot take. */
			if (count[done] > 1 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT))
				atomic_store_explicit(&gso_ok, false, memory_order_relaxed);
			*failed += (uint64_t)count[done];
			done++;
			continue;
		}
		for (int j = 0; j < rc; j++)
			*sent += (uint64_t)count[done + j];
		done += rc;
	}
}
