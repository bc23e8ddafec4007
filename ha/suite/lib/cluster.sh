# shellcheck shell=bash
# The services of the cluster: PostgreSQL, Redis (a primary, a replica and three Sentinels), two
# sso-server replicas, two nodes each of app1 and app2, two of app3 (Python, behind forward auth
# at the load balancers) and two load balancers (nginx + keepalived) rendered from nginx/.
#
# Every service has a name (redis1, sentinel1, sso1, app1a, nginx-lb1, keepalived-lb1, …) and a
# pid file
# under $RUN/pid, so that scenarios, which run in subshells, can stop and restart services and
# the cleanup still finds them.
#
# Needs (from run.sh): REPO, RUN, BIN_DIR, DOMAIN, CERT_DIR, SECRETS (an associative array)
# and lib/topology.sh.

APP_NODES=(app1a app1b app2a app2b)
APP3_NODES=(app3a app3b)
SSO_NODES=(sso1 sso2)
LBS=(lb1 lb2)
HTTP_PORT=8080
REPLICATION_PORT=7000
REDIS_NODES=(redis1 redis2)
SENTINELS=(sentinel1 sentinel2 sentinel3)
# The name the Sentinels monitor the primary under, and where the center and the apps ask them.
SENTINEL_SERVICE=sessions
SENTINEL_PORT=26379
SENTINEL_URLS=""
for node in "${SENTINELS[@]}"; do
	SENTINEL_URLS+="${SENTINEL_URLS:+, }\"redis://${IP[$node]}:$SENTINEL_PORT\""
done
unset node
DATABASE_URL=postgres://postgres@${IP[pg]}:5432/postgres

log() {
	printf '[%(%T)T] %s\n' -1 "$*" >&2
}

# The app (app1, app2) a node belongs to.
app_of() {
	printf '%s' "${1%[ab]}"
}

pid_file() {
	case $1 in
	pg) printf '%s' "$RUN/pg/data/postmaster.pid" ;;
	nginx-*) printf '%s' "$RUN/${1#nginx-}/nginx.pid" ;;
	*) printf '%s' "$RUN/pid/$1" ;;
	esac
}

service_pid() {
	local file
	file=$(pid_file "$1")
	[[ -s $file ]] && head -n 1 -- "$file"
}

# Whether PID is a live process (a zombie is not).
pid_alive() {
	local stat
	[[ -n $1 ]] && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != [ZX] ]]
}

service_alive() {
	pid_alive "$(service_pid "$1" || true)"
}

