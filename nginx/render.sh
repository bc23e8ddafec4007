#!/usr/bin/env bash
# Renders the nginx and keepalived templates of this directory into OUT_DIR, from LB_*
# environment variables. The load-balancer container and the tests both use it, with their
# own addresses.
#
# Usage: nginx/render.sh OUT_DIR
#
# Writes OUT_DIR/nginx.conf and OUT_DIR/keepalived.conf and creates OUT_DIR/logs and
# OUT_DIR/temp. OUT_DIR is the nginx prefix: run nginx -p OUT_DIR -c OUT_DIR/nginx.conf.
#
# Required:
#   LB_SSO_SERVERS, LB_APP1_SERVERS, LB_APP2_SERVERS
#                        space-separated HOST:PORT of the nodes of each upstream
#   LB_TLS_CERT, LB_TLS_KEY
#                        certificate chain and key for the three names (nginx/make-certs.sh)
#   LB_VIP               virtual IP with prefix length, e.g. 10.77.0.10/24
#   LB_INTERFACE         interface the VIP and VRRP adverts go on, e.g. eth0
#   LB_PRIORITY          VRRP priority of this box (1-254), different on the two boxes
# Optional (default):
#   LB_DOMAIN (example.test)      names served: sso., app1., app2. under it
#   LB_APP3_SERVERS ()            space-separated HOST:PORT of app3's nodes: when set, app3.
#                                 under LB_DOMAIN is served too, protected by forward auth
#                                 (app3.conf.template; the snippets are copied beside nginx.conf)
#   LB_HTTP_PORT (80), LB_HTTPS_PORT (443)
#   LB_REAL_IP_FROM ()            space-separated addresses/CIDRs of proxies in front whose
#                                 X-Forwarded-For is believed
#   LB_MAX_FAILS (2), LB_FAIL_TIMEOUT (5s)   per upstream node
#   LB_UPSTREAM_KEEPALIVE (16)    idle upstream connections kept per worker
#   LB_NGINX_USER (www-data), LB_NGINX_PID (OUT_DIR/nginx.pid)
#   LB_ROUTER_ID (hostname), LB_VRID (51)
#   LB_UNICAST_SRC_IP, LB_UNICAST_PEERS ()    both or neither: unicast VRRP
#   LB_ADVERT_INT (0.2)           seconds between VRRP adverts (VRRP version 3: down to 0.01)
#   LB_TRACK_FILE ()              file supervise_nginx.sh writes 0 (nginx runs) or 1 (it
#                                 exited) into: keepalived tracks it (track_file) and gives up
#                                 the VIP the moment nginx exits
#   LB_TRACK_PROCESS ()           name of the nginx processes keepalived counts from the
#                                 kernel's process events (track_process): the VIP goes when
#                                 the last one exits. Only where keepalived runs in the host's
#                                 network namespace: the events reach no other
#   LB_CHECK_SCRIPT (check_nginx.sh beside this script). keepalived runs it only when the
#                                 file and every directory above it are writable by root
#                                 alone (enable_script_security); copy it elsewhere if not.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() {
	printf 'render.sh: %s\n' "$*" >&2
	exit 1
}

