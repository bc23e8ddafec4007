# shellcheck shell=bash
# The scenarios. Each runs in a subshell of its own with errexit on (see run_scenario in
# run.sh), reports figures with `measure` and stops at the first broken expectation with `fail`.
#
# Needs (from run.sh): RUN, DOMAIN, CERT_DIR, RESULT, lib/topology.sh, lib/cluster.sh,
# lib/browser.sh.

# Probe loops running in the current scenario, stopped when it ends, passed or failed.
LOOP_PIDS=()

measure() {
	printf '%s\n' "$*" >>"$RESULT"
	log "measured: $*"
}

fail() {
	printf 'REASON %s\n' "$*" >>"$RESULT"
	log "failed: $*"
	exit 1
}

stop_loops() {
	local pid
	for pid in "${LOOP_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	LOOP_PIDS=()
}

# start_loop NAME APP OUT: probe_loop in the background, remembered for stop_loops.
start_loop() {
	probe_loop "$1" "$2" "$3" "$RUN/stop-loops" &
	LOOP_PIDS+=("$!")
}

# Lets every probe loop finish its current request, then ends them.
finish_loops() {
	local pid
	touch "$RUN/stop-loops"
	for pid in "${LOOP_PIDS[@]}"; do
		wait "$pid" || true
	done
	LOOP_PIDS=()
	rm -f -- "$RUN/stop-loops"
}

# seconds FROM TO: TO - FROM, with one decimal.
seconds() {
	awk -v from="$1" -v to="$2" 'BEGIN { printf "%.1f", to - from }'
}

# tally FILE [SINCE]: counts the lines of a probe loop's file (only requests started after
# SINCE, if given) as "TOTAL OK LOST FAILED NODES", NODES being the nodes that answered,
# comma-separated.
tally() {
	awk -v since="${2:-0}" '
		$1 < since { next }
		{ total++ }
		$3 == "ok" { ok++; nodes[$4] = 1; next }
		$3 == "lost" { lost++; next }
		{ failed++ }
		END {
			list = ""; for (node in nodes) list = list (list == "" ? "" : ",") node
			printf "%d %d %d %d %s\n", total, ok, lost, failed, (list == "" ? "-" : list)
		}' "$1"
}

# same_session FILE SID: every answer of a probe loop showed the center session SID.
same_session() {
	awk -v sid="$2" '$3 == "ok" { seen = 1; if ($5 != sid) other = 1 }
		END { exit !seen || other }' "$1"
}

# ------------------------------------------------------------------ 1

# ip_hash: every source address sticks to one node of each upstream, and the source addresses
# spread over both nodes of each.
scenario_stickiness() {
	local upstream source node first n requests=8 total=0 switched=0 spread summary=""
	declare -A sources
	for upstream in app1 app2 sso; do
		for source in "${CLIENT_SOURCES[@]}"; do
			first=""
			for ((n = 0; n < requests; n++)); do
				node=$(node_for_source "$upstream" "$source")
				[[ -n $node ]] || fail "no answer for $upstream from $source"
				total=$((total + 1))
				first=${first:-$node}
				[[ $node == "$first" ]] || switched=$((switched + 1))
			done
			sources[$first]=$((${sources[$first]:-0} + 1))
		done
	done
	for node in "${SSO_NODES[@]}" "${APP_NODES[@]}"; do
		summary+=" $node<-${sources[$node]:-0}"
	done
	measure "$total requests from ${#CLIENT_SOURCES[@]} source addresses, $switched answered by another node than the first; sources per node:$summary"
	((switched == 0)) || fail "$switched requests left their node"
	for spread in "sso1 sso2" "app1a app1b" "app2a app2b"; do
		read -r first node <<<"$spread"
		((${sources[$first]:-0} > 0 && ${sources[$node]:-0} > 0)) ||
			fail "the source addresses do not spread over $first and $node"
	done
}

# ------------------------------------------------------------------ 2

