#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Signature schemes chosen per request (issue 16 item 1): RSA PKCS#1 v1.5 and PSS with each hash and
# salt, ECDSA DER and raw r||s, prehashed digests of each hash, CMS detached and attached, checked
# with openssl; allowedSchemes of a device configuration refusing the others; an approval bound to
# the scheme it was shown; one new scheme through signet-front, and the scheme's form fields of a
# multipart signing task.
. "$TESTLIB"

: "${SIGNET_FRONT:?SIGNET_FRONT must name the signet-front binary}"
FRONT_PID=
t30_cleanup() {
	_rc=$?
	set +e
	[ -z "$FRONT_PID" ] || { kill -KILL "$FRONT_PID" 2>/dev/null; wait "$FRONT_PID" 2>/dev/null; }
	(exit $_rc)
	cleanup
}
trap t30_cleanup EXIT

chmod 755 "$TMP"
mkdir -m 755 "$TMP/run"
mkdir "$TMP/spool"
chmod 1777 "$TMP/spool"
DSOCK=$TMP/run/signetd.sock
FRONT_USER=
{
	printf '[daemon]\nsocket = %s\nauth_fail_delay_ms = 0\n' "$DSOCK"
	if [ "$(id -u)" = 0 ]; then
		printf 'socket_group = nogroup\ngateway_user = nobody\n'
		FRONT_USER="--user nobody"
	fi
} >"$TMP/signetd.conf"
init_state
for_daemon "$TMP/run"
start_daemon --config "$TMP/signetd.conf"

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json user create carol >"$TMP/out" || fatal "user create carol"
C_TOKEN=$(json .token)
as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "$DSOCK" --token "$_tok" "$@"
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/ca.key" \
	-out "$TMP/ca.pem" -subj "/CN=t30 Root" -days 30 2>/dev/null
# key LABEL ALG [cert]: generate, write its public key to $TMP/LABEL.pub, optionally certify it.
key() {
	ctl key generate "$1" --alg "$2" >/dev/null || fatal "key generate $1"
	ctl --json key show "$1" | jq -r .publicKeyPem >"$TMP/$1.pub"
	[ "${3:-}" = cert ] || return 0
	ctl key csr "$1" --subject "/CN=$1/O=Acme" -o "$TMP/$1.csr" || fatal "key csr $1"
	openssl x509 -req -in "$TMP/$1.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
		-CAcreateserial -out "$TMP/$1.crt" -days 10 2>/dev/null || fatal "certify $1"
	cat "$TMP/$1.crt" "$TMP/ca.pem" >"$TMP/$1.chain"
	ctl key cert "$1" --file "$TMP/$1.chain" >/dev/null || fatal "key cert $1"
}
key rsa RSA_3072 cert
key rsa2 RSA_3072
key rsa3 RSA_3072 cert
key ec ECC_NIST_P256 cert
key ed ED25519
# devconf NAME ARGS...: its id in $TMP/dc.NAME
devconf() {
	_n=$1
	shift
	ctl --json devconf create "$_n" "$@" >"$TMP/out" 2>"$TMP/err" || fatal "devconf create $_n: $(cat "$TMP/err")"
	json .id >"$TMP/dc.$_n"
}
devconf dc-rsa --sign-key rsa --four-eyes off --allow-scheme RSA_PSS --allow-scheme RSA_PKCS1_V15
devconf dc-pss --sign-key rsa2 --four-eyes off
devconf dc-ec --sign-key ec --four-eyes off
devconf dc-ed --sign-key ed --four-eyes off
devconf dc-appr --sign-key rsa3 --four-eyes on --second-factor NONE --approver USER:carol \
	--allow-scheme RSA_PKCS1_V15
DC_RSA=$(cat "$TMP/dc.dc-rsa")
check "devconf show lists the allowed schemes" \
	sh -c "'$SIGNETCTL' --socket '$DSOCK' devconf show dc-rsa | grep -qx 'allowed schemes: RSA_PSS RSA_PKCS1_V15'"
