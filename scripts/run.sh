#!/bin/sh
# Installs the build dependencies, builds spfgate and runs it with its built-in defaults: a unix socket at
# /run/spfgate/spfgate.sock, logging to stderr, full recursion with DNSSEC validation. Extra arguments are
# passed to spfgate (e.g. ./scripts/run.sh --listen tcp:127.0.0.1:10045).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2
exec ./build/spfgate "$@"
