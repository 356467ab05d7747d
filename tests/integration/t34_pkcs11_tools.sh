#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# libsignet-pkcs11 (doc/pkcs11.md) under the image-signing tools that load it through OpenSSL's
# pkcs11 engine: sbsign signs a UEFI binary (systemd-boot's, RSA PKCS#1 v1.5) that sbverify
# accepts, osslsigncode an Authenticode script, rauc a plain and a verity bundle (ECDSA) that
# rauc info and rauc extract accept. Each verifier also refuses a changed file and a foreign
# trust anchor. A missing tool fails the test: scripts/deps.sh installs them all.
. "$TESTLIB"

: "${SIGNET_PKCS11:?SIGNET_PKCS11 must name libsignet-pkcs11.so}"
M=$SIGNET_PKCS11

missing=
for t in sbsign sbverify osslsigncode rauc mksquashfs objdump openssl jq; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
[ -z "$missing" ] || fatal "not installed:$missing (scripts/deps.sh installs them)"
ENGINE=$(pkcs11_engine) || fatal "the pkcs11 engine (libengine-pkcs11-openssl) is installed"
# A real, unsigned UEFI application from a Debian package, the same bytes on every run.
EFI=$(dpkg -L systemd-boot-efi 2>/dev/null | grep '/systemd-boot[a-z0-9]*\.efi$' | head -n 1)
test -s "${EFI:-/nonexistent}" || fatal "systemd-boot-efi is installed (an .efi to sign)"

printf '[daemon]\nauth_fail_delay_ms = 0\n' >"$TMP/main.conf"
init_state
start_daemon --config "$TMP/main.conf"
ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
ctl --json user create bob >"$TMP/out" || fatal "user create bob"
B_TOKEN=$(json .token)
ctl acl add USER:bob RESOURCE_TYPE:KEY VIEW >/dev/null || fatal "acl add"
for k in ec:ECC_NIST_P256 rsa:RSA_3072 rsapss:RSA_3072; do
	ctl key generate "${k%%:*}" --alg "${k#*:}" >/dev/null || fatal "key generate $k"
done
test_ca
key_cert ec "/CN=firmware ec/O=Acme"
key_cert rsa "/CN=boot rsa/O=Acme"
key_cert rsapss "/CN=boot rsapss/O=Acme"
# A root nobody here signed with: each verifier must refuse it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/other.key" \
	-out "$TMP/other.crt" -subj "/CN=Other Root" -days 30 2>/dev/null || fatal "other root"
for d in dc-ec:ec dc-rsa:rsa:--allow-scheme:RSA_PKCS1_V15 dc-pss:rsapss:--allow-scheme:RSA_PSS; do
	# shellcheck disable=SC2046
	ctl devconf create "${d%%:*}" --sign-key $(printf %s "${d#*:}" | tr : ' ') --four-eyes off \
		--user USER:bob >/dev/null || fatal "devconf create $d"
done

export SIGNET_SOCKET="$SOCK"
engine_conf "$ENGINE" "$M" "$TMP/openssl.cnf"
# signs TOOL ARGS...: TOOL as bob, through the module; its output in $TMP/tool.out.
signs() { SIGNET_TOKEN=$B_TOKEN SIGNET_PKCS11_DEBUG=1 "$@" >"$TMP/tool.out" 2>&1; }
# refuses FILE VERIFIER...: FILE is there and VERIFIER (which reads it) fails.
refuses() {
	_f=$1
	shift
	test -s "$_f" && ! "$@" >/dev/null 2>&1
}

# --- 1. sbsign: a UEFI binary, Authenticode with RSA PKCS#1 v1.5 (CKM_RSA_PKCS) ---------------
check "the .efi is not signed yet: sbverify refuses it" refuses "$EFI" sbverify --cert "$TMP/rsa.crt" "$EFI"
rm -f "$TMP/boot.efi"
OPENSSL_CONF=$TMP/openssl.cnf signs sbsign --engine pkcs11 --key "pkcs11:token=dc-rsa;object=rsa;type=private" \
	--cert "$TMP/rsa.crt" --output "$TMP/boot.efi" "$EFI" ||
	not_ok "sbsign --engine pkcs11 signs $EFI: $(grep -v 'data remaining' "$TMP/tool.out" | tail -n 3)"