check "devconf show --json holds allowedSchemes" \
	test "$(ctl --json devconf show dc-rsa | jq -c .allowedSchemes)" = '["RSA_PSS","RSA_PKCS1_V15"]'

head -c 100000 /dev/urandom >"$TMP/m.bin"
for h in 256 384 512; do openssl dgst -sha$h -binary "$TMP/m.bin" >"$TMP/m.sha$h"; done

# sign DC OUT ARGS...: a task over m.bin (unless ARGS give the input); its raw signature in OUT.
sign() {
	_dc=$1 _o=$2
	shift 2
	case " $* " in *" --input-base64 "*) ;; *) set -- --file "$TMP/m.bin" "$@" ;; esac
	ctl --json task sign --devconf "$_dc" "$@" >"$TMP/out" 2>"$TMP/err" || {
		not_ok "task sign $*: $(cat "$TMP/err")"
		return 1
	}
	json .result.signature | base64 -d >"$_o"
}

# 1. RSA PKCS#1 v1.5 with every hash, over the file and over a prehashed digest.
for h in 256 384 512; do
	sign dc-rsa "$TMP/v15.$h" --scheme RSA_PKCS1_V15 --hash SHA-$h
	check "RSA_PKCS1_V15 SHA-$h: the result names scheme and hash" \
		test "$(json '.result | "\(.scheme) \(.hash)"')" = "RSA_PKCS1_V15 SHA-$h"
	check "RSA_PKCS1_V15 SHA-$h: openssl dgst -sha$h -verify" \
		openssl dgst -sha$h -verify "$TMP/rsa.pub" -signature "$TMP/v15.$h" "$TMP/m.bin"
	check "RSA_PKCS1_V15 SHA-$h: not a PSS signature" \
		sh -c "! openssl dgst -sha$h -sigopt rsa_padding_mode:pss -verify '$TMP/rsa.pub' -signature '$TMP/v15.$h' '$TMP/m.bin' >/dev/null 2>&1"
	json .result.cms | base64 -d >"$TMP/v15.$h.cms"
	check "RSA_PKCS1_V15 SHA-$h: the detached CMS verifies with -content" \
		openssl cms -verify -binary -inform DER -in "$TMP/v15.$h.cms" -content "$TMP/m.bin" \
		-CAfile "$TMP/ca.pem" -purpose any -out /dev/null
	sign dc-rsa "$TMP/v15p.$h" --scheme RSA_PKCS1_V15 --prehashed --input-base64 "$(base64 -w0 "$TMP/m.sha$h")"
	check "RSA_PKCS1_V15 prehashed SHA-$h (the length names the hash): verifies over the file" \
		openssl dgst -sha$h -verify "$TMP/rsa.pub" -signature "$TMP/v15p.$h" "$TMP/m.bin"
done
sign dc-rsa "$TMP/v15e" --scheme RSA_PKCS1_V15 --hash SHA-384 --prehashed --input-base64 "$(base64 -w0 "$TMP/m.sha384")"
check "RSA_PKCS1_V15 prehashed with an explicit hash SHA-384" \
	openssl dgst -sha384 -verify "$TMP/rsa.pub" -signature "$TMP/v15e" "$TMP/m.bin"
expect_refusal "a hash that does not name the digest's length is invalid" invalid \
	ctl task sign --devconf "$DC_RSA" --scheme RSA_PKCS1_V15 --hash SHA-512 --prehashed --input-base64 "$(base64 -w0 "$TMP/m.sha384")"

