#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Spool quotas and the reserve (issue 14, item 3), the spool on a small tmpfs: one user, then one
# tenant, fill their quotas with waiting encryptions; every further spool write of theirs
# (a copy, an Ed25519 message kept for approval, a package file, the room of a result) is refused
# with quota_exceeded before a byte is written (the spool, status and whoami unchanged), while
# another tenant's writes go on. Cancel, reject and expiry give the bytes back; a result counts
# against its requester until it expires. Writes that would eat into [tasks] spool_reserve_mb
# are refused with no_space. The sums survive kill -9 and stay those of the task records.
# Needs root to mount; skipped (77) otherwise.
. "$TESTLIB"

MOUNTS=
t23_cleanup() {
	_rc=$?
	set +e
	stop_daemon || _rc=1
	for _m in $MOUNTS; do
		umount "$_m" 2>/dev/null || umount -l "$_m"
	done
	(exit $_rc)
	cleanup
}
trap t23_cleanup EXIT

# mnt DIR SIZE: a tmpfs of SIZE on DIR, the daemon's.
mnt() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" || return 1
	MOUNTS="$1 $MOUNTS"
	for_daemon "$1"
}
if [ "$(id -u)" -ne 0 ] || ! mnt "$TMP/probe" 1m; then
	say "SKIP: needs root and mount"
	exit 77
fi

as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "$SOCK" --token "$_tok" "$@"
}
# new_task TOKEN ARGS...: a task made by TOKEN's user; its id.
new_task() {
	_tok=$1
	shift
	as "$_tok" --json task "$@" >"$TMP/out" || fatal "task $* ($(cat "$TMP/err" 2>/dev/null))"
	json .id
}
# used TOKEN [user|tenant]: bytes of the spool held by the token's user, or by its tenant.
used() { as "$1" --json whoami | jq -r ".spool.${2:-user}.used"; }
# spool_state: the spool's files and bytes as status and the directory see them.
spool_state() {
	ctl --json status | jq -r '"\(.spool.files) \(.spool.used)"'
	ls -A "$STATE/spool/in" "$STATE/spool/out" "$STATE/spool/tmp" | sort | tr '\n' ' '
}
# refused_quota DESCRIPTION PATTERN COMMAND...: quota_exceeded, its message matching PATTERN,
# and nothing written: the spool (files, bytes, status), the caller's use and the task count.
refused_quota() {
	_d=$1
	_pat=$2
	shift 2
	_before=$(spool_state)
	_ub=$(used "$B_TOKEN")
	_tb=$(used "$B_TOKEN" tenant)
	_nb=$(ctl --json task list --limit 1000 | jq '.tasks | length')
	expect_refusal "$_d" quota_exceeded "$@"
	check "... saying whose quota ($_pat)" grep -q "$_pat" "$TMP/err"
	check "... before a byte was written: the spool and status are as they were" \
		test "$(spool_state)" = "$_before"
	check "... and bob's and acme's use too, and no task was made" \
		test "$(used "$B_TOKEN") $(used "$B_TOKEN" tenant) $(ctl --json task list --limit 1000 | jq '.tasks | length')" = "$_ub $_tb $_nb"
}

# An AES-256-CBC result of N bytes (a multiple of 16) is N + 16 (padding) + 16 (IV): a task keeps
# room for its result of N + 32 bytes (the cipher's bound) besides its copy of N.
KIB=1024
MIB=1048576
printf '[tasks]\nspool_quota_user_mb = 3\nspool_quota_tenant_mb = 4\nspool_reserve_mb = 1\nresult_ttl = 8\ncapability_grace = 1\n' \
	>"$TMP/d.conf"
