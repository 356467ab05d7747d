#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# signet-verify without the daemon: BOSCH_SE_V1 packages built here with openssl and a small
# Python writer that follows the table of doc/container.md (not lib/container.c), for every
# signature algorithm, all six ciphers and both AES key sizes; each must verify and decrypt to
# the original, and every damaged or hostile package must be refused with the documented code.
# shellcheck source=tests/integration/lib.sh
. "$TESTLIB"
: "${SIGNET_VERIFY:?SIGNET_VERIFY must name the signet-verify binary}"
V=$SIGNET_VERIFY
K=$TMP/keys
mkdir -p "$K"

# The writer and the checker, in Python, from the published layout only.
PY=$TMP/pkg.py
cat >"$PY" <<'EOF'
import hashlib, os, struct, subprocess, sys

def header(args):
    """header OUT EC SC MDFILE|- [--pv N] [--es N] [--esl I:V]... SEG...: the header bytes."""
    out, ec, sc, md = args[0], int(args[1]), int(args[2]), args[3]
    rest, pv, es, esl = args[4:], 1, None, {}
    while rest and rest[0].startswith("--"):
        opt, val, rest = rest[0], rest[1], rest[2:]
        if opt == "--pv":
            pv = int(val)
        elif opt == "--es":
            es = int(val)
        elif opt == "--esl":
            i, v = val.split(":")
            esl[int(i)] = int(v, 0)
    segs = [open(p, "rb").read() for p in rest]
    mdb = b"" if md == "-" else open(md, "rb").read()
    h = b"Bosch_SE" + struct.pack("<BHHHB", pv, len(mdb), ec, sc, len(segs) if es is None else es)
    h += b"".join(struct.pack("<I", esl.get(i, len(s))) for i, s in enumerate(segs))
    h += b"".join(hashlib.sha256(s).digest() for s in segs)
    open(out, "wb").write(h + mdb)

def fits(ec, n):
    if ec in (0, 1):
        return n % 16 == 0 and n >= 32
    if ec == 2:
        return n % 16 == 0 and n >= 16
    if ec in (3, 4):
        return n % 16 == 0
    return n >= 16

def model(d, orig):
    """The exit status doc/container.md gives a package D whose intact form is ORIG."""
    if len(d) < 16 or d[:8] != b"Bosch_SE":
        return 1
    pv, ml, ec, sc, es = struct.unpack_from("<BHHHB", d, 8)
    if pv != 1 or ec > 5 or sc < 1 or sc > 5 or es == 0:
        return 1
    hl = 16 + 36 * es + ml
    if len(d) < hl:
        return 1
    esl = struct.unpack_from("<%dI" % es, d, 16)
    off, segs = hl, []
    for n in esl:
        if not fits(ec, n) or off + n > len(d):
            return 1
        segs.append((off, n))
        off += n
    if not 0 < len(d) - off <= 512:
        return 1
    for i, (o, n) in enumerate(segs):
        want = d[16 + 4 * es + 32 * i:16 + 4 * es + 32 * (i + 1)]
        if hashlib.sha256(d[o:o + n]).digest() != want:
            return 3
    # Well formed and the hashes match: any other change is in the header or the signature.
    return 0 if d == orig else 4

def run(tmp, data, verify):
    path = os.path.join(tmp, "mutant")
    open(path, "wb").write(data)
    p = subprocess.run(verify + [path], capture_output=True)
    err = p.stderr.decode(errors="replace").splitlines()
    # A refusal is one line that names the program.
    if p.returncode != 0 and (len(err) != 1 or not err[0].startswith("signet-verify: ")):
        return p.returncode, "stderr %r" % err
    return p.returncode, None

