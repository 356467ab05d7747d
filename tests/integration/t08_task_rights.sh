#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regression tests for fixes after a security review: renewing the initial admin's token,
# group membership given by user create, the rights to change a device configuration, an
# input that grows or shrinks after its encryption task was acknowledged, and a watcher of
# events whose token is revoked.
. "$TESTLIB"

# as TOKEN ARGS...: signetctl with another user's token.
as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "${DSOCK:-$SOCK}" --token "$_tok" "$@"
}
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
# whoami_is TOKEN USER: the token authenticates as USER.
whoami_is() { test "$(as "$1" --json whoami 2>/dev/null | jq -r .user)" = "$2"; }
# dc_state ID: the keys, policy and subjects of a device configuration, one line.
dc_state() {
	ctl --json devconf show "$1" |
		jq -c '{name, signingKeys, encryptionKeys, cipher, packaging, approval, subjects, enabled}'
}

init_state
# One worker, so that tasks can be held in the queue behind a held one (section 4).
: "${P11FAULT:?P11FAULT must name the fault-injecting module}"
mkdir -p "$TMP/faults"
for_daemon "$TMP/faults"
export P11FAULT_MODULE="$SOFTHSM_MODULE" P11FAULT_DIR="$TMP/faults"
printf '[token]\nmodule = %s\nsofthsm_conf = %s\n[tasks]\nworkers = 1\nresult_ttl = 600\n' \
	"$P11FAULT" "$STATE/softhsm2.conf" >"$TMP/one.conf"
start_daemon --config "$TMP/one.conf"

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
A_TOKEN0=$SIGNET_TOKEN
mkuser() {
	ctl --json user create "$@" >"$TMP/out" || fatal "user create $1"
	json .token
}
B_TOKEN=$(mkuser bob)
C_TOKEN=$(mkuser carol)
D_TOKEN=$(mkuser dave)
E_TOKEN=$(mkuser erin)
F_TOKEN=$(mkuser frank)
ctl key generate sk --alg ECC_NIST_P256 >/dev/null || fatal "key generate sk"
ctl key generate sk2 --alg ECC_NIST_P256 >/dev/null || fatal "key generate sk2"
# dcw's own key: a key's strictest policy applies to all its uses (DESIGN §5), and dc1 guards sk.
ctl key generate skw --alg ECC_NIST_P256 >/dev/null || fatal "key generate skw"
ctl key generate ek --alg AES_256 >/dev/null || fatal "key generate ek"
MSG=$(printf 'firmware image 2.0' | base64)

# --- 1. UPDATE on USER does not reach the initial admin's token ------------------------------

check "alice gives carol UPDATE on RESOURCE_TYPE:USER" ctl acl add USER:carol RESOURCE_TYPE:USER UPDATE
expect_refusal "carol cannot renew the initial admin's token" denied as "$C_TOKEN" user token alice
check "... refused as the initial admin's own" grep -q "initial admin" "$TMP/err"
check "... and was given no token" test ! -s "$TMP/out"
expect_refusal "carol cannot revoke the initial admin's token either" denied as "$C_TOKEN" user revoke alice
check "alice's token still works after the refusals" whoami_is "$A_TOKEN0" alice
# A new token for someone else is their identity (enough to enroll their TOTP and approve as
# them): only the initial admin issues one, whatever USER rights others hold.
expect_refusal "carol cannot issue a token for bob (UPDATE on USER is not enough)" denied \
	as "$C_TOKEN" user token bob
check "... and bob's token still works" whoami_is "$B_TOKEN" bob
check "carol may still revoke bob's token" as "$C_TOKEN" user revoke bob
expect_refusal "... after which bob's token is refused" unauthenticated as "$B_TOKEN" whoami
ctl --json user token bob >"$TMP/out" 2>"$TMP/err" || not_ok "alice issues bob a token ($(cat "$TMP/err"))"
B_TOKEN1=$(json .token || true)
check "alice issues bob a token: the new one works" whoami_is "$B_TOKEN1" bob
B_TOKEN=$B_TOKEN1
ctl --json user token alice >"$TMP/out" 2>"$TMP/err" || not_ok "alice renews her own token ($(cat "$TMP/err"))"
A_TOKEN1=$(json .token || true)
check "alice renews her own token: the new one works" whoami_is "$A_TOKEN1" alice
expect_refusal "... and her old one is refused" unauthenticated as "$A_TOKEN0" whoami
[ -n "$A_TOKEN1" ] && SIGNET_TOKEN=$A_TOKEN1

