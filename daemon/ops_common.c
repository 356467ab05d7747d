/* SPDX-License-Identifier: Apache-2.0 */
/* What several op handlers share: paging arguments and results. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/ops.h"
#include "daemon/store.h"
#include "daemon/user.h"
#include "lib/codec.h"
#include "lib/error.h"

#define PAGE_DEFAULT 100
#define PAGE_BYTES   (48 * 1024) /* items in one reply; the rest of the packet is envelope */

int
ops_page_args(struct request *r, struct store_page *pg)
{
	int64_t limit = PAGE_DEFAULT;
	const char *cursor = NULL;
	long n;

	memset(pg, 0, sizeof(*pg));
	if (jargs_int(&r->args, "limit", false, 1, STORE_PAGE_MAX, &limit) != 0 ||
	    jargs_str(&r->args, "cursor", false, base64_encoded_len(STORE_CURSOR_MAX), &cursor) !=
		0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	pg->limit = (size_t)limit;
	if (cursor != NULL) {
		/* Opaque to clients: base64url of the key suffix of the last record they saw. */
		n = base64_decode(cursor, strlen(cursor), pg->after, sizeof(pg->after), true);
		if (n <= 0) {
			return req_fail(r, SIGNET_EINVAL,
					"'cursor' is not one this daemon gave out");
		}
		pg->after_len = (size_t)n;
	}
	return 0;
}

int
ops_page_result(json_t *result, const struct store_page *pg)
{
	char *c;

	if (!pg->more) {
		return 0;
	}
	c = base64_encode_alloc(pg->next, pg->next_len, true);
	if (c == NULL) {
		return SIGNET_EINTERNAL;
	}
	json_object_set_new(result, "cursor", json_string(c));
	free(c);
	return 0;
}

int
ops_list_append(struct ops_list *l, json_t *item)
{
	size_t n;

	if (item == NULL) {
		return SIGNET_EINTERNAL;
	}
	n = json_dumpb(item, NULL, 0, JSON_COMPACT) + 1;
	if (l->bytes + n > PAGE_BYTES) {
		json_decref(item);
		return STORE_PAGE_FULL;
	}
	l->bytes += n;
	return json_array_append_new(l->items, item) == 0 ? 0 : SIGNET_EINTERNAL;
}

struct list_run {
	enum store_db db;
	const char *tenant;
	int (*item)(const struct store_key *key, json_t *val, void *arg);
	struct store_page pg;
	struct ops_list out;
};

static int
list_txn(struct store_txn *t, void *arg)
{
	struct list_run *x = arg;

	/* The prefix includes the NUL: tenant "ab" never lists the records of "abc". */
	return store_foreach_page(t, x->db, x->tenant,
				  x->tenant != NULL ? strlen(x->tenant) + 1 : 0, &x->pg, x->item,
				  &x->out);
}

int
ops_list(struct request *r, enum store_db db, const char *tenant,
	 int (*item)(const struct store_key *key, json_t *val, void *arg), const char *field)
{
	struct list_run x = {.db = db, .tenant = tenant, .item = item};
	int rc;

	if ((rc = ops_page_args(r, &x.pg)) != 0) {
		return rc;
	}
	if ((x.out.items = json_array()) == NULL) {
		return SIGNET_EINTERNAL;
	}
	if ((rc = store_read(r->d->store, list_txn, &x)) != 0) {
		json_decref(x.out.items);
		return rc;
	}
	r->result = json_pack("{s:o}", field, x.out.items);
	return r->result != NULL ? ops_page_result(r->result, &x.pg) : SIGNET_EINTERNAL;
}

int
ops_user_load(struct request *r, struct store_txn *t, const char *name, struct user_record *u)
{
	int rc = user_read(t, r->subject.tenant, name, u);

	return rc == SIGNET_ENOTFOUND ? req_fail(r, SIGNET_ENOTFOUND, "no user '%s'", name) : rc;
}
