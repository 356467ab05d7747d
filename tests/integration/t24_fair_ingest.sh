#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fair work (issue 14, item 4): one user sends 8 sparse inputs of 4095 MiB to sign. Their hashing
# runs on the ingest threads, one at a time for that user, while the two request workers stay
# free: another tenant's whoami, its inline signing and its own large input are answered before
# the user's inputs are done; the user's inputs past 1 reading and 8 waiting are refused at once;
# a shutdown does not wait for the reads, and every attacking client gets an answer.
# Latencies are the benchmark's business (signet-bench, SIGNET_BENCH_ONLY=fairness): this test
# asserts who got an answer, not how fast.
. "$TESTLIB"

as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "$SOCK" --token "$_tok" "$@"
}
# tas TOKEN ARGS...: as, bounded in time (a wait beyond it is a failure, not a hang).
tas() {
	_tok=$1
	shift
	timeout 60 "$SIGNETCTL" --socket "$SOCK" --token "$_tok" "$@"
}
# ingest FIELD: a field of status's ingest object.
ingest() { ctl --json status | jq -r ".ingest.$1"; }

printf '[daemon]\nworkers = 2\n[tasks]\ningest_workers = 2\ningest_per_user = 1\ningest_per_tenant = 1\ncopy_inputs = 1\n' \
	>"$TMP/d.conf"
init_state
start_daemon --config "$TMP/d.conf"

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
A_TOKEN=$(json .token)
as "$A_TOKEN" --json user create bob >"$TMP/out" || fatal "user create bob"
B_TOKEN=$(json .token)
as "$A_TOKEN" key generate sk --alg ECC_NIST_P256 >/dev/null || fatal "key generate sk"
as "$A_TOKEN" --json devconf create dcs --sign-key sk --four-eyes off --user USER:bob \
	>"$TMP/out" || fatal "devconf create dcs"
DCS=$(json .id)
ctl --json tenant create other --admin olga >"$TMP/out" || fatal "tenant create other"
O_TOKEN=$(json .token)
as "$O_TOKEN" key generate ok --alg ECC_NIST_P256 >/dev/null || fatal "key generate ok"
as "$O_TOKEN" --json devconf create dco --sign-key ok --four-eyes off >"$TMP/out" ||
	fatal "devconf create dco"
DCO=$(json .id)

# --- a sparse input with data in it: holes are hashed and copied as zeros, never read ---------------
head -c 32 /dev/urandom >"$TMP/aes.raw"
KHEX=$(od -An -tx1 -v "$TMP/aes.raw" | tr -d ' \n')
ctl key import oek --alg AES_256 --file "$TMP/aes.raw" --token "$O_TOKEN" >/dev/null ||
	fatal "key import oek"
as "$O_TOKEN" --json devconf create dcoe --encrypt-key oek --four-eyes off >"$TMP/out" ||
	fatal "devconf create dcoe"
DCOE=$(json .id)
truncate -s $((3 << 20)) "$TMP/holey.bin"
dd if=/dev/urandom of="$TMP/holey.bin" bs=4096 count=25 seek=300 conv=notrunc 2>/dev/null
printf 'the end' >>"$TMP/holey.bin"
tas "$O_TOKEN" --json task sign --devconf "$DCO" --file "$TMP/holey.bin" >"$TMP/out" 2>"$TMP/err" || true
HID=$(json .id || echo none)
check "a sparse 3 MiB input with data is signed over its SHA-256" \
	test "$(as "$O_TOKEN" --json task show "$HID" | jq -r '.inputs[0].sha256')" = \
	"$(sha256sum "$TMP/holey.bin" | cut -d' ' -f1)"
tas "$O_TOKEN" --json task encrypt --devconf "$DCOE" --file "$TMP/holey.bin" >"$TMP/out" 2>"$TMP/err" || true
HID=$(json .id || echo none)
check "its copy ([tasks] copy_inputs = 1) is encrypted" tas "$O_TOKEN" task wait "$HID" --timeout 60
tas "$O_TOKEN" task download "$HID" -o "$TMP/holey.enc" >/dev/null 2>&1 || true
IV=$(tail -c 16 "$TMP/holey.enc" | od -An -tx1 -v | tr -d ' \n')
head -c $(($(wc -c <"$TMP/holey.enc") - 16)) "$TMP/holey.enc" >"$TMP/holey.ct"
openssl enc -d -aes-256-cbc -K "$KHEX" -iv "$IV" -in "$TMP/holey.ct" -out "$TMP/holey.dec" 2>/dev/null || true
check "... and decrypts to the file, holes and data" cmp -s "$TMP/holey.dec" "$TMP/holey.bin"
# A package of it: its segment is encrypted into the package file by an ingest thread, with a
# token session of its own, before the answer (a packaging key signs headers and nothing else).
as "$O_TOKEN" key generate opk --alg ECC_NIST_P256 >/dev/null || fatal "key generate opk"
as "$O_TOKEN" --json devconf create dcop --package-key opk --encrypt-key oek --four-eyes off \
	>"$TMP/out" || fatal "devconf create dcop"
DCOP=$(json .id)
tas "$O_TOKEN" --json task package --devconf "$DCOP" --firmware "$TMP/holey.bin" >"$TMP/out" 2>"$TMP/err" || true
HID=$(json .id || echo none)
check "a package of it is made and DONE" tas "$O_TOKEN" task wait "$HID" --timeout 60
as "$O_TOKEN" --json task show "$HID" >"$TMP/out" 2>/dev/null || true
SEGLEN=$(json '.packaging.segmentSizes[0]' || echo 0)
check "... over the file's digest" \
	test "$(json '.inputs[0].sha256')" = "$(sha256sum "$TMP/holey.bin" | cut -d' ' -f1)"
