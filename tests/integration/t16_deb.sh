#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Debian packages (packaging/debian, `make deb`): each .deb holds its binaries, units, sysusers
# and tmpfiles files, man pages and example configs; installed into a scratch root (dpkg --root,
# maintainer scripts run chrootless) they create the users, enable and start nothing, and purge
# cleanly; the packaged binaries run and accept the shipped configs; lintian reports no error.
# A package build takes a while: skipped unless SIGNET_TEST_DEB=1 (.ci/run sets it). With
# SIGNET_DEB_DIR=DIR it checks the packages in DIR instead of running `make deb` first.
if [ "${SIGNET_TEST_DEB:-}" != 1 ]; then
	echo "SKIP: the Debian packages are built and checked only with SIGNET_TEST_DEB=1"
	exit 77
fi
. "$TESTLIB"

T_START=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
BUILDDIR=$(dirname "$SIGNETD")
SRCDIR=$(cd "$(dirname "$TESTLIB")/../.." && pwd)

if [ -n "${SIGNET_DEB_DIR:-}" ]; then
	DEBS=$SIGNET_DEB_DIR
else
	t=$(date +%s.%N)
	# Not the harness's make: its jobserver is not ours.
	if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$BUILDDIR" deb >"$TMP/deb.out" 2>&1; then
		ok "make deb ($(since "$t") s)"
	else
		tail -n 40 "$TMP/deb.out" | sed 's/^/# /'
		fatal "make deb failed"
	fi
	DEBS=$BUILDDIR/deb
fi

# deb PACKAGE: the package's .deb (the dbgsym packages are not checked).
deb() { set -- "$DEBS/$1"_*_*.deb; [ -f "$1" ] && echo "$1"; }
for p in signetd signet-front signet-tools; do
	f=$(deb $p) || fatal "no $p .deb in $DEBS"
	dpkg-deb -c "$f" | awk '{ print $6 }' | sed 's|^\./|/|' >"$TMP/$p.list"
	say "# $(basename "$f"): $(wc -c <"$f") bytes, $(grep -vc '/$' "$TMP/$p.list") files"
done
VERSION=$(dpkg-deb -f "$(deb signetd)" Version)

# has PACKAGE PATH...: the package ships each path.
has() {
	p=$1; shift
	for f in "$@"; do
		check "$p ships $f" grep -qx "$f" "$TMP/$p.list"
	done
}
has signetd /usr/sbin/signetd /lib/systemd/system/signetd.service \
	/usr/lib/sysusers.d/signet.conf /usr/lib/tmpfiles.d/signet.conf /etc/signet/signetd.conf \
	/usr/share/man/man8/signetd.8.gz /usr/share/man/man5/signetd.conf.5.gz \
	/usr/share/doc/signetd/README.Debian /usr/share/doc/signetd/copyright \
	/usr/share/doc/signetd/protocol.md.gz /usr/share/doc/signetd/signetd.conf.example.gz
has signet-front /usr/sbin/signet-front /lib/systemd/system/signet-front.service \
	/etc/signet/signet-front.conf /usr/share/man/man8/signet-front.8.gz
has signet-tools /usr/bin/signetctl /usr/share/man/man1/signetctl.1.gz \
	/usr/share/bash-completion/completions/signetctl
# signet-verify, once its source is in the tree.
if [ -f "$SRCDIR/tools/signet-verify.c" ]; then
	has signet-tools /usr/bin/signet-verify /usr/share/man/man1/signet-verify.1.gz
fi
cat "$TMP/signetd.list" "$TMP/signet-front.list" "$TMP/signet-tools.list" | grep -v '/$' | sort | uniq -d >"$TMP/dup"
check "no file is in two packages" test ! -s "$TMP/dup"

check "signetd.conf is a conffile" sh -c "dpkg-deb -I '$(deb signetd)' conffiles | grep -qx /etc/signet/signetd.conf"
check "signet-front.conf is a conffile" \
	sh -c "dpkg-deb -I '$(deb signet-front)' conffiles | grep -qx /etc/signet/signet-front.conf"
check "signetd depends on a systemd-sysusers" sh -c "dpkg-deb -f '$(deb signetd)' Depends | grep -q 'systemd-sysusers'"
check "signetd recommends softhsm2" sh -c "dpkg-deb -f '$(deb signetd)' Recommends | grep -q softhsm2"
check "signet-front depends on the same signetd" \
	sh -c "dpkg-deb -f '$(deb signet-front)' Depends | grep -qF 'signetd (= $VERSION)'"

# The maintainer scripts: users first (sysusers), then modes (tmpfiles); nothing started.
mkdir "$TMP/ctl"
for p in signetd signet-front; do
	dpkg-deb -e "$(deb $p)" "$TMP/ctl/$p"
	# The only deb-systemd-invoke in a postinst is the try-restart of an upgrade.
	check "$p's postinst starts nothing" sh -c "! grep 'deb-systemd-invoke' '$TMP/ctl/$p/postinst' | grep -qv try-restart"
	check "$p's prerm stops its service at removal" grep -q "deb-systemd-invoke stop $p.service" "$TMP/ctl/$p/prerm"
