#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A full disk (issue 15), on small tmpfs mounts: the spool alone, then the whole state directory.
# Every refusal says no_space (never internal, never the token); reads are refused rather than
# answered without their audit entry; cancel, reject and result expiry still commit (the store's
# reserve); once space is freed new tasks succeed, the audit chain verifies and the store is
# intact (mdb_stat). Needs root to mount; skipped (77) otherwise.
. "$TESTLIB"

MOUNTS=
# The harness's cleanup, after the daemon is stopped and the mounts are gone.
t18_cleanup() {
	_rc=$?
	set +e
	stop_daemon || _rc=1
	for _m in $MOUNTS; do
		umount "$_m" 2>/dev/null || umount -l "$_m"
	done
	(exit $_rc)
	cleanup
}
trap t18_cleanup EXIT

# mnt DIR SIZE: a tmpfs of SIZE on DIR, the daemon's.
mnt() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" || return 1
	MOUNTS="$1 $MOUNTS"
	for_daemon "$1"
}
if [ "$(id -u)" -ne 0 ] || ! command -v mdb_stat >/dev/null || ! mnt "$TMP/probe" 1m; then
	say "SKIP: needs root, mount and mdb_stat"
	exit 77
fi

as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "${DSOCK:-$SOCK}" --token "$_tok" "$@"
}
# fill DIR: write zeros to DIR/filler until its filesystem has no space left.
fill() { head -c 256M /dev/zero >>"$1/filler" 2>/dev/null || true; }
# refused_no_space DESCRIPTION COMMAND...: refused with no_space, nothing on stdout.
refused_no_space() {
	_d=$1
	shift
	expect_refusal "$_d" no_space "$@"
	if [ -s "$TMP/out" ]; then
		not_ok "$_d: nothing is answered ($(head -c 200 "$TMP/out"))"
	fi
}
# task_field ID JQ: a field of a task, as alice sees it.
task_field() { ctl --json task show "$1" | jq -r "$2"; }
# setup: tenant acme (alice), bob (requester), carol (approver), keys and device configurations.
setup() {
	ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create"
	SIGNET_TOKEN=$(json .token)
	export SIGNET_TOKEN
	ctl --json user create bob >"$TMP/out" || fatal "user create bob"
	B_TOKEN=$(json .token)
	ctl --json user create carol >"$TMP/out" || fatal "user create carol"
	C_TOKEN=$(json .token)
	ctl key generate sk --alg ECC_NIST_P256 >/dev/null || fatal "key generate sk"
	ctl key generate ed --alg ED25519 >/dev/null || fatal "key generate ed"
	# dcw's own key: a key's strictest policy applies to all its uses (DESIGN §5).
	ctl key generate skw --alg ECC_NIST_P256 >/dev/null || fatal "key generate skw"
	ctl key generate ek --alg AES_256 >/dev/null || fatal "key generate ek"
	# dcw: everything waits for carol; dce: encryption at once; dcs: signing at once.
	ctl --json devconf create dcw --sign-key skw --encrypt-key ek --four-eyes on \
		--second-factor NONE --user USER:bob --approver USER:carol >"$TMP/out" ||
		fatal "devconf create dcw"
	DCW=$(json .id)
	ctl --json devconf create dce --sign-key sk --encrypt-key ek --four-eyes off \
		--user USER:bob >"$TMP/out" || fatal "devconf create dce"
	DCE=$(json .id)
	ctl --json devconf create dcs --sign-key sk --four-eyes off --user USER:bob >"$TMP/out" ||
		fatal "devconf create dcs"
	DCS=$(json .id)
	ctl --json devconf create dced --sign-key ed --four-eyes on --second-factor NONE \
		--user USER:bob --approver USER:carol >"$TMP/out" || fatal "devconf create dced"
	DCED=$(json .id)
}
# new_task ARGS...: bob creates a task; its id.
new_task() {
	as "$B_TOKEN" --json task "$@" >"$TMP/out" || fatal "task $*"
	json .id
}

MSG=$(printf 'firmware image 15' | base64)
head -c 65536 /dev/urandom >"$TMP/in.bin"
# No spool reserve ([tasks] spool_reserve_mb, t23): here the disk itself is full.
printf '[tasks]\ncapability_grace = 1\nspool_reserve_mb = 0\n' >"$TMP/a.conf"
printf '[store]\nreserve_mb = 1\n[tasks]\ncapability_grace = 1\nresult_ttl = 10\nspool_reserve_mb = 0\n' >"$TMP/b.conf"

