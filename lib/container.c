/* SPDX-License-Identifier: Apache-2.0 */
/* The BOSCH_SE_V1 container (doc/container.md): header codec, bounds checks, reader and writer. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib/buf.h"
#include "lib/container.h"
#include "lib/error.h"
#include "lib/util.h"

/* The `ec` codes: DESIGN §9's order, the same as enum hsm_cipher. */
static const char *const cipher_names[] = {
    "AES256_CBC_PKCS7_PAD",     "AES128_CBC_PKCS7_PAD",     "AES256_CBC_ZERO_BYTE_PAD",
    "AES256_ECB_ZERO_BYTE_PAD", "AES128_ECB_ZERO_BYTE_PAD", "AES128_CTR_NO_PAD",
};
#define CIPHER_COUNT ((int)(sizeof(cipher_names) / sizeof(cipher_names[0])))

/* The `sc` codes, from 1: 0 is left unassigned so that a zeroed field is never valid. */
static const char *const sig_names[] = {
    NULL, "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ED25519",
};
#define SIG_COUNT ((int)(sizeof(sig_names) / sizeof(sig_names[0])))

/* The shortest ECDSA DER signature: 30 06 02 01 r 02 01 s. */
#define ECDSA_DER_MIN 8

static int
name_lookup(const char *const *names, int count, const char *name)
{
	if (name == NULL) {
		return -1;
	}
	for (int i = 0; i < count; i++) {
		if (names[i] != NULL && strcmp(names[i], name) == 0) {
			return i;
		}
	}
	return -1;
}

static bool
ec_is_known(unsigned ec)
{
	return ec < CIPHER_COUNT;
}

static bool
sc_is_known(unsigned sc)
{
	return sc >= CONTAINER_SC_RSA_3072 && sc <= CONTAINER_SC_ED25519;
}

/*
 * Can cipher EC produce a segment of LEN bytes (ciphertext and IV)? The sizes
 * are those of doc/formats.md §3: CBC with PKCS#7 at least one block and the
 * IV, CBC with zero bytes whole blocks and the IV, ECB whole blocks, CTR the
 * input and the IV.
 */
static bool
segment_len_fits(unsigned ec, uint32_t len)
{
	switch (ec) {
	case 0:
	case 1:
		return len % 16 == 0 && len >= 32;
	case 2:
		return len % 16 == 0 && len >= 16;
	case 3:
	case 4:
		return len % 16 == 0;
	case 5:
		return len >= 16;
	default:
		return false;
	}
}

/* One DER INTEGER that is positive and minimally encoded (short-form length, as all ours are). */
static void
der_positive_integer(struct rbuf *r)
{
	const uint8_t *v;
	uint8_t len;

	if (rbuf_get_u8(r) != 0x02) {
		r->failed = true;
		return;
	}
	len = rbuf_get_u8(r);
	if (len == 0 || len >= 0x80) {
		r->failed = true;
		return;
	}
	v = rbuf_get_ptr(r, len);
	if (v == NULL) {
		return;
	}
	/* A set top bit is a negative number; a leading zero is allowed only before one. */
	if ((v[0] & 0x80) != 0 || (len > 1 && v[0] == 0 && (v[1] & 0x80) == 0)) {
		r->failed = true;
	}
}

/* An ECDSA-Sig-Value: SEQUENCE { r INTEGER, s INTEGER } and nothing after it. */
static bool
der_ecdsa_sig_ok(const uint8_t *sig, size_t len)
{
	struct rbuf r, seq;
	const uint8_t *body;
	uint8_t blen;

	rbuf_init(&r, sig, len);
	if (rbuf_get_u8(&r) != 0x30) {
		return false;
	}
	/*
	 * Every allowed signature is under 128 bytes, so DER gives the SEQUENCE a
	 * short-form length: a long-form first byte (0x80 and up) exceeds what is left.
	 */
	blen = rbuf_get_u8(&r);
	body = rbuf_get_ptr(&r, blen);
	if (!rbuf_expect_end(&r)) {
		return false;
	}
	rbuf_init(&seq, body, blen);
	der_positive_integer(&seq);
	der_positive_integer(&seq);
	return rbuf_expect_end(&seq);
}

/* Is WANT bytes from OFF past the end of a file of SIZE bytes? */
static bool
past_end(uint64_t off, uint64_t want, uint64_t size)
{
	return off > size || want > size - off;
}

