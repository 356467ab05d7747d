#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Metrics (doc/metrics.md): signing, encryption, approval and a wrong TOTP code, then the
# Prometheus text of signetctl metrics and of the front's GET /metrics, parsed with
# prometheus_client's own parser, must count exactly what was done; the op is refused to a
# tenant user's peer whatever its token, /metrics needs the metrics token and is 404 when off.
. "$TESTLIB"

: "${SIGNET_FRONT:?SIGNET_FRONT must name the signet-front binary}"
PY=/usr/bin/python3
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
	fatal "python3-prometheus-client is needed (scripts/deps.sh)"
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 ||
	fatal "root and setpriv are needed: the gateway and a tenant user's peer are other uids"

FRONT_PIDS=
t28_cleanup() {
	_rc=$?
	set +e
	for _p in $FRONT_PIDS; do
		kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	if [ $_rc -ne 0 ] || [ "$T_FAIL" -ne 0 ]; then
		for _f in "$TMP"/front.*.log; do
			[ -f "$_f" ] || continue
			say "---- $(basename "$_f") (last 20 lines) ----"
			tail -n 20 "$_f" | sed 's/^/# /'
		done
	fi
	(exit $_rc)
	cleanup
}
trap t28_cleanup EXIT

# The front runs as nobody (the gateway): $TMP traversable, the socket in a 0755 directory.
chmod 755 "$TMP"
mkdir -m 755 "$TMP/run"
mkdir "$TMP/spool"
chmod 1777 "$TMP/spool"
DSOCK=$TMP/run/signetd.sock
printf '[daemon]\nsocket = %s\nauth_fail_delay_ms = 0\nsocket_group = nogroup\ngateway_user = nobody\n[tasks]\ncapability_grace = 1\n' \
	"$DSOCK" >"$TMP/signetd.conf"
init_state
for_daemon "$TMP/run"
start_daemon --config "$TMP/signetd.conf"

# A tenant user's own peer: neither root, nor the daemon's user, nor the gateway.
USERPEER="setpriv --reuid=4242 --regid=nogroup --clear-groups"

# scrape FILE: signetctl metrics (as root: a local administrator) into FILE.
scrape() { ctl metrics >"$1" 2>"$TMP/err" || fatal "signetctl metrics: $(cat "$TMP/err")"; }
# metric FILE NAME [LABELS]: one sample's value, LABELS as k=v,k=v (prometheus_client's parser).
metric() {
	"$PY" - "$@" <<'PYEOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
path, name = sys.argv[1], sys.argv[2]
want = dict(kv.split("=", 1) for kv in sys.argv[3].split(",")) if len(sys.argv) > 3 else {}
for fam in text_string_to_metric_families(open(path).read()):
    for s in fam.samples:
        if s.name == name and s.labels == want:
            v = s.value
            print(int(v) if v == int(v) else v)
            sys.exit(0)
sys.exit("no sample %s %s" % (name, want))
PYEOF
}
# delta NAME LABELS: the sample's growth from $TMP/m0 to $TMP/m1.
delta() {
	_a=$(metric "$TMP/m0" "$@") || return 1
	_b=$(metric "$TMP/m1" "$@") || return 1
	echo $((_b - _a))
}
# grew DESCRIPTION EXPECTED NAME [LABELS]: the sample grew by exactly EXPECTED.
grew() {
	_d=$1 _want=$2
	shift 2
	_got=$(delta "$@" 2>"$TMP/err") || _got="error: $(head -c 200 "$TMP/err")"
	if [ "$_got" = "$_want" ]; then
		ok "$_d: +$_want"
	else
		not_ok "$_d: expected +$_want, got $_got"
	fi
}

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
mkuser() {
	ctl --json user create "$1" >"$TMP/out" || fatal "user create $1"
	json .token
}
B_TOKEN=$(mkuser bob)
C_TOKEN=$(mkuser carol)
"$SIGNETCTL" --socket "$DSOCK" --token "$C_TOKEN" --json user otp-enroll carol >"$TMP/out" ||
	fatal "otp-enroll carol"
SEC=$(json .secret)
ctl key generate sk --alg ECC_NIST_P256 >/dev/null || fatal "key generate sk"
ctl key generate ska --alg ECC_NIST_P256 >/dev/null || fatal "key generate ska"
head -c 32 /dev/urandom >"$TMP/aes.raw"
ctl key import ek --alg AES_256 --file "$TMP/aes.raw" >/dev/null || fatal "key import ek"
ctl --json devconf create dcs --sign-key sk --four-eyes off --user USER:bob >"$TMP/out" ||
	fatal "devconf create dcs"
DCS=$(json .id)
ctl --json devconf create dce --encrypt-key ek --four-eyes off --user USER:bob >"$TMP/out" ||
	fatal "devconf create dce"
DCE=$(json .id)
ctl --json devconf create dca --sign-key ska --four-eyes on --user USER:bob --approver USER:carol \
	>"$TMP/out" || fatal "devconf create dca"
