/* SPDX-License-Identifier: Apache-2.0 */
/* Encryption of whole files inside the token, streamed through C_EncryptUpdate. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hsm/crypt.h"
#include "hsm/internal.h"
#include "lib/error.h"
#include "lib/log.h"

#define WRITEBACK_STEP (8u << 20)    /* output bytes between write-back hints */
#define CRYPT_CHUNK    (1024 * 1024) /* bytes per C_EncryptUpdate; a multiple of the AES block */
#define CRYPT_BLOCK    16            /* AES block, IV and CTR counter block */

struct cipher_desc {
	const char *name;
	enum hsm_alg alg;
	CK_ULONG key_len; /* CKA_VALUE_LEN the key must have */
	CK_MECHANISM_TYPE mech;
	bool zero_pad; /* pad the input with 0x00 to a whole block on the host */
	size_t iv_len;
	bool legacy;
};

static const struct cipher_desc cipher_table[HSM_CIPHER_COUNT] = {
    [HSM_CIPHER_AES256_CBC_PKCS7_PAD] = {"AES256_CBC_PKCS7_PAD", HSM_ALG_AES_256, 32,
					 CKM_AES_CBC_PAD, false, CRYPT_BLOCK, false},
    [HSM_CIPHER_AES128_CBC_PKCS7_PAD] = {"AES128_CBC_PKCS7_PAD", HSM_ALG_AES_128, 16,
					 CKM_AES_CBC_PAD, false, CRYPT_BLOCK, false},
    [HSM_CIPHER_AES256_CBC_ZERO_BYTE_PAD] = {"AES256_CBC_ZERO_BYTE_PAD", HSM_ALG_AES_256, 32,
					     CKM_AES_CBC, true, CRYPT_BLOCK, false},
    [HSM_CIPHER_AES256_ECB_ZERO_BYTE_PAD] = {"AES256_ECB_ZERO_BYTE_PAD", HSM_ALG_AES_256, 32,
					     CKM_AES_ECB, true, 0, true},
    [HSM_CIPHER_AES128_ECB_ZERO_BYTE_PAD] = {"AES128_ECB_ZERO_BYTE_PAD", HSM_ALG_AES_128, 16,
					     CKM_AES_ECB, true, 0, true},
    [HSM_CIPHER_AES128_CTR_NO_PAD] = {"AES128_CTR_NO_PAD", HSM_ALG_AES_128, 16, CKM_AES_CTR, false,
				      CRYPT_BLOCK, false},
};

/*
 * The two SHA-256 digests (input and output) run on a thread of their own
 * while the token encrypts the next chunk: jobs are taken in order, and a
 * buffer is reused only once the jobs that read it are done.
 */
#define HASH_QUEUE 8

struct hasher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct {
		EVP_MD_CTX *md;
		const uint8_t *buf;
		size_t len;
	} q[HASH_QUEUE];
	unsigned long submitted, done;
	bool stop, failed, running;
};