/*
 * The bounds of a container whose header H (HLEN bytes) is decoded and whose
 * whole length is FILE_SIZE: where each segment starts, that each fits its
 * cipher and the file, and that 1..CONTAINER_MAX_SIG_LEN bytes are left for
 * the signature. Sums are u64: 255 u32 lengths cannot overflow them.
 */
static int
layout_check(const struct container_header *h, size_t hlen, uint64_t file_size,
	     struct container_layout *lay, const char **why)
{
	uint64_t off = hlen;

	lay->hlen = hlen;
	lay->bad_segment = -1;
	for (unsigned i = 0; i < h->es; i++) {
		if (!segment_len_fits(h->ec, h->esl[i])) {
			lay->bad_segment = (int)i;
			*why = "the segment's length cannot be a ciphertext of the header's cipher";
			return SIGNET_EINVAL;
		}
		if (past_end(off, h->esl[i], file_size)) {
			lay->bad_segment = (int)i;
			*why = "the segment runs past the end of the file";
			return SIGNET_EINVAL;
		}
		lay->seg_off[i] = off;
		off += h->esl[i];
	}
	if (off == file_size) {
		*why = "no signature after the last segment";
		return SIGNET_EINVAL;
	}
	if (file_size - off > CONTAINER_MAX_SIG_LEN) {
		*why = "more bytes after the last segment than any signature has";
		return SIGNET_EINVAL;
	}
	lay->sig_off = off;
	lay->sig_len = (size_t)(file_size - off);
	return 0;
}

/* Copy LEN bytes of IN_FD from OFF with pread/write, through BUF (allocated on first use). */
static int
copy_by_read(int in_fd, uint64_t off, uint64_t len, int out_fd, uint8_t **buf)
{
	int r;

	if (*buf == NULL && (*buf = malloc(CONTAINER_IO_CHUNK)) == NULL) {
		return SIGNET_EINTERNAL;
	}
	while (len > 0) {
		size_t n = len < CONTAINER_IO_CHUNK ? (size_t)len : CONTAINER_IO_CHUNK;

		if ((r = fd_pread_all(in_fd, *buf, n, off)) != 0 ||
		    (r = write_all(out_fd, *buf, n) == 0 ? 0 : SIGNET_EINTERNAL) != 0) {
			return r;
		}
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * Copy the first LEN bytes of IN_FD to OUT_FD's current offset: in the
 * kernel while it can (copy_file_range), with pread/write where it cannot
 * (another filesystem, a pipe, an O_APPEND output, an old kernel).
 */
static int
copy_segment(int in_fd, uint64_t len, int out_fd, uint8_t **buf)
{
	loff_t off = 0;

	while ((uint64_t)off < len) {
		size_t want =
		    len - (uint64_t)off > (1u << 30) ? (1u << 30) : (size_t)(len - (uint64_t)off);
		ssize_t n = copy_file_range(in_fd, &off, out_fd, NULL, want, 0);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL ||
			      errno == EOPNOTSUPP || errno == EBADF)) {
			return copy_by_read(in_fd, (uint64_t)off, len - (uint64_t)off, out_fd, buf);
		}
		if (n < 0) {
			return SIGNET_EINTERNAL;
		}
		if (n == 0) {
			/* The file ends before its stated length. */
			return SIGNET_EINVAL;
		}
	}
	return 0;
}

int
container_cipher_code(const char *name)
{
	return name_lookup(cipher_names, CIPHER_COUNT, name);
}

const char *
container_cipher_name(int code)
{
	return code >= 0 && code < CIPHER_COUNT ? cipher_names[code] : NULL;
}

int
container_sig_code(const char *name)
{
	return name_lookup(sig_names, SIG_COUNT, name);
}

const char *
container_sig_name(int code)
{
	return code >= 0 && code < SIG_COUNT ? sig_names[code] : NULL;
}

size_t
container_header_size(unsigned es, unsigned ml)
{
	if (es > CONTAINER_MAX_SEGMENTS || ml > CONTAINER_MAX_METADATA) {
		return 0;
	}
	return CONTAINER_FIXED_SIZE + (size_t)es * CONTAINER_SEGMENT_ENTRY_SIZE + ml;
}

