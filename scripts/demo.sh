#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build signet, run signetd on its embedded SoftHSMv2 token and signet-front in front of it, and
# walk the product: a tenant, keys made in the token, a CSR that openssl verifies, a signing and an
# encryption task checked with openssl, then over REST (printed as curl lines to copy) a four-eyes
# signing task approved by a second user with a TOTP code from oathtool; signet-front serves the
# web UI, whose address it prints last with the users to sign in as.
#
# The environment may say (tests/integration/t32_demo.sh does):
#   SIGNET_DEMO_BIN   a folder with signetd, signetctl and signet-front already built: no
#                     package install and no build
#   SIGNET_DEMO_STATE the state directory (default /var/lib/signet-demo as root, else ./demo-state)
#   SIGNET_DEMO_PORT  signet-front's port on 127.0.0.1 (default 8080)
#   SIGNET_DEMO_UI    the web UI's folder (default: the source tree's ui/ for binaries of a build
#                     tree, else the installed one, signet-front's default $(pkgdatadir)/ui)
#   SIGNET_DEMO_USER, SIGNET_DEMO_FRONT_USER, SIGNET_DEMO_GROUP
#                     as root: the users signetd and signet-front run as and the group that may
#                     open the socket (default signet, signet-front, signet-api, made when missing)
# shellcheck disable=SC2016 # the single-quoted $ lines are printed as a reader types them
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${SIGNET_DEMO_BIN:-}" ]; then
	b=$SIGNET_DEMO_BIN
else
	b=$top/build
	mkdir -p "$b"
	blog=$b/demo-build.log
	echo "installing the packages signet needs and building it (output in $blog) ..."
	if ! { "$top/scripts/deps.sh" && "$top/scripts/build.sh" "$b"; } >"$blog" 2>&1; then
		tail -n 30 "$blog"
		echo "the build failed: see $blog"
		exit 1
	fi
	echo "built in $b"
fi
port=${SIGNET_DEMO_PORT:-8080}
# The web UI that goes with these binaries: a build tree's Makefile names its source tree, whose
# ui/ holds the files; installed binaries leave it to signet-front (its files in $(pkgdatadir)/ui).
ui=${SIGNET_DEMO_UI:-}
if [ -z "$ui" ] && [ -f "$b/Makefile" ]; then
	ui=$(sed -n 's/^abs_top_srcdir = //p' "$b/Makefile")
	ui=${ui:+$(cd "$ui" && pwd)/ui}
fi

# signetd never stays root: as root, it runs as its own user and signet-front as another, which
# reaches the socket only through a group: the socket's group (socket_group), of which the front's
# user is a member, may traverse the state directory (mode 0710) and open the socket (mode 0660).
user='' fuser='' group=''
if [ "$(id -u)" -eq 0 ]; then
	user=${SIGNET_DEMO_USER:-signet}
	fuser=${SIGNET_DEMO_FRONT_USER:-signet-front}
	group=${SIGNET_DEMO_GROUP:-signet-api}
	getent group "$group" >/dev/null || groupadd --system "$group"
	for u in "$user" "$fuser"; do
		id "$u" >/dev/null 2>&1 ||
			useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$u"
	done
	id -Gn "$fuser" | tr ' ' '\n' | grep -qx "$group" || usermod -a -G "$group" "$fuser"
	state=${SIGNET_DEMO_STATE:-/var/lib/signet-demo}
else
	state=${SIGNET_DEMO_STATE:-$top/demo-state}
fi
if [ ! -d "$state" ] || [ ! -f "$state/token-pin" ]; then
	# The SO PIN is shown here once and written nowhere: keep it out of any file.
	ilog=$(mktemp)
	init=$("$b/signetd" --init --state-dir "$state" ${user:+--user "$user"} 2>"$ilog") ||
		{ cat "$ilog"; rm -f "$ilog"; exit 1; }
	rm -f "$ilog"
	echo
	echo "=========================================================================="
	printf '%s\n' "$init" | sed 's/^/  /'
	echo "=========================================================================="
fi
conf=$state/demo.conf
if [ -n "$user" ]; then
	chgrp "$group" "$state"
	chmod 0710 "$state"
	printf '[daemon]\nsocket_group = %s\ngateway_user = %s\n' "$group" "$fuser" >"$conf"
