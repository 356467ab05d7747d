/* SPDX-License-Identifier: Apache-2.0 */
/* Counters of what signetd did since it started, for the metrics op (doc/metrics.md). */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "daemon/tasks.h"
#include "hsm/hsm.h"
#include "lib/buf.h"

_Static_assert(METRICS_TASK_STATUSES == TS_COUNT, "one tally row per task status");

static const char *const type_names[METRICS_TASK_TYPES] = {"SIGNING", "ENCRYPTION", "PACKAGING"};

/* Upper bounds of the duration buckets, in milliseconds. */
static const uint64_t bucket_ms[METRICS_LATENCY_BUCKETS] = {
    1,    5,    10,    25,    50,    100,    250,     500,    1000,
    2500, 5000, 10000, 30000, 60000, 300000, 1800000, 3600000};

struct metrics {
	atomic_ullong entered[METRICS_TASK_TYPES][METRICS_TASK_STATUSES];
	atomic_ullong ended[METRICS_TASK_TYPES][METRICS_LATENCY_BUCKETS + 1];
	atomic_ullong ended_ms[METRICS_TASK_TYPES];
	atomic_ullong counter[MC_COUNT];
};

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

static int
type_index(const struct task *task)
{
	return task->type < METRICS_TASK_TYPES ? (int)task->type : -1;
}

/* The creation time in a version 7 UUID: its first 48 bits, milliseconds since the epoch. */
static bool
uuid7_ms(const char *id, uint64_t *ms)
{
	uint64_t v = 0;
	int digits = 0;

	for (const char *p = id; p != NULL && *p != '\0' && digits < 12; p++) {
		int x;
		if (*p == '-') {
			continue;
		}
		if (*p >= '0' && *p <= '9') {
			x = *p - '0';
		} else if (*p >= 'a' && *p <= 'f') {
			x = *p - 'a' + 10;
		} else {
			return false;
		}
		v = (v << 4) | (uint64_t)x;
		digits++;
	}
	*ms = v;
	return digits == 12;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
metrics_tally_status(struct task_tally *t, const struct task *task, int status, bool final)
{
	int ti = type_index(task);
	uint64_t created, now, ms = 0;
	size_t b = 0;

	if (ti < 0 || status < 0 || status >= METRICS_TASK_STATUSES) {
		return;
	}
	t->entered[ti][status]++;
	t->any = true;
	if (!final) {
		return;
	}
	now = wall_ms();
	if (uuid7_ms(task->id, &created) && now > created) {
		ms = now - created;
	}
	while (b < METRICS_LATENCY_BUCKETS && ms > bucket_ms[b]) {
		b++;
	}
	t->ended[ti][b]++;
	t->ended_ms[ti] += ms;
}

void
metrics_tasks_add(struct daemon *d, const struct task_tally *t)
{
	struct metrics *m = d != NULL ? d->metrics : NULL;

	if (m == NULL || !t->any) {
		return;
	}
	for (int i = 0; i < METRICS_TASK_TYPES; i++) {
		for (int s = 0; s < METRICS_TASK_STATUSES; s++) {
			if (t->entered[i][s] != 0) {
				atomic_fetch_add_explicit(&m->entered[i][s], t->entered[i][s],
							  memory_order_relaxed);
			}
		}
		for (int b = 0; b <= METRICS_LATENCY_BUCKETS; b++) {
			if (t->ended[i][b] != 0) {
				atomic_fetch_add_explicit(&m->ended[i][b], t->ended[i][b],
							  memory_order_relaxed);
			}
		}
		atomic_fetch_add_explicit(&m->ended_ms[i], t->ended_ms[i], memory_order_relaxed);
	}
}

void
metrics_add(struct daemon *d, enum metrics_counter c)
{
	if (d != NULL && d->metrics != NULL && c < MC_COUNT) {
		atomic_fetch_add_explicit(&d->metrics->counter[c], 1, memory_order_relaxed);
	}
}

void
metrics_printf(struct wbuf *w, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		w->failed = true;
		return;
	}
	wbuf_put(w, line, (size_t)n);
}

