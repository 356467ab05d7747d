#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What a signing task costs the store, and what is kept of it (issue 18, items 6 and 7): a few
# thousand signing tasks run at once take at most 2000 bytes of store each, all in (the task record,
# its index and ref, its event, its audit entry); events past [tasks] events_keep are pruned by
# the engine's sweep, and events.watch from before the window answers `expired` naming the
# oldest kept event instead of skipping what is gone; task.show still gives the whole record;
# audit verify reads the chain as it is exported, so signetd's memory stays flat.
. "$TESTLIB"
: "${TASKSIGN:?TASKSIGN must name the tasksign helper}"

N=${SIGNET_T29_TASKS:-4000}
KEEP=500

init_state
printf '[daemon]\nlog_level = debug\n[tasks]\nevents_keep = %d\n' "$KEEP" >"$TMP/d.conf"
start_daemon --config "$TMP/d.conf"
ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json key generate sk --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate"
ctl --json devconf create sign --sign-key sk --four-eyes off >"$TMP/out" || fatal "devconf"
DC=$(json .id)

used() { ctl --json status | jq -e .store.used; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$DPID/status"; }

# --- bytes per task --------------------------------------------------------------------------
B0=$(used)
check "$N signing tasks through the socket, all DONE" "$TASKSIGN" "$SOCK" "$SIGNET_TOKEN" "$DC" "$N" 4
# The sweep prunes the events past the window once a second, in batches.
wait_log "sweep: .* and [0-9]+ old event" || not_ok "the sweep never pruned events"
# ... until the window is down to events_keep.
oldest() {
	ctl events watch --since 0 --timeout 1 >/dev/null 2>"$TMP/err" || true
	_o=$(sed -n 's/.*the oldest kept is \([0-9]*\);.*/\1/p' "$TMP/err")
	echo "${_o:-0}"
}
_w=0
while [ "$(oldest)" -lt $((N - KEEP)) ] && [ $_w -lt 200 ]; do
	sleep 0.1
	_w=$((_w + 1))
done
OLDEST=$(oldest)
check "the window comes down to events_keep events (the oldest kept: $OLDEST)" \
	test "$OLDEST" -ge $((N - KEEP))
B1=$(used)
PER=$(((B1 - B0) / N))
say "# store: $B0 -> $B1 bytes, $PER bytes per signing task"
# The target is 1.5 KB (issue 18 item 6, not met yet); measured 1545-1560 bytes on a quiet
# machine and up to 1790 while the whole suite runs beside it (2614 before the brief forms).
# What is left is LMDB's page fill: a chain or tenant followed by another in key order (acme
# before ~appliance) splits its last page in the middle, so those pages stay 60-75% full, and
# how full depends on how the writes of concurrent clients interleave; "used" also counts pages
# freed by the pruning but not yet reused. The bound below catches a return to the old forms
# without depending on that timing.
check "a signing task takes at most 2000 bytes of store, all in ($PER bytes)" test "$PER" -le 2000
if command -v mdb_stat >/dev/null; then
	mdb_stat -a "$STATE/db" | awk '/^Status of/ {db = $3} /pages:/ {p[db] += $3}
		END {for (d in p) if (p[d] > 1) printf "# %s: %d pages\n", d, p[d]}'
fi

# --- the task record as task.show gives it ----------------------------------------------------
ctl --json task list --oldest-first --limit 1 >"$TMP/out" || fatal "task list"
ID=$(json '.tasks[0].id')
ctl --json task show "$ID" >"$TMP/show" || fatal "task show"
check "task.show: the whole record, derived members included" jq -e --arg id "$ID" '
	.id == $id and .tenant == "acme" and .type == "SIGNING" and .status == "DONE" and
	.name == "input" and .requester == "USER:alice" and .deviceConfigName == "sign" and
	.approvals == [] and .decision == null and .reason == null and .parent == null and
	.children == [] and .approval == {"required": false, "quorum": 1, "secondFactor": "TOTP"} and
	.inputs[0].name == "input" and .inputs[0].prehashed == true and
	.signing.digest == .inputs[0].sha256 and .result.keyLabel == "sk" and
	(.result.signature | length) > 60 and
	.startedAt == .createdAt and .finishedAt >= .createdAt and .updatedAt >= .createdAt' "$TMP/show"

# --- events past the window -------------------------------------------------------------------
expect_refusal "events.watch since 0, before the window: expired" expired \
	ctl events watch --since 0 --timeout 1
check "... naming the oldest event kept and the window" \
	grep -Eq "the events after seq 0 were pruned \(\[tasks\] events_keep $KEEP\): the oldest kept is [0-9]+; watch again with since [0-9]+" "$TMP/err"

check "events.watch since the oldest kept - 1 resumes with the oldest kept" \
	sh -c "'$SIGNETCTL' --socket '$SOCK' --json events watch --since $((OLDEST - 1)) --count 1 --timeout 5 | jq -e '.seq == $OLDEST'"
ctl --json events watch --since $((OLDEST + 5)) --count 1 --timeout 5 >"$TMP/out" 2>&1
check "a watch inside the window goes on from its since" jq -e ".seq == $((OLDEST + 6))" "$TMP/out"

# --- the audit log keeps the history; verify streams ------------------------------------------
ctl --json audit list --resource "TASK:$ID" >"$TMP/out" || fatal "audit list"
check "the audit log still has the first task's entry" \
	jq -e '[.entries[] | select(.verb == "CREATED")] | length == 1 and .[0].chain == "acme" and .[0].message == "task created and run at once: done" and (.[0].prevHash | length) == 64' "$TMP/out"
H0=$(hwm)
ctl --json audit verify >"$TMP/out" || fatal "audit verify"
H1=$(hwm)
say "# signetd VmHWM: $H0 kB before audit verify, $H1 kB after"
check "audit verify: the chain verifies, every entry" \
	jq -e ".verified == true and .entries > $N" "$TMP/out"
if grep -q libasan "/proc/$DPID/maps" 2>/dev/null; then
	# ASan's quarantine keeps freed memory for a while (256 MiB by default): the peak says
	# how much was allocated in all, not how much was held at once. The plain build measures it.
	say "# audit verify's memory bound is measured in the plain build, not under ASan ($H0 -> $H1 kB)"
else
	check "audit verify raised signetd's peak memory by less than 16 MiB ($H0 -> $H1 kB)" \
		test $((H1 - H0)) -lt 16384
fi

# --- a restart reads it all back ---------------------------------------------------------------
stop_daemon || not_ok "clean stop"
start_daemon --config "$TMP/d.conf"
ctl --json task show "$ID" >"$TMP/show2" || fatal "task show after the restart"
check "task.show after a restart gives the same record" sh -c "jq -S . '$TMP/show' >'$TMP/a'; jq -S . '$TMP/show2' >'$TMP/b'; cmp -s '$TMP/a' '$TMP/b'"
ctl --json task sign --devconf "$DC" --file "$TESTLIB" >"$TMP/out" || fatal "task sign after the restart"
ctl --json events watch --since $((OLDEST + 5)) --count 1 --timeout 5 >"$TMP/out" 2>&1
check "the event sequence goes on after the restart" jq -e ".seq == $((OLDEST + 6))" "$TMP/out"
