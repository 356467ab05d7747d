#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The whole test suite on a fresh Debian 12 machine (as root): packages, build, make check,
# the same suite under AddressSanitizer and UBSan, and make distcheck.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
summary() {
	# One line per suite, from automake's test-suite.log.
	awk -v name="$1" '/^# (PASS|FAIL|ERROR|XFAIL|XPASS|SKIP):/ {v[$2]=$3} END {
		printf "%s: %d passed, %d failed\n", name, v["PASS:"], v["FAIL:"] + v["ERROR:"] + v["XPASS:"] }' "$2"
}
rc=0
"$top/scripts/build.sh" "$top/build"
make -C "$top/build" check -j2 >"$top/build/check.out" 2>&1 || rc=1
grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$top/build/check.out" || true
if [ $rc -ne 0 ]; then
	cat "$top/build/test-suite.log"
fi
summary "make check" "$top/build/test-suite.log"

"$top/scripts/build.sh" "$top/build-asan" --enable-asan
if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	make -C "$top/build-asan" check -j2 >"$top/build-asan/check.out" 2>&1; then
	rc=1
	cat "$top/build-asan/test-suite.log"
fi
summary "make check (asan+ubsan)" "$top/build-asan/test-suite.log"

if ! make -C "$top/build" distcheck >"$top/build/distcheck.out" 2>&1; then
	rc=1
	tail -n 60 "$top/build/distcheck.out"
	echo "make distcheck: FAILED"
else
	echo "make distcheck: passed"
fi

# The closing line, counted over every suite run above.
awk '/^# (PASS|FAIL|ERROR|XPASS):/ {if ($2=="PASS:") p+=$3; else f+=$3} END {printf "%d passed, %d failed\n", p, f}' \
	"$top/build/test-suite.log" "$top/build-asan/test-suite.log"
exit $rc
