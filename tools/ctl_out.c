/* SPDX-License-Identifier: Apache-2.0 */
/* signetctl's output to people and scripts: errors, times and progress lines. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	ctl_progress_stop();
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

/* Progress */

#define PROGRESS_TICK_MS 250
#define PROGRESS_BAR     24

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool running, stop;
	char label[160];
	char status[48];
	uint64_t total, done, t0_ms;
} progress = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void
size_short(uint64_t b, char *buf, size_t len)
{
	if (b >= 1024 * 1024 * 1024) {
		snprintf(buf, len, "%.1f GiB", (double)b / (1024.0 * 1024 * 1024));
	} else {
		snprintf(buf, len, "%.1f MiB", (double)b / (1024.0 * 1024));
	}
}

/* The line, with the lock held. */
static void
progress_draw_locked(void)
{
	char line[320], a[32], b[32], el[32];
	int fill;

	ctl_duration((int64_t)((time_mono_ms() - progress.t0_ms) / 1000), el, sizeof(el));
	if (progress.total > 0) {
		uint64_t done = progress.done < progress.total ? progress.done : progress.total;
		char bar[PROGRESS_BAR + 1];
		fill = (int)(done * PROGRESS_BAR / progress.total);
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(PROGRESS_BAR - fill));
		bar[PROGRESS_BAR] = '\0';
		size_short(done, a, sizeof(a));
		size_short(progress.total, b, sizeof(b));
		snprintf(line, sizeof(line), "%s [%s] %3d%% %s of %s, %s", progress.label, bar,
			 (int)(done * 100 / progress.total), a, b, el);
	} else {
		snprintf(line, sizeof(line), "%s%s%s, %s", progress.label,
			 progress.status[0] != '\0' ? ": " : "", progress.status, el);
	}
	/* Back to the start of the line, and clear it: the line only ever rewrites itself. */
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
}

static void *
progress_run(void *arg)
{
	struct timespec until;

	pthread_mutex_lock(&progress.mu);
	while (!progress.stop) {
		progress_draw_locked();
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += PROGRESS_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&progress.cv, &progress.mu, &until);
	}
	pthread_mutex_unlock(&progress.mu);
	return arg;
}

void
ctl_progress_start(const char *label, uint64_t total)
{
	if (progress.running || !isatty(STDERR_FILENO)) {
		return;
	}
	snprintf(progress.label, sizeof(progress.label), "%s", label);
	progress.status[0] = '\0';
	progress.total = total;
	progress.done = 0;
	progress.t0_ms = time_mono_ms();
	progress.stop = false;
	progress.running = pthread_create(&progress.thread, NULL, progress_run, NULL) == 0;
}

void
ctl_progress_set(uint64_t done)
{
	pthread_mutex_lock(&progress.mu);
	progress.done = done;
	pthread_mutex_unlock(&progress.mu);
}

void
ctl_progress_status(const char *status)
{
	pthread_mutex_lock(&progress.mu);
	snprintf(progress.status, sizeof(progress.status), "%s", status);
	pthread_mutex_unlock(&progress.mu);
}

void
ctl_progress_stop(void)
{
	if (!progress.running) {
		return;
	}
	pthread_mutex_lock(&progress.mu);
	progress.stop = true;
	pthread_cond_signal(&progress.cv);
	pthread_mutex_unlock(&progress.mu);
	pthread_join(progress.thread, NULL);
	progress.running = false;
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
}