def mutate(args):
    """mutate KIND PKG TMP VERIFY...: run every mutant of KIND; print one line per mismatch."""
    kind, pkg, tmp, verify = args[0], args[1], args[2], args[3:]
    orig = open(pkg, "rb").read()
    es, ml = orig[15], struct.unpack_from("<H", orig, 9)[0]
    hl = 16 + 36 * es + ml
    esl = struct.unpack_from("<%dI" % es, orig, 16)
    sig_off = hl + sum(esl)
    mutants = []
    if kind == "header":
        for i in range(hl):
            for x in (0x01, 0x80, 0xff):
                mutants.append(("header byte %d ^ %#x" % (i, x), i, x))
    elif kind == "segments":
        off = hl
        for s, n in enumerate(esl):
            # Both ends, the IV (the last 16 bytes) and a spread in between.
            picks = {0, 1, n - 1, n - 16, n - 17, n // 2} | set(range(0, n, max(1, n // 40)))
            for p in sorted(q for q in picks if 0 <= q < n):
                mutants.append(("segment %d byte %d" % (s, p), off + p, 0x01))
            off += n
    elif kind == "signature":
        for i in range(sig_off, len(orig)):
            mutants.append(("signature byte %d" % (i - sig_off), i, 0x01))
    bad, count = [], 0
    if kind == "truncate":
        cuts = set(range(0, hl + 2)) | {sig_off - 1, sig_off, sig_off + 1, len(orig) - 1}
        off = hl
        for n in esl:
            cuts |= {off + n - 1, off + n, off + n // 2}
            off += n
        for c in sorted(x for x in cuts if 0 <= x < len(orig)):
            want = model(orig[:c], orig)
            rc, why = run(tmp, orig[:c], verify)
            count += 1
            if rc != want or why:
                bad.append("truncated to %d: exit %d, want %d %s" % (c, rc, want, why or ""))
    for name, pos, x in mutants:
        d = bytearray(orig)
        d[pos] ^= x
        want = model(bytes(d), orig)
        if kind in ("segments",) and want != 3:
            bad.append("%s: the model says %d, not 3" % (name, want))
        if kind == "signature" and want != 4:
            bad.append("%s: the model says %d, not 4" % (name, want))
        rc, why = run(tmp, bytes(d), verify)
        count += 1
        if rc != want or why:
            bad.append("%s: exit %d, want %d %s" % (name, rc, want, why or ""))
    for b in bad:
        print(b)
    print("%d mutants, %d mismatches" % (count, len(bad)))

def zeropad(args):
    d = open(args[0], "rb").read()
    open(args[1], "wb").write(d + b"\0" * (-len(d) % 16))

{"header": header, "mutate": mutate, "zeropad": zeropad}[sys.argv[1]](sys.argv[2:])
EOF

hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }

# expect_exit DESCRIPTION CODE COMMAND...: the exit status must be CODE; a refusal of the package
# (1, 3..5) is exactly one line on stderr that starts with the program's name, and a usage or I/O
# error (2) starts with it (a usage error adds where help is).
expect_exit() {
	d=$1; want=$2; shift 2
	erc=0
	"$@" >"$TMP/out" 2>"$TMP/err" || erc=$?
	if [ "$erc" -ne "$want" ]; then
		not_ok "$d (exit $erc, want $want: $(head -c 300 "$TMP/err"))"
	elif [ "$want" -ne 0 ] && { ! head -n 1 "$TMP/err" | grep -q '^signet-verify: ' ||
		{ [ "$want" -ne 2 ] && [ "$(wc -l <"$TMP/err")" -ne 1 ]; }; }; then
		not_ok "$d (exit $erc, but stderr is not one message: $(head -c 300 "$TMP/err"))"
	else
		ok "$d"
	fi
}

# mutants DESCRIPTION KIND PKG PUBKEY: every mutant of KIND gets the exit status the model gives.
mutants() {
	python3 "$PY" mutate "$2" "$3" "$TMP" "$V" -q --pubkey "$4" >"$TMP/mut.out" 2>&1 || true
	if tail -n 1 "$TMP/mut.out" | grep -q '^[1-9][0-9]* mutants, 0 mismatches$'; then
		ok "$1 ($(tail -n 1 "$TMP/mut.out"))"
	else
		not_ok "$1: $(head -n 5 "$TMP/mut.out" | tr '\n' ';')"
	fi
}

sc_of() {
	case $1 in
	RSA_3072) echo 1 ;; RSA_4096) echo 2 ;; ECC_NIST_P256) echo 3 ;; ECC_NIST_P384) echo 4 ;;
	ED25519) echo 5 ;;
	esac
}

