#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Four-eyes approval with TOTP (DESIGN §6), checked against a reference TOTP client (oathtool):
# the ±1 step window, replay and lockout, the catalogue of bypass attempts, quorum, rejection,
# approval without a second factor, expiry of waiting tasks, a lockout that survives a restart,
# the rules of enrollment, and votes of approvers who lost the right (not counted).
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
# step_now: the current 30 s TOTP step.
step_now() { echo $(($(date +%s) / 30)); }
# at_step SECRET STEP: the reference client's code of SECRET for the 30 s step STEP.
at_step() { oathtool --totp -b --now "$(date -u -d "@$(($2 * 30))" '+%Y-%m-%d %H:%M:%S UTC')" "$1"; }
# secret_of USER: the base32 seed the test holds for USER.
secret_of() { eval "echo \"\$SEC_$1\""; }
# fresh USER [peek]: sets CODE to a right code for USER, one whose step is newer than the last
# one accepted for USER (the current step, else the next), and records that step as used unless
# told to peek (for a refusal that must come before the code is looked at).
fresh() {
	_last=0
	eval "_last=\${LAST_$1:-0}"
	_s=$(step_now)
	[ "$_s" -gt "$_last" ] || _s=$((_last + 1))
	[ "$_s" -le $(($(step_now) + 1)) ] || fatal "test bug: $1 has used the next step already"
	CODE=$(at_step "$(secret_of "$1")" "$_s")
	[ "${2:-}" = peek ] || eval "LAST_$1=$_s"
}
# wrong_code USER: a well-formed code that no step near now accepts for USER.
wrong_code() {
	_sec=$(secret_of "$1")
	_s=$(step_now)
	_near=" $(at_step "$_sec" $((_s - 1))) $(at_step "$_sec" "$_s") $(at_step "$_sec" $((_s + 1))) $(at_step "$_sec" $((_s + 2))) "
	_c=314159
	while case $_near in *" $(printf %06d $_c) "*) true ;; *) false ;; esac; do
		_c=$(((_c + 1) % 1000000))
	done
	printf '%06d\n' $_c
}
# mid_step MAX: wait until the current step is at least 1 s old and at most MAX s old, so that
# codes of neighbouring steps keep their meaning for the next (30 - MAX) s.
mid_step() {
	while [ $(($(date +%s) % 30)) -lt 1 ] || [ $(($(date +%s) % 30)) -gt "$1" ]; do
		sleep 0.5
	done
}
# state ID: the task's status and number of decisions, as alice sees them: STATUS/N.
state() { ctl --json task show "$1" | jq -r '.status + "/" + (.approvals | length | tostring)'; }
# newtask DC: a new signing task on DC (by alice) over $MSG; prints its id.
newtask() {
	ctl --json task sign --devconf "$1" --input-base64 "$MSG" >"$TMP/new.out" ||
		fatal "task sign on $1"
	jq -r .id "$TMP/new.out"
}
# refused EXPECTED-STATE DESCRIPTION CODE ID COMMAND...: refused with CODE, and task ID is still
# in EXPECTED-STATE (STATUS/number of decisions) afterwards.
refused() {
	_want=$1 _d=$2 _code=$3 _id=$4
	shift 4
	expect_refusal "$_d" "$_code" "$@"
	_got=$(state "$_id")
	if [ "$_got" = "$_want" ]; then
		ok "... and the task is unchanged ($_got)"
	else
		not_ok "... and the task is unchanged (expected $_want, got $_got)"
	fi
}
# verify_sig ID NAME [KEY]: task ID ended DONE and its ECDSA signature (DER) verifies over
# $TMP/msg.bin with KEY's public key (default sk), and not over other data.
verify_sig() {
	_pub=$TMP/${3:-sk}.pub
	ctl --json task wait "$1" --timeout 20 >"$TMP/out" 2>"$TMP/err" || true
	check "task $2 ends DONE after the approval" test "$(json .status)" = DONE
	json .result.signature | base64 -d >"$TMP/sig.der" 2>/dev/null || true
	check "task $2: the signature is DER (a SEQUENCE)" \
		test "$(head -c 1 "$TMP/sig.der" | od -An -tx1 | tr -d ' ')" = 30
	check "task $2: openssl verifies the signature over the approved input" \
		openssl dgst -sha256 -verify "$_pub" -signature "$TMP/sig.der" "$TMP/msg.bin"
	if openssl dgst -sha256 -verify "$_pub" -signature "$TMP/sig.der" "$TMP/other.bin" \
		>/dev/null 2>&1; then
		not_ok "task $2: the signature also verifies over other data"
	else
		ok "task $2: the signature does not verify over other data"
	fi
}
# events: every event alice sees, one JSON object a line, in $TMP/ev.
events() { ctl events watch --since 0 --timeout 2 >"$TMP/ev" 2>/dev/null || true; }
# nevents JQ-CONDITION: how many of the events in $TMP/ev satisfy it.
nevents() { jq -s "[.[] | select($1)] | length" "$TMP/ev"; }

