#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark (never run by make check): the latency of a REST call (GET /api/v1/deviceConfig through
# signet-front, a valid token) alone, and while one local uid floods signetd with 32 connections
# x 16 bad-token requests naming the same tenant (issue 14 item 5). Prints p50/p99/max of each.
#
# usage (as root, from a build directory): tests/bench/auth-flood.sh [ROUNDS]
set -eu
ROUNDS=${1:-200}
B=$(pwd)
[ -x "$B/signetd" ] && [ -x "$B/signet-front" ] || { echo "run from a build directory" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (signetd drops to daemon, the flood runs as nobody)" >&2; exit 2; }
TMP=$(mktemp -d /tmp/signet-bench.XXXXXX)
chmod 711 "$TMP"
DPID= FPID=
cleanup() {
	[ -z "$FPID" ] || kill "$FPID" 2>/dev/null || true
	[ -z "$DPID" ] || kill "$DPID" 2>/dev/null || true
	sleep 0.5
	rm -rf "$TMP"
}
trap cleanup EXIT
"$B/signetd" --init --state-dir "$TMP/state" --user daemon >/dev/null
mkdir -p "$TMP/run" "$TMP/spool"
chown daemon "$TMP/run"
chmod 755 "$TMP/run"
chmod 777 "$TMP/spool"
printf '[daemon]\nsocket = %s/run/signetd.sock\n' "$TMP" >"$TMP/d.conf"
"$B/signetd" --state-dir "$TMP/state" --config "$TMP/d.conf" --user daemon >"$TMP/d.log" 2>&1 &
DPID=$!
SOCK=$TMP/run/signetd.sock
i=0
until "$B/signetctl" --socket "$SOCK" status >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 200 ] || { echo "signetd did not start" >&2; exit 1; }; sleep 0.05
done
chmod 666 "$SOCK"
TOKEN=$("$B/signetctl" --socket "$SOCK" --json tenant create acme --admin alice | jq -r .token)
PORT=$((20000 + $$ % 10000))
"$B/signet-front" --socket "$SOCK" --listen "127.0.0.1:$PORT" --tmpdir "$TMP/spool" --user daemon \
	>"$TMP/f.log" 2>&1 &
FPID=$!
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do sleep 0.05; done

cat >"$TMP/lat.py" <<'EOF'
import http.client, sys, time
port, token, rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lat = []
for _ in range(rounds):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t = time.monotonic()
    c.request("GET", "/api/v1/deviceConfig", headers={"Authorization": "Bearer " + token, "X-SE-TENANT": "acme"})
    r = c.getresponse(); r.read()
    lat.append((time.monotonic() - t) * 1000)
    assert r.status == 200, r.status
    c.close()
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("p50 %.1f ms  p99 %.1f ms  max %.1f ms  (%d calls)" % (p(0.5), p(0.99), lat[-1], len(lat)))
EOF
cat >"$TMP/flood.py" <<'EOF'
import json, socket, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + seconds
sent = closed = 0
while time.monotonic() < end:
    conns = []
    for c in range(32):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        conns.append(s)
    for c, s in enumerate(conns):
        for i in range(16):
            try:
                s.send(json.dumps({"id": i, "op": "whoami", "auth": {"token": "sgn_bad%d" % i, "tenant": "acme"}, "args": {}}).encode())
                sent += 1
            except OSError:
                closed += 1
                break
    for s in conns:
        s.close()
print("flood: %d bad-token requests sent" % sent)
EOF
echo "REST deviceConfig alone:   $(/usr/bin/python3 "$TMP/lat.py" "$PORT" "$TOKEN" "$ROUNDS")"
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 "$TMP/flood.py" "$SOCK" 600 \
	>"$TMP/flood.out" 2>&1 &
FL=$!
sleep 1
echo "REST deviceConfig, flood:  $(/usr/bin/python3 "$TMP/lat.py" "$PORT" "$TOKEN" "$ROUNDS")"
kill "$FL" 2>/dev/null || true
wait "$FL" 2>/dev/null || true
echo "signetd closed $(grep -c 'failed authentications waiting; closed' "$TMP/d.log" || true) flooding connections"
