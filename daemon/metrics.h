/* SPDX-License-Identifier: Apache-2.0 */
/* Counters of what signetd did since it started, for the metrics op (doc/metrics.md). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct daemon;
struct wbuf;

#define METRICS_TASK_TYPES      3  /* SIGNING, ENCRYPTION, PACKAGING */
#define METRICS_TASK_STATUSES   9  /* enum task_status (checked in metrics.c) */
#define METRICS_LATENCY_BUCKETS 17 /* bounds of signet_task_duration_seconds, +Inf apart */

/*
 * The task statuses a write transaction entered, and the durations of the
 * tasks it ended: kept in its struct evnote, added to the counters only once
 * the transaction committed (events_publish), so a transaction run again or
 * aborted counts nothing.
 */
struct task_tally {
	uint32_t entered[METRICS_TASK_TYPES][METRICS_TASK_STATUSES];
	uint32_t ended[METRICS_TASK_TYPES]
		      [METRICS_LATENCY_BUCKETS + 1]; /* per bucket, not summed */
	uint64_t ended_ms[METRICS_TASK_TYPES];
	bool any;
};

enum metrics_counter {
	MC_APPROVED,     /* approvals given (task.approve that counted) */
	MC_REJECTED,     /* rejections (task.reject) */
	MC_OTP_WRONG,    /* TOTP codes refused as wrong */
	MC_OTP_REPLAYED, /* TOTP codes refused as used already */
	MC_OTP_LOCKED,   /* approvals refused because the approver was locked out */
	MC_LOCKOUTS,     /* lockouts started */
	MC_AUTH_FAILED,  /* requests refused for an invalid or revoked API token */
	MC_DENIED,       /* requests refused by the ACL (op level) */
	MC_COUNT,
};

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* In a write transaction: TASK (its "id" and "type") entered STATUS (an enum task_status). */
struct task;
void metrics_tally_status(struct task_tally *t, const struct task *task, int status, bool final);
/* After the commit: add a transaction's tally. Any thread; D->metrics may be NULL. */
void metrics_tasks_add(struct daemon *d, const struct task_tally *t);
/* One more of C. Any thread: an atomic add, nothing else. */
void metrics_add(struct daemon *d, enum metrics_counter c);

/* Append to W with a format (a line of the text exposition format). */
void metrics_printf(struct wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* # HELP and # TYPE lines of NAME. */
void metrics_head(struct wbuf *w, const char *name, const char *type, const char *help);
/* The counters (tasks, latency, approvals, OTP, authentication, token) in the text format. */
void metrics_render_counters(struct daemon *d, struct wbuf *w);
