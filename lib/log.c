/* SPDX-License-Identifier: Apache-2.0 */
/* Logging to stderr: one line per message, "<N>" priority prefix, no secrets by contract. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "lib/log.h"

static int log_level = LOG_LEVEL_INFO;

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

int
log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {
	    {"err", LOG_LEVEL_ERR},       {"error", LOG_LEVEL_ERR}, {"warning", LOG_LEVEL_WARNING},
	    {"notice", LOG_LEVEL_NOTICE}, {"info", LOG_LEVEL_INFO}, {"debug", LOG_LEVEL_DEBUG},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(names[i].name, name) == 0) {
			return names[i].level;
		}
	}
	return -1;
}

void
log_msg(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > log_level) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/*
	 * One line per record: a newline inside a message would forge a
	 * record, and other control bytes (escape sequences from a client's
	 * method or path) would reach whoever reads the log on a terminal.
	 */
	for (char *p = line; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*p = (*p == '\t' || *p == '\n' || *p == '\r') ? ' ' : '?';
		}
	}
	/* A single fprintf is atomic with respect to other threads' stdio calls. */
	fprintf(stderr, "<%d>%s\n", level, line);
}

void
log_openssl(int level, const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_msg(level, "%s: %s", what, buf);
	}
}