# A signed-in user keeps working while the app node serving them is SIGKILLed.
scenario_app_node_killed() {
	local victim=app1a survivor=app1b source sid out t_kill total ok lost failed nodes
	out=$RUN/logs/loop-kill-$(app_backend)
	source=$(source_for "$victim")
	new_browser kill "$source"
	sign_in kill app1
	[[ $(page_node "$(body_of kill)") == "$victim" ]] || fail "signed in on the wrong node"
	sid=$(page_sid "$(body_of kill)")
	start_loop kill app1 "$out"
	sleep 1
	t_kill=$EPOCHREALTIME
	stop_service "$victim" KILL
	sleep 4
	finish_loops
	read -r total ok lost failed nodes < <(tally "$out")
	measure "$(app_backend) store: $total requests, $failed failed, $lost sent to sign in again (session lost)"
	((lost == 0)) || fail "$lost requests found the session gone"
	((failed == 0)) || fail "$failed requests failed"
	same_session "$out" "$sid" || fail "the center session changed"
	read -r total ok lost failed nodes < <(tally "$out" "$t_kill")
	measure "after SIGKILL of $victim: $total requests, $ok served by $nodes"
	((ok >= 10)) || fail "only $ok answers after the kill"
	[[ $nodes == "$survivor" ]] || fail "after the kill, answers came from $nodes"
}

# ------------------------------------------------------------------ 3

# One sso-server dies between issuing a code and its exchange: the exchange, single sign-on to
# the second app and a new sign-in all go on through the other replica.
scenario_center_node_killed() {
	local source body csrf return_to hops code_host failed=0
	source=$(source_for sso1)
	new_browser center "$source"
	body=$(body_of center)
	browse center --location "https://app1.$DOMAIN/profile"
	on_login_form center || fail "no sign-in form (HTTP $STATUS)"
	csrf=$(form_value csrf_token "$body")
	return_to=$(form_value return_to "$body")
	browse center --data-urlencode "csrf_token=$csrf" --data-urlencode "return_to=$return_to" \
		--data-urlencode "username=alice" --data-urlencode "password=${SECRETS[password]}" \
		"https://sso.$DOMAIN/login"
	# Follow the center's redirects by hand, up to the app's callback carrying the code.
	for ((hops = 0; hops < 5; hops++)); do
		[[ $LOCATION == "https://app1.$DOMAIN/auth/callback?"* ]] && break
		[[ $LOCATION == "https://sso.$DOMAIN/"* ]] || fail "sign-in went astray (HTTP $STATUS to '$LOCATION')"
		browse center "$LOCATION"
	done
	[[ $LOCATION == *code=* ]] || fail "no code issued"
	code_host=$(upstream_of "$source" "GET /authorize")
	measure "code issued by $code_host"
	[[ $code_host == sso1 ]] || fail "the code was issued by $code_host, not sso1"

	stop_service sso1 KILL
	browse center --location "$LOCATION"
	on_profile center || fail "code exchange after sso1 died: HTTP $STATUS at $EFFECTIVE"
	measure "sso1 SIGKILLed, code exchanged by app1 through the other replica"
	sso_to center app2
	measure "single sign-on to app2 with sso1 down: signed in without a password"

	new_browser center-new "$source"
	sign_in center-new app1
	sso_to center-new app2
	measure "new sign-in with sso1 down: app1 then app2 (served by $(upstream_of "$source" "POST /login"))"

	failed=$(($(failures center) + $(failures center-new)))
	measure "$failed requests failed (no answer or a 5xx)"
	((failed == 0)) || fail "$failed requests failed"
}

# ------------------------------------------------------------------ 4

