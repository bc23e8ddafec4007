#!/usr/bin/env bash
# Runs nginx in the foreground and tells keepalived through STATE_FILE whether it runs: 0 as it
# starts, 1 the moment its master process exits, however it dies. keepalived's track_file
# watches the file (inotify), so a dead nginx moves the VIP at once, without polling, also
# where track_process cannot see processes (a network namespace of its own, a container).
# Nothing restarts nginx: a box whose nginx died stays out of the VIP until someone starts it.
#
# Usage: supervise_nginx.sh STATE_FILE NGINX_COMMAND...   e.g.
#   supervise_nginx.sh /run/lb/nginx.exited nginx -p /run/lb -c /run/lb/nginx.conf
# (run it in the background; it adds -g 'daemon off;'). TERM or INT stop nginx.
set -uo pipefail

if (($# < 2)); then
	printf 'usage: %s STATE_FILE NGINX_COMMAND...\n' "${0##*/}" >&2
	exit 2
fi
state_file=$1
shift

printf '0\n' >"$state_file"
"$@" -g 'daemon off;' &
nginx=$!
trap 'kill -TERM "$nginx" 2>/dev/null' TERM INT
# wait returns early when a trapped signal arrives: wait again until nginx is gone.
while wait "$nginx"; rc=$?; kill -0 "$nginx" 2>/dev/null; do :; done
printf '1\n' >"$state_file"
exit "$rc"
