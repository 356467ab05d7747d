#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Signing and encryption end to end, every result checked by a real client (openssl), never by
# our own code: every signing algorithm over a multi-megabyte file, inline and prehashed inputs,
# CMS detached signatures, the six ciphers, CMS envelopes, and hostile inputs that must be refused
# without leaving anything behind.
. "$TESTLIB"

init_state
start_daemon
ctl --json tenant create acme --admin alice >"$TMP/out"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)

# fails_to_verify COMMAND...: the verifier must run and report a verification failure (so a
# verifier that fails for another reason, a bad option say, does not count as a rejection).
fails_to_verify() {
	if "$@" >"$TMP/fv.out" 2>&1; then
		return 1
	fi
	grep -qi 'verification failure\|verify failure\|digest failure' "$TMP/fv.out"
}

# flip FILE OUT OFFSET: OUT is FILE with one bit of the byte at OFFSET flipped.
flip() {
	python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 1
open(sys.argv[2], "wb").write(b)' "$1" "$2" "$3"
}

# verify_sig ALG PUBKEY SIG FILE: the raw signature over FILE, as DESIGN §9 says to check it.
verify_sig() {
	case $1 in
	ECC_NIST_P256) openssl dgst -sha256 -verify "$2" -signature "$3" "$4" ;;
	ECC_NIST_P384) openssl dgst -sha384 -verify "$2" -signature "$3" "$4" ;;
	RSA_3072 | RSA_4096)
		openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
			-verify "$2" -signature "$3" "$4" ;;
	ED25519) openssl pkeyutl -verify -pubin -inkey "$2" -rawin -in "$4" -sigfile "$3" ;;
	*) return 2 ;;
	esac
}

# A multi-megabyte input, not a multiple of anything, and a copy with one bit changed.
head -c $((4 * 1024 * 1024 + 4321)) /dev/urandom >"$TMP/big.bin"
flip "$TMP/big.bin" "$TMP/big.tampered" 3000001
check "the tampered copy differs from the input" sh -c "! cmp -s '$TMP/big.bin' '$TMP/big.tampered'"
BIG_SHA=$(sha256sum "$TMP/big.bin" | cut -d' ' -f1)
BIG_SIZE=$(wc -c <"$TMP/big.bin")

###########################################################################################
# 1. Every signing algorithm over the file, through a device configuration without approval.
for alg in ECC_NIST_P256 ECC_NIST_P384 RSA_3072 RSA_4096 ED25519; do
	ctl --json key generate "s-$alg" --alg "$alg" >"$TMP/out" || fatal "generate $alg"
	json .publicKeyPem | sed '/^$/d' >"$TMP/$alg.pub"
	ctl --json devconf create "dc-$alg" --sign-key "s-$alg" --four-eyes off >"$TMP/out" ||
		fatal "devconf for $alg"
	eval "DC_$alg=\$(json .id)"
	dc=$(json .id)
	ctl --json task sign --devconf "$dc" --file "$TMP/big.bin" --name "big-$alg" >"$TMP/out" 2>"$TMP/err" ||
		not_ok "task sign $alg: $(cat "$TMP/err")"
	check "$alg: the signing task is DONE at once" test "$(json .status)" = DONE
	check "$alg: the result names the key" test "$(json .result.keyLabel)" = "s-$alg"
	check "$alg: a plain signing result has no CMS without a certificate" test "$(jq -r '.result.cms // "none"' "$TMP/out")" = none
	json .result.signature | base64 -d >"$TMP/$alg.sig"
	check "$alg: openssl verifies the signature over the file" verify_sig "$alg" "$TMP/$alg.pub" "$TMP/$alg.sig" "$TMP/big.bin"
	check "$alg: the signature does not verify over the modified file" \
		fails_to_verify verify_sig "$alg" "$TMP/$alg.pub" "$TMP/$alg.sig" "$TMP/big.tampered"
	tid=$(json .id)
	ctl --json task show "$tid" >"$TMP/out"
	check "$alg: the task records the input's size and SHA-256" \
		test "$(json '.inputs[0] | "\(.size) \(.sha256)"')" = "$BIG_SIZE $BIG_SHA"
