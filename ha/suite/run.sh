#!/usr/bin/env bash
# The high-availability suite: builds the cluster of ARCHITECTURE.md §4 on this one Linux host
# in network namespaces (two nginx + keepalived load balancers sharing a VIP, two sso-server
# replicas, two nodes each of app1 and app2, two of app3 behind forward auth, Redis as a primary
# and a replica watched by three Sentinels, PostgreSQL and a client with several source
# addresses), then breaks it in the ways a cluster breaks and checks what users see:
#   1 ip_hash keeps a client on one node; clients spread over the nodes
#   2 an app node is SIGKILLed under a signed-in user (Redis store, then replicated store)
#   3 an sso-server dies between issuing a code and its exchange
#   4 nginx stops on the VIP holder: the VIP moves (target: requests succeed again within 1 s)
#   5 the VIP holder's link is cut: the VIP moves (target: within 1.5 s)
#   6 rolling restart of every app node (both stores): no session lost
#   7 single logout on one node of app2 ends the sessions on every node of both apps (both stores)
#   8 the Redis primary is SIGKILLed under browsing and signing-in users: Sentinel promotes the
#     replica; error pages meanwhile, nothing restarted, no session made 1 s before the kill lost
#   9 the old primary comes back as a primary: Sentinel makes it a replica, and a session ended
#     during the failover does not come back
#   10 one Sentinel down changes nothing
#   11 forward auth: signed in at app1, app3 (nginx auth_request) greets the user, no password
#   12 forward auth: logout on app2 signs app3 out (target: within 0.5 s)
#   13 forward auth: a signed-in user outside app3's allowed group gets the 403 page
#   14 PostgreSQL stops for a few seconds: signed-in users keep their pages and sign in to the
#      other app silently, a new password sign-in is asked to try again, a logout ends the
#      center session at once and reaches the other app once PostgreSQL is back
# It prints PASS or FAIL per scenario with what it measured, then "N passed, N failed", and
# exits non-zero when any failed. Everything it starts, every namespace and every temporary
# file is removed on exit, whether the scenarios passed or not.
#
# Usage: sudo ha/suite/run.sh
#
# Needs root (namespaces, and PostgreSQL runs as the postgres user) and: iproute2, nginx,
# keepalived, redis-server, redis-tools, postgresql, curl, openssl, gettext-base (envsubst),
# python3 (app3).
#
# Environment:
#   HA_BIN_DIR    directory holding sso-server and subsystem-demo; when unset they are built
#                 with `cargo build` and taken from the workspace's target/debug
#   HA_LOGS_DIR   when set, every service's log and each scenario's log are copied there on exit
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export LC_ALL=C

SUITE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SUITE/../.." && pwd)
DOMAIN=example.test

if ((EUID != 0)); then
	printf 'run.sh: needs root (network namespaces); try: sudo %s\n' "$0" >&2
	exit 2
fi
for command in ip nginx keepalived redis-server redis-cli curl openssl envsubst runuser pgrep \
	python3; do
	command -v "$command" >/dev/null || {
		printf 'run.sh: %s is missing (see the header of this script)\n' "$command" >&2
		exit 2
	}
done
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || {
	printf 'run.sh: PostgreSQL server binaries are missing (install postgresql)\n' >&2
	exit 2
}

if [[ -n ${HA_BIN_DIR:-} ]]; then
	BIN_DIR=$HA_BIN_DIR
else
	# --offline: the suite contacts nothing outside its own namespaces.
	(cd "$REPO" && cargo build --quiet --offline -p sso-server -p subsystem-demo)
	BIN_DIR=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
		sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug
fi

# A name prefix of our own for the namespaces, so that runs never meet each other or anything
# else on the host.
PREFIX=ha$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
RUN=$(mktemp -d "${TMPDIR:-/tmp}/ha-suite.XXXXXX")
# The postgres user must reach its data directory below this one.
chmod 711 "$RUN"

# shellcheck source=lib/topology.sh
source "$SUITE/lib/topology.sh"
# shellcheck source=lib/cluster.sh
source "$SUITE/lib/cluster.sh"
# shellcheck source=lib/browser.sh
source "$SUITE/lib/browser.sh"
# shellcheck source=lib/scenarios.sh
source "$SUITE/lib/scenarios.sh"

SCENARIO_PID=""

