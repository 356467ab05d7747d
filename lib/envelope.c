/* SPDX-License-Identifier: Apache-2.0 */
/* CMS EnvelopedData to a recipient certificate, streamed from one file descriptor to another. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "lib/envelope.h"
#include "lib/error.h"
#include "lib/log.h"

#define ENVELOPE_IO_CHUNK (256 * 1024) /* bytes per pread/pwrite; all the memory a stream holds */

/*
 * One end of the stream: a descriptor and the offset of the next pread or
 * pwrite, the SHA-256 and count of the bytes that passed, and the first
 * errno, sticky. OpenSSL's stream copy (SMIME_crlf_copy) takes a failed
 * read for the end of the input and ignores failed writes, so the failure
 * is kept here and checked after the copy.
 */
struct fd_stream {
	int fd;
	uint64_t off;
	uint64_t limit; /* source: read no further than this */
	EVP_MD_CTX *md;
	int err;
	uint8_t *buf;
	size_t len; /* bytes in buf */
	size_t pos; /* source: bytes of buf already handed out */
};

static CRYPTO_ONCE meth_once = CRYPTO_ONCE_STATIC_INIT;
static BIO_METHOD *source_meth, *sink_meth;

static int
source_read(BIO *b, char *out, int outl)
{
	struct fd_stream *st = BIO_get_data(b);
	size_t n;

	if (st->err != 0) {
		return -1;
	}
	if (outl <= 0) {
		return 0;
	}
	if (st->pos == st->len) {
		size_t want = ENVELOPE_IO_CHUNK;
		ssize_t r;

		if (st->off >= st->limit) {
			return 0;
		}
		if (st->limit - st->off < want) {
			want = (size_t)(st->limit - st->off);
		}
		do {
			r = pread(st->fd, st->buf, want, (off_t)st->off);
		} while (r < 0 && errno == EINTR);
		if (r < 0) {
			st->err = errno;
			return -1;
		}
		if (r == 0) {
			return 0;
		}
		if (EVP_DigestUpdate(st->md, st->buf, (size_t)r) != 1) {
			st->err = EIO;
			return -1;
		}
		st->off += (uint64_t)r;
		st->len = (size_t)r;
		st->pos = 0;
	}
	n = st->len - st->pos;
	if (n > (size_t)outl) {
		n = (size_t)outl;
	}
	memcpy(out, st->buf + st->pos, n);
	st->pos += n;
	return (int)n;
}

/* Write out what the sink holds, hashing exactly the bytes that reached the file. */
static int
sink_drain(struct fd_stream *st)
{
	size_t done = 0;

	while (st->err == 0 && done < st->len) {
		ssize_t r = pwrite(st->fd, st->buf + done, st->len - done, (off_t)st->off);

		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			st->err = r < 0 ? errno : EIO;
			break;
		}
		if (EVP_DigestUpdate(st->md, st->buf + done, (size_t)r) != 1) {
			st->err = EIO;
			break;
		}
		done += (size_t)r;
		st->off += (uint64_t)r;
	}
	st->len = 0;
	return st->err == 0 ? 0 : -1;
}

static int
sink_write(BIO *b, const char *in, int inl)
{
	struct fd_stream *st = BIO_get_data(b);
	size_t done = 0;

	if (st->err != 0) {
		return -1;
	}
	while (done < (size_t)(inl > 0 ? inl : 0)) {
		size_t n = ENVELOPE_IO_CHUNK - st->len;

		if (n > (size_t)inl - done) {
			n = (size_t)inl - done;
		}
		memcpy(st->buf + st->len, in + done, n);
		st->len += n;
		done += n;
		if (st->len == ENVELOPE_IO_CHUNK && sink_drain(st) != 0) {
			return -1;
		}
	}
	return inl > 0 ? inl : 0;
}

static long
source_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static long
sink_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	(void)ptr;
	if (cmd == BIO_CTRL_FLUSH) {
		return sink_drain(BIO_get_data(b)) == 0 ? 1 : 0;
	}
	return 0;
}

static void
meth_init(void)
{
	int src_idx = BIO_get_new_index(), sink_idx = BIO_get_new_index();

	if (src_idx > 0 && sink_idx > 0) {
		source_meth = BIO_meth_new(src_idx | BIO_TYPE_SOURCE_SINK, "signet fd source");
		sink_meth = BIO_meth_new(sink_idx | BIO_TYPE_SOURCE_SINK, "signet fd sink");
	}
	if (source_meth == NULL || sink_meth == NULL ||
	    !BIO_meth_set_read(source_meth, source_read) ||
	    !BIO_meth_set_ctrl(source_meth, source_ctrl) ||
	    !BIO_meth_set_write(sink_meth, sink_write) ||
	    !BIO_meth_set_ctrl(sink_meth, sink_ctrl)) {
		BIO_meth_free(source_meth);
		BIO_meth_free(sink_meth);
		source_meth = sink_meth = NULL;
	}
}

