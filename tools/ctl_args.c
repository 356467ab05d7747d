/* SPDX-License-Identifier: Apache-2.0 */
/* signetctl's command line: options, commands, help, suggestions and bash completion. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "tools/ctl.h"

#define MAX_WORD 64 /* longer words are never near a known one */

/* Is NAME one of the space-separated words of LIST? */
static bool
in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ' ');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0) {
			return true;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return false;
}

/* The optimal string alignment distance of A and B: edits, a swap of neighbours counted once. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[MAX_WORD + 1][MAX_WORD + 1];

	if (la > MAX_WORD || lb > MAX_WORD) {
		return (size_t)-1;
	}
	for (size_t i = 0; i <= la; i++) {
		d[i][0] = i;
	}
	for (size_t j = 0; j <= lb; j++) {
		d[0][j] = j;
	}
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v) {
				v = d[i - 1][j] + 1;
			}
			if (d[i][j - 1] + 1 < v) {
				v = d[i][j - 1] + 1;
			}
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v) {
				v = d[i - 2][j - 2] + 1;
			}
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* Keep CAND in *BEST if it is nearer to WORD: a prefix of it, or at most 2 edits away. */
static void
nearest(const char *word, const char *cand, const char **best, size_t *best_d)
{
	size_t d =
	    strncmp(cand, word, strlen(word)) == 0 && word[0] != '\0' ? 1 : distance(word, cand);

	if (d <= 2 && d < strlen(cand) && d < *best_d) {
		*best = cand;
		*best_d = d;
	}
}

static bool
is_group(const struct ctl_syntax *sx, const char *w1)
{
	for (size_t i = 0; i < sx->ncmds; i++) {
		if (sx->cmds[i].w2 != NULL && strcmp(sx->cmds[i].w1, w1) == 0) {
			return true;
		}
	}
	return false;
}

static const struct ctl_cmd *
lookup(const struct ctl_syntax *sx, char **words, int nwords)
{
	for (size_t i = 0; i < sx->ncmds; i++) {
		const struct ctl_cmd *c = &sx->cmds[i];
		if (nwords >= 1 && strcmp(words[0], c->w1) == 0 &&
		    (c->w2 == NULL || (nwords >= 2 && strcmp(words[1], c->w2) == 0))) {
			return c;
		}
	}
	return NULL;
}

/* "sign, encrypt, package, ...": the subcommands of W1 into BUF. */
static const char *
subcommands(const struct ctl_syntax *sx, const char *w1, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sx->ncmds; i++) {
		const struct ctl_cmd *c = &sx->cmds[i];
		if (c->w2 != NULL && strcmp(c->w1, w1) == 0 && used + strlen(c->w2) + 3 < len) {
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 used > 0 ? ", " : "", c->w2);
		}
	}
	return buf;
}

static const struct ctl_option *
option_by_code(const struct ctl_syntax *sx, int code)
{
	for (size_t i = 0; i < sx->noptions; i++) {
		if (sx->options[i].code == code) {
			return &sx->options[i];
		}
	}
	return NULL;
}

/* An option that getopt did not know: ambiguous, or unknown with the nearest known one. */
static int
unknown_option(const struct ctl_syntax *sx, const char *arg, int optopt_)
{
	char name[MAX_WORD + 1], list[512] = "", hint[128];
	const char *best = NULL;
	size_t best_d = (size_t)-1, used = 0, n = 0;

	if (optopt_ != 0 || arg == NULL || strncmp(arg, "--", 2) != 0) {
		return ctl_fail(EXIT_USAGE, NULL, "see signetctl --help", "unknown option -%c",
				optopt_ != 0 ? optopt_ : '?');
	}
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
	for (size_t i = 0; i < sx->noptions; i++) {
		const char *o = sx->options[i].name;
		if (strncmp(o, name, strlen(name)) == 0 && used + strlen(o) + 5 < sizeof(list)) {
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s--%s",
						 n++ > 0 ? ", " : "", o);
		}
		nearest(name, o, &best, &best_d);
	}
	if (n > 1) {
		return ctl_fail(EXIT_USAGE, NULL, NULL, "ambiguous option --%s: %s", name, list);
	}
	if (best != NULL) {
		snprintf(hint, sizeof(hint), "did you mean --%s?", best);
	}
	return ctl_fail(EXIT_USAGE, NULL, best != NULL ? hint : "see signetctl --help",
			"unknown option --%s", name);
}

