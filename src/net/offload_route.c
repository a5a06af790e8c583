/*
 * The way out of an offloaded entry (offload_int.h): the kernel's own
 * route lookup over rtnetlink (RTM_GETROUTE, as `ip route get` asks it),
 * because bpf_fib_lookup in the program refuses unless IP forwarding is
 * on, which a TURN server must not need. One netlink socket per call, so
 * the workers call it concurrently without a lock.
 */
#include "net/offload.h"
#include "net/offload_int.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

uint64_t offload_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct route_req {
	struct nlmsghdr nh;
	struct rtmsg rt;
	char attrs[2 * RTA_SPACE(16)];
};

static void route_add_attr(struct route_req *r, unsigned short type, const uint8_t *ip, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), ip, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* The device's MTU, for routes without an mtu metric. */
static uint32_t route_dev_mtu(uint32_t ifindex)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint32_t mtu = 0;

	if (s < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_ifindex = (int)ifindex;
	if (ioctl(s, SIOCGIFNAME, &ifr) == 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0)
		mtu = (uint32_t)ifr.ifr_mtu;
	close(s);
	return mtu;
}

static uint32_t route_metric_mtu(struct rtattr *nest)
{
	int len = RTA_PAYLOAD(nest);

	for (struct rtattr *m = RTA_DATA(nest); RTA_OK(m, len); m = RTA_NEXT(m, len))
		if (m->rta_type == RTAX_MTU && RTA_PAYLOAD(m) >= sizeof(uint32_t))
			return *(uint32_t *)RTA_DATA(m);
	return 0;
}

/* The answer: RTM_NEWROUTE with RTA_OIF and maybe RTA_METRICS. */
static int route_parse(struct nlmsghdr *nh, size_t n, struct offload_way *w)
{
	if (!NLMSG_OK(nh, n) || nh->nlmsg_type != RTM_NEWROUTE)
		return -1;
	struct rtmsg *rt = NLMSG_DATA(nh);
	if (rt->rtm_type != RTN_UNICAST) /* local, unreachable, blackhole... */
		return -1;
	int len = (int)RTM_PAYLOAD(nh);
	uint32_t mtu = 0;

	w->ifindex = 0;
	for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(uint32_t))
			w->ifindex = *(uint32_t *)RTA_DATA(a);
		else if (a->rta_type == RTA_METRICS)
			mtu = route_metric_mtu(a);
	}
	if (w->ifindex == 0)
		return -1;
	w->mtu = mtu ? mtu : route_dev_mtu(w->ifindex);
	return w->mtu ? 0 : -1;
}

static int route_ask(int s, const struct route_req *req, struct offload_way *w)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr nh;
		char buf[4096];
	} ans;

	if (sendto(s, req, req->nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -1;
	for (int tries = 0; tries < 8; tries++) {
		ssize_t n = recv(s, &ans, sizeof(ans), 0);
		if (n < 0)
			return -1;
		if (NLMSG_OK(&ans.nh, (size_t)n) && ans.nh.nlmsg_seq != req->nh.nlmsg_seq)
			continue; /* not our answer */
		return route_parse(&ans.nh, (size_t)n, w);
	}
	return -1;
}

int offload_route_get(uint8_t family, const uint8_t *dst, const uint8_t *src,
		      struct offload_way *w)
{
	size_t len = family == 4 ? 4 : 16;
	struct route_req req;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = family == 4 ? AF_INET : AF_INET6;
	req.rt.rtm_dst_len = (unsigned char)(len * 8);
	route_add_attr(&req, RTA_DST, dst, len);
	if (src) {
		req.rt.rtm_src_len = (unsigned char)(len * 8);
		route_add_attr(&req, RTA_SRC, src, len);
	}
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -1;
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int rc = route_ask(s, &req, w);
	int saved = errno;
	close(s);
	errno = saved;
	return rc;
}
