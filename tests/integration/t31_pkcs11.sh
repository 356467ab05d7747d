#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# libsignet-pkcs11 (doc/pkcs11.md) through real tools: pkcs11-tool lists slots, objects and
# mechanisms and signs with each mechanism (SHA-512 ones included), openssl verifies; openssl
# pkeyutl and cms through the pkcs11 engine; four-eyes approval with a TOTP code while the tool
# waits, and a rejection; threads and a fork() signing at once (p11threads). The image-signing
# tools (sbsign, osslsigncode, rauc) are t34's.
. "$TESTLIB"

: "${SIGNET_PKCS11:?SIGNET_PKCS11 must name libsignet-pkcs11.so}"
M=$SIGNET_PKCS11
ENGINE=$(pkcs11_engine) || ENGINE=

as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "$SOCK" --token "$_tok" "$@"
}
# p11 ARGS...: pkcs11-tool on the module, as bob (SIGNET_TOKEN in the environment).
p11() { SIGNET_TOKEN=$B_TOKEN pkcs11-tool --module "$M" "$@"; }
# raw2der RAW DER: an r||s ECDSA signature as the DER openssl verifies.
raw2der() {
	_n=$(($(wc -c <"$1") / 2))
	_h=$(od -An -v -tx1 "$1" | tr -d ' \n')
	_r=$(printf %s "$_h" | cut -c1-$((_n * 2)))
	_s=$(printf %s "$_h" | cut -c$((_n * 2 + 1))-)
	printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "$_r" "$_s" >"$TMP/asn1.cnf"
	openssl asn1parse -genconf "$TMP/asn1.cnf" -out "$2" >/dev/null
}

printf '[daemon]\nauth_fail_delay_ms = 0\n[tasks]\nworkers = 4\ncapability_grace = 1\n' >"$TMP/main.conf"
init_state
start_daemon --config "$TMP/main.conf"
ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json user create bob >"$TMP/out" || fatal "user create bob"
B_TOKEN=$(json .token)
ctl --json user create carol >"$TMP/out" || fatal "user create carol"
C_TOKEN=$(json .token)
as "$C_TOKEN" --json user otp-enroll carol >"$TMP/out" || fatal "otp-enroll carol"
C_SECRET=$(json .secret)
# bob holds USE on his configurations and nothing on keys: key.show gives him the public parts
# of the keys they sign with, which the module shows as objects.

for k in ec:ECC_NIST_P256 ec384:ECC_NIST_P384 rsa:RSA_3072 ed:ED25519 ecq:ECC_NIST_P256; do
	ctl key generate "${k%%:*}" --alg "${k#*:}" >/dev/null || fatal "key generate $k"
	ctl --json key show "${k%%:*}" | jq -j .publicKeyPem >"$TMP/${k%%:*}.pub"
done
# ec has a certificate, for CMS.
test_ca
key_cert ec "/CN=firmware ec/O=Acme"

mkdc() {
	_n=$1
	shift
	ctl --json devconf create "$_n" "$@" >"$TMP/out" || fatal "devconf create $_n"
}
mkdc dc-ec --sign-key ec --four-eyes off --user USER:bob
mkdc dc-ec384 --sign-key ec384 --four-eyes off --user USER:bob
mkdc dc-rsa --sign-key rsa --four-eyes off --user USER:bob --allow-scheme RSA_PSS \
	--allow-scheme RSA_PKCS1_V15
mkdc dc-ed --sign-key ed --four-eyes off --user USER:bob
mkdc dc-4e --sign-key ecq --four-eyes on --user USER:bob --approver USER:carol
DC4E=$(json .id)
# carol approves only: no slot for her; a configuration bob may not use is no slot of his.
mkdc dc-other --sign-key ecq --four-eyes on --approver USER:carol

export SIGNET_SOCKET="$SOCK"
printf 'firmware image 1.0\n' >"$TMP/msg.bin"
openssl dgst -sha256 -binary "$TMP/msg.bin" >"$TMP/msg.sha256"
openssl dgst -sha384 -binary "$TMP/msg.bin" >"$TMP/msg.sha384"

# --- 0. what bob may read of the keys --------------------------------------------------------
"$SIGNETCTL" --socket "$SOCK" --token "$B_TOKEN" --json key show ec >"$TMP/kshow" 2>"$TMP/err" || say "# bob: key show ec: $(cat "$TMP/err")"
check "bob (USE on dc-ec, no right on KEY) reads key ec's public part" \
	sh -c "jq -r .publicKeyPem '$TMP/kshow' | grep -q '^-----BEGIN PUBLIC KEY-----$'"
