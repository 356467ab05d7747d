#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# REST for pipelines (issue 19): a 3 MiB firmware signed through a multipart upload and verified with
# openssl, the one rule of inputBase64 (the message unless prehashed or hash says it is a digest) and
# the wrong-length digest errors, keys for verifiers (the PEM read by openssl), whoami, cancel,
# Location on every 201 followed with curl, the OpenAPI document served and lint-clean, and byte
# ranges of a download (206, 416) compared with cmp. The real signetd and signet-front, and curl.
. "$TESTLIB"

: "${SIGNET_FRONT:?SIGNET_FRONT must name the signet-front binary}"
SRCDIR=$(cd "$(dirname "$TESTLIB")/../.." && pwd)
OPENAPI=$SRCDIR/doc/openapi.yaml
LINT="python3 $SRCDIR/tests/openapi_lint.py"

FRONT_PID=
t27_cleanup() {
	_rc=$?
	set +e
	[ -z "$FRONT_PID" ] || { kill -KILL "$FRONT_PID" 2>/dev/null; wait "$FRONT_PID" 2>/dev/null; }
	if [ $_rc -ne 0 ] || [ "$T_FAIL" -ne 0 ]; then
		tail -n 25 "$TMP/front.log" 2>/dev/null | sed 's/^/# /'
	fi
	(exit $_rc)
	cleanup
}
trap t27_cleanup EXIT

# The front runs as nobody when the test is root: $TMP traversable, the socket's directory 0755.
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
	else
		printf 'max_connections_per_uid = 1000\n'
	fi
} >"$TMP/signetd.conf"
init_state
for_daemon "$TMP/run"
start_daemon --config "$TMP/signetd.conf"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
# The document from the source tree (the compiled-in default is the installed one).
# shellcheck disable=SC2086
"$SIGNET_FRONT" --socket "$DSOCK" --listen "127.0.0.1:$PORT" $FRONT_USER --tmpdir "$TMP/spool" \
	--openapi "$OPENAPI" >>"$TMP/front.log" 2>&1 &
FRONT_PID=$!
_i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]; do
	kill -0 "$FRONT_PID" 2>/dev/null || fatal "signet-front exited: $(tail -n 5 "$TMP/front.log")"
	[ $_i -lt 200 ] || fatal "signet-front did not answer /healthz within 10 s"
	sleep 0.05
	_i=$((_i + 1))
done

