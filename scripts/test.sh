#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The whole test suite on a fresh Debian 12 machine (as root): packages, build, make check,
# the same suite under AddressSanitizer and UBSan, and make distcheck.
# scripts/test.sh [NAME=TEST-SUITE-LOG...]: suites run before this script (.ci/run's t16) are
# counted in the closing line too.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
passed=0
failed=0
suites=0
last_failed=0
# summary NAME FILE [START]: one line for a suite, from automake's summary block in FILE (the
# first block of "# PASS:"-style lines, after a line matching START when given). Only that
# block: a test-suite.log goes on with the whole log of each failed test, which may hold such
# lines of its own. A suite without a summary counts as one failure.
summary() {
	_c=$(awk -v start="${3:-}" '
		start != "" && !started { if ($0 ~ start) started = 1; next }
		/^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR): *[0-9]+$/ { v[$2] = $3; seen = 1; next }
		seen { exit }
		END { if (seen) print v["PASS:"] + 0, v["FAIL:"] + v["ERROR:"] + v["XPASS:"] }' "$2" 2>/dev/null || true)
	suites=$((suites + 1))
	if [ -z "$_c" ]; then
		echo "$1: no test summary in $2"
		failed=$((failed + 1))
		last_failed=1
		rc=1
		return 0
	fi
	# shellcheck disable=SC2086 # the two counts
	set -- "$1" ${_c}
	echo "$1: $2 passed, $3 failed"
	passed=$((passed + $2))
	failed=$((failed + $3))
	last_failed=$3
	[ "$3" -eq 0 ] || rc=1
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

drc=0
make -C "$top/build" distcheck >"$top/build/distcheck.out" 2>&1 || drc=1
if [ $drc -ne 0 ]; then
	tail -n 60 "$top/build/distcheck.out"
	echo "make distcheck: FAILED"
fi
# Its suite's summary is in make's output (distcheck removes its build tree).
summary "make distcheck" "$top/build/distcheck.out" '^Testsuite summary for '
if [ $drc -ne 0 ] && [ "$last_failed" -eq 0 ]; then
	# Failed outside its tests (dist, install, distclean): one failure of its own.
	failed=$((failed + 1))
	rc=1
fi

for s in "$@"; do
	summary "${s%%=*}" "${s#*=}"
done

# The closing line, counted over every suite above.
echo "all $suites suites: $passed passed, $failed failed"
exit $rc