check "... the same public key as the officer's" \
	sh -c "jq -j .publicKeyPem '$TMP/kshow' | cmp -s - '$TMP/ec.pub'"
ctl key generate lone --alg ECC_NIST_P256 >/dev/null || fatal "key generate lone"
"$SIGNETCTL" --socket "$SOCK" --token "$B_TOKEN" key show lone >/dev/null 2>"$TMP/err1" && rc=0 || rc=$?
"$SIGNETCTL" --socket "$SOCK" --token "$B_TOKEN" key show no-such-key >/dev/null 2>"$TMP/err2" && rc2=0 || rc2=$?
check "... but not a key no configuration of his signs with: denied ($(cat "$TMP/err1"))" \
	sh -c "[ $rc -ne 0 ] && grep -q denied '$TMP/err1'"
check "... and a key that does not exist is denied alike (no probing of labels)" \
	sh -c "[ $rc2 -ne 0 ] && grep -q denied '$TMP/err2'"
"$SIGNETCTL" --socket "$SOCK" --token "$C_TOKEN" key show ecq >/dev/null 2>"$TMP/err" && rc=0 || rc=$?
check "carol (APPROVE on dc-4e, which gives VIEW) reads key ecq too" test "$rc" -eq 0
check "... the public part only: not the officer's description, creator or bindings" \
	sh -c "jq -e 'has(\"publicKeyPem\") and (has(\"description\") or has(\"createdBy\") or has(\"purposeDeviceConfig\") | not)' '$TMP/kshow' >/dev/null && test -s '$TMP/kshow'"
DCEC=$(ctl --json devconf list | jq -r '.deviceConfigs[] | select(.name == "dc-ec") | .id')
"$SIGNETCTL" --socket "$SOCK" --token "$B_TOKEN" --json key show ec --devconf "$DCEC" >/dev/null 2>"$TMP/err" && rc=0 || rc=$?
check "bob names the configuration (deviceConfig): granted ($(cat "$TMP/err"))" test "$rc" -eq 0
"$SIGNETCTL" --socket "$SOCK" --token "$B_TOKEN" key show ec384 --devconf "$DCEC" >/dev/null 2>"$TMP/err" && rc=0 || rc=$?
check "... but not for a key that configuration does not sign with, though another of his does" \
	sh -c "[ $rc -ne 0 ] && grep -q denied '$TMP/err'"

# --- 1. slots, objects, mechanisms -----------------------------------------------------------
p11 -L >"$TMP/slots" 2>&1
check "pkcs11-tool lists one token per configuration bob uses" \
	sh -c "grep -c 'token label *: dc-' '$TMP/slots' | grep -qx 5"
check "... labelled with the configuration's name, serial its id prefix" \
	grep -q "serial num *: $(printf %.16s "$DC4E")" "$TMP/slots"
check "... and none for the configuration bob may only see" sh -c "! grep -q dc-other '$TMP/slots'"
p11 --token-label dc-ec -O >"$TMP/objs" 2>&1
check "dc-ec holds the private key, the public key and the certificate" \
	sh -c "grep -q 'Private Key Object; EC' '$TMP/objs' && grep -q 'Public Key Object; EC' '$TMP/objs' && grep -q 'Certificate Object' '$TMP/objs'"
check "... labelled with the key's label" grep -q 'label: *ec$' "$TMP/objs"
p11 --token-label dc-ec --read-object --type pubkey --label ec -o "$TMP/ec.p11pub.der" 2>/dev/null
openssl pkey -pubin -inform DER -in "$TMP/ec.p11pub.der" -out "$TMP/ec.p11pub.pem" 2>/dev/null
check "the public key object is the key's public key (CKA_EC_POINT, CKA_EC_PARAMS)" \
	cmp "$TMP/ec.p11pub.pem" "$TMP/ec.pub"
p11 --token-label dc-rsa --read-object --type pubkey --label rsa -o "$TMP/rsa.p11pub.der" 2>/dev/null
openssl pkey -pubin -inform DER -in "$TMP/rsa.p11pub.der" -out "$TMP/rsa.p11pub.pem" 2>/dev/null
check "the RSA public key object is the key's (CKA_MODULUS, CKA_PUBLIC_EXPONENT)" \
	cmp "$TMP/rsa.p11pub.pem" "$TMP/rsa.pub"