# nginx dies on the box holding the VIP: keepalived moves the VIP to the other box.
scenario_vip_failover() {
	local holder other sid out="$RUN/logs/loop-vip" t_stop t_moved recovered
	local total ok lost failed nodes
	holder=$(vip_holder)
	other=lb2
	[[ $holder == lb2 ]] && other=lb1
	new_browser vip "${CLIENT_SOURCES[0]}"
	sign_in vip app1
	sid=$(page_sid "$(body_of vip)")
	start_loop vip app1 "$out"
	sleep 1
	t_stop=$EPOCHREALTIME
	stop_service "nginx-$holder" TERM
	wait_until 15 "the VIP to move" vip_on "$other" || fail "the VIP did not move to $other"
	t_moved=$EPOCHREALTIME
	wait_until 15 "a request through the VIP" first_ok_after "$out" "$t_stop" ||
		fail "no request succeeded through the VIP after nginx on $holder stopped"
	sleep 1
	finish_loops
	recovered=$(first_ok_after "$out" "$t_stop")
	read -r total ok lost failed nodes < <(tally "$out" "$t_stop")
	measure "nginx stopped on $holder; VIP on $other after $(seconds "$t_stop" "$t_moved") s; requests succeed again after $(seconds "$t_stop" "$recovered") s (target <= 4 s)"
	measure "since the stop: $total requests, $failed failed, $lost sent to sign in again"
	((lost == 0)) || fail "$lost requests found the session gone"
	same_session "$out" "$sid" || fail "the center session changed"
	awk -v s="$(seconds "$t_stop" "$recovered")" 'BEGIN { exit !(s <= 4) }' ||
		fail "requests failed for more than 4 s"

	# nopreempt: the box that comes back must not take the VIP back and cut traffic again.
	start_service "nginx-$holder"
	sleep 3
	[[ $(vip_holder) == "$other" ]] || fail "the VIP went back to $holder when its nginx returned"
	measure "nginx back on $holder: the VIP stays on $other"
}

vip_on() {
	[[ $(vip_holder || true) == "$1" ]]
}

# first_ok_after FILE TIME: the end time of the first successful request started after TIME.
first_ok_after() {
	awk -v since="$2" '$1 >= since && $3 == "ok" { print $2; found = 1; exit }
		END { exit !found }' "$1"
}

# ------------------------------------------------------------------ 5

# Every app node is restarted in turn while two users keep using both apps.
scenario_rolling_restart() {
	local name app pair node t0 lost_total=0 failed_total=0 line="" loop
	local total ok lost failed nodes
	local -A first_sid
	for name in roll1 roll2; do
		new_browser "$name" "${CLIENT_SOURCES[${name#roll}]}"
		sign_in "$name" app1
		first_sid[$name]=$(page_sid "$(body_of "$name")")
		sso_to "$name" app2
	done
	for name in roll1 roll2; do
		for app in app1 app2; do
			# One browser per loop: two loops must not share a cookie jar.
			clone_browser "$name" "$name-$app"
			start_loop "$name-$app" "$app" "$RUN/logs/loop-$(app_backend)-$name-$app"
		done
	done
	sleep 1
	# One node of each app at a time.
	for pair in "app1a app2a" "app1b app2b"; do
		t0=$EPOCHREALTIME
		for node in $pair; do
			stop_service "$node" TERM
		done
		for node in $pair; do
			start_service "$node"
		done
		line+=" ${pair/ /+} $(seconds "$t0" "$EPOCHREALTIME") s;"
		settle
	done
	sleep 1
	finish_loops
	measure "$(app_backend) store: stop to healthy:${line%;}"
	for name in roll1 roll2; do
		for app in app1 app2; do
			loop=$RUN/logs/loop-$(app_backend)-$name-$app
			read -r total ok lost failed nodes < <(tally "$loop")
			lost_total=$((lost_total + lost))
			failed_total=$((failed_total + failed))
			same_session "$loop" "${first_sid[$name]}" ||
				fail "$name on $app: the center session changed"
		done
	done
	measure "4 loops: $(cat "$RUN/logs/loop-$(app_backend)"-roll* | wc -l) requests, $failed_total failed, $lost_total sent to sign in again (session lost)"
	((lost_total == 0)) || fail "$lost_total requests found the session gone, the first at $(first_loss "$RUN/logs/loop-$(app_backend)"-roll*)"
	((failed_total == 0)) || fail "$failed_total requests failed"
}

# first_loss FILE...: the time of day the earliest request that found its session gone started.
first_loss() {
	local first
	first=$(cat -- "$@" | awk '$3 == "lost" { print $1 }' | sort -n | head -n 1)
	date -u -d "@$first" +%T.%3N
}