# 2. RSA-PSS with each hash and salt length, the key's maximum included (3072 bits: 384 - hLen - 2).
for hs in 256:32 256:0 384:48 512:64 256:350 512:318; do
	h=${hs%%:*} s=${hs#*:}
	sign dc-rsa "$TMP/pss.$h.$s" --scheme RSA_PSS --hash SHA-$h --salt-length "$s"
	check "RSA_PSS SHA-$h salt $s: openssl verifies with rsa_pss_saltlen:$s" \
		openssl dgst -sha$h -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:"$s" \
		-verify "$TMP/rsa.pub" -signature "$TMP/pss.$h.$s" "$TMP/m.bin"
done
json .result.cms | base64 -d >"$TMP/pss.cms"
check "RSA_PSS SHA-512 salt 318: the CMS verifies (its PSS parameters say so)" \
	openssl cms -verify -binary -inform DER -in "$TMP/pss.cms" -content "$TMP/m.bin" \
	-CAfile "$TMP/ca.pem" -purpose any -out /dev/null
sign dc-rsa "$TMP/pssp" --scheme RSA_PSS --prehashed --input-base64 "$(base64 -w0 "$TMP/m.sha512")"
check "RSA_PSS prehashed SHA-512, default salt 32" \
	openssl dgst -sha512 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$TMP/rsa.pub" -signature "$TMP/pssp" "$TMP/m.bin"
expect_refusal "a salt above the key's maximum is invalid" invalid \
	ctl task sign --devconf "$DC_RSA" --file "$TMP/m.bin" --scheme RSA_PSS --hash SHA-256 --salt-length 351
check "... saying the maximum" grep -q "at most 350 bytes" "$TMP/err"
# Today's request, unchanged: PSS, SHA-256, salt 32.
sign dc-rsa "$TMP/def"
check "no scheme: RSA_PSS SHA-256 as before" test "$(json '.result | "\(.scheme) \(.hash)"')" = "RSA_PSS SHA-256"
check "no scheme: verifies with salt 32" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$TMP/rsa.pub" -signature "$TMP/def" "$TMP/m.bin"
expect_refusal "a legacy prehashed request keeps its rule (a SHA-384 digest for an RSA key)" invalid \
	ctl task sign --devconf "$DC_RSA" --prehashed --input-base64 "$(base64 -w0 "$TMP/m.sha384")"

# 3. ECDSA: DER (default) and raw r||s, with each hash.
der_of_raw() {
	python3 - "$1" "$2" <<'PY'
import sys
raw = open(sys.argv[1], 'rb').read()
def integer(b):
    b = b.lstrip(b'\0') or b'\0'
    if b[0] & 0x80:
        b = b'\0' + b
    return b'\x02' + bytes([len(b)]) + b
n = len(raw) // 2
body = integer(raw[:n]) + integer(raw[n:])
open(sys.argv[2], 'wb').write(b'\x30' + bytes([len(body)]) + body)
PY
}
for h in 256 384 512; do
	sign dc-ec "$TMP/ecr.$h" --encoding raw --hash SHA-$h
	check "ECDSA raw SHA-$h: the result says encoding raw" \
		test "$(json '.result | "\(.scheme) \(.hash) \(.encoding)"')" = "ECDSA SHA-$h raw"
	check "ECDSA raw SHA-$h: 64 bytes, r||s" test "$(wc -c <"$TMP/ecr.$h")" -eq 64
	der_of_raw "$TMP/ecr.$h" "$TMP/ecr.$h.der"
	check "ECDSA raw SHA-$h: converted to DER, openssl verifies it" \
		openssl dgst -sha$h -verify "$TMP/ec.pub" -signature "$TMP/ecr.$h.der" "$TMP/m.bin"
	sign dc-ec "$TMP/ecd.$h" --hash SHA-$h
	check "ECDSA DER SHA-$h: openssl verifies it" \
		openssl dgst -sha$h -verify "$TMP/ec.pub" -signature "$TMP/ecd.$h" "$TMP/m.bin"
done
sign dc-ec "$TMP/ecp" --scheme ECDSA --encoding raw --prehashed --input-base64 "$(base64 -w0 "$TMP/m.sha384")"
der_of_raw "$TMP/ecp" "$TMP/ecp.der"
check "ECDSA raw over a prehashed SHA-384 digest" \
	openssl dgst -sha384 -verify "$TMP/ec.pub" -signature "$TMP/ecp.der" "$TMP/m.bin"

# 4. CMS with the content attached (a bundle manifest, at most 32 KiB): openssl cms -verify
# without -content.
head -c 20000 /dev/urandom >"$TMP/manifest"
sign dc-ec "$TMP/att.sig" --file "$TMP/manifest" --attach
json .result.cms | base64 -d >"$TMP/att.cms"
check "attach: openssl cms -verify without -content, and the content comes out" \
	openssl cms -verify -binary -inform DER -in "$TMP/att.cms" -CAfile "$TMP/ca.pem" -purpose any \
	-out "$TMP/att.out"
check "attach: the embedded content is the input" cmp -s "$TMP/att.out" "$TMP/manifest"
expect_refusal "attach with more than 32 KiB is too_large" too_large \
	ctl task sign --devconf "$(cat "$TMP/dc.dc-ec")" --file "$TMP/m.bin" --attach
sign dc-rsa "$TMP/att2.sig" --file "$TMP/manifest" --attach --scheme RSA_PKCS1_V15 --hash SHA-384
json .result.cms | base64 -d >"$TMP/att2.cms"
check "attach with RSA_PKCS1_V15 SHA-384: verifies without -content" \
	openssl cms -verify -binary -inform DER -in "$TMP/att2.cms" -CAfile "$TMP/ca.pem" -purpose any \
	-out "$TMP/att2.out"
check "... and holds the input" cmp -s "$TMP/att2.out" "$TMP/manifest"
openssl dgst -sha384 -verify "$TMP/rsa.pub" -signature "$TMP/att2.sig" "$TMP/manifest" >/dev/null &&
	ok "... beside a raw v1.5 SHA-384 signature of the content"
expect_refusal "attach for a key without a certificate is invalid" invalid \
	ctl task sign --devconf "$(cat "$TMP/dc.dc-pss")" --file "$TMP/m.bin" --attach
expect_refusal "attach with a prehashed input is invalid" invalid \
	ctl task sign --devconf "$DC_RSA" --attach --prehashed --input-base64 "$(base64 -w0 "$TMP/m.sha256")"

# 5. What does not fit the key, and what the device configuration does not allow.
expect_refusal "RSA_PKCS1_V15 with an EC key is invalid" invalid \
	ctl task sign --devconf "$(cat "$TMP/dc.dc-ec")" --file "$TMP/m.bin" --scheme RSA_PKCS1_V15
expect_refusal "a salt length for ECDSA is invalid" invalid \
	ctl task sign --devconf "$(cat "$TMP/dc.dc-ec")" --file "$TMP/m.bin" --salt-length 32
expect_refusal "an encoding for RSA is invalid" invalid \
	ctl task sign --devconf "$DC_RSA" --file "$TMP/m.bin" --encoding raw
expect_refusal "a hash for EdDSA is invalid" invalid \
	ctl task sign --devconf "$(cat "$TMP/dc.dc-ed")" --file "$TMP/m.bin" --hash SHA-512
expect_refusal "an unknown scheme is invalid" invalid \
	ctl task sign --devconf "$DC_RSA" --file "$TMP/m.bin" --scheme RSA_X509
expect_refusal "the default device configuration (PSS only) refuses RSA_PKCS1_V15: denied" denied \
	ctl task sign --devconf "$(cat "$TMP/dc.dc-pss")" --file "$TMP/m.bin" --scheme RSA_PKCS1_V15
check "... saying which schemes it allows" grep -q "does not allow RSA_PKCS1_V15 signatures (allowedSchemes: RSA_PSS, ECDSA, EDDSA)" "$TMP/err"
check "... and nothing was stored" test "$(ctl --json task list | jq '[.tasks[] | select(.deviceConfigName == "dc-pss")] | length')" -eq 0
ctl devconf update dc-rsa --allow-scheme ECDSA >/dev/null 2>"$TMP/err" || not_ok "devconf update: $(cat "$TMP/err")"
expect_refusal "after the officer forbids RSA_PKCS1_V15 on dc-rsa: denied" denied \
	ctl task sign --devconf "$DC_RSA" --file "$TMP/m.bin" --scheme RSA_PKCS1_V15
expect_refusal "... and PSS too, now that only ECDSA is allowed" denied \
	ctl task sign --devconf "$DC_RSA" --file "$TMP/m.bin"
ctl devconf update dc-rsa --allow-scheme RSA_PSS --allow-scheme RSA_PKCS1_V15 >/dev/null
devconf dc-rsa-pss --sign-key rsa --four-eyes off
expect_refusal "a configuration that signs with the same key and allows only PSS forbids v1.5 on the key" denied \
	ctl task sign --devconf "$DC_RSA" --file "$TMP/m.bin" --scheme RSA_PKCS1_V15
check "... naming it" grep -q "dc-rsa-pss, which signs with the same key rsa" "$TMP/err"
check "... and what it allows, not what all of them allow together ($(cat "$TMP/err"))" \
	grep -q "does not allow RSA_PKCS1_V15 signatures (allowedSchemes: RSA_PSS, ECDSA, EDDSA)" "$TMP/err"
ctl devconf disable dc-rsa-pss >/dev/null
sign dc-rsa "$TMP/again" --scheme RSA_PKCS1_V15 && ok "once it is disabled, v1.5 is allowed again"

# 6. Approval: the approver sees the scheme; execution uses exactly it.
openssl dgst -sha512 -binary "$TMP/manifest" >"$TMP/man.sha512"
ctl --json task sign --devconf "$(cat "$TMP/dc.dc-appr")" --file "$TMP/manifest" --hash SHA-512 --attach \
	>"$TMP/out" 2>"$TMP/err" || not_ok "approval task: $(cat "$TMP/err")"
T=$(json .id)
check "the task waits" test "$(json .status)" = WAITING
as "$C_TOKEN" --json task show "$T" >"$TMP/out"
check "task.show gives the approver the scheme, hash, attach and digest" \
	test "$(json '.signing | "\(.scheme) \(.hash) \(.attach) \(.digest)"')" = "RSA_PKCS1_V15 SHA-512 true $(od -An -tx1 -v "$TMP/man.sha512" | tr -d ' \n')"
check "... and the input's SHA-512" test "$(json '.inputs[0].sha512')" = "$(od -An -tx1 -v "$TMP/man.sha512" | tr -d ' \n')"
as "$C_TOKEN" task show "$T" >"$TMP/show.txt"
check "signetctl task show prints the scheme" grep -q "scheme RSA_PKCS1_V15, hash SHA-512, CMS with the content attached" "$TMP/show.txt"
as "$C_TOKEN" task approve "$T" >/dev/null 2>"$TMP/err" || not_ok "approve: $(cat "$TMP/err")"
ctl --json task wait "$T" --timeout 30 >"$TMP/out" 2>"$TMP/err" || not_ok "task wait: $(cat "$TMP/err")"
check "approved and DONE" test "$(json .status)" = DONE
check "the approval records the scheme it was given" \
	test "$(json '.approvals[0].signingScheme | "\(.scheme) \(.hash) \(.attach)"')" = "RSA_PKCS1_V15 SHA-512 true"
json .result.signature | base64 -d >"$TMP/appr.sig"
check "executed with exactly the recorded scheme: v1.5 SHA-512 verifies" \
	openssl dgst -sha512 -verify "$TMP/rsa3.pub" -signature "$TMP/appr.sig" "$TMP/manifest"
json .result.cms | base64 -d >"$TMP/appr.cms"
check "... and the attached CMS kept for approval verifies without -content" \
	openssl cms -verify -binary -inform DER -in "$TMP/appr.cms" -CAfile "$TMP/ca.pem" -purpose any \
	-out "$TMP/appr.out"
check "... holding the input" cmp -s "$TMP/appr.out" "$TMP/manifest"

# 7. REST: RSA_PKCS1_V15 over a prehashed SHA-512 digest through signet-front.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
"$SIGNET_FRONT" --socket "$DSOCK" --listen "127.0.0.1:$PORT" $FRONT_USER --tmpdir "$TMP/spool" \
	>>"$TMP/front.log" 2>&1 &
FRONT_PID=$!
_i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]; do
	kill -0 "$FRONT_PID" 2>/dev/null || fatal "signet-front exited: $(tail -n 5 "$TMP/front.log")"
	[ $_i -lt 200 ] || fatal "signet-front did not answer /healthz within 10 s"
	sleep 0.05
	_i=$((_i + 1))
