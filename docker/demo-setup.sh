#!/usr/bin/env bash
# One-shot setup of the compose demo: makes the throwaway TLS certificates and the demo's secrets
# in DIR (a volume every service mounts read-only). Files that exist are kept, so that restarts
# keep passwords, keys and sign-ins; a certificate is made anew when it expires within a day.
#
# Usage: demo-setup.sh DIR        (environment: DEMO_DOMAIN, default example.test)
#
# DIR/tls/      ca.pem, server.pem, server.key (nginx/make-certs.sh)
# DIR/secrets/  postgres-password, redis-password, demo-password, key-encryption-key,
#               appN-client-secret, appN-login-cookie-key; database-url built from its password
# DIR/redis/    redis.conf (requirepass, and masterauth: the replica may become the primary)
set -euo pipefail

if (($# != 1)); then
	printf 'usage: %s DIR\n' "${0##*/}" >&2
	exit 2
fi
dir=$1
domain=${DEMO_DOMAIN:-example.test}
make_certs=$(dirname "${BASH_SOURCE[0]}")/../nginx/make-certs.sh

# The services read these as different users (postgres and redis as uid 999, ours as 10001) from
# one shared volume, so the files are world-readable inside it. Demo only: a real deployment
# hands each service its own secrets.
umask 022
mkdir -p -- "$dir/tls" "$dir/secrets" "$dir/redis"

if [[ ! -f $dir/tls/server.pem ]] ||
	! openssl x509 -checkend 86400 -noout -in "$dir/tls/server.pem" >/dev/null; then
	bash "$make_certs" "$dir/tls" "$domain"
	printf 'made a throwaway CA and a certificate for %s and *.%s\n' "$domain" "$domain"
fi

# Writes the output of COMMAND... to secrets/NAME unless that file exists already.
keep_or_make() {
	local file=$dir/secrets/$1
	shift
	[[ -s $file ]] && return
	"$@" >"$file.tmp"
	mv -- "$file.tmp" "$file"
}
keep_or_make postgres-password openssl rand -hex 24
keep_or_make redis-password openssl rand -hex 24
keep_or_make demo-password openssl rand -hex 6
# Seals the center's signing keys in PostgreSQL.
keep_or_make key-encryption-key openssl rand -base64 32
for app in app1 app2; do
	# The center wants client secrets of at least 32 characters; cookie keys are 32 bytes.
	keep_or_make "$app-client-secret" openssl rand -hex 32
	keep_or_make "$app-login-cookie-key" openssl rand -base64 32
done

# Hex passwords need no escaping in a URL or in redis.conf.
redis_password=$(<"$dir/secrets/redis-password")
postgres_password=$(<"$dir/secrets/postgres-password")
printf 'postgres://sso:%s@postgres:5432/sso\n' "$postgres_password" >"$dir/secrets/database-url"
printf 'requirepass %s\nmasterauth %s\n' "$redis_password" "$redis_password" >"$dir/redis/redis.conf"
