#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Hostile input: malformed packets each get a proper refusal, and the daemon keeps serving.
. "$TESTLIB"

: "${PROBE:?PROBE must name the probe binary}"
init_state
start_daemon
ctl --json tenant create acme --admin alice >"$TMP/out"
TOKEN=$(json .token)
ctl --json status >"$TMP/before"
if "$PROBE" "$SOCK" "$TOKEN" >"$TMP/probe.out" 2>&1; then
	ok "every malformed packet was refused properly ($(tail -n 1 "$TMP/probe.out"))"
else
	not_ok "the probe found mishandled packets:"
	grep -v '^ok' "$TMP/probe.out" | sed 's/^/# /'
fi
check "the daemon is still running" kill -0 "$DPID"
ctl --json status >"$TMP/out"
check "the abuse created no tenant, user or key" test "$(json '.counts | "\(.tenants) \(.users) \(.keys)"')" = "1 1 0"
check "no connection leaked" test "$(json .connections)" = 1
check "no secret token value reached the log" sh -c "! grep -q '$TOKEN' '$LOG'"
check "stop cleanly after the abuse" stop_daemon

# Backpressure must not strand anyone: with room for 2 requests, two clients that send
# bad tokens (held 5 s by the failure delay, the longest there is) and hang up must not stall a
# third. Each step waits for the daemon to log the refusal it needs, never for a time.
printf '[daemon]\nmax_requests = 2\nauth_fail_delay_ms = 5000\n' >"$TMP/tight.conf"
start_daemon --config "$TMP/tight.conf"
"$SIGNETCTL" --socket "$SOCK" --token sgn_bogus whoami >/dev/null 2>&1 &
b1=$!
"$SIGNETCTL" --socket "$SOCK" --token sgn_bogus whoami >/dev/null 2>&1 &
b2=$!
wait_log "authentication failed \(pid $b1 " && wait_log "authentication failed \(pid $b2 " ||
	not_ok "signetd did not log the two refused tokens"
kill "$b1" "$b2" 2>/dev/null || true
wait "$b1" 2>/dev/null || true
wait "$b2" 2>/dev/null || true
check "a client is answered once the abandoned requests end" timeout 60 "$SIGNETCTL" --socket "$SOCK" status
"$SIGNETCTL" --socket "$SOCK" --token sgn_bogus whoami >/dev/null 2>&1 &
b3=$!
wait_log "authentication failed \(pid $b3 " || not_ok "signetd did not log the third refused token"
# Waiting out the delay would take 5 s from that line; a stop that does not wait takes far less.
check "shutdown does not wait out the failure delay" timeout 4 sh -c "kill -TERM $DPID; while kill -0 $DPID 2>/dev/null; do sleep 0.05; done"
erc=0; wait "$b3" || erc=$?
check "the delayed request was answered at shutdown (refused, not dropped)" test $erc -eq 1
wait "$DPID" 2>/dev/null || true
DPID=