p11 --token-label dc-ec -M >"$TMP/mechs" 2>&1
check "dc-ec offers ECDSA, ECDSA-SHA256, ECDSA-SHA384, ECDSA-SHA512" \
	sh -c "grep -q '^  *ECDSA,' '$TMP/mechs' && grep -q 'ECDSA-SHA256' '$TMP/mechs' && grep -q 'ECDSA-SHA384' '$TMP/mechs' && grep -q 'ECDSA-SHA512' '$TMP/mechs'"
p11 --token-label dc-rsa -M >"$TMP/mechs" 2>&1
check "dc-rsa offers RSA-PKCS, SHA256-RSA-PKCS, SHA512-RSA-PKCS, RSA-PKCS-PSS, SHA384-RSA-PKCS-PSS, SHA512-RSA-PKCS-PSS" \
	sh -c "grep -q 'RSA-PKCS,' '$TMP/mechs' && grep -q 'SHA256-RSA-PKCS,' '$TMP/mechs' && grep -q 'SHA512-RSA-PKCS,' '$TMP/mechs' && grep -q '^  *RSA-PKCS-PSS' '$TMP/mechs' && grep -q 'SHA384-RSA-PKCS-PSS' '$TMP/mechs' && grep -q 'SHA512-RSA-PKCS-PSS' '$TMP/mechs'"
p11 --token-label dc-ec --read-object --type privkey --label ec -o "$TMP/priv" >/dev/null 2>&1 || true
check "no private value leaves: reading the private key gives nothing" sh -c "! test -s '$TMP/priv'"
check "... and the key is sensitive, never extractable" \
	sh -c "grep -A12 'Private Key Object' '$TMP/objs' | grep -q 'sensitive' && grep -A12 'Private Key Object' '$TMP/objs' | grep -q 'never extractable'"

# --- 2. each mechanism, verified by openssl -------------------------------------------------
# sign_ok DESC KEY TOKEN MECH INPUT [pkcs11-tool options]: sign INPUT, output in $TMP/sig.
sign_ok() {
	_d=$1 _tl=$2 _m=$3 _in=$4
	shift 4
	rm -f "$TMP/sig"
	if SIGNET_PKCS11_DEBUG=1 p11 --token-label "$_tl" --sign -m "$_m" -i "$_in" -o "$TMP/sig" "$@" >"$TMP/p11.out" 2>&1; then
		ok "pkcs11-tool signs with $_m ($_d)"
	else
		not_ok "pkcs11-tool signs with $_m ($_d): $(tail -n 3 "$TMP/p11.out")"
	fi
}
sign_ok "P-256 digest" dc-ec ECDSA "$TMP/msg.sha256"
check "... a raw r||s of 64 bytes" test "$(wc -c <"$TMP/sig")" -eq 64
raw2der "$TMP/sig" "$TMP/sig.der"
check "... which openssl verifies (as DER)" openssl pkeyutl -verify -pubin -inkey "$TMP/ec.pub" \
	-in "$TMP/msg.sha256" -sigfile "$TMP/sig.der"
sign_ok "P-256, hashed in the module" dc-ec ECDSA-SHA256 "$TMP/msg.bin"
raw2der "$TMP/sig" "$TMP/sig.der"
check "... openssl dgst -sha256 verifies" openssl dgst -sha256 -verify "$TMP/ec.pub" \
	-signature "$TMP/sig.der" "$TMP/msg.bin"
sign_ok "P-384, hashed in the module" dc-ec384 ECDSA-SHA384 "$TMP/msg.bin"
check "... a raw r||s of 96 bytes" test "$(wc -c <"$TMP/sig")" -eq 96
raw2der "$TMP/sig" "$TMP/sig.der"
check "... openssl dgst -sha384 verifies" openssl dgst -sha384 -verify "$TMP/ec384.pub" \
	-signature "$TMP/sig.der" "$TMP/msg.bin"
sign_ok "P-256 with SHA-512, hashed in the module" dc-ec ECDSA-SHA512 "$TMP/msg.bin"
check "... a raw r||s of 64 bytes" test "$(wc -c <"$TMP/sig")" -eq 64
raw2der "$TMP/sig" "$TMP/sig.der"
check "... openssl dgst -sha512 verifies" openssl dgst -sha512 -verify "$TMP/ec.pub" \
	-signature "$TMP/sig.der" "$TMP/msg.bin"
check "... and not as SHA-256 (SHA-512 was signed)" sh -c "! openssl dgst -sha256 -verify '$TMP/ec.pub' \
	-signature '$TMP/sig.der' '$TMP/msg.bin' >/dev/null 2>&1"