else
	: >"$conf"
fi
w=$state/demo
mkdir -p "$w"
chmod 0700 "$w"
export SIGNET_SOCKET="$state/signetd.sock"
started=
if ! "$b/signetctl" status >/dev/null 2>&1; then
	"$b/signetd" --state-dir "$state" --config "$conf" ${user:+--user "$user"} >>"$state/signetd.log" 2>&1 &
	dpid=$!
	started="$dpid signetd"
	echo "signetd started (pid $dpid), log in $state/signetd.log"
	i=0
	until "$b/signetctl" status >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -ge 100 ] || ! kill -0 "$dpid" 2>/dev/null; then
			echo "signetd did not start:"
			tail "$state/signetd.log"
			exit 1
		fi
		sleep 0.1
	done
fi
SIGNET_URL=http://127.0.0.1:$port
if [ "$(curl -s -o /dev/null -w '%{http_code}' "$SIGNET_URL/healthz")" != 200 ]; then
	ftmp=$state/front-tmp
	mkdir -p "$ftmp"
	chmod 0700 "$ftmp"
	[ -z "$fuser" ] || chown "$fuser" "$ftmp"
	fconf=
	if [ -n "$ui" ]; then
		fconf=$state/front.conf
		printf '[front]\nui_dir = %s\n' "$ui" >"$fconf"
	fi
	"$b/signet-front" --socket "$SIGNET_SOCKET" --listen "127.0.0.1:$port" ${fuser:+--user "$fuser"} \
		--tmpdir "$ftmp" --openapi "$top/doc/openapi.yaml" ${fconf:+--config "$fconf"} \
		>>"$state/signet-front.log" 2>&1 &
	fpid=$!
	started="$fpid signet-front
$started"
	echo "signet-front started (pid $fpid) on $SIGNET_URL, log in $state/signet-front.log"
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "$SIGNET_URL/healthz")" = 200 ]; do
		i=$((i + 1))
		if [ $i -ge 100 ] || ! kill -0 "$fpid" 2>/dev/null; then
			echo "signet-front did not start:"
			tail "$state/signet-front.log"
			exit 1
		fi
		sleep 0.1
	done
else
	echo "something answers on $SIGNET_URL already: the demo uses it as signet-front"
fi

# The commands are printed as a reader types them, with signetctl from the build on the PATH.
PATH=$b:$PATH
export PATH
run() { printf '\n$ %s\n' "$*"; "$@"; }
# rest LINE: print a REST call as a line to paste (in a shell that sourced demo.env), then run it.
rest() { printf '\n$ %s\n' "$1"; eval "$1"; }
ctl=signetctl
run "$ctl" status
SIGNET_TENANT=demo-$(date +%H%M%S)
printf '\n$ signetctl tenant create %s --admin alice --json\n' "$SIGNET_TENANT"
SIGNET_TOKEN=$("$ctl" --json tenant create "$SIGNET_TENANT" --admin alice | jq -r .token)
export SIGNET_TOKEN
echo "(alice's API token is in \$SIGNET_TOKEN; it is shown once and stored only as a hash)"
run "$ctl" key generate firmware-p256 --alg ECC_NIST_P256 --description "demo signing key"
run "$ctl" key csr firmware-p256 --subject "/CN=Demo Firmware Signing/O=Demo Devices" -o "$w/firmware-p256.csr"
run openssl req -in "$w/firmware-p256.csr" -verify -noout -subject
printf '\n$ signetctl user create bob --group developers --json\n'
BOB=$("$ctl" --json user create bob --group developers | jq -r .token)
echo "(bob's token is in \$BOB)"
run "$ctl" acl add GROUP:developers RESOURCE_TYPE:KEY VIEW
head -c 32 /dev/urandom >"$w/demo-aes.key"
run "$ctl" key import firmware-aes --alg AES_256 --file "$w/demo-aes.key"
printf '\n$ signetctl --json devconf create gateway-fw --sign-key firmware-p256 --encrypt-key firmware-aes --four-eyes off --user GROUP:developers\n'
DC=$("$ctl" --json devconf create gateway-fw --sign-key firmware-p256 --encrypt-key firmware-aes \
	--four-eyes off --user GROUP:developers | jq -r .id)
