#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build signet, initialise a local state dir with the embedded SoftHSMv2 token, run signetd
# and walk a short demo: a tenant, keys made in the token, a CSR that openssl verifies, a device
# configuration, a signing task and an encryption task whose outputs openssl checks.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh" "$top/build"
b=$top/build
# signetd never stays root: as root, the demo runs it as the system user "signet", with its
# state where that user can reach it.
user=
if [ "$(id -u)" -eq 0 ]; then
	user=signet
	id "$user" >/dev/null 2>&1 ||
		useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$user"
	state=${SIGNET_DEMO_STATE:-/var/lib/signet-demo}
else
	state=${SIGNET_DEMO_STATE:-$top/demo-state}
fi
if [ ! -d "$state" ]; then
	"$b/signetd" --init --state-dir "$state" ${user:+--user "$user"}
fi
export SIGNET_SOCKET="$state/signetd.sock"
if ! "$b/signetctl" status >/dev/null 2>&1; then
	"$b/signetd" --state-dir "$state" ${user:+--user "$user"} >>"$state/signetd.log" 2>&1 &
	echo "signetd started (pid $!), log in $state/signetd.log"
	i=0
	until "$b/signetctl" status >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "signetd did not start:"; tail "$state/signetd.log"; exit 1; }
		sleep 0.1
	done
fi
run() { printf '\n$ %s\n' "$*"; "$@"; }
run "$b/signetctl" status
tenant=demo-$(date +%H%M%S)
printf '\n$ signetctl tenant create %s --admin alice --json\n' "$tenant"
SIGNET_TOKEN=$("$b/signetctl" --json tenant create "$tenant" --admin alice | jq -r .token)
export SIGNET_TOKEN
echo "(alice's API token is in \$SIGNET_TOKEN; it is shown once and stored only as a hash)"
run "$b/signetctl" key generate firmware-p256 --alg ECC_NIST_P256 --description "demo signing key"
run "$b/signetctl" key csr firmware-p256 --subject "/CN=Demo Firmware Signing/O=Demo Devices" -o "$state/firmware-p256.csr"
run openssl req -in "$state/firmware-p256.csr" -verify -noout -subject
printf '\n$ signetctl user create bob --group developers --json\n'
BOB=$("$b/signetctl" --json user create bob --group developers | jq -r .token)
echo "(bob's token is in \$BOB)"
head -c 32 /dev/urandom >"$state/demo-aes.key"
run "$b/signetctl" key import firmware-aes --alg AES_256 --file "$state/demo-aes.key"
printf '\n$ signetctl --json devconf create gateway-fw --sign-key firmware-p256 --encrypt-key firmware-aes --four-eyes off --user GROUP:developers\n'
DC=$("$b/signetctl" --json devconf create gateway-fw --sign-key firmware-p256 --encrypt-key firmware-aes \
	--four-eyes off --user GROUP:developers | jq -r .id)
echo "device configuration $DC: the developers group may USE it"
head -c 3000000 /dev/urandom >"$state/firmware.bin"
printf '\n$ SIGNET_TOKEN=$BOB signetctl --json task sign --devconf %s --file firmware.bin\n' "$DC"
SIGNET_TOKEN=$BOB "$b/signetctl" --json task sign --devconf "$DC" --file "$state/firmware.bin" --name firmware.bin >"$state/sign.json"
jq '{id, status, signature: .result.signature}' "$state/sign.json"
jq -r .result.signature "$state/sign.json" | base64 -d >"$state/firmware.sig"
"$b/signetctl" --json key show firmware-p256 | jq -r .publicKeyPem >"$state/firmware-p256.pub"
run openssl dgst -sha256 -verify "$state/firmware-p256.pub" -signature "$state/firmware.sig" "$state/firmware.bin"
printf '\n$ SIGNET_TOKEN=$BOB signetctl --json task encrypt --devconf %s --file firmware.bin\n' "$DC"
E=$(SIGNET_TOKEN=$BOB "$b/signetctl" --json task encrypt --devconf "$DC" --file "$state/firmware.bin" | jq -r .id)
SIGNET_TOKEN=$BOB run "$b/signetctl" task wait "$E"
SIGNET_TOKEN=$BOB run "$b/signetctl" task download "$E" -o "$state/firmware.enc"
# The IV is the last 16 bytes: decrypt with openssl as a device would.
size=$(stat -c %s "$state/firmware.enc")
head -c $((size - 16)) "$state/firmware.enc" >"$state/firmware.ct"
iv=$(tail -c 16 "$state/firmware.enc" | od -An -tx1 | tr -d ' \n')
key=$(od -An -tx1 "$state/demo-aes.key" | tr -d ' \n')
printf '\n$ openssl enc -d -aes-256-cbc -K <the demo key> -iv %s -in firmware.ct -out firmware.dec\n' "$iv"
openssl enc -d -aes-256-cbc -K "$key" -iv "$iv" -in "$state/firmware.ct" -out "$state/firmware.dec"
run cmp "$state/firmware.dec" "$state/firmware.bin"
echo "decrypted firmware matches the original"
run "$b/signetctl" task list
echo
echo "signetd is running on $SIGNET_SOCKET (stop it with: pkill -TERM -x signetd)"