done
case $(od -An -tx1 -N1 "$TMP/ECC_NIST_P256.sig" | tr -d ' ') in
30) ok "ECDSA signatures are DER" ;;
*) not_ok "ECDSA signatures are DER" ;;
esac
check "RSA_4096 signatures are 512 bytes" test "$(wc -c <"$TMP/RSA_4096.sig")" = 512
check "Ed25519 signatures are 64 bytes" test "$(wc -c <"$TMP/ED25519.sig")" = 64

# Inline input.
head -c 3000 /dev/urandom >"$TMP/small.bin"
flip "$TMP/small.bin" "$TMP/small.tampered" 1500
for alg in ECC_NIST_P256 ED25519; do
	eval "dc=\$DC_$alg"
	ctl --json task sign --devconf "$dc" --input-base64 "$(base64 -w0 "$TMP/small.bin")" >"$TMP/out" 2>"$TMP/err" ||
		not_ok "inline sign $alg: $(cat "$TMP/err")"
	check "$alg: an inline signing task is DONE" test "$(json .status)" = DONE
	json .result.signature | base64 -d >"$TMP/inline.sig"
	check "$alg: openssl verifies the signature over the inline input" verify_sig "$alg" "$TMP/$alg.pub" "$TMP/inline.sig" "$TMP/small.bin"
	check "$alg: ... and not over a modified one" fails_to_verify verify_sig "$alg" "$TMP/$alg.pub" "$TMP/inline.sig" "$TMP/small.tampered"
done

# Prehashed: the client sends the digest, the signature verifies over the digest and the file.
openssl dgst -sha256 -binary "$TMP/big.bin" >"$TMP/big.sha256"
openssl dgst -sha256 -binary "$TMP/big.tampered" >"$TMP/tampered.sha256"
ctl --json task sign --devconf "$DC_RSA_3072" --prehashed --input-base64 "$(base64 -w0 "$TMP/big.sha256")" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "prehashed RSA sign: $(cat "$TMP/err")"
check "RSA_3072 prehashed: DONE" test "$(json .status)" = DONE
json .result.signature | base64 -d >"$TMP/pre-rsa.sig"
check "RSA_3072 prehashed: openssl pkeyutl verifies the PSS signature over the digest" \
	openssl pkeyutl -verify -pubin -inkey "$TMP/RSA_3072.pub" -in "$TMP/big.sha256" -sigfile "$TMP/pre-rsa.sig" \
	-pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
check "RSA_3072 prehashed: it also verifies over the file" verify_sig RSA_3072 "$TMP/RSA_3072.pub" "$TMP/pre-rsa.sig" "$TMP/big.bin"
check "RSA_3072 prehashed: not over another digest" \
	fails_to_verify openssl pkeyutl -verify -pubin -inkey "$TMP/RSA_3072.pub" -in "$TMP/tampered.sha256" -sigfile "$TMP/pre-rsa.sig" \
	-pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
tid=$(json .id)
ctl --json task show "$tid" >"$TMP/out"
check "RSA_3072 prehashed: the task is marked prehashed and records the digest as its sha256" \
	test "$(json '.inputs[0] | "\(.prehashed) \(.sha256)"')" = "true $BIG_SHA"

openssl dgst -sha384 -binary "$TMP/big.bin" >"$TMP/big.sha384"
openssl dgst -sha384 -binary "$TMP/big.tampered" >"$TMP/tampered.sha384"
ctl --json task sign --devconf "$DC_ECC_NIST_P384" --prehashed --input-base64 "$(base64 -w0 "$TMP/big.sha384")" >"$TMP/out" 2>"$TMP/err" ||
	not_ok "prehashed P-384 sign: $(cat "$TMP/err")"
check "P-384 prehashed: DONE" test "$(json .status)" = DONE
json .result.signature | base64 -d >"$TMP/pre-p384.sig"
check "P-384 prehashed: openssl pkeyutl verifies the ECDSA signature over the SHA-384 digest" \
	openssl pkeyutl -verify -pubin -inkey "$TMP/ECC_NIST_P384.pub" -in "$TMP/big.sha384" -sigfile "$TMP/pre-p384.sig"
check "P-384 prehashed: it also verifies over the file" verify_sig ECC_NIST_P384 "$TMP/ECC_NIST_P384.pub" "$TMP/pre-p384.sig" "$TMP/big.bin"
check "P-384 prehashed: not over another digest" \
	fails_to_verify openssl pkeyutl -verify -pubin -inkey "$TMP/ECC_NIST_P384.pub" -in "$TMP/tampered.sha384" -sigfile "$TMP/pre-p384.sig"