# --- 2. Groups given by user create need CREATE on the ACL -----------------------------------

check "alice gives frank CREATE on RESOURCE_TYPE:USER" ctl acl add USER:frank RESOURCE_TYPE:USER CREATE
expect_refusal "frank cannot create a user in a group" denied as "$F_TOKEN" user create gina --group release
expect_refusal "... nor in two groups" denied as "$F_TOKEN" user create gina --group dev --group release
expect_refusal "the refused user was not stored" not_found ctl user show gina
check "frank creates gina without groups" as "$F_TOKEN" user create gina
ctl --json user show gina >"$TMP/out"
check "gina is in no group" test "$(json '.groups | length')" = 0
check "alice gives frank CREATE on RESOURCE_TYPE:ACL" ctl acl add USER:frank RESOURCE_TYPE:ACL CREATE
check "frank now creates hank in group release" as "$F_TOKEN" user create hank --group release
ctl --json user show hank >"$TMP/out"
check "hank is in group release" test "$(json '.groups | join(",")')" = release

# --- 3. Changing a device configuration ------------------------------------------------------

ctl --json devconf create dc1 --sign-key sk --encrypt-key ek --four-eyes on >"$TMP/out" || fatal "devconf create dc1"
DC1=$(json .id)
check "alice gives bob UPDATE on dc1" ctl acl add USER:bob "DEVICE_CONFIG:$DC1" UPDATE
check "alice gives bob USE on dc1" ctl acl add USER:bob "DEVICE_CONFIG:$DC1" USE
check "bob renames dc1" as "$B_TOKEN" devconf update "$DC1" --name x
check "... and the name is x" test "$(ctl --json devconf show "$DC1" | jq -r .name)" = x
S0=$(dc_state "$DC1")
check "dc1 holds four-eyes, sign key sk and no subjects before bob's attempts" \
	test "$(printf '%s' "$S0" | jq -c '[.approval.fourEyes, .signingKeys, .subjects.USE]')" = '[true,["sk"],[]]'
expect_refusal "bob cannot bind another signing key to dc1" denied \
	as "$B_TOKEN" devconf update "$DC1" --sign-key sk2
expect_refusal "bob cannot turn four-eyes off on dc1" denied \
	as "$B_TOKEN" devconf update "$DC1" --four-eyes off
expect_refusal "bob cannot change dc1's cipher" denied \
	as "$B_TOKEN" devconf update "$DC1" --cipher AES256_CBC_ZERO_BYTE_PAD
expect_refusal "bob cannot name users of dc1" denied \
	as "$B_TOKEN" devconf update "$DC1" --user USER:bob
expect_refusal "bob cannot slip a change in beside a rename" denied \
	as "$B_TOKEN" devconf update "$DC1" --name y --four-eyes off
# Each right on its own is not enough either.
check "alice gives bob UPDATE on RESOURCE_TYPE:KEY" ctl acl add USER:bob RESOURCE_TYPE:KEY UPDATE
expect_refusal "with UPDATE on KEY but not on DEVICE_CONFIG bob still cannot rebind dc1's keys" denied \
	as "$B_TOKEN" devconf update "$DC1" --sign-key sk2
check "alice gives bob CREATE on RESOURCE_TYPE:ACL" ctl acl add USER:bob RESOURCE_TYPE:ACL CREATE
expect_refusal "with CREATE but not DELETE on the ACL bob still cannot replace dc1's users" denied \
	as "$B_TOKEN" devconf update "$DC1" --user USER:bob
check "dc1 is unchanged by the refused updates" test "$(dc_state "$DC1")" = "$S0"
check "bob holds no rule on dc1 beyond the two he was given" \
	test "$(rules_with ".subject==\"USER:bob\" and .resource==\"DEVICE_CONFIG:$DC1\"")" = 2
