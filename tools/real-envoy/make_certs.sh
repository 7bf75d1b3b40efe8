#!/usr/bin/env bash
# Generates throw-away certificates for the loopback mesh into $1 (default ./certs).
#   root-cert.pem        "mesh" CA (trusted by every proxy)
#   other-root-cert.pem  a second, unrelated CA
#   <ident>.pem/.key     workload certs (SPIFFE URI SAN) signed by the mesh CA,
#                        except payments-otherca which is signed by the other CA.
# Private keys only ever live in the scratch directory; nothing here is committed.
set -euo pipefail
out=${1:-certs}
mkdir -p "$out"
cd "$out"
ca() { # name cn
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/O=$2/CN=$2" -keyout "$1.key" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() { # ident ns sa ca-basename
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=cluster.local" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=URI:spiffe://cluster.local/ns/%s/sa/%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' "$2" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial -days 30 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca root-cert "Istio CA"
ca other-root-cert "Legacy Mesh CA"
leaf gateway istio-system istio-ingressgateway-service-account root-cert
leaf sleep foo sleep root-cert
leaf httpbin foo httpbin root-cert
leaf reviews bookinfo bookinfo-reviews root-cert
leaf ratings bookinfo bookinfo-ratings root-cert
leaf ledger shop ledger root-cert
leaf orders shop orders root-cert
leaf legacy shop legacy-api root-cert
leaf notifications shop notifications root-cert
leaf payments-otherca shop payments other-root-cert
