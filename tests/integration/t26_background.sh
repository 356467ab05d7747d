#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Background work keeps up and never starves the foreground (issue 18, item 7). The engine's one
# thread is held inside the token (the fault module's hold-encrypt) while: its queue fills to
# [tasks] queue_max and the next task that would need it is refused with unavailable (a retry
# hint, nothing created); hundreds of expiry timers fall due; and an audit checkpoint is
# still signed on schedule. Then signetd is killed and started again: the tasks of the full
# queue all run (one of them waited in the store, past queue_max, and is found there again), and
# the due timers are cleared in a few commits (batches), not one commit each.
. "$TESTLIB"
: "${P11FAULT:?P11FAULT must name the fault-injecting module}"

QMAX=4
NSIGN=${SIGNET_BG_TIMERS:-300}

init_state
mkdir -p "$TMP/faults"
for_daemon "$TMP/faults"
printf '[daemon]\nlog_level = debug\n[token]\nmodule = %s\nsofthsm_conf = %s\n[tasks]\nworkers = 1\nqueue_max = %d\ncapability_grace = 0\napproval_ttl = 1\ncopy_inputs = 1\n' \
	"$P11FAULT" "$STATE/softhsm2.conf" "$QMAX" >"$TMP/d.conf"
export P11FAULT_MODULE="$SOFTHSM_MODULE" P11FAULT_DIR="$TMP/faults"
start_daemon --config "$TMP/d.conf"
ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json key generate sk --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate"
head -c 32 /dev/urandom >"$TMP/aes.raw"
ctl key import ek --alg AES_256 --file "$TMP/aes.raw" >/dev/null || fatal "key import"
ctl --json devconf create sign --sign-key sk --four-eyes off >"$TMP/out" || fatal "devconf sign"
DC_SIGN=$(json .id)
# Tasks that wait for approval, each with an expiry timer due a second later (approval_ttl 1);
# a key of its own, as a four-eyes key makes every configuration signing with it wait.
ctl --json key generate wk --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate wk"
ctl --json devconf create wait --sign-key wk --four-eyes on >"$TMP/out" || fatal "devconf wait"
DC_WAIT=$(json .id)
ctl --json devconf create enc --encrypt-key ek --four-eyes off >"$TMP/out" || fatal "devconf enc"
DC_ENC=$(json .id)
head -c 5000 /dev/urandom >"$TMP/in"

# st JQ: a value of the status op (which writes nothing, not even an audit entry).
st() { ctl --json status | jq -r "$1"; }
# wait_for DESCRIPTION JQ: wait (up to 120 s) until the status makes JQ true.
wait_for() {
	_w=0
	while [ "$(st "$2")" != true ]; do
		[ $_w -lt 1200 ] || { not_ok "$1 (status: $(ctl --json status | jq -c '{engine, audit}'))"; return 1; }
		sleep 0.1
		_w=$((_w + 1))
	done
	ok "$1"
}
enc() { ctl --json task encrypt --devconf "$DC_ENC" --file "$TMP/in"; }
ntasks() { ctl --json task list --limit 1000 | jq '.tasks | length'; }

check "status shows the engine: one thread, queue_max $QMAX, nothing queued" \
	test "$(st '"\(.engine.threads) \(.engine.queueMax) \(.engine.queued) \(.engine.backlog)"')" = "1 $QMAX 0 false"

# --- the engine's thread held in the token: the queue fills, then unavailable -------------------
: >"$TMP/faults/hold-encrypt"
enc >"$TMP/out" || fatal "the first encryption"
ENC_IDS=$(json .id)
wait_held "$TMP/faults"
ok "the engine's thread runs the first encryption and is held in the token"
for i in $(seq 1 $QMAX); do
	enc >"$TMP/out" || fatal "encryption $i of $QMAX while the queue has room"
	ENC_IDS="$ENC_IDS $(json .id)"
done
ok "$QMAX more encryptions are accepted while the queue has room"
check "status: the queue is full" test "$(st .engine.queued)" = "$QMAX"
BEFORE=$(ntasks)
expect_refusal "a further encryption is refused: unavailable" unavailable enc
check "... with a retry hint naming the queue" grep -q "queue_max $QMAX.*send again in a few seconds" "$TMP/err"
check "... and nothing was created" test "$(ntasks)" = "$BEFORE"
check "... and nothing spooled for it" test "$(ls "$STATE/spool/in" | wc -l)" = $((QMAX + 1))
ctl --json task sign --devconf "$DC_SIGN" --file "$TMP/in" >"$TMP/out"
check "a signing task (run by the request worker, not the engine) is still served" \
	test "$(json .status)" = DONE

# --- hundreds of due timers while the engine is held; a checkpoint all the same -----------------
# (tasks run at once make no timer: these wait for approval, and their expiry falls due)
sign_loop() {
	_n=0
	while [ $_n -lt "$1" ]; do
		ctl --json task sign --devconf "$DC_WAIT" --file "$TMP/in" >/dev/null || return 1
		_n=$((_n + 1))
	done
}
pids=
for c in 1 2 3 4; do
	sign_loop $((NSIGN / 4)) &
	pids="$pids $!"
