/* SPDX-License-Identifier: Apache-2.0 */
/* signetctl's shared parts: exit statuses and how errors reach the user. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define EXIT_REFUSED 1   /* the daemon refused, or could not be reached */
#define EXIT_USAGE   2   /* found before the daemon is asked */
#define EXIT_TIMEOUT 124 /* a task had not ended in time (as timeout(1) exits) */

/* --json: errors are one JSON object on stderr, not text. */
extern bool ctl_json_errors;

/*
 * Report an error and return STATUS. CODE is the socket API's error code
 * (NULL for a usage error), HINT what to do about it (or NULL). Text:
 * "signetctl: CODE: MESSAGE" and "(HINT)" on a line of its own; with
 * --json: {"code", "message", "hint"} on one line ("usage" for CODE NULL).
 */
int ctl_fail(int status, const char *code, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The command line. */

/* One option. */
struct ctl_option {
	const char *name;   /* long name, without "--" */
	int has_arg;        /* no_argument or required_argument */
	int code;           /* what getopt returns for it; a letter for those with a short form */
	const char *arg;    /* its value's name in help ("FILE"), NULL for a flag */
	const char *values; /* completion: its values, space-separated, or "@file" for files */
	const char *help;
};

struct opts;

/* One command: one or two words, then positional arguments and options. */
struct ctl_cmd {
	const char *w1, *w2; /* "key", "generate"; w2 NULL for one word */
	int nargs;           /* positional arguments after the words; -1: any number */
	int (*fn)(struct opts *o, char **args);
	const char *usage;   /* after "signetctl " */
	const char *takes;   /* the options it takes besides the global ones, space-separated */
	const char *help;    /* what it does */
	const char *example; /* one command line */
	bool file_args;      /* its positional arguments are files (for completion) */
};

struct ctl_syntax {
	const struct ctl_option *options;
	size_t noptions;
	const struct ctl_cmd *cmds;
	size_t ncmds;
	const char *globals; /* the options every command takes, space-separated */
};

#define CTL_MAX_OPTIONS 64

/* What a command line held. */
struct ctl_line {
	char **words; /* the command words and positional arguments, in order */
	int nwords;
	unsigned char given[CTL_MAX_OPTIONS]; /* per option: 0 not given, 1 as --name, 2 as -x */
};

/*
 * Read the options of ARGV, passing each to SET (which returns 0 or an
 * exit status), and record which were given. Unknown or ambiguous options
 * and missing values are usage errors, named with a suggestion. 0 or an
 * exit status (the error printed).
 */
int ctl_getopt(int argc, char **argv, const struct ctl_syntax *sx,
	       int (*set)(struct opts *o, int code, const char *arg), struct opts *o,
	       struct ctl_line *line);

/*
 * The command that WORDS name, or NULL with *STATUS set and the error
 * printed: an unknown command or subcommand, with the nearest known one.
 */
const struct ctl_cmd *ctl_find(const struct ctl_syntax *sx, char **words, int nwords, int *status);

/* 0 when CMD takes every option LINE gave, else a usage error naming the first it does not. */
int ctl_check_options(const struct ctl_syntax *sx, const struct ctl_cmd *cmd,
		      const struct ctl_line *line);

/*
 * Help on stdout for what WORDS name: everything (no words), a group of
 * commands ("task") or one command, with its options and an example.
 * 0, or a usage error for words that name nothing.
 */
int ctl_help(const struct ctl_syntax *sx, char **words, int nwords);

/* The usage summary of every command on F. */
void ctl_usage(FILE *f, const struct ctl_syntax *sx);

/*
 * Bash completion: WORDS are the words after the program name up to the
 * one being completed (the last, maybe empty). Prints the candidates, one
 * a line, or "__files__" when file names fit. Always 0.
 */
int ctl_complete(const struct ctl_syntax *sx, char **words, int nwords);

/* Times. */

/* T (seconds since the epoch) as RFC 3339 UTC, "2026-11-25T09:24:14Z", into BUF (>= 21 bytes). */
const char *ctl_time(int64_t t, char *buf, size_t len);

/* T relative to NOW for a person: "2 min ago", "in 23 h", "now". */
const char *ctl_time_rel(int64_t t, int64_t now, char *buf, size_t len);

/* A duration for a person: "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
const char *ctl_duration(int64_t seconds, char *buf, size_t len);

/*
 * Beside every positive integer member of V (recursively) that holds a time
 * (named "created" or "time", or ending in "At" or "Until"), add the same
 * time as an RFC 3339 UTC string, named with "Rfc3339" appended
 * ("expiresAt": 1795691982 gains "expiresAtRfc3339": "2026-11-26T09:59:42Z").
 */
void ctl_json_times(json_t *v);

/*
 * A progress line on stderr, redrawn by a thread while a transfer or a
 * wait goes on; only when stderr is a terminal, else nothing. LABEL leads
 * the line; with TOTAL bytes > 0 a bar shows ctl_progress_set()'s share,
 * else the time so far. ctl_fail() ends it before it prints.
 */
void ctl_progress_start(const char *label, uint64_t total);
void ctl_progress_set(uint64_t done);
void ctl_progress_status(const char *status);
void ctl_progress_stop(void);

/* Transfers from this size on get a progress line (on a terminal). */
#define CTL_PROGRESS_MIN (4 * 1024 * 1024)
