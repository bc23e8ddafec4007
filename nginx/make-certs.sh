#!/usr/bin/env bash
# Makes a throwaway certificate authority and one certificate for DOMAIN and *.DOMAIN, for the
# demo and the tests. Never for production.
#
# Usage: nginx/make-certs.sh DIR [DOMAIN]     (DOMAIN defaults to example.test)
#
# Writes into DIR (created if needed; existing files there are replaced):
#   ca.pem       the CA certificate: what clients trust (SSL_CERT_FILE, curl --cacert, a browser)
#   server.pem   the certificate for DOMAIN and *.DOMAIN, signed by the CA
#   server.key   its private key (mode 0600)
# The CA's private key is deleted once the certificate is signed, and the CA may only sign names
# under DOMAIN (a critical name constraint), so trusting ca.pem in a browser trusts nothing else.
set -euo pipefail

if (($# < 1 || $# > 2)) || [[ $1 == -h || $1 == --help ]]; then
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
	exit 2
fi
dir=$1
domain=${2:-example.test}
[[ $domain =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]] || {
	printf 'make-certs.sh: %s is not a domain name\n' "$domain" >&2
	exit 2
}

mkdir -p -- "$dir"
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
umask 077

# openssl chatters on stderr even when it succeeds: show that only when it fails.
quiet() {
	"$@" 2>"$work/stderr" || {
		cat -- "$work/stderr" >&2
		return 1
	}
}

quiet openssl req -x509 -new -noenc -days 365 \
	-newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	-keyout "$work/ca.key" -out "$work/ca.pem" \
	-subj "/CN=Throwaway demo CA for $domain" \
	-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "nameConstraints=critical,permitted;DNS:$domain"

quiet openssl req -new -noenc \
	-newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	-keyout "$work/server.key" -out "$work/server.csr" \
	-subj "/CN=*.$domain"

# Browsers accept at most 398 days for a server certificate.
cat >"$work/server.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$domain, DNS:*.$domain
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
quiet openssl x509 -req -in "$work/server.csr" -days 365 \
	-CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -CAserial "$work/ca.srl" \
	-extfile "$work/server.ext" -out "$work/server.pem"
quiet openssl verify -CAfile "$work/ca.pem" "$work/server.pem" >/dev/null

install -m 0644 -- "$work/ca.pem" "$dir/ca.pem"
install -m 0644 -- "$work/server.pem" "$dir/server.pem"
install -m 0600 -- "$work/server.key" "$dir/server.key"