check "sbverify --cert (the leaf) accepts sbsign's binary" sbverify --cert "$TMP/rsa.crt" "$TMP/boot.efi"
check "... sbverify --cert (the root) accepts it" sbverify --cert "$TMP/ca.crt" "$TMP/boot.efi"
check "... sbverify refuses another root" refuses "$TMP/boot.efi" sbverify --cert "$TMP/other.crt" "$TMP/boot.efi"
check "... and another key's certificate" refuses "$TMP/boot.efi" sbverify --cert "$TMP/ec.crt" "$TMP/boot.efi"
ctl --json task list >"$TMP/out"
check "... signed by a task of bob's on dc-rsa, named 'sbsign rsa'" \
	jq -e '[.tasks[] | select(.name == "sbsign rsa" and .status == "DONE" and .requester == "USER:bob")] | length == 1' "$TMP/out"
# One byte of code, inside what the Authenticode hash covers.
off=$(objdump -h "$TMP/boot.efi" | awk '$2 == ".text" { print $6 }')
cp "$TMP/boot.efi" "$TMP/boot-changed.efi"
flip_byte "$TMP/boot-changed.efi" $((0x${off:-0} + 256)) || fatal "flip a byte of .text"
check "sbverify refuses the signed binary with one byte of .text changed" \
	refuses "$TMP/boot-changed.efi" sbverify --cert "$TMP/rsa.crt" "$TMP/boot-changed.efi"
rm -f "$TMP/boot-pss.efi"
rc=0
OPENSSL_CONF=$TMP/openssl.cnf signs sbsign --engine pkcs11 --key "pkcs11:token=dc-pss;object=rsapss;type=private" \
	--cert "$TMP/rsapss.crt" --output "$TMP/boot-pss.efi" "$EFI" || rc=$?
check "sbsign fails on a configuration that allows RSA_PSS only" test "$rc" -ne 0
check "... nothing written" test ! -e "$TMP/boot-pss.efi"
check "... signetd refused the PKCS#1 v1.5 task" grep -q 'does not allow RSA_PKCS1_V15' "$TMP/tool.out"

# --- 2. osslsigncode: an Authenticode-signed PowerShell script (ECDSA) ------------------------
URI="pkcs11:token=dc-ec;object=ec;type=private"
printf 'Write-Host "firmware tool 1.0"\r\n' >"$TMP/tool.ps1"
rm -f "$TMP/tool-signed.ps1"
signs osslsigncode sign -pkcs11engine "$ENGINE" -pkcs11module "$M" -key "$URI" \
	-certs "$TMP/ec-chain.pem" -h sha256 -in "$TMP/tool.ps1" -out "$TMP/tool-signed.ps1" ||
	not_ok "osslsigncode sign: $(tail -n 3 "$TMP/tool.out")"
check "osslsigncode signs through the module; osslsigncode verify accepts it" \
	osslsigncode verify -CAfile "$TMP/ca.crt" -in "$TMP/tool-signed.ps1"
check "... and refuses it under another root" \
	refuses "$TMP/tool-signed.ps1" osslsigncode verify -CAfile "$TMP/other.crt" -in "$TMP/tool-signed.ps1"
sed 's/tool 1\.0/tool 6.6/' "$TMP/tool-signed.ps1" >"$TMP/tool-changed.ps1" 2>/dev/null || :
check "... and refuses the script changed" \
	refuses "$TMP/tool-changed.ps1" osslsigncode verify -CAfile "$TMP/ca.crt" -in "$TMP/tool-changed.ps1"

