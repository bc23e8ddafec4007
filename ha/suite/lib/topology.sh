# shellcheck shell=bash
# The network of the suite: one network namespace per host, each with one veth into a bridge
# that lives in a namespace of its own. Nothing is added to the host's own network, and the
# private range below only exists inside these namespaces.
#
# Needs (from run.sh): PREFIX, RUN, DOMAIN. Provides: HOSTS, IP, VIP, CLIENT_SOURCES, ns,
# in_ns, net_up, links_up, net_down.

# Every host of the cluster, and the client that plays the browsers.
# Redis runs as a primary and a replica on boxes of their own, watched by three Sentinels on
# three more.
HOSTS=(lb1 lb2 sso1 sso2 app1a app1b app2a app2b app3a app3b redis1 redis2 sentinel1 sentinel2
	sentinel3 pg client)
declare -A IP=(
	[lb1]=10.213.0.11 [lb2]=10.213.0.12
	[sso1]=10.213.0.21 [sso2]=10.213.0.22
	[app1a]=10.213.0.31 [app1b]=10.213.0.32
	[app2a]=10.213.0.41 [app2b]=10.213.0.42
	[app3a]=10.213.0.61 [app3b]=10.213.0.62
	[redis1]=10.213.0.51 [redis2]=10.213.0.53 [pg]=10.213.0.52
	[sentinel1]=10.213.0.56 [sentinel2]=10.213.0.57 [sentinel3]=10.213.0.58
	[client]=10.213.1.1
)
VIP=10.213.0.10
PREFIX_LEN=16
# The client's source addresses. ip_hash keys on the first three octets of an IPv4 address, so
# each address sits in a /24 of its own: otherwise they would all land on one node.
CLIENT_SOURCES=(10.213.1.1 10.213.2.1 10.213.3.1 10.213.4.1 10.213.5.1 10.213.6.1)

# The namespaces this run made, for net_down, and whether it made /etc/netns itself.
CREATED_NS=()
CREATED_ETC_NETNS=""

ns() {
	printf '%s-%s' "$PREFIX" "$1"
}

# in_ns HOST COMMAND...: runs COMMAND in HOST's namespace.
in_ns() {
	local host=$1
	shift
	ip netns exec "$(ns "$host")" "$@"
}

_add_ns() {
	ip netns add "$1"
	CREATED_NS+=("$1")
	ip -n "$1" link set lo up
}

net_up() {
	local bridge host source
	bridge=$(ns br)
	_add_ns "$bridge"
	ip -n "$bridge" link add br0 type bridge
	ip -n "$bridge" link set br0 up
	for host in "${HOSTS[@]}"; do
		_add_ns "$(ns "$host")"
		ip -n "$bridge" link add "$host" type veth peer name eth0 netns "$(ns "$host")"
		ip -n "$bridge" link set "$host" master br0 up
		ip -n "$(ns "$host")" addr add "${IP[$host]}/$PREFIX_LEN" dev eth0
		ip -n "$(ns "$host")" link set eth0 up
	done
	for source in "${CLIENT_SOURCES[@]}"; do
		[[ $source == "${IP[client]}" ]] ||
			ip -n "$(ns client)" addr add "$source/$PREFIX_LEN" dev eth0
	done
	# The center and the apps call each other by their public names, through the VIP, as they
	# would in production. `ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts.
	[[ -d /etc/netns ]] || CREATED_ETC_NETNS=1
	for host in sso1 sso2 app1a app1b app2a app2b; do
		mkdir -p "/etc/netns/$(ns "$host")"
		printf '127.0.0.1 localhost\n%s sso.%s app1.%s app2.%s\n' \
			"$VIP" "$DOMAIN" "$DOMAIN" "$DOMAIN" >"/etc/netns/$(ns "$host")/hosts"
	done
}

# Puts every host's link into the bridge up again (a scenario may have cut one).
links_up() {
	local host
	for host in "${HOSTS[@]}"; do
		ip -n "$(ns br)" link set "$host" up
	done
}

# Kills whatever still runs in our namespaces (they are ours alone), then deletes them.
net_down() {
	local name pids
	for name in "${CREATED_NS[@]}"; do
		pids=$(ip netns pids "$name" 2>/dev/null || true)
		if [[ -n $pids ]]; then
			# shellcheck disable=SC2086 # one pid per word
			kill -KILL $pids 2>/dev/null || true
		fi
	done
	for name in "${CREATED_NS[@]}"; do
		ip netns delete "$name" 2>/dev/null || true
		rm -rf -- "/etc/netns/$name"
	done
	CREATED_NS=()
	[[ -z $CREATED_ETC_NETNS ]] || rmdir /etc/netns 2>/dev/null || true
}
