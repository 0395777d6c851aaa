#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Make the DEVELOPMENT-ONLY PKI of the STS: a CA, the STS signing key and
# certificate (RSA-2048), an EC P-256 signing key, a TLS server certificate for
# 127.0.0.1/localhost, and the key that seals PasswordDigest secrets.
# These keys are published in the repository: never use them outside tests and demos.
#   certs/make-dev-pki.sh [--force]     (existing files are kept unless --force)
set -eu
cd "$(dirname "$0")"
if [ -f ca.crt ] && [ "${1:-}" != "--force" ]; then
    echo "certs/ already populated (use --force to remake every key)"; exit 0
fi
umask 077
days=3650
subj="/O=STS Development (TEST ONLY)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days $days \
    -subj "$subj/CN=STS Dev Root CA" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
issue() { # name subject extensions-file keyopts...
    name=$1; cn=$2; ext=$3; shift 3
    openssl req -new -newkey "$@" -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj/CN=$cn"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -out "$name.crt" -days $days -sha256 -extfile "$ext"
    rm -f "$name.csr"
}
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' >sign.ext
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n' >tls.ext
issue sts-signing "STS Dev Token Signing (RSA)" sign.ext rsa:2048
issue sts-signing-ec "STS Dev Token Signing (EC)" sign.ext ec -pkeyopt ec_paramgen_curve:P-256
issue tls-server "localhost" tls.ext rsa:2048
rm -f sign.ext tls.ext ca.srl
openssl rand -hex 32 >dev-secrets.key
# Keys are 0600; certificates are public.
chmod 600 ./*.key
chmod 644 ./*.crt
echo "dev PKI written to $(pwd) -- TEST ONLY"
