#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The REST gateway (DESIGN 8): the real signetd and the real signet-front, driven with curl, every
# outcome checked with a real client (openssl, oathtool, jq) or against what signetctl shows.
# Sign and encrypt flows with four-eyes approval, the refusals and their JSON codes, malformed and
# oversize bodies, the event stream, privilege separation, 200 concurrent requests, the tenant
# configuration, device configurations and the audit log, and the expiry of a result.
. "$TESTLIB"

: "${SIGNET_FRONT:?SIGNET_FRONT must name the signet-front binary}"

T_START=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

FRONT_PIDS=
BG_PIDS=
# The harness's cleanup, after the fronts and background clients this test started.
t12_cleanup() {
	_rc=$?
	set +e
	# SIGKILL: a front with an event stream open takes up to 15 s to stop on SIGTERM.
	for _p in $BG_PIDS $FRONT_PIDS; do
		kill -KILL "$_p" 2>/dev/null
	done
	for _p in $BG_PIDS $FRONT_PIDS; do
		wait "$_p" 2>/dev/null
	done
	if [ $_rc -ne 0 ] || [ "$T_FAIL" -ne 0 ]; then
		for _f in "$TMP"/front.*.log; do
			[ -f "$_f" ] || continue
			say "---- $(basename "$_f") (last 25 lines) ----"
			tail -n 25 "$_f" | sed 's/^/# /'
		done
	fi
	(exit $_rc)
	cleanup
}
trap t12_cleanup EXIT

# Everything the front (as nobody) must reach: $TMP traversable, the socket in a 0755 directory,
# a spool directory anyone may write.
chmod 755 "$TMP"
mkdir -m 755 "$TMP/run"
mkdir "$TMP/spool"
chmod 1777 "$TMP/spool"
DSOCK=$TMP/run/signetd.sock
ROOT=false
[ "$(id -u)" != 0 ] || ROOT=true
# mkconf FILE [EXTRA-TASKS-LINES]: a daemon configuration.
mkconf() {
	{
		printf '[daemon]\nsocket = %s\nauth_fail_delay_ms = 0\n' "$DSOCK"
		if $ROOT; then
			printf 'socket_group = nogroup\ngateway_user = nobody\n'
		else
			# Without a gateway user the front's connections count against one uid's limit.
			printf 'max_connections_per_uid = 1000\n'
		fi
		printf '[tasks]\ncapability_grace = 1\n%s' "${2:-}"
	} >"$1"
}
mkconf "$TMP/signetd.conf"
mkconf "$TMP/signetd-ttl.conf" 'result_ttl = 2
'

# As root, signetd runs as the harness's DUSER (lib.sh), which must create the socket.
init_state
for_daemon "$TMP/run"
start_daemon --config "$TMP/signetd.conf"