echo "device configuration $DC: the developers group may USE it"
head -c 3000000 /dev/urandom >"$w/firmware.bin"
printf '\n$ SIGNET_TOKEN=$BOB signetctl --json task sign --devconf %s --file firmware.bin\n' "$DC"
SIGNET_TOKEN=$BOB "$ctl" --json task sign --devconf "$DC" --file "$w/firmware.bin" --name firmware.bin >"$w/sign.json"
jq '{id, status, signature: .result.signature}' "$w/sign.json"
jq -r .result.signature "$w/sign.json" | base64 -d >"$w/firmware.sig"
"$ctl" --json key show firmware-p256 | jq -r .publicKeyPem >"$w/firmware-p256.pub"
run openssl dgst -sha256 -verify "$w/firmware-p256.pub" -signature "$w/firmware.sig" "$w/firmware.bin"
printf '\n$ SIGNET_TOKEN=$BOB signetctl --json task encrypt --devconf %s --file firmware.bin\n' "$DC"
E=$(SIGNET_TOKEN=$BOB "$ctl" --json task encrypt --devconf "$DC" --file "$w/firmware.bin" | jq -r .id)
SIGNET_TOKEN=$BOB run "$ctl" task wait "$E"
SIGNET_TOKEN=$BOB run "$ctl" task download "$E" -o "$w/firmware.enc"
# The IV is the last 16 bytes: decrypt with openssl as a device would.
size=$(stat -c %s "$w/firmware.enc")
head -c $((size - 16)) "$w/firmware.enc" >"$w/firmware.ct"
iv=$(tail -c 16 "$w/firmware.enc" | od -An -tx1 | tr -d ' \n')
key=$(od -An -tx1 "$w/demo-aes.key" | tr -d ' \n')
printf '\n$ openssl enc -d -aes-256-cbc -K <the demo key> -iv %s -in firmware.ct -out firmware.dec\n' "$iv"
openssl enc -d -aes-256-cbc -K "$key" -iv "$iv" -in "$w/firmware.ct" -out "$w/firmware.dec"
run cmp "$w/firmware.dec" "$w/firmware.bin"
echo "decrypted firmware matches the original"

echo
echo "--- four eyes: a release signed only once carol, the approver, enters her TOTP code ---"
printf '\n$ signetctl user create carol --json\n'
CAROL=$("$ctl" --json user create carol | jq -r .token)
printf '\n$ signetctl user otp-enroll carol --json\n'
CAROL_SEED=$("$ctl" --json user otp-enroll carol | jq -r .secret)
echo "(carol's TOTP seed is in \$CAROL_SEED: her authenticator app, here oathtool, makes the codes)"
run "$ctl" key generate release-p256 --alg ECC_NIST_P256 --description "demo release key"
printf '\n$ signetctl --json devconf create release-fw --sign-key release-p256 --four-eyes on --second-factor TOTP --user GROUP:developers --approver USER:carol\n'
RELEASE_DC=$("$ctl" --json devconf create release-fw --sign-key release-p256 --four-eyes on \
	--second-factor TOTP --user GROUP:developers --approver USER:carol | jq -r .id)
