/* SPDX-License-Identifier: Apache-2.0 */
/* Crash safety of the embedded SoftHSMv2 token: verified generations of its files, restored on start. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "daemon/tokenguard.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

#define TG_MAX_FILES 65536         /* files in the token directory */
#define TG_MAX_FILE (16u << 20)    /* bytes of one token file */
#define TG_MAX_MANIFEST (16u << 20)
#define TG_MAX_ATTRS 512           /* attributes of one object file */
#define TG_REL_MAX 192             /* "tokenuuid/file.object" */
#define TG_MANIFEST "MANIFEST"
#define TG_MAGIC "signet-token-generation 1"

/* SoftHSMv2 2.6 ObjectFile.cpp and File.cpp: top-level and nested attribute kinds. */
enum { SH_BOOL = 1, SH_ULONG = 2, SH_BYTES = 3, SH_ATTRMAP = 4, SH_MECHSET = 5 };
/* OSAttributes.h: CKA_VENDOR_DEFINED + 'SH' + n, the token's own attributes. */
#define CKA_OS_BASE (0x80000000ul + 0x5348ul)

struct tg_file {
	char rel[TG_REL_MAX]; /* "tokendir-entry/file" */
	size_t size;
	uint8_t sha[32];
	uint8_t *data; /* live scans only */
};

struct tg_set {
	struct tg_file *f;
	size_t n, cap;
	uint64_t gen;
	int64_t created;
};

#define TG_MAX_GENS 8 /* generations looked at for a good copy of a damaged file */

struct token_guard {
	pthread_mutex_t lock;
	char pending[PATH_MAX];  /* STATE_DIR/token-restores.pending */
	char tokendir[PATH_MAX]; /* SoftHSM's directories.tokendir */
	char gendir[PATH_MAX];   /* STATE_DIR/token-generations */
	struct tg_set newest;    /* the newest good generation (no data) */
	uint64_t maxgen;         /* the highest generation number on disk, good or not */
};

/* The SoftHSMv2 object file format */

struct sh_reader {
	const uint8_t *p;
	size_t left;
};

static bool
sh_u64(struct sh_reader *r, uint64_t *v)
{
	uint64_t x = 0;

	if (r->left < 8) {
		return false;
	}
	for (int i = 0; i < 8; i++) {
		x = (x << 8) | r->p[i]; /* ByteString::long_val: big-endian */
	}
	r->p += 8;
	r->left -= 8;
	*v = x;
	return true;
}

static bool
sh_skip(struct sh_reader *r, uint64_t n)
{
	if (n > r->left) {
		return false;
	}
	r->p += n;
	r->left -= (size_t)n;
	return true;
}

static bool
sh_value(struct sh_reader *r, uint64_t kind, bool nested)
{
	uint64_t n, count;

	switch (kind) {
	case SH_BOOL:
		return sh_skip(r, 1);
	case SH_ULONG:
		return sh_skip(r, 8);
	case SH_BYTES:
		return sh_u64(r, &n) && sh_skip(r, n);
	case SH_MECHSET:
		return sh_u64(r, &count) && count <= r->left / 8 && sh_skip(r, count * 8);
	case SH_ATTRMAP: {
		/* A length in bytes, then (type, kind, value) entries filling it exactly. */
		struct sh_reader sub;
		if (nested || !sh_u64(r, &n) || n > r->left) {
			return false;
		}
		sub.p = r->p;
		sub.left = (size_t)n;
		while (sub.left > 0) {
			uint64_t type, k;
			if (!sh_u64(&sub, &type) || !sh_u64(&sub, &k) || !sh_value(&sub, k, true)) {
				return false;
			}
		}
		return sh_skip(r, n);
	}
	default:
		return false;
	}
}

int
softhsm_object_check(const uint8_t *data, size_t len, bool token_object, unsigned long *types,
		     size_t maxtypes, size_t *ntypes, char *why, size_t whylen)
{
	struct sh_reader r = {data, len};
	uint64_t gen, type, kind;
	unsigned need = 0;
	size_t n = 0;

	*ntypes = 0;
	if (len == 0) {
		snprintf(why, whylen, "empty");
		return SIGNET_EINVAL;
	}
	if (!sh_u64(&r, &gen)) {
		snprintf(why, whylen, "cut in its generation number");
		return SIGNET_EINVAL;
	}
	while (r.left > 0) {
		if (!sh_u64(&r, &type) || !sh_u64(&r, &kind) || !sh_value(&r, kind, false)) {
			snprintf(why, whylen, "attribute %zu is cut or unknown", n + 1);
			return SIGNET_EINVAL;
		}
		if (type >= CKA_OS_BASE + 1 && type <= CKA_OS_BASE + 5) {
			need |= 1u << (type - CKA_OS_BASE - 1);
		}
		if (n < maxtypes) {
			types[n] = (unsigned long)type;
		}
		n++;
	}
	*ntypes = n < maxtypes ? n : maxtypes;
	if (n == 0) {
		snprintf(why, whylen, "no attributes");
		return SIGNET_EINVAL;
	}
	if (token_object && need != 0x1f) {
		/* Label, serial, flags, SO PIN and user PIN: a token object without them is cut. */
		snprintf(why, whylen, "the token's own attributes are incomplete");
		return SIGNET_EINVAL;
	}
	return 0;
}

/* Small file helpers */

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 96 || s[0] == '.') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_')) {
			return false;
		}
	}
	return true;
}

/* Exactly 64 hex digits at IN (not necessarily terminated) into 32 bytes. */
static bool
hex64_decode(const char *in, uint8_t out[32])
{
	char buf[65];

	memcpy(buf, in, 64);
	buf[64] = '\0';
	return hex_decode(buf, out, 32);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void
sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	(void)EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

static int
fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0 || fsync(fd) != 0) {
		r = -errno;
	}
	if (fd >= 0) {
		close(fd);
	}
	return r;
}

static int
read_file(const char *path, size_t max, uint8_t **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (fd < 0) {
		return SIGNET_EINTERNAL;
	}
	r = fd_read_all(fd, max, data, len);
	close(fd);
	return r;
}