###########################################################################################
# 2. CMS detached signatures: a certificate from a throwaway CA, the chain attached to the key.
# (Ed25519 CMS is not checked here: OpenSSL 3.0's cms -verify cannot verify Ed25519 SignedData
# with signed attributes, so it would have no independent verifier.)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/ca.key" \
	-out "$TMP/ca.pem" -subj "/CN=t06 Root" -days 30 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/other-ca.key" \
	-out "$TMP/other-ca.pem" -subj "/CN=t06 Other Root" -days 30 2>/dev/null
for alg in ECC_NIST_P256 RSA_3072; do
	eval "dc=\$DC_$alg"
	ctl key csr "s-$alg" --subject "/CN=signer $alg/O=Acme" -o "$TMP/$alg.csr"
	openssl x509 -req -in "$TMP/$alg.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
		-CAcreateserial -out "$TMP/$alg.crt" -days 10 2>/dev/null
	cat "$TMP/$alg.crt" "$TMP/ca.pem" >"$TMP/$alg.chain"
	check "$alg: the chain is attached" ctl key cert "s-$alg" --file "$TMP/$alg.chain"
	ctl --json task sign --devconf "$dc" --file "$TMP/big.bin" >"$TMP/out" 2>"$TMP/err" ||
		not_ok "CMS sign $alg: $(cat "$TMP/err")"
	check "$alg: signing with a certificate is DONE" test "$(json .status)" = DONE
	json .result.signature | base64 -d >"$TMP/cms-raw.sig"
	check "$alg: the raw signature still verifies" verify_sig "$alg" "$TMP/$alg.pub" "$TMP/cms-raw.sig" "$TMP/big.bin"
	json .result.cms | base64 -d >"$TMP/$alg.cms.der"
	check "$alg: openssl cms verifies the detached signature against the CA" \
		openssl cms -verify -binary -inform DER -in "$TMP/$alg.cms.der" -content "$TMP/big.bin" \
		-CAfile "$TMP/ca.pem" -purpose any -out /dev/null -signer "$TMP/$alg.signer.pem"
	openssl x509 -in "$TMP/$alg.crt" -outform DER -out "$TMP/leaf.der"
	rm -f "$TMP/signer.der"
	openssl x509 -in "$TMP/$alg.signer.pem" -outform DER -out "$TMP/signer.der" 2>/dev/null || true
	check "$alg: the CMS signer is the key's certificate" cmp -s "$TMP/signer.der" "$TMP/leaf.der"
	check "$alg: the CMS signature does not verify over tampered content" \
		fails_to_verify openssl cms -verify -binary -inform DER -in "$TMP/$alg.cms.der" -content "$TMP/big.tampered" \
		-CAfile "$TMP/ca.pem" -purpose any -out /dev/null
	erc=0
	openssl cms -verify -binary -inform DER -in "$TMP/$alg.cms.der" -content "$TMP/big.bin" \
		-CAfile "$TMP/other-ca.pem" -purpose any -out /dev/null >/dev/null 2>&1 || erc=$?
	check "$alg: the CMS signature does not chain to another CA" test $erc -ne 0
done

###########################################################################################
# 3. The six ciphers with known imported keys, decrypted by openssl enc.
head -c 32 /dev/urandom >"$TMP/aes256.raw"
head -c 16 /dev/urandom >"$TMP/aes128.raw"
K256=$(od -An -tx1 -v "$TMP/aes256.raw" | tr -d ' \n')
K128=$(od -An -tx1 -v "$TMP/aes128.raw" | tr -d ' \n')
check "import the AES_256 key" ctl key import e256 --alg AES_256 --file "$TMP/aes256.raw"
check "import the AES_128 key" ctl key import e128 --alg AES_128 --file "$TMP/aes128.raw"

head -c $((2 * 1024 * 1024 + 7)) /dev/urandom >"$TMP/odd.bin"   # not a multiple of 16
head -c $((1024 * 1024)) /dev/urandom >"$TMP/even.bin"          # a multiple of 16

# encrypt_task DEVCONF FILE: run an encryption task to its end; its task show lands in $TMP/out.
encrypt_task() {
	ctl --json task encrypt --devconf "$1" --file "$2" >"$TMP/out" 2>"$TMP/err" || return 1
	eid=$(json .id)
	ctl --json task wait "$eid" --timeout 120 >"$TMP/out" 2>"$TMP/err"
}