int
ctl_getopt(int argc, char **argv, const struct ctl_syntax *sx,
	   int (*set)(struct opts *o, int code, const char *arg), struct opts *o,
	   struct ctl_line *line)
{
	struct option lopts[CTL_MAX_OPTIONS + 1];
	char shorts[2 * CTL_MAX_OPTIONS + 2] = ":";
	size_t ns = 1;
	bool short_form;
	int c, idx, r;

	if (sx->noptions > CTL_MAX_OPTIONS) {
		return ctl_fail(EXIT_USAGE, "internal", NULL, "too many options");
	}
	memset(line, 0, sizeof(*line));
	for (size_t i = 0; i < sx->noptions; i++) {
		const struct ctl_option *op = &sx->options[i];
		lopts[i] = (struct option){op->name, op->has_arg, NULL, op->code};
		if (op->code > 0 && op->code < 128) {
			shorts[ns++] = (char)op->code;
			if (op->has_arg == required_argument) {
				shorts[ns++] = ':';
			}
		}
	}
	lopts[sx->noptions] = (struct option){NULL, 0, NULL, 0};
	shorts[ns] = '\0';
	opterr = 0;
	while (idx = -1, (c = getopt_long(argc, argv, shorts, lopts, &idx)) != -1) {
		const struct ctl_option *op;
		if (c == '?') {
			return unknown_option(sx, argv[optind - 1], optopt);
		}
		if (c == ':') {
			return ctl_fail(EXIT_USAGE, NULL, "see signetctl --help",
					"%s needs a value", argv[optind - 1]);
		}
		/* getopt_long sets IDX for a long option only. */
		short_form = idx < 0;
		if (idx < 0) {
			op = option_by_code(sx, c);
			idx = op != NULL ? (int)(op - sx->options) : -1;
		}
		if (idx >= 0 && line->given[idx] == 0) {
			line->given[idx] = short_form ? 2 : 1;
		}
		if ((r = set(o, c, optarg)) != 0) {
			return r;
		}
	}
	line->words = argv + optind;
	line->nwords = argc - optind;
	return 0;
}

const struct ctl_cmd *
ctl_find(const struct ctl_syntax *sx, char **words, int nwords, int *status)
{
	const struct ctl_cmd *c = lookup(sx, words, nwords);
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	char hint[512], subs[400];

	if (c != NULL) {
		return c;
	}
	if (is_group(sx, words[0])) {
		subcommands(sx, words[0], subs, sizeof(subs));
		if (nwords < 2) {
			snprintf(hint, sizeof(hint), "one of: %s; signetctl help %s", subs,
				 words[0]);
			*status =
			    ctl_fail(EXIT_USAGE, NULL, hint, "%s needs a subcommand", words[0]);
			return NULL;
		}
		for (size_t i = 0; i < sx->ncmds; i++) {
			if (sx->cmds[i].w2 != NULL && strcmp(sx->cmds[i].w1, words[0]) == 0) {
				nearest(words[1], sx->cmds[i].w2, &best, &best_d);
			}
		}
		if (best != NULL) {
			snprintf(hint, sizeof(hint), "did you mean '%s %s'?", words[0], best);
		} else {
			snprintf(hint, sizeof(hint), "%s takes: %s", words[0], subs);
		}
		*status = ctl_fail(EXIT_USAGE, NULL, hint, "unknown %s subcommand '%s'", words[0],
				   words[1]);
		return NULL;
	}
	for (size_t i = 0; i < sx->ncmds; i++) {
		nearest(words[0], sx->cmds[i].w1, &best, &best_d);
	}
	nearest(words[0], "help", &best, &best_d);
	if (best != NULL) {
		snprintf(hint, sizeof(hint), "did you mean '%s'?", best);
	}
	*status = ctl_fail(EXIT_USAGE, NULL, best != NULL ? hint : "see signetctl --help",
			   "unknown command '%s'", words[0]);
	return NULL;
}