int
container_header_encode(const struct container_header *h, uint8_t **out, size_t *len)
{
	struct wbuf w;

	*out = NULL;
	*len = 0;
	if (h->pv != CONTAINER_PV || h->es == 0 || !ec_is_known(h->ec) || !sc_is_known(h->sc) ||
	    (h->ml != 0 && h->md == NULL)) {
		return SIGNET_EINVAL;
	}
	wbuf_init(&w, CONTAINER_MAX_HEADER_SIZE);
	wbuf_put(&w, CONTAINER_MAGIC, CONTAINER_MAGIC_LEN);
	wbuf_put_u8(&w, h->pv);
	wbuf_put_u16le(&w, h->ml);
	wbuf_put_u16le(&w, h->ec);
	wbuf_put_u16le(&w, h->sc);
	wbuf_put_u8(&w, h->es);
	for (unsigned i = 0; i < h->es; i++) {
		wbuf_put_u32le(&w, h->esl[i]);
	}
	for (unsigned i = 0; i < h->es; i++) {
		wbuf_put(&w, h->esh[i], sizeof(h->esh[i]));
	}
	wbuf_put(&w, h->md, h->ml);
	*out = wbuf_steal(&w, len);
	if (*out == NULL) {
		return SIGNET_EINTERNAL;
	}
	return 0;
}

int
container_header_decode(const uint8_t *buf, size_t len, struct container_header *h, size_t *hlen,
			const char **why)
{
	struct rbuf r;
	const uint8_t *magic;

	memset(h, 0, sizeof(*h));
	*hlen = 0;
	rbuf_init(&r, buf, len);
	magic = rbuf_get_ptr(&r, CONTAINER_MAGIC_LEN);
	h->pv = rbuf_get_u8(&r);
	h->ml = rbuf_get_u16le(&r);
	h->ec = rbuf_get_u16le(&r);
	h->sc = rbuf_get_u16le(&r);
	h->es = rbuf_get_u8(&r);
	if (!rbuf_ok(&r)) {
		*why = "the file ends inside the header";
		return SIGNET_EINVAL;
	}
	if (memcmp(magic, CONTAINER_MAGIC, CONTAINER_MAGIC_LEN) != 0) {
		*why = "not a BOSCH_SE container (bad magic)";
		return SIGNET_EINVAL;
	}
	if (h->pv != CONTAINER_PV) {
		*why = "unknown packaging version";
		return SIGNET_EINVAL;
	}
	if (!ec_is_known(h->ec)) {
		*why = "unknown encryption cipher";
		return SIGNET_EINVAL;
	}
	if (!sc_is_known(h->sc)) {
		*why = "unknown signature cipher";
		return SIGNET_EINVAL;
	}
	if (h->es == 0) {
		*why = "no segments";
		return SIGNET_EINVAL;
	}
	for (unsigned i = 0; i < h->es; i++) {
		h->esl[i] = rbuf_get_u32le(&r);
	}
	for (unsigned i = 0; i < h->es; i++) {
		rbuf_get_bytes(&r, h->esh[i], sizeof(h->esh[i]));
	}
	h->md = rbuf_get_ptr(&r, h->ml);
	if (!rbuf_ok(&r)) {
		*why = "the file ends inside the header";
		h->md = NULL;
		return SIGNET_EINVAL;
	}
	*hlen = r.off;
	return 0;
}

int
container_sig_check_len(int sc, const uint8_t *sig, size_t len)
{
	bool ok = false;

	if (sig == NULL) {
		return SIGNET_EINVAL;
	}
	switch (sc) {
	case CONTAINER_SC_RSA_3072:
		ok = len == 384;
		break;
	case CONTAINER_SC_RSA_4096:
		ok = len == 512;
		break;
	case CONTAINER_SC_ECC_NIST_P256:
		ok = len >= ECDSA_DER_MIN && len <= 72 && der_ecdsa_sig_ok(sig, len);
		break;
	case CONTAINER_SC_ECC_NIST_P384:
		ok = len >= ECDSA_DER_MIN && len <= 104 && der_ecdsa_sig_ok(sig, len);
		break;
	case CONTAINER_SC_ED25519:
		ok = len == 64;
		break;
	default:
		break;
	}
	return ok ? 0 : SIGNET_EINVAL;
}