check "alice removes bob's UPDATE on KEY" ctl acl remove USER:bob RESOURCE_TYPE:KEY UPDATE
check "alice removes bob's CREATE on ACL" ctl acl remove USER:bob RESOURCE_TYPE:ACL CREATE

n_dc=$(ctl --json devconf list | jq '.deviceConfigs | length')
check "alice gives erin CREATE on RESOURCE_TYPE:DEVICE_CONFIG" \
	ctl acl add USER:erin RESOURCE_TYPE:DEVICE_CONFIG CREATE
expect_refusal "erin without UPDATE on KEY cannot create a device config bound to sk" denied \
	as "$E_TOKEN" devconf create dce --sign-key sk
check "alice gives erin UPDATE on RESOURCE_TYPE:KEY" ctl acl add USER:erin RESOURCE_TYPE:KEY UPDATE
expect_refusal "erin without CREATE on ACL cannot name users of a new device config" denied \
	as "$E_TOKEN" devconf create dce --sign-key sk --user USER:erin
check "no device config was created by the refusals" \
	test "$(ctl --json devconf list | jq '.deviceConfigs | length')" = "$n_dc"
check "erin now creates dce without users" as "$E_TOKEN" devconf create dce --sign-key sk
check "... which is the one new device config" \
	test "$(ctl --json devconf list | jq '[.deviceConfigs[] | select(.name == "dce")] | length')/$(ctl --json devconf list | jq '.deviceConfigs | length')" = "1/$((n_dc + 1))"

# --- 4. An input that changes size after its encryption task was acknowledged ----------------
# Four-eyes off: the input is read in place when the task runs. The one engine thread is held in
# the token (the fault module's hold-encrypt) by a first task, so that the two tasks below are
# still queued when their files change; it is let go once they have changed.

head -c 32 /dev/urandom >"$TMP/aes.raw"
KHEX=$(od -An -tx1 -v "$TMP/aes.raw" | tr -d ' \n')
check "import the AES_256 key ek2" ctl key import ek2 --alg AES_256 --file "$TMP/aes.raw"
ctl --json devconf create dcenc --encrypt-key ek2 --four-eyes off >"$TMP/out" || fatal "devconf create dcenc"
DCE=$(json .id)
ORIG=$((32 << 20))
head -c 4096 /dev/urandom >"$TMP/busy.bin"
head -c "$ORIG" /dev/urandom >"$TMP/grow.bin"
cp "$TMP/grow.bin" "$TMP/grow.orig"
head -c "$ORIG" /dev/urandom >"$TMP/shrink.bin"
: >"$TMP/faults/hold-encrypt"
ctl --json task encrypt --devconf "$DCE" --file "$TMP/busy.bin" --name busy >"$TMP/out" ||
	fatal "task encrypt busy"
TBUSY=$(json .id)
wait_held "$TMP/faults"
ctl --json task encrypt --devconf "$DCE" --file "$TMP/grow.bin" --name grow >"$TMP/out" ||
	fatal "task encrypt grow"
TG=$(json .id)
truncate -s +64M "$TMP/grow.bin"
ctl --json task encrypt --devconf "$DCE" --file "$TMP/shrink.bin" --name shrink >"$TMP/out" ||
	fatal "task encrypt shrink"
TS=$(json .id)
truncate -s 16M "$TMP/shrink.bin"
ctl --json task show "$TG" >"$TMP/out"
sg=$(json .status)
check "the grown file's task records its size at submission" test "$(json '.inputs[0].size')" = "$ORIG"
ss=$(ctl --json task show "$TS" | jq -r .status)
check "both tasks were still queued when their files changed ($sg, $ss)" test "$sg/$ss" = CREATED/CREATED
rm -f "$TMP/faults/hold-encrypt"

ctl --json task wait "$TG" --timeout 300 >"$TMP/out" 2>/dev/null || true
gst=$(json .status || echo missing)
say "# the grown file's task: $gst $(json '.reason // empty' 2>/dev/null || true)"
check "the grown file's task ends DONE, or FAILED because the size changed" \
	sh -c "[ '$gst' = DONE ] || { [ '$gst' = FAILED ] && jq -er .reason '$TMP/out' | grep -q 'changed size'; }"
