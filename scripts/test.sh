#!/usr/bin/env bash
# Runs every check of the workspace: formatting, clippy and the full test
# suite against a real Redis and a real PostgreSQL. On a fresh Debian/Ubuntu
# machine with Rust installed this is the one command to run; it installs
# what is missing (as root) and starts throwaway services when none are
# reachable. See `scripts/test.sh --help` for the options.
#
# Environment: REDIS_URL / DATABASE_URL, when set, are used as they are
# instead of the local or throwaway services.
set -euo pipefail

# Debian packages the tests need: the services the Rust tests talk to, the
# browser the end-to-end tests drive, the load-balancer tier the deployment
# checks and the high-availability suite run (nginx, keepalived, openssl,
# envsubst, iproute2 for network namespaces), and the Compose schema check
# (python3-yaml, -jsonschema).
PACKAGES=(
	redis-server redis-tools postgresql postgresql-client python3 curl libssl-dev pkg-config
	chromium chromium-driver
	nginx keepalived openssl gettext-base python3-yaml python3-jsonschema iproute2 prometheus
)

usage() {
	cat <<'EOF'
Usage: scripts/test.sh [--no-lint] [-- CARGO_TEST_ARGS...]
  --no-lint   skip `cargo fmt` and `cargo clippy` (fast local iteration)
  -- ARGS     passed on to `cargo test`, e.g. `-- redis -- --nocapture`
EOF
}

lint=1
test_args=()
while (($# > 0)); do
	case $1 in
	--no-lint) lint=0 ;;
	--)
		shift
		test_args=("$@")
		break
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		printf 'unknown argument: %s\n' "$1" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
locked=()
if [[ -f Cargo.lock ]]; then
	locked=(--locked)
fi

step() { printf '\n==> %s\n' "$*" >&2; }

step "services"
ensure_packages "${PACKAGES[@]}"
ensure_redis
ensure_redis_cluster
ensure_postgres
printf '    REDIS_URL=%s\n' "$(redact_url "$REDIS_URL")" >&2
printf '    DATABASE_URL=%s\n' "$(redact_url "$DATABASE_URL")" >&2
printf '    REDIS_SERVER_BIN=%s\n' "$REDIS_SERVER_BIN" >&2
if [[ -n ${REDIS_SENTINEL_BIN:-} ]]; then
	printf '    REDIS_SENTINEL_BIN=%s\n' "$REDIS_SENTINEL_BIN" >&2
fi

if ((lint)); then
	# A minimal rustup profile lacks these components.
	if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
		step "rustup component add rustfmt clippy"
		rustup component add rustfmt clippy
	fi
	step "cargo fmt --all --check"
	cargo fmt --all --check
	step "cargo clippy --workspace --all-targets ${locked[*]} -- -D warnings"
	cargo clippy --workspace --all-targets "${locked[@]}" -- -D warnings
fi

drop_test_databases
step "cargo test --workspace ${locked[*]} ${test_args[*]}"
cargo test --workspace "${locked[@]}" "${test_args[@]}"
drop_test_databases

# The run above gives the center PostgreSQL (DATABASE_URL); its integration tests run again
# on SQLite, the embedded default, so both user stores are covered.
step "cargo test -p sso-server --test api on SQLite"
env -u DATABASE_URL cargo test -p sso-server --test api "${locked[@]}" "${test_args[@]}"

step "deployment configs (ha/validate.sh)"
bash ha/validate.sh

# The cluster in network namespaces: nginx + keepalived with a VIP, two centers, two nodes per
# app, Redis and PostgreSQL, broken in the ways a cluster breaks (needs root).
step "high-availability suite (ha/suite/run.sh)"
bash ha/suite/run.sh

step "all checks passed"
