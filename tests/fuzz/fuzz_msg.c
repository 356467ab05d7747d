/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for msg_parse: whatever a peer sends, the parser's promises hold. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* No string or key in an accepted message holds a NUL. */
static void
check_no_nul(const json_t *v)
{
	const char *k;
	json_t *c;
	size_t i;

	if (json_is_string(v)) {
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			abort();
		}
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, c) {
			check_no_nul(c);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c) {
			check_no_nul(c);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	json_t *root, *again = NULL;
	char *dump = NULL;
	size_t len = 0;

	root = msg_parse(data, size, &why);
	if (root == NULL) {
		/* Every refusal says why. */
		if (why == NULL || why[0] == '\0') {
			abort();
		}
		return 0;
	}
	if (!json_is_object(root) || json_depth(root) > MSG_MAX_DEPTH) {
		abort();
	}
	check_no_nul(root);
	/* What we accept, we can send back, and it reads the same. */
	dump = msg_dump(root, &len);
	if (dump != NULL) {
		if (len > MSG_MAX_SIZE || strlen(dump) != len) {
			abort();
		}
		again = msg_parse((const uint8_t *)dump, len, &why);
		if (again == NULL || !json_equal(root, again)) {
			abort();
		}
	}
	json_decref(again);
	free(dump);
	json_decref(root);
	return 0;
}
