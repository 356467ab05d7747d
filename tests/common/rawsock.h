/* SPDX-License-Identifier: Apache-2.0 */
/* For tests only: send what msg_send refuses (oversized packets, too many descriptors). */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define RAW_SEND_MAX_FDS 16

/*
 * One sendmsg of LEN bytes with NFDS (at most RAW_SEND_MAX_FDS) descriptors
 * attached, none of msg_send's bounds applied. Returns sendmsg's result.
 */
ssize_t raw_send(int sock, const void *data, size_t len, const int *fds, int nfds);