# sign ALG KEY IN OUT: the signature of doc/container.md §2 over IN, made by openssl.
sign() {
	case $1 in
	RSA_3072 | RSA_4096)
		openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
			-sign "$2" -out "$4" "$3" ;;
	ECC_NIST_P256) openssl dgst -sha256 -sign "$2" -out "$4" "$3" ;;
	ECC_NIST_P384) openssl dgst -sha384 -sign "$2" -out "$4" "$3" ;;
	ED25519) openssl pkeyutl -sign -inkey "$2" -rawin -in "$3" -out "$4" ;;
	esac
}

# encrypt EC KEYFILE IN OUT: one segment as signet's encryption tasks store it (ciphertext ‖ IV).
encrypt() {
	kx=$(hex "$2")
	head -c 16 /dev/urandom >"$4.iv"
	ivx=$(hex "$4.iv")
	case $1 in
	0) openssl enc -aes-256-cbc -K "$kx" -iv "$ivx" -in "$3" -out "$4.ct" ;;
	1) openssl enc -aes-128-cbc -K "$kx" -iv "$ivx" -in "$3" -out "$4.ct" ;;
	2) python3 "$PY" zeropad "$3" "$4.pad" &&
		openssl enc -aes-256-cbc -nopad -K "$kx" -iv "$ivx" -in "$4.pad" -out "$4.ct" ;;
	3) python3 "$PY" zeropad "$3" "$4.pad" &&
		openssl enc -aes-256-ecb -nopad -K "$kx" -in "$4.pad" -out "$4.ct" && : >"$4.iv" ;;
	4) python3 "$PY" zeropad "$3" "$4.pad" &&
		openssl enc -aes-128-ecb -nopad -K "$kx" -in "$4.pad" -out "$4.ct" && : >"$4.iv" ;;
	5) openssl enc -aes-128-ctr -K "$kx" -iv "$ivx" -in "$3" -out "$4.ct" ;;
	esac
	cat "$4.ct" "$4.iv" >"$4"
}

# package OUT ALG EC MDFILE|- [header options] PLAIN...: encrypt, write the header, sign it.
package() {
	out=$1 alg=$2 ec=$3 md=$4
	shift 4
	opts=
	while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do
		opts="$opts $1 $2"
		shift 2
	done
	case $ec in 1 | 4 | 5) akey=$K/aes128.key ;; *) akey=$K/aes256.key ;; esac
	segs='' n=0
	for p in "$@"; do
		encrypt "$ec" "$akey" "$p" "$out.seg$n" || return 1
		segs="$segs $out.seg$n"
		n=$((n + 1))
	done
	# shellcheck disable=SC2086
	python3 "$PY" header "$out.hdr" "$ec" "$(sc_of "$alg")" "$md" $opts $segs || return 1
	sign "$alg" "$K/$alg.key" "$out.hdr" "$out.sig" || return 1
	# shellcheck disable=SC2086
	cat "$out.hdr" $segs "$out.sig" >"$out"
}

