/* SPDX-License-Identifier: Apache-2.0 */
/* Error codes: names on the wire and messages for people. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "lib/error.h"

struct err_desc {
	int err;
	const char *code;
	const char *text;
};

static const struct err_desc err_table[] = {
    {SIGNET_OK, "ok", "success"},
    {SIGNET_EINVAL, "invalid", "invalid request"},
    {SIGNET_EUNAUTH, "unauthenticated", "authentication required or failed"},
    {SIGNET_EDENIED, "denied", "permission denied"},
    {SIGNET_ENOTFOUND, "not_found", "no such object"},
    {SIGNET_ECONFLICT, "conflict", "conflicts with the current state"},
    {SIGNET_EOTP_INVALID, "otp_invalid", "one-time code is not valid"},
    {SIGNET_EOTP_REPLAYED, "otp_replayed", "one-time code was already used"},
    {SIGNET_ELOCKED_OUT, "locked_out", "too many failures; temporarily locked"},
    {SIGNET_ESELF_APPROVAL, "self_approval", "a requester cannot approve their own task"},
    {SIGNET_EEXPIRED, "expired", "no longer available"},
    {SIGNET_ETOO_LARGE, "too_large", "request exceeds a size limit"},
    {SIGNET_ETOKEN, "token_error", "the token refused or failed the operation"},
    {SIGNET_EUNAVAILABLE, "unavailable", "service temporarily unavailable"},
    {SIGNET_EINTERNAL, "internal", "internal error"},
    {SIGNET_ENOSPACE, "no_space", "no space left on the device"},
    {SIGNET_EQUOTA, "quota_exceeded", "a spool quota would be exceeded"},
};

static const struct err_desc *
err_find(int err)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++) {
		if (err_table[i].err == err) {
			return &err_table[i];
		}
	}
	return NULL;
}

const char *
signet_err_code(int err)
{
	const struct err_desc *d = err_find(err);
	return d != NULL ? d->code : "internal";
}

const char *
signet_strerror(int err)
{
	const struct err_desc *d = err_find(err);
	return d != NULL ? d->text : "internal error";
}

int
signet_err_from_code(const char *code)
{
	if (code == NULL) {
		return SIGNET_EINTERNAL;
	}
	for (size_t i = 1; i < sizeof(err_table) / sizeof(err_table[0]); i++) {
		if (strcmp(err_table[i].code, code) == 0) {
			return err_table[i].err;
		}
	}
	return SIGNET_EINTERNAL;
}

int
signet_err_from_errno(int errnum)
{
	return errnum == ENOSPC || errnum == EDQUOT ? SIGNET_ENOSPACE : SIGNET_EINTERNAL;
}
