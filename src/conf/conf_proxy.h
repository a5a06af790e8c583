/* Behind a load balancer (issue 17): trusted-proxy, proxy-protocol, the
 * 'proxy' word of a listener, and acme-redirect; private to src/conf. */
#ifndef TURND_CONF_CONF_PROXY_H
#define TURND_CONF_CONF_PROXY_H

#include <stddef.h>

#include "conf/conf.h"

/* acme-redirect: an http:// or https:// URL of printable ASCII without
 * blanks, quotes or angle brackets (it goes into a Location header as it
 * is), at most HTTP_ACME_URL_MAX bytes. *out = text. 0, or -1 with why. */
int conf_proxy_url(const char *text, const char **out, char *why, size_t whylen);

/* Once every value is final: a PROXY header is trusted only from
 * trusted-proxy, so asking for one (proxy-protocol, a listener's 'proxy')
 * with that list empty would refuse every connection: an error. Returns 0,
 * or -1 with why ("option ...: ..."). */
int conf_proxy_finish(const struct conf *c, char *why, size_t whylen);

#endif