FRONT_USER=
! $ROOT || FRONT_USER="--user nobody"
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# start_front PORT [options...]: a front on 127.0.0.1:PORT; its pid in FPID once /healthz is 200.
start_front() {
	_port=$1
	shift
	# shellcheck disable=SC2086
	"$SIGNET_FRONT" --socket "$DSOCK" --listen "127.0.0.1:$_port" $FRONT_USER \
		--tmpdir "$TMP/spool" "$@" >>"$TMP/front.$_port.log" 2>&1 &
	FPID=$!
	FRONT_PIDS="$FRONT_PIDS $FPID"
	_i=0
	while [ $_i -lt 200 ]; do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$_port/healthz")" = 200 ]; then
			return 0
		fi
		kill -0 "$FPID" 2>/dev/null || fatal "signet-front exited during start: $(tail -n 5 "$TMP/front.$_port.log")"
		sleep 0.05
		_i=$((_i + 1))
	done
	fatal "signet-front did not answer /healthz within 10 s"
}
# stop_front PID: SIGTERM and wait; its exit status in FRC.
stop_front() {
	kill -TERM "$1" 2>/dev/null || true
	FRC=0
	wait "$1" || FRC=$?
	FRONT_PIDS=$(echo "$FRONT_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# kill_front PID: SIGKILL, for a front whose graceful stop is not the point.
kill_front() {
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	FRONT_PIDS=$(echo "$FRONT_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# http METHOD PATH TOKEN [curl options...]: one request to $BASE; the body lands in $TMP/out,
# (or HTTP_OUT) the headers in $TMP/hdr; prints the status (000 when no answer came). TOKEN may be empty.
http() {
	_m=$1 _p=$2 _t=$3
	shift 3
	rm -f "$TMP/out" "$TMP/hdr"
	if [ -n "$_t" ]; then
		set -- -H "Authorization: Bearer $_t" "$@"
	fi
	curl -sS -X "$_m" -D "$TMP/hdr" -o "${HTTP_OUT:-$TMP/out}" -w '%{http_code}' "$@" "$BASE$_p" \
		2>"$TMP/curl.err" || true
}
# hdr NAME: a header of the last answer (no CR).
hdr() { grep -i "^$1:" "$TMP/hdr" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r'; }
# body: the start of the last answer, for messages.
body() { head -c 200 "$TMP/out" 2>/dev/null | tr '\n' ' '; head -c 100 "$TMP/curl.err" 2>/dev/null; }
# answers DESCRIPTION STATUS CODE METHOD PATH TOKEN [curl options...]: the answer has STATUS and,
# unless CODE is empty, a JSON body whose code is CODE.
answers() {
	_d=$1 _s=$2 _c=$3
	shift 3
	_got=$(http "$@")
	_gc=$(jq -r '.code // empty' "$TMP/out" 2>/dev/null || true)
	if [ "$_got" = "$_s" ] && { [ -z "$_c" ] || [ "$_gc" = "$_c" ]; }; then
		ok "$_d"
	else
		not_ok "$_d (expected $_s ${_c:-}, got $_got: $(body))"
	fi
}
# post_json PATH TOKEN JSON: prints the status.
post_json() { http POST "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }
as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "$DSOCK" --token "$_tok" "$@"
}
fails_to_verify() {
	if "$@" >"$TMP/fv.out" 2>&1; then
		return 1
	fi
	grep -qi 'verification failure\|verify failure\|digest failure' "$TMP/fv.out"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
b64() { base64 -w0 "$1"; }
# poll_task TYPE ID TOKEN: wait until the task leaves WAITING/APPROVED/CREATED/IN_PROGRESS (60 s
# at most: a deadline for a task that never ends, not a speed); its last GET lands in $TMP/out.
poll_task() {
	_n=0
	while [ $_n -lt 600 ]; do
		http GET "/api/v1/$1/$2" "$3" >/dev/null
		case $(jq -r .status "$TMP/out" 2>/dev/null) in
		CREATED | WAITING | APPROVED | IN_PROGRESS) ;;
		*) return 0 ;;
		esac
		sleep 0.1
		_n=$((_n + 1))
	done
}
# same_json DESCRIPTION FILE COMMAND...: FILE and the command's JSON output are equal (key order
# aside, and the RFC 3339 copies of times that signetctl adds, members named ...Rfc3339).
SJ_FILTER='walk(if type == "object" then with_entries(select(.key | endswith("Rfc3339") | not)) else . end)'
same_json() {
	_d=$1 _f=$2
	shift 2
	if "$@" >"$TMP/sj.ctl" 2>"$TMP/sj.err" && jq -S "$SJ_FILTER" "$TMP/sj.ctl" >"$TMP/sj.a" 2>/dev/null &&
		jq -S "$SJ_FILTER" "$_f" >"$TMP/sj.b" 2>/dev/null && cmp -s "$TMP/sj.a" "$TMP/sj.b"; then
		ok "$_d"
	else
		not_ok "$_d ($(diff "$TMP/sj.a" "$TMP/sj.b" 2>&1 | head -c 300)$(head -c 200 "$TMP/sj.err"))"
	fi
}
ntasks() { ctl --json task list --limit 1000 | jq '.tasks | length'; }

###########################################################################################
# 0. The tenants, users, keys and device configurations, made with signetctl.
ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
A=$SIGNET_TOKEN
ctl --json tenant create other --admin olga >"$TMP/out" || fatal "tenant create other"
O=$(json .token)
mkuser() {
	ctl --json user create "$1" >"$TMP/out" || fatal "user create $1"
	json .token
}
B=$(mkuser bob)
C=$(mkuser carol)
D=$(mkuser dave)
enroll() {
	as "$2" --json user otp-enroll "$1" >"$TMP/out" 2>"$TMP/err" || fatal "otp-enroll $1: $(cat "$TMP/err")"
	json .secret
}
SEC_alice=$(enroll alice "$A")
SEC_bob=$(enroll bob "$B")
SEC_carol=$(enroll carol "$C")
enroll olga "$O" >/dev/null # an event of the other tenant

ctl --json key generate ec --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate ec"
json .publicKeyPem | sed '/^$/d' >"$TMP/ec.pub"
# dc-now's own key: a key's strictest policy applies to all its uses (DESIGN §5).
ctl --json key generate ecnow --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate ecnow"
json .publicKeyPem | sed '/^$/d' >"$TMP/ecnow.pub"
ctl --json key generate rsa --alg RSA_3072 >"$TMP/out" || fatal "key generate rsa"
json .publicKeyPem | sed '/^$/d' >"$TMP/rsa.pub"
head -c 32 /dev/urandom >"$TMP/aes.raw"
KHEX=$(od -An -tx1 -v "$TMP/aes.raw" | tr -d ' \n')
ctl key import aes --alg AES_256 --file "$TMP/aes.raw" >/dev/null || fatal "key import aes"

ctl --json devconf create dc-ec --sign-key ec --four-eyes on --approver USER:bob --approver USER:carol \
	>"$TMP/out" || fatal "devconf dc-ec"
DC_EC=$(json .id)
ctl --json devconf create dc-rsa --sign-key rsa --four-eyes on --approver USER:bob --approver USER:carol \
	>"$TMP/out" || fatal "devconf dc-rsa"
DC_RSA=$(json .id)
ctl --json devconf create dc-now --sign-key ecnow --four-eyes off >"$TMP/out" || fatal "devconf dc-now"
DC_NOW=$(json .id)
ctl --json devconf create dc-enc --encrypt-key aes --four-eyes off >"$TMP/out" || fatal "devconf dc-enc"
DC_ENC=$(json .id)
check "dc-enc encrypts with AES256_CBC_PKCS7_PAD" test "$(json .cipher)" = AES256_CBC_PKCS7_PAD

###########################################################################################
# 1. The front: started as root it drops to nobody for good.
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
# The load test below makes 200 connections from one address (the default allows 64 per IP).
printf '[front]\nmax_connections_per_ip = 256\n' >"$TMP/front.conf"
start_front "$PORT" --config "$TMP/front.conf"
F1=$FPID
http GET /healthz "" >/dev/null
check "/healthz says {\"status\":\"ok\"}, as application/json" \
	test "$(jq -c . "$TMP/out" 2>/dev/null) $(hdr Content-Type)" = '{"status":"ok"} application/json'

if $ROOT; then
	st=/proc/$F1/status
	check "the front runs as nobody: Uid all 65534" \
		test "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")" = "65534 65534 65534 65534"
	check "... Gid all 65534" test "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st")" = "65534 65534 65534 65534"
	check "... no supplementary group but nogroup" test "$(awk '/^Groups:/ { $1 = ""; print }' "$st" | tr -d ' ')" = 65534
	check "... CapEff 0000000000000000" test "$(awk '/^CapEff:/ { print $2 }' "$st")" = 0000000000000000
	check "... CapPrm 0000000000000000" test "$(awk '/^CapPrm:/ { print $2 }' "$st")" = 0000000000000000
	check "... CapAmb 0000000000000000" test "$(awk '/^CapAmb:/ { print $2 }' "$st")" = 0000000000000000
	check "... no new privileges (the drop signetd uses, lib/privdrop.c)" \
		grep -q '^NoNewPrivs:[[:space:]]*1' "$st"
	check "the front logged that it is ready as uid 65534" grep -q 'ready (pid .*, uid 65534,' "$TMP/front.$PORT.log"
	NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	erc=0
	$NOBODY ls "$STATE" >/dev/null 2>"$TMP/err" || erc=$?
	check "nobody cannot read the state directory (ls: $(head -c 80 "$TMP/err"))" \
		sh -c "test $erc -ne 0 && grep -q 'Permission denied' '$TMP/err'"
	erc=0
	$NOBODY cat "$STATE/token-pin" >/dev/null 2>"$TMP/err" || erc=$?
	check "nobody cannot read the token PIN" sh -c "test $erc -ne 0 && grep -q 'Permission denied' '$TMP/err'"
	$NOBODY "$SIGNETCTL" --socket "$DSOCK" --token "$A" --json whoami >"$TMP/out" 2>"$TMP/err" || true
	check "a connection from the gateway's uid authenticates alice but is not local" \
		test "$(jq -r '"\(.user) \(.admin) \(.local)"' "$TMP/out" 2>/dev/null)" = "alice true false"
	erc=0
	$NOBODY "$SIGNETCTL" --socket "$DSOCK" --token "$A" key generate x --alg ECC_NIST_P256 >/dev/null 2>"$TMP/err" || erc=$?
	check "signetd refuses key generate from the gateway's uid, even with the admin's token: denied, local administrators only" \
		sh -c "test $erc -eq 1 && grep -q '^signetctl: denied: .*local administrators' '$TMP/err'"
	expect_refusal "... and no key x exists" not_found ctl key show x
	erc=0
	$NOBODY "$SIGNETCTL" --socket "$DSOCK" tenant create evil --admin eve >/dev/null 2>"$TMP/err" || erc=$?
	check "signetd refuses tenant create from the gateway's uid: denied" \
		sh -c "test $erc -eq 1 && grep -q '^signetctl: denied: ' '$TMP/err'"
	p=$(free_port)
	erc=0
	timeout 10 "$SIGNET_FRONT" --socket "$DSOCK" --listen "127.0.0.1:$p" --tmpdir "$TMP/spool" \
		>"$TMP/err" 2>&1 || erc=$?
	check "started as root without --user, signet-front exits non-zero ($erc) saying why" \
		sh -c "test $erc -ne 0 -a $erc -ne 124 && grep -q 'refusing to run as root: give --user' '$TMP/err'"
	erc=0
	timeout 10 "$SIGNET_FRONT" --socket "$DSOCK" --listen "127.0.0.1:$p" --tmpdir "$TMP/spool" --user root \
		>"$TMP/err" 2>&1 || erc=$?
	check "with --user root it exits non-zero ($erc) too" \
		sh -c "test $erc -ne 0 -a $erc -ne 124 && grep -q 'that is root' '$TMP/err'"
else
	ok "skipped: privilege checks (not running as root)"
fi

###########################################################################################
# 2. Authentication, routing and bodies.
answers "no token: 401 unauthenticated" 401 unauthenticated GET /api/v1/signingTask ""
check "... with WWW-Authenticate: Bearer" test "$(hdr WWW-Authenticate)" = Bearer
answers "a bad token: 401 unauthenticated" 401 unauthenticated GET /api/v1/signingTask sgn_not_a_token
# signetd answers the gateway's failed authentications at once (auth_fail_delay_ms = 0 here
# anyway); the front holds its own delay (auth_fail_delay_ms, default 250 ms) off its pool.
ft=$(curl -s -o /dev/null -w '%{time_total}' -H 'Authorization: Bearer sgn_not_a_token' \
	-H 'X-SE-TENANT: acme' "$BASE/api/v1/signingTask")
check "... answered only after the front's failed-authentication delay (${ft} s >= 0.2 s)" \
	awk -v t="$ft" 'BEGIN { exit !(t >= 0.2) }'
answers "an Authorization that is not Bearer: 401" 401 unauthenticated GET /api/v1/signingTask "" \
	-H "Authorization: Basic $(printf 'alice:x' | base64)"
answers "an unknown path: 404 not_found" 404 not_found GET /api/v1/nothingHere "$A"
answers "an unknown path without a token: 404 as well" 404 not_found GET /api/v2/signingTask ""
answers "a path parameter that is not UTF-8: 400 (not a listing without its filter)" 400 invalid \
	GET /api/v1/auditlog/resources/%FF "$A"
answers "a query argument that is not UTF-8: 400" 400 invalid GET "/api/v1/signingTask?status=%FF" "$A"
answers "a wrong method: 405" 405 invalid DELETE /api/v1/signingTask "$A"
check "... with Allow naming GET and POST (in any order)" \
	test "$(hdr Allow | tr -d ' ' | tr ',' '\n' | sort | tr '\n' ' ')" = "GET POST "
answers "PUT on a task: 405" 405 invalid PUT /api/v1/signingTask/x "$A"
check "... with Allow: GET" test "$(hdr Allow)" = GET
answers "malformed JSON: 400 invalid" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' --data-binary '{"deviceConfigId": "x", "inputBase64": '
answers "a JSON array instead of an object: 400 invalid" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' --data-binary '["x"]'
answers "an empty JSON body: 400 invalid" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json'
answers "an unknown JSON member: 400 invalid" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' --data-binary "{\"deviceConfigId\": \"$DC_NOW\", \"inputBase64\": \"aGk=\", \"evil\": 1}"
answers "duplicate JSON members: 400 invalid" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' --data-binary "{\"deviceConfigId\": \"$DC_NOW\", \"deviceConfigId\": \"$DC_EC\", \"inputBase64\": \"aGk=\"}"
answers "a JSON body sent as text/plain: 415" 415 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: text/plain' --data-binary "{\"deviceConfigId\": \"$DC_NOW\", \"inputBase64\": \"aGk=\"}"
answers "a body on a GET: 400 invalid" 400 invalid GET /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' --data-binary '{}'
answers "a signing task for an unknown device configuration: 404 not_found" 404 not_found \
	POST /api/v1/signingTask "$A" -H 'Content-Type: application/json' \
	--data-binary '{"deviceConfigId": "01a20000-0000-7000-8000-000000000000", "inputBase64": "aGk="}'
answers "inputBase64 that is not base64: 400 invalid" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' --data-binary "{\"deviceConfigId\": \"$DC_NOW\", \"inputBase64\": \"not base64!\"}"
check "none of these made a task" test "$(ntasks)" = 0

###########################################################################################
# 3. Signing with four-eyes approval: ECDSA over the message, RSA-PSS over the SHA-256 digest
# (the Sign & Encrypt API's rule, DESIGN 8, when the request says neither prehashed nor hash).
printf 'firmware image 7.1 for the REST test\n' >"$TMP/msg.bin"
printf 'firmware image 7.2 for the REST test\n' >"$TMP/other.bin"
openssl dgst -sha256 -binary "$TMP/msg.bin" >"$TMP/msg.sha256"
MSG_SHA=$(sha "$TMP/msg.bin")

st=$(post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_EC\", \"inputBase64\": \"$(b64 "$TMP/msg.bin")\", \"name\": \"fw-ec\"}")
check "ECDSA: POST signingTask on a four-eyes device configuration: 201 (got $st: $(body))" test "$st" = 201
check "ECDSA: the task is WAITING, of type SIGNING" test "$(json '.status + " " + .type' || true)" = "WAITING SIGNING"
T_EC=$(jq -r '.id // "none"' "$TMP/out")
check "ECDSA: signetctl shows the same task WAITING, named fw-ec, by alice, over the message's sha256" \
	test "$(ctl --json task show "$T_EC" | jq -r '[.status, .name, .requester, .inputs[0].sha256] | join(" ")')" = "WAITING fw-ec USER:alice $MSG_SHA"

st=$(post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_RSA\", \"inputBase64\": \"$(b64 "$TMP/msg.sha256")\", \"name\": \"fw-rsa\"}")
check "RSA: POST signingTask with the SHA-256 digest: 201 WAITING (got $st: $(body))" \
	test "$st/$(jq -r .status "$TMP/out" 2>/dev/null)" = 201/WAITING
T_RSA=$(jq -r '.id // "none"' "$TMP/out")
ctl --json task show "$T_RSA" >"$TMP/show.json" 2>/dev/null || true
check "RSA: the input is taken as prehashed, its digest the message's sha256" \
	test "$(jq -r '.inputs[0] | "\(.prehashed) \(.sha256)"' "$TMP/show.json")" = "true $MSG_SHA"

# bob approves the ECDSA task with oathtool's code.
CODE_bob=$(oathtool --totp -b "$SEC_bob")
st=$(post_json "/api/v1/signingTask/$T_EC/approval" "$B" "{\"decision\": \"APPROVED\", \"otp\": \"$CODE_bob\"}")
check "ECDSA: bob's approval with oathtool's code: 202 (got $st: $(body))" test "$st" = 202
check "ECDSA: the reply shows the task APPROVED by USER:bob with TOTP" \
	test "$(jq -r '[.status, .approvals[0].approver, .approvals[0].secondFactor] | map(tostring) | join(" ")' "$TMP/out" 2>/dev/null)" = "APPROVED USER:bob true"
# At once (same 30 s step window): the same code again is a replay.
answers "bob's code again, on the RSA task: 403 otp_replayed" 403 otp_replayed \
	POST "/api/v1/signingTask/$T_RSA/approval" "$B" -H 'Content-Type: application/json' \
	--data-binary "{\"decision\": \"APPROVED\", \"otp\": \"$CODE_bob\"}"
answers "alice approving her own task (with a right code): 403 self_approval" 403 self_approval \
	POST "/api/v1/signingTask/$T_RSA/approval" "$A" -H 'Content-Type: application/json' \
	--data-binary "{\"decision\": \"APPROVED\", \"otp\": \"$(oathtool --totp -b "$SEC_alice")\"}"
answers "dave, who may not see the task, cannot approve it: 404 not_found" 404 not_found \
	POST "/api/v1/signingTask/$T_RSA/approval" "$D" -H 'Content-Type: application/json' \
	--data-binary '{"decision": "APPROVED", "otp": "123456"}'
answers "another tenant's admin on acme's task: 404 not_found" 404 not_found \
	GET "/api/v1/signingTask/$T_RSA" "$O"
answers "... nor approve it: 404 not_found" 404 not_found \
	POST "/api/v1/signingTask/$T_RSA/approval" "$O" -H 'Content-Type: application/json' \
	--data-binary '{"decision": "APPROVED", "otp": "123456"}'
answers "olga's token claiming tenant acme (X-SE-TENANT): 401" 401 unauthenticated \
	GET "/api/v1/signingTask/$T_RSA" "$O" -H 'X-SE-TENANT: acme'
answers "alice's token with her own tenant in X-SE-TENANT: 200" 200 "" \
	GET "/api/v1/signingTask/$T_RSA" "$A" -H 'X-SE-TENANT: acme'
answers "an X-SE-TENANT that is not a tenant name: 400" 400 invalid \
	GET "/api/v1/signingTask/$T_RSA" "$A" -H 'X-SE-TENANT: ../acme'
answers "a decision that is neither APPROVED nor REJECTED: 400" 400 invalid \
	POST "/api/v1/signingTask/$T_RSA/approval" "$C" -H 'Content-Type: application/json' \
	--data-binary '{"decision": "MAYBE"}'
answers "the RSA task through the encryptionTask path: 404 not_found" 404 not_found \
	GET "/api/v1/encryptionTask/$T_RSA" "$A"
check "after the refusals the RSA task is WAITING with no decision" \
	test "$(ctl --json task show "$T_RSA" | jq -r '.status + "/" + (.approvals | length | tostring)')" = WAITING/0
st=$(post_json "/api/v1/signingTask/$T_RSA/approval" "$C" "{\"decision\": \"APPROVED\", \"otp\": \"$(oathtool --totp -b "$SEC_carol")\"}")
check "RSA: carol's approval with oathtool's code: 202 (got $st: $(body))" test "$st" = 202

poll_task signingTask "$T_EC" "$A"
check "ECDSA: GET signingTask/{id} shows DONE" test "$(jq -r .status "$TMP/out")" = DONE
jq -r '.result.signature // empty' "$TMP/out" | base64 -d >"$TMP/ec.sig" 2>/dev/null || true
check "ECDSA: openssl verifies the signature over the message" \
	openssl dgst -sha256 -verify "$TMP/ec.pub" -signature "$TMP/ec.sig" "$TMP/msg.bin"
check "ECDSA: ... and not over another message" \
	fails_to_verify openssl dgst -sha256 -verify "$TMP/ec.pub" -signature "$TMP/ec.sig" "$TMP/other.bin"
same_json "ECDSA: the REST task equals signetctl's task show" "$TMP/out" ctl --json task show "$T_EC"

poll_task signingTask "$T_RSA" "$A"
check "RSA: GET signingTask/{id} shows DONE" test "$(jq -r .status "$TMP/out")" = DONE
jq -r '.result.signature // empty' "$TMP/out" | base64 -d >"$TMP/rsa.sig" 2>/dev/null || true
check "RSA: openssl pkeyutl verifies the PSS signature over the digest" \
	openssl pkeyutl -verify -pubin -inkey "$TMP/rsa.pub" -in "$TMP/msg.sha256" -sigfile "$TMP/rsa.sig" \
	-pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
check "RSA: openssl dgst verifies it over the message" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$TMP/rsa.pub" -signature "$TMP/rsa.sig" "$TMP/msg.bin"
check "RSA: ... and not over another message" \
	fails_to_verify openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$TMP/rsa.pub" -signature "$TMP/rsa.sig" "$TMP/other.bin"

# A rejection.
post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_EC\", \"inputBase64\": \"$(b64 "$TMP/other.bin")\"}" >/dev/null
T_REJ=$(jq -r '.id // "none"' "$TMP/out")
st=$(post_json "/api/v1/signingTask/$T_REJ/approval" "$C" '{"decision": "REJECTED", "reason": "wrong build"}')
check "carol's rejection: 202, REJECTED (got $st: $(body))" test "$st/$(jq -r .status "$TMP/out" 2>/dev/null)" = 202/REJECTED
http GET "/api/v1/signingTask/$T_REJ" "$A" >/dev/null
check "the rejected task keeps the reason and has no result" \
	test "$(jq -r '"\(.status)|\(.reason)|\(.result)"' "$TMP/out")" = "REJECTED|wrong build|null"

# The user without USE, and a large message that goes to signetd as a file.
answers "dave, without USE on dc-now, cannot sign: 403 denied" 403 denied POST /api/v1/signingTask "$D" \
	-H 'Content-Type: application/json' --data-binary "{\"deviceConfigId\": \"$DC_NOW\", \"inputBase64\": \"aGk=\"}"
http GET /api/v1/signingTask "$D" >/dev/null
check "dave's task list is empty" test "$(jq -r '.tasks | length' "$TMP/out")" = 0
head -c 60000 /dev/urandom >"$TMP/large.bin"
printf '{"deviceConfigId": "%s", "inputBase64": "%s", "name": "large"}' "$DC_NOW" "$(b64 "$TMP/large.bin")" >"$TMP/large.json"
st=$(http POST /api/v1/signingTask "$A" -H 'Content-Type: application/json' --data-binary "@$TMP/large.json")
check "a 60000-byte message (80 KB of base64, past the inline limit): 201 DONE at once (got $st: $(body))" \
	test "$st/$(jq -r .status "$TMP/out" 2>/dev/null)" = 201/DONE
jq -r '.result.signature // empty' "$TMP/out" | base64 -d >"$TMP/large.sig" 2>/dev/null || true
check "openssl verifies the signature over the large message" \
	openssl dgst -sha256 -verify "$TMP/ecnow.pub" -signature "$TMP/large.sig" "$TMP/large.bin"
check "the front's spool directory holds no file" test -z "$(ls -A "$TMP/spool")"

###########################################################################################
# 4. Encryption of 50 MiB through a multipart upload, downloaded and decrypted by openssl.
head -c $((50 * 1024 * 1024)) /dev/urandom >"$TMP/big.bin"
BIG_SHA=$(sha "$TMP/big.bin")
t0=$(date +%s.%N)
st=$(http POST /api/v1/encryptionTask "$A" -F "deviceConfigId=$DC_ENC" -F "sha256checksum=$BIG_SHA" \
	-F "file=@$TMP/big.bin")
T_UP=$(since "$t0")
check "POST encryptionTask of 50 MiB (with its sha256checksum): 201 (got $st: $(body))" test "$st" = 201
check "the reply names an ENCRYPTION task" test "$(jq -r .type "$TMP/out" 2>/dev/null)" = ENCRYPTION
T_ENC=$(jq -r '.id // "none"' "$TMP/out")
t0=$(date +%s.%N)
poll_task encryptionTask "$T_ENC" "$A"
T_RUN=$(since "$t0")
check "the encryption task ends DONE" test "$(jq -r .status "$TMP/out")" = DONE
check "it records the upload: name big.bin, 52428800 bytes, its sha256" \
	test "$(jq -r '.inputs[0] | "\(.name) \(.size) \(.sha256)"' "$TMP/out")" = "big.bin 52428800 $BIG_SHA"
RSHA=$(jq -r .result.sha256 "$TMP/out")
RSIZE=$(jq -r .result.size "$TMP/out")
check "the front's spool directory holds no file after the upload" test -z "$(ls -A "$TMP/spool")"
t0=$(date +%s.%N)
HTTP_OUT=$TMP/big.enc
st=$(http GET "/api/v1/encryptionTask/$T_ENC/download" "$A")
HTTP_OUT=
T_DOWN=$(since "$t0")
check "GET .../download: 200 (got $st)" test "$st" = 200
touch "$TMP/big.enc"
DSIZE=$(wc -c <"$TMP/big.enc")
check "Content-Length is the body's size, the result's size ($RSIZE) and 50 MiB + padding + IV" \
	test "$(hdr Content-Length)/$DSIZE/$RSIZE" = "52428832/52428832/52428832"
check "Content-Disposition: attachment; filename=\"big.bin.enc\"" \
	test "$(hdr Content-Disposition)" = 'attachment; filename="big.bin.enc"'
check "Content-Type: application/octet-stream" test "$(hdr Content-Type)" = application/octet-stream
check "X-Checksum-SHA256 equals sha256 of the body and the task's result sha256" \
	test "$(hdr X-Checksum-SHA256)/$(sha "$TMP/big.enc")" = "$RSHA/$RSHA"
check "Digest: sha-256= the base64 of the same digest" \
	test "$(hdr Digest)" = "sha-256=$(python3 -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$RSHA")"
head -c $((DSIZE > 16 ? DSIZE - 16 : 0)) "$TMP/big.enc" >"$TMP/big.ct"
IV=$(tail -c 16 "$TMP/big.enc" | od -An -tx1 -v | tr -d ' \n')
rm -f "$TMP/big.dec"
check "openssl enc -d -aes-256-cbc with the imported key and the appended IV decrypts" \
	openssl enc -d -aes-256-cbc -K "$KHEX" -iv "$IV" -in "$TMP/big.ct" -out "$TMP/big.dec"
check "the decryption equals the upload" cmp -s "$TMP/big.dec" "$TMP/big.bin"
rm -f "$TMP/big.ct" "$TMP/big.dec" "$TMP/big.enc"
say "# 50 MiB: upload ${T_UP} s, encryption ${T_RUN} s, download ${T_DOWN} s"

# A name with quotes, separators and a backslash: stored as given, sanitised in the header.
NAME='fw "beta";v2/x\y.bin'
st=$(http POST /api/v1/encryptionTask "$A" -F "deviceConfigId=$DC_ENC" --form-string "name=$NAME" -F "file=@$TMP/msg.bin")
check "an encryption task named $NAME: 201 (got $st: $(body))" test "$st" = 201
T_NAME=$(jq -r '.id // "none"' "$TMP/out")
poll_task encryptionTask "$T_NAME" "$A"
check "... DONE, its name stored as given" test "$(jq -r '.status + " " + .name' "$TMP/out")" = "DONE $NAME"
HTTP_OUT=$TMP/name.enc
http GET "/api/v1/encryptionTask/$T_NAME/download" "$A" >/dev/null
HTTP_OUT=
check "... its download is attachment; filename=\"fw _beta__v2_x_y.bin.enc\"" \
	test "$(hdr Content-Disposition)" = 'attachment; filename="fw _beta__v2_x_y.bin.enc"'
check "... and decrypts to the input" sh -c "head -c \$((\$(wc -c <'$TMP/name.enc') - 16)) '$TMP/name.enc' |
	openssl enc -d -aes-256-cbc -K $KHEX -iv \$(tail -c 16 '$TMP/name.enc' | od -An -tx1 -v | tr -d ' \\n') | cmp -s - '$TMP/msg.bin'"
answers "the download of a signing task through the encryptionTask path: 404 not_found" 404 not_found \
	GET "/api/v1/encryptionTask/$T_EC/download" "$A"
answers "another tenant's admin cannot download acme's result: 404 not_found" 404 not_found \
	GET "/api/v1/encryptionTask/$T_NAME/download" "$O"

# Refused uploads: nothing stored, nothing left in the spool, the front still serving.
N_BEFORE=$(ntasks)
head -c 5000 /dev/urandom >"$TMP/small.bin"
answers "an encryption task without a token: 401" 401 unauthenticated POST /api/v1/encryptionTask "" \
	-F "deviceConfigId=$DC_ENC" -F "file=@$TMP/small.bin"
answers "sha256checksum that does not match: 400 invalid" 400 invalid POST /api/v1/encryptionTask "$A" \
	-F "deviceConfigId=$DC_ENC" -F "sha256checksum=$(printf x | sha256sum | cut -d' ' -f1)" -F "file=@$TMP/small.bin"
answers "sha256checksum that is not hex: 400 invalid" 400 invalid POST /api/v1/encryptionTask "$A" \
	-F "deviceConfigId=$DC_ENC" -F "sha256checksum=xyz" -F "file=@$TMP/small.bin"
answers "an upload without a file: 400 invalid" 400 invalid POST /api/v1/encryptionTask "$A" \
	-F "deviceConfigId=$DC_ENC"
answers "an upload with an unknown field: 400 invalid" 400 invalid POST /api/v1/encryptionTask "$A" \
	-F "deviceConfigId=$DC_ENC" -F "colour=blue" -F "file=@$TMP/small.bin"
answers "multipart without a boundary: 400 invalid" 400 invalid POST /api/v1/encryptionTask "$A" \
	-H 'Content-Type: multipart/form-data' --data-binary "@$TMP/small.bin"
answers "an upload that is not multipart: 415" 415 invalid POST /api/v1/encryptionTask "$A" \
	-H 'Content-Type: application/octet-stream' --data-binary "@$TMP/small.bin"
printf -- '--XyZ\r\nContent-Disposition: form-data; name="deviceConfigId"\r\n\r\n%s\r\n--XyZ\r\nContent-Disposition: form-data; name="file"; filename="t.bin"\r\nContent-Type: application/octet-stream\r\n\r\nthe data of a part that never ends' \
	"$DC_ENC" >"$TMP/trunc.body"
answers "a truncated part (no closing boundary): 400 invalid" 400 invalid POST /api/v1/encryptionTask "$A" \
	-H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary "@$TMP/trunc.body"
python3 - "$DC_ENC" "$TMP/huge.body" <<'EOF'
import sys
dc, out = sys.argv[1:3]
b = (b'--XyZ\r\nContent-Disposition: form-data; name="deviceConfigId"\r\n\r\n' + dc.encode()
     + b'\r\n--XyZ\r\nContent-Disposition: form-data; name="file"; filename="h.bin"\r\n'
     + b'X-Padding: ' + b'p' * 20000 + b'\r\nContent-Type: application/octet-stream\r\n\r\n'
     + b'some data\r\n--XyZ--\r\n')
open(out, 'wb').write(b)
EOF
st=$(http POST /api/v1/encryptionTask "$A" -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary "@$TMP/huge.body")
case $st in
4??) ok "a part header of 20 KB (> 16 KiB): a 4xx ($st, $(jq -r .code "$TMP/out" 2>/dev/null))" ;;
*) not_ok "a part header of 20 KB (> 16 KiB): a 4xx (got $st: $(body))" ;;
esac
answers "the front serves the next request after it" 200 "" GET /healthz ""
answers "deviceConfigId given twice (before the file): 400 invalid" 400 invalid POST /api/v1/encryptionTask "$A" \
	-F "deviceConfigId=$DC_ENC" -F "deviceConfigId=$DC_ENC" -F "file=@$TMP/small.bin"
