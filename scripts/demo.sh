#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build signet, initialise a local state dir with the embedded SoftHSMv2 token, run signetd
# and walk a short demo: a tenant, a key made in the token, a CSR that openssl verifies.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
state=${SIGNET_DEMO_STATE:-$top/demo-state}
"$top/scripts/deps.sh"
"$top/scripts/build.sh" "$top/build"
b=$top/build
if [ ! -d "$state" ]; then
	"$b/signetd" --init --state-dir "$state"
fi
export SIGNET_SOCKET="$state/signetd.sock"
if ! "$b/signetctl" status >/dev/null 2>&1; then
	"$b/signetd" --state-dir "$state" >>"$state/signetd.log" 2>&1 &
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
run "$b/signetctl" user create bob --group developers
run "$b/signetctl" key list
echo
echo "signetd is running on $SIGNET_SOCKET (stop it with: pkill -TERM -x signetd)"