###########################################################################################
# Keys, certificates and plaintexts.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$K/RSA_3072.key" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$K/RSA_4096.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/ECC_NIST_P256.key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$K/ECC_NIST_P384.key"
openssl genpkey -algorithm ED25519 -out "$K/ED25519.key"
# A second key of each kind (RSA 4096 aside: a slow key to make, and the 3072 one covers RSA).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$K/other-RSA_3072.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/other-ECC_NIST_P256.key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$K/other-ECC_NIST_P384.key"
openssl genpkey -algorithm ED25519 -out "$K/other-ED25519.key"
for f in "$K"/*.key; do
	openssl pkey -in "$f" -pubout -out "${f%.key}.pub" || fatal "public key of $f"
done
head -c 32 /dev/urandom >"$K/aes256.key"
head -c 16 /dev/urandom >"$K/aes128.key"

# A CA and a certificate for each signing key; and an unrelated CA.
ca() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/$1.key" &&
		openssl req -x509 -new -key "$K/$1.key" -subj "/CN=$1" -days 30 -out "$K/$1.pem" \
			-addext basicConstraints=critical,CA:true -addext keyUsage=keyCertSign
}
ca test-ca || fatal "make the CA"
ca wrong-ca || fatal "make the other CA"
for alg in RSA_3072 RSA_4096 ECC_NIST_P256 ECC_NIST_P384 ED25519; do
	if ! openssl req -new -key "$K/$alg.key" -subj "/CN=signer-$alg" -out "$K/$alg.csr" ||
		! openssl x509 -req -in "$K/$alg.csr" -CA "$K/test-ca.pem" -CAkey "$K/test-ca.key" \
			-CAcreateserial -days 30 -out "$K/$alg.crt" 2>/dev/null; then
		fatal "certificate for $alg"
	fi
done

# Two segments: one not a multiple of 16 (ending in zero bytes, which zero padding hides), one
# that is; and metadata.
head -c 70000 /dev/urandom >"$TMP/a.bin"
printf '\0' >>"$TMP/a.bin"
head -c 4096 /dev/urandom >"$TMP/b.bin"
printf 'version=1.2.3\nboard=ecu7\n' >"$TMP/md.txt"
python3 "$PY" zeropad "$TMP/a.bin" "$TMP/a.pad"
python3 "$PY" zeropad "$TMP/b.bin" "$TMP/b.pad"
check "the test's plaintext is not a multiple of 16" test $(($(wc -c <"$TMP/a.bin") % 16)) -ne 0
check "zero padding of a multiple of 16 adds nothing" cmp -s "$TMP/b.bin" "$TMP/b.pad"

###########################################################################################
# 1. Every algorithm with every cipher, with and without metadata: verified and decrypted.
P=$TMP/pkg
mkdir -p "$P"
i=0
for alg in RSA_3072 RSA_4096 ECC_NIST_P256 ECC_NIST_P384 ED25519; do
	for ec in 0 1 2 3 4 5; do
		if [ $(((i + ec) % 2)) -eq 0 ]; then md=$TMP/md.txt; else md=-; fi
		pkg=$P/$alg-$ec
		package "$pkg" "$alg" "$ec" "$md" "$TMP/a.bin" "$TMP/b.bin" ||
			fatal "build the $alg/$ec package"
		case $ec in 2 | 3 | 4) ea=$TMP/a.pad eb=$TMP/b.pad ;; *) ea=$TMP/a.bin eb=$TMP/b.bin ;; esac
		case $ec in 1 | 4 | 5) akey=$K/aes128.key ;; *) akey=$K/aes256.key ;; esac
		out=$TMP/out-$alg-$ec
		expect_exit "$alg, cipher $ec, metadata ${md##*/}: verifies and decrypts" 0 \
			"$V" -q --pubkey "$K/$alg.pub" --key "$akey" -o "$out" "$pkg"
		check "$alg/$ec: segment 0 decrypts to its plaintext" cmp "$ea" "$out/segment-000"
		check "$alg/$ec: segment 1 decrypts to its plaintext" cmp "$eb" "$out/segment-001"
		if [ "$md" = - ]; then
			want="segment-000 segment-001"
		else
			check "$alg/$ec: the metadata is written as it is" cmp "$md" "$out/metadata"
			want="metadata segment-000 segment-001"
		fi
		check "$alg/$ec: the output holds those files and nothing else" \
			test "$(ls -A "$out" | tr '\n' ' ')" = "$want "
	done
	i=$((i + 1))
	# The signature is the one openssl makes and checks: the test's packages are right.
	tail -c "$(wc -c <"$P/$alg-0.sig")" "$P/$alg-0" >"$TMP/sig"
	case $alg in
	ED25519) check "$alg: openssl verifies the header signature" openssl pkeyutl -verify -pubin \
		-inkey "$K/$alg.pub" -rawin -in "$P/$alg-0.hdr" -sigfile "$TMP/sig" ;;
	ECC_NIST_P384) check "$alg: openssl verifies the header signature" openssl dgst -sha384 \
		-verify "$K/$alg.pub" -signature "$TMP/sig" "$P/$alg-0.hdr" ;;
	ECC_NIST_P256) check "$alg: openssl verifies the header signature" openssl dgst -sha256 \
		-verify "$K/$alg.pub" -signature "$TMP/sig" "$P/$alg-0.hdr" ;;
	*) check "$alg: openssl verifies the header signature" openssl dgst -sha256 \
		-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
		-verify "$K/$alg.pub" -signature "$TMP/sig" "$P/$alg-0.hdr" ;;
	esac
	# With the certificate, alone and checked against its CA.
	expect_exit "$alg: verifies with the signer's certificate" 0 \
		"$V" -q --cert "$K/$alg.crt" "$P/$alg-0"
	expect_exit "$alg: verifies with the certificate checked against its CA" 0 \
		"$V" -q --cert "$K/$alg.crt" --ca "$K/test-ca.pem" "$P/$alg-0"
	expect_exit "$alg: a certificate the --ca bundle did not issue is refused" 4 \
		"$V" -q --cert "$K/$alg.crt" --ca "$K/wrong-ca.pem" "$P/$alg-0"
