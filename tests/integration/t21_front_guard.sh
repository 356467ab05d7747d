#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The gateway's guard (signet-front(8), rest.md "One request per connection"), against the real
# signet-front and the real signetd, with raw sockets: each request smuggling shape is refused
# with one 400 and a closed connection, nothing behind it is answered and nothing of it reaches
# signetd (no task is made); a request head or body that does not arrive in time is cut off while
# the client is still sending; 64 slow connections from one address do not keep out a client from
# another; HTTPS keeps the checks it can and the deadlines; normal requests, uploads, downloads
# and the event stream still work; the per-address connection limit still holds; the front stops
# on SIGTERM.
# No timing is asserted: only what was answered, and whether the front closed a connection.
. "$TESTLIB"

: "${SIGNET_FRONT:?SIGNET_FRONT must name the signet-front binary}"

FRONT_PIDS=
BG_PIDS=
t21_cleanup() {
	_rc=$?
	set +e
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
trap t21_cleanup EXIT

chmod 755 "$TMP"
mkdir -m 755 "$TMP/run"
mkdir "$TMP/spool"
chmod 1777 "$TMP/spool"
DSOCK=$TMP/run/signetd.sock
FRONT_USER=
if [ "$(id -u)" = 0 ]; then
	printf '[daemon]\nsocket = %s\nauth_fail_delay_ms = 0\nsocket_group = nogroup\ngateway_user = nobody\n' \
		"$DSOCK" >"$TMP/signetd.conf"
	FRONT_USER="--user nobody"
else
	printf '[daemon]\nsocket = %s\nauth_fail_delay_ms = 0\nmax_connections_per_uid = 1000\n' \
		"$DSOCK" >"$TMP/signetd.conf"
fi
init_state
for_daemon "$TMP/run"
start_daemon --config "$TMP/signetd.conf"

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
A=$SIGNET_TOKEN
ctl --json key generate ec --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate ec"
ctl --json devconf create dc-now --sign-key ec --four-eyes off >"$TMP/out" || fatal "devconf dc-now"
DC_NOW=$(json .id)
head -c 32 /dev/urandom >"$TMP/aes.raw"
KHEX=$(od -An -tx1 -v "$TMP/aes.raw" | tr -d ' \n')
ctl key import aes --alg AES_256 --file "$TMP/aes.raw" >/dev/null || fatal "key import aes"
ctl --json devconf create dc-enc --encrypt-key aes --four-eyes off >"$TMP/out" || fatal "devconf dc-enc"
DC_ENC=$(json .id)
ntasks() { ctl --json task list --limit 1000 | jq '.tasks | length'; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# start_front NAME SCHEME [options...]: a front on a free port; its pid in FPID, port in FPORT.
start_front() {
	_name=$1 _scheme=$2
	shift 2
	FPORT=$(free_port)
	# shellcheck disable=SC2086
	"$SIGNET_FRONT" --socket "$DSOCK" --listen "127.0.0.1:$FPORT" $FRONT_USER \
		--tmpdir "$TMP/spool" "$@" >>"$TMP/front.$_name.log" 2>&1 &
	FPID=$!
	FRONT_PIDS="$FRONT_PIDS $FPID"
	_i=0
	while [ $_i -lt 200 ]; do
		if [ "$(curl -sk -o /dev/null -w '%{http_code}' "$_scheme://127.0.0.1:$FPORT/healthz")" = 200 ]; then
			return 0
		fi
		kill -0 "$FPID" 2>/dev/null || fatal "signet-front exited during start: $(tail -n 5 "$TMP/front.$_name.log")"
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

# The raw client. Each command prints one JSON object:
#   send PORT FILE [--tls] [--bind ADDR] [--wait S]: send FILE at once; read until the front closes
#     (or S seconds pass): {"statuses": [every HTTP status line's code], "closed", "close_header",
#     "body": the first answer's body}
#   trickle PORT FILE FIRST EVERY [--tls] [--max S]: send FIRST bytes, then one byte every EVERY
#     seconds until the file ends, the front closes or S (45) seconds pass: {"closed": by the front,
#     "sent", "len", "statuses"}
#   lockout PORT N: N connections from 127.0.0.1 each send part of a head; then a whole request from
#     127.0.0.2: {"other": its statuses, "open": how many of the N the front still holds open}
cat >"$TMP/hx.py" <<'EOF'
import json, re, select, socket, ssl, sys, time

def connect(port, tls=False, bind=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if bind:
        s.bind((bind, 0))
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    return s

def read_all(s, wait):
    out, closed, end = b"", False, time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except (OSError, ssl.SSLError):
            closed = True
            break
        if not d:
            closed = True
            break
        out += d
    return out, closed

def summary(out, closed, **kw):
    head, _, body = out.partition(b"\r\n\r\n")
    d = {"statuses": [int(c) for c in re.findall(rb"HTTP/1\.[01] (\d{3}) ", out)],
         "closed": closed, "close_header": b"\r\nconnection: close\r\n" in head.lower() + b"\r\n",
         "body": body.split(b"HTTP/1.")[0].decode("latin-1")[:1000]}
    d.update(kw)
    print(json.dumps(d))

def opts(argv):
    o = {"tls": "--tls" in argv, "bind": None, "wait": 15.0, "max": 45.0}
    for k in ("bind", "wait", "max"):
        if "--" + k in argv:
            v = argv[argv.index("--" + k) + 1]
            o[k] = v if k == "bind" else float(v)
    return o

def send(port, path, argv):
    o = opts(argv)
    data = open(path, "rb").read()
    s = connect(port, o["tls"], o["bind"])
    try:
        s.sendall(data)
    except OSError:
        pass
    out, closed = read_all(s, o["wait"])
    summary(out, closed)

def trickle(port, path, first, every, argv):
    o = opts(argv)
    data = open(path, "rb").read()
    s = connect(port, o["tls"])
    s.sendall(data[:first])
    sent, out, closed, end = first, b"", False, time.monotonic() + o["max"]
    while not closed and time.monotonic() < end:
        if not (o["tls"] and s.pending()):
            r, _, _ = select.select([s], [], [], every)
        else:
            r = [s]
        if r:
            s.settimeout(5)
            try:
                d = s.recv(65536)
            except (OSError, ssl.SSLError):
                d = b""
            if not d:
                closed = True
                break
            out += d
            continue
        if sent == len(data):
            break
        try:
            s.sendall(data[sent:sent + 1])
            sent += 1
        except OSError:
            closed = True
    summary(out, closed, sent=sent, len=len(data))

def lockout(port, n):
    slow = []
    for i in range(n):
        c = connect(port)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Part: ")
        slow.append(c)
    time.sleep(1)  # let the front take them all
    c = connect(port, bind="127.0.0.2")
    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: other\r\n\r\n")
    out, closed = read_all(c, 30)
    still = 0
    for c in slow:
        c.setblocking(False)
        try:
            still += c.recv(1) != b""
        except BlockingIOError:
            still += 1
        except OSError:
            pass
    print(json.dumps({"other": [int(x) for x in re.findall(rb"HTTP/1\.[01] (\d{3}) ", out)],
                      "open": still}))

cmd, port = sys.argv[1], int(sys.argv[2])
if cmd == "send":
    send(port, sys.argv[3], sys.argv[4:])
elif cmd == "trickle":
    trickle(port, sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6:])
elif cmd == "lockout":
    lockout(port, int(sys.argv[3]))
EOF
hx() { python3 "$TMP/hx.py" "$@" >"$TMP/hx.out" 2>"$TMP/hx.err" || true; }
hxj() { jq -r "$1" "$TMP/hx.out" 2>/dev/null; }
hxshow() { head -c 400 "$TMP/hx.out"; head -c 200 "$TMP/hx.err"; }

# A request that would make a task: what each attack smuggles behind its first request.
SMUGGLED_BODY="{\"deviceConfigId\": \"$DC_NOW\", \"inputBase64\": \"aGk=\", \"name\": \"smuggled\"}"
printf 'POST /api/v1/signingTask HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
	"$A" "${#SMUGGLED_BODY}" "$SMUGGLED_BODY" >"$TMP/smuggled"
SLEN=$(wc -c <"$TMP/smuggled")
AUTH="Authorization: Bearer $A"
# attack NAME: $TMP/attack.NAME, from the printf format and arguments that follow.
attack() {
	_n=$1
	shift
	# shellcheck disable=SC2059
	printf "$@" >"$TMP/attack.$_n"
	cat "$TMP/smuggled" >>"$TMP/attack.$_n"
}
attack space-before-colon 'POST /api/v1/signingTask HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\nContent-Length : %d\r\n\r\n' "$AUTH" "$SLEN"
attack tab-before-colon 'POST /api/v1/signingTask HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\nContent-Length\t: %d\r\n\r\n' "$AUTH" "$SLEN"
attack cl-and-te 'POST /api/v1/signingTask HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' "$AUTH" "$((SLEN + 5))"
attack two-lengths 'POST /api/v1/signingTask HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\nContent-Length: 0\r\nContent-Length: %d\r\n\r\n' "$AUTH" "$SLEN"
attack te-not-chunked 'POST /api/v1/signingTask HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\nTransfer-Encoding: identity\r\n\r\n' "$AUTH"
attack obs-fold 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n'
attack bare-lf 'GET /healthz HTTP/1.1\nHost: x\n\n'
attack bare-lf-last 'GET /healthz HTTP/1.1\r\nHost: x\r\n\n'

###########################################################################################
# 1. Plain HTTP: the guard.
printf '[front]\nheader_timeout = 2\nbody_timeout = 3\nconnection_timeout = 3600\nmax_connections_per_ip = 4\n' \
	>"$TMP/front-a.conf"
start_front a http --config "$TMP/front-a.conf"
FA=$FPID
PA=$FPORT
BASE=http://127.0.0.1:$PA

check "before the attacks there is no task" test "$(ntasks)" = 0
for n in space-before-colon tab-before-colon cl-and-te two-lengths te-not-chunked obs-fold bare-lf bare-lf-last; do
	hx send "$PA" "$TMP/attack.$n"
	check "$n, a task request smuggled behind it: one answer, 400 invalid, Connection: close, then the front closes ($(hxshow))" \
		test "$(hxj '"\(.statuses) \(.closed) \(.close_header) \(.body | fromjson | .code)"')" = "[400] true true invalid"
done
check "... and signetd made no task of the smuggled bytes" test "$(ntasks)" = 0
check "the front logged the refusals as made before libmicrohttpd" \
	test "$(grep -c 'refused before libmicrohttpd' "$TMP/front.a.log")" -ge 8

printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >"$TMP/pipelined"
cat "$TMP/smuggled" >>"$TMP/pipelined"
hx send "$PA" "$TMP/pipelined"
check "a good request with a task request pipelined behind it: one answer, 200, Connection: close, closed ($(hxshow))" \
	test "$(hxj '"\(.statuses) \(.closed) \(.close_header)"')" = "[200] true true"
check "... and the pipelined request made no task" test "$(ntasks)" = 0

printf 'POST /api/v1/signingTask HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n' \
	"$AUTH" >"$TMP/badchunk"
cat "$TMP/smuggled" >>"$TMP/badchunk"
hx send "$PA" "$TMP/badchunk"
check "a malformed chunked body (libmicrohttpd's own 400): one answer, 400, closed ($(hxshow))" \
	test "$(hxj '"\(.statuses) \(.closed)"')" = "[400] true"
check "... and the request behind it made no task" test "$(ntasks)" = 0

{
	printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: '
	head -c 40000 /dev/zero | tr '\0' a
	printf '\r\n\r\n'
} >"$TMP/bighead"
hx send "$PA" "$TMP/bighead"
check "a head over max_header_kb: one answer, 431 too_large, closed ($(hxshow))" \
	test "$(hxj '"\(.statuses) \(.closed) \(.body | fromjson | .code)"')" = "[431] true too_large"
printf 'GET /healthz HTTP/1.1\r\n\r\n' >"$TMP/nohost"
hx send "$PA" "$TMP/nohost"
check "HTTP/1.1 without Host: one answer, 400, closed ($(hxshow))" \
	test "$(hxj '"\(.statuses) \(.closed)"')" = "[400] true"
printf 'GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n' >"$TMP/http2"
hx send "$PA" "$TMP/http2"
check "HTTP/2.0 in the request line: one answer, 505, closed ($(hxshow))" \
	test "$(hxj '"\(.statuses) \(.closed)"')" = "[505] true"

# Deadlines: the client keeps sending, so only they, not connection_timeout (3600 s), can close.
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: %s\r\n\r\n' "$(head -c 200 /dev/zero | tr '\0' s)" >"$TMP/slowhead"
hx trickle "$PA" "$TMP/slowhead" 10 0.2
check "a request head sent a byte every 0.2 s: the front closes it (header_timeout) before it ends, unanswered ($(hxshow))" \
	test "$(hxj '"\(.closed) \(.sent < .len) \(.statuses)"')" = "true true []"
printf 'POST /api/v1/signingTask HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
	"$AUTH" 300 "$(printf '%-300s' "$SMUGGLED_BODY")" >"$TMP/slowbody"
HLEN=$(($(wc -c <"$TMP/slowbody") - 300))
hx trickle "$PA" "$TMP/slowbody" "$HLEN" 0.2
check "a JSON body sent a byte every 0.2 s: the front closes it (body_timeout) before it ends ($(hxshow))" \
	test "$(hxj '"\(.closed) \(.sent < .len)"')" = "true true"
hx trickle "$PA" "$TMP/slowbody" "$((HLEN + 10))" 60
check "a JSON body that stops: closed by body_timeout, not left to connection_timeout ($(hxshow))" \
	test "$(hxj '"\(.closed) \(.sent)"')" = "true $((HLEN + 10))"
check "... and neither made a task" test "$(ntasks)" = 0

# What still works: a task, an upload and its download, an event stream, one connection each.
st=$(curl -sS -o "$TMP/out" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' \
	--data-binary "{\"deviceConfigId\": \"$DC_NOW\", \"inputBase64\": \"aGk=\", \"name\": \"normal\"}" \
	"$BASE/api/v1/signingTask" || true)
check "curl: a signing task through the guard: 201 DONE (got $st: $(head -c 200 "$TMP/out"))" \
	test "$st/$(jq -r .status "$TMP/out" 2>/dev/null)" = 201/DONE
check "signetd made exactly that one task" test "$(ntasks)" = 1

# wait_for COUNT FILES...: until COUNT of the files hold an HTTP 200 status line (10 s at most).
wait_for() {
	_c=$1
	shift
	_i=0
	while [ $_i -lt 100 ] && [ "$(cat "$@" 2>/dev/null | grep -c '^HTTP/1.1 200')" -lt "$_c" ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}
curl -sN --max-time 60 -D "$TMP/sse.hdr" -H "$AUTH" "$BASE/api/v1/events" >"$TMP/sse" 2>/dev/null &
SSE=$!
BG_PIDS="$SSE"
wait_for 1 "$TMP/sse.hdr"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$TMP/up.bin"
st=$(curl -sS -o "$TMP/out" -w '%{http_code}' -H "$AUTH" -F "deviceConfigId=$DC_ENC" \
	-F "file=@$TMP/up.bin" "$BASE/api/v1/encryptionTask" || true)
check "curl: a 3 MiB upload (Expect: 100-continue) through the guard: 201 (got $st: $(head -c 200 "$TMP/out"))" \
	test "$st" = 201
T_ENC=$(jq -r '.id // "none"' "$TMP/out")
i=0
while [ $i -lt 100 ]; do
	curl -sS -o "$TMP/out" -H "$AUTH" "$BASE/api/v1/encryptionTask/$T_ENC" 2>/dev/null || true
	[ "$(jq -r .status "$TMP/out" 2>/dev/null)" = DONE ] && break
	sleep 0.1
	i=$((i + 1))
done
st=$(curl -sS -o "$TMP/down.bin" -D "$TMP/down.hdr" -w '%{http_code}' -H "$AUTH" \
	"$BASE/api/v1/encryptionTask/$T_ENC/download" || true)
check "curl: its download: 200, Connection: close (got $st)" \
	sh -c "test '$st' = 200 && grep -qi '^connection: close' '$TMP/down.hdr'"
head -c $(($(wc -c <"$TMP/down.bin") - 16)) "$TMP/down.bin" >"$TMP/down.ct"
IV=$(tail -c 16 "$TMP/down.bin" | od -An -tx1 -v | tr -d ' \n')
rm -f "$TMP/down.dec"
openssl enc -d -aes-256-cbc -K "$KHEX" -iv "$IV" -in "$TMP/down.ct" -out "$TMP/down.dec" 2>/dev/null || true
check "... openssl decrypts it to the upload" cmp -s "$TMP/down.dec" "$TMP/up.bin"
i=0
while [ $i -lt 100 ] && ! grep -q "$T_ENC" "$TMP/sse"; do
	sleep 0.1
	i=$((i + 1))
done
kill "$SSE" 2>/dev/null || true
wait "$SSE" 2>/dev/null || true
BG_PIDS=
check "an event stream open meanwhile saw the encryption task's events" grep -q "$T_ENC" "$TMP/sse"

# The per-address limit of libmicrohttpd still holds: 4 streams from 127.0.0.1 fill it.
BG_PIDS=
for i in 1 2 3 4; do
	curl -sN --max-time 60 -D "$TMP/stream$i.hdr" -H "$AUTH" "$BASE/api/v1/events" >/dev/null 2>&1 &
	BG_PIDS="$BG_PIDS $!"
done
wait_for 4 "$TMP"/stream?.hdr
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >"$TMP/health"
hx send "$PA" "$TMP/health"
check "with max_connections_per_ip (4) streams open from 127.0.0.1, a fifth is closed unanswered ($(hxshow))" \
	test "$(hxj '"\(.statuses) \(.closed)"')" = "[] true"
hx send "$PA" "$TMP/health" --bind 127.0.0.2
check "... while 127.0.0.2 gets its answer ($(hxshow))" test "$(hxj '"\(.statuses)"')" = "[200]"
for _p in $BG_PIDS; do
	kill "$_p" 2>/dev/null || true
	wait "$_p" 2>/dev/null || true
done
BG_PIDS=

stop_front "$FA"
check "SIGTERM: the front stops with status 0 ($FRC)" test "$FRC" = 0

###########################################################################################
# 2. 64 slow connections from one address fill every slot (max_connections 64, per address 64:
# without the guard libmicrohttpd would hold them all and refuse everyone else).
printf '[front]\nmax_connections = 64\nmax_connections_per_ip = 64\nheader_timeout = 600\n' >"$TMP/front-b.conf"
start_front b http --config "$TMP/front-b.conf"
FB=$FPID
hx lockout "$FPORT" 64
check "64 slow request heads from 127.0.0.1, then a request from 127.0.0.2: it is answered 200, the front still holding 63 of the 64 ($(hxshow))" \
	test "$(hxj '"\(.other) \(.open)"')" = "[200] 63"
python3 - "$FPORT" <<'EOF' &
import socket, sys, time
s = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(8)]
for c in s:
    c.sendall(b"GET /healthz HTTP/1.1\r\n")
time.sleep(30)
EOF
BG_PIDS=$!
sleep 1
stop_front "$FB"
check "SIGTERM with request heads still awaited: the front stops with status 0 ($FRC)" test "$FRC" = 0
kill "$BG_PIDS" 2>/dev/null || true
wait "$BG_PIDS" 2>/dev/null || true
BG_PIDS=

###########################################################################################
# 3. HTTPS: the guard cannot read the bytes; the handler refuses what libmicrohttpd parsed, and
# the deadlines hold.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/tls.key" \
	-out "$TMP/tls.crt" -days 2 -subj /CN=localhost >/dev/null 2>&1 || fatal "openssl req"
start_front c https --config "$TMP/front-a.conf" --tls-cert "$TMP/tls.crt" --tls-key "$TMP/tls.key"
FC=$FPID
PC=$FPORT
N0=$(ntasks)
for n in space-before-colon tab-before-colon cl-and-te two-lengths te-not-chunked; do
	hx send "$PC" "$TMP/attack.$n" --tls
	check "HTTPS, $n with a task request behind it: one answer, 400 invalid, Connection: close, closed ($(hxshow))" \
		test "$(hxj '"\(.statuses) \(.closed) \(.close_header) \(.body | fromjson | .code)"')" = "[400] true true invalid"
done
check "... and signetd made no task of the smuggled bytes" test "$(ntasks)" = "$N0"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >"$TMP/two"
hx send "$PC" "$TMP/two" --tls --wait 5
check "HTTPS keeps connections alive: two pipelined requests, two answers ($(hxshow))" \
	test "$(hxj '"\(.statuses)"')" = "[200,200]"
hx trickle "$PC" "$TMP/slowhead" 10 0.2 --tls
check "HTTPS, a request head sent a byte every 0.2 s: closed (header_timeout) before it ends ($(hxshow))" \
	test "$(hxj '"\(.closed) \(.sent < .len)"')" = "true true"
hx trickle "$PC" "$TMP/slowbody" "$((HLEN + 10))" 60 --tls
check "HTTPS, a JSON body that stops: closed by body_timeout ($(hxshow))" \
	test "$(hxj '"\(.closed) \(.sent)"')" = "true $((HLEN + 10))"
st=$(curl -sSk -o "$TMP/out" -w '%{http_code}' -H "$AUTH" -F "deviceConfigId=$DC_ENC" \
	-F "file=@$TMP/up.bin" "https://127.0.0.1:$PC/api/v1/encryptionTask" || true)
check "HTTPS, curl: a 3 MiB upload: 201 (got $st: $(head -c 200 "$TMP/out"))" test "$st" = 201
stop_front "$FC"
check "SIGTERM: the HTTPS front stops with status 0 ($FRC)" test "$FRC" = 0
