#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Packaging tasks (BOSCH_SE_V1, DESIGN §9), every package checked by independent tools, never by
# our own code: the header read by a reader written here from the layout table (python3 struct),
# the signature by openssl dgst / pkeyutl, each segment by openssl enc -d. Covers every signing
# algorithm and the six ciphers, metadata (none, some, 65535 bytes), 255 segments, the child
# tasks, four-eyes approval with TOTP (oathtool), the refusals, and (SIGNET_TEST_BIG=1) a 1 GiB
# firmware with the daemon's peak RSS.
# shellcheck source=tests/integration/lib.sh
. "$TESTLIB"

# as TOKEN ARGS...: signetctl with another user's token.
as() {
	_tok=$1
	shift
	"$SIGNETCTL" --socket "${DSOCK:-$SOCK}" --token "$_tok" "$@"
}
now() { date +%s.%N; }
# since T0: seconds elapsed since T0, two decimals.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }

# fails_to_verify COMMAND...: the verifier runs and reports a verification failure (not some other
# error, a bad option say).
fails_to_verify() {
	if "$@" >"$TMP/fv.out" 2>&1; then
		return 1
	fi
	grep -qi 'verification failure\|verify failure\|digest failure' "$TMP/fv.out"
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

# The signature cipher codes (DESIGN §9 / doc/container.md) and the encryption cipher codes.
sc_of() {
	case $1 in
	RSA_3072) echo 1 ;; RSA_4096) echo 2 ;; ECC_NIST_P256) echo 3 ;;
	ECC_NIST_P384) echo 4 ;; ED25519) echo 5 ;; *) echo x ;;
	esac
}
ec_of() {
	case $1 in
	AES256_CBC_PKCS7_PAD) echo 0 ;; AES128_CBC_PKCS7_PAD) echo 1 ;;
	AES256_CBC_ZERO_BYTE_PAD) echo 2 ;; AES256_ECB_ZERO_BYTE_PAD) echo 3 ;;
	AES128_ECB_ZERO_BYTE_PAD) echo 4 ;; AES128_CTR_NO_PAD) echo 5 ;; *) echo x ;;
	esac
}
# enc_len CIPHER N: the length of N bytes encrypted, IV included (doc/formats.md §3).
enc_len() {
	case $1 in
	*CBC_PKCS7*) echo $(($2 / 16 * 16 + 16 + 16)) ;;
	*CBC_ZERO*) echo $((($2 + 15) / 16 * 16 + 16)) ;;
	*ECB*) echo $((($2 + 15) / 16 * 16)) ;;
	*CTR*) echo $(($2 + 16)) ;;
	esac
}

# The independent reader of BOSCH_SE_V1, from the table in DESIGN §9 and nothing else: every
# integer little-endian, no padding. It writes header.bin, md.bin, sig.bin and fields.json into
# OUTDIR and, told "cut", each segment as seg.I (and as head.I without its last 16 bytes, whose
# hex is tail16[I], the IV of the ciphers that have one). It reads only the header when not cutting, so a
# 1 GiB package costs nothing here.
cat >"$TMP/bosch.py" <<'EOF'
import json, os, struct, sys
path, outdir = sys.argv[1], sys.argv[2]
cut = len(sys.argv) > 3 and sys.argv[3] == "cut"
os.makedirs(outdir, exist_ok=True)
total = os.path.getsize(path)
with open(path, "rb") as f:
    fixed = f.read(struct.calcsize("<8sBHHHB"))
    assert struct.calcsize("<8sBHHHB") == 16
    ht, pv, ml, ec, sc, es = struct.unpack("<8sBHHHB", fixed)
    esl = list(struct.unpack("<%dI" % es, f.read(4 * es)))
    esh = [f.read(32).hex() for _ in range(es)]
    mdf = f.read(ml)
    hlen = f.tell()
    f.seek(0)
    hdr = f.read(hlen)
    offs = []
    tails = []
    off = hlen
    for i, n in enumerate(esl):
        offs.append(off)
        if cut:
            f.seek(off)
            seg = f.read(n)
            with open(os.path.join(outdir, "seg.%d" % i), "wb") as o:
                o.write(seg)
            with open(os.path.join(outdir, "head.%d" % i), "wb") as o:
                o.write(seg[:-16])
            tails.append(seg[-16:].hex())
        off += n
    f.seek(off)
    sig = f.read()
for name, data in (("header.bin", hdr), ("md.bin", mdf), ("sig.bin", sig)):
    with open(os.path.join(outdir, name), "wb") as o:
        o.write(data)
json.dump({"ht": ht.decode("latin-1"), "pv": pv, "ml": ml, "ec": ec, "sc": sc, "es": es,
           "esl": esl, "esh": esh, "mdlen": len(mdf), "hlen": hlen, "offsets": offs, "tail16": tails,
           "sigoff": off, "siglen": len(sig), "total": total},
          open(os.path.join(outdir, "fields.json"), "w"))
EOF

# hf DIR JQ: a field of a parsed header.
hf() { jq -r "$2" "$1/fields.json"; }

# pkg NAME DEVCONF [--metadata FILE] FIRMWARE...: a packaging task run to its end, its last
# task show in $TMP/NAME.task, its download in $TMP/NAME.pkg (and that answer in $TMP/NAME.dl);
# PKG_ID is its id. Fails (with a reason in $TMP/err) if a step does.
pkg() {
	_n=$1 _dc=$2
	shift 2
	PKG_ID=
	rm -f "$TMP/$_n.pkg"
	ctl --json task package --devconf "$_dc" --name "$_n" "$@" >"$TMP/$_n.task" 2>"$TMP/err" ||
		return 1
	PKG_ID=$(jq -r .id "$TMP/$_n.task")
	ctl --json task wait "$PKG_ID" --timeout 300 >"$TMP/$_n.task" 2>"$TMP/err" || return 1
	ctl --json task download "$PKG_ID" -o "$TMP/$_n.pkg" >"$TMP/$_n.dl" 2>"$TMP/err"
}