static BIO *
stream_bio(const BIO_METHOD *meth, struct fd_stream *st, int fd)
{
	BIO *b;

	st->fd = fd;
	st->md = EVP_MD_CTX_new();
	st->buf = malloc(ENVELOPE_IO_CHUNK);
	if (st->md == NULL || st->buf == NULL ||
	    EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) != 1) {
		return NULL;
	}
	b = BIO_new(meth);
	if (b != NULL) {
		BIO_set_data(b, st);
		BIO_set_init(b, 1);
	}
	return b;
}

static void
stream_free(struct fd_stream *st)
{
	EVP_MD_CTX_free(st->md);
	free(st->buf);
}

/*
 * RSA keys transport the content key, EC keys agree on one (RFC 5753);
 * anything else (Ed25519, RSA-PSS-only keys) cannot receive. A key usage
 * extension, when present, must allow that use (RFC 5280 §4.2.1.3).
 */
static int
recipient_check(X509 *cert)
{
	EVP_PKEY *pk = cert != NULL ? X509_get0_pubkey(cert) : NULL;
	uint32_t need;

	if (pk == NULL) {
		log_err("envelope: the recipient certificate has no usable public key");
		ERR_clear_error();
		return SIGNET_EINVAL;
	}
	if (EVP_PKEY_is_a(pk, "RSA")) {
		need = KU_KEY_ENCIPHERMENT;
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		need = KU_KEY_AGREEMENT;
	} else {
		log_err("envelope: a %s key cannot be a recipient (RSA or EC only)",
			EVP_PKEY_get0_type_name(pk));
		return SIGNET_EINVAL;
	}
	if ((X509_get_key_usage(cert) & need) == 0) {
		log_err("envelope: the recipient certificate's key usage forbids %s",
			need == KU_KEY_ENCIPHERMENT ? "key encipherment" : "key agreement");
		return SIGNET_EINVAL;
	}
	return 0;
}

/* Each chunk of streamed content has a header of a few bytes (about 4 per KiB written). */
#define ENVELOPE_CHUNK_SHARE 64   /* at most 1 byte of chunk headers per this many of content */
#define ENVELOPE_FRAME_MAX   8192 /* algorithm identifiers, the wrapped key, the DER frame */

uint64_t
envelope_size_max(uint64_t in_len, size_t cert_len)
{
	return in_len + in_len / ENVELOPE_CHUNK_SHARE + 16 + ENVELOPE_FRAME_MAX + cert_len;
}

int
envelope_encrypt_fd(X509 *recipient, int in_fd, uint64_t in_len, int out_fd,
		    struct envelope_result *res)
{
	const unsigned flags = CMS_BINARY | CMS_STREAM;
	struct fd_stream src = {0}, dst = {0};
	STACK_OF(X509) *certs = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL, *out = NULL;
	int streamed, r;

	memset(res, 0, sizeof(*res));
	if ((r = recipient_check(recipient)) != 0) {
		return r;
	}
	r = SIGNET_EINTERNAL;
	if (!CRYPTO_THREAD_run_once(&meth_once, meth_init) || source_meth == NULL) {
		log_openssl(LOG_LEVEL_ERR, "envelope: setting up the stream methods");
		goto out;
	}
	src.limit = in_len;
	in = stream_bio(source_meth, &src, in_fd);
	out = stream_bio(sink_meth, &dst, out_fd);
	certs = sk_X509_new_null();
	if (in == NULL || out == NULL || certs == NULL || !sk_X509_push(certs, recipient)) {
		log_openssl(LOG_LEVEL_ERR, "envelope: setting up the stream");
		goto out;
	}
	/* With CMS_STREAM nothing is read yet: a failure here is about the certificate. */
	cms = CMS_encrypt(certs, in, EVP_aes_256_cbc(), flags);
	if (cms == NULL) {
		log_openssl(LOG_LEVEL_ERR, "envelope: the recipient certificate cannot be used");
		r = SIGNET_EINVAL;
		goto out;
	}
	streamed = i2d_CMS_bio_stream(out, cms, in, (int)flags);
	if (src.err != 0) {
		log_err("envelope: cannot read the input: %s", strerror(src.err));
		goto out;
	}
	if (sink_drain(&dst) != 0) {
		log_err("envelope: cannot write the output: %s", strerror(dst.err));
		r = signet_err_from_errno(dst.err);
		goto out;
	}
	if (streamed != 1) {
		log_openssl(LOG_LEVEL_ERR, "envelope: encrypting");
		goto out;
	}
	if (ftruncate(out_fd, (off_t)dst.off) != 0) {
		log_err("envelope: cannot truncate the output: %s", strerror(errno));
		goto out;
	}
	if (EVP_DigestFinal_ex(src.md, res->in_sha256, NULL) != 1 ||
	    EVP_DigestFinal_ex(dst.md, res->out_sha256, NULL) != 1) {
		memset(res, 0, sizeof(*res));
		goto out;
	}
	res->in_size = src.off;
	res->out_size = dst.off;
	r = 0;
out:
	if (r != 0) {
		ERR_clear_error();
	}
	CMS_ContentInfo_free(cms);
	sk_X509_free(certs);
	BIO_free(in);
	BIO_free(out);
	stream_free(&src);
	stream_free(&dst);
	return r;
}
