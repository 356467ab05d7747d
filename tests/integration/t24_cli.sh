#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# signetctl and signet-verify for people (issue 19): errors that say what to do, and JSON
# errors on stderr with --json.
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