static int
write_file_synced(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r;

	if (fd < 0) {
		return -errno;
	}
	r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) != 0) {
		r = -errno;
	}
	close(fd);
	return r;
}

/* Remove a directory of at most two levels (a generation, a restore in progress). */
static int
rm_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	char sub[PATH_MAX];
	int r = 0;

	if (d == NULL) {
		int e0 = errno;
		if (fd >= 0) {
			close(fd);
		}
		if (e0 == ENOENT) {
			return 0;
		}
		/* Not a folder (or a link): removed as a file, never followed. */
		return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		if (!str_printf(sub, sizeof(sub), "%s/%s", path, e->d_name) ||
		    lstat(sub, &st) != 0) {
			r = -EIO;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (rm_tree(sub) != 0) {
				r = -EIO;
			}
		} else if (unlink(sub) != 0) {
			r = -errno;
		}
	}
	closedir(d);
	if (unlinkat(AT_FDCWD, path, AT_REMOVEDIR) != 0 && errno != ENOENT) {
		r = -errno;
	}
	return r;
}

/* Sets of files */

static void
set_clear(struct tg_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->f[i].data);
	}
	free(s->f);
	memset(s, 0, sizeof(*s));
}

static struct tg_file *
set_add(struct tg_set *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap == 0 ? 32 : s->cap * 2;
		struct tg_file *f;
		if (s->n >= TG_MAX_FILES || (f = realloc(s->f, cap * sizeof(*f))) == NULL) {
			return NULL;
		}
		s->f = f;
		s->cap = cap;
	}
	memset(&s->f[s->n], 0, sizeof(s->f[0]));
	return &s->f[s->n++];
}

static int
file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tg_file *)a)->rel, ((const struct tg_file *)b)->rel);
}

static const struct tg_file *
set_find(const struct tg_set *s, const char *rel)
{
	struct tg_file key;

	if (s->n == 0 || strlen(rel) >= sizeof(key.rel)) {
		return NULL;
	}
	strcpy(key.rel, rel);
	return bsearch(&key, s->f, s->n, sizeof(key), file_cmp);
}

static bool
set_has_dir(const struct tg_set *s, const char *dir)
{
	size_t n = strlen(dir);

	for (size_t i = 0; i < s->n; i++) {
		if (strncmp(s->f[i].rel, dir, n) == 0 && s->f[i].rel[n] == '/') {
			return true;
		}
	}
	return false;
}

static bool
set_same(const struct tg_set *a, const struct tg_set *b)
{
	if (a->n != b->n) {
		return false;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->f[i].rel, b->f[i].rel) != 0 || a->f[i].size != b->f[i].size ||
		    memcmp(a->f[i].sha, b->f[i].sha, 32) != 0) {
			return false;
		}
	}
	return true;
}

/*
 * Read every regular file of every token folder under ROOT (one level of
 * folders, as SoftHSM's file store lays them out). *MISSING is set when
 * ROOT does not exist.
 */
static int
scan_tree(const char *root, struct tg_set *s, bool *missing)
{
	DIR *top = opendir(root), *d = NULL;
	struct dirent *e, *f;
	char path[PATH_MAX];
	int r = 0;

	*missing = false;
	if (top == NULL) {
		if (errno == ENOENT) {
			*missing = true;
			return 0;
		}
		log_err("token guard: cannot read %s: %s", root, strerror(errno));
		return SIGNET_EINTERNAL;
	}
	while (r == 0 && (e = readdir(top)) != NULL) {
		struct stat st;
		if (e->d_name[0] == '.' || !str_printf(path, sizeof(path), "%s/%s", root, e->d_name) ||
		    lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
			continue; /* SoftHSM keeps only folders here */
		}
		if (!name_ok(e->d_name)) {
			log_warning("token guard: %s is no token folder of SoftHSM's; left alone", path);
			continue;
		}
		if ((d = opendir(path)) == NULL) {
			log_err("token guard: cannot read the token folder %s", path);
			r = SIGNET_EINTERNAL;
			break;
		}
		while (r == 0 && (f = readdir(d)) != NULL) {
			char fp[PATH_MAX];
			struct tg_file *tf;
			if (strcmp(f->d_name, ".") == 0 || strcmp(f->d_name, "..") == 0 ||
			    !str_printf(fp, sizeof(fp), "%s/%s", path, f->d_name) ||
			    lstat(fp, &st) != 0 || !S_ISREG(st.st_mode)) {
				continue;
			}
			if (!name_ok(f->d_name)) {
				log_warning("token guard: %s is no file of SoftHSM's; left alone", fp);
				continue;
			}
			if ((tf = set_add(s)) == NULL ||
			    !str_printf(tf->rel, sizeof(tf->rel), "%s/%s", e->d_name, f->d_name)) {
				log_err("token guard: cannot keep %s", fp);
				r = SIGNET_EINTERNAL;
				break;
			}
			if (read_file(fp, TG_MAX_FILE, &tf->data, &tf->size) != 0) {
				log_err("token guard: cannot read %s", fp);
				r = SIGNET_EINTERNAL;
				break;
			}
			sha256(tf->data, tf->size, tf->sha);
		}
		closedir(d);
		d = NULL;
	}
	closedir(top);
	if (r == 0 && s->n > 0) {
		qsort(s->f, s->n, sizeof(s->f[0]), file_cmp);
	}
	return r;
}

/* Generations */

static bool
gen_name(const char *name, uint64_t *gen)
{
	char *end;
	unsigned long long v;

	if (strncmp(name, "gen-", 4) != 0 || strlen(name) != 20) {
		return false;
	}
	errno = 0;
	v = strtoull(name + 4, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0) {
		return false;
	}
	*gen = v;
	return true;
}

static int
gen_path(const struct token_guard *g, uint64_t gen, const char *suffix, char *out, size_t outlen)
{
	return str_printf(out, outlen, "%s/gen-%016" PRIu64 "%s", g->gendir, gen, suffix)
		   ? 0
		   : SIGNET_EINTERNAL;
}