answers "a text field of 5000 bytes (over 4 KiB), before the file: 413 too_large" 413 too_large \
	POST /api/v1/encryptionTask "$A" -F "deviceConfigId=$DC_ENC" \
	-F "name=$(python3 -c 'print("n" * 5000)')" -F "file=@$TMP/small.bin"
answers "the front serves the next request" 200 "" GET /healthz ""
check "no refused upload made a task" test "$(ntasks)" = "$N_BEFORE"
check "the front's spool directory holds no file after the refused uploads" test -z "$(ls -A "$TMP/spool")"

###########################################################################################
# 5. Body limits, on a second front with max_upload_mb = 1 and max_json_kb = 16.
printf '[front]\nmax_upload_mb = 1\nmax_json_kb = 16\nmax_streams = 1\n' >"$TMP/small.conf"
PORT2=$(free_port)
start_front "$PORT2" --config "$TMP/small.conf"
F2=$FPID
BASE1=$BASE
BASE=http://127.0.0.1:$PORT2
head -c $((1024 * 1024 + 1000)) /dev/urandom >"$TMP/1m.bin"
answers "an upload over max_upload_mb (Content-Length): 413 too_large" 413 too_large \
	POST /api/v1/encryptionTask "$A" -F "deviceConfigId=$DC_ENC" -F "file=@$TMP/1m.bin"
