#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The systemd units and their files (systemd/): hardening (systemd-analyze
# security, exposure level 1.0 at most), the directives signetd and
# signet-front rely on, the sysusers.d and tmpfiles.d files applied to a
# scratch root, and the shipped configurations accepted by --check-config
# and consistent with the units. Starts no daemon. Skipped (77) without
# systemd-analyze.
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "# SKIP: systemd-analyze not found"
	exit 77
fi
. "$TESTLIB"

SD=$(cd "$(dirname "$0")/../../systemd" && pwd) || fatal "no systemd/ directory next to the tests"
SIGNET_FRONT=${SIGNET_FRONT:-$(dirname "$SIGNETD")/signet-front}
DUNIT=$SD/signetd.service
FUNIT=$SD/signet-front.service

# has FILE LINE: FILE holds exactly LINE (a whole line).
has() { grep -qxF -- "$2" "$1"; }
# lacks FILE REGEX: no line of FILE matches REGEX.
lacks() { ! grep -qE -- "$2" "$1"; }
# value FILE KEY: the value of the last "KEY=" (unit) or "KEY = " (INI) line.
value() { sed -n "s/^$2 *= *//p" "$1" | tail -n 1; }

# ---- exposure level ----
# exposure UNIT: the "Overall exposure level" as printed (e.g. 0.5).
exposure() {
	systemd-analyze security --offline=yes --no-pager "$1" >"$TMP/sec.out" 2>"$TMP/sec.err" || true
	sed -n 's/.*Overall exposure level for [^:]*: *\([0-9][0-9]*\.[0-9]\).*/\1/p' "$TMP/sec.out"
}
for u in "$DUNIT" "$FUNIT"; do
	n=$(basename "$u")
	e=$(exposure "$u")
	if [ -z "$e" ]; then
		not_ok "$n: systemd-analyze security prints an exposure level ($(head -c 300 "$TMP/sec.err"))"
		continue
	fi
	if awk -v e="$e" 'BEGIN { exit !(e + 0 <= 1.0) }'; then
		ok "$n: exposure level $e <= 1.0"
	else
		not_ok "$n: exposure level $e <= 1.0"
		grep '✗' "$TMP/sec.out" | sed 's/^/# /'
	fi
	# The same limit, as systemd-analyze itself applies it (0-100 scale).
	check "$n: systemd-analyze security --threshold=10 passes" \
		systemd-analyze security --offline=yes --threshold=10 --no-pager "$u"
	check "$n: systemd-analyze finds no capability left" \
		sh -c "grep -q '✓ CapabilityBoundingSet=~CAP_SYS_ADMIN' '$TMP/sec.out' &&
			grep -q '✓ AmbientCapabilities=' '$TMP/sec.out'"
done

# ---- directives of both units ----
for u in "$DUNIT" "$FUNIT"; do
	n=$(basename "$u")
	for d in CapabilityBoundingSet= AmbientCapabilities= NoNewPrivileges=yes \
		ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
		DevicePolicy=closed ProtectKernelTunables=yes ProtectKernelModules=yes \
		ProtectKernelLogs=yes ProtectControlGroups=yes ProtectClock=yes \
		ProtectHostname=yes ProtectProc=invisible ProcSubset=pid UMask=0077 \
		KeyringMode=private RemoveIPC=yes RestrictNamespaces=yes RestrictRealtime=yes \
		RestrictSUIDSGID=yes LockPersonality=yes MemoryDenyWriteExecute=yes \
		SystemCallArchitectures=native SystemCallFilter=@system-service \
		"SystemCallFilter=~@privileged @resources" SupplementaryGroups=signet-api \
		WantedBy=multi-user.target; do
		check "$n: $d" has "$u" "$d"
	done
	check "$n: runs as no root user and with no --user" sh -c "
		grep -qE '^User=signet(-front)?\$' '$u' && ! grep -qE '^ExecStart.*--user' '$u'"
	check "$n: no directive gives root or capabilities back" \
		lacks "$u" '^(User=root|PermissionsStartOnly|DynamicUser|AmbientCapabilities=.|CapabilityBoundingSet=.|PrivateDevices=no|ProtectSystem=(no|yes|full))'
done

# ---- signetd.service ----
check "signetd: Type=notify (READY=1 once serving)" has "$DUNIT" Type=notify
check "signetd: User=signet" has "$DUNIT" User=signet
check "signetd: ExecStartPre= runs --check-config on the same file" \
	has "$DUNIT" "ExecStartPre=/usr/sbin/signetd --check-config --config /etc/signet/signetd.conf"
