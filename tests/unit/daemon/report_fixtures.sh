#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Makes the signed-report fixtures of test_report in DIR with the openssl CLI, as the
# report signing guide does: root CA, intermediate CA, gateway, all ECDSA P-256.
set -eu

dir=$1
OPENSSL=${OPENSSL:-openssl}
cd "$dir"

key() {
	"$OPENSSL" ecparam -name prime256v1 -genkey -noout -out "$1.key"
}

# root NAME SUBJECT: a self-signed CA, as `openssl req -x509` makes it.
root() {
	key "$1"
	"$OPENSSL" req -x509 -new -key "$1.key" -sha256 -days 1024 -subj "$2" -out "$1.crt"
}

# issue NAME SUBJECT ISSUER DAYS [EXTFILE]: a certificate signed by ISSUER.
issue() {
	key "$1"
	"$OPENSSL" req -key "$1.key" -new -sha256 -subj "$2" -out "$1.csr" 2>/dev/null
	"$OPENSSL" x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial \
		-days "$4" -sha256 ${5:+-extfile "$5"} -out "$1.crt" 2>/dev/null
}

# sign IN OUT SIGNER [cms -sign options]: `openssl cms -sign ... -text` as the guide does.
sign() {
	in=$1 out=$2 signer=$3
	shift 3
	"$OPENSSL" cms -sign -in "$in" -out "$out" -signer "$signer.crt" -inkey "$signer.key" "$@"
}

fingerprint() {
	"$OPENSSL" x509 -noout -fingerprint -sha256 -in "$1.crt" | sed 's/^.*=//' >"$1.fp"
}

cat >ca-config.ext <<'EOF'
authorityKeyIdentifier=keyid,issuer
basicConstraints=CA:TRUE
keyUsage=keyCertSign,cRLSign,digitalSignature
EOF
printf 'keyUsage=keyEncipherment\n' >enc-only.ext

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
printf 'This is not JSON.\n' >not-json.txt
printf '{"gatewayId": "1", "gatewayId": "2"}\n' >duplicate.json
printf '["not", "an", "object"]\n' >array.json
# 40 levels: deeper than the 32 the parser accepts.
printf '{"a": %s%s}\n' "$(printf '%.0s[' $(seq 39))" "$(printf '%.0s]' $(seq 39))" >deep.json

# The guide's chain.
root ca_root /CN=ROOT
issue ca_intermediate /CN=INTERMEDIATE ca_root 356 ca-config.ext
issue gateway "/O=Acme, Inc./CN=101012902" ca_intermediate 365
cat ca_intermediate.crt ca_root.crt >cert-chain.crt
for c in ca_root ca_intermediate gateway; do
	fingerprint $c
done
sign systemreport.json systemreport.msg.signed gateway -certfile cert-chain.crt -text
sign systemreport.json opaque.msg.signed gateway -certfile cert-chain.crt -text -nodetach
sign systemreport.json notext.msg.signed gateway -certfile cert-chain.crt
sign systemreport.json nochain.msg.signed gateway -text
sign systemreport.json nocerts.msg.signed gateway -certfile cert-chain.crt -text -nocerts
sign not-json.txt notjson.msg.signed gateway -certfile cert-chain.crt -text
for j in duplicate array deep; do
	sign $j.json $j.msg.signed gateway -certfile cert-chain.crt -text
done

# A gateway whose certificate lives one day; a second one under a one-day intermediate.
issue gateway_short /CN=short ca_intermediate 1
fingerprint gateway_short
sign systemreport.json short.msg.signed gateway_short -certfile cert-chain.crt -text
issue int_short /CN=INTERMEDIATE-SHORT ca_root 1 ca-config.ext
issue gateway_under_short /CN=under-short int_short 365
fingerprint int_short
sign systemreport.json undershort.msg.signed gateway_under_short -certfile int_short.crt -text

# An impostor PKI with the same names, and a gateway whose key may only encipher.
root evil_root /CN=ROOT
issue evil_intermediate /CN=INTERMEDIATE evil_root 356 ca-config.ext
issue evil_gateway "/O=Acme, Inc./CN=101012902" evil_intermediate 365
cat evil_intermediate.crt evil_root.crt >evil-chain.crt
fingerprint evil_root
sign systemreport.json evil.msg.signed evil_gateway -certfile evil-chain.crt -text
cat evil-chain.crt ca_root.crt >evil-plus-root.crt
sign systemreport.json evilplusroot.msg.signed evil_gateway -certfile evil-plus-root.crt -text
issue gateway_enc /CN=enc-only ca_intermediate 365 enc-only.ext
sign systemreport.json enconly.msg.signed gateway_enc -certfile cert-chain.crt -text
issue gateway_2cn /CN=one/CN=two ca_intermediate 365
sign systemreport.json twocn.msg.signed gateway_2cn -certfile cert-chain.crt -text

# A gateway that mints a certificate for another one; an intermediate that may not sign certificates.
issue rogue /CN=rogue gateway 365
cat gateway.crt cert-chain.crt >rogue-chain.crt
sign systemreport.json rogue.msg.signed rogue -certfile rogue-chain.crt -text
printf 'basicConstraints=CA:TRUE\nkeyUsage=digitalSignature\n' >no-certsign.ext
issue int_nocertsign /CN=INTERMEDIATE-NO-CERTSIGN ca_root 356 no-certsign.ext
issue gateway_under_nocertsign /CN=under-no-certsign int_nocertsign 365
cat int_nocertsign.crt ca_root.crt >nocertsign-chain.crt
sign systemreport.json nocertsign.msg.signed gateway_under_nocertsign -certfile nocertsign-chain.crt -text

# Two signers; more certificates than allowed; encrypted instead of signed.
sign systemreport.json twosigners.msg.signed gateway -certfile cert-chain.crt -text \
	-signer gateway_short.crt -inkey gateway_short.key
key filler
: >fillers.crt
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13; do
	"$OPENSSL" req -x509 -new -key filler.key -days 30 -subj "/CN=filler $i" >>fillers.crt
done
cat cert-chain.crt fillers.crt >sixteen.crt
"$OPENSSL" req -x509 -new -key filler.key -days 30 -subj "/CN=filler 14" >>fillers.crt
cat cert-chain.crt fillers.crt >seventeen.crt
sign systemreport.json sixteen.msg.signed gateway -certfile sixteen.crt -text
sign systemreport.json seventeen.msg.signed gateway -certfile seventeen.crt -text
"$OPENSSL" cms -encrypt -in systemreport.json -out encrypted.msg -aes256 gateway.crt