# cut_or_413 DESCRIPTION METHOD PATH TOKEN [curl options...]: a body over its limit without a
# Content-Length: 413 too_large, or (doc/rest.md section 3 allows it) the connection closed
# without an answer; nothing else.
cut_or_413() {
	_d=$1
	shift
	_got=$(http "$@")
	_gc=$(jq -r '.code // empty' "$TMP/out" 2>/dev/null || true)
	if { [ "$_got" = 413 ] && [ "$_gc" = too_large ]; } ||
		{ grep -q '(52) Empty reply' "$TMP/curl.err" && [ ! -s "$TMP/out" ]; }; then
		ok "$_d ($_got $_gc$(head -c 60 "$TMP/curl.err"))"
	else
		not_ok "$_d (got $_got: $(body))"
	fi
}
cut_or_413 "an upload over max_upload_mb, chunked (no Content-Length): 413, or cut off" \
	POST /api/v1/encryptionTask "$A" -H 'Transfer-Encoding: chunked' -F "deviceConfigId=$DC_ENC" -F "file=@$TMP/1m.bin"
answers "the front serves the next request" 200 "" GET /healthz ""
python3 -c 'import json, sys; print(json.dumps({"deviceConfigId": sys.argv[1], "inputBase64": "QUFB" * 5000}))' "$DC_NOW" >"$TMP/20k.json"
answers "a JSON body over max_json_kb (Content-Length): 413 too_large" 413 too_large \
	POST /api/v1/signingTask "$A" -H 'Content-Type: application/json' --data-binary "@$TMP/20k.json"
