/* SPDX-License-Identifier: Apache-2.0 */
/* Packaging tasks: the container formats (strategies) and the run of a packaging task. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "hsm/crypt.h"
#include "hsm/hsm.h"

#define PACKAGE_MAX_SEGMENTS 255
#define PACKAGE_MAX_METADATA 65535
/* A firmware file: its segment (ciphertext, padding, IV) must fit the header's u32 length. */
#define PACKAGE_MAX_INPUT (UINT32_MAX - 64u)

/* What a format needs to lay out a container once the segments are encrypted. */
struct package_plan {
	unsigned nseg;
	uint64_t seglen[PACKAGE_MAX_SEGMENTS];
	uint8_t segsha[PACKAGE_MAX_SEGMENTS][32];
	const uint8_t *md;
	size_t mdlen;
	enum hsm_cipher cipher;
	enum hsm_alg sigalg;
};

/*
 * A container format (the device configuration's `packaging`): a header
 * before the segments, which is what gets signed; the segments follow it,
 * and the signature ends the file.
 */
struct package_format {
	const char *name;
	size_t (*header_size)(unsigned nseg, size_t mdlen);
	int (*header)(const struct package_plan *p, uint8_t **out, size_t *len);
	/* Could an input of TOTAL bytes that starts with HEAD (its first HEADLEN) be a header? */
	bool (*is_header)(const uint8_t *head, size_t headlen, uint64_t total);
};

const struct package_format *package_format_find(const char *name);
/*
 * Is an input of TOTAL bytes, starting with HEAD (its first HEADLEN bytes,
 * at least 16 when TOTAL is), a header of any format signet knows? Then
 * only a packaging task may sign it (a defence in depth: a key that signs
 * tasks never signs headers, and a digest cannot be recognised).
 */
bool package_is_header(const uint8_t *head, size_t headlen, uint64_t total);
/* Can the format's signature codes name this signing algorithm? */
bool package_sig_supported(enum hsm_alg alg);

/*
 * Run a PACKAGING task (status IN_PROGRESS): an ENCRYPTION child per
 * firmware file, encrypted into its place in the container, a SIGNING
 * child over the header, then the container moved into the spool's out/.
 * *RESULT as for an encryption task (sha256, size, expiresAt, available).
 */
int exec_package(struct daemon *d, struct hsm_session *hs, const json_t *task, json_t **result,
		 char *why, size_t whylen);
