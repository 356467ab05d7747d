#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# TOTP with the seed in the token: the token's HMAC against the RFC 4226 / RFC 6238 vectors;
# a four-eyes signing task touches its key only once approved with an oathtool code (C_SignInit
# counted per CKA_ID by the fault module); the seed object is a sensitive, non-extractable
# HMAC key; neither the base32 secret nor the raw seed is left in the store, spool or log.
. "$TESTLIB"

: "${P11FAULT:?P11FAULT must name the fault-injecting module}"
: "${TOTP_TOKEN:?TOTP_TOKEN must name the totp_token program}"
command -v oathtool >/dev/null || fatal "oathtool is needed (apt-get install oathtool)"
command -v pkcs11-tool >/dev/null || fatal "pkcs11-tool is needed (apt-get install opensc)"

# as TOKEN ARGS...: signetctl with another user's token.
as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "${DSOCK:-$SOCK}" --token "$_tok" "$@"
}
# inits HEXID: how many C_SignInit calls the fault module saw on objects with that CKA_ID.
inits() {
	[ -f "$TMP/p11/signinit" ] || { echo 0; return; }
	grep -cx "$1" "$TMP/p11/signinit" || true
}
# uri_id URI: the id=%xx%xx... of a PKCS#11 URI as lower-case hex.
uri_id() { printf '%s\n' "$1" | sed -n 's/.*[;:]id=\([^;?]*\).*/\1/p' | tr -d '%' | tr 'A-F' 'a-f'; }

init_state

# --- 1. The token's HMAC on the RFC seed (before the daemon holds the token) ------------------
trc=0
"$TOTP_TOKEN" "$STATE" "$SOFTHSM_MODULE" >"$TMP/vectors.out" 2>&1 || trc=$?
sed 's/^/# /' "$TMP/vectors.out"
check "the token's HMAC-SHA-1 gives the RFC 4226 and RFC 6238 values (totp_token exit $trc)" \
	test "$trc" = 0
check "all 10 RFC 4226 counters were checked and matched" \
	test "$(grep -c '^ok - RFC 4226 counter [0-9]: token \([0-9]*\), RFC \1$' "$TMP/vectors.out")" = 10
check "all 6 RFC 6238 times were checked directly and through totp_candidates" \
	test "$(grep -c '^ok - RFC 6238 T=' "$TMP/vectors.out")" = 18
lrc=0
p11 --list-objects >"$TMP/objs0" 2>"$TMP/objs0.err" || lrc=$?
check "pkcs11-tool logs in to the token and lists its objects (exit $lrc)" \
	test "$lrc" = 0
check "the RFC seed was destroyed afterwards" test "$(grep -c 'label: *test/otp/rfc4226$' "$TMP/objs0")" = 0

# --- 2. Four-eyes: the signing key is not touched before the approval ------------------------
mkdir -p "$TMP/p11"
for_daemon "$TMP/p11"
printf '[token]\nmodule = %s\nsofthsm_conf = %s\n' "$P11FAULT" "$STATE/softhsm2.conf" >"$TMP/fault.conf"
export P11FAULT_MODULE="$SOFTHSM_MODULE" P11FAULT_DIR="$TMP/p11"
start_daemon --config "$TMP/fault.conf"
ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json user create bob >"$TMP/out" || fatal "user create bob"
B_TOKEN=$(json .token)
ctl key generate sk --alg ECC_NIST_P256 >/dev/null || fatal "key generate sk"
ctl --json key show sk >"$TMP/out" || fatal "key show sk"
KID=$(uri_id "$(json .uri)")
check "the key's CKA_ID is read from its URI ($KID)" sh -c "printf '%s' '$KID' | grep -Eqx '[0-9a-f]{32}'"
ctl --json devconf create fe --sign-key sk --four-eyes on --second-factor TOTP \
	--approver USER:bob >"$TMP/out" || fatal "devconf create"
