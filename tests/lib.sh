# tests/lib.sh — sourced by the black-box tests (tests/blackbox/*.t), which
# `make check` runs from the top of the tree with prove and BUILD=<absolute
# build dir>. Bash only; node for the stand-ins and tests/tools/*.mjs.
#
# TAP (numbering and counts survive subshells: they live in files under $T)
#   plan N                  print the plan first (else done_testing prints it)
#   ok CMD [ARG…] DESC      run CMD; ok when it exits 0 (its output is not
#                           hidden: "ok quietly CMD… DESC" discards it —
#                           never redirect ok itself, its TAP line goes too)
#   pass DESC / fail DESC   an unconditional result
#   is GOT WANT DESC        string equality        isnt GOT UNWANTED DESC
#   like GOT PATTERN DESC   PATTERN occurs in GOT as plain text, or matches it
#                           as an extended regular expression (so both
#                           "a (b)" and "^validate" do what they look like)
#   unlike GOT PATTERN DESC neither
#   diag MSG…               "# MSG" on stderr (shown by prove)
#   note MSG…               "# MSG" on stdout (shown by prove -v)
#   skip DESC               an "ok N # skip DESC" line
#   skip_all REASON         "1..0 # SKIP REASON" and exit 0
#   bail_out REASON         "Bail out! REASON" and exit 255
#   done_testing            the plan if not printed yet; returns 1 when any
#                           test failed or the plan was not met — make it the
#                           last command of the test
# Temporary files: $T, a directory removed at exit (kept with TEST_KEEP=1).
#
# Processes (every one is stopped at exit, SIGTERM then SIGKILL after 5 s;
# a watchdog stops them even if the test shell is killed with SIGKILL)
#   bg_start NAME CMD…      start CMD in the background, stdin /dev/null,
#                           stdout to $T/NAME.out, stderr to $T/NAME.err, fds
#                           above 2 closed; sets BG_PID. Servers started here
#                           are children of the test shell: a bare `wait`
#                           would wait for them too — wait for given PIDs
#   stop_pid PID            SIGTERM, wait up to 5 s, SIGKILL; returns the
#                           exit status when PID is a child of this shell
#                           (else 0)
#   wait_for SECS CMD…      poll CMD every 0.05 s until it succeeds (0) or
#                           SECS pass (1)
#   with_timeout SECS CMD…  CMD, killed after SECS (exit 124), stdin kept
#   quietly CMD…            CMD with stdout and stderr discarded
#   start_dynamodb [OPT…]   dynalite (scripts/dynamodb-local OPT…); sets
#                           DDB_URL, DDB_PID; exports AWS_ENDPOINT_URL_DYNAMODB
#   start_sqs [OPT…]        fauxqs (scripts/sqs-local); sets SQS_URL, SQS_PID;
#                           exports AWS_ENDPOINT_URL_SQS
#   start_standins          both, then scripts/provision.sh (table pismo, six
#                           queues)
#   start_front UPSTREAM [OPT…]  tests/tools/http-front.mjs in front of
#                           UPSTREAM; prints its URL (so URL=$(start_front …)
#                           works); also sets FRONT_URL, FRONT_PID when not
#                           called in a subshell
#   front_stat URL KEY      a counter of that front ("" if none yet)
#   stop_front URL          stop that front (its counters stay readable)
# AWS (tests/tools/aws.mjs: SigV4, keep-alive, every call with a timeout)
#   aws_call SERVICE OP JSON   the answer's body; status 1 on an error answer
#   ddb_count TABLE         items in TABLE, following LastEvaluatedKey
#   ddb_scan TABLE          every item, one JSON line each
#   sqs_url QUEUE           the queue's URL
#   sqs_count QUEUE         messages in QUEUE (visible + in flight + delayed)
#   sqs_receive_all QUEUE [WAIT]  every message body, one a line, deleting
#                           them; ends at the first empty receive
#   json_get PATH < JSON    a member (dotted path, e.g. _error.code); strings
#                           bare, anything else as JSON, nothing if absent
# Kafka
#   committed_of FILE [KIND]  "0:N 1:N …" from kcat-in's last stats line of
#                           KIND (final) in FILE that lists partitions
#
# The environment is made hermetic when this file is sourced: the machine's
# AWS settings and proxies are dropped, and fake credentials with region
# us-east-1 are exported (a test may set its own after sourcing).

