#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# signetctl and signet-verify for people (issue 19), through the real binaries and a real signetd:
# errors that say what to do and JSON errors with --json (item 9); options a command does not
# take refused, -o - (4); per-command help, "did you mean", unknown subcommands (5); times in RFC
# 3339, task list as a table newest first (7, 8); device configurations by name (8); --wait -o
# FILE checked with openssl, the timeout's exit status (6); progress lines only on a terminal and
# the bash completion (10); signet-verify's OK and usage exit status (13).
. "$TESTLIB"

# refused_with DESCRIPTION STATUS PATTERN COMMAND...: exits STATUS and stderr matches PATTERN (grep -E).
refused_with() {
	d=$1; want=$2; pat=$3; shift 3
	erc=0
	"$@" >"$TMP/out" 2>"$TMP/err" || erc=$?
	if [ "$erc" -eq "$want" ] && grep -Eq -- "$pat" "$TMP/err"; then
		ok "$d"
	else
		not_ok "$d (exit $erc, want $want; stderr: $(head -c 300 "$TMP/err"))"
	fi
}

init_state
start_daemon

ctl --json tenant create acme --admin alice >"$TMP/out" || fatal "tenant create acme"
A_TOKEN=$(json .token)
ctl --json tenant create globex --admin gina >"$TMP/out" || fatal "tenant create globex"
export SIGNET_TOKEN="$A_TOKEN"

###########################################################################################
# Item 9: errors say what to do; --json errors are JSON on stderr.
refused_with "no token: the refusal names SIGNET_TOKEN" 1 'SIGNET_TOKEN' \
	env -u SIGNET_TOKEN "$SIGNETCTL" --socket "$SOCK" whoami
check "... and says unauthenticated first" grep -q '^signetctl: unauthenticated: ' "$TMP/err"
refused_with "a token of another tenant: the refusal says it may be another tenant's" 1 \
	"refused for tenant 'globex' \(--tenant or SIGNET_TENANT\): the token may be another tenant's" \
	ctl --tenant globex whoami
check "... and how to learn its tenant" grep -q 'signetctl whoami without --tenant names its tenant' "$TMP/err"
refused_with "a bad token: the refusal says to check it" 1 'check --token or SIGNET_TOKEN' \
	ctl --token sgn_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA whoami
refused_with "a token not of a token's form: the refusal says so" 1 'an API token is sgn_ and 43 characters' \
	ctl --token sgn_short whoami
refused_with "no daemon: the refusal asks whether signetd runs" 1 'is signetd running' \
	"$SIGNETCTL" --socket "$TMP/nothing.sock" status

refused_with "--json: a refusal is JSON on stderr" 1 '^\{' ctl --json --tenant globex whoami
check "... with the code, the message and the hint (jq)" \
	test "$(jq -r '[.code, (.message | length > 0), (.hint | test("globex"))] | join(",")' "$TMP/err")" = "unauthenticated,true,true"
check "... and nothing on stdout" test ! -s "$TMP/out"
refused_with "--json: a usage error is JSON on stderr" 2 '^\{' ctl --json frobnicate
check "... with the code usage (jq)" test "$(jq -r .code "$TMP/err")" = usage
refused_with "--json after the command words: a usage error is JSON too" 2 '^\{' \
	ctl tenant create x --json
check "... naming what is missing (jq)" jq -e '.message | test("--admin")' "$TMP/err"

###########################################################################################
# Item 4: an option a command does not take is refused, naming it; -o - is standard output.
refused_with "task sign -o sig.bin (no --wait) is refused, naming -o" 2 '^signetctl: -o needs --wait' \
	ctl task sign --devconf x --file /etc/hostname -o "$TMP/sig.bin"
check "... and writes nothing" test ! -e "$TMP/sig.bin"
refused_with "task approve -o is refused, naming -o" 2 '^signetctl: task approve does not take -o' \
	ctl task approve 01a2126e-d347-7c54-8187-c2cd315f1da1 -o "$TMP/sig.bin"
refused_with "--alg on task sign is refused, naming --alg" 2 'does not take --alg' \
	ctl task sign --devconf x --file /etc/hostname --alg RSA_3072
refused_with "--output json on status is refused, naming --output" 2 'status does not take --output' \
	ctl status --output json