void
metrics_head(struct wbuf *w, const char *name, const char *type, const char *help)
{
	metrics_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static unsigned long long
get(atomic_ullong *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

static void
render_tasks(struct metrics *m, struct wbuf *w)
{
	metrics_head(w, "signet_task_transitions_total", "counter",
		     "Tasks that entered a status since signetd started, by type and status.");
	for (int i = 0; i < METRICS_TASK_TYPES; i++) {
		for (int s = 0; s < METRICS_TASK_STATUSES; s++) {
			metrics_printf(w,
				       "signet_task_transitions_total{type=\"%s\",status=\"%s\"} "
				       "%llu\n",
				       type_names[i], task_status_name((enum task_status)s),
				       get(&m->entered[i][s]));
		}
	}
	metrics_head(w, "signet_task_duration_seconds", "histogram",
		     "Time from a task's creation to its final status, by type.");
	for (int i = 0; i < METRICS_TASK_TYPES; i++) {
		unsigned long long cum = 0;
		for (int b = 0; b <= METRICS_LATENCY_BUCKETS; b++) {
			cum += get(&m->ended[i][b]);
			if (b < METRICS_LATENCY_BUCKETS) {
				metrics_printf(w,
					       "signet_task_duration_seconds_bucket{type=\"%s\","
					       "le=\"%g\"} %llu\n",
					       type_names[i], (double)bucket_ms[b] / 1000.0, cum);
			} else {
				metrics_printf(w,
					       "signet_task_duration_seconds_bucket{type=\"%s\","
					       "le=\"+Inf\"} %llu\n",
					       type_names[i], cum);
			}
		}
		metrics_printf(w, "signet_task_duration_seconds_sum{type=\"%s\"} %.3f\n",
			       type_names[i], (double)get(&m->ended_ms[i]) / 1000.0);
		metrics_printf(w, "signet_task_duration_seconds_count{type=\"%s\"} %llu\n",
			       type_names[i], cum);
	}
}

static void
counter(struct wbuf *w, const char *name, const char *help, unsigned long long v)
{
	metrics_head(w, name, "counter", help);
	metrics_printf(w, "%s %llu\n", name, v);
}

void
metrics_render_counters(struct daemon *d, struct wbuf *w)
{
	struct metrics *m = d->metrics;
	uint64_t errors = 0, retries = 0;

	if (m == NULL) {
		return;
	}
	render_tasks(m, w);
	metrics_head(w, "signet_approvals_total", "counter",
		     "Approval decisions that counted, by decision.");
	metrics_printf(w, "signet_approvals_total{decision=\"APPROVED\"} %llu\n",
		       get(&m->counter[MC_APPROVED]));
	metrics_printf(w, "signet_approvals_total{decision=\"REJECTED\"} %llu\n",
		       get(&m->counter[MC_REJECTED]));
	metrics_head(w, "signet_otp_failures_total", "counter",
		     "TOTP codes refused at approval, by reason.");
	metrics_printf(w, "signet_otp_failures_total{reason=\"wrong\"} %llu\n",
		       get(&m->counter[MC_OTP_WRONG]));
	metrics_printf(w, "signet_otp_failures_total{reason=\"replayed\"} %llu\n",
		       get(&m->counter[MC_OTP_REPLAYED]));
	counter(w, "signet_otp_lockouts_total",
		"Approver lockouts started by repeated wrong codes.",
		get(&m->counter[MC_LOCKOUTS]));
	counter(w, "signet_otp_locked_refusals_total",
		"Approvals refused because the approver was locked out.",
		get(&m->counter[MC_OTP_LOCKED]));
	counter(w, "signet_auth_failures_total",
		"Requests refused for an invalid or revoked API token.",
		get(&m->counter[MC_AUTH_FAILED]));
	counter(w, "signet_denied_total", "Requests refused by the ACL before their handler ran.",
		get(&m->counter[MC_DENIED]));
	hsm_counters(&errors, &retries);
	counter(
	    w, "signet_token_errors_total",
	    "PKCS#11 calls that failed with a token error (not a refused input or a missing key).",
	    (unsigned long long)errors);
	counter(w, "signet_token_retries_total",
		"PKCS#11 operations repeated on a new session after a recoverable token error.",
		(unsigned long long)retries);
}