check "signetd: ExecStart= reads /etc/signet/signetd.conf" \
	has "$DUNIT" "ExecStart=/usr/sbin/signetd --config /etc/signet/signetd.conf"
check "signetd: the PIN is a credential (LoadCredential=token-pin:)" \
	has "$DUNIT" "LoadCredential=token-pin:/etc/signet/token-pin"
check "signetd: StateDirectory=signet (0700)" sh -c \
	"grep -qx 'StateDirectory=signet' '$DUNIT' && grep -qx 'StateDirectoryMode=0700' '$DUNIT'"
check "signetd: RuntimeDirectory=signet" has "$DUNIT" RuntimeDirectory=signet
check "signetd: PrivateNetwork=yes" has "$DUNIT" PrivateNetwork=yes
check "signetd: RestrictAddressFamilies=AF_UNIX only" has "$DUNIT" RestrictAddressFamilies=AF_UNIX
check "signetd: IPAddressDeny=any" has "$DUNIT" IPAddressDeny=any
check "signetd: no restart on a configuration or token error (2, 3) or a seccomp kill" \
	has "$DUNIT" "RestartPreventExitStatus=2 3 SIGSYS"
check "signetd: mlock of the PIN allowed (LimitMEMLOCK=)" grep -qE '^LimitMEMLOCK=[1-9]' "$DUNIT"
check "signetd: chown of the socket to socket_group allowed" has "$DUNIT" "SystemCallFilter=@chown seccomp"

# ---- signet-front.service ----
check "signet-front: User=signet-front" has "$FUNIT" User=signet-front
check "signet-front: after signetd (Wants= and After=)" sh -c \
	"grep -qx 'Wants=signetd.service' '$FUNIT' && grep -qE '^After=.*signetd\.service' '$FUNIT'"
check "signet-front: ExecStartPre= runs --check-config on the same file" \
	has "$FUNIT" "ExecStartPre=/usr/sbin/signet-front --check-config --config /etc/signet/signet-front.conf"
check "signet-front: ExecStart= reads /etc/signet/signet-front.conf" \
	has "$FUNIT" "ExecStart=/usr/sbin/signet-front --config /etc/signet/signet-front.conf"
check "signet-front: Unix and IP sockets only" has "$FUNIT" "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"
check "signet-front: IP traffic denied but for localhost" sh -c \
	"grep -qx 'IPAddressDeny=any' '$FUNIT' && grep -qx 'IPAddressAllow=localhost' '$FUNIT'"
check "signet-front: PrivateUsers=yes" has "$FUNIT" PrivateUsers=yes
check "signet-front: no state (no StateDirectory=)" lacks "$FUNIT" '^StateDirectory='

# ---- systemd-analyze verify (the binaries may not be installed) ----
systemd-analyze verify "$DUNIT" "$FUNIT" >"$TMP/verify.out" 2>&1 || true
grep -vE "Command /usr/sbin/signet(d|-front) is not executable|Command 'man .*' failed" \
	"$TMP/verify.out" >"$TMP/verify.rest" || true
if [ -s "$TMP/verify.rest" ]; then
	not_ok "systemd-analyze verify: nothing but absent binaries or man pages ($(head -c 300 "$TMP/verify.rest"))"
else
	ok "systemd-analyze verify: nothing but absent binaries or man pages"
fi

# ---- sysusers.d and tmpfiles.d on a scratch root ----
ROOT=$TMP/root
mkdir -p "$ROOT/etc/signet"
check "sysusers: --dry-run accepts signet.sysusers.conf" \
	systemd-sysusers --dry-run --root="$ROOT" "$SD/signet.sysusers.conf"
check "sysusers: creates the users and groups on a scratch root" \
	systemd-sysusers --root="$ROOT" "$SD/signet.sysusers.conf"
check "sysusers: user signet" grep -q '^signet:x:[0-9]*:[0-9]*:[^:]*:[^:]*:/usr/sbin/nologin$' "$ROOT/etc/passwd"
check "sysusers: user signet-front" grep -q '^signet-front:x:' "$ROOT/etc/passwd"
check "sysusers: group signet-api holds both users" \
	grep -qE '^signet-api:x:[0-9]+:(signet,signet-front|signet-front,signet)$' "$ROOT/etc/group"