done
rest() {
	curl -sS -o "$TMP/out" -w '%{http_code}' -X POST -H "Authorization: Bearer $SIGNET_TOKEN" \
		-H 'X-SE-TENANT: acme' -H 'Content-Type: application/json' --data-binary "$1" \
		"$BASE/api/v1/signingTask"
}
st=$(rest "{\"deviceConfigId\": \"$DC_RSA\", \"inputBase64\": \"$(base64 -w0 "$TMP/m.sha512")\", \"hash\": \"SHA-512\", \"scheme\": \"RSA_PKCS1_V15\"}")
check "REST: 201 for RSA_PKCS1_V15 with hash SHA-512 (got $st: $(head -c 200 "$TMP/out"))" test "$st" = 201
json .result.signature | base64 -d >"$TMP/rest.sig"
check "REST: the result names the scheme" test "$(json .result.scheme)" = RSA_PKCS1_V15
check "REST: openssl dgst -sha512 -verify" \
	openssl dgst -sha512 -verify "$TMP/rsa.pub" -signature "$TMP/rest.sig" "$TMP/m.bin"
st=$(rest "{\"deviceConfigId\": \"$(cat "$TMP/dc.dc-ec")\", \"inputBase64\": \"$(base64 -w0 "$TMP/m.bin" | head -c 2000)\", \"prehashed\": false, \"encoding\": \"raw\"}")
check "REST: ECDSA raw (got $st)" test "$st" = 201 -a "$(json .result.encoding)" = raw
st=$(rest "{\"deviceConfigId\": \"$(cat "$TMP/dc.dc-pss")\", \"inputBase64\": \"$(base64 -w0 "$TMP/m.sha256")\", \"scheme\": \"RSA_PKCS1_V15\"}")
check "REST: a scheme the device configuration forbids is 403 (got $st)" test "$st" = 403