done

# The summary names what the header says.
S=$P/ECC_NIST_P384-1
expect_exit "the summary is printed without -q" 0 "$V" --pubkey "$K/ECC_NIST_P384.pub" "$S"
check "the summary: version, cipher, algorithm, segments, sizes, metadata, then OK" test "$(cat "$TMP/out")" = "packaging version: 1
cipher: AES128_CBC_PKCS7_PAD
signature: ECC_NIST_P384 ($(wc -c <"$S.sig") bytes)
segments: 2
segment 0: $(wc -c <"$S.seg0") bytes
segment 1: $(wc -c <"$S.seg1") bytes
metadata: $(wc -c <"$TMP/md.txt") bytes
OK"
expect_exit "-q prints nothing" 0 "$V" -q --pubkey "$K/ED25519.pub" "$P/ED25519-0"
check "-q: stdout is empty" test ! -s "$TMP/out"

# A segment of several I/O chunks (1 MiB each), hashed and decrypted in pieces.
head -c $((3 * 1024 * 1024 + 5)) /dev/urandom >"$TMP/big.bin"
package "$P/big" ECC_NIST_P256 0 - "$TMP/big.bin" "$TMP/b.bin" || fatal "build the big package"
expect_exit "a 3 MiB segment verifies and decrypts" 0 \
	"$V" -q --pubkey "$K/ECC_NIST_P256.pub" --key "$K/aes256.key" -o "$TMP/out-big" "$P/big"
check "the 3 MiB segment decrypts to its plaintext" cmp "$TMP/big.bin" "$TMP/out-big/segment-000"
python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[int(sys.argv[2])] ^= 1
open(sys.argv[3], "wb").write(b)' "$P/big" $((100 + 2 * 1024 * 1024 + 12345)) "$TMP/big.bad"
expect_exit "a flipped byte in the 3rd MiB of a segment is a bad hash" 3 \
	"$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$TMP/big.bad"
check "the message names the segment" grep -q '^signet-verify: segment 0: ' "$TMP/err"

