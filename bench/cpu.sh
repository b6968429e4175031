#!/usr/bin/env bash
# bench/cpu.sh — what does an event cost in CPU, stage by stage? (issue 13)
#
# 50,000 seed-like events (1% broken) through
#     validate | persist | route
# against dynalite and fauxqs (fresh ones, freshly provisioned, for every
# run), for two builds in the same invocation, alternating run by run:
#   base   the tree at BENCH_CPU_BASE (default 21f5e83, the last commit before
#          the restructure began), exported with git archive and built into
#          bench/out/cpu-base/ (kept, rebuilt when the commit changes)
#   head   $BUILD (default build), the tree as it is
# Each tool runs under /usr/bin/time: its user + system CPU seconds, divided
# by the events, is the figure (µs of CPU per event; the stand-ins' own CPU
# is not counted). Prints the median per tool and build, the three together,
# and the targets as PASS or MISS lines:
#   head, the three together              <= 10 µs per event
#   persist and route each, base / head   >= 3x
# Exit 0 when it ran (whatever the figures), 1 when something broke (a tool
# failed, or a run did not route every record).
#
# Environment: BUILD, BENCH_RUNS (runs of each build, default 3),
# BENCH_EVENTS (default 50000), BENCH_CPU_BASE (a commit). Needs git (the
# base is taken from this clone's history), node and the stand-ins' npm
# packages (scripts/install-deps.sh), and /usr/bin/time. Results also go to
# bench/out/cpu.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=lib.bash
source bench/lib.bash

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-3}
N=${BENCH_EVENTS:-50000}
BASE=${BENCH_CPU_BASE:-21f5e83}
OUT=bench/out
TOOLS=(validate persist route)

whole_numbers RUNS N
[ "$RUNS" -ge 1 ] && [ "$N" -ge 1000 ] || die "BENCH_RUNS must be >= 1 and BENCH_EVENTS >= 1000"
need_built "$BUILD"/bin/{validate,persist,route,gen-events}
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
command -v node > /dev/null || die "node is not installed (scripts/install-deps.sh)"
base_sha=$(git rev-parse --verify -q "$BASE^{commit}") ||
	die "commit $BASE is not in this clone's history (a shallow clone? set BENCH_CPU_BASE)"
mkdir -p "$OUT"

# --- the base build, once per commit ------------------------------------------------
base_dir=$OUT/cpu-base
if [ "$(cat "$base_dir/.commit" 2> /dev/null)" != "$base_sha" ]; then
	say "building ${base_sha:0:12} into $base_dir"
	rm -rf "$base_dir"
	mkdir -p "$base_dir/src"
	git archive "$base_sha" | tar -x -C "$base_dir/src"
	make -C "$base_dir/src" -j"$(nproc)" BUILD="$ROOT/$base_dir/build" \
		"$ROOT/$base_dir/build/bin/validate" "$ROOT/$base_dir/build/bin/persist" \
		"$ROOT/$base_dir/build/bin/route" "$ROOT/$base_dir/build/share/event-processor/event.schema.json" \
		> "$base_dir/make.log" 2>&1 || die "the base build failed: $(tail -3 "$base_dir/make.log")"
	echo "$base_sha" > "$base_dir/.commit"
fi

tests_lib

"$BUILD/bin/gen-events" -n "$N" --invalid 1 --seed 13 > "$T/events"

