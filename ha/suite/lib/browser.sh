# shellcheck shell=bash
# A scripted browser: curl with a cookie jar, from one of the client's source addresses, that
# reaches sso., app1., app2. and app3.$DOMAIN through the VIP over TLS and trusts only the suite's CA.
# A browser is a directory under $RUN/browsers holding its jar, its source address and the body
# of its last response. One browser is only ever used by one loop at a time.
#
# Needs (from run.sh): RUN, DOMAIN, CERT_DIR, SECRETS, lib/topology.sh, lib/cluster.sh.

# What `browse` saw last.
STATUS=""
EFFECTIVE=""
LOCATION=""

# new_browser NAME SOURCE: a browser with an empty cookie jar, sending from SOURCE.
new_browser() {
	local dir=$RUN/browsers/$1
	rm -rf -- "$dir"
	mkdir -p "$dir"
	: >"$dir/jar"
	printf '%s' "$2" >"$dir/source"
}

# clone_browser NAME COPY: a second browser with NAME's cookies and source address.
clone_browser() {
	rm -rf -- "$RUN/browsers/$2"
	cp -r -- "$RUN/browsers/$1" "$RUN/browsers/$2"
}

body_of() {
	printf '%s' "$RUN/browsers/$1/body"
}

# How long `browse` waits for a connection, in seconds.
CONNECT_TIMEOUT=1

# browse NAME CURL_ARGS... URL: one request (with -L, the whole redirect chain). Sets STATUS
# (000 when there was no answer), EFFECTIVE (the last URL asked) and LOCATION (where the last
# answer redirects to, if anywhere); the body is in $(body_of NAME).
browse() {
	local dir=$RUN/browsers/$1 out
	shift
	out=$(in_ns client curl --silent --cacert "$CERT_DIR/ca.pem" \
		--resolve "sso.$DOMAIN:443:$VIP" --resolve "app1.$DOMAIN:443:$VIP" \
		--resolve "app2.$DOMAIN:443:$VIP" --resolve "app3.$DOMAIN:443:$VIP" \
		--interface "$(<"$dir/source")" \
		--cookie "$dir/jar" --cookie-jar "$dir/jar" --connect-timeout "$CONNECT_TIMEOUT" \
		--max-time 6 \
		--output "$dir/body" --write-out '%{http_code} %{url_effective} %{redirect_url}' \
		"$@") || true
	read -r STATUS EFFECTIVE LOCATION <<<"$out"
	STATUS=${STATUS:-000}
	LOCATION=${LOCATION:-}
	printf '%s\n' "$STATUS" >>"$dir/statuses"
}

# failures NAME: how many of the browser's requests got no answer or a 5xx.
failures() {
	grep -c '^[05]' "$RUN/browsers/$1/statuses" || true
}

# The value of the hidden form field NAME in FILE, with the HTML escapes of the templates
# (askama writes &#34; &#38; &#39; &#60; &#62;) undone; &#38; last, so nothing is undone twice.
form_value() {
	sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1 |
		sed -e 's/&#34;/"/g' -e "s/&#39;/'/g" -e 's/&#60;/</g' -e 's/&#62;/>/g' -e 's/&#38;/\&/g'
}

# The node named on an app page ("Served by node" / the footer's "Node").
page_node() {
	sed -n 's/.*<dt>Node<\/dt><dd>\([^<]*\)<\/dd>.*/\1/p' "$1" | head -n 1
}

# The <title> of a page.
page_title() {
	sed -n 's/.*<title>\([^<]*\)<\/title>.*/\1/p' "$1" | head -n 1
}

# The center's session id shown on the profile page.
page_sid() {
	sed -n 's/.*<dt>Sign-in session<\/dt><dd><code>\([^<]*\)<\/code>.*/\1/p' "$1" | head -n 1
}

# Whether the last answer is the profile page of a signed-in user.
on_profile() {
	[[ $STATUS == 200 ]] && grep -q '<dt>Served by node</dt>' "$(body_of "$1")"
}

