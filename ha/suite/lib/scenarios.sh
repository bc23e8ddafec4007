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

# start_signin_loop OUT: signin_loop in the background, remembered for stop_loops.
start_signin_loop() {
	signin_loop "$1" "$RUN/stop-loops" &
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

# vip_switch NAME SOURCE WHAT TARGET COMMAND...: signs NAME in at app1 from SOURCE and, while
# its probe loops run, runs COMMAND with the VIP holder's name added, which is to take the VIP
# from it. Measures when the VIP is on the other box and when requests succeed again (target:
# within TARGET s); WHAT says what COMMAND did, for the figures. Sets VIP_FROM and VIP_TO.
vip_switch() {
	local name=$1 source=$2 what=$3 target=$4 sid out=$RUN/logs/loop-$1 t0 t_moved recovered
	local total ok lost failed nodes
	shift 4
	VIP_FROM=$(vip_holder)
	VIP_TO=$(other_lb "$VIP_FROM")
	new_browser "$name" "$source"
	sign_in "$name" app1
	sid=$(page_sid "$(body_of "$name")")
	start_loops "$name" app1 "$out"
	sleep 1
	t0=$EPOCHREALTIME
	"$@" "$VIP_FROM"
	wait_until 15 "the VIP to move" has_vip "$VIP_TO" || fail "the VIP did not move to $VIP_TO"
	t_moved=$EPOCHREALTIME
	wait_until 15 "a request through the VIP" recovered_after "$out" "$t0" ||
		fail "no request succeeded through the VIP after $what on $VIP_FROM"
	sleep 1
	finish_loops
	recovered=$(seconds3 "$t0" "$(recovered_after "$out" "$t0")")
	read -r total ok lost failed nodes < <(tally "$out" "$t0")
	measure "$what on $VIP_FROM; VIP on $VIP_TO after $(seconds3 "$t0" "$t_moved") s; requests succeed again after $recovered s (target <= $target s)"
	measure "since then: $total requests, $failed failed, $lost sent to sign in again"
	((lost == 0)) || fail "$lost requests found the session gone"
	same_session "$out" "$sid" || fail "the center session changed"
	awk -v s="$recovered" -v target="$target" 'BEGIN { exit !(s <= target) }' ||
		fail "requests failed for more than $target s"
}

# nginx dies on the box holding the VIP: keepalived (the track file nginx/supervise_nginx.sh
# writes as nginx exits) gives the VIP up at once, and the other box takes it.
scenario_vip_failover() {
	vip_switch vip "${CLIENT_SOURCES[0]}" "nginx stopped" 1 stop_service_on nginx TERM
	# nopreempt: the box that comes back must not take the VIP back and cut traffic again.
	start_service "nginx-$VIP_FROM"
	sleep 3
	[[ $(vip_holder) == "$VIP_TO" ]] ||
		fail "the VIP went back to $VIP_FROM when its nginx returned"
	measure "nginx back on $VIP_FROM: the VIP stays on $VIP_TO"
}

# stop_service_on SERVICE SIGNAL LB: stop_service SERVICE-LB SIGNAL.
stop_service_on() {
	stop_service "$1-$3" "$2"
}

# The load balancer that is not LB.
other_lb() {
	[[ $1 == lb1 ]] && printf 'lb2' || printf 'lb1'
}

# start_loops NAME APP OUT: three probe loops of clones of NAME, a little apart, into OUT-1..3.
# A request caught by the switch (its SYN sent to the box that just gave the VIP up, which drops
# it) waits for its connect timeout, 0.3 s here (a browser sends the SYN again after 1 s), and
# fails; the other loops go on meanwhile and see when new requests succeed again.
start_loops() {
	local n
	for n in 1 2 3; do
		clone_browser "$1" "$1-$n"
		CONNECT_TIMEOUT=0.3 start_loop "$1-$n" "$2" "$3-$n"
		sleep 0.05
	done
}

# recovered_after OUT TIME: merges the lines of the loops OUT-1..3 into OUT (by start time) and
# prints when the first request started after TIME ended with a page.
recovered_after() {
	sort -n -- "$1"-[123] >"$1"
	first_ok_after "$1" "$2"
}

# has_vip LB: LB's interface carries the VIP.
has_vip() {
	ip -n "$(ns "$1")" -4 -o addr show dev eth0 | grep -qF " $VIP/"
}

# ------------------------------------------------------------------ 5

# The VIP holder's link is cut (its cable, as seen from the bridge): no goodbye advert, so the
# other box takes over when its master-down timer runs out (3 adverts missed plus its skew).
scenario_vip_link_cut() {
	local lb holders=""
	vip_switch cut "${CLIENT_SOURCES[1]}" "link cut" 1.5 link_down
	# The box that comes back neither takes the VIP back nor keeps a copy of its own.
	ip -n "$(ns br)" link set "$VIP_FROM" up
	sleep 2
	for lb in "${LBS[@]}"; do
		! has_vip "$lb" || holders+=" $lb"
	done
	[[ $holders == " $VIP_TO" ]] || fail "after the link came back the VIP is on:${holders:- none}"
	measure "link of $VIP_FROM back: the VIP stays on $VIP_TO alone"
}

# link_down HOST: cuts HOST's link into the bridge (links_up mends it).
link_down() {
	ip -n "$(ns br)" link set "$1" down
}

# first_ok_after FILE TIME: the end time of the first successful request started after TIME.
first_ok_after() {
	awk -v since="$2" '$1 >= since && $3 == "ok" { print $2; found = 1; exit }
		END { exit !found }' "$1"
}

# ------------------------------------------------------------------ 6

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

# ------------------------------------------------------------------ 7

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

# ------------------------------------------------------------------ 8, 9, 10: Redis under Sentinel

# What scenario 8 leaves for scenario 9.
FAILOVER=$RUN/failover

# The pids of the centers and the app nodes, one line.
node_pids() {
	local name
	for name in "${SSO_NODES[@]}" "${APP_NODES[@]}"; do
		printf '%s ' "$(service_pid "$name")"
	done
}

primary_is() {
	[[ $(redis_primary || true) == "$1" ]]
}

# first_signin_after FILE TIME: the end time of the first sign-in of a signin_loop started after
# TIME that worked.
first_signin_after() {
	awk -v since="$2" '$1 >= since && $4 == "ok" { print $2; found = 1; exit }
		END { exit !found }' "$1"
}

# session_alive NAME: NAME's app1 session still serves its page, and its center session signs it
# in at app2 without a password.
session_alive() {
	[[ $(profile "$1" app1) == ok* ]] || return 1
	browse "$1" --location "https://app2.$DOMAIN/profile"
	on_profile "$1"
}

# check_sessions FILE FROM TO: of the sign-ins of a signin_loop in FILE, those that worked and
# ended at FROM or later and before TO: prints how many there are and how many of them have lost
# their app1 or center session.
check_sessions() {
	local start end name result checked=0 lost=0
	while read -r start end name result <&3; do
		[[ $result == ok ]] || continue
		awk -v end="$end" -v from="$2" -v to="$3" 'BEGIN { exit !(end >= from && end < to) }' ||
			continue
		checked=$((checked + 1))
		session_alive "$name" || lost=$((lost + 1))
	done 3<"$1"
	printf '%d %d\n' "$checked" "$lost"
}

# session_keys NODE: the session keys (the center's and the apps') in Redis on NODE, sorted.
session_keys() {
	redis_cli "$1" --scan --pattern '*:s:*' | sort
}

# keys_present NODE FILE: how many of the keys listed in FILE Redis on NODE holds.
keys_present() {
	local keys
	mapfile -t keys <"$2"
	redis_cli "$1" EXISTS "${keys[@]}"
}

same_session_keys() {
	[[ $(session_keys "$1") == "$(session_keys "$2")" ]]
}

# The Redis primary is SIGKILLed while a signed-in user browses and new users sign in, one after
# another. Sentinel promotes the replica; meanwhile pages that need a session answer with an
# error page, nothing exits, and afterwards every session made before the kill is still there.
# Then a user signs out while the old primary is still down: scenario 9 checks that it stays so.
scenario_redis_primary_killed() {
	local primary replica sid t_kill t_promoted recovered pids_before cookie1 cookie2
	local out_user=$RUN/logs/loop-redis-user out_new=$RUN/logs/loop-redis-signins
	local total ok lost failed nodes odd signins signins_failed checked gone
	primary=$(redis_primary) || fail "no Sentinel names a primary"
	replica=$(other_redis "$primary")
	rm -rf -- "$FAILOVER"
	mkdir -p "$FAILOVER"
	new_browser gone "${CLIENT_SOURCES[3]}"
	sign_in gone app1
	sso_to gone app2
	new_browser browsing "${CLIENT_SOURCES[2]}"
	sign_in browsing app1
	sid=$(page_sid "$(body_of browsing)")
	pids_before=$(node_pids)
	start_loop browsing app1 "$out_user"
	start_signin_loop "$out_new"
	sleep 3

	t_kill=$EPOCHREALTIME
	stop_service "$primary" KILL
	wait_until 20 "Sentinel to promote $replica" primary_is "$replica" ||
		fail "no Sentinel named $replica the primary within 20 s"
	t_promoted=$EPOCHREALTIME
	wait_until 20 "a page served again" first_ok_after "$out_user" "$t_kill" ||
		fail "the signed-in user's page did not work again within 20 s"
	wait_until 20 "a sign-in to work again" first_signin_after "$out_new" "$t_kill" ||
		fail "no sign-in worked within 20 s of the kill"
	sleep 1
	finish_loops
	recovered=$(first_ok_after "$out_user" "$t_kill")
	read -r total ok lost failed nodes < <(tally "$out_user" "$t_kill")
	measure "SIGKILL of the primary $primary: Sentinel named $replica after $(seconds "$t_kill" "$t_promoted") s; the signed-in user's pages work again after $(seconds "$t_kill" "$recovered") s, a new sign-in after $(seconds "$t_kill" "$(first_signin_after "$out_new" "$t_kill")") s"
	signins=$(awk -v since="$t_kill" '$1 >= since' "$out_new" | wc -l)
	signins_failed=$(awk -v since="$t_kill" '$1 >= since && $4 != "ok"' "$out_new" | wc -l)
	measure "since the kill: $total page requests, $failed failed, $lost sent to sign in again; $signins sign-ins, $signins_failed failed"
	((lost == 0)) || fail "$lost requests found the session gone"
	same_session "$out_user" "$sid" || fail "the center session changed"
	odd=$(awk -v since="$t_kill" '$1 >= since && $3 == "fail" && $4 != 500 && $4 != 503' \
		"$out_user" | wc -l)
	((odd == 0)) || fail "$odd requests failed otherwise than with a 500 or 503 page"
	[[ $(node_pids) == "$pids_before" ]] || fail "a center or app node was restarted"
	grep -l 'panicked' "$RUN"/logs/*.log && fail "a process panicked"

	read -r checked gone < <(check_sessions "$out_new" 0 "$(awk -v t="$t_kill" 'BEGIN { printf "%.6f", t - 1 }')")
	measure "sessions made more than 1 s before the kill: $checked, $gone lost (target 0)"
	((checked > 0)) || fail "no sign-in worked before the kill"
	((gone == 0)) || fail "$gone sessions made more than 1 s before the kill are gone"
	read -r checked gone < <(check_sessions "$out_new" "$(awk -v t="$t_kill" 'BEGIN { printf "%.6f", t - 1 }')" "$t_kill")
	measure "sessions made in the last second before the kill: $checked, $gone lost"

	# A single logout while the old primary is down.
	cookie1=$(session_cookie gone app1)
	cookie2=$(session_cookie gone app2)
	session_keys "$replica" >"$FAILOVER/keys-before"
	browse gone "https://app2.$DOMAIN/profile"
	on_profile gone || fail "app2 profile: HTTP $STATUS"
	browse gone --location --data-urlencode "csrf_token=$(form_value csrf_token "$(body_of gone)")" \
		"https://app2.$DOMAIN/auth/logout"
	wait_until 10 "every node to drop the sessions" all_nodes_say out "$cookie1" "$cookie2" ||
		fail "the logout during the failover did not end the sessions on every node"
	session_keys "$replica" >"$FAILOVER/keys-after"
	comm -23 "$FAILOVER/keys-before" "$FAILOVER/keys-after" >"$FAILOVER/deleted"
	[[ -s $FAILOVER/deleted ]] || fail "the logout deleted no session key"
	measure "single logout while $primary is down: $(wc -l <"$FAILOVER/deleted") session keys deleted on $replica"
	printf '%s\n' "$primary" >"$FAILOVER/old-primary"
	printf '%s\n%s\n' "$cookie1" "$cookie2" >"$FAILOVER/cookies"
	printf '%s\n' "$t_kill" >"$FAILOVER/t-kill"
	keep_down "$primary"
}

# The old primary comes back as it was configured, a primary, with its append-only file, which
# still holds the sessions ended during the failover. Sentinel makes it a replica of the new
# primary, which replaces its data: nothing signed out comes back, nothing is lost.
scenario_old_primary_returns() {
	local old primary t0 stale n cookie1 cookie2 t_kill checked gone
	old=$(cat "$FAILOVER/old-primary" 2>/dev/null || true)
	keep_down
	[[ -n $old ]] || fail "scenario 8 left no old primary"
	{ read -r cookie1 && read -r cookie2; } <"$FAILOVER/cookies"
	t_kill=$(<"$FAILOVER/t-kill")
	primary=$(redis_primary) || fail "no Sentinel names a primary"
	[[ $primary != "$old" ]] || fail "the Sentinels still name $old"
	n=$(wc -l <"$FAILOVER/deleted")

	t0=$EPOCHREALTIME
	start_redis "$old" primary
	stale=$(keys_present "$old" "$FAILOVER/deleted")
	measure "$old restarted as a primary from its append-only file, holding $stale of the $n session keys the logout deleted"
	((stale > 0)) || fail "$old came back without the deleted keys: nothing to resurrect, nothing checked"
	wait_until 40 "Sentinel to make $old a replica of $primary" redis_replica_of "$old" "$primary" ||
		fail "$old is not a replica of $primary 40 s after its restart"
	measure "Sentinel made $old a replica of $primary after $(seconds "$t0" "$EPOCHREALTIME") s"
	wait_until 10 "$old to hold what $primary holds" same_session_keys "$old" "$primary" ||
		fail "$old and $primary hold different session keys"
	stale=$(($(keys_present "$old" "$FAILOVER/deleted") + $(keys_present "$primary" "$FAILOVER/deleted")))
	((stale == 0)) || fail "$stale deleted session keys are back"
	primary_is "$primary" || fail "the Sentinels no longer name $primary"
	all_nodes_say out "$cookie1" "$cookie2" || fail "an app node serves the signed-out user again"
	browse gone --location "https://app1.$DOMAIN/profile"
	on_login_form gone || fail "the signed-out user's center session is back (HTTP $STATUS at $EFFECTIVE)"
	read -r checked gone < <(check_sessions "$RUN/logs/loop-redis-signins" 0 "$t_kill")
	((gone == 0)) || fail "$gone of the $checked sessions made before the kill are gone"
	[[ $(profile browsing app1) == "ok "* ]] || fail "the browsing user lost the session"
	measure "$old and $primary hold the same $(session_keys "$primary" | wc -l) session keys, none of the deleted ones; the signed-out user stays out on every node and at the center; the $checked sessions made before the kill still work"
}

# One Sentinel dies (the first one every center and app lists): nothing changes. The other two
# still reach the quorum and a majority for a failover, a signed-in user browses on, an app node
# restarted meanwhile finds the primary through them, and new users sign in.
scenario_one_sentinel_down() {
	local down=${SENTINELS[0]} quorum cookie out=$RUN/logs/loop-sentinel
	local total ok lost failed nodes
	stop_service "$down" KILL
	# The others count it out once it has not answered for down-after-milliseconds.
	wait_until 10 "${SENTINELS[1]} to see $down down" sentinel_says "${SENTINELS[1]}" \
		SENTINEL ckquorum "$SENTINEL_SERVICE" "OK 2 usable Sentinels" ||
		fail "${SENTINELS[1]} does not report 2 usable Sentinels able to authorize a failover"
	quorum=$(redis_cli "${SENTINELS[1]}" SENTINEL ckquorum "$SENTINEL_SERVICE" 2>&1 || true)
	measure "$down SIGKILLed; ${SENTINELS[1]}: $quorum"
	# The user's requests go to app1b; app1a restarts beside them.
	new_browser sentinel-user "$(source_for app1b)"
	sign_in sentinel-user app1
	cookie=$(session_cookie sentinel-user app1)
	start_loop sentinel-user app1 "$out"
	stop_service app1a TERM
	start_service app1a
	[[ $(node_profile app1a "$cookie") == in ]] ||
		fail "app1a, restarted with $down down, does not find the user's session"
	new_browser sentinel-new "${CLIENT_SOURCES[4]}"
	sign_in sentinel-new app2
	sleep 0.5
	finish_loops
	read -r total ok lost failed nodes < <(tally "$out")
	measure "with $down down: app1a restarted and serves the signed-in user, a new user signs in; the user's $total requests meanwhile: $failed failed, $lost sent to sign in again"
	((failed == 0 && lost == 0)) || fail "$failed requests failed, $lost lost the session"
	start_service "$down"
}

# ------------------------------------------------------------------ 11, 12, 13: app3, forward auth

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

# ------------------------------------------------------------------ 14: PostgreSQL stops

# stop_pg: stops the suite's PostgreSQL (fast shutdown: its sessions are cut at once).
stop_pg() {
	(cd "$RUN/pg" && runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$RUN/pg/data" stop \
		-m fast -s)
}

# profile_is NAME APP WHAT: `profile` of APP says WHAT first ("ok" or "lost").
profile_is() {
	[[ $(profile "$1" "$2") == "$3"* ]]
}

# PostgreSQL stops for a few seconds. Meanwhile a signed-in user's pages on app1 and app2 work,
# silent sign-in to app2 works, a new password sign-in gets the try-again page, and a logout
# ends the center session at once; once PostgreSQL is back the logout reaches app1.
scenario_database_down() {
	local t0 t1 t2 worked=()
	# Whatever happens, the next scenarios find PostgreSQL running.
	trap 'stop_loops; service_alive pg || start_pg' EXIT
	new_browser nodb "${CLIENT_SOURCES[3]}"
	new_browser nodb-new "${CLIENT_SOURCES[4]}"
	sign_in nodb app1
	t0=$EPOCHREALTIME
	stop_pg
	# The centers probe the database every second: let them find it gone before users do.
	sleep 4
	profile_is nodb app1 ok || fail "app1's page failed without the database"
	worked+=("app1 page")
	sso_to nodb app2
	worked+=("silent sign-in to app2")
	profile_is nodb app2 ok || fail "app2's page failed without the database"
	worked+=("app2 page")
	browse nodb-new --location "https://app1.$DOMAIN/profile"
	on_login_form nodb-new || fail "no sign-in form for a new user (HTTP $STATUS at $EFFECTIVE)"
	submit_login nodb-new alice
	[[ $STATUS == 503 ]] || fail "a new password sign-in got HTTP $STATUS, not 503"
	grep -q 'try again' "$(body_of nodb-new)" || fail "the 503 is not the try-again page"
	worked+=("new password sign-in: 503 try-again page")
	browse nodb "https://app2.$DOMAIN/profile"
	browse nodb --location --data-urlencode "csrf_token=$(form_value csrf_token "$(body_of nodb)")" \
		"https://app2.$DOMAIN/auth/logout"
	[[ $STATUS == 200 && $EFFECTIVE == "https://app2.$DOMAIN/" ]] ||
		fail "logout did not come back to app2's home (HTTP $STATUS at $EFFECTIVE)"
	browse nodb --location "https://app2.$DOMAIN/profile"
	on_login_form nodb || fail "after the logout app2 signed in again (HTTP $STATUS at $EFFECTIVE)"
	worked+=("logout: center session ended at once")
	t1=$EPOCHREALTIME
	start_pg
	wait_until 15 "app1 to receive the logout" profile_is nodb app1 lost ||
		fail "app1 still signed in 15 s after PostgreSQL came back"
	t2=$EPOCHREALTIME
	worked+=("logout delivered to app1 $(seconds "$t1" "$t2") s after PostgreSQL came back")
	measure "PostgreSQL down $(seconds "$t0" "$t1") s; worked: $(IFS=';'; printf '%s' "${worked[*]}" | sed 's/;/; /g')"
}