if (($# != 1)) || [[ $1 == -h || $1 == --help ]]; then
	usage >&2
	exit 2
fi
out_dir=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

missing=()
for name in LB_SSO_SERVERS LB_APP1_SERVERS LB_APP2_SERVERS LB_TLS_CERT LB_TLS_KEY \
	LB_VIP LB_INTERFACE LB_PRIORITY; do
	[[ -n ${!name:-} ]] || missing+=("$name")
done
((${#missing[@]} == 0)) || die "not set: ${missing[*]}"

if ! [[ $LB_PRIORITY =~ ^[0-9]+$ ]] || ((LB_PRIORITY < 1 || LB_PRIORITY > 254)); then
	die "LB_PRIORITY must be 1-254, not '$LB_PRIORITY'"
fi
[[ $LB_VIP == */* ]] || die "LB_VIP needs a prefix length, e.g. 10.77.0.10/24"
[[ -z ${LB_VRRP_AUTH_PASS:-} ]] ||
	die "LB_VRRP_AUTH_PASS: VRRP version 3 has no authentication; unset it"

mkdir -p -- "$out_dir/logs" "$out_dir/temp"
out_dir=$(cd "$out_dir" && pwd)

export LB_DOMAIN=${LB_DOMAIN:-example.test}
export LB_HTTP_PORT=${LB_HTTP_PORT:-80}
export LB_HTTPS_PORT=${LB_HTTPS_PORT:-443}
export LB_UPSTREAM_KEEPALIVE=${LB_UPSTREAM_KEEPALIVE:-16}
export LB_NGINX_USER=${LB_NGINX_USER:-www-data}
export LB_NGINX_PID=${LB_NGINX_PID:-$out_dir/nginx.pid}
export LB_ROUTER_ID=${LB_ROUTER_ID:-$HOSTNAME}
export LB_VRID=${LB_VRID:-51}
export LB_ADVERT_INT=${LB_ADVERT_INT:-0.2}
max_fails=${LB_MAX_FAILS:-2}
fail_timeout=${LB_FAIL_TIMEOUT:-5s}
check_script=${LB_CHECK_SCRIPT:-$here/check_nginx.sh}

# "server HOST:PORT max_fails=N fail_timeout=T;" lines of one upstream block.
server_lines() {
	local var=$1 node lines=""
	for node in ${!var}; do
		[[ $node == *:* ]] || die "$var: '$node' is not HOST:PORT"
		lines+="        server $node max_fails=$max_fails fail_timeout=$fail_timeout;"$'\n'
	done
	printf '%s' "${lines%$'\n'}"
}
LB_SSO_SERVER_LINES=$(server_lines LB_SSO_SERVERS)
LB_APP1_SERVER_LINES=$(server_lines LB_APP1_SERVERS)
LB_APP2_SERVER_LINES=$(server_lines LB_APP2_SERVERS)

# app3: its own file, included only when it has nodes.
LB_APP3_INCLUDE_LINE=""
LB_APP3_SERVER_LINES=""
if [[ -n ${LB_APP3_SERVERS:-} ]]; then
	LB_APP3_SERVER_LINES=$(server_lines LB_APP3_SERVERS)
	LB_APP3_INCLUDE_LINE="    include app3.conf;"
fi

LB_REAL_IP_FROM_LINES=""
for source in ${LB_REAL_IP_FROM:-}; do
	LB_REAL_IP_FROM_LINES+="    set_real_ip_from $source;"$'\n'
done
LB_REAL_IP_FROM_LINES=${LB_REAL_IP_FROM_LINES%$'\n'}

# The redirect from HTTP names the HTTPS port unless it is the default one.
LB_HTTPS_PORT_SUFFIX=""
[[ $LB_HTTPS_PORT == 443 ]] || LB_HTTPS_PORT_SUFFIX=":$LB_HTTPS_PORT"

LB_CHECK_COMMAND="$check_script $LB_NGINX_PID http://127.0.0.1:$LB_HTTP_PORT/nginx-health"

LB_UNICAST_BLOCK=""
if [[ -n ${LB_UNICAST_SRC_IP:-} || -n ${LB_UNICAST_PEERS:-} ]]; then
	[[ -n ${LB_UNICAST_SRC_IP:-} && -n ${LB_UNICAST_PEERS:-} ]] ||
		die "set both LB_UNICAST_SRC_IP and LB_UNICAST_PEERS, or neither"
	LB_UNICAST_BLOCK="    unicast_src_ip $LB_UNICAST_SRC_IP"$'\n'"    unicast_peer {"
	for peer in $LB_UNICAST_PEERS; do
		LB_UNICAST_BLOCK+=$'\n'"        $peer"
	done
	LB_UNICAST_BLOCK+=$'\n'"    }"
fi

[[ ${LB_ADVERT_INT:-0.2} =~ ^[0-9]+(\.[0-9]{1,2})?$ ]] ||
	die "LB_ADVERT_INT must be seconds with at most two decimals, not '$LB_ADVERT_INT'"

# What tells keepalived at once that nginx is gone: the definitions, and their use in the VRRP
# instance.
LB_TRACK_BLOCK=""
LB_TRACK_USE=""
if [[ -n ${LB_TRACK_FILE:-} ]]; then
	[[ $LB_TRACK_FILE == /* && $LB_TRACK_FILE != *[[:space:]\"]* ]] ||
		die "LB_TRACK_FILE must be an absolute path without spaces or quotes"
	LB_TRACK_BLOCK+=$'track_file nginx_exited {\n'"    file \"$LB_TRACK_FILE\""
	LB_TRACK_BLOCK+=$'\n    weight 0\n    init_file 1\n}\n'
	LB_TRACK_USE+=$'    track_file {\n        nginx_exited\n    }\n'
fi
if [[ -n ${LB_TRACK_PROCESS:-} ]]; then
	[[ $LB_TRACK_PROCESS =~ ^[A-Za-z0-9._-]{1,15}$ ]] ||
		die "LB_TRACK_PROCESS must be a process name of 1-15 letters, digits and . _ -"
	LB_TRACK_BLOCK+="vrrp_track_process nginx_processes {"$'\n'"    process $LB_TRACK_PROCESS"
	LB_TRACK_BLOCK+=$'\n    weight 0\n    quorum 1\n}\n'
	LB_TRACK_USE+=$'    track_process {\n        nginx_processes\n    }\n'
fi

export LB_TLS_CERT LB_TLS_KEY LB_VIP LB_INTERFACE LB_PRIORITY \
	LB_SSO_SERVER_LINES LB_APP1_SERVER_LINES LB_APP2_SERVER_LINES LB_REAL_IP_FROM_LINES \
	LB_APP3_SERVER_LINES LB_APP3_INCLUDE_LINE \
	LB_HTTPS_PORT_SUFFIX LB_CHECK_COMMAND LB_UNICAST_BLOCK LB_TRACK_BLOCK LB_TRACK_USE

# Only the ${LB_…} placeholders are replaced: nginx's own $host, $remote_addr … stay as written.
render() {
	local template=$1 target=$2 placeholders placeholder name
	# shellcheck disable=SC2016 # a literal ${LB_…} pattern
	mapfile -t placeholders < <(grep -o '\${LB_[A-Z0-9_]*}' "$template" | sort -u)
	for placeholder in "${placeholders[@]}"; do
		name=${placeholder:2:-1}
		[[ -n ${!name+set} ]] || die "$template uses $placeholder, which nothing sets"
	done
	envsubst "${placeholders[*]}" <"$template" >"$target.tmp"
	mv -- "$target.tmp" "$target"
}
if [[ -n ${LB_APP3_SERVERS:-} ]]; then
	render "$here/app3.conf.template" "$out_dir/app3.conf"
	mkdir -p -- "$out_dir/forward-auth"
	cp -- "$here"/forward-auth/*.conf "$out_dir/forward-auth/"
fi
render "$here/nginx.conf.template" "$out_dir/nginx.conf"
render "$here/keepalived.conf.template" "$out_dir/keepalived.conf"