# ossl_of CIPHER: openssl enc's name of the cipher.
ossl_of() {
	case $1 in
	AES256_CBC*) echo aes-256-cbc ;; AES128_CBC*) echo aes-128-cbc ;;
	AES256_ECB*) echo aes-256-ecb ;; AES128_ECB*) echo aes-128-ecb ;;
	AES128_CTR*) echo aes-128-ctr ;;
	esac
}

# verify_pkg NAME ALG CIPHER HEXKEY PUBKEY METADATA|- FIRMWARE...: every field of the header of
# $TMP/NAME.pkg, the layout, the signature and every segment, against what was packaged.
verify_pkg() {
	_n=$1 _alg=$2 _c=$3 _k=$4 _pub=$5 _md=$6
	shift 6
	_d=$TMP/$_n.d
	rm -rf "$_d"
	if ! python3 "$TMP/bosch.py" "$TMP/$_n.pkg" "$_d" cut 2>"$TMP/err"; then
		not_ok "$_n: the independent reader parses the package ($(head -c 300 "$TMP/err"))"
		return 0
	fi
	_es=$#
	_mlen=0
	[ "$_md" = - ] || _mlen=$(size "$_md")
	check "$_n: ht is the 8 bytes 'Bosch_SE'" test "$(head -c 8 "$TMP/$_n.pkg")" = Bosch_SE
	check "$_n: pv is 1" test "$(hf "$_d" .pv)" = 1
	check "$_n: ml is the metadata's size ($_mlen)" test "$(hf "$_d" .ml)" = "$_mlen"
	check "$_n: ec is $(ec_of "$_c") ($_c)" test "$(hf "$_d" .ec)" = "$(ec_of "$_c")"
	check "$_n: sc is $(sc_of "$_alg") ($_alg)" test "$(hf "$_d" .sc)" = "$(sc_of "$_alg")"
	check "$_n: es is the number of firmware files ($_es)" test "$(hf "$_d" .es)" = "$_es"
	check "$_n: the header is 16 + 36 * es + ml bytes" \
		test "$(hf "$_d" .hlen)" = $((16 + 36 * _es + _mlen))
	if [ "$_md" = - ]; then
		check "$_n: mdf is empty" test ! -s "$_d/md.bin"
	else
		check "$_n: mdf is the metadata's bytes" cmp "$_d/md.bin" "$_md"
	fi
	# Per segment: esl, esh, and openssl's decryption, each summed up in one check. One line a
	# segment: firmware file, its size, esl, esh, tail16, sha256sum of the segment cut from the file.
	_ossl=$(ossl_of "$_c")
	printf '%s\n' "$@" >"$_d/files"
	stat -c %s "$@" >"$_d/sizes"
	jq -r '. as $f | range(0; .es) | "\($f.esl[.]) \($f.esh[.]) \($f.tail16[.])"' "$_d/fields.json" >"$_d/hdr"
	_i=0 _hes=$(hf "$_d" .es)
	while [ $_i -lt "$_hes" ]; do
		echo "$_d/seg.$_i"
		_i=$((_i + 1))
	done | xargs -r sha256sum | cut -d' ' -f1 >"$_d/cut"
	paste -d' ' "$_d/files" "$_d/sizes" "$_d/hdr" "$_d/cut" >"$_d/lines"
	_i=0 _bad_l='' _bad_h='' _bad_d='' _sum=0
	while read -r _f _sz _l _h _iv _cut; do
		_sum=$((_sum + _l))
		case $_c in
		*CBC_PKCS7*) _want=$((_sz / 16 * 16 + 32)) ;;
		*CBC_ZERO*) _want=$(((_sz + 15) / 16 * 16 + 16)) ;;
		*ECB*) _want=$(((_sz + 15) / 16 * 16)) ;;
		*CTR*) _want=$((_sz + 16)) ;;
		esac
		[ "$_l" = "$_want" ] || _bad_l="$_bad_l $_i($_l, not $_want)"
		[ "$_h" = "$_cut" ] || _bad_h="$_bad_h $_i"
		# The plaintext openssl must give back: the file, zero-padded to a multiple of 16 for
		# the zero-padding ciphers.
		_exp=$_f
		case $_c in
		*ZERO*)
			_exp=$TMP/expect
			cp "$_f" "$_exp"
			head -c $(((_sz + 15) / 16 * 16 - _sz)) /dev/zero >>"$_exp" ;;
		esac
		rm -f "$TMP/dec"
		case $_c in
		*PKCS7*) openssl enc -d "-$_ossl" -K "$_k" -iv "$_iv" -in "$_d/head.$_i" -out "$TMP/dec" ;;
		*ECB*) openssl enc -d "-$_ossl" -K "$_k" -nopad -in "$_d/seg.$_i" -out "$TMP/dec" ;;
		*) openssl enc -d "-$_ossl" -K "$_k" -iv "$_iv" -nopad -in "$_d/head.$_i" -out "$TMP/dec" ;;
		esac >"$TMP/dec.err" 2>&1 || _bad_d="$_bad_d $_i(openssl: $(head -c 80 "$TMP/dec.err"))"
		cmp -s "$TMP/dec" "$_exp" || _bad_d="$_bad_d $_i"
		_i=$((_i + 1))
	done <"$_d/lines"
	check "$_n: one segment a firmware file" test "$_i" = "$_es"
	check "$_n: every esl is the length of the encrypted firmware, IV included${_bad_l:+ (wrong:$_bad_l)}" test -z "$_bad_l"
	check "$_n: every esh is sha256sum of the segment cut from the file${_bad_h:+ (wrong:$_bad_h)}" test -z "$_bad_h"
	check "$_n: openssl enc -d turns every segment back into its firmware${_bad_d:+ (wrong:$_bad_d)}" test -z "$_bad_d"
	check "$_n: file size = header + sum(esl) + signature" \
		test "$(size "$TMP/$_n.pkg")" = $(($(hf "$_d" .hlen) + _sum + $(hf "$_d" .siglen)))
	check "$_n: there is a signature after the last segment" test "$(hf "$_d" .siglen)" -gt 0
	case $_alg in
	RSA_3072) check "$_n: the RSA_3072 signature is 384 bytes" test "$(hf "$_d" .siglen)" = 384 ;;
	RSA_4096) check "$_n: the RSA_4096 signature is 512 bytes" test "$(hf "$_d" .siglen)" = 512 ;;
	ED25519) check "$_n: the Ed25519 signature is 64 bytes" test "$(hf "$_d" .siglen)" = 64 ;;
	ECC*) check "$_n: the ECDSA signature is DER (a SEQUENCE of the rest's length)" \
		test "$(head -c 2 "$_d/sig.bin" | od -An -tu1 | tr -s ' ' ' ')" = " 48 $(($(hf "$_d" .siglen) - 2))" ;;
	esac
	check "$_n: openssl verifies the signature over the header" \
		verify_sig "$_alg" "$_pub" "$_d/sig.bin" "$_d/header.bin"
	# One bit of the last segment digest flipped: the signature must not cover that header.
	python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[int(sys.argv[3])] ^= 1