if [ "$(id -u)" -eq 0 ]; then
	touch "$ROOT/etc/signet/signetd.conf" "$ROOT/etc/signet/signet-front.conf" "$ROOT/etc/signet/token-pin"
	chmod 0644 "$ROOT/etc/signet/token-pin"
	check "tmpfiles: --create applies signet.tmpfiles.conf on the scratch root" \
		systemd-tmpfiles --root="$ROOT" --create "$SD/signet.tmpfiles.conf"
	api=$(sed -n 's/^signet-api:x:\([0-9]*\):.*/\1/p' "$ROOT/etc/group")
	sgid=$(sed -n 's/^signet:x:\([0-9]*\):.*/\1/p' "$ROOT/etc/group")
	fgid=$(sed -n 's/^signet-front:x:\([0-9]*\):.*/\1/p' "$ROOT/etc/group")
	check "tmpfiles: /etc/signet is 0750 root:signet-api" \
		test "$(stat -c '%a %u %g' "$ROOT/etc/signet")" = "750 0 $api"
	check "tmpfiles: signetd.conf is 0640 root:signet" \
		test "$(stat -c '%a %u %g' "$ROOT/etc/signet/signetd.conf")" = "640 0 $sgid"
	check "tmpfiles: signet-front.conf is 0640 root:signet-front" \
		test "$(stat -c '%a %u %g' "$ROOT/etc/signet/signet-front.conf")" = "640 0 $fgid"
	check "tmpfiles: token-pin is 0600 root:root" \
		test "$(stat -c '%a %u %g' "$ROOT/etc/signet/token-pin")" = "600 0 0"
else
	# Not root: the ownerships cannot be applied; the lines are only parsed.
	check "tmpfiles: signet.tmpfiles.conf parses (not root: not applied)" \
		systemd-tmpfiles --root="$ROOT" --create --prefix=/nonexistent "$SD/signet.tmpfiles.conf"
fi

# ---- the shipped configurations, against the binaries and the units ----
mkdir -p "$TMP/creds"
printf '1234' >"$TMP/creds/token-pin"
chmod 0600 "$TMP/creds/token-pin"
if CREDENTIALS_DIRECTORY=$TMP/creds "$SIGNETD" --check-config --config "$SD/signetd.conf" \
	>"$TMP/dcheck.out" 2>"$TMP/dcheck.err"; then
	ok "signetd --check-config accepts systemd/signetd.conf (PIN from \$CREDENTIALS_DIRECTORY)"
else
	not_ok "signetd --check-config accepts systemd/signetd.conf ($(head -c 300 "$TMP/dcheck.err"))"
fi
check "signetd.conf: state_dir is the unit's StateDirectory=" \
	grep -qx "state_dir = /var/lib/$(value "$DUNIT" StateDirectory)" "$TMP/dcheck.out"
sock=$(sed -n 's/^socket = //p' "$TMP/dcheck.out")
check "signetd.conf: the socket is in the unit's RuntimeDirectory=" \
	test "$(dirname "${sock:-/nowhere/x}")" = "/run/$(value "$DUNIT" RuntimeDirectory)"
check "signetd.conf: socket_group is the units' SupplementaryGroups=" \
	test "$(value "$SD/signetd.conf" socket_group)" = "$(value "$DUNIT" SupplementaryGroups)"
check "signetd.conf: gateway_user is signet-front.service's User=" \
	test "$(value "$SD/signetd.conf" gateway_user)" = "$(value "$FUNIT" User)"
check "signetd.conf: user is signetd.service's User=" \
	test "$(value "$SD/signetd.conf" user)" = "$(value "$DUNIT" User)"
check "signet-front.conf: talks to signetd's socket" \
	test "$(value "$SD/signet-front.conf" socket)" = "$sock"
check "signet-front.conf: user is signet-front.service's User=" \
	test "$(value "$SD/signet-front.conf" user)" = "$(value "$FUNIT" User)"
check "signet-front.conf: listens on loopback only (IPAddressAllow=localhost)" \
	sh -c "grep '^listen' '$SD/signet-front.conf' | grep -qvE '= *(127\\.|\\[::1\\])' && exit 1 || exit 0"
if [ -x "$SIGNET_FRONT" ]; then
	check "signet-front --check-config accepts systemd/signet-front.conf" \
		"$SIGNET_FRONT" --check-config --config "$SD/signet-front.conf"
else
	say "# signet-front not built: its --check-config is not run"
fi