init_state
mnt "$STATE/spool" 12m || fatal "mount the spool"
mkdir -m 700 "$STATE/spool/in" "$STATE/spool/out" "$STATE/spool/tmp"
for_daemon "$STATE/spool"
start_daemon --config "$TMP/d.conf"

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
SIGNET_TOKEN=$(json .token)
export SIGNET_TOKEN
ctl --json user create bob >"$TMP/out" || fatal "user create bob"
B_TOKEN=$(json .token)
ctl --json user create erin >"$TMP/out" || fatal "user create erin"
E_TOKEN=$(json .token)
ctl --json user create carol >"$TMP/out" || fatal "user create carol"
C_TOKEN=$(json .token)
ctl key generate sk --alg ECC_NIST_P256 >/dev/null || fatal "key generate sk"
ctl key generate ed --alg ED25519 >/dev/null || fatal "key generate ed"
ctl key generate ek --alg AES_256 >/dev/null || fatal "key generate ek"
ctl key generate pk --alg ECC_NIST_P256 >/dev/null || fatal "key generate pk"
# dcw: everything waits for carol; dce: encryption at once; dced: Ed25519, waits; dcp: packages
# with the packaging key pk (one key, one purpose), waits.
ctl --json devconf create dcw --sign-key sk --encrypt-key ek --four-eyes on --second-factor NONE \
	--user USER:bob --user USER:erin --approver USER:carol >"$TMP/out" || fatal "devconf dcw"
DCW=$(json .id)
ctl --json devconf create dce --encrypt-key ek --four-eyes off --user USER:bob >"$TMP/out" ||
	fatal "devconf dce"
DCE=$(json .id)
ctl --json devconf create dced --sign-key ed --four-eyes on --second-factor NONE \
	--user USER:bob --approver USER:carol >"$TMP/out" || fatal "devconf dced"
DCED=$(json .id)
ctl --json devconf create dcp --package-key pk --encrypt-key ek --four-eyes on --second-factor NONE \
	--user USER:bob --approver USER:carol >"$TMP/out" || fatal "devconf dcp"
DCP=$(json .id)
ctl --json tenant create other --admin olga >"$TMP/out" || fatal "tenant create other"
O_TOKEN=$(json .token)
as "$O_TOKEN" key generate ok --alg AES_256 >/dev/null || fatal "key generate ok"
as "$O_TOKEN" --json devconf create dco --encrypt-key ok --four-eyes on --second-factor NONE \
	>"$TMP/out" || fatal "devconf dco"
DCO=$(json .id)
as "$O_TOKEN" --json devconf create dco2 --encrypt-key ok --four-eyes off >"$TMP/out" ||
	fatal "devconf dco2"
DCO2=$(json .id)

for n in 300 512 1024 1280; do
	head -c $((n * KIB)) /dev/urandom >"$TMP/in$n.bin"
done

as "$B_TOKEN" --json whoami >"$TMP/out"
check "whoami shows bob's and acme's spool use and quotas" \
	test "$(json '"\(.spool.user.used) \(.spool.user.quota) \(.spool.tenant.used) \(.spool.tenant.quota)"')" = "0 $((3 * MIB)) 0 $((4 * MIB))"
ctl --json status >"$TMP/out"
check "status shows the spool's reserve and that nothing is claimed" \
	test "$(json '"\(.spool.reserve) \(.spool.claimed)"')" = "$MIB 0"

# --- 1. One user fills the quota ---------------------------------------------------------------
W1=$(new_task "$B_TOKEN" encrypt --devconf "$DCW" --file "$TMP/in1280.bin")
check "a waiting encryption (1.25 MiB, copied by an ingest thread) counts its copy and its result's room" \
	test "$(used "$B_TOKEN")" = $((2560 * KIB + 32))
check "... its copy is in the spool" test -f "$STATE/spool/in/$W1.0"
refused_quota "bob's next copy would pass his quota: refused" "USER:bob" \
	as "$B_TOKEN" task encrypt --devconf "$DCW" --file "$TMP/in300.bin"
check "... naming the setting" grep -q "spool_quota_user_mb" "$TMP/err"
refused_quota "an Ed25519 message kept for approval counts: refused" "USER:bob" \
	as "$B_TOKEN" task sign --devconf "$DCED" --file "$TMP/in512.bin"
