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
};

#define PACKAGE_SIG_MAX 1024 /* the longest signature of a header (RSA-4096: 512 bytes) */

const struct package_format *package_format_find(const char *name);
/*
 * The most bytes a package of format F takes: the header for NSEG firmware
 * files (SIZES) and MDLEN bytes of metadata, each segment encrypted with
 * cipher C, and the signature.
 */
uint64_t package_size_max(const struct package_format *f, enum hsm_cipher c, const uint64_t *sizes,
			  unsigned nseg, size_t mdlen);
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