int
container_write(int outfd, const uint8_t *hdr, size_t hlen, const int *segfds, unsigned nseg,
		const uint64_t *seglen, const uint8_t *sig, size_t siglen)
{
	uint8_t *buf = NULL;
	int r;

	if (hdr == NULL || hlen == 0 || nseg == 0 || nseg > CONTAINER_MAX_SEGMENTS ||
	    segfds == NULL || seglen == NULL || sig == NULL || siglen == 0) {
		return SIGNET_EINVAL;
	}
	for (unsigned i = 0; i < nseg; i++) {
		if (seglen[i] > CONTAINER_MAX_SEGMENT_LEN) {
			return SIGNET_EINVAL;
		}
	}
	if ((r = write_all(outfd, hdr, hlen) == 0 ? 0 : SIGNET_EINTERNAL) != 0) {
		goto out;
	}
	for (unsigned i = 0; i < nseg; i++) {
		if ((r = copy_segment(segfds[i], seglen[i], outfd, &buf)) != 0) {
			goto out;
		}
	}
	r = write_all(outfd, sig, siglen) == 0 ? 0 : SIGNET_EINTERNAL;
out:
	free(buf);
	return r;
}

int
container_parse(const uint8_t *buf, size_t len, struct container_header *h,
		struct container_layout *lay, const char **why)
{
	size_t hlen;
	int r;

	memset(lay, 0, sizeof(*lay));
	lay->bad_segment = -1;
	if ((r = container_header_decode(buf, len, h, &hlen, why)) != 0) {
		return r;
	}
	return layout_check(h, hlen, len, lay, why);
}

int
container_reader_open(struct container_reader *r, int fd, const char **why)
{
	struct stat st;
	size_t want;
	int rc;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->lay.bad_segment = -1;
	if (fstat(fd, &st) != 0) {
		*why = "cannot stat the file";
		return SIGNET_EINTERNAL;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return SIGNET_EINVAL;
	}
	r->file_size = (uint64_t)st.st_size;
	want = r->file_size < CONTAINER_MAX_HEADER_SIZE ? (size_t)r->file_size
							: CONTAINER_MAX_HEADER_SIZE;
	r->hdr = malloc(want != 0 ? want : 1);
	if (r->hdr == NULL) {
		*why = "out of memory";
		return SIGNET_EINTERNAL;
	}
	if ((rc = fd_pread_all(fd, r->hdr, want, 0)) != 0) {
		*why = rc == SIGNET_EINVAL ? "the file shrank while being read"
					   : "cannot read the header";
		return rc;
	}
	if ((rc = container_header_decode(r->hdr, want, &r->h, &r->lay.hlen, why)) != 0 ||
	    (rc = layout_check(&r->h, r->lay.hlen, r->file_size, &r->lay, why)) != 0) {
		return rc;
	}
	if ((rc = fd_pread_all(fd, r->sig, r->lay.sig_len, r->lay.sig_off)) != 0) {
		*why = rc == SIGNET_EINVAL ? "the file shrank while being read"
					   : "cannot read the signature";
		return rc;
	}
	return 0;
}

void
container_reader_close(struct container_reader *r)
{
	free(r->hdr);
	r->hdr = NULL;
	r->h.md = NULL;
}

int
container_segment_sha256(const struct container_reader *r, unsigned i, uint8_t out[32])
{
	EVP_MD_CTX *md = NULL;
	uint8_t *buf = NULL;
	uint64_t off, left;
	int rc = SIGNET_EINTERNAL;

	if (r->hdr == NULL || i >= r->h.es) {
		return SIGNET_EINVAL;
	}
	off = r->lay.seg_off[i];
	left = r->h.esl[i];
	md = EVP_MD_CTX_new();
	buf = malloc(CONTAINER_IO_CHUNK);
	if (md == NULL || buf == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		goto out;
	}
	while (left > 0) {
		size_t n = left < CONTAINER_IO_CHUNK ? (size_t)left : CONTAINER_IO_CHUNK;

		if ((rc = fd_pread_all(r->fd, buf, n, off)) != 0) {
			goto out;
		}
		rc = SIGNET_EINTERNAL;
		if (EVP_DigestUpdate(md, buf, n) != 1) {
			goto out;
		}
		off += n;
		left -= n;
	}
	if (EVP_DigestFinal_ex(md, out, NULL) != 1) {
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	free(buf);
	return rc;
}
