#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Tenants, users and API tokens: creation, isolation, rotation, revocation, local-only ops.
. "$TESTLIB"

init_state
# A socket outside the 0700 state dir, so that an unprivileged peer can reach it.
mkdir -p "$TMP/run"
for_daemon "$TMP/run"
chmod 755 "$TMP" "$TMP/run"
DSOCK=$TMP/run/signetd.sock
printf '[daemon]\nsocket = %s\nauth_fail_delay_ms = 50\n' "$DSOCK" >"$TMP/signetd.conf"
start_daemon --config "$TMP/signetd.conf"

ctl --json tenant create acme --admin alice >"$TMP/out"
check "tenant create returns the tenant" test "$(json .tenant)" = acme
check "tenant create returns the admin" test "$(json .admin)" = alice
A_TOKEN=$(json .token)
check "the admin token has the documented shape" sh -c "echo '$A_TOKEN' | grep -Eq '^sgn_[A-Za-z0-9_-]{43}$'"
ctl --json tenant create globex --admin gina >"$TMP/out"
G_TOKEN=$(json .token)
expect_refusal "a tenant name is unique" conflict ctl tenant create acme --admin other
expect_refusal "a path-like tenant name is refused" invalid ctl tenant create ../etc --admin x
expect_refusal "a tenant needs an admin" invalid ctl --json tenant create lonely --admin ""
ctl --json tenant list >"$TMP/out"
check "tenant list shows both tenants" test "$(json '.tenants | length')" = 2

export SIGNET_TOKEN="$A_TOKEN"
ctl --json whoami >"$TMP/out"
check "the admin token names alice of acme" test "$(json .user)/$(json .tenant)/$(json .admin)" = alice/acme/true
ctl --json user create bob --group dev --group release >"$TMP/out"
B_TOKEN=$(json .token)
check "user create returns a token" test -n "$B_TOKEN"
check "user create returns the groups" test "$(json '.groups | join(",")')" = dev,release
ctl --json user create ci-bot --client >"$TMP/out"
expect_refusal "a user name is unique in its tenant" conflict ctl user create bob
ctl --json user list >"$TMP/out"
check "user list shows alice, bob and ci-bot" test "$(json '[.users[].name] | sort | join(",")')" = alice,bob,ci-bot
check "user list marks the client" test "$(json '.users[] | select(.name=="ci-bot") | .client')" = true
check "no token hash leaves the daemon" sh -c "! grep -q tokenHash '$TMP/out'"
SIGNET_TOKEN=$G_TOKEN ctl --json user create bob >"$TMP/out"
check "the same user name may exist in another tenant" test "$(json .tenant)" = globex

# Isolation: globex's admin sees nothing of acme.
SIGNET_TOKEN=$G_TOKEN ctl --json user list >"$TMP/out"
check "a tenant sees only its own users" test "$(json '[.users[].name] | sort | join(",")')" = bob,gina
expect_refusal "another tenant's user is not found" not_found env SIGNET_TOKEN="$G_TOKEN" "$SIGNETCTL" --socket "$DSOCK" user show alice
expect_refusal "a tenant hint that does not match the token is refused" unauthenticated ctl --tenant globex whoami
check "a matching tenant hint is accepted" ctl --tenant acme whoami

# A plain user holds no admin rights.
expect_refusal "a plain user cannot create users" denied env SIGNET_TOKEN="$B_TOKEN" "$SIGNETCTL" --socket "$DSOCK" user create eve
expect_refusal "a plain user cannot list users" denied env SIGNET_TOKEN="$B_TOKEN" "$SIGNETCTL" --socket "$DSOCK" user list
expect_refusal "a plain user cannot renew another user's token" denied env SIGNET_TOKEN="$B_TOKEN" "$SIGNETCTL" --socket "$DSOCK" user token alice