# --- set-up --------------------------------------------------------------------
_LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BUILD=${BUILD:-$_LIB_ROOT/build}
T=$(mktemp -d "${TMPDIR:-/tmp}/ep-test.XXXXXX") || { echo "Bail out! mktemp failed"; exit 255; }
export T
: > "$T/.tap_n"
: > "$T/.tap_fail"
: > "$T/.pids"
_tap_planned=
_tap_done=

unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB \
	AWS_ENDPOINT_URL_SQS AWS_MAX_ATTEMPTS AWS_RETRY_MODE AWS_CA_BUNDLE AWS_IGNORE_CONFIGURED_ENDPOINT_URLS \
	http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export AWS_ACCESS_KEY_ID=AKIDTESTEXAMPLE
export AWS_SECRET_ACCESS_KEY=fake/secret+for+local+stand-ins
export AWS_REGION=us-east-1
export AWS_SHARED_CREDENTIALS_FILE=$T/no-aws-credentials AWS_CONFIG_FILE=$T/no-aws-config
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost

# --- TAP -----------------------------------------------------------------------
_tap_next() {
	local n
	n=$(($(wc -c < "$T/.tap_n") + 1))
	printf x >> "$T/.tap_n"
	echo "$n"
}
# _tap_result STATUS DESC
_tap_result() {
	local n
	n=$(_tap_next)
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		printf x >> "$T/.tap_fail"
		printf '#   Failed test %s\n' "'$2'" >&2
	fi
	return "$1"
}
_diag_value() { # LABEL VALUE: one "# " line per line of VALUE
	local label=$1 line first=1
	while IFS= read -r line || [ -n "$line" ]; do
		if [ $first = 1 ]; then printf '#   %9s: %s\n' "$label" "$line" >&2; first=0
		else printf '#   %9s  %s\n' '' "$line" >&2; fi
	done <<< "$2"
}

plan() {
	echo "1..$1"
	_tap_planned=$1
}
diag() { local l; while IFS= read -r l; do echo "# $l" >&2; done <<< "$*"; }
note() { local l; while IFS= read -r l; do echo "# $l"; done <<< "$*"; }
pass() { _tap_result 0 "$1"; }
fail() { _tap_result 1 "$1"; }

