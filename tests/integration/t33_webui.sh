#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The web UI (issue 17) in a real browser: headless Chromium driven by tests/webui_selenium.py
# against the real signetd and signet-front. A requester uploads a firmware for a four-eyes
# configuration, an approver approves it with an oathtool code in a second browser, the
# requester's page is told and downloads the signature, which openssl verifies; a package of two
# files and metadata made through the page, its segments in the approver's inbox, approved with a
# code, downloaded by itself and accepted (and decrypted) by signet-verify; hostile names,
# CSRF, the cookie's flags and the token's absence from script-readable storage; the UI's headers
# and the session endpoints checked with curl.
. "$TESTLIB"

: "${SIGNET_FRONT:?SIGNET_FRONT must name the signet-front binary}"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
SRCDIR=$(cd "$(dirname "$TESTLIB")/../.." && pwd)

FPID=
t33_cleanup() {
	_rc=$?
	set +e
	[ -z "$FPID" ] || { kill -KILL "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null; }
	if [ -n "${SIGNET_KEEP_SHOTS:-}" ] && [ -d "$TMP/shots" ]; then
		mkdir -p "$SIGNET_KEEP_SHOTS" && cp "$TMP"/shots/*.png "$SIGNET_KEEP_SHOTS"/ 2>/dev/null
	fi
	if [ $_rc -ne 0 ] || [ "$T_FAIL" -ne 0 ]; then
		say "---- front.log (last 25 lines) ----"
		tail -n 25 "$TMP/front.log" 2>/dev/null | sed 's/^/# /'
	fi
	(exit $_rc)
	cleanup
}
trap t33_cleanup EXIT

# Only a missing browser skips: a browser that is there but fails is a failure.
for _b in "$CHROMIUM" "$CHROMEDRIVER" /usr/bin/python3; do
	if [ ! -x "$_b" ]; then
		say "# SKIP: $_b is not installed (apt-get install chromium chromium-driver python3-selenium)"
		trap - EXIT
		rm -rf "$TMP"
		exit 77
	fi
done
if ! /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
	say "# SKIP: python3-selenium is not installed"
	trap - EXIT
	rm -rf "$TMP"
	exit 77
fi

chmod 755 "$TMP"
mkdir -m 755 "$TMP/run"
mkdir "$TMP/spool" "$TMP/shots" "$TMP/downloads"
chmod 1777 "$TMP/spool"
DSOCK=$TMP/run/signetd.sock
ROOT=false
# Long enough that a loaded machine's browser sees the result before it goes (20 s was not: the
# run beside a build saw it expired already), short enough to see it go.
RESULT_TTL=60
BIG_MB=50
[ "$(id -u)" != 0 ] || ROOT=true
{
	printf '[daemon]\nsocket = %s\nauth_fail_delay_ms = 0\n' "$DSOCK"
	if $ROOT; then
		printf 'socket_group = nogroup\ngateway_user = nobody\n'
	else
		printf 'max_connections_per_uid = 1000\n'
	fi
	# Results expire soon enough for the browser to see one go (the expiry check below).
	printf '[tasks]\nresult_ttl = %s\n' "$RESULT_TTL"
} >"$TMP/signetd.conf"
init_state
for_daemon "$TMP/run"
start_daemon --config "$TMP/signetd.conf"

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json user create bob >"$TMP/out" || fatal "user create bob"
B=$(json .token)
ctl --json user create carol >"$TMP/out" || fatal "user create carol"
C=$(json .token)
ctl --socket "$DSOCK" --token "$C" --json user otp-enroll carol >"$TMP/out" || fatal "otp-enroll carol"
SEC_carol=$(json .secret)
ctl --json key generate fw --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate"
json .publicKeyPem | sed '/^$/d' >"$TMP/fw.pub"
ctl --json devconf create dc-fw --sign-key fw --four-eyes on --second-factor TOTP \
	--user USER:bob --approver USER:carol >"$TMP/out" || fatal "devconf create"
DC=$(json .id)
head -c 32 /dev/urandom >"$TMP/aes256.raw"
ctl key import enc --alg AES_256 --file "$TMP/aes256.raw" >/dev/null || fatal "key import enc"
ctl --json devconf create dc-enc --encrypt-key enc --four-eyes off --user USER:bob >"$TMP/out" ||
	fatal "devconf create dc-enc"
DC_ENC=$(json .id)
# A package is signed with the packaging key and its segments encrypted with the AES key.
ctl --json key generate pkg --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate pkg"
json .publicKeyPem | sed '/^$/d' >"$TMP/pkg.pub"
ctl --json devconf create dc-pkg --package-key pkg --encrypt-key enc --four-eyes on --second-factor TOTP \
	--user USER:bob --approver USER:carol >"$TMP/out" || fatal "devconf create dc-pkg"
DC_PKG=$(json .id)

# The front serves the source tree's ui/ (the installed copy is $(pkgdatadir)/ui).
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
printf '[front]\nui_dir = %s/ui\nsession_idle_timeout = 600\n' "$SRCDIR" >"$TMP/front.conf"
FRONT_USER=
! $ROOT || FRONT_USER="--user nobody"
# shellcheck disable=SC2086
"$SIGNET_FRONT" --socket "$DSOCK" --listen "127.0.0.1:$PORT" $FRONT_USER --tmpdir "$TMP/spool" \
	--config "$TMP/front.conf" >"$TMP/front.log" 2>&1 &
FPID=$!
_i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]; do
	kill -0 "$FPID" 2>/dev/null || fatal "signet-front exited: $(tail -n 5 "$TMP/front.log")"
	[ $_i -lt 200 ] || fatal "signet-front did not answer /healthz within 10 s"
	sleep 0.05
	_i=$((_i + 1))
done

###########################################################################################
# 1. What curl sees: the redirect, the page's headers, the session endpoints.
hdr() { grep -i "^$1:" "$TMP/hdr" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r'; }
st=$(curl -sS -D "$TMP/hdr" -o /dev/null -w '%{http_code}' "$BASE/")
check "GET / is 302 to /ui/ ($st $(hdr Location))" test "$st $(hdr Location)" = "302 /ui/"
st=$(curl -sS -D "$TMP/hdr" -o "$TMP/index" -w '%{http_code}' "$BASE/ui/")
check "GET /ui/ is the page, text/html ($st)" test "$st $(hdr Content-Type)" = "200 text/html; charset=utf-8"
csp=$(hdr Content-Security-Policy)
check "... with a CSP of default-src 'self' and frame-ancestors 'none' ($csp)" \
	sh -c "echo \"\$1\" | grep -q \"^default-src 'self';\" && echo \"\$1\" | grep -q \"frame-ancestors 'none'\" && ! echo \"\$1\" | grep -q unsafe" - "$csp"
check "... X-Frame-Options DENY, nosniff, Referrer-Policy no-referrer" \
	test "$(hdr X-Frame-Options) $(hdr X-Content-Type-Options) $(hdr Referrer-Policy)" = "DENY nosniff no-referrer"
check "the page has no inline script or style" \
	sh -c "! grep -Eiq '<script>|<script [^>]*>[^<]|<style|style=|[[:space:]]on[a-z]+=' '$TMP/index'"
check "no script calls eval, Function or innerHTML" \
	sh -c "! grep -nE 'eval\\(|new Function|innerHTML|outerHTML|insertAdjacentHTML|document\\.write' '$SRCDIR'/ui/*.js"
st=$(curl -sS -D "$TMP/hdr" -o /dev/null -w '%{http_code}' "$BASE/ui/app.js")
check "the modules are served as text/javascript ($st)" test "$st $(hdr Content-Type)" = "200 text/javascript; charset=utf-8"
st=$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/ui/..%2fsignetd.conf")
check "a path out of the UI's folder is 404 ($st)" test "$st" = 404
st=$(curl -sS -o "$TMP/out" -w '%{http_code}' -H 'Content-Type: application/json' \
	-d '{"token": "sgn_nope"}' "$BASE/api/ui/session")
check "sign-in with a bad token is 401 ($st)" test "$st $(jq -r .code "$TMP/out")" = "401 unauthenticated"
st=$(curl -sS -D "$TMP/hdr" -o "$TMP/out" -w '%{http_code}' -H 'Content-Type: application/json' \
	-d "{\"token\": \"$B\", \"tenant\": \"acme\"}" "$BASE/api/ui/session")
sc=$(hdr Set-Cookie)
check "sign-in with bob's token is 201 with his name and a CSRF token ($st)" \
	test "$st $(jq -r '.user + " " + .tenant + " " + (.csrfToken | length | tostring)' "$TMP/out")" = "201 bob acme 43"
CSRF=$(jq -r .csrfToken "$TMP/out")
check "... with Location /api/ui/session, as doc/openapi.yaml says ($(hdr Location))" \
	test "$(hdr Location)" = /api/ui/session
check "doc/openapi.yaml describes /api/ui/session (POST, GET, DELETE), X-CSRF-Token and /ui/" \
	/usr/bin/python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); s = d["paths"]["/api/ui/session"]; assert {"post", "get", "delete"} <= set(s) and "/ui/" in d["paths"] and d["components"]["parameters"]["CsrfToken"]["name"] == "X-CSRF-Token" and d["components"]["securitySchemes"]["session"]["in"] == "cookie"' "$SRCDIR/doc/openapi.yaml"
check "the cookie is HttpOnly, SameSite=Strict, Path=/ ($sc)" \
	sh -c "echo '$sc' | grep -q '^signet_session=[A-Za-z0-9_-]\{43\}; Path=/; HttpOnly; SameSite=Strict$'"
check "the token is nowhere in the answer" sh -c "! grep -qF '$B' '$TMP/out' '$TMP/hdr'"
CK=$(echo "$sc" | sed 's/;.*//')
st=$(curl -sS -o "$TMP/out" -w '%{http_code}' -H "Cookie: $CK" "$BASE/api/v1/whoami")
check "a GET with the cookie alone is bob's ($st)" test "$st $(jq -r .user "$TMP/out")" = "200 bob"
st=$(curl -sS -o "$TMP/out" -w '%{http_code}' -H "Cookie: $CK" -X DELETE "$BASE/api/ui/session")
check "sign-out without the CSRF header is 403 ($st)" test "$st $(jq -r .code "$TMP/out")" = "403 denied"
st=$(curl -sS -o "$TMP/out" -w '%{http_code}' -H "Cookie: $CK" -H 'Sec-Fetch-Site: cross-site' \
	-H 'Content-Type: application/json' -d "{\"token\": \"$B\"}" "$BASE/api/ui/session")
check "a cross-site sign-in is 403 ($st)" test "$st" = 403
st=$(curl -sS -o "$TMP/out" -w '%{http_code}' -H "Cookie: $CK" -H "X-CSRF-Token: $CSRF" \
	-X DELETE "$BASE/api/ui/session")
check "sign-out with it is 200 ($st)" test "$st" = 200
st=$(curl -sS -o "$TMP/out" -w '%{http_code}' -H "Cookie: $CK" "$BASE/api/v1/whoami")
check "the cookie is refused after sign-out: 401 ($st $(jq -r .message "$TMP/out"))" test "$st" = 401
if $ROOT; then
	check "the token is in no file the front can write" sh -c "! grep -rqF '$B' '$TMP/spool'"
fi

###########################################################################################
# 2. The browser run.
head -c 300000 /dev/urandom >"$TMP/fw-1.0.bin"
SHA=$(sha256sum "$TMP/fw-1.0.bin" | cut -d' ' -f1)
head -c 5000 /dev/urandom >"$TMP/small.bin"
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom >"$TMP/big.bin"
head -c 100003 /dev/urandom >"$TMP/app-2.0.bin"
head -c 65536 /dev/urandom >"$TMP/boot-2.0.bin"
printf '{"device": "ECU-4711", "version": "2.0"}\n' >"$TMP/meta.json"
export DC_PKG PKG_A="$TMP/app-2.0.bin" PKG_B="$TMP/boot-2.0.bin" PKG_META="$TMP/meta.json" \
	PKG_PUB="$TMP/pkg.pub" AES_RAW="$TMP/aes256.raw" SIGNET_VERIFY="${SIGNET_VERIFY:?SIGNET_VERIFY must name signet-verify}"
export ADM_TOKEN="$SIGNET_TOKEN" ADM_USER=alice DC_ENC RESULT_TTL SMALL="$TMP/small.bin" BIG="$TMP/big.bin" \
	AES_KEY="$(od -An -tx1 -v "$TMP/aes256.raw" | tr -d ' \n')"
export BASE TMP SHOTS="$TMP/shots" DOWNLOADS="$TMP/downloads" FIRMWARE="$TMP/fw-1.0.bin" \
	FW_SHA256="$SHA" PUBKEY="$TMP/fw.pub" DC DC_NAME=dc-fw REQ_TOKEN="$B" REQ_USER=bob \
	APR_TOKEN="$C" APR_USER=carol APR_SECRET="$SEC_carol" CHROMIUM CHROMEDRIVER
chmod 777 "$TMP/downloads"
/usr/bin/python3 "$SRCDIR/tests/webui_selenium.py" >"$TMP/selenium.out" 2>"$TMP/selenium.err" || true
cat "$TMP/selenium.out"
T_PASS=$((T_PASS + $(grep -c '^ok - ' "$TMP/selenium.out" || true)))
T_FAIL=$((T_FAIL + $(grep -c '^not ok - ' "$TMP/selenium.out" || true)))
if ! grep -q '^ok - ' "$TMP/selenium.out"; then
	not_ok "the browser run made no check: $(tail -c 600 "$TMP/selenium.err")"
fi
if [ -s "$TMP/otp.secret" ]; then
	check "the TOTP seed the page showed is in no log and no spool file" \
		sh -c "! grep -rqF \"\$(cat '$TMP/otp.secret')\" '$TMP/front.log' '$TMP/spool'"
fi
say "# screenshots: $(ls "$TMP/shots" | tr '\n' ' ')(kept with SIGNET_KEEP_SHOTS=DIR)"
