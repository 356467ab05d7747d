/* SPDX-License-Identifier: Apache-2.0 */
/* Packaging tasks: the container formats (strategies) and the run of a packaging task. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "hsm/crypt.h"
#include "hsm/hsm.h"

#define PACKAGE_MAX_SEGMENTS 255
#define PACKAGE_MAX_METADATA 65535
/* A firmware file: its segment (ciphertext, padding, IV) must fit the header's u32 length. */
#define PACKAGE_MAX_INPUT (UINT32_MAX - 64u)
/*
 * Metadata up to this size is shown in full in the task (base64); larger, by
 * its size and SHA-256 only (a task with 255 segments must still fit a packet).
 */
#define PACKAGE_SHOW_METADATA_MAX 1024

/* A firmware file of a packaging request: a region of a descriptor the client attached. */
struct package_region {
	int fd;
	uint64_t off, size;
	const char *name, *sha256; /* NULL: input-<i>; none given */
};

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

#define PACKAGE_SIG_MAX 1024 /* the longest signature of a header (RSA-4096: 512 bytes) */

const struct package_format *package_format_find(const char *name);
/*
 * Is an input of TOTAL bytes, starting with HEAD (its first HEADLEN bytes,
 * at least 16 when TOTAL is), a header of any format signet knows? Then
 * only a packaging task may sign it (a defence in depth: a key that signs
 * tasks never signs headers, and a digest cannot be recognised).
 */
bool package_is_header(const uint8_t *head, size_t headlen, uint64_t total);
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
 * Make a PACKAGING task ready in the request that creates it, before it may
 * wait for approval, so that approvers see what will be signed. TASK is its
 * record (id, tenant, "encryption" {key, cipher}, "signing" {key,
 * algorithm}, "packaging" {format}, no inputs yet). Each of the N regions
 * RG is read once from the client's descriptor, hashed and encrypted by the
 * token with the AES key EK_ID into its place in the package file (spool
 * in/<id>.pkg); then the header (SIGALG's code, metadata MD of MDLEN bytes)
 * is written at its start and the file synced. Fills TASK's inputs (each
 * firmware; the metadata, in full when small), "children", and in
 * "packaging" segmentSizes and segmentSha256 (segment i: firmware input i)
 * and header {size, sha256}; those three sub-documents are changed in place
 * (made when TASK has none). *CHILDREN: the ENCRYPTION children, done, for
 * package_children_put in the transaction that stores TASK: a JSON array
 * of their whole records (task_to_json), the caller's to json_decref. On
 * failure (WHY) the file is removed.
 * HS is the session of the thread that runs it (an ingest thread's for
 * large inputs). When STOP (may be NULL) is set, it ends before the next
 * segment with SIGNET_EUNAVAILABLE.
 */
int package_prepare(struct daemon *d, struct hsm_session *hs, const struct package_format *fmt,
		    struct task *task, const uint8_t ek_id[HSM_ID_LEN], enum hsm_cipher cipher,
		    enum hsm_alg sigalg, const struct package_region *rg, size_t n,
		    const uint8_t *md, size_t mdlen, const atomic_bool *stop, json_t **children,
		    char *why, size_t whylen);

/*
 * Store the children of package_prepare (CREATED, IN_PROGRESS, DONE) with
 * their audit entries. CHILDREN: its *CHILDREN, whole records as JSON.
 */
int package_children_put(struct store_txn *t, struct daemon *d, struct evnote *n,
			 const json_t *children);

/*
 * Run a PACKAGING task (status IN_PROGRESS) that package_prepare made:
 * read the header back and check it against packaging.header (what was
 * approved) and every segment against the header, have a SIGNING child
 * sign the header with the packaging key, append the signature, and move
 * the package into the spool's out/. *RESULT as for an encryption task
 * (sha256, size, expiresAt, available) with format, segments, headerSize.
 */
int exec_package(struct daemon *d, struct hsm_session *hs, const struct task *task, json_t **result,
		 char *why, size_t whylen);