DCA=$(json .id)
MSG=$(printf 'firmware 28' | base64)
head -c 5000 /dev/urandom >"$TMP/fw.bin"

bob() { "$SIGNETCTL" --socket "$DSOCK" --token "$B_TOKEN" "$@"; }
carol() { "$SIGNETCTL" --socket "$DSOCK" --token "$C_TOKEN" "$@"; }
# done_task ID: wait for task ID to end DONE.
done_task() {
	bob --json task wait "$1" --timeout 30 >"$TMP/out" 2>"$TMP/err" || return 1
	[ "$(json .status)" = DONE ]
}

# 1. Counting what was done.
scrape "$TMP/m0"
for i in 1 2 3; do
	bob --json task sign --devconf "$DCS" --input-base64 "$MSG" >"$TMP/out" ||
		fatal "task sign $i"
	done_task "$(json .id)" || fatal "signing task $i did not end DONE"
done
for i in 1 2; do
	bob --json task encrypt --devconf "$DCE" --file "$TMP/fw.bin" >"$TMP/out" ||
		fatal "task encrypt $i: $(cat "$TMP/err")"
	done_task "$(json .id)" || fatal "encryption task $i did not end DONE"
done
bob --json task sign --devconf "$DCA" --input-base64 "$MSG" >"$TMP/out" || fatal "task sign dca"
TA=$(json .id)
bob --json task sign --devconf "$DCA" --input-base64 "$MSG" >"$TMP/out" || fatal "task sign dca 2"
TR=$(json .id)
# A wrong code: the current one shifted by half the range (a neighbour step's by a 1e-6 chance).
CODE=$(oathtool --totp -b "$SEC" | sed 's/^0*//; s/^$/0/')
WRONG=$(printf '%06d' $(((CODE + 500000) % 1000000)))
expect_refusal "a wrong TOTP code is refused" otp_invalid carol task approve "$TA" --otp "$WRONG"
CODE=$(oathtool --totp -b "$SEC")
check "carol approves with the right code" carol task approve "$TA" --otp "$CODE"
check "the approved task ends DONE" done_task "$TA"
check "carol rejects the other" carol task reject "$TR" --reason "not this one"
expect_refusal "a bad API token is refused" unauthenticated \
	"$SIGNETCTL" --socket "$DSOCK" --token sgn_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA whoami
scrape "$TMP/m1"

check "signetctl metrics is valid text for prometheus_client's parser" "$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
assert len(fams) > 40, len(fams)' "$TMP/m1"
T=signet_task_transitions_total
grew "signing tasks DONE" 4 $T type=SIGNING,status=DONE
grew "signing tasks CREATED" 5 $T type=SIGNING,status=CREATED
grew "signing tasks IN_PROGRESS" 4 $T type=SIGNING,status=IN_PROGRESS
grew "signing tasks WAITING" 2 $T type=SIGNING,status=WAITING
grew "signing tasks APPROVED" 1 $T type=SIGNING,status=APPROVED
grew "signing tasks REJECTED" 1 $T type=SIGNING,status=REJECTED
grew "signing tasks FAILED" 0 $T type=SIGNING,status=FAILED
grew "encryption tasks CREATED" 2 $T type=ENCRYPTION,status=CREATED
grew "encryption tasks DONE" 2 $T type=ENCRYPTION,status=DONE
grew "packaging tasks CREATED" 0 $T type=PACKAGING,status=CREATED
H=signet_task_duration_seconds
grew "signing durations counted (4 DONE, 1 REJECTED)" 5 ${H}_count type=SIGNING
grew "encryption durations counted" 2 ${H}_count type=ENCRYPTION
grew "signing durations in the +Inf bucket" 5 ${H}_bucket type=SIGNING,le=+Inf
grew "approvals given" 1 signet_approvals_total decision=APPROVED
grew "rejections" 1 signet_approvals_total decision=REJECTED
grew "TOTP failures (wrong)" 1 signet_otp_failures_total reason=wrong
grew "TOTP failures (replayed)" 0 signet_otp_failures_total reason=replayed
grew "lockouts" 0 signet_otp_lockouts_total
grew "authentication failures" 1 signet_auth_failures_total
grew "task records" 7 signet_tasks
check "the histograms are whole: buckets never decrease, +Inf equals count, sum within bounds" \
	"$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    if fam.name != "signet_task_duration_seconds":
        continue
    assert fam.type == "histogram", fam.type
    for t in ("SIGNING", "ENCRYPTION", "PACKAGING"):
        b = [(float(s.labels["le"]), s.value) for s in fam.samples
             if s.name.endswith("_bucket") and s.labels["type"] == t]
        assert b == sorted(b), b
        assert all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)), b
        n = [s.value for s in fam.samples if s.name.endswith("_count") and s.labels["type"] == t][0]
        sm = [s.value for s in fam.samples if s.name.endswith("_sum") and s.labels["type"] == t][0]
        assert b[-1] == (float("inf"), n), (b[-1], n)
        assert 0 <= sm <= n * 3600 + 1, (sm, n)
    sys.exit(0)