ok() {
	if [ $# -lt 2 ]; then
		_tap_result 1 "${1:-ok without a command}"
		diag "    ok needs a command and a description: ok CMD [ARG…] DESC"
		return 1
	fi
	local desc=${!#} rc
	"${@:1:$#-1}"
	rc=$?
	_tap_result $rc "$desc" || diag "    exit $rc: ${*:1:$#-1}"
	return $rc
}
is() {
	local rc=0
	[ "$1" == "$2" ] || rc=1
	_tap_result $rc "$3" || { _diag_value got "$1"; _diag_value expected "$2"; }
	return $rc
}
isnt() {
	local rc=0
	[ "$1" != "$2" ] || rc=1
	_tap_result $rc "$3" || _diag_value got "$1"
	return $rc
}
_like_match() { # GOT PATTERN
	[[ $1 == *"$2"* ]] && return 0
	[[ $1 =~ $2 ]] 2> /dev/null
}
like() {
	local rc=0
	_like_match "$1" "$2" || rc=1
	_tap_result $rc "$3" || { _diag_value got "$1"; _diag_value "not like" "$2"; }
	return $rc
}
unlike() {
	local rc=0
	_like_match "$1" "$2" && rc=1
	_tap_result $rc "$3" || { _diag_value got "$1"; _diag_value like "$2"; }
	return $rc
}
skip() {
	echo "ok $(_tap_next) # skip $1"
}
skip_all() {
	echo "1..0 # SKIP $1"
	_tap_done=1
	exit 0
}
bail_out() {
	echo "Bail out! $1"
	_tap_done=1
	exit 255
}
done_testing() {
	local n fails
	n=$(wc -c < "$T/.tap_n")
	fails=$(wc -c < "$T/.tap_fail")
	_tap_done=1
	if [ -z "$_tap_planned" ]; then
		echo "1..$n"
	elif [ "$_tap_planned" != "$n" ]; then
		diag "planned $_tap_planned tests but ran $n"
		return 1
	fi
	if [ "$fails" -gt 0 ]; then
		diag "failed $fails test(s) of $n"
		return 1
	fi
	return 0
}

# --- processes -------------------------------------------------------------------
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}
quietly() { "$@" > /dev/null 2>&1; }
with_timeout() {
	local secs=$1
	shift
	timeout --kill-after=5 "$secs" "$@"
}

# The watchdog: a bash loop (no child processes of its own) that stops
# everything in $T/.pids when the test shell is gone without its EXIT trap.
# Started through a subshell that exits at once, so it is not a child of the
# test shell and a test's bare `wait` does not wait for it.
_lib_watchdog() {
	[ -n "${_LIB_WD_PID:-}" ] && return
	local shell=$$ i
	( (
		trap '' INT TERM HUP
		echo "$BASHPID" > "$T/.wd.pid"
		# A read with a timeout on a FIFO nobody writes: a sleep without a
		# child process.
		if mkfifo "$T/.wd" 2> /dev/null && exec 3<> "$T/.wd"; then
			tick() { read -r -t "$1" -u 3 _wd_line; }
		else
			tick() { sleep "$1"; }
		fi
		while kill -0 "$shell" 2> /dev/null; do tick 1; done
		while read -r p; do [ -n "$p" ] && kill -TERM "$p" 2> /dev/null; done < "$T/.pids"
		tick 3
		while read -r p; do [ -n "$p" ] && kill -KILL "$p" 2> /dev/null; done < "$T/.pids"
		[ "${TEST_KEEP:-0}" = 1 ] || rm -rf "$T"
	) < /dev/null > /dev/null 2>&1 & )
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/.wd.pid" ] && break
		sleep 0.01
	done
	_LIB_WD_PID=$(cat "$T/.wd.pid" 2> /dev/null)
}

bg_start() {
	local name=$1
	shift
	(
		# Fds above 2 (a test's FIFOs, the TAP pipe duplicates) must not
		# stay open in a long-lived server: a reader would never see EOF.
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] 2> /dev/null && eval "exec $fd>&-" 2> /dev/null
		done
		exec "$@"
	) < /dev/null > "$T/$name.out" 2> "$T/$name.err" &
	BG_PID=$!
	echo "$BG_PID" >> "$T/.pids"
}

stop_pid() {
	local pid=$1 i rc=0 child=0
	[ -n "$pid" ] || return 0
	jobs -p | grep -qx "$pid" && child=1
	kill -TERM "$pid" 2> /dev/null || {
		[ $child = 1 ] && { wait "$pid" 2> /dev/null; return; }
		return 0
	}
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2> /dev/null || break
		# A child of this shell stays a zombie (kill -0 succeeds) until
		# waited for: reap it as soon as it is done.
		if [ "$(ps -o stat= -p "$pid" 2> /dev/null)" = Z ]; then break; fi
		sleep 0.05
	done
	kill -0 "$pid" 2> /dev/null && [ "$(ps -o stat= -p "$pid" 2> /dev/null)" != Z ] &&
		kill -KILL "$pid" 2> /dev/null
	if [ $child = 1 ]; then
		wait "$pid" 2> /dev/null
		rc=$?
	fi
	sed -i "/^$pid\$/d" "$T/.pids" 2> /dev/null
	return $rc
}

