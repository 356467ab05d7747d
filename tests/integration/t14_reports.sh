#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Signed system and update reports (DESIGN §10) through the real signet-front and signetd: the
# report signing guide end to end with its own openssl and curl commands (root, intermediate and
# gateway certificates, the root or the intermediate as trust anchor, both upload endpoints), what
# signetctl shows of the reports, every refusal with its HTTP status, code and audit entry, the
# replacement (not merge) of the trusted fingerprint list and its validation, and what the logs
# must not hold.
. "$TESTLIB"

SIGNET_FRONT=${SIGNET_FRONT:-$(dirname "$SIGNETD")/signet-front}

FPID=
# The harness's cleanup, after the front this test started.
t14_cleanup() {
	_rc=$?
	set +e
	if [ -n "$FPID" ]; then
		kill "$FPID" 2>/dev/null
		wait "$FPID" 2>/dev/null
	fi
	if { [ $_rc -ne 0 ] || [ "$T_FAIL" -ne 0 ]; } && [ -f "$TMP/front.log" ]; then
		say "---- signet-front log (last 25 lines) ----"
		tail -n 25 "$TMP/front.log" | sed 's/^/# /'
	fi
	(exit $_rc)
	cleanup
}
trap t14_cleanup EXIT

# What the front (as nobody) must reach: $TMP traversable, the socket in a 0755 directory, a
# spool directory anyone may write.
chmod 755 "$TMP"
mkdir -m 755 "$TMP/run"
# Run as root, signetd drops to DUSER (lib.sh), which makes its socket in $TMP/run.
[ -z "${DUSER:-}" ] || chown "$DUSER" "$TMP/run"
mkdir "$TMP/spool"
chmod 1777 "$TMP/spool"
DSOCK=$TMP/run/signetd.sock
FRONT_USER=
if [ "$(id -u)" = 0 ]; then
	# The front runs as nobody; signetd takes its connections as the gateway's.
	printf '[daemon]\nsocket = %s\nsocket_group = nogroup\ngateway_user = nobody\nauth_fail_delay_ms = 0\n' \
		"$DSOCK" >"$TMP/signetd.conf"
	FRONT_USER="--user nobody"
else
	printf '[daemon]\nsocket = %s\nauth_fail_delay_ms = 0\nmax_connections_per_uid = 1000\n' \
		"$DSOCK" >"$TMP/signetd.conf"
fi

init_state
start_daemon --config "$TMP/signetd.conf"

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
A=$SIGNET_TOKEN
ctl --json user create bob >"$TMP/out" || fatal "user create bob"
B=$(json .token)

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
# shellcheck disable=SC2086
"$SIGNET_FRONT" --socket "$DSOCK" --listen "127.0.0.1:$PORT" $FRONT_USER --tmpdir "$TMP/spool" \
	>>"$TMP/front.log" 2>&1 &
FPID=$!
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]; do
	kill -0 "$FPID" 2>/dev/null || fatal "signet-front exited during start: $(tail -n 5 "$TMP/front.log")"
	[ $i -lt 200 ] || fatal "signet-front did not answer /healthz within 10 s"
	sleep 0.05
	i=$((i + 1))
done

CFG=/api/mgmt/v1/tenant-config/soup.report.validation.trusted.cert.fingerprints

