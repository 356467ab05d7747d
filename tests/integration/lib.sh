# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the integration tests: a real signetd on a real SoftHSMv2 token in a temp dir.
set -eu

: "${SIGNETD:?SIGNETD must name the signetd binary}"
: "${SIGNETCTL:?SIGNETCTL must name the signetctl binary}"
VALGRIND=${VALGRIND:-}
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

TMP=$(mktemp -d /tmp/signet-test.XXXXXX)
# Run as root (CI), signetd refuses to stay root: it drops to DUSER, which must reach the state dir.
DUSER=
if [ "$(id -u)" -eq 0 ]; then
	DUSER=${SIGNET_TEST_USER:-daemon}
	chmod 711 "$TMP"
fi
# The daemon's group: a peer of that group may connect to its socket (mode 0660).
DGID=$(id -g)
if [ -n "$DUSER" ]; then
	DGID=$(id -g "$DUSER")
fi
# for_daemon PATH...: hand files and folders the daemon itself must open or write to DUSER.
for_daemon() { [ -z "$DUSER" ] || chown -R "$DUSER" "$@"; }
# sd ARGS...: signetd with the user to drop to when the test runs as root.
sd() { "$SIGNETD" "$@" ${DUSER:+--user "$DUSER"}; }
STATE=$TMP/state
SOCK=$STATE/signetd.sock
LOG=$TMP/signetd.log
DPID=
T_PASS=0
T_FAIL=0

say() { printf '%s\n' "$*"; }

dump_log() {
	if [ -f "$LOG" ]; then
		say "---- signetd log (last 40 lines) ----"
		tail -n 40 "$LOG" | sed 's/^/# /'
	fi
}

cleanup() {
	rc=$?
	stop_daemon || true
	if [ $rc -ne 0 ] || [ "$T_FAIL" -ne 0 ]; then
		dump_log
	fi
	rm -rf "$TMP"
	say "$T_PASS passed, $T_FAIL failed"
	if [ "$T_FAIL" -ne 0 ] && [ $rc -eq 0 ]; then
		rc=1
	fi
	exit $rc
}
trap cleanup EXIT

ok() { T_PASS=$((T_PASS + 1)); say "ok - $*"; }
not_ok() { T_FAIL=$((T_FAIL + 1)); say "not ok - $*"; }
# check DESCRIPTION COMMAND...: the command must succeed (its output goes to check.out/err).
check() {
	d=$1; shift
	if "$@" >"$TMP/check.out" 2>"$TMP/check.err"; then
		ok "$d"
	else
		not_ok "$d (exit $?: $(head -c 300 "$TMP/check.err"))"
	fi
}
# fatal DESCRIPTION: stop the test here.
fatal() { not_ok "$*"; exit 1; }

init_state() {
	sd --init --state-dir "$STATE" >"$TMP/init.out" 2>"$TMP/init.err" ||
		fatal "signetd --init failed: $(cat "$TMP/init.err")"
}

# start_daemon [signetd options...]: start in the background and wait for the socket.
start_daemon() {
	# shellcheck disable=SC2086
	$VALGRIND "$SIGNETD" --state-dir "$STATE" "$@" ${DUSER:+--user "$DUSER"} >>"$LOG" 2>&1 &
	DPID=$!
	i=0
	while [ $i -lt "${START_TRIES:-200}" ]; do
		if "$SIGNETCTL" --socket "${DSOCK:-$SOCK}" status >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$DPID" 2>/dev/null; then
			wait "$DPID" || true
			DPID=
			fatal "signetd exited during start"
		fi
		sleep 0.05
		i=$((i + 1))
	done
	fatal "signetd did not answer within $((${START_TRIES:-200} / 20)) s"
}

# stop_daemon: SIGTERM and wait; fails if the exit was not clean.
stop_daemon() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null || true
	drc=0
	wait "$DPID" || drc=$?
	DPID=
	return $drc
}

ctl() { "$SIGNETCTL" --socket "${DSOCK:-$SOCK}" "$@"; }

