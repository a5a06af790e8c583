/* The self-check's pure decisions (verdict.h). */
#include "util/verdict.h"

#include <string.h>

const char *verdict_level_name(enum verdict_level l)
{
	static const char *const names[] = {"ok", "warn", "FAIL"};

	return names[l];
}

/* 1 when the first bits of ip equal those of prefix. */
static bool verdict_prefix(const uint8_t *ip, const uint8_t *prefix, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(ip, prefix, whole) != 0)
		return false;
	return rest == 0 || ((ip[whole] ^ prefix[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static enum verdict_addr_class verdict_class4(const uint8_t *ip)
{
	static const struct {
		uint8_t prefix[4];
		unsigned bits;
		enum verdict_addr_class c;
	} table[] = {
		{{127}, 8, VERDICT_ADDR_LOOPBACK},
		{{10}, 8, VERDICT_ADDR_PRIVATE},
		{{172, 16}, 12, VERDICT_ADDR_PRIVATE},
		{{192, 168}, 16, VERDICT_ADDR_PRIVATE},
		{{100, 64}, 10, VERDICT_ADDR_SHARED},
		{{169, 254}, 16, VERDICT_ADDR_LINKLOCAL},
		{{0}, 8, VERDICT_ADDR_OTHER},
		{{224}, 3, VERDICT_ADDR_OTHER}, /* multicast, reserved, broadcast */
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (verdict_prefix(ip, table[i].prefix, table[i].bits))
			return table[i].c;
	return VERDICT_ADDR_PUBLIC;
}

enum verdict_addr_class verdict_addr_class(const struct turn_addr *a)
{
	static const uint8_t loop6[16] = {[15] = 1}, any6[16] = {0};
	static const uint8_t ula[1] = {0xfc}, ll[2] = {0xfe, 0x80}, mc[1] = {0xff};

	if (a->family == TURN_AF_INET)
		return verdict_class4(a->ip);
	if (a->family != TURN_AF_INET6)
		return VERDICT_ADDR_OTHER;
	if (turn_addr_is_v4mapped(a))
		return verdict_class4(a->ip + 12);
	if (memcmp(a->ip, loop6, 16) == 0)
		return VERDICT_ADDR_LOOPBACK;
	if (memcmp(a->ip, any6, 16) == 0 || verdict_prefix(a->ip, mc, 8))
		return VERDICT_ADDR_OTHER;
	if (verdict_prefix(a->ip, ula, 7))
		return VERDICT_ADDR_PRIVATE;
	if (verdict_prefix(a->ip, ll, 10))
		return VERDICT_ADDR_LINKLOCAL;
	return VERDICT_ADDR_PUBLIC;
}

const char *verdict_addr_class_name(enum verdict_addr_class c)
{
	static const char *const names[] = {
		"public",
		"private (RFC 1918 / RFC 4193)",
		"shared carrier-grade NAT space (RFC 6598)",
		"link-local",
		"loopback",
		"unspecified, multicast or reserved",
	};

	return names[c];
}

static uint64_t verdict_fd_fixed(const struct verdict_fd_in *in)
{
	return (uint64_t)in->workers * (in->listen_sockets + VERDICT_FD_PER_WORKER) +
	       VERDICT_FD_BASE;
}

uint64_t verdict_fd_need(const struct verdict_fd_in *in)
{
	if (in->total_quota == 0)
		return UINT64_MAX;
	return (uint64_t)in->total_quota * (in->stream_clients ? 2u : 1u) + verdict_fd_fixed(in);
}

uint64_t verdict_fd_allocations(const struct verdict_fd_in *in, uint64_t limit)
{
	uint64_t fixed = verdict_fd_fixed(in);

	if (limit <= fixed)
		return 0;
	return (limit - fixed) / (in->stream_clients ? 2u : 1u);
}

int64_t verdict_cert_days(int64_t not_after, int64_t now)
{
	int64_t d = not_after - now;

	/* Floor division: C rounds towards zero. */
	return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}

enum verdict_level verdict_cert(int64_t not_before, int64_t not_after, int64_t now)
{
	if (now < not_before || now >= not_after)
		return VERDICT_FAIL;
	return verdict_cert_days(not_after, now) < VERDICT_CERT_WARN_DAYS ? VERDICT_WARN
									  : VERDICT_OK;
}

enum verdict_level verdict_ports(size_t bindable, size_t total, unsigned total_quota)
{
	if (bindable == 0)
		return VERDICT_FAIL;
	if (bindable < total && (total_quota == 0 || bindable < total_quota))
		return VERDICT_WARN;
	return VERDICT_OK;
}

enum verdict_level verdict_clock(int year)
{
	return year < VERDICT_MIN_YEAR ? VERDICT_FAIL : VERDICT_OK;
}
