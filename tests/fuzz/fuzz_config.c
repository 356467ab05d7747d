/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the INI configuration loader and the checks config_finish makes. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[256];
	char *text = malloc(size + 1);
	int r;

	if (text == NULL) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	config_init(&c);
	memset(err, 'X', sizeof(err));
	r = config_load_string(&c, text, err, sizeof(err));
	/* A refusal always says what and where, within the buffer. */
	if (r != 0 && (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')) {
		abort();
	}
	if (r == 0) {
		if (c.workers < 1 || c.workers > 64 || c.map_size_mb < 1 ||
		    (c.state_dir != NULL && c.state_dir[0] != '/') ||
		    (c.module != NULL && c.module[0] != '/')) {
			abort();
		}
		memset(err, 'X', sizeof(err));
		r = config_finish(&c, err, sizeof(err));
		if (r != 0 && memchr(err, '\0', sizeof(err)) == NULL) {
			abort();
		}
		if (r == 0 && (c.socket_path == NULL || strlen(c.socket_path) > 107 ||
			       c.pin_file == NULL || strncmp(c.token_uri, "pkcs11:", 7) != 0)) {
			abort();
		}
	}
	config_free(&c);
	free(text);
	return 0;
}
