#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install what signet needs to build, run and test on Debian 12 (run as root).
set -eu
export DEBIAN_FRONTEND=noninteractive
PKGS="build-essential autoconf automake pkg-config \
 libssl-dev libp11-dev libp11-kit-dev libevent-dev liblmdb-dev libjansson-dev \
 libinih-dev libcmocka-dev libqrencode-dev libmicrohttpd-dev libsystemd-dev libseccomp-dev \
 softhsm2 oathtool python3-yaml python3-jsonschema \
 openssl opensc libengine-pkcs11-openssl osslsigncode rauc squashfs-tools sbsigntool systemd-boot-efi lmdb-utils jq util-linux python3 python3-prometheus-client curl \
 debhelper dpkg-dev lintian \
 chromium chromium-driver python3-selenium"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
