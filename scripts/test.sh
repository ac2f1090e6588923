#!/bin/sh
# Builds spfgate and runs its whole test suite, as CI does on a fresh Debian 12 machine.
#   ./scripts/test.sh            everything
#   ./scripts/test.sh -L unit    only one area (any ctest arguments are passed on)
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPFGATE_WERROR=ON
cmake --build build -j2
ctest --test-dir build --output-on-failure "$@"
