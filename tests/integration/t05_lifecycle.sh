#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Lifecycle: token session recovery through a fault-injecting module, concurrent clients,
# graceful shutdown with work in flight.
. "$TESTLIB"

: "${P11FAULT:?P11FAULT must name the fault-injecting module}"
init_state
mkdir -p "$TMP/faults"
for_daemon "$TMP/faults"
printf '[token]\nmodule = %s\nsofthsm_conf = %s\n' "$P11FAULT" "$STATE/softhsm2.conf" >"$TMP/fault.conf"
export P11FAULT_MODULE="$SOFTHSM_MODULE" P11FAULT_DIR="$TMP/faults"
start_daemon --config "$TMP/fault.conf"
ctl --json tenant create acme --admin alice >"$TMP/out"
export SIGNET_TOKEN
SIGNET_TOKEN=$(json .token)
check "a key is generated through the fault module" ctl key generate k1 --alg ECC_NIST_P256

# Every session of the token closed under the daemon (the login with them): the next
# operation must reopen its session, log in again and retry once, invisibly to the client.
: >"$TMP/faults/close-sessions"; for_daemon "$TMP/faults"
check "a CSR succeeds after all token sessions were closed" ctl key csr k1 --subject /CN=a -o "$TMP/a.csr"
check "the fault was really injected" grep -q close-sessions "$TMP/faults/faults"
check "the CSR made after recovery verifies" openssl req -in "$TMP/a.csr" -verify -noout
check "the daemon logged the recovery" grep -q "token session lost" "$LOG"
: >"$TMP/faults/device-removed"; for_daemon "$TMP/faults"
check "a key is generated after CKR_DEVICE_REMOVED" ctl key generate k2 --alg ED25519
check "the device-removed fault was injected" grep -q device-removed "$TMP/faults/faults"
# Recovery retries once, not forever: two faults in a row reach the client as token_error.
echo 2 >"$TMP/faults/device-removed"; for_daemon "$TMP/faults"
expect_refusal "a fault that persists through the retry is a token_error" token_error ctl key csr k1 --subject /CN=b
check "both faults were consumed" test ! -e "$TMP/faults/device-removed"
check "the next request succeeds again" ctl key csr k1 --subject /CN=c -o "$TMP/c.csr"

# Many clients at once: every request answered, every key created once.
i=0
pids=
while [ $i -lt 16 ]; do
	ctl --json key generate "par-$i" --alg ECC_NIST_P256 >"$TMP/par-$i.out" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
wait_fail=0
for j in $pids; do wait "$j" || wait_fail=$((wait_fail + 1)); done
check "16 concurrent key generations all succeeded" test $wait_fail -eq 0
ctl --json key list >"$TMP/out"
check "the store holds all 16 keys once" test "$(json '[.keys[].label | select(startswith("par-"))] | length')" = 16
p11 --list-objects --type privkey 2>/dev/null | grep -c 'label: *acme/par-' >"$TMP/count" || true
check "the token holds all 16 private keys once" test "$(cat "$TMP/count")" = 16

# Graceful shutdown: a slow request in flight is answered before the daemon exits.
R0=$(requests)
ctl --json key generate slow --alg RSA_4096 >"$TMP/slow.out" 2>"$TMP/slow.err" &
CPID=$!
wait_request "$R0" || not_ok "signetd never took the key generate request"
check "SIGTERM with work in flight still exits cleanly" stop_daemon
crc=0; wait $CPID || crc=$?
check "the in-flight request was answered" test $crc -eq 0
check "its answer was a complete key" test "$(jq -r .algorithm "$TMP/slow.out")" = RSA_4096
start_daemon --config "$TMP/fault.conf"
ctl --json key show slow >"$TMP/out"
check "the key acknowledged during shutdown exists after restart" test "$(json .usable)" = true
check "stop at the end" stop_daemon
