/* SPDX-License-Identifier: Apache-2.0 */
/* signetctl's output to people and scripts: errors. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tools/ctl.h"

bool ctl_json_errors;

/* A JSON string of S; bytes that are not UTF-8 (a file name, say) become '?'. */
static json_t *
json_text(const char *s)
{
	json_t *v = json_string(s);
	char *c;

	if (v != NULL || (c = strdup(s)) == NULL) {
		return v;
	}
	for (char *p = c; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80) {
			*p = '?';
		}
	}
	v = json_string(c);
	free(c);
	return v;
}

int
ctl_fail(int status, const char *code, const char *hint, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctl_json_errors) {
		json_t *e = json_object();
		char *s;

		json_object_set_new(e, "code", json_string(code != NULL ? code : "usage"));
		json_object_set_new(e, "message", json_text(msg));
		if (hint != NULL) {
			json_object_set_new(e, "hint", json_text(hint));
		}
		s = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
		fprintf(stderr, "%s\n", s != NULL ? s : "{\"code\": \"internal\"}");
		free(s);
		json_decref(e);
		return status;
	}
	fprintf(stderr, "signetctl: %s%s%s\n", code != NULL ? code : "", code != NULL ? ": " : "",
		msg);
	if (hint != NULL) {
		fprintf(stderr, "(%s)\n", hint);
	}
	return status;
}