cut_or_413 "a JSON body over max_json_kb, chunked: 413, or cut off" \
	POST /api/v1/signingTask "$A" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
	--data-binary "@$TMP/20k.json"
answers "the front serves the next request" 200 "" GET /healthz ""
head -c 1000 /dev/urandom >"$TMP/1k.bin"
answers "an upload under the limit on the same front: 201" 201 "" \
	POST /api/v1/encryptionTask "$A" -F "deviceConfigId=$DC_ENC" -F "file=@$TMP/1k.bin"
check "only that upload made a task" test "$(ntasks)" = $((N_BEFORE + 1))
# max_streams = 1: once a client has gone, its slot is free for the next one (an EventSource
# reconnects within seconds).
answers "an event stream on this front (max_streams = 1): 200" 200 "" GET /api/v1/events "$A" --max-time 1
# The front frees the slot when it sees the client go, which takes a moment on a loaded machine:
# 503 until then is right, 503 for good is the failure.
n=0
while [ "$(http GET /api/v1/events "$A" --max-time 1)" = 503 ] && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
check "after that client went away, a new stream gets 200, not 503 for good ($n times 503)" \
	grep -Eq '^HTTP/[0-9.]+ 200' "$TMP/hdr"
kill_front "$F2"
BASE=$BASE1