# run_pipe BIN-DIR: one run on fresh stand-ins; sets RUN_CPU[tool] (µs of
# CPU per event, two decimals, as a string).
declare -A RUN_CPU
run_pipe() {
	local bin=$1 rc t user sys lines
	start_dynamodb > /dev/null || die "dynamodb-local did not start"
	start_sqs > /dev/null || die "sqs-local did not start"
	"$ROOT/scripts/provision.sh" > "$T/provision.out" 2> "$T/provision.err" ||
		die "provision.sh failed: $(cat "$T/provision.err")"
	rc=0
	/usr/bin/time -f '%U %S' -o "$T/time.validate" "$bin/validate" < "$T/events" 2> "$T/validate.err" |
		/usr/bin/time -f '%U %S' -o "$T/time.persist" "$bin/persist" -q 2> "$T/persist.err" |
		/usr/bin/time -f '%U %S' -o "$T/time.route" "$bin/route" -q > "$T/route.out" 2> "$T/route.err" ||
		rc=$?
	[ "$rc" = 0 ] || die "$bin: the pipeline failed ($rc): $(tail -n 2 "$T/persist.err" "$T/route.err")"
	lines=$(grep -c '"_out"' "$T/route.out")
	[ "$lines" = "$N" ] || die "$bin: $lines of $N records routed: $(tail -3 "$T/route.err")"
	for t in "${TOOLS[@]}"; do
		read -r user sys < <(tail -1 "$T/time.$t")
		RUN_CPU[$t]=$(awk -v u="$user" -v s="$sys" -v n="$N" 'BEGIN { printf "%.2f", (u + s) * 1e6 / n }')
	done
	stop_pid "$SQS_PID" || true
	stop_pid "$DDB_PID" || true
}

declare -A ALL
for ((i = 0; i < RUNS; i++)); do
	for build in base head; do
		if [ $build = base ]; then run_pipe "$base_dir/build/bin"; else run_pipe "$BUILD/bin"; fi
		for t in "${TOOLS[@]}"; do ALL[$build.$t]+=" ${RUN_CPU[$t]}"; done
	done
done

# medians of decimals: scaled to whole hundredths for bench/lib.bash's median
med() { local x v=(); for x in $1; do v+=("$(awk -v x="$x" 'BEGIN { printf "%d", x * 100 + 0.5 }')"); done; median "${v[@]}"; }
declare -A M
for build in base head; do
	for t in "${TOOLS[@]}"; do M[$build.$t]=$(med "${ALL[$build.$t]}"); done
done

awk -v n="$N" -v runs="$RUNS" -v base="${base_sha:0:12}" -v cpu="$(cpu_model)" -v cores="$(nproc)" \
	-v bv="${M[base.validate]}" -v bp="${M[base.persist]}" -v br="${M[base.route]}" \
	-v hv="${M[head.validate]}" -v hp="${M[head.persist]}" -v hr="${M[head.route]}" "$BENCH_AWK"'
function cpu_row(name, b, h) { printf "%-22s %12.2f %12.2f %9.2fx\n", name, b / 100, h / 100, (h > 0 ? b / h : 0) }
BEGIN {
	printf "CPU per event: %s events (1%% invalid) through validate | persist | route, against dynalite and fauxqs\n", comma(n)
	printf "%d runs of each build, alternating, median; %s, %d cores\n\n", runs, cpu, cores
	printf "%-22s %12s %12s %10s\n", "µs of CPU per event", "base " base, "head", "base/head"
	cpu_row("validate", bv, hv); cpu_row("persist", bp, hp); cpu_row("route", br, hr)
	cpu_row("the three together", bv + bp + br, hv + hp + hr)
	printf "\n"
	target_line(sprintf("%-44s %8.2f µs", "head, the three together", (hv + hp + hr) / 100), "target <= 10 µs", hv + hp + hr <= 1000)
	target_line(sprintf("%-44s %8.2fx  ", "persist, base / head", hp > 0 ? bp / hp : 0), "target >= 3x", hp > 0 && bp / hp >= 3)
	target_line(sprintf("%-44s %8.2fx  ", "route, base / head", hr > 0 ? br / hr : 0), "target >= 3x", hr > 0 && br / hr >= 3)
	target_lines()
}'

cat > "$OUT/cpu.json" << EOF
{"bench":"cpu","events":$N,"runs":$RUNS,"base":"$base_sha","unit":"hundredths of a µs of CPU per event",
 "base_median":{"validate":${M[base.validate]},"persist":${M[base.persist]},"route":${M[base.route]}},
 "head_median":{"validate":${M[head.validate]},"persist":${M[head.persist]},"route":${M[head.route]}}}
EOF