# Ends a process and everything it started, children first.
kill_tree() {
	local child
	for child in $(pgrep -P "$1" || true); do
		kill_tree "$child"
	done
	kill "$1" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[[ -n $SCENARIO_PID ]] && kill_tree "$SCENARIO_PID"
	cluster_down
	net_down
	if [[ -n ${HA_LOGS_DIR:-} ]]; then
		mkdir -p "$HA_LOGS_DIR" && cp -r -- "$RUN/logs/." "$HA_LOGS_DIR/"
		cp -- "$RUN/pg/postgres.log" "$HA_LOGS_DIR/pg.log" 2>/dev/null
		for lb in "${LBS[@]}"; do
			cp -- "$RUN/$lb/logs/access.log" "$HA_LOGS_DIR/nginx-$lb-access.log" 2>/dev/null
			cp -- "$RUN/$lb/logs/error.log" "$HA_LOGS_DIR/nginx-$lb-error.log" 2>/dev/null
		done
	fi
	rm -rf -- "$RUN"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$RUN/logs" "$RUN/pid" "$RUN/apps" "$RUN/browsers"

# Certificates for sso., app1. and app2.$DOMAIN from the deployment's own script.
CERT_DIR=$RUN/tls
bash "$REPO/nginx/make-certs.sh" "$CERT_DIR" "$DOMAIN"

declare -A SECRETS=(
	[password]=$(openssl rand -hex 12)
	[key-encryption]=$(openssl rand -base64 32)
)
for app in app1 app2; do
	SECRETS[$app-client]=$(openssl rand -hex 32)
	SECRETS[$app-login-key]=$(openssl rand -base64 32)
	SECRETS[$app-replication]=$(openssl rand -hex 32)
done
# keepalived runs its check only from a path that nobody but root can write to, all the way up
# (enable_script_security); a checkout owned by a user is not such a path, /tmp/… is.
CHECK_SCRIPT=$RUN/check_nginx.sh
install -m 0755 -- "$REPO/nginx/check_nginx.sh" "$CHECK_SCRIPT"

log "namespaces $PREFIX-*, run directory $RUN"
net_up
cluster_up

passed=0
failed=0
RESULT=$RUN/result

# run_scenario TITLE FUNCTION: runs FUNCTION in a subshell of its own with errexit (in the
# background and waited for, so errexit is not switched off by a calling condition), then
# prints PASS or FAIL with its figures.
run_scenario() {
	local title=$1 fn=$2 log_file figures reason ok
	log_file=$RUN/logs/scenario-$((passed + failed + 1)).log
	: >"$RESULT"
	log "scenario: $title"
	(
		trap stop_loops EXIT
		# An unexpected failure names the command in the log (errtrace: inside functions too).
		set -E
		trap 'log "failed: $BASH_COMMAND (${BASH_SOURCE[0]##*/} line $LINENO)"' ERR
		ensure_up
		"$fn"
	) >"$log_file" 2>&1 &
	SCENARIO_PID=$!
	if wait "$SCENARIO_PID"; then
		ok=1
		passed=$((passed + 1))
		printf 'PASS  %s\n' "$title"
	else
		ok=0
		failed=$((failed + 1))
		printf 'FAIL  %s\n' "$title"
	fi
	SCENARIO_PID=""
	figures=$(grep -v '^REASON ' "$RESULT" || true)
	reason=$(sed -n 's/^REASON //p' "$RESULT")
	[[ -z $figures ]] || printf '      %s\n' "${figures//$'\n'/$'\n'      }"
	if [[ -n $reason ]]; then
		printf '      reason: %s\n' "$reason"
	elif ((ok == 0)); then
		printf '      last lines of its log:\n'
		tail -n 5 "$log_file" | sed 's/^/        /'
	fi
}

started=$SECONDS
run_scenario "1 ip_hash: sticky per client, spread over clients" scenario_stickiness
run_scenario "2 SIGKILL of an app node under a signed-in user (Redis store)" scenario_app_node_killed
run_scenario "3 SIGKILL of an sso-server between code and exchange" scenario_center_node_killed
run_scenario "4 nginx stops on the VIP holder: VIP failover" scenario_vip_failover
run_scenario "5 the VIP holder's link is cut: VIP failover" scenario_vip_link_cut
run_scenario "6 rolling restart of every app node (Redis store)" scenario_rolling_restart
run_scenario "7 single logout across every node (Redis store)" scenario_single_logout
run_scenario "8 SIGKILL of the Redis primary under browsing and signing-in users" \
	scenario_redis_primary_killed
run_scenario "9 the old Redis primary returns: a replica, nothing lost or resurrected" \
	scenario_old_primary_returns
run_scenario "10 one Sentinel down changes nothing" scenario_one_sentinel_down
run_scenario "11 forward auth: SSO from app1 to app3 without a password" scenario_app3_sso
run_scenario "12 forward auth: logout on app2 signs app3 out within 0.5 s" \
	scenario_app3_single_logout
run_scenario "13 forward auth: a user outside app3's group gets 403" scenario_app3_forbidden
run_scenario "14 PostgreSQL stops for a few seconds" scenario_database_down

log "switching the apps to the replicated session store"
use_app_backend replicated
run_scenario "2 SIGKILL of an app node under a signed-in user (replicated store)" \
	scenario_app_node_killed
run_scenario "6 rolling restart of every app node (replicated store)" scenario_rolling_restart
run_scenario "7 single logout across every node (replicated store)" scenario_single_logout

log "scenarios took $((SECONDS - started)) s"
printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