# Empty inputs: one padding block (PKCS#7), nothing (ECB), the IV alone (CTR).
: >"$TMP/empty.bin"
for ec in 0 3 5; do
	package "$P/empty-$ec" ED25519 "$ec" - "$TMP/empty.bin" "$TMP/b.bin" || fatal "build empty-$ec"
	case $ec in 0) want=32 ;; 3) want=0 ;; 5) want=16 ;; esac
	check "cipher $ec: an empty input is a segment of $want bytes" test "$(wc -c <"$P/empty-$ec.seg0")" -eq $want
	if [ "$ec" -eq 5 ]; then akey=$K/aes128.key; else akey=$K/aes256.key; fi
	expect_exit "cipher $ec: a package with an empty segment verifies and decrypts" 0 \
		"$V" -q --pubkey "$K/ED25519.pub" --key "$akey" -o "$TMP/out-empty-$ec" "$P/empty-$ec"
	check "cipher $ec: the empty segment decrypts to nothing" test -f "$TMP/out-empty-$ec/segment-000" -a ! -s "$TMP/out-empty-$ec/segment-000"
	check "cipher $ec: the other segment decrypts to its plaintext" cmp "$TMP/b.bin" "$TMP/out-empty-$ec/segment-001"
done
expect_exit "stdout that cannot be written: I/O error" 2 sh -c '"$1" --pubkey "$2" "$3" >/dev/full' sh "$V" "$K/ED25519.pub" "$P/ED25519-0"

