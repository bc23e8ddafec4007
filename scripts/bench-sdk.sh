#!/usr/bin/env bash
# Runs the SDK's per-request benchmark: a bare actix-web hello, the SDK-protected
# hello on every local-session backend and actix-session as the peer baseline,
# under wrk, against a real Redis (the local one, or a throwaway redis-server
# when none is reachable; REDIS_URL overrides both).
#
# Usage: scripts/bench-sdk.sh [--instructions]
#   BENCH_SECONDS, BENCH_RUNS, BENCH_CONNECTIONS and BENCH_ONLY tune the run
#   (see sso-client/benches/middleware.rs). --instructions counts the instructions the
#   server executes per request under callgrind instead of requests per second.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

if [[ "${1:-}" == "--instructions" ]]; then
	export BENCH_MODE=instructions
	ensure_packages valgrind
elif [[ -n "${1:-}" ]]; then
	printf 'usage: %s [--instructions]\n' "$0" >&2
	exit 2
fi
ensure_packages redis-server redis-tools python3 wrk util-linux
ensure_redis
printf '==> REDIS_URL=%s\n' "$(redact_url "$REDIS_URL")" >&2

printf '==> cargo bench -p sso-client --features testing,axum --bench middleware\n' >&2
cargo bench -p sso-client --features testing,axum --bench middleware