sign_ok "P-384 digest" dc-ec384 ECDSA "$TMP/msg.sha384" --signature-format openssl
check "... openssl verifies pkcs11-tool's DER" openssl pkeyutl -verify -pubin \
	-inkey "$TMP/ec384.pub" -in "$TMP/msg.sha384" -sigfile "$TMP/sig"

sign_ok "PSS over a SHA-256 digest, salt 32" dc-rsa RSA-PKCS-PSS "$TMP/msg.sha256" \
	--hash-algorithm SHA256 --mgf MGF1-SHA256 --salt-len 32
check "... openssl verifies PSS with salt 32" openssl pkeyutl -verify -pubin -inkey "$TMP/rsa.pub" \
	-in "$TMP/msg.sha256" -sigfile "$TMP/sig" -pkeyopt rsa_padding_mode:pss \
	-pkeyopt rsa_pss_saltlen:32 -pkeyopt digest:sha256
sign_ok "SHA384-RSA-PKCS-PSS, salt 20" dc-rsa SHA384-RSA-PKCS-PSS "$TMP/msg.bin" \
	--mgf MGF1-SHA384 --salt-len 20
check "... openssl verifies PSS SHA-384 with salt 20" openssl dgst -sha384 -verify "$TMP/rsa.pub" \
	-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:20 -signature "$TMP/sig" "$TMP/msg.bin"
check "... and not with another salt length" sh -c "! openssl dgst -sha384 -verify '$TMP/rsa.pub' \
	-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -signature '$TMP/sig' '$TMP/msg.bin' >/dev/null 2>&1"
sign_ok "SHA512-RSA-PKCS-PSS, salt 64" dc-rsa SHA512-RSA-PKCS-PSS "$TMP/msg.bin" \
	--mgf MGF1-SHA512 --salt-len 64
check "... openssl verifies PSS SHA-512 with salt 64" openssl dgst -sha512 -verify "$TMP/rsa.pub" \
	-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:64 -signature "$TMP/sig" "$TMP/msg.bin"
check "... and not with salt 32" sh -c "! openssl dgst -sha512 -verify '$TMP/rsa.pub' \
	-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -signature '$TMP/sig' '$TMP/msg.bin' >/dev/null 2>&1"
sign_ok "PKCS#1 v1.5 with SHA-512, hashed in the module" dc-rsa SHA512-RSA-PKCS "$TMP/msg.bin"
check "... openssl dgst -sha512 verifies v1.5" openssl dgst -sha512 -verify "$TMP/rsa.pub" \
	-signature "$TMP/sig" "$TMP/msg.bin"
check "... and not as SHA-256" sh -c "! openssl dgst -sha256 -verify '$TMP/rsa.pub' \
	-signature '$TMP/sig' '$TMP/msg.bin' >/dev/null 2>&1"
openssl dgst -sha512 -binary "$TMP/msg.bin" >"$TMP/msg.sha512"
printf '\060\121\060\015\006\011\140\206\110\001\145\003\004\002\003\005\000\004\100' >"$TMP/di512"
cat "$TMP/msg.sha512" >>"$TMP/di512"
sign_ok "PKCS#1 v1.5 over a SHA-512 DigestInfo" dc-rsa RSA-PKCS "$TMP/di512"
check "... openssl dgst -sha512 verifies it" openssl dgst -sha512 -verify "$TMP/rsa.pub" \
	-signature "$TMP/sig" "$TMP/msg.bin"
sign_ok "PKCS#1 v1.5, hashed in the module" dc-rsa SHA256-RSA-PKCS "$TMP/msg.bin"
check "... openssl dgst -sha256 verifies v1.5" openssl dgst -sha256 -verify "$TMP/rsa.pub" \
	-signature "$TMP/sig" "$TMP/msg.bin"
printf '\060\061\060\015\006\011\140\206\110\001\145\003\004\002\001\005\000\004\040' >"$TMP/di"
cat "$TMP/msg.sha256" >>"$TMP/di"
sign_ok "PKCS#1 v1.5 over a DigestInfo" dc-rsa RSA-PKCS "$TMP/di"
check "... openssl dgst -sha256 verifies it" openssl dgst -sha256 -verify "$TMP/rsa.pub" \
	-signature "$TMP/sig" "$TMP/msg.bin"
check "CKM_RSA_PKCS over anything but a DigestInfo is refused (no raw RSA)" \
	sh -c "! SIGNET_TOKEN=$B_TOKEN pkcs11-tool --module '$M' --token-label dc-rsa --sign -m RSA-PKCS -i '$TMP/msg.sha256' -o '$TMP/sig.x' >/dev/null 2>&1"