static int
manifest_text(const struct tg_set *s, char **out, size_t *outlen)
{
	size_t cap = 128 + s->n * (TG_REL_MAX + 96), n;
	char *t = malloc(cap);
	uint8_t h[32];
	char hex[65];

	if (t == NULL) {
		return SIGNET_EINTERNAL;
	}
	n = (size_t)snprintf(t, cap, "%s\ngeneration %" PRIu64 "\ncreated %" PRId64 "\n", TG_MAGIC,
			     s->gen, s->created);
	for (size_t i = 0; i < s->n; i++) {
		hex_encode(s->f[i].sha, 32, hex);
		n += (size_t)snprintf(t + n, cap - n, "file %s %zu %s\n", s->f[i].rel, s->f[i].size,
				      hex);
	}
	sha256((const uint8_t *)t, n, h);
	hex_encode(h, 32, hex);
	n += (size_t)snprintf(t + n, cap - n, "end %s\n", hex);
	*out = t;
	*outlen = n;
	return 0;
}

/* Parse a MANIFEST whose closing hash covers every line before it. */
static int
manifest_parse(const char *text, size_t len, struct tg_set *s)
{
	const char *end = memmem(text, len, "\nend ", 5);
	uint8_t h[32], want[32];
	char line[TG_REL_MAX + 128];
	const char *p = text;

	if (end == NULL || text + len - end != 5 + 64 + 1 || end[5 + 64] != '\n' ||
	    !hex64_decode(end + 5, want)) {
		return SIGNET_EINVAL;
	}
	end++; /* the hash covers the newline before "end" */
	sha256((const uint8_t *)text, (size_t)(end - text), h);
	if (CRYPTO_memcmp(h, want, 32) != 0) {
		return SIGNET_EINVAL;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n;
		if (nl == NULL || (n = (size_t)(nl - p)) >= sizeof(line)) {
			return SIGNET_EINVAL;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (strcmp(line, TG_MAGIC) == 0) {
			continue;
		}
		if (sscanf(line, "generation %" SCNu64, &s->gen) == 1 ||
		    sscanf(line, "created %" SCNd64, &s->created) == 1) {
			continue;
		}
		char rel[TG_REL_MAX], hex[65];
		size_t size;
		struct tg_file *f;
		char *slash;
		if (sscanf(line, "file %191s %zu %64s", rel, &size, hex) != 3 ||
		    (slash = strchr(rel, '/')) == NULL || strchr(slash + 1, '/') != NULL) {
			return SIGNET_EINVAL;
		}
		*slash = '\0';
		if (!name_ok(rel) || !name_ok(slash + 1) || (f = set_add(s)) == NULL) {
			return SIGNET_EINVAL;
		}
		*slash = '/';
		strcpy(f->rel, rel);
		f->size = size;
		if (strlen(hex) != 64 || !hex64_decode(hex, f->sha)) {
			return SIGNET_EINVAL;
		}
	}
	if (s->gen == 0) {
		return SIGNET_EINVAL;
	}
	qsort(s->f, s->n, sizeof(s->f[0]), file_cmp);
	return 0;
}

/* Load generation GEN and verify every file against its manifest. */
static int
gen_load(const struct token_guard *g, uint64_t gen, struct tg_set *s)
{
	char dir[PATH_MAX], path[PATH_MAX];
	uint8_t *text = NULL;
	size_t len;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = gen_path(g, gen, "", dir, sizeof(dir))) != 0 ||
	    !str_printf(path, sizeof(path), "%s/%s", dir, TG_MANIFEST) ||
	    read_file(path, TG_MAX_MANIFEST, &text, &len) != 0) {
		return SIGNET_EINVAL;
	}
	r = manifest_parse((const char *)text, len, s);
	free(text);
	if (r == 0 && s->gen != gen) {
		r = SIGNET_EINVAL;
	}
	for (size_t i = 0; r == 0 && i < s->n; i++) {
		uint8_t *data = NULL, h[32];
		size_t n;
		if (!str_printf(path, sizeof(path), "%s/%s", dir, s->f[i].rel) ||
		    read_file(path, TG_MAX_FILE, &data, &n) != 0) {
			r = SIGNET_EINVAL;
			break;
		}
		sha256(data, n, h);
		free(data);
		if (n != s->f[i].size || memcmp(h, s->f[i].sha, 32) != 0) {
			log_err("token guard: generation %" PRIu64 ": %s does not match its manifest",
				gen, s->f[i].rel);
			r = SIGNET_EINVAL;
		}
	}
	if (r != 0) {
		set_clear(s);
	}
	return r;
}

static int
u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The generations on disk, newest first; stale temporary ones are removed. */
static int
gen_list(const struct token_guard *g, uint64_t **out, size_t *count)
{
	DIR *d = opendir(g->gendir);
	struct dirent *e;
	uint64_t *v = NULL, gen;
	size_t n = 0, cap = 0;
	char path[PATH_MAX];

	*out = NULL;
	*count = 0;
	if (d == NULL) {
		return errno == ENOENT ? 0 : SIGNET_EINTERNAL;
	}
	while ((e = readdir(d)) != NULL) {
		if (ends_with(e->d_name, ".tmp")) {
			if (str_printf(path, sizeof(path), "%s/%s", g->gendir, e->d_name)) {
				(void)rm_tree(path);
			}
			continue;
		}
		if (!gen_name(e->d_name, &gen)) {
			continue;
		}
		if (n == cap) {
			uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));
			if (nv == NULL) {
				free(v);
				closedir(d);
				return SIGNET_EINTERNAL;
			}
			v = nv;
		}
		v[n++] = gen;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), u64_desc);
	*out = v;
	*count = n;
	return 0;
}

/* The newest generation that verifies (an empty set when there is none). */
static int
gen_newest(struct token_guard *g, struct tg_set *s)
{
	uint64_t *v;
	size_t n;
	int r = gen_list(g, &v, &n);

	memset(s, 0, sizeof(*s));
	if (r == 0 && n > 0 && v[0] > g->maxgen) {
		g->maxgen = v[0];
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (gen_load(g, v[i], s) == 0) {
			break;
		}
		log_err("token guard: generation %" PRIu64 " is damaged; trying an older one", v[i]);
	}
	free(v);
	return r;
}