open(sys.argv[2], "wb").write(b)' "$_d/header.bin" "$_d/header.bad" $((16 + 36 * _es - 1))
	check "$_n: ... and not over a header with one esh bit changed" \
		fails_to_verify verify_sig "$_alg" "$_pub" "$_d/sig.bin" "$_d/header.bad"
}

# The children are read over one connection (a task.show each), by a client written here.
cat >"$TMP/shows.py" <<'EOF2'
import json, socket, sys
path, token = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
out = []
for n, tid in enumerate(sys.stdin.read().split()):
    s.send(json.dumps({"id": n + 1, "op": "task.show", "auth": {"token": token},
                       "args": {"id": tid}}).encode())
    rep = json.loads(s.recv(65536))
    out.append(rep["result"] if rep.get("ok") else {"id": tid, "error": rep["error"]})
json.dump(out, sys.stdout)
EOF2

# verify_task NAME: the task in $TMP/NAME.task (after the wait) against its package and header:
# DONE, the result, the children.
verify_task() {
	_n=$1 _d=$TMP/$1.d
	_t=$TMP/$_n.task
	_id=$(jq -r .id "$_t")
	_es=$(hf "$_d" .es)
	check "$_n: the PACKAGING task is DONE" test "$(jq -r '.type + " " + .status' "$_t")" = "PACKAGING DONE"
	check "$_n: the result's sha256 is sha256sum of the download" \
		test "$(jq -r .result.sha256 "$_t")" = "$(sha "$TMP/$_n.pkg")"
	check "$_n: the download reports that sha256 too" \
		test "$(jq -r .sha256 "$TMP/$_n.dl")" = "$(sha "$TMP/$_n.pkg")"
	check "$_n: the result's size, headerSize, segments and format match the file" \
		test "$(jq -r '.result | "\(.size) \(.headerSize) \(.segments) \(.format)"' "$_t")" = \
		"$(size "$TMP/$_n.pkg") $(hf "$_d" .hlen) $_es BOSCH_SE_V1"
	check "$_n: $((_es + 1)) children" test "$(jq -r '.children | length' "$_t")" = $((_es + 1))
	jq -r '.children[]' "$_t" | python3 "$TMP/shows.py" "$SOCK" "$SIGNET_TOKEN" >"$_d/children" 2>"$TMP/err" ||
		not_ok "$_n: read the children ($(head -c 200 "$TMP/err"))"
	check "$_n: the children are $_es ENCRYPTION + 1 SIGNING" \
		test "$(jq -r '[(map(select(.type == "ENCRYPTION")) | length), (map(select(.type == "SIGNING")) | length), length] | map(tostring) | join(" ")' "$_d/children")" = "$_es 1 $((_es + 1))"
	check "$_n: every child is DONE with parent = the package" \
		test "$(jq -r --arg p "$_id" '[.[] | select(.status != "DONE" or .parent != $p) | .id] | join(" ")' "$_d/children")" = ""
	# ENCRYPTION child of segment i: its result is where segment i lies, its length and digest;
	# its input is firmware file i.
	_bad=$(jq -r --slurpfile f "$_d/fields.json" --slurpfile t "$_t" '
		[.[] | select(.type == "ENCRYPTION")] as $e
		| [range(0; $f[0].es) as $i
		   | [$e[] | select(.encryption.segment == $i)] as $m
		   | if ($m | length) != 1 then "segment \($i): \($m | length) children"
		     elif $m[0].result != {sha256: $f[0].esh[$i], size: $f[0].esl[$i], offset: $f[0].offsets[$i]}
		     then "segment \($i): result \($m[0].result | tostring)"
		     elif $m[0].inputs[0].sha256 != $t[0].inputs[$i].sha256 then "segment \($i): input"
		     else empty end] | join("; ")' "$_d/children" 2>&1)
	check "$_n: each ENCRYPTION child's result is its segment's offset, esl and esh${_bad:+ ($_bad)}" test -z "$_bad"
	check "$_n: the SIGNING child's signature is the one after the last segment" \
		test "$(jq -r '.[] | select(.type == "SIGNING") | .result.signature' "$_d/children")" = "$(base64 -w0 "$_d/sig.bin")"
	check "$_n: the SIGNING child signed the header (its input's sha256)" \
		test "$(jq -r '.[] | select(.type == "SIGNING") | .inputs[0] | "\(.sha256) \(.size)"' "$_d/children")" = \
		"$(sha "$_d/header.bin") $(size "$_d/header.bin")"
}

T_START=$(now)
init_state
start_daemon
check "the harness's DPID is signetd itself" test "$(cat "/proc/$DPID/comm")" = signetd
ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json user create bob >"$TMP/out" || fatal "user create bob"
B_TOKEN=$(json .token)
ctl --json user create carol >"$TMP/out" || fatal "user create carol"
C_TOKEN=$(json .token)

# Keys: two AES keys with known bytes (so that openssl can decrypt), a signing key per algorithm.
head -c 32 /dev/urandom >"$TMP/aes256.raw"
head -c 16 /dev/urandom >"$TMP/aes128.raw"
K256=$(hex "$TMP/aes256.raw")
K128=$(hex "$TMP/aes128.raw")
ctl key import e256 --alg AES_256 --file "$TMP/aes256.raw" >/dev/null || fatal "import e256"
ctl key import e128 --alg AES_128 --file "$TMP/aes128.raw" >/dev/null || fatal "import e128"
for alg in ECC_NIST_P256 ECC_NIST_P384 RSA_3072 RSA_4096 ED25519; do
	ctl --json key generate "s-$alg" --alg "$alg" >"$TMP/out" || fatal "generate $alg"
	json .publicKeyPem | sed '/^$/d' >"$TMP/$alg.pub"
done
say "# keys ready after $(since "$T_START") s"

###########################################################################################
# 1. Two firmware files (one not a multiple of 16) and metadata; AES-256 CBC, ECDSA P-256.
head -c 100003 /dev/urandom >"$TMP/fw-a.bin"
head -c 65536 /dev/urandom >"$TMP/fw-b.bin"
printf '{"device": "ECU-4711", "version": "1.2.3", "notes": "metadata of the package"}\n' >"$TMP/meta.json"
ctl --json devconf create dc1 --package-key s-ECC_NIST_P256 --encrypt-key e256 --four-eyes off >"$TMP/out" ||
	fatal "devconf dc1"
DC1=$(json .id)
check "dc1: AES256_CBC_PKCS7_PAD, packaging BOSCH_SE_V1" \
	test "$(json '.cipher + " " + .packaging')" = "AES256_CBC_PKCS7_PAD BOSCH_SE_V1"
if pkg p1 "$DC1" --metadata "$TMP/meta.json" "$TMP/fw-a.bin" "$TMP/fw-b.bin"; then
	ok "p1: packaged and downloaded"
	check "p1: the task records the two firmware files and the metadata (name, role, size, sha256)" \
		test "$(jq -c '[.inputs[] | [.name, .role, .size, .sha256]]' "$TMP/p1.task")" = \
		"[[\"fw-a.bin\",\"firmware\",100003,\"$(sha "$TMP/fw-a.bin")\"],[\"fw-b.bin\",\"firmware\",65536,\"$(sha "$TMP/fw-b.bin")\"],[\"metadata\",\"metadata\",$(size "$TMP/meta.json"),\"$(sha "$TMP/meta.json")\"]]"
	verify_pkg p1 ECC_NIST_P256 AES256_CBC_PKCS7_PAD "$K256" "$TMP/ECC_NIST_P256.pub" "$TMP/meta.json" \
		"$TMP/fw-a.bin" "$TMP/fw-b.bin"
	verify_task p1
	# The decryption check can fail: a key one bit off does not give the firmware back.
	wrongkey=$(python3 -c 'import sys; k = bytearray.fromhex(sys.argv[1]); k[0] ^= 1; print(k.hex())' "$K256")
	rm -f "$TMP/dec"
	openssl enc -d -aes-256-cbc -K "$wrongkey" -iv "$(jq -r '.tail16[1]' "$TMP/p1.d/fields.json")" \
		-nopad -in "$TMP/p1.d/head.1" -out "$TMP/dec" 2>/dev/null || true
	check "p1: a key one bit off does not decrypt segment 1 to its firmware" \
		sh -c "test -s '$TMP/dec' && ! head -c 65536 '$TMP/dec' | cmp -s - '$TMP/fw-b.bin'"
	# The device-side reference tool on what the daemon made: checks, then decrypts.
	if [ -n "${SIGNET_VERIFY:-}" ] && [ -x "$SIGNET_VERIFY" ]; then
		check "p1: signet-verify accepts the package and decrypts it" \
			"$SIGNET_VERIFY" --pubkey "$TMP/ECC_NIST_P256.pub" --key "$TMP/aes256.raw" \
			-o "$TMP/p1.sv" "$TMP/p1.pkg"
		check "p1: signet-verify's segments are the firmware files, its metadata the metadata" \
			sh -c "cmp -s '$TMP/p1.sv/segment-000' '$TMP/fw-a.bin' && cmp -s '$TMP/p1.sv/segment-001' '$TMP/fw-b.bin' && cmp -s '$TMP/p1.sv/metadata' '$TMP/meta.json'"
		cp "$TMP/p1.pkg" "$TMP/p1.bad"
		flip_byte "$TMP/p1.bad" 200 || not_ok "p1: byte 200 of a copy flipped"
		svrc=0
		"$SIGNET_VERIFY" -q --pubkey "$TMP/ECC_NIST_P256.pub" "$TMP/p1.bad" 2>/dev/null || svrc=$?
		check "p1: signet-verify refuses a changed segment byte (exit 3, bad hash; got $svrc)" test "$svrc" = 3
	else
		not_ok "SIGNET_VERIFY names no signet-verify binary"
	fi
	check "p1: the header bytes are exactly as DESIGN §9 lays them out (fixed part)" \
		test "$(head -c 16 "$TMP/p1.pkg" | od -An -tx1 -v | tr -d ' \n')" = \
		"426f7363685f534501$(printf '%02x%02x' $(($(size "$TMP/meta.json") % 256)) $(($(size "$TMP/meta.json") / 256)))0000030002"
else
	not_ok "p1: packaged and downloaded ($(head -c 300 "$TMP/err"))"
fi

###########################################################################################
# 2. Every signing algorithm, the six ciphers, no metadata.
head -c 1 /dev/urandom >"$TMP/fw-c.bin"
ctl --json devconf create dc-ecb-early --package-key s-ED25519 --encrypt-key e256 \
	--cipher AES256_ECB_ZERO_BYTE_PAD --four-eyes off >"$TMP/out" || fatal "an ECB device configuration"
expect_refusal "a legacy (ECB) cipher is refused before the tenant allows it: denied" denied \
	ctl task package --devconf "$(json .id)" "$TMP/fw-a.bin"
check "allow legacy ciphers" ctl config set encryption.legacyCiphers.allowed true
for spec in RSA_3072:AES128_CBC_PKCS7_PAD RSA_4096:AES256_CBC_ZERO_BYTE_PAD \
	ECC_NIST_P256:AES128_ECB_ZERO_BYTE_PAD ECC_NIST_P384:AES128_CTR_NO_PAD \
	ED25519:AES256_ECB_ZERO_BYTE_PAD; do
	alg=${spec%%:*} cipher=${spec#*:}
	case $cipher in
	AES256_*) key=e256 hexkey=$K256 ;;
	*) key=e128 hexkey=$K128 ;;
	esac
	ctl --json devconf create "dc-$alg" --package-key "s-$alg" --encrypt-key "$key" --cipher "$cipher" \
		--four-eyes off >"$TMP/out" || fatal "devconf for $alg"
	dc=$(json .id)
	if pkg "p-$alg" "$dc" "$TMP/fw-a.bin" "$TMP/fw-b.bin" "$TMP/fw-c.bin"; then
		ok "p-$alg: packaged and downloaded ($cipher)"
		verify_pkg "p-$alg" "$alg" "$cipher" "$hexkey" "$TMP/$alg.pub" - \
			"$TMP/fw-a.bin" "$TMP/fw-b.bin" "$TMP/fw-c.bin"
		verify_task "p-$alg"
	else
		not_ok "p-$alg: packaged and downloaded ($(head -c 300 "$TMP/err"))"
	fi
