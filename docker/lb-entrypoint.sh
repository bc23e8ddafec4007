#!/usr/bin/env bash
# Entry point of a load-balancer container: renders nginx.conf and keepalived.conf from the LB_*
# environment (nginx/render.sh lists the variables), starts nginx, then runs keepalived in the
# foreground. Any arguments replace all of that (e.g. the demo's socat entry).
#
# nginx runs beside keepalived under nginx/supervise_nginx.sh, which restarts nothing on purpose:
# when nginx dies it only writes so into the file keepalived tracks, and the VIP moves at once,
# which is what the demo shows. `docker compose restart` brings the box back. (keepalived's
# track_process cannot serve here: the kernel's process events do not reach a container's
# network namespace.)
set -euo pipefail

if (($# > 0)); then
	exec "$@"
fi

lib=/usr/local/lib/sso-ha
prefix=/run/lb
export LB_NGINX_PID=$prefix/nginx.pid
export LB_TRACK_FILE=$prefix/nginx.exited
"$lib/nginx/render.sh" "$prefix"
# nginx opens its logs in the master process, as root: these reach `docker compose logs`.
ln -sf /dev/stdout "$prefix/logs/access.log"
ln -sf /dev/stderr "$prefix/logs/error.log"

"$lib/nginx/supervise_nginx.sh" "$LB_TRACK_FILE" \
	nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/logs/error.log" &
exec keepalived --dont-fork --log-console --log-detail --vrrp -f "$prefix/keepalived.conf"