int
ctl_check_options(const struct ctl_syntax *sx, const struct ctl_cmd *cmd,
		  const struct ctl_line *line)
{
	char hint[160];

	for (size_t i = 0; i < sx->noptions; i++) {
		const struct ctl_option *op = &sx->options[i];
		if (line->given[i] == 0 || in_list(sx->globals, op->name) ||
		    in_list(cmd->takes, op->name)) {
			continue;
		}
		snprintf(hint, sizeof(hint), "signetctl %s%s%s --help lists what it takes", cmd->w1,
			 cmd->w2 != NULL ? " " : "", cmd->w2 != NULL ? cmd->w2 : "");
		if (line->given[i] == 2) {
			return ctl_fail(EXIT_USAGE, NULL, hint, "%s%s%s does not take -%c", cmd->w1,
					cmd->w2 != NULL ? " " : "", cmd->w2 != NULL ? cmd->w2 : "",
					op->code);
		}
		return ctl_fail(EXIT_USAGE, NULL, hint, "%s%s%s does not take --%s", cmd->w1,
				cmd->w2 != NULL ? " " : "", cmd->w2 != NULL ? cmd->w2 : "",
				op->name);
	}
	return 0;
}

/* "  -o, --output FILE   where it goes" */
static void
print_option(const struct ctl_option *op)
{
	char left[64];

	snprintf(left, sizeof(left), "%s%c%s--%s%s%s", op->code < 128 ? "-" : "",
		 op->code < 128 ? op->code : ' ', op->code < 128 ? ", " : "", op->name,
		 op->arg != NULL ? " " : "", op->arg != NULL ? op->arg : "");
	/* A name without a short form is aligned with those that have one. */
	printf("  %s%-24s %s\n", op->code < 128 ? "" : "    ", left + (op->code < 128 ? 0 : 1),
	       op->help);
}

/* TEXT on stdout, wrapped before column 80. */
static void
print_wrapped(const char *text)
{
	size_t col = 0;

	for (const char *p = text; *p != '\0';) {
		size_t len = strcspn(p, " ");
		if (col > 0 && col + 1 + len > 79) {
			printf("\n");
			col = 0;
		} else if (col > 0) {
			printf(" ");
			col++;
		}
		printf("%.*s", (int)len, p);
		col += len;
		p += len;
		p += strspn(p, " ");
	}
	printf("\n");
}

static void
help_cmd(const struct ctl_syntax *sx, const struct ctl_cmd *c)
{
	char name[MAX_WORD + 1];

	printf("usage: signetctl %s\n\n", c->usage);
	print_wrapped(c->help);
	if (c->takes[0] != '\0') {
		printf("\noptions:\n");
	}
	/* In the order the command names them. */
	for (const char *p = c->takes; *p != '\0';) {
		size_t len = strcspn(p, " ");
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		for (size_t i = 0; i < sx->noptions; i++) {
			if (strcmp(sx->options[i].name, name) == 0) {
				print_option(&sx->options[i]);
			}
		}
		p += len;
		p += strspn(p, " ");
	}
	printf("\nglobal options: --socket PATH, --token TOKEN, --tenant NAME, --json, "
	       "--timeout SEC (signetctl --help)\n");
	printf("\nexample:\n  %s\n", c->example);
}

void
ctl_usage(FILE *f, const struct ctl_syntax *sx)
{
	fprintf(f, "usage: signetctl [--socket PATH] [--token TOKEN] [--tenant NAME] [--json] "
		   "[--timeout SEC] COMMAND\ncommands:\n");
	for (size_t i = 0; i < sx->ncmds; i++) {
		fprintf(f, "  %s\n", sx->cmds[i].usage);
	}
	fprintf(f,
		"signetctl help COMMAND (or signetctl COMMAND --help): its options and an "
		"example\n"
		"environment: SIGNET_SOCKET, SIGNET_TOKEN, SIGNET_TENANT\n"
		"exit status: 0 success, 1 refused by signetd (code and message on stderr), "
		"2 usage error, 124 a task not ended in time; audit verify: 1 not an audit export, "
		"3 an entry wrong, "
		"4 a checkpoint wrong, 5 the last entry not covered by a checkpoint\n");
}

