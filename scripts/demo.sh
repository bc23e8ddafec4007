#!/usr/bin/env bash
# Runs the embedded demo on this machine: the SSO center and two demo apps, with in-memory
# session stores and a SQLite user store (no Redis or PostgreSQL needed).
#
#   http://sso.localhost:8080    the center (sign in here once)
#   http://app1.localhost:8081   demo app 1
#   http://app2.localhost:8082   demo app 2
#
# Browsers resolve *.localhost to this machine, so this is a real cross-subdomain setup.
# Ports: CENTER_PORT, APP1_PORT, APP2_PORT. Demo password: DEMO_PASSWORD (default: generated).
# Data (users, signing keys) is kept in .data/demo/ between runs. Ctrl-C stops everything.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

sso_port="${CENTER_PORT:-8080}"
app1_port="${APP1_PORT:-8081}"
app2_port="${APP2_PORT:-8082}"
data_dir="$PWD/.data/demo"
mkdir -p "$data_dir"

echo "==> building (release)" >&2
cargo build --release --locked -p sso-server -p subsystem-demo
bin="$PWD/target/release"

pids=()
stop_all() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

wait_ready() { # url name
	for _ in $(seq 1 100); do
		if curl -fs -o /dev/null "$1"; then
			return 0
		fi
		sleep 0.1
	done
	echo "error: $2 did not become ready at $1" >&2
	exit 1
}

password="${DEMO_PASSWORD:-$(head -c 12 /dev/urandom | base64 | tr -d '+/=')}"

echo "==> starting the center on http://sso.localhost:$sso_port" >&2
SSO_ISSUER="http://sso.localhost:$sso_port" \
	SSO_HTTP__PORT="$sso_port" \
	SSO_DATABASE__URL="sqlite://$data_dir/sso.db?mode=rwc" \
	SSO_DEMO__APP_PORTS="[$app1_port, $app2_port]" \
	DEMO_PASSWORD="$password" \
	"$bin/sso-server" serve --demo &
pids+=($!)
wait_ready "http://127.0.0.1:$sso_port/readyz" "the center"

for app in 1 2; do
	port_var="app${app}_port"
	port="${!port_var}"
	echo "==> starting app$app on http://app$app.localhost:$port" >&2
	DEMO_APP_NAME="app$app" \
		DEMO_APP_HTTP__PORT="$port" \
		DEMO_APP_SSO__ISSUER="http://sso.localhost:$sso_port" \
		DEMO_APP_SSO__CLIENT_SECRET="app$app-demo-secret" \
		"$bin/subsystem-demo" &
	pids+=($!)
	wait_ready "http://127.0.0.1:$port/health" "app$app"
done

cat <<EOF

  The demo is running. Open in a browser on this machine:

    http://app1.localhost:$app1_port    demo app 1
    http://app2.localhost:$app2_port    demo app 2 (signed in without a password once app 1 is)
    http://sso.localhost:$sso_port     the SSO center

  Sign in as alice or bob with password: $password
  Sign out in either app to sign out of both. Ctrl-C stops the demo.

EOF
wait -n
