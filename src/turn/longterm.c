/*
 * The long-term credential mechanism, server side (RFC 8489 section
 * 9.2.4), with password-algorithm negotiation (section 9.2.1) and
 * stateless nonces. Nothing is stored for a request that has not
 * authenticated.
 */
#include "turn/internal.h"

#include <string.h>

static const uint16_t our_algs[] = { STUN_PWALG_MD5, STUN_PWALG_SHA256 };
#define N_ALGS (sizeof(our_algs) / sizeof(our_algs[0]))

/* 401 or 438: an error with REALM, a fresh NONCE and PASSWORD-ALGORITHMS,
 * never MESSAGE-INTEGRITY (the client is not authenticated). */
static int challenge(struct turn_request *req, int code)
{
	struct stun_builder b;
	char nonce[TURN_NONCE_BUFLEN];

	req->key = NULL;
	if (turn_nonce_make(&req->srv->nonce, &req->tuple->client, req->now, nonce, sizeof(nonce)) < 0)
		return turn_send_error(req, STUN_ERR_SERVER_ERROR);
	stun_build_response(&b, req->reply->buf, req->reply->cap, req->msg, STUN_CLASS_ERROR);
	stun_build_error(&b, code, stun_error_reason(code));
	req->answer = code;
	stun_build_text(&b, STUN_ATTR_REALM, req->srv->realm);
	stun_build_text(&b, STUN_ATTR_NONCE, nonce);
	stun_build_pwalgs(&b, our_algs, N_ALGS);
	req->srv->stats.errors_sent++;
	return turn_finish_response(req, &b);
}

static bool attr_equals(const struct stun_msg *m, const struct stun_attr *a, const char *s)
{
	size_t n = strlen(s);
	return a->len == n && memcmp(stun_attr_value(m, a), s, n) == 0;
}

/*
 * Which password algorithm the request uses (section 9.2.4, the bullets
 * on PASSWORD-ALGORITHMS): neither attribute means MD5 (an RFC 5389
 * client); both must be present together, the list must be exactly the
 * one we sent (or a man in the middle removed SHA-256: a downgrade), and
 * the chosen one must be in it. Returns the algorithm or -1 for 400.
 */
static int chosen_algorithm(const struct stun_msg *m)
{
	const struct stun_attr *list = stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHMS);
	const struct stun_attr *one = stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHM);
	uint16_t algs[8], alg;
	size_t n = 0;
	const uint8_t *params;
	size_t plen;

	if (!list && !one)
		return STUN_PWALG_MD5;
	if (!list || !one)
		return -1;
	if (stun_attr_get_pwalgs(m, list, algs, 8, &n) < 0 || n != N_ALGS ||
	    memcmp(algs, our_algs, sizeof(our_algs)) != 0)
		return -1;
	if (stun_attr_get_pwalg(m, one, &alg, &params, &plen) < 0 || plen != 0)
		return -1;
	for (size_t i = 0; i < N_ALGS; i++)
		if (alg == our_algs[i])
			return alg;
	return -1;
}

/* Which of c's keys (for alg) the MAC m carries verifies with, or -1.
 * Each key is tried in constant time, and every key is tried: the time
 * taken does not tell which shared secret the client's password came
 * from (TURN REST secret rotation). */
static int mac_key_index(const struct turn_credential *c, const struct stun_msg *m, int alg)
{
	bool sha = alg == STUN_PWALG_SHA256;
	int found = -1;

	if (!c || c->status != 1 || (sha && !c->has_sha256))
		return -1;
	for (uint8_t i = 0; i < c->n_keys && i < TURN_MAX_KEYS; i++) {
		const uint8_t *key = sha ? c->key_sha256[i] : c->key_md5[i];
		size_t len = sha ? STUN_KEY_SHA256_LEN : STUN_KEY_MD5_LEN;
		int ok = m->idx_integrity_sha256 >= 0 ? stun_msg_check_integrity_sha256(m, key, len)
						      : stun_msg_check_integrity(m, key, len);
		if (ok == 1 && found < 0)
			found = i;
	}
	return found;
}

/* The request's MAC, verified here or already by the caller
 * (turn_server_verify_mac): sets req->key on success. */
static bool verify_mac(struct turn_request *req, int alg)
{
	int i = req->mac_checked ? req->mac_key : mac_key_index(req->cred, req->msg, alg);
	bool sha = alg == STUN_PWALG_SHA256;

	if (i < 0)
		return false;
	req->key = sha ? req->cred->key_sha256[i] : req->cred->key_md5[i];
	req->key_len = sha ? STUN_KEY_SHA256_LEN : STUN_KEY_MD5_LEN;
	req->mi_sha256 = req->msg->idx_integrity_sha256 >= 0;
	return true;
}