_lib_exit() {
	local rc=$? p
	if [ -z "$_tap_done" ] && [ -s "$T/.tap_n" ]; then
		diag "exited with status $rc after $(wc -c < "$T/.tap_n") tests, before done_testing"
	fi
	if [ -s "$T/.pids" ]; then
		while read -r p; do [ -n "$p" ] && stop_pid "$p"; done < <(tac "$T/.pids")
	fi
	[ -n "${_LIB_WD_PID:-}" ] && kill -KILL "$_LIB_WD_PID" 2> /dev/null
	if [ "${TEST_KEEP:-0}" = 1 ]; then
		echo "# kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap _lib_exit EXIT
_lib_watchdog

# _first_line FILE PID SECS NAME: the first line of FILE once it is there.
_lib_first_line() {
	local f=$1 pid=$2 end=$((SECONDS + $3))
	until [ -s "$f" ] && [ "$(wc -l < "$f")" -ge 1 ]; do
		if ! kill -0 "$pid" 2> /dev/null; then
			diag "$4 exited before it was ready: $(tail -3 "${f%.out}.err" 2> /dev/null)"
			return 1
		fi
		if [ $SECONDS -ge $end ]; then
			diag "$4 not ready after $3 s: $(tail -3 "${f%.out}.err" 2> /dev/null)"
			return 1
		fi
		sleep 0.05
	done
	head -1 "$f"
}

_lib_n=0
start_dynamodb() {
	_lib_n=$((_lib_n + 1))
	bg_start "dynamodb.$_lib_n" "$_LIB_ROOT/scripts/dynamodb-local" "$@"
	DDB_PID=$BG_PID
	DDB_URL=$(_lib_first_line "$T/dynamodb.$_lib_n.out" "$DDB_PID" 30 dynamodb-local) || return 1
	export AWS_ENDPOINT_URL_DYNAMODB=$DDB_URL
}
start_sqs() {
	_lib_n=$((_lib_n + 1))
	bg_start "sqs.$_lib_n" "$_LIB_ROOT/scripts/sqs-local" "$@"
	SQS_PID=$BG_PID
	SQS_URL=$(_lib_first_line "$T/sqs.$_lib_n.out" "$SQS_PID" 30 sqs-local) || return 1
	export AWS_ENDPOINT_URL_SQS=$SQS_URL
}
start_standins() {
	start_dynamodb || return 1
	start_sqs || return 1
	with_timeout 120 "$_LIB_ROOT/scripts/provision.sh" > "$T/provision.out" 2> "$T/provision.err" || {
		diag "provision.sh failed: $(cat "$T/provision.err")"
		return 1
	}
}

# Fronts keep their files in $T/front-PORT/ (pid, stats, err), so that a front
# started in $(…) can be read and stopped by its URL.
start_front() {
	local upstream=$1 dir url
	shift
	dir=$(mktemp -d "$T/front.XXXXXX")
	bg_start "${dir##*/}" node "$_LIB_ROOT/tests/tools/http-front.mjs" --upstream "$upstream" \
		--stats-file "$dir/stats" "$@"
	echo "$BG_PID" > "$dir/pid"
	url=$(_lib_first_line "$T/${dir##*/}.out" "$BG_PID" 30 http-front) || return 1
	ln -s "$dir" "$T/front-${url##*:}"
	ln -s "../${dir##*/}.err" "$dir/err"
	FRONT_URL=$url FRONT_PID=$BG_PID
	echo "$url"
}
front_stat() {
	local f="$T/front-${1##*:}/stats"
	[ -s "$f" ] && json_get "$2" < "$f"
}
stop_front() {
	local f="$T/front-${1##*:}/pid"
	[ -s "$f" ] && stop_pid "$(cat "$f")"
	return 0
}

# --- Kafka --------------------------------------------------------------------
# committed_of FILE [KIND]: "0:N 1:N …", kcat-in's committed offsets from its
# last stats line of KIND (final) in FILE that lists partitions (a line
# written before the assignment or after a revoke lists none); nothing when
# there is none.
committed_of() {
	grep "\"prog\":\"kcat-in\",\"stats\":\"${2:-final}\"" "$1" 2> /dev/null | perl -MJSON::PP -ne '
		my $p = decode_json($_)->{partitions};
		$last = join(" ", map { "$_->{partition}:$_->{committed}" }
			sort { $a->{partition} <=> $b->{partition} } @$p) if @$p;
		END { print $last if defined $last }'
}

# --- AWS ----------------------------------------------------------------------
_aws() { node "$_LIB_ROOT/tests/tools/aws.mjs" "$@"; }
aws_call() { _aws call "$@"; }
ddb_count() { _aws ddb-count "$1"; }
ddb_scan() { _aws ddb-scan "$1"; }
sqs_url() { _aws sqs-url "$1"; }
sqs_count() { _aws sqs-count "$1"; }
sqs_receive_all() { _aws sqs-drain "$1" "${2:-1}"; }

json_get() {
	node -e '
		let d = "";
		process.stdin.on("data", (c) => (d += c)).on("end", () => {
			let v;
			try {
				v = JSON.parse(d);
			} catch (e) {
				process.stderr.write("json_get: not JSON: " + d.slice(0, 200) + "\n");
				process.exit(1);
			}
			for (const k of process.argv[1].split(".")) v = v == null ? undefined : v[k];
			if (v !== undefined) process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
		});' "$1"
}
