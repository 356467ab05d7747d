#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Tasks and their rights: ACL rules and device configurations, task capabilities, result
# expiry, the event stream, task wait and cancel, recovery after a crash with work in flight.
. "$TESTLIB"

# as TOKEN ARGS...: signetctl with another user's token.
as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "${DSOCK:-$SOCK}" --token "$_tok" "$@"
}
now() { date +%s.%N; }
# since T0: seconds elapsed since T0, two decimals.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# fle A B: A <= B (decimals).
fle() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
# lines FILE: its number of lines.
lines() { wc -l <"$1" | tr -d ' '; }
# rules_with JQ-CONDITION: how many ACL rules (seen by alice) satisfy it.
rules_with() { ctl --json acl list | jq "[.rules[] | select($1)] | length"; }
# wait_pid PID SECONDS: wait for a background job, at most SECONDS; 0 if it ended in time.
wait_pid() {
	_n=0
	while kill -0 "$1" 2>/dev/null; do
		[ $_n -lt $(($2 * 10)) ] || return 1
		sleep 0.1
		_n=$((_n + 1))
	done
	return 0
}

T_START=$(now)
init_state
# Short result TTL and capability grace so that expiry is observable within the test.
printf '[tasks]\nresult_ttl = 2\ncapability_grace = 1\nworkers = 2\n' >"$TMP/short.conf"
printf '[tasks]\nresult_ttl = 600\ncapability_grace = 1\nworkers = 2\n' >"$TMP/long.conf"
start_daemon --config "$TMP/short.conf"

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json tenant create other --admin olga >"$TMP/out" || fatal "tenant create other"
O_TOKEN=$(json .token)
mkuser() {
	ctl --json user create "$@" >"$TMP/out" || fatal "user create $1"
	json .token
}
B_TOKEN=$(mkuser bob --group dev)
C_TOKEN=$(mkuser carol --group product)
D_TOKEN=$(mkuser dave --group release)
if [ -z "$B_TOKEN" ] || [ -z "$C_TOKEN" ] || [ -z "$D_TOKEN" ]; then
	fatal "user tokens missing"
fi
ctl key generate sk --alg ECC_NIST_P256 >/dev/null || fatal "key generate sk"
ctl key generate ek --alg AES_256 >/dev/null || fatal "key generate ek"
MSG=$(printf 'firmware image 1.0' | base64)

# --- 1. ACL rules and device configurations -------------------------------------------------

ctl --json acl list >"$TMP/out"
check "acl list shows the admin's 19 fixed rules and nothing else" \
	test "$(json '[.rules[] | select(.subject=="USER:alice" and .fixed==true)] | length')/$(json '.rules | length')" = 19/19
check "the admin's rules include CREATE on RESOURCE_TYPE:ACL and USE on RESOURCE_TYPE:DEVICE_CONFIG" \
	test "$(json '[.rules[] | select((.resource=="RESOURCE_TYPE:ACL" and .action=="CREATE") or (.resource=="RESOURCE_TYPE:DEVICE_CONFIG" and .action=="USE"))] | length')" = 2
check "the admin holds nothing meaningless (no APPROVE on RESOURCE_TYPE:KEY)" \
	test "$(json '[.rules[] | select(.resource=="RESOURCE_TYPE:KEY" and .action=="APPROVE")] | length')" = 0

ctl --json devconf create dc1 --sign-key sk --four-eyes off >"$TMP/out" || fatal "devconf create dc1"
DC1=$(json .id)
ctl --json devconf create dc2 --sign-key sk --four-eyes off --user USER:bob >"$TMP/out" ||
	fatal "devconf create dc2"
DC2=$(json .id)
check "devconf create --user USER:bob becomes USE and VIEW rules for bob" \
	test "$(rules_with ".subject==\"USER:bob\" and .resource==\"DEVICE_CONFIG:$DC2\" and (.action==\"USE\" or .action==\"VIEW\")")" = 2

