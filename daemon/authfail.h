/* SPDX-License-Identifier: Apache-2.0 */
/* Failed authentications that name a tenant: one audit entry per source and window, with a count. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An outsider who names a tenant with a bad token must not be able to grow
 * that tenant's audit chain at the speed of its requests. The first failure
 * of a (tenant, source) pair in a window is recorded on its own; the rest of
 * the window's failures are only counted, and one entry with the count is
 * written when the window ends (or at shutdown). A source is a peer uid.
 * At most two entries per (tenant, source) and window: the ceiling
 * signetd.conf(5) documents. Thread-safe.
 */

#define AUTHFAIL_MAX_SOURCES 4096 /* windows tracked at once; beyond, one shared overflow source */
#define AUTHFAIL_OVERFLOW_UID (-2L)

struct authfail;

/* A window's counted (not yet recorded) failures. */
struct authfail_sum {
	char tenant[65];
	long uid; /* AUTHFAIL_OVERFLOW_UID: sources beyond AUTHFAIL_MAX_SOURCES */
	uint64_t count;
	int64_t from, to; /* the window's first and last counted failure */
};

struct authfail *authfail_new(long window_s);
void authfail_free(struct authfail *a);

/*
 * A failed authentication naming TENANT from UID at NOW. True when it is
 * the first of its window and gets an entry of its own; false when it was
 * only counted. When an earlier window of the same pair ended with counted
 * failures, they are moved to *FLUSH (count > 0) for one entry.
 */
bool authfail_note(struct authfail *a, const char *tenant, long uid, int64_t now,
		   struct authfail_sum *flush);

/*
 * Up to MAX windows that ended by NOW (every window when ALL) with counted
 * failures, moved to OUT; their pairs are forgotten. Returns how many.
 */
size_t authfail_due(struct authfail *a, int64_t now, bool all, struct authfail_sum *out,
		    size_t max);
