/* SPDX-License-Identifier: Apache-2.0 */
/* Timers: work due at a time, keyed by when it is due so a sweep reads them in order. */
#pragma once

#include <stdint.h>

#include "daemon/store.h"

/* Timers: work due at a time (result expiry, capability removal, approval expiry). */
int timer_put(struct store_txn *t, int64_t due, const char *kind, const char *tenant,
	      const char *id);
void timer_del(struct store_txn *t, int64_t due, const char *kind, const char *id);
