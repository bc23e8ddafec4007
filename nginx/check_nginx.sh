#!/usr/bin/env bash
# keepalived's chk_nginx: succeeds when the nginx master process named in PIDFILE is running
# and nginx answers HEALTH_URL (its local /nginx-health) with a 2xx within 0.8 s (keepalived
# gives the whole check 1 s).
#
# Usage: check_nginx.sh PIDFILE HEALTH_URL
#
# Both checks are needed: the pid alone misses an nginx that no longer serves, and the URL alone
# could be answered by something else bound to the port.
set -euo pipefail

if (($# != 2)); then
	printf 'usage: %s PIDFILE HEALTH_URL\n' "${0##*/}" >&2
	exit 2
fi
pid_file=$1
health_url=$2

pid=$(<"$pid_file")
[[ $pid =~ ^[0-9]+$ ]] || exit 1

# /proc/PID/stat is "PID (COMM) STATE …". A zombie (Z) or dead (X) process still has an entry,
# and a stale pid file may name an unrelated process: require a live process called nginx.
stat=$(<"/proc/$pid/stat")
comm=${stat#*(}
comm=${comm%)*}
state=${stat##*) }
state=${state%% *}
[[ $comm == nginx && $state != [ZX] ]] || exit 1

exec curl --silent --fail --output /dev/null --max-time 0.8 --noproxy '*' -- "$health_url"
