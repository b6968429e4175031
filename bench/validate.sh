#!/usr/bin/env bash
# bench/validate.sh — how fast is validate, against ajv?
#
# Generates 1,000,000 seed-like events (about 160 bytes each, 1% broken in
# the generator's nine ways) once into bench/out/, then, in the same
# invocation and alternating run by run, times
#   validate   build/bin/validate --rejects FILE < events > /dev/null
#   ajv        node bench/node/ajv-validate.mjs --rejects FILE < events > /dev/null
# (ajv 8 + ajv-formats, compiled once, streaming NDJSON: the same work — parse
# each line, validate it against schema/event.schema.json, write the valid
# lines unchanged and the invalid ones with a reason). Prints events/s for
# both (median of the runs), the ratio, validate's peak RSS, and its peak RSS
# for 100,000 events beside 1,000,000 to show that memory does not grow with
# the input. Checks first that both keep exactly the same lines.
#
# Environment: BUILD (default build), BENCH_RUNS (runs of each, default 5),
# BENCH_EVENTS (default 1000000), BENCH_INVALID (percent, default 1).
# ajv is installed on first use into bench/node/node_modules (npm ci, pinned
# by bench/node/package-lock.json). Needs /usr/bin/time (Debian: time) for
# the peak RSS. Results also go to bench/out/validate.json.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.bash
source bench/lib.bash

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-5}
N=${BENCH_EVENTS:-1000000}
INVALID=${BENCH_INVALID:-1}
SEED=42
V=$BUILD/bin/validate
GEN=$BUILD/bin/gen-events
SCHEMA=schema/event.schema.json
OUT=bench/out

whole_numbers RUNS N INVALID
[ "$RUNS" -ge 1 ] && [ "$N" -ge 1000 ] || die "BENCH_RUNS must be >= 1 and BENCH_EVENTS >= 1000"
[ -x "$V" ] && [ -x "$GEN" ] || die "$V or $GEN is missing: run make all (make bench does)"
[ -f "$SCHEMA" ] || die "$SCHEMA is missing"
command -v node > /dev/null || die "node is not installed (scripts/install-deps.sh)"
timer=$(find_timer)
mkdir -p "$OUT"

# ajv, pinned, installed once (again when the lock file changes).
if [ ! -f bench/node/node_modules/.package-lock.json ] ||
	[ bench/node/package-lock.json -nt bench/node/node_modules/.package-lock.json ]; then
	say "installing ajv into bench/node/node_modules"
	npm ci --prefix bench/node --no-audit --no-fund --loglevel=error > /dev/null
fi

# The input, once: regenerated only when the generator changes.
events=$OUT/events-$N-inv$INVALID-seed$SEED.ndjson
small=$OUT/events-100000-inv$INVALID-seed$SEED.ndjson
for f in "$events" "$small"; do
	if [ ! -s "$f" ] || [ "$GEN" -nt "$f" ]; then
		n=${f#"$OUT"/events-}
		n=${n%%-*}
		"$GEN" -n "$n" --invalid "$INVALID" --seed $SEED > "$f.tmp"
		mv "$f.tmp" "$f"
	fi
done
bytes=$(stat -c %s "$events")

# run_one NAME INPUT: one timed run; prints "SECONDS PEAK-RSS-KB".
run_one() {
	local name=$1 in=$2 t0 t1 rss=0
	local cmd
	case $name in
	validate) cmd=("$V" -s "$SCHEMA" --rejects "$OUT/rejects.$name") ;;
	ajv) cmd=(node bench/node/ajv-validate.mjs -s "$SCHEMA" --rejects "$OUT/rejects.$name") ;;
	esac
	t0=$(date +%s%N)
	if [ -n "$timer" ]; then
		"$timer" -f '%M' -o "$OUT/time.$name" "${cmd[@]}" < "$in" > /dev/null
		rss=$(tail -1 "$OUT/time.$name")
	else
		"${cmd[@]}" < "$in" > /dev/null
	fi
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / 1000)) $rss"
}

