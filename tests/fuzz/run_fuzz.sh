#!/bin/sh
# run_fuzz.sh TARGET SEEDS SECONDS ARTIFACTS: one libFuzzer target as a ctest test.
#
# Runs TARGET over the seed corpus SEEDS, then fuzzes for SECONDS more. New inputs go to a scratch corpus
# (deleted afterwards), never into the source tree; a crashing or invariant-breaking input is written to
# ARTIFACTS/<target>-crash-<sha1> and the test fails. -timeout: one input taking over 10 s is a finding
# (a hang), as is using more than 2 GB.
set -eu
target=$1 seeds=$2 seconds=$3 artifacts=$4
scratch=$(mktemp -d "${TMPDIR:-/tmp}/spfgate-fuzz-corpus.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts/$(basename "$target")-" "$scratch" "$seeds"