# --- 1. The spool alone is full --------------------------------------------------------------

init_state
mnt "$STATE/spool" 1m || fatal "mount the spool"
mkdir -m 700 "$STATE/spool/in" "$STATE/spool/out" "$STATE/spool/tmp"
for_daemon "$STATE/spool"
start_daemon --config "$TMP/a.conf"
setup
WA=$(new_task sign --devconf "$DCW" --input-base64 "$MSG")
fill "$STATE/spool"

refused_no_space "spool full: an input that must be copied to the spool is refused with no_space" \
	as "$B_TOKEN" task encrypt --devconf "$DCW" --file "$TMP/in.bin"
check "... with a message that names the lack of space" grep -q "no space left in the spool" "$TMP/err"
refused_no_space "spool full: an Ed25519 message kept for approval is refused with no_space" \
	as "$B_TOKEN" task sign --devconf "$DCED" --input-base64 "$MSG"
TA=$(new_task encrypt --devconf "$DCE" --file "$TMP/in.bin")
as "$B_TOKEN" --json task wait "$TA" --timeout 20 >"$TMP/out" 2>/dev/null || true
check "spool full: an encryption whose result cannot be written ends FAILED with reason no_space" \
	test "$(json '.status + " " + (.reason | split(":")[0])')" = "FAILED no_space"
check "... and its reason does not blame the token" sh -c "! jq -e '.reason | test(\"token\")' '$TMP/out'"
check "spool full: reads are answered (the state directory has room for their audit entries)" \
	as "$B_TOKEN" task list
ctl --json status >"$TMP/out" || fatal "status"
check "status shows the spool's use and its filesystem's free space" \
	test "$(json '"\(.spool.files >= 0) \(.spool.used >= 0) \(.spool.fsFree) \(.spool.fsSize > 0)"')" = "true true 0 true"
check "status: the store is not full" test "$(json .store.full)" = false
check "spool full: cancel works" as "$B_TOKEN" task cancel "$WA"
rm -f "$STATE/spool/filler"
TA2=$(new_task encrypt --devconf "$DCE" --file "$TMP/in.bin")
check "spool freed: an encryption ends DONE" as "$B_TOKEN" task wait "$TA2" --timeout 20
check "spool freed: its result downloads" as "$B_TOKEN" task download "$TA2" -o "$TMP/a.out"
check "spool freed: an input is copied to the spool again" \
	as "$B_TOKEN" task encrypt --devconf "$DCW" --file "$TMP/in.bin"
stop_daemon || not_ok "signetd stopped cleanly after the full spool"

# --- 2. The whole state directory is full ----------------------------------------------------

# E1's result expires (result_ttl) while the disk is full, after the refusals are checked.
mnt "$TMP/full" 8m || fatal "mount the state directory"
STATE=$TMP/full/state
SOCK=$STATE/signetd.sock
init_state
start_daemon --config "$TMP/b.conf"
setup
W1=$(new_task sign --devconf "$DCW" --input-base64 "$MSG")
W2=$(new_task sign --devconf "$DCW" --input-base64 "$MSG")
W3=$(new_task encrypt --devconf "$DCW" --file "$TMP/in.bin")
E1=$(new_task encrypt --devconf "$DCE" --file "$TMP/in.bin")
as "$B_TOKEN" task wait "$E1" --timeout 20 >/dev/null || fatal "encryption E1"
check "W3's input is in the spool and E1's result too" \
	test -f "$STATE/spool/in/$W3.0" -a -f "$STATE/spool/out/$E1"
fill "$TMP/full"

refused_no_space "state full: a signing task is refused with no_space" \
	as "$B_TOKEN" task sign --devconf "$DCS" --input-base64 "$MSG"
refused_no_space "state full: an encryption task is refused with no_space" \
	as "$B_TOKEN" task encrypt --devconf "$DCE" --file "$TMP/in.bin"
refused_no_space "state full: task list is refused, not answered without its audit entry" \
	as "$B_TOKEN" task list
