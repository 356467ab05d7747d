/* SPDX-License-Identifier: Apache-2.0 */
/* signetctl's output to people and scripts: errors and times. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/util.h"
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

/* Times */

const char *
ctl_time(int64_t t, char *buf, size_t len)
{
	time_format(t, buf, len);
	return buf;
}

const char *
ctl_duration(int64_t s, char *buf, size_t len)
{
	long long big = s >= 86400 ? s / 86400 : s / 3600,
		  small = s >= 86400 ? s % 86400 / 3600 : s % 3600 / 60;
	const char *bu = s >= 86400 ? "d" : "h", *su = s >= 86400 ? "h" : "min";

	if (s < 60) {
		snprintf(buf, len, "%lld s", (long long)s);
	} else if (s < 3600) {
		snprintf(buf, len, "%lld min", (long long)(s / 60));
	} else if (small == 0) {
		snprintf(buf, len, "%lld %s", big, bu);
	} else {
		snprintf(buf, len, "%lld %s %lld %s", big, bu, small, su);
	}
	return buf;
}

const char *
ctl_time_rel(int64_t t, int64_t now, char *buf, size_t len)
{
	char d[32];
	/* One unit is enough in a list: "in 23 h", not "in 23 h 59 min". */
	int64_t s = t > now ? t - now : now - t;
	int64_t unit = s < 60 ? 1 : s < 3600 ? 60 : s < 86400 ? 3600 : 86400;

	if (s == 0) {
		snprintf(buf, len, "now");
		return buf;
	}
	ctl_duration(s / unit * unit, d, sizeof(d));
	snprintf(buf, len, t > now ? "in %s" : "%s ago", d);
	return buf;
}

static bool
is_time_name(const char *k)
{
	size_t n = strlen(k);

	return strcmp(k, "created") == 0 || strcmp(k, "time") == 0 ||
	       (n > 2 && strcmp(k + n - 2, "At") == 0) ||
	       (n > 5 && strcmp(k + n - 5, "Until") == 0);
}

void
ctl_json_times(json_t *v)
{
	const char *k;
	json_t *m, *add;
	size_t i;
	char name[128], when[32];

	if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			ctl_json_times(m);
		}
		return;
	}
	if (!json_is_object(v)) {
		return;
	}
	/* Collected first: members are not added to an object while it is walked. */
	add = json_object();
	json_object_foreach(v, k, m) {
		if (json_is_integer(m) && json_integer_value(m) > 0 && is_time_name(k) &&
		    snprintf(name, sizeof(name), "%sRfc3339", k) < (int)sizeof(name)) {
			json_object_set_new(
			    add, name,
			    json_string(ctl_time(json_integer_value(m), when, sizeof(when))));
		} else {
			ctl_json_times(m);
		}
	}
	json_object_update_missing(v, add);
	json_decref(add);
}