tas "$O_TOKEN" task download "$HID" -o "$TMP/holey.pkg" >/dev/null 2>&1 || true
# The header of one segment without metadata is 16 + 36 bytes; the segment is ciphertext, then IV.
tail -c +53 "$TMP/holey.pkg" | head -c "$SEGLEN" >"$TMP/holey.seg"
IV=$(tail -c 16 "$TMP/holey.seg" | od -An -tx1 -v | tr -d ' \n')
head -c $((SEGLEN - 16)) "$TMP/holey.seg" >"$TMP/holey.ct"
openssl enc -d -aes-256-cbc -K "$KHEX" -iv "$IV" -in "$TMP/holey.ct" -out "$TMP/holey.dec" 2>/dev/null || true
check "... and its segment decrypts to the file" cmp -s "$TMP/holey.dec" "$TMP/holey.bin"

check "status shows the ingest threads, idle" \
	test "$(ctl --json status | jq -c '[.ingest.threads, .ingest.running, .ingest.waiting]')" = '[2,0,0]'

# --- the attack: 8 sparse inputs of 4095 MiB ([tasks] max_input_mb) from bob ---------------------
PIDS=
for i in 1 2 3 4 5 6 7 8; do
	truncate -s 4095M "$TMP/sparse.$i"
	as "$B_TOKEN" --json task sign --devconf "$DCS" --file "$TMP/sparse.$i" \
		>"$TMP/attack.$i.out" 2>"$TMP/attack.$i.err" &
	PIDS="$PIDS $!"
done
# Until the daemon holds all 8 (one reading, seven waiting), or some are done already.
i=0
while [ $i -lt 300 ]; do
	ctl --json status >"$TMP/out"
	[ "$(json '.ingest.running + .ingest.waiting')" -ge 8 ] && break
	[ "$(cat "$TMP"/attack.*.out | grep -c '"id"')" -gt 0 ] && break
	sleep 0.1
	i=$((i + 1))
done
say "# ingest while attacked: $(jq -c .ingest "$TMP/out")"
check "bob's inputs are read one at a time ([tasks] ingest_per_user = 1), the rest wait" \
	test "$(json .ingest.running)" -le 1 -a "$(json .ingest.waiting)" -ge 1

# What another tenant relies on, answered while bob's inputs are still being read.
check "another tenant's whoami is answered" tas "$O_TOKEN" whoami
as "$O_TOKEN" --json task sign --devconf "$DCO" --input-base64 "$(printf 'small' | base64)" \
	>"$TMP/out" 2>"$TMP/err" || true
check "another tenant's inline signing task is answered DONE" test "$(json .status)" = DONE
head -c $((3 << 20)) /dev/urandom >"$TMP/olga.bin"
tas "$O_TOKEN" --json task sign --devconf "$DCO" --file "$TMP/olga.bin" \
	>"$TMP/out" 2>"$TMP/err" || true
check "another tenant's 3 MiB input is read on the other ingest thread and signed DONE" \
	test "$(json .status)" = DONE
OID=$(json .id || echo none)
check "... over the file's digest" \
	test "$(as "$O_TOKEN" --json task show "$OID" | jq -r '.inputs[0].sha256')" = \
	"$(sha256sum "$TMP/olga.bin" | cut -d' ' -f1)"
check "bob's own whoami is answered too" tas "$B_TOKEN" whoami
# Had bob's reads held the request workers, these answers would have come after most of his.
nb=$(cat "$TMP"/attack.*.out | grep -c '"id"' || true)
check "... before bob's inputs were done: at most 3 of his 8 answered by then ($nb)" test "$nb" -le 3
ctl --json status >"$TMP/out"
check "... all while bob's inputs are still waiting: nothing waited behind them" \
	test "$(json .ingest.waiting)" -ge 1
check "... and status is answered" test "$(json .ingest.threads)" = 2

# Past 1 reading and 8 waiting ([tasks] ingest_per_user, INGEST_WAIT_PER_USER), refused at once.
truncate -s 4095M "$TMP/sparse.9"
as "$B_TOKEN" --json task sign --devconf "$DCS" --file "$TMP/sparse.9" \
	>"$TMP/attack.9.out" 2>"$TMP/attack.9.err" &
PIDS="$PIDS $!"
i=0
while [ "$(ingest waiting)" -lt 8 ] && [ $i -lt 50 ] && ! grep -q . "$TMP/attack.1.out"; do
	sleep 0.1
	i=$((i + 1))
done
if [ "$(ingest waiting)" -ge 8 ]; then
	expect_refusal "bob's input past 8 waiting is refused with unavailable" unavailable \
		tas "$B_TOKEN" task sign --devconf "$DCS" --file "$TMP/sparse.1"
	check "... saying that too many of bob's inputs wait" grep -q "too many inputs of user bob" "$TMP/err"
else
	say "# skipped the refusal past 8 waiting: bob's first input was read already"
fi

# --- a shutdown does not wait for the reads --------------------------------------------------------
t0=$(date +%s)
check "signetd stops cleanly while bob's inputs are being read" stop_daemon
t1=$(date +%s)
check "... within 20 s (the reads end early; the drain timeout is 30 s)" test $((t1 - t0)) -le 20
n=0
for p in $PIDS; do
	wait "$p" || true
done
for i in 1 2 3 4 5 6 7 8 9; do
	# With --json, signetctl's errors are JSON on stderr.
	if grep -q '"id"' "$TMP/attack.$i.out" || grep -q '"code":"unavailable"' "$TMP/attack.$i.err"; then
		n=$((n + 1))
	fi
done
check "every attacking client got an answer: its task, or unavailable" test "$n" = 9
check "the daemon's log shows no crash" sh -c "! grep -Eq 'AddressSanitizer|signal [0-9]+|assert' '$LOG'"