done
say "# section 2 done after $(since "$T_START") s"

# 255 firmware files (signetctl puts more than 7 into one descriptor with regions), with
# metadata, sizes 1 to 1779 bytes (some multiples of 16).
mkdir "$TMP/many"
python3 -c 'import os, sys
for i in range(256):
    open(os.path.join(sys.argv[1], "fw%03d.bin" % i), "wb").write(os.urandom(7 * i + 1))' "$TMP/many"
MANY=$(printf '%s\n' "$TMP"/many/fw*.bin | head -n 255 | tr '\n' ' ')
printf 'many segments' >"$TMP/meta-many"
# shellcheck disable=SC2086
if pkg p255 "$DC1" --metadata "$TMP/meta-many" $MANY; then
	ok "p255: 255 firmware files packaged and downloaded"
	# shellcheck disable=SC2086
	verify_pkg p255 ECC_NIST_P256 AES256_CBC_PKCS7_PAD "$K256" "$TMP/ECC_NIST_P256.pub" "$TMP/meta-many" $MANY
	verify_task p255
	check "p255: the task names each firmware file as given" \
		test "$(jq -r '[.inputs[] | select(.role == "firmware") | .name] | join(" ")' "$TMP/p255.task")" = \
		"$(printf '%s\n' "$TMP"/many/fw*.bin | head -n 255 | xargs -n1 basename | tr '\n' ' ' | sed 's/ $//')"