# 8. REST multipart: the scheme's form fields, hash the one signetd computes over the file.
# restf DC FIELDS...: POST m.bin (or a later -F file=...) as a multipart signing task.
restf() {
	_dc=$1
	shift
	case " $* " in *" file=@"*) ;; *) set -- -F "file=@$TMP/m.bin" "$@" ;; esac
	curl -sS -o "$TMP/out" -w '%{http_code}' -X POST -H "Authorization: Bearer $SIGNET_TOKEN" \
		-H 'X-SE-TENANT: acme' -F "deviceConfigId=$_dc" "$@" "$BASE/api/v1/signingTask"
}
st=$(restf "$DC_RSA" -F scheme=RSA_PKCS1_V15 -F hash=SHA-512)
check "multipart: 201 for RSA_PKCS1_V15 hash SHA-512 (got $st: $(head -c 200 "$TMP/out"))" test "$st" = 201
check "multipart: the result names scheme and hash" \
	test "$(json '.result | "\(.scheme) \(.hash)"')" = "RSA_PKCS1_V15 SHA-512"
json .result.signature | base64 -d >"$TMP/mp.v15"
check "multipart: openssl dgst -sha512 -verify over the file" \
	openssl dgst -sha512 -verify "$TMP/rsa.pub" -signature "$TMP/mp.v15" "$TMP/m.bin"