# Whether the last answer sends the browser to the center, i.e. the app has no session for it.
sent_to_center() {
	[[ $STATUS == 30[1237] && $LOCATION == "https://sso.$DOMAIN/"* ]]
}

# Whether the last answer is the center's sign-in form.
on_login_form() {
	[[ $STATUS == 200 && $EFFECTIVE == "https://sso.$DOMAIN/"* ]] &&
		grep -q 'name="csrf_token"' "$(body_of "$1")"
}

# profile NAME APP: GETs APP's protected page once and prints what it found:
# "ok NODE SID", "lost" (sent to sign in) or "fail STATUS".
profile() {
	local body
	browse "$1" "https://$2.$DOMAIN/profile"
	body=$(body_of "$1")
	if on_profile "$1"; then
		printf 'ok %s %s\n' "$(page_node "$body")" "$(page_sid "$body")"
	elif sent_to_center; then
		printf 'lost\n'
	else
		printf 'fail %s\n' "$STATUS"
	fi
}

# try_sign_in NAME APP: opens APP's protected page, is sent to the center's form, submits the
# demo user's credentials and follows the redirects back (the app exchanges the code). Fails,
# with what it saw in SIGN_IN_ERROR, unless it ends on APP's profile page.
try_sign_in() {
	local name=$1 app=$2 body csrf return_to
	body=$(body_of "$name")
	browse "$name" --location "https://$app.$DOMAIN/profile"
	if ! on_login_form "$name"; then
		SIGN_IN_ERROR="$app: no sign-in form (HTTP $STATUS at $EFFECTIVE)"
		return 1
	fi
	csrf=$(form_value csrf_token "$body")
	return_to=$(form_value return_to "$body")
	browse "$name" --location --data-urlencode "csrf_token=$csrf" \
		--data-urlencode "return_to=$return_to" --data-urlencode "username=alice" \
		--data-urlencode "password=${SECRETS[password]}" "https://sso.$DOMAIN/login"
	if ! on_profile "$name"; then
		SIGN_IN_ERROR="$app: sign-in did not end on the profile (HTTP $STATUS at $EFFECTIVE)"
		return 1
	fi
}

# sign_in NAME APP: try_sign_in, and the scenario fails with what it saw unless it worked.
sign_in() {
	try_sign_in "$@" || fail "$SIGN_IN_ERROR"
}

# sso_to NAME APP: opens APP's protected page with the center session of an earlier sign-in;
# fails unless the browser ends signed in there without seeing a sign-in form.
sso_to() {
	browse "$1" --location "https://$2.$DOMAIN/profile"
	on_login_form "$1" && fail "$2: asked for the password again"
	on_profile "$1" || fail "$2: single sign-on failed (HTTP $STATUS at $EFFECTIVE)"
}

# session_cookie NAME APP: the value of APP's session cookie in the browser's jar.
session_cookie() {
	awk -F '\t' -v name="$2_session" '$6 == name { value = $7 } END { print value }' \
		"$RUN/browsers/$1/jar"
}

# node_profile NODE COOKIE: asks one app node directly (not through nginx) for the profile page
# with the given session cookie; prints "in", "out" (sent to sign in) or "fail STATUS".
node_profile() {
	local node=$1 app status
	app=$(app_of "$node")
	status=$(in_ns client curl --silent --output /dev/null --write-out '%{http_code}' \
		--max-time 3 --header "Cookie: ${app}_session=$2" \
		"http://${IP[$node]}:$HTTP_PORT/profile") || true
	case $status in
	200) printf 'in\n' ;;
	30[1237]) printf 'out\n' ;;
	*) printf 'fail %s\n' "$status" ;;
	esac
}

# probe_loop NAME APP OUT STOPFILE: GETs APP's profile page every 0.1 s until STOPFILE exists
# (at most 60 s), one line per request into OUT: "START END RESULT…" (times in seconds since the
# epoch, RESULT as printed by `profile`). Run it in the background.
probe_loop() {
	local name=$1 app=$2 out=$3 stop=$4 start result deadline
	deadline=$((${EPOCHREALTIME%.*} + 60))
	: >"$out"
	while [[ ! -e $stop ]] && ((${EPOCHREALTIME%.*} < deadline)); do
		start=$EPOCHREALTIME
		result=$(profile "$name" "$app")
		printf '%s %s %s\n' "$start" "$EPOCHREALTIME" "$result" >>"$out"
		sleep 0.1
	done
}