static void *
hasher_main(void *arg)
{
	struct hasher *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (h->done == h->submitted && !h->stop) {
			pthread_cond_wait(&h->cond, &h->lock);
		}
		if (h->done == h->submitted) {
			break;
		}
		{
			unsigned i = (unsigned)(h->done % HASH_QUEUE);
			EVP_MD_CTX *md = h->q[i].md;
			const uint8_t *buf = h->q[i].buf;
			size_t len = h->q[i].len;
			int ok;
			pthread_mutex_unlock(&h->lock);
			ok = EVP_DigestUpdate(md, buf, len) == 1;
			pthread_mutex_lock(&h->lock);
			h->failed = h->failed || !ok;
			h->done++;
			pthread_cond_broadcast(&h->cond);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Wait until at most LEFT jobs are pending. */
static void
hasher_wait(struct hasher *h, unsigned long left)
{
	pthread_mutex_lock(&h->lock);
	while (h->submitted - h->done > left) {
		pthread_cond_wait(&h->cond, &h->lock);
	}
	pthread_mutex_unlock(&h->lock);
}

static void
hasher_submit(struct hasher *h, EVP_MD_CTX *md, const uint8_t *buf, size_t len)
{
	if (!h->running) {
		if (EVP_DigestUpdate(md, buf, len) != 1) {
			h->failed = true;
		}
		return;
	}
	pthread_mutex_lock(&h->lock);
	while (h->submitted - h->done >= HASH_QUEUE) {
		pthread_cond_wait(&h->cond, &h->lock);
	}
	h->q[h->submitted % HASH_QUEUE].md = md;
	h->q[h->submitted % HASH_QUEUE].buf = buf;
	h->q[h->submitted % HASH_QUEUE].len = len;
	h->submitted++;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* One hsm_encrypt_fd call; everything an attempt resets lives here too. */
struct encrypt_arg {
	const struct cipher_desc *d;
	const uint8_t *id;
	int in_fd;
	uint64_t in_len; /* read no further */
	uint64_t in_off; /* where the input starts in IN_FD */
	int out_fd;
	uint64_t out_off;   /* where the output starts in OUT_FD */
	uint8_t *inbuf[2];  /* CRYPT_CHUNK bytes each, used in turn */
	uint8_t *outbuf[2]; /* CRYPT_CHUNK + CRYPT_BLOCK bytes each */
	uint8_t *in;        /* the current pair */
	uint8_t *out;
	struct hasher hash;
	EVP_MD_CTX *in_md;
	EVP_MD_CTX *out_md;
	uint64_t in_size;
	uint64_t out_size;
	int err; /* a SIGNET_ error that is not the token's (bad key, file I/O) */
};

/* Fill BUF from OFF until it is full or the file ends; the byte count, or -1 with errno. */
static ssize_t
read_chunk(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -1;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int
write_at(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Append LEN output bytes to the file and the output digest. */
static int
emit(struct encrypt_arg *a, const uint8_t *buf, size_t len)
{
	if (len == 0) {
		return 0;
	}
	if (write_at(a->out_fd, buf, len, a->out_off + a->out_size) != 0) {
		int e = errno;
		log_err("encrypting: cannot write the output: %s", strerror(e));
		return signet_err_from_errno(e); /* a full disk is not the token's failure */
	}
	hasher_submit(&a->hash, a->out_md, buf, len);
	/*
	 * Start writing back what is done while the token works on the rest,
	 * so that the caller's final fsync has little left to wait for. A
	 * hint only: errors surface at that fsync.
	 */
	if ((a->out_off + a->out_size + len) / WRITEBACK_STEP !=
	    (a->out_off + a->out_size) / WRITEBACK_STEP) {
		uint64_t end = (a->out_off + a->out_size + len) / WRITEBACK_STEP * WRITEBACK_STEP;
		(void)sync_file_range(a->out_fd, (off_t)(end - WRITEBACK_STEP), WRITEBACK_STEP,
				      SYNC_FILE_RANGE_WRITE);
	}
	a->out_size += len;
	return 0;
}

/*
 * End an encryption we abandon for a reason of our own. Only an error (or
 * success) of C_EncryptFinal ends the operation, never a size query; if it
 * will not end, close the session so that the next use opens a fresh one.
 */
static void
encrypt_abandon(struct hsm_session *s)
{
	uint8_t scratch[2 * CRYPT_BLOCK];
	CK_ULONG n = sizeof(scratch);
	CK_RV rv = s->h->f->C_EncryptFinal(s->handle, scratch, &n);

	if (rv == CKR_BUFFER_TOO_SMALL) {
		hsm_session_discard(s);
	}
}

/* Is the key an AES key of the cipher's length? */
static CK_RV
key_check(struct hsm_session *s, struct encrypt_arg *a, CK_OBJECT_HANDLE key)
{
	CK_KEY_TYPE type = (CK_KEY_TYPE)-1;
	CK_ULONG len = 0;
	CK_ATTRIBUTE t[] = {
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	};
	CK_RV rv = s->h->f->C_GetAttributeValue(s->handle, key, t, ARRAY_SIZE(t));

	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE) {
		return rv;
	}
	if (rv != CKR_OK || type != CKK_AES || len != a->d->key_len) {
		log_warning("encrypting: the key is not an AES key of %lu bytes, as %s needs",
			    (unsigned long)a->d->key_len, a->d->name);
		a->err = SIGNET_EINVAL;
		return CKR_KEY_TYPE_INCONSISTENT;
	}
	return CKR_OK;
}

/*
 * One attempt, from offset 0 with fresh digests and a fresh IV: hsm_run
 * repeats it once on a new session after a recoverable token error. A new
 * IV for the repeat, because the input may have changed in between.
 */
static CK_RV
op_encrypt(struct hsm_session *s, void *arg)
{
	struct encrypt_arg *a = arg;
	CK_FUNCTION_LIST *f = s->h->f;
	CK_AES_CTR_PARAMS ctr;
	uint8_t iv[CRYPT_BLOCK];
	CK_MECHANISM mech = {a->d->mech, NULL, 0};
	CK_OBJECT_HANDLE key;
	CK_ULONG outlen;
	bool active = false, eof = false;
	CK_RV rv;

	a->err = 0;
	a->in_size = 0;
	a->out_size = 0;
	hasher_wait(&a->hash, 0); /* a retry: nothing of the last attempt may still be hashed */
	a->hash.failed = false;
	if (EVP_DigestInit_ex(a->in_md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(a->out_md, EVP_sha256(), NULL) != 1) {
		log_openssl(LOG_LEVEL_ERR, "encrypting: starting the digests");
		a->err = SIGNET_EINTERNAL;
		return CKR_FUNCTION_FAILED;
	}
	if ((rv = hsm_find_one(s, CKO_SECRET_KEY, a->id, HSM_ID_LEN, &key)) != CKR_OK ||
	    (rv = key_check(s, a, key)) != CKR_OK) {
		return rv;
	}
	if (a->d->iv_len > 0) {
		rv = f->C_GenerateRandom(s->handle, iv, sizeof(iv));
		if (rv != CKR_OK) {
			return rv;
		}
		if (a->d->mech == CKM_AES_CTR) {
			/* The whole block counts, as OpenSSL's aes-128-ctr does. */
			ctr.ulCounterBits = 128;
			memcpy(ctr.cb, iv, sizeof(ctr.cb));
			mech.pParameter = &ctr;
			mech.ulParameterLen = sizeof(ctr);
		} else {
			mech.pParameter = iv;
			mech.ulParameterLen = sizeof(iv);
		}
	}
	rv = f->C_EncryptInit(s->handle, &mech, key);
	if (rv != CKR_OK) {
		return rv;
	}
	active = true;
	for (unsigned long chunk = 0; !eof; chunk++) {
		ssize_t n;
		size_t len;

		/* This pair of buffers was last used two chunks ago: its two jobs must be done. */
		a->in = a->inbuf[chunk % 2];
		a->out = a->outbuf[chunk % 2];
		if (chunk >= 2) {
			hasher_wait(&a->hash, 2);
		}
		{
			size_t want = CRYPT_CHUNK;
			if (a->in_len - a->in_size < want) {
				want = (size_t)(a->in_len - a->in_size);
			}
			n = want > 0 ? read_chunk(a->in_fd, a->in, want, a->in_off + a->in_size)
				     : 0;
			/* End of file, or of what we were asked to read. */
			eof = n >= 0 && ((size_t)n < want || a->in_size + (size_t)n >= a->in_len);
		}

		if (n < 0) {
			log_err("encrypting: cannot read the input: %s", strerror(errno));
			a->err = SIGNET_EINTERNAL;
			goto fail;
		}
		len = (size_t)n;
		if (len > 0) {
			hasher_submit(&a->hash, a->in_md, a->in, len);
		}
		a->in_size += len;
		/* Only the last chunk can be partial: CRYPT_CHUNK is a whole number of blocks. */
		if (a->d->zero_pad && len % CRYPT_BLOCK != 0) {
			size_t pad = CRYPT_BLOCK - len % CRYPT_BLOCK;
			memset(a->in + len, 0, pad);
			len += pad;
		}
		if (len == 0) {
			continue;
		}
		outlen = CRYPT_CHUNK + CRYPT_BLOCK;
		rv = f->C_EncryptUpdate(s->handle, a->in, len, a->out, &outlen);
		if (rv != CKR_OK) {
			/* Any error but a too small buffer has ended the operation. */
			active = rv == CKR_BUFFER_TOO_SMALL;
			goto fail;
		}
		if ((a->err = emit(a, a->out, outlen)) != 0) {
			goto fail;
		}
	}
	/* The last chunk's buffers may still be read by the hasher: finish into a buffer of its
	 * own. */
	hasher_wait(&a->hash, 0);
	outlen = CRYPT_CHUNK + CRYPT_BLOCK;
	rv = f->C_EncryptFinal(s->handle, a->out, &outlen);
	if (rv != CKR_OK) {
		active = rv == CKR_BUFFER_TOO_SMALL;
		goto fail;
	}
	active = false;
	if ((a->err = emit(a, a->out, outlen)) != 0 || (a->err = emit(a, iv, a->d->iv_len)) != 0) {
		goto fail;
	}
	/* IV is on our stack: the hasher must be done with it before we return. */
	hasher_wait(&a->hash, 0);
	if (a->hash.failed) {
		log_openssl(LOG_LEVEL_ERR, "encrypting: hashing");
		a->err = SIGNET_EINTERNAL;
		return CKR_FUNCTION_FAILED;
	}
	return CKR_OK;
fail:
	hasher_wait(&a->hash, 0);
	if (active) {
		encrypt_abandon(s);
	}
	if (a->err != 0) {
		/* Not the token's fault: nothing for hsm_run to retry. */
		return CKR_FUNCTION_FAILED;
	}
	return rv;
}

const char *
hsm_cipher_name(enum hsm_cipher c)
{
	return (unsigned)c < HSM_CIPHER_COUNT ? cipher_table[c].name : "UNKNOWN";
}

int
hsm_cipher_parse(const char *name, enum hsm_cipher *c)
{
	for (int i = 0; i < HSM_CIPHER_COUNT; i++) {
		if (name != NULL && strcmp(cipher_table[i].name, name) == 0) {
			*c = (enum hsm_cipher)i;
			return 0;
		}
	}
	return SIGNET_EINVAL;
}

enum hsm_alg
hsm_cipher_key_alg(enum hsm_cipher c)
{
	return (unsigned)c < HSM_CIPHER_COUNT ? cipher_table[c].alg : HSM_ALG_COUNT;
}

bool
hsm_cipher_is_legacy(enum hsm_cipher c)
{
	/* An unknown cipher is refused like the legacy ones. */
	return (unsigned)c < HSM_CIPHER_COUNT ? cipher_table[c].legacy : true;
}

size_t
hsm_cipher_iv_len(enum hsm_cipher c)
{
	return (unsigned)c < HSM_CIPHER_COUNT ? cipher_table[c].iv_len : 0;
}

uint64_t
hsm_cipher_out_max(enum hsm_cipher c, uint64_t in_len)
{
	/* Padding adds at most one block (PKCS#7: 1 to 16 bytes, zero bytes: 0 to 15). */
	return in_len + CRYPT_BLOCK + hsm_cipher_iv_len(c);
}

int
hsm_encrypt_fd(struct hsm_session *s, enum hsm_cipher c, const uint8_t id[HSM_ID_LEN], int in_fd,
	       uint64_t in_len, int out_fd, struct hsm_crypt_result *res)
{
	return hsm_encrypt_fd_at(s, c, id, in_fd, 0, in_len, out_fd, 0, res);
}

int
hsm_encrypt_fd_at(struct hsm_session *s, enum hsm_cipher c, const uint8_t id[HSM_ID_LEN], int in_fd,
		  uint64_t in_off, uint64_t in_len, int out_fd, uint64_t out_off,
		  struct hsm_crypt_result *res)
{
	struct encrypt_arg a = {.id = id,
				.in_fd = in_fd,
				.in_off = in_off,
				.in_len = in_len,
				.out_fd = out_fd,
				.out_off = out_off};
	unsigned int mdlen;
	CK_RV rv;
	int r = SIGNET_EINTERNAL;

	memset(res, 0, sizeof(*res));
	if ((unsigned)c >= HSM_CIPHER_COUNT) {
		return SIGNET_EINVAL;
	}
	a.d = &cipher_table[c];
	pthread_mutex_init(&a.hash.lock, NULL);
	pthread_cond_init(&a.hash.cond, NULL);
	for (int i = 0; i < 2; i++) {
		a.inbuf[i] = malloc(CRYPT_CHUNK);
		a.outbuf[i] = malloc(CRYPT_CHUNK + CRYPT_BLOCK);
	}
	a.in_md = EVP_MD_CTX_new();
	a.out_md = EVP_MD_CTX_new();
	if (a.inbuf[0] == NULL || a.inbuf[1] == NULL || a.outbuf[0] == NULL ||
	    a.outbuf[1] == NULL || a.in_md == NULL || a.out_md == NULL) {
		log_err("encrypting: out of memory");
		goto out;
	}
	/* Without a second thread the digests are simply computed inline. */
	a.hash.running = pthread_create(&a.hash.thread, NULL, hasher_main, &a.hash) == 0;
	rv = hsm_run(s, op_encrypt, &a);
	if (a.err != 0) {
		r = a.err;
		goto out;
	}
	if (rv == CKR_KEY_FUNCTION_NOT_PERMITTED || rv == CKR_KEY_TYPE_INCONSISTENT) {
		log_warning("encrypting: the token refused the key for %s (CKR 0x%lx)", a.d->name,
			    (unsigned long)rv);
		r = SIGNET_EINVAL;
		goto out;
	}
	if (rv != CKR_OK) {
		r = hsm_err(rv, "encrypting");
		goto out;
	}
	if (ftruncate(out_fd, (off_t)(out_off + a.out_size)) != 0) {
		log_err("encrypting: cannot truncate the output: %s", strerror(errno));
		goto out;
	}
	if (EVP_DigestFinal_ex(a.in_md, res->in_sha256, &mdlen) != 1 ||
	    EVP_DigestFinal_ex(a.out_md, res->out_sha256, &mdlen) != 1) {
		log_openssl(LOG_LEVEL_ERR, "encrypting: finishing the digests");
		goto out;
	}
	res->in_size = a.in_size;
	res->out_size = a.out_size;
	r = 0;
out:
	if (r != 0) {
		memset(res, 0, sizeof(*res));
	}
	if (a.hash.running) {
		pthread_mutex_lock(&a.hash.lock);
		a.hash.stop = true;
		pthread_cond_broadcast(&a.hash.cond);
		pthread_mutex_unlock(&a.hash.lock);
		pthread_join(a.hash.thread, NULL);
	}
	pthread_mutex_destroy(&a.hash.lock);
	pthread_cond_destroy(&a.hash.cond);
	for (int i = 0; i < 2; i++) {
		if (a.inbuf[i] != NULL) {
			/* The plaintext is the client's secret. */
			secure_wipe(a.inbuf[i], CRYPT_CHUNK);
		}
		free(a.inbuf[i]);
		free(a.outbuf[i]);
	}
	EVP_MD_CTX_free(a.in_md);
	EVP_MD_CTX_free(a.out_md);
	return r;
}