st=$(restf "$DC_RSA" -F scheme=RSA_PSS -F hash=SHA-384 -F saltLength=48)
check "multipart: 201 for RSA_PSS SHA-384 salt 48 (got $st: $(head -c 200 "$TMP/out"))" test "$st" = 201
json .result.signature | base64 -d >"$TMP/mp.pss"
check "multipart: RSA_PSS SHA-384 verifies with rsa_pss_saltlen:48" \
	openssl dgst -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 \
	-verify "$TMP/rsa.pub" -signature "$TMP/mp.pss" "$TMP/m.bin"
check "multipart: ... and not with salt 32 (saltLength was passed on)" \
	sh -c "! openssl dgst -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify '$TMP/rsa.pub' -signature '$TMP/mp.pss' '$TMP/m.bin' >/dev/null 2>&1"
st=$(restf "$(cat "$TMP/dc.dc-ec")" -F scheme=ECDSA -F hash=SHA-384 -F encoding=raw)
check "multipart: 201 for ECDSA SHA-384 raw (got $st: $(head -c 200 "$TMP/out"))" test "$st" = 201
check "multipart: the result says ECDSA SHA-384 raw" \
	test "$(json '.result | "\(.scheme) \(.hash) \(.encoding)"')" = "ECDSA SHA-384 raw"
