/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the request head guard: what it passes is one strict head, decided once. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "front/headguard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
same(const struct headguard *a, const struct headguard *b)
{
	return a->head_len == b->head_len && a->content_length == b->content_length &&
	       a->chunked == b->chunked && a->status == b->status && a->reason == b->reason;
}

/* An independent reading of a passed head: lines, names and framing, without the guard's code. */
static void
recheck_ok(const uint8_t *h, size_t n, const struct headguard *g)
{
	size_t pos = 0, line = 0;
	int cl = 0, te = 0;

	if (n < 4 || memcmp(h + n - 4, "\r\n\r\n", 4) != 0) {
		abort();
	}
	if (g->content_length >= 0 && g->chunked) {
		abort();
	}
	while (pos < n) {
		const uint8_t *e = memchr(h + pos, '\n', n - pos);
		size_t len;
		if (e == NULL || e == h + pos || e[-1] != '\r') {
			abort(); /* every line ends in CRLF */
		}
		len = (size_t)(e - (h + pos)) - 1;
		if (memchr(h + pos, '\r', len) != NULL || memchr(h + pos, '\0', len) != NULL) {
			abort();
		}
		if (line > 0 && len > 0) {
			const uint8_t *colon = memchr(h + pos, ':', len);
			if (h[pos] == ' ' || h[pos] == '\t' || colon == NULL || colon == h + pos ||
			    colon[-1] == ' ' || colon[-1] == '\t') {
				abort(); /* obs-fold, no colon, whitespace before the colon */
			}
			cl += colon - (h + pos) == 14 &&
			      strncasecmp((const char *)h + pos, "content-length", 14) == 0;
			te += colon - (h + pos) == 17 &&
			      strncasecmp((const char *)h + pos, "transfer-encoding", 17) == 0;
		}
		pos += len + 2;
		line++;
	}
	if (cl > 1 || te > 1 || (cl > 0 && te > 0) || (cl > 0) != (g->content_length >= 0) ||
	    (te > 0) != g->chunked) {
		abort();
	}
}

static void
check(const uint8_t *data, size_t size, size_t max)
{
	struct headguard g, g2;
	enum headguard_verdict v = headguard_check(data, size, max, &g), v2;

	switch (v) {
	case HEADGUARD_OK:
		if (g.head_len > size || g.head_len > max) {
			abort();
		}
		recheck_ok(data, g.head_len, &g);
		/* The head alone gives the same answer; one byte less is not yet a decision. */
		if (headguard_check(data, g.head_len, max, &g2) != HEADGUARD_OK || !same(&g, &g2)) {
			abort();
		}
		if (headguard_check(data, g.head_len - 1, max, &g2) != HEADGUARD_MORE) {
			abort();
		}
		break;
	case HEADGUARD_BAD:
		if ((g.status != 400 && g.status != 431 && g.status != 505) || g.reason == NULL) {
			abort();
		}
		break;
	case HEADGUARD_MORE:
		if (size >= max) {
			abort(); /* a full buffer is always decided */
		}
		break;
	default:
		abort();
	}
	/* A decision stands whatever follows: the guard decides on what has arrived. */
	if (v != HEADGUARD_MORE && size < max) {
		uint8_t *more = malloc(size + 4);
		if (more == NULL) {
			return;
		}
		memcpy(more, data, size);
		memcpy(more + size, "\r\n\r\n", 4);
		v2 = headguard_check(more, size + 4, max, &g2);
		free(more);
		if (v2 != v || !same(&g, &g2)) {
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 65536);
	/* A bound inside the input: the 431 path, and decisions made right at the bound. */
	check(data, size, size / 2 + 1);
	check(data, size, size);
	return 0;
}