# body: the start of the last answer, for messages.
body() { head -c 200 "$TMP/out" 2>/dev/null | tr '\n' ' '; head -c 100 "$TMP/curl.err" 2>/dev/null; }
# upload ENDPOINT FILE [TOKEN]: POST FILE as signedReport to /api/install/v1/ENDPOINT; the body
# lands in $TMP/out; prints the status (000 when no answer came).
upload() {
	rm -f "$TMP/out"
	curl -sS -X POST "$BASE/api/install/v1/$1" --form "signedReport=@\"$2\"" \
		--header "Authorization: Bearer ${3:-$A}" -o "$TMP/out" -w '%{http_code}' \
		2>"$TMP/curl.err" || true
}
# answer DESCRIPTION STATUS CODE GOT: GOT, the status of the last answer, is STATUS and, unless CODE
# is empty, the JSON body's code is CODE.
answer() {
	_gc=$(jq -r '.code // empty' "$TMP/out" 2>/dev/null || true)
	if [ "$4" = "$2" ] && { [ -z "$3" ] || [ "$_gc" = "$3" ]; }; then
		ok "$1"
	else
		not_ok "$1 (expected $2 $3, got $4: $(body))"
	fi
}
# set_anchors JSON-ARRAY [TOKEN]: POST the tenant config as the guide does; prints the status.
set_anchors() {
	rm -f "$TMP/out"
	curl -sS -X POST "$BASE$CFG" -H 'Content-Type: application/json' \
		-H "Authorization: Bearer ${2:-$A}" -d "{\"value\": $1}" -o "$TMP/out" \
		-w '%{http_code}' 2>"$TMP/curl.err" || true
}
# anchors: the configured list as the REST GET shows it, compact.
anchors() {
	curl -sS "$BASE$CFG" -H "Authorization: Bearer $A" 2>/dev/null | jq -c .value
}
# fp FILE: the SHA-256 fingerprint of a PEM certificate, as the guide has openssl print it.
fp() { openssl x509 -noout -fingerprint -sha256 -inform pem -in "$1" | sed 's/^.*Fingerprint=//'; }
# refusals: how many refusal entries (verb not CREATED) of report.submit the tenant's audit has.
refusals() {
	ctl --json audit list | jq '[.entries[] | select(.resource == "OP:report.submit" and .verb != "CREATED")] | length'
}
# last_refusal: verb and message of the newest such entry.
last_refusal() {
	ctl --json audit list |
		jq -r '[.entries[] | select(.resource == "OP:report.submit" and .verb != "CREATED")] | max_by(.seq) | .verb + " " + .message'
}
# refused DESCRIPTION STATUS CODE VERB ENDPOINT FILE: the upload is answered STATUS with a JSON
# body whose code is CODE, and the audit gets one more refusal of report.submit, with VERB,
# whose message names the op and CODE ("report.submit refused: denied: untrusted: ...").
refused() {
	_d=$1 _s=$2 _c=$3 _v=$4
	_n0=$(refusals)
	_got=$(upload "$5" "$6")
	_gc=$(jq -r '.code // empty' "$TMP/out" 2>/dev/null || true)
	if [ "$_got" = "$_s" ] && [ "$_gc" = "$_c" ]; then
		ok "$_d: $_s $_c"
	else
		not_ok "$_d (expected $_s $_c, got $_got: $(body))"
	fi
	_n1=$(refusals)
	_last=$(last_refusal)
	if [ "$_n1" = $((_n0 + 1)) ] &&
		case $_last in "$_v report.submit refused: "*": $_c: "*) true ;; *) false ;; esac; then
		ok "... and the audit has one more refusal of report.submit ($_last)"
	else
		not_ok "... and the audit has one more refusal of report.submit (before $_n0, after $_n1, newest: $_last)"
	fi
}
# accepted DESCRIPTION ENDPOINT FILE KIND ANCHOR: 201 with the gateway's identity, KIND, and ANCHOR
# as the fingerprint that matched; the id goes to $TMP/ids.
accepted() {
	_got=$(upload "$2" "$3")
	if [ "$_got" = 201 ] &&
		jq -e --arg k "$4" --arg a "$5" --arg g "$GW_CN" --arg s "CN=$GW_CN" --arg f "$GW_FP" \
			'(.id | type == "string" and length > 0) and .kind == $k and .gatewayId == $g and
			 .signerSubject == $s and .signerFingerprint == $f and .anchorFingerprint == $a and
			 (has("content") | not)' "$TMP/out" >/dev/null 2>&1; then
		ok "$1: 201, id, kind $4, gatewayId, signerSubject, signerFingerprint, anchor"
		jq -r .id "$TMP/out" >>"$TMP/ids"
	else
		not_ok "$1 (expected 201 with the gateway's identity, got $_got: $(body))"
	fi
}
: >"$TMP/ids"

