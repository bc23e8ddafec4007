#!/usr/bin/env bash
# Runs the embedded demo on this machine: the SSO center and two demo apps, with in-memory
# session stores and a SQLite user store (no Redis or PostgreSQL needed).
#
#   http://sso.localhost:8080    the center (sign in here once)
#   http://app1.localhost:8081   demo app 1
#   http://app2.localhost:8082   demo app 2
#   http://app3.localhost:8083   app3 (Python, no OpenID Connect) behind a local nginx with the
#                                forward-auth snippets, when nginx and python3 are installed;
#                                only the group staff (alice) is let in, bob sees 403
#
# Browsers resolve *.localhost to this machine, so this is a real cross-subdomain setup.
# Ports: CENTER_PORT, APP1_PORT, APP2_PORT, APP3_PORT (nginx) and APP3_BACKEND_PORT (app3
# itself, on 127.0.0.1). Demo password: DEMO_PASSWORD (default: generated). With app3 the center
# trusts X-Forwarded-* from 127.0.0.1, where its nginx runs.
# Data (users, signing keys) is kept in .data/demo/ between runs. Ctrl-C stops everything.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

sso_port="${CENTER_PORT:-8080}"
app1_port="${APP1_PORT:-8081}"
app2_port="${APP2_PORT:-8082}"
app3_port="${APP3_PORT:-8083}"
app3_backend_port="${APP3_BACKEND_PORT:-8093}"
data_dir="$PWD/.data/demo"
mkdir -p "$data_dir"

echo "==> building (release)" >&2
cargo build --release --locked -p sso-server -p subsystem-demo
bin="$PWD/target/release"

pids=()
stop_all() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

wait_ready() { # url name [curl options]
	for _ in $(seq 1 100); do
		if curl -fs -o /dev/null "${@:3}" "$1"; then
			return 0
		fi
		sleep 0.1
	done
	echo "error: $2 did not become ready at $1" >&2
	exit 1
}

password="${DEMO_PASSWORD:-$(head -c 12 /dev/urandom | base64 | tr -d '+/=')}"

# app3 needs nginx (Debian keeps it in /usr/sbin, often not in a user's PATH) and python3.
nginx_bin=$(command -v nginx || true)
[[ -z $nginx_bin && -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx
with_app3=""
[[ -n $nginx_bin ]] && command -v python3 >/dev/null && with_app3=1

center_env=(
	"SSO_ISSUER=http://sso.localhost:$sso_port"
	"SSO_HTTP__PORT=$sso_port"
	"SSO_DATABASE__URL=sqlite://$data_dir/sso.db?mode=rwc"
	"SSO_DEMO__APP_PORTS=[$app1_port, $app2_port]"
)
if [[ -n $with_app3 ]]; then
	center_env+=('SSO_LOGIN__TRUSTED_PROXIES=["127.0.0.1"]')
	env "${center_env[@]}" "$bin/sso-server" forward-auth add app3 --host app3.localhost \
		--allow-group staff >/dev/null
fi

echo "==> starting the center on http://sso.localhost:$sso_port" >&2
# bob's authenticator app key: made once, kept with the data, printed below.
totp_file="$data_dir/bob-totp-key"
if [[ ! -s "$totp_file" ]]; then
	head -c 20 /dev/urandom | base32 >"$totp_file"
	chmod 600 "$totp_file"
fi
totp_key=$(<"$totp_file")
env "${center_env[@]}" DEMO_PASSWORD="$password" DEMO_TOTP_KEY="$totp_key" "$bin/sso-server" serve --demo &
pids+=($!)
wait_ready "http://127.0.0.1:$sso_port/readyz" "the center"

for app in 1 2; do
	port_var="app${app}_port"
	port="${!port_var}"
	echo "==> starting app$app on http://app$app.localhost:$port" >&2
	DEMO_APP_NAME="app$app" \
		DEMO_APP_HTTP__PORT="$port" \
		DEMO_APP_SSO__ISSUER="http://sso.localhost:$sso_port" \
		DEMO_APP_SSO__CLIENT_SECRET="app$app-demo-secret" \
		"$bin/subsystem-demo" &
	pids+=($!)
	wait_ready "http://127.0.0.1:$port/health" "app$app"
done

app3_line="    (app3 needs nginx and python3: sudo apt-get install nginx python3, then run this again)"
if [[ -n $with_app3 ]]; then
	# The demo users exist once the center runs; alice is in staff, bob is not.
	env "${center_env[@]}" "$bin/sso-server" user groups alice set staff >/dev/null
	echo "==> starting app3 behind nginx on http://app3.localhost:$app3_port" >&2
	python3 app3/app3.py --port "$app3_backend_port" &
	pids+=($!)
	wait_ready "http://127.0.0.1:$app3_backend_port/health" "app3"
	nginx_dir=$data_dir/nginx
	mkdir -p "$nginx_dir"
	cat >"$nginx_dir/nginx.conf" <<EOF
daemon off;
master_process off;
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $nginx_dir/body;
    proxy_temp_path $nginx_dir/proxy;
    fastcgi_temp_path $nginx_dir/fastcgi;
    uwsgi_temp_path $nginx_dir/uwsgi;
    scgi_temp_path $nginx_dir/scgi;
    server {
        listen 127.0.0.1:$app3_port;
        server_name app3.localhost;
        set \$sso_center http://127.0.0.1:$sso_port;
        include $PWD/nginx/forward-auth/server.conf;
        location / {
            include $PWD/nginx/forward-auth/location.conf;
            proxy_pass http://127.0.0.1:$app3_backend_port;
        }
    }
}
EOF
	"$nginx_bin" -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -e "$nginx_dir/error.log" &
	pids+=($!)
	# Anonymous: nginx answers with the redirect to sign in.
	wait_ready "http://app3.localhost:$app3_port/" "nginx" \
		--resolve "app3.localhost:$app3_port:127.0.0.1"
	app3_line="    http://app3.localhost:$app3_port    app3 behind nginx forward auth (alice gets in, bob gets 403)"
fi

cat <<EOF

  The demo is running. Open in a browser on this machine:

    http://app1.localhost:$app1_port    demo app 1
    http://app2.localhost:$app2_port    demo app 2 (signed in without a password once app 1 is)
$app3_line
    http://sso.localhost:$sso_port     the SSO center

  Sign in as alice or bob with password: $password
  bob has an authenticator app: add the key $totp_key to yours (Google
  Authenticator, FreeOTP, ...), then open "Sensitive" in an app and give its code.
  Sign out in any app to sign out of all. Ctrl-C stops the demo.

EOF
wait -n
