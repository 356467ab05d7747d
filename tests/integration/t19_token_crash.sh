#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The embedded token survives kill -9 at any instant (issue 15, doc/token-safety.md): signetd is
# killed at random instants during start (0-200 ms after exec, where SoftHSM rewrites
# token.object at login), during shutdown, during key generation and during TOTP enrollment, on
# disk. Then a normal start must open the token, every key the store knows must sign (checked by
# openssl), and every acknowledged TOTP seed must approve with a code oathtool makes.
# SIGNET_CRASH_KILLS (default 500) sets the number of kills; the closing comment gives the counts.
# shellcheck source=tests/integration/lib.sh
. "$TESTLIB"

KILLS=${SIGNET_CRASH_KILLS:-500}
# A start checks every key against the token: with hundreds of them on a loaded machine it can
# take longer than lib.sh's 10 s.
START_TRIES=${START_TRIES:-1200}
N_START=$((KILLS * 6 / 10))
N_KEY=$((KILLS * 2 / 10))
N_OTP=$((KILLS - N_START - N_KEY))

case $(stat -f -c %T "$TMP") in
tmpfs | ramfs) say "# note: $TMP is on $(stat -f -c %T "$TMP"), not on disk" ;;
esac

# ms MAX: a random delay of 0..MAX-1 milliseconds, as sleep's argument.
ms() { r=$((RANDOM % $1)); printf '%d.%03d' $((r / 1000)) $((r % 1000)); }

# timed_start: start_daemon, keeping the slowest start (seconds) in SLOWEST.
SLOWEST=0
timed_start() {
	_t0=$(date +%s.%N)
	start_daemon
	SLOWEST=$(awk -v a="$SLOWEST" -v b="$(date +%s.%N)" -v c="$_t0" 'BEGIN { d = b - c; print (d > a ? d : a) }')
}

# crash_now: kill -9 the running daemon and reap it.
crash_now() {
	kill -KILL "$DPID" 2>/dev/null || true
	wait "$DPID" 2>/dev/null || true
	DPID=
}

init_state
start_daemon
ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl key generate base-ec --alg ECC_NIST_P256 >/dev/null || fatal "key generate base-ec"
ctl key generate base-ed --alg ED25519 >/dev/null || fatal "key generate base-ed"
ctl key generate base-aes --alg AES_256 >/dev/null || fatal "key generate base-aes"
ctl --json devconf create approve --sign-key base-ec --four-eyes on --second-factor TOTP \
	--approver GROUP:approvers >"$TMP/out" || fatal "devconf create approve"
DC_APPROVE=$(json .id)
: >"$TMP/enrolled" # user token secret, one line each, for every acknowledged enrollment
for u in u-base1 u-base2; do
	ctl --json user create "$u" --group approvers >"$TMP/out" || fatal "user create $u"
	tok=$(json .token)
	ctl --json user otp-enroll "$u" >"$TMP/out" || fatal "otp-enroll $u"
	printf '%s %s %s\n' "$u" "$tok" "$(json .secret)" >>"$TMP/enrolled"
done
stop_daemon || fatal "signetd did not stop cleanly"
check "the state directory keeps a verified generation of the token" \
	test -f "$STATE/token-generations/$(ls "$STATE/token-generations" | tail -n 1)/MANIFEST"

# --- 1. kill -9 during start (and, one cycle in four, SIGTERM then kill -9 during shutdown) -------
for i in $(seq 1 "$N_START"); do
	"$SIGNETD" --state-dir "$STATE" ${DUSER:+--user "$DUSER"} >>"$LOG" 2>&1 &
	DPID=$!
	sleep "$(ms 200)"
	if [ $((i % 4)) -eq 0 ]; then
		kill -TERM "$DPID" 2>/dev/null || true
		sleep "$(ms 30)"
	fi
	crash_now
done
ok "$N_START kills during start and shutdown"