# A legacy cipher is refused until the tenant allows it.
ctl --json devconf create dc-ecb-early --encrypt-key e256 --cipher AES256_ECB_ZERO_BYTE_PAD --four-eyes off >"$TMP/out" ||
	fatal "an ECB device configuration"
ECB_EARLY=$(json .id)
ctl --json task list >"$TMP/out"
n_before=$(json '.tasks | length')
expect_refusal "an ECB encryption task is refused before legacy ciphers are allowed" denied \
	ctl task encrypt --devconf "$ECB_EARLY" --file "$TMP/odd.bin"
ctl --json task list >"$TMP/out"
check "the refused ECB task was not stored" test "$(json '.tasks | length')" = "$n_before"
check "... nor its input spooled" test -z "$(ls -A "$STATE/spool/in")"
check "allow legacy ciphers" ctl config set encryption.legacyCiphers.allowed true

for cipher in AES256_CBC_PKCS7_PAD AES128_CBC_PKCS7_PAD AES256_CBC_ZERO_BYTE_PAD \
	AES256_ECB_ZERO_BYTE_PAD AES128_ECB_ZERO_BYTE_PAD AES128_CTR_NO_PAD; do
	case $cipher in
	AES256_*) key=e256 hexkey=$K256 ;;
	*) key=e128 hexkey=$K128 ;;
	esac
	case $cipher in
	AES256_CBC*) ossl=aes-256-cbc ;;
	AES128_CBC*) ossl=aes-128-cbc ;;
	AES256_ECB*) ossl=aes-256-ecb ;;
	AES128_ECB*) ossl=aes-128-ecb ;;
	AES128_CTR*) ossl=aes-128-ctr ;;
	esac
	ctl --json devconf create "dc-$cipher" --encrypt-key "$key" --cipher "$cipher" --four-eyes off >"$TMP/out" ||
		fatal "devconf for $cipher"
	check "$cipher: the device configuration holds the cipher" test "$(json .cipher)" = "$cipher"
	dc=$(json .id)
	[ "$cipher" != AES256_CBC_PKCS7_PAD ] || DC_ENC=$dc
	for f in odd even; do
		in=$TMP/$f.bin
		n=$(wc -c <"$in")
		if ! encrypt_task "$dc" "$in"; then
			not_ok "$cipher/$f: the encryption task ran ($(cat "$TMP/err"))"
			continue
		fi
		check "$cipher/$f: the task is DONE" test "$(json .status)" = DONE
		rsha=$(json .result.sha256)
		rsize=$(json .result.size)
		check "$cipher/$f: the result is available with an expiry" test "$(json '"\(.result.available) \(.result.expiresAt > now)"')" = "true true"
		rm -f "$TMP/enc.out"
		ctl --json task download "$eid" -o "$TMP/enc.out" >"$TMP/out" 2>"$TMP/err" ||
			not_ok "$cipher/$f: download ($(cat "$TMP/err"))"
		check "$cipher/$f: the download reports the result's sha256" test "$(json .sha256)" = "$rsha"
		check "$cipher/$f: sha256sum of the download equals the result's sha256" \
			test "$(sha256sum "$TMP/enc.out" | cut -d' ' -f1)" = "$rsha"
		total=$(wc -c <"$TMP/enc.out")
		check "$cipher/$f: the download has the result's size" test "$total" = "$rsize"
		padded=$(((n + 15) / 16 * 16))
		case $cipher in
		*CBC_PKCS7*) want=$((n / 16 * 16 + 16 + 16)) ivlen=16 ;;
		*CBC_ZERO*) want=$((padded + 16)) ivlen=16 ;;
		*ECB*) want=$padded ivlen=0 ;;
		*CTR*) want=$((n + 16)) ivlen=16 ;;
		esac
		check "$cipher/$f: output size $total is the expected $want" test "$total" = "$want"
		ct=$((total - ivlen))
		head -c "$ct" "$TMP/enc.out" >"$TMP/ct"
		iv=$(tail -c "$ivlen" "$TMP/enc.out" | od -An -tx1 -v | tr -d ' \n')
		# The plaintext openssl must give back: the input, zero-padded for the zero-pad modes.
		cp "$in" "$TMP/expect"
		case $cipher in
		*ZERO*) head -c $((padded - n)) /dev/zero >>"$TMP/expect" ;;
		esac
		rm -f "$TMP/dec"
		case $cipher in
		*PKCS7*) set -- -K "$hexkey" -iv "$iv" ;;
		*ECB*) set -- -K "$hexkey" -nopad ;;
		*) set -- -K "$hexkey" -iv "$iv" -nopad ;;
		esac
		check "$cipher/$f: openssl enc -d decrypts" openssl enc -d "-$ossl" "$@" -in "$TMP/ct" -out "$TMP/dec"
		check "$cipher/$f: the decryption equals the input" cmp "$TMP/dec" "$TMP/expect"
		if [ "$f" = odd ] && [ "$ivlen" -ne 0 ]; then
			# The IV is fresh each time: the same input twice gives two IVs and ciphertexts.
			first=$rsha
			if encrypt_task "$dc" "$in"; then
				ctl task download "$eid" -o "$TMP/enc2.out" >/dev/null 2>&1 || true
				check "$cipher: a second encryption uses another IV" \
					test "$(tail -c 16 "$TMP/enc2.out" | od -An -tx1 -v | tr -d ' \n')" != "$iv"
				check "$cipher: ... and gives another result" test "$(json .result.sha256)" != "$first"
				rm -f "$TMP/enc2.out"
			else
				not_ok "$cipher: a second encryption ran ($(cat "$TMP/err"))"
			fi
		fi
	done
