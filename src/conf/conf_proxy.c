/*
 * The options of a server behind a load balancer that speaks the PROXY
 * protocol (HAProxy's proxy-protocol.txt), and of the ACME HTTP-01
 * redirect on its plain TCP sockets (conf_proxy.h, turnd.conf(5)).
 */
#include "conf/conf_proxy.h"

#include <stdio.h>
#include <string.h>

#include "util/http_acme.h"

int conf_proxy_url(const char *text, const char **out, char *why, size_t whylen)
{
	size_t n = strlen(text);

	*out = text;
	if (strncmp(text, "http://", 7) != 0 && strncmp(text, "https://", 8) != 0) {
		snprintf(why, whylen, "'%.80s' is not an http:// or https:// URL", text);
		return -1;
	}
	if (n > HTTP_ACME_URL_MAX) {
		snprintf(why, whylen, "longer than %d bytes", HTTP_ACME_URL_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch <= 0x20 || ch >= 0x7F || strchr("\"<>\\", ch)) {
			snprintf(why, whylen,
				 "'%.80s' has a blank, a quote, an angle bracket, a "
				 "backslash or a byte that is not printable ASCII",
				 text);
			return -1;
		}
	}
	return 0;
}

int conf_proxy_finish(const struct conf *c, char *why, size_t whylen)
{
	char text[TURN_ADDR_STRLEN];

	if (c->n_trusted_proxies > 0)
		return 0;
	if (c->proxy_protocol) {
		snprintf(why, whylen,
			 "option 'proxy-protocol' is true without option "
			 "'trusted-proxy': every connection would be refused");
		return -1;
	}
	for (size_t i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].transports & CONF_LISTEN_PROXY) {
			snprintf(why, whylen,
				 "option 'listener' (%s) asks for a PROXY header "
				 "without option 'trusted-proxy': every connection would be "
				 "refused",
				 turn_addr_format(&c->listeners[i].addr, true, text, sizeof(text)));
			return -1;
		}
	return 0;
}