# Sends SIGNAL to a service and waits (up to 10 s, then SIGKILL) until it is gone.
stop_service() {
	local name=$1 signal=${2:-TERM} pid i
	pid=$(service_pid "$name" || true)
	pid_alive "$pid" || return 0
	kill "-$signal" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# spawn NAME HOST COMMAND...: starts COMMAND in HOST's namespace in the background, logging to
# $RUN/logs/NAME.log. `ip netns exec` (called directly, not through in_ns, which would put a
# subshell in between) execs the command, so $! is the service's own pid.
spawn() {
	local name=$1 host=$2
	shift 2
	ip netns exec "$(ns "$host")" "$@" >>"$RUN/logs/$name.log" 2>&1 </dev/null &
	printf '%s\n' "$!" >"$RUN/pid/$name"
	# Not a job of this shell: killing it on purpose is no news to report.
	disown "$!"
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_until() {
	local limit=$1 what=$2 deadline
	shift 2
	deadline=$((${EPOCHREALTIME/./} + limit * 1000000))
	until "$@" >/dev/null 2>&1; do
		if ((${EPOCHREALTIME/./} > deadline)); then
			log "timed out after ${limit} s waiting for $what"
			return 1
		fi
		sleep 0.1
	done
}

# http_ok HOST URL: a plain-HTTP GET from HOST's namespace answers 2xx.
http_ok() {
	in_ns "$1" curl --silent --fail --output /dev/null --max-time 2 --noproxy '*' -- "$2"
}

# ------------------------------------------------------------------ PostgreSQL and Redis

# Debian keeps initdb and pg_ctl out of PATH, in a directory per version: take the newest.
pg_bindir() {
	printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1
}

start_pg() {
	local dir=$RUN/pg bindir
	bindir=$(pg_bindir)
	mkdir -p "$dir"
	chown postgres: "$dir"
	if [[ ! -d $dir/data ]]; then
		(cd "$dir" && runuser -u postgres -- "$bindir/initdb" -D "$dir/data" -U postgres \
			--auth=trust --no-locale -E UTF8 --no-sync) >"$RUN/logs/initdb.log" 2>&1
		printf 'host all all %s/%s trust\n' "${IP[pg]}" "$PREFIX_LEN" >>"$dir/data/pg_hba.conf"
	fi
	# fsync=off: the data is thrown away, durability only costs time.
	(cd "$dir" && in_ns pg runuser -u postgres -- "$bindir/pg_ctl" -D "$dir/data" \
		-l "$dir/postgres.log" -w -t 30 -s \
		-o "-c listen_addresses=${IP[pg]} -p 5432 -c unix_socket_directories=$dir -c fsync=off" \
		start)
}

# start_redis NODE [ROLE]: starts Redis on NODE as the replica of the primary the Sentinels name
# (ROLE auto, the default; as a primary when they name none or NODE itself) or as a primary
# (ROLE primary: how a box whose configuration Sentinel could not rewrite comes back). The
# append-only file brings its data back after a restart.
start_redis() {
	local node=$1 role=${2:-auto} primary="" replicaof=()
	if [[ $role == auto ]]; then
		primary=$(redis_primary || true)
		[[ -n $primary ]] || primary=${REDIS_NODES[0]}
		[[ $primary == "$node" ]] || replicaof=(--replicaof "${IP[$primary]}" 6379)
	fi
	mkdir -p "$RUN/$node"
	spawn "$node" "$node" redis-server --bind "${IP[$node]}" --port 6379 --protected-mode no \
		--save '' --appendonly yes --appendfsync everysec --dir "$RUN/$node" \
		${replicaof[@]+"${replicaof[@]}"}
	wait_until 10 "$node" redis_pong "$node"
}

# Starts a Sentinel on NODE. Its configuration file is written once; Sentinel rewrites it with
# what it learns (the current primary, the other Sentinels), so a restarted Sentinel knows them.
# A primary unreachable for 1 s is down; two Sentinels must agree before one fails it over.
start_sentinel() {
	local node=$1 dir=$RUN/$1
	mkdir -p "$dir"
	[[ -e $dir/sentinel.conf ]] || printf '%s\n' \
		"bind ${IP[$node]}" "port $SENTINEL_PORT" "protected-mode no" "dir $dir" \
		"sentinel monitor $SENTINEL_SERVICE ${IP[${REDIS_NODES[0]}]} 6379 2" \
		"sentinel down-after-milliseconds $SENTINEL_SERVICE 1000" \
		"sentinel failover-timeout $SENTINEL_SERVICE 5000" \
		"sentinel parallel-syncs $SENTINEL_SERVICE 1" >"$dir/sentinel.conf"
	spawn "$node" "$node" redis-server "$dir/sentinel.conf" --sentinel
	wait_until 10 "$node" sentinel_says "$node" PING PONG
}

# redis_cli NODE ARGS...: redis-cli against Redis on NODE (a Sentinel's port for a Sentinel).
redis_cli() {
	local node=$1 port=6379
	shift
	[[ $node == sentinel* ]] && port=$SENTINEL_PORT
	in_ns client redis-cli -h "${IP[$node]}" -p "$port" "$@"
}

redis_pong() {
	[[ $(redis_cli "$1" ping 2>/dev/null) == PONG ]]
}

# sentinel_says NODE COMMAND... EXPECTED: the Sentinel on NODE answers COMMAND with a text
# containing EXPECTED.
sentinel_says() {
	local node=$1 expected=${*: -1}
	[[ $(redis_cli "$node" "${@:2:$#-2}" 2>/dev/null) == *"$expected"* ]]
}

# Prints the Redis node that the first Sentinel to answer names as the primary.
redis_primary() {
	local sentinel address node
	for sentinel in "${SENTINELS[@]}"; do
		address=$(redis_cli "$sentinel" SENTINEL get-master-addr-by-name "$SENTINEL_SERVICE" \
			2>/dev/null | head -n 1) || continue
		for node in "${REDIS_NODES[@]}"; do
			if [[ ${IP[$node]} == "$address" ]]; then
				printf '%s' "$node"
				return 0
			fi
		done
	done
	return 1
}

# The Redis node that is not NODE.
other_redis() {
	[[ $1 == "${REDIS_NODES[0]}" ]] && printf '%s' "${REDIS_NODES[1]}" || printf '%s' "${REDIS_NODES[0]}"
}

# redis_replica_of NODE PRIMARY: NODE replicates PRIMARY and its link is up.
redis_replica_of() {
	local info
	info=$(redis_cli "$1" INFO replication 2>/dev/null | tr -d '\r')
	[[ $info == *role:slave* && $info == *"master_host:${IP[$2]}"* &&
		$info == *master_link_status:up* ]]
}

# Redis is whole: every Sentinel names the same live primary and sees the other node as its
# replica and the other two Sentinels, and the replica's link is up.
redis_whole() {
	local primary sentinel
	primary=$(redis_primary) || return 1
	redis_pong "$primary" && redis_replica_of "$(other_redis "$primary")" "$primary" || return 1
	for sentinel in "${SENTINELS[@]}"; do
		sentinel_says "$sentinel" INFO sentinel \
			"address=${IP[$primary]}:6379,slaves=1,sentinels=${#SENTINELS[@]}" || return 1
	done
}

# ------------------------------------------------------------------ the center

# The center's configuration, the same on both replicas but for the address. Passwords are
# hashed cheaply: the suite signs many users in, and measures failover, not hashing.
sso_env() {
	printf '%s\n' \
		"SSO_ISSUER=https://sso.$DOMAIN" \
		"SSO_DATABASE__URL=$DATABASE_URL" \
		"SSO_STORE__BACKEND=redis" \
		"SSO_STORE__SENTINELS=[$SENTINEL_URLS]" \
		"SSO_STORE__SENTINEL_SERVICE=$SENTINEL_SERVICE" \
		"SSO_STORE__FORWARD_AUTH_CACHE=true" \
		"SSO_TOKENS__KEY_ENCRYPTION_KEY=${SECRETS[key-encryption]}" \
		"SSO_PASSWORD__MEMORY_KIB=1024" "SSO_PASSWORD__ITERATIONS=1" \
		"SSO_LOGIN__TRUSTED_PROXIES=[\"${IP[lb1]}\", \"${IP[lb2]}\"]" \
		"SSL_CERT_FILE=$CERT_DIR/ca.pem"
}

# sso_cli ARGS...: runs `sso-server ARGS…` against the cluster's database and store.
sso_cli() {
	local env
	mapfile -t env < <(sso_env)
	in_ns sso1 env "${env[@]}" "$BIN_DIR/sso-server" "$@"
}

# Creates the schema and keys, registers app1 and app2 under their public names and adds the
# demo user. Runs before the replicas start, so they never race to create the schema.
seed_center() {
	local app base
	for app in app1 app2; do
		base=https://$app.$DOMAIN
		sso_cli client add "$app" --name "Demo $app" \
			--redirect-uri "$base/auth/callback" \
			--post-logout-redirect-uri "$base/" \
			--backchannel-logout-uri "$base/auth/backchannel-logout" \
			--secret-stdin <<<"${SECRETS[$app-client]}"
	done
	sso_cli user add alice --name "Alice Liddell" --email "alice@$DOMAIN" \
		--password-stdin <<<"${SECRETS[password]}"
	# app3 is for staff only: alice is in it, bob is not.
	sso_cli user add bob --name "Bob Builder" --email "bob@$DOMAIN" \
		--password-stdin <<<"${SECRETS[password]}"
	sso_cli user groups alice set staff
	sso_cli user groups bob set visitors
	sso_cli forward-auth add app3 --host "app3.$DOMAIN" --allow-group staff
}

start_sso() {
	local node=$1 env
	mapfile -t env < <(sso_env)
	spawn "$node" "$node" env "${env[@]}" "SSO_HTTP__HOST=${IP[$node]}" \
		"SSO_HTTP__PORT=$HTTP_PORT" "$BIN_DIR/sso-server" serve
	wait_until 30 "$node ready" http_ok client "http://${IP[$node]}:$HTTP_PORT/readyz"
}

# ------------------------------------------------------------------ the apps

# Which session store the apps use now: redis or replicated (written by use_app_backend).
app_backend() {
	cat "$RUN/app-backend"
}

# Writes NODE's configuration file for the current backend; it holds secrets, so only root
# may read it.
write_app_config() {
	local node=$1 app peer
	app=$(app_of "$node")
	peer=${app}a
	[[ $node == "$peer" ]] && peer=${app}b
	(umask 077 && {
		printf 'name = "%s"\nnode = "%s"\n' "$app" "$node"
		printf '[http]\nhost = "%s"\nport = %s\npublic_url = "https://%s.%s"\n' \
			"${IP[$node]}" "$HTTP_PORT" "$app" "$DOMAIN"
		printf '[sso]\nissuer = "https://sso.%s"\nclient_secret = "%s"\nlogin_cookie_key = "%s"\n' \
			"$DOMAIN" "${SECRETS[$app-client]}" "${SECRETS[$app-login-key]}"
		case $(app_backend) in
		redis)
			printf '[store]\nbackend = "redis"\nsentinels = [%s]\nsentinel_service = "%s"\n' \
				"$SENTINEL_URLS" "$SENTINEL_SERVICE"
			printf 'local_cache = true\n'
			;;
		replicated)
			printf '[store]\nbackend = "replicated"\n[store.replication]\n'
			printf 'listen = "%s:%s"\nsecret = "%s"\npeers = [{ id = "%s", addr = "%s:%s" }]\n' \
				"${IP[$node]}" "$REPLICATION_PORT" "${SECRETS[$app-replication]}" \
				"$peer" "${IP[$peer]}" "$REPLICATION_PORT"
			;;
		esac
	} >"$RUN/apps/$node.toml")
}

