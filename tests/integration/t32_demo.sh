#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# scripts/demo.sh as a reader runs it (issue 19 items 11, 12), on the build's binaries, with a
# temporary state directory and port: it exits 0, the front reaches signetd through a group and
# not as the daemon's user, the four-eyes task ends DONE with a signature openssl verifies, the
# curl lines it prints work when pasted again, the README's quick starts (officer, approver, CI in
# curl and Python) work against its service, the web UI's address it prints serves the UI's page
# with its CSP, and its kill PID lines name its live processes and end them, leaving nothing behind.
. "$TESTLIB"

: "${SIGNET_FRONT:?SIGNET_FRONT must name the signet-front binary}"
SRC=$(cd "$(dirname "$TESTLIB")/../.." && pwd)
BIN=$(cd "$(dirname "$SIGNETD")" && pwd)
PY=/usr/bin/python3
for _t in curl jq oathtool openssl bash "$PY"; do
	command -v "$_t" >/dev/null 2>&1 || fatal "$_t is needed (scripts/deps.sh)"
done

DSTATE=$TMP/demo-state
# shellcheck disable=SC2034 # lib.sh's ctl talks to DSOCK
DSOCK=$DSTATE/signetd.sock
DOUT=$TMP/demo.out
ENVF=$DSTATE/demo.env
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
FUSER=
if [ -n "$DUSER" ]; then
	# The harness's users (t12's): signetd as DUSER, the front as nobody, in the group nogroup.
	FUSER=nobody
fi

