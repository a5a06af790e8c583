/*
 * The client side the tools share: see client.h. The credential follows
 * RFC 8489 section 9.2 as a client sees it: the first request goes
 * without, a 401 gives REALM and NONCE (and perhaps PASSWORD-ALGORITHMS,
 * echoed with MD5 chosen), a 438 gives a new NONCE, and every response to
 * an authenticated request must carry a valid MESSAGE-INTEGRITY.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "stun/attr.h"
#include "stun/channel.h"
#include "turn/nonce.h"

/* REALM and NONCE: at most 763 bytes (RFC 8489 sections 14.9, 14.10). */
#define CLIENT_TEXT_MAX 763
#define CLIENT_PWALGS_MAX 16

/* ---- the command line ---- */

int client_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return (errno != 0 || *end != '\0' || *out < min || *out > max) ? -1 : 0;
}

int client_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;

	if (client_parse_ulong(s, min, max, &v) < 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int client_parse_double(const char *s, double max, double *out)
{
	char *end;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -1;
	*out = strtod(s, &end);
	return (*end != '\0' || !(*out >= 0 && *out <= max)) ? -1 : 0;
}

int client_parse_endpoint(const char *text, uint16_t default_port, struct turn_addr *out)
{
	return turn_addr_parse(text, default_port, out) < 0 || out->port == 0 ? -1 : 0;
}

double client_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- requests ---- */

const char *client_method_name(uint16_t method)
{
	switch (method) {
	case STUN_METHOD_BINDING: return "Binding";
	case TURN_METHOD_ALLOCATE: return "Allocate";
	case TURN_METHOD_REFRESH: return "Refresh";
	case TURN_METHOD_CREATE_PERMISSION: return "CreatePermission";
	case TURN_METHOD_CHANNEL_BIND: return "ChannelBind";
	default: return "request";
	}
}

long client_build_request(const struct client_request *r, const uint8_t tid[STUN_TID_LEN],
			  const struct client_cred *c, uint8_t *buf, size_t cap)
{
	struct stun_builder b;

	stun_build_begin(&b, buf, cap, r->method, STUN_CLASS_REQUEST, tid);
	if (r->method == TURN_METHOD_ALLOCATE) {
		stun_build_transport(&b, TURN_TRANSPORT_UDP);
		/* Without it the relay is IPv4 (RFC 8656 section 7.2). */
		if (r->family)
			stun_build_family(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, r->family);
	}
	if (r->channel)
		stun_build_channel(&b, r->channel);
	if (r->peer)
		stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, r->peer);
	if (r->lifetime >= 0)
		stun_build_u32(&b, TURN_ATTR_LIFETIME, (uint32_t)r->lifetime);
	client_cred_append(&b, c);
	stun_build_fingerprint(&b);
	return stun_build_end(&b);
}

long client_build_binding(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
			  uint32_t change)
{
	struct stun_builder b;

	stun_build_begin(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	if (change)
		stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, change);
	stun_build_fingerprint(&b);
	return stun_build_end(&b);
}

/* ---- responses ---- */

bool client_is_response(const struct stun_msg *m, const uint8_t tid[STUN_TID_LEN], uint16_t method)
{
	if (m->method != method || memcmp(m->tid, tid, STUN_TID_LEN) != 0 ||
	    (m->cls != STUN_CLASS_SUCCESS && m->cls != STUN_CLASS_ERROR))
		return false;
	return m->idx_fingerprint < 0 || stun_msg_check_fingerprint(m) == 1;
}

int client_response_code(const struct stun_msg *m)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_ERROR_CODE);
	const uint8_t *reason;
	size_t rlen;
	int code = 0;

	if (m->cls == STUN_CLASS_SUCCESS)
		return 0;
	if (!a || stun_attr_get_error(m, a, NULL, &code, &reason, &rlen) < 0)
		return STUN_ERR_SERVER_ERROR;
	return code;
}

const char *client_error_text(const struct stun_msg *m, int code, char *out, size_t cap)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_ERROR_CODE);
	const uint8_t *reason = NULL;
	size_t rlen = 0;

	if (a)
		stun_attr_get_error(m, a, NULL, &code, &reason, &rlen);
	int n = snprintf(out, cap, "%d %s", code, rlen ? "" : stun_error_reason(code));
	/* The server's phrase, bytes outside printable ASCII as '?'. */
	for (size_t i = 0, k = n > 0 ? (size_t)n : 0; i < rlen && k + 1 < cap; i++, k++) {
		out[k] = reason[i] >= 0x20 && reason[i] < 0x7F ? (char)reason[i] : '?';
		out[k + 1] = '\0';
	}
	return out;
}

int client_relayed_address(const struct stun_msg *m, uint8_t af, struct turn_addr *out)
{
	for (uint8_t i = 0; i < m->n_attrs; i++) {
		struct turn_addr a;
		if (m->attrs[i].type == TURN_ATTR_XOR_RELAYED_ADDRESS &&
		    stun_attr_get_xor_addr(m, &m->attrs[i], &a) == 0 && a.family == af) {
			*out = a;
			return 0;
		}
	}
	return -1;
}

