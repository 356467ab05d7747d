#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Keys: every type generated in the token, attributes checked with pkcs11-tool, import,
# CSRs checked with openssl, certificate chains, the start-time attribute check.
. "$TESTLIB"

init_state
start_daemon
ctl --json tenant create acme --admin alice >"$TMP/out"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)

for alg in ECC_NIST_P256 ECC_NIST_P384 RSA_3072 RSA_4096 ED25519 AES_256 AES_128; do
	ctl --json key generate "k-$alg" --alg "$alg" --description "test $alg" >"$TMP/out" 2>"$TMP/err" ||
		not_ok "generate $alg: $(cat "$TMP/err")"
	check "generated $alg reports its algorithm" test "$(json .algorithm)" = "$alg"
	check "generated $alg has a PKCS#11 URI with its id" sh -c "jq -er .uri '$TMP/out' | grep -q '^pkcs11:.*token=signet.*id=%'"
done
expect_refusal "a key label is unique in its tenant" conflict ctl key generate k-ED25519 --alg ED25519
expect_refusal "an unknown algorithm is refused" invalid ctl key generate k-x --alg RSA_1024

# pkcs11-tool, the reference client, reads the token directly.
p11 --list-objects >"$TMP/objects" 2>/dev/null
awk '/^(Private|Secret) Key Object/ {inkey=1; next} /^[A-Z].*Object/ {inkey=0} inkey && /Access:/ {print}' "$TMP/objects" >"$TMP/access"
# The 7 keys made here, and the appliance audit key signetd makes on its first start.
check "pkcs11-tool sees 8 private or secret keys (7 and the audit key)" test "$(wc -l <"$TMP/access")" = 8
check "the audit key is in the token" grep -q "label: *appliance/audit" "$TMP/objects"
check "every private and secret key is sensitive, never extractable, local" \
	sh -c "! grep -v 'sensitive, always sensitive, never extractable, local' '$TMP/access'"
awk '/^Private Key Object/ {inkey=1; next} /^[A-Z].*Object/ {inkey=0} inkey && /Usage:/ {print}' "$TMP/objects" >"$TMP/usage"
check "private keys may only sign" sh -c "! grep -v 'Usage: *sign$' '$TMP/usage'"
check "token labels carry the tenant" grep -q "label: *acme/k-ECC_NIST_P256" "$TMP/objects"
erc=0; p11 --read-object --type privkey --label acme/k-ECC_NIST_P256 -o "$TMP/stolen" >/dev/null 2>&1 || erc=$?
check "pkcs11-tool cannot read a private key out" test $erc -ne 0 -o ! -s "$TMP/stolen"

# Import of a raw AES key.
head -c 32 /dev/urandom >"$TMP/aes256.key"
ctl --json key import imported --alg AES_256 --file "$TMP/aes256.key" >"$TMP/out"
check "an imported key is marked imported" test "$(json .origin)" = imported
head -c 31 /dev/urandom >"$TMP/short.key"
expect_refusal "an AES_256 import of 31 bytes is refused" invalid ctl key import short --alg AES_256 --file "$TMP/short.key"
expect_refusal "only AES keys can be imported" invalid ctl key import rsa --alg RSA_3072 --file "$TMP/aes256.key"
p11 --list-objects >"$TMP/objects" 2>/dev/null
check "the imported key is sensitive in the token" sh -c "grep -A4 'label: *acme/imported' '$TMP/objects' | grep -q 'Access: *sensitive'"
ctl --json key show short >"$TMP/out" 2>/dev/null && not_ok "a refused import leaves no metadata" || ok "a refused import leaves no metadata"
check "a refused import leaves no token object" sh -c "! grep -q 'acme/short' '$TMP/objects'"

# CSRs: verify with openssl and compare the public key with key show.
for alg in ECC_NIST_P256 ECC_NIST_P384 RSA_3072 RSA_4096 ED25519; do
	ctl key csr "k-$alg" --subject "/CN=firmware $alg/O=Acme Devices/C=DE" -o "$TMP/$alg.csr"
	check "CSR of $alg verifies with openssl" openssl req -in "$TMP/$alg.csr" -verify -noout
	ctl --json key show "k-$alg" | jq -j .publicKeyPem >"$TMP/$alg.pub"
	openssl req -in "$TMP/$alg.csr" -noout -pubkey >"$TMP/$alg.csrpub"
	check "CSR of $alg carries the token key" cmp "$TMP/$alg.pub" "$TMP/$alg.csrpub"
	check "CSR of $alg carries the subject" sh -c "openssl req -in '$TMP/$alg.csr' -noout -subject | grep -q 'CN *= *firmware $alg'"
done
expect_refusal "a CSR for a secret key is refused" invalid ctl key csr k-AES_256 --subject /CN=x
expect_refusal "a malformed subject is refused" invalid ctl key csr k-ED25519 --subject CN=x
expect_refusal "an unknown subject attribute is refused" invalid ctl key csr k-ED25519 --subject /XYZ=x

# Certificate chains: a CA made with openssl signs the CSR; the chain is attached.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/ca.key" \
	-out "$TMP/ca.crt" -subj "/CN=Test Root" -days 30 2>/dev/null
openssl x509 -req -in "$TMP/ECC_NIST_P256.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" \
	-CAcreateserial -out "$TMP/leaf.crt" -days 10 2>/dev/null