expect_refusal "bob without USE on dc1 cannot sign with it" denied \
	as "$B_TOKEN" task sign --devconf "$DC1" --input-base64 "$MSG"
as "$B_TOKEN" --json task sign --devconf "$DC2" --input-base64 "$MSG" >"$TMP/out"
check "bob with USE through devconf create --user signs with dc2" \
	test "$(json .status)/$(json '.result.signature | length > 40')" = DONE/true
TB=$(json .id)

expect_refusal "dave (group release) cannot sign with dc1 before the group rule" denied \
	as "$D_TOKEN" task sign --devconf "$DC1" --input-base64 "$MSG"
check "alice adds USE on dc1 for GROUP:release" ctl acl add GROUP:release "DEVICE_CONFIG:$DC1" USE
as "$D_TOKEN" --json task sign --devconf "$DC1" --input-base64 "$MSG" >"$TMP/out"
check "dave signs with dc1 through his group's rule" test "$(json .status)" = DONE
TD=$(json .id)
expect_refusal "bob (not in release) still cannot sign with dc1" denied \
	as "$B_TOKEN" task sign --devconf "$DC1" --input-base64 "$MSG"

expect_refusal "another tenant's admin cannot sign with acme's device config" not_found \
	as "$O_TOKEN" task sign --devconf "$DC1" --input-base64 "$MSG"
expect_refusal "another tenant's admin cannot see acme's device config" not_found \
	as "$O_TOKEN" devconf show "$DC1"
expect_refusal "another tenant's admin cannot name acme's device config in a rule" not_found \
	as "$O_TOKEN" acl add USER:olga "DEVICE_CONFIG:$DC1" USE

# carol manages the ACL (CREATE and DELETE on it) but is not the initial admin.
check "alice gives carol CREATE on the ACL" ctl acl add USER:carol RESOURCE_TYPE:ACL CREATE
check "alice gives carol DELETE on the ACL" ctl acl add USER:carol RESOURCE_TYPE:ACL DELETE
expect_refusal "carol cannot remove the initial admin's rules" denied \
	as "$C_TOKEN" acl remove USER:alice RESOURCE_TYPE:KEY CREATE
expect_refusal "carol cannot add rules for the initial admin" denied \
	as "$C_TOKEN" acl add USER:alice "DEVICE_CONFIG:$DC1" APPROVE
expect_refusal "not even the initial admin can remove her own fixed rules" denied \
	ctl acl remove USER:alice RESOURCE_TYPE:ACL DELETE
check "carol adds USE on dc1 for bob" as "$C_TOKEN" acl add USER:bob "DEVICE_CONFIG:$DC1" USE
check "bob now signs with dc1" as "$B_TOKEN" task sign --devconf "$DC1" --input-base64 "$MSG"
check "carol removes bob's USE on dc1" as "$C_TOKEN" acl remove USER:bob "DEVICE_CONFIG:$DC1" USE
expect_refusal "bob cannot sign with dc1 after the removal" denied \
	as "$B_TOKEN" task sign --devconf "$DC1" --input-base64 "$MSG"
expect_refusal "carol without VIEW on the ACL cannot list it" denied as "$C_TOKEN" acl list
expect_refusal "bob without CREATE on the ACL cannot add rules" denied \
	as "$B_TOKEN" acl add USER:bob "DEVICE_CONFIG:$DC1" USE
check "the admin's 19 fixed rules are all still there" \
	test "$(rules_with '.subject=="USER:alice" and .fixed==true')" = 19

# Rule validation.
expect_refusal "APPROVE on RESOURCE_TYPE:KEY is invalid" invalid \
	ctl acl add USER:bob RESOURCE_TYPE:KEY APPROVE
expect_refusal "DELETE on the audit log is invalid" invalid \
	ctl acl add USER:bob RESOURCE_TYPE:AUDIT_LOG DELETE
