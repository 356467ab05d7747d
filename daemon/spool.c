/* SPDX-License-Identifier: Apache-2.0 */
/* The spool: task inputs copied in while hashed, results written out, under the state directory. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "daemon/spool.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

int
spool_path(struct daemon *d, const char *dir, const char *name, char *out, size_t len)
{
	return str_printf(out, len, "%s/spool/%s/%s", d->cfg->state_dir, dir, name) ? 0
										    : SIGNET_EINVAL;
}

void
spool_remove_inputs(struct daemon *d, const char *id, size_t n)
{
	char name[64], path[PATH_MAX];

	for (size_t i = 0; i <= n; i++) {
		/* in/<id>.0 ... in/<id>.<n-1>, then a package's in/<id>.pkg. */
		if (i < n) {
			snprintf(name, sizeof(name), "%s.%zu", id, i);
		} else {
			snprintf(name, sizeof(name), "%s.pkg", id);
		}
		if (spool_path(d, "in", name, path, sizeof(path)) == 0) {
			unlink(path);
		}
	}
}

int
spool_fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, r;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL) {
		return -1;
	}
	*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		return -1;
	}
	r = fsync(fd);
	close(fd);
	return r;
}

#define INGEST_CHUNK (1u << 20)

/* Writing the spool copy PATH failed with errno E: for lack of space, a message that says so. */
static int
ingest_write_err(int e, const char *path, char *why, size_t whylen)
{
	int r = signet_err_from_errno(e);

	log_err("spool: writing %s: %s", path, strerror(e));
	if (r == SIGNET_ENOSPACE) {
		snprintf(why, whylen, "no space left in the spool for a copy of the input");
	}
	return r;
}

/*
 * Where data resumes in FD at or after POS: POS when it is data (or the
 * filesystem cannot tell), else the end of the hole there (UINT64_MAX: a
 * hole to the end of the file). A hole reads as zeros: hashed without
 * reading it, and left a hole in the copy, it costs no I/O and no page
 * cache, so a sparse input of gigabytes only costs its hashing.
 */
static uint64_t
hole_end(int fd, uint64_t pos)
{
	off_t d = lseek(fd, (off_t)pos, SEEK_DATA);

	if (d < 0) {
		return errno == ENXIO ? UINT64_MAX : pos;
	}
	return (uint64_t)d;
}

/* Where the data at POS ends (the next hole; UINT64_MAX when the filesystem cannot tell). */
static uint64_t
data_end(int fd, uint64_t pos)
{
	off_t h = lseek(fd, (off_t)pos, SEEK_HOLE);

	return h > (off_t)pos ? (uint64_t)h : UINT64_MAX;
}

static void
digests_update(EVP_MD_CTX *c256, EVP_MD_CTX *c384, EVP_MD_CTX *c512, const uint8_t *p, size_t n)
{
	EVP_DigestUpdate(c256, p, n);
	if (c384 != NULL) {
		EVP_DigestUpdate(c384, p, n);
	}
	if (c512 != NULL) {
		EVP_DigestUpdate(c512, p, n);
	}
}

int
spool_ingest(const struct spool_src *src, const char *path, bool want384, bool want512,
	     struct digests *out, char *why, size_t whylen)
{
	EVP_MD_CTX *c256 = EVP_MD_CTX_new(), *c384 = NULL, *c512 = NULL;
	uint8_t *buf = malloc(INGEST_CHUNK);
	int out_fd = -1, r = SIGNET_EINTERNAL, werr;
	uint64_t off = 0, data_to = 0;
	bool zeros = false; /* BUF holds zeros */
	/* SEEK_DATA moves the descriptor's offset, which its client shares: put it back after. */
	off_t saved = lseek(src->fd, 0, SEEK_CUR);
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (c256 == NULL || buf == NULL || EVP_DigestInit_ex(c256, EVP_sha256(), NULL) != 1) {
		goto done;
	}
	if (want384 && ((c384 = EVP_MD_CTX_new()) == NULL ||
			EVP_DigestInit_ex(c384, EVP_sha384(), NULL) != 1)) {
		goto done;
	}
	if (want512 && ((c512 = EVP_MD_CTX_new()) == NULL ||
			EVP_DigestInit_ex(c512, EVP_sha512(), NULL) != 1)) {
		goto done;
	}
	if (path != NULL) {
		out_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (out_fd < 0) {
			r = ingest_write_err(errno, path, why, whylen);
			goto done;
		}
	}
	while (off < src->len) {
		uint64_t pos = src->off + off, left = src->len - off;
		size_t want = left < INGEST_CHUNK ? (size_t)left : INGEST_CHUNK;
		ssize_t n;
		if (src->stop != NULL && atomic_load(src->stop)) {
			snprintf(why, whylen, "the daemon is shutting down");
			r = SIGNET_EUNAVAILABLE;
			goto done;
		}
		if (pos >= data_to) {
			uint64_t d = hole_end(src->fd, pos);
			if (d > pos) {
				if (d - pos < want) {
					want = (size_t)(d - pos);
				}
				if (!zeros) {
					memset(buf, 0, INGEST_CHUNK);
					zeros = true;
				}
				digests_update(c256, c384, c512, buf, want);
				off += want;
				continue;
			}
			data_to = data_end(src->fd, pos);
		}
		if (data_to - pos < want) {
			want = (size_t)(data_to - pos);
		}
		zeros = false;
		n = pread(src->fd, buf, want, (off_t)pos);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			snprintf(why, whylen, "the input file cannot be read: %s", strerror(errno));
			r = SIGNET_EINVAL;
			goto done;
		}
		if (n == 0) {
			break;
		}
		if (off < sizeof(out->head)) {
			/* A hole before leaves zeros there, as it reads. */
			size_t h = sizeof(out->head) - (size_t)off;
			memcpy(out->head + off, buf, (size_t)n < h ? (size_t)n : h);
		}
		digests_update(c256, c384, c512, buf, (size_t)n);
		if (out_fd >= 0 && (werr = fd_pwrite_all(out_fd, buf, (size_t)n, off)) != 0) {
			r = ingest_write_err(-werr, path, why, whylen);
			goto done;
		}
		off += (uint64_t)n;
	}
	/* Past its end a file reads as a hole: one that shrank is refused as ending early. */
	if (off < src->len || fstat(src->fd, &st) != 0 ||
	    (uint64_t)st.st_size < src->off + src->len) {
		snprintf(why, whylen, "the input file is shorter than stated");
		r = SIGNET_EINVAL;
		goto done;
	}
	/* The copy's holes, a trailing one included. */
	if (out_fd >= 0 && ftruncate(out_fd, (off_t)src->len) != 0) {
		r = ingest_write_err(errno, path, why, whylen);
		goto done;
	}
	EVP_DigestFinal_ex(c256, out->sha256, NULL);
	if (c384 != NULL) {
		EVP_DigestFinal_ex(c384, out->sha384, NULL);
	}
	if (c512 != NULL) {
		EVP_DigestFinal_ex(c512, out->sha512, NULL);
	}
	out->size = off;
	r = 0;
done:
	if (saved >= 0) {
		lseek(src->fd, saved, SEEK_SET);
	}
	if (out_fd >= 0) {
		close(out_fd);
		if (r != 0) {
			unlink(path);
		}
	}
	free(buf);
	EVP_MD_CTX_free(c256);
	EVP_MD_CTX_free(c384);
	EVP_MD_CTX_free(c512);
	return r;
}
