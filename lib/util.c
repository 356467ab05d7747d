/* SPDX-License-Identifier: Apache-2.0 */
/* Small utilities every binary shares: secret memory, random bytes, files, names, time. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <jansson.h>

#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

void
secure_wipe(void *p, size_t n)
{
	if (p != NULL && n != 0) {
		OPENSSL_cleanse(p, n);
	}
}

int
secret_alloc(struct secret *s, size_t cap)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t sz;

	memset(s, 0, sizeof(*s));
	if (page <= 0) {
		page = 4096;
	}
	sz = (cap + (size_t)page - 1) / (size_t)page * (size_t)page;
	s->data = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->data == MAP_FAILED) {
		s->data = NULL;
		return SIGNET_EINTERNAL;
	}
	if (mlock(s->data, sz) != 0) {
		log_warning("cannot lock secret memory (%s); it may be swapped", strerror(errno));
	}
	(void)madvise(s->data, sz, MADV_DONTDUMP);
	s->cap = sz;
	s->len = 0;
	return 0;
}

void
secret_free(struct secret *s)
{
	if (s->data != NULL) {
		secure_wipe(s->data, s->cap);
		munlock(s->data, s->cap);
		munmap(s->data, s->cap);
	}
	memset(s, 0, sizeof(*s));
}

int
secret_read_file(struct secret *s, const char *path, size_t max)
{
	int fd, r = SIGNET_EINVAL;
	ssize_t n;
	size_t len = 0;
	struct stat st;

	if (secret_alloc(s, max + 1) != 0) {
		return SIGNET_EINTERNAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		log_err("cannot open secret file %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_err("secret file %s is not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 0077) != 0) {
		log_warning("secret file %s is accessible by group or others (mode %03o)", path,
			    (unsigned)(st.st_mode & 0777));
	}
	while (len <= max) {
		n = read(fd, s->data + len, max + 1 - len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			log_err("cannot read secret file %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	if (len > max) {
		log_err("secret file %s is longer than %zu bytes", path, max);
		goto out;
	}
	if (len > 0 && s->data[len - 1] == '\n') {
		len--;
	}
	if (len > 0 && s->data[len - 1] == '\r') {
		len--;
	}
	if (len == 0) {
		log_err("secret file %s is empty", path);
		goto out;
	}
	s->len = len;
	r = 0;
out:
	if (fd >= 0) {
		close(fd);
	}
	if (r != 0) {
		secret_free(s);
	}
	return r;
}

int
random_bytes(void *out, size_t n)
{
	if (n > INT32_MAX || RAND_bytes(out, (int)n) != 1) {
		return SIGNET_EINTERNAL;
	}
	return 0;
}

int64_t
time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

uint64_t
time_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
time_format(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		snprintf(out, outlen, "invalid");
	}
}

bool
name_is_valid(const char *s)
{
	size_t n;

	if (s == NULL) {
		return false;
	}
	n = strlen(s);
	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-')) {
			return false;
		}
	}
	return true;
}

int
fd_read_all(int fd, size_t max, uint8_t **out, size_t *outlen)
{
	struct stat st;
	uint8_t *buf;
	size_t len = 0;
	ssize_t n;

	*out = NULL;
	*outlen = 0;
	if (fstat(fd, &st) != 0 || !fd_is_local_regular(fd)) {
		return SIGNET_EINVAL;
	}
	if ((uint64_t)st.st_size > max) {
		return SIGNET_ETOO_LARGE;
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		return SIGNET_EINTERNAL;
	}
	while (len <= max) {
		n = pread(fd, buf + len, max + 1 - len, (off_t)len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			secure_wipe(buf, max + 1);
			free(buf);
			return SIGNET_EINVAL;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	if (len > max) {
		secure_wipe(buf, max + 1);
		free(buf);
		return SIGNET_ETOO_LARGE;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

static void
wiping_free(void *p)
{
	if (p != NULL) {
		secure_wipe(p, malloc_usable_size(p));
		free(p);
	}
}

void
json_use_wiping_allocator(void)
{
	json_set_alloc_funcs(malloc, wiping_free);
}

bool
fd_is_local_regular(int fd)
{
	static const unsigned long remote[] = {
	    0x65735546, /* FUSE */
	    0x6969,     /* NFS */
	    0xff534d42, /* CIFS */
	    0xfe534d42, /* SMB2 */
	    0x517b,     /* SMB */
	    0x01021997, /* 9P */
	    0x564c,     /* NCP */
	    0x6b414653, /* AFS */
	    0x00c36400, /* CEPH */
	};
	struct statfs sf;
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fstatfs(fd, &sf) != 0) {
		return false;
	}
	for (size_t i = 0; i < ARRAY_SIZE(remote); i++) {
		if ((unsigned long)sf.f_type == remote[i]) {
			return false;
		}
	}
	return true;
}

int
write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fd_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t got = pread(fd, p, n, (off_t)off);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got < 0) {
			return SIGNET_EINTERNAL;
		}
		if (got == 0) {
			return SIGNET_EINVAL;
		}
		p += got;
		n -= (size_t)got;
		off += (uint64_t)got;
	}
	return 0;
}

int
fd_pwrite_all(int fd, const void *data, size_t len, uint64_t off)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int
file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096], dir[4096];
	int fd = -1, dfd = -1, r = SIGNET_EINTERNAL;

	if (!str_printf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) ||
	    !str_printf(dir, sizeof(dir), "%s", path)) {
		return SIGNET_EINVAL;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = signet_err_from_errno(errno);
		log_err("cannot create %s: %s", tmp, strerror(errno));
		return r;
	}
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		r = signet_err_from_errno(errno);
		log_err("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		r = signet_err_from_errno(errno);
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = signet_err_from_errno(errno);
		log_err("cannot rename %s: %s", tmp, strerror(errno));
		goto out;
	}
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
out:
	if (fd >= 0) {
		close(fd);
	}
	unlink(tmp);
	return r;
}

bool
str_printf(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < outlen;
}
