#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 under load loses nothing (issue 15): clients submit signing and encryption tasks while
# signetd is killed at a random instant, cycle after cycle, state on disk. At the end every
# acknowledged task is DONE or FAILED with a reason (none lost, none stuck), every DONE signature
# verifies with openssl over its input and every DONE encryption decrypts with openssl to its
# input, the spool holds no orphan file, the audit chain verifies and the token opens.
# SIGNET_KILL_CYCLES (default 12) sets the number of cycles; the closing comment gives the figures.
# shellcheck source=tests/integration/lib.sh
. "$TESTLIB"

CYCLES=${SIGNET_KILL_CYCLES:-12}
CLIENTS=4

ms() { r=$((RANDOM % $1)); printf '%d.%03d' $((r / 1000)) $((r % 1000)); }

init_state
printf '[tasks]\nworkers = 2\ncopy_inputs = 1\nresult_ttl = 86400\n' >"$TMP/d.conf"
start_daemon --config "$TMP/d.conf"
ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json key generate sk --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate"
json .publicKeyPem | sed '/^$/d' >"$TMP/sk.pub"
head -c 32 /dev/urandom >"$TMP/aes.raw"
KHEX=$(od -An -tx1 -v "$TMP/aes.raw" | tr -d ' \n')
ctl key import ek --alg AES_256 --file "$TMP/aes.raw" >/dev/null || fatal "key import"
ctl --json devconf create sign --sign-key sk --four-eyes off >"$TMP/out" || fatal "devconf sign"
DC_SIGN=$(json .id)
ctl --json devconf create enc --encrypt-key ek --four-eyes off >"$TMP/out" || fatal "devconf enc"
DC_ENC=$(json .id)
mkdir -p "$TMP/in"
for k in 0 1 2 3; do
	head -c $(((k + 1) * 700 * 1024 + k * 13)) /dev/urandom >"$TMP/in/f$k"
done
stop_daemon || fatal "first stop"

# client N: submit tasks until killed; each acknowledged one is "id type input" in acked.N.
client() {
	n=$1
	j=0
	while :; do
		f=$TMP/in/f$(((n + j) % 4))
		if [ $((j % 2)) -eq 0 ]; then
			ctl --json task sign --devconf "$DC_SIGN" --file "$f" >"$TMP/c$n.out" 2>/dev/null || break
			printf '%s sign %s\n' "$(jq -r .id "$TMP/c$n.out")" "$f" >>"$TMP/acked.$n"
		else
			ctl --json task encrypt --devconf "$DC_ENC" --file "$f" >"$TMP/c$n.out" 2>/dev/null || break
			printf '%s enc %s\n' "$(jq -r .id "$TMP/c$n.out")" "$f" >>"$TMP/acked.$n"
		fi
		j=$((j + 1))
	done
}

for cyc in $(seq 1 "$CYCLES"); do
	start_daemon --config "$TMP/d.conf"
	pids=
	for n in $(seq 1 $CLIENTS); do
		client "$n" &
		pids="$pids $!"
	done
	sleep "$(ms 900)"
	kill -KILL "$DPID" 2>/dev/null || true
	wait "$DPID" 2>/dev/null || true
	DPID=
	# shellcheck disable=SC2086
	wait $pids 2>/dev/null || true
done
cat "$TMP"/acked.* >"$TMP/acked" 2>/dev/null || : >"$TMP/acked"
NACK=$(wc -l <"$TMP/acked")
ok "$CYCLES kill -9 cycles under load, $NACK tasks acknowledged"

# --- after the last kill: a normal start, recovery, and every acknowledged task checked --------
start_daemon --config "$TMP/d.conf"
check "the token opens after $CYCLES kills" ctl status
lost=0 stuck=0 bad=0 done_sign=0 done_enc=0 failed=0
while read -r id type input; do
	if ! ctl --json task wait "$id" --timeout 120 >"$TMP/out" 2>"$TMP/err"; then
		if grep -q not_found "$TMP/err"; then
			lost=$((lost + 1))
			say "# $id ($type): lost: $(cat "$TMP/err")"
		else
			stuck=$((stuck + 1))
			say "# $id ($type): not finished: $(cat "$TMP/err")"
		fi
		continue
	fi
	st=$(json .status)
	case $st in
	DONE) ;;
	FAILED)
		if [ -n "$(jq -r '.reason // ""' "$TMP/out")" ]; then
			failed=$((failed + 1))
		else
			bad=$((bad + 1))
			say "# $id ($type): FAILED without a reason"
		fi
		continue
		;;
	*)
		stuck=$((stuck + 1))
		say "# $id ($type): $st"
		continue
		;;
	esac
	if [ "$type" = sign ]; then
		json .result.signature | base64 -d >"$TMP/sig"
		if openssl dgst -sha256 -verify "$TMP/sk.pub" -signature "$TMP/sig" "$input" >/dev/null 2>&1; then
			done_sign=$((done_sign + 1))
		else
			bad=$((bad + 1))
			say "# $id: the signature does not verify over its input"
		fi
	else
		rm -f "$TMP/enc"
		if ! ctl task download "$id" -o "$TMP/enc" >/dev/null 2>"$TMP/err"; then
			bad=$((bad + 1))
			say "# $id: DONE but no download: $(cat "$TMP/err")"
			continue
		fi
		total=$(wc -c <"$TMP/enc")
		head -c $((total - 16)) "$TMP/enc" >"$TMP/ct"
		iv=$(tail -c 16 "$TMP/enc" | od -An -tx1 -v | tr -d ' \n')
		if openssl enc -d -aes-256-cbc -K "$KHEX" -iv "$iv" -in "$TMP/ct" -out "$TMP/dec" 2>/dev/null &&
			cmp -s "$TMP/dec" "$input"; then
			done_enc=$((done_enc + 1))
		else
			bad=$((bad + 1))
			say "# $id: the result does not decrypt to its input"
		fi
	fi
done <"$TMP/acked"
say "# figures: cycles $CYCLES, acknowledged $NACK, DONE $((done_sign + done_enc)) ($done_sign signatures, $done_enc encryptions), FAILED with a reason $failed, lost $lost, stuck $stuck, bad results $bad"
check "no acknowledged task is lost ($lost)" test "$lost" = 0
check "no acknowledged task is stuck ($stuck)" test "$stuck" = 0
check "every DONE result verifies and every FAILED has a reason ($bad bad)" test "$bad" = 0
check "every acknowledged task was checked" test $((done_sign + done_enc + failed + lost + stuck + bad)) = "$NACK"

# No orphan in the spool: inputs and temporaries of finished tasks are gone, and every result
# file belongs to a DONE encryption task.
check "no input copy is left in the spool" test -z "$(ls -A "$STATE/spool/in")"
check "no temporary result is left in the spool" test -z "$(ls -A "$STATE/spool/tmp")"
orphans=0
for f in "$STATE"/spool/out/*; do
	[ -e "$f" ] || continue
	id=$(basename "$f")
	if ! ctl --json task show "$id" >"$TMP/out" 2>/dev/null || [ "$(json .status)" != DONE ]; then
		orphans=$((orphans + 1))
		say "# orphan result file $id"
	fi
done
check "every result file belongs to a DONE task ($orphans orphans)" test "$orphans" = 0
check "the tenant's audit chain verifies" ctl audit verify
check "the appliance audit chain verifies" ctl audit verify --chain '~appliance'
stop_daemon || not_ok "signetd did not stop cleanly"
