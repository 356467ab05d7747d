/* SPDX-License-Identifier: Apache-2.0 */
/* The one way signetd and signet-front give up root: for good, checked, no capability left. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct privdrop {
	const char *user;        /* the user to become (NULL or "" when not started as root) */
	const char *extra_group; /* one more group to keep (signetd's socket_group), or NULL */
	bool member_groups;      /* keep the user's groups from the group file (signet-front) */
	const char *owned_dir;   /* a directory that must belong to USER, or NULL */
};

/* Is any of the process's user ids root? */
bool privdrop_running_as_root(void);

/*
 * Started as root: become P->user for good. Its groups are its primary
 * group, plus P->extra_group, plus (P->member_groups) the groups the group
 * file gives it, none of root's. Then prove that root cannot come back
 * (real, effective and saved ids), that no capability is left (effective,
 * permitted, ambient), and set no-new-privileges and non-dumpable.
 * Started as anyone else: P->user, when given, must be who we are.
 * Returns 0; SIGNET_EINVAL for a refusal the caller can fix (root without a
 * user, root as the user, no such user or group, OWNED_DIR not the user's);
 * SIGNET_EINTERNAL when a system call fails. The reason is in WHY. A drop
 * that does not hold (a broken invariant) aborts: never go on half-privileged.
 */
int privdrop(const struct privdrop *p, char *why, size_t whylen);