refused_quota "a package's file (the room of its encrypted segments) counts: refused" "USER:bob" \
	as "$B_TOKEN" task package --devconf "$DCP" --firmware "$TMP/in300.bin" --firmware "$TMP/in300.bin"
refused_quota "the room of a result counts, even for an input read in place: refused" "USER:bob" \
	as "$B_TOKEN" task encrypt --devconf "$DCE" --file "$TMP/in512.bin"
refused_quota "a copy an ingest thread would make is refused before it is queued" "USER:bob" \
	as "$B_TOKEN" task encrypt --devconf "$DCW" --file "$TMP/in1280.bin"

# --- 2. The tenant's quota, shared by its users -------------------------------------------------
E1=$(new_task "$E_TOKEN" encrypt --devconf "$DCW" --file "$TMP/in300.bin")
check "erin's task counts for her and for acme" \
	test "$(used "$E_TOKEN") $(used "$E_TOKEN" tenant)" = "$((600 * KIB + 32)) $((3160 * KIB + 64))"
refused_quota "erin's next copy would pass acme's quota: refused" "tenant acme" \
	as "$E_TOKEN" task encrypt --devconf "$DCW" --file "$TMP/in512.bin"
check "... naming the setting" grep -q "spool_quota_tenant_mb" "$TMP/err"

# --- 3. kill -9: the sums are those of the records ---------------------------------------------
UB=$(used "$B_TOKEN")
UE=$(used "$E_TOKEN")
UT=$(used "$B_TOKEN" tenant)
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null || true
DPID=
# What a crash between a claim and its record leaves: a partial copy that no record names.
ORPHAN=$STATE/spool/in/01a2aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee.0
head -c 4096 /dev/zero >"$ORPHAN"
for_daemon "$ORPHAN"
start_daemon --config "$TMP/d.conf"
check "after kill -9 the use of bob, erin and acme is what it was" \
	test "$(used "$B_TOKEN") $(used "$E_TOKEN") $(used "$B_TOKEN" tenant)" = "$UB $UE $UT"
check "... the partial copy is gone" test ! -e "$ORPHAN"
check "... and nothing is claimed" test "$(ctl --json status | jq .spool.claimed)" = 0

# --- 4. Another tenant is not affected by acme's full quota ------------------------------------
O1=$(new_task "$O_TOKEN" encrypt --devconf "$DCO" --file "$TMP/in1280.bin")
check "another tenant's copy is taken" \
	test "$(as "$O_TOKEN" --json task show "$O1" | jq -r .status)" = WAITING
O2=$(new_task "$O_TOKEN" encrypt --devconf "$DCO2" --file "$TMP/in300.bin")
check "another tenant's encryption runs and ends DONE" as "$O_TOKEN" task wait "$O2" --timeout 30
check "... its result downloads" as "$O_TOKEN" task download "$O2" -o "$TMP/o2.enc"
uo=$(used "$O_TOKEN" tenant)
check "its use is its own: its copy and room, and its result while kept ($uo)" \
	sh -c "[ $uo = $((2560 * KIB + 32 + 300 * KIB + 32)) ] || [ $uo = $((2560 * KIB + 32)) ]"
check "... acme's is unchanged" test "$(used "$B_TOKEN" tenant)" = "$UT"

# --- 5. Bytes come back: cancel, reject, the end of a task, expiry ------------------------------
check "bob cancels W1" as "$B_TOKEN" task cancel "$W1"
check "... bob holds nothing now" test "$(used "$B_TOKEN")" = 0
check "... and its copy left the spool" test ! -e "$STATE/spool/in/$W1.0"
check "carol rejects E1" as "$C_TOKEN" task reject "$E1" --reason "quota test"
check "... erin and acme hold nothing now" test "$(used "$E_TOKEN") $(used "$E_TOKEN" tenant)" = "0 0"
# A package copies no input: it holds its package file, counted at its bound from the request on
# (header 16 + 36, the segment 300 KiB + 16 + 16, the signature's 1024).
P1=$(new_task "$B_TOKEN" package --devconf "$DCP" --firmware "$TMP/in300.bin")
check "a waiting package counts its package file's bound for bob and acme" \
	test "$(used "$B_TOKEN") $(used "$B_TOKEN" tenant)" = "$((300 * KIB + 1108)) $((300 * KIB + 1108))"