done
# The last result (CTR) with a key one bit off must not give the input back: the comparison
# above can fail.
wrongkey=$(python3 -c 'import sys; k = bytearray.fromhex(sys.argv[1]); k[0] ^= 1; print(k.hex())' "$K128")
check "the wrong key differs from the right one" test "$wrongkey" != "$K128"
rm -f "$TMP/dec"
openssl enc -d -aes-128-ctr -K "$wrongkey" -iv "$iv" -nopad -in "$TMP/ct" -out "$TMP/dec" 2>/dev/null || true
check "another key does not decrypt to the input" sh -c "test -s '$TMP/dec' && ! cmp -s '$TMP/dec' '$TMP/expect'"

###########################################################################################
# 4. CMS EnvelopedData for a recipient certificate (RSA and EC P-256), decrypted by openssl cms.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/rsa-recip.key" -out "$TMP/rsa-recip.pem" \
	-subj "/CN=RSA recipient" -days 10 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/ec-recip.key" \
	-out "$TMP/ec-recip.pem" -subj "/CN=EC recipient" -days 10 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/stranger.key" \
	-out "$TMP/stranger.pem" -subj "/CN=stranger" -days 10 2>/dev/null
for r in rsa ec; do
	ctl --json devconf create "dc-env-$r" --encrypt-cert "$TMP/$r-recip.pem" --four-eyes off >"$TMP/out" ||
		fatal "devconf with the $r recipient"
	dc=$(json .id)
	if ! encrypt_task "$dc" "$TMP/odd.bin"; then
		not_ok "envelope $r: the task ran ($(cat "$TMP/err"))"
		continue
	fi
	check "envelope $r: DONE" test "$(json .status)" = DONE
	rsha=$(json .result.sha256)
	rm -f "$TMP/env.der" "$TMP/env.dec"
	ctl --json task download "$eid" -o "$TMP/env.der" >"$TMP/out" 2>"$TMP/err" ||
		not_ok "envelope $r: download ($(cat "$TMP/err"))"
	check "envelope $r: sha256sum of the download equals the result's sha256" \
		test "$(sha256sum "$TMP/env.der" | cut -d' ' -f1)" = "$rsha"
	check "envelope $r: openssl cms -decrypt opens it" \
		openssl cms -decrypt -binary -inform DER -in "$TMP/env.der" -recip "$TMP/$r-recip.pem" \
		-inkey "$TMP/$r-recip.key" -out "$TMP/env.dec"
	check "envelope $r: the plaintext equals the input" cmp "$TMP/env.dec" "$TMP/odd.bin"
	erc=0
	openssl cms -decrypt -binary -inform DER -in "$TMP/env.der" -recip "$TMP/stranger.pem" \
		-inkey "$TMP/stranger.key" -out "$TMP/env.stranger" >/dev/null 2>&1 || erc=$?
	check "envelope $r: another recipient cannot open it" \
		sh -c "test $erc -ne 0 || ! cmp -s '$TMP/env.stranger' '$TMP/odd.bin'"
done

