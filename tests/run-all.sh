#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's test command: install dependencies, check that generated/ is
# fresh, build, and run every test (unit + integration) under ctest.
set -eu
cd "$(dirname "$0")/.."
./tests/deps.sh
./wsdl/regen.sh --check
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j2