# ------------------------------------------------------------------ 6

# all_nodes_say STATE APP1_COOKIE APP2_COOKIE: every app node answers STATE (in/out) for the
# user's sessions.
all_nodes_say() {
	local node cookie
	for node in "${APP_NODES[@]}"; do
		cookie=$2
		[[ $node == app2* ]] && cookie=$3
		[[ $(node_profile "$node" "$cookie") == "$1" ]] || return 1
	done
}

# Signing out on one node of app2 signs the user out on every node of app1 and app2, and of
# the center.
scenario_single_logout() {
	local source cookie1 cookie2 node csrf t0 t1
	source=$(source_for app2b)
	new_browser slo "$source"
	sign_in slo app1
	sso_to slo app2
	cookie1=$(session_cookie slo app1)
	cookie2=$(session_cookie slo app2)
	[[ -n $cookie1 && -n $cookie2 ]] || fail "no session cookies"
	wait_until 5 "every node to know the sessions" all_nodes_say in "$cookie1" "$cookie2" ||
		fail "not every node knows the sessions before the logout"

	browse slo "https://app2.$DOMAIN/profile"
	on_profile slo || fail "app2 profile: HTTP $STATUS"
	node=$(page_node "$(body_of slo)")
	csrf=$(form_value csrf_token "$(body_of slo)")
	t0=$EPOCHREALTIME
	browse slo --location --data-urlencode "csrf_token=$csrf" "https://app2.$DOMAIN/auth/logout"
	[[ $STATUS == 200 && $EFFECTIVE == "https://app2.$DOMAIN/" ]] ||
		fail "logout did not come back to app2's home (HTTP $STATUS at $EFFECTIVE)"
	wait_until 15 "every node to drop the sessions" all_nodes_say out "$cookie1" "$cookie2" ||
		fail "some node still has a session 15 s after the logout"
	t1=$EPOCHREALTIME
	measure "$(app_backend) store: logout on $node; app1a app1b app2a app2b all signed out after $(seconds "$t0" "$t1") s"
	browse slo --location "https://app1.$DOMAIN/profile"
	on_login_form slo || fail "app1 did not ask for a new sign-in (HTTP $STATUS at $EFFECTIVE)"
	measure "the center session is over: app1 asks for the password again"
}

# ------------------------------------------------------------------ 7