# requests: how many requests signetd has taken so far, this status call included.
requests() { ctl --json status | jq -e .requests; }
# wait_request N: wait until signetd has taken a request besides these status calls since
# requests said N: a client started in the background is in flight. 1 if none came in 60 s.
wait_request() {
	_wr_prev=$1
	_wr=0
	while [ $_wr -lt 1200 ]; do
		_wr_cur=$(requests) || return 1
		[ $((_wr_cur - _wr_prev)) -lt 2 ] || return 0
		_wr_prev=$_wr_cur
		sleep 0.05
		_wr=$((_wr + 1))
	done
	return 1
}
# wait_log ERE: wait until signetd's log has a line matching ERE (a state the test needs, never
# a sleep); 1 if none came within 60 s.
wait_log() {
	_wl=0
	while ! grep -Eq "$1" "$LOG" 2>/dev/null; do
		[ $_wl -lt 1200 ] || return 1
		sleep 0.05
		_wl=$((_wl + 1))
	done
}

# expect_refusal DESCRIPTION CODE COMMAND...: exit status 1 and "signetctl: CODE:" on stderr
# (with --json: {"code": CODE, ...}).
expect_refusal() {
	d=$1; code=$2; shift 2
	erc=0
	"$@" >"$TMP/out" 2>"$TMP/err" || erc=$?
	if [ $erc -eq 1 ] && { grep -q "^signetctl: $code: " "$TMP/err" ||
		jq -es --arg c "$code" '.[0].code == $c' "$TMP/err" >/dev/null 2>&1; }; then
		ok "$d"
	else
		not_ok "$d (exit $erc, stderr: $(head -c 300 "$TMP/err"))"
	fi
}

# json FIELD: read a jq path from the last command's stdout.
json() { jq -er "$1" "$TMP/out"; }

# wait_held DIR: wait (up to 60 s) until an engine thread is held in the token by the fault
# module's hold-encrypt (DIR is P11FAULT_DIR; the test made DIR/hold-encrypt before the task).
wait_held() {
	_w=0
	while [ ! -s "$1/held" ]; do
		[ $_w -lt 1200 ] || fatal "the engine never reached the token"
		sleep 0.05
		_w=$((_w + 1))
	done
}

# flip_byte FILE OFFSET: invert every bit of one byte, so the file surely changes (writing a
# fixed byte leaves it as it was whenever that byte, of a random IV or digest, was already it).
flip_byte() {
	_b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
	[ -n "$_b" ] || return 1
	printf "\\$(printf '%03o' $((_b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
	[ "$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')" = $((_b ^ 255)) ]
}

# pkcs11_engine: the path of OpenSSL's pkcs11 engine (libengine-pkcs11-openssl); 1 if absent.
pkcs11_engine() {
	_pe=$(find /usr/lib -name pkcs11.so -path '*engines-3*' 2>/dev/null | head -n 1)
	[ -n "$_pe" ] && echo "$_pe"
}
# engine_conf ENGINE MODULE FILE: an openssl.cnf in FILE that loads ENGINE with the PKCS#11
# MODULE, as doc/pkcs11.md shows (OPENSSL_CONF=FILE, then -engine pkcs11 or pkcs11: URIs).
engine_conf() {
	cat >"$3" <<EOC
openssl_conf = init
[init]
engines = engines
[engines]
pkcs11 = pkcs11
[pkcs11]
engine_id = pkcs11
dynamic_path = $1
MODULE_PATH = $2
init = 0
EOC
}
# test_ca: a self-signed P-256 root, $TMP/ca.crt and $TMP/ca.key.
test_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/ca.key" \
		-out "$TMP/ca.crt" -subj "/CN=Test Root" -days 30 2>/dev/null || fatal "test CA"
}
# key_cert KEY SUBJECT: a code-signing certificate from test_ca's root for signetd's key KEY
# (from its CSR), $TMP/KEY.crt, attached to the key with the root as $TMP/KEY-chain.pem.
key_cert() {
	ctl key csr "$1" --subject "$2" -o "$TMP/$1.csr" || fatal "key csr $1"
	printf 'extendedKeyUsage = codeSigning, emailProtection\nkeyUsage = digitalSignature\n' \
		>"$TMP/ext.cnf"
	openssl x509 -req -in "$TMP/$1.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" -CAcreateserial \
		-extfile "$TMP/ext.cnf" -out "$TMP/$1.crt" -days 10 2>/dev/null || fatal "certificate $1"
	cat "$TMP/$1.crt" "$TMP/ca.crt" >"$TMP/$1-chain.pem"
	ctl key cert "$1" --file "$TMP/$1-chain.pem" >/dev/null || fatal "key cert $1"
}

p11() {
	SOFTHSM2_CONF=$STATE/softhsm2.conf pkcs11-tool --module "$SOFTHSM_MODULE" \
		--token-label signet --login --pin "$(cat "$STATE/token-pin")" "$@"
}
