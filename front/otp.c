/* SPDX-License-Identifier: Apache-2.0 */
/* TOTP enrollment for the web UI: user.otp-enroll, its otpauth:// URI drawn as an SVG QR code. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "front/http.h"
#include "front/otp.h"
#include "lib/util.h"

#define QR_QUIET  4     /* modules of quiet zone the QR standard asks for */
#define QR_SVGMAX 65536 /* bytes of the SVG: a version-10 code's path is well below */

/*
 * The SVG of TEXT's QR code: one path of unit squares, the quiet zone around it. Built in
 * memory only and wiped by the caller (the URI holds the seed). NULL when it cannot be made.
 */
static char *
qr_svg(const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	char *svg = NULL;
	size_t n = 0;
	int w, size;

	if (qr == NULL || (svg = malloc(QR_SVGMAX)) == NULL) {
		goto out;
	}
	w = qr->width;
	size = w + 2 * QR_QUIET;
	n = (size_t)snprintf(
	    svg, QR_SVGMAX,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	    "shape-rendering=\"crispEdges\" data-modules=\"%d\">"
	    "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	    size, size, w, size, size);
	for (int y = 0; y < w && n < QR_SVGMAX - 64; y++) {
		for (int x = 0; x < w && n < QR_SVGMAX - 64; x++) {
			if (qr->data[y * w + x] & 1) {
				n += (size_t)snprintf(svg + n, QR_SVGMAX - n, "M%d %dh1v1h-1z",
						      x + QR_QUIET, y + QR_QUIET);
			}
		}
	}
	if (n >= QR_SVGMAX - 64) {
		secure_wipe(svg, QR_SVGMAX);
		free(svg);
		svg = NULL;
		goto out;
	}
	snprintf(svg + n, QR_SVGMAX - n, "\"/></svg>");
out:
	if (qr != NULL) {
		secure_wipe(qr->data, (size_t)qr->width * (size_t)qr->width);
		QRcode_free(qr);
	}
	return svg;
}

enum MHD_Result
otp_enroll_handler(struct req *q)
{
	json_t *body = http_body_object(q), *args = NULL, *out;
	const char *k, *uri;
	json_t *v;
	struct call c;
	char *svg;
	enum MHD_Result r;

	if (body == NULL) {
		return MHD_YES;
	}
	json_object_foreach(body, k, v) {
		if (strcmp(k, "name") != 0) {
			json_decref(body);
			return http_error(q, MHD_HTTP_BAD_REQUEST, "invalid",
					  "unknown member '%.64s'", k);
		}
	}
	if (!json_is_string(json_object_get(body, "name"))) {
		json_decref(body);
		return http_error(q, MHD_HTTP_BAD_REQUEST, "invalid", "%s is required", "name");
	}
	args = json_pack("{s:O}", "name", json_object_get(body, "name"));
	json_decref(body);
	http_call(q, "user.otp-enroll", args, NULL, 0, &c);
	json_decref(args);
	if (c.err != 0) {
		return http_call_reply(q, &c, MHD_HTTP_OK);
	}
	out = c.result;
	uri = json_string_value(json_object_get(out, "uri"));
	svg = uri != NULL ? qr_svg(uri) : NULL;
	if (svg == NULL) {
		call_done(&c);
		return http_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				  "the enrollment was made but its QR code could not be drawn: "
				  "enroll again with force");
	}
	json_object_set_new(out, "qrSvg", json_string(svg));
	secure_wipe(svg, strlen(svg));
	free(svg);
	c.result = NULL;
	/* The answer is no-store (every JSON answer is) and the front logs no body. */
	r = http_json(q, MHD_HTTP_OK, out);
	call_done(&c);
	return r;
}
