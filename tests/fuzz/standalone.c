/* SPDX-License-Identifier: Apache-2.0 */
/* Replays files through a libFuzzer target without libFuzzer, so gcc builds run the corpus. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The largest input replayed; seeds are small, this only guards against a stray big file. */
#define STANDALONE_MAX_INPUT (16 * 1024 * 1024)

static int
run_file(const char *path)
{
	FILE *f = NULL;
	uint8_t *data = NULL;
	struct stat st;
	size_t size;
	int r = -1;

	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		goto out;
	}
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || st.st_size > STANDALONE_MAX_INPUT) {
		fprintf(stderr, "%s: not a readable input\n", path);
		goto out;
	}
	size = (size_t)st.st_size;
	/* An exact-size allocation lets a sanitizer see any read past the input. */
	data = malloc(size != 0 ? size : 1);
	if (data == NULL) {
		fprintf(stderr, "%s: out of memory\n", path);
		goto out;
	}
	if (size != 0 && fread(data, 1, size, f) != size) {
		fprintf(stderr, "%s: short read\n", path);
		goto out;
	}
	(void)LLVMFuzzerTestOneInput(data, size);
	r = 0;
out:
	free(data);
	if (f != NULL) {
		fclose(f);
	}
	return r;
}

static int
run_path(const char *path, unsigned *count)
{
	struct dirent *e;
	struct stat st;
	DIR *d = NULL;
	int r = -1;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (run_file(path) != 0) {
			return -1;
		}
		(*count)++;
		return 0;
	}
	d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char sub[4096];

		if (e->d_name[0] == '.') {
			continue;
		}
		if (!str_printf(sub, sizeof(sub), "%s/%s", path, e->d_name)) {
			fprintf(stderr, "%s/%s: path too long\n", path, e->d_name);
			goto out;
		}
		if (run_path(sub, count) != 0) {
			goto out;
		}
	}
	r = 0;
out:
	closedir(d);
	return r;
}

/*
 * Usage: fuzz_TARGET FILE-OR-DIRECTORY...; with no arguments, the directory
 * FUZZ_CORPUS names at build time (the target's seed corpus). Any failed read
 * or finding no input at all is an error, so a moved corpus cannot pass silently.
 */
int
main(int argc, char **argv)
{
	unsigned count = 0;

	if (argc < 2) {
#ifdef FUZZ_CORPUS
		/* Run as a TESTS entry with no arguments: replay the target's own seed corpus. */
		if (run_path(FUZZ_CORPUS, &count) != 0) {
			return 1;
		}
#else
		fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
		return 2;
#endif
	}
	for (int i = 1; i < argc; i++) {
		if (run_path(argv[i], &count) != 0) {
			return 1;
		}
	}
	if (count == 0) {
		fprintf(stderr, "%s: no inputs found\n", argv[0]);
		return 1;
	}
	printf("%s: %u inputs ran\n", argv[0], count);
	return 0;
}