done
fails=0
for p in $pids; do
	wait "$p" || fails=$((fails + 1))
done
check "$NSIGN signing tasks waiting for approval while the engine is held" test $fails -eq 0
wait_for "their expiry timers fall due and are not swept (the engine is held)" \
	".engine.timersDue >= $NSIGN"
DUE=$(st .engine.timersDue)
C0=$(st .audit.checkpoints)
ctl --json tenant create beta --admin bob >"$TMP/out" || fatal "tenant beta"
wait_for "a checkpoint is signed on schedule although the engine is held" ".audit.checkpoints > $C0"
check "... the new tenant's chain got its first one (the log says so)" \
	wait_log "audit: checkpoint of chain beta at entry"
check "... while the due timers are still waiting" test "$(st .engine.timersDue)" -ge "$NSIGN"

# --- killed while held, started again with queue_max 1 and the thread held again: the tasks past
# the bound wait in the store; once let go, every accepted task runs, and the timers go in batches
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null || true
DPID=
mv "$LOG" "$LOG.1"
rm -f "$TMP/faults/held"
sed 's/^queue_max = .*/queue_max = 1/' "$TMP/d.conf" >"$TMP/d2.conf"
start_daemon --config "$TMP/d2.conf"
check "recovery takes up the $((QMAX + 1)) tasks" \
	wait_log "recovery: $((QMAX + 1)) task\\(s\\) queued again"
check "status: past queue_max 1 they wait in the store" test "$(st .engine.backlog)" = true
expect_refusal "meanwhile a new encryption is refused: unavailable" unavailable enc
rm -f "$TMP/faults/hold-encrypt"
wait_for "the queue empties, nothing waits in the store and no timer is due" \
	'.engine.queued == 0 and .engine.backlog == false and .engine.timersDue == 0'
COMMITS=$(st .store.commits)
check "$DUE due timers, $((QMAX + 1)) tasks and the start took $COMMITS commits (batches, not one each)" \
	test "$COMMITS" -lt $((NSIGN / 3))
check "the task left in the store was found there again" wait_log "engine: [1-9][0-9]* task\\(s\\) queued again from the store"
ndone=0
for id in $ENC_IDS; do
	ctl --json task wait "$id" --timeout 120 >"$TMP/out" 2>"$TMP/err" || true
	[ "$(json .status 2>/dev/null)" != DONE ] || ndone=$((ndone + 1))
done
check "all $((QMAX + 1)) accepted encryptions are DONE (none lost)" test $ndone -eq $((QMAX + 1))
check "the tenant's audit chain verifies" ctl audit verify

# --- long audit reads: one at a time per chain, at most half the workers (4: 2) at once --------
ctl --json tenant create globex --admin gary >"$TMP/out" || fatal "tenant create globex"
G_TOKEN=$(json .token)
ctl --json tenant create initech --admin ian >"$TMP/out" || fatal "tenant create initech"
I_TOKEN=$(json .token)
rm -f "$TMP/faults/held"
: >"$TMP/faults/hold-ecpoint"
ctl --json audit verify >"$TMP/v1" 2>&1 &
V1=$!
wait_held "$TMP/faults"
expect_refusal "a second verify of acme's chain while one runs: unavailable" unavailable \
	ctl audit verify
check "... saying one of the chain runs" grep -q "of audit chain acme is running" "$TMP/err"
"$SIGNETCTL" --socket "$SOCK" --token "$G_TOKEN" --json audit verify >"$TMP/v2" 2>&1 &
V2=$!
_w=0
while [ "$(grep -c ecpoint "$TMP/faults/held")" -lt 2 ] && [ $_w -lt 1200 ]; do
	sleep 0.05
	_w=$((_w + 1))
done
check "globex's verify runs beside it (another chain)" test "$(grep -c ecpoint "$TMP/faults/held")" -eq 2
expect_refusal "a third tenant's verify, with two running: unavailable" unavailable \
	"$SIGNETCTL" --socket "$SOCK" --token "$I_TOKEN" audit verify
check "... saying how many run" grep -q "2 audit exports or verifies are running" "$TMP/err"
check "other requests are answered meanwhile" ctl status
rm -f "$TMP/faults/hold-ecpoint"
wait "$V1" && wait "$V2" || not_ok "the held verifies end"
check "both held verifies end verified" \
	test "$(jq -r .verified "$TMP/v1")/$(jq -r .verified "$TMP/v2")" = true/true
check "then the third tenant's verify runs" "$SIGNETCTL" --socket "$SOCK" --token "$I_TOKEN" audit verify
stop_daemon || not_ok "clean stop"
check "the log's count at the stop agrees" grep -Eq "store: [0-9]+ writes in [0-9]+ commits" "$LOG"