# demo_pids: the pids of every process whose command line names the demo's state directory.
demo_pids() {
	for _d in /proc/[0-9]*; do
		_p=${_d#/proc/}
		[ "$_p" != $$ ] || continue
		{ tr '\0' ' ' <"$_d/cmdline"; } 2>/dev/null | grep -qF "$DSTATE/" && echo "$_p"
	done
	return 0
}
# ended PID: the process is gone (or a zombie nobody has reaped yet).
ended() {
	! kill -0 "$1" 2>/dev/null && return 0
	[ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" = Z ]
}
t32_cleanup() {
	_rc=$?
	set +e
	for _p in $(demo_pids); do
		kill -KILL "$_p" 2>/dev/null
	done
	if [ $_rc -ne 0 ] || [ "$T_FAIL" -ne 0 ]; then
		for _f in "$DOUT" "$DSTATE/signetd.log" "$DSTATE/signet-front.log" "$TMP"/qs.*.out; do
			[ -f "$_f" ] || continue
			say "---- $(basename "$_f") (last 30 lines) ----"
			tail -n 30 "$_f" | sed 's/^/# /'
		done
	fi
	(exit $_rc)
	cleanup
}
trap t32_cleanup EXIT

# next_totp_step: wait for a TOTP step newer than the last approval's, which a code of the same
# step would replay (otp_replayed).
next_totp_step() {
	_s=$(($(date +%s) / 30))
	while [ $(($(date +%s) / 30)) -le "$_s" ]; do
		sleep 0.5
	done
}

# 1. The demo, on the build's binaries: no package install, no build, nothing in the source tree.
if SIGNET_DEMO_BIN=$BIN SIGNET_DEMO_STATE=$DSTATE SIGNET_DEMO_PORT=$PORT \
	SIGNET_DEMO_USER=$DUSER SIGNET_DEMO_FRONT_USER=$FUSER SIGNET_DEMO_GROUP=nogroup \
	timeout 300 sh "$SRC/scripts/demo.sh" >"$DOUT" 2>&1; then
	ok "scripts/demo.sh exits 0"
else
	fatal "scripts/demo.sh failed (exit $?)"
fi
[ -f "$ENVF" ] || fatal "the demo wrote no $ENVF"
# shellcheck disable=SC1090
. "$ENVF"

# 2. The SO PIN: printed once, framed, nothing else in the frame but what --init says.
_frame=$(awk '/^=+$/ { n++; next } n == 1' "$DOUT")
if [ "$(grep -c 'security officer PIN' "$DOUT")" = 1 ] &&
	printf '%s\n' "$_frame" | grep -q 'security officer PIN (shown once' &&
	! printf '%s\n' "$_frame" | grep -vq '^  \(signet state directory\|token\|security officer PIN\)'; then
	ok "the SO PIN is printed once, in a frame of its own"
else
	not_ok "the SO PIN is not printed once in a clean frame: $_frame"
fi

# 3. The kill lines: one per process the demo started, each a live signetd or signet-front.
sed -n 's/^ *kill \([0-9][0-9]*\)\( .*\)\{0,1\}$/\1/p' "$DOUT" >"$TMP/kill.pids"
KILL_PIDS=$(cat "$TMP/kill.pids")
_exes=
for _p in $KILL_PIDS; do
	_exes="$_exes $(basename "$(readlink "/proc/$_p/exe" 2>/dev/null)")"
	_ok=true
	ended "$_p" && _ok=false
	[ "$(readlink "/proc/$_p/exe" 2>/dev/null)" = "$BIN/signetd" ] ||
		[ "$(readlink "/proc/$_p/exe" 2>/dev/null)" = "$BIN/signet-front" ] || _ok=false
	{ tr '\0' ' ' <"/proc/$_p/cmdline"; } 2>/dev/null | grep -qF "$DSTATE/" || _ok=false
	$_ok || not_ok "kill $_p does not name a live process of the demo"
done
if [ "$(echo "$_exes" | tr ' ' '\n' | grep -c .)" = 2 ] && echo "$_exes" | grep -qw signetd &&
	echo "$_exes" | grep -qw signet-front && ! grep -q pkill "$DOUT"; then
	ok "the demo ends with kill lines for its signetd and its signet-front (no pkill)"
else
	not_ok "the kill lines name [$_exes ], not one signetd and one signet-front"
fi
if [ "$(demo_pids | sort)" = "$(echo "$KILL_PIDS" | tr ' ' '\n' | sort)" ]; then
	ok "the kill lines name every process the demo left running"
else
	not_ok "the demo's processes [$(demo_pids | tr '\n' ' ')] are not those of its kill lines [$KILL_PIDS]"
fi

# 3b. The web UI: the summary prints its address and whom to sign in as; it serves the UI's page
# (the source tree's ui/, the build's own) with its Content-Security-Policy.
UI_URL=$(sed -n 's/^ *web UI: *\(http[^ ]*\)$/\1/p' "$DOUT" | head -n 1)
if [ "$UI_URL" = "http://127.0.0.1:$PORT/ui/" ]; then
	ok "the demo's summary prints the web UI's address ($UI_URL)"
else
	not_ok "the demo's summary prints no web UI address on its port: [$UI_URL] $(grep 'web UI' "$DOUT")"
fi
_sum=$(sed -n '/web UI:/,/tenant /p' "$DOUT" | tr '\n' ' ')
case $_sum in
*"sign in as bob"*"as carol"*"as alice"*"in $ENVF (\$BOB, \$CAROL, \$SIGNET_TOKEN)"*)
	ok "... and whom to sign in as, their tokens in the demo's env file" ;;
*) not_ok "the summary does not say whom to sign in as, and where their tokens are: $_sum" ;;
esac
_st=$(curl -sS -D "$TMP/ui.hdr" -o "$TMP/ui.html" -w '%{http_code}' "${UI_URL:-http://127.0.0.1:$PORT/ui/}" 2>"$TMP/err")
check "the address serves the UI's index page: HTTP 200 ($_st $(head -c 200 "$TMP/err"))" test "$_st" = 200
check "... the UI's page, the source tree's ui/index.html (<title>signet</title>)" \
	sh -c "grep -q '<title>signet</title>' '$TMP/ui.html' && cmp -s '$TMP/ui.html' '$SRC/ui/index.html'"
_csp=$(sed -n 's/^[Cc]ontent-[Ss]ecurity-[Pp]olicy: *//p' "$TMP/ui.hdr" | tr -d '\r')
check "... with its Content-Security-Policy header ($_csp)" \
	sh -c "echo \"\$1\" | grep -q \"^default-src 'self';.*frame-ancestors 'none'\"" - "$_csp"

