# bench/lib.bash — what the benchmarks share; each bench/*.sh sources it
# once it has changed to the top of the tree. It is not a benchmark itself:
# bench/run takes every bench/*.sh for one, and ending this file in .bash
# keeps it out of that glob, where a lib.sh would need an exception in
# bench/run (and in its --list, and in `bench/run lib`). Bash only.
#
#   say MSG…             "bench/NAME: MSG" on stderr, NAME being the
#                        benchmark's (persist for bench/persist.sh)
#   die MSG…             say, then exit 1
#   whole_numbers VAR…   die unless every named variable holds a whole number
#   need_built FILE…     die unless every FILE is there and executable
#   find_timer           prints /usr/bin/time, or nothing after saying that
#                        peak RSS figures will be missing
#   median N… / minimum N… / maximum N…   of whole numbers (a median of an
#                        even count is the mean of the middle two, rounded down)
#   stat_of FILE KEY     a number from the last final stats line in FILE
#   stamp                filter: each line prefixed with the time it was read
#                        (µs since the epoch)
#   now_us               prints the time (µs since the epoch)
#   cpu_model            the CPU's model name, for the tables' headings
#   tests_lib [e2e]      sources tests/lib.sh (and tests/lib-e2e.sh): the
#                        stand-ins, fronts, a hermetic AWS environment and
#                        the clean-up of every process started, at exit
#   check_batched_counts, record_run K, medians   for bench/persist.sh and
#                        bench/route.sh (see below)
#   BENCH_AWK            awk functions for the printed tables (see below)