check "... the package file is in the spool, and no copy of its input" \
	sh -c "test -f '$STATE/spool/in/$P1.pkg' && test ! -e '$STATE/spool/in/$P1.0'"
check "carol rejects P1" as "$C_TOKEN" task reject "$P1" --reason "quota test"
check "... bob and acme hold nothing now" test "$(used "$B_TOKEN") $(used "$B_TOKEN" tenant)" = "0 0"
check "... and its package file left the spool" test ! -e "$STATE/spool/in/$P1.pkg"
T1=$(new_task "$B_TOKEN" encrypt --devconf "$DCE" --file "$TMP/in1024.bin")
as "$B_TOKEN" --json task wait "$T1" --timeout 30 >"$TMP/out" || fatal "task wait T1"
R1=$(json .result.size)
check "a task that ends DONE leaves its result counted against bob, at its size" \
	test "$(used "$B_TOKEN")" = "$R1"
check "... within the room it had" test "$R1" -le $((1024 * KIB + 32))
W3=$(new_task "$B_TOKEN" encrypt --devconf "$DCW" --file "$TMP/in300.bin")
check "carol approves W3" as "$C_TOKEN" task approve "$W3"
as "$B_TOKEN" --json task wait "$W3" --timeout 30 >"$TMP/out" || fatal "task wait W3"
R3=$(json .result.size)
u=$(used "$B_TOKEN")
check "an approved task's copy goes when it ends; its result stays counted ($u)" \
	sh -c "[ $u = $((R1 + R3)) ] || [ $u = $R3 ]"
i=0
while [ "$(used "$B_TOKEN")" != 0 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "once the results expire ([tasks] result_ttl) bob holds nothing" test "$(used "$B_TOKEN")" = 0
check "... and they are marked expired" \
	test "$(as "$B_TOKEN" --json task show "$T1" | jq -r .result.available)/$(as "$B_TOKEN" --json task show "$W3" | jq -r .result.available)" = false/false

# --- 6. The reserve: ordinary writes leave spool_reserve_mb free -------------------------------
# Fill the spool's filesystem until 1.25 MiB are free: less than the reserve plus a copy.
free_kib=$(df -k --output=avail "$STATE/spool" | tail -1 | tr -d ' ')
head -c $(((free_kib - 1280) * KIB)) /dev/zero >"$STATE/spool/filler" 2>/dev/null || true
before=$(spool_state)
expect_refusal "a copy that would eat into the reserve is refused with no_space" no_space \
	as "$B_TOKEN" task encrypt --devconf "$DCW" --file "$TMP/in512.bin"
check "... naming the reserve" grep -q "spool_reserve_mb" "$TMP/err"
check "... before a byte was written" test "$(spool_state)" = "$before"
check "a signing task that keeps nothing in the spool is still accepted" \
	as "$B_TOKEN" task sign --devconf "$DCW" --input-base64 "$(printf 'x' | base64)"
T2=$(new_task "$B_TOKEN" encrypt --devconf "$DCE" --file "$TMP/in300.bin")
check "an encryption read in place is accepted: its result, accepted work, may use the reserve" \
	as "$B_TOKEN" task wait "$T2" --timeout 30
rm -f "$STATE/spool/filler"
check "once space is freed, the copy is taken" \
	as "$B_TOKEN" task encrypt --devconf "$DCW" --file "$TMP/in512.bin"

stop_daemon || not_ok "signetd stopped cleanly"