expect_refusal "an unknown action is invalid" invalid ctl acl add USER:bob "DEVICE_CONFIG:$DC1" FLY
expect_refusal "an unknown resource type is invalid" invalid ctl acl add USER:bob RESOURCE_TYPE:MOON VIEW
expect_refusal "a rule for an unknown user is not_found" not_found \
	ctl acl add USER:nobody "DEVICE_CONFIG:$DC1" USE
expect_refusal "a rule on an unknown device config is not_found" not_found \
	ctl acl add USER:bob DEVICE_CONFIG:00000000-0000-4000-8000-000000000000 USE
expect_refusal "a rule given twice is a conflict" conflict \
	ctl acl add GROUP:release "DEVICE_CONFIG:$DC1" USE
expect_refusal "removing a rule that does not exist is not_found" not_found \
	ctl acl remove USER:bob RESOURCE_TYPE:KEY VIEW
check "no refused rule was stored" \
	test "$(rules_with '.subject=="USER:nobody" or (.subject=="USER:bob" and (.resource|startswith("RESOURCE_TYPE:")))')" = 0

# Disabling a device configuration.
check "alice disables dc2" ctl devconf disable "$DC2"
expect_refusal "a disabled device config takes no new tasks" conflict \
	as "$B_TOKEN" task sign --devconf "$DC2" --input-base64 "$MSG"
ctl --json devconf show "$DC2" >"$TMP/out"
check "devconf show reports dc2 disabled" test "$(json .enabled)" = false
as "$B_TOKEN" --json devconf list >"$TMP/out"
check "bob's devconf list shows dc2 disabled" \
	test "$(json "[.deviceConfigs[] | select(.id==\"$DC2\") | .enabled] | tostring")" = "[false]"
check "alice enables dc2 again" ctl devconf enable "$DC2"
ctl --json devconf show "$DC2" >"$TMP/out"
check "devconf show reports dc2 enabled" test "$(json .enabled)" = true
as "$B_TOKEN" --json task sign --devconf "$DC2" --input-base64 "$MSG" >"$TMP/out"
check "bob signs with dc2 once it is enabled" test "$(json .status)" = DONE
check "enabling kept bob's rules on dc2" \
	test "$(rules_with ".subject==\"USER:bob\" and .resource==\"DEVICE_CONFIG:$DC2\" and (has(\"task\") | not)")" = 2