refused_with "an unknown option is named, with the nearest known one" 2 'did you mean --alg\?' \
	ctl key generate k --alog ECC_NIST_P256
refused_with "an option without its value is named" 2 '--devconf needs a value' ctl task sign --devconf
refused_with "-o - with --json is refused" 2 'standard output' ctl --json key csr k --subject /CN=x -o -
ctl key generate fw --alg ECC_NIST_P256 >/dev/null || fatal "key generate fw"
# Keys of their own for configurations with another policy (a key's strictest policy applies to
# all its uses, DESIGN §5) and for package headers (one key, one purpose).
ctl key generate fw2 --alg ECC_NIST_P256 >/dev/null || fatal "key generate fw2"
ctl key generate pk --alg ECC_NIST_P256 >/dev/null || fatal "key generate pk"
ctl key csr fw --subject "/CN=t24 firmware" -o - >"$TMP/csr.pem" 2>"$TMP/err"
check "key csr -o - writes the request to stdout, which openssl verifies" \
	openssl req -in "$TMP/csr.pem" -noout -verify
ctl audit export -o - >"$TMP/audit.jsonl" 2>"$TMP/err"
check "audit export -o - writes the export to stdout (JSON lines ending with a checkpoint)" \
	test "$(tail -n 1 "$TMP/audit.jsonl" | jq -r .type)" = checkpoint
ctl audit pubkey >"$TMP/audit.pem"
check "... which audit verify accepts" ctl audit verify --file "$TMP/audit.jsonl" --pubkey "$TMP/audit.pem"

###########################################################################################
# Item 5: per-command help with an example, "did you mean", unknown subcommands.
check "task sign --help exits 0" sh -c "'$SIGNETCTL' task sign --help >'$TMP/help.out'"
check "... with its usage" grep -q '^usage: signetctl task sign --devconf' "$TMP/help.out"
check "... its options" grep -q '^ *--input-base64 B64 ' "$TMP/help.out"
check "... and an example" sh -c "grep -A1 '^example:' '$TMP/help.out' | grep -q '^  signetctl task sign '"
check "help task sign prints the same" sh -c "'$SIGNETCTL' help task sign | cmp -s - '$TMP/help.out'"
check "help task lists the task commands" sh -c "'$SIGNETCTL' help task | grep -q '^  task download ID -o FILE'"
check "help with no daemon and no token works" env -u SIGNET_TOKEN "$SIGNETCTL" --socket /nonexistent help devconf create
refused_with "a mistyped command: did you mean" 2 "did you mean 'task'\?" ctl tsak list
check "... named as an unknown command" grep -q "^signetctl: unknown command 'tsak'" "$TMP/err"
refused_with "an unknown subcommand is named as such" 2 "^signetctl: unknown task subcommand 'lst'" ctl task lst
check "... with the nearest one" grep -q "did you mean 'task list'?" "$TMP/err"
refused_with "a group without a subcommand lists them" 2 'sign, encrypt, package' ctl task
refused_with "help for an unknown command: did you mean" 2 "did you mean 'devconf'\?" ctl help devconfs

###########################################################################################
# Items 7 and 8: times in RFC 3339 (and "ago" in lists); task list as a table, newest first.
RFC3339='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
ctl --json devconf create fw-release --sign-key fw --four-eyes off >"$TMP/out" || fatal "devconf create"
DC=$(json .id)
ctl --json task sign --devconf "$DC" --input-base64 "$(printf one | base64)" --name one >"$TMP/out" ||
	fatal "task sign one"
T1=$(json .id)
ctl --json task sign --devconf "$DC" --input-base64 "$(printf two | base64)" --name two >"$TMP/out" ||
	fatal "task sign two"
T2=$(json .id)
ctl task list >"$TMP/list.txt" || not_ok "task list"
check "task list has a header" grep -Eq '^ID +TYPE +STATUS +NAME +SIZE +DEVICE CONFIG +REQUESTER +CREATED$' "$TMP/list.txt"
check "task list is newest first" test "$(sed -n 2p "$TMP/list.txt" | cut -d' ' -f1)/$(sed -n 3p "$TMP/list.txt" | cut -d' ' -f1)" = "$T2/$T1"
check "task list's columns are aligned (STATUS above DONE)" \
	test "$(head -n 1 "$TMP/list.txt" | awk '{ print index($0, "STATUS") }')" = "$(sed -n 2p "$TMP/list.txt" | awk '{ print index($0, "DONE") }')"
