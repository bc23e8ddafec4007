# shellcheck shell=bash
# Helpers for the test scripts: install missing Debian packages and make sure
# a Redis and a PostgreSQL are reachable, starting throwaway instances when
# needed. Source this file from a script; it does not change shell options and
# works under `set -euo pipefail`.
#
# Public functions:
#   ensure_packages PKG...  install missing Debian packages (root only)
#   ensure_redis            export REDIS_URL and REDIS_SERVER_BIN
#                           (and REDIS_SENTINEL_BIN when redis-sentinel exists)
#   ensure_redis_cluster    export REDIS_CLUSTER_NODES (a 6-node Redis Cluster:
#                           3 primaries, 3 replicas, on ports 7101-7106)
#   ensure_postgres         export DATABASE_URL
#   drop_test_databases     drop the sso_test_* databases the center's tests made
#   redact_url URL          print URL with its password masked
#   svc_on_exit CMD ARG...  run CMD ARG... when the calling script exits
#   svc_tmpdir VAR NAME     set VAR to a fresh directory removed when the script exits
#
# Sourcing installs one EXIT trap that runs the registered commands (newest
# first) and then removes the temporary root, whether the script succeeded or
# not. INT and TERM are turned into a normal exit so that trap runs then too.

_SVC_CLEANUP=()
_SVC_ROOT=""
_SVC_APT_UPDATED=""

_svc_log() { printf '[services] %s\n' "$*" >&2; }
_svc_die() {
	printf '[services] error: %s\n' "$*" >&2
	exit 1
}