###########################################################################################
# 1. The guide's certificate chain, made with its own commands (-subj instead of the prompts).
PKI=$TMP/pki
mkdir "$PKI"
GW_CN=GATEWAY
(
	cd "$PKI"
	# Root CA
	openssl ecparam -name prime256v1 -genkey -noout -out ca_root.key
	openssl req -x509 -new -key ca_root.key -sha256 -days 1024 -out ca_root.crt -subj /CN=ROOT
	# Intermediate CA
	openssl ecparam -name prime256v1 -genkey -noout -out ca_intermediate.key
	openssl req -key ca_intermediate.key -new -sha256 -out ca_intermediate.csr -subj /CN=INTERMEDIATE
	cat >ca-config.ext <<'EOF'
authorityKeyIdentifier=keyid,issuer
basicConstraints=CA:TRUE
keyUsage=keyCertSign,cRLSign,digitalSignature
EOF
	# The guide creates ca-config.ext but passes -extfile domainCA.ext: the same file.
	cp ca-config.ext domainCA.ext
	openssl x509 -req -in ca_intermediate.csr -CA ca_root.crt -CAkey ca_root.key -CAcreateserial \
		-out ca_intermediate.crt -days 356 -sha256 -extfile domainCA.ext
	# Gateway
	openssl ecparam -name prime256v1 -genkey -noout -out gateway.key
	openssl req -key gateway.key -new -out gateway.csr -subj "/CN=$GW_CN"
	openssl x509 -req -CA ca_intermediate.crt -days 365 -CAkey ca_intermediate.key -in gateway.csr \
		-out gateway.crt
	cat ca_intermediate.crt ca_root.crt >cert-chain.crt
	# The guide's report, and an update report
	cat >systemreport.json <<'EOF'
{
"timeStamp": "1684201667",
"gatewayId": "101012902",
"values": [
{
"Id": "1",
"ModuleSerialNumber": "m1.1"
},
{
"Id": "2",
"ModuleSerialNumber": "gw1",
"ProductUuid": "101012902"
}
]
}
EOF
	cat >updatereport.json <<'EOF'
{
"timeStamp": "1684201668",
"gatewayId": "101012902",
"UpdateStatus": "SUCCESS",
"values": [{"Id": "1", "SoftwareVersion": "4.2.0"}]
}
EOF
	openssl cms -sign -in systemreport.json -out systemreport.msg.signed -signer gateway.crt \
		-inkey gateway.key -certfile cert-chain.crt -text
	openssl cms -sign -in updatereport.json -out updatereport.msg.signed -signer gateway.crt \
		-inkey gateway.key -certfile cert-chain.crt -text
) >"$TMP/pki.log" 2>&1 || fatal "the guide's openssl commands failed: $(tail -n 5 "$TMP/pki.log")"
# fresh NAME JSON: JSON signed again by the gateway (each signature differs: a new message;
# the same message twice is stored once).
fresh() {
	(cd "$PKI" && openssl cms -sign -in "$2" -out "$1" -signer gateway.crt -inkey gateway.key \
		-certfile cert-chain.crt -text) >/dev/null 2>&1 || fatal "signing $2 again"
	echo "$PKI/$1"
}
ROOT_FP=$(fp "$PKI/ca_root.crt")
INT_FP=$(fp "$PKI/ca_intermediate.crt")
GW_FP=$(fp "$PKI/gateway.crt")
check "the guide's fingerprint command prints 32 colon-separated upper-case hex pairs" \
	sh -c "printf '%s\n' '$ROOT_FP' | grep -qxE '([0-9A-F]{2}:){31}[0-9A-F]{2}'"
check "the signed report is S/MIME multipart/signed, as the guide shows" \
	grep -q '^Content-Type: multipart/signed; protocol="application/pkcs7-signature"' \
	"$PKI/systemreport.msg.signed"

###########################################################################################
# 2. Before any anchor: the default list is empty and a report is refused with no_anchor.
check "the tenant config holds no fingerprint at first" test "$(anchors)" = "[]"
refused "a report before any anchor is configured" 409 no_anchor REFUSED system-reports \
	"$PKI/systemreport.msg.signed"

###########################################################################################
# 3. The guide end to end: the root as anchor, set with its curl (no X-SE-TENANT), then uploaded
#    with its curl.
st=$(curl -sS -X 'POST' \
	"$BASE/api/mgmt/v1/tenant-config/soup.report.validation.trusted.cert.fingerprints" \
	-H 'Content-Type: application/json' \
	-H "Authorization: Bearer $A" \
	-d "{\"value\": [\"$ROOT_FP\"]}" -o "$TMP/out" -w '%{http_code}' 2>"$TMP/curl.err" || true)