check "task list names the device configuration" sh -c "sed -n 2p '$TMP/list.txt' | grep -q '  fw-release  '"
check "task list says how long ago (by the local clock)" grep -Eq '(now|[0-9]+ s ago)$' "$TMP/list.txt"
ctl task list --oldest-first >"$TMP/list.txt"
check "task list --oldest-first is oldest first" test "$(sed -n 2p "$TMP/list.txt" | cut -d' ' -f1)" = "$T1"
ctl --json task list >"$TMP/out"
check "task list --json keeps the daemon's order, oldest first" \
	test "$(jq --arg a "$T1" --arg b "$T2" '[.tasks[].id] | index($a) < index($b)' "$TMP/out")" = true

ctl task show "$T1" >"$TMP/show.txt"
check "task show: created in RFC 3339, and how long ago" grep -Eq "^created: $RFC3339 \((now|[0-9]+ s ago)\)$" "$TMP/show.txt"
ctl --json task show "$T1" >"$TMP/out"
CREATED=$(json .createdAt)
check "task show --json keeps createdAt (epoch) and adds createdAtRfc3339 beside it" \
	test "$(json .createdAtRfc3339)" = "$(date -u -d "@$CREATED" +%Y-%m-%dT%H:%M:%SZ)"
ctl audit list --limit 3 >"$TMP/audit.txt"
check "audit list shows times in RFC 3339" sh -c "head -n 1 '$TMP/audit.txt' | cut -f2 | grep -Eqx '$RFC3339'"
ctl --json audit list --limit 1 >"$TMP/out"
check "audit list --json: time and timeRfc3339" test "$(json '.entries[0].timeRfc3339')" = "$(date -u -d "@$(json '.entries[0].time')" +%Y-%m-%dT%H:%M:%SZ)"
ctl status >"$TMP/status.txt"
check "status: the start time in RFC 3339" grep -Eq "since $RFC3339\)$" "$TMP/status.txt"

###########################################################################################
# Item 8: device configurations by name or id (resolved by signetctl among those one may view).
ctl --json task sign --devconf fw-release --input-base64 "$(printf three | base64)" >"$TMP/out"
check "task sign --devconf NAME uses that device configuration" test "$(json .status)" = DONE
ctl --json devconf show fw-release >"$TMP/out"
check "devconf show NAME shows it" test "$(json .id)" = "$DC"
ctl --json user create bob >"$TMP/out" || fatal "user create bob"
check "acl add with DEVICE_CONFIG:NAME" ctl --json acl add USER:bob DEVICE_CONFIG:fw-release USE
check "... stores the rule on the id" test "$(jq -r .resource "$TMP/check.out")" = "DEVICE_CONFIG:$DC"
check "audit list --resource DEVICE_CONFIG:NAME" ctl --json audit list --resource DEVICE_CONFIG:fw-release
check "... lists that device configuration's entries" test "$(jq -r '.entries[0].resource' "$TMP/check.out")" = "DEVICE_CONFIG:$DC"
refused_with "an unknown name is refused as not_found, naming it" 1 "^signetctl: not_found: no device configuration named 'nope'" \
	ctl devconf show nope
ctl --json devconf create dup --sign-key fw2 >"$TMP/out" && D1=$(json .id)
ctl --json devconf create dup --sign-key fw2 >"$TMP/out" && D2=$(json .id)
refused_with "a name two device configurations have is refused as ambiguous" 1 "^signetctl: conflict: 2 device configurations are named 'dup'" \
	ctl devconf show dup
check "... listing both ids" sh -c "grep -q '$D1' '$TMP/err' && grep -q '$D2' '$TMP/err'"
check "... while the id still works" ctl devconf show "$D2"