###########################################################################################
# 6. The tenant configuration.
K=encryption.legacyCiphers.allowed
answers "GET tenant-config/$K: 200" 200 "" GET "/api/mgmt/v1/tenant-config/$K" "$A"
check "... {\"key\": \"$K\", \"value\": false}" test "$(jq -c . "$TMP/out")" = "{\"key\":\"$K\",\"value\":false}"
answers "bob may read it: 200" 200 "" GET "/api/mgmt/v1/tenant-config/$K" "$B"
answers "bob (not the initial admin) may not set it: 403 denied" 403 denied \
	POST "/api/mgmt/v1/tenant-config/$K" "$B" -H 'Content-Type: application/json' --data-binary '{"value": true}'
check "... and signetctl still shows false" test "$(ctl --json config get "$K" | jq -c .value)" = false
answers "alice sets it to true: 200" 200 "" \
	POST "/api/mgmt/v1/tenant-config/$K" "$A" -H 'Content-Type: application/json' --data-binary '{"value": true}'
check "... the reply shows true" test "$(jq -c .value "$TMP/out" 2>/dev/null)" = true
http GET "/api/mgmt/v1/tenant-config/$K" "$A" >/dev/null
check "GET shows true" test "$(jq -c . "$TMP/out")" = "{\"key\":\"$K\",\"value\":true}"
check "signetctl config get shows true" test "$(ctl --json config get "$K" | jq -c .value)" = true
http GET "/api/mgmt/v1/tenant-config/$K" "$O" >/dev/null
check "the other tenant's value is still false" test "$(jq -c .value "$TMP/out")" = false
answers "a value of the wrong type: 400 invalid" 400 invalid \
	POST "/api/mgmt/v1/tenant-config/$K" "$A" -H 'Content-Type: application/json' --data-binary '{"value": "yes"}'
answers "no value: 400 invalid" 400 invalid \
	POST "/api/mgmt/v1/tenant-config/$K" "$A" -H 'Content-Type: application/json' --data-binary '{}'
answers "an unknown key: 404 not_found" 404 not_found GET /api/mgmt/v1/tenant-config/no.such.key "$A"

###########################################################################################
# 7. Device configurations and the audit log, against what signetctl shows.
answers "GET deviceConfig: 200" 200 "" GET /api/v1/deviceConfig "$A"
check "... four device configurations" test "$(jq '.deviceConfigs | length' "$TMP/out")" = 4
same_json "... equal to signetctl devconf list" "$TMP/out" ctl --json devconf list
answers "GET deviceConfig/{id}: 200" 200 "" GET "/api/v1/deviceConfig/$DC_RSA" "$A"
same_json "... equal to signetctl devconf show" "$TMP/out" ctl --json devconf show "$DC_RSA"
check "... dc-rsa signs with rsa, approvers bob and carol" \
	test "$(jq -r '"\(.name) \(.signingKeys[0]) \(.subjects.APPROVE | join(","))"' "$TMP/out")" = "dc-rsa rsa USER:bob,USER:carol"
http GET /api/v1/deviceConfig "$D" >/dev/null
same_json "dave's device configuration list equals his signetctl devconf list" "$TMP/out" as "$D" --json devconf list
answers "an unknown device configuration: 404 not_found" 404 not_found \
	GET /api/v1/deviceConfig/01a20000-0000-7000-8000-000000000000 "$A"
answers "size=0: 400 invalid" 400 invalid GET '/api/v1/deviceConfig?size=0' "$A"
answers "GET deviceConfig?size=1: 200" 200 "" GET '/api/v1/deviceConfig?size=1' "$A"
check "... one device configuration and a cursor" \
	test "$(jq -r '"\(.deviceConfigs | length) \(.cursor != null)"' "$TMP/out")" = "1 true"

# The audit log, two records a page, following the cursor until six entries came. signetd's
# periodic checkpoints are records of the chain too, not listed (protocol.md, Paging): the first
# lands at the daemon's first timer tick, among the first entries on a slow machine, and the page
# that holds it has one entry fewer. What must hold every run: seq 1 to 6 in order, none missing
# or twice, and each page the same as signetctl's page at the same cursor.
cur=
: >"$TMP/paged"
: >"$TMP/page.diffs"
page=0
while [ "$(wc -l <"$TMP/paged")" -lt 6 ] && [ $page -lt 10 ]; do
	page=$((page + 1))
	q="size=2${cur:+&cursor=$cur}"
	st=$(http GET "/api/v1/auditlog?$q" "$A")
	jq -S '{entries, cursor}' "$TMP/out" >"$TMP/page.rest" 2>/dev/null || true
	ctl --json audit list --limit 2 ${cur:+--cursor "$cur"} | jq -S "$SJ_FILTER | {entries, cursor}" >"$TMP/page.ctl" || true
	if [ "$st" != 200 ] || ! cmp -s "$TMP/page.rest" "$TMP/page.ctl" ||
		[ "$(jq '.entries | length' "$TMP/out")" -gt 2 ]; then
		echo "page $page ($q): $st $(diff "$TMP/page.rest" "$TMP/page.ctl" | head -c 200)" >>"$TMP/page.diffs"
	fi
	jq -c '.entries[]' "$TMP/out" >>"$TMP/paged"
	cur=$(jq -r '.cursor // empty' "$TMP/out")
	[ -n "$cur" ] || break
done
check "auditlog?size=2 pages, each 200, at most two entries, equal to signetctl audit list --limit 2 at the same cursor ($page pages)" \
	sh -c "! test -s '$TMP/page.diffs' || { head -c 300 '$TMP/page.diffs' >&2; exit 1; }"
check "the pages hold seq 1 to 6 in order" \
	test "$(head -n 6 "$TMP/paged" | jq -r .seq | tr '\n' ' ')" = "1 2 3 4 5 6 "
answers "auditlog/3: 200" 200 "" GET /api/v1/auditlog/3 "$A"
cp "$TMP/out" "$TMP/one.json"
check "... one entry, the one of seq 3 in the listing" \
	test "$(jq -c '.entries' "$TMP/one.json")" = "$(jq -s -c '[.[] | select(.seq == 3)]' "$TMP/paged")"
check "... which is alice's creation of USER:carol" \
	test "$(jq -r '.entries[0] | "\(.seq) \(.verb) \(.resource) \(.actor)"' "$TMP/one.json")" = "3 CREATED USER:carol USER:alice"
answers "auditlog/999999: 404 not_found" 404 not_found GET /api/v1/auditlog/999999 "$A"
answers "auditlog/abc: 404 not_found" 404 not_found GET /api/v1/auditlog/abc "$A"
answers "bob, without VIEW on AUDIT_LOG: 403 denied" 403 denied GET /api/v1/auditlog "$B"

# rest_all PATH: every entry of a filtered REST listing, following the cursor, as a JSON array.
rest_all() {
	_c=
	: >"$TMP/all.lines"
	_n=0
	while [ $_n -lt 50 ]; do
		case $1 in *\?*) _sep='&' ;; *) _sep='?' ;; esac
		[ "$(http GET "$1${_sep}size=1000${_c:+&cursor=$_c}" "$A")" = 200 ] || return 1
		jq -c '.entries[]' "$TMP/out" >>"$TMP/all.lines"
		_c=$(jq -r '.cursor // empty' "$TMP/out")
		[ -n "$_c" ] || break
		_n=$((_n + 1))
	done
	jq -s . "$TMP/all.lines"
}
# ctl_all [ARGS]: the same through signetctl audit list.
# shellcheck disable=SC2120 # same_json passes the arguments
ctl_all() {
	_c=
	: >"$TMP/all.lines"
	_n=0
	while [ $_n -lt 50 ]; do
		ctl --json audit list --limit 1000 ${_c:+--cursor "$_c"} "$@" >"$TMP/ctl.page" || return 1
		jq -c '.entries[]' "$TMP/ctl.page" >>"$TMP/all.lines"
		_c=$(jq -r '.cursor // empty' "$TMP/ctl.page")
		[ -n "$_c" ] || break
		_n=$((_n + 1))
	done
	jq -s . "$TMP/all.lines"
}
rest_all "/api/v1/auditlog/deviceconfigs/$DC_RSA" >"$TMP/dc.rest" || not_ok "auditlog/deviceconfigs/{id}: $(body)"
check "auditlog/deviceconfigs/{id}: entries, all of DEVICE_CONFIG:{id}, its creation among them" \
	test "$(jq -r "length > 0 and all(.resource == \"DEVICE_CONFIG:$DC_RSA\") and any(.verb == \"CREATED\")" "$TMP/dc.rest")" = true
