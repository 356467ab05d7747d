/* SPDX-License-Identifier: Apache-2.0 */
/* The web UI's static files: a fixed set read at start, served with a strict content policy. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/http.h"
#include "front/ui.h"
#include "lib/log.h"
#include "lib/util.h"

/*
 * Scripts and styles only from the gateway's own files: no inline script or
 * style, no eval, no other origin; the page may not be framed.
 */
#define UI_CSP                                                                                     \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                \
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "             \
	"frame-ancestors 'none'"

struct ui_file {
	char name[64];
	const char *ctype;
	uint8_t *data;
	size_t len;
};

struct ui_files {
	struct ui_file f[UI_MAX_FILES];
	int n;
};

static const struct {
	const char *ext, *ctype;
} ui_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

/* The content type of a file the UI serves, by its name; NULL for a name it does not serve. */
static const char *
ui_type_of(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= 64 || name[0] == '.' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n) {
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ui_types); i++) {
		size_t e = strlen(ui_types[i].ext);
		if (n > e && strcmp(name + n - e, ui_types[i].ext) == 0) {
			return ui_types[i].ctype;
		}
	}
	return NULL;
}

struct ui_files *
ui_load(const char *dir)
{
	struct ui_files *u = calloc(1, sizeof(*u));
	DIR *d = opendir(dir);
	struct dirent *de;
	int dfd;

	if (u == NULL || d == NULL) {
		log_warning("cannot read the web UI from %s: /ui/ answers 404", dir);
		free(u);
		if (d != NULL) {
			closedir(d);
		}
		return NULL;
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL && u->n < UI_MAX_FILES) {
		const char *ctype = ui_type_of(de->d_name);
		struct ui_file *f = &u->f[u->n];
		int fd;

		if (ctype == NULL) {
			continue;
		}
		fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || fd_read_all(fd, UI_MAX_FILE, &f->data, &f->len) != 0) {
			log_warning("web UI: cannot read %s/%s; not served", dir, de->d_name);
		} else {
			strcpy(f->name, de->d_name); /* ui_type_of bounded it */
			f->ctype = ctype;
			u->n++;
		}
		if (fd >= 0) {
			close(fd);
		}
	}
	closedir(d);
	log_info("web UI: %d files from %s", u->n, dir);
	return u;
}

void
ui_free(struct ui_files *u)
{
	if (u == NULL) {
		return;
	}
	for (int i = 0; i < u->n; i++) {
		free(u->f[i].data);
	}
	free(u);
}

static void
ui_headers(struct MHD_Response *rsp)
{
	MHD_add_response_header(rsp, "Content-Security-Policy", UI_CSP);
	MHD_add_response_header(rsp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(rsp, "X-Frame-Options", "DENY");
	MHD_add_response_header(rsp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(rsp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(rsp, "Cache-Control", "no-cache");
}

static enum MHD_Result
ui_answer(struct req *q, unsigned status, const struct ui_file *f, const char *location)
{
	struct MHD_Response *rsp = MHD_create_response_from_buffer(
	    f != NULL ? f->len : 0, f != NULL ? f->data : (void *)"", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ok;

	if (rsp == NULL) {
		return MHD_NO;
	}
	ui_headers(rsp);
	if (f != NULL) {
		MHD_add_response_header(rsp, "Content-Type", f->ctype);
	}
	if (location != NULL) {
		MHD_add_response_header(rsp, "Location", location);
	}
	if (q->conn_close) {
		MHD_add_response_header(rsp, "Connection", "close");
	}
	ok = MHD_queue_response(q->conn, status, rsp);
	MHD_destroy_response(rsp);
	q->responded = ok == MHD_YES;
	q->status = (int)status;
	return ok;
}

enum MHD_Result
ui_redirect(struct req *q)
{
	if (q->f->ui == NULL) {
		return http_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no such path");
	}
	return ui_answer(q, MHD_HTTP_FOUND, NULL, "/ui/");
}

enum MHD_Result
ui_handler(struct req *q)
{
	const struct ui_files *u = q->f->ui;
	const char *name = q->nparams > 0 ? q->params[0] : "index.html";

	if (q->nparams == 0 && strcmp(q->path, "/ui/") != 0) {
		return ui_redirect(q); /* /ui: the page's relative paths need the slash */
	}
	for (int i = 0; u != NULL && i < u->n; i++) {
		if (strcmp(u->f[i].name, name) == 0) {
			return ui_answer(q, MHD_HTTP_OK, &u->f[i], NULL);
		}
	}
	return http_error(q, MHD_HTTP_NOT_FOUND, "not_found",
			  u == NULL ? "the web UI is not installed" : "no such file");
}