T_START=$(now)
init_state
printf '[daemon]\nauth_fail_delay_ms = 0\n[tasks]\nworkers = 2\ncapability_grace = 1\n' \
	>"$TMP/main.conf"
printf '[daemon]\nauth_fail_delay_ms = 0\n[tasks]\nworkers = 2\ncapability_grace = 1\napproval_ttl = 2\n' \
	>"$TMP/ttl.conf"
start_daemon --config "$TMP/main.conf"

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json tenant create other --admin olga >"$TMP/out" || fatal "tenant create other"
O_TOKEN=$(json .token)
mkuser() {
	ctl --json user create "$1" >"$TMP/out" || fatal "user create $1"
	json .token
}
B_TOKEN=$(mkuser bob)
C_TOKEN=$(mkuser carol)
D_TOKEN=$(mkuser dan)
E_TOKEN=$(mkuser erin)
G_TOKEN=$(mkuser gina)
H_TOKEN=$(mkuser harry)
# enroll USER TOKEN: USER enrolls themself; the secret goes to SEC_USER.
enroll() {
	as "$2" --json user otp-enroll "$1" >"$TMP/enroll.$1" 2>"$TMP/err" ||
		fatal "user otp-enroll $1: $(cat "$TMP/err")"
	eval "SEC_$1=\$(jq -er .secret \"\$TMP/enroll.$1\")"
}
enroll alice "$SIGNET_TOKEN"
enroll bob "$B_TOKEN"
enroll carol "$C_TOKEN"
enroll dan "$D_TOKEN"
enroll erin "$E_TOKEN"
enroll gina "$G_TOKEN"
enroll harry "$H_TOKEN"
enroll olga "$O_TOKEN"
check "the enrollment answer is an otpauth URI with carol's secret, SHA1, 6 digits, 30 s" \
	test "$(jq -r '.user + " " + .uri' "$TMP/enroll.carol")" = "carol otpauth://totp/signet:carol@acme?secret=$SEC_carol&issuer=signet&algorithm=SHA1&digits=6&period=30"
check "carol's secret is at least 160 bits (32 base32 characters)" test "${#SEC_carol}" -ge 32

# One key per approval policy: a key's strictest policy applies to all its uses (DESIGN §5), so
# configurations that share a key share their strictest policy (section 10 checks that).
for k in sk skq skn skx skv skn2; do
	ctl key generate "$k" --alg ECC_NIST_P256 >/dev/null || fatal "key generate $k"
	ctl --json key show "$k" >"$TMP/out" || fatal "key show $k"
	json .publicKeyPem | sed '/^$/d' >"$TMP/$k.pub"
done
printf 'firmware image 9.0' >"$TMP/msg.bin"
printf 'firmware image 9.1' >"$TMP/other.bin"
MSG=$(base64 <"$TMP/msg.bin")

# dc1: quorum 1, TOTP; bob may USE (and VIEW) it but not APPROVE.
ctl --json devconf create dc1 --sign-key sk --four-eyes on --user USER:bob \
	--approver USER:carol --approver USER:erin --approver USER:gina --approver USER:harry \
	>"$TMP/out" || fatal "devconf create dc1"
DC1=$(json .id)
check "dc1 asks for one approval with TOTP" \
	test "$(json '.approval | "\(.quorum)/\(.secondFactor)"')" = 1/TOTP
ctl --json devconf create dcq --sign-key skq --quorum 2 --approver USER:carol --approver USER:dan \
	>"$TMP/out" || fatal "devconf create dcq"
DCQ=$(json .id)
ctl --json devconf create dcn --sign-key skn --second-factor NONE --approver USER:carol \
	>"$TMP/out" || fatal "devconf create dcn"
DCN=$(json .id)
ctl --json devconf create dcx --sign-key skx --approver USER:harry >"$TMP/out" ||
	fatal "devconf create dcx"
DCX=$(json .id)

# --- 1. The reference client ------------------------------------------------------------------