same_json "... equal to signetctl audit list --resource DEVICE_CONFIG:{id}" "$TMP/dc.rest" \
	ctl_all --resource "DEVICE_CONFIG:$DC_RSA"
rest_all /api/v1/auditlog/resources/TASK >"$TMP/task.rest" || not_ok "auditlog/resources/TASK: $(body)"
GW_UID=$(id -u)
! $ROOT || GW_UID=65534
check "auditlog/resources/TASK: only TASK entries" \
	test "$(jq -r 'length > 0 and all(.resource | startswith("TASK:"))' "$TMP/task.rest")" = true
check "... alice's creation of the ECDSA task, through the gateway (peerUid $GW_UID)" \
	test "$(jq -r "[.[] | select(.resource == \"TASK:$T_EC\" and .verb == \"CREATED\") | \"\(.actor) \(.peerUid)\"] | join(\",\")" "$TMP/task.rest")" = \
	"USER:alice $GW_UID"
# shellcheck disable=SC2119
ctl_all | jq '[.[] | select(.resource | startswith("TASK:"))]' >"$TMP/task.ctl"
same_json "... equal to the TASK entries of signetctl's whole listing" "$TMP/task.rest" cat "$TMP/task.ctl"

###########################################################################################
# 8. Load: 200 concurrent requests, and no descriptor left behind.
# fds PID: the process's open descriptors.
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# client_conns PID: how many connections from HTTP clients on $PORT the process holds open.
client_conns() {
	python3 - "$1" "$PORT" <<'PY'
import os, sys
pid, port = sys.argv[1], int(sys.argv[2])
socks = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if link.startswith("socket:["):
        socks.add(link[8:-1])
n = 0
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).readlines()[1:]:
        f = line.split()
        # Local port PORT, not the listening socket (state 0A), and the process's own.
        if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] != "0A" and f[9] in socks:
            n += 1
print(n)
PY
}
# settled_fds PID: the process's open descriptors once the HTTP clients have gone and it has
# closed its end of each (it does when it sees them go; a loaded machine takes a while).
settled_fds() {
	_sf=0
	while [ -r "/proc/$1/fd" ] && [ $_sf -lt 600 ] && [ "$(client_conns "$1" 2>/dev/null)" != 0 ]; do
		sleep 0.05
		_sf=$((_sf + 1))
	done
	fds "$1"
}
# burst URL [curl config lines]: 200 parallel GETs of URL; prints each status, sorted and counted.
burst() {
	{
		printf '%s\n' "${2:-}"
		i=0
		while [ $i -lt 200 ]; do
			printf 'url = "%s"\noutput = "%s/bo.%d"\n' "$1" "$TMP" $i
			i=$((i + 1))
		done
	} >"$TMP/burst.cfg"
	curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max 200 \
		-K "$TMP/burst.cfg" -w '%{http_code}\n' 2>/dev/null | sort | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' '
}
# The pool of connections to signetd (pool_size, 16) fills up once and then stays as it is.
burst "$BASE/healthz" >/dev/null
burst "$BASE/api/v1/signingTask/$T_EC" "header = \"Authorization: Bearer $A\"" >/dev/null
burst "$BASE/healthz" >/dev/null
n0=$(settled_fds "$F1")
t0=$(date +%s.%N)
r=$(burst "$BASE/healthz")
T_BURST=$(since "$t0")
check "200 concurrent GET /healthz: all 200 ($r, $T_BURST s)" test "$r" = "200x200 "
check "... each body says ok" test "$(cat "$TMP"/bo.* | jq -r .status | grep -c '^ok$')" = 200
r=$(burst "$BASE/api/v1/signingTask/$T_EC" "header = \"Authorization: Bearer $A\"")
check "200 concurrent authenticated GET of a task: all 200 ($r)" test "$r" = "200x200 "
check "... each body is the task, DONE" test "$(cat "$TMP"/bo.* | jq -r '.id + .status' | grep -c "^${T_EC}DONE\$")" = 200
rm -f "$TMP"/bo.*
n1=$(settled_fds "$F1")
if [ -r "/proc/$F1/fd" ] && [ "$n0" -gt 0 ]; then
	check "the front's open descriptors are the same before and after ($n0, $n1)" test "$n0" = "$n1"
else
	ok "skipped: the front's descriptors (/proc/$F1/fd is not readable: not root)"
fi
answers "the front still serves" 200 "" GET /healthz ""

###########################################################################################
# 9. Server-Sent Events.
# sse FILE PARSED: parse the SSE stream in FILE into one JSON object a line {id, event, data}.
sse_parse() {
	python3 - "$1" >"$2" <<'EOF'
import json, sys
evs, cur = [], {}
for line in open(sys.argv[1], encoding="utf-8").read().split("\n"):
    line = line.rstrip("\r")
    if line == "":
        if cur:
            evs.append(cur)
        cur = {}
        continue
    if line.startswith(":"):
        continue
    k, _, v = line.partition(":")
    v = v[1:] if v.startswith(" ") else v
    cur[k] = cur[k] + "\n" + v if k in cur else v
if cur:
    evs.append(cur)
for e in evs:
    print(json.dumps(e))
EOF
}
# A burst of tasks, so that the replay spans more than one batch of 32 events (a task run at
# once has one event, its DONE).
NBURST=36
: >"$TMP/burst.ids"
i=0
while [ $i -lt $NBURST ]; do
	post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_NOW\", \"inputBase64\": \"$(b64 "$TMP/msg.bin")\", \"name\": \"ev$i\"}" >/dev/null
	jq -r '.id // empty' "$TMP/out" >>"$TMP/burst.ids"
	i=$((i + 1))
done
check "$NBURST more signing tasks were made through the front" test "$(wc -l <"$TMP/burst.ids")" = $NBURST
# They run in the background: once all are DONE, no event but the live task's comes below.
while read -r id; do
	poll_task signingTask "$id" "$A"
	jq -r .status "$TMP/out"
done <"$TMP/burst.ids" >"$TMP/burst.st"
check "... and all $NBURST ended DONE" test "$(grep -c '^DONE$' "$TMP/burst.st")" = $NBURST
ctl events watch --since 0 --timeout 1 >"$TMP/ev.before" 2>/dev/null || true
NB=$(wc -l <"$TMP/ev.before")
MID=$(jq -s '.[(length / 2 | floor)].seq' "$TMP/ev.before")
LAST=$(jq -s '.[-1].seq' "$TMP/ev.before")
check "alice has more than 40 events to replay ($NB)" test "$NB" -gt 40
as "$O" events watch --since 0 --timeout 1 >"$TMP/ev.olga.before" 2>/dev/null || true
# sse FILE TOKEN [curl options...]: an event stream into FILE, its headers into FILE.hdr, until
# the test ends it (its pid in $!: the curl itself). 120 s only bounds a test gone wrong.
sse() {
	_out=$1 _tok=$2
	shift 2
	exec curl -sN --max-time 120 -D "$_out.hdr" -H "Authorization: Bearer $_tok" "$@" \
		"$BASE/api/v1/events" >"$_out" 2>/dev/null
}
# sse_until FILE JQ: wait (60 s at most) until JQ, given the array of the events in the stream so
# far, says true.
sse_until() {
	_su=0
	while [ $_su -lt 300 ]; do
		if sse_parse "$1" "$TMP/su.parsed" 2>/dev/null &&
			[ "$(jq -s "[.[] | .data | fromjson?] | $2" "$TMP/su.parsed" 2>/dev/null)" = true ]; then
			return 0
		fi
		sleep 0.2
		_su=$((_su + 1))
	done
	return 1
}
# streaming FILE: the front has answered 200. It does once signetd has taken the watch, so
# every later event reaches the stream.
streaming() { grep -Eq '^HTTP/[0-9.]+ 200' "$1.hdr" 2>/dev/null; }
sse "$TMP/s.all" "$A" -H 'Last-Event-ID: 0' &
p1=$!
sse "$TMP/s.mid" "$A" -H "Last-Event-ID: $MID" &
p2=$!
sse "$TMP/s.olga" "$O" -H 'Last-Event-ID: 0' &
p3=$!
sse "$TMP/s.live" "$A" &
p4=$!
BG_PIDS="$p1 $p2 $p3 $p4"
n=0
until streaming "$TMP/s.all" && streaming "$TMP/s.mid" && streaming "$TMP/s.olga" &&
	streaming "$TMP/s.live" || [ $n -ge 600 ]; do
	sleep 0.1
	n=$((n + 1))