###########################################################################################
# 5. Hostile input: each refused with a clear code, and nothing stored.
ctl --json task list >"$TMP/out"
N_TASKS=$(json '.tasks | length')
ctl --json devconf list >"$TMP/out"
N_DEVCONFS=$(json '.deviceConfigs | length')
# nothing_stored WHAT: the task count is unchanged and the input spool empty.
nothing_stored() {
	ctl --json task list >"$TMP/list.out"
	check "$1: no task stored" test "$(jq -r '.tasks | length' "$TMP/list.out")" = "$N_TASKS"
	check "$1: nothing left in the input spool" test -z "$(ls -A "$STATE/spool/in")"
}
devconfs_unchanged() {
	ctl --json devconf list >"$TMP/list.out"
	check "$1: no device configuration stored" \
		test "$(jq -r '.deviceConfigs | length' "$TMP/list.out")" = "$N_DEVCONFS"
}
check "the spool directory exists where the checks look" test -d "$STATE/spool/in"

# raw OP ARGS-JSON [socket|big]: one request on the socket as a third-party client would send it;
# "socket" attaches a unix socket as the input descriptor (signetctl cannot open one),
# "big" pads inputBase64 past the 64 KiB packet. Prints the error code, or "ok".
cat >"$TMP/raw.py" <<'EOF'
import base64, json, os, socket, sys
path, token, op, args, how = sys.argv[1:6]
args = json.loads(args)
if how == "big":
    args["inputBase64"] = base64.b64encode(os.urandom(80 * 1024)).decode()
req = json.dumps({"id": 7, "op": op, "auth": {"token": token}, "args": args}).encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
if how == "socket":
    a, b = socket.socketpair()
    b.send(b"some bytes that are not a file")
    socket.send_fds(s, [req], [a.fileno()])
else:
    s.send(req)
rep = json.loads(s.recv(65536))
print("ok" if rep.get("ok") else rep["error"]["code"])
EOF
raw() { python3 "$TMP/raw.py" "$SOCK" "$SIGNET_TOKEN" "$@"; }

# Oversize inline input. signetctl cannot put it in one packet and says so itself; signetd
# answers such a packet, sent by another client, with too_large.
python3 -c 'import base64, os; print(base64.b64encode(os.urandom(80 * 1024)).decode())' >"$TMP/huge.b64"
erc=0
ctl task sign --devconf "$DC_ECC_NIST_P256" --input-base64 "$(cat "$TMP/huge.b64")" >/dev/null 2>"$TMP/err" || erc=$?
check "signetctl refuses an inline input larger than a packet itself: too_large, exit 2 (usage)" \
	sh -c "test $erc -eq 2 && grep -q '^signetctl: too_large: .*--file' '$TMP/err'"
nothing_stored "oversize inline input (signetctl)"
check "signetd answers an oversize packet with too_large" \
	test "$(raw task.sign "{\"devconf\": \"$DC_ECC_NIST_P256\"}" big)" = too_large
nothing_stored "oversize packet"
check "the daemon still serves after the oversize packet" ctl status

# Device configurations that do not hold together.
expect_refusal "an unknown cipher is refused" invalid \
	ctl devconf create dc-bad-cipher --encrypt-key e256 --cipher UNKNOWN --four-eyes off
devconfs_unchanged "unknown cipher"
expect_refusal "an AES key as signing key is refused" invalid \
	ctl devconf create dc-bad-sign --sign-key e256 --four-eyes off
devconfs_unchanged "AES signing key"
expect_refusal "an EC key as encryption key is refused" invalid \
	ctl devconf create dc-bad-enc --sign-key s-ECC_NIST_P256 --encrypt-key s-ECC_NIST_P256 --four-eyes off
devconfs_unchanged "EC encryption key"
expect_refusal "a cipher that does not suit the key is refused" invalid \
	ctl devconf create dc-bad-mix --encrypt-key e128 --cipher AES256_CBC_PKCS7_PAD --four-eyes off
devconfs_unchanged "mismatched cipher"