check "its input size stays the size at submission" test "$(json '.inputs[0].size')" = "$ORIG"
if [ "$gst" = DONE ]; then
	check "its result is no larger than the original plus IV and padding" \
		test "$(json .result.size)" -le $((ORIG + 32))
	check "the result downloads" ctl task download "$TG" -o "$TMP/grow.enc"
	check "the download is no larger than the original plus IV and padding" \
		test "$(wc -c <"$TMP/grow.enc")" -le $((ORIG + 32))
	# The IV follows the ciphertext.
	IV=$(tail -c 16 "$TMP/grow.enc" | od -An -tx1 -v | tr -d ' \n')
	head -c $(($(wc -c <"$TMP/grow.enc") - 16)) "$TMP/grow.enc" >"$TMP/grow.ct"
	openssl enc -d -aes-256-cbc -K "$KHEX" -iv "$IV" -in "$TMP/grow.ct" -out "$TMP/grow.dec" 2>/dev/null ||
		not_ok "openssl could not decrypt the result"
	check "the result decrypts to the file as it was at submission" cmp -s "$TMP/grow.dec" "$TMP/grow.orig"
else
	check "no result was kept" test ! -e "$STATE/spool/out/$TG"
fi

ctl --json task wait "$TS" --timeout 300 >"$TMP/out" 2>/dev/null || true
check "the shrunk file's task ends FAILED" test "$(json .status)" = FAILED
check "... because the input changed size" sh -c "jq -er .reason '$TMP/out' | grep -q 'changed size'"
check "... with no result kept" test ! -e "$STATE/spool/out/$TS"
ctl --json task wait "$TBUSY" --timeout 300 >"$TMP/out" 2>/dev/null || true
check "the long task ends DONE" test "$(json .status)" = DONE

# --- 5. A revoked user's event watch ends ------------------------------------------------------

ctl --json devconf create dcw --sign-key skw --four-eyes off >"$TMP/out" || fatal "devconf create dcw"
DCW=$(json .id)
check "alice gives dave VIEW on dcw" ctl acl add USER:dave "DEVICE_CONFIG:$DCW" VIEW
ctl --json task sign --devconf "$DCW" --input-base64 "$MSG" >"$TMP/out" || fatal "task sign 1"
TW1=$(json .id)
as "$D_TOKEN" events watch --since 0 >"$TMP/ev" 2>"$TMP/ev.err" &
WPID=$!
n=0
# Until the watcher shows it (60 s only bounds a test gone wrong; how fast is no test's business).
while [ "$(jq -s "[.[] | select(.task == \"$TW1\" and .status == \"DONE\")] | length" "$TMP/ev" 2>/dev/null)" != 1 ] &&
	[ $n -lt 600 ]; do
	sleep 0.1
	n=$((n + 1))
done
check "dave's watcher shows alice's task on dcw" \
	test "$(jq -s "[.[] | select(.task == \"$TW1\" and .status == \"DONE\")] | length" "$TMP/ev")" = 1
check "dave's watcher is still running before the revocation" kill -0 "$WPID"
check "alice revokes dave" ctl user revoke dave
ctl --json task sign --devconf "$DCW" --input-base64 "$MSG" >"$TMP/out" || not_ok "task sign 2"
TW2=$(json .id || echo none)
if wait_pid "$WPID" 60; then
	wrc=0
	wait "$WPID" || wrc=$?
	check "the watcher ended with exit status 1 after the new task" test "$wrc" = 1
	check "... saying unauthenticated" grep -q unauthenticated "$TMP/ev.err"
else
	kill "$WPID" 2>/dev/null || true
	wait "$WPID" 2>/dev/null || true
	not_ok "the revoked user's watcher was still running 60 s after the new task"
fi
check "the watcher printed none of the new task's events" \
	test "$(jq -s "[.[] | select(.task == \"$TW2\")] | length" "$TMP/ev")" = 0
ctl --json task wait "$TW2" --timeout 20 >"$TMP/out" 2>/dev/null || true
check "the new task itself ended DONE" test "$(json .status)" = DONE
expect_refusal "dave's revoked token is refused for a new watch" unauthenticated \
	as "$D_TOKEN" events watch --since 0 --timeout 1

check "stop at the end" stop_daemon
