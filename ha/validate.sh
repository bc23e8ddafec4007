#!/usr/bin/env bash
# Checks the deployment files without a Docker engine:
#   - docker-compose.yml is valid against the Compose Specification JSON schema, and every file
#     it references (build contexts, Dockerfiles and what they copy, bind mounts, env files)
#     exists;
#   - the nginx and keepalived templates render, with test values and with the environment of
#     the compose file's load balancers, into files that `nginx -t` and
#     `keepalived --config-test` accept;
#   - every shell script under nginx/, docker/ and ha/ parses (bash -n), and keepalived's check
#     script is executable;
#   - the compose demo's Prometheus configuration passes `promtool check config` and scrapes
#     every center and app node that serves metrics, and the Grafana dashboard parses and queries
#     only series the code records (ha/metrics_check.py).
# Prints PASS or FAIL per check, then "N passed, N failed"; exits non-zero when any failed.
#
# Needs: nginx, keepalived, openssl, gettext-base (envsubst), python3-yaml, python3-jsonschema,
# prometheus (promtool).
# Environment: COMPOSE_SPEC_SCHEMA, the schema file to use instead of the copy in
# ha/compose-spec/.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
schema=${COMPOSE_SPEC_SCHEMA:-$repo/ha/compose-spec/compose-spec.json}
compose=$repo/docker-compose.yml

work=$(mktemp -d "${TMPDIR:-/tmp}/ha-validate.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

passed=0
failed=0
# check NAME COMMAND...: runs COMMAND, prints PASS/FAIL NAME, and on failure its output.
check() {
	local name=$1 log=$work/check.log
	shift
	if "$@" >"$log" 2>&1; then
		printf 'PASS %s\n' "$name"
		passed=$((passed + 1))
	else
		printf 'FAIL %s\n' "$name"
		sed 's/^/    /' "$log"
		failed=$((failed + 1))
	fi
}

# Debian's python3 is where python3-yaml and python3-jsonschema are; another python3 earlier in
# PATH may lack them.
python=python3
for candidate in /usr/bin/python3 python3; do
	if command -v "$candidate" >/dev/null &&
		"$candidate" -c 'import yaml, jsonschema' 2>/dev/null; then
		python=$candidate
		break
	fi
done
compose_check() { "$python" "$repo/ha/compose_check.py" "$@"; }
metrics_check() { "$python" "$repo/ha/metrics_check.py" "$@"; }

check "running as root (nginx -t binds the listen ports, keepalived vets its scripts as root)" \
	test "$EUID" -eq 0
check "compose file matches the Compose Specification schema" \
	compose_check schema "$compose" "$schema"
check "compose file references only files that exist" compose_check files "$compose"
check "promtool check config accepts docker/prometheus/prometheus.yml" \
	promtool check config "$repo/docker/prometheus/prometheus.yml"
check "Prometheus scrapes every center and app node that serves metrics" \
	metrics_check targets "$compose" "$repo/docker/prometheus/prometheus.yml"
check "the Grafana dashboard parses and queries only series the code records" \
	metrics_check dashboard "$repo/docker/grafana/dashboards/sso.json" "$repo"

# keepalived checks that the interface exists; any interface but the loopback will do.
test_interface=""
for path in /sys/class/net/*; do
	[[ ${path##*/} == lo ]] && continue
	test_interface=${path##*/}
	break
done

certs=$work/certs
check "make-certs.sh makes a certificate for the demo names" \
	bash "$repo/nginx/make-certs.sh" "$certs" example.test

# render_variant NAME [VAR=VALUE...]: renders the templates into $work/NAME from the given
# variables only (LB_* variables of the caller's environment are dropped), with the test
# certificate, interface and pid file.
render_variant() {
	local name=$1 inherited=()
	shift
	mapfile -t inherited < <(compgen -e | sed -n 's/^LB_/--unset=&/p')
	env ${inherited[@]+"${inherited[@]}"} "$@" \
		LB_TLS_CERT="$certs/server.pem" LB_TLS_KEY="$certs/server.key" \
		LB_INTERFACE="$test_interface" LB_NGINX_PID="$work/$name/nginx.pid" \
		bash "$repo/nginx/render.sh" "$work/$name"
}

nginx_test() {
	nginx -t -q -p "$work/$1" -c "$work/$1/nginx.conf" -e "$work/$1/logs/error.log"
}

keepalived_test() {
	local file=$work/$1/keepalived.conf
	if [[ -z $test_interface ]]; then
		echo "no network interface other than lo to check the VRRP instance against"
		return 1
	fi
	# keepalived reports a missing file as a pass.
	[[ -f $file ]] || {
		echo "$file was not rendered"
		return 1
	}
	keepalived --config-test -f "$file"
}

# Test addresses from the documentation ranges; nothing is contacted.
minimal=(
	LB_SSO_SERVERS="192.0.2.21:8080"
	LB_APP1_SERVERS="192.0.2.31:8080"
	LB_APP2_SERVERS="192.0.2.41:8080"
	LB_VIP=192.0.2.10/24
	LB_PRIORITY=100
)
everything=(
	LB_SSO_SERVERS="192.0.2.21:8080 192.0.2.22:8080"
	LB_APP1_SERVERS="192.0.2.31:8080 192.0.2.32:8080"
	LB_APP2_SERVERS="192.0.2.41:8080 192.0.2.42:8080"
	LB_APP3_SERVERS="192.0.2.51:8080 192.0.2.52:8080"
	LB_VIP=192.0.2.10/24
	LB_PRIORITY=150
	LB_DOMAIN=example.test
	LB_HTTP_PORT=8080
	LB_HTTPS_PORT=8443
	LB_REAL_IP_FROM="198.51.100.0/24 203.0.113.7"
	LB_MAX_FAILS=3
	LB_FAIL_TIMEOUT=5s
	LB_UPSTREAM_KEEPALIVE=8
	LB_ROUTER_ID=lb-test
	LB_VRID=42
	LB_UNICAST_SRC_IP=192.0.2.11
	LB_UNICAST_PEERS=192.0.2.12
	LB_ADVERT_INT=0.3
	LB_TRACK_FILE=/run/lb/nginx.exited
	LB_TRACK_PROCESS=nginx
)

variants=(minimal everything)
check "render.sh renders the minimal settings" render_variant minimal "${minimal[@]}"
check "render.sh renders every option" render_variant everything "${everything[@]}"
# render_service SERVICE: renders with the environment of a service of the compose file.
render_service() {
	local service_env=()
	compose_check env "$compose" "$1" >"$work/$1.env" || return 1
	mapfile -d '' service_env <"$work/$1.env"
	render_variant "$1" ${service_env[@]+"${service_env[@]}"}
}

for service in lb1 lb2; do
	check "render.sh renders the environment of compose service $service" render_service "$service"
	variants+=("$service")
done

for variant in "${variants[@]}"; do
	check "nginx -t accepts the $variant rendering" nginx_test "$variant"
	check "keepalived --config-test accepts the $variant rendering" keepalived_test "$variant"
done

check "nginx/check_nginx.sh is executable (keepalived runs it directly)" \
	test -x "$repo/nginx/check_nginx.sh"
check "nginx/supervise_nginx.sh is executable (the load-balancer image runs it directly)" \
	test -x "$repo/nginx/supervise_nginx.sh"
mapfile -t scripts < <(find "$repo/nginx" "$repo/docker" "$repo/ha" -name '*.sh' -type f | sort)
for script in "${scripts[@]}"; do
	check "bash -n ${script#"$repo"/}" bash -n "$script"
done

printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
