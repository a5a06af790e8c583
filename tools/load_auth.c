/*
 * turnload's credentials beyond the long-term mechanism (client.c): the
 * TURN REST username and password made from a shared secret, and the
 * digests run once before anything is timed.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "load.h"
#include "stun/integrity.h"
#include "stun/msg.h"

int load_cred_rest(const char *secret, const char *user, long long expiry, char *name,
		   size_t name_cap, char *pass, size_t pass_cap)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	int n = user ? snprintf(name, name_cap, "%lld:%s", expiry, user)
		     : snprintf(name, name_cap, "%lld", expiry);

	if (n < 0 || (size_t)n >= name_cap || pass_cap < 4 * ((STUN_HMAC_SHA1_LEN + 2) / 3) + 1)
		return -1;
	if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)name, (size_t)n,
		  mac, &mac_len) ||
	    mac_len != STUN_HMAC_SHA1_LEN)
		return -1;
	EVP_EncodeBlock((unsigned char *)pass, mac, (int)mac_len);
	return 0;
}

void load_cred_warm_up(void)
{
	uint8_t key[STUN_KEY_MD5_LEN], buf[128], tid[STUN_TID_LEN] = { 0 };
	struct stun_builder b;
	struct stun_msg m;

	/* OpenSSL 3 loads its providers and fetches each digest on first
	 * use, which takes milliseconds: not to be counted in the first
	 * allocation's latency. */
	if (stun_key_md5("user", "realm", "pass", key) < 0)
		return;
	stun_build_begin(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_build_integrity(&b, key, sizeof(key));
	stun_build_fingerprint(&b);
	long len = stun_build_end(&b);
	if (len > 0 && stun_msg_parse(&m, buf, (size_t)len) == 0)
		(void)stun_msg_check_integrity(&m, key, sizeof(key));
}