check "the guide's tenant-config POST (no X-SE-TENANT) is 200 and echoes the list" \
	test "$st $(jq -c .value "$TMP/out" 2>/dev/null)" = "200 [\"$ROOT_FP\"]"
check "GET shows the root's fingerprint as the only anchor" test "$(anchors)" = "[\"$ROOT_FP\"]"
st=$(cd "$PKI" || exit; curl -sS -X 'POST' \
	"$BASE/api/install/v1/system-reports" \
	--form 'signedReport=@"./systemreport.msg.signed"' \
	--header "Authorization: Bearer $A" -o "$TMP/out" -w '%{http_code}' 2>"$TMP/curl.err" || true)
if [ "$st" = 201 ] &&
	jq -e --arg g "$GW_CN" --arg f "$GW_FP" --arg a "$ROOT_FP" \
		'(.id | length > 0) and .kind == "SYSTEM" and .gatewayId == $g and .signerSubject == "CN=" + $g
		 and .signerFingerprint == $f and .anchorFingerprint == $a' "$TMP/out" >/dev/null; then
	ok "the guide's upload is 201 with id, gatewayId = the gateway's CN, signerSubject, signerFingerprint = openssl's, anchor = root"
	jq -r .id "$TMP/out" >>"$TMP/ids"
else
	not_ok "the guide's upload (expected 201 with the gateway's identity, got $st: $(body))"
fi
check "... the answer's sha256 is that of the uploaded file" \
	test "$(jq -r .sha256 "$TMP/out")" = "$(sha256sum <"$PKI/systemreport.msg.signed" | cut -d' ' -f1)"
check "... and its size that of the file" \
	test "$(jq -r .size "$TMP/out")" = "$(wc -c <"$PKI/systemreport.msg.signed" | tr -d ' ')"
accepted "the update report on /update-reports, root as anchor" update-reports \
	"$PKI/updatereport.msg.signed" UPDATE "$ROOT_FP"

# The intermediate as the only anchor.
check "set the intermediate as the only anchor" test "$(set_anchors "[\"$INT_FP\"]")" = 200
check "GET shows only the intermediate" test "$(anchors)" = "[\"$INT_FP\"]"
accepted "the system report with the intermediate as the only anchor" system-reports \
	"$(fresh sys2.signed systemreport.json)" SYSTEM "$INT_FP"
accepted "the update report with the intermediate as the only anchor" update-reports \
	"$(fresh upd2.signed updatereport.json)" UPDATE "$INT_FP"
# The same message again: not stored twice, the first record comes back.
FIRST=$(head -n 1 "$TMP/ids")
st=$(upload system-reports "$PKI/systemreport.msg.signed")
check "the same signed report again: 201 with the first report's id, marked duplicate" \
	test "$st $(jq -c '[.id, .duplicate]' "$TMP/out" 2>/dev/null)" = "201 [\"$FIRST\",true]"

# signetctl's view.
ctl --json report list >"$TMP/out" 2>"$TMP/err" || not_ok "report list ($(cat "$TMP/err"))"
check "signetctl report list holds the four accepted reports, by id" \
	test "$(jq -r '.reports[].id' "$TMP/out" | sort | tr '\n' ' ')" = "$(sort "$TMP/ids" | tr '\n' ' ')"
check "... two SYSTEM and two UPDATE, all from the gateway, none with its content" \
	test "$(jq -c '[(.reports | map(.kind) | sort), (.reports | map(.gatewayId) | unique), (.reports | map(has("content")) | unique)]' "$TMP/out")" = "[[\"SYSTEM\",\"SYSTEM\",\"UPDATE\",\"UPDATE\"],[\"$GW_CN\"],[false]]"
ctl report list >"$TMP/out" 2>"$TMP/err" || not_ok "report list, text ($(cat "$TMP/err"))"
check "the text report list has one line per report, each with its id and the gateway" \
	test "$(grep -c "	$GW_CN	CN=$GW_CN	" "$TMP/out")" = 4