start_app() {
	local node=$1
	write_app_config "$node"
	spawn "$node" "$node" env "SSL_CERT_FILE=$CERT_DIR/ca.pem" \
		"$BIN_DIR/subsystem-demo" --config "$RUN/apps/$node.toml"
	wait_until 15 "$node healthy" http_ok client "http://${IP[$node]}:$HTTP_PORT/health"
}

# app3 knows nothing of the center: nginx checks every request with it first.
start_app3() {
	local node=$1
	spawn "$node" "$node" python3 "$REPO/app3/app3.py" --bind "${IP[$node]}" --port "$HTTP_PORT"
	wait_until 15 "$node healthy" http_ok client "http://${IP[$node]}:$HTTP_PORT/health"
}

# use_app_backend redis|replicated: (re)starts every app node with that session store.
use_app_backend() {
	local node
	for node in "${APP_NODES[@]}"; do
		stop_service "$node"
	done
	printf '%s' "$1" >"$RUN/app-backend"
	for node in "${APP_NODES[@]}"; do
		start_app "$node"
	done
}

# ------------------------------------------------------------------ the load balancers

# Renders lb1's or lb2's nginx.conf and keepalived.conf with nginx/render.sh.
render_lb() {
	local lb=$1 peer=lb2 priority=150
	[[ $lb == lb1 ]] || {
		peer=lb1
		priority=100
	}
	LB_SSO_SERVERS="${IP[sso1]}:$HTTP_PORT ${IP[sso2]}:$HTTP_PORT" \
		LB_APP1_SERVERS="${IP[app1a]}:$HTTP_PORT ${IP[app1b]}:$HTTP_PORT" \
		LB_APP2_SERVERS="${IP[app2a]}:$HTTP_PORT ${IP[app2b]}:$HTTP_PORT" \
		LB_APP3_SERVERS="${IP[app3a]}:$HTTP_PORT ${IP[app3b]}:$HTTP_PORT" \
		LB_TLS_CERT=$CERT_DIR/server.pem LB_TLS_KEY=$CERT_DIR/server.key \
		LB_VIP=$VIP/$PREFIX_LEN LB_INTERFACE=eth0 LB_PRIORITY=$priority \
		LB_DOMAIN=$DOMAIN LB_ROUTER_ID=$lb \
		LB_UNICAST_SRC_IP=${IP[$lb]} LB_UNICAST_PEERS=${IP[$peer]} \
		LB_TRACK_FILE="$RUN/$lb/nginx.exited" \
		LB_CHECK_SCRIPT=$CHECK_SCRIPT \
		"$REPO/nginx/render.sh" "$RUN/$lb" >/dev/null
}

