#!/usr/bin/env bash
# make_certs.sh DIR [NAME SAN]...: a throwaway CA for tests in DIR/ca.pem
# (kept when DIR has one), and for each NAME a certificate DIR/NAME.pem with
# its key DIR/NAME.key, signed by that CA, for the subjectAltName SAN (as
# "IP:10.0.0.1,DNS:localhost"). Keys are P-256; everything lasts two days.
set -euo pipefail
dir=$1
shift
mkdir -p "$dir"
if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=allot test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
fi
while [ $# -ge 2 ]; do
  name=$1 san=$2
  shift 2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' \
    "$san" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
done