ctl report verify "$PKI/systemreport.msg.signed" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "report verify ($(cat "$TMP/err"))"
check "signetctl report verify FILE prints valid, the gateway and the signer's fingerprint" \
	test "$(grep -c -e '^valid: yes$' -e "^gateway: $GW_CN\$" -e "^signer fingerprint: $GW_FP\$" "$TMP/out")" = 3
ctl --json report verify "$PKI/systemreport.msg.signed" >"$TMP/out" 2>"$TMP/err" || true
check "report verify --json: valid true, anchor the intermediate" \
	test "$(jq -c '[.valid, .anchorFingerprint]' "$TMP/out")" = "[true,\"$INT_FP\"]"
ctl --json report list >"$TMP/out" 2>/dev/null || true
check "report verify stores nothing" test "$(jq '.reports | length' "$TMP/out")" = 4
ctl --json report submit "$PKI/updatereport.msg.signed" --type UPDATE >"$TMP/out" 2>"$TMP/err" || true
check "signetctl report submit --type UPDATE stores an UPDATE report" \
	test "$(jq -r '.kind + " " + .gatewayId' "$TMP/out" 2>/dev/null)" = "UPDATE $GW_CN"

###########################################################################################
# 4. Refusals, with the root as the only anchor.
check "the root as the only anchor again" test "$(set_anchors "[\"$ROOT_FP\"]")" = 200
(
	cd "$PKI"
	# A self-made PKI with the same names.
	openssl ecparam -name prime256v1 -genkey -noout -out evil_root.key
	openssl req -x509 -new -key evil_root.key -sha256 -days 1024 -out evil_root.crt -subj /CN=ROOT
	openssl ecparam -name prime256v1 -genkey -noout -out evil_gw.key
	openssl req -key evil_gw.key -new -out evil_gw.csr -subj "/CN=$GW_CN"
	openssl x509 -req -CA evil_root.crt -days 365 -CAkey evil_root.key -in evil_gw.csr -out evil_gw.crt
	openssl cms -sign -in systemreport.json -out evil.msg.signed -signer evil_gw.crt \
		-inkey evil_gw.key -certfile evil_root.crt -text
	# The same, with the genuine root added to the certificates of the message.
	cat evil_root.crt ca_root.crt >evil-chain.crt
	openssl cms -sign -in systemreport.json -out evil2.msg.signed -signer evil_gw.crt \
		-inkey evil_gw.key -certfile evil-chain.crt -text
	# Without the chain: only the gateway's certificate in the message.
	openssl cms -sign -in systemreport.json -out nochain.msg.signed -signer gateway.crt \
		-inkey gateway.key -text
	# A signed text that is not JSON.
	printf 'Gateway 101012902 reports: everything fine.\n' >notjson.txt
	openssl cms -sign -in notjson.txt -out notjson.msg.signed -signer gateway.crt \
		-inkey gateway.key -certfile cert-chain.crt -text
	# A gateway certificate that expired in 2021, issued with `openssl ca` (this openssl's x509
	# has no -not_before/-not_after).
	mkdir ca.db
	: >ca.db/index.txt
	echo 1000 >ca.db/serial
	cat >ca.cnf <<'EOF'
[ca]
default_ca = int
[int]
dir = ca.db
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = any
[any]
commonName = supplied
EOF
	openssl ecparam -name prime256v1 -genkey -noout -out expired.key
	openssl req -key expired.key -new -out expired.csr -subj /CN=EXPIRED
	openssl ca -batch -config ca.cnf -cert ca_intermediate.crt -keyfile ca_intermediate.key \
		-in expired.csr -out expired.crt -startdate 20200101000000Z -enddate 20210101000000Z -notext
	openssl cms -sign -in systemreport.json -out expired.msg.signed -signer expired.crt \
		-inkey expired.key -certfile cert-chain.crt -text
	# And one valid only from 2099 on.
	openssl ecparam -name prime256v1 -genkey -noout -out future.key
	openssl req -key future.key -new -out future.csr -subj /CN=FUTURE
	openssl ca -batch -config ca.cnf -cert ca_intermediate.crt -keyfile ca_intermediate.key \
		-in future.csr -out future.crt -startdate 20990101000000Z -enddate 20991231000000Z -notext
	openssl cms -sign -in systemreport.json -out future.msg.signed -signer future.crt \
		-inkey future.key -certfile cert-chain.crt -text
) >"$TMP/pki2.log" 2>&1 || fatal "making the refused reports failed: $(tail -n 5 "$TMP/pki2.log")"
check "the expired gateway certificate's notAfter is in 2021" \
	sh -c "openssl x509 -noout -enddate -in '$PKI/expired.crt' | grep -q 2021"
