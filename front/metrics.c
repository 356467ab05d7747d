/* SPDX-License-Identifier: Apache-2.0 */
/* GET /metrics: signetd's metrics op as Prometheus text, when the [front] metrics setting is on. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "front/http.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The Authorization header holds "Bearer" and the configured metrics_token. */
static bool
metrics_token_ok(struct req *q, const char *want)
{
	const char *h = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Authorization");
	size_t n = strlen(want);

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		return false;
	}
	h += 7;
	while (*h == ' ') {
		h++;
	}
	return strlen(h) == n && CRYPTO_memcmp(h, want, n) == 0;
}

enum MHD_Result
metrics_handler(struct req *q)
{
	const struct front_cfg *cfg = q->f->cfg;
	struct call c;
	const char *text;
	enum MHD_Result ok;

	/* Off: the same answer as a path the front does not serve. */
	if (cfg->metrics == NULL || strcmp(cfg->metrics, "on") != 0) {
		return http_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no such path");
	}
	if (cfg->metrics_token != NULL && !metrics_token_ok(q, cfg->metrics_token)) {
		return http_error(q, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
				  "/metrics needs the metrics token");
	}
	/* On the gateway's own connection, with no user's token: signetd checks the peer. */
	pool_call(q->f->pool, "metrics", NULL, NULL, NULL, 0, &c);
	if (c.err != 0) {
		ok = http_call_error(q, &c);
		call_done(&c);
		return ok;
	}
	text = json_string_value(json_object_get(c.result, "text"));
	if (text == NULL) {
		call_done(&c);
		return http_error(q, MHD_HTTP_BAD_GATEWAY, "internal",
				  "signetd's metrics answer holds no text");
	}
	ok = http_text(q, MHD_HTTP_OK, METRICS_CONTENT_TYPE, text, strlen(text));
	call_done(&c);
	return ok;
}
