/* SPDX-License-Identifier: Apache-2.0 */
/* The spool: task inputs copied in while hashed, results written out, under the state directory. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/daemon.h"

/* Spool paths: in/<id>.<n> inputs, in/<id>.pkg a package being made, out/<id> results, tmp/. */
int spool_path(struct daemon *d, const char *dir, const char *name, char *out, size_t len);
/* Remove a task's inputs from the spool: in/<id>.0 to in/<id>.<N-1>, and in/<id>.pkg. */
void spool_remove_inputs(struct daemon *d, const char *id, size_t n);

/*
 * What an input is read from: exactly LEN bytes of FD (a local regular
 * file) from OFF, its size when the request came (a shorter file is
 * SIGNET_EINVAL; what it grew by since is not read). When STOP (may be
 * NULL) is set, the read ends early with SIGNET_EUNAVAILABLE.
 */
struct spool_src {
	int fd;
	uint64_t off, len;
	const atomic_bool *stop;
};
/*
 * Copy SRC into a new spool input file PATH while hashing it. Fills SHA256
 * and SIZE; when WANT384 / WANT512, those digests too. PATH NULL: hash only.
 */
struct digests {
	uint8_t sha256[32], sha384[48], sha512[64];
	uint64_t size;
	uint8_t head[16]; /* the first bytes (min(size, 16) of them; a hole's read as zeros) */
};
int spool_ingest(const struct spool_src *src, const char *path, bool want384, bool want512,
		 struct digests *out, char *why, size_t whylen);

/* fsync the directory that holds PATH (after a rename into it). */
int spool_fsync_dir(const char *path);