int client_frame_next(const uint8_t *buf, size_t len, size_t cap, size_t *flen)
{
	enum turn_frame_result fr = turn_frame_length(buf, len, flen);

	if (fr == TURN_FRAME_INVALID || (fr == TURN_FRAME_READY && *flen > cap))
		return -1;
	return fr == TURN_FRAME_NEED_MORE || len < *flen ? 0 : 1;
}

/* ---- the long-term credential ---- */

void client_cred_init(struct client_cred *c, const char *user, const char *pass)
{
	memset(c, 0, sizeof(*c));
	c->user = user;
	c->pass = pass;
}

void client_cred_forget(struct client_cred *c)
{
	const char *user = c->user, *pass = c->pass;

	free(c->realm);
	free(c->nonce);
	free(c->pwalgs);
	memset(c, 0, sizeof(*c));
	c->user = user;
	c->pass = pass;
}

bool client_is_challenge(int code, bool had_key)
{
	return (code == STUN_ERR_UNAUTHORIZED && !had_key) || code == STUN_ERR_STALE_NONCE;
}

/* A text attribute as a new C string, or NULL. */
static char *dup_text(const struct stun_msg *m, uint16_t type)
{
	const struct stun_attr *a = stun_msg_find(m, type);
	const uint8_t *text;
	size_t len;

	if (!a || stun_attr_get_text(m, a, CLIENT_TEXT_MAX, &text, &len) < 0 ||
	    memchr(text, 0, len))
		return NULL;
	char *s = malloc(len + 1);
	if (s) {
		memcpy(s, text, len);
		s[len] = '\0';
	}
	return s;
}

static bool offers_md5(const struct stun_msg *m, const struct stun_attr *a)
{
	uint16_t algs[CLIENT_PWALGS_MAX];
	size_t n = 0;

	if (stun_attr_get_pwalgs(m, a, algs, CLIENT_PWALGS_MAX, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (algs[i] == STUN_PWALG_MD5)
			return true;
	return false;
}

/* Is the challenge one we may answer? NULL if so, or why not. */
static const char *challenge_problem(const struct stun_msg *m, const char *nonce, bool realm)
{
	const struct stun_attr *algs = stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHMS);
	uint32_t features = 0;

	if (!nonce || !realm)
		return "challenge without a usable REALM and NONCE";
	/* A nonce announcing password algorithms with the list missing is a
	 * downgrade: do not answer it (RFC 8489 section 9.2.5). */
	if (turn_nonce_features((const uint8_t *)nonce, strlen(nonce), &features) == 1 &&
	    (features & TURN_NONCE_FEATURE_PASSWORD_ALGORITHMS) && !algs)
		return "PASSWORD-ALGORITHMS missing from the challenge";
	if (algs && (algs->len == 0 || !offers_md5(m, algs)))
		return "the server does not offer MD5";
	return NULL;
}

/* Keep the raw PASSWORD-ALGORITHMS, if any, to echo back. Returns 0 or -1. */
static int take_pwalgs(struct client_cred *c, const struct stun_msg *m)
{
	const struct stun_attr *algs = stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHMS);

	free(c->pwalgs);
	c->pwalgs = NULL;
	c->pwalgs_len = 0;
	if (!algs)
		return 0;
	if (!(c->pwalgs = malloc(algs->len)))
		return -1;
	memcpy(c->pwalgs, stun_attr_value(m, algs), algs->len);
	c->pwalgs_len = algs->len;
	return 0;
}

int client_cred_take(struct client_cred *c, const struct stun_msg *m, const char **why)
{
	char *nonce = dup_text(m, STUN_ATTR_NONCE), *realm = dup_text(m, STUN_ATTR_REALM);

	/* A 438 may leave REALM out: the one we have still holds. */
	*why = challenge_problem(m, nonce, realm || c->realm);
	if (*why) {
		free(nonce);
		free(realm);
		return -1;
	}
	if (realm) {
		free(c->realm);
		c->realm = realm;
	}
	free(c->nonce);
	c->nonce = nonce;
	c->have_key = false;
	if (take_pwalgs(c, m) < 0) {
		*why = "out of memory";
		return -1;
	}
	if (stun_key_md5(c->user, c->realm, c->pass, c->key) < 0) {
		*why = "the user name or password is not valid UTF-8";
		return -1;
	}
	c->have_key = true;
	return 0;
}

void client_cred_append(struct stun_builder *b, const struct client_cred *c)
{
	if (!c || !c->have_key)
		return;
	stun_build_text(b, STUN_ATTR_USERNAME, c->user);
	stun_build_text(b, STUN_ATTR_REALM, c->realm);
	stun_build_text(b, STUN_ATTR_NONCE, c->nonce);
	if (c->pwalgs_len) {
		stun_build_attr(b, STUN_ATTR_PASSWORD_ALGORITHMS, c->pwalgs, c->pwalgs_len);
		stun_build_pwalg(b, STUN_PWALG_MD5);
	}
	stun_build_integrity(b, c->key, sizeof(c->key));
}

bool client_cred_trusts(const struct client_cred *c, const struct stun_msg *m, int code)
{
	if (!c->have_key || (code != 0 && m->idx_integrity < 0))
		return true;
	return stun_msg_check_integrity(m, c->key, sizeof(c->key)) == 1;
}