sign_ok "Ed25519 message" dc-ed EDDSA "$TMP/msg.bin"
check "... openssl verifies Ed25519" openssl pkeyutl -verify -pubin -inkey "$TMP/ed.pub" -rawin \
	-in "$TMP/msg.bin" -sigfile "$TMP/sig"
head -c 40000 /dev/zero >"$TMP/big.bin"
check "an Ed25519 message over the bound is refused" \
	sh -c "! SIGNET_TOKEN=$B_TOKEN pkcs11-tool --module '$M' --token-label dc-ed --sign -m EDDSA -i '$TMP/big.bin' -o '$TMP/sig.x' >/dev/null 2>&1"
ctl --json task list >"$TMP/out"
check "each signature is a task named after the process and the key" \
	sh -c "jq -r '.tasks[].name' '$TMP/out' | grep -q '^pkcs11-tool ec\$'"
SIGNET_TASK_NAME="release 1.0" p11 --token-label dc-ec --sign -m ECDSA -i "$TMP/msg.sha256" \
	-o "$TMP/sig" >/dev/null 2>&1
ctl --json task list >"$TMP/out"
check "SIGNET_TASK_NAME names the task" sh -c "jq -r '.tasks[].name' '$TMP/out' | grep -qx 'release 1.0'"

# --- 3. the login slot: no token in the environment, the PIN is the API token ----------------
env -u SIGNET_TOKEN pkcs11-tool --module "$M" -L >"$TMP/slots" 2>&1
check "without a token there is one login slot" \
	sh -c "grep -c 'token label *: signet' '$TMP/slots' | grep -qx 1 && grep -q 'login required' '$TMP/slots'"
env -u SIGNET_TOKEN pkcs11-tool --module "$M" --login --pin "$B_TOKEN" --sign -m ECDSA \
	--label ec -i "$TMP/msg.sha256" -o "$TMP/sig" >"$TMP/p11.out" 2>&1
raw2der "$TMP/sig" "$TMP/sig.der"
check "C_Login with the API token as PIN signs, and openssl verifies" openssl pkeyutl -verify -pubin \
	-inkey "$TMP/ec.pub" -in "$TMP/msg.sha256" -sigfile "$TMP/sig.der"
check "a wrong PIN is refused" sh -c "! env -u SIGNET_TOKEN pkcs11-tool --module '$M' --login --pin sgn_wrong -O >/dev/null 2>&1"

# --- 4. openssl through the pkcs11 engine -----------------------------------------------------
if [ -n "$ENGINE" ]; then
	engine_conf "$ENGINE" "$M" "$TMP/openssl.cnf"
	export OPENSSL_CONF="$TMP/openssl.cnf"
	URI="pkcs11:token=dc-ec;object=ec;type=private"
	SIGNET_TOKEN=$B_TOKEN openssl pkeyutl -engine pkcs11 -keyform engine -inkey "$URI" -sign \
		-in "$TMP/msg.sha256" -out "$TMP/sig.der" >"$TMP/e.out" 2>&1
	check "openssl pkeyutl -engine pkcs11 signs; openssl verifies" openssl pkeyutl -verify -pubin \
		-inkey "$TMP/ec.pub" -in "$TMP/msg.sha256" -sigfile "$TMP/sig.der"
	SIGNET_TOKEN=$B_TOKEN openssl cms -sign -engine pkcs11 -keyform engine -inkey "$URI" \
		-signer "$TMP/ec.crt" -binary -in "$TMP/msg.bin" -outform DER -out "$TMP/cms.der" \
		>"$TMP/e.out" 2>&1
	check "openssl cms -sign -engine pkcs11 signs; openssl cms -verify verifies" \
		openssl cms -verify -binary -inform DER -in "$TMP/cms.der" -content "$TMP/msg.bin" \
		-CAfile "$TMP/ca.crt" -out /dev/null
	unset OPENSSL_CONF
else
	not_ok "the pkcs11 engine (libengine-pkcs11-openssl) is installed"
fi