echo "device configuration $RELEASE_DC: developers may USE it, carol APPROVEs its tasks"
DEMO_DIR=$w
env=$state/demo.env
(
	umask 077
	printf "export PATH='%s':\"\$PATH\"\n" "$b"
	for nv in "SIGNET_URL=$SIGNET_URL" "SIGNET_SOCKET=$SIGNET_SOCKET" "SIGNET_TENANT=$SIGNET_TENANT" \
		"SIGNET_TOKEN=$SIGNET_TOKEN" "BOB=$BOB" "CAROL=$CAROL" "CAROL_SEED=$CAROL_SEED" "DC=$DC" \
		"RELEASE_DC=$RELEASE_DC" "DEMO_DIR=$DEMO_DIR"; do
		printf "export %s='%s'\n" "${nv%%=*}" "${nv#*=}"
	done
) >"$env"
echo "(these names are in $env: after \". $env\", a shell can paste the lines below)"
head -c 200000 /dev/urandom >"$w/release.bin"
rest 'TASK=$(curl --fail-with-body -sS -H "Authorization: Bearer $BOB" -F "deviceConfigId=$RELEASE_DC" -F "file=@$DEMO_DIR/release.bin" "$SIGNET_URL/api/v1/signingTask" | jq -er .id)'
echo "task $TASK waits for approval"
rest 'curl --fail-with-body -sS -H "Authorization: Bearer $CAROL" "$SIGNET_URL/api/v1/signingTask/$TASK" | jq "{name, status, requester, inputs}"'
rest 'curl --fail-with-body -sS -H "Authorization: Bearer $CAROL" -H "Content-Type: application/json" -d "{\"decision\": \"APPROVED\", \"otp\": \"$(oathtool --totp -b "$CAROL_SEED")\", \"reason\": \"release reviewed\"}" "$SIGNET_URL/api/v1/signingTask/$TASK/approval" | jq "{status, decision}"'
# A pipe's status is its last command's: check what the approval did.
st=$(SIGNET_TOKEN=$BOB "$ctl" --json task show "$TASK" | jq -r .status)
case $st in
APPROVED | IN_PROGRESS | DONE) ;;
*)
	echo "the approval did not take: the task is $st"
	exit 1
	;;
esac
# An approved task runs a moment later: wait while it is APPROVED or IN_PROGRESS.
rest 'while curl --fail-with-body -sS -H "Authorization: Bearer $BOB" "$SIGNET_URL/api/v1/signingTask/$TASK" | jq -e ".status == \"APPROVED\" or .status == \"IN_PROGRESS\"" >/dev/null; do sleep 0.5; done'
rest 'curl --fail-with-body -sS -H "Authorization: Bearer $BOB" "$SIGNET_URL/api/v1/signingTask/$TASK" | jq -er .result.signature | base64 -d > "$DEMO_DIR/release.sig"'
rest 'curl --fail-with-body -sS -H "Authorization: Bearer $BOB" "$SIGNET_URL/api/v1/keys/release-p256" | jq -er .publicKeyPem > "$DEMO_DIR/release-p256.pub"'
run openssl dgst -sha256 -verify "$w/release-p256.pub" -signature "$w/release.sig" "$w/release.bin"
echo
echo "--- one more release waits for carol: the approver's quick start in README.md approves it ---"
rest 'curl --fail-with-body -sS -H "Authorization: Bearer $BOB" -F "deviceConfigId=$RELEASE_DC" -F "file=@$DEMO_DIR/release.bin" -F "name=release-2.bin" "$SIGNET_URL/api/v1/signingTask" | jq "{id, status}"'
run "$ctl" task list

# The web UI's address, once it answers with its page.
ui_url=$SIGNET_URL/ui/
ui_line="web UI:       $ui_url"
if [ "$(curl -s -o /dev/null -w '%{http_code}' "$ui_url")" != 200 ]; then
	ui_line="web UI:       not served (see $state/signet-front.log)"
fi

echo
echo "=========================================================================="
echo "  signetd:      $SIGNET_SOCKET"
echo "  signet-front: $SIGNET_URL"
echo "  $ui_line"
echo "    sign in as bob to make tasks, as carol to approve them (her codes:"
echo "    oathtool --totp -b \"\$CAROL_SEED\"), as alice for the officer's views;"
echo "    their API tokens are in $env (\$BOB, \$CAROL, \$SIGNET_TOKEN)"
echo "  tenant $SIGNET_TENANT: alice (admin, \$SIGNET_TOKEN), bob (developer, \$BOB),"
echo "  carol (approver, \$CAROL, TOTP seed \$CAROL_SEED); device configurations"
echo "  gateway-fw (\$DC, no approval) and release-fw (\$RELEASE_DC, four eyes + TOTP)"
echo "  For the quick starts of README.md:"
echo "    . $env"
echo "=========================================================================="
if [ -n "$started" ]; then
	echo "To stop what the demo started:"
	printf '%s\n' "$started" | while read -r pid what; do
		printf '    kill %s    # %s\n' "$pid" "$what"
	done
fi
