#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the Debian 12 packages the STS needs to build, run and test.
set -eu
pkgs="build-essential cmake pkg-config gsoap libgsoap-dev libssl-dev openssl libxml2-dev
 libxml2-utils libxmlsec1-dev xmlsec1 libjansson-dev libsqlite3-dev sqlite3 libcrypt-dev
 python3 python3-zeep python3-lxml python3-requests python3-jwt python3-cryptography python3-xmlsec opensaml-tools opensaml-schemas xmltooling-schemas
 curl valgrind clang libclang-rt-14-dev wrk"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
