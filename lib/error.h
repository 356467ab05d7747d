/* SPDX-License-Identifier: Apache-2.0 */
/* The one project error enum; the socket API's error codes map 1:1 from it. */
#pragma once

enum signet_err {
	SIGNET_OK = 0,
	SIGNET_EINVAL = -1,         /* "invalid" */
	SIGNET_EUNAUTH = -2,        /* "unauthenticated" */
	SIGNET_EDENIED = -3,        /* "denied" */
	SIGNET_ENOTFOUND = -4,      /* "not_found" */
	SIGNET_ECONFLICT = -5,      /* "conflict" */
	SIGNET_EOTP_INVALID = -6,   /* "otp_invalid" */
	SIGNET_EOTP_REPLAYED = -7,  /* "otp_replayed" */
	SIGNET_ELOCKED_OUT = -8,    /* "locked_out" */
	SIGNET_ESELF_APPROVAL = -9, /* "self_approval" */
	SIGNET_EEXPIRED = -10,      /* "expired" */
	SIGNET_ETOO_LARGE = -11,    /* "too_large" */
	SIGNET_ETOKEN = -12,        /* "token_error" */
	SIGNET_EUNAVAILABLE = -13,  /* "unavailable" */
	SIGNET_EINTERNAL = -14,     /* "internal" */
	SIGNET_ENOSPACE = -15,      /* "no_space" */
	SIGNET_EQUOTA = -16,        /* "quota_exceeded" */
	SIGNET_ERR_MIN = -16,
};

/* The wire code ("invalid", "denied", ...) of an error; "internal" for unknown values. */
const char *signet_err_code(int err);

/* A short human description of an error. */
const char *signet_strerror(int err);

/* The error whose wire code is CODE, or SIGNET_EINTERNAL when CODE is unknown. */
int signet_err_from_code(const char *code);

/*
 * The error of a failed write to a file (ERRNUM is its errno):
 * SIGNET_ENOSPACE when the filesystem is out of space or quota (ENOSPC,
 * EDQUOT), else SIGNET_EINTERNAL.
 */
int signet_err_from_errno(int errnum);