# One byte of the content changed: m1.1 -> m1.2.
sed 's/"m1\.1"/"m1.2"/' "$PKI/systemreport.msg.signed" >"$PKI/tampered.msg.signed"
check "the tampered report differs from the signed one in exactly one byte" \
	test "$(cmp -l "$PKI/systemreport.msg.signed" "$PKI/tampered.msg.signed" | wc -l)" = 1
head -c 4096 /dev/urandom >"$PKI/random.bin"
# Between the daemon's 1 MiB and the front's 2 MiB: refused by signetd.
head -c 1572864 /dev/urandom >"$PKI/big.bin"
truncate -s 100M "$PKI/huge.bin"

refused "a report signed under a self-made root" 403 untrusted DENIED system-reports \
	"$PKI/evil.msg.signed"
refused "the same with the genuine root added to its certificates" 403 untrusted DENIED \
	system-reports "$PKI/evil2.msg.signed"
refused "one byte of the content changed" 400 bad_signature REFUSED system-reports \
	"$PKI/tampered.msg.signed"
refused "a gateway certificate that expired" 403 cert_expired DENIED system-reports \
	"$PKI/expired.msg.signed"
refused "a gateway certificate not yet valid" 403 cert_not_yet_valid DENIED system-reports \
	"$PKI/future.msg.signed"
refused "a report signed without the chain, only the root trusted" 403 untrusted DENIED \
	system-reports "$PKI/nochain.msg.signed"
refused "random bytes" 400 not_smime REFUSED system-reports "$PKI/random.bin"
refused "a signed text that is not JSON" 400 not_json REFUSED system-reports \
	"$PKI/notjson.msg.signed"
refused "one byte changed, on /update-reports" 400 bad_signature REFUSED update-reports \
	"$PKI/tampered.msg.signed"
refused "a 1.5 MiB upload (within the front's limit, over signetd's)" 413 too_large REFUSED \
	system-reports "$PKI/big.bin"
ctl report verify "$PKI/tampered.msg.signed" >"$TMP/out" 2>"$TMP/err" && erc=0 || erc=$?
check "signetctl report verify of the tampered report: exit 1, bad_signature" \
	sh -c "[ $erc = 1 ] && grep -q '^signetctl: invalid: bad_signature: ' '$TMP/err'"
# 100 MB: the front refuses it from its Content-Length, before any byte reaches signetd.
r0=$(refusals)
st=$(upload system-reports "$PKI/huge.bin")
answer "a 100 MB upload is 413 too_large" 413 too_large "$st"
check "... the front still answers /healthz" \
	test "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200
accepted "... and still takes a good report" system-reports "$(fresh sys3.signed systemreport.json)" \
	SYSTEM "$ROOT_FP"
check "... and signetd saw nothing of the 100 MB: no refusal of report.submit in the audit" \
	test "$(refusals)" = "$r0"

# Another tenant: its own (empty) list, its own reports.
ctl --json tenant create other --admin olga >"$TMP/out" || fatal "tenant create other"
O=$(json .token)
st=$(curl -sS "$BASE$CFG" -H "Authorization: Bearer $O" -o "$TMP/out" -w '%{http_code}' 2>"$TMP/curl.err" || true)
check "another tenant's admin sees an empty list of its own" \
	test "$st $(jq -c .value "$TMP/out" 2>/dev/null)" = "200 []"
rm -f "$TMP/out"
st=$(curl -sS -X POST "$BASE/api/install/v1/system-reports" \
	--form "signedReport=@\"$PKI/systemreport.msg.signed\"" --header "Authorization: Bearer $O" \
	-o "$TMP/out" -w '%{http_code}' 2>"$TMP/curl.err" || true)
answer "... and its upload of acme's report is 409 no_anchor" 409 no_anchor "$st"
"$SIGNETCTL" --socket "$DSOCK" --token "$O" --json report list >"$TMP/out" 2>"$TMP/err" || true
check "... and it lists none of acme's reports" test "$(jq '.reports | length' "$TMP/out")" = 0