mid_step 20
S=$(step_now)
T1=$(newtask "$DC1")
T1B=$(newtask "$DC1")
check "a signing task on dc1 waits for approval" test "$(state "$T1")" = WAITING/0
C1=$(oathtool --totp -b "$(secret_of carol)")
LAST_carol=$S
as "$C_TOKEN" --json task approve "$T1" --otp "$C1" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "carol approves with oathtool's code ($(cat "$TMP/err"))"
check "carol's code from oathtool approves the task: APPROVED, one decision by carol with TOTP" \
	test "$(json '[.status, .decision, (.approvals | length), .approvals[0].approver, .approvals[0].secondFactor] | map(tostring) | join(" ")')" = "APPROVED APPROVED 1 USER:carol true"
check "the approval is bound to the input's sha256" \
	test "$(json '.approvals[0].inputs[0]')" = "$(sha256sum <"$TMP/msg.bin" | cut -d' ' -f1)"
verify_sig "$T1" T1
refused WAITING/0 "the same code again on another waiting task is otp_replayed" otp_replayed "$T1B" \
	as "$C_TOKEN" task approve "$T1B" --otp "$C1"
refused WAITING/0 "carol's code of two steps ago (now - 60 s) is otp_invalid" otp_invalid "$T1B" \
	as "$C_TOKEN" task approve "$T1B" --otp "$(oathtool --totp -b --now "$(date -u -d @$(($(date +%s) - 60)) '+%Y-%m-%d %H:%M:%S UTC')" "$(secret_of carol)")"
# erin, who never approved: the previous step is in the window, and so is the next one; a step
# not newer than the last accepted one is a replay even if it is in the window.
TE1=$(newtask "$DC1")
TE2=$(newtask "$DC1")
TE3=$(newtask "$DC1")
mid_step 20
S=$(step_now)
as "$E_TOKEN" --json task approve "$TE1" \
	--otp "$(oathtool --totp -b --now "$(date -u -d @$(($(date +%s) - 30)) '+%Y-%m-%d %H:%M:%S UTC')" "$(secret_of erin)")" \
	>"$TMP/out" 2>"$TMP/err" || true
check "erin's code of the previous step (now - 30 s) is accepted: APPROVED" test "$(json .status 2>/dev/null)" = APPROVED
LAST_erin=$((S - 1))
as "$E_TOKEN" --json task approve "$TE2" --otp "$(at_step "$(secret_of erin)" $((S + 1)))" \
	>"$TMP/out" 2>"$TMP/err" || true
check "erin's code of the next step (now + 30 s) is accepted too: APPROVED" test "$(json .status 2>/dev/null)" = APPROVED
LAST_erin=$((S + 1))
refused WAITING/0 "erin's code of two steps ahead (now + 60 s) is otp_invalid" otp_invalid "$TE3" \
	as "$E_TOKEN" task approve "$TE3" --otp "$(at_step "$(secret_of erin)" $((S + 2)))"
refused WAITING/0 "erin's code of the current step, older than her last accepted one, is otp_replayed" \
	otp_replayed "$TE3" as "$E_TOKEN" task approve "$TE3" --otp "$(at_step "$(secret_of erin)" "$S")"
check "the task approved with the previous step's code ends DONE" ctl task wait "$TE1" --timeout 20
check "the task approved with the next step's code ends DONE" ctl task wait "$TE2" --timeout 20

# --- 2. The bypass catalogue -------------------------------------------------------------------

T2=$(newtask "$DC1")
fresh alice peek
refused WAITING/0 "the requester (alice, who holds APPROVE) cannot approve her own task" \
	self_approval "$T2" ctl task approve "$T2" --otp "$CODE"
fresh bob peek
refused WAITING/0 "bob (USE and VIEW on dc1, no APPROVE) cannot approve" denied "$T2" \
	as "$B_TOKEN" task approve "$T2" --otp "$CODE"
fresh olga peek
refused WAITING/0 "another tenant's admin cannot approve: not_found" not_found "$T2" \
	as "$O_TOKEN" task approve "$T2" --otp "$CODE"
refused WAITING/0 "an approval without a code is invalid" invalid "$T2" \
	as "$C_TOKEN" task approve "$T2"
refused WAITING/0 "an approval with a malformed code is invalid" invalid "$T2" \
	as "$H_TOKEN" task approve "$T2" --otp 12345x
refused WAITING/0 "harry's wrong code is otp_invalid" otp_invalid "$T2" \
	as "$H_TOKEN" task approve "$T2" --otp "$(wrong_code harry)"
refused WAITING/0 "erin's code already used (her next-step code) is otp_replayed" otp_replayed "$T2" \
	as "$E_TOKEN" task approve "$T2" --otp "$(at_step "$(secret_of erin)" "$LAST_erin")"