# Seeing device configurations and tasks.
expect_refusal "dave (USE but no VIEW on dc1) cannot show it" denied as "$D_TOKEN" devconf show "$DC1"
as "$D_TOKEN" --json devconf list >"$TMP/out"
check "dave's devconf list is empty" test "$(json '.deviceConfigs | length')" = 0
as "$B_TOKEN" --json devconf list >"$TMP/out"
check "bob's devconf list holds dc2 only" test "$(json '[.deviceConfigs[].id] | join(",")')" = "$DC2"
check "bob can show dc2" as "$B_TOKEN" devconf show "$DC2"
expect_refusal "carol without VIEW on dc2 cannot see bob's task" not_found as "$C_TOKEN" task show "$TB"
expect_refusal "bob without VIEW on dc1 cannot see dave's task" not_found as "$B_TOKEN" task show "$TD"
expect_refusal "nor wait for it" not_found as "$B_TOKEN" task wait "$TD" --timeout 1
check "dave sees his own task" as "$D_TOKEN" task show "$TD"
check "alice sees bob's task" ctl task show "$TB"
as "$B_TOKEN" --json task list >"$TMP/out"
check "bob's task list holds dc2's tasks and his own, not dave's" \
	test "$(json "[.tasks[] | select(.id==\"$TD\")] | length")/$(json "[.tasks[] | select(.id==\"$TB\")] | length")" = 0/1

# --- 4. Events ------------------------------------------------------------------------------

# Only acme has had tasks so far: alice sees every event from seq 1 on.
ctl events watch --since 0 --timeout 1 >"$TMP/ev0" 2>"$TMP/ev0.err" || not_ok "events watch (before)"
E0=$(lines "$TMP/ev0")
check "the earlier tasks made events, numbered 1..$E0" \
	test "$E0" -gt 0 -a "$(jq -s '[.[].seq] == [range(1; length + 1)]' "$TMP/ev0")" = true
# A task run at once has one event, its end (DONE): its record holds when it was created.
N=$((E0 + 50))
ctl events watch --since 0 --count "$N" >"$TMP/w1" 2>"$TMP/w1.err" &
W1PID=$!
: >"$TMP/ids"
i=0
while [ $i -lt 50 ]; do
	if ctl --json task sign --devconf "$DC1" --input-base64 "$MSG" --name "ev$i" >"$TMP/out"; then
		json .id >>"$TMP/ids"
	fi
	i=$((i + 1))
done
check "50 signing tasks were created" test "$(lines "$TMP/ids")" = 50
# The tasks run on after the loop: the deadline is for a watcher that never ends, not a speed.
if wait_pid "$W1PID" 120; then
	w1rc=0
	wait "$W1PID" || w1rc=$?
	check "the watcher ended by itself after $N events" test "$w1rc" = 0
else
	kill "$W1PID" 2>/dev/null || true
	wait "$W1PID" 2>/dev/null || true
	not_ok "the watcher did not see $N events within 120 s (saw $(lines "$TMP/w1"))"
fi
check "the watcher saw $N events" test "$(lines "$TMP/w1")" = "$N"
check "their seq runs 1, 2, 3 ... without gap or repeat" \
	test "$(jq -s '[.[].seq] == [range(1; length + 1)]' "$TMP/w1")" = true
check "all are acme's" test "$(jq -s '[.[] | select(.tenant != "acme")] | length' "$TMP/w1")" = 0
check "the events before the watch are replayed as they were" \
	sh -c "head -n $E0 '$TMP/w1' | cmp -s - '$TMP/ev0'"
check "each of the 50 tasks, run at once, has one event, DONE, seen once" \
	test "$(jq -s --rawfile ids "$TMP/ids" '
		($ids | split("\n") | map(select(length > 0))) as $I
		| ($I | length) == 50 and
		  ([$I[] as $i | [.[] | select(.task == $i and .type == "task.status") | .status]]
		   | all(. == ["DONE"]))' "$TMP/w1")" = true
ctl events watch --since 0 --count $((N + 1)) --timeout 2 >"$TMP/wall" 2>/dev/null ||
	not_ok "events watch (final)"
check "a final replay from 0 holds exactly the $N events the watcher saw" cmp -s "$TMP/wall" "$TMP/w1"
M=$((N / 2))
ctl events watch --since "$M" --timeout 2 >"$TMP/w2" 2>/dev/null || not_ok "events watch --since $M"
tail -n +$((M + 1)) "$TMP/w1" >"$TMP/w1.tail"
check "a watcher from seq $M gets exactly the $((N - M)) events after it" \
	test "$(lines "$TMP/w2")" = $((N - M)) -a "$(cmp -s "$TMP/w2" "$TMP/w1.tail" && echo same)" = same
as "$O_TOKEN" events watch --since 0 --timeout 2 >"$TMP/wo" 2>"$TMP/wo.err" ||
	not_ok "events watch as olga ($(cat "$TMP/wo.err"))"
check "another tenant's admin sees none of acme's events" test "$(lines "$TMP/wo")" = 0
# ... but does see its own, and acme sees none of them.
as "$O_TOKEN" key generate osk --alg ECC_NIST_P256 >/dev/null || not_ok "olga: key generate"
as "$O_TOKEN" --json devconf create odc --sign-key osk --four-eyes off >"$TMP/out" ||
	not_ok "olga: devconf create"
as "$O_TOKEN" --json task sign --devconf "$(json .id)" --input-base64 "$MSG" >"$TMP/out" ||
	not_ok "olga: task sign"
OT=$(json .id)
as "$O_TOKEN" events watch --since 0 --count 2 --timeout 2 >"$TMP/wo" 2>/dev/null || true
check "olga sees the one event of her own task (DONE), and only that" \
	test "$(jq -s "[.[] | select(.task == \"$OT\" and .tenant == \"other\" and .seq > $N and .status == \"DONE\")] | length" "$TMP/wo")/$(lines "$TMP/wo")" = 1/1
ctl events watch --since "$N" --timeout 1 >"$TMP/wa" 2>/dev/null || true
check "alice sees none of olga's events" test "$(lines "$TMP/wa")" = 0

# --- 5. task wait and cancel; 2. the task capability -----------------------------------------

ctl --json devconf create dc4 --sign-key sk >"$TMP/out" || fatal "devconf create dc4"
DC4=$(json .id)
ctl --json task sign --devconf "$DC4" --input-base64 "$MSG" >"$TMP/out"
check "a signing task waits for approval by default (no --four-eyes given)" test "$(json .status)" = WAITING
TW=$(json .id)
ctl --json acl list >"$TMP/out"
check "acl list shows the waiting task's capability" \
	test "$(json "[.rules[] | select(.task == \"$TW\")] | length")" = 1
check "the capability holds exactly USE of key sk on dc4 for signing, by alice" \
	test "$(json ".rules[] | select(.task == \"$TW\") | [.subject, .resource, .action, .key, .operation] | join(\" \")")" = "USER:alice DEVICE_CONFIG:$DC4 USE sk SIGN"
t0=$(now)
wrc=0
ctl task wait "$TW" --timeout 2 >"$TMP/out" 2>"$TMP/err" || wrc=$?
el=$(since "$t0")
check "task wait --timeout 2 on a waiting task exits 124, a timeout ($el s)" test "$wrc" = 124
check "... not before its 2 s" fle 1.8 "$el"
check "... saying it is still WAITING" grep -q "^signetctl: timeout: task .* is still WAITING" "$TMP/err"
ctl --json task wait "$TW" --timeout 120 >"$TMP/wait.out" 2>"$TMP/wait.err" &
WPID=$!
sleep 1
check "the waiter is still waiting after 1 s" kill -0 "$WPID"
t0=$(now)
check "alice cancels the waiting task" ctl task cancel "$TW"
# Woken by the cancel, long before its own 120 s: how fast is no test's business.
if wait_pid "$WPID" 60; then
	el=$(since "$t0")
	wrc=0
	wait "$WPID" || wrc=$?
	check "the waiter returned after the cancel, before its own timeout ($el s)" test "$wrc" = 1
	check "... reporting CANCELED, final" \
		test "$(jq -r '.status + "/" + (.final | tostring)' "$TMP/wait.out")" = CANCELED/true
else
	kill "$WPID" 2>/dev/null || true
	wait "$WPID" 2>/dev/null || true
	not_ok "the waiter did not return within 60 s of the cancel"
fi
n=0
while [ "$(rules_with ".task == \"$TW\"")" != 0 ] && [ $n -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
check "the capability is gone after the end (grace 1 s)" \
	test "$(rules_with ".task == \"$TW\"")" = 0
check "no capability of an ended task is left" test "$(rules_with 'has("task")')" = 0

# --- 3. Result expiry ------------------------------------------------------------------------

ctl --json devconf create dc3 --sign-key sk --encrypt-key ek >"$TMP/out" || fatal "devconf create dc3"
DC3=$(json .id)
head -c 1048576 /dev/urandom >"$TMP/small.bin"
ctl --json task encrypt --devconf "$DC3" --file "$TMP/small.bin" >"$TMP/out"
TE=$(json .id)
check "the encryption task ends DONE" ctl task wait "$TE" --timeout 20
t_done=$(now)
check "its result is in the spool" test -f "$STATE/spool/out/$TE"
check "its result downloads at first" ctl task download "$TE" -o "$TMP/small.enc"
ctl --json task show "$TE" >"$TMP/out"
SHA=$(json .result.sha256)
check "the download is the recorded result" test "$(sha256sum <"$TMP/small.enc" | cut -d' ' -f1)" = "$SHA"
n=0
while [ -e "$STATE/spool/out/$TE" ] && [ $n -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
el=$(since "$t_done")
check "the result file is deleted after its TTL ($el s after DONE)" test ! -e "$STATE/spool/out/$TE"
check "... and not before the TTL's second came" fle 0.9 "$el"
expect_refusal "a download after expiry answers expired" expired ctl task download "$TE" -o "$TMP/late.enc"
check "no file was written for the refused download" test ! -e "$TMP/late.enc"
ctl --json task show "$TE" >"$TMP/out"
check "task show still holds the result's sha256" test "$(json .result.sha256)" = "$SHA"
check "task show marks the result unavailable" test "$(json .result.available)" = false
check "the task itself stays DONE" test "$(json .status)" = DONE
ctl events watch --since 0 --timeout 1 >"$TMP/wx" 2>/dev/null || true
check "the download and the expiry are events" \
	test "$(jq -s "[.[] | select(.task == \"$TE\" and (.type == \"task.download\" or .type == \"task.expired\")) | .type] | join(\",\")" "$TMP/wx")" = '"task.download,task.expired"'

# --- 6. A crash with work queued and in flight -----------------------------------------------
# Two rounds. By default an encryption that needs no approval reads its input in place from
# the client's file (no spooled copy): after a crash it cannot run again and must end FAILED
# as interrupted. With copy_inputs = 1 every input is spooled first, so every task that was
# queued or running must be taken up again and end DONE.

check "stop before the crash test" stop_daemon
printf '[tasks]\nresult_ttl = 600\ncapability_grace = 1\nworkers = 2\ncopy_inputs = 1\n' >"$TMP/copy.conf"
head -c $((64 << 20)) /dev/urandom >"$TMP/big.bin"
BIGSHA=$(sha256sum <"$TMP/big.bin" | cut -d' ' -f1)

# crash_round CONF ROUND ALL_DONE
crash_round() {
	conf=$1
	round=$2
	all_done=$3
	start_daemon --config "$conf"
	rm -f "$TMP"/sub*.rc "$TMP"/sub*.out "$TMP"/sub*.err
	# Eight submissions at once; the kill comes once five are acknowledged, so that some are
	# queued, some running and some perhaps still being received.
	i=0
	while [ $i -lt 8 ]; do
		(
			src=0
			ctl --json task encrypt --devconf "$DC3" --file "$TMP/big.bin" --name "big$round.$i" \
				>"$TMP/sub$i.out" 2>"$TMP/sub$i.err" || src=$?
			echo $src >"$TMP/sub$i.rc"
		) &
		i=$((i + 1))
	done
	n=0
	while [ "$(cat "$TMP"/sub*.rc 2>/dev/null | grep -c '^0$')" -lt 5 ] && [ $n -lt 600 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	kill -9 "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=
	wait
	: >"$TMP/acked"
	i=0
	while [ $i -lt 8 ]; do
		if [ "$(cat "$TMP/sub$i.rc")" = 0 ]; then
			jq -r .id "$TMP/sub$i.out" >>"$TMP/acked"
		fi
		i=$((i + 1))
	done
	NACK=$(lines "$TMP/acked")
	check "round $round: at least 5 of the 8 big encryption tasks were acknowledged before the kill ($NACK)" \
		test "$NACK" -ge 5
	check "round $round: every acknowledgement named a task id" test "$(grep -cE '^[0-9a-f-]{36}$' "$TMP/acked")" = "$NACK"

	start_daemon --config "$conf"
	REC=$(sed -n 's/.*recovery: \([0-9]*\) task(s) queued again, \([0-9]*\) failed.*/\1+\2/p' "$LOG" | tail -n 1)
	say "# recovery after the kill: ${REC:-nothing} (queued again + failed)"
	check "round $round: the restart recovered tasks that were queued or running at the kill" \
		test "$((${REC:-0}))" -gt 0
	ndone=0
	nbad=0
	while read -r id; do
		ctl --json task wait "$id" --timeout 60 >"$TMP/out" 2>/dev/null || true
		st=$(jq -r .status "$TMP/out" 2>/dev/null || echo missing)
		case $st in
		DONE)
			if [ "$(json .result.available)" = true ] &&
				[ "$(json '.inputs[0].sha256')" = "$BIGSHA" ] &&
				[ -f "$STATE/spool/out/$id" ] &&
				[ "$(sha256sum <"$STATE/spool/out/$id" | cut -d' ' -f1)" = "$(json .result.sha256)" ] &&
				[ "$(stat -c %s "$STATE/spool/out/$id")" = "$(json .result.size)" ]; then
				ndone=$((ndone + 1))
			else
				nbad=$((nbad + 1))
				say "# task $id is DONE but its result does not match its record"
			fi
			;;
		FAILED)
			if [ "$all_done" = 0 ] && json .reason | grep -q interrupted; then
				say "# task $id failed: $(json .reason)"
			else
				nbad=$((nbad + 1))
				say "# task $id failed without being interrupted: $(json .reason)"
			fi
			;;
		*)
			nbad=$((nbad + 1))
			say "# task $id: $st ($(head -c 200 "$TMP/out"))"
			;;
		esac
	done <"$TMP/acked"
	# A submission cut off by the kill may still have been stored: let every task end.
	ctl --json task list --type ENCRYPTION >"$TMP/all" || not_ok "task list"
	for id in $(jq -r '.tasks[] | select(.status | IN("DONE", "FAILED", "CANCELED") | not) | .id' "$TMP/all"); do
		ctl task wait "$id" --timeout 60 >/dev/null 2>&1 || true
	done
	ctl --json task list --type ENCRYPTION >"$TMP/all" || not_ok "task list"
	NDONE_ALL=$(jq '[.tasks[] | select(.status == "DONE" and .result.available)] | length' "$TMP/all")
	check "round $round: every encryption task is final" \
		test "$(jq '[.tasks[] | select(.status | IN("DONE", "FAILED", "CANCELED", "EXPIRED") | not)] | length' "$TMP/all")" = 0
	check "round $round: every acknowledged task ended DONE with its whole result, or FAILED as interrupted ($ndone DONE)" \
		test "$nbad" = 0
	check "round $round: no temporary file is left in the spool" test -z "$(find "$STATE/spool/tmp" -mindepth 1)"
	check "round $round: no input is left in the spool once all tasks are final" \
		test -z "$(find "$STATE/spool/in" -mindepth 1)"
	stray=0
	for p in "$STATE"/spool/out/* "$STATE"/spool/out/.[!.]*; do
		[ -e "$p" ] || continue
		f=${p##*/}
		ctl --json task show "$f" >"$TMP/out" 2>/dev/null || true
		if [ "$(jq -r '.status + "/" + (.result.available | tostring)' "$TMP/out" 2>/dev/null)" != DONE/true ]; then
			stray=$((stray + 1))
			say "# spool/out/$f belongs to no DONE task"
		fi
	done
	check "round $round: every file in spool/out is the result of a DONE task" test "$stray" = 0
	check "round $round: spool/out holds one result per DONE task with an available result" \
		test "$(find "$STATE/spool/out" -mindepth 1 | wc -l)" = "$NDONE_ALL"
	first_done=$(jq -r '[.tasks[] | select(.status == "DONE" and .result.available)][0].id // empty' "$TMP/all")
	if [ -n "$first_done" ]; then
		check "round $round: a result made around the crash downloads" ctl task download "$first_done" -o "$TMP/big.enc"
	fi
	if [ "$all_done" = 1 ]; then
		check "round $round: with copy_inputs every acknowledged task was taken up again and ended DONE" \
			test "$ndone" = "$NACK"
	fi
	check "round $round: stop" stop_daemon
}
crash_round "$TMP/long.conf" 1 0
crash_round "$TMP/copy.conf" 2 1
start_daemon --config "$TMP/long.conf"

check "stop at the end" stop_daemon
say "# t07 ran $(since "$T_START") s"
