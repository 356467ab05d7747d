#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The forged package (issue 14, item 1): in a tenant where signing needs no approval but packaging
# does, a user with only USE encrypts firmware with task.encrypt, builds a BOSCH_SE_V1 header by
# hand (a writer here, from the layout of doc/container.md) and tries every way to get it signed
# by the key devices trust for packages. Signing tasks refuse the header, and sign its digest
# (prehashed) only with a key devices do not trust; signet-verify refuses every result; the fault
# module's C_SignInit log shows the packaging key signing nothing but the header of an approved
# package; binding a key to a second purpose is refused (conflict) naming the configuration
# that has it.
# shellcheck source=tests/integration/lib.sh
. "$TESTLIB"
: "${P11FAULT:?P11FAULT must name the fault-injecting module}"
: "${SIGNET_VERIFY:?SIGNET_VERIFY must name the signet-verify binary}"

# as TOKEN ARGS...: signetctl with another user's token.
as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "${DSOCK:-$SOCK}" --token "$_tok" "$@"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# inits HEXID: how many C_SignInit calls the fault module saw on objects with that CKA_ID.
inits() {
	[ -f "$TMP/p11/signinit" ] || { echo 0; return; }
	grep -cx "$1" "$TMP/p11/signinit" || true
}
# uri_id URI: the id=%xx%xx... of a PKCS#11 URI as lower-case hex.
uri_id() { printf '%s\n' "$1" | sed -n 's/.*[;:]id=\([^;?]*\).*/\1/p' | tr -d '%' | tr 'A-F' 'a-f'; }

# The attacker's tools: a header from the layout table, and a package from header, segments and
# signature (every integer little-endian, no padding).
cat >"$TMP/forge.py" <<'EOF'
import hashlib, struct, sys

def header(out, ec, sc, md, segs):
    mdb = b"" if md == "-" else open(md, "rb").read()
    data = [open(p, "rb").read() for p in segs]
    h = b"Bosch_SE" + struct.pack("<BHHHB", 1, len(mdb), ec, sc, len(data))
    h += b"".join(struct.pack("<I", len(s)) for s in data)
    h += b"".join(hashlib.sha256(s).digest() for s in data)
    open(out, "wb").write(h + mdb)

def package(out, hdr, sig, segs):
    with open(out, "wb") as f:
        f.write(open(hdr, "rb").read())
        for p in segs:
            f.write(open(p, "rb").read())
        f.write(open(sig, "rb").read())

if sys.argv[1] == "header":
    header(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6:])