###########################################################################################
# Item 6: task sign|encrypt|package --wait [-o FILE]; a timeout has its own exit status (124).
ctl --json key show fw | jq -r .publicKeyPem >"$TMP/fw.pub"
head -c 5000000 /dev/urandom >"$TMP/fw.bin"
erc=0
ctl task sign --devconf fw-release --file "$TMP/fw.bin" --wait -o "$TMP/fw.sig" >"$TMP/out" 2>"$TMP/err" || erc=$?
check "task sign --wait -o FILE exits 0 ($erc)" test "$erc" = 0
check "... writes a signature openssl verifies" \
	openssl dgst -sha256 -verify "$TMP/fw.pub" -signature "$TMP/fw.sig" "$TMP/fw.bin"
check "... says so" grep -q "^$TMP/fw.sig: signature of [0-9]* bytes (task " "$TMP/out"
check "... and shows no progress line when stderr is not a terminal" test ! -s "$TMP/err"

head -c 32 /dev/urandom >"$TMP/aes.key"
ctl key import aes --alg AES_256 --file "$TMP/aes.key" >/dev/null || fatal "key import aes"
ctl --json devconf create enc --encrypt-key aes --four-eyes off >/dev/null || fatal "devconf create enc"
erc=0
ctl task encrypt --devconf enc --file "$TMP/fw.bin" --wait -o "$TMP/fw.enc" >"$TMP/out" 2>"$TMP/err" || erc=$?
check "task encrypt --wait -o FILE exits 0 ($erc)" test "$erc" = 0
size=$(stat -c %s "$TMP/fw.enc")
head -c $((size - 16)) "$TMP/fw.enc" >"$TMP/fw.ct"
iv=$(tail -c 16 "$TMP/fw.enc" | od -An -tx1 | tr -d ' \n')
check "... writes the ciphertext, which openssl decrypts to the input" sh -c \
	"openssl enc -d -aes-256-cbc -K $(od -An -tx1 "$TMP/aes.key" | tr -d ' \n') -iv $iv -in '$TMP/fw.ct' | cmp -s - '$TMP/fw.bin'"
check "... silently when stderr is not a terminal" test ! -s "$TMP/err"
ctl task encrypt --devconf enc --file "$TMP/fw.bin" --wait -o - >"$TMP/fw2.enc" 2>"$TMP/err"
check "task encrypt --wait -o - writes the result to stdout, and nothing else" \
	test "$(stat -c %s "$TMP/fw2.enc")" = "$size"
ctl --json task encrypt --devconf enc --file "$TMP/fw.bin" --wait >"$TMP/out" 2>"$TMP/err"
check "task encrypt --wait without -o prints the ended task" test "$(json .status)/$(json '.result.size')" = "DONE/$size"
if command -v script >/dev/null 2>&1; then
	script -qc "'$SIGNETCTL' --socket '$SOCK' task encrypt --devconf enc --file '$TMP/fw.bin' --wait -o '$TMP/fw3.enc'" \
		/dev/null >"$TMP/tty.out" 2>&1 </dev/null || true
	check "on a terminal, --wait shows a progress line (task and status)" \
		grep -q "$(printf '\r\033\\[K')task [0-9a-f-]*: CREATED" "$TMP/tty.out"
	check "... and one for the download of a result over 4 MiB (a bar)" grep -q 'fw3.enc \[[#.]*\] ' "$TMP/tty.out"
else
	say "# no script(1): the terminal's progress line is not checked"
fi

refused_with "-o without --wait is refused" 2 '-o needs --wait' \
	ctl task sign --devconf fw-release --file "$TMP/fw.bin" -o "$TMP/x.sig"
ctl --json devconf create held --sign-key fw2 --four-eyes on >/dev/null || fatal "devconf create held"
t0=$(date +%s)
refused_with "task sign --wait --timeout 2 on a task that waits for approval: exit 124" 124 \
	'^signetctl: timeout: task [0-9a-f-]* is still WAITING after 2 s' \
	ctl task sign --devconf held --file "$TMP/fw.bin" --wait --timeout 2 -o "$TMP/held.sig"