done
post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_NOW\", \"inputBase64\": \"$(b64 "$TMP/msg.bin")\", \"name\": \"live\"}" >/dev/null
T_LIVE=$(jq -r '.id // "none"' "$TMP/out")
# Until each stream has what it must: the live task's DONE (the last event of alice's), and
# olga's events, as many as signetctl showed her.
DONE_LIVE="any(.task == \"$T_LIVE\" and .type == \"task.status\" and .status == \"DONE\")"
for f in s.all s.mid s.live; do
	sse_until "$TMP/$f" "$DONE_LIVE" || not_ok "the $f stream never got the live task's DONE"
done
sse_until "$TMP/s.olga" "length >= $(wc -l <"$TMP/ev.olga.before")" ||
	not_ok "the s.olga stream never got olga's events"
kill -TERM $p1 $p2 $p3 $p4 2>/dev/null || true
wait $p1 $p2 $p3 $p4 || true
BG_PIDS=
ctl events watch --since 0 --timeout 1 >"$TMP/ev.all" 2>/dev/null || true
check "the event stream is text/event-stream" \
	test "$(grep -i '^content-type:' "$TMP/s.all.hdr" | tr -d '\r' | sed 's/^[^:]*: *//')" = text/event-stream
sse_parse "$TMP/s.all" "$TMP/p.all"
check "Last-Event-ID: 0 replays every event: ids strictly increasing, none twice" \
	test "$(jq -s '[.[].id | tonumber] as $i | ($i | length) > 0 and ([range(1; $i | length) | $i[.] > $i[. - 1]] | all)' "$TMP/p.all")" = true
check "... exactly the events signetctl events watch --since 0 shows ($(wc -l <"$TMP/ev.all"))" \
	test "$(jq -s -c '[.[].id | tonumber]' "$TMP/p.all")" = "$(jq -s -c '[.[].seq]' "$TMP/ev.all")"
check "... each data the same event as signetctl's, its id the seq, its event name the type" \
	test "$(jq -s -c '[.[] | (.data | fromjson) as $d | select(($d.seq | tostring) == .id and $d.type == .event) | $d]' "$TMP/p.all" | jq -S -c .)" = "$(jq -s -S -c "$SJ_FILTER" "$TMP/ev.all")"
check "... with the status event of each of the $NBURST tasks run at once: DONE, once" \
	test "$(jq -s --rawfile ids "$TMP/burst.ids" --argjson n $NBURST '[.[] | .data | fromjson] as $E
		| ($ids | split("\n") | map(select(length > 0))) as $I
		| ($I | length) == $n and ([$I[] as $t | [$E[] | select(.task == $t and .type == "task.status") | .status]]
		| all(. == ["DONE"]))' "$TMP/p.all")" = true
check "... and the approval of the ECDSA task by bob, and its DONE" \
	test "$(jq -s "[.[] | .data | fromjson | select(.task == \"$T_EC\") | select((.type == \"task.approval\" and .approver == \"USER:bob\") or (.type == \"task.status\" and .status == \"DONE\"))] | length" "$TMP/p.all")" = 2
check "... and the download of the 50 MiB result, by alice" \
	test "$(jq -s "[.[] | .data | fromjson | select(.task == \"$T_ENC\" and .type == \"task.download\" and .by == \"USER:alice\")] | length" "$TMP/p.all")" = 1
sse_parse "$TMP/s.mid" "$TMP/p.mid"
check "Last-Event-ID: $MID resumes after it: first id > $MID" \
	test "$(jq -s '.[0].id | tonumber' "$TMP/p.mid")" -gt "$MID"
check "... exactly the events after $MID" \
	test "$(jq -s -c '[.[].id | tonumber]' "$TMP/p.mid")" = "$(jq -s -c "[.[].seq | select(. > $MID)]" "$TMP/ev.all")"
sse_parse "$TMP/s.olga" "$TMP/p.olga"
as "$O" events watch --since 0 --timeout 1 >"$TMP/ev.olga" 2>/dev/null || true
check "another tenant's admin gets her own events only, as signetctl shows them ($(wc -l <"$TMP/ev.olga"))" \
	test "$(jq -s -c '[.[] | .data | fromjson]' "$TMP/p.olga" | jq -S -c .)/$(jq -s '[.[] | .data | fromjson | select(.tenant != "other")] | length' "$TMP/p.olga")" = "$(jq -s -S -c "$SJ_FILTER" "$TMP/ev.olga")/0"
check "... which hold her TOTP enrollment" \
	test "$(jq -s '[.[] | .data | fromjson | select(.type == "user.otp.enrolled" and .user == "olga")] | length' "$TMP/p.olga")" = 1
sse_parse "$TMP/s.live" "$TMP/p.live"
check "a stream without Last-Event-ID gets the new task's events, live, and nothing older" \
	test "$(jq -s -c "[.[] | .data | fromjson | select(.seq > $LAST and .task == \"$T_LIVE\") | .status]" "$TMP/p.live")/$(wc -l <"$TMP/p.live")" = '["DONE"]/1'
answers "the event stream without a token: 401" 401 unauthenticated GET /api/v1/events ""
answers "a Last-Event-ID that is not a number: 400" 400 invalid GET /api/v1/events "$A" -H 'Last-Event-ID: abc'

###########################################################################################
# 10. Expiry: signetd restarted with result_ttl = 2; the front reconnects by itself.
check "stop signetd" stop_daemon
answers "with signetd down, /healthz: 503 unavailable" 503 unavailable GET /healthz ""
answers "... and an API call: 503 unavailable" 503 unavailable GET /api/v1/signingTask "$A"
start_daemon --config "$TMP/signetd-ttl.conf"
answers "signetd back (result_ttl = 2): the same front answers /healthz 200" 200 "" GET /healthz ""
answers "... and API calls with alice's token" 200 "" GET "/api/v1/signingTask/$T_EC" "$A"
st=$(http POST /api/v1/encryptionTask "$A" -F "deviceConfigId=$DC_ENC" -F "file=@$TMP/small.bin" -F name=short)
check "a small encryption task: 201 (got $st)" test "$st" = 201
T_SHORT=$(jq -r '.id // "none"' "$TMP/out")
t0=$(date +%s.%N)
n=0
avail=true
while [ $n -lt 80 ]; do
	http GET "/api/v1/encryptionTask/$T_SHORT" "$A" >/dev/null
	avail=$(jq -r '"\(.status) \(.result.available)"' "$TMP/out")
	[ "$avail" != "DONE false" ] || break
	sleep 0.1
	n=$((n + 1))
done
check "the task's result becomes unavailable after result_ttl ($(since "$t0") s)" test "$avail" = "DONE false"
answers "its download: 410 expired" 410 expired GET "/api/v1/encryptionTask/$T_SHORT/download" "$A"
expect_refusal "signetctl task download says expired too" expired ctl task download "$T_SHORT" -o "$TMP/short.enc"

stop_front "$F1"
check "the front stops on SIGTERM with status 0 (got $FRC)" test "$FRC" = 0
check "stop at the end" stop_daemon
say "# t12 ran $(since "$T_START") s"