# nginx runs under nginx/supervise_nginx.sh, which tells keepalived (track_file) the moment it
# exits.
start_nginx() {
	local lb=$1
	spawn "nginx-$lb" "$lb" "$REPO/nginx/supervise_nginx.sh" "$RUN/$lb/nginx.exited" \
		nginx -p "$RUN/$lb" -c "$RUN/$lb/nginx.conf" -e "$RUN/$lb/logs/error.log"
	wait_until 10 "nginx on $lb" http_ok "$lb" http://127.0.0.1/nginx-health
}

start_keepalived() {
	local lb=$1
	# Own pid files: the host may run a keepalived of its own.
	spawn "keepalived-$lb" "$lb" keepalived --dont-fork --log-console --log-detail --vrrp \
		-f "$RUN/$lb/keepalived.conf" -p "$RUN/$lb/keepalived.pid" -r "$RUN/$lb/vrrp.pid"
}

# Prints the load balancer holding the VIP, if any.
vip_holder() {
	local lb
	for lb in "${LBS[@]}"; do
		if ip -n "$(ns "$lb")" -4 -o addr show dev eth0 | grep -qF " $VIP/"; then
			printf '%s' "$lb"
			return 0
		fi
	done
	return 1
}

# ------------------------------------------------------------------ the whole cluster