else
	not_ok "p255: 255 firmware files packaged and downloaded ($(head -c 300 "$TMP/err"))"
	# While 255 is refused, the most signetctl gets through (252 files, no metadata) is still
	# checked, so that many segments are covered.
	MANY=$(printf '%s\n' "$TMP"/many/fw*.bin | head -n 252 | tr '\n' ' ')
	# shellcheck disable=SC2086
	if pkg p252 "$DC1" $MANY; then
		ok "p252: 252 firmware files packaged and downloaded"
		# shellcheck disable=SC2086
		verify_pkg p252 ECC_NIST_P256 AES256_CBC_PKCS7_PAD "$K256" "$TMP/ECC_NIST_P256.pub" - $MANY
		verify_task p252
	else
		not_ok "p252: 252 firmware files packaged and downloaded ($(head -c 300 "$TMP/err"))"
	fi
fi
# Eight files and metadata: the smallest package that signetctl sends as regions of one file.
EIGHT="$(printf '%s\n' "$TMP"/many/fw*.bin | sed -n '10,16p' | tr '\n' ' ')$TMP/fw-a.bin"
# shellcheck disable=SC2086
if pkg p8 "$DC1" --metadata "$TMP/meta.json" $EIGHT; then
	ok "p8: 8 firmware files (regions of one descriptor) and metadata packaged"
	# shellcheck disable=SC2086
	verify_pkg p8 ECC_NIST_P256 AES256_CBC_PKCS7_PAD "$K256" "$TMP/ECC_NIST_P256.pub" "$TMP/meta.json" $EIGHT
else
	not_ok "p8: 8 firmware files and metadata packaged ($(head -c 300 "$TMP/err"))"
