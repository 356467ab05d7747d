/* SPDX-License-Identifier: Apache-2.0 */
/* The web UI's static files (front/ui.c): read once at start, served from memory. */
#pragma once

#include <stddef.h>

#include <microhttpd.h>

#define UI_MAX_FILES 64
#define UI_MAX_FILE  (1024 * 1024) /* bytes of one file */

struct ui_files;
struct req;

/* Read the UI's files from DIR (before the privilege drop); NULL when there are none (logged). */
struct ui_files *ui_load(const char *dir);
void ui_free(struct ui_files *u);

/* GET / and /ui: to /ui/. GET /ui/ and /ui/{file}: the file, with the UI's security headers. */
enum MHD_Result ui_redirect(struct req *q);
enum MHD_Result ui_handler(struct req *q);