# --- 5. four eyes: the tool waits for carol's approval with TOTP ------------------------------
# waiting_task: the id of bob's task waiting on dc-4e, once there is one (60 s at most).
waiting_task() {
	_i=0
	while [ $_i -lt 600 ]; do
		_id=$(ctl --json task list --status WAITING 2>/dev/null |
			jq -r --arg d "$DC4E" '[.tasks[] | select(.deviceConfig == $d or .devconf == $d or .deviceConfigId == $d)][0].id // empty')
		[ -z "$_id" ] || { echo "$_id"; return 0; }
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
rm -f "$TMP/sig4"
p11 --token-label dc-4e --sign -m ECDSA -i "$TMP/msg.sha256" -o "$TMP/sig4" >"$TMP/p11.4e" 2>&1 &
P=$!
T=$(waiting_task) || fatal "no waiting task for pkcs11-tool's signature"
check "pkcs11-tool blocks while the task waits" kill -0 "$P"
as "$C_TOKEN" task approve "$T" --otp "$(oathtool --totp -b "$C_SECRET")" >/dev/null 2>"$TMP/err" ||
	not_ok "carol approves ($(cat "$TMP/err"))"
rc=0
wait "$P" || rc=$?
check "pkcs11-tool finishes once carol approved" test "$rc" -eq 0
raw2der "$TMP/sig4" "$TMP/sig4.der" 2>/dev/null
check "... and its signature verifies" openssl pkeyutl -verify -pubin -inkey "$TMP/ecq.pub" \
	-in "$TMP/msg.sha256" -sigfile "$TMP/sig4.der"

rm -f "$TMP/sig5"
SIGNET_PKCS11_DEBUG=1 p11 --token-label dc-4e --sign -m ECDSA -i "$TMP/msg.sha256" -o "$TMP/sig5" \
	>"$TMP/p11.5" 2>&1 &
P=$!
T=$(waiting_task) || fatal "no waiting task for the second signature"
as "$C_TOKEN" task reject "$T" --reason "not this build" >/dev/null 2>"$TMP/err" ||
	not_ok "carol rejects ($(cat "$TMP/err"))"
rc=0
wait "$P" || rc=$?
check "a rejection makes pkcs11-tool fail" test "$rc" -ne 0
check "... with nothing signed" sh -c "! test -s '$TMP/sig5'"
check "... the reason on stderr with SIGNET_PKCS11_DEBUG" grep -q "REJECTED: not this build" "$TMP/p11.5"
rm -f "$TMP/sig6"
SIGNET_WAIT_TIMEOUT=1 p11 --token-label dc-4e --sign -m ECDSA -i "$TMP/msg.sha256" -o "$TMP/sig6" \
	>/dev/null 2>&1 && rc=0 || rc=$?
check "SIGNET_WAIT_TIMEOUT ends a wait without approval: the tool fails" test "$rc" -ne 0
check "... and the task is cancelled" sh -c "ctl --json task list --status CANCELED | jq -e '.tasks | length >= 1' >/dev/null"

# --- 6. threads and fork ---------------------------------------------------------------------
mkdir -p "$TMP/thr"
SIGNET_TOKEN=$B_TOKEN "$P11THREADS" "$M" 0 8 "$TMP/thr" <"$TMP/msg.sha256" >"$TMP/thr.out" 2>&1 &&
	rc=0 || rc=$?
check "8 threads sign at once, then a forked child (C_GetInfo refused until its C_Initialize) and its parent (p11threads: $(head -c 300 "$TMP/thr.out"))" \
	test "$rc" -eq 0
# The login slot (no SIGNET_TOKEN): an operation begun before C_Logout ends with it.
env -u SIGNET_TOKEN P11THREADS_PIN="$B_TOKEN" "$P11THREADS" "$M" 0 logout >"$TMP/lo.out" 2>&1 &&
	rc=0 || rc=$?
check "on the login slot, a C_Sign after C_Logout is refused, nothing signed, no crash ($(head -c 300 "$TMP/lo.out"))" \
	test "$rc" -eq 0
env -u SIGNET_TOKEN P11THREADS_PIN="$B_TOKEN" "$P11THREADS" "$M" 0 forklogin >"$TMP/fl.out" 2>&1 &&
	rc=0 || rc=$?
check "a forked child inherits nothing: the parent's session is not initialised before C_Initialize, then not logged in, no key; the parent still logged in ($(head -c 300 "$TMP/fl.out"))" \
	test "$rc" -eq 0
nv=0
for f in "$TMP"/thr/sig.*; do
	raw2der "$f" "$f.der"
	openssl pkeyutl -verify -pubin -inkey "$TMP/ec.pub" -in "$TMP/msg.sha256" -sigfile "$f.der" \
		>/dev/null 2>&1 && nv=$((nv + 1))
done
check "... all 10 signatures verify" test "$nv" -eq 10