# --- 3. rauc: a plain and a verity bundle ----------------------------------------------------
# RAUC loads the key through the pkcs11 engine; RAUC_PKCS11_MODULE names the module (no
# OPENSSL_CONF needed). plain signs the squashfs detached; verity signs the manifest, which
# holds the dm-verity root hash, as an inline CMS.
for f in plain verity; do
	mkdir -p "$TMP/b-$f"
	head -c 65536 /dev/urandom >"$TMP/b-$f/rootfs.img"
	printf '[update]\ncompatible=signet-test\nversion=1.0\n[bundle]\nformat=%s\n[image.rootfs]\nfilename=rootfs.img\n' \
		"$f" >"$TMP/b-$f/manifest.raucm"
	rm -f "$TMP/$f.raucb"
	SIGNET_TOKEN=$B_TOKEN RAUC_PKCS11_MODULE=$M rauc bundle --cert "$TMP/ec.crt" --key "$URI" \
		"$TMP/b-$f" "$TMP/$f.raucb" >"$TMP/tool.out" 2>&1 ||
		not_ok "rauc bundle ($f): $(tail -n 3 "$TMP/tool.out")"
	rauc info --keyring "$TMP/ca.crt" "$TMP/$f.raucb" >"$TMP/info.out" 2>&1 && rc=0 || rc=$?
	check "rauc bundle signs a $f bundle through the module; rauc info --keyring accepts it" \
		test "$rc" -eq 0
	check "... it is a $f bundle" grep -Eq "^Bundle Format:[[:space:]]+$f\$" "$TMP/info.out"
	check "... rauc info refuses it under another root" \
		refuses "$TMP/$f.raucb" rauc info --keyring "$TMP/other.crt" "$TMP/$f.raucb"
	rm -rf "$TMP/x-$f"
	check "... rauc extract --keyring checks it and gives back the image" \
		sh -c "rauc extract --keyring '$TMP/ca.crt' '$TMP/$f.raucb' '$TMP/x-$f' >/dev/null 2>&1 &&
			cmp '$TMP/x-$f/rootfs.img' '$TMP/b-$f/rootfs.img'"
	# One byte of the image, inside the squashfs (random data is stored uncompressed).
	cp "$TMP/$f.raucb" "$TMP/$f-changed.raucb"
	flip_byte "$TMP/$f-changed.raucb" 4096 || fatal "flip a byte of the $f bundle"
	rm -rf "$TMP/y-$f"
	check "... rauc extract refuses the $f bundle with one byte of the image changed" \
		refuses "$TMP/$f-changed.raucb" rauc extract --keyring "$TMP/ca.crt" "$TMP/$f-changed.raucb" "$TMP/y-$f"
done
check "the plain bundle's signature is detached (over the squashfs)" \
	sh -c "rauc info --keyring '$TMP/ca.crt' '$TMP/plain.raucb' 2>&1 | grep -q 'Verified detached signature'"
check "the verity bundle's is inline (the manifest with the verity root hash in the CMS)" \
	sh -c "rauc info --keyring '$TMP/ca.crt' '$TMP/verity.raucb' 2>&1 | grep -q 'Verified inline signature'"
check "rauc info refuses the plain bundle with one byte of the image changed" \
	refuses "$TMP/plain-changed.raucb" rauc info --keyring "$TMP/ca.crt" "$TMP/plain-changed.raucb"
# The signed manifest's copy inside the CMS: version=1.0 becomes 1.1.
o=$(grep -abo 'version=1\.0' "$TMP/verity.raucb" | tail -n 1 | cut -d: -f1)
test "${o:-0}" -gt 65536 || fatal "the manifest inside the verity bundle's CMS"
cp "$TMP/verity.raucb" "$TMP/verity-manifest.raucb"
printf 'version=1.1' | dd of="$TMP/verity-manifest.raucb" bs=1 seek="$o" conv=notrunc 2>/dev/null
check "rauc info refuses the verity bundle with its signed manifest changed" \
	refuses "$TMP/verity-manifest.raucb" rauc info --keyring "$TMP/ca.crt" "$TMP/verity-manifest.raucb"
