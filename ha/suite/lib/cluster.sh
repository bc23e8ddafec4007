# shellcheck shell=bash
# The services of the cluster: PostgreSQL, Redis, two sso-server replicas, two nodes each of
# app1 and app2, two of app3 (Python, behind forward auth at the load balancers) and two load
# balancers (nginx + keepalived) rendered from nginx/.
#
# Every service has a name (redis, sso1, app1a, nginx-lb1, keepalived-lb1, …) and a pid file
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
REDIS_URL=redis://${IP[redis]}:6379
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

start_redis() {
	mkdir -p "$RUN/redis"
	# The append-only file makes a restarted Redis come back with its data (scenario 7).
	spawn redis redis redis-server --bind "${IP[redis]}" --port 6379 --protected-mode no \
		--save '' --appendonly yes --appendfsync everysec --dir "$RUN/redis"
	wait_until 10 redis redis_pong
}

redis_pong() {
	[[ $(in_ns client redis-cli -h "${IP[redis]}" -p 6379 ping 2>/dev/null) == PONG ]]
}

# ------------------------------------------------------------------ the center

# The center's configuration, the same on both replicas but for the address.
sso_env() {
	printf '%s\n' \
		"SSO_ISSUER=https://sso.$DOMAIN" \
		"SSO_DATABASE__URL=$DATABASE_URL" \
		"SSO_STORE__BACKEND=redis" \
		"SSO_STORE__REDIS_URL=$REDIS_URL" \
		"SSO_STORE__FORWARD_AUTH_CACHE=true" \
		"SSO_TOKENS__KEY_ENCRYPTION_KEY=${SECRETS[key-encryption]}" \
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
			printf '[store]\nbackend = "redis"\nredis_url = "%s"\nlocal_cache = true\n' "$REDIS_URL"
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
		LB_VRRP_AUTH_PASS=${SECRETS[vrrp]} \
		LB_CHECK_SCRIPT=$CHECK_SCRIPT \
		"$REPO/nginx/render.sh" "$RUN/$lb" >/dev/null
}

start_nginx() {
	local lb=$1
	in_ns "$lb" nginx -p "$RUN/$lb" -c "$RUN/$lb/nginx.conf" -e "$RUN/$lb/logs/error.log"
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
	redis) start_redis ;;
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

RESTARTABLE=(redis "${SSO_NODES[@]}" "${APP_NODES[@]}" "${APP3_NODES[@]}" nginx-lb1 nginx-lb2
	keepalived-lb1 keepalived-lb2)

# Restarts whatever an earlier scenario left stopped, so each scenario starts from a whole
# cluster even when the one before failed half-way.
ensure_up() {
	local name restarted=0
	for name in "${RESTARTABLE[@]}"; do
		if ! service_alive "$name"; then
			log "restarting $name"
			start_service "$name"
			restarted=1
		fi
	done
	((restarted == 0)) || settle
	wait_until 15 "the VIP" vip_holder
}

cluster_up() {
	local lb node
	log "starting PostgreSQL and Redis"
	start_pg
	start_redis
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
		"${APP3_NODES[@]}" "${SSO_NODES[@]}" redis; do
		stop_service "$name" TERM
	done
	if service_alive pg; then
		(cd "$RUN/pg" && runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$RUN/pg/data" stop \
			-m immediate -s) || true
	fi
}
