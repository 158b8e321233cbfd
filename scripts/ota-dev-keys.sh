#!/usr/bin/env bash
# Development keys for RAUC update bundles: a CA (the devices' trust anchor, RAUC "keyring")
# and a signing certificate issued by it.
#
#   scripts/ota-dev-keys.sh [DIR] [NAME]      (default DIR: ota-keys/, NAME: development-1)
#
# Writes DIR/ca.{key,cert}.pem and DIR/NAME.{key,cert}.pem (EC P-256, 10 years). DIR must not
# be inside a git checkout's tracked files: keys are never committed (ota-keys/ is in
# .gitignore). Production keys are made the same way on an offline machine or in an HSM and
# reach the build only through RAUC_KEY_FILE / RAUC_CERT_FILE (docs/ota.md); the devices only
# ever get the CA certificate.
set -euo pipefail

dir=${1:-ota-keys}
name=${2:-development-1}
days=${EDGEASR_OTA_KEY_DAYS:-3650}
subject=${EDGEASR_OTA_SUBJECT:-/O=EdgeASR development}

mkdir -p "$dir"
umask 077
if [ ! -f "$dir/ca.key.pem" ]; then
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$dir/ca.key.pem" -out "$dir/ca.cert.pem" -days "$days" \
        -subj "$subject/CN=EdgeASR update CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
ext=$(mktemp)
trap 'rm -f "$ext" "$dir/$name.csr.pem"' EXIT
# No extendedKeyUsage: RAUC's default purpose check (S/MIME signing) accepts a certificate
# without one; with codeSigning it would need check-purpose=codesign in system.conf.
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > "$ext"
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$dir/$name.key.pem" -out "$dir/$name.csr.pem" \
    -subj "$subject/CN=EdgeASR bundle signer $name" 2>/dev/null
openssl x509 -req -in "$dir/$name.csr.pem" -CA "$dir/ca.cert.pem" -CAkey "$dir/ca.key.pem" \
    -CAcreateserial -CAserial "$dir/ca.srl" -days "$days" -extfile "$ext" \
    -out "$dir/$name.cert.pem" 2>/dev/null
chmod 0644 "$dir/ca.cert.pem" "$dir/$name.cert.pem"
echo "$dir/ca.cert.pem (trust anchor), $dir/$name.{key,cert}.pem (signer)"
