#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# init -> run -> status -> graceful stop; refusals at init and start.
. "$TESTLIB"

init_state
check "init prints the state directory" grep -q "state directory initialised" "$TMP/init.out"
check "init creates the SoftHSM config with the file backend" grep -q "objectstore.backend = file" "$STATE/softhsm2.conf"
check "the user PIN file is mode 0600" test "$(stat -c %a "$STATE/token-pin")" = 600
check "the state directory is mode 0700" test "$(stat -c %a "$STATE")" = 700
check "init made the LMDB environment" test -f "$STATE/db/data.mdb"
check "init made the spool" test -d "$STATE/spool"
pin=$(cat "$STATE/token-pin")
if grep -q "$pin" "$TMP/init.out"; then not_ok "the user PIN is not printed"; else ok "the user PIN is not printed"; fi
check "the token is initialised and the user PIN logs in" p11 --list-objects
erc=0; sd --init --state-dir "$STATE" >/dev/null 2>"$TMP/err" || erc=$?
check "init refuses an existing state dir (exit 2)" test $erc -eq 2
check "init says why it refused" grep -q "refusing to overwrite" "$TMP/err"
erc=0; sd --init --state-dir relative/dir >/dev/null 2>&1 || erc=$?
check "init refuses a relative state dir" test $erc -eq 2

check "check-config accepts the embedded default" sd --check-config --state-dir "$STATE"
printf '[daemon]\nworkers = 0\n' >"$TMP/bad.conf"
erc=0; sd --check-config --state-dir "$STATE" --config "$TMP/bad.conf" 2>"$TMP/err" || erc=$?
check "check-config refuses an out-of-range value (exit 2)" test $erc -eq 2
check "check-config names the bad key" grep -q "workers" "$TMP/err"
printf '[token]\nsecret = 1\n' >"$TMP/bad.conf"
erc=0; sd --check-config --state-dir "$STATE" --config "$TMP/bad.conf" 2>"$TMP/err" || erc=$?
check "check-config refuses an unknown key" test $erc -eq 2

start_daemon
check "the socket is mode 0660" test "$(stat -c %a "$SOCK")" = 660
check "status answers without a token" ctl status
ctl --json status >"$TMP/out"
check "status names the token" test "$(json .token.label)" = signet
check "status reports the token available" test "$(json .token.available)" = true
check "status counts tenants" test "$(json .counts.tenants)" = 0
check "the PIN never reaches the log" sh -c "! grep -q '$pin' '$LOG'"
check "log lines carry syslog priority prefixes" grep -q '^<[0-7]>' "$LOG"
if grep -q "seccomp: not in a sanitizer build" "$LOG"; then
	ok "skipped: the system call filter (a sanitizer build runs without it, and says so)"
else
	check "the steady-state system call filter is on" grep -q "seccomp: the system call filter is on" "$LOG"
fi
# Privileges: started as root, signetd runs as DUSER with nothing of root left.
if [ -n "$DUSER" ]; then
	st=/proc/$DPID/status
	du=$(id -u "$DUSER")
	dg=$(id -g "$DUSER")
	check "the daemon runs as $DUSER: every uid is $du" \
		test "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")" = "$du $du $du $du"
	check "every gid is $dg" test "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st")" = "$dg $dg $dg $dg"
	check "no supplementary group of root's is left (only $dg)" \
		test "$(awk '/^Groups:/ { $1 = ""; print }' "$st" | tr -s ' ' | sed 's/^ //; s/ $//')" = "$dg"
	check "no capability is left (effective, permitted, ambient)" \
		test "$(awk '/^Cap(Eff|Prm|Amb):/ { print $2 }' "$st" | sort -u)" = 0000000000000000
	check "the process is not dumpable and has no new privileges" \
		sh -c "grep -q '^NoNewPrivs:[[:space:]]*1' '$st'"
	erc=0; "$SIGNETD" --state-dir "$STATE" >"$TMP/root.log" 2>&1 || erc=$?
	check "started as root without a user to drop to, signetd refuses (exit 2)" test $erc -eq 2
	check "... and says why" grep -q "refusing to run as root" "$TMP/root.log"
	erc=0; "$SIGNETD" --state-dir "$STATE" --user root >"$TMP/root.log" 2>&1 || erc=$?
	check "--user root is refused too" test $erc -eq 2
	erc=0; "$SIGNETD" --state-dir "$STATE" --user nobody >"$TMP/root.log" 2>&1 || erc=$?
	check "a user who does not own the state dir is refused" test $erc -eq 2
	check "... and told so" grep -q "must belong to nobody" "$TMP/root.log"
	erc=0; "$SIGNETD" --init --state-dir "$TMP/init-as-root" >"$TMP/root.log" 2>&1 || erc=$?
	check "init as root without --user is refused" test $erc -eq 2
	check "... and made nothing" test ! -e "$TMP/init-as-root"
else
	ok "skipped: the privilege drop (the test does not run as root)"
fi
erc=0; sd --state-dir "$STATE" >"$TMP/second.log" 2>&1 || erc=$?
check "a second daemon on the same socket refuses to start" test $erc -ne 0
check "the first daemon still answers" ctl status
check "SIGTERM stops the daemon cleanly (exit 0)" stop_daemon
check "the socket is removed at stop" test ! -e "$SOCK"
check "the daemon logged its stop" grep -q "signetd stopped" "$LOG"

# A wrong PIN at start: a clear error and exit code 3, and nothing served.
printf 'wrong-pin-123' >"$TMP/wrong-pin"
chmod 600 "$TMP/wrong-pin"
for_daemon "$TMP/wrong-pin"
printf '[token]\npin_file = %s\n' "$TMP/wrong-pin" >"$TMP/wrongpin.conf"
erc=0; sd --state-dir "$STATE" --config "$TMP/wrongpin.conf" >"$TMP/err" 2>&1 || erc=$?
check "a wrong PIN stops the start with exit code 3" test $erc -eq 3
check "a wrong PIN is reported clearly" grep -q "refused the PIN" "$TMP/err"
check "the wrong PIN itself is not logged" sh -c "! grep -q 'wrong-pin-123' '$TMP/err'"
printf '[token]\nuri = pkcs11:token=no-such-token\n' >"$TMP/notoken.conf"
erc=0; sd --state-dir "$STATE" --config "$TMP/notoken.conf" >"$TMP/err" 2>&1 || erc=$?
check "a token URI that matches nothing exits with code 3" test $erc -eq 3
check "it says no token matches" grep -q "no token matches" "$TMP/err"

# systemd LoadCredential: $CREDENTIALS_DIRECTORY/token-pin wins over the configured file.
mkdir -p "$TMP/creds"
cp "$STATE/token-pin" "$TMP/creds/token-pin"
for_daemon "$TMP/creds"
CREDENTIALS_DIRECTORY=$TMP/creds start_daemon --config "$TMP/wrongpin.conf"
check "the credential PIN is used instead of the configured file" ctl status
check "stop after credential start" stop_daemon