static void
gen_prune(struct token_guard *g)
{
	uint64_t *v;
	size_t n;
	char path[PATH_MAX];

	if (gen_list(g, &v, &n) != 0) {
		return;
	}
	for (size_t i = TOKEN_GUARD_KEEP; i < n; i++) {
		if (gen_path(g, v[i], "", path, sizeof(path)) == 0) {
			(void)rm_tree(path);
		}
	}
	free(v);
}

static int
mkdir_for(const char *root, const char *rel, char *path, size_t pathlen)
{
	const char *slash = strchr(rel, '/');

	if (slash == NULL ||
	    !str_printf(path, pathlen, "%s/%.*s", root, (int)(slash - rel), rel)) {
		return -EINVAL;
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		return -errno;
	}
	return 0;
}

/* fsync every token folder of SET under ROOT, then ROOT. */
static int
fsync_dirs(const char *root, const struct tg_set *s)
{
	char path[PATH_MAX];
	int r = 0;

	for (size_t i = 0; r == 0 && i < s->n; i++) {
		const char *slash = strchr(s->f[i].rel, '/');
		size_t k = (size_t)(slash - s->f[i].rel);
		if (i > 0 && strncmp(s->f[i - 1].rel, s->f[i].rel, k + 1) == 0) {
			continue;
		}
		if (!str_printf(path, sizeof(path), "%s/%.*s", root, (int)k, s->f[i].rel)) {
			return -EINVAL;
		}
		r = fsync_path(path);
	}
	return r != 0 ? r : fsync_path(root);
}

/*
 * Write LIVE (with data) as the next generation: files unchanged since the
 * newest one are hard links to it, the others fresh fsynced copies of the
 * bytes that were checked; the manifest last, then one rename.
 */
static int
gen_write(struct token_guard *g, struct tg_set *live)
{
	char tmp[PATH_MAX], final[PATH_MAX], prev[PATH_MAX], path[PATH_MAX], sub[PATH_MAX];
	char *text = NULL;
	size_t tlen;
	int r;

	/* Past every number on disk: a damaged newest generation is never written over. */
	live->gen = (g->maxgen > g->newest.gen ? g->maxgen : g->newest.gen) + 1;
	live->created = time_now();
	if (mkdir(g->gendir, 0700) == 0) {
		/* The new folder's own entry, in the state directory. */
		char parent[PATH_MAX], *slash;
		snprintf(parent, sizeof(parent), "%s", g->gendir);
		if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
			*slash = '\0';
			(void)fsync_path(parent);
		}
	} else if (errno != EEXIST) {
		r = -errno;
		goto out;
	}
	if ((r = gen_path(g, live->gen, ".tmp", tmp, sizeof(tmp))) != 0 ||
	    (r = gen_path(g, live->gen, "", final, sizeof(final))) != 0 ||
	    (r = gen_path(g, g->newest.gen, "", prev, sizeof(prev))) != 0) {
		goto out;
	}
	(void)rm_tree(tmp);
	if (mkdir(tmp, 0700) != 0) {
		r = -errno;
		goto out;
	}
	for (size_t i = 0; i < live->n; i++) {
		const struct tg_file *f = &live->f[i];
		const struct tg_file *old = set_find(&g->newest, f->rel);
		char from[PATH_MAX];
		if ((r = mkdir_for(tmp, f->rel, sub, sizeof(sub))) != 0 ||
		    !str_printf(path, sizeof(path), "%s/%s", tmp, f->rel)) {
			r = r != 0 ? r : -EINVAL;
			goto out;
		}
		if (old != NULL && old->size == f->size && memcmp(old->sha, f->sha, 32) == 0 &&
		    str_printf(from, sizeof(from), "%s/%s", prev, f->rel) &&
		    linkat(AT_FDCWD, from, AT_FDCWD, path, 0) == 0) {
			continue;
		}
		if ((r = write_file_synced(path, f->data, f->size)) != 0) {
			goto out;
		}
	}
	if ((r = manifest_text(live, &text, &tlen)) != 0 ||
	    !str_printf(path, sizeof(path), "%s/%s", tmp, TG_MANIFEST)) {
		r = r != 0 ? r : -EINVAL;
		goto out;
	}
	if ((r = write_file_synced(path, (const uint8_t *)text, tlen)) != 0 ||
	    (r = fsync_dirs(tmp, live)) != 0) {
		goto out;
	}
	if (rename(tmp, final) != 0) {
		r = -errno;
		goto out;
	}
	g->maxgen = live->gen;
	if ((r = fsync_path(g->gendir)) != 0) {
		goto out;
	}
	/* The new newest generation, without the data. */
	for (size_t i = 0; i < live->n; i++) {
		free(live->f[i].data);
		live->f[i].data = NULL;
	}
	set_clear(&g->newest);
	g->newest = *live;
	memset(live, 0, sizeof(*live));
	gen_prune(g);
out:
	free(text);
	if (r != 0) {
		log_err("token guard: cannot write a generation of the token: %s",
			strerror(r < 0 && r > -4096 ? -r : EIO));
		(void)rm_tree(tmp);
		return r == -ENOSPC || r == -EDQUOT ? SIGNET_EUNAVAILABLE : SIGNET_EINTERNAL;
	}
	return 0;
}

/* The CKA_ID of a (checked) object file: 0 and its length, or -1 when it has none. */
static int
object_cka_id(const uint8_t *data, size_t len, uint8_t *id, size_t idmax, size_t *idlen)
{
	struct sh_reader r = {data, len};
	uint64_t gen, type, kind, n;

	if (!sh_u64(&r, &gen)) {
		return -1;
	}
	while (r.left > 0) {
		if (!sh_u64(&r, &type) || !sh_u64(&r, &kind)) {
			return -1;
		}
		if (type == 0x102 && kind == SH_BYTES) { /* CKA_ID */
			if (!sh_u64(&r, &n) || n > r.left || n > idmax) {
				return -1;
			}
			memcpy(id, r.p, (size_t)n);
			*idlen = (size_t)n;
			return 0;
		}
		if (!sh_value(&r, kind, false)) {
			return -1;
		}
	}
	return -1;
}