json .result.signature | base64 -d >"$TMP/mp.ecr"
check "multipart: raw r||s of 64 bytes" test "$(wc -c <"$TMP/mp.ecr")" -eq 64
der_of_raw "$TMP/mp.ecr" "$TMP/mp.ecr.der"
check "multipart: ECDSA raw SHA-384 verifies" \
	openssl dgst -sha384 -verify "$TMP/ec.pub" -signature "$TMP/mp.ecr.der" "$TMP/m.bin"
st=$(restf "$(cat "$TMP/dc.dc-ec")" -F "file=@$TMP/manifest" -F attach=true)
check "multipart: 201 for attach=true (got $st: $(head -c 200 "$TMP/out"))" test "$st" = 201
check "multipart: the result says attached" test "$(json .result.attached)" = true
json .result.cms | base64 -d >"$TMP/mp.cms"
check "multipart: the attached CMS verifies without -content" \
	openssl cms -verify -binary -inform DER -in "$TMP/mp.cms" -CAfile "$TMP/ca.pem" -purpose any \
	-out "$TMP/mp.out"
check "multipart: ... and holds the file" cmp -s "$TMP/mp.out" "$TMP/manifest"
st=$(restf "$(cat "$TMP/dc.dc-ec")" -F "file=@$TMP/manifest" -F attach=false)
check "multipart: attach=false gives a detached CMS (got $st)" \
	test "$st" = 201 -a "$(json '.result.attached // false')" = false
st=$(restf "$DC_RSA" -F saltLength=4x)
check "multipart: saltLength not an integer is 400 (got $st)" test "$st" = 400
check "multipart: ... saying so" grep -q "saltLength must be an integer" "$TMP/out"
st=$(restf "$DC_RSA" -F attach=yes)
check "multipart: attach neither true nor false is 400 (got $st)" test "$st" = 400
st=$(restf "$DC_RSA" -F hash=MD5)
check "multipart: hash MD5 is 400 (got $st)" test "$st" = 400
st=$(restf "$DC_RSA" -F scheme=RSA_PSS -F saltLength=351)
check "multipart: a salt above the key's maximum is 400 (got $st)" test "$st" = 400
st=$(restf "$(cat "$TMP/dc.dc-pss")" -F scheme=RSA_PKCS1_V15)
check "multipart: a scheme the device configuration forbids is 403 (got $st)" test "$st" = 403
st=$(restf "$DC_RSA" -F prehashed=true)
check "multipart: prehashed is not a form field (got $st)" test "$st" = 400

check "stop at the end" stop_daemon