refused_no_space "state full: task show is refused" as "$B_TOKEN" task show "$W1"
refused_no_space "state full: audit list is refused" ctl audit list
refused_no_space "state full: whoami is refused" as "$C_TOKEN" whoami
check "... and the message says why" grep -q "audit entry" "$TMP/err"
refused_no_space "state full: a download is refused" as "$B_TOKEN" task download "$E1" -o "$TMP/e1.out"
refused_no_space "state full: an approval (which frees nothing) is refused" \
	as "$C_TOKEN" task approve "$W2"
ctl --json status >"$TMP/out" 2>"$TMP/err"
check "state full: status still answers" test -s "$TMP/out"
check "status says the store is full and shows its use, reserve and free space" \
	test "$(json '"\(.store.full) \(.store.reserve) \(.store.used > 0) \(.store.fileSize >= .store.used) \(.store.fsFree)"')" = "true 1048576 true true 0"
ctl status >"$TMP/status.txt" 2>&1
check "signetctl status prints the store, the spool and the FULL line" \
	sh -c "grep -q '^store: ' '$TMP/status.txt' && grep -q '^spool: ' '$TMP/status.txt' && grep -q '^FULL: ' '$TMP/status.txt'"

as "$B_TOKEN" --json task cancel "$W1" >"$TMP/out" 2>"$TMP/err"
check "state full: the requester's cancel commits" test "$(json .status)" = CANCELED
as "$C_TOKEN" --json task reject "$W2" --reason "disk full" >"$TMP/out" 2>"$TMP/err"
check "state full: the approver's reject commits" test "$(json .status)" = REJECTED
refused_no_space "state full: reads are still refused after them (they used the reserve)" \
	as "$B_TOKEN" task show "$W1"
as "$B_TOKEN" --json task cancel "$W3" >"$TMP/out" 2>"$TMP/err"
check "state full: cancel of a task with a spooled input commits" test "$(json .status)" = CANCELED
check "... and its input leaves the spool" test ! -e "$STATE/spool/in/$W3.0"
fill "$TMP/full"
i=0
while [ -e "$STATE/spool/out/$E1" ] && [ $i -lt 150 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "state full: the expiry sweep removes an expired result" test ! -e "$STATE/spool/out/$E1"
check "signetd is still running" kill -0 "$DPID"

rm -f "$TMP/full/filler"
as "$B_TOKEN" --json task sign --devconf "$DCS" --input-base64 "$MSG" >"$TMP/out" 2>"$TMP/err"
check "space freed: a new signing task ends DONE" test "$(json .status)" = DONE
TB=$(new_task encrypt --devconf "$DCE" --file "$TMP/in.bin")
check "space freed: a new encryption task ends DONE" as "$B_TOKEN" task wait "$TB" --timeout 20
check "space freed: its result downloads" as "$B_TOKEN" task download "$TB" -o "$TMP/b.out"
check "space freed: status says the store is no longer full" \
	test "$(ctl --json status | jq .store.full)" = false
check "space freed: W1 is CANCELED, W2 REJECTED, W3 CANCELED" \
	test "$(task_field "$W1" .status) $(task_field "$W2" .status) $(task_field "$W3" .status)" = "CANCELED REJECTED CANCELED"
check "space freed: E1's result is marked expired" test "$(task_field "$E1" .result.available)" = false
ctl --json audit list --limit 1000 >"$TMP/out" || fatal "audit list"
check "the chain holds the CANCELED, REJECTED and EXPIRED entries written while full" \
	test "$(json "[.entries[] | select(.verb==\"CANCELED\" or .verb==\"REJECTED\" or (.verb==\"EXPIRED\" and .resource==\"TASK:$E1\"))] | length")" = 4
check "the refused reads of W1 left no entry: only the one answered after" \
	test "$(json "[.entries[] | select(.verb==\"VIEWED\" and .resource==\"TASK:$W1\")] | length")" = 1
check "audit verify passes after the disk-full episode" ctl audit verify
check "audit verify passes for the appliance chain" ctl audit verify --chain '~appliance'
stop_daemon || not_ok "signetd stopped cleanly after the full disk"
check "the store is intact (mdb_stat reads every database)" mdb_stat -a "$STATE/db"
check "the store is intact (mdb_stat -f: the free list)" mdb_stat -f "$STATE/db"