static bool
id_expected(const struct token_ids *ids, const uint8_t *id, size_t idlen)
{
	for (size_t i = 0; ids != NULL && idlen == TOKEN_ID_LEN && i < ids->n; i++) {
		if (memcmp(ids->id[i], id, TOKEN_ID_LEN) == 0) {
			return true;
		}
	}
	return false;
}

/* Does DATA check as the object file BASE ("token.object" or "<uuid>.object")? */
static bool
object_ok(const char *base, const uint8_t *data, size_t len, unsigned long *types, size_t *nt,
	  char *why, size_t whylen)
{
	return softhsm_object_check(data, len, strcmp(base, "token.object") == 0, types,
				    TG_MAX_ATTRS, nt, why, whylen) == 0;
}

static const char *
base_of(const char *rel)
{
	return strchr(rel, '/') + 1;
}

/* A file to repair at start: damaged in place, or missing though expected. */
struct repair {
	char rel[TG_REL_MAX];
	char why[96];
	bool missing;
};

struct plan {
	struct repair *v;
	size_t n, cap;
	bool all; /* the token directory is gone: the whole newest generation comes back */
	char text[512];
	size_t used;
};

static int
plan_add(struct plan *p, const char *rel, bool missing, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
plan_add(struct plan *p, const char *rel, bool missing, const char *fmt, ...)
{
	va_list ap;
	struct repair *x;
	int k;

	if (p->n == p->cap) {
		size_t cap = p->cap != 0 ? p->cap * 2 : 8;
		struct repair *v = realloc(p->v, cap * sizeof(*v));
		if (v == NULL) {
			return SIGNET_EINTERNAL;
		}
		p->v = v;
		p->cap = cap;
	}
	x = &p->v[p->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->rel, sizeof(x->rel), "%s", rel);
	x->missing = missing;
	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
	k = snprintf(p->text + p->used, sizeof(p->text) - p->used, "%s%s: %s",
		     p->used > 0 ? "; " : "", rel, x->why);
	if (k > 0 && (size_t)k < sizeof(p->text) - p->used) {
		p->used += (size_t)k;
	}
	return 0;
}

/*
 * What is wrong with LIVE, compared with the newest good generation:
 * - an object file that fails its structure check, or that lost attributes
 *   it had there (a cut between two attributes), is damaged;
 * - a token.object, or an object file whose CKA_ID the store expects, that
 *   the generation holds but the live folder lacks (a directory entry lost
 *   to a power loss) is missing;
 * - the whole token directory gone (or holding no token) while a generation
 *   exists: all of it comes back.
 * New files, files deleted by signetd (not in the newest generation any
 * more) and fully written changed files are fine. A token folder that
 * disappeared while another token exists is the officer's doing (a token
 * deleted and made anew) and is left alone.
 */
static int
plan_repairs(struct token_guard *g, const struct tg_set *live, bool missing,
	     const struct token_ids *expected, struct plan *p)
{
	unsigned long *types = calloc(TG_MAX_ATTRS, sizeof(*types));
	unsigned long *old = calloc(TG_MAX_ATTRS, sizeof(*old));
	size_t nt, no;
	char reason[96];
	int r = 0;

	if (types == NULL || old == NULL) {
		r = SIGNET_EINTERNAL;
		goto out;
	}
	if ((missing || live->n == 0) && g->newest.n > 0) {
		p->all = true;
		r = plan_add(p, "(token directory)", true, "missing or empty");
		goto out;
	}
	for (size_t i = 0; r == 0 && i < live->n; i++) {
		const struct tg_file *f = &live->f[i], *o;
		const char *base = base_of(f->rel);
		if (!ends_with(base, ".object")) {
			continue;
		}
		if (!object_ok(base, f->data, f->size, types, &nt, reason, sizeof(reason))) {
			r = plan_add(p, f->rel, false, "%s", reason);
			continue;
		}
		o = set_find(&g->newest, f->rel);
		if (o != NULL && memcmp(o->sha, f->sha, 32) != 0) {
			char path[PATH_MAX];
			uint8_t *data = NULL;
			size_t n;
			if (gen_path(g, g->newest.gen, "", path, sizeof(path)) != 0 ||
			    strlen(path) + strlen(f->rel) + 2 > sizeof(path)) {
				continue;
			}
			strcat(path, "/");
			strcat(path, f->rel);
			if (read_file(path, TG_MAX_FILE, &data, &n) == 0 &&
			    object_ok(base, data, n, old, &no, reason, sizeof(reason))) {
				for (size_t a = 0; a < no; a++) {
					bool found = false;
					for (size_t b = 0; b < nt && !found; b++) {
						found = types[b] == old[a];
					}
					if (!found) {
						r = plan_add(p, f->rel, false,
							     "lost attribute 0x%lx (cut)", old[a]);
						break;
					}
				}
			}
			free(data);
		}
	}
	for (size_t i = 0; r == 0 && i < g->newest.n; i++) {
		const char *rel = g->newest.f[i].rel, *base = base_of(rel);
		char dir[TG_REL_MAX];
		if (!ends_with(base, ".object") || set_find(live, rel) != NULL) {
			continue;
		}
		snprintf(dir, sizeof(dir), "%.*s", (int)(base - rel - 1), rel);
		if (!set_has_dir(live, dir)) {
			log_warning("token guard: the token folder %s is gone while another token "
				    "exists: taken as the officer's doing, not repaired",
				    dir);
			continue;
		}
		if (strcmp(base, "token.object") == 0) {
			r = plan_add(p, rel, true, "missing");
		} else {
			char path[PATH_MAX];
			uint8_t *data = NULL, id[64];
			size_t n, idlen;
			if (gen_path(g, g->newest.gen, "", path, sizeof(path)) != 0 ||
			    strlen(path) + strlen(rel) + 2 > sizeof(path)) {
				continue;
			}
			strcat(path, "/");
			strcat(path, rel);
			if (read_file(path, TG_MAX_FILE, &data, &n) == 0 &&
			    object_cka_id(data, n, id, sizeof(id), &idlen) == 0 &&
			    id_expected(expected, id, idlen)) {
				r = plan_add(p, rel, true, "missing (an object the store expects)");
			}
			free(data);
		}
	}
out:
	free(types);
	free(old);
	return r;
}

/*
 * The newest good copy of REL among the generations on disk (newest
 * first, each verified against its manifest; an object file must also
 * pass its structure check). 0 with *DATA (caller frees), or
 * SIGNET_ENOTFOUND.
 */
static int
gen_find_copy(struct token_guard *g, const char *rel, uint8_t **data, size_t *len,
	      uint64_t *from)
{
	unsigned long *types = calloc(TG_MAX_ATTRS, sizeof(*types));
	uint64_t *v = NULL;
	size_t n = 0, nt;
	char why[96], path[PATH_MAX];
	int r = SIGNET_ENOTFOUND;

	if (types == NULL || gen_list(g, &v, &n) != 0) {
		free(types);
		return SIGNET_EINTERNAL;
	}
	for (size_t i = 0; i < n && i < TG_MAX_GENS && r != 0; i++) {
		struct tg_set s;
		const struct tg_file *f;
		uint8_t h[32];
		if (gen_load(g, v[i], &s) != 0) {
			continue;
		}
		if ((f = set_find(&s, rel)) != NULL && gen_path(g, v[i], "", path, sizeof(path)) == 0 &&
		    strlen(path) + strlen(rel) + 2 <= sizeof(path)) {
			strcat(path, "/");
			strcat(path, rel);
			if (read_file(path, TG_MAX_FILE, data, len) == 0) {
				sha256(*data, *len, h);
				if (memcmp(h, f->sha, 32) == 0 &&
				    (!ends_with(rel, ".object") ||
				     object_ok(base_of(rel), *data, *len, types, &nt, why, sizeof(why)))) {
					*from = v[i];
					r = 0;
				} else {
					free(*data);
					*data = NULL;
				}
			}
		}
		set_clear(&s);
	}
	free(v);
	free(types);
	return r;
}

/* Write DATA as REL in the token directory: a temporary beside it, fsync, rename, fsync. */
static int
put_file(struct token_guard *g, const char *rel, const uint8_t *data, size_t len)
{
	char dir[PATH_MAX], tmp[PATH_MAX], dst[PATH_MAX];
	const char *base = base_of(rel);

	if (!str_printf(dir, sizeof(dir), "%s/%.*s", g->tokendir, (int)(base - rel - 1), rel) ||
	    !str_printf(tmp, sizeof(tmp), "%s/.%s.restore", dir, base) ||
	    !str_printf(dst, sizeof(dst), "%s/%s", dir, base)) {
		return SIGNET_EINTERNAL;
	}
	(void)unlink(tmp);
	if (write_file_synced(tmp, data, len) != 0 || rename(tmp, dst) != 0 ||
	    fsync_path(dir) != 0) {
		(void)unlink(tmp);
		return SIGNET_EINTERNAL;
	}
	return 0;
}

/* Move the damaged REL aside into QDIR (kept for inspection, never deleted). */
static int
quarantine_file(struct token_guard *g, const char *qdir, const char *rel)
{
	char src[PATH_MAX], dst[PATH_MAX], sub[PATH_MAX];
	const char *base = base_of(rel);

	if (mkdir(qdir, 0700) != 0 && errno != EEXIST) {
		return SIGNET_EINTERNAL;
	}
	if (mkdir_for(qdir, rel, sub, sizeof(sub)) != 0 ||
	    !str_printf(src, sizeof(src), "%s/%s", g->tokendir, rel) ||
	    !str_printf(dst, sizeof(dst), "%s/%s", qdir, rel)) {
		return SIGNET_EINTERNAL;
	}
	(void)base;
	if (rename(src, dst) != 0 && errno != ENOENT) {
		return SIGNET_EINTERNAL;
	}
	return fsync_path(sub) == 0 ? 0 : SIGNET_EINTERNAL;
}

/*
 * The whole token directory is gone: the newest generation comes back,
 * copied (never linked: SoftHSM rewrites its files in place) into a sibling
 * folder, fsynced, and renamed into place.
 */
static int
restore_all(struct token_guard *g, const struct tg_set *s)
{
	char rdir[PATH_MAX], src[PATH_MAX], dst[PATH_MAX], sub[PATH_MAX], parent[PATH_MAX];
	char *slash;
	int r;

	if (!str_printf(rdir, sizeof(rdir), "%s.restore", g->tokendir) ||
	    (r = gen_path(g, s->gen, "", src, sizeof(src))) != 0) {
		return SIGNET_EINTERNAL;
	}
	(void)rm_tree(rdir);
	if (mkdir(rdir, 0700) != 0) {
		return SIGNET_EINTERNAL;
	}
	for (size_t i = 0; i < s->n; i++) {
		char from[PATH_MAX];
		uint8_t *data = NULL;
		size_t n;
		if (mkdir_for(rdir, s->f[i].rel, sub, sizeof(sub)) != 0 ||
		    !str_printf(from, sizeof(from), "%s/%s", src, s->f[i].rel) ||
		    !str_printf(dst, sizeof(dst), "%s/%s", rdir, s->f[i].rel) ||
		    read_file(from, TG_MAX_FILE, &data, &n) != 0) {
			return SIGNET_EINTERNAL;
		}
		r = write_file_synced(dst, data, n);
		free(data);
		if (r != 0) {
			return SIGNET_EINTERNAL;
		}
	}
	if (fsync_dirs(rdir, s) != 0) {
		return SIGNET_EINTERNAL;
	}
	/* An empty token directory is moved aside first (kept, like any damaged copy). */
	if (rmdir(g->tokendir) != 0 && errno != ENOENT) {
		char moved[PATH_MAX];
		if (!str_printf(moved, sizeof(moved), "%s.empty-%" PRId64, g->tokendir, time_now()) ||
		    rename(g->tokendir, moved) != 0) {
			return SIGNET_EINTERNAL;
		}
	}
	if (rename(rdir, g->tokendir) != 0) {
		return SIGNET_EINTERNAL;
	}
	snprintf(parent, sizeof(parent), "%s", g->tokendir);
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
		*slash = '\0';
	}
	return fsync_path(parent) == 0 ? 0 : SIGNET_EINTERNAL;
}