fi
# Metadata of exactly 65535 bytes, the most ml can say.
head -c 65535 /dev/urandom >"$TMP/meta-max"
if pkg pmax "$DC1" --metadata "$TMP/meta-max" "$TMP/fw-c.bin"; then
	ok "pmax: 65535 bytes of metadata packaged"
	verify_pkg pmax ECC_NIST_P256 AES256_CBC_PKCS7_PAD "$K256" "$TMP/ECC_NIST_P256.pub" "$TMP/meta-max" "$TMP/fw-c.bin"
else
	not_ok "pmax: 65535 bytes of metadata packaged ($(head -c 300 "$TMP/err"))"
fi
# An empty metadata file is no metadata: ml = 0.
: >"$TMP/meta-empty"
if pkg pnomd "$DC1" --metadata "$TMP/meta-empty" "$TMP/fw-c.bin"; then
	python3 "$TMP/bosch.py" "$TMP/pnomd.pkg" "$TMP/pnomd.d" >/dev/null 2>&1 || true
	check "pnomd: empty metadata gives ml = 0" test "$(hf "$TMP/pnomd.d" .ml 2>/dev/null)" = 0
else
	not_ok "pnomd: an empty metadata file is accepted as none ($(head -c 300 "$TMP/err"))"
fi
say "# many segments done after $(since "$T_START") s"

###########################################################################################
# 3. Four-eyes: the tenant default approval.fourEyes.packaging is true; nothing is produced
# until an approver with TOTP approves.
ctl --json config get approval.fourEyes.packaging >"$TMP/out" 2>"$TMP/err" || true
check "the tenant default approval.fourEyes.packaging is true" \
	sh -c "jq -e '. == true or .value == true' '$TMP/out' >/dev/null"
# Its own packaging key: a key's strictest policy applies to all its uses (DESIGN §5), and dc1
# packages at once with s-ECC_NIST_P256.
ctl --json key generate s-4e --alg ECC_NIST_P256 >"$TMP/out" || fatal "key generate s-4e"
json .publicKeyPem | sed '/^$/d' >"$TMP/4e.pub"
ctl --json devconf create dc4e --package-key s-4e --encrypt-key e256 --approver USER:carol >"$TMP/out" ||
	fatal "devconf dc4e"
DC4E=$(json .id)
check "dc4e leaves four-eyes to the tenant default" test "$(json .approval.fourEyes)" = null
as "$C_TOKEN" --json user otp-enroll carol >"$TMP/out" 2>"$TMP/err" || fatal "carol enrolls: $(cat "$TMP/err")"
SEC_carol=$(json .secret)
ctl --json task package --devconf "$DC4E" --metadata "$TMP/meta.json" "$TMP/fw-a.bin" "$TMP/fw-b.bin" \
	>"$TMP/p4e.task" 2>"$TMP/err" || not_ok "package on dc4e ($(cat "$TMP/err"))"
P4E=$(jq -r .id "$TMP/p4e.task")
check "the packaging task answers WAITING" test "$(jq -r .status "$TMP/p4e.task")" = WAITING
sleep 1
ctl --json task show "$P4E" >"$TMP/out"
cp "$TMP/out" "$TMP/p4e.waiting"
check "... and is still WAITING, approval required, its 2 segments encrypted (children), no result" \
	test "$(json '"\(.status) \(.approval.required) \(.children | length) \(.result)"')" = "WAITING true 2 null"
check "... its approvers see each segment (size, sha256), the cipher and the header's digest" \
	test "$(json '"\(.packaging.segmentSizes | length) \(.packaging.segmentSha256 | length) \(.encryption.cipher) \(.packaging.header.size) \(.packaging.header.sha256 | length)"')" = \
	"2 2 AES256_CBC_PKCS7_PAD $((16 + 36 * 2 + $(size "$TMP/meta.json"))) 64"
expect_refusal "task download of the waiting package is refused: conflict" conflict \
	ctl task download "$P4E" -o "$TMP/p4e.pkg"
check "... and wrote no file" test ! -s "$TMP/p4e.pkg"
check "... nor is there anything in the output spool for it" \
	sh -c "! ls '$STATE/spool/out' '$STATE/spool/tmp' 2>/dev/null | grep -q '$P4E'"
if as "$C_TOKEN" --json task approve "$P4E" --otp "$(oathtool --totp -b "$SEC_carol")" >"$TMP/out" 2>"$TMP/err"; then
	ok "carol approves with oathtool's code"
	ctl --json task wait "$P4E" --timeout 120 >"$TMP/p4e.task" 2>"$TMP/err" || true
	if ctl --json task download "$P4E" -o "$TMP/p4e.pkg" >"$TMP/p4e.dl" 2>"$TMP/err"; then
		verify_pkg p4e ECC_NIST_P256 AES256_CBC_PKCS7_PAD "$K256" "$TMP/4e.pub" "$TMP/meta.json" \
			"$TMP/fw-a.bin" "$TMP/fw-b.bin"
		verify_task p4e
		check "p4e: the header signed is the one the approver saw while the task waited" \
			test "$(jq -r .packaging.header.sha256 "$TMP/p4e.waiting")" = "$(sha "$TMP/p4e.d/header.bin")"
		check "p4e: ... and so are its segments (esh) and their lengths (esl)" \
			test "$(jq -c '[.packaging.segmentSha256, .packaging.segmentSizes]' "$TMP/p4e.waiting")" = \
			"$(jq -c '[.esh, .esl]' "$TMP/p4e.d/fields.json")"
		check "p4e: carol's approval binds that header digest" \
			test "$(jq -r '.approvals[0].headerSha256' "$TMP/p4e.task")" = "$(sha "$TMP/p4e.d/header.bin")"
	else
		not_ok "the approved package downloads ($(cat "$TMP/err"))"
	fi