done
check "signetd's postinst runs systemd-sysusers signet.conf" grep -q 'systemd-sysusers .*signet.conf' "$TMP/ctl/signetd/postinst"
check "... before systemd-tmpfiles" sh -c "grep -n -e 'systemd-sysusers ' -e 'systemd-tmpfiles ' '$TMP/ctl/signetd/postinst' |
	cut -d: -f2 | grep -o 'systemd-[a-z]*' | tr '\n' ' ' | grep -qx 'systemd-sysusers systemd-tmpfiles '"

# Installed into a scratch root as on a clean machine: dpkg runs the maintainer scripts outside a
# chroot with DPKG_ROOT set, which systemd-sysusers, systemd-tmpfiles and deb-systemd-helper honour.
# The shared libraries are not in that root: --force-depends.
R=$TMP/root
if [ "$(id -u)" -ne 0 ]; then
	say "# not root: no install into a scratch root"
else
	mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
	: >"$R/var/lib/dpkg/status"
	: >"$R/var/lib/dpkg/available"
	rdpkg() { dpkg --root="$R" --log=/dev/null --force-script-chrootless --force-depends "$@" >>"$TMP/dpkg.out" 2>&1; }
	# signet-front apart, after signetd: dpkg configures a dependency first, as apt would.
	check "dpkg installs signetd and signet-tools" rdpkg -i "$(deb signetd)" "$(deb signet-tools)"
	check "dpkg installs signet-front" rdpkg -i "$(deb signet-front)"
	for f in /usr/sbin/signetd /usr/sbin/signet-front /usr/bin/signetctl /lib/systemd/system/signetd.service \
		/lib/systemd/system/signet-front.service /usr/share/man/man8/signetd.8.gz /etc/signet/signetd.conf; do
		check "installed: $f" test -f "$R$f"
	done
	if [ -x "$(command -v systemd-sysusers)" ]; then
		check "the postinst created the user signet" grep -q '^signet:' "$R/etc/passwd"
		check "the postinst created the user signet-front" grep -q '^signet-front:' "$R/etc/passwd"
		check "signet and signet-front are in signet-api" grep -qE '^signet-api:[^:]*:[0-9]+:(signet,signet-front|signet-front,signet)$' "$R/etc/group"
		gid=$(awk -F: '$1 == "signet-api" { print $3 }' "$R/etc/group")
		check "tmpfiles made /etc/signet 0750 root:signet-api" test "$(stat -c '%a %u %g' "$R/etc/signet")" = "750 0 $gid"
		gid=$(awk -F: '$1 == "signet-front" { print $3 }' "$R/etc/group")
		check "signet-front.conf is 0640 root:signet-front" \
			test "$(stat -c '%a %u %g' "$R/etc/signet/signet-front.conf")" = "640 0 $gid"
	else
		say "# no systemd-sysusers here: users and modes not checked"
	fi
	check "no unit is enabled" test ! -e "$R/etc/systemd/system/multi-user.target.wants"
	for u in signetd.service signet-front.service; do
		check "deb-systemd-helper tracks $u (disabled at purge)" \
			test -f "$R/var/lib/systemd/deb-systemd-helper-enabled/$u.dsh-also"
	done

	# The packaged binaries run, and accept the configs shipped with them.
	check "signetd --version matches the package" sh -c "'$R/usr/sbin/signetd' --version | grep -qx 'signetd ${VERSION%-*}'"
	check "signetctl --version runs" "$R/usr/bin/signetctl" --version
	# What bash-completion loads for signetctl, with the packaged signetctl's answers.
	check "the packaged bash completion completes a subcommand" test "$(bash -c \
		". '$R/usr/share/bash-completion/completions/signetctl' && complete -p signetctl >/dev/null &&
		COMP_WORDS=('$R/usr/bin/signetctl' task li) COMP_CWORD=2 && _signetctl && echo \"\${COMPREPLY[*]}\"")" = list
	check "signet-front accepts the shipped signet-front.conf" \
		"$R/usr/sbin/signet-front" --check-config --config "$R/etc/signet/signet-front.conf"
	SIGNETD=$R/usr/sbin/signetd
	init_state
	check "signetd accepts the shipped signetd.conf" sd --check-config --config "$R/etc/signet/signetd.conf" --state-dir "$STATE"

	check "dpkg purges the three packages" rdpkg --purge signet-front signet-tools signetd
	check "purge removed the conffiles" test ! -e "$R/etc/signet/signetd.conf"
	check "purge removed the binaries" test ! -e "$R/usr/sbin/signetd"
	check "purge left the users" grep -q '^signet:' "$R/etc/passwd"
	if [ "$T_FAIL" -ne 0 ]; then
		sed 's/^/# dpkg: /' "$TMP/dpkg.out" | tail -n 40
	fi
fi

# lintian: no error; its warnings are listed.
t=$(date +%s.%N)
erc=0
lintian --fail-on error "$DEBS"/*.deb >"$TMP/lintian.out" 2>"$TMP/lintian.err" || erc=$?
grep -E '^[EWI]: ' "$TMP/lintian.out" | sed 's/^/# lintian: /'
check "lintian runs ($(since "$t") s)" test $erc -eq 0 -o $erc -eq 2
check "lintian reports no error" sh -c "! grep -q '^E: ' '$TMP/lintian.out'"
if [ $erc -ne 0 ] && [ $erc -ne 2 ]; then
	sed 's/^/# /' "$TMP/lintian.err"
fi
say "# t16: $(since "$T_START") s"