/* Carry out plan P: each damaged file moved aside and replaced by its newest good copy. */
static int
repair(struct token_guard *g, struct plan *p, const char *qdir, char *done, size_t donelen)
{
	size_t used = 0;
	int k;

	done[0] = '\0';
	if (p->all) {
		k = snprintf(done, donelen, "the whole token directory from generation %" PRIu64,
			     g->newest.gen);
		(void)k;
		return restore_all(g, &g->newest);
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct repair *x = &p->v[i];
		uint8_t *data = NULL;
		size_t len;
		uint64_t from = 0;
		int r;
		if (!x->missing && quarantine_file(g, qdir, x->rel) != 0) {
			log_err("token guard: cannot move %s aside", x->rel);
			return SIGNET_EINTERNAL;
		}
		r = gen_find_copy(g, x->rel, &data, &len, &from);
		if (r == SIGNET_ENOTFOUND) {
			/* Never in a good generation: a half-made object, nobody's. */
			k = snprintf(done + used, donelen - used, "%s%s dropped (no generation holds it)",
				     used > 0 ? "; " : "", x->rel);
		} else if (r != 0 || put_file(g, x->rel, data, len) != 0) {
			free(data);
			log_err("token guard: cannot restore %s", x->rel);
			return SIGNET_EINTERNAL;
		} else {
			k = snprintf(done + used, donelen - used, "%s%s from generation %" PRIu64,
				     used > 0 ? "; " : "", x->rel, from);
		}
		free(data);
		if (k > 0 && (size_t)k < donelen - used) {
			used += (size_t)k;
		}
	}
	return 0;
}