###########################################################################################
# 5. The list is replaced, not merged; its validation.
check "POST [root] is 200" test "$(set_anchors "[\"$ROOT_FP\"]")" = 200
EVIL_FP=$(fp "$PKI/evil_root.crt")
check "POST [another fingerprint] is 200" test "$(set_anchors "[\"$EVIL_FP\"]")" = 200
check "GET shows only the new fingerprint: the list was replaced, not merged" \
	test "$(anchors)" = "[\"$EVIL_FP\"]"
refused "the report signed under the root, once the root is no longer listed" 403 untrusted \
	DENIED system-reports "$PKI/systemreport.msg.signed"
LOWER=$(printf '%s' "$ROOT_FP" | tr 'A-F' 'a-f')
st=$(set_anchors "[\"$LOWER\"]")
check "a lower-case fingerprint is accepted (200) and echoed upper case" \
	test "$st $(jq -c .value "$TMP/out" 2>/dev/null)" = "200 [\"$ROOT_FP\"]"
check "... and stored upper case" test "$(anchors)" = "[\"$ROOT_FP\"]"
accepted "... and the root-signed report is accepted again" system-reports \
	"$(fresh sys4.signed systemreport.json)" SYSTEM "$ROOT_FP"
for what in "31 pairs" "dashes" "not hex" "33 pairs" "a leading space" "a number"; do
	case $what in
	"31 pairs") bad="\"${ROOT_FP%:*}\"" ;;
	dashes) bad="\"$(printf '%s' "$ROOT_FP" | tr ':' '-')\"" ;;
	"not hex") bad="\"$(printf '%s' "$ROOT_FP" | sed 's/^../ZZ/')\"" ;;
	"33 pairs") bad="\"$ROOT_FP:00\"" ;;
	"a leading space") bad="\" $ROOT_FP\"" ;;
	*) bad=42 ;;
	esac
	st=$(set_anchors "[\"$INT_FP\", $bad]")
	answer "a malformed fingerprint ($what) after a good one is refused: 400 invalid" 400 invalid "$st"
	check "... and the list is unchanged" test "$(anchors)" = "[\"$ROOT_FP\"]"
done
st=$(set_anchors '"'"$INT_FP"'"')
answer "a string instead of an array is refused: 400 invalid" 400 invalid "$st"
check "... and the list is unchanged" test "$(anchors)" = "[\"$ROOT_FP\"]"
st=$(set_anchors "[\"$INT_FP\"]" "$B")
answer "a non-admin user's POST is refused: 403 denied" 403 denied "$st"
check "... and the list is unchanged" test "$(anchors)" = "[\"$ROOT_FP\"]"
st=$(set_anchors "[\"$ROOT_FP\", \"$LOWER\", \"$INT_FP\"]")
check "duplicates (in any case) are stored once, in first-seen order" \
	test "$st $(anchors)" = "200 [\"$ROOT_FP\",\"$INT_FP\"]"
check "an empty list is accepted" test "$(set_anchors '[]')" = 200
refused "... and then a report is refused again with no_anchor" 409 no_anchor REFUSED \
	system-reports "$PKI/systemreport.msg.signed"

###########################################################################################
# 6. The logs.
check "stop signetd" stop_daemon
for t in "$A" "$B"; do
	check "no token in signetd's log" sh -c "! grep -qF -- '$t' '$LOG'"
	check "no token in signet-front's log" sh -c "! grep -qF -- '$t' '$TMP/front.log'"
done
for s in ModuleSerialNumber ProductUuid SoftwareVersion 'everything fine' smime.p7s \
	MIIB 'BEGIN CERTIFICATE'; do
	check "nothing of the reports in signetd's log ($s)" sh -c "! grep -qF -- '$s' '$LOG'"
	check "nothing of the reports in signet-front's log ($s)" \
		sh -c "! grep -qF -- '$s' '$TMP/front.log'"
done
check "signetd logged the accepted reports (id, signer, anchor)" \
	grep -q "SYSTEM report .* accepted from CN=$GW_CN (anchor $ROOT_FP)" "$LOG"
