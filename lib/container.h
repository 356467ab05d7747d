/* SPDX-License-Identifier: Apache-2.0 */
/* The BOSCH_SE_V1 container (doc/container.md): header codec, bounds checks, reader and writer. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CONTAINER_MAGIC           "Bosch_SE"
#define CONTAINER_PV              1
#define CONTAINER_MAX_SEGMENTS    255
#define CONTAINER_MAX_METADATA    65535
#define CONTAINER_MAX_SEGMENT_LEN UINT32_MAX

#define CONTAINER_MAGIC_LEN 8
/* ht, pv, ml, ec, sc, es: the part of the header before the segment table. */
#define CONTAINER_FIXED_SIZE 16
/* One esl (u32) and one esh (SHA-256) per segment. */
#define CONTAINER_SEGMENT_ENTRY_SIZE 36
#define CONTAINER_MAX_HEADER_SIZE                                                                  \
	(CONTAINER_FIXED_SIZE + CONTAINER_SEGMENT_ENTRY_SIZE * CONTAINER_MAX_SEGMENTS +            \
	 CONTAINER_MAX_METADATA)
/* The longest signature of any algorithm (RSA_4096); a longer rest of the file is not one. */
#define CONTAINER_MAX_SIG_LEN 512
/* Bytes of the file read and hashed at a time. */
#define CONTAINER_IO_CHUNK (1024 * 1024)

enum container_sc {
	CONTAINER_SC_RSA_3072 = 1,
	CONTAINER_SC_RSA_4096 = 2,
	CONTAINER_SC_ECC_NIST_P256 = 3,
	CONTAINER_SC_ECC_NIST_P384 = 4,
	CONTAINER_SC_ED25519 = 5,
};

struct container_header {
	uint8_t pv;
	uint16_t ml;
	uint16_t ec;
	uint16_t sc;
	uint8_t es;
	uint32_t esl[CONTAINER_MAX_SEGMENTS];
	uint8_t esh[CONTAINER_MAX_SEGMENTS][32];
	const uint8_t *md; /* ml bytes; for decode: points into the caller's buffer */
};

/* Names <-> codes: "AES256_CBC_PKCS7_PAD" -> 0 ..., "RSA_3072" -> 1 ...; -1 or NULL if unknown. */
int container_cipher_code(const char *name);
const char *container_cipher_name(int code);
int container_sig_code(const char *name);
const char *container_sig_name(int code);

/* Header size for ES segments and ML metadata bytes; 0 when ES or ML is above its maximum. */
size_t container_header_size(unsigned es, unsigned ml);

/* Encode H into a malloc'd buffer (*OUT, *LEN). 0 or SIGNET_EINVAL (bad es/ec/sc/pv). */
int container_header_encode(const struct container_header *h, uint8_t **out, size_t *len);

/*
 * Decode from BUF (LEN bytes available, may hold more than the header);
 * strict bounds, known pv, ec 0..5, sc 1..5, es >= 1. *HLEN = header bytes.
 * 0 or SIGNET_EINVAL with a reason in WHY (static string).
 */
int container_header_decode(const uint8_t *buf, size_t len, struct container_header *h,
			    size_t *hlen, const char **why);

/*
 * Check the rules for the signature length/encoding of algorithm SC:
 * RSA_3072 384 bytes, RSA_4096 512, ED25519 64; ECDSA a DER SEQUENCE of two
 * positive, minimally encoded INTEGERs and nothing after it, 8..72 bytes
 * (P-256) or 8..104 (P-384). 0 or SIGNET_EINVAL.
 */
int container_sig_check_len(int sc, const uint8_t *sig, size_t len);

/*
 * Writer: write HDR (encoded header), then each segment copied from
 * SEGFDS[i] (exactly SEGLEN[i] bytes from offset 0, using copy_file_range
 * with a read/write fallback; fail if a file is shorter), then SIG, to
 * OUTFD at its current offset. Streams: never holds a segment in memory.
 * 0, SIGNET_EINVAL (bad arguments, a segment file shorter than its length)
 * or SIGNET_EINTERNAL (I/O, errno kept).
 */
int container_write(int outfd, const uint8_t *hdr, size_t hlen, const int *segfds, unsigned nseg,
		    const uint64_t *seglen, const uint8_t *sig, size_t siglen);

/*
 * Where the parts of a whole container are, once its bounds are checked:
 * the header is bytes [0, hlen), segment i starts at seg_off[i] and is
 * h.esl[i] bytes long, and the signature is the rest, [sig_off, sig_off + sig_len).
 */
struct container_layout {
	size_t hlen;
	uint64_t seg_off[CONTAINER_MAX_SEGMENTS];
	uint64_t sig_off;
	size_t sig_len;
	int bad_segment; /* when a segment's length broke a rule: its index, else -1 */
};

/*
 * Parse a whole container in BUF (LEN bytes): the header as
 * container_header_decode does, then the bounds: every segment within the
 * file and as long as its cipher can make it (doc/container.md), and a
 * signature of 1..CONTAINER_MAX_SIG_LEN bytes after the last segment (its
 * algorithm's rules are container_sig_check_len's, checked with the
 * signature). H->md points into BUF. 0 or SIGNET_EINVAL with WHY.
 */
int container_parse(const uint8_t *buf, size_t len, struct container_header *h,
		    struct container_layout *lay, const char **why);

/* A container in a file: its header and signature read into memory, its segments left on disk. */
struct container_reader {
	int fd;
	uint64_t file_size;
	uint8_t *hdr; /* the header bytes, lay.hlen of them; h.md points in here */
	struct container_header h;
	struct container_layout lay;
	uint8_t sig[CONTAINER_MAX_SIG_LEN];
};

/*
 * Read the header of the regular file FD (at most CONTAINER_MAX_HEADER_SIZE
 * bytes) and the signature, with the bounds checks of container_parse
 * against the file's size. FD stays the caller's. 0, SIGNET_EINVAL (not a
 * well-formed container; WHY says why) or SIGNET_EINTERNAL (I/O; errno kept,
 * WHY says which step). Release with container_reader_close, also after a failure.
 */
int container_reader_open(struct container_reader *r, int fd, const char **why);
void container_reader_close(struct container_reader *r);

/*
 * The SHA-256 of segment I as stored, read from the file in
 * CONTAINER_IO_CHUNK pieces. 0, SIGNET_EINVAL (no such segment, or the file
 * shrank) or SIGNET_EINTERNAL (I/O, errno kept).
 */
int container_segment_sha256(const struct container_reader *r, unsigned i, uint8_t out[32]);