###########################################################################################
# 2. Damage: every header byte, segment bytes, every signature byte, truncations. Each mutant's
#    status is the one the published rules give (the model in pkg.py): 1 bad format, 3 bad
#    hash, 4 bad signature; a flipped segment byte is always 3 and a signature byte always 4.
for pair in RSA_3072:0 RSA_4096:1 ECC_NIST_P256:2 ECC_NIST_P384:5 ED25519:3 ED25519:4; do
	alg=${pair%:*} ec=${pair#*:}
	mutants "$alg/$ec: every header byte flipped" header "$P/$alg-$ec" "$K/$alg.pub"
	mutants "$alg/$ec: segment bytes flipped" segments "$P/$alg-$ec" "$K/$alg.pub"
	mutants "$alg/$ec: every signature byte flipped" signature "$P/$alg-$ec" "$K/$alg.pub"
	mutants "$alg/$ec: truncated" truncate "$P/$alg-$ec" "$K/$alg.pub"
done

# Nothing is written when a check fails, even with a key and an output directory.
python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1
open(sys.argv[2], "wb").write(b)' "$P/ED25519-0" "$TMP/badsig"
expect_exit "a bad signature with --key: refused" 4 \
	"$V" -q --pubkey "$K/ED25519.pub" --key "$K/aes256.key" -o "$TMP/out-none" "$TMP/badsig"
check "a bad signature with --key: nothing decrypted" test -z "$(ls -A "$TMP/out-none" 2>/dev/null)"

###########################################################################################
# 3. Hostile headers, each properly signed: only the bounds can refuse them.
A=$TMP/a.bin B=$TMP/b.bin
alen=$(wc -c <"$P/ECC_NIST_P256-0.seg0")
blen=$(wc -c <"$P/ECC_NIST_P256-0.seg1")
package "$P/pv2" ECC_NIST_P256 0 - --pv 2 "$A" "$B"
expect_exit "unknown packaging version 2 is a bad format" 1 "$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/pv2"
package "$P/pv0" ECC_NIST_P256 0 - --pv 0 "$A" "$B"
expect_exit "packaging version 0 is a bad format" 1 "$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/pv0"
package "$P/es0" ECC_NIST_P256 0 "$TMP/md.txt" --es 0 "$A" "$B"
expect_exit "es = 0 with the rest of a package after it is a bad format" 1 \
	"$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/es0"
package "$P/ovf" ECC_NIST_P256 0 - --esl 1:0xfffffff0 "$A" "$B"
expect_exit "a segment length past the end of the file is a bad format" 1 \
	"$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/ovf"
check "the message names the segment" grep -q '^signet-verify: bad format: segment 1: ' "$TMP/err"
# Lengths whose 32-bit sum wraps around to the true total: only a 64-bit sum sees through it.
package "$P/wrap" ECC_NIST_P256 0 - --esl 0:0x80000000 --esl "1:$(((alen + blen + 0x80000000) % 0x100000000))" "$A" "$B"
expect_exit "segment lengths whose 32-bit sum wraps are a bad format" 1 \
	"$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/wrap"
package "$P/short" ECC_NIST_P256 0 - --esl "0:$((alen - 16))" "$A" "$B"
expect_exit "lengths that leave segment bytes as signature: a bad hash" 3 \
	"$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/short"
package "$P/odd" ECC_NIST_P256 0 - --esl "0:$((alen - 1))" "$A" "$B"
expect_exit "a CBC segment length that is not a multiple of 16 is a bad format" 1 \
	"$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/odd"
cat "$P/ECC_NIST_P256-0" "$P/ECC_NIST_P256-0.sig" "$P/ECC_NIST_P256-0.sig" \
	"$P/ECC_NIST_P256-0.sig" "$P/ECC_NIST_P256-0.sig" "$P/ECC_NIST_P256-0.sig" \
	"$P/ECC_NIST_P256-0.sig" "$P/ECC_NIST_P256-0.sig" >"$P/trailing"
expect_exit "trailing data beyond any signature's length is a bad format" 1 \
	"$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/trailing"
cat "$P/ECC_NIST_P256-0" "$P/ECC_NIST_P256-0.sig" >"$P/twosigs"
expect_exit "a second signature appended: a bad signature" 4 \
	"$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/twosigs"
head -c "$(wc -c <"$P/ED25519-0.hdr")" "$P/ED25519-0" >"$P/hdronly"
expect_exit "a header alone is a bad format" 1 "$V" -q --pubkey "$K/ED25519.pub" "$P/hdronly"
: >"$P/empty"
expect_exit "an empty file is a bad format" 1 "$V" -q --pubkey "$K/ED25519.pub" "$P/empty"
expect_exit "a directory is not a package: I/O error" 2 "$V" -q --pubkey "$K/ED25519.pub" "$P"

###########################################################################################
# 4. Keys: the wrong key of the right kind, a key of another algorithm, the wrong AES key.
for alg in RSA_3072 ECC_NIST_P256 ECC_NIST_P384 ED25519; do
	expect_exit "$alg: another $alg key is refused" 4 "$V" -q --pubkey "$K/other-$alg.pub" "$P/$alg-0"
done
expect_exit "RSA_4096 package, RSA 3072 key: refused as the wrong algorithm" 4 \
	"$V" -q --pubkey "$K/RSA_3072.pub" "$P/RSA_4096-0"
check "the message says the key does not fit" grep -q 'not a key for RSA_4096' "$TMP/err"
expect_exit "RSA_3072 package, RSA 4096 key: refused" 4 "$V" -q --pubkey "$K/RSA_4096.pub" "$P/RSA_3072-0"
expect_exit "ECC_NIST_P256 package, P-384 key: refused" 4 "$V" -q --pubkey "$K/ECC_NIST_P384.pub" "$P/ECC_NIST_P256-0"
expect_exit "ECC_NIST_P384 package, P-256 key: refused" 4 "$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/ECC_NIST_P384-0"
expect_exit "ED25519 package, P-256 key: refused" 4 "$V" -q --pubkey "$K/ECC_NIST_P256.pub" "$P/ED25519-0"
expect_exit "a certificate for another key: refused" 4 "$V" -q --cert "$K/ED25519.crt" "$P/ECC_NIST_P256-0"
expect_exit "a certificate for another key, even from the trusted CA: refused" 4 \
	"$V" -q --cert "$K/ED25519.crt" --ca "$K/test-ca.pem" "$P/ECC_NIST_P256-0"

# The AES key: its size must match the cipher; a wrong key fails PKCS#7 (picked so that openssl
# itself reports bad padding for segment 0, so the expectation does not depend on luck).
expect_exit "a 16-byte key for an AES-256 package: decryption failure" 5 \
	"$V" -q --pubkey "$K/ED25519.pub" --key "$K/aes128.key" -o "$TMP/out-k" "$P/ED25519-0"
expect_exit "a 32-byte key for an AES-128 package: decryption failure" 5 \
	"$V" -q --pubkey "$K/ED25519.pub" --key "$K/aes256.key" -o "$TMP/out-k" "$P/ED25519-1"
head -c 20 /dev/urandom >"$K/aes20.key"
expect_exit "a key file of 20 bytes: usage error" 2 \
	"$V" -q --pubkey "$K/ED25519.pub" --key "$K/aes20.key" -o "$TMP/out-k" "$P/ED25519-0"
seg=$P/ED25519-0.seg0
n=$(wc -c <"$seg")
head -c $((n - 16)) "$seg" >"$TMP/seg.ct"
found=
for _ in 1 2 3 4 5 6 7 8; do
	head -c 32 /dev/urandom >"$K/wrong.key"
	if ! openssl enc -d -aes-256-cbc -K "$(hex "$K/wrong.key")" -iv "$(tail -c 16 "$seg" | od -An -tx1 -v | tr -d ' \n')" \
		-in "$TMP/seg.ct" -out /dev/null 2>/dev/null; then
		found=1
		break
	fi
done
check "a wrong AES key that openssl rejects was found" test -n "$found"
expect_exit "the wrong AES key: decryption failure" 5 \
	"$V" -q --pubkey "$K/ED25519.pub" --key "$K/wrong.key" -o "$TMP/out-k" "$P/ED25519-0"
check "the message names the segment" grep -q '^signet-verify: segment 0: decryption failed' "$TMP/err"
check "after a decryption failure nothing is left in the output directory" \
	test -z "$(ls -A "$TMP/out-k")"

###########################################################################################
# 5. Usage.
expect_exit "no arguments: usage error" 2 "$V"
expect_exit "no key: usage error" 2 "$V" "$P/ED25519-0"
expect_exit "--pubkey and --cert together: usage error" 2 \
	"$V" --pubkey "$K/ED25519.pub" --cert "$K/ED25519.crt" "$P/ED25519-0"
expect_exit "--ca without --cert: usage error" 2 \
	"$V" --pubkey "$K/ED25519.pub" --ca "$K/test-ca.pem" "$P/ED25519-0"
expect_exit "--key without -o: usage error" 2 \
	"$V" --pubkey "$K/ED25519.pub" --key "$K/aes256.key" "$P/ED25519-0"
expect_exit "-o without --key: usage error" 2 "$V" --pubkey "$K/ED25519.pub" -o "$TMP/x" "$P/ED25519-0"
expect_exit "a missing package: I/O error" 2 "$V" --pubkey "$K/ED25519.pub" "$TMP/nonexistent"
expect_exit "a public key file that is not one: usage error" 2 "$V" --pubkey "$TMP/md.txt" "$P/ED25519-0"
expect_exit "two packages: usage error" 2 "$V" --pubkey "$K/ED25519.pub" "$P/ED25519-0" "$P/ED25519-1"
expect_exit "an unknown option: usage error" 2 "$V" --pubkye "$K/ED25519.pub" "$P/ED25519-0"
check "... naming it" grep -q '^signet-verify: unknown option --pubkye' "$TMP/err"
expect_exit "an option without its value: usage error" 2 "$V" "$P/ED25519-0" --pubkey
expect_exit "--help" 0 "$V" --help