# 4. The gateway reaches the socket through a group, not as the daemon's user.
DPID_DEMO='' FPID_DEMO=''
for _p in $KILL_PIDS; do
	case $(readlink "/proc/$_p/exe" 2>/dev/null) in
	*/signetd) DPID_DEMO=$_p ;;
	*/signet-front) FPID_DEMO=$_p ;;
	esac
done
if [ -n "$DUSER" ] && [ -n "$FPID_DEMO" ] && [ -n "$DPID_DEMO" ]; then
	_fu=$(stat -c %U "/proc/$FPID_DEMO")
	_du=$(stat -c %U "/proc/$DPID_DEMO")
	if [ "$_fu" = "$FUSER" ] && [ "$_du" = "$DUSER" ] &&
		[ "$(stat -c '%a %G' "$DSTATE/signetd.sock")" = "660 nogroup" ] &&
		[ "$(stat -c '%a %G' "$DSTATE")" = "710 nogroup" ] &&
		grep -qx 'gateway_user = nobody' "$DSTATE/demo.conf" &&
		grep -qx 'socket_group = nogroup' "$DSTATE/demo.conf"; then
		ok "signet-front runs as $FUSER and reaches signetd ($DUSER) through the group nogroup"
	else
		not_ok "front as $_fu, daemon as $_du, socket $(stat -c '%a %G' "$DSTATE/signetd.sock"), state $(stat -c '%a %G' "$DSTATE")"
	fi
fi

# 5. The four-eyes task: DONE, approved by carol, its signature verified by openssl.
TASK=$(sed -n 's/^task \([0-9a-f-]*\) waits for approval$/\1/p' "$DOUT")
[ -n "$TASK" ] || fatal "the demo printed no four-eyes task"
ctl --json task show "$TASK" >"$TMP/task.json" 2>"$TMP/err" || fatal "task show $TASK: $(cat "$TMP/err")"
if jq -e '.status == "DONE" and ([.approvals[] | select(.approver == "USER:carol" and .decision == "APPROVED")] | length) == 1' \
	"$TMP/task.json" >/dev/null; then
	ok "the four-eyes task ended DONE, approved by carol"
else
	not_ok "the four-eyes task: $(jq -c '{status, approvals}' "$TMP/task.json")"
fi
jq -r .result.signature "$TMP/task.json" | base64 -d >"$TMP/release.sig"
ctl --json key show release-p256 | jq -r .publicKeyPem >"$TMP/release.pub"
check "openssl verifies the four-eyes task's signature" \
	openssl dgst -sha256 -verify "$TMP/release.pub" -signature "$TMP/release.sig" "$DEMO_DIR/release.bin"

# 6. The curl lines the demo printed, pasted again in a shell that read demo.env.
grep '^\$ .*curl ' "$DOUT" | sed 's/^\$ //' >"$TMP/curl.lines"
_n=$(grep -c . "$TMP/curl.lines" || true)
{
	printf 'set -o pipefail\n. "%s"\n' "$ENVF"
	_i=0
	while IFS= read -r _l; do
		_i=$((_i + 1))
		printf '%s || { echo "curl line %s failed" >&2; exit 1; }\n' "$_l" "$_i"
	done <"$TMP/curl.lines"
} >"$TMP/curl.sh"
next_totp_step
if [ "$_n" -ge 6 ] && (cd "$TMP" && timeout 120 bash "$TMP/curl.sh") >"$TMP/qs.curl.out" 2>&1; then
	ok "the $_n curl lines the demo printed work when pasted again"
else
	not_ok "the demo's curl lines ($_n) do not work again: $(tail -n 5 "$TMP/qs.curl.out")"
fi

# 7. The README's quick starts, from the fenced blocks under their headings, against the demo.
# quick_start HEADING LANG: the first ```LANG block under the heading line HEADING.
quick_start() {
	awk -v h="$1" -v lang="$2" '$0 == h { f = 1; next }
		f && !b && /^#/ { exit }
		f && !b && $0 == "```" lang { b = 1; next }
		b && $0 == "```" { exit }
		b { print }' "$SRC/README.md"
}
quick_start '### Officer' sh >"$TMP/officer.sh"
quick_start '### Approver' sh >"$TMP/approver.sh"
quick_start '### CI pipeline' sh >"$TMP/ci.sh"
quick_start '### CI pipeline' python >"$TMP/sign.py"
for _f in officer.sh approver.sh ci.sh sign.py; do
	[ "$(grep -c . "$TMP/$_f")" -ge 5 ] || fatal "README.md has no quick start for $_f"