/*
 * The checks that need no credential (RFC 8489 section 9.2.4, in its
 * order): MESSAGE-INTEGRITY present, then USERNAME or USERHASH, REALM and
 * NONCE present, then the nonce ours and fresh, the password algorithm
 * acceptable, and the realm ours. Returns 0 when only the credential can
 * decide, else the error code; *alg gets the algorithm on 0.
 *
 * This runs before net/ asks any backend (turn_server_auth_precheck), so
 * a forged or expired nonce or a foreign realm costs no lookup, no key
 * derivation and no cache entry (SECURITY.md), and again in
 * auth_decide: one decision, made by one function.
 */
int turn_auth_stateless(const struct turn_server *srv, const struct stun_msg *m,
			const struct turn_addr *client, uint32_t now, int *alg)
{
	const struct stun_attr *user = stun_msg_find(m, STUN_ATTR_USERNAME);
	const struct stun_attr *uhash = stun_msg_find(m, STUN_ATTR_USERHASH);
	const struct stun_attr *realm = stun_msg_find(m, STUN_ATTR_REALM);
	const struct stun_attr *nonce = stun_msg_find(m, STUN_ATTR_NONCE);

	if (m->idx_integrity < 0 && m->idx_integrity_sha256 < 0)
		return STUN_ERR_UNAUTHORIZED;
	if ((!user && !uhash) || !realm || !nonce)
		return STUN_ERR_BAD_REQUEST;
	if (turn_nonce_check(&srv->nonce, client, now, stun_attr_value(m, nonce), nonce->len) !=
	    TURN_NONCE_VALID)
		return STUN_ERR_STALE_NONCE;
	*alg = chosen_algorithm(m);
	if (*alg < 0)
		return STUN_ERR_BAD_REQUEST;
	if (!attr_equals(m, realm, srv->realm))
		return STUN_ERR_UNAUTHORIZED;
	return 0;
}

/* The decision: 0 when authenticated, otherwise the error code. */
static int auth_decide(struct turn_request *req)
{
	const struct stun_msg *m = req->msg;
	int alg = STUN_PWALG_MD5;
	int code = req->stateless;

	/* Decided before the lookup (net/ ran turn_server_auth_precheck on
	 * this input): the nonce's HMAC is not computed twice. */
	if (code < 0)
		code = turn_auth_stateless(req->srv, m, &req->tuple->client, req->now, &alg);
	else if (code == 0)
		alg = chosen_algorithm(m);
	if (code != 0)
		return code;
	if (!req->cred || req->cred->status == 0)
		return STUN_ERR_UNAUTHORIZED;
	/* The credential store did not answer: fail closed with an error the
	 * client may retry (RFC 8489 section 6.3.4). */
	if (req->cred->status < 0)
		return STUN_ERR_SERVER_ERROR;
	if (!verify_mac(req, alg))
		return STUN_ERR_UNAUTHORIZED;
	req->username = req->cred->username;
	/* RFC 8489 section 6.3.1.1: unknown comprehension-required
	 * attributes are reported only after authentication. */
	if (m->n_unknown > 0)
		return STUN_ERR_UNKNOWN_ATTRIBUTE;
	return 0;
}

static bool turn_server_verify_mac(struct turn_input *in)
{
	int alg = chosen_algorithm(in->msg);

	in->mac_checked = true;
	in->mac_key = alg < 0 ? -1 : mac_key_index(in->cred, in->msg, alg);
	return in->mac_key >= 0;
}

int turn_server_auth(const struct turn_server *srv, struct turn_input *in)
{
	if (!in->cred) {
		in->precheck = turn_server_auth_precheck(srv, in);
		in->prechecked = in->precheck >= 0;
		return in->precheck;
	}
	if (!in->prechecked || in->precheck != 0)
		return in->prechecked ? in->precheck : -1;
	if (in->cred->status <= 0) /* unknown user, or the store did not answer */
		return in->cred->status == 0 ? STUN_ERR_UNAUTHORIZED : STUN_ERR_SERVER_ERROR;
	return turn_server_verify_mac(in) ? 0 : STUN_ERR_UNAUTHORIZED;
}

int turn_authenticate(struct turn_request *req)
{
	int code = auth_decide(req);

	if (code == 0)
		return 0;
	if (code == STUN_ERR_UNAUTHORIZED || code == STUN_ERR_STALE_NONCE)
		challenge(req, code);
	else
		turn_send_error(req, code);
	return 1;
}