/* SoftHSM's configuration: the token directory, and whether the file backend is in use. */
static int
softhsm_tokendir(const char *conf, char *out, size_t outlen, bool *file_backend)
{
	FILE *f = fopen(conf, "re");
	char line[PATH_MAX + 64];

	*file_backend = true; /* SoftHSM's default backend */
	out[0] = '\0';
	if (f == NULL) {
		log_err("token guard: cannot read %s: %s", conf, strerror(errno));
		return SIGNET_EINTERNAL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *k = line, *v, *e;
		while (*k == ' ' || *k == '\t') {
			k++;
		}
		if (*k == '#' || (v = strchr(k, '=')) == NULL) {
			continue;
		}
		for (e = v; e > k && (e[-1] == ' ' || e[-1] == '\t'); e--) {
		}
		*e = '\0';
		for (v++; *v == ' ' || *v == '\t'; v++) {
		}
		v[strcspn(v, "\r\n")] = '\0';
		for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--) {
		}
		*e = '\0';
		if (strcmp(k, "directories.tokendir") == 0) {
			snprintf(out, outlen, "%s", v);
		} else if (strcmp(k, "objectstore.backend") == 0) {
			*file_backend = strcmp(v, "file") == 0;
		}
	}
	fclose(f);
	/* A trailing slash would make the sibling folders land inside it. */
	for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--) {
		out[n - 1] = '\0';
	}
	if (out[0] != '/') {
		log_err("token guard: %s names no absolute directories.tokendir", conf);
		return SIGNET_EINTERNAL;
	}
	return 0;
}

/* A free name beside the token directory for its damaged files: TOKENDIR.damaged-TIME[-N]. */
static int
quarantine_name(const struct token_guard *g, char *out, size_t outlen)
{
	struct stat st;
	int64_t now = time_now();

	for (unsigned n = 0; n < 1000; n++) {
		bool fits = n == 0 ? str_printf(out, outlen, "%s.damaged-%" PRId64, g->tokendir, now)
				   : str_printf(out, outlen, "%s.damaged-%" PRId64 "-%u",
						g->tokendir, now, n);
		if (!fits) {
			break;
		}
		if (lstat(out, &st) != 0 && errno == ENOENT) {
			return 0;
		}
	}
	out[0] = '\0';
	return SIGNET_EINTERNAL;
}

/* The restores not yet audited, from the pending file (one line each), whole. */
static int
pending_read(struct token_guard *g, struct token_guard_report *rep)
{
	uint8_t *data = NULL;
	size_t len;

	free(rep->pending);
	rep->pending = NULL;
	if (read_file(g->pending, 1u << 20, &data, &len) != 0) {
		return errno == ENOENT ? 0 : SIGNET_EINTERNAL;
	}
	if ((rep->pending = malloc(len + 1)) == NULL) {
		free(data);
		return SIGNET_EINTERNAL;
	}
	memcpy(rep->pending, data, len);
	rep->pending[len] = '\0';
	free(data);
	return 0;
}

/* Add LINE to the pending file (written atomically, fsynced). */
static int
pending_add(struct token_guard *g, const char *line)
{
	uint8_t *old = NULL;
	size_t oldlen = 0, n = strlen(line);
	char *text;
	int r;

	if (read_file(g->pending, 1u << 20, &old, &oldlen) != 0) {
		old = NULL;
		oldlen = 0;
	}
	if ((text = malloc(oldlen + n + 1)) == NULL) {
		free(old);
		return SIGNET_EINTERNAL;
	}
	if (oldlen > 0) {
		memcpy(text, old, oldlen);
	}
	memcpy(text + oldlen, line, n);
	text[oldlen + n] = '\n';
	r = file_write_atomic(g->pending, text, oldlen + n + 1, 0600);
	free(text);
	free(old);
	return r == 0 ? 0 : SIGNET_EINTERNAL;
}

int
token_guard_restores_recorded(struct token_guard *g)
{
	char dir[PATH_MAX], *slash;

	if (g == NULL || (unlink(g->pending) != 0 && errno != ENOENT)) {
		return g == NULL ? 0 : SIGNET_EINTERNAL;
	}
	snprintf(dir, sizeof(dir), "%s", g->pending);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
	}
	return fsync_path(dir) == 0 ? 0 : SIGNET_EINTERNAL;
}

void
token_guard_report_free(struct token_guard_report *rep)
{
	free(rep->pending);
	rep->pending = NULL;
}