int
ctl_help(const struct ctl_syntax *sx, char **words, int nwords)
{
	const struct ctl_cmd *c;
	int status;

	if (nwords == 0) {
		ctl_usage(stdout, sx);
		printf("global options:\n");
		for (size_t i = 0; i < sx->noptions; i++) {
			if (in_list(sx->globals, sx->options[i].name)) {
				print_option(&sx->options[i]);
			}
		}
		return 0;
	}
	if (nwords == 1 && is_group(sx, words[0])) {
		printf("signetctl %s:\n", words[0]);
		for (size_t i = 0; i < sx->ncmds; i++) {
			if (sx->cmds[i].w2 != NULL && strcmp(sx->cmds[i].w1, words[0]) == 0) {
				printf("  %s\n", sx->cmds[i].usage);
			}
		}
		printf("signetctl help %s SUBCOMMAND: its options and an example\n", words[0]);
		return 0;
	}
	if ((c = ctl_find(sx, words, nwords, &status)) == NULL) {
		return status;
	}
	help_cmd(sx, c);
	return 0;
}

/* Completion */

/* PREFIX WORD, when it starts with CUR. */
static void
candidate(const char *cur, const char *prefix, const char *word)
{
	char full[MAX_WORD + 3];

	if (str_printf(full, sizeof(full), "%s%s", prefix, word) &&
	    strncmp(full, cur, strlen(cur)) == 0) {
		printf("%s\n", full);
	}
}

/* Each word of the space-separated LIST that starts with CUR. */
static void
candidates(const char *cur, const char *list)
{
	char w[MAX_WORD + 1];

	for (const char *p = list; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, " ");
		if (len <= MAX_WORD) {
			snprintf(w, sizeof(w), "%.*s", (int)len, p);
			candidate(cur, "", w);
		}
		p = p[len] == ' ' ? p + len + 1 : NULL;
	}
}

static const struct ctl_option *
option_named(const struct ctl_syntax *sx, const char *word)
{
	if (word[0] != '-') {
		return NULL;
	}
	for (size_t i = 0; i < sx->noptions; i++) {
		const struct ctl_option *op = &sx->options[i];
		if ((word[1] == '-' && strcmp(word + 2, op->name) == 0) ||
		    (word[1] != '-' && op->code < 128 && word[1] == op->code && word[2] == '\0')) {
			return op;
		}
	}
	return NULL;
}

int
ctl_complete(const struct ctl_syntax *sx, char **words, int nwords)
{
	const char *cur = nwords > 0 ? words[nwords - 1] : "";
	const struct ctl_option *prev = nwords >= 2 ? option_named(sx, words[nwords - 2]) : NULL;
	const struct ctl_cmd *c;
	char *pos[8];
	int npos = 0;

	if (prev != NULL && prev->has_arg == required_argument) {
		if (prev->values != NULL && strcmp(prev->values, "@file") == 0) {
			printf("__files__\n");
		} else if (prev->values != NULL) {
			candidates(cur, prev->values);
		}
		return 0;
	}
	/* The command words so far: what is neither an option nor an option's value. */
	for (int i = 0; i < nwords - 1 && npos < (int)ARRAY_SIZE(pos); i++) {
		const struct ctl_option *op = option_named(sx, words[i]);
		if (op != NULL && op->has_arg == required_argument) {
			i++;
		} else if (words[i][0] != '-') {
			pos[npos++] = words[i];
		}
	}
	if (npos > 0 && strcmp(pos[0], "help") == 0) {
		memmove(pos, pos + 1, (size_t)--npos * sizeof(pos[0]));
	}
	c = lookup(sx, pos, npos);
	if (cur[0] == '-') {
		for (size_t i = 0; i < sx->noptions; i++) {
			const struct ctl_option *op = &sx->options[i];
			if (in_list(sx->globals, op->name) || c == NULL ||
			    in_list(c->takes, op->name)) {
				candidate(cur, "--", op->name);
			}
		}
		return 0;
	}
	if (npos == 0) {
		for (size_t i = 0; i < sx->ncmds; i++) {
			if (i == 0 || strcmp(sx->cmds[i].w1, sx->cmds[i - 1].w1) != 0) {
				candidate(cur, "", sx->cmds[i].w1);
			}
		}
		candidate(cur, "", "help");
	} else if (npos == 1 && is_group(sx, pos[0])) {
		for (size_t i = 0; i < sx->ncmds; i++) {
			if (sx->cmds[i].w2 != NULL && strcmp(sx->cmds[i].w1, pos[0]) == 0) {
				candidate(cur, "", sx->cmds[i].w2);
			}
		}
	} else if (c != NULL && c->file_args) {
		printf("__files__\n");
	}
	return 0;
}
