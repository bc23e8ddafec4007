#!/usr/bin/env bash
# One-shot init of the compose demo, run with the center's configuration before the center's
# replicas start: creates the schema and signing keys (any sso-server command does), registers
# app1 and app2 with their public URLs, protects app3 with forward auth for the group staff, and
# adds the demo users alice (in staff) and bob (not: app3 refuses him). Safe to run again:
# clients and the app3 entry are replaced, existing users are left alone, groups are set.
#
# Environment: DEMO_SECRETS (directory made by demo-setup.sh), DEMO_PUBLIC_PORT (the HTTPS port
# in the public URLs), DEMO_DOMAIN (default example.test), and the SSO_* settings of the center.
set -euo pipefail

secrets=${DEMO_SECRETS:?}
port=${DEMO_PUBLIC_PORT:?}
domain=${DEMO_DOMAIN:-example.test}
# URLs name the port only when it is not the default, as the apps' own URLs do.
suffix=":$port"
[[ $port == 443 ]] && suffix=""

for app in app1 app2; do
	base="https://$app.$domain$suffix"
	sso-server client add "$app" --name "Demo $app" \
		--redirect-uri "$base/auth/callback" \
		--post-logout-redirect-uri "$base/" \
		--backchannel-logout-uri "$base/auth/backchannel-logout" \
		--secret-stdin <"$secrets/$app-client-secret"
done

existing=$(sso-server user list | cut -f1)
while read -r user display; do
	grep -qxF -- "$user" <<<"$existing" && continue
	sso-server user add "$user" --name "$display" --email "$user@$domain" \
		--password-stdin <"$secrets/demo-password"
done <<'USERS'
alice Alice Liddell
bob Bob Builder
USERS
sso-server user groups alice set staff
sso-server user groups bob set visitors
sso-server forward-auth add app3 --host "app3.$domain" --allow-group staff

printf 'demo users: alice, bob; password: %s\n' "$(<"$secrets/demo-password")"