# Redis stops for a few seconds and comes back (with its append-only file): while it is down
# the center reports not ready and the pages that need a session answer with an error page
# quickly; nothing panics or exits; afterwards everything works again with nothing restarted.
scenario_redis_restart() {
	local sid name pids_before pids_after t0 t1 ready elapsed body
	new_browser redis-user "${CLIENT_SOURCES[2]}"
	sign_in redis-user app1
	sid=$(page_sid "$(body_of redis-user)")
	pids_before=$(for name in "${SSO_NODES[@]}" "${APP_NODES[@]}"; do service_pid "$name"; done)

	t0=$EPOCHREALTIME
	stop_service redis TERM
	redis_pong && fail "Redis still answers"

	browse redis-user "https://app1.$DOMAIN/profile"
	elapsed=$(seconds "$t0" "$EPOCHREALTIME")
	body=$(body_of redis-user)
	measure "Redis down: signed-in page on app1 -> HTTP $STATUS in $elapsed s ($(page_title "$body"))"
	[[ $STATUS == 500 || $STATUS == 503 ]] || fail "app1 answered HTTP $STATUS while Redis was down"
	grep -qiE 'redis|refused|panick' "$body" && fail "the error page shows internal details"

	ready=$(vip_get "${CLIENT_SOURCES[2]}" "https://sso.$DOMAIN/readyz")
	measure "Redis down: center /readyz -> $ready"
	[[ $ready == *'"store":false'* ]] || fail "the center does not report its store down"
	[[ $(vip_get "${CLIENT_SOURCES[2]}" "https://sso.$DOMAIN/healthz") == *ok* ]] ||
		fail "the center does not answer /healthz while Redis is down"

	# The center shows its sign-in form without the store (there is no session to look up);
	# taking the credentials needs it.
	new_browser redis-new "${CLIENT_SOURCES[3]}"
	body=$(body_of redis-new)
	browse redis-new --location "https://app1.$DOMAIN/profile"
	on_login_form redis-new || fail "no sign-in form while Redis was down (HTTP $STATUS)"
	browse redis-new --data-urlencode "csrf_token=$(form_value csrf_token "$body")" \
		--data-urlencode "return_to=$(form_value return_to "$body")" \
		--data-urlencode "username=alice" --data-urlencode "password=${SECRETS[password]}" \
		"https://sso.$DOMAIN/login"
	measure "Redis down: a new sign-in shows the form; submitting it -> HTTP $STATUS ($(page_title "$body"))"
	[[ $STATUS == 5* ]] || fail "submitting the sign-in form answered HTTP $STATUS while Redis was down"
	grep -qiE 'redis|refused|panick' "$body" && fail "the error page shows internal details"

	# Down long enough for every process to have failed and retried its connection.
	sleep "$(awk -v t0="$t0" -v now="$EPOCHREALTIME" 'BEGIN { d = t0 + 3 - now; print (d > 0 ? d : 0) }')"
	for name in "${SSO_NODES[@]}" "${APP_NODES[@]}"; do
		service_alive "$name" || fail "$name exited while Redis was down"
	done

	t1=$EPOCHREALTIME
	start_service redis
	wait_until 20 "the session to work again" session_back redis-user "$sid" ||
		fail "the signed-in user did not get their session back within 20 s"
	measure "Redis down for $(seconds "$t0" "$t1") s; signed-in user served again $(seconds "$t1" "$EPOCHREALTIME") s after Redis restarted, same session"
	wait_until 10 "the center to be ready" center_ready || fail "the center did not become ready again"
	sign_in redis-new app1
	measure "after the restart: center ready, new sign-in works"

	pids_after=$(for name in "${SSO_NODES[@]}" "${APP_NODES[@]}"; do service_pid "$name"; done)
	[[ $pids_before == "$pids_after" ]] || fail "a process was restarted"
	grep -l 'panicked' "$RUN"/logs/*.log && fail "a process panicked"
	measure "no process restarted, no panic in any log"
}

center_ready() {
	[[ $(vip_get "${CLIENT_SOURCES[2]}" "https://sso.$DOMAIN/readyz") == '{"database":true,"store":true}' ]]
}

# session_back NAME SID: NAME's app1 page is served again with the center session SID.
session_back() {
	[[ $(profile "$1" app1) == "ok "*" $2" ]]
}

# ------------------------------------------------------------------ 8, 9, 10: app3, forward auth

# on_app3 NAME USER: the last answer is app3's page, greeting USER.
on_app3() {
	[[ $STATUS == 200 && $EFFECTIVE == "https://app3.$DOMAIN/"* ]] &&
		grep -qF "<code id=\"user\">$2</code>" "$(body_of "$1")"
}

# app3_state NAME: GETs app3 once without following redirects and prints "in" (the page),
# "out" (sent to sign in on app3's /_sso/start) or "fail STATUS".
app3_state() {
	browse "$1" "https://app3.$DOMAIN/"
	if [[ $STATUS == 200 ]]; then
		printf 'in\n'
	elif [[ $STATUS == 302 && $LOCATION == "https://app3.$DOMAIN/_sso/start?"* ]]; then
		printf 'out\n'
	else
		printf 'fail %s\n' "$STATUS"
	fi
}

# submit_login NAME USER: on the center's sign-in form (the last answer), signs in as USER and
# follows the redirects.
submit_login() {
	local body csrf return_to
	body=$(body_of "$1")
	csrf=$(form_value csrf_token "$body")
	return_to=$(form_value return_to "$body")
	browse "$1" --location --data-urlencode "csrf_token=$csrf" \
		--data-urlencode "return_to=$return_to" --data-urlencode "username=$2" \
		--data-urlencode "password=${SECRETS[password]}" "https://sso.$DOMAIN/login"
}

# Signed in at app1, the user opens app3 (nginx auth_request → /_sso/start → the center →
# callback on app3) and is greeted without a password.
scenario_app3_sso() {
	local t0
	new_browser fa-sso "${CLIENT_SOURCES[0]}"
	sign_in fa-sso app1
	t0=$EPOCHREALTIME
	browse fa-sso --location "https://app3.$DOMAIN/"
	on_login_form fa-sso && fail "app3 asked for the password again"
	on_app3 fa-sso alice || fail "app3 did not greet alice (HTTP $STATUS at $EFFECTIVE)"
	grep -qF '<li>staff</li>' "$(body_of fa-sso)" || fail "app3 does not list the group staff"
	measure "app1 -> app3 without a password in $(seconds "$t0" "$EPOCHREALTIME") s; app3 greets alice, groups: staff"
	[[ $(app3_state fa-sso) == in ]] || fail "app3 forgot the session on the next request"
}

# Signed in at app2 and app3, the user signs out on app2: app3's next request is sent to sign
# in. The target is 0.5 s from the moment the logout begins to app3's refusal (the center ends
# the forward-auth sessions with the global session, before it answers the logout).
scenario_app3_single_logout() {
	local csrf t0 t1 t2 state i
	new_browser fa-slo "${CLIENT_SOURCES[1]}"
	sign_in fa-slo app2
	browse fa-slo --location "https://app3.$DOMAIN/"
	on_app3 fa-slo alice || fail "app3 did not greet alice (HTTP $STATUS at $EFFECTIVE)"
	browse fa-slo "https://app2.$DOMAIN/profile"
	on_profile fa-slo || fail "app2 profile: HTTP $STATUS"
	csrf=$(form_value csrf_token "$(body_of fa-slo)")
	t0=$EPOCHREALTIME
	browse fa-slo --location --data-urlencode "csrf_token=$csrf" "https://app2.$DOMAIN/auth/logout"
	t1=$EPOCHREALTIME
	[[ $STATUS == 200 && $EFFECTIVE == "https://app2.$DOMAIN/" ]] ||
		fail "logout did not come back to app2's home (HTTP $STATUS at $EFFECTIVE)"
	# Asks again for up to 5 s, so that a late sign-out is measured too, not only refused.
	for ((i = 0; i < 100; i++)); do
		state=$(app3_state fa-slo)
		[[ $state == in ]] || break
		sleep 0.05
	done
	t2=$EPOCHREALTIME
	[[ $state == out ]] || fail "app3 still answers $state $(seconds "$t1" "$t2") s after the logout"
	measure "app3 sent to sign in $(seconds3 "$t0" "$t2") s after the logout on app2 began (target 0.5 s; the logout itself took $(seconds3 "$t0" "$t1") s)"
	awk -v d="$(seconds3 "$t0" "$t2")" 'BEGIN { exit !(d <= 0.5) }' ||
		fail "app3 signed out later than 0.5 s after the logout began"
}

# A signed-in user outside the allowed group gets app3's 403 page, never app3's.
scenario_app3_forbidden() {
	new_browser fa-bob "${CLIENT_SOURCES[2]}"
	browse fa-bob --location "https://app3.$DOMAIN/"
	on_login_form fa-bob || fail "app3 did not send bob to sign in (HTTP $STATUS at $EFFECTIVE)"
	submit_login fa-bob bob
	[[ $STATUS == 403 && $EFFECTIVE == "https://app3.$DOMAIN/"* ]] ||
		fail "bob got HTTP $STATUS at $EFFECTIVE, not 403 at app3"
	grep -q 'Access denied' "$(body_of fa-bob)" || fail "the 403 is not the Access denied page"
	grep -q 'Hello' "$(body_of fa-bob)" && fail "app3's page reached bob"
	[[ $(app3_state fa-bob) == "fail 403" ]] || fail "bob's next request is not a 403"
	measure "bob (group visitors) signed in: app3 answers 403 Access denied, twice"
}

# seconds3 FROM TO: TO - FROM, with three decimals.
seconds3() {
	awk -v from="$1" -v to="$2" 'BEGIN { printf "%.3f", to - from }'
}