i=1
while [ $i -le 5 ]; do
	expect_refusal "gina's wrong code $i of 5 is otp_invalid" otp_invalid \
		as "$G_TOKEN" task approve "$T2" --otp "$(wrong_code gina)"
	if [ $i = 4 ]; then
		events
		check "no lockout of gina after 4 failures" test "$(nevents '.type == "user.lockout" and .user == "gina"')" = 0
	fi
	i=$((i + 1))
done
fresh gina peek
refused WAITING/0 "gina, locked out after 5 failures, is refused with a right code: locked_out" \
	locked_out "$T2" as "$G_TOKEN" task approve "$T2" --otp "$CODE"
events
check "gina's lockout is an event, once" test "$(nevents '.type == "user.lockout" and .user == "gina"')" = 1
fresh harry peek
refused DONE/1 "approving a DONE task is a conflict" conflict "$T1" \
	as "$H_TOKEN" task approve "$T1" --otp "$CODE"
TC=$(newtask "$DC1")
check "alice cancels a waiting task" ctl task cancel "$TC"
fresh harry peek
refused CANCELED/0 "approving a CANCELED task is a conflict" conflict "$TC" \
	as "$H_TOKEN" task approve "$TC" --otp "$CODE"
TX=$(newtask "$DCX")
check "alice disables dcx with a task waiting on it" ctl devconf disable "$DCX"
fresh harry peek
refused WAITING/0 "approving a task of a disabled device config is a conflict" conflict "$TX" \
	as "$H_TOKEN" task approve "$TX" --otp "$CODE"
check "alice enables dcx again" ctl devconf enable "$DCX"
fresh harry
as "$H_TOKEN" --json task approve "$TX" --otp "$CODE" >"$TMP/out" 2>"$TMP/err" || true
check "once dcx is enabled, harry's right code approves the task (the refusals spent nothing)" \
	test "$(json .status 2>/dev/null)" = APPROVED
check "that task ends DONE" ctl task wait "$TX" --timeout 20

# --- 4. Rejection ------------------------------------------------------------------------------

TR=$(newtask "$DC1")
REASON="not this build, see ticket 42"
as "$C_TOKEN" --json task reject "$TR" --reason "$REASON" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "carol rejects ($(cat "$TMP/err"))"
check "carol's rejection (no code needed) ends the task REJECTED, decision REJECTED" \
	test "$(json '.status + "/" + .decision')" = REJECTED/REJECTED
check "the reason is kept on the task and on carol's decision" \
	test "$(json '[.reason, .approvals[0].reason, .approvals[0].decision, .approvals[0].approver] | join("|")')" = "$REASON|$REASON|REJECTED|USER:carol"
check "a rejected task has no result" test "$(json .result)" = null
events
check "events: task.approval REJECTED by carol for the task" \
	test "$(nevents ".task == \"$TR\" and .type == \"task.approval\" and .decision == \"REJECTED\" and .approver == \"USER:carol\"")" = 1
check "events: task.status REJECTED for the task" \
	test "$(nevents ".task == \"$TR\" and .type == \"task.status\" and .status == \"REJECTED\"")" = 1
fresh harry peek
refused REJECTED/1 "approving a REJECTED task is a conflict" conflict "$TR" \
	as "$H_TOKEN" task approve "$TR" --otp "$CODE"
refused REJECTED/1 "rejecting it again is a conflict" conflict "$TR" \
	as "$E_TOKEN" task reject "$TR"

# --- 3. Quorum 2 -------------------------------------------------------------------------------