DC=$(json .id)
as "$B_TOKEN" --json user otp-enroll bob >"$TMP/enroll.json" || fatal "bob: user otp-enroll"
SECRET=$(jq -er .secret "$TMP/enroll.json")
check "the enrollment answers a 160-bit base32 secret" \
	sh -c "printf '%s' '$SECRET' | grep -Eqx '[A-Z2-7]{32}'"

MSG=$(printf 'four eyes firmware 2.0' | base64)
ctl --json task sign --devconf "$DC" --input-base64 "$MSG" >"$TMP/out" || fatal "task sign"
T1=$(json .id)
check "the signing task waits for approval" test "$(json .status)" = WAITING
sleep 3
ctl --json task show "$T1" >"$TMP/out"
check "after 3 s it is still WAITING" test "$(json .status)" = WAITING
check "no C_SignInit on the key while the task waits ($(inits "$KID"))" test "$(inits "$KID")" = 0

# A wrong code: refused, and still nothing signed.
CODE=$(oathtool --totp -b "$SECRET")
WRONG=$(printf '%06d' $(((1${CODE} - 1000000 + 1) % 1000000)))
expect_refusal "a wrong code is refused" otp_invalid as "$B_TOKEN" task approve "$T1" --otp "$WRONG"
check "no C_SignInit on the key after the refused approval" test "$(inits "$KID")" = 0

CODE=$(oathtool --totp -b "$SECRET")
as "$B_TOKEN" --json task approve "$T1" --otp "$CODE" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "bob approves with the oathtool code $CODE ($(cat "$TMP/err"))"
ctl --json task wait "$T1" --timeout 20 >"$TMP/out" 2>/dev/null || true
check "the approved task is DONE with a signature" \
	test "$(json .status)/$(json '.result.signature | length > 40')" = DONE/true
check "exactly one C_SignInit on the key after the task is DONE ($(inits "$KID"))" \
	test "$(inits "$KID")" = 1
SEEDID=$(p11 --list-objects --type secrkey 2>/dev/null |
	awk '/^[^ ]/ { l = 0 } /label: *acme\/otp\/bob$/ { l = 1 } l && /ID:/ { print $2 }')
check "the counter sees the token's HMACs too: 3 candidates per code checked, 2 codes, on the seed" \
	test "$(inits "$SEEDID")" = 6
check "every C_SignInit named its key's id" test "$(grep -vcE '^[0-9a-f]+$' "$TMP/p11/signinit")" = 0

# The same code again on another task: a replay, and again the key is not touched.
ctl --json task sign --devconf "$DC" --input-base64 "$MSG" >"$TMP/out" || fatal "task sign 2"
T2=$(json .id)
expect_refusal "the same code cannot approve a second task" otp_replayed \
	as "$B_TOKEN" task approve "$T2" --otp "$CODE"
ctl --json task show "$T2" >"$TMP/out"
check "the second task stays WAITING" test "$(json .status)" = WAITING
check "still exactly one C_SignInit on the key" test "$(inits "$KID")" = 1
ctl task cancel "$T2" >/dev/null 2>&1 || not_ok "cancel the second task"

# --- 3. The seed object in the token ---------------------------------------------------------
p11 --list-objects >"$TMP/objs" 2>/dev/null || not_ok "pkcs11-tool --list-objects"
awk '/^[^ ]/ { if (b ~ /label: *acme\/otp\/bob\n/) printf "%s", b; b = "" } { b = b $0 "\n" }
	END { if (b ~ /label: *acme\/otp\/bob\n/) printf "%s", b }' "$TMP/objs" >"$TMP/seedobj"
sed 's/^/# /' "$TMP/seedobj"
check "the token holds one object labelled acme/otp/bob" test "$(grep -c 'label: *acme/otp/bob$' "$TMP/objs")" = 1
check "... a generic secret key of 20 bytes" grep -q '^Secret Key Object; Generic secret length 20$' "$TMP/seedobj"
check "... sensitive" grep -Eq '^ *Access: .*\bsensitive\b' "$TMP/seedobj"
check "... and not extractable (only 'never extractable' may be shown)" \
	sh -c "! sed 's/never extractable//' '$TMP/seedobj' | grep -q 'extractable'"