cat "$TMP/leaf.crt" "$TMP/ca.crt" >"$TMP/chain.pem"
ctl --json key cert k-ECC_NIST_P256 --file "$TMP/chain.pem" >"$TMP/out"
check "key cert attaches a chain of two" test "$(json .chainLength)" = 2
ctl --json key show k-ECC_NIST_P256 >"$TMP/out"
check "key show holds the chain" sh -c "jq -r .chainPem '$TMP/out' | grep -c 'BEGIN CERTIFICATE' | grep -qx 2"
p11 --list-objects --type cert >"$TMP/certs" 2>/dev/null
check "the leaf certificate is in the token beside the key" grep -q "label: *acme/k-ECC_NIST_P256" "$TMP/certs"
expect_refusal "a certificate for another key is refused" invalid ctl key cert k-ED25519 --file "$TMP/chain.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/other.key" \
	-out "$TMP/other.crt" -subj "/CN=Other Root" -days 30 2>/dev/null
cat "$TMP/leaf.crt" "$TMP/other.crt" >"$TMP/badchain.pem"
expect_refusal "a chain whose links do not verify is refused" invalid ctl key cert k-ECC_NIST_P256 --file "$TMP/badchain.pem"
printf 'not a certificate\n' >"$TMP/junk.pem"
expect_refusal "a file without certificates is refused" invalid ctl key cert k-ECC_NIST_P256 --file "$TMP/junk.pem"

# Rights: plain users and other tenants.
ctl --json user create dev >"$TMP/out"
DEV=$(json .token)
expect_refusal "a plain user cannot generate keys" denied env SIGNET_TOKEN="$DEV" "$SIGNETCTL" --socket "$SOCK" key generate mine --alg ED25519
expect_refusal "a plain user cannot import keys" denied env SIGNET_TOKEN="$DEV" "$SIGNETCTL" --socket "$SOCK" key import mine --alg AES_256 --file "$TMP/aes256.key"
expect_refusal "a plain user cannot make CSRs" denied env SIGNET_TOKEN="$DEV" "$SIGNETCTL" --socket "$SOCK" key csr k-ED25519 --subject /CN=x
ctl --json tenant create globex --admin gina >"$TMP/out"
GLOBEX=$(json .token)
SIGNET_TOKEN=$GLOBEX ctl --json key list >"$TMP/out"
check "another tenant sees none of acme's keys" test "$(json '.keys | length')" = 0
expect_refusal "another tenant cannot use acme's key" not_found env SIGNET_TOKEN="$GLOBEX" "$SIGNETCTL" --socket "$SOCK" key csr k-ED25519 --subject /CN=x
SIGNET_TOKEN=$GLOBEX ctl --json key generate k-ED25519 --alg ED25519 >"$TMP/out"
check "another tenant may use the same label" test "$(json .label)" = k-ED25519

# A key removed from the token while signetd runs: the handle signetd remembers is checked
# before use, so the next operation fails instead of signing with whatever holds it now.
ctl key generate doomed --alg ECC_NIST_P256 >/dev/null
check "a CSR before the removal works (and the handles are cached)" ctl key csr doomed --subject /CN=d -o "$TMP/d1.csr"
doomed_id=$(p11 --list-objects --type privkey 2>/dev/null | awk '/label: *acme\/doomed/ {f=1} f && /ID:/ {print $2; exit}')
p11 --delete-object --type privkey --id "$doomed_id" >/dev/null 2>&1
ctl key generate successor --alg ECC_NIST_P256 >/dev/null
erc=0; ctl key csr doomed --subject /CN=d -o "$TMP/d2.csr" 2>"$TMP/err" || erc=$?
check "a CSR with the removed key fails" test $erc -eq 1
check "no request was signed with another key" test ! -s "$TMP/d2.csr"

# Start-time check: a key whose private object vanished from the token is refused.
check "stop" stop_daemon
ctl_id=$(p11 --list-objects --type privkey 2>/dev/null | awk '/label: *acme\/k-ECC_NIST_P384/ {f=1} f && /ID:/ {print $2; exit}')
check "pkcs11-tool finds the P-384 private key" test -n "$ctl_id"
p11 --delete-object --type privkey --id "$ctl_id" >/dev/null 2>&1
start_daemon
check "the start-time check logs the missing key" grep -q "acme/k-ECC_NIST_P384 refused: the key is no longer in the token" "$LOG"
ctl --json key show k-ECC_NIST_P384 >"$TMP/out"
check "key show marks it unusable" test "$(json .usable)" = false
expect_refusal "a refused key is not used" denied ctl key csr k-ECC_NIST_P384 --subject /CN=x
check "other keys stay usable" ctl key csr k-ED25519 --subject /CN=y -o "$TMP/y.csr"
check "the imported key passes the start-time check" test "$(ctl --json key show imported | jq -r .usable)" = true

# Backup: local admin only, into a file the client opens.
check "backup writes a copy" ctl backup "$TMP/backup.mdb"
check "the backup is a readable LMDB environment" mdb_stat -n -a "$TMP/backup.mdb"
check "the backup holds the key metadata" sh -c "mdb_dump -p -n -s keys '$TMP/backup.mdb' | grep -q k-ED25519"
check "no PIN or token in the backup" sh -c "! grep -q \"\$(cat '$STATE/token-pin')\" '$TMP/backup.mdb' && ! grep -q '$SIGNET_TOKEN' '$TMP/backup.mdb'"
expect_refusal "a plain user cannot take a backup" denied env SIGNET_TOKEN="$DEV" "$SIGNETCTL" --socket "$SOCK" backup "$TMP/backup2.mdb"
check "a refused backup leaves no file" test ! -e "$TMP/backup2.mdb"
check "backup refuses to overwrite" sh -c "! '$SIGNETCTL' --socket '$SOCK' backup '$TMP/backup.mdb' 2>/dev/null"
check "stop at the end" stop_daemon
