#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Fuzz the STS's input parsers with libFuzzer (clang, ASan + UBSan).
#
#   tests/fuzz/run.sh [SECONDS]     build build-fuzz/ and run every target SECONDS
#                                   (default 60) from its seeds; new inputs are kept
#                                   in build-fuzz/tests/fuzz/work/<target>/corpus
#   tests/fuzz/run.sh --one SECONDS BINARY SEEDS WORKDIR
#                                   run one target (what ctest's fuzz.<name> does)
#
# Exit status non-zero when a target crashed, leaked, hit UB or timed out on
# an input; the input is saved in WORKDIR/artifacts/ (reproduce with
# "BINARY FILE").
set -eu

one() {
    secs=$1 bin=$2 seeds=$3 work=$4
    mkdir -p "$work/corpus" "$work/artifacts"
    # -timeout: one input taking over 10 s is a finding (a parser DoS)
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
           -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds"
}

if [ "${1:-}" = "--one" ]; then
    shift
    one "$@"
    exit $?
fi

secs=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build-fuzz
CC=clang cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTS_FUZZ=ON \
    -DSTS_BUILD_TESTS=OFF -DSTS_FUZZ_SECONDS="$secs" >/dev/null
cmake --build "$build" -j"$(nproc)"
status=0
for t in form jwt saml rest envelope; do
    echo "== fuzz_$t for ${secs}s"
    one "$secs" "$build/tests/fuzz/fuzz_$t" "$top/tests/fuzz/seeds/$t" \
        "$build/tests/fuzz/work/$t" || status=1
done
exit $status