# pkcs11-tool 0.23 prints encrypt/decrypt/wrap/unwrap/derive for secret keys but not sign.
check "... with no usage but signing (Usage: sign or none)" \
	grep -Eq '^ *Usage: +(sign|none)$' "$TMP/seedobj"
rrc=0
p11 --read-object --type secrkey --id "$SEEDID" -o "$TMP/leak" >"$TMP/read.out" 2>&1 || rrc=$?
check "... its value cannot be read (CKR_ATTRIBUTE_SENSITIVE)" \
	test "$rrc" != 0 -a ! -s "$TMP/leak" -a "$(grep -c CKR_ATTRIBUTE_SENSITIVE "$TMP/read.out")" -ge 1
printf '\0\0\0\0\0\0\0\0' >"$TMP/ctr0"
p11 --sign -m SHA-1-HMAC --id "$SEEDID" -i "$TMP/ctr0" -o "$TMP/mac0" >/dev/null 2>&1 ||
	not_ok "pkcs11-tool --sign -m SHA-1-HMAC with the seed"
WANT=$(python3 -c 'import base64, hashlib, hmac, sys
print(hmac.new(base64.b32decode(sys.argv[1]), bytes(8), hashlib.sha1).hexdigest())' "$SECRET")
check "... it signs: its HMAC of counter 0 is the enrolled secret's" \
	test "$(od -An -tx1 -v "$TMP/mac0" | tr -d ' \n')" = "$WANT"
p11 --verify -m SHA-1-HMAC --id "$SEEDID" -i "$TMP/ctr0" --signature-file "$TMP/mac0" \
	>"$TMP/verify.out" 2>&1 || true
check "... it does not verify (CKA_VERIFY off: CKR_KEY_FUNCTION_NOT_PERMITTED)" \
	grep -q 'C_VerifyInit failed: rv = CKR_KEY_FUNCTION_NOT_PERMITTED' "$TMP/verify.out"

# --- 4. The secret is nowhere on disk but in the token ----------------------------------------
check "stop" stop_daemon
# scan FILE...: print every file holding the base32 secret (either case), the raw seed or its hex.
scan() {
	python3 - "$SECRET" "$@" <<'EOF'
import base64, sys
b32 = sys.argv[1]
raw = base64.b32decode(b32)
needles = [b32.encode(), b32.lower().encode(), raw, raw.hex().encode(), raw.hex().upper().encode()]
found = 0
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        data = f.read()
    for n in needles:
        if n in data:
            print(f"{path}: holds {n!r}")
            found += 1
sys.exit(1 if found else 0)
EOF
}
find "$STATE/db" "$STATE/spool" -type f >"$TMP/files"
echo "$LOG" >>"$TMP/files"
check "the scan covers the LMDB files and the log ($(grep -c . "$TMP/files") files)" \
	sh -c "grep -q '/db/data.mdb$' '$TMP/files' && grep -qx '$LOG' '$TMP/files'"
# The scanner must be able to see what it looks for.
python3 -c 'import base64, sys; open(sys.argv[2], "wb").write(b"x" + base64.b32decode(sys.argv[1]) + b"y")' \
	"$SECRET" "$TMP/control.bin"
if scan "$TMP/control.bin" "$TMP/enroll.json" >"$TMP/scan.control"; then
	not_ok "the scanner missed the seed in the control files"
else
	check "the scanner finds the seed in the control files" test "$(wc -l <"$TMP/scan.control")" -ge 2
fi
# shellcheck disable=SC2046
if scan $(cat "$TMP/files") >"$TMP/scan.out"; then
	ok "neither the base32 secret nor the raw seed is in the LMDB files, the spool or the log"
else
	not_ok "the secret leaked: $(head -c 400 "$TMP/scan.out")"
fi
