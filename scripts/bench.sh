#!/usr/bin/env bash
# Runs the session-store benchmarks against a real Redis (the local one, or a
# throwaway redis-server when none is reachable; REDIS_URL overrides both).
#
# Usage: scripts/bench.sh [scale] [BENCH_ARGS...]
#   scale       the stores at one million live sessions (benches/scale.rs) instead of the
#               per-operation figures (benches/store.rs)
#   BENCH_ARGS are passed to the bench binary, after `--`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

ensure_packages redis-server redis-tools python3
ensure_redis
ensure_redis_cluster
printf '==> REDIS_URL=%s\n' "$(redact_url "$REDIS_URL")" >&2

bench=store
if [[ ${1:-} == scale ]]; then
	bench=scale
	shift
fi
printf '==> cargo bench -p session-store --bench %s -- %s\n' "$bench" "$*" >&2
cargo bench -p session-store --bench "$bench" -- "$@"