# signin_loop OUT STOPFILE: signs a new browser in at app1 after another (each from the next
# source address) until STOPFILE exists (at most 60 s), one line per sign-in into OUT:
# "START END BROWSER ok|fail". Run it in the background.
signin_loop() {
	local out=$1 stop=$2 i=0 name start result deadline
	deadline=$((${EPOCHREALTIME%.*} + 60))
	: >"$out"
	while [[ ! -e $stop ]] && ((${EPOCHREALTIME%.*} < deadline)); do
		i=$((i + 1))
		name=signin-$i
		new_browser "$name" "${CLIENT_SOURCES[i % ${#CLIENT_SOURCES[@]}]}"
		start=$EPOCHREALTIME
		result=fail
		try_sign_in "$name" app1 && result=ok
		printf '%s %s %s %s\n' "$start" "$EPOCHREALTIME" "$name" "$result" >>"$out"
		sleep 0.1
	done
}

# ------------------------------------------------------------------ where nginx sends whom

# vip_get SOURCE URL: a GET through the VIP from SOURCE, without cookies; prints the body.
vip_get() {
	in_ns client curl --silent --cacert "$CERT_DIR/ca.pem" --max-time 4 \
		--resolve "sso.$DOMAIN:443:$VIP" --resolve "app1.$DOMAIN:443:$VIP" \
		--resolve "app2.$DOMAIN:443:$VIP" --interface "$1" "$2"
}

# upstream_of SOURCE TEXT: the node that served the last request from SOURCE whose log line
# contains TEXT, from the access logs of both load balancers (the last node nginx tried).
upstream_of() {
	local address host
	address=$(cat "$RUN"/lb[12]/logs/access.log 2>/dev/null |
		grep -F -- "$2" | grep "^$1 " | tail -n 1 |
		sed -n 's/.* upstream=\(.*\) upstream_status=.*/\1/p' | sed 's/.*, //; s/:[0-9]*$//')
	for host in "${SSO_NODES[@]}" "${APP_NODES[@]}"; do
		[[ ${IP[$host]} == "$address" ]] && printf '%s' "$host"
	done
	return 0
}

upstream_logged() {
	[[ -n $(upstream_of "$1" "$2") ]]
}

# node_for_source UPSTREAM SOURCE: the node that answers a request for UPSTREAM (app1, app2 or
# sso) from SOURCE now. The apps say on their pages; for the center the access log tells.
node_for_source() {
	local marker
	case $1 in
	sso)
		marker=probe-$RANDOM$RANDOM
		vip_get "$2" "https://sso.$DOMAIN/healthz?$marker" >/dev/null || return 0
		# nginx logs a request once it is over, which may be a moment after curl has the answer.
		wait_until 2 "the access log" upstream_logged "$2" "$marker" || return 0
		upstream_of "$2" "$marker"
		;;
	*) vip_get "$2" "https://$1.$DOMAIN/" | page_node - ;;
	esac
}

# Records, for every node, a source address that ip_hash sends to it. Learnt once while every
# node is up: while a node is left out, nginx sends its addresses elsewhere.
learn_routes() {
	local upstream source node
	mkdir -p "$RUN/routes"
	for upstream in sso app1 app2; do
		for source in "${CLIENT_SOURCES[@]}"; do
			node=$(node_for_source "$upstream" "$source")
			[[ -n $node && ! -e $RUN/routes/$node ]] && printf '%s' "$source" >"$RUN/routes/$node"
		done
	done
	for node in "${SSO_NODES[@]}" "${APP_NODES[@]}"; do
		[[ -e $RUN/routes/$node ]] || {
			log "no client source address is sent to $node"
			return 1
		}
	done
}

# source_for NODE: the source address ip_hash sends to NODE.
source_for() {
	cat "$RUN/routes/$1"
}