TQ=$(newtask "$DCQ")
fresh dan
as "$D_TOKEN" --json task approve "$TQ" --otp "$CODE" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "dan approves the quorum-2 task ($(cat "$TMP/err"))"
check "one approval of two leaves the task WAITING with one decision" test "$(state "$TQ")" = WAITING/1
ctl --json task list --status WAITING >"$TMP/out" || not_ok "task list --status WAITING"
check "task list --status WAITING holds the half-approved task" \
	test "$(json "[.tasks[] | select(.id == \"$TQ\")] | length")" = 1
fresh dan peek
refused WAITING/1 "a second approval by dan (with a right code) under quorum 2 is a conflict" \
	conflict "$TQ" as "$D_TOKEN" task approve "$TQ" --otp "$CODE"
fresh carol
as "$C_TOKEN" --json task approve "$TQ" --otp "$CODE" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "carol approves the quorum-2 task ($(cat "$TMP/err"))"
check "carol's approval, the second distinct one, makes the task APPROVED" \
	test "$(json '.status + "/" + (.approvals | map(.approver) | join(","))')" = APPROVED/USER:dan,USER:carol
verify_sig "$TQ" TQ skq

# --- 5. secondFactor NONE ----------------------------------------------------------------------

TN=$(newtask "$DCN")
check "a task on dcn (secondFactor NONE) waits too" test "$(state "$TN")" = WAITING/0
as "$C_TOKEN" --json task approve "$TN" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "carol approves without a code ($(cat "$TMP/err"))"
check "with secondFactor NONE, carol approves without --otp" \
	test "$(json '.status + "/" + (.approvals[0].secondFactor | tostring)')" = APPROVED/false
verify_sig "$TN" TN skn

# --- 8. Enrollment rules -----------------------------------------------------------------------

expect_refusal "bob cannot enroll carol" denied as "$B_TOKEN" user otp-enroll carol
expect_refusal "carol cannot enroll herself again" conflict as "$C_TOKEN" user otp-enroll carol
expect_refusal "nor replace her own seed with --force" denied as "$C_TOKEN" user otp-enroll carol --force
OLD_carol=$SEC_carol
ctl --json user otp-enroll carol --force >"$TMP/out" 2>"$TMP/err" ||
	not_ok "alice replaces carol's seed ($(cat "$TMP/err"))"
SEC_carol=$(json .secret || true)
# shellcheck disable=SC2034 # fresh reads it
LAST_carol=0
check "alice's --force gives carol a new secret" test -n "$(secret_of carol)" -a "$(secret_of carol)" != "$OLD_carol"
T8=$(newtask "$DC1")
refused WAITING/0 "a code of carol's old secret is otp_invalid after the replacement" otp_invalid "$T8" \
	as "$C_TOKEN" task approve "$T8" --otp "$(oathtool --totp -b "$OLD_carol")"
fresh carol
as "$C_TOKEN" --json task approve "$T8" --otp "$CODE" >"$TMP/out" 2>"$TMP/err" || true
check "a code of carol's new secret approves" test "$(json .status 2>/dev/null)" = APPROVED
expect_refusal "carol cannot reset her own seed" denied as "$C_TOKEN" user otp-reset carol
expect_refusal "bob cannot reset carol's seed" denied as "$B_TOKEN" user otp-reset carol
ctl --json user otp-reset carol >"$TMP/out" 2>"$TMP/err" || not_ok "alice resets carol's seed ($(cat "$TMP/err"))"
check "alice resets carol's seed" test "$(json .enrolled)" = false
T8B=$(newtask "$DC1")
refused WAITING/0 "after the reset carol's code is otp_invalid" otp_invalid "$T8B" \
	as "$C_TOKEN" task approve "$T8B" --otp "$(oathtool --totp -b "$(secret_of carol)")"
check "... because she has no TOTP seed" grep -q "no TOTP seed" "$TMP/err"
expect_refusal "a second reset finds no seed" not_found ctl user otp-reset carol

# --- 9. Votes that no longer count ------------------------------------------------------------
# An approval counts only while its approver still holds APPROVE, still has the API token and
# (for a decision with a code) the TOTP seed it decided with. Each attack: an approver decides on
# a task of quorum 2, then loses the right; a second approver must not complete the quorum with
# that vote, and nothing is signed.

NEWCOMERS="vic wes xena yuri zoe uma ivy jon kai"
for u in $NEWCOMERS; do
	eval "TOK_$u=\$(mkuser $u)"
	eval "enroll $u \"\$TOK_$u\""
done
tok() { eval "echo \"\$TOK_$1\""; }
ctl --json devconf create dcv --sign-key skv --quorum 2 >"$TMP/out" || fatal "devconf create dcv"
DCV=$(json .id)
for u in $NEWCOMERS; do
	ctl acl add "USER:$u" "DEVICE_CONFIG:$DCV" APPROVE >/dev/null || fatal "acl add $u"
done
# vote USER ID: USER approves task ID with a fresh code; the answer in $TMP/out.
vote() {
	fresh "$1"
	as "$(tok "$1")" --json task approve "$2" --otp "$CODE" >"$TMP/out" 2>"$TMP/err" ||
		not_ok "$1 approves $2 ($(head -c 200 "$TMP/err"))"
}
# voided ID USER WHY DESCRIPTION: task ID waits with two decisions and nothing signed; USER's
# approval is void, saying WHY.
voided() {
	ctl --json task show "$1" >"$TMP/vt"
	check "$4: the second approval leaves the task WAITING (2 decisions), decision null, no result" \
		test "$(jq -r '[.status, (.approvals | length), .decision, .result] | map(tostring) | join(" ")' "$TMP/vt")" = "WAITING 2 null null"
	check "$4: $2's approval is void: $3 ($(jq -c ".approvals[] | select(.approver == \"USER:$2\") | .void" "$TMP/vt"))" \
		jq -e --arg w "$3" ".approvals[] | select(.approver == \"USER:$2\") | .void | strings | contains(\$w)" "$TMP/vt"
	check "$4: the other approval counts (no void)" \
		test "$(jq -r "[.approvals[] | select(.approver != \"USER:$2\") | .void] | map(tostring) | join(\" \")" "$TMP/vt")" = null
}

TA=$(newtask "$DCV")
vote vic "$TA"
check "rule removed: vic's approval leaves the task WAITING/1" test "$(state "$TA")" = WAITING/1
check "alice removes vic's APPROVE rule" ctl acl remove "USER:vic" "DEVICE_CONFIG:$DCV" APPROVE
vote wes "$TA"
voided "$TA" vic "no longer holds APPROVE on DEVICE_CONFIG:$DCV" "rule removed"
vote xena "$TA"
check "rule removed: a third approver, whose vote counts, completes the quorum: APPROVED" \
	test "$(json .status)" = APPROVED
verify_sig "$TA" TA skv

TB=$(newtask "$DCV")
vote yuri "$TB"
check "alice revokes yuri's API token" ctl user revoke yuri
vote zoe "$TB"
voided "$TB" yuri "API token of USER:yuri was revoked" "token revoked"

TC9=$(newtask "$DCV")
vote uma "$TC9"
ctl --json user token uma >"$TMP/out" || not_ok "alice gives uma a new token"
# shellcheck disable=SC2034 # tok reads it
TOK_uma=$(json .token)
vote ivy "$TC9"
voided "$TC9" uma "with which USER:uma decided was replaced" "token revoked and issued again"

TD9=$(newtask "$DCV")
vote jon "$TD9"
check "alice resets jon's TOTP seed" ctl user otp-reset jon
vote kai "$TD9"
voided "$TD9" jon "USER:jon no longer has a TOTP seed" "seed removed"
ctl --json audit list --resource "TASK:$TB" >"$TMP/out" 2>"$TMP/err" || not_ok "audit list ($(cat "$TMP/err"))"
check "the voided approval is in the audit log, by signetd (VOIDED, naming yuri)" \
	test "$(json '[.entries[] | select(.verb == "VOIDED" and .actor == "signetd") | .value | fromjson | .approver] | join(" ")')" = USER:yuri
fresh uma
as "$(tok uma)" --json task approve "$TC9" --otp "$CODE" >"$TMP/out" 2>"$TMP/err" || true
check "... and then her approval completes the quorum: APPROVED" test "$(json .status 2>/dev/null)" = APPROVED
verify_sig "$TC9" TC9 skv

# At execution: the quorum is reached while the engine's one thread is held inside the token (the
# fault module's hold-encrypt holds an encryption in C_EncryptInit until the test lets it go), then
# an approver loses the right before the task runs. No timing is assumed: the hold is released
# only once the test has done all it needed to do ahead of the engine.
: "${P11FAULT:?P11FAULT must name the fault-injecting module}"
check "stop signetd before the execution-time votes" stop_daemon
mkdir -p "$TMP/faults"
for_daemon "$TMP/faults"
export P11FAULT_MODULE="$SOFTHSM_MODULE" P11FAULT_DIR="$TMP/faults"
TTL9=5
for c in one one-ttl; do
	printf '[daemon]\nauth_fail_delay_ms = 0\n[token]\nmodule = %s\nsofthsm_conf = %s\n[tasks]\nworkers = 1\ncapability_grace = 1\n' \
		"$P11FAULT" "$STATE/softhsm2.conf" >"$TMP/$c.conf"
done
printf 'approval_ttl = %d\n' "$TTL9" >>"$TMP/one-ttl.conf"
start_daemon --config "$TMP/one.conf"
head -c 32 /dev/urandom >"$TMP/ek.raw"
ctl key import ek --alg AES_256 --file "$TMP/ek.raw" >/dev/null || fatal "key import ek"
ctl --json devconf create dce --encrypt-key ek --four-eyes off >"$TMP/out" || fatal "devconf create dce"
DCE=$(json .id)
ctl --json devconf create dcn2 --sign-key skn2 --quorum 2 --second-factor NONE --approver USER:wes \
	--approver USER:xena >"$TMP/out" || fatal "devconf create dcn2"
DCN2=$(json .id)
head -c 4096 /dev/urandom >"$TMP/busy.in"
# hold: an encryption that the one engine thread runs and that is held in the token until release.
hold() {
	: >"$TMP/faults/hold-encrypt"
	rm -f "$TMP/faults/held"
	ctl --json task encrypt --devconf "$DCE" --file "$TMP/busy.in" >"$TMP/busy" 2>"$TMP/err" ||
		not_ok "an encryption to hold the engine ($(cat "$TMP/err"))"
	BUSY=$(jq -r .id "$TMP/busy")
	wait_held "$TMP/faults"
}
release() {
	rm -f "$TMP/faults/hold-encrypt"
	ctl task wait "$BUSY" --timeout 120 >/dev/null 2>&1 || not_ok "the held encryption ends once released"
}
# left ID STATUS: wait (up to 60 s) until task ID is no longer in STATUS; prints the new one.
left() {
	_n=0
	while [ "$(ctl --json task show "$1" | jq -r .status)" = "$2" ] && [ $_n -lt 600 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	ctl --json task show "$1" | jq -r .status
}
hold
TE9=$(newtask "$DCN2")
as "$(tok wes)" task approve "$TE9" >/dev/null 2>&1 || not_ok "wes approves"
as "$(tok xena)" --json task approve "$TE9" >"$TMP/out" 2>&1 || not_ok "xena approves"
check "execution: the quorum is reached: APPROVED" test "$(json .status)" = APPROVED
check "alice removes xena's APPROVE on dcn2 before the task runs" \
	ctl acl remove "USER:xena" "DEVICE_CONFIG:$DCN2" APPROVE
check "... while the engine is still held (the premise of this check)" \
	test "$(ctl --json task show "$BUSY" | jq -r .status)/$(ctl --json task show "$TE9" | jq -r .status)" = IN_PROGRESS/APPROVED
release
check "execution: the approved task goes back to WAITING instead of running" \
	test "$(left "$TE9" APPROVED)" = WAITING
ctl --json task show "$TE9" >"$TMP/out"
check "execution: xena's approval is void, the decision null, no result, never started" \
	test "$(json '[(.approvals[] | select(.approver == "USER:xena") | .void | contains("no longer holds APPROVE")), .decision, .result, .startedAt] | map(tostring) | join(" ")')" = "true null null null"
events
check "execution: the task's way back is a task.status WAITING event" \
	test "$(nevents ".task == \"$TE9\" and .type == \"task.status\" and .status == \"WAITING\"")" = 2
check "alice gives xena APPROVE on dcn2 again" ctl acl add "USER:xena" "DEVICE_CONFIG:$DCN2" APPROVE
as "$(tok xena)" --json task approve "$TE9" >"$TMP/out" 2>"$TMP/err" || true
check "xena decides again, her void decision does not count as one: APPROVED" \
	test "$(json .status 2>/dev/null)" = APPROVED
verify_sig "$TE9" TE9 skn2

# The same once the time for approval is over: the task cannot wait again, it fails. The hold is
# released only after the task's time for approval ($TTL9 s from its creation) is over.
check "restart with approval_ttl = $TTL9" stop_daemon
start_daemon --config "$TMP/one-ttl.conf"
hold
TF9=$(newtask "$DCN2")
as "$(tok wes)" task approve "$TF9" >/dev/null 2>&1 || not_ok "wes approves"
as "$(tok xena)" --json task approve "$TF9" >"$TMP/out" 2>&1 || not_ok "xena approves"
check "expiry: the quorum is reached: APPROVED" test "$(json .status)" = APPROVED
check "alice revokes xena's API token before the task runs" ctl user revoke xena
_due=$(($(ctl --json task show "$TF9" | jq -r .createdAt) + TTL9 + 1))
while [ "$(date +%s)" -lt "$_due" ]; do sleep 0.2; done
check "... and the task is still APPROVED, queued behind the held one, once its time is over" \
	test "$(ctl --json task show "$TF9" | jq -r .status)" = APPROVED
release
check "expiry: the approved task ends FAILED" test "$(left "$TF9" APPROVED)" = FAILED
ctl --json task show "$TF9" >"$TMP/out"
check "expiry: the reason says the approvals are short and the time is over ($(json .reason))" \
	sh -c "jq -e '.reason | contains(\"time for approval is over\") and contains(\"USER:xena was revoked\")' '$TMP/out' >/dev/null"
check "expiry: no result" test "$(json .result)" = null
check "back to the main configuration" stop_daemon
start_daemon --config "$TMP/main.conf"

# --- 7. A lockout survives a restart ----------------------------------------------------------

TD=$(newtask "$DCQ")
i=1
while [ $i -le 5 ]; do
	expect_refusal "dan's wrong code $i of 5 is otp_invalid" otp_invalid \
		as "$D_TOKEN" task approve "$TD" --otp "$(wrong_code dan)"
	i=$((i + 1))
done
check "stop signetd with dan locked out" stop_daemon
start_daemon --config "$TMP/main.conf"
fresh dan peek
refused WAITING/0 "after the restart, dan's right code is still refused: locked_out" locked_out "$TD" \
	as "$D_TOKEN" task approve "$TD" --otp "$CODE"
events
check "events include dan's lockout, once" test "$(nevents '.type == "user.lockout" and .user == "dan"')" = 1
check "the lockout event says until when (about 15 min)" \
	test "$(jq -s '[.[] | select(.type == "user.lockout" and .user == "dan") | .lockedUntil - .time] | .[0] >= 890 and .[0] <= 910' "$TMP/ev")" = true

# --- 6. Expiry of waiting tasks ----------------------------------------------------------------

check "stop signetd before the expiry test" stop_daemon
start_daemon --config "$TMP/ttl.conf"
TX6=$(newtask "$DC1")
t0=$(now)
st=WAITING
n=0
# Until it expires (the deadline only ends a wait that would never end): how late is no test's business.
while [ "$st" = WAITING ] && [ $n -lt 600 ]; do
	sleep 0.1
	st=$(ctl --json task show "$TX6" | jq -r .status)
	n=$((n + 1))
done
el=$(since "$t0")
check "with approval_ttl = 2 a waiting task becomes EXPIRED ($el s)" test "$st" = EXPIRED
check "... not before 1 s" awk -v e="$el" 'BEGIN { exit !(e >= 1) }'
ctl --json task show "$TX6" >"$TMP/out"
check "its decision is EXPIRED" test "$(json .decision)" = EXPIRED
events
check "its expiry is an event (task.status EXPIRED)" \
	test "$(nevents ".task == \"$TX6\" and .type == \"task.status\" and .status == \"EXPIRED\"")" = 1
fresh harry peek
refused EXPIRED/0 "approving an EXPIRED task is a conflict" conflict "$TX6" \
	as "$H_TOKEN" task approve "$TX6" --otp "$CODE"

# --- 7. A key's strictest policy applies to all its uses (DESIGN §5) ---------------------------

ctl --json devconf create dcweak --sign-key skq --four-eyes off >"$TMP/out" ||
	fatal "devconf create dcweak"
DCW=$(json .id)
TW=$(newtask "$DCW")
ctl --json task show "$TW" >"$TMP/out"
check "a task on a configuration without four-eyes waits when its key is dcq's, which has it" \
	test "$(json .status)" = WAITING
check "... for dcq's quorum of 2" test "$(json .approval.quorum)" = 2
ctl --json devconf create dcnotp --sign-key sk --second-factor NONE --approver USER:carol \
	>"$TMP/out" || fatal "devconf create dcnotp"
TW2=$(newtask "$(json .id)")
ctl --json task show "$TW2" >"$TMP/out"
check "a configuration without a second factor whose key dc1 guards with TOTP asks for TOTP" \
	test "$(json .approval.secondFactor)" = TOTP
refused WAITING/0 "carol cannot approve it without a code" invalid "$TW2" \
	as "$C_TOKEN" task approve "$TW2"

# Which configurations name a key is kept in an index (devconf.h): it follows an update, and is
# checked again at every start. dcweak_task DESCRIPTION JQ: a new task on dcweak, and JQ holds
# of its record.
dcweak_task() {
	_t=$(newtask "$DCW")
	ctl --json task show "$_t" >"$TMP/out" || fatal "task show $_t"
	check "$1" test "$(json "$2")" = true
}
ctl key generate skm --alg ECC_NIST_P256 >/dev/null || fatal "key generate skm"
check "dcq moves from skq to a key of its own" ctl devconf update "$DCQ" --sign-key skm
dcweak_task "... then a task on dcweak (skq) no longer waits: no configuration with four-eyes names skq" \
	'.status != "WAITING" and .approval.required == false'
check "stop signetd with dcq on skm" stop_daemon
start_daemon --config "$TMP/ttl.conf"
check "the start checked the index of the configurations by key" \
	grep -Eq "store: [0-9]+ device configurations indexed by key" "$LOG"
dcweak_task "... and after the restart a task on dcweak still does not wait" \
	'.status != "WAITING" and .approval.required == false'
check "dcq back on skq" ctl devconf update "$DCQ" --sign-key skq
dcweak_task "... and dcweak's tasks wait for dcq's quorum of 2 again" \
	'.status == "WAITING" and .approval.quorum == 2'

check "stop at the end" stop_daemon
say "# t09 ran $(since "$T_START") s"