done
# in_quick_start NAME COMMAND...: run in a fresh folder, in a shell that read demo.env.
in_quick_start() {
	_q=$1
	shift
	mkdir -p "$TMP/qs.$_q"
	# shellcheck disable=SC1090
	(cd "$TMP/qs.$_q" && . "$ENVF" && timeout 120 "$@") >"$TMP/qs.$_q.out" 2>&1
}

if in_quick_start officer sh -e "$TMP/officer.sh" && ctl --json key show fw-2027 >/dev/null 2>&1 &&
	ctl --json devconf list | jq -e '[.deviceConfigs[] | select(.name == "fw-2027")] | length == 1' >/dev/null &&
	ls "$TMP"/qs.officer/signet-*.bak >/dev/null 2>&1; then
	ok "the officer's quick start works: key fw-2027, its device configuration, a backup"
else
	not_ok "the officer's quick start: $(tail -n 5 "$TMP/qs.officer.out")"
fi

waiting() { ctl --json task list --status WAITING | jq -e '.tasks | length'; }
_before=$(waiting)
next_totp_step
if in_quick_start approver sh -e "$TMP/approver.sh" && [ "$(waiting)" = $((_before - 1)) ] &&
	grep -q '"decision": "APPROVED"' "$TMP/qs.approver.out"; then
	ok "the approver's quick start approves a waiting task with a TOTP code ($_before waited)"
else
	not_ok "the approver's quick start ($_before waiting, now $(waiting)): $(tail -n 5 "$TMP/qs.approver.out")"
fi

if in_quick_start ci sh -e "$TMP/ci.sh" &&
	openssl dgst -sha256 -verify "$TMP/qs.ci/fw.pub" -signature "$TMP/qs.ci/app.sig" \
		"$TMP/qs.ci/app.bin" >/dev/null 2>&1 && [ -s "$TMP/qs.ci/app.bin.enc" ]; then
	ok "the CI pipeline's curl quick start signs (openssl verifies) and encrypts"
else
	not_ok "the CI pipeline's curl quick start: $(tail -n 5 "$TMP/qs.ci.out")"
fi

mkdir -p "$TMP/qs.python"
head -c 50000 /dev/urandom >"$TMP/qs.python/app.bin"
cp "$TMP/sign.py" "$TMP/qs.python/sign.py"
ctl --json key show firmware-p256 | jq -r .publicKeyPem >"$TMP/fw.pub"
if in_quick_start python "$PY" sign.py app.bin && grep -q ' DONE$' "$TMP/qs.python.out" &&
	openssl dgst -sha256 -verify "$TMP/fw.pub" -signature "$TMP/qs.python/app.bin.sig" \
		"$TMP/qs.python/app.bin" >/dev/null 2>&1; then
	ok "the CI pipeline's Python quick start (/usr/bin/python3, standard library) signs; openssl verifies"
else
	not_ok "the Python quick start: $(tail -n 5 "$TMP/qs.python.out")"
fi

# 8. The kill lines, run as printed, end the demo's processes, and nothing of it is left.
sed -n 's/^ *\(kill [0-9][0-9]*\)\( .*\)\{0,1\}$/\1/p' "$DOUT" >"$TMP/kill.sh"
sh "$TMP/kill.sh" || not_ok "a kill line failed"
_i=0
_left=$KILL_PIDS
while [ $_i -lt 300 ]; do
	_left=
	for _p in $KILL_PIDS; do
		ended "$_p" || _left="$_left $_p"
	done
	[ -n "$_left" ] || break
	sleep 0.1
	_i=$((_i + 1))
done
if [ -z "$_left" ] && [ -z "$(demo_pids)" ] && [ ! -e "$DSTATE/signetd.sock" ]; then
	ok "the kill lines end the demo's processes; none is left, signetd removed its socket"
else
	not_ok "left after the kill lines: [$_left ] [$(demo_pids | tr '\n' ' ')]"
fi