else:
    package(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
EOF
forge() { python3 "$TMP/forge.py" "$@"; }
# verify_rc PKG: signet-verify's exit status for PKG with the packaging key (0 accepted, 4 bad
# signature, ...).
verify_rc() {
	_rc=0
	"$SIGNET_VERIFY" -q --pubkey "$TMP/pk.pub" --key "$TMP/aes.raw" -o "$TMP/sv.out" "$1" \
		>"$TMP/sv.log" 2>&1 || _rc=$?
	echo "$_rc"
}

init_state
mkdir -p "$TMP/p11"
for_daemon "$TMP/p11"
printf '[token]\nmodule = %s\nsofthsm_conf = %s\n[daemon]\nauth_fail_delay_ms = 0\n' \
	"$P11FAULT" "$STATE/softhsm2.conf" >"$TMP/fault.conf"
export P11FAULT_MODULE="$SOFTHSM_MODULE" P11FAULT_DIR="$TMP/p11"
start_daemon --config "$TMP/fault.conf"

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json user create mallory >"$TMP/out" || fatal "user create mallory"
M_TOKEN=$(json .token)
ctl --json user create carol >"$TMP/out" || fatal "user create carol"
C_TOKEN=$(json .token)
as "$C_TOKEN" --json user otp-enroll carol >"$TMP/out" || fatal "carol enrolls"
SEC_carol=$(json .secret)

# The combination the product offers: signing needs no approval, packaging does.
check "the tenant signs without approval" ctl config set approval.fourEyes.signing false
check "... and packages with approval" ctl config set approval.fourEyes.packaging true

head -c 32 /dev/urandom >"$TMP/aes.raw"
ctl key import aes --alg AES_256 --file "$TMP/aes.raw" >/dev/null || fatal "key import aes"
for k in pk sk k3 pk2; do
	ctl --json key generate "$k" --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate $k"
	json .publicKeyPem | sed '/^$/d' >"$TMP/$k.pub"
done
ctl --json key show pk >"$TMP/out" || fatal "key show pk"
PK_ID=$(uri_id "$(json .uri)")
check "the packaging key's CKA_ID is read from its URI ($PK_ID)" \
	sh -c "printf '%s' '$PK_ID' | grep -Eqx '[0-9a-f]{32}'"

# dcp packages with pk (devices trust pk for packages); dcs signs with sk and encrypts with the
# same AES key. mallory may USE both, carol approves.
ctl --json devconf create dcp --package-key pk --encrypt-key aes --user USER:mallory \
	--approver USER:carol >"$TMP/out" || fatal "devconf create dcp"
DCP=$(json .id)
check "dcp records pk as its packaging key and no signing key" \
	test "$(json '"\(.packagingKey) \(.signingKeys | length)"')" = "pk 0"
ctl --json devconf create dcs --sign-key sk --encrypt-key aes --user USER:mallory >"$TMP/out" ||
	fatal "devconf create dcs"
DCS=$(json .id)
ctl --json key show pk >"$TMP/out"
check "key show: pk signs package headers since dcp bound it" \
	test "$(json '"\(.purpose) \(.purposeDeviceConfig)"')" = "PACKAGING $DCP"
ctl --json key show sk >"$TMP/out"
check "key show: sk signs tasks since dcs bound it" \
	test "$(json '"\(.purpose) \(.purposeDeviceConfig)"')" = "SIGNING $DCS"

# --- 1. The attack -----------------------------------------------------------------------------
printf 'evil firmware, never approved\n' >"$TMP/evil.bin"
as "$M_TOKEN" --json task encrypt --devconf "$DCS" --file "$TMP/evil.bin" >"$TMP/out" 2>"$TMP/err" ||
	fatal "mallory encrypts ($(cat "$TMP/err"))"
EID=$(json .id)
as "$M_TOKEN" --json task wait "$EID" --timeout 30 >"$TMP/out" 2>&1 || true
as "$M_TOKEN" task download "$EID" -o "$TMP/seg.enc" >/dev/null 2>"$TMP/err" ||
	fatal "mallory downloads the ciphertext ($(cat "$TMP/err"))"
check "mallory's segment is the firmware encrypted with the device AES key (openssl decrypts it)" \
	sh -c "n=\$(stat -c %s '$TMP/seg.enc'); head -c \$((n - 16)) '$TMP/seg.enc' | openssl enc -d -aes-256-cbc -K $(od -An -tx1 -v "$TMP/aes.raw" | tr -d ' \n') -iv \$(tail -c 16 '$TMP/seg.enc' | od -An -tx1 -v | tr -d ' \n') | cmp -s - '$TMP/evil.bin'"
forge header "$TMP/hdr.bin" 0 3 - "$TMP/seg.enc"
check "mallory's hand-built header is 52 bytes" test "$(stat -c %s "$TMP/hdr.bin")" = 52

# a. The header as the input of a signing task (no approval needed for signing): refused, as a
# file and inline, and so is a header a lax device might take (another pv, ec and sc).
ctl --json task list --limit 1000 >"$TMP/out"
NTASKS=$(json '.tasks | length')
expect_refusal "a. the header as a file to sign: invalid" invalid \
	as "$M_TOKEN" task sign --devconf "$DCS" --file "$TMP/hdr.bin"
check "a. ... because it is a package header" grep -q "the input is a package header" "$TMP/err"
expect_refusal "a. the header inline (inputBase64): invalid" invalid \
	as "$M_TOKEN" task sign --devconf "$DCS" --input-base64 "$(base64 -w0 "$TMP/hdr.bin")"
python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[8] = 7; b[11] = 9; b[13] = 0
open(sys.argv[2], "wb").write(b)' "$TMP/hdr.bin" "$TMP/hdr.lax"
expect_refusal "a. a header with pv 7, ec 9, sc 0: invalid all the same" invalid \
	as "$M_TOKEN" task sign --devconf "$DCS" --file "$TMP/hdr.lax"
ctl --json task list --limit 1000 >"$TMP/out"
check "a. no task was stored for any of them" test "$(json '.tasks | length')" = "$NTASKS"
# Not every input that starts with the magic is a header: a whole package may be signed.
cat "$TMP/hdr.bin" "$TMP/seg.enc" >"$TMP/notheader.bin"
as "$M_TOKEN" --json task sign --devconf "$DCS" --file "$TMP/notheader.bin" >"$TMP/out" 2>"$TMP/err" || true
check "a. a file longer than its header says (a whole package, say) is signed: DONE" \
	test "$(json .status 2>/dev/null)" = DONE

# b. Its digest, prehashed: nothing in a digest says what it is the digest of.
as "$M_TOKEN" --json task sign --devconf "$DCS" --prehashed \
	--input-base64 "$(openssl dgst -sha256 -binary "$TMP/hdr.bin" | base64 -w0)" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "b. a prehashed signing task runs (it is not the signature devices trust) ($(cat "$TMP/err"))"
json .result.signature | base64 -d >"$TMP/sig.b" 2>/dev/null || true
forge package "$TMP/forged.b" "$TMP/hdr.bin" "$TMP/sig.b" "$TMP/seg.enc"
check "b. the header's digest, prehashed, signed by sk: signet-verify refuses the package (exit 4)" \
	test "$(verify_rc "$TMP/forged.b")" = 4
check "b. ... and openssl confirms it is sk's signature, not pk's" \
	openssl dgst -sha256 -verify "$TMP/sk.pub" -signature "$TMP/sig.b" "$TMP/hdr.bin"

# c. The packaging configuration signs no task.
expect_refusal "c. a signing task on dcp (which has only a packaging key): invalid" invalid \
	as "$M_TOKEN" task sign --devconf "$DCP" --file "$TMP/hdr.bin"
check "c. ... for want of a signing key" grep -q "has no signing key" "$TMP/err"

# d. pk bound as a signing key (raw and CMS), anywhere: refused, naming dcp.
expect_refusal "d. alice binds pk as a signing key of a new configuration: conflict" conflict \
	ctl devconf create evil --sign-key pk --user USER:mallory --four-eyes off
check "d. ... naming dcp, which packages with it" grep -q "$DCP (dcp)" "$TMP/err"
expect_refusal "d. alice adds pk to dcs's signing keys: conflict" conflict \
	ctl devconf update "$DCS" --sign-key sk --sign-key pk
check "d. ... naming dcp" grep -q "$DCP" "$TMP/err"
expect_refusal "d. and to dcp's own signing keys: conflict" conflict \
	ctl devconf update "$DCP" --sign-key pk
ctl --json devconf show "$DCS" >"$TMP/out"
check "d. dcs still signs with sk alone" test "$(json '.signingKeys | join(",")')" = sk

# e. sk (which signs what anyone asks) bound as a packaging key: refused, naming dcs.
expect_refusal "e. alice makes sk the packaging key of a new configuration: conflict" conflict \
	ctl devconf create evil2 --package-key sk --encrypt-key aes
check "e. ... naming dcs, which signs tasks with it" grep -q "$DCS (dcs)" "$TMP/err"
expect_refusal "e. one key for both purposes in one configuration: conflict" conflict \
	ctl devconf create both --sign-key k3 --package-key k3 --encrypt-key aes
check "e. ... k3 was bound to no purpose by the refusal" \
	sh -c "ctl() { \"\$SIGNETCTL\" --socket '$SOCK' \"\$@\"; }; ctl --json key show k3 | jq -e '.purpose == null' >/dev/null"

# f. The purpose is kept for good: rotating dcp to pk2 does not free pk for signing tasks.
check "f. alice rotates dcp to the packaging key pk2" ctl devconf update "$DCP" --package-key pk2
expect_refusal "f. pk, no longer any configuration's key, still cannot become a signing key" conflict \
	ctl devconf create evil3 --sign-key pk --four-eyes off
check "f. ... the refusal says since when (dcp)" grep -q "since device configuration $DCP" "$TMP/err"
check "f. alice makes pk dcp's packaging key again" ctl devconf update "$DCP" --package-key pk

# g. A configuration without a packaging key (as every one made before this version) packages
# nothing.
expect_refusal "g. a package on dcs (signing key, AES key, no packaging key): invalid" invalid \
	as "$M_TOKEN" task package --devconf "$DCS" --firmware "$TMP/evil.bin"
check "g. ... for want of a packaging key" grep -q "has no packaging key" "$TMP/err"

check "none of this made the token sign anything with pk (C_SignInit on its CKA_ID: 0)" \
	test "$(inits "$PK_ID")" = 0

# --- 2. The only way: an approved packaging task, whose approver sees what will be signed -------
printf 'good firmware 1.0\n' >"$TMP/good.bin"
printf '{"device": "ECU-4711", "version": "1.0"}' >"$TMP/meta.json"
as "$M_TOKEN" --json task package --devconf "$DCP" --firmware "$TMP/good.bin" --metadata "$TMP/meta.json" \
	--name good >"$TMP/out" 2>"$TMP/err" || not_ok "mallory's packaging task ($(cat "$TMP/err"))"
PID=$(json .id)
check "the packaging task waits for approval" test "$(json .status)" = WAITING
check "... and pk has signed nothing yet" test "$(inits "$PK_ID")" = 0
as "$C_TOKEN" --json task show "$PID" >"$TMP/waiting" 2>"$TMP/err" || not_ok "carol shows the task ($(cat "$TMP/err"))"
check "carol sees the firmware (name, size, sha256)" \
	test "$(jq -r '.inputs[0] | "\(.name) \(.size) \(.sha256)"' "$TMP/waiting")" = \
	"good.bin $(stat -c %s "$TMP/good.bin") $(sha "$TMP/good.bin")"
check "carol sees its segment (size, sha256), the cipher and the packaging key" \
	test "$(jq -r '"\(.packaging.segmentSizes[0]) \(.packaging.segmentSha256[0] | length) \(.encryption.cipher) \(.signing.key)"' "$TMP/waiting")" = \
	"48 64 AES256_CBC_PKCS7_PAD pk"
check "carol sees the metadata itself" \
	test "$(jq -r '.inputs[] | select(.role == "metadata") | .base64' "$TMP/waiting" | base64 -d)" = "$(cat "$TMP/meta.json")"
HSHA=$(jq -r .packaging.header.sha256 "$TMP/waiting")
HLEN=$((16 + 36 + $(stat -c %s "$TMP/meta.json")))
check "carol sees the digest of the header that will be signed ($HSHA)" \
	sh -c "printf '%s' '$HSHA' | grep -Eqx '[0-9a-f]{64}'"
as "$C_TOKEN" task show "$PID" >"$TMP/shown" 2>&1 || true
check "signetctl task show prints the segment, the metadata, the cipher and the header to sign" \
	sh -c "grep -q '^  segment 0: 48 bytes, sha256 ' '$TMP/shown' && grep -qF '  metadata: {\"device\": \"ECU-4711\", \"version\": \"1.0\"}' '$TMP/shown' && grep -q '^cipher: AES256_CBC_PKCS7_PAD (key aes)' '$TMP/shown' && grep -q '^header: $HLEN bytes, sha256 $HSHA, to be signed by pk (ECC_NIST_P256)' '$TMP/shown'"
as "$C_TOKEN" --json task approve "$PID" --otp "$(oathtool --totp -b "$SEC_carol")" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "carol approves ($(cat "$TMP/err"))"
ctl --json task wait "$PID" --timeout 60 >"$TMP/out" 2>&1 || true
check "the approved package is DONE" test "$(json .status)" = DONE
ctl task download "$PID" -o "$TMP/good.pkg" >/dev/null 2>"$TMP/err" || not_ok "download ($(cat "$TMP/err"))"
check "signet-verify accepts the approved package with pk" test "$(verify_rc "$TMP/good.pkg")" = 0
check "pk signed exactly once: the header of the approved package" test "$(inits "$PK_ID")" = 1
check "the header signed is the one carol saw" \
	test "$(head -c "$HLEN" "$TMP/good.pkg" | sha256sum | cut -d' ' -f1)" = "$HSHA"
ctl --json task show "$PID" >"$TMP/out"
check "carol's approval binds that header digest" test "$(json '.approvals[0].headerSha256')" = "$HSHA"

# What was approved cannot change under the approver: a header changed in the spool while the task
# waits is not signed.
as "$M_TOKEN" --json task package --devconf "$DCP" --firmware "$TMP/good.bin" --name tampered \
	>"$TMP/out" 2>"$TMP/err" || not_ok "another packaging task ($(cat "$TMP/err"))"
TID=$(json .id)
check "its package is made ready in the spool while it waits" test -s "$STATE/spool/in/$TID.pkg"
check "the header in the spool is changed (the first byte of its segment's SHA-256)" \
	flip_byte "$STATE/spool/in/$TID.pkg" 20
as "$C_TOKEN" --json task approve "$TID" --otp "$(oathtool --totp -b --now "$(date -u -d @$(($(date +%s) + 30)) '+%Y-%m-%d %H:%M:%S UTC')" "$SEC_carol")" \
	>"$TMP/out" 2>"$TMP/err" || not_ok "carol approves the second package ($(cat "$TMP/err"))"
ctl --json task wait "$TID" --timeout 60 >"$TMP/out" 2>"$TMP/err" || true
check "a header changed after the approval is not signed: FAILED ($(json .reason 2>&1 || cat "$TMP/err"))" \
	test "$(json .status)" = FAILED
check "... because it is not the approved one" \
	sh -c "jq -e '.reason | contains(\"does not match its digest\")' '$TMP/out' >/dev/null"
check "... and pk still signed only once" test "$(inits "$PK_ID")" = 1
check "... and the spool keeps nothing of it" test ! -e "$STATE/spool/in/$TID.pkg"

check "stop at the end" stop_daemon
