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