# Rotation and revocation.
SIGNET_TOKEN=$B_TOKEN ctl --json user token bob >"$TMP/out"
B2_TOKEN=$(json .token)
check "a user can renew their own token" test -n "$B2_TOKEN" -a "$B2_TOKEN" != "$B_TOKEN"
expect_refusal "the old token stops working after renewal" unauthenticated env SIGNET_TOKEN="$B_TOKEN" "$SIGNETCTL" --socket "$DSOCK" whoami
check "the new token works" env SIGNET_TOKEN="$B2_TOKEN" "$SIGNETCTL" --socket "$DSOCK" whoami
check "the admin revokes bob's token" ctl user revoke bob
expect_refusal "a revoked token is refused" unauthenticated env SIGNET_TOKEN="$B2_TOKEN" "$SIGNETCTL" --socket "$DSOCK" whoami
ctl --json user show bob >"$TMP/out"
check "user show reports no token after revocation" test "$(json .hasToken)" = false
expect_refusal "the initial admin's token cannot be revoked" conflict ctl user revoke alice
ctl --json user token bob >"$TMP/out"
check "the admin can give bob a new token" env SIGNET_TOKEN="$(json .token)" "$SIGNETCTL" --socket "$DSOCK" whoami
expect_refusal "a missing token is unauthenticated" unauthenticated env -u SIGNET_TOKEN "$SIGNETCTL" --socket "$DSOCK" user list

# Listings page: 120 more users, read in pages of 50 and all at once.
i=0
while [ $i -lt 120 ]; do
	ctl user create "u$i" >/dev/null || not_ok "create u$i"
	i=$((i + 1))
done
ctl --json --limit 50 user list >"$TMP/out"
check "a page holds at most the limit" test "$(json '.users | length')" = 50
c1=$(json .cursor)
ctl --json --limit 50 --cursor "$c1" user list >"$TMP/out"
check "the next page starts after the cursor" test "$(json '.users[0].name')" != "$(ctl --json --limit 50 user list | jq -r '.users[49].name')"
check "the second page is full" test "$(json '.users | length')" = 50
c2=$(json .cursor)
ctl --json --limit 50 --cursor "$c2" user list >"$TMP/out"
check "the last page holds the rest (123 users in all)" test "$(json '.users | length')" = 23
check "the last page has no cursor" test "$(jq -r '.cursor // "none"' "$TMP/out")" = none
ctl --json user list >"$TMP/out"
check "signetctl pages through everything by itself" test "$(json '[.users[].name] | unique | length')" = 123
expect_refusal "a forged cursor is refused" invalid ctl --limit 5 --cursor '!!!' user list

# Pages also end before they outgrow a packet: 30 users with 32 long group names each.
groups=
g=0
while [ $g -lt 32 ]; do
	groups="$groups --group group-with-a-rather-long-name-for-paging-tests-number-$g"
	g=$((g + 1))
done
i=0
while [ $i -lt 30 ]; do
	# shellcheck disable=SC2086
	ctl user create "big$i" $groups >/dev/null || not_ok "create big$i"
	i=$((i + 1))
done
ctl --json --limit 1000 user list >"$TMP/out"
check "a page stops before the reply outgrows one packet" test "$(json '.users | length')" -lt 153
check "a page cut short by size still hands out a cursor" test -n "$(json .cursor)"
ctl --json user list >"$TMP/out"
check "all 153 users are listed across pages" test "$(json '[.users[].name] | unique | length')" = 153

# Local-only ops: a peer that is neither root nor the daemon's uid.
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	chmod 755 "$TMP"
	# gid 0 lets uid 65534 reach the root-owned 0660 socket; the daemon must still say no.
	NOBODY="setpriv --reuid=65534 --regid=$DGID --clear-groups"
	expect_refusal "a peer that is not a local admin cannot create tenants" denied $NOBODY "$SIGNETCTL" --socket "$DSOCK" tenant create evil --admin mallory
	expect_refusal "a non-local peer cannot generate keys even with the admin token" denied $NOBODY "$SIGNETCTL" --socket "$DSOCK" key generate k1 --alg ECC_NIST_P256
	check "a non-local peer may still use ordinary ops with a token" $NOBODY "$SIGNETCTL" --socket "$DSOCK" whoami
	check "status works for any peer that can connect" $NOBODY "$SIGNETCTL" --socket "$DSOCK" status
else
	not_ok "setpriv and root are needed to test the local-admin check"
fi

# Durability: everything acknowledged survives a restart.
check "stop" stop_daemon
start_daemon --config "$TMP/signetd.conf"
check "the admin token still works after a restart" ctl whoami
ctl --json user list >"$TMP/out"
check "users survive a restart" test "$(json '.users | length')" = 153
check "stop after restart" stop_daemon