sys.exit("no signet_task_duration_seconds")' "$TMP/m1"
S1=$(metric "$TMP/m1" signet_tasks)
check "the gauges are there: queue, store, spool, audit" sh -c "
	for n in signet_engine_queued signet_engine_queue_max signet_store_used_bytes \
		signet_spool_used_bytes signet_audit_entries signet_audit_appliance_entries \
		signet_token_errors_total signet_token_retries_total process_start_time_seconds; do
		grep -q \"^\$n \" '$TMP/m1' || { echo \"no \$n\" >&2; exit 1; }
	done"

# 2. A scrape writes nothing: no audit entry, no event.
scrape "$TMP/m2"
scrape "$TMP/m3"
check "scraping leaves no audit entry" test "$(metric "$TMP/m2" signet_audit_entries)" = \
	"$(metric "$TMP/m3" signet_audit_entries)"

# 3. Who may call it: a tenant user's peer is refused, whatever its token; the gateway is not.
expect_refusal "a tenant user's peer with its API token may not call metrics" denied \
	$USERPEER "$SIGNETCTL" --socket "$DSOCK" --token "$B_TOKEN" metrics
expect_refusal "... nor the initial admin's token from that peer" denied \
	$USERPEER "$SIGNETCTL" --socket "$DSOCK" --token "$SIGNET_TOKEN" metrics
check "the gateway's user may" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$SIGNETCTL" --socket "$DSOCK" metrics

# 4. The front: GET /metrics when on, with the metrics token; 404 when off (the default).
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# start_front PORT [options...]: a front as nobody on 127.0.0.1:PORT, once /healthz is 200.
start_front() {
	_port=$1
	shift
	"$SIGNET_FRONT" --socket "$DSOCK" --listen "127.0.0.1:$_port" --user nobody \
		--tmpdir "$TMP/spool" "$@" >>"$TMP/front.$_port.log" 2>&1 &
	FRONT_PIDS="$FRONT_PIDS $!"
	_i=0
	while [ $_i -lt 200 ]; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$_port/healthz")" != 200 ] ||
			return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	fatal "signet-front did not answer /healthz within 10 s"
}
# get PORT TOKEN: GET /metrics; the body in $TMP/body, the headers in $TMP/hdr; prints the status.
get() {
	curl -sS -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' \
		${2:+-H "Authorization: Bearer $2"} "http://127.0.0.1:$1/metrics" 2>"$TMP/curl.err" || true
}
MTOK=metrics-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '[front]\nmetrics = on\nmetrics_token = %s\nauth_fail_delay_ms = 0\n' "$MTOK" >"$TMP/front-on.conf"
P_ON=$(free_port)
start_front "$P_ON" --config "$TMP/front-on.conf"
check "GET /metrics with the metrics token: 200" test "$(get "$P_ON" "$MTOK")" = 200
check "... as text/plain; version=0.0.4" sh -c \
	"grep -i '^content-type:' '$TMP/hdr' | grep -q 'text/plain; version=0.0.4'"
cp "$TMP/body" "$TMP/mf"
check "... that prometheus_client parses" "$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
assert len(list(text_string_to_metric_families(open(sys.argv[1]).read()))) > 40' "$TMP/mf"
check "... with the same task counts as signetctl's" test \
	"$(metric "$TMP/mf" $T type=SIGNING,status=DONE)/$(metric "$TMP/mf" signet_tasks)" = \
	"$(metric "$TMP/m1" $T type=SIGNING,status=DONE)/$S1"
check "without a token: 401" test "$(get "$P_ON" "")" = 401
check "with a tenant user's API token: 401" test "$(get "$P_ON" "$B_TOKEN")" = 401
check "with the initial admin's API token: 401" test "$(get "$P_ON" "$SIGNET_TOKEN")" = 401
check "with the metrics token and a byte more: 401" test "$(get "$P_ON" "${MTOK}x")" = 401

P_OFF=$(free_port)
start_front "$P_OFF"
check "metrics off (the default): GET /metrics is 404" test "$(get "$P_OFF" "$MTOK")" = 404
check "... answered as any unknown path" test "$(jq -r .code "$TMP/body")" = not_found

printf '[front]\nmetrics = maybe\n' >"$TMP/front-bad.conf"
erc=0
"$SIGNET_FRONT" --config "$TMP/front-bad.conf" --check-config >"$TMP/out" 2>"$TMP/err" || erc=$?
check "metrics = maybe is refused by --check-config" sh -c "test $erc -ne 0 && grep -q 'on or off' '$TMP/err'"
printf '[front]\nmetrics = on\nmetrics_token = short\n' >"$TMP/front-bad.conf"
erc=0
"$SIGNET_FRONT" --config "$TMP/front-bad.conf" --check-config >"$TMP/out" 2>"$TMP/err" || erc=$?
check "a metrics_token under 16 bytes is refused" test $erc -ne 0