# http METHOD PATH TOKEN [curl options...]: the body in $TMP/out, the headers in $TMP/hdr; prints
# the status. PATH may be a whole URL.
http() {
	_m=$1 _p=$2 _t=$3
	shift 3
	rm -f "$TMP/out" "$TMP/hdr"
	[ -z "$_t" ] || set -- -H "Authorization: Bearer $_t" "$@"
	case $_p in http*) ;; *) _p=$BASE$_p ;; esac
	curl -sS -X "$_m" -D "$TMP/hdr" -o "$TMP/out" -w '%{http_code}' "$@" "$_p" 2>"$TMP/curl.err" || true
}
hdr() { grep -i "^$1:" "$TMP/hdr" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r'; }
body() { head -c 300 "$TMP/out" 2>/dev/null | tr '\n' ' '; head -c 100 "$TMP/curl.err" 2>/dev/null; }
post_json() { http POST "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }
# answers DESCRIPTION STATUS CODE METHOD PATH TOKEN [curl options...]
answers() {
	_d=$1 _s=$2 _c=$3
	shift 3
	_got=$(http "$@")
	_gc=$(jq -r '.code // empty' "$TMP/out" 2>/dev/null || true)
	if [ "$_got" = "$_s" ] && { [ -z "$_c" ] || [ "$_gc" = "$_c" ]; }; then
		ok "$_d"
	else
		not_ok "$_d (expected $_s ${_c:-}, got $_got: $(body))"
	fi
}
# message_has TEXT: the last answer's message holds TEXT.
message_has() { jq -r .message "$TMP/out" 2>/dev/null | grep -qF -- "$1"; }
# follows DESCRIPTION JQ-TEST: the last answer's Location, fetched with curl, is 200 and passes JQ-TEST.
follows() {
	_loc=$(hdr Location)
	case $_loc in
	/*)
		_st=$(http GET "$_loc" "$A")
		if [ "$_st" = 200 ] && jq -e "$2" "$TMP/out" >/dev/null 2>&1; then
			ok "$1 (Location $_loc)"
		else
			not_ok "$1 (Location '$_loc': $_st $(body))"
		fi
		;;
	*) not_ok "$1 (no Location: '$_loc')" ;;
	esac
}
b64() { base64 -w0 "$1"; }

###########################################################################################
# 0. A tenant, keys and device configurations, made with signetctl.
ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
A=$SIGNET_TOKEN
ctl --json user create bob >"$TMP/out" || fatal "user create bob"
B=$(json .token)
# ecw is dc-wait's own key: a key's strictest policy applies to all its uses (DESIGN §5).
for k in ec:ECC_NIST_P256 ecw:ECC_NIST_P256 p384:ECC_NIST_P384 rsa:RSA_3072; do
	ctl --json key generate "${k%%:*}" --alg "${k#*:}" >"$TMP/out" || fatal "key generate $k"
	json .publicKeyPem >"$TMP/${k%%:*}.pub"
done
head -c 32 /dev/urandom >"$TMP/aes.raw"
ctl key import aes --alg AES_256 --file "$TMP/aes.raw" >/dev/null || fatal "key import aes"
mkdc() {
	_n=$1
	shift
	ctl --json devconf create "$_n" "$@" >"$TMP/out" || fatal "devconf $_n"
	json .id
}
DC_EC=$(mkdc dc-ec --sign-key ec --four-eyes off)
DC_384=$(mkdc dc-384 --sign-key p384 --four-eyes off)
DC_RSA=$(mkdc dc-rsa --sign-key rsa --four-eyes off)
DC_WAIT=$(mkdc dc-wait --sign-key ecw --four-eyes on --approver USER:bob)
DC_ENC=$(mkdc dc-enc --encrypt-key aes --four-eyes off)
ctl acl add USER:bob "DEVICE_CONFIG:$DC_WAIT" USE >/dev/null || fatal "acl add bob USE"

###########################################################################################
# 1. A 3 MiB firmware signed through multipart: no 413, and the signature verifies.
head -c 3145728 /dev/urandom >"$TMP/fw.bin"
cp "$TMP/fw.bin" "$TMP/fw-other.bin"
printf 'X' | dd of="$TMP/fw-other.bin" bs=1 seek=1000 conv=notrunc 2>/dev/null
st=$(http POST /api/v1/signingTask "$A" -F "deviceConfigId=$DC_EC" -F "file=@$TMP/fw.bin;filename=fw-7.bin")
check "a 3 MiB firmware as multipart on dc-ec: 201 DONE (got $st: $(body))" \
	test "$st/$(jq -r .status "$TMP/out" 2>/dev/null)" = 201/DONE
T_FW=$(jq -r '.id // "none"' "$TMP/out")
jq -r '.result.signature // empty' "$TMP/out" | base64 -d >"$TMP/fw.sig"
check "... the ECDSA signature verifies over the file with openssl dgst -sha256" \
	openssl dgst -sha256 -verify "$TMP/ec.pub" -signature "$TMP/fw.sig" "$TMP/fw.bin"
check "... and not over a file one byte different" \
	sh -c "! openssl dgst -sha256 -verify '$TMP/ec.pub' -signature '$TMP/fw.sig' '$TMP/fw-other.bin' >/dev/null 2>&1"
follows "... its Location is the task, named after the file's own name" \
	".id == \"$T_FW\" and .name == \"fw-7.bin\" and .status == \"DONE\""
st=$(http POST /api/v1/signingTask "$A" -F "deviceConfigId=$DC_RSA" -F "name=fw-rsa" -F "file=@$TMP/fw.bin")
jq -r '.result.signature // empty' "$TMP/out" | base64 -d >"$TMP/fw-rsa.sig"
check "the same file on dc-rsa: 201, an RSA-PSS signature over the message (got $st: $(body))" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$TMP/rsa.pub" -signature "$TMP/fw-rsa.sig" "$TMP/fw.bin"
answers "a multipart signing task whose sha256checksum does not match: 400" 400 invalid \
	POST /api/v1/signingTask "$A" -F "deviceConfigId=$DC_EC" -F "file=@$TMP/fw.bin" \
	-F "sha256checksum=$(sha256sum "$TMP/fw-other.bin" | cut -d' ' -f1)"
answers "a multipart signing task with prehashed: 400 (a file is the message)" 400 invalid \
	POST /api/v1/signingTask "$A" -F "deviceConfigId=$DC_EC" -F "file=@$TMP/fw.bin" -F prehashed=true
answers "a multipart signing task without its file: 400" 400 invalid \
	POST /api/v1/signingTask "$A" -F "deviceConfigId=$DC_EC"

###########################################################################################
# 2. One rule for inputBase64: what prehashed or hash says, for every key; a request that says
# neither keeps the Sign & Encrypt API's rule (DESIGN 8): the SHA-256 digest for RSA-PSS keys.
printf 'release 7.1 manifest\n' >"$TMP/m.bin"
openssl dgst -sha256 -binary "$TMP/m.bin" >"$TMP/m.sha256"
openssl dgst -sha384 -binary "$TMP/m.bin" >"$TMP/m.sha384"
st=$(post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_RSA\", \"inputBase64\": \"$(b64 "$TMP/m.bin")\", \"prehashed\": false}")
jq -r '.result.signature // empty' "$TMP/out" | base64 -d >"$TMP/m-rsa.sig"
check "RSA, inputBase64 with prehashed false is the message: the signature verifies over it (got $st)" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$TMP/rsa.pub" -signature "$TMP/m-rsa.sig" "$TMP/m.bin"
st=$(post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_RSA\", \"inputBase64\": \"$(b64 "$TMP/m.sha256")\", \"hash\": \"SHA-256\"}")
jq -r '.result.signature // empty' "$TMP/out" | base64 -d >"$TMP/m-rsa2.sig"
check "RSA, the digest with hash SHA-256: the signature verifies over the message (got $st)" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$TMP/rsa.pub" -signature "$TMP/m-rsa2.sig" "$TMP/m.bin"
st=$(post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_RSA\", \"inputBase64\": \"$(b64 "$TMP/m.sha256")\"}")
jq -r '.result.signature // empty' "$TMP/out" | base64 -d >"$TMP/m-rsa3.sig"
check "RSA, the digest with neither prehashed nor hash (DESIGN 8): verifies over the message (got $st)" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$TMP/rsa.pub" -signature "$TMP/m-rsa3.sig" "$TMP/m.bin"
st=$(post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_EC\", \"inputBase64\": \"$(b64 "$TMP/m.bin")\"}")
jq -r '.result.signature // empty' "$TMP/out" | base64 -d >"$TMP/m-ec.sig"
check "ECDSA, the message with neither: verifies over the message (got $st)" \
	openssl dgst -sha256 -verify "$TMP/ec.pub" -signature "$TMP/m-ec.sig" "$TMP/m.bin"
st=$(post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_384\", \"inputBase64\": \"$(b64 "$TMP/m.sha384")\", \"prehashed\": true}")
jq -r '.result.signature // empty' "$TMP/out" | base64 -d >"$TMP/m-384.sig"
check "P-384, the SHA-384 digest with prehashed: verifies over the message with -sha384 (got $st)" \
	openssl dgst -sha384 -verify "$TMP/p384.pub" -signature "$TMP/m-384.sig" "$TMP/m.bin"
head -c 20 /dev/urandom >"$TMP/d20"
answers "a 20-byte digest with hash SHA-256: 400" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' \
	--data-binary "{\"deviceConfigId\": \"$DC_EC\", \"inputBase64\": \"$(b64 "$TMP/d20")\", \"hash\": \"SHA-256\"}"
check "... saying what to send: the 32-byte SHA-256 digest ($(body))" \
	message_has "must be the 32-byte SHA-256 digest of the message, not 20 bytes"
answers "a 20-byte digest with prehashed: 400" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' \
	--data-binary "{\"deviceConfigId\": \"$DC_EC\", \"inputBase64\": \"$(b64 "$TMP/d20")\", \"prehashed\": true}"
check "... naming both digest lengths and the key algorithms ($(body))" \
	message_has "32 bytes of SHA-256 (RSA_3072, RSA_4096, ECC_NIST_P256) or 48 bytes of SHA-384 (ECC_NIST_P384), not 20 bytes"
answers "a 32-byte digest for the P-384 key: 400" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' \
	--data-binary "{\"deviceConfigId\": \"$DC_384\", \"inputBase64\": \"$(b64 "$TMP/m.sha256")\", \"prehashed\": true}"
check "... signetd says the key's length: the 48-byte SHA-384 digest ($(body))" \
	message_has "a prehashed input for ECC_NIST_P384 is the 48-byte SHA-384 digest of the message, not 32 bytes"
answers "hash with prehashed false: 400" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' \
	--data-binary "{\"deviceConfigId\": \"$DC_EC\", \"inputBase64\": \"$(b64 "$TMP/m.sha256")\", \"hash\": \"SHA-256\", \"prehashed\": false}"
answers "an unknown hash: 400" 400 invalid POST /api/v1/signingTask "$A" \
	-H 'Content-Type: application/json' \
	--data-binary "{\"deviceConfigId\": \"$DC_EC\", \"inputBase64\": \"$(b64 "$TMP/m.sha256")\", \"hash\": \"MD5\"}"

###########################################################################################
# 3. Keys for verifiers, and whoami.
ctl key csr ec --subject "/CN=fw signer/O=Acme" -o "$TMP/ec.csr" || fatal "key csr"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/ca.key" \
	-out "$TMP/ca.crt" -subj "/CN=Test Root" -days 30 2>/dev/null
openssl x509 -req -in "$TMP/ec.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" -CAcreateserial \
	-out "$TMP/leaf.crt" -days 10 2>/dev/null
cat "$TMP/leaf.crt" "$TMP/ca.crt" >"$TMP/chain.pem"
ctl key cert ec --file "$TMP/chain.pem" >/dev/null || fatal "key cert"
answers "GET /api/v1/keys: 200" 200 "" GET /api/v1/keys "$A"
check "... lists aes, ec, ecw, p384 and rsa" test "$(jq -r '[.keys[].label] | sort | join(" ")' "$TMP/out")" = "aes ec ecw p384 rsa"
answers "GET /api/v1/keys/ec: 200" 200 "" GET /api/v1/keys/ec "$A"
jq -j '.publicKeyPem // empty' "$TMP/out" >"$TMP/ec.rest.pub"
check "... its publicKeyPem is a public key openssl pkey -pubin reads" \
	openssl pkey -pubin -in "$TMP/ec.rest.pub" -noout
openssl pkey -pubin -in "$TMP/ec.rest.pub" -outform DER -out "$TMP/ec.rest.der" 2>/dev/null
openssl pkey -pubin -in "$TMP/ec.pub" -outform DER -out "$TMP/ec.der" 2>/dev/null
check "... the key that signed the firmware" cmp -s "$TMP/ec.rest.der" "$TMP/ec.der"
check "... algorithm ECC_NIST_P256, scheme ECDSA_SHA_256, a prehashed input 32 bytes of SHA-256" \
	test "$(jq -r '[.algorithm, (.schemes | join(",")), .prehash.hash, .prehash.length] | map(tostring) | join(" ")' "$TMP/out")" = "ECC_NIST_P256 ECDSA_SHA_256 SHA-256 32"
check "... purpose SIGNING, bound to a device configuration" \
	test "$(jq -r '.purpose' "$TMP/out")" = SIGNING
jq -r '.chainPem // empty' "$TMP/out" >"$TMP/chain.rest.pem"
check "... its chain: the leaf verifies against the test root with openssl verify" \
	openssl verify -CAfile "$TMP/ca.crt" "$TMP/chain.rest.pem"
answers "GET /api/v1/keys/rsa: RSASSA_PSS_SHA_256" 200 "" GET /api/v1/keys/rsa "$A"
check "... scheme RSASSA_PSS_SHA_256, no chain" \
	test "$(jq -r '[(.schemes | join(",")), (.chainPem // "none")] | join(" ")' "$TMP/out")" = "RSASSA_PSS_SHA_256 none"
jq -j '.publicKeyPem // empty' "$TMP/out" | sed 's/A/B/3' >"$TMP/bad.pub"
check "... (a damaged PEM is refused by the same openssl check)" \
	sh -c "! openssl pkey -pubin -in '$TMP/bad.pub' -noout >/dev/null 2>&1"
answers "GET /api/v1/keys/nosuch: 404" 404 not_found GET /api/v1/keys/nosuch "$A"
answers "GET /api/v1/keys without a token: 401" 401 unauthenticated GET /api/v1/keys ""
answers "GET /api/v1/whoami: 200" 200 "" GET /api/v1/whoami "$B"
check "... bob of acme, not the admin" \
	test "$(jq -r '[.tenant, .user, .admin] | map(tostring) | join(" ")' "$TMP/out")" = "acme bob false"
answers "GET /api/v1/whoami with a bad token: 401" 401 unauthenticated GET /api/v1/whoami sgn_nope

###########################################################################################
# 4. Cancel a waiting task.
st=$(post_json /api/v1/signingTask "$A" "{\"deviceConfigId\": \"$DC_WAIT\", \"inputBase64\": \"$(b64 "$TMP/m.bin")\"}")
check "a task on dc-wait: 201 WAITING (got $st: $(body))" test "$st/$(jq -r .status "$TMP/out")" = 201/WAITING
T_W=$(jq -r '.id // "none"' "$TMP/out")
follows "... its Location is the waiting task" ".id == \"$T_W\" and .status == \"WAITING\""
answers "bob cancels alice's task: 403 denied" 403 denied POST "/api/v1/signingTask/$T_W/cancel" "$B"
answers "cancel through encryptionTask/{id}: 404" 404 not_found POST "/api/v1/encryptionTask/$T_W/cancel" "$A"
answers "alice cancels it: 200" 200 "" POST "/api/v1/signingTask/$T_W/cancel" "$A"
check "... CANCELED" test "$(jq -r .status "$TMP/out")" = CANCELED
check "... and signetctl shows it CANCELED" test "$(ctl --json task show "$T_W" | jq -r .status)" = CANCELED
answers "a second cancel: 409 conflict" 409 conflict POST "/api/v1/signingTask/$T_W/cancel" "$A"
answers "GET on cancel: 405" 405 invalid GET "/api/v1/signingTask/$T_W/cancel" "$A"

###########################################################################################
# 5. Location on the other 201s.
st=$(post_json /api/v1/deviceConfig "$A" '{"name": "dc-rest", "signKeys": ["ec"], "fourEyes": false}')
check "POST deviceConfig: 201 (got $st: $(body))" test "$st" = 201
DC_REST=$(jq -r '.id // "none"' "$TMP/out")
follows "... Location is the configuration" ".id == \"$DC_REST\" and .name == \"dc-rest\""
st=$(post_json /api/v1/acl/subjects/rules "$A" "{\"subject\": \"USER:bob\", \"resource\": \"DEVICE_CONFIG:$DC_REST\", \"action\": \"VIEW\"}")
check "POST acl/subjects/rules: 201 (got $st: $(body))" test "$st" = 201
follows "... Location is bob's rules, the new one among them" \
	"any(.subjects[\"USER:bob\"][]; .resource == \"DEVICE_CONFIG:$DC_REST\" and .action == \"VIEW\")"
head -c 100000 /dev/urandom >"$TMP/payload.bin"
st=$(http POST /api/v1/encryptionTask "$A" -F "deviceConfigId=$DC_ENC" -F "file=@$TMP/payload.bin")
check "POST encryptionTask: 201 (got $st: $(body))" test "$st" = 201
T_E=$(jq -r '.id // "none"' "$TMP/out")
follows "... Location is the encryption task" ".id == \"$T_E\" and .type == \"ENCRYPTION\""

###########################################################################################
# 6. Byte ranges of a download.
_n=0
while [ $_n -lt 300 ] && [ "$(ctl --json task show "$T_E" | jq -r .status)" != DONE ]; do
	sleep 0.1
	_n=$((_n + 1))
done
DL=/api/v1/encryptionTask/$T_E/download
st=$(http GET "$DL" "$A")
cp "$TMP/out" "$TMP/full.enc"
SIZE=$(wc -c <"$TMP/full.enc")
SHA=$(hdr X-Checksum-SHA256)
check "the whole download: 200, Accept-Ranges: bytes, its sha256 the header's (got $st)" \
	test "$st $(hdr Accept-Ranges) $(sha256sum "$TMP/full.enc" | cut -d' ' -f1)" = "200 bytes $SHA"
st=$(http GET "$DL" "$A" -H 'Range: bytes=100-1099')
dd if="$TMP/full.enc" of="$TMP/want" bs=1 skip=100 count=1000 2>/dev/null
check "Range: bytes=100-1099: 206, Content-Range bytes 100-1099/$SIZE (got $st $(hdr Content-Range))" \
	test "$st $(hdr Content-Range)" = "206 bytes 100-1099/$SIZE"
check "... the 1000 bytes at 100 (cmp)" cmp "$TMP/out" "$TMP/want"
st=$(http GET "$DL" "$A" -H 'Range: bytes=-500')
tail -c 500 "$TMP/full.enc" >"$TMP/want"
check "Range: bytes=-500: 206, the last 500 bytes (got $st $(hdr Content-Range))" \
	sh -c "test '$st $(hdr Content-Range)' = '206 bytes $((SIZE - 500))-$((SIZE - 1))/$SIZE' && cmp '$TMP/out' '$TMP/want'"
st=$(http GET "$DL" "$A" -H "Range: bytes=$((SIZE - 10))-")
tail -c 10 "$TMP/full.enc" >"$TMP/want"
check "Range: bytes=$((SIZE - 10))-: 206, the last 10 bytes (got $st)" \
	sh -c "test $st = 206 && cmp '$TMP/out' '$TMP/want'"
st=$(http GET "$DL" "$A" -H "Range: bytes=$SIZE-")
check "Range from the file's size: 416, Content-Range bytes */$SIZE (got $st $(hdr Content-Range))" \
	test "$st $(hdr Content-Range)" = "416 bytes */$SIZE"
st=$(http GET "$DL" "$A" -H 'Range: bytes=0-9' -H 'If-Range: "0000"')
check "If-Range naming another file: 200 with the whole file (got $st)" \
	sh -c "test $st = 200 && cmp '$TMP/out' '$TMP/full.enc'"
st=$(http GET "$DL" "$A" -H 'Range: bytes=0-9' -H "If-Range: \"$SHA\"")
head -c 10 "$TMP/full.enc" >"$TMP/want"
check "If-Range naming this file (its ETag): 206 (got $st)" sh -c "test $st = 206 && cmp '$TMP/out' '$TMP/want'"

###########################################################################################
# 7. The OpenAPI document: served without a token, the file itself, lint-clean.
answers "GET /api/openapi.yaml without a token: 200" 200 "" GET /api/openapi.yaml ""
check "... application/yaml, the document byte for byte" \
	sh -c "test '$(hdr Content-Type)' = application/yaml && cmp '$TMP/out' '$OPENAPI'"
cp "$TMP/out" "$TMP/served.yaml"
$LINT "$TMP/served.yaml" >"$TMP/lint.out" 2>&1 || true
check "... lint-clean: the OAS 3.0 schema and our rules ($(head -c 300 "$TMP/lint.out"))" test ! -s "$TMP/lint.out"
for p in /api/v1/keys /api/v1/keys/{label} /api/v1/whoami /api/v1/signingTask/{id}/cancel \
	/api/v1/encryptionTask/{id}/cancel /api/v1/packagingTask/{id}/cancel /api/openapi.yaml; do
	check "... it describes $p" python3 -c "import sys, yaml; sys.exit('$p' not in yaml.safe_load(open('$OPENAPI'))['paths'])"
done
check "... and the multipart body of POST signingTask" python3 -c "import sys, yaml; sys.exit('multipart/form-data' not in yaml.safe_load(open('$OPENAPI'))['paths']['/api/v1/signingTask']['post']['requestBody']['content'])"
# The lint can fail: nullable beside allOf without a type, and a schema error.
python3 - "$OPENAPI" "$TMP/broken.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["components"]["schemas"]["Probe"] = {"nullable": True, "allOf": [{"$ref": "#/components/schemas/Error"}]}
d["paths"]["/api/v1/whoami"]["get"]["responses"]["200"]["bogus"] = 1
yaml.safe_dump(d, open(sys.argv[2], "w"))
PY
erc=0
$LINT "$TMP/broken.yaml" >"$TMP/lint.out" 2>&1 || erc=$?
check "the lint refuses a document with nullable beside allOf and an unknown member (exit $erc)" \
	sh -c "test $erc = 1 && grep -q 'Probe: nullable without type' '$TMP/lint.out' && grep -q '^schema: ' '$TMP/lint.out'"