# --- same answers? -----------------------------------------------------------
"$V" -s "$SCHEMA" --rejects "$OUT/check.validate.rej" < "$events" > "$OUT/check.validate.out"
node bench/node/ajv-validate.mjs -s "$SCHEMA" --rejects "$OUT/check.ajv.rej" < "$events" > "$OUT/check.ajv.out"
kept_v=$(wc -l < "$OUT/check.validate.out")
kept_a=$(wc -l < "$OUT/check.ajv.out")
if cmp -s "$OUT/check.validate.out" "$OUT/check.ajv.out"; then
	agree="both kept the same $kept_v events, byte for byte"
else
	agree="THEY DISAGREE: validate kept $kept_v events, ajv $kept_a (see $OUT/check.*)"
fi
rm -f "$OUT/check.validate.out" "$OUT/check.ajv.out"
[[ $agree == both* ]] && rm -f "$OUT"/check.*.rej

# --- timed runs, alternating ------------------------------------------------------
declare -a tv ta rv ra
for ((i = 0; i < RUNS; i++)); do
	read -r t r < <(run_one validate "$events"); tv+=("$t"); rv+=("$r")
	read -r t r < <(run_one ajv "$events"); ta+=("$t"); ra+=("$r")
done
read -r _ rss_small < <(run_one validate "$small")
read -r _ rss_small_ajv < <(run_one ajv "$small")

mv_=$(median "${tv[@]}") ma=$(median "${ta[@]}")
bv=$(minimum "${tv[@]}") ba=$(minimum "${ta[@]}")
pv=$(maximum "${rv[@]}") pa=$(maximum "${ra[@]}")

awk -v n="$N" -v bytes="$bytes" -v inv="$INVALID" -v runs="$RUNS" \
	-v mv="$mv_" -v ma="$ma" -v bv="$bv" -v ba="$ba" -v pv="$pv" -v pa="$pa" \
	-v rs="$rss_small" -v rsa="$rss_small_ajv" -v agree="$agree" \
	-v node="$(node --version)" -v cpu="$(cpu_model)" \
	-v cores="$(nproc)" -v ajvv="$(node -p 'require("./bench/node/node_modules/ajv/package.json").version')" "$BENCH_AWK"'
BEGIN {
	printf "validate vs ajv: %s events (%.0f MB, about %d bytes each, %d%% invalid), %s\n", comma(n), bytes / 1e6, bytes / n, inv, "schema/event.schema.json"
	printf "%d runs each, alternating; %s, %d cores; node %s, ajv %s + ajv-formats\n\n", runs, cpu, cores, node, ajvv
	printf "%-22s %10s %10s %14s %12s\n", "", "median s", "best s", "events/s", "peak RSS"
	printf "%-22s %10.3f %10.3f %14s %12s\n", "validate (C)", mv / 1e6, bv / 1e6, comma(n / (mv / 1e6)), mb(pv)
	printf "%-22s %10.3f %10.3f %14s %12s\n", "ajv 8 (node, stream)", ma / 1e6, ba / 1e6, comma(n / (ma / 1e6)), mb(pa)
	printf "\nratio: validate handles %.2fx the events/s of ajv (median runs)\n", ma / mv
	printf "validate peak RSS: %s for 100,000 events, %s for %s (ajv: %s, %s)\n", mb(rs), mb(pv), comma(n), mb(rsa), mb(pa)
	printf "outputs: %s\n", agree
}'

# The same, for machines.
cat > "$OUT/validate.json" << EOF
{"bench":"validate","events":$N,"bytes":$bytes,"invalid_pct":$INVALID,"runs":$RUNS,
 "validate":{"median_us":$mv_,"best_us":$bv,"events_per_s":$((N * 1000000 / mv_)),"peak_rss_kb":$pv,"peak_rss_kb_100k":$rss_small},
 "ajv":{"median_us":$ma,"best_us":$ba,"events_per_s":$((N * 1000000 / ma)),"peak_rss_kb":$pa,"peak_rss_kb_100k":$rss_small_ajv},
 "ratio":$(awk -v a="$ma" -v b="$mv_" 'BEGIN { printf "%.3f", a / b }'),"agree":$([[ $agree == both* ]] && echo true || echo false)}
EOF
rm -f "$OUT"/rejects.* "$OUT"/time.*
[[ $agree == both* ]]
