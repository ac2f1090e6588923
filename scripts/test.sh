#!/bin/sh
# Builds spfgate and runs its whole test suite, as CI does on a fresh Debian 12 machine.
#   ./scripts/test.sh            everything
#   ./scripts/test.sh -L unit    only one area (any ctest arguments are passed on, to every build)
#
# Three builds:
#  1. build/       GCC, -Werror: the build users get. The fuzz targets replay their seed corpus.
#  2. build-fuzz/  clang with AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer: every test again
#                  under the sanitizers, and each fuzz target fuzzes for a few seconds after its seeds.
#                  A sanitizer report from any process (a test binary, the daemon the Python tests start, a
#                  fuzz target) fails the run, even where the test itself did not notice: reports go to
#                  build-fuzz/sanitizer-reports/, which must stay empty.
#  3. build-tsan/  clang with ThreadSanitizer, the daemon, unit_common and unit_codec alone: the worker-thread
#                  tests (threads_integration, the metrics counted, the peer warnings rate-limited and the
#                  stderr lines written from several threads) again, where any data race between the threads is a report (into the
#                  same directory).
# SPFGATE_SANITIZERS=no skips the second and third builds (a quicker local run; CI does all three).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPFGATE_WERROR=ON
cmake --build build -j2
ctest --test-dir build --output-on-failure --timeout 600 "$@"

if [ "${SPFGATE_SANITIZERS:-yes}" = no ]; then
  exit 0
fi
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPFGATE_WERROR=ON \
  -DSPFGATE_SANITIZE=ON -DSPFGATE_FUZZ=ON -DSPFGATE_BENCH=OFF
cmake --build build-fuzz -j2
reports="$PWD/build-fuzz/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
chmod 1777 "$reports"  # processes that dropped root (--user nobody, Postfix's spawn user=nobody) report too
status=0
ASAN_OPTIONS="log_path=$reports/report:detect_leaks=1:strict_string_checks=1:check_initialization_order=1" \
UBSAN_OPTIONS="log_path=$reports/report:print_stacktrace=1:halt_on_error=1" \
  ctest --test-dir build-fuzz --output-on-failure --timeout 600 "$@" || status=$?

CC=clang CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPFGATE_WERROR=ON \
  -DSPFGATE_TSAN=ON -DSPFGATE_BENCH=OFF
cmake --build build-tsan -j2 --target spfgate unit_common unit_codec
TSAN_OPTIONS="log_path=$reports/tsan:second_deadlock_stack=1" \
  ctest --test-dir build-tsan --output-on-failure --timeout 600 -R '^(threads_integration|Metrics\..*|RateLimitedLogTest\..*|StderrLogTest\..*)$' "$@" || status=$?
if [ -n "$(ls -A "$reports")" ]; then
  echo "sanitizer reports (build-fuzz/sanitizer-reports):" >&2
  for f in "$reports"/*; do
    echo "==> $f" >&2
    cat "$f" >&2
  done
  status=1
fi
exit "$status"
