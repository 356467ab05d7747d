/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the gateway's path and query parsing: routes, Allow lists, numbers. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PATH_MAX_FUZZ 4096

static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "get", ""};

/* The route's pattern with its parameters put back: the path that matched, without a final /. */
static void
check_rebuild(const struct route *rt, const char *path, char params[2][HTTP_MAX_SEGMENT + 1],
	      int np)
{
	char built[PATH_MAX_FUZZ + 16] = "";
	size_t plen = strlen(path), n = 0;
	int used = 0;

	for (const char *p = rt->pattern; *p != '\0';) {
		const char *e = strchr(p + 1, '/');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == 2 && p[1] == '*') {
			if (used == np) {
				abort();
			}
			n += (size_t)snprintf(built + n, sizeof(built) - n, "/%s", params[used++]);
		} else {
			n += (size_t)snprintf(built + n, sizeof(built) - n, "%.*s", (int)len, p);
		}
		p += len;
	}
	if (used != np) {
		abort();
	}
	if (plen > 1 && path[plen - 1] == '/') {
		plen--;
	}
	if (strlen(built) != plen || memcmp(built, path, plen) != 0) {
		abort();
	}
	for (int i = 0; i < np; i++) {
		size_t len = strlen(params[i]);
		if (len == 0 || len > HTTP_MAX_SEGMENT || strchr(params[i], '/') != NULL) {
			abort();
		}
		for (size_t k = 0; k < len; k++) {
			if ((unsigned char)params[i][k] < 0x20 || params[i][k] == 0x7f) {
				abort();
			}
		}
	}
}

static void
check_route(const char *method, const char *path)
{
	char params[2][HTTP_MAX_SEGMENT + 1];
	int np = -1;
	bool mismatch = false;
	const struct route *rt = api_route(method, path, params, &np, &mismatch);
	char *allowed = api_allowed(path);

	if (rt != NULL) {
		bool head = strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0;
		if (strcmp(rt->method, method) != 0 && !head) {
			abort();
		}
		check_rebuild(rt, path, params, np);
		/* Allow names every method of the path, this one among them. */
		if (allowed == NULL || strstr(allowed, rt->method) == NULL) {
			abort();
		}
	} else if (mismatch && allowed == NULL) {
		abort(); /* a 405 always has its Allow */
	}
	free(allowed);
}

/* api_number against an independent reading: digits only, in range, no overflow. */
static void
check_number(const char *s, long long min, long long max)
{
	long long n = -1, v;
	bool ok = api_number(s, min, max, &n);
	size_t len = strlen(s);
	const char *sig = s + strspn(s, "0");
	size_t slen;

	if (len == 0 || strspn(s, "0123456789") != len) {
		if (ok) {
			abort();
		}
		return;
	}
	if (*sig == '\0') {
		sig--; /* all zeros: "0" */
	}
	slen = strlen(sig);
	if (slen > 19 || (slen == 19 && strcmp(sig, "9223372036854775807") > 0)) {
		if (ok) {
			abort(); /* past LLONG_MAX */
		}
		return;
	}
	v = strtoll(sig, NULL, 10);
	if (ok != (v >= min && v <= max) || (ok && n != v)) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[PATH_MAX_FUZZ + 1];
	const uint8_t *nul;
	size_t plen;

	if (size < 1) {
		return 0;
	}
	/* METHOD-BYTE PATH [NUL QUERY-VALUE]: MHD hands us the path percent-decoded, any byte but
	 * NUL. */
	nul = memchr(data + 1, '\0', size - 1);
	plen = nul != NULL ? (size_t)(nul - (data + 1)) : size - 1;
	if (plen > PATH_MAX_FUZZ) {
		plen = PATH_MAX_FUZZ;
	}
	memcpy(path, data + 1, plen);
	path[plen] = '\0';
	check_route(methods[data[0] % (sizeof(methods) / sizeof(methods[0]))], path);
	if (nul != NULL) {
		size_t vlen = size - (size_t)(nul + 1 - data);
		char *v = malloc(vlen + 1);
		if (v == NULL) {
			return 0;
		}
		memcpy(v, nul + 1, vlen);
		v[vlen] = '\0';
		/* As the listings' size, an audit entry's seq and an event stream's since read it.
		 */
		check_number(v, 1, 1000);
		check_number(v, 1, LLONG_MAX);
		check_number(v, 0, LLONG_MAX);
		free(v);
	}
	return 0;
}
