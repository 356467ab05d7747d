/* SPDX-License-Identifier: Apache-2.0 */
/* TOTP enrollment for the web UI (front/otp.c). */
#pragma once

#include <microhttpd.h>

struct req;

/* POST /api/ui/otp {"name"}: user.otp-enroll, with its URI's QR code as an SVG (qrSvg). */
enum MHD_Result otp_enroll_handler(struct req *q);
