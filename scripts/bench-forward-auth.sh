#!/usr/bin/env bash
# Runs the forward-auth benchmark (sso-server/benches/forward_auth.rs): /forward-auth/verify
# on the memory and Redis stores (and Redis with store.forward_auth_cache) against a bare
# actix-web hello, and a static page through nginx with the snippets' auth_request against the
# same page without it, under wrk, servers on core 0 and wrk on core 1. Prints req/s and
# ratios; asserts nothing.
#
# Usage: scripts/bench-forward-auth.sh
#   BENCH_SECONDS (5) is the length of each measurement; BENCH_ROUNDS (1) how many times each
#   is taken, in turns, keeping the best (more rounds on a busy machine); REDIS_URL the Redis
#   to use (the local one, or a throwaway redis-server when none is reachable); NGINX_BIN the
#   nginx binary.
# Run it on an otherwise idle machine: other work on the two cores skews every figure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

ensure_packages redis-server redis-tools wrk util-linux nginx
ensure_redis
printf '==> REDIS_URL=%s\n' "$(redact_url "$REDIS_URL")" >&2

printf '==> cargo bench -p sso-server --bench forward_auth\n' >&2
cargo bench -p sso-server --bench forward_auth