# --- 2. kill -9 during key generation -----------------------------------------------------------
: >"$TMP/keys_acked"
algs=(ECC_NIST_P256 ED25519 AES_256 ECC_NIST_P384 RSA_3072)
# (not i: start_daemon counts its polls in i)
for n in $(seq 1 "$N_KEY"); do
	timed_start
	alg=${algs[$((n % ${#algs[@]}))]}
	ctl --json key generate "k$n" --alg "$alg" >"$TMP/kg.out" 2>"$TMP/kg.err" &
	cpid=$!
	# SoftHSM writes a new key's file once per attribute: ~200 ms for EC, more for RSA.
	if [ "$alg" = RSA_3072 ]; then sleep "$(ms 1500)"; else sleep "$(ms 350)"; fi
	crash_now
	if wait "$cpid"; then
		echo "k$n" >>"$TMP/keys_acked"
	fi
done
ok "$N_KEY kills during key generation ($(wc -l <"$TMP/keys_acked") generations acknowledged)"

# --- 3. kill -9 during TOTP enrollment ----------------------------------------------------------
for n in $(seq 1 "$N_OTP"); do
	timed_start
	ctl --json user create "u$n" --group approvers >"$TMP/out" || fatal "user create u$n"
	tok=$(json .token)
	ctl --json user otp-enroll "u$n" >"$TMP/en.out" 2>/dev/null &
	cpid=$!
	sleep "$(ms 350)"
	crash_now
	if wait "$cpid"; then
		printf '%s %s %s\n' "u$n" "$tok" "$(jq -r .secret "$TMP/en.out")" >>"$TMP/enrolled"
	fi
done
ok "$N_OTP kills during TOTP enrollment"
restores=$(grep -c 'RESTORED the token' "$LOG" || true)
say "# $KILLS kills: $N_START at start/shutdown, $N_KEY in key generation, $N_OTP in enrollment;" \
	"the guard restored the token $restores times; the slowest start took ${SLOWEST} s"

# --- 4. A normal start: the token opens, and nothing the store knows is missing -----------------
: >"$LOG.before"
cp "$LOG" "$LOG.before"
start_daemon
sleep 0.2
tail -n +"$(($(wc -l <"$LOG.before") + 1))" "$LOG" >"$TMP/last.log"
check "the token opens after $KILLS kills" ctl status
check "the last start found no key or seed missing from the token" \
	sh -c "! grep -E 'lacks what the store expects|not usable in the token|refused:' '$TMP/last.log'"

ctl --json key list >"$TMP/keys.json" || fatal "key list"
check "every key of the store is usable" \
	test "$(jq '[.keys[] | select(.usable != true)] | length' "$TMP/keys.json")" = 0
missing_acked=0
while read -r k; do
	jq -e --arg k "$k" '.keys[] | select(.label == $k)' "$TMP/keys.json" >/dev/null ||
		missing_acked=$((missing_acked + 1))
done <"$TMP/keys_acked"
check "every acknowledged key generation is in the store ($missing_acked missing)" test "$missing_acked" = 0

# Every signing key signs a file, verified by openssl; every AES key encrypts.
head -c 4099 /dev/urandom >"$TMP/fw.bin"
signed=0
bad=0
for row in $(jq -r '.keys[] | "\(.label):\(.algorithm)"' "$TMP/keys.json"); do
	label=${row%%:*}
	alg=${row#*:}
	case $alg in
	AES_*)
		ctl --json devconf create "dc-$label" --sign-key base-ed --encrypt-key "$label" \
			--four-eyes off >"$TMP/out" 2>"$TMP/err" || { bad=$((bad + 1)); say "# devconf $label: $(cat "$TMP/err")"; continue; }
		dc=$(json .id)
		if ! ctl --json task encrypt --devconf "$dc" --file "$TMP/fw.bin" >"$TMP/out" 2>"$TMP/err" ||
			! ctl --json task wait "$(json .id)" --timeout 30 >"$TMP/out" 2>>"$TMP/err" ||
			[ "$(json .status)" != DONE ]; then
			bad=$((bad + 1))
			say "# $label ($alg) does not encrypt: $(cat "$TMP/err")"
		fi
		continue
		;;
	esac
	# base-ed signs for the encryption configurations below; base-ec is the four-eyes key, whose
	# signatures the approvals below make (its strictest policy applies to every use of it).
	[ "$label" = base-ed ] || [ "$label" = base-ec ] && continue
	ctl --json key show "$label" >"$TMP/out" || { bad=$((bad + 1)); continue; }
	json .publicKeyPem | sed '/^$/d' >"$TMP/pub.pem"
	ctl --json devconf create "dc-$label" --sign-key "$label" --four-eyes off >"$TMP/out" 2>"$TMP/err" ||
		{ bad=$((bad + 1)); say "# devconf $label: $(cat "$TMP/err")"; continue; }
	dc=$(json .id)
	if ! ctl --json task sign --devconf "$dc" --file "$TMP/fw.bin" >"$TMP/out" 2>"$TMP/err"; then
		bad=$((bad + 1))
		say "# $label ($alg) does not sign: $(cat "$TMP/err")"
		continue
	fi
	json .result.signature | base64 -d >"$TMP/sig"
	case $alg in
	ECC_NIST_P256) openssl dgst -sha256 -verify "$TMP/pub.pem" -signature "$TMP/sig" "$TMP/fw.bin" ;;
	ECC_NIST_P384) openssl dgst -sha384 -verify "$TMP/pub.pem" -signature "$TMP/sig" "$TMP/fw.bin" ;;
	RSA_*) openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
		-verify "$TMP/pub.pem" -signature "$TMP/sig" "$TMP/fw.bin" ;;
	ED25519) openssl pkeyutl -verify -pubin -inkey "$TMP/pub.pem" -rawin -in "$TMP/fw.bin" \
		-sigfile "$TMP/sig" ;;
	esac >/dev/null 2>&1 && signed=$((signed + 1)) || { bad=$((bad + 1)); say "# $label: openssl does not verify"; }
done
check "every key of the store signs or encrypts ($signed signatures verified by openssl, $bad failures)" \
	test "$bad" = 0

# Every acknowledged enrollment approves with the code oathtool makes from its secret.
approved=0
bad=0
while read -r u tok secret; do
	MSG=$(printf 'firmware for %s' "$u" | base64)
	ctl --json task sign --devconf "$DC_APPROVE" --input-base64 "$MSG" >"$TMP/out" || { bad=$((bad + 1)); continue; }
	t=$(json .id)
	if SIGNET_TOKEN=$tok ctl --json task approve "$t" --otp "$(oathtool --totp -b "$secret")" \
		>"$TMP/out" 2>"$TMP/err"; then
		approved=$((approved + 1))
		LAST_APPROVED=$t
		printf 'firmware for %s' "$u" >"$TMP/approved.msg"
	else
		bad=$((bad + 1))
		say "# $u: the oathtool code is refused: $(cat "$TMP/err")"
	fi
done <"$TMP/enrolled"
check "every acknowledged TOTP seed approves with oathtool's code ($approved approvals, $bad refused)" \
	test "$bad" = 0
ctl --json key show base-ec >"$TMP/out" && json .publicKeyPem | sed '/^$/d' >"$TMP/base-ec.pub"
ctl --json task wait "${LAST_APPROVED:-none}" --timeout 60 >"$TMP/out" 2>/dev/null || true
json .result.signature 2>/dev/null | base64 -d >"$TMP/sig" 2>/dev/null || true
check "the four-eyes key base-ec signed the last approved task (openssl verifies)" \
	openssl dgst -sha256 -verify "$TMP/base-ec.pub" -signature "$TMP/sig" "$TMP/approved.msg"
check "the audit log verifies" ctl audit verify
# Every page of the appliance chain (each start adds entries and checkpoints).
: >"$TMP/verbs"
cursor=
while :; do
	ctl --json audit list --chain '~appliance' --limit 1000 ${cursor:+--cursor "$cursor"} \
		>"$TMP/out" || fatal "audit list ~appliance"
	jq -r '.entries[].verb' "$TMP/out" >>"$TMP/verbs"
	cursor=$(jq -r '.cursor // empty' "$TMP/out")
	[ -n "$cursor" ] || break
done
audited=$(grep -c '^RESTORED_TOKEN$' "$TMP/verbs" || true)
# A crash between an entry and forgetting it records a restore twice, never zero times.
check "each of the $restores restores is on the appliance audit chain ($audited entries)" \
	test "$audited" -ge "$restores"
check "the appliance audit chain verifies" ctl audit verify --chain '~appliance'
stop_daemon || not_ok "signetd did not stop cleanly"
