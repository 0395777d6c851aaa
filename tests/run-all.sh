#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's test command: install dependencies, check that generated/ is
# fresh, build, and run every test (unit + integration) under ctest; then
# the whole suite again in an ASan + UBSan build (STS_SANITIZE_RUN=0 skips
# it); then build the libFuzzer targets (clang, ASan + UBSan) and run each
# for a short smoke time from its seeds (STS_FUZZ_SECONDS, default 20; 0
# skips them).
set -eu
cd "$(dirname "$0")/.."
./tests/deps.sh
./wsdl/regen.sh --check
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
(cd build && ctest --output-on-failure -j2)

if [ "${STS_SANITIZE_RUN:-1}" != 0 ]; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSTS_SANITIZE=ON
    cmake --build build-asan -j"$(nproc)"
    (cd build-asan && ctest --output-on-failure -j2)
fi

fuzz_seconds=${STS_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" -gt 0 ]; then
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTS_FUZZ=ON \
        -DSTS_BUILD_TESTS=OFF -DSTS_FUZZ_SECONDS="$fuzz_seconds"
    cmake --build build-fuzz -j"$(nproc)"
    (cd build-fuzz && ctest --output-on-failure -j2 -L fuzz)
fi