int
token_guard_open(const char *state_dir, const char *softhsm_conf, const struct token_ids *expected,
		 struct token_guard **out, struct token_guard_report *rep)
{
	struct token_guard *g;
	struct tg_set live = {0};
	struct plan p = {0};
	char rdir[PATH_MAX], line[1400], done[600];
	bool file_backend, missing;
	int r;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		return SIGNET_EINTERNAL;
	}
	pthread_mutex_init(&g->lock, NULL);
	if ((r = softhsm_tokendir(softhsm_conf, g->tokendir, sizeof(g->tokendir),
				  &file_backend)) != 0) {
		goto fail;
	}
	if (!file_backend) {
		log_warning("token guard: SoftHSM does not use its file backend; not guarded");
		token_guard_close(g);
		return 0;
	}
	if (!str_printf(g->gendir, sizeof(g->gendir), "%s/token-generations", state_dir) ||
	    !str_printf(g->pending, sizeof(g->pending), "%s/token-restores.pending", state_dir) ||
	    !str_printf(rdir, sizeof(rdir), "%s.restore", g->tokendir)) {
		r = SIGNET_EINTERNAL;
		goto fail;
	}
	/* A restore cut short: its copy is redone from the generation if still needed. */
	(void)rm_tree(rdir);
	if ((r = gen_newest(g, &g->newest)) != 0 ||
	    (r = scan_tree(g->tokendir, &live, &missing)) != 0 ||
	    (r = plan_repairs(g, &live, missing, expected, &p)) != 0) {
		goto fail;
	}
	rep->generation = g->newest.gen;
	rep->generation_time = g->newest.created;
	snprintf(rep->damaged, sizeof(rep->damaged), "%s", p.text);
	if (p.n > 0) {
		log_err("token guard: the token's files are damaged (%s)", p.text);
		if (g->newest.gen == 0) {
			log_err("token guard: no good generation to restore from: the token cannot "
				"be repaired here");
			r = SIGNET_ETOKEN;
			goto fail;
		}
		if (!p.all && quarantine_name(g, rep->quarantine, sizeof(rep->quarantine)) != 0) {
			r = SIGNET_EINTERNAL;
			goto fail;
		}
		/* Noted (fsynced) before the repair: the audit entry follows even after a crash. */
		snprintf(line, sizeof(line),
			 "the token's files were damaged (%s); repaired from the generations on "
			 "disk (newest %" PRIu64 "); the damaged files are kept in %s",
			 p.text, g->newest.gen,
			 rep->quarantine[0] != '\0' ? rep->quarantine : "(none: the directory was gone)");
		if ((r = pending_add(g, line)) != 0 ||
		    (r = repair(g, &p, rep->quarantine, done, sizeof(done))) != 0) {
			log_err("token guard: the repair failed");
			goto fail;
		}
		rep->restored = true;
		log_err("token guard: RESTORED the token: %s; the damaged files are kept in %s", done,
			rep->quarantine[0] != '\0' ? rep->quarantine : "(none)");
		/* What is on disk now is the consistent state a generation records. */
		set_clear(&live);
		if ((r = scan_tree(g->tokendir, &live, &missing)) != 0) {
			goto fail;
		}
	}
	if (!missing && live.n > 0 && !set_same(&live, &g->newest)) {
		if (gen_write(g, &live) != 0) {
			rep->snapshot_failed = true;
		}
		rep->generation = g->newest.gen;
		rep->generation_time = g->newest.created;
	}
	if (pending_read(g, rep) != 0) {
		r = SIGNET_EINTERNAL;
		goto fail;
	}
	free(p.v);
	set_clear(&live);
	*out = g;
	return 0;
fail:
	free(p.v);
	set_clear(&live);
	token_guard_close(g);
	return r;
}

void
token_guard_close(struct token_guard *g)
{
	if (g == NULL) {
		return;
	}
	set_clear(&g->newest);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void
token_guard_write_begin(struct token_guard *g)
{
	if (g != NULL) {
		pthread_mutex_lock(&g->lock);
	}
}

/* The live files that changed since the newest generation, and their folders, on disk. */
static void
sync_live(struct token_guard *g, const struct tg_set *live)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < live->n; i++) {
		const struct tg_file *o = set_find(&g->newest, live->f[i].rel);
		int fd;
		if (o != NULL && memcmp(o->sha, live->f[i].sha, 32) == 0) {
			continue;
		}
		if (str_printf(path, sizeof(path), "%s/%s", g->tokendir, live->f[i].rel) &&
		    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			(void)fsync(fd);
			close(fd);
		}
	}
	(void)fsync_dirs(g->tokendir, live);
}

int
token_guard_write_end(struct token_guard *g)
{
	struct tg_set live = {0};
	struct plan p = {0};
	bool missing;
	int r = 0;

	if (g == NULL) {
		return 0;
	}
	/*
	 * Another process (pkcs11-tool logging in) may be rewriting a file right
	 * now: a second look a moment later, and if the files still do not check,
	 * the previous generation stays the newest.
	 */
	for (int attempt = 0; attempt < 2; attempt++) {
		set_clear(&live);
		free(p.v);
		memset(&p, 0, sizeof(p));
		if ((r = scan_tree(g->tokendir, &live, &missing)) != 0 ||
		    (r = plan_repairs(g, &live, missing, NULL, &p)) != 0) {
			break;
		}
		if (p.n == 0) {
			/* SoftHSM does not sync: what the store now refers to goes to disk first. */
			sync_live(g, &live);
			if (!set_same(&live, &g->newest)) {
				r = gen_write(g, &live);
			}
			break;
		}
		r = SIGNET_EUNAVAILABLE;
		if (attempt == 0) {
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
		} else {
			log_err("token guard: no new generation: %s", p.text);
		}
	}
	free(p.v);
	set_clear(&live);
	pthread_mutex_unlock(&g->lock);
	return r;
}

void
token_guard_newest(struct token_guard *g, uint64_t *generation, int64_t *created)
{
	*generation = 0;
	*created = 0;
	if (g != NULL) {
		pthread_mutex_lock(&g->lock);
		*generation = g->newest.gen;
		*created = g->newest.created;
		pthread_mutex_unlock(&g->lock);
	}
}
