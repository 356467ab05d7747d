/* SPDX-License-Identifier: Apache-2.0 */
/* Small utilities every binary shares: secret memory, random bytes, files, names, time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Wipe memory in a way the compiler may not elide. */
void secure_wipe(void *p, size_t n);

/*
 * Secret buffers: locked in memory (mlock, best effort with a warning),
 * excluded from core dumps, wiped on free.
 */
struct secret {
	uint8_t *data;
	size_t len;
	size_t cap;
};

int secret_alloc(struct secret *s, size_t cap);
void secret_free(struct secret *s);
/* Read a secret (a PIN) from a file: at most MAX bytes, one trailing newline stripped. */
int secret_read_file(struct secret *s, const char *path, size_t max);

/* Cryptographically strong random bytes (OpenSSL's DRBG). 0 or an error. */
int random_bytes(void *out, size_t n);

/* Seconds since the epoch (wall clock) and a monotonic clock in milliseconds. */
int64_t time_now(void);
uint64_t time_mono_ms(void);
/* Format T as RFC 3339 UTC ("2026-11-25T09:24:14Z") into OUT (at least 21 bytes). */
void time_format(int64_t t, char *out, size_t outlen);

/*
 * Names of tenants, users, groups and key labels: 1..64 characters of
 * [A-Za-z0-9._-], not starting with '.' or '-'. Nothing path-like passes.
 */
bool name_is_valid(const char *s);

/* Read a whole regular file of at most MAX bytes from FD (from its start). */
int fd_read_all(int fd, size_t max, uint8_t **out, size_t *outlen);

/*
 * Write DATA to PATH atomically: a temporary file in the same folder,
 * fsync, rename, fsync of the folder. MODE applies to the new file.
 * 0, SIGNET_ENOSPACE when the filesystem is full, else an error.
 */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Write all of LEN bytes to FD, retrying on EINTR and short writes. 0 or -errno. */
int write_all(int fd, const void *data, size_t len);
/* Read exactly N bytes at OFF: 0, SIGNET_EINVAL when the file ends first, SIGNET_EINTERNAL on I/O errors. */
int fd_pread_all(int fd, void *buf, size_t n, uint64_t off);
/* Write all of LEN bytes at OFF: 0 or -errno. */
int fd_pwrite_all(int fd, const void *data, size_t len, uint64_t off);

/*
 * Make jansson wipe every block it frees: requests and replies carry API
 * tokens, and their parsed and serialised copies pass through its heap.
 * Call once, before any JSON value exists.
 */
void json_use_wiping_allocator(void);

/*
 * Is FD a regular file on a local filesystem? Descriptors from clients on
 * FUSE or network filesystems could block a worker forever: refused.
 */
bool fd_is_local_regular(int fd);

/* snprintf that reports truncation as failure (false). */
bool str_printf(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