# Input descriptors that are no regular file. (signetctl opens a directory O_RDONLY fine.)
mkdir "$TMP/adir"
expect_refusal "a directory to sign is refused" invalid ctl task sign --devconf "$DC_ECC_NIST_P256" --file "$TMP/adir"
nothing_stored "directory (sign)"
expect_refusal "a directory to encrypt is refused" invalid ctl task encrypt --devconf "$DC_ENC" --file "$TMP/adir"
nothing_stored "directory (encrypt)"
expect_refusal "a character device (/dev/null) to sign is refused" invalid ctl task sign --devconf "$DC_ECC_NIST_P256" --file /dev/null
nothing_stored "/dev/null (sign)"
expect_refusal "a character device (/dev/zero) to encrypt is refused" invalid ctl task encrypt --devconf "$DC_ENC" --file /dev/zero
nothing_stored "/dev/zero (encrypt)"
# A FIFO: signetctl's open() waits for a writer, so one is kept open meanwhile.
mkfifo "$TMP/fifo"
sleep 60 >"$TMP/fifo" &
writer=$!
expect_refusal "a FIFO to sign is refused" invalid timeout 20 "$SIGNETCTL" --socket "$SOCK" task sign --devconf "$DC_ED25519" --file "$TMP/fifo"
nothing_stored "FIFO (sign)"
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
sleep 60 >"$TMP/fifo" &
writer=$!
expect_refusal "a FIFO to encrypt is refused" invalid timeout 20 "$SIGNETCTL" --socket "$SOCK" task encrypt --devconf "$DC_ENC" --file "$TMP/fifo"
nothing_stored "FIFO (encrypt)"
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
# A unix socket: signetctl cannot open one (ENXIO) and says so as a usage error ...
erc=0
ctl task sign --devconf "$DC_ECC_NIST_P256" --file "$SOCK" >/dev/null 2>"$TMP/err" || erc=$?
check "signetctl reports that it cannot open a socket (exit 2)" sh -c "test $erc -eq 2 && grep -q 'cannot open' '$TMP/err'"
# ... so a socket descriptor is sent by hand.
check "signetd refuses a socket as the input to sign" \
	test "$(raw task.sign "{\"devconf\": \"$DC_ECC_NIST_P256\"}" socket)" = invalid
nothing_stored "socket (sign)"
check "signetd refuses a socket as the input to encrypt" \
	test "$(raw task.encrypt "{\"devconf\": \"$DC_ENC\"}" socket)" = invalid
nothing_stored "socket (encrypt)"
# An empty file.
: >"$TMP/empty"
for alg in ECC_NIST_P256 ED25519; do
	eval "dc=\$DC_$alg"
	expect_refusal "an empty file to sign with $alg is refused" invalid ctl task sign --devconf "$dc" --file "$TMP/empty"
	nothing_stored "empty file ($alg)"
done
expect_refusal "an empty file to encrypt is refused" invalid ctl task encrypt --devconf "$DC_ENC" --file "$TMP/empty"
nothing_stored "empty file (encrypt)"
expect_refusal "an empty inline input is refused" invalid ctl task sign --devconf "$DC_ECC_NIST_P256" --input-base64 ""
nothing_stored "empty inline input"
# Prehashed inputs of the wrong length, and for Ed25519.
expect_refusal "a SHA-384 digest for an RSA key is refused" invalid \
	ctl task sign --devconf "$DC_RSA_3072" --prehashed --input-base64 "$(base64 -w0 "$TMP/big.sha384")"
nothing_stored "wrong digest length (RSA)"
expect_refusal "a SHA-256 digest for a P-384 key is refused" invalid \
	ctl task sign --devconf "$DC_ECC_NIST_P384" --prehashed --input-base64 "$(base64 -w0 "$TMP/big.sha256")"
nothing_stored "wrong digest length (P-384)"
expect_refusal "a 31-byte digest for P-256 is refused" invalid \
	ctl task sign --devconf "$DC_ECC_NIST_P256" --prehashed --input-base64 "$(head -c 31 "$TMP/big.sha256" | base64 -w0)"
nothing_stored "wrong digest length (P-256)"
expect_refusal "a prehashed input for Ed25519 is refused" invalid \
	ctl task sign --devconf "$DC_ED25519" --prehashed --input-base64 "$(base64 -w0 "$TMP/big.sha256")"
nothing_stored "prehashed Ed25519"
expect_refusal "a prehashed file is refused" invalid \
	ctl task sign --devconf "$DC_RSA_3072" --prehashed --file "$TMP/big.sha256"
nothing_stored "prehashed file"
expect_refusal "an input that is not base64 is refused" invalid \
	ctl task sign --devconf "$DC_ECC_NIST_P256" --input-base64 'not base64!'
nothing_stored "bad base64"

check "the daemon is still running" kill -0 "$DPID"
check "stop at the end" stop_daemon