else
	not_ok "carol approves with oathtool's code ($(cat "$TMP/err"))"
fi
# The tenant default turned off: the same device configuration packages at once.
check "set approval.fourEyes.packaging false" ctl config set approval.fourEyes.packaging false
ctl --json task package --devconf "$DC4E" "$TMP/fw-c.bin" >"$TMP/out" 2>"$TMP/err" || true
check "... then a package on dc4e does not wait" test "$(json .status 2>/dev/null)" != WAITING
check "set approval.fourEyes.packaging back to true" ctl config set approval.fourEyes.packaging true
ctl --json task package --devconf "$DC4E" "$TMP/fw-c.bin" >"$TMP/out" 2>"$TMP/err" || true
check "... then it waits again" test "$(json .status 2>/dev/null)" = WAITING

###########################################################################################
# 4. Refusals: nothing stored, nothing spooled.
ctl --json task list --limit 1000 >"$TMP/out"
N_TASKS=$(json '.tasks | length')
SPOOL_IN=$(ls -A "$STATE/spool/in" | tr '\n' ' ')
nothing_stored() {
	ctl --json task list --limit 1000 >"$TMP/list.out"
	check "$1: no task stored" test "$(jq -r '.tasks | length' "$TMP/list.out")" = "$N_TASKS"
	check "$1: nothing left in the input spool" test "$(ls -A "$STATE/spool/in" | tr '\n' ' ')" = "$SPOOL_IN"
}
: >"$TMP/empty"
# No firmware files: signetctl will not send such a request (usage, exit 2) ...
erc=0
ctl task package --devconf "$DC1" >"$TMP/out" 2>"$TMP/err" || erc=$?
check "no firmware files: signetctl refuses (usage, exit 2)" test $erc = 2
nothing_stored "no files (signetctl)"
erc=0
ctl task package --devconf "$DC1" --metadata "$TMP/meta.json" >"$TMP/out" 2>"$TMP/err" || erc=$?
check "only metadata, no firmware files: signetctl refuses (usage, exit 2)" test $erc = 2
nothing_stored "only metadata (signetctl)"
# ... so another client sends it: signetd must refuse it itself.
cat >"$TMP/raw.py" <<'EOF2'
import json, os, socket, sys
path, token, op, args = sys.argv[1:5]
req = json.dumps({"id": 7, "op": op, "auth": {"token": token}, "args": json.loads(args)}).encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
fd = os.open(sys.argv[5], os.O_RDONLY) if len(sys.argv) > 5 else None
if fd is None:
    s.send(req)
else:
    socket.send_fds(s, [req], [fd])
rep = json.loads(s.recv(65536))
print("ok" if rep.get("ok") else rep["error"]["code"])
EOF2
raw() { python3 "$TMP/raw.py" "$SOCK" "$SIGNET_TOKEN" "$@" 2>&1; }
check "signetd refuses task.package with an empty inputs array: invalid" \
	test "$(raw task.package "{\"devconf\": \"$DC1\", \"inputs\": []}")" = invalid
check "signetd refuses task.package without inputs: invalid" \
	test "$(raw task.package "{\"devconf\": \"$DC1\"}")" = invalid
check "signetd refuses task.package with only metadata: invalid" \
	test "$(raw task.package "{\"devconf\": \"$DC1\", \"inputs\": [], \"metadata\": {\"fd\": 0}}" "$TMP/meta.json")" = invalid
check "signetd accepts the same request with one firmware file (the raw client works)" \
	test "$(raw task.package "{\"devconf\": \"$DC1\", \"inputs\": [{\"fd\": 0, \"name\": \"raw\"}]}" "$TMP/fw-c.bin")" = ok
ctl --json task list --limit 1000 >"$TMP/out"
N_TASKS=$(json '.tasks | length')
nothing_stored "no files (raw)"
expect_refusal "an empty firmware file: invalid" invalid ctl task package --devconf "$DC1" "$TMP/empty"
nothing_stored "empty file"
expect_refusal "an empty firmware file among others: invalid" invalid \
	ctl task package --devconf "$DC1" "$TMP/fw-a.bin" "$TMP/empty" "$TMP/fw-b.bin"
nothing_stored "empty file among others"
expect_refusal "256 firmware files: invalid" invalid ctl task package --devconf "$DC1" "$TMP"/many/fw*.bin
check "... for their number (1 to 255), not some other limit ($(head -c 100 "$TMP/err"))" grep -q 255 "$TMP/err"
nothing_stored "256 files"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/recip.key" \
	-out "$TMP/recip.pem" -subj "/CN=recipient" -days 10 2>/dev/null
ctl --json devconf create dc-cert --package-key s-ECC_NIST_P256 --encrypt-cert "$TMP/recip.pem" --four-eyes off \
	>"$TMP/out" || fatal "devconf with a recipient certificate"
DCCERT=$(json .id)
expect_refusal "a device configuration encrypting to a certificate: invalid" invalid \
	ctl task package --devconf "$DCCERT" "$TMP/fw-a.bin"
check "... saying packaging needs a token AES key" grep -q "packaging needs a token AES key" "$TMP/err"
nothing_stored "recipient certificate"
ctl --json devconf create dc-signonly --package-key s-ECC_NIST_P256 --four-eyes off >"$TMP/out" ||
	fatal "devconf without encryption"
expect_refusal "a device configuration without an encryption key: invalid" invalid \
	ctl task package --devconf "$(json .id)" "$TMP/fw-a.bin"