_svc_run_cleanup() {
	local rc=$? i
	for ((i = ${#_SVC_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${_SVC_CLEANUP[i]}" || true
	done
	_SVC_CLEANUP=()
	if [[ -n $_SVC_ROOT ]]; then
		rm -rf -- "$_SVC_ROOT" || true
	fi
	exit "$rc"
}
trap _svc_run_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

svc_on_exit() {
	local quoted
	printf -v quoted '%q ' "$@"
	_SVC_CLEANUP+=("$quoted")
}

# Takes a variable name rather than printing the path: inside $(...) the
# root directory would be created in a subshell and never cleaned up.
svc_tmpdir() {
	local _svc_new_dir
	if [[ -z $_SVC_ROOT ]]; then
		_SVC_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/sso-test.XXXXXX")
		# mktemp creates the root 0700; let other users (the postgres user
		# running a throwaway cluster) traverse it, without listing it.
		chmod 711 "$_SVC_ROOT"
	fi
	_svc_new_dir=$(mktemp -d "$_SVC_ROOT/$2.XXXXXX")
	printf -v "$1" '%s' "$_svc_new_dir"
}

_svc_need_cmd() {
	local cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 ||
			_svc_die "'$cmd' not found; install it (see ensure_packages in scripts/test.sh)"
	done
}

redact_url() {
	# scheme://user:secret@host -> scheme://user:***@host
	sed -E 's#^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"
}

# Prints a TCP port on 127.0.0.1 that was free a moment ago.
_svc_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ensure_packages() {
	local pkg missing=()
	if ! command -v dpkg-query >/dev/null 2>&1; then
		_svc_log "not a Debian-based system; make sure these are installed: $*"
		return 0
	fi
	for pkg in "$@"; do
		if [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) != installed ]]; then
			missing+=("$pkg")
		fi
	done
	((${#missing[@]} > 0)) || return 0
	if ((EUID != 0)); then
		_svc_die "missing packages: ${missing[*]}
  install them with: sudo apt-get install ${missing[*]}"
	fi
	_svc_log "installing: ${missing[*]}"
	if [[ -z $_SVC_APT_UPDATED ]]; then
		apt-get update -qq
		_SVC_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	# The checks need only promtool from the prometheus package; a server its installation
	# started is not ours to keep running.
	if [[ " ${missing[*]} " == *" prometheus "* ]] && pgrep -x prometheus >/dev/null; then
		_svc_log "stopping the Prometheus server the package started (only promtool is used)"
		service prometheus stop >/dev/null 2>&1 || pkill -x prometheus || true
	fi
}

# ---------------------------------------------------------------- Redis

# True when redis-cli ARGS... gets PONG back within a few seconds.
_svc_redis_pong() {
	[[ $(timeout 5 redis-cli --no-auth-warning "$@" ping 2>/dev/null </dev/null) == PONG ]]
}

# Sends TERM to the pid in pidfile $1 and waits (up to 5 s) for it to go away.
_svc_kill_pidfile() {
	local pid i
	[[ -s $1 ]] || return 0
	pid=$(<"$1")
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# Starts a throwaway redis-server on a free port and exports REDIS_URL.
_svc_start_redis() {
	local dir port i
	svc_tmpdir dir redis
	port=$(_svc_free_port)
	svc_on_exit _svc_kill_pidfile "$dir/redis.pid"
	redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
		--daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
	for ((i = 0; i < 100; i++)); do
		if _svc_redis_pong -h 127.0.0.1 -p "$port"; then
			export REDIS_URL="redis://127.0.0.1:$port"
			_svc_log "started throwaway redis-server on 127.0.0.1:$port"
			return 0
		fi
		sleep 0.1
	done
	cat "$dir/redis.log" >&2 || true
	_svc_die "throwaway redis-server on port $port did not answer PING within 10 s"
}

ensure_redis() {
	_svc_need_cmd redis-server redis-cli
	REDIS_SERVER_BIN=$(command -v redis-server)
	export REDIS_SERVER_BIN
	if command -v redis-sentinel >/dev/null 2>&1; then
		REDIS_SENTINEL_BIN=$(command -v redis-sentinel)
		export REDIS_SENTINEL_BIN
	fi

	if [[ -n ${REDIS_URL:-} ]]; then
		_svc_redis_pong -u "$REDIS_URL" ||
			_svc_die "REDIS_URL=$(redact_url "$REDIS_URL") does not answer PING"
		export REDIS_URL
	elif _svc_redis_pong -h 127.0.0.1 -p 6379; then
		export REDIS_URL=redis://127.0.0.1:6379
	else
		_svc_start_redis
	fi
}

# Starts a throwaway 6-node Redis Cluster (3 primaries, 3 replicas) on 127.0.0.1, ports
# REDIS_CLUSTER_BASE_PORT+1 .. +6 (default 7101-7106, cluster bus on port+10000), and
# exports REDIS_CLUSTER_NODES as comma-separated redis:// URLs. A REDIS_CLUSTER_NODES
# already set is checked and used as it is.
ensure_redis_cluster() {
	local base=${REDIS_CLUSTER_BASE_PORT:-7100} dir port i nodes=() urls=()
	_svc_need_cmd redis-server redis-cli
	if [[ -n ${REDIS_CLUSTER_NODES:-} ]]; then
		[[ $(timeout 5 redis-cli -u "${REDIS_CLUSTER_NODES%%,*}" cluster info 2>/dev/null </dev/null) == *cluster_state:ok* ]] ||
			_svc_die "REDIS_CLUSTER_NODES: $(redact_url "${REDIS_CLUSTER_NODES%%,*}") is not a healthy cluster node"
		export REDIS_CLUSTER_NODES
		return 0
	fi
	svc_tmpdir dir redis-cluster
	for ((i = 1; i <= 6; i++)); do
		port=$((base + i))
		if _svc_redis_pong -h 127.0.0.1 -p "$port"; then
			_svc_die "port $port is taken by another Redis; set REDIS_CLUSTER_BASE_PORT to use other ports"
		fi
		mkdir -p "$dir/$port"
		svc_on_exit _svc_kill_pidfile "$dir/$port/redis.pid"
		redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
			--cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" \
			--cluster-node-timeout 1000 --daemonize yes --dir "$dir/$port" \
			--pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log"
		nodes+=("127.0.0.1:$port")
		urls+=("redis://127.0.0.1:$port")
	done
	for port in "${nodes[@]##*:}"; do
		for ((i = 0; i < 100; i++)); do
			_svc_redis_pong -h 127.0.0.1 -p "$port" && break
			sleep 0.1
		done
	done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes \
		>"$dir/create.log" 2>&1 </dev/null || {
		cat "$dir/create.log" >&2
		_svc_die "redis-cli --cluster create failed"
	}
	for ((i = 0; i < 100; i++)); do
		if [[ $(redis-cli -p "$((base + 1))" cluster info </dev/null) == *cluster_state:ok* ]] &&
			(($(redis-cli -p "$((base + 1))" cluster nodes </dev/null | grep -c 'slave.*connected') == 3)); then
			REDIS_CLUSTER_NODES=$(
				IFS=,
				printf '%s' "${urls[*]}"
			)
			export REDIS_CLUSTER_NODES
			_svc_log "started a throwaway Redis Cluster on 127.0.0.1:$((base + 1))-$((base + 6))"
			return 0
		fi
		sleep 0.1
	done
	_svc_die "the throwaway Redis Cluster did not become healthy within 10 s"
}

# ----------------------------------------------------------- PostgreSQL

# Directory holding initdb/pg_ctl: Debian keeps them out of PATH, under
# /usr/lib/postgresql/<version>/bin; take the newest version installed.
_svc_pg_bindir() {
	local dir
	dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	if [[ -x $dir/initdb ]]; then
		printf '%s\n' "$dir"
	elif command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
	else
		_svc_die "PostgreSQL server binaries (initdb, pg_ctl) not found; install 'postgresql'"
	fi
}

# PostgreSQL refuses to run as root, so as root run the server tools as the
# `postgres` system user. Runs from the directory $1 so that user can read
# its working directory.
_svc_as_pg_user() {
	local dir=$1
	shift
	if ((EUID == 0)); then
		(cd "$dir" && runuser -u postgres -- "$@")
	else
		(cd "$dir" && "$@")
	fi
}

# Starts a throwaway PostgreSQL cluster on a free port and exports DATABASE_URL.
_svc_start_postgres() {
	local bindir dir port
	bindir=$(_svc_pg_bindir)
	if ((EUID == 0)); then
		id -u postgres >/dev/null 2>&1 ||
			_svc_die "running as root but there is no 'postgres' user to run a throwaway cluster as"
	fi
	svc_tmpdir dir postgres
	if ((EUID == 0)); then
		chown postgres: "$dir"
	fi
	port=$(_svc_free_port)

	_svc_as_pg_user "$dir" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
		--no-locale -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		_svc_die "initdb failed"
	}
	svc_on_exit _svc_as_pg_user "$dir" "$bindir/pg_ctl" -D "$dir/data" stop -m immediate -s
	# fsync=off: the data is thrown away, durability only costs test time.
	_svc_as_pg_user "$dir" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 -s \
		-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off" \
		start || {
		cat "$dir/postgres.log" >&2 || true
		_svc_die "throwaway PostgreSQL did not start"
	}
	pg_isready -q -h 127.0.0.1 -p "$port" -t 10 ||
		_svc_die "throwaway PostgreSQL on port $port is not accepting connections"
	export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
	_svc_log "started throwaway PostgreSQL on 127.0.0.1:$port"
}

ensure_postgres() {
	_svc_need_cmd pg_isready psql
	if [[ -n ${DATABASE_URL:-} ]]; then
		pg_isready -q -t 5 -d "$DATABASE_URL" ||
			_svc_die "DATABASE_URL=$(redact_url "$DATABASE_URL") is not accepting connections"
		export DATABASE_URL
	elif pg_isready -q -t 5 -h 127.0.0.1 -p 5432 &&
		PGCONNECT_TIMEOUT=5 psql -w -X -q -h 127.0.0.1 -p 5432 -U postgres -d postgres \
			-c 'select 1' </dev/null >/dev/null 2>&1; then
		export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
	else
		_svc_start_postgres
	fi
}

# Drops the per-test databases (sso_test_*) that the center's tests create next to
# DATABASE_URL; leftovers of an interrupted run go too.
drop_test_databases() {
	local name
	local -a names
	mapfile -t names < <(psql -w -X -At -d "$DATABASE_URL" </dev/null \
		-c "SELECT datname FROM pg_database WHERE datname LIKE 'sso\_test\_%'")
	for name in "${names[@]}"; do
		psql -w -X -q -d "$DATABASE_URL" </dev/null \
			-c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
	done
	if ((${#names[@]} > 0)); then
		_svc_log "dropped ${#names[@]} test database(s)"
	fi
}