BENCH_NAME=${0##*/}
BENCH_NAME=${BENCH_NAME%.sh}

say() { echo "bench/$BENCH_NAME: $*" >&2; }
die() {
	say "$@"
	exit 1
}

whole_numbers() {
	local _v
	for _v; do
		[[ ${!_v} =~ ^[0-9]+$ ]] || die "$_v: '${!_v}' is not a whole number"
	done
}

need_built() {
	local _f
	for _f; do
		[ -x "$_f" ] || die "$_f is missing: run make all (make bench does)"
	done
}

find_timer() {
	if [ -x /usr/bin/time ]; then
		echo /usr/bin/time
	else
		say "/usr/bin/time missing (apt-get install time): no peak RSS"
	fi
}

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
minimum() { printf '%s\n' "$@" | sort -n | head -1; }
maximum() { printf '%s\n' "$@" | sort -n | tail -1; }

stat_of() { grep '"stats":"final"' "$1" | tail -1 | grep -o "\"$2\":[0-9.]*" | cut -d: -f2; }

stamp() { perl -MTime::HiRes=time -ne 'BEGIN { $| = 1 } printf "%d %s", time() * 1e6, $_'; }
now_us() { echo $(($(date +%s%N) / 1000)); }

cpu_model() { grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'; }

# Sourced without -e: the tests' watchdog and clean-up are written for a
# shell that goes on after a failed command. Sourced from inside a function,
# which is safe only because neither file declares a variable (declare or
# local at their top level would make it local to this function).
tests_lib() {
	set +e
	# shellcheck source=../tests/lib.sh
	source tests/lib.sh
	# shellcheck source=../tests/lib-e2e.sh
	[ "${1:-}" = e2e ] && source tests/lib-e2e.sh
	set -e
	trap 'set +e; _lib_exit' EXIT
}

# check_batched_counts: the counts bench/persist.sh and bench/route.sh both
# take from the environment (RUNS, N, BASE_N, BASE_FRONT_N), in range.
# shellcheck disable=SC2153 # set by the benchmark that calls it
check_batched_counts() {
	[ "$RUNS" -ge 1 ] && [ "$N" -ge 1000 ] && [ "$BASE_N" -ge 100 ] && [ "$BASE_FRONT_N" -ge 100 ] ||
		die "BENCH_RUNS must be >= 1, BENCH_EVENTS >= 1000, the baselines' counts >= 100"
	[ "$BASE_N" -le "$N" ] && [ "$BASE_FRONT_N" -le "$N" ] || die "the baselines' counts must not exceed BENCH_EVENTS"
}

# The batched cases of bench/persist.sh and bench/route.sh run in rounds,
# every case once a round, so that whatever else slows the shared machine
# for a while slows every case alike instead of the one that happened to be
# running. After each run of case K (from 0), record_run K files the figures
# the run left in RUN_US and, where it has them, RUN_REQ (requests made),
# RUN_N (the events those requests carried) and RUN_RSS (peak kB), and
# clears them for the next run. Once the rounds are done, medians sets for
# each case CASE_US[K], the median RUN_US. Kept as they come: CASE_REQ[K]
# and CASE_N[K] from the run with the most requests (the worst one for
# requests per event), CASE_RSS[K] the highest.
record_run() {
	local k=$1
	: "${CASE_REQ[k]:=0}" "${CASE_N[k]:=0}" "${CASE_RSS[k]:=0}"
	_case_us[k]+=" $RUN_US"
	[ "${RUN_REQ:-0}" -gt "${CASE_REQ[k]}" ] && CASE_REQ[k]=$RUN_REQ CASE_N[k]=${RUN_N:-0}
	[ "${RUN_RSS:-0}" -gt "${CASE_RSS[k]}" ] && CASE_RSS[k]=$RUN_RSS
	RUN_US=0 RUN_REQ=0 RUN_N=0 RUN_RSS=0
}
medians() {
	local k
	for k in "${!_case_us[@]}"; do
		# shellcheck disable=SC2086 # the run times, one word each
		CASE_US[k]=$(median ${_case_us[k]})
	done
}
# shellcheck disable=SC2034 # read by the benchmarks
declare -a _case_us=() CASE_US=() CASE_REQ=() CASE_N=() CASE_RSS=()

# awk functions for the tables, to put before a program's own text:
#   awk -v … "$BENCH_AWK"'BEGIN { … }'
#   comma(x)          x rounded, with thousands separators: 1,234,567
#   mb(kb)            "12.3 MB", or "n/a" when not measured (0)
#   pass_or_miss(ok)  "PASS" or "MISS"
# The batched/one-at-a-time tables of bench/persist.sh and bench/route.sh:
#   runs_note(runs, bn, bfn, unit)   how the figures were taken
#   table_head(unit, per, rss)       the column names; a peak RSS column too
#                                    when rss is true
#   row(name, cnt, us, q, c, rss)    one case: cnt events in us µs with q
#                                    requests carrying c events; rss, the
#                                    peak RSS column's text, only when the
#                                    table has one
#   front_heading(delay)             the heading of the rows behind the front
#   batching(where, delay, straight, front, min)   the ratios of batched to
#                                    one-at-a-time events/s; behind the front
#                                    it must be at least min
#   per_request(what, rq, max)       requests per event at load, at most max
#   target_line(figure, target, ok)  a figure with its target and PASS/MISS,
#                                    held until target_lines() prints them
#                                    all with their targets lined up (two
#                                    spaces past the longest)
# Names start with an underscore where the functions keep state, so that
# they stay out of the way of the programs' own variables.
# shellcheck disable=SC2034 # used by the benchmarks
BENCH_AWK='
function comma(x,   s, neg) { x = sprintf("%.0f", x); neg = x < 0; if (neg) x = -x; s = ""
	while (length(x) > 3) { s = "," substr(x, length(x) - 2) s; x = substr(x, 1, length(x) - 3) } return (neg ? "-" : "") x s }
function mb(kb) { return kb > 0 ? sprintf("%.1f MB", kb / 1024) : "n/a" }
function pass_or_miss(ok) { return ok ? "PASS" : "MISS" }
function runs_note(runs, bn, bfn, unit) {
	printf "batched cases: %d runs each, alternating, median. One-at-a-time baselines: one run on the\n", runs
	printf "first %s %s (the first %s behind the front): fewer %s, same rate.\n\n", comma(bn), unit, comma(bfn), unit
}
function table_head(unit, per, rss) {
	printf "%-38s %8s %9s %10s %9s %11s", "", unit, "seconds", "events/s", "requests", per
	if (rss) printf " %10s", "peak RSS"
	printf "\n"
}
function row(name, cnt, us, q, c, rss) {
	printf "%-38s %8s %9.3f %10s %9s %11.4f", name, comma(cnt), us / 1e6, comma(cnt / (us / 1e6)), comma(q), q / c
	if (rss != "") printf " %10s", rss
	printf "\n"
}
function front_heading(delay) { printf "behind a %d ms-per-request front (tests/tools/http-front.mjs)\n", delay }
function batching(where, delay, straight, front, min) {
	printf "\nratios (events/s):\n"
	printf "  %-46s %8.1fx\n", "batched / one at a time, straight to " where, straight
	target_line(sprintf("  %-46s %8.1fx", "batched / one at a time, behind the " delay " ms front", front),
		"target >= " min "x", front >= min)
}
# the blank after the figure stands for the unit ("x", "%") of the ratios
function per_request(what, rq, max) {
	target_line(sprintf("%-48s %8.4f ", "requests per " what " event at load (worst run)", rq), "target <= " max, rq <= max)
}
function target_line(figure, target, ok) {
	_tl_n++; _tl_fig[_tl_n] = figure; _tl_tgt[_tl_n] = target; _tl_ok[_tl_n] = ok
	if (length(target) > _tl_w) _tl_w = length(target)
}
function target_lines(   i) {
	for (i = 1; i <= _tl_n; i++)
		printf "%s   %-" (_tl_w + 2) "s %s\n", _tl_fig[i], _tl_tgt[i], pass_or_miss(_tl_ok[i])
	_tl_n = 0; _tl_w = 0
}
'
