/* SPDX-License-Identifier: Apache-2.0 */
/* Timers: work due at a time, keyed by when it is due so a sweep reads them in order. */
#include "config.h"

#include <string.h>

#include "daemon/timers.h"
#include "lib/codec.h"
#include "lib/error.h"

static size_t
timer_key(uint8_t *out, size_t len, int64_t due, const char *kind, const char *id)
{
	size_t kl = strlen(kind), il = strlen(id);

	if (8 + kl + 1 + il > len) {
		return 0;
	}
	be64_put(out, (uint64_t)due);
	memcpy(out + 8, kind, kl);
	out[8 + kl] = '\0';
	memcpy(out + 9 + kl, id, il);
	return 9 + kl + il;
}

int
timer_put(struct store_txn *t, int64_t due, const char *kind, const char *tenant, const char *id)
{
	uint8_t key[128];
	size_t klen = timer_key(key, sizeof(key), due, kind, id);
	json_t *rec = json_pack("{s:s, s:s, s:s, s:I}", "kind", kind, "tenant", tenant, "id", id,
				"due", (json_int_t)due);

	if (klen == 0 || rec == NULL) {
		json_decref(rec);
		return SIGNET_EINTERNAL;
	}
	store_put_json(t, STORE_DB_TIMERS, key, klen, rec, false);
	json_decref(rec);
	return t->err;
}

void
timer_del(struct store_txn *t, int64_t due, const char *kind, const char *id)
{
	uint8_t key[128];
	size_t klen = timer_key(key, sizeof(key), due, kind, id);

	if (klen > 0 && store_exists(t, STORE_DB_TIMERS, key, klen)) {
		store_del(t, STORE_DB_TIMERS, key, klen);
	}
}