# Starts the service NAME and waits until it serves.
start_service() {
	case $1 in
	redis*) start_redis "$1" ;;
	sentinel*) start_sentinel "$1" ;;
	sso*) start_sso "$1" ;;
	app3*) start_app3 "$1" ;;
	app*) start_app "$1" ;;
	nginx-*) start_nginx "${1#nginx-}" ;;
	keepalived-*) start_keepalived "${1#keepalived-}" ;;
	*)
		log "unknown service $1"
		return 1
		;;
	esac
}

# Waits until nginx has surely taken restarted nodes back. A node that refused connections is
# left out of its upstream for fail_timeout, whether it runs again or not; each nginx worker
# keeps its own count (the upstreams have no shared zone); and a worker that has both nodes of
# an upstream left out answers 502 although one of them runs. So after a restart, the next node
# of the same upstream may only go down once fail_timeout has passed.
settle() {
	local timeout
	timeout=$(grep -o -m 1 'fail_timeout=[0-9]*s' "$RUN/lb1/nginx.conf")
	timeout=${timeout#fail_timeout=}
	log "waiting ${timeout%s} s (fail_timeout) for nginx to take restarted nodes back"
	sleep "${timeout%s}.5"
}

RESTARTABLE=("${REDIS_NODES[@]}" "${SENTINELS[@]}" "${SSO_NODES[@]}" "${APP_NODES[@]}"
	"${APP3_NODES[@]}" nginx-lb1 nginx-lb2
	keepalived-lb1 keepalived-lb2)

# Restarts whatever an earlier scenario left stopped, so each scenario starts from a whole
# cluster even when the one before failed half-way.
ensure_up() {
	local name restarted=0
	links_up
	for name in "${RESTARTABLE[@]}"; do
		# A scenario may leave a service down on purpose for the next one (keep_down).
		grep -qxF -- "$name" "$RUN/keep-down" 2>/dev/null && continue
		if ! service_alive "$name"; then
			log "restarting $name"
			start_service "$name"
			restarted=1
		fi
	done
	((restarted == 0)) || settle
	wait_until 15 "the VIP" vip_holder
	[[ -s $RUN/keep-down ]] || wait_until 40 "Redis and its Sentinels to be whole" redis_whole
}

# keep_down NAME: the next scenario starts with NAME still down (ensure_up leaves it alone until
# keep_down is called without a name).
keep_down() {
	printf '%s\n' "$@" >"$RUN/keep-down"
}

cluster_up() {
	local lb node
	log "starting PostgreSQL, Redis and the Sentinels"
	start_pg
	for node in "${REDIS_NODES[@]}" "${SENTINELS[@]}"; do
		start_service "$node"
	done
	wait_until 30 "the Sentinels to know the replica and each other" redis_whole
	log "registering the apps and the user with the center"
	seed_center >"$RUN/logs/seed.log" 2>&1
	for node in "${SSO_NODES[@]}"; do
		start_sso "$node"
	done
	log "starting the app nodes"
	use_app_backend redis
	for node in "${APP3_NODES[@]}"; do
		start_app3 "$node"
	done
	for lb in "${LBS[@]}"; do
		render_lb "$lb"
		start_nginx "$lb"
		start_keepalived "$lb"
	done
	log "waiting for a load balancer to take the VIP"
	wait_until 20 "the VIP" vip_holder
	log "VIP $VIP on $(vip_holder)"
	learn_routes
}

# Stops every service gracefully; run.sh's cleanup kills whatever is left.
cluster_down() {
	local name
	for name in keepalived-lb1 keepalived-lb2 nginx-lb1 nginx-lb2 "${APP_NODES[@]}" \
		"${APP3_NODES[@]}" "${SSO_NODES[@]}" "${SENTINELS[@]}" "${REDIS_NODES[@]}"; do
		stop_service "$name" TERM
	done
	if service_alive pg; then
		(cd "$RUN/pg" && runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$RUN/pg/data" stop \
			-m immediate -s) || true
	fi
}
