/* SPDX-License-Identifier: Apache-2.0 */
/* The one way signetd and signet-front give up root: for good, checked, no capability left. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/privdrop.h"

#define MAX_GROUPS 64

bool
privdrop_running_as_root(void)
{
	uid_t r, e, s;

	return getresuid(&r, &e, &s) != 0 || r == 0 || e == 0 || s == 0;
}

/* Does /proc/self/status show no effective, permitted or ambient capability? */
static bool
no_capabilities(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int seen = 0;
	bool none = true;

	if (f == NULL) {
		return false;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "CapEff:", 7) == 0 || strncmp(line, "CapPrm:", 7) == 0 ||
		    strncmp(line, "CapAmb:", 7) == 0) {
			seen++;
			none = none && strtoull(line + 7, NULL, 16) == 0;
		}
	}
	fclose(f);
	return seen == 3 && none;
}

static void
add_group(gid_t *groups, int *n, gid_t g)
{
	for (int i = 0; i < *n; i++) {
		if (groups[i] == g) {
			return;
		}
	}
	if (*n < MAX_GROUPS) {
		groups[(*n)++] = g;
	}
}

int
privdrop(const struct privdrop *p, char *why, size_t whylen)
{
	struct passwd *pw;
	gid_t groups[MAX_GROUPS];
	int ngroups = 0;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	bool named = p->user != NULL && p->user[0] != '\0';

	why[0] = '\0';
	if (!privdrop_running_as_root()) {
		if (named && ((pw = getpwnam(p->user)) == NULL || pw->pw_uid != geteuid())) {
			snprintf(why, whylen, "user %s: not started as root, cannot become another user",
				 p->user);
			return SIGNET_EINVAL;
		}
		(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		return 0;
	}
	if (!named) {
		snprintf(why, whylen,
			 "refusing to run as root: give --user NAME (an unprivileged user to drop to)");
		return SIGNET_EINVAL;
	}
	if ((pw = getpwnam(p->user)) == NULL || pw->pw_uid == 0) {
		snprintf(why, whylen, "user %s: %s", p->user, pw == NULL ? "no such user" : "that is root");
		return SIGNET_EINVAL;
	}
	if (p->owned_dir != NULL) {
		struct stat st;
		if (stat(p->owned_dir, &st) != 0 || st.st_uid != pw->pw_uid) {
			snprintf(why, whylen, "the state directory %s must belong to %s", p->owned_dir,
				 p->user);
			return SIGNET_EINVAL;
		}
	}
	add_group(groups, &ngroups, pw->pw_gid);
	if (p->extra_group != NULL && p->extra_group[0] != '\0') {
		struct group *g = getgrnam(p->extra_group);
		if (g == NULL) {
			snprintf(why, whylen, "group %s: no such group", p->extra_group);
			return SIGNET_EINVAL;
		}
		add_group(groups, &ngroups, g->gr_gid);
	}
	if (p->member_groups) {
		gid_t list[MAX_GROUPS];
		int n = MAX_GROUPS;
		if (getgrouplist(pw->pw_name, pw->pw_gid, list, &n) < 0) {
			snprintf(why, whylen, "user %s is in more than %d groups", p->user, MAX_GROUPS);
			return SIGNET_EINVAL;
		}
		for (int i = 0; i < n; i++) {
			if (list[i] != 0) {
				add_group(groups, &ngroups, list[i]);
			}
		}
	}
	if (setgroups((size_t)ngroups, groups) != 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		snprintf(why, whylen, "cannot drop to %s: %s", p->user, strerror(errno));
		return SIGNET_EINTERNAL;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || getresuid(&ru, &eu, &su) != 0 ||
	    getresgid(&rg, &eg, &sg) != 0 || ru != pw->pw_uid || eu != pw->pw_uid ||
	    su != pw->pw_uid || rg != pw->pw_gid || eg != pw->pw_gid || sg != pw->pw_gid ||
	    !no_capabilities()) {
		/* A broken invariant: never go on half-privileged. */
		fprintf(stderr, "privileges were not dropped for good\n");
		abort();
	}
	/* The drop resets dumpability: set it again. No exec may ever gain privileges. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "cannot set no-new-privileges after the drop\n");
		abort();
	}
	return 0;
}