check "... saying packaging needs a token AES key" grep -q "packaging needs a token AES key" "$TMP/err"
nothing_stored "no encryption key"
head -c 65536 /dev/urandom >"$TMP/meta-big"
expect_refusal "metadata of 65536 bytes: too_large" too_large \
	ctl task package --devconf "$DC1" --metadata "$TMP/meta-big" "$TMP/fw-a.bin"
nothing_stored "metadata too large"
expect_refusal "bob, without USE on dc1, is denied" denied \
	as "$B_TOKEN" task package --devconf "$DC1" "$TMP/fw-a.bin"
nothing_stored "no USE"
check "alice gives bob USE on dc1" ctl acl add USER:bob "DEVICE_CONFIG:$DC1" USE
as "$B_TOKEN" --json task package --devconf "$DC1" "$TMP/fw-c.bin" >"$TMP/out" 2>"$TMP/err" || true
check "... then bob may package on dc1" test "$(json .type 2>/dev/null)" = PACKAGING
check "the daemon is still running" kill -0 "$DPID"
say "# sections 1-4 took $(since "$T_START") s"

###########################################################################################
# 5. A 1 GiB firmware: the daemon streams it (peak RSS < 64 MiB).
if [ "${SIGNET_TEST_BIG:-}" != 1 ]; then
	ok "skipped 1 GiB case (set SIGNET_TEST_BIG=1)"
else
	hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$DPID/status"; }
	rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$DPID/status"; }
	say "# before the 1 GiB case: signetd VmHWM $(hwm) kB, VmRSS $(rss) kB, children: $(pgrep -P "$DPID" | tr '\n' ' ')"
	HWM0=$(hwm)
	head -c $((1024 * 1024 * 1024)) /dev/urandom >"$TMP/giga.bin"
	GSHA=$(sha "$TMP/giga.bin")
	t0=$(now)
	ctl --timeout 900 --json task package --devconf "$DC1" --name giga "$TMP/giga.bin" >"$TMP/out" 2>"$TMP/err" ||
		not_ok "1 GiB: task package ($(cat "$TMP/err"))"
	T_SUBMIT=$(since "$t0")
	GID=$(json .id)
	ctl --timeout 900 --json task wait "$GID" --timeout 850 >"$TMP/giga.task" 2>"$TMP/err" || true
	T_TOTAL=$(since "$t0")
	HWM1=$(hwm)
	say "# 1 GiB: task package answered after $T_SUBMIT s (segments encrypted), DONE after $T_TOTAL s in all"
	say "# 1 GiB: task startedAt..finishedAt = $(jq -r '.finishedAt - .startedAt' "$TMP/giga.task") s; daemon log: $(grep "task $GID: " "$LOG" | sed 's/.*task [^:]*: //' | tr '\n' ';')"
	say "# 1 GiB: signetd VmHWM $HWM1 kB after (was $HWM0 kB before), VmRSS $(rss) kB"
	check "1 GiB: the task is DONE" test "$(jq -r .status "$TMP/giga.task")" = DONE
	rm -f "$TMP/giga.pkg"
	if ctl --timeout 900 --json task download "$GID" -o "$TMP/giga.pkg" >"$TMP/out" 2>"$TMP/err"; then
		HWM2=$(hwm)
		say "# 1 GiB: signetd VmHWM $HWM2 kB after the download"
		check "1 GiB: signetd's peak RSS, packaging and download included (VmHWM $HWM2 kB), is under 64 MiB" \
			test "$HWM2" -lt 65536
		check "1 GiB: the result's sha256 is sha256sum of the download" \
			test "$(jq -r .result.sha256 "$TMP/giga.task")" = "$(sha "$TMP/giga.pkg")"
		python3 "$TMP/bosch.py" "$TMP/giga.pkg" "$TMP/giga.d" 2>"$TMP/err" || not_ok "1 GiB: the reader parses it"
		gd=$TMP/giga.d
		L=$(hf "$gd" '.esl[0]')
		O=$(hf "$gd" '.offsets[0]')
		check "1 GiB: header fields (ht pv ml ec sc es esl)" \
			test "$(hf "$gd" '"\(.ht) \(.pv) \(.ml) \(.ec) \(.sc) \(.es) \(.esl[0])"')" = \
			"Bosch_SE 1 0 0 3 1 $(enc_len AES256_CBC_PKCS7_PAD $((1024 * 1024 * 1024)))"
		check "1 GiB: esh is the sha256 of the segment" \
			test "$(tail -c +$((O + 1)) "$TMP/giga.pkg" | head -c "$L" | sha256sum | cut -d' ' -f1)" = "$(hf "$gd" '.esh[0]')"
		check "1 GiB: file size = header + esl + signature" \
			test "$(size "$TMP/giga.pkg")" = $(($(hf "$gd" .hlen) + L + $(hf "$gd" .siglen)))
		check "1 GiB: openssl verifies the signature over the header" \
			verify_sig ECC_NIST_P256 "$TMP/ECC_NIST_P256.pub" "$gd/sig.bin" "$gd/header.bin"
		IV=$(tail -c +$((O + L - 15)) "$TMP/giga.pkg" | head -c 16 | od -An -tx1 -v | tr -d ' \n')
		check "1 GiB: openssl enc -d gives the firmware back" sh -c \
			"tail -c +$((O + 1)) '$TMP/giga.pkg' | head -c $((L - 16)) | openssl enc -d -aes-256-cbc -K $K256 -iv $IV | sha256sum | grep -q '^$GSHA '"
	else
		not_ok "1 GiB: download ($(cat "$TMP/err"))"
		check "1 GiB: signetd's peak RSS (VmHWM $HWM1 kB) is under 64 MiB" test "$HWM1" -lt 65536
	fi
	rm -f "$TMP/giga.bin" "$TMP/giga.pkg"
fi

check "stop at the end" stop_daemon
say "# t17 took $(since "$T_START") s"