check "... after about 2 s" test $(($(date +%s) - t0)) -le 5
check "... writing nothing" test ! -e "$TMP/held.sig"
check "... and saying how to wait again" grep -q '(signetctl task wait [0-9a-f-]* waits again)' "$TMP/err"
TH=$(sed -n 's/^signetctl: timeout: task \([0-9a-f-]*\) .*/\1/p' "$TMP/err")
refused_with "task wait --timeout 1 on it: exit 124 too" 124 '^signetctl: timeout: ' ctl task wait "$TH" --timeout 1
refused_with "--json: the timeout is JSON on stderr" 124 '^\{' ctl --json task wait "$TH" --timeout 1
check "... with the code timeout (jq)" test "$(jq -r .code "$TMP/err")" = timeout
refused_with "a daemon that cannot be reached is still 1, not the timeout's status" 1 '^signetctl: unavailable: ' \
	"$SIGNETCTL" --socket "$TMP/nothing.sock" task wait "$TH" --timeout 1

###########################################################################################
# Item 10: the bash completion (tools/signetctl.bash-completion, installed as "signetctl").
COMPLETION=$(cd "$(dirname "$TESTLIB")/../.." && pwd)/tools/signetctl.bash-completion
# complete WORD...: what the completion offers for the last word after "signetctl WORD...".
complete_words() {
	bash -c '. "$1" && shift && COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && _signetctl &&
		printf "%s\n" "${COMPREPLY[@]}"' sh "$COMPLETION" "$SIGNETCTL" "$@"
}
check "the completion script loads in bash and registers for signetctl" \
	sh -c "bash -c '. \"$COMPLETION\" && complete -p signetctl' | grep -qx 'complete -F _signetctl signetctl'"
check "it completes a subcommand from its prefix (task li -> list)" test "$(complete_words task li)" = list
check "... the first word (ta -> task)" test "$(complete_words ta)" = task
check "... an option the command takes (task sign --wa -> --wait)" test "$(complete_words task sign --wa)" = --wait
check "... not one it does not take (status --al -> nothing)" test -z "$(complete_words status --al)"
check "... an option's values (--four-eyes o -> on off)" test "$(complete_words devconf create x --four-eyes o | tr '\n' ' ')" = "on off "

###########################################################################################
# Item 13: signet-verify prints OK (unless -q) and exits 2 for usage errors, as signetctl does.
: "${SIGNET_VERIFY:?SIGNET_VERIFY must name the signet-verify binary}"
ctl --json devconf create pkg --package-key pk --encrypt-key aes --four-eyes off >/dev/null || fatal "devconf create pkg"
printf '{"version": "1.2"}' >"$TMP/meta.json"
erc=0
ctl task package --devconf pkg --firmware "$TMP/fw.bin" --metadata "$TMP/meta.json" --wait -o "$TMP/fw.pkg" \
	>"$TMP/out" 2>"$TMP/err" || erc=$?
check "task package --wait -o FILE writes the container ($erc)" test "$erc" = 0 -a -s "$TMP/fw.pkg"
erc=0
ctl --json key show pk | jq -r .publicKeyPem >"$TMP/pk.pub"
"$SIGNET_VERIFY" --pubkey "$TMP/pk.pub" --key "$TMP/aes.key" -o "$TMP/pkg.out" "$TMP/fw.pkg" >"$TMP/out" 2>"$TMP/err" || erc=$?
check "signet-verify accepts it (exit $erc)" test "$erc" = 0
check "... and prints OK as its last line" test "$(tail -n 1 "$TMP/out")" = OK
check "... having decrypted the firmware" cmp -s "$TMP/pkg.out/segment-000" "$TMP/fw.bin"
"$SIGNET_VERIFY" -q --pubkey "$TMP/pk.pub" "$TMP/fw.pkg" >"$TMP/out" 2>&1
check "signet-verify -q prints nothing" test ! -s "$TMP/out"
erc=0
"$SIGNET_VERIFY" --pubkey "$TMP/fw.pub" >"$TMP/out" 2>"$TMP/err" || erc=$?
erc2=0
"$SIGNETCTL" task sign --devconf >/dev/null 2>&1 || erc2=$?
check "a usage error: signet-verify exits as signetctl does, 2 ($erc, $erc2)" test "$erc/$erc2" = 2/2
check "... naming what is wrong" grep -q '^signet-verify: no PACKAGE given' "$TMP/err"
refused_with "an unknown option of signet-verify: exit 2, named" 2 '^signet-verify: unknown option --bogus' \
	"$SIGNET_VERIFY" --bogus "$TMP/fw.pkg"
